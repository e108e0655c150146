//! Engine supervision: launch engines in their own process groups on free ports, wait for
//! readiness, keep their logs, detect crashes, stop them (SIGTERM, grace, SIGKILL to the
//! group) and scrape their `/metrics` into the common names.
//!
//! Kinds are rows of a table ([`crate::kinds::KINDS`]): `external` (an OpenAI-compatible URL that is
//! already running: no process), `reference` (`llmsd reference-engine`), `llamacpp`
//! (`llama-server`), `vllm` (`vllm serve`), `sglang` (`sglang.launch_server`) and `trtllm`
//! (`trtllm-serve`, PyTorch backend). Binaries come from the daemon config ([`EngineConfig::commands`]); specs
//! only append `args`. Nothing runs through a shell.
//!
//! The daemon makes itself a child subreaper (Linux) when the supervisor is spawned, so the
//! orphans of a killed engine leader become its children and are reaped, not left as zombies.

mod build;
mod launch;
mod logs;
mod metrics;
pub mod past;
mod process;
mod readiness;
mod state;
mod stop;
mod validate;

pub use crate::kinds::{EngineKind, EngineOptions};
pub use build::TrtTools;
/// Map an engine's Prometheus `/metrics` text onto the common [`EngineMetrics`](llms_shared::EngineMetrics).
pub use metrics::map as map_metrics;

use futures::future::BoxFuture;
use llms_shared::EngineInfo;
use logs::LogSink;
use process::Proc;
use state::Inner;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Supervisor settings, from the daemon config.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Kind -> argv prefix, e.g. `"llamacpp" -> ["llama-server"]`. `"reference"` defaults to
    /// `[current_exe, "reference-engine"]` when absent.
    pub commands: BTreeMap<String, Vec<String>>,
    /// Where `engine-{id}-{name}.log` files go (created if missing).
    pub log_dir: PathBuf,
    /// From SIGTERM to SIGKILL [default 10 s].
    pub grace: Duration,
    /// Longest wait for `/health`, unless the spec or [`EngineConfig::kind_ready_timeouts`]
    /// sets one [default 600 s; GPU engines never less than 15 min].
    pub ready_timeout: Duration,
    /// Per kind (`[engines.vllm] ready_timeout_s`), over `ready_timeout`.
    pub kind_ready_timeouts: BTreeMap<String, Duration>,
    /// Log lines kept in memory per engine [default 2000].
    pub ring_lines: usize,
    /// An engine's log file is rotated (to `.1`) at this size [default 64 MiB].
    pub log_max_bytes: u64,
    /// TensorRT-LLM's engine-mode programs.
    pub trtllm: TrtTools,
    /// Where built engines are kept (TensorRT-LLM's engine mode) [default: `log_dir`'s parent].
    pub cache_dir: PathBuf,
    /// Each GPU's name by index, as NVML tells it (part of a built engine's cache key).
    pub gpu_names: Vec<String>,
    /// Where each engine gets its scratch directory (`engine-ID`, its working directory)
    /// (default: `log_dir/scratch`; the daemon: `<state>/scratch`).
    pub scratch_dir: PathBuf,
    /// Hosts an `external` engine's URL may name: `loopback` (127.0.0.0/8, ::1, localhost),
    /// host names or IP addresses, or `*` for any [default: loopback only].
    pub external_hosts: Vec<String>,
}

impl EngineConfig {
    /// The defaults, logs under `log_dir`.
    pub fn new(log_dir: impl Into<PathBuf>) -> Self {
        let log_dir: PathBuf = log_dir.into();
        Self {
            commands: BTreeMap::new(),
            cache_dir: log_dir
                .parent()
                .map_or_else(|| log_dir.clone(), std::path::Path::to_path_buf),
            scratch_dir: log_dir.join("scratch"),
            log_dir,
            trtllm: TrtTools::default(),
            gpu_names: Vec::new(),
            external_hosts: vec!["loopback".into()],
            grace: Duration::from_secs(10),
            ready_timeout: Duration::from_secs(600),
            kind_ready_timeouts: BTreeMap::new(),
            ring_lines: 2000,
            log_max_bytes: logs::DEFAULT_MAX_FILE,
        }
    }
}

