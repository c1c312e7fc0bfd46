//! How a request moves: it arrives at a station, is admitted, dispatched,
//! calls or enters; it is served, departs, and is routed on, completes or
//! fails. This is the only place that decides what a station's role does to
//! an arriving request, and that runs the mechanisms' hooks, in this order:
//!
//! | when | order | hook (flag) | what it may do |
//! | --- | --- | --- | --- |
//! | arrival from outside | 0 | the class's deadline and rate limit (`GATED` on the request; its entry has `SPECIAL_ARRIVAL`) | arm the deadline (`Expire` event); pass, wait for a token (`Admit` event), or refuse (rejected) |
//! | arrival | – | down (a crash: `SPECIAL_ARRIVAL` while it lasts) | refuse at once (an error; counted against the fault) |
//! | arrival | 0 | the station's rate limit (`SPECIAL_ARRIVAL`) | pass, wait for a token (`Admit` event), or refuse (rejected) |
//! | arrival | 1 | admission pool (`SPECIAL_ARRIVAL`) | take a slot, or queue for one, or refuse (drop) |
//! | arrival | 2 | role (`SPECIAL_ARRIVAL`) | balancer: pass on to a target at once (or drop if all are down; a router by key: to the shard of the request's key, carried or drawn, which it carries on); call point: call |
//! | arrival | 3 | enter | capacity check (drop), then a server, the waiting line or processor sharing |
//! | a server or slot frees | – | deadline (`EXPIRES`), CoDel (`SHEDDABLE` at a queue; a pool's line) | the next in line past its deadline (`cancel = at_dequeue`) or CoDel's timeout is dropped, and the next taken |
//! | entering PS | – | garbage collection (`ALLOCATES`) | allocate; a full heap pauses the station |
//! | after a visit | 0 | waste (`WASTES`: a FIFO station where requests nobody awaits may be served) | count the visit's service as wasted if its client gave up or its call is over |
//! | after a visit | 1 | error (`FAILS`) | fail the request (stops here), counted against an `errors` fault under way |
//! | after a visit | 2 | release (`RELEASES`) | give back the slots released here, newest first (admitting waiting requests at once) |
//! | after a visit | 3 | replication (`REPLICATES`) | record a write at the leader, or a (stale) read at a follower |
//! | after a visit | 4 | cache lookup (`LOOKUP`) | a hit routes on; a miss or a write goes to the backing store (stops here) |
//! | after a visit | 5 | routing | the class's next station, or leave: complete, or return from a call |
//! | a request ends (completes, replies, fails) | – | outlier ejection (`ejecting`, and the request's cold `via`) | credit the outcome to the balancer it last passed, which may eject the target |
//!
//! Zero-time consequences run depth first, in the order they arise (a slot
//! given back admits the next waiting request before the request that gave
//! it back moves on). Every figure depends on this order: change it only
//! with a reason and re-run the goldens.

use super::Engine;
use super::calls::Failure;
use super::event::Event;
use super::pool::{Admit, Hold};
use super::request::{At, DETACHED, EXPIRES, FORKED, GATED, KEYED, NONE, ORPHAN, SHEDDABLE, TIMED};
use super::station::{Role, flag};
use crate::model::{Cancel, Load, Op, WritePolicy};
use crate::time::{SimTime, nanos_from_f64};

use super::cache::Outcome;
use super::limit::Take;

impl Engine {
    /// A new request of class `ci` arrives from outside.
    pub(super) fn new_request(&mut self, ci: usize) {
        let class = &mut self.classes[ci];
        class.stats.arrived += 1;
        let entry = class.entry;
        let req = self
            .requests
            .alloc(ci as u32, entry, self.now, class.birth_flags);
        self.arrive(req, entry as usize);
    }

    /// `req`, just arrived from outside ([`GATED`]), gets its class's
    /// deadline and passes its class's rate limit before its entry: at
    /// once, after a wait, or rejected.
    #[cold]
    #[inline(never)]
    fn new_gated(&mut self, req: u32) {
        self.requests[req].flags &= !GATED;
        let ci = self.requests[req].class as usize;
        if self.classes[ci].deadline.is_some() {
            self.arm_deadline(req, ci);
        }
        let now = self.now;
        let class = &mut self.classes[ci];
        let entry = class.entry as usize;
        let Some(limit) = class.limit.as_mut() else {
            self.arrive(req, entry);
            return;
        };
        match limit.take(now) {
            Take::Now => self.arrive(req, entry),
            Take::At(at) => {
                self.requests[req].at = At::Shaped;
                self.stations[entry].throttled += 1;
                let handle = self.requests.handle(req);
                self.events.push(SimTime(at), Event::Admit { req: handle });
            }
            Take::Refused => self.fail(req, Failure::Rejected),
        }
    }

