//! The pipeline a user runs, as a library: a scenario loaded once (a
//! [`Study`]), its replications run in parallel and deterministically,
//! summarized and judged against its SLO ([`Study::run`]); and the points of
//! a sweep, each a study of its own ([`run_sweep`]). The CLI's `run`,
//! `compare` and `sweep`, and the validation against theory, all call it.
//!
//! Replication `r` of a study seeded `s` uses the seed
//! [`chokepoint_core::rng::replication_seed`]`(s, r)`, a sweep's point `i`
//! the seed [`point_seed`]`(s, i)`, and results come back in order, so the
//! output does not depend on how many threads ran them.
//!
//! ```
//! let source = r#"
//! [simulation]
//! duration = "2000s"
//! replications = 4
//!
//! [load.jobs]
//! rate = "0.5/s"
//! entry = "q"
//!
//! [services.q]
//! kind = "station"
//! work = "exp(1s)"
//! "#;
//! let (study, diagnostics) = chokepoint_study::Study::load(source, "mm1", None);
//! assert!(diagnostics.is_empty());
//! let study = study.unwrap();
//! let outcome = study
//!     .run(&study.scenario.simulation, None, &Default::default())
//!     .unwrap();
//! assert_eq!(outcome.runs.len(), 4);
//! // M/M/1 at ρ = 0.5: a mean response of 2 s.
//! let mean = outcome.summary.classes["jobs"].latency.mean.unwrap();
//! assert!((mean - 2.0).abs() < 0.3, "{mean}");
//! ```
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]

pub mod diagnose;
mod metastable;
mod runner;

use std::time::Instant;

use chokepoint_core::model::{ModelError, RunConfig};
use chokepoint_core::stats::RunStats;
use chokepoint_core::time::SimTime;
use chokepoint_report::summary::Interrupted;
use chokepoint_report::{RunInfo, Summary, summarize};
use chokepoint_scenario::{Diagnostic, Point, Scenario, Simulation};
pub use metastable::Trigger;

pub use runner::{Watch, point_seed, replicate};

/// A scenario loaded once, with the name it is reported under and the
/// warnings its loading gave.
#[derive(Clone, Debug)]
pub struct Study {
    /// The scenario's `name`, or the caller's fallback (a file's name).
    pub name: String,
    /// What to simulate, and how (`[simulation]`, `[slo]`, `[sweep]`).
    pub scenario: Scenario,
    /// The loader's warnings, carried into the summary.
    pub warnings: Vec<String>,
}

/// What running a study gave: every replication, the summary over them
/// (judged against the scenario's SLO when it has one), and what the
/// summary was made from (for the time series).
#[derive(Debug)]
pub struct Outcome {
    /// The replications, in order.
    pub runs: Vec<RunStats>,
    /// Means, intervals and percentiles over them, and the SLO verdict.
    pub summary: Summary,
    /// The run's description, as summarized.
    pub info: RunInfo,
}

impl Study {
    /// A study of `scenario`, reported as `name`.
    pub fn new(name: impl Into<String>, scenario: Scenario, warnings: Vec<String>) -> Study {
        Study {
            name: name.into(),
            scenario,
            warnings,
        }
    }

    /// Loads a scenario's text; `fallback` names it when it has no `name`;
    /// files it names (a rate `trace`) are relative to `dir` (the current
    /// directory if `None`). The study is present when no diagnostic is an
    /// error; every diagnostic (warnings too) comes back, in the order of
    /// the file.
    pub fn load(
        source: &str,
        fallback: &str,
        dir: Option<&std::path::Path>,
    ) -> (Option<Study>, Vec<Diagnostic>) {
        let loaded = chokepoint_scenario::load_in(source, dir, &[]);
        let study = loaded.scenario.map(|scenario| {
            let warnings = loaded
                .diagnostics
                .iter()
                .map(|d| d.message.clone())
                .collect();
            let name = scenario.name.clone().unwrap_or_else(|| fallback.to_owned());
            Study::new(name, scenario, warnings)
        });
        (study, loaded.diagnostics)
    }

