#!/usr/bin/env bash
# The HTML reports of a run, a compare, a sweep and a diagnosis, rendered in
# headless Chromium (Debian's package, installed if missing) and checked:
# loaded without console errors or fetches, every expected chart drawn.
# Screenshots land beside the pages, in $OUT (default: a temporary folder).
#
#   scripts/html-check.sh            # as CI runs it
#   DOCS=1 scripts/html-check.sh     # also refresh docs/images/html-*.png
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
    echo "installing Debian's chromium for the HTML check"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
(cd scripts/html-check && npm ci --no-audit --no-fund --silent)

OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
cargo build --locked -q -p chokepoint
bin=target/debug/chokepoint

# Short runs: the pages, not the figures, are under test. Each command's
# output goes to its log, shown if it fails.
step() {
    local name=$1
    shift
    if ! "$@" >"$OUT/$name.log" 2>&1; then
        cat "$OUT/$name.log"
        echo "html-check: $name failed: $*" >&2
        exit 1
    fi
}
rm -rf "$OUT/sweep" "$OUT/shop-timeseries"
step run $bin run scenarios/data/shop.toml --duration 10s --replications 2 \
    --timeseries "$OUT/shop-timeseries" --html "$OUT/run.html"
step compare $bin compare scenarios/data/cache_aside.toml scenarios/data/read_replicas_instead.toml \
    --duration 10s --replications 3 --html "$OUT/compare.html"
step sweep $bin sweep scenarios/sweep_db.toml --duration 20s --replications 2 \
    --out "$OUT/sweep" --html "$OUT/sweep.html" --no-fail-on-slo
step diagnose $bin diagnose scenarios/scaling/amdahl.toml --html "$OUT/diagnose.html"

cat >"$OUT/expect.json" <<'JSON'
{
  "run.html": { "spectrum": 1, "cdf": 1, "utilization": 1, "queue": 1, "breakdown": 1, "timeseries": 3 },
  "compare.html": { "percentiles": 2, "spectrum": 2, "cdf": 2, "utilization": 2 },
  "sweep.html": { "sweep": 2 },
  "diagnose.html": { "load": 2 }
}
JSON
node scripts/html-check/check.mjs "$OUT" "$OUT/expect.json"

if [ -n "${DOCS:-}" ]; then
    mkdir -p docs/images
    for page in run compare; do
        cp "$OUT/$page-top.png" "docs/images/html-$page.png"
    done
    echo "refreshed docs/images/html-run.png and html-compare.png"
fi
