//! Runs one job: for each engine, start it, run its unfinished points, stop it. Each point is
//! stored and flushed before the next begins. A point ends one of four ways: figures; the
//! engine died (the point fails with the reason and the engine's last log lines, and the
//! engine's remaining points fail with it); the job was cancelled; or the daemon is stopping
//! (the point is dropped and re-run on the next start).

use super::probes::{self, SearchCtx};
use super::progress::Progress;
use super::window::GpuWindow;
use super::{SchedulerHandle, now_ms, plan, spec};
use crate::bench::Session;
use crate::engine::{Engine, EngineKind, EngineOptions, EngineSpec};
use crate::kinds;
use crate::loadgen::live::Live;
use crate::store::{JobRecord, StoredSample};
use llms_shared::{EngineDef, JobState, PointPlan, ResultRow};
use std::sync::Arc;
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
pub(super) enum Stop {
    /// The user cancelled it (its state is already written).
    Cancelled,
    /// The daemon is stopping: back to the queue.
    Shutdown,
    /// The store could not be read or written: stop rather than run points whose results
    /// cannot be kept (or run finished ones again). `true`: the disk refused (full,
    /// read-only, failing), so the job pauses until the daemon restarts on a writable store.
    Store(String, bool),
}

/// The engine spec of an `[[engine]]` entry in a sweep on `gpus`, or `Err("kind: why")` for
/// a kind there is no row for. A server the daemon does not start is not ours to place, so it
/// gets no GPUs.
pub(super) fn engine_spec(e: &EngineDef, gpus: Option<&[u32]>) -> Result<EngineSpec, String> {
    let kind: EngineKind = e.kind.parse().map_err(|m| format!("kind: {m}"))?;
    let gpus = if kinds::of(kind).process {
        gpus.map(<[u32]>::to_vec)
    } else {
        None
    };
    Ok(EngineSpec {
        name: e.name.clone().unwrap_or_else(|| e.kind.clone()),
        kind,
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
    })
}

