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

/// A station: a queue, a load balancer or a call point, with what it does
/// to each class and the mechanisms any station may have (an admission
/// pool, an error probability).
#[derive(Clone, Debug, PartialEq)]
pub struct Station {
    /// The user's name for it (also what its random streams derive from).
    pub name: String,
    /// What it is: its roles exclude one another.
    pub role: Role,
    /// When set, a request must take one of a limited number of slots (a
    /// worker thread, a connection) before entering this station, and keeps
    /// it until its visit at `release_at` ends; requests without a free slot
    /// wait in FIFO order.
    pub admission: Option<Admission>,
    /// The probability that a visit here ends in an error (a failing
    /// dependency): the request fails, and with it every call awaiting it.
    pub error: f64,
    /// A token bucket every arrival passes first: what exceeds it is
    /// rejected or delayed.
    pub rate_limit: Option<RateLimit>,
    /// Load shedding at its waiting line: its admission pool's if it has
    /// one, else its queue's (FIFO).
    pub shedding: Option<Shedding>,
    /// Per-class behaviour, indexed by [`ClassId`]: the work of a visit (a
    /// queue's; ignored elsewhere) and where the request goes next (after a
    /// call point's replies; a balancer uses none). `None` for a class that
    /// never visits this station (reaching it anyway is a model error caught
    /// when the topology is validated).
    pub behaviour: Vec<Option<Behaviour>>,
}

/// What a station is.
#[derive(Clone, Debug, PartialEq)]
pub enum Role {
    /// A queueing station: requests wait for its servers and do work there.
    Queue(Queue),
    /// A load balancer: a request arriving here is passed at once, in zero
    /// time, to one of the targets chosen by the policy.
    Balancer(Dispatch),
    /// A call point: a request arriving here calls the targets (in parallel
    /// if several), waits for their replies, then leaves by its class's
    /// routing, all without using a server.
    Call(CallPoint),
}

/// A queueing station: `servers` identical servers, one queue, and the data
/// mechanisms a queue may carry.
#[derive(Clone, Debug, PartialEq)]
pub struct Queue {
    /// Number of parallel servers, at least one; [`Queue::INFINITE`] for a
    /// delay that never queues.
    pub servers: u32,
    /// Queue discipline.
    pub discipline: Discipline,
    /// Most requests present (queued plus in service); arrivals beyond are dropped.
    pub capacity: Option<u32>,
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
}

impl Queue {
    /// Servers of a station that never queues (a network hop, an external
    /// dependency): infinitely many.
    pub const INFINITE: u32 = u32::MAX;

