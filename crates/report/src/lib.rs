//! Results of chokepoint runs: estimates across replications ([`summarize`])
//! and their renderings for people ([`table`]) and for scripts ([`json`],
//! [`csv`]). Everything here returns strings; printing is the CLI's job.
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]

pub mod beside;
pub mod capacity;
pub mod compare;
pub mod diagnosis;
mod figures;
mod format;
pub mod html;
pub mod markdown;
pub mod plot;
pub mod series;
pub mod slo;
pub mod summary;
pub mod sweep;

pub use capacity::{capacity, capacity_table};
pub use format::{csv, json, table};
pub use series::{timeseries, timeseries_csv};
pub use summary::{Estimate, Metastability, RunInfo, Summary, Verdict, summarize, t_quantile};
