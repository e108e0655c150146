//! One point (Enter on a point): what ran, why it failed in full, its figures, its flags
//! with their meaning, and its engine's log lines around the failure. Scrolls; `l` opens
//! the whole log on the Engines screen.

use super::theme::Theme;
use super::{cut, wrap};
use crate::compare::fmt;
use crate::dash::model::{Drill, Model, PointLine};
use crate::output::utc_time;
use llms_shared::{LatencyStats, PointGpu, PointResult, Slo};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

/// Log lines shown around the failure (or at the end of the log).
pub const LOG_WINDOW: usize = 8;

/// The point in view, when the innermost drill-down is one.
fn in_view(m: &Model) -> Option<(u64, u32)> {
    match m.ui.drill.last() {
        Some(Drill::Point { job, index }) => Some((*job, *index)),
        _ => None,
    }
}

/// Rows the view has for its content in a terminal of the model's size.
fn visible(m: &Model) -> usize {
    usize::from(m.ui.size.1).saturating_sub(4 + usize::from(m.ui.status.is_some()))
}

/// How far the point's view scrolls: until its last line shows.
pub fn max_scroll(m: &Model) -> usize {
    let Some((job, index)) = in_view(m) else {
        return 0;
    };
    let width = usize::from(m.ui.size.0).saturating_sub(2);
    lines(m, job, index, width, Theme::new(true))
        .len()
        .saturating_sub(visible(m))
}

/// Draw the point in view.
pub fn render(m: &Model, job: u64, index: u32, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let title = m
        .points_of(job)
        .into_iter()
        .find(|p| p.index == index)
        .map_or(format!(" Job {job} point {index} "), |p| {
            format!(
                " Job {job} point {index}: {} {}, {} ",
                p.engine,
                p.load,
                p.state.word()
            )
        });
    let block = Block::bordered().title(Span::styled(
        cut(&title, area.width.saturating_sub(2) as usize),
        t.title(),
    ));
    let inner = block.inner(area);
    let all = lines(m, job, index, inner.width as usize, t);
    let scroll =
        m.ui.point_scroll
            .min(all.len().saturating_sub(inner.height as usize));
    let shown: Vec<Line<'static>> = all.into_iter().skip(scroll).collect();
    f.render_widget(Paragraph::new(shown).block(block), area);
}

fn heading(text: impl Into<String>, t: Theme) -> Line<'static> {
    Line::styled(text.into(), t.title())
}

/// The point's view as lines of `width` at most.
pub fn lines(m: &Model, job: u64, index: u32, width: usize, t: Theme) -> Vec<Line<'static>> {
    let Some(p) = m.points_of(job).into_iter().find(|p| p.index == index) else {
        return vec![Line::styled("Loading the point…", t.dim())];
    };
    let mut out = about(m, job, &p, width, t);
    let Some(row) = p.row else {
        out.push(Line::raw(""));
        out.push(Line::styled(
            format!("Not finished: {}.", p.state.word()),
            t.dim(),
        ));
        out.extend(log_lines(m, job, &p, None, width, t));
        return out;
    };
    if let Some(e) = &row.error {
        out.push(Line::raw(""));
        out.push(Line::styled("Why it failed".to_string(), t.error()));
        for l in wrap::words(e, width.saturating_sub(2), 2) {
            out.push(Line::raw(format!("  {l}")));
        }
    }
    if let Some(fig) = &row.point {
        out.push(Line::raw(""));
        out.extend(figures(fig, row.gpu.as_ref(), t));
        if !fig.flags.is_empty() {
            out.push(Line::raw(""));
            out.push(heading("Flags", t));
            for flag in &fig.flags {
                let text = format!("{flag}: {}", crate::flags::meaning(flag));
                for (i, l) in wrap::words(&text, width.saturating_sub(4), 2)
                    .into_iter()
                    .enumerate()
                {
                    let mark = if i == 0 { "! " } else { "  " };
                    out.push(Line::styled(format!("{mark}{l}"), t.warn()));
                }
            }
        }
    }
    out.extend(log_lines(m, job, &p, row.error.as_deref(), width, t));
    out
}

/// `job 3 name, point 9: llamacpp (kind version) at c=32`, then when it finished.
fn about(m: &Model, job: u64, p: &PointLine<'_>, width: usize, t: Theme) -> Vec<Line<'static>> {
    let name = m.job(job).map_or(String::new(), |j| format!(" {}", j.name));
    let kind = p.row.map_or(String::new(), |r| {
        let version = r
            .engine_version
            .as_ref()
            .map_or(String::new(), |v| format!(" {v}"));
        format!(" ({}{version})", r.kind)
    });
    let mut out = vec![Line::styled(
        cut(
            &format!(
                "job {job}{name}, point {}: {}{kind} at {}",
                p.index, p.engine, p.load
            ),
            width,
        ),
        t.text(),
    )];
    if let Some(r) = p.row {
        out.push(Line::styled(
            format!("finished {} UTC", utc_time(r.finished_ms)),
            t.dim(),
        ));
    }
    out
}

fn lat_row(name: &str, l: &LatencyStats) -> Line<'static> {
    Line::raw(format!(
        "  {name:<5}{:>9}{:>9}{:>9}{:>9}{:>9}",
        fmt(Some(l.p50)),
        fmt(Some(l.p90)),
        fmt(Some(l.p99)),
        fmt(Some(l.mean)),
        fmt(Some(l.max))
    ))
}

/// The objectives goodput was counted against: `TTFT ≤ 500 ms, TPOT ≤ 40 ms`.
pub fn slo_text(s: &Slo) -> String {
    let parts: Vec<String> = [("TTFT", s.ttft), ("TPOT", s.tpot), ("E2E", s.e2e)]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} ≤ {} ms", crate::compare::fmt_x(v))))
        .collect();
    parts.join(", ")
}

