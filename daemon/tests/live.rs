//! The live view of a running point agrees with the point's final figures, failures included
//! (a request refused with HTTP 500 ends before any stream, and must still be counted).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Engine, bench_args, fixed};
use llms_shared::Load;
use llmsd::bench::{Session, Window};
use llmsd::loadgen::live::Live;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Told once before the first measured request and once after the last.
struct Edges(AtomicU32);

impl Window for Edges {
    fn opened(&self) {
        assert_eq!(self.0.fetch_add(1, Ordering::SeqCst), 0);
    }
    fn closed(&self) -> futures::future::BoxFuture<'_, ()> {
        assert_eq!(self.0.fetch_add(1, Ordering::SeqCst), 1);
        Box::pin(async {})
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_counts_match_the_point() {
    let mut args = fixed(2.0, 1.0);
    args.fault_500_every = Some(3);
    let engine = Engine::start(args);
    let a = bench_args(
        &engine.url,
        &[
            "--concurrency",
            "4",
            "--requests",
            "24",
            "--output-tokens",
            "8",
            "--warmup",
            "2",
        ],
    );
    let mut s = Session::open(a.config().unwrap()).await.unwrap();
    s.warmup(0).await;
    let live = Arc::new(Live::default());
    let edges = Edges(AtomicU32::new(0));
    let load = Load::Concurrency { concurrency: 4 };
    let (point, records) = s
        .measure(0, load, Some(live.clone()), &edges)
        .await
        .unwrap();
    assert_eq!(edges.0.load(Ordering::SeqCst), 2);
    let snap = live.snapshot();
    assert!(point.failed > 0, "the engine refused some requests");
    assert_eq!(snap.done, point.completed + point.failed);
    assert_eq!(snap.failed, point.failed);
    let chunk_tokens: u64 = records
        .iter()
        .flat_map(|r| r.chunks.iter())
        .map(|c| u64::from(c.1))
        .sum();
    assert_eq!(snap.tokens, chunk_tokens, "warm-up tokens are not counted");
    let (p50, _) = snap.ttft_ms.unwrap();
    assert!(
        (p50 - point.ttft_ms.p50).abs() < 0.5,
        "{p50} vs {}",
        point.ttft_ms.p50
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sampled_engine_warm_up_sends_its_requests_together() {
    let engine = Engine::start(fixed(2.0, 1.0));
    let a = bench_args(&engine.url, &["--concurrency", "1", "--requests", "2"]);
    let s = Session::open(a.config().unwrap()).await.unwrap();
    assert_eq!(s.sampled_warmup(8).await, 0);
    let truth = engine.truth().await;
    let warm: Vec<_> = truth
        .values()
        .filter(|t| t.id.starts_with("llms-engine-warmup-"))
        .collect();
    assert_eq!(warm.len(), 8);
    assert!(
        warm.iter().all(|t| t.completion_tokens == 16),
        "16 tokens each"
    );
}
