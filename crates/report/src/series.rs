//! A run's time series as tidy CSV: per window of simulated time (from the
//! start, warm-up included), each class's throughput, mean latency and
//! errors, each service's throughput, utilisation and requests present, and
//! each cache's hit ratio, averaged over the replications with a 95%
//! confidence half-width.
//!
//! ```text
//! time,kind,name,metric,value,ci95
//! 1,class,reads,throughput,299.4,3.1
//! 1,station,cache,hit_ratio,0.183,0.004
//! ```

use std::fmt::Write as _;

use chokepoint_core::stats::{RunStats, Window};

use crate::summary::{Estimate, RunInfo};

/// One figure of one window, averaged over replications.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesRow {
    /// The window's end, seconds since the start of the run.
    pub time: f64,
    /// `class` or `station`.
    pub kind: &'static str,
    /// The class's or service's name.
    pub name: String,
    /// `throughput` (per second), `latency_mean` (seconds), `errors`
    /// (requests that ended badly, per second), `utilization` (0 to 1),
    /// `in_system` (requests present, on average), `hit_ratio`, `replicas`
    /// (an autoscaled service's replicas ready, on average).
    pub metric: &'static str,
    /// The mean over replications.
    pub value: f64,
    /// The 95% half-width, with several replications.
    pub ci95: Option<f64>,
}

/// The series of `runs` (which must have recorded one, with the same
/// windows) as CSV; a header alone when they recorded none.
pub fn timeseries_csv(info: &RunInfo, runs: &[RunStats]) -> String {
    let mut out = String::from("time,kind,name,metric,value,ci95\n");
    for r in timeseries(info, runs) {
        let ci = r.ci95.map_or(String::new(), |h| format!("{h}"));
        let _ = writeln!(
            out,
            "{},{},{},{},{},{ci}",
            r.time, r.kind, r.name, r.metric, r.value
        );
    }
    out
}

/// A service as the series reads it: where its throughput counts (its
/// replicas' first stations), whose servers its utilisation is over (their
/// CPUs), where its requests are present (its stations but its call
/// points), all its stations, and its autoscaler.
struct Service {
    name: String,
    heads: Vec<usize>,
    cpus: Vec<usize>,
    present: Vec<usize>,
    all: Vec<usize>,
    scaler: Option<usize>,
}

