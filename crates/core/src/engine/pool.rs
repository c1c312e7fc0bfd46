//! Admission pools: a limited number of slots (worker threads, connections,
//! a queue's buffer) taken on entering a station and given back after a
//! visit at one of its release stations, with a FIFO line of requests
//! waiting for one. A pool's slots may be connections, opened on demand.
//!
//! The pool decides; `flow.rs` moves the requests. Which slots a request
//! holds is a list per request, newest first, each slot stamped when taken
//! (see `calls.rs`), so that unwinding a call gives back exactly the slots
//! taken while it was on the stack: its callee's.

use std::collections::VecDeque;

use super::slab::Generation;
use crate::model::Admission;
use crate::stats::StationStats;

/// An admission pool's state: free slots and the requests waiting for one.
pub(super) struct Pool {
    pub(super) slots: u32,
    pub(super) free: u32,
    /// Most requests waiting.
    limit: usize,
    pub(super) waiting: VecDeque<u32>,
    /// Last time its areas were brought up to date.
    pub(super) last: u64,
    /// For a pool of connections: how they are opened and kept.
    connections: Option<Connections>,
    /// Slots taken away while held: each is retired when given back.
    owed: u32,
}

/// What a request asking for a slot gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admit {
    /// A slot, now.
    Taken,
    /// A place in the line.
    Waits,
    /// Neither: the line is full.
    Refused,
}

/// A connection pool's idle connections.
struct Connections {
    /// Work to open one.
    connect: f64,
    idle_timeout: u64,
    reuse: bool,
    /// When each idle connection was released, most recent last.
    idle: Vec<u64>,
}

impl Pool {
    pub(super) fn new(spec: &Admission) -> Pool {
        Pool {
            slots: spec.slots,
            free: spec.slots,
            limit: spec.waiting_limit.map_or(usize::MAX, |l| l as usize),
            waiting: VecDeque::new(),
            last: 0,
            connections: spec.connections.map(|c| Connections {
                connect: c.connect,
                idle_timeout: c.idle_timeout.map_or(u64::MAX, |t| t.0),
                reuse: c.reuse,
                idle: Vec::new(),
            }),
            owed: 0,
        }
    }

    /// Slots held.
    pub(super) fn held(&self) -> u32 {
        self.slots - self.free
    }

    /// Slots held and requests waiting for one.
    pub(super) fn load(&self) -> u32 {
        self.held() + self.waiting.len() as u32
    }

    /// Adds the slot areas since the last change, up to `now`.
    pub(super) fn advance(&mut self, now: u64, stats: &mut StationStats) {
        let dt = (now - self.last) as f64;
        stats.slots_area += f64::from(self.held()) * dt;
        stats.slot_queue_area += self.waiting.len() as f64 * dt;
        self.last = now;
    }

    /// `req` asks for a slot at `now`.
    pub(super) fn admit(&mut self, req: u32, now: u64, stats: &mut StationStats) -> Admit {
        self.advance(now, stats);
        stats.asked += 1;
        if self.free == 0 {
            if self.waiting.len() >= self.limit {
                return Admit::Refused;
            }
            self.waiting.push_back(req);
            return Admit::Waits;
        }
        self.free -= 1;
        stats.admitted += 1;
        Admit::Taken
    }

    /// A slot comes back at `now`: the request waiting longest (or, with
    /// `newest`, the newest) takes it and is returned, or it is free.
    pub(super) fn release(
        &mut self,
        now: u64,
        stats: &mut StationStats,
        newest: bool,
    ) -> Option<u32> {
        self.advance(now, stats);
        if self.owed > 0 {
            // Taken away: retired, not handed on.
            self.owed -= 1;
            self.slots -= 1;
            return None;
        }
        if let Some(c) = self.connections.as_mut()
            && c.reuse
        {
            c.idle.push(now);
        }
        let next = if newest {
            self.waiting.pop_back()
        } else {
            self.waiting.pop_front()
        };
        match next {
            Some(next) => {
                stats.admitted += 1;
                Some(next)
            }
            None => {
                self.free += 1;
                None
            }
        }
    }

    /// `k` slots more at `now`: slots taken away but still held are kept
    /// first; the number returned are new, held by nobody yet, each to be
    /// handed on as if given back (to the requests waiting).
    pub(super) fn grow(&mut self, k: u32, now: u64, stats: &mut StationStats) -> u32 {
        self.advance(now, stats);
        let kept = k.min(self.owed);
        self.owed -= kept;
        self.slots += k - kept;
        k - kept
    }

