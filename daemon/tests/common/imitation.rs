//! The imitation engines of `daemon/tests/imitations/`: executables named like the real ones
//! (`vllm`, `trtllm-serve`, `trtllm-build`, and the `sglang` / `tensorrt_llm` Python packages)
//! that check their argv as the real engines do and then run `llmsd reference-engine
//! --imitate ...`. Tests put them first on PATH / PYTHONPATH.

use std::path::{Path, PathBuf};

/// `daemon/tests/imitations`.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/imitations")
}

/// The environment that makes `vllm`, `python3 -m sglang.launch_server`, `trtllm-serve`,
/// `trtllm-build` and `import tensorrt_llm` the imitations; each invocation is logged to `log`;
/// `args` go to the reference engine.
pub fn env(log: &Path, args: &str) -> Vec<(String, String)> {
    let path = format!(
        "{}:{}",
        root().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    vec![
        ("PATH".into(), path),
        (
            "PYTHONPATH".into(),
            root().join("python").display().to_string(),
        ),
        (
            "LLMS_IMITATION_LLMSD".into(),
            env!("CARGO_BIN_EXE_llmsd").into(),
        ),
        ("LLMS_IMITATION_LOG".into(), log.display().to_string()),
        ("LLMS_IMITATION_ARGS".into(), args.into()),
        ("LLMS_IMITATION_LOAD_MS".into(), "300".into()),
        // SGLang's /health stays 503 this long after it listens (its warm-up request).
        ("LLMS_IMITATION_WARMUP_MS".into(), "800".into()),
    ]
}

/// A Hugging Face-style checkpoint dir (config + tokenizer files, no weights).
pub fn model(dir: &Path) -> PathBuf {
    let m = dir.join("Qwen2.5-3B-Instruct");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(
        m.join("config.json"),
        r#"{"architectures":["Qwen2ForCausalLM"],"hidden_size":2048,"num_hidden_layers":36}"#,
    )
    .unwrap();
    std::fs::write(m.join("tokenizer_config.json"), "{}").unwrap();
    m
}

/// The daemon config naming each engine the way a real host would (vLLM as on the GPU machine:
/// its module under a private PYTHONPATH, through `env`).
pub fn daemon_config() -> String {
    let convert = root().join("TensorRT-LLM/examples/models/core/qwen/convert_checkpoint.py");
    format!(
        "engine_grace_s = 2\n\
         [engines.vllm]\ncommand = [\"env\", \"PYTHONPATH={}\", \"python3\", \"-m\", \"vllm.entrypoints.cli.main\", \"serve\"]\n\
         [engines.sglang]\ncommand = [\"python3\", \"-m\", \"sglang.launch_server\"]\n\
         [engines.trtllm]\ncommand = [\"trtllm-serve\"]\nconvert = [\"python3\", \"{}\"]\n",
        root().join("python").display(),
        convert.display()
    )
}

/// Each invocation logged: (tool, argv).
pub fn invocations(log: &Path) -> Vec<(String, Vec<String>)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let argv = v["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            (v["tool"].as_str().unwrap().to_owned(), argv)
        })
        .collect()
}

/// Live processes whose environment carries `LLMSD_ENGINE_OWNER=<owner>`: an engine's, in
/// its group or out of it.
pub fn owned_by(owner: &str) -> Vec<u32> {
    let want = format!("LLMSD_ENGINE_OWNER={owner}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let alive = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                !matches!(
                    s.rsplit(')').next().and_then(|r| r.trim().chars().next()),
                    Some('Z' | 'X')
                )
            });
            alive
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == want.as_bytes()))
        })
        .collect()
}
