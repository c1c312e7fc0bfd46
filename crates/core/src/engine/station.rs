//! A station's queueing state: requests present, busy servers, the waiting
//! line or the processor-sharing jobs, its speed, and the time-weighted
//! areas of its statistics.

use std::collections::{BinaryHeap, VecDeque};

use super::balancer::Balancer;
use super::breaker::BreakerState;
use super::cache::CacheState;
use super::gc::GcState;
use super::hedge::HedgeState;
use super::limit::TokenBucket;
use super::pool::Pool;
use super::replication::ReplicaState;
use super::retry::RetryState;
use super::shed::Shedder;
use crate::rng::Stream;
use crate::stats::StationStats;

/// Requests waiting for a server.
pub(super) enum WaitQueue {
    Fifo(VecDeque<u32>),
    Lifo(Vec<u32>),
    /// One FIFO per priority rank, rank 0 served first.
    Priority(Vec<VecDeque<u32>>),
    /// Processor sharing, a balancer and a call point have no waiting line.
    None,
}

impl WaitQueue {
    #[inline]
    pub(super) fn push(&mut self, req: u32, rank: usize) {
        match self {
            WaitQueue::Fifo(q) => q.push_back(req),
            WaitQueue::Lifo(q) => q.push(req),
            WaitQueue::Priority(qs) => qs[rank].push_back(req),
            WaitQueue::None => unreachable!("only queueing stations queue"),
        }
    }

    #[inline]
    pub(super) fn pop(&mut self) -> Option<u32> {
        match self {
            WaitQueue::Fifo(q) => q.pop_front(),
            WaitQueue::Lifo(q) => q.pop(),
            WaitQueue::Priority(qs) => qs.iter_mut().find_map(|q| q.pop_front()),
            WaitQueue::None => None,
        }
    }

    /// The request waiting longest in a FIFO line.
    pub(super) fn oldest(&self) -> Option<u32> {
        match self {
            WaitQueue::Fifo(q) => q.front().copied(),
            _ => None,
        }
    }

    /// Takes the request waiting longest out of a FIFO line.
    pub(super) fn pop_oldest(&mut self) -> Option<u32> {
        match self {
            WaitQueue::Fifo(q) => q.pop_front(),
            _ => None,
        }
    }

    /// Swaps `req`, just taken from the front of a FIFO line, for the
    /// newest request waiting (adaptive LIFO); `req` when none waits.
    pub(super) fn newest_instead(&mut self, req: u32) -> u32 {
        match self {
            WaitQueue::Fifo(q) => match q.pop_back() {
                Some(newest) => {
                    q.push_front(req);
                    newest
                }
                None => req,
            },
            _ => req,
        }
    }

    /// Requests waiting in a FIFO line.
    pub(super) fn len(&self) -> usize {
        match self {
            WaitQueue::Fifo(q) => q.len(),
            _ => 0,
        }
    }

    /// Whether nobody waits.
    pub(super) fn is_empty(&self) -> bool {
        match self {
            WaitQueue::Fifo(q) => q.is_empty(),
            WaitQueue::Lifo(q) => q.is_empty(),
            WaitQueue::Priority(qs) => qs.iter().all(VecDeque::is_empty),
            WaitQueue::None => true,
        }
    }

    /// Takes `req` out of the line, if it is waiting there.
    pub(super) fn remove(&mut self, req: u32) -> bool {
        fn take(q: &mut VecDeque<u32>, req: u32) -> bool {
            q.iter()
                .position(|&r| r == req)
                .and_then(|i| q.remove(i))
                .is_some()
        }
        match self {
            WaitQueue::Fifo(q) => take(q, req),
            WaitQueue::Lifo(q) => match q.iter().position(|&r| r == req) {
                Some(i) => {
                    q.remove(i);
                    true
                }
                None => false,
            },
            WaitQueue::Priority(qs) => qs.iter_mut().any(|q| take(q, req)),
            WaitQueue::None => false,
        }
    }
}

