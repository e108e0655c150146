//! The persistent job queue and the workers that run sweep points.
//!
//! [`SchedulerHandle`] is the only writer of job records. A dispatcher task starts the first
//! queued job whose GPUs are free (one job at a time per GPU set); a worker per running job
//! runs its engines and points ([`worker`]). The store is the truth: every finished point is
//! written and flushed before the next begins, and a restart re-queues interrupted jobs at
//! their first unfinished point ([`queue::recover`]).

mod import;
mod plan;
mod probes;
mod progress;
pub mod queue;
pub mod spec;
mod window;
mod worker;

use crate::engine::EngineHandle;
use crate::gpu::GpuHandle;
use crate::store::{JobRecord, Store, StoreError};
use llms_shared::{ApiError, JobDetail, JobState, JobSummary, LivePoint, ResultRow, SubmitRequest};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Handle to the queue. Cheap to clone.
#[derive(Clone)]
pub struct SchedulerHandle {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    engines: EngineHandle,
    gpu: GpuHandle,
    /// Serializes read-modify-write of job records (sync store calls only, never held
    /// across an await).
    jobs_lock: Mutex<()>,
    running: Mutex<HashMap<u64, RunningJob>>,
    wake: Notify,
    changed: watch::Sender<u64>,
    live: watch::Sender<Vec<LivePoint>>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    /// Why the store cannot be written (disk full, I/O error), once it failed: no job starts
    /// and no sweep is taken until the daemon has restarted on a writable store.
    fault: watch::Sender<Option<String>>,
    /// The runtime points run on: threads of their own, so calls on the API (served by the
    /// daemon's main runtime) do not delay a stream's timestamps.
    points: Points,
}

/// A runtime that may be dropped anywhere (it is shut down in the background).
struct Points(Option<tokio::runtime::Runtime>);

impl Points {
    fn new() -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("llmsd-points")
            .enable_all()
            .build();
        match rt {
            Ok(rt) => Points(Some(rt)),
            Err(e) => {
                tracing::warn!("points share the API's runtime (no runtime of their own: {e})");
                Points(None)
            }
        }
    }

    fn spawn<F>(&self, f: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.0 {
            Some(rt) => rt.spawn(f),
            None => tokio::spawn(f),
        }
    }
}

impl Drop for Points {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

struct RunningJob {
    cancel: CancellationToken,
    gpus: Option<Vec<u32>>,
}

/// A job to store, with its files and (an import's) finished points.
struct NewJob {
    job: JobRecord,
    files: Vec<llms_shared::AttachedFile>,
    rows: Vec<ResultRow>,
}

fn internal(e: StoreError) -> ApiError {
    ApiError::Internal(e.to_string())
}

pub(crate) use llms_shared::clock::now_ms;

/// Re-queue interrupted jobs. Nothing runs until [`SchedulerHandle::start`] (called once the
/// API is served, so a daemon that fails to start has started no engine). `shutdown`
/// interrupts running points (their jobs go back to the queue) and stops the dispatcher.
pub fn spawn(
    store: Store,
    engines: EngineHandle,
    gpu: GpuHandle,
    shutdown: CancellationToken,
) -> Result<SchedulerHandle, StoreError> {
    for mut job in store.jobs()? {
        let finished: Vec<(u32, bool)> = store
            .points(job.id)?
            .iter()
            .map(|p| (p.index, p.error.is_some()))
            .collect();
        let before = job.clone();
        queue::recover(&mut job, &finished);
        if job != before {
            tracing::info!(
                job = job.id,
                "job was {} when the daemon stopped; queued again at point {} of {}",
                before.state.as_str(),
                job.points_done,
                job.plan.len()
            );
            store.put_job(&job)?;
        }
    }
    // The job list the API answers from, filled now rather than by the first caller.
    store.summaries()?;
    let h = SchedulerHandle {
        inner: Arc::new(Inner {
            store,
            engines,
            gpu,
            jobs_lock: Mutex::new(()),
            running: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            changed: watch::Sender::new(0),
            live: watch::Sender::new(Vec::new()),
            shutdown,
            tracker: TaskTracker::new(),
            points: Points::new(),
            fault: watch::Sender::new(None),
        }),
    };
    Ok(h)
}

impl SchedulerHandle {
    /// Start running queued jobs.
    pub fn start(&self) {
        let d = self.clone();
        self.inner.tracker.spawn(async move { d.dispatch().await });
    }

