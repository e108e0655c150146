//! `llmsd bench --search`: run a capacity search's probes one by one, each a full point
//! printed and written to `--json` as it finishes, then the answer.

use super::search::{self, Next};
use super::{BenchError, Session, table, write_json};
use llms_shared::{BenchReport, ProbeReport};
use std::path::Path;

/// Run the session's search after the points already in `report`; sets `report.search`.
pub(super) async fn run(
    session: &mut Session,
    report: &mut BenchReport,
    (json, raw): (Option<&Path>, bool),
) -> Result<(), BenchError> {
    let def = session
        .search()
        .cloned()
        .ok_or_else(|| BenchError::Internal("no search to run".into()))?;
    let unit = session.search_unit();
    let mut probes: Vec<ProbeReport> = Vec::new();
    loop {
        let (value, role) = match search::next(&def, &probes, unit) {
            Next::Done(r) => {
                println!("{}", r.verdict);
                report.search = Some(r);
                if let Some(path) = json {
                    write_json(path, report)?;
                }
                return Ok(());
            }
            Next::Run(v, role) => (v, role),
        };
        let load = session
            .search_load(value)
            .ok_or_else(|| BenchError::Internal("no search to run".into()))?;
        let n = report.points.len();
        session.warmup(n).await;
        let measured = session.measure(n, load.clone(), None, &()).await;
        for w in session.take_warnings() {
            eprintln!("warning: {w}");
        }
        let (mut point, records) = measured?;
        let judged = search::judge(&def, load, role, Ok(&point));
        println!("{}", table::row(&point));
        println!("  {}", table::probe(&judged));
        if raw {
            point.requests = records;
        }
        report.points.push(point);
        if let Some(path) = json {
            write_json(path, report)?;
        }
        probes.push(judged);
    }
}
