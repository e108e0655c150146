//! `llmsd bench` arguments and their validation. Every error names the option at fault.

use super::config::{PointStop, RunConfig, WorkloadConfig};
use super::dist::Dist;
use super::workload::{Params, Shape, options_fit};
use crate::loadgen::request::Endpoint;
use crate::loadgen::schedule::Schedule;
use clap::{ArgGroup, Args};
use llms_shared::{Arrival, Load, Slo};
use llms_shared::{SearchDef, SearchOver};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Measure an OpenAI-compatible server at one or more load settings.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("load").required(true).args(["concurrency", "batch", "rate", "speed", "search"])))]
pub struct BenchArgs {
    /// Server base URL, e.g. http://127.0.0.1:8000 (without a scheme: http).
    #[arg(long)]
    pub url: String,
    /// Route to measure.
    #[arg(long, value_enum, default_value_t = Endpoint::Chat)]
    pub endpoint: Endpoint,
    /// Model name to send [default: the first model the server lists].
    #[arg(long)]
    pub model: Option<String>,
    /// Closed loop: requests in flight, one point per value (e.g. 1,4,8).
    #[arg(long, value_delimiter = ',', value_parser = positive::<u32>)]
    pub concurrency: Option<Vec<u32>>,
    /// Static batches: requests sent together, one point per value.
    #[arg(long, value_delimiter = ',', value_parser = positive::<u32>)]
    pub batch: Option<Vec<u32>>,
    /// Open loop: arrivals per second, one point per value.
    #[arg(long, value_delimiter = ',', value_parser = rate)]
    pub rate: Option<Vec<f64>>,
    /// Trace replay: speed factors, one point each (1 = as recorded; --workload trace).
    #[arg(long, value_delimiter = ',', value_parser = speed)]
    pub speed: Option<Vec<f64>>,
    /// Capacity search: the highest concurrency or rate that meets --search-slo, probed
    /// point by point (geometric steps up, then narrowed to --search-resolution).
    #[arg(long, value_enum, requires_all = ["search_min", "search_max", "search_slo"])]
    pub search: Option<SearchArg>,
    /// Capacity search: the lowest load tried (the search starts there).
    #[arg(long, requires = "search", value_parser = positive_f64)]
    pub search_min: Option<f64>,
    /// Capacity search: the highest load tried.
    #[arg(long, requires = "search", value_parser = positive_f64)]
    pub search_max: Option<f64>,
    /// Capacity search: stop when the highest pass and the lowest fail are this close
    /// [default: 1 for concurrency, a 64th of the range for rate].
    #[arg(long, requires = "search", value_parser = positive_f64)]
    pub search_resolution: Option<f64>,
    /// Capacity search objectives, e.g. ttft_p99=500,tpot_p99=40,e2e_p90=8000,error_rate=0.01
    /// (METRIC_STAT in ms: ttft, tpot, itl, e2e with p50, p90, p95, p99, mean, max; error_rate
    /// 0..1, default 0.01).
    #[arg(long, requires = "search", value_parser = parse_search_slo)]
    pub search_slo: Option<BTreeMap<String, f64>>,
    /// Spacing of arrivals in rate mode [default: poisson].
    #[arg(long, value_enum)]
    pub arrival: Option<ArrivalArg>,
    /// Gamma shape for --arrival gamma (1 = Poisson; lower = burstier; 0.01 to 100).
    #[arg(long, value_parser = burstiness)]
    pub burstiness: Option<f64>,
    /// Rate mode: cap on requests in flight (arrivals wait; the wait is reported as queue time).
    #[arg(long, value_parser = positive::<u32>)]
    pub max_concurrency: Option<u32>,
    /// Measured requests per point [default: 64]. Batch mode runs whole batches.
    #[arg(long, conflicts_with = "duration", value_parser = positive::<u64>)]
    pub requests: Option<u64>,
    /// Seconds per point: no request starts after this (the ones in flight finish).
    #[arg(long, value_parser = seconds)]
    pub duration: Option<f64>,
    /// Requests sent together before each point and not counted.
    #[arg(long, default_value_t = 0)]
    pub warmup: u32,
    /// Output tokens per request (max_tokens with ignore_eos; min_tokens where the engine takes it).
    #[arg(long, default_value_t = 128, value_parser = positive::<u32>)]
    pub output_tokens: u32,
    /// Synthetic prompts of exactly this many input tokens (as the server counts them).
    #[arg(long, value_parser = positive::<u32>, conflicts_with = "prompts")]
    pub input_tokens: Option<u32>,
    /// tokenizer.json for --input-tokens [default: the server's /tokenize].
    #[arg(long, requires = "input_tokens")]
    pub tokenizer: Option<PathBuf>,
    /// Prompts file: JSON list of strings, JSONL of {"prompt"} / {"messages"}, or ShareGPT JSON.
    #[arg(long)]
    pub prompts: Option<PathBuf>,
    /// Goodput objectives, e.g. ttft=500,tpot=50,e2e=10000 (milliseconds).
    #[arg(long, value_parser = parse_slo)]
    pub slo: Option<Slo>,
    /// Flag points whose error rate exceeds this (0..1).
    #[arg(long)]
    pub max_error_rate: Option<f64>,
    /// Seed for prompt order and arrivals.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Per-request timeout, seconds; a point also waits at most this long for its last
    /// requests after sending them, then ends them and says so.
    #[arg(long, default_value_t = 600.0, value_parser = seconds)]
    pub timeout: f64,
    /// Send the prompts as they are: no per-request preamble, so an engine's prefix cache may
    /// serve repeated prompts (points with hits are flagged `prefix_cache_hits`).
    #[arg(long)]
    pub verbatim_prompts: bool,
    /// Write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Include every request's raw record in the JSON.
    #[arg(long)]
    pub raw: bool,
    /// Print only the table: no preamble, no progress line (there is none when stderr is not
    /// a terminal either).
    #[arg(long, short)]
    pub quiet: bool,
    /// What the requests send: single prompts (each made unique), shared-prefix (groups
    /// sharing a system prompt; --input-tokens then sizes each request's own part), or
    /// conversation (sessions of --turns; --input-tokens sizes each user message).
    #[arg(long, value_enum, default_value_t = WorkloadArg::Single)]
    pub workload: WorkloadArg,
    /// shared-prefix: how many groups, each with its own prefix.
    #[arg(long, value_parser = positive::<u32>)]
    pub groups: Option<u32>,
    /// shared-prefix: tokens of each group's prefix, exactly (its 9-digit group tag included).
    /// conversation: tokens of the system prompt every session opens with (the same text in
    /// all of them).
    #[arg(long, value_parser = positive::<u32>)]
    pub prefix_tokens: Option<u32>,
    /// shared-prefix: draw groups by Zipf's law with this exponent [default: uniformly].
    #[arg(long, value_parser = zipf)]
    pub zipf: Option<f64>,
    /// conversation: turns per session (--concurrency counts sessions in flight, --rate
    /// session starts, --requests turns, rounded up to whole sessions).
    #[arg(long)]
    pub turns: Option<u32>,
    /// conversation: think time between an answer and the next turn, ms [default: 0].
    #[arg(long)]
    pub think_ms: Option<f64>,
    /// conversation: send each session's id in this header (routers with session affinity).
    #[arg(long)]
    pub session_header: Option<String>,
    /// conversation: each session's turns drawn from this (fixed:N, uniform:MIN,MAX, ...),
    /// at most --turns.
    #[arg(long, value_parser = Dist::parse)]
    pub turns_dist: Option<Dist>,
    /// conversation: think times drawn exponentially with --think-ms as their mean.
    #[arg(long)]
    pub think_exponential: bool,
    /// trace: the JSONL trace to replay (Mooncake's format: timestamp ms, input_length,
    /// output_length, hash_ids).
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// trace: tokens of one hash_ids block [default: 512].
    #[arg(long)]
    pub block_tokens: Option<u32>,
    /// Input lengths drawn per prompt, exact as the server counts them: fixed:N,
    /// uniform:MIN,MAX, normal:MEAN,SD or lognormal:MEAN,SD (instead of --input-tokens).
    #[arg(long, value_parser = Dist::parse, conflicts_with_all = ["input_tokens", "prompts"])]
    pub input_dist: Option<Dist>,
    /// Output lengths drawn per request, the same forms (instead of --output-tokens).
    #[arg(long, value_parser = Dist::parse)]
    pub output_dist: Option<Dist>,
}

