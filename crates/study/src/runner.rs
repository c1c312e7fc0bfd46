//! Parallel, deterministic execution of independent replications, and of
//! the points of a sweep.
//!
//! Replication `r` of a run seeded `s` always uses the seed
//! [`chokepoint_core::rng::replication_seed`]`(s, r)`, and results come back in
//! replication order, so the output does not depend on how many threads ran
//! them or in which order they finished.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chokepoint_core::model::{ModelError, RunConfig, Topology};
use chokepoint_core::rng::{derive, name_key, replication_seed};
use chokepoint_core::stats::{RunStats, Stop};
use chokepoint_core::time::SimTime;
use rayon::prelude::*;

/// What watches replications while they run: the user's interruption, a
/// wall-clock limit per replication, and their progress. The default
/// watches nothing. Only the interruption and the time limit can change
/// what a run gives (it stops early, and says so).
#[derive(Clone, Copy, Default)]
pub struct Watch<'a> {
    /// Once set, running replications stop and are dropped, and the others
    /// do not start.
    pub interrupt: Option<&'a AtomicBool>,
    /// A replication running longer than this stops early, keeping what it
    /// measured ([`Stop::TimeLimit`]).
    pub time_limit: Option<Duration>,
    /// Told (replication, simulated time reached) as each runs.
    pub progress: Option<&'a (dyn Fn(u32, SimTime) + Sync)>,
}

impl std::fmt::Debug for Watch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("interrupt", &self.interrupt)
            .field("time_limit", &self.time_limit)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Watch<'_> {
    /// Whether the user interrupted.
    pub fn interrupted(&self) -> bool {
        self.interrupt.is_some_and(|i| i.load(Ordering::Relaxed))
    }

    /// Runs replication `r` of `topology`, seeded `seed`: `None` when
    /// interrupted (before it started, or while it ran).
    fn run(
        &self,
        topology: &Topology,
        config: &RunConfig,
        seed: u64,
        r: u32,
    ) -> Result<Option<RunStats>, ModelError> {
        if self.interrupted() {
            return Ok(None);
        }
        let started = Instant::now();
        let watch = |now: SimTime| {
            if let Some(progress) = self.progress {
                progress(r, now);
            }
            if self.interrupted() {
                Some(Stop::Interrupted)
            } else if self.time_limit.is_some_and(|l| started.elapsed() > l) {
                Some(Stop::TimeLimit)
            } else {
                None
            }
        };
        let stats = chokepoint_core::run_watched(topology, config, seed, &watch)?;
        if let Some(progress) = self.progress {
            progress(
                r,
                SimTime(config.warmup.0.saturating_add(config.duration.0)),
            );
        }
        let interrupted = stats.stopped.is_some_and(|s| s.cause == Stop::Interrupted);
        Ok((!interrupted).then_some(stats))
    }
}

/// The seed of sweep point `index` in a sweep seeded `seed`; its replication
/// `r` then uses [`replication_seed`]`(point_seed(seed, index), r)`.
pub fn point_seed(seed: u64, index: usize) -> u64 {
    derive(seed, &[name_key("point"), index as u64])
}

/// One point of a sweep, ready to run.
#[derive(Clone, Debug)]
pub(crate) struct PointJob {
    /// What to simulate.
    pub(crate) topology: Topology,
    /// Warm-up and duration.
    pub(crate) config: RunConfig,
    /// The point's seed (see [`point_seed`]).
    pub(crate) seed: u64,
    /// How many replications.
    pub(crate) replications: u32,
}

/// Runs every replication of every job in parallel, as one pool of
/// (point, replication) tasks so that two threads stay busy even when points
/// are few. When the last replication of a point finishes, `on_point` gets
/// the point's job index (in `jobs`) and its replications in order. Points
/// finish in any order; what each gets does not depend on the thread count.
/// Once interrupted, no point is finished: those done so far were given.
pub(crate) fn run_points<F>(jobs: &[PointJob], watch: &Watch, on_point: F) -> Result<(), ModelError>
where
    F: Fn(usize, Vec<RunStats>) + Sync,
{
    for job in jobs {
        job.topology.validate()?;
    }
    let slots: Vec<Mutex<Vec<Option<RunStats>>>> = jobs
        .iter()
        .map(|j| Mutex::new(vec![None; j.replications as usize]))
        .collect();
    let tasks: Vec<(usize, u32)> = jobs
        .iter()
        .enumerate()
        .flat_map(|(j, job)| (0..job.replications).map(move |r| (j, r)))
        .collect();
    tasks.into_par_iter().try_for_each(|(j, r)| {
        let job = &jobs[j];
        let seed = replication_seed(job.seed, u64::from(r));
        let Some(stats) = watch.run(&job.topology, &job.config, seed, r)? else {
            return Ok(());
        };
        let done = {
            // A poisoned lock means another task panicked; that panic is
            // propagated by rayon, so unwrapping the guard here is moot.
            let mut slot = slots[j].lock().unwrap_or_else(|e| e.into_inner());
            slot[r as usize] = Some(stats);
            if slot.iter().all(Option::is_some) {
                Some(
                    slot.iter_mut()
                        .map(|s| s.take().expect("all present"))
                        .collect::<Vec<_>>(),
                )
            } else {
                None
            }
        };
        if let Some(runs) = done
            && !watch.interrupted()
        {
            on_point(j, runs);
        }
        Ok(())
    })
}

