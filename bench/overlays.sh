#!/usr/bin/env bash
# bench/overlays.sh [options...]: the overlay benchmark (bench/overlays.py): contours (8000² image, smoothing none
# and Gaussian 4), PV images (1 GiB cube, ~700 px line, widths 3 and 1) and polarisation vectors (4096² IQUV,
# averaging 4), cartaflow through its WebSocket protocol against scikit-image, contourpy, scipy/astropy,
# pvextractor + spectral-cube and numpy in the same run. Installs what is missing (scripts/setup.sh; contourpy,
# pvextractor, spectral-cube and scipy in .venv), builds cartaflow and the protocol client in release mode (niced,
# one job: these machines are shared). Writes bench/results/overlays.{md,json}. Options go to bench/overlays.py,
# e.g. --quick (small sizes, under a minute; writes target/bench-quick/overlays.{md,json}), --runs, --peer-runs,
# --opens, --no-cold, --only contours,pv,vectors.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
if ! .venv/bin/python -c 'import contourpy, pvextractor, spectral_cube, scipy, skimage' >/dev/null 2>&1; then
    echo "bench: installing contourpy, pvextractor, spectral-cube and scipy into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check contourpy pvextractor spectral-cube scipy \
        scikit-image </dev/null
fi
nice -n 19 cargo build --release -j 1 --quiet --bin cartaflow --example bench_client
exec .venv/bin/python bench/overlays.py --binary target/release/cartaflow \
    --client target/release/examples/bench_client "$@"
