//! The queue's rules, as pure functions over job records: which job runs next, how a reorder
//! renumbers, what a restart does to jobs that were running.

use crate::store::JobRecord;
use llms_shared::JobState;

/// Do two GPU sets overlap? `None` means every GPU, which overlaps everything.
pub fn conflicts(a: Option<&[u32]>, b: Option<&[u32]>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.iter().any(|g| b.contains(g)),
        _ => true,
    }
}

/// The first queued job (by queue order, then id) whose GPUs no running job uses.
pub fn next_runnable(jobs: &[JobRecord], running: &[Option<Vec<u32>>]) -> Option<u64> {
    let mut queued: Vec<&JobRecord> = jobs
        .iter()
        .filter(|j| j.state == JobState::Queued)
        .collect();
    queued.sort_by_key(|j| (j.order, j.id));
    queued
        .into_iter()
        .find(|j| {
            running
                .iter()
                .all(|r| !conflicts(j.sweep.gpus.as_deref(), r.as_deref()))
        })
        .map(|j| j.id)
}

/// Queued jobs in run order.
pub fn queued_order(jobs: &[JobRecord]) -> Vec<u64> {
    let mut q: Vec<(u64, u64)> = jobs
        .iter()
        .filter(|j| j.state == JobState::Queued)
        .map(|j| (j.order, j.id))
        .collect();
    q.sort();
    q.into_iter().map(|(_, id)| id).collect()
}

/// Why a job cannot be moved in the queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReorderError {
    /// No such job.
    #[error("job {0} not found")]
    NotFound(u64),
    /// It is not queued (its state).
    #[error("job {0} is {1}; only queued jobs can be reordered")]
    NotQueued(u64, &'static str),
}

/// New `order` values after moving `id` to `position` among the queued jobs: (id, order) for
/// each queued job. Errors name the problem.
pub fn reorder(
    jobs: &[JobRecord],
    id: u64,
    position: u32,
) -> Result<Vec<(u64, u64)>, ReorderError> {
    let mut order = queued_order(jobs);
    let Some(at) = order.iter().position(|&j| j == id) else {
        return Err(match jobs.iter().find(|j| j.id == id) {
            Some(j) => ReorderError::NotQueued(id, j.state.as_str()),
            None => ReorderError::NotFound(id),
        });
    };
    order.remove(at);
    let pos = (position as usize).min(order.len());
    order.insert(pos, id);
    // Orders above every existing one keep new submissions (max + 1) behind the queue.
    let base = jobs.iter().map(|j| j.order).max().unwrap_or(0) + 1;
    Ok(order
        .into_iter()
        .enumerate()
        .map(|(i, id)| (id, base + i as u64))
        .collect())
}

/// A job found `starting` or `running` when the daemon starts was interrupted (crash, kill
/// -9, power loss, or a SIGTERM mid-point): it goes back to the queue, in its place, and
/// resumes at its first unfinished point. Its counts are recomputed from the finished points
/// (`finished`: index and whether it failed), which are the truth.
pub fn recover(job: &mut JobRecord, finished: &[(u32, bool)]) -> bool {
    let was = job.state;
    if matches!(job.state, JobState::Starting | JobState::Running) {
        job.state = JobState::Queued;
    }
    job.points_done = finished.len() as u32;
    job.points_failed = finished.iter().filter(|(_, f)| *f).count() as u32;
    was != job.state
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use llms_shared::{LoadDef, Sweep};

    fn job(id: u64, state: JobState, gpus: Option<Vec<u32>>) -> JobRecord {
        let sweep = Sweep {
            name: format!("j{id}"),
            model: None,
            prompts: None,
            endpoint: None,
            gpus,
            engines: vec![],
            load: LoadDef::default(),
            workload: None,
        };
        JobRecord {
            state,
            ..JobRecord::queued(id, id, sweep, vec![], 0)
        }
    }

    #[test]
    fn one_job_per_gpu_set() {
        let jobs = vec![
            job(1, JobState::Running, Some(vec![0])),
            job(2, JobState::Queued, Some(vec![0, 1])),
            job(3, JobState::Queued, Some(vec![1])),
            job(4, JobState::Queued, None),
        ];
        let running = vec![Some(vec![0])];
        assert_eq!(next_runnable(&jobs, &running), Some(3), "2 overlaps GPU 0");
        assert_eq!(next_runnable(&jobs, &[]), Some(2));
        assert_eq!(
            next_runnable(&jobs, &[None]),
            None,
            "an all-GPU job blocks all"
        );
        assert!(conflicts(None, Some(&[3])));
        assert!(!conflicts(Some(&[1]), Some(&[0, 2])));
    }

    #[test]
    fn reorder_moves_only_queued_jobs() {
        let mut jobs = vec![
            job(1, JobState::Queued, None),
            job(2, JobState::Queued, None),
            job(3, JobState::Queued, None),
            job(4, JobState::Done, None),
        ];
        let new = reorder(&jobs, 3, 0).unwrap();
        for (id, order) in new {
            jobs.iter_mut().find(|j| j.id == id).unwrap().order = order;
        }
        assert_eq!(queued_order(&jobs), vec![3, 1, 2]);
        assert_eq!(next_runnable(&jobs, &[]), Some(3));
        let e = reorder(&jobs, 4, 0).unwrap_err();
        assert_eq!(e, ReorderError::NotQueued(4, "done"));
        assert!(e.to_string().contains("done"), "{e}");
        assert_eq!(reorder(&jobs, 9, 0).unwrap_err(), ReorderError::NotFound(9));
        assert_eq!(
            reorder(&jobs, 9, 0).unwrap_err().to_string(),
            "job 9 not found"
        );
        // Past the end means last.
        let new = reorder(&jobs, 3, 99).unwrap();
        assert_eq!(new.last().unwrap().0, 3);
    }

    #[test]
    fn recovery_requeues_interrupted_jobs_with_true_counts() {
        let mut j = job(1, JobState::Running, None);
        j.points_done = 1;
        assert!(recover(&mut j, &[(0, false), (1, true)]));
        assert_eq!(j.state, JobState::Queued);
        assert_eq!((j.points_done, j.points_failed), (2, 1));
        let mut c = job(2, JobState::Cancelled, None);
        assert!(!recover(&mut c, &[]));
        assert_eq!(c.state, JobState::Cancelled);
    }
}
