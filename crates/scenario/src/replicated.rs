//! Services that run on machines: `kind = "api"`, `"worker"` or `"database"`
//! with `replicas` of a hardware `profile`, compiled into plain stations.
//!
//! ```text
//!                       ┌─► [ lock ]? ─► [ cpu: cores, PS ] ─► [ disk ]? ─► [ net ]? ─┐  replica 0
//!   ──► [ api: balancer ]                                                           ├─► next
//!                       └─► ... one chain per replica ...                            ┘
//!        `workers` slots are taken at the first station of a chain, given back after the last
//! ```
//!
//! - CPU: the replica's `cores` as servers, processor sharing, the demand
//!   divided by the profile's `cpu_speed`.
//! - Serial fraction (`serial = 0.05`): that share of the CPU demand runs on
//!   a one-server lock shared by the whole replica, as in Amdahl's law.
//! - Disk: `disk_ops` operations take `disk_ops / disk_iops` seconds on a
//!   one-server device; network: `net_bytes` take `8 · net_bytes /
//!   (network_gbps · 10⁹)` seconds on a one-server link.
//! - The service's own station is a load balancer: requests reach the
//!   replicas by an even random split, unless a `load_balancer` service
//!   targets the service, in which case its policy picks the replica.

use std::collections::BTreeMap;

use chokepoint_core::dist::Dist;
use chokepoint_core::model::{
    Admission, Behaviour, Discipline, Dispatch, Gc, Op, Policy, Popularity, Queue, Replication,
    Role, Routing, Station, StationId,
};
use chokepoint_core::time::SimTime;
use toml::de::{DeTable, DeValue};

use crate::calls::{self, CallEntry, INFINITE_SERVERS, PerClass};
use crate::data::{HeapSpec, Lock, Pool, Table};
use crate::diagnostic::did_you_mean;
use crate::load::{RawService, Walker};
use crate::profiles::{Profile, catalog};

/// What a replicated service became, for reports and costs.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceInfo {
    /// The service's name (its balancer station has this name).
    pub name: String,
    /// `api`, `worker` or `database`; `station` for a plain station that
    /// makes calls.
    pub kind: String,
    /// Number of replicas.
    pub replicas: u32,
    /// The profile they run on (none for a plain station).
    pub profile: Option<Profile>,
    /// Per replica, its stations in order (lock?, cpu, disk?, net?, then
    /// its call points), and which of them is the CPU.
    pub chains: Vec<Vec<StationId>>,
    /// Index of the CPU station in each chain.
    pub cpu_at: usize,
    /// The calls, by their position in each chain.
    pub calls: Vec<CallSite>,
    /// Its other stations, outside the chains: the network hops of its
    /// calls (their time counts in the calls'), the balancer over a
    /// database's read replicas.
    pub others: Vec<StationId>,
    /// Its locks (shared by its replicas), each with its stripes.
    pub locks: Vec<LockInfo>,
    /// Its chains start with the connection step of a pool (a database's
    /// `pool`): time there is spent opening connections.
    pub connect: bool,
    /// Its replicas' CPUs collect garbage (`heap_gb`, `gc`).
    pub gc: bool,
    /// A database with read replicas: how many (its chains are the
    /// leader's, then theirs).
    pub followers: u32,
    /// The service's dollars per hour: replicas × profile price.
    pub cost_per_hour: f64,
}

impl ServiceInfo {
    /// Every station the service was compiled into: its chains, its other
    /// stations and its locks.
    pub fn stations(&self) -> impl Iterator<Item = StationId> + '_ {
        self.chains
            .iter()
            .flatten()
            .chain(&self.others)
            .chain(
                self.locks
                    .iter()
                    .flat_map(|l| std::iter::once(&l.head).chain(&l.stripes)),
            )
            .copied()
    }
}

/// A lock a service's requests hold, and the stations that are its stripes
/// (one holder each).
#[derive(Clone, Debug, PartialEq)]
pub struct LockInfo {
    /// The lock's name.
    pub name: String,
    /// Its first station: the one that picks a stripe, or the only stripe.
    pub head: StationId,
    /// Its stripes.
    pub stripes: Vec<StationId>,
}

/// A call point in each replica's chain.
#[derive(Clone, Debug, PartialEq)]
pub struct CallSite {
    /// The callee's name, or `parallel(a, b)`, `fanout(shard×16)`.
    pub label: String,
    /// Its index in each chain.
    pub at: usize,
}

