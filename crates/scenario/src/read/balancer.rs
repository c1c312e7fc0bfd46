//! Services that are one station: a `load_balancer` (layer 4, or layer 7
//! with its own CPU), a `queue` in front of a worker, an `external`
//! dependency; and the `down` windows any service may have.

use std::collections::BTreeMap;
use std::ops::Range;

use chokepoint_core::dist::Dist;
use chokepoint_core::model::{Outlier, Policy, Sessions};
use chokepoint_core::time::SimTime;
use toml::de::{DeTable, DeValue};

use super::{Down, MAX_COUNT, Name, Value, Walker};
use crate::profiles::Profile;

pub(crate) const EXTERNAL_KEYS: [&str; 8] = [
    "codel",
    "adaptive_lifo",
    "kind",
    "latency",
    "concurrency",
    "error",
    "down",
    "rate_limit",
];
pub(crate) const QUEUE_KEYS: [&str; 4] = ["kind", "capacity", "codel", "adaptive_lifo"];
pub(crate) const BALANCER_KEYS: [&str; 9] = [
    "outlier_ejection",
    "rate_limit",
    "kind",
    "policy",
    "targets",
    "sessions",
    "layer",
    "profile",
    "cpu",
];
pub(crate) const POLICIES: [&str; 6] = [
    "round_robin",
    "random",
    "least_connections",
    "power_of_two",
    "sticky",
    "consistent_hash",
];
pub(crate) const SESSION_KEYS: [&str; 2] = ["count", "zipf"];
pub(crate) const DOWN_KEYS: [&str; 3] = ["replica", "from", "to"];
/// Sessions a balancer tracks at most (a sticky table holds one entry each).
const MAX_SESSIONS: u32 = 10_000_000;

/// A balancer's keys as read.
pub(crate) struct BalancerDef {
    pub(crate) policy: Policy,
    pub(crate) targets: Vec<Name>,
    pub(crate) sessions: Option<Sessions>,
    /// A layer 7 balancer: its CPU work per request (at its machine's
    /// speed) and the machine.
    pub(crate) l7: Option<(Dist, Profile)>,
    /// Its outlier ejection.
    pub(crate) outlier: Option<Outlier>,
}

pub(crate) const OUTLIER_KEYS: [&str; 3] = ["consecutive_errors", "base", "max_percent"];

/// A queue's keys as read.
pub(crate) struct QueueDef {
    /// Most messages waiting.
    pub(crate) capacity: Option<u32>,
}

/// An external dependency's keys as read.
pub(crate) struct ExternalDef {
    pub(crate) latency: Dist,
    pub(crate) concurrency: Option<u32>,
    pub(crate) error: f64,
    pub(crate) down: Vec<Down>,
}

