//! Rate limits: a token bucket, as the generic cell rate algorithm (GCRA)
//! keeps it: a theoretical arrival time instead of a count of tokens, so
//! that taking a token is two comparisons and an addition, whatever the
//! time since the last.
//!
//! The bucket decides; `flow.rs` rejects or delays the request.

use crate::model::RateLimit;

/// What a request asking for a token gets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Take {
    /// A token, now.
    Now,
    /// Its token at this time (a shaper: it waits until then).
    At(u64),
    /// None: rejected.
    Refused,
}

/// A token bucket of `burst` tokens refilled at `rate` per second: a
/// request conforms when `now ≥ tat − tolerance`, where `tat` is the
/// theoretical arrival time of the next token and `tolerance` is
/// `(burst − 1)` intervals; each token taken moves `tat` one interval on.
/// In any window of length t, at most `burst + rate·t` requests pass.
pub(super) struct TokenBucket {
    /// Nanoseconds per token.
    interval: f64,
    tolerance: f64,
    tat: f64,
    delay: bool,
}

impl TokenBucket {
    pub(super) fn new(limit: &RateLimit) -> TokenBucket {
        let interval = 1e9 / limit.rate;
        TokenBucket {
            interval,
            tolerance: f64::from(limit.burst - 1) * interval,
            tat: 0.0,
            delay: limit.delay,
        }
    }

    /// A request asks for a token at `now`.
    pub(super) fn take(&mut self, now: u64) -> Take {
        let now = now as f64;
        let tat = self.tat.max(now);
        if tat - now <= self.tolerance {
            self.tat = tat + self.interval;
            return Take::Now;
        }
        if !self.delay {
            return Take::Refused;
        }
        self.tat = tat + self.interval;
        Take::At((tat - self.tolerance).ceil() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    /// Poisson arrivals at twice the rate: in every window of length t (all
    /// windows starting at an admitted arrival, which are the tightest),
    /// at most burst + rate·t pass; in the long run, about the rate.
    #[test]
    fn no_window_passes_more_than_burst_plus_rate_times_its_length() {
        let limit = RateLimit {
            rate: 100.0,
            burst: 5,
            delay: false,
        };
        let mut bucket = TokenBucket::new(&limit);
        let mut stream = Stream::new(3);
        let (mut now, mut passed) = (0.0, Vec::new());
        for _ in 0..200_000 {
            now += -5e6 * stream.uniform_open0().ln();
            if bucket.take(now as u64) == Take::Now {
                passed.push(now as u64);
            }
        }
        for (i, &start) in passed.iter().enumerate() {
            for t in [1e6, 10e6, 50e6, 1e9] {
                let end = start + t as u64;
                let within = passed[i..].iter().take_while(|&&p| p <= end).count();
                let bound = 5.0 + 100.0 * t / 1e9;
                assert!(
                    within as f64 <= bound + 1e-9,
                    "{within} in {t} ns from {start}"
                );
            }
        }
        let rate = passed.len() as f64 / (now / 1e9);
        assert!((rate - 100.0).abs() < 1.0, "{rate}");
    }

    /// A shaper with a burst of 1 spaces requests one interval apart: each
    /// waits for the previous token plus an interval.
    #[test]
    fn a_shaper_spaces_requests_by_its_interval() {
        let mut bucket = TokenBucket::new(&RateLimit {
            rate: 1000.0,
            burst: 1,
            delay: true,
        });
        assert_eq!(bucket.take(0), Take::Now);
        assert_eq!(bucket.take(0), Take::At(1_000_000));
        assert_eq!(bucket.take(10), Take::At(2_000_000));
        assert_eq!(bucket.take(5_000_000), Take::Now);
    }
}
