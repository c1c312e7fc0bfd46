//! The capacity table, before simulating: for every resource requests wait
//! for (a service's cores, disk, network link, serial section, lock, worker
//! threads, connection pool (a queue's consumers are its worker's), an external's
//! concurrency, a plain station's servers), what each request of the open
//! load asks of it, the utilisation at the scenario's rates, and the total
//! rate at which it saturates when every class is scaled together. The
//! first row is the bottleneck.
//!
//! The figures are the operational laws (utilisation = rate × demand /
//! units), exact in the mean for servers; a pool's hold time counts the
//! work done while a slot is held, not the waiting, so a pool's row is a
//! lower bound of its utilisation (see [`chokepoint_core::analysis::demands`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chokepoint_core::analysis::{Resource, closed_bounds, demands};
use chokepoint_core::model::{Load, StationId};
use chokepoint_scenario::Scenario;
use chokepoint_scenario::layout::{Part, ServiceKind};

/// One resource of the table: the same part of every replica (or every
/// stripe of a lock) together.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacityRow {
    /// Its service.
    pub service: String,
    /// What it is: `cpu`, `disk`, `network`, `serial section`, `lock NAME`,
    /// `workers`, `connections`, `concurrency`, `servers`,
    /// `link`.
    pub what: String,
    /// Servers or slots, over every replica.
    pub units: u32,
    /// Seconds of it each request of the open load takes, on average over
    /// the classes' mix (for slots: seconds held, a lower bound).
    pub per_request: f64,
    /// Its utilisation at the scenario's rates: its busiest member's (a
    /// database's leader, a lock's busiest stripe), which saturates first.
    pub utilization: f64,
    /// The open load (requests per second, every class scaled together)
    /// at which it is fully used.
    pub saturates_at: f64,
    /// Whether it is a pool's slots (its figures a lower bound).
    pub slots: bool,
    /// What kind of resource it is.
    pub class: ResourceClass,
    /// Its mean utilisation over its units (every replica's, every
    /// stripe's): the operational law's U = X·D / c for all of them.
    pub mean: f64,
    /// For a sharded service, the shard its busiest member belongs to:
    /// the hottest shard, which is the resource that saturates first.
    pub shard: Option<u32>,
}

impl CapacityRow {
    /// How the table names it: `db cpu`, or for a sharded service the
    /// hottest shard's, `db cpu (shard 3)`.
    pub fn name(&self) -> String {
        match self.shard {
            Some(s) => format!("{} {} (shard {s})", self.service, self.what),
            None => format!("{} {}", self.service, self.what),
        }
    }
}

/// The kinds of resource an engineer names when something saturates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceClass {
    /// Processors (a service's cores, a layer 7 balancer's).
    Cpu,
    /// Processors stopped by garbage collection (memory).
    Gc,
    /// A disk.
    Disk,
    /// A network card or a link.
    Network,
    /// A database's pool of connections.
    ConnectionPool,
    /// A service's worker threads.
    WorkerThreads,
    /// A lock or a serial section (Amdahl's law).
    Lock,
    /// An external service's limit.
    Dependency,
    /// A plain station's servers.
    Servers,
}

impl ResourceClass {
    /// Its name, in words.
    pub fn label(self) -> &'static str {
        match self {
            Self::Cpu => "CPU",
            Self::Gc => "CPU and garbage collection",
            Self::Disk => "disk",
            Self::Network => "network",
            Self::ConnectionPool => "connection pool",
            Self::WorkerThreads => "worker threads",
            Self::Lock => "lock or serial section",
            Self::Dependency => "dependency",
            Self::Servers => "servers",
        }
    }
}

