//! The store: a typed wrapper over sled, and the only module that knows its trees, keys and
//! encodings.
//!
//! Trees (DESIGN.md section 5): `meta` (schema version, job id counter), `jobs`, `points`
//! (one finished point each), `requests` (raw per-request records), `samples` (GPU and engine
//! time series per point), `engines` (the engines each job ran), `files` (the files a
//! sweep named, as its client sent them), `keys` (submit idempotency keys: key to job id). Keys are big-endian integers,
//! so scans come back in order; values are one version byte and JSON.
//!
//! Integrity: every value carries a CRC-32, and every job has a journal beside the store
//! (`db.journal/job-ID.jsonl`: the job, its files, each finished point, its end) appended and
//! fsynced once the store has flushed the same facts. At start [`Store::verify`] reads every
//! value and checks the store against the journal, so a store that lost or rolled back data
//! is found, not silently used; [`repair::rebuild`] makes a new store from the journal.
//!
//! Crash safety: a point's requests and samples are written first and its `points` entry
//! last; the `points` entry is what makes a point finished. [`Store::flush`] makes it durable.
//! A crash before the entry leaves stray requests that the re-run clears first.
//!
//! sled calls are short and made inline from async code (like mini-redis's `std::sync::Mutex`
//! reasoning: no await while they run, microseconds each); only `flush` waits on the disk, and
//! it is async.

mod codec;
pub mod journal;
pub mod repair;
pub mod types;

use codec::{decode, encode, key_job, key_point, key_sub};
use journal::{End, Journal, Line};
use llms_shared::{JobSummary, RequestRecord, ResultRow};
use std::collections::BTreeMap;
use std::path::Path;
pub use types::{JobRecord, StoredSample};

/// Longest wait for a flush: long past any healthy disk's, short enough that a failed one
/// shows.
pub const FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Schema this build writes. Opening a store with a newer one is refused.
pub const SCHEMA_VERSION: u32 = 1;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (I/O, corruption).
    #[error("store: {}", sled_message(.0))]
    Sled(#[from] sled::Error),
    /// A value could not be encoded or decoded.
    #[error("store: bad value in {tree}: {msg}")]
    Codec {
        /// Tree name.
        tree: &'static str,
        /// What went wrong.
        msg: String,
    },
    /// The store fails a check: a checksum, or a fact the journal holds that it lacks.
    #[error("store damaged: {0}")]
    Damaged(String),
    /// The journal cannot be written or read.
    #[error("journal: {0}")]
    Journal(#[from] std::io::Error),
    /// A flush did not finish in [`FLUSH_LIMIT`] (sled waits forever on some write errors).
    #[error("store: a flush did not finish in {} s", FLUSH_LIMIT.as_secs())]
    Stalled,
    /// The store was written by a newer llmsd.
    #[error(
        "the store at {dir} has schema version {found}; this llmsd understands up to {SCHEMA_VERSION}. Use a newer llmsd, or another --state-dir"
    )]
    TooNew {
        /// The store directory.
        dir: String,
        /// Version found.
        found: u32,
    },
}

type Result<T> = std::result::Result<T, StoreError>;

/// sled's error in words: an I/O error as the OS says it ("No space left on device (os
/// error 28)"), not its debug form.
fn sled_message(e: &sled::Error) -> String {
    match e {
        sled::Error::Io(io) => io.to_string(),
        e => e.to_string(),
    }
}

impl StoreError {
    /// Whether the disk refused (full, read-only, failing) rather than the data being bad.
    pub fn is_io(&self) -> bool {
        matches!(
            self,
            StoreError::Sled(sled::Error::Io(_)) | StoreError::Journal(_) | StoreError::Stalled
        )
    }

    /// Whether the open failed because another process (or this one, a moment after closing
    /// it) holds the store's file lock. sled reports it as an `Other` I/O error whose text
    /// carries the `WouldBlock` of the failed lock; any other lock failure (no locks on this
    /// file system, say) is not this.
    pub fn is_locked(&self) -> bool {
        matches!(self, StoreError::Sled(sled::Error::Io(io))
            if io.kind() == std::io::ErrorKind::WouldBlock
                || (io.to_string().contains("could not acquire lock")
                    && io.to_string().contains("WouldBlock")))
    }
}

