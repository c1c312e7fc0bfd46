//! Properties that hold for every model, checked on random topologies:
//! conservation of requests, the sample-path forms of Little's law and of the
//! utilisation law, and determinism.

use chokepoint_core::analysis::offered_load;
use chokepoint_core::dist::Dist;
use chokepoint_core::model::*;
use chokepoint_core::time::SimTime;
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct StationSpec {
    servers: u32,
    discipline: Discipline,
    capacity: Option<u32>,
    law: u8,
    exit: f64,
    back: f64,
}

fn station_spec() -> impl Strategy<Value = StationSpec> {
    (
        1u32..4,
        prop_oneof![
            Just(Discipline::Fifo),
            Just(Discipline::Lifo),
            Just(Discipline::Priority),
            Just(Discipline::Ps)
        ],
        prop::option::of(0u32..6),
        0u8..5,
        0.3f64..1.0,
        0.0f64..0.5,
    )
        .prop_map(
            |(servers, discipline, extra, law, exit, back)| StationSpec {
                servers,
                discipline,
                capacity: extra.map(|e| servers + e),
                law,
                exit,
                back,
            },
        )
}

fn work(law: u8) -> Dist {
    let mean = 1e9;
    match law {
        0 => Dist::exp(mean),
        1 => Dist::constant(mean),
        2 => Dist::uniform(0.0, 2.0 * mean),
        3 => Dist::erlang(3, mean),
        _ => Dist::hyperexp(mean, 2.0),
    }
    .unwrap()
}

/// Stations in a line, each sending on to the next, sometimes back to the
/// first, and leaving with probability `exit`; an open class and, if
/// `closed`, a closed class of five users. The open rate is scaled so that
/// the busiest station is offered `load`.
fn topology(specs: &[StationSpec], load: f64, closed: bool) -> Topology {
    let n = specs.len();
    let n_classes = if closed { 2 } else { 1 };
    let stations = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut next = Vec::new();
            let stay = 1.0 - s.exit;
            if i + 1 < n {
                next.push((StationId(i as u32 + 1), stay * (1.0 - s.back)));
            }
            if i > 0 || n == 1 {
                next.push((StationId(0), stay * s.back));
            }
            let behaviour = Behaviour {
                work: work(s.law),
                routing: Routing { next },
            };
            let mut station = Station::new(
                format!("s{i}"),
                s.servers,
                s.discipline,
                vec![Some(behaviour); n_classes],
            );
            if let Role::Queue(q) = &mut station.role {
                q.capacity = s.capacity;
            }
            station
        })
        .collect();
    let mut classes = vec![Class {
        name: "open".into(),
        load: Load::Open {
            process: ArrivalProcess::Poisson,
            rate: 1.0,
            profile: None,
        },
        entry: StationId(0),
        priority: 1,
        deadline: None,
        rate_limit: None,
    }];
    if closed {
        classes.push(Class {
            name: "users".into(),
            load: Load::Closed {
                population: 5,
                think: Some(Dist::exp(20e9).unwrap()),
                profile: None,
            },
            entry: StationId(0),
            priority: 2,
            deadline: None,
            rate_limit: None,
        });
    }
    let mut t = Topology {
        stations,
        classes,
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let busiest = offered_load(&t).into_iter().fold(0.0, f64::max);
    if let Load::Open { rate, .. } = &mut t.classes[0].load {
        *rate = load / busiest;
    }
    t
}