/// What `station`'s servers (or, with `slots`, its admission pool's slots)
/// are, named as the table names them (`cpu`, `disk`, `lock NAME`,
/// `workers`, `pool`, ...), and their kind; `None` for a station that is
/// not a resource (a balancer's choice of target).
pub fn resource(
    scenario: &Scenario,
    station: StationId,
    slots: bool,
) -> Option<(String, ResourceClass)> {
    let origin = scenario.origins[station.idx()];
    let layout = &scenario.services[origin.service.idx()];
    let topology = &scenario.topology;
    if slots {
        let pooled = topology.stations[station.idx()]
            .admission
            .as_ref()
            .is_some_and(|a| a.connections.is_some());
        return Some(match layout.kind {
            ServiceKind::External => ("concurrency".into(), ResourceClass::Dependency),
            _ if pooled => ("connections".into(), ResourceClass::ConnectionPool),
            ServiceKind::Database => ("pool".into(), ResourceClass::ConnectionPool),
            _ => ("workers".into(), ResourceClass::WorkerThreads),
        });
    }
    let heap = topology.stations[station.idx()]
        .queue()
        .is_some_and(|q| q.gc.is_some());
    Some(match origin.part {
        Part::Dispatch => return None,
        Part::Cpu if heap => ("cpu + gc".into(), ResourceClass::Gc),
        Part::Cpu => ("cpu".into(), ResourceClass::Cpu),
        Part::Disk => ("disk".into(), ResourceClass::Disk),
        Part::Net => ("network".into(), ResourceClass::Network),
        Part::Link => ("link".into(), ResourceClass::Network),
        Part::Serial => ("serial section".into(), ResourceClass::Lock),
        Part::Lock(k) | Part::Stripe(k, _) => (
            format!("lock {}", layout.locks[k as usize].name),
            ResourceClass::Lock,
        ),
        _ if layout.kind == ServiceKind::External => ("servers".into(), ResourceClass::Dependency),
        // A layer 7 balancer's own station is its CPU.
        _ if layout.kind == ServiceKind::LoadBalancer => ("cpu".into(), ResourceClass::Cpu),
        _ => ("servers".into(), ResourceClass::Servers),
    })
}

/// The table of `scenario`: its open load in requests per second, and its
/// resources, busiest first (slots before servers at equal utilisation: a
/// request waits for the slot first). Empty without open classes.
pub fn capacity(scenario: &Scenario) -> (f64, Vec<CapacityRow>) {
    let topology = &scenario.topology;
    let rate: f64 = topology
        .classes
        .iter()
        .map(|c| match c.load {
            Load::Open { rate, .. } => rate,
            Load::Closed { .. } => 0.0,
        })
        .sum();
    let mut rows: BTreeMap<(String, String), CapacityRow> = BTreeMap::new();
    for d in demands(topology) {
        let (station, slots) = match d.resource {
            Resource::Servers(s) => (s, false),
            Resource::Slots(s) => (s, true),
        };
        let origin = scenario.origins[station.idx()];
        let layout = &scenario.services[origin.service.idx()];
        // A queue's slots are its worker's workers, held as long: one row,
        // the worker's.
        if slots && layout.kind == ServiceKind::Queue {
            continue;
        }
        let Some((what, class)) = resource(scenario, station, slots) else {
            continue;
        };
        let row = rows
            .entry((layout.name.clone(), what.clone()))
            .or_insert_with(|| CapacityRow {
                service: layout.name.clone(),
                what,
                units: 0,
                per_request: 0.0,
                utilization: 0.0,
                saturates_at: f64::INFINITY,
                slots,
                class,
                mean: 0.0,
                shard: None,
            });
        row.units = row.units.saturating_add(d.units);
        // Busy units summed; the busiest member (a leader, a hot stripe,
        // the hottest shard's) saturates first.
        let busy = d.busy + d.gc;
        row.per_request += busy;
        let u = busy / f64::from(d.units);
        if u > row.utilization {
            row.utilization = u;
            row.shard = origin.replica.and_then(|r| layout.shard_of_replica(r));
        }
    }
    let mut rows: Vec<CapacityRow> = rows
        .into_values()
        .filter(|r| r.utilization > 0.0)
        .map(|mut r| {
            let busy = r.per_request;
            r.per_request = if rate > 0.0 { busy / rate } else { 0.0 };
            r.mean = busy / f64::from(r.units.max(1));
            r.saturates_at = rate / r.utilization;
            // Shards used alike have no hottest one.
            if r.utilization <= r.mean * 1.001 {
                r.shard = None;
            }
            r
        })
        .collect();
    rows.sort_by(|a, b| {
        b.utilization
            .total_cmp(&a.utilization)
            .then(b.slots.cmp(&a.slots))
    });
    (rate, rows)
}

