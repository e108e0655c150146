//! Live while an engine starts and no point runs yet (vLLM takes minutes): which engine,
//! for which job, how long it has taken against its readiness timeout, what it is doing,
//! and its last log lines.

use super::theme::Theme;
use super::{bar, cut, duration, wrap};
use crate::dash::model::Model;
use llms_shared::{EngineInfo, EngineState};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

/// What the engine is doing: the daemon's stage, else its state.
pub fn stage(e: &EngineInfo) -> String {
    match (&e.stage, &e.state) {
        (Some(s), _) => s.clone(),
        (None, EngineState::Building(step)) => format!("building: {step}"),
        (None, _) => "starting".into(),
    }
}

/// The lines above the log: engine and job, elapsed against the timeout, stage.
pub fn head(m: &Model, e: &EngineInfo, t: Theme, width: usize) -> Vec<Line<'static>> {
    let job = e.job.map_or(String::new(), |j| {
        let name = m.job(j).map_or(String::new(), |x| format!(" {}", x.name));
        format!(" for job {j}{name}")
    });
    let version = e
        .version
        .as_ref()
        .map_or(String::new(), |v| format!(" {v}"));
    let what = format!("engine {} ({}{version}) starting{job}", e.name, e.kind);
    let elapsed = m.now_ms.saturating_sub(e.started_ms) as f64 / 1000.0;
    let timing = match e.ready_timeout_s {
        Some(limit) if limit > 0.0 => {
            let frac = elapsed / limit;
            let style = if frac >= 0.8 { t.warn() } else { t.bar() };
            Line::from(vec![
                Span::raw("ready in "),
                Span::styled(bar(frac, 20), style),
                Span::raw(format!(
                    " {} of {} (its readiness timeout)",
                    duration(elapsed),
                    duration(limit)
                )),
            ])
        }
        _ => Line::raw(format!(
            "{} so far (no readiness timeout known)",
            duration(elapsed)
        )),
    };
    vec![
        Line::styled(cut(&what, width), t.title()),
        timing,
        Line::from(vec![
            Span::raw("stage    "),
            Span::styled(cut(&stage(e), width.saturating_sub(9)), t.warn()),
        ]),
    ]
}

/// Draw the engine start over `area` (below the GPUs).
pub fn render(m: &Model, e: &EngineInfo, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let block = Block::bordered().title(Span::styled(" engine starting, no point yet ", t.title()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let w = inner.width as usize;
    let head = head(m, e, t, w);
    let [top, log_area] = Layout::vertical([
        Constraint::Length(head.len() as u16 + 1),
        Constraint::Min(0),
    ])
    .areas(inner);
    f.render_widget(Paragraph::new(head), top);
    let log = m.log.as_ref().filter(|l| l.engine == e.id);
    let Some(log) = log else {
        f.render_widget(
            Paragraph::new(Span::styled("its log: loading…", t.dim())),
            log_area,
        );
        return;
    };
    // The last lines that fit, wrapped, newest at the bottom.
    let h = log_area.height.saturating_sub(1) as usize;
    let rows = wrap::tail(&log.lines, w, h);
    let mut lines = vec![Line::styled(
        cut(
            &format!(
                "its last log lines (l: the whole log on Engines, engine {})",
                e.id
            ),
            w,
        ),
        t.dim(),
    )];
    lines.extend(rows.into_iter().map(Line::raw));
    f.render_widget(Paragraph::new(lines), log_area);
}
