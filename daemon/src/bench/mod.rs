//! `llmsd bench`: measure any OpenAI-compatible server, no daemon needed.
//!
//! Steps: find the server (`/v1/models`: reachable? which model? which engine?), build the
//! prompts, send one preflight request (endpoint exists, answers SSE, reports usage; for
//! synthetic prompts it also measures the prompt template's overhead), then for each load
//! setting: warm-up, read the engine's counters, run the point, read them again, aggregate.

pub mod args;
mod table;

use crate::loadgen::client::{Clock, Prepared, StreamClient, describe, http_builder};
use crate::loadgen::live::Live;
use crate::loadgen::request::{
    Endpoint, Prompt, RESERVED_SEQ, RequestOptions, Template, body, preamble, with_preamble,
};
use crate::loadgen::runner::{PointSpec, Workload, run_point, warmup};
use crate::loadgen::stats::{Expectations, aggregate, server_reported_output};
use crate::loadgen::{metrics, prompts, synth};
pub use args::BenchArgs;
use llms_shared::{
    BenchReport, ItlCheck, Load, PointResult, PrefixCacheHits, REPORT_VERSION, RequestRecord,
    ServerCheck,
};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How `llmsd bench` failed; the exit code follows from it.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Bad arguments or input files (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The server cannot be reached or used (exit 2).
    #[error("{0}")]
    Server(String),
    /// A bug or an I/O failure of our own (exit 1).
    #[error("{0}")]
    Internal(String),
}

impl BenchError {
    /// Process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            BenchError::Usage(_) | BenchError::Server(_) => 2,
            BenchError::Internal(_) => 1,
        }
    }
}

/// What `/v1/models` told us.
struct ServerInfo {
    model: Option<String>,
    owned_by: Option<String>,
}

/// Run the whole benchmark; prints the table to stdout and writes `--json` if asked.
pub async fn run(a: BenchArgs) -> Result<BenchReport, BenchError> {
    let json = a.json.clone();
    let raw = a.raw;
    let mut session = Session::open(a).await?;
    let mut report = session.header();
    println!("{}", table::header());
    for i in 0..session.loads().len() {
        let (mut point, records) = session.point(i, None).await?;
        println!("{}", table::row(&point));
        if raw {
            point.requests = records;
        }
        report.points.push(point);
        // Written after every point: a long sweep that dies keeps what it finished.
        if let Some(path) = &json {
            write_json(path, &report)?;
        }
    }
    Ok(report)
}

/// One server, ready to be measured: found, its prompts built, its preflight passed. The
/// daemon's scheduler runs its points one by one; `run` runs them all.
pub struct Session {
    a: BenchArgs,
    loads: Vec<Load>,
    w: Workload,
    http: reqwest::Client,
    base: String,
    header: BenchReport,
    /// Tokens the server adds to every prompt (chat template, BOS), when measured.
    template_tokens: Option<u64>,
}

