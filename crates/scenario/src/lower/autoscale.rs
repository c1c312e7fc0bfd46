//! Autoscalers onto stations: every replica an autoscaled service may run
//! was built (its `replicas` are its most); the autoscaler knows each
//! one's CPU, first station and workers, the balancer entries that send to
//! it, and the queues that feed the service.

use chokepoint_core::model::{Autoscaler, ScaledReplica, Station, StationId};

use crate::layout::{ReplicaLayout, Scaled, ServiceLayout};
use crate::read::{Document, KindDef};

/// The autoscalers of `doc`'s services, in file order; each service's
/// layout is told its autoscaler's index.
pub(super) fn autoscalers(
    doc: &Document,
    stations: &[Station],
    layouts: &mut [ServiceLayout],
) -> Vec<Autoscaler> {
    let mut out = Vec::new();
    for (service, layout) in doc.services.iter().zip(layouts.iter_mut()) {
        let Some(KindDef::Replicated(def)) = service.def.as_ref() else {
            continue;
        };
        let Some(a) = &def.autoscale else {
            continue;
        };
        let heads: Vec<StationId> = layout.replicas.iter().map(ReplicaLayout::head).collect();
        let replicas = layout
            .replicas
            .iter()
            .map(|r| {
                let head = r.head();
                ScaledReplica {
                    cpu: r.cpu(),
                    head,
                    targets: super::senders(stations, &[head]),
                    workers: stations[head.idx()]
                        .admission
                        .as_ref()
                        .map_or(0, |p| p.slots),
                }
            })
            .collect();
        // A queue feeding the service sends to its replicas and holds
        // their workers as its slots.
        let queues = stations
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.admission.is_some()
                    && s.dispatch()
                        .is_some_and(|d| d.targets.iter().any(|t| heads.contains(t)))
            })
            .map(|(i, _)| StationId(i as u32))
            .collect();
        layout.autoscaler = Some(Scaled {
            index: out.len(),
            min: a.min,
        });
        if let Some(p) = &layout.profile {
            layout.cost_per_hour = f64::from(a.initial) * p.cost_per_hour;
        }
        out.push(Autoscaler {
            metric: a.metric,
            target: a.target,
            min: a.min,
            initial: a.initial,
            interval: a.interval,
            provision: a.provision,
            warmup: a.warmup,
            scale_in_after: a.scale_in_after,
            tolerance: a.tolerance,
            replicas,
            queues,
        });
    }
    out
}
