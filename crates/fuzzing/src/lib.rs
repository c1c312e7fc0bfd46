//! What chokepoint's fuzz targets check, as a library, so that the normal
//! test suite replays every input they ever found (`tests/regressions.rs`)
//! and runs the same checks on inputs drawn from pinned seeds.
//!
//! - [`check_loader`]: any text loads into a scenario or into diagnostics,
//!   never a panic; every diagnostic points inside the text, on character
//!   boundaries; a scenario comes back exactly when no diagnostic is an
//!   error; the same for each point of a (small) sweep.
//! - [`scenario`] writes a random scenario from fuzz bytes: any mix of the
//!   kinds of service (stations, balancers, machines with replicas, pools,
//!   locks, caches, read replicas, shards, garbage collection, queues and workers,
//!   externals that fail, calls, fan-outs, timeouts, deadlines and retries,
//!   load profiles (populations too), faults, outlier ejection and
//!   autoscaling),
//!   classes open and closed.
//! - [`check_run`] runs a scenario once and checks what must hold on any
//!   sample path: determinism, conservation of requests, Little's law and
//!   the utilisation law as inequalities from an empty start, the limit on
//!   requests held; and that the report renders every figure as a number,
//!   a dash or `null`, never `NaN` or `inf`.
//!
//! `scripts/fuzz.sh` runs the targets in `fuzz/` (cargo-fuzz, nightly);
//! `docs/testing.md` says how long they ran and what they found.

#![deny(missing_docs)]

use std::fmt::Write as _;

use arbitrary::{Result, Unstructured};
use chokepoint_core::model::{Queue, RunConfig, Topology};
use chokepoint_core::stats::{RunStats, Stop};
use chokepoint_core::time::SimTime;
use chokepoint_scenario::{Diagnostic, load, load_points, sweep_diagnostics};

/// The most points of a sweep [`check_loader`] loads one by one.
const MAX_SWEEP_POINTS: usize = 64;

/// Checks that `text` loads or fails cleanly (see the crate's doc).
pub fn check_loader(text: &str) -> std::result::Result<(), String> {
    let loaded = load(text);
    spans_inside(text, &loaded.diagnostics)?;
    if loaded.scenario.is_some() == loaded.diagnostics.iter().any(Diagnostic::is_error) {
        return Err("a scenario came back with errors, or none without".into());
    }
    if let Some(spec) = loaded.scenario.and_then(|s| s.sweep)
        && spec.len() <= MAX_SWEEP_POINTS
    {
        let points = load_points(text, None, &spec);
        for (_, l) in &points {
            spans_inside(text, &l.diagnostics)?;
        }
        spans_inside(text, &sweep_diagnostics(&points))?;
    }
    Ok(())
}

fn spans_inside(text: &str, diagnostics: &[Diagnostic]) -> std::result::Result<(), String> {
    for d in diagnostics {
        if let Some(span) = &d.span
            && !(span.start <= span.end
                && span.end <= text.len()
                && text.is_char_boundary(span.start)
                && text.is_char_boundary(span.end))
        {
            return Err(format!("{:?} points outside the text: {}", span, d.message));
        }
    }
    Ok(())
}

/// What [`check_run`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Ran {
    /// The scenario does not load (the generator wrote something the loader
    /// refuses): nothing to run.
    Invalid,
    /// It ran, and every check held.
    Checked,
}

/// Looks at the run every `WATCH_EVERY` events: at most this many looks
/// (some 1.6 million events), so that one input stays quick. Counting
/// events, not time, keeps the run deterministic.
const LOOKS: u32 = 100;

