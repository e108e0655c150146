//! Benchmark results: one [`PointResult`] per load setting, and the raw [`RequestRecord`]s
//! it was computed from. Definitions follow DESIGN.md section 3.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the [`BenchReport`] JSON shape.
pub const REPORT_VERSION: u32 = 1;

/// What `llmsd bench --json FILE` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// Always [`REPORT_VERSION`].
    pub version: u32,
    /// Base URL of the server measured.
    #[serde(default)]
    pub url: String,
    /// `completions` or `chat`.
    #[serde(default)]
    pub endpoint: String,
    /// Model name sent in requests (empty when the server chose).
    #[serde(default)]
    pub model: String,
    /// The engine as the server names itself in `/v1/models` (`owned_by`), if it does.
    #[serde(default)]
    pub server: Option<String>,
    /// What the requests sent, so the run can be repeated exactly.
    #[serde(default)]
    pub workload: Option<WorkloadReport>,
    /// One entry per load setting, in the order they ran (a search's probes among them).
    pub points: Vec<PointResult>,
    /// The capacity search, when the run was one (`--search`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<crate::search::SearchReport>,
}

/// A replayed trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceReport {
    /// The file, as named.
    pub file: String,
    /// SHA-256 of its text (hex).
    pub sha256: String,
    /// Requests in it, and replayed (the first ones, when `requests` cut it short).
    pub requests: u64,
    /// Requests replayed per point.
    pub replayed: u64,
    /// Tokens of one block of `hash_ids`.
    pub block_tokens: u32,
    /// Distinct blocks among the requests replayed.
    pub blocks: u64,
}

/// What the requests of a run sent: the workload's kind and parameters, the seed, and a
/// digest of the prompts built (before each request's preamble), so two runs can be shown to
/// have sent the same thing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadReport {
    /// `single`, `shared_prefix` or `conversation`.
    pub kind: String,
    /// `conversation`: turns per session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns: Option<u32>,
    /// `conversation`: think time between a turn's answer and the next turn, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_ms: Option<f64>,
    /// `conversation`: the header that carries each session's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_header: Option<String>,
    /// `conversation`: the distribution each session's turns were drawn from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns_dist: Option<String>,
    /// `conversation`: think times drawn exponentially (`think_ms` their mean).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub think_exponential: bool,
    /// `trace`: the trace file as named, its requests replayed and the tokens of a block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceReport>,
    /// Input lengths drawn per prompt (`uniform:MIN,MAX`, ...), where they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_dist: Option<String>,
    /// Output lengths drawn per request, where they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_dist: Option<String>,
    /// `shared_prefix`: groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<u32>,
    /// `shared_prefix`: tokens of each group's prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_tokens: Option<u32>,
    /// `shared_prefix`: the Zipf exponent groups are drawn with (none: uniformly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zipf: Option<f64>,
    /// Synthetic input tokens: the whole prompt (`single`) or each request's own part after
    /// the prefix (`shared_prefix`); none for prompts from a file or the built-in set.
    #[serde(default)]
    pub input_tokens: Option<u32>,
    /// Output tokens asked of every request.
    pub output_tokens: u32,
    /// Seed of prompt order, group draws and arrivals.
    pub seed: u64,
    /// Whether each request was made unique by its preamble (false: verbatim prompts).
    pub unique_prompts: bool,
    /// Distinct prompts built.
    pub prompts: u64,
    /// SHA-256 of the prompts built, in order (hex).
    pub prompts_sha256: String,
}

/// How arrivals are spaced in open-loop (`rate`) mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Exponential gaps (a Poisson process).
    Poisson,
    /// Equal gaps of `1 / rate`.
    Constant,
    /// Gamma-distributed gaps with shape `burstiness` (1.0 is Poisson).
    Gamma,
}

impl Arrival {
    /// The lowercase name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Arrival::Poisson => "poisson",
            Arrival::Constant => "constant",
            Arrival::Gamma => "gamma",
        }
    }
}

/// One load setting. Serialized as `{"concurrency": 16}`, `{"batch": 4}`,
/// `{"rate": 8.0, "arrival": "poisson"}` or `{"speed": 2.0}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Load {
    /// Closed loop: this many requests in flight; a new one starts as soon as one ends.
    Concurrency {
        /// Requests in flight.
        concurrency: u32,
    },
    /// Static batches: send this many at once, wait for all of them, repeat.
    Batch {
        /// Requests per batch.
        batch: u32,
    },
    /// Open loop: requests arrive on a seeded schedule, whatever the server's speed.
    Rate {
        /// Mean arrivals per second.
        rate: f64,
        /// Spacing of arrivals.
        arrival: Arrival,
        /// Gamma shape (only for `gamma`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        burstiness: Option<f64>,
    },
    /// Trace replay: requests arrive at the trace's times, divided by this speed factor.
    Trace {
        /// Speed factor (2: twice as fast as recorded).
        speed: f64,
    },
}