    /// `req`, delayed by a rate limit, has its token: it goes on.
    #[cold]
    #[inline(never)]
    pub(super) fn admit_delayed(&mut self, req: u32) {
        let r = &mut self.requests[req];
        let at = std::mem::replace(&mut r.at, At::Moving);
        self.stations[r.station as usize].throttled -= 1;
        match at {
            At::Shaped => {
                let entry = self.classes[r.class as usize].entry;
                self.arrive(req, entry as usize);
            }
            At::Throttled => {
                let si = r.station as usize;
                self.past_limit(req, si);
            }
            _ => unreachable!("only requests waiting for a token are admitted"),
        }
    }

    /// `req`, just arrived from outside, gets its class's deadline: its
    /// client gives up then (an `Expire` event), and its work is dropped
    /// past it if the deadline cancels.
    #[cold]
    #[inline(never)]
    fn arm_deadline(&mut self, req: u32, ci: usize) {
        let class = &mut self.classes[ci];
        let Some(d) = &class.deadline else {
            return;
        };
        let after = d.after.sample(&mut class.deadline_stream);
        let at = self.now.saturating_add(nanos_from_f64(after));
        let cancel = d.cancel;
        let handle = self.requests.handle(req);
        self.events.push(SimTime(at), Event::Expire { req: handle });
        let r = &mut self.requests[req];
        r.flags |= TIMED;
        // Its work is dropped past it too (preempted by that same event).
        if cancel != Cancel::Never {
            r.flags |= EXPIRES;
        }
        let cold = self.requests.cold(req);
        cold.deadline = at;
        cold.cancel = cancel;
    }

    /// `req` arrives at station `si`.
    #[inline]
    pub(super) fn arrive(&mut self, req: u32, si: usize) {
        if self.flags[si] & flag::SPECIAL_ARRIVAL == 0 {
            self.enter(req, si);
        } else {
            self.arrive_special(req, si);
        }
    }

    /// An arrival at a load balancer, a call point or a station with an
    /// admission pool or a rate limit: first the rate limit, then the pool.
    fn arrive_special(&mut self, req: u32, si: usize) {
        if self.requests[req].flags & GATED != 0 {
            self.new_gated(req);
            return;
        }
        if self.stations[si].down {
            self.refuse_down(req, si);
            return;
        }
        let now = self.now;
        let station = &mut self.stations[si];
        if let Some(shed) = station.shed.as_mut() {
            let empty = match &station.pool {
                Some(p) => p.waiting.is_empty(),
                None => station.queue.is_empty(),
            };
            shed.arriving(now, empty);
            if station.pool.is_none() {
                // Judged when a server would take it (CoDel, adaptive LIFO).
                self.requests[req].flags |= SHEDDABLE;
            }
        }
        if let Some(limit) = self.stations[si].limit.as_mut() {
            let now = self.now;
            match limit.take(now) {
                Take::Now => {}
                Take::At(at) => {
                    let station = &mut self.stations[si];
                    station.throttled += 1;
                    station.stats.delayed += 1;
                    station.stats.delay_sum += (at - now) as f64;
                    let r = &mut self.requests[req];
                    r.station = si as u32;
                    r.at = At::Throttled;
                    let handle = self.requests.handle(req);
                    self.events.push(SimTime(at), Event::Admit { req: handle });
                    return;
                }
                Take::Refused => {
                    self.stations[si].stats.limited += 1;
                    self.fail(req, Failure::Rejected);
                    return;
                }
            }
        }
        self.past_limit(req, si);
    }

    /// `req`, past `si`'s rate limit if it has one, asks its pool for a
    /// slot, if it has one, and goes on.
    fn past_limit(&mut self, req: u32, si: usize) {
        let now = self.now;
        if self.stations[si].pool.is_some() && !self.holds_slot(req, si as u32) {
            let station = &mut self.stations[si];
            let pool = station.pool.as_mut().expect("checked above");
            match pool.admit(req, now, &mut station.stats) {
                Admit::Refused => {
                    station.stats.dropped += 1;
                    self.fail(req, Failure::Dropped);
                    return;
                }
                Admit::Waits => {
                    let r = &mut self.requests[req];
                    r.station = si as u32;
                    r.at = At::Waiting;
                    self.requests.cold(req).since = now;
                    return;
                }
                Admit::Taken => self.take_slot(req, si),
            }
        }
        self.admitted(req, si);
    }

