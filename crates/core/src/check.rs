//! The engine's own guard: the invariants a [`Topology`] must hold before it
//! runs. The scenario crate reports a user's mistakes with spans before
//! this; a topology built by hand (tests, benchmarks) meets these checks
//! only.

use crate::model::{Autoscaler, Budget, CallPoint, Effect, Fault, HedgeDelay, Profile, RateLimit};
use crate::model::{
    CacheContents, ClassId, Discipline, Load, ModelError, Partition, Policy, Replication, Role,
    StationId, Topology, WritePolicy,
};
use crate::routing::hops;

/// Shedding on a FIFO line (a pool's, or a FIFO queue's), with a target
/// and interval that are positive.
fn shedding_ok(station: &crate::model::Station, s: crate::model::Shedding) -> bool {
    let fifo = station.admission.is_some()
        || station
            .queue()
            .is_some_and(|q| q.discipline == Discipline::Fifo);
    let codel_ok = s.codel.is_none_or(|c| {
        c.target.is_finite() && c.target >= 0.0 && c.interval.is_finite() && c.interval >= 0.0
    });
    fifo && codel_ok
}

/// A token bucket with a positive rate and burst.
fn limit_ok(l: RateLimit) -> bool {
    l.rate.is_finite() && l.rate > 0.0 && l.burst >= 1
}

/// A call's timeout and retry policy are in range, and not on a send.
fn resilience_ok(c: &CallPoint) -> bool {
    let timeout_ok = c
        .timeout
        .as_ref()
        .is_none_or(|t| c.wait > 0 && t.after.mean() > 0.0);
    let retry_ok = c.retry.as_ref().is_none_or(|r| {
        let b = &r.backoff;
        let budget_ok = match r.budget {
            None => true,
            Some(Budget::Concurrency { percent, .. }) => (0.0..=1.0).contains(&percent),
            Some(Budget::Tokens { max, ratio }) => {
                max.is_finite() && max > 0.0 && ratio.is_finite() && ratio >= 0.0
            }
        };
        c.wait > 0
            && r.attempts >= 1
            && b.base.is_finite()
            && b.base >= 0.0
            && b.cap.is_finite()
            && b.cap >= b.base
            && budget_ok
    });
    let hedge_ok = c.hedge.is_none_or(|h| {
        let delay_ok = match h.after {
            HedgeDelay::Fixed(d) => d.is_finite() && d >= 0.0,
            HedgeDelay::Quantile(q) => q > 0.0 && q < 1.0,
        };
        c.wait > 0 && c.targets.len() == 1 && h.max >= 1 && delay_ok
    });
    let breaker_ok = c.breaker.is_none_or(|b| {
        let share = |x: f64| x > 0.0 && x <= 1.0;
        c.wait > 0
            && b.window >= 1
            && b.min_calls >= 1
            && b.min_calls <= b.window
            && share(b.failure_rate)
            && share(b.slow_rate)
            && b.slow_call.is_none_or(|s| s.is_finite() && s >= 0.0)
            && b.half_open_calls >= 1
    });
    timeout_ok && retry_ok && hedge_ok && breaker_ok
}

