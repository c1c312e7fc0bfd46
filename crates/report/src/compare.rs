//! Side-by-side comparison of architectures run under the same load and seeds.
//!
//! The first scenario is the baseline. For each class and station present in
//! any scenario, each figure is shown per scenario with its change from the
//! baseline. A class's throughput and latency are also paired with the
//! baseline's replication by replication ([`pair`]: the same seeds), and a
//! change is significant when that paired interval excludes zero; other
//! figures are significant when the two 95% confidence intervals do not
//! overlap (a conservative test: overlapping intervals may still differ,
//! non-overlapping ones almost surely do).

use std::fmt::Write;

use serde::Serialize;

use chokepoint_core::stats::{ClassStats, RunStats};

use crate::figures::{self, Cell, Unit};
use crate::summary::{Estimate, Summary};

/// One figure across the scenarios.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// `design` (the scenario's own: cost, SLO), `class` or `station`.
    pub section: &'static str,
    /// The class or station (empty for `design`).
    pub name: String,
    /// The figure, as named in the JSON contract.
    pub metric: &'static str,
    /// How it reads (for display).
    #[serde(skip)]
    pub(crate) unit: Unit,
    /// Its value per scenario (`None` where the scenario has no such class or station).
    pub values: Vec<Option<f64>>,
    /// Its 95% half-width per scenario, where there is one.
    pub ci95: Vec<Option<f64>>,
    /// Relative change from the baseline (the first scenario), per
    /// scenario; for a figure paired by replication, the mean paired
    /// difference over the baseline's mean on the same replications (so
    /// that its sign is the difference's).
    pub change: Vec<Option<f64>>,
    /// Whether the change from the baseline is significant: its paired
    /// interval excludes zero where there is one, else the two 95%
    /// intervals are disjoint.
    pub significant: Vec<bool>,
    /// The paired difference from the baseline, per scenario: the mean of
    /// the replications' differences (replication k against the
    /// baseline's replication k, on the same seeds) and its 95% Student-t
    /// half-width (see [`pair`]).
    #[serde(rename = "paired_difference")]
    pub paired: Vec<Option<(f64, f64)>>,
}

/// A comparison of several runs.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// The scenarios' names, baseline first.
    pub scenarios: Vec<String>,
    /// Every figure, class by class, then station by station.
    pub rows: Vec<Row>,
    /// The full results, in the same order.
    pub results: Vec<Summary>,
    /// One sentence per design against the baseline: its cost, its SLO
    /// verdict, each class's p99 difference (see [`verdicts`]).
    pub verdicts: Vec<String>,
}

/// Names in order of first appearance across the summaries.
fn union<'a>(names: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}

/// Compares `runs` (name, summary), the first being the baseline, on the
/// figures that `compare` shows (see `figures.rs`).
pub fn compare(runs: Vec<(String, Summary)>) -> Comparison {
    let (scenarios, results): (Vec<String>, Vec<Summary>) = runs.into_iter().unzip();
    let mut rows = Vec::new();
    section(
        &mut rows,
        "design",
        &[String::new()],
        &figures::DESIGN,
        &results,
        |s, _| Some(s),
    );
    let classes = union(results.iter().flat_map(|s| s.classes.keys()));
    section(
        &mut rows,
        "class",
        &classes,
        &figures::CLASS,
        &results,
        |s, n| s.classes.get(n),
    );
    let stations = union(results.iter().flat_map(|s| s.stations.keys()));
    section(
        &mut rows,
        "station",
        &stations,
        &figures::STATION,
        &results,
        |s, n| s.stations.get(n),
    );
    let mut comparison = Comparison {
        scenarios,
        rows,
        results,
        verdicts: Vec::new(),
    };
    comparison.verdicts = verdicts(&comparison);
    comparison
}

