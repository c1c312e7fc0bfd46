//! Every figure of a summary, named once: its name in the CSV, its path in
//! the JSON when `compare` shows it, its column in the table for people,
//! its unit, and how to read it. The CSV, the tables and `compare` are
//! renderings of these lists, so a new figure is added here, once.

use crate::summary::{ClassSummary, StationSummary, Summary};

/// A figure's value and the half-width of its 95% confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Cell {
    /// `None`: not defined in this run (a mean of nothing).
    pub(crate) value: Option<f64>,
    pub(crate) ci95: Option<f64>,
}

impl Cell {
    fn of(value: f64, ci95: Option<f64>) -> Cell {
        Cell {
            value: Some(value),
            ci95,
        }
    }

    fn maybe(value: Option<f64>, ci95: Option<f64>) -> Cell {
        Cell { value, ci95 }
    }

    fn count(n: u64) -> Cell {
        Cell::of(n as f64, None)
    }
}

/// How a figure reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// A count over all replications.
    Count,
    /// Seconds.
    Seconds,
    /// A rate, or any other plain number.
    Number,
    /// A fraction, shown as a percentage.
    Percent,
    /// Servers: infinitely many when there is no value.
    Servers,
    /// Dollars.
    Dollars,
    /// A verdict: 1 met, 0 missed.
    Verdict,
}

/// One figure of a class or station.
pub(crate) struct Figure<T> {
    /// Its name in the CSV (`latency_p99`); `None`: not a row of it.
    pub(crate) csv: Option<&'static str>,
    /// Its path in the JSON contract (`latency.p99`) when `compare`
    /// shows it.
    pub(crate) compare: Option<&'static str>,
    /// Its column in the table for people, if it has one.
    pub(crate) column: Option<&'static str>,
    pub(crate) unit: Unit,
    /// Its value; `None` when the summary has no such figure (a station
    /// without workers has no `workers_wait`).
    pub(crate) read: fn(&T) -> Option<Cell>,
    /// Whether it means something for this class or station; the table
    /// shows a dash where it does not (`None`: always).
    pub(crate) applies: Option<fn(&T) -> bool>,
}

/// One entry of a list of figures: a figure, or a family of them named at
/// run time (one per lock, replica or callee).
pub(crate) enum Entry<T> {
    One(Figure<T>),
    Many(fn(&T) -> Vec<(String, Cell)>),
}

const fn figure<T>(csv: &'static str, unit: Unit, read: fn(&T) -> Option<Cell>) -> Entry<T> {
    Entry::One(Figure {
        csv: Some(csv),
        compare: None,
        column: None,
        unit,
        read,
        applies: None,
    })
}

/// A class's figure, a row of the CSV.
const fn class(
    csv: &'static str,
    unit: Unit,
    read: fn(&ClassSummary) -> Option<Cell>,
) -> Entry<ClassSummary> {
    figure(csv, unit, read)
}

/// A station's figure, a row of the CSV.
const fn station(
    csv: &'static str,
    unit: Unit,
    read: fn(&StationSummary) -> Option<Cell>,
) -> Entry<StationSummary> {
    figure(csv, unit, read)
}

impl<T> Entry<T> {
    /// The same figure, shown by `compare` at `path`.
    const fn compared(self, path: &'static str) -> Entry<T> {
        match self {
            Entry::One(f) => Entry::One(Figure {
                compare: Some(path),
                ..f
            }),
            many => many,
        }
    }

    /// The same figure, in the table's column `header`.
    const fn column(self, header: &'static str) -> Entry<T> {
        match self {
            Entry::One(f) => Entry::One(Figure {
                column: Some(header),
                ..f
            }),
            many => many,
        }
    }
}

