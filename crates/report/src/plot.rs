//! Charts of sweep results, as PNG and SVG, with a bundled font (DejaVu Sans)
//! so that text renders without system font libraries.
//!
//! For a sweep with a load axis (a `load.CLASS.rate` path), each class gets
//! - `p99-vs-load-CLASS`: the 99th percentile against the offered rate, one
//!   line per value of the other parameters (the hockey-stick curve), on a
//!   log scale so that overloaded points do not flatten the rest;
//! - `throughput-vs-load-CLASS`: completed against offered rate, with the
//!   ideal line `throughput = rate` that a system with enough capacity follows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::sweep::{PointLine, PointView, frontier, load_rate_path};
use chokepoint_scenario::spec::Knob;

/// Makes DejaVu Sans the font of "sans-serif" (once per process).
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bundled font is a valid TrueType file; registration cannot fail.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A solid line through its points, with markers.
    Line,
    /// A thin dashed line (references: ideal scaling, `y = x`).
    Dashed,
    /// Markers only.
    Points,
}

/// One series: labelled points, a style and a colour index.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text (empty: not in the legend).
    pub label: String,
    /// The points, sorted by x for lines.
    pub points: Vec<(f64, f64)>,
    /// How to draw them.
    pub style: Style,
    /// Index into the palette; series that belong together share it.
    pub color: usize,
}

/// A chart to draw.
#[derive(Clone, Debug)]
pub struct Chart {
    /// The title.
    pub title: String,
    /// The x axis label, with its unit.
    pub x_label: String,
    /// The y axis label, with its unit.
    pub y_label: String,
    /// Whether the y axis is logarithmic.
    pub log_y: bool,
    /// The series, drawn in order.
    pub series: Vec<Series>,
    /// Whether the legend goes in the upper right corner (else upper left).
    pub legend_right: bool,
    /// Stretches of the x axis to shade and name (the warm-up, a fault).
    pub spans: Vec<Span>,
}

/// A stretch of the x axis, shaded behind the series, its label at the top.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// Where it starts, in the x axis's unit.
    pub from: f64,
    /// Where it ends.
    pub to: f64,
    /// What it is.
    pub label: String,
}

impl Series {
    /// A solid line with markers, in colour `color`.
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>, color: usize) -> Series {
        Series::new(label, points, Style::Line, color)
    }

    fn new(
        label: impl Into<String>,
        points: Vec<(f64, f64)>,
        style: Style,
        color: usize,
    ) -> Series {
        Series {
            label: label.into(),
            points,
            style,
            color,
        }
    }
}

