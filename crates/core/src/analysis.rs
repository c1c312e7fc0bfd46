//! Closed-form facts about a topology, computed before simulating it:
//! visit ratios from the routing (the traffic equations of a Jackson network)
//! and the offered load of open classes at each station.

use crate::model::{ClassId, Gc, Load, StationId, Topology};
use crate::routing::{Hop, hops};

/// Per class and station, the mean number of visits a request makes.
///
/// Solves `v = e + Pᵀ v` for each class, where `e` is one at the class's entry
/// and `P` its routing matrix. `None` for a class whose requests cannot leave
/// (the system `I - Pᵀ` is singular, or a solution is negative or infinite).
pub fn visit_ratios(topology: &Topology) -> Vec<Option<Vec<f64>>> {
    let n = topology.stations.len();
    (0..topology.classes.len())
        .map(|ci| {
            // Build A = I - Pᵀ for this class, and b = e_entry.
            let mut a = vec![vec![0.0; n]; n];
            for (i, row) in a.iter_mut().enumerate() {
                row[i] = 1.0;
            }
            for (from, _) in topology.stations.iter().enumerate() {
                for hop in hops(topology, StationId(from as u32), ClassId(ci as u32)) {
                    a[hop.to.idx()][from] -= hop.visits;
                }
            }
            let mut rhs = vec![0.0; n];
            rhs[topology.classes[ci].entry.idx()] = 1.0;
            solve(a, rhs).filter(|v| v.iter().all(|&x| x.is_finite() && x > -1e-9))
        })
        .collect()
}

