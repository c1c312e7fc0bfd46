//! The capacity table beside a run: each resource's utilisation by the
//! operational laws (`crate::capacity`) and in the simulation, and whether
//! they agree within the run's interval. Where they do not, the run is not
//! the steady state the laws describe (docs/diagnose.md says which
//! effects), or a pool is held longer than its work: waiting for its calls.

use std::collections::{BTreeMap, HashMap};

use chokepoint_core::model::{Load, StationId};
use chokepoint_scenario::Scenario;
use chokepoint_scenario::layout::ServiceKind;

use crate::capacity::{CapacityRow, ResourceClass, resource};
use crate::summary::{Beside, StationSummary, Summary};

/// A resource's use in a run, named as the table names it.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// Its service.
    pub service: String,
    /// What it is (`cpu`, `pool`, `lock NAME`, ...).
    pub what: String,
    /// Its kind.
    pub class: ResourceClass,
    /// Whether it is a pool's slots.
    pub slots: bool,
    /// Its busiest member's utilisation (a replica's, a leader's).
    pub busiest: f64,
    /// Its mean utilisation over its units.
    pub mean: f64,
    /// The mean's 95% half-width, where the run gives one.
    pub mean_ci95: Option<f64>,
}

/// Every resource of a run's `summary` of `scenario` and how it was used,
/// named as [`crate::capacity::capacity`] names them, in the order of service and name.
pub fn measured(summary: &Summary, scenario: &Scenario) -> Vec<Measured> {
    let topology = &scenario.topology;
    let station: HashMap<&str, StationId> = topology
        .stations
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), StationId(i as u32)))
        .collect();
    // Per resource: its entry, and the weights (units) and half-widths
    // its mean is made of.
    let mut seen: BTreeMap<(String, String), (Measured, f64, Option<f64>)> = BTreeMap::new();
    let mut note = |service: &str,
                    (what, class): (String, ResourceClass),
                    slots: bool,
                    (utilization, ci, units): (f64, Option<f64>, f64)| {
        let (m, weight, half) = seen
            .entry((service.to_owned(), what.clone()))
            .or_insert_with(|| {
                (
                    Measured {
                        service: service.to_owned(),
                        what,
                        class,
                        slots,
                        busiest: 0.0,
                        mean: 0.0,
                        mean_ci95: None,
                    },
                    0.0,
                    Some(0.0),
                )
            });
        m.busiest = m.busiest.max(utilization);
        // Weighted by units; the half-widths added as if the members moved
        // together (a conservative bound).
        m.mean = (m.mean * *weight + utilization * units) / (*weight + units);
        *half = half
            .zip(ci)
            .map(|(h, c)| (h * *weight + c * units) / (*weight + units));
        *weight += units;
        m.mean_ci95 = *half;
    };
    for (name, s) in &summary.stations {
        let Some(layout) = scenario.services.iter().find(|l| &l.name == name) else {
            continue;
        };
        let parts: Vec<(&String, &StationSummary)> = match &s.parts {
            Some(parts) => parts.iter().collect(),
            None => vec![(name, s)],
        };
        for (part, p) in parts {
            if let (Some(servers), Some(&id)) = (p.servers, station.get(part.as_str()))
                && let Some(what) = resource(scenario, id, false)
            {
                let use_ = (p.utilization, p.utilization_ci95, f64::from(servers));
                note(name, what, false, use_);
            }
        }
        for (lock, l) in s.locks.iter().flatten() {
            let what = (format!("lock {lock}"), ResourceClass::Lock);
            let use_ = (l.utilization, l.utilization_ci95, f64::from(l.stripes));
            note(name, what, false, use_);
        }
        // A pool's slots: at the service's first station with one (a
        // queue's are its worker's workers, their row).
        let pool = (0..topology.stations.len()).find(|&i| {
            scenario.origins[i].service == layout.id && topology.stations[i].admission.is_some()
        });
        if let (Some(w), Some(i)) = (&s.workers, pool)
            && layout.kind != ServiceKind::Queue
            && let Some(what) = resource(scenario, StationId(i as u32), true)
        {
            let use_ = (w.utilization, None, f64::from(w.slots));
            note(name, what, true, use_);
        }
    }
    seen.into_values().map(|(m, ..)| m).collect()
}

/// Each row of the `table` of `scenario` beside its use in `summary`, for
/// a steady open load the table says it can carry (empty with a load
/// profile, a closed class, an autoscaler, or a resource overloaded).
pub fn beside(summary: &Summary, scenario: &Scenario, table: &[CapacityRow]) -> Vec<Beside> {
    let steady = scenario
        .topology
        .classes
        .iter()
        .all(|c| matches!(c.load, Load::Open { profile: None, .. }))
        && scenario.services.iter().all(|s| s.autoscaler.is_none())
        && table.iter().all(|r| r.utilization < 1.0);
    if !steady {
        return Vec::new();
    }
    let runs = measured(summary, scenario);
    table
        .iter()
        .filter_map(|r| {
            let m = runs
                .iter()
                .find(|m| m.service == r.service && m.what == r.what)?;
            // From the 95% half-width to the 99.9% one (normal quantiles).
            let band = m
                .mean_ci95
                .map_or(0.02 * r.mean, |h| h * 3.29 / 1.96)
                .max(1e-3);
            let bound = match r.class {
                _ if r.slots => "≥",
                ResourceClass::Gc => "≤",
                _ => "=",
            };
            let verdict = match bound {
                _ if (m.mean - r.mean).abs() <= band => "agrees",
                "≥" if m.mean > r.mean => "above_bound",
                "≤" if m.mean < r.mean => "below_bound",
                _ => "differs",
            };
            Some(Beside {
                resource: format!("{} {}", r.service, r.what),
                analytic: r.mean,
                bound,
                simulated: m.mean,
                simulated_ci95: m.mean_ci95,
                verdict,
            })
        })
        .collect()
}