impl Session {
    /// Check the arguments, find the server, build the prompts and send the preflight.
    pub async fn open(a: BenchArgs) -> Result<Self, BenchError> {
        let loads = a.loads().map_err(BenchError::Usage)?;
        let base = a
            .url
            .trim_end_matches('/')
            .trim_end_matches("/v1")
            .to_owned();
        let url = reqwest::Url::parse(&format!("{base}{}", a.endpoint.path()))
            .map_err(|e| BenchError::Usage(format!("--url '{}' is not a valid URL: {e}", a.url)))?;
        let client = StreamClient::new(url.clone(), Duration::from_secs_f64(a.timeout))
            .map_err(|e| BenchError::Internal(format!("cannot build the HTTP client: {e}")))?;
        let http = http_builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| BenchError::Internal(e.to_string()))?;
        // Local inputs first: a bad file is reported before the server is even asked.
        let source = PromptSource::open(&a)?;
        if let Some(path) = &a.json {
            check_json_path(path)?;
        }
        let info = discover(&http, &base).await?;
        let model = a.model.clone().or(info.model);
        let engine = info
            .owned_by
            .clone()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let takes_min_tokens = ["vllm", "sglang", "tensorrt", "trtllm", "llms-reference"]
            .iter()
            .any(|e| engine.contains(e));
        let opts = RequestOptions {
            model: model.clone(),
            max_tokens: Some(a.output_tokens),
            min_tokens: takes_min_tokens,
        };
        // A fresh salt per run: two runs against one server do not share preambles either.
        let salt = rand::random::<u64>() % 1_000_000_000;
        let pre = Preambles {
            salt,
            unique: !a.verbatim_prompts,
        };
        let built = build_prompts(&a, source, &client, &http, &base, &opts, pre).await?;
        let prepared: Vec<Template> = built
            .prompts
            .iter()
            .zip(&built.targets)
            .map(|(p, t)| Template::new(a.endpoint, p, &opts, pre.unique, *t))
            .collect();
        let header = BenchReport {
            version: REPORT_VERSION,
            url: base.clone(),
            endpoint: a.endpoint.as_str().into(),
            model: model.unwrap_or_default(),
            server: info.owned_by,
            points: Vec::new(),
        };
        let w = Workload {
            client,
            prepared: Arc::new(prepared),
            salt,
            id_prefix: String::new(),
            first_prompt: 0,
        };
        Ok(Self {
            a,
            loads,
            w,
            http,
            base,
            header,
            template_tokens: built.template_tokens,
        })
    }

    /// The load settings, one point each.
    pub fn loads(&self) -> &[Load] {
        &self.loads
    }

    /// The report's header (server, model, endpoint), with no points.
    pub fn header(&self) -> BenchReport {
        self.header.clone()
    }

    /// Start the next point at prompt `n` of the set (a resumed sweep skips the prompts its
    /// finished points used).
    pub fn set_first_prompt(&mut self, n: u64) {
        self.w.first_prompt = n;
    }

    /// Prompts used so far (warm-ups included): where the next point starts.
    pub fn first_prompt(&self) -> u64 {
        self.w.first_prompt
    }

    /// Run point `index` of [`Session::loads`]: warm-up, counters, the measured requests,
    /// counters again, figures. The raw records come back apart from the figures. `live`
    /// follows the measured requests as they go.
    pub async fn point(
        &mut self,
        index: usize,
        live: Option<Arc<Live>>,
    ) -> Result<(PointResult, Vec<RequestRecord>), BenchError> {
        self.warmup(index).await?;
        self.measure(index, live, &|_| {}).await
    }

    /// Send `n` sampled requests together (temperature 0.7, top-p 0.8, top-k 20, 16 tokens)
    /// and wait for them, so an engine's one-time sampling-kernel compiles happen here and
    /// not in a measured point. Not measured; returns how many failed.
    pub async fn sampled_warmup(&self, n: u32) -> u32 {
        let Some(first) = self.w.prepared.first() else {
            return n;
        };
        let sampled = |i: u32| {
            let pre = preamble(self.w.salt, RESERVED_SEQ + 1000 + u64::from(i));
            match serde_json::from_slice::<serde_json::Value>(&first.body(&pre)) {
                Ok(serde_json::Value::Object(mut m)) => {
                    m.insert("temperature".into(), 0.7.into());
                    m.insert("top_p".into(), 0.8.into());
                    m.insert("top_k".into(), 20.into());
                    m.insert("max_tokens".into(), 16.into());
                    m.remove("min_tokens");
                    Some(Prepared {
                        body: serde_json::to_vec(&m).unwrap_or_default().into(),
                        client_input_tokens: None,
                    })
                }
                _ => None,
            }
        };
        let Some(reqs) = (0..n).map(sampled).collect::<Option<Vec<_>>>() else {
            return n;
        };
        let now = Instant::now();
        let sends = reqs.iter().enumerate().map(|(i, req)| {
            self.w.client.send(
                req,
                format!("llms-engine-warmup-{i}"),
                Clock { epoch: now },
                now,
            )
        });
        futures::future::join_all(sends)
            .await
            .iter()
            .filter(|r| r.error.is_some())
            .count() as u32
    }

    /// The warm-up of point `index` (not measured).
    pub async fn warmup(&mut self, index: usize) -> Result<(), BenchError> {
        self.load(index)?;
        self.w.id_prefix = format!("llms-p{index}");
        let failed = warmup(&self.w, self.a.warmup).await;
        if failed > 0 {
            eprintln!(
                "warning: {failed} of {} warm-up requests failed",
                self.a.warmup
            );
        }
        self.w.first_prompt += u64::from(self.a.warmup);
        Ok(())
    }

    /// The measured part of point `index` (after [`Session::warmup`]): counters, requests,
    /// counters again, figures. Moves the prompt cursor past the prompts it used.
    /// `edge(true)` runs right before the first measured request and `edge(false)` right
    /// after the last one ends (the daemon's GPU meter covers exactly that span).
    pub async fn measure(
        &mut self,
        index: usize,
        live: Option<Arc<Live>>,
        edge: &(dyn Fn(bool) + Sync),
    ) -> Result<(PointResult, Vec<RequestRecord>), BenchError> {
        let load = self.load(index)?;
        self.w.id_prefix = format!("llms-p{index}");
        measure(
            &self.a,
            &mut self.w,
            &self.http,
            &self.base,
            load,
            live,
            edge,
            self.template_tokens,
        )
        .await
    }

    fn load(&self, index: usize) -> Result<Load, BenchError> {
        self.loads
            .get(index)
            .cloned()
            .ok_or_else(|| BenchError::Internal(format!("no point {index}")))
    }
}

