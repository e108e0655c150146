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
use crate::loadgen::request::{Endpoint, Prompt, RequestOptions, body};
use crate::loadgen::runner::{PointSpec, Workload, run_point, warmup};
use crate::loadgen::stats::{Expectations, aggregate, server_reported_output};
use crate::loadgen::{metrics, prompts, synth};
pub use args::BenchArgs;
use llms_shared::{BenchReport, Load, PointResult, REPORT_VERSION, RequestRecord, ServerCheck};
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
        let (prompts, targets) = build_prompts(&a, source, &client, &http, &base, &opts).await?;
        let prepared: Vec<Prepared> = prompts
            .iter()
            .zip(&targets)
            .map(|(p, t)| Prepared {
                body: body(a.endpoint, p, &opts),
                client_input_tokens: *t,
            })
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
        let body = match serde_json::from_slice::<serde_json::Value>(&first.body) {
            Ok(serde_json::Value::Object(mut m)) => {
                m.insert("temperature".into(), 0.7.into());
                m.insert("top_p".into(), 0.8.into());
                m.insert("top_k".into(), 20.into());
                m.insert("max_tokens".into(), 16.into());
                m.remove("min_tokens");
                serde_json::to_vec(&m).unwrap_or_default()
            }
            _ => return n,
        };
        let req = Prepared {
            body: body.into(),
            client_input_tokens: None,
        };
        let now = Instant::now();
        let sends = (0..n).map(|i| {
            self.w.client.send(
                &req,
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
async fn measure(
    a: &BenchArgs,
    w: &mut Workload,
    http: &reqwest::Client,
    base: &str,
    load: Load,
    live: Option<Arc<Live>>,
    edge: &(dyn Fn(bool) + Sync),
) -> Result<(PointResult, Vec<RequestRecord>), BenchError> {
    let before = settled_counters(http, base).await;
    let (requests, duration) = a.stop();
    let spec = PointSpec {
        load: load.clone(),
        requests,
        duration,
        max_concurrency: a.max_concurrency,
        seed: a.seed,
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
    point.server = cross_check(http, base, before, &run.records).await;
    if let Some(s) = &point.server {
        if s.output_tokens < 0.0 {
            // A counter only goes down when the engine process started over.
            point.flags.push("engine_restarted".into());
        } else if s.agrees == Some(false) {
            point.flags.push("server_count_mismatch".into());
        }
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

/// The prompts of the run and each one's client-side input count (synthetic target).
async fn build_prompts(
    a: &BenchArgs,
    source: PromptSource,
    client: &StreamClient,
    http: &reqwest::Client,
    base: &str,
    opts: &RequestOptions,
) -> Result<(Vec<Prompt>, Vec<Option<u64>>), BenchError> {
    let (target, codec) = match source {
        PromptSource::Synthetic(n, codec) => (n, codec),
        PromptSource::Fixed(mut ps) => {
            ps.shuffle(&mut rand::rngs::StdRng::seed_from_u64(a.seed));
            let first = ps
                .first()
                .cloned()
                .ok_or_else(|| BenchError::Usage("no prompts".into()))?;
            preflight(a.endpoint, client, &first, opts).await?;
            let n = ps.len();
            return Ok((ps, vec![None; n]));
        }
    };
    let codec = codec.unwrap_or_else(|| synth::Codec::Server {
        http: http.clone(),
        base: base.to_owned(),
        model: opts.model.clone(),
    });
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
    let rec = preflight(a.endpoint, client, &probe_prompt, opts).await?;
    let overhead = match rec.usage.prompt_tokens {
        Some(p) => p as i64 - probe[0].tokens as i64,
        None => {
            eprintln!(
                "warning: the server reports no usage.prompt_tokens; input lengths cannot be checked"
            );
            0
        }
    };
    let content = i64::from(target) - overhead;
    if content < 1 {
        return Err(BenchError::Usage(format!(
            "--input-tokens {target} is not more than the {} endpoint's template overhead of {overhead} tokens",
            a.endpoint.as_str()
        )));
    }
    // One prompt per request of the whole run where that is known (so no point replays
    // another's prompts), else a pool that wraps.
    let (requests, _) = a.stop();
    let points = a.loads().map_or(1, |l| l.len()) as u64;
    let count = requests
        .map_or(1024, |r| (r + u64::from(a.warmup)).saturating_mul(points))
        .clamp(1, 4096) as usize;
    let ps = corpus
        .prompts(&codec, content as usize, count)
        .await
        .map_err(synth_err)?;
    let targets = ps
        .iter()
        .map(|p| Some((p.tokens as i64 + overhead).max(0) as u64))
        .collect();
    Ok((
        ps.into_iter().map(|p| Prompt::Text(p.text)).collect(),
        targets,
    ))
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
/// server's count is knowable (see [`server_reported_output`]).
async fn cross_check(
    http: &reqwest::Client,
    base: &str,
    before: Option<metrics::Counters>,
    records: &[RequestRecord],
) -> Option<ServerCheck> {
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
    Some(ServerCheck {
        metric: after.output_metric,
        output_tokens,
        input_tokens: after.input.zip(before.input).map(|(a, b)| a - b),
        agrees: want.map(|w| (output_tokens - w as f64).abs() < 0.5),
        client_output_tokens: want,
    })
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