/// Each design against the baseline, in one sentence: `pooled: costs 28%
/// less and meets the SLO; its jobs p99 is 1.62 ±0.30 s higher than
/// vertical's`. The cost where both are priced (the same within 0.5%),
/// the SLO where it has one, and each class's p99 by its paired
/// difference where there is one (else its change), "not significantly"
/// where the interval holds zero.
pub fn verdicts(comparison: &Comparison) -> Vec<String> {
    let base_name = &comparison.scenarios[0];
    let base = &comparison.results[0];
    let pct = |x: f64| crate::format::sig3(100.0 * x.abs());
    (1..comparison.results.len())
        .map(|i| {
            let s = &comparison.results[i];
            let mut said = Vec::new();
            if let (Some(b), Some(c)) = (&base.cost, &s.cost)
                && b.per_hour > 0.0
            {
                let change = (c.per_hour - b.per_hour) / b.per_hour;
                said.push(if change.abs() < 0.005 {
                    "costs the same".to_owned()
                } else if change < 0.0 {
                    format!("costs {}% less", pct(change))
                } else {
                    format!("costs {}% more", pct(change))
                });
            }
            if let Some(v) = &s.slo {
                said.push(
                    if v.met {
                        "meets the SLO"
                    } else {
                        "misses the SLO"
                    }
                    .to_owned(),
                );
            }
            // A class whose throughput changed for real (by 5% or more,
            // significantly): it completes less, or more, of its load, which
            // no latency says.
            for r in comparison
                .rows
                .iter()
                .filter(|r| r.section == "class" && r.metric == "throughput")
            {
                if let Some(c) = r.change[i]
                    && r.significant[i]
                    && c.abs() >= 0.05
                {
                    said.push(format!(
                        "completes {}% {} {} per second",
                        pct(c),
                        if c < 0.0 { "fewer" } else { "more" },
                        r.name
                    ));
                }
            }
            let p99: Vec<String> = comparison
                .rows
                .iter()
                .filter(|r| r.section == "class" && r.metric == "latency.p99")
                .filter_map(|r| {
                    let (d, h) = r.paired[i]?;
                    let way = if d < 0.0 { "lower" } else { "higher" };
                    Some(format!(
                        "its {} p99 is {} {way}{}",
                        r.name,
                        crate::format::duration(Some(d.abs()), Some(h)),
                        if r.significant[i] {
                            ""
                        } else {
                            " (not significantly)"
                        }
                    ))
                })
                .collect();
            let mut line = format!("{}: {}", comparison.scenarios[i], said.join(" and "));
            if !p99.is_empty() {
                if !said.is_empty() {
                    line.push_str("; ");
                }
                line.push_str(&format!("{} than {base_name}'s", p99.join(", ")));
            }
            line
        })
        .collect()
}

/// The rows of one section: per name, per figure shown, its values across
/// `results` (read by `get`) and their changes from the first.
fn section<T>(
    rows: &mut Vec<Row>,
    section: &'static str,
    names: &[String],
    entries: &[figures::Entry<T>],
    results: &[Summary],
    get: impl for<'a> Fn(&'a Summary, &str) -> Option<&'a T>,
) {
    for name in names {
        for f in figures::compared(entries) {
            let got: Vec<Option<(f64, Option<f64>)>> = results
                .iter()
                .map(|s| {
                    let cell: Option<Cell> = get(s, name).and_then(|x| (f.read)(x));
                    cell.and_then(|c| c.value.map(|v| (v, c.ci95)))
                })
                .collect();
            // Nothing to compare: no scenario has it, or a count that is
            // zero in every one (no timeout anywhere, say).
            let absent = got.iter().all(Option::is_none);
            // a service's own figure that is zero in every one (no
            // write at risk without write-back).
            let own = section == "station" && f.compare.is_some_and(|p| p.contains('.'));
            let all_zero = (f.unit == Unit::Count || own)
                && got.iter().all(|g| g.is_none_or(|(v, _)| v == 0.0));
            if absent || all_zero {
                continue;
            }
            let base = got[0];
            let change = got
                .iter()
                .map(|g| match (base, g) {
                    (Some((b, _)), Some((v, _))) if b != 0.0 && f.unit != Unit::Verdict => {
                        Some((v - b) / b.abs())
                    }
                    _ => None,
                })
                .collect();
            let significant = got
                .iter()
                .map(|g| match (base, g) {
                    (Some((b, Some(hb))), Some((v, Some(hv)))) => (v - b).abs() > hb + hv,
                    _ => false,
                })
                .collect();
            rows.push(Row {
                section,
                name: name.clone(),
                metric: f.compare.unwrap_or_default(),
                unit: f.unit,
                values: got.iter().map(|g| g.map(|(v, _)| v)).collect(),
                ci95: got.iter().map(|g| g.and_then(|(_, h)| h)).collect(),
                change,
                significant,
                paired: vec![None; results.len()],
            });
        }
    }
}

