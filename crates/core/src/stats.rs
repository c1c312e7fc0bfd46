//! What one replication measured, as raw sums, and the figures derived from them.
//!
//! The engine fills these streaming accumulators: their size does not grow with
//! the simulated duration (histograms have a fixed number of buckets for a
//! given range and precision). Derived figures are in seconds and per second.

use hdrhistogram::Histogram;

use crate::time::{NANOS_PER_SEC, SimTime};

/// Significant digits of the latency histograms.
pub const HISTOGRAM_SIGFIG: u8 = 3;

/// A latency histogram in nanoseconds (1 ns to 1 hour to start with; it grows
/// when a larger value is recorded).
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that satisfy hdrhistogram's requirements
    // (low >= 1, high >= 2 * low, sigfig <= 5), so creation cannot fail.
    let mut h = Histogram::new_with_bounds(1, 3_600_000_000_000, HISTOGRAM_SIGFIG)
        .expect("constant histogram bounds are valid");
    h.auto(true);
    h
}

/// Per-class figures of one replication.
#[derive(Clone, Debug)]
pub struct ClassStats {
    /// The class's name.
    pub name: String,
    /// Requests that arrived during measurement (dropped ones included).
    pub arrived: u64,
    /// Requests that completed during measurement.
    pub completed: u64,
    /// Requests rejected by a full station during measurement.
    pub dropped: u64,
    /// Requests that ended with an error reply during measurement.
    pub failed: u64,
    /// Requests given up during measurement: their class's deadline passed,
    /// or a call they made timed out with no retry left.
    pub timed_out: u64,
    /// Requests whose client had given up that still completed during
    /// measurement: work done for nobody.
    pub late: u64,
    /// Requests rejected by a rate limit or an open circuit breaker during
    /// measurement.
    pub rejected: u64,
    /// End-to-end latencies of the completed requests, in nanoseconds.
    pub latency: Histogram<u64>,
    /// Sum of those latencies, in nanoseconds (exact mean, unlike the histogram).
    pub latency_sum: f64,
    /// Largest latency, in nanoseconds.
    pub latency_max: u64,
}

