#![allow(clippy::unwrap_used)]

use super::*;
use crate::fixtures::sweep;
use llms_shared::{ItlCheck, PrefixCacheHits, ServerCheck};

fn server(itl: Option<ItlCheck>) -> ServerCheck {
    ServerCheck {
        metric: "vllm:generation_tokens_total".into(),
        output_tokens: 8192.0,
        input_tokens: None,
        agrees: Some(true),
        client_output_tokens: None,
        cached_tokens: None,
        cache_queried_tokens: None,
        itl,
    }
}

/// vLLM's histogram: four points with equal gap counts, one where llmsd saw fewer gaps (the
/// old rule that skipped empty chunks); llama.cpp has no histogram and no row.
#[test]
fn itl_table_counts_gaps_against_the_engines_histogram() {
    let (j, mut points) = sweep();
    let mut k = 0;
    for r in points.iter_mut().filter(|r| r.engine == "vllm") {
        let p = r.point.as_mut().unwrap();
        k += 1;
        let client = if k == 5 { 8060 } else { 8128 };
        p.server = Some(server(Some(ItlCheck {
            metric: "vllm:inter_token_latency_seconds".into(),
            engine_gaps: 8128,
            client_gaps: client,
            engine_p50_ms: 5.0,
            engine_p99_ms: 9.0,
            max_cdf_diff: 0.01 * k as f64,
        })));
    }
    let t = itl_md(&[(j, points)]);
    assert!(
        t.contains("| 3 | vllm | vllm:inter_token_latency_seconds | 5 | 40572 | 40640 | 0.050 |"),
        "{t}"
    );
    assert!(t.contains("gaps equal in 4, DIFFER in 1"), "{t}");
    assert!(!t.contains("llamacpp"), "{t}");
    let (j, points) = sweep();
    assert!(itl_md(&[(j, points)]).starts_with("No engine inter-token histogram"));
}

/// Hits per engine: totals, the worst excess over the template and the flagged points.
#[test]
fn cache_table_totals_hits_and_counts_flagged_points() {
    let (j, mut points) = sweep();
    for (i, r) in points
        .iter_mut()
        .filter(|r| r.engine == "llamacpp" && r.point.is_some())
        .enumerate()
    {
        let p = r.point.as_mut().unwrap();
        let excess = if i == 1 { 0.9 } else { 0.0 };
        if i == 1 {
            p.flags.push("prefix_cache_hits".into());
        }
        p.prefix_cache = Some(PrefixCacheHits {
            source: "usage".into(),
            cached_tokens: if i == 1 { 9000 } else { 100 },
            prompt_tokens: 10_000,
            hit_rate: 0.0,
            template_tokens: Some(18),
            shared_tokens: None,
            excess_hit_rate: excess,
            unique_prompts: i != 1,
        });
    }
    let t = cache_md(&[(j, points)]);
    assert!(
        t.contains(
            "| 3 | llamacpp | usage | 4 | 9300 / 40000 | 23.2 % | 90.0 % | 1 | verbatim in 1 |"
        ),
        "{t}"
    );
    assert!(!t.contains("| vllm |"), "{t}");
}

/// Conversation points get a row each with every turn's TTFT; others none.
#[test]
fn turns_table_has_each_turn_of_conversation_points() {
    let (j, mut points) = sweep();
    assert_eq!(
        turns_md(&[(j.clone(), points.clone())]),
        "No conversation points.\n"
    );
    let p = points[0].point.as_mut().unwrap();
    for (t, ms) in [("1", 20.0), ("2", 12.5), ("10", 30.0)] {
        let mut l = llms_shared::LatencyStats::default();
        (l.p50, l.p99, l.count) = (ms, ms * 2.0, 4);
        p.ttft_by_turn_ms.insert(t.into(), l);
    }
    let t = turns_md(&[(j, points)]);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 3, "{t}");
    // In turn order, not the keys' text order.
    assert!(lines[0].ends_with("| turn 1 | turn 2 | turn 10 |"), "{t}");
    assert!(
        lines[2].ends_with("| 20.0 / 40.0 | 12.5 / 25.0 | 30.0 / 60.0 |"),
        "{t}"
    );
}

/// The uncached split: buckets in number order, titled by their bound.
#[test]
fn uncached_table_orders_buckets_by_size() {
    let (j, mut points) = sweep();
    assert!(uncached_md(&[(j.clone(), points.clone())]).starts_with("No engine reported"));
    let p = points[0].point.as_mut().unwrap();
    for (b, ms) in [("128", 40.0), ("16", 5.0)] {
        let mut l = llms_shared::LatencyStats::default();
        (l.p50, l.p99) = (ms, ms);
        p.ttft_by_uncached_ms.insert(b.into(), l);
    }
    let t = uncached_md(&[(j, points)]);
    assert!(
        t.lines().next().unwrap().ends_with("| ≤ 16 | ≤ 128 |"),
        "{t}"
    );
    assert!(
        t.lines()
            .nth(2)
            .unwrap()
            .ends_with("| 5.0 / 5.0 | 40.0 / 40.0 |"),
        "{t}"
    );
}

/// Points with different buckets: every bucket is a column and each figure sits under its
/// own bucket (a point without one has an empty cell there).
#[test]
fn each_figure_sits_under_its_own_bucket() {
    let (j, mut points) = sweep();
    let mut set = |i: usize, buckets: &[(&str, f64)]| {
        let p = points[i].point.as_mut().unwrap();
        for (b, ms) in buckets {
            let mut l = llms_shared::LatencyStats::default();
            (l.p50, l.p99) = (*ms, *ms);
            p.ttft_by_uncached_ms.insert((*b).into(), l);
        }
    };
    set(0, &[("16", 5.0), ("128", 40.0)]);
    set(1, &[("64", 20.0)]);
    let t = uncached_md(&[(j, points)]);
    let lines: Vec<&str> = t.lines().collect();
    assert!(lines[0].ends_with("| ≤ 16 | ≤ 64 | ≤ 128 |"), "{t}");
    assert!(lines[2].ends_with("| 5.0 / 5.0 |  | 40.0 / 40.0 |"), "{t}");
    assert!(lines[3].ends_with("|  | 20.0 / 20.0 |  |"), "{t}");
}
