//! `chokepoint diagnose`: the load at which a scenario saturates and the
//! highest at which it meets its SLO, found by bisection on a common
//! scale of its open classes' rates (or of one class's), every probe on
//! the same seeds (common random numbers: two probes differ by the load,
//! not by the draws); and the changes that could move the limit, each
//! re-simulated.
//!
//! A probe is saturated when a replication had to stop (it held too many
//! requests), or a service's backlog grows significantly (the report's
//! `backlog_growth`, or its workers' line is unstable): the limit found is
//! where that becomes detectable in the run's length, a little above the
//! true capacity (about 1% of the load, more for short runs).

use chokepoint_core::model::{Load, Profile, Topology};
use chokepoint_report::Summary;
use chokepoint_scenario::spec::Slo;
use chokepoint_scenario::{Override, ServiceKind};

use crate::{Failed, Study, Watch};

/// What one probe found.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// The scale of the rates.
    pub scale: f64,
    /// Whether a backlog grew (or a replication had to stop).
    pub saturated: bool,
    /// Whether the SLO was met (without one: `None`).
    pub meets: Option<bool>,
    /// The busiest resource (a service's `cpu`, `servers` or `workers`,
    /// whichever is busier), and how busy.
    pub busiest: Option<(String, f64)>,
    /// The highest 99th percentile latency of the classes, in seconds.
    pub p99: Option<f64>,
    /// Dollars per hour, with priced machines.
    pub cost: Option<f64>,
    /// Requests completed per second, over the classes scaled.
    pub throughput: f64,
}

/// The limits of a study's load.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// The total open rate at scale 1 (the scenario's), per second.
    pub rate: f64,
    /// The highest scale found unsaturated, and the lowest saturated
    /// (`None` when none was, up to 1,000 times the load).
    pub saturation: (f64, Option<f64>),
    /// The highest scale found to meet the SLO and the lowest found not to
    /// (`None` without an SLO).
    pub slo: Option<(f64, Option<f64>)>,
    /// Every probe, in the order run.
    pub probes: Vec<Probe>,
}

/// A change to try: what it is, and the overrides of the scenario that
/// make it.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// Such as `db: 1 → 2 replicas`.
    pub label: String,
    /// The changes to the scenario's document.
    pub overrides: Vec<Override>,
}

/// The changes worth trying: on each service that runs on machines, one
/// more replica, twice the workers (or the pool), the next machine size
/// up, and those two together; on an external with a concurrency limit,
/// twice the limit.
pub fn actions(study: &Study) -> Vec<Action> {
    let scenario = &study.scenario;
    let catalog = chokepoint_scenario::profiles::catalog();
    let mut out = Vec::new();
    for svc in &scenario.services {
        // An external's concurrency limit (a partner's quota) may be raised.
        if svc.kind == ServiceKind::External
            && let Some(a) = &scenario.topology.stations[svc.entry.idx()].admission
        {
            out.push(Action {
                label: format!("{}: concurrency {} → {}", svc.name, a.slots, 2 * a.slots),
                overrides: vec![Override::new(
                    format!("services.{}.concurrency", svc.name),
                    (2 * a.slots).to_string(),
                )],
            });
        }
        if !svc.kind.is_replicated() || svc.autoscaler.is_some() || svc.followers() > 0 {
            continue;
        }
        let name = &svc.name;
        let n = svc.replicas.len();
        out.push(Action {
            label: format!("{name}: {} → {} replicas", n, n + 1),
            overrides: vec![Override::new(
                format!("services.{name}.replicas"),
                (n + 1).to_string(),
            )],
        });
        let head = svc.replicas[0].head();
        // Each change as what it does to the service, and its overrides.
        let workers = scenario.topology.stations[head.idx()]
            .admission
            .as_ref()
            .map(|a| {
                let (key, what) = if svc.connects() {
                    ("pool.size", "pooled connections")
                } else {
                    ("workers", "workers")
                };
                (
                    format!("{} → {} {what}", a.slots, 2 * a.slots),
                    Override::new(format!("services.{name}.{key}"), (2 * a.slots).to_string()),
                )
            });
        let bigger = svc.profile.as_ref().and_then(|p| {
            let family = p.name.split('-').next().unwrap_or_default();
            let q = catalog
                .iter()
                .find(|q| q.name.split('-').next() == Some(family) && q.cores == 2 * p.cores)
                .filter(|_| svc.kind != ServiceKind::LoadBalancer)?;
            Some((
                format!("{} → {}", p.name, q.name),
                Override::new(
                    format!("services.{name}.profile"),
                    format!("\"{}\"", q.name),
                ),
            ))
        });
        for (what, o) in workers.iter().chain(&bigger) {
            out.push(Action {
                label: format!("{name}: {what}"),
                overrides: vec![o.clone()],
            });
        }
        // Both at once: a pool sized to its cores may be the limit as much
        // as the cores are (each alone then does nothing).
        if let (Some((w, wo)), Some((b, bo))) = (&workers, &bigger) {
            out.push(Action {
                label: format!("{name}: {w} and {b}"),
                overrides: vec![wo.clone(), bo.clone()],
            });
        }
    }
    out
}

