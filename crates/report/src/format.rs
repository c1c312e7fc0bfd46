//! Renderings of a [`Summary`].

use std::fmt::Write;

use crate::figures::{self, Cell, Figure, Unit};
use crate::summary::{ResilienceSummary, Summary};

/// The JSON contract of MODEL.md §5, pretty-printed, with a final newline.
pub fn json(summary: &Summary) -> String {
    // Serialising plain structs, maps with string keys and finite-or-null
    // floats cannot fail.
    let mut out = serde_json::to_string_pretty(summary).expect("summary serialises");
    out.push('\n');
    out
}

/// A tidy CSV: one row per figure, `section,name,metric,value,ci95`, the
/// figures of `figures.rs` in their order. Times in seconds, rates
/// per second; an empty cell where there is no value.
pub fn csv(summary: &Summary) -> String {
    let mut out = String::from("section,name,metric,value,ci95\n");
    let cell = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v}"));
    let mut row = |section: &str, name: &str, metric: &str, c: Cell| {
        let _ = writeln!(
            out,
            "{section},{},{},{},{}",
            csv_field(name),
            csv_field(metric),
            cell(c.value),
            cell(c.ci95)
        );
    };
    for (name, c) in &summary.classes {
        for (metric, value) in figures::rows(&figures::CLASS, c) {
            row("class", name, &metric, value);
        }
    }
    for (name, s) in &summary.stations {
        for (metric, value) in figures::rows(&figures::STATION, s) {
            row("station", name, &metric, value);
        }
    }
    for s in &summary.stopped {
        let name = format!("{}:{}", s.replication, s.cause);
        let figures = [
            ("at", Some(s.at)),
            ("measured", Some(s.measured)),
            ("limit", s.limit.map(|n| n as f64)),
            ("present", s.present.map(|n| n as f64)),
            ("growth_per_sec", s.growth_per_sec),
        ];
        for (metric, value) in figures {
            if value.is_some() {
                row("stopped", &name, metric, Cell { value, ci95: None });
            }
        }
    }
    if let Some(i) = summary.interrupted {
        for (metric, n) in [("asked", i.asked), ("finished", i.finished)] {
            let value = Some(f64::from(n));
            row("interrupted", "", metric, Cell { value, ci95: None });
        }
    }
    for f in &summary.faults {
        let figures = [
            ("occurrences", Some(f.occurrences), None),
            ("active_share", Some(f.active_share), f.active_share_ci95),
            ("failed", Some(f.failed as f64), None),
            ("refused", Some(f.refused as f64), None),
        ];
        for (metric, value, ci95) in figures {
            row("fault", &f.name, metric, Cell { value, ci95 });
        }
    }
    if let Some(c) = &summary.cost {
        let figures = [
            ("per_hour", Some(c.per_hour)),
            ("per_million_requests", c.per_million_requests),
        ];
        for (metric, value) in figures {
            row("cost", "", metric, Cell { value, ci95: None });
        }
    }
    if let Some(v) = &summary.slo {
        let value = Some(f64::from(u8::from(v.met)));
        row("slo", "", "met", Cell { value, ci95: None });
        for violation in &v.violations {
            let value = Some(1.0);
            row("slo", violation, "violated", Cell { value, ci95: None });
        }
    }
    for b in &summary.analytic {
        let figures = [
            ("analytic", Some(b.analytic), None),
            ("simulated", Some(b.simulated), b.simulated_ci95),
            (
                "agrees",
                Some(f64::from(u8::from(b.verdict != "differs"))),
                None,
            ),
        ];
        for (metric, value, ci95) in figures {
            row("analytic", &b.resource, metric, Cell { value, ci95 });
        }
    }
    for w in &summary.warnings {
        row(
            "warning",
            w,
            "",
            Cell {
                value: None,
                ci95: None,
            },
        );
    }
    if let Some(m) = &summary.metastability {
        let figures = [
            ("metastable", Some(f64::from(u8::from(m.metastable)))),
            ("trigger_ended", Some(m.trigger_ended)),
            ("measured_from", Some(m.measured_from)),
            ("goodput", Some(m.goodput)),
            ("control_goodput", Some(m.control_goodput)),
            ("retries_share", m.retries_share),
            ("wasted_share", m.wasted_share),
        ];
        for (metric, value) in figures {
            row("metastability", "", metric, Cell { value, ci95: None });
        }
    }
    out
}

