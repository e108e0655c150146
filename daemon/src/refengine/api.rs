//! Routes of the reference engine. Chunk shapes follow llama.cpp's (role-only first chat
//! chunk, finish_reason on its own empty chunk, a `"choices": []` usage chunk, `[DONE]`), or
//! those of the engine it imitates ([`super::dialect`]).

use super::State;
use super::engine::Job;
use super::http::{Conn, ReadError, Request};
use super::truth::TruthRecord;
use serde_json::{Value, json};
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Longest a stalled stream is held open.
const STALL_LIMIT: Duration = Duration::from_secs(3600);

/// Words the "model" emits, one per token. Plain ASCII: no JSON escaping needed.
const WORDS: [&str; 16] = [
    " the", " engine", " streams", " tokens", " at", " a", " known", " pace", " so", " every",
    " client", " can", " be", " checked", " against", " truth",
];

/// The text of an answer of `tokens` tokens: what every stream and every whole answer says,
/// one word per token (tests check what a client resends against it).
pub fn answer_text(tokens: u32) -> String {
    (0..tokens)
        .map(|i| WORDS[i as usize % WORDS.len()])
        .collect()
}

/// Serve one connection until it closes.
pub async fn connection(mut conn: Conn, st: Arc<State>) {
    loop {
        let req = match conn.read_request().await {
            Ok(Some(r)) => r,
            Ok(None) | Err(ReadError::Closed) => return,
            Err(ReadError::Reject(status, msg)) => {
                let _ = error(&mut conn, status, &msg, false).await;
                return;
            }
        };
        match route(&mut conn, &req, &st).await {
            Ok(true) if req.keep_alive => {}
            _ => return,
        }
    }
}