    /// `servers` servers with `discipline`, no capacity limit, no data mechanism.
    pub fn new(servers: u32, discipline: Discipline) -> Queue {
        Queue {
            servers,
            discipline,
            capacity: None,
            cache: None,
            gc: None,
            replication: None,
        }
    }
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
        Station::with_role(
            name,
            Role::Queue(Queue::new(servers, discipline)),
            behaviour,
        )
    }

    /// A station with `role`, no pool, never failing.
    pub fn with_role(
        name: impl Into<String>,
        role: Role,
        behaviour: Vec<Option<Behaviour>>,
    ) -> Station {
        Station {
            name: name.into(),
            role,
            admission: None,
            error: 0.0,
            rate_limit: None,
            shedding: None,
            behaviour,
        }
    }

    /// A load balancer for `n_classes` classes.
    pub fn balancer(name: impl Into<String>, dispatch: Dispatch, n_classes: usize) -> Station {
        Station::with_role(name, Role::Balancer(dispatch), vec![None; n_classes])
    }

    /// Its queue, if it is one.
    pub fn queue(&self) -> Option<&Queue> {
        match &self.role {
            Role::Queue(q) => Some(q),
            _ => None,
        }
    }

    /// Its queue, if it is one, to change.
    pub fn queue_mut(&mut self) -> Option<&mut Queue> {
        match &mut self.role {
            Role::Queue(q) => Some(q),
            _ => None,
        }
    }

    /// Its balancer's policy and targets, if it is one.
    pub fn dispatch(&self) -> Option<&Dispatch> {
        match &self.role {
            Role::Balancer(d) => Some(d),
            _ => None,
        }
    }

    /// Its balancer's policy and targets, if it is one, to change.
    pub fn dispatch_mut(&mut self) -> Option<&mut Dispatch> {
        match &mut self.role {
            Role::Balancer(d) => Some(d),
            _ => None,
        }
    }

    /// Its call, if it is a call point.
    pub fn call(&self) -> Option<&CallPoint> {
        match &self.role {
            Role::Call(c) => Some(c),
            _ => None,
        }
    }

    /// Its servers: a queue's; one for a balancer or a call point (which
    /// use none, and are reported with one).
    pub fn servers(&self) -> u32 {
        self.queue().map_or(1, |q| q.servers)
    }

    /// Its cache, if it is a queue with one.
    pub fn cache(&self) -> Option<&Cache> {
        self.queue().and_then(|q| q.cache.as_ref())
    }

    /// Its replication role, if it is a queue with one.
    pub fn replication(&self) -> Option<&Replication> {
        self.queue().and_then(|q| q.replication.as_ref())
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
    /// Writes per read arriving here, expected from the open classes'
    /// rates: under invalidation each write drops its key, so the
    /// analysis's hit ratio falls with it. Zero until
    /// [`crate::analysis::settle_caches`] sets it; the engine does not
    /// read it.
    pub writes_per_read: f64,
    /// For one shard of a sharded cache: which of the catalogue's keys it
    /// holds (the analysis's hit ratio is over them; the engine does not
    /// read it, the router sends it only those).
    pub shard: Option<ShardOf>,
}

/// Shard `index` of `of`, its keys split `by` hash or range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardOf {
    /// How the keys are split.
    pub by: Partition,
    /// This shard (from 0).
    pub index: u32,
    /// The shards.
    pub of: u32,
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
    /// Replies to wait for, up to the number of targets (of those
    /// `choose` sends to). Zero makes it a send: the messages go on their
    /// own and the caller goes on at once, unless a target refuses its
    /// message (a full queue), which fails the caller.
    pub wait: u32,
    /// Sends to this many of the targets, drawn at random without
    /// replacement at each attempt (a query that touches k of N shards);
    /// `None`: to every target.
    pub choose: Option<u32>,
    /// Per class (indexed by [`ClassId`]), the probability that a request
    /// makes the call; otherwise it passes straight on.
    pub probability: Vec<f64>,
    /// The work (nanoseconds at rate 1) each request sent brings to its
    /// target, instead of the target's own: a payload's transfer time on a
    /// shared link, say. `None`: the target's own work.
    pub work: Option<f64>,
    /// How long the caller waits for the replies before giving up on an
    /// attempt.
    pub timeout: Option<Timeout>,
    /// Whether, when and how often a failed or timed-out attempt is made
    /// again.
    pub retry: Option<Retry>,
    /// Whether a slow attempt is sent again, without giving up on it
    /// (single-target calls only).
    pub hedge: Option<Hedge>,
    /// A circuit breaker: refuses calls at once while the callee fails.
    pub breaker: Option<Breaker>,
}

impl CallPoint {
    /// One call to `to`, always made by each of `classes` classes.
    pub fn to(to: StationId, classes: usize) -> CallPoint {
        CallPoint {
            targets: vec![to],
            wait: 1,
            choose: None,
            probability: vec![1.0; classes],
            work: None,
            timeout: None,
            retry: None,
            hedge: None,
            breaker: None,
        }
    }

    /// Whether the callees run as requests of their own, so that the
    /// caller can give up on them, retry or hedge: with a timeout, a retry
    /// or hedging policy, or with several targets.
    pub fn forks(&self) -> bool {
        self.targets.len() > 1 || self.protected()
    }

    /// How many targets each attempt is sent to.
    pub fn sent(&self) -> usize {
        self.choose.map_or(self.targets.len(), |k| k as usize)
    }

