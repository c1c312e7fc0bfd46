//! Engine throughput in station visits per second (a visit = arrival, service
//! and departure at one station), on an M/M/1 queue and on the three-station
//! tandem of the `jackson_tandem_3_mm1` case; and a request path with a
//! worker pool and a synchronous call (`engine_request_path`); and the data
//! tier: a cache, pooled connections and a collected heap (`engine_data_tier`).
//!
//! Each model runs twice: through `chokepoint_core::run` with full statistics
//! (histograms, time-weighted areas, per-visit sums), and through `baseline`,
//! a minimal hand-written event loop over a binary heap with no statistics,
//! the floor that any engine pays. Both use the same generator and the same
//! inverse-transform exponential sampling, so the gap is the engine's cost.
//!
//! Run with `cargo bench -p chokepoint-core --bench engine`; divan prints
//! time per run and, with the item counter, visits per second.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chokepoint_core::dist::Dist;
use chokepoint_core::model::*;
use chokepoint_core::rng::Stream;
use chokepoint_core::time::SimTime;
use divan::Bencher;
use divan::counter::ItemsCount;

fn main() {
    divan::main();
}

/// Customers per benchmark iteration.
const CUSTOMERS: f64 = 200_000.0;
const ARRIVAL_RATE: f64 = 100.0;
/// Mean service times of the tandem (seconds): 250/s, 125/s, 150/s.
const TANDEM: [f64; 3] = [0.004, 0.008, 1.0 / 150.0];
/// M/M/1 at ρ = 0.8.
const MM1: [f64; 1] = [0.008];

fn topology(means: &[f64]) -> Topology {
    let n = means.len();
    Topology {
        stations: means
            .iter()
            .enumerate()
            .map(|(i, &mean)| {
                Station::new(
                    format!("s{i}"),
                    1,
                    Discipline::Fifo,
                    vec![Some(Behaviour {
                        work: Dist::exp(mean * 1e9).unwrap(),
                        routing: if i + 1 < n {
                            Routing::to(StationId(i as u32 + 1))
                        } else {
                            Routing::exit()
                        },
                    })],
                )
            })
            .collect(),
        classes: vec![Class {
            name: "jobs".into(),
            load: Load::Open {
                process: ArrivalProcess::Poisson,
                rate: ARRIVAL_RATE,
                profile: None,
            },
            entry: StationId(0),
            priority: 0,
            deadline: None,
            rate_limit: None,
        }],
        faults: Vec::new(),
        autoscalers: Vec::new(),
    }
}

fn config() -> RunConfig {
    RunConfig::new(
        SimTime::ZERO,
        SimTime::from_secs_f64(CUSTOMERS / ARRIVAL_RATE),
    )
}

/// Visits one engine run makes (the same every time: same seed).
fn engine_visits(means: &[f64]) -> u64 {
    let stats = chokepoint_core::run(&topology(means), &config(), 1).unwrap();
    stats.stations.iter().map(|s| s.departures).sum()
}

fn bench_engine(bencher: Bencher, means: &[f64]) {
    let topology = topology(means);
    let config = config();
    bencher
        .counter(ItemsCount::new(engine_visits(means)))
        .bench(|| chokepoint_core::run(divan::black_box(&topology), &config, 1).unwrap());
}

#[divan::bench]
fn engine_mm1(bencher: Bencher) {
    bench_engine(bencher, &MM1);
}

#[divan::bench]
fn engine_tandem(bencher: Bencher) {
    bench_engine(bencher, &TANDEM);
}

/// A request path: an API (4 cores, processor sharing, 16 workers) that
/// calls a database (2 servers) and holds its worker until the reply; a
/// visit of the call point counts as one visit. Not comparable with the
/// baseline (which has no calls); it tracks the cost of calls and pools.
fn request_path() -> Topology {
    let station = |name: &str, servers, discipline, mean: f64, routing| {
        Station::new(
            name,
            servers,
            discipline,
            vec![Some(Behaviour {
                work: Dist::exp(mean * 1e9).unwrap(),
                routing,
            })],
        )
    };
    let mut api = station("api", 4, Discipline::Ps, 0.005, Routing::to(StationId(1)));
    api.admission = Some(Admission::new(16, StationId(1)));
    let mut call = station("api.call", 1, Discipline::Fifo, 1.0, Routing::exit());
    call.behaviour[0] = Some(Behaviour {
        work: Dist::constant(0.0).unwrap(),
        routing: Routing::exit(),
    });
    call.role = Role::Call(CallPoint::to(StationId(2), 1));
    let db = station("db", 2, Discipline::Fifo, 0.004, Routing::exit());
    Topology {
        stations: vec![api, call, db],
        ..topology(&MM1)
    }
}

/// Runs `topology` through the engine, counting every station's visits
/// (call points included).
fn bench_topology(bencher: Bencher, topology: Topology) {
    let config = config();
    let stats = chokepoint_core::run(&topology, &config, 1).unwrap();
    let visits: u64 = stats.stations.iter().map(|s| s.departures).sum();
    bencher
        .counter(ItemsCount::new(visits))
        .bench(|| chokepoint_core::run(divan::black_box(&topology), &config, 1).unwrap());
}

#[divan::bench]
fn engine_request_path(bencher: Bencher) {
    bench_topology(bencher, request_path());
}

