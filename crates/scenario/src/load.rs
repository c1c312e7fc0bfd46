//! From TOML text to a [`Scenario`], in phases, reporting every problem at
//! once.
//!
//! The document is parsed into toml's spanned tree (`DeTable`), so every key
//! and value keeps its byte range, and overrides (a sweep point's values)
//! are applied to that tree. Then:
//!
//! 1. **read** (`read/`): a walker reads each table against the schema,
//!    one reader per table kind; names stay names;
//! 2. **resolve** (`resolve.rs`): names become [`ServiceId`]s, with checks
//!    that depend on the kind a name refers to;
//! 3. **lower** (`lower/`): a builder turns services into stations,
//!    recording each station's [`Origin`] and each service's
//!    [`ServiceLayout`];
//! 4. **check** (`check.rs`): the model as a whole (reachability, loops,
//!    overload).
//!
//! A phase runs only when those before it found no error, so that a
//! misspelt `work` does not also show as "no work". Only a document without
//! errors becomes a [`Scenario`].

use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;

use chokepoint_core::model::{Class, Topology};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::layout::{Origin, ServiceId, ServiceLayout};
use crate::read::{Document, Simulation, Walker};
use crate::spec::{Override, Point, Slo, SweepSpec};

/// A validated scenario, ready to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The scenario's `name`, if it has one (callers may fall back on the file name).
    pub name: Option<String>,
    /// How to run it.
    pub simulation: Simulation,
    /// What to run.
    pub topology: Topology,
    /// The `[sweep]` table: points to run, as overrides of this scenario.
    pub sweep: Option<SweepSpec>,
    /// The `[slo]` table: the objectives each point is judged against.
    pub slo: Option<Slo>,
    /// What each service became, in file order (indexed by [`ServiceId`]).
    pub services: Vec<ServiceLayout>,
    /// Where each station of the topology came from, by station.
    pub origins: Vec<Origin>,
    /// How the report names each of the topology's faults, in order:
    /// `crash api[0]`, `slow db`.
    pub faults: Vec<String>,
}

impl Scenario {
    /// The users of its closed classes, in all: each may have a request in
    /// the system at once, so a run must be allowed to hold more.
    pub fn closed_users(&self) -> u64 {
        closed_users(&self.topology)
    }
}

fn closed_users(topology: &Topology) -> u64 {
    topology
        .classes
        .iter()
        .map(|c| match c.load {
            chokepoint_core::model::Load::Closed { population, .. } => u64::from(population),
            chokepoint_core::model::Load::Open { .. } => 0,
        })
        .sum()
}

/// The outcome of loading: a scenario when there is no error, and every
/// diagnostic (errors and warnings) in the order of the file.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The scenario, present if and only if no diagnostic is an error.
    pub scenario: Option<Scenario>,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses and validates a scenario.
pub fn load(source: &str) -> Loaded {
    load_with(source, &[])
}

/// Parses a scenario, applies `overrides`, then validates it. Errors in an
/// overridden value point at the key it replaced. Files it names (a rate
/// `trace`) are relative to the current directory: see [`load_in`].
pub fn load_with(source: &str, overrides: &[Override]) -> Loaded {
    load_in(source, None, overrides)
}

/// [`load_with`] for a scenario read from a file in `dir`, which the files
/// it names (a rate `trace`) are relative to.
pub fn load_in(source: &str, dir: Option<&Path>, overrides: &[Override]) -> Loaded {
    let (document, syntax_errors) = DeTable::parse_recoverable(source);
    let mut walker = Walker {
        src: source,
        dir,
        diags: Vec::new(),
        read: Default::default(),
    };
    if !syntax_errors.is_empty() {
        for e in syntax_errors {
            let message = e.message().trim().to_string();
            walker.diags.push(
                Diagnostic::error(format!("TOML syntax: {message}"), e.span()).with_label("here"),
            );
        }
        return finish(walker.diags, None);
    }
    let mut document = document.into_inner();
    // Override values are parsed from their own strings; keep them alive.
    let override_texts: Vec<String> = overrides.iter().map(|o| o.value.clone()).collect();
    for (o, text) in overrides.iter().zip(&override_texts) {
        if let Err(mistake) = apply_override(&mut document, &o.path, text, o.at.clone()) {
            let (message, at) = match mistake {
                Mistake::Value(m) => (m, o.at.clone()),
                Mistake::Path(m) => (m, o.path_at.clone().or(o.at.clone())),
            };
            walker.diags.push(Diagnostic::error(
                format!("override `{}`: {message}", o.path),
                at,
            ));
        }
    }
    let doc = walker.document(&document);
    walker.check_fault_names(&doc);
    let mut diags = walker.diags;
    let (entries, links) = crate::resolve::resolve(&doc, &walker.read, &mut diags);
    let scenario = if diags.iter().any(Diagnostic::is_error) {
        None
    } else {
        compile(&doc, entries, links, &mut diags)
    };
    finish(diags, scenario)
}

