//! `llms compare` and `llms report` over capacity searches.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::fixtures::{search_job, sweep};
use serde_json::Value;

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("llms-search-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn compare_text_opens_with_the_capacities_and_marks_the_frontier() {
    let out = compare(&[search_job()], false, false).unwrap();
    let summary = out.split("\n\n").nth(1).unwrap();
    assert_eq!(
        summary,
        "Capacity (capacity search: highest load meeting every objective)\n\
         Objectives: TTFT p99 ≤ 500 ms, TPOT p99 ≤ 40 ms and error rate ≤ 1 %.\n\
         series  capacity     limited by  confirmed  probes\n\
         vllm    24 sessions  TPOT p99    yes             9\n\
         sglang  28 sessions  TTFT p99    yes             9"
    );
    let header = out.lines().find(|l| l.starts_with("series  conc")).unwrap();
    assert!(header.contains("tok/s  steady  req/s"), "{header}");
    assert!(out.contains("steady: output tokens/s of the point's steady window"));
    let line = |start: &str| {
        out.lines()
            .find(|l| l.starts_with(start))
            .unwrap()
            .to_owned()
    };
    // vllm at 64 streams 1500 tok/s (steady 1425), less than at 32: not on the frontier.
    let v64 = line("vllm             64");
    assert_eq!(
        v64.split_whitespace().take(4).collect::<Vec<_>>(),
        ["vllm", "64", "1500", "1425"]
    );
    assert!(v64.ends_with("ok (probe, FAIL)"), "{v64}");
    let v32 = line("vllm    F        32");
    assert!(v32.contains(" 2263    2150 "), "{v32}");
    let at24: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("vllm    F        24"))
        .map(|l| l.split("  ").last().unwrap())
        .collect();
    assert_eq!(at24, ["ok (probe, pass)", "ok (confirm, pass)"]);
    // The frontier section lists vllm's frontier by speed per user, without 64.
    let front = out.split("Pareto frontier:").nth(1).unwrap();
    let vllm: Vec<&str> = front
        .lines()
        .filter(|l| l.starts_with("vllm"))
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        vllm,
        [
            "c=32", "c=28", "c=26", "c=25", "c=24", "c=24", "c=16", "c=1"
        ]
    );
}

#[test]
fn compare_without_steady_windows_or_searches_adds_neither() {
    let out = compare(&[sweep()], false, false).unwrap();
    assert!(!out.contains("steady") && !out.contains("Capacity"));
    let md = compare(&[sweep()], true, false).unwrap();
    assert!(!md.contains("steady") && !md.contains("## Capacity"));
    assert!(md.contains("## Pareto frontier"));
}

#[test]
fn compare_json_has_the_capacity_and_the_frontier() {
    let v: Value = serde_json::from_str(&compare(&[search_job()], false, true).unwrap()).unwrap();
    let caps = v["capacity"].as_array().unwrap();
    assert_eq!(caps.len(), 2);
    assert_eq!(caps[0]["series"], "vllm");
    assert_eq!(caps[0]["capacity"], 24.0);
    assert_eq!(caps[0]["unit"], "sessions");
    assert_eq!(caps[0]["limited_by"], "tpot_p99");
    assert_eq!(caps[0]["confirmed"], true);
    assert_eq!(caps[0]["probes"], 9);
    assert_eq!(caps[0]["first_failure"]["load"], 25.0);
    let rows = v["rows"].as_array().unwrap();
    let off: Vec<(&str, f64)> = rows
        .iter()
        .filter(|r| r["on_frontier"] == false)
        .map(|r| (r["series"].as_str().unwrap(), r["x"].as_f64().unwrap()))
        .collect();
    assert_eq!(off, [("vllm", 64.0)]);
    let confirm = rows
        .iter()
        .find(|r| r["series"] == "vllm" && r["role"] == "confirm")
        .unwrap();
    assert_eq!(confirm["x"], 24.0);
    assert_eq!(confirm["search_pass"], true);
    assert_eq!(
        confirm["steady_throughput"],
        0.95 * confirm["throughput"].as_f64().unwrap()
    );
    // Without a search the capacity list is empty.
    let v: Value = serde_json::from_str(&compare(&[sweep()], false, true).unwrap()).unwrap();
    assert_eq!(v["capacity"], serde_json::json!([]));
}