impl std::fmt::Display for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Load::Concurrency { concurrency } => write!(f, "concurrency {concurrency}"),
            Load::Batch { batch } => write!(f, "batch {batch}"),
            Load::Rate {
                rate,
                arrival,
                burstiness: Some(b),
            } => {
                write!(f, "rate {rate}/s {} {b}", arrival.as_str())
            }
            Load::Rate { rate, arrival, .. } => write!(f, "rate {rate}/s {}", arrival.as_str()),
            Load::Trace { speed } => write!(f, "trace at {speed}x"),
        }
    }
}

/// Latency statistics of one metric over a point, in milliseconds (microsecond resolution).
/// `mean` and `max` are exact; percentiles come from an HDR histogram with 3 significant
/// figures. All zero when `count` is zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    /// Number of samples.
    #[serde(default)]
    pub count: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
}

/// Service-level objectives for goodput, in milliseconds. A request is good when it meets
/// every objective given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    /// Time to first token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft: Option<f64>,
    /// Time per output token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot: Option<f64>,
    /// End-to-end latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e: Option<f64>,
}

/// A point's steady window: the requests that ran while the load was at its level, with the
/// ramp at the start and the drain at the end left out. The same figures as the whole point.
///
/// The window opens when the requests in flight first reach the target (closed loop: the
/// `concurrency`-th request's start) or, open loop, one median end-to-end latency after the
/// first request was sent (by then the requests in flight have had the time to build up);
/// it closes when the last request is sent. Latencies are of the requests that started after
/// it opened and finished before it closed; throughput counts the tokens streamed and the
/// requests finished inside it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Steady {
    /// How the window was chosen: `in_flight_target` or `one_latency`.
    pub rule: String,
    /// Window start and end, seconds from the point's first request.
    pub start_s: f64,
    /// See `start_s`.
    pub end_s: f64,
    /// `end_s - start_s`.
    pub duration_s: f64,
    /// Requests that started and finished inside the window, completed.
    pub completed: u64,
    /// Of those, failed.
    pub failed: u64,
    /// Output tokens streamed inside the window (by chunk times, any request).
    pub output_tokens: u64,
    /// `output_tokens / duration_s`.
    pub output_throughput: f64,
    /// Requests completed inside the window per second.
    pub request_throughput: f64,
    /// Of the requests inside the window.
    pub ttft_ms: LatencyStats,
    /// See `ttft_ms`.
    pub itl_ms: LatencyStats,
    /// See `ttft_ms`.
    pub tpot_ms: LatencyStats,
    /// See `ttft_ms`.
    pub e2e_ms: LatencyStats,
    /// Why the window holds no request, when it holds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The load a point actually put on the server, against the load it was set to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Achieved {
    /// Requests in flight, time-weighted mean over the whole point.
    pub concurrency_mean: f64,
    /// Time-weighted median and 90th percentile, and the most at once.
    pub concurrency_p50: f64,
    /// See `concurrency_p50`.
    pub concurrency_p90: f64,
    /// See `concurrency_p50`.
    pub concurrency_max: u64,
    /// Time-weighted mean over the steady window, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_steady: Option<f64>,
    /// Requests sent per second, first send to last.
    pub rate: f64,
    /// Open loop: requests due per second by the seeded schedule over the same requests
    /// (what `rate` is judged against: a short schedule's own draw differs from the target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_scheduled: Option<f64>,
    /// What the point was set to: its concurrency, or its rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    /// The achieved figure judged (`concurrency_steady`, or `rate` against `rate_scheduled`)
    /// as a share of what was asked; 1 is the load asked for. Off by more than 0.05 either
    /// way: flag `load_not_achieved`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
}

/// How hard the client itself worked during a point (to tell a slow server from a slow client).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientStats {
    /// CPU seconds (user + system) the client process spent during the point.
    pub cpu_s: f64,
    /// Worker threads of the client's runtime.
    pub threads: u32,
    /// 99th percentile of the client runtime's scheduling lag, measured by a probe thread.
    pub lag_p99_ms: f64,
    /// Largest scheduling lag seen.
    pub lag_max_ms: f64,
}

