//! Synchronous calls (`calls = [...]`), lowered into the engine's call
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
//! replica, each transfer bringing its own transfer time). When classes
//! call differently (`[services.X.on.CLASS]` with its own `calls`), the
//! lists are laid end to end and each call point has probability 0 for the
//! classes whose list it is not in, so that one chain, with one place where
//! the caller's worker is given back, serves every class.

use chokepoint_core::dist::Dist;
use chokepoint_core::model::{
    Behaviour, CallPoint, Discipline, Queue, Role, Routing, Station, StationId,
};

use super::{Builder, zero};
use crate::layout::{Origin, Part};
use crate::resolve::{CallEntry, Callee, PerClass};

/// The call points and hops built for one chain.
#[derive(Debug, Default)]
pub(crate) struct Compiled {
    /// The call points, in order.
    pub(crate) points: Vec<StationId>,
    /// The hops, links and sends.
    pub(crate) hops: Vec<StationId>,
    /// Each call point's label.
    pub(crate) labels: Vec<String>,
}

/// Builds the call points (then the hops) of one chain, with the next ids
/// of `b`; requests leave the last call point by their class's `next`.
/// `prefix` names them (`api[0]`), `origin` says where they come from.
pub(crate) fn compile(
    b: &mut Builder,
    prefix: &str,
    per_class: &PerClass,
    next: &[Routing],
    gbps: Option<f64>,
    origin: impl Fn(Part) -> Origin,
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
    // The call points first, built once their callees' hops exist.
    let ids: Vec<StationId> = (0..points.len())
        .map(|j| b.reserve(origin(Part::Call(j as u32))))
        .collect();
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
    // Payloads cross the caller's link: one processor-sharing server shared
    // by all its calls' transfers, each bringing its own transfer time.
    let link = match gbps {
        Some(_) if points.iter().any(|(e, _)| e.bytes.is_some()) => {
            let id = b.add(
                internal(
                    format!("{prefix}.link"),
                    1,
                    Discipline::Ps,
                    &zero(),
                    &Routing::exit(),
                ),
                origin(Part::Link),
            );
            out.hops.push(id);
            Some(id)
        }
        _ => None,
    };
    for (j, (entry, probability)) in points.into_iter().enumerate() {
        let name = format!("{prefix}.call{j}");
        let mut targets = Vec::new();
        // Branches to the same callee (a fanout) share its hop and send.
        let mut routes: Vec<(StationId, StationId)> = Vec::new();
        for &callee in &entry.targets {
            let target = match callee {
                Callee::Service(s) => Builder::entry(s),
                Callee::Station(s) => s,
            };
            if let Some(&(_, to)) = routes.iter().find(|r| r.0 == target) {
                targets.push(to);
                continue;
            }
            let k = routes.len();
            // Each callee: its payload's transfer?, its network hop?, the callee.
            let mut to = target;
            if let Some(latency) = &entry.latency {
                to = b.add(
                    internal(
                        format!("{name}.hop{k}"),
                        Queue::INFINITE,
                        Discipline::Fifo,
                        latency,
                        &Routing::to(to),
                    ),
                    origin(Part::Hop),
                );
                out.hops.push(to);
            }
            if let (Some(bytes), Some(link), Some(gbps)) = (entry.bytes, link, gbps) {
                let mut send = internal(
                    format!("{name}.send{k}"),
                    1,
                    Discipline::Fifo,
                    &zero(),
                    &Routing::to(to),
                );
                send.role = Role::Call(CallPoint {
                    work: Some(8.0 * bytes / (gbps * 1e9) * 1e9),
                    ..CallPoint::to(link, per_class.len())
                });
                to = b.add(send, origin(Part::Send));
                out.hops.push(to);
            }
            routes.push((target, to));
            targets.push(to);
        }
        let last = j + 1 == ids.len();
        let behaviour = per_class
            .iter()
            .enumerate()
            .map(|(ci, l)| {
                l.as_ref().map(|_| Behaviour {
                    work: zero(),
                    routing: if last {
                        next[ci].clone()
                    } else {
                        Routing::to(ids[j + 1])
                    },
                })
            })
            .collect();
        b.set(
            ids[j],
            Station::with_role(
                name,
                Role::Call(CallPoint {
                    targets,
                    wait: entry.wait,
                    choose: None,
                    probability,
                    work: None,
                    timeout: entry.timeout.clone(),
                    retry: entry.retry.clone(),
                    hedge: entry.hedge,
                    breaker: entry.breaker,
                }),
                behaviour,
            ),
        );
        out.labels.push(entry.label.clone());
    }
    out.points = ids;
    out
}
