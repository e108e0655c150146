//! Pieces the daemon benchmarks share: a release `llmsd`, a tarpc client on its socket, and
//! the reference engine as a process of its own.
#![allow(dead_code, clippy::unwrap_used)]

use llms_shared::LlmsdClient;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Build `llmsd` in release and return its path (figures are for the release build).
pub fn release_llmsd() -> PathBuf {
    let st = Command::new("cargo")
        .args(["build", "--release", "-p", "llmsd", "--bin", "llmsd"])
        .status();
    assert!(
        st.is_ok_and(|s| s.success()),
        "cargo build --release failed"
    );
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")))
        .join("release/llmsd")
}

/// Start `bin` as a daemon on `dir/s.sock` with its state in `dir/state`, one fake GPU, and
/// its output discarded.
pub fn start_llmsd(bin: &Path, dir: &Path) -> std::process::Child {
    Command::new(bin)
        .arg("--socket")
        .arg(dir.join("s.sock"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(["--gpu", "fake:1"])
        .env("LLMSD_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start llmsd")
}

/// A call context with a 60 s deadline.
pub fn ctx() -> tarpc::context::Context {
    let mut c = tarpc::context::current();
    c.deadline = Instant::now() + Duration::from_secs(60);
    c
}

/// Connect and say hello; `None` until the daemon answers.
pub async fn client(socket: &Path) -> Option<LlmsdClient> {
    let s = tokio::net::UnixStream::connect(socket).await.ok()?;
    let c = llms_shared::transport::client(s);
    c.hello(ctx(), None).await.ok()?.ok()?;
    Some(c)
}

/// Wait (up to 30 s) for the daemon on `socket` to answer.
pub async fn wait_client(socket: &Path) -> LlmsdClient {
    let t0 = Instant::now();
    loop {
        if let Some(c) = client(socket).await {
            return c;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "llmsd did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `llmsd reference-engine` as a separate process (one worker thread), so the client's CPU
/// time is the benchmark's alone. Killed when dropped.
pub struct RefProcess {
    child: std::process::Child,
    /// Its base URL.
    pub url: String,
}

impl RefProcess {
    /// Start it with `args` after the port and thread count.
    pub fn start(args: &[&str]) -> RefProcess {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_llmsd"))
            .args(["reference-engine", "--port", "0", "--threads", "1"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the reference engine");
        let mut line = String::new();
        let out = child.stdout.take().expect("its stdout");
        std::io::BufReader::new(out)
            .read_line(&mut line)
            .expect("its first line");
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_owned();
        RefProcess { child, url }
    }
}

impl Drop for RefProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A chat workload over the default prompt set, each request `tokens` long (forced), made
/// unique by its preamble, its ids prefixed `prefix`.
pub fn chat_workload(url: &str, tokens: u32, prefix: &str) -> llmsd::loadgen::runner::Workload {
    use llmsd::loadgen::request::{Endpoint, RequestOptions, Template};
    let client = llmsd::loadgen::client::StreamClient::new(
        format!("{url}/v1/chat/completions").parse().expect("a URL"),
        Duration::from_secs(300),
    )
    .expect("an HTTP client");
    let opts = RequestOptions {
        model: None,
        max_tokens: Some(tokens),
        min_tokens: true,
    };
    let prepared: Vec<Template> = llmsd::loadgen::prompts::default_set()
        .iter()
        .map(|p| Template::new(Endpoint::Chat, p, &opts, true, None))
        .collect();
    llmsd::loadgen::runner::Workload {
        client,
        prepared: std::sync::Arc::new(prepared),
        salt: 0,
        id_prefix: prefix.into(),
        first_prompt: 0,
        point: 0,
        conversation: None,
        trace: None,
    }
}

/// A closed-loop point of `requests` requests at `streams` in flight.
pub fn closed(streams: u32, requests: u64) -> llmsd::loadgen::runner::PointSpec {
    llmsd::loadgen::runner::PointSpec {
        load: llms_shared::Load::Concurrency {
            concurrency: streams,
        },
        requests: Some(requests),
        duration: None,
        max_concurrency: None,
        seed: 0,
    }
}

/// A measured closed-loop point: a warm-up of as many requests as streams (at least 8), so
/// every connection exists, then the point ([`timed`]).
pub async fn measured(
    w: &llmsd::loadgen::runner::Workload,
    streams: u32,
    requests: u64,
) -> (llmsd::loadgen::runner::PointRun, f64) {
    llmsd::loadgen::runner::warmup(w, streams.max(8)).await;
    timed(w, streams, requests).await
}

/// A closed-loop point, timed; no request may fail. The run and its wall time in seconds.
pub async fn timed(
    w: &llmsd::loadgen::runner::Workload,
    streams: u32,
    requests: u64,
) -> (llmsd::loadgen::runner::PointRun, f64) {
    let t = Instant::now();
    let r = llmsd::loadgen::runner::run_point(w, &closed(streams, requests))
        .await
        .unwrap();
    let failed = r.records.iter().filter(|r| r.error.is_some()).count();
    assert_eq!(failed, 0, "failed requests in a benchmark run");
    (r, t.elapsed().as_secs_f64())
}