    async fn dispatch(&self) {
        loop {
            let notified = self.inner.wake.notified();
            if self.inner.shutdown.is_cancelled() {
                return;
            }
            match self.start_next() {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::error!("scheduler: {e}"),
            }
            tokio::select! {
                () = notified => {}
                () = self.inner.shutdown.cancelled() => return,
            }
        }
    }

    /// Stop taking work because the store cannot be written: the job `paused` goes back to
    /// the queue (its finished points are durable; it resumes after a restart) and shows why.
    pub(crate) fn store_failed(&self, paused: u64, why: &str) {
        let msg = format!(
            "paused: the store cannot be written ({why}); llmsd restarts and resumes the job \
             once the state directory takes writes again"
        );
        tracing::error!(job = paused, "{msg}");
        self.inner.store.show(paused, |j| {
            j.state = JobState::Queued;
            j.error = Some(msg.clone());
        });
        self.inner.fault.send_replace(Some(msg));
        self.bump();
    }

    /// Resolves with the reason once the store has failed.
    pub async fn failed(&self) -> String {
        let mut rx = self.inner.fault.subscribe();
        loop {
            if let Some(why) = rx.borrow_and_update().clone() {
                return why;
            }
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Start the next runnable job, if any. Returns whether to look again at once.
    fn start_next(&self) -> Result<bool, StoreError> {
        if self.inner.fault.borrow().is_some() {
            return Ok(false);
        }
        let jobs = self.inner.store.jobs()?;
        // Held until the worker is registered: a `cancel` that finds the job `starting` then
        // finds its token too (it takes this lock after writing `cancelled`).
        let mut running = crate::sync::lock(&self.inner.running);
        let busy: Vec<Option<Vec<u32>>> = running.values().map(|r| r.gpus.clone()).collect();
        let Some(id) = queue::next_runnable(&jobs, &busy) else {
            return Ok(false);
        };
        // Claim it: queued -> starting, checked under the jobs lock, so a cancel that got
        // there first wins and the job never starts.
        let claimed = {
            let _g = crate::sync::lock(&self.inner.jobs_lock);
            match self.inner.store.job(id)? {
                Some(mut j) if j.state == JobState::Queued => {
                    j.state = JobState::Starting;
                    j.started_ms = Some(now_ms());
                    j.error = None;
                    self.inner.store.put_job(&j)?;
                    Some(j)
                }
                _ => None,
            }
        };
        let Some(job) = claimed else {
            return Ok(true);
        };
        let cancel = CancellationToken::new();
        running.insert(
            id,
            RunningJob {
                cancel: cancel.clone(),
                gpus: job.sweep.gpus.clone(),
            },
        );
        drop(running);
        self.bump();
        let w = worker::Worker {
            sched: self.clone(),
            job: id,
            cancel,
        };
        let me = self.clone();
        self.inner.tracker.spawn(async move {
            // A panic in the worker is contained here: the job is marked failed and its GPUs
            // are freed, rather than the queue stalling behind it.
            if let Err(e) = me.inner.points.spawn(w.run()).await {
                tracing::error!(job = id, "worker failed: {e}");
                let _ = me.update(id, |j| {
                    if !j.state.is_final() {
                        j.state = JobState::Failed;
                        j.error = Some(format!("internal error: {e}"));
                        j.finished_ms = Some(now_ms());
                    }
                });
                let _ = me.inner.store.flush().await;
            }
            crate::sync::lock(&me.inner.running).remove(&id);
            me.inner.live.send_modify(|l| l.retain(|p| p.job != id));
            me.bump();
            me.inner.wake.notify_one();
        });
        Ok(true)
    }

    fn bump(&self) {
        self.inner.changed.send_modify(|v| *v += 1);
    }

    /// Read-modify-write one job record; returns it after the change.
    fn update(
        &self,
        id: u64,
        f: impl FnOnce(&mut JobRecord),
    ) -> Result<Option<JobRecord>, StoreError> {
        let out = {
            let _g = crate::sync::lock(&self.inner.jobs_lock);
            let Some(mut job) = self.inner.store.job(id)? else {
                return Ok(None);
            };
            f(&mut job);
            self.inner.store.put_job(&job)?;
            job
        };
        self.bump();
        Ok(Some(out))
    }

    /// GPUs on this host.
    pub fn gpu_count(&self) -> u32 {
        self.inner.gpu.count()
    }

    /// Validate and queue a sweep. Nothing is stored when it is refused.
    pub async fn submit(&self, req: SubmitRequest) -> Result<u64, ApiError> {
        if self.inner.shutdown.is_cancelled() {
            return Err(ApiError::ShuttingDown);
        }
        if let Some(why) = self.inner.fault.borrow().clone() {
            return Err(ApiError::Conflict(format!("no sweep is taken now: {why}")));
        }
        let key = req.key.clone().unwrap_or_default();
        if key.len() > 128 {
            return Err(ApiError::Invalid(
                "key: an idempotency key is at most 128 bytes".into(),
            ));
        }
        if let Some(id) = self.job_for_key(&key)? {
            return Ok(id);
        }
        // Parsing attached prompts and tokenizers is CPU work: off the runtime.
        let engines = self.inner.engines.clone();
        let gpus = self.inner.gpu.count();
        let SubmitRequest {
            spec: text,
            base_dir: base,
            file,
            files,
            ..
        } = req;
        let (sweep, plan, files, text, file) = tokio::task::spawn_blocking(move || {
            // The very spec the worker will start, so what passes here runs there.
            let check = |field: &str, e: &llms_shared::EngineDef, gpus: Option<&[u32]>| {
                let spec = worker::engine_spec(e, gpus).map_err(|m| format!("{field}.{m}"))?;
                engines.validate(field, &spec)
            };
            let checks = spec::Checks {
                gpus,
                engine: &check,
                files: &files,
            };
            spec::parse(
                &text,
                base.as_deref().map(Path::new),
                file.as_deref(),
                &checks,
            )
            .map(|(s, p)| (s, p, files, text, file))
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::Invalid)?;
        self.create(key, move |id, order| {
            Ok(NewJob {
                job: JobRecord {
                    spec_text: text,
                    file,
                    ..JobRecord::queued(id, order, sweep, plan, now_ms())
                },
                files,
                rows: Vec::new(),
            })
        })
        .await
    }

    /// Store the job `make` builds for its id and place in the queue, with its files and
    /// points (holding the jobs lock, off the runtime), then flush and journal it (one sync)
    /// and announce it, all in a task of its own: a caller that goes away meanwhile leaves a
    /// job that is stored, journaled and (if queued) runs. Where `key` already names a job,
    /// that job's id, and nothing is made.
    async fn create<F>(&self, key: String, make: F) -> Result<u64, ApiError>
    where
        F: FnOnce(u64, u64) -> Result<NewJob, ApiError> + Send + 'static,
    {
        let joined = |e: tokio::task::JoinError| ApiError::Internal(e.to_string());
        let me = self.clone();
        let task = tokio::spawn(async move {
            let m = me.clone();
            let made = tokio::task::spawn_blocking(move || {
                let store = &m.inner.store;
                let _g = crate::sync::lock(&m.inner.jobs_lock);
                // Again under the lock: two tries of one submit racing queue it once.
                if let Some(id) = m.job_for_key(&key)? {
                    return Ok(Err(id));
                }
                let (id, order) = m.next_id_and_order()?;
                let new = make(id, order)?;
                // Files and points first, the job last: a job in the store always has them.
                store.put_files(id, &new.files).map_err(internal)?;
                for r in &new.rows {
                    store.put_point(id, r, &[], &[]).map_err(internal)?;
                }
                store.put_job(&new.job).map_err(internal)?;
                if !key.is_empty() {
                    store.put_key(&key, id).map_err(internal)?;
                }
                Ok::<_, ApiError>(Ok(new))
            })
            .await
            .map_err(joined)??;
            let new = match made {
                Ok(new) => new,
                Err(id) => return Ok(id),
            };
            let store = me.inner.store.clone();
            store.flush().await.map_err(internal)?;
            let new = tokio::task::spawn_blocking(move || {
                store
                    .journal_job(&new.job, &new.files, &new.rows)
                    .map(|()| new)
            })
            .await
            .map_err(joined)?
            .map_err(internal)?;
            let job = &new.job;
            match &job.imported {
                Some(origin) => {
                    tracing::info!(job = job.id, points = new.rows.len(), %origin, "imported");
                }
                None => tracing::info!(job = job.id, order = job.order, "queued"),
            }
            me.bump();
            me.inner.wake.notify_one();
            Ok(job.id)
        });
        task.await.map_err(joined)?
    }

    /// A new job's id and its place after every job in the queue (call holding `jobs_lock`).
    fn next_id_and_order(&self) -> Result<(u64, u64), ApiError> {
        let store = &self.inner.store;
        let id = store.next_job_id().map_err(internal)?;
        let last = store
            .jobs()
            .map_err(internal)?
            .iter()
            .map(|j| j.order)
            .max();
        Ok((id, last.unwrap_or(0) + 1))
    }

    /// The job an idempotency key already queued (and that still exists).
    fn job_for_key(&self, key: &str) -> Result<Option<u64>, ApiError> {
        if key.is_empty() {
            return Ok(None);
        }
        let store = &self.inner.store;
        Ok(match store.job_for_key(key).map_err(internal)? {
            Some(id) if store.job(id).map_err(internal)?.is_some() => Some(id),
            _ => None,
        })
    }

    /// Cancel a queued or running job.
    pub async fn cancel(&self, id: u64) -> Result<JobState, ApiError> {
        let mut was = None;
        let job = self
            .update(id, |j| {
                was = Some(j.state);
                if !j.state.is_final() {
                    j.state = JobState::Cancelled;
                    j.finished_ms = Some(now_ms());
                    j.error = Some("cancelled by a user".into());
                }
            })
            .map_err(internal)?
            .ok_or_else(|| ApiError::NotFound(format!("job {id}")))?;
        if let Some(s) = was.filter(|s| s.is_final()) {
            return Err(ApiError::Conflict(format!(
                "job {id} is already {}",
                s.as_str()
            )));
        }
        if let Some(r) = crate::sync::lock(&self.inner.running).get(&id) {
            r.cancel.cancel();
        }
        self.inner.store.flush().await.map_err(internal)?;
        Ok(job.state)
    }

    /// Move a queued job to `position` among the queued ones.
    pub async fn reorder(&self, id: u64, position: u32) -> Result<Vec<u64>, ApiError> {
        let order = {
            let _g = crate::sync::lock(&self.inner.jobs_lock);
            let store = &self.inner.store;
            let jobs = store.jobs().map_err(internal)?;
            let new = queue::reorder(&jobs, id, position).map_err(|e| match e {
                queue::ReorderError::NotFound(_) => ApiError::NotFound(format!("job {id}")),
                queue::ReorderError::NotQueued(..) => ApiError::Conflict(e.to_string()),
            })?;
            for (jid, order) in &new {
                if let Some(mut j) = jobs.iter().find(|j| j.id == *jid).cloned() {
                    j.order = *order;
                    store.put_job(&j).map_err(internal)?;
                }
            }
            new.into_iter().map(|(j, _)| j).collect()
        };
        self.bump();
        self.inner.wake.notify_one();
        self.inner.store.flush().await.map_err(internal)?;
        Ok(order)
    }

    /// Every job, by id.
    pub fn jobs(&self) -> Result<Vec<JobSummary>, ApiError> {
        self.inner.store.summaries().map_err(internal)
    }

    /// One job in full.
    pub fn job(&self, id: u64) -> Result<JobDetail, ApiError> {
        let store = &self.inner.store;
        let job = store
            .job(id)
            .map_err(internal)?
            .ok_or_else(|| ApiError::NotFound(format!("job {id}")))?;
        Ok(JobDetail {
            summary: job.summary(),
            spec: job.spec_text.clone(),
            plan: job.plan.clone(),
            finished: store.finished(id).map_err(internal)?,
            warnings: job.warnings.clone(),
        })
    }

    /// A job's finished points; `raw` adds each point's request records.
    pub fn results(&self, id: u64, raw: bool) -> Result<Vec<ResultRow>, ApiError> {
        let store = &self.inner.store;
        if store.job(id).map_err(internal)?.is_none() {
            return Err(ApiError::NotFound(format!("job {id}")));
        }
        let mut rows = store.points(id).map_err(internal)?;
        if raw {
            for r in &mut rows {
                if let Some(p) = &mut r.point {
                    p.requests = store.requests(id, r.index).map_err(internal)?;
                }
            }
        }
        Ok(rows)
    }

    /// Bumps whenever a job changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// Running points, as seen so far.
    pub fn live(&self) -> Vec<LivePoint> {
        self.inner.live.borrow().clone()
    }

    /// Bumps whenever the live points change.
    pub fn subscribe_live(&self) -> watch::Receiver<Vec<LivePoint>> {
        self.inner.live.subscribe()
    }

    /// Wait for the dispatcher and every worker to end after `shutdown` was cancelled: the
    /// running points are interrupted and their jobs queued again.
    pub async fn wait(&self) {
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }
}
