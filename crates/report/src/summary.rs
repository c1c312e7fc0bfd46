//! Across-replication estimates: means, Student-t confidence intervals and
//! pooled percentiles, in the shape of the JSON contract (MODEL.md §5).

use std::collections::BTreeMap;

use chokepoint_core::stats::{RunStats, ScalerStats, StationStats, Stop};
use chokepoint_scenario::layout::{ReplicaLayout, ReplicaRole, ServiceLayout};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, FisherSnedecor, StudentsT};

/// A sample mean and the half-width of its confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Mean over the values that are finite.
    pub mean: f64,
    /// Half-width of the two-sided interval; `None` with fewer than two values.
    pub half_width: Option<f64>,
}

/// The two-sided Student-t quantile for `confidence` with `n - 1` degrees of freedom.
pub fn t_quantile(confidence: f64, n: usize) -> Option<f64> {
    if n < 2 {
        return None;
    }
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64).ok()?;
    Some(t.inverse_cdf(0.5 + confidence / 2.0))
}

impl Estimate {
    /// The mean of `values` and the half-width at `confidence` (such as 0.95),
    /// treating them as i.i.d. (independent replications). NaN values (a
    /// replication where the figure is undefined, such as a mean latency with
    /// no completion) are left out.
    pub fn of(values: &[f64], confidence: f64) -> Estimate {
        let finite: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let n = finite.len();
        let mean = finite.iter().sum::<f64>() / n as f64;
        let half_width = t_quantile(confidence, n).map(|t| {
            let var = finite.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            t * (var / n as f64).sqrt()
        });
        Estimate { mean, half_width }
    }
}

/// Run-level facts.
#[derive(Clone, Debug, Serialize)]
pub struct Engine {
    /// Events processed, summed over replications.
    pub events: u64,
    /// Wall-clock seconds for all replications.
    pub wall: f64,
    /// `events / wall`.
    pub events_per_sec: f64,
}

/// End-to-end latency of a class, in seconds.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    /// Mean of the per-replication means.
    pub mean: Option<f64>,
    /// 95% CI half-width of `mean`.
    pub mean_ci95: Option<f64>,
    /// Median, from the histogram pooled over replications; `None` when
    /// nothing completed (as every percentile and the maximum).
    pub p50: Option<f64>,
    /// 95% CI half-width of the per-replication medians.
    pub p50_ci95: Option<f64>,
    /// 90th percentile, pooled.
    pub p90: Option<f64>,
    /// 95% CI half-width of the per-replication 90th percentiles.
    pub p90_ci95: Option<f64>,
    /// 99th percentile, pooled.
    pub p99: Option<f64>,
    /// 95% CI half-width of the per-replication 99th percentiles.
    pub p99_ci95: Option<f64>,
    /// 99.9th percentile, pooled.
    pub p999: Option<f64>,
    /// 95% CI half-width of the per-replication 99.9th percentiles.
    pub p999_ci95: Option<f64>,
    /// Largest latency seen.
    pub max: Option<f64>,
    /// The pooled distribution, (quantile, seconds): every percent, then
    /// the tail's nines to p99.999 and the maximum, for the HTML report's
    /// spectrum and CDF (empty when nothing completed). Not in the JSON.
    #[serde(skip)]
    pub spectrum: Vec<(f64, f64)>,
}

/// The quantiles of [`Latency::spectrum`].
fn spectrum_quantiles() -> impl Iterator<Item = f64> {
    (0..100)
        .map(|i| f64::from(i) / 100.0)
        .chain([0.995, 0.999, 0.9995, 0.9999, 0.99999, 1.0])
}

/// Figures of one class.
#[derive(Clone, Debug, Serialize)]
pub struct ClassSummary {
    /// Arrivals (dropped ones included), summed over replications.
    pub arrived: u64,
    /// Completions, summed over replications.
    pub completed: u64,
    /// Rejections at full stations, summed over replications.
    pub dropped: u64,
    /// Requests that ended in an error (a failing dependency), summed over replications.
    pub failed: u64,
    /// Requests given up (the class's `deadline` passed, or a call timed
    /// out with no retry left), summed over replications.
    pub timed_out: u64,
    /// Requests whose client had given up that completed anyway (work done
    /// for nobody), summed over replications.
    pub late: u64,
    /// Requests turned away by a rate limit (or an open circuit breaker),
    /// summed over replications.
    pub rejected: u64,
    /// Completions per second, mean over replications.
    pub throughput: f64,
    /// 95% CI half-width of `throughput`.
    pub throughput_ci95: Option<f64>,
    /// Fraction of arrivals dropped, over all replications.
    pub drop_ratio: f64,
    /// End-to-end latency.
    pub latency: Latency,
}

/// Figures of one station.
#[derive(Clone, Debug, Serialize)]
pub struct StationSummary {
    /// Number of servers; `null` for a station that never queues (infinite
    /// servers: an external dependency, a network hop).
    pub servers: Option<u32>,
    /// Busy servers over servers, time-averaged.
    pub utilization: f64,
    /// 95% CI half-width.
    pub utilization_ci95: Option<f64>,
    /// Completed visits per second.
    pub throughput: f64,
    /// Time-averaged number present, L.
    pub mean_in_system: f64,
    /// 95% CI half-width.
    pub mean_in_system_ci95: Option<f64>,
    /// Time-averaged number waiting, Lq.
    pub mean_queue_len: f64,
    /// 95% CI half-width.
    pub mean_queue_len_ci95: Option<f64>,
    /// Mean wait per visit in seconds, Wq.
    pub mean_wait: Option<f64>,
    /// 95% CI half-width.
    pub mean_wait_ci95: Option<f64>,
    /// Mean time per visit in seconds, W.
    pub mean_response: Option<f64>,
    /// Rejected arrivals, summed over replications.
    pub dropped: u64,
    /// For a replicated service: how many replicas.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// For a replicated service: the hardware profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// For a service with several replicas: the CPU utilisation of the
    /// busiest replica in each replication, averaged (equal to
    /// `utilization` when the load is even).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busiest_replica: Option<f64>,
    /// 95% CI half-width of `busiest_replica`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busiest_replica_ci95: Option<f64>,
    /// For a service with several replicas meant to be alike: whether their
    /// CPU load is unequal, by a difference both significant and material
    /// (see [`uneven_load`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uneven_load: Option<bool>,
    /// For a replicated service: replicas × the profile's price, dollars per hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_hour: Option<f64>,
    /// For a station with an admission pool (a replica's `workers`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<Workers>,
    /// For a database with read replicas: writes, reads and stale reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationSummary>,
    /// For a sharded service: each shard's share of the load, the hottest
    /// shard, and the load at which it saturates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<ShardsSummary>,
    /// For an autoscaled service: the replicas it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscaleSummary>,
    /// For a service whose replicas collect garbage: their pauses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gc: Option<GcSummary>,
    /// For a cache: hits, misses, writes and the writes at risk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheSummary>,
    /// For a service with locks: each lock, over its stripes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locks: Option<BTreeMap<String, LockSummary>>,
    /// For a service made of several stations (replicas, calls): where a
    /// request's time in it goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Breakdown>,
    /// When requests pile up in its stations (queued or in service, beyond
    /// its workers' line) faster than 1% of its arrivals, significantly:
    /// how fast, per second. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backlog_growth: Option<f64>,
    /// 95% CI half-width of `backlog_growth`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backlog_growth_ci95: Option<f64>,
    /// Where calls are given up, retried, or work is dropped or wasted:
    /// present when the station or service has a call with a timeout or a
    /// retry policy, or any of these happened there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resilience: Option<ResilienceSummary>,
    /// For a replicated service: each replica's stations (`cpu`, and `lock`,
    /// `disk`, `net` when it has them), by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<BTreeMap<String, StationSummary>>,
}

