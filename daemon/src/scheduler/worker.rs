//! Runs one job: for each engine, start it, run its unfinished points, stop it. Each point is
//! stored and flushed before the next begins. A point ends one of four ways: figures; the
//! engine died (the point fails with the reason and the engine's last log lines, and the
//! engine's remaining points fail with it); the job was cancelled; or the daemon is stopping
//! (the point is dropped and re-run on the next start).

use super::{SchedulerHandle, now_ms, spec};
use crate::bench::Session;
use crate::engine::{Engine, EngineOptions, EngineSpec};
use crate::gpu::PointMeter;
use crate::loadgen::live::Live;
use crate::store::{JobRecord, StoredSample};
use llms_shared::{EngineDef, GpuSample, JobState, LivePoint, PointGpu, PointPlan, ResultRow};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long the idle power is measured once an engine is up, before its first request.
const IDLE_SPAN: Duration = Duration::from_secs(1);

pub(super) struct Worker {
    pub sched: SchedulerHandle,
    pub job: u64,
    pub cancel: CancellationToken,
}

/// How a job's run ended early.
enum Stop {
    /// The user cancelled it (its state is already written).
    Cancelled,
    /// The daemon is stopping: back to the queue.
    Shutdown,
    /// The store could not be read or written: stop rather than run points whose results
    /// cannot be kept (or run finished ones again). `true`: the disk refused (full,
    /// read-only, failing), so the job pauses until the daemon restarts on a writable store.
    Store(String, bool),
}

/// The engine spec of an `[[engine]]` entry in a sweep on `gpus`. An `external` server is
/// not ours to place, so it gets none.
pub(super) fn engine_spec(e: &EngineDef, gpus: Option<&[u32]>) -> EngineSpec {
    let gpus = if e.kind == "external" {
        None
    } else {
        gpus.map(<[u32]>::to_vec)
    };
    EngineSpec {
        name: e.name.clone().unwrap_or_else(|| e.kind.clone()),
        kind: e.kind.clone(),
        model: e.model.clone(),
        url: e.url.clone(),
        args: e.args.clone(),
        env: e.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        gpus,
        ready_timeout: e.ready_timeout_s.map(Duration::from_secs_f64),
        options: EngineOptions {
            max_batch: e.max_batch,
            max_model_len: e.max_model_len,
            gpu_memory_fraction: e.gpu_memory_fraction,
            tensor_parallel: e.tensor_parallel,
            dtype: e.dtype.clone(),
            prefix_cache: e.prefix_cache,
            seed: e.seed,
            mode: e.mode.clone(),
        },
    }
}

/// The model name to send: what the spec says for servers that name models by their spec
/// (external), else whatever the server lists.
fn request_model(e: &EngineDef) -> Option<String> {
    match e.kind.as_str() {
        "external" => e.model.clone(),
        _ => None,
    }
}

impl Worker {
    pub async fn run(self) {
        let s = &self.sched;
        let job = match s.inner.store.job(self.job) {
            Ok(Some(job)) if !job.state.is_final() => job,
            // Cancelled between being picked and starting.
            Ok(Some(_)) => return,
            Ok(None) => {
                tracing::error!(job = self.job, "job vanished from the store");
                return;
            }
            Err(e) => {
                tracing::error!(job = self.job, "cannot read the job: {e}");
                return;
            }
        };
        tracing::info!(job = job.id, name = %job.sweep.name, "starting");
        let outcome = self.run_engines(&job).await;
        let flushed = s.inner.store.flush().await;
        let res = match outcome {
            Err(Stop::Cancelled) => {
                tracing::info!(job = job.id, "cancelled");
                return;
            }
            Err(Stop::Shutdown) => s.update(job.id, |j| {
                if !j.state.is_final() {
                    j.state = JobState::Queued;
                }
            }),
            // The disk refused (full, read-only, failing): nothing more is written, and the
            // durable store still says running, so a restart queues the job again at its
            // first unfinished point.
            Err(Stop::Store(e, true)) => {
                s.store_failed(job.id, &e);
                return;
            }
            Err(Stop::Store(e, false)) => {
                tracing::error!(job = job.id, "store failure, job stopped: {e}");
                s.update(job.id, |j| {
                    if !j.state.is_final() {
                        j.state = JobState::Failed;
                        j.error = Some(format!("store failure: {e}"));
                        j.finished_ms = Some(now_ms());
                    }
                })
            }
            Ok(()) => s.update(job.id, |j| {
                if !j.state.is_final() {
                    j.state = if j.points_failed > 0 {
                        JobState::Failed
                    } else {
                        JobState::Done
                    };
                    if j.points_failed > 0 {
                        j.error = Some(format!(
                            "{} of {} points failed",
                            j.points_failed,
                            j.plan.len()
                        ));
                    }
                    j.finished_ms = Some(now_ms());
                }
            }),
        };
        if let Err(e) = flushed.and(res.map(|_| ())) {
            tracing::error!(job = job.id, "cannot record the job's end: {e}");
        }
        let _ = s.inner.store.flush().await;
    }

