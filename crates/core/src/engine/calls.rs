//! Calls: a stack of frames per request, replies, timeouts, retries,
//! failures handled by the nearest call that can, and cancellation.
//!
//! A call point pushes a frame on the calling request's stack. A single call
//! without a timeout or retry policy sends the request itself, which pops
//! the frame when the callee's routing would have it leave. Any other call
//! (parallel, or with a timeout or a retry policy) *forks*: each attempt
//! sends one new request per target, each [`FORKED`] with a [`FrameRef`] to
//! the frame awaiting it, so that a reply to a frame that has since been
//! popped or reissued (its call answered by the others, failed, timed out,
//! or retried) is recognised as stale, counted as late and dropped. Only
//! the top frame of a stack can fork (the caller is suspended there), so
//! the frames below it are single calls its request travelled through.
//!
//! A failure (an error reply, a refusal, a timeout) goes to the nearest
//! call that can handle it: a forked request's failure goes to its frame,
//! whose retry policy may make another attempt after a backoff (the frame
//! reissued, so that the abandoned attempt's replies go stale), or fails the
//! caller, and so on up. The caller's own stack unwinds as a whole, since
//! its frames below the fork are single calls.
//!
//! Every slot a request holds is stamped when taken, and every frame when
//! pushed, from one counter: the caller is suspended while its call is on
//! the stack, so the slots stamped after a frame are exactly its callee's.
//! Unwinding to a frame gives those back and keeps the caller's
//! ([`Engine::unwind`]). Abandoning a call does not stop its forked
//! requests: they run on (orphaned work still costs capacity), unless they
//! carry a deadline that cancels them ([`Engine::set_deadline`]).

use super::Engine;
use super::event::Event;
use super::hedge::HedgeState;
use super::request::{At, DETACHED, EXPIRES, FORKED, Frame, FrameRef, KEYED, NONE, ORPHAN, TIMED};
use super::retry::Decision;
use super::station::Role;
use crate::model::{Cancel, Load};
use crate::time::{SimTime, nanos_from_f64};

/// Why a request ends without completing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// A full station turned it away.
    Dropped,
    /// A callee replied with an error.
    Error,
    /// A call timed out, or the request's deadline passed.
    Timeout,
    /// A rate limit or an open circuit breaker turned it away.
    Rejected,
}

impl Engine {
    /// `req` reaches call point `si` (holding its slot, if any): it calls the
    /// targets and waits, or passes on if the call is not made.
    #[cold]
    #[inline(never)]
    pub(super) fn call(&mut self, req: u32, si: usize) {
        let now = self.now;
        let class = self.requests[req].class;
        let station = &mut self.stations[si];
        station.stats.arrivals += 1;
        let Role::Call(c) = &mut station.role else {
            unreachable!("call is only called at call points");
        };
        let p = c.probability[class as usize];
        if p < 1.0 && (p <= 0.0 || c.stream.uniform() >= p) {
            // Not called this time: it passes on in zero time.
            station.stats.departures += 1;
            self.route(req, si);
            return;
        }
        let (wait, brings, forks) = (c.wait, c.work, c.forks);
        if wait == 0 {
            let n = c.draw();
            let all = n == c.targets.len();
            self.send(req, si, n, all);
            return;
        }
        // Calls in progress count as present and in service, so that the
        // time-averaged number present is the number of callers waiting.
        station.advance(now);
        station.n += 1;
        station.busy += 1;
        self.stamps += 1;
        let r = &mut self.requests[req];
        r.station = si as u32;
        r.at = At::Calling;
        let frame = self.frames.insert(Frame {
            below: r.top,
            station: si as u32,
            owner: req,
            awaiting: wait,
            started: now,
            attempt: 0,
            tried: now,
            backoff: 0.0,
            hedges: 0,
            deadline: u64::MAX,
            cancel: Cancel::Never,
            stamp: self.stamps,
            generation: 0,
        });
        r.top = frame.index;
        if !forks {
            // A single call: the request itself goes.
            r.brings = brings;
            let target = self.call_target(si, 0);
            self.arrive(req, target as usize);
            return;
        }
        self.attempt(frame);
    }

