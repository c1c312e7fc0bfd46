//! The scenario format as a JSON Schema (draft 4, the one taplo reads), for editors: taplo and
//! Even Better TOML complete keys and show their documentation from it.
//!
//! Every table's keys are the loader's own lists (the `*_KEYS` constants
//! that `read` checks keys against), so the schema offers exactly the
//! keys the loader accepts and rejects the others (`additionalProperties:
//! false`). Each key's type and hover text come from `doc`, which must
//! describe every key of every list: a test holds it, so a key added to
//! the loader without a description fails. The types are what the TOML
//! holds (a duration is a string such as `"50ms"`); the loader checks the
//! rest, with located errors.

use serde_json::{Map, Value, json};

use crate::read::autoscale::{AUTOSCALE_KEYS, METRICS};
use crate::read::balancer::{
    BALANCER_KEYS, DOWN_KEYS, EXTERNAL_KEYS, OUTLIER_KEYS, POLICIES, QUEUE_KEYS, SESSION_KEYS,
};
use crate::read::calls::{CALL_KEYS, FANOUT_KEYS};
use crate::read::data::{
    CACHE_KEYS, GC_KEYS, GC_MODELS, LOCK_KEYS, PARTITIONS, POOL_KEYS, REPLICAS_KEYS, SCOPES,
    SHARDS_KEYS, TABLE_KEYS, WRITE_POLICIES,
};
use crate::read::faults::{FAULT_KEYS, KINDS as FAULT_KINDS};
use crate::read::profile::{
    DIURNAL_KEYS, POPULATION_STEP_KEYS, RAMP_KEYS, SHAPES, SPIKE_KEYS, STEP_KEYS,
};
use crate::read::replicated::{ON_KEYS as REPLICATED_ON_KEYS, PROFILE_KEYS, REPLICATED_KEYS};
use crate::read::resilience::{
    BACKOFF_KEYS, BREAKER_KEYS, BUDGET_KEYS, CANCELS, CODEL_KEYS, HEDGE_KEYS, JITTERS, LIMIT_KEYS,
    LIMIT_MODES, RETRY_KEYS, RETRY_ON,
};
use crate::read::spec::{SLO_KEYS, SWEEP_VARIANT_KEYS};
use crate::read::station::{CACHE_ON_KEYS, DISCIPLINES, ON_KEYS as STATION_ON_KEYS, STATION_KEYS};
use crate::read::{ARRIVALS, KINDS, LOAD_KEYS, NEXT_KEYS, SIMULATION_KEYS, TOP_KEYS};

