//! The report's checks of how the points were measured: the engine's own inter-token histogram
//! against llmsd's gaps (every engine step counted once), and the prefix-cache hits the engine
//! reported (prompts that were meant to be fresh).

use super::checks::{PerEngine, entry};
use super::table::{self, Jobs};

/// One row per job and engine whose engine exports an inter-token latency histogram: points
/// checked, gaps llmsd measured against gaps the engine observed (equal when each engine step
/// reached llmsd as its own chunk), the largest difference between the two distributions at
/// the engine's bucket bounds, and the ITL p50 and p99 of both over the engine's points.
pub fn itl_md(jobs: &Jobs) -> String {
    #[derive(Default)]
    struct Itl {
        metric: String,
        points: usize,
        equal: usize,
        client: u64,
        engine: u64,
        cdf: f64,
        /// (llmsd p50, engine p50, llmsd p99, engine p99) ranges over points.
        p: Vec<(f64, f64, f64, f64)>,
    }
    let mut rows: PerEngine<Itl> = Vec::new();
    for (j, points) in jobs {
        for r in points {
            let Some(p) = &r.point else { continue };
            let Some(c) = p.server.as_ref().and_then(|s| s.itl.as_ref()) else {
                continue;
            };
            let t = entry(&mut rows, j.id, &r.engine);
            t.metric.clone_from(&c.metric);
            t.points += 1;
            t.equal += usize::from(c.client_gaps == c.engine_gaps);
            t.client += c.client_gaps;
            t.engine += c.engine_gaps;
            t.cdf = t.cdf.max(c.max_cdf_diff);
            t.p.push((p.itl_ms.p50, c.engine_p50_ms, p.itl_ms.p99, c.engine_p99_ms));
        }
    }
    if rows.is_empty() {
        return "No engine inter-token histogram read.\n".into();
    }
    let range = |v: &[(f64, f64, f64, f64)], f: fn(&(f64, f64, f64, f64)) -> f64| {
        let lo = v.iter().map(f).fold(f64::INFINITY, f64::min);
        let hi = v.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
        match (hi - lo).abs() < 0.005 {
            true => format!("{lo:.2}"),
            false => format!("{lo:.2}-{hi:.2}"),
        }
    };
    let body = rows
        .iter()
        .map(|(j, e, t)| {
            let verdict = match t.equal == t.points {
                true => format!("gaps equal in all {}", t.points),
                false => format!(
                    "gaps equal in {}, DIFFER in {}",
                    t.equal,
                    t.points - t.equal
                ),
            };
            vec![
                j.to_string(),
                e.clone(),
                t.metric.clone(),
                t.points.to_string(),
                t.client.to_string(),
                t.engine.to_string(),
                format!("{:.3}", t.cdf),
                format!("{} / {}", range(&t.p, |x| x.0), range(&t.p, |x| x.1)),
                format!("{} / {}", range(&t.p, |x| x.2), range(&t.p, |x| x.3)),
                verdict,
            ]
        })
        .collect::<Vec<_>>();
    let headers = [
        "job",
        "engine",
        "engine histogram",
        "points",
        "gaps by llmsd",
        "gaps by engine",
        "largest CDF difference",
        "ITL p50 ms llmsd / engine",
        "ITL p99 ms llmsd / engine",
        "verdict",
    ]
    .map(String::from);
    table::md_table(&headers, &body)
}

