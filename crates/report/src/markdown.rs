//! Markdown renderings, pasteable into a design document: a run's, a
//! comparison's and a sweep's (`diagnose`'s is `Diagnosis::markdown`),
//! their tables from the same rows the text tables print, their charts
//! linked by file name.

use std::fmt::Write;

use crate::compare::Comparison;
use crate::summary::Summary;
use crate::sweep::PointLine;

/// `text` with Markdown's table and emphasis characters escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\n' {
            out.push(' ');
            continue;
        }
        if matches!(
            c,
            '|' | '*' | '_' | '[' | ']' | '`' | '\\' | '<' | '>' | '&'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `rows` (the first the header) as a Markdown table, the first column
/// left-aligned and the others right-aligned.
pub(crate) fn table(out: &mut String, rows: &[Vec<String>]) {
    let Some((header, body)) = rows.split_first() else {
        return;
    };
    let line = |cells: &[String]| {
        let cells: Vec<String> = cells.iter().map(|c| escape(c)).collect();
        format!("| {} |", cells.join(" | "))
    };
    let _ = writeln!(out, "{}", line(header));
    let rule: Vec<&str> = (0..header.len())
        .map(|i| if i == 0 { ":--" } else { "--:" })
        .collect();
    let _ = writeln!(out, "| {} |", rule.join(" | "));
    for row in body {
        let _ = writeln!(out, "{}", line(row));
    }
}

/// Links to `charts` (file names, relative to where the Markdown is
/// written), one per line, as images.
fn charts(out: &mut String, charts: &[String]) {
    if charts.is_empty() {
        return;
    }
    out.push_str("\n## Charts\n\n");
    for c in charts {
        // Angle brackets: a path with spaces or parentheses stays one link.
        let _ = writeln!(out, "![{}](<{}>)\n", escape(c), c);
    }
}

/// A run: its settings, the classes' and services' tables, then the rest
/// of the report as printed (where time goes, the capacity table beside
/// the run, cost, SLO), and links to `chart_files`.
pub fn run(summary: &Summary, chart_files: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", escape(&summary.scenario));
    let _ = writeln!(
        out,
        "{} replication(s) × {} s measured after {} s warm-up · seed {}\n",
        summary.replications,
        crate::format::sig3(summary.duration),
        crate::format::sig3(summary.warmup),
        summary.seed
    );
    let caveats = crate::format::caveats(summary);
    for line in caveats.lines() {
        let _ = writeln!(out, "> {}", escape(line));
    }
    if !caveats.trim().is_empty() {
        out.push('\n');
    }
    if let Some(slo) = &summary.slo {
        let _ = writeln!(
            out,
            "**SLO: {}**\n",
            if slo.met {
                "met".to_owned()
            } else {
                format!("missed ({})", escape(&slo.violations.join("; ")))
            }
        );
    }
    let (classes, stations) = crate::format::summary_rows(summary);
    out.push_str("## Classes\n\n");
    table(&mut out, &classes);
    out.push_str("\n## Services\n\n");
    table(&mut out, &stations);
    // What the text report says after its two tables.
    let notes = crate::format::notes(summary);
    let rest: Vec<&str> = notes.lines().filter(|l| !l.trim().is_empty()).collect();
    if !rest.is_empty() {
        out.push_str("\n## Notes\n\n```text\n");
        for line in rest {
            let _ = writeln!(out, "{line}");
        }
        out.push_str("```\n");
    }
    charts(&mut out, chart_files);
    out
}

/// A comparison: its header, each design's verdict, one table per block
/// (design, each class, each station), the legend, and `chart_files`.
pub fn compare(comparison: &Comparison, chart_files: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", escape(&crate::compare::header(comparison)));
    for line in comparison.verdicts.iter().filter(|l| !l.ends_with(": ")) {
        let _ = writeln!(out, "- {}", escape(line));
    }
    for block in crate::compare::rows(comparison).split(Vec::is_empty) {
        if block.is_empty() {
            continue;
        }
        out.push('\n');
        let rows: Vec<Vec<String>> = block
            .iter()
            .map(|r| r.iter().map(|c| c.trim().to_owned()).collect())
            .collect();
        table(&mut out, &rows);
    }
    let _ = writeln!(out, "\n{}", escape(crate::compare::LEGEND));
    charts(&mut out, chart_files);
    out
}

/// A sweep: one row per point (its label, each class's throughput and
/// p99, its cost, its SLO verdict, whether it held), the decisions, and
/// `chart_files`.
pub fn sweep(name: &str, lines: &[PointLine], chart_files: &[String]) -> String {
    let mut sorted: Vec<&PointLine> = lines.iter().collect();
    sorted.sort_by_key(|l| l.point);
    let mut out = String::new();
    let _ = writeln!(out, "# {}: sweep\n", escape(name));
    let classes: Vec<String> = sorted
        .first()
        .map(|l| l.view.result.classes.keys().cloned().collect())
        .unwrap_or_default();
    let judged = sorted.iter().any(|l| l.view.slo.is_some());
    let priced = sorted.iter().any(|l| l.view.cost().is_some());
    let mut header = vec!["point".to_owned(), "parameters".to_owned()];
    for c in &classes {
        header.push(format!("{c} throughput/s"));
        header.push(format!("{c} p99"));
    }
    if priced {
        header.push("$/hour".into());
    }
    if judged {
        header.push("SLO".into());
    }
    header.push("steady".into());
    let mut rows = vec![header];
    for l in &sorted {
        let v = &l.view;
        let mut row = vec![l.point.to_string(), v.label.clone()];
        for c in &classes {
            let class = v.result.classes.get(c);
            row.push(
                class
                    .and_then(|x| x.throughput)
                    .map_or_else(|| crate::format::NONE.to_owned(), crate::format::sig3),
            );
            row.push(crate::format::duration(
                class.and_then(|x| x.latency.p99),
                None,
            ));
        }
        if priced {
            row.push(
                v.cost()
                    .map_or_else(|| crate::format::NONE.to_owned(), crate::format::sig3),
            );
        }
        if judged {
            row.push(
                match v.met() {
                    Some(true) => "met",
                    Some(false) => "missed",
                    None => crate::format::NONE,
                }
                .to_owned(),
            );
        }
        row.push(if v.stable() { "yes" } else { "no: overloaded" }.to_owned());
        rows.push(row);
    }
    table(&mut out, &rows);
    let decisions = crate::sweep::decisions(lines);
    if !decisions.trim().is_empty() {
        out.push_str("\n## Decisions\n\n```text\n");
        out.push_str(decisions.trim_end());
        out.push_str("\n```\n");
    }
    charts(&mut out, chart_files);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_escape_and_align() {
        let mut out = String::new();
        table(
            &mut out,
            &[
                vec!["class".into(), "p99".into()],
                vec!["a|b".into(), "1 ms".into()],
            ],
        );
        assert_eq!(out, "| class | p99 |\n| :-- | --: |\n| a\\|b | 1 ms |\n");
    }
}