impl ClassStats {
    pub(crate) fn new(name: &str) -> ClassStats {
        ClassStats {
            name: name.to_owned(),
            arrived: 0,
            completed: 0,
            dropped: 0,
            failed: 0,
            timed_out: 0,
            late: 0,
            rejected: 0,
            latency: new_histogram(),
            latency_sum: 0.0,
            latency_max: 0,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.arrived = 0;
        self.completed = 0;
        self.dropped = 0;
        self.failed = 0;
        self.timed_out = 0;
        self.late = 0;
        self.rejected = 0;
        self.latency.reset();
        self.latency_sum = 0.0;
        self.latency_max = 0;
    }

    #[inline]
    pub(crate) fn record_latency(&mut self, nanos: u64) {
        self.completed += 1;
        // With auto-resize on, recording only fails for values beyond u64's
        // range of buckets, which a u64 cannot exceed; ignore the impossible.
        let _ = self.latency.record(nanos);
        self.latency_sum += nanos as f64;
        self.latency_max = self.latency_max.max(nanos);
    }

    /// Completions per second of measured time.
    pub fn throughput(&self, duration: SimTime) -> f64 {
        self.completed as f64 / duration.as_secs_f64()
    }

    /// Mean end-to-end latency in seconds (NaN when nothing completed).
    pub fn mean_latency(&self) -> f64 {
        self.latency_sum / self.completed as f64 / NANOS_PER_SEC
    }

    /// The latency quantile `q` in seconds, from the histogram (0 when empty).
    pub fn latency_quantile(&self, q: f64) -> f64 {
        // A bucket's highest equivalent value may pass the largest latency
        // recorded: no quantile is above the maximum.
        self.latency.value_at_quantile(q).min(self.latency_max) as f64 / NANOS_PER_SEC
    }

    /// Fraction of arrivals that were dropped (NaN when nothing arrived).
    pub fn drop_ratio(&self) -> f64 {
        self.dropped as f64 / self.arrived as f64
    }

    /// Adds another replication's counts and histogram to these.
    pub fn merge(&mut self, other: &ClassStats) {
        self.arrived += other.arrived;
        self.completed += other.completed;
        self.dropped += other.dropped;
        self.failed += other.failed;
        self.timed_out += other.timed_out;
        self.late += other.late;
        self.rejected += other.rejected;
        // Both histograms auto-resize, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        self.latency_sum += other.latency_sum;
        self.latency_max = self.latency_max.max(other.latency_max);
    }
}

/// Per-station figures of one replication.
#[derive(Clone, Debug, Default)]
pub struct StationStats {
    /// The station's name.
    pub name: String,
    /// Number of servers.
    pub servers: u32,
    /// A call point: its busy servers are the calls in progress.
    pub call: bool,
    /// A call point with a timeout, a retry or hedging policy or a breaker.
    pub protected: bool,
    /// A call point with a circuit breaker.
    pub breaker: bool,
    /// Accepted arrivals during measurement.
    pub arrivals: u64,
    /// Completed visits during measurement.
    pub departures: u64,
    /// Arrivals rejected because the station was full.
    pub dropped: u64,
    /// Visits that ended in an error here.
    pub errors: u64,
    /// At a call point: attempts that timed out.
    pub timeouts: u64,
    /// At a call point: attempts made again (after a failure or timeout).
    pub retries: u64,
    /// At a call point: retries its budget refused.
    pub retries_refused: u64,
    /// At a call point: extra copies sent of slow attempts (hedging).
    pub hedges: u64,
    /// At a call point: replies that came after the call was over (timed
    /// out, failed, or answered by the first `wait`), ignored.
    pub late_replies: u64,
    /// Requests dropped when they would have started here (at the head of
    /// its queue, or given a slot of its pool) because their deadline had
    /// passed (`cancel = "at_dequeue"` or `"preempt"`).
    pub expired: u64,
    /// Requests taken out here at their deadline (`cancel = "preempt"`).
    pub cancelled: u64,
    /// Arrivals its rate limit rejected.
    pub limited: u64,
    /// Requests its load shedding dropped at the head of its line.
    pub shed: u64,
    /// At a call point with a breaker: attempts it refused, times it
    /// opened, and the time it spent open and half-open (nanoseconds).
    pub breaker_rejected: u64,
    /// Times its breaker opened.
    pub breaker_opened: u64,
    /// Targets it ejected as outliers (a balancer).
    pub ejections: u64,
    /// Nanoseconds its breaker was open.
    pub breaker_open: f64,
    /// Nanoseconds its breaker was half-open.
    pub breaker_half_open: f64,
    /// Arrivals its rate limit delayed.
    pub delayed: u64,
    /// The sum of their delays, in nanoseconds.
    pub delay_sum: f64,
    /// Service time here (nanoseconds, at the station's speed) of visits
    /// whose result nobody awaited any more: a request whose client gave
    /// up, or a callee whose call was over.
    pub wasted: f64,
    /// Integral of busy servers over measured time (server-nanoseconds).
    pub busy_area: f64,
    /// The same over the first half of the measured time
    /// ([`RunStats::first_half`]): the two halves of a run tell its noise.
    pub busy_area_first_half: f64,
    /// Integral of requests present (nanosecond-requests).
    pub system_area: f64,
    /// Integral of requests waiting, not in service (nanosecond-requests).
    pub queue_area: f64,
    /// Sum over completed visits of the time queued before service, in
    /// nanoseconds (for processor sharing: response minus own work).
    pub wait_sum: f64,
    /// Sum over completed visits of the time at the station, in nanoseconds.
    pub response_sum: f64,
    /// Slots of the station's admission pool (0 without one).
    pub slots: u32,
    /// Integral of slots held (nanosecond-slots).
    pub slots_area: f64,
    /// Integral of requests waiting for a slot (nanosecond-requests).
    pub slot_queue_area: f64,
    /// Requests that asked for a slot during measurement (admitted at
    /// once, waiting, or refused: what a pooled station receives).
    pub asked: u64,
    /// Requests admitted (given a slot) during measurement.
    pub admitted: u64,
    /// Sum of their waits for a slot, in nanoseconds.
    pub slot_wait_sum: f64,
    /// For a pool of connections: connections opened (handshakes paid).
    pub connects: u64,
    /// For a cache: its lookups and writes.
    pub cache: Option<CacheStats>,
    /// For a replicated database's leader: writes.
    pub replicated_writes: u64,
    /// For a follower: reads, and those that were stale.
    pub replica_reads: u64,
    /// Reads that missed a write not yet replicated.
    pub stale_reads: u64,
    /// For a CPU with a garbage collector: pauses started.
    pub gc_pauses: u64,
    /// Their total length, in nanoseconds.
    pub gc_pause_sum: f64,
    /// The longest, in nanoseconds.
    pub gc_pause_max: u64,
    /// Requests waiting for a slot when measurement started.
    pub waiting_start: u64,
    /// Requests waiting for a slot when measurement ended: a queue's
    /// backlog grew by the difference.
    pub waiting_end: u64,
    /// Requests present when measurement started (in service or queued).
    pub present_start: u64,
    /// Requests present when the run ended (in service or queued; those
    /// waiting for a slot of its pool are `waiting_end`).
    pub present_at_end: u64,
    /// Requests waiting for a token of its rate limit (or of their class's,
    /// to enter here) when the run ended.
    pub throttled_end: u64,
}

impl StationStats {
    /// Its servers, or `None` for a station that never queues
    /// ([`crate::model::Queue::INFINITE`]).
    pub fn finite_servers(&self) -> Option<u32> {
        (self.servers != crate::model::Queue::INFINITE).then_some(self.servers)
    }

