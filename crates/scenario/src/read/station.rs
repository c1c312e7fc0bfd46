//! `kind = "station"` and `kind = "cache"`: a queueing station with its
//! servers, discipline, capacity and per-class work, routes and calls; a
//! cache adds its contents, fetch and write policy.

use std::ops::Range;

use chokepoint_core::dist::Dist;
use chokepoint_core::model::Discipline;
use toml::de::DeTable;

use super::data::CACHE_KEYS;
use super::{CacheDef, CallId, Down, MAX_COUNT, RouteDef, Walker};
use crate::diagnostic::did_you_mean;

pub(crate) const STATION_KEYS: [&str; 12] = [
    "codel",
    "adaptive_lifo",
    "rate_limit",
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
/// A cache's `on.CLASS` keys.
pub(crate) const CACHE_ON_KEYS: [&str; 3] = ["work", "next", "op"];
pub(crate) const ON_KEYS: [&str; 3] = ["work", "calls", "next"];
pub(crate) const DISCIPLINES: [&str; 4] = ["fifo", "lifo", "priority", "ps"];

/// A station's (or a cache's) keys as read.
pub(crate) struct StationDef {
    pub(crate) servers: u32,
    pub(crate) discipline: Discipline,
    pub(crate) capacity: Option<u32>,
    /// Per class: its work (`None`: the class cannot visit).
    pub(crate) work: Vec<Option<chokepoint_core::dist::Dist>>,
    /// Per class: its calls (`None` where it has no work).
    pub(crate) calls: Vec<Option<Vec<CallId>>>,
    /// Per class: where it goes next.
    pub(crate) next: Vec<RouteDef>,
    pub(crate) down: Vec<Down>,
    /// For a cache: its contents, fetch and operations.
    pub(crate) cache: Option<CacheDef>,
}

/// What `[services.NAME.on.CLASS]` changes for one class.
#[derive(Default)]
struct OnClass {
    work: Option<Dist>,
    next: Option<RouteDef>,
    calls: Option<Vec<CallId>>,
}

impl Walker<'_> {
    pub(super) fn station(
        &mut self,
        name: &str,
        key_span: &Range<usize>,
        table: &DeTable<'_>,
        is_cache: bool,
        class_names: &[String],
    ) -> Option<StationDef> {
        let context = format!("[services.{name}]");
        let cache = if is_cache {
            let known: Vec<&str> = STATION_KEYS
                .iter()
                .chain(&CACHE_KEYS)
                .copied()
                .filter(|k| *k != "calls")
                .collect();
            self.check_keys(table, &known, &context);
            Some(self.cache(name, key_span, table, class_names, &context))
        } else {
            self.check_keys(table, &STATION_KEYS, &context);
            None
        };
        let servers = match table.get("servers") {
            Some(v) => self.count(v, "`servers`", 1, MAX_COUNT),
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
            Some(v) => self.count(v, "`capacity`", 1, MAX_COUNT).and_then(|n| {
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
            Some(v) => self.routing(v, &context),
            None => Some(RouteDef::default()),
        };
        let base_calls = match table.get("calls") {
            Some(v) => self.calls(v, &context),
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
                let on_keys: &[&str] = if is_cache { &CACHE_ON_KEYS } else { &ON_KEYS };
                self.check_keys(t, on_keys, &format!("{context}.on.{class}"));
                let work = t.get("work").map(|v| self.dist(v, "`work`"));
                let next = t.get("next").map(|v| self.routing(v, &context));
                let calls = t.get("calls").map(|v| self.calls(v, &context));
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
        let mut works = Vec::with_capacity(class_names.len());
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
            works.push(work);
        }
        let read = &self.read.calls;
        if let Some(entry) = calls
            .iter()
            .flatten()
            .flatten()
            .map(|c| &read[c.0])
            .find(|e| e.bytes.is_some())
        {
            let span = entry.span.clone();
            self.error(
                "`bytes` needs the caller's network bandwidth: only a service with a `profile` has one",
                span,
            )
            .help = Some("make the caller kind = \"api\" (or worker, database) with a profile, or drop `bytes`".into());
            return None;
        }
        let discipline = discipline?;
        if calls.iter().flatten().any(|list| !list.is_empty()) && discipline == Discipline::Priority
        {
            if let Some(v) = table.get("discipline") {
                self.error(
                    "`priority` is not supported on a station that makes calls",
                    v.span(),
                )
                .help = Some("its requests wait for a server (a worker held through the calls) in FIFO order".into());
            }
            return None;
        }
        Some(StationDef {
            servers: servers?,
            discipline,
            capacity: capacity?,
            work: works,
            calls,
            next,
            down: down?,
            cache: match cache {
                Some(spec) => Some(spec?),
                None => None,
            },
        })
    }
}
