//! Moving selections and scrolling (part of `update`).

use super::action::Action;
use super::command::Command;
use super::model::{Drill, Model, Screen};
use super::update::{PAGE, fetch_log, results_changed};

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

/// Up, Down, Top, Bottom: move the selection of the list shown, or scroll.
pub fn navigate(m: &mut Model, a: Action) -> Vec<Command> {
    if let Some(p) = &mut m.ui.picker {
        let last = p.shown().len().saturating_sub(1);
        p.selected = match a {
            Action::Up => p.selected.saturating_sub(1),
            Action::Down => (p.selected + 1).min(last),
            Action::Top => 0,
            _ => last,
        };
        return Vec::new();
    }
    match m.ui.drill.last().copied() {
        Some(Drill::Points { job }) => {
            let ids: Vec<u64> = m
                .points_of(job)
                .iter()
                .map(|p| u64::from(p.index))
                .collect();
            let cur = m.point_selected(job).map(u64::from);
            m.ui.point_sel = step(&ids, cur, a).and_then(|i| u32::try_from(i).ok());
            return Vec::new();
        }
        Some(Drill::Point { .. }) => {
            let max = super::ui::point::max_scroll(m);
            m.ui.point_scroll = scrolled(m.ui.point_scroll, max, a, 1);
            return Vec::new();
        }
        None => {}
    }
    match m.ui.screen {
        Screen::Queue => {
            let ids: Vec<u64> = m.queue_jobs().iter().map(|j| j.id).collect();
            m.ui.queue_sel = step(&ids, m.queue_job(), a);
            Vec::new()
        }
        Screen::Engines => {
            let ids: Vec<u64> = m.engines_shown().iter().map(|e| e.id).collect();
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
            let max = super::ui::help::max_scroll(m.ui.size, m.ui.status.is_some());
            m.ui.help_scroll = scrolled(m.ui.help_scroll, max, a, 1);
            Vec::new()
        }
        Screen::Live => Vec::new(),
    }
}

/// A scroll position moved by `a` (`n` lines a step), never past `max`.
fn scrolled(pos: usize, max: usize, a: Action, n: usize) -> usize {
    match a {
        Action::Up | Action::PageUp => pos.saturating_sub(n),
        Action::Down | Action::PageDown => (pos + n).min(max),
        Action::Top => 0,
        _ => max,
    }
    .min(max)
}

/// PgUp, PgDn: scroll the second pane (log, comparison) or the point's view a page.
pub fn page(m: &mut Model, down: bool) {
    if let Some(Drill::Point { .. }) = m.ui.drill.last() {
        let max = super::ui::point::max_scroll(m);
        let a = if down {
            Action::PageDown
        } else {
            Action::PageUp
        };
        m.ui.point_scroll = scrolled(m.ui.point_scroll, max, a, PAGE);
        return;
    }
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
