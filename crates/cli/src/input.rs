//! What every command reads: a scenario file (as a [`Study`]), flags over
//! its `[simulation]`, the thread pool; and the error that is the user's
//! input (exit code 2).

use std::path::{Path, PathBuf};

use anyhow::Context;
use chokepoint_core::time::SimTime;
use chokepoint_scenario::{Simulation, units::parse_duration};
use chokepoint_study::{Study, Watch};

use crate::diagnostics;

/// Overrides of the scenario's `[simulation]` table.
#[derive(clap::Args, Debug, Default)]
pub(crate) struct SimFlags {
    /// Override the scenario's seed.
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Override the number of replications.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(chokepoint_scenario::MAX_REPLICATIONS)))]
    pub(crate) replications: Option<u32>,
    /// Override the measured duration, such as "1000s" or "2h".
    // A value that starts with '-' is read as the value (and refused as
    // negative), not taken for another flag.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) duration: Option<String>,
    /// Override the warm-up discarded before measuring, such as "30s"
    /// ("0s": none).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) warmup: Option<String>,
    /// The most requests a replication may hold at once (default: the
    /// scenario's, else 1000000). An overloaded system grows until it
    /// reaches it; the replication then stops and the report says why.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_in_system: Option<u64>,
    /// Stop a replication that runs longer than this wall-clock time, such
    /// as "30s"; it reports what it measured, marked as stopped early.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) time_limit: Option<String>,
}

impl SimFlags {
    pub(crate) fn apply(&self, sim: &mut Simulation) -> Result<(), BadInput> {
        if let Some(seed) = self.seed {
            sim.seed = seed;
        }
        if let Some(n) = self.replications {
            sim.replications = n;
        }
        if let Some(d) = &self.duration {
            sim.duration = positive_duration("--duration", d)?;
        }
        if let Some(w) = &self.warmup {
            sim.warmup = match parse_duration(w) {
                _ if w.trim_start().starts_with('-') => {
                    return Err(BadInput(format!(
                        "--warmup must be zero or positive, found {w}"
                    )));
                }
                Ok(0.0) => SimTime::ZERO,
                _ => positive_duration("--warmup", w)?,
            };
        }
        if let Some(n) = self.max_in_system {
            sim.max_in_system = n;
        }
        Ok(())
    }

    /// Refuses a `--max-in-system` that the closed classes of `scenario`
    /// would reach by themselves (the loader refuses the same in the file).
    pub(crate) fn fits(
        &self,
        shown: &str,
        scenario: &chokepoint_scenario::Scenario,
        sim: &Simulation,
    ) -> Result<(), BadInput> {
        let users = scenario.closed_users();
        if users >= sim.max_in_system {
            return Err(BadInput(format!(
                "{shown}: the closed classes have {users} users in all; --max-in-system {} must be above that",
                sim.max_in_system
            )));
        }
        Ok(())
    }

    /// What watches the replications: Ctrl-C, the time limit, and
    /// `progress` if given.
    pub(crate) fn watch<'a>(
        &self,
        progress: Option<&'a (dyn Fn(u32, SimTime) + Sync)>,
    ) -> Result<Watch<'a>, BadInput> {
        let time_limit = match &self.time_limit {
            Some(t) => Some(std::time::Duration::from_secs_f64(
                positive_duration("--time-limit", t)?.as_secs_f64(),
            )),
            None => None,
        };
        Ok(Watch {
            interrupt: Some(crate::interrupt::flag()),
            time_limit,
            progress,
        })
    }

    /// The flags as command-line arguments, for the jobs of `sweep --emit`.
    pub(crate) fn to_args(&self) -> Vec<String> {
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
        if let Some(w) = &self.warmup {
            args.extend(["--warmup".to_owned(), w.clone()]);
        }
        if let Some(n) = self.max_in_system {
            args.extend(["--max-in-system".to_owned(), n.to_string()]);
        }
        if let Some(t) = &self.time_limit {
            args.extend(["--time-limit".to_owned(), t.clone()]);
        }
        args
    }

    /// The flags as text, for the sweep's fingerprint.
    pub(crate) fn describe(&self) -> String {
        let mut text = format!(
            "{:?} {:?} {:?}",
            self.seed, self.replications, self.duration
        );
        // Appended only when set, so that sweeps begun without it resume.
        if let Some(n) = self.max_in_system {
            text.push_str(&format!(" max_in_system={n}"));
        }
        if let Some(w) = &self.warmup {
            text.push_str(&format!(" warmup={w}"));
        }
        // A time limit may stop replications, which changes their figures.
        if let Some(t) = &self.time_limit {
            text.push_str(&format!(" time_limit={t}"));
        }
        text
    }
}

/// A flag's duration, such as "1000s": it must have a unit and be positive.
pub(crate) fn positive_duration(flag: &str, text: &str) -> Result<SimTime, BadInput> {
    match parse_duration(text) {
        Ok(secs) if SimTime::from_secs_f64(secs) > SimTime::ZERO => {
            Ok(SimTime::from_secs_f64(secs))
        }
        Ok(secs) if secs > 0.0 => Err(BadInput(format!(
            "{flag} must be at least a nanosecond, found {text}"
        ))),
        Ok(_) => Err(BadInput(format!("{flag} must be positive, found {text}"))),
        Err(_) if text.trim_start().starts_with('-') => {
            Err(BadInput(format!("{flag} must be positive, found {text}")))
        }
        Err(e) => Err(BadInput(format!("{flag} {text}: {}", e.message))),
    }
}

