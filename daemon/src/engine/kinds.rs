//! One adapter per engine kind, as data: the argv template, the health and metrics paths, what
//! the spec must carry, the flags the daemon sets itself, how the common options map to the
//! kind's own flags (ENGINES.md sections 2-5), and the log lines that mean a fatal error.

use super::{EngineOptions, EngineSpec};
use std::path::Path;
use std::time::Duration;

/// An engine kind.
pub(crate) struct Kind {
    /// Its name in specs and the daemon config.
    pub name: &'static str,
    /// Whether the daemon starts a process (`false`: `external`).
    pub process: bool,
    /// Whether `model` is required.
    pub model: Need,
    /// Ready when this answers 200.
    pub health: &'static str,
    /// Prometheus text.
    pub metrics: &'static str,
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
    template: fn(&EngineSpec, u16, Option<&Path>, Option<&Path>) -> Vec<String>,
    /// The common options as the kind's flags; `Err("field: why")` for one it has none for.
    options: fn(&EngineOptions) -> Result<Vec<String>, String>,
    /// A YAML config file the kind reads (TensorRT-LLM: dtype, prefix cache, metrics).
    config: Option<fn(&EngineOptions) -> String>,
    /// Where the engine tells its version: (path, JSON key), tried in order.
    pub version: &'static [(&'static str, &'static str)],
    /// Sampled requests sent together once after it is ready and before the first point,
    /// to pay one-time kernel compiles outside the measurement (vLLM's Triton sampling
    /// kernels stall the first batch of 8+ sampled requests 10-13 s; SGLang's FlashInfer
    /// sampling kernel compiles on the first top-k/top-p request, 83-91 s; GPU-VLLM.md,
    /// GPU-SGLANG.md).
    pub warmup_sampled: u32,
    /// Warnings about a launch command that will run but measure badly (the full argv).
    pub advice: fn(&[String]) -> Vec<String>,
}

/// What a kind needs as `model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Nothing (external, reference).
    Nothing,
    /// A file that exists (a GGUF).
    File,
    /// A name or a directory (HF id or checkpoint dir).
    Name,
}

