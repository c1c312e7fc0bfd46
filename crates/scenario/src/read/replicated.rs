//! `kind = "api"`, `"worker"` or `"database"`: replicas of a service on
//! machines of a hardware `profile`, with worker threads or a connection
//! pool, a serial fraction, disk and network demands, locks, a garbage
//! collected heap, read replicas, shards; and the scenario's `[profiles]`.
//! How they become stations is in `lower/replicated.rs`.

use std::collections::BTreeMap;
use std::ops::Range;

use chokepoint_core::dist::Dist;
use chokepoint_core::model::{Op, Partition, Popularity};
use toml::de::{DeTable, DeValue};

use super::autoscale::{AutoscaleDef, Offers};
use super::data::{MAX_KEYS, Scope, Shards};
use super::{
    CallId, Down, HeapSpec, Lock, MAX_COUNT, MAX_REPLICAS, Pool, QueueId, QueueRef, RouteDef,
    Table, Walker,
};
use crate::diagnostic::did_you_mean;
use crate::layout::ServiceKind;
use crate::profiles::{Profile, catalog};

pub(crate) const REPLICATED_KEYS: [&str; 31] = [
    "autoscale",
    "shards",
    "codel",
    "adaptive_lifo",
    "rate_limit",
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
pub(crate) const PROFILE_KEYS: [&str; 6] = [
    "cores",
    "cpu_speed",
    "memory_gb",
    "disk_iops",
    "network_gbps",
    "cost_per_hour",
];
pub(crate) const ON_KEYS: [&str; 7] = ["cpu", "work", "calls", "next", "op", "locks", "scope"];

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
pub(crate) struct ReplicatedDef {
    pub(crate) replicas: u32,
    pub(crate) profile: Profile,
    pub(crate) workers: Option<u32>,
    /// Per class: CPU demand at the reference speed (None: the class cannot use it).
    pub(crate) cpu: Vec<Option<Dist>>,
    pub(crate) disk_ops: f64,
    pub(crate) net_bytes: f64,
    pub(crate) serial: f64,
    /// Per class: where requests go after the service.
    pub(crate) next: Vec<RouteDef>,
    /// Per class: the calls it makes (`None` for a class with an error).
    pub(crate) calls: Vec<Option<Vec<CallId>>>,
    /// For a worker: the queue it consumes.
    pub(crate) queue: Option<QueueId>,
    /// Windows when a replica is down: (replica, from, to).
    pub(crate) down: Vec<Down>,
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
    /// Its autoscaler: `replicas` is then its most.
    pub(crate) autoscale: Option<AutoscaleDef>,
    /// A database split by key: each shard its own `replicas` (and read
    /// replicas), the keys `keys`.
    pub(crate) shards: Option<Shards>,
    /// Per class: which shards a request touches.
    pub(crate) scope: Vec<Scope>,
}

impl Walker<'_> {
    /// Reads a replicated service's keys.
    pub(crate) fn replicated(
        &mut self,
        name: &str,
        key_span: &Range<usize>,
        table: &DeTable<'_>,
        kind: ServiceKind,
        class_names: &[String],
        profiles: &BTreeMap<String, Profile>,
    ) -> Option<ReplicatedDef> {
        let key_span = key_span.clone();
        let name_of_worker = name;
        let context = format!("[services.{name}]");
        self.check_keys(table, &REPLICATED_KEYS, &context);
        let mut ok = true;
        // A database's `replicas` may be a table: a leader and read replicas.
        let mut followers = Some(None);
        let replicas = match table.get("replicas") {
            Some(v)
                if kind == ServiceKind::Database && matches!(v.get_ref(), DeValue::Table(_)) =>
            {
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
            (k, z)
                if followers.as_ref().is_some_and(Option::is_none)
                    && table.get("shards").is_none() =>
            {
                let v = k.or(z).expect("one is present");
                self.error(
                    "`keys` and `zipf` apply to a database with read replicas (for its stale reads) or with `shards` (the keys they split)",
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
        let shards = match table.get("shards") {
            Some(v) if kind != ServiceKind::Database => {
                self.error(
                    "only a `database` or a `cache` is split into `shards`",
                    v.span(),
                )
                .help = Some("an api or worker scales by `replicas`".into());
                None
            }
            Some(v) => {
                match (self.shards(v), &keys) {
                    (Some(sh), Some(k)) if sh.by == Partition::Range && sh.count > k.count => {
                        self.error(
                            format!(
                                "a range over {} shards needs at least as many keys; `keys` is {}",
                                sh.count, k.count
                            ),
                            v.span(),
                        )
                        .help = Some("give the service more `keys`, or fewer shards".into());
                        None
                    }
                    (Some(sh), Some(k))
                        if matches!(followers, Some(Some(_)))
                            && u64::from(sh.count) * u64::from(k.count) > u64::from(MAX_KEYS) =>
                    {
                        self.error(
                        format!(
                            "{} shards × {} keys is too many: each shard's read replicas keep a slot for every key of the catalogue, at most {MAX_KEYS} slots in all",
                            sh.count, k.count
                        ),
                        v.span(),
                    );
                        None
                    }
                    (Some(_), Some(_)) if table.get("locks").is_some() => {
                        self.error(
                        "a sharded database cannot have `locks` yet: each shard would need its own",
                        v.span(),
                    )
                    .help = Some("model the lock's hold as part of `cpu`, or leave `shards` out".into());
                        None
                    }
                    (sh, _) => sh.map(Some),
                }
            }
            None => Some(None),
        };
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
                    format!(
                        "service `{name}` of kind `{}` needs a `profile`",
                        kind.as_str()
                    ),
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
            (Some(v), None) => self.count(v, "`workers`", 1, MAX_COUNT).map(Some),
            (None, Some(v)) => self.count(v, "`concurrency`", 1, MAX_COUNT).map(Some),
            (None, None) => Some(None),
        };
        let queue = match table.get("queue") {
            Some(v) if kind != ServiceKind::Worker => {
                self.error("only a `worker` consumes a `queue`", v.span());
                None
            }
            Some(v) => self.name(v, "`queue`").map(|name| {
                self.read.queues.push(QueueRef {
                    name,
                    worker: name_of_worker.to_owned(),
                    worker_span: key_span.clone(),
                    concurrency: workers.map(|w| w.is_some()),
                });
                Some(QueueId(self.read.queues.len() - 1))
            }),
            None => Some(None),
        };
        let mut replicas = replicas;
        let autoscale = match table.get("autoscale") {
            Some(v) if kind == ServiceKind::Database => {
                self.error("only an `api` or a `worker` autoscales", v.span())
                    .help =
                    Some("a database scales by `replicas` (read replicas) and its `pool`".into());
                None
            }
            Some(v) => {
                let given = table
                    .get("replicas")
                    .and_then(|r| Some((replicas?, r.span())));
                let offers = Offers {
                    workers: matches!(workers, Some(Some(_))),
                    queue: matches!(queue, Some(Some(_))),
                };
                let def = self.autoscale(v, given, &offers);
                // Every replica it may run is built; `replicas` are its most.
                replicas = def.as_ref().map(|d| d.max).or(replicas);
                def.map(Some)
            }
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
        let database = kind == ServiceKind::Database;
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
        let heap = self.heap(name, &key_span, table);
        let locks = match table.get("locks") {
            Some(v) => self.locks(v),
            None => Some(Vec::new()),
        };
        let base_cpu = demand(self, table);
        let disk_ops = amount(self, table, "disk_ops");
        let net_bytes = amount(self, table, "net_bytes");
        let base_next = match table.get("next") {
            Some(v) => self.routing(v, &context),
            None => Some(RouteDef::default()),
        };
        let base_calls = match table.get("calls") {
            Some(v) => self.calls(v, &context),
            None => Some(Vec::new()),
        };
        let mut cpu = Vec::new();
        let mut next = Vec::new();
        let mut calls = Vec::new();
        let mut ops = Vec::new();
        let mut lock_use: Vec<Option<Vec<usize>>> = Vec::new();
        let mut scope = Vec::new();
        let mut scope_ok = true;
        let on = table.get("on").and_then(|v| self.table(v, "`on`"));
        for class in class_names {
            let t = on
                .and_then(|on| on.get(class.as_str()))
                .and_then(|v| self.table(v, &format!("`on.{class}`")));
            let (c, n, k) = match t {
                Some(t) => {
                    self.check_keys(t, &ON_KEYS, &format!("{context}.on.{class}"));
                    let c = demand(self, t);
                    let n = t.get("next").map(|v| self.routing(v, &context));
                    let k = t.get("calls").map(|v| self.calls(v, &context));
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
                    let sc = match t.get("scope") {
                        Some(v) if table.get("shards").is_none() => {
                            self.error(
                                "`scope` applies to a service with `shards`: which of them a request touches",
                                v.span(),
                            );
                            None
                        }
                        Some(v) => {
                            let count = shards.as_ref().and_then(|s| s.as_ref()).map(|s| s.count);
                            self.scope(v, count)
                        }
                        None => Some(Scope::Key),
                    };
                    ok &= sc.is_some();
                    scope_ok &= sc.is_some();
                    scope.push(sc.unwrap_or_default());
                    (c, n, k)
                }
                None => {
                    ops.push(Op::Read);
                    lock_use.push(None);
                    scope.push(Scope::Key);
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
        // With one key, every request by key goes to one shard (a class's
        // misspelt scope already has its error).
        if let (Some(Some(sh)), Some(k)) = (&shards, &keys)
            && scope_ok
            && k.count == 1
            && cpu
                .iter()
                .zip(&scope)
                .any(|(c, s)| c.is_some() && *s == Scope::Key)
        {
            self.error(
                "a sharded database needs `keys`: with one key every request goes to one shard",
                sh.span.clone(),
            )
            .help = Some(
                "such as keys = 1_000_000 (and zipf = 0.9 for skewed popularity) beside `shards`"
                    .into(),
            );
            ok = false;
        }
        let replicated = ReplicatedDef {
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
                // A sharded service's replicas are numbered shard after shard.
                (Some(v), Some(n)) => {
                    let per = shards
                        .as_ref()
                        .and_then(|s| s.as_ref())
                        .map_or(1, |s| s.count);
                    self.downtimes(v, Some(n * per))?
                }
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
            autoscale: autoscale?,
            shards: shards?,
            scope,
        };
        base_next?;
        base_calls?;
        (ok && base_cpu.is_some()).then_some(replicated)
    }

    /// The catalog with the scenario's `[profiles]` applied: a known name is
    /// overridden key by key, a new name needs `cores` and `cost_per_hour`.
    pub(crate) fn profiles(&mut self, doc: &DeTable<'_>) -> Option<BTreeMap<String, Profile>> {
        let mut all: BTreeMap<String, Profile> =
            catalog().into_iter().map(|p| (p.name.clone(), p)).collect();
        let Some(value) = doc.get("profiles") else {
            return Some(all);
        };
        let table = self.table(value, "`profiles`")?;
        let mut ok = true;
        for (key, value) in table.iter() {
            let name = key.get_ref().to_string();
            let Some(t) = self.table(value, &format!("profile `{name}`")) else {
                ok = false;
                continue;
            };
            self.check_keys(t, &PROFILE_KEYS, &format!("[profiles.{name}]"));
            let base = all.get(&name).cloned();
            if base.is_none() && (t.get("cores").is_none() || t.get("cost_per_hour").is_none()) {
                self.error(format!("profile `{name}` is not in the catalog, so it needs `cores` and `cost_per_hour`"), key.span())
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
                match self.count(v, "`cores`", 1, MAX_COUNT) {
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
                    match self.number(v, &format!("`{k}`")) {
                        Some(x) if x > 0.0 || (!min_exclusive && x == 0.0) => *field = x,
                        Some(x) => {
                            self.error(
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
}
