//! The model the engine runs: stations, request classes and routing.
//!
//! Everything is resolved to indices ([`StationId`], [`ClassId`]); names are
//! kept for display and to derive random streams. The scenario crate builds a
//! [`Topology`] from a user's file; tests and benchmarks build one directly.

use crate::dist::Dist;
use crate::time::SimTime;

/// Index of a station in [`Topology::stations`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StationId(pub u32);

/// Index of a class in [`Topology::classes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClassId(pub u32);

impl StationId {
    /// This id as a vector index.
    #[inline]
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

impl ClassId {
    /// This id as a vector index.
    #[inline]
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

/// The order in which a station takes waiting requests into service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discipline {
    /// First come, first served.
    Fifo,
    /// Last come, first served (non-preemptive).
    Lifo,
    /// By class priority, lower value first, FIFO within a priority; non-preemptive.
    Priority,
    /// Processor sharing: each of `n` requests present progresses at rate `min(1, c/n)`.
    Ps,
}

/// Where a request goes after a visit: `(to, p)` pairs whose `p` sum to at
/// most one; with the remaining probability it leaves the system.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Routing {
    /// Next stations with their probabilities, in the user's order.
    pub next: Vec<(StationId, f64)>,
}

impl Routing {
    /// Leave the system after this visit.
    pub fn exit() -> Routing {
        Routing::default()
    }

    /// Always go to `to`.
    pub fn to(to: StationId) -> Routing {
        Routing {
            next: vec![(to, 1.0)],
        }
    }

    /// The probability of leaving the system after this visit.
    pub fn exit_probability(&self) -> f64 {
        (1.0 - self.next.iter().map(|&(_, p)| p).sum::<f64>()).max(0.0)
    }
}

/// What a station does to requests of one class.
#[derive(Clone, Debug, PartialEq)]
pub struct Behaviour {
    /// Service requirement per visit (at rate 1).
    pub work: Dist,
    /// Where the request goes next.
    pub routing: Routing,
}

/// A queueing station: `servers` identical servers and one queue.
#[derive(Clone, Debug, PartialEq)]
pub struct Station {
    /// The user's name for it.
    pub name: String,
    /// Number of parallel servers, at least one.
    pub servers: u32,
    /// Queue discipline.
    pub discipline: Discipline,
    /// Most requests present (queued plus in service); arrivals beyond are dropped.
    pub capacity: Option<u32>,
    /// When set, this is not a queue but a load balancer: a request arriving
    /// here is passed at once, in zero time, to one of the targets chosen by
    /// the policy; `servers`, `discipline`, `capacity` and `behaviour` are
    /// then unused.
    pub dispatch: Option<Dispatch>,
    /// When set, a request must take one of a limited number of slots (a
    /// worker thread, a connection) before entering this station, and keeps
    /// it until its visit at `release_at` ends; requests without a free slot
    /// wait in FIFO order.
    pub admission: Option<Admission>,
    /// When set, this is not a queue but a call point: a request arriving
    /// here calls the targets (in parallel if several), waits for their
    /// replies, then leaves by its class's routing, all without using a
    /// server; `servers`, `discipline` and `capacity` are then unused, and
    /// `work` is ignored.
    pub call: Option<CallPoint>,
    /// The probability that a visit here ends in an error (a failing
    /// dependency): the request fails, and with it every call awaiting it.
    pub error: f64,
    /// When set, this station is a cache: after each visit it decides
    /// whether the request hit, or must fetch from the backing store.
    pub cache: Option<Cache>,
    /// When set, this processor-sharing station is a replica's CPU with a
    /// garbage-collected heap: requests allocate as they enter, and a full
    /// heap stops every job here for a pause.
    pub gc: Option<Gc>,
    /// When set, visits here are writes on a replicated database's leader,
    /// or reads on one of its followers, which may be stale.
    pub replication: Option<Replication>,
    /// Per-class behaviour, indexed by [`ClassId`]. `None` for a class that
    /// never visits this station (reaching it anyway is a model error caught
    /// when the topology is validated).
    pub behaviour: Vec<Option<Behaviour>>,
}

