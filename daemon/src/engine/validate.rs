//! Spec checks, before anything is queued or started. Messages name the field.

use super::{EngineConfig, EngineKind, EngineSpec};
use crate::kinds::{self, Need};

/// Check `spec` against the kinds and `cfg`; `field` prefixes every message.
pub(crate) fn spec(cfg: &EngineConfig, field: &str, spec: &EngineSpec) -> Result<(), String> {
    let err = |f: &str, m: String| Err(format!("{field}.{f}: {m}"));
    let kind = kinds::of(spec.kind);
    if spec.name.trim().is_empty() || spec.name.chars().any(char::is_control) {
        return err(
            "name",
            "must be non-empty, without control characters".into(),
        );
    }
    if kind.process && command(cfg, spec.kind).is_none() {
        return err(
            "kind",
            format!(
                "'{0}' is not configured in the daemon config ([engines.{0}] command)",
                kind.name()
            ),
        );
    }
    if !kind.process {
        let Some(url) = &spec.url else {
            return err("url", format!("required for kind '{}'", kind.name()));
        };
        external_url(url, &cfg.external_hosts).map_err(|m| format!("{field}.url: {m}"))?;
        let unused = [
            ("args", !spec.args.is_empty()),
            ("env", !spec.env.is_empty()),
            ("gpus", spec.gpus.is_some()),
        ];
        if let Some((f, _)) = unused.iter().find(|(_, set)| *set) {
            return err(
                f,
                "not allowed for kind 'external' (no process is started)".into(),
            );
        }
        kind.option_flags(&spec.options)
            .map_err(|m| format!("{field}.{m}"))?;
        return timeout(field, spec);
    }
    if spec.url.is_some() {
        return err(
            "url",
            "only for kind 'external' (the daemon picks the port)".into(),
        );
    }
    match (kind.model, &spec.model) {
        (Need::File | Need::Name, None) => {
            return err("model", format!("required for kind '{}'", kind.name()));
        }
        (Need::File, Some(m)) if !std::path::Path::new(m).is_file() => {
            return err("model", format!("'{m}' does not exist or is not a file"));
        }
        _ => {}
    }
    // Options in the engine's own flags; a flag the options set may not come again in args.
    let opts = kind
        .option_flags(&spec.options)
        .map_err(|m| format!("{field}.{m}"))?;
    if let Some(a) = spec.args.iter().find(|a| {
        let flag = a.split('=').next().unwrap_or(a);
        opts.iter().any(|o| o.starts_with('-') && o == flag)
    }) {
        return err(
            "args",
            format!("'{a}' repeats what the engine's options set; give it once"),
        );
    }
    if let Some(a) = spec.args.iter().find(|a| a.contains('\0')) {
        return err("args", format!("{a:?} contains a NUL byte"));
    }
    if let Some(a) = kind.reserved_in(&spec.args) {
        return err("args", format!("'{a}' is set by the daemon"));
    }
    if let Some((flag, path)) = kind.write_outside(&spec.args) {
        return err(
            "args",
            format!(
                "'{flag} {path}': the engine writes there; give a relative path (it lands in the \
                 engine's own scratch directory, its working directory)"
            ),
        );
    }
    if super::build::needed(spec) {
        if cfg.trtllm.convert.is_none() {
            return err(
                "mode",
                "'engine' needs [engines.trtllm] convert = [\"python3\", \".../examples/models/core/<family>/convert_checkpoint.py\"] in the daemon config".into(),
            );
        }
        let m = spec.model.as_deref().unwrap_or_default();
        if !std::path::Path::new(m).is_dir() {
            return err(
                "model",
                format!(
                    "'{m}' is not a directory: engine mode converts a local Hugging Face checkpoint"
                ),
            );
        }
        if let Some(a) = spec.args.iter().find(|a| {
            let flag = a.split('=').next().unwrap_or(a);
            kinds::TRTLLM_BUILT.contains(&flag)
        }) {
            return err(
                "args",
                format!(
                    "'{a}' is fixed when the engine is built (use the options) or set by the daemon"
                ),
            );
        }
    }
    for (k, v) in &spec.env {
        if k.is_empty() || k.contains(['=', '\0']) || v.contains('\0') {
            return err(
                "env",
                format!("{k:?} is not a valid variable name or value"),
            );
        }
        if let Some(part) = env_denied(k) {
            return err(
                "env",
                format!(
                    "'{k}' may not be set by a job: a variable naming a {part} can load code or write files beyond the engine"
                ),
            );
        }
        if !env_allowed(k) {
            return err(
                "env",
                format!(
                    "'{k}' may not be set by a job (it could change which program runs); allowed: {}* (but for paths, plugins, libraries, caches and endpoints)",
                    ENV_PREFIXES.join("*, ")
                ),
            );
        }
    }
    timeout(field, spec)
}

