//! Writes the validation table: `cargo run --release -p chokepoint-validation
//! --bin validation-report -- docs/validation.md`. Exits 1 if a check fails.

use std::process::ExitCode;

fn main() -> ExitCode {
    let out = std::env::args().nth(1);
    let command = "cargo run --release -p chokepoint-validation --bin validation-report -- docs/validation.md";
    let checks = chokepoint_validation::run_checks(None);
    let text = chokepoint_validation::markdown(&checks, command);
    match out {
        Some(path) => {
            if let Err(e) = std::fs::write(&path, &text) {
                eprintln!("error: cannot write {path}: {e}");
                return ExitCode::from(1);
            }
        }
        None => print!("{text}"),
    }
    let failed = chokepoint_validation::failures(&checks).len();
    eprintln!("{} checks, {failed} failed", checks.len());
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
