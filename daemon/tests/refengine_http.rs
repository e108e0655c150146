//! The reference engine's HTTP layer with requests real clients send: `Expect: 100-continue`,
//! chunked bodies it does not take, absurd lengths. Raw sockets, so nothing is smoothed over.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Engine, fixed};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn connect(url: &str) -> TcpStream {
    let s = TcpStream::connect(url.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Everything the server sends until it closes.
fn read_all(mut s: TcpStream) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn expect_100_continue_is_answered() {
    let eng = Engine::start(fixed(1.0, 1.0));
    let mut s = connect(&eng.url);
    let body = r#"{"prompt":"hi","max_tokens":2,"stream":true}"#;
    write!(s, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", body.len()).unwrap();
    let mut first = [0u8; 25];
    s.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(body.as_bytes()).unwrap();
    let rest = read_all(s);
    assert!(rest.starts_with("HTTP/1.1 200 OK"), "{rest}");
    assert!(rest.contains("data: [DONE]"), "{rest}");
}

#[test]
fn unusable_requests_get_a_status_not_a_dropped_connection() {
    let eng = Engine::start(fixed(1.0, 1.0));
    let cases = [
        (
            "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            "411",
        ),
        (
            "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n",
            "413",
        ),
        (
            "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            "400",
        ),
        ("NOT HTTP AT ALL\r\n\r\n", "400"),
    ];
    for (req, status) in cases {
        let mut s = connect(&eng.url);
        s.write_all(req.as_bytes()).unwrap();
        let resp = read_all(s);
        assert!(
            resp.starts_with(&format!("HTTP/1.1 {status} ")),
            "{req:?} -> {resp}"
        );
    }
    // The engine still serves after all that.
    let mut s = connect(&eng.url);
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(read_all(s).starts_with("HTTP/1.1 200 OK"));
}