    /// Makes an attempt of the call `frame` (on top of its owner's stack),
    /// its first or, after a backoff (`Event::Retry`), another:
    /// one new request per target, each replying to the frame and carrying
    /// the deadline its callee must meet; the attempt's timeout and first
    /// hedge are set.
    #[cold]
    #[inline(never)]
    pub(super) fn attempt(&mut self, frame: FrameRef) {
        let now = self.now;
        let f = &self.frames[frame.index];
        let (si, owner) = (f.station as usize, f.owner);
        // The callees inherit the caller's deadline, or this attempt's if
        // it cancels and comes sooner.
        let (mut deadline, mut cancel) = if self.requests[owner].flags & EXPIRES != 0 {
            let cold = self.requests.cold(owner);
            (cold.deadline, cold.cancel)
        } else {
            (u64::MAX, Cancel::Never)
        };
        let station = &mut self.stations[si];
        let Role::Call(c) = &mut station.role else {
            unreachable!("frames are pushed at call points");
        };
        if let Some(b) = c.breaker.as_mut()
            && !b.allow(now)
        {
            // Open: refused at once, as the callee's error would be.
            station.stats.breaker_rejected += 1;
            self.retry_or_fail(frame, Failure::Rejected);
            return;
        }
        let (n, wait) = (c.draw(), c.wait);
        let all = n == c.targets.len();
        if let Some(t) = &c.timeout {
            let at = now.saturating_add(nanos_from_f64(t.after.sample(&mut c.timeout_stream)));
            self.events.push(SimTime(at), Event::Timeout { frame });
            if t.cancel != Cancel::Never && at < deadline {
                (deadline, cancel) = (at, t.cancel);
            }
        }
        if let Some(d) = c.hedge.as_ref().and_then(HedgeState::delay) {
            self.events
                .push(SimTime(now.saturating_add(d)), Event::Hedge { frame });
        }
        let f = &mut self.frames[frame.index];
        f.awaiting = wait;
        f.tried = now;
        f.hedges = 0;
        f.deadline = deadline;
        f.cancel = cancel;
        for i in 0..n {
            let k = if all { i } else { self.call_order(si, i) };
            self.send_copy(frame, k);
        }
    }

    /// Sends one request to the `k`-th target of the call `frame`, replying
    /// to it, with the attempt's deadline.
    fn send_copy(&mut self, frame: FrameRef, k: usize) {
        let f = self.frames[frame.index];
        let si = f.station as usize;
        let (class, born) = {
            let r = &self.requests[f.owner];
            (r.class, r.born)
        };
        let brings = match &self.stations[si].role {
            Role::Call(c) => c.work,
            _ => unreachable!("frames are pushed at call points"),
        };
        let target = self.call_target(si, k);
        let child = self.requests.alloc(class, target, born, FORKED);
        let cold = self.requests.cold(child);
        cold.join = frame;
        cold.from = si as u32;
        self.requests[child].brings = brings;
        if f.cancel != Cancel::Never {
            self.set_deadline(child, f.deadline, f.cancel);
        }
        self.arrive(child, target as usize);
    }

    /// The attempt of the call `frame` is slow: another copy goes, and the
    /// next hedge is set if the policy allows more.
    #[cold]
    #[inline(never)]
    pub(super) fn hedge(&mut self, frame: FrameRef) {
        let si = self.frames[frame.index].station as usize;
        let station = &mut self.stations[si];
        station.stats.hedges += 1;
        let Role::Call(c) = &station.role else {
            unreachable!("frames are pushed at call points");
        };
        let h = c.hedge.as_ref().expect("only hedged calls hedge");
        let (max, delay) = (h.max, h.delay());
        let f = &mut self.frames[frame.index];
        f.hedges += 1;
        if f.hedges < max
            && let Some(d) = delay
        {
            let at = self.now.saturating_add(d);
            self.events.push(SimTime(at), Event::Hedge { frame });
        }
        self.send_copy(frame, 0);
    }

    /// `req`'s work is dropped at `deadline` as `cancel` says; with
    /// `Cancel::Preempt`, an event takes it out then.
    pub(super) fn set_deadline(&mut self, req: u32, deadline: u64, cancel: Cancel) {
        self.requests[req].flags |= EXPIRES;
        let cold = self.requests.cold(req);
        cold.deadline = deadline;
        cold.cancel = cancel;
        if cancel == Cancel::Preempt {
            self.requests[req].flags |= TIMED;
            let handle = self.requests.handle(req);
            self.events
                .push(SimTime(deadline), Event::Expire { req: handle });
        }
    }