    /// Time-averaged fraction of servers busy.
    pub fn utilization(&self, duration: SimTime) -> f64 {
        self.busy_area / duration.as_nanos() as f64 / f64::from(self.servers)
    }
    /// The utilisation over each half of the measured time of `run`; NaN
    /// when the run stopped before its midpoint.
    pub fn utilization_halves(&self, run: &RunStats) -> [f64; 2] {
        if run.first_half == SimTime::ZERO {
            return [f64::NAN; 2];
        }
        let (first, second) = (run.first_half.0, run.duration.0 - run.first_half.0);
        let of = |area: f64, length: u64| area / length as f64 / f64::from(self.servers);
        [
            of(self.busy_area_first_half, first),
            of(self.busy_area - self.busy_area_first_half, second),
        ]
    }
    /// Completed visits per second.
    pub fn throughput(&self, duration: SimTime) -> f64 {
        self.departures as f64 / duration.as_secs_f64()
    }
    /// Time-averaged number of requests present, `L`.
    pub fn mean_in_system(&self, duration: SimTime) -> f64 {
        self.system_area / duration.as_nanos() as f64
    }
    /// Time-averaged number of requests waiting, `Lq`.
    pub fn mean_queue_len(&self, duration: SimTime) -> f64 {
        self.queue_area / duration.as_nanos() as f64
    }
    /// Mean wait per visit in seconds, `Wq`.
    pub fn mean_wait(&self) -> f64 {
        self.wait_sum / self.departures as f64 / NANOS_PER_SEC
    }
    /// Mean time per visit in seconds, `W`.
    pub fn mean_response(&self) -> f64 {
        self.response_sum / self.departures as f64 / NANOS_PER_SEC
    }

    /// Time-averaged fraction of admission slots held (NaN without a pool).
    pub fn slot_utilization(&self, duration: SimTime) -> f64 {
        self.slots_area / duration.as_nanos() as f64 / f64::from(self.slots)
    }
    /// Time-averaged number of requests waiting for a slot.
    pub fn mean_slot_queue(&self, duration: SimTime) -> f64 {
        self.slot_queue_area / duration.as_nanos() as f64
    }
    /// Mean wait for a slot per admitted request, in seconds.
    pub fn mean_slot_wait(&self) -> f64 {
        self.slot_wait_sum / self.admitted as f64 / NANOS_PER_SEC
    }

    pub(crate) fn reset(&mut self) {
        let name = std::mem::take(&mut self.name);
        *self = StationStats {
            name,
            servers: self.servers,
            slots: self.slots,
            call: self.call,
            protected: self.protected,
            breaker: self.breaker,
            ..StationStats::default()
        };
    }
}

/// A cache's figures over the measured time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CacheStats {
    /// Reads served from the cache.
    pub hits: u64,
    /// Reads that went to the backing store.
    pub misses: u64,
    /// Writes.
    pub writes: u64,
    /// Dirty entries written to the backing store (write-back).
    pub flushed: u64,
    /// Integral of dirty entries, the writes at risk, over time
    /// (nanosecond-entries).
    pub dirty_area: f64,
    /// Most dirty entries at once.
    pub dirty_max: u64,
    /// Dirty entries when measurement ended.
    pub dirty_end: u64,
    /// Entries held when measurement ended (LRU caches).
    pub entries_end: Option<u32>,
}

