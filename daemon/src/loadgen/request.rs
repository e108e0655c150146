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

/// A per-request preamble: 9 digits and a newline, put at the very start of the prompt (the
/// text, or the first message) so that no two requests of a run share more than the chat
/// template's own head, and an engine's prefix cache cannot serve one request from another's
/// prompt. The digits are a bijection of `seq` over 0..10^9 shifted by a per-run `salt`, so
/// consecutive requests differ from the first digit on (usually), and a run never repeats one
/// below 10^9 requests. Digits tokenize to a fixed count in the usual tokenizers (one token
/// per digit, or per group of three), so exact input lengths stay exact.
pub fn preamble(salt: u64, seq: u64) -> String {
    format!("{:09}\n", preamble_number(salt, seq))
}

/// The digits of [`preamble`].
fn preamble_number(salt: u64, seq: u64) -> u64 {
    const M: u64 = 1_000_000_000;
    // Odd and not a multiple of 5: invertible modulo 10^9.
    const A: u64 = 738_219_467;
    ((seq % M) * A + salt % M) % M
}

/// First `seq` of the requests outside a point (preflight, probes, engine warm-up): the top of
/// the preamble's range, far from the points' own.
pub const RESERVED_SEQ: u64 = 999_000_000;

/// A request body with a place for the per-request [`preamble`]: `head` + preamble + `tail`,
/// and for a shared-prefix request a place for its group's tag before that: `head` + tag +
/// `mid` + preamble + `tail`. Built once, before a point starts; joining the parts is a copy,
/// not a serialization.
#[derive(Debug, Clone)]
pub struct Template {
    head: Bytes,
    /// Shared prefix: the request's group and what lies between its tag and the preamble.
    group: Option<(u32, Bytes)>,
    /// Whether a preamble goes before `tail`.
    preamble: bool,
    tail: Bytes,
    /// Input tokens as the client counts them, preamble included, when it can.
    pub client_input_tokens: Option<u64>,
    /// The output tokens this request asks for, where requests ask for different ones (each
    /// record then says so).
    pub max_tokens: Option<u32>,
}

/// Marks the preamble's place while the body is serialized; not valid in any prompt a person
/// would write (it has control characters, escaped by JSON).
const MARK: &str = "\u{1}llms-preamble\u{1}";
/// Marks the group tag's place, likewise.
const GROUP_MARK: &str = "\u{1}llms-group\u{1}";

/// The tag that opens group `group`'s shared prefix in point `point` of a run salted `salt`:
/// 9 digits and a newline, like a [`preamble`], the same for every request of the group within
/// the point and different in every other point, so each point starts with its prefixes
/// uncached and measures the reuse within itself.
pub fn group_tag(salt: u64, point: u64, group: u32) -> String {
    format!("{:09}\n", group_number(salt, point, group))
}

fn group_number(salt: u64, point: u64, group: u32) -> u64 {
    preamble_number(
        salt.wrapping_add(1),
        point.wrapping_mul(1_000_003).wrapping_add(u64::from(group)),
    )
}

impl Template {
    /// The body for `prompt`, with a place for a preamble (`unique`) or without one (the
    /// prompt is sent verbatim).
    pub fn new(
        endpoint: Endpoint,
        prompt: &Prompt,
        opts: &RequestOptions,
        unique: bool,
        client_input_tokens: Option<u64>,
    ) -> Self {
        let whole = |p: &Prompt| Self {
            head: body(endpoint, p, opts),
            group: None,
            preamble: false,
            tail: Bytes::new(),
            client_input_tokens,
            max_tokens: None,
        };
        if !unique {
            return whole(prompt);
        }
        // For /v1/completions the preamble opens the flattened text, before any role label.
        let base = match endpoint {
            Endpoint::Completions => Prompt::Text(prompt.as_text()),
            Endpoint::Chat => prompt.clone(),
        };
        let marked = with_preamble(&base, MARK);
        let b = body(endpoint, &marked, opts);
        match split_at(&b, MARK) {
            Some((head, tail)) => Self {
                head,
                group: None,
                preamble: true,
                tail,
                client_input_tokens,
                max_tokens: None,
            },
            None => whole(prompt),
        }
    }

