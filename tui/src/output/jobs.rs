//! `llms jobs` and `llms show`.

use super::{load_label, table, utc_time};
use llms_shared::{JobDetail, JobSummary, SearchRole};
use serde_json::{Value, json};

/// `DONE/TOTAL`, with the failed count when some failed.
fn progress(s: &JobSummary) -> String {
    match s.points_failed {
        0 => format!("{}/{}", s.points_done, s.points_total),
        f => format!("{}/{} ({f} failed)", s.points_done, s.points_total),
    }
}

/// The job list as a table: ID NAME STATE DONE/TOTAL SUBMITTED (UTC).
pub fn jobs_table(jobs: &[JobSummary]) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.id.to_string(),
                j.name.clone(),
                j.state.as_str().to_owned(),
                progress(j),
                utc_time(j.submitted_ms),
            ]
        })
        .collect();
    let mut out = table(
        &["ID", "NAME", "STATE", "DONE/TOTAL", "SUBMITTED (UTC)"],
        &rows,
    );
    // Why a job that is not over waits (a store that cannot be written, say).
    for j in jobs.iter().filter(|j| !j.state.is_final()) {
        if let Some(e) = &j.error {
            out.push_str(&format!("job {}: {e}\n", j.id));
        }
    }
    out
}

/// One job as JSON: `{"id", "name", "state", "points_done", "points_total",
/// "points_failed", "error", "submitted_ms", "started_ms", "finished_ms"}` (absent values
/// are `null`).
pub fn job_json(j: &JobSummary) -> Value {
    json!({
        "id": j.id,
        "name": j.name,
        "state": j.state.as_str(),
        "points_done": j.points_done,
        "points_total": j.points_total,
        "points_failed": j.points_failed,
        "error": j.error,
        "submitted_ms": j.submitted_ms,
        "started_ms": j.started_ms,
        "finished_ms": j.finished_ms,
    })
}

/// The job list as a JSON array of [`job_json`] objects.
pub fn jobs_json(jobs: &[JobSummary]) -> Value {
    Value::Array(jobs.iter().map(job_json).collect())
}

/// One job for people: a summary line, times, the error, then the plan with finished
/// points marked `done`.
pub fn show_text(d: &JobDetail) -> String {
    let s = &d.summary;
    let mut out = format!(
        "job {}  {}  {}  {}\n",
        s.id,
        s.name,
        s.state.as_str(),
        progress(s)
    );
    out.push_str(&format!("submitted {} UTC", utc_time(s.submitted_ms)));
    if let Some(t) = s.started_ms {
        out.push_str(&format!(", started {}", utc_time(t)));
    }
    if let Some(t) = s.finished_ms {
        out.push_str(&format!(", finished {}", utc_time(t)));
    }
    out.push('\n');
    if let Some(e) = &s.error {
        out.push_str(&format!("error: {e}\n"));
    }
    for w in &d.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out.push('\n');
    // Capacity searches: each point's part in its engine's search.
    let searched = d.plan.iter().any(|p| p.role.is_some());
    let rows: Vec<Vec<String>> = d
        .plan
        .iter()
        .map(|p| {
            let done = if d.finished.contains(&p.index) {
                "done"
            } else {
                ""
            };
            let mut row = vec![p.index.to_string(), p.engine.clone(), load_label(&p.load)];
            if searched {
                row.push(role_label(p.role).into());
            }
            row.push(done.into());
            row
        })
        .collect();
    let headers: &[&str] = if searched {
        &["POINT", "ENGINE", "LOAD", "ROLE", "STATUS"]
    } else {
        &["POINT", "ENGINE", "LOAD", "STATUS"]
    };
    out.push_str(&table(headers, &rows));
    out
}

/// A point's part in a capacity search: `probe`, `confirm`, or empty.
fn role_label(role: Option<SearchRole>) -> &'static str {
    match role {
        Some(SearchRole::Probe) => "probe",
        Some(SearchRole::Confirm) => "confirm",
        None => "",
    }
}

