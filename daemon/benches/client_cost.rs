//! What the client costs in CPU. `cargo bench -p llmsd --bench client_cost` prints:
//!
//! 1. Short requests (32 output tokens, 64 streams, closed loop): CPU seconds per million
//!    streamed tokens as the difference between a 512-request and a 2,048-request run, so
//!    start-up and warm-up are excluded. Four repetitions, interleaved.
//! 2. Long requests (512 tokens, 64 and 256 streams): the same difference, and the whole
//!    run's CPU over its tokens (the figure earlier notes quoted).
//! 3. Per request and per chunk: the short and long differences at 64 streams solved for
//!    `cpu = requests x (per request + tokens x per chunk)`.
//! 4. One stream (40 ms TTFT, 10 ms between tokens, 32 tokens): CPU ms per second of run
//!    time, the client waiting on the server nearly all of it; and an idle process's.
//! 5. Short requests again on an engine that steps all its streams at once, as vLLM and SGLang
//!    do (the reference engine's batching model: 5 ms a step), instead of one timer per stream.
//!
//! The engine is `llmsd reference-engine` (one token per chunk, one chunk per network write,
//! as engines send them) in a process of its own, so the CPU time read (`getrusage` of this
//! process) is the client's. Points run where the daemon and `llmsd bench` run them: on the
//! load generator's own thread (`llmsd::loadgen::rt`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use llmsd::loadgen::probe::cpu_time;
use llmsd::loadgen::runner::Workload;
use std::time::Duration;

/// One closed-loop point: (CPU s, wall s, tokens).
async fn point(w: &Workload, streams: u32, requests: u64) -> (f64, f64, u64) {
    let (r, wall) = common::measured(w, streams, requests).await;
    let tokens = r.records.iter().map(|r| r.output_tokens()).sum();
    (r.client.cpu_s, wall, tokens)
}

/// CPU s per million tokens of the second run over the first.
fn delta(a: (f64, f64, u64), b: (f64, f64, u64)) -> f64 {
    (b.0 - a.0) / (b.2 - a.2) as f64 * 1e6
}

/// CPU s per request of the second run over the first, every request `tokens` long.
fn per_request(a: (f64, f64, u64), b: (f64, f64, u64), tokens: u64) -> f64 {
    (b.0 - a.0) / ((b.2 - a.2) / tokens) as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn range(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{lo:.2}-{hi:.2}")
}

/// Whether part `n` runs: all, or those `LLMS_COST_PARTS` lists (e.g. `1,4`).
fn part(n: u32) -> bool {
    std::env::var("LLMS_COST_PARTS")
        .map(|v| v.split(',').any(|p| p.trim() == n.to_string()))
        .unwrap_or(true)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("llms client cost (engine: llmsd reference-engine, separate process)");
    println!();
    let (mut short, mut long64, mut long256) = (Vec::new(), Vec::new(), Vec::new());
    let (mut whole64, mut whole256) = (Vec::new(), Vec::new());
    let (mut per_req_short, mut per_req_long) = (Vec::new(), Vec::new());
    if part(1) || part(2) || part(3) {
        rt.block_on(async {
        let eng = common::RefProcess::start(&["--ttft-ms", "20", "--itl-ms", "5"]);
        println!("1. Short requests: 32 tokens, 64 streams, 512 vs 2048 requests (CPU s per million tokens)");
        for rep in 0..4 {
            let w = common::chat_workload(&eng.url, 32, &format!("s{rep}"));
            let a = point(&w, 64, 512).await;
            let b = point(&w, 64, 2048).await;
            let d = delta(a, b);
            println!(
                "   run {}: {:.3} CPU s / {} tokens, {:.3} CPU s / {} tokens -> {d:.2}",
                rep + 1,
                a.0,
                a.2,
                b.0,
                b.2
            );
            short.push(d);
            per_req_short.push(per_request(a, b, 32));
        }
        println!(
            "   median {:.2} (range {}); target <= 10",
            median(short.clone()),
            range(&short)
        );
        println!();
        println!("2. Long requests: 512 tokens (CPU s per million tokens)");
        for rep in 0..2 {
            let w = common::chat_workload(&eng.url, 512, &format!("l{rep}"));
            let a = point(&w, 64, 128).await;
            let b = point(&w, 64, 512).await;
            long64.push(delta(a, b));
            whole64.push(b.0 / b.2 as f64 * 1e6);
            per_req_long.push(per_request(a, b, 512));
            let w = common::chat_workload(&eng.url, 512, &format!("m{rep}"));
            let a = point(&w, 256, 256).await;
            let b = point(&w, 256, 1024).await;
            long256.push(delta(a, b));
            whole256.push(b.0 / b.2 as f64 * 1e6);
        }
        println!(
            "    64 streams, 128 vs 512 requests: {:.2} (range {}); whole 512-request run {:.2}",
            median(long64.clone()),
            range(&long64),
            median(whole64.clone())
        );
        println!(
            "   256 streams, 256 vs 1024 requests: {:.2} (range {}); whole 1024-request run {:.2}",
            median(long256.clone()),
            range(&long256),
            median(whole256.clone())
        );
        println!("   target: no worse than before this change (docs/internals.md)");
        });
        println!();
        // cpu = n (r + t c): with t = 32 and t = 512, per-request r and per-chunk c.
        let (s, l) = (median(per_req_short), median(per_req_long));
        let c = (l - s) / (512.0 - 32.0);
        let r = s - 32.0 * c;
        println!("3. Where it goes, at 64 streams (from 1 and 2)");
        println!(
            "   per request {:.1} us, per chunk {:.2} us; a 32-token request is {:.0} % per-request cost",
            r * 1e6,
            c * 1e6,
            100.0 * r / s
        );
        println!();
    }
    if part(4) {
        println!("4. One stream: 40 ms TTFT, 10 ms between tokens, 32 tokens");
        rt.block_on(async {
        let eng = common::RefProcess::start(&["--ttft-ms", "40", "--itl-ms", "10"]);
        let w = common::chat_workload(&eng.url, 32, "one");
        let (cpu, wall, tokens) = point(&w, 1, 28).await;
        println!(
            "   {tokens} tokens in {wall:.2} s: {:.2} ms CPU per second of run time; target <= 5",
            cpu / wall * 1e3
        );
        let c0 = cpu_time();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let idle = (cpu_time() - c0).as_secs_f64() / 3.0 * 1e3;
        println!("   idle, no point running: {idle:.2} ms CPU per second");
        });
        println!();
    }
    if !part(5) {
        return;
    }
    println!("5. Short requests on a step-synchronous engine (5 ms a step, all streams at once)");
    rt.block_on(async {
        let eng = common::RefProcess::start(&[
            "--decode-ms",
            "5",
            "--decode-ms-per-seq",
            "0",
            "--prefill-ms-per-token",
            "0.01",
            "--max-running",
            "256",
        ]);
        let mut d = Vec::new();
        for rep in 0..2 {
            let w = common::chat_workload(&eng.url, 32, &format!("b{rep}"));
            let a = point(&w, 64, 512).await;
            let b = point(&w, 64, 2048).await;
            d.push(delta(a, b));
        }
        println!(
            "   64 streams, 512 vs 2048 requests: {:.2} CPU s per million tokens (range {})",
            median(d.clone()),
            range(&d)
        );
    });
}
