#!/usr/bin/env bash
# What a Prometheus scrape of llmsd costs while a point runs: llmsd (release) with 8 fake GPUs
# and --metrics-listen, the reference engine as an external server, one job of 4000 requests
# at 16 in flight; 200 scrapes, one after another. Prints the body's size and lines, the
# scrape time p50/p99/max (curl's time_total), and llmsd's CPU seconds over the scrapes beside
# those of as long a wait without scrapes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p llmsd -p llms
B=target/release
D=$(mktemp -d /tmp/llms-scrape-XXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$D"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
EP=$(port); MP=$(port)
$B/llmsd reference-engine --port "$EP" --ttft-ms 5 --itl-ms 5 >/dev/null 2>&1 &
$B/llmsd --socket "$D/s.sock" --state-dir "$D/state" --gpu fake:8 --metrics-listen "127.0.0.1:$MP" 2>"$D/llmsd.log" &
PID=$!
for _ in $(seq 100); do [ -S "$D/s.sock" ] && break; sleep 0.1; done
cat > "$D/job.toml" <<TOML
name = "scrape bench"
[[engine]]
kind = "external"
url = "http://127.0.0.1:$EP"
model = "truth"
[load]
concurrency = [16]
requests = 4000
output_tokens = 64
TOML
$B/llms --socket "$D/s.sock" submit "$D/job.toml" >/dev/null
# Until the point runs.
until curl -s "127.0.0.1:$MP/metrics" | grep -q '^llmsd_point_requests_completed_total'; do sleep 0.2; done
cpu() { awk '{print ($14 + $15) / 100}' "/proc/$PID/stat"; }
c0=$(cpu); sleep 5; c1=$(cpu); t1=$(date +%s.%N)
for _ in $(seq 200); do
  curl -s -o "$D/body" -w '%{time_total}\n' "127.0.0.1:$MP/metrics" >> "$D/times"
done
c2=$(cpu); t2=$(date +%s.%N)
echo "body: $(wc -c < "$D/body") bytes, $(wc -l < "$D/body") lines"
sort -n "$D/times" | awk '{a[NR]=$1} END {printf "scrape time over %d: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", NR, a[int(NR*0.5)]*1000, a[int(NR*0.99)]*1000, a[NR]*1000}'
awk -v a="$c0" -v b="$c1" -v c="$c2" -v t1="$t1" -v t2="$t2" 'BEGIN {
  printf "llmsd CPU while the point runs: %.3f s/s without scrapes, %.3f s/s scraped back to back (%.1f scrapes/s)\n", (b-a)/5, (c-b)/(t2-t1), 200/(t2-t1) }'