impl Station {
    /// A queueing station: `servers` servers, no capacity limit, no pool,
    /// never failing; per-class behaviour indexed by [`ClassId`].
    pub fn new(
        name: impl Into<String>,
        servers: u32,
        discipline: Discipline,
        behaviour: Vec<Option<Behaviour>>,
    ) -> Station {
        Station {
            name: name.into(),
            servers,
            discipline,
            capacity: None,
            dispatch: None,
            admission: None,
            call: None,
            error: 0.0,
            cache: None,
            gc: None,
            replication: None,
            behaviour,
        }
    }
}

/// A database's part in asynchronous replication.
///
/// Each visit at the leader is a write to a key drawn from the catalogue;
/// it becomes visible on the followers `lag` later (writes apply in commit
/// order, so never before the previous one). Each visit at a follower is a
/// read of a key drawn from the same catalogue, stale when the last write
/// to that key is not visible yet.
#[derive(Clone, Debug, PartialEq)]
pub enum Replication {
    /// Where writes happen.
    Leader {
        /// The keys and their popularity.
        keys: Popularity,
        /// The replication lag of each write.
        lag: Dist,
    },
    /// Where reads happen, behind `leader` (a station with the leader role).
    Follower {
        /// The leader's station.
        leader: StationId,
    },
}

/// A stop-the-world garbage collector on a replica.
///
/// Each request entering the station allocates `alloc` bytes, which stay
/// live while it is in flight. When the bytes allocated since the last
/// collection exceed the free heap (`heap` minus the live data, `live`
/// plus `alloc` per request in flight), every job at the station stops for
/// `pause_min + pause_per_byte × live`: the pause grows with the live heap,
/// and a heap that is nearly all live collects again and again.
#[derive(Clone, Debug, PartialEq)]
pub struct Gc {
    /// Heap size, bytes.
    pub heap: f64,
    /// Live data whatever the load (caches, sessions), bytes.
    pub live: f64,
    /// Bytes each request allocates.
    pub alloc: f64,
    /// The shortest pause, nanoseconds.
    pub pause_min: f64,
    /// Pause per live byte, nanoseconds.
    pub pause_per_byte: f64,
    /// The station whose admission pool's held slots are the requests in
    /// flight on the replica (its workers); `None`: those at this station.
    pub in_flight: Option<StationId>,
}

/// What a cache holds, and how it decides hits.
#[derive(Clone, Debug, PartialEq)]
pub enum CacheContents {
    /// Each read hits with a fixed probability.
    HitRatio(f64),
    /// Each request carries a key drawn from a catalogue with Zipf
    /// popularity (independent draws); the cache holds `capacity` entries,
    /// evicting the least recently used, each for at most `ttl`.
    Lru {
        /// The catalogue's size and skew.
        keys: Popularity,
        /// Entries held at most.
        capacity: u32,
        /// How long an entry stays valid after it is stored; `None`: forever.
        ttl: Option<SimTime>,
    },
}

/// What a class does to the data it touches (at a cache, a database).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Op {
    /// Read a key: at a cache, look it up and fetch it on a miss.
    #[default]
    Read,
    /// Change a key's value (at a cache, see [`WritePolicy`]).
    Write,
}

/// What a write does to the cache and its backing store.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WritePolicy {
    /// The entry is dropped and the write goes on to the backing store.
    Invalidate,
    /// The entry is updated and the write goes on to the backing store
    /// (synchronously: the writer waits for both).
    WriteThrough,
    /// The entry is updated and marked dirty; the writer goes on at once.
    /// Every `interval`, up to `batch` dirty entries are written to the
    /// backing store (one write each, sent without waiting); until then
    /// they are at risk: a crash would lose them.
    WriteBack {
        /// Dirty entries written per flush at most.
        batch: u32,
        /// Time between flushes.
        interval: SimTime,
    },
}