/// Runs `text` once (one replication, no warm-up, some 1.6 million events at most)
/// and checks it (see the crate's doc).
pub fn check_run(text: &str) -> std::result::Result<Ran, String> {
    let loaded = load(text);
    let Some(scenario) = loaded.scenario else {
        return Ok(Ran::Invalid);
    };
    let sim = &scenario.simulation;
    let config = RunConfig {
        max_in_system: sim.max_in_system,
        ..RunConfig::new(SimTime::ZERO, sim.duration)
    };
    let run = || {
        let looks = std::cell::Cell::new(0);
        let watch = |_| {
            looks.set(looks.get() + 1);
            (looks.get() >= LOOKS).then_some(Stop::TimeLimit)
        };
        chokepoint_core::run_watched(&scenario.topology, &config, sim.seed, &watch)
            .map_err(|e| format!("a loaded scenario does not run: {e}"))
    };
    let stats = run()?;
    let again = run()?;
    if (stats.events, latency_bits(&stats)) != (again.events, latency_bits(&again)) {
        return Err("two runs with the same seed differ".into());
    }
    laws(&scenario.topology, &stats, config.max_in_system)?;
    // The report: every figure a number, a dash or null.
    let info = chokepoint_report::RunInfo {
        scenario: "fuzz".into(),
        seed: sim.seed,
        warmup: 0.0,
        wall: 0.0,
        warnings: Vec::new(),
        services: scenario.services.clone(),
        faults: Vec::new(),
    };
    let summary = chokepoint_report::summarize(&info, std::slice::from_ref(&stats));
    for (what, text) in [
        ("table", chokepoint_report::table(&summary)),
        ("csv", chokepoint_report::csv(&summary)),
        ("json", chokepoint_report::json(&summary)),
    ] {
        if text.contains("NaN") || text.contains("inf") {
            return Err(format!("the {what} shows NaN or inf:\n{text}"));
        }
    }
    Ok(Ran::Checked)
}

fn latency_bits(stats: &RunStats) -> Vec<u64> {
    stats
        .classes
        .iter()
        .map(|c| c.latency_sum.to_bits())
        .collect()
}

/// What holds on any sample path of a run from an empty start.
fn laws(topology: &Topology, stats: &RunStats, limit: u64) -> std::result::Result<(), String> {
    for c in &stats.classes {
        if c.completed + c.dropped + c.failed + c.timed_out > c.arrived || c.late > c.timed_out {
            return Err(format!(
                "class {}: {} completed, {} dropped, {} failed and {} timed out ({} late) of {} arrived",
                c.name, c.completed, c.dropped, c.failed, c.timed_out, c.late, c.arrived
            ));
        }
    }
    let horizon = stats.duration.as_nanos() as f64;
    for (s, station) in stats.stations.iter().zip(&topology.stations) {
        // Servers are a queue's (a balancer and a call point hold requests
        // without serving them).
        let servers = station.queue().map(|q| q.servers);
        // Rounding: half a nanosecond per visit, either way.
        let slack = 1.0 * s.arrivals as f64 + 1.0;
        let broken = if s.departures > s.arrivals {
            Some("more departures than arrivals")
        } else if s.system_area + slack < s.response_sum {
            Some("Little: the area under N(t) is less than the completed visits' time")
        } else if s.queue_area > s.system_area + slack {
            Some("more requests waiting than present")
        } else if let Some(c) = servers.filter(|&c| c != Queue::INFINITE)
            && s.busy_area > f64::from(c) * horizon + slack
        {
            Some("more servers busy than it has")
        } else {
            None
        };
        if let Some(why) = broken {
            return Err(format!("station {}: {why}: {s:?}", s.name));
        }
    }
    // The requests held at the end, station by station, are those the run
    // holds: below the limit, or (stopped by it) at most one event's worth
    // of requests past it (a fan-out of 1,000 repeated 100 times at most).
    // A call point counts its callers, which are also at their callees
    // when the call carries them, or are parents waiting for their
    // children in a fan-out: so the run holds at least the requests outside
    // call points, and at most those and the call points' together.
    let (mut outside, mut calling) = (0, 0);
    for (s, station) in stats.stations.iter().zip(&topology.stations) {
        let n = s.present_at_end + s.waiting_end + s.throttled_end;
        if station.call().is_some() {
            calling += n;
        } else {
            outside += n;
        }
    }
    let stopped = stats
        .stopped
        .is_some_and(|s| matches!(s.cause, Stop::InSystem { .. }));
    if !stopped && outside >= limit {
        return Err(format!(
            "{outside} requests held, not stopped at the limit {limit}"
        ));
    }
    if stopped && (outside + calling < limit || outside > limit + 100_000) {
        return Err(format!(
            "stopped at the limit {limit} holding {outside} requests (and {calling} at call points)"
        ));
    }
    Ok(())
}