fn bounds(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        (0.0, 1.0)
    } else if lo == hi {
        (lo - 0.5 * lo.abs().max(1.0), hi + 0.5 * hi.abs().max(1.0))
    } else {
        (lo, hi)
    }
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let points = chart.series.iter().flat_map(|s| s.points.iter().copied());
    let (x0, x1) = bounds(points.clone().map(|(x, _)| x));
    let pad = 0.04 * (x1 - x0);
    let x_range = (x0 - pad)..(x1 + pad);
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(&chart.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80);
    // The same drawing for both axis kinds; only the y coordinate differs.
    macro_rules! plot {
        ($ctx:expr, $keep:expr) => {{
            let ctx = &mut $ctx;
            ctx.configure_mesh()
                .x_desc(&chart.x_label)
                .y_desc(&chart.y_label)
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(err)?;
            let (bottom, top) = (ctx.y_range().start, ctx.y_range().end);
            for (i, span) in chart.spans.iter().enumerate() {
                ctx.draw_series(std::iter::once(Rectangle::new(
                    [(span.from, bottom), (span.to, top)],
                    Palette99::pick(i + 20).mix(0.12).filled(),
                )))
                .map_err(err)?;
                // Each label a line below the previous one's: spans close
                // together do not write over one another.
                ctx.draw_series(std::iter::once(
                    EmptyElement::at((span.from, top))
                        + Text::new(
                            span.label.clone(),
                            (3, 2 + 16 * i as i32),
                            ("sans-serif", 13).into_font().color(&BLACK.mix(0.7)),
                        ),
                ))
                .map_err(err)?;
            }
            for series in &chart.series {
                let data: Vec<(f64, f64)> = series.points.iter().copied().filter($keep).collect();
                let color = Palette99::pick(series.color);
                let labelled = !series.label.is_empty();
                match series.style {
                    Style::Line => {
                        let style = color.stroke_width(2);
                        let drawn = ctx
                            .draw_series(LineSeries::new(data.clone(), style))
                            .map_err(err)?;
                        if labelled {
                            drawn.label(&series.label).legend(move |(x, y)| {
                                PathElement::new(vec![(x, y), (x + 20, y)], style)
                            });
                        }
                        ctx.draw_series(data.iter().map(|&p| Circle::new(p, 3, color.filled())))
                            .map_err(err)?;
                    }
                    Style::Dashed => {
                        let style = color.mix(0.9).stroke_width(2);
                        let drawn = ctx
                            .draw_series(DashedLineSeries::new(data.clone(), 6, 4, style))
                            .map_err(err)?;
                        if labelled {
                            drawn.label(&series.label).legend(move |(x, y)| {
                                PathElement::new(vec![(x, y), (x + 20, y)], style)
                            });
                        }
                    }
                    Style::Points => {
                        let drawn = ctx
                            .draw_series(data.iter().map(|&p| Circle::new(p, 4, color.filled())))
                            .map_err(err)?;
                        if labelled {
                            drawn
                                .label(&series.label)
                                .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
                        }
                    }
                }
            }
            ctx.configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .position(if chart.legend_right {
                    SeriesLabelPosition::UpperRight
                } else {
                    SeriesLabelPosition::UpperLeft
                })
                .draw()
                .map_err(err)?;
        }};
    }
    if chart.log_y {
        let (y0, y1) = bounds(points.clone().map(|(_, y)| y).filter(|y| *y > 0.0));
        let mut ctx = builder
            .build_cartesian_2d(x_range, ((y0 / 1.5).max(1e-12)..(y1 * 1.5)).log_scale())
            .map_err(err)?;
        plot!(ctx, |&(_, y): &(f64, f64)| y > 0.0);
    } else {
        let (_, y1) = bounds(points.clone().map(|(_, y)| y));
        let mut ctx = builder
            .build_cartesian_2d(x_range, 0.0..y1 * 1.08)
            .map_err(err)?;
        plot!(ctx, |_: &(f64, f64)| true);
    }
    root.present().map_err(err)
}

/// Writes `chart` to `stem.png` and `stem.svg`; returns the two paths.
pub fn write(chart: &Chart, stem: &Path) -> Result<Vec<PathBuf>, String> {
    register_font();
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    draw(
        BitMapBackend::new(&png, (1000, 640)).into_drawing_area(),
        chart,
    )?;
    draw(
        SVGBackend::new(&svg, (1000, 640)).into_drawing_area(),
        chart,
    )?;
    Ok(vec![png, svg])
}

/// `chart` as SVG text, for a page that holds its charts inline.
pub fn svg(chart: &Chart) -> Result<String, String> {
    register_font();
    let mut out = String::new();
    draw(
        SVGBackend::with_string(&mut out, (1000, 640)).into_drawing_area(),
        chart,
    )?;
    Ok(out)
}

/// A point's parameters other than `skip`, with its variant, as a series name.
fn series_key(v: &PointView, skip: &[&str]) -> String {
    let mut key: Vec<String> = v.variant.iter().cloned().collect();
    key.extend(
        v.params
            .iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .map(|(k, x)| format!("{k}={x}")),
    );
    if key.is_empty() {
        "all points".to_owned()
    } else {
        key.join(", ")
    }
}

