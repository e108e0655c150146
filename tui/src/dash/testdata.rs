//! Fixed dashboard data for tests: a daemon with two GPUs, three engines, five jobs, a
//! running point and an engine log, at a fixed time.
#![allow(clippy::unwrap_used, missing_docs)]

use super::model::Model;
use crate::fixtures;
use llms_shared::{
    EngineInfo, EngineMetrics, EngineState, GpuSample, Hello, JobState, JobSummary, LivePoint,
    Load, Update,
};

pub const NOW: u64 = 1_795_800_060_000;
const GIB: u64 = 1 << 30;

pub fn hello() -> Hello {
    Hello {
        protocol: llms_shared::PROTOCOL_VERSION,
        version: "0.1.0".into(),
        host: "gpu-box".into(),
        gpus: 2,
    }
}

pub fn jobs() -> Vec<JobSummary> {
    let mut failed = fixtures::sweep().0;
    failed.points_failed = 1;
    failed.error = Some("1 point failed".into());
    let mut running = fixtures::job(4, "qwen2.5-7b concurrency", JobState::Running, 2, 6);
    running.started_ms = Some(NOW - 300_000);
    running.finished_ms = None;
    vec![
        fixtures::job(1, "smoke", JobState::Done, 4, 4),
        failed,
        running,
        fixtures::job(5, "llama-70b", JobState::Queued, 0, 8),
        fixtures::job(6, "tiny", JobState::Queued, 0, 3),
    ]
}

fn engine(id: u64, name: &str, job: u64, state: EngineState, port: u16, pid: u32) -> EngineInfo {
    EngineInfo {
        id,
        name: name.into(),
        kind: name.into(),
        job: Some(job),
        state,
        url: format!("http://127.0.0.1:{port}"),
        pid: Some(pid),
        pids: Vec::new(),
        argv: vec![name.into()],
        log_path: None,
        started_ms: NOW - 600_000,
        version: Some("0.20.1".into()),
        metrics: None,
        ready_timeout_s: None,
        stage: None,
    }
}

pub fn engines() -> Vec<EngineInfo> {
    let mut vllm = engine(7, "vllm", 4, EngineState::Ready, 8001, 4242);
    vllm.metrics = Some(EngineMetrics {
        unix_ms: NOW,
        running: Some(16.0),
        waiting: Some(2.0),
        kv_cache_usage: Some(0.34),
        ..Default::default()
    });
    vec![
        engine(5, "reference", 1, EngineState::Stopped, 8000, 4000),
        engine(
            6,
            "llamacpp",
            3,
            EngineState::Failed("exited with status 1".into()),
            8002,
            4100,
        ),
        vllm,
    ]
}

pub fn gpus() -> Vec<GpuSample> {
    vec![
        GpuSample {
            unix_ms: NOW,
            index: 0,
            name: "NVIDIA H100 80GB HBM3".into(),
            util_pct: Some(87),
            mem_used: Some(61 * GIB),
            mem_total: Some(80 * GIB),
            power_mw: Some(512_000),
            power_limit_mw: Some(700_000),
            energy_mj: Some(1_000_000_000),
            temp_c: Some(67),
            sm_clock_mhz: Some(1980),
            processes: vec![(4242, 58 * GIB)],
        },
        GpuSample {
            unix_ms: NOW,
            index: 1,
            name: "NVIDIA H100 80GB HBM3".into(),
            util_pct: Some(0),
            mem_used: Some(GIB / 2),
            mem_total: Some(80 * GIB),
            power_mw: Some(71_000),
            power_limit_mw: None,
            energy_mj: Some(900_000_000),
            temp_c: Some(35),
            sm_clock_mhz: Some(345),
            processes: vec![],
        },
    ]
}

