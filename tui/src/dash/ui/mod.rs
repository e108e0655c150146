//! `render`: a pure function of the [`Model`] that draws a frame: header (tabs and
//! connection), the screen, the status line and the key hints. One module per screen.

pub mod engines;
pub mod header;
pub mod help;
pub mod live;
pub mod point;
pub mod points;
pub mod queue;
pub mod results;
pub mod starting;
pub mod sweep;
pub mod theme;
pub mod wrap;

use super::model::{ConnState, Drill, ListId, Model, Screen};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Cell, Chart, Dataset, GraphType, Paragraph, Row, Table};
use theme::Theme;

/// How long a status message stays, ms.
pub const STATUS_MS: u64 = 15_000;

/// Draw the whole dashboard.
pub fn render(m: &Model, f: &mut Frame<'_>) {
    let t = Theme::new(m.ui.no_color);
    let area = f.area();
    if area.width < 40 || area.height < 10 {
        f.render_widget(
            Paragraph::new("llms: the terminal is too small (40x10 at least); q quits"),
            area,
        );
        return;
    }
    let status = status_lines(m, t, area.width as usize);
    let [head, body, stat, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(status.len() as u16),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(m, t, f, head);
    match m.ui.drill.last() {
        Some(Drill::Points { job }) => points::render(m, *job, t, f, body),
        Some(Drill::Point { job, index }) => point::render(m, *job, *index, t, f, body),
        None => screen(m, t, f, body),
    }
    if m.ui.picker.is_some() {
        queue::render_picker(m, t, f, body);
    }
    // Figures from before the daemon went away are dimmed until it is back.
    if m.conn != ConnState::Connected {
        f.buffer_mut().set_style(
            body,
            ratatui::style::Style::default().add_modifier(Modifier::DIM),
        );
    }
    f.render_widget(Paragraph::new(status), stat);
    f.render_widget(Paragraph::new(hints(m, t, foot.width as usize)), foot);
}

fn screen(m: &Model, t: Theme, f: &mut Frame<'_>, body: Rect) {
    match m.ui.screen {
        Screen::Live => live::render(m, t, f, body),
        Screen::Queue => queue::render(m, t, f, body),
        Screen::Engines => engines::render(m, t, f, body),
        Screen::Results => results::render(m, t, f, body),
        Screen::Help => help::render(m, t, f, body),
    }
}

/// `1 job`, `2 jobs`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What a list's title says of its filter: ` /text▏` while typed, ` filter: text (Esc
/// clears)` once set, nothing without one.
pub fn filter_note(m: &Model, list: ListId) -> String {
    match &m.ui.filter {
        Some(f) if f.list == list && f.editing => format!("  /{}▏", f.text),
        Some(f) if f.list == list && !f.text.is_empty() => {
            format!("  filter: {} (Esc clears)", f.text)
        }
        _ => String::new(),
    }
}

/// Rows the status line takes at most: a refusal's fix hint comes after its reason.
pub const STATUS_ROWS: usize = 3;

/// The reconnecting notice, else a recent status message, wrapped in `width` on up to
/// [`STATUS_ROWS`] rows (the last cut with `…`); none without either.
fn status_lines(m: &Model, t: Theme, width: usize) -> Vec<Line<'static>> {
    let (text, style) = if let ConnState::Reconnecting { since_ms, reason } = &m.conn {
        (
            format!(
                "llmsd at {} lost {} ago, reconnecting: {reason} (dimmed figures are from before)",
                m.label,
                duration(m.now_ms.saturating_sub(*since_ms) as f64 / 1000.0)
            ),
            t.error(),
        )
    } else {
        match m.ui.status.as_ref() {
            Some(s) if m.now_ms.saturating_sub(s.at_ms) <= s.ttl_ms => {
                (s.text.clone(), if s.error { t.error() } else { t.ok() })
            }
            _ => return Vec::new(),
        }
    };
    let mut rows = wrap::words(&text, width, 2);
    if rows.len() > STATUS_ROWS {
        rows.truncate(STATUS_ROWS);
        if let Some(last) = rows.last_mut() {
            *last = cut(&format!("{last} …"), width);
        }
    }
    rows.into_iter().map(|r| Line::styled(r, style)).collect()
}

