//! The `chokepoint` command: glue between the scenario loader, the engine,
//! the replication runner and the report. It alone reads files, writes to the
//! terminal and measures wall-clock time.

/// `print!` and `println!` for the whole binary (they shadow std's in
/// every module declared below): a stdout closed early (`chokepoint run
/// FILE | head -3`) is no reason to panic. What is left to print is
/// dropped, and the run goes on to write its files and exit as it would.
macro_rules! print {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

/// See `print!`.
macro_rules! println {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// `eprint!` and `eprintln!` likewise: a stderr closed early (`chokepoint
/// tour 3 2>&1 | head`) drops the diagnostics left to write.
macro_rules! eprint {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($t)*);
    }};
}

/// See `eprint!`.
macro_rules! eprintln {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr());
    }};
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

mod diagnose;
mod diagnostics;
mod input;
mod interrupt;
mod sweep;
mod tour;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use chokepoint_core::time::SimTime;
use clap::{Parser, Subcommand, ValueEnum};

use input::{BadInput, SimFlags, load, pool};

/// Simulate backend request pipelines and see where they choke.
#[derive(Parser, Debug)]
#[command(name = "chokepoint", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate a scenario and print its results.
    Run(RunArgs),
    /// Parse and validate a scenario without simulating it (every sweep point too).
    Check {
        /// The scenario file (TOML).
        file: PathBuf,
    },
    /// Simulate every point of the scenario's [sweep], in parallel.
    Sweep(sweep::SweepArgs),
    /// Join the outputs of sharded sweeps into what one unsharded sweep writes.
    Merge(sweep::MergeArgs),
    /// Run two or more architectures under the same load and seeds, side by side.
    Compare(CompareArgs),
    /// Find what saturates first, at what load, and which change moves the limit.
    Diagnose(diagnose::DiagnoseArgs),
    /// List the built-in hardware profiles (illustrative prices).
    Profiles {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Print the scenario format's JSON Schema, for editor completion
    /// (taplo, Even Better TOML: a `#:schema` line; see docs/scenarios.md).
    Schema,
    /// The guided tour of queueing and scaling: list the lessons, or run
    /// lesson N and check what it teaches (docs/tour.md).
    Tour(tour::TourArgs),
}

