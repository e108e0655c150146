//! A job's points (Enter on a job): each planned point with its state, main figures and
//! why it failed or was flagged, cut to the width with an ellipsis.

use super::theme::Theme;
use super::{cut, one_line, rest_width};
use crate::compare::fmt;
use crate::dash::model::{ListId, Model, PointLine, PointState};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

fn style(s: PointState, t: Theme) -> Style {
    match s {
        PointState::Done => t.ok(),
        PointState::Flagged | PointState::Running => t.warn(),
        PointState::Failed => t.error(),
        PointState::Pending | PointState::NotRun => t.dim(),
    }
}

/// The list's title: the job, how many points, the filter.
fn title(m: &Model, job: u64, shown: usize) -> String {
    let name = m.job(job).map_or(String::new(), |j| format!(" {}", j.name));
    let failed = m
        .results
        .get(&job)
        .map_or(0, |r| crate::output::failed_count(r));
    let failed = if failed > 0 {
        format!(", {failed} failed")
    } else {
        String::new()
    };
    let points = super::plural(shown, "point", "points");
    format!(
        " Job {job}{name}: {points}{failed}{} ",
        super::filter_note(m, ListId::Points)
    )
}

/// Draw a job's points.
pub fn render(m: &Model, job: u64, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let list = m.points_of(job);
    let block = Block::bordered().title(Span::styled(
        cut(
            &title(m, job, list.len()),
            area.width.saturating_sub(2) as usize,
        ),
        t.title(),
    ));
    if list.is_empty() {
        let msg = if m.pending.contains(&job) || !m.results.contains_key(&job) {
            "Loading the job's points…"
        } else {
            "No point matches."
        };
        f.render_widget(
            Paragraph::new(Span::styled(msg, t.dim())).block(block),
            area,
        );
        return;
    }
    let wide = area.width >= 110;
    let mut widths = vec![
        Constraint::Length(5),
        Constraint::Length(if wide { 16 } else { 10 }),
        Constraint::Length(if wide { 14 } else { 8 }),
        Constraint::Length(7),
        Constraint::Length(6),
    ];
    let mut header = vec!["POINT", "ENGINE", "LOAD", "STATE", "tok/s"];
    if wide {
        widths.extend([Constraint::Length(9), Constraint::Length(8)]);
        header.extend(["TTFT p99", "ITL p99"]);
    }
    let note_w = rest_width(area.width, &widths, 4);
    let sel = m.point_selected(job);
    let at = sel
        .and_then(|i| list.iter().position(|p| p.index == i))
        .unwrap_or(0);
    let visible = area.height.saturating_sub(3) as usize;
    let first = at.saturating_sub(visible.saturating_sub(1));
    let rows: Vec<Row<'_>> = list
        .iter()
        .skip(first)
        .take(visible.max(1))
        .map(|p| row(p, t, wide, note_w))
        .collect();
    widths.push(Constraint::Min(4));
    header.push("WHY / FLAGS");
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.header()))
        .row_highlight_style(t.selected())
        .highlight_symbol("> ")
        .block(block);
    let mut st = TableState::default().with_selected(sel.map(|_| at - first));
    f.render_stateful_widget(table, area, &mut st);
}

fn row<'a>(p: &PointLine<'_>, t: Theme, wide: bool, note_w: usize) -> Row<'a> {
    let fig = p.row.and_then(|r| r.point.as_ref());
    let mut cells = vec![
        Cell::from(p.index.to_string()),
        Cell::from(cut(&p.engine, if wide { 16 } else { 10 })),
        Cell::from(cut(&p.load, if wide { 14 } else { 8 })),
        Cell::from(Span::styled(p.state.word(), style(p.state, t))),
        Cell::from(fmt(fig.map(|x| x.output_throughput))),
    ];
    if wide {
        cells.push(Cell::from(fmt(fig.map(|x| x.ttft_ms.p99))));
        cells.push(Cell::from(fmt(fig.map(|x| x.itl_ms.p99))));
    }
    let note = cut(&one_line(&p.note()), note_w);
    let note_style = if p.state == PointState::Failed {
        t.error()
    } else {
        t.text()
    };
    cells.push(Cell::from(Span::styled(note, note_style)));
    Row::new(cells)
}
