//! [`Model`]: everything the screens draw. Daemon data (the latest [`Update`], the job list,
//! cached results, the log tail) and bounded histories live here; what the user controls lives
//! in [`UiState`]. Changed only by [`update`](super::update); read by [`ui`](super::ui).

pub mod engines;
pub mod points;
pub mod ui_state;

use crate::compare::{self, CmpRow, Metric};
pub use crate::output::PointState;
use llms_shared::{GpuSample, Hello, JobDetail, JobState, JobSummary, ResultRow, Update};
pub use points::PointLine;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
pub use ui_state::{Drill, Filter, ListId, Picker, ResultsView, Screen, Status, UiState};

/// When a job's current run was first seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSeen {
    /// The run's start as the daemon reports it.
    pub started_ms: Option<u64>,
    /// This dashboard's clock when it first saw the run.
    pub seen_ms: u64,
    /// Points done at that moment.
    pub points_done: u32,
}

/// Jobs whose points the Results cache keeps.
pub const RESULTS_CACHED: usize = 32;
/// Least time between two fetches of one job's points (a running job's count moves on).
pub const REFETCH_MS: u64 = 2000;
/// Samples kept per GPU for its utilization sparkline.
pub const GPU_HISTORY: usize = 120;
/// Tokens/s readings kept for the running point's chart.
pub const TOKENS_HISTORY: usize = 600;

/// The connection to the daemon, as the header shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnState {
    /// Connected and following `watch`.
    Connected,
    /// Lost; the poller retries with backoff.
    Reconnecting {
        /// When it was lost (model clock), unix ms.
        since_ms: u64,
        /// The last failure.
        reason: String,
    },
}

/// One GPU: its latest sample, the highest power seen and recent utilization.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuView {
    /// The latest sample.
    pub latest: GpuSample,
    /// Highest power draw seen this session, mW (the power bar's scale: the sample has no
    /// power limit).
    pub max_power_mw: u32,
    /// Recent utilization, percent, oldest first.
    pub util: VecDeque<u64>,
}

/// The running point's tokens/s over time: (elapsed s, tokens/s).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenHistory {
    /// (job, point index) the readings belong to.
    pub point: Option<(u64, u32)>,
    /// Readings, oldest first, at most [`TOKENS_HISTORY`].
    pub points: Vec<(f64, f64)>,
}

/// The comparison the Results screen shows, computed when its inputs change (never per
/// frame).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    /// The jobs compared (the picks, else the selected job).
    pub jobs: Vec<u64>,
    /// Of those, jobs whose points are not loaded yet.
    pub loading: Vec<u64>,
    /// One row per point, by mode, series, load value.
    pub rows: Vec<CmpRow>,
    /// Row indices ordered by mode, load value, series (the bar chart's grouping).
    pub by_x: Vec<usize>,
    /// Largest value of each metric (in [`Metric::ALL`] order), for bar scales.
    pub max: [f64; 7],
    /// Each searched series' capacity, in job then row order.
    pub capacity: Vec<crate::capacity::Capacity>,
}

/// An engine's log tail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineLog {
    /// Engine id.
    pub engine: u64,
    /// Lines, oldest first.
    pub lines: Vec<String>,
}

/// The whole dashboard state.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Now, unix ms, as the last tick said.
    pub now_ms: u64,
    /// Where the daemon is, for the header.
    pub label: String,
    /// Connection state.
    pub conn: ConnState,
    /// What the last `hello` said.
    pub hello: Option<Hello>,
    /// The latest `watch` answer (GPU samples are folded into `gpus`).
    pub latest: Update,
    /// Per GPU, by index.
    pub gpus: BTreeMap<u32, GpuView>,
    /// The running point's tokens/s.
    pub tokens: TokenHistory,
    /// Every job (from `jobs`, kept current by `watch`), by id.
    pub all_jobs: Vec<JobSummary>,
    /// Finished points per job, as fetched. Rows stay (and are shown) after the job's count
    /// moves on, until fresher ones arrive; at most [`RESULTS_CACHED`] jobs are kept.
    pub results: HashMap<u64, Vec<ResultRow>>,
    /// Jobs whose points are being fetched.
    pub pending: HashSet<u64>,
    /// When each job's points were last asked for (ms), so a running job is refetched at
    /// most every [`REFETCH_MS`].
    pub fetched_ms: HashMap<u64, u64>,
    /// Per running job: when this dashboard first saw its current run, and its points done
    /// then (the job ETA counts only points finished since, so a resumed job is not timed
    /// as if its earlier points took no time).
    pub run_seen: HashMap<u64, RunSeen>,
    /// What the Results screen compares.
    pub comparison: Comparison,
    /// The selected engine's log.
    pub log: Option<EngineLog>,
    /// The plan of the job whose points are drilled into.
    pub detail: Option<JobDetail>,
    /// Queued job ids in run order, as the last reorder answered, until the next update
    /// brings the daemon's own order.
    pub queue_order: Vec<u64>,
    /// UI-only state.
    pub ui: UiState,
    /// The user asked to quit.
    pub quit: bool,
}

