//! Per-event handling of one OpenAI-style SSE stream: what counts as a token, when the stream
//! ends, and why it failed. Pure: the caller supplies each event's data and receive time.
//!
//! Definitions (DESIGN.md section 3, with the empty-chunk rule below): an event carries tokens
//! when a choice has non-empty `text`, `delta.content`, `delta.reasoning_content`
//! (`delta.reasoning` in vLLM since 0.19) or `delta.tool_calls`, or when continuous usage shows
//! `completion_tokens` rising on an event that has choices.
//!
//! **Empty chunks are engine steps.** A choice whose `text` or `delta.content` is present but
//! empty, with no `role` and no `finish_reason`, is one generated token whose text the engine
//! held back: vLLM sends such a chunk while its detokenizer waits for the rest of a UTF-8
//! character (the vLLM 0.20.1 capture streams 16 chunks, one of them empty, for
//! `completion_tokens: 16`). llama.cpp sends nothing for a held-back token and SGLang's
//! captures have no such chunk. Not steps: the role-only first chat chunk (it has `role`), a
//! finish chunk with no text (llama.cpp's and SGLang's end markers), and the final
//! `"choices": []` usage chunk. Should a server send empty chunks that are not tokens, the
//! count would pass `usage.completion_tokens`; [`StreamState::reconcile`] then drops the empty
//! ones, so llmsd never counts more steps than the server generated tokens.

use llms_shared::{Chunk, RequestError, Usage};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use std::fmt;

/// What the caller should do after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// `[DONE]` arrived: the stream is over.
    Done,
}

/// State of one stream while it is read.
#[derive(Debug, Default)]
pub struct StreamState {
    /// Most tokens the stream may carry (0: no limit); past it the stream fails as
    /// `too_many_tokens`, so an endless stream cannot grow `chunks` without bound.
    pub limit: u64,
    /// Tokens counted so far (the sum over `chunks`).
    counted: u64,
    /// Token-carrying events: (ns from request start, tokens).
    pub chunks: Vec<Chunk>,
    /// Last usage the server reported.
    pub usage: Usage,
    /// Whether any usage object has been seen (continuous usage turns on the usage rule).
    seen_usage: bool,
    /// A choice reported `finish_reason`.
    pub finished: bool,
    /// Indices into `chunks` of the empty-text steps (see the module docs).
    empty_steps: Vec<usize>,
    /// The answer's text, when it is kept ([`StreamState::capture`]).
    pub text: Option<String>,
    /// Most bytes of `text`.
    text_cap: usize,
}

/// An event's text, read only when the answer is kept.
#[derive(Deserialize)]
struct TextEvent {
    #[serde(default)]
    choices: Option<Vec<TextChoice>>,
}

#[derive(Deserialize)]
struct TextChoice {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    delta: Option<TextDelta>,
}

#[derive(Deserialize)]
struct TextDelta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    usage: Option<UsageJson>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    text: Option<Text>,
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    role: Option<IgnoredAny>,
    #[serde(default)]
    content: Option<Text>,
    #[serde(default)]
    reasoning_content: Option<Text>,
    #[serde(default)]
    reasoning: Option<Text>,
    #[serde(default)]
    tool_calls: Option<Vec<IgnoredAny>>,
}

#[derive(Deserialize)]
struct UsageJson {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<Details>,
}

#[derive(Deserialize)]
struct Details {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

/// A JSON string reduced to "is it non-empty", read without allocating.
struct Text(bool);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(!v.is_empty()))
            }
        }
        d.deserialize_str(V)
    }
}

impl Text {
    fn some(t: &Option<Text>) -> bool {
        matches!(t, Some(Text(true)))
    }

    fn empty(t: &Option<Text>) -> bool {
        matches!(t, Some(Text(false)))
    }
}

impl StreamState {
    /// A stream that fails past `limit` tokens (0: no limit).
    pub fn with_limit(limit: u64) -> Self {
        Self {
            limit,
            ..Default::default()
        }
    }

    /// Keep the answer's text (`delta.content` or `text`), up to `cap` bytes (cut at a
    /// character).
    pub fn capture(&mut self, cap: usize) {
        self.text = Some(String::new());
        self.text_cap = cap;
    }

