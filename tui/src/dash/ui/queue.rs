//! The Queue screen (jobs with state and progress) and the submit picker popup.

use super::theme::Theme;
use super::{bar, centered, cut};
use crate::dash::command::SWEEPS_DIR;
use crate::dash::model::{ListId, Model};
use crate::output::utc_time;
use llms_shared::{JobState, JobSummary};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, List, ListState, Paragraph, TableState};

/// A job state's style.
pub fn state_style(s: JobState, t: Theme) -> ratatui::style::Style {
    match s {
        JobState::Running | JobState::Done => t.ok(),
        JobState::Queued | JobState::Starting => t.warn(),
        JobState::Failed => t.error(),
        JobState::Cancelled => t.dim(),
    }
}

/// `3/10` with `(1 failed)` when some failed.
pub fn points(j: &JobSummary) -> String {
    match j.points_failed {
        0 => format!("{}/{}", j.points_done, j.points_total),
        n => format!("{}/{} ({n} failed)", j.points_done, j.points_total),
    }
}

/// Draw the Queue screen.
pub fn render(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let jobs = m.queue_jobs();
    let title = format!(
        " Queue: unfinished and recent jobs{} ",
        super::filter_note(m, ListId::Queue)
    );
    let block = Block::bordered().title(Span::styled(
        cut(&title, area.width.saturating_sub(2) as usize),
        t.title(),
    ));
    if jobs.is_empty() {
        let msg = if m.latest.jobs.is_empty() {
            "No jobs. Press s to submit a sweep file."
        } else {
            "No job matches the filter (Esc clears it)."
        };
        let p = Paragraph::new(msg).block(block);
        f.render_widget(p, area);
        return;
    }
    let wide = area.width >= 120;
    let bw = if wide { 20 } else { 8 };
    let rows: Vec<_> = jobs
        .iter()
        .map(|j| {
            let frac = if j.points_total > 0 {
                f64::from(j.points_done) / f64::from(j.points_total)
            } else {
                0.0
            };
            let mut cells = vec![
                Cell::from(j.id.to_string()),
                Cell::from(cut(&j.name, if wide { 30 } else { 20 })),
                Cell::from(Span::styled(j.state.as_str(), state_style(j.state, t))),
                Cell::from(Line::from(vec![
                    Span::styled(bar(frac, bw), t.bar()),
                    Span::raw(format!(" {}", points(j))),
                ])),
            ];
            if wide {
                cells.push(Cell::from(utc_time(j.submitted_ms)));
            }
            (cells, j.error.clone())
        })
        .collect();
    let widths = vec![
        Constraint::Length(5),
        Constraint::Length(if wide { 30 } else { 20 }),
        Constraint::Length(9),
        Constraint::Length(bw as u16 + 18),
    ];
    let header = vec!["ID", "NAME", "STATE", "PROGRESS"];
    let time = wide.then_some("SUBMITTED (UTC)");
    let table = super::jobs_table(rows, widths, header, time, t, block, area.width);
    let sel = m
        .queue_job()
        .and_then(|id| jobs.iter().position(|j| j.id == id));
    let mut state = TableState::default().with_selected(sel);
    f.render_stateful_widget(table, area, &mut state);
}

/// Draw the submit picker over `area`.
pub fn render_picker(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let Some(p) = &m.ui.picker else { return };
    let r = centered(
        area,
        area.width.saturating_sub(8).min(90),
        area.height.saturating_sub(2).min(20),
    );
    f.render_widget(Clear, r);
    let block = Block::bordered().title(Span::styled(" Submit a sweep file ", t.title()));
    let inner = block.inner(r);
    f.render_widget(block, r);
    let [list, input, help] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let shown = p.shown();
    if shown.is_empty() {
        let msg = if p.files.is_empty() {
            format!("no *.toml in ./{SWEEPS_DIR}/: type a path")
        } else {
            "no file matches: Enter submits the typed path".to_string()
        };
        f.render_widget(Paragraph::new(Span::styled(msg, t.dim())), list);
    } else {
        let w = list.width as usize;
        let items: Vec<Line<'_>> = shown.iter().map(|s| Line::raw(cut(s, w))).collect();
        let mut state = ListState::default().with_selected(Some(p.selected));
        f.render_stateful_widget(
            List::new(items).highlight_style(t.selected()),
            list,
            &mut state,
        );
    }
    let line = Line::from(vec![
        Span::styled("path: ", t.title()),
        Span::raw(p.input.clone()),
        Span::styled("_", t.key()),
    ]);
    f.render_widget(Paragraph::new(line), input);
    f.render_widget(
        Paragraph::new(Span::styled(
            "typing filters; Enter submits the selected file, else the typed path; Esc closes",
            t.dim(),
        )),
        help,
    );
}
