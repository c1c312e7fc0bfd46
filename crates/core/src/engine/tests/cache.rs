//! Caches: what the engine counts of a write-back cache's dirty entries.

use super::*;

/// Writes to a key already dirty coalesce: `dirty_area` counts dirty
/// entries (keys), not the writes behind them. 100 keys written uniformly
/// at 100 writes/s, flushed every second (all of them): a key is dirty at
/// time t after a flush with probability 1 − e^(−t) (its writes are
/// Poisson at 1/s), so the time-averaged number of dirty entries is
/// 100 · e^(−1) = 36.8, while the unflushed writes average λT/2 = 50.
#[test]
fn dirty_entries_are_keys_not_writes() {
    let mut cache = station(
        "cache",
        1,
        Discipline::Fifo,
        Dist::constant(1e3).unwrap(),
        Routing::exit(),
    );
    cache.queue_mut().unwrap().cache = Some(Cache {
        contents: CacheContents::Lru {
            keys: Popularity {
                count: 100,
                zipf: 0.0,
            },
            capacity: 100,
            ttl: None,
        },
        ops: vec![Op::Write],
        write_policy: WritePolicy::WriteBack {
            batch: 1000,
            interval: secs(1.0),
        },
        backing: StationId(1),
        writes_per_read: 0.0,
        shard: None,
    });
    let topology = Topology {
        stations: vec![
            cache,
            station(
                "db",
                INFINITE,
                Discipline::Fifo,
                Dist::constant(1e3).unwrap(),
                Routing::exit(),
            ),
        ],
        classes: jobs(100.0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let dirty = replicate(&topology, 2_000.0, 10, |s| {
        s.stations[0]
            .cache
            .as_ref()
            .unwrap()
            .mean_at_risk(s.duration)
    });
    assert_close("dirty entries", dirty, 100.0 * (-1f64).exp());
}