/// A job in a processor-sharing station, keyed by the virtual time at which
/// its work is done.
#[derive(Clone, Copy, Debug)]
pub(super) struct PsJob {
    pub(super) finish: f64,
    pub(super) seq: u64,
    pub(super) req: u32,
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
/// `speed · min(1, c/n)`. A job arriving with work `w` finishes when `vtime`
/// reaches `vtime_at_arrival + w`, so the next departure is always the heap's
/// minimum. `generation` names the one departure event pending: scheduling
/// another makes the previous one stale.
#[derive(Default)]
pub(super) struct Ps {
    pub(super) vtime: f64,
    pub(super) last: u64,
    pub(super) jobs: BinaryHeap<PsJob>,
    pub(super) generation: u32,
    pub(super) seq: u64,
    /// `vtime` when measurement started: the work a job received since is
    /// its progress past it.
    pub(super) vtime_at_reset: f64,
}

/// A call point's targets and its random stream.
pub(super) struct CallState {
    pub(super) targets: Vec<u32>,
    pub(super) wait: u32,
    /// Targets sent to per attempt, drawn at random; the targets' count
    /// when it sends to all.
    pub(super) choose: usize,
    /// Indices of the targets, the first `choose` of them those of the
    /// attempt made last (a partial shuffle at each attempt).
    pub(super) order: Vec<u32>,
    /// Per class.
    pub(super) probability: Vec<f64>,
    /// Work each request sent brings to its target, or −1.
    pub(super) work: f64,
    pub(super) stream: Stream,
    /// Whether its callees run as requests of their own (see
    /// [`crate::model::CallPoint::forks`]).
    pub(super) forks: bool,
    /// Its timeout per attempt, and the stream drawing it.
    pub(super) timeout: Option<crate::model::Timeout>,
    pub(super) timeout_stream: Stream,
    /// Its retry policy and budget.
    pub(super) retry: Option<RetryState>,
    /// Its hedging policy.
    pub(super) hedge: Option<HedgeState>,
    /// Its circuit breaker.
    pub(super) breaker: Option<BreakerState>,
}

impl CallState {
    /// The targets an attempt sends to: their number, their indices the
    /// first of `order`. When it sends to `choose` of them, a partial
    /// Fisher–Yates shuffle draws them uniformly without replacement
    /// (whatever `order` held before).
    #[inline]
    pub(super) fn draw(&mut self) -> usize {
        if self.choose < self.order.len() {
            self.shuffle();
        }
        self.choose
    }

