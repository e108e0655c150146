//! Every engine kind as one row of one table: how the daemon starts it (argv template, the
//! options as its flags, the flags it sets itself and the ones that write files), when it is
//! ready, where it tells its version and metrics and under which names, what a request to it
//! may carry, and its one-time warm-up (ENGINES.md sections 2-6). Every list and check of
//! kinds elsewhere is derived from [`KINDS`]; a new kind is a name in
//! [`llms_shared::EngineKind`] and a row here, with its tests.
//!
//! A leaf: it depends on nothing else in the daemon; the supervisor, the load generator's
//! counter reads, `llmsd bench`, the scheduler and `llmsd doctor` read it.

mod args;
mod options;
#[cfg(test)]
mod tests;

pub(crate) use args::Launch;
pub use options::EngineOptions;
pub(crate) use options::{TRTLLM_BUILT, engine_mode, trtllm_build_flags};
use options::{
    host_port, llamacpp_advice, llamacpp_options, none_of, sglang_options, trtllm_config,
    trtllm_options, vllm_options,
};

pub use llms_shared::EngineKind;
use std::time::Duration;

/// An engine kind's row.
pub(crate) struct Kind {
    /// Which kind.
    pub kind: EngineKind,
    /// Whether the daemon starts a process (`false`: `external`).
    pub process: bool,
    /// Whether `model` is required.
    pub model: Need,
    /// The subcommand of this executable that is the kind's engine when the daemon config
    /// names no command (the reference engine).
    pub builtin: Option<&'static str>,
    /// The command used when the daemon config names none and its first word is a program on
    /// the daemon's own `PATH` (never a job's choice).
    pub on_path: Option<&'static [&'static str]>,
    /// Ready when this answers 200.
    pub health: &'static str,
    /// Prometheus text.
    pub metrics: &'static str,
    /// The names of its Prometheus series, where it exports the common ones.
    pub names: Option<MetricNames>,
    /// Flags the daemon passes itself; `args` may not repeat them.
    pub reserved: &'static [&'static str],
    /// Flags whose value is a file or directory the engine writes: a job may give them only
    /// paths inside the engine's scratch directory (relative ones: it is the working
    /// directory), so no job can make an engine write the daemon's store or logs.
    pub writes: &'static [&'static str],
    /// Least readiness timeout: GPU engines load weights and compile kernels for minutes
    /// (vLLM 90-145 s and SGLang 89-148 s on an H200, plus downloads and first compiles).
    pub min_ready: Duration,
    /// The argv after the configured prefix and before the options: model (or the engine
    /// built from it, TensorRT-LLM's engine mode), host, port, and the config file where the
    /// kind takes one.
    template: fn(&Launch<'_>) -> Vec<String>,
    /// The common options as the kind's flags; `Err("field: why")` for one it has none for.
    options: fn(&EngineOptions) -> Result<Vec<String>, String>,
    /// A YAML config file the kind reads (TensorRT-LLM: dtype, prefix cache, metrics).
    config: Option<fn(&EngineOptions) -> String>,
    /// Where the engine tells its version: (path, JSON key), tried in order.
    pub version: &'static [(&'static str, &'static str)],
    /// How `llmsd doctor` asks the installed program for its version.
    pub probe: Probe,
    /// Sampled requests sent together once after it is ready and before the first point,
    /// to pay one-time kernel compiles outside the measurement (vLLM's Triton sampling
    /// kernels stall the first batch of 8+ sampled requests 10-13 s; SGLang's FlashInfer
    /// sampling kernel compiles on the first top-k/top-p request, 83-91 s; GPU-VLLM.md,
    /// GPU-SGLANG.md).
    pub warmup_sampled: u32,
    /// Whether its own completions API takes `min_tokens` (so a request can ask for exactly
    /// its output length); llama.cpp's does not.
    pub min_tokens: bool,
    /// Whether a server of this kind always speaks its own API; `false` where only the server
    /// can say what it speaks, by its `owned_by` (an external server of any make; the
    /// reference engine, which imitates the others).
    pub fixed_api: bool,
    /// Fragments of `owned_by` in `/v1/models` (lower case) by which a server of this kind is
    /// known when nothing else says what it is (`llmsd bench --url`, an external engine).
    pub owned_by: &'static [&'static str],
    /// Warnings about a launch command that will run but measure badly (the full argv).
    pub advice: fn(&[String]) -> Vec<String>,
}