/// Counters, the measured requests, counters again, figures. Moves the workload's prompt
/// cursor past every prompt it used.
#[allow(clippy::too_many_arguments)]
async fn measure(
    a: &BenchArgs,
    w: &mut Workload,
    http: &reqwest::Client,
    base: &str,
    load: Load,
    live: Option<Arc<Live>>,
    edge: &(dyn Fn(bool) + Sync),
    template_tokens: Option<u64>,
) -> Result<(PointResult, Vec<RequestRecord>), BenchError> {
    // Counter reads are bounded: a server slow to answer /metrics cannot hold the point.
    let before = tokio::time::timeout(COUNTER_BUDGET, settled_counters(http, base))
        .await
        .ok()
        .flatten();
    let (requests, duration) = a.stop();
    let spec = PointSpec {
        load: load.clone(),
        requests,
        duration,
        max_concurrency: a.max_concurrency,
        seed: a.seed,
        drain: Duration::from_secs_f64(a.timeout),
    };
    let measured = Workload {
        client: w.client.clone().with_live(live),
        ..w.clone()
    };
    edge(true);
    let run = run_point(&measured, &spec).await;
    edge(false);
    let run = run.map_err(|e| BenchError::Usage(e.to_string()))?;
    w.first_prompt += run.records.len() as u64;
    let exp = Expectations {
        output_tokens: Some(a.output_tokens),
        input_tokens: a.input_tokens,
        slo: a.slo.unwrap_or_default(),
        max_error_rate: a.max_error_rate,
    };
    let mut point = aggregate(
        load,
        &run.records,
        &exp,
        run.client,
        run.batch_ns.as_deref(),
    );
    if let Some(why) = &run.cut {
        point.cut = Some(why.clone());
        point.flags.push("point_cut".into());
    }
    let checked = tokio::time::timeout(
        COUNTER_BUDGET,
        cross_check(http, base, before, &run.records),
    );
    let (server, cache_metric) = match checked.await.ok().flatten() {
        Some((s, m)) => (Some(s), m),
        None => (None, None),
    };
    point.server = server;
    if let Some(s) = &point.server {
        if s.output_tokens < 0.0 {
            // A counter only goes down when the engine process started over.
            point.flags.push("engine_restarted".into());
        } else if s.agrees == Some(false) {
            point.flags.push("server_count_mismatch".into());
        }
    }
    point.prefix_cache = prefix_cache_hits(
        &run.records,
        point.server.as_ref(),
        cache_metric,
        template_tokens,
        !a.verbatim_prompts,
    );
    if point
        .prefix_cache
        .as_ref()
        .is_some_and(|c| c.excess_hit_rate > MAX_EXCESS_HITS)
    {
        point.flags.push("prefix_cache_hits".into());
    }
    Ok((point, run.records))
}