    /// The body of a shared-prefix request of group `group`: `system` (the group's prefix)
    /// opens with the group's tag and `user` (the request's own part) with its preamble, so
    /// requests of a group share everything up to the preamble. For `/v1/completions` the two
    /// are flattened as role-labelled text. Without `unique` both are sent as they are.
    pub fn shared(
        endpoint: Endpoint,
        (system, user): (&str, &str),
        group: u32,
        opts: &RequestOptions,
        unique: bool,
        client_input_tokens: Option<u64>,
    ) -> Self {
        let message = |role: &str, content: String| Message {
            role: role.into(),
            content,
        };
        let prompt = |g: &str, p: &str| {
            let ms = vec![
                message("system", format!("{g}{system}")),
                message("user", format!("{p}{user}")),
            ];
            match endpoint {
                Endpoint::Completions => Prompt::Text(Prompt::Messages(ms).as_text()),
                Endpoint::Chat => Prompt::Messages(ms),
            }
        };
        let whole = Self {
            head: body(endpoint, &prompt("", ""), opts),
            group: None,
            preamble: false,
            tail: Bytes::new(),
            client_input_tokens,
            max_tokens: None,
        };
        if !unique {
            return whole;
        }
        let b = body(endpoint, &prompt(GROUP_MARK, MARK), opts);
        let Some((head, rest)) = split_at(&b, GROUP_MARK) else {
            return whole;
        };
        let Some((mid, tail)) = split_at(&rest, MARK) else {
            return whole;
        };
        Self {
            head,
            group: Some((group, mid)),
            preamble: true,
            tail,
            client_input_tokens,
            max_tokens: None,
        }
    }

    /// The body of a trace's request: `prompt` opened by the point's tag (group 0's) and no
    /// preamble, so the requests of a point share what the trace says they share, and no
    /// point is served from another's replay. Without `tag`, sent as it is.
    pub fn tagged(
        endpoint: Endpoint,
        prompt: &Prompt,
        opts: &RequestOptions,
        tag: bool,
        client_input_tokens: Option<u64>,
    ) -> Self {
        let base = match endpoint {
            Endpoint::Completions => Prompt::Text(prompt.as_text()),
            Endpoint::Chat => prompt.clone(),
        };
        let whole = Self {
            head: body(endpoint, &base, opts),
            group: None,
            preamble: false,
            tail: Bytes::new(),
            client_input_tokens,
            max_tokens: None,
        };
        if !tag {
            return whole;
        }
        let b = body(endpoint, &with_preamble(&base, GROUP_MARK), opts);
        match split_at(&b, GROUP_MARK) {
            Some((head, rest)) => Self {
                head,
                group: Some((0, rest)),
                preamble: false,
                tail: Bytes::new(),
                client_input_tokens,
                max_tokens: None,
            },
            None => whole,
        }
    }

    /// The body of request `seq` of a run salted `salt`, its [`preamble`] in place (none for
    /// a verbatim template), as sent in the run's first point.
    pub fn body(&self, salt: u64, seq: u64) -> Bytes {
        self.body_at(salt, seq, 0)
    }

    /// The body of request `seq` in point `point` of a run salted `salt`: its [`preamble`]
    /// and, for a shared-prefix request, its group's [`group_tag`] in place.
    pub fn body_at(&self, salt: u64, seq: u64, point: u64) -> Bytes {
        use std::io::Write as _;
        if self.group.is_none() && !self.preamble {
            return self.head.clone();
        }
        let mid = self.group.as_ref().map_or(0, |(_, m)| m.len() + 11);
        let mut v = Vec::with_capacity(self.head.len() + mid + 11 + self.tail.len());
        v.extend_from_slice(&self.head);
        // Tags and preambles as a JSON string's inside: digits and an escaped newline.
        if let Some((g, m)) = &self.group {
            let _ = write!(v, "{:09}\\n", group_number(salt, point, *g));
            v.extend_from_slice(m);
        }
        if self.preamble {
            let _ = write!(v, "{:09}\\n", preamble_number(salt, seq));
            v.extend_from_slice(&self.tail);
        }
        Bytes::from(v)
    }

    /// The group of a shared-prefix request.
    pub fn group(&self) -> Option<u32> {
        self.group.as_ref().map(|(g, _)| *g)
    }