/// Timeouts, retries and wasted work at a station or service, summed over
/// its stations and the replications.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ResilienceSummary {
    /// Calls made with a timeout, a retry or a hedging policy.
    pub calls: u64,
    /// Attempts per such call, retries included (hedges are not attempts).
    pub attempts_per_call: Option<f64>,
    /// Attempts that timed out.
    pub timeouts: u64,
    /// Attempts made again.
    pub retries: u64,
    /// Retries the budget refused.
    pub retries_refused: u64,
    /// Extra copies sent of slow attempts (hedged requests).
    pub hedges: u64,
    /// Replies that came after their call was over, ignored.
    pub late_replies: u64,
    /// Requests dropped before starting because their deadline had passed.
    pub expired: u64,
    /// Requests taken out at their deadline.
    pub cancelled: u64,
    /// Requests its load shedding (CoDel) dropped.
    pub shed: u64,
    /// Arrivals its rate limit rejected.
    pub rate_limited: u64,
    /// Arrivals its rate limit delayed.
    pub delayed: u64,
    /// Their mean delay, in seconds.
    pub mean_delay: Option<f64>,
    /// Calls its circuit breakers refused.
    pub breaker_rejected: u64,
    /// Times they opened.
    pub breaker_opened: u64,
    /// The share of time they were open (averaged over its breakers and
    /// the replications); `null` without a breaker.
    pub breaker_open: Option<f64>,
    /// The same, half-open.
    pub breaker_half_open: Option<f64>,
    /// Targets its balancers ejected as outliers.
    pub ejections: u64,
    /// The share of its servers' busy time spent on requests nobody
    /// awaited any more (their client gave up, or their call was over).
    pub wasted: Option<f64>,
}

/// How fast requests pile up in `stations` (queued or in service, their
/// pools' lines apart), when significantly faster than 1% of their
/// arrivals: a backlog that grows without bound (a retry storm's database,
/// say). Call points are left out: their callers are counted where they
/// wait.
fn backlog(runs: &[RunStats], stations: &[usize]) -> Option<Estimate> {
    let own: Vec<usize> = stations
        .iter()
        .copied()
        .filter(|&i| !runs[0].stations[i].call)
        .collect();
    let growth = estimate(runs, &|r| {
        let grew: f64 = own
            .iter()
            .map(|&i| r.stations[i].present_at_end as f64 - r.stations[i].present_start as f64)
            .sum();
        grew / r.duration.as_secs_f64()
    });
    let arrivals = estimate(runs, &|r| {
        own.iter().map(|&i| r.stations[i].arrivals).sum::<u64>() as f64 / r.duration.as_secs_f64()
    });
    unstable(&growth, arrivals.mean).then_some(growth)
}

/// Whether a backlog `growth` (per second) is a queue growing without
/// bound: more than 1% of the `rate` (per second) feeding it, with its 95%
/// interval above zero.
fn unstable(growth: &Estimate, rate: f64) -> bool {
    let low = growth.mean - growth.half_width.unwrap_or(f64::INFINITY);
    growth.mean > 0.01 * rate && low > 0.0
}

/// The resilience figures of `stations` (one station, or every station of a
/// service), or `None` when it has nothing to say.
fn resilience(runs: &[RunStats], stations: &[usize]) -> Option<ResilienceSummary> {
    let mut r = ResilienceSummary::default();
    let (mut wasted, mut busy, mut delay, mut protected) = (0.0, 0.0, 0.0, false);
    let (mut open, mut half_open, mut breakers) = (0.0, 0.0, 0u32);
    for run in runs {
        for &i in stations {
            let s = &run.stations[i];
            if s.breaker {
                let length = run.duration.as_nanos() as f64;
                open += s.breaker_open / length;
                half_open += s.breaker_half_open / length;
                breakers += 1;
                r.breaker_rejected += s.breaker_rejected;
                r.breaker_opened += s.breaker_opened;
            }
            protected |= s.protected;
            if s.protected {
                r.calls += s.arrivals;
            }
            r.timeouts += s.timeouts;
            r.retries += s.retries;
            r.retries_refused += s.retries_refused;
            r.hedges += s.hedges;
            r.late_replies += s.late_replies;
            r.expired += s.expired;
            r.cancelled += s.cancelled;
            r.rate_limited += s.limited;
            r.shed += s.shed;
            r.delayed += s.delayed;
            r.ejections += s.ejections;
            delay += s.delay_sum;
            if !s.call {
                wasted += s.wasted;
                busy += s.busy_area;
            }
        }
    }
    let happened = r.timeouts
        + r.retries
        + r.retries_refused
        + r.hedges
        + r.late_replies
        + r.expired
        + r.cancelled
        + r.rate_limited
        + r.shed
        + r.delayed
        + r.ejections
        > 0
        || wasted > 0.0;
    if !protected && !happened {
        return None;
    }
    r.attempts_per_call = (r.calls > 0).then(|| (r.calls + r.retries) as f64 / r.calls as f64);
    r.wasted = (busy > 0.0).then(|| wasted / busy);
    r.mean_delay = (r.delayed > 0).then(|| delay / r.delayed as f64 / 1e9);
    if breakers > 0 {
        r.breaker_open = Some(open / f64::from(breakers));
        r.breaker_half_open = Some(half_open / f64::from(breakers));
    }
    Some(r)
}

/// Mean seconds per request through a service, by where they are spent;
/// they add up to its `mean_response`.
#[derive(Clone, Debug, Serialize)]
pub struct Breakdown {
    /// Waiting for a slot of its pool: a worker (thread), or a database's
    /// connection.
    pub pool_wait: Option<f64>,
    /// Opening connections (the handshakes), for a database with a pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect: Option<f64>,
    /// Waiting in the queues of its own stations (its cores, lock, disk).
    pub queue: Option<f64>,
    /// Being served by its own stations (CPU, lock, disk, network).
    pub work: Option<f64>,
    /// Waiting on each callee, whole calls (hop, queues, work, nested calls).
    pub calls: BTreeMap<String, Option<f64>>,
}

impl Breakdown {
    /// Its parts in the order they happen, named: `pool wait` (when the
    /// service has a pool: `pooled`), `connect`, `queue`, `work`, then each
    /// callee.
    pub fn parts(&self, pooled: bool) -> Vec<(String, Option<f64>)> {
        let mut parts = Vec::new();
        if pooled {
            parts.push(("pool wait".to_owned(), self.pool_wait));
        }
        if self.connect.is_some() {
            parts.push(("connect".to_owned(), self.connect));
        }
        parts.push(("queue".to_owned(), self.queue));
        parts.push(("work".to_owned(), self.work));
        parts.extend(self.calls.iter().map(|(callee, t)| (callee.clone(), *t)));
        parts
    }
}

/// An admission pool's figures (worker threads, connections).
#[derive(Clone, Debug, Serialize)]
pub struct Workers {
    /// Slots, summed over replicas.
    pub slots: u32,
    /// Time-averaged fraction of slots held.
    pub utilization: f64,
    /// Time-averaged number of requests waiting for a slot.
    pub mean_waiting: f64,
    /// Mean wait for a slot per admitted request, seconds: for a queue, the
    /// messages' age when a consumer takes them.
    pub mean_wait: Option<f64>,
    /// How fast the line waiting for a slot grew during measurement, per
    /// second (its length at the end minus at the start, over the duration).
    pub backlog_growth: f64,
    /// 95% CI half-width of `backlog_growth`.
    pub backlog_growth_ci95: Option<f64>,
    /// The backlog grows without bound: its growth is above 1% of the
    /// admission rate, and its 95% interval above zero.
    pub unstable: bool,
    /// For a pool of connections: connections opened per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connects: Option<f64>,
}

/// A sharded service's shards.
#[derive(Clone, Debug, Serialize)]
pub struct ShardsSummary {
    /// Each shard, in order.
    pub shards: Vec<ShardFigures>,
    /// The shard whose busiest resource is the most used (from 0).
    pub hottest: u32,
    /// The hottest shard's share of the requests the shards received.
    pub hottest_share: f64,
    /// 95% CI half-width.
    pub hottest_share_ci95: Option<f64>,
    /// Each shard's share if the load were even: 1 / shards.
    pub even_share: f64,
    /// Requests per second arriving at the service (at this mix of
    /// classes) at which the first of its shards' resources is fully used:
    /// the arrival rate × its throughput per unit of utilisation / its
    /// arrival rate, least over every shard's servers (its CPU, serial
    /// section, disk, network). What adding shards moves, and a hot shard
    /// holds back.
    pub saturates_at: Option<f64>,
    /// 95% CI half-width.
    pub saturates_at_ci95: Option<f64>,
}

