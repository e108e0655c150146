//! The reference engine's `/metrics` text, under its own names or those of the engine it
//! imitates (ENGINES.md sections 2.3, 3.3, 4.3), with their label sets.

use super::State;
use super::dialect::Imitate;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Current values.
struct Values {
    running: u64,
    waiting: u64,
    kv: f64,
    requests: u64,
    prompt: u64,
    cached: u64,
    generation: u64,
}

/// A Prometheus histogram of durations: cumulative counts at fixed upper bounds (seconds).
pub struct Histogram {
    bounds: &'static [f64],
    /// One counter per bound, then +Inf (not cumulative: summed when written).
    counts: Vec<AtomicU64>,
    sum_ns: AtomicU64,
}

/// The inter-token latency buckets of the engine imitated (vLLM 0.20.1 and SGLang 0.5.15 as
/// captured), or finer ones of the reference engine's own.
pub fn itl_bounds(imitate: Option<Imitate>) -> &'static [f64] {
    match imitate {
        Some(Imitate::Vllm) => &[
            0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
            10.0, 20.0, 40.0, 80.0,
        ],
        Some(Imitate::Sglang) => &[
            0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.06, 0.08,
            0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 4.0, 6.0, 8.0,
        ],
        _ => &[
            0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01, 0.0125, 0.015,
            0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ],
    }
}

impl Histogram {
    /// Empty, with these bounds.
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
        }
    }

    /// Count one duration.
    pub fn observe(&self, ns: u64) {
        let s = ns as f64 / 1e9;
        let i = self.bounds.partition_point(|b| *b < s);
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        // `labels` is `{a="b",...}` or empty; `le` joins the set.
        let inner = labels.trim_start_matches('{').trim_end_matches('}');
        let sep = if inner.is_empty() { "" } else { "," };
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut total = 0u64;
        let les = self
            .bounds
            .iter()
            .map(|b| format!("{b}"))
            .chain(["+Inf".into()]);
        for (le, c) in les.zip(&self.counts) {
            total += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{inner}{sep}le=\"{le}\"}} {total}.0");
        }
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(
            out,
            "{name}_sum{labels} {sum}\n{name}_count{labels} {total}.0"
        );
    }
}

/// The Prometheus text for `st`.
pub fn text(st: &State) -> String {
    let g = &st.clock.gauges;
    let v = Values {
        running: g.running.load(Ordering::Relaxed),
        waiting: g.waiting.load(Ordering::Relaxed),
        kv: g.tokens_in_use.load(Ordering::Relaxed) as f64 / st.args.kv_tokens.max(1) as f64,
        requests: st.requests.load(Ordering::Relaxed),
        prompt: st.prompt_tokens.load(Ordering::Relaxed),
        cached: st.cached_tokens.load(Ordering::Relaxed),
        generation: st.generation_tokens.load(Ordering::Relaxed),
    };
    let mut out = families(st, &v);
    let itl = match st.args.imitate {
        None => Some(("llmsref:", String::new())),
        Some(Imitate::Vllm) => Some((
            "vllm:",
            format!(r#"{{engine="0",model_name="{}"}}"#, st.args.model),
        )),
        Some(Imitate::Sglang) => Some((
            "sglang:",
            format!(
                r#"{{engine_type="unified",model_name="{}"}}"#,
                st.args.model
            ),
        )),
        Some(Imitate::Trtllm) => None,
    };
    if let Some((prefix, labels)) = itl {
        let name = format!("{prefix}inter_token_latency_seconds");
        st.itl.write(&mut out, &name, &labels);
    }
    out
}

fn families(st: &State, v: &Values) -> String {
    let m = &st.args.model;
    match st.args.imitate {
        None => family(v, "llmsref:", "", &[]),
        Some(Imitate::Vllm) => {
            let l = format!(r#"{{engine="0",model_name="{m}"}}"#);
            family(
                v,
                "vllm:",
                &l,
                &[
                    ("requests_running", "num_requests_running"),
                    ("requests_waiting", "num_requests_waiting"),
                    ("requests_total", "request_success_total"),
                    ("prompt_tokens_cached_total", "prefix_cache_hits_total"),
                ],
            )
        }
        Some(Imitate::Sglang) => {
            // Scheduler gauges per TP rank; token counters from the tokenizer manager.
            let l = format!(
                r#"{{engine_type="unified",model_name="{m}",moe_ep_rank="0",pp_rank="0",tp_rank="0"}}"#
            );
            family(
                v,
                "sglang:",
                &l,
                &[
                    ("requests_running", "num_running_reqs"),
                    ("requests_waiting", "num_queue_reqs"),
                    ("kv_cache_usage_perc", "token_usage"),
                    ("requests_total", "num_requests_total"),
                    ("prompt_tokens_cached_total", "cached_tokens_total"),
                ],
            )
        }
        Some(Imitate::Trtllm) => {
            let l = format!(r#"{{engine_type="trtllm",model_name="{m}"}}"#);
            family(
                v,
                "trtllm_",
                &l,
                &[
                    ("requests_running", "num_requests_running"),
                    ("requests_waiting", "num_requests_waiting"),
                    ("kv_cache_usage_perc", "kv_cache_utilization"),
                    ("requests_total", "request_success_total"),
                    ("prompt_tokens_cached_total", "prompt_cached_tokens_total"),
                ],
            )
        }
    }
}

/// The series under `prefix`, each name renamed through `rename` where listed.
fn family(v: &Values, prefix: &str, labels: &str, rename: &[(&str, &str)]) -> String {
    let name = |n: &'static str| {
        rename
            .iter()
            .find(|(from, _)| *from == n)
            .map_or(n, |(_, to)| to)
    };
    let mut s = String::new();
    let mut line = |kind: &str, n: &str, val: String| {
        let _ = writeln!(s, "# TYPE {prefix}{n} {kind}\n{prefix}{n}{labels} {val}");
    };
    line("gauge", name("requests_running"), v.running.to_string());
    line("gauge", name("requests_waiting"), v.waiting.to_string());
    line("gauge", name("kv_cache_usage_perc"), format!("{:.6}", v.kv));
    line("counter", name("requests_total"), v.requests.to_string());
    line("counter", name("prompt_tokens_total"), v.prompt.to_string());
    line(
        "counter",
        name("prompt_tokens_cached_total"),
        v.cached.to_string(),
    );
    if prefix == "vllm:" {
        // vLLM counts the prompt tokens it looked up in its prefix cache apart.
        line(
            "counter",
            "prefix_cache_queries_total",
            v.prompt.to_string(),
        );
    }
    line(
        "counter",
        name("generation_tokens_total"),
        v.generation.to_string(),
    );
    s
}