/// The kinds of service [`scenario`] writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Station,
    Balancer,
    Api,
    Database,
    Cache,
    Queue,
    External,
}

/// Writes a random scenario from `u`: services `s0`, `s1`, … of random
/// kinds, each calling or sending only to later ones (so that calls never
/// loop, as the loader requires), and one to three classes. Most come out
/// valid; the rest exercise the loader's checks.
pub fn scenario(u: &mut Unstructured) -> Result<String> {
    let mut out = String::new();
    let n = u.int_in_range(1..=6)?;
    let kinds: Vec<Kind> = (0..n)
        .map(|_| {
            u.choose(&[
                Kind::Station,
                Kind::Station,
                Kind::Balancer,
                Kind::Api,
                Kind::Database,
                Kind::Cache,
                Kind::Queue,
                Kind::External,
            ])
            .copied()
        })
        .collect::<Result<_>>()?;
    let classes: Vec<String> = (0..u.int_in_range(1..=3)?)
        .map(|i| format!("c{i}"))
        .collect();
    let duration = u.choose(&["1s", "5s", "20s", "60s"])?;
    let _ = writeln!(
        out,
        "name = \"fuzz\"\n[simulation]\nduration = \"{duration}\"\nreplications = 1\nseed = {}\nmax_in_system = {}\n",
        u.arbitrary::<u32>()?,
        u.choose(&[1000, 20_000, 100_000])?
    );
    // Entries: any service but a queue's worker (written with its queue).
    for c in &classes {
        let entry = u.int_in_range(0..=n - 1)?;
        let _ = writeln!(out, "[load.{c}]\nentry = \"s{entry}\"");
        if u.ratio(1, 4)? {
            let population = if u.ratio(1, 3)? {
                format!(
                    "{{ steps = [{{ at = \"0s\", population = {} }}, {{ at = \"{}\", population = {} }}] }}",
                    u.int_in_range(0..=20)?,
                    u.choose(&["10ms", "1s", "10s"])?,
                    u.int_in_range(1..=50)?
                )
            } else {
                u.int_in_range(1..=50)?.to_string()
            };
            let _ = writeln!(out, "population = {population}\nthink = \"{}\"", dist(u)?);
        } else if u.ratio(1, 4)? {
            let r = u.choose(&["0.5", "5", "50", "500", "2000"])?;
            let p = u.choose(&["0", "1", "50", "5000"])?;
            let when = u.choose(&["0s", "100ms", "2s", "30s"])?;
            let _ = match u.int_in_range(0..=3)? {
                0 => writeln!(
                    out,
                    "rate = {{ steps = [{{ at = \"0s\", rate = \"{r}/s\" }}, {{ at = \"{when}\", rate = \"{p}/s\" }}] }}"
                ),
                1 => writeln!(
                    out,
                    "rate = {{ ramp = {{ from = \"{p}/s\", to = \"{r}/s\", over = \"{}\", at = \"{when}\" }} }}",
                    u.choose(&["1ms", "1s", "10s"])?
                ),
                2 => writeln!(
                    out,
                    "rate = {{ spike = {{ base = \"{r}/s\", peak = \"{p}/s\", at = \"{when}\", for = \"{}\" }} }}",
                    u.choose(&["1ms", "1s", "10s"])?
                ),
                _ => writeln!(
                    out,
                    "rate = {{ diurnal = {{ mean = \"{r}/s\", amplitude = \"{}/s\", period = \"{}\", peak_at = \"{when}\" }} }}",
                    u.choose(&["0", "0.25", "0.5"])?,
                    u.choose(&["1ms", "1s", "1h"])?
                ),
            };
            if u.ratio(1, 4)? {
                out.push_str("arrival = \"constant\"\n");
            }
        } else {
            let _ = writeln!(
                out,
                "rate = \"{}/s\"",
                u.choose(&["0.5", "5", "50", "500", "2000"])?
            );
            if u.ratio(1, 4)? {
                out.push_str("arrival = \"constant\"\n");
            }
        }
        if u.ratio(1, 4)? {
            let _ = writeln!(out, "priority = {}", u.int_in_range(-2..=2)?);
        }
        if u.ratio(1, 6)? {
            let _ = writeln!(
                out,
                "rate_limit = {{ rate = \"{}/s\", burst = {}, mode = \"{}\" }}",
                u.choose(&["1", "50", "1000"])?,
                u.int_in_range(1..=20)?,
                u.choose(&["reject", "delay"])?
            );
        }
        if u.ratio(1, 4)? {
            let _ = writeln!(out, "deadline = \"{}\"", dist(u)?);
            if u.ratio(1, 2)? {
                out.push_str(&cancel(u)?);
            }
        }
        out.push('\n');
    }
    for (i, &kind) in kinds.iter().enumerate() {
        let later: Vec<usize> = (i + 1..n as usize).collect();
        service(u, &mut out, i, kind, &later, &kinds, &classes)?;
    }
    for _ in 0..u.int_in_range(0..=2)? {
        let target = u.int_in_range(0..=n - 1)?;
        let replica = if kinds[target as usize] == Kind::Api && u.ratio(1, 2)? {
            "replica = 0\n"
        } else {
            ""
        };
        let effect = match u.int_in_range(0..=2)? {
            0 => format!(
                "kind = \"crash\"\ndetect = \"{}\"",
                u.choose(&["0s", "10ms", "1s"])?
            ),
            1 => format!(
                "kind = \"slow\"\nfactor = {}",
                u.choose(&["0.5", "2", "100"])?
            ),
            _ => format!(
                "kind = \"errors\"\nprobability = {}",
                u.choose(&["0", "0.5", "1"])?
            ),
        };
        let every = if u.ratio(1, 2)? {
            format!("every = \"{}\"\n", dist(u)?)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "[[faults]]\n{effect}\nservice = \"s{target}\"\n{replica}at = \"{}\"\nfor = \"{}\"\n{every}",
            u.choose(&["0s", "100ms", "1s"])?,
            dist(u)?
        );
    }
    Ok(out)
}

