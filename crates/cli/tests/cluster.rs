//! `chokepoint sweep --emit slurm|k8s`: the emitted jobs, run as the
//! scheduler would run them, merge into exactly what a local sweep writes; a
//! merge names the shard that is missing or incomplete. The real Slurm run is
//! `scripts/slurm-e2e.sh`, called by `.ci/run`.

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Output};

use yaml_rust2::{Yaml, YamlLoader};

fn ok(output: Output) -> Output {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

const FLAGS: [&str; 4] = ["--duration", "20s", "--replications", "2"];

/// Runs an emitted batch script as Slurm would: bash, from another folder,
/// with the variables Slurm sets.
fn batch(script: &Path, env: &[(&str, &str)]) -> Output {
    Command::new("bash")
        .arg(script)
        .current_dir(std::env::temp_dir())
        .envs(env.iter().copied())
        .output()
        .expect("bash runs")
}

#[test]
fn emitted_slurm_jobs_merge_into_the_local_sweep_and_name_a_missing_shard() {
    let base = temp("emit-slurm");
    let local = base.join("local");
    let mut args = vec!["sweep", "scenarios/sweep_db.toml", "--out"];
    args.push(local.to_str().unwrap());
    args.extend_from_slice(&FLAGS);
    ok(chokepoint(&args));

    let cluster = base.join("cluster");
    let mut args = vec!["sweep", "scenarios/sweep_db.toml", "--emit", "slurm"];
    args.extend_from_slice(&["--shards", "4", "--cpus-per-task", "3", "--out"]);
    args.push(cluster.to_str().unwrap());
    args.extend_from_slice(&FLAGS);
    let out = ok(chokepoint(&args));
    assert!(String::from_utf8_lossy(&out.stdout).contains("submit.sh"));
    let array = cluster.join("sweep.sbatch");
    let text = std::fs::read_to_string(&array).unwrap();
    for expected in [
        "#SBATCH --array=0-3",
        "#SBATCH --cpus-per-task=3",
        "--threads \"${SLURM_CPUS_PER_TASK:-1}\"",
        "--resume --replications 2 --duration 20s",
    ] {
        assert!(text.contains(expected), "{expected} not in\n{text}");
    }
    let submit = std::fs::read_to_string(cluster.join("submit.sh")).unwrap();
    assert!(
        submit.contains("--dependency=afterok:\"$array\""),
        "{submit}"
    );
    // Without an array task id, the script says how to run it.
    let out = batch(&array, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sbatch"));

    // Shards 0, 1 and 3 run, on different CPU counts; 2 has not run.
    for (k, cpus) in [("0", "1"), ("1", "2"), ("3", "2")] {
        ok(batch(
            &array,
            &[("SLURM_ARRAY_TASK_ID", k), ("SLURM_CPUS_PER_TASK", cpus)],
        ));
    }
    let merge = cluster.join("merge.sbatch");
    let out = batch(&merge, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("shard-2 does not exist: that shard has not run"),
        "{stderr}"
    );

    // Shard 2 interrupted after one point: the merge names it as incomplete.
    ok(batch(&array, &[("SLURM_ARRAY_TASK_ID", "2")]));
    let lines = cluster.join("shard-2/points.jsonl");
    let text = std::fs::read_to_string(&lines).unwrap();
    let first = text.lines().next().unwrap();
    std::fs::write(&lines, format!("{first}\n")).unwrap();
    let out = batch(&merge, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("3 of 16 points are missing: 6, 10, 14"),
        "{stderr}"
    );
    assert!(
        stderr.contains("shard 2/4 (") && stderr.contains("is incomplete: 3 point(s) missing"),
        "{stderr}"
    );

    // Rerunning that task alone resumes it; the merge then equals the local sweep.
    ok(batch(&array, &[("SLURM_ARRAY_TASK_ID", "2")]));
    ok(batch(&merge, &[]));
    assert_eq!(files(&local), files(&cluster));
    std::fs::remove_dir_all(&base).unwrap();
}

fn get<'a>(yaml: &'a Yaml, path: &[&str]) -> &'a Yaml {
    path.iter().fold(yaml, |y, key| match key.parse::<usize>() {
        Ok(i) => &y[i],
        Err(_) => &y[*key],
    })
}

