//! A conversation on the wire, against a bare server that records every request: each turn
//! carries the session's header, and the second turn resends the first turn's user message
//! and the answer the server streamed, as an assistant message; the system prompt every
//! session shares opens each session, the same in all of them.
#![allow(clippy::unwrap_used)]

use llms_shared::Load;
use llmsd::loadgen::client::StreamClient;
use llmsd::loadgen::conversation::Conversation;
use llmsd::loadgen::request::{Endpoint, Prompt, RequestOptions};
use llmsd::loadgen::runner::{PointSpec, Workload, run_point};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SSE: &str = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"lo!\"},\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n";

/// Read one request (head and body) from `s`; `None` when the connection closes.
async fn request(s: &mut TcpStream, pending: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let mut buf = vec![0u8; 8192];
    let end = loop {
        if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        pending.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&pending[..end]).to_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while pending.len() < end + len {
        let n = s.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        pending.extend_from_slice(&buf[..n]);
    }
    let body = pending[end..end + len].to_vec();
    pending.drain(..end + len);
    Some((head, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_turn_carries_the_session_and_resends_the_answer() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/chat/completions", l.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                let mut pending = Vec::new();
                while let Some((head, body)) = request(&mut s, &mut pending).await {
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    log.lock().unwrap().push((head, v));
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{SSE}",
                        SSE.len()
                    );
                    s.write_all(reply.as_bytes()).await.unwrap();
                }
            });
        }
    });
    let client = StreamClient::new(url.parse().unwrap(), Duration::from_secs(5)).unwrap();
    let w = Workload {
        client,
        prepared: Arc::new(Vec::new()),
        salt: 7,
        id_prefix: "llms-p0".into(),
        first_prompt: 0,
        point: 0,
        conversation: Some(Arc::new(Conversation {
            turns: 2,
            think: Duration::ZERO,
            header: Some("x-session-id".parse().unwrap()),
            endpoint: Endpoint::Chat,
            opts: RequestOptions::default(),
            users: Arc::new(vec![
                Prompt::Text("first?".into()),
                Prompt::Text("second?".into()),
            ]),
            unique: false,
            dialogues: None,
            turns_dist: None,
            think_exponential: false,
            seed: 0,
            system: Some("Answer briefly.".into()),
        })),
        trace: None,
    };
    let spec = PointSpec {
        load: Load::Concurrency { concurrency: 1 },
        requests: Some(4),
        duration: None,
        max_concurrency: None,
        seed: 0,
    };
    let run = run_point(&w, &spec).await.unwrap();
    assert_eq!(run.records.len(), 4);
    assert_eq!(run.used, 4);
    assert!(
        run.records
            .iter()
            .all(|r| r.error.is_none() && r.answer.is_none())
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 4);
    // Session 0: its two turns carry its id; the second resends the first and the answer.
    assert!(
        seen[0].0.contains("x-session-id: llms-p0-s0\r\n"),
        "{}",
        seen[0].0
    );
    assert!(
        seen[1].0.contains("x-session-id: llms-p0-s0\r\n"),
        "{}",
        seen[1].0
    );
    assert!(
        seen[2].0.contains("x-session-id: llms-p0-s1\r\n"),
        "{}",
        seen[2].0
    );
    assert!(
        seen[3].0.contains("x-session-id: llms-p0-s1\r\n"),
        "{}",
        seen[3].0
    );
    let messages = |i: usize| seen[i].1["messages"].clone();
    assert_eq!(
        messages(1),
        serde_json::json!([
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "first?"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "second?"},
        ])
    );
    // Session 1 starts over, its first turn alone after the same system prompt (request 2 of
    // the run: message 2 % 2).
    assert_eq!(
        messages(2),
        serde_json::json!([
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "first?"},
        ])
    );
}