/// Whether a job passes the filter on `list` (by id, name, state or error).
fn job_passes(ui: &UiState, list: ListId, j: &JobSummary) -> bool {
    let id = j.id.to_string();
    let error = j.error.as_deref().unwrap_or("");
    ui.passes(list, &[&id, &j.name, j.state.as_str(), error])
}

impl Model {
    /// A connected model with no data yet.
    pub fn new(label: impl Into<String>, hello: Hello, no_color: bool, now_ms: u64) -> Self {
        Model {
            now_ms,
            label: label.into(),
            conn: ConnState::Connected,
            hello: Some(hello),
            latest: Update::default(),
            gpus: BTreeMap::new(),
            tokens: TokenHistory::default(),
            all_jobs: Vec::new(),
            results: HashMap::new(),
            pending: HashSet::new(),
            fetched_ms: HashMap::new(),
            run_seen: HashMap::new(),
            comparison: Comparison::default(),
            log: None,
            detail: None,
            queue_order: Vec::new(),
            ui: UiState::new(no_color),
            quit: false,
        }
    }

    /// Jobs of the Queue screen: running and starting, then queued in run order, then the
    /// rest (recent final jobs), each group by id.
    pub fn queue_jobs(&self) -> Vec<&JobSummary> {
        let rank = |j: &JobSummary| -> (u8, usize, u64) {
            match j.state {
                JobState::Running | JobState::Starting => (0, 0, j.id),
                // The daemon's queue order; a reorder answer is applied at once, before
                // the next update carries it.
                JobState::Queued => match self.queue_order.iter().position(|&q| q == j.id) {
                    Some(at) => (1, at, j.id),
                    None => (1, usize::MAX, j.order),
                },
                _ => (2, 0, j.id),
            }
        };
        let mut v: Vec<&JobSummary> = self
            .latest
            .jobs
            .iter()
            .filter(|j| job_passes(&self.ui, ListId::Queue, j))
            .collect();
        v.sort_by_key(|j| rank(j));
        v
    }

    /// Jobs of the Results screen, newest first (those the filter lets through).
    pub fn history(&self) -> impl Iterator<Item = &JobSummary> {
        self.all_jobs
            .iter()
            .rev()
            .filter(|j| job_passes(&self.ui, ListId::Results, j))
    }

    /// A job by id, from the full list or the latest update.
    pub fn job(&self, id: u64) -> Option<&JobSummary> {
        match self.all_jobs.binary_search_by_key(&id, |j| j.id) {
            Ok(i) => self.all_jobs.get(i),
            Err(_) => self.latest.jobs.iter().find(|j| j.id == id),
        }
    }

    /// The selected Results job: the user's choice while listed, else the newest listed.
    pub fn results_job(&self) -> Option<u64> {
        match self.ui.results_sel {
            Some(id) if self.history().any(|j| j.id == id) => Some(id),
            _ => self.history().next().map(|j| j.id),
        }
    }

    /// The selected Queue job: the user's choice while listed, else the first listed.
    pub fn queue_job(&self) -> Option<u64> {
        let list = self.queue_jobs();
        match self.ui.queue_sel {
            Some(id) if list.iter().any(|j| j.id == id) => Some(id),
            _ => list.first().map(|j| j.id),
        }
    }

