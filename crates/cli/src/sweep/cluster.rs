//! `chokepoint sweep --emit slurm|k8s`: a sweep as batch jobs for the
//! schedulers users already have. chokepoint has no cluster runtime of its
//! own: a job runs shard K of N (`sweep --shard K/N --resume`) into its own
//! folder, and a merge job joins the shards (`merge`) into the files one local
//! sweep writes. Seeds depend only on the point and replication, never on the
//! shard or the thread count, so the merged files are byte-identical to a
//! local sweep's.
//!
//! The text generators are pure functions of a [`Plan`]; `emit` writes them
//! and, with `--submit`, hands them to `sbatch`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::input::BadInput;

/// Where a sweep's batch jobs run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Emit {
    /// A Slurm job array (one task per shard) and a merge job depending on it.
    Slurm,
    /// A Kubernetes Indexed Job (one pod per shard) and a merge Job.
    K8s,
}

/// What the emitted jobs run: every path absolute, every flag that changes
/// the results carried over, so that each shard's fingerprint matches.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The chokepoint binary the jobs call (Slurm; Kubernetes uses the image's).
    pub(crate) binary: PathBuf,
    /// The scenario's file name and text, pinned in the output folder.
    pub(crate) file_name: String,
    pub(crate) source: String,
    /// The sweep's folder: shards in `shard-K`, merged files at the top.
    pub(crate) out: PathBuf,
    /// The sweep's name, for job names.
    pub(crate) name: String,
    pub(crate) shards: usize,
    pub(crate) points: usize,
    /// `--seed`, `--replications`, `--duration` as given.
    pub(crate) sim_args: Vec<String>,
    pub(crate) resources: Resources,
}

/// What each shard asks of the scheduler.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Resources {
    /// With --emit: CPUs per shard; each shard runs that many threads.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) cpus_per_task: u32,
    /// With --emit slurm: each shard's time limit (Slurm's format, such as 01:00:00).
    #[arg(long, default_value = "01:00:00")]
    pub(crate) time: String,
    /// With --emit slurm: the partition to submit to (default: the cluster's).
    #[arg(long)]
    pub(crate) partition: Option<String>,
    /// With --emit k8s: the container image holding the chokepoint binary.
    #[arg(long, default_value = "chokepoint:latest")]
    pub(crate) image: String,
    /// With --emit k8s: a ReadWriteMany PersistentVolumeClaim for the results.
    #[arg(long, default_value = "chokepoint-results")]
    pub(crate) volume_claim: String,
}

/// Quotes `text` for a POSIX shell.
fn sh(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:=+,".contains(&b))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn path(p: &Path) -> String {
    sh(&p.display().to_string())
}

/// A job name Slurm and Kubernetes both accept: lower-case letters, digits
/// and dashes, at most 40 characters.
fn job_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(40);
    let out = out.trim_matches('-').to_owned();
    if out.is_empty() {
        "chokepoint".into()
    } else {
        format!("chokepoint-{out}")
    }
}

impl Plan {
    fn scenario_path(&self) -> PathBuf {
        self.out.join(&self.file_name)
    }

    fn shard_dir(&self, k: &str) -> PathBuf {
        self.out.join(format!("shard-{k}"))
    }

    fn sim_flags(&self) -> String {
        self.sim_args
            .iter()
            .map(|a| format!(" {}", sh(a)))
            .collect()
    }

    /// The Slurm array script: task K runs shard K/N.
    pub(crate) fn slurm_array(&self) -> String {
        let n = self.shards;
        let r = &self.resources;
        let logs = self.out.join("logs");
        let mut s = String::new();
        let _ = writeln!(s, "#!/bin/bash");
        let _ = writeln!(
            s,
            "# chokepoint sweep of {}: {} points in {n} shards, one array task per shard.",
            self.file_name, self.points
        );
        let _ = writeln!(
            s,
            "# Submit this array and the merge job that waits for it:"
        );
        let _ = writeln!(s, "#   bash {}", path(&self.out.join("submit.sh")));
        let _ = writeln!(
            s,
            "# (or `chokepoint sweep ... --emit slurm --submit`). A failed task reruns alone:"
        );
        let _ = writeln!(
            s,
            "#   sbatch --array=K {}   then submit merge.sbatch again.",
            path(&self.out.join("sweep.sbatch"))
        );
        let _ = writeln!(s, "#SBATCH --job-name={}", job_name(&self.name));
        let _ = writeln!(s, "#SBATCH --array=0-{}", n - 1);
        let _ = writeln!(s, "#SBATCH --ntasks=1");
        let _ = writeln!(s, "#SBATCH --cpus-per-task={}", r.cpus_per_task);
        let _ = writeln!(s, "#SBATCH --time={}", r.time);
        if let Some(p) = &r.partition {
            let _ = writeln!(s, "#SBATCH --partition={p}");
        }
        let _ = writeln!(s, "#SBATCH --output={}", path(&logs.join("shard-%a.out")));
        let _ = writeln!(s, "set -euo pipefail");
        let _ = writeln!(
            s,
            "k=\"${{SLURM_ARRAY_TASK_ID:?submit this script with sbatch (it is a job array)}}\""
        );
        let _ = writeln!(
            s,
            "# --resume: a task that was requeued or rerun continues its shard."
        );
        let _ = writeln!(
            s,
            "exec {} sweep {} --shard \"$k/{n}\" --threads \"${{SLURM_CPUS_PER_TASK:-1}}\" --out {}\"/shard-$k\" --resume{}",
            path(&self.binary),
            path(&self.scenario_path()),
            path(&self.out),
            self.sim_flags()
        );
        s
    }

