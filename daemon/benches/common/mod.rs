//! Pieces the daemon benchmarks share: a release `llmsd`, and a tarpc client on its socket.
#![allow(dead_code)]

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
