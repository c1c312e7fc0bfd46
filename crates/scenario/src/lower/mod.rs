//! The third phase: lowering resolved services into the engine's stations.
//!
//! A [`Builder`] hands out station ids in order (one per service first, its
//! own station, in file order; then each service's other stations, service
//! by service) and records where each station came from ([`Origin`]) and
//! the place in the file its diagnostics point at. Each station is built
//! once, complete: a service whose stations need another service's layout
//! (a balancer's targets are a replicated service's replicas, a queue's
//! slots are its worker's) is built after every layout is known.

mod autoscale;
mod calls;
pub(crate) mod faults;
mod replicated;

use std::ops::Range;

use chokepoint_core::dist::Dist;
use chokepoint_core::model::{
    Admission, Behaviour, CacheContents, Class, Discipline, Dispatch, Downtime, Policy, Queue,
    Role, Routing, ShardOf, Station, StationId, Topology,
};
use chokepoint_core::time::SimTime;

use crate::layout::{
    CallSite, Origin, Part, ReplicaLayout, ReplicaRole, ServiceId, ServiceKind, ServiceLayout,
    ShardLayout,
};
use crate::read::data::{CacheDef, Shards};
use crate::read::{Document, KindDef, StationDef};
use crate::resolve::{Links, PerClass, Route};

/// Stations under construction, with their origins and places.
pub(crate) struct Builder {
    stations: Vec<Option<Station>>,
    origins: Vec<Origin>,
    spans: Vec<Range<usize>>,
    n_classes: usize,
}

impl Builder {
    /// A builder with one station reserved per service, its own, at the
    /// service's index.
    fn new(services: &[(Range<usize>, ServiceKind)], n_classes: usize) -> Builder {
        Builder {
            stations: vec![None; services.len()],
            origins: (0..services.len())
                .map(|i| Origin {
                    service: ServiceId(i as u32),
                    replica: None,
                    part: Part::Entry,
                })
                .collect(),
            spans: services.iter().map(|(s, _)| s.clone()).collect(),
            n_classes,
        }
    }

    /// The own station of service `s`.
    pub(crate) fn entry(s: ServiceId) -> StationId {
        StationId(s.0)
    }

    /// The id the next station added will get.
    pub(crate) fn next_id(&self) -> StationId {
        StationId(self.stations.len() as u32)
    }

    /// Reserves the next id, for a station built later with [`Builder::set`].
    pub(crate) fn reserve(&mut self, origin: Origin) -> StationId {
        let id = self.next_id();
        let span = self.spans[origin.service.idx()].clone();
        self.stations.push(None);
        self.origins.push(origin);
        self.spans.push(span);
        id
    }

    /// Adds `station` with the next id.
    pub(crate) fn add(&mut self, station: Station, origin: Origin) -> StationId {
        let id = self.reserve(origin);
        self.set(id, station);
        id
    }

    /// Builds the reserved station `id`.
    pub(crate) fn set(&mut self, id: StationId, station: Station) {
        debug_assert!(
            self.stations[id.idx()].is_none(),
            "station {id:?} built twice"
        );
        self.stations[id.idx()] = Some(station);
    }

    /// A station built so far.
    pub(crate) fn get(&self, id: StationId) -> Option<&Station> {
        self.stations[id.idx()].as_ref()
    }

    pub(crate) fn get_mut(&mut self, id: StationId) -> Option<&mut Station> {
        self.stations[id.idx()].as_mut()
    }

    pub(crate) fn n_classes(&self) -> usize {
        self.n_classes
    }
}

/// A route to services, as the engine's routing to their own stations.
pub(crate) fn routing(route: &Route) -> Routing {
    Routing {
        next: route
            .iter()
            .map(|&(to, p)| (Builder::entry(to), p))
            .collect(),
    }
}

/// The lowered scenario.
pub(crate) struct Lowered {
    pub(crate) topology: Topology,
    pub(crate) layouts: Vec<ServiceLayout>,
    pub(crate) origins: Vec<Origin>,
    /// Where each station's diagnostics point: its service's name.
    pub(crate) spans: Vec<Range<usize>>,
}

/// Windows when a station is down (its service's, or a replica's): the
/// balancers sending to it stop for them.
type Downs = Vec<(StationId, SimTime, SimTime)>;

