//! The readable table `llmsd bench` prints, one row per point as it finishes. Figures are the
//! whole point's, except `steady`: output tokens/s over the point's steady window.

use llms_shared::PointResult;

/// The header line.
pub fn header() -> String {
    format!(
        "{:<22} {:>5} {:>5} {:>10} {:>9} {:>7} {:>17} {:>15} {:>9} {:>9}  {}",
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
        "flags"
    )
}

/// One point's row.
pub fn row(p: &PointResult) -> String {
    let pair = |a: f64, b: f64| format!("{} / {}", num(a), num(b));
    let mut flags = p.flags.join(",");
    if p.failed > 0 {
        let errs: Vec<String> = p.errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !flags.is_empty() {
            flags.push(' ');
        }
        flags.push_str(&errs.join(","));
    }
    format!(
        "{:<22} {:>5} {:>5} {:>10.1} {:>9} {:>7.2} {:>17} {:>15} {:>9} {:>9}  {}",
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
        flags
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
fn num(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

/// A search probe's verdict under its row: `probe passes: TTFT p99 12.3 ms, TPOT p99 8.1 ms`.
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
            Ok(o @ llms_shared::Objective::Latency { .. }) => format!("{} {}", o.label(), num(*v)),
            _ => format!("error rate {v:.3}"),
        })
        .collect();
    format!("{role} {verdict}: {}", figures.join(", "))
}
