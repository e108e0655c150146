//! The comparison as text and Markdown: a long table (one row per point), then per
//! metric a pivot (a row per load value, a column per series).

use crate::compare::{CmpRow, Metric, fmt, fmt_x};
use llms_shared::{JobSummary, ResultRow, SearchRole};

/// Jobs as given to `compare` and `report`: each job with its points.
pub type Jobs = [(JobSummary, Vec<ResultRow>)];

/// The status of a point: `ok`, `FAILED: reason`, or its flags (and failed requests).
pub fn status(r: &CmpRow) -> String {
    if r.failed() {
        return format!("FAILED: {}", r.error.as_deref().unwrap_or("no figures"));
    }
    let mut marks = r.flags.clone();
    if r.failed_requests > 0 {
        marks.push(format!("{} failed requests", r.failed_requests));
    }
    if marks.is_empty() {
        "ok".into()
    } else {
        marks.join(", ")
    }
}

/// [`status`] on one line for a terminal table: a failure reason that carries the engine's
/// log lines keeps its first line and ends in ` …` (the rest is in `llms results JOB`).
pub fn status_short(r: &CmpRow) -> String {
    let s = status(r);
    let mut lines = s.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or_default().trim_end().to_owned();
    if lines.next().is_some() {
        format!("{first} …")
    } else {
        first
    }
}

/// The distinct modes of the rows, in row order (`concurrency`, or `batch, rate`).
pub fn modes(rows: &[CmpRow]) -> Vec<&'static str> {
    let mut m: Vec<&'static str> = rows.iter().map(|r| r.mode).collect();
    m.dedup();
    m
}

/// The load of a row as written everywhere (`c=8`, `rate=4/s`); `-` when unknown.
pub fn load(r: &CmpRow) -> String {
    crate::compare::load_text(r.mode, r.x)
}

/// One line per job: `job 3 "name": failed, 10/10 points (1 failed)`.
pub fn job_lines(jobs: &Jobs) -> Vec<String> {
    jobs.iter()
        .map(|(j, points)| {
            let failed = crate::output::failed_count(points);
            let mut s = format!(
                "job {} \"{}\": {}, {}/{} points",
                j.id,
                j.name,
                j.state.as_str(),
                j.points_done,
                j.points_total
            );
            if failed > 0 {
                s.push_str(&format!(" ({failed} failed)"));
            }
            if let Some(from) = &j.imported {
                s.push_str(&format!("\n  imported from {from}"));
            }
            s
        })
        .collect()
}

/// Some row has a steady window: the tables add its throughput beside the whole point's.
pub fn has_steady(rows: &[CmpRow]) -> bool {
    rows.iter().any(|r| r.steady_throughput.is_some())
}

/// The frontier cell: `mark` on the frontier, `no` off it, `-` without the figures.
fn frontier_cell(r: &CmpRow, mark: &str) -> String {
    match (r.on_frontier, r.per_user.is_some() && r.per_gpu.is_some()) {
        (true, _) => mark.into(),
        (false, true) => "".into(),
        (false, false) => "-".into(),
    }
}

/// A status with the point's part in a capacity search, when it had one, and whether it
/// met the search's objectives: `ok (probe, FAIL)`.
pub fn with_role(r: &CmpRow, status: String) -> String {
    let Some(role) = r.role.map(SearchRole::as_str) else {
        return status;
    };
    match r.search_pass {
        Some(true) => format!("{status} ({role}, pass)"),
        Some(false) => format!("{status} ({role}, FAIL)"),
        None => format!("{status} ({role})"),
    }
}

/// Some point was given objectives: the tables add its goodput beside its requests/s.
pub fn has_goodput(rows: &[CmpRow]) -> bool {
    rows.iter().any(|r| r.goodput.is_some())
}

/// Figures of a row in table order: tok/s, (steady tok/s,) req/s, (goodput,) TTFT
/// p50/p99, ITL p50/p99, GiB, tok/J.
fn figures(r: &CmpRow, steady: bool, goodput: bool) -> Vec<String> {
    let mut v = vec![fmt(r.throughput)];
    if steady {
        v.push(fmt(r.steady_throughput));
    }
    v.push(fmt(r.req_per_s));
    if goodput {
        v.push(fmt(r.goodput));
    }
    v.extend(figures_rest(r));
    v
}

fn figures_rest(r: &CmpRow) -> Vec<String> {
    [
        r.ttft_p50,
        r.ttft_p99,
        r.itl_p50,
        r.itl_p99,
        r.peak_mem_gib,
        r.tokens_per_joule,
    ]
    .into_iter()
    .map(fmt)
    .collect()
}

/// Metrics with at least one figure in the rows.
pub fn metrics_with_data(rows: &[CmpRow]) -> Vec<Metric> {
    Metric::ALL
        .into_iter()
        .filter(|m| rows.iter().any(|r| m.of(r).is_some_and(f64::is_finite)))
        .collect()
}

/// A pivot's cells as text: the figure, `*` after it when the point is flagged, `-` when
/// absent (failed or not run).
fn pivot_cells(rows: &[CmpRow], metric: Metric) -> (Vec<String>, Vec<Vec<String>>) {
    pivot_cells_by(rows, |r| metric.of(r))
}

/// A figure of a row beside the metrics.
type Figure = fn(&CmpRow) -> Option<f64>;