/// A random service time.
fn dist(u: &mut Unstructured) -> Result<String> {
    let mean = u.choose(&["100us", "1ms", "5ms", "20ms", "200ms", "1s"])?;
    Ok(match u.int_in_range(0..=6)? {
        0 => format!("exp({mean})"),
        1 => format!("const({mean})"),
        2 => format!("uniform(0ms, {mean})"),
        3 => format!("erlang(k={}, mean={mean})", u.int_in_range(1..=4)?),
        4 => format!("gamma(mean={mean}, cv={})", u.choose(&["0.3", "1", "2"])?),
        5 => format!("hyperexp(mean={mean}, cv={})", u.choose(&["1", "3"])?),
        _ => format!("lognormal(mean={mean}, cv={})", u.choose(&["0.5", "1.5"])?),
    })
}

/// A `cancel`, on its own line.
fn cancel(u: &mut Unstructured) -> Result<String> {
    Ok(format!(
        "cancel = \"{}\"\n",
        u.choose(&["never", "at_dequeue", "preempt"])?
    ))
}

/// Sometimes a timeout (with what it cancels) and a retry policy, as the
/// keys to add to a call's inline table (each with its leading comma).
fn protection(u: &mut Unstructured) -> Result<String> {
    let mut out = String::new();
    if u.ratio(1, 3)? {
        let _ = write!(out, ", timeout = \"{}\"", dist(u)?);
        if u.ratio(1, 2)? {
            let _ = write!(
                out,
                ", cancel = \"{}\"",
                u.choose(&["never", "at_dequeue", "preempt"])?
            );
        }
    }
    if u.ratio(1, 4)? {
        let _ = write!(
            out,
            ", breaker = {{ window = {}, failure_rate = {}, open_for = \"{}\", half_open_calls = {} }}",
            u.int_in_range(1..=20)?,
            u.choose(&["10", "50", "100"])?,
            u.choose(&["10ms", "1s"])?,
            u.int_in_range(1..=3)?
        );
    }
    if u.ratio(1, 3)? {
        let budget = match u.int_in_range(0..=2)? {
            0 => String::new(),
            1 => format!(
                ", budget = {{ percent = {}, min_concurrency = {} }}",
                u.int_in_range(0..=100)?,
                u.int_in_range(0..=5)?
            ),
            _ => format!(
                ", budget = {{ tokens = {}, ratio = {} }}",
                u.int_in_range(1..=20)?,
                u.choose(&["0.1", "0.5", "1"])?
            ),
        };
        let _ = write!(
            out,
            ", retry = {{ attempts = {}, backoff = {{ base = \"{}\", cap = \"1s\", jitter = \"{}\" }}, on = [{}]{budget} }}",
            u.int_in_range(1..=4)?,
            u.choose(&["0ms", "1ms", "10ms"])?,
            u.choose(&["none", "full", "equal", "decorrelated"])?,
            u.choose(&["\"timeout\"", "\"error\"", "\"timeout\", \"error\""])?
        );
    }
    Ok(out)
}

