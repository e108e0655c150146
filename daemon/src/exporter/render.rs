//! What `/metrics` says: a [`Snapshot`] of the daemon's state turned into the Prometheus text
//! format (0.0.4) by `prometheus-client`. A fresh registry per scrape, filled from the same
//! handles the API answers from, so a scrape and an API call at the same moment agree.
//!
//! Names follow Prometheus conventions: the `llmsd_` prefix, base units in the name
//! (`_seconds`, `_bytes`, `_watts`, `_joules`, `_ratio`), `_total` on counters (the crate adds
//! it to every counter's name).

use llms_shared::{EngineInfo, EngineState, GpuSample, JobState, JobSummary, LivePoint};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// The content type of what [`render`] writes.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The daemon's state at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every job's list row.
    pub jobs: Vec<JobSummary>,
    /// The points running now.
    pub live: Vec<LivePoint>,
    /// The engines the daemon knows (this run's and the last ones of earlier runs).
    pub engines: Vec<EngineInfo>,
    /// The latest GPU round.
    pub gpus: Vec<GpuSample>,
    /// The daemon process itself.
    pub own: Own,
}

/// llmsd's own figures.
#[derive(Debug, Clone, Default)]
pub struct Own {
    /// Resident set size, bytes.
    pub rss_bytes: Option<u64>,
    /// The store's size on disk, bytes.
    pub store_bytes: Option<u64>,
    /// When the daemon started, unix seconds.
    pub start_unix_s: f64,
    /// Now, unix ms (uptimes are taken against it).
    pub now_ms: u64,
    /// API calls per method since the start.
    pub calls: Vec<(&'static str, u64)>,
}

type Labels = Vec<(String, String)>;
type Gauges = Family<Labels, Gauge<f64, AtomicU64>>;
type Counters = Family<Labels, Counter<f64, AtomicU64>>;

/// A registry with shorthand for the two kinds this exporter uses.
struct Out(Registry);

impl Out {
    fn gauge(&mut self, name: &str, help: &str) -> Gauges {
        let g = Gauges::default();
        self.0.register(name, help, g.clone());
        g
    }

