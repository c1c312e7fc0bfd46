//! A cache's state: its entries (least recently used first out, with an
//! optional time to live), the keys requests carry, and the dirty entries
//! of a write-back cache.
//!
//! The entries are an intrusive doubly linked list over arrays indexed by
//! key, so a lookup, a store and an eviction are O(1) with no hashing and
//! no allocation after start-up (16 bytes per key of the catalogue).

use std::collections::VecDeque;

use rand_distr::{Distribution, Zipf};

use crate::model::{Cache, CacheContents, Op, Popularity, WritePolicy};
use crate::rng::Stream;
use crate::stats::CacheStats;

/// No key: the end of the list.
const END: u32 = u32::MAX;
/// In [`Lru::stored`]: the key is not in the cache.
const ABSENT: u64 = u64::MAX;

/// Entries held, most recently used at the head.
#[derive(Debug)]
pub(crate) struct Lru {
    capacity: u32,
    len: u32,
    head: u32,
    tail: u32,
    prev: Vec<u32>,
    next: Vec<u32>,
    /// When each key was stored, or [`ABSENT`].
    stored: Vec<u64>,
    ttl: u64,
}

impl Lru {
    pub(crate) fn new(keys: u32, capacity: u32, ttl: Option<u64>) -> Lru {
        let n = keys as usize;
        Lru {
            capacity,
            len: 0,
            head: END,
            tail: END,
            prev: vec![END; n],
            next: vec![END; n],
            stored: vec![ABSENT; n],
            ttl: ttl.unwrap_or(u64::MAX),
        }
    }

    /// Entries held.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    fn unlink(&mut self, key: u32) {
        let (p, n) = (self.prev[key as usize], self.next[key as usize]);
        if p == END {
            self.head = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == END {
            self.tail = p;
        } else {
            self.prev[n as usize] = p;
        }
    }

    fn push_front(&mut self, key: u32) {
        self.prev[key as usize] = END;
        self.next[key as usize] = self.head;
        if self.head == END {
            self.tail = key;
        } else {
            self.prev[self.head as usize] = key;
        }
        self.head = key;
    }

    /// Whether `key` is held and fresh at `now`; a hit becomes the most
    /// recently used, an expired entry is dropped.
    pub(crate) fn get(&mut self, key: u32, now: u64) -> bool {
        let stored = self.stored[key as usize];
        if stored == ABSENT {
            return false;
        }
        if now - stored > self.ttl {
            self.remove(key);
            return false;
        }
        if self.head != key {
            self.unlink(key);
            self.push_front(key);
        }
        true
    }

    /// Stores (or refreshes) `key` at `now` as the most recently used,
    /// evicting the least recently used entry when full; returns the key
    /// evicted, if any.
    pub(crate) fn put(&mut self, key: u32, now: u64) -> Option<u32> {
        if self.stored[key as usize] != ABSENT {
            self.unlink(key);
            self.push_front(key);
            self.stored[key as usize] = now;
            return None;
        }
        let mut evicted = None;
        if self.len == self.capacity {
            let last = self.tail;
            self.remove(last);
            evicted = Some(last);
        }
        self.push_front(key);
        self.stored[key as usize] = now;
        self.len += 1;
        evicted
    }

    /// Drops `key` if held.
    pub(crate) fn remove(&mut self, key: u32) {
        if self.stored[key as usize] == ABSENT {
            return;
        }
        self.unlink(key);
        self.stored[key as usize] = ABSENT;
        self.len -= 1;
    }
}

/// What a cache visit decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Served from the cache: the request routes on.
    Hit,
    /// A read that missed, or a write that goes on to the backing store.
    Backing,
    /// A write acknowledged by the cache (write-back).
    Absorbed,
}

/// Counts of one replication, for [`crate::stats::CacheStats`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Counts {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) writes: u64,
    pub(crate) flushed: u64,
    /// Integral of dirty entries over time (nanosecond-entries).
    pub(crate) dirty_area: f64,
    pub(crate) dirty_max: u64,
}