    fn merge_command(&self, binary: &str, out: &str, shard: impl Fn(usize) -> String) -> String {
        let shards: Vec<String> = (0..self.shards).map(shard).collect();
        format!("{binary} merge {} --out {out}", shards.join(" "))
    }

    /// The Slurm merge job, submitted with a dependency on the array.
    pub(crate) fn slurm_merge(&self) -> String {
        let r = &self.resources;
        let mut s = String::new();
        let _ = writeln!(s, "#!/bin/bash");
        let _ = writeln!(
            s,
            "# Joins the {} shards of the chokepoint sweep of {} into {}.",
            self.shards,
            self.file_name,
            self.out.display()
        );
        let _ = writeln!(
            s,
            "# Submitted by submit.sh with --dependency=afterok:<array job>; it names any missing shard."
        );
        let _ = writeln!(s, "#SBATCH --job-name={}-merge", job_name(&self.name));
        let _ = writeln!(s, "#SBATCH --ntasks=1");
        let _ = writeln!(s, "#SBATCH --cpus-per-task=1");
        let _ = writeln!(s, "#SBATCH --time=00:30:00");
        if let Some(p) = &r.partition {
            let _ = writeln!(s, "#SBATCH --partition={p}");
        }
        let _ = writeln!(
            s,
            "#SBATCH --output={}",
            path(&self.out.join("logs").join("merge.out"))
        );
        let _ = writeln!(s, "set -euo pipefail");
        let command = self.merge_command(&path(&self.binary), &path(&self.out), |k| {
            path(&self.shard_dir(&k.to_string()))
        });
        let _ = writeln!(s, "exec {command}");
        s
    }

