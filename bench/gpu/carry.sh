# Sourced by bench/gpu/{vllm,sglang}/build_bundle.sh: which wheels of a release's dependency
# closure the GPU image lacks, downloaded for that image (CPython 3.12, manylinux x86_64,
# no registry there). The image's own packages are listed in bench/gpu/vllm/image-packages.txt.

GPU_RECIPES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The device's platform, for `pip download`.
PLAT=(--only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none)
for p in 35 34 31 28 27 24 17; do PLAT+=(--platform "manylinux_2_${p}_x86_64"); done
PLAT+=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform linux_x86_64 --platform any)

# carry SPEC BEFORE HEAVY...
# In the current directory: resolve SPEC's closure as PyPI had it before BEFORE (an RFC 3339
# time; resolved.txt), keep what the image lacks, less the HEAVY names (optional kernels and
# compilers the engine imports lazily), carrying the release-era transformers, tokenizers and
# huggingface-hub over the image's newer ones (carry-req.txt), and download those wheels into
# whl/ (listed in wheels.txt, by size in wheel-sizes.txt).
carry() {
    local spec=$1 before=$2; shift 2
    python3 -m pip install -q uv packaging
    echo "$spec" > req.in
    uv pip compile req.in --python-version 3.12 --python-platform x86_64-manylinux_2_35 \
        --exclude-newer "$before" --no-header --no-annotate -o resolved.txt
    python3 - "$GPU_RECIPES/vllm/image-packages.txt" "$@" <<'PYEOF' > carry-req.txt
import sys
from packaging.utils import canonicalize_name as c
image = {c(l.strip()) for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")}
heavy = {c(n) for n in sys.argv[2:]}
override = {c(n) for n in ("transformers", "tokenizers", "huggingface-hub")}
for l in open("resolved.txt"):
    l = l.strip()
    if not l or l.startswith("#"): continue
    n = c(l.split("==")[0])
    if n in heavy or (n in image and n not in override): continue
    print(l)
PYEOF
    rm -rf whl && mkdir whl
    python3 -m pip download -q --no-deps "${PLAT[@]}" -d whl -r carry-req.txt
    ls whl > wheels.txt; du -b whl/*.whl | sort -rn > wheel-sizes.txt
}
