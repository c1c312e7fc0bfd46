//! Circuit breakers: a call point's state machine over the outcomes of its
//! recent calls (resilience4j's count-based window). Closed, it lets calls
//! through and trips open when, over its last `window` calls (once it has
//! `min_calls`), the share of failures or of slow calls reaches its
//! threshold; open, it refuses every call for `open_for`; then half-open,
//! it lets `half_open_calls` probes through and closes if they succeed
//! (their failure share below the threshold), or opens again.
//!
//! The breaker decides; `calls.rs` refuses or sends. It changes state
//! lazily, when a call comes or an outcome is recorded: an open period
//! ends at `until` whether or not a call comes then, and its time is
//! counted so.

use std::collections::VecDeque;

use crate::model::Breaker;

/// How a call ended, for the breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Success,
    /// A success slower than the policy's `slow_call`.
    Slow,
    Failure,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Closed,
    Open {
        until: u64,
    },
    HalfOpen {
        permitted: u32,
        done: u32,
        failed: u32,
    },
}

/// A call point's breaker and the time it spent in each state.
pub(super) struct BreakerState {
    policy: Breaker,
    state: State,
    /// The last outcomes while closed, oldest first.
    window: VecDeque<Outcome>,
    failures: u32,
    slows: u32,
    /// When the current state's time was last counted.
    since: u64,
    /// Nanoseconds open and half-open since measurement started.
    pub(super) open: f64,
    pub(super) half_open: f64,
    /// Times it opened.
    pub(super) opened: u64,
}

impl BreakerState {
    pub(super) fn new(policy: &Breaker) -> BreakerState {
        BreakerState {
            policy: *policy,
            state: State::Closed,
            window: VecDeque::with_capacity(policy.window as usize),
            failures: 0,
            slows: 0,
            since: 0,
            open: 0.0,
            half_open: 0.0,
            opened: 0,
        }
    }

    /// Counts the time in the current state up to `now`, ending an open
    /// period whose time is up (at its end).
    fn advance(&mut self, now: u64) {
        if let State::Open { until } = self.state
            && now >= until
        {
            self.open += (until - self.since.min(until)) as f64;
            self.since = until.max(self.since);
            self.state = State::HalfOpen {
                permitted: 0,
                done: 0,
                failed: 0,
            };
        }
        let dt = now.saturating_sub(self.since) as f64;
        match self.state {
            State::Closed => {}
            State::Open { .. } => self.open += dt,
            State::HalfOpen { .. } => self.half_open += dt,
        }
        self.since = now.max(self.since);
    }

    /// Nanoseconds open since measurement started, up to `now`, without
    /// advancing (for the time series).
    pub(super) fn open_at(&self, now: u64) -> f64 {
        match self.state {
            State::Open { until } => self.open + now.min(until).saturating_sub(self.since) as f64,
            _ => self.open,
        }
    }

    /// Whether a call may go at `now`.
    pub(super) fn allow(&mut self, now: u64) -> bool {
        self.advance(now);
        match &mut self.state {
            State::Closed => true,
            State::Open { .. } => false,
            State::HalfOpen { permitted, .. } => {
                if *permitted < self.policy.half_open_calls {
                    *permitted += 1;
                    true
                } else {
                    false
                }
            }
        }
    }

    /// A call that went ended at `now` after `latency` nanoseconds, or
    /// failed.
    pub(super) fn record(&mut self, now: u64, failed: bool, latency: u64) {
        self.advance(now);
        let outcome = if failed {
            Outcome::Failure
        } else if self.policy.slow_call.is_some_and(|s| latency as f64 >= s) {
            Outcome::Slow
        } else {
            Outcome::Success
        };
        let p = self.policy;
        match &mut self.state {
            State::Closed => {
                if self.window.len() == p.window as usize {
                    match self.window.pop_front() {
                        Some(Outcome::Failure) => self.failures -= 1,
                        Some(Outcome::Slow) => self.slows -= 1,
                        _ => {}
                    }
                }
                self.window.push_back(outcome);
                match outcome {
                    Outcome::Failure => self.failures += 1,
                    Outcome::Slow => self.slows += 1,
                    Outcome::Success => {}
                }
                let n = self.window.len() as f64;
                let trips = self.window.len() as u32 >= p.min_calls
                    && (f64::from(self.failures) >= p.failure_rate * n
                        || f64::from(self.slows) >= p.slow_rate * n);
                if trips {
                    self.trip(now);
                }
            }
            // An outcome of a call sent before it opened.
            State::Open { .. } => {}
            State::HalfOpen { done, failed, .. } => {
                *done += 1;
                if outcome != Outcome::Success {
                    *failed += 1;
                }
                if *done >= p.half_open_calls {
                    let bad = f64::from(*failed) >= p.failure_rate * f64::from(*done);
                    if bad {
                        self.trip(now);
                    } else {
                        self.state = State::Closed;
                        self.window.clear();
                        (self.failures, self.slows) = (0, 0);
                    }
                }
            }
        }
    }

    fn trip(&mut self, now: u64) {
        self.opened += 1;
        self.state = State::Open {
            until: now.saturating_add(self.policy.open_for),
        };
        self.window.clear();
        (self.failures, self.slows) = (0, 0);
    }

    /// Measurement starts at `now`.
    pub(super) fn reset(&mut self, now: u64) {
        self.advance(now);
        (self.open, self.half_open, self.opened) = (0.0, 0.0, 0);
    }

    /// Measurement ends at `now`: the time is counted.
    pub(super) fn finish(&mut self, now: u64) {
        self.advance(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> BreakerState {
        BreakerState::new(&Breaker {
            window: 4,
            min_calls: 4,
            failure_rate: 0.5,
            slow_call: Some(100.0),
            slow_rate: 1.0,
            open_for: 1000,
            half_open_calls: 2,
        })
    }

    #[test]
    fn it_trips_on_half_failures_then_probes_and_closes() {
        let mut b = breaker();
        for (t, failed) in [(1, false), (2, true), (3, false)] {
            assert!(b.allow(t));
            b.record(t, failed, 10);
        }
        // Three calls: not enough yet; the fourth fails: 2 of 4.
        assert!(b.allow(4));
        b.record(4, true, 10);
        assert_eq!((b.opened, b.allow(5), b.allow(1003)), (1, false, false));
        // Half-open at 1004: two probes, no third.
        assert!(b.allow(1004) && b.allow(1005) && !b.allow(1006));
        b.record(1010, false, 10);
        b.record(1011, false, 10);
        assert!(b.allow(1012), "closed again");
        b.finish(2000);
        assert_eq!(b.open, 1000.0, "open from 4 to 1004");
        assert_eq!(b.half_open, 7.0, "half-open from 1004 to 1011");
    }

    #[test]
    fn a_failed_probe_opens_it_again_and_slow_calls_count() {
        let mut b = breaker();
        // Four slow successes: 100% slow trips it.
        for t in 0..4 {
            assert!(b.allow(t));
            b.record(t, false, 150);
        }
        assert!(!b.allow(10));
        assert!(b.allow(2000) && b.allow(2000));
        b.record(2001, true, 10);
        b.record(2002, false, 10);
        // One of two probes failed: 50% reaches the threshold.
        assert!(!b.allow(2003));
        assert_eq!(b.opened, 2);
    }
}
