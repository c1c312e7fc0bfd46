//! Requests: a hot record of at most 64 bytes (one cache line) read on every
//! visit, and cold side tables for what a few mechanisms need.
//!
//! A request's call stack is a list of [`Frame`]s (in their own slab, see
//! `calls.rs`). Requests live in a [`Slab`] and move between stations by
//! index. A [`ReqRef`] names a request *and its one pending event* (its
//! departure): freeing the request or cancelling that event bumps the
//! generation, and the event, when it pops, is ignored. A timer that must
//! outlive the request's moves (a call's timeout) names its frame
//! ([`FrameRef`]) instead. Where a request waits (a queue, a pool's line,
//! processor sharing) it is named by index, and taken out of there by
//! [`super::Engine::withdraw`], which [`At`] makes exact.

use super::slab::{Generation, Ref, Slab};
use crate::model::Cancel;

/// No slot, frame or request.
pub(super) const NONE: u32 = u32::MAX;

/// A handle on a request that goes stale when the request is freed or its
/// pending event cancelled.
pub(super) type ReqRef = Ref<Request>;

/// In [`Request::flags`]: a request forked by a parallel call; the frame
/// awaiting its reply is [`Cold::join`].
pub(super) const FORKED: u8 = 1;
/// In [`Request::flags`]: a message sent without awaiting a reply.
pub(super) const DETACHED: u8 = 2;
/// In [`Request::flags`]: it carries the key [`Cold::key`] (a cache's miss
/// or write on its way to a replicated database).
pub(super) const KEYED: u8 = 4;
/// In [`Request::flags`]: a request from outside whose client gave up on it
/// (its class's deadline passed): it runs on, wasted, and is not counted
/// again when it ends.
pub(super) const ORPHAN: u8 = 8;
/// In [`Request::flags`]: it carries a deadline past which its work is
/// dropped ([`Cold::deadline`], [`Cold::cancel`]).
pub(super) const EXPIRES: u8 = 16;
/// In [`Request::flags`]: an `Expire` event is pending for it, at
/// [`Cold::deadline`] (a client's deadline, or work to preempt); whoever
/// cancels its pending events re-arms it ([`super::Engine::withdraw`]).
pub(super) const TIMED: u8 = 32;
/// In [`Request::flags`]: it arrived at a station whose queue sheds load
/// (CoDel), which judges it when a server would take it.
pub(super) const SHEDDABLE: u8 = 64;
/// In [`Request::flags`]: a request from outside whose class has a deadline
/// or a rate limit, not applied yet: its entry station's arrival hook
/// (`SPECIAL_ARRIVAL`, set for it) applies them, so that a class without
/// either costs its arrivals nothing.
pub(super) const GATED: u8 = 128;

/// Where a request is, so that it can be taken out exactly
/// ([`super::Engine::withdraw`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum At {
    /// Between stations, within one instant (or just created).
    Moving,
    /// In an admission pool's line at [`Request::station`].
    Waiting,
    /// In the waiting line of [`Request::station`].
    Queued,
    /// Served at [`Request::station`], its departure pending.
    Served,
    /// Sharing the processors of [`Request::station`].
    Sharing,
    /// Suspended at a call point, awaiting replies.
    Calling,
    /// Waiting for a token of [`Request::station`]'s rate limit (an
    /// `Admit` event is pending).
    Throttled,
    /// Waiting for a token of its class's rate limit, before its entry
    /// (an `Admit` event is pending).
    Shaped,
}

/// What every visit reads and writes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Request {
    /// When the request entered the system.
    pub(super) born: u64,
    /// When it arrived at its current station.
    pub(super) at_station: u64,
    /// When its service started at its current station.
    pub(super) started: u64,
    /// Its work at its current station (processor sharing only), in nanoseconds.
    pub(super) work: f64,
    /// Work it brings to its next service instead of the station's own (a
    /// payload to transfer, a handshake), when not negative.
    pub(super) brings: f64,
    pub(super) generation: u32,
    pub(super) class: u32,
    pub(super) station: u32,
    /// Head of the list of admission slots it holds, newest first.
    pub(super) holds: u32,
    /// Top of its call stack.
    pub(super) top: u32,
    /// [`FORKED`], [`DETACHED`], [`KEYED`], [`ORPHAN`], [`EXPIRES`], [`TIMED`], [`SHEDDABLE`].
    pub(super) flags: u8,
    /// Where it is.
    pub(super) at: At,
}

const _: () = assert!(std::mem::size_of::<Request>() <= 64);

impl Generation for Request {
    #[inline]
    fn generation(&self) -> u32 {
        self.generation
    }
    #[inline]
    fn set_generation(&mut self, generation: u32) {
        self.generation = generation;
    }
}

