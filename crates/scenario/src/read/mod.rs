//! The first phase: reading the document.
//!
//! A [`Walker`] reads each table against the schema, with one reader per
//! table kind (a class, a station or cache, a balancer, a queue, an
//! external, a replicated service, and their parts: calls, pools, locks,
//! caches), checking every key and value and collecting a [`Diagnostic`]
//! for every problem instead of stopping at the first. What it reads keeps
//! every reference to a service or a class as a [`Name`] with its place:
//! names are resolved in the next phase (`resolve.rs`).

pub(crate) mod autoscale;
pub(crate) mod balancer;
pub(crate) mod calls;
pub(crate) mod data;
pub(crate) mod faults;
pub(crate) mod profile;
pub(crate) mod replicated;
pub(crate) mod resilience;
pub(crate) mod spec;
pub(crate) mod station;

use std::collections::BTreeMap;
use std::ops::Range;

use chokepoint_core::dist::Dist;
use chokepoint_core::model::{ArrivalProcess, Load, RateLimit, RunConfig, Shedding, Timeout};
use chokepoint_core::time::SimTime;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::layout::ServiceKind;
use crate::profiles::Profile;
use crate::spec::{Slo, SweepSpec};
use crate::units::{TextError, parse_dist, parse_duration, parse_rate};

pub(crate) use balancer::{BalancerDef, ExternalDef, QueueDef};
pub(crate) use calls::{CallDef, Targets};
pub(crate) use data::{CacheDef, HeapSpec, Lock, Pool, Table};
pub(crate) use replicated::ReplicatedDef;
pub(crate) use station::StationDef;

/// How to run a scenario: the `[simulation]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct Simulation {
    /// Measured simulated time per replication, after the warm-up.
    pub duration: SimTime,
    /// Simulated time discarded at the start of each replication.
    pub warmup: SimTime,
    /// Number of independent replications.
    pub replications: u32,
    /// The run's seed; replication seeds derive from it.
    pub seed: u64,
    /// The most requests a replication may hold at once: past it, the
    /// replication stops early and says why (default: a million).
    pub max_in_system: u64,
}

pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// Reads a document, collecting diagnostics, and every reference it reads
/// (even in a table with other errors), for the next phase to check.
pub(crate) struct Walker<'s> {
    pub(crate) src: &'s str,
    /// The scenario's folder, which files it names are relative to (the
    /// current directory when unknown).
    pub(crate) dir: Option<&'s std::path::Path>,
    pub(crate) diags: Vec<Diagnostic>,
    pub(crate) read: Recorded,
}

/// Every reference read, in the order read: names, calls (by [`CallId`])
/// and workers' queues (by [`QueueId`]).
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    pub(crate) names: Vec<Name>,
    pub(crate) calls: Vec<CallDef>,
    pub(crate) queues: Vec<QueueRef>,
    /// `[retry_policies.NAME]`, read before the calls that name them
    /// (`None`: the policy had an error, reported).
    pub(crate) retry_policies: BTreeMap<String, Option<chokepoint_core::model::Retry>>,
}

/// A call read, by its index in [`Recorded::calls`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CallId(pub(crate) usize);

/// A worker's queue read, by its index in [`Recorded::queues`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QueueId(pub(crate) usize);

/// A worker's `queue`, with what its check needs.
#[derive(Debug)]
pub(crate) struct QueueRef {
    /// The queue, by name.
    pub(crate) name: Name,
    /// The worker, and where it is declared.
    pub(crate) worker: String,
    pub(crate) worker_span: Range<usize>,
    /// Whether the worker gives its `concurrency` (`None`: it has an
    /// error there).
    pub(crate) concurrency: Option<bool>,
}

/// A reference by name to a service, as written: resolved later.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Name {
    pub(crate) text: String,
    pub(crate) span: Range<usize>,
    /// What refers to it, for messages: "`entry`", "`to`", "`targets`"...
    pub(crate) what: &'static str,
}

/// Where a class's requests go after a visit, with names unresolved.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RouteDef {
    /// Next services and their probabilities, in the user's order.
    pub(crate) next: Vec<(Name, f64)>,
}

/// A downtime window of a service or one of its replicas: (replica, from, to).
pub(crate) type Down = (u32, SimTime, SimTime);

