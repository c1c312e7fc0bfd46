//! The data tier's keys: a database's connection `pool`, its `table` (an
//! index cost model) with each class's `op`, and the `locks` a service's
//! requests hold.
//!
//! ```text
//!   [ pool: size connections ]─► [ connect: handshake, when none is idle ] ─► cpu ─► disk: pages ─► [ lock ]─► ...
//!                                                                                                   striped: keys × one holder
//! ```
//!
//! - The pool is an admission pool whose slots are connections: a query
//!   waits for one ("pool wait"), reuses an idle one or opens one (the
//!   `connect` delay, while holding it), and returns it after its last
//!   station.
//! - The table turns each class's operation into page reads on the
//!   replica's disk: an indexed read ⌈log₂ rows⌉, a scan ⌈rows /
//!   rows_per_page⌉, a write ⌈log₂ rows⌉ for the row and as many again for
//!   each index.
//! - A lock is a call to `keys` stripes shared by every replica, each one
//!   holder at a time for `hold`: throughput through it is at most
//!   keys / hold, whatever the replicas and cores.

use std::ops::Range;

use chokepoint_core::dist::Dist;
use chokepoint_core::model::{CacheContents, Connections, Op, Partition, Popularity, WritePolicy};
use chokepoint_core::time::SimTime;
use toml::de::{DeTable, DeValue};

use super::{CallId, Value, Walker};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::units::parse_duration;

pub(crate) const POOL_KEYS: [&str; 4] = ["size", "connect", "idle_timeout", "reuse"];
pub(crate) const TABLE_KEYS: [&str; 4] = ["rows", "rows_per_page", "indexes", "indexed"];
pub(crate) const LOCK_KEYS: [&str; 3] = ["name", "hold", "keys"];
/// A cache's own keys, besides a station's (`capacity` is its entries).
pub(crate) const CACHE_KEYS: [&str; 10] = [
    "shards",
    "hit_ratio",
    "keys",
    "zipf",
    "capacity",
    "ttl",
    "on_miss",
    "write_policy",
    "flush_batch",
    "flush_interval",
];
pub(crate) const WRITE_POLICIES: [&str; 3] = ["invalidate", "write_through", "write_back"];
/// A database's read replicas: `replicas = { count, lag }`.
pub(crate) const REPLICAS_KEYS: [&str; 2] = ["count", "lag"];
/// A sharded service's shards: `shards = { count, by }`.
pub(crate) const SHARDS_KEYS: [&str; 2] = ["count", "by"];
/// How keys are split among shards.
pub(crate) const PARTITIONS: [&str; 2] = ["hash", "range"];
/// Which shards a class's request touches.
pub(crate) const SCOPES: [&str; 2] = ["key", "all"];
/// Shards of one service at most.
pub(crate) const MAX_SHARDS: u32 = 1000;
pub(crate) const GC_KEYS: [&str; 3] = ["model", "pause_min", "pause_per_gb"];
pub(crate) const GC_MODELS: [&str; 1] = ["stop_the_world"];
/// Keys of a catalogue at most (a cache keeps 16 bytes of state for each,
/// a replicated database 8).
pub(crate) const MAX_KEYS: u32 = 10_000_000;
/// Read replicas of one database at most.
const MAX_FOLLOWERS: u32 = 100;

/// Connections in one pool at most, and stripes of one lock.
const MAX_SLOTS: u32 = 100_000;
const MAX_STRIPES: u32 = 1000;

/// A database's connection pool, per replica.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Pool {
    pub(crate) size: u32,
    pub(crate) connections: Connections,
}

/// A service split by key: `count` shards, the keys split `by` hash or
/// range.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Shards {
    pub(crate) count: u32,
    pub(crate) by: Partition,
    /// Where `shards` is written.
    pub(crate) span: Range<usize>,
}

/// Which shards of a sharded service a class's request touches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The one shard that holds its key.
    #[default]
    Key,
    /// Every shard, in parallel, waiting for all (a scatter-gather query).
    All,
    /// This many shards, drawn at random for each request, in parallel,
    /// waiting for all (a query whose keys lie on several shards).
    Shards(u32),
}

