"""Shared by the imitation engines: check what ENGINES.md says the real engine checks, then
become `llmsd reference-engine --imitate ENGINE` (exec, so the pid and process group stay).

Knobs, from the environment the daemon passes on:
  LLMS_IMITATION_LLMSD    the llmsd binary (required)
  LLMS_IMITATION_LOAD_MS  how long the "model" loads (default 300)
  LLMS_IMITATION_ARGS     more reference-engine options, e.g. "--ttft-ms 5 --itl-ms 1"
  LLMS_IMITATION_LOG      a file that gets one JSON line per invocation (tool, argv)
"""
import argparse
import json
import os
import shlex
import sys


def record(tool, argv):
    log = os.environ.get("LLMS_IMITATION_LOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"tool": tool, "argv": argv, "pid": os.getpid()}) + "\n")


def hf_dir(path, what="model"):
    """A Hugging Face checkpoint directory, as transformers finds one (no hub here)."""
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, "config.json")):
        return path
    print("Traceback (most recent call last):", file=sys.stderr)
    print(
        f"OSError: {path} is not a local folder and is not a valid model identifier listed on "
        "'https://huggingface.co/models'",
        file=sys.stderr,
    )
    sys.exit(1)


def fraction(s):
    v = float(s)
    if not 0.0 < v <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {s}")
    return v


def positive(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {s}")
    return v


DTYPES = ["auto", "half", "float16", "bfloat16", "float", "float32"]


def become(dialect, host, port, model, extra=()):
    llmsd = os.environ.get("LLMS_IMITATION_LLMSD")
    if not llmsd:
        print("imitation: LLMS_IMITATION_LLMSD is not set", file=sys.stderr)
        sys.exit(1)
    args = [
        llmsd, "reference-engine", "--imitate", dialect, "--host", host, "--port", str(port),
        "--model", model, "--startup-ms", os.environ.get("LLMS_IMITATION_LOAD_MS", "300"),
    ]
    args += list(extra) + shlex.split(os.environ.get("LLMS_IMITATION_ARGS", ""))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(llmsd, args)