/// A load class as read.
pub(crate) struct ClassDef {
    pub(crate) name: String,
    pub(crate) key_span: Range<usize>,
    /// What was read; `None` when an error was reported.
    pub(crate) def: Option<ClassRead>,
}

/// A load class's keys.
#[derive(Clone)]
pub(crate) struct ClassRead {
    pub(crate) entry: Name,
    pub(crate) load: Load,
    pub(crate) priority: i64,
    pub(crate) deadline: Option<Timeout>,
    pub(crate) rate_limit: Option<RateLimit>,
}

/// A service as read.
pub(crate) struct ServiceDef {
    pub(crate) name: String,
    pub(crate) key_span: Range<usize>,
    /// Its `kind` as written, when it is one (other services' checks read
    /// it even when this service has errors).
    pub(crate) kind: Option<ServiceKind>,
    /// What was read; `None` when an error was reported.
    pub(crate) def: Option<KindDef>,
    /// Its `rate_limit`, when it has one (any kind but a queue).
    pub(crate) rate_limit: Option<RateLimit>,
    /// Its `codel` and `adaptive_lifo`, when it has them (any kind but a
    /// load balancer).
    pub(crate) shedding: Option<Shedding>,
}

/// A service's keys, by kind.
pub(crate) enum KindDef {
    /// `station` or `cache` (with its [`StationDef::cache`]).
    Station(Box<StationDef>),
    LoadBalancer(Box<BalancerDef>),
    Queue(QueueDef),
    External(Box<ExternalDef>),
    /// `api`, `worker` or `database`.
    Replicated(Box<ReplicatedDef>),
}

/// The whole document as read: each part `None` when it had an error.
pub(crate) struct Document {
    pub(crate) name: Option<Option<String>>,
    pub(crate) simulation: Option<Simulation>,
    pub(crate) classes: Vec<ClassDef>,
    pub(crate) services: Vec<ServiceDef>,
    pub(crate) sweep: Option<Option<SweepSpec>>,
    pub(crate) slo: Option<Option<Slo>>,
    /// `[[faults]]`, each `None` where it has an error.
    pub(crate) faults: Vec<Option<faults::FaultDef>>,
}

pub(crate) const TOP_KEYS: [&str; 10] = [
    "faults",
    "profiles",
    "retry_policies",
    "name",
    "description",
    "simulation",
    "load",
    "services",
    "sweep",
    "slo",
];

pub(crate) const SIMULATION_KEYS: [&str; 5] = [
    "duration",
    "warmup",
    "replications",
    "seed",
    "max_in_system",
];

pub(crate) const LOAD_KEYS: [&str; 9] = [
    "rate_limit",
    "deadline",
    "cancel",
    "arrival",
    "rate",
    "entry",
    "population",
    "think",
    "priority",
];

pub(crate) const NEXT_KEYS: [&str; 2] = ["to", "p"];

pub(crate) const KINDS: [&str; 8] = [
    "station",
    "load_balancer",
    "api",
    "cache",
    "database",
    "queue",
    "worker",
    "external",
];

pub(crate) const MAX_POPULATION: i64 = 10_000_000;

/// The most servers, workers, cores or places in a queue: a count the
/// engine keeps as a number, not in memory, bounded so that it stays clear
/// of the engine's mark for infinitely many servers.
pub(crate) const MAX_COUNT: u32 = 1_000_000_000;
/// Replicas of one service at most (each is a chain of stations).
pub(crate) const MAX_REPLICAS: u32 = 1000;

/// The most replications of a run (each keeps its statistics until the
/// summary: about as many kilobytes as the scenario has stations).
pub const MAX_REPLICATIONS: u32 = 100_000;

pub(crate) const ARRIVALS: [&str; 2] = ["poisson", "constant"];