/// What a kind needs as `model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Nothing (external, reference).
    Nothing,
    /// A file that exists (a GGUF); a relative path is the sweep file's.
    File,
    /// A name or a directory (HF id or checkpoint dir).
    Name,
}

/// How `llmsd doctor` asks the installed program for its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// `PROGRAM --version`.
    Flag,
    /// The Python package's `__version__` from the same interpreter, when the command is
    /// `python -m ...`; else `--version`.
    Package(&'static str),
    /// The daemon config's own version command (TensorRT-LLM's `version_command`).
    Configured,
}

/// The names of a kind's Prometheus series (ENGINES.md section 6).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MetricNames {
    /// Requests running (a gauge).
    pub running: &'static str,
    /// Requests waiting (a gauge).
    pub waiting: &'static str,
    /// KV-cache usage as a 0..1 ratio, if the engine exports one.
    pub kv: Option<&'static str>,
    /// Prompt tokens (a counter; llama.cpp's leaves out cached tokens).
    pub prompt: &'static str,
    /// Generated tokens (a counter).
    pub generation: &'static str,
    /// Prefix-cache counters: (cached prompt tokens, the prompt tokens they are out of;
    /// `None` where that is the prompt counter plus the cached one, as in llama.cpp).
    pub cached: Option<(&'static str, Option<&'static str>)>,
    /// Inter-token latency histogram (one observation per engine step of a request).
    pub itl: Option<&'static str>,
}