/// Every kind the supervisor runs.
pub(crate) const KINDS: &[Kind] = &[
    Kind {
        name: "external",
        process: false,
        model: Need::Nothing,
        health: "/health",
        metrics: "/metrics",
        reserved: &[],
        writes: &[],
        min_ready: Duration::ZERO,
        template: |_, _, _, _| Vec::new(),
        options: |o| none_of(o, "an external server is not started by the daemon"),
        config: None,
        version: &[
            ("/version", "version"),
            ("/get_server_info", "version"),
            ("/props", "build_info"),
        ],
        warmup_sampled: 0,
        advice: |_| Vec::new(),
    },
    Kind {
        name: "reference",
        process: true,
        model: Need::Nothing,
        health: "/health",
        metrics: "/metrics",
        reserved: &["--host", "--port", "--model"],
        writes: &["--ground-truth"],
        min_ready: Duration::ZERO,
        template: |spec, port, _, _| {
            let mut v = host_port(port);
            if let Some(m) = &spec.model {
                v.extend(["--model".to_owned(), m.clone()]);
            }
            v
        },
        options: |o| none_of(o, "the reference engine is set up through args"),
        config: None,
        version: &[("/version", "version")],
        warmup_sampled: 0,
        advice: |_| Vec::new(),
    },
    Kind {
        name: "llamacpp",
        process: true,
        model: Need::File,
        health: "/health",
        metrics: "/metrics",
        reserved: &["-m", "--model", "--host", "--port"],
        writes: &[
            "--log-file",
            "--slot-save-path",
            "-lcd",
            "--lookup-cache-dynamic",
        ],
        min_ready: Duration::ZERO,
        template: |spec, port, _, _| {
            let mut v = vec!["-m".to_owned(), spec.model.clone().unwrap_or_default()];
            v.extend(host_port(port));
            v.push("--metrics".to_owned());
            v
        },
        options: llamacpp_options,
        config: None,
        version: &[("/props", "build_info")],
        warmup_sampled: 0,
        advice: llamacpp_advice,
    },
    Kind {
        name: "vllm",
        process: true,
        model: Need::Name,
        health: "/health",
        metrics: "/metrics",
        reserved: &["--host", "--port", "--model"],
        writes: &["--download-dir"],
        min_ready: Duration::from_secs(15 * 60),
        // `vllm serve MODEL`: the model is positional.
        template: |spec, port, _, _| {
            let mut v = vec![spec.model.clone().unwrap_or_default()];
            v.extend(host_port(port));
            v
        },
        options: vllm_options,
        config: None,
        version: &[("/version", "version")],
        warmup_sampled: 8,
        advice: |_| Vec::new(),
    },
    Kind {
        name: "sglang",
        process: true,
        model: Need::Name,
        health: "/health",
        metrics: "/metrics",
        reserved: &["--model-path", "--model", "--host", "--port"],
        writes: &[
            "--download-dir",
            "--crash-dump-folder",
            "--file-storage-path",
        ],
        min_ready: Duration::from_secs(15 * 60),
        // Ready on /health only: /v1/models answers before its warm-up ends. Metrics need
        // --enable-metrics.
        template: |spec, port, _, _| {
            let mut v = vec![
                "--model-path".to_owned(),
                spec.model.clone().unwrap_or_default(),
            ];
            v.extend(host_port(port));
            v.push("--enable-metrics".to_owned());
            v
        },
        options: sglang_options,
        config: None,
        version: &[("/get_server_info", "version")],
        warmup_sampled: 1,
        advice: |_| Vec::new(),
    },
    Kind {
        name: "trtllm",
        process: true,
        model: Need::Name,
        health: "/health",
        // Prometheus text is on /prometheus/metrics (with the config below); /metrics is JSON.
        metrics: "/prometheus/metrics",
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
        template: |spec, port, config, built| {
            let model = spec.model.clone().unwrap_or_default();
            let mut v = match built {
                Some(dir) => vec![
                    dir.display().to_string(),
                    "--tokenizer".to_owned(),
                    model,
                    "--backend".to_owned(),
                    "tensorrt".to_owned(),
                ],
                None => vec![model],
            };
            v.extend(host_port(port));
            if let Some(c) = config {
                v.extend(["--config".to_owned(), c.display().to_string()]);
            }
            v
        },
        options: trtllm_options,
        config: Some(trtllm_config),
        version: &[("/version", "version")],
        warmup_sampled: 0,
        advice: |_| Vec::new(),
    },
];

/// Refuse every option that is set.
fn none_of(o: &EngineOptions, why: &str) -> Result<Vec<String>, String> {
    match set_options(o).first() {
        Some(name) => Err(format!("{name}: not an option of this kind ({why})")),
        None => Ok(Vec::new()),
    }
}

/// Names of the options that are set.
fn set_options(o: &EngineOptions) -> Vec<&'static str> {
    [
        ("max_batch", o.max_batch.is_some()),
        ("max_model_len", o.max_model_len.is_some()),
        ("gpu_memory_fraction", o.gpu_memory_fraction.is_some()),
        ("tensor_parallel", o.tensor_parallel.is_some()),
        ("dtype", o.dtype.is_some()),
        ("prefix_cache", o.prefix_cache.is_some()),
        ("seed", o.seed.is_some()),
        ("mode", o.mode.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(n, _)| n)
    .collect()
}

/// `flag value` for each option that is set.
fn flags(pairs: &[(&str, Option<String>)]) -> Vec<String> {
    pairs
        .iter()
        .filter_map(|(f, v)| v.as_ref().map(|v| [(*f).to_owned(), v.clone()]))
        .flatten()
        .collect()
}

fn only_trtllm(o: &EngineOptions) -> Result<(), String> {
    match &o.mode {
        Some(_) => Err("mode: only for kind trtllm".into()),
        None => Ok(()),
    }
}

fn dtype(o: &EngineOptions) -> Result<Option<String>, String> {
    match o.dtype.as_deref() {
        None => Ok(None),
        Some(d @ ("auto" | "float16" | "bfloat16" | "float32")) => Ok(Some(d.to_owned())),
        Some(d) => Err(format!(
            "dtype: '{d}' is not one of auto, float16, bfloat16, float32"
        )),
    }
}

