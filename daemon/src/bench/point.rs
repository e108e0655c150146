//! One point's measured part: the engine's counters, the requests, the counters again, and
//! the point's figures with the checks that judge them.

use super::checks::{
    COUNTER_BUDGET, MAX_EXCESS_HITS, cross_check, prefix_cache_hits, settled_counters,
};
use super::{BenchError, RunConfig, Shape, Window};
use crate::loadgen::live::Live;
use crate::loadgen::runner::{PointSpec, Workload, run_point};
use crate::loadgen::stats::{Expectations, aggregate};
use llms_shared::{Load, PointResult, RequestRecord};
use std::sync::Arc;

/// Every request's input tokens as the server should count them, where the workload makes
/// them exact: `--input-tokens` itself for single prompts; the template, the prefix and the
/// request's own `--input-tokens` for a shared prefix (when the template was measured).
pub(super) fn input_target(c: &RunConfig, template_tokens: Option<u64>) -> Option<u32> {
    let own = c.workload.input_tokens?;
    match c.workload.shape {
        Shape::Single => Some(own),
        Shape::SharedPrefix { prefix_tokens, .. } => {
            let t = u32::try_from(template_tokens?).ok()?;
            t.checked_add(prefix_tokens)?.checked_add(own)
        }
        // Only a session's first turn is that long; later ones carry its history.
        Shape::Conversation { .. } => None,
        // A trace gives each request its own length.
        Shape::Trace { .. } => None,
    }
}

/// Counters, the measured requests, counters again, figures. Moves the workload's prompt
/// cursor past every prompt it used.
pub(super) async fn measure(
    c: &RunConfig,
    w: &mut Workload,
    (http, base): (&reqwest::Client, &str),
    load: Load,
    live: Option<Arc<Live>>,
    window: &dyn Window,
    (template_tokens, input_target): (Option<u64>, Option<u32>),
) -> Result<(PointResult, Vec<RequestRecord>), BenchError> {
    // Counter reads are bounded: a server slow to answer /metrics cannot hold the point.
    let before = tokio::time::timeout(COUNTER_BUDGET, settled_counters(http, base))
        .await
        .ok()
        .flatten();
    let (requests, duration) = c.stop.split();
    let spec = PointSpec {
        load: load.clone(),
        requests,
        duration,
        max_concurrency: c.max_concurrency,
        seed: c.seed,
    };
    let measured = Workload {
        client: w.client.clone().with_live(live),
        ..w.clone()
    };
    window.opened();
    let run = run_point(&measured, &spec).await;
    window.closed().await;
    let run = run.map_err(|e| BenchError::Usage(e.to_string()))?;
    w.first_prompt += run.used;
    let exp = Expectations {
        // A trace or drawn lengths give each request its own output length.
        output_tokens: match (&c.workload.shape, c.workload.output_dist) {
            (Shape::Trace { .. }, _) | (_, Some(_)) => None,
            _ => Some(c.workload.output_tokens),
        },
        per_request_input: c.workload.input_dist.is_some(),
        input_tokens: input_target,
        slo: c.slo.unwrap_or_default(),
        max_error_rate: c.max_error_rate,
    };
    let mut point = aggregate(
        load,
        &run.records,
        &exp,
        run.client,
        run.batch_ns.as_deref(),
    );
    if let Some(why) = &run.cut {
        point.cut = Some(why.clone());
        point.flags.push("point_cut".into());
    }
    let checked = tokio::time::timeout(
        COUNTER_BUDGET,
        cross_check(http, base, before, &run.records),
    );
    let (server, cache_metric) = match checked.await.ok().flatten() {
        Some((s, m)) => (Some(s), m),
        None => (None, None),
    };
    point.server = server;
    if let Some(s) = &point.server {
        if s.output_tokens < 0.0 {
            // A counter only goes down when the engine process started over.
            point.flags.push("engine_restarted".into());
        } else if s.agrees == Some(false) {
            point.flags.push("server_count_mismatch".into());
        }
    }
    point.prefix_cache = prefix_cache_hits(
        &run.records,
        point.server.as_ref(),
        cache_metric,
        (template_tokens, c.workload.shape.shared_tokens()),
        !c.workload.verbatim_prompts,
    );
    point.cached_tokens = point.prefix_cache.as_ref().map(|c| c.cached_tokens);
    // A conversation's later turns are meant to reuse their own history: its hits are
    // measured, not judged.
    if !c.workload.shape.judges_hits()
        && let Some(p) = point.prefix_cache.as_mut()
    {
        p.excess_hit_rate = 0.0;
    }
    if point
        .prefix_cache
        .as_ref()
        .is_some_and(|c| c.excess_hit_rate > MAX_EXCESS_HITS)
    {
        point.flags.push("prefix_cache_hits".into());
    }
    Ok((point, run.records))
}
