//! Sweep results: one JSON line per point, and the CSV built from those lines.
//!
//! The JSON line of a point is the source of truth: the CSV is a pure
//! function of the lines, so a sweep can be resumed, sharded and merged by
//! reading lines back, and the files written at the end are the same however
//! the work was split.

use std::collections::BTreeMap;

use chokepoint_scenario::Point;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::summary::Verdict;
use chokepoint_scenario::spec::Knob;

use crate::summary::Summary;

/// The JSON line of one sweep point (with a final newline).
///
/// `fingerprint` identifies the sweep (its source and settings) so that
/// resuming or merging refuses lines of another sweep; `points` is the
/// sweep's number of points, so that a merge knows what is missing. The
/// SLO verdict is the line's own `slo`, beside the `result`; the
/// wall-clock fields of the summary are left out: the line is a pure
/// function of the scenario and seed.
pub fn point_line(fingerprint: &str, points: usize, point: &Point, summary: &Summary) -> String {
    let verdict = summary.slo.as_ref();
    let mut summary = serde_json::to_value(summary).expect("summary serialises");
    if let Some(result) = summary.as_object_mut() {
        result.shift_remove("slo");
    }
    if let Some(engine) = summary.get_mut("engine").and_then(Value::as_object_mut) {
        engine.remove("wall");
        engine.remove("events_per_sec");
    }
    let params: Map<String, Value> = point
        .params
        .iter()
        .map(|(p, v)| (p.clone(), Value::String(v.clone())))
        .collect();
    let mut line = Map::new();
    line.insert("fingerprint".into(), Value::String(fingerprint.to_owned()));
    line.insert("point".into(), Value::from(point.index));
    line.insert("points".into(), Value::from(points));
    line.insert("label".into(), Value::String(point.label()));
    line.insert(
        "variant".into(),
        point.variant.clone().map_or(Value::Null, Value::String),
    );
    line.insert("params".into(), Value::Object(params));
    line.insert(
        "slo".into(),
        verdict.map_or(Value::Null, |v| {
            serde_json::to_value(v).expect("verdict serialises")
        }),
    );
    line.insert("result".into(), summary);
    let mut text = serde_json::to_string(&Value::Object(line)).expect("line serialises");
    text.push('\n');
    text
}

/// A parsed point line.
#[derive(Clone, Debug)]
pub struct PointLine {
    /// The sweep's fingerprint.
    pub fingerprint: String,
    /// The point's index.
    pub point: usize,
    /// The sweep's number of points.
    pub points: usize,
    /// What decisions, charts and overviews read of it, typed.
    pub view: PointView,
    /// The whole line, parsed (the CSV flattens it all).
    pub value: Value,
    /// The line as written (without its newline): files are rebuilt from
    /// these, so a line survives any number of resumes and merges unchanged.
    pub raw: String,
}

/// What is read of a point line besides its place in the sweep.
#[derive(Clone, Debug, Default)]
pub struct PointView {
    /// The point's label (`variant; path=value, ...`).
    pub label: String,
    /// Its variant, if the sweep has variants.
    pub variant: Option<String>,
    /// The grid values, by path, as written in the sweep.
    pub params: Vec<(String, String)>,
    /// Its verdict against the SLO, when there is one.
    pub slo: Option<Verdict>,
    /// The figures decisions and charts need.
    pub result: PointResult,
}

/// A point's figures, as the point line holds them.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PointResult {
    /// Per class.
    #[serde(default)]
    pub classes: BTreeMap<String, PointClass>,
    /// Per station: whether its backlog grows without bound.
    #[serde(default)]
    pub stations: BTreeMap<String, PointStation>,
    /// What the point costs, when it has priced machines.
    #[serde(default)]
    pub cost: Option<PointCost>,
    /// Its replications that stopped early.
    #[serde(default)]
    pub stopped: Vec<crate::summary::StoppedRun>,
    /// Each class's exact mean latency, where a closed form gives one.
    #[serde(default)]
    pub theory: BTreeMap<String, PointTheory>,
}

/// A class's exact mean latency at a point.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PointTheory {
    /// Seconds.
    #[serde(default)]
    pub mean: Option<f64>,
}

