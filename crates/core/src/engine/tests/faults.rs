//! Things that break: a crash and its detection delay, availability over
//! many failures and repairs, a fail-slow station, a window of errors.

use super::*;

/// A balancer (`policy`) over `n` M/M/1 replicas (mean 10 ms), at `rate`.
fn replicas(policy: Policy, n: u32, rate: f64) -> Topology {
    let mut lb = Station::new("lb", 1, Discipline::Fifo, vec![None]);
    lb.role = Role::Balancer(Dispatch::new(policy, (1..=n).map(StationId).collect()));
    let mut stations = vec![lb];
    stations.extend((1..=n).map(|i| queue(&format!("r{i}"), 1, 0.01, Routing::exit())));
    Topology {
        stations,
        classes: jobs(rate),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    }
}

fn crash(station: u32, at: f64, lasts: f64, detect: f64, targets: Vec<(StationId, u32)>) -> Fault {
    Fault {
        stations: vec![StationId(station)],
        effect: Effect::Crash {
            detect: detect * 1e9,
            targets,
        },
        at: at * 1e9,
        lasts: Dist::constant(lasts * 1e9).unwrap(),
        every: None,
    }
}

/// One of 4 replicas (random balancing, 200/s in all: 50/s each at
/// ρ = 0.5) crashes at 100 s; the balancer notices after 5 s. The requests
/// lost are those there at the crash (an M/M/1's mean number, ρ/(1−ρ) = 1)
/// and those sent to it before detection, λ/n × detect = 250: 251 on
/// average, all failed with an error, and none after detection.
#[test]
fn a_crash_fails_what_is_sent_before_detection() {
    let mut t = replicas(Policy::Random, 4, 200.0);
    t.faults = vec![crash(2, 100.0, 50.0, 5.0, vec![(StationId(0), 1)])];
    let config = RunConfig::new(SimTime::ZERO, secs(300.0));
    let mut failed = Vec::new();
    for seed in 0..30 {
        let stats = run(&t, &config, 40 + seed).unwrap();
        let c = &stats.classes[0];
        let f = &stats.faults[0];
        assert_eq!(c.failed, f.failed + f.refused, "seed {seed}");
        assert_eq!(f.occurrences, 1);
        assert_eq!(f.active_time, 50e9);
        // Back after the crash: the replica serves again.
        assert!(stats.stations[2].departures > 0);
        failed.push(c.failed as f64);
    }
    assert_close("requests lost to the crash", mean_se(&failed), 251.0);
}

/// Without detection (the balancer never notices within the outage), a
/// quarter of what arrives during it fails: λ/n × duration + ρ/(1−ρ).
#[test]
fn an_undetected_crash_fails_its_share_for_its_whole_length() {
    let mut t = replicas(Policy::Random, 4, 200.0);
    t.faults = vec![crash(2, 100.0, 20.0, 1e6, vec![(StationId(0), 1)])];
    let config = RunConfig::new(SimTime::ZERO, secs(200.0));
    let failed: Vec<f64> = (0..30)
        .map(|seed| run(&t, &config, 80 + seed).unwrap().classes[0].failed as f64)
        .collect();
    assert_close("lost while undetected", mean_se(&failed), 50.0 * 20.0 + 1.0);
}

/// A station that fails for exp(MTTR = 10 s) after exp(MTBF = 100 s) up,
/// again and again: it is down MTTR / (MTBF + MTTR) = 1/11 of the time.
#[test]
fn availability_over_many_failures_is_mtbf_over_the_cycle() {
    let mut t = replicas(Policy::Random, 2, 0.01);
    t.faults = vec![Fault {
        stations: vec![StationId(1)],
        effect: Effect::Crash {
            detect: 0.0,
            targets: vec![(StationId(0), 0)],
        },
        at: 0.0,
        lasts: Dist::exp(10e9).unwrap(),
        every: Some(Dist::exp(100e9).unwrap()),
    }];
    let config = RunConfig::new(SimTime::ZERO, secs(50_000.0));
    let down: Vec<f64> = (0..20)
        .map(|seed| {
            let stats = run(&t, &config, seed).unwrap();
            stats.faults[0].active_time / stats.duration.0 as f64
        })
        .collect();
    // The first failure starts at 0: a 10 s head start is within noise.
    assert_close("unavailability", mean_se(&down), 10.0 / 110.0);
}

