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

use std::path::Path;

use chokepoint_core::model::{CacheContents, Load, Profile, Replication, Topology};
use chokepoint_report::Summary;
use chokepoint_report::beside::measured;
use chokepoint_report::capacity::{CapacityRow, capacity};
use chokepoint_report::diagnosis::{Busy, Change, Limits, Probe, TimeSpent};
use chokepoint_scenario::layout::ReplicaRole;
use chokepoint_scenario::spec::Slo;
use chokepoint_scenario::{Override, Scenario, ServiceKind};

use crate::{Failed, Study, Watch};

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
/// twice the limit; on a cache, half its misses (a fixed hit ratio) or
/// twice its entries.
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
        // A cache may hold more: half the misses of a fixed hit ratio, or
        // twice the entries (at most the catalogue) of an LRU.
        if let Some(cache) = scenario
            .topology
            .stations
            .iter()
            .enumerate()
            .filter(|(i, _)| scenario.origins[*i].service == svc.id)
            .find_map(|(_, s)| s.queue()?.cache.as_ref())
        {
            let name = &svc.name;
            match cache.contents {
                CacheContents::HitRatio(h) if h < 1.0 => {
                    let more = 1.0 - (1.0 - h) / 2.0;
                    out.push(Action {
                        label: format!(
                            "{name}: hit ratio {}% → {}%",
                            round(100.0 * h),
                            round(100.0 * more)
                        ),
                        overrides: vec![Override::new(
                            format!("services.{name}.hit_ratio"),
                            more.to_string(),
                        )],
                    });
                }
                CacheContents::Lru { keys, capacity, .. } if capacity < keys.count => {
                    let more = capacity.saturating_mul(2).min(keys.count);
                    out.push(Action {
                        label: format!("{name}: {capacity} → {more} entries"),
                        overrides: vec![Override::new(
                            format!("services.{name}.capacity"),
                            more.to_string(),
                        )],
                    });
                }
                _ => {}
            }
        }
        // A database may be split by key (its writes scale out, as read
        // replicas' do not), or into more shards. One without a catalogue
        // of keys is given an even one, a million keys: what sharding
        // would split.
        if svc.kind == ServiceKind::Database && svc.locks.is_empty() {
            let name = &svc.name;
            match svc.shards.len() {
                0 => {
                    // Its read replicas' catalogue, if it has one.
                    let keyed = svc
                        .replicas
                        .iter()
                        .filter(|r| r.role == ReplicaRole::Leader)
                        .flat_map(|r| r.own.iter())
                        .any(|&(_, id)| {
                            matches!(
                                scenario.topology.stations[id.idx()].replication(),
                                Some(Replication::Leader { keys, .. }) if keys.count > 1
                            )
                        });
                    let mut overrides = vec![Override::new(
                        format!("services.{name}.shards"),
                        "{ count = 2 }",
                    )];
                    if !keyed {
                        overrides.push(Override::new(format!("services.{name}.keys"), "1000000"));
                    }
                    out.push(Action {
                        label: format!(
                            "{name}: 2 shards by hash{}",
                            if keyed { "" } else { " (keys spread evenly)" }
                        ),
                        overrides,
                    });
                }
                n => out.push(Action {
                    label: format!("{name}: {n} → {} shards", 2 * n),
                    overrides: vec![Override::new(
                        format!("services.{name}.shards.count"),
                        (2 * n).to_string(),
                    )],
                }),
            }
        }
        if !svc.kind.is_replicated() || svc.autoscaler.is_some() || svc.followers() > 0 {
            continue;
        }
        let name = &svc.name;
        // A sharded service's `replicas` are each shard's.
        let n = svc.replicas.len() / svc.shards.len().max(1);
        out.push(Action {
            label: format!("{name}: {} → {} replicas", n, n + 1),
            overrides: vec![Override::new(
                format!("services.{name}.replicas"),
                (n + 1).to_string(),
            )],
        });
        // A lock with more stripes (finer-grained locking), where the
        // scenario's `locks` is one table (a list cannot be addressed).
        if let [lock] = svc.locks.as_slice() {
            let (n, more) = (lock.stripes.len(), 2 * lock.stripes.len());
            out.push(Action {
                label: format!("{name}: lock {} {n} → {more} stripes", lock.name),
                overrides: vec![Override::new(
                    format!("services.{name}.locks.keys"),
                    more.to_string(),
                )],
            });
        }
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

/// `x` with at most 4 significant digits, as a label shows it.
fn round(x: f64) -> String {
    format!("{}", (x * 100.0).round() / 100.0)
}