/// The table as text, for `chokepoint check`, then each closed class's
/// bounds; empty without either.
pub fn capacity_table(scenario: &Scenario) -> String {
    let mut out = open_table(scenario);
    for line in closed_lines(scenario) {
        let _ = writeln!(out, "{}{line}", if out.is_empty() { "" } else { "\n" });
    }
    out
}

/// Each closed class's asymptotic bounds (and exact figures by mean value
/// analysis where they apply), in words.
pub fn closed_lines(scenario: &Scenario) -> Vec<String> {
    closed_bounds(&scenario.topology)
        .into_iter()
        .map(|b| {
            let class = &scenario.topology.classes[b.class.idx()].name;
            let (d_max, at) = b.demand_max;
            let origin = scenario.origins[at.idx()];
            let busiest = &scenario.services[origin.service.idx()].name;
            format!(
                "closed class {class} ({} users, think {}): demand {} per request, the most at {busiest} ({}); throughput ≤ {}/s, response ≥ {}{}; the bounds cross at {} users",
                b.population,
                crate::format::duration(Some(b.think), None),
                crate::format::duration(Some(b.demand), None),
                crate::format::duration(Some(d_max), None),
                crate::format::sig3(b.throughput_max),
                crate::format::duration(Some(b.response_min), None),
                match b.mva {
                    Some((x, r)) => format!(
                        "; exactly (mean value analysis): {}/s, {}",
                        crate::format::sig3(x),
                        crate::format::duration(Some(r), None)
                    ),
                    None => String::new(),
                },
                crate::format::sig3((b.demand + b.think) / d_max)
            )
        })
        .collect()
}

/// The table's header.
pub(crate) fn header() -> Vec<String> {
    [
        "resource",
        "units",
        "per request",
        "utilization",
        "saturates at",
        "headroom",
    ]
    .map(String::from)
    .to_vec()
}

/// A row's cells, as `header` names them (≥ and ≤ mark a pool's bounds).
pub(crate) fn cells(r: &CapacityRow) -> Vec<String> {
    use crate::format::{duration, sig3};
    let (at_least, at_most) = if r.slots { ("≥", "≤") } else { ("", "") };
    vec![
        r.name(),
        r.units.to_string(),
        if r.per_request.is_finite() {
            format!("{at_least}{}", duration(Some(r.per_request), None))
        } else {
            "∞".into()
        },
        format!("{at_least}{}%", sig3(100.0 * r.utilization)),
        format!("{at_most}{}/s", sig3(r.saturates_at)),
        if r.utilization >= 1.0 {
            "none".to_owned()
        } else {
            format!("+{}%", sig3(100.0 * (1.0 / r.utilization - 1.0)))
        },
    ]
}

/// The open load's table; empty without open load.
fn open_table(scenario: &Scenario) -> String {
    let (rate, rows) = capacity(scenario);
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "capacity at the open load ({}/s in all; every class scaled together), busiest first:",
        crate::format::sig3(rate)
    );
    let mut table = vec![header()];
    table.extend(rows.iter().map(cells));
    crate::format::render(&mut out, &table);
    let _ = writeln!(
        out,
        "utilization: of the busiest of a service's replicas (or a lock's stripes); saturates at: the open load at which it is fully used"
    );
    if rows.iter().any(|r| r.shard.is_some()) {
        let _ = writeln!(
            out,
            "(shard N): a sharded service's row is its hottest shard's, the one that saturates first"
        );
    }
    if let Some(r) = rows.iter().find(|r| r.class == ResourceClass::Gc) {
        let _ = writeln!(
            out,
            "{}: its garbage collection's pauses included, as with every worker busy (the most live data){}",
            r.what,
            if r.utilization.is_finite() {
                ""
            } else {
                "; ∞: then the requests in flight alone fill the heap, and the replica thrashes"
            }
        );
    }
    if rows.iter().any(|r| r.slots) {
        let _ = writeln!(
            out,
            "≥, ≤: a pool's slot is held for at least the work done meanwhile (its calls included); waiting behind a busy callee holds it longer"
        );
    }
    out
}