/// Handle one request; `Ok(true)` keeps the connection open.
async fn route(conn: &mut Conn, req: &Request, st: &State) -> io::Result<bool> {
    let ka = req.keep_alive;
    let d = st.dialect;
    let health = matches!(
        req.path.as_str(),
        "/health" | "/v1/health" | "/health_generate"
    );
    if st.loading() || (health && st.unhealthy()) {
        let body = json!({"error": {"message": "Loading model", "type": "unavailable_error", "code": 503}});
        conn.respond(503, "application/json", body.to_string().as_bytes(), ka)
            .await?;
        return Ok(true);
    }
    match (req.method.as_str(), req.path.as_str()) {
        // vLLM and SGLang answer 200 with an empty body; llama.cpp with {"status":"ok"}.
        ("GET", "/health" | "/v1/health" | "/health_generate") if d.0.is_some() => {
            conn.respond(200, "application/json", b"", ka).await?;
            Ok(true)
        }
        ("GET", "/health" | "/v1/health") => json_ok(conn, &json!({"status": "ok"}), ka).await,
        ("GET", p) if p == d.version_route() => {
            // SGLang's /get_server_info carries the whole server config; the model is enough.
            let v = match d.0 {
                Some(super::dialect::Imitate::Sglang) => {
                    json!({"version": d.version(), "model_path": st.args.model})
                }
                _ => json!({"version": d.version()}),
            };
            json_ok(conn, &v, ka).await
        }
        ("GET", "/v1/models") => {
            let m = json!({"object": "list", "data": [{"id": st.args.model, "object": "model", "owned_by": d.owner()}]});
            json_ok(conn, &m, ka).await
        }
        ("GET", p)
            if p == d.metrics_route()
                && !(st.args.metrics_off && d.0 != Some(super::dialect::Imitate::Vllm)) =>
        {
            let text = match st.args.metrics_off {
                true => String::new(),
                false => super::prom::text(st),
            };
            conn.respond(200, "text/plain; version=0.0.4", text.as_bytes(), ka)
                .await?;
            Ok(true)
        }
        // trtllm-serve's /metrics: a JSON list of iteration stats, drained on read.
        ("GET", "/metrics") if d.0 == Some(super::dialect::Imitate::Trtllm) => {
            json_ok(conn, &json!([]), ka).await
        }
        ("GET", "/ground_truth") => {
            conn.respond(200, "application/json", st.truth.to_json().as_bytes(), ka)
                .await?;
            Ok(true)
        }
        ("POST", "/tokenize") => match body_json(req) {
            Ok(v) => {
                let text = v
                    .get("content")
                    .or_else(|| v.get("prompt"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let ids: Vec<u8> = text.as_bytes().to_vec();
                json_ok(conn, &json!({"tokens": ids, "count": ids.len()}), ka).await
            }
            Err(e) => bad_request(conn, &e, ka).await,
        },
        ("POST", "/detokenize") => match body_json(req) {
            Ok(v) => {
                let ids = v
                    .get("tokens")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let bytes: Vec<u8> = ids
                    .iter()
                    .filter_map(|x| x.as_u64())
                    .map(|x| (x & 0xff) as u8)
                    .collect();
                let text = String::from_utf8_lossy(&bytes).into_owned();
                // Each engine names the text its own way: vLLM `prompt`, SGLang `text`,
                // llama.cpp `content` (the default dialect answers as both others do).
                let body = match d.0 {
                    Some(super::dialect::Imitate::Vllm) => json!({"prompt": text}),
                    Some(super::dialect::Imitate::Sglang) => json!({"text": text}),
                    _ => json!({"content": text, "prompt": text}),
                };
                json_ok(conn, &body, ka).await
            }
            Err(e) => bad_request(conn, &e, ka).await,
        },
        ("POST", "/v1/completions") => generate(conn, req, st, false).await,
        ("POST", "/v1/chat/completions") => generate(conn, req, st, true).await,
        (_, "/v1/completions" | "/v1/chat/completions" | "/tokenize" | "/detokenize") => {
            error(conn, 405, "method not allowed", ka).await
        }
        _ => {
            error(
                conn,
                404,
                &format!("no route for {} {}", req.method, req.path),
                ka,
            )
            .await
        }
    }
}

async fn json_ok(conn: &mut Conn, v: &Value, ka: bool) -> io::Result<bool> {
    conn.respond(200, "application/json", v.to_string().as_bytes(), ka)
        .await?;
    Ok(true)
}

async fn error(conn: &mut Conn, status: u16, msg: &str, ka: bool) -> io::Result<bool> {
    let kind = if status == 404 {
        "NotFoundError"
    } else if status >= 500 {
        "InternalServerError"
    } else {
        "BadRequestError"
    };
    let body = json!({"error": {"message": msg, "type": kind, "code": status}});
    conn.respond(status, "application/json", body.to_string().as_bytes(), ka)
        .await?;
    Ok(true)
}

async fn bad_request(conn: &mut Conn, msg: &str, ka: bool) -> io::Result<bool> {
    error(conn, 400, msg, ka).await
}

fn body_json(req: &Request) -> Result<Value, String> {
    serde_json::from_slice(&req.body).map_err(|e| format!("request body is not valid JSON: {e}"))
}

/// Fault injected into a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Http500,
    Cut,
    Malformed,
    Stall,
    Close,
    Error,
    /// No token chunk at all, only the end of the stream with usage counting the tokens:
    /// llama.cpp while its detokenizer holds back a partial UTF-8 sequence, or control tokens
    /// that render as nothing.
    Blank,
}

impl Fault {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "http500" | "500" => Fault::Http500,
            "cut" => Fault::Cut,
            "malformed" => Fault::Malformed,
            "stall" => Fault::Stall,
            "close" => Fault::Close,
            "error" => Fault::Error,
            "blank" => Fault::Blank,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Fault::Http500 => "http500",
            Fault::Cut => "cut",
            Fault::Malformed => "malformed",
            Fault::Stall => "stall",
            Fault::Close => "close",
            Fault::Error => "error",
            Fault::Blank => "blank",
        }
    }
}