/// What only some mechanisms read, beside the hot record; valid only where
/// the hot record's flags (or the mechanism's own state) say so.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cold {
    /// When it started waiting for an admission slot.
    pub(super) since: u64,
    /// For a [`FORKED`] request: the frame of the call awaiting its reply.
    pub(super) join: FrameRef,
    /// For a [`KEYED`] request: its key.
    pub(super) key: u32,
    /// For a [`FORKED`] request: the call point that forked it.
    pub(super) from: u32,
    /// For a request that [`EXPIRES`] or is [`TIMED`]: its deadline, and
    /// what is dropped then.
    pub(super) deadline: u64,
    pub(super) cancel: Cancel,
    /// The last balancer with outlier ejection it passed, and the target
    /// it was sent to ([`NONE`] if none): its outcome is credited there
    /// when it ends (and this is cleared then).
    pub(super) via: u32,
    pub(super) via_target: u32,
}

/// A handle on a frame: stale once the frame is popped.
pub(super) type FrameRef = Ref<Frame>;

/// A call in progress: on the caller's stack until the replies arrive.
#[derive(Clone, Copy, Debug)]
pub(super) struct Frame {
    /// The frame below, on the same stack.
    pub(super) below: u32,
    /// The call point.
    pub(super) station: u32,
    /// The calling request.
    pub(super) owner: u32,
    /// Replies still awaited.
    pub(super) awaiting: u32,
    /// When the call was made.
    pub(super) started: u64,
    /// Attempts made before the one in progress (retries so far).
    pub(super) attempt: u32,
    /// When the attempt in progress was made.
    pub(super) tried: u64,
    /// The last backoff waited, in nanoseconds (a decorrelated jitter's
    /// next wait depends on it).
    pub(super) backoff: f64,
    /// Extra copies sent of the attempt in progress (hedging).
    pub(super) hedges: u32,
    /// The deadline the attempt's requests carry, and what it cancels
    /// (`Cancel::Never`: none), for copies sent later.
    pub(super) deadline: u64,
    pub(super) cancel: Cancel,
    /// Its place in the order of the engine's calls: every slot the
    /// request takes while this call is on its stack (its callee's) has a
    /// stamp at least this; the slots taken before it have less.
    pub(super) stamp: u64,
    pub(super) generation: u32,
}

impl Generation for Frame {
    fn generation(&self) -> u32 {
        self.generation
    }
    fn set_generation(&mut self, generation: u32) {
        self.generation = generation;
    }
}

/// Every request in flight: hot records in a slab, cold ones beside them.
#[derive(Default)]
pub(super) struct Requests {
    hot: Slab<Request>,
    cold: Vec<Cold>,
}

impl Requests {
    /// A new request of `class` at `station`, born at `born`.
    #[inline]
    pub(super) fn alloc(&mut self, class: u32, station: u32, born: u64, flags: u8) -> u32 {
        let r = self.hot.insert(Request {
            born,
            at_station: 0,
            started: 0,
            work: 0.0,
            brings: -1.0,
            generation: 0,
            class,
            station,
            holds: NONE,
            top: NONE,
            flags,
            at: At::Moving,
        });
        if r.index as usize == self.cold.len() {
            self.cold.push(Cold {
                since: 0,
                join: FrameRef::new(NONE, 0),
                key: NONE,
                from: NONE,
                deadline: u64::MAX,
                cancel: Cancel::Never,
                via: NONE,
                via_target: NONE,
            });
        }
        r.index
    }

    /// Whether request `i` carries a deadline that has passed at `now`.
    #[inline]
    pub(super) fn expired(&self, i: u32, now: u64) -> bool {
        self.hot[i].flags & EXPIRES != 0 && self.cold[i as usize].deadline <= now
    }

    /// How many requests are in flight.
    #[inline]
    pub(super) fn live(&self) -> usize {
        self.hot.live()
    }

    /// The requests in flight, by index.
    pub(super) fn live_indices(&self) -> Vec<u32> {
        self.hot.live_indices()
    }

    /// Frees request `i`: its handles go stale.
    #[inline]
    pub(super) fn free(&mut self, i: u32) {
        self.hot.remove(i);
    }

    /// Cancels request `i`'s pending event: the handles made so far go stale.
    pub(super) fn reissue(&mut self, i: u32) {
        self.hot.reissue(i);
    }

    /// A handle on request `i`, for an event about it.
    #[inline]
    pub(super) fn handle(&self, i: u32) -> ReqRef {
        self.hot.handle(i)
    }

    /// Whether `r` still names the request it was made for, with the same
    /// pending event.
    #[inline]
    pub(super) fn is_live(&self, r: ReqRef) -> bool {
        self.hot.is_live(r)
    }

    /// Request `i`'s cold fields.
    #[inline]
    pub(super) fn cold(&mut self, i: u32) -> &mut Cold {
        &mut self.cold[i as usize]
    }
}

impl std::ops::Index<u32> for Requests {
    type Output = Request;
    #[inline]
    fn index(&self, i: u32) -> &Request {
        &self.hot[i]
    }
}

impl std::ops::IndexMut<u32> for Requests {
    #[inline]
    fn index_mut(&mut self, i: u32) -> &mut Request {
        &mut self.hot[i]
    }
}