/// Groups (x, y) points by series name, each sorted by x, names in order.
fn group(points: Vec<(String, f64, f64)>) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut out: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for (k, x, y) in points {
        out.entry(k).or_default().push((x, y));
    }
    out.into_iter()
        .map(|(k, mut v)| {
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            (k, v)
        })
        .collect()
}

/// The charts of a sweep, by file stem:
/// - `p99-vs-load-CLASS` and `throughput-vs-load-CLASS` (with the ideal
///   line) when a `load.CLASS.rate` is swept;
/// - `throughput-vs-replicas-CLASS`, with each series' ideal linear scaling,
///   when a `services.NAME.replicas` is swept;
/// - `cost-vs-p99-CLASS`, every point and each load level's Pareto frontier,
///   when the points have a cost.
pub fn sweep_charts(lines: &[PointLine]) -> Vec<(String, Chart)> {
    let mut sorted: Vec<&PointLine> = lines.iter().collect();
    sorted.sort_by_key(|l| l.point);
    let Some(first) = sorted.first() else {
        return Vec::new();
    };
    let load_path = load_rate_path(&first.view);
    let replicas_path = first
        .view
        .params
        .iter()
        .map(|(p, _)| p)
        .find(|k| Knob::of(k) == Knob::Replicas)
        .cloned();
    let classes: Vec<String> = first.view.result.classes.keys().cloned().collect();
    let mut charts = Vec::new();
    for class in &classes {
        let figure = |v: &PointView, f: &str| -> Option<f64> {
            let c = v.result.classes.get(class)?;
            match f {
                "p99" => c.latency.p99,
                _ => c.throughput,
            }
        };
        if let Some(load) = &load_path {
            let rate = |v: &PointView| v.axis(load);
            let by = |f: &str, scale: f64| {
                group(
                    sorted
                        .iter()
                        .filter_map(|l| {
                            Some((
                                series_key(&l.view, &[load]),
                                rate(&l.view)?,
                                figure(&l.view, f)? * scale,
                            ))
                        })
                        .collect(),
                )
            };
            let p99: Vec<Series> = by("p99", 1e3)
                .into_iter()
                .enumerate()
                .map(|(i, (k, v))| Series::new(k, v, Style::Line, i))
                .collect();
            charts.push((
                format!("p99-vs-load-{class}"),
                Chart {
                    title: format!("{class}: p99 latency against offered load"),
                    x_label: format!("offered load ({load}, requests/s)"),
                    y_label: "p99 latency (ms, log scale)".into(),
                    log_y: true,
                    series: p99,
                    legend_right: false,
                    spans: Vec::new(),
                },
            ));
            let mut throughput: Vec<Series> = by("throughput", 1.0)
                .into_iter()
                .enumerate()
                .map(|(i, (k, v))| Series::new(k, v, Style::Line, i))
                .collect();
            let (lo, hi) = bounds(sorted.iter().filter_map(|l| rate(&l.view)));
            throughput.insert(
                0,
                Series::new(
                    "ideal: throughput = offered load",
                    vec![(lo, lo), (hi, hi)],
                    Style::Dashed,
                    98,
                ),
            );
            charts.push((
                format!("throughput-vs-load-{class}"),
                Chart {
                    title: format!("{class}: throughput against offered load"),
                    x_label: format!("offered load ({load}, requests/s)"),
                    y_label: "throughput (requests/s)".into(),
                    log_y: false,
                    series: throughput,
                    legend_right: false,
                    spans: Vec::new(),
                },
            ));
        }
        if let Some(replicas) = &replicas_path {
            let groups = group(
                sorted
                    .iter()
                    .filter_map(|l| {
                        Some((
                            series_key(&l.view, &[replicas]),
                            l.view.axis(replicas)?,
                            figure(&l.view, "throughput")?,
                        ))
                    })
                    .collect(),
            );
            let mut series = Vec::new();
            for (i, (k, v)) in groups.into_iter().enumerate() {
                if let (Some(&(x0, y0)), Some(&(x1, _))) = (v.first(), v.last()) {
                    series.push(Series::new(
                        if i == 0 {
                            "ideal: linear in replicas"
                        } else {
                            ""
                        },
                        vec![(x0, y0), (x1, y0 * x1 / x0)],
                        Style::Dashed,
                        i,
                    ));
                }
                series.push(Series::new(k, v, Style::Line, i));
            }
            charts.push((
                format!("throughput-vs-replicas-{class}"),
                Chart {
                    title: format!("{class}: throughput against replicas"),
                    x_label: format!("replicas ({replicas})"),
                    y_label: "throughput (requests/s)".into(),
                    log_y: false,
                    series,
                    legend_right: false,
                    spans: Vec::new(),
                },
            ));
        }
        if sorted.iter().any(|l| l.view.cost().is_some()) {
            let level = |v: &PointView| match &load_path {
                Some(load) => format!("{load}={}", v.param(load).unwrap_or_default()),
                None => "all points".to_owned(),
            };
            let groups = group(
                sorted
                    .iter()
                    .filter_map(|l| {
                        Some((
                            level(&l.view),
                            l.view.cost()?,
                            figure(&l.view, "p99")? * 1e3,
                        ))
                    })
                    .collect(),
            );
            let mut series = Vec::new();
            for (i, (k, v)) in groups.into_iter().enumerate() {
                series.push(Series::new(
                    format!("frontier at {k}"),
                    frontier(&v),
                    Style::Line,
                    i,
                ));
                series.push(Series::new("", v, Style::Points, i));
            }
            charts.push((
                format!("cost-vs-p99-{class}"),
                Chart {
                    title: format!(
                        "{class}: cost against p99 latency (every point; lines: Pareto frontiers)"
                    ),
                    x_label: "cost ($/hour, illustrative prices)".into(),
                    y_label: "p99 latency (ms, log scale)".into(),
                    log_y: true,
                    series,
                    legend_right: true,
                    spans: Vec::new(),
                },
            ));
        }
    }
    charts
}

