//! Charts of sweep results, comparisons, time series and diagnoses, as PNG
//! and SVG (or SVG text for the HTML report), with a bundled font (DejaVu
//! Sans) so that text renders without system font libraries.
//!
//! Every chart follows the same rules: the legend beside the plot, never
//! over the data; twenty colours before one repeats; a linear y axis unless
//! its values span two decades (then logarithmic, said on the axis);
//! reference lines (ideal scaling, theory, the SLO) dashed, and drawn only
//! where they mean something. `sweep_charts` says which charts a sweep gets.

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

/// The series' colours: Tableau's ten, then their light companions,
/// twenty in all before one repeats.
const PALETTE: [(u8, u8, u8); 20] = [
    (0x1f, 0x77, 0xb4),
    (0xff, 0x7f, 0x0e),
    (0x2c, 0xa0, 0x2c),
    (0xd6, 0x27, 0x28),
    (0x94, 0x67, 0xbd),
    (0x8c, 0x56, 0x4b),
    (0xe3, 0x77, 0xc2),
    (0x7f, 0x7f, 0x7f),
    (0xbc, 0xbd, 0x22),
    (0x17, 0xbe, 0xcf),
    (0xae, 0xc7, 0xe8),
    (0xff, 0xbb, 0x78),
    (0x98, 0xdf, 0x8a),
    (0xff, 0x98, 0x96),
    (0xc5, 0xb0, 0xd5),
    (0xc4, 0x9c, 0x94),
    (0xf7, 0xb6, 0xd2),
    (0xc7, 0xc7, 0xc7),
    (0xdb, 0xdb, 0x8d),
    (0x9e, 0xda, 0xe5),
];

/// The colour of reference lines (ideal scaling, theory): an index no
/// series numbered from zero reaches.
pub const REFERENCE: usize = usize::MAX;
/// The colour of targets (the SLO).
pub const TARGET: usize = usize::MAX - 1;

/// Series `i`'s colour.
fn pick(i: usize) -> RGBColor {
    match i {
        REFERENCE => RGBColor(0x44, 0x44, 0x44),
        TARGET => RGBColor(0xb0, 0x00, 0x20),
        _ => {
            let (r, g, b) = PALETTE[i % PALETTE.len()];
            RGBColor(r, g, b)
        }
    }
}

/// Series `i`'s colour as `#rrggbb`, for charts drawn by hand.
pub(crate) fn hex(i: usize) -> String {
    let RGBColor(r, g, b) = pick(i);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// A horizontal target line across `x0..x1` (the SLO's p99).
pub fn target(label: impl Into<String>, y: f64, x0: f64, x1: f64) -> Series {
    Series::new(label, vec![(x0, y), (x1, y)], Style::Dashed, TARGET)
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
    /// Whether the y axis may be logarithmic: it is when its values span
    /// two decades or more, linear otherwise.
    pub log_y: bool,
    /// The series, drawn in order.
    pub series: Vec<Series>,
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

/// The legend's width, beside the plot (never over the data).
const LEGEND_WIDTH: u32 = 250;

/// Whether `chart` is drawn with a logarithmic y axis: asked for, and its
/// positive values span two decades or more.
fn log_scale(chart: &Chart) -> bool {
    let ys = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|&(_, y)| y))
        .filter(|y| *y > 0.0 && y.is_finite());
    let (lo, hi) = bounds(ys);
    chart.log_y && lo > 0.0 && hi / lo >= 100.0
}

/// A legend label on lines of at most 32 characters, broken between
/// words: two at most, the second cut with `…` if it must be.
fn wrap(label: &str) -> Vec<String> {
    const WIDTH: usize = 32;
    let mut lines: Vec<String> = vec![String::new()];
    for word in label.split(' ') {
        let last = lines.last_mut().expect("one line at least");
        let len = last.chars().count();
        if len == 0 || len + 1 + word.chars().count() <= WIDTH {
            if len > 0 {
                last.push(' ');
            }
            last.push_str(word);
        } else {
            lines.push(word.to_owned());
        }
    }
    let mut out: Vec<String> = lines
        .into_iter()
        .flat_map(|l| {
            // A single word longer than a line is cut into pieces.
            let chars: Vec<char> = l.chars().collect();
            chars
                .chunks(WIDTH)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
        })
        .collect();
    if out.len() > 2 {
        out.truncate(2);
        let second: String = out[1].chars().take(WIDTH - 1).collect();
        out[1] = format!("{second}…");
    }
    out
}

