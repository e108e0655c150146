//! How exact and how cheap is the client? `cargo bench -p llmsd --bench loadgen` prints:
//!
//! 1. TTFT and ITL error against the reference engine's ground truth (the time each chunk's
//!    write returned in the engine) at 1, 64 and 256 concurrent streams. Both processes read
//!    the same `CLOCK_MONOTONIC`, so the true TTFT is the engine's first-token write minus the
//!    client's request start, and the TTFT error is how late the client stamped that token.
//!    ITL error compares each gap with the engine's gap between the same two writes.
//! 2. The highest chunk rate the client's one thread sustains (engine in burst mode: whole
//!    streams in one write, so the client is the bottleneck).
//!
//! The engine runs as a separate process (`llmsd reference-engine`, one worker thread). The
//! client runs where the daemon runs it, on the load generator's own thread. What the client
//! costs in CPU is `cargo bench -p llmsd --bench client_cost`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use llms_shared::RequestRecord;
use llmsd::loadgen::runner::Workload;
use llmsd::refengine::truth::{GroundTruth, TruthRecord};
use std::collections::HashMap;

/// Ground truth by request id, and the engine's epoch on the monotonic clock.
async fn truth(url: &str) -> (HashMap<String, TruthRecord>, u64) {
    let t = GroundTruth::fetch(url).await.unwrap();
    let epoch = t.epoch_monotonic_ns;
    (t.by_id(), epoch)
}

/// |errors| in ms: (p50, p99, max), and the signed mean.
fn summary(mut errs: Vec<i64>) -> (f64, f64, f64, f64) {
    let mean = errs.iter().sum::<i64>() as f64 / errs.len().max(1) as f64 / 1e6;
    errs.iter_mut().for_each(|e| *e = e.abs());
    errs.sort_unstable();
    let q = |p: f64| errs[((errs.len() as f64 - 1.0) * p).round() as usize] as f64 / 1e6;
    (q(0.5), q(0.99), q(1.0), mean)
}

struct Run {
    records: Vec<RequestRecord>,
    cpu_s: f64,
    wall_s: f64,
    lag_p99_ms: f64,
    epoch_monotonic_ns: u64,
}

async fn point(w: &Workload, streams: u32, requests: u64) -> Run {
    let (r, wall_s) = common::measured(w, streams, requests).await;
    Run {
        records: r.records,
        cpu_s: r.client.cpu_s,
        wall_s,
        lag_p99_ms: r.client.lag_p99_ms,
        epoch_monotonic_ns: r.epoch_monotonic_ns,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn main() {
    let (ttft_ms, itl_ms, tokens) = (20.0, 5.0, 64u32);
    println!("llms load generator benchmark (engine: llmsd reference-engine, separate process)");
    println!();
    println!(
        "1. Error against ground truth: ttft {ttft_ms} ms, itl {itl_ms} ms, {tokens} tokens/request"
    );
    println!(
        "{:>7} {:>8} | {:>23} | {:>23} | {:>18} | {:>7}",
        "streams",
        "requests",
        "TTFT |err| p50/p99/max",
        "ITL |err| p50/p99/max",
        "transit p50/p99",
        "lag p99"
    );
    runtime().block_on(async {
        let eng = common::RefProcess::start(&["--ttft-ms", &ttft_ms.to_string(), "--itl-ms", &itl_ms.to_string()]);
        for (streams, requests) in [(1u32, 60u64), (64, 512), (256, 1024)] {
            let w = common::chat_workload(&eng.url, tokens, &format!("c{streams}"));
            let run = point(&w, streams, requests).await;
            let (truth, engine_epoch) = truth(&eng.url).await;
            let (mut ttft, mut itl, mut transit) = (Vec::new(), Vec::new(), Vec::new());
            for r in &run.records {
                let t = &truth[&r.id];
                assert_eq!(r.chunks.len(), t.events.len());
                // On the shared monotonic time line.
                let start = (run.epoch_monotonic_ns + r.start_ns) as i64;
                let first_recv = start + r.ttft_ns().unwrap() as i64;
                let first_sent = (engine_epoch + t.events[0].0) as i64;
                ttft.push(first_recv - first_sent);
                transit.push((engine_epoch + t.received_ns) as i64 - start);
                for (c, e) in r.chunks.windows(2).zip(t.events.windows(2)) {
                    itl.push((c[1].0 - c[0].0) as i64 - (e[1].0 - e[0].0) as i64);
                }
            }
            // The engine stamps after its write returns; on loopback the client can read the
            // bytes before that, so small negative errors are possible. Report the worst.
            let earliest = ttft.iter().min().copied().unwrap_or(0) as f64 / 1e6;
            let (t50, t99, tmax, _) = summary(ttft);
            let (i50, i99, imax, _) = summary(itl);
            let (x50, x99, _, _) = summary(transit);
            println!(
                "{streams:>7} {requests:>8} | {t50:>7.3} {t99:>7.3} {tmax:>7.3} | {i50:>7.3} {i99:>7.3} {imax:>7.3} | {x50:>8.3} {x99:>8.3} | {:>7.3}",
                run.lag_p99_ms
            );
            println!("{:>18} earliest stamp vs engine write: {earliest:+.3} ms", "");
        }
    });
    println!(
        "   (ms. TTFT error: client first-token stamp minus the engine's write of that token."
    );
    println!(
        "    transit: client request start to the engine having read the request, not part of TTFT error.)"
    );
    println!();
    println!("2. Highest chunk rate of the client's thread (engine writes whole streams at once)");
    runtime().block_on(async {
        let eng = common::RefProcess::start(&["--burst"]);
        for (streams, tokens, requests) in [(16u32, 2048u32, 256u64), (64, 512, 1024)] {
            let w = common::chat_workload(&eng.url, tokens, &format!("b{streams}"));
            let run = point(&w, streams, requests).await;
            let chunks: u64 = run.records.iter().map(|r| r.chunks.len() as u64).sum();
            println!(
                "{streams:>7} streams x {tokens} tokens: {chunks} chunks in {:.2} s wall, {:.2} CPU s -> {:.0} chunks/s wall, {:.0} chunks per CPU second",
                run.wall_s,
                run.cpu_s,
                chunks as f64 / run.wall_s,
                chunks as f64 / run.cpu_s
            );
        }
    });
}
