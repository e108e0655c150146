//! The Results screen: job history (newest first, picks marked) and the comparison of the
//! picked jobs (else the selected one) as a table and as bars of one metric. Both panes
//! draw only their visible rows; the comparison itself is computed in `update`.

use super::queue::{points, state_style};
use super::theme::Theme;
use super::{bar, cut};
use crate::capacity::{Capacity, objective_label};
use crate::compare::{CmpRow, Metric, fmt, fmt_x, load_text};
use crate::dash::model::{Comparison, ListId, Model, ResultsView};
use crate::output::utc_time;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

/// Draw the Results screen.
pub fn render(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    // At least 4 rows when there is room, never more than two fifths of the screen.
    let jobs_h = (m.all_jobs.len() as u16 + 3)
        .max(4)
        .min(area.height * 2 / 5);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(jobs_h), Constraint::Min(0)]).areas(area);
    render_jobs(m, t, f, top);
    render_comparison(m, t, f, bottom);
}

fn render_jobs(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let shown = m.history().count();
    let title = format!(
        " History: {}, Space picks, Enter opens{} ",
        super::plural(shown, "job", "jobs"),
        super::filter_note(m, ListId::Results)
    );
    let block = Block::bordered().title(Span::styled(
        cut(&title, area.width.saturating_sub(2) as usize),
        t.title(),
    ));
    if shown == 0 {
        let msg = if m.all_jobs.is_empty() {
            "No jobs yet."
        } else {
            "No job matches the filter."
        };
        f.render_widget(Paragraph::new(msg).block(block), area);
        return;
    }
    let wide = area.width >= 120;
    let sel = m.results_job();
    // Only the rows around the selection are built (the history can be long).
    let visible = area.height.saturating_sub(3) as usize;
    let at = sel
        .and_then(|id| m.history().position(|j| j.id == id))
        .unwrap_or(0);
    let first = at.saturating_sub(visible.saturating_sub(1));
    let rows: Vec<_> = m
        .history()
        .skip(first)
        .take(visible.max(1))
        .map(|j| {
            let picked = m.ui.picks.contains(&j.id);
            let mut cells = vec![
                Cell::from(if picked { "[x]" } else { "[ ]" }),
                Cell::from(j.id.to_string()),
                Cell::from(cut(&j.name, if wide { 30 } else { 18 })),
                Cell::from(Span::styled(j.state.as_str(), state_style(j.state, t))),
                Cell::from(points(j)),
            ];
            if wide {
                cells.push(Cell::from(j.finished_ms.map_or("-".into(), utc_time)));
            }
            (cells, j.error.clone())
        })
        .collect();
    let widths = vec![
        Constraint::Length(3),
        Constraint::Length(5),
        Constraint::Length(if wide { 30 } else { 18 }),
        Constraint::Length(9),
        Constraint::Length(16),
    ];
    let header = vec!["", "ID", "NAME", "STATE", "POINTS"];
    let time = wide.then_some("FINISHED (UTC)");
    let table = super::jobs_table(rows, widths, header, time, t, block, area.width);
    let mut st = TableState::default().with_selected(sel.map(|_| at - first));
    f.render_stateful_widget(table, area, &mut st);
}

fn render_comparison(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let c = &m.comparison;
    let ids: Vec<String> = c.jobs.iter().map(u64::to_string).collect();
    let mut title = match ids.len() {
        0 => " Compare ".to_string(),
        1 => format!(" Compare: job {} (TTFT, ITL in ms; output tokens) ", ids[0]),
        _ => format!(
            " Compare: jobs {} (TTFT, ITL in ms; output tokens) ",
            ids.join(", ")
        ),
    };
    if !c.loading.is_empty() {
        let l: Vec<String> = c.loading.iter().map(u64::to_string).collect();
        title.push_str(&format!("(loading {}) ", l.join(", ")));
    }
    let mut block = Block::bordered().title(Span::styled(title, t.title()));
    let legend = match (
        c.rows.iter().any(|r| r.on_frontier),
        c.rows.iter().any(|r| r.search_pass.is_some()),
    ) {
        (true, true) => " * on its frontier (tok/s per user vs per GPU)  ✓/✗ met/broke the SLO ",
        (true, false) => " * on its series' frontier: output tok/s per user vs per GPU ",
        (false, true) => " ✓/✗ search point met/broke the SLO ",
        (false, false) => "",
    };
    // The marks are the table's: no legend under the bars alone.
    let table_shown =
        area.width.saturating_sub(2) >= 150 || m.ui.results_view == ResultsView::Table;
    if table_shown && !legend.is_empty() {
        block = block.title_bottom(Span::styled(legend, t.dim()));
    }
    let inner = block.inner(area);
    f.render_widget(block, area);
    let caps = capacity_lines(c, inner.width as usize, (inner.height / 6).max(1) as usize);
    let [cap_area, inner] =
        Layout::vertical([Constraint::Length(caps.len() as u16), Constraint::Min(0)]).areas(inner);
    let caps: Vec<Line<'_>> = caps
        .into_iter()
        .map(|l| Line::styled(l, t.text()))
        .collect();
    f.render_widget(Paragraph::new(caps), cap_area);
    if c.rows.is_empty() {
        let msg = if c.loading.is_empty() {
            "No finished points."
        } else {
            "Loading points…"
        };
        f.render_widget(Paragraph::new(Span::styled(msg, t.dim())), inner);
        return;
    }
    if inner.width >= 150 {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
                .spacing(2)
                .areas(inner);
        render_table(m, t, f, left);
        render_bars(m, t, f, right);
    } else {
        match m.ui.results_view {
            ResultsView::Table => render_table(m, t, f, inner),
            ResultsView::Bars => render_bars(m, t, f, inner),
        }
    }
}