    /// The attempt in progress of the call `frame` timed out.
    #[cold]
    #[inline(never)]
    pub(super) fn time_out(&mut self, frame: FrameRef) {
        let si = self.frames[frame.index].station as usize;
        self.stations[si].stats.timeouts += 1;
        self.call_failed(frame, Failure::Timeout);
    }

    /// The attempt in progress of the call `frame` failed (an error, a
    /// refusal, a timeout): its breaker, if any, records the failure, then
    /// [`Engine::retry_or_fail`].
    #[cold]
    #[inline(never)]
    fn call_failed(&mut self, frame: FrameRef, failure: Failure) {
        let f = self.frames[frame.index];
        if let Role::Call(c) = &mut self.stations[f.station as usize].role
            && let Some(b) = c.breaker.as_mut()
        {
            b.record(self.now, true, self.now - f.tried);
        }
        self.retry_or_fail(frame, failure);
    }

    /// The attempt in progress of the call `frame` failed (or was refused
    /// by its breaker): its retry policy may make another after a backoff
    /// (the caller holding what it holds meanwhile), or the caller fails.
    /// Either way the attempt's requests are abandoned: their replies, to a
    /// frame made stale, are ignored.
    #[cold]
    #[inline(never)]
    fn retry_or_fail(&mut self, frame: FrameRef, failure: Failure) {
        let f = self.frames[frame.index];
        let si = f.station as usize;
        let station = &mut self.stations[si];
        let in_progress = station.n;
        if let Role::Call(c) = &mut station.role
            && let Some(retry) = c.retry.as_mut()
        {
            match retry.failed(
                failure == Failure::Timeout,
                f.attempt,
                in_progress,
                f.backoff,
            ) {
                Decision::After(wait) => {
                    if f.attempt == 0 {
                        retry.retrying += 1;
                    }
                    station.stats.retries += 1;
                    let next = self.frames.reissue(frame.index);
                    let f = &mut self.frames[frame.index];
                    f.attempt += 1;
                    f.backoff = wait;
                    let at = self.now.saturating_add(nanos_from_f64(wait));
                    self.events.push(SimTime(at), Event::Retry { frame: next });
                    return;
                }
                Decision::OverBudget => station.stats.retries_refused += 1,
                Decision::GiveUp => {}
            }
        }
        self.fail(f.owner, failure);
    }

    /// Request `req`'s deadline passed: a request from outside is given up
    /// by its client (it runs on unless cancelled, and is not counted again
    /// when it ends); with `cancel = preempt`, its work is taken out.
    #[cold]
    #[inline(never)]
    pub(super) fn expire(&mut self, req: u32) {
        let r = &mut self.requests[req];
        r.flags &= !TIMED;
        if r.flags & (FORKED | DETACHED | ORPHAN) == 0 {
            r.flags |= ORPHAN;
            let ci = r.class as usize;
            let class = &mut self.classes[ci];
            class.stats.timed_out += 1;
            if matches!(class.load, Load::Closed { .. }) {
                self.start_thinking(ci);
            }
        }
        if self.requests[req].flags & EXPIRES != 0
            && self.requests.cold(req).cancel == Cancel::Preempt
        {
            self.cancel(req);
        }
    }

    /// Takes `req` out wherever it is and frees it, with the slots it
    /// holds: its calls are abandoned (the requests it forked, which carry
    /// its deadline, are cancelled by their own).
    #[cold]
    #[inline(never)]
    fn cancel(&mut self, req: u32) {
        let si = self.requests[req].station as usize;
        if self.requests[req].at == At::Calling {
            self.unwind(req, None);
        } else {
            self.withdraw(req);
        }
        self.stations[si].stats.cancelled += 1;
        self.discard(req);
    }

    /// The index of the `i`-th target call point `si`'s attempt sends to
    /// when it sends to some of them (`CallState::draw`).
    fn call_order(&self, si: usize, i: usize) -> usize {
        match &self.stations[si].role {
            Role::Call(c) => c.order[i] as usize,
            _ => unreachable!("only call points have call targets"),
        }
    }

