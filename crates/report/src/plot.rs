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

use chokepoint_scenario::units::parse_rate;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::sweep::PointLine;

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

/// A chart to draw: lines of (x, y) points with labels.
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
    /// Labelled lines, each sorted by x.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// An optional dashed reference line `y = x`, labelled.
    pub identity: Option<String>,
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
    let points = chart.series.iter().flat_map(|(_, p)| p.iter().copied());
    let (x0, x1) = bounds(points.clone().map(|(x, _)| x));
    let pad = 0.04 * (x1 - x0);
    let x_range = (x0 - pad)..(x1 + pad);
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(&chart.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80);
    let style = |c: usize| Palette99::pick(c).stroke_width(2);
    if chart.log_y {
        let positive = points.clone().map(|(_, y)| y).filter(|y| *y > 0.0);
        let (y0, y1) = bounds(positive);
        let mut ctx = builder
            .build_cartesian_2d(x_range, ((y0 / 1.5).max(1e-12)..(y1 * 1.5)).log_scale())
            .map_err(err)?;
        ctx.configure_mesh()
            .x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        for (i, (label, data)) in chart.series.iter().enumerate() {
            let data: Vec<(f64, f64)> = data.iter().copied().filter(|(_, y)| *y > 0.0).collect();
            ctx.draw_series(LineSeries::new(data.clone(), style(i)))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style(i)));
            ctx.draw_series(
                data.iter()
                    .map(|&p| Circle::new(p, 3, Palette99::pick(i).filled())),
            )
            .map_err(err)?;
        }
        ctx.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(err)?;
    } else {
        let (_, y1) = bounds(points.clone().map(|(_, y)| y));
        let y_top = match &chart.identity {
            Some(_) => y1.max(x1) * 1.08,
            None => y1 * 1.08,
        };
        let mut ctx = builder
            .build_cartesian_2d(x_range, 0.0..y_top)
            .map_err(err)?;
        ctx.configure_mesh()
            .x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        if let Some(label) = &chart.identity {
            let ideal = BLACK.mix(0.6).stroke_width(1);
            ctx.draw_series(DashedLineSeries::new(vec![(x0, x0), (x1, x1)], 6, 4, ideal))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ideal));
        }
        for (i, (label, data)) in chart.series.iter().enumerate() {
            ctx.draw_series(LineSeries::new(data.clone(), style(i)))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style(i)));
            ctx.draw_series(
                data.iter()
                    .map(|&p| Circle::new(p, 3, Palette99::pick(i).filled())),
            )
            .map_err(err)?;
        }
        ctx.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(err)?;
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

/// The charts of a sweep (see the module documentation); empty when the
/// sweep has no load axis.
pub fn sweep_charts(lines: &[PointLine]) -> Vec<(String, Chart)> {
    let mut sorted: Vec<&PointLine> = lines.iter().collect();
    sorted.sort_by_key(|l| l.point);
    let Some(first) = sorted.first() else {
        return Vec::new();
    };
    let Some(load_path) = first.value["params"].as_object().and_then(|p| {
        p.keys()
            .find(|k| k.starts_with("load.") && k.ends_with(".rate"))
            .cloned()
    }) else {
        return Vec::new();
    };
    let classes: Vec<String> = first.value["result"]["classes"]
        .as_object()
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    let mut charts = Vec::new();
    for class in classes {
        // Series keyed by everything but the load: the variant and other parameters.
        let mut p99: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        let mut throughput: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for line in &sorted {
            let v = &line.value;
            let Some(rate) = v["params"][&load_path]
                .as_str()
                .and_then(|r| parse_rate(r).ok())
            else {
                continue;
            };
            let mut key: Vec<String> = v["variant"]
                .as_str()
                .map(str::to_owned)
                .into_iter()
                .collect();
            if let Some(params) = v["params"].as_object() {
                key.extend(
                    params
                        .iter()
                        .filter(|(k, _)| **k != load_path)
                        .map(|(k, x)| format!("{}={}", k, x.as_str().unwrap_or_default())),
                );
            }
            let key = if key.is_empty() {
                "all points".to_owned()
            } else {
                key.join(", ")
            };
            let c = &v["result"]["classes"][&class];
            if let Some(y) = c["latency"]["p99"].as_f64() {
                p99.entry(key.clone()).or_default().push((rate, y * 1e3));
            }
            if let Some(x) = c["throughput"].as_f64() {
                throughput.entry(key).or_default().push((rate, x));
            }
        }
        let sort = |m: BTreeMap<String, Vec<(f64, f64)>>| -> Vec<(String, Vec<(f64, f64)>)> {
            m.into_iter()
                .map(|(k, mut v)| {
                    v.sort_by(|a, b| a.0.total_cmp(&b.0));
                    (k, v)
                })
                .collect()
        };
        charts.push((
            format!("p99-vs-load-{class}"),
            Chart {
                title: format!("{class}: p99 latency against offered load"),
                x_label: format!("offered load ({load_path}, requests/s)"),
                y_label: "p99 latency (ms, log scale)".into(),
                log_y: true,
                series: sort(p99),
                identity: None,
            },
        ));
        charts.push((
            format!("throughput-vs-load-{class}"),
            Chart {
                title: format!("{class}: throughput against offered load"),
                x_label: format!("offered load ({load_path}, requests/s)"),
                y_label: "throughput (requests/s)".into(),
                log_y: false,
                series: sort(throughput),
                identity: Some("ideal: throughput = offered load".into()),
            },
        ));
    }
    charts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chart renders to a PNG and an SVG of some size, and the SVG holds
    /// the title and axis labels as text (so the font was found).
    #[test]
    fn charts_render_with_text() {
        let chart = Chart {
            title: "test chart".into(),
            x_label: "offered load (requests/s)".into(),
            y_label: "p99 latency (ms, log scale)".into(),
            log_y: true,
            series: vec![
                (
                    "servers=1".into(),
                    vec![(100.0, 20.0), (200.0, 90.0), (400.0, 5000.0)],
                ),
                (
                    "servers=2".into(),
                    vec![(100.0, 12.0), (200.0, 15.0), (400.0, 60.0)],
                ),
            ],
            identity: None,
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
            identity: Some("ideal".into()),
            ..chart
        };
        write(&linear, &dir.join("linear")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
