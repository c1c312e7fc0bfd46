//! The event loop: pop the earliest event, apply it, update the statistics.
//!
//! Events form a closed enum, so every trigger is visible in one `match`.
//! Requests live in a slab and move between stations by index; a visit costs
//! one scheduled event (its departure) plus the arrival's own event for the
//! first visit. Statistics are updated in place as the state changes, as
//! time-weighted areas and sums, so memory does not grow with the run.

use std::collections::{BinaryHeap, VecDeque};

use crate::cache::{CacheState, Outcome, ReplicaState};
use crate::dist::Dist;
use crate::model::{
    ArrivalProcess, Discipline, Dispatch, Downtime, Gc, Load, ModelError, Op, Policy, Popularity,
    Replication, RunConfig, Topology, WritePolicy,
};
use crate::queue::EventQueue;
use crate::rng::{Stream, derive, name_key};
use crate::stats::{CacheStats, ClassStats, RunStats, StationStats, Window};
use crate::time::{SimTime, nanos_from_f64};

/// Runs one replication of `topology` with the given seed.
///
/// The result is a pure function of `(topology, config, seed)`.
///
/// ```
/// use chokepoint_core::{dist::Dist, model::*, time::SimTime};
///
/// // An M/M/1 queue at utilisation 0.5: the mean response time is 2 s.
/// let topology = Topology {
///     stations: vec![Station::new(
///         "server",
///         1,
///         Discipline::Fifo,
///         vec![Some(Behaviour { work: Dist::exp(1e9).unwrap(), routing: Routing::exit() })],
///     )],
///     classes: vec![Class {
///         name: "jobs".into(),
///         load: Load::Open { process: ArrivalProcess::Poisson, rate: 0.5 },
///         entry: StationId(0),
///         priority: 0,
///     }],
/// };
/// let config = RunConfig { window: None, warmup: SimTime::from_secs_f64(1e3), duration: SimTime::from_secs_f64(1e5) };
/// let stats = chokepoint_core::run(&topology, &config, 1).unwrap();
/// let mean = stats.classes[0].mean_latency();
/// assert!((mean - 2.0).abs() < 0.2, "{mean}");
/// ```
pub fn run(topology: &Topology, config: &RunConfig, seed: u64) -> Result<RunStats, ModelError> {
    topology.validate()?;
    let mut engine = Engine::new(topology, seed);
    Ok(engine.run(config))
}

#[derive(Clone, Copy, Debug)]
enum Event {
    /// The next external arrival of an open class.
    Arrival { class: u32 },
    /// A request finishes its service at a non-PS station.
    Departure { req: u32 },
    /// The earliest PS job at `station` finishes, unless `generation` is stale.
    PsDeparture { station: u32, generation: u32 },
    /// A closed-class user finishes thinking and sends a request.
    ThinkEnd { class: u32 },
    /// A write-back cache writes its oldest dirty entries to its backing store.
    Flush { station: u32 },
    /// A window of the time series ends.
    Sample,
    /// A garbage collection pause at `station` ends.
    GcEnd { station: u32 },
    /// Measurement starts: statistics are reset.
    WarmupEnd,
    /// Measurement ends.
    End,
}

#[derive(Clone, Copy, Debug)]
struct Request {
    class: u32,
    station: u32,
    /// When the request entered the system.
    born: u64,
    /// When it arrived at its current station.
    at_station: u64,
    /// When its service started at its current station.
    started: u64,
    /// Its work at its current station (PS only), in nanoseconds.
    work: f64,
    /// When it started waiting for an admission slot.
    since: u64,
    /// Head of the list of admission slots it holds, in [`Engine::holds`].
    holds: u32,
    /// Top of its call stack, in [`Engine::frames`].
    top: u32,
    /// For a request forked by a parallel call: the frame of the call that
    /// awaits its reply, and that frame's id (the frame may be gone).
    join: u32,
    join_id: u64,
    /// Work it brings to its next service instead of the station's own
    /// (a payload to transfer), when not negative.
    brings: f64,
    /// The key a cache's miss or write carries to its backing store, for a
    /// replicated database there ([`NONE`]: none; it then draws its own).
    key: u32,
}

/// No slot, frame or request.
const NONE: u32 = u32::MAX;
/// In [`Request::join`]: a message sent without awaiting a reply.
const DETACHED: u32 = u32::MAX - 1;

impl Request {
    fn new(class: u32, station: u32, born: u64) -> Request {
        Request {
            class,
            station,
            born,
            at_station: 0,
            started: 0,
            work: 0.0,
            since: 0,
            holds: NONE,
            top: NONE,
            join: NONE,
            join_id: 0,
            brings: -1.0,
            key: NONE,
        }
    }
}

/// A vector whose freed entries are reused.
struct Slab<T> {
    items: Vec<T>,
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    fn alloc(&mut self, item: T) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.items[i as usize] = item;
                i
            }
            None => {
                self.items.push(item);
                (self.items.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, i: u32) {
        self.free.push(i);
    }
}

impl<T> std::ops::Index<u32> for Slab<T> {
    type Output = T;
    fn index(&self, i: u32) -> &T {
        &self.items[i as usize]
    }
}

impl<T> std::ops::IndexMut<u32> for Slab<T> {
    fn index_mut(&mut self, i: u32) -> &mut T {
        &mut self.items[i as usize]
    }
}

/// One admission slot a request holds, in a linked list per request.
#[derive(Clone, Copy, Debug)]
struct Hold {
    /// The station whose pool the slot belongs to.
    owner: u32,
    next: u32,
}

/// A call in progress: on the caller's stack until the replies arrive.
#[derive(Clone, Copy, Debug)]
struct Frame {
    /// The frame below, on the same stack.
    below: u32,
    /// The call point.
    station: u32,
    /// The calling request.
    owner: u32,
    /// Replies still awaited.
    awaiting: u32,
    /// When the call was made.
    started: u64,
    /// Unique among live frames; 0 once the frame is freed.
    id: u64,
}

/// Why a request ends without completing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// A full station turned it away.
    Dropped,
    /// A callee replied with an error.
    Error,
}

/// A call point's targets and its random stream.
struct CallState {
    targets: Vec<u32>,
    wait: u32,
    /// Per class.
    probability: Vec<f64>,
    /// Work each request sent brings to its target, or −1.
    work: f64,
    stream: Stream,
}

/// An admission pool's state: free slots and the requests waiting for one.
struct AdmissionState {
    slots: u32,
    free: u32,
    /// Most requests waiting.
    limit: usize,
    waiting: VecDeque<u32>,
    /// Last time its areas were brought up to date.
    last: u64,
    /// For a pool of connections: how they are opened and kept.
    connections: Option<ConnectionState>,
}

/// A garbage-collected heap.
struct GcState {
    spec: Gc,
    /// Bytes allocated since the last collection.
    allocated: f64,
}

/// A connection pool's idle connections.
struct ConnectionState {
    connect: f64,
    idle_timeout: u64,
    reuse: bool,
    /// When each idle connection was released, most recent last.
    idle: Vec<u64>,
}

impl ConnectionState {
    /// Takes the most recently released idle connection still open; false
    /// when a new one must be opened. Connections idle for longer than the
    /// timeout are closed (all of them below one that is: they are older).
    fn take(&mut self, now: u64) -> bool {
        match self.idle.pop() {
            Some(released) if now - released <= self.idle_timeout => true,
            Some(_) => {
                self.idle.clear();
                false
            }
            None => false,
        }
    }
}

impl AdmissionState {
    /// Adds the slot areas since the last change, up to `now`.
    fn advance(&mut self, now: u64, stats: &mut StationStats) {
        let dt = (now - self.last) as f64;
        stats.slots_area += f64::from(self.slots - self.free) * dt;
        stats.slot_queue_area += self.waiting.len() as f64 * dt;
        self.last = now;
    }
}

/// Requests waiting for a server.
enum WaitQueue {
    Fifo(VecDeque<u32>),
    Lifo(Vec<u32>),
    /// One FIFO per priority rank, rank 0 served first.
    Priority(Vec<VecDeque<u32>>),
    /// Processor sharing has no waiting line.
    None,
}

