//! Runs that stop early: past their limit on requests held, or when their
//! watcher says so.

use super::*;
use crate::stats::{Stop, Stopped};

/// M/M/1 at λ = 10/s, μ = 1/s: its queue grows by λ − μ = 9 requests per
/// second, so it reaches 1,000 requests after about 1000/9 = 111.1 s
/// (first passage of a random walk with drift 9 and variance 11 per
/// second: standard deviation √(1000 · 11 / 9³) = 3.9 s). The run stops
/// there, names the station, and measured from the end of its warm-up.
#[test]
fn an_overloaded_run_stops_at_its_limit() {
    let topology = Topology {
        stations: vec![queue("q", 1, 1.0, Routing::exit())],
        classes: jobs_at(10.0, 0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let config = RunConfig {
        max_in_system: 1000,
        ..RunConfig::new(secs(50.0), secs(1e6))
    };
    let n = 30;
    let mut at = Vec::new();
    for seed in 0..n {
        let stats = run(&topology, &config, seed).unwrap();
        let Some(Stopped {
            cause: Stop::InSystem { limit },
            at: stopped,
            asked,
        }) = stats.stopped
        else {
            panic!("not stopped: {:?}", stats.stopped);
        };
        assert_eq!((limit, stats.stations[0].present_at_end), (1000, 1000));
        assert_eq!(asked, secs(1e6));
        // Measured from the end of the warm-up to the stop.
        assert_eq!(stats.duration.0, stopped.0 - secs(50.0).0);
        let c = &stats.classes[0];
        assert_eq!(
            stats.stations[0].arrivals - stats.stations[0].departures,
            1000 - first_present(&topology, &config, seed)
        );
        assert!(c.arrived >= c.completed);
        at.push(stopped.as_secs_f64());
    }
    let e = mean_and_sd(&at);
    let expected = 1000.0 / 9.0;
    assert!(
        (e.0 - expected).abs() < 3.9 * e.1 / (n as f64).sqrt() + 0.5,
        "stopped at {} s on average, expected {expected}",
        e.0
    );
}

/// Requests present at the end of the warm-up of the same run (a run
/// stopped at its end), so that the conservation above can be checked.
fn first_present(topology: &Topology, config: &RunConfig, seed: u64) -> u64 {
    let stats = run(
        topology,
        &RunConfig {
            max_in_system: config.max_in_system,
            ..RunConfig::new(SimTime::ZERO, config.warmup)
        },
        seed,
    )
    .unwrap();
    let s = &stats.stations[0];
    s.arrivals - s.departures
}

fn mean_and_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// A run stopped during its warm-up measured from its start.
#[test]
fn a_run_stopped_in_its_warmup_measured_from_its_start() {
    let topology = Topology {
        stations: vec![queue("q", 1, 1.0, Routing::exit())],
        classes: jobs_at(10.0, 0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let config = RunConfig {
        max_in_system: 100,
        ..RunConfig::new(secs(1000.0), secs(1000.0))
    };
    let stats = run(&topology, &config, 1).unwrap();
    let stopped = stats.stopped.expect("stopped");
    assert!(stopped.at < secs(1000.0));
    assert_eq!(stats.duration, stopped.at);
    assert_eq!(stats.first_half, SimTime::ZERO);
    // Nothing was reset: every arrival since the start is counted.
    let s = &stats.stations[0];
    assert_eq!(s.arrivals - s.departures, 100);
}

/// A watcher that never stops changes nothing; one that stops is obeyed at
/// its next look, every `WATCH_EVERY` events.
#[test]
fn a_watcher_sees_the_run_and_may_stop_it() {
    let topology = Topology {
        stations: vec![queue("q", 2, 1.0, Routing::exit())],
        classes: jobs_at(1.5, 0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let config = RunConfig::new(secs(100.0), secs(20_000.0));
    let plain = run(&topology, &config, 7).unwrap();
    let looks = std::cell::Cell::new(0u64);
    let watched = run_watched(&topology, &config, 7, &|_| {
        looks.set(looks.get() + 1);
        None
    })
    .unwrap();
    assert_eq!(plain.classes[0].latency_sum, watched.classes[0].latency_sum);
    assert_eq!(plain.stations[0].busy_area, watched.stations[0].busy_area);
    assert_eq!(plain.events, watched.events);
    assert!(watched.stopped.is_none());
    assert!(looks.get() >= plain.events / u64::from(WATCH_EVERY));
    // Stopped once past 5,000 s of simulated time, at the next look: within
    // the time WATCH_EVERY events take (about 3 per simulated second).
    let stopped = run_watched(&topology, &config, 7, &|now| {
        (now > secs(5_000.0)).then_some(Stop::TimeLimit)
    })
    .unwrap();
    let s = stopped.stopped.expect("stopped");
    assert_eq!(s.cause, Stop::TimeLimit);
    let per_sec = plain.events as f64 / 20_100.0;
    let between_looks = secs(1.2 * f64::from(WATCH_EVERY) / per_sec);
    assert!(
        s.at > secs(5_000.0) && s.at.0 < secs(5_000.0).0 + between_looks.0,
        "{:?}",
        s.at
    );
    assert_eq!(stopped.duration.0, s.at.0 - secs(100.0).0);
    // Its figures are those of a shorter run: the arrival rate still holds.
    let rate = stopped.classes[0].arrived as f64 / stopped.duration.as_secs_f64();
    assert!((rate - 1.5).abs() < 0.1, "{rate}");
}
