//! `diagnose`'s search and changes, through the study pipeline: the
//! saturation load found by bisection against the capacity table, and the
//! changes that move it (or do not) in `db_pool.toml`.

use std::path::PathBuf;

use chokepoint_report::capacity;
use chokepoint_report::capacity::ResourceClass;
use chokepoint_scenario::Override;
use chokepoint_study::Study;
use chokepoint_study::diagnose::{actions, limits};

/// The bundled scenario at `path` (under `scenarios/`): its study and text.
fn study(path: &str) -> (Study, String, PathBuf) {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(path);
    let text = std::fs::read_to_string(&file).unwrap();
    let dir = file.parent().unwrap().to_path_buf();
    let (study, diagnostics) = Study::load(&text, path, Some(&dir));
    (
        study.unwrap_or_else(|| panic!("{path}: {diagnostics:?}")),
        text,
        dir,
    )
}

/// The limit found: the lowest saturated load (requests per second).
fn saturates_at(study: &Study) -> f64 {
    let found = limits(study, None, 1.0, None, &Default::default()).unwrap();
    found.saturation.1.expect("it saturates") * found.rate
}

/// A Jackson network (the tandem with feedback: the 2-server station b
/// saturates first, at 0.7 × 2 / 2 s = 0.7/s) and `db_pool` (the
/// database's 4 slots of 5 ms: 800/s): the bisection, which needs a
/// significant backlog growth, stops within 5% above the capacity table's
/// saturation load. `checkout` too (its database: 4 servers, 8 ms for 20%
/// of the 400 browsing requests/s and 250 ms for the 5 reports/s: 858/s),
/// where the slow, rare class is the one left behind when the database
/// saturates.
#[test]
fn the_saturation_found_by_bisection_is_the_capacity_table_s() {
    let checkout = 405.0 * 4.0 / (400.0 * 0.2 * 0.008 + 5.0 * 0.25);
    for (path, expected) in [
        ("tandem.toml", 0.7),
        ("request_path/db_pool.toml", 800.0),
        ("checkout.toml", checkout),
    ] {
        let (study, ..) = study(path);
        let (_, table) = capacity(&study.scenario);
        assert!(
            (table[0].saturates_at - expected).abs() < 1e-6 * expected,
            "{path}: {table:?}"
        );
        let found = saturates_at(&study);
        assert!(
            found >= 0.98 * expected && found <= 1.05 * expected,
            "{path}: saturates at {found}/s by bisection, {expected}/s by the table"
        );
    }
}

/// In `db_pool`, more API replicas, workers or cores pile up behind the
/// same database: no effect on the limit; a second database replica
/// doubles it, and so do two shards (its keys spread evenly); more database workers or cores alone do not (each caps it
/// at 4 × 5 ms), both together do.
#[test]
fn more_machines_behind_the_choke_point_do_not_move_the_limit() {
    let (base, text, dir) = study("request_path/db_pool.toml");
    let limit = saturates_at(&base);
    let mut seen = Vec::new();
    for action in actions(&base) {
        let scenario = chokepoint_scenario::load_in(&text, Some(&dir), &action.overrides)
            .scenario
            .unwrap();
        let moved = saturates_at(&Study::new("db_pool", scenario, Vec::new())) / limit;
        // A second replica, or more workers with more cores: each of the
        // two tied limits (4 workers, 4 cores) moved.
        let expected = match action.label.as_str() {
            "db: 2 shards by hash (keys spread evenly)"
            | "db: 1 → 2 replicas"
            | "db: 4 → 8 workers and g-xlarge → g-2xlarge" => 2.0,
            _ => 1.0,
        };
        assert!(
            (moved - expected).abs() < 0.05 * expected,
            "{}: the limit moved ×{moved}, expected ×{expected}",
            action.label
        );
        seen.push(action.label);
    }
    assert_eq!(
        seen,
        [
            "api: 2 → 3 replicas",
            "api: 64 → 128 workers",
            "api: c-large → c-xlarge",
            "api: 64 → 128 workers and c-large → c-xlarge",
            "db: 2 shards by hash (keys spread evenly)",
            "db: 1 → 2 replicas",
            "db: 4 → 8 workers",
            "db: g-xlarge → g-2xlarge",
            "db: 4 → 8 workers and g-xlarge → g-2xlarge",
        ]
    );
}