/// A cache in front of a backing store.
///
/// Entries are stored when a miss is decided (as if concurrent misses for
/// a key waited for one fetch), so the contents follow the independent
/// reference model that Che's approximation describes.
#[derive(Clone, Debug, PartialEq)]
pub struct Cache {
    /// Hit ratio or LRU contents.
    pub contents: CacheContents,
    /// Per class (indexed by [`ClassId`]): reads or writes.
    pub ops: Vec<Op>,
    /// What writes do.
    pub write_policy: WritePolicy,
    /// Where misses and writes go on: the first station of the fetch from
    /// the backing store (its end routes as the cache does).
    pub backing: StationId,
}

/// A population of items (sessions, keys): `count` of them, the `k`-th most
/// popular drawn with probability proportional to 1/k^`zipf` (0: all alike).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Popularity {
    /// How many.
    pub count: u32,
    /// The Zipf exponent of their popularity.
    pub zipf: f64,
}

/// A pool of slots held from entering a station until leaving another one.
#[derive(Clone, Debug, PartialEq)]
pub struct Admission {
    /// How many requests may hold a slot at once.
    pub slots: u32,
    /// The stations after whose visit the slot is given back (this station
    /// itself, or ones the request reaches from it: the last station of
    /// each replica a queue feeds, say). Passing one without holding a slot
    /// of this pool does nothing.
    pub release_at: Vec<StationId>,
    /// Most requests waiting for a slot (a queue's buffer); beyond, an
    /// arrival is dropped. `None`: unbounded.
    pub waiting_limit: Option<u32>,
    /// When set, the slots are connections that are opened on demand (a
    /// database's connection pool); `None`: slots cost nothing to take.
    pub connections: Option<Connections>,
}

/// How the slots of a pool are opened, kept and closed.
///
/// A request that takes a slot reuses the most recently released idle
/// connection; when there is none (or it has been idle longer than
/// `idle_timeout`, and was closed), it opens one: `connect` is added to its
/// work at the pool's station, the handshake.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Connections {
    /// Work to open a connection, in nanoseconds at rate 1.
    pub connect: f64,
    /// Idle connections close after this long; `None`: never.
    pub idle_timeout: Option<SimTime>,
    /// False: no pooling, every request opens its own connection and
    /// closes it when done.
    pub reuse: bool,
}

impl Admission {
    /// `slots` slots given back after a visit at `release_at`, with an
    /// unbounded waiting line.
    pub fn new(slots: u32, release_at: StationId) -> Admission {
        Admission {
            slots,
            release_at: vec![release_at],
            waiting_limit: None,
            connections: None,
        }
    }
}

/// A synchronous call, or a group of parallel calls, made from a call point.
///
/// The calling request is suspended while its callees run; whatever slots it
/// holds stay held. A callee's request "returns" when its routing would
/// have it leave the system: the caller then resumes at the call point. With
/// several targets, each gets its own request (a fork) and the caller resumes
/// when `wait` of them have replied; the others run on, unawaited.
#[derive(Clone, Debug, PartialEq)]
pub struct CallPoint {
    /// The first station of each callee.
    pub targets: Vec<StationId>,
    /// Replies to wait for, up to the number of targets. Zero makes it a
    /// send: the messages go on their own and the caller goes on at once,
    /// unless a target refuses its message (a full queue), which fails the
    /// caller.
    pub wait: u32,
    /// Per class (indexed by [`ClassId`]), the probability that a request
    /// makes the call; otherwise it passes straight on.
    pub probability: Vec<f64>,
    /// The work (nanoseconds at rate 1) each request sent brings to its
    /// target, instead of the target's own: a payload's transfer time on a
    /// shared link, say. `None`: the target's own work.
    pub work: Option<f64>,
}

impl CallPoint {
    /// One call to `to`, always made by each of `classes` classes.
    pub fn to(to: StationId, classes: usize) -> CallPoint {
        CallPoint {
            targets: vec![to],
            wait: 1,
            probability: vec![1.0; classes],
            work: None,
        }
    }
}

