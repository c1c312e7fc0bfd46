//! Calls: a stack of frames per request, replies, failures unwound to a
//! frame, and cancellation.
//!
//! A call point pushes a frame on the calling request's stack. A single call
//! sends the request itself, which pops the frame when the callee's routing
//! would have it leave; a parallel call forks one request per target, each
//! [`FORKED`] with a [`FrameRef`] to the frame awaiting it, so that a reply
//! to a frame that has since been popped (its call answered by the others,
//! or failed) is recognised as stale and dropped.
//!
//! Every slot a request holds is tagged with its call depth when taken, so
//! unwinding to a frame gives back exactly the slots its callee took and
//! keeps the caller's ([`Engine::unwind`]). A failure today unwinds the whole
//! stack; a timeout or a retry will unwind to the frame that handles it.

use super::Engine;
use super::request::{DETACHED, FORKED, Frame, NONE};
use super::station::Role;

/// Why a request ends without completing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// A full station turned it away.
    Dropped,
    /// A callee replied with an error.
    Error,
}

impl Engine {
    /// The call depth of request `req`: frames on its stack.
    #[inline]
    pub(super) fn depth(&self, req: u32) -> u32 {
        match self.requests[req].top {
            NONE => 0,
            top => self.frames[top].depth,
        }
    }

    /// `req` reaches call point `si` (holding its slot, if any): it calls the
    /// targets and waits, or passes on if the call is not made.
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
        let (n, wait, brings) = (c.targets.len(), c.wait, c.work);
        if wait == 0 {
            self.send(req, si, n);
            return;
        }
        // Calls in progress count as present and in service, so that the
        // time-averaged number present is the number of callers waiting.
        station.advance(now);
        station.n += 1;
        station.busy += 1;
        let depth = self.depth(req) + 1;
        let r = &mut self.requests[req];
        r.station = si as u32;
        let frame = self.frames.insert(Frame {
            below: r.top,
            station: si as u32,
            owner: req,
            awaiting: wait,
            started: now,
            depth,
            generation: 0,
        });
        r.top = frame.index;
        if n == 1 {
            // A single call: the request itself goes.
            r.brings = brings;
            let target = self.call_target(si, 0);
            self.arrive(req, target as usize);
            return;
        }
        // A fork: one new request per target, each replying to the frame.
        let born = r.born;
        for k in 0..n {
            let target = self.call_target(si, k);
            let child = self.requests.alloc(class, target, born, FORKED);
            self.requests.cold(child).join = frame;
            self.requests[child].brings = brings;
            self.arrive(child, target as usize);
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
    fn send(&mut self, req: u32, si: usize, n: usize) {
        let (class, born) = {
            let r = &self.requests[req];
            (r.class, r.born)
        };
        let refused = self.refused;
        for k in 0..n {
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
            let join = self.requests.cold(req).join;
            self.discard(req);
            if self.frames.is_live(join) {
                let f = &mut self.frames[join.index];
                f.awaiting -= 1;
                if f.awaiting == 0 {
                    let owner = f.owner;
                    self.resume(owner);
                }
            }
        }
    }

    /// Pops the frame on top of `req`'s stack: the call at its call point
    /// is over (answered, failed or abandoned).
    fn pop_frame(&mut self, req: u32) -> Frame {
        let top = self.requests[req].top;
        let f = self.frames[top];
        self.frames.remove(top);
        self.requests[req].top = f.below;
        let station = &mut self.stations[f.station as usize];
        station.advance(self.now);
        station.n -= 1;
        station.busy -= 1;
        f
    }

    /// The call on top of `req`'s stack has its replies: `req` goes on from
    /// the call point, unless the reply is an error.
    fn resume(&mut self, req: u32) {
        let f = self.pop_frame(req);
        let si = f.station as usize;
        let station = &mut self.stations[si];
        station.stats.departures += 1;
        station.stats.response_sum += (self.now - f.started) as f64;
        self.route(req, si);
    }

    /// Unwinds `req`'s stack down to the frame `to` (which stays on top), or
    /// entirely when `to` is [`NONE`]: the calls above it are abandoned and
    /// the slots their callees took are given back, newest first; the
    /// slots taken below it (the caller's) stay held.
    pub(super) fn unwind(&mut self, req: u32, to: u32) {
        while self.requests[req].top != to && self.requests[req].top != NONE {
            self.pop_frame(req);
        }
        let keep_below = match to {
            NONE => 0,
            f => self.frames[f].depth,
        };
        while let h = self.requests[req].holds
            && h != NONE
            && self.holds[h].depth >= keep_below
        {
            let owner = self.holds[h].owner;
            self.give_back(req, owner as usize);
        }
    }

    /// `req` fails: its calls are abandoned, its slots given back; a forked
    /// request fails the call that awaits it, a message counts as refused,
    /// a request from outside counts as dropped or failed for its class.
    pub(super) fn fail(&mut self, req: u32, failure: Failure) {
        self.unwind(req, NONE);
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
                let owner = self.frames[join.index].owner;
                self.fail(owner, failure);
            }
            return;
        }
        let stats = &mut self.classes[r.class as usize].stats;
        match failure {
            Failure::Dropped => stats.dropped += 1,
            Failure::Error => stats.failed += 1,
        }
        self.release(req);
    }

    /// Takes `req` out of the station where it waits or is served (its
    /// queue, its servers, its processor sharing, or an admission pool's
    /// line), cancelling its pending departure, as a timeout or a crash
    /// does; it holds its slots and frames still, for its caller to unwind
    /// or fail. Returns false, changing nothing, where it cannot be
    /// withdrawn: suspended at a call point (withdraw its callee instead).
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "cancellation is tested now and used by timeouts and crashes next"
        )
    )]
    pub(super) fn withdraw(&mut self, req: u32) -> bool {
        let now = self.now;
        let si = self.requests[req].station as usize;
        let station = &mut self.stations[si];
        if let Some(pool) = station.pool.as_mut()
            && pool.withdraw(req, now, &mut station.stats)
        {
            return true;
        }
        if !matches!(station.role, Role::Queue) {
            return false;
        }
        station.advance(now);
        if station.is_ps {
            let before = station.ps.jobs.len();
            station.ps_update(now);
            station.ps.jobs.retain(|j| j.req != req);
            if station.ps.jobs.len() == before {
                return false;
            }
            station.n -= 1;
            station.busy = station.n.min(station.servers);
            self.requests.reissue(req);
            self.ps_reschedule(si);
        } else if station.queue.remove(req) {
            station.n -= 1;
        } else {
            // In service: its departure is cancelled, its server goes on.
            station.n -= 1;
            self.requests.reissue(req);
            match station.queue.pop() {
                Some(next) => self.start_service(next, si),
                None => station.busy -= 1,
            }
        }
        true
    }
}