/// One job as JSON: [`job_json`] plus `"spec"` (the TOML) and `"plan"`, an array of
/// `{"index", "engine", "load", "role", "finished"}` with `load` in `llmsd bench --json`
/// shape and `role` `"probe"` or `"confirm"` for a capacity search's points (else `null`).
pub fn show_json(d: &JobDetail) -> Value {
    let mut v = job_json(&d.summary);
    let plan: Vec<Value> = d
        .plan
        .iter()
        .map(|p| {
            json!({
                "index": p.index,
                "engine": p.engine,
                "load": p.load,
                "role": p.role,
                "finished": d.finished.contains(&p.index),
            })
        })
        .collect();
    if let Value::Object(m) = &mut v {
        m.insert("spec".into(), Value::String(d.spec.clone()));
        m.insert("plan".into(), Value::Array(plan));
        m.insert("warnings".into(), json!(d.warnings));
    }
    v
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use llms_shared::{JobState, Load, PointPlan};

    fn summary() -> JobSummary {
        JobSummary {
            id: 7,
            name: "sweep".into(),
            state: JobState::Failed,
            points_done: 2,
            points_total: 3,
            order: 0,
            points_failed: 1,
            submitted_ms: 0,
            started_ms: Some(60_000),
            finished_ms: None,
            error: Some("engine vllm never got ready".into()),
        }
    }

    fn detail() -> JobDetail {
        let point = |index, concurrency| PointPlan {
            index,
            engine: "vllm".into(),
            load: Load::Concurrency { concurrency },
            role: None,
        };
        JobDetail {
            summary: summary(),
            spec: "name = \"sweep\"\n".into(),
            plan: vec![point(0, 1), point(1, 4), point(2, 8)],
            finished: vec![0, 1],
            warnings: vec!["engine vllm: 1 of 4 warm-up requests failed".into()],
        }
    }

    #[test]
    fn jobs_table_and_json() {
        let t = jobs_table(&[summary()]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "ID  NAME   STATE   DONE/TOTAL      SUBMITTED (UTC)"
        );
        assert_eq!(
            lines[1],
            "7   sweep  failed  2/3 (1 failed)  1970-01-01 00:00:00"
        );
        let v = jobs_json(&[summary()]);
        let keys: Vec<&String> = v[0].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 10);
        assert_eq!(v[0]["state"], "failed");
        assert_eq!(v[0]["finished_ms"], Value::Null);
        assert_eq!(v[0]["error"], "engine vllm never got ready");
    }

    #[test]
    fn show_marks_finished_points() {
        let t = show_text(&detail());
        assert!(t.starts_with("job 7  sweep  failed  2/3 (1 failed)\n"));
        assert!(t.contains("error: engine vllm never got ready\n"));
        assert!(t.contains("warning: engine vllm: 1 of 4 warm-up requests failed\n"));
        assert!(t.contains("1      vllm    concurrency=4  done\n"), "{t}");
        assert!(t.ends_with("2      vllm    concurrency=8\n"), "{t}");
        let v = show_json(&detail());
        assert_eq!(v["plan"][1]["load"], json!({"concurrency": 4}));
        assert_eq!(v["plan"][2]["finished"], false);
        assert_eq!(v["spec"], "name = \"sweep\"\n");
        assert_eq!(
            v["warnings"][0],
            "engine vllm: 1 of 4 warm-up requests failed"
        );
        assert_eq!(v["plan"][0]["role"], Value::Null);
        assert!(!t.contains("ROLE"), "no search, no role column: {t}");
    }

    #[test]
    fn show_names_each_search_points_role() {
        let mut d = detail();
        d.plan[0].role = Some(SearchRole::Probe);
        d.plan[1].role = Some(SearchRole::Probe);
        d.plan[2].role = Some(SearchRole::Confirm);
        let t = show_text(&d);
        assert!(
            t.contains("POINT  ENGINE  LOAD           ROLE     STATUS\n"),
            "{t}"
        );
        assert!(
            t.contains("1      vllm    concurrency=4  probe    done\n"),
            "{t}"
        );
        assert!(
            t.ends_with("2      vllm    concurrency=8  confirm\n"),
            "{t}"
        );
        let v = show_json(&d);
        assert_eq!(v["plan"][0]["role"], "probe");
        assert_eq!(v["plan"][2]["role"], "confirm");
    }
}
