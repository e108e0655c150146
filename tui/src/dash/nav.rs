//! Drill-down, `/` filters and jumps to an engine's log: the parts of `update` that move
//! between views rather than change data. Pure, like `update`.

use super::command::Command;
use super::model::{Drill, Filter, Model, Screen};
use super::update::{LOG_EVERY_MS, connected, fetch_log};
use crate::dash::model::REFETCH_MS;

/// Enter: on Queue or Results a job's points; on a job's points the selected point.
pub fn open(m: &mut Model) -> Vec<Command> {
    match m.ui.drill.last().copied() {
        Some(Drill::Points { job }) => match m.point_selected(job) {
            Some(index) => {
                m.ui.drill.push(Drill::Point { job, index });
                m.ui.point_scroll = 0;
                point_log(m, true)
            }
            None => Vec::new(),
        },
        Some(Drill::Point { .. }) => Vec::new(),
        None => {
            let job = match m.ui.screen {
                Screen::Queue => m.queue_job(),
                Screen::Results => m.results_job(),
                Screen::Live => m.latest.live.first().map(|l| l.job),
                _ => None,
            };
            match job {
                Some(job) => open_points(m, job),
                None => Vec::new(),
            }
        }
    }
}

/// Open a job's points: fetch its plan and its finished points.
pub fn open_points(m: &mut Model, job: u64) -> Vec<Command> {
    m.ui.drill = vec![Drill::Points { job }];
    m.ui.point_sel = None;
    if m.ui.filter.as_ref().is_some_and(|f| !f.editing) {
        // A filter typed for another list does not carry over.
        m.ui.filter =
            m.ui.filter
                .take()
                .filter(|f| f.list != super::model::ListId::Points);
    }
    if m.detail.as_ref().is_none_or(|d| d.summary.id != job) {
        m.detail = None;
    }
    if !connected(m) {
        return Vec::new();
    }
    let mut out = vec![Command::FetchJob(job)];
    if m.pending.insert(job) {
        m.fetched_ms.insert(job, m.now_ms);
        out.push(Command::FetchResults(job));
    }
    out
}

/// Esc: stop typing a filter (clearing it), else close the innermost drill-down, else
/// clear the list's filter.
pub fn back(m: &mut Model) -> Vec<Command> {
    if m.ui.filter.as_ref().is_some_and(|f| f.editing) {
        m.ui.filter = None;
    } else if m.ui.drill.pop().is_some() {
        m.ui.point_scroll = 0;
    } else {
        m.ui.filter = None;
    }
    Vec::new()
}

/// `/`: type a filter for the list shown (starting from its current text).
pub fn start_filter(m: &mut Model) -> Vec<Command> {
    if let Some(list) = m.ui.list() {
        let text = m.ui.filter_on(list).unwrap_or_default().to_owned();
        m.ui.filter = Some(Filter {
            list,
            text,
            editing: true,
        });
    }
    Vec::new()
}

/// Whether keys type into a filter now.
pub fn typing(m: &Model) -> bool {
    m.ui.filter.as_ref().is_some_and(|f| f.editing)
}

/// A key while typing a filter: a character, Backspace, Enter (keep it) or Esc (clear it).
pub fn filter_key(m: &mut Model, a: super::action::Action) -> Vec<Command> {
    use super::action::Action;
    let Some(f) = &mut m.ui.filter else {
        return Vec::new();
    };
    match a {
        Action::Input(c) => f.text.push(c),
        Action::Backspace => {
            f.text.pop();
        }
        Action::Confirm => f.editing = false,
        _ => m.ui.filter = None,
    }
    Vec::new()
}

/// `l`: the Engines screen on the engine of the point, job or running point in view,
/// following its log's tail.
pub fn jump_log(m: &mut Model) -> Vec<Command> {
    let engine = match m.ui.drill.last().copied() {
        Some(Drill::Point { job, index }) => point_engine(m, job, index),
        Some(Drill::Points { job }) => match m.point_selected(job) {
            Some(index) => point_engine(m, job, index),
            None => m.engine_of_job(job).map(|e| e.id),
        },
        None => match m.ui.screen {
            Screen::Queue => m.queue_job().and_then(|j| m.engine_of_job(j)).map(|e| e.id),
            Screen::Results => m
                .results_job()
                .and_then(|j| m.engine_of_job(j))
                .map(|e| e.id),
            Screen::Live => m
                .latest
                .live
                .first()
                .and_then(|l| m.engine_of(l.job, &l.engine))
                .or_else(|| m.starting_engine())
                .map(|e| e.id),
            _ => None,
        },
    };
    let Some(id) = engine else {
        super::update::status(
            m,
            "no engine of it is known to llmsd (engines are kept since it started)",
            true,
        );
        return Vec::new();
    };
    m.ui.drill.clear();
    m.ui.screen = Screen::Engines;
    m.ui.engine_sel = Some(id);
    m.ui.log_scroll = 0;
    // The engine may be a stopped one the list hides.
    m.ui.hide_stopped = false;
    if m.ui
        .filter
        .as_ref()
        .is_some_and(|f| f.list == super::model::ListId::Engines)
    {
        m.ui.filter = None;
    }
    fetch_log(m)
}

/// The engine a point ran on (its row's engine name, else its plan's).
fn point_engine(m: &Model, job: u64, index: u32) -> Option<u64> {
    let name = m
        .points_of(job)
        .into_iter()
        .find(|p| p.index == index)
        .map(|p| p.engine)?;
    m.engine_of(job, &name).map(|e| e.id)
}

/// Fetch the log of the engine of the point in view (now, or when `LOG_EVERY_MS` passed
/// while the point is not final).
pub fn point_log(m: &mut Model, now: bool) -> Vec<Command> {
    let Some(Drill::Point { job, index }) = m.ui.drill.last().copied() else {
        return Vec::new();
    };
    let Some(id) = point_engine(m, job, index) else {
        return Vec::new();
    };
    let due = m.now_ms.saturating_sub(m.ui.log_asked_ms) >= LOG_EVERY_MS;
    let have = m.log.as_ref().is_some_and(|l| l.engine == id);
    let running = m.job(job).is_some_and(|j| !j.state.is_final());
    if !connected(m) || !(now || !have || (due && running)) {
        return Vec::new();
    }
    m.ui.log_asked_ms = m.now_ms;
    vec![Command::FetchLog(id)]
}

/// On a tick while a job's points are open: refetch its points as they finish (at most
/// every [`REFETCH_MS`]), and the point's engine log.
pub fn tick(m: &mut Model) -> Vec<Command> {
    let job = match m.ui.drill.first() {
        Some(Drill::Points { job } | Drill::Point { job, .. }) => *job,
        None => return Vec::new(),
    };
    let mut out = point_log(m, false);
    let recent = m
        .fetched_ms
        .get(&job)
        .is_some_and(|t| m.now_ms.saturating_sub(*t) < REFETCH_MS);
    if connected(m) && !m.results_fresh(job) && !recent && m.pending.insert(job) {
        m.fetched_ms.insert(job, m.now_ms);
        out.push(Command::FetchResults(job));
    }
    out
}

#[cfg(test)]
#[path = "nav_tests.rs"]
mod tests;
