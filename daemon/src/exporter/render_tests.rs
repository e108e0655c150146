use super::*;
use crate::loadgen::metrics::samples;
use llms_shared::{EngineMetrics, Load};

fn job(id: u64, state: JobState) -> JobSummary {
    JobSummary {
        id,
        name: format!("sweep {id}"),
        state,
        points_done: 3,
        points_total: 8,
        order: id,
        points_failed: 1,
        submitted_ms: 0,
        started_ms: None,
        finished_ms: None,
        error: None,
        imported: None,
    }
}

fn snapshot() -> Snapshot {
    let engine = EngineInfo {
        id: 7,
        name: "vllm-a".into(),
        kind: "vllm".into(),
        job: Some(2),
        state: EngineState::Ready,
        url: "http://127.0.0.1:1".into(),
        pid: Some(100),
        pids: vec![100, 101],
        argv: vec![],
        log_path: None,
        started_ms: 10_000,
        metrics: Some(EngineMetrics {
            unix_ms: 1,
            running: Some(4.0),
            waiting: Some(2.0),
            kv_cache_usage: Some(0.25),
            prompt_tokens_total: Some(1000.0),
            generation_tokens_total: Some(5000.0),
        }),
        version: None,
        ready_timeout_s: None,
        stage: None,
    };
    let earlier = EngineInfo {
        id: 3,
        state: EngineState::Stopped,
        pids: vec![],
        pid: Some(50),
        ..engine.clone()
    };
    Snapshot {
        jobs: vec![
            job(1, JobState::Done),
            job(2, JobState::Running),
            job(3, JobState::Queued),
        ],
        live: vec![LivePoint {
            job: 2,
            index: 3,
            engine: "vllm-a".into(),
            load: Some(Load::Concurrency { concurrency: 8 }),
            elapsed_s: 12.5,
            requests_done: 40,
            requests_total: Some(100),
            failed: 2,
            in_flight: 8,
            output_tokens: 5120,
            tokens_per_s: 410.0,
            ttft_ms: Some((120.0, 480.0)),
            itl_ms: Some((20.0, 45.0)),
            prompt_tokens: 9000,
            cached_tokens: None,
        }],
        engines: vec![earlier, engine],
        gpus: vec![GpuSample {
            unix_ms: 1,
            index: 0,
            name: "NVIDIA H100 80GB HBM3".into(),
            util_pct: Some(87),
            mem_used: Some(60 << 30),
            mem_total: Some(80 << 30),
            power_mw: Some(512_000),
            power_limit_mw: Some(700_000),
            energy_mj: Some(1_234_567),
            temp_c: Some(67),
            sm_clock_mhz: Some(1980),
            processes: vec![(101, 50 << 30), (999, 1 << 30)],
        }],
        own: Own {
            rss_bytes: Some(64 << 20),
            store_bytes: Some(1 << 20),
            start_unix_s: 1.7e9,
            now_ms: 70_000,
            calls: vec![("watch", 12), ("jobs", 0)],
        },
    }
}