fn described(mut schema: Value, text: &str) -> Value {
    schema["description"] = Value::String(text.to_owned());
    schema
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn words(words: &[&str]) -> Value {
    json!({ "type": "string", "enum": words })
}

fn integer() -> Value {
    json!({ "type": "integer" })
}

fn number() -> Value {
    json!({ "type": "number" })
}

fn either(a: Value, b: Value) -> Value {
    json!({ "anyOf": [a, b] })
}

fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

fn map(values: Value) -> Value {
    json!({ "type": "object", "additionalProperties": values })
}

/// A table of `keys` in `context`: each key's schema from [`doc`], or from
/// `nested` where it holds a table of its own.
fn table(context: &str, keys: &[&str], nested: &[(&str, Value)]) -> Value {
    let mut properties = Map::new();
    for key in keys {
        let (schema, text) =
            doc(context, key).unwrap_or_else(|| (json!({}), "(not described yet)".to_owned()));
        let schema = nested
            .iter()
            .find(|(k, _)| k == key)
            .map_or(schema, |(_, s)| s.clone());
        properties.insert((*key).to_owned(), described(schema, &text));
    }
    json!({ "type": "object", "properties": properties, "additionalProperties": false })
}

/// Every (context, key) that [`schema`] describes, for the test that each
/// has its text.
pub(crate) const TABLES: &[(&str, &[&str])] = &[
    ("top", &TOP_KEYS),
    ("simulation", &SIMULATION_KEYS),
    ("load", &LOAD_KEYS),
    ("next", &NEXT_KEYS),
    ("station", &STATION_KEYS),
    ("station_on", &STATION_ON_KEYS),
    ("cache", &CACHE_KEYS),
    ("cache_on", &CACHE_ON_KEYS),
    ("balancer", &BALANCER_KEYS),
    ("queue", &QUEUE_KEYS),
    ("external", &EXTERNAL_KEYS),
    ("replicated", &REPLICATED_KEYS),
    ("replicated_on", &REPLICATED_ON_KEYS),
    ("profile", &PROFILE_KEYS),
    ("call", &CALL_KEYS),
    ("fanout", &FANOUT_KEYS),
    ("retry", &RETRY_KEYS),
    ("backoff", &BACKOFF_KEYS),
    ("budget", &BUDGET_KEYS),
    ("hedge", &HEDGE_KEYS),
    ("rate_limit", &LIMIT_KEYS),
    ("codel", &CODEL_KEYS),
    ("breaker", &BREAKER_KEYS),
    ("sessions", &SESSION_KEYS),
    ("down", &DOWN_KEYS),
    ("outlier_ejection", &OUTLIER_KEYS),
    ("pool", &POOL_KEYS),
    ("db_table", &TABLE_KEYS),
    ("lock", &LOCK_KEYS),
    ("gc", &GC_KEYS),
    ("replicas", &REPLICAS_KEYS),
    ("shards", &SHARDS_KEYS),
    ("autoscale", &AUTOSCALE_KEYS),
    ("fault", &FAULT_KEYS),
    ("slo", &SLO_KEYS),
    ("variant", &SWEEP_VARIANT_KEYS),
    ("shape", &SHAPES),
    ("step", &STEP_KEYS),
    ("population_step", &POPULATION_STEP_KEYS),
    ("ramp", &RAMP_KEYS),
    ("spike", &SPIKE_KEYS),
    ("diurnal", &DIURNAL_KEYS),
];

/// The keys of `context` in [`TABLES`].
fn keys(context: &str) -> &'static [&'static str] {
    TABLES
        .iter()
        .find(|(c, _)| *c == context)
        .map(|(_, k)| *k)
        .expect("a context of TABLES")
}

/// A reference to a shared definition. In draft 4 a `$ref` hides its
/// siblings: wrapped, so that the key's own description shows.
fn refer(name: &str) -> Value {
    json!({ "allOf": [{ "$ref": format!("#/definitions/{name}") }] })
}

