//! `run`: the only place that wires the subsystems together. Read this first.
//!
//! Start: open the store (refusing a newer schema), start the GPU sampler and the engine
//! supervisor, re-queue interrupted jobs and start the scheduler, serve the API, tell systemd
//! READY. Stop (the `shutdown` future, i.e. SIGTERM/SIGINT): tell systemd STOPPING, stop taking
//! RPCs, interrupt the running points (their jobs are queued again and resume there), stop
//! every engine (SIGTERM to the group, grace, SIGKILL), flush the store.

use crate::config::Config;
use crate::engine::{self, EngineConfig, GpuCheck};
use crate::rpc::{self, hub::Hub, server::Api};
use crate::{exporter, gpu, scheduler, store::Store};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What `run` reports once serving (for tests and the log).
#[derive(Debug, Clone)]
pub struct Started {
    /// The Unix socket.
    pub socket: std::path::PathBuf,
    /// The TCP address, if any.
    pub tcp: Option<std::net::SocketAddr>,
    /// The Prometheus endpoint's address, if any.
    pub metrics: Option<std::net::SocketAddr>,
}

/// Open the store and check it (every value's checksum, and the journal's jobs, points and
/// final states): a store that cannot be trusted is refused, naming the file and the fix.
pub fn open_store(db_dir: &std::path::Path) -> Result<Store, String> {
    let fix = |what: String| {
        let state = db_dir.parent().unwrap_or(db_dir).display();
        format!(
            "{what}. Nothing was changed. Rebuild it from its journal with `llmsd repair \
             --state-dir {state}` (the damaged store is kept beside it)"
        )
    };
    // sled panics on some damage: contain it and say what it is.
    let opened = std::panic::catch_unwind(|| {
        let store = Store::open(db_dir)?;
        let report = store.verify()?;
        Ok::<_, crate::store::StoreError>((store, report))
    });
    match opened {
        Ok(Ok((store, report))) => {
            tracing::info!(
                values = report.values,
                jobs = report.jobs,
                "store checked{}",
                match report.backfilled {
                    0 => String::new(),
                    n => format!(" ({n} job(s) journaled for the first time)"),
                }
            );
            Ok(store)
        }
        Ok(Err(e)) if e.is_locked() => Err(format!(
            "the store {} is in use by another llmsd",
            db_dir.display()
        )),
        Ok(Err(e @ crate::store::StoreError::TooNew { .. })) => Err(e.to_string()),
        Ok(Err(crate::store::StoreError::Damaged(what))) => Err(fix(format!(
            "the store {} is damaged: {what}",
            db_dir.display()
        ))),
        Ok(Err(e)) => Err(fix(format!(
            "the store {} is damaged or unreadable: {e}",
            db_dir.display()
        ))),
        Err(_) => Err(fix(format!(
            "the store {} is damaged: sled could not read it",
            db_dir.display()
        ))),
    }
}

