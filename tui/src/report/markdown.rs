//! `report.md`: the verdict, the jobs, the capacities searches found, the comparison tables,
//! the frontier, each search's probes, the cross-checks, the charts and the failed or flagged
//! points.

use super::table::{self, Jobs, load, status};
use crate::compare::CmpRow;

/// A chart written as `{stem}.svg` and `{stem}.png`.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// File name without extension (`throughput`).
    pub stem: String,
    /// Heading and alt text.
    pub title: String,
}

/// One row per job and engine: its kind, the version it reported, the GPUs its points ran on
/// and the driver, as NVML named them ("-" where unknown: no GPU, or an older daemon).
fn engines_md(jobs: &Jobs) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (j, points) in jobs {
        for r in points {
            let gpus: Vec<String> = r
                .gpu
                .iter()
                .flat_map(|g| g.gpus.iter())
                .map(|g| g.name.clone().unwrap_or_else(|| format!("GPU {}", g.index)))
                .collect();
            let driver = r.gpu.as_ref().and_then(|g| g.driver.clone());
            let row = vec![
                j.id.to_string(),
                r.engine.clone(),
                r.kind.clone(),
                r.engine_version.clone().unwrap_or_else(|| "-".into()),
                if gpus.is_empty() {
                    "-".into()
                } else {
                    gpus.join(", ")
                },
                driver.unwrap_or_else(|| "-".into()),
            ];
            // The first point that tells, per job and engine.
            match rows.iter_mut().find(|x| x[0] == row[0] && x[1] == row[1]) {
                Some(x) => {
                    for (a, b) in x.iter_mut().zip(row).skip(3) {
                        if a == "-" {
                            *a = b;
                        }
                    }
                }
                None => rows.push(row),
            }
        }
    }
    let headers = ["job", "engine", "kind", "version", "GPU", "driver"].map(String::from);
    table::md_table(&headers, &rows)
}