/// Every kind the supervisor runs.
pub(crate) const KINDS: &[Kind] = &[
    // One row per EngineKind, in its order.
    Kind {
        kind: EngineKind::External,
        builtin: None,
        on_path: None,
        process: false,
        model: Need::Nothing,
        health: "/health",
        metrics: "/metrics",
        names: None,
        reserved: &[],
        writes: &[],
        min_ready: Duration::ZERO,
        template: |_| Vec::new(),
        options: |o| none_of(o, "an external server is not started by the daemon"),
        config: None,
        version: &[
            ("/version", "version"),
            ("/get_server_info", "version"),
            ("/props", "build_info"),
        ],
        probe: Probe::Flag,
        warmup_sampled: 0,
        min_tokens: false,
        fixed_api: false,
        owned_by: &[],
        advice: |_| Vec::new(),
    },
    Kind {
        kind: EngineKind::Reference,
        builtin: Some("reference-engine"),
        on_path: None,
        process: true,
        model: Need::Nothing,
        health: "/health",
        metrics: "/metrics",
        names: Some(MetricNames {
            running: "llmsref:requests_running",
            waiting: "llmsref:requests_waiting",
            kv: Some("llmsref:kv_cache_usage_perc"),
            prompt: "llmsref:prompt_tokens_total",
            generation: "llmsref:generation_tokens_total",
            cached: Some((
                "llmsref:prompt_tokens_cached_total",
                Some("llmsref:prompt_tokens_total"),
            )),
            itl: Some("llmsref:inter_token_latency_seconds"),
        }),
        reserved: &["--host", "--port", "--model"],
        writes: &["--ground-truth"],
        min_ready: Duration::ZERO,
        template: |l| {
            let mut v = host_port(l.port);
            if let Some(m) = l.model {
                v.extend(["--model".to_owned(), m.to_owned()]);
            }
            v
        },
        options: |o| none_of(o, "the reference engine is set up through args"),
        config: None,
        version: &[("/version", "version")],
        probe: Probe::Flag,
        warmup_sampled: 0,
        min_tokens: true,
        fixed_api: false,
        owned_by: &["llms-reference"],
        advice: |_| Vec::new(),
    },
    Kind {
        kind: EngineKind::Llamacpp,
        builtin: None,
        on_path: Some(&["llama-server"]),
        process: true,
        model: Need::File,
        health: "/health",
        metrics: "/metrics",
        names: Some(MetricNames {
            running: "llamacpp:requests_processing",
            waiting: "llamacpp:requests_deferred",
            kv: None, // llama.cpp has none (only /slots)
            prompt: "llamacpp:prompt_tokens_total",
            generation: "llamacpp:tokens_predicted_total",
            cached: Some(("llamacpp:prompt_tokens_cached_total", None)),
            itl: None,
        }),
        reserved: &["-m", "--model", "--host", "--port"],
        writes: &[
            "--log-file",
            "--slot-save-path",
            "-lcd",
            "--lookup-cache-dynamic",
        ],
        min_ready: Duration::ZERO,
        template: |l| {
            let mut v = vec!["-m".to_owned(), l.model.unwrap_or_default().to_owned()];
            v.extend(host_port(l.port));
            v.push("--metrics".to_owned());
            v
        },
        options: llamacpp_options,
        config: None,
        version: &[("/props", "build_info")],
        probe: Probe::Flag,
        warmup_sampled: 0,
        min_tokens: false,
        fixed_api: true,
        owned_by: &["llamacpp"],
        advice: llamacpp_advice,
    },
    Kind {
        kind: EngineKind::Vllm,
        builtin: None,
        on_path: Some(&["vllm", "serve"]),
        process: true,
        model: Need::Name,
        health: "/health",
        metrics: "/metrics",
        names: Some(MetricNames {
            running: "vllm:num_requests_running",
            waiting: "vllm:num_requests_waiting",
            kv: Some("vllm:kv_cache_usage_perc"),
            prompt: "vllm:prompt_tokens_total",
            generation: "vllm:generation_tokens_total",
            cached: Some((
                "vllm:prefix_cache_hits_total",
                Some("vllm:prefix_cache_queries_total"),
            )),
            itl: Some("vllm:inter_token_latency_seconds"),
        }),
        reserved: &["--host", "--port", "--model"],
        writes: &["--download-dir"],
        min_ready: Duration::from_secs(15 * 60),
        // `vllm serve MODEL`: the model is positional. Each answer's usage says how many of
        // its prompt tokens came from the prefix cache only with
        // --enable-prompt-tokens-details (and, up to 0.20.2, not when that is 0).
        template: |l| {
            let mut v = vec![l.model.unwrap_or_default().to_owned()];
            v.extend(host_port(l.port));
            v.push("--enable-prompt-tokens-details".to_owned());
            v
        },
        options: vllm_options,
        config: None,
        version: &[("/version", "version")],
        probe: Probe::Package("vllm"),
        warmup_sampled: 8,
        min_tokens: true,
        fixed_api: true,
        owned_by: &["vllm"],
        advice: |_| Vec::new(),
    },
    Kind {
        kind: EngineKind::Sglang,
        builtin: None,
        on_path: None,
        process: true,
        model: Need::Name,
        health: "/health",
        metrics: "/metrics",
        names: Some(MetricNames {
            running: "sglang:num_running_reqs",
            waiting: "sglang:num_queue_reqs",
            kv: Some("sglang:token_usage"),
            prompt: "sglang:prompt_tokens_total",
            generation: "sglang:generation_tokens_total",
            cached: Some((
                "sglang:cached_tokens_total",
                Some("sglang:prompt_tokens_total"),
            )),
            itl: Some("sglang:inter_token_latency_seconds"),
        }),
        reserved: &["--model-path", "--model", "--host", "--port"],
        writes: &[
            "--download-dir",
            "--crash-dump-folder",
            "--file-storage-path",
        ],
        min_ready: Duration::from_secs(15 * 60),
        // Ready on /health only: /v1/models answers before its warm-up ends. Metrics need
        // --enable-metrics; each answer's cached prompt tokens, --enable-cache-report.
        template: |l| {
            let mut v = vec![
                "--model-path".to_owned(),
                l.model.unwrap_or_default().to_owned(),
            ];
            v.extend(host_port(l.port));
            v.push("--enable-metrics".to_owned());
            v.push("--enable-cache-report".to_owned());
            v
        },
        options: sglang_options,
        config: None,
        version: &[("/get_server_info", "version")],
        probe: Probe::Package("sglang"),
        warmup_sampled: 1,
        min_tokens: true,
        fixed_api: true,
        owned_by: &["sglang"],
        advice: |_| Vec::new(),
    },
    Kind {
        kind: EngineKind::Trtllm,
        builtin: None,
        on_path: Some(&["trtllm-serve"]),
        process: true,
        model: Need::Name,
        health: "/health",
        // Prometheus text is on /prometheus/metrics (with the config below); /metrics is JSON.
        metrics: "/prometheus/metrics",
        names: Some(MetricNames {
            running: "trtllm_num_requests_running",
            waiting: "trtllm_num_requests_waiting",
            kv: Some("trtllm_kv_cache_utilization"),
            prompt: "trtllm_prompt_tokens_total",
            generation: "trtllm_generation_tokens_total",
            cached: Some((
                "trtllm_prompt_cached_tokens_total",
                Some("trtllm_prompt_tokens_total"),
            )),
            itl: None,
        }),
        reserved: &[
            "--host",
            "--port",
            "--config",
            "--extra_llm_api_options",
            "--backend",
        ],
        writes: &[],
        min_ready: Duration::from_secs(15 * 60),
        // Engine mode serves the built engine dir with the checkpoint's tokenizer.
        template: |l| {
            let model = l.model.unwrap_or_default().to_owned();
            let mut v = match l.built {
                Some(dir) => vec![
                    dir.display().to_string(),
                    "--tokenizer".to_owned(),
                    model,
                    "--backend".to_owned(),
                    "tensorrt".to_owned(),
                ],
                None => vec![model],
            };
            v.extend(host_port(l.port));
            if let Some(c) = l.config {
                v.extend(["--config".to_owned(), c.display().to_string()]);
            }
            v
        },
        options: trtllm_options,
        config: Some(trtllm_config),
        version: &[("/version", "version")],
        probe: Probe::Configured,
        warmup_sampled: 0,
        min_tokens: true,
        fixed_api: true,
        owned_by: &["tensorrt", "trtllm"],
        advice: |_| Vec::new(),
    },
];

