//! `llms jobs` and `llms show`.

use super::{load_label, table, utc_time};
use llms_shared::{JobDetail, JobSummary, ResultRow, SearchRole};
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
                match j.imported {
                    Some(_) => format!("{} (imported)", j.state.as_str()),
                    None => j.state.as_str().to_owned(),
                },
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
/// "points_failed", "error", "submitted_ms", "started_ms", "finished_ms", "imported"}`
/// (absent values are `null`; `imported` says where an imported job's results came from).
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
        "imported": j.imported,
    })
}

/// The job list as a JSON array of [`job_json`] objects.
pub fn jobs_json(jobs: &[JobSummary]) -> Value {
    Value::Array(jobs.iter().map(job_json).collect())
}

/// What `llms show` knows of a job's points beyond its plan: the finished points' rows (a
/// failure's reason, a point's flags) and the point running now.
#[derive(Debug, Clone, Copy, Default)]
pub struct PointsNow<'a> {
    /// The job's finished points, as `results` gives them.
    pub rows: &'a [ResultRow],
    /// The index of the point running now, if one of this job's is.
    pub running: Option<u32>,
}

/// Where a point stands: one reading for `llms show` and the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointState {
    /// Finished with figures and no flag.
    Done,
    /// Finished with figures, flagged or with failed requests.
    Flagged,
    /// Finished without figures.
    Failed,
    /// Running now.
    Running,
    /// Not run yet.
    Pending,
    /// The job ended before it ran.
    NotRun,
}

impl PointState {
    /// As the dashboard's list writes it.
    pub fn word(self) -> &'static str {
        match self {
            PointState::Done => "done",
            PointState::Flagged => "flagged",
            PointState::Failed => "FAILED",
            PointState::Running => "running",
            PointState::Pending => "pending",
            PointState::NotRun => "not run",
        }
    }
}

/// A finished point's state from its row: failed when it has no figures or an error,
/// flagged when it has flags or failed requests, else done.
pub fn row_state(row: &ResultRow) -> PointState {
    match &row.point {
        None => PointState::Failed,
        Some(_) if row.error.is_some() => PointState::Failed,
        Some(p) if !p.flags.is_empty() || p.failed > 0 => PointState::Flagged,
        Some(_) => PointState::Done,
    }
}

/// How many of `rows` failed, as [`row_state`] reads them.
pub fn failed_count(rows: &[ResultRow]) -> usize {
    rows.iter()
        .filter(|r| row_state(r) == PointState::Failed)
        .count()
}

/// What to say beside a finished point's state: a failure's reason, else its flags and
/// failed requests.
pub fn row_note(row: &ResultRow) -> String {
    if let Some(e) = &row.error {
        return e.clone();
    }
    let Some(p) = &row.point else {
        return String::new();
    };
    let mut parts = p.flags.clone();
    if p.failed > 0 {
        parts.push(format!("{} failed requests", p.failed));
    }
    parts.join(", ")
}

/// Where planned point `index` of `d` stands, and its row: the row's reading ([`row_state`])
/// once it has one, else done (finished, its row not here), running, not run (the job
/// `ended` first) or pending. One reading for `llms show` and the dashboard (which knows
/// whether the job ended from its fresher job list).
pub fn point_state<'a>(
    d: &JobDetail,
    now: PointsNow<'a>,
    ended: bool,
    index: u32,
) -> (PointState, Option<&'a ResultRow>) {
    let row = now.rows.iter().find(|r| r.index == index);
    let state = match row {
        Some(r) => row_state(r),
        None if d.finished.contains(&index) => PointState::Done,
        None if now.running == Some(index) => PointState::Running,
        None if ended => PointState::NotRun,
        None => PointState::Pending,
    };
    (state, row)
}

/// A planned point's status ([`point_state`]): `done`, `done, flagged: client_bound, 2
/// failed requests`, `failed: REASON` (its first line; ` …` when the reason goes on),
/// `running`, `pending`, or `not run` (the job ended first).
pub fn point_status(d: &JobDetail, now: PointsNow<'_>, index: u32) -> String {
    let (state, row) = point_state(d, now, d.summary.state.is_final(), index);
    let note = || row.map(row_note).unwrap_or_default();
    match state {
        PointState::Failed => {
            let note = note();
            let mut lines = note.lines().filter(|l| !l.trim().is_empty());
            let first = lines.next().unwrap_or("no reason given").trim_end();
            let more = if lines.next().is_some() { " …" } else { "" };
            format!("failed: {first}{more}")
        }
        PointState::Flagged => format!("done, flagged: {}", note()),
        other => plain_word(other).into(),
    }
}