#[derive(clap::Args, Debug)]
struct CompareArgs {
    /// The scenario files; the first is the baseline.
    #[arg(required = true, num_args = 2..)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    sim: SimFlags,
    #[command(flatten)]
    slo_exit: input::SloExit,
    /// Run every design with the baseline's `[simulation]` (replications,
    /// duration, warm-up) instead of its own. The baseline's seed is
    /// always shared: common random numbers.
    #[arg(long)]
    same_settings: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    format: CompareFormat,
    /// Also write compare.json, compare.txt, compare.md and each class's
    /// chart of percentiles into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    html: input::HtmlOut,
    /// Worker threads for replications (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The scenario file (TOML).
    file: PathBuf,
    #[command(flatten)]
    sim: SimFlags,
    #[command(flatten)]
    slo_exit: input::SloExit,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RunFormat::Table)]
    format: RunFormat,
    /// Also write results.json, results.csv, results.txt and results.md into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    html: input::HtmlOut,
    /// Also write timeseries.csv and its charts into this folder: per window
    /// of simulated time from the start (warm-up included), each class's
    /// throughput, latency and errors, each service's throughput,
    /// utilisation and requests present, and each cache's hit ratio.
    #[arg(long)]
    timeseries: Option<PathBuf>,
    /// The length of a time-series window, such as "1s" (default: a
    /// hundredth of warm-up plus duration).
    #[arg(long, requires = "timeseries", allow_hyphen_values = true)]
    window: Option<String>,
    /// Worker threads for replications (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CompareFormat {
    Table,
    Json,
    Markdown,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum RunFormat {
    Table,
    Json,
    Csv,
    Markdown,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = dispatch(cli.command);
    match result {
        // What finished was reported; the exit code says it is partial.
        Ok(()) if interrupt::interrupted() => ExitCode::from(130),
        Ok(()) => ExitCode::SUCCESS,
        Err(e)
            if matches!(
                e.downcast_ref(),
                Some(chokepoint_study::Failed::Interrupted)
            ) =>
        {
            eprintln!("error: {e}");
            ExitCode::from(130)
        }
        // Everything was reported; the code says the SLO was missed
        // (interrupted first: what was judged was partial).
        Err(e) if e.downcast_ref::<input::SloMissed>().is_some() => {
            if interrupt::interrupted() {
                // What was judged was partial: the interruption's code.
                ExitCode::from(130)
            } else {
                eprintln!("{e}");
                ExitCode::from(3)
            }
        }
        Err(e) if e.downcast_ref::<BadInput>().is_some() => {
            let message = format!("{e}");
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs one command (the tour runs its lessons' commands through it too).
fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(args) => run(&args),
        Command::Check { file } => check(&file),
        Command::Sweep(args) => sweep::sweep(&args),
        Command::Merge(args) => sweep::merge(&args),
        Command::Compare(args) => compare(&args),
        Command::Diagnose(args) => diagnose::diagnose(&args),
        Command::Profiles { format } => {
            profiles(format);
            Ok(())
        }
        Command::Schema => {
            let schema = chokepoint_scenario::schema::schema();
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("a schema serialises")
            );
            Ok(())
        }
        Command::Tour(args) => tour::tour(&args),
    }
}

fn check(path: &Path) -> anyhow::Result<()> {
    let loaded = load(path)?;
    let scenario = &loaded.study.scenario;
    let points = match &scenario.sweep {
        Some(spec) => {
            sweep::load_points(&loaded, spec)?;
            format!(", {} sweep point(s)", spec.len())
        }
        None => String::new(),
    };
    println!(
        "{}: ok ({} service(s), {} class(es){points})",
        path.display(),
        scenario.services.len(),
        scenario.topology.classes.len()
    );
    let table = chokepoint_report::capacity_table(scenario);
    if !table.is_empty() {
        println!("\n{table}");
    }
    Ok(())
}

fn run(args: &RunArgs) -> anyhow::Result<()> {
    args.html.check()?;
    input::check_folder("--out", args.out.as_deref())?;
    input::check_folder("--timeseries", args.timeseries.as_deref())?;
    let loaded = load(&args.file)?;
    let source = loaded.source;
    let mut study = loaded.study;
    args.sim.apply(&mut study.scenario.simulation)?;
    args.sim.fits(
        &args.file.display().to_string(),
        &study.scenario,
        &study.scenario.simulation,
    )?;
    let sim = study.scenario.simulation.clone();

    let total = sim.warmup.0.saturating_add(sim.duration.0);
    let window = match (&args.timeseries, &args.window) {
        (None, _) => None,
        (Some(_), Some(text)) => Some(parse_window(text)?),
        (Some(_), None) => Some(SimTime(total / 100).max(SimTime(1))),
    };
    if let Some(w) = window
        && total / w.0 > MAX_WINDOWS
    {
        return Err(BadInput(format!(
            "--window {} s makes {} windows of the run; at most {MAX_WINDOWS}",
            w.as_secs_f64(),
            total / w.0
        ))
        .into());
    }
    let bar = Progress::new(sim.replications, total);
    let show = |r: u32, now: SimTime| bar.set(r, now);
    let watch = args.sim.watch(Some(&show))?;
    let outcome = pool(args.threads)?.install(|| study.run(&sim, window, &watch));
    bar.clear();
    let outcome = outcome?;
    let summary = &outcome.summary;
    let mut series = Vec::new();
    if let Some(dir) = &args.timeseries {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("timeseries.csv");
        std::fs::write(
            &path,
            chokepoint_report::timeseries_csv(&outcome.info, &outcome.runs),
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        let rows = chokepoint_report::timeseries(&outcome.info, &outcome.runs);
        let marks = chokepoint_report::plot::Marks::of(
            &study.scenario.topology,
            &outcome.info.faults,
            outcome.info.warmup,
        );
        series = chokepoint_report::plot::timeseries_charts(&rows, &marks);
        for (stem, chart) in &series {
            chokepoint_report::plot::write(chart, &dir.join(stem))
                .map_err(|e| anyhow::anyhow!(e))?;
        }
    }
    // The time series' charts, linked by the Markdown where they were written.
    let series_files: Vec<String> = match &args.timeseries {
        Some(dir) => series
            .iter()
            .map(|(stem, _)| dir.join(format!("{stem}.svg")).display().to_string())
            .collect(),
        None => Vec::new(),
    };
    let text = match args.format {
        RunFormat::Table => chokepoint_report::table(summary),
        RunFormat::Json => chokepoint_report::json(summary),
        RunFormat::Csv => chokepoint_report::csv(summary),
        // The time series' charts, linked where --timeseries wrote them.
        RunFormat::Markdown => chokepoint_report::markdown::run(summary, &series_files),
    };
    print!("{text}");
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, content) in [
            ("results.json", chokepoint_report::json(summary)),
            ("results.csv", chokepoint_report::csv(summary)),
            ("results.txt", chokepoint_report::table(summary)),
            (
                "results.md",
                // Its links are from its folder: to the time series' charts
                // only when they are in the same one.
                chokepoint_report::markdown::run(
                    summary,
                    &if args.timeseries.as_ref() == Some(dir) {
                        series
                            .iter()
                            .map(|(stem, _)| format!("{stem}.svg"))
                            .collect()
                    } else {
                        Vec::new()
                    },
                ),
            ),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, content)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    args.html
        .write(|| chokepoint_report::html::run(summary, &source, &series))?;
    args.slo_exit.check(
        summary
            .slo
            .as_ref()
            .filter(|v| !v.met)
            .map(|v| format!("SLO missed ({})", v.violations.join("; "))),
    )
}

/// A progress bar on a terminal, over the simulated time of every
/// replication; nothing elsewhere.
struct Progress {
    bar: indicatif::ProgressBar,
    /// Per replication, the simulated nanoseconds it reached.
    reached: Vec<AtomicU64>,
    /// Per replication, its warm-up and duration.
    each: u64,
}

impl Progress {
    fn new(replications: u32, each: u64) -> Progress {
        let bar = if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(1000);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {percent}% of the simulated time  {elapsed} elapsed, ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        Progress {
            bar,
            reached: (0..replications).map(|_| AtomicU64::new(0)).collect(),
            each: each.max(1),
        }
    }

    /// Replication `r` reached `now`.
    fn set(&self, r: u32, now: SimTime) {
        if self.bar.is_hidden() {
            return;
        }
        self.reached[r as usize].store(now.0.min(self.each), Ordering::Relaxed);
        let done: f64 = self
            .reached
            .iter()
            .map(|x| x.load(Ordering::Relaxed) as f64 / self.each as f64)
            .sum();
        self.bar
            .set_position((1000.0 * done / self.reached.len() as f64) as u64);
    }

    fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

/// Windows of a time series at most (each holds a few numbers per class and
/// station, per replication).
const MAX_WINDOWS: u64 = 100_000;

/// A `--window` length: a positive duration.
fn parse_window(text: &str) -> anyhow::Result<SimTime> {
    Ok(input::positive_duration("--window", text)?)
}

/// The percentile charts `compare --out DIR` writes, in `dir` (or bare
/// names, for a file in that folder).
fn chart_files(
    dir: Option<&std::path::Path>,
    comparison: &chokepoint_report::compare::Comparison,
) -> Vec<String> {
    chokepoint_report::plot::compare_charts(comparison)
        .into_iter()
        .map(|(stem, _)| match dir {
            Some(d) => d.join(format!("{stem}.svg")).display().to_string(),
            None => format!("{stem}.svg"),
        })
        .collect()
}

/// Simulates each scenario with its own `[simulation]` settings (or the
/// baseline's with `--same-settings`) and the baseline's seed, then the
/// flags, so that all see the same random streams wherever their names
/// match, and prints them side by side.
fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    args.html.check()?;
    input::check_folder("--out", args.out.as_deref())?;
    let mut loaded = Vec::new();
    for file in &args.files {
        loaded.push(load(file)?);
    }
    // Each design with its own [simulation] (a cache's warm-up is its
    // own), or the baseline's with --same-settings; the baseline's seed
    // for all: common random numbers. The flags override every one.
    let base = loaded[0].study.scenario.simulation.clone();
    let mut sims = Vec::new();
    for l in &loaded {
        let mut sim = if args.same_settings {
            base.clone()
        } else {
            chokepoint_scenario::Simulation {
                seed: base.seed,
                ..l.study.scenario.simulation.clone()
            }
        };
        args.sim.apply(&mut sim)?;
        args.sim.fits(&l.shown, &l.study.scenario, &sim)?;
        sims.push(sim);
    }
    let class_names = |l: &input::Loaded| -> Vec<String> {
        let classes = &l.study.scenario.topology.classes;
        classes.iter().map(|c| c.name.clone()).collect()
    };
    let base_classes = class_names(&loaded[0]);
    for l in &loaded[1..] {
        let classes = class_names(l);
        if classes != base_classes {
            eprintln!(
                "warning: {} has classes [{}] where {} has [{}]: their loads differ",
                l.shown,
                classes.join(", "),
                loaded[0].shown,
                base_classes.join(", ")
            );
        }
    }
    let pool = pool(args.threads)?;
    let mut runs = Vec::new();
    let mut replications = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for ((l, file), sim) in loaded.iter_mut().zip(&args.files).zip(&sims) {
        if names.contains(&l.study.name) {
            l.study.name = file.display().to_string();
        }
        names.push(l.study.name.clone());
        let watch = args.sim.watch(None)?;
        let outcome = pool.install(|| l.study.run(sim, None, &watch))?;
        runs.push((l.study.name.clone(), outcome.summary));
        replications.push(outcome.runs);
    }
    let mut comparison = chokepoint_report::compare::compare(runs);
    chokepoint_report::compare::pair(&mut comparison, &replications);
    let text = match args.format {
        CompareFormat::Json => chokepoint_report::compare::json(&comparison),
        CompareFormat::Table => chokepoint_report::compare::table(&comparison),
        CompareFormat::Markdown => chokepoint_report::markdown::compare(
            &comparison,
            // The charts exist only where --out wrote them.
            &args
                .out
                .as_deref()
                .map_or_else(Vec::new, |dir| chart_files(Some(dir), &comparison)),
        ),
    };
    print!("{text}");
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, content) in [
            (
                "compare.json",
                chokepoint_report::compare::json(&comparison),
            ),
            (
                "compare.txt",
                chokepoint_report::compare::table(&comparison),
            ),
            (
                "compare.md",
                chokepoint_report::markdown::compare(&comparison, &chart_files(None, &comparison)),
            ),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, content)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        for (stem, chart) in chokepoint_report::plot::compare_charts(&comparison) {
            chokepoint_report::plot::write(&chart, &dir.join(stem))
                .map_err(|e| anyhow::anyhow!("cannot draw a chart in {}: {e}", dir.display()))?;
        }
    }
    args.html.write(|| {
        let sources: Vec<String> = loaded.iter().map(|l| l.source.clone()).collect();
        chokepoint_report::html::compare(&comparison, &sources)
    })?;
    // Judged when at least one design has an SLO: failed when none meets it.
    let verdicts: Vec<bool> = comparison
        .results
        .iter()
        .filter_map(|s| s.slo.as_ref().map(|v| v.met))
        .collect();
    args.slo_exit.check(
        (!verdicts.is_empty() && !verdicts.contains(&true))
            .then(|| "no design meets its SLO".to_owned()),
    )
}

