//! `report.md`: the jobs, the comparison tables, the charts and the failed or flagged points.

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

/// The report: title, jobs, comparison tables, charts (SVG embedded, PNG linked), `notes`
/// (charts left out and why), then the failed and flagged points with their reasons.
pub fn report(jobs: &Jobs, rows: &[CmpRow], images: &[Image], notes: &[String]) -> String {
    let names: Vec<&str> = jobs.iter().map(|(j, _)| j.name.as_str()).collect();
    let mut out = format!("# llms report: {}\n\n## Jobs\n\n", names.join(", "));
    out.push_str(&table::jobs_md(jobs));
    out.push_str(
        "\nTTFT and ITL in ms; memory is the peak GPU memory used on any GPU of a point.\n\n",
    );
    out.push_str(&table::markdown(rows, 2));
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
