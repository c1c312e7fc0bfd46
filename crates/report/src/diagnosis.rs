//! `chokepoint diagnose`'s findings as data, and in words: as text, as
//! Markdown (for a design document) and as JSON (documented in
//! docs/diagnose.md). The search that finds them is
//! `chokepoint_study::diagnose`; this is what it found and how it reads.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::capacity::{CapacityRow, ResourceClass};
use crate::format::{duration, sig3};
use crate::summary::{StationSummary, Summary};

/// The busiest resource of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Busy {
    /// Its service.
    pub service: String,
    /// What it is, as the capacity table names it (`cpu`, `pool`, ...).
    pub resource: String,
    /// Its kind.
    pub class: ResourceClass,
    /// How busy: its busiest replica's (or stripe's) utilisation.
    pub utilization: f64,
}

impl Busy {
    /// `db cpu`.
    pub fn name(&self) -> String {
        format!("{} {}", self.service, self.resource)
    }

    /// `db cpu (CPU, 100% used)`: its kind, unless its name says it.
    fn described(&self) -> String {
        format!(
            "{} ({}{}% used)",
            self.name(),
            kind(&self.resource, self.class),
            sig3(100.0 * self.utilization)
        )
    }

    fn json(&self) -> Value {
        json!({
            "resource": self.name(),
            "class": self.class.label(),
            "utilization": self.utilization,
        })
    }
}

/// Where a service's time goes, per request: its mean response and the
/// parts that add up to it.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeSpent {
    /// Seconds per request through the service.
    pub response: f64,
    /// Each part (`pool wait`, `queue`, `work`, a callee) and its seconds.
    pub parts: Vec<(String, Option<f64>)>,
}

impl TimeSpent {
    /// Each service's, from a run's summary.
    pub fn of(summary: &Summary) -> BTreeMap<String, TimeSpent> {
        summary
            .stations
            .iter()
            .filter_map(|(name, s)| Some((name.clone(), Self::station(s)?)))
            .collect()
    }

    /// A service's, if it has a breakdown.
    fn station(s: &StationSummary) -> Option<TimeSpent> {
        Some(TimeSpent {
            response: s.mean_response?,
            parts: s.breakdown.as_ref()?.parts(s.workers.is_some()),
        })
    }

    /// `8.76 ms per request = pool wait 0 ms + queue 11.2 µs + ...`.
    fn line(&self) -> String {
        crate::format::time_spent(self.response, &self.parts)
    }
}

/// One probe: the scenario run at a scale of its load.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// The scale of the rates.
    pub scale: f64,
    /// Whether a backlog grew (or a replication had to stop).
    pub saturated: bool,
    /// Whether the SLO was met (without one: `None`).
    pub meets: Option<bool>,
    /// The busiest resource.
    pub busiest: Option<Busy>,
    /// The highest 99th percentile latency of the classes, in seconds.
    pub p99: Option<f64>,
    /// Dollars per hour, with priced machines.
    pub cost: Option<f64>,
    /// Requests completed per second, over the classes scaled.
    pub throughput: f64,
    /// Where each service's time goes.
    pub time: BTreeMap<String, TimeSpent>,
}

/// The limits of a load.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// The load at scale 1 (the scenario's): the total open rate, per
    /// second, or with `users`, the closed population.
    pub rate: f64,
    /// Whether the load is a closed population (users), not a rate.
    pub users: bool,
    /// The highest scale found unsaturated, and the lowest saturated
    /// (`None` when none was, up to 1,000 times the load).
    pub saturation: (f64, Option<f64>),
    /// The highest scale found to meet the SLO and the lowest found not to
    /// (`None` without an SLO).
    pub slo: Option<(f64, Option<f64>)>,
    /// Every probe, in the order run.
    pub probes: Vec<Probe>,
}

impl Limits {
    /// The lowest saturated probe.
    pub fn saturated(&self) -> Option<&Probe> {
        let hi = self.saturation.1?;
        self.probes
            .iter()
            .filter(|p| p.saturated && p.scale <= hi * 1.0001)
            .min_by(|a, b| a.scale.total_cmp(&b.scale))
    }

    /// The highest probe at most 95% of the highest unsaturated one (or
    /// that one, if none is): close to the limit, but clear of the
    /// probes at its edge, which are nearly saturated.
    pub fn below(&self) -> Option<&Probe> {
        let highest = |most: f64| {
            self.probes
                .iter()
                .filter(move |p| !p.saturated && p.scale <= most)
                .max_by(|a, b| a.scale.total_cmp(&b.scale))
        };
        let edge = highest(f64::INFINITY)?;
        highest(0.95 * edge.scale).or(Some(edge))
    }

