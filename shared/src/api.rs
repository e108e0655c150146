//! The daemon's RPC service ([`Llmsd`]) and every type its calls take or return.
//!
//! The wire codec is JSON (length-delimited frames) on both the Unix socket and TCP: the
//! result types use untagged enums and skipped fields, which bincode cannot carry.

use crate::result::PointResult;
use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change of [`Llmsd`] or its types.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame either side accepts (raw per-request records can be large).
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// The daemon's API. Every call is short: `submit` queues and returns, and `watch` always
/// answers before the caller's deadline.
#[tarpc::service]
pub trait Llmsd {
    /// Protocol version and daemon facts. Over TCP it must come first, with the token;
    /// every other call on that connection is refused until it succeeds.
    async fn hello(token: Option<String>) -> Result<Hello, ApiError>;
    /// Validate a sweep file completely and queue it; returns the job id. Nothing is
    /// queued when the spec is refused.
    async fn submit(req: SubmitRequest) -> Result<u64, ApiError>;
    /// Every job, oldest first.
    async fn jobs() -> Result<Vec<JobSummary>, ApiError>;
    /// One job with its spec and points.
    async fn job(id: u64) -> Result<JobDetail, ApiError>;
    /// Cancel a queued or running job; returns its state afterwards.
    async fn cancel(id: u64) -> Result<JobState, ApiError>;
    /// Move a queued job to `position` (0 = next) among the queued jobs; returns the queued
    /// job ids in their new order.
    async fn reorder(id: u64, position: u32) -> Result<Vec<u64>, ApiError>;
    /// The finished points of a job, in point order. `raw` adds the per-request records.
    async fn results(id: u64, raw: bool) -> Result<Vec<ResultRow>, ApiError>;
    /// Engines the daemon runs or ran since it started.
    async fn engines() -> Result<Vec<EngineInfo>, ApiError>;
    /// The last `lines` log lines of an engine, by id (`"7"`) or name (newest first match).
    async fn engine_log(engine: String, lines: u32) -> Result<Vec<String>, ApiError>;
    /// The latest sample of each GPU (empty without GPUs).
    async fn gpus() -> Result<Vec<GpuSample>, ApiError>;
    /// Long-poll: what changed after `since_seq`, waiting up to `wait_ms` (clamped under the
    /// call's deadline) when nothing has.
    async fn watch(since_seq: u64, wait_ms: u64) -> Result<Update, ApiError>;
    /// Store results made elsewhere (read by the client from a file) as a finished,
    /// read-only job; returns its id.
    async fn import(req: ImportRequest) -> Result<u64, ApiError>;
}

/// Results made elsewhere, for [`Llmsd::import`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportRequest {
    /// The job's name.
    pub name: String,
    /// Where they came from (the file and its format), shown with the job.
    pub origin: String,
    /// The points, numbered from 0 in order.
    pub rows: Vec<ResultRow>,
}

/// Errors of the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    /// The spec or an argument is wrong; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// No such job or engine.
    #[error("{0} not found")]
    NotFound(String),
    /// The call is not allowed in the current state (e.g. reorder a running job).
    #[error("{0}")]
    Conflict(String),
    /// TCP connection without a successful `hello`, or a wrong token.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The daemon is shutting down.
    #[error("the daemon is shutting down")]
    ShuttingDown,
    /// A failure inside the daemon.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Answer of `hello`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the daemon.
    pub protocol: u32,
    /// The daemon's package version.
    pub version: String,
    /// Host name.
    pub host: String,
    /// GPUs found (0 without a driver).
    pub gpus: u32,
}

/// A sweep file to queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitRequest {
    /// The TOML text.
    pub spec: String,
    /// Where relative paths in the spec are resolved (the file's directory, made absolute
    /// by the client).
    pub base_dir: Option<String>,
    /// The file name, for messages.
    pub file: Option<String>,
    /// The files the sweep names (`prompts`, `load.tokenizer`), read by the client with its
    /// user's permissions: the daemon never opens a path a client names.
    #[serde(default)]
    pub files: Vec<AttachedFile>,
    /// Idempotency key chosen by the client: a submit retried with the key of a job that
    /// was already queued answers that job's id instead of queueing it again.
    #[serde(default)]
    pub key: Option<String>,
}

impl SubmitRequest {
    /// The sweep `spec` alone: no directory, file name, attached files or key.
    pub fn new(spec: String) -> Self {
        Self {
            spec,
            base_dir: None,
            file: None,
            files: Vec::new(),
            key: None,
        }
    }
}

/// Most bytes a sweep's attached files may hold together (the frame limit leaves room for
/// the spec and the JSON escaping of the text).
pub const MAX_ATTACHED_BYTES: u64 = 48 * 1024 * 1024;

/// A file a sweep names, sent with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachedFile {
    /// The sweep field that names it ([`crate::sweep::PROMPTS_FIELD`],
    /// [`crate::sweep::TOKENIZER_FIELD`]).
    pub field: String,
    /// The path as the client resolved it (for messages and records).
    pub path: String,
    /// Its contents (prompt files and tokenizer.json are UTF-8 text).
    pub text: String,
}

