#!/usr/bin/env bash
# Fuzzes the scenario loader and the engine (cargo-fuzz, libFuzzer):
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     # default: 600 s each, loader and engine
#
# Targets (fuzz/fuzz_targets/): `loader` feeds any text to the loader (a
# scenario or located diagnostics, never a panic); `engine` writes a random
# scenario of every kind of service from the input and runs it with the
# sample-path laws checked. Both call crates/fuzzing, which the test suite
# also runs on pinned seeds and on every input kept under
# crates/fuzzing/tests/regressions/.
#
# Needs a nightly toolchain (or sets RUSTC_BOOTSTRAP=1 on stable) and
# cargo-fuzz (installed if missing). Not part of .ci/run: it runs for as long
# as it is given. A crash leaves its input in fuzz/artifacts/TARGET/; keep it
# as a regression (for the engine, the scenario text the panic prints) and fix
# what it found. docs/testing.md records the hours run and the findings.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(loader engine)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi

# The loader starts from every bundled scenario.
mkdir -p fuzz/corpus/loader fuzz/corpus/engine
find scenarios -name '*.toml' -exec cp {} fuzz/corpus/loader/ \;

jobs=${FUZZ_JOBS:-$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))}
for target in "${targets[@]}"; do
    extra=()
    [ "$target" = loader ] && extra=(-dict=fuzz/loader.dict)
    echo "== $target for ${seconds}s on $jobs job(s)"
    "${fuzz[@]}" run "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
        -fork="$jobs" -ignore_crashes=1 "${extra[@]}"
    if compgen -G "fuzz/artifacts/$target/crash-*" >/dev/null; then
        echo "crashes of $target: fuzz/artifacts/$target/"
    fi
done
