#!/usr/bin/env bash
# Times chokepoint, SimPy and Ciw on the same M/M/1 and tandem models with the
# same number of customers (default 1,000,000; SimPy and Ciw get fewer by
# default, CUSTOMERS_PY, because they are slow; visits/s is comparable).
#
#   benches/peers/run.sh            # installs SimPy and Ciw in benches/peers/.venv
#   CUSTOMERS_PY=1000000 benches/peers/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
customers_py="${CUSTOMERS_PY:-100000}"

if [ ! -x "$here/.venv/bin/python" ]; then
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install --quiet simpy ciw
fi
py="$here/.venv/bin/python"
echo "python: $("$py" --version); simpy $("$py" -c 'import simpy; print(simpy.__version__)'); ciw $("$py" -c 'import ciw; print(ciw.__version__)')"

cargo build --quiet --release -p chokepoint --manifest-path "$root/Cargo.toml"
bin="$root/target/release/chokepoint"

for model in mm1 tandem; do
  stations=$([ "$model" = mm1 ] && echo 1 || echo 3)
  # chokepoint: the whole process (parse, simulate with full statistics, print), one thread.
  start=$(date +%s.%N)
  "$bin" run "$here/$model.toml" --threads 1 --format json > /tmp/chokepoint-peers-$model.json
  end=$(date +%s.%N)
  python3 - "$model" "$stations" "$start" "$end" <<'PY'
import json, sys
model, stations, start, end = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
d = json.load(open(f"/tmp/chokepoint-peers-{model}.json"))
c = d["classes"]["jobs"]
wall = end - start
visits = sum(s["throughput"] for s in d["stations"].values()) * d["duration"]
print(f"chokepoint {model}: {c['completed']} customers, mean latency {c['latency']['mean']:.6f} s, "
      f"{wall:.2f} s (whole process), {visits / wall / 1e6:.3f} M visits/s")
PY
  "$py" "$here/simpy_models.py" "$model" "$customers_py"
  "$py" "$here/ciw_models.py" "$model" "$customers_py"
done