/// Calls to some of `later` (a queue gets a plain send); payloads only
/// from a caller with a profile (`bytes` needs its network).
fn calls(u: &mut Unstructured, later: &[usize], kinds: &[Kind], profile: bool) -> Result<String> {
    let mut items = Vec::new();
    let services: Vec<usize> = later
        .iter()
        .copied()
        .filter(|&j| kinds[j] != Kind::Queue)
        .collect();
    for _ in 0..u.int_in_range(0..=2)? {
        let Some(&to) = later.get(u.choose_index(later.len().max(1))?) else {
            break;
        };
        if kinds[to] == Kind::Queue {
            items.push(format!("{{ to = \"s{to}\" }}"));
            continue;
        }
        items.push(match u.int_in_range(0..=5)? {
            0 => format!("{{ to = \"s{to}\" }}"),
            5 => {
                let hedge = if u.ratio(1, 3)? {
                    format!(
                        ", hedge = {{ after = \"{}\", max = {} }}",
                        u.choose(&["1ms", "20ms", "p50", "p95"])?,
                        u.int_in_range(1..=2)?
                    )
                } else {
                    String::new()
                };
                format!("{{ to = \"s{to}\"{hedge}{} }}", protection(u)?)
            }
            1 => format!(
                "{{ to = \"s{to}\", p = {}, n = {}, latency = \"{}\" }}",
                u.choose(&["0.3", "0.9", "1.0"])?,
                u.int_in_range(1..=3)?,
                dist(u)?
            ),
            2 => {
                let other = services[u.choose_index(services.len())?];
                format!(
                    "{{ parallel = [\"s{to}\", \"s{other}\"], wait = {}{} }}",
                    u.int_in_range(1..=2)?,
                    protection(u)?
                )
            }
            3 => format!(
                "{{ fanout = {{ to = \"s{to}\", n = {} }} }}",
                u.int_in_range(1..=8)?
            ),
            _ if profile => format!(
                "{{ to = \"s{to}\", bytes = {} }}",
                u.int_in_range(0..=100_000)?
            ),
            _ => format!("{{ to = \"s{to}\" }}"),
        });
    }
    Ok(if items.is_empty() {
        String::new()
    } else {
        format!("calls = [{}]\n", items.join(", "))
    })
}

/// Forward routing to some of `later`, with probabilities below 1.
fn next(u: &mut Unstructured, later: &[usize]) -> Result<String> {
    if later.is_empty() || u.ratio(1, 2)? {
        return Ok(String::new());
    }
    let to = later[u.choose_index(later.len())?];
    Ok(if u.ratio(1, 2)? {
        format!("next = [{{ to = \"s{to}\" }}]\n")
    } else {
        let other = later[u.choose_index(later.len())?];
        format!("next = [{{ to = \"s{to}\", p = 0.4 }}, {{ to = \"s{other}\", p = 0.3 }}]\n")
    })
}