impl Default for EngineConfig {
    /// The defaults, logs under the temporary directory (`llms-engines`).
    fn default() -> Self {
        Self::new(std::env::temp_dir().join("llms-engines"))
    }
}

/// One engine of a job, as the job spec gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSpec {
    /// Name within its job (used in the log file name and `log_tail`).
    pub name: String,
    /// Its kind.
    pub kind: EngineKind,
    /// Model: a GGUF file for `llamacpp`, the served name for `reference`.
    pub model: Option<String>,
    /// Base URL, `external` only.
    pub url: Option<String>,
    /// Appended to the kind's argv.
    pub args: Vec<String>,
    /// Added to the engine's environment.
    pub env: Vec<(String, String)>,
    /// GPUs it may use (`CUDA_VISIBLE_DEVICES`); `None` leaves the variable alone.
    pub gpus: Option<Vec<u32>>,
    /// Overrides [`EngineConfig::ready_timeout`].
    pub ready_timeout: Option<Duration>,
    /// Options every engine kind maps to its own flags.
    pub options: EngineOptions,
}

impl EngineSpec {
    /// Engine `name` of `kind` with `args` appended to its command, and nothing else set: no
    /// model, URL, environment, GPUs, options or own readiness timeout.
    pub fn new(kind: EngineKind, name: &str, args: &[&str]) -> EngineSpec {
        EngineSpec {
            name: name.into(),
            kind,
            model: None,
            url: None,
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            env: Vec::new(),
            gpus: None,
            ready_timeout: None,
            options: EngineOptions::default(),
        }
    }
}

/// Given pids, answers those that still hold GPU memory (NVML where present).
pub type GpuCheck = Arc<dyn Fn(Vec<u32>) -> BoxFuture<'static, Vec<u32>> + Send + Sync>;

/// Why an engine could not be started.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The process could not be started (binary missing, log file not writable, ...).
    #[error("cannot start the engine: {0}")]
    Spawn(String),
    /// It exited or did not get healthy in time: the reason and the last log lines.
    #[error("engine not ready: {0}")]
    NotReady(Failure),
    /// The caller cancelled, or the engine was stopped, while it started.
    #[error("engine start cancelled")]
    Cancelled,
    /// The spec is wrong; the message names the field.
    #[error("{0}")]
    Invalid(String),
}

/// Stop the engines an earlier run of a daemon with this `log_dir` left running (it was
/// killed with no chance to stop them): SIGTERM to each group, `grace`, SIGKILL. Returns the
/// process groups found.
pub async fn reap_orphans(log_dir: &std::path::Path, grace: std::time::Duration) -> Vec<u32> {
    let groups = process::orphans(&log_dir.display().to_string());
    for g in &groups {
        let forced = process::terminate_group(*g, grace).await;
        tracing::warn!(
            pgid = g,
            forced,
            "stopped an engine left running by an earlier llmsd"
        );
    }
    groups
}

/// The argv prefix a kind runs with under `cfg` (`reference` defaults to this executable).
pub fn command_for(cfg: &EngineConfig, kind: EngineKind) -> Option<Vec<String>> {
    validate::command(cfg, kind)
}

/// Sampled requests an engine of `kind` needs once before its first measured point (its
/// one-time kernel compiles), 0 for most.
pub fn warmup_sampled(kind: EngineKind) -> u32 {
    crate::kinds::of(kind).warmup_sampled
}

/// Start the supervisor. Makes this process a child subreaper (see the module docs).
pub fn spawn(cfg: EngineConfig, gpu_check: Option<GpuCheck>) -> EngineHandle {
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let http = crate::loadgen::client::http_builder()
        .build()
        .unwrap_or_else(|_| reqwest::Client::new());
    EngineHandle {
        inner: Arc::new(Inner::new(cfg, gpu_check, http)),
    }
}

/// The supervisor: start, stop, list and tail engines. Cheap to clone.
#[derive(Clone)]
pub struct EngineHandle {
    inner: Arc<Inner>,
}

/// A started (ready) engine.
#[derive(Clone)]
pub struct Engine {
    /// Daemon-wide id.
    pub id: u64,
    /// Base URL (no `/v1`).
    pub url: String,
    /// Its kind.
    pub kind: EngineKind,
    /// Its name.
    pub name: String,
    proc: Option<Arc<Proc>>,
    logs: Arc<LogSink>,
}

