//! Servers under test that misbehave cannot grow the client's memory: an endless stream of
//! valid chunks, a gigabyte error page, an SSE line of 100 MB. Each ends in a named error,
//! and the process's peak memory stays small. (One test in its own binary: the peak is the
//! process's.)
#![allow(clippy::unwrap_used)]

use llmsd::loadgen::client::{Clock, Prepared, StreamClient};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// Serve each connection by the path it asks for, until the client goes away.
fn hostile_server() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let n = s.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let _ = serve(&mut s, head.split(' ').nth(1).unwrap_or(""));
            });
        }
    });
    url
}

fn serve(s: &mut std::net::TcpStream, path: &str) -> std::io::Result<()> {
    let sse = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
    match path {
        "/endless" => {
            s.write_all(sse.as_bytes())?;
            let chunk = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n";
            let many: Vec<u8> = chunk
                .iter()
                .copied()
                .cycle()
                .take(chunk.len() * 512)
                .collect();
            loop {
                s.write_all(&many)?;
            }
        }
        "/page" => {
            let gib = 1u64 << 30;
            write!(
                s,
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/html\r\ncontent-length: {gib}\r\n\r\n"
            )?;
            let block = vec![b'x'; 1 << 16];
            for _ in 0..gib / block.len() as u64 {
                s.write_all(&block)?;
            }
            Ok(())
        }
        _ => {
            s.write_all(sse.as_bytes())?;
            s.write_all(b"data: {\"choices\":[{\"delta\":{\"content\":\"")?;
            let block = vec![b'a'; 1 << 16];
            for _ in 0..(100 << 20) / block.len() {
                s.write_all(&block)?;
            }
            Ok(())
        }
    }
}

/// Peak resident memory of this process, in MiB (`VmHWM`).
fn peak_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_servers_end_in_named_errors_and_memory_stays_flat() {
    let url = hostile_server();
    let before = peak_mib();
    let client = |path: &str| {
        StreamClient::new(
            format!("{url}{path}").parse().unwrap(),
            Duration::from_secs(30),
        )
        .unwrap()
        .with_token_limit(272)
    };
    let req = Prepared {
        body: "{}".into(),
        client_input_tokens: None,
        ..Prepared::default()
    };
    let send = |c: StreamClient| {
        let req = req.clone();
        async move {
            let now = Instant::now();
            c.send(&req, "r".into(), Clock { epoch: now }, now).await
        }
    };
    let r = send(client("/endless")).await;
    let e = r.error.unwrap();
    assert_eq!(e.kind, "too_many_tokens", "{}", e.message);
    assert_eq!(r.chunks.len(), 272, "what came before the limit is kept");

    let r = send(client("/page")).await;
    let e = r.error.unwrap();
    assert_eq!(e.kind, "http_500");
    assert!(
        e.message.contains("error body truncated") && !e.message.contains("xxx"),
        "the page is not quoted: {}",
        e.message
    );

    let r = send(client("/line")).await;
    let e = r.error.unwrap();
    assert_eq!(e.kind, "event_too_large", "{}", e.message);
    assert!(e.message.contains("event too large"), "{}", e.message);

    // A gigabyte page read whole, or a 100 MB line buffered, would show here.
    let after = peak_mib();
    assert!(
        after < before + 64,
        "peak memory grew from {before} to {after} MiB"
    );
}
