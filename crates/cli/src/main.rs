//! The `chokepoint` command: glue between the scenario loader, the engine,
//! the replication runner and the report. It alone reads files, writes to the
//! terminal and measures wall-clock time.

mod cluster;
mod diagnostics;
mod sweep;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use chokepoint_core::model::RunConfig;
use chokepoint_core::time::SimTime;
use chokepoint_scenario::{Scenario, Simulation, units::parse_duration};
use clap::{Parser, Subcommand, ValueEnum};

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
    /// List the built-in hardware profiles (illustrative prices).
    Profiles,
}

#[derive(clap::Args, Debug)]
struct CompareArgs {
    /// The scenario files; the first is the baseline.
    #[arg(required = true, num_args = 2..)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    sim: SimFlags,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    format: CompareFormat,
    /// Also write compare.json and compare.txt into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads for replications (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
}

/// Overrides of the scenario's `[simulation]` table.
#[derive(clap::Args, Debug, Default)]
struct SimFlags {
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the number of replications.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    replications: Option<u32>,
    /// Override the measured duration, such as "1000s" or "2h".
    #[arg(long)]
    duration: Option<String>,
}

impl SimFlags {
    fn apply(&self, sim: &mut Simulation) -> Result<(), BadInput> {
        if let Some(seed) = self.seed {
            sim.seed = seed;
        }
        if let Some(n) = self.replications {
            sim.replications = n;
        }
        if let Some(d) = &self.duration {
            let secs = parse_duration(d)
                .map_err(|e| BadInput(format!("--duration {d}: {}", e.message)))?;
            if secs <= 0.0 {
                return Err(BadInput("--duration must be positive".into()));
            }
            sim.duration = SimTime::from_secs_f64(secs);
        }
        Ok(())
    }

    /// The flags as command-line arguments, for the jobs of `sweep --emit`.
    fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(seed) = self.seed {
            args.extend(["--seed".to_owned(), seed.to_string()]);
        }
        if let Some(n) = self.replications {
            args.extend(["--replications".to_owned(), n.to_string()]);
        }
        if let Some(d) = &self.duration {
            args.extend(["--duration".to_owned(), d.clone()]);
        }
        args
    }

    /// The flags as text, for the sweep's fingerprint.
    fn describe(&self) -> String {
        format!(
            "{:?} {:?} {:?}",
            self.seed, self.replications, self.duration
        )
    }
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The scenario file (TOML).
    file: PathBuf,
    #[command(flatten)]
    sim: SimFlags,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write results.json, results.csv and results.txt into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write timeseries.csv into this folder: per window of simulated
    /// time from the start (warm-up included), each class's throughput and
    /// latency, each service's throughput and each cache's hit ratio.
    #[arg(long)]
    timeseries: Option<PathBuf>,
    /// The length of a time-series window, such as "1s" (default: a
    /// hundredth of warm-up plus duration).
    #[arg(long, requires = "timeseries")]
    window: Option<String>,
    /// Worker threads for replications (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CompareFormat {
    Table,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

