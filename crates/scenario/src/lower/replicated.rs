//! Services that run on machines (`api`, `worker`, `database`), lowered
//! into replicas.
//!
//! ```text
//!                       ┌─► [ connect ]? ─► [ lock ]? ─► [ cpu: cores, PS ] ─► [ disk ]? ─► [ net ]? ─► calls ─┐  replica 0
//!   ──► [ api: balancer ]                                                                                    ├─► next
//!                       └─► ... one chain per replica ...                                                     ┘
//!        `workers` (or a pool's connections) are taken at the first station of a chain, given back after the last
//! ```
//!
//! - CPU: the replica's `cores` as servers, processor sharing, the demand
//!   divided by the profile's `cpu_speed`.
//! - Serial fraction (`serial = 0.05`): that share of the CPU demand runs on
//!   a one-server lock shared by the whole replica, as in Amdahl's law.
//! - Disk: `disk_ops` operations (plus a table's pages) take `ops /
//!   disk_iops` seconds on a one-server device; network: `net_bytes` take
//!   `8 · net_bytes / (network_gbps · 10⁹)` seconds on a one-server link.
//! - Locks: stripes shared by every replica, taken by a call before the
//!   service's own calls.
//! - The service's own station is a load balancer: requests reach the
//!   replicas by an even random split, unless a `load_balancer` service
//!   targets the service, in which case its policy picks the replica. A
//!   database with read replicas routes writes to the leader and reads to
//!   a balancer over its followers instead.

use chokepoint_core::dist::Dist;
use chokepoint_core::model::{
    Admission, Behaviour, CallPoint, Discipline, Dispatch, Gc, Op, Policy, Queue, Replication,
    Role, Routing, Station, StationId,
};

use super::calls::{self, Compiled};
use super::{Builder, Downs, downtimes, routing, zero};
use crate::layout::{
    CallSite, LockLayout, Origin, Part, ReplicaLayout, ReplicaRole, ServiceLayout, ShardLayout,
};
use crate::read::data::{Scope, Shards};
use crate::read::{Lock, ReplicatedDef};
use crate::resolve::{CallEntry, Callee, Links, PerClass};

