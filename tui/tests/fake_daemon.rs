//! `llms` against a fake daemon that speaks the transport contract (JSON over length-delimited
//! frames on a Unix socket): the commands' output and exit codes, end to end.
#![allow(clippy::unwrap_used)]

use futures::StreamExt;
use llms::cli::Format;
use llms::commands;
use llms::conn::{Target, connect};
use llms_shared::{
    ApiError, EngineInfo, GpuSample, Hello, JobDetail, JobState, JobSummary, Llmsd,
    PROTOCOL_VERSION, PointPlan, ResultRow, SubmitRequest, Update,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tarpc::context::Context;
use tarpc::server::{BaseChannel, Channel};

#[derive(Clone)]
struct Fake {
    protocol: u32,
    calls: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    fn log(&self, call: &str) {
        self.calls.lock().unwrap().push(call.to_owned());
    }
}

fn summary() -> JobSummary {
    JobSummary {
        id: 7,
        name: "sweep".into(),
        state: JobState::Running,
        points_done: 1,
        points_total: 2,
        order: 0,
        points_failed: 0,
        submitted_ms: 1_700_000_000_000,
        started_ms: None,
        finished_ms: None,
        error: None,
        imported: None,
    }
}

fn known(id: u64) -> Result<(), ApiError> {
    if id == 7 {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("job {id}")))
    }
}

impl Llmsd for Fake {
    async fn hello(self, _: Context, token: Option<String>) -> Result<Hello, ApiError> {
        self.log(&format!("hello {token:?}"));
        Ok(Hello {
            protocol: self.protocol,
            version: "0".into(),
            host: "h".into(),
            gpus: 0,
        })
    }
    async fn submit(self, _: Context, req: SubmitRequest) -> Result<u64, ApiError> {
        self.log(&format!("submit {:?} {:?}", req.base_dir, req.file));
        if req.spec.contains("bad") {
            return Err(ApiError::Invalid(
                "engine[0].kind: unknown kind `foo`".into(),
            ));
        }
        Ok(42)
    }
    async fn jobs(self, _: Context) -> Result<Vec<JobSummary>, ApiError> {
        self.log("jobs");
        Ok(vec![summary()])
    }
    async fn job(self, _: Context, id: u64) -> Result<JobDetail, ApiError> {
        self.log("job");
        known(id)?;
        let plan = (0..2)
            .map(|i| PointPlan {
                index: i,
                engine: "ref".into(),
                load: serde_json::from_value(json!({ "concurrency": 1 + i })).unwrap(),
                role: None,
            })
            .collect();
        Ok(JobDetail {
            summary: summary(),
            spec: "name = \"sweep\"".into(),
            plan,
            finished: vec![0],
            warnings: Vec::new(),
        })
    }
    async fn cancel(self, _: Context, id: u64) -> Result<JobState, ApiError> {
        known(id)?;
        Ok(JobState::Cancelled)
    }
    async fn reorder(self, _: Context, _: u64, _: u32) -> Result<Vec<u64>, ApiError> {
        Ok(vec![])
    }
    async fn results(self, _: Context, id: u64, _: bool) -> Result<Vec<ResultRow>, ApiError> {
        known(id)?;
        let point = json!({
            "load": {"concurrency": 1}, "completed": 4, "failed": 0, "errors": {},
            "duration_s": 2.0, "input_tokens": 40, "output_tokens": 80,
            "output_throughput": 40.0, "total_throughput": 60.0, "request_throughput": 2.0,
            "goodput": 2.0, "ttft_ms": lat(), "itl_ms": lat(), "tpot_ms": lat(),
            "e2e_ms": lat(), "queue_ms": lat(), "flags": ["client_bound"],
        });
        Ok(vec![ResultRow {
            index: 0,
            engine: "ref".into(),
            kind: "reference".into(),
            load: None,
            error: None,
            point: Some(serde_json::from_value(point).unwrap()),
            gpu: None,
            engine_version: None,
            workload: None,
            finished_ms: 0,
            role: None,
            search: None,
        }])
    }
    async fn engines(self, _: Context) -> Result<Vec<EngineInfo>, ApiError> {
        Ok(vec![])
    }
    async fn engine_log(self, _: Context, e: String, n: u32) -> Result<Vec<String>, ApiError> {
        if e != "ref" {
            return Err(ApiError::NotFound(format!("engine {e}")));
        }
        Ok((0..n.min(3)).map(|i| format!("line {i}")).collect())
    }
    async fn gpus(self, _: Context) -> Result<Vec<GpuSample>, ApiError> {
        Ok(vec![])
    }
    async fn import(self, _: Context, _: llms_shared::ImportRequest) -> Result<u64, ApiError> {
        Err(ApiError::Invalid("this fake stores nothing".into()))
    }
    async fn watch(self, _: Context, _: u64, _: u64) -> Result<Update, ApiError> {
        // Job 7's second point runs.
        let live = json!({
            "job": 7, "index": 1, "engine": "ref", "load": {"concurrency": 2},
            "elapsed_s": 1.0, "requests_done": 1, "requests_total": 4, "failed": 0,
            "output_tokens": 20, "tokens_per_s": 20.0, "ttft_ms": null, "itl_ms": null,
            "prompt_tokens": 10, "cached_tokens": null,
        });
        Ok(Update {
            live: vec![serde_json::from_value(live).unwrap()],
            ..Update::default()
        })
    }
}

