//! Load shedding at a waiting line: CoDel's queueing-delay target, as
//! request servers apply it (Facebook's "Fail at Scale"), and adaptive LIFO.
//!
//! A line that has not been empty for a whole `interval` is standing, not
//! absorbing a burst: then a request that has waited more than `target` is
//! dropped when a server frees up (the oldest first, whatever the order of
//! service); otherwise a request may wait up to `interval`. (TCP's CoDel
//! spaces its drops by interval/√count to signal senders; a request server
//! has no sender to slow down, so it sheds what is already too late.)
//! Adaptive LIFO serves the newest request first while more than
//! `lifo_above` wait: under a backlog, the newest still has a client
//! waiting for it, and CoDel drops the oldest.
//!
//! The shedder decides; `flow.rs` drops or serves.

use crate::model::Shedding;

/// A waiting line's shedding state.
pub(super) struct Shedder {
    policy: Shedding,
    /// When the line was last seen empty (by an arrival that found no one
    /// waiting).
    last_empty: u64,
}

impl Shedder {
    pub(super) fn new(policy: &Shedding) -> Shedder {
        Shedder {
            policy: *policy,
            last_empty: 0,
        }
    }

    /// A request arrives at `now` and finds the line empty, or not.
    pub(super) fn arriving(&mut self, now: u64, line_empty: bool) {
        if line_empty {
            self.last_empty = now;
        }
    }

    /// The longest a request may have waited at `now` and still be served
    /// (nanoseconds): `target` while the line stands, else `interval`;
    /// `None` without CoDel.
    pub(super) fn timeout(&self, now: u64) -> Option<f64> {
        self.policy.codel.map(|c| {
            if (now - self.last_empty) as f64 >= c.interval {
                c.target
            } else {
                c.interval
            }
        })
    }

    /// Whether to take the newest waiting request rather than the oldest,
    /// with `waiting` in line.
    #[inline]
    pub(super) fn newest_first(&self, waiting: usize) -> bool {
        self.policy
            .lifo_above
            .is_some_and(|above| waiting > above as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Codel;

    #[test]
    fn the_timeout_is_the_target_once_the_line_stands_for_an_interval() {
        let mut s = Shedder::new(&Shedding {
            codel: Some(Codel {
                target: 5.0,
                interval: 100.0,
            }),
            lifo_above: None,
        });
        s.arriving(10, true);
        assert_eq!(s.timeout(50), Some(100.0), "a burst: up to the interval");
        s.arriving(60, false);
        assert_eq!(s.timeout(110), Some(5.0), "standing since 10: the target");
        s.arriving(120, true);
        assert_eq!(s.timeout(130), Some(100.0));
    }

    #[test]
    fn adaptive_lifo_takes_the_newest_past_its_threshold() {
        let s = Shedder::new(&Shedding {
            codel: None,
            lifo_above: Some(3),
        });
        assert!(!s.newest_first(3) && s.newest_first(4));
        assert_eq!(s.timeout(7), None);
    }
}