/// Run the daemon until `shutdown` resolves. Errors are start-up failures, in one line.
pub async fn run(
    cfg: Config,
    shutdown: impl std::future::Future<Output = ()>,
    on_start: impl FnOnce(&Started),
) -> Result<Exit, String> {
    let db_dir = cfg.state_dir.join("db");
    let log_dir = cfg.state_dir.join("logs");
    for d in [&db_dir, &log_dir] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let store = open_store(&db_dir)?;
    // Scratch directories of the last run's engines are emptied (their outputs, downloads
    // included, live as long as the daemon run that made them).
    let scratch = cfg.state_dir.join("scratch");
    let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(scratch)).await;
    // Engines a killed predecessor left running would hold GPUs and ports the resumed jobs
    // need: stop them first.
    engine::reap_orphans(&log_dir, cfg.engine_grace).await;
    let cancel = CancellationToken::new();
    let source = gpu::source_from_config(&cfg.gpu).map_err(|e| format!("gpu: {e}"))?;
    let gpu = gpu::spawn(source, cancel.child_token());
    tracing::info!(gpus = gpu.count(), "GPU sampler started ({})", cfg.gpu);
    let g = gpu.clone();
    let check: GpuCheck = Arc::new(move |pids| {
        let g = g.clone();
        Box::pin(async move { g.pids_holding_memory(pids).await })
    });
    let engines = engine::spawn(
        EngineConfig {
            commands: cfg.engines.clone(),
            log_dir,
            grace: cfg.engine_grace,
            ready_timeout: cfg.ready_timeout,
            kind_ready_timeouts: cfg.engine_ready.clone(),
            ring_lines: 2000,
            log_max_bytes: cfg.engine_log_max_bytes,
            trtllm: cfg.trtllm.clone(),
            cache_dir: cfg.state_dir.clone(),
            gpu_names: gpu.latest().into_iter().map(|s| s.name).collect(),
            external_hosts: cfg.external_hosts.clone(),
            scratch_dir: cfg.state_dir.join("scratch"),
        },
        Some(check),
    );
    // The Engines list keeps the last engines of earlier runs (their logs stay readable).
    engines.remember(store.recent_engines(50));
    let sched_stop = CancellationToken::new();
    let scheduler = scheduler::spawn(
        store.clone(),
        engines.clone(),
        gpu.clone(),
        sched_stop.clone(),
    )
    .map_err(|e| e.to_string())?;
    let hub = Hub::spawn(
        scheduler.clone(),
        engines.clone(),
        gpu.clone(),
        cancel.child_token(),
    );
    let calls = Arc::new(rpc::calls::Calls::default());
    let api = Api {
        scheduler: scheduler.clone(),
        engines: engines.clone(),
        gpu: gpu.clone(),
        hub,
        token: cfg.token.as_deref().map(Arc::from),
        calls: calls.clone(),
    };
    let exporter = match &cfg.metrics_listen {
        Some(addr) => {
            let sources = exporter::Sources {
                scheduler: scheduler.clone(),
                engines: engines.clone(),
                gpu: gpu.clone(),
                store: store.clone(),
                calls,
                start_unix_s: llms_shared::clock::now_ms() as f64 / 1000.0,
            };
            Some(exporter::serve(addr, sources).await?)
        }
        None => None,
    };
    let listening = rpc::serve(api, &cfg.socket, cfg.listen.as_deref()).await?;
    // Only now, with the API up, may jobs start engines.
    scheduler.start();
    let started = Started {
        socket: listening.socket.clone(),
        tcp: listening.tcp,
        metrics: exporter.as_ref().map(|e| e.addr),
    };
    tracing::info!(socket = %started.socket.display(), tcp = ?started.tcp, metrics = ?started.metrics, "serving");
    on_start(&started);
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let watchdog = tokio::spawn(watchdog());
    let recover = async {
        let why = scheduler.failed().await;
        writable_again(&cfg.state_dir, &why).await;
    };
    let restart = tokio::select! {
        () = shutdown => false,
        () = recover => true,
    };
    tracing::info!(
        "stopping{}",
        if restart {
            " to restart on a writable store"
        } else {
            ""
        }
    );
    // A restart is a reload to systemd: the same process says READY again once serving.
    let _ = sd_notify::notify(&[match restart {
        true => sd_notify::NotifyState::Reloading,
        false => sd_notify::NotifyState::Stopping,
    }]);
    listening.stop().await;
    if let Some(e) = &exporter {
        e.stop();
    }
    sched_stop.cancel();
    scheduler.wait().await;
    engines.stop_all().await;
    if restart {
        // The store cannot be flushed (it failed); what it made durable before is the truth.
        watchdog.abort();
        cancel.cancel();
        return Ok(Exit::Restart);
    }
    let flushed = store.flush().await;
    cancel.cancel();
    watchdog.abort();
    flushed.map_err(|e| format!("cannot flush the store: {e}"))?;
    tracing::info!("stopped");
    Ok(Exit::Stopped)
}

/// How [`run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Stopped as asked.
    Stopped,
    /// The store failed and the state directory takes writes again: start afresh (the
    /// store is reopened; the paused job resumes).
    Restart,
}

/// Restarts after store failures so far, carried across the re-execution.
pub const RESTARTS_ENV: &str = "LLMSD_STORE_RESTARTS";

/// Resolves once a 1 MiB probe file can be written and synced in the store's and the
/// journal's directories, tried at growing intervals: 5 s, doubling with each try and with
/// each earlier restart (a failure the probe cannot see backs off too), at most 5 min.
async fn writable_again(state: &std::path::Path, why: &str) {
    let earlier: u32 = std::env::var(RESTARTS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut wait = std::time::Duration::from_secs(5 << earlier.min(6));
    let dirs = [state.join("db"), state.join("db.journal")];
    loop {
        wait = wait.min(std::time::Duration::from_secs(300));
        tokio::time::sleep(wait).await;
        let dirs = dirs.clone();
        let ok = tokio::task::spawn_blocking(move || {
            dirs.iter().all(|d| {
                let p = d.join(".write-probe");
                let r = std::fs::write(&p, vec![0u8; 1 << 20])
                    .and_then(|()| std::fs::File::open(&p)?.sync_all());
                let _ = std::fs::remove_file(&p);
                r.is_ok()
            })
        })
        .await
        .unwrap_or(false);
        if ok {
            return;
        }
        tracing::warn!("still cannot write {} ({why})", state.display());
        wait *= 2;
    }
}

/// Ping systemd's watchdog at half its interval, when it has one.
async fn watchdog() {
    let Some(interval) = sd_notify::watchdog_enabled().filter(|d| !d.is_zero()) else {
        return;
    };
    let every = interval / 2;
    loop {
        tokio::time::sleep(every).await;
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
    }
}