/// A class's figures, in the order of the CSV.
pub(crate) const CLASS: [Entry<ClassSummary>; 15] = [
    class("arrived", Unit::Count, |c| Some(Cell::count(c.arrived))).column("arrived"),
    class("completed", Unit::Count, |c| Some(Cell::count(c.completed))).column("completed"),
    class("dropped", Unit::Count, |c| Some(Cell::count(c.dropped)))
        .compared("dropped")
        .column("dropped"),
    // Shown in the table only when a dependency can fail.
    class("failed", Unit::Count, |c| Some(Cell::count(c.failed))).column("failed"),
    // Shown in the table only when something timed out.
    class("timed_out", Unit::Count, |c| Some(Cell::count(c.timed_out)))
        .compared("timed_out")
        .column("timed out"),
    class("late", Unit::Count, |c| Some(Cell::count(c.late))).compared("late"),
    // Shown in the table only when something was rejected.
    class("rejected", Unit::Count, |c| Some(Cell::count(c.rejected)))
        .compared("rejected")
        .column("rejected"),
    class("throughput", Unit::Number, |c| {
        Some(Cell::of(c.throughput, c.throughput_ci95))
    })
    .compared("throughput")
    .column("throughput/s"),
    class("latency_mean", Unit::Seconds, |c| {
        Some(Cell::maybe(c.latency.mean, c.latency.mean_ci95))
    })
    .compared("latency.mean")
    .column("mean"),
    class("latency_p50", Unit::Seconds, |c| {
        Some(Cell::maybe(c.latency.p50, c.latency.p50_ci95))
    })
    .compared("latency.p50")
    .column("p50"),
    class("latency_p90", Unit::Seconds, |c| {
        Some(Cell::maybe(c.latency.p90, c.latency.p90_ci95))
    })
    .compared("latency.p90")
    .column("p90"),
    class("latency_p99", Unit::Seconds, |c| {
        Some(Cell::maybe(c.latency.p99, c.latency.p99_ci95))
    })
    .compared("latency.p99")
    .column("p99"),
    class("latency_p999", Unit::Seconds, |c| {
        Some(Cell::maybe(c.latency.p999, c.latency.p999_ci95))
    })
    .compared("latency.p999")
    .column("p99.9"),
    class("latency_max", Unit::Seconds, |c| {
        Some(Cell::maybe(c.latency.max, None))
    })
    .column("max"),
    Entry::One(Figure {
        csv: None,
        compare: Some("drop_ratio"),
        column: None,
        unit: Unit::Number,
        read: |c| Some(Cell::of(c.drop_ratio, None)),
        applies: None,
    }),
];

/// A design's own figures, which `compare` shows first: what it costs
/// and whether it meets its SLO (the CSV of a run has its own rows).
pub(crate) const DESIGN: [Entry<Summary>; 3] = [
    Entry::One(Figure {
        csv: None,
        compare: Some("cost.per_hour"),
        column: None,
        unit: Unit::Dollars,
        read: |s| s.cost.as_ref().map(|c| Cell::of(c.per_hour, None)),
        applies: None,
    }),
    Entry::One(Figure {
        csv: None,
        compare: Some("cost.per_million_requests"),
        column: None,
        unit: Unit::Dollars,
        read: |s| {
            s.cost
                .as_ref()
                .and_then(|c| c.per_million_requests)
                .map(|x| Cell::of(x, None))
        },
        applies: None,
    }),
    Entry::One(Figure {
        csv: None,
        compare: Some("slo.met"),
        column: None,
        unit: Unit::Verdict,
        read: |s| {
            s.slo
                .as_ref()
                .map(|v| Cell::of(f64::from(u8::from(v.met)), None))
        },
        applies: None,
    }),
];