    /// Whether it has a timeout, a retry or hedging policy or a breaker.
    pub fn protected(&self) -> bool {
        self.timeout.is_some()
            || self.retry.is_some()
            || self.hedge.is_some()
            || self.breaker.is_some()
    }
}

/// A circuit breaker on a call, over a window of its last calls' outcomes
/// (each attempt is one).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Breaker {
    /// Outcomes kept.
    pub window: u32,
    /// Outcomes needed before it may trip.
    pub min_calls: u32,
    /// The share of failures (errors, refusals, timeouts) that trips it, in
    /// `(0, 1]`.
    pub failure_rate: f64,
    /// A success at least this slow (nanoseconds) counts as slow.
    pub slow_call: Option<f64>,
    /// The share of slow calls that trips it, in `(0, 1]`.
    pub slow_rate: f64,
    /// How long it stays open, in nanoseconds.
    pub open_for: u64,
    /// Probes let through when half-open.
    pub half_open_calls: u32,
}

/// Hedged requests: when an attempt has not replied after a delay, another
/// copy is sent to the same callee; the first reply wins and the others are
/// ignored (they run on, as work nobody awaits).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hedge {
    /// How long to wait before each extra copy.
    pub after: HedgeDelay,
    /// Extra copies per attempt at most.
    pub max: u32,
}

/// A hedge's delay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HedgeDelay {
    /// A fixed delay, in nanoseconds.
    Fixed(f64),
    /// A quantile (in `(0, 1)`) of the call's own latencies so far, learnt
    /// as it runs (no copy is sent before it has [`Hedge::LEARN`] replies).
    Quantile(f64),
}

impl Hedge {
    /// Replies a hedge by quantile learns from before it sends copies, and
    /// between two updates of its delay.
    pub const LEARN: u64 = 64;
}

/// A limit on how long a caller waits (a call's timeout, a class's
/// deadline), and what happens to the work it stops waiting for.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeout {
    /// How long, drawn per call (a constant for a fixed timeout; a law for
    /// the patience of a population of clients), in nanoseconds.
    pub after: Dist,
    /// What becomes of the work the caller gave up on.
    pub cancel: Cancel,
}

/// What becomes of work whose caller gave up (the callee's requests carry
/// the caller's deadline).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Cancel {
    /// It runs on to its end, as in most servers: orphaned work still costs
    /// capacity, and its reply is ignored.
    #[default]
    Never,
    /// Work whose deadline has passed is dropped when it would start: at
    /// the head of a queue, or when given a slot of an admission pool.
    AtDequeue,
    /// As `AtDequeue`, and work in service or waiting anywhere is taken out
    /// at the deadline.
    Preempt,
}

/// A retry policy on a call.
#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// The wait before each retry.
    pub backoff: Backoff,
    /// Retry after a timeout.
    pub on_timeout: bool,
    /// Retry after an error reply (a callee's error, or a full station's
    /// refusal).
    pub on_error: bool,
    /// What limits retries across the call point's calls, if anything.
    pub budget: Option<Budget>,
}

/// Exponential backoff: the `k`-th retry (k = 0, 1, ...) waits about
/// `expo = min(cap, base · 2^k)`, spread by the jitter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// In nanoseconds.
    pub base: f64,
    /// In nanoseconds.
    pub cap: f64,
    /// How the wait is spread.
    pub jitter: Jitter,
}

/// How a backoff is randomised (as in the AWS Architecture Blog's
/// "Exponential Backoff And Jitter").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    /// `expo`.
    None,
    /// Uniform in `[0, expo]`.
    Full,
    /// `expo/2` plus uniform in `[0, expo/2]`.
    Equal,
    /// `min(cap, uniform in [base, 3 · previous])`, the previous wait
    /// starting at `base`.
    Decorrelated,
}