fn pick_fault(req: &Request, st: &State, n: u64) -> Option<Fault> {
    if let Some(f) = req.header("x-llms-fault").and_then(Fault::parse) {
        return Some(f);
    }
    let a = &st.args;
    let every = |k: Option<u64>| k.is_some_and(|k| k > 0 && n.is_multiple_of(k));
    if every(a.fault_500_every) {
        Some(Fault::Http500)
    } else if every(a.fault_cut_every) {
        Some(Fault::Cut)
    } else if every(a.fault_malformed_every) {
        Some(Fault::Malformed)
    } else if every(a.fault_stall_every) {
        Some(Fault::Stall)
    } else if every(a.fault_error_every) {
        Some(Fault::Error)
    } else if every(a.fault_blank_every) {
        Some(Fault::Blank)
    } else {
        None
    }
}

/// What a generation request asked for.
struct Ask {
    /// The prompt as the "model" sees it (one token per byte): the text, or the chat
    /// template applied to the messages.
    rendered: Vec<u8>,
    prompt_tokens: u64,
    tokens: u32,
    stream: bool,
    include_usage: bool,
    continuous_usage: bool,
}

fn parse_ask(v: &Value, chat: bool, st: &State) -> Result<Ask, (u16, String)> {
    if let Some(m) = v.get("model").and_then(Value::as_str)
        && !m.is_empty()
        && m != st.args.model
    {
        return Err((404, format!("The model `{m}` does not exist.")));
    }
    let rendered = if chat {
        let ms = v
            .get("messages")
            .and_then(Value::as_array)
            .ok_or((400, "\"messages\" must be a list".to_owned()))?;
        // A tiny chat template: "<|role|>\n{content}\n" per message, then "<|assistant|>\n".
        let mut r = Vec::new();
        for m in ms {
            let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
            let content = m.get("content").and_then(Value::as_str).unwrap_or("");
            r.extend_from_slice(format!("<|{role}|>\n{content}\n").as_bytes());
        }
        r.extend_from_slice(b"<|assistant|>\n");
        r
    } else {
        match v.get("prompt") {
            Some(Value::String(s)) => s.as_bytes().to_vec(),
            _ => return Err((400, "\"prompt\" must be a string".into())),
        }
    };
    let prompt_tokens = rendered.len() as u64;
    let max_tokens = match v
        .get("max_tokens")
        .or_else(|| v.get("max_completion_tokens"))
    {
        None | Some(Value::Null) => 16,
        Some(x) => match x.as_u64() {
            Some(n) if n >= 1 && n <= u64::from(u32::MAX) => n as u32,
            _ => return Err((400, "\"max_tokens\" must be a positive integer".into())),
        },
    };
    let ignore_eos = v
        .get("ignore_eos")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        && !st.args.no_ignore_eos;
    let min_tokens = match st.args.no_ignore_eos {
        true => 0,
        false => v
            .get("min_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .min(u64::from(max_tokens)) as u32,
    };
    let tokens = match st.args.eos_after {
        Some(e) if !ignore_eos => e.clamp(min_tokens.max(1), max_tokens),
        _ => max_tokens,
    };
    let (include_usage, continuous_usage) = st
        .dialect
        .usage_flags(v.get("stream_options"), st.args.always_usage);
    Ok(Ask {
        rendered,
        prompt_tokens,
        tokens,
        stream: v.get("stream").and_then(Value::as_bool).unwrap_or(false),
        include_usage,
        continuous_usage,
    })
}

async fn generate(conn: &mut Conn, req: &Request, st: &State, chat: bool) -> io::Result<bool> {
    let received_ns = st.truth.now_ns();
    let ka = req.keep_alive;
    if st.draining.load(Ordering::SeqCst) {
        return error(conn, 503, "the server is shutting down", ka).await;
    }
    let _busy = InFlight::new(st);
    let n = st.next_request();
    let v = match body_json(req) {
        Ok(v) => v,
        Err(e) => return bad_request(conn, &e, ka).await,
    };
    if let Some(why) = st.dialect.refuse(&v) {
        return bad_request(conn, &why, ka).await;
    }
    let ask = match parse_ask(&v, chat, st) {
        Ok(a) => a,
        Err((code, msg)) => return error(conn, code, &msg, ka).await,
    };
    let fault = pick_fault(req, st, n);
    let mut rec = TruthRecord {
        id: req
            .header("x-request-id")
            .map_or_else(|| format!("ref-{n}"), str::to_owned),
        received_ns,
        prompt_tokens: ask.prompt_tokens,
        ..Default::default()
    };
    if fault == Some(Fault::Http500) {
        rec.fault = Some(Fault::Http500.name().to_owned());
        st.truth.push(rec);
        return error(conn, 500, "injected fault: internal error", ka).await;
    }
    let cached = st.cached_prefix(&ask.rendered);
    rec.cached_tokens = cached;
    st.prompt_tokens
        .fetch_add(ask.prompt_tokens, Ordering::Relaxed);
    st.cached_tokens.fetch_add(cached, Ordering::Relaxed);
    let (tx, mut ticks) = tokio::sync::mpsc::unbounded_channel();
    if st.args.burst {
        // Every token is ready now; the clock is not involved.
        for _ in 0..ask.tokens {
            let _ = tx.send(());
        }
        drop(tx);
    } else if !st.clock.submit(Job {
        prompt_tokens: ask.prompt_tokens - cached,
        tokens: ask.tokens,
        ticks: tx,
    }) {
        return error(conn, 503, "engine stopped", ka).await;
    }
    if !ask.stream {
        super::faults::exit_if(st.args.exit_after, n);
        let mut got = 0u32;
        while got < ask.tokens && ticks.recv().await.is_some() {
            got += 1;
        }
        st.generation_tokens
            .fetch_add(u64::from(got), Ordering::Relaxed);
        rec.completion_tokens = u64::from(got);
        st.truth.push(rec);
        let text = answer_text(got);
        let usage = json!({"prompt_tokens": ask.prompt_tokens, "completion_tokens": got, "total_tokens": ask.prompt_tokens + u64::from(got),
                           "prompt_tokens_details": {"cached_tokens": cached}});
        let body = if chat {
            json!({"id": format!("chatcmpl-ref-{n}"), "object": "chat.completion", "model": st.args.model,
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}], "usage": usage})
        } else {
            json!({"id": format!("cmpl-ref-{n}"), "object": "text_completion", "model": st.args.model,
                   "choices": [{"index": 0, "text": text, "finish_reason": "length"}], "usage": usage})
        };
        return json_ok(conn, &body, ka).await;
    }
    let close = st.args.close_after_response || fault == Some(Fault::Close);
    if fault == Some(Fault::Close) {
        rec.fault = Some(Fault::Close.name().to_owned());
    }
    conn.start_sse(close).await?;
    super::faults::exit_if(st.args.exit_after, n);
    if st.args.burst {
        conn.buffer();
    }
    let keep = stream(conn, st, &ask, chat, n, fault, &mut ticks, &mut rec, cached).await;
    let keep = match conn.flush().await {
        Ok(()) => keep,
        Err(e) => Err(e),
    };
    st.truth.push(rec);
    Ok(keep? && !close)
}

