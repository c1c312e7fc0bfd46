use super::*;

#[test]
fn same_seed_same_result_other_seed_other_result() {
    let topology = Topology {
        stations: vec![station(
            "q",
            2,
            Discipline::Fifo,
            Dist::exp(1e9).unwrap(),
            Routing::exit(),
        )],
        classes: vec![open("jobs", 1.5, 0)],
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let config = RunConfig::new(secs(100.0), secs(10_000.0));
    let a = run(&topology, &config, 3).unwrap();
    let b = run(&topology, &config, 3).unwrap();
    let c = run(&topology, &config, 4).unwrap();
    assert_eq!(a.classes[0].latency_sum, b.classes[0].latency_sum);
    assert_eq!(a.stations[0].system_area, b.stations[0].system_area);
    assert_eq!(a.events, b.events);
    assert_ne!(a.classes[0].latency_sum, c.classes[0].latency_sum);
}

/// Conservation: every request that arrived is completed, dropped or still
/// present at the end; with no warm-up the counts must balance exactly.
#[test]
fn requests_are_conserved() {
    let mut st = station(
        "q",
        1,
        Discipline::Fifo,
        Dist::exp(1e9).unwrap(),
        Routing::exit(),
    );
    st.queue_mut().unwrap().capacity = Some(3);
    let topology = Topology {
        stations: vec![st],
        classes: vec![open("jobs", 1.2, 0)],
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let config = RunConfig::new(SimTime::ZERO, secs(5_000.0));
    let stats = run(&topology, &config, 1).unwrap();
    let c = &stats.classes[0];
    let s = &stats.stations[0];
    let in_flight = c.arrived - c.completed - c.dropped;
    assert!(in_flight <= 3, "{in_flight} still present with capacity 3");
    assert_eq!(s.arrivals, s.departures + in_flight);
    assert_eq!(s.dropped, c.dropped);
    assert!(c.dropped > 0);
}

/// Adding a station that a class never visits leaves that class's draws
/// (and so every figure) unchanged: streams are keyed by names.
#[test]
fn adding_a_station_does_not_perturb_others() {
    let base = Topology {
        stations: vec![station(
            "q",
            1,
            Discipline::Fifo,
            Dist::exp(1e9).unwrap(),
            Routing::exit(),
        )],
        classes: vec![open("jobs", 0.5, 0)],
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let mut bigger = base.clone();
    bigger.stations.insert(
        0,
        station(
            "other",
            1,
            Discipline::Fifo,
            Dist::exp(1e9).unwrap(),
            Routing::exit(),
        ),
    );
    bigger.stations[1].behaviour = base.stations[0].behaviour.clone();
    bigger.classes[0].entry = StationId(1);
    bigger.classes.push(open("extra", 0.3, 0));
    for s in &mut bigger.stations {
        s.behaviour.push(s.behaviour[0].clone());
    }
    bigger.stations[0].behaviour[0] = None;
    bigger.stations[1].behaviour[1] = None;
    let config = RunConfig::new(SimTime::ZERO, secs(2_000.0));
    let a = run(&base, &config, 9).unwrap();
    let b = run(&bigger, &config, 9).unwrap();
    assert_eq!(a.classes[0].latency_sum, b.classes[0].latency_sum);
    assert_eq!(a.classes[0].completed, b.classes[0].completed);
    assert!(b.classes[1].completed > 0);
}

/// Non-preemptive priority with two classes of exponential service, same
/// mean 1 s, at total load 0.8 (0.4 each). Cobham's formula gives
/// W_k = W0 / ((1 - s_{k-1})(1 - s_k)) with W0 = sum λ_i E[S_i²]/2 = 0.8:
/// high priority waits 0.8/0.6 = 1.333 s, low waits 0.8/(0.6·0.2) = 6.667 s.
#[test]
fn priority_matches_cobham() {
    let work = Dist::exp(1e9).unwrap();
    let st = Station::new(
        "q",
        1,
        Discipline::Priority,
        vec![
            Some(Behaviour {
                work: work.clone(),
                routing: Routing::exit(),
            }),
            Some(Behaviour {
                work,
                routing: Routing::exit(),
            }),
        ],
    );
    let mut high = open("high", 0.4, 0);
    high.priority = 1;
    let mut low = open("low", 0.4, 0);
    low.priority = 2;
    let topology = Topology {
        stations: vec![st],
        classes: vec![low, high],
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let config = RunConfig::new(secs(5_000.0), secs(400_000.0));
    let stats = run(&topology, &config, 5).unwrap();
    let w_low = stats.classes[0].mean_latency() - 1.0;
    let w_high = stats.classes[1].mean_latency() - 1.0;
    assert!((w_high - 4.0 / 3.0).abs() < 0.1, "high waits {w_high}");
    assert!((w_low - 20.0 / 3.0).abs() < 0.6, "low waits {w_low}");
}

/// M/M/1-PS has the same mean response as FIFO, 1/(μ-λ), and a mean
/// response *conditional on the work* linear in it: E[T | S=x] = x/(1-ρ).
/// With deterministic work (M/D/1-PS) every request has T mean 1/(1-ρ)·x.
#[test]
fn processor_sharing_is_exact() {
    for servers in [1u32, 2] {
        let rate = 0.7 * f64::from(servers);
        let topology = Topology {
            stations: vec![station(
                "cpu",
                servers,
                Discipline::Ps,
                Dist::constant(1e9).unwrap(),
                Routing::exit(),
            )],
            classes: vec![open("jobs", rate, 0)],
            faults: Vec::new(),
            autoscalers: Vec::new(),
        };
        let config = RunConfig::new(secs(2_000.0), secs(300_000.0));
        let stats = run(&topology, &config, 11).unwrap();
        let mean = stats.classes[0].mean_latency();
        if servers == 1 {
            // M/G/1-PS: E[T] = E[S]/(1-ρ), insensitive to the service law.
            assert!((mean - 1.0 / 0.3).abs() < 0.1, "PS c=1 mean {mean}");
        } else {
            // M/G/c-PS has the M/M/c-PS mean, Erlang-C based: L = cρ + ρC/(1-ρ).
            let (c, a) = (2.0f64, rate);
            let rho: f64 = a / c;
            let erlang_c = (a * a / 2.0) / (1.0 - rho) / (1.0 + a + (a * a / 2.0) / (1.0 - rho));
            let l = a + rho * erlang_c / (1.0 - rho);
            let expected = l / rate;
            assert!(
                (mean - expected).abs() < 0.05,
                "PS c=2 mean {mean} vs {expected}"
            );
        }
        let s = &stats.stations[0];
        let d = stats.duration;
        assert!((s.utilization(d) - 0.7).abs() < 0.01);
    }
}

#[test]
fn lifo_keeps_the_mean_but_widens_the_tail() {
    let make = |discipline| Topology {
        stations: vec![station(
            "q",
            1,
            discipline,
            Dist::exp(1e9).unwrap(),
            Routing::exit(),
        )],
        classes: vec![open("jobs", 0.8, 0)],
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let config = RunConfig::new(secs(2_000.0), secs(300_000.0));
    let fifo = run(&make(Discipline::Fifo), &config, 2).unwrap();
    let lifo = run(&make(Discipline::Lifo), &config, 2).unwrap();
    // Both have mean 1/(μ-λ) = 5 s (work-conserving, service-order independent).
    assert!((fifo.classes[0].mean_latency() - 5.0).abs() < 0.4);
    assert!((lifo.classes[0].mean_latency() - 5.0).abs() < 0.4);
    // LIFO's p99 is far larger than FIFO's exp(1/5) p99 = 5 ln 100 = 23 s.
    assert!(lifo.classes[0].latency_quantile(0.99) > 1.5 * fifo.classes[0].latency_quantile(0.99));
}

#[test]
fn closed_loss_without_think_is_refused() {
    let mut st = station(
        "q",
        1,
        Discipline::Fifo,
        Dist::exp(1e9).unwrap(),
        Routing::exit(),
    );
    st.queue_mut().unwrap().capacity = Some(2);
    let topology = Topology {
        stations: vec![st],
        classes: vec![Class {
            name: "users".into(),
            load: Load::Closed {
                population: 5,
                think: None,
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
    let config = RunConfig::new(SimTime::ZERO, secs(10.0));
    assert_eq!(
        run(&topology, &config, 1).unwrap_err(),
        ModelError::ClosedLossWithoutThink(ClassId(0))
    );
}

fn assert_send<T: Send>() {}

#[test]
fn engine_types_are_send() {
    assert_send::<Engine>();
    assert_send::<Topology>();
    assert_send::<RunStats>();
}

fn one_station(work: Dist, rate: f64) -> Topology {
    Topology {
        stations: vec![Station::new(
            "q",
            1,
            Discipline::Fifo,
            vec![Some(Behaviour {
                work,
                routing: Routing::exit(),
            })],
        )],
        classes: vec![Class {
            name: "jobs".into(),
            load: Load::Open {
                process: ArrivalProcess::Poisson,
                rate,
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

/// Service times beyond the end of time saturate instead of wrapping
/// around into the past.
#[test]
fn enormous_service_times_do_not_overflow() {
    let topology = one_station(Dist::constant(1e30).unwrap(), 1.0);
    let config = RunConfig::new(SimTime::ZERO, SimTime::from_secs_f64(100.0));
    let stats = run(&topology, &config, 1).unwrap();
    assert_eq!(stats.classes[0].completed, 0);
    assert!(stats.classes[0].arrived > 50);
    assert!((stats.stations[0].utilization(stats.duration) - 1.0).abs() < 0.05);
}

/// Warm-up deletion: only what happens after the warm-up is counted, and
/// the measured time is exactly `duration`. Arrivals in 2,000 s at 1/s are
/// Poisson(2000): within 5 standard deviations (±224) of 2,000.
#[test]
fn warmup_is_deleted() {
    let topology = one_station(Dist::exp(0.5e9).unwrap(), 1.0);
    let config = RunConfig::new(
        SimTime::from_secs_f64(5_000.0),
        SimTime::from_secs_f64(2_000.0),
    );
    let stats = run(&topology, &config, 4).unwrap();
    let arrived = stats.classes[0].arrived as f64;
    assert!((arrived - 2_000.0).abs() < 224.0, "{arrived}");
    assert_eq!(stats.duration, config.duration);
    // Utilisation is measured over the 2,000 s only: about 0.5, not 0.5 × 7000/2000.
    let u = stats.stations[0].utilization(stats.duration);
    assert!((u - 0.5).abs() < 0.05, "{u}");
    // The engine still processed the warm-up's events.
    assert!(stats.events as f64 > 2.0 * 6_000.0);
}
