#!/usr/bin/env bash
# The demo: a concurrency sweep (1 4 8 16 32) measured by `llmsd bench` on the engines this
# machine has without a GPU: the built-in reference engine (a continuous-batching performance
# model) and a real llama.cpp server (built on first use by scripts/llamacpp.sh, ~5 min) with a
# small generated qwen2 model. Prints one table per engine and writes the JSON next to it.
# Everything it starts is stopped when it ends (or on Ctrl-C).
#
# usage: scripts/demo.sh [OUTDIR]        (default: a new temp dir)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=${1:-$(mktemp -d -t llms-demo.XXXXXX)}
mkdir -p "$out"
sweep=(--concurrency 1,4,8,16,32 --requests 64 --output-tokens 64 --warmup 4 --endpoint chat)

echo "== building llmsd (release)" >&2
cargo build --release -q -p llmsd
llmsd=$PWD/target/release/llmsd
echo "== llama.cpp and its model (cached under ~/.cache/llms)" >&2
eval "$(scripts/llamacpp.sh)"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_health() {
    for _ in $(seq 1 600); do
        curl -fs "$1/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "demo: $1 did not become healthy" >&2; return 1
}

ref_port=$(free_port)
"$llmsd" reference-engine --port "$ref_port" --decode-ms 8 --decode-ms-per-seq 0.25 \
    --prefill-ms-per-token 0.01 --max-running 16 >"$out/reference.log" 2>&1 &
pids+=($!)
llama_port=$(free_port)
"$LLMS_LLAMA_SERVER" -m "$LLMS_TINY_GGUF" --alias qwen2-tiny --host 127.0.0.1 --port "$llama_port" \
    --parallel 32 --ctx-size 32768 --threads 1 --metrics --no-webui >"$out/llamacpp.log" 2>&1 &
pids+=($!)
wait_health "http://127.0.0.1:$ref_port"
wait_health "http://127.0.0.1:$llama_port"

echo
echo "== reference engine (performance model: 8 ms + 0.25 ms per running request per step, 16 slots)"
"$llmsd" bench --url "http://127.0.0.1:$ref_port" "${sweep[@]}" --json "$out/reference.json"
echo
echo "== llama.cpp ($(basename "$LLMS_TINY_GGUF"), CPU, 1 thread, 32 slots)"
"$llmsd" bench --url "http://127.0.0.1:$llama_port" "${sweep[@]}" --json "$out/llamacpp.json"
echo
echo "results: $out/reference.json $out/llamacpp.json"
