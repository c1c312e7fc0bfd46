//! The event loop: pop the earliest event, apply it, update the statistics.
//!
//! Events form a closed enum ([`event`]), so every trigger is visible in the
//! one `match` of [`Engine::apply`]. Requests ([`request`]) live in a slab and
//! move between stations by index; a visit costs one scheduled event (its
//! departure) plus the arrival's own event for the first visit. Statistics
//! are updated in place as the state changes, as time-weighted areas and
//! sums, so memory does not grow with the run.
//!
//! The modules, and who may call whom:
//!
//! - `flow`: how a request moves (arrive, admit, enter, depart, route,
//!   complete). The only place that decides what a station's role does to
//!   an arriving request and runs the mechanisms' hooks, in the order
//!   written there.
//! - `calls`: frames, replies, unwinding to a frame, cancellation. `flow`
//!   and `calls` are two halves of the request's path, methods of the one
//!   `Engine`, and call each other (a call point's arrival starts a call; a
//!   reply routes the caller on).
//! - one module per mechanism, each owning its state and returning what
//!   happens next, never calling back into the flow: `pool` (admission
//!   slots and connections), `balancer`, `cache`, `replication`, `gc`,
//!   `arrivals`, `breaker`, `retry`, `hedge`, `limit`, `shed`. `faults` and
//!   `autoscale` keep, besides their state, a second `impl Engine` block of
//!   glue: a crash takes requests out of stations, an autoscaler changes
//!   balancers' targets and queues' slots.
//! - `station` (queues, processor sharing, speed), `request` (hot and cold
//!   parts), `slab` (generation-checked handles), `event`.

mod arrivals;
mod autoscale;
mod balancer;
mod breaker;
mod cache;
mod calls;
mod event;
mod faults;
mod flow;
mod gc;
mod hedge;
mod limit;
mod pool;
mod replication;
mod request;
mod retry;
mod shed;
mod slab;
mod station;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use crate::dist::Dist;
use crate::model::{
    self, Discipline, Load, ModelError, Popularity, Replication, RunConfig, Topology, WritePolicy,
};
use crate::queue::EventQueue;
use crate::rng::{Stream, derive, name_key};
use crate::stats::{ClassStats, RunStats, StationStats, Stop, Stopped, Window};
use crate::time::{SimTime, nanos_from_f64};

use arrivals::Arrivals;
use autoscale::Scaler;
use balancer::Balancer;
use breaker::BreakerState;
use cache::CacheState;

use event::Event;
use faults::FaultState;
use gc::GcState;
use hedge::HedgeState;
use limit::TokenBucket;
use pool::{Hold, Pool};
use replication::ReplicaState;
use request::{Frame, GATED, Requests};
use retry::RetryState;
use shed::Shedder;
use slab::Slab;
use station::{CallState, Ps, Role, StationState, WaitQueue};

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
///         load: Load::Open { process: ArrivalProcess::Poisson, rate: 0.5, profile: None },
///         entry: StationId(0),
///         priority: 0,
///         deadline: None,
///         rate_limit: None,
///     }],
///     faults: Vec::new(),
///     autoscalers: Vec::new(),
/// };
/// let config = RunConfig::new(SimTime::from_secs_f64(1e3), SimTime::from_secs_f64(1e5));
/// let stats = chokepoint_core::run(&topology, &config, 1).unwrap();
/// let mean = stats.classes[0].mean_latency();
/// assert!((mean - 2.0).abs() < 0.2, "{mean}");
/// ```
pub fn run(topology: &Topology, config: &RunConfig, seed: u64) -> Result<RunStats, ModelError> {
    run_watched(topology, config, seed, &|_| None)
}

/// How many events a run processes between two looks of its watcher.
pub const WATCH_EVERY: u32 = 1 << 14;

