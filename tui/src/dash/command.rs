//! [`Command`]s: the I/O that `update` asks for, run by the app in spawned tasks; each ends
//! in one [`Reply`] that goes back through `update`.

use crate::commands::read_submit;
use crate::conn::{Session, ctx};
use llms_shared::{ApiError, JobDetail, JobState, JobSummary, ResultRow};
use std::path::Path;

/// Lines of engine log fetched.
pub const LOG_LINES: u32 = 500;
/// Where the picker looks for sweep files.
pub const SWEEPS_DIR: &str = "sweeps";

/// I/O to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Every job (`jobs`).
    FetchJobs,
    /// A job's finished points (`results(id, false)`).
    FetchResults(u64),
    /// A job's plan (`job(id)`).
    FetchJob(u64),
    /// The tail of an engine's log.
    FetchLog(u64),
    /// Cancel a job.
    Cancel(u64),
    /// Move a queued job to a position among the queued jobs.
    Reorder {
        /// Job id.
        id: u64,
        /// 0 = next.
        position: u32,
    },
    /// Read a sweep file and submit it.
    Submit(String),
    /// List `*.toml` in [`SWEEPS_DIR`].
    ListSweeps,
    /// Write the report of these jobs into `./llms-report-ID-ID/`.
    WriteReport(Vec<u64>),
}

/// The outcome of a [`Command`]; errors are one line for the status bar.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Every job.
    Jobs(Result<Vec<JobSummary>, String>),
    /// A job's points.
    Results(u64, Result<Vec<ResultRow>, String>),
    /// A job's plan.
    Job(u64, Result<Box<JobDetail>, String>),
    /// An engine's log tail.
    Log(u64, Result<Vec<String>, String>),
    /// A cancel: the job and its state afterwards.
    Cancelled(u64, Result<JobState, String>),
    /// A reorder: queued ids in their new order.
    Reordered(u64, Result<Vec<u64>, String>),
    /// A submit: the file and the new job id.
    Submitted(String, Result<u64, String>),
    /// Sweep files found.
    Sweeps(Vec<String>),
    /// A report: the directory and how many files, or why not.
    Report(Result<(String, usize), String>),
}

const OFFLINE: &str = "not connected to llmsd";

/// Run one command against the current session (`None` while reconnecting).
pub async fn execute(cmd: Command, s: Option<Session>) -> Reply {
    let on = |what: &str| s.clone().ok_or_else(|| format!("{what}: {OFFLINE}"));
    match cmd {
        Command::ListSweeps => Reply::Sweeps(list_sweeps(Path::new(SWEEPS_DIR))),
        Command::WriteReport(ids) => Reply::Report(match on("report") {
            Ok(s) => write_report(&s, &ids).await,
            Err(e) => Err(e),
        }),
        Command::FetchJobs => Reply::Jobs(match on("jobs") {
            Ok(s) => s
                .check(s.client.jobs(ctx()).await, "jobs")
                .map_err(|f| f.message),
            Err(e) => Err(e),
        }),
        Command::FetchResults(id) => {
            let what = format!("job {id}");
            Reply::Results(
                id,
                match on(&what) {
                    Ok(s) => s
                        .check(s.client.results(ctx(), id, false).await, &what)
                        .map_err(|f| f.message),
                    Err(e) => Err(e),
                },
            )
        }
        Command::FetchJob(id) => {
            let what = format!("job {id}");
            Reply::Job(
                id,
                match on(&what) {
                    Ok(s) => s
                        .check(s.client.job(ctx(), id).await, &what)
                        .map(Box::new)
                        .map_err(|f| f.message),
                    Err(e) => Err(e),
                },
            )
        }
        Command::FetchLog(id) => {
            let what = format!("engine {id}");
            Reply::Log(
                id,
                match on(&what) {
                    Ok(s) => s
                        .check(
                            s.client.engine_log(ctx(), id.to_string(), LOG_LINES).await,
                            &what,
                        )
                        .map_err(|f| f.message),
                    Err(e) => Err(e),
                },
            )
        }
        Command::Cancel(id) => {
            let what = format!("job {id}");
            Reply::Cancelled(
                id,
                match on(&what) {
                    Ok(s) => s
                        .check(s.client.cancel(ctx(), id).await, &what)
                        .map_err(|f| f.message),
                    Err(e) => Err(e),
                },
            )
        }
        Command::Reorder { id, position } => {
            let what = format!("job {id}");
            Reply::Reordered(
                id,
                match on(&what) {
                    Ok(s) => s
                        .check(s.client.reorder(ctx(), id, position).await, &what)
                        .map_err(|f| f.message),
                    Err(e) => Err(e),
                },
            )
        }
        Command::Submit(file) => {
            let outcome = submit(&file, s).await;
            Reply::Submitted(file, outcome)
        }
    }
}

async fn submit(file: &str, s: Option<Session>) -> Result<u64, String> {
    let req = read_submit(Path::new(file), None).map_err(|f| f.message)?;
    let s = s.ok_or_else(|| format!("{file}: {OFFLINE}"))?;
    match s.client.submit(ctx(), req).await {
        Ok(Err(ApiError::Invalid(m))) => Err(crate::commands::refused(file, m)),
        outcome => s.check(outcome, file).map_err(|f| f.message),
    }
}

/// `*.toml` files directly in `dir`, as `dir/name`, sorted; none when it is missing.
pub fn list_sweeps(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.display().to_string())
        .collect();
    v.sort();
    v
}

/// Fetch the jobs and write their report beside the user, off the runtime (drawing and
/// encoding take a second or so).
async fn write_report(s: &Session, ids: &[u64]) -> Result<(String, usize), String> {
    let data = crate::commands::fetch_jobs(s, ids)
        .await
        .map_err(|f| f.message)?;
    let out = crate::report::default_dir(ids);
    let dir = out.display().to_string();
    let written = tokio::task::spawn_blocking(move || crate::report::write(&data, &out))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|f| f.message)?;
    Ok((dir, written.lines().count()))
}
