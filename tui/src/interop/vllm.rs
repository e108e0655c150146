//! The JSON `vllm bench serve --save-result` writes, one object per run (vLLM 0.11 to 0.20,
//! `vllm/benchmarks/serve.py`), both ways: [`write`] turns each point of a job into one such
//! object, so plotting scripts written for vLLM read llms results unchanged; [`read`] turns
//! a vLLM result file into result rows for `llms import`.
//!
//! Units are vLLM's: latencies in ms in the summary keys (`mean_ttft_ms`, `p99_itl_ms`),
//! seconds in the per-request arrays (`ttfts`, `itls`); throughputs per second. The summary
//! figures are the point's own (DESIGN.md section 3, whose definitions match vLLM's: TTFT to
//! the first token-carrying chunk, ITL between chunks, TPOT excluding the first token). Keys
//! written as if vLLM ran with `--percentile-metrics ttft,tpot,itl,e2el --metric-percentiles
//! 90,95,99`; `std_*_ms` and the per-request arrays (`--save-detailed`) need the raw records
//! (`--raw`). `generated_texts` is never written: llms keeps no answer text. llms's own facts
//! ride along as `--metadata`-style string keys prefixed `llms_`.

use super::{JobMeta, stats};
use crate::output::JobResults;
use llms_shared::{Arrival, LatencyStats, Load, PointResult, RequestRecord, ResultRow};
use serde_json::{Map, Value, json};

/// The metrics whose summary keys are written, as vLLM names them.
pub const METRICS: [&str; 4] = ["ttft", "tpot", "itl", "e2el"];

/// One object per point with figures, in point order (failed points have none to write).
pub fn write(r: &JobResults, meta: &JobMeta) -> Value {
    Value::Array(
        r.rows
            .iter()
            .filter_map(|row| row.point.as_ref().map(|p| point(r.job, row, p, meta)))
            .map(Value::Object)
            .collect(),
    )
}

fn point(job: u64, row: &ResultRow, p: &PointResult, meta: &JobMeta) -> Map<String, Value> {
    let mut m = Map::new();
    let backend = match meta.endpoint.as_deref() {
        Some("completions") => "openai",
        _ => "openai-chat",
    };
    let model = meta.models.get(&row.engine).cloned();
    m.insert("date".into(), json!(vllm_date(row.finished_ms)));
    m.insert("endpoint_type".into(), json!(backend));
    m.insert("backend".into(), json!(backend));
    m.insert("label".into(), json!(row.engine));
    m.insert("model_id".into(), json!(model));
    m.insert("tokenizer_id".into(), json!(model));
    m.insert("num_prompts".into(), json!(p.completed + p.failed));
    let (rate, burstiness, max_concurrency) = load_keys(&p.load);
    m.insert("request_rate".into(), rate);
    m.insert("burstiness".into(), burstiness);
    m.insert("max_concurrency".into(), json!(max_concurrency));
    m.insert("duration".into(), json!(p.duration_s));
    m.insert("completed".into(), json!(p.completed));
    m.insert("failed".into(), json!(p.failed));
    m.insert("total_input_tokens".into(), json!(p.input_tokens));
    m.insert("total_output_tokens".into(), json!(p.output_tokens));
    m.insert("request_throughput".into(), json!(p.request_throughput));
    let slo_given = p.slo.ttft.is_some() || p.slo.tpot.is_some() || p.slo.e2e.is_some();
    m.insert(
        "request_goodput".into(),
        if slo_given {
            json!(p.goodput)
        } else {
            Value::Null
        },
    );
    m.insert("output_throughput".into(), json!(p.output_throughput));
    m.insert("total_token_throughput".into(), json!(p.total_throughput));
    let recs = &p.requests;
    if !recs.is_empty() {
        let (tokens, requests) = peaks(recs);
        m.insert("max_output_tokens_per_s".into(), json!(tokens));
        m.insert("max_concurrent_requests".into(), json!(requests));
        detailed(&mut m, recs);
    }
    let with_records: [(&str, &LatencyStats, Vec<f64>); 4] = [
        ("ttft", &p.ttft_ms, stats::ttfts(recs)),
        ("tpot", &p.tpot_ms, stats::tpots(recs)),
        ("itl", &p.itl_ms, stats::itls(recs)),
        ("e2el", &p.e2e_ms, stats::e2es(recs)),
    ];
    for (name, s, values) in with_records {
        // As vLLM does when it was not asked for it: no e2el keys, rather than 0 ms.
        if name == "e2el" && p.flagged("e2e_missing") {
            continue;
        }
        m.insert(format!("mean_{name}_ms"), json!(s.mean));
        m.insert(format!("median_{name}_ms"), json!(s.p50));
        if !recs.is_empty() {
            m.insert(
                format!("std_{name}_ms"),
                json!(stats::std_dev(&values) * 1e3),
            );
        }
        m.insert(format!("p90_{name}_ms"), json!(s.p90));
        m.insert(format!("p95_{name}_ms"), json!(s.p95));
        m.insert(format!("p99_{name}_ms"), json!(s.p99));
    }
    let text = |k: &str, v: String| (format!("llms_{k}"), Value::String(v));
    m.extend([
        text("job", job.to_string()),
        text("point", row.index.to_string()),
        text("engine_kind", row.kind.clone()),
        text("load", p.load.to_string()),
        text("flags", p.flags.join(",")),
    ]);
    if let Some(v) = &row.engine_version {
        m.extend([text("engine_version", v.clone())]);
    }
    m
}

