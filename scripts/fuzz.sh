#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Runs the cargo-fuzz targets of fuzz/ (default: all of them) for SECONDS each (default 60), starting from
# the committed seeds in fuzz/seeds/<target>; new inputs go to target/fuzz-corpus/<target>, crashes to
# fuzz/artifacts/<target>. The toolchain is stable, so RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags.
# Built unoptimised-but-quick (--dev, opt-level 1) without a sanitizer, so a CI run compiles in minutes;
# debug assertions and overflow checks are on. For a longer local run: scripts/fuzz.sh 3600 frame
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
seconds="${1:-60}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(frame sniff)
export RUSTC_BOOTSTRAP=1
cargo fuzz build --dev -s none
for t in "${targets[@]}"; do
    mkdir -p "target/fuzz-corpus/$t"
    log="target/fuzz-$t.log"
    echo "fuzz: $t for ${seconds}s"
    if ! cargo fuzz run --dev -s none "$t" "target/fuzz-corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$seconds" > "$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz: $t failed; the input is in fuzz/artifacts/$t"
        exit 1
    fi
    grep -E "^Done" "$log" | sed "s/^/fuzz: $t: /"
done
