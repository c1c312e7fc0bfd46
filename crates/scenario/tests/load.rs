//! The scenario loader as a library: what it builds, what it refuses, and
//! that no input makes it panic.

use chokepoint_core::model::{ArrivalProcess, CallPoint, Discipline, Load, Routing, StationId};
use chokepoint_scenario::layout::{Origin, Part, ReplicaRole, ServiceId};
use chokepoint_scenario::{Override, Severity, line_col, load, load_with};
use proptest::prelude::*;

const MINIMAL: &str = r#"
name = "m"
[simulation]
duration = "100s"
[load.jobs]
rate = "2/s"
entry = "q"
[services.q]
kind = "station"
work = "exp(10ms)"
"#;

fn errors(text: &str) -> Vec<String> {
    load(text)
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.message)
        .collect()
}

#[test]
fn defaults() {
    let s = load(MINIMAL).scenario.unwrap();
    assert_eq!(s.simulation.replications, 10);
    assert_eq!(s.simulation.seed, 1);
    assert_eq!(s.simulation.warmup.as_nanos(), 0);
    let q = &s.topology.stations[0];
    assert_eq!(
        (
            q.servers(),
            q.queue().unwrap().discipline,
            q.queue().unwrap().capacity
        ),
        (1, Discipline::Fifo, None)
    );
    assert_eq!(
        s.topology.classes[0].load,
        Load::Open {
            process: ArrivalProcess::Poisson,
            rate: 2.0,
            profile: None
        }
    );
}

#[test]
fn per_class_behaviour_and_priorities() {
    let text = r#"
[simulation]
duration = "100s"
[load.web]
rate = "5/s"
entry = "front"
priority = 1
[load.batch]
population = 3
think = "const(2s)"
entry = "front"
priority = 2
[services.front]
kind = "station"
discipline = "priority"
servers = 2
capacity = 10
work = "exp(10ms)"
next = [{ to = "db", p = 0.5 }]
[services.front.on.batch]
work = "erlang(k=2, mean=50ms)"
next = [{ to = "db" }]
[services.db]
kind = "station"
discipline = "ps"
work = "uniform(1ms, 3ms)"
"#;
    let loaded = load(text);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let t = loaded.scenario.unwrap().topology;
    let front = &t.stations[0];
    assert_eq!(front.queue().unwrap().capacity, Some(10));
    let web = front.behaviour[0].as_ref().unwrap();
    let batch = front.behaviour[1].as_ref().unwrap();
    assert_eq!(web.routing.next, vec![(StationId(1), 0.5)]);
    assert_eq!(batch.routing.next, vec![(StationId(1), 1.0)]);
    assert!((batch.work.mean() - 50e6).abs() < 1e-6);
    assert!((web.work.mean() - 10e6).abs() < 1e-6);
    assert_eq!(t.classes[1].priority, 2);
    assert!(matches!(
        t.classes[1].load,
        Load::Closed {
            population: 3,
            think: Some(_),
            profile: None,
        }
    ));
    assert_eq!(t.stations[1].queue().unwrap().discipline, Discipline::Ps);
}

#[test]
fn overrides_change_values_and_locate_their_errors() {
    let s = load_with(
        MINIMAL,
        &[
            Override::new("load.jobs.rate", "\"7/s\""),
            Override::new("services.q.servers", "3"),
        ],
    )
    .scenario
    .unwrap();
    assert_eq!(s.topology.stations[0].servers(), 3);
    assert!(matches!(s.topology.classes[0].load, Load::Open { rate, .. } if rate == 7.0));

    // A bad overridden value is reported at the key it replaced.
    let loaded = load_with(
        MINIMAL,
        &[Override::new("load.jobs.rate", "\"7 per second\"")],
    );
    assert!(loaded.scenario.is_none());
    let d = &loaded.diagnostics[0];
    let span = d.span.clone().unwrap();
    assert_eq!(line_col(MINIMAL, span.start).0, 6, "{d:?}");

    // A value that is not TOML is an error without a location.
    let loaded = load_with(MINIMAL, &[Override::new("load.jobs.rate", "7/s")]);
    assert!(
        loaded.diagnostics[0]
            .message
            .starts_with("override `load.jobs.rate`")
    );
    assert!(loaded.diagnostics[0].span.is_none());
}

/// A rate written as a string needs its unit, as a duration does (issue
/// 12: `"3000"` was taken as 3000/s); a TOML number is per second.
#[test]
fn a_rate_string_needs_its_unit() {
    let text = MINIMAL.replace("rate = \"2/s\"", "rate = \"3000\"");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].contains("a rate needs a unit"), "{errs:#?}");
    let text = MINIMAL.replace("rate = \"2/s\"", "rate = 3");
    let s = load(&text).scenario.unwrap();
    assert!(matches!(s.topology.classes[0].load, Load::Open { rate, .. } if rate == 3.0));
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = MINIMAL
        .replace("duration = \"100s\"", "duration = \"100\"")
        .replace("rate = \"2/s\"", "rate = \"0/s\"")
        .replace(
            "work = \"exp(10ms)\"",
            "work = \"exp(10ms)\"\nservers = 0\ncolour = \"red\"",
        );
    let errs = errors(&text);
    assert_eq!(errs.len(), 4, "{errs:#?}");
}