#[test]
fn compare_markdown_has_the_capacity_table_and_steady_column() {
    let md = compare(&[search_job()], true, false).unwrap();
    assert!(
        md.contains("| vllm | 24 sessions | TPOT p99 | 25 | TPOT p99 41 ms > 40 ms | yes | 9 |")
    );
    assert!(md.contains("| series | load | output tok/s | steady output tok/s | req/s |"));
    assert!(md.contains("| vllm | c=64 | 1500 | 1425 |"));
    assert!(md.contains("`steady output tok/s` is over the point's steady window."));
}

#[test]
fn report_opens_with_the_verdict_and_shows_capacity_probes_and_frontier() {
    let dir = TempDir::new("search");
    let listed = write(&[search_job()], &dir.0).unwrap();
    assert!(listed.contains("frontier.svg") && listed.contains("frontier.png"));
    let md = std::fs::read_to_string(dir.0.join("report.md")).unwrap();
    let verdict = md.split("\n\n").nth(1).unwrap();
    assert!(
        verdict.starts_with(
            "At TTFT p99 ≤ 500 ms, TPOT p99 ≤ 40 ms and error rate ≤ 1 %, sglang carried 28 \
             sessions and vllm 24 on one NVIDIA H200 (capacity search, confirmed)."
        ),
        "{verdict}"
    );
    let cap = md.split("## Capacity\n\n").nth(1).unwrap();
    assert!(
        cap.contains(
            "| sglang | 28 sessions | TTFT p99 | 29 | TTFT p99 515 ms > 500 ms | yes | 9 |"
        )
    );
    let probes = md.split("### vllm: probes").nth(1).unwrap();
    assert!(probes.contains(
        "| # | concurrency | role | result | TTFT p99 (≤ 500 ms) | TPOT p99 (≤ 40 ms) | error rate (≤ 1 %) | broke |"
    ), "{probes}");
    assert!(
        probes.contains("| 8 | 25 | probe | FAIL | 350 | 41.0 | 0 % | TPOT p99 41 ms > 40 ms |")
    );
    assert!(probes.contains("| 9 | 24 | confirm | pass | 340 | 40.0 | 0 % |  |"));
    // What was sent, and until when.
    let work = md.split("## Workload\n\n").nth(1).unwrap();
    assert!(work.contains("| conversation"), "{work}");
    assert!(md.contains("\n\nMeasured until 20"), "{md}");
    // Titles say what was measured where.
    assert!(md.contains(
        "![capacity (conversation, 128 out on NVIDIA H200): Pareto frontier](frontier.svg)"
    ));
    assert!(md.contains("PNG: [frontier.png](frontier.png)"));
    let svg = std::fs::read_to_string(dir.0.join("frontier.svg")).unwrap();
    assert!(
        svg.lines()
            .any(|l| l == "output tokens/s per user (1000 / TPOT mean)")
    );
    assert!(svg.lines().any(|l| l == "output tokens/s per GPU"));
    for s in ["vllm", "sglang"] {
        assert!(svg.lines().any(|l| l == s), "legend {s}");
    }
}

#[test]
fn the_workload_table_names_a_conversations_shared_system_prompt() {
    let (j, mut rows) = search_job();
    for r in &mut rows {
        if let Some(w) = r.workload.as_mut() {
            (w.turns, w.prefix_tokens) = (Some(4), Some(384));
        }
    }
    let md = super::markdown::workload_md(&[(j, rows)]);
    assert!(
        md.contains("| conversation, 4 turns, a 384-token system prompt every session shares |"),
        "{md}"
    );
}

#[test]
fn the_frontier_chart_says_when_a_gpu_was_assumed() {
    let (j, mut points) = sweep();
    for p in &mut points {
        p.gpu = None;
    }
    let rows = crate::compare::rows(&[(j, points)]);
    let c = frontier::chart(&rows, "t").unwrap();
    assert_eq!(
        c.y_desc,
        "output tokens/s per GPU (1 assumed: no GPU measured)"
    );
    let charts::Body::Frontier(series) = &c.body else {
        panic!("not a frontier chart")
    };
    let llama = series.iter().find(|s| s.name == "llamacpp").unwrap();
    assert_eq!(llama.points.len(), 4, "the failed point has no figures");
    // On one assumed GPU, per GPU is the throughput: 100 tok/s at concurrency 1.
    assert_eq!(llama.frontier.last().unwrap().1, 100.0);
}
