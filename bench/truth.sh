#!/usr/bin/env bash
# Measurement truth on this machine's CPUs, with figures: what each fix of issue 11 changes.
# With OLD_LLMSD (an llmsd built before the fixes) every check runs with it too, beside the
# current one; without, only the current one runs.
#
#   bench/truth.sh [OLD_LLMSD]
#
# 1. Prefix-cache reuse: the reference engine's continuous-batching model (prefill 0.05 ms per
#    uncached token, its vLLM-like block cache on) and a real llama.cpp server (the tiny qwen2
#    model, 8 slots), each started fresh for each client; three points (concurrency 1 4 8) of
#    8 warm-up + 64 requests over the default 72 prompts. Prints TTFT p50 per point and the
#    prompt tokens the engine served from its cache (its own counter).
# 2. Empty chunks: the reference engine imitating vLLM with one held-back token (an empty
#    chunk) every 100 tokens, 5 ms between tokens, 128 tokens, 4 in flight: ITL p50/p99 and
#    the gaps counted against the engine's own histogram.
# 3. llama.cpp's slot selection: 32 slots, 8 and 16 in flight, --slot-prompt-similarity 0.1
#    (the default) against 0: output tokens/s.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OLD=${1:-}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
(cd "$ROOT" && cargo build --release --locked -p llmsd >&2) || exit 1
NEW=$CARGO_TARGET_DIR/release/llmsd
eval "$("$ROOT/scripts/llamacpp.sh")"
TMP=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
PORT=18431

clients() { echo new; [ -n "$OLD" ] && echo old; }
bin() { [ "$1" = old ] && echo "$OLD" || echo "$NEW"; }

# serve KIND ARGS...: a fresh server on $PORT (reference engine from the current build, or
# llama-server), ready.
serve() {
    kill $(jobs -p) 2>/dev/null; wait 2>/dev/null
    local kind=$1; shift
    case $kind in
        ref) "$NEW" reference-engine --port $PORT "$@" > "$TMP/server.log" 2>&1 & ;;
        llama) "$LLMS_LLAMA_SERVER" -m "$LLMS_TINY_GGUF" --host 127.0.0.1 --port $PORT --metrics \
                   --no-webui --threads 1 "$@" > "$TMP/server.log" 2>&1 & ;;
    esac
    for _ in $(seq 200); do curl -sf "localhost:$PORT/health" >/dev/null && return; sleep 0.1; done
    echo "server did not start" >&2; exit 1
}
cached() {
    curl -s "localhost:$PORT/metrics" | awk '
        /^(llmsref|llamacpp|vllm):(prompt_tokens_cached_total|prefix_cache_hits_total)/ {c += $2}
        /^(llmsref|vllm):prompt_tokens_total|^llamacpp:prompt_tokens(_cached)?_total/ {p += $2}
        END {printf "%d of %d prompt tokens from the cache (%.1f %%)", c, p, p ? 100*c/p : 0}'
}
bench() { # CLIENT NAME ARGS...
    local who=$1 name=$2; shift 2
    "$(bin "$who")" bench --url "http://127.0.0.1:$PORT" --json "$TMP/$name.json" "$@" > /dev/null 2>&1
}
fig() { # NAME PYTHON-EXPR-OVER-p
    python3 -c "
import json,sys
for p in json.load(open('$TMP/$1.json'))['points']:
    print('   ', $2)"
}

echo "== 1. prefix-cache reuse over three points (TTFT p50 ms per point; the engine's hits)"
for engine in "ref --decode-ms 2 --decode-ms-per-seq 0.1 --prefill-ms-per-token 0.05 --max-running 64" \
              "llama --parallel 8 --ctx-size 32768 --slot-prompt-similarity 0"; do
    for who in $(clients); do
        serve $engine
        bench "$who" "c-$who" --concurrency 1,4,8 --requests 64 --warmup 8 --output-tokens 16
        echo "  ${engine%% *} $who: $(cached)"
        fig "c-$who" "'c=%s TTFT p50 %.2f ms, flags %s' % (p['load'].get('concurrency'), p['ttft_ms']['p50'], ','.join(p['flags']) or '-')"
    done
done

echo "== 2. vLLM's empty chunks (5 ms between tokens; one held back every 100)"
for who in $(clients); do
    serve ref --imitate vllm --ttft-ms 20 --itl-ms 5 --held-back-every 100
    bench "$who" "e-$who" --concurrency 4 --requests 64 --output-tokens 128
    fig "e-$who" "'$who: ITL p50 %.2f p99 %.2f max %.2f ms, %d gaps; the engine: %s' % (p['itl_ms']['p50'], p['itl_ms']['p99'], p['itl_ms']['max'], p['itl_ms']['count'], (p['server'] or {}).get('itl', {}) and '%d gaps' % p['server']['itl']['engine_gaps'] or 'not read')"
done

echo "== 3. llama.cpp's slot selection (32 slots; output tok/s at 8 and 16 in flight)"
for sps in 0.1 0; do
    serve llama --parallel 32 --ctx-size 65536 --slot-prompt-similarity $sps
    bench new "s-$sps" --concurrency 8,16 --requests 64 --warmup 8 --output-tokens 64
    fig "s-$sps" "'--slot-prompt-similarity $sps c=%s: %.1f tok/s, ITL p50 %.2f ms' % (p['load']['concurrency'], p['output_throughput'], p['itl_ms']['p50'])"
done
