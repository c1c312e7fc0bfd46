//! `[[faults]]`: what breaks during a run. Each entry names a `service`
//! (and optionally one `replica`, or with `to` the network from it to
//! another service), a `kind` (`crash`, `slow`, `errors`),
//! when (`at`), for how long (`for`, a duration or a distribution: the
//! time to repair) and whether it repeats (`every`: the time between
//! failures). Names are checked against the services read
//! ([`Walker::check_fault_names`]) and lowered once layouts are known
//! (`lower/faults.rs`).

use std::ops::Range;

use chokepoint_core::dist::Dist;
use toml::de::{DeTable, DeValue};

use super::{Document, Value, Walker};
use crate::diagnostic::did_you_mean;

pub(crate) const FAULT_KEYS: [&str; 10] = [
    "kind",
    "service",
    "to",
    "replica",
    "at",
    "for",
    "every",
    "detect",
    "factor",
    "probability",
];
pub(crate) const KINDS: [&str; 3] = ["crash", "slow", "errors"];

/// What a fault does, as read.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FaultKind {
    /// Down for its duration; balancers notice after `detect` ns.
    Crash { detect: f64 },
    /// Work takes `factor` times as long.
    Slow { factor: f64 },
    /// Each request fails with `probability`.
    Errors { probability: f64 },
}

/// A fault as read, its service unresolved.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FaultDef {
    pub(crate) kind: FaultKind,
    pub(crate) service: String,
    pub(crate) service_span: Range<usize>,
    /// One replica (0-based), or all of them.
    pub(crate) replica: Option<(u32, Range<usize>)>,
    /// The network from the service to this one (its calls' hops), not
    /// the service itself.
    pub(crate) to: Option<(String, Range<usize>)>,
    /// Nanoseconds.
    pub(crate) at: f64,
    /// Nanoseconds.
    pub(crate) lasts: Dist,
    /// Nanoseconds.
    pub(crate) every: Option<Dist>,
}

impl FaultDef {
    /// How the report names it: `crash api[0]`, `slow db`.
    pub(crate) fn label(&self) -> String {
        let kind = match self.kind {
            FaultKind::Crash { .. } => "crash",
            FaultKind::Slow { .. } => "slow",
            FaultKind::Errors { .. } => "errors",
        };
        let what = match &self.replica {
            Some((k, _)) => format!("{}[{k}]", self.service),
            None => self.service.clone(),
        };
        match &self.to {
            Some((to, _)) => format!("{kind} {what} -> {to}"),
            None => format!("{kind} {what}"),
        }
    }
}

impl Walker<'_> {
    /// The `[[faults]]` array, each entry `None` where it has an error.
    pub(crate) fn faults(&mut self, doc: &DeTable<'_>) -> Vec<Option<FaultDef>> {
        let Some(v) = doc.get("faults") else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.type_error(v, "`faults`", "an array of tables ([[faults]])");
            return Vec::new();
        };
        items.iter().map(|item| self.fault(item)).collect()
    }

    fn fault(&mut self, v: &Value<'_>) -> Option<FaultDef> {
        let t = self.table(v, "a fault")?;
        self.check_keys(t, &FAULT_KEYS, "[[faults]]");
        let example = match t.get("kind").map(|k| k.get_ref()) {
            Some(DeValue::String(k)) if k == "slow" => {
                "such as [[faults]] kind = \"slow\", service = \"db\", at = \"300s\", for = \"60s\", factor = 3"
            }
            Some(DeValue::String(k)) if k == "errors" => {
                "such as [[faults]] kind = \"errors\", service = \"payments\", at = \"300s\", for = \"60s\", probability = 0.5"
            }
            _ => {
                "such as [[faults]] kind = \"crash\", service = \"api\", replica = 0, at = \"300s\", for = \"60s\", detect = \"5s\""
            }
        };
        let need = |w: &mut Self, key: &str| {
            let found = t.get(key);
            if found.is_none() && !Self::misspelt(t, key) {
                w.error(format!("a fault needs `{key}`"), v.span()).help = Some(example.into());
            }
            found
        };
        let kind_word = need(self, "kind").and_then(|k| self.word(k, "fault kind", &KINDS));
        let service = need(self, "service")
            .and_then(|s| Some((self.string(s, "`service`")?.to_owned(), s.span())));
        let replica = match t.get("replica") {
            None => Some(None),
            Some(r) => self
                .integer(r, "`replica`", 0)
                .map(|n| Some((n.min(i64::from(u32::MAX)) as u32, r.span()))),
        };
        let to = match t.get("to") {
            None => Some(None),
            Some(x) if kind_word == Some("crash") => {
                self.error(
                    "a crash strikes a service or a replica, not the network between two",
                    x.span(),
                )
                .help = Some(
                    "to cut the network to a service, raise its errors: kind = \"errors\", probability = 1".into(),
                );
                None
            }
            Some(x) => self
                .string(x, "`to`")
                .map(|name| Some((name.to_owned(), x.span()))),
        };
        let at = need(self, "at").and_then(|a| self.duration(a, "`at`").map(|s| s * 1e9));
        let lasts = need(self, "for").and_then(|d| self.duration_or_dist(d, "`for`"));
        let every = match t.get("every") {
            None => Some(None),
            Some(e) => self.duration_or_dist(e, "`every`").map(Some),
        };
        // Keys that belong to other kinds are reported, not ignored.
        let only = |w: &mut Self, key: &str, kind: &str| {
            if kind_word.is_some_and(|k| k != kind)
                && let Some(x) = t.get(key)
            {
                w.error(
                    format!("`{key}` only applies to faults of kind \"{kind}\""),
                    x.span(),
                );
            }
        };
        only(self, "detect", "crash");
        only(self, "factor", "slow");
        only(self, "probability", "errors");
        let kind = match kind_word? {
            "crash" => {
                let detect = match t.get("detect") {
                    None => Some(0.0),
                    Some(d) => self.duration(d, "`detect`").map(|s| s * 1e9),
                };
                FaultKind::Crash { detect: detect? }
            }
            "slow" => {
                let factor = need(self, "factor").and_then(|f| {
                    let x = self.number(f, "`factor`")?;
                    if x > 0.0 && x.is_finite() {
                        Some(x)
                    } else {
                        self.error("`factor` must be positive", f.span()).help = Some(
                            "work takes `factor` times as long: 3 for a replica three times slower"
                                .into(),
                        );
                        None
                    }
                });
                FaultKind::Slow { factor: factor? }
            }
            _ => {
                let p =
                    need(self, "probability").and_then(|p| self.probability(p, "`probability`"));
                FaultKind::Errors { probability: p? }
            }
        };
        let (service, service_span) = service?;
        Some(FaultDef {
            kind,
            service,
            service_span,
            replica: replica?,
            to: to?,
            at: at?,
            lasts: lasts?,
            every: every?,
        })
    }

    /// Each fault names services that exist.
    pub(crate) fn check_fault_names(&mut self, doc: &Document) {
        for f in doc.faults.iter().flatten() {
            let names = std::iter::once((&f.service, &f.service_span))
                .chain(f.to.as_ref().map(|(to, span)| (to, span)));
            for (name, span) in names {
                if doc.services.iter().any(|s| &s.name == name) {
                    continue;
                }
                let d = self.error(format!("fault on unknown service `{name}`"), span.clone());
                d.help = match did_you_mean(name, doc.services.iter().map(|s| s.name.as_str())) {
                    Some(s) => Some(format!("did you mean `{s}`?")),
                    None => Some("name a service of [services]".into()),
                };
            }
        }
    }
}
