//! Fixed data for tests (and snapshot screens): points, rows, jobs with fixed timestamps.
#![allow(clippy::unwrap_used, missing_docs)]

use llms_shared::{
    GpuPointStats, JobState, JobSummary, LatencyStats, Load, PointGpu, PointResult, ResultRow,
};

pub fn lat(p50: f64, p99: f64) -> LatencyStats {
    LatencyStats {
        count: 10,
        mean: p50,
        p50,
        p90: p99,
        p95: p99,
        p99,
        max: p99,
    }
}

/// A point whose figures scale with `x` (throughput up, latency up), so charts have shape.
pub fn point(load: Load, speed: f64) -> PointResult {
    let x = match &load {
        Load::Concurrency { concurrency } => f64::from(*concurrency),
        Load::Batch { batch } => f64::from(*batch),
        Load::Rate { rate, .. } => *rate,
        Load::Trace { speed } => *speed,
    };
    PointResult {
        completed: 64,
        duration_s: 10.0,
        input_tokens: 64 * 200,
        output_tokens: 64 * 128,
        output_throughput: speed * x.sqrt() * 100.0,
        total_throughput: speed * x.sqrt() * 300.0,
        request_throughput: speed * x.sqrt(),
        goodput: speed * x.sqrt(),
        ttft_ms: lat(20.0 + x / speed, 40.0 + 2.0 * x / speed),
        itl_ms: lat(5.0 + x / (10.0 * speed), 9.0 + x / (5.0 * speed)),
        tpot_ms: lat(5.5 + x / (10.0 * speed), 8.0 + x / (5.0 * speed)),
        e2e_ms: lat(700.0 + x, 900.0 + x),
        queue_ms: lat(0.1, 0.2),
        output_tokens_requested: Some(128),
        ..PointResult::empty(load)
    }
}

pub fn gpu(peak_gib: f64, tpj: f64) -> PointGpu {
    PointGpu {
        gpus: vec![GpuPointStats {
            index: 0,
            name: Some("NVIDIA H200".into()),
            peak_mem_used: Some((peak_gib * (1u64 << 30) as f64) as u64),
            mean_util_pct: Some(80.0),
            mean_power_w: Some(400.0),
            energy_j: Some(4000.0),
            idle_power_w: Some(90.0),
            energy_above_idle_j: Some(3100.0),
            engine_mem_peak: Some((peak_gib * (1u64 << 30) as f64) as u64),
        }],
        tokens_per_joule: Some(tpj),
        samples: 100,
        driver: Some("580.95.05".into()),
    }
}

pub fn row(
    index: u32,
    engine: &str,
    kind: &str,
    point: PointResult,
    gpu: Option<PointGpu>,
) -> ResultRow {
    ResultRow {
        index,
        engine: engine.into(),
        kind: kind.into(),
        load: Some(point.load.clone()),
        error: None,
        point: Some(point),
        gpu,
        engine_version: (kind == "vllm").then(|| "0.20.1".into()),
        workload: None,
        finished_ms: 1_795_800_000_000 + u64::from(index) * 10_000,
        role: None,
        search: None,
    }
}

pub fn failed_row(index: u32, engine: &str, kind: &str, load: Load, why: &str) -> ResultRow {
    ResultRow {
        index,
        engine: engine.into(),
        kind: kind.into(),
        load: Some(load),
        error: Some(why.into()),
        point: None,
        gpu: None,
        engine_version: None,
        workload: None,
        finished_ms: 1_795_800_000_000 + u64::from(index) * 10_000,
        role: None,
        search: None,
    }
}

pub fn job(id: u64, name: &str, state: JobState, done: u32, total: u32) -> JobSummary {
    JobSummary {
        id,
        name: name.into(),
        state,
        points_done: done,
        points_total: total,
        order: 0,
        points_failed: 0,
        submitted_ms: 1_795_800_000_000,
        started_ms: Some(1_795_800_001_000),
        finished_ms: state.is_final().then_some(1_795_800_100_000),
        error: None,
    }
}

/// A two-engine sweep over concurrency 1, 4, 8, 16, 32: vLLM faster than llama.cpp, one
/// llama.cpp point failed and one flagged.
pub fn sweep() -> (JobSummary, Vec<ResultRow>) {
    let mut rows = Vec::new();
    for (e, (engine, kind, speed, mem)) in [
        ("vllm", "vllm", 4.0, 60.0),
        ("llamacpp", "llamacpp", 1.0, 8.0),
    ]
    .into_iter()
    .enumerate()
    {
        for (i, c) in [1u32, 4, 8, 16, 32].into_iter().enumerate() {
            let index = (e * 5 + i) as u32;
            let load = Load::Concurrency { concurrency: c };
            if engine == "llamacpp" && c == 32 {
                rows.push(failed_row(
                    index,
                    engine,
                    kind,
                    load,
                    "engine llamacpp exited during the point: exited with status 1",
                ));
                continue;
            }
            let mut p = point(load, speed);
            if engine == "llamacpp" && c == 16 {
                p.flags.push("client_bound".into());
            }
            rows.push(row(index, engine, kind, p, Some(gpu(mem, speed * 2.0))));
        }
    }
    (job(3, "qwen2.5-3b engines", JobState::Failed, 10, 10), rows)
}
