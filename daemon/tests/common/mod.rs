//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod daemon;
pub mod imitation;

use llmsd::refengine::truth::{GroundTruth, TruthRecord};
use llmsd::refengine::{self, RefArgs};
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{OnceLock, mpsc};

/// A reference engine on its own runtime and threads, so the client under test does not share
/// a scheduler with it. Stops when dropped.
pub struct Engine {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Engine {
    pub fn start(args: RefArgs) -> Engine {
        let (tx, rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let running = refengine::spawn(args).await.unwrap();
                tx.send(running.url()).unwrap();
                let _ = stop_rx.await;
                drop(running);
            });
        });
        let url = rx.recv().unwrap();
        Engine {
            url,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Ground truth by request id.
    pub async fn truth(&self) -> HashMap<String, TruthRecord> {
        GroundTruth::fetch(&self.url).await.unwrap().by_id()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `RefArgs` with fixed timing.
pub fn fixed(ttft_ms: f64, itl_ms: f64) -> RefArgs {
    RefArgs {
        ttft_ms: Some(ttft_ms),
        itl_ms: Some(itl_ms),
        ..RefArgs::default()
    }
}

/// Command-line words: `"--concurrency 1,4 --requests 8"` split at spaces.
pub fn words(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

/// Parse bench options for `url` plus `extra`.
pub fn bench_args(url: &str, extra: &[&str]) -> llmsd::bench::BenchArgs {
    let mut v = vec!["--url", url];
    v.extend_from_slice(extra);
    llmsd::bench::args::parse(&v).unwrap()
}

/// Run every point of `llmsd bench` (as the daemon does, one session) and keep the records.
pub async fn run_points(
    url: &str,
    extra: &[&str],
) -> Vec<(llms_shared::PointResult, Vec<llms_shared::RequestRecord>)> {
    let mut s = llmsd::bench::Session::open(bench_args(url, extra).config().unwrap())
        .await
        .unwrap();
    let mut out = Vec::new();
    for i in 0..s.loads().len() {
        out.push(s.point(i, None).await.unwrap());
    }
    out
}

/// Paths printed by scripts/llamacpp.sh (builds on first use).
pub fn llama_artifacts() -> &'static HashMap<String, String> {
    static A: OnceLock<HashMap<String, String>> = OnceLock::new();
    A.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/llamacpp.sh");
        let out = Command::new("bash")
            .arg(script)
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/llamacpp.sh");
        assert!(out.status.success(), "scripts/llamacpp.sh failed");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    })
}