    /// `k` slots fewer at `now` (never below one): free ones go at once,
    /// held ones when given back.
    pub(super) fn shrink(&mut self, k: u32, now: u64, stats: &mut StationStats) {
        self.advance(now, stats);
        let k = k.min(self.slots - self.owed - 1);
        let free = k.min(self.free);
        self.free -= free;
        self.slots -= free;
        self.owed += k - free;
    }

    /// The request waiting longest, taken out of the line at `now` (to be
    /// dropped).
    pub(super) fn take_oldest(&mut self, now: u64, stats: &mut StationStats) -> Option<u32> {
        self.advance(now, stats);
        self.waiting.pop_front()
    }

    /// Takes `req` out of the line, if it waits there.
    pub(super) fn withdraw(&mut self, req: u32, now: u64, stats: &mut StationStats) -> bool {
        match self.waiting.iter().position(|&r| r == req) {
            Some(i) => {
                self.advance(now, stats);
                self.waiting.remove(i);
                true
            }
            None => false,
        }
    }

    /// For a slot taken at `now`: the work of opening its connection when
    /// it must be opened (none idle and still open), else `None`. The most
    /// recently released idle connection is reused; connections idle longer
    /// than the timeout are closed (all of those below one that is: they
    /// are older).
    pub(super) fn handshake(&mut self, now: u64) -> Option<f64> {
        let c = self.connections.as_mut()?;
        let reused = match c.idle.pop() {
            Some(released) if now - released <= c.idle_timeout => true,
            Some(_) => {
                c.idle.clear();
                false
            }
            None => false,
        };
        (!reused).then_some(c.connect)
    }
}

/// One admission slot a request holds, in a linked list per request.
#[derive(Clone, Copy, Debug)]
pub(super) struct Hold {
    /// The station whose pool the slot belongs to.
    pub(super) owner: u32,
    /// The next (older) slot the request holds.
    pub(super) next: u32,
    /// The engine's call stamp when it was taken (see [`super::request::Frame::stamp`]).
    pub(super) stamp: u64,
    generation: u32,
}

impl Hold {
    pub(super) fn new(owner: u32, next: u32, stamp: u64) -> Hold {
        Hold {
            owner,
            next,
            stamp,
            generation: 0,
        }
    }
}

impl Generation for Hold {
    fn generation(&self) -> u32 {
        self.generation
    }
    fn set_generation(&mut self, generation: u32) {
        self.generation = generation;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StationId;

    /// An autoscaler's queue loses a replica's workers while they are
    /// busy: each is retired when given back, not handed to the line; new
    /// slots are first those not yet retired.
    #[test]
    fn slots_taken_away_while_held_are_retired_when_given_back() {
        let mut pool = Pool::new(&Admission::new(3, StationId(0)));
        let mut stats = StationStats::default();
        for req in 0..3 {
            assert_eq!(pool.admit(req, 0, &mut stats), Admit::Taken);
        }
        assert_eq!(pool.admit(3, 0, &mut stats), Admit::Waits);
        pool.shrink(2, 1, &mut stats);
        assert_eq!((pool.slots, pool.held()), (3, 3));
        assert_eq!(pool.release(2, &mut stats, false), None);
        assert_eq!((pool.slots, pool.held()), (2, 2));
        // One of the two still owed comes back as a slot at once.
        assert_eq!(pool.grow(1, 3, &mut stats), 0);
        assert_eq!(pool.release(4, &mut stats, false), Some(3));
        assert_eq!((pool.slots, pool.held()), (2, 2));
        // New slots are held by nobody until handed on.
        assert_eq!(pool.grow(2, 5, &mut stats), 2);
        assert_eq!(pool.release(5, &mut stats, false), None);
        assert_eq!(pool.release(5, &mut stats, false), None);
        assert_eq!((pool.slots, pool.free), (4, 2));
        // Never below one slot.
        pool.shrink(10, 6, &mut stats);
        assert_eq!((pool.slots, pool.free, pool.held()), (2, 0, 2));
        assert_eq!(pool.release(7, &mut stats, false), None);
        assert_eq!(pool.release(7, &mut stats, false), None);
        assert_eq!((pool.slots, pool.free), (1, 1));
    }
}