/// [`run`], with `watch` called every [`WATCH_EVERY`] events with the
/// simulated time: to follow the run's progress, or to stop it early by
/// returning why ([`Stop::TimeLimit`], [`Stop::Interrupted`]). Clocks and
/// signals stay with the caller; the run's figures do not depend on the
/// watcher, except that a stopped run measured less.
pub fn run_watched(
    topology: &Topology,
    config: &RunConfig,
    seed: u64,
    watch: &dyn Fn(SimTime) -> Option<Stop>,
) -> Result<RunStats, ModelError> {
    topology.validate()?;
    let mut engine = Engine::new(topology, seed);
    Ok(engine.run(config, watch))
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

    /// The work of one visit: what the request brings, or a draw.
    #[inline]
    fn work(&mut self, brings: &mut f64) -> f64 {
        if *brings >= 0.0 {
            std::mem::replace(brings, -1.0)
        } else {
            self.work.sample(&mut self.work_stream)
        }
    }
}

struct ClassState {
    load: Load,
    entry: u32,
    rank: usize,
    /// How its next arrival is drawn (an open class's).
    arrivals: Arrivals,
    arrival_stream: Stream,
    think_stream: Stream,
    /// Its clients' deadline, and the stream drawing it.
    deadline: Option<model::Timeout>,
    deadline_stream: Stream,
    /// A rate limit its requests pass before their entry.
    limit: Option<TokenBucket>,
    /// The flags its requests are born with: [`GATED`] when it has a
    /// deadline or a rate limit.
    birth_flags: u8,
    /// Exact (unrounded) time of the next open arrival, in nanoseconds.
    next_arrival: f64,
    stats: ClassStats,
    /// A closed class's users now, those due to leave when they next act,
    /// and the changes of its population profile.
    users: u32,
    leaving: u32,
    levels: Vec<(f64, u32)>,
    /// With a time series: its latencies as they were at the start of the
    /// current window (or of measurement, if later), so that the window's
    /// own are the difference.
    window_start: Option<Box<hdrhistogram::Histogram<u64>>>,
}

struct Engine {
    now: u64,
    events: EventQueue<Event>,
    n_events: u64,
    requests: Requests,
    holds: Slab<Hold>,
    frames: Slab<Frame>,
    /// Frames pushed so far: the stamp of the next frame, and of the slots
    /// taken meanwhile (see `calls.rs`).
    stamps: u64,
    /// The keys of a write-back flush, kept between flushes.
    flushing: Vec<u32>,
    /// Messages refused or failed so far (a send compares it before and
    /// after handing over its messages).
    refused: u64,
    stations: Vec<StationState>,
    classes: Vec<ClassState>,
    /// Indexed by `station * n_classes + class`; `None` where the class never goes.
    lanes: Vec<Option<Lane>>,
    /// Per station, its [`station::flag`] bits, kept apart from the station
    /// states so the common case reads one dense array.
    flags: Vec<u16>,
    n_classes: usize,
    /// The time series: windows so far, the running totals at the last
    /// sample, and the totals counted before the warm-up's reset.
    series: Vec<Window>,
    sampled: Window,
    before_reset: Window,
    /// When measurement started: the end of the warm-up, once reached.
    measuring_since: u64,
    /// Why the run is stopping early, if it is.
    halt: Option<Stop>,
    /// Whether half the measured time has passed (see `Event::Midpoint`).
    halved: bool,
    /// What breaks, and what the stations it strikes are without it: their
    /// flags, error probability and (per lane) work.
    faults: Vec<FaultState>,
    /// Autoscalers, in topology order.
    scalers: Vec<Scaler>,
    /// Whether a balancer ejects outliers: requests' outcomes are then
    /// judged when they end.
    ejecting: bool,
    base_flags: Vec<u16>,
    base_error: Vec<f64>,
    base_work: Vec<Option<Dist>>,
}

