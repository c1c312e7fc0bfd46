//! The tour's lessons (docs/tour.md), one test each: `chokepoint tour N`
//! runs the lesson's commands as a student would, from a folder holding
//! the bundled scenarios, and judges its claims on the numbers they wrote;
//! each claim must hold, so that a lesson never silently stops teaching
//! what it says. The claims themselves are in `src/tour/lessons.rs`.
//! (Unix only: the lessons' folder links to the scenarios.)
#![cfg(unix)]

mod common;

use common::{root, temp};

/// Runs lesson `n` from a fresh folder that links to the scenarios, and
/// checks that it printed its claims, every one holding, and drew its
/// chart.
fn lesson(n: usize, chart: &str) {
    let dir = temp(&format!("tour-{n}"));
    std::os::unix::fs::symlink(root().join("scenarios"), dir.join("scenarios")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chokepoint"))
        .args(["tour", &n.to_string()])
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let claims: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("  ✓ ") || l.starts_with("  ✗ "))
        .collect();
    assert!(
        out.status.success() && !claims.is_empty(),
        "lesson {n}: {:?}\n{stdout}\n{stderr}",
        out.status
    );
    for c in &claims {
        assert!(c.starts_with("  ✓ "), "lesson {n}: {c}");
    }
    let chart = dir.join(format!("tour/{n:02}/{chart}.png"));
    assert!(chart.exists(), "lesson {n}: no chart {}", chart.display());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lesson_01_latency_explodes_near_full_utilisation() {
    lesson(1, "latency-vs-load-requests");
}

#[test]
fn lesson_02_variability_costs_as_much_as_load() {
    lesson(2, "latency-vs-load-requests");
}

#[test]
fn lesson_03_one_queue_for_many_servers() {
    lesson(3, "latency-vs-load-requests");
}

#[test]
fn lesson_04_averages_hide_the_truth() {
    lesson(4, "latency-percentiles-web");
}

#[test]
fn lesson_05_more_machines_behind_the_same_choke_point() {
    lesson(5, "sweep/throughput-vs-replicas-web");
}

#[test]
fn lesson_06_a_serialized_path_caps_everything() {
    lesson(6, "throughput-vs-replicas-orders");
}

#[test]
fn lesson_07_the_handshake_tax() {
    lesson(7, "latency-vs-load-web");
}

#[test]
fn lesson_08_caching_trades_freshness_for_speed() {
    lesson(8, "latency-vs-load-reads");
}

#[test]
fn lesson_09_read_replicas_and_stale_reads() {
    lesson(9, "throughput-vs-replicas-reads");
}

#[test]
fn lesson_10_layer_4_or_7_and_sticky_sessions() {
    lesson(10, "latency-vs-load-web");
}

#[test]
fn lesson_11_fan_out_amplifies_the_tail() {
    lesson(11, "latency-percentiles-search");
}

#[test]
fn lesson_12_retries_turn_a_blip_into_an_outage() {
    lesson(12, "storm/timeseries-throughput");
}

#[test]
fn lesson_13_vertical_or_horizontal() {
    lesson(13, "crash/timeseries-errors");
}

#[test]
fn lesson_14_autoscaling_arrives_late() {
    lesson(14, "timeseries-in-system");
}

/// The tour rewrites only its own folders: a `tour/01` it did not write is
/// left alone, with a clear error (exit code 2); without a lesson number
/// it lists the lessons, and a lesson that does not exist is refused.
#[test]
fn the_tour_leaves_folders_it_did_not_write() {
    let dir = temp("tour-foreign");
    std::os::unix::fs::symlink(root().join("scenarios"), dir.join("scenarios")).unwrap();
    std::fs::create_dir_all(dir.join("tour/01")).unwrap();
    std::fs::write(dir.join("tour/01/notes.txt"), "mine").unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_chokepoint"))
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let out = run(&["tour", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not written by the tour"));
    assert!(dir.join("tour/01/notes.txt").exists());
    let list = run(&["tour"]);
    assert!(list.status.success());
    assert_eq!(
        String::from_utf8_lossy(&list.stdout)
            .lines()
            .filter(|l| l
                .trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit()))
            .count(),
        14
    );
    assert_eq!(run(&["tour", "15"]).status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
