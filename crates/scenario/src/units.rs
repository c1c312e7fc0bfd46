//! Durations (`"250us"`), rates (`"450/s"`) and distributions (`"exp(4ms)"`).
//!
//! Parsers return errors located *within* the text they were given, so the
//! caller can point at the exact character inside a TOML string.

use std::ops::Range;

use chokepoint_core::dist::{Dist, DistError};

use crate::diagnostic::did_you_mean;

/// A problem inside a value's text: a byte range relative to the text, a message and a hint.
#[derive(Clone, Debug, PartialEq)]
pub struct TextError {
    /// Where, relative to the start of the parsed text.
    pub range: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl TextError {
    fn new(range: Range<usize>, message: impl Into<String>) -> TextError {
        TextError {
            range,
            message: message.into(),
            help: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> TextError {
        self.help = Some(help.into());
        self
    }

    fn shifted(mut self, by: usize) -> TextError {
        self.range = self.range.start + by..self.range.end + by;
        self
    }
}

/// Time units and their length in nanoseconds.
const TIME_UNITS: [(&str, f64); 9] = [
    ("ns", 1.0),
    ("us", 1e3),
    ("µs", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("m", 60e9),
    ("min", 60e9),
    ("h", 3600e9),
    ("d", 86400e9),
];

/// Spellings people use for units, and the unit we write.
const UNIT_ALIASES: [(&str, &str); 14] = [
    ("sec", "s"),
    ("secs", "s"),
    ("second", "s"),
    ("seconds", "s"),
    ("msec", "ms"),
    ("millis", "ms"),
    ("usec", "us"),
    ("micros", "us"),
    ("nsec", "ns"),
    ("mins", "min"),
    ("minute", "min"),
    ("minutes", "min"),
    ("hour", "h"),
    ("hours", "h"),
];

/// A likely intended unit for an unknown one.
fn unit_suggestion(unit: &str) -> Option<&'static str> {
    UNIT_ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(unit))
        .map(|&(_, u)| u)
        .or_else(|| did_you_mean(unit, TIME_UNITS.iter().map(|(u, _)| *u)))
}

/// Splits `text` into a leading number and the rest, returning the number's
/// byte length too. Accepts `1`, `1.5`, `.5`, `1e-3`, `1_000`.
fn leading_number(text: &str) -> Option<(f64, usize)> {
    let mut end = 0;
    let bytes = text.as_bytes();
    while end < bytes.len() {
        let c = bytes[end];
        let exp_sign = (c == b'+' || c == b'-') && end > 0 && matches!(bytes[end - 1], b'e' | b'E');
        let exp = (c == b'e' || c == b'E')
            && end > 0
            && bytes[..end].iter().any(u8::is_ascii_digit)
            && bytes
                .get(end + 1)
                .is_some_and(|n| n.is_ascii_digit() || *n == b'-' || *n == b'+');
        if c.is_ascii_digit()
            || c == b'.'
            || c == b'_'
            || exp
            || exp_sign
            || (end == 0 && (c == b'-' || c == b'+'))
        {
            end += 1;
        } else {
            break;
        }
    }
    let number: String = text[..end].chars().filter(|&c| c != '_').collect();
    number.parse::<f64>().ok().map(|x| (x, end))
}

/// Parses a duration such as `"250us"`, `"1.5s"` or `"2m"` into seconds.
pub fn parse_duration(text: &str) -> Result<f64, TextError> {
    parse_duration_ns(text).map(|ns| ns / 1e9)
}

/// Parses a duration into nanoseconds (exact for whole numbers of a unit).
pub fn parse_duration_ns(text: &str) -> Result<f64, TextError> {
    let lead = text.len() - text.trim_start().len();
    let trimmed = text.trim();
    let whole = lead..lead + trimmed.len();
    let Some((value, n)) = leading_number(trimmed) else {
        return Err(
            TextError::new(whole, format!("`{trimmed}` is not a duration")).help(
                "write a number and a unit, such as \"250us\", \"5ms\", \"1.5s\", \"2m\" or \"1h\"",
            ),
        );
    };
    let unit = trimmed[n..].trim();
    let unit_range = lead + n..lead + trimmed.len();
    if unit.is_empty() {
        return Err(
            TextError::new(whole, "a duration needs a unit").help(format!(
                "write \"{trimmed}s\" for seconds or \"{trimmed}ms\" for milliseconds"
            )),
        );
    }
    let Some(&(_, scale)) = TIME_UNITS.iter().find(|(u, _)| *u == unit) else {
        let err = TextError::new(unit_range, format!("unknown time unit `{unit}`"));
        return Err(match unit_suggestion(unit) {
            Some(s) => err.help(format!(
                "did you mean `{s}`? Units: ns, us, ms, s, m or min, h, d"
            )),
            None => err.help("units: ns, us, ms, s, m or min (minutes), h, d (days)"),
        });
    };
    if value < 0.0 {
        return Err(TextError::new(whole, "a duration cannot be negative"));
    }
    if !(value * scale).is_finite() {
        return Err(TextError::new(
            whole,
            "a duration this long is not a number",
        ));
    }
    Ok(value * scale)
}

/// Parses a rate string such as `"450/s"` or `"27000/min"` into events per
/// second. As a duration does, a rate written as a string needs its unit (a
/// TOML number, `rate = 450`, is per second: the scenario reader's call).
pub fn parse_rate(text: &str) -> Result<f64, TextError> {
    rate_text(text, false)
}

/// A rate as [`parse_rate`] reads it, or zero (a profile's pause:
/// `"0/s"`).
pub fn parse_rate_or_zero(text: &str) -> Result<f64, TextError> {
    rate_text(text, true)
}

fn rate_text(text: &str, zero: bool) -> Result<f64, TextError> {
    let lead = text.len() - text.trim_start().len();
    let trimmed = text.trim();
    let whole = lead..lead + trimmed.len();
    let (count_text, per) = match trimmed.split_once('/') {
        Some((count, per)) => (count.trim(), Some(per)),
        None => (trimmed, None),
    };
    let Some((count, n)) = leading_number(count_text).filter(|&(_, n)| n == count_text.len())
    else {
        return Err(
            TextError::new(whole, format!("`{trimmed}` is not a rate")).help(
                "write a count per unit of time, such as \"450/s\", \"27000/min\" or \"0.9/s\"",
            ),
        );
    };
    let _ = n;
    let per_nanos = match per {
        None => {
            return Err(
                TextError::new(whole, "a rate needs a unit").help(format!(
                    "write \"{trimmed}/s\" for per second or \"{trimmed}/min\" for per minute (a number without quotes is per second)"
                )),
            );
        }
        Some(per) => {
            let per_start = lead + trimmed.find('/').map_or(0, |i| i + 1);
            let unit = per.trim();
            // "/s", "/min", and also "/10s" (a count per a multiple of a unit).
            let span = per_start..lead + trimmed.len();
            if unit.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
                parse_duration_ns(unit).map_err(|e| e.shifted(per_start))?
            } else {
                match TIME_UNITS.iter().find(|(u, _)| *u == unit) {
                    Some(&(_, scale)) => scale,
                    None => {
                        let err =
                            TextError::new(span, format!("unknown time unit `{unit}` in a rate"));
                        return Err(match unit_suggestion(unit) {
                            Some(s) => err.help(format!("did you mean `/{s}`?")),
                            None => err.help("write the rate per s, min or h, such as \"450/s\""),
                        });
                    }
                }
            }
        }
    };
    let rate = count / (per_nanos / 1e9);
    if zero && rate == 0.0 {
        return Ok(0.0);
    }
    if !(rate.is_finite() && rate > 0.0) {
        if zero {
            return Err(TextError::new(whole, "a rate must not be negative"));
        }
        return Err(TextError::new(whole, "a rate must be positive")
            .help("to leave a class out, delete its [load.NAME] table"));
    }
    Ok(rate)
}

/// What a distribution parameter holds.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Duration,
    Number,
    Count,
}

