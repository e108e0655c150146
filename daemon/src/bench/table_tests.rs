//! Goldens: the exact text `llmsd bench` prints for known figures.

use super::*;
use llms_shared::{LatencyStats, ProbeReport, SearchOver, SearchRole, Steady, WorkloadReport};
use std::time::Duration;

fn lat(p50: f64, p99: f64) -> LatencyStats {
    LatencyStats {
        count: 64,
        mean: p50,
        p50,
        p90: p99,
        p95: p99,
        p99,
        max: p99,
    }
}

fn point() -> PointResult {
    let mut p = PointResult::empty(Load::Concurrency { concurrency: 8 });
    p.completed = 63;
    p.failed = 1;
    p.errors.insert("http_500".into(), 1);
    p.output_throughput = 1234.56;
    p.request_throughput = 9.5;
    p.goodput = 7.6;
    p.ttft_ms = lat(41.23, 180.4);
    p.itl_ms = lat(8.123, 12.5);
    p.tpot_ms = lat(8.5, 9.0);
    p.e2e_ms = lat(1120.0, 1400.0);
    p.flags = vec!["client_bound".into()];
    p.steady = Some(Steady {
        duration_s: 4.0,
        output_throughput: 1300.04,
        ..Steady::default()
    });
    p
}

#[test]
fn the_table_names_each_statistic() {
    let plain = Columns {
        slo: false,
        compact: false,
    };
    assert_eq!(
        header(plain),
        "load                      ok  fail  out tok/s    steady   req/s   TTFT p50/p99 ms  \
         ITL p50/p99 ms  TPOT p50   E2E p50  flags"
    );
    assert_eq!(
        row(&point(), plain),
        "concurrency 8             63     1     1234.6    1300.0    9.50      41.2 / 180.4     \
         8.12 / 12.5      8.50      1120  client_bound http_500=1"
    );
}

/// With objectives: goodput in requests/s, and the share of all requests (the failed one
/// included) that met them: 7.6 / 9.5 of the 63 completed, over 64.
#[test]
fn objectives_add_goodput_and_the_share_meeting_them() {
    let slo = Columns {
        slo: true,
        compact: false,
    };
    assert!(
        header(slo).ends_with("E2E p50  goodput  SLO %  flags"),
        "{}",
        header(slo)
    );
    let r = row(&point(), slo);
    assert!(r.contains("     1120     7.60   78.8  client_bound"), "{r}");
    let mut empty = point();
    empty.steady = None;
    (empty.completed, empty.failed, empty.request_throughput) = (0, 0, 0.0);
    let r = row(&empty, slo);
    // No steady window, no request: dashes, not a share of nothing.
    assert!(r.contains("         -    0.00"), "{r}");
    assert!(r.ends_with("7.60      -  client_bound"), "{r}");
}

#[test]
fn the_preamble_says_what_is_measured() {
    let r = BenchReport {
        version: 1,
        url: "http://gpu:8000".into(),
        endpoint: "chat".into(),
        model: "Qwen/Qwen2.5-3B-Instruct".into(),
        server: Some("vllm".into()),
        workload: Some(WorkloadReport {
            kind: "single".into(),
            turns: None,
            think_ms: None,
            session_header: None,
            turns_dist: None,
            think_exponential: false,
            trace: None,
            input_dist: None,
            output_dist: None,
            groups: None,
            prefix_tokens: None,
            zipf: None,
            input_tokens: Some(512),
            output_tokens: 128,
            seed: 0,
            unique_prompts: true,
            prompts: 72,
            prompts_sha256: String::new(),
        }),
        points: Vec::new(),
        search: None,
    };
    let loads = [
        Load::Concurrency { concurrency: 1 },
        Load::Concurrency { concurrency: 8 },
    ];
    assert_eq!(
        preamble(&r, &loads, None, (PointStop::Requests(64), 8)),
        "server    vllm (says /v1/models) at http://gpu:8000\n\
         model     Qwen/Qwen2.5-3B-Instruct\n\
         endpoint  chat (/v1/chat/completions)\n\
         workload  single, 512 input tokens, 128 output tokens\n\
         loads     concurrency 1, concurrency 8; 64 requests per point after 8 warm-up\n"
    );
    let search = SearchDef {
        over: SearchOver::Concurrency,
        min: 1.0,
        max: 64.0,
        resolution: None,
        slo: [("ttft_p99".to_owned(), 500.0)].into(),
    };
    let p = preamble(
        &r,
        &[],
        Some(&search),
        (PointStop::Duration(Duration::from_secs(30)), 0),
    );
    assert!(
        p.ends_with(
            "loads     a capacity search over concurrency 1..64 (ttft_p99=500); 30 s of requests per point\n"
        ),
        "{p}"
    );
}

#[test]
fn a_probe_says_its_verdict_and_figures() {
    let p = ProbeReport {
        load: Load::Concurrency { concurrency: 8 },
        role: SearchRole::Probe,
        pass: false,
        values: [
            ("tpot_p99".to_owned(), 41.23),
            ("error_rate".to_owned(), 0.0),
        ]
        .into(),
        failed: vec!["tpot_p99".into()],
        error: None,
    };
    assert_eq!(
        probe(&p),
        "probe fails (tpot_p99): error rate 0.000, TPOT p99 41.2 ms"
    );
}

/// On a terminal narrower than the full table, the columns that fit 80.
#[test]
fn a_narrow_terminal_gets_the_columns_that_fit() {
    let c = Columns {
        slo: true,
        compact: true,
    };
    let h = header(c);
    assert_eq!(
        h,
        "load           ok fail    tok/s   steady  TTFT p50/p99  ITL p50/p99  SLO%  flags"
    );
    let r = row(&point(), c);
    assert_eq!(
        r,
        "c=8            63    1   1234.6   1300.0    41.2/180.4    8.12/12.5  78.8  client_bound http_500=1"
    );
    assert_eq!(h.len(), 80);
}
