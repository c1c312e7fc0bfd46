//! An open class's `rate` as a profile over time: `steps`, `ramp`, `spike`,
//! `diurnal`, or a `trace` file of (time, rate) lines, read here and only
//! here, relative to the scenario's folder. A closed class's `population`
//! follows the same shapes but the cosine, its steps given as `population`.
//!
//! Every shape becomes one of the engine's two: points joined by straight
//! lines (two points at one time make a step), or a cosine.

use std::path::{Component, Path, PathBuf};

use chokepoint_core::model::Profile;
use toml::de::DeValue;

use super::{Value, Walker};
use crate::diagnostic::Diagnostic;
use crate::units::{TextError, parse_duration, parse_rate_or_zero};

pub(crate) const SHAPES: [&str; 5] = ["steps", "ramp", "spike", "diurnal", "trace"];
pub(crate) const STEP_KEYS: [&str; 2] = ["at", "rate"];
pub(crate) const POPULATION_STEP_KEYS: [&str; 2] = ["at", "population"];

/// What a profile gives over time: a rate (arrivals per second) or a
/// population (users; rounded to the nearest between points).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quantity {
    Rate,
    Population,
}

impl Quantity {
    /// Its key: in a class's table and in a step.
    fn key(self) -> &'static str {
        match self {
            Quantity::Rate => "rate",
            Quantity::Population => "population",
        }
    }
}
pub(crate) const RAMP_KEYS: [&str; 4] = ["from", "to", "over", "at"];
pub(crate) const SPIKE_KEYS: [&str; 4] = ["base", "peak", "at", "for"];
pub(crate) const DIURNAL_KEYS: [&str; 4] = ["mean", "amplitude", "period", "peak_at"];

/// Lines of a trace file at most (a day at one line per tenth of a
/// second): its points are kept for the run.
const MAX_TRACE_LINES: usize = 1_000_000;

/// An example of each shape, for hints.
const EXAMPLE: &str = "such as rate = { steps = [{ at = \"0s\", rate = \"200/s\" }, { at = \"300s\", rate = \"600/s\" }] }, or { ramp = { from = \"100/s\", to = \"500/s\", over = \"10min\" } }, { spike = { base, peak, at, for } }, { diurnal = { mean, amplitude, period, peak_at } }, { trace = \"rates.csv\" }";

