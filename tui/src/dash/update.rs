//! `update`: the only place the [`Model`] changes. Pure: no I/O and no clock (time comes in
//! [`Msg::Tick`]); the I/O it wants comes back as [`Command`]s.

use super::action::Action;
use super::command::Command;
use super::event::{DaemonEvent, Msg};
use super::model::{ConnState, Model, Picker, REFETCH_MS, ResultsView, Screen, Status};
use super::nav;
use crate::compare::Metric;
use llms_shared::JobState;

/// How often the selected engine's log is fetched while the Engines screen is shown, ms.
pub const LOG_EVERY_MS: u64 = 2_000;
/// How long a first `c` waits for the second that cancels, ms.
pub const CANCEL_MS: u64 = 3_000;
/// Rows a page key scrolls.
pub const PAGE: usize = 10;

/// Apply one message; returns the I/O to perform.
pub fn update(m: &mut Model, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Tick(now) => tick(m, now),
        Msg::Daemon(e) => daemon(m, e),
        Msg::Reply(r) => super::reply::reply(m, r),
        Msg::Action(a) => action(m, a),
        Msg::Resize(w, h) => {
            m.ui.size = (w, h);
            Vec::new()
        }
    }
}

/// Whether the daemon is there now.
pub fn connected(m: &Model) -> bool {
    m.conn == ConnState::Connected
}

/// Set the status line for [`STATUS_MS`](super::ui::STATUS_MS).
pub fn status(m: &mut Model, text: impl Into<String>, error: bool) {
    status_for(m, text, error, super::ui::STATUS_MS);
}

/// Set the status line for `ttl_ms` (a question goes when its answer no longer counts).
pub fn status_for(m: &mut Model, text: impl Into<String>, error: bool, ttl_ms: u64) {
    m.ui.status = Some(Status {
        text: text.into(),
        error,
        at_ms: m.now_ms,
        ttl_ms,
    });
}

fn tick(m: &mut Model, now: u64) -> Vec<Command> {
    m.now_ms = now;
    // A message says something about a moment; it goes when its time is up.
    if m.ui
        .status
        .as_ref()
        .is_some_and(|s| now.saturating_sub(s.at_ms) > s.ttl_ms)
    {
        m.ui.status = None;
    }
    if !m.ui.drill.is_empty() {
        return nav::tick(m);
    }
    let due = now.saturating_sub(m.ui.log_asked_ms) >= LOG_EVERY_MS;
    if m.ui.screen == Screen::Engines && due {
        return fetch_log(m);
    }
    // Live shows the log of an engine starting while no point runs.
    if m.ui.screen == Screen::Live
        && due
        && m.latest.live.is_empty()
        && connected(m)
        && let Some(id) = m.starting_engine().map(|e| e.id)
    {
        m.ui.log_asked_ms = now;
        return vec![Command::FetchLog(id)];
    }
    // A compared job that is still running is refetched as its points finish (throttled).
    fetch_missing(m)
}

/// Fetch the selected engine's log.
pub fn fetch_log(m: &mut Model) -> Vec<Command> {
    match m.engine().map(|e| e.id) {
        Some(id) if connected(m) => {
            m.ui.log_asked_ms = m.now_ms;
            vec![Command::FetchLog(id)]
        }
        _ => Vec::new(),
    }
}

/// Fetch the points of compared jobs (Results) or of the running job (Live) that are not
/// cached, or whose count moved on, unless on their way or asked for less than
/// [`REFETCH_MS`] ago. Other screens need no points.
fn fetch_missing(m: &mut Model) -> Vec<Command> {
    // Results compares jobs; Live shows the running job's finished points and its history.
    let ids = match m.ui.screen {
        Screen::Results => m.compared(),
        Screen::Live => m.latest.live.first().map(|l| l.job).into_iter().collect(),
        _ => return Vec::new(),
    };
    if !connected(m) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for id in ids {
        let recent = m
            .fetched_ms
            .get(&id)
            .is_some_and(|t| m.now_ms.saturating_sub(*t) < REFETCH_MS);
        if !m.results_fresh(id) && !recent && m.job(id).is_some() && m.pending.insert(id) {
            m.fetched_ms.insert(id, m.now_ms);
            out.push(Command::FetchResults(id));
        }
    }
    out
}