/// `request_rate` (`"inf"` for closed loops, as vLLM writes it), `burstiness` and
/// `max_concurrency` (null for open loops).
fn load_keys(load: &Load) -> (Value, Value, Option<u32>) {
    match *load {
        Load::Concurrency { concurrency } => (json!("inf"), json!(1.0), Some(concurrency)),
        Load::Batch { batch } => (json!("inf"), json!(1.0), Some(batch)),
        Load::Rate {
            rate,
            arrival,
            burstiness,
        } => {
            let b = match arrival {
                Arrival::Gamma => burstiness.unwrap_or(1.0),
                // Equal gaps: vLLM has no such mode; its gamma tends to them as the shape grows.
                Arrival::Constant => 1e9,
                Arrival::Poisson => 1.0,
            };
            (json!(rate), json!(b), None)
        }
        Load::Trace { .. } => (json!("inf"), json!(1.0), None),
    }
}

/// `--save-detailed`'s arrays, one entry per request, failed ones included.
fn detailed(m: &mut Map<String, Value>, recs: &[RequestRecord]) {
    let ok = |r: &RequestRecord| stats::completed(r);
    let col = |f: &dyn Fn(&RequestRecord) -> Value| Value::Array(recs.iter().map(f).collect());
    m.insert(
        "input_lens".into(),
        col(&|r| json!(r.usage.prompt_tokens.or(r.client_input_tokens).unwrap_or(0))),
    );
    m.insert(
        "output_lens".into(),
        col(&|r| json!(if ok(r) { r.output_tokens() } else { 0 })),
    );
    m.insert(
        "ttfts".into(),
        col(&|r| json!(r.ttft_ns().filter(|_| ok(r)).map_or(0.0, stats::secs))),
    );
    m.insert(
        "itls".into(),
        col(&|r| json!(if ok(r) { stats::gaps(r) } else { vec![] })),
    );
    m.insert(
        "start_times".into(),
        col(&|r| json!(stats::secs(r.start_ns))),
    );
    m.insert(
        "errors".into(),
        col(&|r| {
            json!(
                r.error
                    .as_ref()
                    .map_or(String::new(), |e| e.message.clone())
            )
        }),
    );
}

/// vLLM's two peaks, computed its way (vLLM 0.11 to 0.20, successful requests only, whole
/// seconds from the first one's start): `max_output_tokens_per_s`, the most chunks in one
/// second (vLLM counts a chunk as a token), and `max_concurrent_requests`, the most requests
/// whose span `[start, end]` in whole seconds covers one of those seconds (it counts
/// requests that ran one after another within a second as concurrent, as vLLM does).
fn peaks(recs: &[RequestRecord]) -> (f64, u64) {
    let ok: Vec<&RequestRecord> = recs.iter().filter(|r| stats::completed(r)).collect();
    let Some(t0) = ok.iter().map(|r| r.start_ns).min() else {
        return (0.0, 0);
    };
    let sec = |ns: u64| (ns - t0) / 1_000_000_000;
    let mut per_s: std::collections::BTreeMap<u64, u64> = Default::default();
    for r in &ok {
        for (at, _) in &r.chunks {
            *per_s.entry(sec(r.start_ns + at)).or_default() += 1;
        }
    }
    let busiest = per_s
        .keys()
        .map(|b| {
            ok.iter()
                .filter(|r| (sec(r.start_ns)..=sec(r.start_ns + r.end_ns)).contains(b))
                .count() as u64
        })
        .max()
        .unwrap_or(0);
    (per_s.values().copied().max().unwrap_or(0) as f64, busiest)
}

/// Unix ms as vLLM's `date` (`%Y%m%d-%H%M%S`, here in UTC).
pub fn vllm_date(unix_ms: u64) -> String {
    let t = crate::output::utc_time(unix_ms);
    // "YYYY-MM-DD HH:MM:SS" -> "YYYYMMDD-HHMMSS"
    t.replace('-', "").replace(' ', "-").replace(':', "")
}

