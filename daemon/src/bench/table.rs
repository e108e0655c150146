//! What `llmsd bench` prints: a preamble saying what is measured, one row per point as it
//! finishes, and each search probe's verdict. Figures are the whole point's, except `steady`:
//! output tokens/s over the point's steady window. Column names say which statistic each is.

use super::PointStop;
use llms_shared::{BenchReport, Load, PointResult, SearchDef};

/// What the columns are: goodput columns only when objectives were given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    /// `--slo` was given: add goodput (req/s) and the share of requests meeting it.
    pub slo: bool,
    /// A terminal narrower than the full table: the columns that fit 80 (the rest are in
    /// `--json`).
    pub compact: bool,
}

/// Width of the full table's columns (flags aside).
const FULL_WIDTH: u16 = 132;

impl Columns {
    /// The columns for stdout: compact on a terminal narrower than the full table.
    pub fn for_stdout(slo: bool) -> Columns {
        let width = console::Term::stdout().size_checked().map(|(_, cols)| cols);
        Columns {
            slo,
            compact: width.is_some_and(|w| w < FULL_WIDTH),
        }
    }
}

/// `c=8`, `batch=4`, `rate=4/s`, `speed=2x`: a load in few columns.
fn short(l: &Load) -> String {
    match l {
        Load::Concurrency { concurrency } => format!("c={concurrency}"),
        Load::Batch { batch } => format!("batch={batch}"),
        Load::Rate { rate, .. } => format!("rate={rate}/s"),
        Load::Trace { speed } => format!("speed={speed}x"),
    }
}

/// The header line.
pub fn header(c: Columns) -> String {
    if c.compact {
        let mut h = format!(
            "{:<12} {:>4} {:>4} {:>8} {:>8} {:>13} {:>12}",
            "load", "ok", "fail", "tok/s", "steady", "TTFT p50/p99", "ITL p50/p99"
        );
        if c.slo {
            h.push_str(&format!(" {:>5}", "SLO%"));
        }
        h.push_str("  flags");
        return h;
    }
    let mut h = format!(
        "{:<22} {:>5} {:>5} {:>10} {:>9} {:>7} {:>17} {:>15} {:>9} {:>9}",
        "load",
        "ok",
        "fail",
        "out tok/s",
        "steady",
        "req/s",
        "TTFT p50/p99 ms",
        "ITL p50/p99 ms",
        "TPOT p50",
        "E2E p50",
    );
    if c.slo {
        h.push_str(&format!(" {:>8} {:>6}", "goodput", "SLO %"));
    }
    h.push_str("  flags");
    h
}

/// One point's row.
pub fn row(p: &PointResult, c: Columns) -> String {
    let pair = |a: f64, b: f64| format!("{} / {}", num(a), num(b));
    let mut flags = p.flags.join(",");
    if p.failed > 0 {
        let errs: Vec<String> = p.errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !flags.is_empty() {
            flags.push(' ');
        }
        flags.push_str(&errs.join(","));
    }
    if c.compact {
        let mut r = format!(
            "{:<12} {:>4} {:>4} {:>8.1} {:>8} {:>13} {:>12}",
            short(&p.load),
            p.completed,
            p.failed,
            p.output_throughput,
            steady(p),
            pair(p.ttft_ms.p50, p.ttft_ms.p99).replace(" / ", "/"),
            pair(p.itl_ms.p50, p.itl_ms.p99).replace(" / ", "/"),
        );
        if c.slo {
            r.push_str(&format!(" {:>5}", slo_share(p)));
        }
        r.push_str("  ");
        r.push_str(&flags);
        return r.trim_end().to_owned();
    }
    let mut r = format!(
        "{:<22} {:>5} {:>5} {:>10.1} {:>9} {:>7.2} {:>17} {:>15} {:>9} {:>9}",
        p.load.to_string(),
        p.completed,
        p.failed,
        p.output_throughput,
        steady(p),
        p.request_throughput,
        pair(p.ttft_ms.p50, p.ttft_ms.p99),
        pair(p.itl_ms.p50, p.itl_ms.p99),
        num(p.tpot_ms.p50),
        num(p.e2e_ms.p50),
    );
    if c.slo {
        r.push_str(&format!(" {:>8.2} {:>6}", p.goodput, slo_share(p)));
    }
    r.push_str("  ");
    r.push_str(&flags);
    r.trim_end().to_owned()
}