/// Lowers a document whose names all resolved: `classes` with their
/// entries, and every service's links.
pub(crate) fn lower(doc: &Document, classes: Vec<Class>, links: &[Links]) -> Lowered {
    let kinds: Vec<(Range<usize>, ServiceKind)> = doc
        .services
        .iter()
        .map(|s| (s.key_span.clone(), s.kind.unwrap_or(ServiceKind::Station)))
        .collect();
    let mut b = Builder::new(&kinds, classes.len());
    let mut downs: Downs = Vec::new();
    // Every service's own stations, in file order; balancers and queues,
    // which need other services' layouts, wait.
    let mut layouts = Vec::new();
    for (i, service) in doc.services.iter().enumerate() {
        let id = ServiceId(i as u32);
        let def = service.def.as_ref().expect("lowered only without errors");
        let mut layout = ServiceLayout {
            id,
            name: service.name.clone(),
            kind: kinds[i].1,
            entry: Builder::entry(id),
            replicas: Vec::new(),
            calls: Vec::new(),
            hops: Vec::new(),
            reads: None,
            shards: Vec::new(),
            routers: Vec::new(),
            locks: Vec::new(),
            profile: None,
            cost_per_hour: 0.0,
            gc: false,
            autoscaler: None,
        };
        match def {
            KindDef::Station(s) => {
                downs.extend(s.down.iter().map(|&(_, from, to)| (layout.entry, from, to)));
                station(&mut b, &mut layout, &service.name, s, &links[i]);
            }
            KindDef::External(e) => {
                downs.extend(e.down.iter().map(|&(_, from, to)| (layout.entry, from, to)));
                let n = b.n_classes();
                b.set(
                    layout.entry,
                    Station {
                        admission: e
                            .concurrency
                            .map(|slots| Admission::new(slots, layout.entry)),
                        error: e.error,
                        ..Station::new(
                            service.name.clone(),
                            Queue::INFINITE,
                            Discipline::Fifo,
                            vec![
                                Some(Behaviour {
                                    work: e.latency.clone(),
                                    routing: Routing::exit(),
                                });
                                n
                            ],
                        )
                    },
                );
            }
            KindDef::LoadBalancer(lb) => {
                if let Some((work, profile)) = &lb.l7 {
                    // Its own station is its CPU; the choice is made after it.
                    let dispatch = b.reserve(Origin {
                        service: id,
                        replica: None,
                        part: Part::Dispatch,
                    });
                    let n = b.n_classes();
                    b.set(
                        layout.entry,
                        Station::new(
                            service.name.clone(),
                            profile.cores,
                            Discipline::Ps,
                            vec![
                                Some(Behaviour {
                                    work: work.clone(),
                                    routing: Routing::to(dispatch),
                                });
                                n
                            ],
                        ),
                    );
                    layout.replicas.push(ReplicaLayout {
                        own: vec![(Part::Cpu, layout.entry), (Part::Dispatch, dispatch)],
                        calls: Vec::new(),
                        role: ReplicaRole::Plain,
                    });
                    layout.cost_per_hour = profile.cost_per_hour;
                    layout.profile = Some(profile.clone());
                }
            }
            KindDef::Queue(_) => {}
            KindDef::Replicated(r) => {
                replicated::lower(&mut b, &mut layout, &mut downs, &service.name, r, &links[i]);
            }
        }
        layouts.push(layout);
    }
    // Balancers and queues, now that every layout is known.
    for (i, service) in doc.services.iter().enumerate() {
        let layout = &layouts[i];
        let n = b.n_classes();
        match service.def.as_ref().expect("lowered only without errors") {
            KindDef::LoadBalancer(lb) => {
                let mut dispatch = Dispatch::new(lb.policy, targets(&layouts, &links[i].targets));
                dispatch.sessions = lb.sessions;
                dispatch.outlier = lb.outlier;
                dispatch.down = downtimes(&dispatch.targets, &downs);
                match layout.replicas.first().and_then(|r| r.part(Part::Dispatch)) {
                    Some(at) => b.set(
                        at,
                        Station::balancer(format!("{}.dispatch", service.name), dispatch, n),
                    ),
                    None => b.set(
                        layout.entry,
                        Station::balancer(service.name.clone(), dispatch, n),
                    ),
                }
            }
            KindDef::Queue(q) => {
                let worker = &layouts[links[i]
                    .consumer
                    .expect("a queue without a worker is an error")
                    .idx()];
                let heads: Vec<StationId> =
                    worker.replicas.iter().map(ReplicaLayout::head).collect();
                let slots: u32 = heads
                    .iter()
                    .filter_map(|&h| b.get(h).and_then(|s| s.admission.as_ref()).map(|a| a.slots))
                    .sum();
                // A queue feeds its worker's replicas: its slots are all
                // their consumers, each given back when a message leaves its
                // replica.
                let mut dispatch = Dispatch::new(Policy::LeastConnections, heads);
                dispatch.down = downtimes(&dispatch.targets, &downs);
                b.set(
                    layout.entry,
                    Station {
                        admission: Some(Admission {
                            slots: slots.max(1),
                            release_at: worker.replicas.iter().map(ReplicaLayout::last).collect(),
                            waiting_limit: q.capacity,
                            connections: None,
                        }),
                        ..Station::balancer(service.name.clone(), dispatch, n)
                    },
                );
            }
            _ => {}
        }
    }
    // Rate limits and load shedding: a replicated service's on each
    // replica (each instance enforces its own; its line is its workers'),
    // any other's on its own station.
    for (i, service) in doc.services.iter().enumerate() {
        if service.rate_limit.is_none() && service.shedding.is_none() {
            continue;
        }
        let layout = &layouts[i];
        let at: Vec<StationId> = if service.kind.is_some_and(ServiceKind::is_replicated) {
            layout.replicas.iter().map(ReplicaLayout::head).collect()
        } else {
            vec![layout.entry]
        };
        for id in at {
            if let Some(s) = b.get_mut(id) {
                s.rate_limit = service.rate_limit.or(s.rate_limit);
                s.shedding = service.shedding.or(s.shedding);
            }
        }
    }
    let Builder {
        stations,
        origins,
        spans,
        ..
    } = b;
    let stations: Vec<Station> = stations
        .into_iter()
        .map(|s| s.expect("every reserved station is built"))
        .collect();
    let autoscalers = autoscale::autoscalers(doc, &stations, &mut layouts);
    let mut topology = Topology {
        stations,
        classes,
        faults: Vec::new(),
        autoscalers,
    };
    chokepoint_core::analysis::settle_caches(&mut topology);
    Lowered {
        topology,
        layouts,
        origins,
        spans,
    }
}

