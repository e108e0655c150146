#!/usr/bin/env bash
# The demo (README's first command): builds llmsd and llms (release), then `llms demo`: a
# private llmsd on a temporary socket and state directory, llama.cpp and a small generated
# qwen2 model (built on first use by scripts/llamacpp.sh, about 5 minutes, cached under
# ~/.cache/llms), sweeps/demo.toml (llama.cpp and the reference engine at concurrency
# 1 4 8 16 32), sweeps/demo-conversation.toml (conversations of 4 turns) and
# sweeps/demo-capacity.toml (a capacity search) submitted, and the live dashboard. Quitting
# (q) stops everything it started and keeps the results in ./llms-demo-results-UNIXTIME/.
#
# usage: scripts/demo.sh [--no-dashboard] [--sweep FILE]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "demo: building llmsd and llms (release)" >&2
cargo build --release --locked -q -p llmsd -p llms
exec "${CARGO_TARGET_DIR:-target}/release/llms" demo "$@"
