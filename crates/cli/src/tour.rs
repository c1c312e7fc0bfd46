//! `chokepoint tour`: the guided tour for teaching queueing and scaling
//! (docs/tour.md). Each lesson is a bundled scenario under
//! `scenarios/tour/`, the commands that run it (the very commands a
//! student types), the chart they draw, and claims: what the lesson
//! teaches, checked on the numbers the commands wrote (the JSON contract of
//! docs/output.md), so that a lesson can never silently stop teaching what
//! it says. `chokepoint tour N` exits with code 1 when a claim fails.

mod lessons;

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::Value;

pub(crate) use lessons::LESSONS;

/// The file that marks a lesson's folder as the tour's own.
const MARK: &str = ".chokepoint-tour";

/// `chokepoint tour [N]`.
#[derive(clap::Args, Debug)]
pub(crate) struct TourArgs {
    /// The lesson to run (1, 2, ...); without it, the list of lessons.
    lesson: Option<usize>,
}

/// One lesson.
pub(crate) struct Lesson {
    /// Its scenario's name under `scenarios/tour/`, without `.toml`
    /// (`01-utilisation`); its commands write under `tour/NN`.
    pub(crate) slug: &'static str,
    /// What it shows, in a few words.
    pub(crate) title: &'static str,
    /// The question it answers.
    pub(crate) question: &'static str,
    /// The commands it runs, in order, as typed after `chokepoint`.
    pub(crate) commands: &'static [&'static str],
    /// The chart to look at, under the lesson's folder, without extension.
    pub(crate) chart: &'static str,
    /// What to notice, in one or two sentences.
    pub(crate) notice: &'static str,
    /// What to try next.
    pub(crate) next: &'static str,
    /// Its claims, judged on what the commands wrote in the folder.
    pub(crate) claims: fn(&Outputs) -> anyhow::Result<Vec<Claim>>,
}

impl Lesson {
    /// Its number, from its slug.
    pub(crate) fn number(&self) -> usize {
        self.slug[..2]
            .parse()
            .expect("a lesson's slug starts with its number")
    }

    /// The folder its commands write to.
    pub(crate) fn folder(&self) -> PathBuf {
        PathBuf::from(format!("tour/{}", &self.slug[..2]))
    }
}

/// What a claim says, the figures it was judged on, and whether it holds.
pub(crate) struct Claim {
    pub(crate) says: String,
    pub(crate) holds: bool,
}

impl Claim {
    /// A claim that holds when `holds`, stated with its figures.
    pub(crate) fn new(holds: bool, says: impl Into<String>) -> Claim {
        Claim {
            says: says.into(),
            holds,
        }
    }
}

/// The files a lesson's commands wrote in its folder.
pub(crate) struct Outputs {
    folder: PathBuf,
}

impl Outputs {
    /// The text of the file `name` the commands wrote under `sub`.
    fn read(&self, sub: &str, name: &str) -> anyhow::Result<(PathBuf, String)> {
        let path = self.folder.join(sub).join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Ok((path, text))
    }

    /// A sweep's points (`points.jsonl`, read as `merge` and the charts
    /// read it), in point order, from the subfolder `sub` (empty: the
    /// folder itself).
    pub(crate) fn points(&self, sub: &str) -> anyhow::Result<Points> {
        let (path, text) = self.read(sub, "points.jsonl")?;
        let (lines, skipped) = chokepoint_report::sweep::parse_lines(&text);
        anyhow::ensure!(
            skipped == 0,
            "{}: {skipped} lines are not points",
            path.display()
        );
        Ok(Points(lines))
    }