/// Runs `replications` independent replications in parallel on rayon's
/// pool, in order; `None` for those interrupted.
pub fn replicate(
    topology: &Topology,
    config: &RunConfig,
    seed: u64,
    replications: u32,
    watch: &Watch,
) -> Result<Vec<Option<RunStats>>, ModelError> {
    topology.validate()?;
    (0..replications)
        .into_par_iter()
        .map(|r| watch.run(topology, config, replication_seed(seed, u64::from(r)), r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chokepoint_core::dist::Dist;
    use chokepoint_core::model::*;
    use chokepoint_core::time::SimTime;

    /// One FIFO station with `servers` exp(1 s) servers, fed at `rate` per second.
    fn queue(servers: u32, rate: f64) -> Topology {
        Topology {
            stations: vec![Station::new(
                "q",
                servers,
                Discipline::Fifo,
                vec![Some(Behaviour {
                    work: Dist::exp(1e9).unwrap(),
                    routing: Routing::exit(),
                })],
            )],
            classes: vec![Class {
                name: "jobs".into(),
                entry: StationId(0),
                priority: 0,
                deadline: None,
                rate_limit: None,
                load: Load::Open {
                    process: ArrivalProcess::Poisson,
                    rate,
                    profile: None,
                },
            }],
            faults: Vec::new(),
            autoscalers: Vec::new(),
        }
    }

    /// The same seed gives bit-identical replications on 1 thread and on 4.
    #[test]
    fn thread_count_does_not_change_results() {
        let topology = queue(2, 1.5);
        let config = RunConfig::new(SimTime::ZERO, SimTime::from_secs_f64(2_000.0));
        let on = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| replicate(&topology, &config, 42, 6, &Watch::default()).unwrap())
        };
        let one = on(1);
        let four = on(4);
        let key = |runs: &[Option<RunStats>]| -> Vec<(u64, u64)> {
            runs.iter()
                .flatten()
                .map(|r| {
                    (
                        r.classes[0].latency_sum.to_bits(),
                        r.stations[0].system_area.to_bits(),
                    )
                })
                .collect()
        };
        assert_eq!(key(&one), key(&four));
        // And the replications differ from one another.
        assert_ne!(key(&one)[0], key(&one)[1]);
    }

    /// Each point of a sweep gets exactly the replications `replicate` would
    /// give with the point's seed, whichever order the points finish in.
    #[test]
    fn points_equal_independent_replications() {
        let topology = |servers| queue(servers, 0.8);
        let config = RunConfig::new(SimTime::ZERO, SimTime::from_secs_f64(500.0));
        let jobs: Vec<PointJob> = (0..5)
            .map(|i| PointJob {
                topology: topology(1 + i as u32),
                config,
                seed: point_seed(9, i),
                replications: 3,
            })
            .collect();
        let got = std::sync::Mutex::new(vec![None; jobs.len()]);
        run_points(&jobs, &Watch::default(), |j, runs| {
            let sums: Vec<u64> = runs
                .iter()
                .map(|r| r.classes[0].latency_sum.to_bits())
                .collect();
            got.lock().unwrap()[j] = Some(sums);
        })
        .unwrap();
        for (j, job) in jobs.iter().enumerate() {
            let expected: Vec<u64> = replicate(
                &job.topology,
                &job.config,
                job.seed,
                job.replications,
                &Watch::default(),
            )
            .unwrap()
            .iter()
            .map(|r| r.as_ref().unwrap().classes[0].latency_sum.to_bits())
            .collect();
            assert_eq!(got.lock().unwrap()[j].as_ref(), Some(&expected));
        }
        assert_ne!(point_seed(9, 0), point_seed(9, 1));
    }
}
