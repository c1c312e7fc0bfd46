use super::*;

/// Requests every 10 ms, 1 ms of work each on one PS server, 1 byte
/// allocated each, a heap of 10.5 bytes: with the request itself live,
/// 9.5 bytes are free, so every 10th request starts a collection, and
/// it stops the server for 5 ms. That request takes 6 ms, the nine
/// others 1 ms: a mean of 1.5 ms, 10 pauses a second, 5% of the time.
#[test]
fn every_tenth_request_waits_for_a_pause() {
    let mut cpu = Station::new(
        "cpu",
        1,
        Discipline::Ps,
        vec![Some(Behaviour {
            work: Dist::constant(1e6).unwrap(),
            routing: Routing::exit(),
        })],
    );
    cpu.queue_mut().unwrap().gc = Some(Gc {
        heap: 10.5,
        live: 0.0,
        alloc: 1.0,
        pause_min: 5e6,
        pause_per_byte: 0.0,
        in_flight: None,
    });
    let topology = Topology {
        stations: vec![cpu],
        classes: vec![Class {
            name: "jobs".into(),
            load: Load::Open {
                process: ArrivalProcess::Constant,
                rate: 100.0,
                profile: None,
            },
            entry: StationId(0),
            priority: 0,
            deadline: None,
            rate_limit: None,
        }],
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let config = RunConfig::new(SimTime::from_secs_f64(1.005), SimTime::from_secs_f64(100.0));
    let stats = run(&topology, &config, 1).unwrap();
    let s = &stats.stations[0];
    assert_eq!(s.gc_pauses, 1000);
    assert_eq!(s.gc_pause_max, 5_000_000);
    assert!((stats.classes[0].mean_latency() - 0.0015).abs() < 1e-9);
    assert_eq!(stats.classes[0].latency_max, 6_000_000);

    // A model error: a collector on a FIFO station.
    let mut bad = topology.clone();
    bad.stations[0].queue_mut().unwrap().discipline = Discipline::Fifo;
    assert!(matches!(run(&bad, &config, 1), Err(ModelError::BadGc(_))));
}