/// A class's figures at a point.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PointClass {
    /// Completions per second.
    #[serde(default)]
    pub throughput: Option<f64>,
    /// Arrivals per second (read from `arrived` and the duration).
    #[serde(skip)]
    pub offered: Option<f64>,
    /// The share of its arrivals still in the system at the end (neither
    /// completed nor dropped, failed, timed out or rejected), net of the
    /// warm-up's, or without one of what a steady state holds (W/T by
    /// Little's law): a backlog that grew through the run when it is not
    /// small.
    #[serde(skip)]
    pub left: Option<f64>,
    /// Its latencies.
    #[serde(default)]
    pub latency: PointLatency,
}

/// A class's latency at a point.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PointLatency {
    /// The mean, seconds.
    #[serde(default)]
    pub mean: Option<f64>,
    /// The median, seconds.
    #[serde(default)]
    pub p50: Option<f64>,
    /// The 90th percentile, seconds.
    #[serde(default)]
    pub p90: Option<f64>,
    /// The 99th percentile, seconds.
    #[serde(default)]
    pub p99: Option<f64>,
    /// The 99.9th percentile, seconds.
    #[serde(default)]
    pub p999: Option<f64>,
}

/// A station's state at a point.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PointStation {
    /// Its worker pool, if it has one.
    #[serde(default)]
    pub workers: Option<PointWorkers>,
}

/// A worker pool at a point.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PointWorkers {
    /// Its backlog grows without bound.
    #[serde(default)]
    pub unstable: bool,
}

/// A point's cost.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PointCost {
    /// Dollars per hour.
    #[serde(default)]
    pub per_hour: Option<f64>,
}