/// The data tier: an LRU cache (100,000 Zipf keys, 10,000 entries) whose
/// misses call a database with 8 pooled connections and a collected heap on
/// its 4 processor-sharing cores. Tracks the cost of lookups, connections
/// and allocations; a visit of the call point counts as one visit.
fn data_tier() -> Topology {
    let mut t = request_path();
    let cache = &mut t.stations[0];
    cache.admission = None;
    let Role::Queue(q) = &mut cache.role else {
        unreachable!("the API is a queue")
    };
    q.discipline = Discipline::Fifo;
    q.servers = 1;
    cache.behaviour[0] = Some(Behaviour {
        work: Dist::constant(0.2e6).unwrap(),
        routing: Routing::exit(),
    });
    q.cache = Some(Cache {
        contents: CacheContents::Lru {
            keys: Popularity {
                count: 100_000,
                zipf: 0.9,
            },
            capacity: 10_000,
            ttl: None,
        },
        ops: vec![Op::Read],
        write_policy: WritePolicy::Invalidate,
        backing: StationId(1),
        writes_per_read: 0.0,
        shard: None,
    });
    let db = &mut t.stations[2];
    let Role::Queue(q) = &mut db.role else {
        unreachable!("the database is a queue")
    };
    q.servers = 4;
    q.discipline = Discipline::Ps;
    db.admission = Some(Admission {
        connections: Some(Connections {
            connect: 1e6,
            idle_timeout: None,
            reuse: true,
        }),
        ..Admission::new(8, StationId(2))
    });
    q.gc = Some(Gc {
        heap: 4e9,
        live: 1e9,
        alloc: 1e6,
        pause_min: 1e6,
        pause_per_byte: 0.05,
        in_flight: Some(StationId(2)),
    });
    t
}

#[divan::bench]
fn engine_data_tier(bencher: Bencher) {
    bench_topology(bencher, data_tier());
}

/// The request path with its defences: the API's call to the database
/// times out after 20 ms and is retried up to 3 attempts in all (full
/// jitter from 1 ms), and clients give up after 100 ms, their requests
/// dropped at the head of a queue past it. Tracks the cost of forked
/// calls, timers and deadlines; a visit of the call point counts as one.
fn resilience() -> Topology {
    let mut t = request_path();
    let Role::Call(call) = &mut t.stations[1].role else {
        unreachable!("the API's call point")
    };
    call.timeout = Some(Timeout {
        after: Dist::constant(20e6).unwrap(),
        cancel: Cancel::Never,
    });
    call.retry = Some(Retry {
        attempts: 3,
        backoff: Backoff {
            base: 1e6,
            cap: 100e6,
            jitter: Jitter::Full,
        },
        on_timeout: true,
        on_error: true,
        budget: None,
    });
    t.classes[0].deadline = Some(Timeout {
        after: Dist::constant(100e6).unwrap(),
        cancel: Cancel::AtDequeue,
    });
    t
}

#[divan::bench]
fn engine_resilience(bencher: Bencher) {
    bench_topology(bencher, resilience());
}

/// A minimal event loop: single-server FIFO stations in series, queue
/// lengths only, events in a binary heap keyed by (time, sequence).
/// Returns the number of visits completed before `end`.
fn baseline(means: &[f64], end: u64) -> u64 {
    #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum Ev {
        Arrival,
        Departure(u32),
    }
    let mut arrivals = Stream::new(1);
    let mut services: Vec<Stream> = (0..means.len())
        .map(|i| Stream::new(100 + i as u64))
        .collect();
    let means_ns: Vec<f64> = means.iter().map(|m| m * 1e9).collect();
    let mut present = vec![0u32; means.len()];
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    let mut visits = 0u64;
    let gap = 1e9 / ARRIVAL_RATE;
    let exp = |s: &mut Stream, mean: f64| (-mean * s.uniform_open0().ln()) as u64;
    heap.push(Reverse((exp(&mut arrivals, gap), seq, Ev::Arrival)));
    while let Some(Reverse((now, _, ev))) = heap.pop() {
        if now >= end {
            break;
        }
        let arrive_at = match ev {
            Ev::Arrival => {
                seq += 1;
                heap.push(Reverse((now + exp(&mut arrivals, gap), seq, Ev::Arrival)));
                Some(0)
            }
            Ev::Departure(s) => {
                let s = s as usize;
                visits += 1;
                present[s] -= 1;
                if present[s] > 0 {
                    seq += 1;
                    heap.push(Reverse((
                        now + exp(&mut services[s], means_ns[s]),
                        seq,
                        Ev::Departure(s as u32),
                    )));
                }
                (s + 1 < means.len()).then_some(s + 1)
            }
        };
        if let Some(next) = arrive_at {
            present[next] += 1;
            if present[next] == 1 {
                seq += 1;
                heap.push(Reverse((
                    now + exp(&mut services[next], means_ns[next]),
                    seq,
                    Ev::Departure(next as u32),
                )));
            }
        }
    }
    visits
}

fn bench_baseline(bencher: Bencher, means: &[f64]) {
    let end = config().duration.as_nanos();
    bencher
        .counter(ItemsCount::new(baseline(means, end)))
        .bench(|| baseline(divan::black_box(means), end));
}

#[divan::bench]
fn baseline_mm1(bencher: Bencher) {
    bench_baseline(bencher, &MM1);
}

#[divan::bench]
fn baseline_tandem(bencher: Bencher) {
    bench_baseline(bencher, &TANDEM);
}