/// Variables a job may set: engine and library tuning. Loader and interpreter paths
/// (`LD_PRELOAD`, `PATH`, `PYTHONPATH`, ...) stay the daemon's, as binaries do.
const ENV_PREFIXES: &[&str] = &[
    "CUDA_",
    "NCCL_",
    "NVIDIA_",
    "CUBLAS",
    "CUDNN_",
    "TORCH_",
    "PYTORCH_",
    "TORCHINDUCTOR_",
    "TRITON_",
    "VLLM_",
    "SGLANG_",
    "SGL_",
    "TRTLLM_",
    "TLLM_",
    "TRT_",
    "FLASHINFER_",
    "HF_",
    "HUGGING_FACE_",
    "TRANSFORMERS_",
    "TOKENIZERS_",
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "GGML_",
];

/// Within those, names that point somewhere: a library or plugin to load
/// (`CUDA_INJECTION64_PATH`, `NCCL_NET_PLUGIN`, `OMP_TOOL_LIBRARIES`, `VLLM_PLUGINS`), a place
/// to write (`TRITON_CACHE_DIR`, `HF_HOME`, `NCCL_DEBUG_FILE`) or a server to reach
/// (`HF_ENDPOINT`). llama.cpp's `LLAMA_ARG_*` mirror its flags, so they are not taken at all
/// (flags go in `args`, where they are checked).
const ENV_DENIED: &[(&str, &str)] = &[
    ("PATH", "path"),
    ("PLUGIN", "plugin"),
    ("LIBRAR", "library"),
    ("INJECTION", "library"),
    ("PRELOAD", "library"),
    ("_DIR", "directory"),
    ("ROOT", "directory"),
    ("HOME", "directory"),
    ("CACHE", "cache"),
    ("_FILE", "file"),
    ("ENDPOINT", "server"),
    ("URL", "server"),
    ("HOST", "server"),
];

fn env_denied(k: &str) -> Option<&'static str> {
    ENV_DENIED
        .iter()
        .find(|(p, _)| k.contains(p))
        .map(|(_, what)| *what)
}

fn env_allowed(k: &str) -> bool {
    ENV_PREFIXES.iter().any(|p| k.starts_with(p))
}

fn timeout(field: &str, spec: &EngineSpec) -> Result<(), String> {
    match spec.ready_timeout {
        Some(t) if t.is_zero() => Err(format!("{field}.ready_timeout: must be above 0")),
        _ => Ok(()),
    }
}

/// The argv prefix configured for `kind` (`reference` defaults to this executable).
pub(crate) fn command(cfg: &EngineConfig, kind: EngineKind) -> Option<Vec<String>> {
    let row = kinds::of(kind);
    match (cfg.commands.get(kind.name()), row.builtin, row.on_path) {
        (Some(c), _, _) if !c.is_empty() => Some(c.clone()),
        (Some(_), _, _) => None,
        (None, Some(sub), _) => {
            let exe = std::env::current_exe().ok()?;
            Some(vec![exe.to_string_lossy().into_owned(), sub.into()])
        }
        (None, None, Some(words)) => {
            let (program, rest) = words.split_first()?;
            let found = on_path(program)?;
            let mut argv = vec![found.display().to_string()];
            argv.extend(rest.iter().map(|w| (*w).to_owned()));
            Some(argv)
        }
        (None, None, None) => None,
    }
}

