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

mod check;
pub mod diagnostic;
pub mod layout;
mod load;
mod lower;
pub mod profiles;
mod read;
mod resolve;
pub mod schema;
pub mod spec;
pub mod units;

pub use diagnostic::{Diagnostic, Severity, line_col};
pub use layout::{CallSite, Origin, Part, ServiceId, ServiceKind, ServiceLayout, ShardLayout};
pub use load::{Loaded, Scenario, load, load_in, load_points, load_with, sweep_diagnostics};
pub use read::{MAX_REPLICATIONS, Simulation};
pub use spec::{Override, Point, Setting, Slo, SweepSpec};