/// After the job list, the cache or the picks changed: recompute the comparison if its
/// inputs moved, and fetch what is missing.
pub fn results_changed(m: &mut Model, force: bool) -> Vec<Command> {
    let compared = m.compared();
    if force || compared != m.comparison.jobs {
        if compared != m.comparison.jobs {
            m.ui.cmp_scroll = 0;
        }
        m.refresh_comparison();
    }
    fetch_missing(m)
}

fn daemon(m: &mut Model, e: DaemonEvent) -> Vec<Command> {
    match e {
        DaemonEvent::Connected(hello) => {
            if !connected(m) {
                status(m, format!("reconnected to llmsd at {}", m.label), false);
            }
            m.conn = ConnState::Connected;
            m.hello = Some(hello);
            let mut out = vec![Command::FetchJobs];
            if m.ui.screen == Screen::Engines {
                out.extend(fetch_log(m));
            }
            out.extend(fetch_missing(m));
            out
        }
        DaemonEvent::Update(u) => {
            m.absorb(*u);
            results_changed(m, false)
        }
        DaemonEvent::Disconnected(reason) => {
            m.conn = match &m.conn {
                ConnState::Reconnecting { since_ms, .. } => ConnState::Reconnecting {
                    since_ms: *since_ms,
                    reason,
                },
                ConnState::Connected => ConnState::Reconnecting {
                    since_ms: m.now_ms,
                    reason,
                },
            };
            // Fetches in flight fail on their own; nothing waits on them.
            m.pending.clear();
            Vec::new()
        }
    }
}

fn goto(m: &mut Model, s: Screen) -> Vec<Command> {
    if s == m.ui.screen && m.ui.drill.is_empty() {
        return Vec::new();
    }
    m.ui.drill.clear();
    m.ui.screen = s;
    match s {
        Screen::Engines => fetch_log(m),
        Screen::Results => {
            let mut out = vec![Command::FetchJobs];
            out.extend(results_changed(m, false));
            out
        }
        _ => Vec::new(),
    }
}

fn reorder(m: &mut Model, earlier: bool) -> Vec<Command> {
    let Some(id) = m.queue_job() else {
        return Vec::new();
    };
    let queued: Vec<u64> = m
        .queue_jobs()
        .iter()
        .filter(|j| j.state == JobState::Queued)
        .map(|j| j.id)
        .collect();
    let Some(at) = queued.iter().position(|&q| q == id) else {
        status(
            m,
            format!("job {id} is not queued; only queued jobs move"),
            true,
        );
        return Vec::new();
    };
    let to = if earlier {
        at.checked_sub(1)
    } else {
        (at + 1 < queued.len()).then_some(at + 1)
    };
    match to {
        Some(position) => vec![Command::Reorder {
            id,
            position: position as u32,
        }],
        None => Vec::new(),
    }
}

