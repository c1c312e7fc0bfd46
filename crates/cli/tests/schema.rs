//! `chokepoint schema`: the JSON Schema editors complete scenarios from.
//! It accepts every bundled scenario and refuses a misspelt key anywhere,
//! as the loader does; the copy in docs is the command's output.

mod common;
use common::*;

use std::path::{Path, PathBuf};

fn schema() -> serde_json::Value {
    let out = chokepoint(&["schema"]);
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("the schema is JSON")
}

/// A scenario's TOML as the JSON value a schema validator reads.
fn as_json(text: &str) -> serde_json::Value {
    let table: toml::Table = toml::from_str(text).expect("valid TOML");
    serde_json::to_value(table).unwrap()
}

/// Every `.toml` under `dir`, recursively.
fn tomls(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            tomls(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

#[test]
fn the_schema_accepts_every_bundled_scenario_and_refuses_misspelt_keys() {
    let schema = schema();
    let validator = jsonschema::draft4::new(&schema).expect("a valid draft-4 schema");
    let mut files = Vec::new();
    tomls(&root().join("scenarios"), &mut files);
    tomls(&root().join("benches"), &mut files);
    let mut checked = 0;
    let mut refused = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let invalid = file.components().any(|c| c.as_os_str() == "invalid");
        if invalid {
            continue;
        }
        let errors: Vec<String> = validator
            .iter_errors(&as_json(&text))
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            refused.push(format!("{}: {errors:?}", file.display()));
        }
        checked += 1;
    }
    assert!(refused.is_empty(), "{}", refused.join("\n"));
    assert!(checked > 60, "only {checked} scenarios found");
    // A misspelt key, at each level the loader checks, is refused: the
    // loader refuses each too (`check` exits 2).
    for (file, right, wrong) in [
        (
            "request_path/db_pool.toml",
            "[simulation]\nduration",
            "[simulation]\nduraton",
        ),
        ("request_path/db_pool.toml", "\n[slo]", "\n[sloo]"),
        ("request_path/db_pool.toml", "workers = ", "worker = "),
        ("request_path/db_pool.toml", "rate = ", "rte = "),
        ("resilience/retry_storm.toml", "timeout = ", "timout = "),
        ("resilience/retry_storm.toml", "attempts = ", "attempt = "),
        ("data/connection_pool.toml", "size = ", "sise = "),
    ] {
        let base = std::fs::read_to_string(root().join("scenarios").join(file)).unwrap();
        assert!(base.contains(right), "{file} has no {right:?}");
        let text = base.replacen(right, wrong, 1);
        assert!(
            !validator.is_valid(&as_json(&text)),
            "{file}: {wrong:?} passed the schema"
        );
        let dir = temp("schema");
        let misspelt = dir.join("misspelt.toml");
        std::fs::write(&misspelt, &text).unwrap();
        let check = chokepoint(&["check", misspelt.to_str().unwrap()]);
        assert_eq!(
            check.status.code(),
            Some(2),
            "{file}: {wrong:?} passed the loader"
        );
    }
    // The bundled file with misspelt keys is refused too.
    let typos = std::fs::read_to_string(root().join("scenarios/invalid/typos.toml")).unwrap();
    assert!(!validator.is_valid(&as_json(&typos)));
}

/// `docs/scenario.schema.json` is what `chokepoint schema` prints, so the
/// `#:schema` line in the docs points at the current format.
#[test]
fn the_schema_in_docs_is_current() {
    let out = chokepoint(&["schema"]);
    let path = root().join("docs/scenario.schema.json");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &out.stdout).unwrap();
    }
    let docs = std::fs::read(&path).unwrap_or_default();
    assert!(
        docs == out.stdout,
        "docs/scenario.schema.json is not current: run `chokepoint schema > docs/scenario.schema.json`"
    );
}
