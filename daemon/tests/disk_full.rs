//! A store that cannot be written (here: a file-size limit of one byte put on the running
//! daemon, which fails writes as a full disk does) pauses the job with the reason in the job
//! list; once writes work again the daemon restarts itself and the job resumes, no point lost
//! or run twice.
#![allow(clippy::unwrap_used)]

mod common;

use common::daemon::{Daemon, connect, ctx, submit_req, temp_dir, transport_client};
use common::{Engine, fixed};
use llms_shared::{ApiError, JobState, JobSummary};
use std::process::Command;
use std::time::{Duration, Instant};

fn prlimit(pid: u32, fsize: &str) {
    let st = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={fsize}")])
        .status()
        .unwrap();
    assert!(st.success());
}

/// The job as the daemon lists it, over a fresh connection (the daemon restarts meanwhile).
async fn job(d: &Daemon, id: u64) -> Option<JobSummary> {
    let s = tokio::net::UnixStream::connect(&d.socket).await.ok()?;
    let c = transport_client(s);
    let jobs = c.jobs(ctx()).await.ok()?.ok()?;
    jobs.into_iter().find(|j| j.id == id)
}

async fn until(d: &Daemon, id: u64, what: &str, f: impl Fn(&JobSummary) -> bool) -> JobSummary {
    let t0 = Instant::now();
    let mut last = None;
    loop {
        if let Some(j) = job(d, id).await {
            if f(&j) {
                return j;
            }
            last = Some(j);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "never {what} (last seen: {last:?}):\n{}",
            d.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_be_written_pauses_the_job_and_the_daemon_recovers() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("skipped: prlimit (util-linux) is not installed");
        return;
    }
    let engine = Engine::start(fixed(5.0, 5.0));
    let dir = temp_dir("diskfull");
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let spec = format!(
        "name = \"full\"\n[[engine]]\nkind = \"external\"\nurl = \"{}\"\nmodel = \"truth\"\n[load]\nconcurrency = [1, 2, 3, 4, 5, 6, 7, 8]\nrequests = 6\noutput_tokens = 16\n",
        engine.url
    );
    let id = c.submit(ctx(), submit_req(&spec)).await.unwrap().unwrap();
    let pid = d.child.id();
    until(&d, id, "two points done", |j| j.points_done >= 2).await;
    prlimit(pid, "1:");
    // Paused, with the reason where users look.
    let j = until(&d, id, "paused", |j| j.error.is_some()).await;
    let why = j.error.clone().unwrap();
    assert_eq!(j.state, JobState::Queued, "{why}");
    assert!(
        why.starts_with("paused: the store cannot be written") && why.contains("File too large"),
        "{why}"
    );
    assert!(j.points_done < 8, "{j:?}");
    match c.submit(ctx(), submit_req(&spec)).await.unwrap() {
        Err(ApiError::Conflict(m)) => assert!(m.contains("no sweep is taken now"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Writes work again: the daemon restarts itself (same process id) and resumes.
    prlimit(pid, "unlimited:");
    let j = until(&d, id, "done after the restart", |j| j.state.is_final()).await;
    assert_eq!(
        (j.state, j.points_done, j.points_failed),
        (JobState::Done, 8, 0),
        "{j:?}"
    );
    // The very process started at the beginning is still running (it re-executed itself).
    let mut d = d;
    assert!(d.child.try_wait().unwrap().is_none(), "llmsd exited");
    let c = connect(&d.socket).await;
    let rows = c.results(ctx(), id, false).await.unwrap().unwrap();
    let idx: Vec<u32> = rows.iter().map(|r| r.index).collect();
    assert_eq!(idx, (0..8).collect::<Vec<u32>>(), "every point once");
    assert!(d.log().contains("restart on a writable store"));
}