impl Walker<'_> {
    /// A `kind = "queue"` service: a buffer of messages in front of the
    /// worker that consumes it (whose consumers are its targets and slots).
    pub(super) fn queue(&mut self, name: &str, table: &DeTable<'_>) -> Option<QueueDef> {
        self.check_keys(table, &QUEUE_KEYS, &format!("[services.{name}]"));
        let limit = match table.get("capacity") {
            Some(v) => self.count(v, "`capacity`", 1, MAX_COUNT).map(Some),
            None => Some(None),
        };
        Some(QueueDef { capacity: limit? })
    }

    /// A `kind = "external"` service: a third party's latency, with no
    /// queue of ours (infinite servers), an optional concurrency limit, and
    /// an error probability.
    pub(super) fn external(
        &mut self,
        name: &str,
        key_span: &Range<usize>,
        table: &DeTable<'_>,
    ) -> Option<ExternalDef> {
        self.check_keys(table, &EXTERNAL_KEYS, &format!("[services.{name}]"));
        let latency = match table.get("latency") {
            Some(v) => self.dist(v, "`latency`"),
            None => {
                self.error(
                    format!("external service `{name}` has no `latency`"),
                    key_span.clone(),
                )
                .help = Some("how long it takes to answer, such as latency = \"lognormal(p50=80ms, p99=400ms)\"".into());
                None
            }
        };
        let concurrency = match table.get("concurrency") {
            Some(v) => self.count(v, "`concurrency`", 1, MAX_COUNT).map(Some),
            None => Some(None),
        };
        let error = match table.get("error") {
            Some(v) => self.probability(v, "the error probability"),
            None => Some(0.0),
        };
        let down = match table.get("down") {
            Some(v) => self.downtimes(v, None),
            None => Some(Vec::new()),
        };
        Some(ExternalDef {
            latency: latency?,
            concurrency: concurrency?,
            error: error?,
            down: down?,
        })
    }

    /// A `kind = "load_balancer"` service: `policy` and `targets`.
    /// Returns its own station, and for a layer 7 balancer the station
    /// that dispatches after its CPU, with the profile it runs on.
    pub(super) fn balancer(
        &mut self,
        name: &str,
        key_span: &Range<usize>,
        table: &DeTable<'_>,
        profiles: Option<&BTreeMap<String, Profile>>,
    ) -> Option<BalancerDef> {
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
                DeValue::String(_) => self.name(v, "`targets`").map(|t| vec![t]),
                DeValue::Array(items) if !items.is_empty() => items
                    .iter()
                    .map(|item| self.name(item, "`targets`"))
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
                self.error(format!("load balancer `{name}` has no `targets`"), key_span.clone())
                    .help = Some("name the services it spreads requests over, such as targets = [\"api1\", \"api2\"]".into());
                None
            }
        };
        let l7 = match l7? {
            None => None,
            // Its own station is its CPU; the choice is made after it.
            Some((profile, cpu)) => Some((cpu.scaled(1.0 / profile.cpu_speed).ok()?, profile)),
        };
        let outlier = match table.get("outlier_ejection") {
            None => Some(None),
            Some(v) => self.outlier(v).map(Some),
        };
        Some(BalancerDef {
            policy: policy?,
            targets: targets?,
            sessions: sessions?,
            l7,
            outlier: outlier?,
        })
    }

    /// `outlier_ejection = { consecutive_errors = 5, base = "30s",
    /// max_percent = 50 }`: Envoy's defaults for what is left out.
    fn outlier(&mut self, v: &Value<'_>) -> Option<Outlier> {
        let t = self.table(v, "`outlier_ejection`")?;
        self.check_keys(t, &OUTLIER_KEYS, "`outlier_ejection`");
        let consecutive = match t.get("consecutive_errors") {
            None => Some(5),
            Some(c) => self.count(c, "`outlier_ejection.consecutive_errors`", 1, 1_000_000),
        };
        let base = match t.get("base") {
            None => Some(30e9),
            Some(b) => self.duration(b, "`outlier_ejection.base`").and_then(|s| {
                if s > 0.0 {
                    Some(s * 1e9)
                } else {
                    self.error("`outlier_ejection.base` must be positive", b.span());
                    None
                }
            }),
        };
        let max_percent = match t.get("max_percent") {
            None => Some(10.0),
            Some(p) => self.number(p, "`outlier_ejection.max_percent`").and_then(|x| {
                if x > 0.0 && x <= 100.0 {
                    Some(x)
                } else {
                    self.error(
                        format!("`outlier_ejection.max_percent` must be in (0, 100], found {x}"),
                        p.span(),
                    )
                    .help = Some("the most targets ejected at once, as a percentage (one at least is always allowed)".into());
                    None
                }
            }),
        };
        Some(Outlier {
            consecutive: consecutive?,
            base: base?,
            max_percent: max_percent?,
        })
    }

    /// A balancer's `sessions = { count = N, zipf = s }`.
    fn sessions(&mut self, v: &Value<'_>) -> Option<Sessions> {
        let t = self.table(v, "`sessions`")?;
        self.check_keys(t, &SESSION_KEYS, "`sessions`");
        let count = match t.get("count") {
            Some(c) => self.count(c, "`sessions.count`", 1, MAX_SESSIONS),
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
}
