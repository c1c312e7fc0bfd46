//! How callers defend themselves: a call's `timeout` (and what is
//! `cancel`led when it passes), a class's `deadline`, and retry policies,
//! inline on a call (`retry = { attempts = 3, ... }`) or named in
//! `[retry_policies.NAME]` and shared (`retry = "NAME"`).

use chokepoint_core::dist::Dist;
use chokepoint_core::model::{
    Backoff, Breaker, Budget, Cancel, Codel, Hedge, HedgeDelay, Jitter, RateLimit, Retry, Shedding,
    Timeout,
};
use toml::de::{DeTable, DeValue};

use super::{Value, Walker};
use crate::layout::ServiceKind;
use crate::units::parse_duration;

pub(crate) const RETRY_KEYS: [&str; 4] = ["attempts", "backoff", "on", "budget"];
pub(crate) const BACKOFF_KEYS: [&str; 3] = ["base", "cap", "jitter"];
pub(crate) const BUDGET_KEYS: [&str; 4] = ["percent", "min_concurrency", "tokens", "ratio"];
pub(crate) const CANCELS: [&str; 3] = ["never", "at_dequeue", "preempt"];
pub(crate) const JITTERS: [&str; 4] = ["none", "full", "equal", "decorrelated"];
pub(crate) const RETRY_ON: [&str; 2] = ["timeout", "error"];
pub(crate) const HEDGE_KEYS: [&str; 2] = ["after", "max"];
pub(crate) const LIMIT_KEYS: [&str; 3] = ["rate", "burst", "mode"];
pub(crate) const CODEL_KEYS: [&str; 2] = ["target", "interval"];
pub(crate) const BREAKER_KEYS: [&str; 7] = [
    "window",
    "min_calls",
    "failure_rate",
    "slow_call",
    "slow_rate",
    "open_for",
    "half_open_calls",
];
/// Outcomes a breaker keeps at most.
const MAX_WINDOW: u32 = 100_000;
pub(crate) const LIMIT_MODES: [&str; 2] = ["reject", "delay"];

/// Extra copies of one attempt at most.
const MAX_HEDGES: u32 = 10;

/// Attempts of one call at most: past a few, retries only add load.
const MAX_ATTEMPTS: u32 = 100;

/// The default backoff: 10 ms doubling up to 1 s, with full jitter (the
/// spread that AWS's study of backoffs found to finish soonest).
const DEFAULT_BACKOFF: Backoff = Backoff {
    base: 10e6,
    cap: 1e9,
    jitter: Jitter::Full,
};

