//! Validation of chokepoint against exact results of queueing theory.
//!
//! The reference values come from `data/analytic-cases.json` (a copy of the
//! project's shared analytic cases). Each case is simulated from a scenario
//! under `scenarios/validation/`, once per row of the case, with the row's
//! inputs applied as [`Override`]s. Every expected quantity is compared with
//! its simulated estimate across independent replications.
//!
//! **The criterion.** A check passes when the theoretical value lies within
//! the 99.9% Student-t confidence interval of the replication estimates
//! (widened by the histogram's 0.1% resolution for percentiles); one miss per
//! case is tolerated if it lies within the 99.99% interval (see
//! [`failures`]). The report also says whether theory lies within the 95%
//! interval: with well-calibrated intervals about 95% of checks do, which is
//! itself a check on the intervals. A run makes some 500 checks, so at the
//! 95% level many would fail by chance alone; the 99.9% level with one
//! tolerated miss per case keeps false alarms rare while still catching any
//! real bias larger than a few standard errors.
//!
//! Mechanisms the shared file does not cover (feedback routing, every
//! service law, processor sharing, LIFO, priorities, constant arrivals) are
//! checked against values derived in [`derived`] from closed-form results.
//!
//! The tests in `tests/` and the `validation-report` binary that writes
//! `docs/validation.md` run exactly the same code.

#![deny(missing_docs)]

pub mod derived;

use chokepoint_core::stats::RunStats;
use chokepoint_core::time::SimTime;
use chokepoint_report::{Estimate, Summary};
use chokepoint_scenario::{Override, load_in};
use chokepoint_study::Study;
use serde_json::Value;
use std::path::Path;