#[test]
fn k8s_manifests_are_yaml_with_an_indexed_job_and_a_merge_job() {
    let base = temp("emit-k8s");
    let out = base.join("k8s");
    let mut args = vec!["sweep", "scenarios/sweep_db.toml", "--emit", "k8s"];
    args.extend_from_slice(&["--shards", "4", "--cpus-per-task", "2", "--seed", "5"]);
    args.extend_from_slice(&["--image", "registry.example/chokepoint:1", "--out"]);
    args.push(out.to_str().unwrap());
    ok(chokepoint(&args));

    let text = std::fs::read_to_string(out.join("sweep.yaml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).expect("sweep.yaml is YAML");
    assert_eq!(docs.len(), 2, "a ConfigMap and a Job");
    let (map, job) = (&docs[0], &docs[1]);
    assert_eq!(get(map, &["kind"]).as_str(), Some("ConfigMap"));
    // The scenario travels in the ConfigMap byte for byte (the shards'
    // fingerprint depends on it).
    let source = std::fs::read_to_string(root().join("scenarios/sweep_db.toml")).unwrap();
    assert_eq!(
        get(map, &["data", "sweep_db.toml"]).as_str(),
        Some(source.as_str())
    );
    assert_eq!(get(job, &["apiVersion"]).as_str(), Some("batch/v1"));
    assert_eq!(get(job, &["kind"]).as_str(), Some("Job"));
    assert_eq!(
        get(job, &["spec", "completionMode"]).as_str(),
        Some("Indexed")
    );
    assert_eq!(get(job, &["spec", "completions"]).as_i64(), Some(4));
    assert_eq!(get(job, &["spec", "parallelism"]).as_i64(), Some(4));
    let pod = get(job, &["spec", "template", "spec"]);
    assert_eq!(get(pod, &["restartPolicy"]).as_str(), Some("Never"));
    let container = get(pod, &["containers", "0"]);
    assert_eq!(
        get(container, &["image"]).as_str(),
        Some("registry.example/chokepoint:1")
    );
    let script = get(container, &["args", "0"]).as_str().unwrap();
    for expected in [
        "chokepoint sweep /scenario/sweep_db.toml",
        "--shard \"$JOB_COMPLETION_INDEX/4\"",
        "--threads \"$THREADS\"",
        "/shard-$JOB_COMPLETION_INDEX\"",
        "--resume --seed 5",
    ] {
        assert!(script.contains(expected), "{expected} not in {script}");
    }
    assert_eq!(
        get(
            container,
            &["env", "0", "valueFrom", "resourceFieldRef", "resource"]
        )
        .as_str(),
        Some("limits.cpu")
    );
    assert_eq!(
        get(container, &["resources", "limits", "cpu"]).as_str(),
        Some("2")
    );
    let claim = get(pod, &["volumes", "1", "persistentVolumeClaim", "claimName"]);
    assert_eq!(claim.as_str(), Some("chokepoint-results"));
    assert_eq!(
        get(pod, &["volumes", "0", "configMap", "name"]).as_str(),
        get(map, &["metadata", "name"]).as_str()
    );

    let text = std::fs::read_to_string(out.join("merge.yaml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).expect("merge.yaml is YAML");
    assert_eq!(docs.len(), 1);
    let merge = &docs[0];
    assert_eq!(get(merge, &["kind"]).as_str(), Some("Job"));
    let script = get(
        merge,
        &["spec", "template", "spec", "containers", "0", "args", "0"],
    )
    .as_str()
    .unwrap();
    let shards: Vec<String> = (0..4)
        .map(|k| format!("/results/chokepoint-sweep-db/shard-{k}"))
        .collect();
    assert!(
        script.contains(&format!(
            "chokepoint merge {} --out /results/chokepoint-sweep-db",
            shards.join(" ")
        )),
        "{script}"
    );

    // --submit is for Slurm; --emit needs --shards.
    let out = chokepoint(&[
        "sweep",
        "scenarios/sweep_db.toml",
        "--emit",
        "k8s",
        "--shards",
        "2",
        "--submit",
        "--out",
        base.join("x").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("kubectl"));
    let out = chokepoint(&["sweep", "scenarios/sweep_db.toml", "--emit", "slurm"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--shards"));
    std::fs::remove_dir_all(&base).unwrap();
}
