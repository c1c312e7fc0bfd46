//! The last phase: checks on the lowered model as a whole. The engine's
//! own guard (`Topology::validate`) in the user's words, located at the
//! service or class concerned; classes that can never leave; stations
//! offered more work than they can do (a warning: the run shows what
//! happens).

use std::ops::Range;

use chokepoint_core::analysis;
use chokepoint_core::model::ModelError;

use crate::diagnostic::Diagnostic;
use crate::layout::{Part, ServiceId};
use crate::lower::Lowered;

/// Checks the assembled model: reachability, loops, overload.
pub(crate) fn check(lowered: &Lowered, class_spans: &[Range<usize>], diags: &mut Vec<Diagnostic>) {
    let topology = &lowered.topology;
    let station_spans = &lowered.spans;

    match topology.validate() {
        Ok(()) => {}
        Err(ModelError::NoBehaviour { class, station }) => {
            let s = &topology.stations[station.idx()];
            let c = &topology.classes[class.idx()];
            error(
                diags,
                format!(
                    "service `{}` has no `work` for class `{}`, which reaches it",
                    s.name, c.name
                ),
                station_spans[station.idx()].clone(),
            )
            .help = Some(format!(
                "add work = \"exp(4ms)\" (say) to [services.{0}], or to [services.{0}.on.{1}]",
                s.name, c.name
            ));
            return;
        }
        Err(ModelError::ClosedLossWithoutThink(class)) => {
            let c = &topology.classes[class.idx()];
            error(
                diags,
                format!("closed class `{}` has no think time but can be turned away (by a station's `capacity`, a queue's `capacity` or a balancer whose targets are `down`)", c.name),
                class_spans[class.idx()].clone(),
            )
            .help = Some("a dropped user retries after thinking: give it a think time, such as think = \"exp(1s)\"".into());
            return;
        }
        Err(ModelError::CallCycle(station)) => {
            let service = lowered.origins[station.idx()].service;
            let caller = &lowered.layouts[service.idx()].name;
            error(
                diags,
                format!("service `{caller}` makes a call that leads back to `{caller}` itself: calls must not form a cycle"),
                station_spans[station.idx()].clone(),
            )
            .help = Some("a caller waits for its callee, so a cycle would never end; follow the `calls` (and the callees' `next`) from this service".into());
            return;
        }
        Err(ModelError::BalancerCycle(station)) => {
            let s = &topology.stations[station.idx()];
            error(
                diags,
                format!(
                    "load balancer `{}` only sends requests to load balancers that send them back",
                    s.name
                ),
                station_spans[station.idx()].clone(),
            )
            .help = Some("one of the targets must lead to a station".into());
            return;
        }
        Err(e) => {
            diags.push(Diagnostic::error(format!("invalid model: {e}"), None));
            return;
        }
    }
    let visits = analysis::visit_ratios(topology);
    for (ci, v) in visits.iter().enumerate() {
        if v.is_none() {
            let c = &topology.classes[ci];
            error(
                diags,
                format!("requests of class `{}` can never leave: their routing loops with probability 1", c.name),
                class_spans[ci].clone(),
            )
            .help = Some("make the `next` probabilities of some service on the loop sum below 1".into());
        }
    }
    // Stripes of a lock are alike: one warning for them all.
    let mut warned: Vec<(ServiceId, u32)> = Vec::new();
    for (si, rho) in analysis::offered_load(topology).into_iter().enumerate() {
        if rho >= 1.0 {
            let s = &topology.stations[si];
            let origin = lowered.origins[si];
            let name = match origin.part {
                Part::Stripe(lock, _) => {
                    if warned.contains(&(origin.service, lock)) {
                        continue;
                    }
                    warned.push((origin.service, lock));
                    let service = &lowered.layouts[origin.service.idx()];
                    format!(
                        "lock `{}.lock.{}` (each of its stripes)",
                        service.name, service.locks[lock as usize].name
                    )
                }
                _ => format!("service `{}`", s.name),
            };
            let outcome = if s.queue().is_some_and(|q| q.capacity.is_some()) {
                "it will drop the excess at its capacity"
            } else {
                "its queue will grow without bound and the results depend on the duration"
            };
            diags.push(
                Diagnostic::warning(
                    format!(
                        "{name} is overloaded: offered load ρ = {rho:.3} with {} server(s); {outcome}",
                        s.servers()
                    ),
                    Some(station_spans[si].clone()),
                )
                .with_label(format!("ρ = {rho:.3}"))
                .with_help("add servers, shorten the work, or lower the arrival rate so that ρ < 1"),
            );
        }
    }
}

fn error(diags: &mut Vec<Diagnostic>, message: String, span: Range<usize>) -> &mut Diagnostic {
    diags.push(Diagnostic::error(message, Some(span)));
    diags.last_mut().expect("just pushed")
}