/// A cache station's state.
pub(crate) struct CacheState {
    pub(crate) ops: Vec<Op>,
    pub(crate) write_policy: WritePolicy,
    pub(crate) backing: u32,
    hit_ratio: f64,
    /// Key popularity and the entries, for an LRU cache.
    keys: Option<(Zipf<f64>, Lru)>,
    stream: Stream,
    /// Write-back: dirty keys in the order they became dirty, and which
    /// keys are dirty (without keys: every write is its own entry).
    pub(crate) dirty: VecDeque<u32>,
    is_dirty: Vec<bool>,
    /// Last time the dirty area was brought up to date.
    last: u64,
    pub(crate) counts: Counts,
}

impl CacheState {
    pub(crate) fn new(c: &Cache, stream: Stream) -> CacheState {
        let (hit_ratio, keys) = match &c.contents {
            CacheContents::HitRatio(h) => (*h, None),
            CacheContents::Lru {
                keys,
                capacity,
                ttl,
            } => {
                let zipf = zipf(*keys);
                let lru = Lru::new(keys.count, *capacity, ttl.map(|t| t.0));
                (0.0, Some((zipf, lru)))
            }
        };
        let write_back = matches!(c.write_policy, WritePolicy::WriteBack { .. });
        let is_dirty = match (&keys, write_back) {
            (Some((_, lru)), true) => vec![false; lru.stored.len()],
            _ => Vec::new(),
        };
        CacheState {
            ops: c.ops.clone(),
            write_policy: c.write_policy,
            backing: c.backing.0,
            hit_ratio,
            keys,
            stream,
            dirty: VecDeque::new(),
            is_dirty,
            last: 0,
            counts: Counts::default(),
        }
    }

    /// The key of the request passing now: the one it carries (modulo the
    /// catalogue), else one drawn (0 without a catalogue).
    fn key(&mut self, carried: Option<u32>) -> u32 {
        match &self.keys {
            Some((_, lru)) if carried.is_some() => carried.unwrap_or(0) % lru.stored.len() as u32,
            // Zipf draws 1..=n as a float.
            Some((zipf, _)) => draw(zipf, &mut self.stream),
            None => 0,
        }
    }

    /// Adds the dirty area since the last change, up to `now`.
    pub(crate) fn advance(&mut self, now: u64) {
        let dt = (now - self.last) as f64;
        self.counts.dirty_area += self.dirty.len() as f64 * dt;
        self.last = now;
    }

    /// Starts measuring at `now`.
    pub(crate) fn reset(&mut self, now: u64) {
        self.counts = Counts {
            dirty_max: self.dirty.len() as u64,
            ..Counts::default()
        };
        self.last = now;
    }

    /// What the replication measured, for [`crate::stats::StationStats::cache`].
    pub(crate) fn stats(&self) -> CacheStats {
        let counts = &self.counts;
        CacheStats {
            hits: counts.hits,
            misses: counts.misses,
            writes: counts.writes,
            flushed: counts.flushed,
            dirty_area: counts.dirty_area,
            dirty_max: counts.dirty_max,
            dirty_end: self.dirty.len() as u64,
            entries_end: self.entries(),
        }
    }

    /// Entries held (for an LRU cache).
    pub(crate) fn entries(&self) -> Option<u32> {
        self.keys.as_ref().map(|(_, lru)| lru.len())
    }

    /// A request of an `op` class, carrying a key or not, leaves the cache
    /// station at `now`: what happens, and the key it touched (a
    /// fixed-ratio cache has none: `u32::MAX`).
    pub(crate) fn visit(&mut self, op: Op, now: u64, carried: Option<u32>) -> (Outcome, u32) {
        let key = self.key(carried);
        let outcome = self.decide(op, key, now);
        (outcome, if self.keys.is_some() { key } else { END })
    }