/// The scenario format's JSON Schema.
pub fn schema() -> Value {
    let t = |context: &str, nested: &[(&str, Value)]| table(context, keys(context), nested);
    let retry = t(
        "retry",
        &[("backoff", t("backoff", &[])), ("budget", t("budget", &[]))],
    );
    let call = either(
        string(),
        t(
            "call",
            &[
                ("fanout", t("fanout", &[])),
                ("retry", either(string(), refer("retry"))),
                ("hedge", t("hedge", &[])),
                ("breaker", t("breaker", &[])),
            ],
        ),
    );
    // Shared by many tables: defined once, referred to.
    let definitions = json!({
        "calls": array(call),
        "next": either(string(), array(t("next", &[]))),
        "retry": retry,
    });

    let calls = refer("calls");
    let next = refer("next");
    let down = array(t("down", &[]));
    let shared = |extra: Vec<(&'static str, Value)>| -> Vec<(&'static str, Value)> {
        let mut v = vec![
            ("calls", calls.clone()),
            ("on_miss", calls.clone()),
            ("next", next.clone()),
            ("down", down.clone()),
            ("rate_limit", t("rate_limit", &[])),
            ("codel", t("codel", &[])),
        ];
        v.extend(extra);
        v
    };
    let station = t(
        "station",
        &shared(vec![(
            "on",
            map(t("station_on", &[("next", next.clone())])),
        )]),
    );
    let cache_keys: Vec<&str> = STATION_KEYS
        .iter()
        .chain(&CACHE_KEYS)
        .copied()
        .filter(|k| *k != "calls")
        .collect();
    let cache_context = |key: &str| {
        if CACHE_KEYS.contains(&key) {
            "cache"
        } else {
            "station"
        }
    };
    let cache = {
        let nested = shared(vec![
            ("on", map(t("cache_on", &[("next", next.clone())]))),
            ("shards", t("shards", &[])),
        ]);
        let mut properties = Map::new();
        for key in &cache_keys {
            let one = table(cache_context(key), &[*key], &nested);
            properties.insert((*key).to_owned(), one["properties"][*key].clone());
        }
        json!({ "type": "object", "properties": properties, "additionalProperties": false })
    };
    let replicated = t(
        "replicated",
        &shared(vec![
            (
                "on",
                map(t(
                    "replicated_on",
                    &[
                        ("calls", calls.clone()),
                        ("next", next.clone()),
                        ("locks", either(t("lock", &[]), array(t("lock", &[])))),
                    ],
                )),
            ),
            ("pool", t("pool", &[])),
            ("table", t("db_table", &[])),
            ("locks", either(t("lock", &[]), array(t("lock", &[])))),
            ("gc", either(words(&GC_MODELS), t("gc", &[]))),
            ("replicas", either(integer(), t("replicas", &[]))),
            ("shards", t("shards", &[])),
            ("autoscale", t("autoscale", &[])),
        ]),
    );
    let balancer = t(
        "balancer",
        &shared(vec![
            ("sessions", t("sessions", &[])),
            ("outlier_ejection", t("outlier_ejection", &[])),
        ]),
    );
    let queue = t("queue", &shared(Vec::new()));
    let external = t("external", &shared(Vec::new()));
    // One schema per kind, told apart by `kind` (draft 4 has no `if`:
    // taplo reads draft 4).
    let of_kind = |kinds: &[&str], mut schema: Value| {
        schema["properties"]["kind"]["enum"] = json!(kinds);
        schema["required"] = json!(["kind"]);
        schema
    };
    let replicated_kinds: Vec<&str> = KINDS
        .iter()
        .copied()
        .filter(|k| !["station", "cache", "load_balancer", "queue", "external"].contains(k))
        .collect();
    let kinds = [
        of_kind(&["station"], station),
        of_kind(&["cache"], cache),
        of_kind(&["load_balancer"], balancer),
        of_kind(&["queue"], queue),
        of_kind(&["external"], external),
        of_kind(&replicated_kinds, replicated),
    ];
    // Every kind's keys together, so that an editor completes them and
    // names a misspelt key plainly; the kind's own schema then holds the
    // service to its kind's keys.
    let mut every = Map::new();
    for kind in &kinds {
        for (key, schema) in kind["properties"].as_object().expect("a table") {
            every
                .entry(key.clone())
                .or_insert_with(|| json!({ "description": schema["description"].clone() }));
        }
    }
    every.insert(
        "kind".to_owned(),
        described(words(&KINDS), &doc("station", "kind").expect("described").1),
    );
    let service = json!({
        "type": "object",
        "required": ["kind"],
        "properties": every,
        "additionalProperties": false,
        "oneOf": kinds,
    });
    let profile_of = |step: &str| {
        t(
            "shape",
            &[
                ("steps", array(t(step, &[]))),
                ("ramp", t("ramp", &[])),
                ("spike", t("spike", &[])),
                ("diurnal", t("diurnal", &[])),
            ],
        )
    };
    let load = t(
        "load",
        &[
            ("rate", either(string(), profile_of("step"))),
            (
                "population",
                either(integer(), profile_of("population_step")),
            ),
            ("rate_limit", t("rate_limit", &[])),
        ],
    );
    let mut sweep = map(described(
        array(json!({})),
        "the values of one dotted path, such as \"services.db.servers\" = [1, 2, 4]",
    ));
    sweep["properties"] = json!({ "variant": described(array(t("variant", &[])), "[[sweep.variant]]: named sets of values, crossed with the grid") });
    let mut root = t(
        "top",
        &[
            ("simulation", t("simulation", &[])),
            ("load", map(load)),
            ("services", map(service)),
            ("profiles", map(t("profile", &[]))),
            ("retry_policies", map(refer("retry"))),
            ("sweep", sweep),
            ("slo", t("slo", &[])),
            ("faults", array(t("fault", &[]))),
        ],
    );
    root["$schema"] = json!("http://json-schema.org/draft-04/schema#");
    root["definitions"] = definitions;
    root["title"] = json!("chokepoint scenario");
    root
}

