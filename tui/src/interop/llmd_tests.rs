//! The schema check: llm-d's Benchmark Report v0.2, as its own models define it (required
//! keys required, unknown keys refused, each Statistics' units from its field's group), for
//! the parts llms writes. It must accept the fixture written from the schema, and every
//! report llms writes.
#![allow(clippy::unwrap_used, dead_code)]
use super::*;
use crate::fixtures;
use llms_shared::{Arrival, JobState, RequestRecord};
use serde::Deserialize;
use std::collections::BTreeMap;

const FIXTURE: &str = include_str!("testdata/llmd-benchmark-report-0.2.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    version: String,
    run: Run,
    scenario: Option<Scenario>,
    results: Results,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Run {
    uid: String,
    eid: Option<String>,
    cid: Option<String>,
    pid: Option<String>,
    time: Option<RunTime>,
    user: Option<String>,
    description: Option<String>,
    keywords: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunTime {
    start: Option<String>,
    end: Option<String>,
    duration: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    stack: Option<Vec<Component>>,
    load: Option<LoadSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Component {
    metadata: ComponentMetadata,
    standardized: Engine,
    native: Native,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentMetadata {
    schema_version: Option<String>,
    label: String,
    cfg_id: String,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Engine {
    kind: String,
    tool: String,
    tool_version: String,
    role: String,
    replicas: u32,
    model: Model,
    accelerator: Accelerator,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Model {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Accelerator {
    model: String,
    count: u32,
    parallelism: Parallelism,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Parallelism {
    tp: Option<u32>,
    dp: Option<u32>,
    dp_local: Option<u32>,
    workers: Option<u32>,
    ep: Option<u32>,
    pp: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Native {
    args: Option<serde_json::Map<String, serde_json::Value>>,
    envars: Option<serde_json::Map<String, serde_json::Value>>,
    config: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadSpec {
    metadata: LoadMetadata,
    standardized: LoadStandardized,
    native: Native,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadMetadata {
    schema_version: Option<String>,
    cfg_id: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadStandardized {
    tool: String,
    tool_version: String,
    parallelism: Option<u32>,
    source: String,
    stage: Option<u32>,
    input_seq_len: SeqLen,
    output_seq_len: Option<SeqLen>,
    multi_turn: Option<MultiTurn>,
    rate_qps: Option<f64>,
    /// An integer >= 1 (8.0 is refused by the schema's validator).
    concurrency: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeqLen {
    distribution: String,
    value: f64,
    std_dev: Option<f64>,
    min: Option<u64>,
    max: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MultiTurn {
    enabled: Option<bool>,
    max_turns: Option<SeqLen>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Results {
    request_performance: Option<RequestPerformance>,
    /// Open in the schema (extra keys allowed): checked by hand below.
    observability: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestPerformance {
    aggregate: Option<Aggregate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Aggregate {
    requests: Option<Requests>,
    latency: Option<BTreeMap<String, Statistics>>,
    throughput: Option<BTreeMap<String, Statistics>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Requests {
    total: u64,
    failures: Option<u64>,
    incomplete: Option<u64>,
    input_length: Option<Statistics>,
    output_length: Option<Statistics>,
}

/// The schema's Statistics: `units` and `mean` required, the other keys optional numbers.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Statistics {
    units: String,
    mean: f64,
    mode: Option<f64>,
    stddev: Option<f64>,
    min: Option<f64>,
    p0p1: Option<f64>,
    p1: Option<f64>,
    p5: Option<f64>,
    p10: Option<f64>,
    p25: Option<f64>,
    p50: Option<f64>,
    p75: Option<f64>,
    p90: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
    p99p9: Option<f64>,
    max: Option<f64>,
}

/// The unit groups of each field (`check_units` in the schema).
fn allowed(field: &str) -> &'static [&'static str] {
    match field {
        "time_to_first_token" | "request_latency" => &["ms", "s"],
        "time_per_output_token" | "inter_token_latency" | "normalized_time_per_output_token" => {
            &["ms/token", "s/token"]
        }
        "input_token_rate" | "output_token_rate" | "total_token_rate" => &["tokens/s"],
        "request_rate" => &["queries/s"],
        "input_length" | "output_length" => &["count", "pixels"],
        "gpu_utilization" => &["percent", "fraction"],
        "power_consumption" => &["Watts"],
        _ => &[],
    }
}

/// Parse and check one report; its latency stats for the caller's comparisons.
fn check(v: &serde_json::Value) -> Report {
    let r: Report = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}\n{v:#}"));
    assert!(["0.2", "0.2.1"].contains(&r.version.as_str()));
    let s = r.scenario.as_ref().unwrap();
    for c in s.stack.as_ref().unwrap() {
        assert_eq!(c.standardized.kind, "inference_engine");
        assert!(["replica", "prefill", "decode"].contains(&c.standardized.role.as_str()));
        assert!(c.standardized.replicas >= 1);
    }
    let l = &s.load.as_ref().unwrap().standardized;
    assert!(["random", "sampled", "unknown"].contains(&l.source.as_str()));
    let dists = ["fixed", "gaussian", "uniform", "other"];
    assert!(dists.contains(&l.input_seq_len.distribution.as_str()));
    assert!(l.input_seq_len.value >= 0.0);
    assert!(l.concurrency.is_none_or(|c| c >= 1) && l.rate_qps.is_none_or(|r| r > 0.0));
    let agg = aggregate(&r);
    let req = agg.requests.as_ref().unwrap();
    let mut stats: Vec<(&str, &Statistics)> = Vec::new();
    stats.extend(req.input_length.iter().map(|s| ("input_length", s)));
    stats.extend(req.output_length.iter().map(|s| ("output_length", s)));
    for group in [&agg.latency, &agg.throughput] {
        for (k, s) in group.as_ref().unwrap() {
            assert!(!allowed(k).is_empty(), "{k} is no field of the schema");
            stats.push((k, s));
        }
    }
    for (k, s) in stats {
        assert!(
            allowed(k).contains(&s.units.as_str()),
            "{k}: units {}",
            s.units
        );
        assert!(s.stddev.is_none_or(|d| d >= 0.0), "{k}");
    }
    if let Some(o) = &r.results.observability {
        for c in o["components"].as_array().into_iter().flatten() {
            assert!(c["component_label"].is_string());
            for (k, s) in c["aggregate"].as_object().unwrap() {
                let s: Statistics = serde_json::from_value(s.clone()).unwrap();
                assert!(allowed(k).contains(&s.units.as_str()), "{k}");
            }
        }
    }
    r
}

#[test]
fn the_checker_accepts_the_schema_fixture() {
    check(&serde_json::from_str(FIXTURE).unwrap());
}

/// The report's aggregate request performance.
fn aggregate(r: &Report) -> &Aggregate {
    let perf = r.results.request_performance.as_ref().unwrap();
    perf.aggregate.as_ref().unwrap()
}

fn lat<'a>(r: &'a Report, k: &str) -> &'a Statistics {
    &aggregate(r).latency.as_ref().unwrap()[k]
}

#[test]
fn every_point_becomes_a_valid_report_with_its_figures() {
    let loads = [
        Load::Concurrency { concurrency: 8 },
        Load::Rate {
            rate: 3.5,
            arrival: Arrival::Poisson,
            burstiness: None,
        },
        Load::Batch { batch: 4 },
    ];
    let mut rows: Vec<ResultRow> = loads
        .iter()
        .enumerate()
        .map(|(i, l)| {
            fixtures::row(
                i as u32,
                "vllm",
                "vllm",
                fixtures::point(l.clone(), 1.0),
                Some(fixtures::gpu(60.0, 2.0)),
            )
        })
        .collect();
    rows.push(fixtures::failed_row(
        3,
        "vllm",
        "vllm",
        Load::Concurrency { concurrency: 64 },
        "engine died",
    ));
    rows[0].point.as_mut().unwrap().requests = vec![RequestRecord {
        chunks: vec![(100_000_000, 1), (150_000_000, 1)],
        end_ns: 150_000_000,
        ..Default::default()
    }];
    let job = JobResults {
        job: 4,
        name: "s".into(),
        state: JobState::Done,
        rows: rows.clone(),
    };
    let meta = JobMeta {
        models: [("vllm".to_string(), "Qwen/Qwen2.5-7B-Instruct".to_string())].into(),
        endpoint: None,
    };
    let out = write(&job, &meta);
    let reports = out.as_array().unwrap();
    assert_eq!(reports.len(), 3, "a failed point has no figures to report");
    let mut uids = std::collections::BTreeSet::new();
    for (v, row) in reports.iter().zip(&rows) {
        let r = check(v);
        let p = row.point.as_ref().unwrap();
        assert!(uids.insert(r.run.uid.clone()), "uids are unique per report");
        assert_eq!(
            r.run.eid,
            Some(reports[0]["run"]["eid"].as_str().unwrap().into())
        );
        let ttft = lat(&r, "time_to_first_token");
        assert_eq!(
            (ttft.units.as_str(), ttft.mean, ttft.p99),
            ("ms", p.ttft_ms.mean, Some(p.ttft_ms.p99))
        );
        assert_eq!(lat(&r, "inter_token_latency").p50, Some(p.itl_ms.p50));
        let s = r.scenario.as_ref().unwrap();
        let c = &s.stack.as_ref().unwrap()[0].standardized;
        assert_eq!(c.model.name, "Qwen/Qwen2.5-7B-Instruct");
        assert_eq!(
            (c.accelerator.model.as_str(), c.accelerator.count),
            ("NVIDIA-H200", 1)
        );
        let l = &s.load.as_ref().unwrap().standardized;
        assert_eq!(l.stage, Some(row.index));
        match p.load {
            Load::Concurrency { concurrency } => assert_eq!(l.concurrency, Some(concurrency)),
            Load::Rate { rate, .. } => assert_eq!(l.rate_qps, Some(rate)),
            Load::Batch { batch } => assert_eq!(l.concurrency, Some(batch)),
            Load::Trace { .. } => {}
        }
        let thr = &aggregate(&r).throughput.as_ref().unwrap()["output_token_rate"];
        assert_eq!(thr.mean, p.output_throughput);
    }
    // Raw records: stddev and min, in ms, from them.
    let r = check(&reports[0]);
    assert_eq!(lat(&r, "time_to_first_token").min, Some(100.0));
    let r = check(&reports[1]);
    assert!(lat(&r, "time_to_first_token").stddev.is_none());
}

#[test]
fn uuids_are_version_8_and_stable() {
    let a = uuid("llms job 1");
    assert_eq!(a, uuid("llms job 1"));
    assert_ne!(a, uuid("llms job 2"));
    assert_eq!(a.len(), 36);
    assert_eq!(&a[14..15], "8");
    assert!("89ab".contains(&a[19..20]));
}