/// One shard's figures.
#[derive(Clone, Debug, Serialize)]
pub struct ShardFigures {
    /// Its share of the requests the shards received, mean over replications.
    pub share: f64,
    /// 95% CI half-width.
    pub share_ci95: Option<f64>,
    /// Requests per second it received.
    pub arrival_rate: f64,
    /// The utilisation of its busiest resource (CPU, serial section, disk,
    /// network of any of its replicas).
    pub utilization: f64,
    /// 95% CI half-width.
    pub utilization_ci95: Option<f64>,
}

/// A sharded service's shards, from the arrivals at their own stations and
/// the utilisation of their replicas' servers.
fn shards(runs: &[RunStats], svc: &ServiceLayout) -> ShardsSummary {
    use chokepoint_scenario::layout::Part;
    let entries: Vec<usize> = svc.shards.iter().map(|s| s.entry.idx()).collect();
    // Each shard's servers: every own station of its replicas but the
    // connection step, which never queues.
    let servers: Vec<Vec<usize>> = svc
        .shards
        .iter()
        .map(|s| {
            svc.replicas[s.replicas.clone()]
                .iter()
                .flat_map(|r| r.own.iter())
                .filter(|(part, _)| *part != Part::Connect)
                .map(|&(_, id)| id.idx())
                .collect()
        })
        .collect();
    let share = |r: &RunStats, k: usize| {
        let total: u64 = entries.iter().map(|&i| r.stations[i].arrivals).sum();
        r.stations[entries[k]].arrivals as f64 / total.max(1) as f64
    };
    let busiest = |r: &RunStats, k: usize| {
        servers[k]
            .iter()
            .map(|&i| r.stations[i].utilization(r.duration))
            .fold(0.0, f64::max)
    };
    let figures: Vec<ShardFigures> = (0..entries.len())
        .map(|k| {
            let sh = estimate(runs, &|r| share(r, k));
            let u = estimate(runs, &|r| busiest(r, k));
            ShardFigures {
                share: sh.mean,
                share_ci95: sh.half_width,
                arrival_rate: estimate(runs, &|r| {
                    r.stations[entries[k]].arrivals as f64 / r.duration.as_secs_f64()
                })
                .mean,
                utilization: u.mean,
                utilization_ci95: u.half_width,
            }
        })
        .collect();
    // The most used; among shards alike to 0.1% (every one saturated, say),
    // the one with the largest share of the requests.
    let used = |k: usize| ((figures[k].utilization * 1000.0).round(), figures[k].share);
    let hottest = (0..figures.len())
        .max_by(|&a, &b| {
            let (ua, sa) = used(a);
            let (ub, sb) = used(b);
            ua.total_cmp(&ub).then(sa.total_cmp(&sb))
        })
        .unwrap_or(0);
    let hot_share = estimate(runs, &|r| share(r, hottest));
    // Per server: arrivals to the service per arrival there, times the
    // completions it makes per unit of utilisation.
    let entry = svc.entry.idx();
    let limit = |r: &RunStats| {
        servers
            .iter()
            .flatten()
            .filter_map(|&i| {
                let s = &r.stations[i];
                let u = s.utilization(r.duration);
                (u > 0.0 && s.arrivals > 0 && s.departures > 0).then(|| {
                    r.stations[entry].arrivals as f64 / s.arrivals as f64 * s.throughput(r.duration)
                        / u
                })
            })
            .fold(f64::INFINITY, f64::min)
    };
    let limits: Vec<f64> = runs.iter().map(limit).collect();
    let saturates = limits
        .iter()
        .all(|l| l.is_finite() && *l > 0.0)
        .then(|| Estimate::of(&limits, 0.95));
    ShardsSummary {
        hottest: hottest as u32,
        hottest_share: hot_share.mean,
        hottest_share_ci95: hot_share.half_width,
        even_share: 1.0 / figures.len() as f64,
        saturates_at: saturates.as_ref().map(|e| e.mean),
        saturates_at_ci95: saturates.and_then(|e| e.half_width),
        shards: figures,
    }
}

/// A replicated database's reads and writes.
#[derive(Clone, Debug, Serialize)]
pub struct ReplicationSummary {
    /// Read replicas.
    pub followers: u32,
    /// Writes at the leader, summed over replications.
    pub writes: u64,
    /// Reads at the followers, summed over replications.
    pub reads: u64,
    /// Reads that missed a write not yet replicated, summed.
    pub stale_reads: u64,
    /// Stale reads over reads, per replication, averaged.
    pub stale_ratio: Option<f64>,
    /// 95% CI half-width.
    pub stale_ratio_ci95: Option<f64>,
}

/// The reads and writes recorded at any of `stations`.
fn replication(runs: &[RunStats], stations: &[usize], followers: u32) -> ReplicationSummary {
    let total = |r: &RunStats, f: fn(&chokepoint_core::stats::StationStats) -> u64| -> u64 {
        stations.iter().map(|&i| f(&r.stations[i])).sum()
    };
    let all = |f: fn(&chokepoint_core::stats::StationStats) -> u64| -> u64 {
        runs.iter().map(|r| total(r, f)).sum()
    };
    let ratio = estimate(runs, &|r| {
        total(r, |s| s.stale_reads) as f64 / total(r, |s| s.replica_reads) as f64
    });
    ReplicationSummary {
        followers,
        writes: all(|s| s.replicated_writes),
        reads: all(|s| s.replica_reads),
        stale_reads: all(|s| s.stale_reads),
        stale_ratio: finite(ratio.mean),
        stale_ratio_ci95: ratio.half_width,
    }
}

/// What an autoscaled service's autoscaler did, per replication.
#[derive(Clone, Debug, Serialize)]
pub struct AutoscaleSummary {
    /// Fewest replicas it runs.
    pub min: u32,
    /// Most replicas it may run.
    pub max: u32,
    /// Replicas ready (taking requests), time-averaged.
    pub mean_ready: f64,
    /// 95% CI half-width of `mean_ready`.
    pub mean_ready_ci95: Option<f64>,
    /// Replicas billed (asked for: starting or ready), time-averaged: the
    /// service's cost per hour is this times the profile's price.
    pub mean_billed: f64,
    /// 95% CI half-width of `mean_billed`.
    pub mean_billed_ci95: Option<f64>,
    /// Most replicas asked for at once, over the replications.
    pub peak: u32,
    /// Evaluations that asked for more replicas, per replication.
    pub scale_ups: f64,
    /// Evaluations that asked for fewer, per replication.
    pub scale_ins: f64,
    /// Share of the measured time it asked for `max` replicas.
    pub at_max_share: f64,
    /// Replica-hours billed, per replication.
    pub replica_hours: f64,
}

/// Garbage collection pauses of a service's replicas.
#[derive(Clone, Debug, Serialize)]
pub struct GcSummary {
    /// Pauses per second, over all replicas.
    pub pauses_per_sec: f64,
    /// Fraction of the time a replica is paused, averaged over replicas.
    pub paused: f64,
    /// 95% CI half-width.
    pub paused_ci95: Option<f64>,
    /// Mean pause, seconds (null without pauses).
    pub mean_pause: Option<f64>,
    /// Longest pause, seconds, over replicas and replications.
    pub longest: f64,
    /// Per replica, summed over replications: pauses, their total (s) and
    /// the longest (s).
    pub replicas: Vec<GcReplica>,
}

/// One replica's pauses, over all replications.
#[derive(Clone, Debug, Serialize)]
pub struct GcReplica {
    /// Pauses.
    pub pauses: u64,
    /// Their total length, seconds.
    pub total: f64,
    /// The longest, seconds.
    pub longest: f64,
}