/// The study with its open classes' rates (or only `class`'s) times
/// `scale`, profiles included.
pub fn scaled(study: &Study, class: Option<&str>, scale: f64) -> Study {
    let mut out = Study::new(
        study.name.clone(),
        study.scenario.clone(),
        study.warnings.clone(),
    );
    let closed = closed(study, class);
    scale_topology(&mut out.scenario.topology, class, closed, scale);
    out
}

/// Whether the load ramped is a closed population: `class`'s, if named
/// and closed; without one, every closed class's when there is no open
/// class (otherwise the open classes' rates are ramped).
pub fn closed(study: &Study, class: Option<&str>) -> bool {
    let classes = &study.scenario.topology.classes;
    let is_closed = |c: &&chokepoint_core::model::Class| matches!(c.load, Load::Closed { .. });
    match class {
        Some(name) => classes
            .iter()
            .filter(|c| c.name == name)
            .any(|c| is_closed(&c)),
        None => classes.iter().all(|c| is_closed(&c)),
    }
}

fn scale_topology(topology: &mut Topology, class: Option<&str>, closed: bool, scale: f64) {
    let points = |profile: &mut Option<Profile>| match profile {
        Some(Profile::Points(points)) => points.iter_mut().for_each(|p| p.1 *= scale),
        Some(Profile::Diurnal {
            mean, amplitude, ..
        }) => {
            *mean *= scale;
            *amplitude *= scale;
        }
        None => {}
    };
    for c in &mut topology.classes {
        if class.is_some_and(|name| name != c.name) {
            continue;
        }
        match &mut c.load {
            Load::Open { rate, profile, .. } if !closed => {
                *rate *= scale;
                points(profile);
            }
            Load::Closed {
                population,
                profile,
                ..
            } if closed => {
                // Whole users, at least one.
                *population = ((f64::from(*population) * scale).round() as u32).max(1);
                points(profile);
            }
            _ => {}
        }
    }
    // One class scaled alone changes the mix of reads and writes at a cache.
    chokepoint_core::analysis::settle_caches(topology);
}

/// The load ramped at scale 1: the total open rate of `study` (of
/// `class` alone if named), or its closed population (see [`closed`]).
pub fn open_rate(study: &Study, class: Option<&str>) -> f64 {
    let closed = closed(study, class);
    study
        .scenario
        .topology
        .classes
        .iter()
        .filter(|c| class.is_none_or(|name| name == c.name))
        .map(|c| match c.load {
            Load::Open { rate, .. } if !closed => rate,
            Load::Closed { population, .. } if closed => f64::from(population),
            _ => 0.0,
        })
        .sum()
}

/// Whether a summary shows saturation.
fn saturated(summary: &Summary) -> bool {
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
    !summary.stopped.is_empty() || growing || left_behind
}

/// The busiest resource of a run: a resource of its own (cores, disk, a
/// lock, an external's concurrency) nearly full before any pool, whose
/// slots may only be held waiting for it; among full pools, the one the
/// capacity `table` ranks first (a caller's workers fill up behind its
/// callee's pool); otherwise the most used.
fn busiest(summary: &Summary, scenario: &Scenario, table: &[CapacityRow]) -> Option<Busy> {
    let all: Vec<(Busy, bool)> = measured(summary, scenario)
        .into_iter()
        .map(|m| {
            let busy = Busy {
                service: m.service,
                resource: m.what,
                class: m.class,
                utilization: m.busiest,
            };
            (busy, m.slots)
        })
        .collect();
    let rank = |b: &Busy| {
        table
            .iter()
            .position(|r| r.service == b.service && r.what == b.resource)
            .unwrap_or(usize::MAX)
    };
    let full = |slots: bool| {
        all.iter()
            .filter(move |(b, s)| *s == slots && b.utilization >= 0.95)
            .map(|(b, _)| b)
    };
    // Own resources by how full (a tie within 1% by the table's rank).
    let own = full(false).max_by(|a, b| {
        if (a.utilization - b.utilization).abs() < 0.01 {
            rank(b).cmp(&rank(a))
        } else {
            a.utilization.total_cmp(&b.utilization)
        }
    });
    own.or_else(|| full(true).min_by_key(|b| rank(b)))
        .or_else(|| {
            all.iter()
                .map(|(b, _)| b)
                .max_by(|a, b| a.utilization.total_cmp(&b.utilization))
        })
        .cloned()
}