/// An error that is the user's input: exit code 2.
#[derive(Debug)]
pub(crate) struct BadInput(pub(crate) String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

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
    let result = match cli.command {
        Command::Run(args) => run(&args),
        Command::Check { file } => check(&file),
        Command::Sweep(args) => sweep::sweep(&args),
        Command::Merge(args) => sweep::merge(&args),
        Command::Compare(args) => compare(&args),
        Command::Profiles => {
            profiles();
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
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

/// A scenario as read from its file.
pub(crate) struct Loaded {
    /// The text, for sweep points and diagnostics.
    pub(crate) source: String,
    /// The path as shown to the user.
    pub(crate) shown: String,
    /// The validated scenario.
    pub(crate) scenario: Scenario,
    /// The messages of its warnings.
    pub(crate) warnings: Vec<String>,
}

impl Loaded {
    /// The scenario's name, or its file's name.
    pub(crate) fn name(&self, path: &Path) -> String {
        self.scenario.name.clone().unwrap_or_else(|| {
            let stem = path.file_stem().unwrap_or_default();
            stem.to_string_lossy().into_owned()
        })
    }
}

/// Reads and validates a scenario, printing its diagnostics to stderr.
pub(crate) fn load(path: &Path) -> anyhow::Result<Loaded> {
    let shown = path.display().to_string();
    let source =
        std::fs::read_to_string(path).map_err(|e| BadInput(format!("cannot read {shown}: {e}")))?;
    let loaded = chokepoint_scenario::load(&source);
    if !loaded.diagnostics.is_empty() {
        eprint!(
            "{}",
            diagnostics::render(&shown, &source, &loaded.diagnostics)
        );
    }
    // Errors were printed above; exit 2 without repeating them.
    let scenario = loaded.scenario.ok_or_else(|| BadInput(String::new()))?;
    let warnings = loaded.diagnostics.into_iter().map(|d| d.message).collect();
    Ok(Loaded {
        source,
        shown,
        scenario,
        warnings,
    })
}

/// A rayon pool with `threads` workers (default: one per core).
pub(crate) fn pool(threads: Option<u32>) -> anyhow::Result<rayon::ThreadPool> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        builder = builder.num_threads(n as usize);
    }
    builder.build().context("cannot start worker threads")
}

fn check(path: &Path) -> anyhow::Result<()> {
    let loaded = load(path)?;
    let t = &loaded.scenario.topology;
    let points = match &loaded.scenario.sweep {
        Some(spec) => {
            sweep::load_points(&loaded, spec)?;
            format!(", {} sweep point(s)", spec.len())
        }
        None => String::new(),
    };
    // Replicated services add their replicas' stations after the services'.
    // Services compiled into several stations (replicas, call points,
    // hops) add them after the services' own; the own one bears its name.
    let internal: usize = loaded
        .scenario
        .services
        .iter()
        .map(|s| {
            s.stations()
                .filter(|id| t.stations[id.idx()].name != s.name)
                .count()
        })
        .sum();
    println!(
        "{}: ok ({} service(s), {} class(es){points})",
        path.display(),
        t.stations.len() - internal,
        t.classes.len()
    );
    Ok(())
}

fn run(args: &RunArgs) -> anyhow::Result<()> {
    let loaded = load(&args.file)?;
    let name = loaded.name(&args.file);
    let Loaded {
        mut scenario,
        warnings,
        ..
    } = loaded;
    args.sim.apply(&mut scenario.simulation)?;
    let sim = &scenario.simulation;

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
    let config = RunConfig {
        window,
        warmup: sim.warmup,
        duration: sim.duration,
    };
    let pool = pool(args.threads)?;
    let started = Instant::now();
    let runs = pool.install(|| {
        chokepoint_sweep::replicate(&scenario.topology, &config, sim.seed, sim.replications)
    })?;
    let wall = started.elapsed().as_secs_f64();

    let info = chokepoint_report::RunInfo {
        scenario: name,
        seed: sim.seed,
        warmup: sim.warmup.as_secs_f64(),
        wall,
        warnings,
        services: scenario.services.clone(),
    };
    let mut summary = chokepoint_report::summarize(&info, &runs);
    summary.slo = scenario
        .slo
        .as_ref()
        .map(|slo| chokepoint_report::slo::judge(&summary, slo));
    let text = match args.format {
        Format::Table => chokepoint_report::table(&summary),
        Format::Json => chokepoint_report::json(&summary),
        Format::Csv => chokepoint_report::csv(&summary),
    };
    print!("{text}");
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, content) in [
            ("results.json", chokepoint_report::json(&summary)),
            ("results.csv", chokepoint_report::csv(&summary)),
            ("results.txt", chokepoint_report::table(&summary)),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, content)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    if let Some(dir) = &args.timeseries {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("timeseries.csv");
        std::fs::write(&path, chokepoint_report::timeseries_csv(&info, &runs))
            .with_context(|| format!("cannot write {}", path.display()))?;
        let rows = chokepoint_report::timeseries(&info, &runs);
        for (stem, chart) in chokepoint_report::plot::timeseries_charts(&rows) {
            chokepoint_report::plot::write(&chart, &dir.join(stem))
                .map_err(|e| anyhow::anyhow!(e))?;
        }
    }
    Ok(())
}