/// The pauses at the CPU stations `cpus` (one per replica).
fn gc(runs: &[RunStats], cpus: &[usize]) -> GcSummary {
    let secs = |r: &RunStats| r.duration.as_secs_f64();
    let pauses: u64 = runs
        .iter()
        .flat_map(|r| cpus.iter().map(move |&i| r.stations[i].gc_pauses))
        .sum();
    let paused_ns: f64 = runs
        .iter()
        .flat_map(|r| cpus.iter().map(move |&i| r.stations[i].gc_pause_sum))
        .sum();
    let paused = estimate(runs, &|r| {
        cpus.iter()
            .map(|&i| r.stations[i].gc_pause_sum)
            .sum::<f64>()
            / 1e9
            / secs(r)
            / cpus.len() as f64
    });
    let replicas: Vec<GcReplica> = cpus
        .iter()
        .map(|&i| GcReplica {
            pauses: runs.iter().map(|r| r.stations[i].gc_pauses).sum(),
            total: runs.iter().map(|r| r.stations[i].gc_pause_sum).sum::<f64>() / 1e9,
            longest: runs
                .iter()
                .map(|r| r.stations[i].gc_pause_max)
                .max()
                .unwrap_or(0) as f64
                / 1e9,
        })
        .collect();
    GcSummary {
        pauses_per_sec: estimate(runs, &|r| {
            cpus.iter().map(|&i| r.stations[i].gc_pauses).sum::<u64>() as f64 / secs(r)
        })
        .mean,
        paused: paused.mean,
        paused_ci95: paused.half_width,
        mean_pause: (pauses > 0).then(|| paused_ns / pauses as f64 / 1e9),
        longest: replicas.iter().map(|r| r.longest).fold(0.0, f64::max),
        replicas,
    }
}

/// A cache's figures.
#[derive(Clone, Debug, Serialize)]
pub struct CacheSummary {
    /// Hits over reads, per replication, averaged (null without reads).
    pub hit_ratio: Option<f64>,
    /// 95% CI half-width.
    pub hit_ratio_ci95: Option<f64>,
    /// Reads served from the cache, summed over replications.
    pub hits: u64,
    /// Reads that went to the backing store, summed over replications.
    pub misses: u64,
    /// Writes, summed over replications.
    pub writes: u64,
    /// Write-back: dirty entries written to the backing store, summed.
    pub flushed: u64,
    /// Write-back: time-averaged number of writes acknowledged but not yet
    /// flushed, which a crash would lose (0 for the other policies).
    pub writes_at_risk: f64,
    /// 95% CI half-width.
    pub writes_at_risk_ci95: Option<f64>,
    /// Write-back: most writes at risk at once, over replications.
    pub writes_at_risk_max: u64,
    /// LRU caches: entries held at the end, averaged over replications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<f64>,
}

/// The cache at station `si`, if it is one.
fn cache(runs: &[RunStats], stations: &[usize]) -> Option<CacheSummary> {
    runs[0].stations[*stations.first()?].cache.as_ref()?;
    // The caches together (a sharded cache's shards): counts and areas
    // add up; the most entries at risk at once is at most the sum of each
    // one's most.
    let of = |r: &RunStats| {
        let mut all = chokepoint_core::stats::CacheStats::default();
        for &si in stations {
            let c = r.stations[si].cache.clone().unwrap_or_default();
            all.hits += c.hits;
            all.misses += c.misses;
            all.writes += c.writes;
            all.flushed += c.flushed;
            all.dirty_area += c.dirty_area;
            all.dirty_max += c.dirty_max;
            all.dirty_end += c.dirty_end;
            all.entries_end = match (all.entries_end, c.entries_end) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
        }
        all
    };
    let hit_ratio = estimate(runs, &|r| of(r).hit_ratio());
    let at_risk = estimate(runs, &|r| of(r).mean_at_risk(r.duration));
    let total = |f: &dyn Fn(&chokepoint_core::stats::CacheStats) -> u64| -> u64 {
        runs.iter().map(|r| f(&of(r))).sum()
    };
    Some(CacheSummary {
        hit_ratio: finite(hit_ratio.mean),
        hit_ratio_ci95: hit_ratio.half_width,
        hits: total(&|c| c.hits),
        misses: total(&|c| c.misses),
        writes: total(&|c| c.writes),
        flushed: total(&|c| c.flushed),
        writes_at_risk: at_risk.mean,
        writes_at_risk_ci95: at_risk.half_width,
        writes_at_risk_max: runs.iter().map(|r| of(r).dirty_max).max().unwrap_or(0),
        entries: of(&runs[0])
            .entries_end
            .map(|_| estimate(runs, &|r| f64::from(of(r).entries_end.unwrap_or(0))).mean),
    })
}

/// Whether alike replicas carry unequal CPU load: a difference both
/// *material* (the busiest replica, per replication, at least
/// [`UNEVEN_MATERIAL`] above their average) and *significant*.
///
/// Significance is a one-way analysis of variance within each replication:
/// the spread of the replicas' utilisations around their mean against the
/// noise of one replica's utilisation, which the two halves of the run
/// tell ((u₁ − u₂)²/4 estimates it with one degree of freedom). Under even
/// load their ratio follows F(R(n−1), Rn) for n replicas and R
/// replications; the load is uneven when the ratio is above its 95th
/// percentile. This holds whether the same replica is the busiest in every
/// replication (a fixed hash) or a different one each time (sticky
/// sessions), and needs one replication only. The busiest of n evenly
/// loaded replicas is always somewhat above their average by chance: that
/// is not flagged.
///
/// `runs[r][k]` is replica k's utilisation in replication r, whole and by
/// halves.
pub fn uneven_load(runs: &[Vec<(f64, [f64; 2])>]) -> Option<bool> {
    let r = runs.len() as f64;
    let gap: f64 = runs
        .iter()
        .map(|row| {
            let mean = row.iter().map(|(u, _)| u).sum::<f64>() / row.len() as f64;
            row.iter().map(|(u, _)| u - mean).fold(0.0, f64::max)
        })
        .sum();
    Some(gap / r >= UNEVEN_MATERIAL && unequal(runs)?)
}

/// The significance half of [`uneven_load`]: whether the replicas'
/// utilisations differ by more than their noise within a run allows, at
/// 95%. `None` with fewer than two replicas.
pub fn unequal(runs: &[Vec<(f64, [f64; 2])>]) -> Option<bool> {
    let n = runs.first()?.len();
    if n < 2 {
        return None;
    }
    let (mut spread, mut noise) = (0.0, 0.0);
    for row in runs {
        let mean = row.iter().map(|(u, _)| u).sum::<f64>() / n as f64;
        spread += row.iter().map(|(u, _)| (u - mean).powi(2)).sum::<f64>();
        noise += row
            .iter()
            .map(|(_, [a, b])| (a - b).powi(2) / 4.0)
            .sum::<f64>();
    }
    let r = runs.len() as f64;
    let (df_spread, df_noise) = (r * (n - 1) as f64, r * n as f64);
    // No noise at all (deterministic work and arrivals): any spread is real.
    if noise == 0.0 {
        return Some(spread > 0.0);
    }
    let critical = FisherSnedecor::new(df_spread, df_noise)
        .ok()?
        .inverse_cdf(0.95);
    Some((spread / df_spread) / (noise / df_noise) > critical)
}

/// The smallest difference in utilisation worth the flag of uneven load:
/// five points.
pub const UNEVEN_MATERIAL: f64 = 0.05;

/// A lock's figures, over its stripes.
#[derive(Clone, Debug, Serialize)]
pub struct LockSummary {
    /// Stripes (each held by one request at a time).
    pub stripes: u32,
    /// Time-averaged fraction of stripes held.
    pub utilization: f64,
    /// 95% CI half-width.
    pub utilization_ci95: Option<f64>,
    /// Acquisitions per second.
    pub throughput: f64,
    /// Mean wait for the lock per acquisition, seconds.
    pub mean_wait: Option<f64>,
    /// 95% CI half-width.
    pub mean_wait_ci95: Option<f64>,
    /// Mean time held per acquisition, seconds.
    pub mean_hold: Option<f64>,
}