/// Sets each cache's expected writes per read ([`Cache::writes_per_read`])
/// from the open classes' rates and visits, for the analysis's hit ratio
/// (see [`crate::routing::expected_hit_ratio`]). A cache behind another's
/// misses sees reads that depend on that one's hit ratio, so this settles
/// in as many rounds as caches are chained; closed classes, whose rates
/// are not known beforehand, are left out.
///
/// [`Cache::writes_per_read`]: crate::model::Cache::writes_per_read
pub fn settle_caches(topology: &mut Topology) {
    let caches = topology
        .stations
        .iter()
        .filter(|s| s.cache().is_some())
        .count();
    for _ in 0..caches {
        let visits = visit_ratios(topology);
        let mut changed = false;
        for si in 0..topology.stations.len() {
            let Some(cache) = topology.stations[si].cache() else {
                continue;
            };
            let (mut reads, mut writes) = (0.0, 0.0);
            for (ci, class) in topology.classes.iter().enumerate() {
                let (Load::Open { rate, .. }, Some(v)) = (&class.load, &visits[ci]) else {
                    continue;
                };
                match cache.ops[ci] {
                    crate::model::Op::Read => reads += rate * v[si],
                    crate::model::Op::Write => writes += rate * v[si],
                }
            }
            let share = if reads > 0.0 { writes / reads } else { 0.0 };
            if let Some(c) = topology.stations[si]
                .queue_mut()
                .and_then(|q| q.cache.as_mut())
                && (c.writes_per_read - share).abs() > 1e-12
            {
                c.writes_per_read = share;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let factor = a[row][col] / a[col][col];
            if factor != 0.0 {
                let (upper, lower) = a.split_at_mut(row);
                for (x, pivot_x) in lower[0][col..].iter_mut().zip(&upper[col][col..]) {
                    *x -= factor * pivot_x;
                }
                b[row] -= factor * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

/// The offered load of the open classes at each station: `ρ = Σ λ v E[S] / c`.
///
/// Closed classes are left out: a finite population cannot overload a
/// station. Classes whose visit ratios cannot be computed are left out too
/// (see [`visit_ratios`]).
pub fn offered_load(topology: &Topology) -> Vec<f64> {
    let visits = visit_ratios(topology);
    let mut rho = vec![0.0; topology.stations.len()];
    for (ci, class) in topology.classes.iter().enumerate() {
        let (Load::Open { rate, .. }, Some(v)) = (&class.load, &visits[ci]) else {
            continue;
        };
        for (si, station) in topology.stations.iter().enumerate() {
            let Some(q) = station.queue() else { continue };
            if let Some(Some(b)) = station.behaviour.get(ci) {
                rho[si] += rate * v[si] * b.work.mean() / 1e9 / f64::from(q.servers);
            }
        }
    }
    rho
}

/// Something requests wait for: a station's servers, or the slots of its
/// admission pool (workers, connections, a queue's consumers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// The servers (cores) of a station with finitely many.
    Servers(StationId),
    /// The slots of a station's admission pool.
    Slots(StationId),
}

/// What the open classes ask of one resource at their rates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Demand {
    /// The resource.
    pub resource: Resource,
    /// Its servers or slots.
    pub units: u32,
    /// Units busy on average at the open classes' rates: the sum over
    /// classes of rate × visits × work (for slots, × the time each is
    /// held).
    pub busy: f64,
    /// Servers stopped on average by garbage collection (a station with
    /// a heap): each collection stops all of them for a pause, once every
    /// `free heap / allocation` arrivals. Estimated with every slot of the
    /// replica's workers held (as at saturation: the most live data, the
    /// longest pauses and the least free heap), or as many requests as
    /// servers without workers; infinite when those alone fill the heap.
    pub gc: f64,
}

/// Each finite resource's demand from the open classes (closed classes,
/// and classes whose visits cannot be computed, are left out).
///
/// A pool's slot is held from the admission at its station until a visit
/// to one of its release stations ends, calls made meanwhile included (a
/// worker waits for its callees): its hold here is the work done in that
/// time, without the waiting, so the pool's `busy` is a lower bound (the
/// waiting behind a saturated callee is what a layered estimate adds).
pub fn demands(topology: &Topology) -> Vec<Demand> {
    let visits = visit_ratios(topology);
    let open: Vec<(usize, f64, &Vec<f64>)> = topology
        .classes
        .iter()
        .enumerate()
        .filter_map(|(ci, c)| match (&c.load, &visits[ci]) {
            (Load::Open { rate, .. }, Some(v)) => Some((ci, *rate, v)),
            _ => None,
        })
        .collect();
    let work = |si: usize, ci: usize| -> f64 {
        let station = &topology.stations[si];
        match (station.queue(), station.behaviour.get(ci)) {
            (Some(_), Some(Some(b))) => b.work.mean() / 1e9,
            _ => 0.0,
        }
    };
    let mut out = Vec::new();
    for (si, station) in topology.stations.iter().enumerate() {
        let arrivals: f64 = open.iter().map(|&(_, rate, v)| rate * v[si]).sum();
        if let Some(q) = station.queue()
            && q.servers != crate::model::Queue::INFINITE
        {
            let busy = open
                .iter()
                .map(|&(ci, rate, v)| rate * v[si] * work(si, ci))
                .sum();
            out.push(Demand {
                resource: Resource::Servers(StationId(si as u32)),
                units: q.servers,
                busy,
                gc: q.gc.as_ref().map_or(0.0, |gc| {
                    let in_flight = gc
                        .in_flight
                        .and_then(|w| topology.stations[w.idx()].admission.as_ref())
                        .map_or(q.servers, |a| a.slots);
                    f64::from(q.servers) * gc_share(gc, arrivals, in_flight)
                }),
            });
        }
        if let Some(a) = &station.admission {
            let busy = open
                .iter()
                .filter(|&&(_, _, v)| v[si] > 0.0)
                .map(|&(ci, rate, v)| {
                    let held = held_visits(topology, si, &a.release_at, ci, &|k| work(k, ci));
                    let hold: f64 = held.iter().map(|(&k, &n)| n * work(k, ci)).sum();
                    rate * v[si] * hold
                })
                .sum();
            out.push(Demand {
                resource: Resource::Slots(StationId(si as u32)),
                units: a.slots,
                busy,
                gc: 0.0,
            });
        }
    }
    out
}

/// The share of the time a heap `gc` receiving `arrivals` allocating
/// requests per second is paused, with `in_flight` requests' allocations
/// live: a collection of `pause_min + pause_per_byte × live` every
/// `free / alloc` arrivals (allocations go on during a pause, as requests
/// arrive); infinite when the live data fills the heap.
pub fn gc_share(gc: &Gc, arrivals: f64, in_flight: u32) -> f64 {
    // Nothing arrives (no open load): nothing allocates.
    if arrivals <= 0.0 {
        return 0.0;
    }
    let live = gc.live + gc.alloc * f64::from(in_flight);
    let free = gc.heap - live;
    if free <= 0.0 {
        return f64::INFINITY;
    }
    let pause = (gc.pause_min + gc.pause_per_byte * live) / 1e9;
    pause * arrivals * gc.alloc / free
}

/// The mean visits to each station of a request of class `ci` while it
/// holds a slot taken at `from`: from there until a visit to one of
/// `release` ends (the calls that visit makes included, not the routing
/// after it). Propagated along the routing until what is left is
/// negligible (a loop that never releases gives up after many rounds).
///
/// What the caller waits for, not all it starts: a send (a call that
/// waits for no reply) is left out; of a parallel call's branches, the one
/// with the most work (`work` of a station) when it waits for all (the
/// mean of the slowest is at least that), the one with the least when it
/// waits for fewer (an estimate).
fn held_visits(
    topology: &Topology,
    from: usize,
    release: &[StationId],
    ci: usize,
    work: &dyn Fn(usize) -> f64,
) -> std::collections::BTreeMap<usize, f64> {
    let class = ClassId(ci as u32);
    let mut total = std::collections::BTreeMap::new();
    let mut wave = std::collections::BTreeMap::from([(from, 1.0)]);
    for _ in 0..10_000 {
        if wave.is_empty() {
            break;
        }
        let mut next = std::collections::BTreeMap::new();
        for (&k, &n) in &wave {
            *total.entry(k).or_insert(0.0) += n;
            let station = &topology.stations[k];
            let mut hops = hops(topology, StationId(k as u32), class);
            if let crate::model::Role::Call(c) = &station.role {
                let n = c.targets.len();
                let waited: Vec<Hop> = if c.wait == 0 {
                    Vec::new()
                } else if n > 1 {
                    // One branch: the slowest of all, or the fastest of
                    // the first replies.
                    let demand = |to: StationId| -> f64 {
                        held_visits(topology, to.idx(), &[], ci, work)
                            .iter()
                            .map(|(&s, &m)| m * work(s))
                            .sum()
                    };
                    let by_demand = hops[..n].iter().map(|h| (demand(h.to), *h));
                    // Waiting for every reply of those sent (k of n drawn
                    // at random: each target then has k/n of a visit, but
                    // the branch waited for is one whole visit).
                    let pick = if c.wait as usize >= c.sent() {
                        by_demand.max_by(|a, b| a.0.total_cmp(&b.0))
                    } else {
                        by_demand.min_by(|a, b| a.0.total_cmp(&b.0))
                    };
                    pick.map(|(_, h)| Hop {
                        to: h.to,
                        visits: c.probability[ci],
                    })
                    .into_iter()
                    .collect()
                } else {
                    hops[..n].to_vec()
                };
                let onward = hops.split_off(n);
                hops = waited;
                // What follows the release is not held.
                if !release.iter().any(|r| r.idx() == k) {
                    hops.extend(onward);
                }
            } else if release.iter().any(|r| r.idx() == k) {
                hops.clear();
            }
            for hop in hops {
                let m = n * hop.visits;
                if m > 1e-12 {
                    *next.entry(hop.to.idx()).or_insert(0.0) += m;
                }
            }
        }
        wave = next;
    }
    total
}

/// What a closed class's population can get through, by the asymptotic
/// bounds of operational analysis and, where the network is product-form
/// for it, exactly by mean value analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedBounds {
    /// The class.
    pub class: ClassId,
    /// Its users, N.
    pub population: u32,
    /// Its mean think time Z, in seconds.
    pub think: f64,
    /// Its total demand D, seconds of service per request over every
    /// station (a multi-server station's divided by its servers).
    pub demand: f64,
    /// The largest per-server demand, D_max, and where.
    pub demand_max: (f64, StationId),
    /// X(N) ≤ min(N / (D + Z), 1 / D_max), requests per second.
    pub throughput_max: f64,
    /// R(N) ≥ max(D, N · D_max − Z), seconds.
    pub response_min: f64,
    /// The exact (throughput, response) by MVA, when it is the only class
    /// and every station it visits has one server (exponential work if
    /// FIFO; any if processor sharing) or infinitely many.
    pub mva: Option<(f64, f64)>,
}

/// The bounds of each closed class (see [`ClosedBounds`]).
pub fn closed_bounds(topology: &Topology) -> Vec<ClosedBounds> {
    let visits = visit_ratios(topology);
    let alone = topology.classes.len() == 1;
    topology
        .classes
        .iter()
        .enumerate()
        .filter_map(|(ci, c)| {
            let Load::Closed {
                population, think, ..
            } = &c.load
            else {
                return None;
            };
            let v = visits[ci].as_ref()?;
            let z = think.as_ref().map_or(0.0, |d| d.mean() / 1e9);
            // (demand, servers, a queue whose mean MVA gets exactly)
            let mut stations = Vec::new();
            for (si, station) in topology.stations.iter().enumerate() {
                let (Some(q), Some(Some(b))) = (station.queue(), station.behaviour.get(ci)) else {
                    continue;
                };
                let d = v[si] * b.work.mean() / 1e9;
                if d <= 0.0 {
                    continue;
                }
                let exact = q.servers == crate::model::Queue::INFINITE
                    || (q.servers == 1
                        && (q.discipline == crate::model::Discipline::Ps
                            || (b.work.scv() - 1.0).abs() < 1e-9));
                stations.push((si, d, q.servers, exact));
            }
            let queueing = |&&(_, _, servers, _): &&(usize, f64, u32, bool)| {
                servers != crate::model::Queue::INFINITE
            };
            let demand: f64 = stations
                .iter()
                .map(|&(_, d, servers, _)| {
                    if servers == crate::model::Queue::INFINITE {
                        d
                    } else {
                        d / f64::from(servers)
                    }
                })
                .sum();
            let (d_max, at) = stations
                .iter()
                .filter(queueing)
                .map(|&(si, d, servers, _)| (d / f64::from(servers), si))
                .max_by(|a, b| a.0.total_cmp(&b.0))?;
            let n = f64::from(*population);
            let mva = (alone && stations.iter().all(|s| s.3)).then(|| {
                let mut queue = vec![0.0; stations.len()];
                let (mut x, mut r) = (0.0, 0.0);
                for users in 1..=*population {
                    let times: Vec<f64> = stations
                        .iter()
                        .zip(&queue)
                        .map(|(&(_, d, servers, _), &q)| {
                            if servers == crate::model::Queue::INFINITE {
                                d
                            } else {
                                d * (1.0 + q)
                            }
                        })
                        .collect();
                    r = times.iter().sum();
                    x = f64::from(users) / (z + r);
                    for (q, t) in queue.iter_mut().zip(&times) {
                        *q = x * t;
                    }
                }
                (x, r)
            });
            Some(ClosedBounds {
                class: ClassId(ci as u32),
                population: *population,
                think: z,
                demand,
                demand_max: (d_max, StationId(at as u32)),
                throughput_max: (n / (demand + z)).min(1.0 / d_max),
                response_min: demand.max(n * d_max - z),
                mva,
            })
        })
        .collect()
}

/// Erlang C: the probability that an arrival waits in an M/M/c queue
/// offered `a` erlangs (a < c), by Erlang B's stable recursion.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    let rho = a / f64::from(c);
    b / (1.0 - rho * (1.0 - b))
}

/// Whether a request of `class` leaving `s` can come back to it (its
/// arrivals there are then not Poisson, whatever the rest).
fn returns_to(topology: &Topology, s: StationId, class: ClassId) -> bool {
    let next = |at: StationId| {
        hops(topology, at, class)
            .into_iter()
            .filter(|h| h.visits > 0.0)
            .map(|h| h.to)
    };
    let mut seen = vec![false; topology.stations.len()];
    let mut stack: Vec<StationId> = next(s).collect();
    while let Some(at) = stack.pop() {
        if at == s {
            return true;
        }
        if !std::mem::replace(&mut seen[at.idx()], true) {
            stack.extend(next(at));
        }
    }
    false
}

/// Each open class's exact mean latency, in seconds, when the topology is
/// a product-form open network (Jackson's, with BCMP's stations): every
/// class open at a constant Poisson rate, no closed class; every station
/// a request can reach a plain queue (no pool, cache, heap, replication,
/// capacity, rate limit, shedding or error) that is FIFO with exponential
/// work of one mean for every class, processor sharing with one server,
/// or an infinite-server delay; balancers only random; no faults,
/// autoscalers, deadlines or class rate limits; every station below
/// saturation. One more exact case that is not product form: when the
/// only queue with finitely many servers that requests reach is one FIFO
/// server no request comes back to (M/G/1, any law of work), by
/// Pollaczek–Khinchine: the wait is `Σ λₖ E[Sₖ²] / (2 (1 − ρ))`. `None`
/// otherwise: the simulation is then the only answer.
pub fn product_form(topology: &Topology) -> Option<Vec<f64>> {
    use crate::model::{ArrivalProcess, Discipline, Policy, Queue, Role};
    if !topology.faults.is_empty() || !topology.autoscalers.is_empty() {
        return None;
    }
    let visits = visit_ratios(topology);
    let mut rates = Vec::new();
    for (ci, c) in topology.classes.iter().enumerate() {
        match &c.load {
            Load::Open {
                process: ArrivalProcess::Poisson,
                rate,
                profile: None,
            } if c.deadline.is_none() && c.rate_limit.is_none() => {
                rates.push((*rate, visits[ci].as_ref()?));
            }
            _ => return None,
        }
    }
    // The stations with finitely many servers that requests reach: one
    // alone may be an M/G/1.
    let finite = topology
        .stations
        .iter()
        .enumerate()
        .filter(|(si, st)| {
            st.queue().is_some_and(|q| q.servers != Queue::INFINITE)
                && rates.iter().any(|(_, v)| v[*si] > 0.0)
        })
        .count();
    // Per station: the load of every class, and the response per class.
    let mut response = vec![vec![0.0; topology.classes.len()]; topology.stations.len()];
    for (si, station) in topology.stations.iter().enumerate() {
        let reached: Vec<usize> = (0..rates.len())
            .filter(|&ci| rates[ci].1[si] > 0.0)
            .collect();
        if reached.is_empty() {
            continue;
        }
        let plain = station.admission.is_none()
            && station.rate_limit.is_none()
            && station.shedding.is_none()
            && station.error == 0.0;
        match &station.role {
            Role::Balancer(d) if plain && d.policy == Policy::Random && d.down.is_empty() => {
                continue;
            }
            Role::Queue(q)
                if plain
                    && q.capacity.is_none()
                    && q.cache.is_none()
                    && q.gc.is_none()
                    && q.replication.is_none() => {}
            _ => return None,
        }
        let q = station.queue()?;
        let works: Vec<&crate::dist::Dist> = reached
            .iter()
            .map(|&ci| {
                station
                    .behaviour
                    .get(ci)
                    .and_then(Option::as_ref)
                    .map(|b| &b.work)
            })
            .collect::<Option<_>>()?;
        let mean = |k: usize| works[k].mean() / 1e9;
        let offered: f64 = reached
            .iter()
            .enumerate()
            .map(|(k, &ci)| rates[ci].0 * rates[ci].1[si] * mean(k))
            .sum();
        let exponential_alike = works.iter().all(|w| {
            (w.scv() - 1.0).abs() < 1e-9
                && (w.mean() - works[0].mean()).abs() <= 1e-9 * works[0].mean()
        });
        // Pollaczek–Khinchine's wait, for a lone FIFO server visited at
        // most once (its arrivals then stay Poisson).
        let lone_server = finite == 1
            && q.servers == 1
            && q.discipline == Discipline::Fifo
            && reached
                .iter()
                .all(|&ci| !returns_to(topology, StationId(si as u32), ClassId(ci as u32)));
        let pk_wait = {
            let second: f64 = reached
                .iter()
                .enumerate()
                .map(|(k, &ci)| {
                    rates[ci].0 * rates[ci].1[si] * mean(k).powi(2) * (1.0 + works[k].scv())
                })
                .sum();
            second / (2.0 * (1.0 - offered))
        };
        for (k, &ci) in reached.iter().enumerate() {
            response[si][ci] = if q.servers == Queue::INFINITE {
                mean(k)
            } else {
                let c = f64::from(q.servers);
                if offered >= c {
                    return None;
                }
                match q.discipline {
                    Discipline::Ps if q.servers == 1 => mean(k) / (1.0 - offered),
                    Discipline::Fifo if lone_server => mean(k) + pk_wait,
                    Discipline::Fifo | Discipline::Ps if exponential_alike => {
                        let s = mean(k);
                        s + erlang_c(q.servers, offered) * s / (c - offered)
                    }
                    _ => return None,
                }
            };
        }
    }
    Some(
        rates
            .iter()
            .enumerate()
            .map(|(ci, (_, v))| {
                (0..topology.stations.len())
                    .map(|si| v[si] * response[si][ci])
                    .sum()
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::dist::Dist;
    use crate::model::*;

    /// Jain's central-server example (34.2): demands 2, 3 and 1 s, think
    /// 4 s. Bounds: X ≤ min(N/10, 1/3), R ≥ max(6, 3N − 4); MVA's exact
    /// values as the validation's reference cases give them
    /// (`mva_closed_cpu_2disks`, N = 1, 2, 5 and 20).
    #[test]
    fn closed_bounds_and_mva_on_the_central_server() {
        let st = |name: &str, mean: f64, next: Vec<(StationId, f64)>| {
            Station::new(
                name,
                1,
                Discipline::Fifo,
                vec![Some(Behaviour {
                    work: Dist::exp(mean * 1e9).unwrap(),
                    routing: Routing { next },
                })],
            )
        };
        let topology = |population| Topology {
            stations: vec![
                st(
                    "cpu",
                    0.125,
                    vec![(StationId(1), 0.625), (StationId(2), 0.3125)],
                ),
                st("a", 0.3, vec![(StationId(0), 1.0)]),
                st("b", 0.2, vec![(StationId(0), 1.0)]),
            ],
            classes: vec![Class {
                name: "users".into(),
                load: Load::Closed {
                    population,
                    think: Some(Dist::exp(4e9).unwrap()),
                    profile: None,
                },
                entry: StationId(0),
                priority: 0,
                deadline: None,
                rate_limit: None,
            }],
            faults: Vec::new(),
            autoscalers: Vec::new(),
        };
        // Jain, Table 34.1: (N, X, R).
        for (n, x, r) in [
            (1, 0.1, 6.0),
            (2, 0.17543859649122806, 7.4),
            (5, 0.2897518477228623, 13.25614535090844),
            (20, 0.3332465122205763, 56.01563187182579),
        ] {
            let b = &closed_bounds(&topology(n))[0];
            assert!((b.demand - 6.0).abs() < 1e-9);
            assert_eq!(b.demand_max.1, StationId(1));
            let nf = f64::from(n);
            assert!((b.throughput_max - (nf / 10.0).min(1.0 / 3.0)).abs() < 1e-9);
            assert!((b.response_min - 6f64.max(3.0 * nf - 4.0)).abs() < 1e-9);
            let (mx, mr) = b.mva.unwrap();
            assert!(
                (mx - x).abs() < 1e-12 && (mr - r).abs() < 1e-9,
                "N = {n}: {mx} {mr}"
            );
        }
    }

    /// A lone FIFO server with any law of work is an M/G/1: its mean by
    /// Pollaczek–Khinchine, T = E[S] + λ E[S²] / (2(1 − ρ)), worked here
    /// by hand: M/D/1 at λ = 0.5/s, S = 1 s: 1 + 0.5 / (2 × 0.5) = 1.5 s;
    /// gamma with cv 2 (E[S²] = 5 s²): 1 + 2.5 / 1 = 3.5 s. Two FIFO
    /// servers in tandem with constant work are not product form: none.
    #[test]
    fn a_lone_fifo_server_is_an_mg1() {
        let topology = |works: Vec<Dist>| {
            let n = works.len();
            Topology {
                stations: works
                    .into_iter()
                    .enumerate()
                    .map(|(i, work)| {
                        let routing = if i + 1 < n {
                            Routing::to(StationId(i as u32 + 1))
                        } else {
                            Routing::exit()
                        };
                        Station::new(
                            format!("s{i}"),
                            1,
                            Discipline::Fifo,
                            vec![Some(Behaviour { work, routing })],
                        )
                    })
                    .collect(),
                classes: vec![Class {
                    name: "jobs".into(),
                    load: Load::Open {
                        process: ArrivalProcess::Poisson,
                        rate: 0.5,
                        profile: None,
                    },
                    entry: StationId(0),
                    priority: 0,
                    deadline: None,
                    rate_limit: None,
                }],
                faults: Vec::new(),
                autoscalers: Vec::new(),
            }
        };
        let md1 = product_form(&topology(vec![Dist::constant(1e9).unwrap()])).unwrap();
        assert!((md1[0] - 1.5).abs() < 1e-9, "{md1:?}");
        let gamma = product_form(&topology(vec![Dist::gamma(1e9, 2.0).unwrap()])).unwrap();
        assert!((gamma[0] - 3.5).abs() < 1e-9, "{gamma:?}");
        // Exponential work: PK and Erlang C agree (M/M/1: 1 / (1 − 0.5) = 2 s).
        let mm1 = product_form(&topology(vec![Dist::exp(1e9).unwrap()])).unwrap();
        assert!((mm1[0] - 2.0).abs() < 1e-9, "{mm1:?}");
        let tandem = topology(vec![
            Dist::constant(1e9).unwrap(),
            Dist::constant(1e9).unwrap(),
        ]);
        assert_eq!(product_form(&tandem), None);
        // Requests enter at a delay, half go on to the server, half of
        // those come back: the server is visited 2/3 of a time per
        // request, but its arrivals are not Poisson: no formula.
        let mut feedback = topology(vec![Dist::constant(1e9).unwrap()]);
        feedback.stations.push(Station::new(
            "delay",
            Queue::INFINITE,
            Discipline::Fifo,
            vec![Some(Behaviour {
                work: Dist::exp(1e9).unwrap(),
                routing: Routing {
                    next: vec![(StationId(0), 0.5)],
                },
            })],
        ));
        feedback.stations[0].behaviour[0].as_mut().unwrap().routing = Routing {
            next: vec![(StationId(1), 0.5)],
        };
        feedback.classes[0].entry = StationId(1);
        let visits = visit_ratios(&feedback)[0].clone().unwrap();
        assert!((visits[0] - 2.0 / 3.0).abs() < 1e-9, "{visits:?}");
        assert_eq!(product_form(&feedback), None);
    }

    /// The MODEL.md feedback example: a → b → c, 30% of c back to a.
    /// Every station is visited 1/0.7 times; at 0.56/s, a has ρ = 0.8,
    /// b (2 servers, 2 s) ρ = 0.8, c (0.8 s) ρ = 0.64.
    #[test]
    fn feedback_visit_ratios_and_loads() {
        let st = |name: &str, servers, mean: f64, routing| {
            Station::new(
                name,
                servers,
                Discipline::Fifo,
                vec![Some(Behaviour {
                    work: Dist::exp(mean * 1e9).unwrap(),
                    routing,
                })],
            )
        };
        let topology = Topology {
            stations: vec![
                st("a", 1, 1.0, Routing::to(StationId(1))),
                st("b", 2, 2.0, Routing::to(StationId(2))),
                st(
                    "c",
                    1,
                    0.8,
                    Routing {
                        next: vec![(StationId(0), 0.3)],
                    },
                ),
            ],
            classes: vec![Class {
                name: "jobs".into(),
                load: Load::Open {
                    process: ArrivalProcess::Poisson,
                    rate: 0.56,
                    profile: None,
                },
                entry: StationId(0),
                priority: 0,
                deadline: None,
                rate_limit: None,
            }],
            faults: Vec::new(),
            autoscalers: Vec::new(),
        };
        let v = visit_ratios(&topology)[0].clone().unwrap();
        for x in &v {
            assert!((x - 1.0 / 0.7).abs() < 1e-12);
        }
        let rho = offered_load(&topology);
        assert!((rho[0] - 0.8).abs() < 1e-12);
        assert!((rho[1] - 0.8).abs() < 1e-12);
        assert!((rho[2] - 0.64).abs() < 1e-12);
    }

    #[test]
    fn a_loop_with_no_exit_has_no_visit_ratios() {
        let st = |to| {
            Station::new(
                "x",
                1,
                Discipline::Fifo,
                vec![Some(Behaviour {
                    work: Dist::exp(1.0).unwrap(),
                    routing: Routing::to(StationId(to)),
                })],
            )
        };
        let topology = Topology {
            stations: vec![st(1), st(0)],
            classes: vec![Class {
                name: "jobs".into(),
                load: Load::Open {
                    process: ArrivalProcess::Poisson,
                    rate: 1.0,
                    profile: None,
                },
                entry: StationId(0),
                priority: 0,
                deadline: None,
                rate_limit: None,
            }],
            faults: Vec::new(),
            autoscalers: Vec::new(),
        };
        assert_eq!(visit_ratios(&topology)[0], None);
    }
}