impl Walker<'_> {
    /// A duration (`"200ms"`, constant) or a distribution (`"exp(1s)"`),
    /// positive.
    pub(crate) fn duration_or_dist(&mut self, v: &Value<'_>, what: &str) -> Option<Dist> {
        if let DeValue::Integer(_) | DeValue::Float(_) = v.get_ref() {
            return self.duration(v, what).and(None);
        }
        if let DeValue::String(s) = v.get_ref()
            && s.trim_start().starts_with('-')
        {
            self.error(format!("{what} must be positive, found {s}"), v.span())
                .help =
                Some("a duration such as \"200ms\", or a distribution such as \"exp(2s)\"".into());
            return None;
        }
        if let DeValue::String(s) = v.get_ref()
            && let Ok(secs) = parse_duration(s)
        {
            if secs <= 0.0 {
                self.error(format!("{what} must be positive, found {s}"), v.span());
                return None;
            }
            return match Dist::constant(secs * 1e9) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.error(format!("{what}: {e}"), v.span());
                    None
                }
            };
        }
        self.dist(v, what)
    }

    /// A `timeout` (on a call) or `deadline` (on a class) and the `cancel`
    /// beside it in `table`: `None` when absent, `Some(None)` on an error.
    pub(crate) fn timeout(
        &mut self,
        table: &DeTable<'_>,
        key: &'static str,
    ) -> Option<Option<Timeout>> {
        let cancel = table.get("cancel");
        let Some(v) = table.get(key) else {
            if let Some(c) = cancel {
                self.error(format!("`cancel` needs a `{key}`"), c.span())
                    .help = Some(format!(
                    "`cancel` says what becomes of the work once the {key} passes, such as {key} = \"200ms\""
                ));
                return Some(None);
            }
            return None;
        };
        let after = self.duration_or_dist(v, &format!("`{key}`"));
        let cancel = match cancel {
            None => Some(Cancel::Never),
            Some(c) => self.word(c, "`cancel`", &CANCELS).map(|w| match w {
                "at_dequeue" => Cancel::AtDequeue,
                "preempt" => Cancel::Preempt,
                _ => Cancel::Never,
            }),
        };
        Some(
            after
                .zip(cancel)
                .map(|(after, cancel)| Timeout { after, cancel }),
        )
    }

    /// A `retry`: a policy's name, or the policy itself.
    pub(crate) fn retry(&mut self, v: &Value<'_>) -> Option<Retry> {
        if let DeValue::String(name) = v.get_ref() {
            let name: &str = name.as_ref();
            return match self.read.retry_policies.get(name) {
                Some(policy) => policy.clone(),
                None => {
                    let known: Vec<&str> = self
                        .read
                        .retry_policies
                        .keys()
                        .map(String::as_str)
                        .collect();
                    let help = match crate::diagnostic::did_you_mean(name, known.iter().copied())
                    {
                        Some(s) => format!("did you mean `{s}`?"),
                        None if known.is_empty() => "declare it, such as [retry_policies.NAME] with attempts = 3, or write the policy here: retry = { attempts = 3 }".into(),
                        None => format!("the retry policies are: {}", known.join(", ")),
                    };
                    self.error(format!("no retry policy `{name}`"), v.span())
                        .help = Some(help);
                    None
                }
            };
        }
        let t = self.table(v, "`retry`")?;
        self.retry_policy(t, v, "`retry`")
    }

    /// `hedge = { after = "30ms", max = 1 }`, or `after = "p95"`: a quantile
    /// of the call's own latencies.
    pub(crate) fn hedge(&mut self, v: &Value<'_>) -> Option<Hedge> {
        let t = self.table(v, "`hedge`")?;
        self.check_keys(t, &HEDGE_KEYS, "`hedge`");
        let example =
            "such as hedge = { after = \"30ms\" } or hedge = { after = \"p95\", max = 1 }";
        let after = match t.get("after") {
            None => {
                self.error(
                    "`hedge` needs `after`: how long before another copy",
                    v.span(),
                )
                .help = Some(example.into());
                None
            }
            Some(a) => match a.get_ref() {
                DeValue::String(s) if s.starts_with('p') => {
                    let q = s[1..]
                        .parse::<f64>()
                        .ok()
                        .filter(|q| *q > 0.0 && *q < 100.0);
                    match q {
                        Some(q) => Some(HedgeDelay::Quantile(q / 100.0)),
                        None => {
                            self.error(
                                format!("`hedge.after`: `{s}` is not a percentile such as \"p95\""),
                                a.span(),
                            )
                            .help = Some("a percentile of the call's latencies, above p0 and below p100, or a duration such as \"30ms\"".into());
                            None
                        }
                    }
                }
                _ => match self.duration(a, "`hedge.after`") {
                    Some(d) if d >= 0.0 => Some(HedgeDelay::Fixed(d * 1e9)),
                    Some(d) => {
                        self.error(
                            format!("`hedge.after` must not be negative, found {d} s"),
                            a.span(),
                        );
                        None
                    }
                    None => None,
                },
            },
        };
        let max = match t.get("max") {
            None => Some(1),
            Some(m) => self.count(m, "`hedge.max`", 1, MAX_HEDGES),
        };
        Some(Hedge {
            after: after?,
            max: max?,
        })
    }

    /// `rate_limit = { rate = "100/s", burst = 20, mode = "reject" }`: a
    /// token bucket; `burst` defaults to a second's worth of tokens.
    pub(crate) fn rate_limit(&mut self, v: &Value<'_>) -> Option<RateLimit> {
        let t = self.table(v, "`rate_limit`")?;
        self.check_keys(t, &LIMIT_KEYS, "`rate_limit`");
        let rate = match t.get("rate") {
            Some(r) => self.rate(r, "`rate_limit.rate`"),
            None => {
                self.error("`rate_limit` needs a `rate`", v.span()).help =
                    Some("such as rate_limit = { rate = \"100/s\", burst = 20 }".into());
                None
            }
        };
        let burst = match t.get("burst") {
            Some(b) => self.count(b, "`rate_limit.burst`", 1, crate::read::MAX_COUNT),
            None => rate.map(|r| r.ceil().clamp(1.0, f64::from(crate::read::MAX_COUNT)) as u32),
        };
        let delay = match t.get("mode") {
            None => Some(false),
            Some(m) => self
                .word(m, "`rate_limit.mode`", &LIMIT_MODES)
                .map(|w| w == "delay"),
        };
        Some(RateLimit {
            rate: rate?,
            burst: burst?,
            delay: delay?,
        })
    }

    /// `breaker = { window = 20, failure_rate = 50, open_for = "5s", ... }`.
    pub(crate) fn breaker(&mut self, v: &Value<'_>) -> Option<Breaker> {
        let t = self.table(v, "`breaker`")?;
        self.check_keys(t, &BREAKER_KEYS, "`breaker`");
        let example = "such as breaker = { window = 20, failure_rate = 50, open_for = \"5s\" }";
        let window = match t.get("window") {
            Some(w) => self.count(w, "`breaker.window`", 1, MAX_WINDOW),
            None => {
                self.error(
                    "`breaker` needs a `window`: how many recent calls it judges",
                    v.span(),
                )
                .help = Some(example.into());
                None
            }
        };
        let open_for = match t.get("open_for") {
            Some(o) => match self.duration(o, "`breaker.open_for`") {
                Some(d) if d > 0.0 => Some((d * 1e9).round() as u64),
                Some(_) => {
                    self.error("`breaker.open_for` must be positive", o.span());
                    None
                }
                None => None,
            },
            None => {
                self.error(
                    "`breaker` needs `open_for`: how long it refuses calls once open",
                    v.span(),
                )
                .help = Some(example.into());
                None
            }
        };
        let mut percent = |key: &str, default: f64| match t.get(key) {
            None => Some(default),
            Some(p) => self.number(p, &format!("`breaker.{key}`")).and_then(|x| {
                if x > 0.0 && x <= 100.0 {
                    Some(x / 100.0)
                } else {
                    self.error(
                        format!(
                            "`breaker.{key}` is a percentage above 0 and at most 100, found {x}"
                        ),
                        p.span(),
                    );
                    None
                }
            }),
        };
        let failure_rate = percent("failure_rate", 0.5);
        let slow_rate = percent("slow_rate", 1.0);
        let slow_call = match t.get("slow_call") {
            None => Some(None),
            Some(s) => match self.duration(s, "`breaker.slow_call`") {
                Some(d) if d > 0.0 => Some(Some(d * 1e9)),
                Some(_) => {
                    self.error("`breaker.slow_call` must be positive", s.span());
                    None
                }
                None => None,
            },
        };
        let min_calls = match t.get("min_calls") {
            None => window,
            Some(m) => self
                .count(m, "`breaker.min_calls`", 1, MAX_WINDOW)
                .and_then(|m| match window {
                    Some(w) if m > w => {
                        self.error(
                            format!("`breaker.min_calls` is {m}, more than its window of {w}"),
                            t.get("min_calls").map_or(v.span(), |m| m.span()),
                        );
                        None
                    }
                    _ => Some(m),
                }),
        };
        let half_open_calls = match t.get("half_open_calls") {
            None => Some(1),
            Some(h) => self.count(h, "`breaker.half_open_calls`", 1, MAX_WINDOW),
        };
        Some(Breaker {
            window: window?,
            min_calls: min_calls?,
            failure_rate: failure_rate?,
            slow_call: slow_call?,
            slow_rate: slow_rate?,
            open_for: open_for?,
            half_open_calls: half_open_calls?,
        })
    }

    /// A service's load shedding: `codel = { target = "5ms", interval =
    /// "100ms" }` and `adaptive_lifo = 50`; `None` without either (or on an
    /// error, reported). A plain station must queue FIFO.
    pub(crate) fn shedding(&mut self, t: &DeTable<'_>, kind: ServiceKind) -> Option<Shedding> {
        let codel = t.get("codel");
        let lifo = t.get("adaptive_lifo");
        if codel.is_none() && lifo.is_none() {
            return None;
        }
        // A line must exist: requests waiting for a worker, a connection,
        // a slot of an external's concurrency.
        let line = match kind {
            ServiceKind::Api | ServiceKind::Database => {
                t.get("workers").is_some() || t.get("pool").is_some()
            }
            ServiceKind::External => t.get("concurrency").is_some(),
            _ => true,
        };
        if !line {
            let at = codel.or(lifo).expect("one of them").span();
            let needs = match kind {
                ServiceKind::External => "`concurrency`",
                ServiceKind::Database => "`workers` or a `pool`",
                _ => "`workers`",
            };
            self.error(
                format!("`codel` and `adaptive_lifo` shed a line of waiting requests, and this service has none: give it {needs}"),
                at,
            )
            .help = Some(
                "without a limit on requests in progress, they all share the CPU at once and none waits in a line".into(),
            );
            return None;
        }
        if let Some(d) = t.get("discipline")
            && d.get_ref().as_str().is_some_and(|d| d != "fifo")
            && t.get("calls").is_none()
        {
            let at = codel.or(lifo).expect("one of them").span();
            self.error(
                "`codel` and `adaptive_lifo` shed a FIFO queue (or a pool of workers)",
                at,
            )
            .help = Some("drop `discipline`, or set it to \"fifo\"".into());
            return None;
        }
        let codel = match codel {
            None => Some(None),
            Some(v) => self.table(v, "`codel`").and_then(|c| {
                self.check_keys(c, &CODEL_KEYS, "`codel`");
                let mut duration = |key: &str| match c.get(key) {
                    Some(d) => self.duration(d, &format!("`codel.{key}`")).and_then(|x| {
                        if x > 0.0 {
                            Some(x * 1e9)
                        } else {
                            self.error(format!("`codel.{key}` must be positive"), d.span());
                            None
                        }
                    }),
                    None => {
                        self.error(format!("`codel` needs `{key}`"), v.span()).help = Some(
                            "such as codel = { target = \"5ms\", interval = \"100ms\" }".into(),
                        );
                        None
                    }
                };
                let target = duration("target");
                let interval = duration("interval");
                Some(Some(Codel {
                    target: target?,
                    interval: interval?,
                }))
            }),
        };
        let lifo_above = match lifo {
            None => Some(None),
            Some(v) => self
                .count(v, "`adaptive_lifo`", 0, crate::read::MAX_COUNT)
                .map(Some),
        };
        Some(Shedding {
            codel: codel?,
            lifo_above: lifo_above?,
        })
    }

    /// `[retry_policies.NAME]`, each read once, before the services that
    /// name them.
    pub(crate) fn retry_policies(&mut self, doc: &DeTable<'_>) {
        let Some(v) = doc.get("retry_policies") else {
            return;
        };
        let Some(t) = self.table(v, "`retry_policies`") else {
            return;
        };
        for (key, value) in t.iter() {
            let name = key.get_ref().to_string();
            let context = format!("[retry_policies.{name}]");
            let policy = self
                .table(value, &context)
                .and_then(|p| self.retry_policy(p, value, &context));
            self.read.retry_policies.insert(name, policy);
        }
    }

    fn retry_policy(&mut self, t: &DeTable<'_>, v: &Value<'_>, context: &str) -> Option<Retry> {
        self.check_keys(t, &RETRY_KEYS, context);
        let attempts = match t.get("attempts") {
            Some(a) => {
                let n = self.count(a, "`attempts`", 1, MAX_ATTEMPTS);
                if n.is_none()
                    && let Some(d) = self.diags.last_mut()
                {
                    d.help = Some(
                        "attempts in all, the first included: 1 makes no retry, 3 makes up to two"
                            .into(),
                    );
                }
                n
            }
            None => {
                self.error(format!("{context} needs `attempts`"), v.span())
                    .help = Some(
                    "attempts in all, the first included, such as attempts = 3 (two retries)"
                        .into(),
                );
                None
            }
        };
        let backoff = match t.get("backoff") {
            None => Some(DEFAULT_BACKOFF),
            Some(b) => self.backoff(b),
        };
        let on = match t.get("on") {
            None => Some((true, true)),
            Some(on) => self.retry_on(on),
        };
        let budget = match t.get("budget") {
            None => Some(None),
            Some(b) => self.budget(b).map(Some),
        };
        let (on_timeout, on_error) = on?;
        Some(Retry {
            attempts: attempts?,
            backoff: backoff?,
            on_timeout,
            on_error,
            budget: budget?,
        })
    }

    fn backoff(&mut self, v: &Value<'_>) -> Option<Backoff> {
        let t = self.table(v, "`backoff`")?;
        self.check_keys(t, &BACKOFF_KEYS, "`backoff`");
        let mut duration = |key: &str, default: f64| match t.get(key) {
            None => Some(default),
            Some(d) => match self.duration(d, &format!("`backoff.{key}`")) {
                Some(s) if s >= 0.0 => Some(s * 1e9),
                Some(_) => {
                    self.error(format!("`backoff.{key}` must not be negative"), d.span());
                    None
                }
                None => None,
            },
        };
        let base = duration("base", DEFAULT_BACKOFF.base);
        let cap = duration("cap", DEFAULT_BACKOFF.cap.max(base.unwrap_or(0.0)));
        let jitter = match t.get("jitter") {
            None => Some(DEFAULT_BACKOFF.jitter),
            Some(j) => self.word(j, "`jitter`", &JITTERS).map(|w| match w {
                "none" => Jitter::None,
                "equal" => Jitter::Equal,
                "decorrelated" => Jitter::Decorrelated,
                _ => Jitter::Full,
            }),
        };
        let (base, cap) = (base?, cap?);
        if cap < base {
            self.error("`backoff.cap` is below `backoff.base`", v.span())
                .help = Some("the cap bounds every wait: make it at least the base".into());
            return None;
        }
        Some(Backoff {
            base,
            cap,
            jitter: jitter?,
        })
    }

    /// `on = ["timeout", "error"]`: (on a timeout, on an error).
    fn retry_on(&mut self, v: &Value<'_>) -> Option<(bool, bool)> {
        let DeValue::Array(items) = v.get_ref() else {
            self.type_error(v, "`on`", "an array such as [\"timeout\", \"error\"]");
            return None;
        };
        let mut on = (false, false);
        let mut ok = true;
        for item in items.iter() {
            match self.word(item, "`on`", &RETRY_ON) {
                Some("timeout") => on.0 = true,
                Some(_) => on.1 = true,
                None => ok = false,
            }
        }
        if ok && on == (false, false) {
            self.error("`on` names nothing to retry", v.span()).help =
                Some("write on = [\"timeout\", \"error\"], or drop `retry`".into());
            return None;
        }
        ok.then_some(on)
    }

    /// `budget = { percent = 20, min_concurrency = 3 }` (Envoy's) or
    /// `budget = { tokens = 10, ratio = 0.1 }` (gRPC's).
    fn budget(&mut self, v: &Value<'_>) -> Option<Budget> {
        let t = self.table(v, "`budget`")?;
        self.check_keys(t, &BUDGET_KEYS, "`budget`");
        let example = "budget = { percent = 20, min_concurrency = 3 } (retries in progress against calls in progress) or budget = { tokens = 10, ratio = 0.1 } (a token bucket)";
        match (t.get("percent"), t.get("tokens")) {
            (Some(p), None) => {
                let percent = self.number(p, "`budget.percent`").and_then(|x| {
                    if (0.0..=100.0).contains(&x) {
                        Some(x / 100.0)
                    } else {
                        self.error(
                            format!("`budget.percent` is a percentage, from 0 to 100, found {x}"),
                            p.span(),
                        )
                        .help = Some(
                            "retries in progress at most this share of the calls in progress, such as percent = 20".into(),
                        );
                        None
                    }
                });
                let min_concurrency = match t.get("min_concurrency") {
                    None => Some(3),
                    Some(m) => self.count(m, "`budget.min_concurrency`", 0, u32::MAX),
                };
                if let Some(r) = t.get("ratio") {
                    self.error("`ratio` belongs to a token budget", r.span());
                    return None;
                }
                Some(Budget::Concurrency {
                    percent: percent?,
                    min_concurrency: min_concurrency?,
                })
            }
            (None, Some(k)) => {
                let max = self.number(k, "`budget.tokens`").and_then(|x| {
                    if x > 0.0 && x <= 1e9 {
                        Some(x)
                    } else {
                        self.error(
                            format!("`budget.tokens` must be positive (at most 10⁹), found {x}"),
                            k.span(),
                        );
                        None
                    }
                });
                let ratio = match t.get("ratio") {
                    None => Some(0.1),
                    Some(r) => self.number(r, "`budget.ratio`").and_then(|x| {
                        if x > 0.0 && x.is_finite() {
                            Some(x)
                        } else {
                            self.error(
                                format!("`budget.ratio` must be positive, found {x}"),
                                r.span(),
                            );
                            None
                        }
                    }),
                };
                if let Some(m) = t.get("min_concurrency") {
                    self.error("`min_concurrency` belongs to a percentage budget", m.span());
                    return None;
                }
                Some(Budget::Tokens {
                    max: max?,
                    ratio: ratio?,
                })
            }
            (Some(_), Some(k)) => {
                self.error(
                    "a budget is a percentage or a token bucket, not both",
                    k.span(),
                )
                .help = Some(example.into());
                None
            }
            (None, None) => {
                self.error("this budget has neither `percent` nor `tokens`", v.span())
                    .help = Some(example.into());
                None
            }
        }
    }
}
