#!/usr/bin/env bash
# scripts/setup.sh [--test]
#
# Installs everything cartaflow needs to build, run and be tested, on a Debian 12 machine
# (run as root, or with sudo available). Idempotent and quick when everything is present:
# each step checks first and only installs what is missing.
#
#   1. Debian packages: C libraries and tools for the -sys crates (HDF5, cfitsio, protoc,
#      cmake, clang for bindgen). With --test also Debian's chromium (for the e2e tests).
#   2. Rust: only checks that cargo is on PATH (the toolchain comes with the machine).
#   3. Python: a venv at .venv with numpy, astropy and h5py (used by scripts/gen_*.py).
#   4. Frontend: the built CARTA web frontend, npm package carta-frontend 6.0.0, unpacked
#      into frontend/ (frontend/index.html, marker frontend/.version).
#   5. With --test: node test dependencies in tests/e2e/ (playwright-core; it never downloads
#      a browser, the tests drive /usr/bin/chromium), and cargo-fuzz (from crates.io) for the
#      fuzz targets in fuzz/.
#
# Everything comes from apt, pip or npm; nothing is downloaded any other way.
# Works from any cwd and non-interactively (CI=true, no stdin).
set -euo pipefail

FRONTEND_VERSION="6.0.0"
APT_PACKAGES=(pkg-config libhdf5-dev libcfitsio-dev protobuf-compiler cmake libclang-dev clang curl ca-certificates)
PY_PACKAGES=(numpy astropy h5py scikit-image)

WITH_TEST=0
for arg in "$@"; do
    case "$arg" in
        --test) WITH_TEST=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "setup: unknown argument: $arg (usage: scripts/setup.sh [--test])" >&2; exit 2 ;;
    esac
done
if [ "$WITH_TEST" = 1 ]; then
    APT_PACKAGES+=(chromium)
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { echo "setup: $*"; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }

# Keep npm quiet and non-interactive.
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export DEBIAN_FRONTEND=noninteractive

# ---------------------------------------------------------------------------------------------
# 1. Debian packages
# ---------------------------------------------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install: ${missing[*]}"
        SUDO="sudo -n"
    fi
    log "apt: installing ${missing[*]}"
    $SUDO apt-get update -qq </dev/null >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null \
        2> >(grep -v '^debconf: delaying package configuration' >&2)
    log "apt: done"
fi

# ---------------------------------------------------------------------------------------------
# 2. Rust
# ---------------------------------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        die "cargo not found: install a Rust toolchain (rustup) and put cargo on PATH"
    fi
fi

# ---------------------------------------------------------------------------------------------
# 3. Python venv for the sample/fixture generators
# ---------------------------------------------------------------------------------------------
if ! .venv/bin/python -c 'import numpy, astropy, h5py, skimage' >/dev/null 2>&1; then
    command -v python3 >/dev/null 2>&1 || die "python3 not found"
    if ! .venv/bin/python -c 'import sys' >/dev/null 2>&1; then
        python3 -c 'import ensurepip, venv' 2>/dev/null \
            || die "python3 cannot make a venv (on Debian: apt-get install python3-venv)"
        log "python: creating .venv"
        python3 -m venv --clear .venv
    fi
    log "python: installing ${PY_PACKAGES[*]} into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}" </dev/null
    .venv/bin/python -c 'import numpy, astropy, h5py, skimage' || die "python packages did not import after install"
fi

# ---------------------------------------------------------------------------------------------
# 4. CARTA frontend (built site from the npm package)
# ---------------------------------------------------------------------------------------------
if [ ! -f frontend/index.html ] || [ "$(cat frontend/.version 2>/dev/null || true)" != "$FRONTEND_VERSION" ]; then
    command -v npm >/dev/null 2>&1 || die "npm not found (Node.js is needed to fetch carta-frontend)"
    log "frontend: fetching carta-frontend@$FRONTEND_VERSION from npm"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "carta-frontend@$FRONTEND_VERSION" </dev/null >/dev/null)
    tgz="$(ls "$tmp"/carta-frontend-*.tgz 2>/dev/null | head -n1)"
    [ -n "$tgz" ] || die "npm pack produced no tarball"
    mkdir -p "$tmp/x"
    tar -xzf "$tgz" -C "$tmp/x"
    [ -f "$tmp/x/package/build/index.html" ] || die "carta-frontend package has no build/index.html"
    rm -rf frontend.new
    mv "$tmp/x/package/build" frontend.new
    echo "$FRONTEND_VERSION" > frontend.new/.version
    rm -rf frontend
    mv frontend.new frontend
    rm -rf "$tmp"
    trap - EXIT
    log "frontend: installed into frontend/ ($(du -sh frontend | cut -f1))"
fi

# ---------------------------------------------------------------------------------------------
# 5. e2e test dependencies (only with --test)
# ---------------------------------------------------------------------------------------------
if [ "$WITH_TEST" = 1 ]; then
    [ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing after apt install"
    E2E="tests/e2e"
    mkdir -p "$E2E"
    if [ ! -f "$E2E/package.json" ]; then
        pw_version="$(npm view playwright-core version </dev/null 2>/dev/null | tail -n1)"
        [ -n "$pw_version" ] || die "could not ask npm for the playwright-core version"
        log "e2e: writing $E2E/package.json (playwright-core $pw_version)"
        cat > "$E2E/package.json" <<EOF
{
  "name": "cartaflow-e2e",
  "private": true,
  "type": "module",
  "description": "End-to-end tests: the real CARTA frontend in Debian's chromium against cartaflow",
  "dependencies": {
    "playwright-core": "$pw_version"
  }
}
EOF
    fi
    if [ ! -d "$E2E/node_modules/playwright-core" ]; then
        log "e2e: npm install in $E2E"
        # playwright-core never downloads browsers; the env var is belt and braces.
        (cd "$E2E" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent </dev/null)
    fi
fi

# ---------------------------------------------------------------------------------------------
# 6. cargo-fuzz (only with --test)
# ---------------------------------------------------------------------------------------------
CARGO_FUZZ_VERSION="0.13.2"
if [ "$WITH_TEST" = 1 ] && ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    log "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" </dev/null
fi

log "ok"