    /// Moves `choose` targets drawn uniformly without replacement to the
    /// front of `order`.
    #[cold]
    #[inline(never)]
    fn shuffle(&mut self) {
        let n = self.order.len();
        for i in 0..self.choose {
            let left = n - i;
            let j = i + ((self.stream.uniform() * left as f64) as usize).min(left - 1);
            self.order.swap(i, j);
        }
    }
}

/// What a station is, beside its queueing state.
pub(super) enum Role {
    /// A queueing station: requests wait for and use its servers.
    Queue,
    /// A load balancer: requests pass on at once to the target it picks.
    Balancer(Box<Balancer>),
    /// A call point: requests call its targets and wait for their replies.
    Call(Box<CallState>),
}

/// A station's state: its role, its mechanisms (each `None` when absent, and
/// then costing only a flag test, see [`StationState::flags`]), its queue and
/// its statistics.
pub(super) struct StationState {
    pub(super) role: Role,
    /// A rate limit every arrival passes first.
    pub(super) limit: Option<TokenBucket>,
    /// Load shedding at its waiting line (its pool's, else its queue's).
    pub(super) shed: Option<Shedder>,
    /// Admission slots (worker threads, connections, a queue's buffer).
    pub(super) pool: Option<Pool>,
    /// A cache's entries and counts.
    pub(super) cache: Option<Box<CacheState>>,
    /// A garbage-collected heap on this processor-sharing CPU.
    pub(super) gc: Option<Box<GcState>>,
    /// A replicated database's leader or follower.
    pub(super) replica: Option<Box<ReplicaState>>,
    /// The probability that a visit ends in an error, and its stream.
    pub(super) error: f64,
    pub(super) fail_stream: Stream,
    /// The stations whose slots are given back after a visit here.
    pub(super) releases: Vec<u32>,
    pub(super) servers: u32,
    pub(super) capacity: u32,
    pub(super) is_ps: bool,
    /// Requests present.
    pub(super) n: u32,
    /// Requests waiting for a token to arrive here (its rate limit's, or
    /// their class's before this entry).
    pub(super) throttled: u32,
    /// Servers busy.
    pub(super) busy: u32,
    pub(super) queue: WaitQueue,
    pub(super) ps: Ps,
    /// How fast its servers work now, as a factor of their nominal speed:
    /// the product of what slows it ([`StationState::refresh_speed`]).
    /// Processor sharing only.
    pub(super) speed: f64,
    /// Its speed when nothing stops it (1; a fail-slow replica's factor).
    pub(super) nominal_speed: f64,
    /// Crashed (a fault): arrivals fail at once.
    pub(super) down: bool,
    /// Last time the areas were brought up to date.
    pub(super) last: u64,
    pub(super) stats: StationStats,
}

/// Flag bits of [`StationState::flags`], kept apart from the station states
/// so that the common path reads one dense array.
pub(super) mod flag {
    /// An arrival needs more than entering: a balancer, a call point, an
    /// admission pool or a rate limit.
    pub(crate) const SPECIAL_ARRIVAL: u16 = 1;
    /// Some admission slots are given back after a visit here.
    pub(crate) const RELEASES: u16 = 2;
    /// Visits here may end in an error.
    pub(crate) const FAILS: u16 = 4;
    /// A cache: a visit ends with a lookup.
    pub(crate) const LOOKUP: u16 = 8;
    /// Requests entering here allocate on a garbage-collected heap.
    pub(crate) const ALLOCATES: u16 = 16;
    /// Visits here are replicated writes or replica reads.
    pub(crate) const REPLICATES: u16 = 32;
    /// A FIFO station that may serve requests nobody awaits any more (the
    /// run has calls that fork or clients with deadlines): their work is
    /// counted as wasted after the visit.
    pub(crate) const WASTES: u16 = 64;
    /// Any hook that runs after a visit (see `flow.rs`).
    pub(crate) const AFTER_VISIT: u16 = WASTES | RELEASES | FAILS | LOOKUP | REPLICATES;
}

impl StationState {
    /// Which hooks this station needs: one bit per mechanism present.
    pub(super) fn flags(&self) -> u16 {
        let special = !matches!(self.role, Role::Queue)
            || self.pool.is_some()
            || self.limit.is_some()
            || self.shed.is_some();
        u16::from(special) * flag::SPECIAL_ARRIVAL
            + u16::from(!self.releases.is_empty()) * flag::RELEASES
            + u16::from(self.error > 0.0) * flag::FAILS
            + u16::from(self.cache.is_some()) * flag::LOOKUP
            + u16::from(self.gc.is_some()) * flag::ALLOCATES
            + u16::from(self.replica.is_some()) * flag::REPLICATES
    }

    /// What a balancer compares: the requests this target holds a slot for
    /// and those waiting for one when it has an admission pool (a replica's
    /// workers: requests anywhere in the replica), else those present.
    pub(super) fn load(&self) -> u32 {
        match &self.pool {
            Some(p) => p.load(),
            None => self.n,
        }
    }

