//! Pure formatting of what the daemon returns: tables, JSON, CSV and Markdown. No I/O.

mod gpus;
mod jobs;
mod results;
mod saved;
mod saved_bench;

pub use gpus::gpus_table;
pub use jobs::{
    PointState, PointsNow, failed_count, jobs_json, jobs_table, point_state, point_status,
    row_note, row_state, show_json, show_text,
};
pub use results::{CSV_COLUMNS, JobResults, results_csv, results_json, results_md, results_table};
pub use saved::{parse_saved, read_saved};

use llms_shared::{Arrival, Load};

/// A load setting as `llms` writes it everywhere ([`crate::compare::load_text`]): `c=N`,
/// `batch=N`, `rate=R/s` (with `arrival=` and `burstiness=` when not Poisson) or `speed=Xx`
/// (a trace's replay).
pub fn load_label(load: &Load) -> String {
    let (mode, x) = crate::compare::load_x(load);
    let base = crate::compare::load_text(mode, x);
    match load {
        Load::Rate {
            arrival: Arrival::Poisson,
            ..
        } => base,
        Load::Rate {
            arrival,
            burstiness: Some(b),
            ..
        } => format!("{base} arrival={} burstiness={b}", arrival.as_str()),
        Load::Rate { arrival, .. } => format!("{base} arrival={}", arrival.as_str()),
        _ => base,
    }
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn utc_time(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c.clone()
                } else {
                    pad(c, widths[i])
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn pad(s: &str, width: usize) -> String {
    let n = width.saturating_sub(s.chars().count());
    format!("{s}{}", " ".repeat(n))
}

/// A number with at most `digits` decimals, trailing zeros kept (for aligned tables).
pub fn num(x: f64, digits: usize) -> String {
    format!("{x:.digits$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads() {
        assert_eq!(load_label(&Load::Concurrency { concurrency: 8 }), "c=8");
        assert_eq!(load_label(&Load::Batch { batch: 4 }), "batch=4");
        assert_eq!(load_label(&Load::Trace { speed: 2.0 }), "speed=2x");
        let r = |arrival, burstiness| Load::Rate {
            rate: 2.5,
            arrival,
            burstiness,
        };
        assert_eq!(load_label(&r(Arrival::Poisson, None)), "rate=2.5/s");
        assert_eq!(
            load_label(&r(Arrival::Constant, None)),
            "rate=2.5/s arrival=constant"
        );
        assert_eq!(
            load_label(&r(Arrival::Gamma, Some(0.5))),
            "rate=2.5/s arrival=gamma burstiness=0.5"
        );
    }

    #[test]
    fn times_in_utc() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc_time(1_798_761_599_000), "2026-12-31 23:59:59");
    }

    #[test]
    fn table_pads_all_but_the_last_column() {
        let t = table(
            &["ID", "NAME"],
            &[vec!["10".into(), "a".into()], vec!["7".into(), "".into()]],
        );
        assert_eq!(t, "ID  NAME\n10  a\n7\n");
    }
}