/// The locks of a service.
fn locks(runs: &[RunStats], svc: &ServiceLayout) -> BTreeMap<String, LockSummary> {
    svc.locks
        .iter()
        .map(|lock| {
            let ids: Vec<usize> = lock.stripes.iter().map(|s| s.idx()).collect();
            let sum = |r: &RunStats, f: &dyn Fn(&chokepoint_core::stats::StationStats) -> f64| {
                ids.iter().map(|&i| f(&r.stations[i])).sum::<f64>()
            };
            let utilization = estimate(runs, &|r| {
                sum(r, &|s| s.busy_area) / r.duration.as_nanos() as f64 / ids.len() as f64
            });
            let throughput = estimate(runs, &|r| {
                sum(r, &|s| s.departures as f64) / r.duration.as_secs_f64()
            });
            let wait = estimate(runs, &|r| {
                sum(r, &|s| s.wait_sum) / sum(r, &|s| s.departures as f64) / 1e9
            });
            let hold = estimate(runs, &|r| {
                (sum(r, &|s| s.response_sum) - sum(r, &|s| s.wait_sum))
                    / sum(r, &|s| s.departures as f64)
                    / 1e9
            });
            (
                lock.name.clone(),
                LockSummary {
                    stripes: ids.len() as u32,
                    utilization: utilization.mean,
                    utilization_ci95: utilization.half_width,
                    throughput: throughput.mean,
                    mean_wait: finite(wait.mean),
                    mean_wait_ci95: wait.half_width,
                    mean_hold: finite(hold.mean),
                },
            )
        })
        .collect()
}

/// Workers of the stations `heads` (their admission pools) taken together.
/// `heads`' workers (or connections) over `runs`; for an autoscaled
/// service (its autoscaler `scaler`), their utilisation is over the
/// replicas ready.
fn workers(
    runs: &[RunStats],
    heads: &[usize],
    connections: bool,
    scaler: Option<usize>,
) -> Option<Workers> {
    let slots: u32 = heads.iter().map(|&i| runs[0].stations[i].slots).sum();
    if slots == 0 {
        return None;
    }
    let capacity = |r: &RunStats| match scaler {
        Some(a) => r.autoscalers[a].ready_area * f64::from(slots) / heads.len().max(1) as f64,
        None => r.duration.as_nanos() as f64 * f64::from(slots),
    };
    let waiting = |r: &RunStats| -> f64 {
        heads
            .iter()
            .map(|&i| r.stations[i].mean_slot_queue(r.duration))
            .sum()
    };
    let growth = estimate(runs, &|r| {
        let grew: f64 = heads
            .iter()
            .map(|&i| r.stations[i].waiting_end as f64 - r.stations[i].waiting_start as f64)
            .sum();
        grew / r.duration.as_secs_f64()
    });
    let admitted = estimate(runs, &|r| {
        heads.iter().map(|&i| r.stations[i].admitted).sum::<u64>() as f64 / r.duration.as_secs_f64()
    });
    Some(Workers {
        slots,
        utilization: estimate(runs, &|r| {
            let held = heads.iter().map(|&i| r.stations[i].slots_area).sum::<f64>();
            match scaler {
                Some(_) => held / capacity(r),
                None => held / r.duration.as_nanos() as f64 / f64::from(slots),
            }
        })
        .mean,
        mean_waiting: estimate(runs, &waiting).mean,
        mean_wait: finite(
            estimate(runs, &|r| {
                let waited: f64 = heads.iter().map(|&i| r.stations[i].slot_wait_sum).sum();
                let admitted: u64 = heads.iter().map(|&i| r.stations[i].admitted).sum();
                waited / admitted as f64 / 1e9
            })
            .mean,
        ),
        backlog_growth: growth.mean,
        backlog_growth_ci95: growth.half_width,
        unstable: unstable(&growth, admitted.mean),
        connects: connections.then(|| {
            estimate(runs, &|r| {
                heads.iter().map(|&i| r.stations[i].connects).sum::<u64>() as f64
                    / r.duration.as_secs_f64()
            })
            .mean
        }),
    })
}

/// What the simulated system costs.
#[derive(Clone, Debug, Serialize)]
pub struct Cost {
    /// Dollars per hour: over replicated services, replicas × profile price.
    pub per_hour: f64,
    /// Dollars per million requests of the open classes at the measured
    /// throughput (absent without open load).
    pub per_million_requests: Option<f64>,
}

/// The whole result of `chokepoint run`, serialised as the JSON contract.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// The run's seed.
    pub seed: u64,
    /// Number of replications.
    pub replications: u32,
    /// Measured simulated seconds per replication.
    pub duration: f64,
    /// Discarded simulated seconds per replication.
    pub warmup: f64,
    /// Engine counters.
    pub engine: Engine,
    /// Per class, by name.
    pub classes: BTreeMap<String, ClassSummary>,
    /// Per station, by name.
    pub stations: BTreeMap<String, StationSummary>,
    /// Warnings about the scenario (overloaded stations).
    pub warnings: Vec<String>,
    /// The verdict against the scenario's `[slo]`, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo: Option<Verdict>,
    /// The cost of the replicated services, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
    /// The replications that stopped before their end: their figures cover
    /// a shorter time, and under overload are lower bounds of the damage.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopped: Vec<StoppedRun>,
    /// Set when the user interrupted the run: only the replications that
    /// had finished are summarized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<Interrupted>,
    /// What each fault did (absent without faults).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultSummary>,
    /// Whether the system recovered after its trigger (absent without
    /// one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metastability: Option<Metastability>,
    /// For a product-form open network: each class's exact mean latency
    /// beside the simulated one (absent otherwise).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub theory: BTreeMap<String, Theory>,
    /// The capacity table's utilisation of each resource beside the run's
    /// (a steady open load only; empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub analytic: Vec<Beside>,
}

/// Whether the system recovered after its trigger (a load profile that
/// rises and comes back, a fault that strikes once), against a control run
/// on the same seeds without it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metastability {
    /// Goodput well under the control's (under half, where the control
    /// completes at least 90%): a failure that outlived its trigger.
    pub metastable: bool,
    /// When the last trigger ended, seconds since the start.
    pub trigger_ended: f64,
    /// When the windows compared begin (after the settling time).
    pub measured_from: f64,
    /// Completions over arrivals in those windows, averaged over
    /// replications.
    pub goodput: f64,
    /// The same for the control run.
    pub control_goodput: f64,
    /// Retries' share of attempts over the run (null without a call that
    /// retries).
    pub retries_share: Option<f64>,
    /// The share of busy time spent on work whose caller had left.
    pub wasted_share: Option<f64>,
}

/// What one fault did, over the replications.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultSummary {
    /// Its name: its kind and what it strikes (`crash api[0]`).
    pub name: String,
    /// Occurrences per replication (that started in the measured time).
    pub occurrences: f64,
    /// The share of the measured time it was under way (for a crash: its
    /// stations' unavailability).
    pub active_share: f64,
    /// 95% half-width of `active_share` across replications (null with
    /// one replication).
    pub active_share_ci95: Option<f64>,
    /// Requests a crash took down with it, in all.
    pub failed: u64,
    /// Requests refused by its crashed stations, in all.
    pub refused: u64,
}

/// A replication that stopped before its end.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct StoppedRun {
    /// Its index.
    pub replication: u32,
    /// Why: `in_system` (it held `limit` requests) or `time_limit` (it ran
    /// longer than its wall-clock limit).
    pub cause: String,
    /// The simulated second it stopped at, from its start.
    pub at: f64,
    /// The simulated seconds it measured (from the end of the warm-up, or
    /// from its start when it stopped during the warm-up).
    pub measured: f64,
    /// For `in_system`: the limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// For `in_system`: the service where most requests were (summed over
    /// its stations and the requests waiting for its workers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// For `in_system`: how many were there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub present: Option<u64>,
    /// For `in_system`: how fast they piled up there, `present / at`,
    /// requests per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth_per_sec: Option<f64>,
}

/// How many replications an interrupted run summarizes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Interrupted {
    /// Replications asked for.
    pub asked: u32,
    /// Replications that had finished (the summary is over these).
    pub finished: u32,
}

