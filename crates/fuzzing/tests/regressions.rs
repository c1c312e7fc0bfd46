//! Every input the fuzz targets found a problem with, kept and replayed:
//! `tests/regressions/loader/*` are texts for the loader, and
//! `tests/regressions/engine/*` scenarios for a checked run (the text the
//! engine target's panic prints). See docs/testing.md.

use std::path::Path;

use chokepoint_fuzzing::{Ran, check_loader, check_run};

fn inputs(kind: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/regressions")
        .join(kind);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| !path.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn loader_regressions() {
    let files = inputs("loader");
    assert!(!files.is_empty());
    for (name, data) in files {
        // libFuzzer's inputs may not be UTF-8; the target skips those.
        if let Ok(text) = std::str::from_utf8(&data) {
            check_loader(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[test]
fn engine_regressions() {
    for (name, data) in inputs("engine") {
        let text = String::from_utf8(data).unwrap();
        check_loader(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ran = check_run(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ran, Ran::Checked, "{name} no longer loads");
    }
}