/// The value of the one sample of `name` whose labels include all of `want`.
fn value(text: &str, name: &str, want: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = samples(text)
        .filter(|s| s.name == name && want.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .map(|s| s.value)
        .collect();
    assert_eq!(found.len(), 1, "{name} {want:?} in\n{text}");
    found[0]
}

#[test]
fn every_figure_in_base_units_with_its_labels() {
    let t = render(&snapshot());
    assert_eq!(value(&t, "llmsd_jobs", &[("state", "running")]), 1.0);
    assert_eq!(value(&t, "llmsd_jobs", &[("state", "cancelled")]), 0.0);
    // Final jobs have no progress series; unfinished ones do.
    assert!(!t.contains("llmsd_job_points_done{job_id=\"1\""));
    assert_eq!(
        value(&t, "llmsd_job_points_planned", &[("job_id", "3")]),
        8.0
    );
    let p = [("job_id", "2"), ("point", "3"), ("load", "concurrency 8")];
    assert_eq!(value(&t, "llmsd_point_requests_completed_total", &p), 40.0);
    assert_eq!(value(&t, "llmsd_point_requests_failed_total", &p), 2.0);
    assert_eq!(value(&t, "llmsd_point_output_tokens_total", &p), 5120.0);
    let p99 = [("job_id", "2"), ("quantile", "0.99")];
    assert_eq!(value(&t, "llmsd_point_ttft_seconds", &p99), 0.48);
    assert_eq!(value(&t, "llmsd_point_itl_seconds", &p99), 0.045);
    // No cached-token figure where the engine reports none.
    assert!(!t.contains("llmsd_point_cached_prompt_tokens_total{"));
    let e = [("engine_id", "7")];
    assert_eq!(
        value(
            &t,
            "llmsd_engine_state",
            &[("engine_id", "7"), ("state", "ready")]
        ),
        1.0
    );
    assert_eq!(value(&t, "llmsd_engine_uptime_seconds", &e), 60.0);
    assert_eq!(value(&t, "llmsd_engine_kv_cache_usage_ratio", &e), 0.25);
    assert_eq!(
        value(&t, "llmsd_engine_generation_tokens_total", &e),
        5000.0
    );
    // The stopped engine of the same job and name counts as one restart; it has no gauges.
    assert_eq!(value(&t, "llmsd_engine_restarts", &[("job_id", "2")]), 1.0);
    assert!(!t.contains("llmsd_engine_uptime_seconds{engine_id=\"3\""));
    let g = [("gpu", "0"), ("engine", "vllm-a")];
    assert_eq!(value(&t, "llmsd_gpu_utilization_ratio", &g), 0.87);
    assert_eq!(value(&t, "llmsd_gpu_power_watts", &g), 512.0);
    assert_eq!(
        value(&t, "llmsd_gpu_energy_joules_total", &[("gpu", "0")]),
        1234.567
    );
    assert_eq!(value(&t, "llmsd_gpu_sm_clock_hertz", &g), 1.98e9);
    assert_eq!(
        value(&t, "llmsd_gpu_engine_memory_bytes", &[("engine_id", "7")]),
        (50u64 << 30) as f64
    );
    assert_eq!(
        value(&t, "llmsd_api_calls_total", &[("method", "watch")]),
        12.0
    );
    assert_eq!(value(&t, "llmsd_build_info", &[]), 1.0);
}

#[test]
fn names_follow_the_conventions() {
    let t = render(&snapshot());
    for line in t.lines().filter(|l| l.starts_with("# TYPE ")) {
        let mut w = line.split_whitespace().skip(2);
        let (name, kind) = (w.next().unwrap(), w.next().unwrap());
        assert!(name.starts_with("llmsd_"), "{line}");
        assert_eq!(name.ends_with("_total"), kind == "counter", "{line}");
    }
    for s in samples(&t) {
        assert!(s.value.is_finite(), "{s:?}");
        // Prometheus puts its own `job` and `instance` on every series it scrapes.
        assert!(
            s.label("job").is_none() && s.label("instance").is_none(),
            "{s:?}"
        );
    }
    // An idle daemon says its queue is empty rather than nothing.
    let empty = render(&Snapshot::default());
    assert_eq!(value(&empty, "llmsd_jobs", &[("state", "queued")]), 0.0);
}

/// Every metric a query of a Grafana dashboard names, with the label keys its selector uses
/// (`instance` aside: Prometheus adds it).
fn selectors(expr: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("llmsd_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = tail[..end].to_owned();
        let mut keys = Vec::new();
        if let Some(body) = tail[end..].strip_prefix('{') {
            let body = &body[..body.find('}').unwrap_or(body.len())];
            for part in body.split(',') {
                let key = part.split(['=', '!']).next().unwrap_or("").trim();
                if !key.is_empty() && key != "instance" {
                    keys.push(key.to_owned());
                }
            }
        }
        out.push((name, keys));
        rest = &tail[end..];
    }
    out
}

fn panels(v: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    for p in v["panels"].as_array().into_iter().flatten() {
        out.push(p.clone());
        panels(p, out);
    }
}

#[test]
fn the_grafana_dashboard_queries_only_what_llmsd_exports() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/grafana/llmsd.json");
    let board: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let text = render(&snapshot());
    // Each family the exporter writes, with every label key its samples carry.
    let mut families: std::collections::BTreeMap<&str, std::collections::BTreeSet<&str>> =
        Default::default();
    for s in samples(&text) {
        families
            .entry(s.name)
            .or_default()
            .extend(s.labels.iter().map(|(k, _)| *k));
    }
    // Importable: one Prometheus data source asked for, and a stable uid.
    assert_eq!(board["__inputs"][0]["name"], "DS_PROMETHEUS");
    assert_eq!(board["__inputs"][0]["pluginId"], "prometheus");
    assert_eq!(board["uid"], "llmsd-overview");
    let mut all = Vec::new();
    panels(&board, &mut all);
    let mut ids = std::collections::BTreeSet::new();
    let mut exprs: Vec<String> = Vec::new();
    for p in &all {
        let title = p["title"].as_str().unwrap_or("?");
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "{title}: id used twice"
        );
        let g = &p["gridPos"];
        let (x, w) = (g["x"].as_u64().unwrap(), g["w"].as_u64().unwrap());
        assert!(
            x + w <= 24 && g["h"].as_u64().unwrap() > 0,
            "{title}: off the grid"
        );
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${DS_PROMETHEUS}", "{title}");
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets {
            assert!(t["refId"].is_string(), "{title}");
            exprs.push(t["expr"].as_str().unwrap().to_owned());
        }
    }
    for v in board["templating"]["list"].as_array().unwrap() {
        exprs.push(v["definition"].as_str().unwrap_or("").to_owned());
    }
    let mut used = std::collections::BTreeSet::new();
    for e in &exprs {
        for (name, keys) in selectors(e) {
            let labels = families
                .get(name.as_str())
                .unwrap_or_else(|| panic!("{e}: llmsd exports no {name}"));
            for k in keys {
                assert!(labels.contains(k.as_str()), "{e}: {name} has no label {k}");
            }
            used.insert(name);
        }
    }
    // The board shows the queue, the point, the engines, the GPUs and llmsd.
    for must in [
        "llmsd_jobs",
        "llmsd_point_output_tokens_per_second",
        "llmsd_point_ttft_seconds",
        "llmsd_engine_state",
        "llmsd_gpu_utilization_ratio",
        "llmsd_process_resident_memory_bytes",
    ] {
        assert!(used.contains(must), "the dashboard never shows {must}");
    }
}
