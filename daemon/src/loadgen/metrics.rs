//! The server's own token counters, read from its Prometheus `/metrics`, so the client's counts
//! can be checked against the engine's (vLLM, SGLang, TRT-LLM, llama.cpp and the reference
//! engine; names from ENGINES.md section 6).

use std::collections::HashMap;
use std::time::Duration;

/// Generation-token counters, by engine.
const OUTPUT: [&str; 5] = [
    "vllm:generation_tokens_total",
    "sglang:generation_tokens_total",
    "llamacpp:tokens_predicted_total",
    "trtllm_generation_tokens_total",
    "llmsref:generation_tokens_total",
];
/// Prompt-token counters, by engine (llama.cpp's leaves out cached tokens).
const INPUT: [&str; 5] = [
    "vllm:prompt_tokens_total",
    "sglang:prompt_tokens_total",
    "llamacpp:prompt_tokens_total",
    "trtllm_prompt_tokens_total",
    "llmsref:prompt_tokens_total",
];

/// One reading of the token counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Counters {
    /// Name of the generation counter found.
    pub output_metric: String,
    /// Its value, summed over label sets.
    pub output: f64,
    /// The prompt counter, where there is one.
    pub input: Option<f64>,
}

/// Sum each metric over its label sets. Comment and malformed lines are skipped.
pub fn parse(text: &str) -> HashMap<String, f64> {
    let mut m: HashMap<String, f64> = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => line.split_at(i),
            None => continue,
        };
        let rest = match rest.strip_prefix('{') {
            Some(r) => match r.rfind('}') {
                Some(j) => &r[j + 1..],
                None => continue,
            },
            None => rest,
        };
        if let Some(v) = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        {
            *m.entry(name.to_owned()).or_default() += v;
        }
    }
    m
}

/// The known token counters in a `/metrics` text, if any.
pub fn counters(text: &str) -> Option<Counters> {
    let m = parse(text);
    let (name, out) = OUTPUT.iter().find_map(|n| m.get(*n).map(|v| (*n, *v)))?;
    let input = INPUT.iter().find_map(|n| m.get(*n).copied());
    Some(Counters {
        output_metric: name.to_owned(),
        output: out,
        input,
    })
}

/// Read the counters from `{base}/metrics`, else `{base}/prometheus/metrics` (trtllm-serve,
/// whose `/metrics` is JSON); `None` when the server has no usable metrics.
pub async fn scrape(http: &reqwest::Client, base: &str) -> Option<Counters> {
    for path in ["/metrics", "/prometheus/metrics"] {
        let Ok(resp) = http
            .get(format!("{base}{path}"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
        else {
            return None;
        };
        if !resp.status().is_success() {
            continue;
        }
        if let Some(c) = resp.text().await.ok().as_deref().and_then(counters) {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_label_sets_and_skips_comments() {
        let t = "# HELP x\n# TYPE sglang:generation_tokens_total counter\n\
                 sglang:generation_tokens_total{is_streaming=\"true\",model_name=\"m {x}\"} 100.0\n\
                 sglang:generation_tokens_total{is_streaming=\"false\"} 28\n\
                 sglang:prompt_tokens_total{a=\"b\"} 7\nother 1\nbroken{\n";
        let c = counters(t).unwrap();
        assert_eq!(c.output_metric, "sglang:generation_tokens_total");
        assert_eq!(c.output, 128.0);
        assert_eq!(c.input, Some(7.0));
    }

    #[test]
    fn llamacpp_unlabelled() {
        let t = "# TYPE llamacpp:tokens_predicted_total counter\nllamacpp:tokens_predicted_total 4096\nllamacpp:prompt_tokens_total 320\n";
        let c = counters(t).unwrap();
        assert_eq!((c.output, c.input), (4096.0, Some(320.0)));
    }

    #[test]
    fn none_without_known_counters() {
        assert_eq!(counters("foo 1\n"), None);
    }
}
