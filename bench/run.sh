#!/usr/bin/env bash
# bench/run.sh [--smoke] [harness options...]
#
# The benchmark in one command: installs what is missing (scripts/setup.sh, plus dask and matplotlib in
# .venv), builds cartaflow and the protocol client in release mode, then runs bench/harness.py: Gaussian FITS
# images (bench/data/, git-ignored), cartaflow through its WebSocket protocol against Dask, numpy and the
# machine's limits, from disk and in memory. Writes bench/results/{results.md,results.json,figure.png}.
#   --smoke   tiny sizes and two runs, into target/bench-smoke (what CI runs to keep the harness working)
# CARTAFLOW_BUILD_PROFILE=ci builds with the test profile instead of release (CI's smoke run reuses the test
# build; timings need release).
# Other options go to the harness (see `python bench/harness.py --help`), e.g. --sizes 1000,4000 --runs 3.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/setup.sh
if ! .venv/bin/python -c 'import dask.array, matplotlib' >/dev/null 2>&1; then
    echo "bench: installing dask and matplotlib into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check "dask[array]" matplotlib </dev/null
fi
profile="${CARTAFLOW_BUILD_PROFILE:-release}"
cargo build --profile "$profile" --quiet --bin cartaflow --example bench_client
bins=(--binary "target/$profile/cartaflow" --client "target/$profile/examples/bench_client")

args=()
if [ "${1:-}" = "--smoke" ]; then
    shift
    args=(--sizes 256,512 --runs 2 --cursor-moves 50 --data target/bench-smoke/data --out target/bench-smoke)
fi
exec .venv/bin/python bench/harness.py "${bins[@]}" "${args[@]}" "$@"
