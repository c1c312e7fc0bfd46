use super::*;

fn admitting(
    name: &str,
    discipline: Discipline,
    mean: f64,
    routing: Routing,
    admission: Option<Admission>,
) -> Station {
    Station {
        admission,
        ..Station::new(
            name,
            1,
            discipline,
            vec![Some(Behaviour {
                work: Dist::exp(mean * 1e9).unwrap(),
                routing,
            })],
        )
    }
}

fn config() -> RunConfig {
    RunConfig::new(
        SimTime::from_secs_f64(2_000.0),
        SimTime::from_secs_f64(400_000.0),
    )
}

/// A PS server that admits at most `w` requests, the rest waiting FIFO,
/// with exponential work: the number present is the M/M/1 birth-death
/// chain whatever `w`, so the mean end-to-end time is 1/(μ − λ) = 5 s at
/// ρ = 0.8, and the slots are busy as often as the server is.
#[test]
fn admission_in_front_of_processor_sharing_is_mm1() {
    for w in [1, 3] {
        let topology = Topology {
            stations: vec![admitting(
                "cpu",
                Discipline::Ps,
                1.0,
                Routing::exit(),
                Some(Admission::new(w, StationId(0))),
            )],
            classes: jobs(0.8),
            faults: Vec::new(),
            autoscalers: Vec::new(),
        };
        let stats = run(&topology, &config(), 21).unwrap();
        let t = stats.classes[0].mean_latency();
        assert!((t - 5.0).abs() < 0.3, "w = {w}: mean {t}");
        let s = &stats.stations[0];
        assert!(s.slot_utilization(stats.duration) <= 1.0);
        if w == 1 {
            // One slot: the slot is held exactly while the server works.
            assert!(
                (s.slot_utilization(stats.duration) - s.utilization(stats.duration)).abs() < 1e-6
            );
            // Little for the waiting line: Lq(slots) = λ Wq(slots) = M/M/1 Lq = 3.2.
            assert!((s.mean_slot_queue(stats.duration) - 3.2).abs() < 0.25);
            assert!((s.mean_slot_wait() - 4.0).abs() < 0.3);
        }
    }
}

fn pooled(reuse: bool, connect: f64, idle_timeout: Option<f64>, work: Dist) -> Station {
    Station {
        admission: Some(Admission {
            connections: Some(Connections {
                connect: connect * 1e9,
                idle_timeout: idle_timeout.map(SimTime::from_secs_f64),
                reuse,
            }),
            ..Admission::new(1, StationId(0))
        }),
        behaviour: vec![Some(Behaviour {
            work,
            routing: Routing::exit(),
        })],
        ..Station::new("db", 1, Discipline::Fifo, Vec::new())
    }
}

/// One pooled connection in front of one server with exponential work
/// (mean 1 s) at λ = 0.4. Reused, it is opened once and the station is
/// M/M/1: T = 1/(μ − λ) = 1.667 s. Without reuse every request pays a
/// 0.5 s handshake, so the service is exp(1 s) + 0.5 s (mean 1.5 s,
/// E[S²] = 1 + 2.25 = 3.25 s²) and Pollaczek–Khinchine gives
/// Wq = λE[S²]/(2(1 − ρ)) = 1.625 s at ρ = 0.6, T = 3.125 s.
#[test]
fn handshakes_lengthen_the_hold_of_a_connection() {
    for (reuse, expected) in [(true, 1.0 / 0.6), (false, 3.125)] {
        let topology = Topology {
            stations: vec![pooled(reuse, 0.5, None, Dist::exp(1e9).unwrap())],
            classes: jobs(0.4),
            faults: Vec::new(),
            autoscalers: Vec::new(),
        };
        let stats = run(&topology, &config(), 5).unwrap();
        let t = stats.classes[0].mean_latency();
        assert!((t - expected).abs() < 0.1, "reuse {reuse}: mean {t}");
        let s = &stats.stations[0];
        let connects = if reuse { 0 } else { s.admitted };
        assert_eq!(s.connects, connects, "reuse {reuse}");
    }
}

/// An idle timeout closes the pooled connection when no request comes
/// for `τ`: an arrival to an empty station (probability 1 − ρ) finds it
/// idle for an exponential time (rate λ, memoryless), so a fraction
/// (1 − ρ)·e^(−λτ) of requests open a connection. λ = 1/s, work 0.1 s,
/// τ = 1 s: 0.9/e = 0.331.
#[test]
fn idle_connections_time_out() {
    let topology = Topology {
        stations: vec![pooled(true, 0.0, Some(1.0), Dist::constant(1e8).unwrap())],
        classes: jobs(1.0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let stats = run(&topology, &config(), 9).unwrap();
    let s = &stats.stations[0];
    let fraction = s.connects as f64 / s.admitted as f64;
    let expected = 0.9 * (-1f64).exp();
    assert!(
        (fraction - expected).abs() < 0.005,
        "{fraction} vs {expected}"
    );
}

/// One slot held across two exponential stages (0.5 s each): the pair
/// behaves as one M/G/1 server with Erlang-2 service (mean 1 s, E[S²] =
/// 1.5 s²). At λ = 0.5, Pollaczek–Khinchine gives a slot wait of
/// λE[S²]/(2(1 − ρ)) = 0.75 s and an end-to-end time of 1.75 s; the
/// second stage never queues.
#[test]
fn a_slot_held_across_two_stations_is_one_server() {
    let topology = Topology {
        stations: vec![
            admitting(
                "cpu",
                Discipline::Fifo,
                0.5,
                Routing::to(StationId(1)),
                Some(Admission::new(1, StationId(1))),
            ),
            admitting("disk", Discipline::Fifo, 0.5, Routing::exit(), None),
        ],
        classes: jobs(0.5),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let stats = run(&topology, &config(), 22).unwrap();
    let t = stats.classes[0].mean_latency();
    assert!((t - 1.75).abs() < 0.06, "mean {t}");
    let cpu = &stats.stations[0];
    assert!(
        (cpu.mean_slot_wait() - 0.75).abs() < 0.05,
        "slot wait {}",
        cpu.mean_slot_wait()
    );
    assert_eq!(stats.stations[1].queue_area, 0.0);
    assert!((cpu.slot_utilization(stats.duration) - 0.5).abs() < 0.01);
}