    /// Submits the array, then the merge job depending on it.
    pub(crate) fn slurm_submit(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "#!/bin/bash");
        let _ = writeln!(
            s,
            "# Submits the chokepoint sweep of {}: the shard array, then the merge job.",
            self.file_name
        );
        let _ = writeln!(s, "set -euo pipefail");
        let _ = writeln!(
            s,
            "array=$(sbatch --parsable {})",
            path(&self.out.join("sweep.sbatch"))
        );
        let _ = writeln!(s, "array=\"${{array%%;*}}\"");
        let _ = writeln!(
            s,
            "merge=$(sbatch --parsable --dependency=afterok:\"$array\" {})",
            path(&self.out.join("merge.sbatch"))
        );
        let _ = writeln!(s, "merge=\"${{merge%%;*}}\"");
        let _ = writeln!(
            s,
            "echo \"submitted array job $array ({} tasks) and merge job $merge\"",
            self.shards
        );
        s
    }

    /// The Kubernetes manifests: a ConfigMap holding the scenario and the
    /// Indexed Job; then, applied once it completes, the merge Job.
    pub(crate) fn k8s(&self) -> (String, String) {
        let name = job_name(&self.name);
        let n = self.shards;
        let r = &self.resources;
        let results = format!("/results/{}", job_name(&self.name));
        let scenario = format!("/scenario/{}", self.file_name);
        let mut sweep = String::new();
        let _ = writeln!(
            sweep,
            "# chokepoint sweep of {}: {} points in {n} shards, one pod per shard.",
            self.file_name, self.points
        );
        let _ = writeln!(
            sweep,
            "# The image must hold the chokepoint binary on its PATH; the claim `{}`",
            r.volume_claim
        );
        let _ = writeln!(
            sweep,
            "# must be ReadWriteMany. Run the sweep, wait, then merge:"
        );
        let _ = writeln!(sweep, "#   kubectl apply -f sweep.yaml");
        let _ = writeln!(
            sweep,
            "#   kubectl wait --for=condition=complete --timeout=24h job/{name}"
        );
        let _ = writeln!(sweep, "#   kubectl apply -f merge.yaml");
        let _ = writeln!(
            sweep,
            "# A failed index is retried (backoffLimitPerIndex) and resumes its shard."
        );
        let _ = writeln!(sweep, "apiVersion: v1");
        let _ = writeln!(sweep, "kind: ConfigMap");
        let _ = writeln!(sweep, "metadata:");
        let _ = writeln!(sweep, "  name: {name}-scenario");
        let _ = writeln!(sweep, "data:");
        let _ = writeln!(
            sweep,
            "  {}: {}",
            yaml_string(&self.file_name),
            yaml_string(&self.source)
        );
        let _ = writeln!(sweep, "---");
        let _ = writeln!(sweep, "apiVersion: batch/v1");
        let _ = writeln!(sweep, "kind: Job");
        let _ = writeln!(sweep, "metadata:");
        let _ = writeln!(sweep, "  name: {name}");
        let _ = writeln!(sweep, "spec:");
        let _ = writeln!(sweep, "  completionMode: Indexed");
        let _ = writeln!(sweep, "  completions: {n}");
        let _ = writeln!(sweep, "  parallelism: {n}");
        let _ = writeln!(sweep, "  backoffLimitPerIndex: 2");
        let _ = writeln!(sweep, "  maxFailedIndexes: {n}");
        let _ = writeln!(sweep, "  template:");
        let _ = writeln!(sweep, "    spec:");
        let _ = writeln!(sweep, "      restartPolicy: Never");
        let _ = writeln!(sweep, "      containers:");
        let _ = writeln!(sweep, "        - name: shard");
        let _ = writeln!(sweep, "          image: {}", yaml_string(&r.image));
        let _ = writeln!(sweep, "          command: [\"sh\", \"-c\"]");
        let run = format!(
            "exec chokepoint sweep {} --shard \"$JOB_COMPLETION_INDEX/{n}\" --threads \"$THREADS\" --out {}\"/shard-$JOB_COMPLETION_INDEX\" --resume{}",
            sh(&scenario),
            sh(&results),
            self.sim_flags()
        );
        let _ = writeln!(sweep, "          args: [{}]", yaml_string(&run));
        let _ = writeln!(sweep, "          env:");
        let _ = writeln!(sweep, "            - name: THREADS");
        let _ = writeln!(sweep, "              valueFrom:");
        let _ = writeln!(
            sweep,
            "                resourceFieldRef: {{ resource: limits.cpu, divisor: \"1\" }}"
        );
        let _ = writeln!(sweep, "          resources:");
        let cpu = r.cpus_per_task;
        let _ = writeln!(sweep, "            requests: {{ cpu: \"{cpu}\" }}");
        let _ = writeln!(sweep, "            limits: {{ cpu: \"{cpu}\" }}");
        let _ = writeln!(sweep, "          volumeMounts:");
        let _ = writeln!(
            sweep,
            "            - {{ name: scenario, mountPath: /scenario, readOnly: true }}"
        );
        let _ = writeln!(
            sweep,
            "            - {{ name: results, mountPath: /results }}"
        );
        volumes(
            &mut sweep,
            Some(&format!("{name}-scenario")),
            &r.volume_claim,
        );

        let mut merge = String::new();
        let _ = writeln!(
            merge,
            "# Joins the {n} shards of the chokepoint sweep of {} into {results}.",
            self.file_name
        );
        let _ = writeln!(
            merge,
            "# Apply once job/{name} is complete; it names any missing shard."
        );
        let _ = writeln!(merge, "apiVersion: batch/v1");
        let _ = writeln!(merge, "kind: Job");
        let _ = writeln!(merge, "metadata:");
        let _ = writeln!(merge, "  name: {name}-merge");
        let _ = writeln!(merge, "spec:");
        let _ = writeln!(merge, "  backoffLimit: 0");
        let _ = writeln!(merge, "  template:");
        let _ = writeln!(merge, "    spec:");
        let _ = writeln!(merge, "      restartPolicy: Never");
        let _ = writeln!(merge, "      containers:");
        let _ = writeln!(merge, "        - name: merge");
        let _ = writeln!(merge, "          image: {}", yaml_string(&r.image));
        let command = self.merge_command("chokepoint", &sh(&results), |k| {
            sh(&format!("{results}/shard-{k}"))
        });
        let _ = writeln!(merge, "          command: [\"sh\", \"-c\"]");
        let _ = writeln!(
            merge,
            "          args: [{}]",
            yaml_string(&format!("exec {command}"))
        );
        let _ = writeln!(merge, "          volumeMounts:");
        let _ = writeln!(
            merge,
            "            - {{ name: results, mountPath: /results }}"
        );
        volumes(&mut merge, None, &r.volume_claim);
        (sweep, merge)
    }
}