/// A state in `llms show --json`'s words: `done` (flagged or not), `failed`, `running`,
/// `pending`, `not run`.
fn plain_word(s: PointState) -> &'static str {
    match s {
        PointState::Done | PointState::Flagged => "done",
        PointState::Failed => "failed",
        PointState::Running => "running",
        PointState::Pending => "pending",
        PointState::NotRun => "not run",
    }
}

/// One job for people: a summary line, times, the error, then the plan with each point's
/// status ([`point_status`]).
pub fn show_text(d: &JobDetail, now: PointsNow<'_>) -> String {
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
    if let Some(from) = &s.imported {
        out.push_str(&format!(
            "imported from {from} (read-only; it never runs)\n"
        ));
    }
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
            let mut row = vec![p.index.to_string(), p.engine.clone(), load_label(&p.load)];
            if searched {
                row.push(role_label(p.role).into());
            }
            row.push(point_status(d, now, p.index));
            row
        })
        .collect();
    let headers: &[&str] = if searched {
        &["POINT", "ENGINE", "LOAD", "ROLE", "STATUS"]
    } else {
        &["POINT", "ENGINE", "LOAD", "STATUS"]
    };
    out.push_str(&table(headers, &rows));
    if d.plan
        .iter()
        .any(|p| point_status(d, now, p.index).ends_with(" …"))
    {
        out.push_str(&format!(
            "\n… a failure's full reason and engine log lines: llms results {}\n",
            s.id
        ));
    }
    out
}

/// A point's part in a capacity search: `probe`, `confirm`, or empty.
fn role_label(role: Option<SearchRole>) -> &'static str {
    role.map_or("", SearchRole::as_str)
}