/// The chart of a comparison, per class: `latency-percentiles-CLASS`, each
/// scenario's p50, p90, p99 and p99.9 on a log scale, one line per scenario
/// (lower is better; the tail is where architectures differ most).
pub fn compare_charts(comparison: &crate::compare::Comparison) -> Vec<(String, Chart)> {
    let mut classes: Vec<String> = Vec::new();
    for summary in &comparison.results {
        for name in summary.classes.keys() {
            if !classes.contains(name) {
                classes.push(name.clone());
            }
        }
    }
    classes
        .into_iter()
        .map(|class| {
            let series = comparison
                .scenarios
                .iter()
                .zip(&comparison.results)
                .enumerate()
                .filter_map(|(i, (name, summary))| {
                    let l = &summary.classes.get(&class)?.latency;
                    // x in "nines", −log10(1 − q), so the tail gets its share of the axis.
                    let nines = |q: f64| -(1.0 - q).log10();
                    // Nothing completed: no line for this scenario.
                    let points = vec![
                        (nines(0.5), l.p50? * 1e3),
                        (nines(0.9), l.p90? * 1e3),
                        (nines(0.99), l.p99? * 1e3),
                        (nines(0.999), l.p999? * 1e3),
                    ];
                    Some(Series::new(name.clone(), points, Style::Line, i))
                })
                .collect();
            (
                format!("latency-percentiles-{class}"),
                Chart {
                    title: format!("{class}: latency percentiles by architecture"),
                    x_label: "percentile in nines (0.3 = p50, 1 = p90, 2 = p99, 3 = p99.9)".into(),
                    y_label: "latency (ms, log scale)".into(),
                    log_y: true,
                    series,
                    legend_right: false,
                    spans: Vec::new(),
                },
            )
        })
        .collect()
}

