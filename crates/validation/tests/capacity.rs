//! The capacity table against the hand computation in each bundled
//! scenario's header: the first row names the resource the scenario says
//! limits it, at the throughput it says, within 2%.

use std::path::PathBuf;

use chokepoint_report::capacity;
use chokepoint_scenario::Override;

/// The bundled scenario at `path` (under `scenarios/`), loaded with
/// `overrides`.
fn scenario(path: &str, overrides: &[Override]) -> chokepoint_scenario::Scenario {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(path);
    let text = std::fs::read_to_string(&file).unwrap();
    let loaded = chokepoint_scenario::load_in(&text, file.parent(), overrides);
    loaded
        .scenario
        .unwrap_or_else(|| panic!("{path}: {:?}", loaded.diagnostics))
}

/// The first row is `service what`, saturating at `rate` (within 2%).
fn first(path: &str, service: &str, what: &str, rate: f64) {
    first_with(path, &[], service, what, rate);
}

fn first_with(path: &str, overrides: &[Override], service: &str, what: &str, rate: f64) {
    let (_, rows) = capacity(&scenario(path, overrides));
    let top = &rows[0];
    assert_eq!(
        (top.service.as_str(), top.what.as_str()),
        (service, what),
        "{path}: {rows:#?}"
    );
    assert!(
        (top.saturates_at - rate).abs() <= 0.02 * rate,
        "{path}: {} saturates at {}/s, expected {rate}/s",
        top.what,
        top.saturates_at
    );
}

#[test]
fn a_database_pool_of_4_slots_of_5_ms_caps_at_800_per_second() {
    first("request_path/db_pool.toml", "db", "pool", 800.0);
}

#[test]
fn a_connection_pool_of_8_slots_of_10_ms_caps_at_800_per_second() {
    first("data/connection_pool.toml", "db", "connections", 800.0);
}

/// A worker held 1 ms (CPU) + 2 ms (hop) + 200 ms (the dependency): 16
/// workers carry 16 / 0.203 s = 78.8/s.
#[test]
fn sixteen_workers_held_203_ms_cap_at_78_8_per_second() {
    first(
        "request_path/slow_dependency.toml",
        "api",
        "workers",
        16.0 / 0.203,
    );
}

#[test]
fn ten_stripes_held_2_ms_cap_at_5000_per_second() {
    first("data/striped_lock.toml", "api", "lock inventory", 5000.0);
}

#[test]
fn a_layer_7_balancer_on_2_cores_at_1_ms_caps_at_2000_per_second() {
    first("request_path/l7_balancer.toml", "lb", "cpu", 2000.0);
}

/// On its base machine (c-large: 2 cores at 1.2×) the cores limit first,
/// at 2 / (0.9 × 5 ms / 1.2) = 533/s; on 64 cores the serial tenth does, at
/// 1.2 / 0.5 ms = 2,400/s, whatever the cores.
#[test]
fn a_serial_tenth_of_5_ms_caps_a_replica_at_2400_per_second() {
    first("scaling/amdahl.toml", "api", "cpu", 533.3);
    let big = [Override::new("services.api.profile", "\"c-16xlarge\"")];
    first_with("scaling/amdahl.toml", &big, "api", "serial section", 2400.0);
}

/// A c-4xlarge replica (16 cores at 1.2×) whose requests take 20 ms of CPU
/// and allocate 8 MB each, in a 4 GB heap holding 1 GB live: with its 64
/// workers busy (as at saturation) the live data is 1 + 64 × 0.008 =
/// 1.512 GB, so a collection pauses 1 ms + 50 ms × 1.512 = 76.6 ms every
/// 2.488 GB / 8 MB = 311 requests. The replica saturates where its cores'
/// work plus the pauses fill it: λ × (20 ms / 16 + 76.6 ms / 311) = 1, at
/// λ = 668.5/s, 1,337/s for its 2 replicas (the simulation saturates
/// between 1,340 and 1,357/s; without the pauses the cores would last to
/// 1,600/s).
#[test]
fn garbage_collection_pauses_take_their_share_of_the_cores() {
    let pause = 1e-3 + 50e-3 * (1.0 + 64.0 * 0.008);
    let every = (4.0 - 1.0 - 64.0 * 0.008) / 0.008;
    let per_replica = 1.0 / (20e-3 / 16.0 + pause / every);
    first("data/gc_pauses.toml", "api", "cpu + gc", 2.0 * per_replica);
    // A heap that cannot hold its workers' requests thrashes under load.
    let small = [Override::new("services.api.heap_gb", "1.2")];
    let (_, rows) = capacity(&scenario("data/gc_pauses.toml", &small));
    assert_eq!(rows[0].what, "cpu + gc");
    assert!(rows[0].utilization.is_infinite(), "{rows:#?}");
}