/// A service's keys depend on its kind: with a misspelt or missing kind,
/// that one mistake is reported, not every key the kind would have taken
/// (issue 12: `databse` gave eight errors and hid the real one).
#[test]
fn a_wrong_kind_is_the_only_error_of_its_service() {
    let text = MINIMAL.replace(
        "kind = \"station\"\nwork = \"exp(10ms)\"",
        "kind = \"databse\"\ncpu = \"exp(10ms)\"\nkeys = 1000\n[services.q.on.jobs]\nop = \"read\"",
    );
    let loaded = load(&text);
    let messages: Vec<&str> = loaded
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(messages, ["unknown kind `databse`"]);
    let help = loaded.diagnostics[0].help.as_deref().unwrap_or_default();
    assert!(help.starts_with("did you mean `database`?"), "{help}");
    let none = text.replace("kind = \"databse\"\n", "");
    assert_eq!(errors(&none), ["service `q` has no `kind`"]);
}

#[test]
fn semantic_errors() {
    let with = |extra: &str| format!("{MINIMAL}{extra}");
    assert!(
        errors(&MINIMAL.replace("rate = \"2/s\"", "population = 20000000"))
            .iter()
            .any(|e| e.contains("above"))
    );
    assert!(
        errors(&MINIMAL.replace("rate = \"2/s\"", "rate = \"2/s\"\npopulation = 3"))
            .iter()
            .any(|e| e.contains("both"))
    );
    assert!(
        errors(&MINIMAL.replace("rate = \"2/s\"", "rate = \"2/s\"\nthink = \"exp(1s)\""))
            .iter()
            .any(|e| e.contains("closed"))
    );
    assert!(
        errors(&with("capacity = 0\n"))
            .iter()
            .any(|e| e.contains("at least 1"))
    );
    assert!(
        errors(&with("next = [{ to = \"q\", p = 1.5 }]\n"))
            .iter()
            .any(|e| e.contains("outside [0, 1]"))
    );
    assert!(
        errors(&with("next = [{ to = \"q\" }, { to = \"q\" }]\n"))
            .iter()
            .any(|e| e.contains("each needs a probability"))
    );
    assert!(
        errors(&with("next = [{ to = \"q\" }]\n"))
            .iter()
            .any(|e| e.contains("never leave"))
    );
    assert!(
        errors(&MINIMAL.replace("kind = \"station\"", "kind = \"cache\""))
            .iter()
            .any(|e| e.contains("needs `on_miss`"))
    );
    assert!(
        errors(&MINIMAL.replace("name = \"m\"", "name = \"m\"\n[profile]\n"))
            .iter()
            .any(|e| e.contains("unknown key `profile`"))
    );
    assert!(
        errors(&MINIMAL.replace("[simulation]\nduration = \"100s\"", ""))
            .iter()
            .any(|e| e.contains("[simulation]"))
    );
    assert!(errors("").len() >= 3);
}

#[test]
fn overload_is_a_warning() {
    let loaded = load(&MINIMAL.replace("exp(10ms)", "exp(600ms)"));
    assert!(loaded.scenario.is_some());
    let w = &loaded.diagnostics[0];
    assert_eq!(w.severity, Severity::Warning);
    assert!(w.message.contains("ρ = 1.200"), "{}", w.message);
}

/// Every bundled scenario, damaged at random (characters deleted, inserted
/// or replaced), loads or fails with diagnostics: never a panic, and every
/// span lies inside the text on character boundaries.
fn bundled() -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios");
    let mut texts = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(root)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                texts.push(std::fs::read_to_string(path).unwrap());
            }
        }
    }
    assert!(texts.len() > 50, "{} bundled scenarios", texts.len());
    texts.sort();
    texts
}

proptest! {
    // A fixed seed and no failure files: the suite is the same on every run.
    #![proptest_config(ProptestConfig {
        cases: 1000,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn damaged_files_never_panic(
        file in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(vec!['"', '=', '[', ']', '{', ',', '\n', 'x', '0', '.', '(', ')', 'é', ' ', '#', '\''])), 1..6),
    ) {
        let texts = bundled();
        let mut chars: Vec<char> = texts[file.index(texts.len())].chars().collect();
        for (at, op, c) in edits {
            if chars.is_empty() { break; }
            let i = at.index(chars.len());
            match op {
                0 => { chars.remove(i); }
                1 => chars.insert(i, c),
                _ => chars[i] = c,
            }
        }
        let text: String = chars.into_iter().collect();
        let loaded = load(&text);
        for d in &loaded.diagnostics {
            if let Some(span) = &d.span {
                prop_assert!(span.start <= span.end && span.end <= text.len());
                prop_assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
            }
        }
        prop_assert_eq!(loaded.scenario.is_some(), !loaded.diagnostics.iter().any(|d| d.is_error()));
    }
}

const SWEPT: &str = r#"
name = "swept"
[simulation]
duration = "100s"
[load.jobs]
rate = "2/s"
entry = "q"
[services.q]
kind = "station"
work = "exp(10ms)"

[sweep]
"load.jobs.rate" = ["1/s", "2/s", "3/s"]
services.q.servers = [1, 2]

[[sweep.variant]]
name = "fifo"

[[sweep.variant]]
name = "ps"
set = { "services.q.discipline" = "ps" }

[slo]
p99 = "50ms"
max_error_rate = 0.01
"#;

