//! Starting engines: Starting -> Ready, or Failed(reason) (Stopped when cancelled).

use super::logs::LogSink;
use super::process::{self, Exit, Proc};
use super::readiness::{self, Ready};
use super::state::Record;
use super::{Engine, EngineError, EngineHandle, EngineSpec, failure, validate};
use crate::kinds::{self, Kind, Launch, PORT_IN_USE};
use llms_shared::{EngineInfo, EngineState};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

impl EngineHandle {
    /// Start an engine for `job` and return once it is ready. On a crash or timeout during
    /// start the group is stopped and [`EngineError::NotReady`] carries the reason and the last
    /// log lines; on `cancel` the group is stopped and the answer is
    /// [`EngineError::Cancelled`].
    pub async fn start(
        &self,
        spec: EngineSpec,
        job: Option<u64>,
        cancel: CancellationToken,
    ) -> Result<Engine, EngineError> {
        self.validate("engine", &spec)
            .map_err(EngineError::Invalid)?;
        let inner = &self.inner;
        if inner.closed.load(Ordering::SeqCst) {
            return Err(EngineError::Cancelled);
        }
        let kind = kinds::of(spec.kind);
        let id = inner.next_id();
        let log_path = match kind.process {
            true => {
                let safe: String = spec
                    .name
                    .chars()
                    .map(|c| match c.is_ascii_alphanumeric() || "._-".contains(c) {
                        true => c,
                        false => '_',
                    })
                    .collect();
                std::fs::create_dir_all(&inner.cfg.log_dir).map_err(|e| {
                    EngineError::Spawn(format!("log dir {}: {e}", inner.cfg.log_dir.display()))
                })?;
                Some(inner.cfg.log_dir.join(format!("engine-{id}-{safe}.log")))
            }
            false => None,
        };
        let logs = LogSink::with_max(
            log_path.as_deref(),
            inner.cfg.ring_lines,
            inner.cfg.log_max_bytes,
        )
        .map_err(|e| EngineError::Spawn(format!("log file: {e}")))?;
        let logs = Arc::new(logs);
        let url = match kind.process {
            true => String::new(),
            false => base_url(spec.url.as_deref().unwrap_or_default()),
        };
        inner.insert(Record {
            info: EngineInfo {
                id,
                name: spec.name.clone(),
                kind: spec.kind.name().to_owned(),
                job,
                state: EngineState::Starting,
                url,
                pid: None,
                pids: Vec::new(),
                argv: Vec::new(),
                log_path: log_path.map(|p| p.display().to_string()),
                started_ms: unix_ms(),
                metrics: None,
                version: None,
                ready_timeout_s: Some(ready_timeout(&inner.cfg, kind, &spec).as_secs_f64()),
                stage: Some("launching".into()),
            },
            logs: logs.clone(),
            proc: None,
            scrape: CancellationToken::new(),
        });
        let r = match super::build::needed(&spec) {
            true => self.built_engine(id, &spec, &logs, &cancel).await.map(Some),
            false => Ok(None),
        };
        // The readiness clock starts after a build.
        let deadline = Instant::now() + ready_timeout(&inner.cfg, kind, &spec);
        let r = match r {
            Ok(built) => {
                self.attempts(id, kind, &spec, &logs, deadline, &cancel, built.as_deref())
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &r {
            let state = match e {
                EngineError::Cancelled => EngineState::Stopped,
                // The state says what happened; the log lines are in the log.
                EngineError::NotReady(f) => EngineState::Failed(f.what.clone()),
                EngineError::Spawn(m) | EngineError::Invalid(m) => EngineState::Failed(m.clone()),
            };
            inner.set_state(id, state);
        }
        r
    }

    /// Launch (a second time if the first found its port taken) and wait for readiness.
    #[allow(clippy::too_many_arguments)]
    async fn attempts(
        &self,
        id: u64,
        kind: &'static Kind,
        spec: &EngineSpec,
        logs: &Arc<LogSink>,
        deadline: Instant,
        cancel: &CancellationToken,
        built: Option<&std::path::Path>,
    ) -> Result<Engine, EngineError> {
        let inner = &self.inner;
        let external = !kind.process;
        for attempt in 0..2 {
            let (url, proc) = match external {
                true => (
                    inner.with(id, |r| r.info.url.clone()).unwrap_or_default(),
                    None,
                ),
                false => {
                    let prefix = validate::command(&inner.cfg, kind.kind).ok_or_else(|| {
                        EngineError::Invalid(format!("{} not configured", kind.name()))
                    })?;
                    let port =
                        free_port().map_err(|e| EngineError::Spawn(format!("free port: {e}")))?;
                    // A kind that reads a config file gets one beside its log.
                    let config = match kind.config_file(&spec.options) {
                        Some(text) => {
                            let path = inner
                                .cfg
                                .log_dir
                                .join(format!("engine-{id}-{}.yaml", spec.name));
                            std::fs::write(&path, text).map_err(|e| {
                                EngineError::Spawn(format!("cannot write {}: {e}", path.display()))
                            })?;
                            Some(path)
                        }
                        None => None,
                    };
                    let launch = Launch {
                        model: spec.model.as_deref(),
                        options: &spec.options,
                        args: &spec.args,
                        port,
                        config: config.as_deref(),
                        built,
                    };
                    let argv = kind.argv(&prefix, &launch);
                    logs.note(&format!("starting: {argv:?}"));
                    for w in (kind.advice)(&argv) {
                        tracing::warn!(engine = %spec.name, "{w}");
                        logs.note(&format!("warning: {w}"));
                    }
                    let on_exit = self.on_exit(id, logs.clone());
                    let owner = inner.cfg.log_dir.display().to_string();
                    let p = process::launch(
                        &argv,
                        &spec.env,
                        &owner,
                        id,
                        process::Place {
                            gpus: spec.gpus.as_deref(),
                            cwd: &super::launch::scratch(&inner.cfg, id)?,
                        },
                        logs.clone(),
                        on_exit,
                    )
                    .map_err(|e| EngineError::Spawn(format!("{}: {e}", argv[0])))?;
                    let url = format!("http://127.0.0.1:{port}");
                    let (u, pp) = (url.clone(), p.clone());
                    inner.update(id, |r| {
                        r.info.state = EngineState::Starting;
                        r.info.stage = Some("launched: waiting for its first answer".into());
                        r.info.url = u;
                        r.info.pid = Some(pp.pgid);
                        r.info.argv = argv;
                        r.proc = Some(pp);
                    });
                    (url, Some(p))
                }
            };
            let stopped = inner.with(id, |r| r.info.state == EngineState::Stopped);
            if inner.closed.load(Ordering::SeqCst) || stopped == Some(true) {
                self.stop(id).await;
                return Err(EngineError::Cancelled);
            }
            let ready = readiness::wait(
                &inner.http,
                &url,
                kind.health,
                external,
                readiness::Until {
                    deadline,
                    cancel,
                    proc: proc.as_deref(),
                    fatal: &|| logs.fatal(),
                    seen: &|probe| {
                        // Probes come every 250 ms: subscribers hear of a new stage only.
                        let stage = readiness::stage(probe);
                        if inner.with(id, |r| r.info.stage.as_ref() != Some(&stage)) == Some(true) {
                            inner.update(id, |r| r.info.stage = Some(stage));
                        }
                    },
                },
            )
            .await;
            let (what, retry) = match ready {
                Ready::Yes => return Ok(self.ready(id, kind, spec, url, proc, logs)),
                Ready::Cancelled => {
                    self.stop(id).await;
                    return Err(EngineError::Cancelled);
                }
                Ready::Exited(e) if e.deliberate => return Err(EngineError::Cancelled),
                Ready::Exited(e) => {
                    let port = logs.fatal().is_some_and(|f| f.starts_with(PORT_IN_USE));
                    (e.status, port && attempt == 0)
                }
                // A fatal line while it is still up: stop it now rather than at the deadline
                // (a port taken meanwhile is tried once more on another).
                Ready::Fatal(line) => {
                    self.stop(id).await;
                    let port = line.starts_with(PORT_IN_USE);
                    (format!("fatal log line: {line}"), port && attempt == 0)
                }
                Ready::TimedOut(last) => {
                    self.stop(id).await;
                    let t = ready_timeout(&inner.cfg, kind, spec);
                    (
                        format!("not ready within {t:?} (last probe: {last})"),
                        false,
                    )
                }
            };
            if !retry {
                return Err(EngineError::NotReady(failure(&what, logs)));
            }
            logs.note("port taken meanwhile: retrying on another port");
        }
        Err(EngineError::NotReady(failure("port in use twice", logs)))
    }

    /// What happens when engine `id`'s leader ends: unless the daemon stopped it, it failed.
    fn on_exit(&self, id: u64, logs: Arc<LogSink>) -> impl FnOnce(&Exit) + Send + 'static {
        let inner = self.inner.clone();
        move |e: &Exit| {
            if !e.deliberate {
                inner.update(id, |r| {
                    r.scrape.cancel();
                    r.info.state = EngineState::Failed(failure_line(&e.status, &logs));
                    r.info.stage = None;
                });
            }
        }
    }

    /// Mark `id` ready and start its scrape loop.
    fn ready(
        &self,
        id: u64,
        kind: &Kind,
        spec: &EngineSpec,
        url: String,
        proc: Option<Arc<Proc>>,
        logs: &Arc<LogSink>,
    ) -> Engine {
        let inner = self.inner.clone();
        logs.note(&format!("ready at {url}"));
        inner.update(id, |r| {
            // Unless it died meanwhile (then `exited` tells).
            if r.info.state == EngineState::Starting {
                r.info.state = EngineState::Ready;
                r.info.stage = None;
            }
        });
        let scrape = inner.with(id, |r| r.scrape.clone()).unwrap_or_default();
        {
            // The version it reports, once.
            let (reg, http, base, paths) =
                (inner.clone(), inner.http.clone(), url.clone(), kind.version);
            tokio::spawn(async move {
                if let Some(v) = super::metrics::version(&http, &base, paths).await {
                    reg.update(id, |r| r.info.version = Some(v));
                }
            });
        }
        if let Some(p) = &proc {
            // The group's members, for per-engine GPU memory (vLLM's GPU work is in a child).
            let (pgid, stop, reg) = (p.pgid, scrape.clone(), inner.clone());
            tokio::spawn(async move {
                loop {
                    let pids = super::process::members(pgid);
                    reg.update(id, |r| r.info.pids = pids);
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
                    }
                }
            });
        }
        let sink = inner.clone();
        tokio::spawn(super::metrics::scrape_loop(
            inner.http.clone(),
            format!("{url}{}", kind.metrics),
            scrape.clone(),
            move |m| sink.set_metrics(id, m),
        ));
        Engine {
            id,
            url,
            kind: spec.kind,
            name: spec.name.clone(),
            proc,
            logs: logs.clone(),
        }
    }
}

