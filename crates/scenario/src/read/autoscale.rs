//! `autoscale = { metric, target, min, max, interval, provision, warmup,
//! scale_in_after, tolerance }` on an `api` or a `worker`: the Kubernetes
//! horizontal pod autoscaler's rule over the service's replicas (its
//! `replicas` are those at the start). Lowered in `lower/autoscale.rs`.

use std::ops::Range;

use chokepoint_core::model::ScaleMetric;
use toml::de::DeValue;

use super::{MAX_REPLICAS, Value, Walker};
use crate::diagnostic::Diagnostic;

pub(crate) const AUTOSCALE_KEYS: [&str; 9] = [
    "metric",
    "target",
    "min",
    "max",
    "interval",
    "provision",
    "warmup",
    "scale_in_after",
    "tolerance",
];
pub(crate) const METRICS: [&str; 4] = ["cpu", "workers", "queue_per_replica", "rps_per_replica"];

/// An autoscaler as read.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AutoscaleDef {
    pub(crate) metric: ScaleMetric,
    pub(crate) target: f64,
    pub(crate) min: u32,
    pub(crate) max: u32,
    /// Replicas at the start: the service's `replicas`, or `min`.
    pub(crate) initial: u32,
    /// Nanoseconds.
    pub(crate) interval: f64,
    pub(crate) provision: f64,
    pub(crate) warmup: f64,
    pub(crate) scale_in_after: f64,
    pub(crate) tolerance: f64,
}

/// What the service offers the metrics: whether its replicas have
/// `workers`, and whether a queue feeds it.
pub(crate) struct Offers {
    pub(crate) workers: bool,
    pub(crate) queue: bool,
}