/// What a run's time series charts mark besides its figures: the warm-up
/// and the faults as shaded stretches, and each class's offered rate where
/// it follows a profile.
#[derive(Clone, Debug, Default)]
pub struct Marks {
    /// Shaded on every chart.
    pub spans: Vec<Span>,
    /// Per class with a rate profile: its name and profile, drawn dashed
    /// on the throughput chart as the rate offered in each window.
    pub offered: Vec<(String, chokepoint_core::model::Profile)>,
}

impl Marks {
    /// The marks of `topology` run with `warmup` seconds discarded; its
    /// faults named `faults` (a fault that repeats is not shaded: its
    /// occurrences are drawn at random; one that does not is shaded for its
    /// mean duration, exact when it is fixed).
    pub fn of(
        topology: &chokepoint_core::model::Topology,
        faults: &[String],
        warmup: f64,
    ) -> Marks {
        let mut spans = Vec::new();
        if warmup > 0.0 {
            spans.push(Span {
                from: 0.0,
                to: warmup,
                label: "warm-up".into(),
            });
        }
        for (i, f) in topology.faults.iter().enumerate() {
            if f.every.is_some() {
                continue;
            }
            spans.push(Span {
                from: f.at / 1e9,
                to: (f.at + f.lasts.mean()) / 1e9,
                label: faults
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("fault {i}")),
            });
        }
        let offered = topology
            .classes
            .iter()
            .filter_map(|c| match &c.load {
                chokepoint_core::model::Load::Open {
                    profile: Some(p), ..
                } => Some((c.name.clone(), p.clone())),
                _ => None,
            })
            .collect();
        Marks { spans, offered }
    }
}