fn vllm_options(o: &EngineOptions) -> Result<Vec<String>, String> {
    only_trtllm(o)?;
    let mut v = flags(&[
        ("--max-num-seqs", o.max_batch.map(|n| n.to_string())),
        ("--max-model-len", o.max_model_len.map(|n| n.to_string())),
        (
            "--gpu-memory-utilization",
            o.gpu_memory_fraction.map(|f| f.to_string()),
        ),
        (
            "--tensor-parallel-size",
            o.tensor_parallel.map(|n| n.to_string()),
        ),
        ("--dtype", dtype(o)?),
        ("--seed", o.seed.map(|n| n.to_string())),
    ]);
    match o.prefix_cache {
        Some(false) => v.push("--no-enable-prefix-caching".into()),
        Some(true) => v.push("--enable-prefix-caching".into()),
        None => {}
    }
    Ok(v)
}

fn sglang_options(o: &EngineOptions) -> Result<Vec<String>, String> {
    only_trtllm(o)?;
    let mut v = flags(&[
        ("--max-running-requests", o.max_batch.map(|n| n.to_string())),
        ("--context-length", o.max_model_len.map(|n| n.to_string())),
        (
            "--mem-fraction-static",
            o.gpu_memory_fraction.map(|f| f.to_string()),
        ),
        ("--tp-size", o.tensor_parallel.map(|n| n.to_string())),
        ("--dtype", dtype(o)?),
        ("--random-seed", o.seed.map(|n| n.to_string())),
    ]);
    // The radix cache is on by default; only turning it off has a flag.
    if o.prefix_cache == Some(false) {
        v.push("--disable-radix-cache".into());
    }
    Ok(v)
}

/// Whether the spec asks for TensorRT-LLM's engine mode (convert + build, then serve).
pub(crate) fn engine_mode(o: &EngineOptions) -> bool {
    o.mode.as_deref() == Some("engine")
}

fn trtllm_options(o: &EngineOptions) -> Result<Vec<String>, String> {
    match o.mode.as_deref() {
        None | Some("pytorch" | "engine") => {}
        Some(m) => return Err(format!("mode: '{m}' is neither pytorch nor engine")),
    }
    if o.seed.is_some() {
        return Err("seed: trtllm-serve has no server-wide seed (it takes one per request)".into());
    }
    dtype(o)?;
    let fraction = (
        "--free_gpu_memory_fraction",
        o.gpu_memory_fraction.map(|f| f.to_string()),
    );
    // An engine's batch, length and parallelism are fixed when it is built.
    if engine_mode(o) {
        return Ok(flags(&[fraction]));
    }
    Ok(flags(&[
        ("--max_batch_size", o.max_batch.map(|n| n.to_string())),
        ("--max_seq_len", o.max_model_len.map(|n| n.to_string())),
        fraction,
        ("--tp_size", o.tensor_parallel.map(|n| n.to_string())),
    ]))
}

/// TensorRT-LLM's engine mode, the two build steps' flags after their configured prefixes
/// (ENGINES.md 4.6): `convert_checkpoint.py` (model, dtype, tensor parallel) and
/// `trtllm-build` (plugins in the dtype, batch and lengths). Directories are added by the
/// caller. The serve-time flags of an engine dir must not repeat them.
pub(crate) fn trtllm_build_flags(o: &EngineOptions) -> (Vec<String>, Vec<String>) {
    let dtype = o.dtype.clone().filter(|d| d != "auto");
    let convert = flags(&[
        (
            "--dtype",
            Some(dtype.clone().unwrap_or_else(|| "auto".into())),
        ),
        (
            "--tp_size",
            Some(o.tensor_parallel.unwrap_or(1).to_string()),
        ),
    ]);
    let build = flags(&[
        (
            "--gemm_plugin",
            Some(dtype.clone().unwrap_or_else(|| "auto".into())),
        ),
        (
            "--gpt_attention_plugin",
            Some(dtype.unwrap_or_else(|| "auto".into())),
        ),
        ("--max_batch_size", o.max_batch.map(|n| n.to_string())),
        // Prompts may take the whole length: trtllm-build's default input limit is 1024.
        ("--max_input_len", o.max_model_len.map(|n| n.to_string())),
        ("--max_seq_len", o.max_model_len.map(|n| n.to_string())),
    ]);
    (convert, build)
}