fn lat() -> serde_json::Value {
    json!({"count": 4, "mean": 10.0, "p50": 10.0, "p90": 12.0, "p95": 12.0, "p99": 13.0, "max": 13.0})
}

/// Serve `fake` on a fresh socket in a temp dir; returns its path.
fn serve(fake: Fake, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("llms-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("llmsd.sock");
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let transport = llms_shared::transport::json(conn);
            let served = BaseChannel::with_defaults(transport).execute(fake.clone().serve());
            tokio::spawn(served.for_each(|f| async {
                tokio::spawn(f);
            }));
        }
    });
    path
}

fn fake(protocol: u32) -> Fake {
    Fake {
        protocol,
        calls: Arc::default(),
    }
}

/// Run the binary (off the runtime's threads, so the fake keeps serving).
async fn llms(socket: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_llms"));
    cmd.arg("--socket").arg(socket).args(args);
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (o.status.code(), text(o.stdout), text(o.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_against_the_fake() {
    let f = fake(PROTOCOL_VERSION);
    let sock = serve(f.clone(), "ok");
    let s = connect(&Target::Unix(sock.clone())).await.unwrap();
    assert_eq!(f.calls.lock().unwrap()[0], "hello None");

    let jobs: serde_json::Value =
        serde_json::from_str(&commands::jobs(&s, true).await.unwrap()).unwrap();
    assert_eq!(jobs[0]["id"], 7);
    assert_eq!(jobs[0]["state"], "running");
    assert!(
        commands::jobs(&s, false)
            .await
            .unwrap()
            .starts_with("ID  NAME")
    );

    let show = commands::show(&s, 7, false).await.unwrap();
    let plan = show.split("\n\n").nth(1).unwrap();
    assert_eq!(
        plan,
        "POINT  ENGINE  LOAD  STATUS\n\
         0      ref     c=1   done, flagged: client_bound\n\
         1      ref     c=2   running\n",
        "{show}"
    );
    let missing = commands::show(&s, 8, false).await.unwrap_err();
    assert_eq!(
        (missing.code, missing.message.as_str()),
        (2, "job 8 not found")
    );

    let r = commands::results(&s, 7, Format::Json, false).await.unwrap();
    let r: serde_json::Value = serde_json::from_str(&r).unwrap();
    assert_eq!(r["points"][0]["engine"], "ref");
    assert_eq!(r["points"][0]["kind"], "reference");
    assert_eq!(r["points"][0]["output_throughput"], 40.0);
    let csv = commands::results(&s, 7, Format::Csv, false).await.unwrap();
    assert_eq!(csv.lines().count(), 2);

    assert_eq!(commands::cancel(&s, 7).await.unwrap(), "cancelled\n");
    assert_eq!(
        commands::logs(&s, "ref", 2).await.unwrap(),
        "line 0\nline 1\n"
    );
    let e = commands::logs(&s, "vllm", 2).await.unwrap_err();
    assert_eq!(e.message, "engine vllm not found");
    let _ = std::fs::remove_dir_all(sock.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_against_the_fake() {
    let f = fake(PROTOCOL_VERSION);
    let sock = serve(f.clone(), "bin");
    let dir = sock.parent().unwrap().to_owned();
    let good = dir.join("good.toml");
    let bad = dir.join("bad.toml");
    std::fs::write(&good, "name = \"x\"\n").unwrap();
    std::fs::write(&bad, "bad\n").unwrap();

    let (code, out, _) = llms(&sock, &["submit", good.to_str().unwrap(), "--json"]).await;
    assert_eq!((code, out.as_str()), (Some(0), "{\"id\": 42}\n"));
    let expect = format!(
        "submit Some({:?}) Some({:?})",
        dir.display().to_string(),
        good.display().to_string()
    );
    assert!(f.calls.lock().unwrap().contains(&expect));

    let (code, _, err) = llms(&sock, &["submit", bad.to_str().unwrap()]).await;
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        format!(
            "llms: {}: engine[0].kind: unknown kind `foo`\n",
            bad.display()
        )
    );

    let (code, _, err) = llms(&sock, &["cancel", "9"]).await;
    assert_eq!((code, err.as_str()), (Some(2), "llms: job 9 not found\n"));

    let (code, out, _) = llms(&sock, &["results", "7", "--format", "md"]).await;
    assert_eq!(code, Some(0));
    assert!(out.starts_with("| point | engine |"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_protocol_is_refused() {
    let sock = serve(fake(PROTOCOL_VERSION + 1), "proto");
    let e = connect(&Target::Unix(sock.clone())).await.err().unwrap();
    let _ = std::fs::remove_dir_all(sock.parent().unwrap());
    assert_eq!(e.code, 2);
    let want = format!(
        "llmsd speaks protocol {}, this llms speaks {PROTOCOL_VERSION}",
        PROTOCOL_VERSION + 1
    );
    assert_eq!(e.message, want);
}
