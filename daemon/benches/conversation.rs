//! What conversations cost the client, and how exact they stay. `cargo bench -p llmsd --bench
//! conversation` prints:
//!
//! 1. TTFT error against the reference engine's ground truth at 64 sessions of 8 turns in
//!    flight (the same shared monotonic clock as the loadgen bench: the client's first-token
//!    stamp minus the engine's write of that token).
//! 2. Client CPU seconds per million streamed tokens: 1,000 single-turn streams, then 1,000
//!    sessions of 8 turns in flight (each turn resending its history), on 2 client threads.
//! 3. The memory the histories hold: the process's peak resident set after each run, and the
//!    largest history a session resends (its last turn's prompt, in bytes: one token per byte
//!    on the reference engine).
//!
//! The engine runs as a separate process (`llmsd reference-engine`, one worker thread).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use llms_shared::RequestRecord;
use llmsd::loadgen::conversation::Conversation;
use llmsd::loadgen::request::{Endpoint, RequestOptions};
use llmsd::loadgen::runner::Workload;
use llmsd::refengine::truth::GroundTruth;
use std::sync::Arc;
use std::time::Duration;

fn workload(url: &str, tokens: u32, prefix: &str, turns: Option<u32>) -> Workload {
    let mut w = common::chat_workload(url, tokens, prefix);
    w.conversation = turns.map(|turns| {
        Arc::new(Conversation {
            turns,
            think: Duration::ZERO,
            header: None,
            endpoint: Endpoint::Chat,
            opts: RequestOptions {
                model: None,
                max_tokens: Some(tokens),
                min_tokens: true,
            },
            users: Arc::new(llmsd::loadgen::prompts::default_set()),
            unique: true,
            dialogues: None,
            turns_dist: None,
            think_exponential: false,
            seed: 0,
            system: None,
        })
    });
    w
}

struct Run {
    records: Vec<RequestRecord>,
    cpu_s: f64,
    wall_s: f64,
    epoch_monotonic_ns: u64,
}

async fn point(w: &Workload, streams: u32, requests: u64) -> Run {
    let (r, wall_s) = common::timed(w, streams, requests).await;
    Run {
        records: r.records,
        cpu_s: r.client.cpu_s,
        wall_s,
        epoch_monotonic_ns: r.epoch_monotonic_ns,
    }
}

/// |errors| in ms: (p50, p99, max).
fn summary(mut errs: Vec<i64>) -> (f64, f64, f64) {
    errs.iter_mut().for_each(|e| *e = e.abs());
    errs.sort_unstable();
    let q = |p: f64| errs[((errs.len() as f64 - 1.0) * p).round() as usize] as f64 / 1e6;
    (q(0.5), q(0.99), q(1.0))
}

/// This process's peak resident set, MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let (ttft_ms, itl_ms, tokens) = ("20", "5", 64u32);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("llms conversation benchmark (engine: llmsd reference-engine, separate process)");
    println!();
    rt.block_on(async {
        let eng = common::RefProcess::start(&["--ttft-ms", ttft_ms, "--itl-ms", itl_ms]);
        let w = workload(&eng.url, tokens, "conv64", Some(8));
        let run = point(&w, 64, 64 * 8 * 2).await;
        let truth = GroundTruth::fetch(&eng.url).await.unwrap();
        let (epoch, truth) = (truth.epoch_monotonic_ns, truth.by_id());
        let mut errs = Vec::new();
        for r in &run.records {
            let t = &truth[&r.id];
            let start = (run.epoch_monotonic_ns + r.start_ns) as i64;
            let first_recv = start + r.ttft_ns().unwrap() as i64;
            errs.push(first_recv - (epoch + t.events[0].0) as i64);
        }
        let (p50, p99, max) = summary(errs);
        println!(
            "1. TTFT error vs ground truth, 64 sessions x 8 turns in flight ({} turns, ttft {ttft_ms} ms, itl {itl_ms} ms, {tokens} tokens/turn):",
            run.records.len()
        );
        println!("   |err| p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms");
    });
    println!();
    println!(
        "2. Client CPU per million streamed tokens, 2 client threads, {tokens} tokens/request"
    );
    let mut single = 0.0;
    for (label, turns) in [("single-turn ", None), ("conversation", Some(8u32))] {
        rt.block_on(async {
            let eng = common::RefProcess::start(&["--ttft-ms", ttft_ms, "--itl-ms", itl_ms]);
            let w = workload(&eng.url, tokens, label.trim(), turns);
            let run = point(&w, 1000, 8000).await;
            let chunks: u64 = run.records.iter().map(|r| r.chunks.len() as u64).sum();
            let per = run.cpu_s / chunks as f64 * 1e6;
            let longest = run
                .records
                .iter()
                .filter_map(|r| r.usage.prompt_tokens)
                .max()
                .unwrap_or(0);
            let vs = match turns {
                None => {
                    single = per;
                    String::new()
                }
                Some(_) => format!(" ({:+.0} % vs single-turn)", (per / single - 1.0) * 100.0),
            };
            println!(
                "   {label} 1000 in flight: {} requests, {chunks} tokens, {:.2} CPU s in {:.1} s -> {per:.2} CPU s per million tokens{vs}",
                run.records.len(),
                run.cpu_s,
                run.wall_s
            );
            println!(
                "   {:>12} peak RSS {:.0} MiB; longest prompt sent {longest} bytes",
                "",
                peak_rss_mib()
            );
        });
    }
}
