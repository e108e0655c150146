//! A job's points as the drill-down lists them: from its plan when fetched, else from its
//! finished points, each with its status; and the engine a point ran on.

use super::Model;
use super::ui_state::ListId;
use crate::output::{PointState, PointsNow, load_label, point_state, row_note, row_state};
use llms_shared::{EngineInfo, EngineState, ResultRow};

/// One point of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct PointLine<'a> {
    /// Index within the job.
    pub index: u32,
    /// The engine's name within the job.
    pub engine: String,
    /// The load, as `llms` writes it everywhere.
    pub load: String,
    /// Where it stands.
    pub state: PointState,
    /// Its result, once finished.
    pub row: Option<&'a ResultRow>,
}

impl PointLine<'_> {
    /// What to say beside the state: a failure's reason, the flags, failed requests.
    pub fn note(&self) -> String {
        self.row.map(row_note).unwrap_or_default()
    }
}

impl Model {
    /// A job's points in index order: every planned point once its plan is fetched, else
    /// the finished ones and the one running; filtered by the Points filter.
    pub fn points_of(&self, job: u64) -> Vec<PointLine<'_>> {
        let rows: &[ResultRow] = self.results.get(&job).map_or(&[], Vec::as_slice);
        let running = self
            .latest
            .live
            .iter()
            .find(|l| l.job == job)
            .map(|l| (l.index, l.engine.clone(), l.load.clone()));
        let ended = self.job(job).is_some_and(|j| j.state.is_final());
        let mut out: Vec<PointLine<'_>> = Vec::new();
        let plan = self.detail.as_ref().filter(|d| d.summary.id == job);
        match plan {
            Some(d) => {
                let now = PointsNow {
                    rows,
                    running: running.as_ref().map(|r| r.0),
                };
                for p in &d.plan {
                    let (state, row) = point_state(d, now, ended, p.index);
                    out.push(PointLine {
                        index: p.index,
                        engine: p.engine.clone(),
                        load: load_label(&p.load),
                        state,
                        row,
                    });
                }
            }
            None => {
                for r in rows {
                    let load = r
                        .load
                        .as_ref()
                        .or(r.point.as_ref().map(|p| &p.load))
                        .map_or("-".into(), load_label);
                    out.push(PointLine {
                        index: r.index,
                        engine: r.engine.clone(),
                        load,
                        state: row_state(r),
                        row: Some(r),
                    });
                }
                if let Some((index, engine, load)) = running
                    && !rows.iter().any(|r| r.index == index)
                {
                    out.push(PointLine {
                        index,
                        engine,
                        load: load.as_ref().map_or("-".into(), load_label),
                        state: PointState::Running,
                        row: None,
                    });
                }
                out.sort_by_key(|p| p.index);
            }
        }
        out.retain(|p| {
            self.ui.passes(
                ListId::Points,
                &[
                    &p.index.to_string(),
                    &p.engine,
                    &p.load,
                    p.state.word(),
                    &p.note(),
                ],
            )
        });
        out
    }

    /// The selected point of a job's points: the user's choice while listed, else the
    /// first failed one, else the first.
    pub fn point_selected(&self, job: u64) -> Option<u32> {
        let list = self.points_of(job);
        match self.ui.point_sel {
            Some(i) if list.iter().any(|p| p.index == i) => Some(i),
            _ => list
                .iter()
                .find(|p| p.state == PointState::Failed)
                .or(list.first())
                .map(|p| p.index),
        }
    }

    /// The engine a job's point ran on: the newest of the job's engines with that name (a
    /// failed engine is started afresh for the next point).
    pub fn engine_of(&self, job: u64, name: &str) -> Option<&EngineInfo> {
        self.latest
            .engines
            .iter()
            .filter(|e| e.job == Some(job) && e.name == name)
            .max_by_key(|e| e.id)
    }

    /// A job's engine for `l`: one starting or serving now, else its newest.
    pub fn engine_of_job(&self, job: u64) -> Option<&EngineInfo> {
        let of_job = || {
            self.latest
                .engines
                .iter()
                .filter(move |e| e.job == Some(job))
        };
        of_job()
            .filter(|e| !matches!(e.state, EngineState::Stopped | EngineState::Failed(_)))
            .max_by_key(|e| e.id)
            .or_else(|| of_job().max_by_key(|e| e.id))
    }
}
