//! `chokepoint diagnose FILE`: the capacity table's bottleneck, the load at
//! which the simulation saturates and the highest that meets the SLO
//! (bisection on the open classes' rates, same seeds), and the changes that
//! could move the limit, each re-simulated. The search is
//! `chokepoint_study::diagnose`; this is the glue that picks the changes
//! and prints.

use std::fmt::Write as _;

use anyhow::Context as _;
use std::path::PathBuf;

use chokepoint_report::capacity;
use chokepoint_study::Study;
use chokepoint_study::diagnose::{Limits, actions, limits, open_rate, probe};

use crate::input::{load, pool};

#[derive(clap::Args, Debug)]
pub(crate) struct DiagnoseArgs {
    /// The scenario file (TOML).
    file: PathBuf,
    /// Scale only this class's rate (default: every open class together).
    #[arg(long)]
    class: Option<String>,
    /// A 99th percentile target, such as "200ms" (default: the scenario's `[slo]`).
    #[arg(long)]
    p99: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiagnoseFormat::Table)]
    format: DiagnoseFormat,
    /// Also write diagnose.txt, diagnose.json and the charts of p99 and
    /// throughput against the load into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads for replications (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<u32>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum DiagnoseFormat {
    Table,
    Json,
}

pub(crate) fn diagnose(args: &DiagnoseArgs) -> anyhow::Result<()> {
    let loaded = load(&args.file)?;
    let study = &loaded.study;
    let class = args.class.as_deref();
    let classes = &study.scenario.topology.classes;
    if let Some(name) = class {
        match classes.iter().find(|c| c.name == name) {
            None => anyhow::bail!(crate::input::BadInput(format!(
                "no class `{name}` in {}; its classes: {}",
                loaded.shown,
                classes
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            Some(c) if matches!(c.load, chokepoint_core::model::Load::Closed { .. }) => {
                anyhow::bail!(crate::input::BadInput(format!(
                    "class `{name}` is closed (a fixed population): diagnose ramps an open class's rate; `chokepoint check` gives a closed class's bounds"
                )))
            }
            Some(_) => {}
        }
    }
    let slo = match &args.p99 {
        Some(text) => {
            let seconds = chokepoint_scenario::units::parse_duration(text)
                .map_err(|e| crate::input::BadInput(format!("--p99 {text}: {}", e.message)))?;
            if seconds <= 0.0 {
                anyhow::bail!(crate::input::BadInput(format!(
                    "--p99 {text}: a target must be positive"
                )));
            }
            Some(chokepoint_scenario::Slo {
                p99: Some(seconds),
                ..study.scenario.slo.clone().unwrap_or_default()
            })
        }
        None => None,
    };
    let rate = open_rate(study, class);
    if rate <= 0.0 {
        anyhow::bail!(crate::input::BadInput(format!(
            "{} has no open class to scale: diagnose ramps an open load",
            loaded.shown
        )));
    }
    let (_, table) = capacity(&study.scenario);
    let guess = table.first().map_or(1.0, |r| r.saturates_at / rate);
    let watch = Default::default();
    let threads = pool(args.threads)?;
    let found = threads.install(|| limits(study, class, guess, slo.as_ref(), &watch))?;
    // The changes that could move the limit, and the scenario as it is.
    let base = found.saturation.1.unwrap_or(found.saturation.0);
    let mut changes = Vec::new();
    let actions = actions(study);
    if !actions.is_empty() {
        let now = threads.install(|| probe(study, class, 1.0, None, &watch))?;
        changes.push(Change {
            label: "(as it is)".into(),
            limit: base * rate,
            ratio: 1.0,
            p99: now.p99,
            cost: now.cost,
            next: found.busiest().map(|b| b.0),
        });
        for action in actions {
            let changed =
                chokepoint_scenario::load_in(&loaded.source, Some(&loaded.dir), &action.overrides);
            let Some(scenario) = changed.scenario else {
                continue;
            };
            let variant = Study::new(study.name.clone(), scenario, Vec::new());
            let (moved, at_load) = threads.install(|| -> Result<_, chokepoint_study::Failed> {
                let l = limits(&variant, class, guess, None, &watch)?;
                let p = probe(&variant, class, 1.0, None, &watch)?;
                Ok((l, p))
            })?;
            let limit = moved.saturation.1.unwrap_or(moved.saturation.0);
            changes.push(Change {
                label: action.label,
                limit: limit * rate,
                ratio: limit / base,
                p99: at_load.p99,
                cost: at_load.cost,
                next: moved.busiest().map(|b| b.0),
            });
        }
    }
    let text = render(study, class, rate, &table, &found, &changes);
    let json = serde_json::to_string_pretty(&to_json(
        study,
        class,
        rate,
        &table,
        &found,
        &changes,
        slo.as_ref(),
    ))
    .expect("plain values serialize");
    match args.format {
        DiagnoseFormat::Table => print!("{text}"),
        DiagnoseFormat::Json => println!("{json}"),
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, content) in [("diagnose.txt", &text), ("diagnose.json", &json)] {
            let path = dir.join(name);
            std::fs::write(&path, content)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let target = slo
            .as_ref()
            .or(study.scenario.slo.as_ref())
            .and_then(|s| s.p99);
        let mut probes: Vec<_> = found.probes.iter().collect();
        probes.sort_by(|a, b| a.scale.total_cmp(&b.scale));
        let points: Vec<(f64, Option<f64>, f64)> = probes
            .iter()
            .map(|p| (p.scale * rate, p.p99, p.throughput))
            .collect();
        let bracket = found
            .saturation
            .1
            .map(|hi| (found.saturation.0 * rate, hi * rate));
        for (stem, chart) in chokepoint_report::plot::load_charts(&points, bracket, target) {
            chokepoint_report::plot::write(&chart, &dir.join(stem))
                .map_err(|e| anyhow::anyhow!(e))?;
        }
    }
    Ok(())
}

/// One change tried: its limit (requests per second), as a multiple of
/// the scenario's, its p99 at the scenario's load and its cost per hour.
struct Change {
    label: String,
    limit: f64,
    ratio: f64,
    p99: Option<f64>,
    cost: Option<f64>,
    /// What is busiest where it saturates then.
    next: Option<String>,
}

/// Whether a change moved the limit: beyond 3% of the scenario's.
fn moved(ratio: f64) -> bool {
    (ratio - 1.0).abs() >= 0.03
}

/// The diagnosis as text.
fn render(
    study: &Study,
    class: Option<&str>,
    rate: f64,
    table: &[chokepoint_report::capacity::CapacityRow],
    found: &Limits,
    changes: &[Change],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} offered ({}), every probe on the same seeds",
        study.name,
        per_second(rate),
        class.map_or("every open class scaled together".to_owned(), |c| format!(
            "class {c} scaled alone"
        ))
    );
    if let Some(top) = table.first() {
        let _ = writeln!(
            out,
            "capacity table: {} {} saturates first, at {}{} (utilisation {}%)",
            top.service,
            top.what,
            if top.slots { "≤" } else { "" },
            per_second(top.saturates_at),
            sig(100.0 * top.utilization)
        );
    }
    describe(&mut out, found);
    if !changes.is_empty() {
        let _ = writeln!(out, "\nchanges, each re-simulated with the same seeds:");
    }
    for (i, c) in changes.iter().enumerate() {
        let effect = match i {
            0 => String::new(),
            _ if !moved(c.ratio) => "no effect".to_owned(),
            _ => format!("×{}", sig(c.ratio)),
        };
        let _ = writeln!(
            out,
            "  {:<44} saturates at {:>10}  {:<10} p99 at the scenario's load {:>10}{}{}",
            c.label,
            per_second(c.limit),
            effect,
            c.p99.map_or("-".to_owned(), seconds),
            c.cost.map_or(String::new(), |c| format!("  ${}/h", sig(c))),
            c.next
                .as_ref()
                .map_or(String::new(), |n| format!("  (then limited by {n})")),
        );
    }
    out
}

/// The diagnosis as JSON (documented in docs/diagnose.md).
fn to_json(
    study: &Study,
    class: Option<&str>,
    rate: f64,
    table: &[chokepoint_report::capacity::CapacityRow],
    found: &Limits,
    changes: &[Change],
    slo: Option<&chokepoint_scenario::Slo>,
) -> serde_json::Value {
    use serde_json::json;
    let bracket =
        |(lo, hi): (f64, Option<f64>)| json!({ "from": lo * rate, "to": hi.map(|h| h * rate) });
    json!({
        "scenario": study.name,
        "offered": rate,
        "class": class,
        "capacity": table.iter().map(|r| json!({
            "service": r.service,
            "resource": r.what,
            "units": r.units,
            "per_request": r.per_request,
            "utilization": r.utilization,
            "saturates_at": r.saturates_at,
            "lower_bound": r.slots,
        })).collect::<Vec<_>>(),
        "saturation": bracket(found.saturation),
        "slo": found.slo.map(bracket),
        "slo_p99": slo.or(study.scenario.slo.as_ref()).and_then(|s| s.p99),
        "probes": found.probes.iter().map(|p| json!({
            "offered": p.scale * rate,
            "throughput": p.throughput,
            "saturated": p.saturated,
            "meets_slo": p.meets,
            "p99": p.p99,
            "busiest": p.busiest.as_ref().map(|(what, u)| json!({ "resource": what, "utilization": u })),
        })).collect::<Vec<_>>(),
        "changes": changes.iter().skip(1).map(|c| json!({
            "change": c.label,
            "saturates_at": c.limit,
            "ratio": c.ratio,
            "moves_the_limit": moved(c.ratio),
            "p99": c.p99,
            "cost_per_hour": c.cost,
            "limited_by": c.next,
        })).collect::<Vec<_>>(),
        "as_it_is": changes.first().map(|c| json!({ "p99": c.p99, "cost_per_hour": c.cost, "limited_by": c.next })),
    })
}

/// The probes' findings, in words.
fn describe(out: &mut String, found: &Limits) {
    let rate = found.rate;
    match found.saturation {
        (lo, Some(hi)) => {
            let busiest = found.busiest();
            let _ = writeln!(
                out,
                "simulated: saturates between {} and {}{}",
                per_second(lo * rate),
                per_second(hi * rate),
                busiest.map_or(String::new(), |(s, u)| format!(
                    " (busiest there: {s}, {}% used)",
                    sig(100.0 * u)
                ))
            );
        }
        (lo, None) => {
            let _ = writeln!(
                out,
                "simulated: no saturation up to {}",
                per_second(lo * rate)
            );
        }
    }
    match found.slo {
        Some((lo, Some(_))) if lo > 0.0 => {
            let _ = writeln!(out, "meets the SLO up to about {}", per_second(lo * rate));
        }
        Some((_, Some(hi))) => {
            let _ = writeln!(
                out,
                "misses the SLO at every load probed, down to {}: no load meets it (a dependency or the work itself is too slow)",
                per_second(hi * rate)
            );
        }
        Some((lo, None)) => {
            let _ = writeln!(
                out,
                "meets the SLO up to at least {}",
                per_second(lo * rate)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "(no [slo] in the scenario: --p99 200ms, say, finds the highest load that meets one)"
            );
        }
    }
}

fn per_second(x: f64) -> String {
    format!("{}/s", sig(x))
}

fn seconds(x: f64) -> String {
    if x < 1.0 {
        format!("{} ms", sig(x * 1e3))
    } else {
        format!("{} s", sig(x))
    }
}

/// Three significant digits, whole numbers as they are.
fn sig(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}
