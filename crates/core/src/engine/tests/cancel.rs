//! Cancellation and unwinding: what timeouts, retries, hedges and crashes
//! are built on. A cancelled request's pending departure goes stale and is
//! ignored; a failure unwound to a frame gives back the slots its callee
//! took and keeps its caller's.

use super::*;

/// Two requests at a one-server FIFO station with constant 1 s work: the
/// first is withdrawn while in service. Its departure, still in the event
/// list, is stale and ignored; the second starts at once and departs 1 s
/// later; the station's time-averaged figures count each for the time it
/// was there.
#[test]
fn a_withdrawn_request_s_departure_is_ignored() {
    let topology = Topology {
        stations: vec![station(
            "q",
            1,
            Discipline::Fifo,
            Dist::constant(1e9).unwrap(),
            Routing::exit(),
        )],
        classes: jobs(1.0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let mut e = engine(&topology);
    let first = e.inject(0);
    let second = e.inject(0);
    let pending = e.requests.handle(first);
    assert_eq!(e.stations[0].queue.pop(), Some(second), "second waits");
    e.stations[0].queue.push(second, 0);

    e.step_until(400_000_000);
    assert!(e.withdraw(first), "a request in service can be withdrawn");
    assert!(!e.requests.is_live(pending), "its departure is stale");
    let s = &e.stations[0];
    assert_eq!((s.n, s.busy), (1, 1), "the second took the server");
    e.fail(first, Failure::Error);

    // The stale departure pops at 1 s and is ignored; the second's at 1.4 s.
    e.step_until(1_000_000_000);
    assert_eq!(e.stations[0].stats.departures, 0);
    assert_eq!(e.n_events, 0, "a stale event is not counted");
    e.step_until(1_400_000_000);
    let s = &e.stations[0];
    assert_eq!(s.stats.departures, 1);
    assert_eq!((s.n, s.busy), (0, 0));
    let c = &e.classes[0].stats;
    assert_eq!((c.arrived, c.completed, c.failed), (2, 1, 1));
    assert_eq!(c.latency_max, 1_400_000_000, "the second waited 0.4 s");
    assert_eq!(s.stats.busy_area, 1.4e9, "the server was busy throughout");
    assert_eq!(
        s.stats.system_area, 1.8e9,
        "two present for 0.4 s, one for 1 s"
    );
    assert!(e.events.is_empty());
}

/// Withdrawing from a processor-sharing station removes the job and
/// reschedules the next departure for the jobs left, at their new rate.
#[test]
fn a_withdrawn_processor_sharing_job_speeds_up_the_others() {
    let topology = Topology {
        stations: vec![station(
            "cpu",
            1,
            Discipline::Ps,
            Dist::constant(1e9).unwrap(),
            Routing::exit(),
        )],
        classes: jobs(1.0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let mut e = engine(&topology);
    let a = e.inject(0);
    let _b = e.inject(0);
    // Shared at rate 1/2: each has 0.75 s of work left at 0.5 s.
    e.step_until(500_000_000);
    assert!(e.withdraw(a));
    e.fail(a, Failure::Error);
    // Alone, the other finishes its 0.75 s at 1.25 s.
    e.step_until(1_249_999_999);
    assert_eq!(e.classes[0].stats.completed, 0);
    e.step_until(1_250_000_000);
    assert_eq!(e.classes[0].stats.completed, 1);
    assert_eq!(e.classes[0].stats.latency_max, 1_250_000_000);
    // Departures planned before the withdrawal are stale: none counts.
    let counted = e.n_events;
    e.step_until(10_000_000_000);
    assert!(e.events.is_empty());
    assert_eq!((e.n_events, e.classes[0].stats.completed), (counted, 1));
}

/// A request waiting for an admission slot can be withdrawn from the line.
#[test]
fn a_request_waiting_for_a_slot_can_be_withdrawn() {
    let mut q = station(
        "q",
        1,
        Discipline::Fifo,
        Dist::constant(1e9).unwrap(),
        Routing::exit(),
    );
    q.admission = Some(Admission::new(1, StationId(0)));
    let topology = Topology {
        stations: vec![q],
        classes: jobs(1.0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let mut e = engine(&topology);
    e.inject(0);
    let waiting = e.inject(0);
    assert_eq!(e.stations[0].pool.as_ref().map(|p| p.load()), Some(2));
    assert!(e.withdraw(waiting));
    assert_eq!(e.stations[0].pool.as_ref().map(|p| p.load()), Some(1));
    e.fail(waiting, Failure::Dropped);
    e.step_until(2_000_000_000);
    let c = &e.classes[0].stats;
    assert_eq!((c.completed, c.dropped), (1, 1));
}

/// Four levels: `api` (one worker) calls `b` (one worker), which calls `c`
/// (one worker), which calls `d`. The request holds all three workers when
/// it reaches `d`; a failure there unwound to `b`'s call (the middle frame)
/// gives back `c`'s worker, keeps `b`'s and `api`'s, and leaves the request
/// suspended at `b`'s call point, with `c`'s call point no longer counted
/// as busy. Unwinding the rest gives every worker back.
#[test]
fn a_failure_unwound_to_a_middle_frame_gives_back_only_the_callee_s_slots() {
    let worker = |name: &str, call_point: u32| {
        let mut s = station(
            name,
            1,
            Discipline::Fifo,
            Dist::constant(1e6).unwrap(),
            Routing::to(StationId(call_point)),
        );
        s.admission = Some(Admission::new(1, StationId(call_point)));
        s
    };
    let topology = Topology {
        stations: vec![
            worker("api", 1),
            call_point("api.call", CallPoint::to(StationId(2), 1), Routing::exit()),
            worker("b", 3),
            call_point("b.call", CallPoint::to(StationId(4), 1), Routing::exit()),
            worker("c", 5),
            call_point("c.call", CallPoint::to(StationId(6), 1), Routing::exit()),
            station(
                "d",
                1,
                Discipline::Fifo,
                Dist::constant(1e9).unwrap(),
                Routing::exit(),
            ),
        ],
        classes: jobs(1.0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let mut e = engine(&topology);
    let req = e.inject(0);
    e.step_until(10_000_000);
    assert_eq!(e.requests[req].station, 6, "in service at d");
    assert_eq!(e.held(req), vec![4, 2, 0], "c's, b's and api's workers");
    let frames = |e: &Engine| {
        let mut out = Vec::new();
        let mut f = e.requests[req].top;
        while f != request::NONE {
            out.push(e.stations[e.frames[f].station as usize].stats.name.clone());
            f = e.frames[f].below;
        }
        out
    };
    assert_eq!(frames(&e), ["c.call", "b.call", "api.call"]);

    // d fails the request; the handler is b's call.
    assert!(e.withdraw(req));
    assert!(!e.withdraw(req), "withdrawn once, it is at no station");
    let c_call = e.frames.handle(e.requests[req].top);
    let b_call = e.frames.handle(e.frames[c_call.index].below);
    assert!(e.unwind(req, Some(b_call)));
    assert!(
        !e.unwind(req, Some(c_call)),
        "a popped frame is stale: nothing to unwind to"
    );
    assert_eq!(e.held(req), vec![2, 0], "b's and api's workers kept");
    assert_eq!(frames(&e), ["b.call", "api.call"]);
    let free = |e: &Engine, s: usize| e.stations[s].pool.as_ref().map(|p| p.free);
    assert_eq!(
        (free(&e, 0), free(&e, 2), free(&e, 4)),
        (Some(0), Some(0), Some(1))
    );
    assert_eq!(e.stations[5].n, 0, "c's call is over");
    assert_eq!(
        (e.stations[3].n, e.stations[1].n),
        (1, 1),
        "b's and api's are not"
    );

    // The request, suspended at b's call point, cannot be withdrawn.
    assert!(!e.withdraw(req));
    // b's call fails in turn: everything goes back.
    e.fail(req, Failure::Error);
    assert_eq!(
        (free(&e, 0), free(&e, 2), free(&e, 4)),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!((e.stations[3].n, e.stations[1].n), (0, 0));
    assert_eq!(e.classes[0].stats.failed, 1);
}

/// A slot a callee took and kept past its return belongs to that finished
/// call, not to the next one: unwinding the next call gives back only what
/// was taken while it was on the stack. Here `api` (one worker) calls `b`,
/// whose own slot `b.hold` is given back only after `api`'s second call
/// returns; the second call, to `c`, fails while `b.hold` is held.
#[test]
fn unwinding_a_call_keeps_the_slots_of_an_earlier_call() {
    let mut api = station(
        "api",
        1,
        Discipline::Fifo,
        Dist::constant(1e6).unwrap(),
        Routing::to(StationId(1)),
    );
    api.admission = Some(Admission::new(1, StationId(2)));
    let mut b = station(
        "b",
        1,
        Discipline::Fifo,
        Dist::constant(1e6).unwrap(),
        Routing::exit(),
    );
    // b's slot is given back at api's second call point, after b returns.
    b.admission = Some(Admission::new(1, StationId(2)));
    let topology = Topology {
        stations: vec![
            api,
            call_point(
                "api.call0",
                CallPoint::to(StationId(3), 1),
                Routing::to(StationId(2)),
            ),
            call_point("api.call1", CallPoint::to(StationId(4), 1), Routing::exit()),
            b,
            station(
                "c",
                1,
                Discipline::Fifo,
                Dist::constant(1e9).unwrap(),
                Routing::exit(),
            ),
        ],
        classes: jobs(1.0),
        faults: Vec::new(),
        autoscalers: Vec::new(),
    };
    let mut e = engine(&topology);
    let req = e.inject(0);
    e.step_until(10_000_000);
    assert_eq!(e.requests[req].station, 4, "in service at c");
    assert_eq!(
        e.held(req),
        vec![3, 0],
        "b's slot from the first call, api's worker"
    );
    assert!(e.withdraw(req));
    let second = e.frames.handle(e.requests[req].top);
    assert!(e.unwind(req, Some(second)));
    assert_eq!(
        e.held(req),
        vec![3, 0],
        "nothing was taken during the second call"
    );
}
