//! `chokepoint diagnose FILE`: the capacity table's bottleneck, the load at
//! which the simulation saturates and the highest that meets the SLO
//! (bisection on the open classes' rates, same seeds), and the changes that
//! could move the limit, each re-simulated. The search is
//! `chokepoint_study::diagnose`, the rendering
//! `chokepoint_report::diagnosis`; this is the glue.

use anyhow::Context as _;
use std::path::PathBuf;

use chokepoint_report::capacity;
use chokepoint_report::diagnosis::Diagnosis;
use chokepoint_study::diagnose::{changes, closed, limits, open_rate};

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
    /// Also write diagnose.txt, diagnose.json, diagnose.md and the charts
    /// of p99 and throughput against the load into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    html: crate::input::HtmlOut,
    /// Worker threads for replications (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<u32>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum DiagnoseFormat {
    Table,
    Json,
    Markdown,
}

pub(crate) fn diagnose(args: &DiagnoseArgs) -> anyhow::Result<()> {
    args.html.check()?;
    let loaded = load(&args.file)?;
    let study = &loaded.study;
    let class = args.class.as_deref();
    let classes = &study.scenario.topology.classes;
    if let Some(name) = class
        && !classes.iter().any(|c| c.name == name)
    {
        anyhow::bail!(crate::input::BadInput(format!(
            "no class `{name}` in {}; its classes: {}",
            loaded.shown,
            classes
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
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
    // The load ramped: the open rates, or a closed population (users).
    let rate = open_rate(study, class);
    if rate <= 0.0 {
        anyhow::bail!(crate::input::BadInput(format!(
            "{} has no load to ramp (no class with a rate or users)",
            loaded.shown
        )));
    }
    let users = closed(study, class);
    let (_, table) = capacity(&study.scenario);
    // Start where the table (or a closed class's bounds) says it saturates.
    let knee = chokepoint_core::analysis::closed_bounds(&study.scenario.topology)
        .iter()
        .filter(|b| class.is_none_or(|name| classes[b.class.idx()].name == name))
        .map(|b| (b.demand + b.think) / b.demand_max.0)
        .fold(f64::INFINITY, f64::min);
    // (The table's loads scale every open class: one class alone starts at
    // its own rate.)
    let guess = if users {
        knee / rate
    } else if class.is_some() {
        1.0
    } else {
        table.first().map_or(1.0, |r| r.saturates_at / rate)
    };
    // A folder that cannot be written is known before simulating.
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| crate::input::BadInput(format!("--out {}: {e}", dir.display())))?;
    }
    let watch = Default::default();
    let threads = pool(args.threads)?;
    let (found, changes) = threads.install(|| -> Result<_, chokepoint_study::Failed> {
        let found = limits(study, class, guess, slo.as_ref(), &watch)?;
        let changes = changes(
            study,
            &loaded.source,
            Some(&loaded.dir),
            class,
            guess,
            &found,
            &watch,
        )?;
        Ok((found, changes))
    })?;
    let target = slo
        .as_ref()
        .or(study.scenario.slo.as_ref())
        .and_then(|s| s.p99);
    let diagnosis = Diagnosis {
        scenario: study.name.clone(),
        class: class.map(String::from),
        table,
        limits: found,
        slo_p99: target,
        slo: slo
            .as_ref()
            .or(study.scenario.slo.as_ref())
            .map(chokepoint_report::slo::objectives),
        bounds: chokepoint_report::capacity::closed_lines(&study.scenario)
            .into_iter()
            .filter(|_| users)
            .collect(),
        changes,
    };
    let charts: Vec<String> = ["diagnose-p99", "diagnose-throughput"]
        .iter()
        .map(|stem| format!("{stem}.svg"))
        .collect();
    let text = diagnosis.text();
    let json = serde_json::to_string_pretty(&diagnosis.json()).expect("plain values serialize");
    match args.format {
        DiagnoseFormat::Table => print!("{text}"),
        DiagnoseFormat::Json => println!("{json}"),
        DiagnoseFormat::Markdown => print!("{}", diagnosis.markdown(&[])),
    }
    let drawn = || {
        let found = &diagnosis.limits;
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
        chokepoint_report::plot::load_charts(
            &points,
            bracket,
            target,
            // The table's loads scale every class: not one class's axis.
            if class.is_none() {
                &diagnosis.table
            } else {
                &[]
            },
            users,
        )
    };
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let markdown = diagnosis.markdown(&charts);
        for (name, content) in [
            ("diagnose.txt", &text),
            ("diagnose.json", &json),
            ("diagnose.md", &markdown),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, content)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        for (stem, chart) in drawn() {
            chokepoint_report::plot::write(&chart, &dir.join(stem))
                .map_err(|e| anyhow::anyhow!(e))?;
        }
    }
    args.html.write(|| {
        chokepoint_report::html::diagnose(
            &format!("{}: diagnosis", diagnosis.scenario),
            &text,
            &drawn(),
            &loaded.source,
        )
    })?;
    Ok(())
}