/// A profile's figures, named as the JSON and CSV name them.
fn profile_fields(
    p: &chokepoint_scenario::profiles::Profile,
) -> [(&'static str, serde_json::Value); 7] {
    use serde_json::json;
    [
        ("profile", json!(p.name)),
        ("cores", json!(p.cores)),
        ("cpu_speed", json!(p.cpu_speed)),
        ("memory_gb", json!(p.memory_gb)),
        ("disk_iops", json!(p.disk_iops)),
        ("network_gbps", json!(p.network_gbps)),
        ("cost_per_hour", json!(p.cost_per_hour)),
    ]
}

/// Prints the built-in catalog of hardware profiles, as a table, JSON (an
/// array of objects) or CSV (one row each).
fn profiles(format: Format) {
    let catalog = chokepoint_scenario::profiles::catalog();
    match format {
        Format::Table => {
            println!(
                "{:<12} {:>5} {:>9} {:>10} {:>9} {:>12} {:>8}",
                "profile", "cores", "cpu_speed", "memory_gb", "disk_iops", "network_gbps", "$/hour"
            );
            for p in &catalog {
                println!(
                    "{:<12} {:>5} {:>9} {:>10} {:>9} {:>12} {:>8.4}",
                    p.name,
                    p.cores,
                    p.cpu_speed,
                    p.memory_gb,
                    p.disk_iops,
                    p.network_gbps,
                    p.cost_per_hour
                );
            }
            println!(
                "\nPrices are illustrative list prices, not a quote; override them in [profiles.NAME]."
            );
        }
        Format::Json => {
            let rows: Vec<serde_json::Map<String, serde_json::Value>> = catalog
                .iter()
                .map(|p| {
                    profile_fields(p)
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect()
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&rows).expect("plain values serialize")
            );
        }
        Format::Csv => {
            for (i, p) in catalog.iter().enumerate() {
                let fields = profile_fields(p);
                if i == 0 {
                    let header: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
                    println!("{}", header.join(","));
                }
                // Strings without their JSON quotes (profile names hold no
                // comma), numbers as Rust writes them (1, not 1.0).
                let cells: Vec<String> = fields
                    .iter()
                    .map(|(_, v)| match (v.as_str(), v.as_f64()) {
                        (Some(text), _) => text.to_owned(),
                        (None, Some(x)) => x.to_string(),
                        (None, None) => v.to_string(),
                    })
                    .collect();
                println!("{}", cells.join(","));
            }
        }
    }
}
