//! A deliberately small HTTP/1.1 server layer for the reference engine. Owning the socket
//! writes is the point: the time of every chunk is taken right after its `write` returns, so
//! the ground truth is the moment the bytes left the engine, not when they were queued.

use bytes::{Buf, BytesMut};
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest request accepted (headers + body).
const MAX_REQUEST: usize = 8 << 20;

/// A parsed request.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Whether the client wants the connection kept open.
    pub keep_alive: bool,
}

impl Request {
    /// First header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The connection failed or closed mid-request.
    Closed,
    /// The request is unusable: answer with this status and message, then close.
    Reject(u16, String),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Closed
    }
}

enum Parsed {
    Done(Request),
    Partial { expects_continue: bool },
}

/// One client connection.
pub struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    /// While set, chunks collect here and go out in one write at [`Conn::flush`].
    pending: Option<Vec<u8>>,
}

impl Conn {
    /// Wrap an accepted socket (Nagle off: every chunk goes out when written).
    pub fn new(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        Self {
            stream,
            buf: BytesMut::with_capacity(16 << 10),
            pending: None,
        }
    }

    /// Next request, or `None` when the client closed the connection cleanly.
    pub async fn read_request(&mut self) -> Result<Option<Request>, ReadError> {
        let mut continued = false;
        loop {
            match self.parse()? {
                Parsed::Done(req) => return Ok(Some(req)),
                Parsed::Partial { expects_continue } => {
                    if expects_continue && !continued {
                        continued = true;
                        self.stream
                            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                            .await?;
                    }
                }
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(ReadError::Closed)
                };
            }
        }
    }

    fn parse(&mut self) -> Result<Parsed, ReadError> {
        let reject = |status, msg: &str| Err(ReadError::Reject(status, msg.to_owned()));
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        let head_len = match req.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if self.buf.len() > MAX_REQUEST => {
                return reject(431, "request head too large");
            }
            Ok(httparse::Status::Partial) => {
                return Ok(Parsed::Partial {
                    expects_continue: false,
                });
            }
            Err(e) => return reject(400, &format!("malformed request: {e}")),
        };
        let headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        let find = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        if find("transfer-encoding").is_some() {
            return reject(
                411,
                "chunked request bodies are not supported: send Content-Length",
            );
        }
        let len: usize = match find("content-length").map(|v| v.trim().parse::<usize>()) {
            Some(Ok(n)) if n <= MAX_REQUEST => n,
            Some(Ok(_)) => return reject(413, "request body too large"),
            Some(Err(_)) => return reject(400, "bad Content-Length"),
            None => 0,
        };
        if self.buf.len() < head_len + len {
            let expects_continue =
                find("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
            return Ok(Parsed::Partial { expects_continue });
        }
        let version_11 = req.version == Some(1);
        let conn = find("connection").map(|v| v.to_ascii_lowercase());
        let keep_alive = match conn.as_deref() {
            Some(v) if v.contains("close") => false,
            Some(v) if v.contains("keep-alive") => true,
            _ => version_11,
        };
        let method = req.method.unwrap_or("GET").to_owned();
        let raw_path = req.path.unwrap_or("/");
        let path = raw_path.split('?').next().unwrap_or("/").to_owned();
        self.buf.advance(head_len);
        let body = self.buf.split_to(len).to_vec();
        Ok(Parsed::Done(Request {
            method,
            path,
            headers,
            body,
            keep_alive,
        }))
    }

    /// A complete response with a body.
    pub async fn respond(
        &mut self,
        status: u16,
        ctype: &str,
        body: &[u8],
        keep_alive: bool,
    ) -> io::Result<()> {
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
            reason(status),
            body.len(),
            if keep_alive { "keep-alive" } else { "close" },
        );
        let mut out = Vec::with_capacity(head.len() + body.len());
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(body);
        self.stream.write_all(&out).await
    }

    /// Start a chunked `text/event-stream` response. `keep_alive_header` announces
    /// `Keep-Alive: timeout=5, max=100` the way llama.cpp does.
    pub async fn start_sse(&mut self, keep_alive_header: bool) -> io::Result<()> {
        let ka = if keep_alive_header {
            "Keep-Alive: timeout=5, max=100\r\n"
        } else {
            ""
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
             Transfer-Encoding: chunked\r\n{ka}\r\n"
        );
        self.stream.write_all(head.as_bytes()).await
    }

    /// Write raw bytes as one HTTP chunk (one `write` call, unless buffering).
    pub async fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        let mut out = Vec::with_capacity(data.len() + 12);
        out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
        self.send(out).await
    }

    /// End a chunked response.
    pub async fn end_chunks(&mut self) -> io::Result<()> {
        self.send(b"0\r\n\r\n".to_vec()).await
    }

    /// From now on collect chunks instead of writing them.
    pub fn buffer(&mut self) {
        self.pending = Some(Vec::with_capacity(64 << 10));
    }

    /// Write everything collected since [`Conn::buffer`] in one go, and stop buffering.
    pub async fn flush(&mut self) -> io::Result<()> {
        match self.pending.take() {
            Some(out) => self.stream.write_all(&out).await,
            None => Ok(()),
        }
    }

    async fn send(&mut self, out: Vec<u8>) -> io::Result<()> {
        match &mut self.pending {
            Some(p) => {
                p.extend_from_slice(&out);
                Ok(())
            }
            None => self.stream.write_all(&out).await,
        }
    }

    /// Wait until the client closes the connection (or sends anything), up to `limit`.
    pub async fn wait_for_close(&mut self, limit: std::time::Duration) {
        let mut b = [0u8; 1];
        let _ = tokio::time::timeout(limit, self.stream.read(&mut b)).await;
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