/// How a load balancer picks a target for each request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Each target in turn.
    RoundRobin,
    /// A target uniformly at random.
    Random,
    /// The target with the fewest requests present (ties broken at random).
    LeastConnections,
    /// Two targets drawn at random, the one with fewer requests present
    /// (the "power of two choices"; ties to the first drawn).
    PowerOfTwo,
    /// A request's session goes where the session's first request went
    /// (chosen by least connections); needs [`Dispatch::sessions`].
    Sticky,
    /// A request's session is hashed onto a ring of the targets (100
    /// points each): the same session, the same target, with no state;
    /// needs [`Dispatch::sessions`].
    ConsistentHash,
}

/// The sessions requests belong to, and how popular each is.
pub type Sessions = Popularity;

/// A window of time during which a balancer's target is down: it sends it
/// nothing (requests already there finish).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Downtime {
    /// The target's index in [`Dispatch::targets`].
    pub target: usize,
    /// From this time since the start of the run (warm-up included).
    pub from: SimTime,
    /// Until this time.
    pub to: SimTime,
}

/// A load balancer's policy and targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Dispatch {
    /// How to choose.
    pub policy: Policy,
    /// Where requests may go, at least one.
    pub targets: Vec<StationId>,
    /// The session each request carries, drawn as it passes (for the
    /// session-aware policies).
    pub sessions: Option<Sessions>,
    /// When targets are down; with every target down, a request is dropped.
    pub down: Vec<Downtime>,
}

impl Dispatch {
    /// A balancer over `targets`, always up, without sessions.
    pub fn new(policy: Policy, targets: Vec<StationId>) -> Dispatch {
        Dispatch {
            policy,
            targets,
            sessions: None,
            down: Vec::new(),
        }
    }
}

/// How an open class's requests arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrivalProcess {
    /// Exponential inter-arrival times.
    Poisson,
    /// Evenly spaced arrivals.
    Constant,
}

/// Open or closed load.
#[derive(Clone, Debug, PartialEq)]
pub enum Load {
    /// Requests arrive from outside at `rate` per second.
    Open {
        /// Inter-arrival law.
        process: ArrivalProcess,
        /// Arrivals per second.
        rate: f64,
    },
    /// A fixed `population` of users, each thinking, then sending a request
    /// and waiting for it to complete, and again.
    Closed {
        /// Number of users.
        population: u32,
        /// Think time between a completion and the user's next request.
        think: Option<Dist>,
    },
}

/// A stream of requests with a common entry point and behaviour.
#[derive(Clone, Debug, PartialEq)]
pub struct Class {
    /// The user's name for it.
    pub name: String,
    /// Open or closed.
    pub load: Load,
    /// The first station each request visits.
    pub entry: StationId,
    /// Priority at `priority` stations: lower values are served first.
    pub priority: i64,
}

/// A complete model: stations and the classes that load them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Topology {
    /// All stations, in the order of the user's file.
    pub stations: Vec<Station>,
    /// All classes, in the order of the user's file.
    pub classes: Vec<Class>,
}

/// How long to run one replication, and what to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunConfig {
    /// Simulated time discarded before measuring.
    pub warmup: SimTime,
    /// Simulated time measured after the warm-up.
    pub duration: SimTime,
    /// When set, the run also records a time series in windows of this
    /// length from its start, warm-up included (see [`crate::stats::Window`]).
    /// Each window keeps a few numbers per class and station: callers bound
    /// their count (the CLI allows 100,000).
    pub window: Option<SimTime>,
}

