//! Autoscaling: replicas asked for, started and removed as the load
//! changes, by the Kubernetes horizontal pod autoscaler's rule.
//!
//! Every `interval`, the autoscaler measures its metric on each ready
//! replica since that replica was last measured (or became ready), and
//! recommends `ceil(sum / target)` replicas, clamped to `[min, max]`:
//!
//! - nothing changes while the mean per ready replica is within the
//!   tolerance of the target;
//! - while replicas are still starting, a scale-up counts them as carrying
//!   no load (the sum over every replica asked for), and nothing changes if
//!   that brings the ratio within the tolerance or below one;
//! - a scale-up happens at once; a scale-in goes only down to the highest
//!   recommendation of the last `scale_in_after` (the stabilisation
//!   window), so a dip does not shed replicas that the next minute needs.
//!
//! A replica asked for is billed from then, starts after `provision`, and
//! is ready (the balancers send to it, a queue feeding the service counts
//! its workers) after `warmup` more. Scaling in removes the newest
//! replicas first: one still starting is cancelled; a ready one is sent
//! nothing more and finishes what it holds.
//!
//! The first half of this file is the mechanism (its state and rule); the
//! second is glue of the engine, as in `faults.rs`: it reads the stations
//! and changes the balancers and queues.

use std::collections::VecDeque;

use super::Engine;
use super::event::Event;
use crate::model::{Autoscaler, ScaleMetric};
use crate::stats::ScalerStats;
use crate::time::{SimTime, nanos_from_f64};

/// Where one replica is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Off,
    Starting,
    Ready,
}

/// An autoscaler's state during a run.
#[derive(Clone, Debug)]
pub(super) struct Scaler {
    spec: Autoscaler,
    phase: Vec<Phase>,
    /// Per replica: bumped when its start is cancelled, so that the event
    /// of its readiness is ignored.
    generation: Vec<u32>,
    /// Per replica: its metric's running total when last measured, and when.
    mark: Vec<(f64, u64)>,
    /// Replicas asked for (starting or ready).
    asked: u32,
    ready: u32,
    /// Recommendations of the stabilisation window, oldest first.
    recent: VecDeque<(u64, u32)>,
    /// When the areas were last brought up to date.
    last: u64,
    pub(super) stats: ScalerStats,
}

impl Scaler {
    pub(super) fn new(spec: &Autoscaler) -> Scaler {
        let n = spec.replicas.len();
        let initial = spec.initial as usize;
        Scaler {
            spec: spec.clone(),
            phase: (0..n)
                .map(|r| {
                    if r < initial {
                        Phase::Ready
                    } else {
                        Phase::Off
                    }
                })
                .collect(),
            generation: vec![0; n],
            mark: vec![(0.0, 0); n],
            asked: spec.initial,
            ready: spec.initial,
            recent: VecDeque::new(),
            last: 0,
            stats: ScalerStats {
                peak: spec.initial,
                ..ScalerStats::default()
            },
        }
    }

    /// Adds the areas since the last change, up to `now`.
    fn advance(&mut self, now: u64) {
        let dt = (now - self.last) as f64;
        self.stats.billed_area += f64::from(self.asked) * dt;
        self.stats.ready_area += f64::from(self.ready) * dt;
        if self.asked as usize == self.spec.replicas.len() {
            self.stats.at_max += dt;
        }
        self.last = now;
    }

    /// Replicas ready integrated up to `now`, without advancing.
    pub(super) fn ready_area(&self, now: u64) -> f64 {
        self.stats.ready_area + f64::from(self.ready) * (now - self.last) as f64
    }

    /// Measurement starts at `now`; `totals` are the running totals the
    /// stations' reset is about to zero, per replica.
    pub(super) fn reset(&mut self, now: u64, totals: &[f64]) {
        self.advance(now);
        self.stats = ScalerStats {
            peak: self.asked,
            ..ScalerStats::default()
        };
        for (m, t) in self.mark.iter_mut().zip(totals) {
            m.0 -= t;
        }
    }

    /// The run ends at `now`.
    pub(super) fn finish(&mut self, now: u64) -> ScalerStats {
        self.advance(now);
        self.stats.ready_at_end = self.ready;
        self.stats.clone()
    }

