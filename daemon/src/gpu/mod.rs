//! GPU sampling: a [`GpuSource`] (NVML, or the deterministic [`FakeSource`]) read by one
//! sampler thread, at 10 Hz while a point runs and 1 Hz otherwise, and per-point figures.
//!
//! [`spawn`] starts the thread and gives a cloneable [`GpuHandle`]. NVML calls block, so they
//! run only on that `std::thread`; the handle's methods copy from shared state under a short
//! lock, and the one that needs a fresh sample ([`GpuHandle::pids_holding_memory`]) asks the
//! thread through a channel and awaits the answer.
//!
//! A point is measured between [`GpuHandle::begin_point`] and [`GpuHandle::end_point`]: the
//! thread switches to 10 Hz and takes a round at once, every round feeds the point's figures
//! (see [`summarize`] for the definitions). The idle baseline a point subtracts is only ever
//! one measured on purpose ([`GpuHandle::idle_baseline`]), with the engine loaded and no
//! request running: rounds that merely fall between points are not idle (the next point's
//! warm-up runs there, and the GPU is still hot), so they are never taken for it. A point on
//! a GPU without a measured baseline reports no idle share.
//!
//! Without GPUs (`spawn(None, ..)`, no driver, no device) every call works and reports
//! nothing: no samples, no figures.

mod fake;
mod nvml;
mod sampler;
mod source;
mod summary;

pub use fake::FakeSource;
pub use nvml::{NvmlSource, probe as nvml_probe};
pub use source::{GpuSource, source_from_config};
pub use summary::summarize;

use llms_shared::{GpuSample, PointGpu};
use sampler::{Cmd, Shared};
use std::sync::Arc;
use std::sync::mpsc::{Sender, sync_channel};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

/// Longest wait for the thread's first round in `spawn`, and for a point's closing round in
/// `end_point`: guards against a hung driver, never reached in normal running.
const ROUND_WAIT: Duration = Duration::from_secs(5);

/// The GPU sampler's handle. Cheap to clone; every clone sees the same sampler.
#[derive(Clone)]
pub struct GpuHandle {
    shared: Arc<Shared>,
    /// `None` without GPUs (no thread).
    tx: Option<Sender<Cmd>>,
}

/// One point's measurement, from [`GpuHandle::begin_point`] to [`GpuHandle::end_point`].
/// Dropping it without `end_point` (a cancelled point) discards the measurement.
pub struct PointMeter {
    id: u64,
    shared: Arc<Shared>,
}

impl Drop for PointMeter {
    fn drop(&mut self) {
        self.shared.lock().meters.remove(&self.id);
    }
}

/// Starts sampling `source` on a `std::thread` (`None`: no GPUs, no thread). Waits for the
/// first round (one NVML read, milliseconds; at most 5 s) so [`GpuHandle::count`] is known
/// on return. The thread stops when `cancel` fires or every handle is dropped.
pub fn spawn(source: Option<Box<dyn GpuSource>>, cancel: CancellationToken) -> GpuHandle {
    let shared = Arc::new(Shared::new());
    let Some(source) = source else {
        return GpuHandle { shared, tx: None };
    };
    shared.lock().driver = source.driver();
    let (tx, rx) = std::sync::mpsc::channel();
    let (ready_tx, ready_rx) = sync_channel(1);
    let thread_shared = Arc::clone(&shared);
    let thread_cancel = cancel.clone();
    let started = std::thread::Builder::new()
        .name("llmsd-gpu".into())
        .spawn(move || {
            sampler::run(source, thread_shared, rx, thread_cancel, ready_tx);
        });
    if let Err(err) = started {
        tracing::warn!(error = %err, "cannot start the GPU sampler thread; running without GPUs");
        return GpuHandle { shared, tx: None };
    }
    // Relay `cancel` at once where a runtime exists; the thread also polls it each second.
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let tx = tx.clone();
        rt.spawn(async move {
            cancel.cancelled().await;
            let _ = tx.send(Cmd::Stop);
        });
    }
    if ready_rx.recv_timeout(ROUND_WAIT).is_err() {
        tracing::warn!("the GPU sampler's first round is late");
    }
    GpuHandle {
        shared,
        tx: Some(tx),
    }
}

impl GpuHandle {
    /// GPUs seen in the first sampling round (0 without GPUs).
    pub fn count(&self) -> u32 {
        self.shared.lock().count.unwrap_or(0)
    }

    /// The newest sample of each GPU, in index order (empty without GPUs).
    pub fn latest(&self) -> Vec<GpuSample> {
        self.shared.lock().latest.clone()
    }

