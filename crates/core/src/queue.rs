//! The future event list: a binary heap ordered by (time, insertion sequence).
//!
//! Two events at the same nanosecond run in the order they were scheduled,
//! so a run is a deterministic function of its inputs.
//!
//! A source that always has exactly one event pending (an open class's next
//! arrival) may keep it in a *standing slot* instead of the heap: the
//! earliest slot is compared with the heap's top at each pop, with the same
//! (time, sequence) key, so the order of events is the same as if every
//! event went through the heap, and a heap push and pop per arrival are saved.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::time::SimTime;

/// An event with its key: time in the high 64 bits, insertion sequence in the
/// low 64, so one integer comparison orders by time and then sequence.
struct Entry<E> {
    key: u128,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    // Reversed: `BinaryHeap` is a max-heap and we want the earliest first.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// The size of one entry of an [`EventQueue<E>`], for size checks.
pub const fn entry_size<E>() -> usize {
    std::mem::size_of::<Entry<E>>()
}

/// A min-priority queue of events keyed by time, FIFO among equal times.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    /// Standing slots, each empty or holding one event.
    slots: Vec<Option<Entry<E>>>,
    /// The slot with the smallest key, and that key (`u128::MAX`: none).
    earliest: usize,
    earliest_key: u128,
}

impl<E> std::fmt::Debug for EventQueue<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventQueue")
            .field("pending", &self.len())
            .field("next_seq", &self.next_seq)
            .finish()
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
            slots: Vec::new(),
            earliest: 0,
            earliest_key: u128::MAX,
        }
    }
}

impl<E> EventQueue<E> {
    /// The key of an event scheduled now at `time`.
    #[inline]
    fn key(&mut self, time: SimTime) -> u128 {
        let seq = self.next_seq;
        self.next_seq += 1;
        (u128::from(time.0) << 64) | u128::from(seq)
    }

    /// Schedules `event` at `time`.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        let key = self.key(time);
        self.heap.push(Entry { key, event });
    }

    /// Schedules `event` at `time` in standing slot `slot` (numbered from
    /// zero by the caller), which must be empty: it stays out of the heap
    /// until it is popped.
    #[inline]
    pub fn push_standing(&mut self, slot: usize, time: SimTime, event: E) {
        let key = self.key(time);
        if slot >= self.slots.len() {
            self.slots.resize_with(slot + 1, || None);
        }
        debug_assert!(self.slots[slot].is_none(), "standing slot {slot} is taken");
        self.slots[slot] = Some(Entry { key, event });
        if key < self.earliest_key {
            self.earliest = slot;
            self.earliest_key = key;
        }
    }

    /// Removes and returns the earliest event.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let top = self.heap.peek().map_or(u128::MAX, |e| e.key);
        let e = if self.earliest_key < top {
            self.pop_standing()
        } else {
            self.heap.pop()?
        };
        Some((SimTime((e.key >> 64) as u64), e.event))
    }

    /// The time of the earliest event, without removing it.
    pub fn peek_time(&self) -> Option<SimTime> {
        let top = self.heap.peek().map_or(u128::MAX, |e| e.key);
        let key = top.min(self.earliest_key);
        (key != u128::MAX).then_some(SimTime((key >> 64) as u64))
    }

    /// Takes the earliest standing slot's event, and finds the next earliest.
    #[cold]
    fn pop_standing(&mut self) -> Entry<E> {
        let e = self.slots[self.earliest]
            .take()
            .expect("the earliest standing slot holds an event");
        self.earliest_key = u128::MAX;
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some(s) = slot
                && s.key < self.earliest_key
            {
                self.earliest = i;
                self.earliest_key = s.key;
            }
        }
        e
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len() + self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.earliest_key == u128::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_insertion_order() {
        let mut q = EventQueue::default();
        q.push(SimTime(5), 'a');
        q.push(SimTime(1), 'b');
        q.push(SimTime(5), 'c');
        q.push(SimTime(1), 'd');
        q.push(SimTime(3), 'e');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['b', 'd', 'e', 'a', 'c']);
        assert!(q.is_empty());
    }

    /// Events in standing slots come out in the same order as if they had
    /// gone through the heap: by time, then by the order of scheduling.
    #[test]
    fn standing_slots_interleave_by_time_then_insertion() {
        let mut q = EventQueue::default();
        q.push(SimTime(5), 'a');
        q.push_standing(1, SimTime(5), 'b');
        q.push(SimTime(5), 'c');
        q.push_standing(0, SimTime(2), 'd');
        q.push(SimTime(1), 'e');
        assert_eq!(q.len(), 5);
        assert_eq!(q.peek_time(), Some(SimTime(1)));
        let mut order = Vec::new();
        while let Some((t, e)) = q.pop() {
            order.push(e);
            // The source of 'd' schedules its next event at once, as an
            // arrival does.
            if e == 'd' {
                q.push_standing(0, t, 'f');
            }
        }
        assert_eq!(order, vec!['e', 'd', 'f', 'a', 'b', 'c']);
        assert!(q.is_empty());
    }
}