/// One c-large replica (2 cores at 1.2×, 4,000 IOPS, 0.75 Gb/s): 8 ms of
/// CPU caps it at 2 × 1.2 / 8 ms = 300/s; 8 disk operations at 500/s;
/// 100 kB sent at 0.75 × 10⁹ / 8 / 10⁵ = 937.5/s.
#[test]
fn cpu_disk_and_network_bound_replicas_saturate_where_their_headers_say() {
    first("scaling/cpu_bound.toml", "api", "cpu", 300.0);
    first("scaling/disk_bound.toml", "api", "disk", 500.0);
    first("scaling/network_bound.toml", "api", "network", 937.5);
}

/// The table's other columns follow from the first's figures: at 600/s,
/// `db_pool`'s database pool (5 ms per request on 4 slots) is 75% used,
/// with 33% headroom; its API's workers hold a slot for at least the API's
/// 1 ms of CPU, the 0.3 ms hop and the database's 5 ms.
#[test]
fn the_table_s_columns_follow_from_the_operational_laws() {
    let (rate, rows) = capacity(&scenario("request_path/db_pool.toml", &[]));
    assert_eq!(rate, 600.0);
    let row = |what: &str, service: &str| {
        rows.iter()
            .find(|r| r.what == what && r.service == service)
            .unwrap()
            .clone()
    };
    let pool = row("pool", "db");
    assert!((pool.utilization - 0.75).abs() < 1e-9, "{pool:?}");
    assert!((pool.per_request - 0.005).abs() < 1e-12, "{pool:?}");
    assert_eq!(pool.units, 4);
    let workers = row("workers", "api");
    assert!((workers.per_request - 0.0063).abs() < 1e-9, "{workers:?}");
    assert!(workers.slots && !row("cpu", "db").slots);
}

/// `check` warns when a service's pool is offered more than it can hold
/// (connection_pool: 900/s on 8 connections of 10 ms, 1.125 by the lower
/// bound), once for the service however many replicas; not when the
/// station it covers is itself overloaded and warned about (db_pool at
/// 1,000/s: the database's cores).
#[test]
fn an_overloaded_pool_is_warned_about_once_per_service() {
    let warnings = |path: &str, overrides: &[Override]| -> Vec<String> {
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios")
            .join(path);
        let text = std::fs::read_to_string(&file).unwrap();
        chokepoint_scenario::load_in(&text, file.parent(), overrides)
            .diagnostics
            .iter()
            .filter(|d| !d.is_error())
            .map(|d| d.message.clone())
            .collect()
    };
    let pool = warnings("data/connection_pool.toml", &[]);
    let about_pool: Vec<_> = pool
        .iter()
        .filter(|m| m.contains("workers (or connections) of `db`"))
        .collect();
    assert_eq!(about_pool.len(), 1, "{pool:?}");
    assert!(about_pool[0].contains("1.125 times the 8"), "{pool:?}");
    let cores = warnings(
        "request_path/db_pool.toml",
        &[Override::new("load.web.rate", "\"1000/s\"")],
    );
    assert!(cores.iter().any(|m| m.contains("db[0].cpu")), "{cores:?}");
    assert!(
        !cores.iter().any(|m| m.contains("workers (or connections)")),
        "{cores:?}"
    );
}

