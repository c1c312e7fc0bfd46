//! `[[faults]]` onto stations, once every service's layout is known: which
//! stations a fault strikes, and, for a crash, the balancer entries that
//! send to them.
//!
//! - a crash strikes a replica's own stations and its call points (the
//!   requests awaiting a call made from it fail with it); a service
//!   lowered to one station (a `station`, an `external`) is that station;
//! - a slowdown strikes the stations that do work (not the call points,
//!   which take none);
//! - raised errors strike the first station of each replica, so that each
//!   request to it fails once with the given probability;
//! - with `to`, a slowdown or raised errors strike the network from the
//!   service to another: its calls' hops there (which a call has when it
//!   has a `latency`).

use chokepoint_core::model::{Effect, Fault, StationId};

use super::Lowered;
use crate::diagnostic::Diagnostic;
use crate::read::Document;
use crate::read::faults::{FaultDef, FaultKind};

/// The faults of `doc`, on `lowered`'s stations; a replica that does not
/// exist is an error.
pub(crate) fn faults(doc: &Document, lowered: &Lowered, diags: &mut Vec<Diagnostic>) -> Vec<Fault> {
    doc.faults
        .iter()
        .flatten()
        .filter_map(|def| fault(def, doc, lowered, diags))
        .collect()
}

fn fault(
    def: &FaultDef,
    doc: &Document,
    lowered: &Lowered,
    diags: &mut Vec<Diagnostic>,
) -> Option<Fault> {
    let service = doc.services.iter().position(|s| s.name == def.service)?;
    let layout = &lowered.layouts[service];
    let replicas: Vec<usize> = match (&def.replica, layout.replicas.len()) {
        (None, n) => (0..n).collect(),
        (Some((k, span)), n) if *k as usize >= n => {
            let message = if n == 0 {
                format!("`{}` has no replicas to choose from", def.service)
            } else {
                format!(
                    "`{}` has {n} replica(s), numbered from 0: there is no replica {k}",
                    def.service
                )
            };
            diags.push(
                Diagnostic::error(message, Some(span.clone()))
                    .with_help("leave `replica` out to strike every replica"),
            );
            return None;
        }
        (Some((k, _)), _) => vec![*k as usize],
    };
    if let Some((to, span)) = &def.to {
        // The network from the service to `to`: its calls' hops there.
        let callee = doc.services.iter().position(|s| &s.name == to)?;
        let entry = lowered.layouts[callee].entry;
        let hops: Vec<StationId> = layout
            .hops
            .iter()
            .copied()
            .filter(|h| {
                let origin = &lowered.origins[h.idx()];
                let station = &lowered.topology.stations[h.idx()];
                origin.part == crate::layout::Part::Hop
                    && origin
                        .replica
                        .is_none_or(|r| replicas.contains(&(r as usize)))
                    && station
                        .behaviour
                        .iter()
                        .flatten()
                        .any(|b| b.routing.next.iter().any(|&(t, _)| t == entry))
            })
            .collect();
        if hops.is_empty() {
            diags.push(
                Diagnostic::error(
                    format!(
                        "`{}` makes no call to `{to}` with a network `latency` to raise",
                        def.service
                    ),
                    Some(span.clone()),
                )
                .with_help(format!(
                    "give the call a latency, such as calls = [{{ to = \"{to}\", latency = \"const(1ms)\" }}]"
                )),
            );
            return None;
        }
        return Some(Fault {
            stations: hops,
            effect: match def.kind {
                FaultKind::Slow { factor } => Effect::Slow { factor },
                FaultKind::Errors { probability } => Effect::Errors { probability },
                FaultKind::Crash { .. } => return None,
            },
            at: def.at,
            lasts: def.lasts.clone(),
            every: def.every.clone(),
        });
    }
    let stations: Vec<StationId> = if replicas.is_empty() {
        vec![layout.entry]
    } else {
        replicas
            .iter()
            .flat_map(|&k| {
                let r = &layout.replicas[k];
                match def.kind {
                    FaultKind::Crash { .. } => r
                        .own
                        .iter()
                        .map(|&(_, s)| s)
                        .chain(r.calls.iter().copied())
                        .collect::<Vec<_>>(),
                    FaultKind::Slow { .. } => r.own.iter().map(|&(_, s)| s).collect(),
                    FaultKind::Errors { .. } => vec![r.head()],
                }
            })
            .collect()
    };
    let effect = match def.kind {
        FaultKind::Crash { detect } => {
            // The balancer entries that send to a struck station.
            let targets = super::senders(&lowered.topology.stations, &stations);
            Effect::Crash { detect, targets }
        }
        FaultKind::Slow { factor } => Effect::Slow { factor },
        FaultKind::Errors { probability } => Effect::Errors { probability },
    };
    Some(Fault {
        stations,
        effect,
        at: def.at,
        lasts: def.lasts.clone(),
        every: def.every.clone(),
    })
}