/// One probe of `study` at `scale`, judged against `slo` if any; `table`
/// is the capacity table, which ranks pools that are full together.
pub fn probe(
    study: &Study,
    class: Option<&str>,
    scale: f64,
    slo: Option<&Slo>,
    table: &[CapacityRow],
    watch: &Watch,
) -> Result<Probe, Failed> {
    let mut s = scaled(study, class, scale);
    if let Some(slo) = slo {
        s.scenario.slo = Some(slo.clone());
    }
    let sim = s.scenario.simulation.clone();
    let outcome = s.run(&sim, None, watch)?;
    let summary = &outcome.summary;
    let busiest = busiest(summary, &s.scenario, table);
    // A closed population cannot pile up without bound: it saturates when
    // its bottleneck is nearly always busy (throughput at 1 / D_max).
    let saturated = if closed(study, class) {
        busiest.as_ref().is_some_and(|b| b.utilization >= 0.95)
    } else {
        saturated(summary)
    };
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
        time: TimeSpent::of(summary),
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
    let (_, table) = capacity(&study.scenario);
    let mut probes: Vec<Probe> = Vec::new();
    // A population is whole users: scales that round to the same one are
    // the same probe.
    let (users, load) = (closed(study, class), open_rate(study, class));
    let snap = |scale: f64| {
        if users && scale > 0.0 {
            (load * scale).round().max(1.0) / load
        } else {
            scale
        }
    };
    let at = |scale: f64, probes: &mut Vec<Probe>| -> Result<Probe, Failed> {
        let scale = snap(scale);
        if let Some(p) = probes.iter().find(|p| p.scale == scale) {
            return Ok(p.clone());
        }
        let p = probe(study, class, scale, slo, &table, watch)?;
        probes.push(p.clone());
        Ok(p)
    };
    let start = if guess.is_finite() && guess > 0.0 {
        guess
    } else {
        1.0
    };
    let saturation = boundary(start, |s| Ok(at(s, &mut probes)?.saturated))?;
    // The SLO search starts at the scenario's load, or below the
    // saturation found when that is lower (an absurd load would otherwise
    // step down from far past it).
    let from = match saturation {
        (lo, _) if lo > 0.0 => lo.min(1.0),
        _ => 1.0,
    };
    let slo_limit = match slo {
        Some(_) => Some(boundary(from, |s| {
            Ok(at(s, &mut probes)?.meets == Some(false))
        })?),
        None => None,
    };
    // The brackets as probed (whole users).
    let snapped = |(lo, hi): (f64, Option<f64>)| (snap(lo), hi.map(snap));
    Ok(Limits {
        rate: load,
        users,
        saturation: snapped(saturation),
        slo: slo_limit.map(snapped),
        probes,
    })
}

/// The changes of `actions(study)` (`source` is the scenario's text, read
/// from `dir`), each searched for its limit from `guess` as `limits` does,
/// and run at the scenario's load; the first is the scenario as it is,
/// whose limits `found` are. A change that no longer loads is skipped.
pub fn changes(
    study: &Study,
    source: &str,
    dir: Option<&Path>,
    class: Option<&str>,
    guess: f64,
    found: &Limits,
    watch: &Watch,
) -> Result<Vec<Change>, Failed> {
    let actions = actions(study);
    if actions.is_empty() {
        return Ok(Vec::new());
    }
    let (_, table) = capacity(&study.scenario);
    let base = found.limit();
    let now = probe(study, class, 1.0, None, &table, watch)?;
    let mut out = vec![Change {
        label: "(as it is)".into(),
        limit: base,
        ratio: 1.0,
        saturated: now.saturated,
        p99: now.p99,
        cost: now.cost,
        next: found.busiest().cloned(),
    }];
    for action in actions {
        let Some(scenario) = chokepoint_scenario::load_in(source, dir, &action.overrides).scenario
        else {
            continue;
        };
        // Its saturation only: no SLO search (its result would go unread).
        let mut variant = Study::new(study.name.clone(), scenario, Vec::new());
        variant.scenario.slo = None;
        let (_, table) = capacity(&variant.scenario);
        let moved = limits(&variant, class, guess, None, watch)?;
        let at_load = probe(&variant, class, 1.0, None, &table, watch)?;
        out.push(Change {
            label: action.label,
            limit: moved.limit(),
            ratio: moved.limit() / base,
            saturated: at_load.saturated,
            p99: at_load.p99,
            cost: at_load.cost,
            next: moved.busiest().cloned(),
        });
    }
    Ok(out)
}
