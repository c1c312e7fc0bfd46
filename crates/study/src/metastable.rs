//! The metastability detector: does the system recover once its trigger
//! is over?
//!
//! A trigger is a load profile that rises and comes back to where it
//! started (a spike, steps up and down) or a fault that strikes once for a
//! fixed time. The control is the same model without its triggers, run on
//! the same seeds. After the last trigger's end plus a settling time of
//! max(10τ, 10 × the control's mean response), τ the longest call timeout,
//! the goodput of both (completions over arrivals, in the windows of that
//! period) is compared: a system that completes less than half of what its
//! control does (where the control completes at least 90%) is flagged
//! metastable, with what sustains it (retries' share of attempts, work
//! done for callers that had left).

use chokepoint_core::model::{Load, Profile, Role, Topology};
use chokepoint_core::stats::RunStats;
use chokepoint_report::Metastability;

/// What a run's triggers are: when the last ends (nanoseconds since the
/// start) and the model without them.
#[derive(Clone, Debug)]
pub struct Trigger {
    /// When the last trigger ends.
    pub ends: f64,
    /// The model without its triggers.
    pub control: Topology,
}

impl Trigger {
    /// The triggers of `topology`, if it has any.
    pub fn of(topology: &Topology) -> Option<Trigger> {
        let mut control = topology.clone();
        let mut ends: Option<f64> = None;
        for class in &mut control.classes {
            if let Load::Open {
                rate,
                profile: profile @ Some(_),
                ..
            } = &mut class.load
                && let Some(Profile::Points(points)) = profile.as_ref()
                && let (Some(&(_, first)), Some(&(last_at, last))) = (points.first(), points.last())
                && first == last
                && first > 0.0
                && points.iter().any(|&(_, r)| r != first)
            {
                ends = Some(ends.map_or(last_at, |e: f64| e.max(last_at)));
                *rate = first;
                *profile = None;
            }
        }
        control.faults.retain(|f| {
            let once = f.every.is_none() && f.lasts.scv() == 0.0;
            if once {
                let end = f.at + f.lasts.mean();
                ends = Some(ends.map_or(end, |e: f64| e.max(end)));
            }
            !once
        });
        Some(Trigger {
            ends: ends?,
            control,
        })
    }

    /// The longest call timeout of `topology` (nanoseconds; 0 without one).
    fn longest_timeout(topology: &Topology) -> f64 {
        topology
            .stations
            .iter()
            .filter_map(|s| match &s.role {
                Role::Call(c) => c.timeout.as_ref().map(|t| t.after.mean()),
                _ => None,
            })
            .fold(0.0, f64::max)
    }

    /// Compares `runs` (with a time series) with `control` (the same, of
    /// [`Trigger::control`]); `None` when no whole window is left after the
    /// settling time.
    pub fn judge(
        &self,
        topology: &Topology,
        runs: &[RunStats],
        control: &[RunStats],
    ) -> Option<Metastability> {
        // The control's mean response over every class's completions.
        let (sum, n) = control
            .iter()
            .flat_map(|r| &r.classes)
            .fold((0.0, 0u64), |(s, n), c| {
                (s + c.latency_sum, n + c.completed)
            });
        let baseline = if n > 0 { sum / n as f64 } else { 0.0 };
        let settle = (10.0 * Self::longest_timeout(topology)).max(10.0 * baseline);
        let from = self.ends + settle;
        let share = |runs: &[RunStats]| -> Option<(f64, f64)> {
            let mut shares = Vec::new();
            let mut start = 0.0;
            for r in runs {
                let (mut arrived, mut completed) = (0u64, 0u64);
                for w in &r.series {
                    let begins = w.end.0 as f64 - w.length.0 as f64;
                    if begins >= from {
                        if start == 0.0 {
                            start = begins;
                        }
                        arrived += w.arrived.iter().sum::<u64>();
                        completed += w.completed.iter().sum::<u64>();
                    }
                }
                if arrived == 0 {
                    return None;
                }
                shares.push(completed as f64 / arrived as f64);
            }
            Some((shares.iter().sum::<f64>() / shares.len() as f64, start))
        };
        let (goodput, start) = share(runs)?;
        let (control_goodput, _) = share(control)?;
        // What sustains it, over the whole run.
        let (mut retries, mut calls, mut wasted, mut busy) = (0u64, 0u64, 0.0, 0.0);
        for r in runs {
            for s in &r.stations {
                retries += s.retries;
                if s.protected {
                    calls += s.arrivals;
                }
                if !s.call {
                    wasted += s.wasted;
                    busy += s.busy_area;
                }
            }
        }
        Some(Metastability {
            metastable: control_goodput >= 0.9 && goodput < 0.5 * control_goodput,
            trigger_ended: self.ends / 1e9,
            measured_from: start / 1e9,
            goodput,
            control_goodput,
            retries_share: (calls + retries > 0).then(|| retries as f64 / (calls + retries) as f64),
            wasted_share: (busy > 0.0).then(|| wasted / busy),
        })
    }
}