/// What a simulated figure is, per replication.
#[derive(Clone, Copy, Debug)]
pub enum Quantity {
    /// Mean end-to-end latency of class 0.
    Latency,
    /// Mean end-to-end latency of the class with this index.
    ClassLatency(usize),
    /// A latency quantile of class 0.
    LatencyQuantile(f64),
    /// Completions per second of class 0.
    Throughput,
    /// Fraction of class 0's arrivals dropped.
    DropRatio,
    /// Utilisation of a station (by name).
    Utilization(&'static str),
    /// Time-averaged number present at a station.
    InSystem(&'static str),
    /// Time-averaged number waiting at a station.
    InQueue(&'static str),
    /// Mean wait per visit at a station.
    Wait(&'static str),
    /// Mean time per visit at a station.
    Response(&'static str),
    /// Fraction of class 0's completions slower than this many seconds.
    FractionAbove(f64),
    /// Mean wait for an admission slot at a station.
    SlotWait(&'static str),
    /// Fraction of class 0's ended requests that failed with an error.
    FailedRatio,
    /// Hits over reads at a cache station.
    HitRatio(&'static str),
    /// Stale reads over reads, over all of a run's read replicas.
    StaleRatio,
}

impl Quantity {
    fn value(self, run: &RunStats) -> f64 {
        let class = &run.classes[0];
        let station = |name: &str| {
            run.stations
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("validation scenario has no station `{name}`"))
        };
        match self {
            Quantity::Latency => class.mean_latency(),
            Quantity::ClassLatency(i) => run.classes[i].mean_latency(),
            Quantity::LatencyQuantile(q) => class.latency_quantile(q),
            Quantity::Throughput => class.throughput(run.duration),
            Quantity::DropRatio => class.drop_ratio(),
            Quantity::Utilization(s) => station(s).utilization(run.duration),
            Quantity::InSystem(s) => station(s).mean_in_system(run.duration),
            Quantity::InQueue(s) => station(s).mean_queue_len(run.duration),
            Quantity::Wait(s) => station(s).mean_wait(),
            Quantity::Response(s) => station(s).mean_response(),
            Quantity::SlotWait(s) => station(s).mean_slot_wait(),
            Quantity::FailedRatio => class.failed as f64 / (class.failed + class.completed) as f64,
            Quantity::HitRatio(s) => station(s)
                .cache
                .as_ref()
                .map_or(f64::NAN, |c| c.hit_ratio()),
            Quantity::StaleRatio => {
                let stale: u64 = run.stations.iter().map(|s| s.stale_reads).sum();
                let reads: u64 = run.stations.iter().map(|s| s.replica_reads).sum();
                stale as f64 / reads as f64
            }
            Quantity::FractionAbove(t) => {
                let h = &class.latency;
                let above = h.count_between((t * 1e9) as u64, h.max());
                above as f64 / h.len() as f64
            }
        }
    }

    fn is_quantile(self) -> bool {
        matches!(self, Quantity::LatencyQuantile(_))
    }
}

/// How to simulate one analytic case.
#[derive(Clone, Debug)]
pub struct CaseSpec {
    /// The case's `id` in the JSON file (or of a derived case).
    pub id: &'static str,
    /// For cases not in the shared file: the function computing its reference values.
    pub derived: Option<fn() -> Value>,
    /// The scenario file name (under `scenarios/validation/`, `scaling/` or
    /// `data/`), and its text.
    pub scenario: (&'static str, &'static str),
    /// The overrides for one row, from the row's `inputs`; `None` skips the row.
    pub overrides: fn(&Value) -> Option<Vec<Override>>,
    /// Overrides applied to every row after those (the layout of a case
    /// that shares its scenario with others, longer runs).
    pub fixed: Vec<Override>,
    /// JSON pointers into the row's `expected`, and the simulated quantity each is.
    pub checks: Vec<(String, Quantity)>,
}

/// One comparison of theory and simulation.
#[derive(Clone, Debug)]
pub struct Check {
    /// The case.
    pub case: &'static str,
    /// The row, described by its inputs.
    pub row: String,
    /// The expected key.
    pub quantity: String,
    /// The exact value.
    pub theory: f64,
    /// The simulated estimate (mean over replications).
    pub simulated: f64,
    /// 95% half-width.
    pub ci95: f64,
    /// 99.9% half-width plus `resolution`: the pass band.
    pub band: f64,
    /// 99.99% half-width plus `resolution`: the band one check per case may
    /// fall in (see [`failures`]).
    pub wide_band: f64,
    /// Histogram resolution allowed for percentiles (zero for means).
    pub resolution: f64,
}

impl Check {
    /// Whether theory lies within the 95% interval (plus histogram resolution).
    pub fn in_ci95(&self) -> bool {
        (self.simulated - self.theory).abs() <= self.ci95 + self.resolution
    }
    /// Whether theory lies within the pass band.
    pub fn passed(&self) -> bool {
        (self.simulated - self.theory).abs() <= self.band
    }
    /// Whether theory lies within the wide band.
    pub fn within_wide_band(&self) -> bool {
        (self.simulated - self.theory).abs() <= self.wide_band
    }
}

/// The checks that fail the validation: outside the 99.9% band, except one
/// per case that is still inside the 99.99% band.
///
/// A run makes some 500 checks; even an exact simulator puts about one in a
/// thousand outside its 99.9% interval by chance, so one such check per case
/// is tolerated, provided it is within the 99.99% interval. Two in one case,
/// or one beyond 99.99%, is a failure. (With correlated checks within a case
/// this rule is conservative; a systematic bias shows up as many misses.)
pub fn failures(checks: &[Check]) -> Vec<&Check> {
    let mut failed = Vec::new();
    let mut tolerated: Vec<&str> = Vec::new();
    for c in checks {
        if c.passed() {
            continue;
        }
        if c.within_wide_band() && !tolerated.contains(&c.case) {
            tolerated.push(c.case);
        } else {
            failed.push(c);
        }
    }
    failed
}

/// Relative resolution of a 3-significant-digit HDR histogram.
pub const HISTOGRAM_RESOLUTION: f64 = 1e-3;

fn rate(inputs: &Value, key: &str, path: &str) -> Option<Vec<Override>> {
    let lambda = inputs.get(key)?.as_f64()?;
    Some(vec![Override::new(path, format!("\"{lambda}/s\""))])
}

/// The scaling scenarios are short examples; validation runs them longer,
/// enough for ρ = 0.95.
fn long_run() -> Vec<Override> {
    vec![
        Override::new("simulation.duration", "\"100000s\""),
        Override::new("simulation.warmup", "\"5000s\""),
        Override::new("simulation.replications", "20"),
    ]
}

/// Overrides of a balancer row: its rate and policy.
fn balancer_overrides(inputs: &Value) -> Option<Vec<Override>> {
    let policy = inputs.get("policy")?.as_str()?;
    let mut o = rate(inputs, "lambda", "load.jobs.rate")?;
    o.push(Override::new("services.lb.policy", format!("\"{policy}\"")));
    Some(o)
}

/// The cases this release can express, and how.
pub fn cases() -> Vec<CaseSpec> {
    use Quantity::*;
    let single_station = |s: &'static str, util_key: &str| {
        [
            (util_key, Utilization(s)),
            ("/throughput", Throughput),
            ("/Wq", Wait(s)),
            ("/T", Latency),
            ("/Lq", InQueue(s)),
            ("/L", InSystem(s)),
            ("/T_p50", LatencyQuantile(0.50)),
            ("/T_p90", LatencyQuantile(0.90)),
            ("/T_p99", LatencyQuantile(0.99)),
            ("/T_p99.9", LatencyQuantile(0.999)),
        ]
        .into_iter()
        .map(|(k, q)| (k.to_owned(), q))
        .collect::<Vec<_>>()
    };
    let owned = |checks: &[(&str, Quantity)]| -> Vec<(String, Quantity)> {
        checks.iter().map(|&(k, q)| (k.to_owned(), q)).collect()
    };
    let mm1 = (
        "mm1.toml",
        include_str!("../../../scenarios/validation/mm1.toml"),
    );
    let mut specs = vec![
        CaseSpec {
            derived: None,
            fixed: Vec::new(),
            id: "mm1_rho050",
            scenario: mm1,
            overrides: |i| rate(i, "lambda", "load.jobs.rate"),
            checks: single_station("server", "/utilization"),
        },
        CaseSpec {
            derived: None,
            fixed: Vec::new(),
            id: "mm1_rho090",
            scenario: mm1,
            overrides: |i| rate(i, "lambda", "load.jobs.rate"),
            checks: single_station("server", "/utilization"),
        },
        CaseSpec {
            derived: None,
            fixed: Vec::new(),
            id: "mmc_c2_erlangC",
            scenario: (
                "mmc2.toml",
                include_str!("../../../scenarios/validation/mmc2.toml"),
            ),
            overrides: |i| rate(i, "lambda", "load.jobs.rate"),
            checks: single_station("q", "/utilization_per_server"),
        },
        CaseSpec {
            derived: None,
            fixed: Vec::new(),
            id: "mmc_c4_erlangC",
            scenario: (
                "mmc4.toml",
                include_str!("../../../scenarios/validation/mmc4.toml"),
            ),
            overrides: |i| rate(i, "lambda", "load.jobs.rate"),
            checks: single_station("q", "/utilization_per_server"),
        },
        CaseSpec {
            derived: None,
            fixed: Vec::new(),
            id: "mm1k_finite_buffer",
            scenario: (
                "mm1k.toml",
                include_str!("../../../scenarios/validation/mm1k.toml"),
            ),
            overrides: |i| rate(i, "lambda", "load.jobs.rate"),
            checks: {
                let mut c = owned(&[("/P_block", DropRatio)]);
                c.extend(single_station("server", "/utilization_per_server"));
                c
            },
        },
        CaseSpec {
            derived: None,
            fixed: Vec::new(),
            id: "erlangB_loss_mmcc",
            scenario: (
                "erlang_b.toml",
                include_str!("../../../scenarios/validation/erlang_b.toml"),
            ),
            overrides: |i| {
                let c = i.get("c")?.as_u64()?;
                let mut o = rate(i, "lambda", "load.calls.rate")?;
                o.push(Override::new("services.trunks.servers", c.to_string()));
                o.push(Override::new("services.trunks.capacity", c.to_string()));
                Some(o)
            },
            checks: owned(&[
                ("/P_block_ErlangB", DropRatio),
                ("/throughput", Throughput),
                ("/utilization_per_server", Utilization("trunks")),
                ("/L", InSystem("trunks")),
                ("/T_accepted", Latency),
                ("/Wq", Wait("trunks")),
            ]),
        },
        CaseSpec {
            derived: None,
            fixed: Vec::new(),
            id: "md1_pk",
            scenario: (
                "md1.toml",
                include_str!("../../../scenarios/validation/md1.toml"),
            ),
            overrides: |i| rate(i, "lambda", "load.jobs.rate"),
            checks: single_station("server", "/utilization"),
        },
        CaseSpec {
            derived: None,
            fixed: Vec::new(),
            id: "mg1_erlang4_pk",
            scenario: (
                "me41.toml",
                include_str!("../../../scenarios/validation/me41.toml"),
            ),
            overrides: |i| rate(i, "lambda", "load.jobs.rate"),
            checks: single_station("server", "/utilization"),
        },
        CaseSpec {
            derived: None,
            fixed: Vec::new(),
            id: "jackson_tandem_3_mm1",
            scenario: (
                "jackson_tandem.toml",
                include_str!("../../../scenarios/validation/jackson_tandem.toml"),
            ),
            overrides: |_| Some(Vec::new()),
            checks: {
                let mut c = owned(&[
                    ("/throughput", Throughput),
                    ("/end_to_end_T", Latency),
                    ("/end_to_end_T_p50", LatencyQuantile(0.50)),
                    ("/end_to_end_T_p90", LatencyQuantile(0.90)),
                    ("/end_to_end_T_p99", LatencyQuantile(0.99)),
                    ("/end_to_end_T_p99.9", LatencyQuantile(0.999)),
                ]);
                for (i, s) in ["load_balancer", "app", "db"].into_iter().enumerate() {
                    let key = |k: &str| format!("/per_station/{i}/{k}");
                    c.push((key("rho"), Utilization(s)));
                    c.push((key("L"), InSystem(s)));
                    c.push((key("Lq"), InQueue(s)));
                    c.push((key("T"), Response(s)));
                    c.push((key("Wq"), Wait(s)));
                }
                c
            },
        },
        CaseSpec {
            derived: None,
            fixed: Vec::new(),
            id: "mva_closed_cpu_2disks",
            scenario: (
                "mva_central_server.toml",
                include_str!("../../../scenarios/validation/mva_central_server.toml"),
            ),
            overrides: |i| {
                let n = i.get("N")?.as_u64()?;
                // A spread of populations below, at and far above the knee N* = 3.3.
                [1, 2, 3, 5, 10, 20]
                    .contains(&n)
                    .then(|| vec![Override::new("load.users.population", n.to_string())])
            },
            checks: {
                let mut c = owned(&[("/X", Throughput), ("/R", Latency)]);
                for (k, s) in [("cpu", "cpu"), ("diskA", "disk_a"), ("diskB", "disk_b")] {
                    let key = |p: &str| format!("/{p}/{k}");
                    c.push((key("U"), Utilization(s)));
                    c.push((key("Q"), InSystem(s)));
                    c.push((key("R_per_visit"), Response(s)));
                }
                c
            },
        },
        CaseSpec {
            id: "fanout_wait_for_all",
            derived: None,
            fixed: Vec::new(),
            scenario: (
                "fanout.toml",
                include_str!("../../../scenarios/validation/fanout.toml"),
            ),
            overrides: |i| {
                let k = i.get("k")?.as_u64()?;
                let mu = i.get("mu")?.as_f64()?;
                // A thousand replies per request is too long a run for CI.
                if k > 100 {
                    return None;
                }
                Some(vec![
                    Override::new(
                        "services.client.calls",
                        format!("[{{ fanout = {{ to = \"backend\", n = {k} }} }}]"),
                    ),
                    Override::new(
                        "services.backend.latency",
                        format!("\"exp({}ms)\"", 1e3 / mu),
                    ),
                ])
            },
            checks: owned(&[
                ("/E_max", Latency),
                ("/max_p50", LatencyQuantile(0.50)),
                ("/max_p90", LatencyQuantile(0.90)),
                ("/max_p99", LatencyQuantile(0.99)),
                ("/max_p99.9", LatencyQuantile(0.999)),
                // One backend's p99 at μ = 100/s: ln(100)/μ.
                (
                    "/P_max_gt_single_backend_p99",
                    FractionAbove(std::f64::consts::LN_10 * 2.0 / 100.0),
                ),
            ]),
        },
        CaseSpec {
            id: "derived_fork_join",
            derived: Some(derived::fork_join),
            fixed: Vec::new(),
            scenario: (
                "fork_join.toml",
                include_str!("../../../scenarios/validation/fork_join.toml"),
            ),
            overrides: |i| rate(i, "lambda", "load.jobs.rate"),
            checks: owned(&[
                ("/T", Latency),
                ("/left_rho", Utilization("left")),
                ("/left_W", Response("left")),
                ("/right_W", Response("right")),
            ]),
        },
        CaseSpec {
            id: "derived_shards",
            derived: Some(derived::shards),
            fixed: Vec::new(),
            scenario: (
                "shards.toml",
                include_str!("../../../scenarios/validation/shards.toml"),
            ),
            overrides: |i| {
                let text = |key: &str| i.get(key).map(ToString::to_string);
                Some(vec![
                    Override::new("services.db.shards.count", text("shards")?),
                    Override::new("services.db.shards.by", text("by")?),
                    Override::new("services.db.zipf", text("zipf")?),
                    Override::new(
                        "load.writes.rate",
                        format!("\"{}/s\"", i.get("lambda")?.as_f64()?),
                    ),
                ])
            },
            checks: owned(&[
                ("/T", Latency),
                ("/rho0", Utilization("db.shard0[0].cpu")),
                ("/rho1", Utilization("db.shard1[0].cpu")),
            ]),
        },
        CaseSpec {
            id: "derived_scatter_gather",
            derived: Some(derived::scatter_gather),
            fixed: Vec::new(),
            scenario: (
                "scatter_gather.toml",
                include_str!("../../../scenarios/validation/scatter_gather.toml"),
            ),
            overrides: |i| {
                let k = i.get("shards")?.as_u64()?;
                Some(match i.get("of").and_then(Value::as_u64) {
                    None => vec![Override::new("services.db.shards.count", k.to_string())],
                    Some(of) => vec![
                        Override::new("services.db.shards.count", of.to_string()),
                        Override::new(
                            "services.db.on.queries.scope",
                            format!("{{ shards = {k} }}"),
                        ),
                    ],
                })
            },
            checks: owned(&[
                ("/E_max", Latency),
                ("/max_p50", LatencyQuantile(0.50)),
                ("/max_p90", LatencyQuantile(0.90)),
                ("/max_p99", LatencyQuantile(0.99)),
                ("/max_p99.9", LatencyQuantile(0.999)),
            ]),
        },
        CaseSpec {
            id: "derived_jackson_feedback",
            derived: Some(derived::jackson_feedback),
            fixed: Vec::new(),
            scenario: (
                "jackson_feedback.toml",
                include_str!("../../../scenarios/validation/jackson_feedback.toml"),
            ),
            overrides: |_| Some(Vec::new()),
            checks: {
                let mut c = owned(&[("/throughput", Throughput), ("/T", Latency)]);
                for s in ["a", "b", "c"] {
                    let key = |k: &str| format!("/{s}/{k}");
                    let name = s;
                    c.push((key("rho"), Utilization(name)));
                    c.push((key("L"), InSystem(name)));
                    c.push((key("Lq"), InQueue(name)));
                    c.push((key("Wq"), Wait(name)));
                    c.push((key("W"), Response(name)));
                }
                c
            },
        },
        CaseSpec {
            id: "derived_mg1_service_laws",
            derived: Some(derived::mg1_laws),
            fixed: Vec::new(),
            scenario: (
                "mg1.toml",
                include_str!("../../../scenarios/validation/mg1.toml"),
            ),
            overrides: |i| {
                let law = i.get("work")?.as_str()?;
                Some(vec![Override::new(
                    "services.server.work",
                    format!("\"{law}\""),
                )])
            },
            checks: owned(&[
                ("/utilization", Utilization("server")),
                ("/Wq", Wait("server")),
                ("/T", Latency),
                ("/Lq", InQueue("server")),
                ("/L", InSystem("server")),
            ]),
        },
        CaseSpec {
            id: "derived_disciplines",
            derived: Some(derived::disciplines),
            fixed: Vec::new(),
            scenario: (
                "disciplines.toml",
                include_str!("../../../scenarios/validation/disciplines.toml"),
            ),
            overrides: |i| {
                let discipline = i.get("discipline")?.as_str()?;
                let work = i.get("work")?.as_str()?;
                Some(vec![
                    Override::new("services.server.discipline", format!("\"{discipline}\"")),
                    Override::new("services.server.work", format!("\"{work}\"")),
                ])
            },
            checks: owned(&[
                ("/utilization", Utilization("server")),
                ("/T", Latency),
                ("/L", InSystem("server")),
                ("/Wq", Wait("server")),
                ("/Lq", InQueue("server")),
            ]),
        },
        CaseSpec {
            id: "derived_priority_cobham",
            derived: Some(derived::priority),
            fixed: Vec::new(),
            scenario: (
                "priority.toml",
                include_str!("../../../scenarios/validation/priority.toml"),
            ),
            overrides: |_| Some(Vec::new()),
            checks: owned(&[
                ("/T_high", ClassLatency(0)),
                ("/T_low", ClassLatency(1)),
                ("/utilization", Utilization("server")),
            ]),
        },
        CaseSpec {
            id: "derived_dm1_constant_arrivals",
            derived: Some(derived::dm1),
            fixed: Vec::new(),
            scenario: (
                "dm1.toml",
                include_str!("../../../scenarios/validation/dm1.toml"),
            ),
            overrides: |_| Some(Vec::new()),
            checks: owned(&[
                ("/T", Latency),
                ("/Wq", Wait("server")),
                ("/L", InSystem("server")),
                ("/utilization", Utilization("server")),
            ]),
        },
    ];
    specs.extend(layout_cases());
    specs.extend(data_tier_cases());
    specs
}

/// The data tier's mechanisms that a closed form describes exactly.
fn data_tier_cases() -> Vec<CaseSpec> {
    use Quantity::*;
    let owned = |checks: &[(&str, Quantity)]| -> Vec<(String, Quantity)> {
        checks.iter().map(|&(k, q)| (k.to_owned(), q)).collect()
    };
    vec![
        CaseSpec {
            id: "derived_cache_mixture",
            derived: Some(derived::cache_mixture),
            fixed: Vec::new(),
            scenario: (
                "cache_hit_ratio.toml",
                include_str!("../../../scenarios/validation/cache_hit_ratio.toml"),
            ),
            overrides: |i| rate(i, "lambda", "load.reads.rate"),
            checks: owned(&[
                ("/T", Latency),
                ("/hit_ratio", HitRatio("cache")),
                ("/cache_W", Response("cache")),
                ("/db_W", Response("db")),
                ("/db_rho", Utilization("db")),
            ]),
        },
        CaseSpec {
            id: "derived_stale_reads",
            derived: Some(derived::stale_reads),
            fixed: vec![
                Override::new("services.db.replicas.lag", "\"50ms\""),
                Override::new("services.db.keys", "100"),
                Override::new("simulation.duration", "\"100s\""),
            ],
            scenario: (
                "read_replicas.toml",
                include_str!("../../../scenarios/data/read_replicas.toml"),
            ),
            overrides: |i| {
                let zipf = i.get("zipf")?.as_f64()?;
                Some(vec![Override::new("services.db.zipf", zipf.to_string())])
            },
            checks: owned(&[("/stale_ratio", StaleRatio)]),
        },
        CaseSpec {
            id: "derived_striped_lock",
            derived: Some(derived::striped_lock),
            fixed: vec![Override::new("simulation.duration", "\"60s\"")],
            scenario: (
                "striped_lock.toml",
                include_str!("../../../scenarios/data/striped_lock.toml"),
            ),
            overrides: |i| rate(i, "lambda", "load.orders.rate"),
            checks: owned(&[
                ("/stripe_rho", Utilization("api.lock.inventory[0]")),
                ("/stripe_Wq", Wait("api.lock.inventory[0]")),
            ]),
        },
    ]
}

/// The checks of a single queue named `station`, and of the class's latency.
fn queue_checks(station: &'static str) -> Vec<(String, Quantity)> {
    use Quantity::*;
    [
        ("/T", Latency),
        ("/Wq", Wait(station)),
        ("/L", InSystem(station)),
        ("/Lq", InQueue(station)),
        ("/utilization", Utilization(station)),
    ]
    .into_iter()
    .map(|(k, q)| (k.to_owned(), q))
    .collect()
}

/// The same capacity laid out as one fast server, four pooled servers, four
/// split servers (as stations, then as hardware profiles), and four
/// replicas behind round robin and random balancers: one case each, sharing
/// scenarios through fixed overrides, all run long enough for ρ = 0.95.
fn layout_cases() -> Vec<CaseSpec> {
    use Quantity::*;
    let jobs_rate: fn(&Value) -> Option<Vec<Override>> = |i| rate(i, "lambda", "load.jobs.rate");
    let vertical = (
        "scaling/vertical.toml",
        include_str!("../../../scenarios/scaling/vertical.toml"),
    );
    let pooled = (
        "scaling/pooled.toml",
        include_str!("../../../scenarios/scaling/pooled.toml"),
    );
    let split = (
        "scaling/split.toml",
        include_str!("../../../scenarios/scaling/split.toml"),
    );
    let balanced = (
        "scaling/balanced.toml",
        include_str!("../../../scenarios/scaling/balanced.toml"),
    );
    let profiles = (
        "scaling/profiles.toml",
        include_str!("../../../scenarios/scaling/profiles.toml"),
    );
    let mut split_checks = queue_checks("r1");
    split_checks[4] = ("/utilization".into(), Utilization("r3"));
    let mut balancer_checks = queue_checks("r2");
    balancer_checks.remove(3);
    balancer_checks[2] = ("/L".into(), InSystem("r3"));
    balancer_checks[3] = ("/utilization".into(), Utilization("r4"));
    let case = |id, derived, scenario, overrides, fixed: Vec<Override>, checks| CaseSpec {
        id,
        derived: Some(derived),
        fixed: fixed.into_iter().chain(long_run()).collect(),
        scenario,
        overrides,
        checks,
    };
    let profile = |name: &str, replicas: u32| {
        vec![
            Override::new("services.api.profile", format!("\"{name}\"")),
            Override::new("services.api.replicas", replicas.to_string()),
        ]
    };
    let latency = vec![("/T".to_owned(), Latency)];
    vec![
        case(
            "derived_scaling_vertical",
            derived::scaling_vertical,
            vertical,
            jobs_rate,
            vec![],
            queue_checks("big"),
        ),
        case(
            "derived_scaling_pooled",
            derived::scaling_pooled,
            pooled,
            jobs_rate,
            vec![],
            queue_checks("pool"),
        ),
        case(
            "derived_scaling_split",
            derived::scaling_split,
            split,
            jobs_rate,
            vec![],
            split_checks,
        ),
        case(
            "derived_balancer_round_robin",
            derived::balanced_round_robin,
            balanced,
            balancer_overrides,
            vec![],
            balancer_checks.clone(),
        ),
        case(
            "derived_balancer_random",
            derived::balanced_random,
            balanced,
            balancer_overrides,
            vec![],
            balancer_checks,
        ),
        case(
            "derived_profiles_vertical",
            derived::scaling_vertical,
            profiles,
            jobs_rate,
            profile("fast", 1),
            latency.clone(),
        ),
        case(
            "derived_profiles_pooled",
            derived::scaling_pooled,
            profiles,
            jobs_rate,
            profile("wide", 1),
            latency.clone(),
        ),
        case(
            "derived_profiles_split",
            derived::scaling_split,
            profiles,
            jobs_rate,
            profile("single", 4),
            latency,
        ),
    ]
}

/// A one-line description of a row's inputs.
fn describe(inputs: &Value) -> String {
    match inputs {
        Value::Object(map) => map
            .iter()
            .filter_map(|(k, v)| match v {
                Value::Number(n) => Some(format!("{k}={n}")),
                Value::String(s) => Some(format!("{k}={s}")),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// The analytic cases shipped with the crate.
pub fn analytic_cases() -> Value {
    serde_json::from_str(include_str!("../data/analytic-cases.json"))
        .expect("the bundled analytic cases are valid JSON")
}

/// Extra runs that are not rows of the file but checks of a stated property:
/// Erlang B blocking is insensitive to the holding-time law, so the row
/// (c = 10, a = 7) must give the same blocking with deterministic and
/// hyperexponential (cv = 3) holding times of mean 1.
fn insensitivity_rows() -> Vec<(&'static str, &'static str)> {
    vec![
        ("const(1s)", "deterministic"),
        ("hyperexp(mean=1s, cv=3)", "hyperexp cv=3"),
    ]
}

/// Simulates every case (or those whose id contains `filter`) and returns all checks.
pub fn run_checks(filter: Option<&str>) -> Vec<Check> {
    let data = analytic_cases();
    let all = data["cases"].as_array().expect("cases is an array");
    let mut checks = Vec::new();
    for spec in cases() {
        if filter.is_some_and(|f| !spec.id.contains(f)) {
            continue;
        }
        let case = match spec.derived {
            Some(compute) => compute(),
            None => all
                .iter()
                .find(|c| c["id"] == spec.id)
                .unwrap_or_else(|| panic!("case {} missing from the data", spec.id))
                .clone(),
        };
        for row in case["results"].as_array().expect("results is an array") {
            let inputs = &row["inputs"];
            let Some(mut overrides) = (spec.overrides)(inputs) else {
                continue;
            };
            overrides.extend(spec.fixed.iter().cloned());
            let mut variants = vec![(overrides.clone(), describe(inputs))];
            if spec.id == "erlangB_loss_mmcc" && inputs["c"] == 10 && inputs["lambda"] == 7.0 {
                for (law, label) in insensitivity_rows() {
                    let mut o = overrides.clone();
                    o.push(Override::new("services.trunks.work", format!("\"{law}\"")));
                    variants.push((o, format!("{} holding={label}", describe(inputs))));
                }
            }
            for (overrides, label) in variants {
                let runs = simulate(spec.scenario, &overrides);
                for (pointer, quantity) in &spec.checks {
                    let theory = row["expected"]
                        .pointer(pointer)
                        .and_then(Value::as_f64)
                        .unwrap_or_else(|| panic!("{}: no expected value at {pointer}", spec.id));
                    checks.push(compare(spec.id, &label, pointer, theory, *quantity, &runs));
                }
            }
        }
    }
    checks
}

/// Simulates a scenario with overrides and estimates one quantity across its
/// replications, at the given confidence.
pub fn estimate(
    scenario: (&str, &str),
    overrides: &[Override],
    quantity: Quantity,
    confidence: f64,
) -> Estimate {
    let runs = simulate(scenario, overrides);
    let values: Vec<f64> = runs.iter().map(|r| quantity.value(r)).collect();
    Estimate::of(&values, confidence)
}

fn simulate(scenario: (&str, &str), overrides: &[Override]) -> Vec<RunStats> {
    replications(scenario, overrides, None)
}

/// Runs a scenario's replications with overrides, recording a time series
/// in windows of `window` (see [`chokepoint_core::model::RunConfig::window`]).
pub fn series(scenario: (&str, &str), overrides: &[Override], window: SimTime) -> Vec<RunStats> {
    replications(scenario, overrides, Some(window))
}

/// Loads a scenario with overrides (panicking with its errors when it is
/// invalid: the harness only runs bundled files) as a study named after it.
fn study(scenario: (&str, &str), overrides: &[Override]) -> Study {
    study_in(scenario, None, overrides)
}

/// [`study`] for a scenario in folder `dir`, which the files it names (a
/// rate `trace`) are relative to.
fn study_in(scenario: (&str, &str), dir: Option<&Path>, overrides: &[Override]) -> Study {
    let loaded = load_in(scenario.1, dir, overrides);
    let errors: Vec<String> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect();
    let model = loaded
        .scenario
        .unwrap_or_else(|| panic!("{} with {overrides:?} is invalid: {errors:?}", scenario.0));
    Study::new(scenario.0, model, Vec::new())
}

/// Runs a scenario's replications with overrides.
pub fn replications(
    scenario: (&str, &str),
    overrides: &[Override],
    window: Option<SimTime>,
) -> Vec<RunStats> {
    replications_in(scenario, None, overrides, window)
}

/// [`replications`] of a scenario in folder `dir`, which the files it names
/// (a rate `trace`) are relative to.
pub fn replications_in(
    scenario: (&str, &str),
    dir: Option<&Path>,
    overrides: &[Override],
    window: Option<SimTime>,
) -> Vec<RunStats> {
    let study = study_in(scenario, dir, overrides);
    study
        .replicate(&study.scenario.simulation, window, &Default::default())
        .expect("validated scenarios run")
        .into_iter()
        .map(|r| r.expect("nothing interrupts a check"))
        .collect()
}

/// Simulates a scenario with overrides and summarises it as `chokepoint run`
/// does (services grouped, breakdowns, workers), for checks on the report.
pub fn summary(scenario: (&str, &str), overrides: &[Override]) -> Summary {
    let study = study(scenario, overrides);
    let outcome = study
        .run(&study.scenario.simulation, None, &Default::default())
        .expect("validated scenarios run");
    let mut summary = outcome.summary;
    // Without wall-clock time, so that a check's figures are a pure
    // function of the scenario.
    summary.engine.wall = 0.0;
    summary.engine.events_per_sec = 0.0;
    summary
}

fn compare(
    case: &'static str,
    row: &str,
    pointer: &str,
    theory: f64,
    quantity: Quantity,
    runs: &[RunStats],
) -> Check {
    let values: Vec<f64> = runs.iter().map(|r| quantity.value(r)).collect();
    let e95 = Estimate::of(&values, 0.95);
    let e999 = Estimate::of(&values, 0.999);
    let resolution = if quantity.is_quantile() {
        HISTOGRAM_RESOLUTION * theory.abs()
    } else {
        0.0
    };
    Check {
        case,
        row: row.to_owned(),
        quantity: pointer.trim_start_matches('/').to_owned(),
        theory,
        simulated: e95.mean,
        ci95: e95.half_width.unwrap_or(0.0),
        band: e999.half_width.unwrap_or(0.0) + resolution,
        wide_band: Estimate::of(&values, 0.9999).half_width.unwrap_or(0.0) + resolution,
        resolution,
    }
}

/// The markdown table of `docs/validation.md`.
pub fn markdown(checks: &[Check], command: &str) -> String {
    let passed = checks.iter().filter(|c| c.passed()).count();
    let failed = failures(checks);
    let covered = checks.iter().filter(|c| c.in_ci95()).count();
    let mut out = String::new();
    out.push_str("# Validation against queueing theory\n\n");
    out.push_str(&format!(
        "Generated by `{command}`; do not edit by hand.\n\n"
    ));
    out.push_str(
        "Each row compares an exact value from `crates/validation/data/analytic-cases.json` with chokepoint's estimate: \
         the mean over independent replications and the half-width of its 95% Student-t confidence interval.\n\
         A check passes when theory lies within the 99.9% interval (percentiles: widened by the histogram's 0.1% resolution); \
         since an exact simulator misses that interval once in a thousand checks by chance, one miss per case is tolerated if it lies within the 99.99% interval. \
         `in 95%` says whether theory lies within the 95% interval, which about 95% of checks should: a systematic bias would show as a much lower share.\n\
         The scenarios are under `scenarios/validation/` (and `scaling/`, `data/` for the cases derived from their mechanisms); the rows' inputs are applied as overrides.\n\n",
    );
    out.push_str(&format!(
        "**{passed} of {} checks within the 99.9% interval, {} tolerated, {} failed; theory lies within the 95% interval in {covered} of {} ({:.1}%).**\n\n",
        checks.len(),
        checks.len() - passed - failed.len(),
        failed.len(),
        checks.len(),
        100.0 * covered as f64 / checks.len().max(1) as f64
    ));
    out.push_str("| case | row | quantity | theory | simulation ± 95% CI | in 95% | pass |\n");
    out.push_str("| --- | --- | --- | ---: | ---: | :---: | :---: |\n");
    for c in checks {
        out.push_str(&format!(
            "| {} | {} | {} | {:.6} | {:.6} ± {:.6} | {} | {} |\n",
            c.case,
            c.row,
            c.quantity,
            c.theory,
            c.simulated,
            c.ci95,
            if c.in_ci95() { "yes" } else { "no" },
            if c.passed() {
                "✓"
            } else if failed.iter().any(|f| std::ptr::eq(*f, c)) {
                "✗ FAIL"
            } else {
                "✓ (tolerated: within 99.99%)"
            }
        ));
    }
    out
}