/// One row per job and engine that reported prefix-cache hits: where they were read, prompt
/// tokens served from the cache out of all, the largest share beyond the chat template's own
/// head in one point, and how many points were flagged `prefix_cache_hits`.
pub fn cache_md(jobs: &Jobs) -> String {
    #[derive(Default)]
    struct Hits {
        source: Vec<String>,
        points: usize,
        cached: u64,
        prompt: u64,
        worst: f64,
        flagged: usize,
        verbatim: usize,
    }
    let mut rows: PerEngine<Hits> = Vec::new();
    for (j, points) in jobs {
        for r in points {
            let Some(p) = &r.point else { continue };
            let Some(c) = &p.prefix_cache else { continue };
            let t = entry(&mut rows, j.id, &r.engine);
            if !t.source.contains(&c.source) {
                t.source.push(c.source.clone());
            }
            t.points += 1;
            t.cached += c.cached_tokens;
            t.prompt += c.prompt_tokens;
            t.worst = t.worst.max(c.excess_hit_rate);
            t.flagged += usize::from(p.flagged("prefix_cache_hits"));
            t.verbatim += usize::from(!c.unique_prompts);
        }
    }
    if rows.is_empty() {
        return "No engine reported prefix-cache hits.\n".into();
    }
    let body = rows
        .iter()
        .map(|(j, e, t)| {
            let rate = match t.prompt {
                0 => "-".to_owned(),
                n => format!("{:.1} %", 100.0 * t.cached as f64 / n as f64),
            };
            vec![
                j.to_string(),
                e.clone(),
                t.source.join(", "),
                t.points.to_string(),
                format!("{} / {}", t.cached, t.prompt),
                rate,
                format!("{:.1} %", 100.0 * t.worst),
                t.flagged.to_string(),
                match t.verbatim {
                    0 => "unique".to_owned(),
                    n if n == t.points => "verbatim".to_owned(),
                    n => format!("verbatim in {n}"),
                },
            ]
        })
        .collect::<Vec<_>>();
    let headers = [
        "job",
        "engine",
        "read from",
        "points",
        "cached / prompt tokens",
        "hit rate",
        "largest excess",
        "flagged",
        "prompts",
    ]
    .map(String::from);
    table::md_table(&headers, &body)
}

/// Turns shown in the TTFT-by-turn table; a longer conversation's last turn follows them.
const TURNS_SHOWN: usize = 6;

/// One row per conversation point (job, engine, load): the TTFT p50 / p99 (ms) of each turn,
/// so the cost of the growing history and what the engine's cache saves of it show side by
/// side.
pub fn turns_md(jobs: &Jobs) -> String {
    split_md(
        jobs,
        |p| &p.ttft_by_turn_ms,
        "turn",
        "No conversation points.\n",
    )
}

/// One row per point where the engine reported cached tokens: the TTFT p50 / p99 (ms) by the
/// prompt tokens it had to compute (power-of-two buckets, by their upper bound), so what its
/// prefix cache saves shows beside what a long uncached prompt costs.
pub fn uncached_md(jobs: &Jobs) -> String {
    split_md(
        jobs,
        |p| &p.ttft_by_uncached_ms,
        "≤",
        "No engine reported cached tokens per request.\n",
    )
}

/// TTFT p50 / p99 by the numbered keys `pick` gives, one row per point that has them; columns
/// every key any point has, in number order (at most [`TURNS_SHOWN`] and the last), titled
/// `{title} N`, each cell under its own key.
fn split_md(
    jobs: &Jobs,
    pick: fn(
        &llms_shared::PointResult,
    ) -> &std::collections::BTreeMap<String, llms_shared::LatencyStats>,
    title: &str,
    none: &str,
) -> String {
    // Each point's figures by key; the columns are every key any point has, in number order
    // (a point's cell under a key it lacks is empty).
    let mut found = Vec::new();
    for (j, points) in jobs {
        for r in points {
            let Some(p) = &r.point else { continue };
            let by_key: std::collections::BTreeMap<u64, &llms_shared::LatencyStats> = pick(p)
                .iter()
                .filter_map(|(t, l)| Some((t.parse::<u64>().ok()?, l)))
                .collect();
            if !by_key.is_empty() {
                found.push((j.id, r.engine.clone(), &p.load, by_key));
            }
        }
    }
    if found.is_empty() {
        return none.into();
    }
    let mut columns: Vec<u64> = found.iter().flat_map(|f| f.3.keys().copied()).collect();
    columns.sort_unstable();
    columns.dedup();
    if columns.len() > TURNS_SHOWN + 1 {
        columns.drain(TURNS_SHOWN..columns.len() - 1);
    }
    let body: Vec<Vec<String>> = found
        .iter()
        .map(|(job, engine, load, by_key)| {
            let mut row = vec![
                job.to_string(),
                engine.clone(),
                crate::output::load_label(load),
            ];
            row.extend(columns.iter().map(|k| {
                by_key
                    .get(k)
                    .map_or(String::new(), |l| format!("{:.1} / {:.1}", l.p50, l.p99))
            }));
            row
        })
        .collect();
    let mut headers: Vec<String> = ["job", "engine", "load"].map(String::from).to_vec();
    headers.extend(columns.iter().map(|t| format!("{title} {t}")));
    table::md_table(&headers, &body)
}

#[cfg(test)]
#[path = "measured_tests.rs"]
mod tests;