/// One job as JSON: [`job_json`] plus `"spec"` (the TOML) and `"plan"`, an array of
/// `{"index", "engine", "load", "role", "finished", "status", "error"}` with `load` in
/// `llmsd bench --json` shape, `role` `"probe"` or `"confirm"` for a capacity search's
/// points (else `null`), `status` one of `done`, `failed`, `running`, `pending`, `not run`,
/// and `error` a failed point's full reason (else `null`, as for a failed row that gave none).
pub fn show_json(d: &JobDetail, now: PointsNow<'_>) -> Value {
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
                "status": plain_word(point_state(d, now, d.summary.state.is_final(), p.index).0),
                "error": now.rows.iter().find(|r| r.index == p.index).and_then(|r| r.error.clone()),
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
            imported: None,
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
        assert_eq!(keys.len(), 11);
        assert_eq!(v[0]["state"], "failed");
        assert_eq!(v[0]["imported"], Value::Null);
        assert_eq!(v[0]["finished_ms"], Value::Null);
        assert_eq!(v[0]["error"], "engine vllm never got ready");
    }

    /// Point 0 done and flagged, point 1 failed with log lines in its reason.
    fn rows() -> Vec<ResultRow> {
        let mut ok = crate::fixtures::row(
            0,
            "vllm",
            "vllm",
            crate::fixtures::point(Load::Concurrency { concurrency: 1 }, 1.0),
            None,
        );
        ok.point.as_mut().unwrap().flags = vec!["client_bound".into()];
        let failed = crate::fixtures::failed_row(
            1,
            "vllm",
            "vllm",
            Load::Concurrency { concurrency: 4 },
            "engine vllm exited during the point: exited with status 1\nCUDA error: out of memory",
        );
        vec![ok, failed]
    }

    #[test]
    fn show_says_each_points_real_status() {
        let rows = rows();
        let now = PointsNow {
            rows: &rows,
            running: None,
        };
        let t = show_text(&detail(), now);
        assert!(t.starts_with("job 7  sweep  failed  2/3 (1 failed)\n"));
        assert!(t.contains("error: engine vllm never got ready\n"));
        assert!(t.contains("warning: engine vllm: 1 of 4 warm-up requests failed\n"));
        assert!(
            t.contains("0      vllm    c=1   done, flagged: client_bound\n"),
            "{t}"
        );
        assert!(
            t.contains(
                "1      vllm    c=4   failed: engine vllm exited during the point: exited with status 1 …\n"
            ),
            "{t}"
        );
        // The job ended before point 2 ran.
        assert!(t.contains("2      vllm    c=8   not run\n"), "{t}");
        assert!(
            t.ends_with("\n… a failure's full reason and engine log lines: llms results 7\n"),
            "{t}"
        );
        let v = show_json(&detail(), now);
        assert_eq!(v["plan"][1]["load"], json!({"concurrency": 4}));
        assert_eq!(v["plan"][2]["finished"], false);
        let statuses: Vec<&str> = (0..3)
            .map(|i| v["plan"][i]["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["done", "failed", "not run"]);
        assert!(
            v["plan"][1]["error"]
                .as_str()
                .unwrap()
                .ends_with("CUDA error: out of memory")
        );
        assert_eq!(v["spec"], "name = \"sweep\"\n");
        assert_eq!(
            v["warnings"][0],
            "engine vllm: 1 of 4 warm-up requests failed"
        );
        assert_eq!(v["plan"][0]["role"], Value::Null);
        assert!(!t.contains("ROLE"), "no search, no role column: {t}");
    }

    #[test]
    fn show_and_the_dashboard_read_a_row_alike() {
        let mut rows = rows();
        // Failed requests alone flag a point; a row with neither figures nor a reason failed.
        let mut lossy = rows[0].clone();
        lossy.index = 2;
        let p = lossy.point.as_mut().unwrap();
        p.flags.clear();
        p.failed = 3;
        let mut bare = rows[1].clone();
        bare.error = None;
        bare.point = None;
        rows.push(lossy);
        let mut d = detail();
        d.finished = vec![0, 1, 2];
        let now = PointsNow {
            rows: &rows,
            running: None,
        };
        let said: Vec<String> = (0..3).map(|i| point_status(&d, now, i)).collect();
        assert_eq!(
            said,
            [
                "done, flagged: client_bound",
                "failed: engine vllm exited during the point: exited with status 1 …",
                "done, flagged: 3 failed requests",
            ]
        );
        // The dashboard's reading of the same rows.
        let states: Vec<PointState> = rows.iter().map(row_state).collect();
        assert_eq!(
            states,
            [PointState::Flagged, PointState::Failed, PointState::Flagged]
        );
        let now = PointsNow {
            rows: std::slice::from_ref(&bare),
            running: None,
        };
        assert_eq!(row_state(&bare), PointState::Failed);
        assert_eq!(point_status(&d, now, 1), "failed: no reason given");
    }

    #[test]
    fn show_says_which_point_runs_and_which_wait() {
        let mut d = detail();
        d.summary.state = JobState::Running;
        d.plan.push(PointPlan {
            index: 3,
            engine: "vllm".into(),
            load: Load::Concurrency { concurrency: 16 },
            role: None,
        });
        let now = PointsNow {
            rows: &[],
            running: Some(2),
        };
        let statuses: Vec<String> = (0..4).map(|i| point_status(&d, now, i)).collect();
        // Finished but its row not fetched: done, without more to say.
        assert_eq!(statuses, ["done", "done", "running", "pending"]);
    }

    #[test]
    fn show_names_each_search_points_role() {
        let mut d = detail();
        d.plan[0].role = Some(SearchRole::Probe);
        d.plan[1].role = Some(SearchRole::Probe);
        d.plan[2].role = Some(SearchRole::Confirm);
        let t = show_text(&d, PointsNow::default());
        assert!(t.contains("POINT  ENGINE  LOAD  ROLE     STATUS\n"), "{t}");
        assert!(t.contains("1      vllm    c=4   probe    done\n"), "{t}");
        assert!(
            t.ends_with("2      vllm    c=8   confirm  not run\n"),
            "{t}"
        );
        let v = show_json(&d, PointsNow::default());
        assert_eq!(v["plan"][0]["role"], "probe");
        assert_eq!(v["plan"][2]["role"], "confirm");
    }
}