async fn discover(http: &reqwest::Client, base: &str) -> Result<ServerInfo, BenchError> {
    let url = format!("{base}/v1/models");
    let resp = http
        .get(&url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| {
            BenchError::Server(format!(
                "cannot reach the server at {base}: {}",
                describe(&e)
            ))
        })?;
    let status = resp.status();
    if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
        return Err(BenchError::Server(format!(
            "the server at {base} is not ready yet (GET /v1/models -> 503)"
        )));
    }
    let none = ServerInfo {
        model: None,
        owned_by: None,
    };
    if !status.is_success() {
        return Ok(none);
    }
    let Ok(text) = resp.text().await else {
        return Ok(none);
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(none);
    };
    let first = v.get("data").and_then(|d| d.get(0));
    let field = |k: &str| {
        first
            .and_then(|m| m.get(k))
            .and_then(|x| x.as_str())
            .map(str::to_owned)
    };
    Ok(ServerInfo {
        model: field("id"),
        owned_by: field("owned_by"),
    })
}

/// Where prompts come from, with local files already read.
enum PromptSource {
    /// A prompts file or the default set.
    Fixed(Vec<Prompt>),
    /// Synthetic prompts of `--input-tokens`, tokenized by a local file or the server.
    Synthetic(u32, Option<synth::Codec>),
}

impl PromptSource {
    fn open(a: &BenchArgs) -> Result<Self, BenchError> {
        Ok(match (a.input_tokens, &a.prompts) {
            (Some(n), _) => {
                let codec = match &a.tokenizer {
                    Some(path) => Some(
                        synth::Codec::from_file(path)
                            .map_err(|e| BenchError::Usage(e.to_string()))?,
                    ),
                    None => None,
                };
                PromptSource::Synthetic(n, codec)
            }
            (None, Some(p)) => {
                PromptSource::Fixed(prompts::load(p).map_err(|e| BenchError::Usage(e.to_string()))?)
            }
            (None, None) => PromptSource::Fixed(prompts::default_set()),
        })
    }
}

/// How requests are made unique: the run's preamble salt, and whether to at all.
#[derive(Debug, Clone, Copy)]
struct Preambles {
    salt: u64,
    unique: bool,
}

impl Preambles {
    /// `p` with the preamble of reserved request `k` (preflight and probes), or as it is.
    fn reserved(self, p: &Prompt, k: u64) -> Prompt {
        match self.unique {
            true => with_preamble(p, &preamble(self.salt, RESERVED_SEQ + k)),
            false => p.clone(),
        }
    }
}

/// The prompts of a run.
struct Built {
    prompts: Vec<Prompt>,
    /// Each prompt's input tokens as the client counts them, preamble included (synthetic).
    targets: Vec<Option<u64>>,
    /// Tokens the server adds to every prompt, when measured.
    template_tokens: Option<u64>,
}

