//! From TOML text to a [`Scenario`], reporting every problem at once.
//!
//! The document is parsed into toml's spanned tree (`DeTable`), so every key
//! and value keeps its byte range. A walker then reads it table by table,
//! checks each key against the schema and each value against its type, and
//! collects a [`Diagnostic`] for every problem instead of stopping at the
//! first. Only a document without errors becomes a [`Scenario`].

use std::borrow::Cow;
use std::ops::Range;

use chokepoint_core::analysis;
use chokepoint_core::dist::Dist;
use chokepoint_core::model::{
    Admission, ArrivalProcess, Behaviour, Cache, Class, Discipline, Dispatch, Downtime, Load,
    ModelError, Policy, Queue, Role, Routing, Sessions, Station, StationId, Topology,
};
use std::collections::BTreeMap;

use crate::profiles::Profile;
use chokepoint_core::time::SimTime;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::calls::{self, CallEntry, INFINITE_SERVERS, PerClass};
use crate::data::{CACHE_KEYS, CacheSpec};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::replicated::{CallSite, REPLICATED_KINDS, ServiceInfo};
use crate::spec::{Slo, SweepSpec};
use crate::units::{TextError, parse_dist, parse_duration, parse_rate};

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
}

/// A validated scenario, ready to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The scenario's `name`, if it has one (callers may fall back on the file name).
    pub name: Option<String>,
    /// How to run it.
    pub simulation: Simulation,
    /// What to run.
    pub topology: Topology,
    /// The `[sweep]` table: points to run, as overrides of this scenario.
    pub sweep: Option<SweepSpec>,
    /// The `[slo]` table: the objectives each point is judged against.
    pub slo: Option<Slo>,
    /// The replicated services (`api`, `worker`, `database`): their replicas'
    /// stations, profile and cost.
    pub services: Vec<ServiceInfo>,
}

/// The outcome of loading: a scenario when there is no error, and every
/// diagnostic (errors and warnings) in the order of the file.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The scenario, present if and only if no diagnostic is an error.
    pub scenario: Option<Scenario>,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
}

/// A change applied to the document before it is read: `path` is a dotted
/// path (`load.jobs.rate`) and `value` a TOML value (`"1.8/s"`, `4`, `0.5`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    /// Dotted path of the key to set.
    pub path: String,
    /// The new value, written as in a TOML file.
    pub value: String,
    /// Where the override itself is written in the source (a sweep value),
    /// to point diagnostics at; `None` points them at the replaced key.
    pub at: Option<Range<usize>>,
}

impl Override {
    /// An override of `path` with the TOML value `value`.
    pub fn new(path: impl Into<String>, value: impl Into<String>) -> Override {
        Override {
            path: path.into(),
            value: value.into(),
            at: None,
        }
    }
}

/// Parses and validates a scenario.
pub fn load(source: &str) -> Loaded {
    load_with(source, &[])
}

/// Parses a scenario, applies `overrides`, then validates it. Errors in an
/// overridden value point at the key it replaced.
pub fn load_with(source: &str, overrides: &[Override]) -> Loaded {
    let (document, syntax_errors) = DeTable::parse_recoverable(source);
    let mut walker = Walker {
        src: source,
        diags: Vec::new(),
    };
    if !syntax_errors.is_empty() {
        for e in syntax_errors {
            let message = e.message().trim().to_string();
            walker.diags.push(
                Diagnostic::error(format!("TOML syntax: {message}"), e.span()).with_label("here"),
            );
        }
        return walker.finish(None);
    }
    let mut document = document.into_inner();
    // Override values are parsed from their own strings; keep them alive.
    let override_texts: Vec<String> = overrides.iter().map(|o| o.value.clone()).collect();
    for (o, text) in overrides.iter().zip(&override_texts) {
        if let Err(message) = apply_override(&mut document, &o.path, text, o.at.clone()) {
            walker.diags.push(Diagnostic::error(
                format!("override `{}`: {message}", o.path),
                o.at.clone(),
            ));
        }
    }
    let scenario = walker.scenario(&document);
    walker.finish(scenario)
}

fn apply_override<'i>(
    document: &mut DeTable<'i>,
    path: &str,
    text: &'i str,
    at: Option<Range<usize>>,
) -> Result<(), String> {
    let value = DeValue::parse(text)
        .map_err(|e| format!("`{text}` is not a TOML value: {}", e.message()))?;
    let keys: Vec<&str> = path.split('.').collect();
    if keys.iter().any(|k| k.is_empty()) {
        return Err(format!(
            "`{path}` is not a dotted path such as `services.api.servers`"
        ));
    }
    let (last, parents) = keys.split_last().ok_or("empty path")?;
    let mut table = document;
    let mut span = at.clone().unwrap_or(0..0);
    for key in parents {
        if !table.contains_key(*key) {
            table.insert(
                Spanned::new(span.clone(), Cow::Owned(key.to_string())),
                Spanned::new(span.clone(), DeValue::Table(DeTable::default())),
            );
        }
        let entry = table.get_mut(*key).expect("inserted above");
        if at.is_none() {
            span = entry.span();
        }
        table = match entry.get_mut() {
            DeValue::Table(t) => t,
            _ => return Err(format!("`{key}` is not a table")),
        };
    }
    // Point errors in the new value at the override's own text when it has
    // one, else at the key it replaces, if it existed.
    let span = at
        .clone()
        .unwrap_or_else(|| table.get(*last).map_or(span, Spanned::span));
    let key_span = at.unwrap_or_else(|| {
        table
            .get_key_value(*last)
            .map_or(span.clone(), |(k, _)| k.span())
    });
    table.remove(*last);
    table.insert(
        Spanned::new(key_span, Cow::Owned(last.to_string())),
        Spanned::new(span, value.into_inner()),
    );
    Ok(())
}