impl Limits {
    /// The busiest resource at the lowest saturated probe, and how busy.
    pub fn busiest(&self) -> Option<(String, f64)> {
        let hi = self.saturation.1?;
        self.probes
            .iter()
            .filter(|p| p.saturated && p.scale <= hi * 1.0001)
            .min_by(|a, b| a.scale.total_cmp(&b.scale))
            .and_then(|p| p.busiest.clone())
    }
}

/// The study with its open classes' rates (or only `class`'s) times
/// `scale`, profiles included.
pub fn scaled(study: &Study, class: Option<&str>, scale: f64) -> Study {
    let mut out = Study::new(
        study.name.clone(),
        study.scenario.clone(),
        study.warnings.clone(),
    );
    scale_topology(&mut out.scenario.topology, class, scale);
    out
}

fn scale_topology(topology: &mut Topology, class: Option<&str>, scale: f64) {
    for c in &mut topology.classes {
        if class.is_some_and(|name| name != c.name) {
            continue;
        }
        if let Load::Open { rate, profile, .. } = &mut c.load {
            *rate *= scale;
            match profile {
                Some(Profile::Points(points)) => points.iter_mut().for_each(|p| p.1 *= scale),
                Some(Profile::Diurnal {
                    mean, amplitude, ..
                }) => {
                    *mean *= scale;
                    *amplitude *= scale;
                }
                None => {}
            }
        }
    }
}

/// The total open rate of `study` (of `class` alone if named).
pub fn open_rate(study: &Study, class: Option<&str>) -> f64 {
    study
        .scenario
        .topology
        .classes
        .iter()
        .filter(|c| class.is_none_or(|name| name == c.name))
        .map(|c| match c.load {
            Load::Open { rate, .. } => rate,
            Load::Closed { .. } => 0.0,
        })
        .sum()
}

/// Whether a summary shows saturation, and the busiest service.
fn judge(summary: &Summary) -> (bool, Option<(String, f64)>) {
    let growing = summary
        .stations
        .values()
        .any(|s| s.backlog_growth.is_some() || s.workers.as_ref().is_some_and(|w| w.unstable));
    // A class whose requests are left behind: more than 2% of its arrivals
    // neither completed nor ended otherwise by the end (a slow class
    // behind a saturated station whose other classes still flow).
    let left_behind = summary.classes.values().any(|c| {
        let ended = c.completed + c.dropped + c.failed + c.timed_out + c.rejected;
        c.arrived >= 1000 && c.arrived.saturating_sub(ended) as f64 > 0.02 * c.arrived as f64
    });
    // The busiest resource: a service's own (its cores, servers, an
    // external's concurrency) before the workers of a caller, whose
    // threads are busy waiting for what is really saturated.
    let mut own = Vec::new();
    let mut workers = Vec::new();
    for (name, s) in &summary.stations {
        if s.servers.is_some() {
            let what = if s.profile.is_some() {
                "cpu"
            } else {
                "servers"
            };
            own.push((format!("{name} {what}"), s.utilization));
        }
        match &s.workers {
            // Slots at a station without servers of its own: an
            // external's concurrency limit, a resource of its own.
            Some(w) if s.servers.is_none() => {
                own.push((format!("{name} concurrency"), w.utilization));
            }
            Some(w) => workers.push((format!("{name} workers"), w.utilization)),
            None => {}
        }
    }
    let max = |v: Vec<(String, f64)>| v.into_iter().max_by(|a, b| a.1.total_cmp(&b.1));
    let (own, workers) = (max(own), max(workers));
    let busiest = match (own, workers) {
        (Some(o), _) if o.1 >= 0.95 => Some(o),
        (o, Some(w)) if o.as_ref().is_none_or(|o| w.1 > o.1) => Some(w),
        (o, _) => o,
    };
    (
        !summary.stopped.is_empty() || growing || left_behind,
        busiest,
    )
}

