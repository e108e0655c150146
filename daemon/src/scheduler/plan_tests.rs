use super::*;
use crate::loadgen::stats::{Expectations, aggregate};
use llms_shared::{ClientStats, Load, PointResult};

/// Engines `a` and `b`, three loads each, in the order a sweep expands them.
fn job_plan() -> Vec<PointPlan> {
    let mut plan = Vec::new();
    for e in ["a", "b"] {
        for c in [1, 4, 8] {
            plan.push(PointPlan {
                index: plan.len() as u32,
                engine: e.into(),
                load: Load::Concurrency { concurrency: c },
                role: None,
            });
        }
    }
    plan
}

fn figures(p: &PointPlan, completed: u64, failed: u64) -> PointResult {
    let exp = Expectations {
        output_tokens: None,
        input_tokens: None,
        per_request_input: false,
        slo: Default::default(),
        max_error_rate: None,
    };
    let mut r = aggregate(p.load.clone(), &[], &exp, ClientStats::default(), None);
    (r.completed, r.failed) = (completed, failed);
    r
}

/// A stored row: figures, or a failure (`None`: the engine died or never started).
fn stored(p: &PointPlan, done: Option<(u64, u64)>) -> ResultRow {
    ResultRow {
        index: p.index,
        engine: p.engine.clone(),
        kind: "reference".into(),
        load: Some(p.load.clone()),
        error: done.is_none().then(|| "engine a exited".into()),
        point: done.map(|(c, f)| figures(p, c, f)),
        gpu: None,
        engine_version: None,
        workload: None,
        finished_ms: 1,
        role: None,
        search: None,
    }
}

fn indices(v: &[&PointPlan]) -> Vec<u32> {
    v.iter().map(|p| p.index).collect()
}

#[test]
fn a_resumed_job_plans_as_an_uninterrupted_one_after_any_stored_prefix() {
    let plan = job_plan();
    let warmup = 2;
    // Points store 10, 20 and 30 requests (one of each failed).
    let done = [(9, 1), (19, 1), (29, 1)];
    for k in 0..=3 {
        let finished: Vec<ResultRow> = plan[..k]
            .iter()
            .zip(done)
            .map(|(p, d)| stored(p, Some(d)))
            .collect();
        let left = remaining(&plan, "a", &finished);
        assert_eq!(indices(&left), (k as u32..3).collect::<Vec<_>>(), "{k}");
        if let Some(next) = left.first() {
            // Every earlier point's warm-up and stored requests are behind the cursor.
            let used: u64 = done[..k].iter().map(|(c, f)| warmup + c + f).sum();
            assert_eq!(first_prompt(&plan, next, &finished, warmup), used);
            assert_eq!(ordinal(&plan, next), k);
        }
        // The other engine's points are untouched and start from its own first prompt.
        assert_eq!(indices(&remaining(&plan, "b", &finished)), [3, 4, 5]);
        assert_eq!(first_prompt(&plan, &plan[3], &finished, warmup), 0);
        assert_eq!(ordinal(&plan, &plan[4]), 1);
        // Engine b's second point counts b's first point's warm-up only, none of a's rows.
        assert_eq!(first_prompt(&plan, &plan[4], &finished, warmup), warmup);
    }
}

#[test]
fn a_point_cancelled_midway_runs_again_from_where_it_started() {
    let plan = job_plan();
    // Point 0 stored; point 1 was running when the job was cancelled: nothing of it stored.
    let finished = vec![stored(&plan[0], Some((10, 0)))];
    let left = remaining(&plan, "a", &finished);
    assert_eq!(indices(&left), [1, 2]);
    assert_eq!(first_prompt(&plan, left[0], &finished, 1), 11);
    // Point 2 will start after point 1's warm-up and nothing of its requests yet stored.
    assert_eq!(first_prompt(&plan, left[1], &finished, 1), 12);
}

#[test]
fn points_failed_with_their_engine_are_done_and_used_only_their_warm_up() {
    let plan = job_plan();
    // Engine a died in its second point; its last point failed with it.
    let finished = vec![
        stored(&plan[0], Some((8, 0))),
        stored(&plan[1], None),
        stored(&plan[2], None),
    ];
    assert!(remaining(&plan, "a", &finished).is_empty());
    assert_eq!(first_prompt(&plan, &plan[2], &finished, 3), 3 + 8 + 3);
    assert_eq!(indices(&remaining(&plan, "b", &finished)), [3, 4, 5]);
}

/// A capacity-search probe planned before a crash and never stored is not an ordinary
/// remaining point: the search runs it (and puts its verdict on it), not the plain loop.
#[test]
fn planned_probes_are_left_to_the_search() {
    let mut plan = job_plan();
    plan.push(PointPlan {
        index: plan.len() as u32,
        engine: "a".into(),
        load: Load::Concurrency { concurrency: 16 },
        role: Some(llms_shared::SearchRole::Probe),
    });
    assert_eq!(indices(&remaining(&plan, "a", &[])), [0, 1, 2]);
}
