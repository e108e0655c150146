//! A sweep file (TOML; DESIGN.md section 5): what a job runs. The daemon parses and validates
//! it at submit time and stores the normalized form (relative paths made absolute, engine
//! names filled in), so a restart runs exactly what was accepted.

use crate::result::{Arrival, Slo};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Shown in lists and reports.
    pub name: String,
    /// Default model of every engine (a path or a served name).
    #[serde(default)]
    pub model: Option<String>,
    /// Prompts file [default: the built-in set].
    #[serde(default)]
    pub prompts: Option<String>,
    /// `chat` (default) or `completions`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// GPUs the job uses [default: all]. Jobs on disjoint sets may run side by side.
    #[serde(default)]
    pub gpus: Option<Vec<u32>>,
    /// The engines, run one after the other.
    #[serde(rename = "engine", default)]
    pub engines: Vec<EngineDef>,
    /// The load settings every engine is measured at.
    pub load: LoadDef,
    /// What the requests send [default: `kind = "single"`].
    #[serde(default)]
    pub workload: Option<WorkloadDef>,
}

/// `[workload]`: what the requests send; the same names as `llmsd bench --workload`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadDef {
    /// `single` (one prompt per request, each made unique; the default), `shared_prefix`
    /// (groups of requests that share a system prompt, each request's own part unique) or
    /// `conversation` (sessions of turns, each resending the whole history).
    #[serde(default)]
    pub kind: Option<String>,
    /// `conversation`: turns per session.
    #[serde(default)]
    pub turns: Option<u32>,
    /// `conversation`: think time between an answer and the next turn, ms [default: 0].
    #[serde(default)]
    pub think_ms: Option<f64>,
    /// `conversation`: send each session's id in this header (routers with affinity).
    #[serde(default)]
    pub session_header: Option<String>,
    /// `conversation`: each session's turns drawn from this (`uniform:2,8`, ...), at most
    /// `turns`.
    #[serde(default)]
    pub turns_dist: Option<String>,
    /// `conversation`: think times drawn exponentially with `think_ms` as their mean.
    #[serde(default)]
    pub think_exponential: Option<bool>,
    /// `trace`: a JSONL trace (Mooncake's format: `timestamp` ms, `input_length`,
    /// `output_length`, `hash_ids`), replayed at its times; `[load] speed` sets the pace.
    #[serde(default)]
    pub trace: Option<String>,
    /// `trace`: tokens of one `hash_ids` block [default: 512, Mooncake's].
    #[serde(default)]
    pub block_tokens: Option<u32>,
    /// Input lengths drawn per prompt: `fixed:N`, `uniform:MIN,MAX`, `normal:MEAN,SD`,
    /// `lognormal:MEAN,SD` (the `single` workload, instead of `[load] input_tokens`).
    #[serde(default)]
    pub input_dist: Option<String>,
    /// Output lengths drawn per request, the same forms (instead of `[load] output_tokens`).
    #[serde(default)]
    pub output_dist: Option<String>,
    /// `shared_prefix`: how many groups, each with its own prefix.
    #[serde(default)]
    pub groups: Option<u32>,
    /// `shared_prefix`: tokens of each group's prefix, exactly. `conversation`: tokens of the
    /// system prompt every session opens with (the same text in all of them).
    #[serde(default)]
    pub prefix_tokens: Option<u32>,
    /// `shared_prefix`: draw groups by Zipf's law with this exponent (above 0; group 1 the
    /// most often) [default: uniformly].
    #[serde(default)]
    pub zipf: Option<f64>,
}

/// The sweep field that names a prompts file.
pub const PROMPTS_FIELD: &str = "prompts";
/// The sweep field that names a `tokenizer.json`.
pub const TOKENIZER_FIELD: &str = "load.tokenizer";
/// The sweep field that names a trace to replay.
pub const TRACE_FIELD: &str = "workload.trace";

impl Sweep {
    /// The files this sweep names, as (field, path as written): what a client reads and
    /// sends with it, and what the daemon expects to have come.
    pub fn named_files(&self) -> Vec<(&'static str, &str)> {
        [
            (PROMPTS_FIELD, self.prompts.as_deref()),
            (TOKENIZER_FIELD, self.load.tokenizer.as_deref()),
            (
                TRACE_FIELD,
                self.workload.as_ref().and_then(|w| w.trace.as_deref()),
            ),
        ]
        .into_iter()
        .filter_map(|(f, p)| Some((f, p?)))
        .collect()
    }
}

