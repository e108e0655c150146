//! What a [`super::Session`] runs: one plain config that `llmsd bench`'s arguments
//! ([`super::BenchArgs::config`]) and a sweep (`scheduler::spec::run_config`) each produce, so
//! neither is made out of the other.

use super::dist::Dist;
use super::workload::Shape;
use crate::engine::EngineKind;
use crate::loadgen::request::Endpoint;
use llms_shared::{Arrival, AttachedFile, Load, SearchDef, SearchOver, Slo};
use std::path::PathBuf;
use std::time::Duration;

/// One server's measurement: where, what to send, at which loads, within which limits.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Server base URL, e.g. `http://127.0.0.1:8000`.
    pub url: String,
    /// The engine's kind where the caller knows it (the daemon started it); `None`: only
    /// what the server says of itself is known.
    pub kind: Option<EngineKind>,
    /// Model name to send [default: the first model the server lists].
    pub model: Option<String>,
    /// The workload: which prompts, how each request is shaped.
    pub workload: WorkloadConfig,
    /// The load settings, one point each, in order.
    pub loads: Vec<Load>,
    /// When a point stops.
    pub stop: PointStop,
    /// Requests sent together before each point and not counted.
    pub warmup: u32,
    /// Rate mode: cap on requests in flight.
    pub max_concurrency: Option<u32>,
    /// Seed for prompt order and arrivals.
    pub seed: u64,
    /// Per-request timeout; a point also waits at most this long for its last requests.
    pub timeout: Duration,
    /// Goodput objectives.
    pub slo: Option<Slo>,
    /// Points whose error rate exceeds this (0..1) are flagged.
    pub max_error_rate: Option<f64>,
    /// A capacity search, run after `loads` (which may be empty then).
    pub search: Option<SearchDef>,
    /// Open loop: spacing of arrivals (for a rate search's probes).
    pub arrival: Arrival,
    /// Gamma shape, `arrival` gamma only.
    pub burstiness: Option<f64>,
}

impl RunConfig {
    /// How the searched load reads in sentences: `in flight`, `sessions`, `requests/s`.
    pub fn search_unit(&self) -> &'static str {
        let sessions = matches!(self.workload.shape, super::Shape::Conversation { .. });
        match (self.search.as_ref().map(|s| s.over), sessions) {
            (Some(SearchOver::Rate), false) => "requests/s",
            (Some(SearchOver::Rate), true) => "sessions/s",
            (_, false) => "in flight",
            (_, true) => "sessions",
        }
    }

    /// The load of a search's probe at `value`.
    pub fn search_load(&self, value: f64) -> Option<Load> {
        let s = self.search.as_ref()?;
        let burst = (self.arrival == Arrival::Gamma).then_some(self.burstiness.unwrap_or(1.0));
        Some(s.load(value, self.arrival, burst))
    }
}

/// The prompts and the shape of each request.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// What the requests send (`single`, `shared_prefix`).
    pub shape: Shape,
    /// Route to measure.
    pub endpoint: Endpoint,
    /// Output tokens per request.
    pub output_tokens: u32,
    /// Synthetic prompts of exactly this many input tokens.
    pub input_tokens: Option<u32>,
    /// tokenizer.json for `input_tokens` [default: the server's /tokenize].
    pub tokenizer: Option<PathBuf>,
    /// Prompts file.
    pub prompts: Option<PathBuf>,
    /// The trace to replay (the `trace` workload).
    pub trace: Option<PathBuf>,
    /// Input lengths drawn per prompt (whole prompts as the server counts them, exactly).
    pub input_dist: Option<Dist>,
    /// Output lengths drawn per request.
    pub output_dist: Option<Dist>,
    /// Files that came with a sweep (prompts, tokenizer), used instead of the paths.
    pub attached: Vec<AttachedFile>,
    /// Send the prompts as they are, without the per-request preamble.
    pub verbatim_prompts: bool,
}

/// When a point stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PointStop {
    /// After this many measured requests (batch mode: whole batches).
    Requests(u64),
    /// No request starts after this long (the ones in flight finish).
    Duration(Duration),
}

impl PointStop {
    /// `(requests, duration)`, one of them set, as the runner takes them.
    pub fn split(self) -> (Option<u64>, Option<Duration>) {
        match self {
            PointStop::Requests(n) => (Some(n), None),
            PointStop::Duration(d) => (None, Some(d)),
        }
    }

    /// The stop of `requests` or `duration_s` [default: 64 requests].
    pub fn of(requests: Option<u64>, duration_s: Option<f64>) -> PointStop {
        match duration_s {
            Some(d) => PointStop::Duration(Duration::from_secs_f64(d)),
            None => PointStop::Requests(requests.unwrap_or(64)),
        }
    }
}
