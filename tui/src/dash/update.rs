//! `update`: the only place the [`Model`] changes. Pure: no I/O and no clock (time comes in
//! [`Msg::Tick`]); the I/O it wants comes back as [`Command`]s.

use super::action::Action;
use super::command::{Command, Reply};
use super::event::{DaemonEvent, Msg};
use super::model::{ConnState, EngineLog, Model, Picker, REFETCH_MS, ResultsView, Screen, Status};
use crate::compare::Metric;
use llms_shared::JobState;

/// How often the selected engine's log is fetched while the Engines screen is shown, ms.
pub const LOG_EVERY_MS: u64 = 2_000;
/// Rows a page key scrolls.
pub const PAGE: usize = 10;

/// Apply one message; returns the I/O to perform.
pub fn update(m: &mut Model, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Tick(now) => tick(m, now),
        Msg::Daemon(e) => daemon(m, e),
        Msg::Reply(r) => reply(m, r),
        Msg::Action(a) => action(m, a),
    }
}

fn connected(m: &Model) -> bool {
    m.conn == ConnState::Connected
}

fn status(m: &mut Model, text: impl Into<String>, error: bool) {
    m.ui.status = Some(Status {
        text: text.into(),
        error,
        at_ms: m.now_ms,
    });
}

fn tick(m: &mut Model, now: u64) -> Vec<Command> {
    m.now_ms = now;
    if m.ui.screen == Screen::Engines && now.saturating_sub(m.ui.log_asked_ms) >= LOG_EVERY_MS {
        return fetch_log(m);
    }
    // A compared job that is still running is refetched as its points finish (throttled).
    fetch_missing(m)
}

fn fetch_log(m: &mut Model) -> Vec<Command> {
    match m.engine().map(|e| e.id) {
        Some(id) if connected(m) => {
            m.ui.log_asked_ms = m.now_ms;
            vec![Command::FetchLog(id)]
        }
        _ => Vec::new(),
    }
}

