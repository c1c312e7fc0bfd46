//! Where a request can go next, and how often: the one successor function
//! of the model's checks (`Topology::validate`, `successors`) and of the
//! analysis (visit ratios, offered load), and through them of the scenario's
//! checks.
//!
//! A request of a class at a station goes on to a balancer's targets (an
//! equal share each in the long run), a call point's targets (each called
//! with the call's probability; it then goes on by its routing), a cache's
//! backing store (on a read's miss, and for a write that goes through) and
//! the class's routing. The engine makes the same moves one request at a
//! time (`engine/flow.rs`).

use crate::model::{
    Cache, CacheContents, ClassId, Op, Partition, Policy, Popularity, Role, ShardOf, StationId,
    Topology, WritePolicy,
};
use crate::rng::splitmix64;

/// One place a request may go next, with the mean number of visits there
/// per visit here.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hop {
    /// Where.
    pub to: StationId,
    /// Mean visits there per visit here (zero for a path this class never
    /// takes but that exists, such as a call it makes with probability 0).
    pub visits: f64,
}

/// Every place a request of `class` at station `s` may go next, in the
/// order the engine considers them: a balancer's targets; or a call
/// point's targets, a cache's backing store, then the class's routing.
/// `s` and `class` must be in range, and a call's probabilities and a
/// cache's operations must have one entry per class.
pub fn hops(topology: &Topology, s: StationId, class: ClassId) -> Vec<Hop> {
    let station = &topology.stations[s.idx()];
    let ci = class.idx();
    let mut out = Vec::new();
    match &station.role {
        // A balancer sends each target an equal share in the long run
        // (exactly for round robin and random; for least connections when
        // the targets are alike, an approximation otherwise).
        Role::Balancer(d) => {
            // A key's shard: each the share of the keys it holds.
            if let (Policy::ByKey(by), Some(keys)) = (d.policy, d.keys) {
                let shares = shard_shares(keys, by, d.targets.len());
                out.extend(
                    d.targets
                        .iter()
                        .zip(shares)
                        .map(|(&to, visits)| Hop { to, visits }),
                );
                return out;
            }
            let share = 1.0 / d.targets.len() as f64;
            out.extend(d.targets.iter().map(|&to| Hop { to, visits: share }));
            return out;
        }
        // A call sends each target one visit per call made (k of n
        // targets drawn at random: k/n visits each); the caller then
        // continues by its own routing.
        Role::Call(c) => {
            let share = c.sent() as f64 / c.targets.len() as f64;
            out.extend(c.targets.iter().map(|&to| Hop {
                to,
                visits: c.probability[ci] * share,
            }));
        }
        Role::Queue(_) => {}
    }
    // A cache sends its misses (and writes that go through) to its backing
    // store, whose end routes as the cache does.
    let mut onward = 1.0;
    if let Some(c) = station.cache() {
        let backing = match (c.ops[ci], c.write_policy) {
            (Op::Write, WritePolicy::WriteBack { .. }) => 1.0,
            (Op::Write, _) => {
                onward = 0.0;
                1.0
            }
            (Op::Read, _) => {
                let miss = 1.0 - expected_hit_ratio(c);
                onward = 1.0 - miss;
                miss
            }
        };
        out.push(Hop {
            to: c.backing,
            visits: backing,
        });
    }
    if let Some(Some(b)) = station.behaviour.get(ci) {
        out.extend(b.routing.next.iter().map(|&(to, p)| Hop {
            to,
            visits: onward * p,
        }));
    }
    out
}

/// The shard of `shards` that holds `key` (0-based, the most popular
/// first) of a catalogue of `count` keys. By range, shard `s` holds the
/// keys from `⌈s·count/shards⌉` up to the next shard's first (ranges equal
/// to within one key); by hash, the shard
/// is SplitMix64's mix of the key modulo the shards, a fixed function (the
/// same in every run, as a real system's hash is).
#[inline]
pub fn shard_of(key: u32, count: u32, shards: usize, by: Partition) -> usize {
    match by {
        Partition::Range => (u64::from(key) * shards as u64 / u64::from(count)) as usize,
        Partition::Hash => {
            let mut state = u64::from(key);
            (splitmix64(&mut state) % shards as u64) as usize
        }
    }
}

/// Each shard's share of the requests whose keys are drawn from `keys`
/// (the k-th most popular with probability ∝ 1/k^zipf), split over
/// `shards` by `by`: the sum of the probabilities of the keys it holds.
pub fn shard_shares(keys: Popularity, by: Partition, shards: usize) -> Vec<f64> {
    let mut shares = vec![0.0; shards];
    for key in 0..keys.count {
        shares[shard_of(key, keys.count, shards, by)] += f64::from(key + 1).powf(-keys.zipf);
    }
    let total: f64 = shares.iter().sum();
    for s in &mut shares {
        *s /= total;
    }
    shares
}