/// Windows of a time series at most (each holds a few numbers per class and
/// station, per replication).
const MAX_WINDOWS: u64 = 100_000;

/// A `--window` length: a positive duration.
fn parse_window(text: &str) -> anyhow::Result<SimTime> {
    match parse_duration(text) {
        Ok(secs) if secs > 0.0 => Ok(SimTime::from_secs_f64(secs)),
        Ok(_) => Err(BadInput(format!("--window must be positive, found {text}")).into()),
        Err(e) => Err(BadInput(format!("--window {text}: {}", e.message)).into()),
    }
}

/// Simulates each scenario with the baseline's `[simulation]` settings (seed,
/// replications, duration, warm-up, then the flags), so that all see the
/// same random streams wherever their names match, and prints them side by side.
fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    let mut loaded = Vec::new();
    for file in &args.files {
        loaded.push(load(file)?);
    }
    let mut sim = loaded[0].scenario.simulation.clone();
    args.sim.apply(&mut sim)?;
    let base_classes: Vec<&str> = loaded[0]
        .scenario
        .topology
        .classes
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    for l in &loaded[1..] {
        let classes: Vec<&str> = l
            .scenario
            .topology
            .classes
            .iter()
            .map(|c| c.name.as_str())
            .collect();
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
    let config = RunConfig {
        window: None,
        warmup: sim.warmup,
        duration: sim.duration,
    };
    let pool = pool(args.threads)?;
    let mut runs = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (l, file) in loaded.iter().zip(&args.files) {
        let started = Instant::now();
        let stats = pool.install(|| {
            chokepoint_sweep::replicate(&l.scenario.topology, &config, sim.seed, sim.replications)
        })?;
        let mut name = l.name(file);
        if names.contains(&name) {
            name = file.display().to_string();
        }
        names.push(name.clone());
        let info = chokepoint_report::RunInfo {
            scenario: name.clone(),
            seed: sim.seed,
            warmup: sim.warmup.as_secs_f64(),
            wall: started.elapsed().as_secs_f64(),
            warnings: l.warnings.clone(),
            services: l.scenario.services.clone(),
        };
        let mut summary = chokepoint_report::summarize(&info, &stats);
        summary.slo = l
            .scenario
            .slo
            .as_ref()
            .map(|slo| chokepoint_report::slo::judge(&summary, slo));
        runs.push((name, summary));
    }
    let comparison = chokepoint_report::compare::compare(runs);
    let text = match args.format {
        CompareFormat::Json => chokepoint_report::compare::json(&comparison),
        CompareFormat::Table => chokepoint_report::compare::table(&comparison),
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
    Ok(())
}

/// Prints the built-in catalog of hardware profiles.
fn profiles() {
    println!(
        "{:<12} {:>5} {:>9} {:>10} {:>9} {:>12} {:>8}",
        "profile", "cores", "cpu_speed", "memory_gb", "disk_iops", "network_gbps", "$/hour"
    );
    for p in chokepoint_scenario::profiles::catalog() {
        println!(
            "{:<12} {:>5} {:>9} {:>10} {:>9} {:>12} {:>8.4}",
            p.name, p.cores, p.cpu_speed, p.memory_gb, p.disk_iops, p.network_gbps, p.cost_per_hour
        );
    }
    println!(
        "\nPrices are illustrative list prices, not a quote; override them in [profiles.NAME]."
    );
}
