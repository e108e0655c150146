use super::*;
use crate::engine::EngineSpec;
use std::path::Path;

fn spec(kind: &str, model: Option<&str>, args: &[&str]) -> EngineSpec {
    EngineSpec {
        model: model.map(Into::into),
        ..EngineSpec::new(EngineKind::parse(kind).unwrap(), kind, args)
    }
}

/// `k`'s full command line for `s` on `port`.
fn command(
    k: &Kind,
    prefix: &[String],
    s: &EngineSpec,
    port: u16,
    config: Option<&Path>,
    built: Option<&Path>,
) -> Vec<String> {
    let l = Launch {
        model: s.model.as_deref(),
        options: &s.options,
        args: &s.args,
        port,
        config,
        built,
    };
    k.argv(prefix, &l)
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
    let v = command(k, &["llama-server".into()], &s, 8080, None, None);
    assert_eq!((k.advice)(&v).len(), 1, "{v:?}");
}

#[test]
fn llamacpp_argv() {
    let k = find("llamacpp").unwrap();
    let s = spec("llamacpp", Some("/m/x.gguf"), &["-np", "4"]);
    assert_eq!(
        command(k, &["llama-server".into()], &s, 4321, None, None).join(" "),
        "llama-server -m /m/x.gguf --host 127.0.0.1 --port 4321 --metrics -np 4"
    );
}

#[test]
fn reference_argv_with_and_without_model() {
    let k = find("reference").unwrap();
    let pre = ["/bin/llmsd".to_owned(), "reference-engine".to_owned()];
    let s = spec("reference", None, &["--ttft-ms", "5"]);
    assert_eq!(
        command(k, &pre, &s, 9, None, None).join(" "),
        "/bin/llmsd reference-engine --host 127.0.0.1 --port 9 --ttft-ms 5"
    );
    let s = spec("reference", Some("m1"), &[]);
    assert_eq!(
        command(k, &pre, &s, 9, None, None).join(" "),
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
    command(k, &pre, &s, 8123, config, None).join(" ")
}

/// Flags as ENGINES.md gives them for vLLM (2.2), SGLang (3.2), TensorRT-LLM (4.1) and
/// llama.cpp (5.1).
#[test]
fn golden_command_lines() {
    assert_eq!(
        golden("vllm", &["vllm", "serve"], all_options(), None),
        "vllm serve /models/Qwen2.5-3B-Instruct --host 127.0.0.1 --port 8123 \
         --enable-prompt-tokens-details --max-num-seqs 64 --max-model-len 4096 --gpu-memory-utilization 0.85 \
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
         --host 127.0.0.1 --port 8123 --enable-metrics --enable-cache-report \
         --max-running-requests 64 \
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
    // No options: the bare command each engine documents, and its per-request cache report.
    assert_eq!(
        golden("vllm", &["vllm", "serve"], Default::default(), None),
        "vllm serve /models/Qwen2.5-3B-Instruct --host 127.0.0.1 --port 8123 \
         --enable-prompt-tokens-details --x 1"
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
        command(
            k,
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
    let kinds: Vec<EngineKind> = KINDS.iter().map(|k| k.kind).collect();
    assert_eq!(kinds, EngineKind::ALL);
    for k in EngineKind::ALL {
        assert_eq!(of(*k).kind, *k);
        assert_eq!(find(k.name()).map(Kind::name), Some(k.name()));
    }
    assert!(find("tgi").is_none());
    // Every kind the daemon starts has its series names; an external server is read by
    // whichever names it exports.
    for k in KINDS {
        assert_eq!(k.names.is_some(), k.process, "{}", k.name());
    }
    assert_eq!(metrics_paths(), ["/metrics", "/prometheus/metrics"]);
}

/// What `/v1/models` says decides whether `min_tokens` is sent to a server the daemon did
/// not start: the engines whose API takes it, by name, and not llama.cpp.
#[test]
fn min_tokens_goes_to_the_servers_that_take_it() {
    for (owned_by, takes) in [
        ("vllm", true),
        ("sglang", true),
        ("tensorrt_llm", true),
        ("trtllm", true),
        ("llms-reference", true),
        ("LLMS-Reference", true),
        ("llamacpp", false),
        ("openai", false),
        ("", false),
    ] {
        assert_eq!(owner_takes_min_tokens(owned_by), takes, "{owned_by}");
        // The same for a server whose kind says nothing of its API.
        for k in [EngineKind::External, EngineKind::Reference] {
            assert_eq!(takes_min_tokens(Some(k), owned_by), takes, "{k} {owned_by}");
        }
    }
    // A kind with its own API is taken at its word, whatever the server says.
    assert!(takes_min_tokens(Some(EngineKind::Vllm), ""));
    assert!(!takes_min_tokens(Some(EngineKind::Llamacpp), "vllm"));
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