/// One of a replica's own stations to build: its part, its name's suffix,
/// servers, discipline and work per class.
type OwnPart = (Part, &'static str, u32, Discipline, Vec<Option<Dist>>);

/// Lowers a replicated service: its locks, its replicas' chains, a read
/// replicas' balancer; and its own station.
pub(crate) fn lower(
    b: &mut Builder,
    layout: &mut ServiceLayout,
    downs: &mut Downs,
    name: &str,
    def: &ReplicatedDef,
    links: &Links,
) {
    let p = &def.profile;
    let n_classes = b.n_classes();
    let service = layout.id;
    let origin = |replica: Option<u32>, part| Origin {
        service,
        replica,
        part,
    };
    // The locks first, shared by every replica; each request calls those
    // its class takes before its own calls.
    let uses: Vec<bool> = def.cpu.iter().map(Option::is_some).collect();
    let takes = |ci: usize, l: usize| def.lock_use[ci].as_ref().is_none_or(|u| u.contains(&l));
    let mut lock_calls = Vec::new();
    for (k, lock) in def.locks.iter().enumerate() {
        let l = lock_stations(b, name, lock, k as u32, &uses, |part| origin(None, part));
        lock_calls.push(CallEntry {
            targets: vec![Callee::Station(l.head)],
            label: format!("lock {}", lock.name),
            wait: 1,
            p: 1.0,
            n: 1,
            latency: None,
            bytes: None,
            timeout: None,
            retry: None,
            hedge: None,
            breaker: None,
            span: def.span.clone(),
        });
        layout.locks.push(l);
    }
    // Classes that cannot use the service make no call.
    let per_class: PerClass = links
        .calls
        .iter()
        .zip(&def.cpu)
        .enumerate()
        .map(|(ci, (c, cpu))| {
            cpu.as_ref().and(c.as_ref()).map(|c| {
                let mut all: Vec<CallEntry> = lock_calls
                    .iter()
                    .enumerate()
                    .filter(|&(l, _)| takes(ci, l))
                    .map(|(_, e)| e.clone())
                    .collect();
                all.extend(c.iter().cloned());
                all
            })
        })
        .collect();
    let next: Vec<Routing> = links.next.iter().map(routing).collect();
    // A scatter-gather request leaves each shard back to the call that
    // gathers the replies; the gathered request goes on by `next`.
    let scatters = |ci: usize| def.shards.is_some() && def.scope[ci] != Scope::Key;
    let chain_next: Vec<Routing> = (0..n_classes)
        .map(|ci| {
            if scatters(ci) {
                Routing::exit()
            } else {
                next[ci].clone()
            }
        })
        .collect();
    let shards = def.shards.as_ref().map_or(1, |sh| sh.count);
    let mut shard_entries = Vec::new();
    for shard in 0..shards {
        // Each shard's replicas are numbered after the previous shards'.
        let first = layout.replicas.len();
        let prefix = match def.shards {
            Some(_) => format!("{name}.shard{shard}"),
            None => name.to_owned(),
        };
        let mut leader_last: Option<StationId> = None;
        for local in 0..def.replicas {
            let r = first as u32 + local;
            let mut parts: Vec<OwnPart> = Vec::new();
            let scale = |d: &Option<Dist>, share: f64| {
                d.as_ref().and_then(|d| d.scaled(share / p.cpu_speed).ok())
            };
            if def.pool.is_some() {
                // Opening a connection: a delay that never queues.
                parts.push((
                    Part::Connect,
                    "connect",
                    Queue::INFINITE,
                    Discipline::Fifo,
                    uses.iter().map(|&u| u.then(zero)).collect(),
                ));
            }
            if def.serial > 0.0 {
                parts.push((
                    Part::Serial,
                    "lock",
                    1,
                    Discipline::Fifo,
                    def.cpu.iter().map(|d| scale(d, def.serial)).collect(),
                ));
            }
            parts.push((
                Part::Cpu,
                "cpu",
                p.cores,
                Discipline::Ps,
                def.cpu.iter().map(|d| scale(d, 1.0 - def.serial)).collect(),
            ));
            // Disk operations: the service's own, plus its table's pages.
            let ops: Vec<f64> = def
                .ops
                .iter()
                .map(|&op| def.disk_ops + def.table.map_or(0.0, |t| t.pages(op)))
                .collect();
            if ops.iter().any(|&o| o > 0.0) {
                let t = ops
                    .iter()
                    .map(|o| Dist::constant(o / p.disk_iops * 1e9).ok())
                    .collect();
                parts.push((Part::Disk, "disk", 1, Discipline::Fifo, t));
            }
            if def.net_bytes > 0.0 {
                let t = Dist::constant(8.0 * def.net_bytes / (p.network_gbps * 1e9) * 1e9).ok();
                parts.push((Part::Net, "net", 1, Discipline::Fifo, vec![t; n_classes]));
            }
            let ids: Vec<StationId> = parts
                .iter()
                .map(|(part, ..)| b.reserve(origin(Some(r), *part)))
                .collect();
            let last = ids[ids.len() - 1];
            let calls: Option<Compiled> = per_class
                .iter()
                .flatten()
                .any(|list| !list.is_empty())
                .then(|| {
                    calls::compile(
                        b,
                        &format!("{prefix}[{local}]"),
                        &per_class,
                        &chain_next,
                        Some(p.network_gbps),
                        |part| origin(Some(r), part),
                    )
                });
            // The worker is held until the last reply.
            let release = calls
                .as_ref()
                .and_then(|c| c.points.last().copied())
                .unwrap_or(last);
            let first_call = calls.as_ref().map(|c| c.points[0]);
            let mut own = Vec::new();
            for (i, (part, role, servers, discipline, work)) in parts.into_iter().enumerate() {
                let id = ids[i];
                own.push((part, id));
                let behaviour = work
                    .into_iter()
                    .enumerate()
                    .map(|(ci, w)| {
                        w.map(|work| Behaviour {
                            work,
                            routing: match ids.get(i + 1).copied().or(first_call) {
                                Some(to) => Routing::to(to),
                                None => chain_next[ci].clone(),
                            },
                        })
                    })
                    .collect();
                // The CPU's heap: requests in flight are those holding the
                // replica's workers (or connections), if it has a pool.
                let in_flight = (def.workers.is_some() || def.pool.is_some()).then_some(ids[0]);
                // With read replicas, the last own station of the leader's
                // chain records writes, and each follower's checks reads.
                let replication =
                    def.followers.as_ref().filter(|_| id == last).map(
                        |(_, lag)| match leader_last {
                            None => Replication::Leader {
                                keys: def.keys,
                                lag: lag.clone(),
                            },
                            Some(leader) => Replication::Follower { leader },
                        },
                    );
                let queue = Queue {
                    replication,
                    gc: def.heap.filter(|_| part == Part::Cpu).map(|h| Gc {
                        heap: h.heap,
                        live: h.live,
                        alloc: h.alloc,
                        pause_min: h.pause_min,
                        pause_per_byte: h.pause_per_byte,
                        in_flight,
                    }),
                    ..Queue::new(servers, discipline)
                };
                b.set(
                    id,
                    Station {
                        admission: match &def.pool {
                            _ if i > 0 => None,
                            Some(pool) => Some(Admission {
                                connections: Some(pool.connections),
                                ..Admission::new(pool.size, release)
                            }),
                            None => def.workers.map(|slots| Admission::new(slots, release)),
                        },
                        ..Station::with_role(
                            format!("{prefix}[{local}].{role}"),
                            Role::Queue(queue),
                            behaviour,
                        )
                    },
                );
            }
            let (points, labels, hops) = match calls {
                Some(c) => (c.points, c.labels, c.hops),
                None => Default::default(),
            };
            if r == 0 {
                layout.calls = labels
                    .into_iter()
                    .map(|label| CallSite {
                        label,
                        at: Vec::new(),
                    })
                    .collect();
            }
            if local == 0 {
                leader_last = Some(last);
            }
            for (site, &at) in layout.calls.iter_mut().zip(&points) {
                site.at.push(at);
            }
            layout.hops.extend(hops);
            layout.replicas.push(ReplicaLayout {
                own,
                calls: points,
                role: match (&def.followers, local) {
                    (None, _) => ReplicaRole::Plain,
                    (Some(_), 0) => ReplicaRole::Leader,
                    (Some(_), _) => ReplicaRole::Follower,
                },
            });
        }
        let heads: Vec<StationId> = layout.replicas[first..]
            .iter()
            .map(ReplicaLayout::head)
            .collect();
        downs.extend(
            def.down
                .iter()
                .filter(|&&(replica, ..)| {
                    (first..first + heads.len()).contains(&(replica as usize))
                })
                .map(|&(replica, from, to)| (heads[replica as usize - first], from, to)),
        );
        let (entry, reads) = if def.followers.is_some() {
            // Reads spread over the followers, writes go to the leader: the
            // service's own station routes each class, in no time.
            let reads = b.add(
                Station::balancer(
                    format!("{prefix}.reads"),
                    Dispatch::new(Policy::Random, heads[1..].to_vec()),
                    n_classes,
                ),
                origin(None, Part::Reads),
            );
            let behaviour = def
                .ops
                .iter()
                .zip(&uses)
                .map(|(op, &u)| {
                    u.then(|| Behaviour {
                        work: zero(),
                        routing: Routing::to(if *op == Op::Write { heads[0] } else { reads }),
                    })
                })
                .collect();
            (
                Station::new(prefix.clone(), Queue::INFINITE, Discipline::Fifo, behaviour),
                Some(reads),
            )
        } else {
            let mut dispatch = Dispatch::new(Policy::Random, heads);
            dispatch.down = downtimes(&dispatch.targets, downs);
            (Station::balancer(prefix.clone(), dispatch, n_classes), None)
        };
        match &def.shards {
            None => {
                layout.reads = reads;
                b.set(layout.entry, entry);
            }
            Some(_) => {
                let at = b.add(entry, origin(None, Part::Shard(shard)));
                shard_entries.push(at);
                layout.shards.push(ShardLayout {
                    entry: at,
                    replicas: first..layout.replicas.len(),
                    reads,
                });
            }
        }
    }
    if let Some(sh) = &def.shards {
        shard_front(b, layout, name, def, sh, &uses, &next, shard_entries);
    }
    // A service given `servers` instead of a profile runs on no priced machine.
    layout.profile = (!p.name.is_empty()).then(|| p.clone());
    layout.cost_per_hour = f64::from(def.replicas * shards) * p.cost_per_hour;
    layout.gc = def.heap.is_some();
}

/// A sharded service's own station: a router by key over its shards; and
/// when some class scatters its requests to every shard, a call point that
/// does, and the entry sends each class to the one or the other.
#[allow(clippy::too_many_arguments)]
fn shard_front(
    b: &mut Builder,
    layout: &mut ServiceLayout,
    name: &str,
    def: &ReplicatedDef,
    sh: &Shards,
    uses: &[bool],
    next: &[Routing],
    shards: Vec<StationId>,
) {
    let n_classes = uses.len();
    let origin = |part| Origin {
        service: layout.id,
        replica: None,
        part,
    };
    let mut router = Dispatch::new(Policy::ByKey(sh.by), shards.clone());
    router.keys = Some(def.keys);
    let count = shards.len() as u32;
    // Per class, how many shards its request touches at once, if it
    // scatters; each width its own call point.
    let widths: Vec<Option<u32>> = (0..n_classes)
        .map(|ci| def.scope[ci].width(count).filter(|_| uses[ci]))
        .collect();
    let mut distinct: Vec<u32> = widths.iter().flatten().copied().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.is_empty() {
        b.set(layout.entry, Station::balancer(name, router, n_classes));
        return;
    }
    let by_key = b.add(
        Station::balancer(format!("{name}.router"), router, n_classes),
        origin(Part::Router),
    );
    layout.routers = vec![by_key];
    let mut gathers = Vec::new();
    for &k in &distinct {
        let gather = b.add(
            Station::with_role(
                if k == count {
                    format!("{name}.scatter")
                } else {
                    format!("{name}.scatter{k}")
                },
                Role::Call(CallPoint {
                    targets: shards.clone(),
                    wait: k,
                    choose: (k < count).then_some(k),
                    ..CallPoint::to(StationId(0), n_classes)
                }),
                widths
                    .iter()
                    .enumerate()
                    .map(|(ci, &w)| {
                        (w == Some(k)).then(|| Behaviour {
                            work: zero(),
                            routing: next[ci].clone(),
                        })
                    })
                    .collect(),
            ),
            origin(Part::Scatter),
        );
        layout.routers.push(gather);
        gathers.push(gather);
    }
    let behaviour = (0..n_classes)
        .map(|ci| {
            uses[ci].then(|| Behaviour {
                work: zero(),
                routing: Routing::to(match widths[ci] {
                    Some(w) => {
                        gathers[distinct
                            .binary_search(&w)
                            .expect("every width has its call")]
                    }
                    None => by_key,
                }),
            })
        })
        .collect();
    b.set(
        layout.entry,
        Station::new(name, Queue::INFINITE, Discipline::Fifo, behaviour),
    );
}

/// A lock's stations: one when it has one stripe, else a balancer (its
/// head) picking a stripe at random for each request, then the stripes.
/// Every class in `uses` may take it.
fn lock_stations(
    b: &mut Builder,
    service: &str,
    lock: &Lock,
    k: u32,
    uses: &[bool],
    origin: impl Fn(Part) -> Origin,
) -> LockLayout {
    let name = format!("{service}.lock.{}", lock.name);
    let stripe = |name: String| {
        Station::new(
            name,
            1,
            Discipline::Fifo,
            uses.iter()
                .map(|&u| {
                    u.then(|| Behaviour {
                        work: lock.hold.clone(),
                        routing: Routing::exit(),
                    })
                })
                .collect(),
        )
    };
    if lock.keys == 1 {
        let head = b.add(stripe(name.clone()), origin(Part::Lock(k)));
        return LockLayout {
            name: lock.name.clone(),
            head,
            stripes: vec![head],
        };
    }
    let head = b.reserve(origin(Part::Lock(k)));
    let stripes: Vec<StationId> = (0..lock.keys)
        .map(|s| b.add(stripe(format!("{name}[{s}]")), origin(Part::Stripe(k, s))))
        .collect();
    b.set(
        head,
        Station::balancer(
            name,
            Dispatch::new(Policy::Random, stripes.clone()),
            uses.len(),
        ),
    );
    LockLayout {
        name: lock.name.clone(),
        head,
        stripes,
    }
}
