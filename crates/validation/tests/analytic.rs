//! Every analytic case this release can express, simulated and compared with
//! theory (see the crate documentation for the criterion). One test per case
//! family, so that a failure names the mechanism at fault.

use chokepoint_scenario::Override;
use chokepoint_validation::{Check, Quantity, derived, estimate, failures, run_checks};

fn assert_all_pass(filter: &str) {
    let checks: Vec<Check> = run_checks(Some(filter));
    assert!(!checks.is_empty(), "no check matched {filter}");
    let failed: Vec<String> = failures(&checks)
        .iter()
        .map(|c| {
            format!(
                "{} [{}] {}: theory {} vs simulated {} (99.9% band ±{}, 99.99% band ±{})",
                c.case, c.row, c.quantity, c.theory, c.simulated, c.band, c.wide_band
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} checks failed:\n{}",
        failed.len(),
        checks.len(),
        failed.join("\n")
    );
}

#[test]
fn mm1() {
    assert_all_pass("mm1_rho");
}

#[test]
fn mmc_erlang_c() {
    assert_all_pass("mmc_c");
}

#[test]
fn mm1k_finite_buffer() {
    assert_all_pass("mm1k");
}

#[test]
fn erlang_b_and_insensitivity() {
    assert_all_pass("erlangB");
}

#[test]
fn md1_pollaczek_khinchine() {
    assert_all_pass("md1");
}

#[test]
fn me41_pollaczek_khinchine() {
    assert_all_pass("mg1_erlang4");
}

#[test]
fn jackson_tandem() {
    assert_all_pass("jackson");
}

#[test]
fn closed_network_mva() {
    assert_all_pass("mva");
}

#[test]
fn jackson_with_feedback() {
    assert_all_pass("derived_jackson_feedback");
}

#[test]
fn mg1_every_service_law() {
    assert_all_pass("derived_mg1");
}

#[test]
fn processor_sharing_and_lifo() {
    assert_all_pass("derived_disciplines");
}

#[test]
fn priority_cobham() {
    assert_all_pass("derived_priority");
}

#[test]
fn constant_arrivals_dm1() {
    assert_all_pass("derived_dm1");
}

#[test]
fn vertical_pooled_and_split_scaling() {
    assert_all_pass("derived_scaling");
}

#[test]
fn balancers_round_robin_and_random() {
    assert_all_pass("derived_balancer");
}

/// Least connections has no closed form, but it must do better than round
/// robin (it sees the queues) and worse than one pooled queue (M/M/4, which
/// never leaves a server idle while a request waits): at ρ = 0.7,
/// 1.357 s < T(least connections) < 2.237 s (E4/M/1), each bound by more
/// than the 99.9% interval.
#[test]
fn least_connections_between_pooling_and_round_robin() {
    let scenario = (
        "scaling/balanced.toml",
        include_str!("../../../scenarios/scaling/balanced.toml"),
    );
    let overrides = [
        Override::new("services.lb.policy", "\"least_connections\""),
        Override::new("simulation.duration", "\"50000s\""),
        Override::new("simulation.replications", "20"),
    ];
    let lc = estimate(scenario, &overrides, Quantity::Latency, 0.999);
    let band = lc.half_width.unwrap();
    let pooled = 1.0 + derived::erlang_c(4, 2.8) / (4.0 - 2.8);
    let round_robin = derived::balanced_round_robin()["results"][1]["expected"]["T"]
        .as_f64()
        .unwrap();
    assert!((pooled - 1.3572).abs() < 1e-3 && (round_robin - 2.2367).abs() < 1e-3);
    assert!(
        lc.mean - band > pooled,
        "least connections {} ± {band} not above pooled {pooled}",
        lc.mean
    );
    assert!(
        lc.mean + band < round_robin,
        "least connections {} ± {band} not below round robin {round_robin}",
        lc.mean
    );
}

/// Hardware profiles: one core 4× faster, four cores, four one-core
/// replicas behind a random split match M/M/1, M/M/4 and 4 × M/M/1.
#[test]
fn profiles_vertical_and_horizontal() {
    assert_all_pass("derived_profiles");
}

/// Amdahl: with 10% of 5 ms under a replica-wide lock on c- machines (speed
/// 1.2), one replica saturates at 1.2 / 0.5 ms = 2,400 requests/s however
/// many cores it has: the lock is a saturated single server.
#[test]
fn amdahl_caps_a_replica_at_the_lock() {
    let scenario = (
        "scaling/amdahl.toml",
        include_str!("../../../scenarios/scaling/amdahl.toml"),
    );
    for profile in ["c-4xlarge", "c-16xlarge"] {
        let overrides = [
            Override::new("services.api.profile", format!("\"{profile}\"")),
            Override::new("simulation.replications", "10"),
        ];
        let x = estimate(scenario, &overrides, Quantity::Throughput, 0.999);
        let band = x.half_width.unwrap();
        assert!(
            (x.mean - 2400.0).abs() <= band,
            "{profile}: {} ± {band} requests/s",
            x.mean
        );
    }
    // And two cores are the limit before the lock: 2 × 1.2 / 4.5 ms = 533 requests/s.
    let small = estimate(
        scenario,
        &[Override::new("simulation.replications", "10")],
        Quantity::Throughput,
        0.999,
    );
    assert!(
        (small.mean - 2.0 * 1.2 / 0.0045).abs() <= small.half_width.unwrap(),
        "{small:?}"
    );
}

/// The power of two choices sits between a random choice (which it refines)
/// and least connections (which looks at every replica): at ρ = 0.7 on four
/// exponential replicas, T(least connections) < T(power of two) < 3.333 s
/// (random, 4 × M/M/1), each by more than the 99.9% intervals.
#[test]
fn power_of_two_between_least_connections_and_random() {
    let scenario = (
        "scaling/balanced.toml",
        include_str!("../../../scenarios/scaling/balanced.toml"),
    );
    let with = |policy: &str| {
        let overrides = [
            Override::new("services.lb.policy", format!("\"{policy}\"")),
            Override::new("simulation.duration", "\"50000s\""),
            Override::new("simulation.replications", "20"),
        ];
        let e = estimate(scenario, &overrides, Quantity::Latency, 0.999);
        (e.mean, e.half_width.unwrap())
    };
    let (lc, lc_band) = with("least_connections");
    let (p2, p2_band) = with("power_of_two");
    let random = 1.0 / (1.0 - 0.7);
    assert!(
        lc + lc_band < p2 - p2_band,
        "least connections {lc} ± {lc_band}, power of two {p2} ± {p2_band}"
    );
    assert!(
        p2 + p2_band < random,
        "power of two {p2} ± {p2_band} not below random {random}"
    );
}

/// Fan-out to k unloaded exponential backends, waiting for all: the mean,
/// the percentiles of the maximum and the "tail at scale" share of requests
/// slower than one backend's p99, 1 − 0.99^k (k = 1 to 100).
#[test]
fn fan_out_waits_for_the_slowest() {
    assert_all_pass("fanout_wait_for_all");
}

/// Fork-join of two M/M/1 queues: Nelson and Tantawi's T = (12 − ρ)/8 ·
/// 1/(μ − λ), at ρ = 0.3, 0.5, 0.7.
#[test]
fn fork_join_of_two_queues() {
    assert_all_pass("derived_fork_join");
}

/// A database split into shards: each shard an M/M/2 at the arrival rate
/// times its keys' share (uniform keys by range at 2, 4 and 8 shards; Zipf
/// keys by range, the hot shard; Zipf keys by hash), the mean latency the
/// mixture of the shards' Erlang C means, each shard's utilisation its
/// share of the load.
#[test]
fn shards_are_mmc_queues_at_their_keys_share() {
    assert_all_pass("derived_shards");
}

/// A scatter-gather query over 1 to 16 shards that never queue: the
/// maximum of the shards' exponential responses, mean H_k/μ and every
/// quantile.
#[test]
fn scatter_gather_waits_for_the_slowest_shard() {
    assert_all_pass("derived_scatter_gather");
}

/// A fixed-hit-ratio cache in front of a database: an M/M/1 and an M/M/2
/// queue on the thinned stream, and their mixture end to end.
#[test]
fn cache_in_front_of_a_database() {
    assert_all_pass("derived_cache_mixture");
}

/// Stale reads behind read replicas: Σ pₖ (1 − e^(−λ pₖ L)).
#[test]
fn stale_reads_behind_read_replicas() {
    assert_all_pass("derived_stale_reads");
}

/// Each stripe of a randomly striped lock is an M/D/1 queue.
#[test]
fn striped_lock_stripes_are_md1() {
    assert_all_pass("derived_striped_lock");
}
