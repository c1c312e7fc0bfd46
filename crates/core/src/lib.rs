//! The simulation engine of chokepoint: a pure, deterministic discrete-event
//! simulator of queueing networks.
//!
//! The principal function is [`run`]: it takes a [`model::Topology`] (stations,
//! classes, routing), a [`model::RunConfig`] (warm-up and measured duration)
//! and a seed, and returns the [`stats::RunStats`] of one replication.
//!
//! **Architecture invariant:** this crate never touches a file, a wall clock
//! or a terminal. Its output is a pure function of `(Topology, RunConfig,
//! seed)`: run it twice, on any thread, and the numbers are bit-identical.
//!
//! ```
//! use chokepoint_core::{dist::Dist, model::*, time::SimTime};
//!
//! //  jobs ──► [ q: 4 servers, exp(1 s) ] ──► out        (M/M/4 at ρ = 0.9)
//! let topology = Topology {
//!     stations: vec![Station::new(
//!         "q",
//!         4,
//!         Discipline::Fifo,
//!         vec![Some(Behaviour { work: Dist::exp(1e9).unwrap(), routing: Routing::exit() })],
//!     )],
//!     classes: vec![Class {
//!         name: "jobs".into(),
//!         load: Load::Open { process: ArrivalProcess::Poisson, rate: 3.6, profile: None },
//!         entry: StationId(0),
//!         priority: 0,
//!         deadline: None,
//!         rate_limit: None,
//!     }],
//!     faults: Vec::new(),
//!     autoscalers: Vec::new(),
//! };
//! let config = RunConfig::new(SimTime::from_secs_f64(500.0), SimTime::from_secs_f64(20_000.0));
//! let stats = chokepoint_core::run(&topology, &config, 7).unwrap();
//! let utilization = stats.stations[0].utilization(stats.duration);
//! assert!((utilization - 0.9).abs() < 0.03);
//! ```
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]

pub mod analysis;
mod check;
pub mod dist;
mod engine;
pub mod model;
pub mod queue;
pub mod rng;
pub mod routing;
pub mod stats;
pub mod time;

pub use engine::{WATCH_EVERY, run, run_watched};
