//! A damaged store is refused with the file and the fix named, never opened as an empty or
//! rolled-back one; `llmsd repair` rebuilds it from the journal with every finished point.
#![allow(clippy::unwrap_used)]

mod common;

use common::daemon::{Daemon, LLMSD, ctx, is_final, submit_req, temp_dir, wait_job};
use common::{Engine, fixed};
use llms_shared::JobState;
use std::process::Command;
use std::time::Duration;

fn smoke(url: &str) -> String {
    format!(
        "name = \"kept\"\n[[engine]]\nkind = \"external\"\nurl = \"{url}\"\nmodel = \"truth\"\n[load]\nconcurrency = [1, 2, 4]\nrequests = 4\noutput_tokens = 8\n"
    )
}

/// Overwrite sled's data file with other bytes of the same size (once opened as an empty
/// store: a normal start with no jobs).
fn scramble(db: &std::path::Path) {
    let p = db.join("db");
    let len = std::fs::metadata(&p).unwrap().len() as usize;
    let junk: Vec<u8> = (0..len).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&p, junk).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_store_is_refused_and_repaired_from_the_journal() {
    let engine = Engine::start(fixed(10.0, 5.0));
    let dir = temp_dir("damage");
    let mut d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let id = c
        .submit(ctx(), submit_req(&smoke(&engine.url)))
        .await
        .unwrap()
        .unwrap();
    let job = wait_job(&c, id, Duration::from_secs(60), is_final).await;
    assert_eq!((job.state, job.points_done), (JobState::Done, 3), "{job:?}");
    drop(c);
    assert!(d.sigterm().success());
    let state = dir.join("state");
    scramble(&state.join("db"));
    // The daemon refuses to start on it, naming the store and the fix.
    let sock = dir.join("s.sock");
    let args = [
        "--socket",
        sock.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--gpu",
        "fake:1",
    ];
    let mut start = Command::new(LLMSD);
    start.args(args).stdin(std::process::Stdio::null());
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::process::Command::from(start).output(),
    )
    .await
    .expect("llmsd refuses the store at once (it used to start on an empty one)")
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "the store {} is damaged",
            state.join("db").display()
        )) && err.contains("llmsd repair --state-dir"),
        "{err}"
    );
    // Repair rebuilds it from the journal.
    let repair = [&["repair"][..], &args[..4]].concat();
    let out = Command::new(LLMSD).args(&repair).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("1 job(s), 3 finished point(s)"), "{said}");
    // The job is back, done, with its three points; a new job gets a new id.
    d.restart();
    let c = d.client().await;
    let jobs = c.jobs(ctx()).await.unwrap().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].id, jobs[0].state, jobs[0].points_done),
        (id, JobState::Done, 3)
    );
    let rows = c.results(ctx(), id, false).await.unwrap().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r.point.as_ref().is_some_and(|p| p.completed == 4))
    );
    let next = c
        .submit(ctx(), submit_req(&smoke(&engine.url)))
        .await
        .unwrap()
        .unwrap();
    assert!(next > id);
}
