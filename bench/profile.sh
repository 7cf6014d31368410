#!/usr/bin/env bash
# bench/profile.sh [size] [out-dir]
#
# Where the time goes: runs the release server under `perf record` (the cpu-clock software event, so it works
# on VMs without hardware counters) for each of the benchmark's scenarios on the harness's image of `size`²
# (default 20000; make it first with bench/run.sh --sizes N), and writes a flat profile per scenario
# (perf report --no-children, top symbols) into out-dir (default target/profile). Needs linux-perf.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${1:-20000}"
OUT="${2:-target/profile}"
DATA="$ROOT/bench/data"
FILE="gauss_$N.fits"
[ -f "$DATA/$FILE" ] || { echo "profile: $DATA/$FILE is missing: run bench/run.sh --sizes $N first" >&2; exit 1; }
command -v perf >/dev/null || { echo "profile: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
mkdir -p "$OUT"
BIN=target/release/cartaflow
CLIENT=target/release/examples/bench_client
PORT=39391

run() { # name cache(0/1) evict(0/1) client-args...
    local name=$1 cache=$2 evict=$3; shift 3
    local env=()
    [ "$cache" = 0 ] && env=(CARTAFLOW_ANALYSIS_CACHE_MB=0)
    env "${env[@]}" perf record -q -F 2000 -e cpu-clock -g -o "$OUT/$name.data" -- \
        "$BIN" --config /dev/null --no-auth --no-http --host 127.0.0.1 --port $PORT \
        --top-level-folder "$DATA" --starting-folder "$DATA" --log-level warn >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
    if [ "$evict" = 1 ]; then sync; echo 1 > /proc/sys/vm/drop_caches; fi
    local t0=$(date +%s.%N)
    "$CLIENT" "$@" | tee "$OUT/$name.client.json"
    echo "$name: $(echo "$(date +%s.%N) - $t0" | bc) s wall" >&2
    kill -INT $pid; wait $pid || true
    { perf report -i "$OUT/$name.data" --no-children --sort comm --stdio -g none 2>/dev/null \
        | grep '%' | head -8; echo
      perf report -i "$OUT/$name.data" --no-children --sort symbol --stdio -g none 2>/dev/null \
        | grep '%' | head -25; } > "$OUT/$name.txt" || true
}

URL="ws://127.0.0.1:$PORT/"
run stats_disk 1 1 open "$URL" . "$FILE" stats
run histogram_disk 1 1 open "$URL" . "$FILE" histogram
run first_tile 1 1 open "$URL" . "$FILE" tile
run memory 0 0 memory "$URL" . "$FILE" 5
for f in "$OUT"/*.txt; do echo "== $f"; cut -c1-110 "$f"; done
