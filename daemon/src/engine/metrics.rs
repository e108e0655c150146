//! Engine `/metrics` (Prometheus text) mapped onto the common [`EngineMetrics`], and the scrape
//! loop of a ready engine. The names are the kinds table's (ENGINES.md section 6); a server's
//! family is found by the names it exports, so an external server maps too.

use crate::kinds::MetricNames;
use crate::loadgen::metrics::samples;
use llms_shared::EngineMetrics;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// Between scrapes.
const EVERY: Duration = Duration::from_secs(1);

/// Map a `/metrics` text onto the common names (`unix_ms` left 0). Series are summed over their
/// label sets (vLLM's data-parallel engines), except that SGLang's per-tensor-parallel-rank
/// copies count once (rank 0) and KV usage, a ratio, is averaged. `None` where no known name
/// is present.
pub fn map(text: &str) -> EngineMetrics {
    let mut sums: HashMap<&str, f64> = HashMap::new();
    let mut counts: HashMap<&str, f64> = HashMap::new();
    // Every TP rank of SGLang reports the same scheduler gauges: keep rank 0's.
    for s in samples(text).filter(|s| s.label("tp_rank").is_none_or(|r| r == "0")) {
        *sums.entry(s.name).or_default() += s.value;
        *counts.entry(s.name).or_default() += 1.0;
    }
    let first = |pick: fn(&MetricNames) -> Option<&'static str>| {
        crate::kinds::metric_names()
            .filter_map(pick)
            .find_map(|n| sums.get(n).map(|v| (n, *v)))
    };
    EngineMetrics {
        unix_ms: 0,
        running: first(|f| Some(f.running)).map(|(_, v)| v),
        waiting: first(|f| Some(f.waiting)).map(|(_, v)| v),
        kv_cache_usage: first(|f| f.kv).map(|(n, v)| v / counts.get(n).copied().unwrap_or(1.0)),
        prompt_tokens_total: first(|f| Some(f.prompt)).map(|(_, v)| v),
        generation_tokens_total: first(|f| Some(f.generation)).map(|(_, v)| v),
    }
}

/// Scrape `url` about once a second until `cancel`, handing each mapped reading to `sample`.
/// Failed or empty scrapes are skipped (the engine may have no metrics).
pub(crate) async fn scrape_loop(
    http: reqwest::Client,
    url: String,
    cancel: CancellationToken,
    sample: impl Fn(EngineMetrics) + Send,
) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let got = tokio::select! {
            () = cancel.cancelled() => return,
            r = fetch(&http, &url) => r,
        };
        if let Some(mut m) = got {
            m.unix_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            sample(m);
        }
    }
}

/// The version an engine reports: the first of `paths` ((path, JSON key)) that answers.
pub(crate) async fn version(
    http: &reqwest::Client,
    base: &str,
    paths: &[(&str, &str)],
) -> Option<String> {
    for (path, key) in paths {
        let Ok(resp) = http
            .get(format!("{base}{path}"))
            .timeout(EVERY * 5)
            .send()
            .await
        else {
            continue;
        };
        if !resp.status().is_success() {
            continue;
        }
        let Some(text) = crate::loadgen::client::text_capped(resp, 1 << 20).await else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        match &v[*key] {
            serde_json::Value::String(s) if !s.is_empty() => return Some(s.clone()),
            serde_json::Value::Null => {}
            other => return Some(other.to_string()),
        }
    }
    None
}