    /// `req`, holding whatever slot `si` requires, is dispatched by it (a
    /// load balancer), makes its call, or enters it.
    fn admitted(&mut self, req: u32, si: usize) {
        match &mut self.stations[si].role {
            Role::Queue => self.enter(req, si),
            Role::Call(_) => self.call(req, si),
            Role::Balancer(b) => {
                let routes = b.keys.is_some();
                let stats = &mut self.stations[si].stats;
                stats.arrivals += 1;
                stats.departures += 1;
                let target = if routes {
                    self.by_key(req, si)
                } else {
                    self.balance(si)
                };
                match target {
                    Some(target) => {
                        if self.ejecting {
                            self.note_via(req, si);
                        }
                        self.arrive(req, target as usize);
                    }
                    None => {
                        // Every target is down.
                        self.stations[si].stats.dropped += 1;
                        self.fail(req, Failure::Dropped);
                    }
                }
            }
        }
    }

    /// Balancer `si`'s choice of a target station for the request passing now.
    fn balance(&mut self, si: usize) -> Option<u32> {
        // Taken out for the duration of the choice, which reads the targets.
        let mut role = std::mem::replace(&mut self.stations[si].role, Role::Queue);
        let Role::Balancer(b) = &mut role else {
            unreachable!("balance is only called for balancers");
        };
        let stations = &self.stations;
        let target = b.pick(|t| stations[t as usize].load());
        self.stations[si].role = role;
        target
    }

    /// Router `si`'s shard for `req`, by the key it carries or one drawn
    /// now, which it carries on.
    #[cold]
    #[inline(never)]
    fn by_key(&mut self, req: u32, si: usize) -> Option<u32> {
        let carried = (self.requests[req].flags & KEYED != 0).then(|| self.requests.cold(req).key);
        let Role::Balancer(b) = &mut self.stations[si].role else {
            unreachable!("by_key is only called for balancers");
        };
        let (target, key) = b.route(carried);
        self.carry_key(req, key);
        target
    }

    /// Whether `req` holds a slot of station `owner`'s pool.
    fn holds_slot(&self, req: u32, owner: u32) -> bool {
        let mut h = self.requests[req].holds;
        while h != NONE {
            if self.holds[h].owner == owner {
                return true;
            }
            h = self.holds[h].next;
        }
        false
    }

    /// Records that `req` holds a slot of station `owner`; when the slot is
    /// a connection that must be opened, `req` pays the handshake in its
    /// work there.
    fn take_slot(&mut self, req: u32, owner: usize) {
        let now = self.now;
        let r = &mut self.requests[req];
        r.holds = self
            .holds
            .insert(Hold::new(owner as u32, r.holds, self.stamps))
            .index;
        let station = &mut self.stations[owner];
        if let Some(connect) = station.pool.as_mut().and_then(|p| p.handshake(now)) {
            station.stats.connects += 1;
            let lane = self.lanes[owner * self.n_classes + r.class as usize]
                .as_mut()
                .expect("validated: every reachable station has a lane");
            let work = lane.work(&mut r.brings);
            r.brings = work + connect;
        }
    }

    /// `req` gives back its slot at `owner`; the first request waiting for
    /// one takes it and is admitted.
    pub(super) fn give_back(&mut self, req: u32, owner: usize) {
        // Unlink the slot from the request's list.
        let mut prev = NONE;
        let mut h = self.requests[req].holds;
        while h != NONE && self.holds[h].owner != owner as u32 {
            prev = h;
            h = self.holds[h].next;
        }
        if h == NONE {
            return;
        }
        let next = self.holds[h].next;
        if prev == NONE {
            self.requests[req].holds = next;
        } else {
            self.holds[prev].next = next;
        }
        self.holds.remove(h);
        self.hand_on(owner);
    }