/// `partner_api`: the payment partner's concurrency limit (4 at 100 ms:
/// 40/s) saturates first, is named as the busiest resource there (not the
/// API's workers waiting for it), and only raising it moves the limit.
#[test]
fn a_dependency_s_concurrency_limit_is_named_and_raised() {
    let (base, text, dir) = study("request_path/partner_api.toml");
    let found = limits(&base, None, 1.0, None, &Default::default()).unwrap();
    let busiest = found.busiest().unwrap();
    assert_eq!(busiest.name(), "payments concurrency", "{busiest:?}");
    assert_eq!(busiest.class, ResourceClass::Dependency);
    let limit = found.limit();
    for action in actions(&base) {
        let scenario = chokepoint_scenario::load_in(&text, Some(&dir), &action.overrides)
            .scenario
            .unwrap();
        let moved = saturates_at(&Study::new("partner_api", scenario, Vec::new())) / limit;
        let expected = if action.label == "payments: concurrency 4 → 8" {
            2.0
        } else {
            1.0
        };
        assert!(
            (moved - expected).abs() < 0.05 * expected,
            "{}: ×{moved}, expected ×{expected}",
            action.label
        );
    }
}

/// `amdahl`: 4.5 ms of parallel work per request at speed 1.2 on `c`
/// cores caps a replica at c × 1.2 / 4.5 ms; its serial tenth (0.5 ms) at
/// 1.2 / 0.5 ms = 2,400/s whatever the cores. The bisection finds the
/// smaller, names the resource by its kind, and the next machine size
/// moves the limit until the serial section is reached, then does nothing.
#[test]
fn more_cores_stop_helping_at_the_serial_share_s_bound() {
    let (_, text, dir) = study("scaling/amdahl.toml");
    let sized = |profile: &str| {
        let o = [Override::new(
            "services.api.profile",
            format!("\"{profile}\""),
        )];
        let scenario = chokepoint_scenario::load_in(&text, Some(&dir), &o)
            .scenario
            .unwrap();
        Study::new("amdahl", scenario, Vec::new())
    };
    for (profile, cores, class) in [
        ("c-large", 2.0, ResourceClass::Cpu),
        ("c-2xlarge", 8.0, ResourceClass::Cpu),
        ("c-4xlarge", 16.0, ResourceClass::Lock),
        ("c-8xlarge", 32.0, ResourceClass::Lock),
    ] {
        let expected = f64::min(cores * 1.2 / 4.5e-3, 1.2 / 0.5e-3);
        let found = limits(&sized(profile), None, 1.0, None, &Default::default()).unwrap();
        let limit = found.limit();
        assert!(
            limit >= 0.98 * expected && limit <= 1.05 * expected,
            "{profile}: saturates at {limit}/s, expected {expected}/s"
        );
        assert_eq!(found.busiest().unwrap().class, class, "{profile}");
    }
    // The next size up: ×2 on 2 cores, nothing past the serial bound.
    let next = |profile: &str| {
        let base = sized(profile);
        let action = actions(&base)
            .into_iter()
            .find(|a| a.label.starts_with(&format!("api: {profile} → ")))
            .unwrap();
        let scenario = chokepoint_scenario::load_in(&text, Some(&dir), &action.overrides)
            .scenario
            .unwrap();
        saturates_at(&Study::new("amdahl", scenario, Vec::new())) / saturates_at(&base)
    };
    let (small, big) = (next("c-large"), next("c-4xlarge"));
    assert!((small - 2.0).abs() < 0.1, "c-large → c-xlarge: ×{small}");
    assert!((big - 1.0).abs() < 0.03, "c-4xlarge → c-8xlarge: ×{big}");
}

