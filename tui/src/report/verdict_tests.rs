#![allow(clippy::unwrap_used)]

use super::*;
use crate::compare::rows;
use crate::fixtures::{search_job, sweep};

fn of(jobs: &Jobs) -> String {
    paragraph(jobs, &rows(jobs))
}

#[test]
fn capacities_are_told_largest_first_with_their_limits() {
    let v = of(&[search_job()]);
    assert_eq!(
        v,
        "At TTFT p99 ≤ 500 ms, TPOT p99 ≤ 40 ms and error rate ≤ 1 %, sglang carried 28 \
         sessions and vllm 24 on one NVIDIA H200 (capacity search, confirmed). sglang was \
         limited by TTFT p99 (515 ms at 29) and vllm by TPOT p99 (41 ms at 25)."
    );
}

#[test]
fn zero_capacity_unconfirmed_and_unfinished_searches_are_said() {
    let (j, mut points) = search_job();
    for r in &mut points {
        let Some(s) = &mut r.search else { continue };
        if r.engine == "vllm" {
            s.capacity = Some(0.0);
            s.limited_by = Some("ttft_p99".into());
            // Its only probe: concurrency 1 broke TTFT p99.
            s.probes.truncate(1);
            s.probes[0].pass = false;
            s.probes[0].failed = vec!["ttft_p99".into()];
            s.probes[0].values.insert("ttft_p99".into(), 812.0);
        } else {
            s.confirmed = false;
        }
    }
    let v = of(&[(j.clone(), points.clone())]);
    assert!(
        v.contains("sglang carried 28 sessions on one NVIDIA H200 (capacity search, not confirmed when run again)"),
        "{v}"
    );
    assert!(
        v.contains(
            "vllm did not meet the objectives even at 1 session (TTFT p99 812 ms > 500 ms)."
        ),
        "{v}"
    );
    for r in &mut points {
        if let Some(s) = &mut r.search {
            s.capacity = None;
            s.verdict = "no answer: the point at 32 produced no figures".into();
        }
    }
    let v = of(&[(j, points)]);
    assert_eq!(
        v,
        "vllm's search did not finish: no answer: the point at 32 produced no figures. \
         sglang's search did not finish: no answer: the point at 32 produced no figures."
    );
}

#[test]
fn different_hardware_and_units_are_named_per_engine() {
    let (j, mut points) = search_job();
    for r in &mut points.iter_mut().filter(|r| r.engine == "vllm") {
        r.workload = Some(crate::fixtures::workload("single"));
        if let Some(g) = &mut r.gpu {
            g.gpus.push(g.gpus[0].clone());
        }
    }
    let v = of(&[(j, points)]);
    assert!(
        v.contains(
            "sglang carried 28 sessions on one NVIDIA H200 and vllm 24 requests in flight on \
             two NVIDIA H200 (capacity search, confirmed)"
        ),
        "{v}"
    );
}

#[test]
fn without_a_search_the_frontier_speaks() {
    let v = of(&[sweep()]);
    // vllm at 32: 4 * sqrt(32) * 100 = 2263 tok/s on one GPU; llamacpp's best is 400 at 16
    // (32 failed). Per user at concurrency 1: 1000 / (5.5 + 1/40) = 181 for vllm, 1000 /
    // 5.6 = 179 for llamacpp.
    assert_eq!(
        v,
        "Highest output tokens/s per GPU: vllm 2263 at c=32 and llamacpp 400 at c=16 \
         (whole-point figures, on one NVIDIA H200; no capacity search). At the highest \
         per-user speed, vllm leads with 181 output tokens/s per user (c=1, 400 per GPU), \
         against llamacpp's 179 (c=1)."
    );
    let (j, mut points) = sweep();
    for p in &mut points {
        p.gpu = None;
    }
    let v = of(&[(j, points)]);
    assert!(
        v.starts_with("Highest output tokens/s per GPU (1 assumed: no GPU measured): vllm"),
        "{v}"
    );
    assert!(v.contains("on CPU (no GPU measured)"), "{v}");
}