    /// Runs the study with `sim`'s seed, replications, warm-up and duration
    /// (its own `[simulation]`, or another's to compare under the same
    /// settings), on the current rayon pool, recording a time series in
    /// windows of `window` if set; then summarizes and judges it.
    ///
    /// `watch` may stop it early: replications that pass their time limit
    /// or `sim.max_in_system` keep what they measured and say so; once
    /// interrupted, those finished are summarized and the summary says how
    /// many were asked ([`Failed::Interrupted`] when none had finished).
    pub fn run(
        &self,
        sim: &Simulation,
        window: Option<SimTime>,
        watch: &Watch,
    ) -> Result<Outcome, Failed> {
        let started = Instant::now();
        // A run with a trigger (a spike, a fault that strikes once) is
        // judged against a control without it: both need windows.
        let total = sim.warmup.0.saturating_add(sim.duration.0);
        let trigger = Trigger::of(&self.scenario.topology).filter(|t| t.ends < total as f64);
        let window = window.or_else(|| {
            trigger
                .as_ref()
                .map(|_| SimTime((total / 1000).max(1_000_000_000)))
        });
        let runs = self.replicate(sim, window, watch)?;
        let wall = started.elapsed().as_secs_f64();
        // The replications that finished, and their numbers.
        let (numbers, finished): (Vec<u32>, Vec<RunStats>) = runs
            .into_iter()
            .enumerate()
            .filter_map(|(r, run)| Some((r as u32, run?)))
            .unzip();
        if finished.is_empty() {
            return Err(Failed::Interrupted);
        }
        let (info, mut summary) = self.summarize(sim, &finished, wall);
        for s in &mut summary.stopped {
            s.replication = numbers[s.replication as usize];
        }
        if finished.len() < sim.replications as usize {
            summary.interrupted = Some(Interrupted {
                asked: sim.replications,
                finished: finished.len() as u32,
            });
        }
        if let Some(trigger) = &trigger
            && summary.interrupted.is_none()
        {
            let config = RunConfig {
                window,
                ..config(sim)
            };
            let control: Vec<RunStats> =
                replicate(&trigger.control, &config, sim.seed, sim.replications, watch)?
                    .into_iter()
                    .flatten()
                    .collect();
            if control.len() == finished.len() {
                summary.metastability = trigger.judge(&self.scenario.topology, &finished, &control);
            }
        }
        Ok(Outcome {
            runs: finished,
            summary,
            info,
        })
    }

    /// Only the replications of [`Study::run`], in order, without a
    /// summary; `None` for those interrupted.
    pub fn replicate(
        &self,
        sim: &Simulation,
        window: Option<SimTime>,
        watch: &Watch,
    ) -> Result<Vec<Option<RunStats>>, ModelError> {
        let config = RunConfig {
            window,
            ..config(sim)
        };
        replicate(
            &self.scenario.topology,
            &config,
            sim.seed,
            sim.replications,
            watch,
        )
    }

    /// Summarizes replications of this study run with `sim`, which took
    /// `wall` seconds, and judges them against its SLO.
    pub fn summarize(&self, sim: &Simulation, runs: &[RunStats], wall: f64) -> (RunInfo, Summary) {
        let info = RunInfo {
            scenario: self.name.clone(),
            seed: sim.seed,
            warmup: sim.warmup.as_secs_f64(),
            wall,
            warnings: self.warnings.clone(),
            services: self.scenario.services.clone(),
            faults: self.scenario.faults.clone(),
        };
        let mut summary = summarize(&info, runs);
        if let Some(exact) = chokepoint_core::analysis::product_form(&self.scenario.topology) {
            let names: Vec<String> = self
                .scenario
                .topology
                .classes
                .iter()
                .map(|c| c.name.clone())
                .collect();
            summary.theory = chokepoint_report::summary::theory(&summary, &names, &exact);
        }
        let (_, table) = chokepoint_report::capacity::capacity(&self.scenario);
        summary.analytic = chokepoint_report::beside::beside(&summary, &self.scenario, &table);
        summary.slo = self
            .scenario
            .slo
            .as_ref()
            .map(|slo| chokepoint_report::slo::judge(&summary, slo));
        (info, summary)
    }
}

/// How to run each replication of `sim`, without a time series.
fn config(sim: &Simulation) -> RunConfig {
    RunConfig {
        max_in_system: sim.max_in_system,
        ..RunConfig::new(sim.warmup, sim.duration)
    }
}

/// Why a study gave no summary.
#[derive(Debug)]
pub enum Failed {
    /// The model cannot run.
    Model(ModelError),
    /// The user interrupted it before any replication (or, in a sweep, any
    /// point) had finished.
    Interrupted,
}

impl From<ModelError> for Failed {
    fn from(e: ModelError) -> Failed {
        Failed::Model(e)
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Model(e) => e.fmt(f),
            Failed::Interrupted => f.write_str("interrupted before any replication finished"),
        }
    }
}

impl std::error::Error for Failed {}

/// Runs sweep points, each a study with its own `[simulation]`, its seed
/// derived from its point's index ([`point_seed`]), as one pool of
/// (point, replication) tasks so that every thread stays busy even when
/// points are few. As the last replication of a point finishes, `on_point`
/// gets the point's position in `points` and its summary (without
/// wall-clock time, so that it is a pure function of the scenario and
/// seed). Points finish in any order; what each gets does not depend on
/// the thread count.
pub fn run_sweep<F>(points: &[(Point, Study)], watch: &Watch, on_point: F) -> Result<(), Failed>
where
    F: Fn(usize, Summary) + Sync,
{
    let jobs: Vec<runner::PointJob> = points
        .iter()
        .map(|(point, study)| {
            let sim = &study.scenario.simulation;
            runner::PointJob {
                topology: study.scenario.topology.clone(),
                config: config(sim),
                seed: point_seed(sim.seed, point.index),
                replications: sim.replications,
            }
        })
        .collect();
    runner::run_points(&jobs, watch, |j, runs| {
        let study = &points[j].1;
        let (_, summary) = study.summarize(&study.scenario.simulation, &runs, 0.0);
        on_point(j, summary);
    })?;
    if watch.interrupted() {
        return Err(Failed::Interrupted);
    }
    Ok(())
}
