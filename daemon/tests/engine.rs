//! The engine supervisor with real processes: the reference engine (`llmsd reference-engine`,
//! with its process faults) and the real llama.cpp `llama-server` from scripts/llamacpp.sh.
//! Timeouts here only guard against hangs; no test asserts latency.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use llms_shared::EngineState;
use llmsd::engine::{self, EngineConfig, EngineError, EngineHandle, EngineSpec, GpuCheck};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const GUARD: Duration = Duration::from_secs(60);

fn log_dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("llms-engine-test-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn config(test: &str) -> EngineConfig {
    let mut c = EngineConfig::new(log_dir(test));
    c.commands.insert(
        "reference".into(),
        vec![
            env!("CARGO_BIN_EXE_llmsd").into(),
            "reference-engine".into(),
        ],
    );
    c.grace = Duration::from_secs(5);
    c.ready_timeout = Duration::from_secs(30);
    c
}

fn spec(kind: &str, name: &str, args: &[&str]) -> EngineSpec {
    EngineSpec::new(kind.parse().unwrap(), name, args)
}

/// Whether `pid` still exists at all (a zombie counts: it was not reaped).
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn http() -> reqwest::Client {
    llmsd::loadgen::client::http_builder().build().unwrap()
}

async fn complete(url: &str, stream: bool) -> reqwest::Result<String> {
    let body = serde_json::json!({"prompt": "hello", "max_tokens": 8, "stream": stream});
    let r = http()
        .post(format!("{url}/v1/completions"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .timeout(Duration::from_secs(30))
        .send()
        .await?;
    r.text().await
}

/// Wait until the engine's scraped generation counter reaches `at_least`.
async fn generation_total(h: &EngineHandle, id: u64, at_least: f64) -> f64 {
    let mut rx = h.subscribe();
    timeout(GUARD, async {
        loop {
            let info = h.list().into_iter().find(|i| i.id == id).unwrap();
            if let Some(v) = info.metrics.and_then(|m| m.generation_tokens_total)
                && v >= at_least
            {
                return v;
            }
            rx.changed().await.unwrap();
        }
    })
    .await
    .expect("metrics scraped")
}

#[tokio::test]
async fn starts_serves_lists_tails_scrapes_and_stops() {
    // A GPU check that answers the pids still alive, and remembers what it was asked.
    let asked = Arc::new(Mutex::new(Vec::new()));
    let a = asked.clone();
    let check: GpuCheck = Arc::new(move |pids: Vec<u32>| {
        a.lock().unwrap().extend(pids.iter().copied());
        Box::pin(async move { pids.into_iter().filter(|p| exists(*p)).collect() })
    });
    let h = engine::spawn(config("basic"), Some(check));
    let e = h
        .start(
            spec("reference", "ref", &["--ttft-ms", "1", "--itl-ms", "1"]),
            Some(7),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    let models = http()
        .get(format!("{}/v1/models", e.url))
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 200);
    assert!(models.text().await.unwrap().contains("\"truth\""));

    let info = h.list().pop().unwrap();
    assert_eq!(
        (info.id, info.job, info.state),
        (e.id, Some(7), EngineState::Ready)
    );
    assert!(info.argv.iter().any(|a| a == "--port"), "{:?}", info.argv);
    let pid = info.pid.unwrap();
    assert!(e.pids().contains(&pid));
    let tail = h.log_tail("ref", 50).unwrap();
    assert!(tail.iter().any(|l| l.contains("listening on")), "{tail:?}");
    assert_eq!(h.log_tail(&e.id.to_string(), 50), Some(tail));
    assert_eq!(h.log_tail("nope", 5), None);

    complete(&e.url, true).await.unwrap();
    assert!(generation_total(&h, e.id, 8.0).await >= 8.0);

    let pids = e.pids();
    let r = h.stop(e.id).await;
    assert!(
        !r.forced && r.leftover_pids.is_empty() && r.gpu_pids.is_empty(),
        "{r:?}"
    );
    assert_eq!(*asked.lock().unwrap(), pids);
    assert_eq!(h.list().pop().unwrap().state, EngineState::Stopped);
    for p in pids {
        assert!(!exists(p), "pid {p} left");
    }
    assert!(e.pids().is_empty());
    // A deliberate stop is no crash.
    assert!(
        timeout(Duration::from_millis(300), e.exited())
            .await
            .is_err()
    );
    let file = std::fs::read_to_string(info.log_path.unwrap()).unwrap();
    assert!(file.contains("listening on"), "{file}");
}

#[tokio::test]
async fn a_crash_resolves_exited_with_status_and_log_lines() {
    let h = engine::spawn(config("crash"), None);
    let e = h
        .start(
            spec("reference", "crashy", &["--exit-after", "1"]),
            None,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    let url = e.url.clone();
    let req = tokio::spawn(async move { complete(&url, true).await });
    let why = timeout(GUARD, e.exited()).await.unwrap();
    assert!(why.starts_with("exited with status 3"), "{why}");
    assert!(why.contains("--exit-after 1"), "{why}");
    let _ = req.await;
    let info = h.list().pop().unwrap();
    assert!(
        matches!(&info.state, EngineState::Failed(r) if r.contains("status 3")),
        "{:?}",
        info.state
    );
    assert!(!exists(info.pid.unwrap()));
    let r = h.stop(e.id).await;
    assert!(r.leftover_pids.is_empty(), "{r:?}");
    assert!(matches!(
        h.list().pop().unwrap().state,
        EngineState::Failed(_)
    ));
}

#[tokio::test]
async fn never_ready_times_out_with_log_lines_and_leaves_nothing() {
    let h = engine::spawn(config("never"), None);
    let mut s = spec("reference", "stuck", &["--never-ready"]);
    s.ready_timeout = Some(Duration::from_secs(2));
    let err = timeout(GUARD, h.start(s, None, CancellationToken::new()))
        .await
        .unwrap()
        .err()
        .unwrap();
    let EngineError::NotReady(msg) = err else {
        panic!("{err:?}")
    };
    let msg = msg.to_string();
    assert!(msg.contains("not ready within 2s"), "{msg}");
    assert!(msg.contains("503"), "{msg}");
    assert!(msg.contains("listening on"), "{msg}");
    let info = h.list().pop().unwrap();
    assert!(
        matches!(info.state, EngineState::Failed(_)),
        "{:?}",
        info.state
    );
    assert!(!exists(info.pid.unwrap()));
}

#[tokio::test]
async fn a_fatal_log_line_fails_the_start_at_once() {
    let h = engine::spawn(config("fatal"), None);
    let mut s = spec(
        "reference",
        "oom",
        &[
            "--never-ready",
            "--log-line",
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
        ],
    );
    // A deadline far beyond the test's guard: only the fatal line can end the start in time.
    s.ready_timeout = Some(Duration::from_secs(3600));
    let err = timeout(GUARD, h.start(s, None, CancellationToken::new()))
        .await
        .expect("the fatal line ended the start, not the 1 h deadline")
        .err()
        .unwrap();
    let EngineError::NotReady(msg) = err else {
        panic!("{err:?}")
    };
    let msg = msg.to_string();
    assert!(msg.contains("CUDA out of memory"), "{msg}");
    let info = h.list().pop().unwrap();
    assert!(!exists(info.pid.unwrap()), "the engine was stopped");
}

#[tokio::test]
async fn ignoring_sigterm_gets_the_whole_group_killed_and_reaped() {
    let mut cfg = config("deaf");
    cfg.grace = Duration::from_secs(1);
    let h = engine::spawn(cfg, None);
    let e = h
        .start(
            spec("reference", "deaf", &["--ignore-sigterm"]),
            None,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    // The child is started before the leader listens.
    let pids = e.pids();
    assert_eq!(pids.len(), 2, "{pids:?}");
    let r = h.stop(e.id).await;
    assert!(r.forced, "{r:?}");
    assert!(r.leftover_pids.is_empty(), "{r:?}");
    for p in pids {
        assert!(!exists(p), "pid {p} left (orphaned or not reaped)");
    }
    let tail = h.log_tail("deaf", 100).unwrap();
    assert!(
        tail.iter().any(|l| l.contains("ignoring SIGTERM")),
        "{tail:?}"
    );
}

#[tokio::test]
async fn cancel_spawn_failure_external_and_validation() {
    let mut cfg = config("misc");
    cfg.commands
        .insert("llamacpp".into(), vec!["/no/such/llama-server".into()]);
    let h = engine::spawn(cfg, None);

    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        c.cancel();
    });
    let r = timeout(
        GUARD,
        h.start(spec("reference", "c", &["--never-ready"]), None, cancel),
    )
    .await;
    assert!(matches!(r.unwrap(), Err(EngineError::Cancelled)));
    let info = h.list().pop().unwrap();
    assert_eq!(info.state, EngineState::Stopped);
    assert!(!exists(info.pid.unwrap()));

    let mut s = spec("llamacpp", "l", &[]);
    s.model = Some(env!("CARGO_BIN_EXE_llmsd").into()); // any existing file
    let r = h.start(s, None, CancellationToken::new()).await;
    assert!(matches!(&r, Err(EngineError::Spawn(m)) if m.contains("/no/such/llama-server")));

    let inner = h
        .start(
            spec("reference", "inner", &[]),
            None,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    let mut s = spec("external", "ext", &[]);
    s.url = Some(format!("{}/v1", inner.url));
    let ext = h.start(s, None, CancellationToken::new()).await.unwrap();
    assert_eq!(ext.url, inner.url);
    assert!(ext.pids().is_empty());
    complete(&ext.url, false).await.unwrap();
    generation_total(&h, ext.id, 8.0).await;
    let r = h.stop(ext.id).await;
    assert!(!r.forced && r.leftover_pids.is_empty());
    h.stop_all().await;
    assert!(
        h.list()
            .iter()
            .all(|i| matches!(i.state, EngineState::Stopped | EngineState::Failed(_)))
    );
    assert!(matches!(
        h.start(
            spec("reference", "late", &[]),
            None,
            CancellationToken::new()
        )
        .await,
        Err(EngineError::Cancelled)
    ));

    let e = h
        .validate("engine[1]", &spec("vllm", "v", &[]))
        .unwrap_err();
    assert!(e.starts_with("engine[1].kind:"), "{e}");
    let bad = h
        .start(spec("external", "x", &[]), None, CancellationToken::new())
        .await;
    assert!(matches!(bad, Err(EngineError::Invalid(m)) if m.contains(".url:")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llamacpp_starts_is_scraped_and_stops_cleanly() {
    let a = common::llama_artifacts();
    let mut cfg = config("llamacpp");
    cfg.commands
        .insert("llamacpp".into(), vec![a["LLMS_LLAMA_SERVER"].clone()]);
    cfg.ready_timeout = Duration::from_secs(120);
    let h = engine::spawn(cfg, None);
    let mut s = spec(
        "llamacpp",
        "llama",
        &[
            "--threads",
            "1",
            "--ctx-size",
            "2048",
            "--parallel",
            "2",
            "--no-webui",
        ],
    );
    s.model = Some(a["LLMS_TINY_GGUF"].clone());
    let e = h.start(s, None, CancellationToken::new()).await.unwrap();
    assert_eq!(e.pids().len(), 1);
    complete(&e.url, false).await.unwrap();
    assert!(generation_total(&h, e.id, 1.0).await >= 1.0);
    let m = h.list().pop().unwrap().metrics.unwrap();
    assert!(
        m.running.is_some() && m.prompt_tokens_total.is_some(),
        "{m:?}"
    );
    assert_eq!(m.kv_cache_usage, None);
    let pids = e.pids();
    let r = h.stop(e.id).await;
    assert!(!r.forced && r.leftover_pids.is_empty(), "{r:?}");
    for p in pids {
        assert!(!exists(p));
    }
    let tail = h.log_tail("llama", 200).unwrap();
    assert!(
        tail.iter().any(|l| l.contains("exited with status 0")),
        "{tail:?}"
    );
}

/// While an engine starts, its info says how long it may take and what it is doing: here a
/// reference engine that answers 503 for its first 1.5 s (a model loading). Once ready, the
/// stage is gone.
#[tokio::test]
async fn a_starting_engine_says_its_stage_and_timeout() {
    let h = engine::spawn(config("stage"), None);
    let mut s = spec("reference", "slow", &["--startup-ms", "1500"]);
    s.ready_timeout = Some(Duration::from_secs(20));
    let mut rx = h.subscribe();
    let start = tokio::spawn({
        let h = h.clone();
        async move { h.start(s, None, CancellationToken::new()).await }
    });
    let seen = timeout(GUARD, async {
        loop {
            if let Some(i) = h.list().pop()
                && let Some(stage) = i.stage.filter(|s| s.starts_with("warming up"))
            {
                return (stage, i.ready_timeout_s, i.state);
            }
            rx.changed().await.unwrap();
        }
    })
    .await
    .expect("a warming-up stage was reported");
    assert_eq!(seen.1, Some(20.0));
    assert_eq!(seen.2, EngineState::Starting);
    assert!(seen.0.contains("503"), "{}", seen.0);
    let e = timeout(GUARD, start).await.unwrap().unwrap().unwrap();
    let info = h.list().into_iter().find(|i| i.id == e.id).unwrap();
    assert_eq!((info.state, info.stage), (EngineState::Ready, None));
    h.stop(e.id).await;
}