/// What limits the retries of one call point (per caller replica).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// Envoy's: retries in progress at most `max(min_concurrency, percent ×
    /// calls in progress)`.
    Concurrency {
        /// A fraction of the calls in progress, in `[0, 1]`.
        percent: f64,
        /// Retries allowed in progress whatever the calls.
        min_concurrency: u32,
    },
    /// gRPC's retry throttling: a bucket of `max` tokens, full at first;
    /// each failed attempt takes one, each success gives back `ratio`;
    /// retries only while more than half the tokens are left.
    Tokens {
        /// Tokens when full.
        max: f64,
        /// Given back per success.
        ratio: f64,
    },
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
    /// The shard that holds the request's key: the key it carries, or one
    /// drawn from [`Dispatch::keys`], which it then carries on. Never
    /// another target: a request whose shard is down is dropped.
    ByKey(Partition),
}

/// How a sharded service's keys are split among its shards (the targets
/// of a [`Policy::ByKey`] balancer): see [`crate::routing::shard_of`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    /// Each key to a shard chosen by a hash of the key: the keys spread
    /// evenly, and the popular ones land wherever their hash sends them.
    Hash,
    /// Contiguous ranges of keys, as equal in size as can be: the most
    /// popular keys (the first ones) share the first shard.
    Range,
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
    /// The keys a [`Policy::ByKey`] balancer draws for a request that
    /// carries none (a key carried in is taken modulo their count).
    pub keys: Option<Popularity>,
    /// When targets are down; with every target down, a request is dropped.
    pub down: Vec<Downtime>,
    /// Outlier ejection: a target whose requests fail again and again is
    /// sent nothing for a while.
    pub outlier: Option<Outlier>,
}

/// Outlier ejection at a balancer (as Envoy's `consecutive_5xx`): a target
/// whose last `consecutive` requests ended in an error is ejected (sent
/// nothing) for `base` times the number of times it has been ejected, while
/// at most `max_percent` of the targets are ejected at once (one at
/// least). A request's outcome is judged when it ends (completes, replies,
/// or fails) and is credited to the last balancer with outlier ejection it
/// passed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outlier {
    /// Errors in a row that eject a target (at least 1).
    pub consecutive: u32,
    /// Nanoseconds of the first ejection; the k-th lasts k times as long.
    pub base: f64,
    /// The most targets ejected at once, as a percentage (0 to 100].
    pub max_percent: f64,
}