fn volumes(out: &mut String, config_map: Option<&str>, claim: &str) {
    let _ = writeln!(out, "      volumes:");
    if let Some(map) = config_map {
        let _ = writeln!(out, "        - name: scenario");
        let _ = writeln!(out, "          configMap: {{ name: {map} }}");
    }
    let _ = writeln!(out, "        - name: results");
    let _ = writeln!(
        out,
        "          persistentVolumeClaim: {{ claimName: {} }}",
        yaml_string(claim)
    );
}

/// A YAML scalar holding exactly `text`: a double-quoted string, which YAML
/// reads as JSON does.
fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// Writes the plan's files into its folder; with `submit`, submits the Slurm
/// jobs and prints their ids.
pub(crate) fn emit(plan: &Plan, kind: Emit, submit: bool) -> anyhow::Result<()> {
    let out = &plan.out;
    if out.join(super::LINES).exists() {
        return Err(BadInput(format!(
            "{} already holds a finished sweep; choose another --out",
            out.display()
        ))
        .into());
    }
    std::fs::create_dir_all(out.join("logs"))
        .with_context(|| format!("cannot create {}", out.display()))?;
    // The jobs read a copy, so editing the file later cannot mix two sweeps.
    let copy = plan.scenario_path();
    std::fs::write(&copy, &plan.source)
        .with_context(|| format!("cannot write {}", copy.display()))?;
    let write = |name: &str, text: &str| -> anyhow::Result<PathBuf> {
        let p = out.join(name);
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
        Ok(p)
    };
    match kind {
        Emit::Slurm => {
            let array = write("sweep.sbatch", &plan.slurm_array())?;
            let merge = write("merge.sbatch", &plan.slurm_merge())?;
            let script = write("submit.sh", &plan.slurm_submit())?;
            if submit {
                let array_id = sbatch(&[], &array)?;
                let merge_id = sbatch(&[format!("--dependency=afterok:{array_id}")], &merge)?;
                println!(
                    "submitted array job {array_id} ({} tasks) and merge job {merge_id}",
                    plan.shards
                );
                println!("results: {}", out.display());
            } else {
                println!(
                    "wrote {}, {} and {}",
                    array.display(),
                    merge.display(),
                    script.display()
                );
                println!("submit with: bash {}", path(&script));
            }
        }
        Emit::K8s => {
            let (sweep, merge) = plan.k8s();
            let sweep = write("sweep.yaml", &sweep)?;
            let merge = write("merge.yaml", &merge)?;
            println!("wrote {} and {}", sweep.display(), merge.display());
            println!(
                "run with: kubectl apply -f {}; kubectl wait --for=condition=complete --timeout=24h job/{}; kubectl apply -f {}",
                path(&sweep),
                job_name(&plan.name),
                path(&merge)
            );
        }
    }
    Ok(())
}

/// Runs `sbatch --parsable ARGS SCRIPT` and returns the job id.
fn sbatch(args: &[String], script: &Path) -> anyhow::Result<String> {
    let output = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .arg(script)
        .output()
        .context("cannot run sbatch (is Slurm installed here?)")?;
    if !output.status.success() {
        anyhow::bail!(
            "sbatch {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    // `--parsable` prints "jobid" or "jobid;cluster".
    let id = text.trim().split(';').next().unwrap_or_default().to_owned();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        anyhow::bail!("sbatch printed `{}`, not a job id", text.trim());
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(sh("/a/b-c_d.toml"), "/a/b-c_d.toml");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("it's"), r"'it'\''s'");
        assert_eq!(sh(""), "''");
        assert_eq!(sh("$HOME"), "'$HOME'");
    }

    #[test]
    fn job_names() {
        assert_eq!(job_name("sweep_db"), "chokepoint-sweep-db");
        assert_eq!(job_name("Big Study!"), "chokepoint-big-study");
        assert_eq!(job_name("***"), "chokepoint");
    }
}
