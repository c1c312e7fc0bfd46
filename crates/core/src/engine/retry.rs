//! Retries: whether a failed attempt of a call is made again, and after how
//! long (exponential backoff with jitter), within the call point's budget.
//!
//! The policy decides; `calls.rs` moves the requests. A call point's budget
//! is its own (one per caller replica and call, as a client library keeps
//! one per channel or upstream): Envoy's counts the retries in progress
//! against the calls in progress, gRPC's throttling keeps a bucket of
//! tokens that failures drain and successes refill.

use crate::model::{Budget, Jitter, Retry};
use crate::rng::Stream;

/// What a failed attempt leads to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Decision {
    /// Another attempt after this many nanoseconds.
    After(f64),
    /// None: the policy does not retry this failure, or no attempt is left.
    GiveUp,
    /// None: the budget refuses it.
    OverBudget,
}

/// A call point's retry policy and budget.
pub(super) struct RetryState {
    policy: Retry,
    stream: Stream,
    /// Calls retrying now (past their first attempt).
    pub(super) retrying: u32,
    /// gRPC's token bucket, when the budget is one.
    tokens: f64,
}

impl RetryState {
    pub(super) fn new(policy: &Retry, stream: Stream) -> RetryState {
        let tokens = match policy.budget {
            Some(Budget::Tokens { max, .. }) => max,
            _ => 0.0,
        };
        RetryState {
            policy: policy.clone(),
            stream,
            retrying: 0,
            tokens,
        }
    }

    /// Attempt `attempt` (0 for the first) of a call failed (it timed out,
    /// or replied with an error or a refusal); `in_progress`
    /// calls are under way at the call point (this one included), and
    /// `previous` was the last backoff waited. Every failure drains a token
    /// bucket, whatever is decided.
    pub(super) fn failed(
        &mut self,
        timed_out: bool,
        attempt: u32,
        in_progress: u32,
        previous: f64,
    ) -> Decision {
        if let Some(Budget::Tokens { .. }) = self.policy.budget {
            self.tokens = (self.tokens - 1.0).max(0.0);
        }
        let retried = if timed_out {
            self.policy.on_timeout
        } else {
            self.policy.on_error
        };
        if !retried || attempt + 1 >= self.policy.attempts {
            return Decision::GiveUp;
        }
        let within = match self.policy.budget {
            None => true,
            Some(Budget::Concurrency {
                percent,
                min_concurrency,
            }) => {
                // A call already retrying is counted in `retrying`.
                let allowed = (percent * f64::from(in_progress)).floor() as u32;
                attempt > 0 || self.retrying < allowed.max(min_concurrency)
            }
            Some(Budget::Tokens { max, .. }) => self.tokens > max / 2.0,
        };
        if !within {
            return Decision::OverBudget;
        }
        Decision::After(self.backoff(attempt, previous))
    }

    /// A call succeeded: a token bucket refills by its ratio.
    pub(super) fn succeeded(&mut self) {
        if let Some(Budget::Tokens { max, ratio }) = self.policy.budget {
            self.tokens = (self.tokens + ratio).min(max);
        }
    }