/// What stopping an engine took and left.
#[derive(Debug, Clone, Default)]
pub struct StopReport {
    /// SIGKILL was needed after the grace period.
    pub forced: bool,
    /// Processes of the group still alive afterwards (none, normally).
    pub leftover_pids: Vec<u32>,
    /// Processes of the group (taken before the stop) still holding GPU memory.
    pub gpu_pids: Vec<u32>,
}

/// Log lines put in failure reasons.
const TAIL_LINES: usize = 20;

impl EngineHandle {
    /// Check a spec against the kinds and the daemon config; `field` prefixes the message
    /// (e.g. `engine[1]` gives "engine[1].kind: ...").
    pub fn validate(&self, field: &str, spec: &EngineSpec) -> Result<(), String> {
        validate::spec(&self.inner.cfg, field, spec)
    }

    /// Every engine since the supervisor started (the last 100 that ended), oldest first.
    pub fn list(&self) -> Vec<EngineInfo> {
        self.inner.infos()
    }

    /// Engines of earlier daemon runs (newest first, as the store kept them), listed before
    /// this run's so the Engines screen does not forget them at a restart.
    pub fn remember(&self, past: Vec<EngineInfo>) {
        self.inner.set_past(past);
    }

    /// One engine's info, by id.
    pub fn info(&self, id: u64) -> Option<EngineInfo> {
        self.inner.with(id, |r| r.info.clone())
    }

    /// A counter that goes up on any engine state or metrics change.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.subscribe()
    }

    /// The last `lines` log lines of engine `key`: an id ("7") or a name (the newest engine
    /// with that name).
    pub fn log_tail(&self, key: &str, lines: usize) -> Option<Vec<String>> {
        if let Some(id) = self.inner.resolve(key) {
            return self.inner.with(id, |r| r.logs.tail(lines));
        }
        // An engine of an earlier run: its log file, as the store kept it, else as the log
        // directory names it (an engine dropped from the list).
        let path = match self.inner.past_log(key) {
            Some(p) => std::path::PathBuf::from(p),
            None => past::find(&self.inner.cfg.log_dir, key)?.path,
        };
        past::tail(&path, lines).ok()
    }

    /// Stop every engine still starting or running (daemon shutdown); no start succeeds after.
    pub async fn stop_all(&self) {
        self.inner
            .closed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let stops = self.inner.active().into_iter().map(|id| self.stop(id));
        futures::future::join_all(stops).await;
    }
}

impl Engine {
    /// Current members of its process group (from `/proc`); empty for `external`.
    pub fn pids(&self) -> Vec<u32> {
        self.proc
            .as_ref()
            .map_or_else(Vec::new, |p| process::members(p.pgid))
    }

    /// Resolves when the engine process dies on its own (not by a stop), with how ("exited
    /// with status N", "killed by signal S") and its last log lines. Never resolves for
    /// `external` or after a deliberate stop.
    pub async fn exited(&self) -> String {
        if let Some(p) = &self.proc {
            let e = p.exited().await;
            if !e.deliberate {
                return failure(&e.status, &self.logs).to_string();
            }
        }
        std::future::pending().await
    }
}

/// Why an engine failed, for people: one line, and the engine's last log lines where its log
/// tells more.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// What happened, with the log's fatal line in parentheses when there is one.
    pub what: String,
    /// The last log lines, when the log was read.
    pub log: Option<Vec<String>>,
}

impl Failure {
    /// A reason with no log to it.
    pub fn plain(what: String) -> Self {
        Self { what, log: None }
    }
}

impl std::fmt::Display for Failure {
    /// `what`, then `; last log lines:` and each line indented on its own.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)?;
        if let Some(lines) = &self.log {
            f.write_str("; last log lines:")?;
            for l in lines {
                write!(f, "\n  {l}")?;
            }
        }
        Ok(())
    }
}

/// "{what} ({fatal line})" + the last log lines.
fn failure(what: &str, logs: &LogSink) -> Failure {
    let what = match logs.fatal() {
        Some(f) => format!("{what} ({f})"),
        None => what.to_owned(),
    };
    Failure {
        what,
        log: Some(logs.tail(TAIL_LINES)),
    }
}