    /// The busiest resource at the lowest saturated probe.
    pub fn busiest(&self) -> Option<&Busy> {
        self.saturated()?.busiest.as_ref()
    }

    /// The saturation load, per second: the lowest saturated probe's, or
    /// the highest probed when none was.
    pub fn limit(&self) -> f64 {
        self.saturation.1.unwrap_or(self.saturation.0) * self.rate
    }
}

/// One change tried, or the scenario as it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// Such as `db: 1 → 2 replicas`.
    pub label: String,
    /// Its saturation load, per second.
    pub limit: f64,
    /// As a multiple of the scenario's.
    pub ratio: f64,
    /// Whether it saturates at the scenario's load (its p99 there is then
    /// the length of the run's, not a figure of the system).
    pub saturated: bool,
    /// Its p99 at the scenario's load.
    pub p99: Option<f64>,
    /// Its cost per hour.
    pub cost: Option<f64>,
    /// What is busiest where it saturates then.
    pub next: Option<Busy>,
}

impl Change {
    /// Whether it moved the limit: beyond 3% of the scenario's (about the
    /// bisection's resolution).
    pub fn moves(&self) -> bool {
        (self.ratio - 1.0).abs() >= 0.03
    }

    fn effect(&self) -> String {
        if self.moves() && self.ratio < 1.0 {
            format!("×{} (worse)", sig3(self.ratio))
        } else if self.moves() {
            format!("×{}", sig3(self.ratio))
        } else {
            "no effect".into()
        }
    }
}

/// Everything `chokepoint diagnose` found.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnosis {
    /// The scenario's name.
    pub scenario: String,
    /// The class scaled alone, if any.
    pub class: Option<String>,
    /// The capacity table, busiest first.
    pub table: Vec<CapacityRow>,
    /// The search's findings.
    pub limits: Limits,
    /// The p99 target searched for, if any.
    pub slo_p99: Option<f64>,
    /// The SLO searched for, in words (`p99 ≤ 100 ms`), if any.
    pub slo: Option<String>,
    /// The closed classes' asymptotic bounds, in words (see
    /// [`crate::capacity::closed_lines`]).
    pub bounds: Vec<String>,
    /// The scenario as it is, then each change tried (empty when there was
    /// none to try).
    pub changes: Vec<Change>,
}

/// `CPU, `: a resource's kind and a comma, unless its name says it.
fn kind(what: &str, class: ResourceClass) -> String {
    if what == class.label() {
        String::new()
    } else {
        format!("{}, ", class.label())
    }
}

fn per_second(x: f64) -> String {
    format!("{}/s", sig3(x))
}

fn seconds(x: Option<f64>) -> String {
    duration(x, None)
}

fn dollars(x: Option<f64>) -> String {
    x.map_or(String::new(), |c| format!("${}/h", sig3(c)))
}

impl Diagnosis {
    /// ` (p99 ≤ 100 ms)`: the SLO's objectives, if known.
    fn objectives(&self) -> String {
        self.slo
            .as_ref()
            .map_or(String::new(), |o| format!(" ({o})"))
    }

    /// A load as the ramp counts it: `600/s`, or `40 users`.
    fn load(&self, x: f64) -> String {
        if self.limits.users {
            // As probed: whole users, at least one.
            match x.round().max(1.0) {
                1.0 => "1 user".to_owned(),
                n => format!("{n} users"),
            }
        } else {
            per_second(x)
        }
    }

    /// The rows of the capacity table tied with the first (saturating
    /// within 3% of it).
    fn first_rows(&self) -> impl Iterator<Item = &CapacityRow> {
        let top = self.table.first().map_or(0.0, |r| r.saturates_at);
        self.table
            .iter()
            .take_while(move |r| r.saturates_at <= 1.03 * top)
    }

    /// Whether the simulation's busiest resource at saturation is one the
    /// capacity table ranks first (`None` without either, or off the
    /// table's axis: one class scaled alone, or a population).
    pub fn confirms(&self) -> Option<bool> {
        // Only on the table's axis: every open class scaled together.
        if self.class.is_some() || self.limits.users {
            return None;
        }
        let busiest = self.limits.busiest()?;
        self.table.first()?;
        Some(
            self.first_rows()
                .any(|r| r.service == busiest.service && r.what == busiest.resource),
        )
    }