/// The comparison as JSON (with a final newline).
pub fn json(comparison: &Comparison) -> String {
    let mut out = serde_json::to_string_pretty(comparison).expect("comparison serialises");
    out.push('\n');
    out
}

/// A class's figure in one replication, for the figures compared in
/// pairs: throughput and the latency's mean and percentiles.
fn per_replication(metric: &str, run: &RunStats, class: &ClassStats) -> Option<f64> {
    let latency = |x: f64| (class.completed > 0).then_some(x);
    match metric {
        "throughput" => Some(class.throughput(run.duration)),
        "latency.mean" => latency(class.mean_latency()),
        "latency.p50" => latency(class.latency_quantile(0.50)),
        "latency.p90" => latency(class.latency_quantile(0.90)),
        "latency.p99" => latency(class.latency_quantile(0.99)),
        "latency.p999" => latency(class.latency_quantile(0.999)),
        _ => None,
    }
}

/// Pairs each class's throughput and latency (mean, p50, p90, p99, p99.9)
/// with the baseline's, replication by replication: `runs` are each
/// scenario's replications, in the comparison's order. Replication k of
/// every scenario ran on the same seed (common random numbers), so the
/// mean of the differences, with its Student-t interval over the pairs,
/// is sharper than two independent intervals; significance is then that
/// interval excluding zero. Needs two pairs at least (the fewer
/// replications of the two).
pub fn pair(comparison: &mut Comparison, runs: &[Vec<RunStats>]) {
    let Some(base) = runs.first() else {
        return;
    };
    let of = |runs: &[RunStats], name: &str, metric: &str| -> Vec<Option<f64>> {
        runs.iter()
            .map(|r| {
                let class = r.classes.iter().find(|c| c.name == name)?;
                per_replication(metric, r, class)
            })
            .collect()
    };
    for row in comparison.rows.iter_mut().filter(|r| r.section == "class") {
        let reference = of(base, &row.name, row.metric);
        for (i, other) in runs.iter().enumerate().skip(1) {
            let differences: Vec<f64> = of(other, &row.name, row.metric)
                .iter()
                .zip(&reference)
                .filter_map(|(v, b)| Some(v.as_ref()? - b.as_ref()?))
                .collect();
            if differences.len() < 2 {
                continue;
            }
            let e = Estimate::of(&differences, 0.95);
            if let Some(h) = e.half_width {
                row.paired[i] = Some((e.mean, h));
                row.significant[i] = e.mean.abs() > h;
                // The percentage from the same pairs, so that its sign
                // is the difference's: the mean difference over the
                // baseline's mean over the same replications.
                let paired_base: Vec<f64> = of(other, &row.name, row.metric)
                    .iter()
                    .zip(&reference)
                    .filter_map(|(v, b)| v.and(*b))
                    .collect();
                let base = paired_base.iter().sum::<f64>() / paired_base.len() as f64;
                row.change[i] = (base != 0.0).then(|| e.mean / base.abs());
            }
        }
    }
    comparison.verdicts = verdicts(comparison);
}

