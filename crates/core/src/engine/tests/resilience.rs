//! Timeouts, deadlines and retries, against queueing theory's impatient
//! customers (Erlang-A; the M/M/1 with deterministic patience), the M/M/1's
//! response-time law, and the counts a retry policy implies.

use super::*;

/// A deadline on class `jobs`.
fn patient(rate: f64, after: Dist, cancel: Cancel) -> Vec<Class> {
    let mut classes = jobs(rate);
    classes[0].deadline = Some(Timeout { after, cancel });
    classes
}

/// Erlang-A (M/M/c+M): exponential patience of rate θ while queued. From
/// the birth-death chain with death rate min(k, c)·μ + (k − c)⁺·θ in state
/// k: P(abandon) = θ·E[Lq]/λ. (The validation crate has the same formula,
/// `derived::erlang_a`, for its tests; the engine cannot depend on it.)
fn erlang_a(lambda: f64, mu: f64, c: u32, theta: f64) -> f64 {
    let mut p = vec![1.0];
    for k in 1..10_000u32 {
        let death = f64::from(k.min(c)) * mu + f64::from(k.saturating_sub(c)) * theta;
        let next = p[p.len() - 1] * lambda / death;
        p.push(next);
        if next < 1e-300 {
            break;
        }
    }
    let total: f64 = p.iter().sum();
    let lq: f64 = p
        .iter()
        .enumerate()
        .map(|(k, pk)| (k as f64 - f64::from(c)).max(0.0) * pk / total)
        .sum();
    theta * lq / lambda
}

/// A deadline drawn from exp(1/θ) with `cancel = at_dequeue` makes an
/// M/M/c's impatient customers: those whose patience runs out before a
/// server takes them are dropped at the head of the line, which for FIFO
/// leaves every other customer's wait as if they had left when it ran out.
/// Overloaded (ρ = 1.2) and underloaded (ρ = 0.8).
#[test]
fn patience_while_queued_matches_erlang_a() {
    for (lambda, c) in [(2.4, 2u32), (1.6, 2)] {
        let (mu, theta) = (1.0, 0.5);
        let topology = Topology {
            stations: vec![queue("agents", c, 1.0 / mu, Routing::exit())],
            classes: patient(lambda, Dist::exp(1e9 / theta).unwrap(), Cancel::AtDequeue),
            faults: Vec::new(),
            autoscalers: Vec::new(),
        };
        let abandoned = replicate(&topology, 20_000.0, 10, |s| {
            s.stations[0].expired as f64 / s.classes[0].arrived as f64
        });
        assert_close(
            &format!("P(abandon) at λ = {lambda}"),
            abandoned,
            erlang_a(lambda, mu, c, theta),
        );
    }
}

/// A fixed patience τ at an M/M/1 (M/M/1+D): P(abandon) = (1 − ρ)·x /
/// (1 − ρ·x) with x = ρ·e^(−μ(1−ρ)τ), at ρ = 0.9 and, overloaded, 1.5.
#[test]
fn fixed_patience_matches_the_m_m_1_plus_d() {
    for lambda in [0.9, 1.5] {
        let (mu, tau) = (1.0, 1.0);
        let rho: f64 = lambda / mu;
        let topology = Topology {
            stations: vec![queue("server", 1, 1.0 / mu, Routing::exit())],
            classes: patient(
                lambda,
                Dist::constant(tau * 1e9).unwrap(),
                Cancel::AtDequeue,
            ),
            faults: Vec::new(),
            autoscalers: Vec::new(),
        };
        let x = rho * (-mu * (1.0 - rho) * tau).exp();
        let expected = (1.0 - rho) * x / (1.0 - rho * x);
        let abandoned = replicate(&topology, 20_000.0, 10, |s| {
            s.stations[0].expired as f64 / s.classes[0].arrived as f64
        });
        assert_close(&format!("P(abandon) at ρ = {rho}"), abandoned, expected);
    }
}