/// One searched series' capacity: `vllm 24 sessions (TPOT p99)`, `unconfirmed` when the
/// answer did not hold when run again.
fn capacity_item(c: &Capacity) -> String {
    let Some(v) = c.report.capacity else {
        return format!("{} search did not finish", c.series);
    };
    let limited = match c.report.limited_by.as_deref() {
        None => String::new(),
        Some("max") => " (max tried)".into(),
        Some(k) => format!(" ({})", objective_label(k)),
    };
    let confirmed = if c.report.confirmed {
        ""
    } else {
        ", unconfirmed"
    };
    let unit = if v == 1.0 && c.short_unit() == "sessions" {
        "session"
    } else {
        c.short_unit()
    };
    format!("{} {} {unit}{limited}{confirmed}", c.series, c.value_text())
}

/// The capacities as lines of `width` at most, `capacity ` first, items packed greedily
/// and at most `max_lines` lines; a line cut short ends in an ellipsis.
pub fn capacity_lines(c: &Comparison, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::from("capacity");
    for (i, item) in c.capacity.iter().map(capacity_item).enumerate() {
        let sep = if i == 0 { ": " } else { ", " };
        let would = cur.chars().count() + sep.chars().count() + item.chars().count();
        if i == 0 || would <= width {
            cur.push_str(sep);
            cur.push_str(&item);
        } else {
            lines.push(format!("{cur},"));
            cur = format!("  {item}");
        }
    }
    if c.capacity.is_empty() {
        return lines;
    }
    lines.push(cur);
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            // Say there is more even when the kept line fits.
            *last = cut(&format!("{last} …more"), width);
        }
    }
    lines.iter().map(|l| cut(l, width)).collect()
}

fn row_style(r: &CmpRow, t: Theme) -> Style {
    if r.failed() {
        t.error()
    } else if r.marked() {
        t.warn()
    } else {
        t.text()
    }
}

/// A search point's part and outcome: `✓ probe` (met every objective), `✗ confirm`.
fn role_note(r: &CmpRow) -> Option<String> {
    let role = r.role?.as_str();
    Some(match r.search_pass {
        Some(true) => format!("✓ {role}"),
        Some(false) => format!("✗ {role}"),
        None => role.to_owned(),
    })
}

/// Why a row is marked: `FAILED: ...`, its flags, failed requests; a search point's part
/// first.
fn note(r: &CmpRow) -> String {
    let role = role_note(r);
    if let Some(e) = &r.error {
        let failed = format!("FAILED: {e}");
        return role.map_or(failed.clone(), |x| format!("{x}, {failed}"));
    }
    let mut parts: Vec<String> = role.into_iter().collect();
    parts.extend(r.flags.iter().map(|f| format!("! {f}")));
    if r.failed_requests > 0 {
        parts.push(format!("{} failed req", r.failed_requests));
    }
    parts.join(", ")
}

