//! The fuzz targets' checks on inputs drawn from pinned seeds, in the
//! normal test suite: random scenarios of every kind of service load and
//! run with every sample-path law holding.

use arbitrary::Unstructured;
use chokepoint_fuzzing::{Ran, check_loader, check_run, scenario};

/// Bytes from a fixed generator (SplitMix64), as a fuzzer would give.
fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

/// 300 random scenarios: every one loads or fails cleanly, those that load
/// run with every law holding, and most load (else the generator would
/// test the loader's errors more than the engine).
#[test]
fn random_scenarios_run_and_keep_the_laws() {
    let (mut checked, mut invalid) = (0, Vec::new());
    // The newer mechanisms are among those run, not only written.
    let (mut autoscaled, mut populations, mut sharded, mut scattered) = (0, 0, 0, 0);
    for seed in 0..300 {
        let data = bytes(seed, 512);
        let text = scenario(&mut Unstructured::new(&data)).unwrap();
        check_loader(&text).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        match check_run(&text).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}")) {
            Ran::Checked => {
                checked += 1;
                autoscaled += usize::from(text.contains("autoscale ="));
                populations += usize::from(text.contains("population = {"));
                sharded += usize::from(text.contains("shards = {"));
                scattered += usize::from(text.contains("scope = "));
            }
            Ran::Invalid => invalid.push(seed),
        }
    }
    assert!(
        checked >= 240,
        "{checked} of 300 loaded; invalid: {invalid:?}"
    );
    assert!(
        autoscaled >= 10 && populations >= 10 && sharded >= 10 && scattered >= 5,
        "{autoscaled} autoscaled, {populations} with a population profile, {sharded} sharded, {scattered} scattering"
    );
}

/// Prints the scenario of seed `SEED` (an environment variable), to keep
/// a failing one as a regression: `SEED=25 cargo test -p chokepoint-fuzzing
/// --test generated print_one -- --ignored --nocapture`.
#[test]
#[ignore = "a tool, not a check"]
fn print_one() {
    let seed: u64 = std::env::var("SEED").map_or(0, |s| s.parse().unwrap());
    let data = bytes(seed, 512);
    println!("{}", scenario(&mut Unstructured::new(&data)).unwrap());
}
