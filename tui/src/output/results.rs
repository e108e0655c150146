//! `llms results`: the finished points of a job as a table, JSON, CSV or Markdown.

use super::{load_label, table};
use crate::compare::fmt;
use llms_shared::{JobState, PointGpu, PointResult, ResultRow};
use serde_json::{Value, json};

/// A job's results with the facts every format prints.
#[derive(Debug, Clone, PartialEq)]
pub struct JobResults {
    /// Job id.
    pub job: u64,
    /// The job's name.
    pub name: String,
    /// Its state now.
    pub state: JobState,
    /// Its finished points, in point order.
    pub rows: Vec<ResultRow>,
}

impl JobResults {
    /// Rows with figures.
    fn points(&self) -> impl Iterator<Item = (&ResultRow, &PointResult)> {
        self.rows
            .iter()
            .filter_map(|r| r.point.as_ref().map(|p| (r, p)))
    }

    /// Rows without figures, with their reason.
    fn failures(&self) -> impl Iterator<Item = (&ResultRow, &str)> {
        self.rows
            .iter()
            .filter(|r| r.point.is_none())
            .map(|r| (r, r.error.as_deref().unwrap_or("no figures")))
    }
}

/// `{"job", "name", "state", "points": [...], "failed": [{"index", "engine", "kind", "load",
/// "error"}]}`.
/// Each point is the `llmsd bench --json` point object with `"index"`, `"engine"` and
/// `"kind"` added, `"engine_version"` when the engine reported one, `"gpu"` (the daemon's
/// `PointGpu`) when there are GPU figures, and `"workload"` (what the requests sent, as
/// `llmsd bench --json` gives it at its top level). A capacity search's points add `"role"`,
/// and the one that ended it `"search"` (points and failed entries alike).
pub fn results_json(r: &JobResults) -> Result<Value, serde_json::Error> {
    let mut points = Vec::new();
    for (row, point) in r.points() {
        let mut v = serde_json::to_value(point)?;
        if let Value::Object(m) = &mut v {
            m.insert("index".into(), json!(row.index));
            m.insert("engine".into(), json!(row.engine));
            m.insert("kind".into(), json!(row.kind));
            if let Some(v) = &row.engine_version {
                m.insert("engine_version".into(), json!(v));
            }
            if let Some(gpu) = &row.gpu {
                m.insert("gpu".into(), serde_json::to_value(gpu)?);
            }
            if let Some(w) = &row.workload {
                m.insert("workload".into(), serde_json::to_value(w)?);
            }
            search_keys(m, row)?;
        }
        points.push(v);
    }
    let mut failed = Vec::new();
    for (row, error) in r.failures() {
        let mut v = json!({
            "index": row.index, "engine": row.engine, "kind": row.kind, "load": row.load,
            "error": error,
        });
        if let Value::Object(m) = &mut v {
            search_keys(m, row)?;
        }
        failed.push(v);
    }
    Ok(json!({
        "job": r.job,
        "name": r.name,
        "state": r.state.as_str(),
        "points": points,
        "failed": failed,
    }))
}

/// A capacity search's keys of a row: `"role"` (`probe` or `confirm`) on its points, and
/// `"search"` (what it found) on the one that ended it.
fn search_keys(
    m: &mut serde_json::Map<String, Value>,
    row: &ResultRow,
) -> Result<(), serde_json::Error> {
    if let Some(role) = row.role {
        m.insert("role".into(), serde_json::to_value(role)?);
    }
    if let Some(s) = &row.search {
        m.insert("search".into(), serde_json::to_value(s)?);
    }
    Ok(())
}

/// Columns of [`results_csv`], in order.
#[rustfmt::skip]
pub const CSV_COLUMNS: [&str; 24] = [
    "job", "index", "engine", "kind", "load", "completed", "failed", "error_rate", "duration_s",
    "output_throughput", "total_throughput", "request_throughput", "goodput", "ttft_p50_ms",
    "ttft_p90_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms", "tpot_p50_ms", "e2e_p50_ms",
    "e2e_p99_ms", "tokens_per_joule", "peak_mem_gib", "flags",
];

/// Highest memory used on any of the point's GPUs, GiB.
fn peak_mem_gib(gpu: &PointGpu) -> Option<f64> {
    let peak = gpu.gpus.iter().filter_map(|g| g.peak_mem_used).max()?;
    Some(peak as f64 / (1u64 << 30) as f64)
}

