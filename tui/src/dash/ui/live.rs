//! The Live screen: a line per GPU, the running point's tokens/s over time, and its
//! figures so far with progress and ETAs. Without GPUs it says so and shows the rest.

use super::theme::Theme;
use super::{bar, cut, duration, gib, line_chart};
use crate::dash::model::{GpuView, Model};
use crate::output::load_label;
use llms_shared::{EngineState, JobState, LivePoint, Load};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

/// Draw the Live screen.
pub fn render(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let gpu_rows = m.gpus.len().max(1) as u16 + 2;
    let gpu_h = gpu_rows.min(area.height / 2);
    let [gpus, rest] =
        Layout::vertical([Constraint::Length(gpu_h), Constraint::Min(0)]).areas(area);
    render_gpus(m, t, f, gpus);
    if m.latest.live.is_empty()
        && let Some(e) = m.starting_engine()
    {
        super::starting::render(m, e, t, f, rest);
        return;
    }
    let stats = stats_lines(m, t);
    if rest.width >= 120 && rest.height >= 30 {
        // Room for the whole sweep: its history beside the running point, under which its
        // finished points.
        let [left, side] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(64)]).areas(rest);
        let [point, sweep] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Min(0)]).areas(left);
        render_chart(m, t, f, point);
        super::sweep::render_chart(m, t, f, sweep);
        let h = (stats.len() as u16 + 2).min(side.height / 2);
        let [stats_area, table] =
            Layout::vertical([Constraint::Length(h), Constraint::Min(0)]).areas(side);
        render_stats(stats, f, stats_area);
        super::sweep::render_points(m, t, f, table);
    } else if rest.width >= 120 {
        let [chart, side] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(64)]).areas(rest);
        render_chart(m, t, f, chart);
        render_stats(stats, f, side);
    } else {
        let h = (stats.len() as u16 + 2).min(rest.height.saturating_sub(5).max(3));
        let [side, chart] =
            Layout::vertical([Constraint::Length(h), Constraint::Min(0)]).areas(rest);
        render_stats(stats, f, side);
        render_chart(m, t, f, chart);
    }
}

