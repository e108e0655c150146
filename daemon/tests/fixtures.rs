//! Real captured streams (vLLM 0.20.1, SGLang 0.5.15, llama.cpp) through llmsd's SSE reader
//! (checked against the `eventsource-stream` crate's) and the token rules, cut into network
//! frames at many different places. The expected counts come from a plain line-by-line
//! reading of the same file, a separate path to the same answer.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use llmsd::loadgen::sse::SseParser;
use llmsd::loadgen::stream::{Flow, StreamState};
use serde_json::Value;

const FIXTURES: [&str; 9] = [
    "vllm-0.20.1-chat.sse",
    "vllm-0.20.1-completions.sse",
    "sglang-0.5.15-chat.sse",
    "sglang-0.5.15-completions.sse",
    "llamacpp-chat_stream.txt",
    "llamacpp-chat_stream_no_usage_opt.txt",
    "llamacpp-completions_stream.txt",
    "llamacpp-completions_stream_no_usage_opt.txt",
    "llamacpp-chat_stream_timings_per_token.txt",
];

/// The SSE body of a capture (llama.cpp's include the HTTP head).
fn body(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    match text.starts_with("HTTP/") {
        true => text
            .split_once("\r\n\r\n")
            .or_else(|| text.split_once("\n\n"))
            .unwrap()
            .1
            .to_owned(),
        false => text,
    }
}

/// Expected (token events, final completion_tokens, saw [DONE]) by reading lines.
fn expected(body: &str) -> (usize, Option<u64>, bool) {
    let (mut events, mut usage, mut done) = (0, None, false);
    for line in body.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if data.trim() == "[DONE]" {
            done = true;
            continue;
        }
        let v: Value = serde_json::from_str(data).unwrap();
        let nonempty = |x: &Value| x.as_str().is_some_and(|s| !s.is_empty());
        let empty = |x: &Value| x.as_str() == Some("");
        let step = v["choices"].as_array().unwrap().iter().any(|c| {
            let text = nonempty(&c["text"])
                || nonempty(&c["delta"]["content"])
                || nonempty(&c["delta"]["reasoning_content"]);
            // A held-back token: empty text, not the role chunk, not the finish chunk.
            let held = c["finish_reason"].is_null()
                && c["delta"].get("role").is_none()
                && (empty(&c["text"]) || empty(&c["delta"]["content"]));
            text || held
        });
        events += usize::from(step);
        if let Some(n) = v["usage"]["completion_tokens"].as_u64() {
            usage = Some(n);
        }
    }
    (events, usage, done)
}

/// The stream as llmsd reads it (its own SSE reader), checked event for event against the
/// `eventsource-stream` crate's reading of the same reads.
async fn parse(frames: Vec<Bytes>) -> (StreamState, bool) {
    let mut ours = Vec::new();
    let mut sse = SseParser::new(1 << 20);
    for f in &frames {
        sse.feed(f, |d| {
            ours.push(String::from_utf8(d.to_vec()).unwrap());
            true
        })
        .unwrap();
    }
    let s = futures::stream::iter(frames.into_iter().map(Ok::<_, std::io::Error>));
    let theirs: Vec<String> = s.eventsource().map(|e| e.unwrap().data).collect().await;
    assert_eq!(ours, theirs);
    let mut st = StreamState::default();
    let mut done = false;
    for (t, data) in ours.iter().enumerate() {
        if st.on_event(data, t as u64 + 1).unwrap() == Flow::Done {
            done = true;
        }
    }
    (st, done)
}

#[tokio::test]
async fn captured_streams_parse_alike_however_they_are_cut() {
    for name in FIXTURES {
        let b = body(name);
        let (events, usage, done) = expected(&b);
        assert!(events > 0, "{name}");
        let bytes = b.as_bytes();
        // Whole, one byte at a time, and at a spread of odd frame sizes.
        for size in [bytes.len(), 1, 2, 3, 7, 64, 100, 333, 1000] {
            let frames: Vec<Bytes> = bytes.chunks(size).map(Bytes::copy_from_slice).collect();
            let (st, saw_done) = parse(frames).await;
            assert_eq!(st.chunks.len(), events, "{name} cut at {size}");
            assert_eq!(st.usage.completion_tokens, usage, "{name} cut at {size}");
            assert_eq!(saw_done, done, "{name}");
            assert!(st.finished, "{name}: finish_reason seen");
        }
    }
}

/// Every engine step is one chunk in these captures (no speculative decoding, stream interval
/// 1): counting vLLM's empty chunk as a step makes llmsd's events equal the server's
/// `completion_tokens` in every capture that reports usage, so no two steps merge into one
/// inter-token gap.
#[tokio::test]
async fn every_generated_token_is_one_event_in_every_capture() {
    let mut checked = 0;
    for name in FIXTURES {
        let b = body(name);
        let (mut st, _) = parse(vec![Bytes::from(b)]).await;
        st.reconcile();
        let Some(usage) = st.usage.completion_tokens else {
            continue;
        };
        let events: u64 = st.chunks.iter().map(|c| u64::from(c.1)).sum();
        assert_eq!(events, usage, "{name}");
        assert_eq!(st.chunks.len() as u64, usage, "{name}: one token per event");
        checked += 1;
    }
    assert!(checked >= 6, "{checked}");
}
