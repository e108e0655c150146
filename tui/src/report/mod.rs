//! `llms compare` and `llms report` (being built).

use crate::failure::Failure;
use llms_shared::{JobSummary, ResultRow};
use std::path::Path;

/// The comparison table as text, Markdown (`md`) or JSON (`json`).
pub fn compare(
    _jobs: &[(JobSummary, Vec<ResultRow>)],
    _md: bool,
    _json: bool,
) -> Result<String, Failure> {
    Err(Failure::error("compare is not built yet"))
}

/// Write the charts and the Markdown report into `out`; returns the list of files written.
pub fn write(_jobs: &[(JobSummary, Vec<ResultRow>)], _out: &Path) -> Result<String, Failure> {
    Err(Failure::error("report is not built yet"))
}
