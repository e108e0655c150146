//! The server's own token counters, read from its Prometheus `/metrics`, so the client's counts
//! can be checked against the engine's. The names are the kinds table's (ENGINES.md section
//! 6): whichever kind's counters the server exports are read.

use std::collections::HashMap;
use std::time::Duration;

/// One reading of the token counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Counters {
    /// Name of the generation counter found.
    pub output_metric: String,
    /// Its value, summed over label sets.
    pub output: f64,
    /// The prompt counter, where there is one.
    pub input: Option<f64>,
    /// The prefix-cache counters: (name of the cached-token counter, cached, out of).
    pub cache: Option<(String, f64, f64)>,
    /// The inter-token latency histogram, where the engine has one.
    pub itl: Option<Histogram>,
}

/// A Prometheus histogram, summed over label sets: cumulative counts at upper bounds
/// (seconds, `+Inf` last).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Its name (without `_bucket`).
    pub name: String,
    /// (upper bound, cumulative count), ascending.
    pub buckets: Vec<(f64, f64)>,
}

impl Histogram {
    /// Observations counted.
    pub fn count(&self) -> f64 {
        self.buckets.last().map_or(0.0, |b| b.1)
    }

    /// `self - before`, bucket by bucket (the observations between two readings); `None` when
    /// the bounds differ.
    pub fn since(&self, before: &Histogram) -> Option<Histogram> {
        if self.buckets.len() != before.buckets.len()
            || self
                .buckets
                .iter()
                .zip(&before.buckets)
                .any(|(a, b)| a.0 != b.0)
        {
            return None;
        }
        let buckets = self
            .buckets
            .iter()
            .zip(&before.buckets)
            .map(|(a, b)| (a.0, a.1 - b.1))
            .collect();
        Some(Histogram {
            name: self.name.clone(),
            buckets,
        })
    }

    /// The `q` quantile in seconds, interpolated linearly within its bucket (Prometheus's
    /// `histogram_quantile`); the last finite bound when it falls in `+Inf`.
    pub fn quantile(&self, q: f64) -> f64 {
        let total = self.count();
        if total <= 0.0 {
            return 0.0;
        }
        let rank = q * total;
        let (mut lo, mut below) = (0.0, 0.0);
        for &(le, c) in &self.buckets {
            if c >= rank {
                if le.is_infinite() {
                    return lo;
                }
                let inside = c - below;
                let f = if inside > 0.0 {
                    (rank - below) / inside
                } else {
                    1.0
                };
                return lo + (le - lo) * f;
            }
            (lo, below) = (le, c);
        }
        lo
    }
}

/// The buckets of histogram `name` in `text`, summed over label sets other than `le`.
pub fn histogram(text: &str, name: &str) -> Option<Histogram> {
    let prefix = format!("{name}_bucket{{");
    let mut by_le: Vec<(f64, f64)> = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix(&prefix) else {
            continue;
        };
        let Some(close) = rest.rfind('}') else {
            continue;
        };
        let (labels, value) = (&rest[..close], &rest[close + 1..]);
        let Some(le) = labels
            .split(',')
            .find_map(|l| l.trim().strip_prefix("le=\""))
        else {
            continue;
        };
        let le = match le.trim_end_matches('"') {
            "+Inf" => f64::INFINITY,
            v => match v.parse::<f64>() {
                Ok(x) => x,
                Err(_) => continue,
            },
        };
        let Some(v) = value
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        else {
            continue;
        };
        match by_le.iter_mut().find(|b| b.0 == le) {
            Some(b) => b.1 += v,
            None => by_le.push((le, v)),
        }
    }
    if by_le.is_empty() {
        return None;
    }
    by_le.sort_by(|a, b| a.0.total_cmp(&b.0));
    Some(Histogram {
        name: name.to_owned(),
        buckets: by_le,
    })
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
    let names = crate::kinds::metric_names;
    let (name, out) = names().find_map(|k| m.get(k.generation).map(|v| (k.generation, *v)))?;
    let input = names().find_map(|k| m.get(k.prompt).copied());
    let cache = names().filter_map(|k| k.cached).find_map(|(hits, of)| {
        let h = *m.get(hits)?;
        let of = match of {
            Some(q) => *m.get(q)?,
            None => h + input?,
        };
        Some((hits.to_owned(), h, of))
    });
    let itl = names()
        .filter_map(|k| k.itl)
        .find_map(|n| histogram(text, n));
    Some(Counters {
        output_metric: name.to_owned(),
        output: out,
        input,
        cache,
        itl,
    })
}

