//! A `calls` list (and a cache's `on_miss`): each entry calls one service
//! (`to`), several in parallel (`parallel`), or one many times in parallel
//! (`fanout`), and waits for all replies or the first `wait`. What a call
//! means also depends on its callees' kinds (a call to a queue is a send):
//! that is checked once names are resolved (`resolve.rs`).

use std::ops::Range;

use chokepoint_core::dist::Dist;
use chokepoint_core::model::{Breaker, Hedge, Retry, Timeout};
use toml::Spanned;
use toml::de::DeValue;

use super::{CallId, Name, Walker};

pub(crate) const CALL_KEYS: [&str; 13] = [
    "to", "parallel", "fanout", "wait", "p", "n", "latency", "bytes", "timeout", "cancel", "retry",
    "hedge", "breaker",
];
pub(crate) const FANOUT_KEYS: [&str; 2] = ["to", "n"];

/// Parallel calls of one `fanout` at most.
const MAX_FANOUT: u32 = 1000;
/// Repetitions of one call at most (each is a call point).
const MAX_REPEATS: u32 = 100;

/// Whom a call calls.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Targets {
    /// One service.
    To(Name),
    /// Several services at once.
    Parallel(Vec<Name>),
    /// One service, `n` times at once.
    Fanout(Name, u32),
}

impl Targets {
    /// The callee of each branch.
    pub(crate) fn branches(&self) -> Vec<&Name> {
        match self {
            Targets::To(n) => vec![n],
            Targets::Parallel(names) => names.iter().collect(),
            Targets::Fanout(n, k) => vec![n; *k as usize],
        }
    }

    /// How reports name the call: the callee, `parallel(a, b)` or
    /// `fanout(shard×16)`.
    pub(crate) fn label(&self) -> String {
        match self {
            Targets::To(n) => n.text.clone(),
            Targets::Parallel(names) => {
                let names: Vec<&str> = names.iter().map(|n| n.text.as_str()).collect();
                format!("parallel({})", names.join(", "))
            }
            Targets::Fanout(n, k) => format!("fanout({}×{k})", n.text),
        }
    }
}

/// One entry of a `calls` list, as read: each part `None` where it had an
/// error (reported), so that what can be checked of it still is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CallDef {
    pub(crate) targets: Option<Targets>,
    /// The entry gives `to` and neither `parallel` nor `fanout`.
    pub(crate) only_to: bool,
    /// Replies awaited, when given, and where.
    pub(crate) wait: Option<(Option<u32>, Range<usize>)>,
    /// Probability that the call is made.
    pub(crate) p: Option<f64>,
    /// Repetitions, one after the other.
    pub(crate) n: Option<u32>,
    /// Network time added to each call, when given, and where.
    pub(crate) latency: Option<(Option<Dist>, Range<usize>)>,
    /// Bytes sent with each call over the caller's link, when given, and where.
    pub(crate) bytes: Option<(Option<f64>, Range<usize>)>,
    /// Its timeout per attempt, when given, and where.
    pub(crate) timeout: Option<(Option<Timeout>, Range<usize>)>,
    /// Its retry policy, when given, and where.
    pub(crate) retry: Option<(Option<Retry>, Range<usize>)>,
    /// Its hedging policy, when given, and where.
    pub(crate) hedge: Option<(Option<Hedge>, Range<usize>)>,
    /// Its circuit breaker, when given, and where.
    pub(crate) breaker: Option<(Option<Breaker>, Range<usize>)>,
    /// Where the entry is written.
    pub(crate) span: Range<usize>,
}

impl CallDef {
    /// Whether every part was read without error.
    pub(crate) fn complete(&self) -> bool {
        self.targets.is_some()
            && self.p.is_some()
            && self.n.is_some()
            && self.wait.as_ref().is_none_or(|w| w.0.is_some())
            && self.latency.as_ref().is_none_or(|l| l.0.is_some())
            && self.bytes.as_ref().is_none_or(|b| b.0.is_some())
            && self.timeout.as_ref().is_none_or(|t| t.0.is_some())
            && self.retry.as_ref().is_none_or(|r| r.0.is_some())
            && self.hedge.as_ref().is_none_or(|h| h.0.is_some())
            && self.breaker.as_ref().is_none_or(|b| b.0.is_some())
    }
}

