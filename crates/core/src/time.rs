//! Simulated time: integer nanoseconds.
//!
//! Integer time keeps event ordering exact (no float rounding, no NaN), so the
//! event queue's insertion sequence alone settles ties.

use std::fmt;

/// A point in simulated time, or a span of it, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: f64 = 1e9;

impl SimTime {
    /// Time zero, when every replication starts.
    pub const ZERO: SimTime = SimTime(0);

    /// The nearest representable time to `secs` seconds (negative values clamp to zero).
    pub fn from_secs_f64(secs: f64) -> SimTime {
        SimTime(nanos_from_f64(secs * NANOS_PER_SEC))
    }

    /// This time in seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC
    }

    /// This time in nanoseconds.
    pub fn as_nanos(self) -> u64 {
        self.0
    }
}

/// Rounds a non-negative nanosecond count to the nearest integer; negative and
/// NaN inputs give zero, huge ones saturate.
#[inline]
pub(crate) fn nanos_from_f64(nanos: f64) -> u64 {
    let rounded = nanos + 0.5;
    // The common case (0 to 2⁶³ ns, 292 years) with one conversion
    // instruction; `as` then saturates the rest and maps NaN to 0.
    if (0.0..9.0e18).contains(&rounded) {
        // SAFETY: `rounded` is finite and within i64's range, so the
        // truncation is defined, and equals what `as u64` gives.
        unsafe { rounded.to_int_unchecked::<i64>() as u64 }
    } else {
        rounded as u64
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_seconds() {
        assert_eq!(SimTime::from_secs_f64(1.5).as_nanos(), 1_500_000_000);
        assert_eq!(SimTime::from_secs_f64(250e-6).as_nanos(), 250_000);
        assert_eq!(SimTime::from_secs_f64(-3.0), SimTime::ZERO);
        assert_eq!(SimTime::from_secs_f64(f64::NAN), SimTime::ZERO);
        assert_eq!(SimTime(2_000_000_000).as_secs_f64(), 2.0);
    }

    /// The fast path agrees with the saturating conversion everywhere.
    #[test]
    fn rounding_agrees_with_as() {
        for x in [
            -1.0,
            -0.5,
            -0.4,
            0.0,
            0.4,
            0.5,
            1.49,
            2.5,
            1e9 + 0.5,
            8.99e18,
            9.0e18,
            9.3e18,
            1.9e19,
            1e30,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ] {
            assert_eq!(nanos_from_f64(x), (x + 0.5) as u64, "{x}");
        }
    }
}