    fn stopped(&self) -> Option<Stop> {
        if self.sched.inner.shutdown.is_cancelled() {
            Some(Stop::Shutdown)
        } else if self.cancel.is_cancelled() {
            Some(Stop::Cancelled)
        } else {
            None
        }
    }

    async fn run_engines(&self, job: &JobRecord) -> Result<(), Stop> {
        for def in &job.sweep.engines {
            let name = def.name.clone().unwrap_or_else(|| def.kind.clone());
            let finished = self
                .sched
                .inner
                .store
                .points(job.id)
                .map_err(|e| Stop::Store(e.to_string(), e.is_io()))?;
            let todo: Vec<&PointPlan> = job
                .plan
                .iter()
                .filter(|p| p.engine == name && !finished.iter().any(|f| f.index == p.index))
                .collect();
            if todo.is_empty() {
                continue;
            }
            self.run_engine(job, def, &todo, &finished).await?;
        }
        Ok(())
    }

    async fn run_engine(
        &self,
        job: &JobRecord,
        def: &EngineDef,
        todo: &[&PointPlan],
        finished: &[ResultRow],
    ) -> Result<(), Stop> {
        let s = &self.sched;
        let spec = engine_spec(def, job.sweep.gpus.as_deref());
        // Either stop signal cancels the start.
        let stop = CancellationToken::new();
        let start = {
            let guard = stop.clone();
            let (shutdown, cancel) = (s.inner.shutdown.clone(), self.cancel.clone());
            let watcher = tokio::spawn(async move {
                tokio::select! {
                    () = shutdown.cancelled() => guard.cancel(),
                    () = cancel.cancelled() => guard.cancel(),
                    () = guard.cancelled() => {}
                }
            });
            let r = s
                .inner
                .engines
                .start(spec, Some(job.id), stop.clone())
                .await;
            stop.cancel();
            watcher.abort();
            r
        };
        let engine = match start {
            Ok(e) => e,
            Err(e) => {
                if let Some(stop) = self.stopped() {
                    return Err(stop);
                }
                let why = format!("engine {} did not start: {e}", spec_name(def));
                for p in todo {
                    self.fail_point(job, def, p, &why).await?;
                }
                return Ok(());
            }
        };
        let _ = s.update(job.id, |j| {
            if !j.state.is_final() {
                j.state = JobState::Running;
            }
        });
        let result = self.run_points(job, def, &engine, todo, finished).await;
        s.inner.engines.stop(engine.id).await;
        if let Some(info) = s.inner.engines.info(engine.id)
            && let Err(e) = s.inner.store.put_engine(job.id, &info)
        {
            tracing::warn!(job = job.id, "cannot record engine {}: {e}", engine.id);
        }
        result
    }