/// Per-class behaviour for some classes.
fn per_class(
    u: &mut Unstructured,
    out: &mut String,
    i: usize,
    classes: &[String],
    body: &dyn Fn(&mut Unstructured) -> Result<String>,
) -> Result<()> {
    for c in classes {
        if u.ratio(1, 3)? {
            let _ = writeln!(out, "[services.s{i}.on.{c}]\n{}", body(u)?);
        }
    }
    Ok(())
}

fn service(
    u: &mut Unstructured,
    out: &mut String,
    i: usize,
    kind: Kind,
    later: &[usize],
    kinds: &[Kind],
    classes: &[String],
) -> Result<()> {
    let _ = writeln!(out, "[services.s{i}]");
    // A target of a balancer, or a cache's backing store: a later service
    // that serves requests.
    let served: Vec<usize> = later
        .iter()
        .copied()
        .filter(|&j| !matches!(kinds[j], Kind::Queue | Kind::Balancer))
        .collect();
    match kind {
        Kind::Balancer if !served.is_empty() => {
            let policy = u.choose(&[
                "round_robin",
                "random",
                "least_connections",
                "power_of_two",
                "sticky",
                "consistent_hash",
            ])?;
            let targets: Vec<String> = served
                .iter()
                .filter(|_| u.ratio(2, 3).unwrap_or(true))
                .map(|j| format!("\"s{j}\""))
                .collect();
            let targets = if targets.is_empty() {
                format!("\"s{}\"", served[0])
            } else {
                targets.join(", ")
            };
            let _ = writeln!(
                out,
                "kind = \"load_balancer\"\npolicy = \"{policy}\"\ntargets = [{targets}]"
            );
            if *policy == "sticky" || *policy == "consistent_hash" {
                let _ = writeln!(
                    out,
                    "sessions = {{ count = {}, zipf = {} }}",
                    u.int_in_range(1..=500)?,
                    u.choose(&["0", "0.9", "1.2"])?
                );
            }
            if u.ratio(1, 3)? {
                let _ = writeln!(
                    out,
                    "outlier_ejection = {{ consecutive_errors = {}, base = \"{}\", max_percent = {} }}",
                    u.int_in_range(1..=5)?,
                    u.choose(&["1ms", "100ms", "2s"])?,
                    u.choose(&["10", "50", "100"])?
                );
            }
        }
        Kind::Api | Kind::Database => {
            let database = kind == Kind::Database;
            if u.ratio(1, 5)? {
                let _ = writeln!(
                    out,
                    "codel = {{ target = \"{}\", interval = \"{}\" }}",
                    u.choose(&["1ms", "20ms"])?,
                    u.choose(&["10ms", "200ms"])?
                );
            }
            if u.ratio(1, 6)? {
                let _ = writeln!(out, "adaptive_lifo = {}", u.int_in_range(0..=20)?);
            }
            if u.ratio(1, 6)? {
                let _ = writeln!(
                    out,
                    "rate_limit = {{ rate = \"{}/s\", burst = {} }}",
                    u.choose(&["10", "500"])?,
                    u.int_in_range(1..=50)?
                );
            }
            let _ = writeln!(
                out,
                "kind = \"{}\"\nprofile = \"{}\"\ncpu = \"{}\"",
                if database { "database" } else { "api" },
                u.choose(&["g-large", "c-large", "m-xlarge", "g-4xlarge"])?,
                dist(u)?
            );
            if database && u.ratio(1, 2)? {
                let _ = writeln!(
                    out,
                    "pool = {{ size = {}, connect = \"{}\", idle_timeout = \"{}\" }}",
                    u.int_in_range(1..=16)?,
                    u.choose(&["0ms", "3ms"])?,
                    u.choose(&["1s", "30s"])?
                );
            } else {
                let _ = writeln!(out, "workers = {}", u.int_in_range(1..=64)?);
            }
            // A sharded database: its shards split its keys, each with
            // the replicas (and read replicas) the service describes.
            let shards: Option<u32> = if database && u.ratio(1, 3)? {
                Some(u.int_in_range(1..=6)?)
            } else {
                None
            };
            if let Some(count) = shards {
                let _ = writeln!(
                    out,
                    "shards = {{ count = {count}, by = \"{}\" }}",
                    u.choose(&["hash", "range"])?
                );
            }
            if database && u.ratio(1, 2)? {
                let _ = writeln!(
                    out,
                    "replicas = {{ count = {}, lag = \"{}\" }}\nkeys = {}\nzipf = 0.9",
                    u.int_in_range(1..=3)?,
                    dist(u)?,
                    u.int_in_range(shards.map_or(1, |c| c.max(2))..=10_000)?
                );
            } else {
                if let Some(count) = shards {
                    let _ = writeln!(
                        out,
                        "keys = {}\nzipf = {}",
                        u.int_in_range(count.max(2)..=10_000)?,
                        u.choose(&["0", "0.9"])?
                    );
                }
                let replicas = u.int_in_range(1..=4)?;
                let _ = writeln!(out, "replicas = {replicas}");
                if !database && u.ratio(1, 3)? {
                    let (metric, target) = *u.choose(&[
                        ("cpu", "0.6"),
                        ("workers", "\"70%\""),
                        ("queue_per_replica", "5"),
                        ("rps_per_replica", "\"100/s\""),
                    ])?;
                    let _ = writeln!(
                        out,
                        "autoscale = {{ metric = \"{metric}\", target = {target}, min = 1, max = {}, interval = \"{}\", provision = \"{}\", warmup = \"{}\", scale_in_after = \"{}\" }}",
                        replicas + u.int_in_range(0..=3)?,
                        u.choose(&["10ms", "1s", "15s"])?,
                        u.choose(&["0s", "100ms", "5s"])?,
                        u.choose(&["0s", "1s"])?,
                        u.choose(&["0s", "2s", "300s"])?
                    );
                }
            }
            if u.ratio(1, 3)? {
                let _ = writeln!(out, "serial = {}", u.choose(&["0.05", "0.5"])?);
            }
            if u.ratio(1, 3)? {
                let _ = writeln!(
                    out,
                    "disk_ops = {}\nnet_bytes = {}",
                    u.int_in_range(0..=4)?,
                    u.int_in_range(0..=50_000)?
                );
            }
            if shards.is_none() && u.ratio(1, 3)? {
                let _ = writeln!(
                    out,
                    "locks = {{ name = \"row\", hold = \"{}\", keys = {} }}",
                    dist(u)?,
                    u.int_in_range(1..=8)?
                );
            }
            if u.ratio(1, 4)? {
                out.push_str(
                    "heap_gb = 2\nlive_gb = 0.5\nalloc_per_request = 4\ngc = \"stop_the_world\"\n",
                );
            }
            out.push_str(&calls(u, later, kinds, true)?);
            out.push_str(&next(u, later)?);
            out.push('\n');
            per_class(u, out, i, classes, &|u| {
                let op = if database && u.ratio(1, 2)? {
                    "op = \"write\"\n"
                } else {
                    ""
                };
                // Which shards a request touches: its key's, all of them,
                // or some drawn at random.
                let scope = match shards {
                    Some(count) => match u.int_in_range(0..=2)? {
                        0 => String::new(),
                        1 => "scope = \"all\"\n".to_owned(),
                        _ => format!("scope = {{ shards = {} }}\n", u.int_in_range(1..=count)?),
                    },
                    None => String::new(),
                };
                Ok(format!("{op}{scope}cpu = \"{}\"\n", dist(u)?))
            })?;
            return Ok(());
        }
        Kind::Cache if !served.is_empty() => {
            let backing = served[u.choose_index(served.len())?];
            let _ = writeln!(
                out,
                "kind = \"cache\"\nwork = \"{}\"\non_miss = [{{ to = \"s{backing}\" }}]",
                dist(u)?
            );
            if u.ratio(1, 2)? {
                let _ = writeln!(out, "hit_ratio = {}", u.choose(&["0", "0.5", "0.95", "1"])?);
            } else {
                let keys = u.int_in_range(1..=50_000)?;
                let _ = writeln!(
                    out,
                    "keys = {keys}\nzipf = {}\ncapacity = {}",
                    u.choose(&["0", "0.8", "1.1"])?,
                    u.int_in_range(1..=10_000)?
                );
                if u.ratio(1, 4)? {
                    let _ = writeln!(
                        out,
                        "shards = {{ count = {}, by = \"{}\" }}",
                        u.int_in_range(1..=keys.min(6))?,
                        u.choose(&["hash", "range"])?
                    );
                }
                let policy = u.choose(&["invalidate", "write_through", "write_back"])?;
                let _ = writeln!(out, "write_policy = \"{policy}\"");
                if *policy == "write_back" {
                    let _ = writeln!(
                        out,
                        "flush_batch = {}\nflush_interval = \"{}\"",
                        u.int_in_range(1..=200)?,
                        u.choose(&["10ms", "1s"])?
                    );
                }
                per_class(u, out, i, classes, &|u| {
                    Ok(if u.ratio(1, 2)? {
                        "op = \"write\"\n"
                    } else {
                        "op = \"read\"\n"
                    }
                    .into())
                })?;
                return Ok(());
            }
        }
        Kind::Queue => {
            let _ = writeln!(out, "kind = \"queue\"");
            if u.ratio(1, 2)? {
                let _ = writeln!(out, "capacity = {}", u.int_in_range(1..=100)?);
            }
            let _ = writeln!(
                out,
                "\n[services.s{i}w]\nkind = \"worker\"\nqueue = \"s{i}\"\nconcurrency = {}\nreplicas = {}\nservers = {}\ncpu = \"{}\"",
                u.int_in_range(1..=8)?,
                u.int_in_range(1..=3)?,
                u.int_in_range(1..=4)?,
                dist(u)?
            );
            out.push_str(&calls(u, later, kinds, false)?);
        }
        Kind::External => {
            let _ = writeln!(out, "kind = \"external\"\nlatency = \"{}\"", dist(u)?);
            if u.ratio(1, 2)? {
                let _ = writeln!(out, "concurrency = {}", u.int_in_range(1..=20)?);
            }
            if u.ratio(1, 2)? {
                let _ = writeln!(out, "error = {}", u.choose(&["0.01", "0.5", "1"])?);
            }
        }
        // A station, and what a balancer or a cache becomes without a
        // later service to send to.
        _ => {
            let discipline = u.choose(&["fifo", "lifo", "priority", "ps"])?;
            let servers = u.int_in_range(1..=8)?;
            let _ = writeln!(
                out,
                "kind = \"station\"\nservers = {servers}\ndiscipline = \"{discipline}\"\nwork = \"{}\"",
                dist(u)?
            );
            // A station that makes calls holds its servers through them:
            // it takes neither a capacity nor priorities.
            let calling = *discipline != "priority" && u.ratio(1, 3)?;
            if !calling && u.ratio(1, 3)? {
                let _ = writeln!(out, "capacity = {}", servers + u.int_in_range(0..=20)?);
            }
            if u.ratio(1, 5)? {
                let _ = writeln!(
                    out,
                    "down = [{{ from = \"{}\", to = \"{}\" }}]",
                    u.choose(&["0s", "1s"])?,
                    u.choose(&["2s", "10s"])?
                );
            }
            if calling {
                out.push_str(&calls(u, later, kinds, false)?);
            }
            out.push_str(&next(u, later)?);
            out.push('\n');
            per_class(u, out, i, classes, &|u| {
                Ok(format!("work = \"{}\"\n", dist(u)?))
            })?;
            return Ok(());
        }
    }
    out.push('\n');
    Ok(())
}