/// The series of `runs`, window by window: each class's throughput, mean
/// latency, median and 99th percentile, and errors; each service's
/// throughput, utilisation, requests present, replicas ready, retries,
/// timeouts, open breakers and hit ratio, where it has them.
pub fn timeseries(info: &RunInfo, runs: &[RunStats]) -> Vec<SeriesRow> {
    let mut out = Vec::new();
    let Some(first) = runs.first() else {
        return out;
    };
    // Services lowered into several stations count at their replicas' heads.
    let grouped = crate::summary::grouped(info);
    let mut stations: Vec<Service> = first
        .stations
        .iter()
        .enumerate()
        .filter(|(i, _)| !grouped.contains(i))
        .map(|(i, s)| Service {
            name: s.name.clone(),
            heads: vec![i],
            cpus: vec![i],
            present: vec![i],
            all: vec![i],
            scaler: None,
        })
        .collect();
    stations.extend(info.compound().map(|svc| {
        Service {
            name: svc.name.clone(),
            heads: svc.replicas.iter().map(|r| r.head().idx()).collect(),
            cpus: svc.replicas.iter().map(|r| r.cpu().idx()).collect(),
            present: svc
                .stations()
                .map(|s| s.idx())
                .filter(|&i| !first.stations[i].call)
                .collect(),
            all: svc.stations().map(|s| s.idx()).collect(),
            scaler: svc
                .autoscaler
                .map(|a| a.index)
                .filter(|&a| first.autoscalers.len() > a),
        }
    }));
    stations.sort_by(|a, b| a.name.cmp(&b.name));
    let windows = runs.iter().map(|r| r.series.len()).min().unwrap_or(0);
    for w in 0..windows {
        fn at(r: &RunStats, w: usize) -> &Window {
            &r.series[w]
        }
        let at = |r| at(r, w);
        let time = at(first).end.as_secs_f64();
        let mut row =
            |kind: &'static str, name: &str, metric: &'static str, f: &dyn Fn(&Window) -> f64| {
                let values: Vec<f64> = runs.iter().map(|r| f(at(r))).collect();
                let e = Estimate::of(&values, 0.95);
                if e.mean.is_finite() {
                    out.push(SeriesRow {
                        time,
                        kind,
                        name: name.to_owned(),
                        metric,
                        value: e.mean,
                        ci95: e.half_width,
                    });
                }
            };
        for (ci, class) in first.classes.iter().enumerate() {
            row("class", &class.name, "throughput", &|x| {
                x.completed[ci] as f64 / x.length.as_secs_f64()
            });
            row("class", &class.name, "latency_mean", &|x| {
                x.latency_sum[ci] / x.completed[ci] as f64 / 1e9
            });
            row("class", &class.name, "errors", &|x| {
                x.failed[ci] as f64 / x.length.as_secs_f64()
            });
            row("class", &class.name, "latency_p50", &|x| {
                x.latency_p50[ci] / 1e9
            });
            row("class", &class.name, "latency_p99", &|x| {
                x.latency_p99[ci] / 1e9
            });
        }
        for svc in &stations {
            let name = &svc.name;
            let per_second = |n: u64, x: &Window| n as f64 / x.length.as_secs_f64();
            row("station", name, "throughput", &|x| {
                per_second(svc.heads.iter().map(|&i| x.departures[i]).sum(), x)
            });
            let servers: u64 = svc
                .cpus
                .iter()
                .map(|&i| u64::from(first.stations[i].servers))
                .sum();
            if svc
                .cpus
                .iter()
                .all(|&i| first.stations[i].finite_servers().is_some())
            {
                // Over the replicas ready, for an autoscaled service.
                let capacity = |x: &Window| match svc.scaler {
                    Some(a) => x.ready_area[a] * servers as f64 / svc.cpus.len() as f64,
                    None => x.length.as_nanos() as f64 * servers as f64,
                };
                row("station", name, "utilization", &|x| {
                    svc.cpus.iter().map(|&i| x.busy_area[i]).sum::<f64>() / capacity(x)
                });
            }
            if let Some(a) = svc.scaler {
                row("station", name, "replicas", &|x| {
                    x.ready_area[a] / x.length.as_nanos() as f64
                });
            }
            // Those waiting for a slot (a worker, a connection, a queue's
            // consumer) are present too.
            row("station", name, "in_system", &|x| {
                svc.present
                    .iter()
                    .map(|&i| x.system_area[i] + x.slot_queue_area[i])
                    .sum::<f64>()
                    / x.length.as_nanos() as f64
            });
            // Retries, timeouts and open breakers, where there are any.
            let any = |f: &dyn Fn(&Window) -> bool| runs.iter().any(|r| r.series.iter().any(f));
            let retries = |x: &Window| svc.all.iter().map(|&i| x.retries[i]).sum::<u64>();
            if any(&|x| retries(x) > 0) {
                row("station", name, "retries", &|x| per_second(retries(x), x));
            }
            let timeouts = |x: &Window| svc.all.iter().map(|&i| x.timeouts[i]).sum::<u64>();
            if any(&|x| timeouts(x) > 0) {
                row("station", name, "timeouts", &|x| per_second(timeouts(x), x));
            }
            let breakers: Vec<usize> = svc
                .all
                .iter()
                .copied()
                .filter(|&i| first.stations[i].breaker)
                .collect();
            if !breakers.is_empty() {
                row("station", name, "breaker_open", &|x| {
                    breakers.iter().map(|&i| x.breaker_open[i]).sum::<f64>()
                        / (breakers.len() as f64 * x.length.as_nanos() as f64)
                });
            }
            let lookups = |x: &Window| {
                svc.heads
                    .iter()
                    .map(|&i| x.hits[i] + x.misses[i])
                    .sum::<u64>()
            };
            if any(&|x| lookups(x) > 0) {
                row("station", name, "hit_ratio", &|x| {
                    svc.heads.iter().map(|&i| x.hits[i]).sum::<u64>() as f64 / lookups(x) as f64
                });
            }
        }
    }
    out
}