impl CacheStats {
    /// Hits over reads (NaN without reads).
    pub fn hit_ratio(&self) -> f64 {
        self.hits as f64 / (self.hits + self.misses) as f64
    }

    /// Time-averaged number of writes at risk: dirty entries (keys whose
    /// latest write is not flushed; writes to a dirty key coalesce).
    pub fn mean_at_risk(&self, duration: SimTime) -> f64 {
        self.dirty_area / duration.as_nanos() as f64
    }
}

/// What happened during one window of a run's time series (see
/// [`crate::model::RunConfig::window`]). Windows cover the whole run from
/// its start, warm-up included, so that transients (a cold cache) show.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Window {
    /// When the window ends, since the start of the run.
    pub end: SimTime,
    /// Its length (the last window may be shorter).
    pub length: SimTime,
    /// Per class: requests arrived in the window.
    pub arrived: Vec<u64>,
    /// Per class: requests completed in the window.
    pub completed: Vec<u64>,
    /// Per class: the sum of their latencies, in nanoseconds.
    pub latency_sum: Vec<f64>,
    /// Per station: visits completed in the window.
    pub departures: Vec<u64>,
    /// Per station: cache hits in the window (0 elsewhere).
    pub hits: Vec<u64>,
    /// Per station: cache misses in the window (0 elsewhere).
    pub misses: Vec<u64>,
    /// Per class: requests that ended badly in the window (failed, timed
    /// out, dropped or rejected).
    pub failed: Vec<u64>,
    /// Per station: busy servers integrated over the window (server-
    /// nanoseconds): its utilisation is this over length × servers.
    pub busy_area: Vec<f64>,
    /// Per station: requests present integrated over the window: its mean
    /// number present is this over the length.
    pub system_area: Vec<f64>,
    /// Per station: requests waiting for one of its slots (workers,
    /// connections, a queue's consumers) integrated over the window.
    pub slot_queue_area: Vec<f64>,
    /// Per autoscaler: replicas ready integrated over the window
    /// (replica-nanoseconds): the mean number ready is this over the length.
    pub ready_area: Vec<f64>,
    /// Per station: a call's retries sent in the window.
    pub retries: Vec<u64>,
    /// Per station: a call's attempts timed out in the window.
    pub timeouts: Vec<u64>,
    /// Per station: nanoseconds its circuit breaker was open in the window.
    pub breaker_open: Vec<f64>,
    /// Per class: the median latency of the requests completed in the
    /// window, in nanoseconds (NaN when none completed).
    pub latency_p50: Vec<f64>,
    /// Per class: their 99th percentile (NaN when none completed).
    pub latency_p99: Vec<f64>,
}

impl Window {
    /// Counts from `before` to `after`, two running totals.
    pub(crate) fn between(before: &Window, after: &Window) -> Window {
        let diff = |a: &[u64], b: &[u64]| a.iter().zip(b).map(|(x, y)| x - y).collect();
        let fdiff = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x - y).collect();
        Window {
            end: after.end,
            length: SimTime(after.end.0 - before.end.0),
            arrived: diff(&after.arrived, &before.arrived),
            completed: diff(&after.completed, &before.completed),
            latency_sum: after
                .latency_sum
                .iter()
                .zip(&before.latency_sum)
                .map(|(x, y)| x - y)
                .collect(),
            departures: diff(&after.departures, &before.departures),
            hits: diff(&after.hits, &before.hits),
            misses: diff(&after.misses, &before.misses),
            failed: diff(&after.failed, &before.failed),
            busy_area: fdiff(&after.busy_area, &before.busy_area),
            system_area: fdiff(&after.system_area, &before.system_area),
            slot_queue_area: fdiff(&after.slot_queue_area, &before.slot_queue_area),
            ready_area: fdiff(&after.ready_area, &before.ready_area),
            retries: diff(&after.retries, &before.retries),
            timeouts: diff(&after.timeouts, &before.timeouts),
            breaker_open: fdiff(&after.breaker_open, &before.breaker_open),
            // Not running totals: the window's own, as the later reading has them.
            latency_p50: after.latency_p50.clone(),
            latency_p99: after.latency_p99.clone(),
        }
    }

    /// Adds `other`'s counts to these (running totals across a reset).
    pub(crate) fn add(&mut self, other: &Window) {
        let add = |a: &mut [u64], b: &[u64]| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        add(&mut self.arrived, &other.arrived);
        add(&mut self.completed, &other.completed);
        add(&mut self.departures, &other.departures);
        add(&mut self.hits, &other.hits);
        add(&mut self.misses, &other.misses);
        add(&mut self.failed, &other.failed);
        let fadd = |a: &mut [f64], b: &[f64]| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        fadd(&mut self.latency_sum, &other.latency_sum);
        fadd(&mut self.busy_area, &other.busy_area);
        fadd(&mut self.system_area, &other.system_area);
        fadd(&mut self.slot_queue_area, &other.slot_queue_area);
        fadd(&mut self.ready_area, &other.ready_area);
        add(&mut self.retries, &other.retries);
        add(&mut self.timeouts, &other.timeouts);
        fadd(&mut self.breaker_open, &other.breaker_open);
    }
}