impl AttachedFile {
    /// The file in `files` that came for `field`.
    pub fn find<'a>(files: &'a [AttachedFile], field: &str) -> Option<&'a AttachedFile> {
        files.iter().find(|f| f.field == field)
    }
}

/// State of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for its GPUs.
    Queued,
    /// Its engine is being started.
    Starting,
    /// A point is running.
    Running,
    /// Every point finished and none failed.
    Done,
    /// It ended, and at least one point (or the job itself) failed.
    Failed,
    /// Cancelled by a user.
    Cancelled,
}

impl JobState {
    /// Lower-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Starting => "starting",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Done, failed or cancelled.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }
}

/// A row of the job list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    /// Job id.
    pub id: u64,
    /// The spec's `name`.
    pub name: String,
    /// Current state.
    pub state: JobState,
    /// Points finished (failed points included).
    pub points_done: u32,
    /// Points the job expands to.
    pub points_total: u32,
    /// Place in the queue: queued jobs run in increasing order.
    #[serde(default)]
    pub order: u64,
    /// Of the finished points, how many failed.
    #[serde(default)]
    pub points_failed: u32,
    /// Submission time, unix ms.
    pub submitted_ms: u64,
    /// When the job last started running, unix ms.
    #[serde(default)]
    pub started_ms: Option<u64>,
    /// When it reached a final state, unix ms.
    #[serde(default)]
    pub finished_ms: Option<u64>,
    /// Why it failed or was cancelled.
    #[serde(default)]
    pub error: Option<String>,
    /// For a job brought in by `llms import`: where its results came from. Such a job never
    /// runs and cannot be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<String>,
}

/// One point of a job: engine x load setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointPlan {
    /// Index within the job.
    pub index: u32,
    /// The engine's name within the job.
    pub engine: String,
    /// The load setting, as `llmsd bench` writes it.
    pub load: crate::result::Load,
    /// The point's part in its engine's capacity search, when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<crate::search::SearchRole>,
}

/// A job in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    /// The list row.
    pub summary: JobSummary,
    /// The submitted TOML, as given.
    pub spec: String,
    /// The points it expands to.
    pub plan: Vec<PointPlan>,
    /// Indices of the finished points.
    pub finished: Vec<u32>,
    /// What the run warned of (failed warm-up requests, prompt lengths that may be off),
    /// oldest first.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// A finished point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// Index within the job.
    pub index: u32,
    /// The engine's name within the job.
    pub engine: String,
    /// The engine kind (`llamacpp`, `vllm`, `external`, ...).
    pub kind: String,
    /// The point's load setting (also known when it failed and has no figures).
    #[serde(default)]
    pub load: Option<crate::result::Load>,
    /// Why the point produced no figures (engine crashed, never ready, ...).
    #[serde(default)]
    pub error: Option<String>,
    /// The figures, in `llmsd bench --json` shape (absent when `error` is set).
    #[serde(default)]
    pub point: Option<PointResult>,
    /// GPU figures over the point, where there are GPUs.
    #[serde(default)]
    pub gpu: Option<PointGpu>,
    /// The engine's version as it reported it.
    #[serde(default)]
    pub engine_version: Option<String>,
    /// What the point's requests sent (none for a point that failed before its engine was
    /// measured).
    #[serde(default)]
    pub workload: Option<crate::result::WorkloadReport>,
    /// Finish time, unix ms.
    pub finished_ms: u64,
    /// The point's part in its engine's capacity search, when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<crate::search::SearchRole>,
    /// On the point that ended its engine's capacity search: what the search found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<crate::search::SearchReport>,
}

/// State of an engine process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "state", content = "detail")]
pub enum EngineState {
    /// Launched; waiting for its health check.
    Starting,
    /// Its engine is being built before launch (TensorRT-LLM's engine mode); the step.
    Building(String),
    /// Healthy and serving.
    Ready,
    /// Being stopped.
    Stopping,
    /// Stopped by the daemon.
    Stopped,
    /// Exited on its own, never got ready, or could not be started; the reason.
    Failed(String),
}

/// Common engine gauges, mapped from each engine's own `/metrics` names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineMetrics {
    /// When scraped, unix ms.
    pub unix_ms: u64,
    /// Requests being decoded.
    pub running: Option<f64>,
    /// Requests waiting to be scheduled.
    pub waiting: Option<f64>,
    /// KV-cache usage, 0 to 1.
    pub kv_cache_usage: Option<f64>,
    /// Prompt tokens processed since start.
    pub prompt_tokens_total: Option<f64>,
    /// Tokens generated since start.
    pub generation_tokens_total: Option<f64>,
}