/// Replicas of one service at most (each is a chain of stations).
const MAX_REPLICAS: u32 = 1000;

pub(crate) const REPLICATED_KINDS: [&str; 3] = ["api", "worker", "database"];
const REPLICATED_KEYS: [&str; 26] = [
    "kind",
    "servers",
    "keys",
    "zipf",
    "heap_gb",
    "live_gb",
    "alloc_per_request",
    "gc",
    "pool",
    "table",
    "locks",
    "down",
    "calls",
    "queue",
    "concurrency",
    "replicas",
    "profile",
    "workers",
    "cpu",
    "work",
    "disk_ops",
    "net_bytes",
    "serial",
    "next",
    "on",
    "discipline",
];
const PROFILE_KEYS: [&str; 6] = [
    "cores",
    "cpu_speed",
    "memory_gb",
    "disk_iops",
    "network_gbps",
    "cost_per_hour",
];
const ON_KEYS: [&str; 6] = ["cpu", "work", "calls", "next", "op", "locks"];

/// The catalog with the scenario's `[profiles]` applied: a known name is
/// overridden key by key, a new name needs `cores` and `cost_per_hour`.
pub(crate) fn profiles(w: &mut Walker<'_>, doc: &DeTable<'_>) -> Option<BTreeMap<String, Profile>> {
    let mut all: BTreeMap<String, Profile> =
        catalog().into_iter().map(|p| (p.name.clone(), p)).collect();
    let Some(value) = doc.get("profiles") else {
        return Some(all);
    };
    let table = w.table(value, "`profiles`")?;
    let mut ok = true;
    for (key, value) in table.iter() {
        let name = key.get_ref().to_string();
        let Some(t) = w.table(value, &format!("profile `{name}`")) else {
            ok = false;
            continue;
        };
        w.check_keys(t, &PROFILE_KEYS, &format!("[profiles.{name}]"));
        let base = all.get(&name).cloned();
        if base.is_none() && (t.get("cores").is_none() || t.get("cost_per_hour").is_none()) {
            w.error(format!("profile `{name}` is not in the catalog, so it needs `cores` and `cost_per_hour`"), key.span())
                .help = Some("`chokepoint profiles` lists the catalog".into());
            ok = false;
            continue;
        }
        let mut p = base.unwrap_or(Profile {
            name: name.clone(),
            cores: 1,
            cpu_speed: 1.0,
            memory_gb: 4.0,
            disk_iops: 3000.0,
            network_gbps: 1.0,
            cost_per_hour: 0.0,
        });
        if let Some(v) = t.get("cores") {
            match w
                .integer(v, "`cores`", 1)
                .and_then(|n| u32::try_from(n).ok())
            {
                Some(n) => p.cores = n,
                None => ok = false,
            }
        }
        for (k, field, min_exclusive) in [
            ("cpu_speed", &mut p.cpu_speed, true),
            ("memory_gb", &mut p.memory_gb, false),
            ("disk_iops", &mut p.disk_iops, true),
            ("network_gbps", &mut p.network_gbps, true),
            ("cost_per_hour", &mut p.cost_per_hour, false),
        ] {
            if let Some(v) = t.get(k) {
                match w.number(v, &format!("`{k}`")) {
                    Some(x) if x > 0.0 || (!min_exclusive && x == 0.0) => *field = x,
                    Some(x) => {
                        w.error(
                            format!(
                                "`{k}` must be {}, found {x}",
                                if min_exclusive {
                                    "positive"
                                } else {
                                    "at least 0"
                                }
                            ),
                            v.span(),
                        );
                        ok = false;
                    }
                    None => ok = false,
                }
            }
        }
        all.insert(name, p);
    }
    ok.then_some(all)
}

/// Reads a non-negative plain number (`disk_ops`, `net_bytes`).
fn amount(w: &mut Walker<'_>, t: &DeTable<'_>, key: &str) -> Option<f64> {
    match t.get(key) {
        Some(v) => match w.number(v, &format!("`{key}`")) {
            Some(x) if x >= 0.0 => Some(x),
            Some(x) => {
                w.error(format!("`{key}` cannot be negative, found {x}"), v.span());
                None
            }
            None => None,
        },
        None => Some(0.0),
    }
}

