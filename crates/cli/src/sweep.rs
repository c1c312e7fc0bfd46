//! `chokepoint sweep` and `chokepoint merge`: files, resumption, shards and
//! the progress bar around the sweep runner.
//!
//! A sweep writes `points.jsonl`, one line per point, appended and flushed as
//! each point finishes, and `points.csv` likewise. When every point has run,
//! both files are rewritten from the lines, sorted by point, so the result
//! does not depend on the order points finished in, on the thread count, on
//! interruptions (`--resume`), or on how the points were split into shards.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

mod cluster;

use anyhow::Context;
use chokepoint_core::rng::name_key;
use chokepoint_report::sweep::{PointLine, finish, parse_lines, point_line};
use chokepoint_scenario::{Point, SweepSpec, load_points as load_sweep_points, sweep_diagnostics};
use chokepoint_study::{Study, run_sweep};
use indicatif::{ProgressBar, ProgressStyle};

use crate::diagnostics;
use crate::input::{BadInput, Loaded, SimFlags, load, pool};
use cluster::{Emit, Plan, Resources, emit};

/// The file of point lines in a sweep's folder.
pub(crate) const LINES: &str = "points.jsonl";
/// The CSV in a sweep's folder.
pub(crate) const CSV: &str = "points.csv";
/// In a shard's folder: which shard it holds, as `K/N`.
const SHARD: &str = "shard.txt";
/// What the sweep in a folder was run with (see `flags_record`).
const FLAGS: &str = "flags.txt";

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SweepFormat {
    Table,
    Json,
    Csv,
    Markdown,
}

#[derive(clap::Args, Debug)]
pub(crate) struct SweepArgs {
    /// The scenario file (TOML), with a [sweep] table.
    file: PathBuf,
    #[command(flatten)]
    sim: SimFlags,
    #[command(flatten)]
    slo_exit: crate::input::SloExit,
    /// What to print: the overview and decisions (table), every point's
    /// line as a JSON array, or the points' CSV (the folder gets all).
    #[arg(long, value_enum, default_value_t = SweepFormat::Table)]
    format: SweepFormat,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// Folder for points.jsonl and points.csv (default: FILE's name + "-sweep").
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    html: crate::input::HtmlOut,
    /// Continue a sweep whose folder already holds some points.
    #[arg(long)]
    resume: bool,
    /// Run only the points whose index modulo N is K, such as 0/4.
    #[arg(long, value_parser = parse_shard, conflicts_with = "emit")]
    shard: Option<Shard>,
    /// Write batch jobs for a cluster scheduler instead of running here:
    /// one job per shard into DIR/shard-K, then a merge into DIR.
    #[arg(long, value_enum, requires = "shards", conflicts_with_all = ["resume", "threads"])]
    emit: Option<Emit>,
    /// With --emit: the number of shards (array tasks or pods).
    #[arg(long, requires = "emit", value_parser = clap::value_parser!(u32).range(1..))]
    shards: Option<u32>,
    /// With --emit slurm: submit the jobs with sbatch and print their ids.
    #[arg(long, requires = "emit")]
    submit: bool,
    #[command(flatten)]
    resources: Resources,
}

#[derive(clap::Args, Debug)]
pub(crate) struct MergeArgs {
    /// Folders (or points.jsonl files) written by sharded sweeps.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Folder for the merged points.jsonl and points.csv.
    #[arg(long)]
    out: PathBuf,
}

/// `K/N`: this process runs the points with index % N == K.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    k: usize,
    n: usize,
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    let (k, n) = text
        .split_once('/')
        .ok_or("write the shard as K/N, such as 0/4")?;
    let k: usize = k
        .trim()
        .parse()
        .map_err(|_| format!("`{k}` is not a shard number"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("`{n}` is not a number of shards"))?;
    if n == 0 || k >= n {
        return Err(format!("shard {k}/{n}: K must be below N"));
    }
    Ok(Shard { k, n })
}

/// Loads every point as a study of its own (reported under the sweep's
/// name), printing errors in full and warnings in one line each. Fails (bad
/// input) if any point is invalid.
pub(crate) fn load_points(
    loaded: &Loaded,
    spec: &SweepSpec,
) -> anyhow::Result<Vec<(Point, Study)>> {
    let loaded_points = load_sweep_points(&loaded.source, Some(&loaded.dir), spec);
    // Each mistake once, naming the points it concerns.
    let (errors, warnings): (Vec<_>, Vec<_>) = sweep_diagnostics(&loaded_points)
        .into_iter()
        .partition(|d| d.is_error());
    for w in warnings {
        eprintln!("warning: {}", w.message);
    }
    let points = loaded_points
        .into_iter()
        .filter_map(|(point, result)| {
            let s = result.scenario?;
            Some((point, Study::new(loaded.study.name.clone(), s, Vec::new())))
        })
        .collect();
    if !errors.is_empty() {
        eprint!(
            "{}",
            diagnostics::render(&loaded.shown, &loaded.source, &errors)
        );
        return Err(BadInput(String::new()).into());
    }
    Ok(points)
}