/// The replications of `runs` that stopped early, in order.
fn stopped(info: &RunInfo, runs: &[RunStats]) -> Vec<StoppedRun> {
    runs.iter()
        .enumerate()
        .filter_map(|(r, run)| {
            let s = run.stopped?;
            let at = s.at.as_secs_f64();
            let mut out = StoppedRun {
                replication: r as u32,
                cause: String::new(),
                at,
                measured: run.duration.as_secs_f64(),
                limit: None,
                service: None,
                present: None,
                growth_per_sec: None,
            };
            out.cause = match s.cause {
                Stop::InSystem { limit } => {
                    // Where the requests were, service by service: the
                    // service holding the most is the one that grew.
                    // (A call point's requests are at its callees.)
                    let owners = info.owners(&run.stations);
                    let calling: Vec<usize> = info
                        .services
                        .iter()
                        .flat_map(|svc| svc.calls.iter().flat_map(|c| c.at.iter()))
                        .map(|id| id.idx())
                        .collect();
                    let mut held: BTreeMap<&str, u64> = BTreeMap::new();
                    for (i, (st, owner)) in run.stations.iter().zip(&owners).enumerate() {
                        if !calling.contains(&i) {
                            *held.entry(owner.as_str()).or_default() +=
                                st.present_at_end + st.waiting_end + st.throttled_end;
                        }
                    }
                    let (service, present) = held
                        .into_iter()
                        .max_by_key(|&(name, n)| (n, std::cmp::Reverse(name)))
                        .unwrap_or(("", 0));
                    out.limit = Some(limit);
                    out.service = Some(service.to_owned());
                    out.present = Some(present);
                    out.growth_per_sec = (at > 0.0).then(|| present as f64 / at);
                    "in_system"
                }
                Stop::TimeLimit => "time_limit",
                Stop::Interrupted => "interrupted",
            }
            .into();
            Some(out)
        })
        .collect()
}

/// Whether a point meets the SLO, and if not, why.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Verdict {
    /// True when every class meets every objective.
    pub met: bool,
    /// One sentence per objective missed, such as "browse: p99 310 ms > 200 ms".
    #[serde(default)]
    pub violations: Vec<String>,
    /// The p99 objective, seconds, when there is one (charts draw it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<f64>,
}

/// What the summary needs to know about the run besides its statistics.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// Scenario name.
    pub scenario: String,
    /// The run's seed.
    pub seed: u64,
    /// Discarded simulated seconds per replication.
    pub warmup: f64,
    /// Wall-clock seconds the replications took.
    pub wall: f64,
    /// Warnings to carry into the output.
    pub warnings: Vec<String>,
    /// What each service became: those lowered into several stations
    /// are reported as a whole.
    pub services: Vec<ServiceLayout>,
    /// How each of the topology's faults is named, in order.
    pub faults: Vec<String>,
}

impl RunInfo {
    /// The services lowered into several stations, reported as a whole.
    pub fn compound(&self) -> impl Iterator<Item = &ServiceLayout> {
        self.services.iter().filter(|s| s.is_compound())
    }

    /// The names stations are reported under: their service's when it
    /// was lowered into several stations, else their own.
    pub fn owners(&self, stations: &[StationStats]) -> Vec<String> {
        let mut owners: Vec<String> = stations.iter().map(|s| s.name.clone()).collect();
        for svc in self.compound() {
            for id in svc.stations() {
                if let Some(o) = owners.get_mut(id.idx()) {
                    o.clone_from(&svc.name);
                }
            }
        }
        owners
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Combines the replications of one run. `runs` must not be empty and must
/// all come from the same topology.
pub fn summarize(info: &RunInfo, runs: &[RunStats]) -> Summary {
    // The duration asked for, even of a run that stopped early.
    let duration = runs[0].stopped.map_or(runs[0].duration, |s| s.asked);
    let per_rep = |f: &dyn Fn(&RunStats) -> f64| -> Estimate {
        let values: Vec<f64> = runs.iter().map(f).collect();
        Estimate::of(&values, 0.95)
    };

    let mut classes = BTreeMap::new();
    for (ci, first) in runs[0].classes.iter().enumerate() {
        let mut pooled = first.clone();
        for run in &runs[1..] {
            pooled.merge(&run.classes[ci]);
        }
        let throughput = per_rep(&|r| r.classes[ci].throughput(r.duration));
        let mean = per_rep(&|r| r.classes[ci].mean_latency());
        // Each percentile's interval from the replications' own.
        let spread = |q: f64| {
            per_rep(&|r| {
                let c = &r.classes[ci];
                if c.completed == 0 {
                    f64::NAN
                } else {
                    c.latency_quantile(q)
                }
            })
            .half_width
        };
        // A latency of nothing is no latency: null, not zero.
        let quantile = |q: f64| (pooled.completed > 0).then(|| pooled.latency_quantile(q));
        classes.insert(
            first.name.clone(),
            ClassSummary {
                arrived: pooled.arrived,
                completed: pooled.completed,
                dropped: pooled.dropped,
                failed: pooled.failed,
                timed_out: pooled.timed_out,
                late: pooled.late,
                rejected: pooled.rejected,
                throughput: throughput.mean,
                throughput_ci95: throughput.half_width,
                drop_ratio: if pooled.arrived == 0 {
                    0.0
                } else {
                    pooled.drop_ratio()
                },
                latency: Latency {
                    mean: finite(mean.mean),
                    mean_ci95: mean.half_width,
                    p50: quantile(0.50),
                    p50_ci95: spread(0.50),
                    p90: quantile(0.90),
                    p90_ci95: spread(0.90),
                    p99: quantile(0.99),
                    p99_ci95: spread(0.99),
                    p999: quantile(0.999),
                    p999_ci95: spread(0.999),
                    max: (pooled.completed > 0).then(|| pooled.latency_max as f64 / 1e9),
                    spectrum: if pooled.completed > 0 {
                        spectrum_quantiles()
                            .map(|q| (q, pooled.latency_quantile(q)))
                            .collect()
                    } else {
                        Vec::new()
                    },
                },
            },
        );
    }

    let mut stations = BTreeMap::new();
    let grouped = grouped(info);
    for (si, first) in runs[0].stations.iter().enumerate() {
        if !grouped.contains(&si) {
            stations.insert(first.name.clone(), station_summary(runs, si));
        }
    }
    for svc in info.compound() {
        stations.insert(svc.name.clone(), service_summary(runs, svc));
    }
    let open_throughput: f64 = classes.values().map(|c| c.throughput).sum();
    let cost = info.services.iter().any(|s| s.profile.is_some()).then(|| {
        // As each service's figures price it (an autoscaled one by the
        // replica-hours it used).
        let per_hour: f64 = info
            .services
            .iter()
            .map(|s| {
                stations
                    .get(&s.name)
                    .and_then(|x: &StationSummary| x.cost_per_hour)
                    .unwrap_or(s.cost_per_hour)
            })
            .sum();
        Cost {
            per_hour,
            per_million_requests: (open_throughput > 0.0)
                .then(|| per_hour / (3600.0 * open_throughput) * 1e6),
        }
    });

    let events: u64 = runs.iter().map(|r| r.events).sum();
    Summary {
        scenario: info.scenario.clone(),
        seed: info.seed,
        replications: runs.len() as u32,
        duration: duration.as_secs_f64(),
        warmup: info.warmup,
        engine: Engine {
            events,
            wall: info.wall,
            events_per_sec: if info.wall > 0.0 {
                events as f64 / info.wall
            } else {
                0.0
            },
        },
        classes,
        stations,
        warnings: info.warnings.clone(),
        slo: None,
        cost,
        stopped: stopped(info, runs),
        interrupted: None,
        faults: faults(info, runs),
        metastability: None,
        theory: BTreeMap::new(),
        analytic: Vec::new(),
    }
}

/// A class's exact mean latency in a product-form network, and whether
/// the simulation agrees with it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Theory {
    /// The exact mean latency, in seconds.
    pub mean: f64,
    /// The simulated mean minus it, in seconds.
    pub difference: f64,
    /// Whether the difference lies within the simulated mean's 99.9%
    /// interval (or within 1% without one): where it does not, the model is
    /// not the one the formula assumes, or the run is too short.
    pub agrees: bool,
}

/// The capacity table's utilisation beside a run's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Beside {
    /// The resource, `service what`.
    pub resource: String,
    /// Its mean utilisation by the operational laws (for a pool's slots,
    /// a lower bound: the work done while held; with garbage collection,
    /// an upper bound: the pauses as with every worker busy).
    pub analytic: f64,
    /// `=`, `≥` (a lower bound) or `≤` (an upper bound).
    pub bound: &'static str,
    /// Its mean utilisation in the run.
    pub simulated: f64,
    /// Its 95% half-width, where the run gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulated_ci95: Option<f64>,
    /// `agrees` (within the simulation's 99.9% interval, or 2% without
    /// one), `above_bound` (a pool held longer than its work: waiting for
    /// calls), `below_bound` (fewer collections than at saturation), or
    /// `differs`.
    pub verdict: &'static str,
}

