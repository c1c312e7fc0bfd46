//! The last phase: checks on the lowered model as a whole. The engine's
//! own guard (`Topology::validate`) in the user's words, located at the
//! service or class concerned; classes that can never leave; stations
//! offered more work than they can do (a warning: the run shows what
//! happens).

use std::ops::Range;

use chokepoint_core::analysis;
use chokepoint_core::model::{Cancel, Discipline, Load, ModelError};

use crate::diagnostic::Diagnostic;
use crate::layout::{Part, ServiceId};
use crate::lower::Lowered;

/// Checks the assembled model: reachability, loops, overload.
/// `run_for` is the run's length in nanoseconds (warm-up included), over
/// which a load profile's mean is taken.
pub(crate) fn check(
    lowered: &Lowered,
    class_spans: &[Range<usize>],
    run_for: Option<f64>,
    diags: &mut Vec<Diagnostic>,
) {
    let topology = &lowered.topology;
    let station_spans = &lowered.spans;

    match topology.validate() {
        Ok(()) => {}
        Err(ModelError::NoBehaviour { class, station }) => {
            // Named as the user wrote it: the service, not the station of
            // its chain (`db[0].connect`), and the key its kind reads.
            let service = &lowered.layouts[lowered.origins[station.idx()].service.idx()];
            let key = if service.kind.is_replicated() {
                "cpu"
            } else {
                "work"
            };
            let c = &topology.classes[class.idx()];
            error(
                diags,
                format!(
                    "service `{}` has no `{key}` for class `{}`, which reaches it",
                    service.name, c.name
                ),
                station_spans[station.idx()].clone(),
            )
            .help = Some(format!(
                "add {key} = \"exp(4ms)\" (say) to [services.{0}], or to [services.{0}.on.{1}]",
                service.name, c.name
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
    overload(lowered, run_for, diags);
    pools_overloaded(lowered, diags);
    if let Some(t) = run_for {
        outside_the_run(lowered, class_spans, t, diags);
    }
}

/// One warning per overloaded part of a service: the stripes of a lock, or
/// the same station of each replica (`api[*].cpu`), are one part, however
/// many there are.
///
/// A class whose rate follows a profile is judged at its peak; the warning
/// then says whether the load on average over the run (`run_for`
/// nanoseconds) is also too much, or only builds a backlog that drains.
fn overload(lowered: &Lowered, run_for: Option<f64>, diags: &mut Vec<Diagnostic>) {
    let topology = &lowered.topology;
    let rhos = analysis::offered_load(topology);
    let profiled = topology.classes.iter().any(|c| {
        matches!(
            c.load,
            Load::Open {
                profile: Some(_),
                ..
            }
        )
    });
    // The offered load with each profile at its rate at the end of the run.
    let end_rhos = match run_for {
        Some(t) if profiled => {
            let mut at_end = topology.clone();
            for c in &mut at_end.classes {
                if let Load::Open {
                    rate,
                    profile: Some(p),
                    ..
                } = &mut c.load
                {
                    *rate = p.rate_at(t);
                }
            }
            Some(analysis::offered_load(&at_end))
        }
        _ => None,
    };
    // A part: its service and role, without the replica or stripe index.
    let part_of = |si: usize| {
        let origin = lowered.origins[si];
        let part = match origin.part {
            Part::Stripe(lock, _) => Part::Stripe(lock, 0),
            part => part,
        };
        (origin.service, part)
    };
    // (part, its stations, the overloaded ones, the highest ρ among them)
    let mut parts: Vec<((ServiceId, Part), usize, usize, usize)> = Vec::new();
    for (si, &rho) in rhos.iter().enumerate() {
        let key = part_of(si);
        let at = match parts.iter().position(|p| p.0 == key) {
            Some(at) => at,
            None => {
                parts.push((key, 0, 0, si));
                parts.len() - 1
            }
        };
        let part = &mut parts[at];
        part.1 += 1;
        if rho >= 1.0 {
            if part.2 == 0 || rho > rhos[part.3] {
                part.3 = si;
            }
            part.2 += 1;
        }
    }
    for &((service, part), members, overloaded, worst) in &parts {
        if overloaded == 0 {
            continue;
        }
        let s = &topology.stations[worst];
        let rho = rhos[worst];
        let layout = &lowered.layouts[service.idx()];
        let how_many = |unit: &str| match (members, overloaded) {
            (1, _) => String::new(),
            (n, k) if n == k => format!(" (each of its {n} {unit})"),
            (n, k) => format!(" ({k} of its {n} {unit})"),
        };
        let replicas = match layout.shards.len() {
            0 => "replicas".to_owned(),
            n => format!("replicas in {n} shards"),
        };
        let name = match (part, lowered.origins[worst].replica) {
            (Part::Stripe(lock, _), _) => format!(
                "lock `{}.lock.{}`{}",
                layout.name,
                layout.locks[lock as usize].name,
                how_many("stripes")
            ),
            // One replica of several: named, with how many it is among.
            (_, Some(_)) if members > 1 && overloaded == 1 => {
                format!("service `{}`{}", s.name, how_many(&replicas))
            }
            (_, Some(r)) if members > 1 => {
                let own = format!("{}[{r}]", layout.name);
                let pattern = match s.name.strip_prefix(&own) {
                    Some(rest) => format!("{}[*]{rest}", layout.name),
                    None => s.name.clone(),
                };
                format!("service `{pattern}`{}", how_many(&replicas))
            }
            _ => format!("service `{}`", s.name),
        };
        // Every class it serves drops its requests past their deadline.
        let ps = s.queue().is_some_and(|q| q.discipline == Discipline::Ps);
        let expires = s.behaviour.iter().enumerate().all(|(ci, b)| {
            b.is_none()
                || topology.classes[ci]
                    .deadline
                    .as_ref()
                    .is_some_and(|d| match d.cancel {
                        Cancel::Never => false,
                        Cancel::AtDequeue => !ps,
                        Cancel::Preempt => true,
                    })
        });
        let outcome = if s.queue().is_some_and(|q| q.capacity.is_some()) {
            "it will drop the excess at its capacity"
        } else if s.shedding.is_some_and(|d| d.codel.is_some()) {
            "it sheds the excess (CoDel)"
        } else if expires {
            "its requests wait until their deadline passes and are dropped, so many will time out"
        } else {
            "its queue will grow without bound and the results depend on the duration"
        };
        let rho_is = if overloaded > 1 { "up to ρ =" } else { "ρ =" };
        let message = match end_rhos.as_ref().map(|m| m[worst]) {
            Some(end) if end < 1.0 => format!(
                "{name} is overloaded at the peak of the load profile: offered load {rho_is} {rho:.3} with {} server(s); a backlog builds while the load is above capacity and can drain once it is below (ρ = {end:.3} at the end of the run, before any retries)",
                s.servers()
            ),
            Some(end) => format!(
                "{name} is overloaded: offered load {rho_is} {rho:.3} at the peak of the load profile and {end:.3} at the end of the run, with {} server(s); {outcome}",
                s.servers()
            ),
            None => format!(
                "{name} is overloaded: offered load {rho_is} {rho:.3} with {} server(s); {outcome}",
                s.servers()
            ),
        };
        diags.push(
            Diagnostic::warning(message, Some(lowered.spans[worst].clone()))
                .with_label(format!("{rho_is} {rho:.3}"))
                .with_help(
                    "add servers, shorten the work, or lower the arrival rate so that ρ < 1",
                ),
        );
    }
}

/// One warning per service whose slots (workers, a pool's connections, a
/// queue's consumers, an external's concurrency) are offered more than
/// they can hold: each is held at least for the work done meanwhile, its
/// calls' included, so a use of 1 or more is overload whatever the waiting.
fn pools_overloaded(lowered: &Lowered, diags: &mut Vec<Diagnostic>) {
    let topology = &lowered.topology;
    // Per service: its slots and the slots busy, summed over its replicas;
    // a service whose own stations are overloaded has been warned about.
    let demands = analysis::demands(topology);
    let warned: Vec<ServiceId> = demands
        .iter()
        .filter_map(|d| match d.resource {
            analysis::Resource::Servers(s) if d.busy >= f64::from(d.units) => {
                Some(lowered.origins[s.idx()].service)
            }
            _ => None,
        })
        .collect();
    let mut services: Vec<(ServiceId, usize, u64, f64)> = Vec::new();
    for d in demands {
        let analysis::Resource::Slots(station) = d.resource else {
            continue;
        };
        let service = lowered.origins[station.idx()].service;
        // A queue's slots are its worker's workers: warned about there.
        if warned.contains(&service)
            || lowered.layouts[service.idx()].kind == crate::layout::ServiceKind::Queue
        {
            continue;
        }
        let service = lowered.origins[station.idx()].service;
        match services.iter_mut().find(|s| s.0 == service) {
            Some(s) => {
                s.2 += u64::from(d.units);
                s.3 += d.busy;
            }
            None => services.push((service, station.idx(), u64::from(d.units), d.busy)),
        }
    }
    for (service, station, units, busy) in services {
        let use_ = busy / units as f64;
        if use_ < 1.0 {
            continue;
        }
        let layout = &lowered.layouts[service.idx()];
        let what = match layout.kind {
            crate::layout::ServiceKind::External => "concurrency limit",
            _ => "workers (or connections)",
        };
        diags.push(
            Diagnostic::warning(
                format!(
                    "the {what} of `{}` are overloaded: the work done while one is held needs at least {use_:.3} times the {units} there are; requests will wait for one without bound",
                    layout.name
                ),
                Some(lowered.spans[station].clone()),
            )
            .with_label(format!("at least {use_:.3} of {units}"))
            .with_help("more of them (or replicas) if what they wait for has capacity to spare; `chokepoint check` prints what saturates first"),
        );
    }
}

fn error(diags: &mut Vec<Diagnostic>, message: String, span: Range<usize>) -> &mut Diagnostic {
    diags.push(Diagnostic::error(message, Some(span)));
    diags.last_mut().expect("just pushed")
}

/// A load profile with no arrivals within the run, or a fault that starts
/// after it, is most likely a mistake of units or of time base (a trace in
/// Unix time): said, not ignored.
fn outside_the_run(
    lowered: &Lowered,
    class_spans: &[Range<usize>],
    run_for: f64,
    diags: &mut Vec<Diagnostic>,
) {
    for (c, span) in lowered.topology.classes.iter().zip(class_spans) {
        if let Load::Open {
            profile: Some(p), ..
        } = &c.load
            && p.mean_over(run_for) == 0.0
        {
            diags.push(
                Diagnostic::warning(
                    format!(
                        "class `{}` has no arrivals within the run: its rate profile is zero for its whole {} s",
                        c.name,
                        run_for / 1e9
                    ),
                    Some(span.clone()),
                )
                .with_help("times count from the start of the run, warm-up included (a trace's times too, in seconds)"),
            );
        }
    }
    for f in &lowered.topology.faults {
        if f.at >= run_for {
            let span = f.stations.first().map(|s| lowered.spans[s.idx()].clone());
            diags.push(
                Diagnostic::warning(
                    format!(
                        "a fault starts at {} s, after the run's {} s: it never strikes",
                        f.at / 1e9,
                        run_for / 1e9
                    ),
                    span,
                )
                .with_help("`at` counts from the start of the run, warm-up included"),
            );
        }
    }
}
