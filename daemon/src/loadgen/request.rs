//! Prompts and the request bodies built from them. Bodies are serialized once, before a point
//! starts, so nothing but a cheap `Bytes` clone happens on the timed path.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Which OpenAI-compatible route to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// `POST /v1/completions` with a `prompt`.
    Completions,
    /// `POST /v1/chat/completions` with `messages`.
    Chat,
}

impl Endpoint {
    /// The route's path.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Completions => "/v1/completions",
            Endpoint::Chat => "/v1/chat/completions",
        }
    }

    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Completions => "completions",
            Endpoint::Chat => "chat",
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// A prompt as a source gives it: plain text, or a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// Completion-style text.
    Text(String),
    /// Chat-style messages; the last one is the user's turn.
    Messages(Vec<Message>),
}

impl Prompt {
    /// The prompt as one string for `/v1/completions`: messages are role-labelled and end in
    /// an open assistant turn.
    pub fn as_text(&self) -> String {
        match self {
            Prompt::Text(t) => t.clone(),
            Prompt::Messages(ms) => {
                let mut s = String::new();
                for m in ms {
                    s.push_str(&role_label(&m.role));
                    s.push_str(": ");
                    s.push_str(&m.content);
                    s.push_str("\n\n");
                }
                s.push_str("Assistant:");
                s
            }
        }
    }

    /// The prompt as chat messages: text becomes one user message.
    pub fn as_messages(&self) -> Vec<Message> {
        match self {
            Prompt::Text(t) => vec![Message {
                role: "user".into(),
                content: t.clone(),
            }],
            Prompt::Messages(ms) => ms.clone(),
        }
    }
}

fn role_label(role: &str) -> String {
    let mut c = role.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Generation settings shared by every request of a run.
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    /// The `model` field; left out when `None` (the server's only model is used).
    pub model: Option<String>,
    /// `max_tokens`; with it, `ignore_eos` forces exactly this many tokens.
    pub max_tokens: Option<u32>,
    /// Also send `min_tokens = max_tokens` (engines that take it: vLLM, SGLang, TRT-LLM).
    pub min_tokens: bool,
}

/// The JSON body of a streaming request for `prompt` on `endpoint`.
pub fn body(endpoint: Endpoint, prompt: &Prompt, opts: &RequestOptions) -> Bytes {
    let mut m = Map::new();
    if let Some(model) = &opts.model {
        m.insert("model".into(), json!(model));
    }
    match endpoint {
        Endpoint::Completions => m.insert("prompt".into(), json!(prompt.as_text())),
        Endpoint::Chat => m.insert("messages".into(), json!(prompt.as_messages())),
    };
    m.insert("stream".into(), json!(true));
    // continuous_usage_stats is sent explicitly: TRT-LLM defaults it to true (ENGINES.md 4.4).
    m.insert(
        "stream_options".into(),
        json!({"include_usage": true, "continuous_usage_stats": false}),
    );
    if let Some(n) = opts.max_tokens {
        m.insert("max_tokens".into(), json!(n));
        m.insert("ignore_eos".into(), json!(true));
        if opts.min_tokens {
            m.insert("min_tokens".into(), json!(n));
        }
    }
    Bytes::from(Value::Object(m).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_body_forces_length() {
        let p = Prompt::Text("hi".into());
        let o = RequestOptions {
            model: Some("m".into()),
            max_tokens: Some(8),
            min_tokens: true,
        };
        let v: Value = serde_json::from_slice(&body(Endpoint::Chat, &p, &o)).unwrap();
        assert_eq!(v["messages"][0]["content"], "hi");
        assert_eq!(v["messages"][0]["role"], "user");
        assert_eq!(v["max_tokens"], 8);
        assert_eq!(v["min_tokens"], 8);
        assert_eq!(v["ignore_eos"], true);
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert_eq!(v["stream_options"]["continuous_usage_stats"], false);
        assert_eq!(v["model"], "m");
    }

    #[test]
    fn completions_body_flattens_messages() {
        let p = Prompt::Messages(vec![
            Message {
                role: "system".into(),
                content: "Be terse.".into(),
            },
            Message {
                role: "user".into(),
                content: "2+2?".into(),
            },
        ]);
        let o = RequestOptions::default();
        let v: Value = serde_json::from_slice(&body(Endpoint::Completions, &p, &o)).unwrap();
        assert_eq!(v["prompt"], "System: Be terse.\n\nUser: 2+2?\n\nAssistant:");
        assert!(v.get("model").is_none() && v.get("max_tokens").is_none());
        assert!(v.get("min_tokens").is_none());
    }
}