    /// A run's time series (`timeseries.csv` under `sub`): the windows'
    /// ends (seconds) and values of `metric` for `name` (a class or a
    /// service) of `kind` (`class` or `station`), in time order.
    pub(crate) fn series(
        &self,
        sub: &str,
        kind: &str,
        name: &str,
        metric: &str,
    ) -> anyhow::Result<Vec<(f64, f64)>> {
        let (path, text) = self.read(sub, "timeseries.csv")?;
        let mut out = Vec::new();
        for line in text.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            if let [time, k, n, m, value, ..] = cells[..]
                && (k, n, m) == (kind, name, metric)
            {
                out.push((time.parse()?, value.parse()?));
            }
        }
        if out.is_empty() {
            bail!("no {kind} {name} {metric} in {}", path.display());
        }
        Ok(out)
    }

    /// A JSON file the commands wrote (`results.json`, `compare.json`,
    /// `diagnose.json`), under `sub`.
    pub(crate) fn json(&self, sub: &str, name: &str) -> anyhow::Result<Value> {
        let (path, text) = self.read(sub, name)?;
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
    }
}

/// A sweep's points.
pub(crate) struct Points(Vec<chokepoint_report::sweep::PointLine>);

impl Points {
    /// The point whose variant is `variant` (`""`: any) and whose swept
    /// values are `params`, each as the point's label writes it (`"95/s"`,
    /// `"4"`): its whole line. Exactly one point must match.
    pub(crate) fn at(&self, variant: &str, params: &[(&str, &str)]) -> anyhow::Result<&Value> {
        let mut matching = self.0.iter().filter(|l| {
            (variant.is_empty() || l.view.variant.as_deref() == Some(variant))
                && params.iter().all(|(k, v)| l.view.param(k) == Some(*v))
        });
        let point = matching
            .next()
            .with_context(|| format!("no point {variant} {params:?} in the sweep"))?;
        anyhow::ensure!(
            matching.next().is_none(),
            "several points {variant} {params:?} in the sweep"
        );
        Ok(&point.value)
    }

    /// Every point's whole line.
    pub(crate) fn all(&self) -> Vec<&Value> {
        self.0.iter().map(|l| &l.value).collect()
    }
}

/// The number at `path` (dot-separated keys) in `value`.
pub(crate) fn num(value: &Value, path: &str) -> anyhow::Result<f64> {
    let mut v = value;
    for key in path.split('.') {
        v = match key.parse::<usize>() {
            Ok(i) if v.is_array() => &v[i],
            _ => &v[key],
        };
    }
    v.as_f64()
        .with_context(|| format!("no number at {path} (found {v})"))
}

/// `chokepoint tour`: the list, or lesson N run and judged.
pub(crate) fn tour(args: &TourArgs) -> anyhow::Result<()> {
    let Some(n) = args.lesson else {
        list();
        return Ok(());
    };
    let Some(lesson) = LESSONS.iter().find(|l| l.number() == n) else {
        return Err(crate::input::BadInput(format!(
            "there is no lesson {n}: the tour has lessons 1 to {} (`chokepoint tour` lists them)",
            LESSONS.len()
        ))
        .into());
    };
    let scenario = PathBuf::from(format!("scenarios/tour/{}.toml", lesson.slug));
    if !scenario.exists() {
        return Err(crate::input::BadInput(format!(
            "{} is not here: run the tour from chokepoint's folder (the one with scenarios/)",
            scenario.display()
        ))
        .into());
    }
    println!(
        "Lesson {n} of {}: {}\n{}\n\nscenario: {} (its header says what it models, and why)\ncommands, as you would type them (without chokepoint installed: cargo run --release -p chokepoint -- ...):",
        LESSONS.len(),
        lesson.title,
        lesson.question,
        scenario.display()
    );
    // The lesson's own folder, rewritten at each run (a sweep refuses a
    // folder that holds another run's points); a folder of that name the
    // tour did not write is left alone.
    let folder = lesson.folder();
    if folder.exists() {
        if !folder.join(MARK).exists() {
            return Err(crate::input::BadInput(format!(
                "{} exists and was not written by the tour: move it away, or run the tour from another folder",
                folder.display()
            ))
            .into());
        }
        std::fs::remove_dir_all(&folder)
            .with_context(|| format!("cannot clear {}", folder.display()))?;
    }
    std::fs::create_dir_all(&folder)
        .and_then(|()| std::fs::write(folder.join(MARK), "written by `chokepoint tour`\n"))
        .with_context(|| format!("cannot write {}", folder.display()))?;
    for command in lesson.commands {
        println!("\n$ chokepoint {command}\n");
        run_command(command)?;
        // Interrupted: what finished was reported; nothing to judge.
        if crate::interrupt::interrupted() {
            return Ok(());
        }
    }
    let outputs = Outputs {
        folder: lesson.folder(),
    };
    let claims = (lesson.claims)(&outputs)?;
    println!(
        "\nchart: {}.png (and .svg)",
        lesson.folder().join(lesson.chart).display()
    );
    println!("what to notice: {}", lesson.notice);
    for c in &claims {
        println!("  {} {}", if c.holds { "✓" } else { "✗" }, c.says);
    }
    println!("try next: {}", lesson.next);
    println!("more: docs/tour.md, lesson {n} (the theory, and what each figure means)");
    let failed = claims.iter().filter(|c| !c.holds).count();
    if failed > 0 {
        bail!(
            "{failed} of the lesson's claims did not hold on this run: the lesson no longer shows what it says (please report it)"
        );
    }
    Ok(())
}