    /// Whether requests from this template get a preamble.
    pub fn unique(&self) -> bool {
        self.preamble
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A serialized body cut where `mark` (JSON-escaped, as serialization wrote it) is, without
/// the mark.
fn split_at(b: &Bytes, mark: &str) -> Option<(Bytes, Bytes)> {
    let esc = serde_json::to_string(mark).unwrap_or_default();
    let esc = esc.trim_matches('"');
    let i = find(b, esc.as_bytes())?;
    Some((b.slice(..i), b.slice(i + esc.len()..)))
}

/// `prompt` with `pre` at the start of its text or of its first message.
pub fn with_preamble(prompt: &Prompt, pre: &str) -> Prompt {
    match prompt {
        Prompt::Text(t) => Prompt::Text(format!("{pre}{t}")),
        Prompt::Messages(ms) => {
            let mut ms = ms.clone();
            if let Some(m) = ms.first_mut() {
                m.content.insert_str(0, pre);
            }
            Prompt::Messages(ms)
        }
    }
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
    fn preambles_are_unique_fixed_width_and_differ_early() {
        let salt = 123_456_789;
        let mut seen = std::collections::HashSet::new();
        let mut same_first = 0;
        for seq in 0..20_000u64 {
            let p = preamble(salt, seq);
            assert_eq!(p.len(), 10, "{p:?}");
            assert!(p.ends_with('\n') && p[..9].bytes().all(|b| b.is_ascii_digit()));
            if seq > 0 && preamble(salt, seq - 1).as_bytes()[0] == p.as_bytes()[0] {
                same_first += 1;
            }
            assert!(seen.insert(p));
        }
        // Neighbours share their first digit about one time in ten.
        assert!(same_first < 3_000, "{same_first}");
        assert_ne!(preamble(1, 5), preamble(2, 5));
    }

    #[test]
    fn templates_put_the_preamble_first_and_verbatim_ones_do_not() {
        let o = RequestOptions::default();
        let chat = Prompt::Messages(vec![
            Message {
                role: "system".into(),
                content: "Be \"terse\".".into(),
            },
            Message {
                role: "user".into(),
                content: "2+2?".into(),
            },
        ]);
        let t = Template::new(Endpoint::Chat, &chat, &o, true, Some(9));
        assert!(t.unique());
        let v: Value = serde_json::from_slice(&t.body(5, 6)).unwrap();
        let pre = preamble(5, 6);
        assert_eq!(v["messages"][0]["content"], format!("{pre}Be \"terse\"."));
        assert_eq!(v["messages"][1]["content"], "2+2?");
        let text = Prompt::Text("hello".into());
        let t = Template::new(Endpoint::Completions, &text, &o, true, None);
        let v: Value = serde_json::from_slice(&t.body(5, 7)).unwrap();
        assert_eq!(v["prompt"], format!("{}hello", preamble(5, 7)));
        let t = Template::new(Endpoint::Completions, &text, &o, false, None);
        assert!(!t.unique());
        let v: Value = serde_json::from_slice(&t.body(5, 7)).unwrap();
        assert_eq!(v["prompt"], "hello");
    }

    #[test]
    fn shared_prefix_bodies_tag_the_group_and_keep_the_request_apart() {
        let o = RequestOptions::default();
        let t = Template::shared(Endpoint::Chat, ("Rules.", "Q?"), 3, &o, true, Some(40));
        assert_eq!((t.group(), t.client_input_tokens), (Some(3), Some(40)));
        let v: Value = serde_json::from_slice(&t.body_at(5, 6, 2)).unwrap();
        assert_eq!(v["messages"][0]["role"], "system");
        assert_eq!(
            v["messages"][0]["content"],
            format!("{}Rules.", group_tag(5, 2, 3))
        );
        assert_eq!(v["messages"][1]["content"], format!("{}Q?", preamble(5, 6)));
        // The same group in the same point shares its prefix; another point's does not.
        let system = |b: Bytes| -> Value {
            serde_json::from_slice::<Value>(&b).unwrap()["messages"][0].clone()
        };
        assert_eq!(system(t.body_at(5, 7, 2)), system(t.body_at(5, 6, 2)));
        assert_ne!(system(t.body_at(5, 6, 1)), system(t.body_at(5, 6, 2)));
        let other = Template::shared(Endpoint::Chat, ("Rules.", "Q?"), 4, &o, true, None);
        assert_ne!(system(other.body_at(5, 6, 2)), system(t.body_at(5, 6, 2)));
        // /v1/completions: flattened, tag after "System: ", preamble after "User: ".
        let t = Template::shared(Endpoint::Completions, ("Rules.", "Q?"), 0, &o, true, None);
        let v: Value = serde_json::from_slice(&t.body_at(5, 6, 0)).unwrap();
        assert_eq!(
            v["prompt"],
            format!(
                "System: {}Rules.\n\nUser: {}Q?\n\nAssistant:",
                group_tag(5, 0, 0),
                preamble(5, 6)
            )
        );
        // Verbatim: sent as they are, no tag and no preamble.
        let t = Template::shared(Endpoint::Chat, ("Rules.", "Q?"), 1, &o, false, None);
        let v: Value = serde_json::from_slice(&t.body_at(5, 6, 2)).unwrap();
        assert_eq!(v["messages"][0]["content"], "Rules.");
        assert_eq!(v["messages"][1]["content"], "Q?");
        assert_eq!(t.group(), None);
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