/// Lowers and checks a document that was read and resolved without error.
fn compile(
    doc: &Document,
    entries: Vec<Option<ServiceId>>,
    links: Vec<Option<crate::resolve::Links>>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Scenario> {
    let classes: Vec<Class> = doc
        .classes
        .iter()
        .zip(entries)
        .map(|(c, entry)| {
            let def = c.def.clone()?;
            Some(Class {
                name: c.name.clone(),
                load: def.load,
                entry: crate::lower::Builder::entry(entry?),
                priority: def.priority,
                deadline: def.deadline,
                rate_limit: def.rate_limit,
            })
        })
        .collect::<Option<_>>()?;
    let links: Vec<crate::resolve::Links> = links.into_iter().collect::<Option<_>>()?;
    let mut lowered = crate::lower::lower(doc, classes, &links);
    lowered.topology.faults = crate::lower::faults::faults(doc, &lowered, diags);
    let class_spans: Vec<Range<usize>> = doc.classes.iter().map(|c| c.key_span.clone()).collect();
    let run_for = doc
        .simulation
        .as_ref()
        .map(|sim| (sim.warmup.0 + sim.duration.0) as f64);
    crate::check::check(&lowered, &class_spans, run_for, diags);
    // A closed system never grows without bound: its users must fit.
    let users = closed_users(&lowered.topology);
    if let Some(sim) = &doc.simulation
        && users >= sim.max_in_system
    {
        let at = lowered
            .topology
            .classes
            .iter()
            .position(|c| matches!(c.load, chokepoint_core::model::Load::Closed { .. }))
            .map(|i| class_spans[i].clone());
        diags.push(
            Diagnostic::error(
                format!(
                    "the closed classes have {users} users in all, and a run holds at most max_in_system = {} requests",
                    sim.max_in_system
                ),
                at,
            )
            .with_help("raise [simulation] max_in_system above the users (each holds about 90 bytes when in the system)"),
        );
    }
    Some(Scenario {
        name: doc.name.clone()?,
        simulation: doc.simulation.clone()?,
        topology: lowered.topology,
        sweep: doc.sweep.clone()?,
        slo: doc.slo.clone()?,
        services: lowered.layouts,
        origins: lowered.origins,
        faults: doc
            .faults
            .iter()
            .flatten()
            .map(crate::read::faults::FaultDef::label)
            .collect(),
    })
}

/// Sorts the diagnostics into the file's order (by position, errors before
/// warnings at the same place); the scenario survives only without errors.
fn finish(mut diags: Vec<Diagnostic>, scenario: Option<Scenario>) -> Loaded {
    diags.sort_by_key(|d| {
        (
            d.span.as_ref().map_or(usize::MAX, |s| s.start),
            std::cmp::Reverse(d.severity),
        )
    });
    let has_error = diags.iter().any(Diagnostic::is_error);
    Loaded {
        scenario: if has_error { None } else { scenario },
        diagnostics: diags,
    }
}

/// What is wrong with an override: its value or its path.
enum Mistake {
    Value(String),
    Path(String),
}

fn apply_override<'i>(
    document: &mut DeTable<'i>,
    path: &str,
    text: &'i str,
    at: Option<Range<usize>>,
) -> Result<(), Mistake> {
    let value = DeValue::parse(text)
        .map_err(|e| Mistake::Value(format!("`{text}` is not a TOML value: {}", e.message())))?;
    let keys: Vec<&str> = path.split('.').collect();
    let Some((last, parents)) = keys
        .split_last()
        .filter(|_| keys.iter().all(|k| !k.is_empty()))
    else {
        return Err(Mistake::Path(format!(
            "`{path}` is not a dotted path such as `services.api.servers`"
        )));
    };
    // A service or a class is declared in the file, never by an override: a
    // new one there is a typo, which would otherwise surface as a strange
    // service with no kind.
    if let [section @ ("services" | "load"), name, ..] = keys.as_slice()
        && !document
            .get(*section)
            .and_then(|v| v.get_ref().as_table())
            .is_some_and(|t| t.contains_key(*name))
    {
        let what = if *section == "services" {
            "service"
        } else {
            "class"
        };
        let known: Vec<String> = document
            .get(*section)
            .and_then(|v| v.get_ref().as_table())
            .map(|t| t.iter().map(|(k, _)| k.get_ref().to_string()).collect())
            .unwrap_or_default();
        let hint = match did_you_mean(name, known.iter().map(String::as_str)) {
            Some(s) => format!("; did you mean `{s}`?"),
            None if known.is_empty() => String::new(),
            None => format!(" (the {what}s are: {})", known.join(", ")),
        };
        return Err(Mistake::Path(format!("there is no {what} `{name}`{hint}")));
    }
    let mut table = document;
    let mut span = at.clone().unwrap_or(0..0);
    for key in parents {
        if !table.contains_key(*key) {
            table.insert(
                Spanned::new(span.clone(), Cow::Owned(key.to_string())),
                Spanned::new(span.clone(), DeValue::Table(DeTable::default())),
            );
        }
        let entry = table.get_mut(*key).expect("inserted above");
        if at.is_none() {
            span = entry.span();
        }
        table = match entry.get_mut() {
            DeValue::Table(t) => t,
            _ => return Err(Mistake::Path(format!("`{key}` is not a table"))),
        };
    }
    // Point errors in the new value at the override's own text when it has
    // one, else at the key it replaces, if it existed.
    let span = at
        .clone()
        .unwrap_or_else(|| table.get(*last).map_or(span, Spanned::span));
    let key_span = at.unwrap_or_else(|| {
        table
            .get_key_value(*last)
            .map_or(span.clone(), |(k, _)| k.span())
    });
    table.remove(*last);
    table.insert(
        Spanned::new(key_span, Cow::Owned(last.to_string())),
        Spanned::new(span, value.into_inner()),
    );
    Ok(())
}

