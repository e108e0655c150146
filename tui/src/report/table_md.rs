//! The comparison as Markdown: the jobs, the long table and a pivot per metric.

use super::{
    Jobs, extra_pivots, figures, frontier_cell, has_goodput, has_steady, load, metrics_with_data,
    modes, pivot_cells, status, with_role,
};
use crate::compare::CmpRow;

/// The jobs as a Markdown table: id, name, state, points (done/total), failed points.
pub fn jobs_md(jobs: &Jobs) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|(j, points)| {
            let failed = crate::output::failed_count(points);
            vec![
                j.id.to_string(),
                match &j.imported {
                    Some(from) => format!("{} (imported from {from})", j.name),
                    None => j.name.clone(),
                },
                j.state.as_str().to_owned(),
                format!("{}/{}", j.points_done, j.points_total),
                failed.to_string(),
            ]
        })
        .collect();
    let headers = ["id", "name", "state", "points", "failed"].map(String::from);
    md_table(&headers, &rows)
}

/// A Markdown table.
pub fn md_table(headers: &[String], rows: &[Vec<String>]) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace(['\n', '\r'], " ");
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut out = line(headers.iter().map(|h| cell(h)).collect());
    out.push_str(&line(headers.iter().map(|_| "---".to_owned()).collect()));
    for r in rows {
        out.push_str(&line(r.iter().map(|c| cell(c)).collect()));
    }
    out
}

/// The comparison as Markdown: a `## Points` table, then a `## <metric> by <mode>` pivot per
/// metric with data. Headings start at `level` (2 for `##`).
pub fn markdown(rows: &[CmpRow], level: usize) -> String {
    let h = "#".repeat(level);
    if rows.is_empty() {
        return format!("{h} Points\n\nNo points yet.\n");
    }
    let steady = has_steady(rows);
    let goodput = has_goodput(rows);
    let mut headers: Vec<String> = ["series", "load", "output tok/s"].map(String::from).into();
    if steady {
        headers.push("steady output tok/s".into());
    }
    headers.push("req/s".into());
    if goodput {
        headers.push("goodput req/s".into());
    }
    headers.extend(
        [
            "TTFT p50 ms",
            "TTFT p99 ms",
            "ITL p50 ms",
            "ITL p99 ms",
            "peak mem GiB",
            "tok/J",
            "frontier",
            "status",
        ]
        .map(String::from),
    );
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut line = vec![r.series.clone(), load(r)];
            line.extend(figures(r, steady, goodput));
            line.push(frontier_cell(r, "yes"));
            line.push(with_role(r, status(r)));
            line
        })
        .collect();
    let mut out = format!("{h} Points\n\n");
    out.push_str(&md_table(&headers, &body));
    let by = modes(rows).join("/");
    for m in metrics_with_data(rows) {
        let (names, cells) = pivot_cells(rows, m);
        let cells: Vec<Vec<String>> = cells
            .into_iter()
            .map(|l| l.into_iter().map(|c| c.replace('*', "\\*")).collect())
            .collect();
        out.push_str(&format!("\n{h} {} by {by}\n\n", m.title()));
        let mut headers = vec![by.clone()];
        headers.extend(names);
        out.push_str(&md_table(&headers, &cells));
    }
    for (title, names, cells) in extra_pivots(rows) {
        let cells: Vec<Vec<String>> = cells
            .into_iter()
            .map(|l| l.into_iter().map(|c| c.replace('*', "\\*")).collect())
            .collect();
        out.push_str(&format!("\n{h} {title} by {by}\n\n"));
        let mut headers = vec![by.clone()];
        headers.extend(names);
        out.push_str(&md_table(&headers, &cells));
    }
    out.push_str(
        "\n`output tok/s` is over the whole point; `frontier`: on its series' Pareto frontier \
         of output tokens/s per user against per GPU.\n",
    );
    if steady {
        out.push_str("`steady output tok/s` is over the point's steady window.\n");
    }
    if goodput {
        out.push_str("`goodput req/s`: requests per second that met every objective given.\n");
    }
    if rows.iter().any(|r| r.marked() && !r.failed()) {
        out.push_str("\n`*` flagged point (see its status).\n");
    }
    out
}