impl Walker<'_> {
    /// Reads a `calls` array.
    pub(crate) fn calls(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        context: &str,
    ) -> Option<Vec<CallId>> {
        let DeValue::Array(items) = value.get_ref() else {
            self.type_error(value, "`calls`", "an array such as [{ to = \"db\" }]");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for item in items.iter() {
            match self.call(item, context) {
                Some(c) => {
                    ok &= c.complete();
                    out.push(CallId(self.read.calls.len()));
                    self.read.calls.push(c);
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn call(&mut self, item: &Spanned<DeValue<'_>>, context: &str) -> Option<CallDef> {
        let t = self.table(item, "an entry of `calls`")?;
        self.check_keys(t, &CALL_KEYS, &format!("`calls` of {context}"));
        let bytes = t.get("bytes").map(|v| {
            let x = match self.number(v, "`bytes`") {
                Some(x) if x > 0.0 => Some(x),
                Some(x) => {
                    self.error(format!("`bytes` must be positive, found {x}"), v.span());
                    None
                }
                None => None,
            };
            (x, v.span())
        });
        let given: Vec<&str> = ["to", "parallel", "fanout"]
            .into_iter()
            .filter(|k| t.get(*k).is_some())
            .collect();
        let targets: Option<Targets> = match given.as_slice() {
            ["to"] => {
                let v = t.get("to").expect("present");
                self.name(v, "`to`").map(Targets::To)
            }
            ["parallel"] => {
                let v = t.get("parallel").expect("present");
                match v.get_ref() {
                    DeValue::Array(names) if !names.is_empty() => {
                        let names: Vec<Option<Name>> =
                            names.iter().map(|n| self.name(n, "`parallel`")).collect();
                        names
                            .into_iter()
                            .collect::<Option<Vec<_>>>()
                            .map(Targets::Parallel)
                    }
                    _ => {
                        self.type_error(
                            v,
                            "`parallel`",
                            "a non-empty array of service names, such as [\"search\", \"ads\"]",
                        );
                        None
                    }
                }
            }
            ["fanout"] => {
                let v = t.get("fanout").expect("present");
                let f = self.table(v, "`fanout`");
                if let Some(f) = f {
                    self.check_keys(f, &FANOUT_KEYS, "`fanout`");
                }
                let to = match f.and_then(|f| f.get("to").map(|to| (f, to))) {
                    None if f.is_none() => None,
                    Some((_, to)) => self.name(to, "`fanout.to`"),
                    None => {
                        self.error("`fanout` needs `to`", v.span()).help =
                            Some("such as fanout = { to = \"shard\", n = 16 }".into());
                        None
                    }
                };
                let n = match f.map(|f| f.get("n")) {
                    None => None,
                    Some(Some(n)) => self.count(n, "`fanout.n`", 1, MAX_FANOUT),
                    Some(None) => {
                        self.error("`fanout` needs `n`, the number of parallel calls", v.span())
                            .help = Some("such as fanout = { to = \"shard\", n = 16 }".into());
                        None
                    }
                };
                match (to, n) {
                    (Some(to), Some(n)) => Some(Targets::Fanout(to, n)),
                    _ => None,
                }
            }
            [] => {
                self.error("this call has no `to`", item.span()).help = Some(
                    "name the callee, such as { to = \"db\" }, or call several at once with parallel = [...] or fanout = { to = ..., n = ... }".into(),
                );
                None
            }
            _ => {
                self.error(
                    format!(
                        "a call gives one of `to`, `parallel` or `fanout`, not {}",
                        given.join(" and ")
                    ),
                    item.span(),
                );
                None
            }
        };
        let wait = t.get("wait").map(|v| {
            let w = self
                .integer(v, "`wait`", 1)
                .and_then(|w| u32::try_from(w).ok());
            (w, v.span())
        });
        let p = match t.get("p") {
            Some(v) => self.probability(v, "probability"),
            None => Some(1.0),
        };
        let n = match t.get("n") {
            Some(v) => self.count(v, "`n`", 1, MAX_REPEATS),
            None => Some(1),
        };
        let latency = t
            .get("latency")
            .map(|v| (self.dist(v, "`latency`"), v.span()));
        let timeout_at = t
            .get("timeout")
            .or_else(|| t.get("cancel"))
            .map(|v| v.span());
        let timeout = self
            .timeout(t, "timeout")
            .map(|d| (d, timeout_at.unwrap_or_else(|| item.span())));
        let retry = t.get("retry").map(|v| (self.retry(v), v.span()));
        let hedge = t.get("hedge").map(|v| (self.hedge(v), v.span()));
        let breaker = t.get("breaker").map(|v| (self.breaker(v), v.span()));
        // A fixed hedge delay at or past a fixed timeout never fires.
        if let (Some((Some(to), _)), Some((Some(h), span))) = (&timeout, &hedge)
            && let chokepoint_core::model::HedgeDelay::Fixed(after) = h.after
            && to.after.scv() == 0.0
            && after >= to.after.mean()
        {
            self.diags.push(
                crate::diagnostic::Diagnostic::warning(
                    "this hedge waits as long as the call's timeout or longer: it never sends a copy",
                    Some(span.clone()),
                )
                .with_help("hedge well before the timeout, such as at the callee's p95"),
            );
        }
        Some(CallDef {
            targets,
            only_to: given == ["to"],
            timeout,
            retry,
            hedge,
            breaker,
            wait,
            p,
            n,
            latency,
            bytes,
            span: item.span(),
        })
    }
}