/// Flags an engine dir is served without (fixed at build).
pub(crate) const TRTLLM_BUILT: &[&str] = &[
    "--tokenizer",
    "--max_batch_size",
    "--max_seq_len",
    "--tp_size",
    "--tensor_parallel_size",
];

/// trtllm-serve's YAML (`--config`): Prometheus metrics on, and what has no flag.
fn trtllm_config(o: &EngineOptions) -> String {
    let mut y = String::from("return_perf_metrics: true\nenable_iter_perf_stats: true\n");
    // An engine's dtype is its build's.
    if let Some(d) = o.dtype.as_ref().filter(|_| !engine_mode(o)) {
        y.push_str(&format!("dtype: {d}\n"));
    }
    if let Some(p) = o.prefix_cache {
        y.push_str(&format!("kv_cache_config:\n  enable_block_reuse: {p}\n"));
    }
    y
}

/// The value of the last `-x V` / `--long V` / `--long=V` in `argv`.
fn flag_value<'a>(argv: &'a [String], names: &[&str]) -> Option<&'a str> {
    let mut found = None;
    for (i, a) in argv.iter().enumerate() {
        for n in names {
            if a == n {
                found = argv.get(i + 1).map(String::as_str);
            } else if let Some(v) = a.strip_prefix(n).and_then(|t| t.strip_prefix('=')) {
                found = Some(v);
            }
        }
    }
    found
}

/// llama.cpp splits batches when its slots each have their own KV stream (`--parallel N`
/// without `--kv-unified`): a decode step's batch is cut into runs of consecutive slot ids.
/// Slots picked by prompt similarity (`--slot-prompt-similarity`, 0.1 by default) are
/// scattered, so each step makes several decodes; picked least-recently-used (`0`), busy
/// slots stay in runs. Measured on an H100 (issue 11): about twice the throughput at 8 to 16
/// requests in flight with `--slot-prompt-similarity 0`.
fn llamacpp_advice(argv: &[String]) -> Vec<String> {
    let slots = flag_value(argv, &["-np", "--parallel"]).and_then(|v| v.parse::<i64>().ok());
    // No --parallel (or -1): 4 slots sharing one unified KV cache.
    let Some(slots) = slots.filter(|n| *n > 1) else {
        return Vec::new();
    };
    let unified = argv
        .iter()
        .rev()
        .find(|a| matches!(a.as_str(), "-kvu" | "--kv-unified" | "--no-kv-unified"))
        .is_some_and(|a| a != "--no-kv-unified");
    let similarity = flag_value(argv, &["-sps", "--slot-prompt-similarity"])
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.1);
    if unified || similarity == 0.0 {
        return Vec::new();
    }
    vec![format!(
        "llama.cpp will split batches: {slots} slots with a KV stream each decode a step in runs of consecutive slots, and --slot-prompt-similarity {similarity} scatters requests over them; add --slot-prompt-similarity 0 to the engine's args (or --kv-unified) to measure its throughput"
    )]
}

