//! The streaming HTTP client: sends one prepared request, timestamps every SSE event at the
//! arrival of the bytes that completed it, and turns the outcome into a [`RequestRecord`].
//!
//! Failed requests are data, not errors: every path ends in a record, with `error` set when the
//! request failed. A request that fails before any response byte arrives (a server that closed
//! a connection it announced as kept alive, as llama.cpp does) is re-sent on a fresh connection
//! and the retry is counted in the record.

use super::live::Live;
use super::sse::{SseParser, TooLong};
use super::stream::{Flow, StreamState, snippet};
use bytes::Bytes;
use llms_shared::{RequestError, RequestRecord};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Re-sends allowed for a request that failed before any response byte.
const MAX_RETRIES: u32 = 2;
/// How long to keep reading after `[DONE]` so the connection can go back to the pool: first
/// in line, then in the background.
const QUICK_DRAIN: Duration = Duration::from_millis(10);
const DRAIN: Duration = Duration::from_secs(2);

/// A request ready to send: the body is serialized already.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// JSON body.
    pub body: Bytes,
    /// Input tokens as the client counts them, when it can.
    pub client_input_tokens: Option<u64>,
    /// Keep the answer's text (in [`RequestRecord::answer`]), up to [`ANSWER_CAP`] bytes.
    pub capture: bool,
    /// One more header (a conversation's session id), name and value checked.
    pub header: Option<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    /// The output tokens asked, where requests differ (copied to the record).
    pub max_tokens: Option<u32>,
}

/// Most bytes of an answer kept for a conversation's next turn.
pub const ANSWER_CAP: usize = 1 << 20;

/// Sends streaming requests to one URL.
#[derive(Clone)]
pub struct StreamClient {
    pooled: reqwest::Client,
    /// Keeps no idle connections, so a retry always opens a new one.
    fresh: reqwest::Client,
    url: reqwest::Url,
    timeout: Duration,
    /// Progress of the point being run, when someone watches it.
    live: Option<Arc<Live>>,
    /// Most tokens one stream may carry (0: no limit).
    token_limit: u64,
    /// The load generator's thread its requests run on ([`super::rt`]).
    lane: super::rt::Lane,
}

/// The time base of a point: event times are stored as ns since `epoch`.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Start of the point.
    pub epoch: Instant,
}

/// `CLOCK_MONOTONIC` in ns: the clock `Instant` reads on Linux, and the same in every process
/// of the machine, so two processes' records can be put on one time line.
pub fn monotonic_ns() -> u64 {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

impl Clock {
    /// A clock starting now, with its start on the machine-wide monotonic time line.
    pub fn start() -> (Self, u64) {
        let mono = monotonic_ns();
        (
            Self {
                epoch: Instant::now(),
            },
            mono,
        )
    }

    /// ns from the epoch to `t` (0 if `t` is earlier).
    pub fn ns(&self, t: Instant) -> u64 {
        ns_between(self.epoch, t)
    }
}

/// ns from `from` to `to` (0 if `to` is earlier), saturating.
pub fn ns_between(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.saturating_duration_since(from).as_nanos()).unwrap_or(u64::MAX)
}

/// Most of an error body read, to find its message: a server cannot make the client hold
/// more.
pub const ERROR_BODY_CAP: usize = 64 * 1024;
/// Longest line of an SSE stream (a chunk is one line): beyond it the stream is failed as
/// `event_too_large`, so a server cannot grow the client's buffer without bound.
pub const MAX_SSE_LINE: usize = 1 << 20;

/// Read at most `cap` bytes of a body: (the bytes, whether more was left unread).
pub async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = cap.saturating_sub(out.len());
        if chunk.len() > room {
            out.extend_from_slice(&chunk[..room]);
            return Ok((out, true));
        }
        out.extend_from_slice(&chunk);
    }
    Ok((out, false))
}

/// A small answer (`/metrics`, `/v1/models`, `/tokenize`) as text, `None` when it cannot be
/// read or is larger than `cap` bytes: what a server sends is never held whole unless small.
pub async fn text_capped(resp: reqwest::Response, cap: usize) -> Option<String> {
    match read_capped(resp, cap).await {
        Ok((b, false)) => String::from_utf8(b).ok(),
        _ => None,
    }
}

