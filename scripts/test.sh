#!/usr/bin/env bash
# The test command: formatting, lints, and every test of the workspace, including the ones
# against a real llama.cpp server (built on first use by scripts/llamacpp.sh, ~5 min, cached
# under ~/.cache/llms).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== llama.cpp and its model" >&2
scripts/llamacpp.sh >/dev/null

if cargo fmt --version >/dev/null 2>&1; then
    echo "== cargo fmt --check" >&2
    cargo fmt --all --check
else
    echo "warning: rustfmt is not installed; formatting not checked" >&2
fi
if cargo clippy --version >/dev/null 2>&1; then
    echo "== cargo clippy" >&2
    cargo clippy --workspace --all-targets --locked -- -D warnings
else
    echo "warning: clippy is not installed; lints not checked" >&2
fi
echo "== systemd unit" >&2
scripts/unit-check.sh
echo "== cargo test" >&2
cargo test --workspace --locked