/// The prompts of the run and each one's client-side input count (synthetic target).
async fn build_prompts(
    a: &BenchArgs,
    source: PromptSource,
    client: &StreamClient,
    http: &reqwest::Client,
    base: &str,
    opts: &RequestOptions,
    pre: Preambles,
) -> Result<Built, BenchError> {
    let server_codec = || synth::Codec::Server {
        http: http.clone(),
        base: base.to_owned(),
        model: opts.model.clone(),
    };
    let (target, codec) = match source {
        PromptSource::Synthetic(n, codec) => (n, codec),
        PromptSource::Fixed(mut ps) => {
            ps.shuffle(&mut rand::rngs::StdRng::seed_from_u64(a.seed));
            let first = ps
                .first()
                .cloned()
                .ok_or_else(|| BenchError::Usage("no prompts".into()))?;
            preflight(a.endpoint, client, &pre.reserved(&first, 0), opts).await?;
            // The template's size, if the server can count tokens for us (not an error if not).
            let probe = Prompt::Text(PROBE_TEXT.into());
            let template_tokens = overhead(a.endpoint, client, &server_codec(), &probe, opts, pre)
                .await
                .ok()
                .map(|o| o.max(0) as u64);
            let n = ps.len();
            return Ok(Built {
                prompts: ps,
                targets: vec![None; n],
                template_tokens,
            });
        }
    };
    let codec = codec.unwrap_or_else(server_codec);
    let synth_err = |e: synth::SynthError| BenchError::Server(e.to_string());
    let text: String = prompts::default_set()
        .iter()
        .map(Prompt::as_text)
        .collect::<Vec<_>>()
        .join("\n\n");
    let corpus = synth::Corpus::new(&codec, &text).await.map_err(synth_err)?;
    // Measure the template's overhead: a prompt of known length, and what the server counts.
    const PROBE: usize = 16;
    let probe = corpus.prompts(&codec, PROBE, 1).await.map_err(synth_err)?;
    let probe_prompt = Prompt::Text(probe[0].text.clone());
    let overhead = match overhead(a.endpoint, client, &codec, &probe_prompt, opts, pre).await {
        Ok(o) => o,
        Err(Overhead::Bench(e)) => return Err(e),
        Err(Overhead::Unknown(why)) => {
            eprintln!("warning: {why}; input lengths cannot be checked");
            0
        }
    };
    // Each request's preamble takes `k` tokens of its length.
    let k = match pre.unique {
        true => preamble_tokens(&codec, pre.salt).await.map_err(synth_err)?,
        false => 0,
    };
    let content = i64::from(target) - overhead - k as i64;
    if content < 1 {
        return Err(BenchError::Usage(format!(
            "--input-tokens {target} is not more than the {} endpoint's template overhead of {overhead} tokens{}",
            a.endpoint.as_str(),
            match pre.unique {
                true => format!(" plus the {k}-token per-request preamble"),
                false => String::new(),
            }
        )));
    }
    // One prompt per request of the whole run where that is known (so no point replays
    // another's prompts), else a pool that wraps (the preamble keeps them apart).
    let (requests, _) = a.stop();
    let points = a.loads().map_or(1, |l| l.len()) as u64;
    let count = requests
        .map_or(1024, |r| (r + u64::from(a.warmup)).saturating_mul(points))
        .clamp(1, 4096) as usize;
    let ps = corpus
        .prompts(&codec, content as usize, count)
        .await
        .map_err(synth_err)?;
    if pre.unique
        && let Some(p) = ps.first()
    {
        // The preamble and the prompt must not merge into other tokens where they meet.
        let joined = codec
            .encode(&format!("{}{}", preamble(pre.salt, 0), p.text))
            .await
            .map_err(synth_err)?;
        if joined.len() as u64 != k + p.tokens as u64 {
            eprintln!(
                "warning: this tokenizer counts the per-request preamble with the prompt as {} tokens, not {k} + {}: input lengths may be off by a token (checked against usage per request)",
                joined.len(),
                p.tokens
            );
        }
    }
    let targets = ps
        .iter()
        .map(|p| Some((p.tokens as i64 + overhead + k as i64).max(0) as u64))
        .collect();
    Ok(Built {
        prompts: ps.into_iter().map(|p| Prompt::Text(p.text)).collect(),
        targets,
        template_tokens: Some(overhead.max(0) as u64),
    })
}

/// A plain sentence whose token count the server is asked for, to size its template.
const PROBE_TEXT: &str = "The quick brown fox jumps over the lazy dog near the river bank.";

/// Why the template's overhead is not known.
enum Overhead {
    /// The request failed: the run cannot go on.
    Bench(BenchError),
    /// The server gave no count to compare with.
    Unknown(String),
}

/// Tokens the server adds to a prompt (chat template, BOS): send `probe` (with a reserved
/// preamble) and subtract the client's count of its text from the server's
/// `usage.prompt_tokens`.
async fn overhead(
    endpoint: Endpoint,
    client: &StreamClient,
    codec: &synth::Codec,
    probe: &Prompt,
    opts: &RequestOptions,
    pre: Preambles,
) -> Result<i64, Overhead> {
    let p = pre.reserved(probe, 1);
    let counted = codec
        .encode(&p.as_text())
        .await
        .map_err(|e| Overhead::Unknown(e.to_string()))?
        .len() as i64;
    let rec = preflight(endpoint, client, &p, opts)
        .await
        .map_err(Overhead::Bench)?;
    match rec.usage.prompt_tokens {
        Some(n) => Ok(n as i64 - counted),
        None => Err(Overhead::Unknown(
            "the server reports no usage.prompt_tokens".into(),
        )),
    }
}

