#!/usr/bin/env bash
# scripts/run.sh [cartaflow flags...]
#
# The newcomer's one command: installs what is missing (scripts/setup.sh), generates the sample-image folder
# samples/ (FITS and HDF5 images, made by scripts/gen_samples.py), builds cartaflow in release mode and starts it
# with config/cartaflow.toml on that folder, serving the CARTA frontend. It prints the URL (with the token) to open.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/setup.sh
echo "run: generating sample images in samples/"
.venv/bin/python scripts/gen_samples.py samples
echo "run: building (release)"
cargo build --release --quiet
echo "run: starting cartaflow (Ctrl-C stops it)"
exec target/release/cartaflow --config config/cartaflow.toml --top-level-folder samples \
    --frontend-folder frontend "$@"