/// A station slowed × 2 for the whole run is an M/M/1 at half the speed:
/// λ = 2/s, μ = 10/s → 5/s; mean response 1/(5 − 2) = 1/3 s, utilisation
/// 0.4, as FIFO (work drawn twice as long) and as processor sharing (half
/// the speed).
#[test]
fn a_slow_station_is_a_queue_at_its_slower_speed() {
    for discipline in [Discipline::Fifo, Discipline::Ps] {
        let topology = Topology {
            stations: vec![station(
                "q",
                1,
                discipline,
                Dist::exp(0.1e9).unwrap(),
                Routing::exit(),
            )],
            classes: jobs(2.0),
            faults: vec![Fault {
                stations: vec![StationId(0)],
                effect: Effect::Slow { factor: 2.0 },
                at: 0.0,
                lasts: Dist::constant(1e15).unwrap(),
                every: None,
            }],
            autoscalers: Vec::new(),
        };
        let response = replicate(&topology, 20_000.0, 20, |s| {
            s.stations[0].response_sum / s.stations[0].departures as f64 / 1e9
        });
        assert_close(&format!("{discipline:?} response"), response, 1.0 / 3.0);
        let busy = replicate(&topology, 20_000.0, 20, |s| {
            s.stations[0].busy_area / s.duration.0 as f64
        });
        assert_close(&format!("{discipline:?} utilisation"), busy, 0.4);
    }
}

/// Errors raised to 30% for the middle third of a run: 10% of the
/// requests fail, and those only.
#[test]
fn a_window_of_errors_fails_its_share() {
    let topology = Topology {
        stations: vec![queue("q", INFINITE, 0.001, Routing::exit())],
        classes: jobs(100.0),
        faults: vec![Fault {
            stations: vec![StationId(0)],
            effect: Effect::Errors { probability: 0.3 },
            at: 100e9,
            lasts: Dist::constant(100e9).unwrap(),
            every: None,
        }],
        autoscalers: Vec::new(),
    };
    let config = RunConfig::new(SimTime::ZERO, secs(300.0));
    let share: Vec<f64> = (0..20)
        .map(|seed| {
            let s = run(&topology, &config, seed).unwrap();
            assert_eq!(s.classes[0].failed, s.stations[0].errors);
            assert_eq!(s.faults[0].failed, s.stations[0].errors);
            s.classes[0].failed as f64 / s.classes[0].arrived as f64
        })
        .collect();
    assert_close("failed share", mean_se(&share), 0.1);
}

/// Four replicas behind a random balancer (50/s each); `bad` of them fail
/// every request for the whole run, and the balancer ejects a replica
/// after 5 errors in a row, for 10 s × the times it has been ejected.
fn ejecting(bad: &[u32], max_percent: f64) -> Topology {
    let mut t = replicas(Policy::Random, 4, 200.0);
    if let Role::Balancer(d) = &mut t.stations[0].role {
        d.outlier = Some(Outlier {
            consecutive: 5,
            base: 10e9,
            max_percent,
        });
    }
    t.faults = bad
        .iter()
        .map(|&s| Fault {
            stations: vec![StationId(s)],
            effect: Effect::Errors { probability: 1.0 },
            at: 0.0,
            lasts: Dist::constant(1e15).unwrap(),
            every: None,
        })
        .collect();
    t
}

/// One replica that always fails is ejected after 5 errors, for 10, 20,
/// 30 ... s: over 300 s, 8 ejections start (10·(1 + … + 7) = 280 s ejected
/// plus the moments it takes to fail 5 in a row each time), and each costs
/// 5 failures, plus those sent to it while the fifth was still in service
/// (λ/n × its mean response, 50/s × 20 ms: one per ejection on average);
/// without ejection it fails its share, 50/s × 300 s.
#[test]
fn outlier_ejection_backs_off_a_failing_replica() {
    let config = RunConfig::new(SimTime::ZERO, secs(300.0));
    for seed in 0..10 {
        let stats = run(&ejecting(&[1], 50.0), &config, seed).unwrap();
        let (ejections, failed) = (stats.stations[0].ejections, stats.classes[0].failed);
        assert_eq!(ejections, 8, "seed {seed}");
        assert!(
            (5 * ejections..=5 * ejections + 30).contains(&failed),
            "seed {seed}: {failed} failed for {ejections} ejections"
        );
    }
    let mut without = ejecting(&[1], 50.0);
    if let Role::Balancer(d) = &mut without.stations[0].role {
        d.outlier = None;
    }
    let failed = run(&without, &config, 1).unwrap().classes[0].failed as f64;
    assert!(
        (failed - 15_000.0).abs() < 4.5 * 15_000f64.sqrt(),
        "{failed}"
    );
}

/// At most a quarter of 4 targets (one) is ejected at once: with two
/// failing replicas, one of them always takes its share while the other
/// sits out, so far more fail than when both may be ejected.
#[test]
fn outlier_ejection_keeps_most_targets_in_rotation() {
    let config = RunConfig::new(SimTime::ZERO, secs(300.0));
    let both = run(&ejecting(&[1, 2], 50.0), &config, 3).unwrap();
    let one = run(&ejecting(&[1, 2], 25.0), &config, 3).unwrap();
    assert!(both.classes[0].failed < 200, "{}", both.classes[0].failed);
    // While one is out, the other fails 50/s: most of 300 s.
    assert!(one.classes[0].failed > 10_000, "{}", one.classes[0].failed);
}
