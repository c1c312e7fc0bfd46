//! Every analytic case this release can express, simulated and compared with
//! theory (see the crate documentation for the criterion). One test per case
//! family, so that a failure names the mechanism at fault.

use chokepoint_validation::{Check, run_checks};

fn assert_all_pass(filter: &str) {
    let checks: Vec<Check> = run_checks(Some(filter));
    assert!(!checks.is_empty(), "no check matched {filter}");
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.passed())
        .map(|c| {
            format!(
                "{} [{}] {}: theory {} vs simulated {} (99.9% band ±{})",
                c.case, c.row, c.quantity, c.theory, c.simulated, c.band
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
