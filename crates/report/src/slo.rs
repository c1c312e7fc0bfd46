//! Judging results against service-level objectives (`[slo]`).

use crate::summary::{Summary, Verdict};
use chokepoint_scenario::Slo;

/// An SLO's objectives in words: `p99 ≤ 100 ms, error rate ≤ 0.01`.
pub fn objectives(slo: &Slo) -> String {
    let at = |x: f64| crate::format::duration(Some(x), None);
    let latencies = [
        ("mean", slo.mean),
        ("p50", slo.p50),
        ("p90", slo.p90),
        ("p99", slo.p99),
        ("p99.9", slo.p999),
    ];
    latencies
        .iter()
        .filter_map(|&(what, limit)| Some(format!("{what} ≤ {}", at(limit?))))
        .chain(slo.max_error_rate.map(|r| format!("error rate ≤ {r}")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Judges a summary against an SLO: every class must meet every objective given.
/// A class with no completion misses every latency objective.
pub fn judge(summary: &Summary, slo: &Slo) -> Verdict {
    let mut violations = Vec::new();
    for (name, c) in &summary.classes {
        let l = &c.latency;
        let none = c.completed == 0;
        let checks = [
            ("mean", slo.mean, l.mean),
            ("p50", slo.p50, l.p50),
            ("p90", slo.p90, l.p90),
            ("p99", slo.p99, l.p99),
            ("p99.9", slo.p999, l.p999),
        ];
        let checks =
            checks.map(|(what, limit, value)| (what, limit, value.unwrap_or(f64::INFINITY)));
        for (what, limit, value) in checks {
            if let Some(limit) = limit
                && (none || value > limit)
            {
                let at = |x: f64| crate::format::duration(Some(x), None);
                violations.push(if none {
                    format!(
                        "{name}: {what} undefined (nothing completed) > {}",
                        at(limit)
                    )
                } else {
                    format!("{name}: {what} {} > {}", at(value), at(limit))
                });
            }
        }
        if let Some(limit) = slo.max_error_rate {
            // Every request that did not complete in time: turned away,
            // failed, given up by its client or a timeout, refused.
            let errors = (c.dropped + c.failed + c.timed_out + c.rejected) as f64;
            let rate = if c.arrived == 0 {
                0.0
            } else {
                errors / c.arrived as f64
            };
            if rate > limit {
                violations.push(format!("{name}: error rate {rate:.4} > {limit}"));
            }
        }
    }
    // A run that held as many requests as it may was overloaded: whatever
    // its figures, which are lower bounds, it does not meet an objective.
    if let Some(s) = summary.stopped.iter().find(|s| s.cause == "in_system") {
        violations.push(format!(
            "overloaded: stopped early with {} requests in the system",
            s.limit.unwrap_or(0)
        ));
    }
    Verdict {
        met: violations.is_empty(),
        violations,
        p99: slo.p99,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{RunInfo, summarize};
    use chokepoint_core::dist::Dist;
    use chokepoint_core::model::*;
    use chokepoint_core::time::SimTime;

    fn summary(capacity: Option<u32>) -> Summary {
        let topology = Topology {
            stations: vec![Station::with_role(
                "q",
                Role::Queue(Queue {
                    capacity,
                    ..Queue::new(1, Discipline::Fifo)
                }),
                vec![Some(Behaviour {
                    work: Dist::constant(1e9).unwrap(),
                    routing: Routing::exit(),
                })],
            )],
            classes: vec![Class {
                name: "jobs".into(),
                entry: StationId(0),
                priority: 0,
                deadline: None,
                rate_limit: None,
                load: Load::Open {
                    process: ArrivalProcess::Constant,
                    rate: 0.5,
                    profile: None,
                },
            }],
            faults: Vec::new(),
            autoscalers: Vec::new(),
        };
        let config = RunConfig::new(SimTime::ZERO, SimTime::from_secs_f64(100.0));
        let run = chokepoint_core::run(&topology, &config, 1).unwrap();
        let info = RunInfo {
            scenario: "s".into(),
            seed: 1,
            warmup: 0.0,
            wall: 0.0,
            warnings: vec![],
            services: vec![],
            faults: Vec::new(),
        };
        summarize(&info, &[run])
    }

    /// Evenly spaced arrivals every 2 s to a 1 s deterministic server: every
    /// latency is exactly 1 s, nothing is dropped.
    #[test]
    fn verdicts_follow_the_objectives() {
        let s = summary(None);
        let ok = Slo {
            p99: Some(1.01),
            max_error_rate: Some(0.0),
            ..Slo::default()
        };
        assert_eq!(
            judge(&s, &ok),
            Verdict {
                met: true,
                violations: vec![],
                p99: Some(1.01),
            }
        );
        let tight = Slo {
            p50: Some(0.5),
            mean: Some(0.9),
            ..Slo::default()
        };
        let v = judge(&s, &tight);
        assert!(!v.met);
        assert_eq!(v.violations.len(), 2, "{v:?}");
        assert!(
            v.violations[0].starts_with("jobs: mean 1.00 s > 900 ms"),
            "{v:?}"
        );
    }

    /// A run stopped by its limit on requests held misses any objective,
    /// however good its (lower-bound) figures look.
    #[test]
    fn an_overloaded_run_misses_its_slo() {
        let mut s = summary(None);
        let ok = Slo {
            p99: Some(1.01),
            ..Slo::default()
        };
        assert!(judge(&s, &ok).met);
        s.stopped.push(crate::summary::StoppedRun {
            replication: 0,
            cause: "in_system".into(),
            at: 10.0,
            measured: 10.0,
            limit: Some(1000),
            service: Some("q".into()),
            present: Some(1000),
            growth_per_sec: Some(100.0),
        });
        let v = judge(&s, &ok);
        assert!(!v.met);
        assert_eq!(
            v.violations,
            ["overloaded: stopped early with 1000 requests in the system"]
        );
    }
}