/// The balancer entries, `(balancer, target index)`, that send to any of
/// `to` among `stations`.
pub(crate) fn senders(stations: &[Station], to: &[StationId]) -> Vec<(StationId, u32)> {
    stations
        .iter()
        .enumerate()
        .flat_map(|(b, s)| {
            s.dispatch().into_iter().flat_map(move |d| {
                d.targets
                    .iter()
                    .enumerate()
                    .filter(move |(_, t)| to.contains(t))
                    .map(move |(i, _)| (StationId(b as u32), i as u32))
            })
        })
        .collect()
}

/// The stations a balancer sends to for `services`: a replicated service
/// whose own station is an even split over its replicas is replaced by the
/// replicas (so the balancer's policy picks among them, and knows when they
/// are down); any other service keeps its own station (a database with
/// read replicas routes by class there, a sharded one by key).
fn targets(layouts: &[ServiceLayout], services: &[ServiceId]) -> Vec<StationId> {
    services
        .iter()
        .flat_map(|&t| {
            let l = &layouts[t.idx()];
            if l.kind.is_replicated() && l.reads.is_none() && l.shards.is_empty() {
                l.replicas.iter().map(ReplicaLayout::head).collect()
            } else {
                vec![l.entry]
            }
        })
        .collect()
}

/// A balancer's windows of downtime over `targets`.
pub(crate) fn downtimes(targets: &[StationId], downs: &Downs) -> Vec<Downtime> {
    let mut out = Vec::new();
    for (k, t) in targets.iter().enumerate() {
        for &(_, from, to) in downs.iter().filter(|w| w.0 == *t) {
            out.push(Downtime {
                target: k,
                from,
                to,
            });
        }
    }
    out
}

