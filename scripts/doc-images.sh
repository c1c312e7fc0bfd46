#!/usr/bin/env bash
# Regenerates the chart images in docs/images from the bundled scenarios
# (the HTML report's screenshots come from `DOCS=1 scripts/html-check.sh`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p chokepoint
bin=target/release/chokepoint
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

sweep() {
    local scenario=$1
    shift
    "$bin" sweep "scenarios/$scenario.toml" --out "$out/$(basename "$scenario")" --no-fail-on-slo >/dev/null 2>&1
    for pair in "$@"; do
        cp "$out/$(basename "$scenario")/${pair%%=*}.png" "docs/images/${pair##*=}.png"
    done
}
sweep sweep_db \
    latency-vs-load-queries=sweep_db-latency-vs-load \
    throughput-vs-load-queries=sweep_db-throughput-vs-load
sweep scaling/vertical_vs_horizontal \
    latency-vs-load-browse=vertical_vs_horizontal-latency
sweep scaling/disk_bound \
    throughput-vs-replicas-browse=disk_bound-throughput-vs-replicas \
    cost-vs-p99-browse=disk_bound-cost-vs-p99
sweep data/sharding \
    throughput-vs-shards-orders=sharding-throughput-vs-shards
# The tour's lessons (docs/tour.md), each run as `chokepoint tour N` from a
# folder holding the scenarios; its chart is the one the lesson names.
mkdir "$out/tour"
ln -s "$PWD/scenarios" "$out/tour/scenarios"
for n in $(seq 1 14); do
    chart=$(cd "$out/tour" && "$OLDPWD/$bin" tour "$n" 2>/dev/null | sed -n 's/^chart: \(.*\.png\).*/\1/p')
    cp "$out/tour/$chart" "docs/images/tour-$(printf %02d "$n").png"
done
echo "docs/images refreshed"