/// Counts a generation request as in flight while alive (a draining engine waits for 0).
struct InFlight<'a>(&'a State);

impl<'a> InFlight<'a> {
    fn new(st: &'a State) -> Self {
        st.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(st)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Write the SSE body. Returns whether the connection may be reused.
#[allow(clippy::too_many_arguments)]
async fn stream(
    conn: &mut Conn,
    st: &State,
    ask: &Ask,
    chat: bool,
    n: u64,
    fault: Option<Fault>,
    ticks: &mut tokio::sync::mpsc::UnboundedReceiver<()>,
    rec: &mut TruthRecord,
    cached: u64,
) -> io::Result<bool> {
    let d = st.dialect;
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_secs());
    let head = d.head(chat, n, &st.args.model, created);
    let usage = |done: u32| {
        format!(
            ",\"usage\":{}",
            d.usage(
                chat,
                ask.prompt_tokens,
                u64::from(done),
                (cached, st.args.cache_report),
            )
        )
    };
    let tail = |done: u32| match ask.continuous_usage {
        true => usage(done),
        false => d.no_usage(chat).to_owned(),
    };
    let per = st.args.tokens_per_chunk;
    let half = ask.tokens / 2;
    let on_last = d.finish_on_last(chat);
    let mut midstream = fault.filter(|f| {
        matches!(
            f,
            Fault::Cut | Fault::Malformed | Fault::Stall | Fault::Error
        )
    });
    let mut sent = 0u32;
    let mut pending = 0u32;
    // Words of held-back tokens, sent with the next chunk.
    let mut held = String::new();
    while sent < ask.tokens {
        if ticks.recv().await.is_none() {
            break;
        }
        pending += 1;
        if pending < per && sent + pending < ask.tokens {
            continue;
        }
        if sent == 0 && chat {
            let (choice, end) = d.role_choice();
            let u = if ask.continuous_usage {
                usage(0)
            } else {
                String::new()
            };
            let role = format!(
                "data: {head}\"choices\":[{choice}]{}{u}}}{end}",
                d.role_tail()
            );
            conn.chunk(role.as_bytes()).await?;
        }
        let words: String = (sent..sent + pending)
            .map(|i| WORDS[i as usize % WORDS.len()])
            .collect();
        sent += pending;
        let finish = (on_last && sent >= ask.tokens).then_some("length");
        let hold = st
            .args
            .held_back_every
            .is_some_and(|k| sent.is_multiple_of(k) && finish.is_none());
        let text = match hold {
            true => {
                held.push_str(&words);
                String::new()
            }
            false if held.is_empty() => words,
            false => std::mem::take(&mut held) + &words,
        };
        if fault == Some(Fault::Blank) {
            // Held back like llama.cpp does: no chunk at all until the stream ends.
            rec.fault = Some(Fault::Blank.name().to_owned());
        } else {
            let choice = d.content_choice(chat, &text, finish);
            let ev = format!("data: {head}\"choices\":[{choice}]{}}}\n\n", tail(sent));
            conn.chunk(ev.as_bytes()).await?;
            let at = st.truth.now_ns();
            if let Some(&(prev, _)) = rec.events.last() {
                st.itl.observe(at.saturating_sub(prev));
            }
            rec.events.push((at, pending));
        }
        st.generation_tokens
            .fetch_add(u64::from(pending), Ordering::Relaxed);
        rec.completion_tokens = u64::from(sent);
        pending = 0;
        // Stream faults strike once, halfway (after the only token of a one-token answer), and
        // are recorded only when they did.
        if sent >= half.max(1)
            && let Some(f) = midstream.take()
        {
            rec.fault = Some(f.name().to_owned());
            match f {
                // Drop the connection without the terminating chunk.
                Fault::Cut => return Ok(false),
                Fault::Malformed => {
                    conn.chunk(b"data: {\"choices\":[{\"text\":\"unterminated\n\n")
                        .await?;
                }
                Fault::Stall => {
                    conn.wait_for_close(STALL_LIMIT).await;
                    return Ok(false);
                }
                Fault::Error => {
                    let (event, done) = d.midstream_error("injected fault: error mid-stream");
                    let Some(event) = event else {
                        // TensorRT-LLM re-raises: the body just ends.
                        return Ok(false);
                    };
                    conn.chunk(format!("data: {event}\n\n").as_bytes()).await?;
                    if done {
                        conn.chunk(b"data: [DONE]\n\n").await?;
                    }
                    conn.end_chunks().await?;
                    return Ok(true);
                }
                Fault::Http500 | Fault::Close | Fault::Blank => {}
            }
        }
    }
    if !on_last {
        let fin = d.finish_choice(chat);
        conn.chunk(format!("data: {head}\"choices\":[{fin}]{}}}\n\n", tail(sent)).as_bytes())
            .await?;
    }
    if ask.include_usage {
        conn.chunk(format!("data: {head}\"choices\":[]{}}}\n\n", usage(sent)).as_bytes())
            .await?;
    }
    conn.chunk(b"data: [DONE]\n\n").await?;
    rec.done_ns = Some(st.truth.now_ns());
    conn.end_chunks().await?;
    Ok(true)
}
