//! The engines the Engines screen lists and selects, and the one Live shows starting.

use super::Model;
use super::ui_state::ListId;
use llms_shared::{EngineInfo, EngineState};

impl Model {
    /// Engines of the Engines screen: the filter's, less the stopped ones when hidden.
    pub fn engines_shown(&self) -> Vec<&EngineInfo> {
        self.latest
            .engines
            .iter()
            .filter(|e| !(self.ui.hide_stopped && e.state == EngineState::Stopped))
            .filter(|e| {
                let state = match &e.state {
                    EngineState::Building(s) => format!("building {s}"),
                    EngineState::Failed(s) => format!("failed {s}"),
                    s => format!("{s:?}"),
                };
                let id = e.id.to_string();
                self.ui
                    .passes(ListId::Engines, &[&id, &e.name, &e.kind, &state])
            })
            .collect()
    }

    /// An engine starting for a job that runs, the newest first: what Live shows while no
    /// point runs.
    pub fn starting_engine(&self) -> Option<&EngineInfo> {
        self.latest
            .engines
            .iter()
            .filter(|e| matches!(e.state, EngineState::Starting | EngineState::Building(_)))
            .filter(|e| {
                e.job
                    .and_then(|j| self.latest.jobs.iter().find(|x| x.id == j))
                    .is_none_or(|j| !j.state.is_final())
            })
            .max_by_key(|e| e.id)
    }

    /// The selected engine: the user's choice while listed, else the active one (starting,
    /// or serving the running point), else the first listed.
    pub fn engine(&self) -> Option<&EngineInfo> {
        let list = self.engines_shown();
        let active = || {
            let live = self.latest.live.first();
            let serving = list.iter().find(|e| {
                live.is_some_and(|l| e.job == Some(l.job) && e.name == l.engine)
                    && e.state == EngineState::Ready
            });
            let starting = self
                .starting_engine()
                .and_then(|s| list.iter().find(|e| e.id == s.id));
            starting.or(serving).copied()
        };
        self.ui
            .engine_sel
            .and_then(|id| list.iter().find(|e| e.id == id).copied())
            .or_else(active)
            .or_else(|| list.first().copied())
    }
}