/// Each class's exact mean latency `exact` (seconds, in class order)
/// beside `summary`'s, judged.
pub fn theory(summary: &Summary, names: &[String], exact: &[f64]) -> BTreeMap<String, Theory> {
    names
        .iter()
        .zip(exact)
        .filter_map(|(name, &mean)| {
            let c = summary.classes.get(name)?;
            let simulated = c.latency.mean?;
            // From the 95% half-width to the 99.9% one (normal quantiles:
            // 3.29 / 1.96), so that a correct model rarely shows as wrong.
            let band = c.latency.mean_ci95.map_or(0.01 * mean, |h| h * 3.29 / 1.96);
            let difference = simulated - mean;
            Some((
                name.clone(),
                Theory {
                    mean,
                    difference,
                    agrees: difference.abs() <= band,
                },
            ))
        })
        .collect()
}

/// What each fault did, over `runs`.
fn faults(info: &RunInfo, runs: &[RunStats]) -> Vec<FaultSummary> {
    let n = runs.len() as f64;
    (0..runs[0].faults.len())
        .map(|i| {
            let shares: Vec<f64> = runs
                .iter()
                .map(|r| r.faults[i].active_time / r.duration.0.max(1) as f64)
                .collect();
            let share = Estimate::of(&shares, 0.95);
            FaultSummary {
                name: info
                    .faults
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("fault {i}")),
                occurrences: runs
                    .iter()
                    .map(|r| r.faults[i].occurrences as f64)
                    .sum::<f64>()
                    / n,
                active_share: share.mean,
                active_share_ci95: share.half_width,
                failed: runs.iter().map(|r| r.faults[i].failed).sum(),
                refused: runs.iter().map(|r| r.faults[i].refused).sum(),
            }
        })
        .collect()
}

/// What autoscaler `i` (of `min` to `max` replicas) did over `runs`.
fn autoscale_summary(runs: &[RunStats], i: usize, min: u32, max: usize) -> AutoscaleSummary {
    let n = runs.len() as f64;
    let mean = |f: &dyn Fn(&ScalerStats) -> f64| {
        runs.iter().map(|r| f(&r.autoscalers[i])).sum::<f64>() / n
    };
    let ready = estimate(runs, &|r| {
        r.autoscalers[i].ready_area / r.duration.0.max(1) as f64
    });
    let billed = estimate(runs, &|r| {
        r.autoscalers[i].billed_area / r.duration.0.max(1) as f64
    });
    AutoscaleSummary {
        min,
        max: max as u32,
        mean_ready: ready.mean,
        mean_ready_ci95: ready.half_width,
        mean_billed: billed.mean,
        mean_billed_ci95: billed.half_width,
        peak: runs
            .iter()
            .map(|r| r.autoscalers[i].peak)
            .max()
            .unwrap_or(0),
        scale_ups: mean(&|s| s.scale_ups as f64),
        scale_ins: mean(&|s| s.scale_ins as f64),
        at_max_share: runs
            .iter()
            .map(|r| r.autoscalers[i].at_max / r.duration.0.max(1) as f64)
            .sum::<f64>()
            / n,
        replica_hours: mean(&|s| s.billed_area / 3.6e12),
    }
}

/// The stations that services lowered into several stations own (their
/// own, their replicas' chains, hops and locks): reported with their
/// service, not alone.
pub(crate) fn grouped(info: &RunInfo) -> Vec<usize> {
    info.compound()
        .flat_map(|svc| svc.stations())
        .map(|id| id.idx())
        .collect()
}

fn estimate(runs: &[RunStats], f: &dyn Fn(&RunStats) -> f64) -> Estimate {
    let values: Vec<f64> = runs.iter().map(f).collect();
    Estimate::of(&values, 0.95)
}

/// The figures of one station.
fn station_summary(runs: &[RunStats], si: usize) -> StationSummary {
    let first = &runs[0].stations[si];
    let utilization = estimate(runs, &|r| r.stations[si].utilization(r.duration));
    let throughput = estimate(runs, &|r| r.stations[si].throughput(r.duration));
    // Requests waiting for one of its slots (a queue's messages waiting
    // for a consumer) are present and waiting there too.
    let pooled = first.slots > 0;
    let slot_queue = |r: &RunStats| {
        let s = &r.stations[si];
        if pooled {
            s.mean_slot_queue(r.duration)
        } else {
            0.0
        }
    };
    let slot_wait = |r: &RunStats| {
        let s = &r.stations[si];
        if pooled && s.admitted > 0 {
            s.mean_slot_wait()
        } else {
            0.0
        }
    };
    let l = estimate(runs, &|r| {
        r.stations[si].mean_in_system(r.duration) + slot_queue(r)
    });
    let lq = estimate(runs, &|r| {
        r.stations[si].mean_queue_len(r.duration) + slot_queue(r)
    });
    let wq = estimate(runs, &|r| r.stations[si].mean_wait() + slot_wait(r));
    let w = estimate(runs, &|r| r.stations[si].mean_response() + slot_wait(r));
    StationSummary {
        servers: first.finite_servers(),
        utilization: utilization.mean,
        utilization_ci95: utilization.half_width,
        throughput: throughput.mean,
        mean_in_system: l.mean,
        mean_in_system_ci95: l.half_width,
        mean_queue_len: lq.mean,
        mean_queue_len_ci95: lq.half_width,
        mean_wait: finite(wq.mean),
        mean_wait_ci95: wq.half_width,
        mean_response: finite(w.mean),
        dropped: runs.iter().map(|r| r.stations[si].dropped).sum(),
        replicas: None,
        profile: None,
        cost_per_hour: None,
        breakdown: None,
        gc: None,
        replication: None,
        shards: None,
        autoscaling: None,
        cache: cache(runs, &[si]),
        locks: None,
        busiest_replica: None,
        busiest_replica_ci95: None,
        uneven_load: None,
        workers: workers(runs, &[si], false, None),
        backlog_growth: backlog(runs, &[si]).map(|b| b.mean),
        backlog_growth_ci95: backlog(runs, &[si]).and_then(|b| b.half_width),
        resilience: resilience(runs, &[si]),
        parts: None,
    }
}