proptest! {
    // A fixed seed and no failure files: the suite is the same on every run.
    #![proptest_config(ProptestConfig {
        cases: 48,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn conservation_little_and_utilisation_laws(
        specs in prop::collection::vec(station_spec(), 1..4),
        load in 0.2f64..0.9,
        closed in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let topology = topology(&specs, load, closed);
        let config = RunConfig::new(SimTime::ZERO, SimTime::from_secs_f64(3_000.0));
        let stats = chokepoint_core::run(&topology, &config, seed).unwrap();

        // Conservation: requests in flight seen from the classes equal those
        // present at the stations.
        let in_flight: i64 = stats.classes.iter()
            .map(|c| c.arrived as i64 - c.completed as i64 - c.dropped as i64).sum();
        let present: i64 = stats.stations.iter().map(|s| s.arrivals as i64 - s.departures as i64).sum();
        prop_assert!(in_flight >= 0);
        prop_assert_eq!(in_flight, present);
        let dropped_at_stations: u64 = stats.stations.iter().map(|s| s.dropped).sum();
        let dropped_in_classes: u64 = stats.classes.iter().map(|c| c.dropped).sum();
        prop_assert_eq!(dropped_at_stations, dropped_in_classes);

        for s in &stats.stations {
            // Little's law on a sample path from an empty start: the area
            // under N(t) is the sum of the completed visits' times plus the
            // time already spent by the visits still present, so it is at
            // least the former (up to rounding of half a nanosecond per visit).
            let slack = 1.0 * s.departures as f64 + 1.0;
            prop_assert!(s.system_area + slack >= s.response_sum, "{}: {} < {}", s.name, s.system_area, s.response_sum);
            // Utilisation law likewise: busy server-time covers the work of the
            // completed visits (response − wait is the work, for every discipline).
            prop_assert!(s.busy_area + slack >= s.response_sum - s.wait_sum);
            prop_assert!(s.queue_area + slack >= s.wait_sum);
            // Waiting never exceeds being present, busy servers never exceed servers.
            prop_assert!(s.queue_area <= s.system_area + slack);
            prop_assert!(s.busy_area <= f64::from(s.servers) * config.duration.as_nanos() as f64 + slack);
            // And the in-flight remainder is small next to the whole, except
            // under LIFO, where a request buried in a long busy period can
            // stay for a large part of the run.
            let lifo = specs[stats.stations.iter().position(|x| x.name == s.name).unwrap()].discipline == Discipline::Lifo;
            if s.departures > 1000 && !lifo {
                let gap = (s.system_area - s.response_sum) / s.system_area;
                prop_assert!(gap < 0.05, "{}: Little gap {gap}", s.name);
            }
        }

        // Determinism.
        let again = chokepoint_core::run(&topology, &config, seed).unwrap();
        prop_assert_eq!(stats.events, again.events);
        prop_assert_eq!(stats.classes[0].latency_sum.to_bits(), again.classes[0].latency_sum.to_bits());
    }
}

#[derive(Clone, Debug)]
struct CallSpec {
    /// Backends called (1 to 3), each maybe with a capacity and an error rate.
    backends: Vec<(Option<u32>, f64)>,
    /// Replies awaited (0: a send).
    wait: u32,
    probability: f64,
    /// The caller's workers, held through the call.
    slots: u32,
    /// A nested call from the first backend to a last one.
    nested: bool,
}

fn call_spec() -> impl Strategy<Value = CallSpec> {
    (
        prop::collection::vec(
            (
                prop::option::of(1u32..3),
                prop_oneof![Just(0.0), 0.0f64..0.3],
            ),
            1..4,
        ),
        0u32..4,
        prop_oneof![Just(1.0), 0.2f64..1.0],
        1u32..5,
        any::<bool>(),
    )
        .prop_map(|(backends, wait, probability, slots, nested)| {
            let wait = wait.min(backends.len() as u32);
            CallSpec {
                backends,
                wait,
                probability,
                slots,
                nested,
            }
        })
}