/// Column titles: short (units in the block title) and shorter.
fn short_title(m: Metric, wide: bool) -> &'static str {
    match (m, wide) {
        (Metric::Throughput, _) => "tok/s",
        (Metric::TtftP50, true) => "TTFT p50",
        (Metric::TtftP99, true) => "TTFT p99",
        (Metric::ItlP50, true) => "ITL p50",
        (Metric::ItlP99, true) => "ITL p99",
        (Metric::PeakMem, true) => "peak GiB",
        (Metric::TtftP50, false) => "TTFT50",
        (Metric::TtftP99, false) => "TTFT99",
        (Metric::ItlP50, false) => "ITL50",
        (Metric::ItlP99, false) => "ITL99",
        (Metric::PeakMem, false) => "GiB",
        (Metric::TokensPerJoule, _) => "tok/J",
    }
}

fn render_table(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let c = &m.comparison;
    let wide = area.width >= 110;
    let visible = area.height.saturating_sub(1) as usize;
    let mw: u16 = if wide { 9 } else { 6 };
    let start = m.ui.cmp_scroll.min(c.rows.len().saturating_sub(1));
    // The load column is as wide as the loads shown (`c=8`, `rate=2.5/s`).
    let load_w = c.rows[start..]
        .iter()
        .take(visible)
        .map(|r| load_text(r.mode, r.x).chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 14) as u16;
    // What the fixed columns and the 11 gaps between the 12 columns leave to the note.
    let fixed = usize::from(if wide { 16 } else { 10 } + load_w + 1 + 7 * mw + 11);
    let note_w = (area.width as usize).saturating_sub(fixed).max(1);
    let rows: Vec<Row<'_>> = c.rows[start..]
        .iter()
        .take(visible)
        .map(|r| {
            let mut cells = vec![
                Cell::from(r.series.clone()),
                Cell::from(load_text(r.mode, r.x)),
                Cell::from(if r.on_frontier { "*" } else { "" }),
            ];
            cells.extend(Metric::ALL.iter().map(|k| Cell::from(fmt(k.of(r)))));
            cells.push(Cell::from(cut(&note(r), note_w)));
            Row::new(cells).style(row_style(r, t))
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(if wide { 16 } else { 10 }),
        Constraint::Length(load_w),
        Constraint::Length(1),
    ];
    widths.extend(Metric::ALL.iter().map(|_| Constraint::Length(mw)));
    widths.push(Constraint::Min(4));
    let mut header = vec!["SERIES", "LOAD", "*"];
    header.extend(Metric::ALL.iter().map(|k| short_title(*k, wide)));
    header.push("NOTE");
    let table = Table::new(rows, widths)
        .column_spacing(1)
        .header(Row::new(header).style(t.header()));
    f.render_widget(table, area);
}

fn render_bars(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let c = &m.comparison;
    let metric = m.ui.metric;
    let max = Metric::ALL
        .iter()
        .position(|k| *k == metric)
        .map_or(0.0, |i| c.max[i]);
    let h = area.height as usize;
    let mut lines = vec![Line::styled(
        format!(
            "{} (m: next metric; bars scaled to the largest)",
            metric.title()
        ),
        t.title(),
    )];
    let series_w = c
        .rows
        .iter()
        .map(|r| r.series.chars().count())
        .max()
        .unwrap_or(4)
        .min(16);
    let bw = (area.width as usize).saturating_sub(series_w + 12).max(4);
    let start = m.ui.cmp_scroll.min(c.by_x.len().saturating_sub(1));
    let mut last: Option<(&str, f64)> = None;
    for &i in c.by_x[start..].iter() {
        if lines.len() >= h {
            break;
        }
        let r = &c.rows[i];
        if last != Some((r.mode, r.x)) {
            let x = if r.x.is_finite() {
                fmt_x(r.x)
            } else {
                "? (failed points)".into()
            };
            lines.push(Line::styled(format!("{} {x}", r.mode), t.dim()));
            last = Some((r.mode, r.x));
            if lines.len() >= h {
                break;
            }
        }
        let name = format!("  {:<series_w$} ", cut(&r.series, series_w));
        let line = match (metric.of(r), &r.error) {
            (_, Some(_)) => Line::from(vec![Span::raw(name), Span::styled("FAILED", t.error())]),
            (Some(v), _) if v.is_finite() => {
                let frac = if max > 0.0 { v / max } else { 0.0 };
                let mark = if r.marked() { " !" } else { "" };
                Line::from(vec![
                    Span::raw(name),
                    Span::styled(bar(frac, bw).trim_end_matches('░').to_owned(), t.bar()),
                    Span::styled(format!(" {}{mark}", fmt(Some(v))), row_style(r, t)),
                ])
            }
            _ => Line::from(vec![Span::raw(name), Span::styled("-", t.dim())]),
        };
        lines.push(line);
    }
    f.render_widget(Paragraph::new(lines), area);
}