/// A replicated service as a whole: CPU utilisation over all cores of all
/// replicas; requests present and waiting summed over every station of
/// every replica (slot waiters included); throughput out of the replicas;
/// per-request wait and time in the service by Little's law.
fn service_summary(runs: &[RunStats], svc: &ServiceLayout) -> StationSummary {
    let all: Vec<usize> = svc
        .replicas
        .iter()
        .flat_map(ReplicaLayout::stations)
        .map(|id| id.idx())
        .collect();
    let own: Vec<usize> = svc
        .replicas
        .iter()
        .flat_map(|r| r.own.iter().map(|&(_, id)| id.idx()))
        .collect();
    let cpus: Vec<usize> = svc.replicas.iter().map(|r| r.cpu().idx()).collect();
    let heads: Vec<usize> = svc.replicas.iter().map(|r| r.head().idx()).collect();
    let cores: u32 = cpus.iter().map(|&i| runs[0].stations[i].servers).sum();
    // An autoscaled service's capacity is its replicas ready over time.
    let scaled = svc
        .autoscaler
        .filter(|a| runs[0].autoscalers.len() > a.index);
    let utilization = estimate(runs, &|r| {
        let busy = cpus.iter().map(|&i| r.stations[i].busy_area).sum::<f64>();
        match scaled {
            Some(a) => {
                busy / r.autoscalers[a.index].ready_area
                    / (f64::from(cores) / cpus.len().max(1) as f64)
            }
            None => busy / r.duration.as_nanos() as f64 / f64::from(cores),
        }
    });
    // Requests through the service: those its replicas' first stations
    // served (for a cache, hits leave there and misses go on).
    let throughput = estimate(runs, &|r| {
        heads
            .iter()
            .map(|&i| r.stations[i].throughput(r.duration))
            .sum()
    });
    let waiting_for_slots = |r: &RunStats| -> f64 {
        heads
            .iter()
            .map(|&i| r.stations[i].mean_slot_queue(r.duration))
            .sum()
    };
    let l = estimate(runs, &|r| {
        all.iter()
            .map(|&i| r.stations[i].mean_in_system(r.duration))
            .sum::<f64>()
            + waiting_for_slots(r)
    });
    let lq = estimate(runs, &|r| {
        all.iter()
            .map(|&i| r.stations[i].mean_queue_len(r.duration))
            .sum::<f64>()
            + waiting_for_slots(r)
    });
    let per_request = |r: &RunStats, area: f64| {
        let x: f64 = heads
            .iter()
            .map(|&i| r.stations[i].throughput(r.duration))
            .sum();
        area / x
    };
    let wq = estimate(runs, &|r| {
        let lq: f64 = all
            .iter()
            .map(|&i| r.stations[i].mean_queue_len(r.duration))
            .sum::<f64>()
            + waiting_for_slots(r);
        per_request(r, lq)
    });
    let w = estimate(runs, &|r| {
        let l: f64 = all
            .iter()
            .map(|&i| r.stations[i].mean_in_system(r.duration))
            .sum::<f64>()
            + waiting_for_slots(r);
        per_request(r, l)
    });
    let workers = workers(runs, &heads, svc.connects(), scaled.map(|a| a.index));
    // Among replicas meant to be alike: a database's read replicas, not
    // its leader.
    // An autoscaled service's replicas past its fewest come and go.
    let always = scaled.map_or(svc.replicas.len(), |a| a.min as usize);
    let alike: Vec<usize> = svc
        .replicas
        .iter()
        .take(always)
        .filter(|r| r.role != ReplicaRole::Leader)
        .map(|r| r.cpu().idx())
        .collect();
    // Runs that stopped early may not have two halves to judge by.
    let rows: Vec<Vec<(f64, [f64; 2])>> = runs
        .iter()
        .filter(|r| r.stopped.is_none())
        .map(|r| {
            alike
                .iter()
                .map(|&i| {
                    let s = &r.stations[i];
                    (s.utilization(r.duration), s.utilization_halves(r))
                })
                .collect()
        })
        .collect();
    let busiest = (alike.len() > 1).then(|| {
        estimate(runs, &|r| {
            alike
                .iter()
                .map(|&i| r.stations[i].utilization(r.duration))
                .fold(0.0, f64::max)
        })
    });
    let autoscaling = scaled.map(|a| autoscale_summary(runs, a.index, a.min, svc.replicas.len()));
    StationSummary {
        servers: Some(cores),
        utilization: utilization.mean,
        utilization_ci95: utilization.half_width,
        throughput: throughput.mean,
        mean_in_system: l.mean,
        mean_in_system_ci95: l.half_width,
        mean_queue_len: lq.mean,
        mean_queue_len_ci95: lq.half_width,
        mean_wait: finite(wq.mean),
        mean_wait_ci95: wq.half_width,
        mean_response: finite(w.mean),
        dropped: all
            .iter()
            .map(|&i| runs.iter().map(|r| r.stations[i].dropped).sum::<u64>())
            .sum(),
        busiest_replica: busiest.as_ref().map(|b| b.mean),
        busiest_replica_ci95: busiest.and_then(|b| b.half_width),
        uneven_load: (alike.len() > 1).then(|| uneven_load(&rows)).flatten(),
        replicas: svc.profile.is_some().then_some(svc.replicas.len() as u32),
        profile: svc.profile.as_ref().map(|p| p.name.clone()),
        cost_per_hour: svc.profile.as_ref().map(|p| match &autoscaling {
            Some(a) => a.mean_billed * p.cost_per_hour,
            None => svc.cost_per_hour,
        }),
        autoscaling,
        workers,
        breakdown: Some(breakdown(runs, svc, &own, &heads, wq.mean)),
        locks: (!svc.locks.is_empty()).then(|| locks(runs, svc)),
        cache: match svc.shards.as_slice() {
            [] => cache(runs, &[svc.entry.idx()]),
            shards => cache(
                runs,
                &shards.iter().map(|s| s.entry.idx()).collect::<Vec<_>>(),
            ),
        },
        gc: svc.gc.then(|| gc(runs, &cpus)),
        replication: (svc.followers() > 0).then(|| replication(runs, &all, svc.followers())),
        shards: (!svc.shards.is_empty()).then(|| shards(runs, svc)),
        backlog_growth: backlog(runs, &all).map(|b| b.mean),
        backlog_growth_ci95: backlog(runs, &all).and_then(|b| b.half_width),
        resilience: {
            let mut every: Vec<usize> = svc.stations().map(|id| id.idx()).collect();
            every.sort_unstable();
            every.dedup();
            resilience(runs, &every)
        },
        parts: Some(
            own.iter()
                .map(|&i| (runs[0].stations[i].name.clone(), station_summary(runs, i)))
                .collect(),
        ),
    }
}

/// Where a request's time in a service goes, per request through it: the
/// wait for a worker or connection (`pool_wait`, at the replicas' `heads`),
/// handshakes (`connect`), its stations' queues (`queue`: the rest of the
/// mean wait `wq`), their service (`work`), and each callee (the whole call:
/// network hop, the callee's queues, work and its own calls). They add up
/// to the service's mean response.
fn breakdown(
    runs: &[RunStats],
    svc: &ServiceLayout,
    own: &[usize],
    heads: &[usize],
    wq: f64,
) -> Breakdown {
    let out = |r: &RunStats| -> f64 {
        heads
            .iter()
            .map(|&i| r.stations[i].throughput(r.duration))
            .sum()
    };
    let in_service = |r: &RunStats, i: usize| {
        r.stations[i].mean_in_system(r.duration) - r.stations[i].mean_queue_len(r.duration)
    };
    // The connection step heads each chain of a pooled database.
    let connect = svc.connects().then(|| {
        estimate(runs, &|r| {
            heads.iter().map(|&i| in_service(r, i)).sum::<f64>() / out(r)
        })
        .mean
    });
    let work = estimate(runs, &|r| {
        let busy: f64 = own.iter().map(|&i| in_service(r, i)).sum();
        busy / out(r)
    });
    let pool_wait = estimate(runs, &|r| {
        heads
            .iter()
            .map(|&i| r.stations[i].mean_slot_queue(r.duration))
            .sum::<f64>()
            / out(r)
    });
    let mut calls: BTreeMap<String, f64> = BTreeMap::new();
    for site in &svc.calls {
        let waiting = estimate(runs, &|r| {
            let l: f64 = site
                .at
                .iter()
                .map(|c| r.stations[c.idx()].mean_in_system(r.duration))
                .sum();
            l / out(r)
        });
        *calls.entry(site.label.clone()).or_default() += waiting.mean;
    }
    Breakdown {
        pool_wait: finite(pool_wait.mean),
        connect: connect.and_then(finite),
        queue: finite(wq - pool_wait.mean),
        work: finite(work.mean - connect.unwrap_or(0.0)),
        calls: calls.into_iter().map(|(k, v)| (k, finite(v))).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Student t quantiles against published table values.
    #[test]
    fn t_quantiles_match_tables() {
        assert!((t_quantile(0.95, 2).unwrap() - 12.706).abs() < 1e-3);
        assert!((t_quantile(0.95, 10).unwrap() - 2.262).abs() < 1e-3);
        assert!((t_quantile(0.95, 31).unwrap() - 2.042).abs() < 1e-3);
        assert!((t_quantile(0.999, 10).unwrap() - 4.781).abs() < 1e-3);
        assert_eq!(t_quantile(0.95, 1), None);
    }

    #[test]
    fn estimate_by_hand() {
        // Mean 2, sample sd 1, n = 3: half-width t(0.975, 2) · 1/√3 = 4.303/1.732.
        let e = Estimate::of(&[1.0, 2.0, 3.0], 0.95);
        assert_eq!(e.mean, 2.0);
        assert!((e.half_width.unwrap() - 4.302_652_7 / 3f64.sqrt()).abs() < 1e-6);
        let e = Estimate::of(&[1.0, f64::NAN, 3.0], 0.95);
        assert_eq!(e.mean, 2.0);
        assert_eq!(Estimate::of(&[5.0], 0.95).half_width, None);
    }
}
