//! `llms compare` (the comparison table as text, Markdown or JSON) and `llms report` (charts
//! as SVG and PNG plus `report.md`, written into a directory).

pub mod capacity;
pub mod charts;
pub mod checks;
pub mod frontier;
pub mod glyphs;
pub mod json;
pub mod markdown;
pub mod measured;
pub mod table;
pub mod verdict;

use crate::compare::{self, Metric};
use crate::failure::Failure;
use charts::Chart;
use llms_shared::{JobSummary, ResultRow};
use markdown::Image;
use std::path::{Path, PathBuf};

/// The comparison table as text, Markdown (`md`) or JSON (`json`).
pub fn compare(
    jobs: &[(JobSummary, Vec<ResultRow>)],
    md: bool,
    json: bool,
) -> Result<String, Failure> {
    let rows = compare::rows(jobs);
    if json {
        return serde_json::to_string_pretty(&json::json(jobs, &rows))
            .map(|s| s + "\n")
            .map_err(|e| Failure::error(format!("cannot write JSON: {e}")));
    }
    let caps = crate::capacity::capacities(jobs);
    if md {
        let mut out = format!("# Comparison: {}\n\n## Jobs\n\n", jobs_title(jobs));
        out.push_str(&table::jobs_md(jobs));
        if !caps.is_empty() {
            out.push_str("\n## Capacity\n\n");
            out.push_str(&capacity::capacity_md(&caps));
        }
        out.push('\n');
        out.push_str(&table::markdown(&rows, 2));
        out.push_str(&frontier::section_md(&rows, 2));
        return Ok(out);
    }
    let mut out = table::text(jobs, &rows, &capacity::summary_text(&caps));
    out.push_str(&frontier::section_text(&rows));
    Ok(out)
}

/// The frontier chart's file stem.
pub const FRONTIER: &str = "frontier";

/// Write the charts and the Markdown report into `out`; returns the list of files written.
///
/// Everything is checked and drawn before the first file is renamed into place: a job set
/// with no finished point, or a directory that cannot be written, leaves no report behind.
pub fn write(jobs: &[(JobSummary, Vec<ResultRow>)], out: &Path) -> Result<String, Failure> {
    write_at(jobs, out, charts::SIZE)
}

/// [`write`], every chart `size` pixels wide and high (`llms report --size`).
pub fn write_at(
    jobs: &[(JobSummary, Vec<ResultRow>)],
    out: &Path,
    size: (u32, u32),
) -> Result<String, Failure> {
    let rows = compare::rows(jobs);
    if !rows.iter().any(|r| !r.failed()) {
        let ids: Vec<String> = jobs.iter().map(|(j, _)| j.id.to_string()).collect();
        return Err(Failure::usage(format!(
            "no finished points in job {}: nothing to report",
            ids.join(", ")
        )));
    }
    let title = chart_title(jobs);
    let mut drawn: Vec<(String, Chart)> = Vec::new();
    let mut notes = Vec::new();
    for m in Metric::ALL {
        match charts::line_chart(&rows, m, &title) {
            Some(c) => drawn.push((m.key().to_owned(), c)),
            None => notes.push(format!("No {} chart: no point has this figure.", m.title())),
        }
    }
    match charts::throughput_bars(&rows, &title) {
        Some(c) => drawn.push(("throughput_bars".to_owned(), c)),
        None => notes.push("No throughput bar chart: the series share no load value.".to_owned()),
    }
    match frontier::chart(&rows, &title) {
        Some(c) => drawn.push((FRONTIER.to_owned(), c)),
        None => notes.push("No frontier chart: no point has a TPOT.".to_owned()),
    }
    let images: Vec<Image> = drawn
        .iter()
        .map(|(stem, c)| Image {
            stem: stem.clone(),
            title: c.title.clone(),
        })
        .collect();
    let report = markdown::report(jobs, &rows, &images, &notes);
    let mut svgs = Vec::new();
    for (stem, c) in &drawn {
        let svg = c
            .svg_at(size)
            .map_err(|e| Failure::error(format!("cannot draw {stem}.svg: {e}")))?;
        svgs.push((format!("{stem}.svg"), svg));
    }

    std::fs::create_dir_all(out)
        .map_err(|e| Failure::usage(format!("cannot create {}: {e}", out.display())))?;
    let mut staged = Staged::new(out);
    for (name, svg) in &svgs {
        staged.bytes(name, svg.as_bytes())?;
    }
    for (stem, c) in &drawn {
        staged.png(stem, c, size)?;
    }
    staged.bytes("report.md", report.as_bytes())?;
    let written = staged.commit()?;
    // Charts an earlier report into this directory drew and this one did not (a metric with
    // no figures now) would sit beside the new report as if they belonged to it.
    let stems = Metric::ALL
        .iter()
        .map(|m| m.key())
        .chain(["throughput_bars", FRONTIER]);
    for stem in stems.filter(|s| !drawn.iter().any(|(d, _)| d == s)) {
        for ext in ["svg", "png"] {
            let _ = std::fs::remove_file(out.join(format!("{stem}.{ext}")));
        }
    }
    Ok(written
        .iter()
        .map(|p| format!("{}\n", p.display()))
        .collect())
}

