//! The workspace's architecture invariants, checked on its source (as
//! rust-analyzer's tidy tests do), so that they hold after every change:
//!
//! - no import circle between the modules of a crate: the modules under one
//!   parent form a graph without cycles (a child may use what its ancestors
//!   define, as an `impl` spread over files does);
//! - the engine does no I/O: `chokepoint-core` touches no file, clock or
//!   terminal, and depends on none of serde, toml, rayon, clap or plotters.
//!
//! See docs/ARCHITECTURE.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A file's module path within its crate (`engine::flow`; `lib.rs` and
/// `main.rs` are the root, `mod.rs` its folder).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The text without comments (line comments are enough here: the code
/// uses no block comments).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand(path: &str) -> Vec<String> {
    let Some(open) = path.find('{') else {
        return vec![path.to_owned()];
    };
    let close = {
        let mut depth = 0;
        let mut at = path.len();
        for (i, c) in path.char_indices().skip(open) {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        at = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        at
    };
    let prefix = &path[..open];
    let inner = &path[open + 1..close.min(path.len())];
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in inner.chars() {
        match c {
            ',' if depth == 0 => parts.push(std::mem::take(&mut current)),
            '{' => {
                depth += 1;
                current.push(c);
            }
            '}' => {
                depth -= 1;
                current.push(c);
            }
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{prefix}{p}")))
        .collect()
}

/// The module paths a file refers to through `crate::` and `super::`.
fn references(module: &[String], text: &str) -> Vec<Vec<String>> {
    let text = code(text);
    let mut paths: Vec<String> = Vec::new();
    // `use` items, possibly over several lines, with braces.
    let mut rest = text.as_str();
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let end = rest.find(';').unwrap_or(rest.len());
        let item: String = rest[..end].chars().filter(|c| !c.is_whitespace()).collect();
        paths.extend(expand(&item));
        rest = &rest[end..];
    }
    // Paths written in place: `crate::a::b`, `super::a`.
    for start in ["crate::", "super::"] {
        let mut rest = text.as_str();
        while let Some(at) = rest.find(start) {
            let before = rest[..at].chars().last();
            let tail = &rest[at..];
            let len = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                paths.push(tail[..len].to_owned());
            }
            rest = &rest[at + start.len()..];
        }
    }
    paths
        .into_iter()
        .filter_map(|p| {
            let mut parts: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
            let mut base: Vec<String> = match parts.first() {
                Some(&"crate") => {
                    parts.remove(0);
                    Vec::new()
                }
                Some(&"super") => {
                    let mut base = module.to_vec();
                    while parts.first() == Some(&"super") {
                        parts.remove(0);
                        base.pop();
                    }
                    base
                }
                _ => return None,
            };
            base.extend(parts.iter().map(|s| s.to_string()));
            Some(base)
        })
        .collect()
}

/// The cycles among sibling modules of one crate, as lists of modules.
fn cycles(src: &Path) -> Vec<Vec<String>> {
    let files = sources(src);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|f| (module_of(src, f), f.clone()))
        .collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).expect("a readable source file");
        for target in references(module, &text) {
            // The longest prefix that is a module of the crate.
            let Some(target) = (0..=target.len())
                .rev()
                .map(|k| target[..k].to_vec())
                .find(|t| modules.contains_key(t))
            else {
                continue;
            };
            // The edge between the first modules that differ, under their
            // common parent; none between a module and its ancestors.
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common == module.len() || common == target.len() {
                continue;
            }
            edges
                .entry(module[..=common].to_vec())
                .or_default()
                .insert(target[..=common].to_vec());
        }
    }
    // Tarjan's strongly connected components.
    struct State<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<Vec<String>, usize>,
        low: BTreeMap<Vec<String>, usize>,
        stack: Vec<Vec<String>>,
        on: BTreeSet<Vec<String>>,
        found: Vec<Vec<String>>,
    }
    fn visit(s: &mut State<'_>, v: &Vec<String>) {
        let i = s.index.len();
        s.index.insert(v.clone(), i);
        s.low.insert(v.clone(), i);
        s.stack.push(v.clone());
        s.on.insert(v.clone());
        let next: Vec<Vec<String>> = s.edges.get(v).into_iter().flatten().cloned().collect();
        for w in next {
            if !s.index.contains_key(&w) {
                visit(s, &w);
                let low = s.low[v].min(s.low[&w]);
                s.low.insert(v.clone(), low);
            } else if s.on.contains(&w) {
                let low = s.low[v].min(s.index[&w]);
                s.low.insert(v.clone(), low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(&w);
                let done = &w == v;
                component.push(w.join("::"));
                if done {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        edges: &edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        found: Vec::new(),
    };
    let nodes: BTreeSet<Vec<String>> = edges
        .iter()
        .flat_map(|(k, v)| std::iter::once(k.clone()).chain(v.iter().cloned()))
        .collect();
    for v in &nodes {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.found
}

fn crates() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(workspace().join("crates"))
        .expect("the crates folder")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.join("src").is_dir())
        .collect();
    out.sort();
    out
}

#[test]
fn no_import_circles() {
    let mut found = Vec::new();
    for krate in crates() {
        for cycle in cycles(&krate.join("src")) {
            found.push(format!("{}: {}", krate.display(), cycle.join(" <-> ")));
        }
    }
    assert!(
        found.is_empty(),
        "modules that import one another: {found:#?}"
    );
}

/// The checker itself finds a circle where there is one.
#[test]
fn a_circle_is_found() {
    let dir = std::env::temp_dir().join(format!("chokepoint-tidy-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("engine")).unwrap();
    let files = [
        ("lib.rs", "mod a;\nmod b;\nmod engine;\n"),
        ("a.rs", "use crate::b::Thing;\n"),
        ("b.rs", "pub struct Thing;\nfn f() { crate::a::g(); }\n"),
        ("engine/mod.rs", "mod flow;\npub struct Engine;\n"),
        // A child using its parent's type is no circle.
        ("engine/flow.rs", "use super::Engine;\n"),
    ];
    for (name, text) in files {
        std::fs::write(src.join(name), text).unwrap();
    }
    let found = cycles(&src);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found, vec![vec!["a".to_owned(), "b".to_owned()]]);
}

#[test]
fn the_engine_does_no_io() {
    let core = workspace().join("crates/core");
    for file in sources(&core.join("src")) {
        let text = code(&std::fs::read_to_string(&file).unwrap());
        for banned in [
            "std::fs",
            "std::io",
            "std::time",
            "std::net",
            "std::process",
            "std::env",
            "println!",
            "eprintln!",
            "print!(",
            "thread_rng",
            "rand::random",
        ] {
            assert!(
                !text.contains(banned),
                "{} uses {banned}: the engine touches no file, clock or terminal",
                file.display()
            );
        }
    }
    let manifest = std::fs::read_to_string(core.join("Cargo.toml")).unwrap();
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .unwrap_or("");
    for banned in ["serde", "toml", "rayon", "clap", "plotters"] {
        assert!(
            !dependencies.contains(banned),
            "chokepoint-core depends on {banned}"
        );
    }
}
