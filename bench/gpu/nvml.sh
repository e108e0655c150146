#!/bin/bash
# llmsd's NVML source and engine supervision on a real GPU (run on the lent GPU machine):
#  1. samples and per-process memory (a torch process holding 2 GiB), the daemon's idle cost;
#  2. a reference-engine job: per-point power, energy from the counter, idle baseline;
#  3. an engine holding 1 GiB of GPU memory (bench/gpu/gpu_engine.py), stopped politely and
#     deaf to SIGTERM: its group's memory per point, and nothing left on the GPU after stop.
# Needs release builds of llmsd and llms in $LLMS_BIN (default target/release), python3 with
# torch, and $OUT (where logs and JSON go). From the repository root:
#   cargo build --release -p llmsd -p llms && mkdir -p .gpu && cp target/release/llms{d,} .gpu/
#   device run, carry [".gpu"]: LLMS_BIN=.gpu bash bench/gpu/nvml.sh
set -u
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
export LLMS_BIN="$(cd "${LLMS_BIN:-$ROOT/target/release}" && pwd)"
OUT="${OUT:-/tmp/llms-gpu-out}"; mkdir -p "$OUT"
W=$(mktemp -d); cd "$W"
llmsd() { "$LLMS_BIN/llmsd" "$@"; }
llms() { "$LLMS_BIN/llms" "$@"; }
nvidia-smi --query-gpu=index,name,driver_version,memory.used,power.draw --format=csv
export LLMSD_LOG=info
S=/tmp/l.sock
"$LLMS_BIN/llmsd" --socket $S --state-dir /tmp/st --gpu nvml 2> $OUT/llmsd.log &
D=$!
for i in $(seq 100); do [ -S $S ] && break; sleep 0.1; done
echo "== gpus (idle)"; llms --socket $S gpus
python3 -c "
import torch, time, os
x = torch.empty(2 * 1024**3, dtype=torch.uint8, device='cuda')
print('torch pid', os.getpid(), 'holds 2 GiB', flush=True)
time.sleep(30)" &
P=$!
sleep 10
echo "== gpus (torch pid $P holding 2 GiB)"; llms --socket $S gpus; llms --socket $S gpus --json > $OUT/gpus.json
a=$(awk '{print $14+$15}' /proc/$D/stat); sleep 20; b=$(awk '{print $14+$15}' /proc/$D/stat)
echo "== llmsd idle: CPU ticks over 20 s: $((b-a)) (CLK_TCK $(getconf CLK_TCK)); $(grep VmRSS /proc/$D/status)"
wait $P
cat > ref.toml <<EOF
name = "ref-on-gpu"
[[engine]]
kind = "reference"
args = ["--ttft-ms", "20", "--itl-ms", "5"]
[load]
concurrency = [1, 8]
requests = 32
output_tokens = 64
EOF
llms --socket $S submit ref.toml
for i in $(seq 120); do llms --socket $S jobs | grep -q 'done\|failed' && break; sleep 1; done
llms --socket $S jobs
llms --socket $S results 1
llms --socket $S results 1 --json > $OUT/results.json
python3 -c "
import json; r = json.load(open('$OUT/results.json'))
for p in r['points']: print(p['load'], json.dumps(p.get('gpu')))"
kill -TERM $D; wait $D; echo "llmsd exit $?"
tail -5 $OUT/llmsd.log

# ---- 3. an engine that holds GPU memory
S=/tmp/l2.sock
cat > cfg.toml <<EOF
engine_grace_s = 3
[engines.reference]
command = ["python3", "$ROOT/bench/gpu/gpu_engine.py"]
EOF
"$LLMS_BIN/llmsd" --config cfg.toml --socket $S --state-dir /tmp/st2 --gpu nvml 2> $OUT/llmsd2.log &
D=$!
for i in $(seq 100); do [ -S $S ] && break; sleep 0.1; done
cat > job.toml <<EOF
name = "gpu-holder"
[[engine]]
kind = "reference"
name = "polite"
args = ["--ttft-ms", "20", "--itl-ms", "5"]
[[engine]]
kind = "reference"
name = "deaf"
args = ["--deaf", "--ttft-ms", "20", "--itl-ms", "5"]
[load]
concurrency = [4]
requests = 16
output_tokens = 64
EOF
llms --socket $S submit job.toml
for i in $(seq 180); do llms --socket $S jobs | grep -q 'done\|failed' && break; sleep 1; done
llms --socket $S jobs
llms --socket $S results 1 --json > $OUT/results2.json
python3 -c "
import json; r = json.load(open('$OUT/results2.json'))
for p in r['points']: print(p['engine'], p['completed'], json.dumps(p.get('gpu')))
print('failed', r.get('failed'))"
echo "== logs polite"; llms --socket $S logs polite -n 8
echo "== logs deaf"; llms --socket $S logs deaf -n 8
echo "== gpus after"; llms --socket $S gpus
nvidia-smi --query-compute-apps=pid,used_memory --format=csv
kill -TERM $D; wait $D; echo "llmsd exit $?"
grep -i 'warn\|error' $OUT/llmsd2.log | tail -5