impl PointView {
    /// Reads a line's parts, each on its own: a part that does not read
    /// (a line from another version) is left empty, and the line is still
    /// a point.
    fn of(line: &Value) -> PointView {
        fn part<T: serde::de::DeserializeOwned + Default>(v: Option<&Value>) -> T {
            v.and_then(|v| T::deserialize(v).ok()).unwrap_or_default()
        }
        PointView {
            label: part(line.get("label")),
            variant: part(line.get("variant")),
            params: line
                .get("params")
                .and_then(Value::as_object)
                .map(|params| {
                    params
                        .iter()
                        .map(|(k, v)| match v {
                            Value::String(s) => (k.clone(), s.clone()),
                            other => (k.clone(), other.to_string()),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            slo: part(line.get("slo")),
            result: {
                let mut result: PointResult = part(line.get("result"));
                // Each class's arrivals per second: its arrivals over the
                // measured time of every replication.
                let r = line.get("result");
                let get = |k: &str| r.and_then(|r| r.get(k)).and_then(Value::as_f64);
                if let (Some(duration), Some(n)) = (get("duration"), get("replications")) {
                    for (name, c) in &mut result.classes {
                        let key = name.replace('~', "~0").replace('/', "~1");
                        let arrived = r
                            .and_then(|r| r.pointer(&format!("/classes/{key}/arrived")))
                            .and_then(Value::as_f64);
                        c.offered = arrived
                            .filter(|_| duration > 0.0 && n > 0.0)
                            .map(|a| a / (duration * n));
                        let count = |k: &str| {
                            r.and_then(|r| r.pointer(&format!("/classes/{key}/{k}")))
                                .and_then(Value::as_f64)
                                .unwrap_or(0.0)
                        };
                        let ended: f64 =
                            ["completed", "dropped", "failed", "timed_out", "rejected"]
                                .iter()
                                .map(|k| count(k))
                                .sum();
                        // Left in the system at the end: after a warm-up,
                        // what the measured time added (the warm-up's
                        // requests ended in it count); without one, beyond
                        // what a steady state holds (λW of λT arrivals:
                        // W/T by Little's law), so that long latencies in a
                        // short run are not taken for a growing backlog.
                        let steady = if get("warmup").unwrap_or(0.0) > 0.0 {
                            0.0
                        } else {
                            c.latency.mean.unwrap_or(0.0) / duration
                        };
                        c.left = arrived
                            .filter(|a| *a > 0.0)
                            .map(|a| ((a - ended).max(0.0) / a - steady).max(0.0));
                    }
                }
                result
            },
        }
    }

    /// The value of the grid parameter `path`, as written.
    pub fn param(&self, path: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, v)| v.as_str())
    }

    /// The number the grid parameter `path` stands for on an axis (a rate
    /// per second for `load.CLASS.rate`, a count otherwise).
    pub fn axis(&self, path: &str) -> Option<f64> {
        chokepoint_scenario::spec::axis_value(path, self.param(path)?)
    }

    /// The p99 of its slowest class (what an SLO on every class looks at).
    pub fn worst_p99(&self) -> f64 {
        self.result
            .classes
            .values()
            .filter_map(|c| c.latency.p99)
            .fold(0.0, f64::max)
    }

    /// The SLO's verdict: met, missed, or not judged.
    pub fn met(&self) -> Option<bool> {
        self.slo.as_ref().map(|v| v.met)
    }

    /// What the point costs per hour, if it is priced.
    pub fn cost(&self) -> Option<f64> {
        self.result.cost.as_ref().and_then(|c| c.per_hour)
    }

    /// Whether the point held a steady state: no replication stopped
    /// early, no worker pool's backlog grew without bound, and no class
    /// left more than 2% of its arrivals in the system at the end.
    pub fn stable(&self) -> bool {
        self.result.stopped.is_empty()
            && !self
                .result
                .stations
                .values()
                .any(|s| s.workers.as_ref().is_some_and(|w| w.unstable))
            && self
                .result
                .classes
                .values()
                .all(|c| c.left.is_none_or(|x| x <= 0.02))
    }

    /// A class's completions per second over its arrivals per second
    /// (below 1: it could not keep up, or lost requests).
    pub fn kept_up(&self, class: &str) -> Option<f64> {
        let c = self.result.classes.get(class)?;
        Some(c.throughput? / c.offered?)
    }
}

/// Reads point lines, skipping any line that is not a complete point (the
/// last line of a file whose writer was killed). Returns the lines and how
/// many were skipped.
pub fn parse_lines(text: &str) -> (Vec<PointLine>, usize) {
    let mut lines = Vec::new();
    let mut skipped = 0;
    for raw in text.split_inclusive('\n') {
        let parsed = raw
            .ends_with('\n')
            .then(|| serde_json::from_str::<Value>(raw).ok())
            .flatten()
            .and_then(|value| {
                Some(PointLine {
                    fingerprint: value.get("fingerprint")?.as_str()?.to_owned(),
                    point: usize::try_from(value.get("point")?.as_u64()?).ok()?,
                    points: usize::try_from(value.get("points")?.as_u64()?).ok()?,
                    view: PointView::of(&value),
                    value,
                    raw: raw.trim_end_matches('\n').to_owned(),
                })
            });
        match parsed {
            Some(line) => lines.push(line),
            None if raw.trim().is_empty() => {}
            None => skipped += 1,
        }
    }
    (lines, skipped)
}

/// Flattens a JSON value into dotted keys, in key order.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Array(items) => {
            let joined: Vec<String> = items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect();
            out.push((prefix.to_owned(), joined.join("; ")));
        }
        Value::Null => out.push((prefix.to_owned(), String::new())),
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The sweep's final files from its point lines: the JSON lines sorted by
/// point (one per point; the last one wins if a point appears twice), and a
/// CSV with one row per point and one column per figure (the union of all
/// lines' keys, in the order they first appear). The fingerprint is left out
/// of the CSV.
pub fn finish(lines: &[PointLine]) -> (String, String) {
    let mut by_point: BTreeMap<usize, &PointLine> = BTreeMap::new();
    for line in lines {
        by_point.insert(line.point, line);
    }
    let mut jsonl = String::new();
    let mut columns: Vec<String> = Vec::new();
    let mut rows: Vec<BTreeMap<String, String>> = Vec::new();
    for line in by_point.values() {
        jsonl.push_str(&line.raw);
        jsonl.push('\n');
        let mut cells = Vec::new();
        flatten("", &line.value, &mut cells);
        cells.retain(|(k, _)| k != "fingerprint");
        for (k, _) in &cells {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
        rows.push(cells.into_iter().collect());
    }
    let mut csv = columns
        .iter()
        .map(|c| csv_field(c))
        .collect::<Vec<_>>()
        .join(",");
    csv.push('\n');
    for row in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| row.get(c).map_or(String::new(), |v| csv_field(v)))
            .collect();
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    (jsonl, csv)
}

/// The grid parameter that sets a class's arrival rate, if the sweep has one.
pub fn load_rate_path(view: &PointView) -> Option<String> {
    view.params
        .iter()
        .map(|(p, _)| p)
        .find(|k| Knob::of(k) == Knob::Rate)
        .cloned()
}

/// The points no other point beats on both coordinates (lower is better), by x.
pub fn frontier(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(xa, ya)| {
            !points
                .iter()
                .any(|&(xb, yb)| xb <= xa && yb <= ya && (xb < xa || yb < ya))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_last_lines_are_skipped() {
        let text = "{\"fingerprint\":\"f\",\"point\":1,\"points\":2}\n{\"fingerprint\":\"f\",\"poi";
        let (lines, skipped) = parse_lines(text);
        assert_eq!(lines.len(), 1);
        assert_eq!(skipped, 1);
        assert_eq!(lines[0].point, 1);
    }

    #[test]
    fn finish_sorts_dedupes_and_flattens() {
        let text = concat!(
            "{\"fingerprint\":\"f\",\"point\":1,\"points\":2,\"result\":{\"x\":2.5,\"ok\":true},\"label\":\"b, c\"}\n",
            "{\"fingerprint\":\"f\",\"point\":0,\"points\":2,\"result\":{\"x\":1},\"label\":\"a\"}\n",
            "{\"fingerprint\":\"f\",\"point\":1,\"points\":2,\"result\":{\"x\":3,\"ok\":true},\"label\":\"b, c\"}\n",
        );
        let (lines, _) = parse_lines(text);
        let (jsonl, csv) = finish(&lines);
        assert!(jsonl.starts_with("{\"fingerprint\":\"f\",\"point\":0"));
        assert_eq!(jsonl.lines().count(), 2);
        assert_eq!(
            csv,
            "point,points,result.x,label,result.ok\n0,2,1,a,\n1,2,3,\"b, c\",true\n"
        );
    }
}

/// The choices a sweep supports, per load level (each value of a
/// `load.CLASS.rate` parameter; the whole sweep when there is none): the
/// cheapest point that meets the SLO, and the cost against p99 Pareto
/// frontier (the points that no other point beats on both). Costs come
/// from replicated services; without them there is nothing to decide on and
/// the text says so.
pub fn decisions(lines: &[PointLine]) -> String {
    let mut sorted: Vec<&PointLine> = lines.iter().collect();
    sorted.sort_by_key(|l| l.point);
    let cost = |l: &PointLine| l.view.cost();
    if sorted.iter().all(|l| cost(l).is_none()) {
        return "no replicated service in this sweep, so no cost to decide on\n".into();
    }
    // p99 of the slowest class: what an SLO on every class looks at.
    let p99 = |l: &PointLine| l.view.worst_p99();
    let load_path = sorted.first().and_then(|l| load_rate_path(&l.view));
    let mut levels: Vec<(String, Vec<&PointLine>)> = Vec::new();
    for line in &sorted {
        let level = load_path
            .as_deref()
            .and_then(|p| line.view.param(p))
            .map_or_else(|| "all points".to_owned(), str::to_owned);
        match levels.iter_mut().find(|(l, _)| *l == level) {
            Some((_, points)) => points.push(line),
            None => levels.push((level, vec![line])),
        }
    }
    let judged = sorted.iter().any(|l| l.view.slo.is_some());
    let describe = |l: &PointLine| {
        format!(
            "point {} ({}): ${:.3}/h, p99 {:.4} s (its slowest class)",
            l.point,
            l.view.label,
            cost(l).unwrap_or(f64::NAN),
            p99(l)
        )
    };
    let mut out = String::new();
    for (level, points) in levels {
        let heading = match &load_path {
            Some(p) => format!("{p} = {level}"),
            None => level,
        };
        out.push_str(&format!("{heading}\n"));
        if judged {
            let best = points
                .iter()
                .filter(|l| l.view.met() == Some(true))
                .min_by(|a, b| {
                    cost(a)
                        .unwrap_or(f64::INFINITY)
                        .total_cmp(&cost(b).unwrap_or(f64::INFINITY))
                        .then(p99(a).total_cmp(&p99(b)))
                });
            match best {
                Some(l) => out.push_str(&format!("  cheapest meeting the SLO: {}\n", describe(l))),
                None => out.push_str("  no point meets the SLO\n"),
            }
        }
        // Points that cost the same (to the cent): typically a bigger
        // machine against more replicas, the comparison a review asks for.
        let mut by_cost: BTreeMap<i64, Vec<&PointLine>> = BTreeMap::new();
        for l in &points {
            if let Some(c) = cost(l) {
                by_cost
                    .entry((c * 100.0).round() as i64)
                    .or_default()
                    .push(l);
            }
        }
        for (cents, same) in by_cost.iter().filter(|(_, v)| v.len() > 1) {
            out.push_str(&format!(
                "  at equal cost, ${:.2}/h:\n",
                *cents as f64 / 100.0
            ));
            for l in same {
                let verdict = match l.view.met() {
                    Some(true) => ", SLO met",
                    Some(false) => ", SLO missed",
                    None => "",
                };
                out.push_str(&format!(
                    "    point {} ({}): p99 {:.4} s{verdict}\n",
                    l.point,
                    l.view.label,
                    p99(l)
                ));
            }
        }
        // Over the steady points only, as the chart: an overloaded
        // point's p99 is the run's length, not the design's.
        let steady: Vec<&PointLine> = points.iter().copied().filter(|l| l.view.stable()).collect();
        let coords: Vec<(f64, f64)> = steady
            .iter()
            .map(|l| (cost(l).unwrap_or(f64::INFINITY), p99(l)))
            .collect();
        let best = frontier(&coords);
        let mut frontier: Vec<&PointLine> = steady
            .iter()
            .copied()
            .filter(|l| best.contains(&(cost(l).unwrap_or(f64::INFINITY), p99(l))))
            .collect();
        frontier.sort_by(|a, b| {
            cost(a)
                .unwrap_or(f64::INFINITY)
                .total_cmp(&cost(b).unwrap_or(f64::INFINITY))
        });
        out.push_str("  cost against p99, Pareto frontier:\n");
        for l in frontier {
            out.push_str(&format!("    {}\n", describe(l)));
        }
    }
    out
}

#[cfg(test)]
mod decision_tests {
    use super::*;

    fn line(point: usize, rate: &str, cost: f64, p99: f64, met: bool) -> String {
        format!(
            "{{\"fingerprint\":\"f\",\"point\":{point},\"points\":4,\"label\":\"p{point}\",\"params\":{{\"load.web.rate\":\"{rate}\"}},\"slo\":{{\"met\":{met}}},\"result\":{{\"classes\":{{\"web\":{{\"latency\":{{\"p99\":{p99}}}}}}},\"cost\":{{\"per_hour\":{cost}}}}}}}\n"
        )
    }

    #[test]
    fn cheapest_meeting_the_slo_and_the_frontier() {
        let text = [
            line(0, "100/s", 1.0, 0.050, true),
            line(1, "100/s", 2.0, 0.020, true),
            line(2, "100/s", 3.0, 0.030, true),
            line(3, "200/s", 1.0, 9.0, false),
        ]
        .concat();
        let (lines, _) = parse_lines(&text);
        let d = decisions(&lines);
        assert!(
            d.contains("load.web.rate = 100/s\n  cheapest meeting the SLO: point 0 (p0): $1.000/h"),
            "{d}"
        );
        // Point 2 costs more than point 1 and is slower: not on the frontier.
        assert!(
            d.contains("    point 1 (p1)") && !d.contains("    point 2 (p2)"),
            "{d}"
        );
        assert!(
            d.contains("load.web.rate = 200/s\n  no point meets the SLO"),
            "{d}"
        );
        // Points 0 (100/s) and 3 (200/s) cost the same but are at different loads: not paired.
        assert!(!d.contains("at equal cost"), "{d}");
        let pair = [
            line(0, "100/s", 1.0, 0.050, true),
            line(1, "100/s", 1.0, 0.020, true),
        ]
        .concat();
        let (lines, _) = parse_lines(&pair);
        let d = decisions(&lines);
        assert!(
            d.contains(
                "at equal cost, $1.00/h:\n    point 0 (p0): p99 0.0500 s, SLO met\n    point 1 (p1)"
            ),
            "{d}"
        );
    }
}
