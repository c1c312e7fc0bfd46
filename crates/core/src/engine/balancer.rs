//! Load balancers: a policy's choice among the targets up now.
//!
//! Availability is live state: which targets are down is changed by
//! events (today the scenario's static downtime windows, pushed at the
//! start of a run; later crashes and autoscaling), and the choice reads the
//! list of targets up, never a schedule.

use rand_distr::Zipf;

use crate::model::{Dispatch, Outlier, Partition, Policy};
use crate::rng::{Stream, derive, name_key};
use crate::routing::shard_of;

use super::cache::{draw, zipf};
use super::request::NONE;

/// Points per target on a consistent-hashing ring.
const RING_POINTS: u64 = 100;

/// A load balancer's state: its policy, targets, turn and random stream.
pub(super) struct Balancer {
    policy: Policy,
    /// The targets' stations.
    pub(super) targets: Vec<u32>,
    turn: usize,
    stream: Stream,
    /// Sessions: their count and, when their popularity is skewed, the
    /// cumulative probabilities of the most popular first.
    sessions: u32,
    session_cdf: Vec<f64>,
    /// Sticky: each session's target, [`NONE`] before its first request.
    sticky: Vec<u32>,
    /// Consistent hashing: points on the ring and their targets, sorted.
    ring: Vec<(u64, usize)>,
    /// Per target, how many reasons it has to be down now (windows may overlap).
    down: Vec<u32>,
    /// The targets up now, in order.
    up: Vec<usize>,
    /// The target of the last pick.
    picked: usize,
    /// Outlier ejection, if the balancer has it.
    pub(super) outlier: Option<Ejector>,
    /// A router by key ([`Policy::ByKey`]): the keys drawn for requests
    /// that carry none.
    pub(super) keys: Option<Keys>,
}

/// A router's catalogue of keys and how it splits them.
pub(super) struct Keys {
    zipf: Zipf<f64>,
    count: u32,
    by: Partition,
}

/// Outlier ejection's state: per target, errors in a row, times ejected,
/// and whether it is ejected now.
#[derive(Clone, Debug)]
pub(super) struct Ejector {
    rule: Outlier,
    in_a_row: Vec<u32>,
    times: Vec<u32>,
    ejected: Vec<bool>,
    n_ejected: usize,
    most: usize,
}

impl Ejector {
    fn new(rule: Outlier, targets: usize) -> Ejector {
        Ejector {
            rule,
            in_a_row: vec![0; targets],
            times: vec![0; targets],
            ejected: vec![false; targets],
            n_ejected: 0,
            // At least one, as Envoy does whatever the percentage.
            most: ((rule.max_percent / 100.0 * targets as f64).floor() as usize).max(1),
        }
    }

    /// A request sent to `target` ended, in an error or not: `Some(for)`
    /// when that ejects the target, for `for` nanoseconds. Outcomes from a
    /// target already ejected (requests sent before) change nothing.
    pub(super) fn outcome(&mut self, target: usize, error: bool) -> Option<u64> {
        if self.ejected[target] {
            return None;
        }
        if !error {
            self.in_a_row[target] = 0;
            return None;
        }
        self.in_a_row[target] += 1;
        if self.in_a_row[target] < self.rule.consecutive || self.n_ejected >= self.most {
            return None;
        }
        self.in_a_row[target] = 0;
        self.ejected[target] = true;
        self.n_ejected += 1;
        self.times[target] += 1;
        Some((self.rule.base * f64::from(self.times[target])) as u64)
    }

    /// `target`'s ejection is over.
    pub(super) fn returned(&mut self, target: usize) {
        if std::mem::replace(&mut self.ejected[target], false) {
            self.n_ejected -= 1;
        }
    }
}

impl Balancer {
    pub(super) fn new(d: &Dispatch, stream: Stream) -> Balancer {
        let k = d.targets.len();
        let (sessions, session_cdf) = match d.sessions {
            Some(s) if s.zipf > 0.0 => {
                let weights: Vec<f64> = (1..=s.count).map(|i| f64::from(i).powf(-s.zipf)).collect();
                let total: f64 = weights.iter().sum();
                let mut cum = 0.0;
                let cdf = weights
                    .iter()
                    .map(|w| {
                        cum += w / total;
                        cum
                    })
                    .collect();
                (s.count, cdf)
            }
            Some(s) => (s.count, Vec::new()),
            None => (0, Vec::new()),
        };
        let sticky = if d.policy == Policy::Sticky {
            vec![NONE; sessions as usize]
        } else {
            Vec::new()
        };
        let mut ring: Vec<(u64, usize)> = if d.policy == Policy::ConsistentHash {
            (0..k)
                .flat_map(|t| {
                    (0..RING_POINTS).map(move |v| (derive(t as u64, &[name_key("ring"), v]), t))
                })
                .collect()
        } else {
            Vec::new()
        };
        ring.sort_unstable();
        Balancer {
            policy: d.policy,
            targets: d.targets.iter().map(|t| t.0).collect(),
            turn: 0,
            stream,
            sessions,
            session_cdf,
            sticky,
            ring,
            down: vec![0; k],
            up: (0..k).collect(),
            picked: 0,
            outlier: d.outlier.map(|o| Ejector::new(o, k)),
            keys: match (d.policy, d.keys) {
                (Policy::ByKey(by), Some(keys)) => Some(Keys {
                    zipf: zipf(keys),
                    count: keys.count,
                    by,
                }),
                _ => None,
            },
        }
    }

