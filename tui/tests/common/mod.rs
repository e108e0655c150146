//! Helpers shared by the tests that run the real binaries: `llmsd` (built next to `llms` by
//! `cargo test --workspace`) on a temporary socket and state directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// A binary of the workspace, next to `llms`.
pub fn bin(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_llms")).with_file_name(name);
    assert!(
        p.exists(),
        "{} is not built: run the tests with `cargo test --workspace`",
        p.display()
    );
    p
}

/// A child process, killed and reaped when dropped.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `llmsd reference-engine` on a free loopback port with fixed timing; its port.
pub fn reference_engine(ttft_ms: &str, itl_ms: &str) -> (Kill, u16) {
    let port = free_port();
    let child = Command::new(bin("llmsd"))
        .args(["reference-engine", "--port", &port.to_string()])
        .args(["--ttft-ms", ttft_ms, "--itl-ms", itl_ms])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    (Kill(child), port)
}

/// A fresh directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("llms-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `llmsd` on `dir/s.sock` with its state in `dir/state` and `--gpu GPU`, its log appended
/// to `dir/llmsd.log`; returns once the socket answers.
pub fn start_daemon(dir: &Path, gpu: &str) -> Kill {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("llmsd.log"))
        .unwrap();
    let child = Command::new(bin("llmsd"))
        .args(["--socket", dir.join("s.sock").to_str().unwrap()])
        .args(["--state-dir", dir.join("state").to_str().unwrap()])
        .args(["--gpu", gpu])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while std::os::unix::net::UnixStream::connect(dir.join("s.sock")).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "llmsd did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Kill(child)
}

/// A loopback port free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `llms --socket dir/s.sock ARGS`.
pub fn llms(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llms"))
        .arg("--socket")
        .arg(dir.join("s.sock"))
        .args(args)
        .output()
        .unwrap()
}

/// Its stdout, once it succeeded.
pub fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// Job `id` as `llms jobs --json` lists it.
pub fn job(dir: &Path, id: u64) -> serde_json::Value {
    let jobs: serde_json::Value =
        serde_json::from_str(&stdout(&llms(dir, &["jobs", "--json"]))).unwrap();
    jobs.as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == id)
        .cloned()
        .expect("job listed")
}

/// Poll job `id` until `pred` (a failure guard of two minutes, not a timing claim).
pub fn wait(dir: &Path, id: u64, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let t0 = Instant::now();
    loop {
        let j = job(dir, id);
        if pred(&j) {
            return j;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "stuck: {j}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