/// Largest `/metrics` text read (vLLM's and SGLang's are about 60 KB).
pub const METRICS_CAP: usize = 4 << 20;

/// What an unwanted body (an error, a page that is not SSE) says, for a one-line message: the
/// `error.message` (or `detail`, `message`) of a JSON body, else only its size and type: a raw
/// body is never quoted (it may be a page of the server's that is nobody's business). At most
/// [`ERROR_BODY_CAP`] bytes are read, for at most 5 s.
pub async fn error_summary(resp: reqwest::Response) -> String {
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content-type")
        .to_owned();
    let read = tokio::time::timeout(Duration::from_secs(5), read_capped(resp, ERROR_BODY_CAP));
    let (body, more) = match read.await {
        Ok(Ok(b)) => b,
        _ => return "(the body could not be read)".into(),
    };
    let msg = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| json_message(&v));
    match (msg, more) {
        (Some(m), _) => snippet(&m, 200),
        (None, false) => format!("a {}-byte {ctype} body", body.len()),
        (None, true) => format!(
            "a {ctype} body of over {} KiB (error body truncated)",
            ERROR_BODY_CAP / 1024
        ),
    }
}

/// The message of an OpenAI-style (`{"error": {"message"}}`), FastAPI (`{"detail"}`) or plain
/// (`{"message"}`) error object.
fn json_message(v: &serde_json::Value) -> Option<String> {
    let e = v.get("error");
    let m = e
        .and_then(|e| e.get("message"))
        .or(e.filter(|e| e.is_string()))
        .or_else(|| v.get("detail"))
        .or_else(|| v.get("message"))?;
    Some(match m.as_str() {
        Some(s) => s.to_owned(),
        None => m.to_string(),
    })
}

/// A reqwest client builder, with rustls's crypto provider (ring) installed first: reqwest
/// panics when a client is built without one. Build every HTTP client through this.
pub fn http_builder() -> reqwest::ClientBuilder {
    // Err means a provider is installed already, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // No redirects: a server under test must not send the client (and its prompts) to a
    // host the daemon's external_hosts did not allow.
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none())
}

impl StreamClient {
    /// A client for `url` (the full endpoint URL). `timeout` bounds each request, waiting
    /// included.
    pub fn new(url: reqwest::Url, timeout: Duration) -> Result<Self, reqwest::Error> {
        let build = |idle: usize| {
            http_builder()
                .tcp_nodelay(true)
                .pool_max_idle_per_host(idle)
                .connect_timeout(Duration::from_secs(10))
                .build()
        };
        Ok(Self {
            pooled: build(usize::MAX)?,
            fresh: build(0)?,
            url,
            timeout,
            live: None,
            token_limit: 0,
            lane: super::rt::Lane::next(),
        })
    }

    /// The load generator's thread this client's requests run on: its pooled connections
    /// are read there.
    pub fn lane(&self) -> super::rt::Lane {
        self.lane
    }

    /// The same client, reporting tokens and finished requests to `live` (or to nobody).
    pub fn with_live(mut self, live: Option<Arc<Live>>) -> Self {
        self.live = live;
        self
    }

    /// Each request's deadline from its start, waiting and reading included.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The same client, failing a stream that carries more than `n` tokens
    /// (`too_many_tokens`): a cap on what a server can make it hold.
    pub fn with_token_limit(mut self, n: u64) -> Self {
        self.token_limit = n;
        self
    }

    /// The endpoint URL.
    pub fn url(&self) -> &reqwest::Url {
        &self.url
    }

    /// Send `req` now and read its stream to the end. `due` is when the request was meant to
    /// go (the difference is its queue time).
    pub async fn send(
        &self,
        req: &Prepared,
        id: String,
        clock: Clock,
        due: Instant,
    ) -> RequestRecord {
        // Off the client's lane (a preflight, a template probe): moved there, since the
        // connection it opens is pooled and must be read where the points read it.
        if !self.lane.is_here() {
            let (me, req) = (self.clone(), req.clone());
            let here = async move { me.send_here(&req, id, clock, due).await };
            return super::rt::run(self.lane, here).await;
        }
        self.send_here(req, id, clock, due).await
    }