/// Charts of a run's time series against the time since the start of the
/// run: each class's and service's throughput (with the rate offered where
/// a profile sets it), each class's mean and 99th percentile latency and
/// errors, each service's utilisation, requests present, retries and
/// replicas ready, each cache's hit ratio (each where there is something
/// to draw), with the warm-up and the faults shaded.
pub fn timeseries_charts(rows: &[crate::series::SeriesRow], marks: &Marks) -> Vec<(String, Chart)> {
    /// One chart: its file stem, title, y label, the metric, the kinds of
    /// rows it shows, and the factor to its unit.
    struct Spec {
        stem: &'static str,
        title: &'static str,
        y_label: &'static str,
        metric: &'static str,
        kinds: &'static [&'static str],
        scale: f64,
    }
    let specs = [
        Spec {
            stem: "timeseries-throughput",
            title: "throughput over time",
            y_label: "completions per second",
            metric: "throughput",
            kinds: &["class", "station"],
            scale: 1.0,
        },
        Spec {
            stem: "timeseries-latency",
            title: "mean latency over time",
            y_label: "mean latency (ms)",
            metric: "latency_mean",
            kinds: &["class"],
            scale: 1e3,
        },
        Spec {
            stem: "timeseries-p99",
            title: "99th percentile latency over time",
            y_label: "p99 latency of the window (ms)",
            metric: "latency_p99",
            kinds: &["class"],
            scale: 1e3,
        },
        Spec {
            stem: "timeseries-retries",
            title: "retries over time",
            y_label: "retries per second",
            metric: "retries",
            kinds: &["station"],
            scale: 1.0,
        },
        Spec {
            stem: "timeseries-errors",
            title: "requests failed, timed out, dropped or rejected over time",
            y_label: "per second",
            metric: "errors",
            kinds: &["class"],
            scale: 1.0,
        },
        Spec {
            stem: "timeseries-utilization",
            title: "utilisation over time",
            y_label: "utilisation (%)",
            metric: "utilization",
            kinds: &["station"],
            scale: 100.0,
        },
        Spec {
            stem: "timeseries-in-system",
            title: "requests present over time",
            y_label: "requests present (mean over the window)",
            metric: "in_system",
            kinds: &["station"],
            scale: 1.0,
        },
        Spec {
            stem: "timeseries-replicas",
            title: "replicas ready over time",
            y_label: "replicas ready (mean over the window)",
            metric: "replicas",
            kinds: &["station"],
            scale: 1.0,
        },
        Spec {
            stem: "timeseries-hit-ratio",
            title: "cache hit ratio over time",
            y_label: "hit ratio (%)",
            metric: "hit_ratio",
            kinds: &["station"],
            scale: 100.0,
        },
    ];
    specs
        .into_iter()
        .filter_map(|spec| {
            let Spec {
                stem,
                title,
                y_label,
                metric,
                kinds,
                scale,
            } = spec;
            let mut names: Vec<(&str, &str)> = Vec::new();
            for r in rows
                .iter()
                .filter(|r| r.metric == metric && kinds.contains(&r.kind))
            {
                if !names.contains(&(r.kind, r.name.as_str())) {
                    names.push((r.kind, r.name.as_str()));
                }
            }
            let series: Vec<Series> = names
                .iter()
                .enumerate()
                .map(|(i, &(kind, name))| {
                    let points = rows
                        .iter()
                        .filter(|r| r.metric == metric && r.kind == kind && r.name == name)
                        .map(|r| (r.time, r.value * scale))
                        .collect();
                    let label = if kinds.len() > 1 {
                        format!("{kind} {name}")
                    } else {
                        name.to_owned()
                    };
                    Series::new(label, points, Style::Line, i)
                })
                .collect();
            let mut series = series;
            if metric == "throughput" {
                // The rate offered in each window, where a profile sets it.
                let mut ends: Vec<f64> = rows.iter().map(|r| r.time).collect();
                ends.sort_by(f64::total_cmp);
                ends.dedup();
                for (k, (class, profile)) in marks.offered.iter().enumerate() {
                    let mut start = 0.0;
                    let points = ends
                        .iter()
                        .map(|&end| {
                            let rate = profile.expected(start * 1e9, end * 1e9) / (end - start);
                            start = end;
                            (end, rate)
                        })
                        .collect();
                    series.push(Series::new(
                        format!("offered {class}"),
                        points,
                        Style::Dashed,
                        names.len() + k,
                    ));
                }
            }
            (!series.is_empty()).then(|| {
                (
                    stem.to_owned(),
                    Chart {
                        title: title.into(),
                        x_label: "time since the start of the run, warm-up included (s)".into(),
                        y_label: y_label.into(),
                        log_y: false,
                        series,
                        legend_right: true,
                        spans: marks.spans.clone(),
                    },
                )
            })
        })
        .collect()
}