/// One probe of `study` at `scale`, judged against `slo` if any.
pub fn probe(
    study: &Study,
    class: Option<&str>,
    scale: f64,
    slo: Option<&Slo>,
    watch: &Watch,
) -> Result<Probe, Failed> {
    let mut s = scaled(study, class, scale);
    if let Some(slo) = slo {
        s.scenario.slo = Some(slo.clone());
    }
    let sim = s.scenario.simulation.clone();
    let outcome = s.run(&sim, None, watch)?;
    let (saturated, busiest) = judge(&outcome.summary);
    let summary = &outcome.summary;
    Ok(Probe {
        scale,
        saturated,
        meets: slo.and(summary.slo.as_ref().map(|v| v.met)),
        busiest,
        p99: summary
            .classes
            .values()
            .filter_map(|c| c.latency.p99)
            .max_by(f64::total_cmp),
        cost: summary.cost.as_ref().map(|c| c.per_hour),
        throughput: summary
            .classes
            .iter()
            .filter(|(name, _)| class.is_none_or(|c| c == name.as_str()))
            .map(|(_, c)| c.throughput)
            .sum(),
    })
}

/// Bisection for the boundary of `bad` (false at low scales, true at
/// high): from `start`, steps of ×1.5 up or down to a bracket, then
/// halvings until the bracket is within 2%. Returns (highest good, lowest
/// bad if found).
fn boundary(
    start: f64,
    mut test: impl FnMut(f64) -> Result<bool, Failed>,
) -> Result<(f64, Option<f64>), Failed> {
    let (mut good, mut bad): (Option<f64>, Option<f64>) = (None, None);
    let mut s = start;
    for _ in 0..20 {
        if test(s)? {
            bad = Some(s);
            if good.is_some() {
                break;
            }
            s /= 1.5;
        } else {
            good = Some(s);
            if bad.is_some() || s > 1000.0 {
                break;
            }
            s *= 1.5;
        }
    }
    let Some(mut lo) = good else {
        return Ok((0.0, bad));
    };
    let Some(mut hi) = bad else {
        return Ok((lo, None));
    };
    while hi / lo > 1.02 {
        let mid = (lo * hi).sqrt();
        if test(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok((lo, Some(hi)))
}

/// The limits of `study`'s load (or of `class`'s alone), starting from
/// `guess` (the capacity table's saturation scale, or 1), against `slo`
/// (the scenario's if `None`).
pub fn limits(
    study: &Study,
    class: Option<&str>,
    guess: f64,
    slo: Option<&Slo>,
    watch: &Watch,
) -> Result<Limits, Failed> {
    let slo = slo.or(study.scenario.slo.as_ref());
    let mut probes: Vec<Probe> = Vec::new();
    let at = |scale: f64, probes: &mut Vec<Probe>| -> Result<Probe, Failed> {
        if let Some(p) = probes.iter().find(|p| p.scale == scale) {
            return Ok(p.clone());
        }
        let p = probe(study, class, scale, slo, watch)?;
        probes.push(p.clone());
        Ok(p)
    };
    let start = if guess.is_finite() && guess > 0.0 {
        guess
    } else {
        1.0
    };
    let saturation = boundary(start, |s| Ok(at(s, &mut probes)?.saturated))?;
    let slo_limit = match slo {
        Some(_) => Some(boundary(1.0, |s| {
            Ok(at(s, &mut probes)?.meets == Some(false))
        })?),
        None => None,
    };
    Ok(Limits {
        rate: open_rate(study, class),
        saturation,
        slo: slo_limit,
        probes,
    })
}
