//! Autoscaling as a user writes it: the Kubernetes rule replayed by hand on
//! a load whose metric is exact, the autoscaler's lag against the fluid
//! backlog it lets build, and the bundled `scenarios/dynamics/autoscaling.toml`.

use std::path::PathBuf;

use chokepoint_core::stats::RunStats;
use chokepoint_core::time::SimTime;

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/dynamics")
}

/// Replicas ready, on average over each window of `runs`' first replication.
fn ready(run: &RunStats) -> Vec<f64> {
    run.series
        .iter()
        .map(|w| w.ready_area[0] / w.length.as_nanos() as f64)
        .collect()
}

/// Evenly spaced arrivals, split exactly by a round-robin balancer: each
/// evaluation's requests per second per replica are known to the request,
/// so the replica counts follow from the rule worked by hand:
///
/// - 500/s on 2 replicas, 400/s aimed at: 0.625 of the target, and
///   ceil(500 / 400) = 2: nothing changes.
/// - 1,500/s from 60 s. At 70 s: ceil(1500 / 400) = 4 asked; ready 21 s
///   later, at 91 s. At 80 and 90 s the two starting count as idle:
///   1500 / (4 × 400) = 0.94 is within the tolerance, nothing changes. At
///   100 s: replicas 0 and 1 saw 750/s for 1 s and 375/s for 9 s (412.5/s),
///   2 and 3 saw 375/s since 91 s: a mean of 394/s, within 10% of 400.
/// - 300/s from 200 s. From 210 s each evaluation recommends
///   ceil(300 / 400) = 1, but the highest of the last 30 s is 4 until
///   240 s, when it scales in to 1 (300/s on one replica: 0.75 of the
///   target, and ceil(0.75) = 1: it stays).
///
/// Billed: 2 × 70 + 4 × (240 − 70) + 1 × 60 = 880 replica-seconds by
/// 300 s; ready: 2 × 91 + 4 × (240 − 91) + 1 × 60 = 838.
#[test]
fn the_replica_count_follows_the_kubernetes_rule_exactly() {
    let text = r#"
name = "hpa"
[simulation]
duration = "300s"
replications = 2
seed = 3
[load.users]
arrival = "constant"
rate = { steps = [{ at = "0s", rate = "500/s" }, { at = "60s", rate = "1500/s" }, { at = "200s", rate = "300/s" }] }
entry = "lb"
[services.lb]
kind = "load_balancer"
policy = "round_robin"
targets = ["api"]
[services.api]
kind = "api"
servers = 4
replicas = 2
cpu = "exp(1ms)"
autoscale = { metric = "rps_per_replica", target = "400/s", min = 1, max = 8, interval = "10s", provision = "15s", warmup = "6s", scale_in_after = "30s" }
"#;
    let runs = chokepoint_validation::series(("hpa", text), &[], SimTime::from_secs_f64(1.0));
    for run in &runs {
        let s = &run.autoscalers[0];
        let replica_seconds = |area: f64| area / 1e9;
        assert!(
            (replica_seconds(s.billed_area) - 880.0).abs() < 1e-6,
            "billed {} replica-seconds",
            replica_seconds(s.billed_area)
        );
        assert!(
            (replica_seconds(s.ready_area) - 838.0).abs() < 1e-6,
            "ready {} replica-seconds",
            replica_seconds(s.ready_area)
        );
        assert_eq!(
            (s.scale_ups, s.scale_ins, s.peak, s.ready_at_end),
            (1, 1, 4, 1)
        );
        // Second by second: 2 ready until 91 s, 4 until 240 s, then 1.
        let expected = |end: usize| match end {
            ..=91 => 2.0,
            92..=240 => 4.0,
            _ => 1.0,
        };
        for (w, r) in ready(run).into_iter().enumerate() {
            assert_eq!(
                r,
                expected(w + 1),
                "ready in the second ending at {} s",
                w + 1
            );
        }
    }
}