/// Where a report goes when no `--out` is given: `./llms-report-ID-ID/`, as the dashboard's
/// `w` writes it.
pub fn default_dir(ids: &[u64]) -> PathBuf {
    let names: Vec<String> = ids.iter().map(u64::to_string).collect();
    PathBuf::from(format!("llms-report-{}", names.join("-")))
}

/// The chart caption: what was measured where (the workload and the hardware), with the job
/// names while they fit the chart's width.
fn chart_title(jobs: &[(JobSummary, Vec<ResultRow>)]) -> String {
    let what = setup(jobs);
    let names = jobs_title(jobs);
    for t in [format!("{names} ({what})"), what.clone()] {
        if !what.is_empty() && t.chars().count() <= 70 {
            return t;
        }
    }
    if names.chars().count() <= 70 {
        return names;
    }
    let ids: Vec<String> = jobs.iter().map(|(j, _)| j.id.to_string()).collect();
    format!("jobs {}", ids.join(", "))
}

/// `single, 128 out, on NVIDIA H200`: the workloads and the GPUs of the jobs' points (empty
/// when none says).
pub fn setup(jobs: &[(JobSummary, Vec<ResultRow>)]) -> String {
    let rows = || jobs.iter().flat_map(|(_, r)| r.iter());
    let mut work: Vec<String> = rows()
        .filter_map(|r| r.workload.as_ref())
        .map(|w| format!("{}, {} out", w.kind, w.output_tokens))
        .collect();
    work.sort();
    work.dedup();
    let mut gpus: Vec<String> = rows()
        .filter_map(|r| r.gpu.as_ref())
        .flat_map(|g| g.gpus.iter().filter_map(|x| x.name.clone()))
        .collect();
    gpus.sort();
    gpus.dedup();
    let on = match gpus.as_slice() {
        [] if rows().any(|r| r.point.is_some()) => "on CPU or unmeasured GPUs".to_owned(),
        [] => String::new(),
        g => format!("on {}", g.join(", ")),
    };
    [work.join("; "), on]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The job names, for titles: `qwen2.5-3b engines` or `a, b`.
/// The jobs' names, each once: one sweep run in two parts (two allowances, two daemons) is
/// one name.
pub(super) fn jobs_title(jobs: &[(JobSummary, Vec<ResultRow>)]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (j, _) in jobs {
        if !names.contains(&j.name.as_str()) {
            names.push(&j.name);
        }
    }
    names.join(", ")
}

/// Files written under temporary names in the output directory, renamed into place by
/// `commit`; dropped uncommitted, it removes them.
struct Staged {
    dir: PathBuf,
    /// (temporary, final) paths.
    files: Vec<(PathBuf, PathBuf)>,
}

impl Staged {
    fn new(dir: &Path) -> Self {
        Staged {
            dir: dir.to_path_buf(),
            files: Vec::new(),
        }
    }

    /// The temporary and final paths of `name`; the temporary one keeps `ext` last (the PNG
    /// encoder picks its format from the extension).
    fn paths(&self, name: &str, ext: &str) -> (PathBuf, PathBuf) {
        let tmp = format!(".{name}.{}.part{ext}", std::process::id());
        (self.dir.join(tmp), self.dir.join(name))
    }

    fn bytes(&mut self, name: &str, bytes: &[u8]) -> Result<(), Failure> {
        let (tmp, dest) = self.paths(name, "");
        self.files.push((tmp.clone(), dest.clone()));
        std::fs::write(&tmp, bytes).map_err(|e| cannot_write(&dest, e))
    }

    fn png(&mut self, stem: &str, chart: &Chart, size: (u32, u32)) -> Result<(), Failure> {
        let (tmp, dest) = self.paths(&format!("{stem}.png"), ".png");
        self.files.push((tmp.clone(), dest.clone()));
        chart.png_at(&tmp, size).map_err(|e| cannot_write(&dest, e))
    }

    /// Rename every file into place; returns the final paths.
    fn commit(mut self) -> Result<Vec<PathBuf>, Failure> {
        let files = std::mem::take(&mut self.files);
        let mut done = Vec::new();
        for (i, (tmp, dest)) in files.iter().enumerate() {
            if let Err(e) = std::fs::rename(tmp, dest) {
                self.files = files[i..].to_vec();
                return Err(cannot_write(dest, e));
            }
            done.push(dest.clone());
        }
        Ok(done)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

fn cannot_write(path: &Path, e: impl std::fmt::Display) -> Failure {
    Failure::usage(format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "search_tests.rs"]
mod search_tests;