pub fn live() -> LivePoint {
    LivePoint {
        job: 4,
        index: 2,
        engine: "vllm".into(),
        load: Some(Load::Concurrency { concurrency: 16 }),
        elapsed_s: 42.0,
        requests_done: 120,
        requests_total: Some(320),
        failed: 1,
        in_flight: 16,
        output_tokens: 15_360,
        tokens_per_s: 2480.0,
        ttft_ms: Some((35.2, 120.9)),
        itl_ms: Some((8.1, 14.3)),
        // A shared prefix: four fifths of the prompt tokens served from the cache.
        prompt_tokens: 61_440,
        cached_tokens: Some(49_152),
    }
}

pub fn update(seq: u64) -> Update {
    Update {
        seq,
        changed: true,
        engines: engines(),
        jobs: jobs(),
        live: vec![live()],
        gpu_samples: gpus(),
    }
}

/// The busy dashboard: everything above, a tokens/s history, job 3's points cached and
/// selected on Results, and engine 7's log.
pub fn model() -> Model {
    let mut m = Model::new("/run/llmsd/llmsd.sock", hello(), false, NOW);
    m.absorb(update(1));
    m.all_jobs = jobs();
    // A second power reading sets the power bar's scale.
    m.gpus.entry(0).or_default().max_power_mw = 600_000;
    m.tokens.points = (1..=42)
        .map(|i| {
            let t = f64::from(i);
            (t, 2000.0 + 40.0 * t - 300.0 * (t / 4.0).sin())
        })
        .collect();
    m.results.insert(3, fixtures::sweep().1);
    m.ui.results_sel = Some(3);
    m.refresh_comparison();
    m.log = Some(super::model::EngineLog {
        engine: 7,
        lines: (0..40)
            .map(|i| {
                format!(
                    "INFO 11-28 10:{:02}:{:02} [engine.py:312] Avg generation throughput: {} tokens/s, Running: 16 reqs, Waiting: 2 reqs",
                    i / 60,
                    i % 60,
                    2000 + i * 10
                )
            })
            .collect(),
    });
    m.ui.engine_sel = Some(7);
    m
}

/// Job 4 between points: its engine (8, vLLM) was started again 95 s ago and loads the
/// model; no point runs.
pub fn model_engine_starting() -> Model {
    let mut m = model();
    m.latest.live.clear();
    m.tokens.points.clear();
    let mut e = engine(8, "vllm", 4, EngineState::Starting, 8003, 4300);
    e.started_ms = NOW - 95_000;
    e.ready_timeout_s = Some(600.0);
    e.stage = Some("loading: the port is not open yet".into());
    m.latest.engines[2].state = EngineState::Stopped;
    m.latest.engines.push(e);
    m.log = Some(super::model::EngineLog {
        engine: 8,
        lines: [
            "INFO 11-28 10:00:01 [__init__.py:239] Automatically detected platform cuda.",
            "INFO 11-28 10:00:04 [api_server.py:1043] vLLM API server version 0.20.1",
            "INFO 11-28 10:00:09 [config.py:689] This model supports multiple tasks: {'generate'}. Defaulting to 'generate'.",
            "INFO 11-28 10:00:15 [core.py:61] Initializing a V1 LLM engine (v0.20.1) with config: model='Qwen/Qwen2.5-7B-Instruct', dtype=torch.bfloat16, max_seq_len=32768",
            "INFO 11-28 10:00:21 [gpu_model_runner.py:1329] Starting to load model Qwen/Qwen2.5-7B-Instruct...",
            "INFO 11-28 10:00:38 [default_loader.py:272] Loading weights took 14.21 seconds",
            "Loading safetensors checkpoint shards:  75% Completed | 3/4 [00:11<00:03,  3.71s/it]",
        ]
        .map(String::from)
        .into(),
    });
    m.ui.engine_sel = None;
    m
}

/// The same without GPUs.
pub fn model_no_gpu() -> Model {
    let mut m = model();
    m.gpus.clear();
    m.hello = Some(Hello { gpus: 0, ..hello() });
    m
}
