//! Comparing points across engines and jobs: the rows behind `llms compare`, the Results
//! screen and `llms report`. Pure: results in, rows and series out.

use crate::frontier;
use llms_shared::{JobSummary, Load, ResultRow, SearchRole};
use std::collections::BTreeMap;

/// One point, flattened for comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct CmpRow {
    /// Job id.
    pub job: u64,
    /// Job name.
    pub job_name: String,
    /// Series name: the engine, prefixed with the job when several jobs are compared
    /// (`7/vllm`).
    pub series: String,
    /// Engine kind.
    pub kind: String,
    /// `concurrency`, `batch` or `rate`.
    pub mode: &'static str,
    /// The load value (requests in flight, batch size, or arrivals per second).
    pub x: f64,
    /// Why the point has no figures.
    pub error: Option<String>,
    /// Validity flags of the point.
    pub flags: Vec<String>,
    /// Failed requests.
    pub failed_requests: u64,
    /// Output tokens per second.
    pub throughput: Option<f64>,
    /// Requests per second.
    pub req_per_s: Option<f64>,
    /// Requests per second that met every objective, where objectives were given.
    pub goodput: Option<f64>,
    /// TTFT p50 and p99, ms.
    pub ttft_p50: Option<f64>,
    /// TTFT p99, ms.
    pub ttft_p99: Option<f64>,
    /// ITL p50, ms.
    pub itl_p50: Option<f64>,
    /// ITL p99, ms.
    pub itl_p99: Option<f64>,
    /// Highest GPU memory used on any GPU of the point, GiB.
    pub peak_mem_gib: Option<f64>,
    /// Output tokens per joule.
    pub tokens_per_joule: Option<f64>,
    /// Prompt tokens the engine served from its prefix cache, percent, where it reported them.
    pub cache_hit_pct: Option<f64>,
    /// Output tokens per second over the point's steady window (not the whole point).
    pub steady_throughput: Option<f64>,
    /// Output tokens per second per user: 1000 / TPOT mean (`None` without a TPOT).
    pub per_user: Option<f64>,
    /// Output tokens per second per GPU: `throughput` over `gpus` (1 when none measured).
    pub per_gpu: Option<f64>,
    /// GPUs the point was measured on (0: no GPU figures; `per_gpu` then assumes 1).
    pub gpus: usize,
    /// The point's part in its engine's capacity search, when it is one.
    pub role: Option<SearchRole>,
    /// On its series' Pareto frontier of `per_user` against `per_gpu`.
    pub on_frontier: bool,
    /// A search point: whether it met every objective, as its engine's search judged it
    /// (`None`: not a search point, or its search report is not there).
    pub search_pass: Option<bool>,
}

impl CmpRow {
    /// Failed: an error, or no figures (no throughput), as [`crate::output::row_state`] reads
    /// a row.
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.throughput.is_none()
    }

    /// Failed, or flagged: worth a mark in tables and charts.
    pub fn marked(&self) -> bool {
        self.failed() || !self.flags.is_empty() || self.failed_requests > 0
    }
}

/// A metric to chart or pivot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// Output tokens per second.
    Throughput,
    /// TTFT p50, ms.
    TtftP50,
    /// TTFT p99, ms.
    TtftP99,
    /// ITL p50, ms.
    ItlP50,
    /// ITL p99, ms.
    ItlP99,
    /// Peak GPU memory, GiB.
    PeakMem,
    /// Output tokens per joule.
    TokensPerJoule,
}

impl Metric {
    /// Every metric, in table order.
    pub const ALL: [Metric; 7] = [
        Metric::Throughput,
        Metric::TtftP50,
        Metric::TtftP99,
        Metric::ItlP50,
        Metric::ItlP99,
        Metric::PeakMem,
        Metric::TokensPerJoule,
    ];