/// The daemon's store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    meta: sled::Tree,
    jobs: sled::Tree,
    points: sled::Tree,
    requests: sled::Tree,
    samples: sled::Tree,
    engines: sled::Tree,
    files: sled::Tree,
    keys: sled::Tree,
    journal: Journal,
    /// Every job's list row, kept as jobs are written: `jobs` and `watch` answer from it
    /// without decoding any job record (whose plan can hold 100,000 points). Filled on
    /// first use.
    summaries: std::sync::Arc<std::sync::RwLock<Option<BTreeMap<u64, JobSummary>>>>,
    /// Final states written since the last flush, journaled once it succeeds.
    ends: std::sync::Arc<std::sync::Mutex<Vec<(u64, End)>>>,
}

impl Store {
    /// Open (or create) the store in `dir`, checking its schema version.
    pub fn open(dir: &Path) -> Result<Store> {
        let db = sled::open(dir)?;
        let meta = db.open_tree("meta")?;
        match meta.get("schema")? {
            None => {
                meta.insert("schema", &SCHEMA_VERSION.to_be_bytes())?;
            }
            Some(v) => {
                let found = v.as_ref().try_into().map(u32::from_be_bytes).map_err(|_| {
                    StoreError::Codec {
                        tree: "meta",
                        msg: "schema is not a u32".into(),
                    }
                })?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::TooNew {
                        dir: dir.display().to_string(),
                        found,
                    });
                }
            }
        }
        Ok(Store {
            jobs: db.open_tree("jobs")?,
            points: db.open_tree("points")?,
            requests: db.open_tree("requests")?,
            samples: db.open_tree("samples")?,
            engines: db.open_tree("engines")?,
            files: db.open_tree("files")?,
            keys: db.open_tree("keys")?,
            journal: Journal::beside(dir),
            summaries: Default::default(),
            ends: Default::default(),
            meta,
            db,
        })
    }

    /// A new job id: 1, 2, 3, ... never reused.
    pub fn next_job_id(&self) -> Result<u64> {
        let v = self.meta.update_and_fetch("next_job_id", |old| {
            let n = old
                .and_then(|o| o.try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            Some((n + 1).to_be_bytes().to_vec())
        })?;
        Ok(v.and_then(|v| v.as_ref().try_into().ok())
            .map(u64::from_be_bytes)
            .unwrap_or(1))
    }

    /// Write a job record (new or changed). A final state is journaled by the next
    /// successful [`Store::flush`], so the journal never holds an end the store may lose.
    pub fn put_job(&self, job: &JobRecord) -> Result<()> {
        self.jobs.insert(key_job(job.id), encode("jobs", job)?)?;
        if let Ok(mut cache) = self.summaries.write()
            && let Some(map) = cache.as_mut()
        {
            map.insert(job.id, job.summary());
        }
        if job.state.is_final() && self.journal.has(job.id) {
            crate::sync::lock(&self.ends).push((job.id, end_of(job)));
        }
        Ok(())
    }

    /// Journal a new job with its files, its finished points and, for a job made finished (an
    /// import, a repair's backfill), its end, in one sync (call once the store holds and has
    /// flushed them).
    pub fn journal_job(
        &self,
        job: &JobRecord,
        files: &[llms_shared::AttachedFile],
        rows: &[ResultRow],
    ) -> Result<()> {
        let mut lines = vec![Line::Job(Box::new(job.clone()))];
        if !files.is_empty() {
            lines.push(Line::Files(files.to_vec()));
        }
        lines.extend(rows.iter().map(|r| Line::Point(Box::new(r.clone()))));
        if job.state.is_final() {
            lines.push(Line::End(end_of(job)));
        }
        self.journal.append_all(job.id, &lines)?;
        // Cancelled before its journal existed: its end was not queued then.
        if let Some(now) = self.job(job.id)?
            && now.state.is_final()
            && !job.state.is_final()
        {
            crate::sync::lock(&self.ends).push((job.id, end_of(&now)));
        }
        Ok(())
    }

    /// One job.
    pub fn job(&self, id: u64) -> Result<Option<JobRecord>> {
        self.jobs
            .get(key_job(id))?
            .map(|v| decode("jobs", &v))
            .transpose()
    }

    /// Change a job's list row only (the store may not be writable: a job paused by a store
    /// failure still shows why).
    pub fn show(&self, id: u64, f: impl FnOnce(&mut JobSummary)) {
        let _ = self.summaries();
        if let Ok(mut cache) = self.summaries.write()
            && let Some(row) = cache.as_mut().and_then(|m| m.get_mut(&id))
        {
            f(row);
        }
    }

    /// Every job's list row, by id, from the cache (filled from the store on first use).
    pub fn summaries(&self) -> Result<Vec<JobSummary>> {
        if let Ok(cache) = self.summaries.read()
            && let Some(map) = cache.as_ref()
        {
            return Ok(map.values().cloned().collect());
        }
        // Filled under the write lock, so a job written meanwhile is not lost from it.
        let mut cache = self
            .summaries
            .write()
            .map_err(|_| StoreError::Damaged("the job list cache was poisoned".into()))?;
        let map = match cache.take() {
            Some(map) => map,
            None => self.jobs()?.iter().map(|j| (j.id, j.summary())).collect(),
        };
        let out = map.values().cloned().collect();
        *cache = Some(map);
        Ok(out)
    }

    /// Every job, by id.
    pub fn jobs(&self) -> Result<Vec<JobRecord>> {
        self.jobs
            .iter()
            .values()
            .map(|v| decode("jobs", &v?))
            .collect()
    }

    /// Keep the files a job's sweep named (as its client sent them).
    pub fn put_files(&self, job: u64, files: &[llms_shared::AttachedFile]) -> Result<()> {
        self.files.insert(key_job(job), encode("files", &files)?)?;
        Ok(())
    }

    /// The files a job's sweep named (none for a job stored before files were sent).
    pub fn files(&self, job: u64) -> Result<Vec<llms_shared::AttachedFile>> {
        Ok(match self.files.get(key_job(job))? {
            Some(v) => decode("files", &v)?,
            None => Vec::new(),
        })
    }

    /// The job a submit idempotency key queued, if any.
    pub fn job_for_key(&self, key: &str) -> Result<Option<u64>> {
        Ok(self
            .keys
            .get(key.as_bytes())?
            .and_then(|v| v.as_ref().try_into().ok())
            .map(u64::from_be_bytes))
    }

    /// Remember the job a submit idempotency key queued.
    pub fn put_key(&self, key: &str, job: u64) -> Result<()> {
        self.keys.insert(key.as_bytes(), &key_job(job))?;
        Ok(())
    }

    /// Store a finished point: its raw records and samples, then the point itself. Call
    /// [`Store::flush`] before the next point begins.
    pub fn put_point(
        &self,
        job: u64,
        row: &ResultRow,
        requests: &[RequestRecord],
        samples: &[StoredSample],
    ) -> Result<()> {
        self.clear_point(job, row.index)?;
        let mut batch = sled::Batch::default();
        for (i, r) in requests.iter().enumerate() {
            batch.insert(
                &key_sub(job, row.index, i as u32)[..],
                encode("requests", r)?,
            );
        }
        self.requests.apply_batch(batch)?;
        let mut batch = sled::Batch::default();
        for (i, s) in samples.iter().enumerate() {
            batch.insert(
                &key_sub(job, row.index, i as u32)[..],
                encode("samples", s)?,
            );
        }
        self.samples.apply_batch(batch)?;
        self.points
            .insert(key_point(job, row.index), encode("points", row)?)?;
        Ok(())
    }

    /// Store a finished point, make it durable, then journal it: once this returns, the
    /// point survives a crash and a damaged store alike.
    pub async fn finish_point(
        &self,
        job: u64,
        row: &ResultRow,
        requests: &[RequestRecord],
        samples: &[StoredSample],
    ) -> Result<()> {
        self.put_point(job, row, requests, samples)?;
        self.flush().await?;
        if self.journal.has(job) {
            self.journal
                .append(job, &Line::Point(Box::new(row.clone())))?;
        }
        Ok(())
    }

    /// Remove whatever a point left before it was finished (records of an interrupted run).
    fn clear_point(&self, job: u64, index: u32) -> Result<()> {
        for tree in [&self.requests, &self.samples] {
            let mut batch = sled::Batch::default();
            for k in tree.scan_prefix(key_point(job, index)).keys() {
                batch.remove(k?);
            }
            tree.apply_batch(batch)?;
        }
        Ok(())
    }

    /// The finished points of a job, in index order.
    pub fn points(&self, job: u64) -> Result<Vec<ResultRow>> {
        self.points
            .scan_prefix(key_job(job))
            .values()
            .map(|v| decode("points", &v?))
            .collect()
    }

    /// Indices of a job's finished points.
    pub fn finished(&self, job: u64) -> Result<Vec<u32>> {
        Ok(self.points(job)?.iter().map(|p| p.index).collect())
    }

    /// The raw records of one point.
    pub fn requests(&self, job: u64, index: u32) -> Result<Vec<RequestRecord>> {
        self.requests
            .scan_prefix(key_point(job, index))
            .values()
            .map(|v| decode("requests", &v?))
            .collect()
    }

    /// The time series of one point.
    pub fn samples(&self, job: u64, index: u32) -> Result<Vec<StoredSample>> {
        self.samples
            .scan_prefix(key_point(job, index))
            .values()
            .map(|v| decode("samples", &v?))
            .collect()
    }

    /// Remember an engine a job ran (its final state, argv and log path).
    pub fn put_engine(&self, job: u64, info: &llms_shared::EngineInfo) -> Result<()> {
        let n = self.engines.scan_prefix(key_job(job)).count() as u32;
        self.engines
            .insert(key_point(job, n), encode("engines", info)?)?;
        Ok(())
    }

    /// The `n` engines stored last (newest jobs first), for the list of past engines a
    /// restarted daemon shows. Values that do not decode are skipped.
    pub fn recent_engines(&self, n: usize) -> Vec<llms_shared::EngineInfo> {
        self.engines
            .iter()
            .values()
            .rev()
            .filter_map(|v| decode::<llms_shared::EngineInfo>("engines", &v.ok()?).ok())
            .take(n)
            .collect()
    }

    /// The engines a job ran.
    pub fn engines(&self, job: u64) -> Result<Vec<llms_shared::EngineInfo>> {
        self.engines
            .scan_prefix(key_job(job))
            .values()
            .map(|v| decode("engines", &v?))
            .collect()
    }

    /// Bytes the store takes on disk: sled's files and the journal (`None` when sled cannot
    /// say). Reads file sizes only; for `llmsd_store_size_bytes`.
    pub fn size_on_disk(&self) -> Option<u64> {
        let sled = self.db.size_on_disk().ok()?;
        Some(sled + self.journal.size_on_disk())
    }

    /// Make everything written so far durable.
    pub async fn flush(&self) -> Result<()> {
        let ends = std::mem::take(&mut *crate::sync::lock(&self.ends));
        let flushed = match tokio::time::timeout(FLUSH_LIMIT, self.db.flush_async()).await {
            Ok(r) => r.map(|_| ()).map_err(StoreError::from),
            Err(_) => Err(StoreError::Stalled),
        };
        if let Err(e) = flushed {
            // Journaled by a later flush that succeeds.
            crate::sync::lock(&self.ends).extend(ends);
            return Err(e);
        }
        for (id, end) in ends {
            self.journal.append(id, &Line::End(end))?;
        }
        Ok(())
    }
}

/// The journal's record of a job's final state.
fn end_of(job: &JobRecord) -> End {
    End {
        state: job.state,
        error: job.error.clone(),
        finished_ms: job.finished_ms,
    }
}

#[cfg(test)]
mod tests;
