//! The `[sweep]` and `[slo]` tables.
//!
//! A sweep is a grid over scenario values, named by their dotted paths, and
//! optionally named variants, each a set of values; the points are every
//! variant crossed with every combination of the grid. A point is nothing but
//! a list of [`Override`]s of the base scenario, so it is validated, located
//! in the file and simulated exactly like the base.
//!
//! ```toml
//! [sweep]
//! "load.browse.rate" = ["200/s", "400/s"]
//! "services.db.servers" = [2, 4, 8]
//!
//! [[sweep.variant]]
//! name = "pooled"
//! set = { "services.db.discipline" = "fifo" }
//!
//! [slo]
//! p99 = "200ms"
//! max_error_rate = 0.001
//! ```

use std::ops::Range;

use toml::de::DeValue;

/// The most points a sweep may have.
pub const MAX_POINTS: usize = 100_000;

/// One value of a sweep, as written in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepValue {
    /// The value as TOML text (`"200/s"` with its quotes, `4`).
    pub text: String,
    /// Where it is written.
    pub span: Range<usize>,
}

impl SweepValue {
    /// The value for display: strings without their quotes.
    pub fn display(&self) -> String {
        match DeValue::parse(&self.text).map(toml::Spanned::into_inner) {
            Ok(DeValue::String(s)) => s.into_owned(),
            _ => self.text.clone(),
        }
    }
}

/// A grid dimension: a path and the values it takes, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Axis {
    /// Dotted path of the scenario value.
    pub path: String,
    /// Where the path is written.
    pub path_at: Range<usize>,
    /// The values, in the order written.
    pub values: Vec<SweepValue>,
}

/// A named set of values applied together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    /// Its name.
    pub name: String,
    /// The values it sets.
    pub set: Vec<Setting>,
}

/// One value a variant sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Dotted path of the scenario value.
    pub path: String,
    /// Where the path is written.
    pub path_at: Range<usize>,
    /// The value.
    pub value: SweepValue,
}

/// The `[sweep]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepSpec {
    /// Grid dimensions, in file order; the first varies slowest.
    pub axes: Vec<Axis>,
    /// Named variants, in file order (none: the base alone).
    pub variants: Vec<Variant>,
}

/// One point of a sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point {
    /// Its index: variants vary slowest, then the axes in file order.
    pub index: usize,
    /// Its variant's name, if the sweep has variants.
    pub variant: Option<String>,
    /// The grid values, by path, for display.
    pub params: Vec<(String, String)>,
    /// What it changes in the base scenario.
    pub overrides: Vec<Override>,
}

impl Point {
    /// A short description: `variant; path=value, ...`.
    pub fn label(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(p, v)| format!("{p}={v}"))
            .collect();
        match &self.variant {
            Some(v) if params.is_empty() => v.clone(),
            Some(v) => format!("{v}; {}", params.join(", ")),
            None => params.join(", "),
        }
    }
}

impl SweepSpec {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.variants.len().max(1) * self.axes.iter().map(|a| a.values.len()).product::<usize>()
    }

    /// Whether the sweep has no point (never true for a validated spec).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every point, in index order.
    pub fn points(&self) -> Vec<Point> {
        let grid: usize = self.axes.iter().map(|a| a.values.len()).product();
        let variants: Vec<Option<&Variant>> = if self.variants.is_empty() {
            vec![None]
        } else {
            self.variants.iter().map(Some).collect()
        };
        let mut points = Vec::with_capacity(self.len());
        for variant in variants {
            for g in 0..grid {
                // Mixed-radix digits of g, the last axis varying fastest.
                let mut rest = g;
                let mut chosen = vec![0; self.axes.len()];
                for (i, axis) in self.axes.iter().enumerate().rev() {
                    chosen[i] = rest % axis.values.len();
                    rest /= axis.values.len();
                }
                let mut overrides = Vec::new();
                if let Some(v) = variant {
                    overrides.extend(v.set.iter().map(|s| Override {
                        path: s.path.clone(),
                        value: s.value.text.clone(),
                        at: Some(s.value.span.clone()),
                        path_at: Some(s.path_at.clone()),
                    }));
                }
                let mut params = Vec::new();
                for (axis, &c) in self.axes.iter().zip(&chosen) {
                    let value = &axis.values[c];
                    params.push((axis.path.clone(), value.display()));
                    overrides.push(Override {
                        path: axis.path.clone(),
                        value: value.text.clone(),
                        at: Some(value.span.clone()),
                        path_at: Some(axis.path_at.clone()),
                    });
                }
                points.push(Point {
                    index: points.len(),
                    variant: variant.map(|v| v.name.clone()),
                    params,
                    overrides,
                });
            }
        }
        points
    }
}

/// Service-level objectives: every class of a point must meet each one given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Slo {
    /// Most mean latency, in seconds.
    pub mean: Option<f64>,
    /// Most median latency, in seconds.
    pub p50: Option<f64>,
    /// Most 90th percentile, in seconds.
    pub p90: Option<f64>,
    /// Most 99th percentile, in seconds.
    pub p99: Option<f64>,
    /// Most 99.9th percentile, in seconds.
    pub p999: Option<f64>,
    /// Most fraction of requests dropped or failed.
    pub max_error_rate: Option<f64>,
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
    /// Where its path is written, to point a mistake in the path at (a
    /// mistake every point of a sweep shares, so reported once).
    pub path_at: Option<Range<usize>>,
}

impl Override {
    /// An override of `path` with the TOML value `value`.
    pub fn new(path: impl Into<String>, value: impl Into<String>) -> Override {
        Override {
            path: path.into(),
            value: value.into(),
            at: None,
            path_at: None,
        }
    }
}

/// What a sweep's path sets, as far as charts and decisions care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Knob {
    /// An open class's arrival rate (`load.CLASS.rate`): the offered load.
    Rate,
    /// A service's replicas (`services.NAME.replicas`), or a database's read
    /// replicas (`services.NAME.replicas.count`).
    Replicas,
    /// A sharded service's shards (`services.NAME.shards.count`).
    Shards,
    /// Anything else.
    Other,
}

impl Knob {
    /// What `path` sets.
    pub fn of(path: &str) -> Knob {
        if path.starts_with("load.") && path.ends_with(".rate") {
            Knob::Rate
        } else if path.starts_with("services.")
            && (path.ends_with(".replicas") || path.ends_with(".replicas.count"))
        {
            Knob::Replicas
        } else if path.starts_with("services.") && path.ends_with(".shards.count") {
            Knob::Shards
        } else {
            Knob::Other
        }
    }
}

/// The number a sweep value stands for on a chart's axis: the rate per
/// second of a `load.CLASS.rate` (`"200/s"`, `"27000/min"`), else the
/// number written (a count of replicas or servers). `text` is the value as
/// a point shows it (strings without their quotes).
pub fn axis_value(path: &str, text: &str) -> Option<f64> {
    match Knob::of(path) {
        // A sweep value written as a number is per second.
        Knob::Rate => text
            .parse()
            .ok()
            .or_else(|| crate::units::parse_rate(text).ok()),
        _ => text.parse().ok(),
    }
}