/// The schema and hover text of `key` in `context` (one of [`TABLES`]'s),
/// or `None` when it is not described.
fn doc(context: &str, key: &str) -> Option<(Value, String)> {
    let dur = || string();
    let dist = || string();
    let rate = || string();
    let text = |s: &str| s.to_owned();
    let (schema, about) = match (context, key) {
        ("top", "name") => (string(), "The scenario's name, shown in every report."),
        ("top", "description") => (string(), "What the scenario models, in a sentence or two."),
        ("top", "simulation") => (
            json!({}),
            "How long, how often and from which seed to simulate.",
        ),
        ("top", "load") => (
            json!({}),
            "The classes of requests: `[load.NAME]`, open (a `rate`) or closed (a `population`).",
        ),
        ("top", "services") => (
            json!({}),
            "The services: `[services.NAME]`, each of a `kind`.",
        ),
        ("top", "profiles") => (
            json!({}),
            "Hardware profiles of your own, beside the built-in catalog (`chokepoint profiles`).",
        ),
        ("top", "retry_policies") => (
            json!({}),
            "Retry policies named once and shared by several calls (`retry = \"NAME\"`).",
        ),
        ("top", "sweep") => (
            json!({}),
            "A grid over dotted paths, and `[[sweep.variant]]` sets, for `chokepoint sweep`.",
        ),
        ("top", "slo") => (
            json!({}),
            "What every class must meet: percentiles, mean and error rate.",
        ),
        ("top", "faults") => (
            json!({}),
            "`[[faults]]`: crashes and slowdowns of a service's replicas, scheduled or recurring.",
        ),
        ("simulation", "duration") => (
            dur(),
            "Measured simulated time per replication, such as \"60s\".",
        ),
        ("simulation", "warmup") => (
            dur(),
            "Simulated time discarded before measuring (\"0s\": none).",
        ),
        ("simulation", "replications") => (
            integer(),
            "Independent replications; confidence intervals come from them.",
        ),
        ("simulation", "seed") => (
            integer(),
            "The run's seed: the same seed gives the same output.",
        ),
        ("simulation", "max_in_system") => (
            integer(),
            "The most requests a replication may hold; an overloaded run stops there and says why.",
        ),
        ("load", "rate") => (
            rate(),
            "Arrivals per unit of time (open class), such as \"300/s\", or a profile: steps, ramp, spike, diurnal, trace.",
        ),
        ("load", "population") => (
            integer(),
            "Users of a closed class, each thinking, sending, waiting; or a profile of whole users.",
        ),
        ("load", "think") => (
            dist(),
            "A closed class's think time between a reply and the next request.",
        ),
        ("load", "entry") => (string(), "The service the class's requests arrive at."),
        ("load", "arrival") => (
            words(&ARRIVALS),
            "How arrivals are spaced: \"poisson\" (default) or \"constant\".",
        ),
        ("load", "priority") => (
            integer(),
            "Priority at `discipline = \"priority\"` stations: lower is served first (default 0).",
        ),
        ("load", "deadline") => (
            dist(),
            "How long clients wait for a request from its arrival before giving up.",
        ),
        ("load", "cancel") => (
            words(&CANCELS),
            "What becomes of work given up: run on (\"never\"), dropped when it would start, or taken out at once.",
        ),
        ("load", "rate_limit") => (json!({}), "A token bucket on the class's arrivals."),
        ("next", "to") => (string(), "The service a request goes to next."),
        ("next", "p") => (number(), "The probability of going there."),
        ("station" | "balancer" | "queue" | "external" | "replicated", "kind") => (
            words(&KINDS),
            "What the service is: station, load_balancer, api, cache, database, queue, worker or external.",
        ),
        ("station" | "replicated", "servers") => (
            integer(),
            "Servers (cores at the reference speed) per replica.",
        ),
        ("station" | "replicated", "discipline") => (
            words(&DISCIPLINES),
            "The order of service: fifo (default), lifo, priority (by class), ps (processor sharing).",
        ),
        ("station" | "queue", "capacity") => (
            integer(),
            "Places (waiting and in service) at most; arrivals beyond are dropped.",
        ),
        ("station" | "station_on" | "cache_on" | "replicated" | "replicated_on", "work") => (
            dist(),
            "Service time per visit, a distribution such as \"exp(8ms)\" or \"lognormal(p50=4ms, p99=30ms)\".",
        ),
        ("cache_on" | "replicated_on", "op") => (
            words(&["read", "write"]),
            "What the class does to the data: \"read\" (default) or \"write\".",
        ),
        ("replicated_on", "scope") => (
            json!({ "anyOf": [
                words(&SCOPES),
                {
                    "type": "object",
                    "properties": { "shards": integer() },
                    "required": ["shards"],
                    "additionalProperties": false,
                },
            ] }),
            "At a sharded database: the shard of the request's key (\"key\", default), every shard, waiting for all (\"all\": scatter-gather), or { shards = k }: k shards drawn at random, waiting for all.",
        ),
        ("replicated", "shards") => (
            json!({}),
            "Split the database by key: { count, by }, each shard its own replicas; the keys are `keys` and `zipf`.",
        ),
        ("cache", "shards") => (
            json!({}),
            "Split the cache by key: { count, by }, each shard a cache of `capacity` entries of the keys it is sent.",
        ),
        ("shards", "count") => (integer(), "How many shards (each its own machines)."),
        ("shards", "by") => (
            words(&PARTITIONS),
            "How keys are split: \"hash\" (default: spread at random) or \"range\" (contiguous: the popular keys together).",
        ),
        ("cache", "hit_ratio") => (
            number(),
            "A fixed hit ratio, instead of keys, zipf and capacity.",
        ),
        ("cache" | "replicated", "keys") => (
            integer(),
            "The catalogue requests draw keys from (how many keys).",
        ),
        ("cache" | "replicated" | "sessions", "zipf") => (
            number(),
            "The Zipf exponent of the keys' popularity (0: all alike).",
        ),
        ("cache", "capacity") => (
            integer(),
            "Entries the cache holds, least recently used evicted.",
        ),
        ("cache", "ttl") => (dur(), "An entry expires this long after it is stored."),
        ("cache", "on_miss") => (
            json!({}),
            "What a miss fetches from: a calls list, such as [{ to = \"db\" }].",
        ),
        ("cache", "write_policy") => (
            words(&WRITE_POLICIES),
            "What writes do: drop the entry (default), update it and the store, or update it and flush later.",
        ),
        ("cache", "flush_batch") => (
            integer(),
            "write_back: dirty entries written per flush at most (default 100).",
        ),
        ("cache", "flush_interval") => (dur(), "write_back: time between flushes (default 1s)."),
        ("balancer", "policy") => (words(&POLICIES), "How targets are chosen."),
        ("balancer", "targets") => (
            either(string(), array(string())),
            "The services (or their replicas) the balancer sends to.",
        ),
        ("balancer", "sessions") => (json!({}), "Sticky sessions: { count, zipf }."),
        ("balancer", "layer") => (
            integer(),
            "4 (default, costs nothing) or 7 (parses requests on its own machine: needs profile and cpu).",
        ),
        ("balancer" | "replicated", "profile") => (
            string(),
            "The hardware profile of each replica (`chokepoint profiles`).",
        ),
        ("balancer" | "replicated" | "replicated_on", "cpu") => (
            dist(),
            "CPU demand per request at the reference core's speed.",
        ),
        ("balancer", "outlier_ejection") => (
            json!({}),
            "Eject targets after consecutive errors: { consecutive_errors, base, max_percent }.",
        ),
        ("external", "latency") => (
            dist(),
            "The dependency's response time (it never queues unless `concurrency` is set).",
        ),
        ("external" | "replicated", "concurrency") => {
            (integer(), "Calls in flight at most; the rest wait.")
        }
        ("external", "error") => (number(), "The probability that a call fails."),
        ("replicated", "replicas") => (
            json!({}),
            "Replicas (machines) of the service; for a database, { count, lag } read replicas.",
        ),
        ("replicated", "workers") => (
            integer(),
            "Worker threads per replica, held from admission until the reply.",
        ),
        ("replicated", "pool") => (
            json!({}),
            "A database's connection pool: { size, connect, idle_timeout, reuse }.",
        ),
        ("replicated", "table") => (
            json!({}),
            "A database table and its indexes: { rows, rows_per_page, indexes, indexed }.",
        ),
        ("replicated" | "replicated_on", "locks") => {
            (json!({}), "Locks held per request: { name, hold, keys }.")
        }
        ("replicated", "disk_ops") => (
            number(),
            "Disk operations per request (against the profile's disk_iops).",
        ),
        ("replicated", "net_bytes") => (
            number(),
            "Bytes sent per request (against the profile's network_gbps).",
        ),
        ("replicated", "serial") => (
            number(),
            "The share of CPU work that runs under a replica-wide lock (Amdahl).",
        ),
        ("replicated", "queue") => (
            string(),
            "A worker's queue: the `queue` service it consumes from.",
        ),
        ("replicated", "heap_gb") => (number(), "The replica's heap, GB, for garbage collection."),
        ("replicated", "live_gb") => (number(), "Live data that stays on the heap."),
        ("replicated", "alloc_per_request") => (
            number(),
            "Megabytes allocated per request, live while it is in flight; they fill the heap toward a collection.",
        ),
        ("replicated", "gc") => (
            json!({}),
            "The collector: a model name or { model, pause_min, pause_per_gb }.",
        ),
        ("replicated", "autoscale") => (
            json!({}),
            "A horizontal autoscaler: metric, target, min, max, interval, provision...",
        ),
        ("profile", "cores") => (integer(), "Cores per machine."),
        ("profile", "cpu_speed") => (number(), "Core speed relative to the reference core."),
        ("profile", "memory_gb") => (number(), "Memory, GB."),
        ("profile", "disk_iops") => (number(), "Disk operations per second."),
        ("profile", "network_gbps") => (number(), "Network bandwidth, Gbit/s."),
        ("profile", "cost_per_hour") => (number(), "Dollars per hour."),
        ("call", "to") => (string(), "The callee: a service."),
        ("call", "parallel") => (array(string()), "Callees called at once."),
        ("call", "fanout") => (
            json!({}),
            "Call n replicas of a service at once: { to, n }.",
        ),
        ("call", "wait") => (
            number(),
            "Replies to wait for (0: a send that does not wait).",
        ),
        ("call", "p") => (number(), "The probability of making the call."),
        ("call", "n") => (integer(), "Times the call is made per request."),
        ("call", "latency") => (dist(), "Network latency of the hop."),
        ("call", "bytes") => (number(), "Payload over the caller's link, bytes."),
        ("call", "timeout") => (dist(), "How long the caller waits for each attempt."),
        ("call", "cancel") => (words(&CANCELS), "What becomes of an attempt given up."),
        ("call", "retry") => (
            json!({}),
            "A retry policy, or the name of one in [retry_policies].",
        ),
        ("call", "hedge") => (
            json!({}),
            "A hedged request: another attempt `after` a delay, at most `max`.",
        ),
        ("call", "breaker") => (
            json!({}),
            "A circuit breaker over the last `window` attempts.",
        ),
        ("fanout", "to") => (string(), "The service whose replicas are called."),
        ("fanout", "n") => (integer(), "How many are called."),
        ("retry", "attempts") => (integer(), "Attempts in all, the first included (1 to 100)."),
        ("retry", "backoff") => (
            json!({}),
            "The wait before each retry: { base, cap, jitter }.",
        ),
        ("retry", "on") => (
            either(words(&RETRY_ON), array(words(&RETRY_ON))),
            "What is retried: \"timeout\" and/or \"error\" (both by default).",
        ),
        ("retry", "budget") => (
            json!({}),
            "What limits retries: { percent, min_concurrency } or { tokens, ratio }.",
        ),
        ("backoff", "base") => (
            dur(),
            "The first backoff (default 10ms), doubling each retry.",
        ),
        ("backoff", "cap") => (dur(), "The longest backoff (default 1s)."),
        ("backoff", "jitter") => (
            words(&JITTERS),
            "How the wait is spread around the exponential backoff (default full).",
        ),
        ("budget", "percent") => (
            number(),
            "Envoy's budget: retries in progress at most this percentage of calls in progress.",
        ),
        ("budget", "min_concurrency") => (
            integer(),
            "Envoy's budget: retries always allowed up to this many.",
        ),
        ("budget", "tokens") => (number(), "gRPC's throttling: the bucket's size."),
        ("budget", "ratio") => (
            number(),
            "gRPC's throttling: tokens given back per successful call.",
        ),
        ("hedge", "after") => (
            dur(),
            "Send another attempt after this long without a reply.",
        ),
        ("hedge", "max") => (integer(), "Attempts in all at most."),
        ("rate_limit", "rate") => (rate(), "Tokens per unit of time."),
        ("rate_limit", "burst") => (integer(), "The bucket's size."),
        ("rate_limit", "mode") => (
            words(&LIMIT_MODES),
            "What happens without a token: reject, or delay until one comes.",
        ),
        ("codel", "target") => (dur(), "The acceptable standing wait."),
        ("codel", "interval") => (
            dur(),
            "How long the line must stay non-empty before shedding.",
        ),
        ("breaker", "window") => (integer(), "Attempts the breaker judges (required)."),
        ("breaker", "min_calls") => (
            integer(),
            "Attempts before it may open (default: the window).",
        ),
        ("breaker", "failure_rate") => (number(), "Failure percentage that opens it (default 50)."),
        ("breaker", "slow_call") => (dur(), "A success at least this long counts as slow."),
        ("breaker", "slow_rate") => (number(), "Slow percentage that opens it (default 100)."),
        ("breaker", "open_for") => (dur(), "How long it stays open (required)."),
        ("breaker", "half_open_calls") => {
            (integer(), "Probes let through when half open (default 1).")
        }
        ("sessions", "count") => (integer(), "Sessions, each pinned to one target."),
        ("down", "replica") => (integer(), "Which replica (from 0)."),
        ("down", "from") => (dur(), "The window's start, from the start of the run."),
        ("down", "to") => (dur(), "The window's end."),
        ("outlier_ejection", "consecutive_errors") => {
            (integer(), "Errors in a row that eject a target.")
        }
        ("outlier_ejection", "base") => (dur(), "The first ejection's length."),
        ("outlier_ejection", "max_percent") => {
            (number(), "The most targets ejected at once, a percentage.")
        }
        ("pool", "size") => (integer(), "Connections per replica."),
        ("pool", "connect") => (dist(), "Time to open a connection."),
        ("pool", "idle_timeout") => (dur(), "An idle connection closes after this long."),
        ("pool", "reuse") => (
            json!({ "type": "boolean" }),
            "Whether connections are kept and reused (false: a handshake per request).",
        ),
        ("db_table", "rows") => (integer(), "Rows in the table."),
        ("db_table", "rows_per_page") => (integer(), "Rows per disk page."),
        ("db_table", "indexes") => (
            integer(),
            "Secondary indexes each write updates (0: writes get faster).",
        ),
        ("db_table", "indexed") => (
            json!({ "type": "boolean" }),
            "Whether reads find rows by an index (true, default) or scan the table.",
        ),
        ("lock", "name") => (string(), "The lock's name."),
        ("lock", "hold") => (dist(), "How long each request holds it."),
        ("lock", "keys") => (
            integer(),
            "Stripes: requests for different stripes do not wait for each other.",
        ),
        ("gc", "model") => (words(&GC_MODELS), "The collector's model."),
        ("gc", "pause_min") => (dur(), "The shortest pause."),
        ("gc", "pause_per_gb") => (dur(), "Pause per GB of live data."),
        ("replicas", "count") => (integer(), "Read replicas behind the leader."),
        ("replicas", "lag") => (dist(), "How long a write takes to reach the replicas."),
        ("autoscale", "metric") => (words(&METRICS), "What the autoscaler watches (required)."),
        ("autoscale", "target") => (number(), "The metric's target per replica."),
        ("autoscale", "min") => (integer(), "Replicas at least."),
        ("autoscale", "max") => (integer(), "Replicas at most."),
        ("autoscale", "interval") => (dur(), "How often it decides."),
        ("autoscale", "provision") => (dist(), "Time for a new replica to start."),
        ("autoscale", "warmup") => (dur(), "Time a new replica runs slower after starting."),
        ("autoscale", "scale_in_after") => (
            dur(),
            "How long the metric must stay low before scaling in.",
        ),
        ("autoscale", "tolerance") => (
            number(),
            "No change while the metric is within this share of the target.",
        ),
        ("fault", "kind") => (words(&FAULT_KINDS), "What happens to the replica."),
        ("fault", "service") => (string(), "The service whose replica fails."),
        ("fault", "to") => (string(), "For a slow call: the callee."),
        ("fault", "replica") => (integer(), "Which replica (from 0)."),
        ("fault", "at") => (dur(), "When it starts."),
        ("fault", "for") => (dist(), "How long it lasts."),
        ("fault", "every") => (dist(), "Up time between recurring faults."),
        ("fault", "detect") => (dur(), "How long the balancers take to notice a crash."),
        ("fault", "factor") => (number(), "A slow replica takes this many times as long."),
        ("fault", "probability") => (number(), "The probability that each recurrence happens."),
        ("slo", "mean") => (dur(), "Every class's mean latency at most."),
        ("slo", "p50") => (dur(), "Every class's median at most."),
        ("slo", "p90") => (dur(), "Every class's 90th percentile at most."),
        ("slo", "p99") => (dur(), "Every class's 99th percentile at most."),
        ("slo", "p999") => (dur(), "Every class's 99.9th percentile at most."),
        ("slo", "max_error_rate") => (
            number(),
            "Every class's share of requests not completed at most.",
        ),
        ("variant", "name") => (string(), "The variant's name."),
        ("variant", "set") => (map(json!({})), "Dotted paths and their values."),
        ("shape", "steps") => (json!({}), "Levels from given times: [{ at, rate }]."),
        ("shape", "ramp") => (json!({}), "A straight line: { from, to, over, at }."),
        ("shape", "spike") => (json!({}), "A burst: { base, peak, at, for }."),
        ("shape", "diurnal") => (
            json!({}),
            "A daily wave: { mean, amplitude, period, peak_at }.",
        ),
        ("shape", "trace") => (
            string(),
            "A CSV of `time, rate` lines, relative to the scenario.",
        ),
        ("step" | "population_step", "at") => (dur(), "From when."),
        ("step", "rate") => (rate(), "The rate from then."),
        ("population_step", "population") => (integer(), "The users from then."),
        ("ramp", "from") => (json!({}), "The level at the start."),
        ("ramp", "to") => (json!({}), "The level at the end."),
        ("ramp", "over") => (dur(), "How long the ramp lasts."),
        ("ramp" | "spike", "at") => (dur(), "When it starts."),
        ("spike", "base") => (rate(), "The level outside the spike."),
        ("spike", "peak") => (rate(), "The level during the spike."),
        ("spike", "for") => (dur(), "How long the spike lasts."),
        ("diurnal", "mean") => (rate(), "The mean rate."),
        ("diurnal", "amplitude") => (number(), "The swing, as a share of the mean."),
        ("diurnal", "period") => (dur(), "The wave's period (a day, say)."),
        ("diurnal", "peak_at") => (dur(), "When it peaks."),
        (_, "next") => (
            json!({}),
            "Where a request goes after this: a service, or a list of { to, p }.",
        ),
        (_, "on") => (
            json!({}),
            "Per class: `[services.NAME.on.CLASS]`, what this class does here.",
        ),
        (_, "calls") => (
            json!({}),
            "Calls made per request: [{ to = \"db\" }, ...], in order; each may time out, retry, hedge, break.",
        ),
        (_, "down") => (
            json!({}),
            "Windows when a replica is down: [{ replica, from, to }].",
        ),
        (_, "rate_limit") => (
            json!({}),
            "A token bucket: `rate`, `burst`, and `mode` (reject or delay).",
        ),
        (_, "codel") => (
            json!({}),
            "CoDel load shedding at the waiting line: { target, interval }.",
        ),
        (_, "adaptive_lifo") => (
            integer(),
            "Serve the newest first while more than this many wait.",
        ),
        _ => return None,
    };
    Some((schema, text(about)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key the loader accepts, in every table, has its description:
    /// a key added to a `*_KEYS` list without one fails here.
    #[test]
    fn every_key_is_described() {
        let mut missing = Vec::new();
        for (context, keys) in TABLES {
            for key in *keys {
                if doc(context, key).is_none() {
                    missing.push(format!("{context}.{key}"));
                }
            }
        }
        assert!(missing.is_empty(), "not described: {missing:?}");
    }
}
