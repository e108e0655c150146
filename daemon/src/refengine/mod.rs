//! The reference engine: an OpenAI-compatible streaming server whose timing is known exactly.
//!
//! It serves `/v1/completions`, `/v1/chat/completions` (streaming or not), `/v1/models`,
//! `/health`, `/metrics` (Prometheus), `/tokenize` + `/detokenize` (one token per byte) and
//! `/ground_truth` (what it really did: see [`truth`]). Token timing comes from [`engine`]:
//! fixed latencies or a continuous-batching performance model. Faults are injected every Nth
//! request or per request through the `x-llms-fault` header: `http500`, `cut` (stream closed
//! without `[DONE]`), `malformed` (a chunk that is not JSON), `stall` (stream stops), `close`
//! (connection closed after a response that announced keep-alive, as llama.cpp does).
//! Process faults for the engine supervisor's tests: `--exit-after N` (exit 3 mid-request),
//! `--never-ready` (`/health` 503 forever), `--ignore-sigterm` (with a child that ignores it too).

mod api;
pub use api::answer_text;
pub mod cache;
mod children;
pub mod dialect;
pub mod engine;
mod faults;
mod http;
mod prom;
pub mod truth;

use dialect::{ChildKind, Dialect, Imitate, Loading, OnTerm};
use engine::{Clock, Perf};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use truth::Truth;

