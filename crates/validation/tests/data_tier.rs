//! The data tier as it behaves: connection pools, handshakes, locks and
//! indexes, each against a closed form or an independent calculation.
//! Scenarios under `scenarios/data/`, figures from the report's summary.

use chokepoint_report::Summary;
use chokepoint_scenario::Override;

/// `scenarios/data/NAME.toml` with overrides (`path`, TOML value).
fn data(name: &str, overrides: &[(&str, &str)]) -> Summary {
    let path = format!(
        "{}/../../scenarios/data/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let overrides: Vec<Override> = overrides
        .iter()
        .map(|(path, value)| Override::new(*path, *value))
        .collect();
    chokepoint_validation::summary((name, &text), &overrides)
}

/// `x` is within `tolerance` (relative) of `expected`.
fn near(what: &str, x: f64, expected: f64, tolerance: f64) {
    assert!(
        (x - expected).abs() <= tolerance * expected.abs(),
        "{what}: {x} vs {expected} (±{}%)",
        100.0 * tolerance
    );
}

fn pool(rate: &str, more: &[(&str, &str)]) -> Summary {
    let rate = format!("\"{rate}\"");
    let mut overrides = vec![
        ("load.web.rate", rate.as_str()),
        ("simulation.duration", "\"20s\""),
        ("simulation.replications", "4"),
    ];
    overrides.extend_from_slice(more);
    data("connection_pool", &overrides)
}

/// 8 connections held 10 ms each serve at most 800 queries/s, whatever the
/// cores: past that the pool wait is nearly all of a query's time while half
/// of the 16 cores idle. A pool of 16 serves the whole 1000/s.
#[test]
fn a_connection_pool_caps_throughput_at_size_over_hold() {
    let base = pool("1000/s", &[]);
    let more_cores = pool("1000/s", &[("services.db.profile", "\"g-8xlarge\"")]);
    let bigger_pool = pool("1000/s", &[("services.db.pool.size", "16")]);
    for (what, s) in [("16 cores", &base), ("32 cores", &more_cores)] {
        let db = &s.stations["db"];
        near(what, db.throughput, 800.0, 0.015);
        near(
            &format!("{what}: cpu"),
            db.utilization,
            8.0 / f64::from(db.servers.unwrap()),
            0.02,
        );
        let b = db.breakdown.as_ref().unwrap();
        let pool_wait = b.pool_wait.unwrap();
        let rest = b.queue.unwrap() + b.work.unwrap() + b.connect.unwrap();
        assert!(
            pool_wait > 10.0 * rest,
            "{what}: pool wait {pool_wait} vs {rest}"
        );
        let total = pool_wait + rest;
        let response = db.mean_response.unwrap();
        assert!(
            (total - response).abs() < 1e-9 * response,
            "{total} vs {response}"
        );
    }
    let db = &bigger_pool.stations["db"];
    near("pool of 16", db.throughput, 1000.0, 0.015);
    let b = db.breakdown.as_ref().unwrap();
    assert!(b.pool_wait.unwrap() < b.work.unwrap(), "{b:?}");
}

/// Without reuse every query pays the 5 ms handshake while holding its
/// connection: at low load the database's response rises by 5 ms (the
/// pool hardly ever makes a query wait: Erlang C for 8 servers at 2 or 3
/// erlangs is below 1%), and where the pool is the choke point throughput
/// falls from 8 / 10 ms to 8 / 15 ms = 533/s. With reuse, connections are
/// opened during the warm-up only.
#[test]
fn without_reuse_every_query_pays_the_handshake() {
    let reused = pool("200/s", &[]);
    let fresh = pool("200/s", &[("services.db.pool.reuse", "false")]);
    let response = |s: &Summary| s.stations["db"].mean_response.unwrap();
    let connects = |s: &Summary| s.stations["db"].workers.as_ref().unwrap().connects.unwrap();
    near(
        "handshake",
        response(&fresh) - response(&reused),
        0.005,
        0.04,
    );
    near(
        "connect part",
        fresh.stations["db"]
            .breakdown
            .as_ref()
            .unwrap()
            .connect
            .unwrap(),
        0.005,
        1e-3,
    );
    assert_eq!(connects(&reused), 0.0);
    near(
        "connects",
        connects(&fresh),
        fresh.stations["db"].throughput,
        0.01,
    );

    let over = pool("1000/s", &[("services.db.pool.reuse", "false")]);
    near(
        "throughput",
        over.stations["db"].throughput,
        8.0 / 0.015,
        0.015,
    );
}

/// 10 stripes held 2 ms each pass at most 5000 orders/s, with 4 replicas or
/// 16, on 8 cores or 32. (Under overload the stripes are not quite always
/// held: the requests waiting for them are the API's workers, a finite
/// population that a random choice of stripe sometimes leaves a stripe
/// without; more workers bring it closer to the cap.) Below the cap each
/// stripe is an M/D/1 queue (a random stripe per request splits the Poisson
/// stream): at 4000/s, ρ = 0.8 and the wait for the lock is
/// ρD / (2(1 − ρ)) = 4 ms.
#[test]
fn a_striped_lock_caps_throughput_at_keys_over_hold() {
    let mut throughputs = Vec::new();
    for (replicas, profile) in [("4", "c-2xlarge"), ("16", "c-2xlarge"), ("4", "c-8xlarge")] {
        let profile = format!("\"{profile}\"");
        let s = data(
            "striped_lock",
            &[
                ("services.api.replicas", replicas),
                ("services.api.profile", &profile),
                ("load.orders.rate", "\"6000/s\""),
                ("simulation.duration", "\"10s\""),
            ],
        );
        let api = &s.stations["api"];
        let x = api.throughput;
        assert!(
            x <= 5000.0 * 1.003 && x > 0.95 * 5000.0,
            "{replicas} × {profile}: {x}/s"
        );
        let lock = &api.locks.as_ref().unwrap()["inventory"];
        // Utilisation law: each held stripe passes one request per 2 ms.
        near("utilisation law", x, lock.utilization * 10.0 / 0.002, 0.002);
        assert!(api.workers.as_ref().unwrap().unstable);
        throughputs.push(x);
    }
    // Four times the replicas: closer to the cap, not past it.
    assert!(throughputs[1] > throughputs[0] && throughputs[1] > 0.98 * 5000.0);
    let s = data("striped_lock", &[]);
    let lock = &s.stations["api"].locks.as_ref().unwrap()["inventory"];
    near("utilization", lock.utilization, 0.8, 0.01);
    near("hold", lock.mean_hold.unwrap(), 0.002, 1e-6);
    let (wait, ci) = (lock.mean_wait.unwrap(), lock.mean_wait_ci95.unwrap());
    assert!(
        (wait - 0.004).abs() < ci + 0.002 * 0.004,
        "{wait} ±{ci} vs 4 ms"
    );
    // The lock is a part of each order's time in the API.
    let b = s.stations["api"].breakdown.as_ref().unwrap();
    near(
        "lock in breakdown",
        b.calls["lock inventory"].unwrap(),
        0.006,
        0.02,
    );
}

/// Indexes trade reads against writes. The disk serves every class's
/// pages in FIFO order, one page per operation (7000 IOPS), so it is an
/// M/G/1 queue with a two-point service law, and each class's latency is
/// its CPU time (200 µs, never queued on 8 cores at these rates), the
/// Pollaczek–Khinchine wait and its own pages. On 100,000 rows
/// (⌈log₂⌉ = 17 pages a tree, 1000 pages a scan), going from no index
/// (reads scan, writes 17 pages) to one index (reads 17 pages, writes 34)
/// makes reads 50 times faster and writes slower.
#[test]
fn indexes_trade_read_latency_for_write_latency() {
    let (lookups, updates) = (0.1, 20.0);
    let run = |indexes: u32, indexed: bool| {
        let indexes = indexes.to_string();
        let indexed = indexed.to_string();
        data(
            "indexes",
            &[
                ("services.db.table.rows", "100_000"),
                ("services.db.table.indexes", &indexes),
                ("services.db.table.indexed", &indexed),
                ("load.lookups.rate", "\"0.1/s\""),
                ("load.updates.rate", "\"20/s\""),
                ("simulation.duration", "\"4000s\""),
            ],
        )
    };
    // P-K mean latency per class, from the pages each operation reads.
    let theory = |read_pages: f64, write_pages: f64| {
        let (sr, sw) = (read_pages / 7000.0, write_pages / 7000.0);
        let rho = lookups * sr + updates * sw;
        let wq = (lookups * sr * sr + updates * sw * sw) / (2.0 * (1.0 - rho));
        (0.0002 + wq + sr, 0.0002 + wq + sw)
    };
    let scans = run(0, false);
    let indexed = run(1, true);
    for (what, s, (read, write)) in [
        ("no index", &scans, theory(1000.0, 17.0)),
        ("one index", &indexed, theory(17.0, 34.0)),
    ] {
        for (class, expected) in [("lookups", read), ("updates", write)] {
            let l = &s.classes[class].latency;
            let (mean, ci) = (l.mean.unwrap(), l.mean_ci95.unwrap());
            assert!(
                (mean - expected).abs() < ci + 0.01 * expected,
                "{what}, {class}: {mean} ±{ci} vs {expected}"
            );
        }
    }
    let mean = |s: &Summary, class: &str| s.classes[class].latency.mean.unwrap();
    assert!(mean(&indexed, "lookups") < mean(&scans, "lookups") / 30.0);
    assert!(mean(&indexed, "updates") > mean(&scans, "updates") * 1.3);
}