/// The lessons, one line each.
fn list() {
    println!("The chokepoint tour: each lesson a scenario, a chart and a claim the tests hold.");
    println!(
        "Run one with `chokepoint tour N` from chokepoint's folder; docs/tour.md tells the theory.\n"
    );
    for l in LESSONS {
        println!("{:>3}. {}  ({})", l.number(), l.title, l.slug);
    }
}

/// Runs `command` (as typed after `chokepoint`) as the binary would.
fn run_command(command: &str) -> anyhow::Result<()> {
    let args = std::iter::once("chokepoint").chain(command.split_whitespace());
    let cli = <crate::Cli as clap::Parser>::try_parse_from(args)
        .with_context(|| format!("the lesson's command `{command}` does not parse"))?;
    crate::dispatch(cli.command)
}

/// The scenario files of the lessons, for the tests.
#[cfg(test)]
pub(crate) fn scenario_path(lesson: &Lesson) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/tour")
        .join(format!("{}.toml", lesson.slug))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/tour.md has a section per lesson, headed by its number and
    /// title, with its commands as the tour runs them and its chart.
    #[test]
    fn the_tour_document_follows_the_lessons() {
        let doc = include_str!("../../../docs/tour.md");
        for l in LESSONS {
            let n = l.number();
            assert!(
                doc.contains(&format!("\n## {n}. {}\n", l.title)),
                "no section for lesson {n}"
            );
            let section = doc
                .split(&format!("\n## {n}. "))
                .nth(1)
                .and_then(|s| s.split("\n## ").next())
                .unwrap_or_default();
            assert!(section.contains(l.question), "lesson {n}'s question");
            for c in l.commands {
                assert!(
                    section.contains(&format!("chokepoint {c}\n")),
                    "lesson {n}: `{c}` is not in docs/tour.md"
                );
            }
            assert!(
                section.contains(&format!("(images/tour-{n:02}.png)")),
                "lesson {n}'s chart"
            );
            assert!(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(format!("../../docs/images/tour-{n:02}.png"))
                    .exists(),
                "docs/images/tour-{n:02}.png (scripts/doc-images.sh)"
            );
        }
    }

    /// Every lesson is numbered in order, has its scenario, and its
    /// commands parse and write to its own folder.
    #[test]
    fn lessons_are_in_order_and_their_commands_parse() {
        for (i, l) in LESSONS.iter().enumerate() {
            assert_eq!(l.number(), i + 1, "{}", l.slug);
            assert!(scenario_path(l).exists(), "{}", l.slug);
            for c in l.commands {
                let args = std::iter::once("chokepoint").chain(c.split_whitespace());
                assert!(
                    <crate::Cli as clap::Parser>::try_parse_from(args).is_ok(),
                    "{c}"
                );
                assert!(
                    c.contains(&format!("scenarios/tour/{}", &l.slug[..2])),
                    "{c} runs another lesson's scenario"
                );
                assert!(
                    c.contains(&format!("--out {}", l.folder().display())),
                    "{c} writes outside its folder"
                );
            }
        }
    }
}
