//! Stop-the-world garbage collection on a replica's processor-sharing CPU.
//!
//! Each request entering the CPU allocates; when the bytes allocated since
//! the last collection exceed the free heap, the CPU's speed drops to zero
//! for a pause that grows with the live heap. The collector decides; the
//! flow pauses the station and schedules the pause's end.

use crate::model::Gc;
use crate::time::nanos_from_f64;

/// A garbage-collected heap.
pub(super) struct GcState {
    spec: Gc,
    /// Bytes allocated since the last collection.
    allocated: f64,
    /// A pause is under way.
    pub(super) paused: bool,
}

impl GcState {
    pub(super) fn new(spec: &Gc) -> GcState {
        GcState {
            spec: spec.clone(),
            allocated: 0.0,
            paused: false,
        }
    }

    /// The station whose admission pool's held slots are the requests in
    /// flight on the replica, if not the CPU itself.
    pub(super) fn in_flight_at(&self) -> Option<usize> {
        self.spec.in_flight.map(|s| s.idx())
    }

    /// A request enters: it allocates.
    pub(super) fn allocate(&mut self) {
        self.allocated += self.spec.alloc;
    }

    /// With `in_flight` requests holding live data: the length of the pause
    /// to start now, if the allocations since the last one exceed the free
    /// heap. At least a microsecond: a heap that stays full pauses again and
    /// again, and time must pass.
    pub(super) fn collect_if_full(&mut self, in_flight: u32) -> Option<u64> {
        let live = self.spec.live + self.spec.alloc * f64::from(in_flight);
        if self.allocated < self.spec.heap - live {
            return None;
        }
        self.allocated = 0.0;
        Some(nanos_from_f64(self.spec.pause_min + self.spec.pause_per_byte * live).max(1000))
    }
}
