//! The data tier as it behaves: connection pools, handshakes, locks and
//! indexes, each against a closed form or an independent calculation.
//! Scenarios under `scenarios/data/`, figures from the report's summary.

use chokepoint_report::Summary;
use chokepoint_scenario::Override;

/// `scenarios/data/NAME.toml` with overrides (`path`, TOML value).
fn data(name: &str, overrides: &[(&str, &str)]) -> Summary {
    scenario("data", name, overrides)
}

/// `scenarios/validation/NAME.toml` with overrides.
fn validation(name: &str, overrides: &[(&str, &str)]) -> Summary {
    scenario("validation", name, overrides)
}

/// `scenarios/FOLDER/NAME.toml` with overrides, summarised.
fn scenario(folder: &str, name: &str, overrides: &[(&str, &str)]) -> Summary {
    let path = format!(
        "{}/../../scenarios/{folder}/{name}.toml",
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

/// Che's approximation, summed over every key (independent of the
/// engine's own, binned, estimate): `T` solves Σ (1 − e^(−pₖT)) = C by
/// bisection, and the hit ratio is Σ pₖ (1 − e^(−pₖT)).
fn che(keys: u32, zipf: f64, capacity: u32) -> f64 {
    let weights: Vec<f64> = (1..=keys).map(|k| f64::from(k).powf(-zipf)).collect();
    let total: f64 = weights.iter().sum();
    let p: Vec<f64> = weights.iter().map(|w| w / total).collect();
    let held = |t: f64| p.iter().map(|x| 1.0 - (-x * t).exp()).sum::<f64>();
    let (mut low, mut high) = (0.0, 1.0);
    while held(high) < f64::from(capacity) {
        high *= 2.0;
    }
    for _ in 0..80 {
        let mid = 0.5 * (low + high);
        if held(mid) < f64::from(capacity) {
            low = mid;
        } else {
            high = mid;
        }
    }
    p.iter().map(|x| x * (1.0 - (-x * low).exp())).sum()
}

/// The measured LRU hit ratio is within 2 percentage points of Che's
/// approximation for four (capacity, skew) pairs over 20,000 keys.
#[test]
fn lru_hit_ratio_follows_che() {
    for (capacity, zipf) in [(2000, 1.0), (500, 0.8), (5000, 0.6), (1000, 1.2)] {
        let (c, z) = (capacity.to_string(), zipf.to_string());
        let s = validation(
            "lru_cache",
            &[("services.cache.capacity", &c), ("services.cache.zipf", &z)],
        );
        let cache = s.stations["cache"].cache.as_ref().unwrap();
        let measured = cache.hit_ratio.unwrap();
        let expected = che(20_000, zipf, capacity);
        assert!(
            (measured - expected).abs() < 0.02,
            "capacity {capacity}, zipf {zipf}: {measured} vs Che {expected}"
        );
        // And the engine's own estimate (for its overload warnings) agrees.
        let binned = chokepoint_core::routing::che_hit_ratio(
            chokepoint_core::model::Popularity {
                count: 20_000,
                zipf,
            },
            capacity,
        );
        assert!((binned - expected).abs() < 1e-3, "{binned} vs {expected}");
        assert_eq!(cache.entries, Some(f64::from(capacity)));
    }
}

/// Che's approximation with invalidation, summed over every key: with
/// reads at `pₖ` and writes at `ω pₖ` (per read), a key is held when its
/// last request was a read within `T`, which happens with probability
/// `pₖ / (pₖ + ω pₖ) · (1 − e^(−(pₖ + ω pₖ) T))`; `T` makes the keys held
/// sum to the capacity, and a read hits with that probability.
fn che_invalidated(keys: u32, zipf: f64, capacity: u32, omega: f64) -> f64 {
    let weights: Vec<f64> = (1..=keys).map(|k| f64::from(k).powf(-zipf)).collect();
    let total: f64 = weights.iter().sum();
    let p: Vec<f64> = weights.iter().map(|w| w / total).collect();
    let held_key = |x: f64, t: f64| {
        let (r, w) = (x, omega * x);
        r / (r + w) * (1.0 - (-(r + w) * t).exp())
    };
    let held = |t: f64| p.iter().map(|&x| held_key(x, t)).sum::<f64>();
    let (mut low, mut high) = (0.0, 1.0);
    while held(high) < f64::from(capacity) {
        high *= 2.0;
    }
    for _ in 0..80 {
        let mid = 0.5 * (low + high);
        if held(mid) < f64::from(capacity) {
            low = mid;
        } else {
            high = mid;
        }
    }
    p.iter().map(|&x| x * held_key(x, low)).sum()
}

/// Writes that invalidate lower the hit ratio as Che's approximation
/// extended to them predicts, within 2 points, at 2%, 10% and 50% writes
/// per read; and the analysis's own estimate (a Che cache of
/// `capacity × (1 + ω)` entries, its ratio divided by `1 + ω`: what the
/// capacity table and the checks use) agrees with the direct sum.
#[test]
fn invalidating_writes_lower_the_hit_ratio_as_che_extended_predicts() {
    for (updates, omega) in [("\"20/s\"", 0.02), ("\"100/s\"", 0.1), ("\"500/s\"", 0.5)] {
        let s = validation("lru_invalidation", &[("load.updates.rate", updates)]);
        let measured = s.stations["cache"]
            .cache
            .as_ref()
            .unwrap()
            .hit_ratio
            .unwrap();
        let expected = che_invalidated(20_000, 1.0, 2000, omega);
        assert!(
            (measured - expected).abs() < 0.02,
            "ω = {omega}: measured {measured} vs {expected}"
        );
        let scenario = chokepoint_scenario::load_with(
            include_str!("../../../scenarios/validation/lru_invalidation.toml"),
            &[Override::new("load.updates.rate", updates)],
        )
        .scenario
        .expect("a valid scenario");
        let topology = &scenario.topology;
        let cache = topology
            .stations
            .iter()
            .find_map(|s| s.cache())
            .expect("a cache");
        assert!((cache.writes_per_read - omega).abs() < 1e-9);
        let analytic = chokepoint_core::routing::expected_hit_ratio(cache);
        assert!(
            (analytic - expected).abs() < 2e-3,
            "ω = {omega}: analysis {analytic} vs {expected}"
        );
    }
    // The extension is not the reads-only ratio: at ω = 0.5 it is far below.
    assert!(che_invalidated(20_000, 1.0, 2000, 0.5) < che(20_000, 1.0, 2000) - 0.1);
}

/// A cache with a fixed 80% hit ratio in front of a database: the cache is
/// M/M/1 (2 ms at ρ = 0.5), the database M/M/2 on the misses (100/s,
/// ρ = 0.5: 13.3 ms), and a read's latency is the mixture: with
/// probability 0.8 the cache's exponential sojourn (rate 500/s), otherwise
/// that plus the database's (independent in this feed-forward network:
/// Reich's theorem), whose law is exp(100/s) without a wait (probability
/// 2/3) and Erlang-2 (100/s) with one. Its mean is 4.67 ms; its p99 is
/// found by bisection on the mixture's survival function.
#[test]
fn a_fixed_hit_ratio_cache_is_a_mixture_of_mm1_and_mm2() {
    let s = validation("cache_hit_ratio", &[]);
    let (a, b, c_wait) = (500.0f64, 100.0f64, 1.0 / 3.0);
    // Survival of Exp(a) + X where X is Exp(b) (prob 1 − C) or Erlang-2(b).
    let survival = |t: f64| -> f64 {
        // Exp(a) + Exp(b), a ≠ b.
        let one = (a * (-b * t).exp() - b * (-a * t).exp()) / (a - b);
        // Exp(a) + Erlang-2(b): by convolution with the Erlang density.
        let steps = 4000;
        let dx = t / f64::from(steps);
        let mut two = 0.0;
        for i in 0..steps {
            let x = (f64::from(i) + 0.5) * dx;
            two += b * b * x * (-b * x).exp() * (-a * (t - x)).exp() * dx;
        }
        two += (1.0 + b * t) * (-b * t).exp();
        let miss = (1.0 - c_wait) * one + c_wait * two;
        0.8 * (-a * t).exp() + 0.2 * miss
    };
    let (mut low, mut high) = (0.0, 1.0);
    for _ in 0..60 {
        let mid = 0.5 * (low + high);
        if survival(mid) > 0.01 {
            low = mid;
        } else {
            high = mid;
        }
    }
    let p99 = low;
    let l = &s.classes["reads"].latency;
    let mean = 0.002 + 0.2 * (1.0 / 100.0 + c_wait / 100.0);
    let (m, ci) = (l.mean.unwrap(), l.mean_ci95.unwrap());
    assert!(
        (m - mean).abs() < ci + 0.002 * mean,
        "mean {m} ±{ci} vs {mean}"
    );
    let (q, qci) = (l.p99.unwrap(), l.p99_ci95.unwrap());
    assert!(
        (q - p99).abs() < qci + 0.002 * p99,
        "p99 {q} ±{qci} vs {p99}"
    );
    let cache = s.stations["cache"].cache.as_ref().unwrap();
    let (h, hci) = (cache.hit_ratio.unwrap(), cache.hit_ratio_ci95.unwrap());
    assert!((h - 0.8).abs() < hci + 1e-4, "hit ratio {h} ±{hci}");
    let db = &s.stations["db"];
    near("db throughput", db.throughput, 100.0, 0.01);
    let w = db.mean_response.unwrap();
    near("db response (M/M/2)", w, 0.01 + c_wait / 100.0, 0.01);
}

/// Write-back acknowledges writes from the cache and flushes them every
/// second: with a fixed hit ratio each write is its own dirty entry, so
/// the writes at risk climb by a Poisson stream from 0 to each flush and
/// average λ·T/2 = 100/s × 1 s / 2 = 50; all reach the database (40 misses
/// and 100 writes per second). Write-through and invalidation write the
/// database synchronously: nothing at risk, and each write waits for it.
#[test]
fn write_back_puts_writes_at_risk_and_write_through_does_not() {
    let run = |policy: &str| {
        let policy = format!("\"{policy}\"");
        data(
            "write_back",
            &[
                ("services.cache.write_policy", &policy),
                ("simulation.duration", "\"60s\""),
            ],
        )
    };
    let back = run("write_back");
    let c = back.stations["cache"].cache.as_ref().unwrap();
    let (risk, ci) = (c.writes_at_risk, c.writes_at_risk_ci95.unwrap());
    assert!((risk - 50.0).abs() < ci + 0.5, "at risk {risk} ±{ci}");
    assert!(c.writes_at_risk_max > 100, "{c:?}");
    // Every write is flushed, give or take those dirty at either end.
    assert!(c.writes.abs_diff(c.flushed) <= 5 * 150, "{c:?}");
    near("db load", back.stations["db"].throughput, 140.0, 0.02);
    let write_back_latency = back.classes["writes"].latency.mean.unwrap();
    assert!(write_back_latency < 0.001, "{write_back_latency}");

    for policy in ["write_through", "invalidate"] {
        let s = run(policy);
        let c = s.stations["cache"].cache.as_ref().unwrap();
        assert_eq!(
            (c.writes_at_risk, c.writes_at_risk_max, c.flushed),
            (0.0, 0, 0),
            "{policy}"
        );
        assert!(c.writes > 0);
        near(
            &format!("{policy}: db load"),
            s.stations["db"].throughput,
            140.0,
            0.02,
        );
        // The write waits for the database's 5 ms of work.
        let latency = s.classes["writes"].latency.mean.unwrap();
        assert!(latency > write_back_latency + 0.005, "{policy}: {latency}");
    }
}

/// A cold cache: the run starts empty and the time series shows the hit
/// ratio climbing. In the first 2 s the cache has seen few keys, so far
/// fewer reads hit than in steady state; over the last minute the ratio is
/// Che's (within 2 points). The windows tile the run: their completions add
/// up to the run's, exactly (no warm-up here).
#[test]
fn a_cold_cache_warms_up_in_the_time_series() {
    let path = format!(
        "{}/../../scenarios/data/cold_start.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let window = chokepoint_core::time::SimTime::from_secs_f64(2.0);
    let runs = chokepoint_validation::series(("cold_start", &text), &[], window);
    let steady = che(1_000_000, 0.9, 10_000);
    let ratio = |from: usize, to: usize| {
        let (mut hits, mut lookups) = (0u64, 0u64);
        for r in &runs {
            for w in &r.series[from..to] {
                hits += w.hits[0];
                lookups += w.hits[0] + w.misses[0];
            }
        }
        hits as f64 / lookups as f64
    };
    for r in &runs {
        assert_eq!(r.series.len(), 60);
        let completed: u64 = r.series.iter().map(|w| w.completed[0]).sum();
        assert_eq!(completed, r.classes[0].completed);
        assert_eq!(r.series[59].end.as_secs_f64(), 120.0);
    }
    let first = ratio(0, 1);
    assert!(
        first < 0.7 * steady,
        "first window {first} vs steady {steady}"
    );
    let last = ratio(30, 60);
    assert!(
        (last - steady).abs() < 0.02,
        "last minute {last} vs Che {steady}"
    );
}

/// Stop-the-world pauses: each replica allocates 200/s × 8 MB and collects
/// when that exceeds its free heap (4 GB − 1 GB live − 8 MB per request in
/// flight, about 2.97 GB): about 0.54 collections per second each, of
/// 1 ms + 50 ms per live GB ≈ 52 ms. Against the same replicas with a heap
/// that never fills, the mean moves by less than 10% while the P99.9 rises
/// by more than a pause (requests caught by one wait for it). A heap
/// barely above the live data thrashes: paused nearly all the time, the
/// replicas serve almost nothing.
#[test]
fn gc_pauses_move_the_tail_not_the_mean() {
    let run = |heap: &str| {
        data(
            "gc_pauses",
            &[
                ("services.api.heap_gb", heap),
                ("simulation.duration", "\"40s\""),
            ],
        )
    };
    let gc = run("4");
    let none = run("100000");
    let (with, without) = (&gc.classes["web"].latency, &none.classes["web"].latency);
    let pauses = gc.stations["api"].gc.as_ref().unwrap();
    assert_eq!(
        none.stations["api"].gc.as_ref().unwrap().pauses_per_sec,
        0.0
    );
    let mean_pause = pauses.mean_pause.unwrap();
    assert!(
        (0.051..0.060).contains(&mean_pause),
        "mean pause {mean_pause}"
    );
    near(
        "collections/s",
        pauses.pauses_per_sec,
        2.0 * 200.0 * 8e6 / (3e9 - 8e6 * 4.0),
        0.03,
    );
    near(
        "paused",
        pauses.paused,
        pauses.pauses_per_sec / 2.0 * mean_pause,
        1e-6,
    );
    assert_eq!(pauses.replicas.len(), 2);
    let (m1, m0) = (with.mean.unwrap(), without.mean.unwrap());
    assert!(m1 > m0 && m1 < 1.1 * m0, "mean {m1} vs {m0} without pauses");
    let (with_p999, without_p999) = (with.p999.unwrap(), without.p999.unwrap());
    assert!(
        with_p999 >= without_p999 + mean_pause,
        "p99.9 {with_p999} vs {without_p999} + {mean_pause}"
    );

    let thrash = run("1.2");
    let pauses = thrash.stations["api"].gc.as_ref().unwrap();
    assert!(pauses.paused > 0.9, "{pauses:?}");
    assert!(
        thrash.classes["web"].throughput < 40.0,
        "{}",
        thrash.classes["web"].throughput
    );
}

/// Read replicas: writes go to the leader, reads to the followers, and a
/// read is stale when the last write to its key has not reached them. With
/// a constant lag `L`, writes applied in order, and Poisson writes at
/// λ_w (the leader's departures: Burke) to keys of popularity pₖ, a key has
/// a write in flight with probability 1 − e^(−λ_w pₖ L) (M/G/∞), and reads
/// come at times independent of the writes, so the stale ratio is
/// Σ pₖ (1 − e^(−λ_w pₖ L)): for 100 keys and L = 50 ms at 100 writes/s,
/// 4.88% for uniform keys, more for skewed ones.
#[test]
fn stale_reads_follow_the_replication_lag() {
    for zipf in [0.0, 0.8] {
        let z = zipf.to_string();
        let s = data(
            "read_replicas",
            &[
                ("services.db.replicas.lag", "\"50ms\""),
                ("services.db.keys", "100"),
                ("services.db.zipf", &z),
                ("simulation.duration", "\"100s\""),
            ],
        );
        let weights: Vec<f64> = (1..=100).map(|k| f64::from(k).powf(-zipf)).collect();
        let total: f64 = weights.iter().sum();
        let expected: f64 = weights
            .iter()
            .map(|w| w / total * (1.0 - (-100.0 * w / total * 0.05).exp()))
            .sum();
        let db = &s.stations["db"];
        let r = db.replication.as_ref().unwrap();
        let (ratio, ci) = (r.stale_ratio.unwrap(), r.stale_ratio_ci95.unwrap());
        assert!(
            (ratio - expected).abs() < ci + 0.01 * expected,
            "zipf {zipf}: {ratio} ±{ci} vs {expected}"
        );
        // Reads at the followers only, writes at the leader only.
        near("writes", r.writes as f64 / (5.0 * 100.0), 100.0, 0.02);
        near("reads", r.reads as f64 / (5.0 * 100.0), 800.0, 0.02);
        let parts = db.parts.as_ref().unwrap();
        // Utilisation law per replica: 100/s × 4 ms and 400/s × 2 ms on 4 cores.
        near("leader cpu", parts["db[0].cpu"].utilization, 0.1, 0.03);
        near("follower cpu", parts["db[1].cpu"].utilization, 0.2, 0.03);
    }
}

/// A class takes only the locks its `on.CLASS.locks` names: in the shop,
/// orders take the stock lock and browsing does not, so the lock is
/// acquired at the orders' rate, held 1 ms each (utilisation law over its 8
/// stripes), and browsing's latency has no lock in it.
#[test]
fn only_the_classes_that_need_a_lock_take_it() {
    let s = data("shop", &[("simulation.duration", "\"20s\"")]);
    let lock = &s.stations["api"].locks.as_ref().unwrap()["stock"];
    let orders = s.classes["order"].throughput;
    near("acquisitions", lock.throughput, orders, 0.01);
    near(
        "utilisation law",
        lock.utilization,
        orders * 0.001 / 8.0,
        0.01,
    );
    // Per request through the API: the orders' share of a 1 ms hold (the
    // wait is nanoseconds at 0.7% utilisation).
    let b = s.stations["api"].breakdown.as_ref().unwrap();
    let share = orders / s.stations["api"].throughput;
    near(
        "lock in breakdown",
        b.calls["lock stock"].unwrap(),
        share * 0.001,
        0.02,
    );
}

/// A cache's miss or write carries its key to the replicated database
/// behind it, so the two policies differ where independent keys could not
/// tell them apart: writing through the cache keeps a just-written key in
/// it, so no read of that key goes to a lagging replica (no stale reads,
/// but for keys evicted within the lag); invalidating drops it, and the
/// next read of a hot key misses and often reaches a replica before the
/// write did (read-your-writes broken).
#[test]
fn a_cache_in_front_of_replicas_decides_read_your_writes() {
    let run = |policy: &str| {
        let policy = format!("\"{policy}\"");
        let s = data(
            "shop",
            &[
                ("services.cache.write_policy", &policy),
                ("simulation.duration", "\"20s\""),
            ],
        );
        s.stations["db"].replication.clone().unwrap()
    };
    let through = run("write_through");
    let invalidate = run("invalidate");
    let (ratio, ci) = (
        invalidate.stale_ratio.unwrap(),
        invalidate.stale_ratio_ci95.unwrap(),
    );
    assert!(ratio - ci > 0.002, "invalidate: {ratio} ±{ci}");
    assert!(
        (through.stale_reads as f64) < 0.05 * invalidate.stale_reads as f64,
        "write-through {through:?} vs invalidate {invalidate:?}"
    );
    // Writes reach the leader under both, reads the replicas.
    assert_eq!(through.writes, invalidate.writes);
}