/// A client deadline τ with nothing cancelled at an M/M/1: the server
/// works for everyone (utilisation λ/μ), but only responses within τ count:
/// goodput λ·(1 − e^(−(μ−λ)τ)); the rest complete late, for nobody.
#[test]
fn a_deadline_without_cancellation_wastes_the_late_work() {
    let (lambda, mu, tau) = (0.8, 1.0, 5.0);
    let topology = Topology {
        stations: vec![queue("server", 1, 1.0 / mu, Routing::exit())],
        classes: patient(lambda, Dist::constant(tau * 1e9).unwrap(), Cancel::Never),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let on_time = 1.0 - (-(mu - lambda) * tau).exp();
    let seconds = 20_000.0;
    let goodput = replicate(&topology, seconds, 10, |s| {
        s.classes[0].completed as f64 / s.duration.as_secs_f64()
    });
    assert_close("goodput", goodput, lambda * on_time);
    let utilisation = replicate(&topology, seconds, 10, |s| {
        s.stations[0].utilization(s.duration)
    });
    assert_close("utilisation", utilisation, lambda / mu);
    let late = replicate(&topology, seconds, 30, |s| {
        s.classes[0].late as f64 / s.duration.as_secs_f64()
    });
    assert_close("late completions", late, lambda * (1.0 - on_time));
    let wasted = replicate(&topology, seconds, 10, |s| {
        s.stations[0].wasted / s.duration.as_nanos() as f64
    });
    assert!(wasted.0 > 0.0, "the late requests' service is wasted");
}

/// With `cancel = preempt` nothing completes past the deadline: every
/// request completes within it or is given up, and the server never works
/// for a request whose client has gone.
#[test]
fn preempted_work_never_completes_late() {
    let tau = 2e9;
    let topology = Topology {
        stations: vec![queue("server", 1, 1.0, Routing::exit())],
        classes: patient(1.2, Dist::constant(tau).unwrap(), Cancel::Preempt),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let config = RunConfig::new(secs(100.0), secs(5_000.0));
    let s = run(&topology, &config, 3).unwrap();
    let c = &s.classes[0];
    assert_eq!(c.late, 0);
    assert!(c.latency_max <= tau as u64, "{}", c.latency_max);
    assert!(c.timed_out > 0 && s.stations[0].cancelled > 0);
    assert_eq!(s.stations[0].wasted, 0.0);
    // Every arrival ends one way or the other (but those present at the
    // start and the end of the measured window).
    let ended = c.completed + c.timed_out;
    assert!(ended.abs_diff(c.arrived) <= 10, "{ended} vs {}", c.arrived);
}

/// A client calling `to` with `call`'s timeout and retry policy.
fn client(to: u32, call: CallPoint) -> Station {
    call_point(
        "client",
        CallPoint {
            targets: vec![StationId(to)],
            ..call
        },
        Routing::exit(),
    )
}

fn retry(attempts: u32, on_timeout: bool, on_error: bool) -> Retry {
    Retry {
        attempts,
        backoff: Backoff {
            base: 0.0,
            cap: 0.0,
            jitter: Jitter::None,
        },
        on_timeout,
        on_error,
        budget: None,
    }
}

/// A call timing out after τ at an M/M/1 (nothing cancelled): P(R > τ) =
/// e^(−(μ−λ)τ) of the calls time out, their replies come late, and the
/// server's utilisation stays λ/μ.
#[test]
fn a_call_timeout_gives_up_on_the_slow_tail() {
    let (lambda, mu, tau) = (0.7, 1.0, 3.0);
    let call = CallPoint {
        timeout: Some(Timeout {
            after: Dist::constant(tau * 1e9).unwrap(),
            cancel: Cancel::Never,
        }),
        ..CallPoint::to(StationId(1), 1)
    };
    let topology = Topology {
        stations: vec![
            client(1, call),
            queue("server", 1, 1.0 / mu, Routing::exit()),
        ],
        classes: jobs(lambda),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let timed_out = replicate(&topology, 20_000.0, 10, |s| {
        s.stations[0].timeouts as f64 / s.stations[0].arrivals as f64
    });
    assert_close("P(timeout)", timed_out, (-(mu - lambda) * tau).exp());
    let one = run(&topology, &RunConfig::new(secs(100.0), secs(2_000.0)), 1).unwrap();
    assert_eq!(
        one.classes[0].timed_out, one.stations[0].timeouts,
        "with no retry, every timeout fails its request"
    );
    let late = replicate(&topology, 20_000.0, 10, |s| {
        s.stations[0].late_replies as f64 / s.stations[0].timeouts as f64
    });
    assert_close("late replies per timeout", late, 1.0);
    let utilisation = replicate(&topology, 20_000.0, 10, |s| {
        s.stations[1].utilization(s.duration)
    });
    assert_close("utilisation", utilisation, lambda / mu);
}

/// Retries against independent failures (probability p, k attempts):
/// (1 − p^k)/(1 − p) attempts per call, and success 1 − p^k.
#[test]
fn retries_against_independent_failures() {
    let (p, k) = (0.3, 3);
    let mut flaky = queue("flaky", INFINITE, 0.001, Routing::exit());
    flaky.error = p;
    let call = CallPoint {
        retry: Some(retry(k, false, true)),
        ..CallPoint::to(StationId(1), 1)
    };
    let topology = Topology {
        stations: vec![client(1, call), flaky],
        classes: jobs(100.0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let attempts = replicate(&topology, 500.0, 10, |s| {
        s.stations[1].arrivals as f64 / s.stations[0].arrivals as f64
    });
    let pk = p.powi(k as i32);
    assert_close("attempts per call", attempts, (1.0 - pk) / (1.0 - p));
    let success = replicate(&topology, 500.0, 10, |s| {
        s.classes[0].completed as f64 / s.classes[0].arrived as f64
    });
    assert_close("success", success, 1.0 - pk);
    let retries = replicate(&topology, 500.0, 10, |s| {
        s.stations[0].retries as f64 / s.stations[0].arrivals as f64
    });
    assert_close("retries per call", retries, (1.0 - pk) / (1.0 - p) - 1.0);
}

/// Retries multiply through layers: two layers that each try 3 times in
/// front of a dependency that always fails send it 3² = 9 attempts per
/// request, exactly.
#[test]
fn retries_amplify_through_layers() {
    let mut down = queue("down", INFINITE, 0.001, Routing::exit());
    down.error = 1.0;
    let layer = |name: &str, to: u32| {
        call_point(
            name,
            CallPoint {
                retry: Some(retry(3, false, true)),
                ..CallPoint::to(StationId(to), 1)
            },
            Routing::exit(),
        )
    };
    let topology = Topology {
        stations: vec![layer("edge", 1), layer("api", 2), down],
        classes: jobs(10.0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let config = RunConfig::new(SimTime::ZERO, secs(100.0));
    let s = run(&topology, &config, 5).unwrap();
    let requests = s.stations[0].arrivals;
    assert!(requests > 900);
    assert_eq!(s.stations[1].arrivals, 3 * requests);
    assert_eq!(s.stations[2].arrivals, 9 * requests);
    assert_eq!(s.classes[0].failed, requests);
}

/// A retry policy that does not retry timeouts leaves them failures; one
/// that does turns a slow tail into extra load: each timed-out attempt is
/// made again (the one it gave up on runs on), so the server sees more
/// arrivals than the clients send, and is busier.
#[test]
fn retrying_timeouts_adds_load() {
    let call = |retry: Option<Retry>| CallPoint {
        timeout: Some(Timeout {
            after: Dist::constant(2e9).unwrap(),
            cancel: Cancel::Never,
        }),
        retry,
        ..CallPoint::to(StationId(1), 1)
    };
    let run_with = |retry| {
        let topology = Topology {
            stations: vec![
                client(1, call(retry)),
                queue("server", 1, 1.0, Routing::exit()),
            ],
            classes: jobs(0.6),
            faults: Vec::new(),
            autoscalers: Vec::new(),
        };
        run(&topology, &RunConfig::new(secs(100.0), secs(5_000.0)), 9).unwrap()
    };
    let plain = run_with(Some(retry(3, false, true)));
    assert_eq!(plain.stations[0].retries, 0, "timeouts are not retried");
    let retried = run_with(Some(retry(3, true, true)));
    let (calls, attempts) = (retried.stations[0].arrivals, retried.stations[1].arrivals);
    assert!(retried.stations[0].retries > 0);
    assert!(
        attempts as f64 > 1.05 * calls as f64,
        "{attempts} attempts for {calls} calls"
    );
    // The storm: the added attempts load the server, which times out more.
    let busy = |s: &RunStats| s.stations[1].utilization(s.duration);
    assert!(busy(&retried) > busy(&plain) + 0.05);
}

/// Bad timeouts and retry policies are refused by the engine's guard.
#[test]
fn bad_resilience_is_refused() {
    let bad = |call: CallPoint| Topology {
        stations: vec![client(1, call), queue("server", 1, 1.0, Routing::exit())],
        classes: jobs(1.0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let mut no_attempt = retry(0, true, true);
    let t = bad(CallPoint {
        retry: Some(no_attempt.clone()),
        ..CallPoint::to(StationId(1), 1)
    });
    assert_eq!(t.validate(), Err(ModelError::BadResilience(StationId(0))));
    no_attempt.attempts = 2;
    no_attempt.backoff.cap = -1.0;
    let t = bad(CallPoint {
        retry: Some(no_attempt),
        ..CallPoint::to(StationId(1), 1)
    });
    assert_eq!(t.validate(), Err(ModelError::BadResilience(StationId(0))));
    let t = bad(CallPoint {
        wait: 0,
        timeout: Some(Timeout {
            after: Dist::constant(1e9).unwrap(),
            cancel: Cancel::Never,
        }),
        ..CallPoint::to(StationId(1), 1)
    });
    assert_eq!(t.validate(), Err(ModelError::BadResilience(StationId(0))));
    let mut t = bad(CallPoint::to(StationId(1), 1));
    t.classes[0].deadline = Some(Timeout {
        after: Dist::constant(0.0).unwrap(),
        cancel: Cancel::Never,
    });
    assert_eq!(t.validate(), Err(ModelError::BadDeadline(ClassId(0))));
}

/// Expiry where a request waits for a slot of an admission pool (a
/// replica's workers): c slots in front of a delay are an M/M/c, and
/// requests whose patience runs out in the pool's line are dropped when a
/// slot would be theirs, as Erlang-A says.
#[test]
fn patience_in_a_pool_s_line_matches_erlang_a() {
    let (lambda, mu, c, theta) = (2.4, 1.0, 2u32, 0.5);
    let mut workers = queue("workers", INFINITE, 1.0 / mu, Routing::exit());
    workers.admission = Some(Admission::new(c, StationId(0)));
    let topology = Topology {
        stations: vec![workers],
        classes: patient(lambda, Dist::exp(1e9 / theta).unwrap(), Cancel::AtDequeue),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let abandoned = replicate(&topology, 20_000.0, 10, |s| {
        s.stations[0].expired as f64 / s.classes[0].arrived as f64
    });
    assert_close("P(abandon)", abandoned, erlang_a(lambda, mu, c, theta));
}

/// A request preempted at its deadline while in service frees its server
/// at once: with a fixed deadline τ at an M/M/1 and `cancel = preempt`,
/// every request leaves within τ, and the server works only until then for
/// those it gives up on, so its utilisation falls clearly below λ/μ (with
/// `cancel = never` it stays λ/μ: `a_deadline_without_cancellation_...`).
#[test]
fn a_preempted_request_frees_its_server_at_once() {
    let topology = Topology {
        stations: vec![queue("server", 1, 1.0, Routing::exit())],
        classes: patient(0.9, Dist::constant(1.5e9).unwrap(), Cancel::Preempt),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let (lambda, mu) = (0.9, 1.0);
    let utilisation = replicate(&topology, 20_000.0, 10, |s| {
        s.stations[0].utilization(s.duration)
    });
    assert!(
        utilisation.0 + 4.0 * utilisation.1 < lambda / mu,
        "{utilisation:?}: preempted work must not be counted as done"
    );
    let s = run(&topology, &RunConfig::new(secs(10.0), secs(2_000.0)), 4).unwrap();
    let c = &s.classes[0];
    assert!(c.latency_max <= 1_500_000_000);
    assert_eq!(c.late, 0);
    assert!(s.stations[0].cancelled > 0);
}

/// A hedged call to a delay with exponential replies (rate μ, no
/// contention): a copy goes after d when no reply came, so the reply time
/// T has P(T > t) = e^(−μt) before d and e^(−μt)·e^(−μ(t−d)) after; extra
/// copies e^(−μd) per call; mean (1 − e^(−μd))/μ + e^(−μd)/(2μ); p99 (past
/// d) (d + ln 100/μ)/2.
#[test]
fn hedging_matches_the_minimum_of_two_replies() {
    let (mu, d) = (1.0, 1.0);
    let call = CallPoint {
        hedge: Some(Hedge {
            after: HedgeDelay::Fixed(d * 1e9),
            max: 1,
        }),
        ..CallPoint::to(StationId(1), 1)
    };
    let topology = Topology {
        stations: vec![
            client(1, call),
            queue("backend", INFINITE, 1.0 / mu, Routing::exit()),
        ],
        classes: jobs(10.0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let late = (-mu * d).exp();
    let extra = replicate(&topology, 2_000.0, 10, |s| {
        s.stations[0].hedges as f64 / s.stations[0].arrivals as f64
    });
    assert_close("extra copies per call", extra, late);
    let mean = replicate(&topology, 2_000.0, 10, |s| s.classes[0].mean_latency());
    assert_close("mean", mean, (1.0 - late) / mu + late / (2.0 * mu));
    let p99 = replicate(&topology, 2_000.0, 10, |s| {
        s.classes[0].latency_quantile(0.99)
    });
    assert_close("p99", p99, (d + 100f64.ln() / mu) / 2.0);
    // The losers' replies come late, one per copy.
    let ignored = replicate(&topology, 2_000.0, 10, |s| {
        s.stations[0].late_replies as f64 / s.stations[0].hedges as f64
    });
    assert_close("late replies per copy", ignored, 1.0);
}

/// A hedge after the call's own median (learnt as it runs) sends about one
/// copy for every two calls: the median of exp(μ) is ln 2/μ.
#[test]
fn a_hedge_by_quantile_learns_its_delay() {
    let call = CallPoint {
        hedge: Some(Hedge {
            after: HedgeDelay::Quantile(0.5),
            max: 1,
        }),
        ..CallPoint::to(StationId(1), 1)
    };
    let topology = Topology {
        stations: vec![
            client(1, call),
            queue("backend", INFINITE, 1.0, Routing::exit()),
        ],
        classes: jobs(10.0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    // The delay m is learnt from the hedged calls' own reply times T, and
    // P(T > t) = e^(−t) up to the hedge: the median of T is ln 2 whenever
    // m ≥ ln 2, so m = ln 2 is the fixed point, and P(copy) = P(T > m) = 1/2.
    let extra = replicate(&topology, 2_000.0, 10, |s| {
        s.stations[0].hedges as f64 / s.stations[0].arrivals as f64
    });
    assert_close("copies per call", extra, 0.5);
}

/// A zero-work station behind a rate limit.
fn limited(rate: f64, limit: RateLimit, at_class: bool) -> Topology {
    let mut gate = station(
        "gate",
        INFINITE,
        Discipline::Fifo,
        Dist::constant(0.0).unwrap(),
        Routing::exit(),
    );
    let mut classes = jobs(rate);
    if at_class {
        classes[0].rate_limit = Some(limit);
    } else {
        gate.rate_limit = Some(limit);
    }
    Topology {
        stations: vec![gate],
        classes,
        faults: Vec::new(),
        autoscalers: Vec::new(),
    }
}

/// A token bucket that rejects: in the long run it passes its rate when
/// offered twice as much (a bucket of 20 is almost never full then), and
/// nearly everything when offered half (almost never empty); at a class or
/// at a station alike.
#[test]
fn a_rate_limit_passes_its_rate_in_the_long_run() {
    let limit = RateLimit {
        rate: 100.0,
        burst: 20,
        delay: false,
    };
    for at_class in [false, true] {
        for (offered, expected) in [(200.0, 100.0), (50.0, 50.0)] {
            let topology = limited(offered, limit, at_class);
            let passed = replicate(&topology, 500.0, 10, |s| {
                s.classes[0].completed as f64 / s.duration.as_secs_f64()
            });
            // Within 1% of min(λ, rate): what a full or an empty bucket
            // loses is below that here.
            assert!(
                (passed.0 / expected - 1.0).abs() < 0.01,
                "offered {offered}/s, class limit {at_class}: {passed:?}"
            );
            let one = run(&topology, &RunConfig::new(secs(1.0), secs(100.0)), 2).unwrap();
            let c = &one.classes[0];
            assert!(c.completed + c.rejected <= c.arrived + 20);
            if !at_class {
                assert_eq!(one.stations[0].limited, c.rejected);
            }
        }
    }
}

/// A shaper with a burst of 1 is a single server with deterministic
/// service 1/rate: Poisson arrivals wait as in an M/D/1, Wq = ρ/(2r(1−ρ)).
#[test]
fn a_shaper_delays_as_an_m_d_1() {
    let (lambda, rate) = (80.0, 100.0);
    let limit = RateLimit {
        rate,
        burst: 1,
        delay: true,
    };
    for at_class in [false, true] {
        let topology = limited(lambda, limit, at_class);
        let rho = lambda / rate;
        let wait = replicate(&topology, 500.0, 10, |s| s.classes[0].mean_latency());
        assert_close(
            &format!("M/D/1 wait, class limit {at_class}"),
            wait,
            rho / (2.0 * rate * (1.0 - rho)),
        );
    }
}

/// A breaker in front of a dependency that is down from 100 s to 200 s (a
/// balancer whose only target is down refuses every call): it trips within
/// the first failures, refuses calls while open, lets its probes through
/// every `open_for`, and closes within one open period and a probe of the
/// dependency's return; the calls it refuses are the arrivals of the time
/// it spent open (and the half-open ones beyond its probes).
#[test]
fn a_breaker_refuses_calls_while_its_dependency_is_down() {
    let (lambda, open_for) = (20.0, 5.0);
    let mut dispatch = Dispatch::new(Policy::RoundRobin, vec![StationId(2)]);
    dispatch.down = vec![Downtime {
        target: 0,
        from: secs(100.0),
        to: secs(200.0),
    }];
    let mut lb = Station::new("lb", 1, Discipline::Fifo, vec![None]);
    lb.role = Role::Balancer(dispatch);
    let call = CallPoint {
        breaker: Some(Breaker {
            window: 10,
            min_calls: 10,
            failure_rate: 0.5,
            slow_call: None,
            slow_rate: 1.0,
            open_for: secs(open_for).0,
            half_open_calls: 2,
        }),
        ..CallPoint::to(StationId(1), 1)
    };
    let topology = Topology {
        stations: vec![
            client(1, call),
            lb,
            queue("dependency", INFINITE, 0.01, Routing::exit()),
        ],
        classes: jobs(lambda),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    for seed in 0..20 {
        let config = RunConfig {
            window: Some(secs(10.0)),
            ..RunConfig::new(SimTime::ZERO, secs(300.0))
        };
        let s = run(&topology, &config, seed).unwrap();
        let b = &s.stations[0];
        let open = b.breaker_open / 1e9;
        // The time series' windows: open only from 100 s to about
        // 200 s + open_for, and adding up to the run's open time.
        let windows: Vec<f64> = s.series.iter().map(|w| w.breaker_open[0] / 1e9).collect();
        assert!(
            (windows.iter().sum::<f64>() - open).abs() < 1e-6,
            "{windows:?}"
        );
        assert!(windows[..10].iter().all(|&x| x == 0.0), "{windows:?}");
        assert!(windows[21..].iter().all(|&x| x == 0.0), "{windows:?}");
        assert!(windows[11..19].iter().all(|&x| x > 5.0), "{windows:?}");
        let half = b.breaker_half_open / 1e9;
        // Tripped within the first few failures after 100 s; closed within
        // one open period and a probe's round trip after 200 s.
        assert!(
            open + half > 100.0 - 2.0 && open + half < 100.0 + open_for + 1.0,
            "seed {seed}: open {open} s, half-open {half} s"
        );
        assert!(b.breaker_opened >= 100 / 6, "it probes every {open_for} s");
        // Refused: the calls of the open time, and the half-open ones past
        // the probes; 4 standard deviations of a Poisson count.
        let expected = lambda * (open + half) - 2.0 * b.breaker_opened as f64;
        let refused = b.breaker_rejected as f64;
        assert!(
            (refused - expected).abs() < 4.0 * expected.sqrt() + 2.0 * b.breaker_opened as f64,
            "seed {seed}: refused {refused}, expected about {expected}"
        );
        // Every call was refused by the breaker or reached the dependency.
        assert_eq!(s.stations[1].arrivals + b.breaker_rejected, b.arrivals);
        assert_eq!(s.classes[0].rejected, b.breaker_rejected);
    }
}

/// A FIFO M/M/1 with load shedding.
fn shedding(lambda: f64, shedding: Shedding, pool: bool) -> Topology {
    let mut server = queue("server", 1, 1.0, Routing::exit());
    if pool {
        // The line is the pool's: one slot in front of a delay.
        server = queue("server", INFINITE, 1.0, Routing::exit());
        server.admission = Some(Admission::new(1, StationId(0)));
    }
    server.shedding = Some(shedding);
    Topology {
        stations: vec![server],
        classes: jobs(lambda),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    }
}

/// CoDel at an overloaded M/M/1 (ρ = 1.5, target 5 s, interval 20 s): the
/// line never empties, so what waited past the target is dropped and the
/// server stays busy on requests that waited less: no request served
/// waited more than the target once the line stands, where without CoDel
/// the line grows without bound. At ρ = 0.5 the line empties often and a
/// request may wait the whole interval: almost nothing is dropped. At a
/// queue and at a pool's line.
#[test]
fn codel_sheds_a_standing_queue_and_not_a_burst() {
    let codel = Shedding {
        codel: Some(Codel {
            target: 5e9,
            interval: 20e9,
        }),
        lifo_above: None,
    };
    for pool in [false, true] {
        let t = shedding(1.5, codel, pool);
        let s = run(&t, &RunConfig::new(secs(500.0), secs(20_000.0)), 1).unwrap();
        let st = &s.stations[0];
        let wait = if pool {
            st.mean_slot_wait()
        } else {
            st.mean_wait()
        };
        assert!(
            st.shed as f64 > 0.25 * s.classes[0].arrived as f64,
            "{pool}: {}",
            st.shed
        );
        assert!(wait < 5.0, "pool {pool}: mean wait of the served {wait} s");
        let served = s.classes[0].completed as f64 / s.duration.as_secs_f64();
        assert!(
            served > 0.95,
            "pool {pool}: the server keeps working: {served}/s"
        );
        let calm = run(
            &shedding(0.5, codel, pool),
            &RunConfig::new(secs(500.0), secs(20_000.0)),
            1,
        )
        .unwrap();
        let dropped = calm.stations[0].shed as f64 / calm.classes[0].arrived as f64;
        assert!(dropped < 0.01, "pool {pool}: {dropped}");
    }
}

/// Adaptive LIFO with a threshold of 0 is LIFO: at an M/M/1 the mean
/// response is FIFO's, 1/(μ − λ) (a work-conserving order that ignores
/// sizes does not change it), but the median falls (most are served
/// soon, a few wait long).
#[test]
fn adaptive_lifo_keeps_the_mean_and_lowers_the_median() {
    let lifo = Shedding {
        codel: None,
        lifo_above: Some(0),
    };
    let (lambda, mu) = (0.8, 1.0);
    let topology = shedding(lambda, lifo, false);
    let mean = replicate(&topology, 20_000.0, 20, |s| s.classes[0].mean_latency());
    assert_close("mean response", mean, 1.0 / (mu - lambda));
    let p50 = replicate(&topology, 20_000.0, 10, |s| {
        s.classes[0].latency_quantile(0.5)
    });
    // FIFO's median: ln 2/(μ − λ) = 3.47 s.
    assert!(p50.0 < 0.8 * 2f64.ln() / (mu - lambda), "{p50:?}");
}
