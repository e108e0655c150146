//! The common options as each kind's own flags (ENGINES.md sections 2-5), TensorRT-LLM's
//! build flags and config file, and advice on a command line that will measure badly.

/// Engine options with one name across kinds; each kind maps them to its flags (or refuses
/// the ones it has no equivalent for, naming the field).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineOptions {
    /// Most requests running at once.
    pub max_batch: Option<u32>,
    /// Longest sequence.
    pub max_model_len: Option<u32>,
    /// GPU memory share, 0 to 1.
    pub gpu_memory_fraction: Option<f64>,
    /// Tensor-parallel GPUs.
    pub tensor_parallel: Option<u32>,
    /// auto, float16, bfloat16, float32.
    pub dtype: Option<String>,
    /// `Some(false)` turns prefix caching off.
    pub prefix_cache: Option<bool>,
    /// The engine's random seed.
    pub seed: Option<u64>,
    /// TensorRT-LLM backend mode.
    pub mode: Option<String>,
}

/// Refuse every option that is set.
pub(super) fn none_of(o: &EngineOptions, why: &str) -> Result<Vec<String>, String> {
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

pub(super) fn vllm_options(o: &EngineOptions) -> Result<Vec<String>, String> {
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

pub(super) fn sglang_options(o: &EngineOptions) -> Result<Vec<String>, String> {
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

pub(super) fn trtllm_options(o: &EngineOptions) -> Result<Vec<String>, String> {
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
pub(super) fn trtllm_config(o: &EngineOptions) -> String {
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
pub(super) fn llamacpp_advice(argv: &[String]) -> Vec<String> {
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

pub(super) fn llamacpp_options(o: &EngineOptions) -> Result<Vec<String>, String> {
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

pub(super) fn host_port(port: u16) -> Vec<String> {
    vec![
        "--host".to_owned(),
        "127.0.0.1".to_owned(),
        "--port".to_owned(),
        port.to_string(),
    ]
}
