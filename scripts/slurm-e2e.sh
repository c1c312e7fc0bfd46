#!/usr/bin/env bash
# End-to-end test of `chokepoint sweep --emit slurm --submit` on a real,
# single-node Slurm started here (run by .ci/run after the unit tests).
#
# It installs Slurm and munge from Debian's packages when they are missing
# (root only), starts munged, slurmctld and slurmd with a configuration in a
# temporary folder, submits a 16-point sweep as a 4-task job array with its
# merge job, waits for the merge, and checks that the merged files equal a
# local `chokepoint sweep` of the same file byte for byte. The daemons it
# started are stopped by their PIDs, never by name, whether the test passes
# or fails.
#
#   scripts/slurm-e2e.sh            # uses target/debug/chokepoint (built with the tests if needed)
#   CHOKEPOINT=path/to/chokepoint scripts/slurm-e2e.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
started=$(date +%s)
say() { echo "slurm-e2e [$(($(date +%s) - started))s]: $*"; }

if [ -z "${CHOKEPOINT:-}" ]; then
    # The binary the test suite builds (same features, so after the tests
    # this builds nothing; `cargo build -p chokepoint` alone would rebuild).
    (cd "$root" && cargo test --workspace --locked --no-run --quiet 2>/dev/null)
    CHOKEPOINT="$root/target/debug/chokepoint"
fi
scenario="$root/scenarios/sweep_db.toml"
flags=(--duration 20s --replications 2)

# --- Install -----------------------------------------------------------------
need=()
for cmd in munged slurmctld slurmd sbatch; do
    command -v "$cmd" >/dev/null || need+=("$cmd")
done
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "slurm-e2e: ${need[*]} missing and not root: install munge, slurmctld, slurmd and slurm-client" >&2
        exit 1
    fi
    say "installing munge and Slurm from Debian's packages"
    # Keep dpkg from starting the services: this test starts its own.
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        own_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client >/dev/null
    [ "$own_policy" = 1 ] && rm -f "$policy"
fi

# --- Start -------------------------------------------------------------------
work=$(mktemp -d /tmp/chokepoint-slurm.XXXXXX)
pids=()
stop() {
    local status=$?
    set +e
    if [ -n "${SLURM_CONF:-}" ] && [ ${#pids[@]} -gt 1 ]; then
        timeout 5 scancel --user="$(id -un)" >/dev/null 2>&1
    fi
    # Stop in reverse order of starting, each by its PID; wait for each.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        pid=${pids[i]}
        kill "$pid" 2>/dev/null
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ "$status" -ne 0 ]; then
        echo "slurm-e2e: FAILED; logs follow" >&2
        for log in "$work"/*.log "$work"/cluster/logs/*; do
            [ -f "$log" ] && { echo "--- $log" >&2; tail -n 30 "$log" >&2; }
        done
    fi
    rm -rf "$work"
    exit "$status"
}
trap stop EXIT
trap 'exit 130' INT TERM

# munged: its socket folder by hand (no systemd), run as the munge user.
mkdir -p /run/munge
chown munge:munge /run/munge
chmod 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
fi
setpriv --reuid=munge --regid=munge --init-groups \
    munged --foreground --force >"$work/munged.log" 2>&1 &
pids+=($!)

mkdir -p "$work/state" "$work/spool"
node=$(slurmd -C | head -n 1 | sed 's/^NodeName=[^ ]*/NodeName=localhost/')
export SLURM_CONF="$work/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=chokepoint-e2e
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
$node State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

for _ in $(seq 1 50); do
    [ -S /run/munge/munge.socket.2 ] && break
    sleep 0.1
done
slurmctld -D -f "$SLURM_CONF" >"$work/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" >"$work/slurmd.out" 2>&1 &
pids+=($!)
say "munged, slurmctld and slurmd started (PIDs ${pids[*]})"

alive() {
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null || { echo "slurm-e2e: daemon $pid exited" >&2; exit 1; }
    done
}
state=""
for _ in $(seq 1 150); do
    alive
    state=$(timeout 5 sinfo -h -n localhost -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.2
done
[ "$state" = idle ] || { echo "slurm-e2e: the node did not become idle (state: '$state')" >&2; exit 1; }
say "node idle"

# --- The sweep on Slurm --------------------------------------------------------
out="$work/cluster"
submitted=$(timeout 30 "$CHOKEPOINT" sweep "$scenario" --emit slurm --shards 4 --cpus-per-task 1 \
    --time 00:10:00 --out "$out" --submit "${flags[@]}" 2>/dev/null)
echo "$submitted"
array=$(sed -n 's/^submitted array job \([0-9]*\) .*/\1/p' <<<"$submitted")
merge=$(sed -n 's/.* and merge job \([0-9]*\)$/\1/p' <<<"$submitted")
[ -n "$array" ] && [ -n "$merge" ] || { echo "slurm-e2e: no job ids in: $submitted" >&2; exit 1; }

job_state() { timeout 5 scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1; }
merge_state=""
for _ in $(seq 1 450); do
    alive
    merge_state=$(job_state "$merge")
    case "$merge_state" in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) break ;;
    esac
    if timeout 5 scontrol show job "$merge" 2>/dev/null | grep -q 'Reason=DependencyNeverSatisfied'; then
        merge_state="DEPENDENCY_NEVER_SATISFIED"
        break
    fi
    sleep 0.2
done
tasks=$(timeout 5 scontrol show job "$array" 2>/dev/null | grep -c 'JobState=COMPLETED' || true)
say "array job $array: $tasks of 4 tasks completed; merge job $merge: $merge_state"
[ "$merge_state" = COMPLETED ] || { echo "slurm-e2e: the merge job ended $merge_state" >&2; exit 1; }
[ "$tasks" = 4 ] || { echo "slurm-e2e: $tasks of 4 array tasks completed" >&2; exit 1; }

# --- The same sweep here --------------------------------------------------------
"$CHOKEPOINT" sweep "$scenario" --out "$work/local" "${flags[@]}" >/dev/null 2>&1
compared=0
for file in "$work"/local/*; do
    # flags.txt records how a local sweep was run, for --resume: not a result.
    [ "$(basename "$file")" = flags.txt ] && continue
    cmp "$file" "$out/$(basename "$file")"
    compared=$((compared + 1))
done
points=$(wc -l <"$out/points.jsonl")
[ "$points" = 16 ] || { echo "slurm-e2e: $points points merged, 16 expected" >&2; exit 1; }
say "passed: $points points, $compared files identical to the local sweep's"