impl Dispatch {
    /// A balancer over `targets`, always up, without sessions.
    pub fn new(policy: Policy, targets: Vec<StationId>) -> Dispatch {
        Dispatch {
            policy,
            targets,
            sessions: None,
            keys: None,
            down: Vec::new(),
            outlier: None,
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

/// How an open class's rate changes over a run, as a function of the time
/// since the run began (warm-up included). Arrivals follow it as a
/// non-homogeneous Poisson process (by thinning), or evenly spaced at the
/// rate when the previous one arrived.
#[derive(Clone, Debug, PartialEq)]
pub enum Profile {
    /// Linear between points (nanoseconds since the start, arrivals per
    /// second), sorted by time; two points at one time make a jump (a
    /// step). Before the first point the rate is the first point's, after
    /// the last the last's.
    Points(Vec<(f64, f64)>),
    /// `mean + amplitude · cos(2π (t − peak_at) / period)`, with
    /// `amplitude ≤ mean` (times in nanoseconds, rates per second).
    Diurnal {
        /// Arrivals per second, on average over a period.
        mean: f64,
        /// Arrivals per second above (and below) the mean at the peak.
        amplitude: f64,
        /// Nanoseconds.
        period: f64,
        /// Nanoseconds since the start of one peak.
        peak_at: f64,
    },
}

impl Profile {
    /// The rate (per second) at `t` nanoseconds since the start.
    pub fn rate_at(&self, t: f64) -> f64 {
        match self {
            // After the last point at or before t.
            Profile::Points(points) => {
                linear(points, points.partition_point(|&(at, _)| at <= t), t)
            }
            Profile::Diurnal {
                mean,
                amplitude,
                period,
                peak_at,
            } => {
                let phase = std::f64::consts::TAU * (t - peak_at) / period;
                (mean + amplitude * phase.cos()).max(0.0)
            }
        }
    }

    /// The highest rate it reaches, at any time.
    pub fn peak(&self) -> f64 {
        match self {
            Profile::Points(points) => points.iter().map(|p| p.1).fold(0.0, f64::max),
            Profile::Diurnal {
                mean, amplitude, ..
            } => mean + amplitude,
        }
    }

    /// The mean rate over `[0, until)` nanoseconds (the expected number of
    /// arrivals divided by the time).
    pub fn mean_over(&self, until: f64) -> f64 {
        if until <= 0.0 {
            return self.rate_at(0.0);
        }
        self.expected(0.0, until) / (until / 1e9)
    }

    /// The expected number of arrivals in `[from, to)` nanoseconds: the
    /// exact integral of the rate, piece by piece.
    pub fn expected(&self, from: f64, to: f64) -> f64 {
        match self {
            Profile::Points(points) => {
                let mut area = 0.0;
                let mut t = from;
                while t < to {
                    let i = points.partition_point(|&(at, _)| at <= t);
                    let end = points.get(i).map_or(to, |p| p.0.min(to));
                    // Linear on [t, end]: the trapezium.
                    area += (self.rate_at(t) + self.rate_at_before(end)) / 2.0 * (end - t);
                    t = end;
                }
                area / 1e9
            }
            Profile::Diurnal {
                mean,
                amplitude,
                period,
                peak_at,
            } => {
                let k = std::f64::consts::TAU / period;
                let integral = |t: f64| mean * t + amplitude / k * (k * (t - peak_at)).sin();
                (integral(to) - integral(from)) / 1e9
            }
        }
    }

    /// The rate just before `t` (the left limit at a jump).
    pub(crate) fn rate_at_before(&self, t: f64) -> f64 {
        match self {
            // After the last point before t.
            Profile::Points(points) => linear(points, points.partition_point(|&(at, _)| at < t), t),
            Profile::Diurnal { .. } => self.rate_at(t),
        }
    }
}

impl Profile {
    /// As a number of users: the level at the start (the value rounded to
    /// the nearest) and every change after it, `(nanoseconds, users)` in
    /// time order: at each jump, and on a slope at each time the value
    /// crosses a half (2.5 going up makes 3, going down 2). A cosine has
    /// none (a population cannot follow one).
    pub fn population_levels(&self) -> (u32, Vec<(f64, u32)>) {
        let Profile::Points(points) = self else {
            return (self.rate_at(0.0).round() as u32, Vec::new());
        };
        let level = |v: f64| v.round().max(0.0) as u32;
        let mut now = level(self.rate_at(0.0));
        let start = now;
        let mut changes = Vec::new();
        for w in points.windows(2) {
            let ((t0, v0), (t1, v1)) = (w[0], w[1]);
            if t1 <= t0 {
                // A jump.
                if level(v1) != now {
                    now = level(v1);
                    changes.push((t1, now));
                }
                continue;
            }
            // Crossing halves between v0 and v1, in order.
            let at = |v: f64| t0 + (v - v0) / (v1 - v0) * (t1 - t0);
            while level(v1) != now {
                let (half, next) = if v1 > f64::from(now) {
                    (f64::from(now) + 0.5, now + 1)
                } else {
                    (f64::from(now) - 0.5, now - 1)
                };
                now = next;
                changes.push((at(half).max(t0), now));
            }
        }
        (start, changes)
    }
}

/// The rate at `t` on `points`, the first `i` of which are at or before it
/// (`i` = 0: before the first, which holds; after the last, it holds).
fn linear(points: &[(f64, f64)], i: usize, t: f64) -> f64 {
    if i == 0 {
        return points.first().map_or(0.0, |p| p.1);
    }
    let (t0, r0) = points[i - 1];
    match points.get(i) {
        Some(&(t1, r1)) if t1 > t0 => r0 + (r1 - r0) * (t - t0) / (t1 - t0),
        _ => r0,
    }
}

/// Open or closed load.
#[derive(Clone, Debug, PartialEq)]
pub enum Load {
    /// Requests arrive from outside at `rate` per second.
    Open {
        /// Inter-arrival law.
        process: ArrivalProcess,
        /// Arrivals per second; with a profile, its peak (what the checks of
        /// overload judge).
        rate: f64,
        /// How the rate changes over the run, if it does.
        profile: Option<Profile>,
    },
    /// A fixed `population` of users, each thinking, then sending a request
    /// and waiting for it to complete, and again.
    Closed {
        /// Number of users (with a profile, the most at any time).
        population: u32,
        /// Think time between a completion and the user's next request.
        think: Option<Dist>,
        /// If the number of users changes over the run: it as a function
        /// of time (the profile's value, rounded to the nearest user).
        /// Users join thinking; users leave when they next act (finish a
        /// request or their think time).
        profile: Option<Profile>,
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
    /// How long its client waits for a request to complete, counted from
    /// its arrival, before giving up: the request is then `timed_out` for
    /// its class, and its callees see the deadline (see [`Timeout`]).
    pub deadline: Option<Timeout>,
    /// A token bucket its requests pass on arrival, before their entry.
    pub rate_limit: Option<RateLimit>,
}

/// How a waiting line sheds load (see `engine/shed.rs`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shedding {
    /// CoDel's queueing-delay target.
    pub codel: Option<Codel>,
    /// Serve the newest first while more than this many wait.
    pub lifo_above: Option<u32>,
}

/// CoDel: once the wait at the head has stayed at or above `target` for
/// `interval`, requests that waited `target` or more are dropped there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Codel {
    /// Nanoseconds.
    pub target: f64,
    /// Nanoseconds.
    pub interval: f64,
}

/// A token bucket: `rate` tokens per second, at most `burst` kept; a
/// request takes one. What finds none is rejected or, with `delay`, waits
/// for its token (a traffic shaper). As the generic cell rate algorithm:
/// in any window of length t at most `burst + rate·t` pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Tokens per second.
    pub rate: f64,
    /// Tokens kept at most (at least 1).
    pub burst: u32,
    /// Wait for a token instead of being rejected.
    pub delay: bool,
}

/// Something that breaks for a while during a run: once, at `at`, or again
/// and again (`every`), so that availability can be estimated.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// The stations it strikes together (a replica's, or a whole
    /// service's).
    pub stations: Vec<StationId>,
    /// What it does to them.
    pub effect: Effect,
    /// When it first strikes, in nanoseconds since the start of the run.
    pub at: f64,
    /// How long each occurrence lasts (nanoseconds; the time to repair).
    pub lasts: Dist,
    /// If it repeats: the time from the end of one occurrence to the start
    /// of the next (nanoseconds; the time between failures).
    pub every: Option<Dist>,
}