/// A queue feeding workers that each serve 100 messages/s; 100/s, then
/// 350/s from 100 s, then 100/s from 600 s. The autoscaler (10 messages
/// waiting per replica aimed at, 2 to 4 replicas) sees the backlog at
/// 110 s and asks for 4, ready 65 s later: from 100 s to 175 s the
/// backlog grows at 350 − 200 = 150/s (the fluid estimate: 11,250
/// messages), then drains at 4 × 100 − 350 = 50/s: empty 225 s later, at
/// 400 s.
#[test]
fn the_autoscalers_lag_builds_the_fluid_backlog_and_it_drains() {
    let text = r#"
name = "lag"
[simulation]
duration = "700s"
replications = 4
seed = 11
max_in_system = 100000
[load.jobs]
rate = { steps = [{ at = "0s", rate = "100/s" }, { at = "100s", rate = "350/s" }, { at = "600s", rate = "100/s" }] }
entry = "jobs"
[services.jobs]
kind = "queue"
[services.workers]
kind = "worker"
queue = "jobs"
servers = 1
concurrency = 1
replicas = 2
cpu = "exp(10ms)"
autoscale = { metric = "queue_per_replica", target = 10, min = 2, max = 4, interval = "10s", provision = "60s", warmup = "5s", scale_in_after = "60s" }
"#;
    let runs = chokepoint_validation::series(("lag", text), &[], SimTime::from_secs_f64(5.0));
    for run in &runs {
        let r = ready(run);
        // Windows of 5 s: the one ending at 175 s is index 34.
        assert!(r[..35].iter().all(|&x| x == 2.0), "{r:?}");
        assert!(r[35..80].iter().all(|&x| x == 4.0), "{r:?}");
    }
    // The backlog at the end of window `w`: arrived less completed.
    let at = |run: &RunStats, w: usize| {
        run.series[..=w]
            .iter()
            .map(|x| x.arrived[0] as f64 - x.completed[0] as f64)
            .sum::<f64>()
    };
    // At 175 s: 11,250 by the fluid estimate; the noise over 75 s of
    // Poisson arrivals and exponential service is about
    // √(350 × 75 + 200 × 75) ≈ 200 a replication.
    let backlog: Vec<f64> = runs.iter().map(|run| at(run, 34)).collect();
    let mean = backlog.iter().sum::<f64>() / backlog.len() as f64;
    assert!(
        (mean - 11_250.0).abs() < 4.0 * 200.0 / (runs.len() as f64).sqrt(),
        "backlog at 175 s {backlog:?}, fluid 11,250"
    );
    // Empty (fewer than 20 left) within 20 s of 400 s: the drain's noise
    // is about 200 / 50 = 4 s.
    for run in &runs {
        let empty = (35..120).find(|&w| at(run, w) < 20.0).unwrap();
        let t = 5.0 * (empty + 1) as f64;
        assert!((380.0..=420.0).contains(&t), "drained at {t} s");
    }
}

/// The bundled scenario: 2 replicas until the load triples at 300 s; the
/// evaluation at 315 s sees the CPUs saturated (1.0 against 0.6 aimed at)
/// and asks for ceil(2 × 1.0 / 0.6) = 4, ready 120 s later at 435 s; the
/// report prices the replica-hours used, not the most replicas.
#[test]
fn the_bundled_scenario_scales_out_late_and_prices_what_it_used() {
    let text = std::fs::read_to_string(folder().join("autoscaling.toml")).unwrap();
    let runs =
        chokepoint_validation::series(("autoscaling", &text), &[], SimTime::from_secs_f64(5.0));
    for run in &runs {
        let r = ready(run);
        // Windows of 5 s: 435 s ends window 86.
        assert!(r[..87].iter().all(|&x| x == 2.0), "{:?}", &r[..90]);
        assert_eq!(r[87], 4.0, "{:?}", &r[80..95]);
    }
    let summary = chokepoint_validation::summary(("autoscaling", &text), &[]);
    let api = &summary.stations["api"];
    let a = api.autoscaling.as_ref().unwrap();
    let price = 0.096; // g-large, $/h
    assert!((api.cost_per_hour.unwrap() - a.mean_billed * price).abs() < 1e-9);
    assert!(a.mean_billed > 4.0 && a.mean_billed < 10.0, "{a:?}");
    // Utilisation over the replicas ready: 1,000/s on average over the run
    // × 4 ms of CPU = 4 cores busy, over 2 cores × the replicas ready.
    let expected = 1000.0 * 0.004 / (2.0 * a.mean_ready);
    assert!(
        (api.utilization - expected).abs() < 0.02,
        "{} vs {expected}",
        api.utilization
    );
}

/// `rps_per_replica` counts what the replicas receive, not what they serve:
/// 600/s on 2 replicas that serve 200/s each (2 workers, 2 cores, 10 ms)
/// asks for ceil(600 / 250) = 3 at its first evaluation, and, since 3
/// receive 600/s between them, no more (a metric of completions would see
/// 400/s and never scale).
#[test]
fn the_request_rate_metric_sees_what_the_replicas_receive() {
    let text = r#"
name = "rps"
[simulation]
duration = "120s"
replications = 2
[load.web]
rate = "600/s"
arrival = "constant"
entry = "api"
[services.api]
kind = "api"
servers = 2
replicas = 2
workers = 2
cpu = "const(10ms)"
autoscale = { metric = "rps_per_replica", target = "250/s", min = 2, max = 10, interval = "15s" }
"#;
    let runs = chokepoint_validation::series(("rps", text), &[], SimTime::from_secs_f64(5.0));
    for run in &runs {
        let s = &run.autoscalers[0];
        assert_eq!((s.scale_ups, s.peak, s.ready_at_end), (1, 3, 3), "{s:?}");
        // Ready from the first evaluation, at 15 s.
        let r = ready(run);
        assert!(
            r[..3].iter().all(|&x| x == 2.0) && r[3..].iter().all(|&x| x == 3.0),
            "{r:?}"
        );
    }
}
