//! Jobs read back from files written by `llms results JOB --json` (or `llmsd bench --json`,
//! see `saved_bench.rs`), so `compare` and `report`
//! work on results saved elsewhere (a GPU machine that is gone, a colleague's sweep) without
//! a daemon.

use super::saved_bench;
use crate::failure::Failure;
use llms_shared::{JobState, JobSummary, PointGpu, PointResult, ResultRow};
use serde_json::Value;
use std::path::PathBuf;

/// Each file as (job, its rows), in the order given. Errors name the file and the field.
/// A file written by `llmsd bench --json` reads as a job of one engine, named by the file
/// and numbered by the lowest id no results file holds.
pub fn read_saved(paths: &[PathBuf]) -> Result<Vec<(JobSummary, Vec<ResultRow>)>, Failure> {
    let values: Vec<Value> = paths
        .iter()
        .map(|p| {
            let name = p.display();
            let text = std::fs::read_to_string(p)
                .map_err(|e| Failure::usage(format!("cannot read {name}: {e}")))?;
            serde_json::from_str(&text)
                .map_err(|e| Failure::usage(format!("{name}: not JSON: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let mut used: Vec<u64> = values
        .iter()
        .filter_map(|v| v.get("job").and_then(Value::as_u64))
        .collect();
    let jobs: Vec<(JobSummary, Vec<ResultRow>)> = paths
        .iter()
        .zip(&values)
        .map(|(p, v)| {
            let name = p.display();
            // A bench file has no job id: it takes the lowest one no results file holds.
            let id = match saved_bench::is_bench(v) {
                true => {
                    let id = (1..).find(|i| !used.contains(i)).unwrap_or(0);
                    used.push(id);
                    id
                }
                false => 0,
            };
            let stem = p
                .file_stem()
                .map_or("bench".into(), |s| s.to_string_lossy());
            parse_saved(v, id, &stem).map_err(|e| Failure::usage(format!("{name}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    // Series are named by job id: two files with the same id would merge into one.
    for (i, (j, _)) in jobs.iter().enumerate() {
        if let Some(k) = jobs[..i].iter().position(|(o, _)| o.id == j.id) {
            return Err(Failure::usage(format!(
                "{} and {} both hold job {} (from different daemons?): their series would merge",
                paths[k].display(),
                paths[i].display(),
                j.id
            )));
        }
    }
    Ok(jobs)
}

/// One saved results file's JSON (`llms results --json`, or `llmsd bench --json` read as job
/// `id` named `stem`): the job and its rows.
pub fn parse_saved(v: &Value, id: u64, stem: &str) -> Result<(JobSummary, Vec<ResultRow>), String> {
    if saved_bench::is_bench(v) {
        saved_bench::parse(v, id, stem)
    } else {
        parse(v)
    }
}

/// One `llms results --json` object.
fn parse(v: &Value) -> Result<(JobSummary, Vec<ResultRow>), String> {
    let field = |k: &str| {
        v.get(k)
            .ok_or(format!("no \"{k}\" (not `llms results --json` output?)"))
    };
    let id = field("job")?.as_u64().ok_or("job: not a number")?;
    let name = field("name")?
        .as_str()
        .ok_or("name: not a string")?
        .to_owned();
    let state: JobState =
        serde_json::from_value(field("state")?.clone()).map_err(|e| format!("state: {e}"))?;
    let mut rows = Vec::new();
    let points = field("points")?.as_array().ok_or("points: not a list")?;
    for (i, p) in points.iter().enumerate() {
        let mut m = p
            .as_object()
            .ok_or(format!("points[{i}]: not an object"))?
            .clone();
        let mut take = |k: &str| m.remove(k).unwrap_or(Value::Null);
        let index = take("index")
            .as_u64()
            .ok_or(format!("points[{i}].index: not a number"))?;
        let engine = take("engine").as_str().unwrap_or_default().to_owned();
        let kind = take("kind").as_str().unwrap_or_default().to_owned();
        let engine_version = take("engine_version").as_str().map(str::to_owned);
        let workload = serde_json::from_value(take("workload"))
            .map_err(|e| format!("points[{i}].workload: {e}"))?;
        let gpu: Option<PointGpu> =
            serde_json::from_value(take("gpu")).map_err(|e| format!("points[{i}].gpu: {e}"))?;
        let role =
            serde_json::from_value(take("role")).map_err(|e| format!("points[{i}].role: {e}"))?;
        let search = serde_json::from_value(take("search"))
            .map_err(|e| format!("points[{i}].search: {e}"))?;
        let point: PointResult =
            serde_json::from_value(Value::Object(m)).map_err(|e| format!("points[{i}]: {e}"))?;
        rows.push(ResultRow {
            index: u32::try_from(index).map_err(|_| format!("points[{i}].index: too large"))?,
            engine,
            kind,
            load: Some(point.load.clone()),
            error: None,
            point: Some(point),
            gpu,
            engine_version,
            workload,
            finished_ms: 0,
            role,
            search,
        });
    }
    let failed = v
        .get("failed")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, f) in failed.iter().enumerate() {
        let s = |k: &str| {
            f.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        rows.push(ResultRow {
            index: f
                .get("index")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or(format!("failed[{i}].index: not a number"))?,
            engine: s("engine"),
            kind: s("kind"),
            load: f
                .get("load")
                .filter(|l| !l.is_null())
                .map(|l| serde_json::from_value(l.clone()))
                .transpose()
                .map_err(|e| format!("failed[{i}].load: {e}"))?,
            error: Some(s("error")),
            point: None,
            gpu: None,
            engine_version: None,
            workload: None,
            finished_ms: 0,
            role: f
                .get("role")
                .map(|r| serde_json::from_value(r.clone()))
                .transpose()
                .map_err(|e| format!("failed[{i}].role: {e}"))?,
            search: f
                .get("search")
                .map(|r| serde_json::from_value(r.clone()))
                .transpose()
                .map_err(|e| format!("failed[{i}].search: {e}"))?,
        });
    }
    rows.sort_by_key(|r| r.index);
    let n = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    let job = JobSummary {
        id,
        name,
        state,
        points_done: n,
        points_total: n,
        order: 0,
        points_failed: u32::try_from(failed.len()).unwrap_or(u32::MAX),
        submitted_ms: 0,
        started_ms: None,
        finished_ms: None,
        error: None,
        imported: None,
    };
    Ok((job, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{JobResults, results_json};

    /// What `llms results --json` writes reads back to the same rows (the times it does not
    /// write aside).
    #[test]
    fn results_json_round_trips() {
        let (job, rows) = crate::fixtures::sweep();
        let r = JobResults {
            job: job.id,
            name: job.name.clone(),
            state: job.state,
            rows: rows.clone(),
        };
        let (j2, rows2) = parse(&results_json(&r).unwrap()).unwrap();
        assert_eq!((j2.id, &j2.name, j2.state), (job.id, &job.name, job.state));
        assert_eq!(rows2.len(), rows.len());
        for (a, b) in rows.iter().zip(&rows2) {
            assert_eq!(
                (
                    a.index,
                    &a.engine,
                    &a.kind,
                    &a.error,
                    &a.point,
                    &a.gpu,
                    &a.engine_version
                ),
                (
                    b.index,
                    &b.engine,
                    &b.kind,
                    &b.error,
                    &b.point,
                    &b.gpu,
                    &b.engine_version
                )
            );
        }
    }

    /// A capacity search's roles and report survive the round trip, failed entries too.
    #[test]
    fn search_roles_and_reports_round_trip() {
        let (job, mut rows) = crate::fixtures::search_job();
        // The row that ended sglang's search failed (its confirmation crashed).
        let last = rows.len() - 1;
        rows[last].point = None;
        rows[last].error = Some("engine exited".into());
        let r = JobResults {
            job: job.id,
            name: job.name.clone(),
            state: job.state,
            rows: rows.clone(),
        };
        let (_, rows2) = parse(&results_json(&r).unwrap()).unwrap();
        let pick = |v: &[ResultRow]| -> Vec<_> {
            v.iter()
                .map(|r| (r.index, r.role, r.search.clone(), r.error.clone()))
                .collect()
        };
        assert_eq!(pick(&rows2), pick(&rows));
        assert!(rows2[last].search.as_ref().unwrap().confirmed);
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse(&serde_json::json!({"job": 1, "name": "x", "state": "done", "points": [{"index": "a"}]}))
            .unwrap_err();
        assert!(e.starts_with("points[0].index"), "{e}");
        let e = parse(&serde_json::json!({"points": []})).unwrap_err();
        assert!(e.contains("\"job\""), "{e}");
    }
}