/// An engine the daemon knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineInfo {
    /// Daemon-wide engine id.
    pub id: u64,
    /// Name within its job (`[[engine]] name`, default the kind).
    pub name: String,
    /// Kind: `external`, `reference`, `llamacpp`, ...
    pub kind: String,
    /// The job it serves.
    pub job: Option<u64>,
    /// Current state.
    pub state: EngineState,
    /// Base URL it serves on.
    pub url: String,
    /// Process-group leader (absent for `external`).
    pub pid: Option<u32>,
    /// Every live process of its group (refreshed every 2 s while it runs).
    #[serde(default)]
    pub pids: Vec<u32>,
    /// The argv it was started with.
    pub argv: Vec<String>,
    /// Log file path.
    pub log_path: Option<String>,
    /// Start time, unix ms.
    pub started_ms: u64,
    /// Latest scrape of `/metrics`.
    #[serde(default)]
    pub metrics: Option<EngineMetrics>,
    /// The version the engine reports (`/version`, `/get_server_info`, `/props`).
    #[serde(default)]
    pub version: Option<String>,
    /// How long it may take to become ready, seconds (its readiness timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_timeout_s: Option<f64>,
    /// While starting: what it is doing, as far as the daemon can tell (`launching`,
    /// `loading: the port is not open yet`, `warming up: /health answers 503`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
}

/// One reading of one GPU.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuSample {
    /// Unix ms.
    pub unix_ms: u64,
    /// NVML index.
    pub index: u32,
    /// Product name.
    pub name: String,
    /// Utilization, percent.
    pub util_pct: Option<u32>,
    /// Memory used, bytes.
    pub mem_used: Option<u64>,
    /// Memory total, bytes.
    pub mem_total: Option<u64>,
    /// Power draw, milliwatts.
    pub power_mw: Option<u32>,
    /// The power limit in force, milliwatts.
    #[serde(default)]
    pub power_limit_mw: Option<u32>,
    /// Total energy since the driver loaded, millijoules.
    pub energy_mj: Option<u64>,
    /// Temperature, °C.
    pub temp_c: Option<u32>,
    /// SM clock, MHz.
    pub sm_clock_mhz: Option<u32>,
    /// GPU memory of each process on this GPU: (pid, bytes).
    #[serde(default)]
    pub processes: Vec<(u32, u64)>,
}

/// GPU figures over one point, per GPU the job used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PointGpu {
    /// One entry per GPU.
    pub gpus: Vec<GpuPointStats>,
    /// Output tokens of the point per joule over all its GPUs (`None` without an energy
    /// counter).
    pub tokens_per_joule: Option<f64>,
    /// Samples the figures come from.
    pub samples: u32,
    /// The NVIDIA driver version NVML reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
}

/// One GPU over one point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuPointStats {
    /// NVML index.
    pub index: u32,
    /// The GPU's name as NVML reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Highest memory used, bytes.
    pub peak_mem_used: Option<u64>,
    /// Mean utilization, percent.
    pub mean_util_pct: Option<f64>,
    /// Mean power draw, watts.
    pub mean_power_w: Option<f64>,
    /// Energy over the point from the total-energy counter, joules.
    pub energy_j: Option<f64>,
    /// Mean power while idle before the point, watts (the baseline).
    pub idle_power_w: Option<f64>,
    /// `energy_j` minus the idle baseline over the same time, joules.
    pub energy_above_idle_j: Option<f64>,
    /// Highest memory of the engine's processes on this GPU, bytes.
    pub engine_mem_peak: Option<u64>,
}

/// The point being run now, as seen so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LivePoint {
    /// Job id.
    pub job: u64,
    /// Point index.
    pub index: u32,
    /// Engine name.
    pub engine: String,
    /// The load setting.
    pub load: Option<crate::result::Load>,
    /// Seconds since the measured part began.
    pub elapsed_s: f64,
    /// Requests finished (failed included).
    pub requests_done: u64,
    /// Requests the point will send, if fixed.
    pub requests_total: Option<u64>,
    /// Failed requests so far.
    pub failed: u64,
    /// Requests sent and not ended (in rate mode, what the open loop has in flight).
    #[serde(default)]
    pub in_flight: u64,
    /// Output tokens received so far.
    pub output_tokens: u64,
    /// Output tokens received in the last second.
    pub tokens_per_s: f64,
    /// TTFT so far: p50, p99 (ms).
    pub ttft_ms: Option<(f64, f64)>,
    /// ITL so far: p50, p99 (ms).
    pub itl_ms: Option<(f64, f64)>,
    /// Prompt tokens of the completed requests so far.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Of those, served from the engine's prefix cache, where the engine reports it.
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

/// Answer of `watch`: the state now, and the GPU samples since `since_seq`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Update {
    /// Pass this as `since_seq` next time.
    pub seq: u64,
    /// Whether anything changed after the caller's `since_seq`.
    pub changed: bool,
    /// Engines.
    pub engines: Vec<EngineInfo>,
    /// Jobs that are not final, and the most recent final ones.
    pub jobs: Vec<JobSummary>,
    /// The running point, if one runs.
    pub live: Vec<LivePoint>,
    /// GPU samples taken after `since_seq`, oldest first (at most a minute's worth).
    pub gpu_samples: Vec<GpuSample>,
}