    /// Add an event's text to the answer kept.
    fn keep_text(&mut self, data: &str) {
        let Some(kept) = self.text.as_mut() else {
            return;
        };
        // Full: the rest of the stream is not parsed a second time.
        if kept.len() >= self.text_cap {
            return;
        }
        let Ok(ev) = serde_json::from_str::<TextEvent>(data) else {
            return;
        };
        for c in ev.choices.unwrap_or_default() {
            let parts = [c.text, c.delta.and_then(|d| d.content)];
            for t in parts.into_iter().flatten() {
                let room = self.text_cap.saturating_sub(kept.len());
                let mut end = t.len().min(room);
                while !t.is_char_boundary(end) {
                    end -= 1;
                }
                kept.push_str(&t[..end]);
            }
        }
    }

    /// Handle one SSE event's `data` received `t_ns` after the request started.
    pub fn on_event(&mut self, data: &str, t_ns: u64) -> Result<Flow, RequestError> {
        let data = data.trim_end();
        if data == "[DONE]" {
            return Ok(Flow::Done);
        }
        if data.is_empty() {
            // An empty `data:` line is a keep-alive, not a chunk.
            return Ok(Flow::Continue);
        }
        let ev: Event = serde_json::from_str(data).map_err(|e| RequestError {
            kind: "malformed_chunk".into(),
            message: format!("chunk is not valid JSON ({e}): {}", snippet(data, 120)),
        })?;
        if let Some(err) = ev.error {
            return Err(RequestError {
                kind: "stream_error".into(),
                message: error_text(&err),
            });
        }
        let choices = ev.choices.unwrap_or_default();
        let (mut text, mut empty) = (false, false);
        if self.text.is_some() {
            self.keep_text(data);
        }
        for c in &choices {
            text |= Text::some(&c.text);
            let finish = c.finish_reason.is_some();
            empty |= !finish && Text::empty(&c.text);
            if let Some(d) = &c.delta {
                text |= Text::some(&d.content)
                    || Text::some(&d.reasoning_content)
                    || Text::some(&d.reasoning)
                    || d.tool_calls.as_ref().is_some_and(|t| !t.is_empty());
                empty |= !finish && d.role.is_none() && Text::empty(&d.content);
            }
            self.finished |= finish;
        }
        // An empty step: a held-back token (module docs).
        let empty = empty && !text;
        // Tokens in this event: the rise in continuous usage where the server reports it,
        // else one per text-carrying event or empty step.
        let mut tokens = u32::from(text || empty);
        // Whether usage on this event tells the tokens (continuous usage): then it decides.
        let mut counted_by_usage = false;
        if let Some(u) = ev.usage {
            let before = self.usage.completion_tokens;
            if let Some(now) = u.completion_tokens {
                let rise = now.saturating_sub(before.unwrap_or(0));
                // A rise counts on an event with choices once usage has been seen before (so
                // a final chunk carrying the whole answer's usage is not one big token), or
                // on a text event carrying usage (the first of a continuous-usage stream).
                if !choices.is_empty() && (self.seen_usage || text) {
                    counted_by_usage = true;
                    if rise > 0 {
                        tokens = u32::try_from(rise).unwrap_or(u32::MAX);
                    } else if empty {
                        // An empty chunk that usage says generated nothing.
                        tokens = 0;
                    }
                }
                self.usage.completion_tokens = Some(now);
            }
            if u.prompt_tokens.is_some() {
                self.usage.prompt_tokens = u.prompt_tokens;
            }
            if let Some(c) = u.prompt_tokens_details.and_then(|d| d.cached_tokens) {
                self.usage.cached_tokens = Some(c);
            }
            self.seen_usage = true;
        }
        if tokens > 0 {
            self.counted = self.counted.saturating_add(u64::from(tokens));
            if self.limit > 0 && self.counted > self.limit {
                return Err(RequestError {
                    kind: "too_many_tokens".into(),
                    message: format!(
                        "more tokens than max_tokens allows: over {} in one stream",
                        self.limit
                    ),
                });
            }
            if empty && !counted_by_usage {
                self.empty_steps.push(self.chunks.len());
            }
            self.chunks.push((t_ns, tokens));
        }
        Ok(Flow::Continue)
    }