/// Where each bundled scenario's header states its bottleneck, the
/// simulation's busiest resource at saturation is that one, named as the
/// capacity table names it (not the workers of the service that waits for
/// it), and so confirms the table.
#[test]
fn the_simulation_names_the_resource_the_table_ranks_first() {
    for (path, expected, class) in [
        ("scaling/cpu_bound.toml", "api cpu", ResourceClass::Cpu),
        ("scaling/disk_bound.toml", "api disk", ResourceClass::Disk),
        (
            "scaling/network_bound.toml",
            "api network",
            ResourceClass::Network,
        ),
        (
            "data/striped_lock.toml",
            "api lock inventory",
            ResourceClass::Lock,
        ),
        (
            "data/connection_pool.toml",
            "db connections",
            ResourceClass::ConnectionPool,
        ),
        ("data/gc_pauses.toml", "api cpu + gc", ResourceClass::Gc),
        (
            "request_path/l7_balancer.toml",
            "lb cpu",
            ResourceClass::Cpu,
        ),
    ] {
        let (study, ..) = study(path);
        let (_, table) = capacity(&study.scenario);
        let found = limits(&study, None, 1.0, None, &Default::default()).unwrap();
        let busiest = found.busiest().unwrap().clone();
        assert_eq!(
            (busiest.name().as_str(), busiest.class),
            (expected, class),
            "{path}"
        );
        let diagnosis = chokepoint_report::diagnosis::Diagnosis {
            scenario: path.into(),
            class: None,
            table,
            limits: found,
            slo_p99: None,
            slo: None,
            bounds: Vec::new(),
            changes: Vec::new(),
        };
        assert_eq!(diagnosis.confirms(), Some(true), "{path}");
    }
}

/// `cache_aside`: twice the cache's entries cut the misses that reach the
/// database, its bottleneck; the limit moves by what the capacity table
/// predicts from the cache's expected misses (Che's approximation of LRU
/// under independent references), within 5%.
#[test]
fn a_bigger_cache_moves_the_limit_as_its_misses_predict() {
    let (base, text, dir) = study("data/cache_aside.toml");
    let action = actions(&base)
        .into_iter()
        .find(|a| a.label == "cache: 10000 → 20000 entries")
        .expect("the cache's change is offered");
    let scenario = chokepoint_scenario::load_in(&text, Some(&dir), &action.overrides)
        .scenario
        .unwrap();
    let predicted =
        capacity(&scenario).1[0].saturates_at / capacity(&base.scenario).1[0].saturates_at;
    let moved =
        saturates_at(&Study::new("cache_aside", scenario, Vec::new())) / saturates_at(&base);
    assert!(predicted > 1.2, "the table predicts ×{predicted}");
    assert!(
        (moved / predicted - 1.0).abs() < 0.05,
        "the limit moved ×{moved}, the table predicts ×{predicted}"
    );
}

/// A closed population ramps in whole users: Jain's central server
/// (`mva_central_server`, product-form) saturates where its bottleneck
/// disk is 95% busy, which mean value analysis (exact here) puts at the
/// first population N with X(N) × D_max ≥ 0.95; the search finds it to
/// within a user, and names the disk.
#[test]
fn a_closed_population_saturates_where_mean_value_analysis_says() {
    let (base, ..) = study("validation/mva_central_server.toml");
    let found = limits(&base, None, 1.0, None, &Default::default()).unwrap();
    assert!(found.users);
    let exact = |n: f64| {
        let s = chokepoint_study::diagnose::scaled(&base, None, n / found.rate);
        let b = &chokepoint_core::analysis::closed_bounds(&s.scenario.topology)[0];
        let (x, _) = b.mva.expect("product-form");
        x * b.demand_max.0
    };
    let knee = (1..100).find(|&n| exact(f64::from(n)) >= 0.95).unwrap();
    let (lo, hi) = found.saturation;
    let hi = hi.expect("it saturates") * found.rate;
    assert!(
        (hi - f64::from(knee)).abs() <= 1.0 + 1e-9,
        "saturated from {hi} users (highest unsaturated {}), MVA: {knee}",
        lo * found.rate
    );
    assert_eq!(found.busiest().unwrap().service, "disk_a");
}

/// A load far past the limit (`db_pool` at 100 times its rate) finds the
/// same SLO limit as the scenario's own: the SLO search starts below the
/// saturation found, not from the absurd load down.
#[test]
fn an_absurd_load_finds_the_same_slo_limit() {
    let (base, text, dir) = study("request_path/db_pool.toml");
    let slo_limit = |study: &Study| {
        let found = limits(study, None, 1.0, None, &Default::default()).unwrap();
        found.slo.expect("db_pool has an SLO").0 * found.rate
    };
    let at = slo_limit(&base);
    let absurd = [Override::new("load.web.rate", "\"60000/s\"")];
    let scenario = chokepoint_scenario::load_in(&text, Some(&dir), &absurd)
        .scenario
        .unwrap();
    let far = slo_limit(&Study::new("db_pool", scenario, Vec::new()));
    assert!(
        (far / at - 1.0).abs() < 0.03,
        "meets the SLO up to {far}/s from 60000/s, {at}/s from 600/s"
    );
}
