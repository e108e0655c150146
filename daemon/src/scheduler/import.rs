//! `import`: results made elsewhere, stored as a finished job that never runs. The client read
//! the file; here the rows are checked (every field named in its error) and stored the way a
//! finished job is: the store first and flushed, then the journal, so `llmsd repair` rebuilds
//! an imported job like any other.

use super::{NewJob, SchedulerHandle};
use crate::store::JobRecord;
use llms_shared::{ApiError, ImportRequest, JobState, PointPlan, ResultRow, Sweep};
use serde_json::json;

/// Points one import may hold.
pub const MAX_ROWS: usize = 10_000;
/// Longest job name, engine name and origin accepted (characters).
const MAX_NAME: usize = 200;
const MAX_ORIGIN: usize = 2000;

fn text(field: &str, s: &str, max: usize) -> Result<(), ApiError> {
    if s.trim().is_empty() || s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(ApiError::Invalid(format!(
            "{field}: give 1 to {max} printable characters"
        )));
    }
    Ok(())
}

/// The rows as they will be stored (numbered 0.., raw records dropped) with the plan they
/// make, or what is wrong.
fn check(req: &ImportRequest) -> Result<(Vec<ResultRow>, Vec<PointPlan>), ApiError> {
    text("name", &req.name, MAX_NAME)?;
    text("origin", &req.origin, MAX_ORIGIN)?;
    if req.rows.is_empty() || req.rows.len() > MAX_ROWS {
        return Err(ApiError::Invalid(format!(
            "rows: an import holds 1 to {MAX_ROWS} points, got {}",
            req.rows.len()
        )));
    }
    let now = llms_shared::clock::now_ms();
    let mut rows = req.rows.clone();
    let mut plan = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter_mut().enumerate() {
        let at = |f: &str| format!("rows[{i}].{f}");
        text(&at("engine"), &r.engine, MAX_NAME)?;
        text(&at("kind"), &r.kind, 64)?;
        if r.point.is_none() && r.error.is_none() {
            return Err(ApiError::Invalid(format!(
                "rows[{i}]: neither figures nor an error"
            )));
        }
        let Some(load) = r
            .load
            .clone()
            .or_else(|| r.point.as_ref().map(|p| p.load.clone()))
        else {
            return Err(ApiError::Invalid(format!("{}: missing", at("load"))));
        };
        r.load = Some(load.clone());
        r.index = i as u32;
        plan.push(PointPlan {
            index: r.index,
            engine: r.engine.clone(),
            load,
            role: r.role,
        });
        if r.finished_ms == 0 {
            r.finished_ms = now;
        }
        if let Some(p) = &mut r.point {
            // Summaries only: an import's raw records are not kept.
            p.requests.clear();
        }
    }
    Ok((rows, plan))
}

/// The record of an imported job: final at once, its plan its rows, its spec a comment.
fn record(
    (id, order): (u64, u64),
    req: &ImportRequest,
    (rows, plan): (&[ResultRow], Vec<PointPlan>),
) -> Result<JobRecord, ApiError> {
    let mut engines: Vec<(&str, &str)> = Vec::new();
    for r in rows {
        if !engines.iter().any(|(n, _)| *n == r.engine) {
            engines.push((&r.engine, &r.kind));
        }
    }
    let sweep: Sweep = serde_json::from_value(json!({
        "name": req.name,
        "engine": engines.iter().map(|(n, k)| json!({"kind": k, "name": n})).collect::<Vec<_>>(),
        "load": {},
    }))
    .map_err(|e| ApiError::Internal(format!("imported sweep: {e}")))?;
    // As everywhere else (and as `llmsd repair` recounts): a point failed when it has an error.
    let failed = rows.iter().filter(|r| r.error.is_some()).count() as u32;
    let now = llms_shared::clock::now_ms();
    Ok(JobRecord {
        state: if failed > 0 {
            JobState::Failed
        } else {
            JobState::Done
        },
        spec_text: format!("# imported by `llms import` from {}\n", req.origin),
        finished_ms: Some(now),
        error: (failed > 0).then(|| format!("{failed} imported point(s) had no figures")),
        points_done: rows.len() as u32,
        points_failed: failed,
        imported: Some(req.origin.clone()),
        ..JobRecord::queued(id, order, sweep, plan, now)
    })
}

impl SchedulerHandle {
    /// Store `req` as a finished, read-only job; its id.
    pub async fn import(&self, req: ImportRequest) -> Result<u64, ApiError> {
        if self.inner.shutdown.is_cancelled() {
            return Err(ApiError::ShuttingDown);
        }
        if let Some(why) = self.inner.fault.borrow().clone() {
            return Err(ApiError::Conflict(format!("nothing is stored now: {why}")));
        }
        let (rows, plan) = check(&req)?;
        self.create(String::new(), move |id, order| {
            let job = record((id, order), &req, (&rows, plan))?;
            Ok(NewJob {
                job,
                files: Vec::new(),
                rows,
            })
        })
        .await
    }
}
