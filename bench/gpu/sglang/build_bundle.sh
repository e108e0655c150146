#!/bin/bash
# Build, on this CPU machine, what real SGLang 0.5.15 needs on the GPU machine (image 'cuda':
# Python 3.12, torch 2.11.0+cu130, nvcc 13.0, no registry) as one xz'd tar split into parts of
# 62,000,000 B (< 60 MiB), one part per transfer (64 MiB per transfer with the working tree):
#   $W/xfer1 .. $W/xferN (the last one also holds SHA256SUMS)
# W defaults to .gpu/sglang in the current git checkout (add .gpu/ to .gitignore).
# The tar holds site/ (a --target install of the wheels the image lacks) and model/ (config +
# tokenizer of Qwen2.5-3B-Instruct, reused from the vLLM bundle; weights are made on the GPU).
# Needs: PyPI, a CPython 3.12 here ($PY312), xz, strip, and the vLLM bundle (for model/).
# Takes ~9 min on a 2-core machine, ~7.5 of it xz.
set -euo pipefail
ROOT=$(git rev-parse --show-toplevel); T=$(cd "$(dirname "$0")" && pwd); W=${W:-$ROOT/.gpu/sglang}
PY312=${PY312:-$(PYENV_VERSION=3.12.1 pyenv which python3.12 2>/dev/null || command -v python3.12)}
VLLM=${VLLM:-$ROOT/.gpu/vllm}
mkdir -p $W && cd $W
. "$T/../carry.sh"

# 1-2. sglang 0.5.15's closure as of its release (wheels uploaded 2026-07-10), less what the
#    image has. Skip flashinfer-cubin (448 MB; only for downloaded trtllm-gen / cutlass kernels,
#    not used by a dense bf16 model on sm90) and the other heavy optional kernels/compilers;
#    sglang imports them lazily ("Ignore import error when loading
#    sglang.srt.models.deepseek_v2: No module named 'cutlass'" etc. is logged and harmless).
carry sglang==0.5.15 2026-07-11T00:00:00Z flashinfer-cubin tilelang nvidia-cudnn-frontend \
    nvidia-cutlass-dsl nvidia-cutlass-dsl-libs-base nvidia-cutlass-dsl-libs-cu13 quack-kernels \
    cuda-tile flash-attn-4 tokenspeed-mla tokenspeed-triton z3-solver nvidia-cuda-nvcc \
    nvidia-cuda-crt nvidia-nvvm nvidia-cuda-tileiras nvidia-mathdx torch-c-dlpack-ext py-spy

# 3. Install as the device will see it; trim only what sm90 (H100/H200, cc 9.0) never loads.
rm -rf bundle/site && mkdir -p bundle
$PY312 -m pip install -q --no-index --no-deps --no-compile --target bundle/site whl/*.whl
S=bundle/site
# sgl_kernel/load_utils.py loads sm90/common_ops when cc == 90, sm100/ otherwise.
rm -rf $S/bin $S/sgl_kernel/sm100 $S/xgrammar/lib/libxgrammar.a
strip --strip-debug $S/xgrammar/*.so $S/llguidance/*.so
find $S -name __pycache__ -type d -prune -exec rm -rf {} +

# 4. Model dir without weights: reuse the vLLM bundle's (config + GGUF-derived tokenizer).
rm -rf bundle/model
if [ -d "$VLLM/bundle/model" ]; then cp -r "$VLLM/bundle/model" bundle/model
else cat $VLLM/xfer1/bundle.tar.xz.part-* $VLLM/xfer2/bundle.tar.xz.part-* | xz -d | tar -x -C bundle model; fi

# 5. One xz'd tar, split into < 60 MiB parts, one folder per transfer.
tar -C bundle -cf - site model | xz -9 -T2 > bundle.tar.xz
rm -rf xfer* parts && mkdir parts
split -b 62000000 -d -a 1 bundle.tar.xz parts/bundle.tar.xz.part-
(cd parts && sha256sum bundle.tar.xz.part-* > SHA256SUMS)
n=0; for f in parts/bundle.tar.xz.part-*; do n=$((n+1)); mkdir -p xfer$n; mv $f xfer$n/; done
mv parts/SHA256SUMS xfer$n/ && rmdir parts
ls -l xfer*; du -sh bundle/site bundle.tar.xz