    async fn send_here(
        &self,
        req: &Prepared,
        id: String,
        clock: Clock,
        due: Instant,
    ) -> RequestRecord {
        if let Some(live) = &self.live {
            live.started();
        }
        let rec = self.exchange(req, id, clock, due).await;
        // Every ending counts, failures before any response included.
        if let Some(live) = &self.live {
            live.finished(&rec);
        }
        rec
    }

    async fn exchange(
        &self,
        req: &Prepared,
        id: String,
        clock: Clock,
        due: Instant,
    ) -> RequestRecord {
        let mut rec = RequestRecord {
            id,
            due_ns: clock.ns(due),
            client_input_tokens: req.client_input_tokens,
            max_tokens: req.max_tokens,
            ..Default::default()
        };
        let rid = match reqwest::header::HeaderValue::from_str(&rec.id) {
            Ok(v) => v,
            Err(e) => {
                rec.error = Some(err("transport", format!("bad request id: {e}")));
                return rec;
            }
        };
        let build = |c: &reqwest::Client| {
            let mut b = c
                .post(self.url.clone())
                .header("content-type", "application/json")
                .header("accept", "text/event-stream")
                .header("x-request-id", rid.clone());
            if let Some((name, value)) = &req.header {
                b = b.header(name.clone(), value.clone());
            }
            b.body(req.body.clone()).build()
        };
        let first = match build(&self.pooled) {
            Ok(r) => r,
            Err(e) => {
                rec.error = Some(err("transport", format!("cannot build request: {e}")));
                return rec;
            }
        };
        let mut start = Instant::now();
        rec.start_ns = clock.ns(start);
        let deadline = tokio::time::Instant::from_std(start + self.timeout);
        let mut attempt = std::pin::pin!(self.pooled.execute(first));
        let resp = loop {
            match tokio::time::timeout_at(deadline, attempt.as_mut()).await {
                Err(_) => {
                    return fail(
                        rec,
                        start,
                        "timeout",
                        format!("no response in {:?}", self.timeout),
                    );
                }
                Ok(Ok(r)) => break r,
                Ok(Err(e)) if rec.retries < MAX_RETRIES && !e.is_timeout() => {
                    rec.retries += 1;
                    // Built only when needed: retries are rare, requests are not.
                    match build(&self.fresh) {
                        Ok(r) => {
                            // The request that counts is the one written now: its start is
                            // now; the failed attempt shows as queue time and in `retries`.
                            start = Instant::now();
                            rec.start_ns = clock.ns(start);
                            attempt.set(self.fresh.execute(r));
                        }
                        Err(_) => return fail(rec, start, send_kind(&e), describe(&e)),
                    }
                }
                Ok(Err(e)) => return fail(rec, start, send_kind(&e), describe(&e)),
            }
        };
        let status = resp.status();
        if status != reqwest::StatusCode::OK {
            let msg = format!("HTTP {status}: {}", summary_by(deadline, resp).await);
            return fail(rec, start, &format!("http_{}", status.as_u16()), msg);
        }
        let ctype = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ctype.starts_with("text/event-stream") {
            let ctype = if ctype.is_empty() {
                "none".to_owned()
            } else {
                ctype.to_owned()
            };
            let body = summary_by(deadline, resp).await;
            let msg = format!("content-type {ctype}, not an SSE stream: {body}");
            return fail(rec, start, "not_sse", msg);
        }
        let mut st = StreamState::with_limit(self.token_limit);
        if req.capture {
            st.capture(ANSWER_CAP);
        }
        read_stream(
            (rec, st),
            resp,
            start,
            (deadline, self.timeout),
            self.live.as_deref(),
        )
        .await
    }
}

