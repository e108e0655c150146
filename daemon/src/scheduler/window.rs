//! A point's measured window as the GPU meter follows it: the meter starts right before the
//! first measured request and ends right after the last one. Ending may wait for the sampler's
//! closing round (up to a few seconds when NVML is slow); that wait runs on a blocking thread,
//! never on the point's runtime.

use crate::bench::Window;
use crate::engine::Engine;
use crate::gpu::{GpuHandle, PointMeter};
use crate::loadgen::live::Live;
use crate::sync::lock;
use futures::future::BoxFuture;
use llms_shared::{GpuSample, PointGpu};
use std::sync::Mutex;

/// What a point's GPU meter measured: its figures (`None` without GPU samples) and samples.
pub(super) type Measured = (Option<PointGpu>, Vec<GpuSample>);

/// One point's GPU window.
pub(super) struct GpuWindow<'a> {
    gpu: &'a GpuHandle,
    gpus: Option<Vec<u32>>,
    engine: &'a Engine,
    live: &'a Live,
    /// The meter while the window is open.
    meter: Mutex<Option<PointMeter>>,
    /// What it measured, once closed.
    ended: Mutex<Option<Measured>>,
}

impl<'a> GpuWindow<'a> {
    /// The window of a point of `engine` on `gpus` (`None`: all), counting `live`'s tokens.
    pub fn new(
        gpu: &'a GpuHandle,
        gpus: Option<Vec<u32>>,
        engine: &'a Engine,
        live: &'a Live,
    ) -> Self {
        Self {
            gpu,
            gpus,
            engine,
            live,
            meter: Mutex::new(None),
            ended: Mutex::new(None),
        }
    }

    /// Whether the measured part is under way.
    pub fn is_open(&self) -> bool {
        lock(&self.meter).is_some()
    }

    /// Follow the engine's processes as they are now (its process group may change).
    pub fn refresh_pids(&self) {
        if let Some(m) = lock(&self.meter).as_ref() {
            self.gpu.set_pids(m, self.engine.pids());
        }
    }

    /// What was measured; nothing for a point interrupted before its window closed (its
    /// meter is dropped with it).
    pub fn take(&self) -> Measured {
        lock(&self.ended).take().unwrap_or_default()
    }
}

impl Window for GpuWindow<'_> {
    fn opened(&self) {
        let meter = self.gpu.begin_point(self.gpus.clone(), self.engine.pids());
        *lock(&self.meter) = Some(meter);
    }

    fn closed(&self) -> BoxFuture<'_, ()> {
        let taken = lock(&self.meter).take();
        let tokens = self.live.snapshot().tokens;
        let gpu = self.gpu.clone();
        Box::pin(async move {
            let Some(meter) = taken else { return };
            let measured = tokio::task::spawn_blocking(move || gpu.end_point(meter, tokens))
                .await
                .unwrap_or_default();
            *lock(&self.ended) = Some(measured);
        })
    }
}