/// The share of all requests that met every objective, failed ones included (they met
/// none), percent; `-` without requests.
fn slo_share(p: &PointResult) -> String {
    let all = p.completed + p.failed;
    match (all, p.request_throughput > 0.0) {
        (0, _) | (_, false) => "-".to_owned(),
        _ => format!(
            "{:.1}",
            100.0 * p.goodput / p.request_throughput * p.completed as f64 / all as f64
        ),
    }
}

/// What is about to be measured, for the terminal (stderr): the server, the model, the
/// route, the workload and the loads.
pub fn preamble(
    r: &BenchReport,
    loads: &[Load],
    search: Option<&SearchDef>,
    (stop, warmup): (PointStop, u32),
) -> String {
    let server = match &r.server {
        Some(s) => format!("{} (says /v1/models)", s),
        None => "not named by /v1/models".to_owned(),
    };
    let model = match r.model.as_str() {
        "" => "the server's default".to_owned(),
        m => m.to_owned(),
    };
    let path = match r.endpoint.as_str() {
        "completions" => "/v1/completions",
        _ => "/v1/chat/completions",
    };
    let workload = r.workload.as_ref().map_or("single".to_owned(), |w| {
        let mut s = w.kind.clone();
        if let Some(t) = w.turns {
            s.push_str(&format!(", {t} turns"));
        }
        match (w.input_tokens, &w.input_dist) {
            (_, Some(d)) => s.push_str(&format!(", input {d}")),
            (Some(n), None) => s.push_str(&format!(", {n} input tokens")),
            (None, None) => s.push_str(&format!(", {} prompts", w.prompts)),
        }
        match &w.output_dist {
            Some(d) => s.push_str(&format!(", output {d}")),
            None => s.push_str(&format!(", {} output tokens", w.output_tokens)),
        }
        s
    });
    let per_point = match stop {
        PointStop::Requests(u64::MAX) => "the whole trace".to_owned(),
        PointStop::Requests(n) => format!("{n} requests"),
        PointStop::Duration(d) => format!("{} s of requests", d.as_secs_f64()),
    };
    let mut l: Vec<String> = loads.iter().map(Load::to_string).collect();
    if let Some(s) = search {
        let slo: Vec<String> = s.slo.iter().map(|(k, v)| format!("{k}={v}")).collect();
        l.push(format!(
            "a capacity search over {} {}..{} ({})",
            s.over.as_str(),
            s.min,
            s.max,
            slo.join(",")
        ));
    }
    format!(
        "server    {} at {}\nmodel     {model}\nendpoint  {} ({path})\nworkload  {workload}\nloads     {}; {per_point} per point{}\n",
        server,
        r.url,
        r.endpoint,
        l.join(", "),
        match warmup {
            0 => String::new(),
            n => format!(" after {n} warm-up"),
        }
    )
}

/// The steady window's output tokens/s, `-` where there is no window or it is empty.
fn steady(p: &PointResult) -> String {
    match &p.steady {
        Some(s) if s.duration_s > 0.0 => format!("{:.1}", s.output_throughput),
        _ => "-".into(),
    }
}

/// Milliseconds with sensible precision.
pub(super) fn num(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

/// A search probe's verdict under its row: `probe passes: TTFT p99 12.3, TPOT p99 8.10`.
pub fn probe(p: &llms_shared::ProbeReport) -> String {
    let role = match p.role {
        llms_shared::SearchRole::Probe => "probe",
        llms_shared::SearchRole::Confirm => "confirmation",
    };
    let verdict = match (p.pass, &p.error) {
        (_, Some(e)) => return format!("{role} has no figures: {e}"),
        (true, None) => "passes".to_owned(),
        (false, None) => format!("fails ({})", p.failed.join(", ")),
    };
    let figures: Vec<String> = p
        .values
        .iter()
        .map(|(k, v)| match llms_shared::Objective::parse(k) {
            Ok(o @ llms_shared::Objective::Latency { .. }) => {
                format!("{} {} ms", o.label(), num(*v))
            }
            _ => format!("error rate {v:.3}"),
        })
        .collect();
    format!("{role} {verdict}: {}", figures.join(", "))
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
