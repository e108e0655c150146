//! `llmsd bench`: measure any OpenAI-compatible server, no daemon needed.
//!
//! Steps: find the server (`/v1/models`: reachable? which model? which engine?), build the
//! prompts, send one preflight request (endpoint exists, answers SSE, reports usage; for
//! synthetic prompts it also measures the prompt template's overhead), then for each load
//! setting: warm-up, read the engine's counters, run the point, read them again, aggregate.

pub mod args;
mod assemble;
mod capacity;
mod checks;
pub mod config;
pub mod dist;
mod point;
mod progress;
mod prompts;
mod replay;
pub mod search;
mod shared_prefix;
mod table;
pub mod workload;

use crate::loadgen::client::{Clock, Prepared, StreamClient, describe, http_builder};
use crate::loadgen::live::Live;
use crate::loadgen::request::{Prompt, RESERVED_SEQ, RequestOptions};
use crate::loadgen::runner::{Workload, warmup};
pub use args::BenchArgs;
pub use config::{PointStop, RunConfig, WorkloadConfig};
use llms_shared::{BenchReport, Load, PointResult, REPORT_VERSION, RequestRecord};
use prompts::{Preambles, PromptSource, build_prompts};
use std::sync::Arc;
use std::time::{Duration, Instant};
pub use workload::Shape;

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
    /// Ctrl-C: what was kept (exit 130).
    #[error("{0}")]
    Interrupted(String),
}

impl BenchError {
    /// Process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            BenchError::Usage(_) | BenchError::Server(_) => 2,
            BenchError::Internal(_) => 1,
            BenchError::Interrupted(_) => 130,
        }
    }
}

/// What `/v1/models` told us.
struct ServerInfo {
    model: Option<String>,
    owned_by: Option<String>,
}

/// How a run prints and what it keeps: `--json`, `--raw`, `--quiet` and the table's columns.
pub(crate) struct Output {
    json: Option<std::path::PathBuf>,
    raw: bool,
    quiet: bool,
    columns: table::Columns,
}

impl Output {
    /// Write the report so far to `--json`, if asked.
    fn keep(&self, report: &BenchReport) -> Result<(), BenchError> {
        match &self.json {
            Some(path) => write_json(path, report),
            None => Ok(()),
        }
    }

    /// Print a finished point's row and add it (with its records under `--raw`) to `report`.
    fn add(&self, report: &mut BenchReport, mut point: PointResult, records: Vec<RequestRecord>) {
        println!("{}", table::row(&point, self.columns));
        if self.raw {
            point.requests = records;
        }
        report.points.push(point);
    }
}

/// Run the whole benchmark; prints the table to stdout and writes `--json` if asked. Ctrl-C
/// stops it with what finished kept.
pub async fn run(a: BenchArgs) -> Result<BenchReport, BenchError> {
    let config = a.config().map_err(BenchError::Usage)?;
    let out = Output {
        json: a.json.clone(),
        raw: a.raw,
        quiet: a.quiet,
        columns: table::Columns::for_stdout(config.slo.is_some()),
    };
    if let Some(path) = &out.json {
        check_json_path(path)?;
    }
    let mut session = Session::open(config).await?;
    for w in session.take_warnings() {
        eprintln!("warning: {w}");
    }
    let mut report = session.header();
    if !out.quiet {
        eprint!(
            "{}",
            table::preamble(
                &report,
                session.loads(),
                session.search(),
                (session.c.stop, session.c.warmup)
            )
        );
    }
    println!("{}", table::header(out.columns));
    let finished = tokio::select! {
        r = points(&mut session, &mut report, &out) => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    };
    match finished {
        Some(r) => r.map(|()| report),
        None => {
            let n = report.points.len();
            let kept = match (&out.json, n) {
                (_, 0) => "no point had finished, so nothing was written".to_owned(),
                (Some(p), 1) => format!("the finished point is in {}", p.display()),
                (Some(p), n) => format!("the {n} finished points are in {}", p.display()),
                (None, n) => format!("{n} points finished; without --json nothing was written"),
            };
            Err(BenchError::Interrupted(format!(
                "interrupted: the running point was dropped; {kept}"
            )))
        }
    }
}