impl Topology {
    /// Checks the invariants the engine relies on.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.classes.is_empty() {
            return Err(ModelError::Empty);
        }
        let n = self.stations.len();
        let known = |s: StationId| {
            if s.idx() < n {
                Ok(())
            } else {
                Err(ModelError::UnknownStation(s))
            }
        };
        let unit = |p: f64| (0.0..=1.0).contains(&p);
        for (si, station) in self.stations.iter().enumerate() {
            let id = StationId(si as u32);
            if let Role::Balancer(d) = &station.role {
                if d.targets.is_empty() {
                    return Err(ModelError::NoTargets(id));
                }
                for &t in &d.targets {
                    known(t)?;
                }
                let needs_sessions = matches!(d.policy, Policy::Sticky | Policy::ConsistentHash);
                let sessions_ok = d
                    .sessions
                    .is_none_or(|s| s.count > 0 && s.zipf.is_finite() && s.zipf >= 0.0);
                let down_ok = d
                    .down
                    .iter()
                    .all(|w| w.target < d.targets.len() && w.from < w.to);
                let keys_ok = match d.policy {
                    Policy::ByKey(by) => d.keys.is_some_and(|k| {
                        k.count > 0
                            && k.zipf.is_finite()
                            && k.zipf >= 0.0
                            && (by == Partition::Hash || k.count as usize >= d.targets.len())
                    }),
                    _ => true,
                };
                let outlier_ok = d.outlier.is_none_or(|o| {
                    o.consecutive >= 1
                        && o.base.is_finite()
                        && o.base > 0.0
                        && o.max_percent > 0.0
                        && o.max_percent <= 100.0
                });
                if (needs_sessions && d.sessions.is_none())
                    || !sessions_ok
                    || !down_ok
                    || !keys_ok
                    || !outlier_ok
                {
                    return Err(ModelError::BadDispatch(id));
                }
            }
            // In this order, so that a station with several faults is
            // reported as it always was.
            if !unit(station.error) {
                return Err(ModelError::BadError(id));
            }
            if station.rate_limit.is_some_and(|l| !limit_ok(l))
                || station.shedding.is_some_and(|s| !shedding_ok(station, s))
            {
                return Err(ModelError::BadRateLimit(id));
            }
            match &station.role {
                Role::Balancer(_) => {}
                Role::Call(c) => {
                    if c.targets.is_empty()
                        || c.choose
                            .is_some_and(|k| k == 0 || k as usize > c.targets.len())
                        || c.wait as usize > c.sent()
                        || c.probability.len() != self.classes.len()
                        || !c.probability.iter().all(|&p| unit(p))
                        || c.work.is_some_and(|w| !(w.is_finite() && w >= 0.0))
                    {
                        return Err(ModelError::BadCall(id));
                    }
                    for &t in &c.targets {
                        known(t)?;
                    }
                    if !resilience_ok(c) {
                        return Err(ModelError::BadResilience(id));
                    }
                }
                Role::Queue(q) => {
                    if q.servers == 0 {
                        return Err(ModelError::NoServers(id));
                    }
                    match &q.replication {
                        Some(Replication::Leader { keys, .. })
                            if keys.count == 0 || !keys.zipf.is_finite() || keys.zipf < 0.0 =>
                        {
                            return Err(ModelError::BadReplication(id));
                        }
                        Some(Replication::Follower { leader }) => {
                            known(*leader)?;
                            if !matches!(
                                self.stations[leader.idx()].replication(),
                                Some(Replication::Leader { .. })
                            ) {
                                return Err(ModelError::BadReplication(id));
                            }
                        }
                        _ => {}
                    }
                    if let Some(g) = &q.gc {
                        let finite = |x: f64| x.is_finite() && x >= 0.0;
                        let ok = q.discipline == Discipline::Ps
                            && finite(g.heap)
                            && g.heap > 0.0
                            && finite(g.alloc)
                            && g.alloc > 0.0
                            && finite(g.live)
                            && finite(g.pause_min)
                            && finite(g.pause_per_byte);
                        if !ok {
                            return Err(ModelError::BadGc(id));
                        }
                        if let Some(f) = g.in_flight {
                            known(f)?;
                        }
                    }
                    if let Some(c) = &q.cache {
                        known(c.backing)?;
                        let contents_ok = match &c.contents {
                            CacheContents::HitRatio(h) => unit(*h),
                            CacheContents::Lru {
                                keys,
                                capacity,
                                ttl,
                            } => {
                                keys.count > 0
                                    && keys.zipf.is_finite()
                                    && keys.zipf >= 0.0
                                    && *capacity > 0
                                    && ttl.is_none_or(|t| t.0 > 0)
                            }
                        };
                        let policy_ok = match c.write_policy {
                            WritePolicy::WriteBack { batch, interval } => {
                                batch > 0 && interval.0 > 0
                            }
                            _ => true,
                        };
                        if !contents_ok || !policy_ok || c.ops.len() != self.classes.len() {
                            return Err(ModelError::BadCache(id));
                        }
                    }
                }
            }
            if let Some(a) = &station.admission {
                for &r in &a.release_at {
                    known(r)?;
                }
                let bad_connections = a.connections.is_some_and(|c| {
                    !(c.connect.is_finite() && c.connect >= 0.0) || station.queue().is_none()
                });
                if a.slots == 0 || bad_connections {
                    return Err(ModelError::NoSlots(id));
                }
            }
            for behaviour in station.behaviour.iter().flatten() {
                let mut sum = 0.0;
                for &(to, p) in &behaviour.routing.next {
                    known(to)?;
                    if !unit(p) {
                        return Err(ModelError::BadRouting(id));
                    }
                    sum += p;
                }
                if sum > 1.0 + 1e-9 {
                    return Err(ModelError::BadRouting(id));
                }
            }
        }
        for (i, fault) in self.faults.iter().enumerate() {
            if !self.fault_ok(fault) {
                return Err(ModelError::BadFault(i));
            }
        }
        let mut scaled: Vec<StationId> = Vec::new();
        for (i, a) in self.autoscalers.iter().enumerate() {
            let heads = a.replicas.iter().map(|r| r.head);
            if !self.autoscaler_ok(a) || heads.clone().any(|h| scaled.contains(&h)) {
                return Err(ModelError::BadAutoscaler(i));
            }
            scaled.extend(heads);
        }
        // Every station a class can reach must know what to do with it.
        for (ci, class) in self.classes.iter().enumerate() {
            let class_id = ClassId(ci as u32);
            known(class.entry)?;
            if let Load::Open { rate, .. } = class.load
                && !(rate.is_finite() && rate > 0.0)
            {
                return Err(ModelError::BadRate(class_id));
            }
            if let Load::Open {
                rate,
                profile: Some(profile),
                ..
            } = &class.load
                && !profile_ok(profile, *rate)
            {
                return Err(ModelError::BadProfile(class_id));
            }
            if let Load::Closed {
                population,
                profile: Some(profile),
                ..
            } = &class.load
                && (matches!(profile, Profile::Diurnal { .. })
                    || !profile_ok(profile, f64::from(*population).max(1.0)))
            {
                return Err(ModelError::BadProfile(class_id));
            }
            if class
                .deadline
                .as_ref()
                .is_some_and(|d| d.after.mean() <= 0.0)
            {
                return Err(ModelError::BadDeadline(class_id));
            }
            let no_think = matches!(class.load, Load::Closed { think: None, .. });
            let mut seen = vec![false; n];
            let mut stack = vec![class.entry];
            while let Some(s) = stack.pop() {
                if std::mem::replace(&mut seen[s.idx()], true) {
                    continue;
                }
                let station = &self.stations[s.idx()];
                // Where a request can be turned away (a full station or
                // queue, a balancer with its targets down), possibly at once.
                let turns_away = station.queue().is_some_and(|q| q.capacity.is_some())
                    || station
                        .admission
                        .as_ref()
                        .is_some_and(|a| a.waiting_limit.is_some())
                    || station.dispatch().is_some_and(|d| !d.down.is_empty());
                if no_think && turns_away {
                    return Err(ModelError::ClosedLossWithoutThink(class_id));
                }
                if station.dispatch().is_none()
                    && !matches!(station.behaviour.get(ci), Some(Some(_)))
                {
                    return Err(ModelError::NoBehaviour {
                        class: class_id,
                        station: s,
                    });
                }
                stack.extend(hops(self, s, class_id).iter().map(|h| h.to));
            }
        }
        // Balancers pass requests on in zero time. A balancer is grounded if
        // one of its targets is a station or a grounded balancer; balancers
        // that are not would pass a request around forever at one instant.
        let mut grounded: Vec<bool> = self
            .stations
            .iter()
            .map(|s| s.dispatch().is_none())
            .collect();
        loop {
            let mut changed = false;
            for (si, station) in self.stations.iter().enumerate() {
                if let Some(d) = station.dispatch()
                    && !grounded[si]
                    && d.targets.iter().any(|t| grounded[t.idx()])
                {
                    grounded[si] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        if let Some(si) = grounded.iter().position(|g| !g) {
            return Err(ModelError::BalancerCycle(StationId(si as u32)));
        }
        // A call point must not be reachable from its own callees.
        for (si, station) in self.stations.iter().enumerate() {
            let Some(call) = station.call() else { continue };
            let mut seen = vec![false; n];
            let mut stack = call.targets.clone();
            while let Some(s) = stack.pop() {
                if s.idx() == si {
                    return Err(ModelError::CallCycle(s));
                }
                if std::mem::replace(&mut seen[s.idx()], true) {
                    continue;
                }
                stack.extend(self.successors(s));
            }
        }
        Ok(())
    }

    /// Every station a request at `s` may go to next, of any class, calls
    /// included ([`hops`] for each class). The station's calls and cache
    /// must have one entry per class, as [`Topology::validate`] checks
    /// first.
    pub fn successors(&self, s: StationId) -> Vec<StationId> {
        (0..self.classes.len())
            .flat_map(|ci| hops(self, s, ClassId(ci as u32)))
            .map(|h| h.to)
            .collect()
    }
}

/// A profile's times are sorted and not negative, its rates finite and not
/// negative, and its peak is its class's `rate`.
fn profile_ok(profile: &Profile, rate: f64) -> bool {
    let shape = match profile {
        Profile::Points(points) => {
            !points.is_empty()
                && points
                    .iter()
                    .all(|&(t, r)| t.is_finite() && t >= 0.0 && r.is_finite() && r >= 0.0)
                && points.windows(2).all(|w| w[0].0 <= w[1].0)
        }
        Profile::Diurnal {
            mean,
            amplitude,
            period,
            peak_at,
        } => {
            mean.is_finite()
                && *mean > 0.0
                && (0.0..=*mean).contains(amplitude)
                && period.is_finite()
                && *period > 0.0
                && peak_at.is_finite()
        }
    };
    shape && (profile.peak() - rate).abs() <= 1e-9 * rate
}

impl Topology {
    /// A fault strikes known stations at a time that is not negative, with
    /// an effect in range; a crash's balancer entries are balancers'.
    fn fault_ok(&self, fault: &Fault) -> bool {
        let n = self.stations.len();
        let timed = fault.at.is_finite()
            && fault.at >= 0.0
            && fault.lasts.mean() > 0.0
            && fault.every.as_ref().is_none_or(|d| d.mean() > 0.0);
        let effect = match &fault.effect {
            Effect::Crash { detect, targets } => {
                detect.is_finite()
                    && *detect >= 0.0
                    && targets.iter().all(|(b, t)| {
                        b.idx() < n
                            && self.stations[b.idx()]
                                .dispatch()
                                .is_some_and(|d| (*t as usize) < d.targets.len())
                    })
            }
            Effect::Slow { factor } => factor.is_finite() && *factor > 0.0,
            Effect::Errors { probability } => (0.0..=1.0).contains(probability),
        };
        timed && effect && !fault.stations.is_empty() && fault.stations.iter().all(|s| s.idx() < n)
    }

    fn autoscaler_ok(&self, a: &Autoscaler) -> bool {
        let n = self.stations.len();
        let positive = |x: f64| x.is_finite() && x > 0.0;
        let delay = |x: f64| x.is_finite() && x >= 0.0;
        let entry_ok = |&(b, t): &(StationId, u32)| {
            b.idx() < n
                && self.stations[b.idx()]
                    .dispatch()
                    .is_some_and(|d| (t as usize) < d.targets.len())
        };
        let replicas_ok = a
            .replicas
            .iter()
            .all(|r| r.cpu.idx() < n && r.head.idx() < n && r.targets.iter().all(entry_ok));
        let queues_ok = a.queues.iter().all(|q| {
            q.idx() < n
                && self.stations[q.idx()].admission.is_some()
                && self.stations[q.idx()].dispatch().is_some()
        });
        let most = a.replicas.len() as u32;
        replicas_ok
            && queues_ok
            && a.min >= 1
            && a.min <= a.initial
            && a.initial <= most
            && positive(a.target)
            && positive(a.interval)
            && positive(a.tolerance)
            && delay(a.provision)
            && delay(a.warmup)
            && delay(a.scale_in_after)
    }
}
