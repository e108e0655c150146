//! `llmsd bench --search`: run a capacity search's probes one by one, each a full point
//! printed and written to `--json` as it finishes, then the answer.

use super::search::{self, Next};
use super::{BenchError, Output, Session, progress, table};
use crate::loadgen::live::Live;
use llms_shared::{BenchReport, ProbeReport};
use std::sync::Arc;

/// Run the session's search after the points already in `report`; sets `report.search`.
pub(super) async fn run(
    session: &mut Session,
    report: &mut BenchReport,
    out: &Output,
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
                return out.keep(report);
            }
            Next::Run(v, role) => (v, role),
        };
        let load = session
            .search_load(value)
            .ok_or_else(|| BenchError::Internal("no search to run".into()))?;
        let n = report.points.len();
        let live = Arc::new(Live::default());
        let line =
            progress::PointLine::start(load.to_string(), session.c.stop, live.clone(), out.quiet);
        session.warmup(n).await;
        let measured = session.measure(n, load.clone(), Some(live), &()).await;
        drop(line);
        for w in session.take_warnings() {
            eprintln!("warning: {w}");
        }
        let (point, records) = measured?;
        let judged = search::judge(&def, load, role, Ok(&point));
        out.add(report, point, records);
        println!("  {}", table::probe(&judged));
        out.keep(report)?;
        probes.push(judged);
    }
}