/// `chokepoint diagnose`'s charts from its probes, `(offered load,
/// p99 in seconds, throughput)` each, sorted by load: p99 against the
/// offered load (log scale) with the SLO's p99 target, and throughput
/// against it with the line where they are equal; the saturation bracket
/// shaded on both.
pub fn load_charts(
    points: &[(f64, Option<f64>, f64)],
    saturation: Option<(f64, f64)>,
    target: Option<f64>,
    table: &[crate::capacity::CapacityRow],
    users: bool,
) -> Vec<(String, Chart)> {
    let x_label = if users {
        "users (closed population)"
    } else {
        "offered load (requests/s)"
    };
    let mut spans: Vec<Span> = saturation
        .map(|(from, to)| Span {
            from,
            to,
            label: "saturates".into(),
        })
        .into_iter()
        .collect();
    // Where each resource of the capacity table saturates, within the
    // loads probed: a thin band, those within 1% of one another together.
    let (lo, hi) = points.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
        (lo.min(p.0), hi.max(p.0))
    });
    let mut marks: Vec<(f64, Vec<String>)> = Vec::new();
    for r in table
        .iter()
        .filter(|r| r.saturates_at >= lo && r.saturates_at <= hi)
    {
        let name = format!("{} {}", r.service, r.what);
        match marks
            .iter_mut()
            .find(|(x, _)| (r.saturates_at / *x - 1.0).abs() < 0.01)
        {
            Some((_, names)) => names.push(name),
            None => marks.push((r.saturates_at, vec![name])),
        }
    }
    let width = 0.004 * (hi - lo);
    for (x, names) in marks {
        spans.push(Span {
            from: x - width / 2.0,
            to: x + width / 2.0,
            label: format!("{}: {}/s", names.join(", "), crate::format::sig3(x)),
        });
    }
    let p99: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|&(x, p, _)| Some((x, p? * 1e3)))
        .collect();
    let mut latency = vec![Series::new("p99", p99.clone(), Style::Line, 0)];
    if let (Some(t), Some(first), Some(last)) = (target, p99.first(), p99.last()) {
        latency.push(Series::new(
            format!("SLO: p99 ≤ {}", crate::format::duration(Some(t), None)),
            vec![(first.0, t * 1e3), (last.0, t * 1e3)],
            Style::Dashed,
            1,
        ));
    }
    let offered: Vec<(f64, f64)> = points.iter().map(|&(x, ..)| (x, x)).collect();
    let done: Vec<(f64, f64)> = points.iter().map(|&(x, _, d)| (x, d)).collect();
    vec![
        (
            "diagnose-p99".into(),
            Chart {
                title: "p99 latency against the offered load".into(),
                x_label: x_label.into(),
                y_label: "p99 latency (ms, log scale)".into(),
                log_y: true,
                series: latency,
                legend_right: false,
                spans: spans.clone(),
            },
        ),
        (
            "diagnose-throughput".into(),
            Chart {
                title: "throughput against the offered load".into(),
                x_label: x_label.into(),
                y_label: "completed (requests/s)".into(),
                log_y: false,
                // Completed against offered: equal until it saturates (a
                // population's users offer no rate of their own).
                series: std::iter::once(Series::new("completed", done, Style::Line, 0))
                    .chain(
                        (!users)
                            .then(|| Series::new("completed = offered", offered, Style::Dashed, 1)),
                    )
                    .collect(),
                legend_right: false,
                spans,
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The time series marks: the warm-up and a one-off fault shaded (a
    /// repeating one not), the offered rate of a profile per window (its
    /// integral over the window), drawn on the throughput chart only.
    #[test]
    fn time_series_charts_mark_the_warm_up_faults_and_profiles() {
        use chokepoint_core::dist::Dist;
        use chokepoint_core::model::*;
        let profile = Profile::Points(vec![(0.0, 100.0), (10e9, 100.0), (10e9, 300.0)]);
        let fault = |every: Option<Dist>| Fault {
            stations: vec![StationId(0)],
            effect: Effect::Slow { factor: 2.0 },
            at: 5e9,
            lasts: Dist::constant(3e9).unwrap(),
            every,
        };
        let topology = Topology {
            stations: Vec::new(),
            classes: vec![Class {
                name: "web".into(),
                load: Load::Open {
                    process: ArrivalProcess::Poisson,
                    rate: 300.0,
                    profile: Some(profile),
                },
                entry: StationId(0),
                priority: 0,
                deadline: None,
                rate_limit: None,
            }],
            faults: vec![fault(None), fault(Some(Dist::exp(60e9).unwrap()))],
            autoscalers: Vec::new(),
        };
        let names = ["slow a".to_owned(), "slow b".to_owned()];
        let marks = Marks::of(&topology, &names, 2.0);
        let spans: Vec<(f64, f64, &str)> = marks
            .spans
            .iter()
            .map(|s| (s.from, s.to, s.label.as_str()))
            .collect();
        assert_eq!(spans, vec![(0.0, 2.0, "warm-up"), (5.0, 8.0, "slow a")]);
        let row = |time: f64, metric: &'static str| crate::series::SeriesRow {
            time,
            kind: "class",
            name: "web".into(),
            metric,
            value: 1.0,
            ci95: None,
        };
        let rows: Vec<_> = [5.0, 10.0, 15.0]
            .into_iter()
            .flat_map(|t| [row(t, "throughput"), row(t, "latency_mean")])
            .collect();
        let charts = timeseries_charts(&rows, &marks);
        let (_, throughput) = charts
            .iter()
            .find(|(stem, _)| stem == "timeseries-throughput")
            .unwrap();
        let offered = throughput
            .series
            .iter()
            .find(|s| s.label == "offered web")
            .unwrap();
        assert_eq!(
            offered.points,
            vec![(5.0, 100.0), (10.0, 100.0), (15.0, 300.0)]
        );
        assert_eq!(throughput.spans.len(), 2);
        for (stem, chart) in &charts {
            let offers = chart.series.iter().any(|s| s.label.starts_with("offered"));
            assert_eq!(offers, stem == "timeseries-throughput", "{stem}");
        }
    }

    /// The load charts mark where each resource saturates within the loads
    /// probed, ties (within 1%) under one label, beside the bracket found.
    #[test]
    fn load_charts_mark_where_each_resource_saturates() {
        use crate::capacity::{CapacityRow, ResourceClass};
        let row = |service: &str, what: &str, at: f64| CapacityRow {
            service: service.into(),
            what: what.into(),
            units: 4,
            per_request: 0.005,
            utilization: 600.0 / at,
            saturates_at: at,
            slots: false,
            class: ResourceClass::Cpu,
            mean: 600.0 / at,
        };
        let table = [
            row("db", "pool", 800.0),
            row("db", "cpu", 804.0),
            row("api", "cpu", 1000.0),
            row("api", "workers", 20_000.0),
        ];
        let points = [(600.0, Some(0.03), 600.0), (1200.0, Some(9.0), 800.0)];
        let charts = load_charts(&points, Some((810.0, 821.0)), Some(0.1), &table, false);
        let labels: Vec<&str> = charts[0].1.spans.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            ["saturates", "db pool, db cpu: 800/s", "api cpu: 1000/s"]
        );
        assert_eq!(charts[1].1.spans.len(), 3);
    }

    /// A chart renders to a PNG and an SVG of some size, and the SVG holds
    /// the title and axis labels as text (so the font was found).
    #[test]
    fn charts_render_with_text() {
        let chart = Chart {
            title: "test chart".into(),
            x_label: "offered load (requests/s)".into(),
            y_label: "p99 latency (ms, log scale)".into(),
            log_y: true,
            legend_right: false,
            spans: Vec::new(),
            series: vec![
                Series::new(
                    "servers=1",
                    vec![(100.0, 20.0), (200.0, 90.0), (400.0, 5000.0)],
                    Style::Line,
                    0,
                ),
                Series::new(
                    "servers=2",
                    vec![(100.0, 12.0), (200.0, 15.0), (400.0, 60.0)],
                    Style::Line,
                    1,
                ),
                Series::new("points", vec![(150.0, 30.0)], Style::Points, 2),
            ],
        };
        let dir = std::env::temp_dir().join(format!("chokepoint-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = write(&chart, &dir.join("chart")).unwrap();
        let png = std::fs::metadata(&files[0]).unwrap().len();
        assert!(png > 10_000, "PNG only {png} bytes");
        let svg = std::fs::read_to_string(&files[1]).unwrap();
        for text in ["test chart", "offered load (requests/s)", "servers=2"] {
            assert!(svg.contains(text), "SVG lacks {text}");
        }
        let linear = Chart {
            log_y: false,
            series: vec![Series::new(
                "ideal",
                vec![(0.0, 0.0), (4.0, 4.0)],
                Style::Dashed,
                0,
            )],
            ..chart
        };
        write(&linear, &dir.join("linear")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pareto_frontier() {
        let points = [(1.0, 9.0), (2.0, 5.0), (3.0, 6.0), (4.0, 1.0), (4.0, 2.0)];
        assert_eq!(frontier(&points), vec![(1.0, 9.0), (2.0, 5.0), (4.0, 1.0)]);
    }
}
