//! Capacity under an SLO in `llms compare` and `llms report`: a summary per searched
//! series, and each search's probes with the figures it judged.

use super::table::{aligned, md_table};
use crate::capacity::{Capacity, objective_label, objective_value, ordered_keys, slo_text};
use crate::compare::fmt;

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// The capacity with its unit (`24 sessions`), `-` when the search did not finish.
pub fn with_unit(c: &Capacity) -> String {
    match c.report.capacity {
        Some(v) => format!("{} {}", c.value_text(), c.unit_of(v)),
        None => "- (did not finish)".into(),
    }
}

/// The objectives of the searches: one line when they share them, else one per series.
fn objectives_lines(caps: &[Capacity]) -> Vec<String> {
    let first = caps.first().map(|c| &c.report.slo);
    if caps.iter().all(|c| Some(&c.report.slo) == first) {
        return first
            .map(|s| vec![format!("Objectives: {}.", slo_text(s))])
            .unwrap_or_default();
    }
    caps.iter()
        .map(|c| format!("Objectives of {}: {}.", c.series, slo_text(&c.report.slo)))
        .collect()
}

/// For `llms compare`: the objectives, then per series its capacity, what limited it,
/// whether the answer held when run again and the probes run. Empty without searches.
pub fn summary_text(caps: &[Capacity]) -> String {
    if caps.is_empty() {
        return String::new();
    }
    let mut out =
        String::from("Capacity (capacity search: highest load meeting every objective)\n");
    for l in objectives_lines(caps) {
        out.push_str(&l);
        out.push('\n');
    }
    let headers = ["series", "capacity", "limited by", "confirmed", "probes"].map(String::from);
    let body: Vec<Vec<String>> = caps
        .iter()
        .map(|c| {
            vec![
                c.series.clone(),
                with_unit(c),
                c.limited_text(),
                yes_no(c.report.confirmed),
                c.probes_run().to_string(),
            ]
        })
        .collect();
    out.push_str(&aligned(
        &headers,
        &body,
        &[false, false, false, false, true],
    ));
    out.push('\n');
    out
}

/// For the report: per series its capacity, what limited it, the lowest load that failed
/// and what it broke there, whether it was confirmed and the probes run.
pub fn capacity_md(caps: &[Capacity]) -> String {
    let mut out = String::new();
    for l in objectives_lines(caps) {
        out.push_str(&l);
        out.push_str("\n\n");
    }
    let headers = [
        "series",
        "capacity",
        "limited by",
        "first failing load",
        "its figure",
        "confirmed",
        "probes run",
    ]
    .map(String::from);
    let body: Vec<Vec<String>> = caps
        .iter()
        .map(|c| {
            let (at, what) = c
                .first_failure()
                .map_or(("-".into(), "-".into()), |(x, w)| (c.load_text(x), w));
            vec![
                c.series.clone(),
                with_unit(c),
                c.limited_text(),
                at,
                what,
                yes_no(c.report.confirmed),
                c.probes_run().to_string(),
            ]
        })
        .collect();
    out.push_str(&md_table(&headers, &body));
    out
}

/// Per series a `###` heading and its probes in the order run: load, role, pass or fail,
/// each objective's figure (headed by the objective and its limit), what it broke.
pub fn probes_md(caps: &[Capacity]) -> String {
    let mut out = String::new();
    for c in caps {
        let keys = ordered_keys(&c.report.slo);
        out.push_str(&format!(
            "\n### {}: probes ({} over {})\n\n",
            c.series,
            c.unit(),
            c.report.over.as_str()
        ));
        let mut headers = vec!["#".to_owned(), c.report.over.as_str().to_owned()];
        headers.push("role".into());
        headers.push("result".into());
        for k in &keys {
            headers.push(format!(
                "{} (≤ {})",
                objective_label(k),
                objective_value(k, c.report.slo[*k])
            ));
        }
        headers.push("broke".into());
        let body: Vec<Vec<String>> = c
            .report
            .probes
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut line = vec![
                    (i + 1).to_string(),
                    c.load_text(Capacity::probe_load(p)),
                    p.role.as_str().into(),
                    if p.pass { "pass" } else { "FAIL" }.into(),
                ];
                for k in &keys {
                    line.push(match p.values.get(*k) {
                        Some(v) if k.as_str() == "error_rate" => objective_value(k, *v),
                        v => fmt(v.copied()),
                    });
                }
                line.push(if p.pass {
                    String::new()
                } else {
                    crate::capacity::failure_text(p, &c.report.slo)
                });
                line
            })
            .collect();
        out.push_str(&md_table(&headers, &body));
    }
    out
}
