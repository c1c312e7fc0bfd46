//! Parallel, deterministic execution of independent replications.
//!
//! Replication `r` of a run seeded `s` always uses the seed
//! [`chokepoint_core::rng::replication_seed`]`(s, r)`, and results come back in
//! replication order, so the output does not depend on how many threads ran
//! them or in which order they finished.
//!
//! ```
//! use chokepoint_core::{dist::Dist, model::*, time::SimTime};
//! let topology = Topology {
//!     stations: vec![Station {
//!         name: "q".into(), servers: 1, discipline: Discipline::Fifo, capacity: None,
//!         behaviour: vec![Some(Behaviour { work: Dist::exp(1e9).unwrap(), routing: Routing::exit() })],
//!     }],
//!     classes: vec![Class {
//!         name: "jobs".into(), entry: StationId(0), priority: 0,
//!         load: Load::Open { process: ArrivalProcess::Poisson, rate: 0.5 },
//!     }],
//! };
//! let config = RunConfig { warmup: SimTime::ZERO, duration: SimTime::from_secs_f64(100.0) };
//! let runs = chokepoint_sweep::replicate(&topology, &config, 1, 4).unwrap();
//! assert_eq!(runs.len(), 4);
//! ```
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]

use chokepoint_core::model::{ModelError, RunConfig, Topology};
use chokepoint_core::rng::replication_seed;
use chokepoint_core::stats::RunStats;
use rayon::prelude::*;

/// Runs `replications` independent replications in parallel on rayon's pool.
pub fn replicate(
    topology: &Topology,
    config: &RunConfig,
    seed: u64,
    replications: u32,
) -> Result<Vec<RunStats>, ModelError> {
    topology.validate()?;
    (0..replications)
        .into_par_iter()
        .map(|r| chokepoint_core::run(topology, config, replication_seed(seed, u64::from(r))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chokepoint_core::dist::Dist;
    use chokepoint_core::model::*;
    use chokepoint_core::time::SimTime;

    /// The same seed gives bit-identical replications on 1 thread and on 4.
    #[test]
    fn thread_count_does_not_change_results() {
        let topology = Topology {
            stations: vec![Station {
                name: "q".into(),
                servers: 2,
                discipline: Discipline::Fifo,
                capacity: None,
                behaviour: vec![Some(Behaviour {
                    work: Dist::exp(1e9).unwrap(),
                    routing: Routing::exit(),
                })],
            }],
            classes: vec![Class {
                name: "jobs".into(),
                entry: StationId(0),
                priority: 0,
                load: Load::Open {
                    process: ArrivalProcess::Poisson,
                    rate: 1.5,
                },
            }],
        };
        let config = RunConfig {
            warmup: SimTime::ZERO,
            duration: SimTime::from_secs_f64(2_000.0),
        };
        let on = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| replicate(&topology, &config, 42, 6).unwrap())
        };
        let one = on(1);
        let four = on(4);
        let key = |runs: &[RunStats]| -> Vec<(u64, u64)> {
            runs.iter()
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
}
