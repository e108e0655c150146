use super::*;
use llms_shared::{Arrival, RequestError, Usage};

const MS: u64 = 1_000_000;

/// A request sent at `start` ms, due at `due` ms, with a token every `gap` ms from `ttft`
/// on, `n` tokens in all.
fn req(due: u64, start: u64, ttft: u64, gap: u64, n: u64) -> RequestRecord {
    let chunks: Vec<(u64, u32)> = (0..n).map(|i| ((ttft + i * gap) * MS, 1)).collect();
    RequestRecord {
        due_ns: due * MS,
        start_ns: start * MS,
        end_ns: (ttft + (n - 1) * gap) * MS,
        chunks,
        usage: Usage {
            prompt_tokens: Some(10),
            completion_tokens: Some(n),
            cached_tokens: None,
        },
        ..Default::default()
    }
}

/// A closed loop of 2: two requests start together (the ramp, slow: TTFT 50 ms), then each
/// end starts the next. The window opens at the second start (0 ms: both at once), so the
/// two ramp requests are out; it closes at the last start.
#[test]
fn a_closed_loop_window_leaves_out_the_ramp_and_the_drain() {
    let c2 = Load::Concurrency { concurrency: 2 };
    // Ramp: 0..100 ms each (ttft 50, 6 tokens 10 ms apart).
    let mut rs = vec![req(0, 0, 50, 10, 6), req(0, 0, 50, 10, 6)];
    // Steady: ttft 10, 10 tokens 10 ms apart = 100 ms each, back to back on both slots.
    for k in 0..4 {
        rs.push(req(100 + 100 * k, 100 + 100 * k, 10, 10, 10));
        rs.push(req(100 + 100 * k, 100 + 100 * k, 10, 10, 10));
    }
    let s = steady(&c2, &rs).unwrap();
    assert_eq!(s.rule, "in_flight_target");
    assert_eq!((s.start_s, s.end_s), (0.0, 0.4));
    // Inside: the requests started at 100 and 200 ms (ending by 300 and 400 ms); the ones
    // started at 300 ms end at 400 but the window closes at the last start, 400 ms.
    assert_eq!((s.completed, s.failed), (6, 0));
    assert!((s.ttft_ms.p99 - 10.0).abs() < 0.01, "{:?}", s.ttft_ms);
    assert!((s.tpot_ms.mean - 10.0).abs() < 1e-9);
    // Tokens streamed inside [0, 400] ms, every request's that did.
    let inside: u64 = rs
        .iter()
        .flat_map(|r| r.chunks.iter().map(move |c| r.start_ns + c.0))
        .filter(|t| *t <= 400 * MS)
        .count() as u64;
    assert_eq!(s.output_tokens, inside);
    assert!((s.output_throughput - inside as f64 / 0.4).abs() < 1e-9);
    let a = achieved(&c2, &rs, Some(&s));
    assert_eq!(a.concurrency_max, 2);
    assert_eq!(a.concurrency_steady, Some(2.0));
    assert_eq!(a.ratio, Some(1.0));
    assert!(!off_target(&a));
}

/// Time-weighted in flight: one request 0..300 ms, another 100..200 ms: 1 for 200 ms and 2
/// for 100 ms of the 300, a mean of 4/3, a median of 1 and a 90th percentile of 2.
#[test]
fn concurrency_is_weighted_by_time() {
    let rs = vec![req(0, 0, 10, 10, 30), req(100, 100, 10, 10, 10)];
    let load = Load::Concurrency { concurrency: 2 };
    let a = achieved(&load, &rs, None);
    assert!(
        (a.concurrency_mean - (300.0 + 100.0) / 300.0).abs() < 0.01,
        "{a:?}"
    );
    assert_eq!(
        (a.concurrency_p50, a.concurrency_p90, a.concurrency_max),
        (1.0, 2.0, 2)
    );
    // No steady window given: nothing judged.
    assert_eq!(a.ratio, None);
}

/// An open loop is judged by its sends against its own schedule: a client that sent every
/// request late by a growing delay falls short and is flagged; one on time is not.
#[test]
fn an_open_loop_that_falls_behind_its_schedule_is_flagged() {
    let load = Load::Rate {
        rate: 10.0,
        arrival: Arrival::Constant,
        burstiness: None,
    };
    let on_time: Vec<_> = (0..20).map(|i| req(i * 100, i * 100, 20, 5, 4)).collect();
    let a = achieved(&load, &on_time, None);
    assert!((a.rate - 10.0).abs() < 1e-9 && a.rate_scheduled == Some(a.rate));
    assert!(!off_target(&a));
    let late: Vec<_> = (0..20).map(|i| req(i * 100, i * 120, 20, 5, 4)).collect();
    let a = achieved(&load, &late, None);
    assert!((a.ratio.unwrap() - 100.0 / 120.0).abs() < 1e-9, "{a:?}");
    assert!(off_target(&a));
    // The open loop's window opens one median latency (35 ms) after the first send.
    let s = steady(&load, &on_time).unwrap();
    assert_eq!(s.rule, "one_latency");
    assert!((s.start_s - 0.035).abs() < 1e-6, "{}", s.start_s);
}

#[test]
fn batches_have_no_window_and_a_short_point_says_why() {
    let rs = vec![req(0, 0, 10, 10, 5)];
    assert!(steady(&Load::Batch { batch: 1 }, &rs).is_none());
    // Four in flight at once and nothing sent after: an empty window, with its reason.
    let rs: Vec<_> = (0..4).map(|_| req(0, 0, 10, 10, 5)).collect();
    let s = steady(&Load::Concurrency { concurrency: 4 }, &rs).unwrap();
    assert_eq!((s.completed, s.duration_s), (0, 0.0));
    assert!(s.note.unwrap().contains("more requests"));
}

/// A failed request inside the window counts as failed there, not in its latencies.
#[test]
fn failures_inside_the_window_are_counted_apart() {
    let mut rs = vec![req(0, 0, 10, 10, 5), req(0, 0, 10, 10, 5)];
    let mut bad = req(50, 50, 10, 10, 2);
    bad.error = Some(RequestError {
        kind: "http_500".into(),
        message: String::new(),
    });
    rs.push(bad);
    rs.push(req(100, 100, 10, 10, 5));
    let s = steady(&Load::Concurrency { concurrency: 2 }, &rs).unwrap();
    assert_eq!((s.completed, s.failed), (0, 1));
}