/// A `station` or `cache` service: its own station, then its call points
/// (a station's calls, a cache's fetch on a miss) and their hops.
fn station(b: &mut Builder, layout: &mut ServiceLayout, name: &str, s: &StationDef, links: &Links) {
    let behaviour: Vec<Option<Behaviour>> = s
        .work
        .iter()
        .zip(&links.next)
        .map(|(work, next)| {
            work.as_ref().map(|work| Behaviour {
                work: work.clone(),
                routing: routing(next),
            })
        })
        .collect();
    let mut station = Station::with_role(
        name,
        Role::Queue(Queue {
            capacity: s.capacity,
            ..Queue::new(s.servers, s.discipline)
        }),
        behaviour,
    );
    let next: Vec<Routing> = links.next.iter().map(routing).collect();
    let id = layout.id;
    let origin = |part| Origin {
        service: id,
        replica: None,
        part,
    };
    // A cache split by key: one cache per shard, behind a router.
    if let Some(cache) = &s.cache
        && let Some(shards) = &cache.shards
        && station.behaviour.iter().any(Option::is_some)
    {
        sharded_cache(b, layout, station, cache, shards, links, &next);
        return;
    }
    // A cache no class can visit (it has no `work`) has nothing to fetch:
    // the check says which class reaches it without work.
    let compiled = if let Some(cache) = s
        .cache
        .as_ref()
        .filter(|_| station.behaviour.iter().any(Option::is_some))
    {
        // Every class that visits fetches on a miss.
        let per_class = station
            .behaviour
            .iter()
            .map(|b| b.as_ref().map(|_| links.on_miss.clone()))
            .collect();
        let c = calls::compile(b, name, &per_class, &next, None, origin);
        station.queue_mut().expect("a cache is a queue").cache =
            Some(cache.model(c.points[0], None));
        Some(c)
    } else if links.calls.iter().flatten().any(|list| !list.is_empty()) {
        // Its servers are workers, held from admission to the last reply.
        let c = calls::compile(b, name, &links.calls, &next, None, origin);
        let last = *c.points.last().expect("calls were made");
        station.admission = Some(Admission::new(station.servers(), last));
        for beh in station.behaviour.iter_mut().flatten() {
            beh.routing = Routing::to(c.points[0]);
        }
        Some(c)
    } else {
        None
    };
    if let Some(c) = compiled {
        layout.replicas.push(ReplicaLayout {
            own: vec![(Part::Cpu, layout.entry)],
            calls: c.points.clone(),
            role: ReplicaRole::Plain,
        });
        layout.calls = c
            .labels
            .into_iter()
            .zip(&c.points)
            .map(|(label, &at)| CallSite {
                label,
                at: vec![at],
            })
            .collect();
        layout.hops = c.hops;
    }
    b.set(layout.entry, station);
}

/// A sharded cache: a copy of its station per shard, each its own cache
/// of `capacity` entries (of the keys the router sends it) with its own
/// fetch on a miss; the service's own station routes each request to the
/// shard of its key. Each shard is a replica of the service's layout.
fn sharded_cache(
    b: &mut Builder,
    layout: &mut ServiceLayout,
    station: Station,
    cache: &CacheDef,
    shards: &Shards,
    links: &Links,
    next: &[Routing],
) {
    let CacheContents::Lru { keys, .. } = cache.contents else {
        unreachable!("read: a sharded cache has keys")
    };
    let id = layout.id;
    let name = layout.name.clone();
    let n_classes = station.behaviour.len();
    let per_class: PerClass = station
        .behaviour
        .iter()
        .map(|b| b.as_ref().map(|_| links.on_miss.clone()))
        .collect();
    let mut entries = Vec::new();
    for index in 0..shards.count {
        let origin = |part| Origin {
            service: id,
            replica: Some(index),
            part,
        };
        let at = b.reserve(origin(Part::Cpu));
        let shard_name = format!("{name}.shard{index}");
        let c = calls::compile(b, &shard_name, &per_class, next, None, origin);
        let mut copy = station.clone();
        copy.name = shard_name;
        let shard = ShardOf {
            by: shards.by,
            index,
            of: shards.count,
        };
        copy.queue_mut().expect("a cache is a queue").cache =
            Some(cache.model(c.points[0], Some(shard)));
        b.set(at, copy);
        let r = layout.replicas.len();
        layout.replicas.push(ReplicaLayout {
            own: vec![(Part::Cpu, at)],
            calls: c.points.clone(),
            role: ReplicaRole::Plain,
        });
        if index == 0 {
            layout.calls = c
                .labels
                .iter()
                .map(|label| CallSite {
                    label: label.clone(),
                    at: Vec::new(),
                })
                .collect();
        }
        for (site, &point) in layout.calls.iter_mut().zip(&c.points) {
            site.at.push(point);
        }
        layout.hops.extend(c.hops);
        layout.shards.push(ShardLayout {
            entry: at,
            replicas: r..r + 1,
            reads: None,
        });
        entries.push(at);
    }
    let mut router = Dispatch::new(Policy::ByKey(shards.by), entries);
    router.keys = Some(keys);
    b.set(layout.entry, Station::balancer(name, router, n_classes));
}

/// Zero work: a station that only passes requests on.
pub(crate) fn zero() -> Dist {
    Dist::constant(0.0).expect("zero is a valid constant")
}
