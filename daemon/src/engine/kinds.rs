//! One adapter per engine kind, as data: the argv template, the health and metrics paths, what
//! the spec must carry, the flags the daemon sets itself, and the log lines that mean a fatal
//! error. vLLM, SGLang and TensorRT-LLM become rows of [`KINDS`].

use super::EngineSpec;

/// An engine kind.
pub(crate) struct Kind {
    /// Its name in specs and the daemon config.
    pub name: &'static str,
    /// Whether the daemon starts a process (`false`: `external`).
    pub process: bool,
    /// Whether `model` is required and must be an existing file.
    pub model_file: bool,
    /// Ready when this answers 200.
    pub health: &'static str,
    /// Prometheus text.
    pub metrics: &'static str,
    /// Flags the daemon passes itself; `args` may not repeat them.
    pub reserved: &'static [&'static str],
    /// The argv after the configured prefix, before the spec's `args`.
    template: fn(&EngineSpec, u16) -> Vec<String>,
}

/// Every kind the supervisor runs.
pub(crate) const KINDS: &[Kind] = &[
    Kind {
        name: "external",
        process: false,
        model_file: false,
        health: "/health",
        metrics: "/metrics",
        reserved: &[],
        template: |_, _| Vec::new(),
    },
    Kind {
        name: "reference",
        process: true,
        model_file: false,
        health: "/health",
        metrics: "/metrics",
        reserved: &["--host", "--port", "--model"],
        template: |spec, port| {
            let mut v = host_port(port);
            if let Some(m) = &spec.model {
                v.extend(["--model".to_owned(), m.clone()]);
            }
            v
        },
    },
    Kind {
        name: "llamacpp",
        process: true,
        model_file: true,
        health: "/health",
        metrics: "/metrics",
        reserved: &["-m", "--model", "--host", "--port"],
        template: |spec, port| {
            let mut v = vec!["-m".to_owned(), spec.model.clone().unwrap_or_default()];
            v.extend(host_port(port));
            v.push("--metrics".to_owned());
            v
        },
    },
];

/// Log-line fragments (lower case) that mean a fatal error, and what to call it.
pub(crate) const FATAL: &[(&str, &str)] = &[
    ("address already in use", "port in use"),
    ("exiting due to http server error", "port in use"),
    ("cudamalloc failed: out of memory", "CUDA out of memory"),
    ("cuda out of memory", "CUDA out of memory"),
    ("outofmemoryerror", "CUDA out of memory"),
    ("failed to load model", "model failed to load"),
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
    /// The full argv: configured prefix, template, then the spec's `args`.
    pub fn argv(&self, prefix: &[String], spec: &EngineSpec, port: u16) -> Vec<String> {
        let mut v = prefix.to_vec();
        v.extend((self.template)(spec, port));
        v.extend(spec.args.iter().cloned());
        v
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
            name: kind.into(),
            kind: kind.into(),
            model: model.map(Into::into),
            url: None,
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec![],
            gpus: None,
            ready_timeout: None,
        }
    }

    #[test]
    fn llamacpp_argv() {
        let k = find("llamacpp").unwrap();
        let s = spec("llamacpp", Some("/m/x.gguf"), &["-np", "4"]);
        assert_eq!(
            k.argv(&["llama-server".into()], &s, 4321).join(" "),
            "llama-server -m /m/x.gguf --host 127.0.0.1 --port 4321 --metrics -np 4"
        );
    }

    #[test]
    fn reference_argv_with_and_without_model() {
        let k = find("reference").unwrap();
        let pre = ["/bin/llmsd".to_owned(), "reference-engine".to_owned()];
        let s = spec("reference", None, &["--ttft-ms", "5"]);
        assert_eq!(
            k.argv(&pre, &s, 9).join(" "),
            "/bin/llmsd reference-engine --host 127.0.0.1 --port 9 --ttft-ms 5"
        );
        let s = spec("reference", Some("m1"), &[]);
        assert_eq!(
            k.argv(&pre, &s, 9).join(" "),
            "/bin/llmsd reference-engine --host 127.0.0.1 --port 9 --model m1"
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
    }
}