/// A pivot table: its title, the series' names, and a row of cells per load value.
type Pivot = (&'static str, Vec<String>, Vec<Vec<String>>);

/// Pivots of the figures beside the metrics: (title, getter). Shown where some row has one.
const EXTRA: [(&str, Figure); 1] = [("prefix cache hit %", |r: &CmpRow| r.cache_hit_pct)];

/// The extra pivots that have data.
fn extra_pivots(rows: &[CmpRow]) -> Vec<Pivot> {
    EXTRA
        .iter()
        .filter(|(_, f)| rows.iter().any(|r| f(r).is_some()))
        .map(|(title, f)| {
            let (names, cells) = pivot_cells_by(rows, f);
            (*title, names, cells)
        })
        .collect()
}

fn pivot_cells_by(
    rows: &[CmpRow],
    figure: impl Fn(&CmpRow) -> Option<f64>,
) -> (Vec<String>, Vec<Vec<String>>) {
    let (names, grid) = crate::compare::pivot_by(rows, figure);
    let body = grid
        .into_iter()
        .map(|(x, cells)| {
            let mut line = vec![fmt_x(x)];
            for (name, v) in names.iter().zip(cells) {
                let flagged = v.is_some()
                    && rows
                        .iter()
                        .any(|r| &r.series == name && r.x == x && r.marked());
                line.push(format!("{}{}", fmt(v), if flagged { "*" } else { "" }));
            }
            line
        })
        .collect();
    (names, body)
}

/// Columns aligned with two spaces; `right[i]` right-aligns column `i`. The last column is
/// not padded.
pub fn aligned(headers: &[String], rows: &[Vec<String>], right: &[bool]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(headers).chain(rows.iter().map(Vec::as_slice)) {
        let last = row.len().saturating_sub(1);
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = " ".repeat(widths[i].saturating_sub(c.chars().count()));
                match (i == last, right.get(i).copied().unwrap_or(false)) {
                    (_, true) => format!("{pad}{c}"),
                    (true, false) => c.clone(),
                    (false, false) => format!("{c}{pad}"),
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The comparison as text for a terminal: the jobs, `summary` (the capacities, when there
/// were searches), the long table, then a pivot per metric with data. With a single mode the
/// load column is headed by the mode and holds the value alone, which keeps ok rows within
/// 80 columns (without steady windows).
pub fn text(jobs: &Jobs, rows: &[CmpRow], summary: &str) -> String {
    let mut out = String::new();
    for l in job_lines(jobs) {
        out.push_str(&l);
        out.push('\n');
    }
    if !summary.is_empty() {
        out.push('\n');
        out.push_str(summary);
    }
    if rows.is_empty() {
        out.push_str("no points yet\n");
        return out;
    }
    out.push_str("TTFT and ITL: p50 and p99 in ms; GiB: peak GPU memory; * flagged; - no figure\n");
    out.push_str("tok/s: output tokens/s of the whole point; F: on its series' Pareto frontier\n");
    let steady = has_steady(rows);
    if steady {
        out.push_str("steady: output tokens/s of the point's steady window\n");
    }
    let goodput = has_goodput(rows);
    if goodput {
        out.push_str("goodput: requests/s that met every objective given\n");
    }
    out.push('\n');
    let modes = modes(rows);
    let single = modes.len() == 1;
    let mut headers: Vec<String> = vec![
        "series".into(),
        if single {
            modes[0].into()
        } else {
            "load".into()
        },
    ];
    headers.push("tok/s".into());
    if steady {
        headers.push("steady".into());
    }
    headers.push("req/s".into());
    if goodput {
        headers.push("goodput".into());
    }
    headers.extend(["TTFT", "p99", "ITL", "p99", "GiB", "tok/J", "status"].map(String::from));
    let loads: Vec<String> = rows
        .iter()
        .map(|r| {
            if single && r.x.is_finite() {
                fmt_x(r.x)
            } else {
                load(r)
            }
        })
        .collect();
    // The frontier mark shares the load column (its header leaves room), so that ok rows
    // keep within 80 columns: `F` at its left edge, the load right-aligned.
    let w = loads
        .iter()
        .map(|l| l.chars().count() + 2)
        .chain([headers[1].chars().count()])
        .max()
        .unwrap_or(0);
    let body: Vec<Vec<String>> = rows
        .iter()
        .zip(loads)
        .map(|(r, l)| {
            let mark = if r.on_frontier { "F" } else { " " };
            let mut line = vec![r.series.clone(), format!("{mark}{l:>0$}", w - 1)];
            line.extend(figures(r, steady, goodput));
            line.push(with_role(r, status_short(r)));
            line
        })
        .collect();
    let mut right = vec![false, true];
    right.extend(vec![true; 8 + usize::from(steady) + usize::from(goodput)]);
    out.push_str(&aligned(&headers, &body, &right));
    let shortened: Vec<String> = rows
        .iter()
        .filter(|r| status_short(r) != status(r))
        .map(|r| r.job)
        .fold(Vec::new(), |mut v, j| {
            if !v.contains(&j) {
                v.push(j);
            }
            v
        })
        .iter()
        .map(|j| format!("`llms results {j}`"))
        .collect();
    if !shortened.is_empty() {
        out.push_str(&format!(
            "… a failure's full reason and engine log lines: {}\n",
            shortened.join(", ")
        ));
    }
    let by = modes.join("/");
    for m in metrics_with_data(rows) {
        let (names, cells) = pivot_cells(rows, m);
        out.push_str(&format!("\n{} by {by}\n", m.title()));
        let mut headers = vec![by.clone()];
        headers.extend(names);
        let right = vec![true; headers.len()];
        out.push_str(&aligned(&headers, &cells, &right));
    }
    for (title, names, cells) in extra_pivots(rows) {
        out.push_str(&format!("\n{title} by {by}\n"));
        let mut headers = vec![by.clone()];
        headers.extend(names);
        let right = vec![true; headers.len()];
        out.push_str(&aligned(&headers, &cells, &right));
    }
    out
}

#[path = "table_md.rs"]
mod md;
pub use md::{jobs_md, markdown, md_table};