/// What a [`Fault`] does while it lasts.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// The stations stop: the requests there (waiting, in service, or
    /// awaiting a call made from there) fail with an error, and so does
    /// every request that arrives, until the fault ends. The balancers
    /// sending to them, `(balancer, target index)`, stop only `detect`
    /// nanoseconds after the crash (their health checks), and send again
    /// when it ends.
    Crash {
        /// Nanoseconds until the balancers notice.
        detect: f64,
        /// The balancer entries that send to the crashed stations.
        targets: Vec<(StationId, u32)>,
    },
    /// The stations work `factor` times slower (work sampled `factor` times
    /// longer at a FIFO station; processor sharing at `1 / factor` speed).
    Slow {
        /// At least 1 to slow down (between 0 and 1 speeds up).
        factor: f64,
    },
    /// Each visit to the stations fails with this probability, in place of
    /// their own.
    Errors {
        /// Between 0 and 1.
        probability: f64,
    },
}

/// An autoscaler over a replicated service's replicas, following the
/// Kubernetes horizontal pod autoscaler: every `interval` it measures
/// `metric` on the replicas ready, and asks for `ceil(sum / target)`
/// replicas (between `min` and `max`), unless the mean is within
/// `tolerance` of the target; it scales in only to the highest
/// recommendation of the last `scale_in_after` nanoseconds. A replica
/// asked for takes `provision` then `warmup` nanoseconds before it is
/// ready (billed from the ask); the balancers send only to ready replicas.
/// A replica scaled in is sent nothing more, finishes what it holds, and
/// is no longer billed.
#[derive(Clone, Debug, PartialEq)]
pub struct Autoscaler {
    /// What it measures on each ready replica.
    pub metric: ScaleMetric,
    /// The value of `metric` per replica it aims at (a fraction for `Cpu`
    /// and `Workers`, requests for `QueuePerReplica`, requests per second
    /// for `RpsPerReplica`).
    pub target: f64,
    /// Fewest replicas asked for (at least 1).
    pub min: u32,
    /// Replicas ready at the start of the run, between `min` and the
    /// number of replicas.
    pub initial: u32,
    /// Nanoseconds between two evaluations.
    pub interval: f64,
    /// Nanoseconds from the ask until the replica runs.
    pub provision: f64,
    /// Nanoseconds from running until ready (taking traffic).
    pub warmup: f64,
    /// Nanoseconds of recommendations a scale-in looks back over.
    pub scale_in_after: f64,
    /// Relative distance from the target within which nothing changes
    /// (Kubernetes: 0.1).
    pub tolerance: f64,
    /// Every replica it may run (their number is its most), added in this
    /// order and removed in the reverse order.
    pub replicas: Vec<ScaledReplica>,
    /// Queues feeding the service: each has, as its slots, the workers of
    /// the replicas ready, and its line counts for `QueuePerReplica`.
    pub queues: Vec<StationId>,
}