/// Fetch the points of compared jobs that are not cached, or whose count moved on, unless
/// on their way or asked for less than [`REFETCH_MS`] ago. Only while Results is shown: other
/// screens need no points.
fn fetch_missing(m: &mut Model) -> Vec<Command> {
    if !connected(m) || m.ui.screen != Screen::Results {
        return Vec::new();
    }
    let mut out = Vec::new();
    for id in m.compared() {
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
fn results_changed(m: &mut Model, force: bool) -> Vec<Command> {
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

fn reply(m: &mut Model, r: Reply) -> Vec<Command> {
    match r {
        Reply::Jobs(Ok(list)) => {
            m.all_jobs = list;
            m.all_jobs.sort_by_key(|j| j.id);
            results_changed(m, false)
        }
        Reply::Results(id, Ok(rows)) => {
            m.pending.remove(&id);
            m.results.insert(id, rows);
            m.evict_results();
            let force = m.compared().contains(&id);
            results_changed(m, force)
        }
        Reply::Results(id, Err(e)) => {
            m.pending.remove(&id);
            status(m, e, true);
            Vec::new()
        }
        Reply::Log(id, Ok(lines)) => {
            m.log = Some(EngineLog { engine: id, lines });
            Vec::new()
        }
        Reply::Cancelled(id, Ok(state)) => {
            status(m, format!("job {id} is {}", state.as_str()), false);
            Vec::new()
        }
        Reply::Reordered(id, Ok(order)) => {
            let pos = order.iter().position(|&q| q == id).map_or(0, |p| p + 1);
            status(
                m,
                format!("job {id} is now number {pos} in the queue"),
                false,
            );
            m.queue_order = order;
            Vec::new()
        }
        Reply::Submitted(file, Ok(id)) => {
            status(m, format!("{file} queued as job {id}"), false);
            m.ui.queue_sel = Some(id);
            Vec::new()
        }
        Reply::Report(Ok((dir, n))) => {
            status(m, format!("report written: {dir}/ ({n} files)"), false);
            Vec::new()
        }
        Reply::Report(Err(e)) => {
            status(m, format!("report: {e}"), true);
            Vec::new()
        }
        Reply::Sweeps(files) => {
            if let Some(p) = &mut m.ui.picker {
                p.selected = p.selected.min(files.len().saturating_sub(1));
                p.files = files;
            }
            Vec::new()
        }
        Reply::Jobs(Err(e))
        | Reply::Log(_, Err(e))
        | Reply::Cancelled(_, Err(e))
        | Reply::Reordered(_, Err(e))
        | Reply::Submitted(_, Err(e)) => {
            status(m, e, true);
            Vec::new()
        }
    }
}

fn goto(m: &mut Model, s: Screen) -> Vec<Command> {
    if s == m.ui.screen {
        return Vec::new();
    }
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

/// Move a selection by id through `ids`: `delta` rows, or to an end.
fn step(ids: &[u64], current: Option<u64>, a: Action) -> Option<u64> {
    let last = ids.len().checked_sub(1)?;
    let at = current
        .and_then(|c| ids.iter().position(|&i| i == c))
        .unwrap_or(0);
    let to = match a {
        Action::Up => at.saturating_sub(1),
        Action::Down => (at + 1).min(last),
        Action::Top => 0,
        _ => last,
    };
    ids.get(to).copied()
}

fn navigate(m: &mut Model, a: Action) -> Vec<Command> {
    if let Some(p) = &mut m.ui.picker {
        let last = p.files.len().saturating_sub(1);
        p.selected = match a {
            Action::Up => p.selected.saturating_sub(1),
            Action::Down => (p.selected + 1).min(last),
            Action::Top => 0,
            _ => last,
        };
        return Vec::new();
    }
    match m.ui.screen {
        Screen::Queue => {
            let ids: Vec<u64> = m.queue_jobs().iter().map(|j| j.id).collect();
            m.ui.queue_sel = step(&ids, m.queue_job(), a);
            Vec::new()
        }
        Screen::Engines => {
            let ids: Vec<u64> = m.latest.engines.iter().map(|e| e.id).collect();
            let before = m.engine().map(|e| e.id);
            m.ui.engine_sel = step(&ids, before, a);
            if m.ui.engine_sel != before {
                m.ui.log_scroll = 0;
                return fetch_log(m);
            }
            Vec::new()
        }
        Screen::Results => {
            let ids: Vec<u64> = m.history().map(|j| j.id).collect();
            m.ui.results_sel = step(&ids, m.results_job(), a);
            results_changed(m, false)
        }
        Screen::Help => {
            let len = super::ui::help::line_count();
            m.ui.help_scroll = match a {
                Action::Up => m.ui.help_scroll.saturating_sub(1),
                Action::Down => (m.ui.help_scroll + 1).min(len),
                Action::Top => 0,
                _ => len,
            };
            Vec::new()
        }
        Screen::Live => Vec::new(),
    }
}

fn page(m: &mut Model, down: bool) {
    let (pos, len) = match m.ui.screen {
        // The log scrolls back from its end.
        Screen::Engines => (
            &mut m.ui.log_scroll,
            m.log.as_ref().map_or(0, |l| l.lines.len()),
        ),
        Screen::Results => (&mut m.ui.cmp_scroll, m.comparison.rows.len()),
        _ => return,
    };
    let back = (m.ui.screen == Screen::Engines) != down;
    *pos = if back {
        (*pos + PAGE).min(len.saturating_sub(1))
    } else {
        pos.saturating_sub(PAGE)
    };
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
    match a {
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
        Action::Up | Action::Down | Action::Top | Action::Bottom => navigate(m, a),
        Action::PageUp => {
            page(m, false);
            Vec::new()
        }
        Action::PageDown => {
            page(m, true);
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
                    .is_some_and(|(j, at)| j == id && m.now_ms.saturating_sub(at) <= 3000) =>
            {
                m.ui.cancel_armed = None;
                status(m, format!("cancelling job {id}"), false);
                vec![Command::Cancel(id)]
            }
            Some(id) => {
                m.ui.cancel_armed = Some((id, m.now_ms));
                status(m, format!("press c again to cancel job {id}"), false);
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
        Action::Backspace => {
            if let Some(p) = &mut m.ui.picker {
                p.input.pop();
            }
            Vec::new()
        }
        Action::Input(c) => {
            if let Some(p) = &mut m.ui.picker {
                p.input.push(c);
            }
            Vec::new()
        }
    }
}

#[cfg(test)]
#[path = "update_tests.rs"]
mod tests;
