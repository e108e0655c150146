//! Change tracking for `watch`: one sequence number that moves whenever engines, jobs, the
//! live points or the GPU samples change, and the GPU samples stamped with the number they
//! arrived at, so a client asking "since N" gets exactly what it has not seen.

use crate::engine::EngineHandle;
use crate::gpu::GpuHandle;
use crate::scheduler::SchedulerHandle;
use llms_shared::{GpuSample, JobSummary, Update};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// GPU rounds kept for watchers (a minute at 10 Hz).
const KEEP: usize = 600;
/// Final jobs sent along with the unfinished ones.
const RECENT_FINAL: usize = 20;

/// GPU rounds, each stamped with the sequence number it arrived at.
type GpuLog = VecDeque<(u64, Vec<GpuSample>)>;

/// Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    seq: watch::Receiver<u64>,
    gpu_log: Arc<Mutex<GpuLog>>,
    scheduler: SchedulerHandle,
    engines: EngineHandle,
}

impl Hub {
    /// Start following the subsystems until `cancel`.
    pub fn spawn(
        scheduler: SchedulerHandle,
        engines: EngineHandle,
        gpu: GpuHandle,
        cancel: CancellationToken,
    ) -> Hub {
        let (tx, rx) = watch::channel(1u64);
        let gpu_log = Arc::new(Mutex::new(VecDeque::new()));
        let log = gpu_log.clone();
        let (mut jobs, mut live, mut eng, mut rounds) = (
            scheduler.subscribe(),
            scheduler.subscribe_live(),
            engines.subscribe(),
            gpu.subscribe(),
        );
        tokio::spawn(async move {
            let mut last_round = *rounds.borrow();
            loop {
                let gpu_changed = tokio::select! {
                    r = jobs.changed() => { if r.is_err() { return; } false }
                    r = live.changed() => { if r.is_err() { return; } false }
                    r = eng.changed() => { if r.is_err() { return; } false }
                    r = rounds.changed() => { if r.is_err() { return; } true }
                    () = cancel.cancelled() => return,
                };
                let next = *tx.borrow() + 1;
                if gpu_changed {
                    let samples = gpu.since(last_round);
                    last_round = *rounds.borrow_and_update();
                    {
                        let mut l = crate::sync::lock(&log);
                        l.push_back((next, samples));
                        while l.len() > KEEP {
                            l.pop_front();
                        }
                    }
                }
                tx.send_replace(next);
            }
        });
        Hub {
            seq: rx,
            gpu_log,
            scheduler,
            engines,
        }
    }

    /// What changed after `since`, waiting up to `wait` for a change.
    pub async fn wait(&self, since: u64, wait: Duration) -> Update {
        let mut rx = self.seq.clone();
        let now = *rx.borrow_and_update();
        if since > now {
            // A number from before a daemon restart: start the caller over.
            return self.update(0, now);
        }
        if now <= since {
            let _ = tokio::time::timeout(wait, rx.wait_for(|s| *s > since)).await;
        }
        let seq = *rx.borrow();
        self.update(since, seq)
    }

    fn update(&self, since: u64, seq: u64) -> Update {
        let changed = seq > since;
        let gpu_samples = {
            let l = crate::sync::lock(&self.gpu_log);
            match since {
                // A first call (since 0) gets the latest round only, not the last minute.
                0 => l.back().map(|(_, s)| s.clone()).unwrap_or_default(),
                _ => l
                    .iter()
                    .filter(|(s, _)| *s > since)
                    .flat_map(|(_, v)| v.iter().cloned())
                    .collect(),
            }
        };
        Update {
            seq: seq.max(since),
            changed,
            engines: self.engines.list(),
            jobs: recent(self.scheduler.jobs().unwrap_or_default()),
            live: self.scheduler.live(),
            gpu_samples,
        }
    }
}

/// Unfinished jobs, and the last few final ones.
fn recent(jobs: Vec<JobSummary>) -> Vec<JobSummary> {
    let finals = jobs.iter().filter(|j| j.state.is_final()).count();
    let mut skip = finals.saturating_sub(RECENT_FINAL);
    jobs.into_iter()
        .filter(|j| {
            if j.state.is_final() && skip > 0 {
                skip -= 1;
                false
            } else {
                true
            }
        })
        .collect()
}