#[test]
fn sweep_points_cross_variants_with_the_grid() {
    let s = load(SWEPT).scenario.unwrap();
    let spec = s.sweep.clone().unwrap();
    assert_eq!(spec.len(), 12);
    let points = spec.points();
    assert_eq!(points.len(), 12);
    // Variants slowest, then the axes in file order, the last fastest.
    assert_eq!(
        points[0].label(),
        "fifo; load.jobs.rate=1/s, services.q.servers=1"
    );
    assert_eq!(
        points[1].label(),
        "fifo; load.jobs.rate=1/s, services.q.servers=2"
    );
    assert_eq!(
        points[2].label(),
        "fifo; load.jobs.rate=2/s, services.q.servers=1"
    );
    assert_eq!(
        points[11].label(),
        "ps; load.jobs.rate=3/s, services.q.servers=2"
    );
    let loaded = chokepoint_scenario::load_points(SWEPT, None, &spec);
    let last = loaded[11].1.scenario.as_ref().unwrap();
    assert_eq!(last.topology.stations[0].servers(), 2);
    assert_eq!(
        last.topology.stations[0].queue().unwrap().discipline,
        Discipline::Ps
    );
    assert!(matches!(last.topology.classes[0].load, Load::Open { rate, .. } if rate == 3.0));
    let slo = s.slo.unwrap();
    assert_eq!(slo.p99, Some(0.05));
    assert_eq!(slo.max_error_rate, Some(0.01));
}

#[test]
fn a_bad_sweep_value_is_located_in_the_sweep() {
    let text = SWEPT.replace("[1, 2]", "[1, 0]");
    let s = load(&text).scenario.unwrap();
    let loaded = chokepoint_scenario::load_points(&text, None, &s.sweep.unwrap());
    let bad: Vec<_> = loaded
        .iter()
        .filter(|(_, l)| l.scenario.is_none())
        .collect();
    assert_eq!(bad.len(), 6);
    // One diagnostic, naming the six points it concerns, located at the value.
    let diags = chokepoint_scenario::sweep_diagnostics(&loaded);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = &diags[0];
    assert!(
        d.message
            .starts_with("6 of 12 sweep points (1, 3, 5, 7, 9, 11): `servers` must be at least 1"),
        "{}",
        d.message
    );
    let span = d.span.clone().unwrap();
    assert_eq!(&text[span], "0");
}

/// A typo in a sweep's path names the service it meant, once: not a new
/// service with no kind, once per point (issue 12: 24 errors for three
/// typos). One point's own mistake names that point.
#[test]
fn sweep_typos_are_reported_once_each() {
    let text = SWEPT
        .replace(
            "services.q.servers = [1, 2]",
            "services.qq.servers = [1, 2]\nload.jbos.rate = [\"1/s\"]",
        )
        .replace(
            "set = { \"services.q.discipline\" = \"ps\" }",
            "set = { \"services.q.discipline\" = \"pss\" }",
        );
    let s = load(&text).scenario.unwrap();
    let loaded = chokepoint_scenario::load_points(&text, None, &s.sweep.unwrap());
    let diags = chokepoint_scenario::sweep_diagnostics(&loaded);
    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert!(
        messages[0].starts_with("every sweep point (12): override `services.qq.servers`: there is no service `qq`; did you mean `q`?"),
        "{messages:#?}"
    );
    assert!(
        messages[1].starts_with("every sweep point (12): override `load.jbos.rate`: there is no class `jbos`; did you mean `jobs`?"),
        "{messages:#?}"
    );
    assert!(
        messages[2]
            .starts_with("6 of 12 sweep points (6, 7, 8, 9, 10, 11): unknown discipline `pss`"),
        "{messages:#?}"
    );
    let spans: Vec<&str> = diags
        .iter()
        .map(|d| &text[d.span.clone().expect("located")])
        .collect();
    assert_eq!(spans, ["services.qq.servers", "load.jbos.rate", "\"pss\""]);
}

#[test]
fn sweep_and_slo_errors() {
    assert!(
        errors(&SWEPT.replace("[\"1/s\", \"2/s\", \"3/s\"]", "\"1/s\""))
            .iter()
            .any(|e| e.contains("must be an array"))
    );
    assert!(
        errors(&SWEPT.replace("max_error_rate = 0.01", "max_error_rate = 2"))
            .iter()
            .any(|e| e.contains("[0, 1]"))
    );
    assert!(
        errors(&SWEPT.replace("p99 = \"50ms\"", "p98 = \"50ms\""))
            .iter()
            .any(|e| e.contains("unknown key `p98`"))
    );
    assert!(
        errors(&SWEPT.replace("name = \"ps\"", "name = \"fifo\""))
            .iter()
            .any(|e| e.contains("two variants"))
    );
    assert!(
        errors(&MINIMAL.replace("name = \"m\"", "name = \"m\"\n[sweep]\n"))
            .iter()
            .any(|e| e.contains("nothing to sweep"))
    );
    assert!(
        errors(&SWEPT.replace("\"load.jobs.rate\"", "\"sweep.x\""))
            .iter()
            .any(|e| e.contains("cannot change the sweep"))
    );
}