    async fn run_points(
        &self,
        job: &JobRecord,
        def: &EngineDef,
        engine: &Engine,
        todo: &[&PointPlan],
        finished: &[ResultRow],
    ) -> Result<(), Stop> {
        // The files came with the sweep and were stored with it; no path is opened here.
        let files = self
            .sched
            .inner
            .store
            .files(job.id)
            .map_err(|e| e.to_string())
            .and_then(|f| spec::check_files(&job.sweep, &f).map(|()| f));
        let args = files.map(|f| spec::bench_args(&job.sweep, &engine.url, request_model(def), f));
        let opened = tokio::select! {
            r = async { Session::open(args?).await.map_err(|e| e.to_string()) } => r,
            why = engine.exited() => Err(why),
            () = self.sched.inner.shutdown.cancelled() => return Err(Stop::Shutdown),
            () = self.cancel.cancelled() => return Err(Stop::Cancelled),
        };
        let mut session = match opened {
            Ok(s) => s,
            Err(why) => {
                let why = format!("cannot measure engine {}: {why}", spec_name(def));
                for p in todo {
                    self.fail_point(job, def, p, &why).await?;
                }
                return Ok(());
            }
        };
        // The engine is up and no request runs: this is the idle power its points subtract.
        let idle = self
            .sched
            .inner
            .gpu
            .idle_baseline(job.sweep.gpus.clone(), IDLE_SPAN)
            .await;
        if !idle.is_empty() {
            tracing::info!(job = job.id, engine = %spec_name(def), ?idle, "idle power (W) with the engine loaded");
        }
        let sampled = crate::engine::warmup_sampled(&def.kind);
        if sampled > 0 {
            let t0 = Instant::now();
            let failed = tokio::select! {
                f = session.sampled_warmup(sampled) => f,
                why = engine.exited() => {
                    let why = format!("engine {} exited during its warm-up: {why}", spec_name(def));
                    for p in todo {
                        self.fail_point(job, def, p, &why).await?;
                    }
                    return Ok(());
                }
                () = self.sched.inner.shutdown.cancelled() => return Err(Stop::Shutdown),
                () = self.cancel.cancelled() => return Err(Stop::Cancelled),
            };
            tracing::info!(
                job = job.id,
                engine = %spec_name(def),
                failed,
                "engine warm-up: {sampled} sampled requests in {:.1} s",
                t0.elapsed().as_secs_f64()
            );
        }
        let loads = crate::scheduler::spec::loads(&job.sweep.load);
        let warmup = u64::from(job.sweep.load.warmup_requests.unwrap_or(0));
        let mut dead: Option<String> = None;
        for p in todo {
            if let Some(stop) = self.stopped() {
                return Err(stop);
            }
            if let Some(why) = &dead {
                self.fail_point(job, def, p, why).await?;
                continue;
            }
            // The prompts the engine's earlier points used, finished in an earlier run or not.
            let first: u64 = job
                .plan
                .iter()
                .filter(|q| q.engine == p.engine && q.index < p.index)
                .map(|q| {
                    let done = finished.iter().find(|f| f.index == q.index);
                    warmup
                        + done
                            .and_then(|f| f.point.as_ref())
                            .map_or(0, |r| r.completed + r.failed)
                })
                .sum();
            if session.first_prompt() < first {
                session.set_first_prompt(first);
            }
            // Points are engine x load, in order: the load's index within the engine.
            let li = p.index as usize % loads.len().max(1);
            if loads.get(li) != Some(&p.load) {
                self.fail_point(job, def, p, "the point's load is not in the sweep")
                    .await?;
                continue;
            }
            match self
                .run_point(job, def, engine, &mut session, p, li)
                .await?
            {
                None => {}
                Some(why) => dead = Some(why),
            }
        }
        Ok(())
    }

