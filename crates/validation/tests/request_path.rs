//! The request path as it behaves: synchronous calls hold the caller's
//! worker, so a saturated dependency drains the caller's thread pool, and
//! only more capacity at the choke point raises throughput. Scenarios under
//! `scenarios/request_path/`, figures from the report's summary.

use chokepoint_report::Summary;
use chokepoint_scenario::Override;

/// A scenario of `scenarios/request_path/`: its name and text.
fn scenario_file(name: &str) -> (String, String) {
    let path = format!(
        "{}/../../scenarios/request_path/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    (name.to_owned(), text)
}

fn summary(name: &str, text: &str, overrides: &[Override]) -> Summary {
    chokepoint_validation::summary((name, text), overrides)
}

/// `name` at `rate` (the value at `rate_path`), for `duration` with
/// `replications`, with more overrides.
fn at_rate(
    name: &str,
    rate_path: &str,
    rate: &str,
    duration: &str,
    replications: u32,
    more: &[Override],
) -> Summary {
    let (name, text) = scenario_file(name);
    let mut overrides = vec![
        Override::new(rate_path, format!("\"{rate}\"")),
        Override::new("simulation.duration", format!("\"{duration}\"")),
        Override::new("simulation.replications", replications.to_string()),
    ];
    overrides.extend_from_slice(more);
    summary(&name, &text, &overrides)
}

fn db_pool(rate: &str, more: &[Override]) -> Summary {
    at_rate("db_pool", "load.web.rate", rate, "40s", 4, more)
}

/// The database (4 connections × 5 ms: 800 queries/s) saturates first; past
/// it, every API worker is held waiting on it while the API's CPUs idle,
/// and latency climbs.
#[test]
fn a_saturated_database_drains_the_api_workers() {
    let low = db_pool("400/s", &[]);
    let near = db_pool("760/s", &[]);
    let over = db_pool("1000/s", &[]);
    let api_workers = |s: &Summary| s.stations["api"].workers.as_ref().unwrap().utilization;
    let db = |s: &Summary| s.stations["db"].utilization;
    let api_cpu = |s: &Summary| s.stations["api"].utilization;
    let latency = |s: &Summary| s.classes["web"].latency.mean.unwrap();

    // Utilisation law at the database: λ · 5 ms / 4 cores.
    assert!((db(&low) - 0.5).abs() < 0.02, "db at 400/s: {}", db(&low));
    // Near saturation the database is busy but the API's threads are not.
    assert!(db(&near) > 0.9, "db at 760/s: {}", db(&near));
    assert!(
        api_workers(&near) < 0.3,
        "api workers at 760/s: {}",
        api_workers(&near)
    );
    // Past it: all 128 API workers held, waiting; the API's CPU mostly idle.
    assert!(db(&over) > 0.99, "db at 1000/s: {}", db(&over));
    assert!(
        api_workers(&over) > 0.99,
        "api workers at 1000/s: {}",
        api_workers(&over)
    );
    // 800 requests/s × 1 ms on 4 cores.
    assert!(
        (api_cpu(&over) - 0.2).abs() < 0.01,
        "api cpu at 1000/s: {}",
        api_cpu(&over)
    );
    assert!(
        latency(&over) > 50.0 * latency(&low),
        "{} vs {}",
        latency(&over),
        latency(&low)
    );

    // Where the time goes: at 760/s the API's time is the database call; the
    // three parts add up to the API's mean response.
    let api = &near.stations["api"];
    let b = api.breakdown.as_ref().expect("the api has a breakdown");
    let call = b.calls["db"].unwrap();
    let (pool_wait, queue, work) = (b.pool_wait.unwrap(), b.queue.unwrap(), b.work.unwrap());
    assert!(call > 10.0 * work, "db call {call} vs own work {work}");
    let total = pool_wait + queue + work + call;
    let response = api.mean_response.unwrap();
    assert!(
        (total - response).abs() < 1e-9 * response,
        "{total} vs {response}"
    );
    // The call is the database's own response plus the 0.3 ms network hop.
    let db_response = near.stations["db"].mean_response.unwrap();
    assert!(
        (call - db_response - 0.0003).abs() < 0.05 * call,
        "call {call} vs db {db_response} + hop"
    );
}

/// At 1000 requests/s the database caps throughput at 800/s: doubling the
/// API's replicas changes nothing, a second database replica serves them
/// all.
#[test]
fn only_capacity_at_the_choke_point_raises_throughput() {
    let throughput = |s: &Summary| s.classes["web"].throughput;
    let base = db_pool("1000/s", &[]);
    let more_api = db_pool("1000/s", &[Override::new("services.api.replicas", "4")]);
    let more_db = db_pool("1000/s", &[Override::new("services.db.replicas", "2")]);
    for (what, s) in [("2 api replicas", &base), ("4 api replicas", &more_api)] {
        let x = throughput(s);
        assert!((x - 800.0).abs() < 0.015 * 800.0, "{what}: {x}/s");
    }
    let x = throughput(&more_db);
    assert!((x - 1000.0).abs() < 0.015 * 1000.0, "2 db replicas: {x}/s");
    assert!(
        more_db.stations["api"]
            .workers
            .as_ref()
            .unwrap()
            .utilization
            < 0.3
    );
}

fn queue_workers(rate: &str, more: &[Override]) -> Summary {
    at_rate("queue_workers", "load.orders.rate", rate, "100s", 5, more)
}

/// Mailers slower than the producers (250 messages/s against 2 × 2 cores /
/// 20 ms = 200/s): the backlog grows at 250 − 200 = 50/s, flagged unstable.
/// With a third replica (300/s) or below capacity, the queue is stable with
/// a finite message age; a bounded queue refuses the excess instead, and the
/// refused sends fail the orders that made them.
#[test]
fn a_queue_behind_slow_workers_grows_without_bound() {
    let jobs = |s: &Summary| s.stations["jobs"].workers.clone().unwrap();
    let over = queue_workers("250/s", &[]);
    let w = jobs(&over);
    let band = 3.0 * w.backlog_growth_ci95.unwrap();
    assert!(w.unstable, "{w:?}");
    assert!((w.backlog_growth - 50.0).abs() < band.max(1.0), "{w:?}");
    // The API answers at once whatever the backlog: 2 ms of CPU.
    assert!(over.classes["orders"].latency.mean.unwrap() < 0.005);
    assert!((over.stations["mailer"].throughput - 200.0).abs() < 3.0);

    for (what, s) in [
        ("150/s", queue_workers("150/s", &[])),
        (
            "250/s on 3 replicas",
            queue_workers("250/s", &[Override::new("services.mailer.replicas", "3")]),
        ),
    ] {
        let w = jobs(&s);
        assert!(!w.unstable, "{what}: {w:?}");
        assert!(w.mean_wait.unwrap() < 0.2, "{what}: age {:?}", w.mean_wait);
        assert!(w.mean_waiting < 50.0, "{what}: depth {}", w.mean_waiting);
    }

    let bounded = queue_workers("250/s", &[Override::new("services.jobs.capacity", "100")]);
    let w = jobs(&bounded);
    assert!(!w.unstable, "{w:?}");
    assert!(w.mean_waiting <= 100.0);
    let orders = &bounded.classes["orders"];
    // The queue, full most of the time, refuses what the mailers cannot take.
    assert!(
        (orders.drop_ratio - 0.2).abs() < 0.02,
        "{}",
        orders.drop_ratio
    );
}

/// Sticky sessions with skewed activity (200 sessions, Zipf 1.1) load the
/// replicas unevenly; least connections keeps them even. The busiest
/// replica's CPU, per replication, against the average.
#[test]
fn sticky_sessions_load_replicas_unevenly() {
    let (name, text) = scenario_file("sticky_sessions");
    let sticky = summary(&name, &text, &[]);
    let (name_lc, text_lc) = scenario_file("least_connections");
    let even = summary(&name_lc, &text_lc, &[]);
    let hashed = summary(
        &name,
        &text,
        &[Override::new("services.lb.policy", "\"consistent_hash\"")],
    );
    let spread = |s: &Summary| {
        let api = &s.stations["api"];
        (
            api.busiest_replica.unwrap() - api.utilization,
            api.busiest_replica_ci95.unwrap(),
        )
    };
    // Four replicas at 50% on average (2,000/s × 2 ms over 8 cores).
    for s in [&sticky, &even, &hashed] {
        assert!((s.stations["api"].utilization - 0.5).abs() < 0.01);
    }
    let (d, ci) = spread(&sticky);
    assert!(
        d - ci > 0.05,
        "sticky: busiest replica {d} ± {ci} above the mean"
    );
    let (d, ci) = spread(&hashed);
    assert!(
        d - ci > 0.05,
        "consistent hash: busiest replica {d} ± {ci} above the mean"
    );
    let (d, ci) = spread(&even);
    assert!(
        d + ci < 0.02,
        "least connections: busiest replica {d} ± {ci} above the mean"
    );
    // Flagged when real, not when the busiest of four is ahead by chance.
    assert_eq!(sticky.stations["api"].uneven_load, Some(true));
    assert_eq!(hashed.stations["api"].uneven_load, Some(true));
    assert_eq!(even.stations["api"].uneven_load, Some(false));
    // Uneven load costs latency.
    let (sticky_p99, even_p99) = (
        sticky.classes["web"].latency.p99.unwrap(),
        even.classes["web"].latency.p99.unwrap(),
    );
    assert!(
        sticky_p99 > even_p99,
        "p99 sticky {sticky_p99} vs least connections {even_p99}"
    );
}

/// A layer 7 balancer on 2 cores at 1 ms per request forwards at most
/// 2,000 requests/s: at 2,500/s it is saturated and caps throughput, while
/// the API behind it idles at 2,000 × 2 ms / 16 cores = 25%. On 8 cores it
/// lets the whole load through.
#[test]
fn a_layer_7_balancer_can_be_the_bottleneck() {
    let (name, text) = scenario_file("l7_balancer");
    let rate = Override::new("load.web.rate", "\"2500/s\"");
    let small = summary(&name, &text, std::slice::from_ref(&rate));
    assert!(small.stations["lb"].utilization > 0.99);
    let x = small.classes["web"].throughput;
    assert!((x - 2000.0).abs() < 0.015 * 2000.0, "{x}/s");
    assert!((small.stations["api"].utilization - 0.25).abs() < 0.01);
    let big = summary(
        &name,
        &text,
        &[rate, Override::new("services.lb.profile", "\"g-2xlarge\"")],
    );
    let x = big.classes["web"].throughput;
    assert!((x - 2500.0).abs() < 0.015 * 2500.0, "{x}/s");
    assert!((big.stations["lb"].utilization - 2500.0 * 0.001 / 8.0).abs() < 0.01);
}

/// Replica 2 of 3 is down from 20 s to 40 s of a 60 s run: round robin sends
/// it 200/s for 40 s (133/s on average over the run) and the others 200/s for
/// 40 s and 300/s for 20 s (233/s); all requests are still served.
#[test]
fn a_replica_down_gets_nothing_while_down() {
    let (name, text) = scenario_file("replica_down");
    let s = summary(&name, &text, &[]);
    let parts = s.stations["api"].parts.as_ref().unwrap();
    let x = |r: usize| parts[&format!("api[{r}].cpu")].throughput;
    for (r, expected) in [(0, 700.0 / 3.0), (1, 700.0 / 3.0), (2, 400.0 / 3.0)] {
        assert!(
            (x(r) - expected).abs() < 0.02 * expected,
            "replica {r}: {}/s, expected {expected}",
            x(r)
        );
    }
    assert_eq!(s.classes["web"].dropped, 0);
    // With every replica down, the balancer drops what arrives meanwhile.
    let all_down = text.replace(
        "down = [{ replica = 2, from = \"20s\", to = \"40s\" }]",
        "down = [{ replica = 0, from = \"20s\", to = \"40s\" }, { replica = 1, from = \"20s\", to = \"40s\" }, { replica = 2, from = \"20s\", to = \"40s\" }]",
    );
    let s = summary(&name, &all_down, &[]);
    let dropped = s.classes["web"].drop_ratio;
    assert!((dropped - 1.0 / 3.0).abs() < 0.01, "{dropped}");
}

/// A closed class entering at a balancer: 40 users thinking 1 s, a random
/// split over two exponential servers (50 ms) is a product-form closed
/// network, solved exactly by mean value analysis.
#[test]
fn closed_users_at_a_balancer_match_mva() {
    let (n, think, service, visit) = (40, 1.0, 0.05, 0.5);
    let mut q = 0.0;
    let (mut x, mut r) = (0.0, 0.0);
    for users in 1..=n {
        let per_visit = service * (1.0 + q);
        r = 2.0 * visit * per_visit;
        x = f64::from(users) / (think + r);
        q = x * visit * per_visit;
    }
    let (name, text) = scenario_file("closed_users");
    let scenario = (name.as_str(), text.as_str());
    let overrides = [Override::new("simulation.replications", "10")];
    let throughput = chokepoint_validation::estimate(
        scenario,
        &overrides,
        chokepoint_validation::Quantity::Throughput,
        0.999,
    );
    let latency = chokepoint_validation::estimate(
        scenario,
        &overrides,
        chokepoint_validation::Quantity::Latency,
        0.999,
    );
    assert!(
        (throughput.mean - x).abs() <= throughput.half_width.unwrap(),
        "throughput {throughput:?} vs MVA {x}"
    );
    assert!(
        (latency.mean - r).abs() <= latency.half_width.unwrap(),
        "latency {latency:?} vs MVA {r}"
    );
}

/// An external API with a concurrency limit of 4 and exp(100 ms) latency,
/// called 30 times a second: its 4 slots form an M/M/4 queue, so calls wait
/// Erlang C / (cμ − λ) = 0.5094 / 10 = 50.9 ms for a slot; 2% of its replies
/// are errors, which fail the requests that made them.
#[test]
fn a_rate_limited_external_is_an_mmc_and_its_errors_fail_requests() {
    use chokepoint_validation::{Quantity, derived::erlang_c, estimate};
    let (name, text) = scenario_file("partner_api");
    let scenario = (name.as_str(), text.as_str());
    let overrides = [
        Override::new("simulation.duration", "\"4000s\""),
        Override::new("simulation.replications", "10"),
    ];
    let expected = erlang_c(4, 3.0) / (4.0 * 10.0 - 30.0);
    assert!((expected - 0.0509).abs() < 1e-3);
    let wait = estimate(scenario, &overrides, Quantity::SlotWait("payments"), 0.999);
    assert!(
        (wait.mean - expected).abs() <= wait.half_width.unwrap(),
        "slot wait {wait:?} vs Erlang C {expected}"
    );
    let failed = estimate(scenario, &overrides, Quantity::FailedRatio, 0.999);
    assert!(
        (failed.mean - 0.02).abs() <= failed.half_width.unwrap(),
        "failed share {failed:?}"
    );
}

/// A call's payload crosses the caller's link (one processor-sharing server
/// shared by all its transfers): 187.5 kB at 0.75 Gbit/s is D = 2 ms; at 300
/// calls/s the link is 60% busy and a transfer takes D / (1 − ρ) = 5 ms
/// (M/G/1-PS, Poisson input: the API's CPU is an M/M/2-PS, whose departures
/// are Poisson); with the store's 5 ms, a call takes 10 ms.
#[test]
fn payloads_share_the_callers_link() {
    use chokepoint_validation::{Quantity, estimate};
    let (name, text) = scenario_file("payload");
    let scenario = (name.as_str(), text.as_str());
    let overrides = [
        Override::new("simulation.duration", "\"1000s\""),
        Override::new("simulation.replications", "10"),
    ];
    let call = estimate(
        scenario,
        &overrides,
        Quantity::Response("api[0].call0"),
        0.999,
    );
    assert!(
        (call.mean - 0.010).abs() <= call.half_width.unwrap(),
        "call {call:?}, expected 10 ms"
    );
    let link = estimate(
        scenario,
        &overrides,
        Quantity::Utilization("api[0].link"),
        0.999,
    );
    assert!(
        (link.mean - 0.6).abs() <= link.half_width.unwrap(),
        "link {link:?}"
    );
}

/// Per-class calls: reads call the cache, writes the database, and each
/// callee sees exactly its class's rate; a write waits for the database
/// (5 ms), a read for the cache (1 ms), both at no load.
#[test]
fn each_class_makes_its_own_calls() {
    let text = r#"
[simulation]
duration = "400s"
warmup = "10s"
replications = 5
seed = 53
[load.read]
rate = "80/s"
entry = "api"
[load.write]
rate = "20/s"
entry = "api"
[services.api]
kind = "station"
servers = 64
work = "const(100us)"
calls = [{ to = "cache" }]
[services.api.on.write]
calls = [{ to = "db" }]
[services.cache]
kind = "external"
latency = "const(1ms)"
[services.db]
kind = "external"
latency = "const(5ms)"
"#;
    let s = summary("per_class", text, &[]);
    let x = |name: &str| s.stations[name].throughput;
    assert!((x("cache") - 80.0).abs() < 2.0, "cache {}", x("cache"));
    assert!((x("db") - 20.0).abs() < 1.0, "db {}", x("db"));
    let latency = |class: &str| s.classes[class].latency.mean.unwrap();
    assert!(
        (latency("read") - 0.0011).abs() < 1e-6,
        "{}",
        latency("read")
    );
    assert!(
        (latency("write") - 0.0051).abs() < 1e-6,
        "{}",
        latency("write")
    );
    let calls = &s.stations["api"].breakdown.as_ref().unwrap().calls;
    assert_eq!(calls.len(), 2, "{calls:?}");
}

/// The test behind "uneven load" keeps its level: four replicas behind a
/// random balancer are alike, so the analysis of variance calls them
/// unequal in about 5% of studies (a binomial count out of 600: 30 ± 5.3,
/// accepted within 4 standard deviations, so that a test that never fires
/// fails too), and the flag, which also needs five points of difference,
/// never fires. In runs so short that the busiest of four is five points
/// ahead by chance in most studies, the flag still fires only as often as
/// the test's level. At 1% load the busiest replica is well above the
/// average by chance (issue 12: 1.22% against 1.16% was flagged): not
/// uneven either.
#[test]
fn uneven_load_is_not_flagged_by_chance() {
    use chokepoint_report::summary::{UNEVEN_MATERIAL, unequal, uneven_load};
    let (name, text) = scenario_file("least_connections");
    let rows = |seed: u64, rate: &str, duration: &str| {
        let runs = chokepoint_validation::replications(
            (&name, &text),
            &[
                Override::new("services.lb.policy", "\"random\""),
                Override::new("load.web.rate", format!("\"{rate}\"")),
                Override::new("simulation.duration", format!("\"{duration}\"")),
                Override::new("simulation.warmup", "\"1s\""),
                Override::new("simulation.replications", "2"),
                Override::new("simulation.seed", seed.to_string()),
            ],
            None,
        );
        runs.iter()
            .map(|r| {
                r.stations
                    .iter()
                    .filter(|s| s.name.starts_with("api[") && s.name.ends_with(".cpu"))
                    .map(|s| (s.utilization(r.duration), s.utilization_halves(r)))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    let within = |count: usize, studies: usize, what: &str| {
        let expected = 0.05 * studies as f64;
        let sd = (expected * 0.95).sqrt();
        assert!(
            (count as f64 - expected).abs() < 4.0 * sd,
            "{what}: {count} of {studies} even studies, expected {expected} ± {sd:.1}"
        );
    };
    let studies = 600;
    let (mut significant, mut flagged) = (0, 0);
    for seed in 0..studies as u64 {
        let rows = rows(seed, "2000/s", "2s");
        assert_eq!(rows[0].len(), 4);
        significant += usize::from(unequal(&rows).unwrap());
        flagged += usize::from(uneven_load(&rows).unwrap());
    }
    within(significant, studies, "called unequal");
    assert_eq!(flagged, 0);
    // 50 ms runs: the busiest replica is materially ahead by chance in most
    // studies, and the flag fires at the test's level at most.
    let (studies, mut material, mut flagged) = (200, 0, 0);
    for seed in 0..studies as u64 {
        let rows = rows(10_000 + seed, "2000/s", "50ms");
        let gap: f64 = rows
            .iter()
            .map(|row| {
                let mean = row.iter().map(|(u, _)| u).sum::<f64>() / 4.0;
                row.iter().map(|(u, _)| u - mean).fold(0.0, f64::max)
            })
            .sum::<f64>()
            / 2.0;
        material += usize::from(gap >= UNEVEN_MATERIAL);
        flagged += usize::from(uneven_load(&rows).unwrap());
    }
    assert!(
        material > studies / 2,
        "{material} of {studies} materially uneven by chance"
    );
    assert!(
        (flagged as f64) < 0.05 * studies as f64 + 4.0 * (0.05 * 0.95 * studies as f64).sqrt(),
        "{flagged} of {studies} flagged"
    );
    // At 1% load: the busiest replica leads by a wide margin, by chance.
    let low = rows(1, "40/s", "4s");
    let gap: f64 = low
        .iter()
        .map(|row| {
            let busiest = row.iter().map(|(u, _)| *u).fold(0.0, f64::max);
            busiest / (row.iter().map(|(u, _)| u).sum::<f64>() / 4.0)
        })
        .sum::<f64>()
        / 2.0;
    assert!(gap > 1.05, "busiest/average {gap}");
    assert_eq!(uneven_load(&low), Some(false));
}