/// A caller (its workers held through the call) → a call point → backends
/// (exponential, 1 s, some with a capacity that drops and an error rate),
/// the first of which may itself call a last station; an open class at a
/// light load and a closed class of five users.
fn request_path(spec: &CallSpec) -> Topology {
    let k = spec.backends.len() as u32;
    let classes = 2;
    let plain = |name: String, servers: u32, routing: Routing| {
        Station::new(
            name,
            servers,
            Discipline::Fifo,
            vec![
                Some(Behaviour {
                    work: Dist::exp(0.5e9).unwrap(),
                    routing
                });
                classes
            ],
        )
    };
    let mut caller = plain("caller".into(), spec.slots, Routing::to(StationId(1)));
    caller.admission = Some(Admission::new(spec.slots, StationId(1)));
    let mut call = plain("caller.call".into(), 1, Routing::exit());
    call.role = Role::Call(CallPoint {
        targets: (2..2 + k).map(StationId).collect(),
        wait: spec.wait,
        choose: None,
        probability: vec![spec.probability; classes],
        work: None,
        timeout: None,
        retry: None,
        hedge: None,
        breaker: None,
    });
    let mut stations = vec![caller, call];
    let last = 2 + k + 1;
    for (i, &(capacity, error)) in spec.backends.iter().enumerate() {
        let routing = if i == 0 && spec.nested {
            Routing::to(StationId(2 + k))
        } else {
            Routing::exit()
        };
        let mut b = plain(format!("backend{i}"), 2, routing);
        b.queue_mut().unwrap().capacity = capacity.map(|c| c + 1);
        b.error = error;
        stations.push(b);
    }
    // The first backend's nested call, to `last`.
    let mut nested = plain("backend0.call".into(), 1, Routing::exit());
    nested.role = Role::Call(CallPoint::to(StationId(last), classes));
    stations.push(nested);
    stations.push(plain("last".into(), 1, Routing::exit()));
    Topology {
        stations,
        classes: vec![
            Class {
                name: "open".into(),
                load: Load::Open {
                    process: ArrivalProcess::Poisson,
                    rate: 0.3,
                    profile: None,
                },
                entry: StationId(0),
                priority: 0,
                deadline: None,
                rate_limit: None,
            },
            Class {
                name: "users".into(),
                load: Load::Closed {
                    population: 5,
                    think: Some(Dist::exp(20e9).unwrap()),
                    profile: None,
                },
                entry: StationId(0),
                priority: 0,
                deadline: None,
                rate_limit: None,
            },
        ],
        faults: Vec::new(),
        autoscalers: Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0xca11),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Calls, forks, sends, drops and errors in any combination: nothing
    /// panics, every request ends one way or another, no worker slot leaks
    /// (a leak would starve the caller and pile requests up), the laws hold
    /// at every station, and the run is deterministic.
    #[test]
    fn calls_conserve_requests_and_slots(spec in call_spec(), seed in any::<u64>()) {
        let topology = request_path(&spec);
        prop_assert!(topology.validate().is_ok());
        let config = RunConfig::new(SimTime::ZERO, SimTime::from_secs_f64(3_000.0));
        let stats = chokepoint_core::run(&topology, &config, seed).unwrap();
        for c in &stats.classes {
            let ended = c.completed + c.dropped + c.failed;
            prop_assert!(ended <= c.arrived, "{}: {} ended of {}", c.name, ended, c.arrived);
            // What is still in flight at the end is a handful, not a pile.
            prop_assert!(c.arrived - ended < 60, "{}: {} in flight", c.name, c.arrived - ended);
            prop_assert!(c.completed > 0);
        }
        let caller = &stats.stations[0];
        let horizon = config.duration.as_nanos() as f64;
        prop_assert!(caller.slots_area <= f64::from(spec.slots) * horizon + 1.0);
        for s in &stats.stations {
            let slack = s.departures as f64 + 1.0;
            prop_assert!(s.departures <= s.arrivals);
            prop_assert!(s.system_area + slack >= s.response_sum, "{}: {} < {}", s.name, s.system_area, s.response_sum);
        }
        let errors: u64 = stats.stations.iter().map(|s| s.errors).sum();
        if spec.backends.iter().all(|b| b.1 == 0.0) {
            prop_assert_eq!(errors, 0);
        }
        let again = chokepoint_core::run(&topology, &config, seed).unwrap();
        prop_assert_eq!(stats.events, again.events);
        prop_assert_eq!(stats.classes[0].latency_sum.to_bits(), again.classes[0].latency_sum.to_bits());
    }
}

#[derive(Clone, Debug)]
struct DataSpec {
    /// `None`: a fixed hit ratio; else (keys, capacity, zipf, ttl in s).
    lru: Option<(u32, u32, f64, Option<f64>)>,
    hit_ratio: f64,
    policy: u8,
    /// Connections at the database, reused or not, with an idle timeout.
    slots: u32,
    reuse: bool,
    idle_timeout: Option<f64>,
    /// A heap (bytes, in units of one request's allocation) or none.
    heap: Option<f64>,
    /// The database's visits also pass a follower, half of the time.
    replicated: bool,
}

