//! What the engine says about a point: its counters before and after (output tokens, prompt
//! tokens, prefix-cache hits) and its inter-token histogram, against what llmsd measured.

use crate::loadgen::metrics;
use crate::loadgen::stats::server_reported_output;
use llms_shared::{ItlCheck, PrefixCacheHits, RequestRecord, ServerCheck};
use std::time::Duration;

/// The longest the counters are read for, before or after a point.
pub(super) const COUNTER_BUDGET: Duration = Duration::from_secs(10);

/// The engine's counters once they stop moving (the last warm-up requests may not be counted
/// the instant their streams end).
pub(super) async fn settled_counters(
    http: &reqwest::Client,
    base: &str,
) -> Option<metrics::Counters> {
    let mut last = metrics::scrape(http, base).await?;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = metrics::scrape(http, base).await?;
        if now.output == last.output {
            return Some(now);
        }
        last = now;
    }
    Some(last)
}

/// Read the counters after a point (again, briefly, if the engine has not counted the last
/// requests yet) and compare with what the client saw. Agreement is only judged when the
/// server's count is knowable (see [`server_reported_output`]). Also returns the name of the
/// engine's prefix-cache counter, where it has one.
pub(super) async fn cross_check(
    http: &reqwest::Client,
    base: &str,
    before: Option<metrics::Counters>,
    records: &[RequestRecord],
) -> Option<(ServerCheck, Option<String>)> {
    let before = before?;
    let want = server_reported_output(records);
    let mut after = metrics::scrape(http, base).await?;
    if let Some(w) = want {
        for _ in 0..10 {
            let delta = after.output - before.output;
            if delta < 0.0 || (delta - w as f64).abs() < 0.5 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            after = metrics::scrape(http, base).await?;
        }
    }
    let output_tokens = after.output - before.output;
    let cache = match (&after.cache, &before.cache) {
        (Some(a), Some(b)) if a.0 == b.0 => Some((a.0.clone(), a.1 - b.1, a.2 - b.2)),
        _ => None,
    };
    let itl = match (&after.itl, &before.itl) {
        (Some(a), Some(b)) => a.since(b).map(|h| itl_check(&h, records)),
        _ => None,
    };
    let check = ServerCheck {
        metric: after.output_metric,
        output_tokens,
        input_tokens: after.input.zip(before.input).map(|(a, b)| a - b),
        agrees: want.map(|w| (output_tokens - w as f64).abs() < 0.5),
        client_output_tokens: want,
        cached_tokens: cache.as_ref().map(|c| c.1),
        cache_queried_tokens: cache.as_ref().map(|c| c.2),
        itl,
    };
    Some((check, cache.map(|c| c.0)))
}

/// The engine's inter-token histogram over the point against the gaps llmsd measured (every
/// request's, failed ones included: the engine observed those too).
fn itl_check(h: &metrics::Histogram, records: &[RequestRecord]) -> ItlCheck {
    let mut gaps: Vec<u64> = records
        .iter()
        .flat_map(|r| r.chunks.windows(2).map(|w| w[1].0.saturating_sub(w[0].0)))
        .collect();
    gaps.sort_unstable();
    let engine_total = h.count();
    let mut max_cdf_diff: f64 = 0.0;
    if engine_total > 0.0 && !gaps.is_empty() {
        for &(le, c) in h.buckets.iter().filter(|b| b.0.is_finite()) {
            let le_ns = (le * 1e9).round() as u64;
            let mine = gaps.partition_point(|g| *g <= le_ns) as f64 / gaps.len() as f64;
            max_cdf_diff = max_cdf_diff.max((mine - c / engine_total).abs());
        }
    }
    ItlCheck {
        metric: h.name.clone(),
        engine_gaps: engine_total.max(0.0).round() as u64,
        client_gaps: gaps.len() as u64,
        engine_p50_ms: h.quantile(0.5) * 1e3,
        engine_p99_ms: h.quantile(0.99) * 1e3,
        max_cdf_diff,
    }
}

/// Prefix-cache hits beyond the template's share above this part of the prompt tokens flag a
/// point `prefix_cache_hits`.
pub const MAX_EXCESS_HITS: f64 = 0.05;

/// The point's prefix-cache hits: from `usage` when every completed request reported cached
/// tokens (summed over every request that did, failed ones included: the engine computed
/// their prompts too), else from the engine's counters (named by `metric`).
pub(super) fn prefix_cache_hits(
    records: &[RequestRecord],
    server: Option<&ServerCheck>,
    metric: Option<String>,
    template_tokens: Option<u64>,
    unique: bool,
) -> Option<PrefixCacheHits> {
    let reported =
        |r: &&RequestRecord| r.usage.cached_tokens.is_some() && r.usage.prompt_tokens.is_some();
    let completed = records.iter().filter(|r| r.error.is_none());
    let from_usage = completed.clone().count() > 0 && completed.clone().all(|r| reported(&r));
    let (source, cached, prompt, requests) = if from_usage {
        let with: Vec<&RequestRecord> = records.iter().filter(reported).collect();
        let cached = with.iter().filter_map(|r| r.usage.cached_tokens).sum();
        let prompt = with.iter().filter_map(|r| r.usage.prompt_tokens).sum();
        ("usage".to_owned(), cached, prompt, with.len() as u64)
    } else {
        let s = server?;
        let (c, q) = (s.cached_tokens?, s.cache_queried_tokens?);
        if c < 0.0 || q <= 0.0 {
            return None;
        }
        (
            metric?,
            c.round() as u64,
            q.round() as u64,
            records.len() as u64,
        )
    };
    if prompt == 0 {
        return None;
    }
    let allowed = template_tokens.unwrap_or(0).saturating_mul(requests);
    Some(PrefixCacheHits {
        source,
        cached_tokens: cached,
        prompt_tokens: prompt,
        hit_rate: cached as f64 / prompt as f64,
        template_tokens,
        excess_hit_rate: cached.saturating_sub(allowed) as f64 / prompt as f64,
        unique_prompts: unique,
    })
}