/// The SLO was missed (by the run, by every design compared, by every
/// sweep point), and the command was not told to ignore it: exit code 3,
/// after everything was printed and written, as load-testing tools do
/// when a threshold fails.
#[derive(Debug)]
pub(crate) struct SloMissed(pub(crate) String);

impl std::fmt::Display for SloMissed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: exit code 3 (--no-fail-on-slo exits 0)", self.0)
    }
}

impl std::error::Error for SloMissed {}

/// Whether to fail on a missed SLO (shared by `run`, `compare`, `sweep`).
#[derive(clap::Args, Debug, Clone, Copy)]
pub(crate) struct SloExit {
    /// Exit 0 even when the SLO is missed (by default, exit code 3 when the
    /// run misses it, or no design or sweep point meets it).
    #[arg(long)]
    pub(crate) no_fail_on_slo: bool,
}

impl SloExit {
    /// `Err(SloMissed)` when `missed` (a description) and not told to
    /// ignore it.
    pub(crate) fn check(self, missed: Option<String>) -> anyhow::Result<()> {
        match missed {
            Some(what) if !self.no_fail_on_slo => Err(SloMissed(what).into()),
            _ => Ok(()),
        }
    }
}

/// `--html FILE` (shared by `run`, `compare`, `sweep`, `diagnose`): one
/// self-contained HTML page of the report.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct HtmlOut {
    /// Also write the report as one self-contained HTML page (inline
    /// charts and styles, no script, nothing fetched) to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<PathBuf>,
}

impl HtmlOut {
    /// Before simulating: that the file can be written (its folder
    /// exists, it is not a folder), so that no result waits on a typo.
    pub(crate) fn check(&self) -> anyhow::Result<()> {
        let Some(path) = &self.html else {
            return Ok(());
        };
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if path.is_dir() {
            return Err(BadInput(format!("--html {}: is a folder", path.display())).into());
        }
        if !folder.is_dir() {
            return Err(BadInput(format!(
                "--html {}: no folder {}",
                path.display(),
                folder.display()
            ))
            .into());
        }
        Ok(())
    }

    /// Writes `page` (built only when asked for).
    pub(crate) fn write(&self, page: impl FnOnce() -> String) -> anyhow::Result<()> {
        if let Some(path) = &self.html {
            std::fs::write(path, page())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }
}

/// Before simulating: that a folder flag (`--out`, `--timeseries`) does
/// not name a file, so that no result waits on a typo.
pub(crate) fn check_folder(flag: &str, path: Option<&Path>) -> anyhow::Result<()> {
    match path {
        Some(p) if p.exists() && !p.is_dir() => {
            Err(BadInput(format!("{flag} {}: is a file, not a folder", p.display())).into())
        }
        _ => Ok(()),
    }
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

/// The folder a scenario file is in, which the files it names are
/// relative to.
pub(crate) fn folder(path: &Path) -> &Path {
    // A bare file name's parent is "": names joined to it stay relative
    // to the current directory.
    path.parent().unwrap_or(Path::new(""))
}

/// A scenario as read from its file.
pub(crate) struct Loaded {
    /// The text, for sweep points and diagnostics.
    pub(crate) source: String,
    /// The path as shown to the user.
    pub(crate) shown: String,
    /// The folder it is in.
    pub(crate) dir: std::path::PathBuf,
    /// The validated scenario, named by its `name` or its file's.
    pub(crate) study: Study,
}

/// Reads and validates a scenario, printing its diagnostics to stderr.
pub(crate) fn load(path: &Path) -> anyhow::Result<Loaded> {
    let shown = path.display().to_string();
    let source =
        std::fs::read_to_string(path).map_err(|e| BadInput(format!("cannot read {shown}: {e}")))?;
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let (study, diagnostics) = Study::load(&source, &stem, Some(folder(path)));
    if !diagnostics.is_empty() {
        eprint!("{}", diagnostics::render(&shown, &source, &diagnostics));
    }
    // Errors were printed above; exit 2 without repeating them.
    let study = study.ok_or_else(|| BadInput(String::new()))?;
    Ok(Loaded {
        source,
        shown,
        dir: folder(path).to_path_buf(),
        study,
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        sim: SimFlags,
    }

    /// Every flag that changes results reaches an emitted job's command
    /// line: parsed back, the flags describe the same sweep.
    #[test]
    fn every_flag_reaches_the_emitted_jobs() {
        let given = Flags::parse_from([
            "chokepoint",
            "--seed",
            "1",
            "--replications",
            "2",
            "--duration",
            "3s",
            "--warmup",
            "4s",
            "--max-in-system",
            "5",
            "--time-limit",
            "6s",
        ]);
        let args = given.sim.to_args();
        let again = Flags::parse_from(std::iter::once("chokepoint".to_owned()).chain(args));
        assert_eq!(again.sim.describe(), given.sim.describe());
        assert!(given.sim.describe().contains("warmup=4s"));
    }
}
