//! What the binary does when a run cannot be what was asked: an overloaded
//! system that would fill memory, a wall-clock limit, an interruption. It
//! stops, keeps what it measured, and says so.

mod common;
use common::*;

use std::process::Stdio;
use std::time::{Duration, Instant};

/// `overloaded.toml` with a rate a thousand times too high (issue 12:
/// ρ = 699 took 42 s and 8 GB for one simulated second).
fn flooded() -> std::path::PathBuf {
    let dir = temp("flooded");
    let text = std::fs::read_to_string(root().join("scenarios/overloaded.toml"))
        .unwrap()
        .replace("rate = \"600/s\"", "rate = \"3000/ms\"");
    assert!(text.contains("3000/ms"));
    let path = dir.join("flooded.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The peak memory of a running child, polled until it exits (Linux).
fn run_measuring_memory(args: &[&str]) -> (std::process::Output, Option<u64>) {
    let child = command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let watcher = {
        let peak = peak.clone();
        std::thread::spawn(move || {
            // VmHWM is the peak resident size so far, in kB.
            while let Ok(text) = std::fs::read_to_string(&status) {
                if let Some(kb) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    peak.fetch_max(kb * 1024, std::sync::atomic::Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let out = child.wait_with_output().unwrap();
    watcher.join().unwrap();
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    (out, (peak > 0).then_some(peak))
}

/// Bounded memory under any overload: each replication stops once it holds
/// a million requests, in seconds, and the table and the JSON say which
/// service's queue grew, how fast, when, and that the figures are lower
/// bounds.
#[test]
fn an_overloaded_run_stops_early_and_says_why() {
    let path = flooded();
    let file = path.to_str().unwrap();
    let started = Instant::now();
    let (out, peak) = run_measuring_memory(&["run", file, "--duration", "1s", "--format", "json"]);
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
    if cfg!(target_os = "linux") {
        let peak = peak.expect("measured");
        assert!(peak < 1 << 30, "peak memory {} MB", peak >> 20);
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stopped = v["stopped"].as_array().expect("stopped runs");
    assert_eq!(stopped.len(), 4, "{stopped:?}");
    for s in stopped {
        assert_eq!(s["cause"], "in_system");
        assert_eq!(s["limit"], 1_000_000);
        assert_eq!(s["service"], "api");
        // 3 million arrivals per second against 1,600 served: the queue
        // grows by about 3 million per second, for a third of a second.
        let growth = s["growth_per_sec"].as_f64().unwrap();
        assert!((growth / 3e6 - 1.0).abs() < 0.01, "{growth}");
        let at = s["at"].as_f64().unwrap();
        assert!((at - 1.0 / 3.0).abs() < 0.01, "{at}");
    }
    // The same in the table, and with a lower limit.
    let out = chokepoint(&["run", file, "--duration", "1s", "--max-in-system", "1000"]);
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("STOPPED EARLY: replications 0, 1, 2, 3 of 4 held 1,000 requests (the limit, --max-in-system)"),
        "{table}"
    );
    assert!(table.contains("most were at `api`"), "{table}");
    assert!(table.contains("lower bound of the damage"), "{table}");
    // `compare` says so too, for the column concerned.
    let out = chokepoint(&[
        "compare",
        "scenarios/overloaded.toml",
        file,
        "--duration",
        "1s",
        "--max-in-system",
        "1000",
    ]);
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!(
            "{file}: STOPPED EARLY: replications 0, 1, 2, 3 of 4"
        )),
        "{table}"
    );
    assert!(!table.contains("overloaded: STOPPED"), "{table}");
    // A stable system is not stopped, and its memory stays flat in
    // duration: ten times longer, about the same peak.
    let stable = |duration: &str| {
        run_measuring_memory(&[
            "run",
            "scenarios/mmc.toml",
            "--format",
            "json",
            "--replications",
            "2",
            "--duration",
            duration,
        ])
    };
    let (short, short_peak) = stable("20000s");
    let (long, long_peak) = stable("200000s");
    for out in [&short, &long] {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v.get("stopped").is_none());
    }
    if let (Some(short), Some(long)) = (short_peak, long_peak) {
        assert!(
            long < short + short / 2 + (4 << 20),
            "peak {} MB for 200,000 s against {} MB for 20,000 s",
            long >> 20,
            short >> 20
        );
    }
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// A wall-clock limit per replication: it stops, keeps what it measured,
/// and the report says so.
#[test]
fn a_time_limit_stops_a_replication_and_keeps_its_figures() {
    let started = Instant::now();
    let out = chokepoint(&[
        "run",
        "scenarios/mmc.toml",
        "--duration",
        "1000000000s",
        "--replications",
        "2",
        "--time-limit",
        "1s",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stopped = v["stopped"].as_array().expect("stopped runs");
    assert_eq!(stopped.len(), 2);
    for s in stopped {
        assert_eq!(s["cause"], "time_limit");
        assert!(s["measured"].as_f64().unwrap() > 1000.0);
    }
    // The figures are those of what ran: M/M/4 at 3.6/s.
    let x = v["classes"]["jobs"]["throughput"].as_f64().unwrap();
    assert!((x - 3.6).abs() < 0.1, "{x}");
    let out = chokepoint(&["run", "scenarios/mmc.toml", "--time-limit", "-1s"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--time-limit must be positive"));
}

/// Ctrl-C stops the running replications and reports those that finished,
/// marked as partial, with exit code 130.
#[cfg(unix)]
#[test]
fn an_interrupted_run_reports_what_finished() {
    // 400 replications of about 50 ms each, one at a time.
    let child = command(&[
        "run",
        "scenarios/mmc.toml",
        "--replications",
        "400",
        "--threads",
        "1",
        "--duration",
        "200000s",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(stderr.contains("interrupted: stopping"), "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("PARTIAL: interrupted; "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let finished: u32 = line["PARTIAL: interrupted; ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..400).contains(&finished), "{line}");
    assert!(
        stdout.contains(&format!("mmc · {finished} replication(s)")),
        "{stdout}"
    );
}

/// The flags that size memory have the scenario's caps.
#[test]
fn flags_past_their_caps_are_refused() {
    let out = chokepoint(&["run", "scenarios/mmc.toml", "--replications", "100001"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("100001 is not in 1..=100000"));
    let out = chokepoint(&["run", "scenarios/mmc.toml", "--max-in-system", "0"]);
    assert_eq!(out.status.code(), Some(2));
    // Below the users of a closed class: refused, not run as "overloaded".
    let out = chokepoint(&[
        "run",
        "scenarios/request_path/closed_users.toml",
        "--max-in-system",
        "40",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "the closed classes have 40 users in all; --max-in-system 40 must be above that"
    ));
    // A duration that rounds to no time at all.
    let out = chokepoint(&["run", "scenarios/mmc.toml", "--duration", "0.4ns"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least a nanosecond"));
}