    /// A slot of `owner`'s pool comes back: the first request waiting for
    /// one (by the pool's order) takes it and is admitted, or it is free.
    pub(super) fn hand_on(&mut self, owner: usize) {
        let now = self.now;
        loop {
            let station = &mut self.stations[owner];
            let Some(pool) = station.pool.as_mut() else {
                return;
            };
            if let Some(timeout) = station.shed.as_ref().and_then(|s| s.timeout(now))
                && let Some(&oldest) = pool.waiting.front()
                && (now - self.requests.cold(oldest).since) as f64 > timeout
            {
                // Load shed: the oldest has waited too long.
                pool.take_oldest(now, &mut station.stats);
                station.stats.shed += 1;
                self.requests[oldest].at = At::Moving;
                self.fail(oldest, Failure::Dropped);
                continue;
            }
            let newest = station
                .shed
                .as_ref()
                .is_some_and(|s| s.newest_first(pool.waiting.len()));
            let Some(next) = pool.release(now, &mut station.stats, newest) else {
                return;
            };
            if self.requests.expired(next, now) {
                // Its deadline passed while it waited: dropped, and the
                // slot goes to the next in line.
                station.stats.admitted -= 1;
                station.stats.expired += 1;
                self.requests[next].at = At::Moving;
                self.fail(next, Failure::Timeout);
                continue;
            }
            station.stats.slot_wait_sum += (now - self.requests.cold(next).since) as f64;
            self.take_slot(next, owner);
            self.admitted(next, owner);
            return;
        }
    }

    /// Gives back the slots that are released after a visit at `si`.
    #[cold]
    fn give_back_released_at(&mut self, req: u32, si: usize) {
        // Newest slot first (the list is newest first): a replica's worker
        // before the queue slot that led to it, so that whoever the queue
        // admits next finds that worker free.
        loop {
            let mut h = self.requests[req].holds;
            let mut found = None;
            while h != NONE {
                let owner = self.holds[h].owner;
                if self.stations[si].releases.contains(&owner) {
                    found = Some(owner);
                    break;
                }
                h = self.holds[h].next;
            }
            match found {
                Some(owner) => self.give_back(req, owner as usize),
                None => break,
            }
        }
    }

    /// `req` enters station `si` (its slot, if any, already taken).
    #[inline]
    fn enter(&mut self, req: u32, si: usize) {
        let now = self.now;
        let ci = self.requests[req].class as usize;
        let station = &mut self.stations[si];
        station.advance(now);
        if station.n >= station.capacity {
            station.stats.dropped += 1;
            self.fail(req, Failure::Dropped);
            return;
        }
        station.stats.arrivals += 1;
        let r = &mut self.requests[req];
        r.station = si as u32;
        r.at_station = now;
        if station.is_ps {
            r.at = At::Sharing;
            station.ps_update(now);
            station.n += 1;
            station.busy = station.n.min(station.servers);
            let lane = self.lanes[si * self.n_classes + ci]
                .as_mut()
                .expect("validated: every reachable station has a lane");
            let work = lane.work(&mut r.brings);
            r.started = now;
            r.work = work;
            let ps = &mut station.ps;
            ps.seq += 1;
            ps.jobs.push(super::station::PsJob {
                finish: ps.vtime + work,
                seq: ps.seq,
                req,
            });
            if self.flags[si] & flag::ALLOCATES != 0 {
                self.allocate(si);
            }
            self.ps_reschedule(si);
        } else {
            station.n += 1;
            if station.busy < station.servers {
                station.busy += 1;
                self.start_service(req, si);
            } else {
                r.at = At::Queued;
                let rank = self.classes[ci].rank;
                station.queue.push(req, rank);
            }
        }
    }

    /// `req` takes a free server at station `si` (already counted as busy).
    #[inline]
    pub(super) fn start_service(&mut self, req: u32, si: usize) {
        let r = &mut self.requests[req];
        if r.flags & (EXPIRES | SHEDDABLE) != 0 {
            // It may be past its deadline (`cancel = at_dequeue`), or shed.
            // One look at the flags here, the rest out of line: this is
            // every visit's path.
            self.start_checked(req, si);
            return;
        }
        r.started = self.now;
        r.at = At::Served;
        let lane = self.lanes[si * self.n_classes + r.class as usize]
            .as_mut()
            .expect("validated: every reachable station has a lane");
        let work = nanos_from_f64(lane.work(&mut r.brings));
        let handle = self.requests.handle(req);
        self.events.push(
            SimTime(self.now.saturating_add(work)),
            Event::Departure { req: handle },
        );
    }

