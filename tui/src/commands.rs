//! The subcommands. Each takes a [`Session`] and returns the text to print on stdout, or a
//! [`Failure`]; [`run`] connects and dispatches.

use crate::cli::{Cli, Command, Format};
use crate::conn::{Session, Target, connect, ctx};
use crate::failure::Failure;
use crate::output::{self, JobResults};
use llms_shared::{ApiError, SubmitRequest};
use serde_json::Value;
use std::path::Path;

/// Run the command line: read local input first (so a bad file fails without a daemon),
/// then connect, then call.
pub async fn run(cli: Cli) -> Result<String, Failure> {
    let Some(cmd) = cli.cmd else {
        crate::dash::run(Target::from_args(&cli.daemon)?).await?;
        return Ok(String::new());
    };
    if let Command::Demo(args) = cmd {
        return crate::demo::run(args).await;
    }
    // Saved results: no daemon needed.
    match &cmd {
        Command::Compare { from, md, json, .. } if !from.is_empty() => {
            return crate::report::compare(&output::read_saved(from)?, *md, *json);
        }
        Command::Report {
            from, out, size, ..
        } if !from.is_empty() => {
            return report(&output::read_saved(from)?, out.clone(), *size);
        }
        _ => {}
    }
    let submit_req = match &cmd {
        Command::Submit { file, key, .. } => Some(read_submit(file, key.clone())?),
        _ => None,
    };
    let import_req = match &cmd {
        Command::Import { file, name, .. } => {
            Some(crate::interop::import::read(file, name.as_deref()).map_err(Failure::usage)?)
        }
        _ => None,
    };
    let target = Target::from_args(&cli.daemon)?;
    let s = connect(&target).await?;
    match cmd {
        Command::Submit { file, json, .. } => {
            let req = submit_req.ok_or_else(|| Failure::error("sweep file not read"))?;
            submit(&target, s, req, &file.display().to_string(), json).await
        }
        Command::Jobs { json } => jobs(&s, json).await,
        Command::Show { job, json } => show(&s, job, json).await,
        Command::Results(a) => results(&s, a.job, a.format(), a.raw).await,
        Command::Cancel { job } => cancel(&s, job).await,
        Command::Logs { engine, lines } => logs(&s, &engine, lines).await,
        Command::Gpus { json } => gpus(&s, json).await,
        Command::Compare { jobs, md, json, .. } => {
            let data = fetch_jobs(&s, &jobs).await?;
            crate::report::compare(&data, md, json)
        }
        Command::Report {
            jobs, out, size, ..
        } => report(&fetch_jobs(&s, &jobs).await?, out, size),
        Command::Import { json, .. } => {
            let got = import_req.ok_or_else(|| Failure::error("file not read"))?;
            import(&s, got, json).await
        }
        Command::Demo(_) => Err(Failure::error("demo is handled above")),
    }
}

/// `llms report`: the jobs' report into `out`, else `./llms-report-JOBS/` as the dashboard's
/// `w` writes it, every chart `size` pixels.
fn report(
    jobs: &[(llms_shared::JobSummary, Vec<llms_shared::ResultRow>)],
    out: Option<std::path::PathBuf>,
    size: (u32, u32),
) -> Result<String, Failure> {
    let ids: Vec<u64> = jobs.iter().map(|(j, _)| j.id).collect();
    let out = out.unwrap_or_else(|| crate::report::default_dir(&ids));
    crate::report::write_at(jobs, &out, size)
}

