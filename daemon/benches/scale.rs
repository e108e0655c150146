//! The daemon with 10,000 stored points (200 finished jobs of 50 points, with GPU figures):
//! how long `jobs`, `results` and `watch` take over the socket, and how big their answers are.
//! Then 20 jobs of 100,000 planned points each: how long `jobs` takes (the first call fills
//! the daemon's job list, later ones answer from it). The store is written directly (no
//! engine runs), then a release `llmsd` serves it; its start includes checking every value
//! and journaling the jobs (stored here without a journal).
//!
//! Run: `cargo bench -p llmsd --bench scale` (builds llmsd in release first).

mod common;

use common::ctx;
use llms_shared::{
    GpuPointStats, JobState, LatencyStats, Load, LoadDef, PointGpu, PointPlan, PointResult,
    ResultRow, Sweep,
};
use llmsd::store::{JobRecord, Store};
use std::path::Path;
use std::time::Instant;

const JOBS: u64 = 200;
const POINTS: u32 = 50;

fn lat(v: f64) -> LatencyStats {
    LatencyStats {
        count: 64,
        mean: v,
        p50: v,
        p90: v * 1.5,
        p95: v * 1.7,
        p99: v * 2.0,
        max: v * 3.0,
    }
}

fn point(c: u32) -> PointResult {
    PointResult {
        completed: 64,
        duration_s: 10.0,
        input_tokens: 12_800,
        output_tokens: 8192,
        output_throughput: 819.2,
        total_throughput: 2099.2,
        request_throughput: 6.4,
        goodput: 6.4,
        ttft_ms: lat(25.0),
        itl_ms: lat(6.0),
        tpot_ms: lat(6.1),
        e2e_ms: lat(800.0),
        queue_ms: lat(0.1),
        output_tokens_requested: Some(128),
        ..PointResult::empty(Load::Concurrency { concurrency: c })
    }
}

fn seed(dir: &Path) {
    let store = Store::open(dir).expect("open store");
    for _ in 0..JOBS {
        let id = store.next_job_id().expect("id");
        let plan: Vec<PointPlan> = (0..POINTS)
            .map(|i| PointPlan {
                index: i,
                engine: format!("engine{}", i / 10),
                load: Load::Concurrency {
                    concurrency: 1 << (i % 10),
                },
                role: None,
            })
            .collect();
        let job = JobRecord {
            id,
            state: JobState::Done,
            spec_text: String::new(),
            file: None,
            sweep: Sweep {
                name: format!("job {id}"),
                model: None,
                prompts: None,
                endpoint: None,
                gpus: None,
                engines: Vec::new(),
                load: LoadDef::default(),
                workload: None,
            },
            plan: plan.clone(),
            order: id,
            submitted_ms: 1_795_800_000_000,
            started_ms: Some(1_795_800_000_000),
            finished_ms: Some(1_795_800_600_000),
            error: None,
            points_done: POINTS,
            points_failed: 0,
            warnings: Vec::new(),
            imported: None,
        };
        store.put_job(&job).expect("job");
        for p in &plan {
            let row = ResultRow {
                index: p.index,
                engine: p.engine.clone(),
                kind: "reference".into(),
                load: Some(p.load.clone()),
                error: None,
                point: Some(point(1 << (p.index % 10))),
                gpu: Some(PointGpu {
                    gpus: vec![GpuPointStats {
                        index: 0,
                        peak_mem_used: Some(40 << 30),
                        ..Default::default()
                    }],
                    tokens_per_joule: Some(2.0),
                    samples: 100,
                    driver: None,
                }),
                engine_version: None,
                workload: None,
                finished_ms: 1_795_800_000_000,
                role: None,
                search: None,
            };
            store.put_point(id, &row, &[], &[]).expect("point");
        }
    }
    drop(store);
}