fn data_spec() -> impl Strategy<Value = DataSpec> {
    (
        prop::option::of((
            1u32..200,
            1u32..100,
            0.0f64..1.5,
            prop::option::of(0.5f64..20.0),
        )),
        0.0f64..1.0,
        0u8..3,
        1u32..5,
        any::<bool>(),
        prop::option::of(0.1f64..5.0),
        prop::option::of(2.0f64..20.0),
        any::<bool>(),
    )
        .prop_map(
            |(lru, hit_ratio, policy, slots, reuse, idle_timeout, heap, replicated)| DataSpec {
                lru,
                hit_ratio,
                policy,
                slots,
                reuse,
                idle_timeout,
                heap,
                replicated,
            },
        )
}

/// Readers and writers at a cache whose misses (and writes that go through)
/// call a database: pooled connections with a connect cost, processor
/// sharing with a collected heap, and maybe a follower checking stale reads.
fn data_tier(spec: &DataSpec) -> Topology {
    let classes = 2;
    let plain = |name: &str, servers: u32, discipline, mean: f64, routing: Routing| {
        Station::new(
            name,
            servers,
            discipline,
            vec![
                Some(Behaviour {
                    work: Dist::exp(mean * 1e9).unwrap(),
                    routing
                });
                classes
            ],
        )
    };
    let mut cache = plain("cache", 1, Discipline::Fifo, 0.05, Routing::exit());
    cache.queue_mut().unwrap().cache = Some(Cache {
        contents: match spec.lru {
            Some((keys, capacity, zipf, ttl)) => CacheContents::Lru {
                keys: Popularity { count: keys, zipf },
                capacity,
                ttl: ttl.map(SimTime::from_secs_f64),
            },
            None => CacheContents::HitRatio(spec.hit_ratio),
        },
        ops: vec![Op::Read, Op::Write],
        write_policy: match spec.policy {
            0 => WritePolicy::Invalidate,
            1 => WritePolicy::WriteThrough,
            _ => WritePolicy::WriteBack {
                batch: 3,
                interval: SimTime::from_secs_f64(2.0),
            },
        },
        backing: StationId(1),
        writes_per_read: 0.0,
        shard: None,
    });
    let mut call = plain("cache.call", 1, Discipline::Fifo, 1.0, Routing::exit());
    call.role = Role::Call(CallPoint::to(StationId(2), classes));
    let follower = Routing {
        next: if spec.replicated {
            vec![(StationId(3), 0.5)]
        } else {
            Vec::new()
        },
    };
    let mut db = plain("db", 2, Discipline::Ps, 0.2, follower);
    db.admission = Some(Admission {
        connections: Some(Connections {
            connect: 0.05e9,
            idle_timeout: spec.idle_timeout.map(SimTime::from_secs_f64),
            reuse: spec.reuse,
        }),
        ..Admission::new(spec.slots, StationId(2))
    });
    db.queue_mut().unwrap().gc = spec.heap.map(|heap| Gc {
        heap,
        live: 0.5,
        alloc: 1.0,
        pause_min: 0.1e9,
        pause_per_byte: 0.01e9,
        in_flight: Some(StationId(2)),
    });
    let mut stations = vec![cache, call, db];
    if spec.replicated {
        stations[2].queue_mut().unwrap().replication = Some(Replication::Leader {
            keys: Popularity {
                count: 20,
                zipf: 0.5,
            },
            lag: Dist::exp(0.3e9).unwrap(),
        });
        let mut replica = plain("replica", 1, Discipline::Fifo, 0.05, Routing::exit());
        replica.queue_mut().unwrap().replication = Some(Replication::Follower {
            leader: StationId(2),
        });
        stations.push(replica);
    }
    let open = |name: &str, rate: f64| Class {
        name: name.into(),
        load: Load::Open {
            process: ArrivalProcess::Poisson,
            rate,
            profile: None,
        },
        entry: StationId(0),
        priority: 0,
        deadline: None,
        rate_limit: None,
    };
    Topology {
        stations,
        classes: vec![open("reads", 2.0), open("writes", 0.5)],
        faults: Vec::new(),
        autoscalers: Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0xda7a),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Caches, connection pools, collected heaps and replication in any
    /// combination: nothing panics, every cache visit is a hit, a miss or a
    /// write, no connection leaks and no more are opened than taken, pauses
    /// fit in the run, stale reads are reads, the time series tiles the
    /// run, and the run is deterministic.
    #[test]
    fn data_tier_counts_add_up(spec in data_spec(), seed in any::<u64>()) {
        let topology = data_tier(&spec);
        prop_assert!(topology.validate().is_ok());
        let config = RunConfig {
            window: Some(SimTime::from_secs_f64(300.0)),
            ..RunConfig::new(SimTime::ZERO, SimTime::from_secs_f64(3_000.0))
        };
        let stats = chokepoint_core::run(&topology, &config, seed).unwrap();
        let horizon = config.duration.as_nanos() as f64;
        let cache = &stats.stations[0];
        let c = cache.cache.as_ref().unwrap();
        prop_assert_eq!(c.hits + c.misses + c.writes, cache.departures);
        prop_assert!(c.flushed <= c.writes);
        let db = &stats.stations[2];
        prop_assert!(db.slots_area <= f64::from(spec.slots) * horizon + 1.0);
        prop_assert!(db.connects <= db.admitted);
        if spec.reuse && spec.idle_timeout.is_none() {
            prop_assert!(db.connects <= u64::from(spec.slots));
        }
        prop_assert!(db.gc_pause_sum <= horizon + 1e9);
        if spec.heap.is_none() {
            prop_assert_eq!(db.gc_pauses, 0);
        }
        if let Some(replica) = stats.stations.get(3) {
            prop_assert!(replica.stale_reads <= replica.replica_reads);
            prop_assert_eq!(replica.replica_reads, replica.departures);
            prop_assert_eq!(db.replicated_writes, db.departures);
        }
        for s in &stats.stations {
            let slack = s.departures as f64 + 1.0;
            prop_assert!(s.system_area + slack >= s.response_sum, "{}: {} < {}", s.name, s.system_area, s.response_sum);
        }
        // Windows of 300 s tile the 3000 s run.
        prop_assert_eq!(stats.series.len(), 10);
        for (ci, class) in stats.classes.iter().enumerate() {
            let completed: u64 = stats.series.iter().map(|w| w.completed[ci]).sum();
            prop_assert_eq!(completed, class.completed);
        }
        let hits: u64 = stats.series.iter().map(|w| w.hits[0]).sum();
        prop_assert_eq!(hits, c.hits);
        // The windows' areas add up to the run's (read without advancing
        // the stations: recording a series changes no figure).
        for (si, s) in stats.stations.iter().enumerate() {
            let busy: f64 = stats.series.iter().map(|w| w.busy_area[si]).sum();
            let present: f64 = stats.series.iter().map(|w| w.system_area[si]).sum();
            let waiting: f64 = stats.series.iter().map(|w| w.slot_queue_area[si]).sum();
            prop_assert!((waiting - s.slot_queue_area).abs() <= 1e-9 * s.slot_queue_area.max(1.0), "{}: {waiting} vs {}", s.name, s.slot_queue_area);
            prop_assert!((busy - s.busy_area).abs() <= 1e-9 * s.busy_area.max(1.0), "{}: {busy} vs {}", s.name, s.busy_area);
            prop_assert!((present - s.system_area).abs() <= 1e-9 * s.system_area.max(1.0), "{}: {present} vs {}", s.name, s.system_area);
        }
        // Each window's percentiles are of its own completions.
        for w in &stats.series {
            for (ci, class) in stats.classes.iter().enumerate() {
                let (p50, p99) = (w.latency_p50[ci], w.latency_p99[ci]);
                if w.completed[ci] == 0 {
                    prop_assert!(p50.is_nan() && p99.is_nan());
                } else {
                    // Within the histogram's resolution of the largest.
                    prop_assert!(p50 <= p99 && p99 <= class.latency_max as f64 * 1.001 + 1.0, "{p50} {p99} {}", class.latency_max);
                }
            }
        }
        for (ci, class) in stats.classes.iter().enumerate() {
            let failed: u64 = stats.series.iter().map(|w| w.failed[ci]).sum();
            prop_assert_eq!(failed, class.failed + class.timed_out + class.dropped + class.rejected);
        }
        let unrecorded = chokepoint_core::run(&topology, &RunConfig { window: None, ..config }, seed).unwrap();
        prop_assert_eq!(unrecorded.stations[0].busy_area.to_bits(), cache.busy_area.to_bits());
        let again = chokepoint_core::run(&topology, &config, seed).unwrap();
        prop_assert_eq!(stats.events, again.events);
        prop_assert_eq!(stats.classes[0].latency_sum.to_bits(), again.classes[0].latency_sum.to_bits());
    }
}
