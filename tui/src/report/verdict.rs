//! The paragraph a report opens with, built from the numbers: the capacity each engine
//! carried under its objectives and what limited it, or, without a capacity search, the
//! highest output per GPU and who leads at high per-user speed.

use super::table::Jobs;
use crate::capacity::{Capacity, capacities, hardware, join_and, objective_label, slo_text};
use crate::compare::{CmpRow, fmt, series_name};
use crate::frontier::{NO_GPU_NOTE, of_rows};
use std::collections::BTreeMap;

/// The verdict: from the capacity searches when there are any, else from the frontier.
pub fn paragraph(jobs: &Jobs, rows: &[CmpRow]) -> String {
    let caps = capacities(jobs);
    if caps.is_empty() {
        from_frontier(jobs, rows)
    } else {
        from_capacity(&caps)
    }
}

/// Capacities grouped by their objectives, each group in one or more sentences.
fn from_capacity(caps: &[Capacity]) -> String {
    let mut groups: Vec<(&BTreeMap<String, f64>, Vec<&Capacity>)> = Vec::new();
    for c in caps {
        match groups.iter_mut().find(|(s, _)| **s == c.report.slo) {
            Some((_, v)) => v.push(c),
            None => groups.push((&c.report.slo, vec![c])),
        }
    }
    let sentences: Vec<String> = groups.iter().flat_map(|(slo, g)| group(slo, g)).collect();
    sentences.join(" ")
}

/// The sentences of engines searched against the same objectives.
fn group(slo: &BTreeMap<String, f64>, caps: &[&Capacity]) -> Vec<String> {
    let mut out = Vec::new();
    let mut carried: Vec<&Capacity> = caps
        .iter()
        .copied()
        .filter(|c| c.report.capacity.is_some_and(|v| v > 0.0))
        .collect();
    carried.sort_by(|a, b| {
        let v = |c: &Capacity| c.report.capacity.unwrap_or(0.0);
        v(b).total_cmp(&v(a))
    });
    let slo = slo_text(slo);
    if let Some(first) = carried.first() {
        let hw = hardware(&first.gpus);
        let same_hw = carried.iter().all(|c| hardware(&c.gpus) == hw);
        let parts: Vec<String> = carried
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut s = match (i, c.unit() == first.unit()) {
                    (0, _) => format!(
                        "{} carried {} {}",
                        c.series,
                        c.value_text(),
                        c.unit_of(c.report.capacity.unwrap_or(0.0))
                    ),
                    (_, true) => format!("{} {}", c.series, c.value_text()),
                    (_, false) => format!(
                        "{} {} {}",
                        c.series,
                        c.value_text(),
                        c.unit_of(c.report.capacity.unwrap_or(0.0))
                    ),
                };
                if !same_hw {
                    s = format!("{s} {}", hardware(&c.gpus));
                }
                s
            })
            .collect();
        let hw = if same_hw {
            format!(" {hw}")
        } else {
            String::new()
        };
        out.push(format!(
            "At {slo}, {}{hw} (capacity search, {}).",
            join_and(&parts),
            confirmation(&carried)
        ));
        let limits: Vec<String> = carried
            .iter()
            .enumerate()
            .filter_map(|(i, c)| limit(c, i == 0))
            .collect();
        if !limits.is_empty() {
            out.push(format!("{}.", join_and(&limits)));
        }
    }
    for c in caps {
        match c.report.capacity {
            Some(v) if v <= 0.0 => {
                let broke = c
                    .first_failure()
                    .map(|(_, w)| format!(" ({w})"))
                    .unwrap_or_default();
                let lead = if carried.is_empty() {
                    format!("At {slo}, ")
                } else {
                    String::new()
                };
                out.push(format!(
                    "{lead}{} did not meet the objectives even at {} {}{broke}.",
                    c.series,
                    c.load_text(c.report.min),
                    c.unit_of(c.report.min)
                ));
            }
            None => out.push(format!(
                "{}'s search did not finish: {}",
                c.series,
                finished(&c.report.verdict)
            )),
            Some(_) => {}
        }
    }
    out
}

/// A sentence as given, with a final period.
fn finished(s: &str) -> String {
    let s = s.trim();
    match s {
        "" => "it found no answer.".into(),
        s if s.ends_with('.') => s.into(),
        s => format!("{s}."),
    }
}

/// `confirmed`, `not confirmed`, or `confirmed for a, not for b`.
fn confirmation(caps: &[&Capacity]) -> String {
    let (yes, no): (Vec<&&Capacity>, Vec<&&Capacity>) =
        caps.iter().partition(|c| c.report.confirmed);
    let names =
        |v: &[&&Capacity]| join_and(&v.iter().map(|c| c.series.clone()).collect::<Vec<_>>());
    match (yes.is_empty(), no.is_empty()) {
        (false, true) => "confirmed".into(),
        (true, _) => "not confirmed when run again".into(),
        (false, false) => format!("confirmed for {}, not for {}", names(&yes), names(&no)),
    }
}