/// Tokens of one preamble. Digits tokenize alike whatever they are in the usual tokenizers;
/// a tokenizer that does not is warned about (input lengths then vary by a token or so, and
/// `input_tokens_mismatch` shows it).
async fn preamble_tokens(codec: &synth::Codec, salt: u64) -> Result<u64, synth::SynthError> {
    let mut counts = Vec::new();
    for j in 0..8 {
        let p = preamble(salt, RESERVED_SEQ + 10 + j);
        counts.push(codec.encode(&p).await?.len() as u64);
    }
    let k = counts.iter().copied().max().unwrap_or(0);
    if counts.iter().any(|c| *c != k) {
        eprintln!(
            "warning: the per-request preamble (9 digits and a newline) is {counts:?} tokens in this tokenizer, not one fixed count: input lengths may vary by a token"
        );
    }
    Ok(k)
}

/// Prefix-cache hits beyond the template's share above this part of the prompt tokens flag a
/// point `prefix_cache_hits`.
pub const MAX_EXCESS_HITS: f64 = 0.05;

/// The point's prefix-cache hits: from every request's `usage` when each completed one
/// reported cached tokens, else from the engine's counters (named by `metric`).
fn prefix_cache_hits(
    records: &[RequestRecord],
    server: Option<&ServerCheck>,
    metric: Option<String>,
    template_tokens: Option<u64>,
    unique: bool,
) -> Option<PrefixCacheHits> {
    let done: Vec<&RequestRecord> = records.iter().filter(|r| r.error.is_none()).collect();
    let from_usage = !done.is_empty()
        && done
            .iter()
            .all(|r| r.usage.cached_tokens.is_some() && r.usage.prompt_tokens.is_some());
    let (source, cached, prompt, requests) = if from_usage {
        let cached = done.iter().filter_map(|r| r.usage.cached_tokens).sum();
        let prompt = done.iter().filter_map(|r| r.usage.prompt_tokens).sum();
        ("usage".to_owned(), cached, prompt, done.len() as u64)
    } else {
        let s = server?;
        let (c, q) = (s.cached_tokens?, s.cache_queried_tokens?);
        if c < 0.0 || q <= 0.0 {
            return None;
        }
        (
            metric?,
            c.round() as u64,
            q.round() as u64,
            records.len() as u64,
        )
    };
    if prompt == 0 {
        return None;
    }
    let allowed = template_tokens.unwrap_or(0).saturating_mul(requests);
    Some(PrefixCacheHits {
        source,
        cached_tokens: cached,
        prompt_tokens: prompt,
        hit_rate: cached as f64 / prompt as f64,
        template_tokens,
        excess_hit_rate: cached.saturating_sub(allowed) as f64 / prompt as f64,
        unique_prompts: unique,
    })
}

/// One small request before anything is measured: does the endpoint exist, stream SSE, and
/// finish? Any failure here is the server's or the arguments', and stops the run.
async fn preflight(
    endpoint: Endpoint,
    client: &StreamClient,
    prompt: &Prompt,
    opts: &RequestOptions,
) -> Result<RequestRecord, BenchError> {
    let small = RequestOptions {
        max_tokens: Some(2),
        ..opts.clone()
    };
    let req = Prepared {
        body: body(endpoint, prompt, &small),
        client_input_tokens: None,
    };
    let now = Instant::now();
    let rec = client
        .send(&req, "llms-preflight".into(), Clock { epoch: now }, now)
        .await;
    let Some(e) = &rec.error else { return Ok(rec) };
    // Two tokens that render as no text (a partial UTF-8 byte held back, a control token) are
    // still an answer: the stream finished and usage counts them. The preflight only asks
    // whether the endpoint streams and finishes.
    if e.kind == "no_tokens" && rec.usage.completion_tokens.is_some_and(|n| n > 0) {
        return Ok(rec);
    }
    let hint = match e.kind.as_str() {
        "http_404" => format!(
            " (is --endpoint {} right? the other is --endpoint {}; a wrong --model also gives 404)",
            endpoint.as_str(),
            match endpoint {
                Endpoint::Chat => "completions",
                Endpoint::Completions => "chat",
            }
        ),
        _ => String::new(),
    };
    Err(BenchError::Server(format!(
        "preflight request to {} failed ({}): {}{hint}",
        client.url(),
        e.kind,
        e.message
    )))
}