/// Everything read from one replicated service's table, before its stations
/// get ids.
pub(crate) struct Replicated {
    pub(crate) kind: String,
    pub(crate) replicas: u32,
    pub(crate) profile: Profile,
    pub(crate) workers: Option<u32>,
    /// Per class: CPU demand at the reference speed (None: the class cannot use it).
    pub(crate) cpu: Vec<Option<Dist>>,
    pub(crate) disk_ops: f64,
    pub(crate) net_bytes: f64,
    pub(crate) serial: f64,
    /// Per class: where requests go after the service.
    pub(crate) next: Vec<Routing>,
    /// Per class: the calls it makes.
    pub(crate) calls: PerClass,
    /// For a worker: the queue it consumes, and where that is written.
    pub(crate) queue: Option<(StationId, std::ops::Range<usize>)>,
    /// Windows when a replica is down: (replica, from, to).
    pub(crate) down: Vec<(u32, SimTime, SimTime)>,
    /// A database's connection pool, per replica (instead of `workers`).
    pub(crate) pool: Option<Pool>,
    /// A database's table: each class's operation costs pages on the disk.
    pub(crate) table: Option<Table>,
    /// Per class: its operation at a database.
    pub(crate) ops: Vec<Op>,
    /// Locks requests hold for part of their time, shared by the replicas.
    pub(crate) locks: Vec<Lock>,
    /// Per class: the locks it takes, by index (`None`: all of them).
    pub(crate) lock_use: Vec<Option<Vec<usize>>>,
    /// Where the service is declared (for the calls to its locks).
    pub(crate) span: std::ops::Range<usize>,
    /// Its replicas' heap and collector.
    pub(crate) heap: Option<HeapSpec>,
    /// A database with read replicas: how many follow the leader, and the
    /// replication lag; reads go to them, writes to the leader.
    pub(crate) followers: Option<(u32, Dist)>,
    /// The keys its reads and writes touch (stale reads are per key).
    pub(crate) keys: Popularity,
}