async fn fetch(http: &reqwest::Client, url: &str) -> Option<EngineMetrics> {
    let resp = http.get(url).timeout(EVERY * 2).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let m =
        map(&crate::loadgen::client::text_capped(resp, crate::loadgen::client::METRICS_CAP).await?);
    let empty = EngineMetrics::default();
    (m != empty).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vllm_two_engines_summed_kv_averaged() {
        let t = "# TYPE vllm:num_requests_running gauge\n\
            vllm:num_requests_running{model_name=\"m\",engine=\"0\"} 3\n\
            vllm:num_requests_running{model_name=\"m\",engine=\"1\"} 4\n\
            vllm:num_requests_waiting{model_name=\"m\",engine=\"0\"} 1\n\
            vllm:kv_cache_usage_perc{model_name=\"m\",engine=\"0\"} 0.2\n\
            vllm:kv_cache_usage_perc{model_name=\"m\",engine=\"1\"} 0.4\n\
            vllm:prompt_tokens_total{model_name=\"m\",engine=\"0\"} 100\n\
            vllm:generation_tokens_total{model_name=\"m\",engine=\"0\"} 2.5e3\n";
        let m = map(t);
        assert_eq!(m.running, Some(7.0));
        assert_eq!(m.waiting, Some(1.0));
        assert!((m.kv_cache_usage.unwrap() - 0.3).abs() < 1e-9);
        assert_eq!(m.prompt_tokens_total, Some(100.0));
        assert_eq!(m.generation_tokens_total, Some(2500.0));
    }

    #[test]
    fn sglang_tp_ranks_count_once() {
        let g = |name: &str, rank: u32, v: f64| {
            format!("{name}{{model_name=\"m\",tp_rank=\"{rank}\",pp_rank=\"0\"}} {v}\n")
        };
        let mut t = String::new();
        for r in 0..2 {
            t += &g("sglang:num_running_reqs", r, 5.0);
            t += &g("sglang:num_queue_reqs", r, 2.0);
            t += &g("sglang:token_usage", r, 0.5);
        }
        t += "sglang:prompt_tokens_total{model_name=\"m\",is_streaming=\"true\"} 10\n";
        t += "sglang:prompt_tokens_total{model_name=\"m\",is_streaming=\"false\"} 5\n";
        t += "sglang:generation_tokens_total{model_name=\"m\",is_streaming=\"true\"} 64\n";
        let m = map(&t);
        assert_eq!((m.running, m.waiting), (Some(5.0), Some(2.0)));
        assert_eq!(m.kv_cache_usage, Some(0.5));
        assert_eq!(m.prompt_tokens_total, Some(15.0));
        assert_eq!(m.generation_tokens_total, Some(64.0));
    }

    #[test]
    fn trtllm() {
        let t = "trtllm_num_requests_running{model_name=\"m\",engine_type=\"trtllm\"} 8\n\
            trtllm_num_requests_waiting{model_name=\"m\",engine_type=\"trtllm\"} 0\n\
            trtllm_kv_cache_utilization{model_name=\"m\",engine_type=\"trtllm\"} 0.75\n\
            trtllm_prompt_tokens_total{model_name=\"m\",engine_type=\"trtllm\"} 42\n\
            trtllm_generation_tokens_total{model_name=\"m\",engine_type=\"trtllm\"} 43\n";
        let m = map(t);
        assert_eq!(m.running, Some(8.0));
        assert_eq!(m.waiting, Some(0.0));
        assert_eq!(m.kv_cache_usage, Some(0.75));
        assert_eq!(m.prompt_tokens_total, Some(42.0));
        assert_eq!(m.generation_tokens_total, Some(43.0));
    }

    #[test]
    fn llamacpp_has_no_kv() {
        let t = "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.\n\
            # TYPE llamacpp:prompt_tokens_total counter\nllamacpp:prompt_tokens_total 320\n\
            llamacpp:tokens_predicted_total 4096\nllamacpp:requests_processing 2\n\
            llamacpp:requests_deferred 1\nllamacpp:n_tokens_max 700\n";
        let m = map(t);
        assert_eq!(m.running, Some(2.0));
        assert_eq!(m.waiting, Some(1.0));
        assert_eq!(m.kv_cache_usage, None);
        assert_eq!(m.prompt_tokens_total, Some(320.0));
        assert_eq!(m.generation_tokens_total, Some(4096.0));
    }

    #[test]
    fn reference_engine_and_unknown_text() {
        let t = "# TYPE llmsref:requests_running gauge\nllmsref:requests_running 1\n\
            llmsref:requests_waiting 0\nllmsref:kv_cache_usage_perc 0.000100\n\
            llmsref:requests_total 3\nllmsref:prompt_tokens_total 30\n\
            llmsref:generation_tokens_total 48\n";
        let m = map(t);
        assert_eq!(m.running, Some(1.0));
        assert_eq!(m.kv_cache_usage, Some(0.0001));
        assert_eq!(m.generation_tokens_total, Some(48.0));
        assert_eq!(map("foo 1\n"), EngineMetrics::default());
    }
}