/// Identifies a sweep: its source text and the flags that change results.
/// What a sweep was run with, one `name value` per line: the scenario's
/// fingerprint and each flag that changes results, so that resuming with
/// another can name it.
fn flags_record(source: &str, sim: &SimFlags) -> String {
    let show = |x: Option<String>| x.unwrap_or_else(|| "(the scenario's)".into());
    format!(
        "scenario {:016x}\n--seed {}\n--replications {}\n--duration {}\n--warmup {}\n--max-in-system {}\n--time-limit {}\n",
        name_key(source),
        show(sim.seed.map(|s| s.to_string())),
        show(sim.replications.map(|n| n.to_string())),
        show(sim.duration.clone()),
        show(sim.warmup.clone()),
        show(sim.max_in_system.map(|n| n.to_string())),
        sim.time_limit.clone().unwrap_or_else(|| "(none)".into()),
    )
}

/// How two [`flags_record`]s differ, in words; `None` when they do not.
fn differences(before: &str, now: &str) -> Option<String> {
    let split = |line: &str| {
        line.split_once(' ')
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
    };
    let now: Vec<(String, String)> = now.lines().filter_map(split).collect();
    let changed: Vec<String> = before
        .lines()
        .filter_map(split)
        .filter_map(|(key, was)| {
            let is = &now.iter().find(|(k, _)| *k == key)?.1;
            (*is != was).then(|| match key.as_str() {
                "scenario" => "the scenario file changed".to_owned(),
                _ => format!("{key} was {was}, is now {is}"),
            })
        })
        .collect();
    (!changed.is_empty()).then(|| changed.join("; "))
}

fn fingerprint(source: &str, sim: &SimFlags) -> String {
    format!(
        "{:016x}",
        name_key(&format!("{source}\n{}", sim.describe()))
    )
}

