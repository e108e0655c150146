//! How the reference engine talks: its own shape (llama.cpp's), or an imitation of vLLM,
//! SGLang or TensorRT-LLM (`--imitate`) for the engine supervisor's tests. Each imitation
//! follows ENGINES.md and, for vLLM 0.20.1 and SGLang 0.5.15, the captures in
//! `shared/fixtures/`: chunk fields and their order, where `finish_reason` goes, the usage
//! chunk, what a mid-stream error looks like, the metrics names and path, the version route,
//! how it behaves while loading and on SIGTERM, and the processes it starts.

use serde_json::Value;

/// An engine the reference engine imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Imitate {
    /// vLLM 0.20.1 (`vllm serve`).
    Vllm,
    /// SGLang 0.5.15 (`python3 -m sglang.launch_server`).
    Sglang,
    /// TensorRT-LLM 1.2.x (`trtllm-serve`).
    Trtllm,
}

/// What it does while its model "loads" (`--startup-ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loading {
    /// Answer 503 "Loading model" on every route (llama.cpp).
    Unavailable,
    /// Not listening yet: connections are refused (vLLM, SGLang, trtllm-serve).
    Refused,
}

/// What SIGTERM does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTerm {
    /// Stop at once, cutting streams (llama.cpp, vLLM with `--shutdown-timeout 0`).
    Exit,
    /// Refuse new work and wait for every request in flight, with no limit (SGLang's drain,
    /// uvicorn's graceful shutdown in trtllm-serve).
    Drain,
}

/// Child processes it starts, as the real engine does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChildKind {
    /// vLLM's EngineCore / Worker: same process group, ends on SIGTERM, outlives a SIGKILLed
    /// parent (vllm-project/vllm#55510).
    Orphaning,
    /// SGLang's scheduler / detokenizer: same group, no SIGTERM handler, PR_SET_PDEATHSIG.
    ParentBound,
    /// An MPI worker under `orted` (TensorRT-LLM): leaves the process group (`setsid`).
    Escaping,
}

/// The dialect of a running reference engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dialect(pub Option<Imitate>);

impl Dialect {
    /// The version it reports.
    pub fn version(self) -> String {
        match self.0 {
            None => concat!("llmsd ", env!("CARGO_PKG_VERSION")).to_owned(),
            Some(Imitate::Vllm) => "0.20.1".into(),
            Some(Imitate::Sglang) => "0.5.15".into(),
            Some(Imitate::Trtllm) => "1.2.1".into(),
        }
    }