/// `--workload` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkloadArg {
    /// One prompt per request, each made unique at its start.
    Single,
    /// Groups of requests that share a system prompt.
    SharedPrefix,
    /// Sessions of turns, each resending the whole history.
    Conversation,
    /// A trace replayed at its times.
    Trace,
}

/// `--search` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SearchArg {
    /// Requests (or sessions) in flight.
    Concurrency,
    /// Arrivals (or session starts) per second.
    Rate,
}

/// `--arrival` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArrivalArg {
    /// Exponential gaps.
    Poisson,
    /// Equal gaps.
    Constant,
    /// Gamma gaps (see --burstiness).
    Gamma,
}

/// A whole number of at least 1.
fn positive<T: std::str::FromStr + From<u8> + PartialOrd>(s: &str) -> Result<T, String> {
    match s.trim().parse::<T>() {
        Ok(n) if n >= T::from(1) => Ok(n),
        Ok(_) => Err("must be at least 1".into()),
        Err(_) => Err(format!("'{s}' is not a whole number")),
    }
}

fn positive_f64(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) => Err("must be a positive number".into()),
        Err(_) => Err(format!("'{s}' is not a number")),
    }
}

/// A number within `lo..=hi`.
fn bounded(s: &str, lo: f64, hi: f64) -> Result<f64, String> {
    let v = positive_f64(s)?;
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be between {lo} and {hi}, got {v}"))
    }
}

