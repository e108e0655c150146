//! The report's cross-checks: per job and engine, the output tokens llmsd counted against the
//! engine's own generation counter over the same points (DESIGN.md: a number that can be
//! cross-checked is, and a disagreement is reported, not hidden).

use super::table::{self, Jobs};

/// Rows keyed by job and engine, in the order first seen.
pub(super) type PerEngine<T> = Vec<(u64, String, T)>;

/// The row of job `job`'s engine `engine`, added (default) when first seen.
pub(super) fn entry<'a, T: Default>(
    rows: &'a mut PerEngine<T>,
    job: u64,
    engine: &str,
) -> &'a mut T {
    let at = match rows.iter().position(|(j, e, _)| *j == job && e == engine) {
        Some(i) => i,
        None => {
            rows.push((job, engine.to_owned(), T::default()));
            rows.len() - 1
        }
    };
    &mut rows[at].2
}

/// What one series' points say about the engine's counter.
#[derive(Default)]
struct Tally {
    metric: Vec<String>,
    points: usize,
    checked: usize,
    agree: usize,
    disagree: usize,
    unjudged: usize,
    restarted: usize,
    /// Totals over the compared points (agreement judged either way).
    client: u64,
    engine: f64,
    /// Largest relative difference (client − engine, % of engine) over the compared points.
    worst: Option<f64>,
    /// A compared point where the engine counted nothing and the client something.
    engine_zero: bool,
}

impl Tally {
    fn add(&mut self, p: &llms_shared::PointResult, s: &llms_shared::ServerCheck) {
        self.checked += 1;
        if !self.metric.contains(&s.metric) {
            self.metric.push(s.metric.clone());
        }
        if s.output_tokens < 0.0 {
            // The counter went down: the engine started over during the point.
            self.restarted += 1;
            return;
        }
        match s.agrees {
            Some(true) => self.agree += 1,
            Some(false) => self.disagree += 1,
            // Not comparable (a failed stream had sent part of its answer): out of the totals.
            None => {
                self.unjudged += 1;
                return;
            }
        }
        // The count that was compared; results from before it was stored hold only the
        // completed requests' tokens.
        let client = s.client_output_tokens.unwrap_or(p.output_tokens);
        self.client += client;
        self.engine += s.output_tokens;
        if s.output_tokens > 0.0 {
            let d = 100.0 * (client as f64 - s.output_tokens) / s.output_tokens;
            if self.worst.is_none_or(|w| d.abs() > w.abs()) {
                self.worst = Some(d);
            }
        } else if client > 0 {
            self.engine_zero = true;
        }
    }

    fn verdict(&self) -> String {
        if self.checked == 0 {
            return "no counter".into();
        }
        if self.agree == self.checked {
            return format!("equal in all {}", self.agree);
        }
        [
            (self.agree, "equal in"),
            (self.disagree, "DISAGREE in"),
            (self.restarted, "engine restarted in"),
            (self.unjudged, "not judged in"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{what} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
    }

    fn row(&self, job: u64, engine: &str) -> Vec<String> {
        let none = || "-".to_owned();
        let compared = self.agree + self.disagree > 0;
        let worst = if self.engine_zero {
            "engine counted 0".to_owned()
        } else {
            self.worst.map_or_else(none, |d| format!("{d:+.2} %"))
        };
        vec![
            job.to_string(),
            engine.to_owned(),
            if self.metric.is_empty() {
                none()
            } else {
                self.metric.join(", ")
            },
            format!("{}/{}", self.checked, self.points),
            if compared {
                self.client.to_string()
            } else {
                none()
            },
            if compared {
                format!("{:.0}", self.engine)
            } else {
                none()
            },
            worst,
            self.verdict(),
        ]
    }
}

/// One row per job and engine: the counter read, points checked out of points measured, the
/// client's and the engine's token totals over the compared points, the largest relative
/// difference (client − engine, % of engine) and the verdict. The client's count is the one
/// the point was judged by: `usage.completion_tokens` of every request, failed ones included.
/// A point is "not judged" when the engine's count is not knowable from the client's side (a
/// failed request had streamed part of its answer); it stays out of the totals, as does a
/// point during which the engine restarted.
pub fn checks_md(jobs: &Jobs) -> String {
    let mut rows: PerEngine<Tally> = Vec::new();
    for (j, points) in jobs {
        for r in points {
            let Some(p) = &r.point else { continue };
            let t = entry(&mut rows, j.id, &r.engine);
            t.points += 1;
            if let Some(s) = &p.server {
                t.add(p, s);
            }
        }
    }
    if rows.is_empty() {
        return "No measured points.\n".into();
    }
    let headers = [
        "job",
        "engine",
        "engine counter",
        "points checked",
        "tokens by llmsd",
        "tokens by engine",
        "largest difference",
        "verdict",
    ]
    .map(String::from);
    let body: Vec<Vec<String>> = rows.iter().map(|(j, e, t)| t.row(*j, e)).collect();
    table::md_table(&headers, &body)
}

/// One row per job and engine with GPU figures: the peak memory NVML saw in use on the
/// point's GPUs and the peak held by the engine's own processes, each the highest over the
/// engine's points, in GiB, and the largest gap between the two within one point. A gap beyond
/// the driver's own reservation means something else used the GPU while the engine was
/// measured.
pub fn memory_md(jobs: &Jobs) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    /// Peak used, the engine's own peak, the largest per-point gap (bytes), points.
    #[derive(Default)]
    struct Mem {
        used: Option<u64>,
        own: Option<u64>,
        gap: Option<i128>,
        points: usize,
    }
    let mut rows: PerEngine<Mem> = Vec::new();
    for (j, points) in jobs {
        for r in points {
            let Some(g) = &r.gpu else { continue };
            // Per point, summed over its GPUs: an engine spread over two GPUs holds both.
            let sum = |f: fn(&llms_shared::GpuPointStats) -> Option<u64>| {
                g.gpus.iter().filter_map(f).reduce(|a, b| a + b)
            };
            let (used, own) = (sum(|s| s.peak_mem_used), sum(|s| s.engine_mem_peak));
            let m = entry(&mut rows, j.id, &r.engine);
            m.used = m.used.max(used);
            m.own = m.own.max(own);
            if let (Some(u), Some(o)) = (used, own) {
                m.gap = m.gap.max(Some(i128::from(u) - i128::from(o)));
            }
            m.points += 1;
        }
    }
    if rows.is_empty() {
        return "No GPU figures.\n".into();
    }
    let gib =
        |b: Option<u64>| b.map_or_else(|| "-".to_owned(), |b| format!("{:.1}", b as f64 / GIB));
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|(j, e, m)| {
            vec![
                j.to_string(),
                e.clone(),
                m.points.to_string(),
                gib(m.used),
                gib(m.own),
                m.gap
                    .map_or_else(|| "-".to_owned(), |g| format!("{:+.1}", g as f64 / GIB)),
            ]
        })
        .collect();
    let headers = [
        "job",
        "engine",
        "points",
        "peak used GiB (NVML)",
        "engine's processes GiB",
        "largest gap GiB",
    ]
    .map(String::from);
    table::md_table(&headers, &body)
}