    /// Starts measuring at `now`: every mechanism's counts restart.
    pub(super) fn reset(&mut self, now: u64) {
        self.advance(now);
        let present = u64::from(self.n);
        if self.is_ps {
            self.ps_update(now);
            self.ps.vtime_at_reset = self.ps.vtime;
        }
        self.stats.reset();
        self.stats.present_start = present;
        self.last = now;
        if let Some(p) = self.pool.as_mut() {
            p.last = now;
            self.stats.waiting_start = p.waiting.len() as u64;
        }
        if let Some(c) = self.cache.as_mut() {
            c.reset(now);
        }
        if let Role::Call(c) = &mut self.role
            && let Some(b) = c.breaker.as_mut()
        {
            b.reset(now);
        }
    }

    /// Ends measuring at `now`: every mechanism's areas brought up to date
    /// and its figures copied into the statistics.
    pub(super) fn finish(&mut self, now: u64) {
        self.advance(now);
        self.stats.present_at_end = u64::from(self.n);
        self.stats.throttled_end = u64::from(self.throttled);
        if let Some(p) = self.pool.as_mut() {
            p.advance(now, &mut self.stats);
            self.stats.waiting_end = p.waiting.len() as u64;
        }
        if let Some(c) = self.cache.as_mut() {
            c.advance(now);
            self.stats.cache = Some(c.stats());
        }
        if let Role::Call(c) = &mut self.role
            && let Some(b) = c.breaker.as_mut()
        {
            b.finish(now);
            self.stats.breaker_opened = b.opened;
            self.stats.breaker_open = b.open;
            self.stats.breaker_half_open = b.half_open;
        }
    }

    /// Adds the areas since the last change, up to `now`.
    #[inline]
    pub(super) fn advance(&mut self, now: u64) {
        let dt = (now - self.last) as f64;
        if dt > 0.0 {
            self.stats.system_area += f64::from(self.n) * dt;
            self.stats.busy_area += f64::from(self.busy) * dt;
            self.stats.queue_area += f64::from(self.n - self.busy) * dt;
            self.last = now;
        }
    }

    /// Recomputes [`StationState::speed`] from what slows the station: its
    /// nominal speed, and zero during a garbage collection pause. Call
    /// [`StationState::ps_update`] first.
    pub(super) fn refresh_speed(&mut self) {
        let paused = self.gc.as_ref().is_some_and(|gc| gc.paused);
        self.speed = if paused { 0.0 } else { self.nominal_speed };
    }

    /// The rate at which each processor-sharing job progresses.
    #[inline]
    pub(super) fn ps_rate(&self) -> f64 {
        if self.n <= self.servers {
            self.speed
        } else {
            self.speed * (f64::from(self.servers) / f64::from(self.n))
        }
    }

    /// Brings the PS virtual time up to `now` (before `n` or `speed` changes).
    #[inline]
    pub(super) fn ps_update(&mut self, now: u64) {
        let dt = (now - self.ps.last) as f64;
        self.ps.vtime += dt * self.ps_rate();
        self.ps.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call to 3 of 6 targets: each draw is 3 distinct targets, and each
    /// of the 20 subsets comes up equally often (chi-square over 100,000
    /// draws, 19 degrees of freedom: under 43.8 at 0.1%).
    #[test]
    fn a_call_draws_k_distinct_targets_every_subset_alike() {
        let mut c = CallState {
            targets: (0..6).collect(),
            wait: 3,
            choose: 3,
            order: (0..6).collect(),
            probability: vec![1.0],
            work: -1.0,
            stream: Stream::new(7),
            forks: true,
            timeout: None,
            timeout_stream: Stream::new(8),
            retry: None,
            hedge: None,
            breaker: None,
        };
        let mut counts = std::collections::BTreeMap::new();
        let draws = 100_000;
        for _ in 0..draws {
            assert_eq!(c.draw(), 3);
            let mut picked = c.order[..3].to_vec();
            picked.sort_unstable();
            picked.dedup();
            assert_eq!(picked.len(), 3, "{:?}", c.order);
            *counts.entry(picked).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 20);
        let expected = f64::from(draws) / 20.0;
        let chi2: f64 = counts
            .values()
            .map(|&n| (f64::from(n) - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 43.8, "chi-square {chi2}: {counts:?}");
    }
}