/// One header line and one line per point with figures (failed points have none), LF line
/// ends; fields quoted per RFC 4180 when they hold a comma, quote or line break. Flags are
/// joined with `;`; GPU columns are empty without GPU figures.
pub fn results_csv(r: &JobResults) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for (row, p) in r.points() {
        let gpu = row.gpu.as_ref();
        let opt = |x: Option<f64>, f: fn(f64) -> String| x.map(f).unwrap_or_default();
        let fields = [
            r.job.to_string(),
            row.index.to_string(),
            row.engine.clone(),
            row.kind.clone(),
            load_label(&p.load),
            p.completed.to_string(),
            p.failed.to_string(),
            p.error_rate.to_string(),
            p.duration_s.to_string(),
            p.output_throughput.to_string(),
            p.total_throughput.to_string(),
            p.request_throughput.to_string(),
            p.goodput.to_string(),
            p.ttft_ms.p50.to_string(),
            p.ttft_ms.p90.to_string(),
            p.ttft_ms.p99.to_string(),
            p.itl_ms.p50.to_string(),
            p.itl_ms.p99.to_string(),
            p.tpot_ms.p50.to_string(),
            p.e2e_ms.p50.to_string(),
            p.e2e_ms.p99.to_string(),
            opt(gpu.and_then(|g| g.tokens_per_joule), |x| x.to_string()),
            opt(gpu.and_then(peak_mem_gib), |x| format!("{x:.3}")),
            p.flags.join(";"),
        ];
        let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&quoted.join(","));
        out.push('\n');
    }
    out
}

/// A CSV field, quoted when it must be (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Headers of the readable table and of the Markdown table (with [`GOODPUT`] after
/// `E2E P50` when some point was given objectives).
#[rustfmt::skip]
const MAIN_COLUMNS: [&str; 14] = [
    "POINT", "ENGINE", "LOAD", "OK", "FAILED", "OUT TOK/S", "REQ/S", "TTFT P50", "TTFT P99",
    "ITL P50", "ITL P99", "TPOT P50", "E2E P50", "FLAGS",
];

/// The goodput column: requests per second that met every objective given.
const GOODPUT: &str = "GOODPUT";

/// Latency columns (ms), by index in [`MAIN_COLUMNS`].
const LATENCIES: std::ops::RangeInclusive<usize> = 7..=12;

/// Whether some point's goodput was counted against objectives (else it is every completed
/// request and says nothing more than REQ/S).
fn has_goodput(r: &JobResults) -> bool {
    r.points()
        .any(|(_, p)| p.slo != llms_shared::Slo::default())
}

/// The headers for `r`.
fn main_columns(r: &JobResults) -> Vec<&'static str> {
    let mut h = MAIN_COLUMNS.to_vec();
    if has_goodput(r) {
        h.insert(h.len() - 1, GOODPUT);
    }
    h
}

/// The main figures of each point with figures, with the significant figures `llms
/// compare` uses (latencies in ms).
fn main_rows(r: &JobResults) -> Vec<Vec<String>> {
    let goodput = has_goodput(r);
    let f = |x: f64| fmt(Some(x));
    r.points()
        .map(|(row, p)| {
            let mut v = vec![
                row.index.to_string(),
                row.engine.clone(),
                load_label(&p.load),
                p.completed.to_string(),
                p.failed.to_string(),
                f(p.output_throughput),
                f(p.request_throughput),
                f(p.ttft_ms.p50),
                f(p.ttft_ms.p99),
                f(p.itl_ms.p50),
                f(p.itl_ms.p99),
                f(p.tpot_ms.p50),
                f(p.e2e_ms.p50),
            ];
            if goodput {
                v.push(if p.slo == llms_shared::Slo::default() {
                    "-".into()
                } else {
                    f(p.goodput)
                });
            }
            v.push(p.flags.join(","));
            v
        })
        .collect()
}

/// Lines `point N (ENGINE) failed: ERROR`, prefixed with `prefix`; `flat` puts each
/// error on one line.
fn failure_lines(r: &JobResults, prefix: &str, flat: bool) -> String {
    r.failures()
        .map(|(row, e)| {
            let e = if flat {
                e.replace(['\n', '\r'], " ")
            } else {
                e.to_owned()
            };
            format!("{prefix}point {} ({}) failed: {e}\n", row.index, row.engine)
        })
        .collect()
}

/// For people: a line naming the job, the main figures (latencies in ms), then the
/// failed points.
pub fn results_table(r: &JobResults) -> String {
    let (job, name, state) = (r.job, &r.name, r.state.as_str());
    let mut out = format!("job {job}  {name}  {state}  (latencies in ms)\n\n");
    out.push_str(&table(&main_columns(r), &main_rows(r)));
    if has_goodput(r) {
        out.push_str("GOODPUT: requests/s that met every objective the sweep gave\n");
    }
    let failed = failure_lines(r, "", false);
    if !failed.is_empty() {
        out.push('\n');
        out.push_str(&failed);
    }
    out
}

/// A Markdown table of the main figures (latencies in ms), then the failed points as a list.
pub fn results_md(r: &JobResults) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace(['\n', '\r'], " ");
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let columns = main_columns(r);
    let header = columns.iter().enumerate().map(|(i, h)| match i {
        i if LATENCIES.contains(&i) => format!("{} (ms)", h.to_lowercase()),
        _ if *h == GOODPUT => "goodput (req/s)".to_owned(),
        _ => h.to_lowercase(),
    });
    let mut out = line(header.collect());
    out.push_str(&line(columns.iter().map(|_| "---".to_owned()).collect()));
    for row in main_rows(r) {
        out.push_str(&line(row.iter().map(|c| cell(c)).collect()));
    }
    let failed = failure_lines(r, "- ", true);
    if !failed.is_empty() {
        out.push('\n');
        out.push_str(&failed);
    }
    out
}

#[cfg(test)]
#[path = "results_tests.rs"]
mod tests;
