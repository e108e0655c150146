//! The supervisor's shared state: every engine since start (bounded), with its info, logs and
//! process, and the change counter. A `std::sync::Mutex` suffices: every critical section is
//! short and never awaits.

use super::logs::LogSink;
use super::process::Proc;
use super::{EngineConfig, GpuCheck};
use llms_shared::{EngineInfo, EngineMetrics, EngineState};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Engines kept for `list` (older ones that have ended are dropped).
const KEEP: usize = 100;

/// One engine the supervisor knows.
pub(crate) struct Record {
    /// What `list` shows.
    pub info: EngineInfo,
    /// Its output.
    pub logs: Arc<LogSink>,
    /// Its process group; `None` for `external` (or before launch).
    pub proc: Option<Arc<Proc>>,
    /// Ends its scrape loop.
    pub scrape: CancellationToken,
}

/// Shared by every [`EngineHandle`](super::EngineHandle) clone and the engines' tasks.
pub(crate) struct Inner {
    /// The daemon config's part.
    pub cfg: EngineConfig,
    /// Asked after every stop.
    pub gpu_check: Option<GpuCheck>,
    /// For health probes and scrapes.
    pub http: reqwest::Client,
    next_id: AtomicU64,
    /// Set by `stop_all`: no more starts.
    pub closed: AtomicBool,
    records: Mutex<VecDeque<Record>>,
    /// Engines of earlier daemon runs, as the store kept them (newest first), listed after
    /// this run's.
    past: Mutex<Vec<EngineInfo>>,
    changed: watch::Sender<u64>,
}

impl Inner {
    /// No engines yet.
    pub fn new(cfg: EngineConfig, gpu_check: Option<GpuCheck>, http: reqwest::Client) -> Self {
        // Ids go on after the engines of earlier runs: a log file never holds two.
        let first = super::past::next_id(&cfg.log_dir);
        Self {
            cfg,
            gpu_check,
            http,
            next_id: AtomicU64::new(first),
            closed: AtomicBool::new(false),
            records: Mutex::new(VecDeque::new()),
            past: Mutex::new(Vec::new()),
            changed: watch::channel(0).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Record>> {
        crate::sync::lock(&self.records)
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// The change counter.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// A fresh engine id.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Add an engine, dropping the oldest ended ones beyond [`KEEP`].
    pub fn insert(&self, rec: Record) {
        let mut g = self.lock();
        g.push_back(rec);
        while g.len() > KEEP {
            let ended = g.iter().position(|r| {
                matches!(r.info.state, EngineState::Stopped | EngineState::Failed(_))
            });
            match ended {
                Some(i) => drop(g.remove(i)),
                None => break,
            }
        }
        drop(g);
        self.bump();
    }

    /// Change engine `id` (no-op if it is gone), and tell subscribers.
    pub fn update(&self, id: u64, f: impl FnOnce(&mut Record)) {
        let mut g = self.lock();
        if let Some(r) = g.iter_mut().find(|r| r.info.id == id) {
            f(r);
            drop(g);
            self.bump();
        }
    }

    /// Set the state of engine `id`.
    pub fn set_state(&self, id: u64, state: EngineState) {
        self.update(id, |r| {
            // A stage is only told while it starts.
            if !matches!(state, EngineState::Starting | EngineState::Building(_)) {
                r.info.stage = None;
            }
            r.info.state = state;
        });
    }

    /// Store a metrics reading; subscribers hear of it only when a value changed.
    pub fn set_metrics(&self, id: u64, m: EngineMetrics) {
        let mut g = self.lock();
        let Some(r) = g.iter_mut().find(|r| r.info.id == id) else {
            return;
        };
        let same = r.info.metrics.as_ref().is_some_and(|old| {
            EngineMetrics {
                unix_ms: m.unix_ms,
                ..old.clone()
            } == m
        });
        r.info.metrics = Some(m);
        drop(g);
        if !same {
            self.bump();
        }
    }

    /// Read engine `id`'s record.
    pub fn with<T>(&self, id: u64, f: impl FnOnce(&Record) -> T) -> Option<T> {
        self.lock().iter().find(|r| r.info.id == id).map(f)
    }

    /// The id for `key`: an id, or the newest engine of that name.
    pub fn resolve(&self, key: &str) -> Option<u64> {
        let g = self.lock();
        match key.parse::<u64>() {
            Ok(id) if g.iter().any(|r| r.info.id == id) => Some(id),
            _ => g
                .iter()
                .rev()
                .find(|r| r.info.name == key)
                .map(|r| r.info.id),
        }
    }

    /// Every engine's info, oldest first: earlier runs' (as stored), then this run's.
    pub fn infos(&self) -> Vec<EngineInfo> {
        let now: Vec<EngineInfo> = self.lock().iter().map(|r| r.info.clone()).collect();
        let mut all: Vec<EngineInfo> = crate::sync::lock(&self.past)
            .iter()
            .rev()
            .filter(|p| !now.iter().any(|n| n.id == p.id))
            .cloned()
            .collect();
        all.extend(now);
        all
    }

    /// Remember engines of earlier runs (newest first) for the list.
    pub fn set_past(&self, past: Vec<EngineInfo>) {
        // No id of theirs is given again (an external engine has no log file to count).
        let top = past.iter().map(|p| p.id + 1).max().unwrap_or(0);
        self.next_id.fetch_max(top, Ordering::Relaxed);
        *crate::sync::lock(&self.past) = past;
        self.bump();
    }

    /// The log file of the earlier run's engine `key` (an id, or the newest of that name).
    pub fn past_log(&self, key: &str) -> Option<String> {
        let past = crate::sync::lock(&self.past);
        let by_id = key
            .parse::<u64>()
            .ok()
            .and_then(|id| past.iter().find(|p| p.id == id));
        by_id
            .or_else(|| past.iter().find(|p| p.name == key))
            .and_then(|p| p.log_path.clone())
    }

    /// Engines that may still have a process or a scrape loop.
    pub fn active(&self) -> Vec<u64> {
        self.lock()
            .iter()
            .filter(|r| {
                matches!(
                    r.info.state,
                    EngineState::Starting
                        | EngineState::Building(_)
                        | EngineState::Ready
                        | EngineState::Stopping
                )
            })
            .map(|r| r.info.id)
            .collect()
    }
}
