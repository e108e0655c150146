#!/usr/bin/env bash
# Capacity search against the reference engine, whose capacity is known from its model: how
# many probe points a search of concurrency 1..256 at resolution 1 needs, its wall time, and
# the answer against the known one. Two bounds:
#
# 1. TPOT p99 <= 20 ms with decode steps of 2 ms + 0.1 ms per request in flight (256 slots, no
#    prefill cost): by the model alone TPOT is 2 + 0.1c and the bound breaks past 180; the
#    engine's own work per step (writing every stream's chunk) adds a little, which the probes'
#    figures show, so the measured crossing is somewhat lower. A smooth figure.
# 2. TTFT p99 <= 100 ms with 4 ms steps and 100 slots, 64 output tokens (a request takes 256
#    ms): up to 100 in flight a first token comes within two steps; beyond, k of every 100 + k
#    requests wait a whole request, so the 99th percentile breaks at 101 or 102. A figure
#    that jumps.
#
# Each probe runs 2 s of requests (--duration 2) and the ones in flight finish. A capacity
# outside the expected range (150..180, 100..102) fails the script.
#
#   bench/capacity.sh
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
(cd "$ROOT" && cargo build --release --locked -p llmsd >&2) || exit 1
LLMSD=$CARGO_TARGET_DIR/release/llmsd
TMP=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
PORT=18432

search() {
    local name=$1 known=$2 expect=$3 slo=$4 out=$5; shift 5
    kill $(jobs -p) 2>/dev/null; wait 2>/dev/null
    "$LLMSD" reference-engine --port $PORT --threads 2 --prefill-ms-per-token 0 "$@" \
        > "$TMP/server.log" 2>&1 &
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && break; sleep 0.1; done
    local t0=$SECONDS
    "$LLMSD" bench --url "http://127.0.0.1:$PORT" --search concurrency --search-min 1 \
        --search-max 256 --search-slo "$slo" --output-tokens "$out" --duration 2 \
        --json "$TMP/$name.json" > "$TMP/$name.txt" 2>&1 || { cat "$TMP/$name.txt"; exit 1; }
    local wall=$((SECONDS - t0))
    python3 - "$TMP/$name.json" "$name" "$known" "$wall" "$expect" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1])); s = r["search"]
probes = [p for p in s["probes"] if p["role"] == "probe"]
key = [k for k in s["slo"] if k != "error_rate"][0]
loads = " ".join(f'{p["load"]["concurrency"]}{"+" if p["pass"] else "-"}({p["values"][key]:.1f})'
                 for p in s["probes"])
print(f"{sys.argv[2]:<6} known {sys.argv[3]:>5}  found {s['capacity']:>5.0f}  "
      f"probes {len(probes):>2} + {len(s['probes']) - len(probes)} confirmation  wall {sys.argv[4]:>3} s")
print(f"       {loads}")
print(f"       {s['verdict']}")
lo, hi = (float(x) for x in sys.argv[5].split(".."))
if not (s["capacity"] is not None and lo <= s["capacity"] <= hi):
    sys.exit(f"       capacity {s['capacity']} is outside the expected {lo:g}..{hi:g}")
PY
}

echo "capacity search, concurrency 1..256, resolution 1 (+ passed, - failed, (the bound's figure, ms))"
search smooth "<180" 150..180 tpot_p99=20 32 --decode-ms 2 --decode-ms-per-seq 0.1 --max-running 256
search jump "101" 100..102 ttft_p99=100 64 --decode-ms 4 --decode-ms-per-seq 0 --max-running 100