    /// The findings as sentences, one per line, without markup: what the
    /// table says, what the simulation found, whether they agree, the SLO.
    fn findings(&self) -> Vec<String> {
        let rate = self.limits.rate;
        let mut out = vec![format!(
            "{}: {} {} ({}), every probe on the same seeds",
            self.scenario,
            self.load(rate),
            if self.limits.users {
                "at first"
            } else {
                "offered"
            },
            match (&self.class, self.limits.users) {
                (None, false) => "every open class scaled together".to_owned(),
                (None, true) => "every class's population scaled together".to_owned(),
                (Some(c), false) => format!("class {c} scaled alone"),
                (Some(c), true) => format!("class {c}'s population scaled alone"),
            }
        )];
        if let Some(top) = self.table.first() {
            // Its loads scale every open class together: another axis than
            // one class's rate or a population.
            let table_axis = self.class.is_none() && !self.limits.users;
            out.push(if table_axis {
                format!(
                    "capacity table: {} saturates first, at {}{} ({}utilization {}%)",
                    top.name(),
                    if top.slots { "≤" } else { "" },
                    per_second(top.saturates_at),
                    kind(&top.what, top.class),
                    sig3(100.0 * top.utilization),
                )
            } else {
                format!(
                    "capacity table (every open class at its rate): {} is the busiest ({}utilization {}%)",
                    top.name(),
                    kind(&top.what, top.class),
                    sig3(100.0 * top.utilization),
                )
            });
        }
        out.extend(self.bounds.iter().cloned());
        match self.limits.saturation {
            (lo, Some(hi)) => {
                let busiest = self.limits.busiest().map_or(String::new(), |b| {
                    format!("; busiest there: {}", b.described())
                });
                out.push(format!(
                    "simulated: saturates between {} and {}{busiest}",
                    self.load(lo * rate),
                    self.load(hi * rate),
                ));
            }
            (lo, None) => out.push(format!(
                "simulated: no saturation up to {}",
                self.load(lo * rate)
            )),
        }
        match (self.confirms(), self.table.first(), self.limits.busiest()) {
            (Some(true), Some(top), _) => {
                out.push("the simulation confirms the capacity table".into());
                // A run detects a backlog a little above the true limit:
                // plan with the lower of the two.
                if let (true, Some(_)) = (
                    self.class.is_none() && !self.limits.users,
                    self.limits.saturation.1,
                ) {
                    let plan = top.saturates_at.min(self.limits.saturation.0 * rate);
                    out.push(format!(
                        "limit to plan with: {} (the lower of the table's and the highest load that did not saturate)",
                        per_second(plan)
                    ));
                }
            }
            (Some(false), Some(top), Some(b)) => out.push(format!(
                "the simulation corrects the capacity table: {} saturates before {}{}",
                b.name(),
                top.name(),
                if b.class == ResourceClass::WorkerThreads
                    || b.class == ResourceClass::ConnectionPool
                {
                    " (its slots are held while their calls wait, which the table leaves out)"
                } else {
                    ""
                }
            )),
            _ => {}
        }
        match self.limits.slo {
            Some((lo, Some(_))) if lo > 0.0 => out.push(format!(
                "meets the SLO{} up to about {}",
                self.objectives(),
                self.load(lo * rate)
            )),
            Some((_, Some(hi))) => out.push(format!(
                "misses the SLO{} at every load probed, down to {}: no load meets it (a dependency or the work itself is too slow)",
                self.objectives(),
                self.load(hi * rate)
            )),
            Some((lo, None)) => out.push(format!(
                "meets the SLO{} up to at least {}",
                self.objectives(),
                self.load(lo * rate)
            )),
            None => out.push(
                "(no [slo] in the scenario: --p99 200ms, say, finds the highest load that meets one)"
                    .into(),
            ),
        }
        out
    }

    /// Where time goes at the highest load probed below saturation: its
    /// load and each service's line.
    fn time_spent(&self) -> Option<(f64, Vec<(String, String)>)> {
        let below = self.limits.below()?;
        let lines: Vec<(String, String)> = below
            .time
            .iter()
            .map(|(name, t)| (name.clone(), t.line()))
            .collect();
        (!lines.is_empty()).then_some((below.scale * self.limits.rate, lines))
    }

