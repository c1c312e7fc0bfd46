//! Synchronous calls (`calls = [...]`), compiled into the engine's call
//! points.
//!
//! ```text
//!   own stations ─► [ call0 ]─(waits)─► [ call1 ]─(waits)─► next
//!                      │  ▲                │  ▲
//!                      ▼  │ reply          ▼  │ replies (all, or the first `wait`)
//!                  [hop]? ─► cache      db, search, ads ... in parallel
//! ```
//!
//! Each entry of a `calls` list is one call point per repetition (`n`); it
//! calls one service (`to`), several in parallel (`parallel`), or one
//! service many times in parallel (`fanout`), and waits for all replies or
//! the first `wait`. A `latency` adds a network hop, an infinite-server delay
//! before the callee; `bytes` first sends the payload over the caller
//! replica's link (a nested call to one processor-sharing station per
//! replica, each transfer bringing its own transfer time). When classes call differently (`[services.X.on.CLASS]`
//! with its own `calls`), the lists are laid end to end and each call point
//! has probability 0 for the classes whose list it is not in, so that one
//! chain, with one place where the caller's worker is given back, serves
//! every class.

use std::ops::Range;

use chokepoint_core::dist::Dist;
use chokepoint_core::model::{Behaviour, CallPoint, Discipline, Role, Routing, Station, StationId};
use toml::Spanned;
use toml::de::DeValue;

use crate::load::{RawService, Walker};

const CALL_KEYS: [&str; 8] = [
    "to", "parallel", "fanout", "wait", "p", "n", "latency", "bytes",
];
const FANOUT_KEYS: [&str; 2] = ["to", "n"];

/// Parallel calls of one `fanout` at most.
const MAX_FANOUT: u32 = 1000;
/// Repetitions of one call at most (each is a call point).
const MAX_REPEATS: u32 = 100;

/// Servers of a station that never queues (a network hop, an external API).
pub(crate) const INFINITE_SERVERS: u32 = u32::MAX;

/// One entry of a `calls` list, as read.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CallEntry {
    /// The callee services' own stations, one per branch.
    pub(crate) targets: Vec<StationId>,
    /// How reports name it: the callee, or `parallel(a, b)`, `fanout(s×16)`.
    pub(crate) label: String,
    /// Replies awaited.
    pub(crate) wait: u32,
    /// Probability that the call is made.
    pub(crate) p: f64,
    /// Repetitions, one after the other.
    pub(crate) n: u32,
    /// Network time added to each call.
    pub(crate) latency: Option<Dist>,
    /// Bytes sent with each call, over the caller's link.
    pub(crate) bytes: Option<f64>,
    /// Where it is written.
    pub(crate) span: Range<usize>,
}

/// A service's calls, per class: `None` for a class that never visits it.
pub(crate) type PerClass = Vec<Option<Vec<CallEntry>>>;

/// The call points and hops built for one chain.
#[derive(Debug, Default)]
pub(crate) struct Compiled {
    /// Call points, then hops, with consecutive ids from the first given.
    pub(crate) stations: Vec<Station>,
    /// The call points' ids, in order.
    pub(crate) points: Vec<StationId>,
    /// The hops' ids.
    pub(crate) hops: Vec<StationId>,
    /// Each call point's label.
    pub(crate) labels: Vec<String>,
}

