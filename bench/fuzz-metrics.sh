#!/usr/bin/env bash
# Fuzz the Prometheus text parser longer than the test suite does: every real /metrics
# capture in daemon/tests/fixtures is mutated LLMS_FUZZ_ITERS times (default 20000 each),
# release build. Prints the mutants tried and the time taken; fails on the first broken
# property (see daemon/tests/metrics_fuzz.rs for them).
set -euo pipefail
cd "$(dirname "$0")/.."
export LLMS_FUZZ_ITERS="${LLMS_FUZZ_ITERS:-20000}"
t0=$(date +%s)
cargo test --release -q -p llmsd --test metrics_fuzz -- --test-threads 1
echo "fuzz-metrics: $((LLMS_FUZZ_ITERS * 3)) mutants in $(( $(date +%s) - t0 )) s"
