//! The replies of finished commands, folded into the model (part of `update`).

use super::command::{Command, Reply};
use super::model::{EngineLog, Model};
use super::update::{results_changed, status};

/// Take in a finished command's reply.
pub fn reply(m: &mut Model, r: Reply) -> Vec<Command> {
    match r {
        Reply::Jobs(Ok(list)) => {
            m.all_jobs = list;
            m.all_jobs.sort_by_key(|j| j.id);
            results_changed(m, false)
        }
        Reply::Results(id, Ok(rows)) => {
            m.pending.remove(&id);
            m.results.insert(id, rows);
            m.evict_results();
            let force = m.compared().contains(&id);
            results_changed(m, force)
        }
        Reply::Job(id, Ok(d)) => {
            let open = m.ui.drill.iter().any(|v| match v {
                super::model::Drill::Points { job } | super::model::Drill::Point { job, .. } => {
                    *job == id
                }
            });
            if open {
                m.detail = Some(*d);
            }
            Vec::new()
        }
        Reply::Results(id, Err(e)) => {
            m.pending.remove(&id);
            status(m, e, true);
            Vec::new()
        }
        Reply::Log(id, Ok(lines)) => {
            m.log = Some(EngineLog { engine: id, lines });
            Vec::new()
        }
        Reply::Cancelled(id, Ok(state)) => {
            status(m, format!("job {id} is {}", state.as_str()), false);
            Vec::new()
        }
        Reply::Reordered(id, Ok(order)) => {
            let pos = order.iter().position(|&q| q == id).map_or(0, |p| p + 1);
            status(
                m,
                format!("job {id} is now number {pos} in the queue"),
                false,
            );
            m.queue_order = order;
            Vec::new()
        }
        Reply::Submitted(file, Ok(id)) => {
            status(m, format!("{file} queued as job {id}"), false);
            m.ui.queue_sel = Some(id);
            Vec::new()
        }
        Reply::Report(Ok((dir, n))) => {
            status(m, format!("report written: {dir}/ ({n} files)"), false);
            Vec::new()
        }
        Reply::Report(Err(e)) => {
            status(m, format!("report: {e}"), true);
            Vec::new()
        }
        Reply::Sweeps(files) => {
            if let Some(p) = &mut m.ui.picker {
                p.selected = p.selected.min(files.len().saturating_sub(1));
                p.files = files;
            }
            Vec::new()
        }
        Reply::Jobs(Err(e))
        | Reply::Job(_, Err(e))
        | Reply::Log(_, Err(e))
        | Reply::Cancelled(_, Err(e))
        | Reply::Reordered(_, Err(e))
        | Reply::Submitted(_, Err(e)) => {
            status(m, e, true);
            Vec::new()
        }
    }
}