/// `run`'s exact means for product-form networks against independent
/// calculations: the tandem of three M/M/1 (the reference case's 66.7 ms),
/// the feedback network (a: 1 s at ρ 0.8, b: two servers of 2 s at 1.6
/// erlangs, c: 0.8 s at ρ 0.64, each visited 1/0.7 times: Erlang C by the
/// validation's own formula), an M/M/4 at 2/s (Erlang C); and none for an
/// M/G/1 (FIFO, not exponential: no product form).
#[test]
fn the_exact_means_of_product_form_networks_are_jackson_s() {
    use chokepoint_core::analysis::product_form;
    use chokepoint_validation::derived::erlang_c;
    let exact = |path: &str| product_form(&scenario(path, &[]).topology);
    let tandem = exact("validation/jackson_tandem.toml").unwrap()[0];
    // The scenario writes its means to the microsecond.
    assert!((tandem - 0.066_666_666_666_666_67).abs() < 1e-7, "{tandem}");
    let feedback = exact("validation/jackson_feedback.toml").unwrap()[0];
    let b = 2.0 + erlang_c(2, 1.6) * 2.0 / (2.0 - 1.6);
    let expected = (1.0 / (1.0 - 0.8) + b + 0.8 / (1.0 - 0.64)) / 0.7;
    assert!(
        (feedback - expected).abs() < 1e-9 * expected,
        "{feedback} vs {expected}"
    );
    let mmc = exact("validation/mmc4.toml").unwrap()[0];
    let expected = 1.0 + erlang_c(4, 2.0) / (4.0 - 2.0);
    assert!((mmc - expected).abs() < 1e-9, "{mmc} vs {expected}");
    // A lone FIFO server with gamma work (mean 1 s, cv 0.5: E[S²] =
    // 1.25 s²) at 0.5/s: Pollaczek–Khinchine's 1 + 0.5 × 1.25 / (2 × 0.5).
    let mg1 = exact("validation/mg1.toml").unwrap()[0];
    assert!((mg1 - 1.625).abs() < 1e-9, "{mg1}");
}

/// The run judges its simulated mean against the exact one: an M/M/1 at
/// ρ = 0.5 agrees (2 s), and the summary says so in its `theory`.
#[test]
fn a_run_of_a_product_form_network_shows_the_exact_mean_beside_its_own() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/validation/mm1.toml"),
    )
    .unwrap();
    let summary = chokepoint_validation::summary(("mm1", &text), &[]);
    let t = &summary.theory["jobs"];
    assert!((t.mean - 2.0).abs() < 1e-12, "{t:?}");
    assert!(t.agrees, "{t:?}");
}

/// A worker is held for what its request waits for: not a send to a queue
/// (`queue_workers`: the API's workers hold only its CPU's 1.67 ms, not the
/// mailer's 20 ms), and of parallel branches the slowest when it waits for
/// all, one when it waits for the first replies (`search_fanout`: 1 ms of
/// CPU, one 8 ms shard of the first 9 of 10, the slower of ads' 13.4 ms
/// and recs' 15 ms: 24 ms; the run measures 37 ms, above this bound).
#[test]
fn a_worker_is_held_for_what_it_waits_for() {
    let row = |path: &str, service: &str, what: &str| {
        let (_, rows) = capacity(&scenario(path, &[]));
        rows.into_iter()
            .find(|r| r.service == service && r.what == what)
            .unwrap()
    };
    let held = row("request_path/queue_workers.toml", "api", "workers").per_request;
    let cpu = row("request_path/queue_workers.toml", "api", "cpu").per_request;
    assert!((held - cpu).abs() < 1e-12, "{held} vs {cpu}");
    let held = row("request_path/search_fanout.toml", "frontend", "workers").per_request;
    assert!((held - 0.024).abs() < 1e-9, "{held}");
}

/// A run sets the table's utilisations beside its own: in `db_pool` every
/// server agrees within the run's interval, the database's pool too, and
/// the API's workers are held longer than their work (they wait for the
/// database: the layered effect the table leaves out); in `retry_storm`,
/// the retries of timed-out calls add work the table does not count, and
/// the database is flagged.
#[test]
fn a_run_sets_the_table_beside_its_own_utilisations() {
    let run = |path: &str| {
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios")
            .join(path);
        let text = std::fs::read_to_string(file).unwrap();
        chokepoint_validation::summary((path, &text), &[]).analytic
    };
    let verdict = |rows: &[chokepoint_report::summary::Beside], resource: &str| {
        rows.iter()
            .find(|b| b.resource == resource)
            .unwrap_or_else(|| panic!("no {resource} in {rows:#?}"))
            .verdict
    };
    let rows = run("request_path/db_pool.toml");
    assert_eq!(rows.len(), 4, "{rows:#?}");
    for resource in ["db cpu", "api cpu", "db pool"] {
        assert_eq!(verdict(&rows, resource), "agrees", "{resource}: {rows:#?}");
    }
    assert_eq!(verdict(&rows, "api workers"), "above_bound", "{rows:#?}");
    let rows = run("resilience/retry_storm.toml");
    assert_eq!(verdict(&rows, "db cpu"), "differs", "{rows:#?}");
    assert_eq!(verdict(&rows, "api cpu"), "agrees", "{rows:#?}");
}