/// 20 cancelled jobs whose plans hold 100,000 points each, nothing finished.
fn seed_huge(dir: &Path) {
    let store = Store::open(dir).expect("open store");
    for _ in 0..20 {
        let id = store.next_job_id().expect("id");
        let plan: Vec<PointPlan> = (0..100_000)
            .map(|i| PointPlan {
                index: i,
                engine: "engine".into(),
                load: Load::Concurrency { concurrency: 1 + i },
                role: None,
            })
            .collect();
        let job = JobRecord {
            id,
            state: JobState::Cancelled,
            spec_text: String::new(),
            file: None,
            sweep: Sweep {
                name: format!("huge {id}"),
                model: None,
                prompts: None,
                endpoint: None,
                gpus: None,
                engines: Vec::new(),
                load: LoadDef::default(),
                workload: None,
            },
            plan,
            order: id,
            submitted_ms: 1_795_800_000_000,
            started_ms: None,
            finished_ms: Some(1_795_800_600_000),
            error: Some("cancelled by a user".into()),
            points_done: 0,
            points_failed: 0,
            warnings: Vec::new(),
            imported: None,
        };
        store.put_job(&job).expect("job");
    }
}

/// `jobs` against 20 jobs of 100,000 planned points.
#[allow(clippy::unwrap_used, clippy::expect_used)]
fn huge(llmsd: &Path) {
    let dir = std::env::temp_dir().join(format!("llmsd-scale-huge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    seed_huge(&dir.join("state/db"));
    let socket = dir.join("s.sock");
    let mut child = common::start_llmsd(llmsd, &dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let t0 = Instant::now();
        let c = common::wait_client(&socket).await;
        println!(
            "20 jobs x 100,000 planned points: serving {:.0} ms after exec",
            ms(t0)
        );
        for call in ["first", "second", "third"] {
            let t = Instant::now();
            let jobs = c.jobs(ctx()).await.unwrap().unwrap();
            println!(
                "  jobs ({call} call): {} jobs in {:.1} ms",
                jobs.len(),
                ms(t)
            );
        }
    });
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

#[allow(clippy::unwrap_used, clippy::expect_used)]
fn main() {
    let llmsd = common::release_llmsd();
    let dir = std::env::temp_dir().join(format!("llmsd-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = Instant::now();
    seed(&dir.join("state/db"));
    println!(
        "seeded {} jobs x {} points in {:.1} s",
        JOBS,
        POINTS,
        t.elapsed().as_secs_f64()
    );
    let socket = dir.join("s.sock");
    let mut child = common::start_llmsd(&llmsd, &dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let t0 = Instant::now();
        let c = common::wait_client(&socket).await;
        println!("llmsd serving the store {:.0} ms after exec", ms(t0));
        let t = Instant::now();
        let jobs = c.jobs(ctx()).await.unwrap().unwrap();
        let bytes = serde_json::to_vec(&jobs).unwrap().len();
        println!("jobs: {} jobs in {:.1} ms ({} KiB)", jobs.len(), ms(t), bytes / 1024);
        let t = Instant::now();
        let rows = c.results(ctx(), 100, false).await.unwrap().unwrap();
        let bytes = serde_json::to_vec(&rows).unwrap().len();
        println!("results of one job: {} points in {:.1} ms ({} KiB)", rows.len(), ms(t), bytes / 1024);
        let t = Instant::now();
        let mut n = 0;
        for id in 1..=JOBS {
            n += c.results(ctx(), id, false).await.unwrap().unwrap().len();
        }
        println!("results of every job: {n} points in {:.0} ms", ms(t));
        let mut lat = Vec::new();
        let mut size = 0;
        let mut seq = c.watch(ctx(), 0, 0).await.unwrap().unwrap().seq;
        for _ in 0..10 {
            let t = Instant::now();
            let u = c.watch(ctx(), seq, 5000).await.unwrap().unwrap();
            lat.push(ms(t));
            size = serde_json::to_vec(&u).unwrap().len();
            seq = u.seq;
        }
        let t = Instant::now();
        let _ = c.watch(ctx(), 0, 0).await.unwrap().unwrap();
        println!(
            "watch with 200 finished jobs: an immediate answer in {:.1} ms, {} KiB (recent jobs only); long-polls woke by the 1 Hz sampler",
            ms(t),
            size / 1024
        );
    });
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    huge(&llmsd);
}