impl Walker<'_> {
    /// Reads `autoscale`; `replicas` is the service's own key, if given
    /// (the replicas at the start).
    pub(crate) fn autoscale(
        &mut self,
        v: &Value<'_>,
        replicas: Option<(u32, Range<usize>)>,
        offers: &Offers,
    ) -> Option<AutoscaleDef> {
        let t = self.table(v, "`autoscale`")?;
        self.check_keys(t, &AUTOSCALE_KEYS, "`autoscale`");
        let missing = |key: &str| !Self::misspelt(t, key);
        let metric = match t.get("metric") {
            Some(m) => self
                .word(m, "`autoscale.metric`", &METRICS)
                .and_then(|w| self.metric_offered(w, m, offers)),
            None => {
                if missing("metric") {
                    self.error("`autoscale` needs a `metric`", v.span()).help =
                        Some(format!("one of: {}", METRICS.join(", ")));
                }
                None
            }
        };
        let target = match (t.get("target"), metric) {
            (Some(x), Some(m)) => self.scale_target(x, m),
            (Some(_), None) => None,
            (None, _) => {
                self.error("`autoscale` needs a `target`", v.span()).help = Some(
                    "the metric's value per replica to aim at, such as target = 0.6 for cpu".into(),
                );
                None
            }
        };
        let min = match t.get("min") {
            Some(x) => self.count(x, "`autoscale.min`", 1, MAX_REPLICAS),
            None => Some(1),
        };
        let max = match t.get("max") {
            Some(x) => self.count(x, "`autoscale.max`", 1, MAX_REPLICAS),
            None => {
                if missing("max") {
                    self.error("`autoscale` needs a `max`", v.span()).help =
                        Some("the most replicas it may run, such as max = 10".into());
                }
                None
            }
        };
        if let (Some(lo), Some(hi)) = (min, max)
            && lo > hi
        {
            let at = t.get("min").map_or(v.span(), |x| x.span());
            self.error(
                format!("`autoscale.min` ({lo}) is above `autoscale.max` ({hi})"),
                at,
            );
            return None;
        }
        let initial = match (replicas, min, max) {
            (Some((n, span)), Some(lo), Some(hi)) if n < lo || n > hi => {
                self.error(
                    format!(
                        "`replicas` ({n}), those at the start, is outside autoscale's [{lo}, {hi}]"
                    ),
                    span,
                )
                .help = Some("leave `replicas` out to start at `min`".into());
                None
            }
            (Some((n, _)), ..) => Some(n),
            (None, lo, _) => lo,
        };
        let mut delay = |key: &str, default: f64, positive: bool| match t.get(key) {
            None => Some(default),
            Some(x) => {
                let what = format!("`autoscale.{key}`");
                let s = self.duration(x, &what)?;
                if positive && s <= 0.0 {
                    self.error(format!("{what} must be positive"), x.span());
                    return None;
                }
                Some(s * 1e9)
            }
        };
        // Kubernetes' defaults: a 15 s sync period, a 5 min stabilisation
        // window for scaling in, a 10% tolerance.
        let interval = delay("interval", 15e9, true);
        let provision = delay("provision", 0.0, false);
        let warmup = delay("warmup", 0.0, false);
        let scale_in_after = delay("scale_in_after", 300e9, false);
        let tolerance = match t.get("tolerance") {
            None => Some(0.1),
            Some(x) => self.number(x, "`autoscale.tolerance`").and_then(|f| {
                if f > 0.0 && f < 1.0 {
                    Some(f)
                } else {
                    self.error(
                        format!("`autoscale.tolerance` is a fraction in (0, 1), found {f}"),
                        x.span(),
                    );
                    None
                }
            }),
        };
        Some(AutoscaleDef {
            metric: metric?,
            target: target?,
            min: min?,
            max: max?,
            initial: initial?,
            interval: interval?,
            provision: provision?,
            warmup: warmup?,
            scale_in_after: scale_in_after?,
            tolerance: tolerance?,
        })
    }

    /// The metric named `w`, if the service has what it measures.
    fn metric_offered(&mut self, w: &str, at: &Value<'_>, offers: &Offers) -> Option<ScaleMetric> {
        let metric = match w {
            "cpu" => ScaleMetric::Cpu,
            "workers" => ScaleMetric::Workers,
            "queue_per_replica" => ScaleMetric::QueuePerReplica,
            _ => ScaleMetric::RpsPerReplica,
        };
        let missing = match metric {
            ScaleMetric::Workers if !offers.workers => Some("`workers`"),
            ScaleMetric::QueuePerReplica if !offers.workers && !offers.queue => {
                Some("a `queue` it consumes, or `workers` to wait for")
            }
            _ => None,
        };
        if let Some(what) = missing {
            self.error(
                format!("autoscale's metric `{w}` needs {what} on the service"),
                at.span(),
            )
            .help = Some("`cpu` and `rps_per_replica` work on any api or worker".into());
            return None;
        }
        Some(metric)
    }

    /// The target of `metric`: a share for `cpu` and `workers` (0.6 or
    /// "60%"), a count for `queue_per_replica`, a rate for
    /// `rps_per_replica` (300 or "300/s").
    fn scale_target(&mut self, x: &Value<'_>, metric: ScaleMetric) -> Option<f64> {
        let what = "`autoscale.target`";
        match metric {
            ScaleMetric::RpsPerReplica => {
                let rate = self.rate(x, what)?;
                if rate < 1.0 {
                    self.diags.push(
                        Diagnostic::warning(
                            format!(
                                "{what} is {rate} requests per second per replica: so low that nearly any load asks for `max`"
                            ),
                            Some(x.span()),
                        )
                        .with_help("a rate such as target = \"300/s\"; a share of the CPU busy is metric = \"cpu\""),
                    );
                }
                Some(rate)
            }
            ScaleMetric::QueuePerReplica => {
                let n = self.number(x, what)?;
                if n > 0.0 {
                    Some(n)
                } else {
                    self.error(format!("{what} must be positive, found {n}"), x.span());
                    None
                }
            }
            ScaleMetric::Cpu | ScaleMetric::Workers => {
                let share = match x.get_ref() {
                    DeValue::String(s) => s
                        .trim()
                        .strip_suffix('%')
                        .and_then(|p| p.trim().parse::<f64>().ok())
                        .map(|p| p / 100.0),
                    _ => Some(self.number(x, what)?),
                };
                match share {
                    Some(f) if f > 0.0 && f <= 1.0 => Some(f),
                    _ => {
                        let help = match share {
                            Some(f) if f > 1.0 && f <= 100.0 => {
                                format!(
                                    "a share: for {f}%, write target = {} or \"{f}%\"",
                                    f / 100.0
                                )
                            }
                            _ => "such as target = 0.6, or \"60%\"".into(),
                        };
                        self.error(
                            format!("{what} is the share of the replica busy to aim at, in (0, 1]"),
                            x.span(),
                        )
                        .help = Some(help);
                        None
                    }
                }
            }
        }
    }
}