    /// `owned_by` in `/v1/models`.
    pub fn owner(self) -> &'static str {
        match self.0 {
            None => "llms-reference",
            Some(Imitate::Vllm) => "vllm",
            Some(Imitate::Sglang) => "sglang",
            Some(Imitate::Trtllm) => "tensorrt_llm",
        }
    }

    /// The route that tells the version, and its JSON.
    pub fn version_route(self) -> &'static str {
        match self.0 {
            Some(Imitate::Sglang) => "/get_server_info",
            _ => "/version",
        }
    }

    /// Where Prometheus text is served (TensorRT-LLM: `/metrics` is a JSON list).
    pub fn metrics_route(self) -> &'static str {
        match self.0 {
            Some(Imitate::Trtllm) => "/prometheus/metrics",
            _ => "/metrics",
        }
    }

    /// While loading.
    pub fn loading(self) -> Loading {
        match self.0 {
            None => Loading::Unavailable,
            Some(_) => Loading::Refused,
        }
    }

    /// On SIGTERM.
    pub fn on_term(self) -> OnTerm {
        match self.0 {
            Some(Imitate::Sglang | Imitate::Trtllm) => OnTerm::Drain,
            _ => OnTerm::Exit,
        }
    }

    /// The helpers it starts: (kind, how many).
    pub fn children(self) -> Option<(ChildKind, usize)> {
        match self.0 {
            None => None,
            // EngineCore + Worker_TP0.
            Some(Imitate::Vllm) => Some((ChildKind::Orphaning, 2)),
            // scheduler + detokenizer.
            Some(Imitate::Sglang) => Some((ChildKind::ParentBound, 2)),
            Some(Imitate::Trtllm) => Some((ChildKind::Escaping, 1)),
        }
    }

    /// The log lines a real start ends with.
    pub fn ready_lines(self, url: &str) -> Vec<String> {
        match self.0 {
            None => vec![format!("reference engine listening on {url}")],
            Some(Imitate::Vllm) => vec![
                "(EngineCore pid=0) INFO [gpu_model_runner.py] Model loading took 5.79 GiB memory and 2.1 seconds".into(),
                "(EngineCore pid=0) INFO [kv_cache_utils.py] GPU KV cache size: 262,144 tokens, Maximum concurrency for 4,096 tokens per request: 64.00x".into(),
                format!("(APIServer pid=0) INFO [api_server.py] Starting vLLM server on {url}"),
                "(APIServer pid=0) INFO:     Application startup complete.".into(),
            ],
            Some(Imitate::Sglang) => vec![
                "[2026-11-28 00:00:00] Load weight end. type=Qwen2ForCausalLM, dtype=torch.bfloat16, avail mem=70.1 GB".into(),
                format!("[2026-11-28 00:00:00] INFO:     Uvicorn running on {url} (Press CTRL+C to quit)"),
                "[2026-11-28 00:00:00] The server is fired up and ready to roll!".into(),
            ],
            Some(Imitate::Trtllm) => vec![
                "[TensorRT-LLM] TensorRT-LLM version: 1.2.1".into(),
                "INFO:     Application startup complete.".into(),
                format!("INFO:     Uvicorn running on {url} (Press CTRL+C to quit)"),
            ],
        }
    }

    /// Request fields the engine refuses with 400 (TensorRT-LLM's models are `extra="forbid"`),
    /// or a `stream_options` without `stream` (its `validate_stream_options`).
    pub fn refuse(self, v: &Value) -> Option<String> {
        if self.0 != Some(Imitate::Trtllm) {
            return None;
        }
        let obj = v.as_object()?;
        if let Some(k) = obj.keys().find(|k| !TRTLLM_FIELDS.contains(&k.as_str())) {
            return Some(format!(
                "1 validation error for ChatCompletionRequest\n{k}\n  Extra inputs are not permitted [type=extra_forbidden]"
            ));
        }
        let stream = obj.get("stream").and_then(Value::as_bool).unwrap_or(false);
        if obj.get("stream_options").is_some_and(|o| !o.is_null()) && !stream {
            return Some("Stream options can only be defined when `stream=True`.".into());
        }
        None
    }

    /// (include_usage, continuous_usage) for the request's `stream_options`.
    pub fn usage_flags(self, opts: Option<&Value>, always: bool) -> (bool, bool) {
        let flag = |k: &str, default: bool| {
            opts.and_then(|o| o.get(k))
                .and_then(Value::as_bool)
                .unwrap_or(default)
        };
        match self.0 {
            // StreamOptions(include_usage=True, continuous_usage_stats=True) once the object
            // is there at all (ENGINES.md 4.4).
            Some(Imitate::Trtllm) if opts.is_some_and(Value::is_object) => (
                flag("include_usage", true),
                flag("continuous_usage_stats", true),
            ),
            // vLLM honours continuous usage only together with include_usage.
            Some(Imitate::Vllm) => {
                let inc = flag("include_usage", false);
                (inc, inc && flag("continuous_usage_stats", false) || always)
            }
            _ => (
                flag("include_usage", false),
                flag("continuous_usage_stats", false) || always,
            ),
        }
    }

    /// The start of every chunk's JSON, up to and including the comma before `"choices"`.
    pub fn head(self, chat: bool, n: u64, model: &str, created: u64) -> String {
        let object = if chat {
            "chat.completion.chunk"
        } else {
            "text_completion"
        };
        let id = match (self.0, chat) {
            (Some(Imitate::Sglang), _) => format!("{n:032x}"),
            (_, true) => format!("chatcmpl-ref-{n}"),
            (_, false) => format!("cmpl-ref-{n}"),
        };
        match self.0 {
            None => format!(r#"{{"id":"{id}","object":"{object}","model":"{model}","#),
            Some(_) => format!(
                r#"{{"id":"{id}","object":"{object}","created":{created},"model":"{model}","#
            ),
        }
    }

    /// The role-only first chat chunk's choice (`None` for completions), and what ends its
    /// line (trtllm-serve writes `} \n\n`).
    pub fn role_choice(self) -> (&'static str, &'static str) {
        match self.0 {
            None => (
                r#"{"index":0,"delta":{"role":"assistant","content":null},"finish_reason":null}"#,
                "\n\n",
            ),
            Some(Imitate::Vllm) => (
                r#"{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}"#,
                "\n\n",
            ),
            Some(Imitate::Sglang) => (
                r#"{"index":0,"delta":{"reasoning_content":null,"role":"assistant","content":""},"logprobs":null,"finish_reason":null,"matched_stop":null}"#,
                "\n\n",
            ),
            Some(Imitate::Trtllm) => (r#"{"index":0,"delta":{"role":"assistant"}}"#, " \n\n"),
        }
    }

    /// What follows `"choices":[...]` in the role chunk (vLLM's `prompt_token_ids`).
    pub fn role_tail(self) -> &'static str {
        match self.0 {
            Some(Imitate::Vllm) => r#","prompt_token_ids":null"#,
            _ => "",
        }
    }

    /// Whether `finish_reason` rides on the last content chunk (else a chunk of its own).
    pub fn finish_on_last(self, chat: bool) -> bool {
        match self.0 {
            None => false,
            Some(Imitate::Sglang) => !chat,
            Some(_) => true,
        }
    }

    /// One content choice; `finish` set on the last one where [`Dialect::finish_on_last`].
    pub fn content_choice(self, chat: bool, text: &str, finish: Option<&str>) -> String {
        let fr = |f: Option<&str>| f.map_or("null".to_owned(), |f| format!("\"{f}\""));
        match (self.0, chat) {
            (None, true) => {
                format!(r#"{{"index":0,"delta":{{"content":"{text}"}},"finish_reason":null}}"#)
            }
            (None, false) => {
                format!(r#"{{"index":0,"text":"{text}","finish_reason":null}}"#)
            }
            (Some(Imitate::Vllm), true) => {
                let stop = if finish.is_some() {
                    r#","stop_reason":null"#
                } else {
                    ""
                };
                format!(
                    r#"{{"index":0,"delta":{{"content":"{text}"}},"logprobs":null,"finish_reason":{}{stop},"token_ids":null}}"#,
                    fr(finish)
                )
            }
            (Some(Imitate::Vllm), false) => format!(
                r#"{{"index":0,"text":"{text}","logprobs":null,"finish_reason":{},"stop_reason":null,"prompt_token_ids":null,"token_ids":null}}"#,
                fr(finish)
            ),
            (Some(Imitate::Sglang), true) => format!(
                r#"{{"index":0,"delta":{{"reasoning_content":null,"content":"{text}"}},"logprobs":null,"finish_reason":null,"matched_stop":null}}"#
            ),
            (Some(Imitate::Sglang), false) => format!(
                r#"{{"index":0,"text":"{text}","logprobs":null,"finish_reason":{},"matched_stop":null}}"#,
                fr(finish)
            ),
            // exclude_none: finish_reason appears only when set.
            (Some(Imitate::Trtllm), true) => match finish {
                Some(f) => format!(
                    r#"{{"index":0,"delta":{{"content":"{text}","reasoning_content":""}},"finish_reason":"{f}"}}"#
                ),
                None => format!(
                    r#"{{"index":0,"delta":{{"content":"{text}","reasoning_content":""}}}}"#
                ),
            },
            (Some(Imitate::Trtllm), false) => format!(
                r#"{{"index":0,"text":"{text}","token_ids":null,"logprobs":null,"context_logits":null,"finish_reason":{},"stop_reason":null,"disaggregated_params":null}}"#,
                fr(finish)
            ),
        }
    }

    /// The separate finish chunk's choice (where `finish_reason` is not on the last content).
    pub fn finish_choice(self, chat: bool) -> &'static str {
        match (self.0, chat) {
            (Some(Imitate::Sglang), _) => {
                r#"{"index":0,"delta":{"reasoning_content":null},"logprobs":null,"finish_reason":"length","matched_stop":null}"#
            }
            (_, true) => r#"{"index":0,"delta":{},"finish_reason":"length"}"#,
            (_, false) => r#"{"index":0,"text":"","finish_reason":"length"}"#,
        }
    }

    /// The `usage` object. `cached` prompt tokens are reported where the engine reports them
    /// by default: llama.cpp (the reference engine's own shape) and TensorRT-LLM; vLLM only
    /// with `--enable-prompt-tokens-details` and SGLang only with `--enable-cache-report`
    /// (`report`), and then only when some were cached (vLLM up to 0.20.2 leaves the field
    /// out, SGLang sends `null`).
    pub fn usage(
        self,
        chat: bool,
        prompt: u64,
        done: u64,
        (cached, report): (u64, bool),
    ) -> String {
        let t = prompt + done;
        let reported = report && cached > 0;
        match self.0 {
            Some(Imitate::Vllm) if reported => format!(
                r#"{{"prompt_tokens":{prompt},"total_tokens":{t},"completion_tokens":{done},"prompt_tokens_details":{{"cached_tokens":{cached}}}}}"#
            ),
            Some(Imitate::Sglang) if reported => format!(
                r#"{{"prompt_tokens":{prompt},"total_tokens":{t},"completion_tokens":{done},"prompt_tokens_details":{{"cached_tokens":{cached}}},"reasoning_tokens":0}}"#
            ),
            None => format!(
                r#"{{"prompt_tokens":{prompt},"completion_tokens":{done},"total_tokens":{t},"prompt_tokens_details":{{"cached_tokens":{cached}}}}}"#
            ),
            Some(Imitate::Vllm) => format!(
                r#"{{"prompt_tokens":{prompt},"total_tokens":{t},"completion_tokens":{done}}}"#
            ),
            Some(Imitate::Sglang) if chat => format!(
                r#"{{"prompt_tokens":{prompt},"total_tokens":{t},"completion_tokens":{done},"prompt_tokens_details":null,"reasoning_tokens":0}}"#
            ),
            Some(Imitate::Sglang) => format!(
                r#"{{"prompt_tokens":{prompt},"total_tokens":{t},"completion_tokens":{done},"reasoning_tokens":0}}"#
            ),
            Some(Imitate::Trtllm) => format!(
                r#"{{"prompt_tokens":{prompt},"total_tokens":{t},"completion_tokens":{done},"prompt_tokens_details":{{"cached_tokens":{cached}}}}}"#
            ),
        }
    }

    /// What a content chunk carries after its choices when usage is not continuous
    /// (completions chunks of vLLM, SGLang and TensorRT-LLM say `"usage":null`).
    pub fn no_usage(self, chat: bool) -> &'static str {
        match (self.0, chat) {
            (Some(_), false) => r#","usage":null"#,
            _ => "",
        }
    }

    /// A mid-stream error: the event to send (none: the body just ends, TensorRT-LLM) and
    /// whether `[DONE]` follows it (vLLM, SGLang) or not (llama.cpp).
    pub fn midstream_error(self, msg: &str) -> (Option<String>, bool) {
        match self.0 {
            None => (
                Some(format!(
                    r#"{{"error":{{"code":500,"message":"{msg}","type":"server_error"}}}}"#
                )),
                false,
            ),
            Some(Imitate::Vllm) => (
                Some(format!(
                    r#"{{"error":{{"message":"{msg}","type":"InternalServerError","param":null,"code":500}}}}"#
                )),
                true,
            ),
            Some(Imitate::Sglang) => (
                Some(format!(
                    r#"{{"error":{{"object":"error","message":"{msg}","type":"InternalServerError","param":null,"code":500}}}}"#
                )),
                true,
            ),
            Some(Imitate::Trtllm) => (None, false),
        }
    }
}

