//! Where a job stands and where each of its points starts, from what is stored: which points
//! of an engine remain, each point's number within its engine, and the prompt it starts at.
//! Pure functions over the plan and the finished rows, so a job resumed after any crash plans
//! exactly as an uninterrupted one would have.

use llms_shared::{PointPlan, ResultRow};

/// The points of engine `engine` with no stored row, in order; a capacity search's probes
/// are not among them (the search runs its own, a planned one first).
pub(super) fn remaining<'a>(
    plan: &'a [PointPlan],
    engine: &str,
    finished: &[ResultRow],
) -> Vec<&'a PointPlan> {
    plan.iter()
        .filter(|p| p.engine == engine && p.role.is_none())
        .filter(|p| !finished.iter().any(|f| f.index == p.index))
        .collect()
}

/// Point `p`'s number among its engine's points, from 0 (its requests' ids say `llms-pN`).
pub(super) fn ordinal(plan: &[PointPlan], p: &PointPlan) -> usize {
    earlier(plan, p).count()
}

/// The prompt point `p` starts at: each earlier point of its engine used its warm-up and the
/// requests it stored (none for a failed one), in this run or an earlier one; a point that was
/// interrupted stored nothing, so its prompts are used again when it runs again.
pub(super) fn first_prompt(
    plan: &[PointPlan],
    p: &PointPlan,
    finished: &[ResultRow],
    warmup: u64,
) -> u64 {
    earlier(plan, p)
        .map(|q| {
            let done = finished.iter().find(|f| f.index == q.index);
            warmup
                + done
                    .and_then(|f| f.point.as_ref())
                    .map_or(0, |r| r.completed + r.failed)
        })
        .sum()
}

/// The points of `p`'s engine before it.
fn earlier<'a>(plan: &'a [PointPlan], p: &'a PointPlan) -> impl Iterator<Item = &'a PointPlan> {
    plan.iter()
        .filter(move |q| q.engine == p.engine && q.index < p.index)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