    /// The number of replicas to ask for at `now`, given `sum`, the metric
    /// summed over the `measured` ready replicas.
    fn recommend(&mut self, now: u64, sum: f64, measured: u32) -> u32 {
        let a = &self.spec;
        let n = self.asked;
        let most = a.replicas.len() as u32;
        let wanted = |x: f64| {
            (x / a.target)
                .ceil()
                .clamp(f64::from(a.min), f64::from(most)) as u32
        };
        let ratio = sum / f64::from(measured.max(1)) / a.target;
        let rec = if measured == 0 || (ratio - 1.0).abs() <= a.tolerance {
            n
        } else if ratio > 1.0 && measured < n {
            // The replicas not measured yet (starting) count as idle.
            let all = sum / f64::from(n) / a.target;
            if all <= 1.0 + a.tolerance {
                n
            } else {
                wanted(sum)
            }
        } else {
            wanted(sum)
        };
        let window = nanos_from_f64(a.scale_in_after);
        while self
            .recent
            .front()
            .is_some_and(|&(t, _)| t.saturating_add(window) < now)
        {
            self.recent.pop_front();
        }
        self.recent.push_back((now, rec));
        if rec >= n {
            rec
        } else {
            let highest = self.recent.iter().map(|&(_, r)| r).max().unwrap_or(rec);
            highest.min(n)
        }
    }

    /// Asks for replicas up to `to` at `now`: those to start.
    fn grow(&mut self, to: u32, now: u64) -> Vec<usize> {
        self.advance(now);
        let mut started = Vec::new();
        for r in 0..self.phase.len() {
            if self.asked >= to {
                break;
            }
            if self.phase[r] == Phase::Off {
                self.phase[r] = Phase::Starting;
                self.asked += 1;
                started.push(r);
            }
        }
        self.stats.scale_ups += 1;
        self.stats.peak = self.stats.peak.max(self.asked);
        started
    }

    /// Removes replicas down to `to` at `now`, newest first: those that
    /// were ready (a starting one is cancelled).
    fn shrink(&mut self, to: u32, now: u64) -> Vec<usize> {
        self.advance(now);
        let mut removed = Vec::new();
        for r in (0..self.phase.len()).rev() {
            if self.asked <= to {
                break;
            }
            match self.phase[r] {
                Phase::Off => continue,
                Phase::Starting => self.generation[r] += 1,
                Phase::Ready => {
                    self.ready -= 1;
                    removed.push(r);
                }
            }
            self.phase[r] = Phase::Off;
            self.asked -= 1;
        }
        self.stats.scale_ins += 1;
        removed
    }

    /// Replica `r`'s start (its `generation`) is over at `now`: whether it
    /// is ready now (false when it was cancelled meanwhile).
    fn becomes_ready(&mut self, r: usize, generation: u32, now: u64) -> bool {
        if self.phase[r] != Phase::Starting || self.generation[r] != generation {
            return false;
        }
        self.advance(now);
        self.phase[r] = Phase::Ready;
        self.ready += 1;
        true
    }
}

impl Engine {
    /// Each autoscaler's replicas beyond its initial ones are sent nothing
    /// (and their workers are not its queues' slots); its first evaluation
    /// is timed.
    pub(super) fn start_autoscalers(&mut self) {
        for i in 0..self.scalers.len() {
            let spec = &self.scalers[i].spec;
            let later: Vec<usize> = (spec.initial as usize..spec.replicas.len()).collect();
            for r in later {
                self.serve(i, r, false);
            }
            let interval = nanos_from_f64(self.scalers[i].spec.interval);
            self.events
                .push(SimTime(interval), Event::Scale { scaler: i as u32 });
        }
    }

    /// The running totals of autoscaler `i`'s metric, per replica (zero
    /// for a metric read at the evaluation).
    pub(super) fn scaler_totals(&self, i: usize) -> Vec<f64> {
        let spec = &self.scalers[i].spec;
        spec.replicas
            .iter()
            .map(|replica| {
                let now = self.now;
                match spec.metric {
                    ScaleMetric::Cpu => {
                        let s = &self.stations[replica.cpu.idx()];
                        (s.stats.busy_area + f64::from(s.busy) * (now - s.last) as f64)
                            / f64::from(s.servers.max(1))
                    }
                    ScaleMetric::Workers => {
                        let s = &self.stations[replica.head.idx()];
                        s.pool.as_ref().map_or(0.0, |p| {
                            (s.stats.slots_area + f64::from(p.held()) * (now - p.last) as f64)
                                / f64::from(p.slots.max(1))
                        })
                    }
                    ScaleMetric::RpsPerReplica => {
                        // What it receives: with workers, every request
                        // asking for one (those waiting too).
                        let s = &self.stations[replica.head.idx()];
                        let received = if s.pool.is_some() {
                            s.stats.asked
                        } else {
                            s.stats.arrivals + s.stats.dropped
                        };
                        received as f64 * 1e9
                    }
                    ScaleMetric::QueuePerReplica => 0.0,
                }
            })
            .collect()
    }