/// Read the SSE body. Each event is stamped with the arrival time of the network read that
/// completed it (a read holding several events stamps them all alike, as they arrived alike).
async fn read_stream(
    (mut rec, mut st): (RequestRecord, StreamState),
    mut resp: reqwest::Response,
    start: Instant,
    (deadline, timeout): (tokio::time::Instant, Duration),
    live: Option<&Live>,
) -> RequestRecord {
    let since = move |t: Instant| ns_between(start, t);
    let mut sse = SseParser::new(MAX_SSE_LINE);
    // One timer for the whole stream: a timeout per read would register and cancel a timer
    // for every chunk, on the hot path.
    let mut expiry = std::pin::pin!(tokio::time::sleep_until(deadline));
    let outcome = loop {
        let read = tokio::select! {
            biased;
            r = resp.chunk() => r,
            () = expiry.as_mut() => {
                break Err(err("timeout", format!("stream not finished in {timeout:?}")));
            }
        };
        let t = since(Instant::now());
        let bytes = match read {
            Ok(Some(b)) => b,
            // A clean end after a finish_reason is a complete answer from a server that sends
            // no [DONE]; anything else is a cut stream.
            Ok(None) if st.finished => break Ok(t),
            Ok(None) => break Err(err("stream_cut", "stream ended without [DONE]".into())),
            Err(e) => {
                break Err(err(
                    "stream_cut",
                    format!("stream cut before [DONE]: {}", describe(&e)),
                ));
            }
        };
        let mut flow = Ok(Flow::Continue);
        let fed = sse.feed(&bytes, |data| {
            let seen = st.chunks.len();
            flow = match std::str::from_utf8(data) {
                Ok(text) => st.on_event(text, t),
                Err(_) => Err(err("malformed_sse", "invalid SSE: not UTF-8".into())),
            };
            if let (Some(live), Some(c)) = (live, st.chunks.get(seen)) {
                live.add_tokens(c.1);
            }
            matches!(flow, Ok(Flow::Continue))
        });
        match (fed, flow) {
            (_, Err(e)) => break Err(e),
            (_, Ok(Flow::Done)) => break Ok(t),
            (Err(TooLong), _) => {
                break Err(err(
                    "event_too_large",
                    format!(
                        "event too large: a line of over {} KiB",
                        MAX_SSE_LINE / 1024
                    ),
                ));
            }
            (Ok(()), Ok(Flow::Continue)) => {}
        }
    };
    st.reconcile();
    rec.usage = st.usage;
    rec.chunks = std::mem::take(&mut st.chunks);
    rec.answer = st.text.take();
    match outcome {
        Ok(end) => {
            rec.end_ns = end;
            if rec.chunks.is_empty() {
                rec.error = Some(err("no_tokens", "stream finished without any token".into()));
            }
            // Read to the end so the connection goes back to the pool before the next request
            // looks for one (the body's end is almost always already here). A server slow to
            // end its body is drained in the background instead, not holding the slot.
            let quick = async { while let Ok(Some(_)) = resp.chunk().await {} };
            if tokio::time::timeout(QUICK_DRAIN, quick).await.is_err() {
                tokio::spawn(tokio::time::timeout(DRAIN, async move {
                    while let Ok(Some(_)) = resp.chunk().await {}
                }));
            }
        }
        Err(e) => {
            rec.end_ns = since(Instant::now());
            rec.error = Some(e);
        }
    }
    rec
}

/// [`error_summary`] within the request's deadline: nothing of a request outlives it.
async fn summary_by(deadline: tokio::time::Instant, resp: reqwest::Response) -> String {
    tokio::time::timeout_at(deadline, error_summary(resp))
        .await
        .unwrap_or_else(|_| "(the body did not come before the timeout)".into())
}

fn err(kind: &str, message: String) -> RequestError {
    RequestError {
        kind: kind.to_owned(),
        message,
    }
}

fn fail(mut rec: RequestRecord, start: Instant, kind: &str, message: String) -> RequestRecord {
    rec.end_ns = ns_between(start, Instant::now());
    rec.error = Some(err(kind, message));
    rec
}

fn send_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    }
}

/// An error with its causes, on one line ("error sending request: connection refused").
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let cs = c.to_string();
        if !s.contains(&cs) {
            s.push_str(": ");
            s.push_str(&cs);
        }
        src = c.source();
    }
    s
}