/// Read the counters from each kind's metrics path in turn: `{base}/metrics`, else
/// `{base}/prometheus/metrics` (trtllm-serve, whose `/metrics` is JSON); `None` when the
/// server has no usable metrics.
pub async fn scrape(http: &reqwest::Client, base: &str) -> Option<Counters> {
    for path in crate::kinds::metrics_paths() {
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
        let text = super::client::text_capped(resp, super::client::METRICS_CAP).await;
        if let Some(c) = text.as_deref().and_then(counters) {
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
    fn cache_counters_by_engine() {
        let t = "llamacpp:tokens_predicted_total 10\nllamacpp:prompt_tokens_total 300\nllamacpp:prompt_tokens_cached_total 20\n";
        let c = counters(t).unwrap();
        assert_eq!(
            c.cache,
            Some(("llamacpp:prompt_tokens_cached_total".into(), 20.0, 320.0))
        );
        let t = "vllm:generation_tokens_total{a=\"b\"} 10\nvllm:prefix_cache_hits_total{a=\"b\"} 16\nvllm:prefix_cache_queries_total{a=\"b\"} 160\n";
        let c = counters(t).unwrap();
        assert_eq!(c.cache.unwrap().1, 16.0);
    }

    #[test]
    fn histograms_sum_label_sets_and_interpolate() {
        let t = "# TYPE x histogram\n\
                 vllm:inter_token_latency_seconds_bucket{engine=\"0\",le=\"0.01\",m=\"a\"} 10.0\n\
                 vllm:inter_token_latency_seconds_bucket{engine=\"0\",le=\"0.02\",m=\"a\"} 30.0\n\
                 vllm:inter_token_latency_seconds_bucket{engine=\"0\",le=\"+Inf\",m=\"a\"} 40.0\n\
                 vllm:inter_token_latency_seconds_bucket{engine=\"1\",le=\"0.01\",m=\"a\"} 0.0\n\
                 vllm:inter_token_latency_seconds_bucket{engine=\"1\",le=\"0.02\",m=\"a\"} 0.0\n\
                 vllm:inter_token_latency_seconds_bucket{engine=\"1\",le=\"+Inf\",m=\"a\"} 0.0\n\
                 vllm:inter_token_latency_seconds_count{engine=\"0\"} 40.0\n";
        let h = histogram(t, "vllm:inter_token_latency_seconds").unwrap();
        assert_eq!(h.count(), 40.0);
        assert_eq!(h.buckets.len(), 3);
        // The median is the 20th of 40: halfway into the (0.01, 0.02] bucket.
        assert!((h.quantile(0.5) - 0.015).abs() < 1e-12);
        assert!((h.quantile(0.125) - 0.005).abs() < 1e-12);
        // In +Inf: the last finite bound.
        assert_eq!(h.quantile(0.99), 0.02);
        let before = Histogram {
            name: h.name.clone(),
            buckets: vec![(0.01, 5.0), (0.02, 5.0), (f64::INFINITY, 5.0)],
        };
        assert_eq!(h.since(&before).unwrap().count(), 35.0);
        assert!(
            h.since(&Histogram {
                name: String::new(),
                buckets: vec![]
            })
            .is_none()
        );
    }

    #[test]
    fn none_without_known_counters() {
        assert_eq!(counters("foo 1\n"), None);
    }
}