fn figures(p: &PointResult, gpu: Option<&PointGpu>, t: Theme) -> Vec<Line<'static>> {
    let mut out = vec![heading("Figures", t)];
    let mut req = format!(
        "  requests  {} done, {} failed in {} s",
        p.completed,
        p.failed,
        fmt(Some(p.duration_s))
    );
    if !p.errors.is_empty() {
        let errs: Vec<String> = p.errors.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        req.push_str(&format!(" ({})", errs.join(", ")));
    }
    out.push(Line::raw(req));
    out.push(Line::raw(format!(
        "  output    {} tok/s   {} req/s   total {} tok/s",
        fmt(Some(p.output_throughput)),
        fmt(Some(p.request_throughput)),
        fmt(Some(p.total_throughput))
    )));
    if p.slo != Slo::default() {
        let share = if p.request_throughput > 0.0 {
            format!(
                " ({:.0} % of requests)",
                100.0 * p.goodput / p.request_throughput
            )
        } else {
            String::new()
        };
        out.push(Line::raw(format!(
            "  goodput   {} req/s met {}{share}",
            fmt(Some(p.goodput)),
            slo_text(&p.slo)
        )));
    }
    if let Some(s) = p.steady.as_ref().filter(|s| s.duration_s > 0.0) {
        out.push(Line::raw(format!(
            "  steady    {} tok/s over {} s",
            fmt(Some(s.output_throughput)),
            fmt(Some(s.duration_s))
        )));
    }
    if let Some(g) = gpu {
        let peak = g.gpus.iter().filter_map(|x| x.peak_mem_used).max();
        out.push(Line::raw(format!(
            "  GPU       peak {} GiB   {} tok/J",
            fmt(peak.map(|b| b as f64 / (1u64 << 30) as f64)),
            fmt(g.tokens_per_joule)
        )));
    }
    out.push(Line::styled(
        format!(
            "  {:<5}{:>9}{:>9}{:>9}{:>9}{:>9}",
            "ms", "p50", "p90", "p99", "mean", "max"
        ),
        t.header(),
    ));
    out.push(lat_row("TTFT", &p.ttft_ms));
    out.push(lat_row("ITL", &p.itl_ms));
    out.push(lat_row("TPOT", &p.tpot_ms));
    out.push(lat_row("E2E", &p.e2e_ms));
    out
}

/// Where in the log the failure shows: the last log line that holds a line of the reason
/// (the daemon quotes the engine's last lines), else the last line that reads like an
/// error; `None` when nothing does.
pub fn anchor(log: &[String], error: &str) -> Option<usize> {
    let quoted: Vec<&str> = error
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| l.chars().count() >= 8)
        .collect();
    let by_quote = log
        .iter()
        .rposition(|l| quoted.iter().any(|q| l.contains(q)));
    by_quote.or_else(|| {
        const WORDS: [&str; 7] = [
            "error",
            "traceback",
            "exception",
            "out of memory",
            "killed",
            "panic",
            "fatal",
        ];
        log.iter().rposition(|l| {
            let l = l.to_lowercase();
            WORDS.iter().any(|w| l.contains(w))
        })
    })
}

/// The engine's log lines around the failure (else its last lines), wrapped.
fn log_lines(
    m: &Model,
    job: u64,
    p: &PointLine<'_>,
    error: Option<&str>,
    width: usize,
    t: Theme,
) -> Vec<Line<'static>> {
    let mut out = vec![Line::raw("")];
    let Some(e) = m.engine_of(job, &p.engine) else {
        out.push(heading("Engine log", t));
        out.push(Line::styled(
            format!(
                "  llmsd knows no engine {} of job {job} (it keeps the engines run since it started)",
                p.engine
            ),
            t.dim(),
        ));
        return out;
    };
    let Some(log) = m.log.as_ref().filter(|l| l.engine == e.id) else {
        out.push(heading(
            format!("Engine log of {} (engine {})", e.name, e.id),
            t,
        ));
        out.push(Line::styled("  loading…", t.dim()));
        return out;
    };
    let at = error.and_then(|err| anchor(&log.lines, err));
    let n = log.lines.len();
    let (start, end, what) = match at {
        Some(a) => {
            let end = (a + LOG_WINDOW / 2).min(n);
            (end.saturating_sub(LOG_WINDOW), end, "around the failure")
        }
        None => (n.saturating_sub(LOG_WINDOW), n, "its last lines"),
    };
    out.push(heading(
        cut(
            &format!(
                "Engine log of {} (engine {}): lines {}-{} of {n}, {what}; l shows it all",
                e.name,
                e.id,
                start + 1,
                end
            ),
            width,
        ),
        t,
    ));
    for (i, l) in log.lines[start..end].iter().enumerate() {
        let style = if Some(start + i) == at {
            t.error()
        } else {
            t.dim()
        };
        for r in wrap::hard(l, width) {
            out.push(Line::styled(r, style));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_is_found_in_the_log_by_its_quoted_line_else_by_an_error_word() {
        let log: Vec<String> = [
            "INFO loading",
            "ERROR something early",
            "CUDA error: out of memory while allocating",
            "INFO shutting down",
        ]
        .map(String::from)
        .into();
        let quoted = "engine exited: status 1\nCUDA error: out of memory";
        assert_eq!(anchor(&log, quoted), Some(2));
        assert_eq!(anchor(&log, "engine exited"), Some(2));
        assert_eq!(anchor(&log[..2], "engine exited"), Some(1));
        assert_eq!(anchor(&log[..1], "engine exited"), None);
    }
}