    /// At the end of the stream: if the events counted pass the server's
    /// `usage.completion_tokens`, the empty chunks were not tokens after all; drop them.
    pub fn reconcile(&mut self) {
        let Some(want) = self.usage.completion_tokens else {
            return;
        };
        if self.empty_steps.is_empty() {
            return;
        }
        if self.counted > want {
            // `empty_steps` is in ascending order: one walk over both.
            let mut drop = std::mem::take(&mut self.empty_steps).into_iter().peekable();
            let mut i = 0;
            self.chunks.retain(|_| {
                let keep = drop.next_if_eq(&i).is_none();
                i += 1;
                keep
            });
        }
    }
}

/// The message of an `{"error": ...}` event, whatever its shape.
fn error_text(v: &serde_json::Value) -> String {
    let msg = v.get("message").and_then(|m| m.as_str()).map(str::to_owned);
    let msg = msg.unwrap_or_else(|| v.to_string());
    match v.get("code") {
        Some(c) if !c.is_null() => format!("{} (code {c})", snippet(&msg, 200)),
        _ => snippet(&msg, 200),
    }
}

/// `s` on one line (whitespace runs become one space), at most `n` bytes, cut at a character
/// boundary with "..." when cut: for server text quoted in one-line error messages.
pub fn snippet(s: &str, n: usize) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.len() <= n {
        return one;
    }
    let mut end = n;
    while !one.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &one[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(lines: &[&str]) -> (StreamState, Flow) {
        let mut s = StreamState::default();
        let mut last = Flow::Continue;
        for (i, l) in lines.iter().enumerate() {
            last = s.on_event(l, (i as u64 + 1) * 1000).unwrap();
        }
        (s, last)
    }

    #[test]
    fn role_only_and_finish_chunks_carry_no_token() {
        let (s, flow) = feed(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":""}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"reasoning_content":"hm"}}]}"#,
            r#"{"choices":[{"finish_reason":"length","index":0,"delta":{}}]}"#,
            r#"{"choices":[],"usage":{"completion_tokens":3,"prompt_tokens":7}}"#,
            "[DONE]",
        ]);
        assert_eq!(flow, Flow::Done);
        // The empty content chunk at 4000 is a held-back token (vLLM); usage agrees: 3.
        assert_eq!(s.chunks, vec![(3000, 1), (4000, 1), (5000, 1)]);
        assert_eq!(s.usage.completion_tokens, Some(3));
        assert_eq!(s.usage.prompt_tokens, Some(7));
        assert!(s.finished);
    }

    #[test]
    fn completions_final_chunk_with_usage_is_not_a_token() {
        // llama.cpp /v1/completions: usage rides on the last, empty-text chunk.
        let (s, _) = feed(&[
            r#"{"choices":[{"text":"a","index":0,"finish_reason":null}]}"#,
            r#"{"choices":[{"text":"b","index":0,"finish_reason":null}]}"#,
            r#"{"choices":[{"text":"","index":0,"finish_reason":"length"}],"usage":{"completion_tokens":2,"prompt_tokens":5}}"#,
        ]);
        assert_eq!(s.chunks.len(), 2);
        assert_eq!(s.usage.completion_tokens, Some(2));
    }

    #[test]
    fn continuous_usage_counts_several_tokens_in_one_event_once() {
        // TRT-LLM style: usage on every chunk, role chunk at 0.
        let (s, _) = feed(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant"}}],"usage":{"prompt_tokens":12,"completion_tokens":0}}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hello"}}],"usage":{"prompt_tokens":12,"completion_tokens":1}}"#,
            r#"{"choices":[{"index":0,"delta":{"content":" big world"}}],"usage":{"prompt_tokens":12,"completion_tokens":4}}"#,
            r#"{"choices":[{"index":0,"delta":{"content":""}}],"usage":{"prompt_tokens":12,"completion_tokens":5}}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5}}"#,
        ]);
        // The held-back UTF-8 chunk (empty text, usage +1) is a token event.
        assert_eq!(s.chunks, vec![(2000, 1), (3000, 3), (4000, 1)]);
        let total: u32 = s.chunks.iter().map(|c| c.1).sum();
        assert_eq!(u64::from(total), s.usage.completion_tokens.unwrap());
    }

    #[test]
    fn the_first_usage_event_may_carry_several_tokens() {
        // SGLang-style continuous usage: no usage before the first content chunk.
        let (s, _) = feed(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"a b c"}}],"usage":{"completion_tokens":3}}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"d"}}],"usage":{"completion_tokens":4}}"#,
        ]);
        assert_eq!(s.chunks, vec![(2000, 3), (3000, 1)]);
    }

    #[test]
    fn empty_chunks_are_steps_unless_usage_says_otherwise() {
        // vLLM: the held-back token's chunk is a step, so the gap is not merged.
        let vllm = [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":""},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"éb"},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"text":"","finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"c"},"finish_reason":"length"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":2}}}"#,
        ];
        let (mut s, _) = feed(&vllm);
        s.reconcile();
        assert_eq!(s.chunks.len(), 5);
        assert_eq!(s.chunks[1], (3000, 1));
        assert_eq!(s.usage.cached_tokens, Some(2));
        // A server whose empty chunks were not tokens: usage says 2, so they are dropped.
        let mut lines = vllm;
        lines[6] = r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3}}"#;
        let (mut s, _) = feed(&lines);
        s.reconcile();
        assert_eq!(s.chunks, vec![(2000, 1), (4000, 1), (6000, 1)]);
        // Continuous usage decides: an empty chunk with no rise is no token.
        let (s, _) = feed(&[
            r#"{"choices":[{"delta":{"content":"a"}}],"usage":{"completion_tokens":1}}"#,
            r#"{"choices":[{"delta":{"content":""}}],"usage":{"completion_tokens":1}}"#,
            r#"{"choices":[{"delta":{"content":""}}],"usage":{"completion_tokens":2}}"#,
        ]);
        assert_eq!(s.chunks, vec![(1000, 1), (3000, 1)]);
    }

    #[test]
    fn error_event_fails_with_its_message() {
        let mut s = StreamState::default();
        let e = s
            .on_event(
                r#"{"error":{"message":"boom","type":"InternalServerError","code":500}}"#,
                1,
            )
            .unwrap_err();
        assert_eq!(e.kind, "stream_error");
        assert!(
            e.message.contains("boom") && e.message.contains("500"),
            "{}",
            e.message
        );
    }

    #[test]
    fn reasoning_and_tool_calls_are_tokens_and_empty_data_is_a_keepalive() {
        let (s, _) = feed(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":null}}]}"#,
            "",
            r#"{"choices":[{"index":0,"delta":{"reasoning":"think"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        ]);
        assert_eq!(s.chunks, vec![(3000, 1), (4000, 1)]);
        assert!(s.finished);
    }

    #[test]
    fn a_stream_past_its_token_limit_fails() {
        let mut s = StreamState {
            limit: 3,
            ..Default::default()
        };
        for t in 0..3 {
            s.on_event(r#"{"choices":[{"text":"a"}]}"#, t).unwrap();
        }
        let e = s.on_event(r#"{"choices":[{"text":"a"}]}"#, 4).unwrap_err();
        assert_eq!(e.kind, "too_many_tokens");
        assert_eq!(s.chunks.len(), 3);
    }

    #[test]
    fn malformed_json_is_named() {
        let mut s = StreamState::default();
        let e = s.on_event(r#"{"choices":[{"text":"a""#, 1).unwrap_err();
        assert_eq!(e.kind, "malformed_chunk");
    }

    #[test]
    fn trailing_space_after_json_is_fine() {
        // TRT-LLM writes its first chat chunk as `data: {json} \n\n`.
        let mut s = StreamState::default();
        assert_eq!(
            s.on_event(r#"{"choices":[{"delta":{"content":"x"}}]} "#, 5),
            Ok(Flow::Continue)
        );
        assert_eq!(s.chunks, vec![(5, 1)]);
    }

    #[test]
    fn escaped_text_counts_as_text() {
        let mut s = StreamState::default();
        s.on_event(r#"{"choices":[{"text":"\n\u00e9"}]}"#, 9)
            .unwrap();
        assert_eq!(s.chunks, vec![(9, 1)]);
    }

    #[test]
    fn snippet_is_one_line_and_respects_char_boundaries() {
        assert_eq!(snippet("héllo", 2), "h...");
        assert_eq!(snippet("a\n\n  b\tc", 10), "a b c");
    }
}
