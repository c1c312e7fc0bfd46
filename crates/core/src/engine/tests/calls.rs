//! Calls and fan-out against closed forms, each as a 99.99% interval
//! from independent replications (|z| < 3.9).
use super::*;

/// Fork-join of two M/M/1 queues (Nelson and Tantawi, exact for two):
/// T = (12 − ρ)/8 · 1/(μ − λ).
#[test]
fn two_way_fork_join_matches_nelson_tantawi() {
    for lambda in [0.5, 0.7] {
        let all = CallPoint {
            targets: vec![StationId(1), StationId(2)],
            wait: 2,
            choose: None,
            probability: vec![1.0],
            work: None,
            timeout: None,
            retry: None,
            hedge: None,
            breaker: None,
        };
        let topology = Topology {
            stations: vec![
                call_point("join", all, Routing::exit()),
                queue("left", 1, 1.0, Routing::exit()),
                queue("right", 1, 1.0, Routing::exit()),
            ],
            classes: jobs_at(lambda, 0),
            faults: Vec::new(),
            autoscalers: Vec::new(),
        };
        let expected = (12.0 - lambda) / 8.0 / (1.0 - lambda);
        let t = replicate(&topology, 40_000.0, 12, |s| s.classes[0].mean_latency());
        assert_close(&format!("fork-join at ρ = {lambda}"), t, expected);
        // Each queue alone is still M/M/1.
        let q = replicate(&topology, 40_000.0, 12, |s| {
            s.stations[1].response_sum / s.stations[1].departures as f64 / 1e9
        });
        assert_close("left queue", q, 1.0 / (1.0 - lambda));
    }
}

/// Fan-out to k unloaded exponential backends (rate μ = 100/s): waiting
/// for all gives E[max] = H_k/μ, waiting for the first w of them gives
/// the w-th order statistic Σ_{i=k−w+1}^{k} 1/(iμ); the share of
/// requests slower than one backend's p99 is 1 − 0.99^k when all are
/// awaited.
#[test]
fn fan_out_waits_for_the_max_or_the_kth_reply() {
    let mu = 100.0;
    for (k, wait) in [(2u32, 2u32), (5, 5), (10, 10), (5, 2), (10, 1)] {
        let mut stations = vec![call_point(
            "fanout",
            CallPoint {
                targets: (1..=k).map(StationId).collect(),
                wait,
                choose: None,
                probability: vec![1.0],
                work: None,
                timeout: None,
                retry: None,
                hedge: None,
                breaker: None,
            },
            Routing::exit(),
        )];
        stations.extend(
            (0..k).map(|i| queue(&format!("shard{i}"), INFINITE, 1.0 / mu, Routing::exit())),
        );
        let topology = Topology {
            stations,
            classes: jobs_at(50.0, 0),
            faults: Vec::new(),
            autoscalers: Vec::new(),
        };
        let expected: f64 = (k - wait + 1..=k).map(|i| 1.0 / (f64::from(i) * mu)).sum();
        let t = replicate(&topology, 400.0, 10, |s| s.classes[0].mean_latency());
        assert_close(&format!("{wait} of {k}"), t, expected);
        if wait == k {
            let p99 = -(0.01f64).ln() / mu;
            let slow = replicate(&topology, 400.0, 10, |s| {
                let h = &s.classes[0].latency;
                let above = h.count_between((p99 * 1e9) as u64, h.max());
                above as f64 / h.len() as f64
            });
            let expected = 1.0 - 0.99f64.powi(k as i32);
            let z = (slow.0 - expected) / slow.1;
            assert!(
                z.abs() < 3.9,
                "tail at scale, k = {k}: {slow:?} vs {expected}"
            );
        }
    }
}