/// The long-run hit ratio of a cache's reads: the fixed one, or for an LRU
/// cache Che's approximation (ignoring the time to live). Under
/// invalidation, with ω writes per read on the same keys, a read hits when
/// its key's last request was a read within the characteristic time `T`
/// (of the reads and writes together): `pₖ`'s share is
/// `(1 − e^(−pₖ(1+ω)T)) / (1+ω)`, and the entries held sum to the
/// capacity, which is Che's cache of `capacity × (1+ω)` entries, its hit
/// ratio divided by `1+ω`. Writes that store their key (write-through,
/// write-back) only refresh it, like a read, and change nothing.
pub fn expected_hit_ratio(cache: &Cache) -> f64 {
    match &cache.contents {
        CacheContents::HitRatio(h) => *h,
        CacheContents::Lru { keys, capacity, .. } => {
            let omega = match cache.write_policy {
                WritePolicy::Invalidate => cache.writes_per_read.max(0.0),
                _ => 0.0,
            };
            che(*keys, f64::from(*capacity) * (1.0 + omega), cache.shard) / (1.0 + omega)
        }
    }
}

/// Che's approximation of an LRU cache's hit ratio under independent
/// requests with Zipf popularity: the characteristic time `T` solves
/// `Σₖ (1 − e^(−pₖT)) = capacity`, and the hit ratio is
/// `Σₖ pₖ (1 − e^(−pₖT))`. Keys beyond the first thousand are grouped in
/// bins 1% wide, over which the popularity barely changes.
pub fn che_hit_ratio(keys: Popularity, capacity: u32) -> f64 {
    che(keys, f64::from(capacity), None)
}