    /// `req`'s service at its station ends.
    pub(super) fn depart(&mut self, req: u32) {
        let now = self.now;
        // Its `at` stays `Served` for the instant it moves on: wherever it
        // goes next sets it again (or frees it) before any other event.
        let r = &self.requests[req];
        let si = r.station as usize;
        let station = &mut self.stations[si];
        station.advance(now);
        station.n -= 1;
        station.stats.departures += 1;
        station.stats.wait_sum += (r.started - r.at_station) as f64;
        station.stats.response_sum += (now - r.at_station) as f64;
        self.serve_next(si);
        self.route(req, si);
    }

    /// A server of station `si` is free (and still counted busy): it takes
    /// the next request in line.
    #[inline(always)]
    pub(super) fn serve_next(&mut self, si: usize) {
        let station = &mut self.stations[si];
        match station.queue.pop() {
            Some(next) => self.start_service(next, si),
            None => station.busy -= 1,
        }
    }

    /// `req`, carrying a deadline or queued at a station that sheds load,
    /// would take a free server of `si` (already counted busy): past its
    /// deadline it is dropped, or shed by CoDel, and the server takes the
    /// next in line instead (in a loop, not a recursion: a long line may
    /// be dropped at once).
    #[cold]
    #[inline(never)]
    fn start_checked(&mut self, mut req: u32, si: usize) {
        let now = self.now;
        // Adaptive LIFO: past its threshold, the newest goes instead (it
        // was taken from the front; `req` itself waited at least as long).
        let station = &mut self.stations[si];
        if self.requests[req].flags & SHEDDABLE != 0
            && let Some(shed) = &station.shed
            && shed.newest_first(station.queue.len() + 1)
        {
            req = station.queue.newest_instead(req);
        }
        loop {
            let r = &mut self.requests[req];
            let waited = (now - r.at_station) as f64;
            let shed = r.flags & SHEDDABLE != 0;
            r.flags &= !SHEDDABLE;
            let timeout = match &self.stations[si].shed {
                Some(s) if shed => s.timeout(now),
                _ => None,
            };
            if let Some(timeout) = timeout {
                self.shed_oldest(si, timeout);
            }
            let station = &mut self.stations[si];
            let failure = if self.requests.expired(req, now) {
                station.stats.expired += 1;
                Failure::Timeout
            } else if timeout.is_some_and(|t| waited > t) {
                station.stats.shed += 1;
                Failure::Dropped
            } else {
                break;
            };
            station.advance(now);
            station.n -= 1;
            self.requests[req].at = At::Moving;
            self.fail(req, failure);
            let station = &mut self.stations[si];
            let lifo = station
                .shed
                .as_ref()
                .is_some_and(|s| s.newest_first(station.queue.len()));
            let next = if lifo {
                station
                    .queue
                    .pop_oldest()
                    .map(|r| station.queue.newest_instead(r))
            } else {
                station.queue.pop()
            };
            match next {
                Some(next) => req = next,
                None => {
                    self.stations[si].busy -= 1;
                    return;
                }
            }
        }
        // In time: started as any other, its deadline kept for later.
        let expires = self.requests[req].flags & EXPIRES;
        self.requests[req].flags &= !EXPIRES;
        self.start_service(req, si);
        self.requests[req].flags |= expires;
    }

    /// Drops the requests at the front of `si`'s queue that have waited
    /// longer than `timeout` (CoDel, while a server takes another).
    fn shed_oldest(&mut self, si: usize, timeout: f64) {
        let now = self.now;
        while let Some(oldest) = self.stations[si].queue.oldest()
            && (now - self.requests[oldest].at_station) as f64 > timeout
        {
            let station = &mut self.stations[si];
            station.queue.pop_oldest();
            station.advance(now);
            station.n -= 1;
            station.stats.shed += 1;
            let r = &mut self.requests[oldest];
            r.flags &= !SHEDDABLE;
            r.at = At::Moving;
            self.fail(oldest, Failure::Dropped);
        }
    }