/// `%Y%m%d-%H%M%S` (read as UTC) to unix ms.
fn parse_date(s: &str) -> Option<u64> {
    let (d, t) = s.split_once('-')?;
    if d.len() != 8 || t.len() != 6 || !s.chars().all(|c| c.is_ascii_digit() || c == '-') {
        return None;
    }
    let n = |x: &str| x.parse::<u64>().ok();
    let (y, mo, day) = (n(&d[..4])?, n(&d[4..6])?, n(&d[6..])?);
    let (h, mi, sec) = (n(&t[..2])?, n(&t[2..4])?, n(&t[4..])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    // Days from civil (H. Hinnant's algorithm), proleptic Gregorian.
    let y = if mo <= 2 { y.checked_sub(1)? } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(((days * 86_400) + h * 3600 + mi * 60 + sec) * 1000)
}

/// Whether `v` looks like a vLLM result object.
pub fn is_vllm(v: &Value) -> bool {
    v.get("mean_ttft_ms").is_some() && v.get("completed").is_some()
}

/// A vLLM result file: one object, several (`--append-result` writes one per line), or an
/// array of them (what [`write`] prints). Errors name the run and the key. (Import reads
/// [`documents`] once for its kind, then [`rows`].)
#[cfg(test)]
pub fn read(text: &str) -> Result<Vec<ResultRow>, String> {
    rows(&documents(text)?)
}

/// The JSON documents of a file: an array's elements, one object, or JSON lines (what
/// `--append-result` writes).
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(a)) => Ok(a),
        Ok(v) => Ok(vec![v]),
        Err(whole) => {
            let lines: Result<Vec<Value>, String> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .enumerate()
                .map(|(i, l)| {
                    serde_json::from_str(l).map_err(|e| format!("line {}: not JSON: {e}", i + 1))
                })
                .collect();
            match lines {
                Ok(l) if l.len() > 1 => Ok(l),
                _ => Err(format!("not JSON: {whole}")),
            }
        }
    }
}

/// Each vLLM run as a result row, numbered in order.
pub fn rows(runs: &[Value]) -> Result<Vec<ResultRow>, String> {
    if runs.is_empty() {
        return Err("no runs in it".into());
    }
    runs.iter()
        .enumerate()
        .map(|(i, v)| row(v, i as u32).map_err(|e| format!("run {}: {e}", i + 1)))
        .collect()
}

fn num(v: &Value, k: &str) -> Result<f64, String> {
    match v.get(k) {
        Some(x) => x
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .ok_or(format!("{k}: not a number >= 0")),
        None => Err(format!(
            "{k}: missing (not a `vllm bench serve --save-result` file?)"
        )),
    }
}

fn count(v: &Value, k: &str) -> Result<u64, String> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(0),
        Some(x) => x.as_u64().ok_or(format!("{k}: not a whole number >= 0")),
    }
}

fn opt(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64).filter(|f| f.is_finite())
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(200).collect())
}

/// One run as a result row (`index`), its figures from the summary keys.
fn row(v: &Value, index: u32) -> Result<ResultRow, String> {
    if !v.is_object() {
        return Err("not a JSON object".into());
    }
    if v.get("completed").is_none() {
        return Err("completed: missing (not a `vllm bench serve --save-result` file?)".into());
    }
    let completed = count(v, "completed")?;
    let failed = count(v, "failed")?;
    let load = read_load(v)?;
    let mut p = PointResult::empty(load);
    p.completed = completed;
    p.failed = failed;
    if failed > 0 {
        p.errors.insert("error".into(), failed);
    }
    p.error_rate = match completed + failed {
        0 => 0.0,
        n => failed as f64 / n as f64,
    };
    p.duration_s = num(v, "duration")?;
    p.input_tokens = count(v, "total_input_tokens")?;
    p.output_tokens = count(v, "total_output_tokens")?;
    p.output_throughput = num(v, "output_throughput")?;
    p.total_throughput = opt(v, "total_token_throughput").unwrap_or(0.0);
    p.request_throughput = opt(v, "request_throughput").unwrap_or(0.0);
    p.goodput = opt(v, "request_goodput").unwrap_or(p.request_throughput);
    let mut missing = false;
    for name in METRICS {
        let s = stats_of(v, name, &mut missing)?;
        match name {
            "ttft" => p.ttft_ms = s,
            "tpot" => p.tpot_ms = s,
            "itl" => p.itl_ms = s,
            _ => p.e2e_ms = s,
        }
    }
    // Counts: TTFT over the completed requests; TPOT over those of 2+ tokens and ITL over
    // every gap, where the per-request arrays say.
    p.ttft_ms.count = completed;
    p.e2e_ms.count = completed;
    p.tpot_ms.count = completed;
    if let Some(lens) = v.get("output_lens").and_then(Value::as_array) {
        p.tpot_ms.count = lens.iter().filter(|l| l.as_u64() > Some(1)).count() as u64;
    }
    if let Some(itls) = v.get("itls").and_then(Value::as_array) {
        p.itl_ms.count = itls
            .iter()
            .map(|l| l.as_array().map_or(0, Vec::len) as u64)
            .sum();
    }
    if let Some(flags) = text(v, "llms_flags") {
        p.flags = flags.split(',').map(str::to_owned).collect();
    }
    if missing {
        p.flags.push("percentiles_missing".into());
    }
    // vLLM writes end-to-end latency only when asked (`--percentile-metrics ...,e2el`); a
    // file llms wrote says so in its flags already.
    if opt(v, "mean_e2el_ms").is_none() && !p.flagged("e2e_missing") {
        p.flags.push("e2e_missing".into());
    }
    let engine = text(v, "label")
        .or_else(|| text(v, "llms_engine"))
        .or_else(|| text(v, "backend"))
        .unwrap_or_else(|| "vllm-bench".into());
    Ok(ResultRow {
        index,
        engine,
        kind: text(v, "llms_engine_kind").unwrap_or_else(|| "unknown".into()),
        load: Some(p.load.clone()),
        error: None,
        point: Some(p),
        gpu: None,
        engine_version: text(v, "llms_engine_version"),
        workload: None,
        finished_ms: v
            .get("date")
            .and_then(Value::as_str)
            .and_then(parse_date)
            .unwrap_or(0),
        role: None,
        search: None,
    })
}

