//! llm-d's Benchmark Report, schema version 0.2 (`llmdbenchmark/analysis/benchmark_report/`
//! of llm-d-benchmark): one report per load point, as llm-d writes one per stage. All the
//! reports of a job share `run.eid`; `scenario.load.standardized.stage` is the point's index.
//!
//! Units are the schema's strings: `ms` for TTFT and request latency, `ms/token` for TPOT
//! and ITL, `count` for lengths, `tokens/s` and `queries/s` for rates, `percent` and `Watts`
//! for the GPU. Statistics carry what the point measured (`mean`, `p50` to `p99`, `max`);
//! `stddev` and `min` only where the raw records are at hand (`--raw`). Only keys the schema
//! defines are written, except under `results.observability`, which the schema leaves open:
//! llms's flags go there as `llms_flags`.

use super::{JobMeta, stats};
use crate::output::JobResults;
use llms_shared::{LatencyStats, Load, PointResult, ResultRow};
use serde_json::{Map, Value, json};

/// The schema version written.
pub const VERSION: &str = "0.2";

/// One report per point with figures, in point order.
pub fn write(r: &JobResults, meta: &JobMeta) -> Value {
    Value::Array(
        r.rows
            .iter()
            .filter_map(|row| row.point.as_ref().map(|p| report(r.job, row, p, meta)))
            .collect(),
    )
}

