//! Results out and in, with the real binaries: a job run here on the reference engine is
//! written as vLLM's `--save-result` JSON, as llm-d Benchmark Reports and as raw requests;
//! the vLLM file is imported back as a read-only job whose figures match the native job's,
//! and `llms compare` puts the two side by side, the import marked with where it came from.
//! The imported job survives a daemon restart and a `llmsd repair` rebuild from the journal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bin, llms, reference_engine, start_daemon, stdout, temp_dir, wait};
use serde_json::Value;
use std::process::Command;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_job_goes_out_as_vllm_json_and_comes_back_beside_itself() {
    let dir = temp_dir("interop");
    let (_engine, port) = reference_engine("5", "2");
    let mut daemon = start_daemon(&dir, "none");
    let spec = dir.join("native.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"native\"\n[[engine]]\nkind = \"external\"\nname = \"ref\"\n\
             url = \"http://127.0.0.1:{port}\"\nmodel = \"truth\"\n\
             [load]\nconcurrency = [1, 4]\nrequests = 12\noutput_tokens = 8\n"
        ),
    )
    .unwrap();
    let id = json(&stdout(&llms(
        &dir,
        &["submit", spec.to_str().unwrap(), "--json"],
    )))["id"]
        .as_u64()
        .unwrap();
    let j = wait(&dir, id, |j| j["state"] == "done" || j["state"] == "failed");
    assert_eq!(j["state"], "done", "{j}");
    let ids = id.to_string();

    // Out: vLLM's shape, one object per point, with the per-request arrays under --raw.
    let out = stdout(&llms(&dir, &["results", &ids, "--format", "vllm", "--raw"]));
    let runs = json(&out);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let native = json(&stdout(&llms(&dir, &["results", &ids, "--json"])));
    for (run, p) in runs.iter().zip(native["points"].as_array().unwrap()) {
        assert_eq!(run["completed"], p["completed"]);
        assert_eq!(run["total_output_tokens"], p["output_tokens"]);
        assert_eq!(run["output_throughput"], p["output_throughput"]);
        assert_eq!(run["mean_ttft_ms"], p["ttft_ms"]["mean"]);
        assert_eq!(run["p99_itl_ms"], p["itl_ms"]["p99"]);
        assert_eq!(run["max_concurrency"], p["load"]["concurrency"]);
        assert_eq!(run["request_rate"], "inf");
        assert_eq!(run["model_id"], "truth");
        assert_eq!(run["ttfts"].as_array().unwrap().len(), 12);
        // The std is the population one over the TTFTs the same object lists (seconds).
        let t: Vec<f64> = run["ttfts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let mean = t.iter().sum::<f64>() / t.len() as f64;
        let std = (t.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / t.len() as f64).sqrt();
        assert!(
            (run["std_ttft_ms"].as_f64().unwrap() - std * 1e3).abs() < 1e-6,
            "{run}"
        );
    }
    let saved = dir.join("native-vllm.json");
    std::fs::write(&saved, &out).unwrap();

    // Out: llm-d reports, one per point, and the raw requests.
    let reports = json(&stdout(&llms(
        &dir,
        &["results", &ids, "--format", "benchmark-report"],
    )));
    assert_eq!(reports.as_array().unwrap().len(), 2);
    assert_eq!(reports[1]["version"], "0.2");
    assert_eq!(
        reports[1]["scenario"]["load"]["standardized"]["concurrency"],
        4
    );
    let csv = stdout(&llms(&dir, &["results", &ids, "--format", "requests-csv"]));
    assert_eq!(csv.lines().count(), 1 + 24, "{csv}");
    let jsonl = stdout(&llms(
        &dir,
        &["results", &ids, "--format", "requests-jsonl"],
    ));
    assert_eq!(jsonl.lines().count(), 24);

    // In: the vLLM file as a read-only job.
    let imported = json(&stdout(&llms(
        &dir,
        &[
            "import",
            saved.to_str().unwrap(),
            "--name",
            "from vllm json",
            "--json",
        ],
    )))["id"]
        .as_u64()
        .unwrap();
    let back = json(&stdout(&llms(
        &dir,
        &["results", &imported.to_string(), "--json"],
    )));
    for (a, b) in back["points"]
        .as_array()
        .unwrap()
        .iter()
        .zip(native["points"].as_array().unwrap())
    {
        assert_eq!(a["engine"], "ref");
        assert_eq!(a["load"], b["load"]);
        for k in [
            "completed",
            "output_tokens",
            "output_throughput",
            "duration_s",
        ] {
            assert_eq!(a[k], b[k], "{k}");
        }
        for m in ["ttft_ms", "itl_ms", "tpot_ms", "e2e_ms"] {
            for s in ["mean", "p50", "p90", "p95", "p99"] {
                assert_eq!(a[m][s], b[m][s], "{m}.{s}");
            }
        }
    }
    let jobs = stdout(&llms(&dir, &["jobs"]));
    assert!(jobs.contains("done (imported)"), "{jobs}");
    // Read-only: it cannot be cancelled, and it never runs.
    assert_eq!(
        llms(&dir, &["cancel", &imported.to_string()]).status.code(),
        Some(1)
    );

    // Beside the native job in compare, marked as imported with its origin.
    let cmp = stdout(&llms(&dir, &["compare", &ids, &imported.to_string()]));
    assert!(
        cmp.contains("imported from") && cmp.contains("native-vllm.json"),
        "{cmp}"
    );
    assert!(cmp.contains(&format!("job {imported}")), "{cmp}");
    let cmp = json(&stdout(&llms(
        &dir,
        &["compare", &ids, &imported.to_string(), "--json"],
    )));
    let series: Vec<&Value> = cmp["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["job"])
        .collect();
    assert!(series.contains(&&Value::from(id)) && series.contains(&&Value::from(imported)));

    // A vLLM file written by vLLM's shape (not llms): imported too.
    let foreign = dir.join("vllm-run.json");
    std::fs::write(
        &foreign,
        include_str!("../src/interop/testdata/vllm-0.20-save-result.json"),
    )
    .unwrap();
    let other = stdout(&llms(&dir, &["import", foreign.to_str().unwrap()]));
    let other: u64 = other.trim().parse().unwrap();
    let shown = stdout(&llms(&dir, &["show", &other.to_string()]));
    assert!(
        shown.contains("imported from") && shown.contains("vllm bench serve"),
        "{shown}"
    );

    // Bad input: exit 2, the file and the field named; nothing stored.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"completed\": 3, \"mean_ttft_ms\": \"fast\"}").unwrap();
    let o = llms(&dir, &["import", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("bad.json") && e.contains("request_rate"), "{e}");
    let before = json(&stdout(&llms(&dir, &["jobs", "--json"])))
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, 3);

    // The imports survive a restart and a rebuild of the store from its journal.
    drop(daemon);
    let repaired = Command::new(bin("llmsd"))
        .args(["repair", "--state-dir", dir.join("state").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        repaired.status.success(),
        "{}",
        String::from_utf8_lossy(&repaired.stderr)
    );
    daemon = start_daemon(&dir, "none");
    let again = json(&stdout(&llms(
        &dir,
        &["results", &imported.to_string(), "--json"],
    )));
    assert_eq!(again["points"], back["points"]);
    let j = common::job(&dir, imported);
    assert!(
        j["imported"].as_str().unwrap().contains("native-vllm.json"),
        "{j}"
    );
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
}