#[test]
fn load_balancers() {
    let text = r#"
[simulation]
duration = "100s"
[load.jobs]
rate = "2/s"
entry = "lb"
[services.lb]
kind = "load_balancer"
policy = "least_connections"
targets = ["a", "b"]
[services.a]
kind = "station"
work = "exp(10ms)"
[services.b]
kind = "station"
work = "exp(10ms)"
"#;
    let loaded = load(text);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let t = loaded.scenario.unwrap().topology;
    let d = t.stations[0].dispatch().unwrap();
    assert_eq!(d.policy, chokepoint_core::model::Policy::LeastConnections);
    assert_eq!(d.targets, vec![StationId(1), StationId(2)]);
    assert!(
        errors(&text.replace("least_connections", "fastest"))
            .iter()
            .any(|e| e.contains("unknown policy"))
    );
    assert!(
        errors(&text.replace("least_connections", "sticky"))
            .iter()
            .any(|e| e.contains("give the balancer its `sessions`"))
    );
    let sticky = text.replace(
        "policy = \"least_connections\"",
        "policy = \"sticky\"\nsessions = { count = 100, zipf = 1.2 }",
    );
    let t = load(&sticky).scenario.unwrap().topology;
    let d = t.stations[0].dispatch().unwrap();
    assert_eq!(
        d.sessions,
        Some(chokepoint_core::model::Sessions {
            count: 100,
            zipf: 1.2
        })
    );
    // Down windows reach the balancer as its targets' indices.
    let down = text.replace(
        "[services.b]\n",
        "[services.b]\ndown = [{ from = \"10s\", to = \"20s\" }]\n",
    );
    let t = load(&down).scenario.unwrap().topology;
    let d = t.stations[0].dispatch().unwrap();
    assert_eq!(d.down.len(), 1);
    assert_eq!(d.down[0].target, 1);
    assert!(
        errors(&text.replace(
            "[services.b]\n",
            "[services.b]\ndown = [{ from = \"30s\", to = \"20s\" }]\n"
        ))
        .iter()
        .any(|e| e.contains("`to` must come after `from`"))
    );
    assert!(
        errors(&text.replace("[\"a\", \"b\"]", "[\"a\", \"c\"]"))
            .iter()
            .any(|e| e.contains("unknown service `c`"))
    );
    assert!(errors(&text.replace("targets = [\"a\", \"b\"]", "work = \"exp(1ms)\"")).len() == 2);
    // Balancers that only feed each other are refused.
    let cycle = text.replace("targets = [\"a\", \"b\"]", "targets = [\"lb2\"]")
        + "[services.lb2]\nkind = \"load_balancer\"\ntargets = \"lb\"\n";
    assert!(
        errors(&cycle)
            .iter()
            .any(|e| e.contains("only sends requests to load balancers"))
    );
}

const API: &str = r#"
[simulation]
duration = "100s"
[load.web]
rate = "100/s"
entry = "lb"
[services.lb]
kind = "load_balancer"
policy = "least_connections"
targets = "api"
[services.api]
kind = "api"
replicas = 3
profile = "c-large"
workers = 8
cpu = "exp(2ms)"
serial = 0.1
disk_ops = 2
net_bytes = 10000
next = [{ to = "db" }]
[services.db]
kind = "database"
profile = "mine"
work = "exp(4ms)"
[profiles.mine]
cores = 6
cost_per_hour = 1.5
"#;

/// An overloaded part of a service is one warning, however many replicas
/// or stripes share it (issue 12: one per replica, 2,212 lines for 200);
/// a missing demand is named by the key the service's kind reads.
#[test]
fn overload_is_warned_once_per_part() {
    let warnings = |text: &str| -> Vec<String> {
        let loaded = load(text);
        assert!(loaded.scenario.is_some(), "{:#?}", loaded.diagnostics);
        loaded.diagnostics.into_iter().map(|d| d.message).collect()
    };
    // 200 replicas of 2 cores at speed 1.2, each offered 2,000/s of
    // 0.9 × 2 ms of CPU: ρ = 2000 · 0.0015 / 2 = 1.5 on every replica.
    let many = API
        .replace("replicas = 3", "replicas = 200")
        .replace("disk_ops = 2", "disk_ops = 1")
        .replace("next = [{ to = \"db\" }]\n", "")
        .replace("rate = \"100/s\"", "rate = \"400000/s\"");
    let w = warnings(&many);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].starts_with(
            "service `api[*].cpu` (each of its 200 replicas) is overloaded: offered load up to ρ = 1.500 with 2 server(s)"
        ),
        "{w:#?}"
    );
    // A lock of 4 stripes that each take more than they can: one warning.
    let locked = API.replace(
        "serial = 0.1",
        "serial = 0.1\nlocks = { name = \"row\", hold = \"50ms\", keys = 4 }",
    );
    let w = warnings(&locked);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].starts_with("lock `api.lock.row` (each of its 4 stripes) is overloaded: offered load up to ρ = 1.250"),
        "{w:#?}"
    );
    // One replica alone is named as before.
    let one = many.replace("replicas = 200", "replicas = 1");
    let w = warnings(&one.replace("rate = \"400000/s\"", "rate = \"2000/s\""));
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].starts_with("service `api[0].cpu` is overloaded: offered load ρ = 1.500"),
        "{w:#?}"
    );
    // Only the leader of a database with read replicas takes writes: it
    // alone is named, with how many replicas it is among.
    let leader = API
        .replace("rate = \"100/s\"", "rate = \"2000/s\"")
        .replace(
            "work = \"exp(4ms)\"",
            "work = \"exp(4ms)\"\nreplicas = { count = 2, lag = \"1ms\" }\n[services.db.on.web]\nop = \"write\"",
        );
    let w = warnings(&leader);
    assert!(
        w.iter()
            .any(|m| m.starts_with("service `db[0].cpu` (1 of its 3 replicas) is overloaded")),
        "{w:#?}"
    );
    let no_cpu = API.replace("cpu = \"exp(2ms)\"\n", "");
    assert_eq!(
        errors(&no_cpu),
        ["service `api` has no `cpu` for class `web`, which reaches it"]
    );
}