    /// Run and store one point. Returns the engine's death notice when it died.
    async fn run_point(
        &self,
        job: &JobRecord,
        def: &EngineDef,
        engine: &Engine,
        session: &mut Session,
        p: &PointPlan,
        li: usize,
    ) -> Result<Option<String>, Stop> {
        let s = &self.sched;
        let live = Arc::new(Live::default());
        // The GPU meter covers the measured requests only: from right before the first to
        // right after the last (warm-up and counter reads left out).
        let meter: Mutex<Option<PointMeter>> = Mutex::new(None);
        let ended: Mutex<Option<(Option<PointGpu>, Vec<GpuSample>)>> = Mutex::new(None);
        let gpu = &s.inner.gpu;
        let edge = |start: bool| {
            let Ok(mut m) = meter.lock() else { return };
            if start {
                *m = Some(gpu.begin_point(job.sweep.gpus.clone(), engine.pids()));
            } else if let Some(taken) = m.take()
                && let Ok(mut e) = ended.lock()
            {
                *e = Some(gpu.end_point(taken, live.snapshot().tokens));
            }
        };
        let mut samples: Vec<StoredSample> = Vec::new();
        // What the point will send, by the same rule its run follows.
        let (requests_total, _) =
            spec::bench_args(&job.sweep, &engine.url, None, Vec::new()).stop();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut last_tokens, mut last_at, mut started) = (0u64, Instant::now(), None);
        // Boxed so it can be dropped (its in-flight requests aborted) as soon as it is decided.
        let mut run = Box::pin(async {
            session.warmup(li).await?;
            session.measure(li, Some(live.clone()), &edge).await
        });
        let outcome = loop {
            tokio::select! {
                r = &mut run => break Ok(r),
                why = engine.exited() => break Err(Some(why)),
                () = s.inner.shutdown.cancelled() => break Err(None),
                () = self.cancel.cancelled() => break Err(None),
                _ = tick.tick() => {
                    // Progress starts with the measured part (the meter's start).
                    if meter.lock().map(|m| m.is_none()).unwrap_or(true) {
                        continue;
                    }
                    let t0 = *started.get_or_insert_with(Instant::now);
                    let snap = live.snapshot();
                    let dt = last_at.elapsed().as_secs_f64().max(1e-3);
                    let lp = LivePoint {
                        job: job.id,
                        index: p.index,
                        engine: p.engine.clone(),
                        load: Some(p.load.clone()),
                        elapsed_s: t0.elapsed().as_secs_f64(),
                        requests_done: snap.done,
                        requests_total,
                        failed: snap.failed,
                        output_tokens: snap.tokens,
                        tokens_per_s: snap.tokens.saturating_sub(last_tokens) as f64 / dt,
                        ttft_ms: snap.ttft_ms,
                        itl_ms: snap.itl_ms,
                    };
                    (last_tokens, last_at) = (snap.tokens, Instant::now());
                    s.inner.live.send_modify(|l| {
                        l.retain(|x| x.job != job.id);
                        l.push(lp.clone());
                    });
                    samples.push(StoredSample::Progress(lp));
                    let info = s.inner.engines.info(engine.id);
                    if let Some(m) = info.and_then(|i| i.metrics) {
                        samples.push(StoredSample::Engine(m));
                    }
                    if let Ok(m) = meter.lock() && let Some(m) = m.as_ref() {
                        gpu.set_pids(m, engine.pids());
                    }
                }
            }
        };
        drop(run);
        // Requests fail fast once an engine dies, so a point can end before the engine's
        // death is reported (its output is drained first): a point with failures waits a
        // moment for that news, so the reason is the engine's exit, not refused connections.
        let outcome = match outcome {
            Ok(r)
                if engine.kind != "external" && r.as_ref().map_or(true, |(p, _)| p.failed > 0) =>
            {
                match tokio::time::timeout(Duration::from_secs(3), engine.exited()).await {
                    Ok(why) => Err(Some(why)),
                    Err(_) => Ok(r),
                }
            }
            other => other,
        };
        // An interrupted point's meter is dropped with its figures.
        let (gpu_fig, gpu_samples) = ended
            .lock()
            .ok()
            .and_then(|mut e| e.take())
            .unwrap_or_default();
        samples.extend(gpu_samples.into_iter().map(StoredSample::Gpu));
        let (row, records, died) = match outcome {
            Err(None) => return Err(self.stopped().unwrap_or(Stop::Shutdown)),
            Err(Some(why)) => {
                let why = format!("engine {} exited during the point: {why}", spec_name(def));
                (
                    self.row(def, p, Err(why.clone()), None),
                    Vec::new(),
                    Some(why),
                )
            }
            Ok(Err(e)) => (self.row(def, p, Err(e.to_string()), None), Vec::new(), None),
            Ok(Ok((point, records))) => (self.row(def, p, Ok(point), gpu_fig), records, None),
        };
        let mut row = row;
        row.engine_version = s.inner.engines.info(engine.id).and_then(|i| i.version);
        self.store_point(job, row, &records, &samples).await?;
        Ok(died)
    }

    fn row(
        &self,
        def: &EngineDef,
        p: &PointPlan,
        point: Result<llms_shared::PointResult, String>,
        gpu: Option<llms_shared::PointGpu>,
    ) -> ResultRow {
        let (point, error) = match point {
            Ok(p) => (Some(p), None),
            Err(e) => (None, Some(e)),
        };
        ResultRow {
            index: p.index,
            engine: p.engine.clone(),
            kind: def.kind.clone(),
            load: Some(p.load.clone()),
            error,
            point,
            gpu,
            engine_version: None,
            finished_ms: now_ms(),
        }
    }

    async fn fail_point(
        &self,
        job: &JobRecord,
        def: &EngineDef,
        p: &PointPlan,
        why: &str,
    ) -> Result<(), Stop> {
        let row = self.row(def, p, Err(why.to_owned()), None);
        self.store_point(job, row, &[], &[]).await
    }

    /// Write the point, flush, count it. A point is never half-stored (its `points` entry is
    /// written last); a store failure stops the job.
    async fn store_point(
        &self,
        job: &JobRecord,
        row: ResultRow,
        records: &[llms_shared::RequestRecord],
        samples: &[StoredSample],
    ) -> Result<(), Stop> {
        let s = &self.sched;
        let failed = row.error.is_some();
        if let Some(e) = &row.error {
            tracing::warn!(job = job.id, point = row.index, "point failed: {e}");
        }
        let stored = s.inner.store.finish_point(job.id, &row, records, samples);
        if let Err(e) = stored.await {
            return Err(Stop::Store(
                format!("cannot store point {}: {e}", row.index),
                e.is_io(),
            ));
        }
        s.update(job.id, |j| {
            j.points_done += 1;
            j.points_failed += u32::from(failed);
        })
        .map_err(|e| Stop::Store(e.to_string(), e.is_io()))?;
        Ok(())
    }
}

fn spec_name(def: &EngineDef) -> String {
    def.name.clone().unwrap_or_else(|| def.kind.clone())
}
