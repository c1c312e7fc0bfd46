//! Timeouts, deadlines and retries as a user writes them: the bundled
//! scenarios under `scenarios/resilience/`, run through the loader and the
//! study pipeline, their report's figures against queueing theory and
//! against each other.

use chokepoint_report::Summary;
use chokepoint_scenario::Override;
use chokepoint_validation::derived::erlang_a;

/// A scenario of `scenarios/resilience/`, run with `overrides`.
fn run(name: &str, overrides: &[Override]) -> Summary {
    let path = format!(
        "{}/../../scenarios/resilience/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    chokepoint_validation::summary((name, &text), overrides)
}

/// `deadlines.toml` as written (`deadline = "exp(2s)"`, `cancel =
/// "at_dequeue"` on 2 servers at 2.4/s): the share of arrivals dropped past
/// their deadline is Erlang-A's P(abandon), 0.2925; the requests given up
/// are those dropped plus those whose deadline passed in service, which
/// then complete late.
#[test]
fn impatient_clients_abandon_as_erlang_a_says() {
    let s = run(
        "deadlines",
        &[Override::new("simulation.duration", "\"8000s\"")],
    );
    let class = &s.classes["calls"];
    let resilience = s.stations["agents"].resilience.as_ref().expect("expiries");
    let abandoned = resilience.expired as f64 / class.arrived as f64;
    let expected = erlang_a(2.4, 1.0, 2, 0.5);
    // 5 replications × 19,000 arrivals: a binomial-like share, its
    // standard error under 0.002 even with the queue's correlation.
    assert!(
        (abandoned - expected).abs() < 0.01,
        "P(abandon) {abandoned:.4}, Erlang-A {expected:.4}"
    );
    assert!(class.timed_out >= resilience.expired);
    assert!(class.late > 0 && class.late <= class.timed_out);
    // Every arrival completes in time, or is given up (a few are in flight
    // at the edges of the measured window).
    let ended = class.completed + class.timed_out;
    assert!(
        ended.abs_diff(class.arrived) < 50,
        "{ended} vs {}",
        class.arrived
    );
}

/// The retry storm: the same load with retries collapses (the database
/// saturated, almost nothing completing in time), without retries it does
/// not, and gRPC's token budget keeps the goodput of no retries or better.
#[test]
fn retries_without_a_budget_turn_a_slow_tail_into_an_outage() {
    let short = [
        Override::new("simulation.duration", "\"60s\""),
        Override::new("simulation.replications", "3"),
    ];
    let none = run("no_retries", &short);
    let storm = run("retry_storm", &short);
    let budget = run("retry_storm_budget", &short);
    let goodput = |s: &Summary| s.classes["orders"].throughput;
    let db = |s: &Summary| s.stations["db"].utilization;
    let attempts = |s: &Summary| {
        s.stations["api"]
            .resilience
            .as_ref()
            .and_then(|r| r.attempts_per_call)
            .unwrap()
    };
    // 350/s × 8 ms on 4 servers: 70%.
    assert!((db(&none) - 0.7).abs() < 0.03, "db {}", db(&none));
    assert!(
        goodput(&none) > 300.0,
        "goodput without retries {}",
        goodput(&none)
    );
    assert!(db(&storm) > 0.99, "db in the storm {}", db(&storm));
    assert!(
        goodput(&storm) < 0.05 * goodput(&none),
        "goodput in the storm {}",
        goodput(&storm)
    );
    assert!(
        attempts(&storm) > 3.5,
        "attempts in the storm {}",
        attempts(&storm)
    );
    assert!(
        goodput(&budget) >= 0.98 * goodput(&none),
        "goodput with a budget {} against {}",
        goodput(&budget),
        goodput(&none)
    );
    assert!(
        attempts(&budget) < 1.2,
        "attempts with a budget {}",
        attempts(&budget)
    );
}

/// `hedging.toml`: a copy after the call's own 95th percentile (learnt as
/// the run goes) costs about 5% more requests and shortens the tail;
/// without contention at the backend the median is unchanged.
#[test]
fn hedging_after_the_p95_costs_five_percent_and_cuts_the_tail() {
    let short = [
        Override::new("simulation.duration", "\"60s\""),
        Override::new("simulation.replications", "3"),
    ];
    let plain = run("no_hedging", &short);
    let hedged = run("hedging", &short);
    let r = hedged.stations["api"].resilience.as_ref().unwrap();
    let extra = r.hedges as f64 / r.calls as f64;
    assert!(
        (0.04..0.065).contains(&extra),
        "extra copies per call {extra}"
    );
    let p99 = |s: &Summary| s.classes["queries"].latency.p99.unwrap();
    let p50 = |s: &Summary| s.classes["queries"].latency.p50.unwrap();
    assert!(
        p99(&hedged) < 0.75 * p99(&plain),
        "{} vs {}",
        p99(&hedged),
        p99(&plain)
    );
    assert!((p50(&hedged) / p50(&plain) - 1.0).abs() < 0.02);
}

/// `outlier_ejection.toml`: one replica of four fails everything; the
/// balancer ejects it after 5 errors in a row for 10 s × the times ejected.
/// In 600 s, 11 ejections start (10 + … + 100 = 550 s ejected; the 12th
/// would need 660), each after exactly 5 errors, plus the few sent to it
/// while the fifth was in service. Without ejection a quarter fail.
#[test]
fn outlier_ejection_takes_a_failing_replica_out() {
    let s = run("outlier_ejection", &[]);
    let ejections = s.stations["lb"]
        .resilience
        .as_ref()
        .expect("ejections")
        .ejections;
    let failed = s.classes["orders"].failed;
    assert_eq!(ejections, 3 * 11);
    assert!(
        (5 * ejections..=5 * ejections + 3 * 30).contains(&failed),
        "{failed} failed for {ejections} ejections"
    );
    let without = run(
        "outlier_ejection",
        &[Override::new(
            "services.lb.outlier_ejection",
            "{ consecutive_errors = 1000000, base = \"1s\" }",
        )],
    );
    let c = &without.classes["orders"];
    let share = c.failed as f64 / c.arrived as f64;
    // Round robin: exactly every fourth request.
    assert!((share - 0.25).abs() < 0.001, "{share}");
}
