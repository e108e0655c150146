//! Live on a large terminal: the running job's whole sweep. A tokens/s history that spans
//! its points (each finished point at its mean, from the stored results, so it survives the
//! dashboard's restarts; the running point second by second), and a table of its finished
//! points.

use super::cut;
use super::theme::Theme;
use crate::dash::model::Model;
use llms_shared::ResultRow;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

/// The running job's finished points with figures, in index order.
fn finished(m: &Model) -> Vec<&ResultRow> {
    let Some(job) = m.latest.live.first().map(|l| l.job) else {
        return Vec::new();
    };
    let mut rows: Vec<&ResultRow> = m
        .results
        .get(&job)
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    rows.sort_by_key(|r| r.index);
    rows
}

/// (seconds since the sweep's first measured request, tokens/s): each finished point a flat
/// segment at its mean, then the running point's readings.
pub fn series(m: &Model) -> Vec<(f64, f64)> {
    let mut spans: Vec<(f64, f64, f64)> = finished(m)
        .iter()
        .filter_map(|r| {
            let p = r.point.as_ref()?;
            let end = r.finished_ms as f64 / 1000.0;
            (r.finished_ms > 0).then_some((end - p.duration_s, end, p.output_throughput))
        })
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let live = m.latest.live.first();
    // The running point began `elapsed_s` before now.
    let live_start = live.map(|l| m.now_ms as f64 / 1000.0 - l.elapsed_s);
    let t0 = spans
        .first()
        .map(|s| s.0)
        .or(live_start)
        .unwrap_or_default();
    let mut out = Vec::new();
    for (a, b, v) in spans {
        out.push((a - t0, v));
        out.push((b - t0, v));
    }
    if let Some(start) = live_start {
        let base = m.tokens.points.first().map_or(0.0, |p| p.0);
        out.extend(
            m.tokens
                .points
                .iter()
                .map(|(e, v)| (start - t0 + (e - base), *v)),
        );
    }
    out
}

/// The sweep-long chart.
pub fn render_chart(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let title = " output tokens/s over the sweep (finished points at their mean) ";
    let block = Block::bordered().title(Span::styled(title, t.title()));
    let pts = series(m);
    if pts.is_empty() {
        let msg = Span::styled("no point running", t.dim());
        f.render_widget(Paragraph::new(msg).block(block), area);
        return;
    }
    let x1 = pts.iter().map(|p| p.0).fold(1.0, f64::max);
    let x_labels = ["0s".to_string(), super::duration(x1)];
    let chart = super::line_chart(block, &pts, [0.0, x1], x_labels, t);
    f.render_widget(chart, area);
}

/// The running job's finished points: load, tok/s, TTFT and ITL p99, status.
pub fn render_points(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let block = Block::bordered().title(Span::styled(" finished points of this job ", t.title()));
    let width = area.width.saturating_sub(2) as usize;
    let mut lines = vec![Line::styled(
        cut(
            &format!(
                "{:>3} {:<12} {:>8} {:>10} {:>9}  {}",
                "#", "load", "tok/s", "TTFT p99", "ITL p99", "status"
            ),
            width,
        ),
        t.dim(),
    )];
    let rows = finished(m);
    let shown = rows
        .len()
        .saturating_sub(area.height.saturating_sub(3) as usize);
    for r in &rows[shown..] {
        let load = r
            .load
            .as_ref()
            .map_or("-".into(), crate::output::load_label);
        let text = match (&r.point, &r.error) {
            (Some(p), _) => {
                let status = match p.flags.is_empty() {
                    true => "ok".to_owned(),
                    false => p.flags.join(","),
                };
                format!(
                    "{:>3} {:<12} {:>8.0} {:>10.1} {:>9.2}  {status}",
                    r.index, load, p.output_throughput, p.ttft_ms.p99, p.itl_ms.p99
                )
            }
            (None, e) => format!(
                "{:>3} {:<12} {:>8} {:>10} {:>9}  FAILED: {}",
                r.index,
                load,
                "-",
                "-",
                "-",
                e.as_deref().unwrap_or("").lines().next().unwrap_or("")
            ),
        };
        let style = match r.error.is_some() {
            true => t.error(),
            false => t.text(),
        };
        lines.push(Line::styled(cut(&text, width), style));
    }
    if rows.is_empty() {
        lines.push(Line::styled("none yet", t.dim()));
    }
    f.render_widget(Paragraph::new(lines).block(block), area);
}