/// A replica an [`Autoscaler`] adds and removes.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaledReplica {
    /// Its CPU (the `Cpu` metric).
    pub cpu: StationId,
    /// Its first station: its workers (`Workers`), their line
    /// (`QueuePerReplica`), its arrivals (`RpsPerReplica`).
    pub head: StationId,
    /// The balancer entries that send to it, `(balancer, target index)`.
    pub targets: Vec<(StationId, u32)>,
    /// The slots it adds to each of the autoscaler's queues when ready.
    pub workers: u32,
}

/// What an [`Autoscaler`] measures on each ready replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScaleMetric {
    /// The share of its cores busy over the last interval.
    Cpu,
    /// The share of its workers held over the last interval.
    Workers,
    /// Requests waiting (in the queues feeding the service, and for the
    /// replicas' workers) per ready replica, at the evaluation.
    QueuePerReplica,
    /// Requests it received per second over the last interval.
    RpsPerReplica,
}

/// A complete model: stations and the classes that load them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Topology {
    /// All stations, in the order of the user's file.
    pub stations: Vec<Station>,
    /// All classes, in the order of the user's file.
    pub classes: Vec<Class>,
    /// What breaks during a run.
    pub faults: Vec<Fault>,
    /// Autoscalers, each over its own replicas.
    pub autoscalers: Vec<Autoscaler>,
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
    /// The most requests the run may hold at once: past it, an overloaded
    /// system would only grow until memory runs out, so the run stops
    /// early and says why ([`crate::stats::Stop::InSystem`]).
    pub max_in_system: u64,
}

impl RunConfig {
    /// The default of [`RunConfig::max_in_system`]: a million requests,
    /// about 90 MB (measured: 95 MB peak for a run stopped there, against
    /// 6 MB for one stopped at a thousand).
    pub const MAX_IN_SYSTEM: u64 = 1_000_000;

