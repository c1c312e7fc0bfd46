//! Side-by-side comparison of architectures run under the same load and seeds.
//!
//! The first scenario is the baseline. For each class and station present in
//! any scenario, each figure is shown per scenario with its change from the
//! baseline; a change is marked significant only when the two 95% confidence
//! intervals do not overlap (a conservative test: overlapping intervals may
//! still differ, non-overlapping ones almost surely do).

use std::fmt::Write;

use serde::Serialize;

use crate::summary::Summary;

/// One figure across the scenarios.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// `class` or `station`.
    pub section: &'static str,
    /// The class or station.
    pub name: String,
    /// The figure, as named in the JSON contract.
    pub metric: &'static str,
    /// Whether the figure is a duration in seconds (for display).
    #[serde(skip)]
    pub seconds: bool,
    /// Its value per scenario (`None` where the scenario has no such class or station).
    pub values: Vec<Option<f64>>,
    /// Its 95% half-width per scenario, where there is one.
    pub ci95: Vec<Option<f64>>,
    /// Relative change from the baseline (the first scenario), per scenario.
    pub change: Vec<Option<f64>>,
    /// Whether the change from the baseline is significant (CIs disjoint).
    pub significant: Vec<bool>,
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
}

/// Reads a figure (value, 95% half-width) of a named class or station.
type Getter = fn(&Summary, &str) -> Option<(f64, Option<f64>)>;

/// A figure: its name, whether it is in seconds, and how to read it.
type Figure = (&'static str, bool, Getter);

const CLASS_FIGURES: [Figure; 7] = [
    ("throughput", false, |s, n| {
        s.classes.get(n).map(|c| (c.throughput, c.throughput_ci95))
    }),
    ("latency.mean", true, |s, n| {
        s.classes
            .get(n)
            .and_then(|c| c.latency.mean.map(|m| (m, c.latency.mean_ci95)))
    }),
    ("latency.p50", true, |s, n| {
        s.classes.get(n).map(|c| (c.latency.p50, None))
    }),
    ("latency.p90", true, |s, n| {
        s.classes.get(n).map(|c| (c.latency.p90, None))
    }),
    ("latency.p99", true, |s, n| {
        s.classes
            .get(n)
            .map(|c| (c.latency.p99, c.latency.p99_ci95))
    }),
    ("latency.p999", true, |s, n| {
        s.classes.get(n).map(|c| (c.latency.p999, None))
    }),
    ("drop_ratio", false, |s, n| {
        s.classes.get(n).map(|c| (c.drop_ratio, None))
    }),
];

const STATION_FIGURES: [Figure; 5] = [
    ("utilization", false, |s, n| {
        s.stations
            .get(n)
            .map(|x| (x.utilization, x.utilization_ci95))
    }),
    ("mean_in_system", false, |s, n| {
        s.stations
            .get(n)
            .map(|x| (x.mean_in_system, x.mean_in_system_ci95))
    }),
    ("mean_queue_len", false, |s, n| {
        s.stations
            .get(n)
            .map(|x| (x.mean_queue_len, x.mean_queue_len_ci95))
    }),
    ("mean_wait", true, |s, n| {
        s.stations
            .get(n)
            .and_then(|x| x.mean_wait.map(|w| (w, x.mean_wait_ci95)))
    }),
    ("mean_response", true, |s, n| {
        s.stations
            .get(n)
            .and_then(|x| x.mean_response.map(|w| (w, None)))
    }),
];

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

/// Compares `runs` (name, summary), the first being the baseline.
pub fn compare(runs: Vec<(String, Summary)>) -> Comparison {
    let (scenarios, results): (Vec<String>, Vec<Summary>) = runs.into_iter().unzip();
    let mut rows = Vec::new();
    let sections: [(&'static str, Vec<String>, &[Figure]); 2] = [
        (
            "class",
            union(results.iter().flat_map(|s| s.classes.keys())),
            &CLASS_FIGURES,
        ),
        (
            "station",
            union(results.iter().flat_map(|s| s.stations.keys())),
            &STATION_FIGURES,
        ),
    ];
    for (section, names, figures) in sections {
        for name in names {
            for &(metric, seconds, get) in figures {
                let got: Vec<Option<(f64, Option<f64>)>> =
                    results.iter().map(|s| get(s, &name)).collect();
                let base = got[0];
                let change = got
                    .iter()
                    .map(|g| match (base, g) {
                        (Some((b, _)), Some((v, _))) if b != 0.0 => Some((v - b) / b.abs()),
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
                    metric,
                    seconds,
                    values: got.iter().map(|g| g.map(|(v, _)| v)).collect(),
                    ci95: got.iter().map(|g| g.and_then(|(_, h)| h)).collect(),
                    change,
                    significant,
                });
            }
        }
    }
    Comparison {
        scenarios,
        rows,
        results,
    }
}

/// The comparison as JSON (with a final newline).
pub fn json(comparison: &Comparison) -> String {
    let mut out = serde_json::to_string_pretty(comparison).expect("comparison serialises");
    out.push('\n');
    out
}

fn cell(row: &Row, i: usize) -> String {
    let Some(v) = row.values[i] else {
        return "-".into();
    };
    let value = if row.seconds {
        crate::format::duration(Some(v), row.ci95[i])
    } else {
        crate::format::plain(v, row.ci95[i])
    };
    match (i, row.change[i]) {
        (0, _) | (_, None) => value,
        (_, Some(c)) => format!(
            "{value} ({:+.1}%{})",
            100.0 * c,
            if row.significant[i] { " *" } else { "" }
        ),
    }
}

/// A table for people: one block per class and station, one column per scenario.
pub fn table(comparison: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} compared with {} (same load and seeds)",
        comparison.scenarios[1..].join(", "),
        comparison.scenarios[0]
    );
    let mut current = (String::new(), "");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for row in &comparison.rows {
        if (row.name.clone(), row.section) != current {
            current = (row.name.clone(), row.section);
            rows.push(Vec::new());
            let mut header = vec![format!("{} {}", row.section, row.name)];
            header.extend(comparison.scenarios.iter().cloned());
            rows.push(header);
        }
        let mut cells = vec![format!("  {}", row.metric)];
        cells.extend((0..comparison.scenarios.len()).map(|i| cell(row, i)));
        rows.push(cells);
    }
    crate::format::render(&mut out, &rows);
    out.push_str(
        "\n± = 95% confidence half-width; (+x%) = change from the first scenario; * = significant (the 95% intervals do not overlap).\n",
    );
    out
}
