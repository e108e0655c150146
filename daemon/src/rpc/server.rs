//! The `Llmsd` service: translate each call and delegate, nothing else. One `Server` per
//! connection, so a TCP connection's `hello` authorizes that connection only.

use super::hub::Hub;
use crate::engine::EngineHandle;
use crate::gpu::GpuHandle;
use crate::scheduler::SchedulerHandle;
use llms_shared::{
    ApiError, EngineInfo, GpuSample, Hello, ImportRequest, JobDetail, JobState, JobSummary, Llmsd,
    PROTOCOL_VERSION, ResultRow, SubmitRequest, Update,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tarpc::context::Context;

/// What every connection shares.
#[derive(Clone)]
pub struct Api {
    /// The queue.
    pub scheduler: SchedulerHandle,
    /// The engines.
    pub engines: EngineHandle,
    /// The GPUs.
    pub gpu: GpuHandle,
    /// Change tracking for `watch`.
    pub hub: Hub,
    /// TCP token, if TCP is served.
    pub token: Option<Arc<str>>,
    /// Calls per method, for the Prometheus endpoint.
    pub calls: Arc<super::calls::Calls>,
}

/// One connection's server.
#[derive(Clone)]
pub struct Server {
    api: Api,
    /// Unix connections start authorized (the socket's mode decides who connects); TCP ones
    /// after a `hello` with the right token.
    authed: Arc<AtomicBool>,
}

impl Server {
    /// A server for a new connection.
    pub fn new(api: Api, authed: bool) -> Self {
        Self {
            api,
            authed: Arc::new(AtomicBool::new(authed)),
        }
    }

    /// Whether this connection may call (shared with the connection's task).
    pub fn authorized(&self) -> Arc<AtomicBool> {
        self.authed.clone()
    }

    fn check(&self, method: &str) -> Result<(), ApiError> {
        self.api.calls.hit(method);
        if self.authed.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(ApiError::Unauthorized(
                "call hello with the token first".into(),
            ))
        }
    }
}

/// Compare without an early exit, so the time taken says nothing about the token.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Llmsd for Server {
    async fn hello(self, _: Context, token: Option<String>) -> Result<Hello, ApiError> {
        self.api.calls.hit("hello");
        if !self.authed.load(Ordering::Acquire) {
            match (&self.api.token, token) {
                (Some(want), Some(got)) if same(want, &got) => {
                    self.authed.store(true, Ordering::Release);
                }
                _ => {
                    tracing::warn!("a TCP client presented a wrong or no token");
                    return Err(ApiError::Unauthorized("wrong token".into()));
                }
            }
        }
        Ok(Hello {
            protocol: PROTOCOL_VERSION,
            version: env!("CARGO_PKG_VERSION").into(),
            host: nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_default(),
            gpus: self.api.gpu.count(),
        })
    }

    async fn submit(self, _: Context, req: SubmitRequest) -> Result<u64, ApiError> {
        self.check("submit")?;
        self.api.scheduler.submit(req).await
    }

    async fn jobs(self, _: Context) -> Result<Vec<JobSummary>, ApiError> {
        self.check("jobs")?;
        self.api.scheduler.jobs()
    }

    async fn job(self, _: Context, id: u64) -> Result<JobDetail, ApiError> {
        self.check("job")?;
        self.api.scheduler.job(id)
    }

    async fn cancel(self, _: Context, id: u64) -> Result<JobState, ApiError> {
        self.check("cancel")?;
        self.api.scheduler.cancel(id).await
    }

    async fn reorder(self, _: Context, id: u64, position: u32) -> Result<Vec<u64>, ApiError> {
        self.check("reorder")?;
        self.api.scheduler.reorder(id, position).await
    }

    async fn results(self, _: Context, id: u64, raw: bool) -> Result<Vec<ResultRow>, ApiError> {
        self.check("results")?;
        self.api.scheduler.results(id, raw)
    }

    async fn engines(self, _: Context) -> Result<Vec<EngineInfo>, ApiError> {
        self.check("engines")?;
        Ok(self.api.engines.list())
    }

    async fn engine_log(
        self,
        _: Context,
        engine: String,
        lines: u32,
    ) -> Result<Vec<String>, ApiError> {
        self.check("engine_log")?;
        self.api
            .engines
            .log_tail(&engine, lines.min(100_000) as usize)
            .ok_or_else(|| ApiError::NotFound(format!("engine {engine}")))
    }

    async fn gpus(self, _: Context) -> Result<Vec<GpuSample>, ApiError> {
        self.check("gpus")?;
        Ok(self.api.gpu.latest())
    }

    async fn watch(self, ctx: Context, since_seq: u64, wait_ms: u64) -> Result<Update, ApiError> {
        self.check("watch")?;
        // Answer before the caller's deadline, with room for the reply to travel.
        let left = ctx
            .deadline
            .saturating_duration_since(std::time::Instant::now())
            .saturating_sub(Duration::from_millis(300));
        let wait = Duration::from_millis(wait_ms.min(30_000)).min(left);
        Ok(self.api.hub.wait(since_seq, wait).await)
    }

    async fn import(self, _: Context, req: ImportRequest) -> Result<u64, ApiError> {
        self.check("import")?;
        self.api.scheduler.import(req).await
    }
}