fn llamacpp_options(o: &EngineOptions) -> Result<Vec<String>, String> {
    only_trtllm(o)?;
    for (set, name, why) in [
        (
            o.gpu_memory_fraction.is_some(),
            "gpu_memory_fraction",
            "llama.cpp sizes memory by its context and -ngl",
        ),
        (
            o.tensor_parallel.is_some(),
            "tensor_parallel",
            "llama.cpp splits layers with -sm/-ts (use args)",
        ),
        (
            o.dtype.is_some(),
            "dtype",
            "llama.cpp takes its dtype from the GGUF file",
        ),
    ] {
        if set {
            return Err(format!("{name}: not an option of llama.cpp ({why})"));
        }
    }
    // llama.cpp divides its context among its slots: each sequence gets ctx-size / parallel.
    let ctx = o
        .max_model_len
        .map(|n| u64::from(n) * u64::from(o.max_batch.unwrap_or(1).max(1)));
    let mut v = flags(&[
        ("--parallel", o.max_batch.map(|n| n.to_string())),
        ("--ctx-size", ctx.map(|n| n.to_string())),
        ("--seed", o.seed.map(|n| n.to_string())),
    ]);
    if o.prefix_cache == Some(false) {
        v.push("--no-cache-prompt".into());
    }
    Ok(v)
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

fn host_port(port: u16) -> Vec<String> {
    vec![
        "--host".to_owned(),
        "127.0.0.1".to_owned(),
        "--port".to_owned(),
        port.to_string(),
    ]
}

/// The kind called `name`.
pub(crate) fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

impl Kind {
    /// The full argv: configured prefix, template, the options' flags, then the spec's `args`.
    /// `config` is where [`Kind::config_file`] was written, for kinds that read one; `built`
    /// the engine dir of TensorRT-LLM's engine mode.
    pub fn argv(
        &self,
        prefix: &[String],
        spec: &EngineSpec,
        port: u16,
        config: Option<&Path>,
        built: Option<&Path>,
    ) -> Vec<String> {
        let mut v = prefix.to_vec();
        v.extend((self.template)(spec, port, config, built));
        v.extend((self.options)(&spec.options).unwrap_or_default());
        v.extend(spec.args.iter().cloned());
        v
    }

    /// The options as flags, or `Err("field: why")`.
    pub fn option_flags(&self, o: &EngineOptions) -> Result<Vec<String>, String> {
        (self.options)(o)
    }

    /// The config file's text, for kinds that read one.
    pub fn config_file(&self, o: &EngineOptions) -> Option<String> {
        self.config.map(|c| c(o))
    }

    /// Whether `flag` names one of the file-writing flags: exactly, with `_` for `-` (vLLM
    /// and SGLang take both), or as an unambiguous abbreviation (Python's argparse takes any
    /// prefix of a long option).
    fn writes_with(&self, flag: &str) -> bool {
        let norm = flag.replace('_', "-");
        self.writes.iter().any(|w| {
            *w == norm || (norm.starts_with("--") && norm.len() >= 5 && w.starts_with(&norm))
        })
    }

    /// The first file-writing flag of `args` whose path is absolute or climbs out with `..`
    /// (relative paths land in the scratch directory, the engine's working directory).
    pub fn write_outside<'a>(&self, args: &'a [String]) -> Option<(&'a str, &'a str)> {
        let mut it = args.iter().map(String::as_str).peekable();
        while let Some(a) = it.next() {
            let (flag, value) = match a.split_once('=') {
                Some((f, v)) if f.starts_with('-') => (f, Some(v)),
                _ => (a, None),
            };
            if !self.writes_with(flag) {
                continue;
            }
            let value = match value {
                Some(v) => v,
                None => it.next().unwrap_or_default(),
            };
            let p = Path::new(value);
            let climbs = p.components().any(|c| {
                matches!(
                    c,
                    std::path::Component::ParentDir | std::path::Component::RootDir
                )
            });
            if value.is_empty() || climbs || value.starts_with('~') {
                return Some((flag, value));
            }
        }
        None
    }

    /// The first of `args` that the daemon sets itself (`--port` or `--port=...`).
    pub fn reserved_in<'a>(&self, args: &'a [String]) -> Option<&'a str> {
        args.iter().map(String::as_str).find(|a| {
            self.reserved
                .iter()
                .any(|r| a == r || a.strip_prefix(r).is_some_and(|t| t.starts_with('=')))
        })
    }
}