    /// The wait before retry `k` (0 for the first retry), in nanoseconds:
    /// `expo = min(cap, base · 2^k)` spread by the jitter; a decorrelated
    /// jitter draws from `[base, 3 · previous]` (`previous` is `base` before
    /// the first retry), capped.
    pub(super) fn backoff(&mut self, k: u32, previous: f64) -> f64 {
        let b = self.policy.backoff;
        // 2^1023 is finite; past it the cap applies anyway.
        let expo = (b.base * 2f64.powi(k.min(1023) as i32)).min(b.cap);
        match b.jitter {
            Jitter::None => expo,
            Jitter::Full => self.stream.uniform() * expo,
            Jitter::Equal => expo / 2.0 + self.stream.uniform() * expo / 2.0,
            Jitter::Decorrelated => {
                let previous = if k == 0 { b.base } else { previous };
                let high = 3.0 * previous;
                (b.base + self.stream.uniform() * (high - b.base)).min(b.cap)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Backoff;
    use crate::rng::Stream;

    fn policy(jitter: Jitter, budget: Option<Budget>) -> RetryState {
        RetryState::new(
            &Retry {
                attempts: 4,
                backoff: Backoff {
                    base: 10.0,
                    cap: 100.0,
                    jitter,
                },
                on_timeout: true,
                on_error: false,
                budget,
            },
            Stream::new(7),
        )
    }

    /// Each jitter's mean and range over many draws, against its definition:
    /// with expo = min(100, 10 · 2^k), none is expo, full is uniform on
    /// [0, expo] (mean expo/2), equal is uniform on [expo/2, expo] (mean
    /// 3·expo/4), decorrelated is min(cap, uniform on [base, 3·previous]).
    #[test]
    fn backoffs_have_their_definitions_mean_and_range() {
        const N: usize = 200_000;
        for k in 0..6u32 {
            let expo = (10.0 * 2f64.powi(k as i32)).min(100.0);
            for (jitter, low, high, mean) in [
                (Jitter::None, expo, expo, expo),
                (Jitter::Full, 0.0, expo, expo / 2.0),
                (Jitter::Equal, expo / 2.0, expo, 0.75 * expo),
            ] {
                let mut p = policy(jitter, None);
                let draws: Vec<f64> = (0..N).map(|_| p.backoff(k, 0.0)).collect();
                let m = draws.iter().sum::<f64>() / N as f64;
                // A uniform's standard error: width / sqrt(12 N); 5 of them.
                let tolerance = 5.0 * (high - low) / (12.0 * N as f64).sqrt() + 1e-9;
                assert!(
                    (m - mean).abs() <= tolerance,
                    "{jitter:?} k={k}: {m} vs {mean}"
                );
                assert!(draws.iter().all(|&d| (low..=high).contains(&d)));
            }
        }
        // Decorrelated: from previous = 20, uniform on [10, 60] (mean 35);
        // from previous = 50, uniform on [10, 150] capped at 100: mean
        // (∫10..100 x dx + 50 · 100) / 140 = (4950 + 5000) / 140.
        let mut p = policy(Jitter::Decorrelated, None);
        for (previous, mean) in [(20.0, 35.0), (50.0, (4950.0 + 5000.0) / 140.0)] {
            let draws: Vec<f64> = (0..N).map(|_| p.backoff(1, previous)).collect();
            let m = draws.iter().sum::<f64>() / N as f64;
            let tolerance = 5.0 * (3.0 * previous - 10.0) / (12.0 * N as f64).sqrt();
            assert!((m - mean).abs() <= tolerance, "{m} vs {mean}");
            assert!(draws.iter().all(|&d| (10.0..=100.0).contains(&d)));
        }
        // The first retry starts from the base: uniform on [10, 30].
        let first: f64 = (0..N).map(|_| p.backoff(0, 1e9)).sum::<f64>() / N as f64;
        assert!((first - 20.0).abs() < 0.1, "{first}");
    }

    #[test]
    fn attempts_and_kinds_bound_the_retries() {
        let mut p = policy(Jitter::None, None);
        assert_eq!(p.failed(true, 0, 1, 0.0), Decision::After(10.0));
        assert_eq!(p.failed(true, 2, 1, 0.0), Decision::After(40.0));
        assert_eq!(p.failed(true, 3, 1, 0.0), Decision::GiveUp);
        assert_eq!(p.failed(false, 0, 1, 0.0), Decision::GiveUp);
    }

    #[test]
    fn a_concurrency_budget_counts_retries_in_progress() {
        let budget = Budget::Concurrency {
            percent: 0.2,
            min_concurrency: 1,
        };
        let mut p = policy(Jitter::None, Some(budget));
        // 10 calls in progress: 2 retries allowed at once.
        assert!(matches!(p.failed(true, 0, 10, 0.0), Decision::After(_)));
        p.retrying = 2;
        assert_eq!(p.failed(true, 0, 10, 0.0), Decision::OverBudget);
        // A call already retrying may go on.
        assert!(matches!(p.failed(true, 1, 10, 0.0), Decision::After(_)));
        // Few calls: the floor.
        p.retrying = 0;
        assert!(matches!(p.failed(true, 0, 2, 0.0), Decision::After(_)));
        p.retrying = 1;
        assert_eq!(p.failed(true, 0, 2, 0.0), Decision::OverBudget);
    }

    #[test]
    fn a_token_bucket_stops_retries_below_half_and_refills() {
        let mut p = policy(
            Jitter::None,
            Some(Budget::Tokens {
                max: 4.0,
                ratio: 0.5,
            }),
        );
        // 4 → 3 → 2: retries while more than 2 tokens are left.
        assert!(matches!(p.failed(true, 0, 1, 0.0), Decision::After(_)));
        assert_eq!(p.failed(true, 0, 1, 0.0), Decision::OverBudget);
        assert_eq!(p.failed(true, 0, 1, 0.0), Decision::OverBudget);
        assert_eq!(p.tokens, 1.0);
        for _ in 0..3 {
            p.succeeded();
        }
        assert_eq!(p.tokens, 2.5);
        // 2.5 − 1 = 1.5: not above 2.
        assert_eq!(p.failed(true, 0, 1, 0.0), Decision::OverBudget);
        for _ in 0..20 {
            p.succeeded();
        }
        assert_eq!(p.tokens, 4.0, "capped at its maximum");
    }
}