    /// A run of `duration` after `warmup`, without a time series, with the
    /// default limit on requests held.
    pub fn new(warmup: SimTime, duration: SimTime) -> RunConfig {
        RunConfig {
            warmup,
            duration,
            window: None,
            max_in_system: RunConfig::MAX_IN_SYSTEM,
        }
    }
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
    /// A rate profile with unsorted or negative times, a negative rate, a
    /// peak that is not its class's `rate`, or a diurnal amplitude above its
    /// mean.
    BadProfile(ClassId),
    /// A fault on no station or an unknown one, a negative time, a slowdown
    /// factor that is not positive, an error probability outside [0, 1], or
    /// a crash's balancer entry that is not one.
    BadFault(usize),
    /// An autoscaler with no replica or an unknown station, `min` or
    /// `initial` out of order, a target, interval or tolerance that is not
    /// positive, a delay that is negative, or a replica shared with
    /// another autoscaler.
    BadAutoscaler(usize),
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
    /// A timeout on a send, a retry policy with no attempt, a backoff or
    /// budget out of range, a hedge on a parallel call or with a bad delay.
    BadResilience(StationId),
    /// A class deadline that can be zero or negative, or a bad rate limit.
    BadDeadline(ClassId),
    /// A rate limit with a rate that is not positive and finite, or no
    /// burst; shedding on a line that is not FIFO, or with a bad target.
    BadRateLimit(StationId),
    /// An error probability outside `[0, 1]`.
    BadError(StationId),
    /// A follower whose leader is not a leader, or a leader with an empty
    /// catalogue.
    BadReplication(StationId),
    /// A garbage collector on a queue that is not processor sharing, or
    /// with a heap, allocation or pause that is not positive and finite.
    BadGc(StationId),
    /// A cache with a hit ratio outside `[0, 1]`, an empty catalogue or no
    /// capacity, a batch or interval of zero, or not one operation per class.
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
            ModelError::BadFault(i) => write!(
                f,
                "fault #{i} is bad (no or unknown stations, a negative time, a factor that is not positive, a probability outside [0, 1], or a balancer entry that is not one)"
            ),
            ModelError::BadAutoscaler(i) => write!(
                f,
                "autoscaler #{i} is bad (no replica or an unknown station, min or initial out of order, a target, interval or tolerance that is not positive, a negative delay, or a replica shared with another autoscaler)"
            ),
            ModelError::BadProfile(c) => write!(
                f,
                "class #{} has a bad rate profile (unsorted or negative times, a negative rate, a peak other than its rate, or an amplitude above its mean)",
                c.0
            ),
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
                "load balancer #{} has a session policy without sessions, bad sessions, a key policy without keys (or a range over more shards than keys), or a bad downtime",
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
                "cache #{} has a bad hit ratio, catalogue, capacity, flush or operations",
                s.0
            ),
            ModelError::CallCycle(s) => {
                write!(f, "call point #{} is reached again by its own callees", s.0)
            }
            ModelError::BadResilience(s) => write!(
                f,
                "call point #{} has a timeout on a send, a retry without attempts, or a backoff or budget out of range",
                s.0
            ),
            ModelError::BadDeadline(c) => write!(
                f,
                "class #{} has a deadline that is not positive, or a bad rate limit",
                c.0
            ),
            ModelError::BadRateLimit(s) => write!(
                f,
                "station #{} has a rate limit without a positive rate or burst, or bad load shedding",
                s.0
            ),
            ModelError::Empty => write!(f, "nothing to simulate"),
        }
    }
}

impl std::error::Error for ModelError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A population's levels: at each jump, and where a slope crosses a
    /// half (up: 0.5 makes 1; down: 2.5 makes 2).
    #[test]
    fn a_population_changes_where_its_profile_crosses_halves() {
        let ramp = Profile::Points(vec![(0.0, 0.0), (3.0, 3.0), (6.0, 0.0)]);
        let (start, changes) = ramp.population_levels();
        assert_eq!(start, 0);
        assert_eq!(
            changes,
            vec![(0.5, 1), (1.5, 2), (2.5, 3), (3.5, 2), (4.5, 1), (5.5, 0)]
        );
        let steps = Profile::Points(vec![
            (0.0, 4.0),
            (5.0, 4.0),
            (5.0, 9.0),
            (7.0, 9.0),
            (7.0, 9.0),
        ]);
        assert_eq!(steps.population_levels(), (4, vec![(5.0, 9)]));
    }
}