    /// At the end of a run, the work received so far by the processor-
    /// sharing jobs nobody awaits any more counts as wasted too: an
    /// overloaded station holds ever more of them, each partly served.
    /// (A FIFO server holds one request at a time: what it leaves out is
    /// at most one service per server.)
    pub(super) fn note_unfinished_waste(&mut self) {
        let now = self.now;
        for si in 0..self.stations.len() {
            if !self.stations[si].is_ps || self.stations[si].ps.jobs.is_empty() {
                continue;
            }
            self.stations[si].ps_update(now);
            let ps = &self.stations[si].ps;
            let (vtime, reset) = (ps.vtime, ps.vtime_at_reset);
            let jobs: Vec<(u32, f64)> = ps.jobs.iter().map(|j| (j.req, j.finish)).collect();
            for (req, finish) in jobs {
                if self.requests[req].flags & (FORKED | ORPHAN) != 0 {
                    // Its work received since measurement started.
                    let began = (finish - self.requests[req].work).max(reset);
                    self.note_waste(req, si, (vtime - began).max(0.0));
                }
            }
        }
    }

    /// `service` nanoseconds of work at `si` were done for `req`: wasted
    /// if nobody awaits its result any more (its client gave up, or the
    /// call that forked it is over).
    #[cold]
    #[inline(never)]
    fn note_waste(&mut self, req: u32, si: usize, service: f64) {
        let orphan = self.requests[req].flags & ORPHAN != 0 || {
            let join = self.requests.cold(req).join;
            !self.frames.is_live(join)
        };
        if orphan {
            self.stations[si].stats.wasted += service;
        }
    }

    /// The earliest job at processor-sharing station `si` is done.
    pub(super) fn ps_depart(&mut self, si: usize) {
        let now = self.now;
        let station = &mut self.stations[si];
        station.advance(now);
        station.ps_update(now);
        let job = station
            .ps
            .jobs
            .pop()
            .expect("a live PS departure event implies a job in service");
        station.n -= 1;
        station.busy = station.n.min(station.servers);
        let r = &self.requests[job.req];
        let response = (now - r.at_station) as f64;
        station.stats.departures += 1;
        station.stats.response_sum += response;
        station.stats.wait_sum += response - r.work;
        if r.flags & (FORKED | ORPHAN) != 0 {
            // The work it received since measurement started.
            let since = r.work.min(job.finish - station.ps.vtime_at_reset).max(0.0);
            self.note_waste(job.req, si, since);
        }
        self.ps_reschedule(si);
        self.route(job.req, si);
    }

    /// Schedules the next PS departure at station `si`, making the previous
    /// one stale; none while the station makes no progress.
    pub(super) fn ps_reschedule(&mut self, si: usize) {
        let now = self.now;
        let station = &mut self.stations[si];
        let rate = station.ps_rate();
        let ps = &mut station.ps;
        ps.generation = ps.generation.wrapping_add(1);
        if station.speed == 0.0 {
            return;
        }
        if let Some(top) = ps.jobs.peek() {
            // Rounded to the nearest nanosecond: the job popped at the event
            // is the heap's minimum whatever the rounding, and rounding (not
            // ceiling) keeps the reported PS wait (response − work) unbiased.
            let remaining = (top.finish - ps.vtime).max(0.0);
            let dt = nanos_from_f64(remaining / rate);
            let generation = ps.generation;
            self.events.push(
                SimTime(now.saturating_add(dt)),
                Event::PsDeparture {
                    station: si as u32,
                    generation,
                },
            );
        }
    }

    /// A request enters PS station `si`, whose heap is garbage-collected:
    /// it allocates, and may start a pause.
    #[cold]
    #[inline(never)]
    fn allocate(&mut self, si: usize) {
        let gc = self.stations[si]
            .gc
            .as_mut()
            .expect("ALLOCATES marks collected heaps");
        gc.allocate();
        if !gc.paused {
            self.collect_if_full(si);
        }
    }

    /// Starts a pause at `si` when its heap is full: the station stops
    /// (speed 0) until a `GcEnd` event.
    fn collect_if_full(&mut self, si: usize) {
        let now = self.now;
        let station = &self.stations[si];
        let gc = station.gc.as_ref().expect("only collected heaps collect");
        let in_flight = match gc.in_flight_at() {
            Some(pool) => self.stations[pool]
                .pool
                .as_ref()
                .map_or(station.n, |p| p.held()),
            None => station.n,
        };
        let station = &mut self.stations[si];
        let gc = station.gc.as_mut().expect("only collected heaps collect");
        let Some(pause) = gc.collect_if_full(in_flight) else {
            return;
        };
        gc.paused = true;
        station.ps_update(now);
        station.refresh_speed();
        station.stats.gc_pauses += 1;
        station.stats.gc_pause_sum += pause as f64;
        station.stats.gc_pause_max = station.stats.gc_pause_max.max(pause);
        self.events.push(
            SimTime(now.saturating_add(pause)),
            Event::GcEnd { station: si as u32 },
        );
    }