/// The server's own token counters over the point (from its Prometheus `/metrics`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerCheck {
    /// Name of the generation-token counter read.
    pub metric: String,
    /// Counter delta over the measured requests of the point.
    pub output_tokens: f64,
    /// Delta of the prompt-token counter, where the server has one.
    #[serde(default)]
    pub input_tokens: Option<f64>,
    /// Whether `output_tokens` equals the client's sum of `usage.completion_tokens` over the
    /// point's requests. `None` when that cannot be judged: a failed request had streamed part
    /// of its answer (the engine counted tokens the client has no usage for), or a completed
    /// one carried no usage.
    pub agrees: Option<bool>,
    /// The client's count `agrees` compared with: `usage.completion_tokens` summed over the
    /// point's requests, failed ones included (an engine counts what it generated for a
    /// request that then failed). `None` where `agrees` is.
    #[serde(default)]
    pub client_output_tokens: Option<u64>,
    /// Delta of the engine's cached-prompt-token counter (prefix-cache hits), where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<f64>,
    /// Delta of the prompt tokens that counter is out of (cached and computed together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_queried_tokens: Option<f64>,
    /// The engine's own inter-token latency histogram over the point, beside llmsd's gaps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl: Option<ItlCheck>,
}

/// The engine's inter-token latency histogram (vLLM's and SGLang's
/// `*:inter_token_latency_seconds`) over a point, against the gaps llmsd measured. The engine
/// observes one gap per engine step of a request, so when llmsd counts every step's chunk the
/// two counts are equal; the distributions differ only by the network and the API server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItlCheck {
    /// The histogram read.
    pub metric: String,
    /// Gaps the engine observed over the point (its `_count` delta).
    pub engine_gaps: u64,
    /// Gaps llmsd measured over the same requests, failed ones included.
    pub client_gaps: u64,
    /// The engine's median and 99th percentile, interpolated within its buckets, ms.
    pub engine_p50_ms: f64,
    /// See `engine_p50_ms`.
    pub engine_p99_ms: f64,
    /// Largest difference between the two cumulative distributions at the engine's bucket
    /// bounds (0 to 1).
    pub max_cdf_diff: f64,
}

/// Prefix-cache hits of a point: how many prompt tokens the engine did not have to compute
/// because it had them cached. Requests are made unique at their start unless the run asked
/// for verbatim prompts, so hits beyond the chat template's own head mean the figures are
/// biased (flag `prefix_cache_hits`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrefixCacheHits {
    /// Where the figures come from: `usage` (every request's
    /// `usage.prompt_tokens_details.cached_tokens`) or the engine counter's name.
    pub source: String,
    /// Cached prompt tokens.
    pub cached_tokens: u64,
    /// Prompt tokens they are out of.
    pub prompt_tokens: u64,
    /// `cached_tokens / prompt_tokens`.
    pub hit_rate: f64,
    /// Tokens the chat template adds to every request, which all requests share and no
    /// client can make unique: hits up to this many per request are expected.
    #[serde(default)]
    pub template_tokens: Option<u64>,
    /// Tokens the workload shares by design in every request beyond the template (a shared
    /// prefix's): hits up to this many more per request are expected too.
    #[serde(default)]
    pub shared_tokens: Option<u64>,
    /// Hits beyond that allowance, as a share of the prompt tokens (what the flag judges:
    /// over 0.05 is flagged).
    pub excess_hit_rate: f64,
    /// Whether each request's prompt was made unique at its start (false: sent verbatim).
    pub unique_prompts: bool,
}

