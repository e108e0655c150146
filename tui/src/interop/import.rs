//! `llms import FILE`: a run made elsewhere, read by the client (with the user's
//! permissions, at most [`MAX_FILE`] bytes) into result rows the daemon stores as a
//! read-only job beside its own, marked with where it came from. Read: a `vllm bench serve
//! --save-result` file (one run, several appended, or `llms results --format vllm`'s array),
//! and llms's own results (`llms results --json`, `llmsd bench --json`).

use super::vllm;
use llms_shared::{ImportRequest, ResultRow};
use std::io::Read;
use std::path::Path;

/// Largest file read.
pub const MAX_FILE: u64 = 256 << 20;

/// What was read: the format's name and the job to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// `vllm bench serve` or `llms`.
    pub format: &'static str,
    /// The request for the daemon.
    pub request: ImportRequest,
}

/// Read `path`; `name` overrides the job's name. Errors name the file (and the field).
pub fn read(path: &Path, name: Option<&str>) -> Result<Imported, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut text = String::new();
    file.take(MAX_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if text.len() as u64 > MAX_FILE {
        return Err(format!("{shown}: larger than {} MiB", MAX_FILE >> 20));
    }
    let stem = path
        .file_stem()
        .map_or("imported".into(), |s| s.to_string_lossy().into_owned());
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let parsed = parse(&text, &stem).map_err(|e| format!("{shown}: {e}"))?;
    let (format, job_name, mut rows) = parsed;
    // The daemon keeps an import's summaries only: raw records (a `--raw` results file)
    // would only make the call too large to send.
    for p in rows.iter_mut().filter_map(|r| r.point.as_mut()) {
        p.requests.clear();
    }
    Ok(Imported {
        format,
        request: ImportRequest {
            name: name.map_or(job_name, str::to_owned),
            origin: format!("{} ({format})", canonical.display()),
            rows,
        },
    })
}

/// The format, the job's name and its rows, from a file's text.
pub fn parse(text: &str, stem: &str) -> Result<(&'static str, String, Vec<ResultRow>), String> {
    // Parsed once; the first document says which format it is.
    let mut docs = vllm::documents(text)?;
    let Some(first) = docs.first() else {
        return Err("not JSON, or empty".into());
    };
    if vllm::is_vllm(first) {
        return Ok(("vllm bench serve", stem.to_owned(), vllm::rows(&docs)?));
    }
    let saved = match docs.len() {
        1 => crate::output::parse_saved(&docs.remove(0), 0, stem),
        n => Err(format!("{n} JSON documents, and not vLLM runs")),
    };
    let (job, rows) = saved.map_err(|e| {
        format!("{e} (llms reads vllm bench serve --save-result files and llms results files)")
    })?;
    Ok(("llms", job.name, rows))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn formats_are_told_apart_and_errors_say_what_is_read() {
        let vllm = include_str!("testdata/vllm-0.20-save-result.json");
        let (format, name, rows) = parse(vllm, "run-a").unwrap();
        assert_eq!(
            (format, name.as_str(), rows.len()),
            ("vllm bench serve", "run-a", 1)
        );
        let e = parse("{\"hello\": 1}", "x").unwrap_err();
        assert!(e.contains("vllm bench serve --save-result"), "{e}");
        assert!(parse("", "x").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn an_llms_results_file_keeps_its_failed_points_load() {
        let (job, rows) = crate::fixtures::sweep();
        assert!(
            rows.iter().any(|r| r.point.is_none()),
            "the fixture has a failed point"
        );
        let saved = crate::output::results_json(&crate::output::JobResults {
            job: job.id,
            name: job.name.clone(),
            state: job.state,
            rows: rows.clone(),
        })
        .unwrap();
        let (format, name, back) = parse(&saved.to_string(), "x").unwrap();
        assert_eq!((format, name.as_str()), ("llms", job.name.as_str()));
        assert_eq!(back.len(), rows.len());
        for (a, b) in back.iter().zip(&rows) {
            assert_eq!(a.load, b.load, "point {}", b.index);
        }
    }

    #[test]
    fn a_file_is_read_with_a_cap_and_named_in_errors() {
        let dir = std::env::temp_dir().join(format!("llms-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bench.json");
        std::fs::write(&f, include_str!("testdata/vllm-0.20-save-result.json")).unwrap();
        let got = read(&f, Some("elsewhere")).unwrap();
        assert_eq!(got.request.name, "elsewhere");
        assert!(got.request.origin.contains("bench.json") && got.request.origin.contains("vllm"));
        let e = read(&dir.join("none.json"), None).unwrap_err();
        assert!(e.contains("none.json"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