/// Loads every point of a sweep. Diagnostics located in the file point at
/// the sweep value that caused them when the override created or replaced
/// the value; [`sweep_diagnostics`] names the points each concerns.
/// `dir` is the scenario's folder, as for [`load_in`].
pub fn load_points(source: &str, dir: Option<&Path>, spec: &SweepSpec) -> Vec<(Point, Loaded)> {
    spec.points()
        .into_iter()
        .map(|point| {
            let loaded = load_in(source, dir, &point.overrides);
            (point, loaded)
        })
        .collect()
}

/// The diagnostics of a sweep's points, each once: a mistake every point
/// shares (a typo in `[sweep]`) is one diagnostic naming the points it
/// concerns, not one per point. In the order of the file.
pub fn sweep_diagnostics(points: &[(Point, Loaded)]) -> Vec<Diagnostic> {
    // (the diagnostic as one point gives it, the points that give it)
    let mut merged: Vec<(&Diagnostic, Vec<&Point>)> = Vec::new();
    for (point, loaded) in points {
        for d in &loaded.diagnostics {
            match merged.iter_mut().find(|(m, _)| *m == d) {
                Some((_, at)) => at.push(point),
                None => merged.push((d, vec![point])),
            }
        }
    }
    let total = points.len();
    let out: Vec<Diagnostic> = merged
        .into_iter()
        .map(|(d, at)| {
            let which = match at.as_slice() {
                [p] => format!("sweep point {} ({})", p.index, p.label()),
                all if all.len() == total => format!("every sweep point ({total})"),
                some => {
                    let mut indices: Vec<String> =
                        some.iter().take(8).map(|p| p.index.to_string()).collect();
                    if some.len() > 8 {
                        indices.push("…".into());
                    }
                    format!(
                        "{} of {total} sweep points ({})",
                        some.len(),
                        indices.join(", ")
                    )
                }
            };
            Diagnostic {
                message: format!("{which}: {}", d.message),
                ..d.clone()
            }
        })
        .collect();
    finish(out, None).diagnostics
}