fn read_lines(path: &Path) -> anyhow::Result<(Vec<PointLine>, usize)> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse_lines(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((Vec::new(), 0)),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes `content` to `path` through a temporary file and a rename, so a
/// reader never sees half a file.
fn write_atomically(path: &Path, content: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Rewrites a folder's files from its lines, sorted by point.
fn finalize(dir: &Path, lines: &[PointLine]) -> anyhow::Result<()> {
    let (jsonl, csv) = finish(lines);
    write_atomically(&dir.join(LINES), &jsonl)?;
    write_atomically(&dir.join(CSV), &csv)
}

/// Draws the sweep's charts into its folder (PNG and SVG), and writes
/// `summary.md`, which links them.
fn plot(dir: &Path, name: &str, lines: &[PointLine]) -> anyhow::Result<()> {
    for (stem, chart) in chokepoint_report::plot::sweep_charts(lines) {
        chokepoint_report::plot::write(&chart, &dir.join(stem))
            .map_err(|e| anyhow::anyhow!("cannot draw a chart in {}: {e}", dir.display()))?;
    }
    write_atomically(
        &dir.join("summary.md"),
        &chokepoint_report::markdown::sweep(name, lines, &chart_files(None, lines)),
    )
}

/// The sweep's chart files, in `dir` (or bare names, for a file in the
/// sweep's folder).
fn chart_files(dir: Option<&Path>, lines: &[PointLine]) -> Vec<String> {
    chokepoint_report::plot::sweep_charts(lines)
        .into_iter()
        .map(|(stem, _)| match dir {
            Some(d) => d.join(format!("{stem}.svg")).display().to_string(),
            None => format!("{stem}.svg"),
        })
        .collect()
}

/// The appending writer used while points finish.
struct Appender {
    lines: File,
    csv: File,
    /// The CSV header, fixed by the first line appended.
    header: Option<String>,
}

impl Appender {
    fn append(&mut self, line: &str) -> std::io::Result<()> {
        self.lines.write_all(line.as_bytes())?;
        self.lines.flush()?;
        let (parsed, _) = parse_lines(line);
        // The CSV of one line, reusing the final format; its header is the
        // first row of `finish`'s output.
        let (_, csv) = finish(&parsed);
        let mut rows = csv.lines();
        let header = rows.next().unwrap_or_default().to_owned();
        if self.header.is_none() {
            if self.csv.metadata()?.len() == 0 {
                writeln!(self.csv, "{header}")?;
            }
            self.header = Some(header.clone());
        }
        // A point whose columns differ (a variant that changes the model's
        // structure) waits for the final rewrite, which aligns every row.
        if self.header.as_deref() == Some(header.as_str()) {
            for row in rows {
                writeln!(self.csv, "{row}")?;
            }
        }
        self.csv.flush()
    }
}

pub(crate) fn sweep(args: &SweepArgs) -> anyhow::Result<()> {
    args.html.check()?;
    let loaded = load(&args.file)?;
    let Some(spec) = loaded.study.scenario.sweep.clone() else {
        return Err(BadInput(format!(
            "{} has no [sweep] table; `chokepoint run` simulates it once",
            loaded.shown
        ))
        .into());
    };
    let name = loaded.study.name.clone();
    let mut points = load_points(&loaded, &spec)?;
    for (_, study) in &mut points {
        args.sim.apply(&mut study.scenario.simulation)?;
        args.sim
            .fits(&loaded.shown, &study.scenario, &study.scenario.simulation)?;
    }
    let fingerprint = fingerprint(&loaded.source, &args.sim);
    let total = spec.len();

    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{name}-sweep")));
    if let (Some(kind), Some(shards)) = (args.emit, args.shards) {
        if kind == Emit::K8s && args.submit {
            return Err(BadInput(
                "--submit works with --emit slurm; apply Kubernetes manifests with kubectl".into(),
            )
            .into());
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let out = std::path::absolute(&dir)
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        let plan = Plan {
            binary: std::env::current_exe().context("cannot locate the chokepoint binary")?,
            file_name: args
                .file
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario.toml".into()),
            source: loaded.source.clone(),
            out,
            name,
            shards: shards as usize,
            points: total,
            sim_args: args.sim.to_args(),
            resources: args.resources.clone(),
        };
        return emit(&plan, kind, args.submit);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let lines_path = dir.join(LINES);
    let (existing, partial) = read_lines(&lines_path)?;
    if !args.resume && (!existing.is_empty() || partial > 0) {
        return Err(BadInput(format!(
            "{} already holds results; pass --resume to continue that sweep, or choose another --out",
            lines_path.display()
        ))
        .into());
    }
    let made_with = dir.join(FLAGS);
    if let Some(other) = existing.iter().find(|l| l.fingerprint != fingerprint) {
        let why = std::fs::read_to_string(&made_with)
            .ok()
            .and_then(|before| differences(&before, &flags_record(&loaded.source, &args.sim)))
            .unwrap_or_else(|| "a different file or different flags".into());
        return Err(BadInput(format!(
            "{} holds point {} of another sweep ({why}); run it as it was, or choose another --out",
            lines_path.display(),
            other.point
        ))
        .into());
    }
    if existing.is_empty() {
        std::fs::write(&made_with, flags_record(&loaded.source, &args.sim))
            .with_context(|| format!("cannot write {}", made_with.display()))?;
    }
    // Keep only complete lines, so that appending continues a clean file.
    finalize(&dir, &existing)?;
    if let Some(shard) = args.shard {
        // Lets `merge` name the shard that holds a missing point.
        let marker = dir.join(SHARD);
        std::fs::write(&marker, format!("{}/{}\n", shard.k, shard.n))
            .with_context(|| format!("cannot write {}", marker.display()))?;
    }
    let done: BTreeSet<usize> = existing.iter().map(|l| l.point).collect();

    let todo: Vec<(Point, Study)> = points
        .into_iter()
        .filter(|(p, _)| !done.contains(&p.index))
        .filter(|(p, _)| args.shard.is_none_or(|s| p.index % s.n == s.k))
        .collect();

    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(todo.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} points  {elapsed} elapsed, ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let open = |path: PathBuf| {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))
    };
    let appender = Mutex::new(Appender {
        lines: open(lines_path.clone())?,
        csv: open(dir.join(CSV))?,
        header: None,
    });
    let failure: Mutex<Option<std::io::Error>> = Mutex::new(None);
    let watch = args.sim.watch(None)?;
    let swept = pool(args.threads)?.install(|| {
        run_sweep(&todo, &watch, |j, summary| {
            let line = point_line(&fingerprint, total, &todo[j].0, &summary);
            let mut out = appender.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = out.append(&line) {
                failure
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(e);
            }
            progress.inc(1);
        })
    });
    progress.finish_and_clear();
    match swept {
        Err(chokepoint_study::Failed::Interrupted) => {
            let (lines, _) = read_lines(&lines_path)?;
            finalize(&dir, &lines)?;
            eprintln!(
                "interrupted: {} of {total} points are in {}; run the same command with --resume to finish",
                lines.len(),
                dir.display()
            );
            return Ok(());
        }
        other => other?,
    }
    drop(appender);
    if let Some(e) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e).with_context(|| format!("cannot write to {}", dir.display()));
    }

    let (lines, _) = read_lines(&lines_path)?;
    finalize(&dir, &lines)?;
    plot(&dir, &name, &lines)?;
    args.html.write(|| {
        let text = format!(
            "{}\n{}",
            overview(&lines, total),
            chokepoint_report::sweep::decisions(&lines)
        );
        chokepoint_report::html::sweep(
            &format!("{name}: sweep"),
            &text,
            &chokepoint_report::plot::sweep_charts(&lines),
            &loaded.source,
        )
    })?;
    match args.format {
        SweepFormat::Table => {
            print!("{}", overview(&lines, total));
            println!();
            print!("{}", chokepoint_report::sweep::decisions(&lines));
        }
        // What the folder holds, on stdout: every point's line (as an
        // array, in point order), or the CSV.
        SweepFormat::Json => {
            let mut sorted: Vec<&PointLine> = lines.iter().collect();
            sorted.sort_by_key(|l| l.point);
            let all = serde_json::Value::Array(sorted.iter().map(|l| l.value.clone()).collect());
            println!(
                "{}",
                serde_json::to_string_pretty(&all).expect("plain values serialize")
            );
        }
        SweepFormat::Csv => print!("{}", finish(&lines).1),
        SweepFormat::Markdown => print!(
            "{}",
            chokepoint_report::markdown::sweep(&name, &lines, &chart_files(Some(&dir), &lines))
        ),
    }
    eprintln!(
        "{} of {total} points in {} ({} and {})",
        lines.len(),
        dir.display(),
        LINES,
        CSV
    );
    // A shard holds some points only: the whole sweep is judged, not it.
    let judged: Vec<bool> = lines.iter().filter_map(|l| l.view.met()).collect();
    args.slo_exit.check(
        (args.shard.is_none() && !judged.is_empty() && !judged.contains(&true))
            .then(|| "no sweep point meets the SLO".to_owned()),
    )
}