/// A metric's summary keys; a percentile vLLM was not asked for reads as 0 and sets
/// `missing`. `mean` is required for TTFT, TPOT and ITL (vLLM writes them by default).
fn stats_of(v: &Value, name: &str, missing: &mut bool) -> Result<LatencyStats, String> {
    let key = |s: &str| format!("{s}_{name}_ms");
    let mean = match opt(v, &key("mean")) {
        Some(m) => m,
        None if name == "e2el" => 0.0,
        None => return Err(format!("{}: missing", key("mean"))),
    };
    let mut pct = |s: &str| {
        opt(v, &key(s)).unwrap_or_else(|| {
            if name != "e2el" || v.get(key("mean")).is_some() {
                *missing = true;
            }
            0.0
        })
    };
    Ok(LatencyStats {
        count: 0,
        mean,
        p50: pct("median"),
        p90: pct("p90"),
        p95: pct("p95"),
        p99: pct("p99"),
        max: 0.0,
    })
}

/// The load: `llms_load`'s batch when llms wrote the file; a finite `request_rate` is an open
/// loop (Poisson, or gamma with `burstiness`); `"inf"` with `max_concurrency` a closed loop;
/// `"inf"` without one sends every prompt at once, one batch of `num_prompts`.
fn read_load(v: &Value) -> Result<Load, String> {
    if let Some(b) = text(v, "llms_load")
        .as_deref()
        .and_then(|l| l.strip_prefix("batch "))
        .and_then(|n| n.parse().ok())
    {
        return Ok(Load::Batch { batch: b });
    }
    let rate = match v.get("request_rate") {
        Some(Value::String(s)) if s == "inf" => None,
        Some(r) => Some(
            r.as_f64()
                .filter(|r| r.is_finite() && *r > 0.0)
                .ok_or("request_rate: neither a rate > 0 nor \"inf\"")?,
        ),
        None => return Err("request_rate: missing".into()),
    };
    let conc = match v.get("max_concurrency") {
        None | Some(Value::Null) => None,
        Some(c) => Some(
            c.as_u64()
                .and_then(|c| u32::try_from(c).ok())
                .filter(|c| *c > 0)
                .ok_or("max_concurrency: not a whole number > 0")?,
        ),
    };
    Ok(match (rate, conc) {
        (Some(rate), _) => {
            let b = opt(v, "burstiness").unwrap_or(1.0);
            if (b - 1.0).abs() < 1e-12 {
                Load::Rate {
                    rate,
                    arrival: Arrival::Poisson,
                    burstiness: None,
                }
            } else {
                Load::Rate {
                    rate,
                    arrival: Arrival::Gamma,
                    burstiness: Some(b),
                }
            }
        }
        (None, Some(c)) => Load::Concurrency { concurrency: c },
        (None, None) => {
            let n = count(v, "num_prompts")?;
            Load::Batch {
                batch: u32::try_from(n.max(1)).map_err(|_| "num_prompts: too large")?,
            }
        }
    })
}

#[cfg(test)]
#[path = "vllm_tests.rs"]
mod tests;
