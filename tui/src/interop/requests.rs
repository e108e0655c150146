//! A job's raw per-request records (`llms results JOB --format requests-csv` or
//! `requests-jsonl`), for notebooks that want every request rather than the point's summary.
//! JSON lines carry each record whole (its token events included) with the point it belongs
//! to; CSV has one row per request of the figures derived from it (DESIGN.md section 3).

use super::stats;
use crate::output::JobResults;
use llms_shared::RequestRecord;
use serde_json::json;

/// The CSV header.
pub const CSV_COLUMNS: [&str; 17] = [
    "job",
    "point",
    "engine",
    "load",
    "request_id",
    "due_ms",
    "start_ms",
    "ttft_ms",
    "e2e_ms",
    "output_tokens",
    "prompt_tokens",
    "cached_tokens",
    "events",
    "turn",
    "group",
    "retries",
    "error",
];

/// Each point's records, in point order: (point index, engine, load, records).
fn records(r: &JobResults) -> impl Iterator<Item = (u32, &str, String, &RequestRecord)> {
    r.rows.iter().flat_map(|row| {
        let load = row
            .load
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        row.point
            .iter()
            .flat_map(|p| p.requests.iter())
            .map(move |q| (row.index, row.engine.as_str(), load.clone(), q))
    })
}

/// One JSON object per line: `{"job", "point", "engine", "load", "request": {...}}`.
pub fn jsonl(r: &JobResults) -> Result<String, serde_json::Error> {
    let mut out = String::new();
    for (index, engine, load, q) in records(r) {
        let line = json!({
            "job": r.job, "point": index, "engine": engine, "load": load,
            "request": serde_json::to_value(q)?,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    Ok(out)
}

/// A CSV field, quoted where it must be (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// One header, one row per request.
pub fn csv(r: &JobResults) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    let ms = |ns: u64| format!("{:.3}", ns as f64 / 1e6);
    for (index, engine, load, q) in records(r) {
        let ok = stats::completed(q);
        let cells = [
            r.job.to_string(),
            index.to_string(),
            field(engine),
            field(&load),
            field(&q.id),
            ms(q.due_ns),
            ms(q.start_ns),
            opt(q.ttft_ns().filter(|_| ok).map(ms)),
            ms(q.end_ns),
            if ok {
                q.output_tokens().to_string()
            } else {
                String::new()
            },
            opt(q.usage.prompt_tokens.or(q.client_input_tokens)),
            opt(q.usage.cached_tokens),
            q.chunks.len().to_string(),
            opt(q.turn),
            opt(q.group),
            q.retries.to_string(),
            field(
                &q.error
                    .as_ref()
                    .map_or(String::new(), |e| format!("{}: {}", e.kind, e.message)),
            ),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// Whether any point holds records (they come only with `--raw`).
pub fn any(r: &JobResults) -> bool {
    records(r).next().is_some()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::fixtures;
    use llms_shared::{JobState, Load, RequestError, Usage};
    use serde_json::Value;

    fn job() -> JobResults {
        let mut p = fixtures::point(Load::Concurrency { concurrency: 2 }, 1.0);
        p.requests = vec![
            RequestRecord {
                id: "r-1".into(),
                start_ns: 5_000_000,
                chunks: vec![(20_000_000, 1), (30_000_000, 3)],
                end_ns: 31_000_000,
                usage: Usage {
                    prompt_tokens: Some(12),
                    completion_tokens: Some(4),
                    cached_tokens: None,
                },
                ..Default::default()
            },
            RequestRecord {
                id: "r-2".into(),
                error: Some(RequestError {
                    kind: "http_500".into(),
                    message: "boom, \"really\"".into(),
                }),
                end_ns: 2_000_000,
                ..Default::default()
            },
        ];
        JobResults {
            job: 3,
            name: "s".into(),
            state: JobState::Done,
            rows: vec![fixtures::row(1, "ref", "reference", p, None)],
        }
    }

    #[test]
    fn csv_rows_per_request() {
        let text = csv(&job());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[1],
            "3,1,ref,concurrency 2,r-1,0.000,5.000,20.000,31.000,4,12,,2,,,0,"
        );
        assert!(
            lines[2].ends_with(",\"http_500: boom, \"\"really\"\"\""),
            "{}",
            lines[2]
        );
        assert_eq!(
            lines[2].split(',').nth(7),
            Some(""),
            "no TTFT for a failed request"
        );
    }

    #[test]
    fn jsonl_carries_whole_records() {
        let j = job();
        let text = jsonl(&j).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["point"], 1);
        let back: RequestRecord = serde_json::from_value(lines[0]["request"].clone()).unwrap();
        assert_eq!(back, j.rows[0].point.as_ref().unwrap().requests[0]);
        assert!(any(&j));
    }
}