/// Fields TensorRT-LLM's chat and completion requests accept (openai_protocol.py, 1.2.x);
/// anything else is a 400.
const TRTLLM_FIELDS: &[&str] = &[
    "model",
    "messages",
    "prompt",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "min_tokens",
    "ignore_eos",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "seed",
    "stop",
    "stop_token_ids",
    "n",
    "best_of",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "length_penalty",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "user",
    "echo",
    "suffix",
    "response_format",
    "tools",
    "tool_choice",
    "use_beam_search",
    "include_stop_str_in_output",
    "skip_special_tokens",
    "spaces_between_special_tokens",
    "add_generation_prompt",
    "add_special_tokens",
    "chat_template",
    "chat_template_kwargs",
    "documents",
    "truncate_prompt_tokens",
    "return_context_logits",
    "lora_request",
    "disaggregated_params",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trtllm_refuses_unknown_fields_and_stream_options_without_stream() {
        let d = Dialect(Some(Imitate::Trtllm));
        assert!(
            d.refuse(&json!({"prompt": "x", "return_token_ids": true}))
                .unwrap()
                .contains("return_token_ids")
        );
        assert!(
            d.refuse(&json!({"prompt": "x", "stream_options": {"include_usage": true}}))
                .is_some()
        );
        assert!(
            d.refuse(
                &json!({"prompt": "x", "stream": true, "stream_options": {}, "min_tokens": 4})
            )
            .is_none()
        );
        assert!(
            Dialect(Some(Imitate::Vllm))
                .refuse(&json!({"whatever": 1}))
                .is_none()
        );
    }

    #[test]
    fn usage_defaults_differ() {
        let o = json!({"include_usage": true});
        assert_eq!(
            Dialect(Some(Imitate::Trtllm)).usage_flags(Some(&o), false),
            (true, true)
        );
        assert_eq!(
            Dialect(Some(Imitate::Vllm)).usage_flags(Some(&o), false),
            (true, false)
        );
        let c = json!({"continuous_usage_stats": true});
        // vLLM needs include_usage for continuous usage; SGLang does not.
        assert_eq!(
            Dialect(Some(Imitate::Vllm)).usage_flags(Some(&c), false),
            (false, false)
        );
        assert_eq!(
            Dialect(Some(Imitate::Sglang)).usage_flags(Some(&c), false),
            (false, true)
        );
        assert_eq!(
            Dialect(Some(Imitate::Trtllm)).usage_flags(None, false),
            (false, false)
        );
    }
}
