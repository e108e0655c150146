//! Capacity under an SLO, as the engines' searches found it: per series the search report
//! (from the one row that ended its search) and what is needed to say it in words: its unit,
//! the GPUs it ran on, the first load that failed and by how much. Pure: results in, facts
//! out; `llms compare`, `llms report` and the Results screen word them.

use crate::compare::{fmt, fmt_x, load_x, series_name};
use llms_shared::{JobSummary, Objective, ProbeReport, ResultRow, SearchOver, SearchReport};
use std::collections::BTreeMap;

/// One engine's capacity search.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    /// Series name, as in the comparison rows (`vllm`, or `7/vllm` over several jobs).
    pub series: String,
    /// Job id.
    pub job: u64,
    /// What the search found.
    pub report: SearchReport,
    /// The workload was conversations: the load counts sessions.
    pub conversation: bool,
    /// Names of the GPUs the engine's points ran on (one entry per GPU; empty: none measured).
    pub gpus: Vec<String>,
}

/// Every series' capacity search, in job order then row order.
pub fn capacities(jobs: &[(JobSummary, Vec<ResultRow>)]) -> Vec<Capacity> {
    let many = jobs.len() > 1;
    let mut out = Vec::new();
    for (job, rows) in jobs {
        for r in rows {
            let Some(report) = &r.search else { continue };
            // The row that ended the search may have failed: its engine's other rows tell.
            let same = || rows.iter().filter(|o| o.engine == r.engine);
            let workload = r
                .workload
                .as_ref()
                .or_else(|| same().find_map(|o| o.workload.as_ref()));
            let gpu = r
                .gpu
                .as_ref()
                .or_else(|| same().find_map(|o| o.gpu.as_ref()));
            out.push(Capacity {
                series: series_name(many, job.id, &r.engine),
                job: job.id,
                report: report.clone(),
                conversation: workload.is_some_and(|w| w.kind == "conversation"),
                gpus: gpu
                    .map(|g| {
                        g.gpus
                            .iter()
                            .map(|s| s.name.clone().unwrap_or_else(|| "GPU".into()))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
    }
    out
}

/// A count in words up to twelve (`one`, `two`), digits beyond.
pub fn count_word(n: usize) -> String {
    const WORDS: [&str; 13] = [
        "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve",
    ];
    WORDS
        .get(n)
        .map_or_else(|| n.to_string(), |w| (*w).to_owned())
}

/// The hardware in words: `on one NVIDIA H200`, `on two NVIDIA H100`, `on one A and one B`,
/// `on CPU (no GPU measured)`.
pub fn hardware(gpus: &[String]) -> String {
    if gpus.is_empty() {
        return "on CPU (no GPU measured)".into();
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for g in gpus {
        match counts.iter_mut().find(|(n, _)| n == g) {
            Some((_, c)) => *c += 1,
            None => counts.push((g, 1)),
        }
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(n, c)| format!("{} {n}", count_word(*c)))
        .collect();
    format!("on {}", join_and(&parts))
}

/// `a`, `a and b`, `a, b and c`.
pub fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [a] => a.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// An objective's limit or figure with its unit: `500 ms`, `41.2 ms`, `1 %`.
pub fn objective_value(key: &str, v: f64) -> String {
    match Objective::parse(key) {
        Ok(Objective::ErrorRate) => format!("{} %", fmt_x(round2(100.0 * v))),
        _ if v.fract() == 0.0 => format!("{} ms", fmt_x(v)),
        _ => format!("{} ms", fmt(Some(v))),
    }
}

/// A limit as written: 2 decimals at most.
fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// An objective key as people read it (`TPOT p99`), the key itself when it is not one.
pub fn objective_label(key: &str) -> String {
    Objective::parse(key).map_or_else(|_| key.to_owned(), Objective::label)
}

/// The objective keys in reading order: latencies by metric in the order a request meets
/// them (TTFT, ITL, TPOT, E2E), the error rate last.
pub fn ordered_keys(slo: &BTreeMap<String, f64>) -> Vec<&String> {
    let mut keys: Vec<&String> = slo.keys().collect();
    let rank = |k: &str| {
        ["ttft", "itl", "tpot", "e2e", "error"]
            .iter()
            .position(|m| k.starts_with(m))
            .unwrap_or(9)
    };
    keys.sort_by_key(|k| (rank(k), (*k).clone()));
    keys
}

/// The objectives in words, latencies first: `TTFT p99 ≤ 500 ms, TPOT p99 ≤ 40 ms and error
/// rate ≤ 1 %`.
pub fn slo_text(slo: &BTreeMap<String, f64>) -> String {
    let parts: Vec<String> = ordered_keys(slo)
        .iter()
        .map(|k| format!("{} ≤ {}", objective_label(k), objective_value(k, slo[*k])))
        .collect();
    join_and(&parts)
}

impl Capacity {
    /// What the load counts: `requests in flight`, `sessions`, `requests/s`, `session
    /// starts/s`.
    pub fn unit(&self) -> &'static str {
        match (self.report.over, self.conversation) {
            (SearchOver::Concurrency, false) => "requests in flight",
            (SearchOver::Concurrency, true) => "sessions",
            (SearchOver::Rate, false) => "requests/s",
            (SearchOver::Rate, true) => "session starts/s",
        }
    }

    /// The unit of `v` of it: singular for a concurrency of 1 (`1 session`).
    pub fn unit_of(&self, v: f64) -> &'static str {
        match (self.report.over, self.conversation, v == 1.0) {
            (SearchOver::Concurrency, false, true) => "request in flight",
            (SearchOver::Concurrency, true, true) => "session",
            _ => self.unit(),
        }
    }

    /// The unit for narrow screens: `in flight`, `sessions`, `req/s`, `sessions/s`.
    pub fn short_unit(&self) -> &'static str {
        match (self.report.over, self.conversation) {
            (SearchOver::Concurrency, false) => "in flight",
            (SearchOver::Concurrency, true) => "sessions",
            (SearchOver::Rate, false) => "req/s",
            (SearchOver::Rate, true) => "sessions/s",
        }
    }

    /// A load value of this search (`24`, `12.5`).
    pub fn load_text(&self, v: f64) -> String {
        match self.report.over {
            SearchOver::Concurrency => fmt_x(v),
            SearchOver::Rate => fmt_x(round2(v)),
        }
    }

    /// The capacity (`24`), `-` when the search did not finish.
    pub fn value_text(&self) -> String {
        self.report
            .capacity
            .map_or_else(|| "-".into(), |v| self.load_text(v))
    }

    /// What limited it: `TPOT p99`, `max (64: every load tried passed)`, `-`.
    pub fn limited_text(&self) -> String {
        match self.report.limited_by.as_deref() {
            None => "-".into(),
            Some("max") => format!(
                "max ({}: every load tried passed)",
                self.load_text(self.report.max)
            ),
            Some(k) => objective_label(k),
        }
    }

    /// The load of a probe in this search's terms.
    pub fn probe_load(p: &ProbeReport) -> f64 {
        load_x(&p.load).1
    }

    /// The lowest load that failed, its probe, and what it broke in words (`TPOT p99 41.0 ms
    /// > 40 ms`, or the point's error).
    pub fn first_failure(&self) -> Option<(f64, String)> {
        let p = self
            .report
            .probes
            .iter()
            .filter(|p| !p.pass)
            .min_by(|a, b| Self::probe_load(a).total_cmp(&Self::probe_load(b)))?;
        Some((Self::probe_load(p), failure_text(p, &self.report.slo)))
    }

    /// Probes run, the confirmation included.
    pub fn probes_run(&self) -> usize {
        self.report.probes.len()
    }
}

/// What a failed probe broke: each objective's figure against its limit, or why it has none.
pub fn failure_text(p: &ProbeReport, slo: &BTreeMap<String, f64>) -> String {
    let parts: Vec<String> = p
        .failed
        .iter()
        .map(|k| match (p.values.get(k), slo.get(k)) {
            (Some(v), Some(limit)) => format!(
                "{} {} > {}",
                objective_label(k),
                objective_value(k, *v),
                objective_value(k, *limit)
            ),
            _ if k == "point" => format!(
                "no figures ({})",
                p.error.as_deref().unwrap_or("the point failed")
            ),
            _ => objective_label(k),
        })
        .collect();
    if parts.is_empty() {
        return "failed".into();
    }
    parts.join(", ")
}

#[cfg(test)]
#[path = "capacity_tests.rs"]
mod tests;
