//! The report's cross-checks: per job and engine, the output tokens llmsd counted against the
//! engine's own generation counter over the same points (DESIGN.md: a number that can be
//! cross-checked is, and a disagreement is reported, not hidden).

use super::table::{self, Jobs};

/// Rows keyed by job and engine, in the order first seen.
type PerEngine<T> = Vec<(u64, String, T)>;

/// The row of job `job`'s engine `engine`, added (default) when first seen.
fn entry<'a, T: Default>(rows: &'a mut PerEngine<T>, job: u64, engine: &str) -> &'a mut T {
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
    client: u64,
    engine: f64,
    worst: Option<f64>,
}

impl Tally {
    fn row(&self, job: u64, engine: &str) -> Vec<String> {
        let verdict = if self.checked == 0 {
            "no counter".to_owned()
        } else if self.disagree + self.restarted > 0 {
            let mut v = format!("DISAGREE in {}", self.disagree);
            if self.restarted > 0 {
                v.push_str(&format!(", engine restarted in {}", self.restarted));
            }
            v
        } else if self.unjudged > 0 {
            format!("equal in {}, {} not judged", self.agree, self.unjudged)
        } else {
            format!("equal in all {}", self.agree)
        };
        let none = || "-".to_owned();
        vec![
            job.to_string(),
            engine.to_owned(),
            if self.metric.is_empty() {
                none()
            } else {
                self.metric.join(", ")
            },
            format!("{}/{}", self.checked, self.points),
            if self.checked == 0 {
                none()
            } else {
                self.client.to_string()
            },
            if self.checked == 0 {
                none()
            } else {
                format!("{:.0}", self.engine)
            },
            self.worst.map_or_else(none, |d| format!("{d:+.2} %")),
            verdict,
        ]
    }
}

/// One row per job and engine: the counter read, points checked out of points measured, the
/// client's and the engine's token totals over the checked points, the largest relative
/// difference (client − engine, % of engine) and the verdict. A point is "not judged" when
/// the engine's count is not knowable from the client's side (a failed request had streamed
/// part of its answer).
pub fn checks_md(jobs: &Jobs) -> String {
    let mut rows: PerEngine<Tally> = Vec::new();
    for (j, points) in jobs {
        for r in points {
            let Some(p) = &r.point else { continue };
            let t = entry(&mut rows, j.id, &r.engine);
            t.points += 1;
            let Some(s) = &p.server else { continue };
            t.checked += 1;
            if !t.metric.contains(&s.metric) {
                t.metric.push(s.metric.clone());
            }
            if s.output_tokens < 0.0 {
                t.restarted += 1;
                continue;
            }
            match s.agrees {
                Some(true) => t.agree += 1,
                Some(false) => t.disagree += 1,
                None => t.unjudged += 1,
            }
            t.client += p.output_tokens;
            t.engine += s.output_tokens;
            if s.output_tokens > 0.0 {
                let d = 100.0 * (p.output_tokens as f64 - s.output_tokens) / s.output_tokens;
                if t.worst.is_none_or(|w: f64| d.abs() > w.abs()) {
                    t.worst = Some(d);
                }
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
/// point's GPUs against the peak held by the engine's own processes, both the highest over
/// the engine's points, in GiB, and the gap between them. A gap beyond the driver's own
/// reservation means something else used the GPU while the engine was measured.
pub fn memory_md(jobs: &Jobs) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    // (peak used, engine's own peak, points), the peaks the highest over the points.
    let mut rows: PerEngine<(Option<u64>, Option<u64>, usize)> = Vec::new();
    for (j, points) in jobs {
        for r in points {
            let Some(g) = &r.gpu else { continue };
            // Per point, summed over its GPUs: an engine spread over two GPUs holds both.
            let sum = |f: fn(&llms_shared::GpuPointStats) -> Option<u64>| {
                g.gpus.iter().filter_map(f).reduce(|a, b| a + b)
            };
            let x = entry(&mut rows, j.id, &r.engine);
            x.0 = x.0.max(sum(|s| s.peak_mem_used));
            x.1 = x.1.max(sum(|s| s.engine_mem_peak));
            x.2 += 1;
        }
    }
    if rows.is_empty() {
        return "No GPU figures.\n".into();
    }
    let gib =
        |b: Option<u64>| b.map_or_else(|| "-".to_owned(), |b| format!("{:.1}", b as f64 / GIB));
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|(j, e, (used, own, n))| {
            let gap = used.zip(*own).map_or_else(
                || "-".to_owned(),
                |(u, o)| format!("{:+.1}", (u as f64 - o as f64) / GIB),
            );
            vec![
                j.to_string(),
                e.clone(),
                n.to_string(),
                gib(*used),
                gib(*own),
                gap,
            ]
        })
        .collect();
    let headers = [
        "job",
        "engine",
        "points",
        "peak used GiB (NVML)",
        "engine's processes GiB",
        "gap GiB",
    ]
    .map(String::from);
    table::md_table(&headers, &body)
}