    /// A router by key: the station of the shard that holds the key
    /// `carried` (modulo the catalogue) or, without one, a key drawn now;
    /// `None` when that shard is down. Also the key, which the request
    /// carries on.
    pub(super) fn route(&mut self, carried: Option<u32>) -> (Option<u32>, u32) {
        let keys = self.keys.as_ref().expect("only routers by key route");
        let key = match carried {
            Some(k) => k % keys.count,
            None => draw(&keys.zipf, &mut self.stream),
        };
        let shard = shard_of(key, keys.count, self.targets.len(), keys.by);
        self.picked = shard;
        let up = self.down[shard] == 0;
        (up.then_some(self.targets[shard]), key)
    }

    /// Target `target` goes down (`up` false) or comes back.
    pub(super) fn set_up(&mut self, target: usize, up: bool) {
        let d = &mut self.down[target];
        *d = if up { d.saturating_sub(1) } else { *d + 1 };
        let down = &self.down;
        self.up.clear();
        self.up.extend((0..down.len()).filter(|&i| down[i] == 0));
    }

    /// The session of the request passing now.
    fn draw_session(&mut self) -> usize {
        let u = self.stream.uniform();
        let n = self.sessions as usize;
        if self.session_cdf.is_empty() {
            ((u * n as f64) as usize).min(n - 1)
        } else {
            self.session_cdf.partition_point(|&c| c <= u).min(n - 1)
        }
    }

    /// The station of the target chosen for the request passing now, among
    /// those up; `None` when every target is down. `load` tells how loaded
    /// a target's station is.
    pub(super) fn pick(&mut self, load: impl Fn(u32) -> u32) -> Option<u32> {
        let k = self.targets.len();
        let n = self.up.len();
        if n == 0 {
            return None;
        }
        let session = matches!(self.policy, Policy::Sticky | Policy::ConsistentHash)
            .then(|| self.draw_session())
            .unwrap_or(0);
        let up = &self.up;
        let down = &self.down;
        let at = |j: usize| up[j];
        let targets = &self.targets;
        let load = |i: usize| load(targets[i]);
        let stream = &mut self.stream;
        let chosen = match self.policy {
            Policy::RoundRobin => loop {
                let i = self.turn;
                self.turn = (self.turn + 1) % k;
                if down[i] == 0 {
                    break i;
                }
            },
            Policy::Random => at(((stream.uniform() * n as f64) as usize).min(n - 1)),
            Policy::PowerOfTwo => {
                let first = ((stream.uniform() * n as f64) as usize).min(n - 1);
                if n == 1 {
                    at(first)
                } else {
                    // A second, different target: draw among the n − 1 others.
                    let other = ((stream.uniform() * (n - 1) as f64) as usize).min(n - 2);
                    let second = if other >= first { other + 1 } else { other };
                    if load(at(second)) < load(at(first)) {
                        at(second)
                    } else {
                        at(first)
                    }
                }
            }
            Policy::LeastConnections => least_loaded(stream, (0..n).map(at), load),
            Policy::Sticky => match self.sticky[session] {
                t if t != NONE && down[t as usize] == 0 => t as usize,
                _ => {
                    // A new session (or its target is down): the least
                    // loaded target, from now on.
                    let t = least_loaded(stream, (0..n).map(at), load);
                    self.sticky[session] = t as u32;
                    t
                }
            },
            Policy::ByKey(_) => unreachable!("a router by key routes"),
            Policy::ConsistentHash => {
                let h = derive(session as u64, &[name_key("session")]);
                let ring = &self.ring;
                let start = ring.partition_point(|&(p, _)| p < h);
                // Clockwise from the session's point to the first target up.
                (0..ring.len())
                    .map(|d| ring[(start + d) % ring.len()].1)
                    .find(|&t| down[t] == 0)
                    .unwrap_or(at(0))
            }
        };
        self.picked = chosen;
        Some(self.targets[chosen])
    }

    /// The index of the target of the last pick.
    pub(super) fn picked(&self) -> usize {
        self.picked
    }
}

/// Among `candidates`, the one with the smallest `load`; ties broken at
/// random (reservoir sampling).
fn least_loaded(
    stream: &mut Stream,
    candidates: impl Iterator<Item = usize>,
    load: impl Fn(usize) -> u32,
) -> usize {
    let mut best = 0;
    let mut fewest = u32::MAX;
    let mut ties = 0u32;
    for i in candidates {
        let n = load(i);
        if n < fewest {
            fewest = n;
            best = i;
            ties = 1;
        } else if n == fewest {
            ties += 1;
            if stream.uniform() * f64::from(ties) < 1.0 {
                best = i;
            }
        }
    }
    best
}