impl Walker<'_> {
    /// Reads a replicated service's keys.
    pub(crate) fn replicated(
        &mut self,
        service: &RawService<'_, '_>,
        kind: &str,
        class_names: &[String],
        profiles: &BTreeMap<String, Profile>,
        services: &[RawService<'_, '_>],
    ) -> Option<Replicated> {
        let (name, key_span, table) = (
            service.name.as_str(),
            service.key_span.clone(),
            service.table,
        );
        let context = format!("[services.{name}]");
        self.check_keys(table, &REPLICATED_KEYS, &context);
        let mut ok = true;
        // A database's `replicas` may be a table: a leader and read replicas.
        let mut followers = Some(None);
        let replicas = match table.get("replicas") {
            Some(v) if kind == "database" && matches!(v.get_ref(), DeValue::Table(_)) => {
                followers = self.read_replicas(v).map(Some);
                followers.clone().flatten().map(|(n, _)| n + 1)
            }
            Some(v) => self.count(v, "`replicas`", 1, MAX_REPLICAS),
            None => Some(1),
        };
        let keys = match (table.get("keys"), table.get("zipf")) {
            (None, None) => Some(Popularity {
                count: 1,
                zipf: 0.0,
            }),
            (k, z) if followers.as_ref().is_some_and(Option::is_none) => {
                let v = k.or(z).expect("one is present");
                self.error(
                    "`keys` and `zipf` apply to a database with read replicas, for its stale reads",
                    v.span(),
                )
                .help = Some("such as replicas = { count = 2, lag = \"exp(50ms)\" }".into());
                None
            }
            (k, z) => self.popularity(k, z),
        };
        if let (Some(Some(_)), Some(v)) = (&followers, table.get("down")) {
            self.error(
                "`down` is not supported on a database with read replicas",
                v.span(),
            );
            followers = None;
        }
        let profile = match (table.get("profile"), table.get("servers")) {
            (Some(_), Some(v)) => {
                self.error(
                    "give `profile` or `servers`, not both: a profile has its cores",
                    v.span(),
                );
                None
            }
            // Without a machine: `servers` cores at the reference speed, free.
            (None, Some(v)) => self.count(v, "`servers`", 1, 100_000).map(|cores| Profile {
                name: String::new(),
                cores,
                cpu_speed: 1.0,
                memory_gb: 0.0,
                disk_iops: 3000.0,
                network_gbps: 1.0,
                cost_per_hour: 0.0,
            }),
            (Some(v), None) => {
                let text = self.string(v, "`profile`")?;
                match profiles.get(text) {
                    Some(p) => Some(p.clone()),
                    None => {
                        let d = self.error(format!("unknown profile `{text}`"), v.span());
                        d.help = Some(match did_you_mean(text, profiles.keys().map(String::as_str)) {
                            Some(s) => format!("did you mean `{s}`? `chokepoint profiles` lists the catalog"),
                            None => "`chokepoint profiles` lists the catalog; add your own as [profiles.NAME]".into(),
                        });
                        None
                    }
                }
            }
            (None, None) => {
                self.error(
                    format!("service `{name}` of kind `{kind}` needs a `profile`"),
                    key_span.clone(),
                )
                .help = Some(
                    "the machine its replicas run on, such as profile = \"c-large\"; or `servers`, its cores without a machine".into(),
                );
                None
            }
        };
        // A worker's consumers are its `concurrency`, another name for workers.
        let workers = match (table.get("workers"), table.get("concurrency")) {
            (Some(_), Some(v)) => {
                self.error(
                    "give `workers` or `concurrency`, not both (they mean the same)",
                    v.span(),
                );
                None
            }
            (Some(v), None) => self
                .integer(v, "`workers`", 1)
                .and_then(|n| u32::try_from(n).ok())
                .map(Some),
            (None, Some(v)) => self
                .integer(v, "`concurrency`", 1)
                .and_then(|n| u32::try_from(n).ok())
                .map(Some),
            (None, None) => Some(None),
        };
        let queue = match table.get("queue") {
            Some(v) if kind != "worker" => {
                self.error("only a `worker` consumes a `queue`", v.span());
                None
            }
            Some(v) => match self.service_ref(v, "`queue`", services) {
                Some(q)
                    if services[q.idx()]
                        .table
                        .get("kind")
                        .and_then(|k| k.get_ref().as_str())
                        == Some("queue") =>
                {
                    if workers.is_some_and(|w| w.is_none()) {
                        self.error(
                            format!("worker `{name}` consumes a queue, so it needs `concurrency`, its consumers per replica"),
                            key_span.clone(),
                        );
                        None
                    } else {
                        Some(Some((q, v.span())))
                    }
                }
                Some(q) => {
                    self.error(
                        format!(
                            "`{}` is not a queue (kind = \"queue\")",
                            services[q.idx()].name
                        ),
                        v.span(),
                    );
                    None
                }
                None => None,
            },
            None => Some(None),
        };
        let serial = match table.get("serial") {
            Some(v) => match self.number(v, "`serial`") {
                Some(x) if (0.0..1.0).contains(&x) => Some(x),
                Some(x) => {
                    self.error(
                        format!("`serial` is a fraction in [0, 1), found {x}"),
                        v.span(),
                    );
                    None
                }
                None => None,
            },
            None => Some(0.0),
        };
        if table.get("discipline").is_some() {
            // Accepted for symmetry with stations, but only processor sharing makes sense for cores.
            if let Some(v) = table.get("discipline")
                && self.string(v, "`discipline`") != Some("ps")
            {
                self.error(
                    "a replica's CPU is processor sharing; only discipline = \"ps\" is accepted",
                    v.span(),
                );
                ok = false;
            }
        }
        let demand = |w: &mut Self, t: &DeTable<'_>| -> Option<Option<Dist>> {
            match (t.get("cpu"), t.get("work")) {
                (Some(a), Some(_)) => {
                    w.error(
                        "give `cpu` or `work`, not both (they mean the same here)",
                        a.span(),
                    );
                    None
                }
                (Some(v), None) | (None, Some(v)) => w.dist(v, "`cpu`").map(Some),
                (None, None) => Some(None),
            }
        };
        let database = kind == "database";
        let only_database = |w: &mut Self, key: &str| {
            let v = table.get(key)?;
            if !database {
                w.error(format!("only a `database` has a `{key}`"), v.span())
                    .help = Some(match key {
                    "pool" => "an api's or worker's threads are its `workers`".into(),
                    _ => "make the service kind = \"database\"".into(),
                });
                return None;
            }
            Some(v)
        };
        let pool = match only_database(self, "pool") {
            Some(v) if table.get("workers").is_some() => {
                self.error(
                    "give `pool` or `workers`, not both: a database's connections are its pool",
                    v.span(),
                );
                // Its own mistakes too.
                self.pool(v);
                None
            }
            Some(v) => self.pool(v).map(Some),
            None => Some(None).filter(|_| database || table.get("pool").is_none()),
        };
        let db_table = match only_database(self, "table") {
            Some(v) => self.db_table(v).map(Some),
            None => Some(None).filter(|_| database || table.get("table").is_none()),
        };
        let heap = self.heap(table, service);
        let locks = match table.get("locks") {
            Some(v) => self.locks(v),
            None => Some(Vec::new()),
        };
        let base_cpu = demand(self, table);
        let disk_ops = amount(self, table, "disk_ops");
        let net_bytes = amount(self, table, "net_bytes");
        let base_next = match table.get("next") {
            Some(v) => self.routing(v, services, &context),
            None => Some(Routing::exit()),
        };
        let base_calls = match table.get("calls") {
            Some(v) => self.calls(v, services, &context),
            None => Some(Vec::new()),
        };
        let mut cpu = Vec::new();
        let mut next = Vec::new();
        let mut calls = Vec::new();
        let mut ops = Vec::new();
        let mut lock_use: Vec<Option<Vec<usize>>> = Vec::new();
        let on = table.get("on").and_then(|v| self.table(v, "`on`"));
        for class in class_names {
            let t = on
                .and_then(|on| on.get(class.as_str()))
                .and_then(|v| self.table(v, &format!("`on.{class}`")));
            let (c, n, k) = match t {
                Some(t) => {
                    self.check_keys(t, &ON_KEYS, &format!("{context}.on.{class}"));
                    let c = demand(self, t);
                    let n = t.get("next").map(|v| self.routing(v, services, &context));
                    let k = t.get("calls").map(|v| self.calls(v, services, &context));
                    let op = match t.get("op") {
                        Some(v) if !database => {
                            self.error(
                                "only a `database` distinguishes reads from writes",
                                v.span(),
                            );
                            None
                        }
                        Some(v) => self.op(v),
                        None => Some(Op::Read),
                    };
                    ok &= op.is_some();
                    ops.push(op.unwrap_or_default());
                    let chosen = match t.get("locks") {
                        Some(v) => self
                            .lock_names(v, locks.as_deref().unwrap_or(&[]))
                            .map(Some),
                        None => Some(None),
                    };
                    ok &= chosen.is_some();
                    lock_use.push(chosen.flatten());
                    (c, n, k)
                }
                None => {
                    ops.push(Op::Read);
                    lock_use.push(None);
                    (Some(None), None, None)
                }
            };
            match k {
                Some(Some(k)) => calls.push(Some(k)),
                Some(None) => {
                    ok = false;
                    calls.push(None);
                }
                None => calls.push(base_calls.clone()),
            }
            match (c, &base_cpu) {
                (Some(Some(d)), _) => cpu.push(Some(d)),
                (Some(None), Some(b)) => cpu.push(b.clone()),
                _ => {
                    ok = false;
                    cpu.push(None);
                }
            }
            match n {
                Some(Some(r)) => next.push(r),
                Some(None) => ok = false,
                None => next.push(base_next.clone().unwrap_or_default()),
            }
        }
        if let Some(on) = on {
            for (key, _) in on.iter() {
                if !class_names.iter().any(|c| c == key.get_ref().as_ref()) {
                    self.error(
                        format!("unknown class `{}` in {context}.on", key.get_ref()),
                        key.span(),
                    );
                    ok = false;
                }
            }
        }
        let replicated = Replicated {
            kind: kind.to_owned(),
            replicas: replicas?,
            profile: profile?,
            workers: workers?,
            cpu,
            disk_ops: disk_ops?,
            net_bytes: net_bytes?,
            serial: serial?,
            next,
            calls,
            queue: queue?,
            down: match (table.get("down"), replicas) {
                (Some(v), Some(n)) => self.downtimes(v, Some(n))?,
                _ => Vec::new(),
            },
            pool: pool?,
            table: db_table?,
            ops,
            locks: locks?,
            lock_use,
            span: key_span,
            heap: heap?,
            followers: followers?,
            keys: keys?,
        };
        base_next?;
        base_calls?;
        (ok && base_cpu.is_some()).then_some(replicated)
    }
}