const TOP_KEYS: [&str; 8] = [
    "profiles",
    "name",
    "description",
    "simulation",
    "load",
    "services",
    "sweep",
    "slo",
];
const SIMULATION_KEYS: [&str; 4] = ["duration", "warmup", "replications", "seed"];
const LOAD_KEYS: [&str; 6] = [
    "arrival",
    "rate",
    "entry",
    "population",
    "think",
    "priority",
];
const STATION_KEYS: [&str; 9] = [
    "kind",
    "calls",
    "down",
    "servers",
    "discipline",
    "capacity",
    "work",
    "next",
    "on",
];
const ON_KEYS: [&str; 3] = ["work", "calls", "next"];
const EXTERNAL_KEYS: [&str; 5] = ["kind", "latency", "concurrency", "error", "down"];
const QUEUE_KEYS: [&str; 2] = ["kind", "capacity"];
const NEXT_KEYS: [&str; 2] = ["to", "p"];
const KINDS: [&str; 8] = [
    "station",
    "load_balancer",
    "api",
    "cache",
    "database",
    "queue",
    "worker",
    "external",
];
/// Each user of a closed class is simulated; beyond this, memory and time
/// are better spent on an open class with the equivalent rate.
const MAX_POPULATION: i64 = 10_000_000;
const BALANCER_KEYS: [&str; 7] = [
    "kind", "policy", "targets", "sessions", "layer", "profile", "cpu",
];
const POLICIES: [&str; 6] = [
    "round_robin",
    "random",
    "least_connections",
    "power_of_two",
    "sticky",
    "consistent_hash",
];
const SESSION_KEYS: [&str; 2] = ["count", "zipf"];
const DOWN_KEYS: [&str; 3] = ["replica", "from", "to"];
/// Sessions a balancer tracks at most (a sticky table holds one entry each).
const MAX_SESSIONS: i64 = 10_000_000;
const DISCIPLINES: [&str; 4] = ["fifo", "lifo", "priority", "ps"];
const ARRIVALS: [&str; 2] = ["poisson", "constant"];

pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

pub(crate) struct Walker<'s> {
    pub(crate) src: &'s str,
    pub(crate) diags: Vec<Diagnostic>,
}

/// What `[services.NAME.on.CLASS]` changes for one class.
#[derive(Default)]
struct OnClass {
    work: Option<Dist>,
    next: Option<Routing>,
    calls: Option<Vec<CallEntry>>,
}

/// A plain station as read, with its calls per class and where each class
/// goes after them.
struct Plain {
    station: Station,
    calls: PerClass,
    next: Vec<Routing>,
    /// A layer 7 balancer's dispatching station and profile.
    l7: Option<(Station, Profile)>,
    /// When it is down.
    down: Vec<(u32, SimTime, SimTime)>,
    /// For a cache: its contents, fetch and operations.
    cache: Option<CacheSpec>,
}

/// A service as read, before routing names are resolved.
pub(crate) struct RawService<'d, 'i> {
    pub(crate) name: String,
    pub(crate) key_span: Range<usize>,
    pub(crate) table: &'d DeTable<'i>,
}

impl<'s> Walker<'s> {
    fn finish(mut self, scenario: Option<Scenario>) -> Loaded {
        // Keep the file's order: by position, errors before warnings at the same place.
        self.diags.sort_by_key(|d| {
            (
                d.span.as_ref().map_or(usize::MAX, |s| s.start),
                std::cmp::Reverse(d.severity),
            )
        });
        let has_error = self.diags.iter().any(Diagnostic::is_error);
        Loaded {
            scenario: if has_error { None } else { scenario },
            diagnostics: self.diags,
        }
    }

