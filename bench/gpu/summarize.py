#!/usr/bin/env python3
"""Summarize GPU sweep results (`llms results JOB --json` files) as one Markdown table per the
issue: engine, concurrency, output tok/s, TTFT p50/p99, ITL p50/p99, peak memory (NVML, and
the engine's own processes), tokens per joule; then the cross-checks: output tokens counted by
the client vs the engine's own counter over the same points, and the engine versions, GPUs
and driver.

usage: summarize.py results-*.json > summary.md
"""
import json
import sys

GIB = 1 << 30


def fmt(x, nd=1):
    return "-" if x is None else f"{x:,.{nd}f}"


def main(paths):
    rows, checks, hw = [], [], {}
    for p in paths:
        r = json.load(open(p))
        for pt in r["points"]:
            c = pt["load"].get("concurrency")
            g = pt.get("gpu") or {}
            gpus = g.get("gpus") or [{}]
            peak = max((x.get("peak_mem_used") or 0 for x in gpus), default=0) or None
            eng = max((x.get("engine_mem_peak") or 0 for x in gpus), default=0) or None
            rows.append([
                pt["engine"], c, fmt(pt["output_throughput"], 0),
                fmt(pt["ttft_ms"]["p50"]), fmt(pt["ttft_ms"]["p99"]),
                fmt(pt["itl_ms"]["p50"], 2), fmt(pt["itl_ms"]["p99"], 2),
                fmt(peak / GIB if peak else None), fmt(eng / GIB if eng else None),
                fmt(g.get("tokens_per_joule"), 2), f'{pt["completed"]}/{pt["completed"] + pt["failed"]}',
            ])
            s = pt.get("server") or {}
            if s:
                client = pt["output_tokens"]
                server = s.get("output_tokens")
                diff = None if not server else 100.0 * (client - server) / server
                checks.append([
                    pt["engine"], c, s.get("metric", "-"), f"{client:,}",
                    "-" if server is None else f"{server:,.0f}",
                    "-" if diff is None else f"{diff:+.2f} %",
                    fmt(server / pt["duration_s"] if server else None, 0),
                    fmt(pt["output_throughput"], 0),
                ])
            key = pt["engine"]
            hw.setdefault(key, [pt.get("kind"), pt.get("engine_version"),
                                ", ".join(sorted({x.get("name") or "?" for x in gpus})),
                                g.get("driver")])
        for f in r.get("failed", []):
            rows.append([f["engine"], "-", "FAILED: " + f["error"].split("\n")[0][:80]] + [""] * 8)

    def table(headers, body):
        out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        out += ["| " + " | ".join(str(x) for x in b) + " |" for b in body]
        return "\n".join(out)

    print(table(["engine", "concurrency", "output tok/s", "TTFT p50 ms", "TTFT p99 ms",
                 "ITL p50 ms", "ITL p99 ms", "peak GPU mem GiB", "engine procs GiB",
                 "tokens/J", "completed"], rows))
    print()
    print("Output tokens, client (usage) vs the engine's own counter over the same point, and the "
          "throughput each gives over the point's duration:\n")
    print(table(["engine", "concurrency", "engine metric", "client tokens", "engine tokens",
                 "difference", "tok/s by engine counter", "tok/s by llmsd"], checks))
    print()
    print(table(["engine", "kind", "version", "GPU", "driver"],
                [[k] + [v or "-" for v in vals] for k, vals in hw.items()]))


if __name__ == "__main__":
    main(sys.argv[1:])