/// One `[[engine]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineDef {
    /// `external`, `reference`, `llamacpp` (and, with their adapters, `vllm`, `sglang`,
    /// `trtllm`).
    pub kind: String,
    /// Name in results [default: the kind, numbered when repeated].
    #[serde(default)]
    pub name: Option<String>,
    /// `external` only: the running server's base URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Model for this engine (overrides the sweep's).
    #[serde(default)]
    pub model: Option<String>,
    /// Extra argv appended to the daemon-configured command.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Seconds the engine may take to become healthy [default: the daemon's].
    #[serde(default)]
    pub ready_timeout_s: Option<f64>,
    /// Most requests the engine runs at once (vLLM `--max-num-seqs`, SGLang
    /// `--max-running-requests`, TensorRT-LLM `--max_batch_size`, llama.cpp `--parallel`).
    #[serde(default)]
    pub max_batch: Option<u32>,
    /// Longest sequence, prompt and output (`--max-model-len`, `--context-length`,
    /// `--max_seq_len`, `--ctx-size`).
    #[serde(default)]
    pub max_model_len: Option<u32>,
    /// GPU memory share, 0 to 1, as each engine defines it (`--gpu-memory-utilization`,
    /// `--mem-fraction-static`, `--free_gpu_memory_fraction`).
    #[serde(default)]
    pub gpu_memory_fraction: Option<f64>,
    /// Tensor-parallel GPUs (`--tensor-parallel-size`, `--tp-size`, `--tp_size`).
    #[serde(default)]
    pub tensor_parallel: Option<u32>,
    /// Weights and activations: auto, float16, bfloat16, float32.
    #[serde(default)]
    pub dtype: Option<String>,
    /// Prefix (KV) caching; `false` turns it off.
    #[serde(default)]
    pub prefix_cache: Option<bool>,
    /// The engine's own random seed.
    #[serde(default)]
    pub seed: Option<u64>,
    /// TensorRT-LLM only: `pytorch` (an HF checkpoint, current releases).
    #[serde(default)]
    pub mode: Option<String>,
}

/// `[load]`: the same knobs as `llmsd bench`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadDef {
    /// Closed loop: requests in flight, one point each.
    #[serde(default)]
    pub concurrency: Option<Vec<u32>>,
    /// Static batches, one point each.
    #[serde(default)]
    pub batch: Option<Vec<u32>>,
    /// Open loop: arrivals per second, one point each.
    #[serde(default)]
    pub rate: Option<Vec<f64>>,
    /// Trace replay: speed factors, one point each (`[workload] kind = "trace"`).
    #[serde(default)]
    pub speed: Option<Vec<f64>>,
    /// A capacity search instead of (or after) the lists above: the highest load that meets
    /// its objectives, probed point by point.
    #[serde(default)]
    pub search: Option<crate::search::SearchDef>,
    /// Spacing of arrivals in rate mode.
    #[serde(default)]
    pub arrival: Option<Arrival>,
    /// Gamma shape for `arrival = "gamma"`.
    #[serde(default)]
    pub burstiness: Option<f64>,
    /// Rate mode: cap on requests in flight.
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    /// Measured requests per point [default: 64].
    #[serde(default)]
    pub requests: Option<u64>,
    /// Seconds per point (instead of `requests`).
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// Output tokens per request [default: 128].
    #[serde(default)]
    pub output_tokens: Option<u32>,
    /// Synthetic prompts of exactly this many input tokens.
    #[serde(default)]
    pub input_tokens: Option<u32>,
    /// tokenizer.json for `input_tokens` [default: the server's /tokenize].
    #[serde(default)]
    pub tokenizer: Option<String>,
    /// Requests sent before each point and not counted.
    #[serde(default)]
    pub warmup_requests: Option<u32>,
    /// Seed of prompt order and arrivals.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Goodput objectives, milliseconds.
    #[serde(default)]
    pub slo: Option<Slo>,
    /// Flag points whose error rate exceeds this.
    #[serde(default)]
    pub max_error_rate: Option<f64>,
    /// Per-request timeout, seconds [default: 600]; also how long a point waits for its
    /// last requests after sending them.
    #[serde(default)]
    pub timeout_s: Option<f64>,
    /// Send the prompts as they are, without the per-request preamble that keeps an engine's
    /// prefix cache from serving one request from another's prompt [default: false].
    #[serde(default)]
    pub verbatim_prompts: Option<bool>,
}
