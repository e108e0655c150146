//! The reference engine's `/metrics` text, under its own names or those of the engine it
//! imitates (ENGINES.md sections 2.3, 3.3, 4.3), with their label sets.

use super::State;
use super::dialect::Imitate;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

/// Current values.
struct Values {
    running: u64,
    waiting: u64,
    kv: f64,
    requests: u64,
    prompt: u64,
    generation: u64,
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
        generation: st.generation_tokens.load(Ordering::Relaxed),
    };
    let m = &st.args.model;
    match st.args.imitate {
        None => family(&v, "llmsref:", "", &[]),
        Some(Imitate::Vllm) => {
            let l = format!(r#"{{engine="0",model_name="{m}"}}"#);
            family(
                &v,
                "vllm:",
                &l,
                &[
                    ("requests_running", "num_requests_running"),
                    ("requests_waiting", "num_requests_waiting"),
                    ("requests_total", "request_success_total"),
                ],
            )
        }
        Some(Imitate::Sglang) => {
            // Scheduler gauges per TP rank; token counters from the tokenizer manager.
            let l = format!(
                r#"{{engine_type="unified",model_name="{m}",moe_ep_rank="0",pp_rank="0",tp_rank="0"}}"#
            );
            family(
                &v,
                "sglang:",
                &l,
                &[
                    ("requests_running", "num_running_reqs"),
                    ("requests_waiting", "num_queue_reqs"),
                    ("kv_cache_usage_perc", "token_usage"),
                    ("requests_total", "num_requests_total"),
                ],
            )
        }
        Some(Imitate::Trtllm) => {
            let l = format!(r#"{{engine_type="trtllm",model_name="{m}"}}"#);
            family(
                &v,
                "trtllm_",
                &l,
                &[
                    ("requests_running", "num_requests_running"),
                    ("requests_waiting", "num_requests_waiting"),
                    ("kv_cache_usage_perc", "kv_cache_utilization"),
                    ("requests_total", "request_success_total"),
                ],
            )
        }
    }
}

/// The six series under `prefix`, each name renamed through `rename` where listed.
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
        name("generation_tokens_total"),
        v.generation.to_string(),
    );
    s
}