fn action(m: &mut Model, a: Action) -> Vec<Command> {
    if nav::typing(m)
        && matches!(
            a,
            Action::Input(_) | Action::Backspace | Action::Confirm | Action::Close
        )
    {
        return nav::filter_key(m, a);
    }
    match a {
        Action::Open => nav::open(m),
        Action::Back => nav::back(m),
        Action::JumpLog => nav::jump_log(m),
        Action::StartFilter => nav::start_filter(m),
        Action::ToggleStopped => {
            m.ui.hide_stopped = !m.ui.hide_stopped;
            let what = if m.ui.hide_stopped {
                "stopped engines hidden (a shows them)"
            } else {
                "stopped engines shown"
            };
            status(m, what, false);
            Vec::new()
        }
        Action::Quit => {
            m.quit = true;
            Vec::new()
        }
        Action::ToggleHelp if m.ui.screen == Screen::Help => goto(m, m.ui.before_help),
        Action::ToggleHelp => {
            m.ui.before_help = m.ui.screen;
            goto(m, Screen::Help)
        }
        Action::NextScreen => goto(m, m.ui.screen.next()),
        Action::PrevScreen => goto(m, m.ui.screen.prev()),
        Action::Goto(s) => goto(m, s),
        Action::Up | Action::Down | Action::Top | Action::Bottom => super::scroll::navigate(m, a),
        Action::PageUp => {
            super::scroll::page(m, false);
            Vec::new()
        }
        Action::PageDown => {
            super::scroll::page(m, true);
            Vec::new()
        }
        Action::OpenSubmit => {
            m.ui.picker = Some(Picker::default());
            vec![Command::ListSweeps]
        }
        // A sweep may have run for hours: the first `c` asks, a second within 3 s cancels.
        Action::Cancel => match m.queue_job() {
            Some(id)
                if m.ui
                    .cancel_armed
                    .is_some_and(|(j, at)| j == id && m.now_ms.saturating_sub(at) <= CANCEL_MS) =>
            {
                m.ui.cancel_armed = None;
                status(m, format!("cancelling job {id}"), false);
                vec![Command::Cancel(id)]
            }
            Some(id) => {
                m.ui.cancel_armed = Some((id, m.now_ms));
                let ask = format!("press c again within 3 s to cancel job {id}");
                status_for(m, ask, false, CANCEL_MS);
                Vec::new()
            }
            None => Vec::new(),
        },
        Action::MoveUp => reorder(m, true),
        Action::MoveDown => reorder(m, false),
        Action::FollowLog => {
            m.ui.log_scroll = 0;
            Vec::new()
        }
        Action::Refresh if m.ui.screen == Screen::Engines => fetch_log(m),
        Action::Refresh => {
            for id in m.compared() {
                m.results.remove(&id);
            }
            let mut out = vec![Command::FetchJobs];
            out.extend(fetch_missing(m));
            out
        }
        Action::TogglePick => {
            if let Some(id) = m.results_job() {
                match m.ui.picks.iter().position(|&p| p == id) {
                    Some(i) => {
                        m.ui.picks.remove(i);
                    }
                    None => m.ui.picks.push(id),
                }
            }
            results_changed(m, false)
        }
        Action::WriteReport => {
            let jobs = m.compared();
            if jobs.is_empty() || !connected(m) {
                return Vec::new();
            }
            status(m, "writing the report...", false);
            vec![Command::WriteReport(jobs)]
        }
        Action::ClearPicks => {
            m.ui.picks.clear();
            results_changed(m, false)
        }
        Action::NextMetric => {
            let i = Metric::ALL
                .iter()
                .position(|x| *x == m.ui.metric)
                .unwrap_or(0);
            m.ui.metric = Metric::ALL[(i + 1) % Metric::ALL.len()];
            Vec::new()
        }
        Action::ToggleView => {
            m.ui.results_view = match m.ui.results_view {
                ResultsView::Table => ResultsView::Bars,
                ResultsView::Bars => ResultsView::Table,
            };
            Vec::new()
        }
        Action::Confirm => {
            let choice = m.ui.picker.as_ref().and_then(Picker::choice);
            match choice {
                Some(path) => {
                    m.ui.picker = None;
                    status(m, format!("submitting {path}"), false);
                    vec![Command::Submit(path)]
                }
                None => {
                    status(m, "no sweep file: type a path", true);
                    Vec::new()
                }
            }
        }
        Action::Close => {
            m.ui.picker = None;
            Vec::new()
        }
        // Typing filters the files: the first that matches is selected.
        Action::Backspace => {
            if let Some(p) = &mut m.ui.picker {
                p.input.pop();
                p.selected = 0;
            }
            Vec::new()
        }
        Action::Input(c) => {
            if let Some(p) = &mut m.ui.picker {
                p.input.push(c);
                p.selected = 0;
            }
            Vec::new()
        }
    }
}

#[cfg(test)]
#[path = "update_tests.rs"]
mod tests;