    /// Autoscaler `i` evaluates: measures, recommends, and starts or
    /// removes replicas; its next evaluation is timed.
    #[cold]
    #[inline(never)]
    pub(super) fn scale(&mut self, i: usize) {
        let now = self.now;
        let totals = self.scaler_totals(i);
        let scaler = &mut self.scalers[i];
        let (sum, measured) = match scaler.spec.metric {
            ScaleMetric::QueuePerReplica => {
                let mut waiting: usize = scaler
                    .spec
                    .queues
                    .iter()
                    .filter_map(|q| self.stations[q.idx()].pool.as_ref())
                    .map(|p| p.waiting.len())
                    .sum();
                for (r, replica) in scaler.spec.replicas.iter().enumerate() {
                    if scaler.phase[r] == Phase::Ready {
                        waiting += self.stations[replica.head.idx()]
                            .pool
                            .as_ref()
                            .map_or(0, |p| p.waiting.len());
                    }
                }
                (waiting as f64, scaler.ready)
            }
            _ => {
                let mut sum = 0.0;
                let mut measured = 0;
                for (r, &total) in totals.iter().enumerate() {
                    let (before, since) = scaler.mark[r];
                    scaler.mark[r] = (total, now);
                    if scaler.phase[r] == Phase::Ready && now > since {
                        sum += (total - before) / (now - since) as f64;
                        measured += 1;
                    }
                }
                (sum, measured)
            }
        };
        let to = scaler.recommend(now, sum, measured);
        let asked = scaler.asked;
        if to > asked {
            let delay = nanos_from_f64(scaler.spec.provision + scaler.spec.warmup);
            for r in scaler.grow(to, now) {
                let generation = scaler.generation[r];
                self.events.push(
                    SimTime(now.saturating_add(delay)),
                    Event::Ready {
                        scaler: i as u32,
                        replica: r as u32,
                        generation,
                    },
                );
            }
        } else if to < asked {
            for r in self.scalers[i].shrink(to, now) {
                self.serve(i, r, false);
            }
        }
        let interval = nanos_from_f64(self.scalers[i].spec.interval);
        self.events.push(
            SimTime(now.saturating_add(interval)),
            Event::Scale { scaler: i as u32 },
        );
    }

    /// Autoscaler `i`'s replica `r` (its start numbered `generation`) is
    /// ready, unless cancelled: the balancers send to it.
    #[cold]
    #[inline(never)]
    pub(super) fn replica_ready(&mut self, i: usize, r: usize, generation: u32) {
        let now = self.now;
        let totals = self.scaler_totals(i);
        let scaler = &mut self.scalers[i];
        if scaler.becomes_ready(r, generation, now) {
            scaler.mark[r] = (totals[r], now);
            self.serve(i, r, true);
        }
    }

    /// Autoscaler `i`'s replica `r` takes requests (`on`) or stops: the
    /// balancers sending to it, and the slots its workers give the queues
    /// feeding the service.
    fn serve(&mut self, i: usize, r: usize, on: bool) {
        let replica = self.scalers[i].spec.replicas[r].clone();
        for &(b, t) in &replica.targets {
            self.set_up(b.0, t, on);
        }
        if replica.workers == 0 {
            return;
        }
        let now = self.now;
        for q in self.scalers[i].spec.queues.clone() {
            let station = &mut self.stations[q.idx()];
            let Some(pool) = station.pool.as_mut() else {
                continue;
            };
            if on {
                let new = pool.grow(replica.workers, now, &mut station.stats);
                for _ in 0..new {
                    self.hand_on(q.idx());
                }
            } else {
                pool.shrink(replica.workers, now, &mut station.stats);
            }
        }
    }

    /// Each autoscaler's running totals are about to be zeroed with the
    /// stations' statistics (the end of the warm-up).
    pub(super) fn reset_scalers(&mut self) {
        let now = self.now;
        for i in 0..self.scalers.len() {
            let totals = self.scaler_totals(i);
            self.scalers[i].reset(now, &totals);
        }
    }
}