/// A table of the points in `lines`: label, SLO verdict, and per class its
/// throughput and p99.
fn overview(lines: &[PointLine], total: usize) -> String {
    let mut sorted: Vec<&PointLine> = lines.iter().collect();
    sorted.sort_by_key(|l| l.point);
    let mut out = String::new();
    let met = sorted.iter().filter(|l| l.view.met() == Some(true)).count();
    let judged = sorted.iter().any(|l| l.view.slo.is_some());
    for line in &sorted {
        let v = &line.view;
        let mut cells = vec![format!("{:>4}", line.point), v.label.clone()];
        for (class, c) in &v.result.classes {
            let p99 = c.latency.p99.unwrap_or(f64::NAN);
            let x = c.throughput.unwrap_or(f64::NAN);
            cells.push(format!("{class}: {x:.4}/s, p99 {:.4} s", p99));
        }
        let unstable: Vec<&str> = v
            .result
            .stations
            .iter()
            .filter(|(_, s)| s.workers.as_ref().is_some_and(|w| w.unstable))
            .map(|(name, _)| name.as_str())
            .collect();
        if !unstable.is_empty() {
            cells.push(format!("UNSTABLE: {}", unstable.join(", ")));
        }
        if let Some(s) = v.result.stopped.iter().find(|s| s.cause == "in_system") {
            cells.push(format!(
                "STOPPED EARLY: {} of its replications held {} requests, most at {}",
                v.result
                    .stopped
                    .iter()
                    .filter(|s| s.cause == "in_system")
                    .count(),
                s.limit.unwrap_or(0),
                s.service.as_deref().unwrap_or("?")
            ));
        }
        if judged {
            cells.push(if v.met() == Some(true) {
                "SLO met".into()
            } else {
                "SLO missed".into()
            });
        }
        out.push_str(&cells.join("  "));
        out.push('\n');
    }
    if judged {
        out.push_str(&format!(
            "{met} of {} point(s) meet the SLO ({total} in the sweep)\n",
            sorted.len()
        ));
    }
    out
}