/// Why a run stopped before its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// It held [`crate::model::RunConfig::max_in_system`] requests (where
    /// they were: each station's [`StationStats::present_at_end`] and
    /// [`StationStats::waiting_end`]).
    InSystem {
        /// The limit.
        limit: u64,
    },
    /// Its watcher stopped it: it ran longer than its wall-clock limit.
    TimeLimit,
    /// Its watcher stopped it: the user interrupted.
    Interrupted,
}

/// A run that stopped early: why, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// Why.
    pub cause: Stop,
    /// The simulated time it stopped at, since its start.
    pub at: SimTime,
    /// The measured time it was asked for ([`RunStats::duration`] is what
    /// it measured: from the end of the warm-up, or from the start when it
    /// stopped during the warm-up).
    pub asked: SimTime,
}

/// What one fault did during the measured time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultStats {
    /// Occurrences that started (the one under way at the end of warm-up
    /// counts in `active_time`, not here).
    pub occurrences: u64,
    /// Nanoseconds it was under way.
    pub active_time: f64,
    /// Requests a crash took down with it (waiting, served, or awaiting a
    /// call at its stations), or that failed at its stations while an
    /// `errors` fault was under way.
    pub failed: u64,
    /// Requests that arrived at its crashed stations and were refused.
    pub refused: u64,
}

/// What one autoscaler did during the measured time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScalerStats {
    /// Replicas billed (asked for and not yet removed: starting or ready)
    /// integrated over time, in replica-nanoseconds.
    pub billed_area: f64,
    /// Replicas ready integrated over time, in replica-nanoseconds.
    pub ready_area: f64,
    /// Evaluations that asked for more replicas.
    pub scale_ups: u64,
    /// Evaluations that asked for fewer.
    pub scale_ins: u64,
    /// Most replicas asked for at once.
    pub peak: u32,
    /// Nanoseconds during which it asked for its most replicas.
    pub at_max: f64,
    /// Replicas ready at the end.
    pub ready_at_end: u32,
}

/// Everything one replication measured.
#[derive(Clone, Debug)]
pub struct RunStats {
    /// Measured simulated time: after the warm-up, to the end or to an
    /// early stop.
    pub duration: SimTime,
    /// The length of its first half (`duration / 2`, rounded down); zero
    /// when it stopped before then.
    pub first_half: SimTime,
    /// Set when it stopped before its end: every figure is then over a
    /// shorter time than asked (and, under overload, a lower bound of what
    /// the whole run would show).
    pub stopped: Option<Stopped>,
    /// Events the engine processed, warm-up included.
    pub events: u64,
    /// Per class, in topology order.
    pub classes: Vec<ClassStats>,
    /// Per station, in topology order.
    pub stations: Vec<StationStats>,
    /// The time series, when asked for: one entry per window.
    pub series: Vec<Window>,
    /// Per fault, in topology order.
    pub faults: Vec<FaultStats>,
    /// Per autoscaler, in topology order.
    pub autoscalers: Vec<ScalerStats>,
}