/// The model name to send: what the spec says for a server the daemon did not start (it may
/// serve several), else whatever the server lists.
fn request_model(def: &EngineDef, engine: &Engine) -> Option<String> {
    match kinds::of(engine.kind).process {
        false => def.model.clone(),
        true => None,
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

    pub(super) fn stopped(&self) -> Option<Stop> {
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
            let todo = plan::remaining(&job.plan, &name, &finished);
            let searching = probes::searching(job, &name, &finished);
            if todo.is_empty() && !searching {
                continue;
            }
            self.run_engine(job, def, &todo, &finished, searching)
                .await?;
        }
        Ok(())
    }

    async fn run_engine(
        &self,
        job: &JobRecord,
        def: &EngineDef,
        todo: &[&PointPlan],
        finished: &[ResultRow],
        searching: bool,
    ) -> Result<(), Stop> {
        let s = &self.sched;
        let spec = match engine_spec(def, job.sweep.gpus.as_deref()) {
            Ok(s) => s,
            Err(why) => {
                let why = format!("engine {}: {why}", spec_name(def));
                return self.fail_all(job, def, todo, &why, searching).await;
            }
        };
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
                return self.fail_all(job, def, todo, &why, searching).await;
            }
        };
        let _ = s.update(job.id, |j| {
            if !j.state.is_final() {
                j.state = JobState::Running;
            }
        });
        let result = self
            .run_points(job, def, &engine, (todo, finished), searching)
            .await;
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
        (todo, finished): (&[&PointPlan], &[ResultRow]),
        searching: bool,
    ) -> Result<(), Stop> {
        // The files came with the sweep and were stored with it; no path is opened here.
        let files = self
            .sched
            .inner
            .store
            .files(job.id)
            .map_err(|e| e.to_string())
            .and_then(|f| spec::check_files(&job.sweep, &f).map(|()| f));
        let config = files.and_then(|f| {
            let model = request_model(def, engine);
            spec::run_config(&job.sweep, &engine.url, Some(engine.kind), model, f)
        });
        let opened = tokio::select! {
            r = async { Session::open(config?).await.map_err(|e| e.to_string()) } => r,
            why = engine.exited() => Err(why),
            () = self.sched.inner.shutdown.cancelled() => return Err(Stop::Shutdown),
            () = self.cancel.cancelled() => return Err(Stop::Cancelled),
        };
        let mut session = match opened {
            Ok(s) => s,
            Err(why) => {
                let why = format!("cannot measure engine {}: {why}", spec_name(def));
                return self.fail_all(job, def, todo, &why, searching).await;
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
        let sampled = crate::engine::warmup_sampled(engine.kind);
        if sampled > 0 {
            let t0 = Instant::now();
            let failed = tokio::select! {
                f = session.sampled_warmup(sampled) => f,
                why = engine.exited() => {
                    let why = format!("engine {} exited during its warm-up: {why}", spec_name(def));
                    return self.fail_all(job, def, todo, &why, searching).await;
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
        self.warn(job, def, session.take_warnings());
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
            let first = plan::first_prompt(&job.plan, p, finished, warmup);
            if session.first_prompt() < first {
                session.set_first_prompt(first);
            }
            let died = self
                .run_point(job, def, engine, &mut session, p, None)
                .await;
            self.warn(job, def, session.take_warnings());
            if let Some(why) = died? {
                dead = Some(why);
            }
        }
        match (searching, dead) {
            (false, _) => Ok(()),
            (true, Some(why)) => self.fail_search(job, def, &why).await,
            (true, None) => self.run_search(job, def, engine, &mut session).await,
        }
    }

    /// Fail the points of `todo` and, when the engine has one, its search, all for `why`.
    async fn fail_all(
        &self,
        job: &JobRecord,
        def: &EngineDef,
        todo: &[&PointPlan],
        why: &str,
        searching: bool,
    ) -> Result<(), Stop> {
        for p in todo {
            self.fail_point(job, def, p, why).await?;
        }
        if searching {
            self.fail_search(job, def, why).await?;
        }
        Ok(())
    }

    /// Warnings from the session: in the daemon's log and with the job.
    pub(super) fn warn(&self, job: &JobRecord, def: &EngineDef, warnings: Vec<String>) {
        if warnings.is_empty() {
            return;
        }
        let name = spec_name(def);
        for w in &warnings {
            tracing::warn!(job = job.id, engine = %name, "{w}");
        }
        let _ = self.sched.update(job.id, |j| {
            for w in &warnings {
                j.add_warning(format!("engine {name}: {w}"));
            }
        });
    }

    /// Run and store one point (a search's probe: `search` says where the search stands).
    /// Returns the engine's death notice when it died.
    pub(super) async fn run_point(
        &self,
        job: &JobRecord,
        def: &EngineDef,
        engine: &Engine,
        session: &mut Session,
        p: &PointPlan,
        search: Option<&SearchCtx>,
    ) -> Result<Option<String>, Stop> {
        let s = &self.sched;
        let live = Arc::new(Live::default());
        // The GPU meter covers the measured requests only: from right before the first to
        // right after the last (warm-up and counter reads left out).
        let window = GpuWindow::new(&s.inner.gpu, job.sweep.gpus.clone(), engine, &live);
        let mut samples: Vec<StoredSample> = Vec::new();
        let mut progress = Progress::new(job.id, p, session.requests_per_point());
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let n = plan::ordinal(&job.plan, p);
        // Boxed so it can be dropped (its in-flight requests aborted) as soon as it is decided.
        let mut run = Box::pin(async {
            session.warmup(n).await;
            let load = p.load.clone();
            session.measure(n, load, Some(live.clone()), &window).await
        });
        let outcome = loop {
            tokio::select! {
                r = &mut run => break Ok(r),
                why = engine.exited() => break Err(Some(why)),
                () = s.inner.shutdown.cancelled() => break Err(None),
                () = self.cancel.cancelled() => break Err(None),
                _ = tick.tick() => {
                    // Progress starts with the measured part (the meter's start).
                    if !window.is_open() {
                        continue;
                    }
                    let lp = progress.tick(live.snapshot());
                    s.inner.live.send_modify(|l| {
                        l.retain(|x| x.job != job.id);
                        l.push(lp.clone());
                    });
                    samples.push(StoredSample::Progress(lp));
                    let info = s.inner.engines.info(engine.id);
                    if let Some(m) = info.and_then(|i| i.metrics) {
                        samples.push(StoredSample::Engine(m));
                    }
                    window.refresh_pids();
                }
            }
        };
        drop(run);
        // Requests fail fast once an engine dies, so a point can end before the engine's
        // death is reported (its output is drained first): a point with failures waits a
        // moment for that news, so the reason is the engine's exit, not refused connections.
        let outcome = match outcome {
            Ok(r)
                if kinds::of(engine.kind).process
                    && r.as_ref().map_or(true, |(p, _)| p.failed > 0) =>
            {
                match tokio::time::timeout(Duration::from_secs(3), engine.exited()).await {
                    Ok(why) => Err(Some(why)),
                    Err(_) => Ok(r),
                }
            }
            other => other,
        };
        // An interrupted point's meter is dropped with its figures.
        let (gpu_fig, gpu_samples) = window.take();
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
        row.workload = session.workload();
        if let Some(ctx) = search {
            ctx.finish(&mut row);
        }
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
            workload: None,
            finished_ms: now_ms(),
            role: p.role,
            search: None,
        }
    }

    async fn fail_point(
        &self,
        job: &JobRecord,
        def: &EngineDef,
        p: &PointPlan,
        why: &str,
    ) -> Result<(), Stop> {
        self.fail_point_with(job, def, p, why, None).await
    }

    /// Store `p` failed for `why`; a search's probe ends its search.
    pub(super) async fn fail_point_with(
        &self,
        job: &JobRecord,
        def: &EngineDef,
        p: &PointPlan,
        why: &str,
        search: Option<&SearchCtx>,
    ) -> Result<(), Stop> {
        let mut row = self.row(def, p, Err(why.to_owned()), None);
        if let Some(ctx) = search {
            ctx.finish(&mut row);
        }
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

pub(super) fn spec_name(def: &EngineDef) -> String {
    def.name.clone().unwrap_or_else(|| def.kind.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_of_an_unknown_kind_makes_no_spec() {
        let def =
            |kind: &str| -> EngineDef { toml::from_str(&format!("kind = \"{kind}\"")).unwrap() };
        assert_eq!(
            engine_spec(&def("tgi"), None).unwrap_err(),
            "kind: unknown engine kind 'tgi' (known: external, reference, llamacpp, vllm, sglang, trtllm)"
        );
        let s = engine_spec(&def("llamacpp"), Some(&[1])).unwrap();
        assert_eq!((s.kind, s.gpus), (EngineKind::Llamacpp, Some(vec![1])));
        // A server the daemon does not start is not placed on GPUs.
        let s = engine_spec(&def("external"), Some(&[1])).unwrap();
        assert_eq!((s.kind, s.gpus), (EngineKind::External, None));
    }
}
