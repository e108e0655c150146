//! `llms compare --json`: the jobs, every point's figures, and each searched series'
//! capacity.

use super::table::Jobs;
use crate::capacity::{Capacity, capacities};
use crate::compare::CmpRow;
use serde_json::{Value, json};

/// The comparison as JSON: `{"jobs":[{id,name,state}], "rows":[{job, series, kind, mode, x,
/// error, flags, failed_requests, throughput, req_per_s, goodput (requests/s that met
/// every objective, `null` where none was given), ttft_p50, ttft_p99, itl_p50,
/// itl_p99, peak_mem_gib, tokens_per_joule, cache_hit_pct, steady_throughput, per_user,
/// per_gpu, gpus, role, on_frontier, search_pass}], "capacity":[...]}`, `null` where a figure is missing.
/// `throughput` is over the whole point, `steady_throughput` over its steady window;
/// `per_user` is 1000 / TPOT mean, `per_gpu` is `throughput` over `gpus` (1 when 0).
pub fn json(jobs: &Jobs, rows: &[CmpRow]) -> Value {
    let list: Vec<Value> = jobs
        .iter()
        .map(|(j, _)| {
            json!({"id": j.id, "name": j.name, "state": j.state.as_str(), "imported": j.imported})
        })
        .collect();
    let rows: Vec<Value> = rows.iter().map(row).collect();
    let caps: Vec<Value> = capacities(jobs).iter().map(capacity).collect();
    json!({"jobs": list, "rows": rows, "capacity": caps})
}

fn row(r: &CmpRow) -> Value {
    json!({
        "job": r.job,
        "series": r.series,
        "kind": r.kind,
        "mode": r.mode,
        "x": r.x,
        "error": r.error,
        "flags": r.flags,
        "failed_requests": r.failed_requests,
        "throughput": r.throughput,
        "req_per_s": r.req_per_s,
        "goodput": r.goodput,
        "ttft_p50": r.ttft_p50,
        "ttft_p99": r.ttft_p99,
        "itl_p50": r.itl_p50,
        "itl_p99": r.itl_p99,
        "peak_mem_gib": r.peak_mem_gib,
        "tokens_per_joule": r.tokens_per_joule,
        "cache_hit_pct": r.cache_hit_pct,
        "steady_throughput": r.steady_throughput,
        "per_user": r.per_user,
        "per_gpu": r.per_gpu,
        "gpus": r.gpus,
        "role": r.role,
        "on_frontier": r.on_frontier,
        "search_pass": r.search_pass,
    })
}

/// `{series, job, over, unit, capacity, limited_by, confirmed, probes, slo, first_failure:
/// {load, broke} | null, verdict}`: `capacity` is `null` when the search did not finish.
fn capacity(c: &Capacity) -> Value {
    let first = c
        .first_failure()
        .map(|(load, broke)| json!({"load": load, "broke": broke}));
    json!({
        "series": c.series,
        "job": c.job,
        "over": c.report.over.as_str(),
        "unit": c.unit(),
        "capacity": c.report.capacity,
        "limited_by": c.report.limited_by,
        "confirmed": c.report.confirmed,
        "probes": c.probes_run(),
        "slo": c.report.slo,
        "first_failure": first,
        "verdict": c.report.verdict,
    })
}