/// Read a sweep file into a request: its text, its absolute directory, its name as given,
/// the files it names (read here, with this user's permissions) and an idempotency key
/// (`key`, else a random one).
pub fn read_submit(file: &Path, key: Option<String>) -> Result<SubmitRequest, Failure> {
    let name = file.display();
    let spec = crate::attach::read(file, 1024 * 1024).map_err(Failure::usage)?;
    let abs = std::path::absolute(file)
        .map_err(|e| Failure::usage(format!("cannot resolve {name}: {e}")))?;
    let dir = abs.parent().unwrap_or(Path::new("/"));
    let files = crate::attach::files(&spec, dir)
        .map_err(|e| Failure::usage(refused(&name.to_string(), e)))?;
    let req = SubmitRequest {
        spec,
        base_dir: Some(dir.display().to_string()),
        file: Some(name.to_string()),
        files,
        key: Some(key.unwrap_or_else(random_key)),
    };
    // JSON escapes quotes and backslashes: the call must still fit one frame.
    let encoded = serde_json::to_vec(&req).map_or(0, |v| v.len());
    let room = llms_shared::MAX_FRAME_BYTES - (1 << 20);
    if encoded > room {
        return Err(Failure::usage(format!(
            "{name}: the sweep and its files are {:.1} MiB once encoded; at most {:.1} MiB go in one submit (trim the prompts file)",
            encoded as f64 / 1_048_576.0,
            room as f64 / 1_048_576.0
        )));
    }
    Ok(req)
}

/// 128 random bits in hex, from the standard library's per-process hash keys.
fn random_key() -> String {
    use std::hash::{BuildHasher, Hasher};
    let half = || {
        let mut h = std::hash::RandomState::new().build_hasher();
        h.write_u128(
            std::time::UNIX_EPOCH
                .elapsed()
                .unwrap_or_default()
                .as_nanos(),
        );
        h.finish()
    };
    format!("{:016x}{:016x}", half(), half())
}

/// Queue a sweep; prints the job id, or `{"id": N}`. A refused spec is exit 2 with
/// `FILE: MESSAGE`. A call whose reply is lost is sent again (twice at most) on a fresh
/// connection with the same key, so it queues the job once.
pub async fn submit(
    target: &Target,
    mut s: Session,
    req: SubmitRequest,
    file: &str,
    json: bool,
) -> Result<String, Failure> {
    let mut tries = 0;
    let id = loop {
        match s.client.submit(ctx(), req.clone()).await {
            Ok(Err(ApiError::Invalid(m))) => return Err(Failure::usage(refused(file, m))),
            Err(_) if tries < 2 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                if let Ok(fresh) = connect(target).await {
                    s = fresh;
                }
            }
            outcome => break s.check(outcome, file)?,
        }
    };
    Ok(if json {
        format!("{{\"id\": {id}}}\n")
    } else {
        format!("{id}\n")
    })
}

/// The job list, as a table or a JSON array.
pub async fn jobs(s: &Session, json: bool) -> Result<String, Failure> {
    let list = s.check(s.client.jobs(ctx()).await, "jobs")?;
    Ok(if json {
        pretty(&output::jobs_json(&list))?
    } else {
        output::jobs_table(&list)
    })
}

/// One job in full, with each point's status: its finished points' results say which
/// failed and which were flagged, and a `watch` snapshot which one runs now (best effort:
/// without it no point is said to run).
pub async fn show(s: &Session, id: u64, json: bool) -> Result<String, Failure> {
    let what = format!("job {id}");
    let detail = s.check(s.client.job(ctx(), id).await, &what)?;
    let rows = s.check(s.client.results(ctx(), id, false).await, &what)?;
    let running = match s.client.watch(ctx(), 0, 0).await {
        Ok(Ok(u)) => u.live.iter().find(|l| l.job == id).map(|l| l.index),
        _ => None,
    };
    let now = output::PointsNow {
        rows: &rows,
        running,
    };
    Ok(if json {
        pretty(&output::show_json(&detail, now))?
    } else {
        output::show_text(&detail, now)
    })
}