/// `llmsd reference-engine` options.
#[derive(Debug, Clone, clap::Args)]
pub struct RefArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 picks a free one; the address is printed on stdout).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Model name served (requests naming another model get 404).
    #[arg(long, default_value = "truth")]
    pub model: String,
    /// Fixed mode: arrival to first token, ms [default 20].
    #[arg(long)]
    pub ttft_ms: Option<f64>,
    /// Fixed mode: between tokens, ms [default 5].
    #[arg(long)]
    pub itl_ms: Option<f64>,
    /// Performance model: prefill cost per prompt token, ms [default 0.02].
    #[arg(long)]
    pub prefill_ms_per_token: Option<f64>,
    /// Performance model: fixed cost of a decode step, ms [default 8].
    #[arg(long)]
    pub decode_ms: Option<f64>,
    /// Performance model: decode step cost per running request, ms [default 0.25].
    #[arg(long)]
    pub decode_ms_per_seq: Option<f64>,
    /// Performance model: most requests decoded together [default 64].
    #[arg(long)]
    pub max_running: Option<usize>,
    /// Performance model: for this long after the engine turns busy after 50 ms idle or more
    /// (a point's start), every step costs --ramp-factor times as much: a ramp for the
    /// steady window to remove.
    #[arg(long, default_value_t = 0.0)]
    pub ramp_ms: f64,
    /// Performance model: how much slower steps are during --ramp-ms.
    #[arg(long, default_value_t = 4.0)]
    pub ramp_factor: f64,
    /// KV-cache capacity in tokens (for the usage gauge).
    #[arg(long, default_value_t = 262_144)]
    pub kv_tokens: u64,
    /// Tokens per streamed chunk (vLLM merges several when it falls behind).
    #[arg(long, default_value_t = 1)]
    pub tokens_per_chunk: u32,
    /// Put `usage` on every chunk whatever the request asks (TensorRT-LLM's default).
    #[arg(long)]
    pub always_usage: bool,
    /// The "model" emits EOS after this many tokens unless the request sets `ignore_eos`.
    #[arg(long)]
    pub eos_after: Option<u32>,
    /// Act like an engine that honours neither `ignore_eos` nor `min_tokens` (needs --eos-after).
    #[arg(long)]
    pub no_ignore_eos: bool,
    /// Answer 503 "Loading model" for this long after start.
    #[arg(long, default_value_t = 0)]
    pub startup_ms: u64,
    /// Every Nth generation request fails with HTTP 500.
    #[arg(long)]
    pub fault_500_every: Option<u64>,
    /// Every Nth stream is cut halfway without `[DONE]`.
    #[arg(long)]
    pub fault_cut_every: Option<u64>,
    /// Every Nth stream gets a malformed JSON chunk halfway.
    #[arg(long)]
    pub fault_malformed_every: Option<u64>,
    /// Every Nth stream stalls halfway (until the client gives up).
    #[arg(long)]
    pub fault_stall_every: Option<u64>,
    /// Write each whole stream at once, tokens ready immediately (for client throughput
    /// benchmarks: chunk times in the ground truth then mean nothing).
    #[arg(long)]
    pub burst: bool,
    /// Close every connection after its response although keep-alive was announced.
    #[arg(long)]
    pub close_after_response: bool,
    /// Write the ground truth (JSON) here on shutdown.
    #[arg(long)]
    pub ground_truth: Option<PathBuf>,
    /// Worker threads of the engine's runtime.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
    /// Fault: exit abruptly with status 3 right after starting to answer the Nth generation
    /// request (a crash mid-point).
    #[arg(long)]
    pub exit_after: Option<u64>,
    /// Fault: `/health` answers 503 forever (an engine that never gets ready).
    #[arg(long)]
    pub never_ready: bool,
    /// Fault: ignore SIGTERM and SIGINT, and start one child process in the same process group
    /// that ignores them too (only SIGKILL to the whole group ends both).
    #[arg(long)]
    pub ignore_sigterm: bool,
    /// The child of `--ignore-sigterm`: ignores SIGTERM and SIGINT, starts no child.
    #[arg(long, hide = true)]
    pub ignore_sigterm_child: bool,
    /// Fault: print this line to stderr once listening (an engine logging, say, CUDA out of
    /// memory while it keeps running).
    #[arg(long)]
    pub log_line: Option<String>,
    /// Every Nth stream fails halfway with the engine's own mid-stream error (vLLM and SGLang:
    /// an error event, then `[DONE]`; llama.cpp: an error event, no `[DONE]`; TensorRT-LLM:
    /// the body just ends).
    #[arg(long)]
    pub fault_error_every: Option<u64>,
    /// Every Nth stream sends no token chunk, only its end with usage counting the tokens, as
    /// llama.cpp does while its detokenizer holds back a partial UTF-8 sequence. Streaming
    /// requests only.
    #[arg(long)]
    pub fault_blank_every: Option<u64>,
    /// Imitate this engine: its chunk shapes, metrics names and route, version route, start-up
    /// (connections refused while loading), SIGTERM behaviour and child processes.
    #[arg(long, value_enum)]
    pub imitate: Option<Imitate>,
    /// After it starts listening, `/health` answers 503 this long while other routes work
    /// (SGLang's warm-up; the sglang imitation sets it).
    #[arg(long, default_value_t = 0)]
    pub warmup_ms: u64,
    /// No engine metrics: `/metrics` is not mounted (SGLang without `--enable-metrics`,
    /// trtllm-serve without `return_perf_metrics`), or has no `vllm:*` series (vLLM with
    /// `--disable-log-stats`).
    #[arg(long)]
    pub metrics_off: bool,
    /// The imitated vLLM's `--enable-prompt-tokens-details` or SGLang's
    /// `--enable-cache-report`: their usage reports the cached prompt tokens, and (as they
    /// do) only when there are some.
    #[arg(long)]
    pub cache_report: bool,
    /// No prefix cache: every prompt token is computed every time.
    #[arg(long)]
    pub no_prefix_cache: bool,
    /// Tokens per prefix-cache block (vLLM's default block size is 16).
    #[arg(long, default_value_t = 16)]
    pub prefix_cache_block: usize,
    /// Every Nth token of a stream is sent as a chunk with empty text and its text goes out
    /// with the next token, as vLLM does while its detokenizer holds back part of a UTF-8
    /// character. Streaming requests only.
    #[arg(long)]
    pub held_back_every: Option<u32>,
    /// Run as one of the helper processes of an imitated engine (internal).
    #[arg(long, hide = true, value_enum)]
    pub imitation_child: Option<ChildKind>,
}

impl Default for RefArgs {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 0,
            model: "truth".into(),
            ttft_ms: None,
            itl_ms: None,
            prefill_ms_per_token: None,
            decode_ms: None,
            decode_ms_per_seq: None,
            max_running: None,
            ramp_ms: 0.0,
            ramp_factor: 4.0,
            kv_tokens: 262_144,
            tokens_per_chunk: 1,
            always_usage: false,
            eos_after: None,
            no_ignore_eos: false,
            startup_ms: 0,
            fault_500_every: None,
            fault_cut_every: None,
            fault_malformed_every: None,
            fault_stall_every: None,
            burst: false,
            close_after_response: false,
            ground_truth: None,
            threads: 2,
            exit_after: None,
            never_ready: false,
            ignore_sigterm: false,
            ignore_sigterm_child: false,
            log_line: None,
            fault_error_every: None,
            fault_blank_every: None,
            imitate: None,
            warmup_ms: 0,
            metrics_off: false,
            cache_report: false,
            no_prefix_cache: false,
            prefix_cache_block: 16,
            held_back_every: None,
            imitation_child: None,
        }
    }
}