    /// Call point `si`'s `k`-th target.
    fn call_target(&self, si: usize, k: usize) -> u32 {
        match &self.stations[si].role {
            Role::Call(c) => c.targets[k],
            _ => unreachable!("only call points have call targets"),
        }
    }

    /// `req` sends one message to each of the call point's `n` targets and
    /// goes on at once, or fails if a target refuses its message.
    /// (`all`: to every target, else to the first `n` of its drawn order.)
    fn send(&mut self, req: u32, si: usize, n: usize, all: bool) {
        let (class, born) = {
            let r = &self.requests[req];
            (r.class, r.born)
        };
        let refused = self.refused;
        for i in 0..n {
            let k = if all { i } else { self.call_order(si, i) };
            let target = self.call_target(si, k);
            let message = self.requests.alloc(class, target, born, DETACHED);
            self.arrive(message, target as usize);
        }
        self.stations[si].stats.departures += 1;
        if self.refused != refused {
            self.fail(req, Failure::Dropped);
        } else {
            self.route(req, si);
        }
    }

    /// `req`, inside a call, is done with what it was sent to do: it returns
    /// to its caller, or replies to the call that forked it. Kept out of line
    /// so that `route`, which it calls back, stays inlined in the loop.
    #[cold]
    #[inline(never)]
    pub(super) fn leave_call(&mut self, req: u32) {
        let r = &self.requests[req];
        if r.top != NONE {
            self.resume(req);
        } else if r.flags & DETACHED != 0 {
            self.discard(req);
        } else {
            let (join, from) = {
                let cold = self.requests.cold(req);
                (cold.join, cold.from)
            };
            self.discard(req);
            if self.frames.is_live(join) {
                let f = &mut self.frames[join.index];
                f.awaiting -= 1;
                if f.awaiting == 0 {
                    let owner = f.owner;
                    self.resume(owner);
                }
            } else {
                self.stations[from as usize].stats.late_replies += 1;
            }
        }
    }

    /// Pops the frame on top of `req`'s stack: the call at its call point
    /// is over (answered, failed or abandoned).
    fn pop_frame(&mut self, req: u32) -> Frame {
        let top = self.requests[req].top;
        let f = self.frames[top];
        self.frames.remove(top);
        let r = &mut self.requests[req];
        r.top = f.below;
        r.at = At::Moving;
        let station = &mut self.stations[f.station as usize];
        station.advance(self.now);
        station.n -= 1;
        station.busy -= 1;
        if f.attempt > 0
            && let Role::Call(c) = &mut station.role
            && let Some(retry) = c.retry.as_mut()
        {
            retry.retrying -= 1;
        }
        f
    }

    /// The call on top of `req`'s stack has its replies: `req` goes on from
    /// the call point, unless the reply is an error.
    fn resume(&mut self, req: u32) {
        let f = self.pop_frame(req);
        let si = f.station as usize;
        if self.stations[si].down {
            self.reply_to_crashed(req, si);
            return;
        }
        let station = &mut self.stations[si];
        station.stats.departures += 1;
        station.stats.response_sum += (self.now - f.started) as f64;
        if let Role::Call(c) = &mut station.role {
            if let Some(retry) = c.retry.as_mut() {
                retry.succeeded();
            }
            if let Some(hedge) = c.hedge.as_mut() {
                hedge.record(self.now - f.started);
            }
            if let Some(b) = c.breaker.as_mut() {
                b.record(self.now, false, self.now - f.tried);
            }
        }
        self.route(req, si);
    }

    /// Unwinds `req`'s stack down to the frame `to` (which stays on top), or
    /// entirely when `to` is `None`: the calls above it are abandoned and
    /// the slots taken since it was pushed (its callee's) are given back,
    /// newest first; the slots taken before (the caller's) stay held.
    /// Returns false, changing nothing, when `to` is not a live frame of
    /// `req`'s stack.
    pub(super) fn unwind(&mut self, req: u32, to: Option<FrameRef>) -> bool {
        let (until, stamp) = match to {
            None => (NONE, 0),
            Some(f) => {
                let mut on_stack = self.requests[req].top;
                while on_stack != NONE && on_stack != f.index {
                    on_stack = self.frames[on_stack].below;
                }
                if on_stack == NONE || !self.frames.is_live(f) {
                    return false;
                }
                (f.index, self.frames[f.index].stamp)
            }
        };
        while self.requests[req].top != until {
            self.pop_frame(req);
        }
        if until != NONE {
            // Back at the call point, awaiting the call's outcome.
            self.requests[req].at = At::Calling;
        }
        // The slots are newest first: those taken since `to` lead the list.
        while let h = self.requests[req].holds
            && h != NONE
            && self.holds[h].stamp >= stamp
        {
            let owner = self.holds[h].owner;
            self.give_back(req, owner as usize);
        }
        true
    }