/// Every point of the session, then its search; each kept as it finishes (a long run that
/// dies keeps what it finished).
async fn points(
    session: &mut Session,
    report: &mut BenchReport,
    out: &Output,
) -> Result<(), BenchError> {
    for i in 0..session.loads().len() {
        let live = Arc::new(Live::default());
        let line = progress::PointLine::start(
            session.loads()[i].to_string(),
            session.c.stop,
            live.clone(),
            out.quiet,
        );
        let point = session.point(i, Some(live)).await;
        drop(line);
        for w in session.take_warnings() {
            eprintln!("warning: {w}");
        }
        let (point, records) = point?;
        out.add(report, point, records);
        out.keep(report)?;
    }
    if session.search().is_some() {
        capacity::run(session, report, out).await?;
    }
    Ok(())
}

/// One server, ready to be measured: found, its prompts built, its preflight passed. The
/// daemon's scheduler runs its points one by one; `run` runs them all.
pub struct Session {
    c: RunConfig,
    w: Workload,
    http: reqwest::Client,
    base: String,
    header: BenchReport,
    /// Tokens the server adds to every prompt (chat template, BOS), when measured.
    template_tokens: Option<u64>,
    /// Every request's input tokens as the server should count them, where they are exact.
    input_target: Option<u32>,
    /// What the user should know of the run so far (see [`Session::take_warnings`]).
    warnings: Vec<String>,
}