/// What limited one engine: `vllm was limited by TPOT p99 (41 ms at 25)` (`first`), else
/// `vllm by TPOT p99 (...)`; `None` when the search says nothing.
fn limit(c: &Capacity, first: bool) -> Option<String> {
    let key = c.report.limited_by.as_deref()?;
    if key == "max" {
        return Some(format!(
            "{} met every objective at the highest load tried ({}), so it may carry more",
            c.series,
            c.load_text(c.report.max)
        ));
    }
    let at = c
        .report
        .probes
        .iter()
        .filter(|p| !p.pass && p.failed.iter().any(|f| f == key))
        .min_by(|a, b| Capacity::probe_load(a).total_cmp(&Capacity::probe_load(b)))
        .and_then(|p| {
            let v = p.values.get(key)?;
            Some(format!(
                " ({} at {})",
                crate::capacity::objective_value(key, *v),
                c.load_text(Capacity::probe_load(p))
            ))
        })
        .unwrap_or_default();
    let verb = if first { " was limited" } else { "" };
    Some(format!(
        "{}{verb} by {}{at}",
        c.series,
        objective_label(key)
    ))
}

/// `c=32`.
fn at(r: &CmpRow) -> String {
    crate::compare::load_text(r.mode, r.x)
}

/// Without a search: each series' highest output per GPU and where, then who leads at the
/// highest per-user speed of its frontier.
fn from_frontier(jobs: &Jobs, rows: &[CmpRow]) -> String {
    let mut best: Vec<&CmpRow> = Vec::new();
    for r in rows
        .iter()
        .filter(|r| r.per_gpu.is_some_and(f64::is_finite))
    {
        match best.iter_mut().find(|b| b.series == r.series) {
            Some(b) if r.per_gpu > b.per_gpu => *b = r,
            Some(_) => {}
            None => best.push(r),
        }
    }
    if best.is_empty() {
        return "No point has figures to compare.".into();
    }
    best.sort_by(|a, b| {
        b.per_gpu
            .unwrap_or(0.0)
            .total_cmp(&a.per_gpu.unwrap_or(0.0))
    });
    let hw: Vec<String> = best.iter().map(|r| series_hardware(jobs, r)).collect();
    let same_hw = hw.iter().all(|h| *h == hw[0]);
    let parts: Vec<String> = best
        .iter()
        .zip(&hw)
        .map(|(r, h)| {
            let on = if same_hw {
                String::new()
            } else {
                format!(" {h}")
            };
            format!("{} {} at {}{on}", r.series, fmt(r.per_gpu), at(r))
        })
        .collect();
    let assumed = if best.iter().any(|r| r.gpus == 0) {
        format!(" ({NO_GPU_NOTE})")
    } else {
        String::new()
    };
    let on = if same_hw {
        format!(", {}", hw[0])
    } else {
        String::new()
    };
    let mut out = format!(
        "Highest output tokens/s per GPU{assumed}: {} (whole-point figures{on}; no capacity search).",
        join_and(&parts)
    );
    // Each series' fastest frontier point per user.
    let mut fast: Vec<&CmpRow> = of_rows(rows)
        .values()
        .filter_map(|idx| idx.last().map(|&i| &rows[i]))
        .collect();
    fast.sort_by(|a, b| {
        b.per_user
            .unwrap_or(0.0)
            .total_cmp(&a.per_user.unwrap_or(0.0))
    });
    if let Some((lead, rest)) = fast.split_first() {
        let others: Vec<String> = rest
            .iter()
            .map(|r| format!("{}'s {} ({})", r.series, fmt(r.per_user), at(r)))
            .collect();
        let against = if others.is_empty() {
            String::new()
        } else {
            format!(", against {}", join_and(&others))
        };
        out.push_str(&format!(
            " At the highest per-user speed, {} leads with {} output tokens/s per user ({}, {} per GPU){against}.",
            lead.series,
            fmt(lead.per_user),
            at(lead),
            fmt(lead.per_gpu)
        ));
    }
    out
}

/// The hardware a row's point ran on, in words.
fn series_hardware(jobs: &Jobs, r: &CmpRow) -> String {
    let many = jobs.len() > 1;
    let gpus: Vec<String> = jobs
        .iter()
        .filter(|(j, _)| j.id == r.job)
        .flat_map(|(_, points)| points.iter())
        .filter(|p| series_name(many, r.job, &p.engine) == r.series)
        .find_map(|p| p.gpu.as_ref())
        .map(|g| {
            g.gpus
                .iter()
                .map(|s| s.name.clone().unwrap_or_else(|| "GPU".into()))
                .collect()
        })
        .unwrap_or_default();
    hardware(&gpus)
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod tests;
