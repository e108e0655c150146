"""Imitation of `python3 -m sglang.launch_server` (SGLang 0.5.15): the flags of ENGINES.md 3.1
(argparse, store_true booleans), the model looked up as transformers does, then an engine that
refuses connections while loading, answers /health 503 while it warms up (/v1/models already
200), serves SGLang's chunk shapes, has /metrics only with --enable-metrics, drains in-flight
requests on SIGTERM without limit, and starts scheduler + detokenizer helpers that die with it."""
import argparse
import os
import sys

import llms_imitation as im


def main():
    im.record("sglang.launch_server", sys.argv[1:])
    p = argparse.ArgumentParser(prog="launch_server.py")
    p.add_argument("--model-path", "--model", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=30000)
    p.add_argument("--served-model-name")
    p.add_argument("--tokenizer-path")
    p.add_argument("--dtype", choices=im.DTYPES, default="auto")
    p.add_argument("--max-running-requests", type=im.positive)
    p.add_argument("--max-queued-requests", type=im.positive)
    p.add_argument("--max-total-tokens", type=im.positive)
    p.add_argument("--chunked-prefill-size", type=int)
    p.add_argument("--context-length", type=im.positive)
    p.add_argument("--mem-fraction-static", type=im.fraction)
    p.add_argument("--tp-size", "--tensor-parallel-size", type=im.positive, default=1)
    p.add_argument("--dp-size", type=im.positive, default=1)
    p.add_argument("--disable-radix-cache", action="store_true")
    p.add_argument("--random-seed", type=int)
    p.add_argument("--api-key")
    p.add_argument("--log-level", default="info")
    p.add_argument("--log-requests", action="store_true")
    p.add_argument("--enable-metrics", action="store_true")
    p.add_argument("--enable-cache-report", action="store_true")
    p.add_argument("--skip-server-warmup", action="store_true")
    p.add_argument("--stream-interval", type=im.positive, default=1)
    p.add_argument("--trust-remote-code", action="store_true")
    a = p.parse_args()
    model = im.hf_dir(a.model_path)
    print(f"[sglang] server_args={vars(a)}", file=sys.stderr)
    extra = []
    if not a.enable_metrics:
        extra.append("--metrics-off")
    if a.enable_cache_report:
        extra.append("--cache-report")
    if not a.skip_server_warmup:
        extra += ["--warmup-ms", os.environ.get("LLMS_IMITATION_WARMUP_MS", "300")]
    im.become("sglang", a.host, a.port, a.served_model_name or model, extra)


if __name__ == "__main__":
    main()
