//! The `chokepoint` binary as users run it: exit codes, determinism of the
//! JSON contract, and the rendered diagnostics of broken scenarios (goldens,
//! regenerated with `UPDATE_EXPECT=1 cargo test -p chokepoint`).

mod common;
use common::*;

use std::path::{Path, PathBuf};

/// Compares `actual` with the golden file, or rewrites it under UPDATE_EXPECT=1.
fn expect_file(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden {}; run with UPDATE_EXPECT=1",
            path.display()
        )
    });
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

/// The JSON without the two wall-clock fields.
fn stable_json(stdout: &[u8]) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(stdout).expect("valid JSON");
    let engine = v["engine"].as_object_mut().expect("engine object");
    engine.remove("wall");
    engine.remove("events_per_sec");
    v
}

#[test]
fn run_json_follows_the_contract() {
    let out = chokepoint(&[
        "run",
        "scenarios/mmc.toml",
        "--format",
        "json",
        "--replications",
        "3",
        "--duration",
        "2000s",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "scenario",
        "seed",
        "replications",
        "duration",
        "engine",
        "classes",
        "stations",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    for key in ["events", "wall", "events_per_sec"] {
        assert!(v["engine"].get(key).is_some(), "missing engine.{key}");
    }
    let class = &v["classes"]["jobs"];
    for key in [
        "arrived",
        "completed",
        "dropped",
        "failed",
        "throughput",
        "throughput_ci95",
    ] {
        assert!(class.get(key).is_some(), "missing classes.jobs.{key}");
    }
    for key in [
        "mean",
        "mean_ci95",
        "p50",
        "p90",
        "p99",
        "p99_ci95",
        "p999",
        "max",
    ] {
        assert!(class["latency"].get(key).is_some(), "missing latency.{key}");
    }
    let station = &v["stations"]["q"];
    for key in [
        "utilization",
        "utilization_ci95",
        "throughput",
        "mean_in_system",
        "mean_in_system_ci95",
        "mean_queue_len",
        "mean_queue_len_ci95",
        "mean_wait",
        "mean_wait_ci95",
        "mean_response",
        "dropped",
    ] {
        assert!(station.get(key).is_some(), "missing stations.q.{key}");
    }
    assert_eq!(v["replications"], 3);
    assert_eq!(v["duration"], 2000.0);
    // Little's law holds on the reported figures: L = X W.
    let l = station["mean_in_system"].as_f64().unwrap();
    let xw = station["throughput"].as_f64().unwrap() * station["mean_response"].as_f64().unwrap();
    assert!((l - xw).abs() < 0.05 * l, "L {l} vs XW {xw}");
}

/// The request path (calls holding workers, a network hop, a balancer) on
/// one and two threads: the same JSON, pinned by a golden with its
/// breakdown; the breakdown adds up to the service's response.
/// `run FILE --format json` for `duration` with `replications`, on one
/// thread and on two: the same JSON (wall-clock fields aside), returned.
fn json_on_any_thread_count(file: &str, duration: &str, replications: &str) -> serde_json::Value {
    let run = |threads: &str| {
        let out = chokepoint(&[
            "run",
            file,
            "--format",
            "json",
            "--threads",
            threads,
            "--duration",
            duration,
            "--replications",
            replications,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stable_json(&out.stdout)
    };
    let a = run("1");
    assert_eq!(a, run("2"), "{file}");
    a
}

#[test]
fn request_path_json_is_deterministic_and_pinned() {
    let a = json_on_any_thread_count("scenarios/request_path/db_pool.toml", "10s", "3");
    let api = &a["stations"]["api"];
    let part = |k: &str| api["breakdown"][k].as_f64().unwrap();
    let total = part("pool_wait")
        + part("queue")
        + part("work")
        + api["breakdown"]["calls"]["db"].as_f64().unwrap();
    let response = api["mean_response"].as_f64().unwrap();
    assert!(
        (total - response).abs() < 1e-9 * response,
        "{total} vs {response}"
    );
    let pretty = serde_json::to_string_pretty(&a).unwrap() + "\n";
    expect_file("db_pool.json", &pretty);
}

/// The data tier's figures (pool, lock, cache, read replicas, GC) on one
/// scenario: the same on one thread or two, and pinned.
#[test]
fn data_tier_json_is_deterministic_and_pinned() {
    let a = json_on_any_thread_count("scenarios/data/shop.toml", "10s", "2");
    let s = &a["stations"];
    for (station, key) in [
        ("api", "gc"),
        ("api", "locks"),
        ("cache", "cache"),
        ("db", "replication"),
    ] {
        assert!(s[station][key].is_object(), "{station}.{key}");
    }
    assert!(s["db"]["workers"]["connects"].is_number());
    let pretty = serde_json::to_string_pretty(&a).unwrap() + "\n";
    expect_file("shop.json", &pretty);
}

/// Same file and seed: byte-identical JSON apart from the wall-clock fields,
/// whatever the number of threads.
#[test]
fn same_seed_same_json_on_any_thread_count() {
    let args = |threads: &'static str| {
        vec![
            "run",
            "scenarios/tandem.toml",
            "--format",
            "json",
            "--threads",
            threads,
            "--duration",
            "5000s",
        ]
    };
    let a = chokepoint(&args("1"));
    let b = chokepoint(&args("2"));
    let c = chokepoint(&args("2"));
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    // Byte for byte, once the two wall-clock lines are removed.
    let without_wall = |stdout: &[u8]| -> String {
        String::from_utf8_lossy(stdout)
            .lines()
            .filter(|l| !l.contains("\"wall\"") && !l.contains("\"events_per_sec\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_wall(&a.stdout), without_wall(&b.stdout));
    assert_eq!(without_wall(&b.stdout), without_wall(&c.stdout));
    assert_eq!(stable_json(&a.stdout), stable_json(&b.stdout));
    let other_seed = chokepoint(&[
        "run",
        "scenarios/tandem.toml",
        "--format",
        "json",
        "--seed",
        "99",
        "--duration",
        "5000s",
    ]);
    assert_ne!(stable_json(&a.stdout), stable_json(&other_seed.stdout));
    // The golden pins the numbers themselves: a change of generator, seeding
    // or sampling shows up here.
    let pretty = serde_json::to_string_pretty(&stable_json(&a.stdout)).unwrap() + "\n";
    expect_file("tandem.json", &pretty);
}

#[test]
fn every_bundled_scenario_is_valid() {
    // scenarios/ and each of its folders but invalid/.
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.ends_with("invalid") {
            paths.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            paths.push(path);
        }
    }
    assert!(paths.len() > 40, "{paths:?}");
    for path in paths {
        if path.extension().is_some_and(|e| e == "toml") {
            let out = chokepoint(&["check", path.to_str().unwrap()]);
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Every file under scenarios/invalid/ fails `check` with exit code 2, all
/// its errors located, and no panic; the rendering is a golden.
#[test]
fn invalid_scenarios_get_every_error_with_location() {
    let dir = root().join("scenarios/invalid");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for path in names {
        let rel = format!(
            "scenarios/invalid/{}",
            path.file_name().unwrap().to_str().unwrap()
        );
        for verb in ["check", "run"] {
            let out = chokepoint(&[verb, &rel]);
            let stderr = String::from_utf8_lossy(&out.stderr).to_string();
            assert_eq!(out.status.code(), Some(2), "{verb} {rel}: {stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            assert!(out.stdout.is_empty());
            if verb == "check" {
                let golden = path.file_stem().unwrap().to_str().unwrap().to_owned() + ".txt";
                expect_file(&golden, &stderr);
            }
        }
    }
}

/// A reader that stops early (`chokepoint run FILE | head -3`) closes the
/// pipe: the binary stops printing, still writes its files, and does not
/// panic.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let dir = temp("closed-stdout");
    let mut child = command(&[
        "run",
        "scenarios/mmc.toml",
        "--duration",
        "20000s",
        "--out",
        dir.to_str().unwrap(),
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // Closed before the run prints anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(dir.join("results.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Nor is a closed stderr: a sweep's warnings and last line go to it
/// (`chokepoint tour 3 2>&1 | head`).
#[test]
fn a_closed_stderr_is_not_a_panic() {
    let dir = temp("closed-stderr");
    let mut child = command(&[
        "sweep",
        "scenarios/tour/06-serial-lock.toml",
        "--out",
        dir.join("sweep").to_str().unwrap(),
    ])
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(dir.join("sweep/points.jsonl").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(chokepoint(&["run"]).status.code(), Some(2));
    assert_eq!(
        chokepoint(&["run", "no/such/file.toml"]).status.code(),
        Some(2)
    );
    assert_eq!(
        chokepoint(&["run", "scenarios/mmc.toml", "--duration", "5"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        chokepoint(&["run", "scenarios/mmc.toml", "--format", "xml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        chokepoint(&["run", "scenarios/mmc.toml", "--replications", "0"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(chokepoint(&["bogus"]).status.code(), Some(2));
}

/// A negative duration is refused for what it is, not taken for a flag
/// (issue 12: clap suggested "use '-- -5s'").
#[test]
fn a_negative_duration_is_refused_as_such() {
    for (flag, extra) in [("--duration", None), ("--window", Some("--timeseries"))] {
        let mut args = vec!["run", "scenarios/mmc.toml", flag, "-5s"];
        if let Some(extra) = extra {
            args.extend([extra, "/tmp/unused-series"]);
        }
        let out = chokepoint(&args);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{flag} must be positive, found -5s")),
            "{flag}: {stderr}"
        );
    }
}

/// An overloaded station is simulated but flagged, in the output too.
#[test]
fn overload_is_a_warning_not_an_error() {
    let out = chokepoint(&[
        "run",
        "scenarios/invalid/../overloaded.toml",
        "--format",
        "json",
        "--replications",
        "2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("service `db` is overloaded: offered load ρ = 1.200"),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["warnings"][0].as_str().unwrap().contains("`db`"));
}

/// The table says nothing about what did not happen (issue 12: "db: 0
/// connections opened per second" for a pool that never reconnects), and
/// says it when it does.
#[test]
fn no_line_for_connections_never_opened() {
    let table = |file: &str| {
        let out = chokepoint(&["run", file]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let kept = table("scenarios/data/connection_pool.toml");
    assert!(kept.contains("pooled connections"), "{kept}");
    assert!(!kept.contains("connections opened"), "{kept}");
    let reopened = table("scenarios/data/shop.toml");
    assert!(
        reopened.contains("connections opened per second"),
        "{reopened}"
    );
}

/// `--out DIR` writes the three renderings; the JSON there is what stdout shows.
#[test]
fn out_dir_gets_json_csv_and_table() {
    let dir = std::env::temp_dir().join(format!("chokepoint-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = chokepoint(&[
        "run",
        "scenarios/mmc.toml",
        "--format",
        "csv",
        "--replications",
        "2",
        "--duration",
        "500s",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert_eq!(csv, String::from_utf8_lossy(&out.stdout));
    assert!(csv.starts_with("section,name,metric,value,ci95\n"));
    assert!(csv.contains("station,q,utilization,"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(json["replications"], 2);
    assert!(
        std::fs::read_to_string(dir.join("results.txt"))
            .unwrap()
            .contains("utilization")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--timeseries DIR` writes the run's windows as tidy CSV: a cold cache's
/// hit ratio climbs from its first window to its last.
#[test]
fn timeseries_shows_a_cold_cache_warming_up() {
    let dir = temp("timeseries");
    let out = chokepoint(&[
        "run",
        "scenarios/data/cold_start.toml",
        "--replications",
        "2",
        "--duration",
        "40s",
        "--timeseries",
        dir.to_str().unwrap(),
        "--window",
        "4s",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    assert!(csv.starts_with("time,kind,name,metric,value,ci95\n"));
    let hit_ratio: Vec<f64> = csv
        .lines()
        .filter(|l| l.contains(",station,cache,hit_ratio,"))
        .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
        .collect();
    assert_eq!(hit_ratio.len(), 10);
    assert!(hit_ratio[0] < hit_ratio[9] - 0.05, "{hit_ratio:?}");
    assert!(csv.contains("\n40,class,reads,throughput,"));
    assert!(csv.contains(",station,db,throughput,"));
    // And as charts, PNG and SVG.
    for stem in [
        "timeseries-throughput",
        "timeseries-latency",
        "timeseries-errors",
        "timeseries-utilization",
        "timeseries-in-system",
        "timeseries-hit-ratio",
    ] {
        assert!(dir.join(format!("{stem}.png")).exists(), "{stem}.png");
    }
    let svg = std::fs::read_to_string(dir.join("timeseries-hit-ratio.svg")).unwrap();
    assert!(svg.contains("cache hit ratio over time"));

    let bad = chokepoint(&[
        "run",
        "scenarios/data/cold_start.toml",
        "--timeseries",
        dir.to_str().unwrap(),
        "--window",
        "0s",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--window must be positive"));
    let tiny = chokepoint(&[
        "run",
        "scenarios/data/cold_start.toml",
        "--timeseries",
        dir.to_str().unwrap(),
        "--window",
        "1us",
    ]);
    assert_eq!(tiny.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&tiny.stderr).contains("at most 100000"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_accepts_a_valid_file() {
    let out = chokepoint(&["check", "scenarios/checkout.toml"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("scenarios/checkout.toml: ok (4 service(s), 2 class(es))\n"),
        "{stdout}"
    );
    // Then the capacity table, its bottleneck first.
    assert!(stdout.contains("busiest first:"), "{stdout}");
    // A replicated service counts once, however many stations its replicas add.
    let out = chokepoint(&["check", "scenarios/scaling/cpu_bound.toml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(
            "scenarios/scaling/cpu_bound.toml: ok (1 service(s), 1 class(es), 9 sweep point(s))\n"
        ),
        "{stdout}"
    );
    let first = stdout.lines().nth(4).unwrap_or_default();
    assert!(first.starts_with("api cpu "), "{stdout}");
    // So do locks, caches' fetches and read replicas.
    let out = chokepoint(&["check", "scenarios/data/shop.toml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("scenarios/data/shop.toml: ok (3 service(s), 2 class(es))\n"),
        "{stdout}"
    );
}

/// `compare` runs each architecture with the baseline's seed (and, here,
/// the same settings):
/// the same arrival stream (same class name) gives the same arrivals, and
/// the latency differences between one fast server, four pooled and four
/// split ones are significant, in the order queueing theory gives
/// (0.83 s < 1.36 s < 3.33 s at ρ = 0.7).
#[test]
fn compare_shows_significant_differences() {
    let out = chokepoint(&[
        "compare",
        "scenarios/scaling/vertical.toml",
        "scenarios/scaling/pooled.toml",
        "scenarios/scaling/split.toml",
        "--format",
        "json",
        "--replications",
        "5",
        "--duration",
        "5000s",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["scenarios"],
        serde_json::json!(["vertical", "pooled", "split"])
    );
    let row = |metric: &str| {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["section"] == "class" && r["name"] == "jobs" && r["metric"] == metric)
            .unwrap()
            .clone()
    };
    let mean = row("latency.mean");
    let values: Vec<f64> = mean["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!(values[0] < values[1] && values[1] < values[2], "{values:?}");
    assert_eq!(mean["significant"], serde_json::json!([false, true, true]));
    // Common random numbers: the same arrivals in all three.
    let arrived: Vec<&serde_json::Value> = (0..3)
        .map(|i| &v["results"][i]["classes"]["jobs"]["arrived"])
        .collect();
    assert!(
        arrived[0] == arrived[1] && arrived[1] == arrived[2],
        "{arrived:?}"
    );
    // The same arrivals: the throughputs differ only by what is left in
    // the system at the end (under 0.5%), as the paired differences say.
    let throughput = row("throughput");
    for i in 1..3 {
        let (d, base) = (
            throughput["paired_difference"][i][0].as_f64().unwrap(),
            throughput["values"][0].as_f64().unwrap(),
        );
        assert!(d.abs() < 0.005 * base, "{throughput}");
    }
    // The latency's paired differences: pooled and split slower, sharper
    // than the two runs' intervals together.
    for i in 1..3 {
        let (d, h) = (
            mean["paired_difference"][i][0].as_f64().unwrap(),
            mean["paired_difference"][i][1].as_f64().unwrap(),
        );
        let apart = mean["ci95"][0].as_f64().unwrap() + mean["ci95"][i].as_f64().unwrap();
        assert!(d > h && h < apart, "{mean}");
    }
    // The table names the baseline and marks significant changes.
    let table = chokepoint(&[
        "compare",
        "scenarios/scaling/vertical.toml",
        "scenarios/scaling/pooled.toml",
        "--duration",
        "2000s",
    ]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.starts_with("pooled compared with vertical (same load and seed; every one "),
        "{text}"
    );
    assert!(text.contains("(+63.5%: +526 ±37 ms *)"), "{text}");
    // The verdict: the paired p99 difference, in words.
    assert!(
        text.ends_with("pooled: its jobs p99 is 1.62 ±0.30 s higher than vertical's\n"),
        "{text}"
    );
    // With --out, the comparison is also written, with a chart of percentiles.
    let dir = std::env::temp_dir().join(format!("chokepoint-compare-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = chokepoint(&[
        "compare",
        "scenarios/scaling/vertical.toml",
        "scenarios/scaling/split.toml",
        "--duration",
        "1000s",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(dir.join("latency-percentiles-jobs.svg")).unwrap();
    assert!(svg.contains("latency percentiles by architecture") && svg.contains("split"));
    assert!(
        std::fs::metadata(dir.join("latency-percentiles-jobs.png"))
            .unwrap()
            .len()
            > 10_000
    );
    assert!(dir.join("compare.json").exists() && dir.join("compare.txt").exists());
    std::fs::remove_dir_all(&dir).unwrap();
    // One file is not a comparison.
    assert_eq!(
        chokepoint(&["compare", "scenarios/mmc.toml"]).status.code(),
        Some(2)
    );
}

/// The design review's question: a cache in front of one database, or two
/// read replicas behind it, for the same reads and writes. The comparison
/// says what each costs, whether each meets the SLO, the cache's hit
/// ratio and the replicas' stale reads, each class's latency with paired
/// intervals, and a verdict; the table is pinned.
#[test]
fn compare_decides_between_a_cache_and_read_replicas() {
    let files = [
        "compare",
        "scenarios/data/cache_aside.toml",
        "scenarios/data/read_replicas_instead.toml",
    ];
    let out = chokepoint(&[&files[..], &["--format", "json"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |section: &str, name: &str, metric: &str| {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["section"] == section && r["name"] == name && r["metric"] == metric)
            .unwrap_or_else(|| panic!("no row {section} {name} {metric}"))
            .clone()
    };
    let value = |r: &serde_json::Value, i: usize| r["values"][i].as_f64();
    // One g-xlarge against three (a leader and two replicas).
    let cost = row("design", "", "cost.per_hour");
    let (one, three) = (value(&cost, 0).unwrap(), value(&cost, 1).unwrap());
    assert!((three - 3.0 * one).abs() < 1e-9, "{cost}");
    assert!(row("design", "", "cost.per_million_requests")["values"][1].is_number());
    assert_eq!(
        row("design", "", "slo.met")["values"],
        serde_json::json!([1.0, 1.0])
    );
    // The cache's hit ratio (Che's, with each write dropping its key:
    // 56.2%), and no cache in the other design.
    let hit = row("station", "cache", "cache.hit_ratio");
    assert!((value(&hit, 0).unwrap() - 0.562).abs() < 0.01, "{hit}");
    assert!(hit["values"][1].is_null());
    // Stale reads behind the replicas only.
    let stale = row("station", "db", "replication.stale_ratio");
    assert!(stale["values"][0].is_null());
    assert!(value(&stale, 1).unwrap() > 0.0, "{stale}");
    // Every read pays the database behind replicas: its p99 is higher, and
    // the paired interval says so; the writes' p99 cannot be told apart.
    let p99 = row("class", "reads", "latency.p99");
    let (d, h) = (
        p99["paired_difference"][1][0].as_f64().unwrap(),
        p99["paired_difference"][1][1].as_f64().unwrap(),
    );
    assert!(d > h && p99["significant"][1] == true, "{p99}");
    // Every percentile has its interval from the replications' own.
    for metric in ["latency.p50", "latency.p90", "latency.p99", "latency.p999"] {
        assert!(
            row("class", "reads", metric)["ci95"][0].is_number(),
            "{metric}"
        );
    }
    let verdict = v["verdicts"][0].as_str().unwrap();
    assert!(
        verdict.starts_with(
            "read_replicas_instead: costs 200% more and meets the SLO; its reads p99 is "
        ),
        "{verdict}"
    );
    // The table a reviewer pastes, pinned.
    let table = chokepoint(&files);
    assert!(table.status.success());
    expect_file(
        "compare_cache_or_replicas.txt",
        &String::from_utf8_lossy(&table.stdout),
    );
}

/// `--format markdown` on `run`, `compare` and `sweep`: pasteable tables
/// (a header, an alignment row, one row per class or figure), the
/// verdicts, and the charts linked where they were written.
#[test]
fn markdown_for_run_compare_and_sweep() {
    let text = |args: &[&str]| {
        let out = chokepoint(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let run = text(&[
        "run",
        "scenarios/mmc.toml",
        "--duration",
        "500s",
        "--format",
        "markdown",
    ]);
    assert!(run.starts_with("# "), "{run}");
    assert!(run.contains("## Classes\n\n| class | arrived |"), "{run}");
    assert!(run.contains("| :-- | --: |"), "{run}");
    let compare = text(&[
        "compare",
        "scenarios/data/cache_aside.toml",
        "scenarios/data/read_replicas_instead.toml",
        "--duration",
        "20s",
        "--format",
        "markdown",
    ]);
    assert!(
        compare.contains("- read\\_replicas\\_instead: costs 200% more"),
        "{compare}"
    );
    assert!(
        compare.contains("| design | cache\\_aside | read\\_replicas\\_instead |"),
        "{compare}"
    );
    assert!(
        compare.contains("| cost.per\\_hour | $0.192 | $0.576 (+200.0%) |"),
        "{compare}"
    );
    let dir = temp("markdown-sweep");
    let sweep = text(&[
        "sweep",
        "scenarios/sweep_db.toml",
        "--duration",
        "20s",
        "--replications",
        "2",
        "--out",
        dir.to_str().unwrap(),
        "--format",
        "markdown",
        "--no-fail-on-slo",
    ]);
    assert_eq!(sweep.matches("| load.queries.rate=").count(), 16, "{sweep}");
    assert!(
        sweep.contains("no: overloaded") && sweep.contains("| met |"),
        "{sweep}"
    );
    // The folder's summary links its charts by name, which are there.
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(
        summary.contains("](<latency-vs-load-queries.svg>)"),
        "{summary}"
    );
    assert!(dir.join("latency-vs-load-queries.svg").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--html FILE`: one self-contained page, with the tables, every chart
/// inline and the scenario itself, and no script; a file that cannot be
/// written is refused before anything is simulated. (Rendered in a real
/// browser by `scripts/html-check.sh`, in CI.)
#[test]
fn html_reports_are_self_contained() {
    let dir = temp("html");
    let page = dir.join("run.html");
    let out = chokepoint(&[
        "run",
        "scenarios/data/shop.toml",
        "--duration",
        "5s",
        "--replications",
        "2",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for kind in ["spectrum", "cdf", "utilization", "queue", "breakdown"] {
        assert!(
            html.contains(&format!("data-kind=\"{kind}\">\n<svg")),
            "{kind}"
        );
    }
    // The scenario as written, escaped; nothing to run, nothing to fetch.
    assert!(html.contains("name = &quot;shop&quot;"));
    for fetch in ["<script", "src=", "<link", "url(", "@import"] {
        assert!(!html.contains(fetch), "{fetch}");
    }
    // Compare and diagnose write theirs too.
    let page = dir.join("compare.html");
    let out = chokepoint(&[
        "compare",
        "scenarios/scaling/vertical.toml",
        "scenarios/scaling/pooled.toml",
        "--duration",
        "500s",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("data-kind=\"percentiles\"") && html.contains("<h2>Verdicts</h2>"));
    // A folder that does not exist: refused at once, exit 2.
    let start = std::time::Instant::now();
    let out = chokepoint(&[
        "run",
        "scenarios/data/shop.toml",
        "--duration",
        "100000s",
        "--html",
        "/nonexistent-folder/run.html",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--html /nonexistent-folder/run.html: no folder")
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `diagnose` on `amdahl.toml` (its overloaded probes stop early, so it is
/// quick): the cores limit it at about 533/s; one more replica or the next
/// machine doubles that, more workers do nothing. A class that does not
/// exist is a clear error; a closed population is ramped in users.
#[test]
fn diagnose_names_the_bottleneck_and_the_changes_that_move_it() {
    let out = chokepoint(&[
        "diagnose",
        "scenarios/scaling/amdahl.toml",
        "--threads",
        "2",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("capacity table: api cpu saturates first, at 533/s"),
        "{stdout}"
    );
    let line = |label: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no `{label}` in {stdout}"))
            .to_owned()
    };
    assert!(
        line("api: 256 → 512 workers").contains("no effect"),
        "{stdout}"
    );
    assert!(line("api: 1 → 2 replicas").contains("×2."), "{stdout}");
    assert!(
        stdout.contains("busiest there: api cpu (CPU, 100% used)")
            && stdout.contains("the simulation confirms the capacity table")
            && stdout.contains("where time goes at 5"),
        "{stdout}"
    );
    let out = chokepoint(&[
        "diagnose",
        "scenarios/scaling/amdahl.toml",
        "--class",
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no class `nope`"));
    // A closed population is ramped in users, its bounds beside.
    let out = chokepoint(&["diagnose", "scenarios/request_path/closed_users.toml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("40 users at first (every class's population scaled together)")
            && stdout.contains("the bounds cross at 42.0 users")
            && stdout.contains("simulated: saturates between"),
        "{stdout}"
    );
}

/// `diagnose --format json --out DIR`: the JSON has the search's findings
/// (amdahl: saturation bracketing 533/s; the changes, one of which moves
/// the limit), and the folder gets the text, the JSON and the charts.
#[test]
fn diagnose_writes_json_and_charts() {
    let dir = std::env::temp_dir().join(format!("chokepoint-diagnose-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = chokepoint(&[
        "diagnose",
        "scenarios/scaling/amdahl.toml",
        "--format",
        "json",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let from = v["saturation"]["from"].as_f64().unwrap();
    let to = v["saturation"]["to"].as_f64().unwrap();
    assert!(from < to && from > 500.0 && to < 600.0, "{v}");
    assert_eq!(v["capacity"][0]["resource"], "cpu");
    assert_eq!(v["busiest"]["class"], "CPU", "{v}");
    assert_eq!(v["confirms_capacity_table"], true, "{v}");
    assert!(
        v["time_spent"]["services"]["api"]["parts"]["queue"].as_f64() > Some(0.0),
        "{v}"
    );
    let changes = v["changes"].as_array().unwrap();
    assert!(changes.iter().any(|c| c["moves_the_limit"] == true), "{v}");
    assert!(changes.iter().any(|c| c["moves_the_limit"] == false), "{v}");
    for name in [
        "diagnose.txt",
        "diagnose.json",
        "diagnose.md",
        "diagnose-p99.png",
        "diagnose-throughput.svg",
    ] {
        assert!(dir.join(name).exists(), "{name}");
    }
    // The Markdown: its tables, and the charts linked.
    let md = std::fs::read_to_string(dir.join("diagnose.md")).unwrap();
    for part in [
        "## Diagnosis: amdahl",
        "| resource | units | per request |",
        "| change | saturates at | effect |",
        "| api: 1 → 2 replicas |",
        "[diagnose-p99.svg](diagnose-p99.svg)",
    ] {
        assert!(md.contains(part), "no `{part}` in {md}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A missed SLO is exit code 3, after everything was printed (as load
/// testers do with thresholds); `--no-fail-on-slo` exits 0. `--warmup`
/// overrides the scenario's (0 s allowed, a negative one refused).
#[test]
fn a_missed_slo_exits_3_unless_told_otherwise() {
    let args = [
        "run",
        "scenarios/scaling/cpu_bound.toml",
        "--duration",
        "5s",
        "--warmup",
        "0s",
    ];
    let out = chokepoint(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("measured after 0 s warm-up"), "{stdout}");
    assert!(stdout.contains("SLO: missed"), "{stdout}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SLO missed (browse: p99"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = chokepoint(&[&args[..], &["--no-fail-on-slo"]].concat());
    assert_eq!(out.status.code(), Some(0));
    // A design that meets it: compare exits 0 when any design does.
    let out = chokepoint(&[
        "compare",
        "scenarios/scaling/cpu_bound.toml",
        "scenarios/request_path/db_pool.toml",
        "--duration",
        "5s",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Its verdict: the cost against the baseline's ($0.362/h against
    // $0.085/h) and the SLO.
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .ends_with("db_pool: costs 326% more and meets the SLO\n"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = chokepoint(&[
        "compare",
        "scenarios/scaling/cpu_bound.toml",
        "scenarios/scaling/disk_bound.toml",
        "--duration",
        "5s",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = chokepoint(&["run", "scenarios/mmc.toml", "--warmup", "-1s"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--warmup must be zero or positive"));
}

/// `compare` runs each design with its own `[simulation]` (a cache keeps
/// the warm-up it needs) and the baseline's seed; `--same-settings` runs
/// all with the baseline's. The header says which.
#[test]
fn compare_runs_each_design_with_its_own_settings_unless_told() {
    let files = [
        "compare",
        "scenarios/data/cold_start.toml",
        "scenarios/data/cache_aside.toml",
        "--duration",
        "5s",
    ];
    let out = chokepoint(&files);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.lines().next().unwrap().ends_with(
            "(same load and seed; each its own: cold_start 5 × 5.00 s, no warm-up, cache_aside 5 × 5.00 s after 400 s warm-up)"
        ),
        "{text}"
    );
    let out = chokepoint(&[&files[..], &["--same-settings"]].concat());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with("(same load and seed; every one 5 × 5.00 s, no warm-up)"),
        "{text}"
    );
}

/// `profiles --format json|csv`: the catalog for scripts, the same rows
/// as the table.
#[test]
fn profiles_print_as_json_and_csv() {
    let out = chokepoint(&["profiles", "--format", "json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let large = v
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["profile"] == "c-large")
        .expect("c-large");
    assert_eq!(
        (large["cores"].as_u64(), large["cpu_speed"].as_f64()),
        (Some(2), Some(1.2))
    );
    let out = chokepoint(&["profiles", "--format", "csv"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("profile,cores,cpu_speed,memory_gb,disk_iops,network_gbps,cost_per_hour")
    );
    assert_eq!(lines.count(), v.as_array().unwrap().len());
}

/// `sweep --format json` prints every point's line (what points.jsonl
/// holds, in point order) as one array; `--format csv` the points' CSV.
#[test]
fn sweep_prints_its_points_as_json_or_csv() {
    let dir = std::env::temp_dir().join(format!("chokepoint-sweep-format-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |format: &str| {
        let _ = std::fs::remove_dir_all(&dir);
        let out = chokepoint(&[
            "sweep",
            "scenarios/sweep_db.toml",
            "--out",
            dir.to_str().unwrap(),
            "--duration",
            "5s",
            "--replications",
            "2",
            "--format",
            format,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let json: serde_json::Value = serde_json::from_str(&run("json")).expect("valid JSON");
    let points: Vec<u64> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["point"].as_u64().unwrap())
        .collect();
    assert_eq!(points, (0..16).collect::<Vec<u64>>());
    let csv = run("csv");
    assert_eq!(
        csv,
        std::fs::read_to_string(dir.join("points.csv")).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