/// Results of one load setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    /// The load setting.
    pub load: Load,
    /// Requests that finished with at least one token and `[DONE]`.
    pub completed: u64,
    /// Requests that failed (see `errors`).
    pub failed: u64,
    /// Failures by reason (`http_500`, `stream_cut`, `timeout`, ...).
    pub errors: BTreeMap<String, u64>,
    /// `failed / (completed + failed)`.
    #[serde(default)]
    pub error_rate: f64,
    /// Requests re-sent on a fresh connection because the first attempt failed before any
    /// response byte arrived (a server closing a kept-alive connection).
    #[serde(default)]
    pub retries: u64,
    /// First request's start to last request's end, in seconds.
    pub duration_s: f64,
    /// Sum of input tokens of completed requests.
    pub input_tokens: u64,
    /// Sum of output tokens of completed requests.
    pub output_tokens: u64,
    /// `output_tokens / duration_s`.
    pub output_throughput: f64,
    /// `(input_tokens + output_tokens) / duration_s`.
    pub total_throughput: f64,
    /// `completed / duration_s`.
    pub request_throughput: f64,
    /// Requests per second that met every SLO given (all completed ones when none was given).
    pub goodput: f64,
    /// The SLOs goodput was computed against.
    #[serde(default)]
    pub slo: Slo,
    /// Time to first token.
    pub ttft_ms: LatencyStats,
    /// Gaps between consecutive token-carrying events, over all requests.
    pub itl_ms: LatencyStats,
    /// `(e2e - ttft) / (output_tokens - 1)` per request with more than one output token.
    pub tpot_ms: LatencyStats,
    /// Start to end of stream.
    pub e2e_ms: LatencyStats,
    /// Time a request waited in the client between being due and being written.
    pub queue_ms: LatencyStats,
    /// Batch mode only: time from a batch's first start to its last end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_ms: Option<LatencyStats>,
    /// Output tokens asked for per request (`max_tokens`), if fixed.
    #[serde(default)]
    pub output_tokens_requested: Option<u32>,
    /// Exact input length asked for per request, if synthetic prompts were used.
    #[serde(default)]
    pub input_tokens_target: Option<u32>,
    /// Completed requests whose `usage.prompt_tokens` differed from `input_tokens_target`.
    #[serde(default)]
    pub input_token_mismatches: u64,
    /// Completed requests whose `usage.completion_tokens` differed from
    /// `output_tokens_requested`.
    #[serde(default)]
    pub output_token_mismatches: u64,
    /// Validity flags: `tokens_estimated`, `input_tokens_unknown`, `client_bound`,
    /// `output_tokens_mismatch`, `input_tokens_mismatch`, `error_rate_exceeded`,
    /// `server_count_mismatch`, `engine_restarted`, `prefix_cache_hits`, `point_cut`,
    /// `load_not_achieved`.
    pub flags: Vec<String>,
    /// Client-side load.
    #[serde(default)]
    pub client: ClientStats,
    /// Cross-check against the server's own counters, where it has them.
    #[serde(default)]
    pub server: Option<ServerCheck>,
    /// Prefix-cache hits over the point, where the engine reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_cache: Option<PrefixCacheHits>,
    /// Why the point was cut short, when it was: requests still running after the last one
    /// was sent that their timeout ended (counted as failed, `timeout`; flag `point_cut`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut: Option<String>,
    /// Prompt tokens the engine served from its prefix cache over the point (the same as
    /// `prefix_cache.cached_tokens`), where it reported them; per request in `requests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// Conversations: TTFT of the completed requests of each turn ("1" the first), where the
    /// history resent grows turn by turn and the engine may serve it from its cache.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ttft_by_turn_ms: BTreeMap<String, LatencyStats>,
    /// TTFT of the completed requests by the prompt tokens the engine had to compute (not
    /// served from its prefix cache), in power-of-two buckets keyed by their upper bound
    /// ("128": 65 to 128 tokens); where the engine reports cached tokens.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ttft_by_uncached_ms: BTreeMap<String, LatencyStats>,
    /// The steady window's figures (none for batch mode).
    #[serde(default)]
    pub steady: Option<Steady>,
    /// The load actually achieved.
    #[serde(default)]
    pub achieved: Option<Achieved>,
    /// Raw per-request records (only with `--raw`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RequestRecord>,
}

impl PointResult {
    /// Whether the point carries `flag` (`prefix_cache_hits`, `client_bound`, ...).
    pub fn flagged(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// A point at `load` with nothing measured: no requests, every count, rate and latency
    /// zero, no flags. The base that fixtures set their figures on.
    pub fn empty(load: Load) -> PointResult {
        PointResult {
            load,
            completed: 0,
            failed: 0,
            errors: BTreeMap::new(),
            error_rate: 0.0,
            retries: 0,
            duration_s: 0.0,
            input_tokens: 0,
            output_tokens: 0,
            output_throughput: 0.0,
            total_throughput: 0.0,
            request_throughput: 0.0,
            goodput: 0.0,
            slo: Slo::default(),
            ttft_ms: LatencyStats::default(),
            itl_ms: LatencyStats::default(),
            tpot_ms: LatencyStats::default(),
            e2e_ms: LatencyStats::default(),
            queue_ms: LatencyStats::default(),
            batch_ms: None,
            output_tokens_requested: None,
            input_tokens_target: None,
            input_token_mismatches: 0,
            output_token_mismatches: 0,
            flags: Vec::new(),
            client: ClientStats::default(),
            server: None,
            prefix_cache: None,
            cut: None,
            cached_tokens: None,
            ttft_by_turn_ms: BTreeMap::new(),
            ttft_by_uncached_ms: BTreeMap::new(),
            steady: None,
            achieved: None,
            requests: Vec::new(),
        }
    }
}

/// Token counts the server reported in `usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// `usage.prompt_tokens`.
    pub prompt_tokens: Option<u64>,
    /// `usage.completion_tokens`.
    pub completion_tokens: Option<u64>,
    /// `usage.prompt_tokens_details.cached_tokens`: prompt tokens the engine had cached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestError {
    /// Stable reason key (`connect`, `http_404`, `not_sse`, `timeout`, `stream_cut`,
    /// `stream_error`, `malformed_chunk`, `malformed_sse`, `no_tokens`, `transport`).
    pub kind: String,
    /// Human-readable detail.
    pub message: String,
}