/// The longest the counters are read for, before or after a point.
const COUNTER_BUDGET: Duration = Duration::from_secs(10);

/// The engine's counters once they stop moving (the last warm-up requests may not be counted
/// the instant their streams end).
async fn settled_counters(http: &reqwest::Client, base: &str) -> Option<metrics::Counters> {
    let mut last = metrics::scrape(http, base).await?;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = metrics::scrape(http, base).await?;
        if now.output == last.output {
            return Some(now);
        }
        last = now;
    }
    Some(last)
}

/// Read the counters after a point (again, briefly, if the engine has not counted the last
/// requests yet) and compare with what the client saw. Agreement is only judged when the
/// server's count is knowable (see [`server_reported_output`]). Also returns the name of the
/// engine's prefix-cache counter, where it has one.
async fn cross_check(
    http: &reqwest::Client,
    base: &str,
    before: Option<metrics::Counters>,
    records: &[RequestRecord],
) -> Option<(ServerCheck, Option<String>)> {
    let before = before?;
    let want = server_reported_output(records);
    let mut after = metrics::scrape(http, base).await?;
    if let Some(w) = want {
        for _ in 0..10 {
            let delta = after.output - before.output;
            if delta < 0.0 || (delta - w as f64).abs() < 0.5 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            after = metrics::scrape(http, base).await?;
        }
    }
    let output_tokens = after.output - before.output;
    let cache = match (&after.cache, &before.cache) {
        (Some(a), Some(b)) if a.0 == b.0 => Some((a.0.clone(), a.1 - b.1, a.2 - b.2)),
        _ => None,
    };
    let itl = match (&after.itl, &before.itl) {
        (Some(a), Some(b)) => a.since(b).map(|h| itl_check(&h, records)),
        _ => None,
    };
    let check = ServerCheck {
        metric: after.output_metric,
        output_tokens,
        input_tokens: after.input.zip(before.input).map(|(a, b)| a - b),
        agrees: want.map(|w| (output_tokens - w as f64).abs() < 0.5),
        client_output_tokens: want,
        cached_tokens: cache.as_ref().map(|c| c.1),
        cache_queried_tokens: cache.as_ref().map(|c| c.2),
        itl,
    };
    Some((check, cache.map(|c| c.0)))
}

/// The engine's inter-token histogram over the point against the gaps llmsd measured (every
/// request's, failed ones included: the engine observed those too).
fn itl_check(h: &metrics::Histogram, records: &[RequestRecord]) -> ItlCheck {
    let mut gaps: Vec<u64> = records
        .iter()
        .flat_map(|r| r.chunks.windows(2).map(|w| w[1].0.saturating_sub(w[0].0)))
        .collect();
    gaps.sort_unstable();
    let engine_total = h.count();
    let mut max_cdf_diff: f64 = 0.0;
    if engine_total > 0.0 && !gaps.is_empty() {
        for &(le, c) in h.buckets.iter().filter(|b| b.0.is_finite()) {
            let le_ns = (le * 1e9).round() as u64;
            let mine = gaps.partition_point(|g| *g <= le_ns) as f64 / gaps.len() as f64;
            max_cdf_diff = max_cdf_diff.max((mine - c / engine_total).abs());
        }
    }
    ItlCheck {
        metric: h.name.clone(),
        engine_gaps: engine_total.max(0.0).round() as u64,
        client_gaps: gaps.len() as u64,
        engine_p50_ms: h.quantile(0.5) * 1e3,
        engine_p99_ms: h.quantile(0.99) * 1e3,
        max_cdf_diff,
    }
}

/// Fail early, before anything is measured, if `--json` cannot be written.
fn check_json_path(path: &std::path::Path) -> Result<(), BenchError> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, b"")
        .and_then(|()| std::fs::remove_file(&tmp))
        .map_err(|e| BenchError::Usage(format!("cannot write --json '{}': {e}", path.display())))
}

fn write_json(path: &std::path::Path, report: &BenchReport) -> Result<(), BenchError> {
    let text =
        serde_json::to_string_pretty(report).map_err(|e| BenchError::Internal(e.to_string()))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n")
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| BenchError::Usage(format!("cannot write --json '{}': {e}", path.display())))
}