/// The label of a fatal log line, if it is one.
pub(crate) fn fatal_label(line: &str) -> Option<&'static str> {
    let l = line.to_ascii_lowercase();
    FATAL.iter().find(|(p, _)| l.contains(p)).map(|(_, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str, model: Option<&str>, args: &[&str]) -> EngineSpec {
        EngineSpec {
            model: model.map(Into::into),
            ..EngineSpec::new(kind, kind, args)
        }
    }

    #[test]
    fn llamacpp_warns_when_its_slots_split_batches() {
        let argv = |args: &[&str]| {
            let mut v = vec!["llama-server".to_owned(), "-m".into(), "m.gguf".into()];
            v.extend(args.iter().map(|a| (*a).to_owned()));
            v
        };
        let w = llamacpp_advice(&argv(&["--parallel", "32"]));
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("32 slots") && w[0].contains("--slot-prompt-similarity 0"),
            "{w:?}"
        );
        assert_eq!(
            llamacpp_advice(&argv(&["-np", "8", "-sps", "0.5"])).len(),
            1
        );
        for fine in [
            &[][..],
            &["-np", "1"],
            &["-np", "-1"],
            &["-np", "8", "--slot-prompt-similarity", "0"],
            &["-np", "8", "-sps=0.0"],
            &["--parallel=8", "--kv-unified"],
            &["-np", "8", "-kvu"],
        ] {
            assert!(llamacpp_advice(&argv(fine)).is_empty(), "{fine:?}");
        }
        assert_eq!(
            llamacpp_advice(&argv(&["-np", "8", "-kvu", "--no-kv-unified"])).len(),
            1
        );
        // Through the options, as a sweep's max_batch gives it.
        let k = find("llamacpp").unwrap();
        let mut s = spec("llamacpp", Some("/m/x.gguf"), &[]);
        s.options.max_batch = Some(16);
        let v = k.argv(&["llama-server".into()], &s, 8080, None, None);
        assert_eq!((k.advice)(&v).len(), 1, "{v:?}");
    }

    #[test]
    fn llamacpp_argv() {
        let k = find("llamacpp").unwrap();
        let s = spec("llamacpp", Some("/m/x.gguf"), &["-np", "4"]);
        assert_eq!(
            k.argv(&["llama-server".into()], &s, 4321, None, None)
                .join(" "),
            "llama-server -m /m/x.gguf --host 127.0.0.1 --port 4321 --metrics -np 4"
        );
    }

    #[test]
    fn reference_argv_with_and_without_model() {
        let k = find("reference").unwrap();
        let pre = ["/bin/llmsd".to_owned(), "reference-engine".to_owned()];
        let s = spec("reference", None, &["--ttft-ms", "5"]);
        assert_eq!(
            k.argv(&pre, &s, 9, None, None).join(" "),
            "/bin/llmsd reference-engine --host 127.0.0.1 --port 9 --ttft-ms 5"
        );
        let s = spec("reference", Some("m1"), &[]);
        assert_eq!(
            k.argv(&pre, &s, 9, None, None).join(" "),
            "/bin/llmsd reference-engine --host 127.0.0.1 --port 9 --model m1"
        );
    }

    fn all_options() -> EngineOptions {
        EngineOptions {
            max_batch: Some(64),
            max_model_len: Some(4096),
            gpu_memory_fraction: Some(0.85),
            tensor_parallel: Some(2),
            dtype: Some("bfloat16".into()),
            prefix_cache: Some(false),
            seed: Some(7),
            mode: None,
        }
    }

    fn golden(kind: &str, prefix: &[&str], o: EngineOptions, config: Option<&Path>) -> String {
        let k = find(kind).unwrap();
        let mut s = spec(kind, Some("/models/Qwen2.5-3B-Instruct"), &["--x", "1"]);
        s.options = o;
        let pre: Vec<String> = prefix.iter().map(|p| p.to_string()).collect();
        k.argv(&pre, &s, 8123, config, None).join(" ")
    }

    /// Flags as ENGINES.md gives them for vLLM (2.2), SGLang (3.2), TensorRT-LLM (4.1) and
    /// llama.cpp (5.1).
    #[test]
    fn golden_command_lines() {
        assert_eq!(
            golden("vllm", &["vllm", "serve"], all_options(), None),
            "vllm serve /models/Qwen2.5-3B-Instruct --host 127.0.0.1 --port 8123 \
             --max-num-seqs 64 --max-model-len 4096 --gpu-memory-utilization 0.85 \
             --tensor-parallel-size 2 --dtype bfloat16 --seed 7 --no-enable-prefix-caching --x 1"
        );
        assert_eq!(
            golden(
                "sglang",
                &["python3", "-m", "sglang.launch_server"],
                all_options(),
                None
            ),
            "python3 -m sglang.launch_server --model-path /models/Qwen2.5-3B-Instruct \
             --host 127.0.0.1 --port 8123 --enable-metrics --max-running-requests 64 \
             --context-length 4096 --mem-fraction-static 0.85 --tp-size 2 --dtype bfloat16 \
             --random-seed 7 --disable-radix-cache --x 1"
        );
        let trt = EngineOptions {
            seed: None,
            mode: Some("pytorch".into()),
            ..all_options()
        };
        assert_eq!(
            golden(
                "trtllm",
                &["trtllm-serve"],
                trt.clone(),
                Some(Path::new("/s/e.yaml"))
            ),
            "trtllm-serve /models/Qwen2.5-3B-Instruct --host 127.0.0.1 --port 8123 \
             --config /s/e.yaml --max_batch_size 64 --max_seq_len 4096 \
             --free_gpu_memory_fraction 0.85 --tp_size 2 --x 1"
        );
        assert_eq!(
            find("trtllm").unwrap().config_file(&trt).unwrap(),
            "return_perf_metrics: true\nenable_iter_perf_stats: true\ndtype: bfloat16\n\
             kv_cache_config:\n  enable_block_reuse: false\n"
        );
        let llama = EngineOptions {
            max_batch: Some(8),
            max_model_len: Some(2048),
            seed: Some(7),
            prefix_cache: Some(false),
            ..Default::default()
        };
        assert_eq!(
            golden("llamacpp", &["llama-server"], llama, None),
            "llama-server -m /models/Qwen2.5-3B-Instruct --host 127.0.0.1 --port 8123 --metrics \
             --parallel 8 --ctx-size 16384 --seed 7 --no-cache-prompt --x 1"
        );
        // No options: the bare command each engine documents.
        assert_eq!(
            golden("vllm", &["vllm", "serve"], Default::default(), None),
            "vllm serve /models/Qwen2.5-3B-Instruct --host 127.0.0.1 --port 8123 --x 1"
        );
    }

    /// ENGINES.md 4.6: convert, build, then serve the engine dir with the HF tokenizer.
    #[test]
    fn trtllm_engine_mode_command_lines() {
        let o = EngineOptions {
            mode: Some("engine".into()),
            seed: None,
            ..all_options()
        };
        let (convert, build) = trtllm_build_flags(&o);
        assert_eq!(convert.join(" "), "--dtype bfloat16 --tp_size 2");
        assert_eq!(
            build.join(" "),
            "--gemm_plugin bfloat16 --gpt_attention_plugin bfloat16 --max_batch_size 64 \
             --max_input_len 4096 --max_seq_len 4096"
        );
        let k = find("trtllm").unwrap();
        let mut s = spec("trtllm", Some("/models/Qwen2.5-3B-Instruct"), &[]);
        s.options = o.clone();
        assert_eq!(
            k.argv(
                &["trtllm-serve".into()],
                &s,
                8123,
                Some(Path::new("/s/e.yaml")),
                Some(Path::new("/cache/abc/engine"))
            )
            .join(" "),
            "trtllm-serve /cache/abc/engine --tokenizer /models/Qwen2.5-3B-Instruct --backend tensorrt \
             --host 127.0.0.1 --port 8123 --config /s/e.yaml --free_gpu_memory_fraction 0.85"
        );
        assert_eq!(
            k.config_file(&o).unwrap(),
            "return_perf_metrics: true\nenable_iter_perf_stats: true\n\
             kv_cache_config:\n  enable_block_reuse: false\n"
        );
        let (convert, build) = trtllm_build_flags(&EngineOptions::default());
        assert_eq!(convert.join(" "), "--dtype auto --tp_size 1");
        assert_eq!(
            build.join(" "),
            "--gemm_plugin auto --gpt_attention_plugin auto"
        );
    }

    #[test]
    fn options_a_kind_has_no_flag_for_are_refused_by_name() {
        let refuse = |kind: &str, o: EngineOptions, want: &str| {
            let e = find(kind).unwrap().option_flags(&o).unwrap_err();
            assert!(e.starts_with(want), "{kind}: {e}");
        };
        refuse(
            "trtllm",
            EngineOptions {
                seed: Some(1),
                ..Default::default()
            },
            "seed:",
        );
        refuse(
            "trtllm",
            EngineOptions {
                mode: Some("tensorrt".into()),
                ..Default::default()
            },
            "mode: 'tensorrt'",
        );
        refuse(
            "vllm",
            EngineOptions {
                mode: Some("pytorch".into()),
                ..Default::default()
            },
            "mode:",
        );
        refuse(
            "vllm",
            EngineOptions {
                dtype: Some("fp7".into()),
                ..Default::default()
            },
            "dtype: 'fp7'",
        );
        refuse(
            "llamacpp",
            EngineOptions {
                dtype: Some("bfloat16".into()),
                ..Default::default()
            },
            "dtype:",
        );
        refuse(
            "external",
            EngineOptions {
                max_batch: Some(4),
                ..Default::default()
            },
            "max_batch:",
        );
        refuse(
            "reference",
            EngineOptions {
                seed: Some(4),
                ..Default::default()
            },
            "seed:",
        );
    }

    #[test]
    fn warmup_rules_and_version_sources() {
        let w = |k: &str| find(k).unwrap().warmup_sampled;
        // GPU-VLLM.md: 8+ concurrent sampled requests; GPU-SGLANG.md: one top-k/top-p request.
        assert_eq!(
            (w("vllm"), w("sglang"), w("trtllm"), w("llamacpp")),
            (8, 1, 0, 0)
        );
        assert_eq!(
            find("sglang").unwrap().version,
            &[("/get_server_info", "version")]
        );
        assert_eq!(
            find("llamacpp").unwrap().version,
            &[("/props", "build_info")]
        );
    }

    #[test]
    fn the_table_is_the_list_of_kinds() {
        let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        assert_eq!(names, super::super::known_kinds());
    }

    #[test]
    fn file_writing_flags_stay_in_the_scratch_directory() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let r = find("reference").unwrap();
        let bad = a(&["--ground-truth", "/var/lib/llmsd/db/db"]);
        assert_eq!(
            r.write_outside(&bad),
            Some(("--ground-truth", "/var/lib/llmsd/db/db"))
        );
        let bad = a(&["--ground-truth=../../db/db"]);
        assert_eq!(
            r.write_outside(&bad),
            Some(("--ground-truth", "../../db/db"))
        );
        assert_eq!(r.write_outside(&a(&["--ground-truth", "truth.json"])), None);
        let l = find("llamacpp").unwrap();
        assert!(
            l.write_outside(&a(&["-np", "2", "--log-file", "~/x"]))
                .is_some()
        );
        assert!(l.write_outside(&a(&["--slot-save-path", "/tmp"])).is_some());
        assert_eq!(l.write_outside(&a(&["--slot-save-path", "slots/"])), None);
        assert!(
            l.write_outside(&a(&["--log-file"])).is_some(),
            "a flag with no value"
        );
    }

    #[test]
    fn reserved_flags_found_in_both_spellings() {
        let k = find("llamacpp").unwrap();
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            k.reserved_in(&a(&["-np", "4", "--port=1"])),
            Some("--port=1")
        );
        assert_eq!(k.reserved_in(&a(&["-m", "x"])), Some("-m"));
        assert_eq!(k.reserved_in(&a(&["--portx", "--metrics"])), None);
    }

    #[test]
    fn fatal_lines() {
        assert_eq!(
            fatal_label("cannot listen on 127.0.0.1:80: Address already in use (os error 98)"),
            Some(PORT_IN_USE)
        );
        assert_eq!(
            fatal_label(
                "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 10 MiB on device 0: cudaMalloc failed: out of memory"
            ),
            Some("CUDA out of memory")
        );
        assert_eq!(
            fatal_label("torch.OutOfMemoryError: CUDA out of memory."),
            Some("CUDA out of memory")
        );
        assert_eq!(fatal_label("srv  load_model: loading model"), None);
        assert_eq!(
            fatal_label(
                "OSError: /models/nope is not a local folder and is not a valid model identifier listed on 'https://huggingface.co/models'"
            ),
            Some("model not found")
        );
    }
}