/// Where `program` is on the daemon's own `PATH`, if it is there and executable.
pub(crate) fn on_path(program: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// An `external` URL: http(s), a host the daemon's config allows, and nothing beyond the
/// API base (`/` or `/v1`): no user, query or fragment, so a job can neither reach a host the
/// admin did not list nor aim its requests at another path of an allowed one.
pub(crate) fn external_url(url: &str, allowed: &[String]) -> Result<(), String> {
    let u = match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
        _ => return Err(format!("'{url}' is not an http(s) URL")),
    };
    let path = u.path().trim_end_matches('/');
    if !(path.is_empty() || path == "/v1")
        || u.query().is_some()
        || u.fragment().is_some()
        || !u.username().is_empty()
        || u.password().is_some()
    {
        return Err(format!(
            "'{url}' must be the server's base URL (scheme, host, port, at most /v1): no other \
             path, query, fragment or user"
        ));
    }
    let host = u.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let ok = allowed.iter().any(|a| match a.as_str() {
        "*" => true,
        "loopback" => loopback,
        a => a
            .trim_start_matches('[')
            .trim_end_matches(']')
            .eq_ignore_ascii_case(bare),
    });
    if !ok {
        return Err(format!(
            "host '{host}' is not one external engines may name here (allowed: {}); the \
             daemon's admin lists hosts in external_hosts in its config",
            allowed.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(kind: &str) -> EngineSpec {
        EngineSpec::new(EngineKind::parse(kind).unwrap(), "e", &[])
    }

    fn check(s: &EngineSpec) -> Result<(), String> {
        spec(&EngineConfig::new("/tmp"), "engine[1]", s)
    }

    #[test]
    fn kinds_and_configuration() {
        // An unknown kind never makes a spec: scheduler::worker::engine_spec refuses it.
        let e = check(&base("vllm")).unwrap_err();
        assert!(
            e.starts_with("engine[1].kind: 'vllm' is not configured"),
            "{e}"
        );
        let e = check(&base("llamacpp")).unwrap_err();
        assert_eq!(
            e,
            "engine[1].kind: 'llamacpp' is not configured in the daemon config ([engines.llamacpp] command)"
        );
        assert_eq!(check(&base("reference")), Ok(()));
    }

    /// The variables that got through the allow-list before (issue 12): each loads code,
    /// writes files or reaches a server of the job's choosing.
    #[test]
    fn loader_plugin_cache_and_endpoint_variables_are_refused_by_name() {
        for k in [
            "CUDA_INJECTION64_PATH",
            "NCCL_NET_PLUGIN",
            "NCCL_TUNER_PLUGIN",
            "OMP_TOOL_LIBRARIES",
            "TRITON_CACHE_DIR",
            "HF_ENDPOINT",
            "VLLM_PLUGINS",
            "HF_HOME",
            "NCCL_DEBUG_FILE",
            "LLAMA_ARG_SLOT_SAVE_PATH",
            "LLAMA_ARG_LOG_FILE",
        ] {
            let mut s = base("reference");
            s.env = vec![(k.into(), "x".into())];
            let e = check(&s).unwrap_err();
            assert!(
                e.starts_with(&format!("engine[1].env: '{k}' may not be set by a job")),
                "{e}"
            );
        }
        for k in [
            "CUDA_VISIBLE_DEVICES",
            "GGML_CUDA_DISABLE_GRAPHS",
            "VLLM_ATTENTION_BACKEND",
            "NCCL_DEBUG",
        ] {
            let mut s = base("reference");
            s.env = vec![(k.into(), "1".into())];
            assert_eq!(check(&s), Ok(()), "{k}");
        }
    }

    #[test]
    fn external_needs_a_url_and_no_process_fields() {
        let mut s = base("external");
        assert_eq!(
            check(&s).unwrap_err(),
            "engine[1].url: required for kind 'external'"
        );
        s.url = Some("ftp://x".into());
        assert!(
            check(&s)
                .unwrap_err()
                .starts_with("engine[1].url: 'ftp://x'")
        );
        s.url = Some("http://127.0.0.1:8000".into());
        assert_eq!(check(&s), Ok(()));
        s.url = Some("http://127.0.0.1:18501/admin/secret?x=".into());
        assert!(
            check(&s)
                .unwrap_err()
                .contains("must be the server's base URL")
        );
        s.url = Some("http://127.0.0.1:8000/v1".into());
        s.args = vec!["--x".into()];
        assert!(
            check(&s)
                .unwrap_err()
                .starts_with("engine[1].args: not allowed")
        );
    }

    #[test]
    fn llamacpp_model_file_and_reserved_args() {
        let mut cfg = EngineConfig::new("/tmp");
        cfg.commands
            .insert("llamacpp".into(), vec!["llama-server".into()]);
        let mut s = base("llamacpp");
        let e = spec(&cfg, "engine[0]", &s).unwrap_err();
        assert_eq!(e, "engine[0].model: required for kind 'llamacpp'");
        s.model = Some("/no/such.gguf".into());
        let e = spec(&cfg, "engine[0]", &s).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        s.model = Some(env!("CARGO_MANIFEST_DIR").to_owned() + "/Cargo.toml");
        assert_eq!(spec(&cfg, "engine[0]", &s), Ok(()));
        s.args = vec!["--port".into(), "1".into()];
        let e = spec(&cfg, "engine[0]", &s).unwrap_err();
        assert_eq!(e, "engine[0].args: '--port' is set by the daemon");
        s.args = vec![];
        s.url = Some("http://x".into());
        assert!(
            spec(&cfg, "engine[0]", &s)
                .unwrap_err()
                .starts_with("engine[0].url:")
        );
    }
}

#[cfg(test)]
mod url_tests {
    use super::external_url;

    #[test]
    fn external_urls_are_loopback_and_base_only_unless_the_config_says() {
        let lo = ["loopback".to_owned()];
        for ok in [
            "http://127.0.0.1:8000",
            "http://127.0.0.2:8000/",
            "http://localhost:8000/v1",
            "https://[::1]:8443/v1/",
        ] {
            assert_eq!(external_url(ok, &lo), Ok(()), "{ok}");
        }
        let e = external_url("http://10.0.0.5:8000", &lo).unwrap_err();
        assert!(
            e.contains("host '10.0.0.5' is not one") && e.contains("allowed: loopback"),
            "{e}"
        );
        for bad in [
            "http://127.0.0.1:8000/admin",
            "http://127.0.0.1:8000/v1?x=1",
            "http://127.0.0.1:8000/#f",
            "http://u:p@127.0.0.1:8000",
        ] {
            let e = external_url(bad, &lo).unwrap_err();
            assert!(e.contains("base URL"), "{bad}: {e}");
        }
        let listed = [
            "loopback".to_owned(),
            "gpu-7.lan".to_owned(),
            "10.0.0.5".to_owned(),
        ];
        assert_eq!(external_url("http://GPU-7.lan:8000", &listed), Ok(()));
        assert_eq!(external_url("http://10.0.0.5:8000", &listed), Ok(()));
        assert!(external_url("http://10.0.0.6:8000", &listed).is_err());
        assert_eq!(
            external_url("http://10.0.0.6:8000", &["*".to_owned()]),
            Ok(())
        );
    }
}