impl<'s> Walker<'s> {
    pub(crate) fn error(
        &mut self,
        message: impl Into<String>,
        span: Range<usize>,
    ) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(message, Some(span)));
        self.diags.last_mut().expect("just pushed")
    }

    /// Reports keys of `table` not in `known`, with a suggestion.
    /// Whether `t` has a near miss of `key` (reported as an unknown key
    /// suggesting `key`), so that `key`'s absence need not be reported
    /// again: one typo, one error.
    pub(crate) fn misspelt(t: &DeTable<'_>, key: &str) -> bool {
        t.iter().any(|(k, _)| {
            let k: &str = k.get_ref();
            k != key && did_you_mean(k, [key]).is_some()
        })
    }

    pub(crate) fn check_keys(&mut self, table: &DeTable<'_>, known: &[&str], context: &str) {
        for (key, _) in table.iter() {
            let name = key.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            let mut d = Diagnostic::error(
                format!("unknown key `{name}` in {context}"),
                Some(key.span()),
            )
            .with_label("not a known key");
            d = match did_you_mean(name, known.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(format!("known keys here: {}", known.join(", "))),
            };
            self.diags.push(d);
        }
    }

    /// The byte offset of a string value's content, when it maps 1:1 onto the source.
    fn content_offset(&self, value: &Value<'_>, content: &str) -> Option<usize> {
        let span = value.span();
        let raw = self.src.get(span.clone())?;
        let quote = raw.chars().next()?;
        if (quote == '"' || quote == '\'') && raw.len() >= 2 && &raw[1..raw.len() - 1] == content {
            Some(span.start + 1)
        } else {
            None
        }
    }

    /// Reports a problem found inside a string's text at the precise place.
    pub(crate) fn text_error(
        &mut self,
        value: &Value<'_>,
        content: &str,
        err: TextError,
        what: &str,
    ) {
        let span = match self.content_offset(value, content) {
            Some(offset) => {
                let start = offset + err.range.start;
                let mut end = offset + err.range.end;
                // Point at one character at least, ending on a character boundary.
                if end <= start {
                    end = start
                        + self
                            .src
                            .get(start..)
                            .and_then(|rest| rest.chars().next())
                            .map_or(0, char::len_utf8);
                }
                start..end
            }
            None => value.span(),
        };
        let mut d = Diagnostic::error(format!("{what}: {}", err.message), Some(span));
        if let Some(help) = err.help {
            d = d.with_help(help);
        }
        self.diags.push(d);
    }

    pub(crate) fn type_error(&mut self, value: &Value<'_>, what: &str, expected: &str) {
        let found = value.get_ref().type_str();
        self.error(
            format!("{what} must be {expected}, found {found}"),
            value.span(),
        )
        .label = Some(format!("expected {expected}"));
    }

    pub(crate) fn string<'v>(&mut self, value: &'v Value<'_>, what: &str) -> Option<&'v str> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            _ => {
                self.type_error(value, what, "a string");
                None
            }
        }
    }

    pub(crate) fn integer(&mut self, value: &Value<'_>, what: &str, min: i64) -> Option<i64> {
        let DeValue::Integer(i) = value.get_ref() else {
            self.type_error(value, what, "a whole number");
            return None;
        };
        let digits: String = i.as_str().chars().filter(|&c| c != '_').collect();
        let digits = digits
            .trim_start_matches("0x")
            .trim_start_matches("0o")
            .trim_start_matches("0b");
        match i64::from_str_radix(digits, i.radix()) {
            Ok(n) if n >= min => Some(n),
            Ok(n) => {
                self.error(
                    format!("{what} must be at least {min}, found {n}"),
                    value.span(),
                );
                None
            }
            Err(_) => {
                self.error(format!("{what} is out of range"), value.span());
                None
            }
        }
    }

    /// A whole number from `min` to `max` (a count that sizes the model:
    /// replicas, repetitions, parallel calls).
    pub(crate) fn count(
        &mut self,
        value: &Value<'_>,
        what: &str,
        min: u32,
        max: u32,
    ) -> Option<u32> {
        let n = self.integer(value, what, i64::from(min))?;
        if n > i64::from(max) {
            self.error(format!("{what} is at most {max}, found {n}"), value.span());
            return None;
        }
        u32::try_from(n).ok()
    }

    /// A number in [0, 1].
    pub(crate) fn probability(&mut self, value: &Value<'_>, what: &str) -> Option<f64> {
        let p = self.number(value, what)?;
        if (0.0..=1.0).contains(&p) {
            Some(p)
        } else {
            self.error(format!("{what} {p} is outside [0, 1]"), value.span());
            None
        }
    }

    pub(crate) fn number(&mut self, value: &Value<'_>, what: &str) -> Option<f64> {
        let text = match value.get_ref() {
            DeValue::Integer(i) => i.as_str(),
            DeValue::Float(f) => f.as_str(),
            _ => {
                self.type_error(value, what, "a number");
                return None;
            }
        };
        let clean: String = text.chars().filter(|&c| c != '_').collect();
        match clean.parse::<f64>() {
            Ok(x) if x.is_finite() => Some(x),
            _ => {
                self.error(format!("{what} must be a finite number"), value.span());
                None
            }
        }
    }

    /// A string value read by one of the text parsers of [`crate::units`].
    fn parsed<T>(
        &mut self,
        value: &Value<'_>,
        what: &str,
        parse: fn(&str) -> Result<T, TextError>,
    ) -> Option<T> {
        let text = self.string(value, what)?;
        parse(text)
            .map_err(|e| self.text_error(value, text, e, what))
            .ok()
    }

    pub(crate) fn duration(&mut self, value: &Value<'_>, what: &str) -> Option<f64> {
        if let DeValue::Integer(_) | DeValue::Float(_) = value.get_ref() {
            // A bare number: which unit was meant cannot be guessed.
            let raw = self.src.get(value.span()).unwrap_or("").trim().to_owned();
            self.error(format!("{what} needs a unit"), value.span())
                .help = Some(format!(
                "write a duration as a string with its unit, such as \"{raw}s\" or \"{raw}ms\""
            ));
            return None;
        }
        self.parsed(value, what, parse_duration)
    }

    pub(crate) fn dist(&mut self, value: &Value<'_>, what: &str) -> Option<Dist> {
        self.parsed(value, what, parse_dist)
    }

    pub(crate) fn rate(&mut self, value: &Value<'_>, what: &str) -> Option<f64> {
        match value.get_ref() {
            DeValue::String(s) => match parse_rate(s) {
                Ok(r) => Some(r),
                Err(e) => {
                    let text = s.as_ref();
                    self.text_error(value, text, e, what);
                    None
                }
            },
            DeValue::Integer(_) | DeValue::Float(_) => {
                let r = self.number(value, what)?;
                if r > 0.0 {
                    Some(r)
                } else {
                    self.error(format!("{what} must be positive"), value.span())
                        .help = Some("to leave a class out, delete its [load.NAME] table".into());
                    None
                }
            }
            _ => {
                self.type_error(value, what, "a rate such as \"450/s\"");
                None
            }
        }
    }

    pub(crate) fn table<'v, 'i>(
        &mut self,
        value: &'v Value<'i>,
        what: &str,
    ) -> Option<&'v DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.type_error(value, what, "a table");
                None
            }
        }
    }

    /// One of a fixed set of words.
    pub(crate) fn word(
        &mut self,
        value: &Value<'_>,
        what: &str,
        words: &[&'static str],
    ) -> Option<&'static str> {
        let text = self.string(value, what)?;
        if let Some(w) = words.iter().find(|w| **w == text) {
            return Some(w);
        }
        let d = self.error(format!("unknown {what} `{text}`"), value.span());
        d.help = Some(match did_you_mean(text, words.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? Choose one of: {}", words.join(", ")),
            None => format!("choose one of: {}", words.join(", ")),
        });
        None
    }

    /// `true` or `false`.
    pub(crate) fn boolean(&mut self, v: &Value<'_>, what: &str) -> Option<bool> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.type_error(v, what, "true or false");
                None
            }
        }
    }

    /// A service named by a string value: read now, resolved later.
    pub(crate) fn name(&mut self, value: &Value<'_>, what: &'static str) -> Option<Name> {
        let text = self.string(value, what)?;
        let name = Name {
            text: text.to_owned(),
            span: value.span(),
            what,
        };
        self.read.names.push(name.clone());
        Some(name)
    }

    /// Reads the whole document: every table, every problem.
    pub(crate) fn document<'d, 'i>(&mut self, doc: &'d DeTable<'i>) -> Document {
        self.check_keys(doc, &TOP_KEYS, "the scenario");

        let name = match doc.get("name") {
            Some(v) => self.string(v, "`name`").map(|n| Some(n.to_owned())),
            None => Some(None),
        };
        let simulation = self.simulation(doc);
        self.retry_policies(doc);

        // Services first: classes refer to them by name.
        let mut raw: Vec<(String, Range<usize>, &'d DeTable<'i>)> = Vec::new();
        match doc.get("services") {
            Some(v) => {
                if let Some(t) = self.table(v, "`services`") {
                    for (key, value) in t.iter() {
                        if let Some(table) =
                            self.table(value, &format!("service `{}`", key.get_ref()))
                        {
                            raw.push((key.get_ref().to_string(), key.span(), table));
                        }
                    }
                }
            }
            None => {
                self.diags.push(
                    Diagnostic::error("the scenario has no service", Some(0..0))
                        .with_help("add a station, such as:\n[services.q]\nkind = \"station\"\nwork = \"exp(4ms)\""),
                );
            }
        }

        let mut classes = Vec::new();
        match doc.get("load") {
            Some(v) => {
                if let Some(t) = self.table(v, "`load`") {
                    for (key, value) in t.iter() {
                        let class_name = key.get_ref().to_string();
                        if let Some(table) =
                            self.table(value, &format!("load class `{class_name}`"))
                        {
                            let def = self.class(&class_name, key.span(), table);
                            classes.push(ClassDef {
                                name: class_name,
                                key_span: key.span(),
                                def,
                            });
                        }
                    }
                }
            }
            None => {
                self.diags.push(
                    Diagnostic::error("the scenario has no load", Some(0..0))
                        .with_help("add a class of requests, such as:\n[load.jobs]\nrate = \"100/s\"\nentry = \"q\""),
                );
            }
        }

        let profiles = self.profiles(doc);
        let class_names: Vec<String> = classes.iter().map(|c| c.name.clone()).collect();
        let services = raw
            .into_iter()
            .map(|(name, key_span, table)| {
                let kind = table
                    .get("kind")
                    .and_then(|v| v.get_ref().as_str())
                    .and_then(ServiceKind::from_word);
                let def = self.service(
                    &name,
                    &key_span,
                    table,
                    kind,
                    &class_names,
                    profiles.as_ref(),
                );
                let rate_limit = match (table.get("rate_limit"), kind) {
                    (Some(v), Some(k)) if k != ServiceKind::Queue => self.rate_limit(v),
                    _ => None,
                };
                let shedding = match kind {
                    Some(ServiceKind::LoadBalancer) | None => None,
                    Some(k) => self.shedding(table, k),
                };
                ServiceDef {
                    name,
                    key_span,
                    kind,
                    def,
                    rate_limit,
                    shedding,
                }
            })
            .collect();
        let sweep = self.sweep(doc);
        let slo = self.slo(doc);
        let faults = self.faults(doc);
        Document {
            name,
            simulation,
            classes,
            services,
            sweep,
            slo,
            faults,
        }
    }

    /// Reads one service's table by its kind.
    fn service(
        &mut self,
        name: &str,
        key_span: &Range<usize>,
        table: &DeTable<'_>,
        kind: Option<ServiceKind>,
        class_names: &[String],
        profiles: Option<&BTreeMap<String, Profile>>,
    ) -> Option<KindDef> {
        if let Some(kind) = kind.filter(|k| k.is_replicated()) {
            return self
                .replicated(name, key_span, table, kind, class_names, profiles?)
                .map(|r| KindDef::Replicated(Box::new(r)));
        }
        let kind = match table.get("kind") {
            Some(v) => self.word(v, "kind", &KINDS),
            None => {
                self.error(format!("service `{name}` has no `kind`"), key_span.clone())
                    .help = Some("a plain queueing station is kind = \"station\"".into());
                None
            }
        };
        // Which keys a service takes depends on its kind: without one (none
        // written, or a misspelt one) its keys are not read, so the one
        // mistake is reported alone.
        match ServiceKind::from_word(kind?) {
            Some(ServiceKind::LoadBalancer) => self
                .balancer(name, key_span, table, profiles)
                .map(|b| KindDef::LoadBalancer(Box::new(b))),
            Some(ServiceKind::Queue) => self.queue(name, table).map(KindDef::Queue),
            Some(ServiceKind::External) => self
                .external(name, key_span, table)
                .map(|e| KindDef::External(Box::new(e))),
            kind => self
                .station(
                    name,
                    key_span,
                    table,
                    kind == Some(ServiceKind::Cache),
                    class_names,
                )
                .map(|s| KindDef::Station(Box::new(s))),
        }
    }

    fn simulation(&mut self, doc: &DeTable<'_>) -> Option<Simulation> {
        let Some(value) = doc.get("simulation") else {
            self.diags.push(
                Diagnostic::error("the scenario has no [simulation] table", Some(0..0))
                    .with_help("add:\n[simulation]\nduration = \"1000s\"\nwarmup = \"100s\"\nreplications = 10\nseed = 1"),
            );
            return None;
        };
        let table = self.table(value, "`simulation`")?;
        self.check_keys(table, &SIMULATION_KEYS, "[simulation]");
        let duration = match table.get("duration") {
            Some(v) => self.duration(v, "`duration`").and_then(|d| {
                if SimTime::from_secs_f64(d) > SimTime::ZERO {
                    Some(d)
                } else if d > 0.0 {
                    self.error("`duration` must be at least a nanosecond", v.span());
                    None
                } else {
                    self.error("`duration` must be positive", v.span());
                    None
                }
            }),
            None => {
                let span = doc.get_key_value("simulation").map(|(k, _)| k.span());
                self.diags.push(
                    Diagnostic::error("[simulation] needs a `duration`", span).with_help(
                        "how much simulated time to measure, such as duration = \"1000s\"",
                    ),
                );
                None
            }
        };
        let warmup = match table.get("warmup") {
            Some(v) => self.duration(v, "`warmup`"),
            None => Some(0.0),
        };
        let replications = match table.get("replications") {
            Some(v) => self.count(v, "`replications`", 1, MAX_REPLICATIONS),
            None => Some(10),
        };
        let seed = match table.get("seed") {
            Some(v) => self.integer(v, "`seed`", 0).map(|n| n as u64),
            None => Some(1),
        };
        let max_in_system = match table.get("max_in_system") {
            Some(v) => self.integer(v, "`max_in_system`", 1).map(|n| n as u64),
            None => Some(RunConfig::MAX_IN_SYSTEM),
        };
        Some(Simulation {
            duration: SimTime::from_secs_f64(duration?),
            warmup: SimTime::from_secs_f64(warmup?),
            replications: replications?,
            seed: seed?,
            max_in_system: max_in_system?,
        })
    }

    fn class(
        &mut self,
        name: &str,
        key_span: Range<usize>,
        table: &DeTable<'_>,
    ) -> Option<ClassRead> {
        self.check_keys(table, &LOAD_KEYS, &format!("[load.{name}]"));
        let rate_limit = match table.get("rate_limit") {
            None => Some(None),
            Some(v) => self.rate_limit(v).map(Some),
        };
        let deadline = match self.timeout(table, "deadline") {
            None => Some(None),
            Some(d) => d.map(Some),
        };
        let entry = match table.get("entry") {
            Some(v) => self.name(v, "`entry`"),
            None => {
                self.error(format!("class `{name}` has no `entry`"), key_span.clone())
                    .help = Some(
                    "name the service its requests go to first, such as entry = \"api\"".into(),
                );
                None
            }
        };
        let priority = match table.get("priority") {
            Some(v) => self.integer(v, "`priority`", i64::MIN),
            None => Some(0),
        };
        let load = match (table.get("rate"), table.get("population")) {
            (Some(rate), Some(population)) => {
                let d = self.error(
                    format!("class `{name}` has both a `rate` (open) and a `population` (closed)"),
                    population.span(),
                );
                d.help = Some("keep `rate` for requests arriving from outside, or `population` and `think` for a fixed set of users".into());
                let _ = rate;
                None
            }
            (Some(rate), None) => {
                if let Some(think) = table.get("think") {
                    self.error(
                        "`think` only applies to closed classes (with a `population`)",
                        think.span(),
                    );
                }
                let process = match table.get("arrival") {
                    Some(v) => self.word(v, "arrival process", &ARRIVALS).map(|w| match w {
                        "constant" => ArrivalProcess::Constant,
                        _ => ArrivalProcess::Poisson,
                    }),
                    None => Some(ArrivalProcess::Poisson),
                };
                let (rate, profile) = if matches!(rate.get_ref(), DeValue::Table(_)) {
                    match self.profile(rate) {
                        Some(p) => (Some(p.peak()), Some(Some(p))),
                        None => (None, None),
                    }
                } else {
                    (self.rate(rate, "`rate`"), Some(None))
                };
                Some(Load::Open {
                    process: process?,
                    rate: rate?,
                    profile: profile?,
                })
            }
            (None, Some(population)) => {
                if let Some(arrival) = table.get("arrival") {
                    self.error(
                        "`arrival` only applies to open classes (with a `rate`)",
                        arrival.span(),
                    )
                    .help = Some(
                        "a closed class's requests arrive when its users finish thinking".into(),
                    );
                }
                let (population, profile) = if matches!(population.get_ref(), DeValue::Table(_)) {
                    match self.profile_of(population, profile::Quantity::Population) {
                        Some(p) => (Some(p.peak() as u32), Some(Some(p))),
                        None => (None, None),
                    }
                } else {
                    (self.one_population(population), Some(None))
                };
                let think = match table.get("think") {
                    Some(v) => self.dist(v, "`think`").map(Some),
                    None => Some(None),
                };
                Some(Load::Closed {
                    population: population?,
                    think: think?,
                    profile: profile?,
                })
            }
            (None, None) => {
                let d = self.error(
                    format!("class `{name}` has neither a `rate` nor a `population`"),
                    key_span,
                );
                d.help = Some(
                    "an open class needs rate = \"100/s\"; a closed class needs population = 20 (and think = \"exp(5s)\")"
                        .into(),
                );
                None
            }
        };
        Some(ClassRead {
            entry: entry?,
            load: load?,
            priority: priority?,
            deadline: deadline?,
            rate_limit: rate_limit?,
        })
    }

    /// A closed class's `population` written as a number.
    fn one_population(&mut self, population: &Value<'_>) -> Option<u32> {
        self.integer(population, "`population`", 1).and_then(|n| {
            if n <= MAX_POPULATION {
                Some(n as u32)
            } else {
                self.error(
                    format!("`population` is above {MAX_POPULATION}"),
                    population.span(),
                )
                .help =
                    Some("a population this large behaves like an open class: use a `rate`".into());
                None
            }
        })
    }

    pub(crate) fn routing(&mut self, value: &Value<'_>, context: &str) -> Option<RouteDef> {
        let DeValue::Array(items) = value.get_ref() else {
            self.type_error(
                value,
                "`next`",
                "an array such as [{ to = \"db\", p = 0.3 }]",
            );
            return None;
        };
        let mut next = Vec::new();
        let mut ok = true;
        let mut sum = 0.0;
        let several = items.len() > 1;
        for item in items.iter() {
            let Some(t) = self.table(item, "an entry of `next`") else {
                ok = false;
                continue;
            };
            self.check_keys(t, &NEXT_KEYS, &format!("`next` of {context}"));
            let to = match t.get("to") {
                Some(v) => self.name(v, "`to`"),
                None => {
                    self.error("this route has no `to`", item.span()).help =
                        Some("name the next service, such as { to = \"db\" }".into());
                    None
                }
            };
            let p = match t.get("p") {
                Some(v) => self.probability(v, "probability"),
                None if several => {
                    self.error(
                        "with several routes, each needs a probability `p`",
                        item.span(),
                    )
                    .help = Some(
                        "such as next = [{ to = \"a\", p = 0.7 }, { to = \"b\", p = 0.3 }]".into(),
                    );
                    None
                }
                None => Some(1.0),
            };
            sum += p.unwrap_or(0.0);
            match (to, p) {
                (Some(to), Some(p)) => next.push((to, p)),
                _ => ok = false,
            }
        }
        if sum > 1.0 + 1e-9 {
            self.error(
                format!(
                    "the probabilities of `next` sum to {}, above 1",
                    (sum * 1e6).round() / 1e6
                ),
                value.span(),
            )
            .help = Some("they may sum below 1: the rest leave the system".into());
            return None;
        }
        ok.then_some(RouteDef { next })
    }
}
