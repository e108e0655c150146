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

/// One sample line: `name{label="value",...} value [timestamp]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// The metric name (`vllm:generation_tokens_total`, `x_bucket`, ...).
    pub name: &'a str,
    /// Its labels, in order, with escapes (`\\`, `\"`, `\n`) undone.
    pub labels: Vec<(&'a str, String)>,
    /// The value (`NaN`, `+Inf` and `-Inf` included).
    pub value: f64,
}

impl Sample<'_> {
    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The sample lines of a Prometheus text (format 0.0.4, or OpenMetrics text), in order.
/// Comments, blank lines and lines that do not parse are skipped: a server's odd line costs
/// that line only. Nothing here panics or allocates more than the text's size.
pub fn samples(text: &str) -> impl Iterator<Item = Sample<'_>> {
    text.lines().filter_map(sample)
}

/// One line, if it is a well-formed sample.
pub fn sample(line: &str) -> Option<Sample<'_>> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut rest = &line[end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            rest = rest.trim_start_matches([' ', ',']);
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let k_end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
            let key = &rest[..k_end];
            let r = rest[k_end..].trim_start().strip_prefix('=')?;
            let r = r.trim_start().strip_prefix('"')?;
            let (value, after) = quoted(r)?;
            if key.is_empty() {
                return None;
            }
            labels.push((key, value));
            rest = after;
        }
    }
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let v = rest.split_whitespace().next()?;
    Some(Sample {
        name,
        labels,
        value: number(v)?,
    })
}

/// A label value up to its closing quote (the opening one already taken): the value with
/// escapes undone, and what follows the quote.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// A sample value: a float, `NaN`, `+Inf` or `-Inf` (Go's spellings, which Rust's parser
/// accepts along with others).
fn number(v: &str) -> Option<f64> {
    v.parse::<f64>().ok()
}

/// The buckets of histogram `name` in `text`, summed over label sets other than `le`.
pub fn histogram(text: &str, name: &str) -> Option<Histogram> {
    histogram_in(&samples(text).collect::<Vec<_>>(), name)
}

/// [`histogram`] over samples already parsed.
fn histogram_in(samples: &[Sample<'_>], name: &str) -> Option<Histogram> {
    let bucket = format!("{name}_bucket");
    let mut by_le: Vec<(f64, f64)> = Vec::new();
    for s in samples.iter().filter(|s| s.name == bucket) {
        let Some(le) = s.label("le").and_then(number) else {
            continue;
        };
        if le.is_nan() || s.value.is_nan() {
            continue;
        }
        match by_le.iter_mut().find(|b| b.0 == le) {
            Some(b) => b.1 += s.value,
            None => by_le.push((le, s.value)),
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
    sums(&samples(text).collect::<Vec<_>>())
}

/// Each metric's samples summed.
fn sums(samples: &[Sample<'_>]) -> HashMap<String, f64> {
    let mut m: HashMap<String, f64> = HashMap::new();
    for s in samples {
        *m.entry(s.name.to_owned()).or_default() += s.value;
    }
    m
}

/// The known token counters in a `/metrics` text, if any.
pub fn counters(text: &str) -> Option<Counters> {
    // Parsed once: the sums and every kind's histogram come from the same samples.
    let all: Vec<Sample<'_>> = samples(text).collect();
    let m = sums(&all);
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
        .find_map(|n| histogram_in(&all, n));
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