impl Walker<'_> {
    /// Reads a `calls` array.
    pub(crate) fn calls(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        services: &[RawService<'_, '_>],
        context: &str,
    ) -> Option<Vec<CallEntry>> {
        let DeValue::Array(items) = value.get_ref() else {
            self.type_error(value, "`calls`", "an array such as [{ to = \"db\" }]");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for item in items.iter() {
            match self.call(item, services, context) {
                Some(c) => out.push(c),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn call(
        &mut self,
        item: &Spanned<DeValue<'_>>,
        services: &[RawService<'_, '_>],
        context: &str,
    ) -> Option<CallEntry> {
        let t = self.table(item, "an entry of `calls`")?;
        self.check_keys(t, &CALL_KEYS, &format!("`calls` of {context}"));
        let bytes = match t.get("bytes") {
            Some(v) => match self.number(v, "`bytes`") {
                Some(x) if x > 0.0 => Some(Some(x)),
                Some(x) => {
                    self.error(format!("`bytes` must be positive, found {x}"), v.span());
                    None
                }
                None => None,
            },
            None => Some(None),
        };
        let given: Vec<&str> = ["to", "parallel", "fanout"]
            .into_iter()
            .filter(|k| t.get(*k).is_some())
            .collect();
        let targets: Option<(Vec<StationId>, String)> = match given.as_slice() {
            ["to"] => {
                let v = t.get("to").expect("present");
                self.service_ref(v, "`to`", services)
                    .map(|s| (vec![s], services[s.idx()].name.clone()))
            }
            ["parallel"] => {
                let v = t.get("parallel").expect("present");
                match v.get_ref() {
                    DeValue::Array(names) if !names.is_empty() => {
                        let ids: Vec<Option<StationId>> = names
                            .iter()
                            .map(|n| self.service_ref(n, "`parallel`", services))
                            .collect();
                        let ids: Option<Vec<StationId>> = ids.into_iter().collect();
                        ids.map(|ids| {
                            let names: Vec<&str> = ids
                                .iter()
                                .map(|s| services[s.idx()].name.as_str())
                                .collect();
                            let label = format!("parallel({})", names.join(", "));
                            (ids, label)
                        })
                    }
                    _ => {
                        self.type_error(
                            v,
                            "`parallel`",
                            "a non-empty array of service names, such as [\"search\", \"ads\"]",
                        );
                        None
                    }
                }
            }
            ["fanout"] => {
                let v = t.get("fanout").expect("present");
                let f = self.table(v, "`fanout`")?;
                self.check_keys(f, &FANOUT_KEYS, "`fanout`");
                let to = match f.get("to") {
                    Some(to) => self.service_ref(to, "`fanout.to`", services),
                    None => {
                        self.error("`fanout` needs `to`", v.span()).help =
                            Some("such as fanout = { to = \"shard\", n = 16 }".into());
                        None
                    }
                };
                let n = match f.get("n") {
                    Some(n) => self.count(n, "`fanout.n`", 1, MAX_FANOUT),
                    None => {
                        self.error("`fanout` needs `n`, the number of parallel calls", v.span())
                            .help = Some("such as fanout = { to = \"shard\", n = 16 }".into());
                        None
                    }
                };
                match (to, n) {
                    (Some(to), Some(n)) => Some((
                        vec![to; n as usize],
                        format!("fanout({}×{n})", services[to.idx()].name),
                    )),
                    _ => None,
                }
            }
            [] => {
                self.error("this call has no `to`", item.span()).help = Some(
                    "name the callee, such as { to = \"db\" }, or call several at once with parallel = [...] or fanout = { to = ..., n = ... }".into(),
                );
                None
            }
            _ => {
                self.error(
                    format!(
                        "a call gives one of `to`, `parallel` or `fanout`, not {}",
                        given.join(" and ")
                    ),
                    item.span(),
                );
                None
            }
        };
        // A call to a queue is a send: it awaits no reply.
        let is_queue = |id: &StationId| {
            services[id.idx()]
                .table
                .get("kind")
                .and_then(|k| k.get_ref().as_str())
                == Some("queue")
        };
        let sends = targets
            .as_ref()
            .map(|(ids, _)| ids.iter().filter(|id| is_queue(id)).count());
        let targets = match (targets, sends) {
            (Some((ids, label)), Some(queues)) if queues == ids.len() => {
                if let Some(v) = t.get("wait") {
                    self.error(
                        "a message sent to a queue awaits no reply: drop `wait`",
                        v.span(),
                    );
                    return None;
                }
                for key in ["latency", "bytes"] {
                    if let Some(v) = t.get(key) {
                        self.error(
                            format!("`{key}` is not supported on a send to a queue"),
                            v.span(),
                        );
                        return None;
                    }
                }
                let label = format!(
                    "send({})",
                    label.trim_start_matches("parallel(").trim_end_matches(')')
                );
                return Some(CallEntry {
                    targets: ids,
                    label,
                    wait: 0,
                    p: self.call_probability(t)?,
                    n: self.call_repeats(t)?,
                    latency: None,
                    bytes: None,
                    span: item.span(),
                });
            }
            (Some(_), Some(queues)) if queues > 0 => {
                self.error(
                    "a parallel call mixes queues (sends) and services (calls); make them two entries",
                    item.span(),
                );
                return None;
            }
            (targets, _) => targets,
        };
        let wait = match (t.get("wait"), &targets) {
            (None, Some((ids, _))) => Some(ids.len() as u32),
            (None, None) => None,
            (Some(v), _) if given == ["to"] => {
                self.error("`wait` applies to `parallel` and `fanout` calls", v.span());
                None
            }
            (Some(v), targets) => {
                let w = self
                    .integer(v, "`wait`", 1)
                    .and_then(|w| u32::try_from(w).ok());
                match (w, targets) {
                    (Some(w), Some((ids, _))) if w as usize > ids.len() => {
                        self.error(
                            format!("`wait` is {w}, but the call has {} branch(es)", ids.len()),
                            v.span(),
                        );
                        None
                    }
                    (w, _) => w,
                }
            }
        };
        let p = self.call_probability(t);
        let n = self.call_repeats(t);
        let latency = match t.get("latency") {
            Some(v) => self.dist(v, "`latency`").map(Some),
            None => Some(None),
        };
        let (targets, label) = targets?;
        Some(CallEntry {
            targets,
            label,
            wait: wait?,
            p: p?,
            n: n?,
            latency: latency?,
            bytes: bytes?,
            span: item.span(),
        })
    }
}

impl Walker<'_> {
    /// A call's `p`, 1 by default.
    fn call_probability(&mut self, t: &toml::de::DeTable<'_>) -> Option<f64> {
        match t.get("p") {
            Some(v) => self.probability(v, "probability"),
            None => Some(1.0),
        }
    }

    /// A call's `n`, 1 by default.
    fn call_repeats(&mut self, t: &toml::de::DeTable<'_>) -> Option<u32> {
        match t.get("n") {
            Some(v) => self.count(v, "`n`", 1, MAX_REPEATS),
            None => Some(1),
        }
    }
}

/// Whether any class makes a call.
pub(crate) fn any(per_class: &PerClass) -> bool {
    per_class.iter().flatten().any(|list| !list.is_empty())
}

/// Builds the call points (then the hops) of one chain, with ids from
/// `first_id`; requests leave the last call point by their class's `next`.
pub(crate) fn compile(
    prefix: &str,
    per_class: &PerClass,
    next: &[Routing],
    first_id: u32,
    gbps: Option<f64>,
) -> Compiled {
    // Distinct lists, in the order of the first class using each.
    let mut lists: Vec<&Vec<CallEntry>> = Vec::new();
    for list in per_class.iter().flatten() {
        if !list.is_empty() && !lists.contains(&list) {
            lists.push(list);
        }
    }
    let mut out = Compiled::default();
    // (entry, probability per class) for every call point, in chain order.
    let mut points: Vec<(&CallEntry, Vec<f64>)> = Vec::new();
    for list in &lists {
        for entry in list.iter() {
            let probability: Vec<f64> = per_class
                .iter()
                .map(|l| match l {
                    Some(l) if l == *list => entry.p,
                    _ => 0.0,
                })
                .collect();
            for _ in 0..entry.n {
                points.push((entry, probability.clone()));
            }
        }
    }
    let n_points = points.len() as u32;
    let mut next_hop = first_id + n_points;
    let mut hops = Vec::new();
    // A station every visiting class may use, with this work and routing.
    let internal = |name: String, servers, discipline, work: &Dist, routing: &Routing| {
        Station::new(
            name,
            servers,
            discipline,
            per_class
                .iter()
                .map(|l| {
                    l.as_ref().map(|_| Behaviour {
                        work: work.clone(),
                        routing: routing.clone(),
                    })
                })
                .collect(),
        )
    };
    let zero = Dist::constant(0.0).expect("zero is a valid constant");
    // Payloads cross the caller's link: one processor-sharing server shared
    // by all its calls' transfers, each bringing its own transfer time.
    let link = match gbps {
        Some(_) if points.iter().any(|(e, _)| e.bytes.is_some()) => {
            let id = StationId(next_hop);
            next_hop += 1;
            hops.push(internal(
                format!("{prefix}.link"),
                1,
                Discipline::Ps,
                &zero,
                &Routing::exit(),
            ));
            out.hops.push(id);
            Some(id)
        }
        _ => None,
    };
    for (j, (entry, probability)) in points.into_iter().enumerate() {
        let id = first_id + j as u32;
        let name = format!("{prefix}.call{j}");
        let mut targets = Vec::new();
        // Branches to the same callee (a fanout) share its hop and send.
        let mut routes: Vec<(StationId, StationId)> = Vec::new();
        for &target in &entry.targets {
            if let Some(&(_, to)) = routes.iter().find(|r| r.0 == target) {
                targets.push(to);
                continue;
            }
            let b = routes.len();
            // Each callee: its payload's transfer?, its network hop?, the callee.
            let mut to = target;
            if let Some(latency) = &entry.latency {
                let hop = StationId(next_hop);
                next_hop += 1;
                hops.push(internal(
                    format!("{name}.hop{b}"),
                    INFINITE_SERVERS,
                    Discipline::Fifo,
                    latency,
                    &Routing::to(to),
                ));
                out.hops.push(hop);
                to = hop;
            }
            if let (Some(bytes), Some(link), Some(gbps)) = (entry.bytes, link, gbps) {
                let send = StationId(next_hop);
                next_hop += 1;
                let mut station = internal(
                    format!("{name}.send{b}"),
                    1,
                    Discipline::Fifo,
                    &zero,
                    &Routing::to(to),
                );
                station.role = Role::Call(CallPoint {
                    targets: vec![link],
                    wait: 1,
                    probability: vec![1.0; per_class.len()],
                    work: Some(8.0 * bytes / (gbps * 1e9) * 1e9),
                });
                hops.push(station);
                out.hops.push(send);
                to = send;
            }
            routes.push((target, to));
            targets.push(to);
        }
        let last = j as u32 + 1 == n_points;
        let behaviour = per_class
            .iter()
            .enumerate()
            .map(|(ci, l)| {
                l.as_ref().map(|_| Behaviour {
                    work: Dist::constant(0.0).expect("zero is a valid constant"),
                    routing: if last {
                        next[ci].clone()
                    } else {
                        Routing::to(StationId(id + 1))
                    },
                })
            })
            .collect();
        out.stations.push(Station::with_role(
            name,
            Role::Call(CallPoint {
                targets,
                wait: entry.wait,
                probability,
                work: None,
            }),
            behaviour,
        ));
        out.points.push(StationId(id));
        out.labels.push(entry.label.clone());
    }
    out.stations.extend(hops);
    out
}