fn cell(row: &Row, i: usize) -> String {
    let Some(v) = row.values[i] else {
        return crate::format::NONE.into();
    };
    let value = crate::format::shown(
        row.unit,
        Some(Cell {
            value: Some(v),
            ci95: row.ci95[i],
        }),
    );
    let star = if row.significant[i] { " *" } else { "" };
    let difference = |d: f64, h: f64| {
        let sign = if d < 0.0 { "-" } else { "+" };
        if row.unit == Unit::Seconds {
            format!("{sign}{}", crate::format::duration(Some(d.abs()), Some(h)))
        } else {
            format!("{sign}{}", crate::format::plain(d.abs(), Some(h)))
        }
    };
    match (i, row.change[i], row.paired[i]) {
        (0, ..) | (_, None, None) => value,
        (_, Some(c), None) => format!("{value} ({:+.1}%{star})", 100.0 * c),
        (_, None, Some((d, h))) => format!("{value} ({}{star})", difference(d, h)),
        (_, Some(c), Some((d, h))) => {
            format!("{value} ({:+.1}%: {}{star})", 100.0 * c, difference(d, h))
        }
    }
}

/// How the designs were run: `every one 5 × 60 s after 10 s warm-up`, or
/// each's own when they differ (`each its own: a 5 × 60 s after 10 s
/// warm-up, b 5 × 60 s after 120 s warm-up`).
fn settings(comparison: &Comparison) -> String {
    let of = |s: &Summary| {
        let warmup = if s.warmup > 0.0 {
            format!(
                " after {} warm-up",
                crate::format::duration(Some(s.warmup), None)
            )
        } else {
            ", no warm-up".to_owned()
        };
        format!(
            "{} × {}{warmup}",
            s.replications,
            crate::format::duration(Some(s.duration), None),
        )
    };
    let all: Vec<String> = comparison.results.iter().map(of).collect();
    if all.windows(2).all(|w| w[0] == w[1]) {
        format!("every one {}", all[0])
    } else {
        let each: Vec<String> = comparison
            .scenarios
            .iter()
            .zip(&all)
            .map(|(name, s)| format!("{name} {s}"))
            .collect();
        format!("each its own: {}", each.join(", "))
    }
}

/// The line above the table: who is compared with whom, and how they ran.
pub(crate) fn header(comparison: &Comparison) -> String {
    format!(
        "{} compared with {} (same load and seed; {})",
        comparison.scenarios[1..].join(", "),
        comparison.scenarios[0],
        settings(comparison)
    )
}

/// What the table's marks mean.
pub(crate) const LEGEND: &str = "± = 95% confidence half-width; (+x%) = change from the first scenario; (+x%: +d ±h) = the paired difference over replications on the same seeds, and its share of the first's value; * = significant (the paired interval excludes zero; without one, the 95% intervals do not overlap).";

/// The table's rows: per block (design, each class, each station) an
/// empty row, a header row naming the scenarios, then one row per figure.
pub(crate) fn rows(comparison: &Comparison) -> Vec<Vec<String>> {
    let mut current = (String::new(), "");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for row in &comparison.rows {
        if (row.name.clone(), row.section) != current {
            current = (row.name.clone(), row.section);
            rows.push(Vec::new());
            let mut header = vec![
                format!("{} {}", row.section, row.name)
                    .trim_end()
                    .to_owned(),
            ];
            header.extend(comparison.scenarios.iter().cloned());
            rows.push(header);
        }
        let mut cells = vec![format!("  {}", row.metric)];
        cells.extend((0..comparison.scenarios.len()).map(|i| cell(row, i)));
        rows.push(cells);
    }
    rows
}

/// A table for people: one block per class and station, one column per scenario.
pub fn table(comparison: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", header(comparison));
    // What makes a column something else than asked: said before it.
    for (name, summary) in comparison.scenarios.iter().zip(&comparison.results) {
        for line in crate::format::caveats(summary).lines() {
            let _ = writeln!(out, "{name}: {line}");
        }
    }
    crate::format::render(&mut out, &rows(comparison));
    let _ = writeln!(out, "\n{LEGEND}");
    for line in comparison.verdicts.iter().filter(|l| !l.ends_with(": ")) {
        let _ = writeln!(out, "{line}");
    }
    out
}