    /// `req` fails: its calls are abandoned, its slots given back; a forked
    /// request fails the call that awaits it, a message counts as refused,
    /// a request from outside counts as dropped or failed for its class.
    #[cold]
    #[inline(never)]
    pub(super) fn fail(&mut self, req: u32, failure: Failure) {
        if self.ejecting {
            self.judge(req, failure == Failure::Error);
        }
        self.unwind(req, None);
        let r = &self.requests[req];
        if r.flags & DETACHED != 0 {
            // A message refused or failed: nobody awaits it.
            self.refused += 1;
            self.discard(req);
            return;
        }
        if r.flags & FORKED != 0 {
            let join = self.requests.cold(req).join;
            self.discard(req);
            if self.frames.is_live(join) {
                self.call_failed(join, failure);
            }
            return;
        }
        if r.flags & ORPHAN != 0 {
            // Its client gave up on it already, and was told.
            self.discard(req);
            return;
        }
        let stats = &mut self.classes[r.class as usize].stats;
        match failure {
            Failure::Dropped => stats.dropped += 1,
            Failure::Error => stats.failed += 1,
            Failure::Timeout => stats.timed_out += 1,
            Failure::Rejected => stats.rejected += 1,
        }
        self.release(req);
    }

    /// Cancels `req`'s pending event (a departure, a token's wait); a
    /// pending deadline, cancelled with it, is armed again.
    fn reissue(&mut self, req: u32) {
        self.requests.reissue(req);
        if self.requests[req].flags & TIMED != 0 {
            let deadline = self.requests.cold(req).deadline;
            let handle = self.requests.handle(req);
            self.events
                .push(SimTime(deadline), Event::Expire { req: handle });
        }
    }

    /// Takes `req` out of the station where it waits or is served (an
    /// admission pool's line, its queue, its server, its processor
    /// sharing), cancelling its pending departure, as a timeout or a crash
    /// does; what it would have brought to that visit (a payload, a key) is
    /// dropped. It holds its slots and frames still, for its caller to unwind
    /// or fail. Returns false, changing nothing, where it is not at a station:
    /// suspended at a call point (withdraw its callee instead) or between
    /// stations.
    pub(super) fn withdraw(&mut self, req: u32) -> bool {
        let now = self.now;
        let r = &self.requests[req];
        let (si, at) = (r.station as usize, r.at);
        let station = &mut self.stations[si];
        match at {
            At::Moving | At::Calling => return false,
            At::Throttled | At::Shaped => {
                // Its `Admit` is cancelled (and its deadline re-armed).
                station.throttled -= 1;
                self.reissue(req);
            }
            At::Waiting => {
                let pool = station
                    .pool
                    .as_mut()
                    .expect("a request waits in a pool's line");
                let found = pool.withdraw(req, now, &mut station.stats);
                debug_assert!(found, "a waiting request is in its pool's line");
            }
            At::Queued => {
                station.advance(now);
                let found = station.queue.remove(req);
                debug_assert!(found, "a queued request is in its station's line");
                station.n -= 1;
            }
            At::Served => {
                // Its departure is cancelled (and its deadline, re-armed
                // below); its server takes the next.
                station.advance(now);
                station.n -= 1;
                self.reissue(req);
                self.serve_next(si);
            }
            At::Sharing => {
                station.advance(now);
                station.ps_update(now);
                station.ps.jobs.retain(|j| j.req != req);
                station.n -= 1;
                station.busy = station.n.min(station.servers);
                self.ps_reschedule(si);
            }
        }
        let r = &mut self.requests[req];
        r.at = At::Moving;
        r.brings = -1.0;
        r.flags &= !KEYED;
        true
    }
}
