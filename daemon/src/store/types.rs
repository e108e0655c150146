//! What the store keeps besides the wire types.

use llms_shared::{EngineMetrics, GpuSample, JobState, JobSummary, LivePoint, PointPlan, Sweep};
use serde::{Deserialize, Serialize};

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Job id.
    pub id: u64,
    /// State.
    pub state: JobState,
    /// The TOML as submitted.
    pub spec_text: String,
    /// The file it came from, for messages.
    pub file: Option<String>,
    /// The validated, normalized spec.
    pub sweep: Sweep,
    /// The points it expands to.
    pub plan: Vec<PointPlan>,
    /// Place in the queue (lower runs first).
    pub order: u64,
    /// Submission time, unix ms.
    pub submitted_ms: u64,
    /// Last start, unix ms.
    pub started_ms: Option<u64>,
    /// End, unix ms.
    pub finished_ms: Option<u64>,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// Finished points (failed included).
    pub points_done: u32,
    /// Finished points that failed.
    pub points_failed: u32,
    /// What the run warned of, oldest first (at most [`MAX_WARNINGS`], each once).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// A job brought in by `llms import`: where its results came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<String>,
}

/// Warnings a job keeps; later ones are counted in the last.
pub const MAX_WARNINGS: usize = 50;

impl JobRecord {
    /// Job `id`, queued at `order` at `submitted_ms` to run `plan`: nothing started, done or
    /// said of it yet (the spec text and file are the caller's to set).
    pub fn queued(
        id: u64,
        order: u64,
        sweep: Sweep,
        plan: Vec<PointPlan>,
        submitted_ms: u64,
    ) -> Self {
        JobRecord {
            id,
            state: JobState::Queued,
            spec_text: String::new(),
            file: None,
            sweep,
            plan,
            order,
            submitted_ms,
            started_ms: None,
            finished_ms: None,
            error: None,
            points_done: 0,
            points_failed: 0,
            warnings: Vec::new(),
            imported: None,
        }
    }

    /// Keep `w` with the job, unless it is there already or the list is full.
    pub fn add_warning(&mut self, w: String) {
        if self.warnings.len() < MAX_WARNINGS && !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    /// The list row.
    pub fn summary(&self) -> JobSummary {
        JobSummary {
            id: self.id,
            name: self.sweep.name.clone(),
            state: self.state,
            points_done: self.points_done,
            points_total: self.plan.len() as u32,
            order: self.order,
            points_failed: self.points_failed,
            submitted_ms: self.submitted_ms,
            started_ms: self.started_ms,
            finished_ms: self.finished_ms,
            error: self.error.clone(),
            imported: self.imported.clone(),
        }
    }
}

/// One entry of a point's time series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type")]
pub enum StoredSample {
    /// A GPU reading.
    Gpu(GpuSample),
    /// The engine's gauges.
    Engine(EngineMetrics),
    /// The client's progress once a second.
    Progress(LivePoint),
}