impl Session {
    /// Find the server, build the prompts and send the preflight.
    pub async fn open(mut c: RunConfig) -> Result<Self, BenchError> {
        if c.loads.is_empty() && c.search.is_none() {
            return Err(BenchError::Usage("no load settings".into()));
        }
        let base = c
            .url
            .trim_end_matches('/')
            .trim_end_matches("/v1")
            .to_owned();
        let url = reqwest::Url::parse(&format!("{base}{}", c.workload.endpoint.path()))
            .map_err(|e| BenchError::Usage(format!("--url '{}' is not a valid URL: {e}", c.url)))?;
        // Local inputs first: a bad file is reported before the server is even asked.
        let trace = match c.workload.shape {
            Shape::Trace { block_tokens } => Some(replay::open(&c, block_tokens)?),
            _ => None,
        };
        // A point of a trace sends the requests replayed (not "all": progress counts them).
        if let (Some(t), PointStop::Requests(_)) = (&trace, c.stop) {
            c.stop = PointStop::Requests(t.report.replayed);
        }
        let most_output = match (&trace, c.workload.output_dist) {
            (Some(t), _) => t.lines.iter().map(|l| l.output_length).max().unwrap_or(1),
            (None, Some(d)) => d.max(),
            (None, None) => c.workload.output_tokens,
        };
        // A stream may carry twice what was asked (and the warm-ups' 16), no more: a cap on
        // what a misbehaving server can make the client hold.
        let limit = 2 * u64::from(most_output.max(16)) + 16;
        let client = StreamClient::new(url.clone(), c.timeout)
            .map_err(|e| BenchError::Internal(format!("cannot build the HTTP client: {e}")))?
            .with_token_limit(limit);
        let http = http_builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| BenchError::Internal(e.to_string()))?;
        let file = prompts::read_once(&c)?;
        let source = PromptSource::open(&c, file.as_deref())?;
        // A dataset's answers, whose lengths the requests will ask for: read before the
        // server is asked, counted by its tokenizer after.
        let answers = match c.workload.output_dist {
            Some(dist::Dist::Dataset) => Some(prompts::read_answers(file.as_deref())?),
            _ => None,
        };
        let info = discover(&http, &base).await?;
        let model = c.model.clone().or(info.model);
        // The kind's row says, where the kind is known and its API fixed; else what the server
        // says of itself (the rows' `owned_by`).
        let owned_by = info.owned_by.as_deref().unwrap_or_default();
        let takes_min_tokens = crate::kinds::takes_min_tokens(c.kind, owned_by);
        let opts = RequestOptions {
            model: model.clone(),
            max_tokens: Some(c.workload.output_tokens),
            min_tokens: takes_min_tokens,
        };
        // A fresh salt per run: two runs against one server do not share preambles either.
        let salt = rand::random::<u64>() % 1_000_000_000;
        let pre = Preambles {
            salt,
            unique: !c.workload.verbatim_prompts,
        };
        // Token counts the server makes (/tokenize), where the run has no tokenizer of its own.
        let server_codec = crate::loadgen::synth::Codec::Server {
            http: http.clone(),
            base: base.clone(),
            model: opts.model.clone(),
        };
        // A conversation's shared system prompt, sized by the tokenizer the turns are (so a
        // server without /tokenize serves it too, given --tokenizer). (A dataset's
        // conversations with a system prompt as well were refused with the options:
        // `workload::options_fit`.)
        let system = match &c.workload.shape {
            Shape::Conversation {
                system_tokens: Some(n),
                ..
            } => {
                let codec = source.codec().unwrap_or(&server_codec);
                Some(shared_prefix::system_prompt(codec, *n).await?)
            }
            _ => None,
        };
        let built = match (&c.workload.shape, &trace) {
            (Shape::Trace { block_tokens }, Some(t)) => {
                let built = replay::build(&server_codec, t, *block_tokens).await?;
                if let Some(first) = built.prompts.first() {
                    prompts::preflight(c.workload.endpoint, &client, first, &opts).await?;
                }
                built
            }
            (Shape::Single | Shape::Conversation { .. } | Shape::Trace { .. }, _) => {
                build_prompts(&c, source, &client, &http, &base, &opts, pre).await?
            }
            (
                Shape::SharedPrefix {
                    groups,
                    prefix_tokens,
                    zipf,
                },
                _,
            ) => {
                let (groups, prefix_tokens, zipf) = (*groups, *prefix_tokens, *zipf);
                let ctx = shared_prefix::Ctx {
                    client: &client,
                    http: &http,
                    base: &base,
                    opts: &opts,
                    pre,
                };
                shared_prefix::build_shared(&c, source, &ctx, (groups, prefix_tokens, zipf)).await?
            }
        };
        let endpoint = c.workload.endpoint;
        // Drawn output lengths, one per prompt (a trace gives its own).
        let outputs = match (c.workload.output_dist, &answers) {
            (Some(dist::Dist::Dataset), Some(a)) => {
                let pool = prompts::answer_lengths(&server_codec, a).await?;
                Some(dist::draw_pool(
                    &pool,
                    built.prompts.len(),
                    c.seed,
                    OUTPUT_SALT,
                ))
            }
            (Some(d), _) => Some(dist::draw(&d, built.prompts.len(), c.seed, OUTPUT_SALT)),
            (None, _) => None,
        };
        let prepared = assemble::templates(
            &built,
            trace.as_ref(),
            outputs.as_deref(),
            &opts,
            pre,
            endpoint,
        );
        let dialogues = assemble::dialogues(&c, file.as_deref())?;
        // Every use of the prompts file's text is behind: keep none of it for the run.
        drop(file);
        let mut warnings = built.warnings.clone();
        warnings.extend(assemble::replayed_again(&c, dialogues.as_deref()));
        let conversation =
            assemble::conversation(&c, &built, (dialogues.clone(), system), &opts, pre);
        // What was sent: a dataset's whole conversations, where it replays them.
        let sent: Vec<Prompt> = match &dialogues {
            Some(d) => d.iter().map(|d| d.as_prompt()).collect(),
            None => built.prompts.clone(),
        };
        let workload = workload::report(
            &c.workload.shape,
            &sent,
            c.workload.input_tokens,
            c.workload.output_tokens,
            c.seed,
            pre.unique,
            trace.as_ref().map(|t| t.report.clone()),
        );
        let workload = llms_shared::WorkloadReport {
            input_dist: c.workload.input_dist.map(|d| d.to_string()),
            output_dist: c.workload.output_dist.map(|d| d.to_string()),
            ..workload
        };
        let header = BenchReport {
            version: REPORT_VERSION,
            url: base.clone(),
            endpoint: endpoint.as_str().into(),
            model: model.unwrap_or_default(),
            server: info.owned_by,
            workload: Some(workload),
            points: Vec::new(),
            search: None,
        };
        // A dataset's lengths are known only now: the stream cap follows them.
        let client = match (&answers, &outputs) {
            (Some(_), Some(o)) => {
                let most = o.iter().copied().max().unwrap_or(1);
                client.with_token_limit(2 * u64::from(most.max(16)) + 16)
            }
            _ => client,
        };
        let w = Workload {
            client,
            prepared: Arc::new(prepared),
            salt,
            id_prefix: String::new(),
            first_prompt: 0,
            point: 0,
            conversation,
            trace: trace.as_ref().map(|t| Arc::new(replay::offsets(t))),
        };
        let input_target = point::input_target(&c, built.template_tokens);
        Ok(Self {
            c,
            w,
            http,
            base,
            header,
            template_tokens: built.template_tokens,
            input_target,
            warnings,
        })
    }

    /// The load settings, one point each.
    pub fn loads(&self) -> &[Load] {
        &self.c.loads
    }

    /// The capacity search the session runs after its loads, if any.
    pub fn search(&self) -> Option<&llms_shared::SearchDef> {
        self.c.search.as_ref()
    }

    /// How the searched load reads in sentences (`in flight`, `sessions`, `requests/s`).
    pub fn search_unit(&self) -> &'static str {
        self.c.search_unit()
    }

    /// The load of a search probe at `value` (none without a search).
    pub fn search_load(&self, value: f64) -> Option<Load> {
        self.c.search_load(value)
    }

    /// What the session has to tell the user since it last asked (prompt lengths that may be
    /// off, failed warm-up requests): `llmsd bench` prints them, the daemon logs them and keeps
    /// them with the job.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The measured requests a point sends, where that is a number (not a duration).
    pub fn requests_per_point(&self) -> Option<u64> {
        self.c.stop.split().0
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
        let load = self
            .c
            .loads
            .get(index)
            .cloned()
            .ok_or_else(|| BenchError::Internal(format!("no point {index}")))?;
        self.warmup(index).await;
        self.measure(index, load, live, &()).await
    }

    /// Send `n` sampled requests together (temperature 0.7, top-p 0.8, top-k 20, 16 tokens)
    /// and wait for them, so an engine's one-time sampling-kernel compiles happen here and
    /// not in a measured point. Not measured; returns how many failed.
    pub async fn sampled_warmup(&self, n: u32) -> u32 {
        let Some(first) = self.w.prepared.first() else {
            return n;
        };
        let sampled = |i: u32| {
            let seq = RESERVED_SEQ + 1000 + u64::from(i);
            match serde_json::from_slice::<serde_json::Value>(&first.body(self.w.salt, seq)) {
                Ok(serde_json::Value::Object(mut m)) => {
                    m.insert("temperature".into(), 0.7.into());
                    m.insert("top_p".into(), 0.8.into());
                    m.insert("top_k".into(), 20.into());
                    m.insert("max_tokens".into(), 16.into());
                    m.remove("min_tokens");
                    Some(Prepared {
                        body: serde_json::to_vec(&m).unwrap_or_default().into(),
                        client_input_tokens: None,
                        ..Prepared::default()
                    })
                }
                _ => None,
            }
        };
        let Some(reqs) = (0..n).map(sampled).collect::<Option<Vec<_>>>() else {
            return n;
        };
        // Each is sent on the client's lane (`StreamClient::send`), where the points will read
        // the connections these open.
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

    /// What the session's requests send.
    pub fn workload(&self) -> Option<llms_shared::WorkloadReport> {
        self.header.workload.clone()
    }

    /// The warm-up of the session's point number `n` (its request ids say `llms-p{n}`; not
    /// measured). Failed warm-up requests are a warning.
    pub async fn warmup(&mut self, n: usize) {
        self.w.id_prefix = format!("llms-p{n}");
        // Warm-ups tag shared prefixes and traces as a point of their own: they warm the
        // engine, not the measured point's prefixes.
        self.w.point = u64::MAX - n as u64;
        let failed = warmup(&self.w, self.c.warmup).await;
        if failed > 0 {
            self.warnings.push(format!(
                "{failed} of {} warm-up requests failed",
                self.c.warmup
            ));
        }
        self.w.first_prompt += u64::from(self.c.warmup);
    }

    /// The measured part of the session's point number `n` at `load` (after
    /// [`Session::warmup`]): counters, requests, counters again, figures. Moves the prompt
    /// cursor past the prompts it used. `window` is told right before the first measured
    /// request and right after the last one ends (the daemon's GPU meter covers exactly that
    /// span).
    pub async fn measure(
        &mut self,
        n: usize,
        load: Load,
        live: Option<Arc<Live>>,
        window: &dyn Window,
    ) -> Result<(PointResult, Vec<RequestRecord>), BenchError> {
        self.w.id_prefix = format!("llms-p{n}");
        self.w.point = n as u64;
        point::measure(
            &self.c,
            &mut self.w,
            (&self.http, &self.base),
            load,
            live,
            window,
            (self.template_tokens, self.input_target),
        )
        .await
    }
}

/// Who follows a point's measured window (the daemon's GPU meter).
pub trait Window: Sync {
    /// Right before the first measured request; must not block.
    fn opened(&self);
    /// Right after the last measured request ended; awaited before the engine's counters are
    /// read, so whatever it waits for runs off the point's thread.
    fn closed(&self) -> futures::future::BoxFuture<'_, ()>;
}

/// No one follows (`llmsd bench`).
impl Window for () {
    fn opened(&self) {}
    fn closed(&self) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// Seeds output-length draws apart from input-length ones.
const OUTPUT_SALT: u64 = 0x6f75_7470_7574;

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
    let Some(text) = crate::loadgen::client::text_capped(resp, 1 << 20).await else {
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