    /// Column title with its unit.
    pub fn title(self) -> &'static str {
        match self {
            Metric::Throughput => "output tok/s",
            Metric::TtftP50 => "TTFT p50 ms",
            Metric::TtftP99 => "TTFT p99 ms",
            Metric::ItlP50 => "ITL p50 ms",
            Metric::ItlP99 => "ITL p99 ms",
            Metric::PeakMem => "peak mem GiB",
            Metric::TokensPerJoule => "tok/J",
        }
    }

    /// Short name for files and keys (`throughput`, `ttft_p50`, ...).
    pub fn key(self) -> &'static str {
        match self {
            Metric::Throughput => "throughput",
            Metric::TtftP50 => "ttft_p50",
            Metric::TtftP99 => "ttft_p99",
            Metric::ItlP50 => "itl_p50",
            Metric::ItlP99 => "itl_p99",
            Metric::PeakMem => "peak_mem",
            Metric::TokensPerJoule => "tokens_per_joule",
        }
    }

    /// The value of this metric in a row.
    pub fn of(self, r: &CmpRow) -> Option<f64> {
        match self {
            Metric::Throughput => r.throughput,
            Metric::TtftP50 => r.ttft_p50,
            Metric::TtftP99 => r.ttft_p99,
            Metric::ItlP50 => r.itl_p50,
            Metric::ItlP99 => r.itl_p99,
            Metric::PeakMem => r.peak_mem_gib,
            Metric::TokensPerJoule => r.tokens_per_joule,
        }
    }
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The load's mode and value.
pub fn load_x(load: &Load) -> (&'static str, f64) {
    match load {
        Load::Concurrency { concurrency } => ("concurrency", f64::from(*concurrency)),
        Load::Batch { batch } => ("batch", f64::from(*batch)),
        Load::Rate { rate, .. } => ("rate", *rate),
        Load::Trace { speed } => ("speed", *speed),
    }
}

/// A series' name: the engine, prefixed with the job (`7/vllm`) when several jobs are
/// compared.
pub fn series_name(many: bool, job: u64, engine: &str) -> String {
    if many {
        format!("{job}/{engine}")
    } else {
        engine.to_owned()
    }
}

/// Rows of every point of the given jobs, ordered by mode, then job (in the order given),
/// engine, and load value. Series names carry the job id only when more than one job is
/// compared.
pub fn rows(jobs: &[(JobSummary, Vec<ResultRow>)]) -> Vec<CmpRow> {
    let many = jobs.len() > 1;
    let mut out = Vec::new();
    for (job, points) in jobs {
        for r in points {
            let load = r
                .load
                .clone()
                .or_else(|| r.point.as_ref().map(|p| p.load.clone()));
            let plan_x = load
                .as_ref()
                .map(load_x)
                .unwrap_or(("concurrency", f64::NAN));
            let p = r.point.as_ref();
            let gpus = r.gpu.as_ref().map_or(0, |g| g.gpus.len());
            let peak = r.gpu.as_ref().and_then(|g| {
                g.gpus
                    .iter()
                    .filter_map(|s| s.peak_mem_used)
                    .max()
                    .map(|b| b as f64 / GIB)
            });
            out.push(CmpRow {
                job: job.id,
                job_name: job.name.clone(),
                series: series_name(many, job.id, &r.engine),
                kind: r.kind.clone(),
                mode: plan_x.0,
                x: plan_x.1,
                error: r.error.clone(),
                flags: p.map(|p| p.flags.clone()).unwrap_or_default(),
                failed_requests: p.map_or(0, |p| p.failed),
                throughput: p.map(|p| p.output_throughput),
                req_per_s: p.map(|p| p.request_throughput),
                goodput: p
                    .filter(|p| p.slo != llms_shared::Slo::default())
                    .map(|p| p.goodput),
                ttft_p50: p.map(|p| p.ttft_ms.p50),
                ttft_p99: p.map(|p| p.ttft_ms.p99),
                itl_p50: p.map(|p| p.itl_ms.p50),
                itl_p99: p.map(|p| p.itl_ms.p99),
                peak_mem_gib: peak,
                tokens_per_joule: r.gpu.as_ref().and_then(|g| g.tokens_per_joule),
                cache_hit_pct: p
                    .and_then(|p| p.prefix_cache.as_ref())
                    .map(|c| 100.0 * c.hit_rate),
                steady_throughput: p
                    .and_then(|p| p.steady.as_ref())
                    .filter(|s| s.duration_s > 0.0)
                    .map(|s| s.output_throughput),
                per_user: p.and_then(|p| frontier::per_user(p.tpot_ms.mean)),
                per_gpu: p.map(|p| frontier::per_gpu(p.output_throughput, gpus)),
                gpus,
                role: r.role,
                on_frontier: false,
                search_pass: search_pass(points, r, load.as_ref()),
            });
        }
    }
    let rank = |job: u64| {
        jobs.iter()
            .position(|(j, _)| j.id == job)
            .unwrap_or(usize::MAX)
    };
    out.sort_by(|a, b| {
        (a.mode, rank(a.job), &a.series)
            .cmp(&(b.mode, rank(b.job), &b.series))
            .then(a.x.total_cmp(&b.x))
    });
    frontier::mark(&mut out);
    out
}

