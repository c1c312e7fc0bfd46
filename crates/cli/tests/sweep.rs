//! `chokepoint sweep` and `merge` as users run them: the files do not depend
//! on the thread count, on a SIGKILL and `--resume`, or on sharding.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SHORT: [&str; 4] = ["--duration", "20s", "--replications", "3"];

fn sweep(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "sweep",
        "scenarios/sweep_db.toml",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(&SHORT);
    args.extend_from_slice(extra);
    let output = chokepoint(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn sweep_files_do_not_depend_on_threads() {
    let base = temp("threads");
    let (one, two) = (base.join("one"), base.join("two"));
    sweep(&one, &["--threads", "1"]);
    sweep(&two, &["--threads", "2"]);
    let (jsonl, csv) = files(&one);
    assert_eq!((jsonl.clone(), csv.clone()), files(&two));
    assert_eq!(jsonl.lines().count(), 16);
    assert_eq!(csv.lines().count(), 17);
    // Lines are sorted by point and carry the SLO verdict.
    for (i, line) in jsonl.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["point"], i);
        assert!(v["slo"]["met"].is_boolean());
    }
    // The charts are drawn, with text, and are the same on any thread count.
    for stem in ["latency-vs-load-queries", "throughput-vs-load-queries"] {
        let png = std::fs::metadata(one.join(format!("{stem}.png")))
            .unwrap()
            .len();
        assert!(png > 20_000, "{stem}.png is only {png} bytes");
        let svg = std::fs::read_to_string(one.join(format!("{stem}.svg"))).unwrap();
        assert!(
            svg.contains("offered load (load.queries.rate, requests/s)"),
            "{stem}.svg has no axis label"
        );
        assert!(
            svg.contains("services.db.servers=8"),
            "{stem}.svg has no legend"
        );
        assert_eq!(
            svg,
            std::fs::read_to_string(two.join(format!("{stem}.svg"))).unwrap()
        );
    }
    // Running again into the same folder without --resume is refused.
    let mut args = vec![
        "sweep",
        "scenarios/sweep_db.toml",
        "--out",
        one.to_str().unwrap(),
    ];
    args.extend_from_slice(&SHORT);
    assert_eq!(chokepoint(&args).status.code(), Some(2));
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn killed_and_resumed_equals_uninterrupted() {
    let base = temp("resume");
    let (whole, killed) = (base.join("whole"), base.join("killed"));
    let long = [
        "--duration",
        "120s",
        "--replications",
        "4",
        "--threads",
        "1",
    ];
    let mut args = vec![
        "sweep",
        "scenarios/sweep_db.toml",
        "--out",
        whole.to_str().unwrap(),
    ];
    args.extend_from_slice(&long);
    assert!(chokepoint(&args).status.success());

    let mut args = vec![
        "sweep",
        "scenarios/sweep_db.toml",
        "--out",
        killed.to_str().unwrap(),
    ];
    args.extend_from_slice(&long);
    let mut child = command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (SIGKILL) once some, but not all, points are written.
    let started = Instant::now();
    let lines = |dir: &Path| {
        std::fs::read_to_string(dir.join("points.jsonl")).map_or(0, |t| t.lines().count())
    };
    while lines(&killed) < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the sweep wrote nothing"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let written = lines(&killed);
    assert!(
        written < 16,
        "all {written} points were written before the kill"
    );

    args.push("--resume");
    assert!(chokepoint(&args).status.success());
    assert_eq!(files(&whole), files(&killed));
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn sharded_and_merged_equals_unsharded() {
    let base = temp("shards");
    let whole = base.join("whole");
    sweep(&whole, &[]);
    let shards: Vec<PathBuf> = (0..3).map(|k| base.join(format!("shard{k}"))).collect();
    for (k, dir) in shards.iter().enumerate() {
        sweep(
            dir,
            &[
                "--shard",
                &format!("{k}/3"),
                "--threads",
                if k == 1 { "1" } else { "2" },
            ],
        );
    }
    let merged = base.join("merged");
    let mut args = vec!["merge", "--out", merged.to_str().unwrap()];
    let shard_args: Vec<&str> = shards.iter().map(|d| d.to_str().unwrap()).collect();
    args.extend_from_slice(&shard_args);
    let out = chokepoint(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(files(&whole), files(&merged));

    // Without shard 1, the merge names what is missing and fails.
    let partial = base.join("partial");
    let out = chokepoint(&[
        "merge",
        "--out",
        partial.to_str().unwrap(),
        shard_args[0],
        shard_args[2],
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("5 of 16 points are missing: 1, 4, 7, 10, 13"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn check_validates_every_point() {
    let out = chokepoint(&["check", "scenarios/sweep_db.toml"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("16 sweep point(s)"));
    // A bad value in the sweep is reported once, at that value, naming the
    // points it makes.
    let dir = temp("badsweep");
    let bad = dir.join("bad.toml");
    let text = std::fs::read_to_string(root().join("scenarios/sweep_db.toml")).unwrap();
    std::fs::write(&bad, text.replace("[1, 2, 4, 8]", "[1, 2, 0, 8]")).unwrap();
    let out = chokepoint(&["check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The renderer wraps long messages; compare with the wrapping undone.
    let flat = stderr
        .replace("\n  │ ", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains("4 of 16 sweep points (2, 6, 10, 14): `servers` must be at least 1, found 0"),
        "{stderr}"
    );
    // One error (its header and its snippet), at that 0 in the sweep.
    assert_eq!(stderr.matches("bad.toml:35:32").count(), 2, "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A sweep of replicated services draws throughput against replicas (with
/// the ideal line) and cost against p99 (with the frontier), and its summary
/// names the cheapest configuration meeting the SLO.
#[test]
fn replicated_sweep_charts_and_decisions() {
    let dir = temp("replicated");
    let out = chokepoint(&[
        "sweep",
        "scenarios/scaling/disk_bound.toml",
        "--out",
        dir.to_str().unwrap(),
        "--duration",
        "10s",
        "--replications",
        "2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("cheapest meeting the SLO: point 2 (services.api.profile=c-large, services.api.replicas=4)"), "{stdout}");
    assert!(stdout.contains("at equal cost, $0.34/h"), "{stdout}");
    for (stem, text) in [
        ("throughput-vs-replicas-browse", "ideal: linear in replicas"),
        ("cost-vs-p99-browse", "cost ($/hour, illustrative prices)"),
    ] {
        let png = std::fs::metadata(dir.join(format!("{stem}.png")))
            .unwrap()
            .len();
        assert!(png > 20_000, "{stem}.png is only {png} bytes");
        let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains(text), "{stem}.svg lacks {text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Ctrl-C stops a sweep cleanly: the points that finished stay, the exit
/// code is 130, and `--resume` finishes it; resuming with another flag is
/// refused, naming the flag.
#[cfg(unix)]
#[test]
fn an_interrupted_sweep_resumes_and_names_a_changed_flag() {
    let dir = temp("interrupted");
    let out = dir.join("out");
    let mut args = vec![
        "sweep",
        "scenarios/sweep_db.toml",
        "--out",
        out.to_str().unwrap(),
        "--duration",
        "120s",
        "--replications",
        "4",
        "--threads",
        "1",
    ];
    let child = command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = |dir: &Path| {
        std::fs::read_to_string(dir.join("points.jsonl")).map_or(0, |t| t.lines().count())
    };
    let started = Instant::now();
    while lines(&out) < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "nothing written"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let result = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(130), "{stderr}");
    let kept = lines(&out);
    assert!(
        stderr.contains(&format!("interrupted: {kept} of 16 points are in")),
        "{stderr}"
    );
    assert!(kept < 16, "every point finished before the interruption");
    // Another duration: refused, naming it.
    let mut other = args.clone();
    other[5] = "60s";
    other.push("--resume");
    let refused = chokepoint(&other);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("(--duration was 120s, is now 60s)"),
        "{stderr}"
    );
    // The same flags: finished.
    args.push("--resume");
    assert!(chokepoint(&args).status.success());
    assert_eq!(lines(&out), 16);
    std::fs::remove_dir_all(&dir).unwrap();
}
