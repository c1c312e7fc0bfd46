//! Slabs whose entries carry a generation, and the handles that name them.
//!
//! A freed entry is reused, so an index alone cannot tell whether it still
//! names the same thing: a departure scheduled for a request that has since
//! been cancelled, a reply to a call that has since failed. Each entry keeps
//! a generation, bumped when it is freed or when its pending event is
//! cancelled; a [`Ref`] records the generation it was made at, and is live
//! only while the two agree. One mechanism for every kind of staleness.
//!
//! A generation is a `u32` that wraps: a stale handle could only be taken for
//! a live one after its entry was reused 2³² times while the handle waited.

use std::fmt;
use std::marker::PhantomData;

/// An entry that carries its generation.
pub(super) trait Generation {
    /// The entry's current generation.
    fn generation(&self) -> u32;
    /// Sets it.
    fn set_generation(&mut self, generation: u32);
}

/// A handle on an entry of a [`Slab<T>`]: its index and the generation it
/// was made at.
pub(super) struct Ref<T> {
    pub(super) index: u32,
    pub(super) generation: u32,
    kind: PhantomData<fn() -> T>,
}

impl<T> Ref<T> {
    pub(super) fn new(index: u32, generation: u32) -> Ref<T> {
        Ref {
            index,
            generation,
            kind: PhantomData,
        }
    }
}

// Derives would require `T: Clone` and so on; a handle is two integers.
impl<T> Clone for Ref<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Ref<T> {}
impl<T> PartialEq for Ref<T> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index && self.generation == other.generation
    }
}
impl<T> Eq for Ref<T> {}
impl<T> fmt::Debug for Ref<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}@{}", self.index, self.generation)
    }
}

/// A vector whose freed entries are reused, newest freed first.
pub(super) struct Slab<T> {
    items: Vec<T>,
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T: Generation> Slab<T> {
    /// Stores `item` in a free entry (keeping that entry's generation) or a
    /// new one, and returns its handle.
    #[inline]
    pub(super) fn insert(&mut self, mut item: T) -> Ref<T> {
        match self.free.pop() {
            Some(i) => {
                let generation = self.items[i as usize].generation();
                item.set_generation(generation);
                self.items[i as usize] = item;
                Ref::new(i, generation)
            }
            None => {
                item.set_generation(0);
                self.items.push(item);
                Ref::new((self.items.len() - 1) as u32, 0)
            }
        }
    }

    /// Entries in use.
    #[inline]
    pub(super) fn live(&self) -> usize {
        self.items.len() - self.free.len()
    }

    /// The indices of the live entries, in order (a scan: for rare events,
    /// such as a crash looking for the requests it strikes).
    pub(super) fn live_indices(&self) -> Vec<u32> {
        let mut free = vec![false; self.items.len()];
        for &i in &self.free {
            free[i as usize] = true;
        }
        (0..self.items.len() as u32)
            .filter(|&i| !free[i as usize])
            .collect()
    }

    /// Frees entry `i`: every handle on it becomes stale.
    #[inline]
    pub(super) fn remove(&mut self, i: u32) {
        self.reissue(i);
        self.free.push(i);
    }

    /// Bumps entry `i`'s generation without freeing it: the handles made so
    /// far become stale (its pending event is cancelled); returns the new one.
    #[inline]
    pub(super) fn reissue(&mut self, i: u32) -> Ref<T> {
        let item = &mut self.items[i as usize];
        let generation = item.generation().wrapping_add(1);
        item.set_generation(generation);
        Ref::new(i, generation)
    }

    /// A handle on entry `i` as it is now.
    #[inline]
    pub(super) fn handle(&self, i: u32) -> Ref<T> {
        Ref::new(i, self.items[i as usize].generation())
    }

    /// Whether `r` still names the entry it was made for.
    #[inline]
    pub(super) fn is_live(&self, r: Ref<T>) -> bool {
        self.items[r.index as usize].generation() == r.generation
    }
}

impl<T> std::ops::Index<u32> for Slab<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: u32) -> &T {
        &self.items[i as usize]
    }
}

impl<T> std::ops::IndexMut<u32> for Slab<T> {
    #[inline]
    fn index_mut(&mut self, i: u32) -> &mut T {
        &mut self.items[i as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Item(u32, u32);
    impl Generation for Item {
        fn generation(&self) -> u32 {
            self.1
        }
        fn set_generation(&mut self, generation: u32) {
            self.1 = generation;
        }
    }

    #[test]
    fn a_reused_entry_makes_old_handles_stale() {
        let mut slab = Slab::default();
        let a = slab.insert(Item(1, 99));
        assert_eq!(a, Ref::new(0, 0), "a new entry starts at generation 0");
        assert!(slab.is_live(a));
        slab.remove(a.index);
        assert!(!slab.is_live(a));
        let b = slab.insert(Item(2, 0));
        assert_eq!(b.index, a.index, "the freed entry is reused");
        assert!(slab.is_live(b) && !slab.is_live(a));
        let c = slab.reissue(b.index);
        assert!(slab.is_live(c) && !slab.is_live(b));
        assert_eq!(slab[c.index].0, 2, "reissuing keeps the entry");
        assert_eq!(slab.handle(c.index), c);
    }
}
