//! `chokepoint diagnose FILE`: the capacity table's bottleneck, the load at
//! which the simulation saturates and the highest that meets the SLO
//! (bisection on the open classes' rates, same seeds), and the changes that
//! could move the limit, each re-simulated. The search is
//! `chokepoint_study::diagnose`; this is the glue that picks the changes
//! and prints.

use std::fmt::Write as _;
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
    /// A 99th percentile target, such as "200ms" (default: the scenario's [slo]).
    #[arg(long)]
    p99: Option<String>,
    /// Worker threads for replications (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<u32>,
}

pub(crate) fn diagnose(args: &DiagnoseArgs) -> anyhow::Result<()> {
    let loaded = load(&args.file)?;
    let study = &loaded.study;
    let class = args.class.as_deref();
    if let Some(name) = class
        && !study
            .scenario
            .topology
            .classes
            .iter()
            .any(|c| c.name == name)
    {
        anyhow::bail!(crate::input::BadInput(format!(
            "no class `{name}` in {}",
            loaded.shown
        )));
    }
    let slo = match &args.p99 {
        Some(text) => {
            let seconds = chokepoint_scenario::units::parse_duration(text)
                .map_err(|e| crate::input::BadInput(format!("--p99 {text}: {}", e.message)))?;
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
    describe(&mut out, &found);
    // The changes that could move the limit.
    let actions = actions(study);
    if !actions.is_empty() {
        let base = found.saturation.1.unwrap_or(found.saturation.0);
        let now = threads.install(|| probe(study, class, 1.0, None, &watch))?;
        let _ = writeln!(out, "\nchanges, each re-simulated with the same seeds:");
        let _ = writeln!(
            out,
            "  {:<34} saturates at {:>10}  {:<10} p99 at the scenario's load {:>10}{}",
            "(as it is)",
            per_second(base * rate),
            "",
            now.p99.map_or("-".to_owned(), seconds),
            now.cost
                .map_or(String::new(), |c| format!("  ${}/h", sig(c))),
        );
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
            let effect = if (limit / base - 1.0).abs() < 0.03 {
                "no effect".to_owned()
            } else {
                format!("×{}", sig(limit / base))
            };
            let _ = writeln!(
                out,
                "  {:<34} saturates at {:>10}  {:<10} p99 at the scenario's load {:>10}{}",
                action.label,
                per_second(limit * rate),
                effect,
                at_load.p99.map_or("-".to_owned(), seconds),
                at_load
                    .cost
                    .map_or(String::new(), |c| format!("  ${}/h", sig(c))),
            );
        }
    }
    print!("{out}");
    Ok(())
}

/// The probes' findings, in words.
fn describe(out: &mut String, found: &Limits) {
    let rate = found.rate;
    match found.saturation {
        (lo, Some(hi)) => {
            let busiest = found
                .probes
                .iter()
                .filter(|p| p.saturated && p.scale <= hi * 1.0001)
                .min_by(|a, b| a.scale.total_cmp(&b.scale))
                .and_then(|p| p.busiest.clone());
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
            let _ = writeln!(out, "misses the SLO down to {}", per_second(hi * rate));
        }
        Some((lo, None)) => {
            let _ = writeln!(
                out,
                "meets the SLO up to at least {}",
                per_second(lo * rate)
            );
        }
        None => {}
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