/// FNV-1a, 64 bits: a stable id from text (not a secret).
fn fnv(text: &str, seed: u64) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325 ^ seed, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A UUID (version 8: derived by us) from text, stable for the same text.
fn uuid(text: &str) -> String {
    let (a, b) = (fnv(text, 1), fnv(text, 2));
    let a = (a & !0xf000) | 0x8000; // version 8 in bits 48..52
    let b = (b & !(0b11 << 62)) | (0b10 << 62); // RFC 9562 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// Unix ms as RFC 3339 in UTC (`2026-12-05T22:30:00Z`).
fn rfc3339(unix_ms: u64) -> String {
    format!("{}Z", crate::output::utc_time(unix_ms).replace(' ', "T"))
}

fn report(job: u64, row: &ResultRow, p: &PointResult, meta: &JobMeta) -> Value {
    let start = row
        .finished_ms
        .saturating_sub((p.duration_s * 1000.0).round() as u64);
    let model = meta.models.get(&row.engine).cloned();
    let version = row
        .engine_version
        .clone()
        .unwrap_or_else(|| "unknown".into());
    let gpus = row.gpu.as_ref().map_or(&[][..], |g| &g.gpus[..]);
    let accelerator = gpus
        .iter()
        .find_map(|g| g.name.clone())
        .map_or("cpu".into(), |n| n.replace(' ', "-"));
    let component = json!({
        "metadata": {
            "schema_version": "0.0.1",
            "label": row.engine,
            "cfg_id": format!("{:016x}", fnv(&format!("{}|{}|{version}|{model:?}", row.engine, row.kind), 0)),
        },
        "standardized": {
            "kind": "inference_engine",
            "tool": row.kind,
            "tool_version": version,
            "role": "replica",
            "replicas": 1,
            "model": {"name": model.clone().unwrap_or_else(|| "unknown".into())},
            "accelerator": {"model": accelerator, "count": gpus.len(), "parallelism": {}},
        },
        "native": {},
    });
    json!({
        "version": VERSION,
        "run": {
            "uid": uuid(&format!("llms job {job} point {} at {}", row.index, row.finished_ms)),
            "eid": uuid(&format!("llms job {job}")),
            "time": {
                "start": rfc3339(start),
                "end": rfc3339(row.finished_ms),
                "duration": format!("PT{}S", p.duration_s),
            },
            "description": format!("llms job {job}, point {}: {} on {}", row.index, p.load, row.engine),
        },
        "scenario": {"stack": [component], "load": load(row, p)},
        "results": {
            "request_performance": {"aggregate": aggregate(p)},
            "observability": observability(row, p),
        },
    })
}

/// `tokens` per completed request of `p` (0 when none completed).
fn per_request(p: &PointResult, tokens: u64) -> f64 {
    match p.completed {
        0 => 0.0,
        n => tokens as f64 / n as f64,
    }
}

fn seq_len(fixed: Option<u32>, mean: f64) -> Value {
    match fixed {
        Some(n) => json!({"distribution": "fixed", "value": n}),
        None => json!({"distribution": "other", "value": mean}),
    }
}

fn load(row: &ResultRow, p: &PointResult) -> Value {
    let w = row.workload.as_ref();
    let source = match w {
        Some(w) if w.input_tokens.is_some() => "random",
        Some(_) => "sampled",
        None => "unknown",
    };
    let mut s = Map::new();
    s.insert("tool".into(), json!("llms"));
    s.insert("tool_version".into(), json!(env!("CARGO_PKG_VERSION")));
    s.insert("parallelism".into(), json!(1));
    s.insert("source".into(), json!(source));
    s.insert("stage".into(), json!(row.index));
    s.insert(
        "input_seq_len".into(),
        seq_len(p.input_tokens_target, per_request(p, p.input_tokens)),
    );
    let fixed_out = p
        .output_tokens_requested
        .filter(|_| w.is_none_or(|w| w.output_dist.is_none()));
    s.insert(
        "output_seq_len".into(),
        seq_len(fixed_out, per_request(p, p.output_tokens)),
    );
    match p.load {
        Load::Concurrency { concurrency: c } | Load::Batch { batch: c } => {
            s.insert("concurrency".into(), json!(c));
        }
        Load::Rate { rate, .. } if rate > 0.0 => {
            s.insert("rate_qps".into(), json!(rate));
        }
        _ => {}
    }
    if let Some(turns) = w.filter(|w| w.kind == "conversation").and_then(|w| w.turns) {
        s.insert(
            "multi_turn".into(),
            json!({"enabled": true, "max_turns": {"distribution": "fixed", "value": turns}}),
        );
    }
    let mut args = Map::new();
    args.insert("load".into(), json!(p.load.to_string()));
    if let Some(w) = w {
        args.insert("workload".into(), json!(w.kind));
    }
    json!({"metadata": {"schema_version": "0.0.1"}, "standardized": s, "native": {"args": args}})
}

/// A Statistics object from a point's latency figures (ms), with `stddev` and `min` from
/// the records' values (seconds) where there are any.
fn statistics(units: &str, s: &LatencyStats, values: &[f64]) -> Value {
    let mut m = json!({"units": units, "mean": s.mean});
    // A latency of exactly 0 is one the source never gave (an imported vLLM run without that
    // percentile): left out rather than written as a measurement.
    let known = [
        ("p50", s.p50),
        ("p90", s.p90),
        ("p95", s.p95),
        ("p99", s.p99),
        ("max", s.max),
    ];
    for (k, v) in known {
        if v > 0.0 {
            m[k] = json!(v);
        }
    }
    if !values.is_empty() {
        m["stddev"] = json!(stats::std_dev(values) * 1e3);
        m["min"] = json!(stats::min(values) * 1e3);
    }
    m
}

fn aggregate(p: &PointResult) -> Value {
    let recs = &p.requests;
    let rate = |v: f64, units: &str| json!({"units": units, "mean": v});
    let input_rate = match p.duration_s {
        d if d > 0.0 => p.input_tokens as f64 / d,
        _ => 0.0,
    };
    let mut latency = json!({
        "time_to_first_token": statistics("ms", &p.ttft_ms, &stats::ttfts(recs)),
        "time_per_output_token": statistics("ms/token", &p.tpot_ms, &stats::tpots(recs)),
        "inter_token_latency": statistics("ms/token", &p.itl_ms, &stats::itls(recs)),
    });
    // An imported run that never measured it (vLLM without e2el) has none to report: its
    // 0 ms is no figure.
    if !p.flagged("e2e_missing") {
        latency["request_latency"] = statistics("ms", &p.e2e_ms, &stats::e2es(recs));
    }
    json!({
        "requests": {
            "total": p.completed + p.failed,
            "failures": p.failed,
            "input_length": {"units": "count", "mean": per_request(p, p.input_tokens)},
            "output_length": {"units": "count", "mean": per_request(p, p.output_tokens)},
        },
        "latency": latency,
        "throughput": {
            "input_token_rate": rate(input_rate, "tokens/s"),
            "output_token_rate": rate(p.output_throughput, "tokens/s"),
            "total_token_rate": rate(p.total_throughput, "tokens/s"),
            "request_rate": rate(p.request_throughput, "queries/s"),
        },
    })
}

fn observability(row: &ResultRow, p: &PointResult) -> Value {
    let mut o = json!({"llms_flags": p.flags});
    let gpus = row.gpu.as_ref().map_or(&[][..], |g| &g.gpus[..]);
    let mean = |f: fn(&llms_shared::GpuPointStats) -> Option<f64>| {
        let v: Vec<f64> = gpus.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let mut agg = Map::new();
    if let Some(u) = mean(|g| g.mean_util_pct) {
        agg.insert(
            "gpu_utilization".into(),
            json!({"units": "percent", "mean": u}),
        );
    }
    let powers: Vec<f64> = gpus.iter().filter_map(|g| g.mean_power_w).collect();
    if !powers.is_empty() {
        // Over the point's GPUs that read power: their sum.
        let total: f64 = powers.iter().sum();
        agg.insert(
            "power_consumption".into(),
            json!({"units": "Watts", "mean": total}),
        );
    }
    if !agg.is_empty() {
        o["components"] = json!([{"component_label": row.engine, "aggregate": agg}]);
    }
    o
}

#[cfg(test)]
#[path = "llmd_tests.rs"]
mod tests;
