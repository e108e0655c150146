//! The walk-through with the real binaries: start `llmsd`, submit the smoke sweep
//! with `llms submit`, follow it with `llms jobs`, kill -9 and restart the daemon mid-sweep,
//! and read the results as JSON, CSV and Markdown. The engine is `llmsd reference-engine`
//! serving model "truth", as the smoke sweep expects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{llms, reference_engine, start_daemon, stdout, temp_dir, wait};

#[test]
fn smoke_sweep_through_the_cli_survives_kill_9() {
    let dir = temp_dir("cli");
    let (_engine, port) = reference_engine("10", "10");
    let mut daemon = start_daemon(&dir, "none");
    // The smoke sweep, with more requests per point so a kill lands mid-sweep.
    let spec = dir.join("smoke.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"smoke\"\n[[engine]]\nkind = \"external\"\nurl = \"http://127.0.0.1:{port}\"\nmodel = \"truth\"\n[load]\nconcurrency = [1, 2, 4]\nrequests = 8\noutput_tokens = 16\n"
        ),
    )
    .unwrap();
    let out = stdout(&llms(&dir, &["submit", spec.to_str().unwrap(), "--json"]));
    let id = serde_json::from_str::<serde_json::Value>(&out).unwrap()["id"]
        .as_u64()
        .unwrap();
    wait(&dir, id, |j| j["points_done"].as_u64() >= Some(1));
    daemon.0.kill().unwrap();
    daemon.0.wait().unwrap();
    daemon = start_daemon(&dir, "none");
    let j = wait(&dir, id, |j| j["state"] == "done" || j["state"] == "failed");
    assert_eq!(j["state"], "done", "{j}");
    assert_eq!(
        (j["points_done"].as_u64(), j["points_total"].as_u64()),
        (Some(3), Some(3))
    );

    let table = stdout(&llms(&dir, &["jobs"]));
    assert!(table.contains("smoke") && table.contains("done"), "{table}");

    let res: serde_json::Value = serde_json::from_str(&stdout(&llms(
        &dir,
        &["results", &id.to_string(), "--json"],
    )))
    .unwrap();
    let points = res["points"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    for (p, c) in points.iter().zip([1, 2, 4]) {
        assert_eq!(p["engine"], "external");
        // The engine's own version, as it reported it (the reference engine's /version).
        assert!(
            p["engine_version"].as_str().unwrap().starts_with("llmsd "),
            "{p}"
        );
        assert_eq!(p["load"]["concurrency"], c);
        assert_eq!(p["completed"], 8);
        assert_eq!(p["output_tokens"], 128);
        assert!(p["ttft_ms"]["p50"].as_f64().unwrap() > 0.0);
    }
    let csv = stdout(&llms(&dir, &["results", &id.to_string(), "--csv"]));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("job,index,engine,kind,load,"));
    assert!(lines[3].contains(",c=4,"), "{csv}");
    let md = stdout(&llms(&dir, &["results", &id.to_string(), "--md"]));
    assert!(
        md.lines().filter(|l| l.starts_with('|')).count() >= 5,
        "{md}"
    );

    // The comparison and the report of the same job.
    let cmp = stdout(&llms(&dir, &["compare", &id.to_string(), "--md"]));
    assert!(
        cmp.contains("external") && cmp.contains("concurrency"),
        "{cmp}"
    );
    let report = dir.join("report");
    let files = stdout(&llms(
        &dir,
        &["report", &id.to_string(), "--out", report.to_str().unwrap()],
    ));
    for f in [
        "report.md",
        "throughput.svg",
        "throughput.png",
        "ttft_p99.svg",
    ] {
        assert!(report.join(f).is_file(), "{f} missing; wrote:\n{files}");
    }
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("![") && md.contains("smoke"), "{md}");

    // A refused sweep: exit 2, one line naming the file once and the field.
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"x\"\n[[engine]]\nkind = \"external\"\nurl = \"http://127.0.0.1:1\"\n[load]\nrequests = \"a\"\nconcurrency = [1]\n",
    )
    .unwrap();
    let o = llms(&dir, &["submit", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    let name = bad.display().to_string();
    assert_eq!(e.matches(&name).count(), 1, "{e}");
    assert!(
        e.starts_with(&format!("llms: {name}: line 6, load.requests: ")),
        "{e}"
    );

    let show = stdout(&llms(&dir, &["show", &id.to_string()]));
    assert!(show.contains("smoke"), "{show}");
    // A finished job cannot be cancelled; an unknown one is not found.
    assert_eq!(
        llms(&dir, &["cancel", &id.to_string()]).status.code(),
        Some(1)
    );
    assert_eq!(llms(&dir, &["results", "99"]).status.code(), Some(2));
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
}