    /// The number of sampling rounds so far; it changes after every round.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.rounds.subscribe()
    }

    /// The samples of the rounds numbered above `round` (from [`GpuHandle::subscribe`]), oldest
    /// first, as far as the ring still holds them: about the last minute, at most 700 rounds.
    pub fn since(&self, round: u64) -> Vec<GpuSample> {
        let st = self.shared.lock();
        st.ring
            .iter()
            .filter(|r| r.n > round)
            .flat_map(|r| r.samples.iter().cloned())
            .collect()
    }

    /// Starts measuring a point on `gpus` (`None`: all) with the engine's process group
    /// `pids`. Sampling goes to 10 Hz until no meter is left, and the first round is taken
    /// at once. Its idle baseline is the one last measured on each GPU (see the module docs).
    pub fn begin_point(&self, gpus: Option<Vec<u32>>, pids: Vec<u32>) -> PointMeter {
        let id = self.shared.lock().add_meter(gpus, pids);
        if let Some(tx) = &self.tx {
            let _ = tx.send(Cmd::Wake);
        }
        PointMeter {
            id,
            shared: Arc::clone(&self.shared),
        }
    }

    /// Measures each GPU's idle power now, over `span` at the point rate, and makes it the
    /// idle baseline of every later point on that GPU (until measured again). The scheduler
    /// calls it once an engine is up and before any traffic: rounds between points are not
    /// idle (the next point's warm-up runs, the GPU is still hot), so a baseline taken there
    /// would be the load itself. Returns (index, watts); empty without GPUs.
    pub async fn idle_baseline(&self, gpus: Option<Vec<u32>>, span: Duration) -> Vec<(u32, f64)> {
        if self.tx.is_none() {
            return Vec::new();
        }
        let meter = self.begin_point(gpus.clone(), Vec::new());
        tokio::time::sleep(span).await;
        let (fig, _) = self.end_point(meter, 0);
        let idle: Vec<(u32, f64)> = fig
            .map(|f| {
                f.gpus
                    .iter()
                    .filter_map(|g| g.mean_power_w.map(|w| (g.index, w)))
                    .collect()
            })
            .unwrap_or_default();
        let mut st = self.shared.lock();
        // A GPU measured now but with no power reading drops its earlier baseline (an earlier
        // engine's) rather than keep it.
        st.pinned
            .retain(|i, _| !sampler::covers(gpus.as_deref(), *i));
        st.pinned.extend(idle.iter().copied());
        idle
    }

    /// Replaces the engine pids of a point (its process group changed); used from the next
    /// round on.
    pub fn set_pids(&self, meter: &PointMeter, pids: Vec<u32>) {
        if let Some(m) = self.shared.lock().meters.get_mut(&meter.id) {
            m.pids = pids.into_iter().collect();
        }
    }

    /// Ends a point: its figures (`None` without GPU samples) and its samples, for storage
    /// (every round for the first hour at 10 Hz, one round in ten after; the figures use all).
    ///
    /// A point always has at least two rounds: the one taken at `begin_point` and, when the
    /// point was shorter than one interval, one taken now. Only in that case does this wait
    /// for the sampler thread (one NVML read, milliseconds); otherwise it only copies.
    pub fn end_point(
        &self,
        meter: PointMeter,
        output_tokens: u64,
    ) -> (Option<PointGpu>, Vec<GpuSample>) {
        let short = self
            .shared
            .lock()
            .meters
            .get(&meter.id)
            .is_some_and(|m| m.acc.rounds() < 2);
        if let (true, Some(tx)) = (short, &self.tx) {
            let (done_tx, done_rx) = sync_channel(1);
            if tx.send(Cmd::RoundDone(done_tx)).is_ok() && done_rx.recv_timeout(ROUND_WAIT).is_err()
            {
                tracing::warn!("no closing GPU round for a short point");
            }
        }
        let mut st = self.shared.lock();
        let Some(m) = st.meters.remove(&meter.id) else {
            return (None, Vec::new());
        };
        let mut gpu = m.acc.finish(&m.baseline, output_tokens);
        // Which GPUs these were, and under which driver, as NVML names them.
        if let Some(g) = &mut gpu {
            g.driver.clone_from(&st.driver);
            for s in &mut g.gpus {
                s.name = st
                    .latest
                    .iter()
                    .find(|x| x.index == s.index)
                    .map(|x| x.name.clone());
            }
        }
        (gpu, m.kept)
    }

    /// Which of `pids` hold memory on any GPU, from a fresh round (not the latest stored
    /// one). Empty without GPUs. If the sampler has stopped or does not answer within 5 s, the
    /// latest round answers instead (logged).
    pub async fn pids_holding_memory(&self, pids: Vec<u32>) -> Vec<u32> {
        let Some(tx) = &self.tx else {
            return Vec::new();
        };
        let (reply, answer) = oneshot::channel();
        let fresh = match tx.send(Cmd::Round(reply)) {
            Ok(()) => tokio::time::timeout(ROUND_WAIT, answer)
                .await
                .ok()
                .and_then(Result::ok),
            Err(_) => None,
        };
        let samples = fresh.unwrap_or_else(|| {
            tracing::warn!("no fresh GPU round; answering from the latest");
            self.latest()
        });
        pids.into_iter()
            .filter(|pid| {
                samples
                    .iter()
                    .any(|s| s.processes.iter().any(|(p, _)| p == pid))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
