//! Stopping engines: Ready -> Stopping -> Stopped, with the GPU check afterwards.

use super::process;
use super::state::Inner;
use super::{EngineHandle, StopReport};
use llms_shared::EngineState;
use std::time::Duration;

/// Longest wait for the GPU check after a stop.
const GPU_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

impl EngineHandle {
    /// Stop engine `id`: SIGTERM to its group, the grace period, SIGKILL to the group, reap,
    /// then check `/proc` for members left and the GPU check for the pids taken before.
    pub async fn stop(&self, id: u64) -> StopReport {
        let inner = &self.inner;
        let Some((proc, scrape)) = inner.with(id, |r| (r.proc.clone(), r.scrape.clone())) else {
            return StopReport::default();
        };
        scrape.cancel();
        let Some(proc) = proc else {
            inner.update(id, |r| {
                if !matches!(r.info.state, EngineState::Failed(_)) {
                    r.info.state = EngineState::Stopped;
                }
            });
            return StopReport::default();
        };
        let _one = proc.stop_lock.lock().await;
        if let Some(e) = proc.exit_now() {
            // Ended already (crash or an earlier stop): only check what is left.
            if e.deliberate {
                inner.set_state(id, EngineState::Stopped);
            }
            return StopReport {
                leftover_pids: process::members(proc.pgid),
                ..StopReport::default()
            };
        }
        inner.set_state(id, EngineState::Stopping);
        let mut before = process::members(proc.pgid);
        if !before.contains(&proc.pgid) {
            before.push(proc.pgid);
        }
        // Workers outside the group (MPI under orted) are the ones holding the GPU.
        before.extend(proc.escaped_pids());
        let (forced, leftover_pids) = proc.terminate(inner.cfg.grace).await;
        let gpu_pids = gpu_check(inner, before).await;
        if !gpu_pids.is_empty() || !leftover_pids.is_empty() {
            tracing::warn!(
                engine = id,
                ?leftover_pids,
                ?gpu_pids,
                "processes of a stopped engine are still alive or hold GPU memory"
            );
        }
        inner.update(id, |r| {
            r.logs.note(&format!(
                "stopped (forced: {forced}, processes left: {leftover_pids:?}, holding GPU memory: {gpu_pids:?})"
            ));
            r.info.state = EngineState::Stopped;
        });
        StopReport {
            forced,
            leftover_pids,
            gpu_pids,
        }
    }
}

async fn gpu_check(inner: &Inner, pids: Vec<u32>) -> Vec<u32> {
    match &inner.gpu_check {
        Some(check) => tokio::time::timeout(GPU_CHECK_TIMEOUT, check(pids))
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    }
}
