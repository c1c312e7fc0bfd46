//! Things that break: crashes (with the balancers' detection delay),
//! fail-slow stations, and raised error rates, once or again and again.
//!
//! Each fault's occurrences are timed by its own stream (`fault`, its
//! index): start, a drawn duration, and, for a repeating fault, a drawn
//! time until the next. What a station is while faults strike it is
//! recomputed from the faults active on it (`refresh`), so that
//! overlapping faults compose: down while any crash is active, slowed by
//! the product of the active factors, failing with the highest active
//! error probability (or its own, if higher).
//!
//! Unlike the mechanism modules, the second half of this file is glue of the
//! engine (like `flow.rs` and `calls.rs`): a crash takes the requests out of
//! the stations it strikes and fails them.

use super::Engine;
use super::calls::Failure;
use super::event::Event;
use super::request::At;
use super::station::flag;
use crate::model::{Effect, Fault};
use crate::rng::Stream;
use crate::stats::FaultStats;
use crate::time::{SimTime, nanos_from_f64};

/// A fault's state during a run.
#[derive(Clone, Debug)]
pub(super) struct FaultState {
    pub(super) fault: Fault,
    stream: Stream,
    /// Whether an occurrence is under way.
    pub(super) active: bool,
    /// Occurrences started so far: a detection names the one it belongs
    /// to, and is ignored once that one has ended.
    occurrence: u32,
    /// Whether the balancers have noticed the current crash.
    detected: bool,
    /// When the current occurrence started (or measurement did, if later).
    since: u64,
    pub(super) stats: FaultStats,
}

impl FaultState {
    pub(super) fn new(fault: &Fault, stream: Stream) -> FaultState {
        FaultState {
            fault: fault.clone(),
            stream,
            active: false,
            occurrence: 0,
            detected: false,
            since: 0,
            stats: FaultStats::default(),
        }
    }

    /// Measurement starts at `now`: counts restart; an occurrence under way
    /// is counted from now.
    pub(super) fn reset(&mut self, now: u64) {
        self.stats = FaultStats::default();
        if self.active {
            self.since = now;
        }
    }

    /// The run ends at `now`: the current occurrence's time so far counts.
    pub(super) fn finish(&mut self, now: u64) {
        if self.active {
            self.stats.active_time += (now - self.since) as f64;
            self.since = now;
        }
    }

    /// Whether it strikes station `si`.
    fn strikes(&self, si: usize) -> bool {
        self.fault.stations.iter().any(|s| s.idx() == si)
    }

    /// How long the occurrence starting now lasts, in nanoseconds.
    fn draw_lasts(&mut self) -> u64 {
        nanos_from_f64(self.fault.lasts.sample(&mut self.stream))
    }

    /// For a repeating fault, the time until its next occurrence.
    fn draw_gap(&mut self) -> Option<u64> {
        let every = self.fault.every.as_ref()?;
        Some(nanos_from_f64(every.sample(&mut self.stream)))
    }
}

/// What the faults active on one station make of it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Struck {
    down: bool,
    slow: f64,
    error: Option<f64>,
}

impl Engine {
    /// Schedules each fault's first occurrence.
    pub(super) fn schedule_faults(&mut self) {
        for (i, f) in self.faults.iter().enumerate() {
            let at = nanos_from_f64(f.fault.at);
            self.events
                .push(SimTime(at), Event::FaultStart { fault: i as u32 });
        }
    }

    /// Fault `i` strikes: its stations change, the requests at a crashed
    /// one fail, and its end (and, for a crash, its detection) is timed.
    #[cold]
    #[inline(never)]
    pub(super) fn fault_start(&mut self, i: usize) {
        let now = self.now;
        let f = &mut self.faults[i];
        f.active = true;
        f.occurrence += 1;
        f.detected = false;
        f.since = now;
        f.stats.occurrences += 1;
        let duration = f.draw_lasts();
        let occurrence = f.occurrence;
        self.events.push(
            SimTime(now.saturating_add(duration)),
            Event::FaultEnd { fault: i as u32 },
        );
        if let Effect::Crash { detect, .. } = self.faults[i].fault.effect {
            self.events.push(
                SimTime(now.saturating_add(nanos_from_f64(detect))),
                Event::FaultDetected {
                    fault: i as u32,
                    occurrence,
                },
            );
        }
        let stations: Vec<usize> = self.faults[i]
            .fault
            .stations
            .iter()
            .map(|s| s.idx())
            .collect();
        for &si in &stations {
            self.refresh(si);
        }
        if matches!(self.faults[i].fault.effect, Effect::Crash { .. }) {
            self.crash(i, &stations);
        }
    }

    /// Fault `i`'s occurrence ends: its stations recover (the balancers send
    /// to them again at once), and a repeating fault's next occurrence is
    /// timed.
    #[cold]
    #[inline(never)]
    pub(super) fn fault_end(&mut self, i: usize) {
        let now = self.now;
        let f = &mut self.faults[i];
        f.active = false;
        f.stats.active_time += (now - f.since) as f64;
        if let Some(gap) = f.draw_gap() {
            self.events.push(
                SimTime(now.saturating_add(gap)),
                Event::FaultStart { fault: i as u32 },
            );
        }
        let detected = std::mem::replace(&mut self.faults[i].detected, false);
        if let Effect::Crash { targets, .. } = &self.faults[i].fault.effect
            && detected
        {
            for (b, t) in targets.clone() {
                self.set_up(b.0, t, true);
            }
        }
        let stations: Vec<usize> = self.faults[i]
            .fault
            .stations
            .iter()
            .map(|s| s.idx())
            .collect();
        for si in stations {
            self.refresh(si);
        }
    }

