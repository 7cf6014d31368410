#!/usr/bin/env bash
# bench/cube.sh [options...]: the cube benchmark (bench/cube.py): spectra, per-cube histogram and animation on a
# 2 GiB spectral cube, FITS and IDIA HDF5, against astropy and spectral-cube in the same run. Installs what is
# missing (scripts/setup.sh, spectral-cube in .venv), builds cartaflow and the protocol client in release mode.
# Writes bench/results/cube.{md,json}. Options go to bench/cube.py (e.g. --depth 64 for a quick run).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
if ! .venv/bin/python -c 'import spectral_cube, h5py' >/dev/null 2>&1; then
    echo "bench: installing spectral-cube and h5py into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check spectral-cube h5py </dev/null
fi
cargo build --release --quiet --bin cartaflow --example bench_client
exec .venv/bin/python bench/cube.py --binary target/release/cartaflow \
    --client target/release/examples/bench_client "$@"