/// One parameter as written: name (if given), value text and where it is.
struct Arg<'a> {
    name: Option<(&'a str, Range<usize>)>,
    value: &'a str,
    range: Range<usize>,
}

/// A distribution users can write: its name, its parameters in positional
/// order, and an example for hints.
struct Law {
    name: &'static str,
    params: &'static [(&'static str, Kind)],
    example: &'static str,
}

const LAWS: [Law; 7] = [
    Law {
        name: "exp",
        params: &[("mean", Kind::Duration)],
        example: "exp(4ms)",
    },
    Law {
        name: "const",
        params: &[("value", Kind::Duration)],
        example: "const(2ms)",
    },
    Law {
        name: "uniform",
        params: &[("min", Kind::Duration), ("max", Kind::Duration)],
        example: "uniform(1ms, 3ms)",
    },
    Law {
        name: "erlang",
        params: &[("k", Kind::Count), ("mean", Kind::Duration)],
        example: "erlang(k=3, mean=9ms)",
    },
    Law {
        name: "gamma",
        params: &[("mean", Kind::Duration), ("cv", Kind::Number)],
        example: "gamma(mean=4ms, cv=0.5)",
    },
    Law {
        name: "hyperexp",
        params: &[("mean", Kind::Duration), ("cv", Kind::Number)],
        example: "hyperexp(mean=4ms, cv=3)",
    },
    Law {
        name: "lognormal",
        params: &[
            ("mean", Kind::Duration),
            ("cv", Kind::Number),
            ("p50", Kind::Duration),
            ("p99", Kind::Duration),
        ],
        example: "lognormal(mean=5ms, cv=1.5) or lognormal(p50=5ms, p99=40ms)",
    },
];