    /// `name` without `_total`: the crate appends it.
    fn counter(&mut self, name: &str, help: &str) -> Counters {
        let c = Counters::default();
        self.0.register(name, help, c.clone());
        c
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn set(g: &Gauges, l: &Labels, v: Option<f64>) {
    if let Some(v) = v.filter(|v| v.is_finite()) {
        g.get_or_create(l).set(v);
    }
}

fn add(c: &Counters, l: &Labels, v: Option<f64>) {
    if let Some(v) = v.filter(|v| v.is_finite() && *v >= 0.0) {
        c.get_or_create(l).inc_by(v);
    }
}

/// The Prometheus text for `s`.
pub fn render(s: &Snapshot) -> String {
    let mut out = Out(Registry::default());
    own(&mut out, &s.own);
    queue(&mut out, &s.jobs);
    points(&mut out, &s.live);
    engines(&mut out, &s.engines, s.own.now_ms);
    gpus(&mut out, &s.gpus, &s.engines);
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_text::encode(&mut text, &out.0);
    text
}

fn own(out: &mut Out, o: &Own) {
    out.0.register(
        "llmsd_build",
        "llmsd's version",
        Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
    );
    let mut single = |name: &str, help: &str, v: Option<f64>| {
        set(&out.gauge(name, help), &labels(&[]), v);
    };
    single(
        "llmsd_process_resident_memory_bytes",
        "llmsd's resident memory",
        o.rss_bytes.map(|b| b as f64),
    );
    single(
        "llmsd_process_start_time_seconds",
        "When llmsd started, unix seconds",
        Some(o.start_unix_s),
    );
    single(
        "llmsd_store_size_bytes",
        "The store's size on disk (sled and the journal)",
        o.store_bytes.map(|b| b as f64),
    );
    let c = out.counter(
        "llmsd_api_calls",
        "API calls since llmsd started, by method",
    );
    for (m, n) in &o.calls {
        add(&c, &labels(&[("method", m)]), Some(*n as f64));
    }
}

const STATES: [JobState; 6] = [
    JobState::Queued,
    JobState::Starting,
    JobState::Running,
    JobState::Done,
    JobState::Failed,
    JobState::Cancelled,
];

fn queue(out: &mut Out, jobs: &[JobSummary]) {
    let by_state = out.gauge("llmsd_jobs", "Jobs in the store, by state");
    for st in STATES {
        let n = jobs.iter().filter(|j| j.state == st).count();
        set(
            &by_state,
            &labels(&[("state", st.as_str())]),
            Some(n as f64),
        );
    }
    let done = out.gauge(
        "llmsd_job_points_done",
        "Points finished (failed ones included), per unfinished job",
    );
    let failed = out.gauge(
        "llmsd_job_points_failed",
        "Points that failed, per unfinished job",
    );
    let planned = out.gauge(
        "llmsd_job_points_planned",
        "Points the job expands to, per unfinished job",
    );
    for j in jobs.iter().filter(|j| !j.state.is_final()) {
        let id = j.id.to_string();
        let l = labels(&[
            ("job_id", &id),
            ("name", &j.name),
            ("state", j.state.as_str()),
        ]);
        set(&done, &l, Some(f64::from(j.points_done)));
        set(&failed, &l, Some(f64::from(j.points_failed)));
        set(&planned, &l, Some(f64::from(j.points_total)));
    }
}

fn points(out: &mut Out, live: &[LivePoint]) {
    let elapsed = out.gauge(
        "llmsd_point_elapsed_seconds",
        "Seconds since the running point's measured part began",
    );
    let done = out.counter(
        "llmsd_point_requests_completed",
        "Requests of the running point that ended, failed ones included",
    );
    let failed = out.counter(
        "llmsd_point_requests_failed",
        "Requests of the running point that failed",
    );
    let in_flight = out.gauge(
        "llmsd_point_requests_in_flight",
        "Requests of the running point sent and not ended",
    );
    let planned = out.gauge(
        "llmsd_point_requests_planned",
        "Requests the running point will send, where fixed",
    );
    let tokens = out.counter(
        "llmsd_point_output_tokens",
        "Output tokens the running point has received",
    );
    let prompt = out.counter(
        "llmsd_point_prompt_tokens",
        "Prompt tokens of the running point's completed requests",
    );
    let cached = out.counter(
        "llmsd_point_cached_prompt_tokens",
        "Of those, served from the engine's prefix cache (where the engine reports it)",
    );
    let rate = out.gauge(
        "llmsd_point_output_tokens_per_second",
        "Output tokens received in the last second",
    );
    let ttft = out.gauge(
        "llmsd_point_ttft_seconds",
        "Time to first token of the running point so far, by quantile (0.5, 0.99)",
    );
    let itl = out.gauge(
        "llmsd_point_itl_seconds",
        "Inter-token latency of the running point so far, by quantile (0.5, 0.99)",
    );
    for p in live {
        let (job, index) = (p.job.to_string(), p.index.to_string());
        let load = p.load.as_ref().map(ToString::to_string).unwrap_or_default();
        let l = labels(&[
            ("job_id", &job),
            ("point", &index),
            ("engine", &p.engine),
            ("load", &load),
        ]);
        set(&elapsed, &l, Some(p.elapsed_s));
        add(&done, &l, Some(p.requests_done as f64));
        add(&failed, &l, Some(p.failed as f64));
        set(&in_flight, &l, Some(p.in_flight as f64));
        set(&planned, &l, p.requests_total.map(|n| n as f64));
        add(&tokens, &l, Some(p.output_tokens as f64));
        add(&prompt, &l, Some(p.prompt_tokens as f64));
        add(&cached, &l, p.cached_tokens.map(|n| n as f64));
        set(&rate, &l, Some(p.tokens_per_s));
        for (family, pair) in [(&ttft, p.ttft_ms), (&itl, p.itl_ms)] {
            let Some((p50, p99)) = pair else { continue };
            for (q, ms) in [("0.5", p50), ("0.99", p99)] {
                let mut lq = l.clone();
                lq.push(("quantile".into(), q.into()));
                set(family, &lq, Some(ms / 1000.0));
            }
        }
    }
}

/// The state's name as the `state` label gives it.
pub fn engine_state(s: &EngineState) -> &'static str {
    match s {
        EngineState::Starting => "starting",
        EngineState::Building(_) => "building",
        EngineState::Ready => "ready",
        EngineState::Stopping => "stopping",
        EngineState::Stopped => "stopped",
        EngineState::Failed(_) => "failed",
    }
}

fn engines(out: &mut Out, list: &[EngineInfo], now_ms: u64) {
    let state = out.gauge(
        "llmsd_engine_state",
        "1 for each engine, labelled with its state",
    );
    let up = out.gauge(
        "llmsd_engine_uptime_seconds",
        "Seconds since an engine that has not stopped was launched",
    );
    // A gauge: it is counted from the engines llmsd still lists, which drop the oldest.
    let restarts = out.gauge(
        "llmsd_engine_restarts",
        "Times a job's engine was started again (after a daemon restart), per job and engine",
    );
    let running = out.gauge(
        "llmsd_engine_requests_running",
        "Requests the engine is decoding, from its own /metrics",
    );
    let waiting = out.gauge(
        "llmsd_engine_requests_waiting",
        "Requests the engine has queued, from its own /metrics",
    );
    let kv = out.gauge(
        "llmsd_engine_kv_cache_usage_ratio",
        "The engine's KV-cache usage, 0 to 1, from its own /metrics",
    );
    let prompt = out.counter(
        "llmsd_engine_prompt_tokens",
        "Prompt tokens the engine has processed since it started, from its own /metrics",
    );
    let generated = out.counter(
        "llmsd_engine_generation_tokens",
        "Tokens the engine has generated since it started, from its own /metrics",
    );
    let mut starts: std::collections::BTreeMap<(u64, &str, &str), u32> = Default::default();
    for e in list {
        let id = e.id.to_string();
        let job = e.job.map(|j| j.to_string()).unwrap_or_default();
        let base = labels(&[
            ("engine_id", &id),
            ("engine", &e.name),
            ("kind", &e.kind),
            ("job_id", &job),
        ]);
        let mut l = base.clone();
        l.push(("state".into(), engine_state(&e.state).into()));
        set(&state, &l, Some(1.0));
        if let Some(j) = e.job {
            *starts.entry((j, &e.name, &e.kind)).or_default() += 1;
        }
        let live = matches!(
            e.state,
            EngineState::Starting | EngineState::Building(_) | EngineState::Ready
        );
        if live {
            let secs = now_ms.saturating_sub(e.started_ms) as f64 / 1000.0;
            set(&up, &base, Some(secs));
        }
        if let (true, Some(m)) = (live, &e.metrics) {
            set(&running, &base, m.running);
            set(&waiting, &base, m.waiting);
            set(&kv, &base, m.kv_cache_usage);
            add(&prompt, &base, m.prompt_tokens_total);
            add(&generated, &base, m.generation_tokens_total);
        }
    }
    for ((job, name, kind), n) in starts {
        let job = job.to_string();
        let l = labels(&[("job_id", &job), ("engine", name), ("kind", kind)]);
        set(&restarts, &l, Some(f64::from(n - 1)));
    }
}

/// Bytes each engine's processes hold on `g` (engines holding none left out).
fn held<'a>(g: &GpuSample, list: &'a [EngineInfo]) -> Vec<(&'a EngineInfo, u64)> {
    list.iter()
        .filter_map(|e| {
            let bytes: u64 = g
                .processes
                .iter()
                .filter(|(p, _)| e.pid == Some(*p) || e.pids.contains(p))
                .map(|(_, b)| b)
                .sum();
            (bytes > 0).then_some((e, bytes))
        })
        .collect()
}

fn gpus(out: &mut Out, samples: &[GpuSample], list: &[EngineInfo]) {
    let util = out.gauge("llmsd_gpu_utilization_ratio", "GPU utilization, 0 to 1");
    let used = out.gauge("llmsd_gpu_memory_used_bytes", "GPU memory used");
    let total = out.gauge("llmsd_gpu_memory_total_bytes", "GPU memory in all");
    let power = out.gauge("llmsd_gpu_power_watts", "GPU power draw");
    let limit = out.gauge(
        "llmsd_gpu_power_limit_watts",
        "The GPU's power limit in force",
    );
    let energy = out.counter(
        "llmsd_gpu_energy_joules",
        "Energy the GPU used since its driver loaded",
    );
    let temp = out.gauge("llmsd_gpu_temperature_celsius", "GPU temperature");
    let clock = out.gauge("llmsd_gpu_sm_clock_hertz", "GPU SM clock");
    let engine_mem = out.gauge(
        "llmsd_gpu_engine_memory_bytes",
        "GPU memory of each engine's processes",
    );
    for g in samples {
        let index = g.index.to_string();
        let held = held(g, list);
        // The engines whose processes hold memory here, by name, `+`-joined.
        let mut names: Vec<&str> = held.iter().map(|(e, _)| e.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let who = names.join("+");
        let l = labels(&[("gpu", &index), ("name", &g.name), ("engine", &who)]);
        let f = |v: Option<u32>, scale: f64| v.map(|v| f64::from(v) * scale);
        set(&util, &l, f(g.util_pct, 0.01));
        set(&used, &l, g.mem_used.map(|b| b as f64));
        set(&total, &l, g.mem_total.map(|b| b as f64));
        set(&power, &l, f(g.power_mw, 0.001));
        set(&limit, &l, f(g.power_limit_mw, 0.001));
        // Without `engine`: a counter must keep its series when the engines on it change.
        let by_gpu = labels(&[("gpu", &index), ("name", &g.name)]);
        add(&energy, &by_gpu, g.energy_mj.map(|mj| mj as f64 / 1000.0));
        set(&temp, &l, f(g.temp_c, 1.0));
        set(&clock, &l, f(g.sm_clock_mhz, 1e6));
        for (e, bytes) in held {
            let id = e.id.to_string();
            let l = labels(&[
                ("gpu", &index),
                ("name", &g.name),
                ("engine", &e.name),
                ("engine_id", &id),
            ]);
            set(&engine_mem, &l, Some(bytes as f64));
        }
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