#[test]
fn replicated_services_compile_into_chains() {
    let loaded = load(API);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let s = loaded.scenario.unwrap();
    let t = &s.topology;
    // 3 entries, then api: 3 × (lock, cpu, disk, net), then db: 1 × cpu.
    assert_eq!(t.stations.len(), 3 + 12 + 1);
    let service = |name: &str| s.services.iter().find(|l| l.name == name).unwrap();
    let api = service("api");
    let chains: Vec<Vec<StationId>> = api
        .replicas
        .iter()
        .map(|r| r.stations().collect())
        .collect();
    let parts: Vec<Part> = api.replicas[0].own.iter().map(|&(p, _)| p).collect();
    assert_eq!(api.replicas.len(), 3);
    assert_eq!(parts, [Part::Serial, Part::Cpu, Part::Disk, Part::Net]);
    let names: Vec<&str> = chains[1]
        .iter()
        .map(|id| t.stations[id.idx()].name.as_str())
        .collect();
    assert_eq!(
        names,
        ["api[1].lock", "api[1].cpu", "api[1].disk", "api[1].net"]
    );
    // Every station knows where it came from.
    assert_eq!(
        s.origins[chains[1][1].idx()],
        Origin {
            service: ServiceId(1),
            replica: Some(1),
            part: Part::Cpu
        }
    );
    assert_eq!(s.origins[0].part, Part::Entry);
    let lock = &t.stations[chains[0][0].idx()];
    let admission = lock.admission.clone().unwrap();
    assert_eq!(
        (admission.slots, admission.release_at),
        (8, vec![chains[0][3]])
    );
    // c-large: 2 cores at speed 1.2; 10% of 2 ms on the lock, 90% on the cores.
    let cpu = &t.stations[api.replicas[0].cpu().idx()];
    assert_eq!(
        (cpu.servers(), cpu.queue().unwrap().discipline),
        (2, Discipline::Ps)
    );
    let cpu_mean = cpu.behaviour[0].as_ref().unwrap().work.mean();
    assert!((cpu_mean - 0.9 * 2e6 / 1.2).abs() < 1e-3);
    let lock_mean = lock.behaviour[0].as_ref().unwrap().work.mean();
    assert!((lock_mean - 0.1 * 2e6 / 1.2).abs() < 1e-3);
    // Disk: 2 ops at 4,000 IOPS; network: 80,000 bits at 0.75 Gb/s.
    let disk = t.stations[chains[0][2].idx()].behaviour[0]
        .as_ref()
        .unwrap()
        .work
        .mean();
    let net = t.stations[chains[0][3].idx()].behaviour[0]
        .as_ref()
        .unwrap()
        .work
        .mean();
    assert!((disk - 0.5e6).abs() < 1e-3 && (net - 80_000.0 / 0.75).abs() < 1e-3);
    // The balancer in front of api picks among its replicas directly.
    let lb = t.stations[0].dispatch().unwrap();
    assert_eq!(
        lb.targets,
        api.replicas.iter().map(|r| r.head()).collect::<Vec<_>>()
    );
    // Costs: 3 × c-large, 1 × the custom profile.
    assert!((api.cost_per_hour - 3.0 * 0.085).abs() < 1e-9);
    assert!((service("db").cost_per_hour - 1.5).abs() < 1e-9);
    assert_eq!(service("db").profile.as_ref().map(|p| p.cores), Some(6));
    // One layout per service, in file order: a balancer is its one station.
    let kinds: Vec<&str> = s.services.iter().map(|l| l.kind.as_str()).collect();
    assert_eq!(kinds, ["load_balancer", "api", "database"]);
    assert!(!s.services[0].is_compound());
}

#[test]
fn replicated_service_errors() {
    assert!(
        errors(&API.replace("\"c-large\"", "\"c-lrage\""))
            .iter()
            .any(|e| e.contains("unknown profile `c-lrage`"))
    );
    let d = load(&API.replace("\"c-large\"", "\"c-lrage\"")).diagnostics;
    assert_eq!(
        d[0].help.as_deref(),
        Some("did you mean `c-large`? `chokepoint profiles` lists the catalog")
    );
    assert!(
        errors(&API.replace("profile = \"c-large\"\n", ""))
            .iter()
            .any(|e| e.contains("needs a `profile`"))
    );
    assert!(
        errors(&API.replace("serial = 0.1", "serial = 1.5"))
            .iter()
            .any(|e| e.contains("[0, 1)"))
    );
    assert!(
        errors(&API.replace("cores = 6\n", ""))
            .iter()
            .any(|e| e.contains("needs `cores` and `cost_per_hour`"))
    );
    assert!(
        errors(&API.replace("disk_ops = 2", "disk_ops = -2"))
            .iter()
            .any(|e| e.contains("negative"))
    );
    assert!(
        errors(&API.replace(
            "work = \"exp(4ms)\"",
            "work = \"exp(4ms)\"\ncpu = \"exp(1ms)\""
        ))
        .iter()
        .any(|e| e.contains("not both"))
    );
    assert!(
        errors(&API.replace("workers = 8", "wrokers = 8"))
            .iter()
            .any(|e| e.contains("unknown key `wrokers`"))
    );
}