    fn decide(&mut self, op: Op, key: u32, now: u64) -> Outcome {
        match op {
            Op::Read => {
                let hit = match &mut self.keys {
                    Some((_, lru)) => {
                        let hit = lru.get(key, now);
                        if !hit {
                            lru.put(key, now);
                        }
                        hit
                    }
                    None => self.stream.uniform() < self.hit_ratio,
                };
                if hit {
                    self.counts.hits += 1;
                    Outcome::Hit
                } else {
                    self.counts.misses += 1;
                    Outcome::Backing
                }
            }
            Op::Write => {
                self.counts.writes += 1;
                match self.write_policy {
                    WritePolicy::Invalidate => {
                        if let Some((_, lru)) = &mut self.keys {
                            lru.remove(key);
                        }
                        Outcome::Backing
                    }
                    WritePolicy::WriteThrough => {
                        if let Some((_, lru)) = &mut self.keys {
                            lru.put(key, now);
                        }
                        Outcome::Backing
                    }
                    WritePolicy::WriteBack { .. } => {
                        self.advance(now);
                        match &mut self.keys {
                            Some((_, lru)) => {
                                // An evicted dirty entry stays queued for
                                // its flush: its write is not lost.
                                lru.put(key, now);
                                if !std::mem::replace(&mut self.is_dirty[key as usize], true) {
                                    self.dirty.push_back(key);
                                }
                            }
                            None => self.dirty.push_back(key),
                        }
                        self.counts.dirty_max = self.counts.dirty_max.max(self.dirty.len() as u64);
                        Outcome::Absorbed
                    }
                }
            }
        }
    }

    /// Takes up to `batch` dirty entries to write to the backing store:
    /// their keys, into `keys` (`u32::MAX` for a fixed-ratio cache's, which
    /// have none).
    pub(crate) fn flush(&mut self, batch: u32, now: u64, keys: &mut Vec<u32>) {
        self.advance(now);
        let n = self.dirty.len().min(batch as usize);
        let keyed = self.keys.is_some();
        keys.clear();
        for _ in 0..n {
            if let Some(key) = self.dirty.pop_front() {
                if let Some(d) = self.is_dirty.get_mut(key as usize) {
                    *d = false;
                }
                keys.push(if keyed { key } else { END });
            }
        }
        self.counts.flushed += n as u64;
    }
}

/// A Zipf sampler over a validated catalogue.
pub(super) fn zipf(keys: Popularity) -> Zipf<f64> {
    Zipf::new(f64::from(keys.count), keys.zipf)
        .expect("validated: a non-empty catalogue and a finite exponent ≥ 0")
}

/// A key, 0-based (the sampler draws 1..=n as a float; the subtraction
/// saturates so that no rounding can index below the first key).
pub(super) fn draw(keys: &Zipf<f64>, stream: &mut Stream) -> u32 {
    (keys.sample(stream.rng()) as u32).saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_recently_used_goes_first() {
        let mut lru = Lru::new(10, 3, None);
        for k in [1, 2, 3] {
            assert_eq!(lru.put(k, 0), None);
        }
        assert!(lru.get(1, 1)); // 1 is now the most recent: 2 is the oldest.
        assert_eq!(lru.put(4, 2), Some(2));
        assert!(!lru.get(2, 3));
        assert!(lru.get(3, 3) && lru.get(4, 3) && lru.get(1, 3));
        assert_eq!(lru.len(), 3);
        lru.remove(3);
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.put(5, 4), None);
        assert_eq!(lru.put(6, 4), Some(4));
    }

    #[test]
    fn entries_expire_after_their_ttl() {
        let mut lru = Lru::new(4, 4, Some(10));
        lru.put(0, 100);
        assert!(lru.get(0, 110));
        assert!(!lru.get(0, 111));
        assert_eq!(lru.len(), 0);
        // A refresh restarts the clock.
        lru.put(1, 100);
        lru.put(1, 105);
        assert!(lru.get(1, 115));
    }

    /// Against a naive model (a vector in recency order) on random
    /// operations: the same hits, the same contents.
    #[test]
    fn matches_a_naive_lru() {
        let mut stream = Stream::new(42);
        let mut lru = Lru::new(50, 7, None);
        let mut naive: Vec<u32> = Vec::new();
        for t in 0..20_000u64 {
            let key = (stream.uniform() * 50.0) as u32;
            match (stream.uniform() * 3.0) as u32 {
                0 => {
                    let hit = naive.contains(&key);
                    assert_eq!(lru.get(key, t), hit);
                    if hit {
                        naive.retain(|&k| k != key);
                        naive.insert(0, key);
                    }
                }
                1 => {
                    naive.retain(|&k| k != key);
                    naive.insert(0, key);
                    naive.truncate(7);
                    lru.put(key, t);
                }
                _ => {
                    naive.retain(|&k| k != key);
                    lru.remove(key);
                }
            }
            assert_eq!(lru.len() as usize, naive.len());
        }
    }
}