/// A job's finished points in `format`; `raw` adds per-request records (JSON, vLLM's shape
/// and benchmark reports; the request formats always have them).
pub async fn results(s: &Session, id: u64, format: Format, raw: bool) -> Result<String, Failure> {
    let what = format!("job {id}");
    let detail = s.check(s.client.job(ctx(), id).await, &what)?;
    let raw = match format {
        Format::RequestsCsv | Format::RequestsJsonl => true,
        Format::Json | Format::Vllm | Format::BenchmarkReport => raw,
        _ => false,
    };
    let rows = s.check(s.client.results(ctx(), id, raw).await, &what)?;
    let meta = crate::interop::JobMeta::from_spec(&detail.spec);
    let r = JobResults {
        job: id,
        name: detail.summary.name,
        state: detail.summary.state,
        rows,
    };
    let json_err = |e: serde_json::Error| Failure::error(format!("cannot write JSON: {e}"));
    match format {
        Format::Table => Ok(output::results_table(&r)),
        Format::Json => pretty(&output::results_json(&r).map_err(json_err)?),
        Format::Csv => Ok(output::results_csv(&r)),
        Format::Md => Ok(output::results_md(&r)),
        Format::Vllm => pretty(&crate::interop::vllm::write(&r, &meta)),
        Format::BenchmarkReport => pretty(&crate::interop::llmd::write(&r, &meta)),
        Format::RequestsCsv | Format::RequestsJsonl if !crate::interop::requests::any(&r) => {
            Err(Failure::error(format!(
                "job {id} has no per-request records (an imported job keeps summaries only)"
            )))
        }
        Format::RequestsCsv => Ok(crate::interop::requests::csv(&r)),
        Format::RequestsJsonl => crate::interop::requests::jsonl(&r).map_err(json_err),
    }
}

/// `llms import`: store what was read; prints the new job's id (`{"id": N}` with `json`),
/// as `llms submit` does.
async fn import(
    s: &Session,
    got: crate::interop::import::Imported,
    json: bool,
) -> Result<String, Failure> {
    let id = s.check(s.client.import(ctx(), got.request).await, "import")?;
    Ok(match json {
        true => format!("{}\n", serde_json::json!({"id": id})),
        false => format!("{id}\n"),
    })
}

/// Cancel a job; prints its state afterwards (`cancelled`, or its final state if it had
/// already ended).
pub async fn cancel(s: &Session, id: u64) -> Result<String, Failure> {
    let state = s.check(s.client.cancel(ctx(), id).await, &format!("job {id}"))?;
    Ok(format!("{}\n", state.as_str()))
}

/// The last `lines` lines of an engine's log.
pub async fn logs(s: &Session, engine: &str, lines: u32) -> Result<String, Failure> {
    let what = format!("engine {engine}");
    let log = s.check(
        s.client.engine_log(ctx(), engine.to_owned(), lines).await,
        &what,
    )?;
    Ok(log.iter().map(|l| format!("{l}\n")).collect())
}

/// The latest sample of each GPU: a table, or the samples as JSON.
pub async fn gpus(s: &Session, json: bool) -> Result<String, Failure> {
    let gpus = s.check(s.client.gpus(ctx()).await, "GPUs")?;
    if json {
        let v = serde_json::to_value(&gpus)
            .map_err(|e| Failure::error(format!("cannot write JSON: {e}")))?;
        return pretty(&v);
    }
    if gpus.is_empty() {
        return Ok("no GPUs (no NVIDIA driver, or llmsd runs with --gpu none)\n".into());
    }
    Ok(output::gpus_table(&gpus))
}

/// A refused sweep's message, naming the file once: the daemon names the file it was given,
/// so it is added here only when the daemon did not.
pub fn refused(file: &str, message: String) -> String {
    if message.starts_with(&format!("{file}: ")) {
        message
    } else {
        format!("{file}: {message}")
    }
}

/// Each job's summary and finished points, in the order given.
pub async fn fetch_jobs(
    s: &Session,
    ids: &[u64],
) -> Result<Vec<(llms_shared::JobSummary, Vec<llms_shared::ResultRow>)>, Failure> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // Each job once, in the order given.
    for &id in ids.iter().filter(|id| seen.insert(**id)) {
        let what = format!("job {id}");
        let detail = s.check(s.client.job(ctx(), id).await, &what)?;
        let rows = s.check(s.client.results(ctx(), id, false).await, &what)?;
        out.push((detail.summary, rows));
    }
    Ok(out)
}

/// Pretty JSON with a final newline.
fn pretty(v: &Value) -> Result<String, Failure> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| Failure::error(format!("cannot write JSON: {e}")))
}