    /// The balancers notice crash `i` (its `occurrence`, if still under
    /// way) and stop sending to it.
    #[cold]
    #[inline(never)]
    pub(super) fn fault_detected(&mut self, i: usize, occurrence: u32) {
        let f = &mut self.faults[i];
        if !f.active || f.occurrence != occurrence {
            return;
        }
        f.detected = true;
        if let Effect::Crash { targets, .. } = &f.fault.effect {
            for (b, t) in targets.clone() {
                self.set_up(b.0, t, false);
            }
        }
    }

    /// Station `si` as the faults active on it make it: down or up, its
    /// speed (its lanes' work for a FIFO station), its error probability,
    /// and the flags that route requests through those checks.
    fn refresh(&mut self, si: usize) {
        let mut struck = Struck {
            down: false,
            slow: 1.0,
            error: None,
        };
        for f in self.faults.iter().filter(|f| f.active && f.strikes(si)) {
            match f.fault.effect {
                Effect::Crash { .. } => struck.down = true,
                Effect::Slow { factor } => struck.slow *= factor,
                Effect::Errors { probability } => {
                    struck.error = Some(
                        struck
                            .error
                            .map_or(probability, |e: f64| e.max(probability)),
                    );
                }
            }
        }
        let now = self.now;
        let base_error = self.base_error[si];
        let station = &mut self.stations[si];
        station.down = struck.down;
        station.error = struck.error.map_or(base_error, |e| e.max(base_error));
        if station.is_ps {
            station.ps_update(now);
            station.nominal_speed = 1.0 / struck.slow;
            station.refresh_speed();
        }
        let base = self.base_flags[si];
        let mut flags = base;
        if struck.down {
            flags |= flag::SPECIAL_ARRIVAL;
        }
        if self.stations[si].error > 0.0 {
            flags |= flag::FAILS;
        }
        self.flags[si] = flags;
        if self.stations[si].is_ps {
            self.ps_reschedule(si);
        } else {
            // A FIFO station's work is drawn at the start of service: its
            // lanes draw `slow` times longer (work under way finishes as
            // drawn).
            for ci in 0..self.n_classes {
                let k = si * self.n_classes + ci;
                if let (Some(lane), Some(base)) =
                    (self.lanes[k].as_mut(), self.base_work[k].as_ref())
                {
                    lane.work = if struck.slow == 1.0 {
                        base.clone()
                    } else {
                        base.scaled(struck.slow).unwrap_or_else(|_| base.clone())
                    };
                }
            }
        }
    }

    /// Crash `i` at `stations`: every request waiting or served there, or
    /// awaiting a call made from there, fails with an error (its caller
    /// sees the error, and may retry elsewhere).
    fn crash(&mut self, i: usize, stations: &[usize]) {
        let struck = |si: u32| stations.contains(&(si as usize));
        let victims: Vec<_> = self
            .requests
            .live_indices()
            .into_iter()
            .filter(|&req| {
                let r = &self.requests[req];
                struck(r.station) && !matches!(r.at, At::Moving)
            })
            .map(|req| self.requests.handle(req))
            .collect();
        for handle in victims {
            // An earlier failure may have ended it (a call it awaited
            // failed and gave up), or moved it.
            if !self.requests.is_live(handle) {
                continue;
            }
            let req = handle.index;
            let r = &self.requests[req];
            if !struck(r.station) {
                continue;
            }
            let calling = r.at == At::Calling;
            if calling || self.withdraw(req) {
                self.faults[i].stats.failed += 1;
                self.fail(req, Failure::Error);
            }
        }
    }

    /// `req` arrives at `si`, which is down: it fails at once (a refused
    /// connection), counted against the fault that downed it.
    #[cold]
    #[inline(never)]
    pub(super) fn refuse_down(&mut self, req: u32, si: usize) {
        self.stations[si].stats.errors += 1;
        if let Some(i) = self.crash_at(si) {
            self.faults[i].stats.refused += 1;
        }
        self.fail(req, Failure::Error);
    }

    /// `req`'s call from `si` has its reply, but `si` crashed meanwhile:
    /// nobody is there to take it, and `req` fails.
    #[cold]
    #[inline(never)]
    pub(super) fn reply_to_crashed(&mut self, req: u32, si: usize) {
        self.stations[si].stats.late_replies += 1;
        if let Some(i) = self.crash_at(si) {
            self.faults[i].stats.failed += 1;
        }
        self.fail(req, Failure::Error);
    }

    /// A visit to `si` failed: counted against the `errors` fault under way
    /// there, if one is.
    #[cold]
    #[inline(never)]
    pub(super) fn fault_error(&mut self, si: usize) {
        if let Some(i) = self.active_on(si, |e| matches!(e, Effect::Errors { .. })) {
            self.faults[i].stats.failed += 1;
        }
    }

    /// The active crash that downed `si`.
    fn crash_at(&self, si: usize) -> Option<usize> {
        self.active_on(si, |e| matches!(e, Effect::Crash { .. }))
    }

    /// The first fault under way at `si` whose effect is `of` that kind.
    fn active_on(&self, si: usize, of: fn(&Effect) -> bool) -> Option<usize> {
        self.faults
            .iter()
            .position(|f| f.active && of(&f.fault.effect) && f.strikes(si))
    }
}