/// Why a topology cannot be run.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ModelError {
    /// A class enters, or is routed to, a station that has no behaviour for it.
    NoBehaviour {
        /// The class.
        class: ClassId,
        /// The station.
        station: StationId,
    },
    /// A station id out of range.
    UnknownStation(StationId),
    /// A station with no server.
    NoServers(StationId),
    /// Routing probabilities outside `[0, 1]` or summing above one.
    BadRouting(StationId),
    /// A closed class with no think time reaches a place that can turn it
    /// away (a station with a capacity, a bounded queue, a balancer whose
    /// targets can be down): a dropped user would retry at once, forever,
    /// without time passing.
    ClosedLossWithoutThink(ClassId),
    /// An open class with a rate that is not positive and finite.
    BadRate(ClassId),
    /// A load balancer without targets.
    NoTargets(StationId),
    /// An admission pool without slots, or with connections on a station
    /// that does no work of its own (a balancer, a call point), or a
    /// connect cost that is not finite and non-negative.
    NoSlots(StationId),
    /// Load balancers that send requests to one another in a circle.
    BalancerCycle(StationId),
    /// A call point without targets, waiting for more replies than it has
    /// targets, or with a probability outside `[0, 1]`.
    BadCall(StationId),
    /// A call point that its own callees reach again: endless recursion.
    CallCycle(StationId),
    /// An error probability outside `[0, 1]`.
    BadError(StationId),
    /// A follower whose leader is not a leader, or a leader with an empty
    /// catalogue.
    BadReplication(StationId),
    /// A garbage collector on a station that is not processor sharing, or
    /// with a heap, allocation or pause that is not positive and finite.
    BadGc(StationId),
    /// A cache on a balancer or call point, with a hit ratio outside
    /// `[0, 1]`, an empty catalogue or no capacity, a batch or interval of
    /// zero, or not one operation per class.
    BadCache(StationId),
    /// A session-aware policy without sessions, bad sessions, or a downtime
    /// of no target or of no duration.
    BadDispatch(StationId),
    /// Nothing to simulate: no class.
    Empty,
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::NoBehaviour { class, station } => write!(
                f,
                "class #{} reaches station #{} which has no behaviour for it",
                class.0, station.0
            ),
            ModelError::UnknownStation(s) => write!(f, "station #{} does not exist", s.0),
            ModelError::NoServers(s) => write!(f, "station #{} has no server", s.0),
            ModelError::BadRouting(s) => {
                write!(
                    f,
                    "station #{} has routing probabilities outside [0, 1]",
                    s.0
                )
            }
            ModelError::ClosedLossWithoutThink(c) => write!(
                f,
                "closed class #{} has no think time but can be turned away (a capacity, a bounded queue, a target down)",
                c.0
            ),
            ModelError::BadRate(c) => write!(f, "class #{} has a rate that is not positive", c.0),
            ModelError::NoTargets(s) => write!(f, "load balancer #{} has no target", s.0),
            ModelError::NoSlots(s) => write!(
                f,
                "station #{} admits no request at all, or has connections without work of its own",
                s.0
            ),
            ModelError::BalancerCycle(s) => {
                write!(f, "load balancer #{} is on a cycle of load balancers", s.0)
            }
            ModelError::BadCall(s) => write!(
                f,
                "call point #{} has no target, waits for more replies than it has targets, or has a probability outside [0, 1] or not one per class",
                s.0
            ),
            ModelError::BadDispatch(s) => write!(
                f,
                "load balancer #{} has a session policy without sessions, bad sessions, or a bad downtime",
                s.0
            ),
            ModelError::BadError(s) => {
                write!(
                    f,
                    "station #{} has an error probability outside [0, 1]",
                    s.0
                )
            }
            ModelError::BadReplication(s) => write!(
                f,
                "station #{} is a follower of a station that is not a leader, or a leader without keys",
                s.0
            ),
            ModelError::BadGc(s) => write!(
                f,
                "station #{} has a garbage collector but is not processor sharing, or a bad heap, allocation or pause",
                s.0
            ),
            ModelError::BadCache(s) => write!(
                f,
                "cache #{} is not a queueing station, or has a bad hit ratio, catalogue, capacity, flush or operations",
                s.0
            ),
            ModelError::CallCycle(s) => {
                write!(f, "call point #{} is reached again by its own callees", s.0)
            }
            ModelError::Empty => write!(f, "nothing to simulate"),
        }
    }
}

impl std::error::Error for ModelError {}

