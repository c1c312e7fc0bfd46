//! What the CLI's integration tests share: running the binary from the
//! repository's root, and scratch folders.
#![allow(dead_code)] // each test file uses a part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's root, where the bundled scenarios are.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The binary with `args`, run from the root, without colours.
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chokepoint"));
    c.args(args).current_dir(root()).env("NO_COLOR", "1");
    c
}

/// Runs the binary with `args` and collects its output.
pub fn chokepoint(args: &[&str]) -> Output {
    command(args).output().expect("the binary runs")
}

/// A fresh temporary folder for one test.
pub fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chokepoint-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A sweep folder's `points.jsonl` and `points.csv`.
pub fn files(dir: &Path) -> (String, String) {
    (
        std::fs::read_to_string(dir.join("points.jsonl")).unwrap(),
        std::fs::read_to_string(dir.join("points.csv")).unwrap(),
    )
}