    /// The changes' table: a header and a row each.
    fn changes_rows(&self) -> Vec<Vec<String>> {
        let mut rows = vec![
            [
                "change",
                "saturates at",
                "effect",
                "p99 at the scenario's load",
                "cost",
                "then limited by",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for (i, c) in self.changes.iter().enumerate() {
            rows.push(vec![
                c.label.clone(),
                self.load(c.limit),
                if i == 0 { String::new() } else { c.effect() },
                if c.saturated {
                    "saturated".to_owned()
                } else {
                    seconds(c.p99)
                },
                dollars(c.cost),
                c.next.as_ref().map_or(String::new(), Busy::name),
            ]);
        }
        rows
    }

    /// As text, for a terminal.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for line in self.findings() {
            let _ = writeln!(out, "{line}");
        }
        if let Some((load, lines)) = self.time_spent() {
            let _ = writeln!(
                out,
                "\nwhere time goes at {} (the highest load probed at most 95% of the limit):",
                self.load(load)
            );
            for (name, line) in lines {
                let _ = writeln!(out, "  {name}: {line}");
            }
        }
        if !self.changes.is_empty() {
            let _ = writeln!(out, "\nchanges, each re-simulated with the same seeds:");
            let mut table = String::new();
            crate::format::render(&mut table, &self.changes_rows());
            for line in table.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        out
    }

    /// As Markdown, for a design document; `charts` names the chart files
    /// written beside it, linked.
    pub fn markdown(&self, charts: &[String]) -> String {
        let mut out = String::new();
        let findings = self.findings();
        let _ = writeln!(out, "## Diagnosis: {}\n", self.scenario);
        for line in &findings {
            let _ = writeln!(out, "- {}", crate::markdown::escape(line));
        }
        if !self.table.is_empty() {
            let _ = writeln!(out, "\n### Capacity table (before simulating)\n");
            let mut rows = vec![crate::capacity::header()];
            rows.extend(self.table.iter().map(crate::capacity::cells));
            crate::markdown::table(&mut out, &rows);
        }
        if let Some((load, lines)) = self.time_spent() {
            let _ = writeln!(
                out,
                "\n### Where time goes at {} (the highest load probed at most 95% of the limit)\n",
                self.load(load)
            );
            for (name, line) in lines {
                let _ = writeln!(
                    out,
                    "- **{}**: {}",
                    crate::markdown::escape(&name),
                    crate::markdown::escape(&line)
                );
            }
        }
        if !self.changes.is_empty() {
            let _ = writeln!(
                out,
                "\n### Changes, each re-simulated with the same seeds\n"
            );
            crate::markdown::table(&mut out, &self.changes_rows());
        }
        if !charts.is_empty() {
            let _ = writeln!(out, "\n### Charts\n");
            for c in charts {
                let _ = writeln!(out, "- [{c}]({c})");
            }
        }
        out
    }

    /// As JSON (the contract in docs/diagnose.md).
    pub fn json(&self) -> Value {
        let rate = self.limits.rate;
        let bracket =
            |(lo, hi): (f64, Option<f64>)| json!({ "from": lo * rate, "to": hi.map(|h| h * rate) });
        let time = |t: &BTreeMap<String, TimeSpent>| -> Value {
            t.iter()
                .map(|(name, t)| {
                    let parts: serde_json::Map<String, Value> =
                        t.parts.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                    (
                        name.clone(),
                        json!({ "per_request": t.response, "parts": parts }),
                    )
                })
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        json!({
            "scenario": self.scenario,
            "offered": rate,
            "unit": if self.limits.users { "users" } else { "requests/s" },
            "class": self.class,
            "capacity": self.table.iter().map(|r| json!({
                "service": r.service,
                "resource": r.what,
                "shard": r.shard,
                "class": r.class.label(),
                "units": r.units,
                "per_request": r.per_request,
                "utilization": r.utilization,
                "saturates_at": r.saturates_at,
                "lower_bound": r.slots,
            })).collect::<Vec<_>>(),
            "saturation": bracket(self.limits.saturation),
            "busiest": self.limits.busiest().map(Busy::json),
            "confirms_capacity_table": self.confirms(),
            "slo": self.limits.slo.map(bracket),
            "slo_p99": self.slo_p99,
            "slo_objectives": self.slo,
            "time_spent": self.limits.below().map(|p| json!({
                "offered": p.scale * rate,
                "services": time(&p.time),
            })),
            "probes": self.limits.probes.iter().map(|p| json!({
                "offered": p.scale * rate,
                "throughput": p.throughput,
                "saturated": p.saturated,
                "meets_slo": p.meets,
                "p99": p.p99,
                "busiest": p.busiest.as_ref().map(Busy::json),
            })).collect::<Vec<_>>(),
            "as_it_is": self.changes.first().map(|c| json!({
                "p99": c.p99,
                "saturated_at_load": c.saturated,
                "cost_per_hour": c.cost,
                "limited_by": c.next.as_ref().map(Busy::name),
            })),
            "changes": self.changes.iter().skip(1).map(|c| json!({
                "change": c.label,
                "saturates_at": c.limit,
                "ratio": c.ratio,
                "moves_the_limit": c.moves(),
                "p99": c.p99,
                "saturated_at_load": c.saturated,
                "cost_per_hour": c.cost,
                "limited_by": c.next.as_ref().map(Busy::name),
            })).collect::<Vec<_>>(),
        })
    }
}
