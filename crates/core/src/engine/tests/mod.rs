//! The engine's tests, one file per mechanism, sharing the fixtures below.
//! Each checks a mechanism against a closed form, an independent
//! calculation or its definition; statistical checks are 99.99% intervals
//! over independent replications (|z| < 3.9).

use super::calls::Failure;
use super::*;
use crate::model::Role;
use crate::model::*;

mod balancers;
mod cache;
mod calls;
mod cancel;
mod dynamics;
mod faults;
mod gc;
mod limits;
mod pools;
mod queues;
mod resilience;

/// Infinitely many servers: a delay that never queues.
const INFINITE: u32 = Queue::INFINITE;

fn secs(s: f64) -> SimTime {
    SimTime::from_secs_f64(s)
}

/// A station with one class, its work and routing.
fn station(
    name: &str,
    servers: u32,
    discipline: Discipline,
    work: Dist,
    routing: Routing,
) -> Station {
    Station::new(
        name,
        servers,
        discipline,
        vec![Some(Behaviour { work, routing })],
    )
}

/// A FIFO station with exponential work of mean `mean` seconds.
fn queue(name: &str, servers: u32, mean: f64, routing: Routing) -> Station {
    station(
        name,
        servers,
        Discipline::Fifo,
        Dist::exp(mean * 1e9).unwrap(),
        routing,
    )
}

/// A call point for one class.
fn call_point(name: &str, call: CallPoint, routing: Routing) -> Station {
    Station::with_role(
        name,
        Role::Call(call),
        vec![Some(Behaviour {
            work: Dist::constant(0.0).unwrap(),
            routing,
        })],
    )
}

/// An open class with Poisson arrivals.
fn open(name: &str, rate: f64, entry: u32) -> Class {
    Class {
        name: name.into(),
        load: Load::Open {
            process: ArrivalProcess::Poisson,
            rate,
            profile: None,
        },
        entry: StationId(entry),
        priority: 0,
        deadline: None,
        rate_limit: None,
    }
}

/// The one open class `jobs`, entering at `entry`.
fn jobs_at(rate: f64, entry: u32) -> Vec<Class> {
    vec![open("jobs", rate, entry)]
}

/// The one open class `jobs`, entering at the first station.
fn jobs(rate: f64) -> Vec<Class> {
    jobs_at(rate, 0)
}

/// Runs `reps` replications and returns the mean and standard error of
/// `figure` over them.
fn replicate(
    topology: &Topology,
    seconds: f64,
    reps: u64,
    figure: impl Fn(&RunStats) -> f64,
) -> (f64, f64) {
    let config = RunConfig::new(secs(seconds / 20.0), secs(seconds));
    let xs: Vec<f64> = (0..reps)
        .map(|seed| figure(&run(topology, &config, 1000 + seed).unwrap()))
        .collect();
    mean_se(&xs)
}

/// The mean of independent observations `xs` and its standard error.
fn mean_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// `(mean, se)` within 3.9 standard errors of `expected`, and an interval
/// narrow enough for the check to mean something.
fn assert_close(what: &str, (mean, se): (f64, f64), expected: f64) {
    let z = (mean - expected) / se;
    assert!(
        z.abs() < 3.9,
        "{what}: {mean:.5} ± {se:.5}, expected {expected:.5} (z = {z:.2})"
    );
    assert!(se < 0.02 * expected, "{what}: standard error {se} too wide");
}

/// An engine over `topology`, to drive by hand: nothing is scheduled yet.
fn engine(topology: &Topology) -> Engine {
    topology.validate().unwrap();
    Engine::new(topology, 7)
}

impl Engine {
    /// Runs the events due up to `until` (inclusive), as the loop does.
    fn step_until(&mut self, until: u64) {
        while self.events.peek_time().is_some_and(|t| t.0 <= until) {
            let (time, event) = self.events.pop().expect("an event was peeked");
            self.now = time.0;
            let config = RunConfig::new(SimTime::ZERO, SimTime(u64::MAX));
            assert!(
                !self.apply(event, &config, u64::MAX),
                "no end of run is scheduled"
            );
        }
        self.now = until;
    }

    /// A request of class 0 arriving now at `station`, as from outside.
    fn inject(&mut self, station: u32) -> u32 {
        let req = self.requests.alloc(0, station, self.now, 0);
        self.classes[0].stats.arrived += 1;
        self.arrive(req, station as usize);
        req
    }

    /// The stations whose slots `req` holds, newest first.
    fn held(&self, req: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut h = self.requests[req].holds;
        while h != request::NONE {
            out.push(self.holds[h].owner);
            h = self.holds[h].next;
        }
        out
    }
}