impl Walker<'_> {
    /// A `rate` written as a table: its profile.
    pub(crate) fn profile(&mut self, v: &Value<'_>) -> Option<Profile> {
        self.profile_of(v, Quantity::Rate)
    }

    /// A `rate` or `population` written as a table: its profile.
    pub(crate) fn profile_of(&mut self, v: &Value<'_>, q: Quantity) -> Option<Profile> {
        let t = self.table(v, &format!("`{}`", q.key()))?;
        self.check_keys(t, &SHAPES, &format!("a {} profile", q.key()));
        let shapes: Vec<_> = t
            .iter()
            .filter(|(k, _)| SHAPES.contains(&k.get_ref().as_ref()))
            .collect();
        let [(key, shape)] = shapes[..] else {
            if shapes.len() > 1 {
                self.error("a rate profile has one shape", v.span()).help = Some(format!(
                    "keep one of {}",
                    shapes
                        .iter()
                        .map(|(k, _)| format!("`{}`", k.get_ref()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            } else if t.is_empty() {
                self.error("a rate profile needs a shape", v.span()).help = Some(EXAMPLE.into());
            }
            return None;
        };
        let profile = match key.get_ref().as_ref() {
            "steps" => self.steps(shape, q),
            "ramp" => self.ramp(shape, q),
            "spike" => self.spike(shape, q),
            "diurnal" if q == Quantity::Population => {
                self.error(
                    "a population cannot follow a cosine: its users come and go one by one",
                    key.span(),
                )
                .help = Some(
                    "use steps, a ramp, a spike or a trace for a population; or an open class with a diurnal `rate`".into(),
                );
                None
            }
            "diurnal" => self.diurnal(shape),
            _ => self.trace(shape),
        }?;
        if profile.peak() <= 0.0 {
            self.error(
                format!("this profile's {} is zero throughout", q.key()),
                v.span(),
            )
            .help = Some("to leave a class out, delete its [load.NAME] table".into());
            return None;
        }
        Some(profile)
    }

    /// A profile's value: a rate that may be zero, or a population.
    fn level(&mut self, v: &Value<'_>, what: &str, q: Quantity) -> Option<f64> {
        match q {
            Quantity::Rate => self.rate_or_zero(v, what),
            Quantity::Population => self
                .count(v, what, 0, super::MAX_POPULATION as u32)
                .map(f64::from),
        }
    }

    /// A rate that may be zero.
    fn rate_or_zero(&mut self, v: &Value<'_>, what: &str) -> Option<f64> {
        match v.get_ref() {
            DeValue::Integer(_) | DeValue::Float(_) => {
                let r = self.number(v, what)?;
                if r >= 0.0 {
                    Some(r)
                } else {
                    self.error(format!("{what} must not be negative"), v.span());
                    None
                }
            }
            _ => {
                let text = self.string(v, what)?;
                parse_rate_or_zero(text)
                    .map_err(|e| self.text_error(v, text, e, what))
                    .ok()
            }
        }
    }

    /// A required key of a shape's table.
    fn needs<'v, 'i>(
        &mut self,
        t: &'v toml::de::DeTable<'i>,
        v: &Value<'_>,
        key: &str,
        shape: &str,
    ) -> Option<&'v Value<'i>> {
        let found = t.get(key);
        if found.is_none() && !Self::misspelt(t, key) {
            let example = match shape {
                "ramp" => {
                    "such as ramp = { from = \"100/s\", to = \"500/s\", over = \"10min\", at = \"60s\" }"
                }
                "spike" => {
                    "such as spike = { base = \"200/s\", peak = \"800/s\", at = \"300s\", for = \"60s\" }"
                }
                "diurnal" => {
                    "such as diurnal = { mean = \"300/s\", amplitude = \"200/s\", period = \"24h\", peak_at = \"14h\" }"
                }
                _ => {
                    "such as steps = [{ at = \"0s\", rate = \"200/s\" }, { at = \"300s\", rate = \"600/s\" }]"
                }
            };
            let what = match shape {
                "a step" => shape.to_owned(),
                _ => format!("`{shape}`"),
            };
            self.error(format!("{what} needs `{key}`"), v.span()).help = Some(example.into());
        }
        found
    }

    /// A duration in nanoseconds, not negative.
    fn at(&mut self, v: Option<&Value<'_>>, what: &str) -> Option<f64> {
        match v {
            None => Some(0.0),
            Some(v) => self.duration(v, what).map(|s| s * 1e9),
        }
    }

    /// A duration in nanoseconds, positive.
    fn span_of(&mut self, v: &Value<'_>, what: &str) -> Option<f64> {
        let s = self.duration(v, what)?;
        if s > 0.0 {
            Some(s * 1e9)
        } else {
            self.error(format!("{what} must be positive"), v.span());
            None
        }
    }

    /// `steps = [{ at = "0s", rate = "200/s" }, ...]`: each rate holds
    /// from its `at` to the next; before the first, no arrivals.
    fn steps(&mut self, v: &Value<'_>, q: Quantity) -> Option<Profile> {
        let DeValue::Array(items) = v.get_ref() else {
            self.type_error(v, "`steps`", "an array of { at, rate } tables");
            return None;
        };
        if items.is_empty() {
            self.error("`steps` is empty", v.span()).help = Some(EXAMPLE.into());
            return None;
        }
        let mut points = Vec::new();
        let mut ok = true;
        let mut last: Option<f64> = None;
        for item in items.iter() {
            let Some(t) = self.table(item, "a step") else {
                ok = false;
                continue;
            };
            let key = q.key();
            let keys = match q {
                Quantity::Rate => &STEP_KEYS,
                Quantity::Population => &POPULATION_STEP_KEYS,
            };
            self.check_keys(t, keys, "a step");
            let at = self.needs(t, item, "at", "a step").and_then(|a| {
                let at = self.at(Some(a), "a step's `at`")?;
                if last.is_some_and(|l| at <= l) {
                    self.error("steps must be in increasing order of `at`", a.span())
                        .help =
                        Some("sort them by time, each `at` later than the one before".into());
                    return None;
                }
                Some(at)
            });
            let rate = self
                .needs(t, item, key, "a step")
                .and_then(|r| self.level(r, &format!("a step's `{key}`"), q));
            let (Some(at), Some(rate)) = (at, rate) else {
                ok = false;
                continue;
            };
            match points.last() {
                None if at > 0.0 => points.extend([(0.0, 0.0), (at, 0.0)]),
                Some(&(_, before)) => points.push((at, before)),
                None => {}
            }
            points.push((at, rate));
            last = Some(at);
        }
        ok.then_some(Profile::Points(points))
    }

    /// `ramp = { from, to, over, at = "0s" }`: `from` until `at`, then
    /// linearly to `to` over `over`, then `to`.
    fn ramp(&mut self, v: &Value<'_>, q: Quantity) -> Option<Profile> {
        let t = self.table(v, "`ramp`")?;
        self.check_keys(t, &RAMP_KEYS, "`ramp`");
        let from = self
            .needs(t, v, "from", "ramp")
            .and_then(|r| self.level(r, "`ramp.from`", q));
        let to = self
            .needs(t, v, "to", "ramp")
            .and_then(|r| self.level(r, "`ramp.to`", q));
        let over = self
            .needs(t, v, "over", "ramp")
            .and_then(|d| self.span_of(d, "`ramp.over`"));
        let at = self.at(t.get("at"), "`ramp.at`");
        let (from, to, over, at) = (from?, to?, over?, at?);
        Some(Profile::Points(vec![(at, from), (at + over, to)]))
    }

    /// `spike = { base, peak, at, for }`: `peak` from `at` for `for`,
    /// `base` before and after.
    fn spike(&mut self, v: &Value<'_>, q: Quantity) -> Option<Profile> {
        let t = self.table(v, "`spike`")?;
        self.check_keys(t, &SPIKE_KEYS, "`spike`");
        let base = self
            .needs(t, v, "base", "spike")
            .and_then(|r| self.level(r, "`spike.base`", q));
        let peak = self
            .needs(t, v, "peak", "spike")
            .and_then(|r| self.level(r, "`spike.peak`", q));
        let at = self
            .needs(t, v, "at", "spike")
            .and_then(|a| self.at(Some(a), "`spike.at`"));
        let lasts = self
            .needs(t, v, "for", "spike")
            .and_then(|d| self.span_of(d, "`spike.for`"));
        let (base, peak, at, lasts) = (base?, peak?, at?, lasts?);
        Some(Profile::Points(vec![
            (0.0, base),
            (at, base),
            (at, peak),
            (at + lasts, peak),
            (at + lasts, base),
        ]))
    }

    /// `diurnal = { mean, amplitude, period, peak_at = "0s" }`: a cosine
    /// around `mean`, highest at `peak_at` (and every `period` after).
    fn diurnal(&mut self, v: &Value<'_>) -> Option<Profile> {
        let t = self.table(v, "`diurnal`")?;
        self.check_keys(t, &DIURNAL_KEYS, "`diurnal`");
        let mean = self
            .needs(t, v, "mean", "diurnal")
            .and_then(|r| self.rate(r, "`diurnal.mean`"));
        let amplitude = self
            .needs(t, v, "amplitude", "diurnal")
            .and_then(|r| self.rate_or_zero(r, "`diurnal.amplitude`"));
        let period = self
            .needs(t, v, "period", "diurnal")
            .and_then(|d| self.span_of(d, "`diurnal.period`"));
        let peak_at = self.at(t.get("peak_at"), "`diurnal.peak_at`");
        let (mean, amplitude) = (mean?, amplitude?);
        if amplitude > mean {
            let span = t.get("amplitude").map_or(v.span(), |a| a.span());
            self.error(
                format!("`diurnal.amplitude` ({amplitude}/s) is above its mean ({mean}/s)"),
                span,
            )
            .help =
                Some("the rate would go below zero at the trough: keep amplitude ≤ mean".into());
            return None;
        }
        Some(Profile::Diurnal {
            mean,
            amplitude,
            period: period?,
            peak_at: peak_at?,
        })
    }

    /// `trace = "rates.csv"`: a file of `time, rate` lines (seconds and
    /// per second, or with units: `90s, 200/s`), in increasing time; each
    /// rate holds until the next line, and before the first there are no
    /// arrivals. Named relative to the scenario's folder; a file outside
    /// that folder's tree is allowed, with a warning.
    fn trace(&mut self, v: &Value<'_>) -> Option<Profile> {
        let name = self.string(v, "`trace`")?;
        let path = match self.dir {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                self.error(
                    format!("cannot read the trace `{}`: {e}", path.display()),
                    v.span(),
                )
                .help = Some(
                    "name a file of `time, rate` lines, relative to the scenario's folder".into(),
                );
                return None;
            }
        };
        let outside = match (self.dir.map(Path::canonicalize), path.canonicalize()) {
            (Some(Ok(dir)), Ok(file)) => !file.starts_with(dir),
            _ => escapes(Path::new(name)),
        };
        if outside {
            self.diags.push(Diagnostic::warning(
                format!(
                    "the trace `{}` is outside the scenario's folder: the scenario alone does not reproduce this run",
                    path.display()
                ),
                Some(v.span()),
            ));
        }
        match parse_trace(&text) {
            Ok(points) => Some(Profile::Points(points)),
            Err((line, column, message)) => {
                self.error(
                    format!("{}:{line}:{column}: {message}", path.display()),
                    v.span(),
                )
                .help = Some(
                    "each line is `time, rate`: seconds and per second (\"0, 200\"), or with units (\"5min, 450/s\"), times increasing; `#` starts a comment".into(),
                );
                None
            }
        }
    }
}

/// Whether a relative name leads out of its folder's tree (or is absolute).
fn escapes(name: &Path) -> bool {
    let mut depth = 0i32;
    for c in name.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return true,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// A trace's points (as steps), or the first problem: (line, column, what).
fn parse_trace(text: &str) -> Result<Vec<(f64, f64)>, (usize, usize, String)> {
    let mut points: Vec<(f64, f64)> = Vec::new();
    let mut seen_data = false;
    let mut lines = 0;
    // A spreadsheet's export may begin with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let content = raw.split('#').next().unwrap_or("");
        if content.trim().is_empty() {
            continue;
        }
        lines += 1;
        if lines > MAX_TRACE_LINES {
            return Err((line_no, 1, format!("more than {MAX_TRACE_LINES} lines")));
        }
        let Some((time_text, rate_text)) = content.split_once(',') else {
            return Err((line_no, 1, "expected `time, rate`".into()));
        };
        let column_of = |field: &str| {
            let lead = field.len() - field.trim_start().len();
            field.as_ptr() as usize - raw.as_ptr() as usize + lead + 1
        };
        // A header line (words only) before the first data line.
        if !seen_data
            && [time_text, rate_text].iter().all(|f| {
                f.trim()
                    .chars()
                    .all(|c| c.is_alphabetic() || matches!(c, '_' | ' ' | '"' | '\''))
            })
        {
            continue;
        }
        seen_data = true;
        // A bare number (seconds, per second), or a value with its unit.
        let field = |text: &str, what: &str, parse: fn(&str) -> Result<f64, TextError>| {
            let value = match text.trim().parse::<f64>() {
                Ok(x) => x,
                Err(_) => parse(text.trim())
                    .map_err(|e| (line_no, column_of(text), format!("{what}: {}", e.message)))?,
            };
            if value.is_finite() && value >= 0.0 {
                Ok(value)
            } else {
                Err((
                    line_no,
                    column_of(text),
                    format!("{what} `{}` must not be negative", text.trim()),
                ))
            }
        };
        let time = field(time_text, "time", parse_duration)?;
        let rate = field(rate_text, "rate", parse_rate_or_zero)?;
        let at = time * 1e9;
        match points.last() {
            Some(&(last, _)) if at <= last => {
                return Err((
                    line_no,
                    column_of(time_text),
                    format!(
                        "time {time} s is not after the line before ({} s): lines must be in increasing time",
                        last / 1e9
                    ),
                ));
            }
            None if at > 0.0 => points.extend([(0.0, 0.0), (at, 0.0)]),
            Some(&(_, before)) => points.push((at, before)),
            None => {}
        }
        points.push((at, rate));
    }
    if points.is_empty() {
        return Err((1, 1, "no `time, rate` lines".into()));
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_is_read_as_steps_with_its_mistakes_located() {
        let points =
            parse_trace("\u{feff}\"time\",\"rate\"\n# warm\n0, 10\n1min, 20/s\n90,0 # pause\n")
                .unwrap();
        assert_eq!(
            points,
            vec![
                (0.0, 10.0),
                (60e9, 10.0),
                (60e9, 20.0),
                (90e9, 20.0),
                (90e9, 0.0)
            ]
        );
        // Starting later: nothing before.
        assert_eq!(
            parse_trace("5, 10\n").unwrap(),
            vec![(0.0, 0.0), (5e9, 0.0), (5e9, 10.0)]
        );
        let err = |t: &str| parse_trace(t).unwrap_err();
        assert_eq!(err("0, 10\n10, -3\n").0, 2);
        assert_eq!(err("0, 10\n10, -3\n").1, 5);
        assert!(err("0, 10\n10, -3\n").2.contains("negative"));
        let unsorted = err("0, 10\n20, 5\n  10, 5\n");
        assert_eq!((unsorted.0, unsorted.1), (3, 3));
        assert!(unsorted.2.contains("increasing"), "{}", unsorted.2);
        assert_eq!(err("0 10\n").2, "expected `time, rate`");
        assert!(err("0, 10/fortnight\n").2.starts_with("rate:"));
        assert_eq!(err("# nothing\n").2, "no `time, rate` lines");
    }

    #[test]
    fn names_that_leave_the_folder_are_known() {
        assert!(!escapes(Path::new("rates.csv")));
        assert!(!escapes(Path::new("traces/../rates.csv")));
        assert!(escapes(Path::new("../rates.csv")));
        assert!(escapes(Path::new("/tmp/rates.csv")));
    }
}