/// How a search point fared, from the probe of its engine's search report with its role
/// and load.
fn search_pass(points: &[ResultRow], r: &ResultRow, load: Option<&Load>) -> Option<bool> {
    let role = r.role?;
    let report = points
        .iter()
        .filter(|o| o.engine == r.engine)
        .find_map(|o| o.search.as_ref())?;
    report
        .probes
        .iter()
        .find(|p| p.role == role && Some(&p.load) == load)
        .map(|p| p.pass)
}

/// Per series, the (load value, metric) points that have the metric, for charts.
pub fn series(rows: &[CmpRow], metric: Metric) -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut m: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for r in rows {
        if let Some(y) = metric.of(r).filter(|y| y.is_finite())
            && r.x.is_finite()
        {
            m.entry(r.series.clone()).or_default().push((r.x, y));
        }
    }
    m
}

/// A metric as a grid: the series names (columns), then per load value its cells.
pub type Grid = (Vec<String>, Vec<(f64, Vec<Option<f64>>)>);

/// One metric as a grid: a row per load value, a column per series (`None` where a series
/// has no such point or no figure).
pub fn pivot(rows: &[CmpRow], metric: Metric) -> Grid {
    pivot_by(rows, |r| metric.of(r))
}

/// [`pivot`] of any figure of a row.
pub fn pivot_by(rows: &[CmpRow], figure: impl Fn(&CmpRow) -> Option<f64>) -> Grid {
    let mut names: Vec<String> = rows.iter().map(|r| r.series.clone()).collect();
    names.sort();
    names.dedup();
    let mut xs: Vec<f64> = rows.iter().map(|r| r.x).filter(|x| x.is_finite()).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let grid = xs
        .into_iter()
        .map(|x| {
            let cells = names
                .iter()
                .map(|n| {
                    rows.iter()
                        .find(|r| &r.series == n && r.x == x)
                        .and_then(&figure)
                })
                .collect();
            (x, cells)
        })
        .collect();
    (names, grid)
}

/// A number for tables: `-` when absent, fewer decimals as it grows.
pub fn fmt(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if !v.is_finite() => "-".into(),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// A load as `llms` writes it everywhere: `c=8`, `batch=4`, `rate=4/s`, `speed=2x`; `-`
/// when its value is unknown.
pub fn load_text(mode: &str, x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let v = fmt_x(x);
    match mode {
        "concurrency" => format!("c={v}"),
        "rate" => format!("rate={v}/s"),
        "speed" => format!("speed={v}x"),
        m => format!("{m}={v}"),
    }
}

/// The load value as written in sweeps (`8`, `2.5`).
pub fn fmt_x(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