impl Scope {
    /// How many of `count` shards a request touches at once, when it
    /// scatters; `None` for the one shard of its key.
    pub(crate) fn width(self, count: u32) -> Option<u32> {
        match self {
            Scope::Key => None,
            Scope::All => Some(count),
            Scope::Shards(k) => Some(k.min(count)),
        }
    }
}

/// A table's size and indexes, for the cost of each operation in pages.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Table {
    pub(crate) rows: f64,
    pub(crate) rows_per_page: f64,
    pub(crate) indexes: u32,
    pub(crate) indexed: bool,
}

impl Table {
    /// Pages an operation reads: an indexed read walks one tree, a scan
    /// reads every page, a write finds its row and updates every index.
    pub(crate) fn pages(&self, op: Op) -> f64 {
        let depth = self.rows.log2().ceil().max(1.0);
        match op {
            Op::Read if self.indexed => depth,
            Op::Read => (self.rows / self.rows_per_page).ceil().max(1.0),
            Op::Write => depth * f64::from(1 + self.indexes),
        }
    }
}

/// A lock requests hold for part of their work: `keys` stripes, each held
/// by one request at a time.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Lock {
    pub(crate) name: String,
    pub(crate) hold: Dist,
    pub(crate) keys: u32,
}

/// A service's heap and collector, as read: sizes in bytes, pauses in
/// nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct HeapSpec {
    pub(crate) heap: f64,
    pub(crate) live: f64,
    pub(crate) alloc: f64,
    pub(crate) pause_min: f64,
    pub(crate) pause_per_byte: f64,
}

/// A cache's keys, as read.
#[derive(Clone, Debug)]
pub(crate) struct CacheDef {
    pub(crate) contents: CacheContents,
    pub(crate) write_policy: WritePolicy,
    pub(crate) on_miss: Vec<CallId>,
    /// Per class.
    pub(crate) ops: Vec<Op>,
    /// Split by key into shards, each its own cache of `capacity`.
    pub(crate) shards: Option<Shards>,
}

impl CacheDef {
    /// The engine's cache, fetching from `backing` (one shard's, with
    /// `shard`); its write share is settled by the analysis later.
    pub(crate) fn model(
        &self,
        backing: chokepoint_core::model::StationId,
        shard: Option<chokepoint_core::model::ShardOf>,
    ) -> chokepoint_core::model::Cache {
        chokepoint_core::model::Cache {
            contents: self.contents.clone(),
            ops: self.ops.clone(),
            write_policy: self.write_policy,
            backing,
            writes_per_read: 0.0,
            shard,
        }
    }
}