    /// A pause at `si` ends: its jobs go on, unless the heap is full again.
    #[cold]
    pub(super) fn gc_end(&mut self, si: usize) {
        let now = self.now;
        let station = &mut self.stations[si];
        station.ps_update(now);
        if let Some(gc) = station.gc.as_mut() {
            gc.paused = false;
        }
        station.refresh_speed();
        self.collect_if_full(si);
        self.ps_reschedule(si);
    }

    /// After a visit at `si`, sends `req` on or lets it leave.
    #[inline(always)]
    pub(super) fn route(&mut self, req: u32, si: usize) {
        if self.flags[si] & flag::AFTER_VISIT != 0 && self.after_visit(req, si) {
            return;
        }
        let ci = self.requests[req].class as usize;
        let lane = self.lanes[si * self.n_classes + ci]
            .as_mut()
            .expect("validated: every reachable station has a lane");
        match lane.route() {
            Some(next) => self.arrive(req, next as usize),
            None => {
                let r = &self.requests[req];
                if r.top == NONE && r.flags & (FORKED | DETACHED) == 0 {
                    self.complete(req);
                } else {
                    self.leave_call(req);
                }
            }
        }
    }

    /// The hooks after a visit at `si`, in the order of the table above:
    /// true when `req` failed there or was sent elsewhere.
    #[cold]
    #[inline(never)]
    fn after_visit(&mut self, req: u32, si: usize) -> bool {
        if self.flags[si] & flag::WASTES != 0 && self.requests[req].flags & (FORKED | ORPHAN) != 0 {
            // Its service here (measured time only), if nobody awaits it.
            let r = &self.requests[req];
            let service = self.now - r.started.max(self.measuring_since);
            self.note_waste(req, si, service as f64);
        }
        if self.flags[si] & flag::FAILS != 0 {
            let station = &mut self.stations[si];
            if station.fail_stream.uniform() < station.error {
                station.stats.errors += 1;
                if !self.faults.is_empty() {
                    self.fault_error(si);
                }
                self.fail(req, Failure::Error);
                return true;
            }
        }
        if self.flags[si] & flag::RELEASES != 0 {
            self.give_back_released_at(req, si);
        }
        if self.flags[si] & flag::REPLICATES != 0 {
            let r = &mut self.requests[req];
            let key = (r.flags & KEYED != 0).then(|| self.requests.cold(req).key);
            self.requests[req].flags &= !KEYED;
            self.replicate(si, key);
        }
        if self.flags[si] & flag::LOOKUP != 0 {
            let now = self.now;
            let r = &self.requests[req];
            let ci = r.class as usize;
            let carried = (r.flags & KEYED != 0).then(|| self.requests.cold(req).key);
            let c = self.stations[si]
                .cache
                .as_mut()
                .expect("the LOOKUP flag marks caches");
            let (outcome, key) = c.visit(c.ops[ci], now, carried);
            if outcome == Outcome::Backing {
                let backing = c.backing as usize;
                self.carry_key(req, key);
                self.arrive(req, backing);
                return true;
            }
            self.requests[req].flags &= !KEYED;
        }
        false
    }

    /// `req` carries `key` on ([`NONE`]: no key).
    fn carry_key(&mut self, req: u32, key: u32) {
        if key == NONE {
            self.requests[req].flags &= !KEYED;
        } else {
            self.requests[req].flags |= KEYED;
            self.requests.cold(req).key = key;
        }
    }

    /// A visit at `si`, a replicated database's leader (a write) or
    /// follower (a read, stale or not), of the request's `key` (or one drawn
    /// from the catalogue).
    fn replicate(&mut self, si: usize, key: Option<u32>) {
        let now = self.now;
        let station = &mut self.stations[si];
        let replica = station.replica.as_mut().expect("REPLICATES marks replicas");
        match replica.read_key(key) {
            None => {
                replica.write(now, key);
                station.stats.replicated_writes += 1;
            }
            Some((leader, key)) => {
                station.stats.replica_reads += 1;
                let stale = self.stations[leader as usize]
                    .replica
                    .as_ref()
                    .is_some_and(|l| l.stale(key, now));
                if stale {
                    self.stations[si].stats.stale_reads += 1;
                }
            }
        }
    }

