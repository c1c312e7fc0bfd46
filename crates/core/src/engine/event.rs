//! The events of a run: a closed enum, so that every trigger shows up in the
//! loop's one `match` (`engine/mod.rs`).
//!
//! An event about a request holds a [`ReqRef`] and is ignored when it has
//! gone stale (the request was cancelled or freed); a processor-sharing
//! station's next departure is checked the same way against the station's
//! own generation. Events kept out of the reported count (bookkeeping that
//! must not change the figures) are marked so.

use super::request::{FrameRef, ReqRef};

#[derive(Clone, Copy, Debug)]
pub(super) enum Event {
    /// The next external arrival of an open class.
    Arrival { class: u32 },
    /// A request finishes its service at a non-PS station, unless stale.
    Departure { req: ReqRef },
    /// The earliest PS job at `station` finishes, unless `generation` is stale.
    PsDeparture { station: u32, generation: u32 },
    /// A call's attempt times out, unless its frame is stale (answered,
    /// failed, or retried since).
    Timeout { frame: FrameRef },
    /// A call's attempt has not replied yet: another copy is sent, unless
    /// the frame is stale.
    Hedge { frame: FrameRef },
    /// A call's backoff is over: its next attempt, unless the frame is stale.
    Retry { frame: FrameRef },
    /// Request `req`'s deadline passes, unless stale: a request from
    /// outside is given up by its client; work with `cancel = preempt` is
    /// taken out.
    Expire { req: ReqRef },
    /// A request delayed by a rate limit gets its token, unless stale.
    Admit { req: ReqRef },
    /// A closed-class user finishes thinking and sends a request.
    ThinkEnd { class: u32 },
    /// A closed class's population changes to its profile's `change`-th
    /// level.
    Population { class: u32, change: u32 },
    /// A write-back cache writes its oldest dirty entries to its backing store.
    Flush { station: u32 },
    /// A garbage collection pause at `station` ends.
    GcEnd { station: u32 },
    /// A balancer's target goes down (not counted).
    TargetDown { station: u32, target: u32 },
    /// A balancer's target comes back (not counted).
    TargetUp { station: u32, target: u32 },
    /// A balancer's ejected outlier takes requests again (not counted).
    Return { station: u32, target: u32 },
    /// A fault strikes (not counted).
    FaultStart { fault: u32 },
    /// A fault's occurrence ends (not counted).
    FaultEnd { fault: u32 },
    /// The balancers notice a crash's `occurrence`, unless it has ended
    /// (not counted).
    FaultDetected { fault: u32, occurrence: u32 },
    /// An autoscaler evaluates its metric (not counted).
    Scale { scaler: u32 },
    /// An autoscaler's replica has started and warmed up, unless that
    /// start (its `generation`) was cancelled (not counted).
    Ready {
        scaler: u32,
        replica: u32,
        generation: u32,
    },
    /// A window of the time series ends (not counted).
    Sample,
    /// Half the measured time has passed: each station's busy area is
    /// noted, so that a figure's noise within a run can be judged from its
    /// two halves (not counted).
    Midpoint,
    /// Measurement starts: statistics are reset.
    WarmupEnd,
    /// Measurement ends.
    End,
}

// The event list's entries stay 32 bytes (a 16-byte key and the event).
const _: () = assert!(std::mem::size_of::<Event>() <= 16);
const _: () = assert!(crate::queue::entry_size::<Event>() == 32);