/// What each engine's requests sent, once per distinct workload: kind, lengths, prompts and
/// their digest, seed.
pub fn workload_md(jobs: &Jobs) -> String {
    let mut out = String::from(
        "| job | engine | workload | input tokens | output tokens | prompts | seed | prompts sha256 |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let mut seen: Vec<(u64, String, String)> = Vec::new();
    for (j, rows) in jobs {
        for r in rows {
            let Some(w) = &r.workload else { continue };
            let key = (j.id, r.engine.clone(), w.prompts_sha256.clone());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let mut kind = w.kind.clone();
            if let Some(t) = w.turns {
                kind.push_str(&format!(", {t} turns"));
            }
            match (w.groups, w.prefix_tokens) {
                (Some(g), Some(p)) => kind.push_str(&format!(", {g} groups of a {p}-token prefix")),
                // A conversation's sessions all open with the same system prompt.
                (None, Some(p)) if w.kind == "conversation" => {
                    kind.push_str(&format!(", a {p}-token system prompt every session shares"));
                }
                _ => {}
            }
            let input = match (&w.input_dist, w.input_tokens) {
                (Some(d), _) => d.clone(),
                (None, Some(n)) => n.to_string(),
                (None, None) => "as the prompts are".into(),
            };
            let output = w
                .output_dist
                .clone()
                .unwrap_or_else(|| w.output_tokens.to_string());
            let unique = match w.unique_prompts {
                true => "each made unique",
                false => "verbatim",
            };
            out.push_str(&format!(
                "| {} | {} | {kind} | {input} | {output} | {} ({unique}) | {} | {} |\n",
                j.id,
                r.engine,
                w.prompts,
                w.seed,
                w.prompts_sha256.get(..12).unwrap_or("-"),
            ));
        }
    }
    if seen.is_empty() {
        return "No point says what it sent (results from before llmsd recorded it).\n".into();
    }
    out
}

/// The report: title, the verdict paragraph, jobs, capacities, comparison tables, frontier,
/// probes, charts (SVG embedded, PNG linked), `notes` (charts left out and why), then the
/// failed and flagged points with their reasons.
pub fn report(jobs: &Jobs, rows: &[CmpRow], images: &[Image], notes: &[String]) -> String {
    let mut out = format!("# llms report: {}\n\n", super::jobs_title(jobs));
    out.push_str(&super::verdict::paragraph(jobs, rows));
    // The newest point's (or job's) time, not the clock's: the same results give the same
    // report. Saved results may not say (then neither does the report).
    let newest = jobs
        .iter()
        .flat_map(|(j, r)| r.iter().map(|r| r.finished_ms).chain(j.finished_ms))
        .max()
        .unwrap_or(0);
    out.push_str("\n\n");
    if newest > 0 {
        out.push_str(&format!(
            "Measured until {} UTC.\n\n",
            crate::output::utc_time(newest)
        ));
    }
    out.push_str("## Jobs\n\n");
    out.push_str(&table::jobs_md(jobs));
    out.push_str("\n## Workload\n\n");
    out.push_str(&workload_md(jobs));
    out.push_str("\n## Engines and hardware\n\n");
    out.push_str(&engines_md(jobs));
    let caps = crate::capacity::capacities(jobs);
    if !caps.is_empty() {
        out.push_str(
            "\n## Capacity\n\nThe highest load at which each engine met every objective, \
             from its capacity search; the first failing load is the lowest load that broke \
             an objective, with the figure it broke. Confirmed: the answer passed again when \
             run once more.\n\n",
        );
        out.push_str(&super::capacity::capacity_md(&caps));
    }
    out.push_str(
        "\nTTFT and ITL in ms; memory is the peak GPU memory used on any GPU of a point.\n\n",
    );
    out.push_str(&table::markdown(rows, 2));
    out.push_str(&super::frontier::section_md(rows, 2));
    if !caps.is_empty() {
        out.push_str(
            "\n## Capacity search probes\n\nEvery point each search ran, in order: its load, \
             whether it was a probe or the confirmation of the answer, whether it met every \
             objective, and each objective's figure as the search judged it.\n",
        );
        out.push_str(&super::capacity::probes_md(&caps));
    }
    out.push_str(
        "\n## Cross-checks\n\nOutput tokens llmsd counted (usage of each request) against the \
         engine's own generation counter, read before and after each point.\n\n",
    );
    out.push_str(&super::checks::checks_md(jobs));
    out.push_str(
        "\nGPU memory: the peak NVML saw in use and the peak held by the engine's own \
         processes (each the highest over the engine's points), and the largest gap between \
         them within one point.\n\n",
    );
    out.push_str(&super::checks::memory_md(jobs));
    out.push_str(
        "\nInter-token gaps: the engine's own inter-token latency histogram over each point \
         against the gaps llmsd measured. The engine observes one gap per step of a request, \
         so the counts are equal when every step reached llmsd as its own chunk.\n\n",
    );
    out.push_str(&super::measured::itl_md(jobs));
    out.push_str(
        "\nPrefix-cache hits: prompt tokens the engine served from its cache. Every request \
         starts with its own preamble unless the run sent prompts verbatim, so hits beyond \
         the chat template's head (its excess) mean TTFTs were cut by reuse; over 5 % of a \
         point's prompt tokens flags it `prefix_cache_hits`.\n\n",
    );
    out.push_str(&super::measured::cache_md(jobs));
    out.push_str(
        "\nTTFT by turn: conversations resend their whole history each turn; each turn's TTFT \
         (p50 / p99) shows what the longer prompt costs and what the engine's prefix cache \
         saves of it. A conversation's hits are its own history: measured, not flagged.\n\n",
    );
    out.push_str(&super::measured::turns_md(jobs));
    out.push_str(
        "\nTTFT by uncached prompt tokens: the tokens the engine had to compute, in \
         power-of-two buckets (≤ N), where it reported what its prefix cache served.\n\n",
    );
    out.push_str(&super::measured::uncached_md(jobs));
    out.push_str("\n## Charts\n");
    for i in images {
        out.push_str(&format!(
            "\n### {t}\n\n![{t}]({s}.svg)\n\nPNG: [{s}.png]({s}.png)\n",
            t = i.title,
            s = i.stem
        ));
    }
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    let marked: Vec<&CmpRow> = rows.iter().filter(|r| r.marked()).collect();
    out.push_str("\n## Failed and flagged points\n\n");
    if marked.is_empty() {
        out.push_str("None.\n");
    }
    for r in marked {
        // A failed point carries no load (its result has no figures).
        let at = if r.x.is_finite() {
            format!(" {}", load(r))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "- {}{at}: {}\n",
            r.series,
            status(r).replace(['\n', '\r'], " ")
        ));
    }
    out
}
