#![allow(clippy::unwrap_used)]
use super::*;
use crate::fixtures::lat;
use llms_shared::{GpuPointStats, Load};

fn point(concurrency: u32, flags: &[&str]) -> PointResult {
    PointResult {
        completed: 10,
        duration_s: 2.5,
        input_tokens: 1000,
        output_tokens: 500,
        output_throughput: 200.0,
        total_throughput: 600.0,
        request_throughput: 4.0,
        goodput: 4.0,
        ttft_ms: lat(12.5, 30.0),
        itl_ms: lat(5.0, 9.0),
        tpot_ms: lat(5.5, 8.0),
        e2e_ms: lat(300.0, 420.0),
        queue_ms: lat(0.1, 0.2),
        output_tokens_requested: Some(50),
        flags: flags.iter().map(|f| (*f).to_owned()).collect(),
        ..PointResult::empty(Load::Concurrency { concurrency })
    }
}

fn gpu() -> PointGpu {
    let g = |index, peak| GpuPointStats {
        index,
        peak_mem_used: Some(peak),
        ..Default::default()
    };
    PointGpu {
        gpus: vec![g(0, 3 << 30), g(1, 5 << 29)],
        tokens_per_joule: Some(1.25),
        samples: 20,
        driver: None,
    }
}

fn results() -> JobResults {
    let row = |index, engine: &str, point, gpu, error: Option<&str>| ResultRow {
        index,
        engine: engine.into(),
        kind: "vllm".into(),
        load: None,
        error: error.map(Into::into),
        point,
        gpu,
        engine_version: None,
        workload: None,
        finished_ms: 0,
        role: None,
        search: None,
    };
    JobResults {
        job: 7,
        name: "sweep".into(),
        state: JobState::Failed,
        rows: vec![
            row(0, "vllm, tp2", Some(point(1, &[])), Some(gpu()), None),
            row(
                1,
                "a|b",
                Some(point(4, &["client_bound", "tokens_estimated"])),
                None,
                None,
            ),
            row(
                2,
                "sg|lang",
                None,
                None,
                Some("engine exited\nlast log line"),
            ),
        ],
    }
}

#[test]
fn json_adds_engine_kind_index_and_gpu() {
    let v = results_json(&results()).unwrap();
    assert_eq!(v["job"], 7);
    assert_eq!(v["name"], "sweep");
    assert_eq!(v["state"], "failed");
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    // The bench shape, untouched, plus the added keys.
    let bench = serde_json::to_value(point(1, &[])).unwrap();
    for (k, val) in bench.as_object().unwrap() {
        assert_eq!(&points[0][k], val, "{k}");
    }
    assert_eq!(points[0]["engine"], "vllm, tp2");
    assert_eq!(points[0]["kind"], "vllm");
    assert_eq!(points[0]["index"], 0);
    assert_eq!(points[0]["load"], serde_json::json!({"concurrency": 1}));
    assert_eq!(points[0]["gpu"]["tokens_per_joule"], 1.25);
    assert!(points[1].get("gpu").is_none());
    let failed = v["failed"].as_array().unwrap();
    assert_eq!(
        failed[0],
        serde_json::json!({"index": 2, "engine": "sg|lang", "kind": "vllm", "load": null, "error": "engine exited\nlast log line"})
    );
}

#[test]
fn csv_header_rows_and_quoting() {
    let csv = results_csv(&results());
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert_eq!(lines[0], CSV_COLUMNS.join(","));
    assert_eq!(
        lines[1],
        "7,0,\"vllm, tp2\",vllm,c=1,10,0,0,2.5,200,600,4,4,12.5,30,30,5,9,5.5,300,420,\
         1.25,3.000,"
    );
    assert!(
        lines[2].ends_with(",,,client_bound;tokens_estimated"),
        "{}",
        lines[2]
    );
    assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
    assert_eq!(csv_field("x\ny"), "\"x\ny\"");
    assert_eq!(csv_field("plain"), "plain");
}

#[test]
fn md_has_one_cell_per_column_and_escapes_pipes() {
    let md = results_md(&results());
    let lines: Vec<&str> = md.lines().collect();
    let cells = |l: &str| l.replace("\\|", "").matches('|').count() - 1;
    for l in &lines[..4] {
        assert_eq!(cells(l), MAIN_COLUMNS.len(), "{l}");
    }
    assert!(
        lines[0].contains("| ttft p50 (ms) |") && lines[0].ends_with("| e2e p50 (ms) | flags |")
    );
    assert!(lines[1].starts_with("| --- |"));
    assert!(
        lines[3]
            .starts_with("| 1 | a\\|b | c=4 | 10 | 0 | 200 | 4.00 | 12.5 | 30.0 | 5.00 | 9.00 |"),
        "{}",
        lines[3]
    );
    assert_eq!(
        lines[5],
        "- point 2 (sg|lang) failed: engine exited last log line"
    );
}

#[test]
fn table_names_the_job_and_lists_failures() {
    let t = results_table(&results());
    assert!(
        t.starts_with("job 7  sweep  failed  (latencies in ms)\n\nPOINT  ENGINE"),
        "{t}"
    );
    assert!(t.contains("point 2 (sg|lang) failed: engine exited\nlast log line\n"));
}

/// The table has ITL p99, `compare`'s significant figures, and goodput when the sweep gave
/// objectives (only then: without them it is every completed request).
#[test]
fn table_has_itl_p99_and_goodput_when_objectives_were_given() {
    let mut r = results();
    let t = results_table(&r);
    let header = t.lines().find(|l| l.starts_with("POINT")).unwrap();
    assert!(header.contains("ITL P50  ITL P99  TPOT P50"), "{header}");
    assert!(!header.contains("GOODPUT"), "{header}");
    assert!(
        t.contains("0      vllm, tp2  c=1   10  0       200        4.00   12.5      30.0      5.00     9.00     5.50      300"),
        "{t}"
    );
    let p = r.rows[0].point.as_mut().unwrap();
    p.slo.ttft = Some(500.0);
    p.goodput = 3.5;
    let t = results_table(&r);
    let header = t.lines().find(|l| l.starts_with("POINT")).unwrap();
    assert!(header.ends_with("E2E P50  GOODPUT  FLAGS"), "{header}");
    assert!(t.contains("  300      3.50\n"), "{t}");
    assert!(
        t.contains("GOODPUT: requests/s that met every objective"),
        "{t}"
    );
    let md = results_md(&r);
    assert!(
        md.contains("| e2e p50 (ms) | goodput (req/s) | flags |"),
        "{md}"
    );
}