/// [`che_hit_ratio`] for a capacity that need not be whole, over the keys
/// of one shard when `shard` is given (their probabilities renormalised:
/// the router sends the shard only those). Keys beyond the first thousand
/// are binned; a bin's keys on a hashed shard are counted as its share,
/// one in `of` (the hash spreads them evenly; the first thousand, which
/// carry the popularity, are placed exactly).
fn che(keys: Popularity, capacity: f64, shard: Option<ShardOf>) -> f64 {
    // (popularity weight of one key in the bin, keys in the bin)
    let mut bins: Vec<(f64, f64)> = Vec::new();
    let mut k = 1u64;
    let n = u64::from(keys.count);
    // A shard's run of keys by range, 1-based and inclusive.
    let (first, last) = match shard {
        Some(ShardOf {
            by: Partition::Range,
            index,
            of,
        }) => (
            (u64::from(index) * n).div_ceil(u64::from(of)) + 1,
            (u64::from(index + 1) * n).div_ceil(u64::from(of)),
        ),
        _ => (1, n),
    };
    let holds = |key: u64| {
        shard.is_none_or(|s| {
            shard_of((key - 1) as u32, keys.count, s.of as usize, s.by) == s.index as usize
        })
    };
    while k <= n {
        let width = if k <= 1000 { 1 } else { (k / 100).max(1) };
        let end = (k + width - 1).min(n);
        let mid = (k + end) as f64 / 2.0;
        let m = match shard {
            _ if width == 1 => f64::from(u8::from(holds(k))),
            Some(ShardOf {
                by: Partition::Hash,
                of,
                ..
            }) => (end - k + 1) as f64 / f64::from(of),
            _ => (end.min(last) + 1).saturating_sub(k.max(first)) as f64,
        };
        if m > 0.0 {
            bins.push((mid.powf(-keys.zipf), m));
        }
        k = end + 1;
    }
    let held: f64 = bins.iter().map(|(_, m)| m).sum();
    if capacity >= held {
        return 1.0;
    }
    let total: f64 = bins.iter().map(|(w, m)| w * m).sum();
    let occupied = |t: f64| -> f64 {
        bins.iter()
            .map(|(w, m)| m * (1.0 - (-w / total * t).exp()))
            .sum()
    };
    // Bracket T, then bisect. When no finite T fills the cache (so skewed a
    // popularity that the keys requested at all fit in it), every read hits.
    let target = capacity;
    let (mut low, mut high) = (0.0f64, 1.0f64);
    while occupied(high) < target {
        if high > 1e300 {
            return 1.0;
        }
        high *= 2.0;
    }
    for _ in 0..100 {
        let mid = 0.5 * (low + high);
        if occupied(mid) < target {
            low = mid;
        } else {
            high = mid;
        }
    }
    let t = 0.5 * (low + high);
    bins.iter()
        .map(|(w, m)| {
            let p = w / total;
            m * p * (1.0 - (-p * t).exp())
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By range, every shard holds a contiguous run of keys, the runs in
    /// order, of sizes within one of each other, and none is empty when
    /// there are at least as many keys as shards.
    #[test]
    fn ranges_are_contiguous_even_and_ordered() {
        for (count, shards) in [(10u32, 3usize), (1000, 7), (16, 16), (100_003, 64)] {
            let mut sizes = vec![0u32; shards];
            let mut last = 0;
            for key in 0..count {
                let s = shard_of(key, count, shards, Partition::Range);
                assert!(s == last || s == last + 1, "{count}/{shards}: key {key}");
                last = s;
                sizes[s] += 1;
            }
            assert_eq!(last, shards - 1);
            let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(*lo >= 1 && hi - lo <= 1, "{count}/{shards}: {sizes:?}");
        }
    }

    /// By hash, keys fall on shards as independent uniform draws would:
    /// 200,000 keys over 16 shards give counts whose chi-square statistic
    /// (15 degrees of freedom) is below its 99.9% quantile, 37.70; and the
    /// same keys always on the same shard.
    #[test]
    fn hashing_spreads_keys_as_a_multinomial() {
        let (count, shards) = (200_000u32, 16usize);
        let mut counts = vec![0f64; shards];
        for key in 0..count {
            let s = shard_of(key, count, shards, Partition::Hash);
            assert_eq!(s, shard_of(key, count, shards, Partition::Hash));
            counts[s] += 1.0;
        }
        let expected = f64::from(count) / shards as f64;
        let chi2: f64 = counts
            .iter()
            .map(|c| (c - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 37.70, "chi-square {chi2}: {counts:?}");
    }

    /// A shard's share is the sum of its keys' Zipf probabilities: by range
    /// over 4 shards of 8 keys with zipf = 1, the first shard holds keys 1
    /// and 2, (1 + 1/2) / H₈.
    #[test]
    fn shares_sum_the_keys_probabilities() {
        let keys = Popularity {
            count: 8,
            zipf: 1.0,
        };
        let h8: f64 = (1..=8).map(|k| 1.0 / f64::from(k)).sum();
        let shares = shard_shares(keys, Partition::Range, 4);
        let expected = [1.5 / h8, (1.0 / 3.0 + 0.25) / h8, (0.2 + 1.0 / 6.0) / h8];
        for (s, e) in shares.iter().zip(expected) {
            assert!((s - e).abs() < 1e-12, "{shares:?}");
        }
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    /// A shard of a cache is Che's cache over its keys alone: with even
    /// popularity, capacity over the keys it holds, by range (exactly) and
    /// by hash (the binned keys counted as one in `of`); with skewed keys
    /// by range over 1,000 keys, the same as Che's cache over a catalogue
    /// of its keys' weights, computed key by key here.
    #[test]
    fn che_over_a_shard_is_che_over_its_keys() {
        let uniform = Popularity {
            count: 100_000,
            zipf: 0.0,
        };
        for (by, tolerance) in [(Partition::Range, 1e-9), (Partition::Hash, 2e-3)] {
            let shard = Some(ShardOf {
                by,
                index: 1,
                of: 4,
            });
            let h = che(uniform, 5000.0, shard);
            assert!((h - 0.2).abs() < tolerance, "{by:?}: {h}");
        }
        let skewed = Popularity {
            count: 1000,
            zipf: 1.0,
        };
        let shard = ShardOf {
            by: Partition::Range,
            index: 2,
            of: 4,
        };
        let p: Vec<f64> = (500..750).map(|k| 1.0 / f64::from(k + 1)).collect();
        let total: f64 = p.iter().sum();
        let held = |t: f64| p.iter().map(|x| 1.0 - (-x / total * t).exp()).sum::<f64>();
        let (mut low, mut high) = (0.0, 1.0);
        while held(high) < 50.0 {
            high *= 2.0;
        }
        for _ in 0..100 {
            let mid = 0.5 * (low + high);
            if held(mid) < 50.0 {
                low = mid;
            } else {
                high = mid;
            }
        }
        let exact: f64 = p
            .iter()
            .map(|x| x / total * (1.0 - (-x / total * low).exp()))
            .sum();
        let h = che(skewed, 50.0, Some(shard));
        assert!((h - exact).abs() < 1e-9, "{h} vs {exact}");
    }

    /// Che's approximation at its limits: a cache as large as the catalogue
    /// holds it all; a popularity so skewed that only the first key is ever
    /// drawn fits in any cache; uniform popularity gives capacity / keys.
    #[test]
    fn che_at_its_limits() {
        let keys = |zipf| Popularity { count: 1000, zipf };
        assert_eq!(che_hit_ratio(keys(0.9), 1000), 1.0);
        assert_eq!(che_hit_ratio(keys(1e10), 10), 1.0);
        // Uniform: every key has the same hit probability 1 − e^(−T/N) = C/N.
        assert!((che_hit_ratio(keys(0.0), 250) - 0.25).abs() < 1e-9);
    }
}