/// A caller holds its one slot through its own work (0.5 s) and a call
/// to an unloaded backend (0.5 s): one server with Erlang-2 service, so
/// at λ = 0.5 the slot wait is λE[S²]/(2(1 − ρ)) = 0.75 s and the
/// response 1.75 s (Pollaczek–Khinchine). Without holding, the caller
/// would be an M/M/1 at ρ = 0.25 and respond in 1.17 s.
#[test]
fn a_caller_holds_its_slot_until_the_reply() {
    let mut api = queue("api", 1, 0.5, Routing::to(StationId(1)));
    api.admission = Some(Admission::new(1, StationId(1)));
    let topology = Topology {
        stations: vec![
            api,
            call_point("api.call", CallPoint::to(StationId(2), 1), Routing::exit()),
            queue("backend", INFINITE, 0.5, Routing::exit()),
        ],
        classes: jobs_at(0.5, 0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let t = replicate(&topology, 20_000.0, 12, |s| s.classes[0].mean_latency());
    assert_close("response", t, 1.75);
    let w = replicate(&topology, 20_000.0, 12, |s| s.stations[0].mean_slot_wait());
    assert_close("slot wait", w, 0.75);
    let call = replicate(&topology, 20_000.0, 12, |s| {
        s.stations[1].response_sum / s.stations[1].departures as f64 / 1e9
    });
    assert_close("call time", call, 0.5);
    // The slot is held for work and call: utilisation 0.5, the CPU's 0.25.
    let run = run(&topology, &config(), 3).unwrap();
    let api = &run.stations[0];
    assert!((api.slot_utilization(run.duration) - 0.5).abs() < 0.02);
    assert!((api.utilization(run.duration) - 0.25).abs() < 0.01);
}

fn config() -> RunConfig {
    RunConfig::new(
        SimTime::from_secs_f64(1_000.0),
        SimTime::from_secs_f64(50_000.0),
    )
}

/// Nested calls: a caller with one slot (0.5 s of work) calls B, whose
/// request (0.5 s, never queued) calls C (0.5 s, never queued). The slot
/// is held for the sum, Erlang-3 with mean 1.5 s and E[S²] = 3 s², so at
/// λ = 0.4 (ρ = 0.6) Pollaczek–Khinchine gives a slot wait of
/// λE[S²]/(2(1 − ρ)) = 1.5 s and a response of 3 s.
#[test]
fn nested_calls_hold_the_callers_slot_throughout() {
    let mut api = queue("api", 1, 0.5, Routing::to(StationId(1)));
    api.admission = Some(Admission::new(1, StationId(1)));
    let topology = Topology {
        stations: vec![
            api,
            call_point("api.call", CallPoint::to(StationId(2), 1), Routing::exit()),
            queue("b", INFINITE, 0.5, Routing::to(StationId(3))),
            call_point("b.call", CallPoint::to(StationId(4), 1), Routing::exit()),
            queue("c", INFINITE, 0.5, Routing::exit()),
        ],
        classes: jobs_at(0.4, 0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let t = replicate(&topology, 40_000.0, 12, |s| s.classes[0].mean_latency());
    assert_close("response", t, 3.0);
    let w = replicate(&topology, 40_000.0, 12, |s| s.stations[0].mean_slot_wait());
    assert_close("slot wait", w, 1.5);
}

/// Error replies fail the request: the failed share is the error
/// probability, and every request is accounted for.
#[test]
fn error_replies_fail_requests() {
    let mut partner = queue("partner", INFINITE, 0.2, Routing::exit());
    partner.error = 0.1;
    let topology = Topology {
        stations: vec![
            call_point("client", CallPoint::to(StationId(1), 1), Routing::exit()),
            partner,
        ],
        classes: jobs_at(5.0, 0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let stats = run(&topology, &config(), 4).unwrap();
    let c = &stats.classes[0];
    let ended = (c.completed + c.failed) as f64;
    let share = c.failed as f64 / ended;
    let se = (0.1 * 0.9 / ended).sqrt();
    assert!((share - 0.1).abs() < 3.9 * se, "failed share {share}");
    assert!(c.arrived.abs_diff(c.completed + c.failed) < 20);
    assert_eq!(stats.stations[1].errors, c.failed);
}

/// A request dropped inside a call is dropped for its class, and a fork
/// whose branch is dropped fails as a whole; the caller's slot is given
/// back in both cases (else the pool would clog and nothing complete).
#[test]
fn drops_inside_calls_end_the_caller() {
    for forked in [false, true] {
        let mut full = queue("full", 1, 1.0, Routing::exit());
        full.queue_mut().unwrap().capacity = Some(1);
        let targets = if forked {
            vec![StationId(2), StationId(3)]
        } else {
            vec![StationId(2)]
        };
        let wait = targets.len() as u32;
        let mut api = queue("api", 2, 0.01, Routing::to(StationId(1)));
        api.admission = Some(Admission::new(2, StationId(1)));
        let topology = Topology {
            stations: vec![
                api,
                call_point(
                    "api.call",
                    CallPoint {
                        targets,
                        wait,
                        choose: None,
                        probability: vec![1.0],
                        work: None,
                        timeout: None,
                        retry: None,
                        hedge: None,
                        breaker: None,
                    },
                    Routing::exit(),
                ),
                full,
                queue("other", INFINITE, 0.1, Routing::exit()),
            ],
            classes: jobs_at(0.8, 0),
            faults: Vec::new(),
            autoscalers: Vec::new(),
        };
        let stats = run(&topology, &config(), 5).unwrap();
        let c = &stats.classes[0];
        assert!(c.dropped > 1000, "forked = {forked}: {} dropped", c.dropped);
        assert_eq!(c.dropped, stats.stations[2].dropped);
        assert!(
            c.arrived.abs_diff(c.completed + c.dropped) < 20,
            "forked = {forked}: {} arrived, {} completed, {} dropped",
            c.arrived,
            c.completed,
            c.dropped
        );
    }
}

#[test]
fn call_cycles_and_bad_calls_are_refused() {
    let topology = Topology {
        stations: vec![
            call_point("a", CallPoint::to(StationId(1), 1), Routing::exit()),
            queue("b", 1, 1.0, Routing::to(StationId(0))),
        ],
        classes: jobs_at(0.1, 0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    assert_eq!(
        topology.validate(),
        Err(ModelError::CallCycle(StationId(0)))
    );
    let topology = Topology {
        stations: vec![
            call_point(
                "a",
                CallPoint {
                    targets: vec![StationId(1)],
                    wait: 2,
                    choose: None,
                    probability: vec![1.0],
                    work: None,
                    timeout: None,
                    retry: None,
                    hedge: None,
                    breaker: None,
                },
                Routing::exit(),
            ),
            queue("b", 1, 1.0, Routing::exit()),
        ],
        classes: jobs_at(0.1, 0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    assert_eq!(topology.validate(), Err(ModelError::BadCall(StationId(0))));
}
