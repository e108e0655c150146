//! The Engines screen: each engine's state, port, PID, GPU memory and uptime, and the
//! selected engine's log tail (scrollable).

use super::theme::Theme;
use super::{cut, duration, gib, one_line, rest_width};
use crate::dash::model::{ListId, Model};
use llms_shared::{EngineInfo, EngineState};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

/// The port of a base URL (`http://127.0.0.1:8001/v1` -> `8001`).
pub fn port(url: &str) -> Option<u16> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split('/').next()?;
    host.rsplit_once(':')?.1.parse().ok()
}

/// GPU memory of the engine's process group over every GPU (the leader when the daemon has
/// not listed the group yet).
pub fn gpu_mem(m: &Model, e: &EngineInfo) -> Option<u64> {
    let leader = [e.pid?];
    let pids: &[u32] = if e.pids.is_empty() { &leader } else { &e.pids };
    let mut found = false;
    let mut sum = 0;
    for g in m.gpus.values() {
        for (p, b) in &g.latest.processes {
            if pids.contains(p) {
                found = true;
                sum += b;
            }
        }
    }
    found.then_some(sum)
}

/// An engine's state in `width` columns (cut with an ellipsis), styled.
pub fn state(e: &EngineInfo, t: Theme, width: usize) -> Span<'static> {
    let (text, style) = match &e.state {
        EngineState::Starting => ("starting".to_string(), t.warn()),
        EngineState::Building(step) => (format!("building: {step}"), t.warn()),
        EngineState::Ready => ("ready".into(), t.ok()),
        EngineState::Stopping => ("stopping".into(), t.warn()),
        EngineState::Stopped => ("stopped".into(), t.dim()),
        EngineState::Failed(why) => (format!("failed: {why}"), t.error()),
    };
    Span::styled(cut(&one_line(&text), width), style)
}

/// Draw the Engines screen.
pub fn render(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let list = m.engines_shown();
    let table_h = (list.len() as u16 + 3).max(4).min(area.height / 2);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(table_h), Constraint::Min(0)]).areas(area);
    let hidden = m.latest.engines.len() - list.len();
    let hidden = match (hidden, m.ui.hide_stopped) {
        (0, _) => String::new(),
        (n, true) => format!(", {n} hidden (a shows stopped)"),
        (n, false) => format!(", {n} hidden"),
    };
    let title = format!(
        " Engines: {}{hidden}{} ",
        super::plural(list.len(), "engine", "engines"),
        super::filter_note(m, ListId::Engines)
    );
    let block = Block::bordered().title(Span::styled(
        cut(&title, top.width.saturating_sub(2) as usize),
        t.title(),
    ));
    if list.is_empty() {
        let msg = if m.latest.engines.is_empty() {
            "No engine has run since llmsd started."
        } else {
            "No engine matches (Esc clears the filter, a shows stopped ones)."
        };
        f.render_widget(Paragraph::new(msg).block(block), top);
    } else {
        let widths = [
            Constraint::Length(4),
            Constraint::Length(12),
            Constraint::Length(9),
            Constraint::Length(4),
            Constraint::Length(5),
            Constraint::Length(7),
            Constraint::Length(9),
            Constraint::Length(7),
        ];
        let state_w = rest_width(top.width, &widths, 4);
        let rows: Vec<Row<'_>> = list
            .iter()
            .map(|e| {
                let up = match e.state {
                    EngineState::Starting | EngineState::Building(_) | EngineState::Ready => {
                        duration(m.now_ms.saturating_sub(e.started_ms) as f64 / 1000.0)
                    }
                    _ => "-".into(),
                };
                Row::new(vec![
                    Cell::from(e.id.to_string()),
                    Cell::from(e.name.clone()),
                    Cell::from(e.kind.clone()),
                    Cell::from(e.job.map_or("-".into(), |j| j.to_string())),
                    Cell::from(port(&e.url).map_or("-".into(), |p| p.to_string())),
                    Cell::from(e.pid.map_or("-".into(), |p| p.to_string())),
                    Cell::from(gpu_mem(m, e).map_or("-".into(), |b| format!("{} GiB", gib(b)))),
                    Cell::from(up),
                    Cell::from(state(e, t, state_w)),
                ])
            })
            .collect();
        let mut widths = widths.to_vec();
        widths.push(Constraint::Min(8));
        let header = [
            "ID", "NAME", "KIND", "JOB", "PORT", "PID", "GPU MEM", "UPTIME", "STATE",
        ];
        let table = Table::new(rows, widths)
            .header(Row::new(header).style(t.header()))
            .row_highlight_style(t.selected())
            .highlight_symbol("> ")
            .block(block);
        let sel = m
            .engine()
            .and_then(|s| list.iter().position(|e| e.id == s.id));
        let mut st = TableState::default().with_selected(sel);
        f.render_stateful_widget(table, top, &mut st);
    }
    render_log(m, t, f, bottom);
}

fn render_log(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let Some(e) = m.engine() else {
        f.render_widget(Block::bordered().title(" log "), area);
        return;
    };
    let log = m.log.as_ref().filter(|l| l.engine == e.id);
    let n = log.map_or(0, |l| l.lines.len());
    let back = m.ui.log_scroll.min(n.saturating_sub(1));
    let pos = if back == 0 {
        "following the tail".to_string()
    } else {
        format!("{back} lines back")
    };
    let title = format!(" log of {} (engine {}, {n} lines, {pos}) ", e.name, e.id);
    let block = Block::bordered().title(Span::styled(
        cut(&title, area.width as usize - 2),
        t.title(),
    ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(log) = log else {
        f.render_widget(Paragraph::new(Span::styled("loading…", t.dim())), inner);
        return;
    };
    // Only the visible window is turned into rows: long lines wrap (their numbers stay
    // in view), the newest at the bottom.
    let end = n - back;
    let h = inner.height as usize;
    let w = inner.width as usize;
    let rows = super::wrap::tail(&log.lines[..end], w, h);
    let lines: Vec<Line<'_>> = rows.into_iter().map(Line::raw).collect();
    f.render_widget(Paragraph::new(lines), inner);
}
