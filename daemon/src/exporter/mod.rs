//! `[metrics] listen`: llmsd's state for Prometheus, `GET /metrics` on its own listener (off
//! by default). What it says is in [`render`]; this module is the listener.
//!
//! The listener answers anyone who can reach it, so it says only what the dashboard shows
//! (job and engine names, figures), never a token, a spec or a log line. Each connection
//! gets one request of at most [`MAX_HEAD`] bytes, read within [`READ_WITHIN`], and is then
//! closed; at most [`MAX_CONNS`] are open at once, and a newcomer to a full listener closes
//! the oldest, so connections that send nothing cannot keep a scraper out.

pub mod render;

use crate::engine::EngineHandle;
use crate::gpu::GpuHandle;
use crate::rpc::calls::Calls;
use crate::scheduler::SchedulerHandle;
use crate::store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Largest request head read.
pub const MAX_HEAD: usize = 8 << 10;
/// A request not read by then is dropped.
pub const READ_WITHIN: Duration = Duration::from_secs(5);
/// Connections open at once.
pub const MAX_CONNS: usize = 16;

/// The open connections, oldest first: (number, closer).
type Open = std::sync::Mutex<std::collections::VecDeque<(u64, CancellationToken)>>;

/// Where the figures come from: the same handles the API answers from.
#[derive(Clone)]
pub struct Sources {
    /// The queue and the running points.
    pub scheduler: SchedulerHandle,
    /// The engines.
    pub engines: EngineHandle,
    /// The GPU samples.
    pub gpu: GpuHandle,
    /// For its size on disk.
    pub store: Store,
    /// API calls per method.
    pub calls: Arc<Calls>,
    /// When the daemon started, unix seconds.
    pub start_unix_s: f64,
}

/// One render at a time: a scraper that reconnects in a loop queues behind it rather than
/// piling up blocking work.
static RENDERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

impl Sources {
    /// The state now (reads files: call off the runtime's worker threads).
    pub fn snapshot(&self) -> render::Snapshot {
        render::Snapshot {
            jobs: self.scheduler.jobs().unwrap_or_default(),
            live: self.scheduler.live(),
            engines: self.engines.list(),
            gpus: self.gpu.latest(),
            own: render::Own {
                rss_bytes: rss_bytes(),
                store_bytes: self.store.size_on_disk(),
                start_unix_s: self.start_unix_s,
                now_ms: llms_shared::clock::now_ms(),
                calls: self.calls.counts(),
            },
        }
    }
}

/// The serving listener; [`Exporter::stop`] closes it.
pub struct Exporter {
    /// The address it is bound to.
    pub addr: SocketAddr,
    cancel: CancellationToken,
}

impl Exporter {
    /// Stop taking connections.
    pub fn stop(&self) {
        self.cancel.cancel();
    }
}

/// Bind `listen` and serve until [`Exporter::stop`]. An address that cannot be bound is a
/// start-up error naming `[metrics] listen`.
pub async fn serve(listen: &str, sources: Sources) -> Result<Exporter, String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("[metrics] listen = \"{listen}\": cannot listen there: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("[metrics] listen = \"{listen}\": {e}"))?;
    if !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "the metrics endpoint answers anyone who can reach {addr}: job and engine names included"
        );
    }
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let open: Arc<Open> = Arc::default();
    tokio::spawn(async move {
        for n in 0u64.. {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                () = stop.cancelled() => return,
            };
            let Ok((stream, _)) = accepted else {
                // Out of descriptors or similar: wait instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let close = CancellationToken::new();
            {
                let mut o = crate::sync::lock(&open);
                if o.len() >= MAX_CONNS
                    && let Some((_, oldest)) = o.pop_front()
                {
                    oldest.cancel();
                }
                o.push_back((n, close.clone()));
            }
            let (sources, open) = (sources.clone(), open.clone());
            tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::time::timeout(READ_WITHIN * 2, answer(stream, &sources)) => {}
                    () = close.cancelled() => {}
                }
                crate::sync::lock(&open).retain(|(m, _)| *m != n);
            });
        }
    });
    Ok(Exporter { addr, cancel })
}

/// Read one request head and answer it.
async fn answer(mut stream: TcpStream, sources: &Sources) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let head = tokio::time::timeout(READ_WITHIN, async {
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(None);
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                return Ok(Some(()));
            }
            if buf.len() > MAX_HEAD {
                return Ok(None);
            }
        }
    })
    .await;
    let (status, ctype, body) = match head {
        Ok(Ok(Some(()))) => route(&buf, sources).await,
        Ok(Ok(None)) if buf.len() > MAX_HEAD => {
            (431, "text/plain", "request head too large\n".into())
        }
        _ => return Ok(()),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Request Header Fields Too Large",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

async fn route(head: &[u8], sources: &Sources) -> (u16, &'static str, String) {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    if !matches!(req.parse(head), Ok(httparse::Status::Complete(_))) {
        return (400, "text/plain", "malformed request\n".into());
    }
    let path = req.path.unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    match (req.method, path) {
        (Some("GET"), "/metrics") => {
            // Never closed: the permit always comes.
            let permit = RENDERS.acquire().await.ok();
            let s = sources.clone();
            // The permit goes with the render, so a render whose connection closed still
            // counts until it ends.
            let text = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                render::render(&s.snapshot())
            })
            .await
            .unwrap_or_default();
            (200, render::CONTENT_TYPE, text)
        }
        (Some("GET"), "/") => (
            200,
            "text/plain",
            "llmsd: Prometheus metrics at /metrics\n".into(),
        ),
        (Some("GET"), _) => (404, "text/plain", "not found: try /metrics\n".into()),
        _ => (405, "text/plain", "only GET /metrics\n".into()),
    }
}

/// The daemon's resident set size, from `/proc/self/statm` (pages).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()?;
    Some(pages * u64::try_from(page).ok()?)
}
