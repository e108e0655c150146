//! The poller against a fake daemon on a Unix socket: it follows `watch`, reports the
//! daemon going away, and reconnects when it is back.
#![allow(clippy::unwrap_used)]
use super::*;
use futures::StreamExt;
use llms_shared::{
    ApiError, EngineInfo, GpuSample, Hello, JobDetail, JobState, JobSummary, Llmsd,
    PROTOCOL_VERSION, ResultRow, SubmitRequest, Update,
};
use std::path::{Path, PathBuf};
use tarpc::context::Context;
use tarpc::server::{BaseChannel, Channel};

#[derive(Clone)]
struct Fake;

impl Llmsd for Fake {
    async fn hello(self, _: Context, _: Option<String>) -> Result<Hello, ApiError> {
        Ok(Hello {
            protocol: PROTOCOL_VERSION,
            version: "t".into(),
            host: "h".into(),
            gpus: 0,
        })
    }
    async fn submit(self, _: Context, _: SubmitRequest) -> Result<u64, ApiError> {
        Ok(1)
    }
    async fn jobs(self, _: Context) -> Result<Vec<JobSummary>, ApiError> {
        Ok(vec![])
    }
    async fn job(self, _: Context, id: u64) -> Result<JobDetail, ApiError> {
        Err(ApiError::NotFound(format!("job {id}")))
    }
    async fn cancel(self, _: Context, _: u64) -> Result<JobState, ApiError> {
        Ok(JobState::Cancelled)
    }
    async fn reorder(self, _: Context, _: u64, _: u32) -> Result<Vec<u64>, ApiError> {
        Ok(vec![])
    }
    async fn results(self, _: Context, _: u64, _: bool) -> Result<Vec<ResultRow>, ApiError> {
        Ok(vec![])
    }
    async fn engines(self, _: Context) -> Result<Vec<EngineInfo>, ApiError> {
        Ok(vec![])
    }
    async fn engine_log(self, _: Context, _: String, _: u32) -> Result<Vec<String>, ApiError> {
        Ok(vec![])
    }
    async fn gpus(self, _: Context) -> Result<Vec<GpuSample>, ApiError> {
        Ok(vec![])
    }
    async fn import(self, _: Context, _: llms_shared::ImportRequest) -> Result<u64, ApiError> {
        Err(ApiError::Invalid("this fake stores nothing".into()))
    }
    async fn watch(self, _: Context, since: u64, _: u64) -> Result<Update, ApiError> {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(Update {
            seq: since + 1,
            changed: true,
            ..Default::default()
        })
    }
}

/// Serve on `path`; aborting the returned task drops the listener and every connection.
fn serve(path: &Path) -> tokio::task::JoinHandle<()> {
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path).unwrap();
    tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((conn, _)) = listener.accept().await {
            let transport = llms_shared::transport::json(conn);
            let served = BaseChannel::with_defaults(transport).execute(Fake.serve());
            conns.spawn(served.for_each(|f| async {
                f.await;
            }));
        }
    })
}

async fn next(rx: &mut mpsc::UnboundedReceiver<AppEvent>) -> DaemonEvent {
    let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no event within 10 s")
        .unwrap();
    match ev {
        AppEvent::Daemon(d) => d,
        AppEvent::Reply(r) => panic!("unexpected reply {r:?}"),
    }
}

#[tokio::test]
async fn follows_watch_and_reconnects_when_the_daemon_returns() {
    let dir: PathBuf = std::env::temp_dir().join(format!("llms-poller-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    let server = serve(&path);
    let target = Target::Unix(path.clone());
    let first = connect(&target).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (stx, srx) = watch::channel(None);
    let poller = tokio::spawn(run(target, first, tx, stx));

    assert!(matches!(next(&mut rx).await, DaemonEvent::Connected(h) if h.version == "t"));
    assert!(matches!(next(&mut rx).await, DaemonEvent::Update(u) if u.seq == 1));
    assert!(srx.borrow().is_some());

    server.abort();
    let _ = server.await;
    let _ = std::fs::remove_file(&path);
    loop {
        match next(&mut rx).await {
            DaemonEvent::Disconnected(_) => break,
            DaemonEvent::Update(_) => continue,
            DaemonEvent::Connected(_) => panic!("connected to nothing"),
        }
    }
    assert!(srx.borrow().is_none());

    let server = serve(&path);
    loop {
        match next(&mut rx).await {
            DaemonEvent::Connected(_) => break,
            DaemonEvent::Disconnected(_) => continue,
            DaemonEvent::Update(_) => panic!("an update while disconnected"),
        }
    }
    // A fresh connection starts from sequence 0 again.
    assert!(matches!(next(&mut rx).await, DaemonEvent::Update(u) if u.seq == 1));
    poller.abort();
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
