//! The scenario format of chokepoint: TOML text to a validated model.
//!
//! [`load`] reads a scenario and returns a [`Scenario`] (a
//! [`chokepoint_core::model::Topology`] plus how to run it) together with
//! every problem found, each a [`Diagnostic`] with a byte span in the text.
//! Rendering diagnostics (line, column, colours) is the caller's business.
//!
//! ```
//! let text = r#"
//! name = "mm1"
//! [simulation]
//! duration = "1000s"
//! [load.jobs]
//! rate = "0.5/s"
//! entry = "server"
//! [services.server]
//! kind = "station"
//! work = "exp(1s)"
//! "#;
//! let loaded = chokepoint_scenario::load(text);
//! assert!(loaded.diagnostics.is_empty());
//! let scenario = loaded.scenario.unwrap();
//! assert_eq!(scenario.topology.stations[0].servers(), 1);
//!
//! // A typo is found, located and explained.
//! let broken = text.replace("work =", "wrok =");
//! let loaded = chokepoint_scenario::load(&broken);
//! assert!(loaded.scenario.is_none());
//! assert_eq!(loaded.diagnostics[0].help.as_deref(), Some("did you mean `work`?"));
//! ```
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]

mod calls;
mod data;
pub mod diagnostic;
mod load;
pub mod profiles;
mod replicated;
pub mod spec;
pub mod units;

pub use diagnostic::{Diagnostic, Severity, line_col};
pub use load::{Loaded, Override, Scenario, Simulation, load, load_with};
pub use replicated::{CallSite, LockInfo, ServiceInfo};
pub use spec::{Point, Slo, SweepSpec, load_points};