/// What the table says first when the run is not what was asked: the
/// replications that stopped early, and an interruption.
pub(crate) fn caveats(summary: &Summary) -> String {
    let mut out = String::new();
    let stopped = |cause: &str| -> Vec<&crate::summary::StoppedRun> {
        summary
            .stopped
            .iter()
            .filter(|s| s.cause == cause)
            .collect()
    };
    let which = |runs: &[&crate::summary::StoppedRun]| {
        let list: Vec<String> = runs.iter().map(|s| s.replication.to_string()).collect();
        let what = if runs.len() == 1 {
            "replication"
        } else {
            "replications"
        };
        format!("{what} {} of {}", list.join(", "), summary.replications)
    };
    let mean = |runs: &[&crate::summary::StoppedRun],
                f: &dyn Fn(&crate::summary::StoppedRun) -> f64| {
        runs.iter().map(|s| f(s)).sum::<f64>() / runs.len() as f64
    };
    let crowded = stopped("in_system");
    if !crowded.is_empty() {
        // The service most of them name.
        let mut services: Vec<&str> = crowded
            .iter()
            .filter_map(|s| s.service.as_deref())
            .collect();
        services.sort_unstable();
        let service = services
            .chunk_by(|a, b| a == b)
            .max_by_key(|c| c.len())
            .map_or("?", |c| c[0]);
        let _ = writeln!(
            out,
            "STOPPED EARLY: {} held {} requests (the limit, --max-in-system) after {} s of simulated time on average ({} s measured{}); most were at `{service}`, piling up at {}/s. The system is overloaded: every figure below covers only that time and is a lower bound of the damage.",
            which(&crowded),
            count(crowded[0].limit.unwrap_or(0)),
            sig3(mean(&crowded, &|s| s.at)),
            sig3(mean(&crowded, &|s| s.measured)),
            if crowded.iter().any(|s| s.at < summary.warmup) {
                ", warm-up included, for those stopped during it"
            } else {
                ""
            },
            count(mean(&crowded, &|s| s.growth_per_sec.unwrap_or(0.0)).round() as u64),
        );
    }
    let slow = stopped("time_limit");
    if !slow.is_empty() {
        let _ = writeln!(
            out,
            "STOPPED EARLY: {} passed the wall-clock limit (--time-limit) after {} s of simulated time on average, of {} s asked: their figures cover only that time.",
            which(&slow),
            sig3(mean(&slow, &|s| s.at)),
            sig3(summary.warmup + summary.duration),
        );
    }
    if let Some(i) = summary.interrupted {
        let _ = writeln!(
            out,
            "PARTIAL: interrupted; {} of the {} replications asked had finished and are summarized below.",
            i.finished, i.asked
        );
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// What the table shows where a figure has no value (a latency when
/// nothing completed): a dash, never a zero that reads as good news.
pub(crate) const NONE: &str = "—";

/// Three significant digits, without exponent for everyday magnitudes.
pub(crate) fn sig3(x: f64) -> String {
    sig(x, 3)
}

/// `digits` significant digits (at most 6 decimals), without exponent.
fn sig(x: f64, digits: i32) -> String {
    if x.is_infinite() {
        return if x > 0.0 { "∞" } else { "-∞" }.into();
    }
    if x == 0.0 || x.is_nan() {
        return if x.is_nan() { NONE.into() } else { "0".into() };
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).clamp(0, 6) as usize;
    format!("{x:.decimals$}")
}

/// A confidence half-width: two significant digits are all it can tell.
fn half_width(x: f64) -> String {
    sig(x, 2)
}

/// A duration in seconds with a readable unit; the same unit for its ± part.
pub(crate) fn duration(x: Option<f64>, ci: Option<f64>) -> String {
    let Some(mut x) = x else {
        return NONE.into();
    };
    // Below half a nanosecond is rounding noise of integer simulated time.
    if x.abs() < 0.5e-9 {
        x = 0.0;
    }
    let ci = ci.map(|c| if c < 0.5e-9 { 0.0 } else { c });
    // The larger of the value and its half-width picks the unit, so
    // that the half-width is never shown in thousands of a smaller one.
    let (scale, unit) = match x.abs().max(ci.unwrap_or(0.0)) {
        v if v >= 1.0 => (1.0, "s"),
        v if v >= 1e-3 => (1e3, "ms"),
        v if v >= 1e-6 => (1e6, "µs"),
        0.0 => (1e3, "ms"),
        _ => (1e9, "ns"),
    };
    match ci {
        Some(half) => format!("{} ±{} {unit}", sig3(x * scale), half_width(half * scale)),
        None => format!("{} {unit}", sig3(x * scale)),
    }
}

/// A fraction as a percentage, with its ± part.
pub(crate) fn percent(x: f64, ci: Option<f64>) -> String {
    match ci {
        Some(half) => format!("{}% ±{}", sig3(100.0 * x), half_width(100.0 * half)),
        None => format!("{}%", sig3(100.0 * x)),
    }
}

/// A figure as the table shows it, by its unit; a dash where it does not
/// apply or has no value.
fn show<T>(f: &Figure<T>, of: &T) -> String {
    if f.applies.is_some_and(|applies| !applies(of)) {
        return "–".into();
    }
    shown(f.unit, (f.read)(of))
}

/// A cell as the tables show it, by its unit: a dash for no value.
pub(crate) fn shown(unit: Unit, cell: Option<Cell>) -> String {
    match (unit, cell) {
        (Unit::Servers, None) => "∞".into(),
        (Unit::Servers, Some(c)) => format!("{}", c.value.unwrap_or(0.0)),
        (_, None) => NONE.into(),
        (Unit::Seconds, Some(c)) => duration(c.value, c.ci95),
        (_, Some(Cell { value: None, .. })) => NONE.into(),
        (Unit::Count, Some(c)) => count(c.value.unwrap_or(0.0) as u64),
        (Unit::Number, Some(c)) => plain(c.value.unwrap_or(f64::NAN), c.ci95),
        (Unit::Percent, Some(c)) => percent(c.value.unwrap_or(f64::NAN), c.ci95),
        (Unit::Dollars, Some(c)) => dollars(c.value.unwrap_or(f64::NAN)),
        (Unit::Verdict, Some(c)) => if c.value == Some(1.0) {
            "met"
        } else {
            "missed"
        }
        .into(),
    }
}

/// Dollars, to three significant digits, as the run's cost line.
fn dollars(x: f64) -> String {
    format!("${}", sig3(x))
}

pub(crate) fn plain(x: f64, ci: Option<f64>) -> String {
    match ci {
        Some(half) => format!("{} ±{}", sig3(x), half_width(half)),
        None => sig3(x),
    }
}

fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Left-aligns the first column, right-aligns the others.
pub(crate) fn render(out: &mut String, rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            if c == 0 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str("  ");
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// A table's header row: `first`, then each figure's column.
fn header<T>(first: &str, columns: &[&Figure<T>]) -> Vec<String> {
    std::iter::once(first.to_owned())
        .chain(columns.iter().filter_map(|f| f.column.map(String::from)))
        .collect()
}

/// A table's row: `name`, then each figure as shown.
fn line<T>(name: &str, columns: &[&Figure<T>], of: &T) -> Vec<String> {
    std::iter::once(name.to_owned())
        .chain(columns.iter().map(|f| show(f, of)))
        .collect()
}

/// What a station's or service's timeouts, retries and wasted work come
/// to, in one line.
/// Where a service's time goes: `api: 8.76 ms per request = pool wait 0 ms
/// + queue 11.2 µs + work 995 µs + db 7.76 ms`.
pub(crate) fn breakdown_line(name: &str, s: &crate::summary::StationSummary) -> Option<String> {
    let (b, response) = (s.breakdown.as_ref()?, s.mean_response?);
    Some(format!(
        "{name}: {}",
        time_spent(response, &b.parts(s.workers.is_some()))
    ))
}

/// `8.76 ms per request = pool wait 0 ms + queue 11.2 µs + ...`: a mean
/// response and the parts it adds up from.
pub(crate) fn time_spent(response: f64, parts: &[(String, Option<f64>)]) -> String {
    let parts: Vec<String> = parts
        .iter()
        .map(|(what, t)| format!("{what} {}", duration(*t, None)))
        .collect();
    format!(
        "{} per request = {}",
        duration(Some(response), None),
        parts.join(" + ")
    )
}

/// A service's resilience figures, in one line.
fn resilience_line(r: &ResilienceSummary) -> String {
    let mut parts = Vec::new();
    if r.calls > 0 {
        parts.push(format!(
            "{} calls, {} attempts each",
            count(r.calls),
            r.attempts_per_call.map_or(NONE.into(), sig3)
        ));
    }
    let mut counted = |n: u64, what: &str| {
        if n > 0 {
            parts.push(format!("{} {what}", count(n)));
        }
    };
    counted(r.timeouts, "timed out");
    counted(r.retries, "retries");
    counted(r.retries_refused, "retries refused by the budget");
    counted(r.hedges, "hedged copies");
    counted(r.late_replies, "late replies ignored");
    counted(r.expired, "dropped past their deadline");
    counted(r.cancelled, "cancelled at their deadline");
    counted(r.shed, "shed by CoDel");
    counted(r.rate_limited, "rejected by the rate limit");
    counted(r.ejections, "outliers ejected");
    if let (Some(open), Some(half)) = (r.breaker_open, r.breaker_half_open)
        && r.breaker_opened > 0
    {
        parts.push(format!(
            "breaker opened {} times, open {}% and half-open {}% of the time, {} calls refused",
            count(r.breaker_opened),
            sig3(100.0 * open),
            sig3(100.0 * half),
            count(r.breaker_rejected)
        ));
    }
    if r.delayed > 0 {
        parts.push(format!(
            "{} delayed by the rate limit ({} on average)",
            count(r.delayed),
            duration(r.mean_delay, None)
        ));
    }
    if let Some(w) = r.wasted.filter(|&w| w > 0.0) {
        parts.push(format!(
            "{}% of its work for callers that had given up",
            sig3(100.0 * w)
        ));
    }
    if parts.is_empty() {
        parts.push("no timeout, retry or wasted work".into());
    }
    parts.join(", ")
}

/// The two tables of a run, header row first: per class, then per
/// station, each figure as shown (the text table and the HTML report).
pub(crate) fn summary_rows(summary: &Summary) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    // A `failed` column only when a dependency can fail, `timed out` only
    // when something timed out.
    let failures = summary.classes.values().any(|c| c.failed > 0);
    let timeouts = summary.classes.values().any(|c| c.timed_out > 0);
    let rejections = summary.classes.values().any(|c| c.rejected > 0);
    let columns: Vec<&Figure<_>> = figures::columns(&figures::CLASS)
        .filter(|f| failures || f.csv != Some("failed"))
        .filter(|f| timeouts || f.csv != Some("timed_out"))
        .filter(|f| rejections || f.csv != Some("rejected"))
        .collect();
    let mut classes = vec![header("class", &columns)];
    for (name, c) in &summary.classes {
        classes.push(line(name, &columns, c));
    }
    let columns: Vec<&Figure<_>> = figures::columns(&figures::STATION).collect();
    let mut stations = vec![header("station", &columns)];
    for (name, s) in &summary.stations {
        stations.push(line(name, &columns, s));
    }
    (classes, stations)
}

/// A table for people: per class, then per station, with units and ± for
/// 95% confidence intervals across replications.
pub fn table(summary: &Summary) -> String {
    let mut out = String::new();
    // What was measured: as asked, or less for replications that stopped.
    let measured = if summary.stopped.is_empty() {
        format!("{} s measured", sig3(summary.duration))
    } else {
        format!("{} s asked", sig3(summary.duration))
    };
    let _ = writeln!(
        out,
        "{} · {} replication(s) × {measured} after {} s warm-up · seed {}",
        summary.scenario,
        summary.replications,
        sig3(summary.warmup),
        summary.seed
    );
    out.push_str(&caveats(summary));
    out.push('\n');
    let (classes, stations) = summary_rows(summary);
    render(&mut out, &classes);
    out.push('\n');
    render(&mut out, &stations);
    out.push('\n');
    out.push_str(&notes(summary));
    out
}

/// What the table for people says after its two tables: the legend,
/// late requests, metastability, faults, where time goes, resources and
/// costs, the capacity table beside the run, cost, SLO and the engine's
/// counters (the Markdown shows it as it is).
pub(crate) fn notes(summary: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "± = 95% confidence half-width across replications; percentiles pooled over all replications; counts are totals."
    );
    for (name, c) in &summary.classes {
        if c.late > 0 {
            let _ = writeln!(
                out,
                "{name}: {} request(s) completed after their client gave up: work done for nobody",
                count(c.late)
            );
        }
    }
    if let Some(m) = &summary.metastability {
        let sustained = match (m.retries_share, m.wasted_share) {
            (Some(r), Some(w)) => format!(
                "; sustaining effect: retries are {}% of attempts, {}% of work is wasted",
                sig3(100.0 * r),
                sig3(100.0 * w)
            ),
            (None, Some(w)) => format!("; {}% of work is wasted", sig3(100.0 * w)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{}: goodput {}% of offered load from {} s, {} s after the trigger ended (control without it, same seeds: {}%){}",
            if m.metastable {
                "METASTABLE"
            } else {
                "recovered"
            },
            sig3(100.0 * m.goodput),
            sig3(m.measured_from),
            sig3(m.measured_from - m.trigger_ended),
            sig3(100.0 * m.control_goodput),
            if m.metastable {
                sustained
            } else {
                String::new()
            }
        );
    }
    for f in &summary.faults {
        let mut lost = String::new();
        if f.failed > 0 {
            let _ = write!(lost, "; {} request(s) failed with it", count(f.failed));
        }
        if f.refused > 0 {
            let _ = write!(lost, "; {} refused while it was down", count(f.refused));
        }
        let _ = writeln!(
            out,
            "fault {}: {} occurrence(s) per replication, under way {}% of the time{}{lost}",
            f.name,
            if f.occurrences >= 1000.0 {
                count(f.occurrences.round() as u64)
            } else {
                sig3(f.occurrences)
            },
            sig3(100.0 * f.active_share),
            f.active_share_ci95
                .filter(|&h| 100.0 * h >= 0.005)
                .map(|h| format!(" ±{}", half_width(100.0 * h)))
                .unwrap_or_default(),
        );
    }
    for (name, s) in &summary.stations {
        if let Some(r) = &s.resilience {
            let _ = writeln!(out, "{name}: {}", resilience_line(r));
        }
        if let Some(line) = breakdown_line(name, s) {
            let _ = writeln!(out, "{line}");
        }
        if let (Some(w), None) = (&s.workers, &s.profile) {
            let _ = writeln!(
                out,
                "{name}: {} {} ({}% held), {} waiting for one, {} wait",
                w.slots,
                if w.connects.is_some() {
                    "pooled connections"
                } else {
                    "slots"
                },
                sig3(100.0 * w.utilization),
                sig3(w.mean_waiting),
                duration(w.mean_wait, None)
            );
        }
        if let Some(g) = s.backlog_growth {
            let _ = writeln!(
                out,
                "{name}: UNSTABLE: requests pile up in it by {}/s ±{} and would grow without bound; it needs more capacity, or less load",
                sig3(g),
                half_width(s.backlog_growth_ci95.unwrap_or(0.0))
            );
        }
        if let Some(w) = s.workers.as_ref().filter(|w| w.unstable) {
            let _ = writeln!(
                out,
                "{name}: UNSTABLE: its backlog grows by {}/s ±{} and would grow without bound; it needs more capacity behind it",
                sig3(w.backlog_growth),
                half_width(w.backlog_growth_ci95.unwrap_or(0.0))
            );
        }
        // Only when connections are opened: a pool that opened them all
        // during the warmup and keeps them has nothing to say here.
        if let Some(c) = s
            .workers
            .as_ref()
            .and_then(|w| w.connects)
            .filter(|&c| c > 0.0)
        {
            let _ = writeln!(out, "{name}: {} connections opened per second", sig3(c));
        }
        if let Some(r) = &s.replication {
            let ratio = match (r.stale_ratio, r.stale_ratio_ci95) {
                (Some(x), Some(ci)) => format!("{}% ±{}", sig3(100.0 * x), half_width(100.0 * ci)),
                (Some(x), None) => format!("{}%", sig3(100.0 * x)),
                (None, _) => NONE.into(),
            };
            let _ = writeln!(
                out,
                "{name}: {} read replica{}: {} reads, {ratio} stale (a write not yet replicated); {} writes at the leader",
                r.followers,
                if r.followers == 1 { "" } else { "s" },
                count(r.reads),
                count(r.writes)
            );
        }
        if let Some(h) = &s.shards {
            let hot = &h.shards[h.hottest as usize];
            let saturates = match h.saturates_at {
                Some(x) => format!(
                    "; the service saturates at {}/s{}",
                    sig3(x),
                    h.saturates_at_ci95
                        .map_or(String::new(), |c| format!(" ±{}", half_width(c)))
                ),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "{name}: {} shards: the hottest, shard {}, takes {}% of the requests (even: {}%), its busiest resource {}% busy{saturates}",
                h.shards.len(),
                h.hottest,
                plain(
                    100.0 * h.hottest_share,
                    h.hottest_share_ci95.map(|c| 100.0 * c)
                ),
                sig3(100.0 * h.even_share),
                plain(
                    100.0 * hot.utilization,
                    hot.utilization_ci95.map(|c| 100.0 * c)
                ),
            );
        }
        if let Some(g) = &s.gc {
            let per_replica: Vec<String> = g
                .replicas
                .iter()
                .map(|r| {
                    format!(
                        "{} ({}, longest {})",
                        count(r.pauses),
                        duration(Some(r.total), None),
                        duration(Some(r.longest), None)
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "{name}: GC paused {}% of the time: {} pauses/s of {} on average, the longest {}; per replica: {}",
                plain(100.0 * g.paused, g.paused_ci95.map(|c| 100.0 * c)),
                sig3(g.pauses_per_sec),
                duration(g.mean_pause, None),
                duration(Some(g.longest), None),
                per_replica.join(", ")
            );
        }
        if let Some(c) = &s.cache {
            let ratio = match (c.hit_ratio, c.hit_ratio_ci95) {
                (Some(h), Some(ci)) => format!("{}% ±{}", sig3(100.0 * h), half_width(100.0 * ci)),
                (Some(h), None) => format!("{}%", sig3(100.0 * h)),
                (None, _) => NONE.into(),
            };
            let mut line = format!(
                "{name}: hit ratio {ratio} ({} hits, {} misses)",
                count(c.hits),
                count(c.misses)
            );
            if c.writes > 0 {
                let _ = write!(line, ", {} writes", count(c.writes));
            }
            if c.flushed > 0 || c.writes_at_risk > 0.0 {
                let _ = write!(
                    line,
                    ", {} dirty entries at risk on average (at most {}) until flushed",
                    sig3(c.writes_at_risk),
                    count(c.writes_at_risk_max)
                );
            }
            let _ = writeln!(out, "{line}");
        }
        for (lock, l) in s.locks.iter().flatten() {
            let _ = writeln!(
                out,
                "{name}: lock {lock}: {} stripe{} {}% held, {} acquisitions/s, {} wait, {} hold",
                l.stripes,
                if l.stripes == 1 { "" } else { "s" },
                sig3(100.0 * l.utilization),
                sig3(l.throughput),
                duration(l.mean_wait, l.mean_wait_ci95),
                duration(l.mean_hold, None)
            );
        }
        if let (Some(true), Some(b)) = (s.uneven_load, s.busiest_replica) {
            let _ = writeln!(
                out,
                "{name}: uneven load: the busiest replica's CPU is {}% busy, {}% on average",
                sig3(100.0 * b),
                sig3(100.0 * s.utilization)
            );
        }
        if let (Some(replicas), Some(profile)) = (s.replicas, &s.profile) {
            let workers = s.workers.as_ref().map_or(String::new(), |w| {
                format!(
                    ", {} {} ({}% held, {} waiting)",
                    w.slots,
                    if w.connects.is_some() {
                        "pooled connections"
                    } else {
                        "worker slots"
                    },
                    sig3(100.0 * w.utilization),
                    sig3(w.mean_waiting)
                )
            });
            let count = match &s.autoscaling {
                Some(a) => format!(
                    "{}–{} (autoscaled, {} billed on average)",
                    a.min,
                    a.max,
                    sig3(a.mean_billed)
                ),
                None => replicas.to_string(),
            };
            let _ = writeln!(
                out,
                "{name}: {count} × {profile}{workers}, ${}/h",
                sig3(s.cost_per_hour.unwrap_or(0.0))
            );
        }
        if let Some(a) = &s.autoscaling {
            let _ = writeln!(
                out,
                "{name}: autoscaling: {} ready on average (peak {} asked), {} scale-ups and {} scale-ins per replication, at its max {}% of the time, {} replica-hours",
                sig3(a.mean_ready),
                a.peak,
                sig3(a.scale_ups),
                sig3(a.scale_ins),
                sig3(100.0 * a.at_max_share),
                sig3(a.replica_hours)
            );
        }
    }
    for (class, t) in &summary.theory {
        let _ = writeln!(
            out,
            "{class}: exact mean latency (closed form) {}: the simulation {}",
            duration(Some(t.mean), None),
            if t.agrees {
                "agrees, within its interval".to_owned()
            } else {
                format!(
                    "differs by {} (beyond its 99.9% interval: a longer run, or a model the formula does not describe)",
                    duration(Some(t.difference), None)
                )
            }
        );
    }
    out.push_str(&beside_table(&summary.analytic));
    if let Some(cost) = &summary.cost {
        let per_million = cost.per_million_requests.map_or(String::new(), |c| {
            format!(", ${} per million requests", sig3(c))
        });
        let _ = writeln!(
            out,
            "cost: ${}/h{per_million} (illustrative list prices)",
            sig3(cost.per_hour)
        );
    }
    if let Some(verdict) = &summary.slo {
        if verdict.met {
            let _ = writeln!(out, "SLO: met");
        } else {
            let _ = writeln!(out, "SLO: missed ({})", verdict.violations.join("; "));
        }
    }
    for warning in &summary.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    let _ = writeln!(
        out,
        "engine: {} events in {:.2} s ({:.1} M events/s)",
        count(summary.engine.events),
        summary.engine.wall,
        summary.engine.events_per_sec / 1e6
    );
    out
}

/// The rows of `beside` as text, for a run's report; empty without rows.
fn beside_table(rows: &[crate::summary::Beside]) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "capacity table beside the simulation (mean utilisation; analytic: the operational laws):"
    );
    let mut table = vec![
        ["resource", "analytic", "simulated", ""]
            .map(String::from)
            .to_vec(),
    ];
    for b in rows {
        table.push(vec![
            b.resource.clone(),
            format!(
                "{}{}%",
                b.bound.trim_start_matches('='),
                sig3(100.0 * b.analytic)
            ),
            percent(b.simulated, b.simulated_ci95),
            match b.verdict {
                "agrees" | "below_bound" => String::new(),
                "above_bound" => "held longer than its work: waiting for its calls".into(),
                _ => "DIFFERS beyond its 99.9% interval".into(),
            },
        ]);
    }
    render(&mut out, &table);
    if rows.iter().any(|b| b.verdict == "differs") {
        let _ = writeln!(
            out,
            "DIFFERS: the run is not the steady state the laws describe: a cache still warming (a longer warm-up), faults, retries, hedges, timeouts, a breaker, shedding or drops (docs/diagnose.md)"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_numbers() {
        assert_eq!(sig3(0.0123456), "0.0123");
        assert_eq!(sig3(2.96), "2.96");
        assert_eq!(sig3(123.456), "123");
        assert_eq!(sig3(45678.9), "45679");
        assert_eq!(duration(Some(0.0042), Some(0.0001)), "4.20 ±0.10 ms");
        assert_eq!(duration(Some(1e-12), Some(0.0)), "0 ±0 ms");
        assert_eq!(duration(Some(12.5), None), "12.5 s");
        assert_eq!(duration(Some(250e-6), None), "250 µs");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }

    /// A class of which nothing completes has no latency: `null` in the
    /// JSON, empty in the CSV, a dash in the table; never a zero, which
    /// would read as good news. (Issue 12: it printed 0 ms and 0.0.)
    #[test]
    fn nothing_completed_is_no_latency_not_zero() {
        use chokepoint_core::dist::Dist;
        use chokepoint_core::model::*;
        use chokepoint_core::time::SimTime;
        // Every request takes an hour; the run lasts ten seconds.
        let topology = Topology {
            stations: vec![Station::new(
                "slow",
                1,
                Discipline::Fifo,
                vec![Some(Behaviour {
                    work: Dist::constant(3.6e12).unwrap(),
                    routing: Routing::exit(),
                })],
            )],
            classes: vec![Class {
                name: "jobs".into(),
                load: Load::Open {
                    process: ArrivalProcess::Poisson,
                    rate: 1.0,
                    profile: None,
                },
                entry: StationId(0),
                priority: 0,
                deadline: None,
                rate_limit: None,
            }],
            faults: Vec::new(),
            autoscalers: Vec::new(),
        };
        let config = RunConfig::new(SimTime::ZERO, SimTime::from_secs_f64(10.0));
        let runs: Vec<_> = (0..2)
            .map(|seed| chokepoint_core::run(&topology, &config, seed).unwrap())
            .collect();
        let info = crate::RunInfo {
            scenario: "slow".into(),
            seed: 0,
            warmup: 0.0,
            wall: 0.0,
            warnings: Vec::new(),
            services: Vec::new(),
            faults: Vec::new(),
        };
        let summary = crate::summarize(&info, &runs);
        let c = &summary.classes["jobs"];
        assert_eq!(c.completed, 0);
        let json: serde_json::Value = serde_json::from_str(&json(&summary)).unwrap();
        for key in ["mean", "p50", "p90", "p99", "p999", "max"] {
            assert!(json["classes"]["jobs"]["latency"][key].is_null(), "{key}");
        }
        let csv = csv(&summary);
        assert!(csv.contains("class,jobs,latency_p99,,\n"), "{csv}");
        assert!(csv.contains("class,jobs,latency_max,,\n"), "{csv}");
        let table = table(&summary);
        let row = table.lines().find(|l| l.starts_with("jobs")).unwrap();
        assert_eq!(row.matches(NONE).count(), 6, "{row}");
        assert!(!row.contains("0 ms"), "{row}");
    }
}