/// A station's (or a service's) figures, in the order of the CSV.
pub(crate) const STATION: [Entry<StationSummary>; 66] = [
    Entry::One(Figure {
        csv: None,
        compare: None,
        column: Some("servers"),
        unit: Unit::Servers,
        read: |s| s.servers.map(|n| Cell::of(f64::from(n), None)),
        applies: None,
    }),
    Entry::One(Figure {
        csv: Some("utilization"),
        compare: Some("utilization"),
        column: Some("utilization"),
        unit: Unit::Percent,
        read: |s| Some(Cell::of(s.utilization, s.utilization_ci95)),
        // A station that never queues has no utilisation to speak of.
        applies: Some(|s| s.servers.is_some()),
    }),
    station("throughput", Unit::Number, |s| {
        Some(Cell::of(s.throughput, None))
    })
    .column("throughput/s"),
    station("mean_in_system", Unit::Number, |s| {
        Some(Cell::of(s.mean_in_system, s.mean_in_system_ci95))
    })
    .compared("mean_in_system")
    .column("in system"),
    station("mean_queue_len", Unit::Number, |s| {
        Some(Cell::of(s.mean_queue_len, s.mean_queue_len_ci95))
    })
    .compared("mean_queue_len")
    .column("in queue"),
    station("mean_wait", Unit::Seconds, |s| {
        Some(Cell::maybe(s.mean_wait, s.mean_wait_ci95))
    })
    .compared("mean_wait")
    .column("wait"),
    station("mean_response", Unit::Seconds, |s| {
        Some(Cell::maybe(s.mean_response, None))
    })
    .compared("mean_response")
    .column("response"),
    station("dropped", Unit::Count, |s| Some(Cell::count(s.dropped))).column("dropped"),
    // Worker slots (or connections, or a queue's consumers).
    station("workers_utilization", Unit::Number, |s| {
        s.workers.as_ref().map(|w| Cell::of(w.utilization, None))
    }),
    station("workers_waiting", Unit::Number, |s| {
        s.workers.as_ref().map(|w| Cell::of(w.mean_waiting, None))
    }),
    station("workers_wait", Unit::Seconds, |s| {
        s.workers.as_ref().map(|w| Cell::maybe(w.mean_wait, None))
    })
    .compared("workers.mean_wait"),
    station("backlog_growth", Unit::Number, |s| {
        s.workers
            .as_ref()
            .map(|w| Cell::of(w.backlog_growth, w.backlog_growth_ci95))
    })
    .compared("workers.backlog_growth"),
    station("unstable", Unit::Number, |s| {
        s.workers
            .as_ref()
            .map(|w| Cell::of(f64::from(u8::from(w.unstable)), None))
    }),
    station("busiest_replica", Unit::Percent, |s| {
        s.busiest_replica
            .map(|b| Cell::of(b, s.busiest_replica_ci95))
    })
    .compared("busiest_replica"),
    station("uneven_load", Unit::Number, |s| {
        s.uneven_load
            .map(|u| Cell::of(f64::from(u8::from(u)), None))
    }),
    station("connects", Unit::Number, |s| {
        s.workers
            .as_ref()
            .and_then(|w| w.connects)
            .map(|c| Cell::of(c, None))
    }),
    // Read replicas.
    station("replica_reads", Unit::Count, |s| {
        s.replication.as_ref().map(|r| Cell::count(r.reads))
    }),
    station("replicated_writes", Unit::Count, |s| {
        s.replication.as_ref().map(|r| Cell::count(r.writes))
    }),
    station("stale_reads", Unit::Count, |s| {
        s.replication.as_ref().map(|r| Cell::count(r.stale_reads))
    }),
    station("stale_ratio", Unit::Percent, |s| {
        s.replication
            .as_ref()
            .map(|r| Cell::maybe(r.stale_ratio, r.stale_ratio_ci95))
    })
    .compared("replication.stale_ratio"),
    // Shards.
    station("hottest_shard_share", Unit::Percent, |s| {
        s.shards
            .as_ref()
            .map(|h| Cell::of(h.hottest_share, h.hottest_share_ci95))
    })
    .compared("shards.hottest_share"),
    station("shards_saturate_at", Unit::Number, |s| {
        s.shards
            .as_ref()
            .map(|h| Cell::maybe(h.saturates_at, h.saturates_at_ci95))
    })
    .compared("shards.saturates_at"),
    // Autoscaling.
    station("replicas_ready", Unit::Number, |s| {
        s.autoscaling
            .as_ref()
            .map(|a| Cell::of(a.mean_ready, a.mean_ready_ci95))
    })
    .compared("autoscaling.mean_ready"),
    station("replicas_billed", Unit::Number, |s| {
        s.autoscaling
            .as_ref()
            .map(|a| Cell::of(a.mean_billed, a.mean_billed_ci95))
    })
    .compared("autoscaling.mean_billed"),
    station("replicas_peak", Unit::Count, |s| {
        s.autoscaling
            .as_ref()
            .map(|a| Cell::count(u64::from(a.peak)))
    }),
    station("scale_ups", Unit::Number, |s| {
        s.autoscaling.as_ref().map(|a| Cell::of(a.scale_ups, None))
    }),
    station("scale_ins", Unit::Number, |s| {
        s.autoscaling.as_ref().map(|a| Cell::of(a.scale_ins, None))
    }),
    station("at_max_share", Unit::Number, |s| {
        s.autoscaling
            .as_ref()
            .map(|a| Cell::of(a.at_max_share, None))
    }),
    station("replica_hours", Unit::Number, |s| {
        s.autoscaling
            .as_ref()
            .map(|a| Cell::of(a.replica_hours, None))
    }),
    // Garbage collection, then per replica.
    station("gc_pauses_per_sec", Unit::Number, |s| {
        s.gc.as_ref().map(|g| Cell::of(g.pauses_per_sec, None))
    }),
    station("gc_paused", Unit::Percent, |s| {
        s.gc.as_ref().map(|g| Cell::of(g.paused, g.paused_ci95))
    })
    .compared("gc.paused"),
    station("gc_mean_pause", Unit::Seconds, |s| {
        s.gc.as_ref().map(|g| Cell::maybe(g.mean_pause, None))
    }),
    station("gc_longest_pause", Unit::Seconds, |s| {
        s.gc.as_ref().map(|g| Cell::of(g.longest, None))
    }),
    Entry::Many(|s| {
        let Some(g) = &s.gc else {
            return Vec::new();
        };
        g.replicas
            .iter()
            .enumerate()
            .flat_map(|(k, r)| {
                [
                    (format!("gc_pauses[{k}]"), Cell::count(r.pauses)),
                    (format!("gc_pause_total[{k}]"), Cell::of(r.total, None)),
                    (format!("gc_longest_pause[{k}]"), Cell::of(r.longest, None)),
                ]
            })
            .collect()
    }),
    // A cache.
    station("hit_ratio", Unit::Percent, |s| {
        s.cache
            .as_ref()
            .map(|c| Cell::maybe(c.hit_ratio, c.hit_ratio_ci95))
    })
    .compared("cache.hit_ratio"),
    station("hits", Unit::Count, |s| {
        s.cache.as_ref().map(|c| Cell::count(c.hits))
    }),
    station("misses", Unit::Count, |s| {
        s.cache.as_ref().map(|c| Cell::count(c.misses))
    }),
    station("writes", Unit::Count, |s| {
        s.cache.as_ref().map(|c| Cell::count(c.writes))
    }),
    station("flushed", Unit::Count, |s| {
        s.cache.as_ref().map(|c| Cell::count(c.flushed))
    }),
    station("writes_at_risk", Unit::Number, |s| {
        s.cache
            .as_ref()
            .map(|c| Cell::of(c.writes_at_risk, c.writes_at_risk_ci95))
    })
    .compared("cache.writes_at_risk"),
    station("writes_at_risk_max", Unit::Count, |s| {
        s.cache.as_ref().map(|c| Cell::count(c.writes_at_risk_max))
    }),
    // Each lock.
    Entry::Many(|s| {
        s.locks
            .iter()
            .flatten()
            .flat_map(|(lock, l)| {
                let metric = |m: &str| format!("lock:{lock}:{m}");
                [
                    (
                        metric("utilization"),
                        Cell::of(l.utilization, l.utilization_ci95),
                    ),
                    (metric("throughput"), Cell::of(l.throughput, None)),
                    (
                        metric("mean_wait"),
                        Cell::maybe(l.mean_wait, l.mean_wait_ci95),
                    ),
                    (metric("mean_hold"), Cell::maybe(l.mean_hold, None)),
                ]
            })
            .collect()
    }),
    // Timeouts, retries, wasted work.
    station("calls", Unit::Count, |s| {
        s.resilience.as_ref().map(|r| Cell::count(r.calls))
    }),
    station("attempts_per_call", Unit::Number, |s| {
        s.resilience
            .as_ref()
            .map(|r| Cell::maybe(r.attempts_per_call, None))
    })
    .compared("resilience.attempts_per_call"),
    station("timeouts", Unit::Count, |s| {
        s.resilience.as_ref().map(|r| Cell::count(r.timeouts))
    })
    .compared("resilience.timeouts"),
    station("retries", Unit::Count, |s| {
        s.resilience.as_ref().map(|r| Cell::count(r.retries))
    })
    .compared("resilience.retries"),
    station("retries_refused", Unit::Count, |s| {
        s.resilience
            .as_ref()
            .map(|r| Cell::count(r.retries_refused))
    }),
    station("hedges", Unit::Count, |s| {
        s.resilience.as_ref().map(|r| Cell::count(r.hedges))
    })
    .compared("resilience.hedges"),
    station("late_replies", Unit::Count, |s| {
        s.resilience.as_ref().map(|r| Cell::count(r.late_replies))
    }),
    station("expired", Unit::Count, |s| {
        s.resilience.as_ref().map(|r| Cell::count(r.expired))
    }),
    station("cancelled", Unit::Count, |s| {
        s.resilience.as_ref().map(|r| Cell::count(r.cancelled))
    }),
    station("shed", Unit::Count, |s| {
        s.resilience.as_ref().map(|r| Cell::count(r.shed))
    })
    .compared("resilience.shed"),
    station("rate_limited", Unit::Count, |s| {
        s.resilience.as_ref().map(|r| Cell::count(r.rate_limited))
    })
    .compared("resilience.rate_limited"),
    station("delayed", Unit::Count, |s| {
        s.resilience.as_ref().map(|r| Cell::count(r.delayed))
    }),
    station("mean_delay", Unit::Seconds, |s| {
        s.resilience
            .as_ref()
            .map(|r| Cell::maybe(r.mean_delay, None))
    }),
    station("breaker_rejected", Unit::Count, |s| {
        s.resilience
            .as_ref()
            .map(|r| Cell::count(r.breaker_rejected))
    }),
    station("breaker_opened", Unit::Count, |s| {
        s.resilience.as_ref().map(|r| Cell::count(r.breaker_opened))
    }),
    station("ejections", Unit::Count, |s| {
        s.resilience.as_ref().map(|r| Cell::count(r.ejections))
    }),
    station("breaker_open", Unit::Number, |s| {
        s.resilience
            .as_ref()
            .and_then(|r| r.breaker_open)
            .map(|x| Cell::of(x, None))
    })
    .compared("resilience.breaker_open"),
    station("breaker_half_open", Unit::Number, |s| {
        s.resilience
            .as_ref()
            .and_then(|r| r.breaker_half_open)
            .map(|x| Cell::of(x, None))
    }),
    station("wasted", Unit::Number, |s| {
        s.resilience.as_ref().map(|r| Cell::maybe(r.wasted, None))
    })
    .compared("resilience.wasted"),
    // Where a request's time goes.
    station("time_pool_wait", Unit::Seconds, |s| {
        s.breakdown.as_ref().map(|b| Cell::maybe(b.pool_wait, None))
    }),
    station("time_connect", Unit::Seconds, |s| {
        s.breakdown
            .as_ref()
            .filter(|b| b.connect.is_some())
            .map(|b| Cell::maybe(b.connect, None))
    }),
    station("time_queue", Unit::Seconds, |s| {
        s.breakdown.as_ref().map(|b| Cell::maybe(b.queue, None))
    }),
    station("time_work", Unit::Seconds, |s| {
        s.breakdown.as_ref().map(|b| Cell::maybe(b.work, None))
    }),
    Entry::Many(|s| {
        s.breakdown
            .iter()
            .flat_map(|b| &b.calls)
            .map(|(callee, t)| (format!("time_call:{callee}"), Cell::maybe(*t, None)))
            .collect()
    }),
];

/// Every CSV row of one class or station: (metric, cell), in order.
pub(crate) fn rows<T>(entries: &[Entry<T>], of: &T) -> Vec<(String, Cell)> {
    let mut out = Vec::new();
    for entry in entries {
        match entry {
            Entry::One(f) => {
                if let (Some(name), Some(cell)) = (f.csv, (f.read)(of)) {
                    out.push((name.to_owned(), cell));
                }
            }
            Entry::Many(read) => out.extend(read(of)),
        }
    }
    out
}

/// The figures with a column in the table for people, in order.
pub(crate) fn columns<T>(entries: &[Entry<T>]) -> impl Iterator<Item = &Figure<T>> {
    entries.iter().filter_map(|e| match e {
        Entry::One(f) if f.column.is_some() => Some(f),
        _ => None,
    })
}

/// The figures `compare` shows, in order.
pub(crate) fn compared<T>(entries: &[Entry<T>]) -> impl Iterator<Item = &Figure<T>> {
    entries.iter().filter_map(|e| match e {
        Entry::One(f) if f.compare.is_some() => Some(f),
        _ => None,
    })
}
