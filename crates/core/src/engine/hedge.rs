//! Hedged requests: when to send another copy of a slow attempt, with a
//! fixed delay or a quantile of the call's own latencies learnt as it runs
//! (Dean and Barroso's "The Tail at Scale": hedge after the 95th
//! percentile, for a few percent more load).
//!
//! The policy decides; `calls.rs` sends the copies.

use hdrhistogram::Histogram;

use crate::model::{Hedge, HedgeDelay};
use crate::stats::new_histogram;
use crate::time::nanos_from_f64;

/// A call point's hedging policy and what it has learnt.
pub(super) struct HedgeState {
    pub(super) max: u32,
    quantile: Option<f64>,
    /// The delay now: fixed, or the quantile as last computed (`None`
    /// while learning).
    delay: Option<u64>,
    /// The call's latencies, for a quantile.
    latencies: Option<Histogram<u64>>,
}

impl HedgeState {
    pub(super) fn new(policy: &Hedge) -> HedgeState {
        match policy.after {
            HedgeDelay::Fixed(d) => HedgeState {
                max: policy.max,
                quantile: None,
                delay: Some(nanos_from_f64(d)),
                latencies: None,
            },
            HedgeDelay::Quantile(q) => HedgeState {
                max: policy.max,
                quantile: Some(q),
                delay: None,
                latencies: Some(new_histogram()),
            },
        }
    }

    /// How long an attempt waits before its next copy; `None`: no copy
    /// (a quantile still being learnt).
    pub(super) fn delay(&self) -> Option<u64> {
        self.delay
    }

    /// A call answered after `latency` nanoseconds: a quantile's delay is
    /// recomputed every [`Hedge::LEARN`] replies.
    pub(super) fn record(&mut self, latency: u64) {
        let (Some(q), Some(h)) = (self.quantile, self.latencies.as_mut()) else {
            return;
        };
        // Auto-resizing: recording cannot fail for a u64.
        let _ = h.record(latency.max(1));
        if h.len() % Hedge::LEARN == 0 {
            self.delay = Some(h.value_at_quantile(q));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quantile_is_learnt_before_any_copy() {
        let mut h = HedgeState::new(&Hedge {
            after: HedgeDelay::Quantile(0.5),
            max: 1,
        });
        for latency in 1..Hedge::LEARN {
            h.record(latency * 1000);
            assert_eq!(h.delay(), None);
        }
        h.record(Hedge::LEARN * 1000);
        // The median of 1, 2, ... 64 µs, to the histogram's precision.
        let d = h.delay().unwrap() as f64;
        assert!((d - 32_000.0).abs() < 50.0, "{d}");
        let fixed = HedgeState::new(&Hedge {
            after: HedgeDelay::Fixed(3e6),
            max: 2,
        });
        assert_eq!((fixed.delay(), fixed.max), (Some(3_000_000), 2));
    }
}