    /// Fold a `watch` answer in: GPU samples into their histories, the running point's
    /// tokens/s into its chart, job states into the full list.
    pub fn absorb(&mut self, mut u: Update) {
        // The update carries the daemon's queue order, newer than a reorder's answer.
        if u.changed {
            self.queue_order.clear();
        }
        let now = self.now_ms;
        for j in &u.jobs {
            if matches!(j.state, JobState::Running | JobState::Starting) {
                let seen = self.run_seen.entry(j.id).or_insert(RunSeen {
                    started_ms: j.started_ms,
                    seen_ms: now,
                    points_done: j.points_done,
                });
                if seen.started_ms != j.started_ms {
                    *seen = RunSeen {
                        started_ms: j.started_ms,
                        seen_ms: now,
                        points_done: j.points_done,
                    };
                }
            }
        }
        self.run_seen
            .retain(|id, _| u.jobs.iter().any(|j| j.id == *id && !j.state.is_final()));
        for s in std::mem::take(&mut u.gpu_samples) {
            let g = self.gpus.entry(s.index).or_default();
            g.max_power_mw = g.max_power_mw.max(s.power_mw.unwrap_or(0));
            if let Some(p) = s.util_pct {
                if g.util.len() == GPU_HISTORY {
                    g.util.pop_front();
                }
                g.util.push_back(u64::from(p));
            }
            g.latest = s;
        }
        if let Some(live) = u.live.first() {
            let key = Some((live.job, live.index));
            if self.tokens.point != key {
                self.tokens = TokenHistory {
                    point: key,
                    points: Vec::new(),
                };
            }
            let pts = &mut self.tokens.points;
            if pts.last().is_none_or(|(t, _)| *t < live.elapsed_s) {
                if pts.len() == TOKENS_HISTORY {
                    pts.remove(0);
                }
                pts.push((live.elapsed_s, live.tokens_per_s));
            }
        }
        for j in &u.jobs {
            match self.all_jobs.binary_search_by_key(&j.id, |x| x.id) {
                Ok(i) => self.all_jobs[i] = j.clone(),
                Err(i) => self.all_jobs.insert(i, j.clone()),
            }
        }
        self.latest = u;
    }

    /// Whether a job's cached points are all it has (its count has not moved on).
    pub fn results_fresh(&self, id: u64) -> bool {
        self.results.get(&id).is_some_and(|rows| {
            self.job(id)
                .is_none_or(|j| j.points_done as usize == rows.len())
        })
    }

    /// Keep the cache bounded: forget the points of jobs not compared now (nor running, whose
    /// sweep Live shows), lowest ids first.
    pub fn evict_results(&mut self) {
        if self.results.len() <= RESULTS_CACHED {
            return;
        }
        let mut keep = self.compared();
        keep.extend(self.latest.live.iter().map(|l| l.job));
        let mut ids: Vec<u64> = self
            .results
            .keys()
            .copied()
            .filter(|id| !keep.contains(id))
            .collect();
        ids.sort_unstable();
        let extra = self.results.len() - RESULTS_CACHED;
        for id in ids.into_iter().take(extra) {
            self.results.remove(&id);
            self.fetched_ms.remove(&id);
        }
    }

    /// The jobs the Results screen compares: the picks, else the selected job.
    pub fn compared(&self) -> Vec<u64> {
        if self.ui.picks.is_empty() {
            self.results_job().into_iter().collect()
        } else {
            self.ui.picks.clone()
        }
    }

    /// Recompute the comparison from the cache (only the compared jobs' points).
    pub fn refresh_comparison(&mut self) {
        let jobs = self.compared();
        let mut loaded = Vec::new();
        let mut loading = Vec::new();
        for &id in &jobs {
            match (self.job(id), self.results.get(&id)) {
                (Some(s), Some(rows)) => loaded.push((s.clone(), rows.clone())),
                _ => loading.push(id),
            }
        }
        let rows = compare::rows(&loaded);
        let capacity = crate::capacity::capacities(&loaded);
        let mut by_x: Vec<usize> = (0..rows.len()).collect();
        by_x.sort_by(|&a, &b| {
            let (a, b) = (&rows[a], &rows[b]);
            a.mode
                .cmp(b.mode)
                .then(a.x.total_cmp(&b.x))
                .then(a.series.cmp(&b.series))
        });
        let mut max = [0.0f64; 7];
        for (m, slot) in Metric::ALL.iter().zip(max.iter_mut()) {
            *slot = rows
                .iter()
                .filter_map(|r| m.of(r))
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max);
        }
        self.comparison = Comparison {
            jobs,
            loading,
            rows,
            by_x,
            max,
            capacity,
        };
    }
}