/// Seconds, up to 10 days.
fn seconds(s: &str) -> Result<f64, String> {
    bounded(s, 1e-3, 864_000.0)
}

fn rate(s: &str) -> Result<f64, String> {
    bounded(s, 1e-4, 1e6)
}

fn burstiness(s: &str) -> Result<f64, String> {
    bounded(s, 0.01, 100.0)
}
fn speed(s: &str) -> Result<f64, String> {
    bounded(s, 1e-3, 1e3)
}
fn zipf(s: &str) -> Result<f64, String> {
    bounded(s, 1e-3, 10.0)
}

/// `ttft=500,tpot=50,e2e=10000`.
pub fn parse_slo(s: &str) -> Result<Slo, String> {
    let mut slo = Slo::default();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or(format!("'{part}' is not KEY=MS"))?;
        let ms = positive_f64(v).map_err(|e| format!("{k}: {e}"))?;
        match k.trim() {
            "ttft" => slo.ttft = Some(ms),
            "tpot" => slo.tpot = Some(ms),
            "e2e" => slo.e2e = Some(ms),
            other => return Err(format!("unknown objective '{other}' (use ttft, tpot, e2e)")),
        }
    }
    if slo == Slo::default() {
        return Err("give at least one of ttft=MS, tpot=MS, e2e=MS".into());
    }
    Ok(slo)
}

/// `127.0.0.1:8000` is `http://127.0.0.1:8000`: a URL without a scheme is taken as http.
pub fn with_scheme(url: &str) -> String {
    match url.contains("://") {
        true => url.to_owned(),
        false => format!("http://{url}"),
    }
}

/// `ttft_p99=500,tpot_p99=40`: each key checked, each limit a number.
pub fn parse_search_slo(s: &str) -> Result<BTreeMap<String, f64>, String> {
    let mut out = BTreeMap::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or(format!("'{part}' is not KEY=LIMIT"))?;
        let k = k.trim();
        llms_shared::Objective::parse(k)?;
        let v: f64 = v
            .trim()
            .parse()
            .map_err(|_| format!("{k}: '{}' is not a number", v.trim()))?;
        out.insert(k.to_owned(), v);
    }
    if out.is_empty() {
        return Err("give at least one objective, e.g. ttft_p99=500,tpot_p99=40".into());
    }
    Ok(out)
}

impl BenchArgs {
    /// The capacity search asked for, checked; errors name the option.
    pub fn search(&self) -> Result<Option<SearchDef>, String> {
        let Some(over) = self.search else {
            return Ok(None);
        };
        if self.concurrency.is_some() || self.batch.is_some() || self.rate.is_some() {
            return Err(
                "--search finds its own loads: leave out --concurrency, --batch and --rate".into(),
            );
        }
        let def = SearchDef {
            over: match over {
                SearchArg::Concurrency => SearchOver::Concurrency,
                SearchArg::Rate => SearchOver::Rate,
            },
            min: self.search_min.unwrap_or(0.0),
            max: self.search_max.unwrap_or(0.0),
            resolution: self.search_resolution,
            slo: self.search_slo.clone().unwrap_or_default(),
        };
        def.check().map_err(|(field, why)| {
            let flag = match field.split_once('.') {
                Some(("slo", key)) => format!("--search-slo: {key}"),
                _ => format!("--search-{field}"),
            };
            format!("{flag}: {why}")
        })?;
        Ok(Some(def))
    }