/// Parses a distribution such as `"exp(4ms)"` or `"lognormal(p50=5ms, p99=40ms)"`.
/// Durations become nanoseconds in the returned [`Dist`].
pub fn parse_dist(text: &str) -> Result<Dist, TextError> {
    let all = 0..text.len();
    let syntax = || {
        TextError::new(all.clone(), format!("`{}` is not a distribution", text.trim())).help(
            "write a law and its parameters, such as \"exp(4ms)\", \"const(2ms)\", \"uniform(1ms, 3ms)\", \
             \"erlang(k=3, mean=9ms)\", \"gamma(mean=4ms, cv=0.5)\", \"hyperexp(mean=4ms, cv=3)\", \
             \"lognormal(mean=5ms, cv=1.5)\" or \"lognormal(p50=5ms, p99=40ms)\"",
        )
    };
    let (Some(open), Some(close)) = (text.find('('), text.rfind(')')) else {
        return Err(syntax());
    };
    if close < open || !text[close + 1..].trim().is_empty() {
        return Err(syntax());
    }
    let name = text[..open].trim();
    let name_start = text.len() - text.trim_start().len();
    let name_range = name_start..name_start + name.len();
    let Some(&Law {
        name: law,
        params,
        example,
    }) = LAWS.iter().find(|l| l.name == name)
    else {
        let err = TextError::new(name_range, format!("unknown distribution `{name}`"));
        return Err(match did_you_mean(name, LAWS.iter().map(|l| l.name)) {
            Some(s) => err.help(format!("did you mean `{s}`?")),
            None => err.help("known: exp, const, uniform, erlang, gamma, hyperexp, lognormal"),
        });
    };

    // Split the arguments, keeping their positions.
    let mut args = Vec::new();
    let inner_start = open + 1;
    let inner = &text[inner_start..close];
    if !inner.trim().is_empty() {
        let mut offset = inner_start;
        for piece in inner.split(',') {
            let lead = piece.len() - piece.trim_start().len();
            let trimmed = piece.trim();
            let range = offset + lead..offset + lead + trimmed.len();
            if trimmed.is_empty() {
                return Err(
                    TextError::new(offset..offset + piece.len(), "an empty parameter")
                        .help(format!("write {example}")),
                );
            }
            let arg = match trimmed.split_once('=') {
                Some((key, value)) => {
                    let key_trim = key.trim();
                    let value_lead = value.len() - value.trim_start().len();
                    let value_start = range.start + key.len() + 1 + value_lead;
                    Arg {
                        name: Some((key_trim, range.start..range.start + key_trim.len())),
                        value: value.trim(),
                        range: value_start..value_start + value.trim().len(),
                    }
                }
                None => Arg {
                    name: None,
                    value: trimmed,
                    range,
                },
            };
            args.push(arg);
            offset += piece.len() + 1;
        }
    }

    // Assign each argument to a parameter.
    let mut values: Vec<Option<(f64, Range<usize>)>> = vec![None; params.len()];
    for (position, arg) in args.iter().enumerate() {
        let index = match &arg.name {
            Some((key, key_range)) => match params.iter().position(|(p, _)| p == key) {
                Some(i) => i,
                None => {
                    let err = TextError::new(
                        key_range.clone(),
                        format!("`{law}` has no parameter `{key}`"),
                    );
                    return Err(match did_you_mean(key, params.iter().map(|(p, _)| *p)) {
                        Some(s) => err.help(format!("did you mean `{s}`? Write {example}")),
                        None => err.help(format!("write {example}")),
                    });
                }
            },
            None if law == "lognormal" => {
                return Err(
                    TextError::new(arg.range.clone(), "name the lognormal's parameters")
                        .help(format!("write {example}")),
                );
            }
            None if position < params.len() => position,
            None => {
                return Err(TextError::new(
                    arg.range.clone(),
                    format!("`{law}` takes {} parameter(s)", params.len()),
                )
                .help(format!("write {example}")));
            }
        };
        if values[index].is_some() {
            return Err(TextError::new(
                arg.range.clone(),
                format!("`{}` is given twice", params[index].0),
            ));
        }
        let kind = params[index].1;
        let value = match kind {
            Kind::Duration => {
                parse_duration_ns(arg.value).map_err(|e| e.shifted(arg.range.start))?
            }
            Kind::Number | Kind::Count => {
                match leading_number(arg.value).filter(|&(_, n)| n == arg.value.len()) {
                    Some((x, _)) if kind == Kind::Number => x,
                    Some((x, _)) if x.fract() == 0.0 && x >= 1.0 && x <= f64::from(u32::MAX) => x,
                    Some(_) => {
                        return Err(TextError::new(
                            arg.range.clone(),
                            format!("`{}` must be a whole number, at least 1", params[index].0),
                        ));
                    }
                    None if parse_duration(arg.value).is_ok() => {
                        return Err(TextError::new(
                            arg.range.clone(),
                            format!("`{}` is a plain number, not a duration", params[index].0),
                        )
                        .help(format!("write {example}")));
                    }
                    None => {
                        return Err(TextError::new(
                            arg.range.clone(),
                            format!("`{}` must be a number", params[index].0),
                        )
                        .help(format!("write {example}")));
                    }
                }
            }
        };
        values[index] = Some((value, arg.range.clone()));
    }

    let get = |name: &str| {
        let i = params
            .iter()
            .position(|(p, _)| *p == name)
            .expect("parameter of this law");
        values[i].clone()
    };
    let missing = |what: &str| {
        TextError::new(all.clone(), format!("`{law}` needs {what}"))
            .help(format!("write {example}"))
    };
    let located = |e: &DistError, name: &str| {
        let range = get(name).map_or(all.clone(), |(_, r)| r);
        TextError::new(range, e.to_string()).help(format!("write {example}"))
    };
    let need = |name: &str| {
        get(name)
            .map(|(v, _)| v)
            .ok_or_else(|| missing(&format!("`{name}`")))
    };

    match law {
        "exp" => Dist::exp(need("mean")?).map_err(|e| located(&e, "mean")),
        "const" => Dist::constant(need("value")?).map_err(|e| located(&e, "value")),
        "uniform" => Dist::uniform(need("min")?, need("max")?).map_err(|e| {
            located(
                &e,
                if e == DistError::EmptyRange {
                    "max"
                } else {
                    "min"
                },
            )
        }),
        "erlang" => Dist::erlang(need("k")? as u32, need("mean")?).map_err(|e| located(&e, "mean")),
        "gamma" => Dist::gamma(need("mean")?, need("cv")?).map_err(|e| {
            located(
                &e,
                if matches!(e, DistError::BadCv { .. }) {
                    "cv"
                } else {
                    "mean"
                },
            )
        }),
        "hyperexp" => Dist::hyperexp(need("mean")?, need("cv")?).map_err(|e| {
            located(
                &e,
                if matches!(e, DistError::BadCv { .. }) {
                    "cv"
                } else {
                    "mean"
                },
            )
        }),
        _ => {
            // lognormal: either (mean, cv) or (p50, p99), not a mix.
            let by_moments = get("mean").is_some() || get("cv").is_some();
            let by_percentiles = get("p50").is_some() || get("p99").is_some();
            match (by_moments, by_percentiles) {
                (true, true) => Err(TextError::new(
                    all.clone(),
                    "give either `mean` and `cv`, or `p50` and `p99`, not both",
                )
                .help(format!("write {example}"))),
                (true, false) => Dist::lognormal_mean_cv(need("mean")?, need("cv")?).map_err(|e| {
                    located(
                        &e,
                        if matches!(e, DistError::BadCv { .. }) {
                            "cv"
                        } else {
                            "mean"
                        },
                    )
                }),
                (false, true) => Dist::lognormal_p50_p99(need("p50")?, need("p99")?).map_err(|e| {
                    located(
                        &e,
                        if e == DistError::P99BelowP50 {
                            "p99"
                        } else {
                            "p50"
                        },
                    )
                }),
                (false, false) => Err(missing("`mean` and `cv`, or `p50` and `p99`")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250us").unwrap(), 250e-6);
        assert_eq!(parse_duration("5ms").unwrap(), 5e-3);
        assert_eq!(parse_duration("1.5s").unwrap(), 1.5);
        assert_eq!(parse_duration("2m").unwrap(), 120.0);
        assert_eq!(parse_duration("1h").unwrap(), 3600.0);
        assert_eq!(parse_duration(" 3 ms ").unwrap(), 3e-3);
        assert_eq!(parse_duration("1_000s").unwrap(), 1000.0);
        let e = parse_duration("5").unwrap_err();
        assert!(e.message.contains("needs a unit"), "{e:?}");
        let e = parse_duration("5 sec").unwrap_err();
        assert_eq!(e.range, 1..5);
        assert!(e.help.unwrap().contains("`s`"));
        assert!(parse_duration("-5ms").is_err());
        assert!(parse_duration("abc").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("450/s").unwrap(), 450.0);
        assert_eq!(parse_rate("27000/min").unwrap(), 450.0);
        assert_eq!(parse_rate("0.9/s").unwrap(), 0.9);
        // A string without its unit is a mistake, as for a duration.
        let e = parse_rate("3000").unwrap_err();
        assert_eq!(e.message, "a rate needs a unit");
        assert_eq!(parse_rate("5/10s").unwrap(), 0.5);
        assert!(parse_rate("0/s").is_err());
        let e = parse_rate("450/sec").unwrap_err();
        assert_eq!(e.range, 4..7);
        assert!(parse_rate("fast").is_err());
    }

    #[test]
    fn distributions() {
        assert_eq!(parse_dist("exp(4ms)").unwrap(), Dist::exp(4e6).unwrap());
        assert_eq!(
            parse_dist("exp(mean=4ms)").unwrap(),
            Dist::exp(4e6).unwrap()
        );
        assert_eq!(
            parse_dist("const(2ms)").unwrap(),
            Dist::constant(2e6).unwrap()
        );
        assert_eq!(
            parse_dist("uniform(1ms, 3ms)").unwrap(),
            Dist::uniform(1e6, 3e6).unwrap()
        );
        assert_eq!(
            parse_dist("erlang(k=3, mean=9ms)").unwrap(),
            Dist::erlang(3, 9e6).unwrap()
        );
        assert_eq!(
            parse_dist("hyperexp(mean=4ms, cv=3)").unwrap(),
            Dist::hyperexp(4e6, 3.0).unwrap()
        );
        assert!(parse_dist("gamma(mean=4ms, cv=0.5)").is_ok());
        let l = parse_dist("lognormal(p50=5ms, p99=40ms)").unwrap();
        assert_eq!(l, Dist::lognormal_p50_p99(5e6, 40e6).unwrap());
        assert_eq!(
            parse_dist("lognormal(mean=5ms, cv=1.5)").unwrap(),
            Dist::lognormal_mean_cv(5e6, 1.5).unwrap()
        );
    }

    #[test]
    fn distribution_errors_point_inside_the_text() {
        let e = parse_dist("expo(4ms)").unwrap_err();
        assert_eq!(e.range, 0..4);
        assert!(e.help.unwrap().contains("`exp`"));
        let e = parse_dist("exp(4)").unwrap_err();
        assert_eq!(e.range, 4..5);
        let e = parse_dist("exp(0ms)").unwrap_err();
        assert!(e.message.contains("positive"), "{e:?}");
        let e = parse_dist("gamma(mean=4ms, cvv=0.5)").unwrap_err();
        assert_eq!(e.range, 16..19);
        let e = parse_dist("lognormal(p50=5ms, p99=4ms)").unwrap_err();
        assert_eq!(e.range, 23..26);
        assert!(e.message.contains("p99"));
        let e = parse_dist("erlang(k=2.5, mean=1s)").unwrap_err();
        assert!(e.message.contains("whole number"));
        assert!(parse_dist("hyperexp(mean=4ms, cv=0.5)").is_err());
        assert!(parse_dist("exp 4ms").is_err());
        assert!(parse_dist("lognormal(mean=5ms, p99=4ms)").is_err());
        assert!(
            parse_dist("gamma(mean=4ms)")
                .unwrap_err()
                .message
                .contains("`cv`")
        );
    }
}