/// The reason in one line: status and fatal line, if any.
fn failure_line(status: &str, logs: &LogSink) -> String {
    match logs.fatal() {
        Some(f) => format!("{status} ({f})"),
        None => status.to_owned(),
    }
}

/// `url` without a trailing `/` or `/v1`.
fn base_url(url: &str) -> String {
    let u = url.trim_end_matches('/');
    u.strip_suffix("/v1").unwrap_or(u).to_owned()
}

/// A port free right now on 127.0.0.1 (another process may take it before the engine does:
/// hence the retry).
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

use llms_shared::clock::now_ms as unix_ms;

/// The spec's readiness timeout, else the daemon's for this kind, else the daemon's default
/// but never below the kind's least (GPU engines take minutes to load).
fn ready_timeout(cfg: &super::EngineConfig, kind: &Kind, spec: &EngineSpec) -> std::time::Duration {
    spec.ready_timeout
        .or_else(|| cfg.kind_ready_timeouts.get(kind.name()).copied())
        .unwrap_or_else(|| cfg.ready_timeout.max(kind.min_ready))
}

/// The engine's scratch directory, `<state>/scratch/engine-ID`, made empty: its working
/// directory and the only place its file-writing flags may point.
pub(crate) fn scratch(
    cfg: &super::EngineConfig,
    id: u64,
) -> Result<std::path::PathBuf, EngineError> {
    let dir = cfg.scratch_dir.join(format!("engine-{id}"));
    let fresh = match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => std::fs::create_dir_all(&dir),
    };
    fresh.map_err(|e| EngineError::Spawn(format!("scratch directory {}: {e}", dir.display())))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base_url_drops_v1_and_slash() {
        assert_eq!(super::base_url("http://h:1/v1/"), "http://h:1");
        assert_eq!(super::base_url("http://h:1/"), "http://h:1");
        assert_eq!(super::base_url("http://h:1/x"), "http://h:1/x");
    }
}