/// The legend, in its own area right of the plot: a sample of each
/// labelled series' line or marker, and its label (long ones cut).
fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let font = ("sans-serif", 13).into_font().color(&BLACK);
    let mut y = 60;
    let labelled: Vec<&Series> = chart
        .series
        .iter()
        .filter(|s| !s.label.is_empty())
        .collect();
    // Each label on up to two lines; as many as the strip holds, the rest
    // counted.
    let lines: Vec<Vec<String>> = labelled.iter().map(|s| wrap(&s.label)).collect();
    let height = |n: usize| 20 + 15 * (n as i32 - 1);
    let bottom = area.dim_in_pixel().1 as i32 - 40;
    let mut shown = 0;
    let mut end = y;
    for l in &lines {
        if end + height(l.len()) > bottom {
            break;
        }
        end += height(l.len());
        shown += 1;
    }
    if shown < labelled.len() && shown > 0 && end + 20 > bottom {
        shown -= 1;
    }
    for (series, label) in labelled[..shown].iter().zip(&lines) {
        let color = pick(series.color);
        match series.style {
            Style::Line => {
                area.draw(&PathElement::new(
                    vec![(4, y), (28, y)],
                    color.stroke_width(2),
                ))
                .map_err(err)?;
                area.draw(&Circle::new((16, y), 3, color.filled()))
                    .map_err(err)?;
            }
            Style::Dashed => {
                for x in [4, 14, 24] {
                    area.draw(&PathElement::new(
                        vec![(x, y), (x + 6, y)],
                        color.stroke_width(2),
                    ))
                    .map_err(err)?;
                }
            }
            Style::Points => {
                area.draw(&Circle::new((16, y), 4, color.filled()))
                    .map_err(err)?;
            }
        }
        for (k, line) in label.iter().enumerate() {
            area.draw(&Text::new(
                line.clone(),
                (34, y - 7 + 15 * k as i32),
                font.clone(),
            ))
            .map_err(err)?;
        }
        y += height(label.len());
    }
    if shown < labelled.len() {
        area.draw(&Text::new(
            format!("… and {} more", labelled.len() - shown),
            (34, y - 7),
            font,
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// An axis tick's label: three significant digits, without the trailing
/// zeros that make whole shard counts read `2.00`.
fn tick(x: f64) -> String {
    let s = crate::format::sig3(x);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let labelled = chart.series.iter().any(|s| !s.label.is_empty());
    let (plot_area, legend_area) = if labelled {
        let width = root.dim_in_pixel().0;
        let (a, b) = root.split_horizontally(width.saturating_sub(LEGEND_WIDTH));
        (a, Some(b))
    } else {
        (root.clone(), None)
    };
    let points = chart.series.iter().flat_map(|s| s.points.iter().copied());
    let (x0, x1) = bounds(points.clone().map(|(x, _)| x));
    // Counts (replicas, shards) have no half ticks; a reference line (an
    // ideal's end) may stop between them.
    let whole = chart
        .series
        .iter()
        .filter(|s| s.style != Style::Dashed)
        .flat_map(|s| s.points.iter())
        .all(|(x, _)| x.fract() == 0.0);
    let x_tick = |x: &f64| {
        if whole && x.fract() != 0.0 {
            String::new()
        } else {
            tick(*x)
        }
    };
    let pad = 0.04 * (x1 - x0);
    let x_range = (x0 - pad)..(x1 + pad);
    let log = log_scale(chart);
    let y_label = if log {
        format!("{} — log scale", chart.y_label)
    } else {
        chart.y_label.clone()
    };
    let mut builder = ChartBuilder::on(&plot_area);
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
                .y_desc(&y_label)
                .x_label_formatter(&x_tick)
                .y_label_formatter(&|y| tick(*y))
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
                let color = pick(series.color);
                match series.style {
                    Style::Line => {
                        ctx.draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))
                            .map_err(err)?;
                        ctx.draw_series(data.iter().map(|&p| Circle::new(p, 3, color.filled())))
                            .map_err(err)?;
                    }
                    Style::Dashed => {
                        ctx.draw_series(DashedLineSeries::new(
                            data.clone(),
                            6,
                            4,
                            color.mix(0.9).stroke_width(2),
                        ))
                        .map_err(err)?;
                    }
                    Style::Points => {
                        ctx.draw_series(data.iter().map(|&p| Circle::new(p, 4, color.filled())))
                            .map_err(err)?;
                    }
                }
            }
        }};
    }
    if log {
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
    if let Some(area) = legend_area {
        legend(&area, chart)?;
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
/// - `latency-vs-load-CLASS` (p99 as lines, the simulated mean as dots,
///   the exact mean dashed where a closed form gives one: M/M/c, M/G/1,
///   Jackson networks) and `throughput-vs-load-CLASS` (with the line
///   `throughput = offered load`) when a `load.CLASS.rate` is swept;
/// - `throughput-vs-replicas-CLASS` when a `services.NAME.replicas` is
///   swept (`throughput-vs-shards-CLASS` for a `services.NAME.shards.count`),
///   with each series' ideal linear scaling (up to the offered
///   load) only where its fewest replicas could not keep up (at a fixed
///   rate that they serve, more replicas cannot raise the throughput: no
///   ideal line then);
/// - `latency-percentiles-CLASS`, each point's p50, p90, p99 and p99.9,
///   when neither the load nor a service's scale is swept (variants, a
///   law of work, a setting);
/// - `cost-vs-p99-CLASS`, every point and each load level's Pareto
///   frontier over the stable points (no replication stopped, no backlog
///   growing), when the points have a cost.
///
/// The SLO's p99, when the scenario has one, is a line on the p99 charts.
pub fn sweep_charts(lines: &[PointLine]) -> Vec<(String, Chart)> {
    let mut sorted: Vec<&PointLine> = lines.iter().collect();
    sorted.sort_by_key(|l| l.point);
    let Some(first) = sorted.first() else {
        return Vec::new();
    };
    let load_path = load_rate_path(&first.view);
    // The paths that scale a service out: its replicas, its shards.
    let scale_paths: Vec<(&str, String)> = first
        .view
        .params
        .iter()
        .filter_map(|(p, _)| match Knob::of(p) {
            Knob::Replicas => Some(("replicas", p.clone())),
            Knob::Shards => Some(("shards", p.clone())),
            _ => None,
        })
        .collect();
    let slo_p99 = sorted
        .iter()
        .find_map(|l| l.view.slo.as_ref().and_then(|v| v.p99));
    let classes: Vec<String> = first.view.result.classes.keys().cloned().collect();
    let mut charts = Vec::new();
    for class in &classes {
        let figure = |v: &PointView, f: &str| -> Option<f64> {
            let c = v.result.classes.get(class)?;
            match f {
                "p99" => c.latency.p99,
                "mean" => c.latency.mean,
                "exact" => v.result.theory.get(class)?.mean,
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
            let (lo, hi) = bounds(sorted.iter().filter_map(|l| rate(&l.view)));
            let named = |k: &str, what: &str| {
                if k.is_empty() || k == "all points" {
                    what.to_owned()
                } else {
                    format!("{k}: {what}")
                }
            };
            let mut latency = Vec::new();
            let exact = by("exact", 1e3);
            let p99 = by("p99", 1e3);
            // Each exact mean in its series' colour; a lone point makes no
            // line.
            let colour = |k: &str| {
                p99.iter()
                    .position(|(key, _)| key == k)
                    .unwrap_or(REFERENCE)
            };
            for (i, (k, v)) in p99.iter().cloned().enumerate() {
                latency.push(Series::new(named(&k, "p99"), v, Style::Line, i));
            }
            for (i, (k, v)) in by("mean", 1e3).into_iter().enumerate() {
                latency.push(Series::new(named(&k, "mean"), v, Style::Points, i));
            }
            for (k, v) in exact.into_iter().filter(|(_, v)| v.len() > 1) {
                latency.push(Series::new(
                    named(&k, "exact mean (theory)"),
                    v,
                    Style::Dashed,
                    colour(&k),
                ));
            }
            if let Some(p99) = slo_p99 {
                latency.push(target(
                    format!("SLO: p99 ≤ {}", crate::format::duration(Some(p99), None)),
                    p99 * 1e3,
                    lo,
                    hi,
                ));
            }
            charts.push((
                format!("latency-vs-load-{class}"),
                Chart {
                    title: format!("{class}: latency against offered load"),
                    x_label: format!("offered load ({load}, requests/s)"),
                    y_label: "latency (ms)".into(),
                    log_y: true,
                    series: latency,
                    spans: Vec::new(),
                },
            ));
            let mut throughput: Vec<Series> = by("throughput", 1.0)
                .into_iter()
                .enumerate()
                .map(|(i, (k, v))| Series::new(k, v, Style::Line, i))
                .collect();
            throughput.insert(
                0,
                Series::new(
                    "throughput = offered load",
                    vec![(lo, lo), (hi, hi)],
                    Style::Dashed,
                    REFERENCE,
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
                    spans: Vec::new(),
                },
            ));
        }
        for (word, replicas) in &scale_paths {
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
            // The offered load a group's fewest replicas fell behind (only
            // then could more of them raise the throughput, and only up
            // to it).
            let behind = |key: &str| {
                let fewest = sorted
                    .iter()
                    .filter(|l| series_key(&l.view, &[replicas]) == key)
                    .min_by(|a, b| {
                        let x = |l: &&&PointLine| l.view.axis(replicas).unwrap_or(f64::MAX);
                        x(a).total_cmp(&x(b))
                    })?;
                let kept = fewest.view.kept_up(class)?;
                let offered = fewest.view.result.classes.get(class)?.offered?;
                (kept < 0.95).then_some(offered)
            };
            let mut series = Vec::new();
            let mut ideal_named = false;
            for (i, (k, v)) in groups.into_iter().enumerate() {
                if let (Some(&(x0, y0)), Some(&(x1, _)), Some(offered)) =
                    (v.first(), v.last(), behind(&k))
                {
                    // Linear from the fewest, until it serves the load.
                    let mut ideal = vec![(x0, y0)];
                    if y0 * x1 / x0 > offered && y0 > 0.0 {
                        ideal.extend([(x0 * offered / y0, offered), (x1, offered)]);
                    } else {
                        ideal.push((x1, y0 * x1 / x0));
                    }
                    series.push(Series::new(
                        if ideal_named {
                            String::new()
                        } else {
                            format!("ideal: linear in {word}, up to the load")
                        },
                        ideal,
                        Style::Dashed,
                        i,
                    ));
                    ideal_named = true;
                }
                series.push(Series::new(k, v, Style::Line, i));
            }
            charts.push((
                format!("throughput-vs-{word}-{class}"),
                Chart {
                    title: format!("{class}: throughput against {word}"),
                    x_label: format!("{word} ({replicas})"),
                    y_label: "throughput (requests/s)".into(),
                    log_y: false,
                    series,
                    spans: Vec::new(),
                },
            ));
        }
        // Without a load or scale axis (variants, a law of work, a
        // setting): each point's percentiles, as a comparison draws them.
        if load_path.is_none() && scale_paths.is_empty() {
            let series = sorted
                .iter()
                .enumerate()
                .filter_map(|(i, l)| {
                    let c = l.view.result.classes.get(class)?;
                    let q = &c.latency;
                    percentile_line(&l.view.label, [q.p50, q.p90, q.p99, q.p999], i)
                })
                .collect();
            charts.push((
                format!("latency-percentiles-{class}"),
                percentile_chart(format!("{class}: latency percentiles by point"), series),
            ));
        }
        if sorted.iter().any(|l| l.view.cost().is_some()) {
            let level = |v: &PointView| match &load_path {
                Some(load) => format!("{load}={}", v.param(load).unwrap_or_default()),
                None => "all points".to_owned(),
            };
            let points = |stable: bool| {
                group(
                    sorted
                        .iter()
                        .filter(|l| l.view.stable() == stable)
                        .filter_map(|l| {
                            Some((
                                level(&l.view),
                                l.view.cost()?,
                                figure(&l.view, "p99")? * 1e3,
                            ))
                        })
                        .collect(),
                )
            };
            let mut series = Vec::new();
            for (i, (k, v)) in points(true).into_iter().enumerate() {
                series.push(Series::new(
                    if k == "all points" {
                        "Pareto frontier".to_owned()
                    } else {
                        format!("frontier at {k}")
                    },
                    frontier(&v),
                    Style::Line,
                    i,
                ));
                series.push(Series::new("", v, Style::Points, i));
            }
            let overloaded: Vec<(f64, f64)> =
                points(false).into_iter().flat_map(|(_, v)| v).collect();
            if !overloaded.is_empty() {
                series.push(Series::new(
                    "overloaded (off every frontier)",
                    overloaded,
                    Style::Points,
                    REFERENCE,
                ));
            }
            if let (Some(p99), false) = (slo_p99, series.is_empty()) {
                let (lo, hi) = bounds(sorted.iter().filter_map(|l| l.view.cost()));
                series.push(target(
                    format!("SLO: p99 ≤ {}", crate::format::duration(Some(p99), None)),
                    p99 * 1e3,
                    lo,
                    hi,
                ));
            }
            charts.push((
                format!("cost-vs-p99-{class}"),
                Chart {
                    title: format!(
                        "{class}: cost against p99 latency (lines: Pareto frontiers of the stable points)"
                    ),
                    x_label: "cost ($/hour, illustrative prices)".into(),
                    y_label: "p99 latency (ms)".into(),
                    log_y: true,
                    series,
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
                    percentile_line(name, [l.p50, l.p90, l.p99, l.p999], i)
                })
                .collect();
            (
                format!("latency-percentiles-{class}"),
                percentile_chart(
                    format!("{class}: latency percentiles by architecture"),
                    series,
                ),
            )
        })
        .collect()
}

/// One line of a percentile chart: p50, p90, p99 and p99.9 (seconds)
/// against the percentile in nines, −log10(1 − q), so that the tail gets
/// its share of the axis; `None` when a percentile is missing (nothing
/// completed).
fn percentile_line(name: &str, q: [Option<f64>; 4], colour: usize) -> Option<Series> {
    let nines = |q: f64| -(1.0 - q).log10();
    let points = [0.5, 0.9, 0.99, 0.999]
        .into_iter()
        .zip(q)
        .map(|(at, v)| Some((nines(at), v? * 1e3)))
        .collect::<Option<Vec<_>>>()?;
    Some(Series::new(name, points, Style::Line, colour))
}

/// A chart of latency percentiles, log scale.
fn percentile_chart(title: String, series: Vec<Series>) -> Chart {
    Chart {
        title,
        x_label: "percentile in nines (0.3 = p50, 1 = p90, 2 = p99, 3 = p99.9)".into(),
        y_label: "latency (ms)".into(),
        log_y: true,
        series,
        spans: Vec::new(),
    }
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
        let name = r.name();
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
                y_label: "p99 latency (ms)".into(),
                log_y: true,
                series: latency,
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
                spans,
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sweep's point line: `params`, one class `q` with its arrivals,
    /// throughput, mean and p99 (seconds), and optional extras.
    fn point(
        i: usize,
        params: serde_json::Value,
        q: (f64, f64, f64, f64),
        extra: serde_json::Value,
    ) -> String {
        let (arrived, throughput, mean, p99) = q;
        let mut line = serde_json::json!({
            "fingerprint": "f",
            "point": i,
            "points": 9,
            "label": format!("{params}"),
            "params": params,
            "result": {
                "duration": 100.0,
                "replications": 1,
                "classes": { "q": { "arrived": arrived, "completed": arrived, "throughput": throughput,
                    "latency": { "mean": mean, "p99": p99 } } },
            },
        });
        for (k, v) in extra.as_object().unwrap() {
            if k == "slo" {
                line["slo"] = v.clone();
            } else {
                line["result"][k] = v.clone();
            }
        }
        line.to_string()
    }

    fn charts_of(lines: &[String]) -> Vec<(String, Chart)> {
        let (lines, skipped) = crate::sweep::parse_lines(&(lines.join("\n") + "\n"));
        assert_eq!(skipped, 0);
        sweep_charts(&lines)
    }

    fn chart<'a>(charts: &'a [(String, Chart)], stem: &str) -> &'a Chart {
        &charts
            .iter()
            .find(|(s, _)| s == stem)
            .unwrap_or_else(|| panic!("no {stem}"))
            .1
    }

    /// A sweep of settings with no load or scale axis (variants only):
    /// one percentile line per point, p50 to p99.9 against the nines; a
    /// swept count of read replicas draws throughput against replicas.
    #[test]
    fn sweeps_without_an_axis_draw_percentiles_and_read_replicas_count() {
        let lines: Vec<String> = [(0.010, 0.020, 0.040, 0.080), (0.015, 0.030, 0.090, 0.200)]
            .iter()
            .enumerate()
            .map(|(i, &(p50, p90, p99, p999))| {
                let mut line: serde_json::Value = serde_json::from_str(&point(
                    i,
                    serde_json::json!({}),
                    (1000.0, 10.0, p50, p99),
                    serde_json::json!({}),
                ))
                .unwrap();
                let l = &mut line["result"]["classes"]["q"]["latency"];
                l["p50"] = p50.into();
                l["p90"] = p90.into();
                l["p999"] = p999.into();
                line["variant"] = format!("v{i}").into();
                line.to_string()
            })
            .collect();
        let charts = charts_of(&lines);
        let c = chart(&charts, "latency-percentiles-q");
        assert_eq!(c.series.len(), 2);
        let nines: Vec<f64> = c.series[1].points.iter().map(|p| p.0).collect();
        for (x, q) in nines.iter().zip([0.5f64, 0.9, 0.99, 0.999]) {
            assert!((x + (1.0 - q).log10()).abs() < 1e-12);
        }
        let ys: Vec<f64> = c.series[1].points.iter().map(|p| p.1).collect();
        assert_eq!(ys, vec![15.0, 30.0, 90.0, 200.0]);
        // With a swept axis, no percentile chart.
        let replicas: Vec<String> = [1, 2]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                point(
                    i,
                    serde_json::json!({ "services.db.replicas.count": n.to_string() }),
                    (1000.0, 10.0 * f64::from(*n), 0.01, 0.02),
                    serde_json::json!({}),
                )
            })
            .collect();
        let charts = charts_of(&replicas);
        assert!(charts.iter().any(|(s, _)| s == "throughput-vs-replicas-q"));
        assert!(!charts.iter().any(|(s, _)| s == "latency-percentiles-q"));
    }

    /// A load sweep with an SLO and a closed form: the latency chart has
    /// p99 lines, mean dots, the exact mean dashed and the SLO's line.
    #[test]
    fn latency_against_load_has_mean_p99_theory_and_the_slo() {
        let lines: Vec<String> = [(10.0, 0.010, 0.040), (50.0, 0.020, 0.090)]
            .iter()
            .enumerate()
            .map(|(i, &(rate, mean, p99))| {
                point(
                    i,
                    serde_json::json!({ "load.q.rate": format!("{rate}/s") }),
                    (rate * 100.0, rate, mean, p99),
                    serde_json::json!({
                        "theory": { "q": { "mean": mean * 1.01 } },
                        "slo": { "met": true, "violations": [], "p99": 0.1 },
                    }),
                )
            })
            .collect();
        let charts = charts_of(&lines);
        let c = chart(&charts, "latency-vs-load-q");
        let styles: Vec<(&str, Style, usize)> = c
            .series
            .iter()
            .map(|s| (s.label.as_str(), s.style, s.color))
            .collect();
        assert!(styles.contains(&("p99", Style::Line, 0)), "{styles:?}");
        assert!(styles.contains(&("mean", Style::Points, 0)), "{styles:?}");
        // The exact mean in its series' colour.
        assert!(styles.contains(&("exact mean (theory)", Style::Dashed, 0)));
        let slo = c
            .series
            .iter()
            .find(|s| s.color == TARGET)
            .expect("an SLO line");
        assert_eq!(slo.label, "SLO: p99 ≤ 100 ms");
        assert!(slo.points.iter().all(|&(_, y)| (y - 100.0).abs() < 1e-9));
        // Without an SLO, no such line.
        let bare: Vec<String> = lines
            .iter()
            .map(|l| l.replace(",\"p99\":0.1", ""))
            .collect();
        let charts = charts_of(&bare);
        assert!(
            !chart(&charts, "latency-vs-load-q")
                .series
                .iter()
                .any(|s| s.color == TARGET)
        );
    }

    /// Replicas swept at a rate the fewest already serve: no ideal line;
    /// at a rate they cannot keep up with: the ideal line.
    #[test]
    fn an_ideal_line_only_where_more_replicas_could_help() {
        let sweep = |offered: f64, served: [f64; 3]| -> Vec<String> {
            [1, 2, 4]
                .iter()
                .zip(served)
                .enumerate()
                .map(|(i, (&n, x))| {
                    point(
                        i,
                        serde_json::json!({ "services.api.replicas": n }),
                        (offered * 100.0, x, 0.01, 0.02),
                        serde_json::json!({}),
                    )
                })
                .collect()
        };
        let ideal = |lines: &[String]| {
            chart(&charts_of(lines), "throughput-vs-replicas-q")
                .series
                .iter()
                .any(|s| s.style == Style::Dashed)
        };
        assert!(!ideal(&sweep(100.0, [100.0, 100.0, 100.0])));
        assert!(ideal(&sweep(400.0, [110.0, 215.0, 390.0])));
    }

    /// A resharding what-if (`services.db.shards.count` and `shards.by`
    /// swept): a throughput-against-shards chart, one line per split, each
    /// with its ideal line where one shard fell behind the load, labelled
    /// in shards.
    #[test]
    fn shards_swept_get_their_throughput_chart() {
        let lines: Vec<String> = [
            (1, "hash", 250.0),
            (4, "hash", 700.0),
            (1, "range", 250.0),
            (4, "range", 380.0),
        ]
        .iter()
        .enumerate()
        .map(|(i, &(n, by, x))| {
            point(
                i,
                serde_json::json!({ "services.db.shards.count": n, "services.db.shards.by": by }),
                (70_000.0, x, 0.01, 0.02),
                serde_json::json!({}),
            )
        })
        .collect();
        let charts = charts_of(&lines);
        let c = chart(&charts, "throughput-vs-shards-q");
        assert_eq!(c.x_label, "shards (services.db.shards.count)");
        let lines: Vec<&Series> = c.series.iter().filter(|s| s.style == Style::Line).collect();
        assert_eq!(lines.len(), 2);
        let ideal: Vec<&Series> = c
            .series
            .iter()
            .filter(|s| s.style == Style::Dashed)
            .collect();
        assert_eq!(ideal.len(), 2);
        assert_eq!(ideal[0].label, "ideal: linear in shards, up to the load");
        assert!(
            charts
                .iter()
                .all(|(stem, _)| !stem.starts_with("throughput-vs-replicas"))
        );
    }

    /// The frontier is drawn over the stable points only: a cheap point
    /// whose replications stopped early is grey, off every frontier.
    #[test]
    fn frontiers_leave_out_overloaded_points() {
        let priced = |i: usize, cost: f64, p99: f64, stopped: bool| {
            let mut extra = serde_json::json!({ "cost": { "per_hour": cost } });
            if stopped {
                extra["stopped"] = serde_json::json!([{ "replication": 0, "cause": "in_system", "at": 1.0, "measured": 1.0 }]);
            }
            point(
                i,
                serde_json::json!({ "services.api.profile": format!("p{i}") }),
                (1000.0, 10.0, 0.01, p99),
                extra,
            )
        };
        let lines = vec![
            priced(0, 1.0, 5.0, true),
            priced(1, 2.0, 0.050, false),
            priced(2, 4.0, 0.020, false),
            priced(3, 8.0, 0.030, false),
        ];
        let (parsed, _) = crate::sweep::parse_lines(&(lines.join("\n") + "\n"));
        assert!(!parsed[0].view.stable() && parsed[1].view.stable());
        let charts = charts_of(&lines);
        let c = chart(&charts, "cost-vs-p99-q");
        let frontier = c
            .series
            .iter()
            .find(|s| s.label == "Pareto frontier")
            .unwrap();
        assert_eq!(frontier.points, vec![(2.0, 50.0), (4.0, 20.0)]);
        let grey = c.series.iter().find(|s| s.color == REFERENCE).unwrap();
        assert_eq!(grey.points, vec![(1.0, 5000.0)]);
    }

    /// A log axis only when the values span two decades; the legend beside
    /// the plot, right of every data point; twenty distinct colours.
    #[test]
    fn axes_legends_and_colours_follow_the_rules() {
        let chart = |ys: &[f64]| Chart {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_y: true,
            series: vec![Series::line(
                "a series",
                ys.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect(),
                0,
            )],
            spans: Vec::new(),
        };
        assert!(!log_scale(&chart(&[1.0, 50.0])));
        assert!(log_scale(&chart(&[1.0, 200.0])));
        let svg = svg(&chart(&[1.0, 2.0, 3.0])).unwrap();
        // The legend's text sits in the strip right of the plot.
        let at = svg.find("a series").expect("the legend");
        let tag = &svg[svg[..at].rfind("<text").unwrap()..at];
        let x: f64 = tag
            .split("x=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(x >= f64::from(1000 - LEGEND_WIDTH), "legend at x = {x}");
        let colours: std::collections::BTreeSet<String> = (0..20).map(hex).collect();
        assert_eq!(colours.len(), 20);
        assert_eq!(hex(20), hex(0));
    }

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

    /// Legend labels wrap between words on two lines at most.
    #[test]
    fn legend_labels_wrap_on_two_lines() {
        assert_eq!(wrap("1 server: p99"), vec!["1 server: p99"]);
        assert_eq!(
            wrap("cv 3 (hyperexponential): exact mean (theory)"),
            vec!["cv 3 (hyperexponential): exact", "mean (theory)"]
        );
        let long = wrap(&"word ".repeat(30));
        assert_eq!(long.len(), 2);
        assert!(long[1].ends_with('…') && long[1].chars().count() <= 32);
        assert!(
            wrap(&"x".repeat(40))
                .iter()
                .all(|l| l.chars().count() <= 32)
        );
    }

    /// Ticks read as numbers are written: whole counts without decimals.
    #[test]
    fn ticks_drop_trailing_zeros() {
        assert_eq!(tick(2.0), "2");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(0.125), "0.125");
        assert_eq!(tick(1500.0), "1500");
        assert_eq!(tick(0.0), "0");
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
            shard: None,
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
            y_label: "p99 latency (ms)".into(),
            log_y: true,
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
