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
    let mut gaps: Vec<u64> = records.iter().flat_map(|r| r.gaps_ns()).collect();
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

/// The point's prefix-cache hits: from `usage` when the server reports cached tokens (some
/// completed request has `prompt_tokens_details.cached_tokens`, and every completed one its
/// prompt tokens), summed over every request with prompt tokens, failed ones included (the
/// engine computed their prompts too); else from the engine's counters (named by `metric`).
/// A request without the field counts 0 cached: vLLM up to 0.20.2 and SGLang 0.5 leave it out
/// when nothing was cached (vLLM PR 44383 sends the 0 from then on).
///
/// `shared_tokens` is what the workload shares by design in every request beyond the
/// template (a shared prefix): hits up to the template and that many per request are
/// expected, not a bias.
pub(super) fn prefix_cache_hits(
    records: &[RequestRecord],
    server: Option<&ServerCheck>,
    metric: Option<String>,
    (template_tokens, shared_tokens): (Option<u64>, Option<u64>),
    unique: bool,
) -> Option<PrefixCacheHits> {
    let reported = |r: &&RequestRecord| r.usage.prompt_tokens.is_some();
    let completed = records.iter().filter(|r| r.error.is_none());
    let from_usage = completed.clone().any(|r| r.usage.cached_tokens.is_some())
        && completed.clone().all(|r| reported(&r));
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
    let per_request = template_tokens.unwrap_or(0) + shared_tokens.unwrap_or(0);
    let allowed = per_request.saturating_mul(requests);
    Some(PrefixCacheHits {
        source,
        cached_tokens: cached,
        prompt_tokens: prompt,
        hit_rate: cached as f64 / prompt as f64,
        template_tokens,
        shared_tokens,
        excess_hit_rate: cached.saturating_sub(allowed) as f64 / prompt as f64,
        unique_prompts: unique,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use llms_shared::Usage;

    fn rec(prompt: u64, cached: Option<u64>) -> RequestRecord {
        RequestRecord {
            usage: Usage {
                prompt_tokens: Some(prompt),
                cached_tokens: cached,
                ..Usage::default()
            },
            ..RequestRecord::default()
        }
    }

    /// vLLM up to 0.20.2 and SGLang leave `cached_tokens` out when it is 0: a point where some
    /// requests report it counts the others as 0 rather than fall back to the counters.
    #[test]
    fn a_request_without_the_field_counts_no_hits_when_others_report_them() {
        let records = [rec(100, Some(64)), rec(100, None), rec(100, Some(32))];
        let c = prefix_cache_hits(&records, None, None, (Some(4), None), true).unwrap();
        assert_eq!(
            (c.source.as_str(), c.cached_tokens, c.prompt_tokens),
            ("usage", 96, 300)
        );
        // Allowed: the template's 4 per request; the rest is excess.
        assert!((c.excess_hit_rate - (96.0 - 12.0) / 300.0).abs() < 1e-9);
        // A shared prefix's hits are the workload's, not a bias.
        let c = prefix_cache_hits(&records, None, None, (Some(4), Some(40)), true).unwrap();
        assert_eq!(c.shared_tokens, Some(40));
        assert_eq!(c.excess_hit_rate, 0.0);
        // No request reports it: the counters decide, and without them there is no figure.
        let none = [rec(100, None), rec(100, None)];
        assert!(prefix_cache_hits(&none, None, None, (None, None), true).is_none());
    }
}
