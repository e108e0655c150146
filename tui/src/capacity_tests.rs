#![allow(clippy::unwrap_used)]

use super::*;
use crate::fixtures;

#[test]
fn each_search_row_gives_its_series_capacity_and_facts() {
    let caps = capacities(&[fixtures::search_job()]);
    let got: Vec<(&str, String, String, bool, usize)> = caps
        .iter()
        .map(|c| {
            (
                c.series.as_str(),
                c.value_text(),
                c.limited_text(),
                c.report.confirmed,
                c.probes_run(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("vllm", "24".into(), "TPOT p99".into(), true, 9),
            ("sglang", "28".into(), "TTFT p99".into(), true, 9),
        ]
    );
    let v = &caps[0];
    assert_eq!(v.unit(), "sessions");
    assert_eq!(hardware(&v.gpus), "on one NVIDIA H200");
    // 25 is the lowest load vllm failed at: TPOT p99 16 + 25 = 41 ms.
    assert_eq!(
        v.first_failure(),
        Some((25.0, "TPOT p99 41 ms > 40 ms".into()))
    );
    assert_eq!(
        caps[1].first_failure(),
        Some((29.0, "TTFT p99 515 ms > 500 ms".into()))
    );
}

#[test]
fn several_jobs_name_the_series_by_job_and_units_follow_the_search() {
    let (a, ra) = fixtures::search_job();
    let (mut b, mut rb) = fixtures::search_job();
    b.id = 8;
    for r in &mut rb {
        r.workload = Some(fixtures::workload("single"));
        if let Some(s) = &mut r.search {
            s.over = SearchOver::Rate;
            s.capacity = Some(12.345);
            s.limited_by = Some("max".into());
        }
    }
    let caps = capacities(&[(a, ra), (b, rb)]);
    let names: Vec<&str> = caps.iter().map(|c| c.series.as_str()).collect();
    assert_eq!(names, ["7/vllm", "7/sglang", "8/vllm", "8/sglang"]);
    assert_eq!(caps[2].unit(), "requests/s");
    assert_eq!(caps[2].short_unit(), "req/s");
    assert_eq!(caps[2].value_text(), "12.35");
    assert_eq!(caps[2].limited_text(), "max (64: every load tried passed)");
    assert_eq!(caps[0].unit(), "sessions");
}

#[test]
fn words_for_objectives_and_hardware() {
    assert_eq!(
        slo_text(&fixtures::slo()),
        "TTFT p99 ≤ 500 ms, TPOT p99 ≤ 40 ms and error rate ≤ 1 %"
    );
    assert_eq!(count_word(2), "two");
    assert_eq!(count_word(16), "16");
    let h = |v: &[&str]| hardware(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
    assert_eq!(h(&["H100", "H100"]), "on two H100");
    assert_eq!(h(&["H100", "A100", "H100"]), "on two H100 and one A100");
    assert_eq!(h(&[]), "on CPU (no GPU measured)");
    assert_eq!(
        join_and(&["a".into(), "b".into(), "c".into()]),
        "a, b and c"
    );
}

#[test]
fn a_probe_without_figures_says_why() {
    let p = ProbeReport {
        load: llms_shared::Load::Concurrency { concurrency: 8 },
        role: llms_shared::SearchRole::Probe,
        pass: false,
        values: BTreeMap::new(),
        failed: vec!["point".into()],
        error: Some("engine exited".into()),
    };
    assert_eq!(
        failure_text(&p, &fixtures::slo()),
        "no figures (engine exited)"
    );
}