impl Replicated {
    /// The replicas' stations, whose ids start at `first_id`, and the
    /// service's balancer (its own station, named `name`) over them.
    pub(crate) fn compile(
        &self,
        name: &str,
        first_id: u32,
        n_classes: usize,
    ) -> (Station, Vec<Station>, ServiceInfo) {
        let p = &self.profile;
        let mut stations = Vec::new();
        let mut chains = Vec::new();
        let mut cpu_at = 0;
        let mut sites = Vec::new();
        let mut others = Vec::new();
        // The locks first, shared by every replica; each request calls those
        // its class takes before its own calls.
        let uses: Vec<bool> = self.cpu.iter().map(Option::is_some).collect();
        let takes = |ci: usize, l: usize| self.lock_use[ci].as_ref().is_none_or(|u| u.contains(&l));
        let mut lock_calls = Vec::new();
        let mut locks = Vec::new();
        for lock in &self.locks {
            let head = first_id + stations.len() as u32;
            // Every class that visits the service may reach the stripes (its
            // call is made with probability 0 when the class does not take it).
            let own = lock.stations(name, head, &uses);
            locks.push(LockInfo {
                name: lock.name.clone(),
                head: StationId(head),
                stripes: (head..head + own.len() as u32)
                    .skip(usize::from(own.len() > 1))
                    .map(StationId)
                    .collect(),
            });
            stations.extend(own);
            lock_calls.push(CallEntry {
                targets: vec![StationId(head)],
                label: format!("lock {}", lock.name),
                wait: 1,
                p: 1.0,
                n: 1,
                latency: None,
                bytes: None,
                span: self.span.clone(),
            });
        }
        // Classes that cannot use the service make no call.
        let per_class: PerClass = self
            .calls
            .iter()
            .zip(&self.cpu)
            .enumerate()
            .map(|(ci, (c, cpu))| {
                cpu.as_ref().and(c.as_ref()).map(|c| {
                    let mut all: Vec<CallEntry> = lock_calls
                        .iter()
                        .enumerate()
                        .filter(|&(l, _)| takes(ci, l))
                        .map(|(_, e)| e.clone())
                        .collect();
                    all.extend(c.iter().cloned());
                    all
                })
            })
            .collect();
        let zero = Dist::constant(0.0).expect("zero is a valid constant");
        let mut leader_last: Option<StationId> = None;
        for r in 0..self.replicas {
            // (role, servers, discipline, work per class)
            let mut roles: Vec<(&str, u32, Discipline, Vec<Option<Dist>>)> = Vec::new();
            let scale = |d: &Option<Dist>, share: f64| {
                d.as_ref().and_then(|d| d.scaled(share / p.cpu_speed).ok())
            };
            if self.pool.is_some() {
                // Opening a connection: a delay that never queues.
                roles.push((
                    "connect",
                    INFINITE_SERVERS,
                    Discipline::Fifo,
                    uses.iter().map(|&u| u.then(|| zero.clone())).collect(),
                ));
            }
            if self.serial > 0.0 {
                roles.push((
                    "lock",
                    1,
                    Discipline::Fifo,
                    self.cpu.iter().map(|d| scale(d, self.serial)).collect(),
                ));
            }
            cpu_at = roles.len();
            roles.push((
                "cpu",
                p.cores,
                Discipline::Ps,
                self.cpu
                    .iter()
                    .map(|d| scale(d, 1.0 - self.serial))
                    .collect(),
            ));
            // Disk operations: the service's own, plus its table's pages.
            let ops: Vec<f64> = self
                .ops
                .iter()
                .map(|&op| self.disk_ops + self.table.map_or(0.0, |t| t.pages(op)))
                .collect();
            if ops.iter().any(|&o| o > 0.0) {
                let t = ops
                    .iter()
                    .map(|o| Dist::constant(o / p.disk_iops * 1e9).ok())
                    .collect();
                roles.push(("disk", 1, Discipline::Fifo, t));
            }
            if self.net_bytes > 0.0 {
                let t = Dist::constant(8.0 * self.net_bytes / (p.network_gbps * 1e9) * 1e9).ok();
                roles.push(("net", 1, Discipline::Fifo, vec![t; n_classes]));
            }
            let base = first_id + stations.len() as u32;
            let last = base + roles.len() as u32 - 1;
            let calls = calls::any(&per_class).then(|| {
                calls::compile(
                    &format!("{name}[{r}]"),
                    &per_class,
                    &self.next,
                    last + 1,
                    Some(p.network_gbps),
                )
            });
            // The worker is held until the last reply.
            let release = calls
                .as_ref()
                .and_then(|c| c.points.last().copied())
                .unwrap_or(StationId(last));
            let mut chain = Vec::new();
            for (i, (role, servers, discipline, work)) in roles.into_iter().enumerate() {
                let id = base + i as u32;
                chain.push(StationId(id));
                let behaviour = work
                    .into_iter()
                    .enumerate()
                    .map(|(ci, w)| {
                        w.map(|work| Behaviour {
                            work,
                            routing: if id == last && calls.is_none() {
                                self.next[ci].clone()
                            } else {
                                Routing::to(StationId(id + 1))
                            },
                        })
                    })
                    .collect();
                // The CPU's heap: requests in flight are those holding the
                // replica's workers (or connections), if it has a pool.
                let in_flight =
                    (self.workers.is_some() || self.pool.is_some()).then_some(StationId(base));
                // With read replicas, the last own station of the leader's
                // chain records writes, and each follower's checks reads.
                let replication =
                    self.followers.as_ref().filter(|_| id == last).map(
                        |(_, lag)| match leader_last {
                            None => Replication::Leader {
                                keys: self.keys,
                                lag: lag.clone(),
                            },
                            Some(leader) => Replication::Follower { leader },
                        },
                    );
                let queue = Queue {
                    replication,
                    gc: self.heap.filter(|_| role == "cpu").map(|h| Gc {
                        heap: h.heap,
                        live: h.live,
                        alloc: h.alloc,
                        pause_min: h.pause_min,
                        pause_per_byte: h.pause_per_byte,
                        in_flight,
                    }),
                    ..Queue::new(servers, discipline)
                };
                stations.push(Station {
                    admission: match &self.pool {
                        _ if i > 0 => None,
                        Some(pool) => Some(Admission {
                            connections: Some(pool.connections),
                            ..Admission::new(pool.size, release)
                        }),
                        None => self.workers.map(|slots| Admission::new(slots, release)),
                    },
                    ..Station::with_role(
                        format!("{name}[{r}].{role}"),
                        Role::Queue(queue),
                        behaviour,
                    )
                });
            }
            if let Some(c) = calls {
                if r == 0 {
                    sites = c
                        .labels
                        .iter()
                        .enumerate()
                        .map(|(j, label)| CallSite {
                            label: label.clone(),
                            at: chain.len() + j,
                        })
                        .collect();
                }
                chain.extend(&c.points);
                others.extend(&c.hops);
                stations.extend(c.stations);
            }
            if r == 0 {
                leader_last = Some(StationId(last));
            }
            chains.push(chain);
        }
        let heads: Vec<StationId> = chains.iter().map(|c| c[0]).collect();
        let balancer = if self.followers.is_some() {
            // Reads spread over the followers, writes go to the leader: the
            // service's own station routes each class, in no time.
            let reads = StationId(first_id + stations.len() as u32);
            others.push(reads);
            stations.push(Station::balancer(
                format!("{name}.reads"),
                Dispatch::new(Policy::Random, heads[1..].to_vec()),
                n_classes,
            ));
            let behaviour = self
                .ops
                .iter()
                .zip(&uses)
                .map(|(op, &u)| {
                    u.then(|| Behaviour {
                        work: zero.clone(),
                        routing: Routing::to(if *op == Op::Write { heads[0] } else { reads }),
                    })
                })
                .collect();
            Station::new(name, INFINITE_SERVERS, Discipline::Fifo, behaviour)
        } else {
            Station::balancer(name, Dispatch::new(Policy::Random, heads), n_classes)
        };
        let info = ServiceInfo {
            name: name.to_owned(),
            kind: self.kind.clone(),
            replicas: self.replicas,
            // A service given `servers` instead runs on no priced machine.
            profile: (!p.name.is_empty()).then(|| p.clone()),
            chains,
            cpu_at,
            calls: sites,
            others,
            locks,
            connect: self.pool.is_some(),
            followers: self.followers.as_ref().map_or(0, |f| f.0),
            gc: self.heap.is_some(),
            cost_per_hour: f64::from(self.replicas) * p.cost_per_hour,
        };
        (balancer, stations, info)
    }
}