impl Walker<'_> {
    /// A service's `heap_gb`, `live_gb`, `alloc_per_request` (MB) and `gc`
    /// (`"stop_the_world"`, or a table with `model`, `pause_min`,
    /// `pause_per_gb`); `Some(None)` when it has none of them.
    pub(crate) fn heap(
        &mut self,
        name: &str,
        key_span: &Range<usize>,
        table: &DeTable<'_>,
    ) -> Option<Option<HeapSpec>> {
        let keys = ["heap_gb", "live_gb", "alloc_per_request", "gc"];
        if keys.iter().all(|k| table.get(*k).is_none()) {
            return Some(None);
        }
        let mut ok = true;
        for key in ["heap_gb", "alloc_per_request", "gc"] {
            if table.get(key).is_none() {
                self.error(
                    format!(
                        "service `{name}` has a heap: it needs `heap_gb`, `alloc_per_request` and `gc`"
                    ),
                    key_span.clone(),
                )
                .help = Some(format!(
                    "`{key}` is missing; such as heap_gb = 4, live_gb = 1, alloc_per_request = 8 (MB), gc = \"stop_the_world\""
                ));
                ok = false;
                break;
            }
        }
        let positive = |w: &mut Self, key: &str, zero_ok: bool| -> Option<f64> {
            let v = table.get(key)?;
            match w.number(v, &format!("`{key}`")) {
                Some(x) if x > 0.0 || (zero_ok && x == 0.0) => Some(x),
                Some(x) => {
                    w.error(format!("`{key}` must be positive, found {x}"), v.span());
                    None
                }
                None => None,
            }
        };
        let heap = positive(self, "heap_gb", false);
        let live = match table.get("live_gb") {
            Some(_) => positive(self, "live_gb", true),
            None => Some(0.0),
        };
        let alloc = positive(self, "alloc_per_request", false);
        if let (Some(h), Some(l), Some(v)) = (heap, live, table.get("live_gb"))
            && l >= h
        {
            self.error(
                format!("`live_gb` ({l}) must be below `heap_gb` ({h}): the heap would be full before any request"),
                v.span(),
            );
            ok = false;
        }
        let (mut pause_min, mut pause_per_gb) = (Some(1e-3), Some(50e-3));
        if let Some(v) = table.get("gc") {
            match v.get_ref() {
                DeValue::String(m) => {
                    if !GC_MODELS.contains(&m.as_ref()) {
                        self.error(format!("unknown `gc` model `{m}`"), v.span())
                            .help = Some(format!("choose one of: {}", GC_MODELS.join(", ")));
                        ok = false;
                    }
                }
                DeValue::Table(t) => {
                    self.check_keys(t, &GC_KEYS, "`gc`");
                    match t.get("model").map(|m| self.string(m, "`gc.model`")) {
                        Some(Some(m)) if GC_MODELS.contains(&m) => {}
                        Some(Some(m)) => {
                            let span = t.get("model").map_or(v.span(), |m| m.span());
                            self.error(format!("unknown `gc` model `{m}`"), span).help =
                                Some(format!("choose one of: {}", GC_MODELS.join(", ")));
                            ok = false;
                        }
                        Some(None) => ok = false,
                        None => {}
                    }
                    if let Some(p) = t.get("pause_min") {
                        pause_min = self.duration(p, "`gc.pause_min`");
                    }
                    if let Some(p) = t.get("pause_per_gb") {
                        pause_per_gb = self.duration(p, "`gc.pause_per_gb`");
                    }
                }
                _ => {
                    self.type_error(
                        v,
                        "`gc`",
                        "\"stop_the_world\" or a table such as { model = \"stop_the_world\", pause_per_gb = \"50ms\" }",
                    );
                    ok = false;
                }
            }
        }
        if pause_min == Some(0.0)
            && pause_per_gb == Some(0.0)
            && let Some(v) = table.get("gc")
        {
            self.error(
                "a collection takes time: `pause_min` or `pause_per_gb` must be positive",
                v.span(),
            );
            ok = false;
        }
        let spec = HeapSpec {
            heap: heap? * 1e9,
            live: live? * 1e9,
            alloc: alloc? * 1e6,
            pause_min: pause_min? * 1e9,
            // Seconds per GB (10⁹ bytes) are nanoseconds per byte.
            pause_per_byte: pause_per_gb?,
        };
        ok.then_some(Some(spec))
    }

    /// A `kind = "cache"` service's own keys: its contents (`hit_ratio`, or
    /// `keys`, `zipf`, `capacity`, `ttl`), its fetch (`on_miss`), its
    /// `write_policy` and each class's `op`.
    pub(crate) fn cache(
        &mut self,
        name: &str,
        key_span: &Range<usize>,
        table: &DeTable<'_>,
        class_names: &[String],
        context: &str,
    ) -> Option<CacheDef> {
        let lru_keys = ["keys", "zipf", "capacity", "ttl"];
        let given: Vec<&str> = lru_keys
            .into_iter()
            .filter(|k| table.get(*k).is_some())
            .collect();
        let contents = match (table.get("hit_ratio"), given.as_slice()) {
            (Some(v), []) => self
                .probability(v, "`hit_ratio`")
                .map(CacheContents::HitRatio),
            (Some(v), _) => {
                self.error(
                    format!(
                        "give `hit_ratio` or the contents ({}), not both",
                        given.join(", ")
                    ),
                    v.span(),
                )
                .help = Some(
                    "a fixed hit ratio, or one that emerges from keys, zipf and capacity".into(),
                );
                None
            }
            (None, _) if table.get("keys").is_none() || table.get("capacity").is_none() => {
                self.error(
                    format!("cache `{name}` needs `hit_ratio`, or `keys` and `capacity`"),
                    key_span.clone(),
                )
                .help = Some(
                    "such as hit_ratio = 0.9, or keys = 1_000_000, zipf = 0.99, capacity = 50_000 (entries, least recently used evicted)".into(),
                );
                None
            }
            (None, _) => {
                let keys = self.popularity(table.get("keys"), table.get("zipf"));
                let capacity = table
                    .get("capacity")
                    .and_then(|v| self.count(v, "`capacity`", 1, MAX_KEYS));
                let ttl = match table.get("ttl") {
                    Some(v) => self.duration(v, "`ttl`").and_then(|t| {
                        if t > 0.0 {
                            Some(Some(SimTime::from_secs_f64(t)))
                        } else {
                            self.error("`ttl` must be positive", v.span());
                            None
                        }
                    }),
                    None => Some(None),
                };
                match (keys, capacity, ttl) {
                    (Some(keys), Some(capacity), Some(ttl)) => Some(CacheContents::Lru {
                        keys,
                        capacity,
                        ttl,
                    }),
                    _ => None,
                }
            }
        };
        let policy = match table.get("write_policy") {
            Some(v) => match self.string(v, "`write_policy`") {
                Some(w) if WRITE_POLICIES.contains(&w) => Some(w),
                Some(w) => {
                    self.error(format!("unknown `write_policy` `{w}`"), v.span())
                        .help = Some(format!("choose one of: {}", WRITE_POLICIES.join(", ")));
                    None
                }
                None => None,
            },
            None => Some("invalidate"),
        };
        let flush_keys = ["flush_batch", "flush_interval"];
        let write_policy = match policy {
            Some("write_back") => {
                let batch = match table.get("flush_batch") {
                    Some(v) => self.count(v, "`flush_batch`", 1, MAX_KEYS),
                    None => Some(100),
                };
                let interval = match table.get("flush_interval") {
                    Some(v) => self.duration(v, "`flush_interval`").and_then(|t| {
                        if t > 0.0 {
                            Some(SimTime::from_secs_f64(t))
                        } else {
                            self.error("`flush_interval` must be positive", v.span());
                            None
                        }
                    }),
                    None => Some(SimTime::from_secs_f64(1.0)),
                };
                match (batch, interval) {
                    (Some(batch), Some(interval)) => {
                        Some(WritePolicy::WriteBack { batch, interval })
                    }
                    _ => None,
                }
            }
            Some(other) => {
                for key in flush_keys {
                    if let Some(v) = table.get(key) {
                        self.diags.push(Diagnostic::warning(
                            format!(
                                "`{key}` is ignored: it applies to write_policy = \"write_back\""
                            ),
                            Some(v.span()),
                        ));
                    }
                }
                Some(if other == "write_through" {
                    WritePolicy::WriteThrough
                } else {
                    WritePolicy::Invalidate
                })
            }
            None => None,
        };
        let on_miss = match table.get("on_miss") {
            Some(v) => self.calls(v, context).and_then(|c| {
                if c.is_empty() {
                    self.error(
                        "`on_miss` is empty: a miss must fetch from somewhere",
                        v.span(),
                    );
                    None
                } else {
                    Some(c)
                }
            }),
            None => {
                self.error(
                    format!("cache `{name}` needs `on_miss`, the services a miss fetches from"),
                    key_span.clone(),
                )
                .help = Some("such as on_miss = [{ to = \"db\" }]".into());
                None
            }
        };
        if let Some(v) = table.get("calls") {
            self.error(
                "a cache calls its backing store on a miss: use `on_miss`",
                v.span(),
            );
        }
        let mut ops = vec![Op::Read; class_names.len()];
        let mut ok = true;
        if let Some(DeValue::Table(on)) = table.get("on").map(|v| v.get_ref()) {
            for (key, value) in on.iter() {
                let (Some(ci), DeValue::Table(t)) = (
                    class_names.iter().position(|c| c == key.get_ref().as_ref()),
                    value.get_ref(),
                ) else {
                    continue; // Reported with the station's keys.
                };
                match t.get("op").map(|v| self.op(v)) {
                    Some(Some(Op::Write)) => ops[ci] = Op::Write,
                    Some(None) => ok = false,
                    _ => {}
                }
            }
        }
        // Split by key: each shard holds `capacity` of the keys it is sent.
        let shards = match (table.get("shards"), &contents) {
            (None, _) => Some(None),
            (Some(v), Some(CacheContents::HitRatio(_))) => {
                self.error(
                    "a sharded cache needs `keys` (and `capacity`), which its shards split",
                    v.span(),
                )
                .help = Some("give keys, zipf and capacity instead of hit_ratio".into());
                None
            }
            (Some(v), Some(CacheContents::Lru { keys, .. })) => match self.shards(v) {
                Some(sh) if sh.by == Partition::Range && sh.count > keys.count => {
                    self.error(
                        format!(
                            "a range over {} shards needs at least as many keys; `keys` is {}",
                            sh.count, keys.count
                        ),
                        v.span(),
                    )
                    .help = Some("give the cache more `keys`, or fewer shards".into());
                    None
                }
                Some(sh) if u64::from(sh.count) * u64::from(keys.count) > u64::from(MAX_KEYS) => {
                    self.error(
                        format!(
                            "{} shards × {} keys is too many: each shard's cache keeps a slot for every key of the catalogue, at most {MAX_KEYS} slots in all",
                            sh.count, keys.count
                        ),
                        v.span(),
                    )
                    .help = Some("fewer shards or fewer keys (a catalogue of 100,000 keys models most skews)".into());
                    None
                }
                sh => sh.map(Some),
            },
            (Some(v), None) => {
                self.shards(v);
                None
            }
        };
        Some(CacheDef {
            contents: contents?,
            write_policy: write_policy?,
            on_miss: on_miss?,
            ops,
            shards: shards?,
        })
        .filter(|_| ok)
    }

    /// A database's `replicas = { count, lag }`: read replicas following
    /// the leader.
    pub(crate) fn read_replicas(&mut self, v: &Value<'_>) -> Option<(u32, Dist)> {
        let t = self.table(v, "`replicas`")?;
        self.check_keys(t, &REPLICAS_KEYS, "`replicas`");
        let count = match t.get("count") {
            Some(c) => self.count(c, "`replicas.count`", 1, MAX_FOLLOWERS),
            None => {
                self.error("`replicas` needs `count`, the read replicas", v.span())
                    .help = Some("such as replicas = { count = 2, lag = \"exp(50ms)\" }".into());
                None
            }
        };
        let lag = match t.get("lag") {
            Some(l) => self.hold(l),
            None => {
                self.error(
                    "`replicas` needs `lag`, how long a write takes to reach them",
                    v.span(),
                )
                .help = Some("such as replicas = { count = 2, lag = \"exp(50ms)\" }".into());
                None
            }
        };
        Some((count?, lag?))
    }

    /// `shards = { count, by }`: `by` is `"hash"` (the default) or `"range"`.
    pub(crate) fn shards(&mut self, v: &Value<'_>) -> Option<Shards> {
        let example = "such as shards = { count = 4, by = \"hash\" }";
        let t = self.table(v, "`shards`")?;
        if let Some(k) = t.get("keys").or_else(|| t.get("zipf")) {
            self.error(
                "the keys a sharded service splits are its own `keys` and `zipf`",
                k.span(),
            )
            .help =
                Some("write keys = 100000 and zipf = 1.1 beside `shards`, not inside it".into());
            return None;
        }
        self.check_keys(t, &SHARDS_KEYS, "`shards`");
        let count = match t.get("count") {
            Some(c) => self.count(c, "`shards.count`", 1, MAX_SHARDS),
            None => {
                self.error("`shards` needs `count`, how many shards", v.span())
                    .help = Some(example.into());
                None
            }
        };
        let by = match t.get("by") {
            Some(b) => match self.word(b, "`shards.by`", &PARTITIONS)? {
                "range" => Some(Partition::Range),
                _ => Some(Partition::Hash),
            },
            None => Some(Partition::Hash),
        };
        Some(Shards {
            count: count?,
            by: by?,
            span: v.span(),
        })
    }

    /// A class's `scope` at a service of `count` shards: `"key"`, `"all"`
    /// or `{ shards = k }` (k of them at random, 1 ≤ k ≤ count).
    pub(crate) fn scope(&mut self, v: &Value<'_>, count: Option<u32>) -> Option<Scope> {
        if let Some(t) = v.get_ref().as_table() {
            self.check_keys(t, &["shards"], "`scope`");
            let Some(k) = t.get("shards") else {
                self.error(
                    "`scope` as a table needs `shards`, how many shards each request touches",
                    v.span(),
                )
                .help = Some("such as scope = { shards = 3 }".into());
                return None;
            };
            let k = self.count(k, "`scope.shards`", 1, MAX_SHARDS)?;
            if let Some(n) = count
                && k > n
            {
                self.error(
                    format!("`scope.shards` is {k}, more than the service's {n} shards"),
                    t.get("shards").map_or(v.span(), Value::span),
                )
                .help = Some(format!("at most {n}; scope = \"all\" touches every shard"));
                return None;
            }
            return Some(Scope::Shards(k));
        }
        match self.word(v, "`scope`", &SCOPES)? {
            "all" => Some(Scope::All),
            _ => Some(Scope::Key),
        }
    }

    /// A catalogue: `keys` (default 1) with Zipf popularity `zipf` (default 0).
    pub(crate) fn popularity(
        &mut self,
        keys: Option<&Value<'_>>,
        zipf: Option<&Value<'_>>,
    ) -> Option<Popularity> {
        let count = match keys {
            Some(k) => self.count(k, "`keys`", 1, MAX_KEYS),
            None => Some(1),
        };
        let zipf = match zipf {
            Some(v) => match self.number(v, "`zipf`") {
                Some(z) if z >= 0.0 => Some(z),
                Some(z) => {
                    self.error(format!("`zipf` must be at least 0, found {z}"), v.span());
                    None
                }
                None => None,
            },
            None => Some(0.0),
        };
        Some(Popularity {
            count: count?,
            zipf: zipf?,
        })
    }

    /// `pool = { size, connect, idle_timeout, reuse }`.
    pub(crate) fn pool(&mut self, v: &Value<'_>) -> Option<Pool> {
        let t = self.table(v, "`pool`")?;
        self.check_keys(t, &POOL_KEYS, "`pool`");
        let size = match t.get("size") {
            Some(s) => self.count(s, "`pool.size`", 1, MAX_SLOTS),
            None => {
                self.error("`pool` needs `size`, its number of connections", v.span())
                    .help = Some("such as pool = { size = 20, connect = \"5ms\" }".into());
                None
            }
        };
        let connect = match t.get("connect") {
            Some(c) => self.duration(c, "`pool.connect`"),
            None => Some(0.0),
        };
        let idle_timeout = match t.get("idle_timeout") {
            Some(d) => self.duration(d, "`pool.idle_timeout`").map(Some),
            None => Some(None),
        };
        let reuse = match t.get("reuse") {
            Some(b) => self.boolean(b, "`pool.reuse`"),
            None => Some(true),
        };
        Some(Pool {
            size: size?,
            connections: Connections {
                connect: connect? * 1e9,
                idle_timeout: idle_timeout?.map(SimTime::from_secs_f64),
                reuse: reuse?,
            },
        })
    }

    /// `table = { rows, rows_per_page, indexes, indexed }`.
    pub(crate) fn db_table(&mut self, v: &Value<'_>) -> Option<Table> {
        let t = self.table(v, "`table`")?;
        self.check_keys(t, &TABLE_KEYS, "`table`");
        let positive = |w: &mut Self, t: &DeTable<'_>, key: &str, default: Option<f64>| match t
            .get(key)
        {
            Some(x) => match w.number(x, &format!("`table.{key}`")) {
                Some(n) if n >= 1.0 => Some(n),
                Some(n) => {
                    w.error(
                        format!("`table.{key}` must be at least 1, found {n}"),
                        x.span(),
                    );
                    None
                }
                None => None,
            },
            None if default.is_some() => default,
            None => {
                w.error(format!("`table` needs `{key}`"), v.span()).help = Some(
                    "such as table = { rows = 1_000_000, rows_per_page = 100, indexes = 2 }".into(),
                );
                None
            }
        };
        let rows = positive(self, t, "rows", None);
        let rows_per_page = positive(self, t, "rows_per_page", Some(100.0));
        let indexes = match t.get("indexes") {
            Some(x) => self.count(x, "`table.indexes`", 0, 64),
            None => Some(0),
        };
        let indexed = match t.get("indexed") {
            Some(b) => self.boolean(b, "`table.indexed`"),
            None => Some(true),
        };
        Some(Table {
            rows: rows?,
            rows_per_page: rows_per_page?,
            indexes: indexes?,
            indexed: indexed?,
        })
    }

    /// `op = "read" | "write"`.
    pub(crate) fn op(&mut self, v: &Value<'_>) -> Option<Op> {
        match self.string(v, "`op`")? {
            "read" => Some(Op::Read),
            "write" => Some(Op::Write),
            other => {
                self.error(format!("unknown `op` `{other}`"), v.span()).help =
                    Some("an operation is \"read\" or \"write\"".into());
                None
            }
        }
    }

    /// `locks = { name, hold, keys }`, or an array of them.
    pub(crate) fn locks(&mut self, v: &Value<'_>) -> Option<Vec<Lock>> {
        let items: Vec<&Value<'_>> = match v.get_ref() {
            DeValue::Array(items) => items.iter().collect(),
            DeValue::Table(_) => vec![v],
            _ => {
                self.type_error(
                    v,
                    "`locks`",
                    "a table such as { name = \"hot_row\", hold = \"2ms\", keys = 10 } or an array of them",
                );
                return None;
            }
        };
        let mut out: Vec<Lock> = Vec::new();
        let mut ok = true;
        for item in items {
            let Some(t) = self.table(item, "a lock") else {
                ok = false;
                continue;
            };
            self.check_keys(t, &LOCK_KEYS, "a lock");
            let name = match t.get("name") {
                Some(n) => self.string(n, "`name`").map(str::to_owned),
                None => Some(format!("lock{}", out.len())),
            };
            let hold = match t.get("hold") {
                Some(h) => self.hold(h),
                None => {
                    self.error(
                        "a lock needs `hold`, how long each request holds it",
                        item.span(),
                    )
                    .help =
                        Some("such as { name = \"hot_row\", hold = \"2ms\", keys = 10 }".into());
                    None
                }
            };
            let keys = match t.get("keys") {
                Some(k) => self.count(k, "`keys`", 1, MAX_STRIPES),
                None => Some(1),
            };
            match (name, hold, keys) {
                (Some(name), Some(hold), Some(keys)) => {
                    if out.iter().any(|l| l.name == name) {
                        let span = t.get("name").map_or(item.span(), |n| n.span());
                        self.error(format!("two locks are named `{name}`"), span);
                        ok = false;
                    }
                    out.push(Lock { name, hold, keys });
                }
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A class's `locks = ["name", ...]`: which of the service's locks it
    /// takes, by index.
    pub(crate) fn lock_names(&mut self, v: &Value<'_>, locks: &[Lock]) -> Option<Vec<usize>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.type_error(
                v,
                "`locks`",
                "an array of the service's lock names, such as [\"inventory\"]",
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for item in items.iter() {
            let Some(name) = self.string(item, "a lock's name") else {
                ok = false;
                continue;
            };
            match locks.iter().position(|l| l.name == name) {
                Some(i) => out.push(i),
                None => {
                    let d = self.error(format!("the service has no lock `{name}`"), item.span());
                    d.help = Some(match did_you_mean(name, locks.iter().map(|l| l.name.as_str())) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None if locks.is_empty() => {
                            "declare it in the service's own `locks`, such as locks = { name = \"inventory\", hold = \"2ms\" }".into()
                        }
                        None => format!(
                            "its locks are: {}",
                            locks.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    });
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// A lock's hold: a duration (`"2ms"`, constant) or a distribution.
    pub(crate) fn hold(&mut self, v: &Value<'_>) -> Option<Dist> {
        if let DeValue::String(s) = v.get_ref()
            && let Ok(secs) = parse_duration(s)
        {
            return match Dist::constant(secs * 1e9) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.error(format!("`hold`: {e}"), v.span());
                    None
                }
            };
        }
        self.dist(v, "`hold`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_by_operation() {
        let t = Table {
            rows: 1e6,
            rows_per_page: 100.0,
            indexes: 3,
            indexed: true,
        };
        // log₂ 10⁶ = 19.93: a 20-level walk.
        assert_eq!(t.pages(Op::Read), 20.0);
        assert_eq!(t.pages(Op::Write), 80.0);
        let scan = Table {
            indexed: false,
            ..t
        };
        assert_eq!(scan.pages(Op::Read), 10_000.0);
        let bare = Table { indexes: 0, ..t };
        assert_eq!(bare.pages(Op::Write), 20.0);
    }
}
