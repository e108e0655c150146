//! A request that fails before any response byte (the server closed a kept-alive connection)
//! is re-sent on a fresh connection, and the retry is counted.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use llmsd::loadgen::client::{Clock, Prepared, StreamClient};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SSE: &str = "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"choices\":[{\"text\":\"b\",\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n";

async fn read_request(s: &mut tokio::net::TcpStream) {
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("\r\n\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        if n == 0 {
            return;
        }
        got.extend_from_slice(&buf[..n]);
    }
}

fn request() -> Prepared {
    Prepared {
        body: Bytes::from_static(b"{}"),
        client_input_tokens: None,
        ..Prepared::default()
    }
}

#[tokio::test]
async fn a_request_closed_before_any_byte_is_retried_once() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/completions", l.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        read_request(&mut s).await;
        drop(s); // closed without a byte of response
        let (mut s, _) = l.accept().await.unwrap();
        read_request(&mut s).await;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
            SSE.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(SSE.as_bytes()).await.unwrap();
    });
    let c = StreamClient::new(url.parse().unwrap(), Duration::from_secs(5)).unwrap();
    let now = Instant::now();
    let r = c
        .send(&request(), "r1".into(), Clock { epoch: now }, now)
        .await;
    assert_eq!(r.error, None);
    assert_eq!(r.retries, 1);
    assert_eq!(r.chunks.len(), 2);
}

#[tokio::test]
async fn a_server_that_always_closes_fails_after_the_retries() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/completions", l.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            read_request(&mut s).await;
        }
    });
    let c = StreamClient::new(url.parse().unwrap(), Duration::from_secs(5)).unwrap();
    let now = Instant::now();
    let r = c
        .send(&request(), "r2".into(), Clock { epoch: now }, now)
        .await;
    assert_eq!(r.retries, 2);
    assert_eq!(r.error.unwrap().kind, "transport");
}