    pub(crate) fn error(
        &mut self,
        message: impl Into<String>,
        span: Range<usize>,
    ) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(message, Some(span)));
        self.diags.last_mut().expect("just pushed")
    }

    /// Reports keys of `table` not in `known`, with a suggestion.
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
    fn text_error(&mut self, value: &Value<'_>, content: &str, err: TextError, what: &str) {
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
        self.parsed(value, what, parse_duration)
    }

    pub(crate) fn dist(&mut self, value: &Value<'_>, what: &str) -> Option<Dist> {
        self.parsed(value, what, parse_dist)
    }

    fn rate(&mut self, value: &Value<'_>, what: &str) -> Option<f64> {
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
    fn word(
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

    /// Resolves a service name, reporting an unknown one with a suggestion.
    pub(crate) fn service_ref(
        &mut self,
        value: &Value<'_>,
        what: &str,
        services: &[RawService<'_, '_>],
    ) -> Option<StationId> {
        let name = self.string(value, what)?;
        if let Some(i) = services.iter().position(|s| s.name == name) {
            return Some(StationId(i as u32));
        }
        let d = self.error(format!("unknown service `{name}` in {what}"), value.span());
        d.label = Some("no [services] table has this name".into());
        d.help = match did_you_mean(name, services.iter().map(|s| s.name.as_str())) {
            Some(s) => Some(format!("did you mean `{s}`?")),
            None if services.is_empty() => Some("declare it as a [services.NAME] table".into()),
            None => Some(format!(
                "services are: {}",
                services
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        None
    }

    fn scenario(&mut self, doc: &DeTable<'_>) -> Option<Scenario> {
        self.check_keys(doc, &TOP_KEYS, "the scenario");

        let name = match doc.get("name") {
            Some(v) => self.string(v, "`name`").map(|n| Some(n.to_owned())),
            None => Some(None),
        };
        let simulation = self.simulation(doc);

        // Services first: classes refer to them by name.
        let mut services = Vec::new();
        match doc.get("services") {
            Some(v) => {
                if let Some(t) = self.table(v, "`services`") {
                    for (key, value) in t.iter() {
                        if let Some(table) =
                            self.table(value, &format!("service `{}`", key.get_ref()))
                        {
                            services.push(RawService {
                                name: key.get_ref().to_string(),
                                key_span: key.span(),
                                table,
                            });
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
        let mut class_spans = Vec::new();
        let mut class_names = Vec::new();
        match doc.get("load") {
            Some(v) => {
                if let Some(t) = self.table(v, "`load`") {
                    for (key, value) in t.iter() {
                        let class_name = key.get_ref().to_string();
                        if let Some(table) =
                            self.table(value, &format!("load class `{class_name}`"))
                        {
                            class_spans.push(key.span());
                            class_names.push(class_name.clone());
                            classes.push(self.class(&class_name, key.span(), table, &services));
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

        // Each service is one station (its entry, with the service's index);
        // replicated services add their replicas' stations after all entries.
        let profiles = crate::replicated::profiles(self, doc);
        let mut stations: Vec<Option<Station>> = Vec::new();
        let mut extras: Vec<Station> = Vec::new();
        let mut station_spans: Vec<Range<usize>> =
            services.iter().map(|s| s.key_span.clone()).collect();
        let mut replicated: Vec<ServiceInfo> = Vec::new();
        // (queue, the consuming worker's index in `replicated`, where it says so)
        let mut consumers: Vec<(StationId, usize, Range<usize>)> = Vec::new();
        // Stations that dispatch (balancers), and windows when stations are down.
        let mut dispatchers: Vec<StationId> = Vec::new();
        let mut downs: Vec<(StationId, SimTime, SimTime)> = Vec::new();
        for s in &services {
            let kind = s.table.get("kind").and_then(|v| v.get_ref().as_str());
            let Some(kind) = kind.filter(|k| REPLICATED_KINDS.contains(k)) else {
                let Some(plain) = self.station(s, &services, &class_names, profiles.as_ref())
                else {
                    stations.push(None);
                    continue;
                };
                let mut station = plain.station;
                let here = StationId(stations.len() as u32);
                downs.extend(plain.down.iter().map(|&(_, from, to)| (here, from, to)));
                if let Some((dispatch, profile)) = plain.l7 {
                    // A layer 7 balancer: its CPU, then the choice.
                    let id = StationId((services.len() + extras.len()) as u32);
                    for b in station.behaviour.iter_mut().flatten() {
                        b.routing = Routing::to(id);
                    }
                    dispatchers.push(id);
                    replicated.push(ServiceInfo {
                        name: s.name.clone(),
                        kind: "load_balancer".into(),
                        replicas: 1,
                        cost_per_hour: profile.cost_per_hour,
                        profile: Some(profile),
                        chains: vec![vec![here, id]],
                        cpu_at: 0,
                        calls: Vec::new(),
                        others: Vec::new(),
                        locks: Vec::new(),
                        connect: false,
                        gc: false,
                        followers: 0,
                    });
                    station_spans.push(s.key_span.clone());
                    extras.push(dispatch);
                } else if station.dispatch().is_some() {
                    dispatchers.push(here);
                }
                // A station that calls, or a cache that fetches on a miss:
                // the station, then its call points.
                let id = StationId(stations.len() as u32);
                let first = (services.len() + extras.len()) as u32;
                let compiled = if let Some(spec) = &plain.cache {
                    let per_class: PerClass = station
                        .behaviour
                        .iter()
                        .map(|b| b.as_ref().map(|_| spec.on_miss.clone()))
                        .collect();
                    let c = calls::compile(&s.name, &per_class, &plain.next, first, None);
                    station.queue_mut().expect("a cache is a queue").cache = Some(Cache {
                        contents: spec.contents.clone(),
                        ops: spec.ops.clone(),
                        write_policy: spec.write_policy,
                        backing: c.points[0],
                    });
                    Some(("cache", c))
                } else if calls::any(&plain.calls) {
                    // Its servers are workers, held from admission to the last reply.
                    let c = calls::compile(&s.name, &plain.calls, &plain.next, first, None);
                    let last = *c.points.last().expect("calls were made");
                    station.admission = Some(Admission::new(station.servers(), last));
                    for b in station.behaviour.iter_mut().flatten() {
                        b.routing = Routing::to(c.points[0]);
                    }
                    Some(("station", c))
                } else {
                    None
                };
                if let Some((kind, c)) = compiled {
                    let mut chain = vec![id];
                    chain.extend(&c.points);
                    replicated.push(ServiceInfo {
                        name: s.name.clone(),
                        kind: kind.into(),
                        replicas: 1,
                        profile: None,
                        chains: vec![chain],
                        cpu_at: 0,
                        calls: c
                            .labels
                            .iter()
                            .enumerate()
                            .map(|(j, label)| CallSite {
                                label: label.clone(),
                                at: 1 + j,
                            })
                            .collect(),
                        others: c.hops,
                        locks: Vec::new(),
                        connect: false,
                        gc: false,
                        followers: 0,
                        cost_per_hour: 0.0,
                    });
                    station_spans.extend(std::iter::repeat_n(s.key_span.clone(), c.stations.len()));
                    extras.extend(c.stations);
                }
                stations.push(Some(station));
                continue;
            };
            let Some(profiles) = &profiles else {
                stations.push(None);
                continue;
            };
            let read = self.replicated(s, kind, &class_names, profiles, &services);
            match read {
                Some(r) => {
                    if let Some((queue, span)) = &r.queue {
                        consumers.push((*queue, replicated.len(), span.clone()));
                    }
                    let first = (services.len() + extras.len()) as u32;
                    let (entry, internal, info) = r.compile(&s.name, first, class_names.len());
                    downs.extend(
                        r.down.iter().map(|&(replica, from, to)| {
                            (info.chains[replica as usize][0], from, to)
                        }),
                    );
                    dispatchers.push(StationId(stations.len() as u32));
                    station_spans.extend(std::iter::repeat_n(s.key_span.clone(), internal.len()));
                    extras.extend(internal);
                    replicated.push(info);
                    stations.push(Some(entry));
                }
                None => stations.push(None),
            }
        }
        // A queue feeds its worker's replicas: its slots are all their
        // consumers, each given back when a message leaves its replica.
        for (qi, s) in services.iter().enumerate() {
            if s.table.get("kind").and_then(|v| v.get_ref().as_str()) != Some("queue") {
                continue;
            }
            let mine: Vec<&(StationId, usize, Range<usize>)> =
                consumers.iter().filter(|c| c.0.idx() == qi).collect();
            let Some(Some(station)) = stations.get_mut(qi) else {
                continue;
            };
            match mine.as_slice() {
                [] => {
                    self.error(
                        format!("queue `{}` has no worker consuming it", s.name),
                        s.key_span.clone(),
                    )
                    .help = Some(format!(
                        "add a service with kind = \"worker\", queue = \"{}\" and its `concurrency`",
                        s.name
                    ));
                }
                [(_, w, _)] => {
                    let info = &replicated[*w];
                    let heads: Vec<StationId> = info.chains.iter().map(|c| c[0]).collect();
                    let lasts: Vec<StationId> = info
                        .chains
                        .iter()
                        .filter_map(|c| c.last().copied())
                        .collect();
                    let slots: u32 = heads
                        .iter()
                        .filter_map(|h| extras.get(h.idx() - services.len()))
                        .filter_map(|st| st.admission.as_ref().map(|a| a.slots))
                        .sum();
                    if let Some(d) = station.dispatch_mut() {
                        d.targets = heads;
                    }
                    if let Some(a) = station.admission.as_mut() {
                        a.slots = slots.max(1);
                        a.release_at = lasts;
                    }
                }
                [_, (_, _, span), ..] => {
                    self.error(
                        format!("queue `{}` already has a worker consuming it", s.name),
                        span.clone(),
                    )
                    .help = Some(
                        "one worker service consumes a queue; give it more replicas or concurrency"
                            .into(),
                    );
                }
            }
        }
        // A load balancer in front of a service whose own station is an even
        // split over its replicas takes that choice over (and knows when the
        // replicas are down); any other service keeps its own station (a
        // database with read replicas routes by class there).
        let splits: Vec<bool> = stations
            .iter()
            .map(|s| s.as_ref().is_some_and(|s| s.dispatch().is_some()))
            .collect();
        for id in dispatchers {
            let station = if id.idx() < services.len() {
                stations[id.idx()].as_mut()
            } else {
                extras.get_mut(id.idx() - services.len())
            };
            let Some(d) = station.and_then(|s| s.dispatch_mut()) else {
                continue;
            };
            d.targets = d
                .targets
                .iter()
                .flat_map(|t| {
                    let service = services.get(t.idx()).map(|s| s.name.as_str());
                    match replicated
                        .iter()
                        .find(|info| Some(info.name.as_str()) == service)
                    {
                        Some(info) if splits[t.idx()] => info.chains.iter().map(|c| c[0]).collect(),
                        _ => vec![*t],
                    }
                })
                .collect();
            for (k, t) in d.targets.iter().enumerate() {
                for &(_, from, to) in downs.iter().filter(|w| w.0 == *t) {
                    d.down.push(Downtime {
                        target: k,
                        from,
                        to,
                    });
                }
            }
        }

        let sweep = self.sweep(doc);
        let slo = self.slo(doc);
        let name = name?;
        let simulation = simulation?;
        let sweep = sweep?;
        let slo = slo?;
        let classes: Option<Vec<Class>> = classes.into_iter().collect();
        let stations: Option<Vec<Station>> = stations.into_iter().collect();
        let mut stations = stations?;
        stations.extend(extras);
        let topology = Topology {
            stations,
            classes: classes?,
        };
        // Model-level checks only make sense on a model without local errors:
        // a misspelt `work` would otherwise also show as "no work".
        if !self.diags.iter().any(Diagnostic::is_error) {
            self.check_model(&topology, &station_spans, &class_spans);
        }
        Some(Scenario {
            name,
            simulation,
            topology,
            sweep,
            slo,
            services: replicated,
        })
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
                if d > 0.0 {
                    Some(d)
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
            Some(v) => self.integer(v, "`replications`", 1).and_then(|n| {
                u32::try_from(n).ok().or_else(|| {
                    self.error("`replications` is too large", v.span());
                    None
                })
            }),
            None => Some(10),
        };
        let seed = match table.get("seed") {
            Some(v) => self.integer(v, "`seed`", 0).map(|n| n as u64),
            None => Some(1),
        };
        Some(Simulation {
            duration: SimTime::from_secs_f64(duration?),
            warmup: SimTime::from_secs_f64(warmup?),
            replications: replications?,
            seed: seed?,
        })
    }

    fn class(
        &mut self,
        name: &str,
        key_span: Range<usize>,
        table: &DeTable<'_>,
        services: &[RawService<'_, '_>],
    ) -> Option<Class> {
        self.check_keys(table, &LOAD_KEYS, &format!("[load.{name}]"));
        let entry = match table.get("entry") {
            Some(v) => self.service_ref(v, "`entry`", services),
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
                let rate = self.rate(rate, "`rate`");
                Some(Load::Open {
                    process: process?,
                    rate: rate?,
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
                let population = self.integer(population, "`population`", 1).and_then(|n| {
                    if n <= MAX_POPULATION {
                        Some(n as u32)
                    } else {
                        self.error(
                            format!("`population` is above {MAX_POPULATION}"),
                            population.span(),
                        )
                        .help = Some(
                            "a population this large behaves like an open class: use a `rate`"
                                .into(),
                        );
                        None
                    }
                });
                let think = match table.get("think") {
                    Some(v) => self.dist(v, "`think`").map(Some),
                    None => Some(None),
                };
                Some(Load::Closed {
                    population: population?,
                    think: think?,
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
        Some(Class {
            name: name.to_owned(),
            load: load?,
            entry: entry?,
            priority: priority?,
        })
    }

    pub(crate) fn routing(
        &mut self,
        value: &Value<'_>,
        services: &[RawService<'_, '_>],
        context: &str,
    ) -> Option<Routing> {
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
                Some(v) => self.service_ref(v, "`to`", services),
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
        ok.then_some(Routing { next })
    }

    fn station(
        &mut self,
        service: &RawService<'_, '_>,
        services: &[RawService<'_, '_>],
        class_names: &[String],
        profiles: Option<&BTreeMap<String, Profile>>,
    ) -> Option<Plain> {
        let name = &service.name;
        let table = service.table;
        let context = format!("[services.{name}]");
        let kind = match table.get("kind") {
            Some(v) => self.word(v, "kind", &KINDS),
            None => {
                self.error(
                    format!("service `{name}` has no `kind`"),
                    service.key_span.clone(),
                )
                .help = Some("a plain queueing station is kind = \"station\"".into());
                None
            }
        };
        let plain = |station: Station| Plain {
            station,
            calls: vec![None; class_names.len()],
            next: Vec::new(),
            l7: None,
            down: Vec::new(),
            cache: None,
        };
        if kind == Some("load_balancer") {
            let (station, l7) = self.balancer(service, services, class_names.len(), profiles)?;
            return Some(Plain {
                l7,
                ..plain(station)
            });
        }
        if kind == Some("queue") {
            return self.queue(service, class_names.len()).map(plain);
        }
        if kind == Some("external") {
            let index = services.iter().position(|s| s.name == *name).unwrap_or(0);
            let down = match table.get("down") {
                Some(v) => self.downtimes(v, None)?,
                None => Vec::new(),
            };
            let station = self.external(service, StationId(index as u32), class_names.len())?;
            return Some(Plain {
                down,
                ..plain(station)
            });
        }
        let is_cache = kind == Some("cache");
        let cache = if is_cache {
            let known: Vec<&str> = STATION_KEYS
                .iter()
                .chain(&CACHE_KEYS)
                .copied()
                .filter(|k| *k != "calls")
                .collect();
            self.check_keys(table, &known, &context);
            Some(self.cache_spec(service, services, class_names, &context))
        } else {
            self.check_keys(table, &STATION_KEYS, &context);
            None
        };
        let servers = match table.get("servers") {
            Some(v) => self
                .integer(v, "`servers`", 1)
                .and_then(|n| u32::try_from(n).ok()),
            None => Some(1),
        };
        let discipline = match table.get("discipline") {
            Some(v) => self.word(v, "discipline", &DISCIPLINES).map(|w| match w {
                "lifo" => Discipline::Lifo,
                "priority" => Discipline::Priority,
                "ps" => Discipline::Ps,
                _ => Discipline::Fifo,
            }),
            None => Some(Discipline::Fifo),
        };
        let capacity = match table.get("capacity").filter(|_| !is_cache) {
            Some(v) => self.integer(v, "`capacity`", 1).and_then(|n| {
                let n = u32::try_from(n).ok()?;
                if let Some(servers) = servers
                    && n < servers
                {
                    self.error(
                        format!("`capacity` ({n}) is below `servers` ({servers}): some servers could never be used"),
                        v.span(),
                    )
                    .help = Some("capacity counts requests in service plus queued; for a pure loss system set capacity = servers".into());
                    return None;
                }
                Some(Some(n))
            }),
            None => Some(None),
        };
        // With calls, the servers are workers held through them.
        let capacity = match (table.get("capacity"), table.get("calls")) {
            (Some(v), Some(_)) if !is_cache => {
                self.error(
                    "`capacity` is not supported on a station that makes calls",
                    v.span(),
                )
                .help = Some("its requests wait for a server (a worker held through the calls) in an unbounded FIFO line".into());
                None
            }
            _ => capacity,
        };
        let work = match table.get("work") {
            Some(v) => self.dist(v, "`work`").map(Some),
            None => Some(None),
        };
        let routing = match table.get("next") {
            Some(v) => self.routing(v, services, &context),
            None => Some(Routing::exit()),
        };
        let base_calls = match table.get("calls") {
            Some(v) => self.calls(v, services, &context),
            None => Some(Vec::new()),
        };
        let down = match table.get("down") {
            Some(v) => self.downtimes(v, None),
            None => Some(Vec::new()),
        };

        // Per-class behaviour: [services.NAME.on.CLASS]. `None` marks a class
        // whose table had an error (already reported).
        let mut per_class: Vec<Option<OnClass>> = (0..class_names.len())
            .map(|_| Some(OnClass::default()))
            .collect();
        if let Some(on) = table.get("on")
            && let Some(on) = self.table(on, "`on`")
        {
            for (key, value) in on.iter() {
                let class = key.get_ref().as_ref();
                let Some(ci) = class_names.iter().position(|c| c == class) else {
                    let d = self.error(
                        format!("unknown class `{class}` in {context}.on"),
                        key.span(),
                    );
                    d.help = match did_you_mean(class, class_names.iter().map(String::as_str)) {
                        Some(s) => Some(format!("did you mean `{s}`?")),
                        None => Some(format!(
                            "classes are declared as [load.NAME]: {}",
                            class_names.join(", ")
                        )),
                    };
                    continue;
                };
                let Some(t) = self.table(value, &format!("`on.{class}`")) else {
                    continue;
                };
                let on_keys: &[&str] = if is_cache {
                    &["work", "next", "op"]
                } else {
                    &ON_KEYS
                };
                self.check_keys(t, on_keys, &format!("{context}.on.{class}"));
                let work = t.get("work").map(|v| self.dist(v, "`work`"));
                let next = t.get("next").map(|v| self.routing(v, services, &context));
                let calls = t.get("calls").map(|v| self.calls(v, services, &context));
                per_class[ci] = match (work, next, calls) {
                    (Some(None), _, _) | (_, Some(None), _) | (_, _, Some(None)) => None,
                    (work, next, calls) => Some(OnClass {
                        work: work.flatten(),
                        next: next.flatten(),
                        calls: calls.flatten(),
                    }),
                };
            }
        }
        let work = work?;
        let routing = routing?;
        let base_calls = base_calls?;
        let mut behaviour = Vec::with_capacity(class_names.len());
        let mut calls = Vec::with_capacity(class_names.len());
        let mut next = Vec::with_capacity(class_names.len());
        for on in per_class {
            let on = on?;
            let class_calls = on.calls.unwrap_or_else(|| base_calls.clone());
            // A station that only calls others needs no work of its own.
            let work = on.work.or_else(|| work.clone()).or_else(|| {
                (!class_calls.is_empty())
                    .then(|| Dist::constant(0.0).expect("zero is a valid constant"))
            });
            next.push(on.next.unwrap_or_else(|| routing.clone()));
            calls.push(work.is_some().then_some(class_calls));
            behaviour.push(work.map(|work| Behaviour {
                work,
                routing: next[next.len() - 1].clone(),
            }));
        }
        if let Some(entry) = calls.iter().flatten().flatten().find(|e| e.bytes.is_some()) {
            self.error(
                "`bytes` needs the caller's network bandwidth: only a service with a `profile` has one",
                entry.span.clone(),
            )
            .help = Some("make the caller kind = \"api\" (or worker, database) with a profile, or drop `bytes`".into());
            return None;
        }
        let discipline = discipline?;
        if calls::any(&calls) && discipline == Discipline::Priority {
            if let Some(v) = table.get("discipline") {
                self.error(
                    "`priority` is not supported on a station that makes calls",
                    v.span(),
                )
                .help = Some("its requests wait for a server (a worker held through the calls) in FIFO order".into());
            }
            return None;
        }
        Some(Plain {
            station: Station::with_role(
                name.clone(),
                Role::Queue(Queue {
                    capacity: capacity?,
                    ..Queue::new(servers?, discipline)
                }),
                behaviour,
            ),
            calls,
            next,
            l7: None,
            down: down?,
            cache: match cache {
                Some(spec) => Some(spec?),
                None => None,
            },
        })
    }

    /// A `kind = "queue"` service: a buffer of messages in front of the
    /// worker that consumes it. Its targets and slots (the worker's
    /// consumers) are filled in once every service is read.
    fn queue(&mut self, service: &RawService<'_, '_>, n_classes: usize) -> Option<Station> {
        let table = service.table;
        self.check_keys(table, &QUEUE_KEYS, &format!("[services.{}]", service.name));
        let limit = match table.get("capacity") {
            Some(v) => self
                .integer(v, "`capacity`", 1)
                .and_then(|n| u32::try_from(n).ok())
                .map(Some),
            None => Some(None),
        };
        Some(Station {
            admission: Some(Admission {
                slots: 1,
                release_at: Vec::new(),
                waiting_limit: limit?,
                connections: None,
            }),
            ..Station::balancer(
                service.name.clone(),
                Dispatch::new(Policy::LeastConnections, Vec::new()),
                n_classes,
            )
        })
    }

    /// A `kind = "external"` service: a third party's latency, with no
    /// queue of ours (infinite servers), an optional concurrency limit, and
    /// an error probability.
    fn external(
        &mut self,
        service: &RawService<'_, '_>,
        id: StationId,
        n_classes: usize,
    ) -> Option<Station> {
        let table = service.table;
        let name = &service.name;
        self.check_keys(table, &EXTERNAL_KEYS, &format!("[services.{name}]"));
        let latency = match table.get("latency") {
            Some(v) => self.dist(v, "`latency`"),
            None => {
                self.error(
                    format!("external service `{name}` has no `latency`"),
                    service.key_span.clone(),
                )
                .help = Some("how long it takes to answer, such as latency = \"lognormal(p50=80ms, p99=400ms)\"".into());
                None
            }
        };
        let concurrency = match table.get("concurrency") {
            Some(v) => self
                .integer(v, "`concurrency`", 1)
                .and_then(|n| u32::try_from(n).ok())
                .map(Some),
            None => Some(None),
        };
        let error = match table.get("error") {
            Some(v) => self.probability(v, "the error probability"),
            None => Some(0.0),
        };
        let latency = latency?;
        Some(Station {
            admission: concurrency?.map(|slots| Admission::new(slots, id)),
            error: error?,
            ..Station::new(
                name.clone(),
                INFINITE_SERVERS,
                Discipline::Fifo,
                vec![
                    Some(Behaviour {
                        work: latency,
                        routing: Routing::exit(),
                    });
                    n_classes
                ],
            )
        })
    }

    /// A `kind = "load_balancer"` service: `policy` and `targets`.
    /// Returns its own station, and for a layer 7 balancer the station
    /// that dispatches after its CPU, with the profile it runs on.
    fn balancer(
        &mut self,
        service: &RawService<'_, '_>,
        services: &[RawService<'_, '_>],
        n_classes: usize,
        profiles: Option<&BTreeMap<String, Profile>>,
    ) -> Option<(Station, Option<(Station, Profile)>)> {
        let table = service.table;
        let name = &service.name;
        self.check_keys(table, &BALANCER_KEYS, &format!("[services.{name}]"));
        let policy = match table.get("policy") {
            Some(v) => self.word(v, "policy", &POLICIES).map(|w| match w {
                "random" => Policy::Random,
                "least_connections" => Policy::LeastConnections,
                "power_of_two" => Policy::PowerOfTwo,
                "sticky" => Policy::Sticky,
                "consistent_hash" => Policy::ConsistentHash,
                _ => Policy::RoundRobin,
            }),
            None => Some(Policy::RoundRobin),
        };
        let sessions = match table.get("sessions") {
            Some(v) => self.sessions(v).map(Some),
            None => Some(None),
        };
        if let (Some(p), Some(None)) = (policy, sessions)
            && matches!(p, Policy::Sticky | Policy::ConsistentHash)
        {
            let v = table.get("policy").expect("a policy was given");
            self.error(
                "this policy routes by session: give the balancer its `sessions`",
                v.span(),
            )
            .help = Some("such as sessions = { count = 10000, zipf = 1.0 } (zipf = 0: all sessions equally active)".into());
            return None;
        }
        // Layer 7 (HTTP) balancers parse requests: CPU on their own machine.
        let l7 = match table.get("layer") {
            None => Some(None),
            Some(v) => match self.integer(v, "`layer`", 4) {
                Some(4) => Some(None),
                Some(7) => {
                    let profile = match (table.get("profile"), profiles) {
                        (Some(p), Some(all)) => {
                            let text = self.string(p, "`profile`")?;
                            match all.get(text) {
                                Some(p) => Some(p.clone()),
                                None => {
                                    self.error(format!("unknown profile `{text}`"), p.span())
                                        .help =
                                        Some("`chokepoint profiles` lists the catalog".into());
                                    None
                                }
                            }
                        }
                        (None, _) => {
                            self.error(
                                "a layer 7 balancer needs the `profile` it runs on",
                                v.span(),
                            )
                            .help = Some("such as profile = \"c-xlarge\"".into());
                            None
                        }
                        (Some(_), None) => None,
                    };
                    let cpu = match table.get("cpu") {
                        Some(c) => self.dist(c, "`cpu`"),
                        None => {
                            self.error(
                                "a layer 7 balancer needs its `cpu` per request",
                                v.span(),
                            )
                            .help = Some("such as cpu = \"exp(50us)\"".into());
                            None
                        }
                    };
                    match (profile, cpu) {
                        (Some(p), Some(c)) => Some(Some((p, c))),
                        _ => None,
                    }
                }
                Some(n) => {
                    self.error(format!("`layer` is 4 or 7, found {n}"), v.span());
                    None
                }
                None => None,
            },
        };
        if l7.as_ref().is_some_and(Option::is_none) {
            for key in ["profile", "cpu"] {
                if let Some(v) = table.get(key) {
                    self.error(
                        format!("`{key}` applies to a layer 7 balancer (layer = 7)"),
                        v.span(),
                    );
                }
            }
        }
        let targets = match table.get("targets") {
            Some(v) => match v.get_ref() {
                DeValue::String(_) => self.service_ref(v, "`targets`", services).map(|t| vec![t]),
                DeValue::Array(items) if !items.is_empty() => items
                    .iter()
                    .map(|item| self.service_ref(item, "`targets`", services))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .collect::<Option<Vec<_>>>(),
                _ => {
                    self.type_error(
                        v,
                        "`targets`",
                        "a service name or a non-empty array of them",
                    );
                    None
                }
            },
            None => {
                self.error(format!("load balancer `{name}` has no `targets`"), service.key_span.clone())
                    .help = Some("name the services it spreads requests over, such as targets = [\"api1\", \"api2\"]".into());
                None
            }
        };
        let mut dispatch = Dispatch::new(policy?, targets?);
        dispatch.sessions = sessions?;
        let balancer = Station::balancer(name.clone(), dispatch, n_classes);
        Some(match l7? {
            None => (balancer, None),
            Some((profile, cpu)) => {
                // Its own station is its CPU; the choice is made after it.
                let work = cpu.scaled(1.0 / profile.cpu_speed).ok()?;
                let station = Station::new(
                    name.clone(),
                    profile.cores,
                    Discipline::Ps,
                    vec![
                        Some(Behaviour {
                            work,
                            routing: Routing::exit(),
                        });
                        n_classes
                    ],
                );
                let dispatch = Station {
                    name: format!("{name}.dispatch"),
                    ..balancer
                };
                (station, Some((dispatch, profile)))
            }
        })
    }

    /// A balancer's `sessions = { count = N, zipf = s }`.
    fn sessions(&mut self, v: &Value<'_>) -> Option<Sessions> {
        let t = self.table(v, "`sessions`")?;
        self.check_keys(t, &SESSION_KEYS, "`sessions`");
        let count = match t.get("count") {
            Some(c) => self.integer(c, "`sessions.count`", 1).and_then(|n| {
                if n > MAX_SESSIONS {
                    self.error(format!("at most {MAX_SESSIONS} sessions"), c.span());
                    None
                } else {
                    u32::try_from(n).ok()
                }
            }),
            None => {
                self.error("`sessions` needs its `count`", v.span());
                None
            }
        };
        let zipf = match t.get("zipf") {
            Some(z) => self.number(z, "`sessions.zipf`").and_then(|x| {
                if x >= 0.0 {
                    Some(x)
                } else {
                    self.error(format!("`zipf` cannot be negative, found {x}"), z.span());
                    None
                }
            }),
            None => Some(0.0),
        };
        Some(Sessions {
            count: count?,
            zipf: zipf?,
        })
    }

    /// A service's `down = [{ replica = 1, from = "20s", to = "40s" }]`:
    /// windows when balancers send it nothing. `replicas`: how many it has
    /// (`None` for a plain station, which has no `replica` key).
    pub(crate) fn downtimes(
        &mut self,
        v: &Value<'_>,
        replicas: Option<u32>,
    ) -> Option<Vec<(u32, SimTime, SimTime)>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.type_error(
                v,
                "`down`",
                "an array such as [{ from = \"20s\", to = \"40s\" }]",
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for item in items.iter() {
            let Some(t) = self.table(item, "an entry of `down`") else {
                ok = false;
                continue;
            };
            self.check_keys(t, &DOWN_KEYS, "`down`");
            let replica = match (t.get("replica"), replicas) {
                (Some(r), Some(n)) => self.integer(r, "`replica`", 0).and_then(|i| {
                    if i < i64::from(n) {
                        u32::try_from(i).ok()
                    } else {
                        self.error(
                            format!(
                                "replica {i} does not exist: they are numbered 0 to {}",
                                n - 1
                            ),
                            r.span(),
                        );
                        None
                    }
                }),
                (Some(r), None) => {
                    self.error("`replica` applies to services with replicas", r.span());
                    None
                }
                (None, Some(n)) if n > 1 => {
                    self.error(
                        "which replica is down? give its `replica` number (from 0)",
                        item.span(),
                    );
                    None
                }
                (None, _) => Some(0),
            };
            let from = t
                .get("from")
                .map_or(Some(0.0), |f| self.duration(f, "`from`"));
            let to = match t.get("to") {
                Some(x) => self.duration(x, "`to`"),
                None => {
                    self.error("a downtime needs its end, `to`", item.span());
                    None
                }
            };
            match (replica, from, to) {
                (Some(r), Some(a), Some(b)) if a < b => {
                    out.push((r, SimTime::from_secs_f64(a), SimTime::from_secs_f64(b)));
                }
                (Some(_), Some(_), Some(_)) => {
                    self.error("`to` must come after `from`", item.span());
                    ok = false;
                }
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// Checks the assembled model: reachability, loops, overload.
    fn check_model(
        &mut self,
        topology: &Topology,
        station_spans: &[Range<usize>],
        class_spans: &[Range<usize>],
    ) {
        match topology.validate() {
            Ok(()) => {}
            Err(ModelError::NoBehaviour { class, station }) => {
                let s = &topology.stations[station.idx()];
                let c = &topology.classes[class.idx()];
                self.error(
                    format!(
                        "service `{}` has no `work` for class `{}`, which reaches it",
                        s.name, c.name
                    ),
                    station_spans[station.idx()].clone(),
                )
                .help = Some(format!(
                    "add work = \"exp(4ms)\" (say) to [services.{0}], or to [services.{0}.on.{1}]",
                    s.name, c.name
                ));
                return;
            }
            Err(ModelError::ClosedLossWithoutThink(class)) => {
                let c = &topology.classes[class.idx()];
                self.error(
                    format!("closed class `{}` has no think time but can be turned away (by a station's `capacity`, a queue's `capacity` or a balancer whose targets are `down`)", c.name),
                    class_spans[class.idx()].clone(),
                )
                .help = Some("a dropped user retries after thinking: give it a think time, such as think = \"exp(1s)\"".into());
                return;
            }
            Err(ModelError::CallCycle(station)) => {
                let s = &topology.stations[station.idx()];
                let caller = s
                    .name
                    .rsplit_once(".call")
                    .map_or(s.name.as_str(), |(c, _)| c);
                let caller = caller.split_once('[').map_or(caller, |(c, _)| c);
                self.error(
                    format!("service `{caller}` makes a call that leads back to `{caller}` itself: calls must not form a cycle"),
                    station_spans[station.idx()].clone(),
                )
                .help = Some("a caller waits for its callee, so a cycle would never end; follow the `calls` (and the callees' `next`) from this service".into());
                return;
            }
            Err(ModelError::BalancerCycle(station)) => {
                let s = &topology.stations[station.idx()];
                self.error(
                    format!("load balancer `{}` only sends requests to load balancers that send them back", s.name),
                    station_spans[station.idx()].clone(),
                )
                .help = Some("one of the targets must lead to a station".into());
                return;
            }
            Err(e) => {
                self.diags
                    .push(Diagnostic::error(format!("invalid model: {e}"), None));
                return;
            }
        }
        let visits = analysis::visit_ratios(topology);
        for (ci, v) in visits.iter().enumerate() {
            if v.is_none() {
                let c = &topology.classes[ci];
                self.error(
                    format!("requests of class `{}` can never leave: their routing loops with probability 1", c.name),
                    class_spans[ci].clone(),
                )
                .help = Some("make the `next` probabilities of some service on the loop sum below 1".into());
            }
        }
        // Stripes of a lock (`name[k]`) are alike: one warning for them all.
        let mut warned: Vec<&str> = Vec::new();
        for (si, rho) in analysis::offered_load(topology).into_iter().enumerate() {
            if rho >= 1.0 {
                let s = &topology.stations[si];
                let name = match s.name.strip_suffix(']').and_then(|n| n.rsplit_once('[')) {
                    Some((lock, k))
                        if k.bytes().all(|b| b.is_ascii_digit()) && lock.contains(".lock.") =>
                    {
                        if warned.contains(&lock) {
                            continue;
                        }
                        warned.push(lock);
                        format!("lock `{lock}` (each of its stripes)")
                    }
                    _ => format!("service `{}`", s.name),
                };
                let outcome = if s.queue().is_some_and(|q| q.capacity.is_some()) {
                    "it will drop the excess at its capacity"
                } else {
                    "its queue will grow without bound and the results depend on the duration"
                };
                self.diags.push(
                    Diagnostic::warning(
                        format!(
                            "{name} is overloaded: offered load ρ = {rho:.3} with {} server(s); {outcome}",
                            s.servers()
                        ),
                        Some(station_spans[si].clone()),
                    )
                    .with_label(format!("ρ = {rho:.3}"))
                    .with_help("add servers, shorten the work, or lower the arrival rate so that ρ < 1"),
                );
            }
        }
    }
}
