//! One self-contained HTML page per report (`--html FILE`): its tables,
//! its charts as inline SVG, its CSS inline, no script and nothing fetched,
//! so that it opens from a mail attachment or a design document's folder.
//!
//! A page is a list of [`Block`]s rendered in order; `run`, `compare`,
//! `sweep` and `diagnose` each assemble theirs from what their text and
//! charts already show. Each chart is a `<figure class="chart"
//! data-kind="...">` holding one `<svg>`: the browser check
//! (`scripts/html-check`) counts them by kind.

use std::fmt::Write;

use crate::compare::Comparison;
use crate::plot::{self, Chart};
use crate::summary::Summary;

/// One part of a page.
#[derive(Clone, Debug)]
pub enum Block {
    /// A section's heading.
    Heading(String),
    /// A paragraph of text.
    Para(String),
    /// A table: its header row, then its rows; the first column names
    /// the row, the others are figures (right-aligned).
    Table(Vec<Vec<String>>),
    /// Preformatted text (the scenario, a text report).
    Pre(String),
    /// A chart: its kind (for the checks), caption and SVG.
    Chart {
        /// What it shows: `spectrum`, `cdf`, `utilization`, `queue`,
        /// `breakdown`, `timeseries`, `percentiles`, `sweep`, `load`.
        kind: &'static str,
        /// Its caption.
        caption: String,
        /// The SVG text.
        svg: String,
    },
    /// A part shown folded, with its one-line summary.
    Details(String, Vec<Block>),
}

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
p.meta { color: #555; margin-top: 0; }
div.wide { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.8rem 0; font-variant-numeric: tabular-nums; font-size: 0.9rem; }
th, td { padding: 0.25rem 0.7rem; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f6f6f6; }
tr.section td { font-weight: bold; background: #fafafa; text-align: left; }
pre { background: #f8f8f8; padding: 0.8rem; overflow-x: auto; font-size: 0.8rem; line-height: 1.35; }
figure.chart { margin: 1rem 0; }
figure.chart svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.85rem; }
details { margin: 0.8rem 0; }
summary { cursor: pointer; font-weight: bold; }
";

/// Escapes text for HTML.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page: `title`, a line under it, then the blocks.
pub fn page(title: &str, meta: &str, blocks: &[Block]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"chokepoint {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p class=\"meta\">{}</p>\n",
        env!("CARGO_PKG_VERSION"),
        escape(title),
        escape(title),
        escape(meta)
    );
    for block in blocks {
        render(&mut out, block);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn render(out: &mut String, block: &Block) {
    match block {
        Block::Heading(text) => {
            let _ = writeln!(out, "<h2>{}</h2>", escape(text));
        }
        Block::Para(text) => {
            let _ = writeln!(out, "<p>{}</p>", escape(text));
        }
        Block::Pre(text) => {
            let _ = writeln!(out, "<pre>{}</pre>", escape(text));
        }
        Block::Table(rows) => table(out, rows),
        Block::Chart { kind, caption, svg } => {
            let _ = writeln!(
                out,
                "<figure class=\"chart\" data-kind=\"{kind}\">\n{}\n<figcaption>{}</figcaption>\n</figure>",
                // From the <svg> element: its XML declaration has no place
                // inside HTML.
                svg[svg.find("<svg").unwrap_or(0)..].trim(),
                escape(caption)
            );
        }
        Block::Details(summary, inner) => {
            let _ = writeln!(out, "<details>\n<summary>{}</summary>", escape(summary));
            for b in inner {
                render(out, b);
            }
            out.push_str("</details>\n");
        }
    }
}

/// A table; an empty row starts a new section, whose next row is its
/// header (as the text tables of `compare` do).
fn table(out: &mut String, rows: &[Vec<String>]) {
    // Wide tables scroll within their box, not the page.
    out.push_str("<div class=\"wide\"><table>\n");
    let mut header = true;
    for row in rows {
        if row.is_empty() {
            header = true;
            continue;
        }
        let cell = if header { "th" } else { "td" };
        out.push_str("<tr>");
        for c in row {
            let _ = write!(out, "<{cell}>{}</{cell}>", escape(c.trim()));
        }
        out.push_str("</tr>\n");
        header = false;
    }
    out.push_str("</table></div>\n");
}

/// A chart drawn by `plot`, as a block; a chart that cannot be drawn
/// becomes a sentence saying so.
fn drawn(kind: &'static str, caption: &str, chart: &Chart) -> Block {
    match plot::svg(chart) {
        Ok(svg) => Block::Chart {
            kind,
            caption: caption.to_owned(),
            svg,
        },
        Err(e) => Block::Para(format!("{caption}: not drawn ({e})")),
    }
}

/// Horizontal bars, one per (label, value), scaled to `max`, each with
/// its value as `show` writes it.
fn bars(items: &[(String, f64)], max: f64, show: impl Fn(f64) -> String) -> String {
    let (width, label_w, row_h) = (900.0, 220.0, 26.0);
    let height = row_h * items.len() as f64 + 10.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"13\">"
    );
    let span = width - label_w - 120.0;
    for (i, (label, value)) in items.iter().enumerate() {
        let y = 5.0 + row_h * i as f64;
        let w = if max > 0.0 {
            (value / max).clamp(0.0, 1.0) * span
        } else {
            0.0
        };
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect class=\"bar\" x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{}\"><title>{}: {}</title></rect><text x=\"{}\" y=\"{}\">{}</text>",
            label_w - 8.0,
            y + row_h * 0.65,
            escape(label),
            row_h - 8.0,
            plot::hex(0),
            escape(label),
            escape(&show(*value)),
            label_w + w + 6.0,
            y + row_h * 0.65,
            escape(&show(*value)),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One stacked bar per (label, parts), each part a share of the row's
/// total, coloured by its name consistently across rows, with a legend.
fn stacked(rows: &[(String, Vec<(String, f64)>)], show: impl Fn(f64) -> String) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (_, parts) in rows {
        for (name, _) in parts {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    let color = |name: &str| plot::hex(names.iter().position(|n| *n == name).unwrap_or(0));
    let (width, label_w, row_h) = (900.0, 220.0, 28.0);
    let legend_h = 22.0 * names.len().div_ceil(4) as f64;
    let height = row_h * rows.len() as f64 + legend_h + 16.0;
    let span = width - label_w - 120.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"13\">"
    );
    for (i, (label, parts)) in rows.iter().enumerate() {
        let y = 5.0 + row_h * i as f64;
        let total: f64 = parts.iter().map(|(_, v)| v.max(0.0)).sum();
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            label_w - 8.0,
            y + row_h * 0.62,
            escape(label)
        );
        let mut x = label_w;
        for (name, v) in parts {
            let w = if total > 0.0 {
                v.max(0.0) / total * span
            } else {
                0.0
            };
            let _ = write!(
                svg,
                "<rect class=\"segment\" x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{}\"><title>{}: {}</title></rect>",
                row_h - 8.0,
                color(name),
                escape(name),
                escape(&show(*v))
            );
            x += w;
        }
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            x + 6.0,
            y + row_h * 0.62,
            escape(&show(total))
        );
    }
    // The legend, below the bars.
    let top = row_h * rows.len() as f64 + 14.0;
    for (i, name) in names.iter().enumerate() {
        let (x, y) = (
            label_w + 170.0 * (i % 4) as f64,
            top + 22.0 * (i / 4) as f64,
        );
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            color(name),
            x + 17.0,
            y + 11.0,
            escape(name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A chart's point, (x, y).
type Point = (f64, f64);

/// The percentiles wrk2 prints, as (label, quantile).
const SPECTRUM: [(&str, f64); 8] = [
    ("p50", 0.5),
    ("p75", 0.75),
    ("p90", 0.9),
    ("p99", 0.99),
    ("p99.9", 0.999),
    ("p99.99", 0.9999),
    ("p99.999", 0.99999),
    ("max", 1.0),
];

/// The latency's spectrum table and charts for each class of `summary`.
fn latency_blocks(summary: &Summary) -> Vec<Block> {
    let mut blocks = Vec::new();
    // A percentile needs a request beyond it: p99.99 of 7,000 requests
    // is only their maximum, and is not shown.
    let classes: Vec<(&String, Vec<(f64, f64)>)> = summary
        .classes
        .iter()
        .map(|(n, c)| {
            let n_done = c.completed as f64;
            let spectrum = c
                .latency
                .spectrum
                .iter()
                .copied()
                .filter(|&(q, _)| q >= 1.0 || (1.0 - q) * n_done >= 1.0)
                .collect();
            (n, spectrum)
        })
        .filter(|(_, s): &(&String, Vec<(f64, f64)>)| !s.is_empty())
        .collect();
    if classes.is_empty() {
        return blocks;
    }
    let at = |spectrum: &[(f64, f64)], q: f64| {
        spectrum
            .iter()
            .find(|(x, _)| (x - q).abs() < 1e-12)
            .map(|(_, v)| *v)
    };
    let mut rows = vec![
        std::iter::once("class".to_owned())
            .chain(SPECTRUM.iter().map(|(l, _)| (*l).to_owned()))
            .collect::<Vec<_>>(),
    ];
    for (name, spectrum) in &classes {
        let mut row = vec![(*name).clone()];
        row.extend(
            SPECTRUM
                .iter()
                .map(|(_, q)| crate::format::duration(at(spectrum, *q), None)),
        );
        rows.push(row);
    }
    blocks.push(Block::Table(rows));
    // The spectrum: latency against the percentile in nines, so that the
    // tail gets its share of the axis (as wrk2's and HdrHistogram's plots).
    let nines = |q: f64| -(1.0 - q.min(0.99999)).log10();
    let series = |f: &dyn Fn(&[Point]) -> Vec<Point>| -> Vec<plot::Series> {
        classes
            .iter()
            .enumerate()
            .map(|(i, (name, s))| plot::Series::line((*name).clone(), f(s), i))
            .collect()
    };
    let spectrum = Chart {
        title: "latency by percentile".into(),
        x_label: "percentile in nines (1 = p90, 2 = p99, 3 = p99.9, 4 = p99.99)".into(),
        y_label: "latency (ms)".into(),
        log_y: false,
        series: series(&|s| {
            s.iter()
                .filter(|(q, _)| *q >= 0.5 && *q < 1.0)
                .map(|&(q, v)| (nines(q), v * 1e3))
                .collect()
        }),
        spans: Vec::new(),
    };
    blocks.push(drawn(
        "spectrum",
        "Latency at each percentile, pooled over replications: the tail to the right.",
        &spectrum,
    ));
    let cdf = Chart {
        title: "latency distribution (CDF)".into(),
        x_label: "latency (ms)".into(),
        y_label: "fraction of requests at most this slow".into(),
        log_y: false,
        series: series(&|s| s.iter().map(|&(q, v)| (v * 1e3, q)).collect()),
        spans: Vec::new(),
    };
    blocks.push(drawn(
        "cdf",
        "The share of requests that completed within each latency.",
        &cdf,
    ));
    blocks
}

/// Each service's utilisation and mean queue length as bars, and where a
/// request's time goes in each, stacked.
fn station_blocks(summary: &Summary) -> Vec<Block> {
    let mut blocks = Vec::new();
    let busy: Vec<(String, f64)> = summary
        .stations
        .iter()
        .filter(|(_, s)| s.servers.is_some())
        .map(|(n, s)| (n.clone(), s.utilization))
        .collect();
    if !busy.is_empty() {
        blocks.push(Block::Chart {
            kind: "utilization",
            caption: "Mean utilisation of each service's servers (all replicas' cores together)."
                .into(),
            svg: bars(&busy, 1.0, |x| crate::format::percent(x, None)),
        });
    }
    let queued: Vec<(String, f64)> = summary
        .stations
        .iter()
        .map(|(n, s)| (n.clone(), s.mean_queue_len))
        .collect();
    let longest = queued.iter().map(|(_, q)| *q).fold(0.0, f64::max);
    if !queued.is_empty() {
        blocks.push(Block::Chart {
            kind: "queue",
            caption: "Mean number of requests waiting at each service.".into(),
            svg: bars(&queued, longest, crate::format::sig3),
        });
    }
    let spent: Vec<(String, Vec<(String, f64)>)> = summary
        .stations
        .iter()
        .filter_map(|(n, s)| {
            let b = s.breakdown.as_ref()?;
            let parts: Vec<(String, f64)> = b
                .parts(s.workers.is_some())
                .into_iter()
                .filter_map(|(part, t)| Some((part, t?)))
                .collect();
            (!parts.is_empty()).then(|| (n.clone(), parts))
        })
        .collect();
    if !spent.is_empty() {
        blocks.push(Block::Heading("Where time goes".into()));
        blocks.push(Block::Chart {
            kind: "breakdown",
            caption: "A request's mean time in each service, by part: waiting for a worker or connection, queueing, its own work, each callee.".into(),
            svg: stacked(&spent, |t| crate::format::duration(Some(t), None)),
        });
    }
    blocks
}

/// The report of one run: its tables, latency, services, where time
/// goes, time series (`series`, when recorded), the text report as
/// printed (capacity table, cost, SLO) and the scenario itself.
pub fn run(summary: &Summary, scenario: &str, series: &[(String, Chart)]) -> String {
    let mut blocks = Vec::new();
    let caveats = crate::format::caveats(summary);
    if !caveats.trim().is_empty() {
        blocks.push(Block::Pre(caveats));
    }
    if let Some(slo) = &summary.slo {
        blocks.push(Block::Para(if slo.met {
            "SLO: met".to_owned()
        } else {
            format!("SLO: MISSED ({})", slo.violations.join("; "))
        }));
    }
    let (classes, stations) = crate::format::summary_rows(summary);
    blocks.push(Block::Heading("Classes".into()));
    blocks.push(Block::Table(classes));
    blocks.push(Block::Heading("Latency".into()));
    blocks.extend(latency_blocks(summary));
    blocks.push(Block::Heading("Services".into()));
    blocks.push(Block::Table(stations));
    blocks.extend(station_blocks(summary));
    if !series.is_empty() {
        blocks.push(Block::Heading("Over time".into()));
        for (_, chart) in series {
            blocks.push(drawn("timeseries", &chart.title, chart));
        }
    }
    blocks.push(Block::Heading("The report as printed".into()));
    blocks.push(Block::Pre(crate::format::table(summary)));
    blocks.push(Block::Details(
        "The scenario".into(),
        vec![Block::Pre(scenario.to_owned())],
    ));
    page(
        &summary.scenario,
        &format!(
            "{} replication(s) × {} s after {} s warm-up · seed {}",
            summary.replications,
            crate::format::sig3(summary.duration),
            crate::format::sig3(summary.warmup),
            summary.seed
        ),
        &blocks,
    )
}

/// The report of a comparison: the verdicts, the table, each class's
/// percentiles by design, and each design's own report folded.
pub fn compare(comparison: &Comparison, scenarios: &[String]) -> String {
    let mut blocks = vec![Block::Heading("Verdicts".into())];
    for line in comparison.verdicts.iter().filter(|l| !l.ends_with(": ")) {
        blocks.push(Block::Para(line.clone()));
    }
    blocks.push(Block::Heading("Side by side".into()));
    blocks.push(Block::Table(crate::compare::rows(comparison)));
    blocks.push(Block::Para(crate::compare::LEGEND.into()));
    blocks.push(Block::Heading("Latency percentiles".into()));
    for (_, chart) in plot::compare_charts(comparison) {
        blocks.push(drawn("percentiles", &chart.title, &chart));
    }
    for (i, (name, summary)) in comparison
        .scenarios
        .iter()
        .zip(&comparison.results)
        .enumerate()
    {
        let mut inner = latency_blocks(summary);
        inner.extend(station_blocks(summary));
        inner.push(Block::Pre(crate::format::table(summary)));
        if let Some(text) = scenarios.get(i) {
            inner.push(Block::Pre(text.clone()));
        }
        blocks.push(Block::Details(format!("{name}: its own report"), inner));
    }
    page(
        &format!(
            "{} compared with {}",
            comparison.scenarios[1..].join(", "),
            comparison.scenarios[0]
        ),
        &crate::compare::header(comparison),
        &blocks,
    )
}

/// The report of a sweep: its overview and decisions as printed, its
/// charts, and the scenario.
pub fn sweep(title: &str, overview: &str, charts: &[(String, Chart)], scenario: &str) -> String {
    let mut blocks = vec![
        Block::Heading("Points and decisions".into()),
        Block::Pre(overview.to_owned()),
    ];
    if !charts.is_empty() {
        blocks.push(Block::Heading("Charts".into()));
        for (_, chart) in charts {
            blocks.push(drawn("sweep", &chart.title, chart));
        }
    }
    blocks.push(Block::Details(
        "The scenario".into(),
        vec![Block::Pre(scenario.to_owned())],
    ));
    page(title, "sweep", &blocks)
}

/// The report of a diagnosis: what it found as printed, its load charts,
/// and the scenario.
pub fn diagnose(title: &str, text: &str, charts: &[(String, Chart)], scenario: &str) -> String {
    let mut blocks = vec![Block::Pre(text.to_owned())];
    for (_, chart) in charts {
        blocks.push(drawn("load", &chart.title, chart));
    }
    blocks.push(Block::Details(
        "The scenario".into(),
        vec![Block::Pre(scenario.to_owned())],
    ));
    page(title, "diagnosis", &blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_svg_is_inline() {
        let html = page(
            "a <b> & 'c'",
            "meta",
            &[
                Block::Table(vec![
                    vec!["x".into(), "y".into()],
                    vec!["<1>".into(), "2".into()],
                ]),
                Block::Chart {
                    kind: "utilization",
                    caption: "c".into(),
                    svg: "<?xml version=\"1.0\" ?>\n<svg></svg>".into(),
                },
            ],
        );
        assert!(html.contains("<title>a &lt;b&gt; &amp; &#39;c&#39;</title>"));
        assert!(html.contains("<th>x</th><th>y</th>"));
        assert!(html.contains("<td>&lt;1&gt;</td>"));
        assert!(html.contains("data-kind=\"utilization\">\n<svg></svg>"));
        assert!(!html.contains("<?xml"));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn bars_and_stacks_have_one_shape_per_value() {
        let svg = bars(&[("a".into(), 0.5), ("b".into(), 2.0)], 1.0, |x| {
            x.to_string()
        });
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
        // A value beyond the scale stops at its end.
        assert!(svg.contains("width=\"560.0\""));
        let svg = stacked(
            &[
                (
                    "api".into(),
                    vec![("queue".into(), 1.0), ("db".into(), 3.0)],
                ),
                ("db".into(), vec![("queue".into(), 2.0)]),
            ],
            |x| x.to_string(),
        );
        assert_eq!(svg.matches("class=\"segment\"").count(), 3);
        // One colour per part's name, the same in every row.
        assert_eq!(svg.matches(&plot::hex(0)).count(), 3);
    }
}