pub(crate) fn merge(args: &MergeArgs) -> anyhow::Result<()> {
    let mut lines = Vec::new();
    let mut sources = Vec::new();
    let mut absent = Vec::new();
    // The shards the inputs say they hold: (K, N, folder).
    let mut shards: Vec<(usize, usize, String)> = Vec::new();
    for input in &args.inputs {
        let path = if input.is_dir() {
            input.join(LINES)
        } else {
            input.clone()
        };
        if let Some(shard) = path
            .parent()
            .and_then(|dir| std::fs::read_to_string(dir.join(SHARD)).ok())
            .and_then(|text| parse_shard(text.trim()).ok())
        {
            shards.push((shard.k, shard.n, input.display().to_string()));
        }
        if !path.exists() {
            absent.push(path.display().to_string());
            continue;
        }
        let (found, partial) = read_lines(&path)?;
        if partial > 0 {
            eprintln!(
                "warning: {} ends with {partial} incomplete line(s) (an interrupted shard), ignored",
                path.display()
            );
        }
        sources.extend(std::iter::repeat_n(path.display().to_string(), found.len()));
        lines.extend(found);
    }
    if !absent.is_empty() {
        return Err(BadInput(format!(
            "{} {}: run {} (sweep --shard K/N --out FOLDER) and merge again",
            absent.join(", "),
            if absent.len() == 1 {
                "does not exist: that shard has not run"
            } else {
                "do not exist: those shards have not run"
            },
            if absent.len() == 1 { "it" } else { "them" }
        ))
        .into());
    }
    let Some(first) = lines.first() else {
        return Err(BadInput("the inputs hold no point".into()).into());
    };
    if let Some(i) = lines
        .iter()
        .position(|l| l.fingerprint != first.fingerprint || l.points != first.points)
    {
        return Err(BadInput(format!(
            "{} and {} hold points of different sweeps (different files or flags)",
            sources[0], sources[i]
        ))
        .into());
    }
    let total = first.points;
    let present: BTreeSet<usize> = lines.iter().map(|l| l.point).collect();
    let missing: Vec<usize> = (0..total).filter(|p| !present.contains(p)).collect();
    if !missing.is_empty() {
        return Err(BadInput(missing_message(&missing, total, &shards)).into());
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    finalize(&args.out, &lines)?;
    // The scenario's name, as each point's result carries it.
    let name = first
        .value
        .pointer("/result/scenario")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("sweep")
        .to_owned();
    plot(&args.out, &name, &lines)?;
    print!("{}", overview(&lines, total));
    println!();
    print!("{}", chokepoint_report::sweep::decisions(&lines));
    eprintln!("merged {total} points into {}", args.out.display());
    Ok(())
}

/// What a merge lacks, by shard when every input said which shard it holds.
fn missing_message(missing: &[usize], total: usize, shards: &[(usize, usize, String)]) -> String {
    let list = |points: &[usize]| {
        let shown: Vec<String> = points.iter().take(20).map(usize::to_string).collect();
        let more = if points.len() > 20 { ", ..." } else { "" };
        format!("{}{more}", shown.join(", "))
    };
    let mut out = format!(
        "{} of {total} points are missing: {}",
        missing.len(),
        list(missing)
    );
    let n = shards.first().map(|s| s.1);
    if let Some(n) = n.filter(|&n| shards.iter().all(|s| s.1 == n)) {
        for k in 0..n {
            let lacking: Vec<usize> = missing.iter().copied().filter(|p| p % n == k).collect();
            if lacking.is_empty() {
                continue;
            }
            match shards.iter().find(|s| s.0 == k) {
                Some((_, _, dir)) => out.push_str(&format!(
                    "\n  shard {k}/{n} ({dir}) is incomplete: {} point(s) missing; rerun it with `chokepoint sweep FILE --shard {k}/{n} --out {dir} --resume`",
                    lacking.len()
                )),
                None => out.push_str(&format!(
                    "\n  shard {k}/{n} was not given to merge (or has not run): {} point(s)",
                    lacking.len()
                )),
            }
        }
        out.push_str("\nthen merge again");
    } else {
        out.push_str(
            "; rerun the shard that holds them (sweep --shard K/N --resume) and merge again",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse() {
        assert_eq!(parse_shard("0/4"), Ok(Shard { k: 0, n: 4 }));
        assert_eq!(parse_shard("3/4"), Ok(Shard { k: 3, n: 4 }));
        assert!(parse_shard("4/4").is_err());
        assert!(parse_shard("1/0").is_err());
        assert!(parse_shard("1").is_err());
        assert!(parse_shard("a/2").is_err());
    }
}