impl RefArgs {
    /// The timing model these options select.
    pub fn perf(&self) -> Result<Perf, String> {
        let model = self.prefill_ms_per_token.is_some()
            || self.decode_ms.is_some()
            || self.decode_ms_per_seq.is_some()
            || self.max_running.is_some()
            || self.ramp_ms > 0.0;
        let fixed = self.ttft_ms.is_some() || self.itl_ms.is_some();
        // Up to an hour: beyond that the figures overflow and no test needs it.
        let ms = |name: &str, v: f64| {
            if v.is_finite() && (0.0..=3_600_000.0).contains(&v) {
                Ok(v)
            } else {
                Err(format!(
                    "--{name} must be between 0 and 3600000 ms, got {v}"
                ))
            }
        };
        match (fixed, model) {
            (true, true) => Err(
                "use either --ttft-ms/--itl-ms or the performance model options, not both".into(),
            ),
            (_, false) => Ok(Perf::Fixed {
                ttft: Duration::from_secs_f64(ms("ttft-ms", self.ttft_ms.unwrap_or(20.0))? / 1e3),
                itl: Duration::from_secs_f64(ms("itl-ms", self.itl_ms.unwrap_or(5.0))? / 1e3),
            }),
            (false, true) => Ok(Perf::Batched {
                prefill_ms_per_token: ms(
                    "prefill-ms-per-token",
                    self.prefill_ms_per_token.unwrap_or(0.02),
                )?,
                decode_ms: ms("decode-ms", self.decode_ms.unwrap_or(8.0))?,
                per_seq_ms: ms("decode-ms-per-seq", self.decode_ms_per_seq.unwrap_or(0.25))?,
                max_running: match self.max_running.unwrap_or(64) {
                    0 => return Err("--max-running must be at least 1".into()),
                    n => n,
                },
                ramp: match (ms("ramp-ms", self.ramp_ms)?, self.ramp_factor) {
                    (0.0, _) => None,
                    (r, f) if f.is_finite() && (0.01..=100.0).contains(&f) => {
                        Some((Duration::from_secs_f64(r / 1e3), f))
                    }
                    (_, f) => {
                        return Err(format!(
                            "--ramp-factor must be between 0.01 and 100, got {f}"
                        ));
                    }
                },
            }),
        }
    }
}

/// Shared state of a running reference engine.
pub struct State {
    args: RefArgs,
    clock: Clock,
    truth: Arc<Truth>,
    started: Instant,
    /// Generation requests seen (1-based numbering for every-Nth faults).
    requests: AtomicU64,
    prompt_tokens: AtomicU64,
    /// Prompt tokens served from the prefix cache.
    cached_tokens: AtomicU64,
    generation_tokens: AtomicU64,
    /// The prefix cache (none with `--no-prefix-cache`).
    cache: Option<std::sync::Mutex<cache::PrefixCache>>,
    /// Gaps between a request's consecutive chunks, as the engine wrote them.
    itl: prom::Histogram,
    /// Generation requests being answered.
    in_flight: AtomicU64,
    /// SIGTERM came and the engine drains: `/health` and new requests get 503.
    draining: AtomicBool,
    dialect: Dialect,
}

/// A reference engine serving in the background of the current runtime.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its ground truth.
    pub truth: Arc<Truth>,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Start a reference engine on the current runtime (tests and benchmarks); it stops when the
/// returned value is dropped.
pub async fn spawn(args: RefArgs) -> Result<Running, String> {
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let state = new_state(args)?;
    let truth = state.truth.clone();
    let task = tokio::spawn(accept(listener, state.clone()));
    Ok(Running {
        addr,
        truth,
        state,
        task,
    })
}

