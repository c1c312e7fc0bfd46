//! When an open class's next request arrives: at a constant rate (Poisson or
//! evenly spaced), or following a [`Profile`] of the rate over time.
//!
//! A profiled Poisson class is a non-homogeneous Poisson process drawn by
//! thinning (Lewis and Shedler), piece by piece: on a piece of the profile
//! where the rate is at most `bound`, candidates arrive at rate `bound` and
//! each is kept with probability `rate(t) / bound`. A candidate past the
//! piece's end is dropped and drawing resumes there with the next piece's
//! bound, which the exponential's lack of memory makes exact. A piece where
//! the rate is zero is skipped whole.

use crate::model::{ArrivalProcess, Profile};
use crate::rng::Stream;

/// How an open class's next arrival is drawn (`Closed` for a closed class).
/// An explicit tag, the common case first: the profile's vector would
/// otherwise lend the enum a niche, and every arrival pay for decoding it
/// (measured: 5 instructions per arrival).
#[derive(Clone, Debug)]
#[repr(u8)]
pub(super) enum Arrivals {
    Poisson {
        mean_gap: f64,
    },
    Constant {
        gap: f64,
    },
    Profiled {
        constant: bool,
        profile: Box<Profile>,
    },
    Closed,
}

impl Arrivals {
    /// The arrivals of an open class at `rate` per second, or following
    /// `profile`.
    pub(super) fn new(process: ArrivalProcess, rate: f64, profile: Option<&Profile>) -> Arrivals {
        match (profile, process) {
            (Some(p), _) => Arrivals::Profiled {
                constant: process == ArrivalProcess::Constant,
                profile: Box::new(p.clone()),
            },
            (None, ArrivalProcess::Poisson) => Arrivals::Poisson {
                mean_gap: 1e9 / rate,
            },
            (None, ArrivalProcess::Constant) => Arrivals::Constant { gap: 1e9 / rate },
        }
    }

    /// The time (nanoseconds, unrounded) of the arrival after one at `t`,
    /// or `None` when no more come (a profile whose rate stays zero).
    #[inline]
    pub(super) fn next(&self, t: f64, stream: &mut Stream) -> Option<f64> {
        match *self {
            Arrivals::Poisson { mean_gap } => Some(t - mean_gap * stream.uniform_open0().ln()),
            Arrivals::Constant { gap } => Some(t + gap),
            Arrivals::Profiled {
                constant,
                ref profile,
            } => next_profiled(profile, constant, t, stream),
            Arrivals::Closed => None,
        }
    }
}

/// The next arrival after `t` under `profile`.
#[cold]
#[inline(never)]
fn next_profiled(
    profile: &Profile,
    constant: bool,
    mut t: f64,
    stream: &mut Stream,
) -> Option<f64> {
    if constant {
        return next_even(profile, t);
    }
    loop {
        let (bound, end) = piece(profile, t);
        if bound <= 0.0 {
            // No arrival on this piece: the next one, if there is one.
            if end.is_infinite() {
                return None;
            }
            t = end;
            continue;
        }
        let candidate = t - 1e9 / bound * stream.uniform_open0().ln();
        if candidate >= end {
            t = end;
            continue;
        }
        t = candidate;
        if stream.uniform() * bound < profile.rate_at(t) {
            return Some(t);
        }
    }
}

/// The piece of `profile` that holds `t`: the highest rate on it and the
/// time it ends (infinite for the last).
fn piece(profile: &Profile, t: f64) -> (f64, f64) {
    match profile {
        Profile::Points(points) => {
            let i = points.partition_point(|&(at, _)| at <= t);
            match (i.checked_sub(1).map(|j| points[j]), points.get(i)) {
                (_, None) => (points.last().map_or(0.0, |p| p.1), f64::INFINITY),
                (None, Some(&(t1, r1))) => (r1, t1),
                (Some((_, r0)), Some(&(t1, r1))) => (r0.max(r1), t1),
            }
        }
        Profile::Diurnal {
            mean, amplitude, ..
        } => (mean + amplitude, f64::INFINITY),
    }
}

/// Evenly spaced under a profile: the next arrival is when the expected
/// number of arrivals since `t` (the integral of the rate) reaches one, so
/// that spacing is `1 / rate` wherever the rate holds still, and no arrival
/// falls where the rate is zero.
fn next_even(profile: &Profile, t: f64) -> Option<f64> {
    match *profile {
        Profile::Points(_) => {
            let (mut t, mut due) = (t, 1.0);
            loop {
                let (_, end) = piece(profile, t);
                let r0 = profile.rate_at(t);
                let r1 = if end.is_finite() {
                    profile.rate_at_before(end)
                } else {
                    r0
                };
                let span = (end - t) / 1e9;
                let area = if end.is_finite() {
                    profile.expected(t, end)
                } else if r0 > 0.0 {
                    f64::INFINITY
                } else {
                    return None;
                };
                if area >= due {
                    // r(x) = r0 + k·x on the piece: r0·x + k·x²/2 = due,
                    // solved in the form that stays exact as k → 0.
                    let k = if end.is_finite() {
                        (r1 - r0) / span
                    } else {
                        0.0
                    };
                    let x = 2.0 * due / (r0 + (r0 * r0 + 2.0 * k * due).max(0.0).sqrt());
                    return Some(t + x * 1e9);
                }
                due -= area;
                t = end;
            }
        }
        Profile::Diurnal {
            mean,
            amplitude,
            period,
            ..
        } => {
            // The expected arrivals since t grow with x (in seconds), so
            // Newton's method kept inside a bracket (bisecting when a step
            // leaves it) finds where they reach one.
            let w = std::f64::consts::TAU / (period / 1e9);
            let s = t / 1e9;
            let (mut lo, mut hi) = (s, s + (1.0 + 2.0 * amplitude / w) / mean);
            let mut x = s + 1.0 / mean;
            for _ in 0..100 {
                let f = profile.expected(t, x * 1e9) - 1.0;
                if f.abs() < 1e-12 {
                    break;
                }
                if f > 0.0 {
                    hi = x;
                } else {
                    lo = x;
                }
                let slope = profile.rate_at(x * 1e9);
                let newton = x - f / slope;
                x = if slope > 0.0 && newton > lo && newton < hi {
                    newton
                } else {
                    (lo + hi) / 2.0
                };
                if hi - lo < 1e-15 * hi.abs().max(1.0) {
                    break;
                }
            }
            Some(x * 1e9)
        }
    }
}