impl WaitQueue {
    #[inline]
    fn push(&mut self, req: u32, rank: usize) {
        match self {
            WaitQueue::Fifo(q) => q.push_back(req),
            WaitQueue::Lifo(q) => q.push(req),
            WaitQueue::Priority(qs) => qs[rank].push_back(req),
            WaitQueue::None => unreachable!("PS stations never queue"),
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<u32> {
        match self {
            WaitQueue::Fifo(q) => q.pop_front(),
            WaitQueue::Lifo(q) => q.pop(),
            WaitQueue::Priority(qs) => qs.iter_mut().find_map(|q| q.pop_front()),
            WaitQueue::None => None,
        }
    }
}

/// A job in a processor-sharing station, keyed by the virtual time at which
/// its work is done.
#[derive(Clone, Copy, Debug)]
struct PsJob {
    finish: f64,
    seq: u64,
    req: u32,
}
impl PartialEq for PsJob {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for PsJob {}
impl PartialOrd for PsJob {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PsJob {
    // Reversed for a min-heap on (finish, seq).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other
            .finish
            .total_cmp(&self.finish)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// Exact processor sharing by virtual time: `vtime` is the work each present
/// job has received since the station was created; it grows at rate
/// `min(1, c/n)`. A job arriving with work `w` finishes when `vtime` reaches
/// `vtime_at_arrival + w`, so the next departure is always the heap's minimum.
#[derive(Default)]
struct Ps {
    vtime: f64,
    last: u64,
    jobs: BinaryHeap<PsJob>,
    generation: u32,
    seq: u64,
}

/// A load balancer's state: its policy, targets, turn and random stream.
struct Balancer {
    policy: Policy,
    targets: Vec<u32>,
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
    down: Vec<Downtime>,
}

/// Points per target on a consistent-hashing ring.
const RING_POINTS: u64 = 100;

impl Balancer {
    fn new(d: &Dispatch, stream: Stream) -> Balancer {
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
            down: d.down.clone(),
        }
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

struct StationState {
    /// Set for a load balancer, which passes requests on in zero time.
    balancer: Option<Balancer>,
    /// Set when requests need a slot to enter.
    admission: Option<AdmissionState>,
    /// Set for a call point.
    call: Option<CallState>,
    /// Set for a cache: its entries and counts.
    cache: Option<Box<CacheState>>,
    /// Set for a CPU with a garbage collector: its heap.
    gc: Option<Box<GcState>>,
    /// Set for a replicated database's leader or follower.
    replica: Option<Box<ReplicaState>>,
    /// A garbage collection pause: processor sharing makes no progress.
    paused: bool,
    /// The probability that a visit ends in an error, and its stream.
    error: f64,
    fail_stream: Stream,
    /// The stations whose slots are given back after a visit here.
    releases: Vec<u32>,
    servers: u32,
    capacity: u32,
    is_ps: bool,
    /// Requests present.
    n: u32,
    /// Servers busy.
    busy: u32,
    queue: WaitQueue,
    ps: Ps,
    /// Last time the areas were brought up to date.
    last: u64,
    stats: StationStats,
}

impl StationState {
    /// What a balancer compares: the requests this target holds a slot for
    /// and those waiting for one when it has an admission pool (a replica's
    /// workers: requests anywhere in the replica), else those present.
    fn load(&self) -> u32 {
        match &self.admission {
            Some(a) => a.slots - a.free + a.waiting.len() as u32,
            None => self.n,
        }
    }

    /// Adds the areas since the last change, up to `now`.
    #[inline]
    fn advance(&mut self, now: u64) {
        let dt = (now - self.last) as f64;
        if dt > 0.0 {
            self.stats.system_area += f64::from(self.n) * dt;
            self.stats.busy_area += f64::from(self.busy) * dt;
            self.stats.queue_area += f64::from(self.n - self.busy) * dt;
            self.last = now;
        }
    }

    #[inline]
    fn ps_rate(&self) -> f64 {
        if self.paused {
            0.0
        } else if self.n <= self.servers {
            1.0
        } else {
            f64::from(self.servers) / f64::from(self.n)
        }
    }

    /// Brings the PS virtual time up to `now` (before `n` changes).
    #[inline]
    fn ps_update(&mut self, now: u64) {
        let dt = (now - self.ps.last) as f64;
        self.ps.vtime += dt * self.ps_rate();
        self.ps.last = now;
    }
}

/// What a station does to one class, with that pair's own random streams.
struct Lane {
    work: Dist,
    /// Cumulative probabilities and destinations.
    next: Vec<(f64, u32)>,
    work_stream: Stream,
    route_stream: Stream,
}

impl Lane {
    /// Picks the next station, or `None` to leave.
    #[inline]
    fn route(&mut self) -> Option<u32> {
        match self.next.as_slice() {
            [] => None,
            [(p, to)] if *p >= 1.0 => Some(*to),
            next => {
                let u = self.route_stream.uniform();
                next.iter().find(|&&(cum, _)| u < cum).map(|&(_, to)| to)
            }
        }
    }
}

struct ClassState {
    load: Load,
    entry: u32,
    rank: usize,
    arrival_stream: Stream,
    think_stream: Stream,
    /// Exact (unrounded) time of the next open arrival, in nanoseconds.
    next_arrival: f64,
    stats: ClassStats,
}

/// The station is a load balancer or has an admission pool.
const SPECIAL_ARRIVAL: u8 = 1;
/// Some admission slots are given back after a visit at the station.
const RELEASES: u8 = 2;
/// Visits at the station may end in an error.
const FAILS: u8 = 4;
/// The station is a cache: a visit ends with a lookup.
const LOOKUP: u8 = 8;
/// The station's requests allocate on a garbage-collected heap.
const ALLOCATES: u8 = 16;
/// Visits at the station are replicated writes or replica reads.
const REPLICATES: u8 = 32;

struct Engine {
    now: u64,
    events: EventQueue<Event>,
    n_events: u64,
    requests: Vec<Request>,
    free: Vec<u32>,
    holds: Slab<Hold>,
    frames: Slab<Frame>,
    /// The id of the next frame.
    frame_ids: u64,
    /// Messages refused or failed so far (a send compares it before and
    /// after handing over its messages).
    refused: u64,
    stations: Vec<StationState>,
    classes: Vec<ClassState>,
    /// Indexed by `station * n_classes + class`; `None` where the class never goes.
    lanes: Vec<Option<Lane>>,
    /// Per station, [`SPECIAL_ARRIVAL`] and [`RELEASES`] bits, kept apart
    /// from the station states so the common case reads one dense byte.
    flags: Vec<u8>,
    n_classes: usize,
    /// The time series: windows so far, the running totals at the last
    /// sample, and the totals counted before the warm-up's reset.
    series: Vec<Window>,
    sampled: Window,
    before_reset: Window,
}

impl Engine {
    fn new(topology: &Topology, seed: u64) -> Engine {
        let n_classes = topology.classes.len();
        // Distinct priorities, ascending: a class's rank is its index here.
        let mut priorities: Vec<i64> = topology.classes.iter().map(|c| c.priority).collect();
        priorities.sort_unstable();
        priorities.dedup();

        let stations = topology
            .stations
            .iter()
            .map(|s| StationState {
                balancer: s.dispatch.as_ref().map(|d| {
                    Balancer::new(
                        d,
                        Stream::new(derive(seed, &[name_key("balance"), name_key(&s.name)])),
                    )
                }),
                admission: s.admission.as_ref().map(|a| AdmissionState {
                    slots: a.slots,
                    free: a.slots,
                    limit: a.waiting_limit.map_or(usize::MAX, |l| l as usize),
                    waiting: VecDeque::new(),
                    last: 0,
                    connections: a.connections.map(|c| ConnectionState {
                        connect: c.connect,
                        idle_timeout: c.idle_timeout.map_or(u64::MAX, |t| t.0),
                        reuse: c.reuse,
                        idle: Vec::new(),
                    }),
                }),
                call: s.call.as_ref().map(|c| CallState {
                    targets: c.targets.iter().map(|t| t.0).collect(),
                    wait: c.wait,
                    probability: c.probability.clone(),
                    work: c.work.unwrap_or(-1.0),
                    stream: Stream::new(derive(seed, &[name_key("call"), name_key(&s.name)])),
                }),
                cache: s.cache.as_ref().map(|c| {
                    Box::new(CacheState::new(
                        c,
                        Stream::new(derive(seed, &[name_key("keys"), name_key(&s.name)])),
                    ))
                }),
                gc: s.gc.as_ref().map(|g| {
                    Box::new(GcState {
                        spec: g.clone(),
                        allocated: 0.0,
                    })
                }),
                paused: false,
                replica: s.replication.as_ref().map(|r| {
                    let stream = |what: &str| {
                        Stream::new(derive(seed, &[name_key(what), name_key(&s.name)]))
                    };
                    Box::new(match r {
                        Replication::Leader { keys, lag } => {
                            ReplicaState::leader(*keys, lag.clone(), stream("keys"), stream("lag"))
                        }
                        Replication::Follower { leader } => {
                            let keys = match &topology.stations[leader.idx()].replication {
                                Some(Replication::Leader { keys, .. }) => *keys,
                                _ => Popularity {
                                    count: 1,
                                    zipf: 0.0,
                                },
                            };
                            ReplicaState::follower(leader.0, keys, stream("keys"))
                        }
                    })
                }),
                error: s.error,
                fail_stream: Stream::new(derive(seed, &[name_key("error"), name_key(&s.name)])),
                releases: Vec::new(),
                servers: s.servers,
                capacity: s.capacity.unwrap_or(u32::MAX),
                is_ps: s.discipline == Discipline::Ps,
                n: 0,
                busy: 0,
                queue: match s.discipline {
                    Discipline::Fifo => WaitQueue::Fifo(VecDeque::new()),
                    Discipline::Lifo => WaitQueue::Lifo(Vec::new()),
                    Discipline::Priority => WaitQueue::Priority(
                        (0..priorities.len()).map(|_| VecDeque::new()).collect(),
                    ),
                    Discipline::Ps => WaitQueue::None,
                },
                ps: Ps::default(),
                last: 0,
                stats: StationStats {
                    name: s.name.clone(),
                    servers: s.servers,
                    slots: s.admission.as_ref().map_or(0, |a| a.slots),
                    ..StationStats::default()
                },
            })
            .collect();

        let mut stations: Vec<StationState> = stations;
        for (owner, s) in topology.stations.iter().enumerate() {
            for r in s.admission.iter().flat_map(|a| &a.release_at) {
                stations[r.idx()].releases.push(owner as u32);
            }
        }

        let flags = stations
            .iter()
            .map(|s| {
                let special = s.balancer.is_some() || s.admission.is_some() || s.call.is_some();
                u8::from(special) * SPECIAL_ARRIVAL
                    + u8::from(!s.releases.is_empty()) * RELEASES
                    + u8::from(s.error > 0.0) * FAILS
                    + u8::from(s.cache.is_some()) * LOOKUP
                    + u8::from(s.gc.is_some()) * ALLOCATES
                    + u8::from(s.replica.is_some()) * REPLICATES
            })
            .collect();

        let mut lanes = Vec::with_capacity(topology.stations.len() * n_classes);
        for station in &topology.stations {
            let skey = name_key(&station.name);
            for (ci, class) in topology.classes.iter().enumerate() {
                let ckey = name_key(&class.name);
                lanes.push(station.behaviour.get(ci).and_then(|b| b.as_ref()).map(|b| {
                    let mut cum = 0.0;
                    let next = b
                        .routing
                        .next
                        .iter()
                        .map(|&(to, p)| {
                            cum += p;
                            (cum, to.0)
                        })
                        .collect();
                    Lane {
                        work: b.work.clone(),
                        next,
                        work_stream: Stream::new(derive(seed, &[name_key("work"), skey, ckey])),
                        route_stream: Stream::new(derive(seed, &[name_key("route"), skey, ckey])),
                    }
                }));
            }
        }

        let classes = topology
            .classes
            .iter()
            .map(|c| {
                let ckey = name_key(&c.name);
                ClassState {
                    load: c.load.clone(),
                    entry: c.entry.0,
                    rank: priorities.binary_search(&c.priority).unwrap_or(0),
                    arrival_stream: Stream::new(derive(seed, &[name_key("arrival"), ckey])),
                    think_stream: Stream::new(derive(seed, &[name_key("think"), ckey])),
                    next_arrival: 0.0,
                    stats: ClassStats::new(&c.name),
                }
            })
            .collect();

        Engine {
            now: 0,
            events: EventQueue::default(),
            n_events: 0,
            requests: Vec::new(),
            free: Vec::new(),
            holds: Slab::default(),
            frames: Slab::default(),
            frame_ids: 0,
            refused: 0,
            stations,
            classes,
            lanes,
            flags,
            n_classes,
            series: Vec::new(),
            sampled: Window::default(),
            before_reset: Window::default(),
        }
    }

    fn run(&mut self, config: &RunConfig) -> RunStats {
        let end = config.warmup.0.saturating_add(config.duration.0);
        if config.warmup.0 > 0 {
            self.events.push(config.warmup, Event::WarmupEnd);
        }
        self.events.push(SimTime(end), Event::End);
        if let Some(window) = config.window.filter(|w| w.0 > 0) {
            self.sampled = self.totals();
            self.before_reset = Window {
                end: SimTime::ZERO,
                ..self.sampled.clone()
            };
            if window.0 < end {
                self.events.push(window, Event::Sample);
            }
        }
        for (si, s) in self.stations.iter().enumerate() {
            if let Some(WritePolicy::WriteBack { interval, .. }) =
                s.cache.as_ref().map(|c| c.write_policy)
            {
                self.events
                    .push(interval, Event::Flush { station: si as u32 });
            }
        }

        for ci in 0..self.classes.len() {
            match self.classes[ci].load {
                Load::Open { .. } => self.schedule_arrival(ci),
                Load::Closed { population, .. } => {
                    for _ in 0..population {
                        self.start_thinking(ci);
                    }
                }
            }
        }

        while let Some((time, event)) = self.events.pop() {
            self.now = time.0;
            match event {
                Event::Arrival { class } => {
                    self.n_events += 1;
                    self.schedule_arrival(class as usize);
                    self.new_request(class as usize);
                }
                Event::Departure { req } => {
                    self.n_events += 1;
                    self.depart(req);
                }
                Event::PsDeparture {
                    station,
                    generation,
                } => {
                    if self.stations[station as usize].ps.generation == generation {
                        self.n_events += 1;
                        self.ps_depart(station as usize);
                    }
                }
                Event::ThinkEnd { class } => {
                    self.n_events += 1;
                    self.new_request(class as usize);
                }
                Event::Flush { station } => {
                    self.n_events += 1;
                    self.flush(station as usize);
                }
                Event::Sample => {
                    // Bookkeeping, not counted: the events a run reports do
                    // not depend on whether a series is recorded.
                    self.sample();
                    let window = config.window.map_or(u64::MAX, |w| w.0);
                    let next = self.now.saturating_add(window);
                    if next < end {
                        self.events.push(SimTime(next), Event::Sample);
                    }
                }
                Event::GcEnd { station } => {
                    self.n_events += 1;
                    self.gc_end(station as usize);
                }
                Event::WarmupEnd => {
                    self.n_events += 1;
                    self.reset_stats();
                }
                Event::End => {
                    self.n_events += 1;
                    if config.window.is_some_and(|w| w.0 > 0) && self.now > self.sampled.end.0 {
                        self.sample();
                    }
                    break;
                }
            }
        }

        let now = self.now;
        for s in &mut self.stations {
            s.advance(now);
            if let Some(a) = s.admission.as_mut() {
                a.advance(now, &mut s.stats);
                s.stats.waiting_end = a.waiting.len() as u64;
            }
            if let Some(c) = s.cache.as_mut() {
                c.advance(now);
                let counts = &c.counts;
                s.stats.cache = Some(CacheStats {
                    hits: counts.hits,
                    misses: counts.misses,
                    writes: counts.writes,
                    flushed: counts.flushed,
                    dirty_area: counts.dirty_area,
                    dirty_max: counts.dirty_max,
                    dirty_end: c.dirty.len() as u64,
                    entries_end: c.entries(),
                });
            }
        }
        RunStats {
            duration: config.duration,
            events: self.n_events,
            classes: self.classes.iter().map(|c| c.stats.clone()).collect(),
            stations: self.stations.iter().map(|s| s.stats.clone()).collect(),
            series: std::mem::take(&mut self.series),
        }
    }

    /// Running totals since the start of the run, now: the counters since
    /// the last reset plus those counted before it.
    fn totals(&self) -> Window {
        let cache = |s: &StationState, f: fn(&crate::cache::Counts) -> u64| {
            s.cache.as_ref().map_or(0, |c| f(&c.counts))
        };
        let mut t = Window {
            end: SimTime(self.now),
            length: SimTime::ZERO,
            completed: self.classes.iter().map(|c| c.stats.completed).collect(),
            latency_sum: self.classes.iter().map(|c| c.stats.latency_sum).collect(),
            departures: self.stations.iter().map(|s| s.stats.departures).collect(),
            hits: self.stations.iter().map(|s| cache(s, |c| c.hits)).collect(),
            misses: self
                .stations
                .iter()
                .map(|s| cache(s, |c| c.misses))
                .collect(),
        };
        t.add(&self.before_reset);
        t
    }

    /// Closes the current window of the time series.
    #[cold]
    fn sample(&mut self) {
        let now = self.totals();
        self.series.push(Window::between(&self.sampled, &now));
        self.sampled = now;
    }

    fn reset_stats(&mut self) {
        // Keep the running totals of the time series across the reset.
        self.before_reset = self.totals();
        let now = self.now;
        for s in &mut self.stations {
            s.advance(now);
            s.stats.reset();
            s.last = now;
            if let Some(a) = s.admission.as_mut() {
                a.last = now;
                s.stats.waiting_start = a.waiting.len() as u64;
            }
            if let Some(c) = s.cache.as_mut() {
                c.reset(now);
            }
        }
        for c in &mut self.classes {
            c.stats.reset();
        }
    }

    /// Schedules the next external arrival of open class `ci`.
    fn schedule_arrival(&mut self, ci: usize) {
        let class = &mut self.classes[ci];
        let Load::Open { process, rate } = class.load else {
            return;
        };
        let mean_gap = 1e9 / rate;
        class.next_arrival += match process {
            ArrivalProcess::Poisson => -mean_gap * class.arrival_stream.uniform_open0().ln(),
            ArrivalProcess::Constant => mean_gap,
        };
        let at = nanos_from_f64(class.next_arrival).max(self.now);
        self.events
            .push(SimTime(at), Event::Arrival { class: ci as u32 });
    }

    /// A closed-class user starts thinking (or, without think time, sends at once).
    fn start_thinking(&mut self, ci: usize) {
        let class = &mut self.classes[ci];
        let Load::Closed { ref think, .. } = class.load else {
            return;
        };
        let delay = think
            .as_ref()
            .map_or(0, |d| nanos_from_f64(d.sample(&mut class.think_stream)));
        self.events.push(
            SimTime(self.now.saturating_add(delay)),
            Event::ThinkEnd { class: ci as u32 },
        );
    }

    fn new_request(&mut self, ci: usize) {
        let class = &mut self.classes[ci];
        class.stats.arrived += 1;
        let entry = class.entry;
        let req = self.alloc_request(Request::new(ci as u32, entry, self.now));
        self.arrive(req, entry as usize);
    }

    fn alloc_request(&mut self, request: Request) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.requests[slot as usize] = request;
                slot
            }
            None => {
                self.requests.push(request);
                (self.requests.len() - 1) as u32
            }
        }
    }

    /// A load balancer's choice of target for the next request.
    fn balance(&mut self, si: usize) -> Option<usize> {
        // Taken out for the duration of the choice, which reads the targets.
        let Some(mut b) = self.stations[si].balancer.take() else {
            unreachable!("balance is only called for balancers");
        };
        let pick = self.pick(&mut b);
        let target = pick.map(|p| b.targets[p] as usize);
        self.stations[si].balancer = Some(b);
        target
    }

    /// The index of the target `b` chooses among those up now, if any.
    fn pick(&self, b: &mut Balancer) -> Option<usize> {
        let k = b.targets.len();
        let now = self.now;
        let is_down = |i: usize| {
            b.down
                .iter()
                .any(|w| w.target == i && w.from.0 <= now && now < w.to.0)
        };
        // Only when some target is down are the candidates a subset.
        let up: Option<Vec<usize>> = b
            .down
            .iter()
            .any(|w| w.from.0 <= now && now < w.to.0)
            .then(|| (0..k).filter(|&i| !is_down(i)).collect());
        let n = up.as_ref().map_or(k, Vec::len);
        if n == 0 {
            return None;
        }
        let at = |j: usize| up.as_ref().map_or(j, |u| u[j]);
        let session = matches!(b.policy, Policy::Sticky | Policy::ConsistentHash)
            .then(|| b.draw_session())
            .unwrap_or(0);
        let load = |i: usize| self.stations[b.targets[i] as usize].load();
        Some(match b.policy {
            Policy::RoundRobin => loop {
                let i = b.turn;
                b.turn = (b.turn + 1) % k;
                if up.as_ref().is_none_or(|u| u.contains(&i)) {
                    break i;
                }
            },
            Policy::Random => at(((b.stream.uniform() * n as f64) as usize).min(n - 1)),
            Policy::PowerOfTwo => {
                let first = ((b.stream.uniform() * n as f64) as usize).min(n - 1);
                if n == 1 {
                    at(first)
                } else {
                    // A second, different target: draw among the n − 1 others.
                    let other = ((b.stream.uniform() * (n - 1) as f64) as usize).min(n - 2);
                    let second = if other >= first { other + 1 } else { other };
                    if load(at(second)) < load(at(first)) {
                        at(second)
                    } else {
                        at(first)
                    }
                }
            }
            Policy::LeastConnections => least_loaded(&mut b.stream, (0..n).map(at), load),
            Policy::Sticky => {
                match b.sticky[session] {
                    t if t != NONE && up.as_ref().is_none_or(|u| u.contains(&(t as usize))) => {
                        t as usize
                    }
                    _ => {
                        // A new session (or its target is down): the least
                        // loaded target, from now on.
                        let t = least_loaded(&mut b.stream, (0..n).map(at), load);
                        b.sticky[session] = t as u32;
                        t
                    }
                }
            }
            Policy::ConsistentHash => {
                let h = derive(session as u64, &[name_key("session")]);
                let start = b.ring.partition_point(|&(p, _)| p < h);
                // Clockwise from the session's point to the first target up.
                (0..b.ring.len())
                    .map(|d| b.ring[(start + d) % b.ring.len()].1)
                    .find(|&t| up.as_ref().is_none_or(|u| u.contains(&t)))
                    .unwrap_or(at(0))
            }
        })
    }

    /// `req` arrives at station `si`.
    #[inline]
    fn arrive(&mut self, req: u32, si: usize) {
        if self.flags[si] & SPECIAL_ARRIVAL == 0 {
            self.enter(req, si);
        } else {
            self.arrive_special(req, si);
        }
    }

    /// An arrival at a load balancer or at a station with an admission pool.
    fn arrive_special(&mut self, req: u32, si: usize) {
        let now = self.now;
        let station = &mut self.stations[si];
        if let Some(a) = station.admission.as_mut()
            && !Self::holds_slot(&self.holds, &self.requests[req as usize], si as u32)
        {
            a.advance(now, &mut station.stats);
            if a.free == 0 {
                if a.waiting.len() >= a.limit {
                    station.stats.dropped += 1;
                    self.fail(req, Failure::Dropped);
                    return;
                }
                a.waiting.push_back(req);
                let r = &mut self.requests[req as usize];
                r.station = si as u32;
                r.since = now;
                return;
            }
            a.free -= 1;
            station.stats.admitted += 1;
            self.take_slot(req, si);
        }
        self.admitted(req, si);
    }

    /// `req`, holding whatever slot `si` requires, is dispatched by it (a
    /// load balancer), makes its call, or enters it.
    fn admitted(&mut self, req: u32, si: usize) {
        if self.stations[si].balancer.is_some() {
            let stats = &mut self.stations[si].stats;
            stats.arrivals += 1;
            stats.departures += 1;
            match self.balance(si) {
                Some(target) => self.arrive(req, target),
                None => {
                    // Every target is down.
                    self.stations[si].stats.dropped += 1;
                    self.fail(req, Failure::Dropped);
                }
            }
        } else if self.stations[si].call.is_some() {
            self.call(req, si);
        } else {
            self.enter(req, si);
        }
    }

    /// Whether `r` holds a slot of station `owner`.
    fn holds_slot(holds: &Slab<Hold>, r: &Request, owner: u32) -> bool {
        let mut h = r.holds;
        while h != NONE {
            if holds[h].owner == owner {
                return true;
            }
            h = holds[h].next;
        }
        false
    }

    /// Records that `req` holds a slot of station `owner`; when the slot is
    /// a connection that must be opened, `req` pays the handshake in its
    /// work there.
    fn take_slot(&mut self, req: u32, owner: usize) {
        let now = self.now;
        let r = &mut self.requests[req as usize];
        r.holds = self.holds.alloc(Hold {
            owner: owner as u32,
            next: r.holds,
        });
        let station = &mut self.stations[owner];
        if let Some(c) = station
            .admission
            .as_mut()
            .and_then(|a| a.connections.as_mut())
            && !c.take(now)
        {
            station.stats.connects += 1;
            let lane = self.lanes[owner * self.n_classes + r.class as usize]
                .as_mut()
                .expect("validated: every reachable station has a lane");
            let work = if r.brings >= 0.0 {
                r.brings
            } else {
                lane.work.sample(&mut lane.work_stream)
            };
            r.brings = work + c.connect;
        }
    }

    /// `req` gives back its slot at `owner`; the first request waiting for
    /// one takes it and enters.
    fn give_back(&mut self, req: u32, owner: usize) {
        // Unlink the slot from the request's list.
        let mut prev = NONE;
        let mut h = self.requests[req as usize].holds;
        while h != NONE && self.holds[h].owner != owner as u32 {
            prev = h;
            h = self.holds[h].next;
        }
        if h == NONE {
            return;
        }
        let next = self.holds[h].next;
        if prev == NONE {
            self.requests[req as usize].holds = next;
        } else {
            self.holds[prev].next = next;
        }
        self.holds.release(h);
        let now = self.now;
        let station = &mut self.stations[owner];
        let Some(a) = station.admission.as_mut() else {
            return;
        };
        a.advance(now, &mut station.stats);
        if let Some(c) = a.connections.as_mut()
            && c.reuse
        {
            c.idle.push(now);
        }
        match a.waiting.pop_front() {
            Some(next) => {
                station.stats.admitted += 1;
                station.stats.slot_wait_sum += (now - self.requests[next as usize].since) as f64;
                self.take_slot(next, owner);
                self.admitted(next, owner);
            }
            None => a.free += 1,
        }
    }

    /// Gives back the slots that are released after a visit at `si`.
    #[cold]
    fn give_back_released_at(&mut self, req: u32, si: usize) {
        // Newest slot first (the list is newest first): a replica's worker
        // before the queue slot that led to it, so that whoever the queue
        // admits next finds that worker free.
        loop {
            let mut h = self.requests[req as usize].holds;
            let mut found = None;
            while h != NONE {
                let owner = self.holds[h].owner;
                if self.stations[si].releases.contains(&owner) {
                    found = Some(owner);
                    break;
                }
                h = self.holds[h].next;
            }
            match found {
                Some(owner) => self.give_back(req, owner as usize),
                None => break,
            }
        }
    }

    /// After a visit at a station that gives back slots or fails requests:
    /// true when `req` failed there.
    #[cold]
    #[inline(never)]
    fn after_special(&mut self, req: u32, si: usize) -> bool {
        if self.flags[si] & FAILS != 0 {
            let station = &mut self.stations[si];
            if station.fail_stream.uniform() < station.error {
                station.stats.errors += 1;
                self.fail(req, Failure::Error);
                return true;
            }
        }
        if self.flags[si] & RELEASES != 0 {
            self.give_back_released_at(req, si);
        }
        if self.flags[si] & REPLICATES != 0 {
            let key = std::mem::replace(&mut self.requests[req as usize].key, NONE);
            self.replicate(si, key);
        }
        if self.flags[si] & LOOKUP != 0 {
            let now = self.now;
            let ci = self.requests[req as usize].class as usize;
            let c = self.stations[si]
                .cache
                .as_mut()
                .expect("the LOOKUP flag marks caches");
            let (outcome, key) = c.visit(c.ops[ci], now);
            if outcome == Outcome::Backing {
                let backing = c.backing as usize;
                self.requests[req as usize].key = key;
                self.arrive(req, backing);
                return true;
            }
            self.requests[req as usize].key = NONE;
        }
        false
    }

    /// A visit at `si`, a replicated database's leader (a write) or
    /// follower (a read, stale or not), of the request's `key` (or one drawn
    /// from the catalogue when it carries [`NONE`]).
    fn replicate(&mut self, si: usize, key: u32) {
        let now = self.now;
        let station = &mut self.stations[si];
        let replica = station.replica.as_mut().expect("REPLICATES marks replicas");
        let key = (key != NONE).then_some(key);
        match replica.read_key(key) {
            None => {
                replica.write(now, key);
                station.stats.replicated_writes += 1;
            }
            Some((leader, key)) => {
                station.stats.replica_reads += 1;
                let stale = self.stations[leader as usize]
                    .replica
                    .as_ref()
                    .is_some_and(|l| l.stale(key, now));
                if stale {
                    self.stations[si].stats.stale_reads += 1;
                }
            }
        }
    }

    /// A write-back cache at `si` sends its oldest dirty entries to the
    /// backing store (the target of its first call point, or its backing
    /// station), one write each (messages nobody waits for), and plans its
    /// next flush.
    #[cold]
    fn flush(&mut self, si: usize) {
        let now = self.now;
        let c = self.stations[si].cache.as_mut().expect("only caches flush");
        let WritePolicy::WriteBack { batch, interval } = c.write_policy else {
            return;
        };
        let keys: Vec<u32> = c.flush(batch, now);
        let backing = c.backing;
        // The writes are made as the first class that writes here.
        let class = c.ops.iter().position(|&op| op == Op::Write).unwrap_or(0) as u32;
        // Straight to the store (past the call point that reads wait at:
        // nobody waits for these).
        let backing = self.stations[backing as usize]
            .call
            .as_ref()
            .map_or(backing, |call| call.targets[0]);
        for key in keys {
            let mut write = Request::new(class, backing, now);
            write.join = DETACHED;
            write.key = key;
            let write = self.alloc_request(write);
            self.arrive(write, backing as usize);
        }
        self.events.push(
            SimTime(now.saturating_add(interval.0)),
            Event::Flush { station: si as u32 },
        );
    }

    /// Gives back every slot `req` holds (it leaves the system).
    fn give_back_all(&mut self, req: u32) {
        while self.requests[req as usize].holds != NONE {
            let owner = self.holds[self.requests[req as usize].holds].owner;
            self.give_back(req, owner as usize);
        }
    }

    /// `req` reaches call point `si` (holding its slot, if any): it calls the
    /// targets and waits, or passes on if the call is not made.
    fn call(&mut self, req: u32, si: usize) {
        let now = self.now;
        let station = &mut self.stations[si];
        station.stats.arrivals += 1;
        let c = station
            .call
            .as_mut()
            .expect("call is only called at call points");
        let p = c.probability[self.requests[req as usize].class as usize];
        if p < 1.0 && (p <= 0.0 || c.stream.uniform() >= p) {
            // Not called this time: it passes on in zero time.
            station.stats.departures += 1;
            self.route(req, si);
            return;
        }
        let (n, wait, brings) = (c.targets.len(), c.wait, c.work);
        if wait == 0 {
            self.send(req, si, n);
            return;
        }
        // Calls in progress count as present and in service, so that the
        // time-averaged number present is the number of callers waiting.
        station.advance(now);
        station.n += 1;
        station.busy += 1;
        self.frame_ids += 1;
        let id = self.frame_ids;
        let r = &mut self.requests[req as usize];
        r.station = si as u32;
        let frame = self.frames.alloc(Frame {
            below: r.top,
            station: si as u32,
            owner: req,
            awaiting: wait,
            started: now,
            id,
        });
        r.top = frame;
        if n == 1 {
            // A single call: the request itself goes.
            r.brings = brings;
            let target = self.stations[si].call.as_ref().map_or(0, |c| c.targets[0]);
            self.arrive(req, target as usize);
            return;
        }
        // A fork: one new request per target, each replying to the frame.
        let (class, born) = (r.class, r.born);
        for k in 0..n {
            let target = self.stations[si].call.as_ref().map_or(0, |c| c.targets[k]);
            let mut child = Request::new(class, target, born);
            child.join = frame;
            child.join_id = id;
            child.brings = brings;
            let child = self.alloc_request(child);
            self.arrive(child, target as usize);
        }
    }

    /// `req` sends one message to each of the call point's `n` targets and
    /// goes on at once, or fails if a target refuses its message.
    fn send(&mut self, req: u32, si: usize, n: usize) {
        let (class, born) = {
            let r = &self.requests[req as usize];
            (r.class, r.born)
        };
        let refused = self.refused;
        for k in 0..n {
            let target = self.stations[si].call.as_ref().map_or(0, |c| c.targets[k]);
            let mut message = Request::new(class, target, born);
            message.join = DETACHED;
            let message = self.alloc_request(message);
            self.arrive(message, target as usize);
        }
        self.stations[si].stats.departures += 1;
        if self.refused != refused {
            self.fail(req, Failure::Dropped);
        } else {
            self.route(req, si);
        }
    }

    /// `req`, inside a call, is done with what it was sent to do: it returns
    /// to its caller, or replies to the call that forked it. Kept out of line
    /// so that `route`, which it calls back, stays inlined in the loop.
    #[cold]
    #[inline(never)]
    fn leave_call(&mut self, req: u32) {
        let r = &self.requests[req as usize];
        if r.top != NONE {
            self.resume(req);
        } else if r.join == DETACHED {
            self.discard(req);
        } else {
            let (join, id) = (r.join, r.join_id);
            self.discard(req);
            if self.frames[join].id == id {
                let f = &mut self.frames[join];
                f.awaiting -= 1;
                if f.awaiting == 0 {
                    let owner = f.owner;
                    self.resume(owner);
                }
            }
        }
    }

    /// The call on top of `req`'s stack has its replies: `req` goes on from
    /// the call point, unless the reply is an error.
    fn resume(&mut self, req: u32) {
        let now = self.now;
        let top = self.requests[req as usize].top;
        let f = self.frames[top];
        self.frames[top].id = 0;
        self.frames.release(top);
        self.requests[req as usize].top = f.below;
        let si = f.station as usize;
        let station = &mut self.stations[si];
        station.advance(now);
        station.n -= 1;
        station.busy -= 1;
        station.stats.departures += 1;
        station.stats.response_sum += (now - f.started) as f64;
        self.route(req, si);
    }

    /// `req` fails: its calls are abandoned, its slots given back; a forked
    /// request fails the call that awaits it, a request from outside counts
    /// as dropped or failed for its class.
    fn fail(&mut self, req: u32, failure: Failure) {
        let now = self.now;
        let mut top = self.requests[req as usize].top;
        while top != NONE {
            let f = self.frames[top];
            self.frames[top].id = 0;
            self.frames.release(top);
            let station = &mut self.stations[f.station as usize];
            station.advance(now);
            station.n -= 1;
            station.busy -= 1;
            top = f.below;
        }
        let r = &mut self.requests[req as usize];
        r.top = NONE;
        let (join, id) = (r.join, r.join_id);
        if join == DETACHED {
            // A message refused or failed: nobody awaits it.
            self.refused += 1;
            self.discard(req);
            return;
        }
        if join != NONE {
            self.discard(req);
            if self.frames[join].id == id {
                let owner = self.frames[join].owner;
                self.fail(owner, failure);
            }
            return;
        }
        let stats = &mut self.classes[r.class as usize].stats;
        match failure {
            Failure::Dropped => stats.dropped += 1,
            Failure::Error => stats.failed += 1,
        }
        self.release(req);
    }

    /// `req` enters station `si` (its slot, if any, already taken).
    #[inline]
    fn enter(&mut self, req: u32, si: usize) {
        let now = self.now;
        let ci = self.requests[req as usize].class as usize;
        let station = &mut self.stations[si];
        station.advance(now);
        if station.n >= station.capacity {
            station.stats.dropped += 1;
            self.fail(req, Failure::Dropped);
            return;
        }
        station.stats.arrivals += 1;
        let r = &mut self.requests[req as usize];
        r.station = si as u32;
        r.at_station = now;
        if station.is_ps {
            station.ps_update(now);
            station.n += 1;
            station.busy = station.n.min(station.servers);
            let lane = self.lanes[si * self.n_classes + ci]
                .as_mut()
                .expect("validated: every reachable station has a lane");
            let work = if r.brings >= 0.0 {
                std::mem::replace(&mut r.brings, -1.0)
            } else {
                lane.work.sample(&mut lane.work_stream)
            };
            r.started = now;
            r.work = work;
            let ps = &mut station.ps;
            ps.seq += 1;
            ps.jobs.push(PsJob {
                finish: ps.vtime + work,
                seq: ps.seq,
                req,
            });
            if self.flags[si] & ALLOCATES != 0 {
                self.allocate(si);
            }
            self.ps_reschedule(si);
        } else {
            station.n += 1;
            if station.busy < station.servers {
                station.busy += 1;
                self.start_service(req, si);
            } else {
                let rank = self.classes[ci].rank;
                station.queue.push(req, rank);
            }
        }
    }

    /// `req` takes a free server at station `si` (already counted as busy).
    #[inline]
    fn start_service(&mut self, req: u32, si: usize) {
        let r = &mut self.requests[req as usize];
        r.started = self.now;
        let lane = self.lanes[si * self.n_classes + r.class as usize]
            .as_mut()
            .expect("validated: every reachable station has a lane");
        let work = nanos_from_f64(if r.brings >= 0.0 {
            std::mem::replace(&mut r.brings, -1.0)
        } else {
            lane.work.sample(&mut lane.work_stream)
        });
        self.events.push(
            SimTime(self.now.saturating_add(work)),
            Event::Departure { req },
        );
    }

    fn depart(&mut self, req: u32) {
        let now = self.now;
        let r = &self.requests[req as usize];
        let si = r.station as usize;
        let station = &mut self.stations[si];
        station.advance(now);
        station.n -= 1;
        station.stats.departures += 1;
        station.stats.wait_sum += (r.started - r.at_station) as f64;
        station.stats.response_sum += (now - r.at_station) as f64;
        match station.queue.pop() {
            Some(next) => self.start_service(next, si),
            None => station.busy -= 1,
        }
        self.route(req, si);
    }

    fn ps_depart(&mut self, si: usize) {
        let now = self.now;
        let station = &mut self.stations[si];
        station.advance(now);
        station.ps_update(now);
        let job = station
            .ps
            .jobs
            .pop()
            .expect("a live PS departure event implies a job in service");
        station.n -= 1;
        station.busy = station.n.min(station.servers);
        let r = &self.requests[job.req as usize];
        let response = (now - r.at_station) as f64;
        station.stats.departures += 1;
        station.stats.response_sum += response;
        station.stats.wait_sum += response - r.work;
        self.ps_reschedule(si);
        self.route(job.req, si);
    }

    /// A request enters PS station `si`, whose heap is garbage-collected:
    /// it allocates, and may start a pause.
    #[cold]
    #[inline(never)]
    fn allocate(&mut self, si: usize) {
        let station = &mut self.stations[si];
        let gc = station
            .gc
            .as_mut()
            .expect("ALLOCATES marks collected heaps");
        gc.allocated += gc.spec.alloc;
        if !station.paused {
            self.collect_if_full(si);
        }
    }

    /// Starts a pause at `si` when the allocations since the last one
    /// exceed the free heap.
    fn collect_if_full(&mut self, si: usize) {
        let now = self.now;
        let in_flight = {
            let station = &self.stations[si];
            let gc = station.gc.as_ref().expect("only collected heaps collect");
            match gc.spec.in_flight {
                Some(pool) => self.stations[pool.idx()]
                    .admission
                    .as_ref()
                    .map_or(station.n, |a| a.slots - a.free),
                None => station.n,
            }
        };
        let station = &mut self.stations[si];
        let gc = station.gc.as_mut().expect("only collected heaps collect");
        let live = gc.spec.live + gc.spec.alloc * f64::from(in_flight);
        if gc.allocated < gc.spec.heap - live {
            return;
        }
        gc.allocated = 0.0;
        // At least a microsecond: a heap that stays full pauses again and
        // again, and time must pass.
        let pause = nanos_from_f64(gc.spec.pause_min + gc.spec.pause_per_byte * live).max(1000);
        station.ps_update(now);
        station.paused = true;
        station.stats.gc_pauses += 1;
        station.stats.gc_pause_sum += pause as f64;
        station.stats.gc_pause_max = station.stats.gc_pause_max.max(pause);
        self.events.push(
            SimTime(now.saturating_add(pause)),
            Event::GcEnd { station: si as u32 },
        );
    }

    /// A pause at `si` ends: its jobs go on, unless the heap is full again.
    #[cold]
    fn gc_end(&mut self, si: usize) {
        let now = self.now;
        let station = &mut self.stations[si];
        station.ps_update(now);
        station.paused = false;
        self.collect_if_full(si);
        self.ps_reschedule(si);
    }

    /// Schedules the next PS departure at station `si`, invalidating the
    /// previous one; none during a pause.
    fn ps_reschedule(&mut self, si: usize) {
        let now = self.now;
        let station = &mut self.stations[si];
        let rate = station.ps_rate();
        let ps = &mut station.ps;
        ps.generation = ps.generation.wrapping_add(1);
        if station.paused {
            return;
        }
        if let Some(top) = ps.jobs.peek() {
            // Rounded to the nearest nanosecond: the job popped at the event
            // is the heap's minimum whatever the rounding, and rounding (not
            // ceiling) keeps the reported PS wait (response − work) unbiased.
            let remaining = (top.finish - ps.vtime).max(0.0);
            let dt = nanos_from_f64(remaining / rate);
            let generation = ps.generation;
            self.events.push(
                SimTime(now.saturating_add(dt)),
                Event::PsDeparture {
                    station: si as u32,
                    generation,
                },
            );
        }
    }

    /// After a visit at `si`, sends `req` on or lets it leave.
    #[inline(always)]
    fn route(&mut self, req: u32, si: usize) {
        if self.flags[si] & (RELEASES | FAILS | LOOKUP | REPLICATES) != 0
            && self.after_special(req, si)
        {
            return;
        }
        let ci = self.requests[req as usize].class as usize;
        let lane = self.lanes[si * self.n_classes + ci]
            .as_mut()
            .expect("validated: every reachable station has a lane");
        match lane.route() {
            Some(next) => self.arrive(req, next as usize),
            None => {
                let r = &self.requests[req as usize];
                if r.top == NONE && r.join == NONE {
                    self.complete(req);
                } else {
                    self.leave_call(req);
                }
            }
        }
    }

    fn complete(&mut self, req: u32) {
        let r = &self.requests[req as usize];
        let ci = r.class as usize;
        self.classes[ci].stats.record_latency(self.now - r.born);
        self.release(req);
    }

    /// Frees `req` and the slots it holds; a closed-class user goes back to
    /// thinking.
    fn release(&mut self, req: u32) {
        let ci = self.requests[req as usize].class as usize;
        self.discard(req);
        if matches!(self.classes[ci].load, Load::Closed { .. }) {
            self.start_thinking(ci);
        }
    }

    /// Frees `req` and the slots it holds.
    fn discard(&mut self, req: u32) {
        if self.requests[req as usize].holds != NONE {
            self.give_back_all(req);
        }
        self.free.push(req);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn station(
        name: &str,
        servers: u32,
        discipline: Discipline,
        work: Dist,
        routing: Routing,
    ) -> Station {
        Station::new(
            name,
            servers,
            discipline,
            vec![Some(Behaviour { work, routing })],
        )
    }

    fn open(name: &str, rate: f64, entry: u32) -> Class {
        Class {
            name: name.into(),
            load: Load::Open {
                process: ArrivalProcess::Poisson,
                rate,
            },
            entry: StationId(entry),
            priority: 0,
        }
    }

    fn secs(s: f64) -> SimTime {
        SimTime::from_secs_f64(s)
    }

    #[test]
    fn same_seed_same_result_other_seed_other_result() {
        let topology = Topology {
            stations: vec![station(
                "q",
                2,
                Discipline::Fifo,
                Dist::exp(1e9).unwrap(),
                Routing::exit(),
            )],
            classes: vec![open("jobs", 1.5, 0)],
        };
        let config = RunConfig {
            window: None,
            warmup: secs(100.0),
            duration: secs(10_000.0),
        };
        let a = run(&topology, &config, 3).unwrap();
        let b = run(&topology, &config, 3).unwrap();
        let c = run(&topology, &config, 4).unwrap();
        assert_eq!(a.classes[0].latency_sum, b.classes[0].latency_sum);
        assert_eq!(a.stations[0].system_area, b.stations[0].system_area);
        assert_eq!(a.events, b.events);
        assert_ne!(a.classes[0].latency_sum, c.classes[0].latency_sum);
    }

    /// Conservation: every request that arrived is completed, dropped or still
    /// present at the end; with no warm-up the counts must balance exactly.
    #[test]
    fn requests_are_conserved() {
        let mut st = station(
            "q",
            1,
            Discipline::Fifo,
            Dist::exp(1e9).unwrap(),
            Routing::exit(),
        );
        st.capacity = Some(3);
        let topology = Topology {
            stations: vec![st],
            classes: vec![open("jobs", 1.2, 0)],
        };
        let config = RunConfig {
            window: None,
            warmup: SimTime::ZERO,
            duration: secs(5_000.0),
        };
        let stats = run(&topology, &config, 1).unwrap();
        let c = &stats.classes[0];
        let s = &stats.stations[0];
        let in_flight = c.arrived - c.completed - c.dropped;
        assert!(in_flight <= 3, "{in_flight} still present with capacity 3");
        assert_eq!(s.arrivals, s.departures + in_flight);
        assert_eq!(s.dropped, c.dropped);
        assert!(c.dropped > 0);
    }

    /// Adding a station that a class never visits leaves that class's draws
    /// (and so every figure) unchanged: streams are keyed by names.
    #[test]
    fn adding_a_station_does_not_perturb_others() {
        let base = Topology {
            stations: vec![station(
                "q",
                1,
                Discipline::Fifo,
                Dist::exp(1e9).unwrap(),
                Routing::exit(),
            )],
            classes: vec![open("jobs", 0.5, 0)],
        };
        let mut bigger = base.clone();
        bigger.stations.insert(
            0,
            station(
                "other",
                1,
                Discipline::Fifo,
                Dist::exp(1e9).unwrap(),
                Routing::exit(),
            ),
        );
        bigger.stations[1].behaviour = base.stations[0].behaviour.clone();
        bigger.classes[0].entry = StationId(1);
        bigger.classes.push(open("extra", 0.3, 0));
        for s in &mut bigger.stations {
            s.behaviour.push(s.behaviour[0].clone());
        }
        bigger.stations[0].behaviour[0] = None;
        bigger.stations[1].behaviour[1] = None;
        let config = RunConfig {
            window: None,
            warmup: SimTime::ZERO,
            duration: secs(2_000.0),
        };
        let a = run(&base, &config, 9).unwrap();
        let b = run(&bigger, &config, 9).unwrap();
        assert_eq!(a.classes[0].latency_sum, b.classes[0].latency_sum);
        assert_eq!(a.classes[0].completed, b.classes[0].completed);
        assert!(b.classes[1].completed > 0);
    }

    /// Non-preemptive priority with two classes of exponential service, same
    /// mean 1 s, at total load 0.8 (0.4 each). Cobham's formula gives
    /// W_k = W0 / ((1 - s_{k-1})(1 - s_k)) with W0 = sum λ_i E[S_i²]/2 = 0.8:
    /// high priority waits 0.8/0.6 = 1.333 s, low waits 0.8/(0.6·0.2) = 6.667 s.
    #[test]
    fn priority_matches_cobham() {
        let work = Dist::exp(1e9).unwrap();
        let st = Station::new(
            "q",
            1,
            Discipline::Priority,
            vec![
                Some(Behaviour {
                    work: work.clone(),
                    routing: Routing::exit(),
                }),
                Some(Behaviour {
                    work,
                    routing: Routing::exit(),
                }),
            ],
        );
        let mut high = open("high", 0.4, 0);
        high.priority = 1;
        let mut low = open("low", 0.4, 0);
        low.priority = 2;
        let topology = Topology {
            stations: vec![st],
            classes: vec![low, high],
        };
        let config = RunConfig {
            window: None,
            warmup: secs(5_000.0),
            duration: secs(400_000.0),
        };
        let stats = run(&topology, &config, 5).unwrap();
        let w_low = stats.classes[0].mean_latency() - 1.0;
        let w_high = stats.classes[1].mean_latency() - 1.0;
        assert!((w_high - 4.0 / 3.0).abs() < 0.1, "high waits {w_high}");
        assert!((w_low - 20.0 / 3.0).abs() < 0.6, "low waits {w_low}");
    }

    /// M/M/1-PS has the same mean response as FIFO, 1/(μ-λ), and a mean
    /// response *conditional on the work* linear in it: E[T | S=x] = x/(1-ρ).
    /// With deterministic work (M/D/1-PS) every request has T mean 1/(1-ρ)·x.
    #[test]
    fn processor_sharing_is_exact() {
        for servers in [1u32, 2] {
            let rate = 0.7 * f64::from(servers);
            let topology = Topology {
                stations: vec![station(
                    "cpu",
                    servers,
                    Discipline::Ps,
                    Dist::constant(1e9).unwrap(),
                    Routing::exit(),
                )],
                classes: vec![open("jobs", rate, 0)],
            };
            let config = RunConfig {
                window: None,
                warmup: secs(2_000.0),
                duration: secs(300_000.0),
            };
            let stats = run(&topology, &config, 11).unwrap();
            let mean = stats.classes[0].mean_latency();
            if servers == 1 {
                // M/G/1-PS: E[T] = E[S]/(1-ρ), insensitive to the service law.
                assert!((mean - 1.0 / 0.3).abs() < 0.1, "PS c=1 mean {mean}");
            } else {
                // M/G/c-PS has the M/M/c-PS mean, Erlang-C based: L = cρ + ρC/(1-ρ).
                let (c, a) = (2.0f64, rate);
                let rho: f64 = a / c;
                let erlang_c =
                    (a * a / 2.0) / (1.0 - rho) / (1.0 + a + (a * a / 2.0) / (1.0 - rho));
                let l = a + rho * erlang_c / (1.0 - rho);
                let expected = l / rate;
                assert!(
                    (mean - expected).abs() < 0.05,
                    "PS c=2 mean {mean} vs {expected}"
                );
            }
            let s = &stats.stations[0];
            let d = stats.duration;
            assert!((s.utilization(d) - 0.7).abs() < 0.01);
        }
    }

    #[test]
    fn lifo_keeps_the_mean_but_widens_the_tail() {
        let make = |discipline| Topology {
            stations: vec![station(
                "q",
                1,
                discipline,
                Dist::exp(1e9).unwrap(),
                Routing::exit(),
            )],
            classes: vec![open("jobs", 0.8, 0)],
        };
        let config = RunConfig {
            window: None,
            warmup: secs(2_000.0),
            duration: secs(300_000.0),
        };
        let fifo = run(&make(Discipline::Fifo), &config, 2).unwrap();
        let lifo = run(&make(Discipline::Lifo), &config, 2).unwrap();
        // Both have mean 1/(μ-λ) = 5 s (work-conserving, service-order independent).
        assert!((fifo.classes[0].mean_latency() - 5.0).abs() < 0.4);
        assert!((lifo.classes[0].mean_latency() - 5.0).abs() < 0.4);
        // LIFO's p99 is far larger than FIFO's exp(1/5) p99 = 5 ln 100 = 23 s.
        assert!(
            lifo.classes[0].latency_quantile(0.99) > 1.5 * fifo.classes[0].latency_quantile(0.99)
        );
    }

    #[test]
    fn closed_loss_without_think_is_refused() {
        let mut st = station(
            "q",
            1,
            Discipline::Fifo,
            Dist::exp(1e9).unwrap(),
            Routing::exit(),
        );
        st.capacity = Some(2);
        let topology = Topology {
            stations: vec![st],
            classes: vec![Class {
                name: "users".into(),
                load: Load::Closed {
                    population: 5,
                    think: None,
                },
                entry: StationId(0),
                priority: 0,
            }],
        };
        let config = RunConfig {
            window: None,
            warmup: SimTime::ZERO,
            duration: secs(10.0),
        };
        assert_eq!(
            run(&topology, &config, 1).unwrap_err(),
            ModelError::ClosedLossWithoutThink(ClassId(0))
        );
    }

    fn assert_send<T: Send>() {}

    #[test]
    fn engine_types_are_send() {
        assert_send::<Engine>();
        assert_send::<Topology>();
        assert_send::<RunStats>();
    }
}

#[cfg(test)]
mod edge_tests {
    use super::*;
    use crate::model::*;

    fn one_station(work: Dist, rate: f64) -> Topology {
        Topology {
            stations: vec![Station::new(
                "q",
                1,
                Discipline::Fifo,
                vec![Some(Behaviour {
                    work,
                    routing: Routing::exit(),
                })],
            )],
            classes: vec![Class {
                name: "jobs".into(),
                load: Load::Open {
                    process: ArrivalProcess::Poisson,
                    rate,
                },
                entry: StationId(0),
                priority: 0,
            }],
        }
    }

    /// Service times beyond the end of time saturate instead of wrapping
    /// around into the past.
    #[test]
    fn enormous_service_times_do_not_overflow() {
        let topology = one_station(Dist::constant(1e30).unwrap(), 1.0);
        let config = RunConfig {
            window: None,
            warmup: SimTime::ZERO,
            duration: SimTime::from_secs_f64(100.0),
        };
        let stats = run(&topology, &config, 1).unwrap();
        assert_eq!(stats.classes[0].completed, 0);
        assert!(stats.classes[0].arrived > 50);
        assert!((stats.stations[0].utilization(stats.duration) - 1.0).abs() < 0.05);
    }

    /// Warm-up deletion: only what happens after the warm-up is counted, and
    /// the measured time is exactly `duration`. Arrivals in 2,000 s at 1/s are
    /// Poisson(2000): within 5 standard deviations (±224) of 2,000.
    #[test]
    fn warmup_is_deleted() {
        let topology = one_station(Dist::exp(0.5e9).unwrap(), 1.0);
        let config = RunConfig {
            window: None,
            warmup: SimTime::from_secs_f64(5_000.0),
            duration: SimTime::from_secs_f64(2_000.0),
        };
        let stats = run(&topology, &config, 4).unwrap();
        let arrived = stats.classes[0].arrived as f64;
        assert!((arrived - 2_000.0).abs() < 224.0, "{arrived}");
        assert_eq!(stats.duration, config.duration);
        // Utilisation is measured over the 2,000 s only: about 0.5, not 0.5 × 7000/2000.
        let u = stats.stations[0].utilization(stats.duration);
        assert!((u - 0.5).abs() < 0.05, "{u}");
        // The engine still processed the warm-up's events.
        assert!(stats.events as f64 > 2.0 * 6_000.0);
    }
}

#[cfg(test)]
mod admission_tests {
    use super::*;
    use crate::model::*;

    fn station(
        name: &str,
        discipline: Discipline,
        mean: f64,
        routing: Routing,
        admission: Option<Admission>,
    ) -> Station {
        Station {
            admission,
            ..Station::new(
                name,
                1,
                discipline,
                vec![Some(Behaviour {
                    work: Dist::exp(mean * 1e9).unwrap(),
                    routing,
                })],
            )
        }
    }

    fn jobs(rate: f64) -> Vec<Class> {
        vec![Class {
            name: "jobs".into(),
            load: Load::Open {
                process: ArrivalProcess::Poisson,
                rate,
            },
            entry: StationId(0),
            priority: 0,
        }]
    }

    fn config() -> RunConfig {
        RunConfig {
            window: None,
            warmup: SimTime::from_secs_f64(2_000.0),
            duration: SimTime::from_secs_f64(400_000.0),
        }
    }

    /// A PS server that admits at most `w` requests, the rest waiting FIFO,
    /// with exponential work: the number present is the M/M/1 birth-death
    /// chain whatever `w`, so the mean end-to-end time is 1/(μ − λ) = 5 s at
    /// ρ = 0.8, and the slots are busy as often as the server is.
    #[test]
    fn admission_in_front_of_processor_sharing_is_mm1() {
        for w in [1, 3] {
            let topology = Topology {
                stations: vec![station(
                    "cpu",
                    Discipline::Ps,
                    1.0,
                    Routing::exit(),
                    Some(Admission::new(w, StationId(0))),
                )],
                classes: jobs(0.8),
            };
            let stats = run(&topology, &config(), 21).unwrap();
            let t = stats.classes[0].mean_latency();
            assert!((t - 5.0).abs() < 0.3, "w = {w}: mean {t}");
            let s = &stats.stations[0];
            assert!(s.slot_utilization(stats.duration) <= 1.0);
            if w == 1 {
                // One slot: the slot is held exactly while the server works.
                assert!(
                    (s.slot_utilization(stats.duration) - s.utilization(stats.duration)).abs()
                        < 1e-6
                );
                // Little for the waiting line: Lq(slots) = λ Wq(slots) = M/M/1 Lq = 3.2.
                assert!((s.mean_slot_queue(stats.duration) - 3.2).abs() < 0.25);
                assert!((s.mean_slot_wait() - 4.0).abs() < 0.3);
            }
        }
    }

    fn pooled(reuse: bool, connect: f64, idle_timeout: Option<f64>, work: Dist) -> Station {
        Station {
            admission: Some(Admission {
                connections: Some(Connections {
                    connect: connect * 1e9,
                    idle_timeout: idle_timeout.map(SimTime::from_secs_f64),
                    reuse,
                }),
                ..Admission::new(1, StationId(0))
            }),
            behaviour: vec![Some(Behaviour {
                work,
                routing: Routing::exit(),
            })],
            ..Station::new("db", 1, Discipline::Fifo, Vec::new())
        }
    }

    /// One pooled connection in front of one server with exponential work
    /// (mean 1 s) at λ = 0.4. Reused, it is opened once and the station is
    /// M/M/1: T = 1/(μ − λ) = 1.667 s. Without reuse every request pays a
    /// 0.5 s handshake, so the service is exp(1 s) + 0.5 s (mean 1.5 s,
    /// E[S²] = 1 + 2.25 = 3.25 s²) and Pollaczek–Khinchine gives
    /// Wq = λE[S²]/(2(1 − ρ)) = 1.625 s at ρ = 0.6, T = 3.125 s.
    #[test]
    fn handshakes_lengthen_the_hold_of_a_connection() {
        for (reuse, expected) in [(true, 1.0 / 0.6), (false, 3.125)] {
            let topology = Topology {
                stations: vec![pooled(reuse, 0.5, None, Dist::exp(1e9).unwrap())],
                classes: jobs(0.4),
            };
            let stats = run(&topology, &config(), 5).unwrap();
            let t = stats.classes[0].mean_latency();
            assert!((t - expected).abs() < 0.1, "reuse {reuse}: mean {t}");
            let s = &stats.stations[0];
            let connects = if reuse { 0 } else { s.admitted };
            assert_eq!(s.connects, connects, "reuse {reuse}");
        }
    }

    /// An idle timeout closes the pooled connection when no request comes
    /// for `τ`: an arrival to an empty station (probability 1 − ρ) finds it
    /// idle for an exponential time (rate λ, memoryless), so a fraction
    /// (1 − ρ)·e^(−λτ) of requests open a connection. λ = 1/s, work 0.1 s,
    /// τ = 1 s: 0.9/e = 0.331.
    #[test]
    fn idle_connections_time_out() {
        let topology = Topology {
            stations: vec![pooled(true, 0.0, Some(1.0), Dist::constant(1e8).unwrap())],
            classes: jobs(1.0),
        };
        let stats = run(&topology, &config(), 9).unwrap();
        let s = &stats.stations[0];
        let fraction = s.connects as f64 / s.admitted as f64;
        let expected = 0.9 * (-1f64).exp();
        assert!(
            (fraction - expected).abs() < 0.005,
            "{fraction} vs {expected}"
        );
    }

    /// One slot held across two exponential stages (0.5 s each): the pair
    /// behaves as one M/G/1 server with Erlang-2 service (mean 1 s, E[S²] =
    /// 1.5 s²). At λ = 0.5, Pollaczek–Khinchine gives a slot wait of
    /// λE[S²]/(2(1 − ρ)) = 0.75 s and an end-to-end time of 1.75 s; the
    /// second stage never queues.
    #[test]
    fn a_slot_held_across_two_stations_is_one_server() {
        let topology = Topology {
            stations: vec![
                station(
                    "cpu",
                    Discipline::Fifo,
                    0.5,
                    Routing::to(StationId(1)),
                    Some(Admission::new(1, StationId(1))),
                ),
                station("disk", Discipline::Fifo, 0.5, Routing::exit(), None),
            ],
            classes: jobs(0.5),
        };
        let stats = run(&topology, &config(), 22).unwrap();
        let t = stats.classes[0].mean_latency();
        assert!((t - 1.75).abs() < 0.06, "mean {t}");
        let cpu = &stats.stations[0];
        assert!(
            (cpu.mean_slot_wait() - 0.75).abs() < 0.05,
            "slot wait {}",
            cpu.mean_slot_wait()
        );
        assert_eq!(stats.stations[1].queue_area, 0.0);
        assert!((cpu.slot_utilization(stats.duration) - 0.5).abs() < 0.01);
    }
}

#[cfg(test)]
mod call_tests {
    //! Calls and fan-out against closed forms, each as a 99.99% interval
    //! from independent replications (|z| < 3.9).
    use super::*;
    use crate::model::*;

    const INFINITE: u32 = u32::MAX;

    fn queue(name: &str, servers: u32, mean: f64, routing: Routing) -> Station {
        Station::new(
            name,
            servers,
            Discipline::Fifo,
            vec![Some(Behaviour {
                work: Dist::exp(mean * 1e9).unwrap(),
                routing,
            })],
        )
    }

    fn call_point(name: &str, call: CallPoint, routing: Routing) -> Station {
        Station {
            call: Some(call),
            ..Station::new(
                name,
                1,
                Discipline::Fifo,
                vec![Some(Behaviour {
                    work: Dist::constant(0.0).unwrap(),
                    routing,
                })],
            )
        }
    }

    fn open(rate: f64, entry: u32) -> Vec<Class> {
        vec![Class {
            name: "jobs".into(),
            load: Load::Open {
                process: ArrivalProcess::Poisson,
                rate,
            },
            entry: StationId(entry),
            priority: 0,
        }]
    }

    /// Runs `reps` replications and returns the mean and standard error of
    /// `figure` over them.
    fn replicate(
        topology: &Topology,
        seconds: f64,
        reps: u64,
        figure: impl Fn(&RunStats) -> f64,
    ) -> (f64, f64) {
        let config = RunConfig {
            window: None,
            warmup: SimTime::from_secs_f64(seconds / 20.0),
            duration: SimTime::from_secs_f64(seconds),
        };
        let xs: Vec<f64> = (0..reps)
            .map(|seed| figure(&run(topology, &config, 1000 + seed).unwrap()))
            .collect();
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, (var / n).sqrt())
    }

    fn assert_close(what: &str, (mean, se): (f64, f64), expected: f64) {
        let z = (mean - expected) / se;
        assert!(
            z.abs() < 3.9,
            "{what}: {mean:.5} ± {se:.5}, expected {expected:.5} (z = {z:.2})"
        );
        // The interval must be narrow enough for the check to mean something.
        assert!(se < 0.02 * expected, "{what}: standard error {se} too wide");
    }

    /// Fork-join of two M/M/1 queues (Nelson and Tantawi, exact for two):
    /// T = (12 − ρ)/8 · 1/(μ − λ).
    #[test]
    fn two_way_fork_join_matches_nelson_tantawi() {
        for lambda in [0.5, 0.7] {
            let all = CallPoint {
                targets: vec![StationId(1), StationId(2)],
                wait: 2,
                probability: vec![1.0],
                work: None,
            };
            let topology = Topology {
                stations: vec![
                    call_point("join", all, Routing::exit()),
                    queue("left", 1, 1.0, Routing::exit()),
                    queue("right", 1, 1.0, Routing::exit()),
                ],
                classes: open(lambda, 0),
            };
            let expected = (12.0 - lambda) / 8.0 / (1.0 - lambda);
            let t = replicate(&topology, 40_000.0, 12, |s| s.classes[0].mean_latency());
            assert_close(&format!("fork-join at ρ = {lambda}"), t, expected);
            // Each queue alone is still M/M/1.
            let q = replicate(&topology, 40_000.0, 12, |s| {
                s.stations[1].response_sum / s.stations[1].departures as f64 / 1e9
            });
            assert_close("left queue", q, 1.0 / (1.0 - lambda));
        }
    }

    /// Fan-out to k unloaded exponential backends (rate μ = 100/s): waiting
    /// for all gives E[max] = H_k/μ, waiting for the first w of them gives
    /// the w-th order statistic Σ_{i=k−w+1}^{k} 1/(iμ); the share of
    /// requests slower than one backend's p99 is 1 − 0.99^k when all are
    /// awaited.
    #[test]
    fn fan_out_waits_for_the_max_or_the_kth_reply() {
        let mu = 100.0;
        for (k, wait) in [(2u32, 2u32), (5, 5), (10, 10), (5, 2), (10, 1)] {
            let mut stations = vec![call_point(
                "fanout",
                CallPoint {
                    targets: (1..=k).map(StationId).collect(),
                    wait,
                    probability: vec![1.0],
                    work: None,
                },
                Routing::exit(),
            )];
            stations.extend(
                (0..k).map(|i| queue(&format!("shard{i}"), INFINITE, 1.0 / mu, Routing::exit())),
            );
            let topology = Topology {
                stations,
                classes: open(50.0, 0),
            };
            let expected: f64 = (k - wait + 1..=k).map(|i| 1.0 / (f64::from(i) * mu)).sum();
            let t = replicate(&topology, 400.0, 10, |s| s.classes[0].mean_latency());
            assert_close(&format!("{wait} of {k}"), t, expected);
            if wait == k {
                let p99 = -(0.01f64).ln() / mu;
                let slow = replicate(&topology, 400.0, 10, |s| {
                    let h = &s.classes[0].latency;
                    let above = h.count_between((p99 * 1e9) as u64, h.max());
                    above as f64 / h.len() as f64
                });
                let expected = 1.0 - 0.99f64.powi(k as i32);
                let z = (slow.0 - expected) / slow.1;
                assert!(
                    z.abs() < 3.9,
                    "tail at scale, k = {k}: {slow:?} vs {expected}"
                );
            }
        }
    }

    /// A caller holds its one slot through its own work (0.5 s) and a call
    /// to an unloaded backend (0.5 s): one server with Erlang-2 service, so
    /// at λ = 0.5 the slot wait is λE[S²]/(2(1 − ρ)) = 0.75 s and the
    /// response 1.75 s (Pollaczek–Khinchine). Without holding, the caller
    /// would be an M/M/1 at ρ = 0.25 and respond in 1.17 s.
    #[test]
    fn a_caller_holds_its_slot_until_the_reply() {
        let mut api = queue("api", 1, 0.5, Routing::to(StationId(1)));
        api.admission = Some(Admission::new(1, StationId(1)));
        let topology = Topology {
            stations: vec![
                api,
                call_point("api.call", CallPoint::to(StationId(2), 1), Routing::exit()),
                queue("backend", INFINITE, 0.5, Routing::exit()),
            ],
            classes: open(0.5, 0),
        };
        let t = replicate(&topology, 20_000.0, 12, |s| s.classes[0].mean_latency());
        assert_close("response", t, 1.75);
        let w = replicate(&topology, 20_000.0, 12, |s| s.stations[0].mean_slot_wait());
        assert_close("slot wait", w, 0.75);
        let call = replicate(&topology, 20_000.0, 12, |s| {
            s.stations[1].response_sum / s.stations[1].departures as f64 / 1e9
        });
        assert_close("call time", call, 0.5);
        // The slot is held for work and call: utilisation 0.5, the CPU's 0.25.
        let run = run(&topology, &config(), 3).unwrap();
        let api = &run.stations[0];
        assert!((api.slot_utilization(run.duration) - 0.5).abs() < 0.02);
        assert!((api.utilization(run.duration) - 0.25).abs() < 0.01);
    }

    fn config() -> RunConfig {
        RunConfig {
            window: None,
            warmup: SimTime::from_secs_f64(1_000.0),
            duration: SimTime::from_secs_f64(50_000.0),
        }
    }

    /// Nested calls: a caller with one slot (0.5 s of work) calls B, whose
    /// request (0.5 s, never queued) calls C (0.5 s, never queued). The slot
    /// is held for the sum, Erlang-3 with mean 1.5 s and E[S²] = 3 s², so at
    /// λ = 0.4 (ρ = 0.6) Pollaczek–Khinchine gives a slot wait of
    /// λE[S²]/(2(1 − ρ)) = 1.5 s and a response of 3 s.
    #[test]
    fn nested_calls_hold_the_callers_slot_throughout() {
        let mut api = queue("api", 1, 0.5, Routing::to(StationId(1)));
        api.admission = Some(Admission::new(1, StationId(1)));
        let topology = Topology {
            stations: vec![
                api,
                call_point("api.call", CallPoint::to(StationId(2), 1), Routing::exit()),
                queue("b", INFINITE, 0.5, Routing::to(StationId(3))),
                call_point("b.call", CallPoint::to(StationId(4), 1), Routing::exit()),
                queue("c", INFINITE, 0.5, Routing::exit()),
            ],
            classes: open(0.4, 0),
        };
        let t = replicate(&topology, 40_000.0, 12, |s| s.classes[0].mean_latency());
        assert_close("response", t, 3.0);
        let w = replicate(&topology, 40_000.0, 12, |s| s.stations[0].mean_slot_wait());
        assert_close("slot wait", w, 1.5);
    }

    /// Error replies fail the request: the failed share is the error
    /// probability, and every request is accounted for.
    #[test]
    fn error_replies_fail_requests() {
        let mut partner = queue("partner", INFINITE, 0.2, Routing::exit());
        partner.error = 0.1;
        let topology = Topology {
            stations: vec![
                call_point("client", CallPoint::to(StationId(1), 1), Routing::exit()),
                partner,
            ],
            classes: open(5.0, 0),
        };
        let stats = run(&topology, &config(), 4).unwrap();
        let c = &stats.classes[0];
        let ended = (c.completed + c.failed) as f64;
        let share = c.failed as f64 / ended;
        let se = (0.1 * 0.9 / ended).sqrt();
        assert!((share - 0.1).abs() < 3.9 * se, "failed share {share}");
        assert!(c.arrived.abs_diff(c.completed + c.failed) < 20);
        assert_eq!(stats.stations[1].errors, c.failed);
    }

    /// A request dropped inside a call is dropped for its class, and a fork
    /// whose branch is dropped fails as a whole; the caller's slot is given
    /// back in both cases (else the pool would clog and nothing complete).
    #[test]
    fn drops_inside_calls_end_the_caller() {
        for forked in [false, true] {
            let mut full = queue("full", 1, 1.0, Routing::exit());
            full.capacity = Some(1);
            let targets = if forked {
                vec![StationId(2), StationId(3)]
            } else {
                vec![StationId(2)]
            };
            let wait = targets.len() as u32;
            let mut api = queue("api", 2, 0.01, Routing::to(StationId(1)));
            api.admission = Some(Admission::new(2, StationId(1)));
            let topology = Topology {
                stations: vec![
                    api,
                    call_point(
                        "api.call",
                        CallPoint {
                            targets,
                            wait,
                            probability: vec![1.0],
                            work: None,
                        },
                        Routing::exit(),
                    ),
                    full,
                    queue("other", INFINITE, 0.1, Routing::exit()),
                ],
                classes: open(0.8, 0),
            };
            let stats = run(&topology, &config(), 5).unwrap();
            let c = &stats.classes[0];
            assert!(c.dropped > 1000, "forked = {forked}: {} dropped", c.dropped);
            assert_eq!(c.dropped, stats.stations[2].dropped);
            assert!(
                c.arrived.abs_diff(c.completed + c.dropped) < 20,
                "forked = {forked}: {} arrived, {} completed, {} dropped",
                c.arrived,
                c.completed,
                c.dropped
            );
        }
    }

    #[test]
    fn call_cycles_and_bad_calls_are_refused() {
        let topology = Topology {
            stations: vec![
                call_point("a", CallPoint::to(StationId(1), 1), Routing::exit()),
                queue("b", 1, 1.0, Routing::to(StationId(0))),
            ],
            classes: open(0.1, 0),
        };
        assert_eq!(
            topology.validate(),
            Err(ModelError::CallCycle(StationId(0)))
        );
        let topology = Topology {
            stations: vec![
                call_point(
                    "a",
                    CallPoint {
                        targets: vec![StationId(1)],
                        wait: 2,
                        probability: vec![1.0],
                        work: None,
                    },
                    Routing::exit(),
                ),
                queue("b", 1, 1.0, Routing::exit()),
            ],
            classes: open(0.1, 0),
        };
        assert_eq!(topology.validate(), Err(ModelError::BadCall(StationId(0))));
    }
}

#[cfg(test)]
mod session_tests {
    //! Session-aware balancing, checked by what defines it rather than by
    //! a distribution: where a session goes, and what moves when a target
    //! is down.
    use super::*;
    use crate::model::*;

    fn balanced(policy: Policy, sessions: u32, down: Vec<Downtime>) -> Topology {
        let mut dispatch = Dispatch::new(policy, (1..=4).map(StationId).collect());
        // Strongly skewed: which target holds which session shows in the counts.
        dispatch.sessions = Some(Sessions {
            count: sessions,
            zipf: 2.0,
        });
        dispatch.down = down;
        let mut lb = Station::new("lb", 1, Discipline::Fifo, vec![None]);
        lb.dispatch = Some(dispatch);
        let mut stations = vec![lb];
        stations.extend((1..=4).map(|i| {
            Station::new(
                format!("t{i}"),
                u32::MAX,
                Discipline::Fifo,
                vec![Some(Behaviour {
                    work: Dist::exp(1e9).unwrap(),
                    routing: Routing::exit(),
                })],
            )
        }));
        Topology {
            stations,
            classes: vec![Class {
                name: "web".into(),
                load: Load::Open {
                    process: ArrivalProcess::Poisson,
                    rate: 10.0,
                },
                entry: StationId(0),
                priority: 0,
            }],
        }
    }

    fn arrivals(t: &Topology) -> Vec<u64> {
        let config = RunConfig {
            window: None,
            warmup: SimTime::ZERO,
            duration: SimTime::from_secs_f64(2_000.0),
        };
        let stats = run(t, &config, 9).unwrap();
        stats.stations[1..].iter().map(|s| s.arrivals).collect()
    }

    /// With a single session, sticky and consistent hashing send every
    /// request to one target.
    #[test]
    fn one_session_one_target() {
        for policy in [Policy::Sticky, Policy::ConsistentHash] {
            let a = arrivals(&balanced(policy, 1, Vec::new()));
            assert_eq!(a.iter().filter(|&&n| n > 0).count(), 1, "{policy:?}: {a:?}");
        }
    }

    /// Consistent hashing moves only the sessions of a target that is down:
    /// with the same draws, every other target receives at least what it
    /// received with all targets up, and the down target nothing.
    #[test]
    fn a_target_down_moves_only_its_sessions() {
        for sessions in [3, 5, 8, 13, 21] {
            let up = arrivals(&balanced(Policy::ConsistentHash, sessions, Vec::new()));
            // The target with the most traffic goes down.
            let k = (0..4).max_by_key(|&i| up[i]).unwrap_or(0);
            let down = arrivals(&balanced(
                Policy::ConsistentHash,
                sessions,
                vec![Downtime {
                    target: k,
                    from: SimTime::ZERO,
                    to: SimTime::from_secs_f64(1e6),
                }],
            ));
            assert_eq!(down[k], 0);
            for i in (0..4).filter(|&i| i != k) {
                assert!(
                    down[i] >= up[i],
                    "{sessions} sessions, target {i}: {} < {}",
                    down[i],
                    up[i]
                );
            }
            assert_eq!(up.iter().sum::<u64>(), down.iter().sum::<u64>());
        }
    }
}

#[cfg(test)]
mod gc_tests {
    use super::*;
    use crate::model::*;

    /// Requests every 10 ms, 1 ms of work each on one PS server, 1 byte
    /// allocated each, a heap of 10.5 bytes: with the request itself live,
    /// 9.5 bytes are free, so every 10th request starts a collection, and
    /// it stops the server for 5 ms. That request takes 6 ms, the nine
    /// others 1 ms: a mean of 1.5 ms, 10 pauses a second, 5% of the time.
    #[test]
    fn every_tenth_request_waits_for_a_pause() {
        let mut cpu = Station::new(
            "cpu",
            1,
            Discipline::Ps,
            vec![Some(Behaviour {
                work: Dist::constant(1e6).unwrap(),
                routing: Routing::exit(),
            })],
        );
        cpu.gc = Some(Gc {
            heap: 10.5,
            live: 0.0,
            alloc: 1.0,
            pause_min: 5e6,
            pause_per_byte: 0.0,
            in_flight: None,
        });
        let topology = Topology {
            stations: vec![cpu],
            classes: vec![Class {
                name: "jobs".into(),
                load: Load::Open {
                    process: ArrivalProcess::Constant,
                    rate: 100.0,
                },
                entry: StationId(0),
                priority: 0,
            }],
        };
        let config = RunConfig {
            warmup: SimTime::from_secs_f64(1.005),
            duration: SimTime::from_secs_f64(100.0),
            window: None,
        };
        let stats = run(&topology, &config, 1).unwrap();
        let s = &stats.stations[0];
        assert_eq!(s.gc_pauses, 1000);
        assert_eq!(s.gc_pause_max, 5_000_000);
        assert!((stats.classes[0].mean_latency() - 0.0015).abs() < 1e-9);
        assert_eq!(stats.classes[0].latency_max, 6_000_000);

        // A model error: a collector on a FIFO station.
        let mut bad = topology.clone();
        bad.stations[0].discipline = Discipline::Fifo;
        assert!(matches!(run(&bad, &config, 1), Err(ModelError::BadGc(_))));
    }
}