fn new_state(args: RefArgs) -> Result<Arc<State>, String> {
    let perf = args.perf()?;
    if args.tokens_per_chunk == 0 {
        return Err("--tokens-per-chunk must be at least 1".into());
    }
    if args.no_ignore_eos && args.eos_after.is_none() {
        return Err("--no-ignore-eos needs --eos-after".into());
    }
    if args.prefix_cache_block == 0 {
        return Err("--prefix-cache-block must be at least 1".into());
    }
    if args.held_back_every == Some(0) {
        return Err("--held-back-every must be at least 1".into());
    }
    let cache = (!args.no_prefix_cache).then(|| {
        let tokens = usize::try_from(args.kv_tokens).unwrap_or(usize::MAX);
        std::sync::Mutex::new(cache::PrefixCache::new(args.prefix_cache_block, tokens))
    });
    let clock = Clock::spawn(perf).map_err(|e| format!("cannot start the engine clock: {e}"))?;
    Ok(Arc::new(State {
        clock,
        truth: Arc::new(Truth::default()),
        started: Instant::now(),
        requests: AtomicU64::new(0),
        prompt_tokens: AtomicU64::new(0),
        cached_tokens: AtomicU64::new(0),
        generation_tokens: AtomicU64::new(0),
        cache,
        itl: prom::Histogram::new(prom::itl_bounds(args.imitate)),
        in_flight: AtomicU64::new(0),
        draining: AtomicBool::new(false),
        dialect: Dialect(args.imitate),
        args,
    }))
}

async fn accept(listener: TcpListener, state: Arc<State>) {
    loop {
        match listener.accept().await {
            Ok((sock, _)) => {
                tokio::spawn(api::connection(http::Conn::new(sock), state.clone()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// `llmsd reference-engine`: serve until `shutdown` resolves, then write the ground truth file.
pub async fn run(mut args: RefArgs, shutdown: impl Future<Output = ()>) -> Result<(), String> {
    if let Some(kind) = args.imitation_child {
        return children::run(kind).await;
    }
    let out = args.ground_truth.clone();
    let ignore = args.ignore_sigterm || args.ignore_sigterm_child;
    // Handlers first, so no SIGTERM slips in before they are in place.
    let deaf = match ignore {
        true => Some(faults::Deaf::install(args.ignore_sigterm)?),
        false => None,
    };
    let dialect = Dialect(args.imitate);
    let kids = match dialect.children() {
        Some((kind, n)) => children::spawn(kind, n)?,
        None => children::Helpers::default(),
    };
    let mut shutdown = std::pin::pin!(shutdown);
    if dialect.loading() == Loading::Refused && args.startup_ms > 0 {
        // vLLM, SGLang and trtllm-serve only listen once the model is loaded.
        let load = tokio::time::sleep(Duration::from_millis(args.startup_ms));
        tokio::select! {
            () = load => {}
            () = &mut shutdown => return Ok(()),
        }
        args.startup_ms = 0;
    }
    let log_line = args.log_line.clone();
    let running = spawn(args).await?;
    for l in dialect.ready_lines(&running.url()) {
        println!("{l}");
    }
    if let Some(line) = log_line {
        eprintln!("{line}");
    }
    match deaf {
        Some(d) => d.forever().await,
        None => shutdown.await,
    }
    if dialect.on_term() == OnTerm::Drain {
        drain(&running.state).await;
    }
    drop(kids);
    let truth = running.truth.clone();
    drop(running);
    if let Some(path) = out {
        std::fs::write(&path, truth.to_json())
            .map_err(|e| format!("cannot write ground truth to '{}': {e}", path.display()))?;
    }
    Ok(())
}

/// Refuse new work and wait, without limit, for the requests in flight (SGLang logs the same
/// line every 5 s).
async fn drain(st: &State) {
    st.draining.store(true, Ordering::SeqCst);
    loop {
        let n = st.in_flight.load(Ordering::SeqCst);
        if n == 0 {
            return;
        }
        eprintln!("Gracefully exiting... Remaining number of requests {n}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl State {
    fn loading(&self) -> bool {
        self.started.elapsed() < Duration::from_millis(self.args.startup_ms)
    }

    /// `/health` is not 200 yet (SGLang's warm-up) or any more (a drain).
    fn unhealthy(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
            || self.started.elapsed() < Duration::from_millis(self.args.warmup_ms)
            || self.args.never_ready
    }

    fn next_request(&self) -> u64 {
        self.requests.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Prompt tokens of `rendered` found in the prefix cache (0 without one); caches its blocks.
    fn cached_prefix(&self, rendered: &[u8]) -> u64 {
        match &self.cache {
            Some(c) => crate::sync::lock(c).admit(rendered),
            None => 0,
        }
    }
}
