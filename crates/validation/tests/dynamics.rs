//! Load that changes over time as a user writes it: the bundled scenarios
//! under `scenarios/dynamics/`, run through the loader and the study
//! pipeline, their time series against the profile they were given.

use std::path::PathBuf;

use chokepoint_core::time::SimTime;
use chokepoint_scenario::Override;

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/dynamics")
}

/// The trace `replay.toml` names (`morning.csv`, relative to the
/// scenario), read here independently: one rate per minute.
fn morning() -> Vec<f64> {
    let text = std::fs::read_to_string(folder().join("morning.csv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("time"))
        .map(|l| l.split(',').nth(1).unwrap().trim().parse().unwrap())
        .collect()
}

/// `replay.toml` replays its trace: each minute's arrivals, over three
/// replications, are Poisson with the trace's rate × 60 s × 3 as mean
/// (within 4.5 standard deviations each, and chi-squared over the twenty
/// minutes within five of its mean).
#[test]
fn a_replayed_trace_is_followed_minute_by_minute() {
    let text = std::fs::read_to_string(folder().join("replay.toml")).unwrap();
    let runs = chokepoint_validation::replications_in(
        ("replay", &text),
        Some(&folder()),
        &[Override::new("simulation.duration", "\"1200s\"")],
        Some(SimTime::from_secs_f64(60.0)),
    );
    let rates = morning();
    assert_eq!(rates.len(), 20);
    let mut chi2 = 0.0;
    for (minute, rate) in rates.iter().enumerate() {
        // Completions stand for arrivals: a visit lasts milliseconds.
        let observed: u64 = runs.iter().map(|r| r.series[minute].completed[0]).sum();
        let expected = rate * 60.0 * runs.len() as f64;
        let z = (observed as f64 - expected) / expected.sqrt();
        assert!(
            z.abs() < 4.5,
            "minute {minute}: {observed} arrivals, expected {expected} (z = {z:.2})"
        );
        chi2 += z * z;
    }
    assert!(
        (chi2 - 20.0).abs() < 5.0 * 40f64.sqrt(),
        "chi-squared {chi2:.1}"
    );
}

/// `step_overload.toml`: 600/s, then 1,000/s from 300 s to 600 s, against
/// a database that serves 800/s. The backlog at 600 s is the fluid
/// (λ₁ − cμ)·T = 200 × 300 = 60,000 requests, and it drains at
/// cμ − λ₀ = 200/s: the database completes 800/s until about 900 s, then
/// 600/s.
#[test]
fn a_step_above_capacity_builds_the_fluid_backlog_and_drains_it() {
    let text = std::fs::read_to_string(folder().join("step_overload.toml")).unwrap();
    let runs = chokepoint_validation::replications_in(
        ("step_overload", &text),
        Some(&folder()),
        &[],
        Some(SimTime::from_secs_f64(30.0)),
    );
    for run in &runs {
        let completed = |w: usize| run.series[w].completed[0] as f64 / 30.0;
        // Windows of 30 s: [300, 600) is 10..20, the drain until ~900 s
        // is 20..30 (its last window partly drained), then 600/s.
        let behind: f64 = (10..20)
            .map(|w| {
                let arrived = 1000.0 * 30.0;
                arrived - run.series[w].completed[0] as f64
            })
            .sum();
        // The backlog: what arrived minus what completed over the step
        // (the noise of 300,000 arrivals and 240,000 services: √540,000
        // ≈ 735; 4.5 of them).
        assert!(
            (behind - 60_000.0).abs() < 4.5 * 735.0 + 100.0,
            "backlog {behind}"
        );
        for w in 21..29 {
            let rate = completed(w);
            assert!(
                (rate - 800.0).abs() < 30.0,
                "window {w}: completes {rate}/s while draining"
            );
        }
        for w in 32..40 {
            let rate = completed(w);
            assert!((rate - 600.0).abs() < 30.0, "window {w}: {rate}/s after");
        }
    }
}

/// `single_point_of_failure.toml`: the same 8 cores as one machine or four,
/// one machine crashing for 60 s of 300 s, detected after 5 s. Vertical:
/// everything in the outage is lost, 60/300 = 20% of the requests;
/// horizontal: what is sent to the dead replica before detection,
/// λ/n × detect = 1,000/4 × 5 = 1,250 per replication (Poisson: ±4.5
/// standard deviations of the three replications' sum, plus the few in
/// service at the crash).
#[test]
fn one_big_machine_is_a_single_point_of_failure() {
    let text = std::fs::read_to_string(folder().join("single_point_of_failure.toml")).unwrap();
    let lost = |replicas: &str, profile: &str| {
        let s = chokepoint_validation::summary(
            ("single_point_of_failure", &text),
            &[
                Override::new("services.api.replicas", replicas),
                Override::new("services.api.profile", profile),
            ],
        );
        let c = &s.classes["orders"];
        let f = &s.faults[0];
        assert_eq!(c.failed, f.failed + f.refused);
        (c.failed + c.dropped) as f64 / c.arrived as f64
    };
    let vertical = lost("1", "\"g-2xlarge\"");
    assert!((vertical - 0.2).abs() < 0.005, "vertical lost {vertical}");
    let horizontal = lost("4", "\"g-large\"");
    // Three replications of 300,000 arrivals.
    let expected = 3.0 * 1250.0 / 900_000.0;
    let sd = (3.0 * 1250.0f64).sqrt() / 900_000.0;
    assert!(
        (horizontal - expected).abs() < 4.5 * sd + 20.0 / 900_000.0,
        "horizontal lost {horizontal}, expected {expected}"
    );
}

/// Goodput (completions per second) of `metastable.toml` with `overrides`,
/// from 100 s to the end (30 s after the trigger ended: past the settling
/// time of max(10τ, 10 × the calm mean response) = 2 s many times over),
/// as a share of the 300/s offered then.
fn goodput_after_the_trigger(overrides: &[Override]) -> f64 {
    goodput_from(10, overrides)
}

/// The same, from window `first` (of 10 s) to the end.
fn goodput_from(first: usize, overrides: &[Override]) -> f64 {
    let text = std::fs::read_to_string(folder().join("metastable.toml")).unwrap();
    let runs = chokepoint_validation::replications_in(
        ("metastable", &text),
        Some(&folder()),
        overrides,
        Some(SimTime::from_secs_f64(10.0)),
    );
    let per_run: Vec<f64> = runs
        .iter()
        .map(|r| {
            let done: u64 = r.series[first..].iter().map(|w| w.completed[0]).sum();
            done as f64 / (r.series.len() - first) as f64 / 10.0 / 300.0
        })
        .collect();
    per_run.iter().sum::<f64>() / per_run.len() as f64
}

/// The metastable failure of `metastable.toml` (λ = 300/s against μ = 400/s
/// with 3 attempts: μ/k = 133 < λ < μ): after a 10 s spike the goodput
/// stays near zero, held there by retries; without the spike, with one
/// attempt, or with abandoned work dropped at dequeue, it recovers (what
/// the issue's rule asks: both sides of μ/k and the recovery cases).
#[test]
fn a_spike_tips_a_retrying_system_into_a_metastable_failure() {
    let stuck = goodput_after_the_trigger(&[]);
    assert!(stuck < 0.05, "goodput {stuck} of offered after the spike");
    let calm = goodput_after_the_trigger(&[Override::new("load.users.rate", "\"300/s\"")]);
    assert!(calm > 0.97, "without the spike: {calm}");
    let call = |attempts: u32, cancel: &str| {
        format!(
            "[{{ to = \"db\", timeout = \"200ms\", cancel = \"{cancel}\", retry = {{ attempts = {attempts}, backoff = {{ base = \"0ms\", cap = \"0ms\", jitter = \"none\" }}, on = [\"timeout\"] }} }}]"
        )
    };
    let once = goodput_after_the_trigger(&[Override::new("services.api.calls", call(1, "never"))]);
    assert!(once > 0.9, "with one attempt: {once}");
    let preempted =
        goodput_after_the_trigger(&[Override::new("services.api.calls", call(3, "preempt"))]);
    assert!(preempted > 0.9, "with abandoned work stopped: {preempted}");
    // Dropping abandoned work only when it reaches the head of the line is
    // not enough: the line settles at the timeout, so that what is served
    // waited just under it and its service carries it past (a second bad
    // equilibrium, near 30%); serving the newest first as well recovers.
    let at_dequeue = [Override::new("services.api.calls", call(3, "at_dequeue"))];
    let dropped = goodput_after_the_trigger(&at_dequeue);
    assert!(dropped < 0.5, "dropped at dequeue only: {dropped}");
    let lifo = goodput_after_the_trigger(&[
        at_dequeue[0].clone(),
        Override::new("services.db.adaptive_lifo", "10"),
    ]);
    assert!(lifo > 0.9, "dropped at dequeue, newest first: {lifo}");
    // Below μ/k (100/s: 300 attempts/s against 400) the same spike's
    // backlog, retries and all, drains (at μ − kλ = 100/s at worst): the
    // last 50 s are back to the offered 100/s.
    let light = goodput_from(
        25,
        &[Override::new(
            "load.users.rate",
            "{ spike = { base = \"100/s\", peak = \"600/s\", at = \"60s\", for = \"10s\" } }",
        )],
    );
    assert!(
        light > 0.97 / 3.0,
        "below μ/k: {light} of 300/s (100/s offered)"
    );
}

/// The report's detector names the failure of `metastable.toml` against a
/// control on the same seeds without the spike, and what sustains it; with
/// one attempt it reports a recovery.
#[test]
fn the_report_names_a_metastable_failure_and_its_sustaining_effect() {
    let text = std::fs::read_to_string(folder().join("metastable.toml")).unwrap();
    let s = chokepoint_validation::summary(("metastable", &text), &[]);
    let m = s.metastability.expect("a spike is a trigger");
    assert!(m.metastable, "{m:?}");
    assert_eq!(m.trigger_ended, 70.0);
    // Settling: max(10 × 200 ms, 10 × the calm response) = 2 s.
    assert!(m.measured_from >= 72.0 && m.measured_from < 73.5, "{m:?}");
    assert!(m.goodput < 0.01 && m.control_goodput > 0.99, "{m:?}");
    assert!(
        m.retries_share.unwrap() > 0.5 && m.wasted_share.unwrap() > 0.5,
        "{m:?}"
    );
    let once = "[{ to = \"db\", timeout = \"200ms\", retry = { attempts = 1 } }]";
    let s = chokepoint_validation::summary(
        ("metastable", &text),
        &[Override::new("services.api.calls", once)],
    );
    let m = s.metastability.expect("a spike is a trigger");
    assert!(!m.metastable && m.goodput > 0.9, "{m:?}");
}

/// `hysteresis.toml`: load stepped up every minute (100, 200, 300, 350/s),
/// once above capacity (450/s), then down (350, 300, 200, 100/s). On the
/// way up each step's last 30 s complete what is offered; on the way down
/// the same rates complete almost nothing (each is above μ/k = 133/s).
#[test]
fn the_same_load_is_served_on_the_way_up_and_not_on_the_way_down() {
    let text = std::fs::read_to_string(folder().join("hysteresis.toml")).unwrap();
    let runs = chokepoint_validation::replications_in(
        ("hysteresis", &text),
        Some(&folder()),
        &[],
        Some(SimTime::from_secs_f64(30.0)),
    );
    // The second half of each minute: window 2k + 1 of 30 s.
    let goodput = |minute: usize| -> f64 {
        let per_run: Vec<f64> = runs
            .iter()
            .map(|r| {
                let w = &r.series[2 * minute + 1];
                w.completed[0] as f64 / w.arrived[0].max(1) as f64
            })
            .collect();
        per_run.iter().sum::<f64>() / per_run.len() as f64
    };
    for (up, down, rate) in [(1, 7, 200), (2, 6, 300), (3, 5, 350)] {
        let (before, after) = (goodput(up), goodput(down));
        assert!(before > 0.97, "{rate}/s on the way up: {before}");
        assert!(after < 0.05, "{rate}/s on the way down: {after}");
    }
}

/// A fault on the network between two services (`to`): it strikes the
/// calls' hops from one to the other. Slowed 5×, a 10 ms hop takes 50 ms:
/// each request's latency is 40 ms longer while it lasts (100 s to 200 s);
/// with errors at probability 1, every request through it fails.
#[test]
fn a_fault_on_the_network_between_two_services_strikes_its_hops() {
    let text = |fault: &str| {
        format!(
            r#"
name = "network"
[simulation]
duration = "300s"
replications = 2
[load.web]
rate = "50/s"
entry = "api"
[services.api]
kind = "api"
servers = 4
cpu = "exp(1ms)"
calls = [{{ to = "db", latency = "const(10ms)" }}]
[services.db]
kind = "database"
servers = 4
work = "exp(1ms)"
[[faults]]
service = "api"
to = "db"
at = "100s"
for = "100s"
{fault}
"#
        )
    };
    let window = SimTime::from_secs_f64(10.0);
    let slow = text("kind = \"slow\"\nfactor = 5");
    let runs = chokepoint_validation::series(("network", &slow), &[], window);
    for run in &runs {
        let mean =
            |w: usize| run.series[w].latency_sum[0] / run.series[w].completed[0] as f64 / 1e6;
        let calm: f64 = (1..9).chain(21..29).map(mean).sum::<f64>() / 16.0;
        for w in 11..19 {
            let extra = mean(w) - calm;
            assert!((extra - 40.0).abs() < 1.0, "window {w}: {extra} ms more");
        }
    }
    let errors = text("kind = \"errors\"\nprobability = 1");
    let runs = chokepoint_validation::series(("network", &errors), &[], window);
    for run in &runs {
        let failed = |w: usize| run.series[w].failed[0];
        assert!((11..19).all(|w| run.series[w].completed[0] == 0 && failed(w) > 300));
        assert!((1..9).chain(21..29).all(|w| failed(w) == 0));
    }
}