/// The key hints that fit `width` whole; `…` says more are in help.
fn hints(m: &Model, t: Theme, width: usize) -> Line<'static> {
    let mut spans = Vec::new();
    let all = super::keymap::hints(&m.ui);
    let mut used = 0;
    for (i, (key, desc)) in all.iter().enumerate() {
        let text = format!(" {desc}");
        let len = key.chars().count() + text.chars().count();
        let sep = if i == 0 { 0 } else { 2 };
        // Room for `  …` unless this is the last hint.
        let reserve = if i + 1 < all.len() { 3 } else { 0 };
        if used + sep + len + reserve > width {
            spans.push(Span::styled(if i == 0 { "…" } else { "  …" }, t.dim()));
            break;
        }
        if sep > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(key.clone(), t.key()));
        spans.push(Span::styled(text, t.dim()));
        used += sep + len;
    }
    Line::from(spans)
}

/// A table of jobs, as Queue and Results draw them: `widths` and `header` for the leading
/// columns, then (on wide screens) a time column titled `time`, then ERROR taking the rest
/// of `width` (each row's error, cut with an ellipsis to fit).
#[allow(clippy::too_many_arguments)]
pub fn jobs_table<'a>(
    rows: Vec<(Vec<Cell<'a>>, Option<String>)>,
    mut widths: Vec<Constraint>,
    mut header: Vec<&'a str>,
    time: Option<&'a str>,
    t: Theme,
    block: Block<'a>,
    width: u16,
) -> Table<'a> {
    if let Some(title) = time {
        widths.push(Constraint::Length(19));
        header.push(title);
    }
    // Borders, the highlight symbol, and a space between columns.
    let error_w = rest_width(width, &widths, 2 + 2);
    widths.push(Constraint::Min(5));
    header.push("ERROR");
    let rows: Vec<Row<'a>> = rows
        .into_iter()
        .map(|(mut cells, error)| {
            let e = error.map_or(String::new(), |e| cut(&one_line(&e), error_w));
            cells.push(Cell::from(Span::styled(e, t.error())));
            Row::new(cells)
        })
        .collect();
    Table::new(rows, widths)
        .header(Row::new(header).style(t.header()))
        .row_highlight_style(t.selected())
        .highlight_symbol("> ")
        .block(block)
}

/// What a table of `width` leaves its last column after the fixed `widths` before it, one
/// space between columns, and `chrome` (borders, highlight symbol).
pub fn rest_width(width: u16, widths: &[Constraint], chrome: u16) -> usize {
    let fixed: u16 = widths
        .iter()
        .map(|c| match c {
            Constraint::Length(n) | Constraint::Min(n) => *n,
            _ => 0,
        })
        .sum();
    width
        .saturating_sub(fixed + widths.len() as u16 + chrome)
        .max(1) as usize
}

/// A text on one line: its lines joined with ` ⏎ ` (an error that carries log lines).
pub fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(" ⏎ ")
}

/// A bar of `width` cells filled to `frac` (0 to 1).
pub fn bar(frac: f64, width: usize) -> String {
    let frac = if frac.is_finite() {
        frac.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let full = (frac * width as f64).round() as usize;
    format!("{}{}", "█".repeat(full), "░".repeat(width - full))
}

/// Seconds as `42s`, `3m05s` or `2h10m`.
pub fn duration(secs: f64) -> String {
    let s = if secs.is_finite() { secs.max(0.0) } else { 0.0 } as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// Bytes as GiB with one decimal.
pub fn gib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1u64 << 30) as f64)
}

/// `text` cut to `width` characters, with `…` when cut.
pub fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// A centred rectangle of `w` x `h` within `r` (clamped to it).
pub fn centered(r: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(r.width);
    let h = h.min(r.height);
    Rect::new(r.x + (r.width - w) / 2, r.y + (r.height - h) / 2, w, h)
}

/// One braille line over `pts`, the x axis over `x` with its two labels, the y axis from 0 to
/// a tenth above the highest point (the Live and sweep views' tokens/s charts).
pub fn line_chart<'a>(
    block: Block<'a>,
    pts: &'a [(f64, f64)],
    x: [f64; 2],
    x_labels: [String; 2],
    t: Theme,
) -> Chart<'a> {
    let ymax = pts.iter().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let ds = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(t.bar())
        .data(pts);
    Chart::new(vec![ds])
        .block(block)
        .x_axis(Axis::default().bounds(x).labels(x_labels).style(t.dim()))
        .y_axis(
            Axis::default()
                .bounds([0.0, ymax])
                .labels(["0".to_string(), format!("{ymax:.0}")])
                .style(t.dim()),
        )
}

#[cfg(test)]
#[path = "../snapshot_tests.rs"]
mod snapshot_tests;
