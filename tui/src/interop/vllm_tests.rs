#![allow(clippy::unwrap_used)]
use super::*;
use crate::fixtures;
use llms_shared::{JobState, RequestError};

/// A `vllm bench serve --save-result --save-detailed --percentile-metrics ttft,tpot,itl,e2el
/// --metric-percentiles 90,99` file of vLLM 0.20's shape, written from its source (see
/// testdata/README.md): 4 prompts, `--max-concurrency 2`.
const FIXTURE: &str = include_str!("testdata/vllm-0.20-save-result.json");

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).unwrap()
}

fn job(rows: Vec<ResultRow>) -> JobResults {
    JobResults {
        job: 9,
        name: "sweep".into(),
        state: JobState::Done,
        rows,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[test]
fn a_vllm_result_reads_as_one_point() {
    let rows = read(FIXTURE).unwrap();
    assert_eq!(rows.len(), 1);
    let (r, f) = (&rows[0], fixture());
    let p = r.point.as_ref().unwrap();
    assert_eq!(p.load, Load::Concurrency { concurrency: 2 });
    assert_eq!(p.completed, 4);
    assert_eq!(p.output_tokens, f["total_output_tokens"].as_u64().unwrap());
    assert_eq!(
        p.output_throughput,
        f["output_throughput"].as_f64().unwrap()
    );
    assert_eq!(p.ttft_ms.mean, f["mean_ttft_ms"].as_f64().unwrap());
    assert_eq!(p.ttft_ms.p50, f["median_ttft_ms"].as_f64().unwrap());
    assert_eq!(p.itl_ms.p99, f["p99_itl_ms"].as_f64().unwrap());
    assert_eq!(p.e2e_ms.p90, f["p90_e2el_ms"].as_f64().unwrap());
    // The gaps counted from the per-request arrays; TPOT over requests of 2+ tokens.
    let gaps: usize = f["itls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_array().unwrap().len())
        .sum();
    assert_eq!(p.itl_ms.count, gaps as u64);
    // It was run without p95: said, not invented.
    assert_eq!(p.ttft_ms.p95, 0.0);
    assert!(p.flagged("percentiles_missing"));
    assert_eq!(vllm_date(r.finished_ms), f["date"].as_str().unwrap());
    assert!(!p.flagged("e2e_missing"));
    // A default run (no e2el keys): E2E is said to be missing, not read as 0 ms.
    let mut bare = fixture();
    bare.as_object_mut()
        .unwrap()
        .retain(|k, _| !k.ends_with("_e2el_ms"));
    let rows = read(&bare.to_string()).unwrap();
    let p = rows[0].point.as_ref().unwrap();
    assert!(p.flagged("e2e_missing"), "{:?}", p.flags);
    // Written out again, it still has none: no 0 ms for vLLM or llm-d to read as measured.
    let meta = JobMeta {
        models: Default::default(),
        endpoint: None,
    };
    let out = write(&job(rows.clone()), &meta);
    let keys: Vec<&String> = out[0].as_object().unwrap().keys().collect();
    assert!(!keys.iter().any(|k| k.ends_with("_e2el_ms")), "{keys:?}");
    assert!(keys.iter().any(|k| k.ends_with("_ttft_ms")), "{keys:?}");
    let back = read(&out.to_string()).unwrap();
    // Flagged once, as it was: not again for the keys the flag itself left out.
    assert_eq!(back[0].point.as_ref().unwrap().flags, p.flags);
    let llmd = super::super::llmd::write(&job(rows), &meta);
    let latency = &llmd[0]["results"]["request_performance"]["aggregate"]["latency"];
    assert!(latency.get("request_latency").is_none(), "{latency}");
    assert!(latency.get("time_to_first_token").is_some(), "{latency}");
}

#[test]
fn a_vllm_result_round_trips_in_vllms_own_shape() {
    let f = fixture();
    let rows = read(FIXTURE).unwrap();
    let meta = JobMeta {
        models: [(
            rows[0].engine.clone(),
            f["model_id"].as_str().unwrap().to_owned(),
        )]
        .into(),
        endpoint: None,
    };
    let out = write(&job(rows), &meta);
    let o = out[0].as_object().unwrap();
    let ours = |k: &str| k.starts_with("llms_") || k.starts_with("p95_");
    for (k, v) in o {
        if ours(k) {
            continue;
        }
        let theirs = f.get(k).unwrap_or_else(|| panic!("vLLM writes no key {k}"));
        // request_goodput is null in both (no --goodput), label differs in kind only when
        // vLLM had none.
        if k != "label" {
            assert_eq!(kind(v), kind(theirs), "{k}: {v} vs {theirs}");
        }
    }
    for k in [
        "completed",
        "failed",
        "num_prompts",
        "total_input_tokens",
        "total_output_tokens",
        "duration",
        "request_throughput",
        "output_throughput",
        "total_token_throughput",
        "max_concurrency",
        "request_rate",
        "burstiness",
        "model_id",
        "date",
    ] {
        assert_eq!(o[k], f[k], "{k}");
    }
    for m in METRICS {
        for s in ["mean", "median", "p90", "p99"] {
            let k = format!("{s}_{m}_ms");
            assert_eq!(o[&k], f[&k], "{k}");
        }
    }
}

fn record(start_ms: u64, chunks: &[(u64, u32)], end_ms: u64) -> RequestRecord {
    RequestRecord {
        start_ns: start_ms * 1_000_000,
        chunks: chunks.iter().map(|(ms, n)| (ms * 1_000_000, *n)).collect(),
        end_ns: end_ms * 1_000_000,
        ..Default::default()
    }
}

#[test]
fn raw_records_give_stds_and_the_detailed_arrays() {
    let mut p = fixtures::point(Load::Concurrency { concurrency: 2 }, 1.0);
    p.requests = vec![
        record(0, &[(100, 1), (150, 1), (250, 1)], 250),
        record(10, &[(300, 1), (350, 1)], 400),
        RequestRecord {
            error: Some(RequestError {
                kind: "http_500".into(),
                message: "HTTP 500".into(),
            }),
            ..record(20, &[], 30)
        },
    ];
    let out = write(
        &job(vec![fixtures::row(0, "vllm", "vllm", p, None)]),
        &JobMeta::default(),
    );
    let o = &out[0];
    assert_eq!(o["ttfts"], json!([0.1, 0.3, 0.0]));
    assert_eq!(o["itls"], json!([[0.05, 0.1], [0.05], []]));
    assert_eq!(o["output_lens"], json!([3, 2, 0]));
    assert_eq!(o["errors"], json!(["", "", "HTTP 500"]));
    assert_eq!(o["start_times"], json!([0.0, 0.01, 0.02]));
    // Population std of TTFTs 100 and 300 ms.
    assert!((o["std_ttft_ms"].as_f64().unwrap() - 100.0).abs() < 1e-9);
    // vLLM's peaks: chunks (not tokens) by whole second of arrival, all 5 in the first; the
    // two successful requests both cover that second.
    assert_eq!(o["max_output_tokens_per_s"], json!(5.0));
    assert_eq!(o["max_concurrent_requests"], json!(2));
    assert_eq!(o["request_rate"], json!("inf"));
    assert_eq!(o["max_concurrency"], json!(2));
    assert_eq!(o["llms_load"], json!("concurrency 2"));
    // Without records: no std and no arrays, rather than zeros.
    let bare = write(
        &job(vec![fixtures::row(
            0,
            "vllm",
            "vllm",
            fixtures::point(
                Load::Rate {
                    rate: 4.0,
                    arrival: Arrival::Poisson,
                    burstiness: None,
                },
                1.0,
            ),
            None,
        )]),
        &JobMeta::default(),
    );
    assert!(bare[0].get("std_ttft_ms").is_none() && bare[0].get("ttfts").is_none());
    assert!(bare[0].get("max_concurrent_requests").is_none());
    assert_eq!(bare[0]["request_rate"], json!(4.0));
    assert_eq!(bare[0]["max_concurrency"], Value::Null);
}

#[test]
fn loads_read_back_as_written() {
    for load in [
        Load::Concurrency { concurrency: 8 },
        Load::Batch { batch: 16 },
        Load::Rate {
            rate: 2.5,
            arrival: Arrival::Poisson,
            burstiness: None,
        },
        Load::Rate {
            rate: 2.5,
            arrival: Arrival::Gamma,
            burstiness: Some(0.5),
        },
    ] {
        let p = fixtures::point(load.clone(), 1.0);
        let out = write(
            &job(vec![fixtures::row(0, "e", "vllm", p, None)]),
            &JobMeta::default(),
        );
        let back = read(&out.to_string()).unwrap();
        assert_eq!(back[0].load.as_ref(), Some(&load));
        assert_eq!(back[0].engine, "e");
        assert_eq!(back[0].kind, "vllm");
    }
}

#[test]
fn appended_runs_and_bad_files() {
    let two = format!(
        "{}\n{}",
        FIXTURE,
        FIXTURE.replace("\"max_concurrency\": 2", "\"max_concurrency\": 4")
    );
    let rows = read(&two).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].index, 1);
    let e = read(&FIXTURE.replace("\"completed\"", "\"done\"")).unwrap_err();
    assert!(e.contains("run 1") && e.contains("completed"), "{e}");
    let e = read(&FIXTURE.replace("\"request_rate\": \"inf\"", "\"request_rate\": \"fast\""))
        .unwrap_err();
    assert!(e.contains("request_rate"), "{e}");
    let e = read(&FIXTURE.replace("\"duration\": ", "\"duration\": -")).unwrap_err();
    assert!(e.contains("duration"), "{e}");
    assert!(read("[]").unwrap_err().contains("no runs"));
    assert!(read("{").unwrap_err().contains("not JSON"));
}