/// Calls compile into call points after the caller's own stations; the
/// caller's worker is given back after the last one; per-class call lists
/// are laid end to end, each call point made only by its classes; a
/// latency adds a hop; an external has infinite servers, a concurrency
/// pool and an error probability.
#[test]
fn calls_compile_into_call_points() {
    let text = r#"
[simulation]
duration = "10s"
[load.read]
rate = "10/s"
entry = "api"
[load.write]
rate = "5/s"
entry = "api"
[services.api]
kind = "api"
replicas = 2
profile = "c-large"
workers = 8
cpu = "exp(1ms)"
calls = [{ to = "cache", latency = "const(1ms)" }, { to = "partner", p = 0.5, n = 2 }]
[services.api.on.write]
calls = [{ parallel = ["db", "partner"], wait = 1 }]
[services.cache]
kind = "station"
servers = 2
work = "exp(1ms)"
[services.db]
kind = "station"
work = "exp(2ms)"
[services.partner]
kind = "external"
latency = "exp(50ms)"
concurrency = 10
error = 0.01
"#;
    let loaded = load(text);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let s = loaded.scenario.unwrap();
    let t = &s.topology;
    let api = &s.services[0];
    let chain: Vec<StationId> = api.replicas[0].stations().collect();
    // cpu, then 1 + 2 call points for `read` and 1 for `write`.
    assert_eq!(chain.len(), 5);
    let labels: Vec<&str> = api.calls.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(api.calls[0].at, [chain[1], api.replicas[1].calls[0]]);
    assert_eq!(
        labels,
        ["cache", "partner", "partner", "parallel(db, partner)"]
    );
    let station = |id: StationId| &t.stations[id.idx()];
    let head = station(chain[0]);
    assert_eq!(
        head.admission.clone().unwrap().release_at,
        [*chain.last().unwrap()]
    );
    assert_eq!(api.replicas[0].last(), *chain.last().unwrap());
    let points: Vec<&CallPoint> = chain[1..]
        .iter()
        .map(|&id| station(id).call().unwrap())
        .collect();
    assert_eq!(points[0].probability, [1.0, 0.0]);
    assert_eq!(points[1].probability, [0.5, 0.0]);
    assert_eq!(points[3].probability, [0.0, 1.0]);
    assert_eq!(points[3].wait, 1);
    assert_eq!(points[3].targets.len(), 2);
    // The cache call goes through a hop with the latency, then to the cache.
    let hop = station(points[0].targets[0]);
    assert_eq!(hop.servers(), u32::MAX);
    let cache = StationId(1);
    assert_eq!(
        hop.behaviour[0].as_ref().unwrap().routing,
        Routing::to(cache)
    );
    assert_eq!(api.hops.len(), 2, "one hop per replica");
    assert!(
        api.hops
            .iter()
            .all(|h| s.origins[h.idx()].part == Part::Hop)
    );
    let partner = station(StationId(3));
    assert_eq!(partner.servers(), u32::MAX);
    assert_eq!(partner.admission.as_ref().unwrap().slots, 10);
    assert_eq!(partner.error, 0.01);
}

/// Every count that sizes memory, or that the engine keeps as a number,
/// has a cap, and a value past it is an error located at the value
/// (issue 12). (`--window` is the CLI's: tested there.)
#[test]
fn every_count_has_a_located_cap() {
    let db = |extra: &str| {
        API.replace(
            "work = \"exp(4ms)\"",
            &format!("work = \"exp(4ms)\"\n{extra}"),
        )
    };
    let api_calls = |calls: &str| API.replace("next = [{ to = \"db\" }]", calls);
    let cache = |extra: &str| {
        format!(
            "{API}[services.c]\nkind = \"cache\"\nwork = \"1ms\"\non_miss = [{{ to = \"db\" }}]\n{extra}\n"
        )
        .replace("work = \"1ms\"", "work = \"const(1ms)\"")
    };
    let sweep = {
        let values: Vec<String> = (0..400).map(|i| format!("{}", i + 1)).collect();
        let axis = values.join(", ");
        format!(
            "{API}[sweep]\n\"services.api.workers\" = [{axis}]\n\"services.db.servers\" = [{axis}]\n"
        )
    };
    let cases: Vec<(String, &str, &str)> = vec![
        (API.replace("replicas = 3", "replicas = 1001"), "1001", "`replicas` is at most 1000"),
        (API.replace("workers = 8", "workers = 5000000000"), "5000000000", "`workers` is at most 1000000000"),
        (API.replace("cores = 6", "cores = 4294967295"), "4294967295", "`cores` is at most 1000000000"),
        (API.replace("duration = \"100s\"", "duration = \"100s\"\nreplications = 100001"), "100001", "`replications` is at most 100000"),
        (API.replace("rate = \"100/s\"", "population = 10000001\nthink = \"1s\""), "10000001", "`population` is above 10000000"),
        (api_calls("calls = [{ fanout = { to = \"db\", n = 1001 } }]"), "1001", "`fanout.n` is at most 1000"),
        (api_calls("calls = [{ to = \"db\", n = 101 }]"), "101", "`n` is at most 100"),
        (db("replicas = { count = 101, lag = \"1ms\" }"), "101", "`replicas.count` is at most 100"),
        (db("replicas = { count = 1, lag = \"1ms\" }\nkeys = 10000001"), "10000001", "`keys` is at most 10000000"),
        (db("pool = { size = 100001 }"), "100001", "`pool.size` is at most 100000"),
        (db("locks = { hold = \"1ms\", keys = 1001 }"), "1001", "`keys` is at most 1000"),
        (cache("keys = 10000001\ncapacity = 100"), "10000001", "`keys` is at most 10000000"),
        (cache("keys = 100\ncapacity = 10000001"), "10000001", "`capacity` is at most 10000000"),
        (cache("keys = 100\nwrite_policy = \"write_back\"\nflush_batch = 10000001"), "10000001", "`flush_batch` is at most 10000000"),
        (API.replace("policy = \"least_connections\"", "policy = \"sticky\"\nsessions = { count = 10000001 }"), "10000001", "`sessions.count` is at most 10000000"),
        (API.replace("[services.db]", "[services.x]\nkind = \"external\"\nlatency = \"1ms\"\nconcurrency = 5000000000\n[services.db]"), "5000000000", "`concurrency` is at most 1000000000"),
        (db("").replace("kind = \"database\"\nprofile = \"mine\"", "kind = \"station\"\nservers = 4294967295"), "4294967295", "`servers` is at most 1000000000"),
        (sweep, "sweep", "the sweep has 160000 points, more than 100000"),
    ];
    for (text, value, message) in cases {
        let loaded = load(&text);
        let d = loaded
            .diagnostics
            .iter()
            .find(|d| d.message.contains(message))
            .unwrap_or_else(|| panic!("{message}: {:#?}", loaded.diagnostics));
        assert!(d.is_error());
        let span = d.span.clone().expect("located");
        assert_eq!(&text[span], value, "{message}");
    }
}

