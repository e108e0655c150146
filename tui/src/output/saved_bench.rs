//! Files written by `llmsd bench --json FILE`, read as a job of one engine: its points in
//! the order they ran, a capacity search's points with their role, and the search itself on
//! the last row (the one that ended it).

use llms_shared::{BenchReport, JobState, JobSummary, ResultRow};
use serde_json::Value;

/// Whether `v` looks like `llmsd bench --json` output rather than `llms results --json`.
pub fn is_bench(v: &Value) -> bool {
    v.get("job").is_none() && v.get("version").is_some() && v.get("points").is_some()
}

/// One bench report as a job named `name` with id `id`. The engine is named as the server
/// named itself (`owned_by`), else `bench`; its kind is `external` (a server measured by
/// its URL).
pub fn parse(v: &Value, id: u64, name: &str) -> Result<(JobSummary, Vec<ResultRow>), String> {
    let r: BenchReport = serde_json::from_value(v.clone())
        .map_err(|e| format!("not `llmsd bench --json` output: {e}"))?;
    let engine = r
        .server
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "bench".into());
    let probes = r.search.as_ref().map_or(&[][..], |s| &s.probes[..]);
    // Probes and points run in the same order; a probe without figures has no point.
    let mut next = 0;
    let mut rows = Vec::new();
    for (i, p) in r.points.into_iter().enumerate() {
        let found = probes[next.min(probes.len())..]
            .iter()
            .position(|pr| pr.error.is_none() && pr.load == p.load);
        let role = found.map(|k| {
            next += k + 1;
            probes[next - 1].role
        });
        rows.push(ResultRow {
            index: u32::try_from(i).map_err(|_| "too many points".to_owned())?,
            engine: engine.clone(),
            kind: "external".into(),
            load: Some(p.load.clone()),
            error: None,
            point: Some(p),
            gpu: None,
            engine_version: None,
            workload: r.workload.clone(),
            finished_ms: 0,
            role,
            search: None,
        });
    }
    if let Some(s) = r.search {
        match rows.last_mut() {
            Some(last) => last.search = Some(s),
            // Not one point produced figures: a row without figures carries the search.
            None => rows.push(ResultRow {
                index: 0,
                engine: engine.clone(),
                kind: "external".into(),
                load: None,
                error: Some("no point of the search produced figures".into()),
                point: None,
                gpu: None,
                engine_version: None,
                workload: r.workload.clone(),
                finished_ms: 0,
                role: None,
                search: Some(s),
            }),
        }
    }
    let n = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    let failed = u32::from(rows.iter().any(|r| r.error.is_some()));
    let job = JobSummary {
        id,
        name: name.to_owned(),
        state: JobState::Done,
        points_done: n,
        points_total: n,
        order: 0,
        points_failed: failed,
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
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::fixtures;

    /// A bench report of the fixture's vllm search: its points, one probe without figures.
    fn report() -> BenchReport {
        let (_, rows) = fixtures::search_job();
        let vllm: Vec<&ResultRow> = rows.iter().filter(|r| r.engine == "vllm").collect();
        let mut search = vllm.last().unwrap().search.clone().unwrap();
        // The probe at 32 produced no figures: it is not among the points.
        search.probes[2].error = Some("engine exited".into());
        search.probes[2].values.clear();
        let points = vllm
            .iter()
            .filter(|r| r.point.as_ref().unwrap().load != search.probes[2].load)
            .map(|r| r.point.clone().unwrap())
            .collect();
        BenchReport {
            version: 1,
            url: "http://127.0.0.1:8000".into(),
            endpoint: "chat".into(),
            model: "m".into(),
            server: Some("vllm".into()),
            workload: Some(fixtures::workload("conversation")),
            points,
            search: Some(search),
        }
    }

    #[test]
    fn a_bench_search_reads_as_one_engine_with_roles_and_the_search_last() {
        let v = serde_json::to_value(report()).unwrap();
        assert!(is_bench(&v));
        let (job, rows) = parse(&v, 5, "bench-vllm").unwrap();
        assert_eq!(
            (job.id, job.name.as_str(), job.points_done),
            (5, "bench-vllm", 8)
        );
        let got: Vec<(f64, Option<llms_shared::SearchRole>)> = rows
            .iter()
            .map(|r| (crate::compare::load_x(r.load.as_ref().unwrap()).1, r.role))
            .collect();
        use llms_shared::SearchRole::{Confirm, Probe};
        assert_eq!(
            got,
            [
                (1.0, Some(Probe)),
                (64.0, Some(Probe)),
                (16.0, Some(Probe)),
                (24.0, Some(Probe)),
                (28.0, Some(Probe)),
                (26.0, Some(Probe)),
                (25.0, Some(Probe)),
                (24.0, Some(Confirm)),
            ]
        );
        assert!(rows[..7].iter().all(|r| r.search.is_none()));
        let s = rows[7].search.as_ref().unwrap();
        assert_eq!(s.capacity, Some(24.0));
        assert!(
            rows.iter()
                .all(|r| r.engine == "vllm" && r.kind == "external")
        );
        // compare reads the capacity from it.
        let caps = crate::capacity::capacities(&[(job, rows)]);
        assert_eq!(caps[0].value_text(), "24");
        assert_eq!(caps[0].unit(), "sessions");
    }

    #[test]
    fn a_results_file_is_not_a_bench_report() {
        assert!(!is_bench(
            &serde_json::json!({"job": 1, "points": [], "version": 1})
        ));
        let e = parse(&serde_json::json!({"version": 1, "points": 3}), 1, "x").unwrap_err();
        assert!(e.starts_with("not `llmsd bench --json` output"), "{e}");
    }
}