    /// A write-back cache at `si` sends its oldest dirty entries to the
    /// backing store (the target of its first call point, or its backing
    /// station), one write each (messages nobody waits for), and plans its
    /// next flush.
    #[cold]
    pub(super) fn flush(&mut self, si: usize) {
        let now = self.now;
        let c = self.stations[si].cache.as_mut().expect("only caches flush");
        let WritePolicy::WriteBack { batch, interval } = c.write_policy else {
            return;
        };
        // The keys go through a buffer kept between flushes: no allocation.
        let mut keys = std::mem::take(&mut self.flushing);
        c.flush(batch, now, &mut keys);
        let backing = c.backing;
        // The writes are made as the first class that writes here.
        let class = c.ops.iter().position(|&op| op == Op::Write).unwrap_or(0) as u32;
        // Straight to the store (past the call point that reads wait at:
        // nobody waits for these).
        let backing = match &self.stations[backing as usize].role {
            Role::Call(call) => call.targets[0],
            _ => backing,
        };
        for &key in &keys {
            let write = self.requests.alloc(class, backing, now, DETACHED);
            self.carry_key(write, key);
            self.arrive(write, backing as usize);
        }
        self.flushing = keys;
        self.events.push(
            SimTime(now.saturating_add(interval.0)),
            Event::Flush { station: si as u32 },
        );
    }

    /// `req` leaves the system, done: in time, or late when its client
    /// gave up on it.
    fn complete(&mut self, req: u32) {
        let r = &self.requests[req];
        let ci = r.class as usize;
        if r.flags & ORPHAN != 0 {
            self.classes[ci].stats.late += 1;
            self.discard(req);
            return;
        }
        self.classes[ci].stats.record_latency(self.now - r.born);
        self.release(req);
    }

    /// Frees `req` and the slots it holds; a closed-class user goes back to
    /// thinking.
    pub(super) fn release(&mut self, req: u32) {
        let ci = self.requests[req].class as usize;
        self.discard(req);
        if matches!(self.classes[ci].load, Load::Closed { .. }) {
            self.start_thinking(ci);
        }
    }

    /// Frees `req` and the slots it holds.
    pub(super) fn discard(&mut self, req: u32) {
        if self.ejecting {
            self.judge(req, false);
        }
        while self.requests[req].holds != NONE {
            let owner = self.holds[self.requests[req].holds].owner;
            self.give_back(req, owner as usize);
        }
        self.requests.free(req);
    }
}

impl Engine {
    /// `req` passes balancer `si`, which ejects outliers: its outcome will
    /// be credited to the target just picked.
    #[cold]
    #[inline(never)]
    pub(super) fn note_via(&mut self, req: u32, si: usize) {
        let Role::Balancer(b) = &self.stations[si].role else {
            return;
        };
        if b.outlier.is_none() {
            return;
        }
        let target = b.picked() as u32;
        let cold = self.requests.cold(req);
        cold.via = si as u32;
        cold.via_target = target;
    }

    /// `req` ends, in an error or not: the balancer it was last sent
    /// through with outlier ejection learns it, and may eject its target.
    #[cold]
    #[inline(never)]
    pub(super) fn judge(&mut self, req: u32, error: bool) {
        let cold = self.requests.cold(req);
        let (si, target) = (cold.via, cold.via_target);
        if si == NONE {
            return;
        }
        cold.via = NONE;
        let now = self.now;
        let station = &mut self.stations[si as usize];
        let Role::Balancer(b) = &mut station.role else {
            return;
        };
        let Some(ejector) = b.outlier.as_mut() else {
            return;
        };
        if let Some(lasts) = ejector.outcome(target as usize, error) {
            b.set_up(target as usize, false);
            station.stats.ejections += 1;
            self.events.push(
                SimTime(now.saturating_add(lasts)),
                Event::Return {
                    station: si,
                    target,
                },
            );
        }
    }

    /// Balancer `si`'s ejected `target` takes requests again.
    #[cold]
    #[inline(never)]
    pub(super) fn outlier_returns(&mut self, si: usize, target: u32) {
        if let Role::Balancer(b) = &mut self.stations[si].role
            && let Some(ejector) = b.outlier.as_mut()
        {
            ejector.returned(target as usize);
            b.set_up(target as usize, true);
        }
    }
}