fn render_gpus(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let wide = area.width >= 120;
    let title = if wide {
        " GPUs (power bar: against the GPU's power limit; where NVML gives none, the highest draw seen) "
    } else {
        " GPUs "
    };
    let block = Block::bordered().title(Span::styled(title, t.title()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if m.gpus.is_empty() {
        let msg = "No GPU (no NVIDIA driver, or llmsd runs with --gpu none); the rest is below.";
        f.render_widget(Paragraph::new(Span::styled(msg, t.dim())), inner);
        return;
    }
    // One scale for every GPU: the highest draw seen on any of them this session.
    let max_mw = m.gpus.values().map(|g| g.max_power_mw).max().unwrap_or(0);
    let lines: Vec<Line<'_>> = m
        .gpus
        .values()
        .map(|g| gpu_line(g, max_mw, t, inner.width as usize))
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn opt<T: std::fmt::Display>(v: Option<T>, unit: &str) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v}{unit}"))
}

/// A GPU's name for a narrow column: without the `NVIDIA ` (and `GeForce `) every such
/// name starts with, whole words that fit, then `…` (`H100 80GB…` for
/// `NVIDIA H100 80GB HBM3`).
pub fn gpu_name(name: &str, width: usize) -> String {
    let name = name.strip_prefix("NVIDIA ").unwrap_or(name);
    let name = name.strip_prefix("GeForce ").unwrap_or(name);
    if name.chars().count() <= width {
        return name.to_owned();
    }
    let mut out = String::new();
    for word in name.split(' ') {
        let sep = usize::from(!out.is_empty());
        if out.chars().count() + sep + word.chars().count() + 1 > width {
            break;
        }
        if sep == 1 {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.is_empty() {
        return cut(name, width);
    }
    out.push('…');
    out
}

/// One GPU: index and name, then labelled utilization, memory and (wide) power bars with
/// their figures, temperature, and (wide) SM clock; the bars take what width is left.
fn gpu_line(g: &GpuView, max_mw: u32, t: Theme, width: usize) -> Line<'static> {
    let s = &g.latest;
    let wide = width >= 118;
    let name_w = if wide { 16 } else { 10 };
    let util = s.util_pct.map(f64::from);
    let mem = match (s.mem_used, s.mem_total) {
        (Some(u), Some(tot)) if tot > 0 => Some((u, tot)),
        _ => None,
    };
    let watts = s.power_mw.map(|p| f64::from(p) / 1000.0);
    let head = format!("{:>2} {:<name_w$} ", s.index, gpu_name(&s.name, name_w));
    let util_txt = format!(" {:>4}", opt(s.util_pct, "%"));
    let mem_txt = match mem {
        Some((u, tot)) => format!(" {:>5}/{:<5}GiB", gib(u), gib(tot)),
        None => " -              ".into(),
    };
    let limit = s
        .power_limit_mw
        .map(|l| format!("/{:.0}", f64::from(l) / 1000.0));
    let pow_txt = format!(
        " {:>10}",
        opt(
            watts.map(|w| format!("{w:.0}{}", limit.as_deref().unwrap_or(""))),
            " W"
        )
    );
    let rest = if wide {
        format!(
            " {:>5} {:>9}",
            opt(s.temp_c, "°C"),
            opt(s.sm_clock_mhz, " MHz")
        )
    } else {
        format!(" {:>5}", opt(s.temp_c, "°C"))
    };
    let labels = if wide {
        "util  mem  pwr "
    } else {
        "util  mem "
    };
    let fixed = head.chars().count()
        + labels.len()
        + util_txt.len()
        + mem_txt.chars().count()
        + pow_txt.len()
        + rest.chars().count();
    let bars = if wide { 3 } else { 2 };
    let bw = (width.saturating_sub(fixed) / bars).min(40);
    let label = |l: &'static str| Span::styled(l, t.dim());
    let mut spans = vec![Span::styled(head, t.title())];
    spans.push(label("util "));
    spans.push(Span::styled(bar(util.unwrap_or(0.0) / 100.0, bw), t.bar()));
    spans.push(Span::raw(util_txt));
    spans.push(label("  mem "));
    let mfrac = mem.map_or(0.0, |(u, tot)| u as f64 / tot as f64);
    spans.push(Span::styled(bar(mfrac, bw), t.bar()));
    spans.push(Span::raw(mem_txt));
    if wide {
        spans.push(label("  pwr "));
        let max = f64::from(s.power_limit_mw.unwrap_or(max_mw).max(1)) / 1000.0;
        spans.push(Span::styled(bar(watts.unwrap_or(0.0) / max, bw), t.bar()));
    }
    spans.push(Span::raw(pow_txt));
    let hot = s.temp_c.is_some_and(|c| c >= 85);
    spans.push(Span::styled(rest, if hot { t.error() } else { t.text() }));
    Line::from(spans)
}

fn render_chart(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let block = Block::bordered().title(Span::styled(" output tokens/s ", t.title()));
    let pts = &m.tokens.points;
    if pts.is_empty() || m.latest.live.is_empty() {
        let msg = "no point running";
        f.render_widget(
            Paragraph::new(Span::styled(msg, t.dim())).block(block),
            area,
        );
        return;
    }
    let x0 = pts.first().map_or(0.0, |p| p.0);
    let x1 = pts.last().map_or(1.0, |p| p.0).max(x0 + 1.0);
    let x_labels = [format!("{x0:.0}s"), format!("{x1:.0}s")];
    f.render_widget(line_chart(block, pts, [x0, x1], x_labels, t), area);
}

fn render_stats(lines: Vec<Line<'static>>, f: &mut Frame<'_>, area: Rect) {
    let block = Block::bordered().title(" running point ");
    f.render_widget(Paragraph::new(lines).block(block), area);
}

fn ms(v: Option<(f64, f64)>) -> (String, String) {
    match v {
        Some((a, b)) => (format!("{a:.1}"), format!("{b:.1}")),
        None => ("-".into(), "-".into()),
    }
}

/// The running point's figures, or what the queue holds when none runs.
fn stats_lines(m: &Model, t: Theme) -> Vec<Line<'static>> {
    let Some(lp) = m.latest.live.first() else {
        let running = m.latest.jobs.iter().filter(|j| !j.state.is_final()).count();
        let queued = m
            .latest
            .jobs
            .iter()
            .filter(|j| j.state == JobState::Queued)
            .count();
        return vec![
            Line::styled("No point running.", t.dim()),
            Line::raw(format!(
                "{queued} queued, {} starting or running",
                running - queued
            )),
        ];
    };
    let job = m.job(lp.job);
    let name = job.map_or(String::new(), |j| j.name.clone());
    let load = lp.load.as_ref().map_or("-".into(), load_label);
    // Point numbers are the daemon's, as `llms show` and `llms results` print them.
    let mut out = vec![Line::from(vec![
        Span::styled(format!("job {} {name}", lp.job), t.title()),
        Span::raw(format!("  point {}  {}  {load}", lp.index, lp.engine)),
    ])];
    // The point: requests done against the total, and its ETA.
    let (frac, req, eta) = match lp.requests_total {
        Some(n) if n > 0 => {
            let done = lp.requests_done.min(n);
            let eta = (done > 0)
                .then(|| lp.elapsed_s * (n - done) as f64 / done as f64)
                .map_or("-".into(), duration);
            (done as f64 / n as f64, format!("{done}/{n} req"), eta)
        }
        _ => (0.0, format!("{} req", lp.requests_done), "-".into()),
    };
    out.push(Line::from(vec![
        Span::raw("point "),
        Span::styled(bar(frac, 16), t.bar()),
        Span::raw(format!(
            " {req}  {} failed  {} in  ETA {eta}",
            lp.failed,
            duration(lp.elapsed_s)
        )),
    ]));
    if let Some(j) = job {
        let done = j.points_done;
        let frac = if j.points_total > 0 {
            f64::from(done) / f64::from(j.points_total)
        } else {
            0.0
        };
        let eta = job_eta(m, lp, done, j.points_total, m.run_seen.get(&j.id).copied());
        out.push(Line::from(vec![
            Span::raw("job   "),
            Span::styled(bar(frac, 16), t.bar()),
            Span::raw(format!(
                " {done}/{} points  {} failed  ETA {eta}",
                j.points_total, j.points_failed
            )),
        ]));
    }
    out.push(Line::raw(format!(
        "in flight {}  tok/s {:.0}  output tokens {}",
        in_flight(lp),
        lp.tokens_per_s,
        lp.output_tokens
    )));
    let (t50, t99) = ms(lp.ttft_ms);
    let (i50, i99) = ms(lp.itl_ms);
    out.push(Line::raw(format!(
        "TTFT p50 {t50} p99 {t99} ms   ITL p50 {i50} p99 {i99} ms"
    )));
    out.push(cache_line(lp, t));
    out.push(engine_line(m, lp, t));
    out
}

/// Requests in flight now, as the daemon counts them, against what the load sets: the
/// concurrency (closed loop) or batch size; an open loop's is whatever arrivals made it.
fn in_flight(lp: &LivePoint) -> String {
    let now = lp.in_flight;
    match &lp.load {
        Some(Load::Concurrency { concurrency }) => format!("{now}/{concurrency}"),
        Some(Load::Batch { batch }) => format!("{now}/≤{batch} (batch)"),
        Some(Load::Rate { .. }) => format!("{now} (open loop)"),
        Some(Load::Trace { .. }) => format!("{now} (trace replay)"),
        None => now.to_string(),
    }
}

/// Job ETA: the mean time per point finished since this dashboard saw the run begin (or
/// resume), times the points left; before one finished, the running point's own estimate.
fn job_eta(
    m: &Model,
    lp: &LivePoint,
    done: u32,
    total: u32,
    seen: Option<crate::dash::model::RunSeen>,
) -> String {
    let left = total.saturating_sub(done);
    let since = seen.map(|s| {
        (
            m.now_ms.saturating_sub(s.seen_ms) as f64 / 1000.0,
            done.saturating_sub(s.points_done),
        )
    });
    match since {
        Some((e, d)) if d > 0 => format!("~{}", duration(e / f64::from(d) * f64::from(left))),
        _ => match lp.requests_total {
            Some(n) if lp.requests_done > 0 => {
                let per_point = lp.elapsed_s * n as f64 / lp.requests_done as f64;
                format!("~{}", duration(per_point * f64::from(left)))
            }
            _ => "-".into(),
        },
    }
}

/// When E2E comes, and the share of prompt tokens the engine served from its prefix cache
/// (what a shared prefix or a conversation's history saves), where it reports it.
fn cache_line(lp: &LivePoint, t: Theme) -> Line<'static> {
    match lp.cached_tokens {
        Some(c) if lp.prompt_tokens > 0 => Line::from(vec![
            Span::styled("E2E: at the end", t.dim()),
            Span::raw(format!(
                "   prefix cache {:.0}% of {} prompt tokens",
                100.0 * c as f64 / lp.prompt_tokens as f64,
                lp.prompt_tokens
            )),
        ]),
        _ => Line::styled("E2E: at the end of the point", t.dim()),
    }
}

fn engine_line(m: &Model, lp: &LivePoint, t: Theme) -> Line<'static> {
    let e =
        m.latest.engines.iter().find(|e| {
            e.job == Some(lp.job) && e.name == lp.engine && e.state != EngineState::Stopped
        });
    let Some(metrics) = e.and_then(|e| e.metrics.as_ref()) else {
        return Line::styled("engine: no /metrics figures", t.dim());
    };
    let n = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
    let kv = metrics
        .kv_cache_usage
        .map_or("-".into(), |v| format!("{:.0}%", v * 100.0));
    Line::raw(format!(
        "engine: running {}  waiting {}  KV cache {kv}",
        n(metrics.running),
        n(metrics.waiting)
    ))
}