/// The row of `kind`.
pub(crate) fn of(kind: EngineKind) -> &'static Kind {
    // In order (checked below, when the daemon is compiled): the kind's index is its row.
    &KINDS[kind as usize]
}

/// The row of the kind called `name`.
pub(crate) fn find(name: &str) -> Option<&'static Kind> {
    EngineKind::parse(name).map(of)
}

/// Whether every kind has its row, in the order of [`EngineKind::ALL`].
const fn rows_in_order() -> bool {
    if KINDS.len() != EngineKind::ALL.len() {
        return false;
    }
    let mut i = 0;
    while i < KINDS.len() {
        if KINDS[i].kind as usize != i || EngineKind::ALL[i] as usize != i {
            return false;
        }
        i += 1;
    }
    true
}
const _: () = assert!(
    rows_in_order(),
    "KINDS must have one row per EngineKind, in order"
);

/// The series names of every kind that exports them, in table order.
pub(crate) fn metric_names() -> impl Iterator<Item = &'static MetricNames> {
    KINDS.iter().filter_map(|k| k.names.as_ref())
}

/// The Prometheus paths of every kind, each once, in table order.
pub(crate) fn metrics_paths() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Vec::new();
    for k in KINDS {
        if !v.contains(&k.metrics) {
            v.push(k.metrics);
        }
    }
    v
}

/// Whether a server whose `/v1/models` says `owned_by` takes `min_tokens`: a kind whose API
/// does is named in it.
pub(crate) fn owner_takes_min_tokens(owned_by: &str) -> bool {
    let o = owned_by.to_ascii_lowercase();
    KINDS
        .iter()
        .any(|k| k.min_tokens && k.owned_by.iter().any(|f| o.contains(f)))
}

/// Whether requests to a server of `kind` (if known) whose `/v1/models` says `owned_by` may
/// carry `min_tokens`: the kind's row where its API is fixed, else what the server says.
pub(crate) fn takes_min_tokens(kind: Option<EngineKind>, owned_by: &str) -> bool {
    match kind.map(of) {
        Some(k) if k.fixed_api => k.min_tokens,
        _ => owner_takes_min_tokens(owned_by),
    }
}

/// Log-line fragments (lower case) that mean a fatal error, and what to call it.
pub(crate) const FATAL: &[(&str, &str)] = &[
    ("address already in use", "port in use"),
    ("exiting due to http server error", "port in use"),
    ("cudamalloc failed: out of memory", "CUDA out of memory"),
    ("cuda out of memory", "CUDA out of memory"),
    ("outofmemoryerror", "CUDA out of memory"),
    ("failed to load model", "model failed to load"),
    // Hugging Face's loaders, for a model path or id that is not there (vLLM, SGLang,
    // TensorRT-LLM).
    (
        "is not a local folder and is not a valid model identifier",
        "model not found",
    ),
    ("repo id must be in the form", "model not found"),
    ("repository not found", "model not found"),
];

/// The label of [`FATAL`] that asks for another port.
pub(crate) const PORT_IN_USE: &str = "port in use";

/// The label of a fatal log line, if it is one.
pub(crate) fn fatal_label(line: &str) -> Option<&'static str> {
    let l = line.to_ascii_lowercase();
    FATAL.iter().find(|(p, _)| l.contains(p)).map(|(_, n)| *n)
}