impl Topology {
    /// Checks the invariants the engine relies on. The scenario crate reports
    /// user errors with spans before this; this is the engine's own guard.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.classes.is_empty() {
            return Err(ModelError::Empty);
        }
        let n = self.stations.len();
        let known = |s: StationId| {
            if s.idx() < n {
                Ok(())
            } else {
                Err(ModelError::UnknownStation(s))
            }
        };
        for (si, station) in self.stations.iter().enumerate() {
            let id = StationId(si as u32);
            if let Some(d) = &station.dispatch {
                if d.targets.is_empty() {
                    return Err(ModelError::NoTargets(id));
                }
                for &t in &d.targets {
                    known(t)?;
                }
                let needs_sessions = matches!(d.policy, Policy::Sticky | Policy::ConsistentHash);
                let sessions_ok = d
                    .sessions
                    .is_none_or(|s| s.count > 0 && s.zipf.is_finite() && s.zipf >= 0.0);
                let down_ok = d
                    .down
                    .iter()
                    .all(|w| w.target < d.targets.len() && w.from < w.to);
                if (needs_sessions && d.sessions.is_none()) || !sessions_ok || !down_ok {
                    return Err(ModelError::BadDispatch(id));
                }
            }
            let unit = |p: f64| (0.0..=1.0).contains(&p);
            if !unit(station.error) {
                return Err(ModelError::BadError(id));
            }
            if let Some(c) = &station.call {
                if c.targets.is_empty()
                    || c.wait as usize > c.targets.len()
                    || c.probability.len() != self.classes.len()
                    || !c.probability.iter().all(|&p| unit(p))
                    || c.work.is_some_and(|w| !(w.is_finite() && w >= 0.0))
                {
                    return Err(ModelError::BadCall(id));
                }
                for &t in &c.targets {
                    known(t)?;
                }
            } else if station.servers == 0 {
                return Err(ModelError::NoServers(id));
            }
            match &station.replication {
                Some(Replication::Leader { keys, .. })
                    if keys.count == 0 || !keys.zipf.is_finite() || keys.zipf < 0.0 =>
                {
                    return Err(ModelError::BadReplication(id));
                }
                Some(Replication::Follower { leader }) => {
                    known(*leader)?;
                    if !matches!(
                        self.stations[leader.idx()].replication,
                        Some(Replication::Leader { .. })
                    ) {
                        return Err(ModelError::BadReplication(id));
                    }
                }
                _ => {}
            }
            if let Some(g) = &station.gc {
                let finite = |x: f64| x.is_finite() && x >= 0.0;
                if station.discipline != Discipline::Ps
                    || station.dispatch.is_some()
                    || station.call.is_some()
                    || !(finite(g.heap) && g.heap > 0.0)
                    || !(finite(g.alloc) && g.alloc > 0.0)
                    || !finite(g.live)
                    || !finite(g.pause_min)
                    || !finite(g.pause_per_byte)
                {
                    return Err(ModelError::BadGc(id));
                }
                if let Some(f) = g.in_flight {
                    known(f)?;
                }
            }
            if let Some(c) = &station.cache {
                known(c.backing)?;
                let contents_ok = match &c.contents {
                    CacheContents::HitRatio(h) => unit(*h),
                    CacheContents::Lru {
                        keys,
                        capacity,
                        ttl,
                    } => {
                        keys.count > 0
                            && keys.zipf.is_finite()
                            && keys.zipf >= 0.0
                            && *capacity > 0
                            && ttl.is_none_or(|t| t.0 > 0)
                    }
                };
                let policy_ok = match c.write_policy {
                    WritePolicy::WriteBack { batch, interval } => batch > 0 && interval.0 > 0,
                    _ => true,
                };
                if !contents_ok
                    || !policy_ok
                    || c.ops.len() != self.classes.len()
                    || station.dispatch.is_some()
                    || station.call.is_some()
                {
                    return Err(ModelError::BadCache(id));
                }
            }
            if let Some(a) = &station.admission {
                for &r in &a.release_at {
                    known(r)?;
                }
                let bad_connections = a.connections.is_some_and(|c| {
                    !(c.connect.is_finite() && c.connect >= 0.0)
                        || station.dispatch.is_some()
                        || station.call.is_some()
                });
                if a.slots == 0 || bad_connections {
                    return Err(ModelError::NoSlots(id));
                }
            }
            for behaviour in station.behaviour.iter().flatten() {
                let mut sum = 0.0;
                for &(to, p) in &behaviour.routing.next {
                    known(to)?;
                    if !(0.0..=1.0).contains(&p) {
                        return Err(ModelError::BadRouting(id));
                    }
                    sum += p;
                }
                if sum > 1.0 + 1e-9 {
                    return Err(ModelError::BadRouting(id));
                }
            }
        }
        // Every station a class can reach must know what to do with it.
        for (ci, class) in self.classes.iter().enumerate() {
            let class_id = ClassId(ci as u32);
            known(class.entry)?;
            if let Load::Open { rate, .. } = class.load
                && !(rate.is_finite() && rate > 0.0)
            {
                return Err(ModelError::BadRate(class_id));
            }
            let no_think = matches!(class.load, Load::Closed { think: None, .. });
            let mut seen = vec![false; n];
            let mut stack = vec![class.entry];
            while let Some(s) = stack.pop() {
                if std::mem::replace(&mut seen[s.idx()], true) {
                    continue;
                }
                let station = &self.stations[s.idx()];
                // Where a request can be turned away (a full station or
                // queue, a balancer with its targets down), possibly at once.
                let turns_away = (station.capacity.is_some() && station.call.is_none())
                    || station
                        .admission
                        .as_ref()
                        .is_some_and(|a| a.waiting_limit.is_some())
                    || station
                        .dispatch
                        .as_ref()
                        .is_some_and(|d| !d.down.is_empty());
                if no_think && turns_away {
                    return Err(ModelError::ClosedLossWithoutThink(class_id));
                }
                if let Some(d) = &station.dispatch {
                    stack.extend(d.targets.iter().copied());
                    continue;
                }
                if let Some(c) = &station.call {
                    stack.extend(c.targets.iter().copied());
                }
                if let Some(c) = &station.cache {
                    stack.push(c.backing);
                }
                let Some(Some(behaviour)) = station.behaviour.get(ci) else {
                    return Err(ModelError::NoBehaviour {
                        class: class_id,
                        station: s,
                    });
                };
                stack.extend(behaviour.routing.next.iter().map(|&(to, _)| to));
            }
        }
        // Balancers pass requests on in zero time. A balancer is grounded if
        // one of its targets is a station or a grounded balancer; balancers
        // that are not would pass a request around forever at one instant.
        let mut grounded: Vec<bool> = self.stations.iter().map(|s| s.dispatch.is_none()).collect();
        loop {
            let mut changed = false;
            for (si, station) in self.stations.iter().enumerate() {
                if let Some(d) = &station.dispatch
                    && !grounded[si]
                    && d.targets.iter().any(|t| grounded[t.idx()])
                {
                    grounded[si] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        if let Some(si) = grounded.iter().position(|g| !g) {
            return Err(ModelError::BalancerCycle(StationId(si as u32)));
        }
        // A call point must not be reachable from its own callees.
        for (si, station) in self.stations.iter().enumerate() {
            let Some(call) = &station.call else { continue };
            let mut seen = vec![false; n];
            let mut stack = call.targets.clone();
            while let Some(s) = stack.pop() {
                if s.idx() == si {
                    return Err(ModelError::CallCycle(s));
                }
                if std::mem::replace(&mut seen[s.idx()], true) {
                    continue;
                }
                stack.extend(self.successors(s));
            }
        }
        Ok(())
    }

    /// Every station a request at `s` may go to next, of any class, calls
    /// included.
    pub fn successors(&self, s: StationId) -> Vec<StationId> {
        let station = &self.stations[s.idx()];
        let mut out: Vec<StationId> = Vec::new();
        if let Some(d) = &station.dispatch {
            out.extend(&d.targets);
        }
        if let Some(c) = &station.call {
            out.extend(&c.targets);
        }
        if let Some(c) = &station.cache {
            out.push(c.backing);
        }
        for b in station.behaviour.iter().flatten() {
            out.extend(b.routing.next.iter().map(|&(to, _)| to));
        }
        out
    }
}