/// One token-carrying event: `(offset from the request's start in ns, tokens in it)`.
pub type Chunk = (u64, u32);

/// Everything measured about one request; any metric can be recomputed from these.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The `x-request-id` header sent.
    pub id: String,
    /// When the request was due, in ns from the point's start.
    pub due_ns: u64,
    /// When it was written (after it got its concurrency slot), in ns from the point's start.
    pub start_ns: u64,
    /// End of stream (or of the failed attempt), in ns from the request's start.
    pub end_ns: u64,
    /// Token-carrying events, offsets from the request's start.
    pub chunks: Vec<Chunk>,
    /// What the server said in `usage` (last seen).
    pub usage: Usage,
    /// Input tokens counted by the client (tokenizer or synthetic target), when known.
    #[serde(default)]
    pub client_input_tokens: Option<u64>,
    /// Fresh-connection retries this request needed.
    #[serde(default)]
    pub retries: u32,
    /// Set when the request failed.
    #[serde(default)]
    pub error: Option<RequestError>,
    /// Shared-prefix workload: the group whose prefix the request carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<u32>,
    /// Conversation workload: the request's turn in its session (1 the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<u32>,
    /// The output tokens asked of this request, where they differ from request to request
    /// (drawn lengths, a trace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// The answer's text, where the request asked for it (a conversation resends it as the
    /// assistant's turn). Never stored or written.
    #[serde(skip)]
    pub answer: Option<String>,
}

impl RequestRecord {
    /// Time to first token, in ns, if any token arrived.
    pub fn ttft_ns(&self) -> Option<u64> {
        self.chunks.first().map(|c| c.0)
    }

    /// The gaps between consecutive token-carrying events, in ns (the samples of ITL).
    pub fn gaps_ns(&self) -> impl Iterator<Item = u64> + '_ {
        self.chunks
            .windows(2)
            .map(|w| w[1].0.saturating_sub(w[0].0))
    }

    /// Time per output token after the first, in ns: `(e2e - ttft) / (output tokens - 1)`;
    /// `None` for a request of fewer than two output tokens.
    pub fn tpot_ns(&self) -> Option<u64> {
        let out = self.output_tokens();
        let first = self.ttft_ns().unwrap_or(self.end_ns);
        (out > 1).then(|| self.end_ns.saturating_sub(first) / (out - 1))
    }

    /// Output tokens: the server's count when it gave one, else the sum over events.
    pub fn output_tokens(&self) -> u64 {
        self.usage
            .completion_tokens
            .unwrap_or_else(|| self.chunks.iter().map(|c| u64::from(c.1)).sum())
    }

    /// Whether the output token count is the server's own.
    pub fn tokens_from_server(&self) -> bool {
        self.usage.completion_tokens.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_serializes_to_the_contract_shapes() {
        let c = serde_json::to_string(&Load::Concurrency { concurrency: 16 }).unwrap();
        assert_eq!(c, r#"{"concurrency":16}"#);
        let b = serde_json::to_string(&Load::Batch { batch: 4 }).unwrap();
        assert_eq!(b, r#"{"batch":4}"#);
        let r = Load::Rate {
            rate: 8.0,
            arrival: Arrival::Poisson,
            burstiness: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"rate":8.0,"arrival":"poisson"}"#
        );
        for l in [
            Load::Concurrency { concurrency: 3 },
            Load::Batch { batch: 2 },
            r,
        ] {
            let back: Load = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
            assert_eq!(back, l);
        }
    }

    #[test]
    fn record_output_tokens_prefers_usage() {
        let mut r = RequestRecord {
            chunks: vec![(1, 1), (2, 3)],
            ..Default::default()
        };
        assert_eq!(r.output_tokens(), 4);
        assert!(!r.tokens_from_server());
        r.usage.completion_tokens = Some(5);
        assert_eq!(r.output_tokens(), 5);
        assert_eq!(r.ttft_ns(), Some(1));
    }
}