/// A closed system cannot grow without bound: its users must fit under the
/// limit on requests held, or the run would stop as if overloaded.
#[test]
fn closed_users_must_fit_the_limit() {
    let closed = MINIMAL.replace("rate = \"2/s\"", "population = 50\nthink = \"exp(1s)\"");
    assert!(errors(&closed).is_empty());
    let tight = closed.replace(
        "duration = \"100s\"",
        "duration = \"100s\"\nmax_in_system = 50",
    );
    let loaded = load(&tight);
    let d = &loaded.diagnostics[0];
    assert_eq!(
        d.message,
        "the closed classes have 50 users in all, and a run holds at most max_in_system = 50 requests"
    );
    assert_eq!(&tight[d.span.clone().unwrap()], "jobs");
}

/// The data tier's keys: where they apply, and what they need.
#[test]
fn data_tier_errors() {
    let db = |extra: &str| {
        API.replace(
            "work = \"exp(4ms)\"",
            &format!("work = \"exp(4ms)\"\n{extra}"),
        )
    };
    let expect = |text: &str, what: &str| {
        let e = errors(text);
        assert!(e.iter().any(|m| m.contains(what)), "{what}: {e:?}");
    };
    assert!(
        errors(&db(
            "pool = { size = 4, connect = \"5ms\", idle_timeout = \"1m\", reuse = false }"
        ))
        .is_empty()
    );
    expect(
        &API.replace("workers = 8", "pool = { size = 8 }"),
        "only a `database` has a `pool`",
    );
    expect(&db("workers = 2\npool = { size = 4 }"), "not both");
    expect(&db("pool = { connect = \"5ms\" }"), "`pool` needs `size`");
    expect(&db("pool = { size = 4, reuse = 1 }"), "true or false");
    expect(
        &db("pool = { size = 4, conect = \"5ms\" }"),
        "unknown key `conect`",
    );
    expect(
        &db("table = { rows_per_page = 10 }"),
        "`table` needs `rows`",
    );
    expect(&db("table = { rows = 0.5 }"), "at least 1");
    expect(
        &API.replace("serial = 0.1", "table = { rows = 100 }"),
        "only a `database` has a `table`",
    );
    expect(
        &db("[services.db.on.web]\nop = \"upsert\""),
        "unknown `op` `upsert`",
    );
    expect(
        &API.replace("serial = 0.1", "[services.api.on.web]\nop = \"write\""),
        "only a `database`",
    );
    expect(&db("locks = { hold = \"exp(2ms\" }"), "`hold`");
    expect(&db("locks = { keys = 4 }"), "needs `hold`");
    expect(
        &db("locks = [{ name = \"a\", hold = \"1ms\" }, { name = \"a\", hold = \"1ms\" }]"),
        "two locks are named `a`",
    );
    expect(
        &db("locks = { hold = \"1ms\", keys = 100000 }"),
        "at most 1000",
    );

    // Heaps and collectors.
    let heap = |extra: &str| API.replace("serial = 0.1", extra);
    assert!(
        errors(&heap(
            "heap_gb = 4\nlive_gb = 1\nalloc_per_request = 8\ngc = \"stop_the_world\""
        ))
        .is_empty()
    );
    expect(
        &heap("heap_gb = 4\ngc = \"stop_the_world\""),
        "needs `heap_gb`, `alloc_per_request` and `gc`",
    );
    expect(
        &heap("heap_gb = 4\nlive_gb = 5\nalloc_per_request = 8\ngc = \"stop_the_world\""),
        "must be below `heap_gb`",
    );
    expect(
        &heap("heap_gb = 4\nalloc_per_request = 8\ngc = \"g1\""),
        "unknown `gc` model `g1`",
    );
    expect(
        &heap(
            "heap_gb = 4\nalloc_per_request = 8\ngc = { model = \"stop_the_world\", pause = \"1ms\" }",
        ),
        "unknown key `pause`",
    );
    expect(
        &heap("heap_gb = -4\nalloc_per_request = 8\ngc = \"stop_the_world\""),
        "must be positive",
    );

    // A database without a machine: `servers` cores, as in the design's sketch.
    let machine_less = API.replace("profile = \"mine\"", "servers = 8");
    assert!(
        errors(&machine_less).is_empty(),
        "{:?}",
        errors(&machine_less)
    );
    let scenario = load(&machine_less).scenario.unwrap();
    let info = scenario.services.iter().find(|s| s.name == "db").unwrap();
    assert_eq!((info.profile.is_none(), info.cost_per_hour), (true, 0.0));
    assert_eq!(
        scenario.topology.stations[info.replicas[0].cpu().idx()].servers(),
        8
    );
    expect(&db("servers = 8"), "give `profile` or `servers`, not both");

    // Read replicas.
    assert!(
        errors(&db(
            "replicas = { count = 2, lag = \"exp(50ms)\" }\nkeys = 1000\nzipf = 0.9"
        ))
        .is_empty()
    );
    expect(&db("replicas = { lag = \"50ms\" }"), "needs `count`");
    expect(&db("replicas = { count = 2 }"), "needs `lag`");
    expect(
        &db("replicas = { count = 2, lag = \"exp(50ms)\", delay = 1 }"),
        "unknown key `delay`",
    );
    expect(&db("keys = 1000"), "apply to a database with read replicas");
    expect(
        &API.replace("replicas = 3", "replicas = { count = 2, lag = \"1ms\" }"),
        "must be a whole number",
    );

    expect(
        &heap(
            "heap_gb = 4\nalloc_per_request = 8\ngc = { pause_min = \"0s\", pause_per_gb = \"0s\" }",
        ),
        "a collection takes time",
    );

    // Caches.
    let cache = |extra: &str| {
        MINIMAL.replace(
            "kind = \"station\"",
            &format!("kind = \"cache\"\non_miss = [{{ to = \"q\" }}]\n{extra}"),
        )
    };
    expect(&cache(""), "needs `hit_ratio`, or `keys` and `capacity`");
    expect(&cache("hit_ratio = 0.9\nkeys = 10"), "not both");
    expect(&cache("hit_ratio = 1.5"), "outside [0, 1]");
    expect(&cache("keys = 100\ncapacity = 0"), "at least 1");
    expect(&cache("keys = 100\ncapacity = 10\nzipf = -1"), "at least 0");
    expect(
        &cache("hit_ratio = 0.9\nwrite_policy = \"write_around\""),
        "unknown `write_policy`",
    );
    expect(
        &cache("hit_ratio = 0.9\nwrite_policy = \"write_back\"\nflush_interval = \"0s\""),
        "must be positive",
    );
    expect(
        &cache("hit_ratio = 0.9\ncalls = [{ to = \"q\" }]"),
        "use `on_miss`",
    );

    expect(
        &db("locks = { name = \"row\", hold = \"1ms\" }\n[services.db.on.web]\nlocks = [\"rwo\"]"),
        "the service has no lock `rwo`",
    );
    expect(
        &db("[services.db.on.web]\nlocks = \"row\""),
        "must be an array",
    );

    // A valid lock: shared stripes behind a balancer, called from each replica.
    let loaded = load(&db("locks = { name = \"row\", hold = \"2ms\", keys = 3 }"));
    assert!(errors(&db("locks = { name = \"row\", hold = \"2ms\", keys = 3 }")).is_empty());
    let scenario = loaded.scenario.unwrap();
    let names: Vec<&str> = scenario
        .topology
        .stations
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    for name in ["db.lock.row", "db.lock.row[0]", "db.lock.row[2]"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let info = scenario.services.iter().find(|s| s.name == "db").unwrap();
    assert_eq!(info.locks[0].stripes.len(), 3);
    assert_eq!(info.calls[0].label, "lock row");
    // The stripes are known as such, whatever their names.
    let stripes: Vec<Part> = info.locks[0]
        .stripes
        .iter()
        .map(|id| scenario.origins[id.idx()].part)
        .collect();
    assert_eq!(
        stripes,
        [Part::Stripe(0, 0), Part::Stripe(0, 1), Part::Stripe(0, 2)]
    );
}

/// A load balancer in front of a service takes over the even split of its
/// replicas, but leaves a database with read replicas its own station, which
/// sends writes to the leader and reads to the followers.
#[test]
fn a_balancer_keeps_a_replicated_databases_routing() {
    let text = |replicas: &str| {
        format!(
            r#"
[simulation]
duration = "10s"
[load.web]
rate = "10/s"
entry = "lb"
[services.lb]
kind = "load_balancer"
targets = "db"
[services.db]
kind = "database"
servers = 2
cpu = "exp(1ms)"
replicas = {replicas}
"#
        )
    };
    let targets = |replicas: &str| {
        let s = load(&text(replicas)).scenario.unwrap();
        let lb = &s.topology.stations[0];
        let db = s.services.iter().find(|i| i.name == "db").unwrap();
        let heads: Vec<StationId> = db.replicas.iter().map(|r| r.head()).collect();
        let roles: Vec<ReplicaRole> = db.replicas.iter().map(|r| r.role).collect();
        (lb.dispatch().unwrap().targets.clone(), heads, roles)
    };
    let (split, heads, roles) = targets("3");
    assert_eq!(split, heads);
    assert_eq!(roles, [ReplicaRole::Plain; 3]);
    let (kept, _, roles) = targets("{ count = 2, lag = \"10ms\" }");
    assert_eq!(kept, vec![StationId(1)]);
    assert_eq!(
        roles,
        [
            ReplicaRole::Leader,
            ReplicaRole::Follower,
            ReplicaRole::Follower
        ]
    );
}
