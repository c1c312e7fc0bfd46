//! Load that changes over a run: arrivals follow each profile window by
//! window, and a step above capacity builds and drains the backlog the
//! fluid approximation predicts.

use super::*;

const S: f64 = 1e9;

/// A rate per second as a function of seconds, written independently of
/// [`Profile`].
type Rate = Box<dyn Fn(f64) -> f64>;

/// A class whose rate follows `profile` (its `rate` is the peak).
fn profiled(process: ArrivalProcess, profile: Profile) -> Vec<Class> {
    let mut class = open("jobs", profile.peak(), 0);
    class.load = Load::Open {
        process,
        rate: profile.peak(),
        profile: Some(profile),
    };
    vec![class]
}

/// Requests that leave at once: a window's completions are its arrivals.
fn counter() -> Station {
    station(
        "count",
        INFINITE,
        Discipline::Fifo,
        Dist::constant(0.0).unwrap(),
        Routing::exit(),
    )
}

/// Arrivals per `window` seconds over `seconds`, in one run.
fn counts(classes: Vec<Class>, seconds: f64, window: f64, seed: u64) -> Vec<u64> {
    let topology = Topology {
        stations: vec![counter()],
        classes,
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let config = RunConfig {
        window: Some(secs(window)),
        ..RunConfig::new(SimTime::ZERO, secs(seconds))
    };
    let stats = run(&topology, &config, seed).unwrap();
    stats.series.iter().map(|w| w.completed[0]).collect()
}

/// ∫ rate over [a, b] seconds, by Simpson's rule on 2,000 panels (the
/// rates below are smooth between their corners, which fall on panel
/// edges).
fn integral(rate: &dyn Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    let n = 2000;
    let h = (b - a) / n as f64;
    let mut sum = rate(a) + rate(b - 1e-12);
    for i in 1..n {
        let x = a + i as f64 * h;
        sum += rate(x) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    sum * h / 3.0
}

/// Poisson counts per window against the integral of `rate` over each:
/// every window within 4.5 standard deviations, and the sum of squared z
/// within five standard deviations of its chi-squared mean.
fn assert_follows(what: &str, observed: &[u64], window: f64, rate: &dyn Fn(f64) -> f64) {
    let mut chi2 = 0.0;
    for (i, &n) in observed.iter().enumerate() {
        let a = i as f64 * window;
        let expected = integral(rate, a, a + window);
        let z = (n as f64 - expected) / expected.sqrt();
        assert!(
            z.abs() < 4.5,
            "{what}: window {i} ({a} s): {n} arrivals, expected {expected:.1} (z = {z:.2})"
        );
        chi2 += z * z;
    }
    let k = observed.len() as f64;
    assert!(
        (chi2 - k).abs() < 5.0 * (2.0 * k).sqrt(),
        "{what}: chi-squared {chi2:.1} over {k} windows"
    );
}

/// Steps, a ramp, a spike and a diurnal cycle: each window's count of
/// arrivals is Poisson with the profile's integral over it as mean.
#[test]
fn arrivals_follow_each_profile_shape() {
    let shapes: Vec<(&str, Profile, Rate)> = vec![
        (
            "steps",
            Profile::Points(vec![
                (0.0, 20.0),
                (200.0 * S, 20.0),
                (200.0 * S, 60.0),
                (400.0 * S, 60.0),
                (400.0 * S, 10.0),
            ]),
            Box::new(|t| {
                if t < 200.0 {
                    20.0
                } else if t < 400.0 {
                    60.0
                } else {
                    10.0
                }
            }),
        ),
        (
            "ramp",
            Profile::Points(vec![(100.0 * S, 10.0), (500.0 * S, 90.0)]),
            Box::new(|t: f64| 10.0 + 80.0 * ((t - 100.0) / 400.0).clamp(0.0, 1.0)),
        ),
        (
            "spike",
            Profile::Points(vec![
                (0.0, 20.0),
                (250.0 * S, 20.0),
                (250.0 * S, 100.0),
                (300.0 * S, 100.0),
                (300.0 * S, 20.0),
            ]),
            Box::new(|t| {
                if (250.0..300.0).contains(&t) {
                    100.0
                } else {
                    20.0
                }
            }),
        ),
        (
            "diurnal",
            Profile::Diurnal {
                mean: 50.0,
                amplitude: 40.0,
                period: 300.0 * S,
                peak_at: 100.0 * S,
            },
            Box::new(|t: f64| 50.0 + 40.0 * (std::f64::consts::TAU * (t - 100.0) / 300.0).cos()),
        ),
    ];
    for (i, (name, profile, rate)) in shapes.into_iter().enumerate() {
        let observed = counts(
            profiled(ArrivalProcess::Poisson, profile),
            600.0,
            10.0,
            11 + i as u64,
        );
        assert_eq!(observed.len(), 60, "{name}");
        assert_follows(name, &observed, 10.0, &*rate);
    }
}

/// Evenly spaced arrivals at the current rate: each window holds its rate
/// times its length, give or take the one that straddles its edge.
#[test]
fn constant_arrivals_are_evenly_spaced_at_the_current_rate() {
    let profile = Profile::Points(vec![(0.0, 20.0), (30.0 * S, 20.0), (30.0 * S, 50.0)]);
    let observed = counts(profiled(ArrivalProcess::Constant, profile), 60.0, 10.0, 1);
    assert_eq!(observed.len(), 6);
    for (i, &n) in observed.iter().enumerate() {
        let expected = if i < 3 { 200.0 } else { 500.0 };
        assert!(
            (n as f64 - expected).abs() <= 1.0,
            "window {i}: {n}, expected {expected}"
        );
    }
}

/// Evenly spaced under a diurnal cycle: by any time t, ⌊Λ(t)⌋ arrivals
/// have come, Λ the integral of the rate (computed here by Simpson's rule).
#[test]
fn constant_arrivals_follow_a_diurnal_cycle_exactly() {
    let day = Profile::Diurnal {
        mean: 40.0,
        amplitude: 40.0,
        period: 120.0 * S,
        peak_at: 30.0 * S,
    };
    let rate = |t: f64| 40.0 + 40.0 * (std::f64::consts::TAU * (t - 30.0) / 120.0).cos();
    let observed = counts(profiled(ArrivalProcess::Constant, day), 240.0, 5.0, 1);
    let mut so_far = 0;
    for (i, &n) in observed.iter().enumerate() {
        so_far += n;
        let expected = integral(&rate, 0.0, (i + 1) as f64 * 5.0);
        assert!(
            (so_far as f64 - expected.floor()).abs() <= 1.0,
            "by {} s: {so_far} arrivals, expected ⌊{expected:.3}⌋",
            (i + 1) * 5
        );
    }
}

/// A profile whose rate falls to zero for good stops arriving; one that is
/// zero for a while resumes after.
#[test]
fn a_rate_of_zero_pauses_or_ends_the_arrivals() {
    let pause = Profile::Points(vec![
        (0.0, 30.0),
        (10.0 * S, 30.0),
        (10.0 * S, 0.0),
        (20.0 * S, 0.0),
        (20.0 * S, 30.0),
        (30.0 * S, 30.0),
        (30.0 * S, 0.0),
    ]);
    for process in [ArrivalProcess::Poisson, ArrivalProcess::Constant] {
        let observed = counts(profiled(process, pause.clone()), 50.0, 10.0, 3);
        // Evenly spaced arrivals may fall on the very edge where the rate
        // drops (the 300th of a window at 30/s is due at its end).
        let edge = u64::from(process == ArrivalProcess::Constant);
        assert!(
            observed[1] <= edge,
            "{process:?}: {observed:?} while the rate is zero"
        );
        assert!(
            observed[3] + observed[4] <= edge,
            "{process:?}: {observed:?} after it ends"
        );
        for w in [0, 2] {
            let z = (observed[w] as f64 - 300.0) / 300f64.sqrt();
            assert!(z.abs() < 4.5, "{process:?}: window {w}: {}", observed[w]);
        }
    }
}

/// An M/M/1 (μ = 100/s) at λ₀ = 50/s, stepped to λ₁ = 150/s for T = 100 s
/// and back: the backlog built is (λ₁ − μ)·T = 5,000 requests (the fluid
/// approximation; the walk's drift is exact in expectation once the queue
/// no longer empties), and it drains in backlog / (μ − λ₀) = 100 s (Wald's
/// identity for the first passage to zero).
#[test]
fn a_step_above_capacity_builds_and_drains_the_fluid_backlog() {
    let profile = Profile::Points(vec![
        (0.0, 50.0),
        (100.0 * S, 50.0),
        (100.0 * S, 150.0),
        (200.0 * S, 150.0),
        (200.0 * S, 50.0),
    ]);
    let topology = Topology {
        stations: vec![queue("q", 1, 0.01, Routing::exit())],
        classes: profiled(ArrivalProcess::Poisson, profile),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    topology.validate().unwrap();
    let (mut backlog, mut drain) = (Vec::new(), Vec::new());
    for seed in 0..20 {
        let mut e = Engine::new(&topology, 100 + seed);
        e.schedule_arrival(0);
        e.step_until(secs(200.0).0);
        backlog.push(f64::from(e.stations[0].n));
        // The first tenth of a second at which it is empty again.
        let mut t = 200.0;
        while e.stations[0].n > 0 {
            t += 0.1;
            e.step_until(secs(t).0);
            assert!(t < 1000.0, "seed {seed}: never drained");
        }
        drain.push(t - 200.0 - 0.05);
    }
    assert_close("backlog after the step", mean_se(&backlog), 5000.0);
    assert_close("drain time", mean_se(&drain), 100.0);
}

/// The rate and mean rate of a profile, by hand.
#[test]
fn a_profile_s_rate_and_mean_by_hand() {
    let ramp = Profile::Points(vec![(10.0 * S, 0.0), (20.0 * S, 100.0)]);
    assert_eq!(ramp.rate_at(0.0), 0.0);
    assert_eq!(ramp.rate_at(15.0 * S), 50.0);
    assert_eq!(ramp.rate_at(30.0 * S), 100.0);
    // 0 for 10 s, a triangle of 500, then 100 for 10 s: 1,500 over 30 s.
    assert!((ramp.mean_over(30.0 * S) - 50.0).abs() < 1e-9);
    let step = Profile::Points(vec![(0.0, 10.0), (5.0 * S, 10.0), (5.0 * S, 30.0)]);
    assert_eq!(step.rate_at(5.0 * S), 30.0);
    assert!((step.mean_over(10.0 * S) - 20.0).abs() < 1e-9);
    assert_eq!(step.peak(), 30.0);
    // A whole period averages to the mean.
    let day = Profile::Diurnal {
        mean: 50.0,
        amplitude: 20.0,
        period: 100.0 * S,
        peak_at: 30.0 * S,
    };
    assert!((day.mean_over(200.0 * S) - 50.0).abs() < 1e-9);
    assert!((day.rate_at(30.0 * S) - 70.0).abs() < 1e-9);
    assert!((day.rate_at(80.0 * S) - 30.0).abs() < 1e-9);
}

/// Each window of a time series has its own latency percentiles: in an
/// M/M/1 queue at ρ = 0.5 (1 ms of work), the sojourn time is exponential
/// with rate μ − λ, so the median is ln 2 / 500 s and the 99th percentile
/// ln 100 / 500 s; averaged over 20-second windows (10,000 completions
/// each), then over replications.
#[test]
fn each_window_has_its_own_percentiles() {
    let topology = Topology {
        stations: vec![queue("q", 1, 0.001, Routing::exit())],
        classes: jobs(500.0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let config = RunConfig {
        window: Some(secs(20.0)),
        ..RunConfig::new(secs(20.0), secs(400.0))
    };
    let per_window = |q: fn(&Window) -> f64| {
        let xs: Vec<f64> = (0..8)
            .map(|seed| {
                let stats = run(&topology, &config, 70 + seed).unwrap();
                // The warm-up's window left out.
                let measured = &stats.series[1..];
                assert_eq!(measured.len(), 20);
                measured.iter().map(q).sum::<f64>() / measured.len() as f64
            })
            .collect();
        mean_se(&xs)
    };
    let p50 = per_window(|w| w.latency_p50[0] / S);
    let p99 = per_window(|w| w.latency_p99[0] / S);
    assert_close("median per window", p50, 2f64.ln() / 500.0);
    assert_close("p99 per window", p99, 100f64.ln() / 500.0);
}

/// A closed class whose users come and go: 10 users, 30 from 100 s, 5 from
/// 200 s, each thinking exp(1 s) then spending exp(1 s) at a delay station,
/// so a user sends a request every 2 s on average: 5, 15, then 2.5
/// completions per second (the interactive response time law,
/// X = N / (Z + R)), window by window once the change has settled (a user
/// leaving does so when it next acts, within seconds).
#[test]
fn a_population_that_changes_sets_the_throughput() {
    let mut class = open("users", 1.0, 0);
    class.load = Load::Closed {
        population: 30,
        think: Some(Dist::exp(S).unwrap()),
        profile: Some(Profile::Points(vec![
            (0.0, 10.0),
            (100.0 * S, 10.0),
            (100.0 * S, 30.0),
            (200.0 * S, 30.0),
            (200.0 * S, 5.0),
        ])),
    };
    let topology = Topology {
        stations: vec![queue("delay", INFINITE, 1.0, Routing::exit())],
        classes: vec![class],
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let config = RunConfig {
        window: Some(secs(10.0)),
        ..RunConfig::new(SimTime::ZERO, secs(300.0))
    };
    let users = |w: usize| match w {
        0..10 => 10.0,
        10..20 => 30.0,
        _ => 5.0,
    };
    let mut observed = [0.0; 30];
    let reps = 20;
    for seed in 0..reps {
        let stats = run(&topology, &config, 500 + seed).unwrap();
        for (w, x) in stats.series.iter().enumerate() {
            observed[w] += x.completed[0] as f64;
        }
    }
    for (w, &n) in observed.iter().enumerate() {
        // The first window after each change is a transient.
        if w == 0 || w == 10 || w == 20 {
            continue;
        }
        let expected = users(w) / 2.0 * 10.0 * reps as f64;
        // Completions of a closed delay network vary less than Poisson.
        let z = (n - expected) / expected.sqrt();
        assert!(
            z.abs() < 4.5,
            "window {w}: {n} completions, expected {expected} (z = {z:.2})"
        );
    }
}