impl Engine {
    fn new(topology: &Topology, seed: u64) -> Engine {
        let n_classes = topology.classes.len();
        // Distinct priorities, ascending: a class's rank is its index here.
        let mut priorities: Vec<i64> = topology.classes.iter().map(|c| c.priority).collect();
        priorities.sort_unstable();
        priorities.dedup();

        let mut stations: Vec<StationState> = topology
            .stations
            .iter()
            .map(|s| {
                let stream =
                    |what: &str| Stream::new(derive(seed, &[name_key(what), name_key(&s.name)]));
                let role = match &s.role {
                    model::Role::Balancer(d) => {
                        Role::Balancer(Box::new(Balancer::new(d, stream("balance"))))
                    }
                    model::Role::Call(c) => Role::Call(Box::new(CallState {
                        targets: c.targets.iter().map(|t| t.0).collect(),
                        wait: c.wait,
                        choose: c.sent(),
                        order: (0..c.targets.len() as u32).collect(),
                        probability: c.probability.clone(),
                        work: c.work.unwrap_or(-1.0),
                        stream: stream("call"),
                        forks: c.forks(),
                        timeout: c.timeout.clone(),
                        timeout_stream: stream("timeout"),
                        retry: c
                            .retry
                            .as_ref()
                            .map(|r| RetryState::new(r, stream("backoff"))),
                        hedge: c.hedge.as_ref().map(HedgeState::new),
                        breaker: c.breaker.as_ref().map(BreakerState::new),
                    })),
                    model::Role::Queue(_) => Role::Queue,
                };
                let q = s.queue();
                let discipline = q.map(|q| q.discipline);
                StationState {
                    role,
                    limit: s.rate_limit.as_ref().map(TokenBucket::new),
                    shed: s.shedding.as_ref().map(Shedder::new),
                    pool: s.admission.as_ref().map(Pool::new),
                    cache: s
                        .cache()
                        .map(|c| Box::new(CacheState::new(c, stream("keys")))),
                    gc: q
                        .and_then(|q| q.gc.as_ref())
                        .map(|g| Box::new(GcState::new(g))),
                    replica: s.replication().map(|r| {
                        Box::new(match r {
                            Replication::Leader { keys, lag } => ReplicaState::leader(
                                *keys,
                                lag.clone(),
                                stream("keys"),
                                stream("lag"),
                            ),
                            Replication::Follower { leader } => {
                                let keys = match topology.stations[leader.idx()].replication() {
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
                    fail_stream: stream("error"),
                    releases: Vec::new(),
                    servers: s.servers(),
                    capacity: q.and_then(|q| q.capacity).unwrap_or(u32::MAX),
                    is_ps: discipline == Some(Discipline::Ps),
                    n: 0,
                    throttled: 0,
                    busy: 0,
                    queue: match discipline {
                        Some(Discipline::Fifo) => WaitQueue::Fifo(VecDeque::new()),
                        Some(Discipline::Lifo) => WaitQueue::Lifo(Vec::new()),
                        Some(Discipline::Priority) => WaitQueue::Priority(
                            (0..priorities.len()).map(|_| VecDeque::new()).collect(),
                        ),
                        Some(Discipline::Ps) | None => WaitQueue::None,
                    },
                    ps: Ps::default(),
                    speed: 1.0,
                    nominal_speed: 1.0,
                    down: false,
                    last: 0,
                    stats: StationStats {
                        name: s.name.clone(),
                        servers: s.servers(),
                        call: matches!(s.role, model::Role::Call(_)),
                        protected: matches!(&s.role, model::Role::Call(c) if c.protected()),
                        breaker: matches!(&s.role, model::Role::Call(c) if c.breaker.is_some()),
                        slots: s.admission.as_ref().map_or(0, |a| a.slots),
                        ..StationStats::default()
                    },
                }
            })
            .collect();
        for (owner, s) in topology.stations.iter().enumerate() {
            for r in s.admission.iter().flat_map(|a| &a.release_at) {
                stations[r.idx()].releases.push(owner as u32);
            }
        }
        let mut flags: Vec<u16> = stations.iter().map(StationState::flags).collect();
        // Requests nobody awaits exist only behind a call that forks or a
        // client with a deadline: only then do FIFO stations count waste.
        let may_orphan = topology.classes.iter().any(|c| c.deadline.is_some())
            || stations
                .iter()
                .any(|s| matches!(&s.role, Role::Call(c) if c.forks));
        for (f, s) in flags.iter_mut().zip(&stations) {
            if may_orphan && matches!(s.role, Role::Queue) && !s.is_ps {
                *f |= station::flag::WASTES;
            }
        }
        // A class's deadline and rate limit are applied at its entry.
        for c in &topology.classes {
            if c.deadline.is_some() || c.rate_limit.is_some() {
                flags[c.entry.idx()] |= station::flag::SPECIAL_ARRIVAL;
            }
        }

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
                    arrivals: match &c.load {
                        Load::Open {
                            process,
                            rate,
                            profile,
                        } => Arrivals::new(*process, *rate, profile.as_ref()),
                        Load::Closed { .. } => Arrivals::Closed,
                    },
                    arrival_stream: Stream::new(derive(seed, &[name_key("arrival"), ckey])),
                    think_stream: Stream::new(derive(seed, &[name_key("think"), ckey])),
                    deadline: c.deadline.clone(),
                    deadline_stream: Stream::new(derive(seed, &[name_key("deadline"), ckey])),
                    limit: c.rate_limit.as_ref().map(TokenBucket::new),
                    birth_flags: if c.deadline.is_some() || c.rate_limit.is_some() {
                        GATED
                    } else {
                        0
                    },
                    next_arrival: 0.0,
                    stats: ClassStats::new(&c.name),
                    window_start: None,
                    users: 0,
                    leaving: 0,
                    levels: Vec::new(),
                }
            })
            .collect();

        // What the stations faults strike are without them.
        let base_flags = flags.clone();
        let base_error = stations.iter().map(|s| s.error).collect();
        let slowed: Vec<usize> = topology
            .faults
            .iter()
            .filter(|f| matches!(f.effect, model::Effect::Slow { .. }))
            .flat_map(|f| f.stations.iter().map(|s| s.idx()))
            .collect();
        let base_work = lanes
            .iter()
            .enumerate()
            .map(|(k, lane): (usize, &Option<Lane>)| {
                let lane = lane.as_ref()?;
                slowed.contains(&(k / n_classes)).then(|| lane.work.clone())
            })
            .collect();
        let faults = topology
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| {
                FaultState::new(f, Stream::new(derive(seed, &[name_key("fault"), i as u64])))
            })
            .collect();
        let mut engine = Engine {
            now: 0,
            events: EventQueue::default(),
            n_events: 0,
            requests: Requests::default(),
            holds: Slab::default(),
            frames: Slab::default(),
            stamps: 0,
            flushing: Vec::new(),
            refused: 0,
            stations,
            classes,
            lanes,
            flags,
            n_classes,
            series: Vec::new(),
            sampled: Window::default(),
            before_reset: Window::default(),
            measuring_since: 0,
            halt: None,
            halved: false,
            faults,
            scalers: topology.autoscalers.iter().map(Scaler::new).collect(),
            ejecting: topology
                .stations
                .iter()
                .any(|s| s.dispatch().is_some_and(|d| d.outlier.is_some())),
            base_flags,
            base_error,
            base_work,
        };
        // Balancers' targets go down and come back by events, before any
        // other event of the same instant.
        for (si, s) in topology.stations.iter().enumerate() {
            for w in s.dispatch().iter().flat_map(|d| &d.down) {
                let (station, target) = (si as u32, w.target as u32);
                engine
                    .events
                    .push(w.from, Event::TargetDown { station, target });
                engine
                    .events
                    .push(w.to, Event::TargetUp { station, target });
            }
        }
        engine
    }

    fn run(&mut self, config: &RunConfig, watch: &dyn Fn(SimTime) -> Option<Stop>) -> RunStats {
        let end = config.warmup.0.saturating_add(config.duration.0);
        if config.warmup.0 > 0 {
            self.events.push(config.warmup, Event::WarmupEnd);
        }
        self.events.push(SimTime(end), Event::End);
        self.events.push(
            SimTime(config.warmup.0.saturating_add(config.duration.0 / 2)),
            Event::Midpoint,
        );
        if let Some(window) = config.window.filter(|w| w.0 > 0) {
            for c in &mut self.classes {
                c.window_start = Some(Box::new(crate::stats::new_histogram()));
            }
            self.sampled = self.totals();
            self.before_reset = Window {
                end: SimTime::ZERO,
                ..self.sampled.clone()
            };
            if window.0 < end {
                self.events.push(window, Event::Sample);
            }
        }
        for si in 0..self.stations.len() {
            if let Some(WritePolicy::WriteBack { interval, .. }) =
                self.stations[si].cache.as_ref().map(|c| c.write_policy)
            {
                self.events
                    .push(interval, Event::Flush { station: si as u32 });
            }
        }

        self.schedule_faults();
        self.start_autoscalers();
        for ci in 0..self.classes.len() {
            match self.classes[ci].load {
                Load::Open { .. } => self.schedule_arrival(ci),
                Load::Closed {
                    population,
                    ref profile,
                    ..
                } => {
                    let users = match profile {
                        Some(p) => {
                            let (start, changes) = p.population_levels();
                            for (i, &(at, _)) in changes.iter().enumerate() {
                                self.events.push(
                                    SimTime(nanos_from_f64(at)),
                                    Event::Population {
                                        class: ci as u32,
                                        change: i as u32,
                                    },
                                );
                            }
                            self.classes[ci].levels = changes;
                            start
                        }
                        None => population,
                    };
                    self.classes[ci].users = users;
                    for _ in 0..users {
                        self.start_thinking(ci);
                    }
                }
            }
        }

        let mut countdown = WATCH_EVERY;
        while let Some((time, event)) = self.events.pop() {
            self.now = time.0;
            if self.apply(event, config, end) {
                break;
            }
            // Checked after every event: one event may bring many requests
            // (a fan-out, a flush), never more than the topology's caps.
            if self.requests.live() as u64 >= config.max_in_system {
                self.halt = Some(Stop::InSystem {
                    limit: config.max_in_system,
                });
                break;
            }
            countdown -= 1;
            if countdown == 0 {
                countdown = WATCH_EVERY;
                if let Some(why) = watch(SimTime(self.now)) {
                    self.halt = Some(why);
                    break;
                }
            }
        }

        let now = self.now;
        self.note_unfinished_waste();
        for s in &mut self.stations {
            s.finish(now);
        }
        let stopped = self.halt.map(|cause| {
            if config.window.is_some_and(|w| w.0 > 0) && now > self.sampled.end.0 {
                self.sample();
            }
            Stopped {
                cause,
                at: SimTime(now),
                asked: config.duration,
            }
        });
        let (duration, first_half) = match stopped {
            None => (config.duration, SimTime(config.duration.0 / 2)),
            Some(_) => {
                // Measured from the reset, or from the start when it never
                // came; a half only if the midpoint was passed.
                let measured = SimTime((now - self.measuring_since).max(1));
                let half = SimTime(config.duration.0 / 2);
                (measured, if self.halved { half } else { SimTime::ZERO })
            }
        };
        RunStats {
            duration,
            first_half,
            stopped,
            events: self.n_events,
            classes: self.classes.iter().map(|c| c.stats.clone()).collect(),
            stations: self.stations.iter().map(|s| s.stats.clone()).collect(),
            series: std::mem::take(&mut self.series),
            faults: {
                let now = self.now;
                self.faults
                    .iter_mut()
                    .map(|f| {
                        f.finish(now);
                        f.stats.clone()
                    })
                    .collect()
            },
            autoscalers: {
                let now = self.now;
                self.scalers.iter_mut().map(|s| s.finish(now)).collect()
            },
        }
    }

    /// Applies one event at `self.now` of a run ending at `end`; true when
    /// the run is over.
    #[inline(always)]
    fn apply(&mut self, event: Event, config: &RunConfig, end: u64) -> bool {
        match event {
            Event::Arrival { class } => {
                self.n_events += 1;
                self.schedule_arrival(class as usize);
                self.new_request(class as usize);
            }
            Event::Departure { req } => {
                if self.requests.is_live(req) {
                    self.n_events += 1;
                    self.depart(req.index);
                }
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
            Event::Timeout { frame } => {
                if self.frames.is_live(frame) {
                    self.n_events += 1;
                    self.time_out(frame);
                }
            }
            Event::Hedge { frame } => {
                if self.frames.is_live(frame) {
                    self.n_events += 1;
                    self.hedge(frame);
                }
            }
            Event::Retry { frame } => {
                if self.frames.is_live(frame) {
                    self.n_events += 1;
                    self.attempt(frame);
                }
            }
            Event::Expire { req } => {
                if self.requests.is_live(req) {
                    self.n_events += 1;
                    self.expire(req.index);
                }
            }
            Event::Admit { req } => {
                if self.requests.is_live(req) {
                    self.n_events += 1;
                    self.admit_delayed(req.index);
                }
            }
            Event::ThinkEnd { class } => {
                self.n_events += 1;
                if !self.leaves(class as usize) {
                    self.new_request(class as usize);
                }
            }
            Event::Population { class, change } => {
                let (ci, i) = (class as usize, change as usize);
                self.populate(ci, self.classes[ci].levels[i].1);
            }
            Event::Flush { station } => {
                self.n_events += 1;
                self.flush(station as usize);
            }
            Event::GcEnd { station } => {
                self.n_events += 1;
                self.gc_end(station as usize);
            }
            Event::Return { station, target } => self.outlier_returns(station as usize, target),
            Event::FaultStart { fault } => self.fault_start(fault as usize),
            Event::FaultEnd { fault } => self.fault_end(fault as usize),
            Event::FaultDetected { fault, occurrence } => {
                self.fault_detected(fault as usize, occurrence);
            }
            Event::Scale { scaler } => self.scale(scaler as usize),
            Event::Ready {
                scaler,
                replica,
                generation,
            } => self.replica_ready(scaler as usize, replica as usize, generation),
            Event::TargetDown { station, target } => self.set_up(station, target, false),
            Event::TargetUp { station, target } => self.set_up(station, target, true),
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
            Event::Midpoint => {
                self.halved = true;
                let now = self.now;
                for s in &mut self.stations {
                    s.advance(now);
                    s.stats.busy_area_first_half = s.stats.busy_area;
                }
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
                return true;
            }
        }
        false
    }

    /// Running totals since the start of the run, now: the counters since
    /// the last reset plus those counted before it.
    fn totals(&self) -> Window {
        let cache = |s: &StationState, f: fn(&cache::Counts) -> u64| {
            s.cache.as_ref().map_or(0, |c| f(&c.counts))
        };
        let mut t = Window {
            end: SimTime(self.now),
            length: SimTime::ZERO,
            arrived: self.classes.iter().map(|c| c.stats.arrived).collect(),
            completed: self.classes.iter().map(|c| c.stats.completed).collect(),
            latency_sum: self.classes.iter().map(|c| c.stats.latency_sum).collect(),
            departures: self.stations.iter().map(|s| s.stats.departures).collect(),
            hits: self.stations.iter().map(|s| cache(s, |c| c.hits)).collect(),
            misses: self
                .stations
                .iter()
                .map(|s| cache(s, |c| c.misses))
                .collect(),
            failed: self
                .classes
                .iter()
                .map(|c| c.stats.failed + c.stats.timed_out + c.stats.dropped + c.stats.rejected)
                .collect(),
            // The areas up to now, read without advancing the stations (so
            // that recording a series changes no figure).
            busy_area: self
                .stations
                .iter()
                .map(|s| s.stats.busy_area + f64::from(s.busy) * (self.now - s.last) as f64)
                .collect(),
            system_area: self
                .stations
                .iter()
                .map(|s| s.stats.system_area + f64::from(s.n) * (self.now - s.last) as f64)
                .collect(),
            slot_queue_area: self
                .stations
                .iter()
                .map(|s| {
                    s.pool.as_ref().map_or(0.0, |p| {
                        s.stats.slot_queue_area
                            + p.waiting.len() as f64 * (self.now - p.last) as f64
                    })
                })
                .collect(),
            ready_area: self
                .scalers
                .iter()
                .map(|s| s.ready_area(self.now))
                .collect(),
            retries: self.stations.iter().map(|s| s.stats.retries).collect(),
            timeouts: self.stations.iter().map(|s| s.stats.timeouts).collect(),
            breaker_open: self
                .stations
                .iter()
                .map(|s| match &s.role {
                    Role::Call(c) => c.breaker.as_ref().map_or(0.0, |b| b.open_at(self.now)),
                    _ => 0.0,
                })
                .collect(),
            // The current window's, not running totals.
            latency_p50: Vec::new(),
            latency_p99: Vec::new(),
        };
        if self.classes.iter().any(|c| c.window_start.is_some()) {
            [t.latency_p50, t.latency_p99] = self.window_quantiles([0.5, 0.99]);
        }
        t.add(&self.before_reset);
        t
    }

    /// Per class, the latency quantiles `qs` of the current window, in
    /// nanoseconds (NaN when none completed, or without a series): those
    /// recorded since its start (for the window the warm-up ends in, since
    /// then).
    fn window_quantiles(&self, qs: [f64; 2]) -> [Vec<f64>; 2] {
        let mut out = [Vec::new(), Vec::new()];
        for c in &self.classes {
            let own = c.window_start.as_ref().map(|start| {
                let mut own = c.stats.latency.clone();
                // The start is an earlier state of the same histogram (or
                // empty after the reset): every count is at most the current.
                let _ = own.subtract(start.as_ref());
                own
            });
            for (o, q) in out.iter_mut().zip(qs) {
                o.push(match &own {
                    Some(h) if !h.is_empty() => h.value_at_quantile(q) as f64,
                    _ => f64::NAN,
                });
            }
        }
        out
    }

    /// Closes the current window of the time series.
    #[cold]
    fn sample(&mut self) {
        let now = self.totals();
        self.series.push(Window::between(&self.sampled, &now));
        self.sampled = now;
        for c in &mut self.classes {
            if let Some(start) = c.window_start.as_mut() {
                start.as_mut().clone_from(&c.stats.latency);
            }
        }
    }

    fn reset_stats(&mut self) {
        // Keep the running totals of the time series across the reset.
        self.before_reset = self.totals();
        self.reset_scalers();
        let now = self.now;
        self.measuring_since = now;
        for s in &mut self.stations {
            s.reset(now);
        }
        for c in &mut self.classes {
            c.stats.reset();
            if let Some(start) = c.window_start.as_mut() {
                start.reset();
            }
        }
        for f in &mut self.faults {
            f.reset(now);
        }
    }

    /// A balancer's target goes down or comes back: bookkeeping of a
    /// schedule, not counted as an event.
    #[cold]
    fn set_up(&mut self, station: u32, target: u32, up: bool) {
        if let Role::Balancer(b) = &mut self.stations[station as usize].role {
            b.set_up(target as usize, up);
        }
    }

    /// Schedules the next external arrival of open class `ci`.
    fn schedule_arrival(&mut self, ci: usize) {
        let class = &mut self.classes[ci];
        let Some(next) = class
            .arrivals
            .next(class.next_arrival, &mut class.arrival_stream)
        else {
            // Its profile's rate stays zero from here on.
            return;
        };
        class.next_arrival = next;
        let at = nanos_from_f64(next).max(self.now);
        // One arrival pending per open class, in the class's standing slot.
        self.events
            .push_standing(ci, SimTime(at), Event::Arrival { class: ci as u32 });
    }

    /// Closed class `ci` has `users` users from now: those joining start
    /// thinking; those leaving do when they next act (users due to leave
    /// stay, first, when more join).
    #[cold]
    fn populate(&mut self, ci: usize, users: u32) {
        let class = &mut self.classes[ci];
        let before = class.users;
        class.users = users;
        if users < before {
            class.leaving += before - users;
            return;
        }
        let stay = (users - before).min(class.leaving);
        class.leaving -= stay;
        for _ in stay..users - before {
            self.start_thinking(ci);
        }
    }

    /// Whether a user of closed class `ci`, about to act, leaves instead.
    #[inline]
    fn leaves(&mut self, ci: usize) -> bool {
        let class = &mut self.classes[ci];
        if class.leaving == 0 {
            return false;
        }
        class.leaving -= 1;
        true
    }

    /// A closed-class user starts thinking (or, without think time, sends
    /// at once); or leaves, if the population is shrinking.
    fn start_thinking(&mut self, ci: usize) {
        if self.leaves(ci) {
            return;
        }
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
}
