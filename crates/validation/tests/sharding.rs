//! Sharding as it behaves, beyond the analytic cases (`derived_shards`,
//! `derived_scatter_gather`): a shard's tail is a lone database's at its
//! share of the load, the report finds the hottest shard and the load at
//! which it saturates, and a cache's miss takes its key to the shard that
//! holds it.

use chokepoint_report::Summary;
use chokepoint_scenario::Override;

/// `scenarios/validation/shards.toml`, its text changed by `edit`, with
/// overrides.
fn shards(edit: impl Fn(String) -> String, overrides: &[(&str, &str)]) -> Summary {
    let path = format!(
        "{}/../../scenarios/validation/shards.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = edit(std::fs::read_to_string(&path).unwrap());
    let overrides: Vec<Override> = overrides
        .iter()
        .map(|(p, v)| Override::new(*p, *v))
        .collect();
    chokepoint_validation::summary(("shards.toml", &text), &overrides)
}

/// The probability of each of `keys` keys, the k-th ∝ 1/k^zipf.
fn zipf(keys: u32, s: f64) -> Vec<f64> {
    let w: Vec<f64> = (1..=keys).map(|k| f64::from(k).powf(-s)).collect();
    let total: f64 = w.iter().sum();
    w.iter().map(|x| x / total).collect()
}

/// Four shards of uniform keys at 600/s are four databases at 150/s each:
/// the requests' p99 and p99.9 are a lone database's at 150/s, within the
/// two runs' intervals (the means are checked against Erlang C in
/// `derived_shards`; the tail of processor sharing has no closed form).
#[test]
fn a_shard_is_a_database_of_its_own_at_its_share() {
    let sharded = shards(|t| t, &[]);
    let alone = shards(
        |t| {
            t.replace("shards = { count = 4, by = \"range\" }", "")
                .replace("keys = 1000\nzipf = 0\n", "")
        },
        &[("load.writes.rate", "\"150/s\"")],
    );
    assert!(alone.stations["db"].shards.is_none());
    let (a, b) = (
        &sharded.classes["writes"].latency,
        &alone.classes["writes"].latency,
    );
    for (what, x, y) in [
        ("p99", (a.p99, a.p99_ci95), (b.p99, b.p99_ci95)),
        ("p99.9", (a.p999, a.p999_ci95), (b.p999, b.p999_ci95)),
    ] {
        let (x, cx) = (x.0.unwrap(), x.1.unwrap());
        let (y, cy) = (y.0.unwrap(), y.1.unwrap());
        // The histogram's resolution (1%) on top of the two intervals.
        assert!(
            (x - y).abs() <= cx + cy + 0.01 * y,
            "{what}: sharded {x} ±{cx}, alone {y} ±{cy}"
        );
    }
    let s = sharded.stations["db"].shards.as_ref().unwrap();
    for shard in &s.shards {
        assert!((shard.share - 0.25).abs() < 1e-3, "{:?}", s.shards);
    }
    // Each shard's 2 cores at 100/s each: 800/s in all.
    let at = s.saturates_at.unwrap();
    assert!((at - 800.0).abs() < 0.01 * 800.0, "saturates at {at}");
}

/// Zipf keys (s = 1) split by range put the popular keys on shard 0: the
/// report names it the hottest, its share is the sum of its 250 keys'
/// probabilities, and the service saturates when that share of the load
/// reaches its 200/s.
#[test]
fn the_report_finds_the_hottest_shard_and_where_it_saturates() {
    let s = shards(
        |t| t,
        &[
            ("services.db.zipf", "1.0"),
            ("load.writes.rate", "\"180/s\""),
            ("simulation.duration", "\"1000s\""),
        ],
    );
    let h = s.stations["db"].shards.as_ref().unwrap();
    let p = zipf(1000, 1.0);
    let share0: f64 = p[..250].iter().sum();
    assert_eq!(h.hottest, 0);
    assert!(
        (h.hottest_share - share0).abs() <= h.hottest_share_ci95.unwrap() + 1e-3,
        "{} vs {share0}",
        h.hottest_share
    );
    assert_eq!(h.even_share, 0.25);
    let at = h.saturates_at.unwrap();
    let expected = 200.0 / share0;
    assert!(
        (at - expected).abs() < 0.02 * expected,
        "saturates at {at}, expected {expected}"
    );
}

/// Zipf keys split by hash: the capacity table treats the hottest shard
/// as the resource that saturates first. Its first row names the shard the
/// simulation finds hottest (wherever the hash put the most popular key),
/// and saturates where the report's measured shares say it does.
#[test]
fn the_capacity_table_names_the_hottest_shard() {
    let overrides = [
        ("services.db.zipf", "1.0"),
        ("services.db.shards.by", "\"hash\""),
        ("load.writes.rate", "\"180/s\""),
        ("simulation.duration", "\"1000s\""),
    ];
    let path = format!(
        "{}/../../scenarios/validation/shards.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let owned: Vec<Override> = overrides
        .iter()
        .map(|(p, v)| Override::new(*p, *v))
        .collect();
    let scenario = chokepoint_scenario::load_in(&text, None, &owned)
        .scenario
        .unwrap();
    let (_, rows) = chokepoint_report::capacity::capacity(&scenario);
    let top = &rows[0];
    let s = shards(|t| t, &overrides);
    let h = s.stations["db"].shards.as_ref().unwrap();
    assert_ne!(h.hottest, 0, "pick a case where the hash moves key 1");
    assert_eq!((top.service.as_str(), top.what.as_str()), ("db", "cpu"));
    assert_eq!(top.shard, Some(h.hottest));
    assert_eq!(top.name(), format!("db cpu (shard {})", h.hottest));
    // Its two cores at 100/s each take the hottest share of the load.
    let expected = 200.0 / h.hottest_share;
    assert!(
        (top.saturates_at - expected).abs() < 0.02 * expected,
        "table {} against {expected} from the measured share",
        top.saturates_at
    );
}

/// A cache in front of a database sharded by range: a read that misses
/// takes its key to the database, whose router sends it to the shard that
/// holds it. The popular keys mostly hit, so shard 0 (the first 250 keys)
/// gets 66% of the misses, not the 82% of the reads it would get without
/// the cache: its share of the misses,
/// Σ pₖ(1 − hₖ) over its keys over the sum over all keys, with each key's
/// hit probability hₖ = 1 − e^(−pₖT) from Che's characteristic time
/// (Σ (1 − e^(−pₖT)) = capacity). A router that drew keys afresh gives
/// shard 0 its 82% (tried: the test fails).
#[test]
fn a_cache_miss_takes_its_key_to_its_shard() {
    let text = r#"
name = "cached_shards"
[simulation]
duration = "400s"
warmup = "50s"
replications = 4
seed = 3
[load.reads]
rate = "400/s"
entry = "cache"
[services.cache]
kind = "cache"
work = "exp(0.1ms)"
keys = 1000
zipf = 1.0
capacity = 50
on_miss = [{ to = "db" }]
[services.db]
kind = "database"
servers = 8
cpu = "exp(5ms)"
keys = 1000
zipf = 1.0
shards = { count = 4, by = "range" }
"#;
    let s = chokepoint_validation::summary(("cached_shards.toml", text), &[]);
    let p = zipf(1000, 1.0);
    let low = che_time(&p, 50.0);
    let miss: Vec<f64> = p.iter().map(|x| x * (-x * low).exp()).collect();
    let total: f64 = miss.iter().sum();
    let expected: f64 = miss[..250].iter().sum::<f64>() / total;
    let h = s.stations["db"].shards.as_ref().unwrap();
    let measured = h.shards[0].share;
    assert!(
        (measured - expected).abs() < 0.02,
        "shard 0 takes {measured} of the misses, Che says {expected}"
    );
    assert!(measured < 0.7, "{measured}: keys drawn afresh?");
}

/// Che's characteristic time for probabilities `p` and `capacity`
/// entries: the `T` where Σ (1 − e^(−pₖT)) = capacity, by bisection.
fn che_time(p: &[f64], capacity: f64) -> f64 {
    let held = |t: f64| p.iter().map(|x| 1.0 - (-x * t).exp()).sum::<f64>();
    let (mut low, mut high) = (0.0, 1.0);
    while held(high) < capacity {
        high *= 2.0;
    }
    for _ in 0..80 {
        let mid = 0.5 * (low + high);
        if held(mid) < capacity {
            low = mid;
        } else {
            high = mid;
        }
    }
    low
}

/// Che's approximation over the keys of `subset` (their probabilities
/// renormalised), summed key by key: the hit ratio of an LRU cache of
/// `capacity` entries that is sent only those keys.
fn che_over(p: &[f64], subset: &[usize], capacity: f64) -> f64 {
    let total: f64 = subset.iter().map(|&k| p[k]).sum();
    let q: Vec<f64> = subset.iter().map(|&k| p[k] / total).collect();
    let low = che_time(&q, capacity);
    q.iter().map(|x| x * (1.0 - (-x * low).exp())).sum()
}

/// A cache split into 4 shards of 200 entries over 10,000 keys (Zipf
/// 0.9): each shard is an LRU cache sent only its keys, so the hit ratio
/// is Σₛ P(s) · Che(its keys, 200), summed here key by key (by range: the
/// contiguous quarters; by hash: the keys `shard_of` places). Within 1.5
/// points of the measured ratio, and the capacity table's (the engine's
/// binned estimate) within 0.5 points of this sum.
#[test]
fn a_sharded_cache_is_an_lru_cache_per_shard() {
    use chokepoint_core::model::Partition;
    use chokepoint_core::routing::shard_of;
    let p = zipf(10_000, 0.9);
    for by in ["range", "hash"] {
        let text = format!(
            r#"
name = "sharded_cache"
[simulation]
duration = "300s"
warmup = "100s"
replications = 4
seed = 5
[load.reads]
rate = "400/s"
entry = "cache"
[services.cache]
kind = "cache"
work = "exp(0.1ms)"
keys = 10000
zipf = 0.9
capacity = 200
shards = {{ count = 4, by = "{by}" }}
on_miss = [{{ to = "db" }}]
[services.db]
kind = "database"
servers = 8
cpu = "exp(5ms)"
"#
        );
        let s = chokepoint_validation::summary(("sharded_cache.toml", &text), &[]);
        let expected: f64 = (0..4)
            .map(|shard| {
                let keys: Vec<usize> = (0..10_000)
                    .filter(|&k| match by {
                        "range" => k / 2500 == shard,
                        _ => shard_of(k as u32, 10_000, 4, Partition::Hash) == shard,
                    })
                    .collect();
                let share: f64 = keys.iter().map(|&k| p[k]).sum();
                share * che_over(&p, &keys, 200.0)
            })
            .sum();
        let cache = s.stations["cache"].cache.as_ref().unwrap();
        let measured = cache.hit_ratio.unwrap();
        assert!(
            (measured - expected).abs() < 0.015,
            "{by}: hit ratio {measured}, Che per shard {expected}"
        );
        assert_eq!(cache.entries, Some(800.0));
        // The analysis's estimate, as the capacity table uses it: the
        // database's utilisation is the misses' share of the load.
        // (0.25 of utilisation per unit of miss ratio: 400/s × 5 ms / 8.)
        let db = s.analytic.iter().find(|r| r.resource == "db cpu").unwrap();
        let from_che = 0.25 * (1.0 - expected);
        assert!(
            (db.analytic - from_che).abs() < 0.25 * 0.005,
            "{by}: the table's db cpu {} vs {from_che}",
            db.analytic
        );
    }
}

/// `scope = { shards = 3 }` over 8 shards: each query asks 3 shards drawn
/// at random, so each shard receives 3/8 of the queries, evenly, and its
/// one core is busy λ·3/8 × 10 ms of each second; the capacity table
/// (visits of k/n per target) predicts the same.
#[test]
fn a_query_to_k_shards_spreads_over_all_of_them() {
    let path = format!(
        "{}/../../scenarios/validation/scatter_gather.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("servers = 100000", "servers = 1")
        .replace("scope = \"all\"", "scope = { shards = 3 }");
    let overrides = [Override::new("simulation.duration", "\"500s\"")];
    let s = chokepoint_validation::summary(("scatter_gather.toml", &text), &overrides);
    let h = s.stations["db"].shards.as_ref().unwrap();
    assert_eq!(h.shards.len(), 8);
    let (rate, per) = (20.0, 20.0 * 3.0 / 8.0);
    for (i, shard) in h.shards.iter().enumerate() {
        let ci = shard.share_ci95.unwrap();
        assert!(
            (shard.share - 0.125).abs() <= ci + 1e-3,
            "shard {i}: share {} ±{ci}",
            shard.share
        );
        assert!(
            (shard.arrival_rate - per).abs() < 0.03 * per,
            "shard {i}: {} /s against {per}",
            shard.arrival_rate
        );
        let u = shard.utilization;
        let cu = shard.utilization_ci95.unwrap();
        assert!(
            (u - per * 0.010).abs() <= cu + 2e-3,
            "shard {i}: ρ {u} ±{cu}"
        );
    }
    assert!((s.classes["queries"].throughput - rate).abs() < 0.03 * rate);
    let scenario = chokepoint_scenario::load_in(&text, None, &overrides)
        .scenario
        .unwrap();
    let (_, rows) = chokepoint_report::capacity::capacity(&scenario);
    let cpu = rows.iter().find(|r| r.what == "cpu").unwrap();
    assert!(
        (cpu.utilization - per * 0.010).abs() < 1e-9,
        "capacity table: {}",
        cpu.utilization
    );
}

/// A caller's workers are held while its query waits for the k shards it
/// asked: the capacity table counts one shard's whole visit (the slowest
/// branch), as for a query to every shard, not the k/n share of a visit
/// each shard receives.
#[test]
fn a_caller_holds_its_worker_for_a_whole_shard_visit() {
    let text = |scope: &str| {
        format!(
            r#"name = "holds"
[simulation]
duration = "10s"
[load.q]
rate = "20/s"
entry = "api"
[services.api]
kind = "api"
servers = 4
workers = 8
cpu = "const(1ms)"
calls = [{{ to = "db" }}]
[services.db]
kind = "database"
servers = 4
cpu = "const(10ms)"
shards = {{ count = 8 }}
[services.db.on.q]
scope = {scope}
"#
        )
    };
    let workers = |scope: &str| {
        let scenario = chokepoint_scenario::load_in(&text(scope), None, &[])
            .scenario
            .unwrap_or_else(|| panic!("{scope}"));
        let (_, rows) = chokepoint_report::capacity::capacity(&scenario);
        rows.iter()
            .find(|r| r.service == "api" && r.what == "workers")
            .map(|r| r.per_request)
            .unwrap()
    };
    let (all, some) = (workers("\"all\""), workers("{ shards = 3 }"));
    // 1 ms of its own and 10 ms of one shard's work.
    assert!((all - 0.011).abs() < 1e-9, "all: {all}");
    assert!((some - all).abs() < 1e-9, "3 of 8: {some} against {all}");
}