    /// The load settings, in order, after cross-option checks.
    pub fn loads(&self) -> Result<Vec<Load>, String> {
        let arrival = match self.arrival {
            None | Some(ArrivalArg::Poisson) => Arrival::Poisson,
            Some(ArrivalArg::Constant) => Arrival::Constant,
            Some(ArrivalArg::Gamma) => Arrival::Gamma,
        };
        let open_loop = self.rate.is_some() || self.search == Some(SearchArg::Rate);
        if self.arrival.is_some() && !open_loop {
            return Err("--arrival only applies to --rate (open loop)".into());
        }
        if self.burstiness.is_some() && arrival != Arrival::Gamma {
            return Err("--burstiness only applies to --arrival gamma".into());
        }
        if self.max_concurrency.is_some() && !open_loop {
            return Err(
                "--max-concurrency only applies to --rate (use --concurrency for a closed loop)"
                    .into(),
            );
        }
        if let Some(m) = self.max_error_rate
            && !(0.0..=1.0).contains(&m)
        {
            return Err(format!("--max-error-rate must be between 0 and 1, got {m}"));
        }
        let loads: Vec<Load> = match (&self.concurrency, &self.batch, &self.rate) {
            (Some(c), _, _) => c
                .iter()
                .map(|&concurrency| Load::Concurrency { concurrency })
                .collect(),
            (_, Some(b), _) => b.iter().map(|&batch| Load::Batch { batch }).collect(),
            (None, None, None) if self.speed.is_some() => self
                .speed
                .iter()
                .flatten()
                .map(|&speed| Load::Trace { speed })
                .collect(),
            (_, _, Some(r)) => r
                .iter()
                .map(|&rate| Load::Rate {
                    rate,
                    arrival,
                    burstiness: (arrival == Arrival::Gamma)
                        .then_some(self.burstiness.unwrap_or(1.0)),
                })
                .collect(),
            _ if self.search.is_some() => Vec::new(),
            _ => return Err("give one of --concurrency, --batch or --rate".into()),
        };
        // Every arrival schedule is built once here, so a bad one stops the run before the
        // first point rather than after some.
        for l in &loads {
            if let Load::Rate {
                rate,
                arrival,
                burstiness,
            } = l
            {
                Schedule::new(*rate, *arrival, burstiness.unwrap_or(1.0), 0)
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(loads)
    }

    /// Per-point stop condition.
    pub fn stop(&self) -> (Option<u64>, Option<Duration>) {
        PointStop::of(self.requests, self.duration).split()
    }

    /// What the session runs, after the cross-option checks of [`BenchArgs::loads`]. The
    /// command line reads its own files; the kind is what the server says of itself.
    pub fn config(&self) -> Result<RunConfig, String> {
        let kind = match self.workload {
            WorkloadArg::Single => "single",
            WorkloadArg::SharedPrefix => "shared_prefix",
            WorkloadArg::Conversation => "conversation",
            WorkloadArg::Trace => "trace",
        };
        let params = Params {
            groups: self.groups,
            prefix_tokens: self.prefix_tokens,
            zipf: self.zipf,
            turns: self.turns,
            think_ms: self.think_ms,
            session_header: self.session_header.clone(),
            turns_dist: self.turns_dist,
            think_exponential: self.think_exponential.then_some(true),
            trace: self.trace.as_ref().map(|p| p.display().to_string()),
            block_tokens: self.block_tokens,
        };
        let shape = Shape::of(kind, params)
            .map_err(|(field, why)| format!("--{}: {why}", field.replace('_', "-")))?;
        let trace = matches!(shape, Shape::Trace { .. });
        if trace != self.speed.is_some() {
            return Err(match trace {
                true => "--workload trace replays at the trace's times: give --speed (e.g. 1,2,4)",
                false => "--speed only applies to --workload trace",
            }
            .into());
        }
        if trace && (self.prompts.is_some() || self.input_tokens.is_some()) {
            return Err(
                "--workload trace: the trace gives each request's lengths; leave out --prompts and --input-tokens"
                    .into(),
            );
        }
        options_fit(
            &shape,
            (self.input_dist, self.output_dist),
            self.prompts.is_some(),
        )
        .map_err(|(f, m)| format!("--{}: {m}", f.replace('_', "-")))?;
        if shape.turns() > 1 && self.batch.is_some() {
            return Err(
                "--batch does not run conversations: use --concurrency (sessions in flight) or --rate (session starts)"
                    .into(),
            );
        }
        Ok(RunConfig {
            url: with_scheme(&self.url),
            kind: None,
            model: self.model.clone(),
            workload: WorkloadConfig {
                shape,
                endpoint: self.endpoint,
                output_tokens: self.output_tokens,
                input_tokens: self.input_tokens,
                tokenizer: self.tokenizer.clone(),
                prompts: self.prompts.clone(),
                trace: self.trace.clone(),
                input_dist: self.input_dist,
                output_dist: self.output_dist,
                attached: Vec::new(),
                verbatim_prompts: self.verbatim_prompts,
            },
            loads: self.loads()?,
            // A trace is replayed whole unless told otherwise.
            stop: match trace {
                true => PointStop::of(self.requests.or(Some(u64::MAX)), self.duration),
                false => PointStop::of(self.requests, self.duration),
            },
            warmup: self.warmup,
            max_concurrency: self.max_concurrency,
            seed: self.seed,
            timeout: Duration::from_secs_f64(self.timeout),
            slo: self.slo,
            max_error_rate: self.max_error_rate,
            search: self.search()?,
            arrival: match self.arrival {
                None | Some(ArrivalArg::Poisson) => Arrival::Poisson,
                Some(ArrivalArg::Constant) => Arrival::Constant,
                Some(ArrivalArg::Gamma) => Arrival::Gamma,
            },
            burstiness: self.burstiness,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<BenchArgs, String> {
        let mut v = vec!["--url", "http://h"];
        v.extend_from_slice(args);
        super::parse(&v).map_err(|e| e.to_string())
    }

    #[test]
    fn lists_and_defaults() {
        let a = parse(&["--concurrency", "1,4,8"]).unwrap();
        assert_eq!(a.loads().unwrap().len(), 3);
        assert_eq!(a.stop(), (Some(64), None));
        assert_eq!(a.output_tokens, 128);
        let a = parse(&["--rate", "2,8", "--arrival", "gamma", "--burstiness", "0.5"]).unwrap();
        assert_eq!(
            a.loads().unwrap()[1],
            Load::Rate {
                rate: 8.0,
                arrival: Arrival::Gamma,
                burstiness: Some(0.5)
            }
        );
    }

    #[test]
    fn bad_values_name_the_option() {
        let e = parse(&["--concurrency", "0"]).unwrap_err();
        assert!(
            e.contains("--concurrency") && e.contains("at least 1"),
            "{e}"
        );
        let e = parse(&["--concurrency", "1,x"]).unwrap_err();
        assert!(e.contains("--concurrency"), "{e}");
        let e = parse(&[]).unwrap_err();
        assert!(e.contains("--concurrency") || e.contains("required"), "{e}");
        let e = parse(&["--concurrency", "1", "--batch", "2"]).unwrap_err();
        assert!(e.contains("--batch") || e.contains("cannot be used"), "{e}");
        let e = parse(&["--rate", "-1"]).unwrap_err();
        assert!(e.contains("--rate"), "{e}");
        let e = parse(&["--concurrency", "1", "--slo", "ttft=abc"]).unwrap_err();
        assert!(e.contains("--slo") && e.contains("ttft"), "{e}");
        let e = parse(&["--rate", "1", "--burstiness", "2"])
            .unwrap()
            .loads()
            .unwrap_err();
        assert!(e.contains("--burstiness"), "{e}");
        let e = parse(&["--concurrency", "1", "--tokenizer", "t.json"]).unwrap_err();
        assert!(e.contains("--input-tokens"), "{e}");
    }

    #[test]
    fn a_url_without_a_scheme_is_http() {
        let c = parse(&["--concurrency", "1"]).unwrap();
        assert_eq!(c.config().unwrap().url, "http://h");
        assert_eq!(with_scheme("127.0.0.1:8000"), "http://127.0.0.1:8000");
        assert_eq!(with_scheme("https://gpu:8443/v1"), "https://gpu:8443/v1");
    }

    #[test]
    fn slo_parses() {
        let s = parse_slo("ttft=500, tpot=50").unwrap();
        assert_eq!((s.ttft, s.tpot, s.e2e), (Some(500.0), Some(50.0), None));
        assert!(parse_slo("foo=1").unwrap_err().contains("foo"));
    }
}

/// `llmsd bench` options alone, for parsing an argument list outside the main command line
/// (tests, and the daemon turning a job into bench options).
#[derive(Debug, clap::Parser)]
#[command(name = "bench", no_binary_name = true)]
struct Standalone {
    #[command(flatten)]
    args: BenchArgs,
}

/// Parse `llmsd bench` options from a list such as `["--url", "http://h", "--concurrency", "4"]`.
pub fn parse(argv: &[&str]) -> Result<BenchArgs, clap::Error> {
    use clap::Parser;
    Standalone::try_parse_from(argv).map(|s| s.args)
}
