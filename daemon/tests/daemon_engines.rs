//! Engines the daemon launches itself, misbehaving or real: one that crashes mid-point, one
//! that never gets healthy, one that ignores SIGTERM, and a real llama.cpp server. In each
//! case the point says why, nothing of the engine's process group is left, and the queue goes
//! on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::daemon::{Daemon, ctx, is_final, submit_req, temp_dir, wait_job};
use common::{Engine, fixed};
use llms_shared::{EngineState, JobState, LlmsdClient};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

fn reference_job(name: &str, args: &[&str], extra: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "name = \"{name}\"\n[[engine]]\nkind = \"reference\"\nargs = [{}]\n{extra}\n[load]\nconcurrency = [1, 2]\nrequests = 8\noutput_tokens = 16\n",
        args.join(", ")
    )
}

/// Live processes whose process group is `pgid` (the engine's leader pid). Zombies hold
/// nothing and are left out: an orphan of a killed daemon is reaped by init, and this VM's
/// init does not reap.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        // Fields after the name: state, ppid, pgrp.
        let zombie = matches!(f.first(), Some(&"Z") | Some(&"X"));
        if !zombie && f.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid) {
            out.push(pid);
        }
    }
    out
}

async fn engines_of(c: &LlmsdClient, job: u64) -> Vec<llms_shared::EngineInfo> {
    c.engines(ctx())
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .filter(|e| e.job == Some(job))
        .collect()
}

/// A small external job that must still run after a bad one.
async fn queue_goes_on(c: &LlmsdClient, url: &str) {
    let spec = format!(
        "name = \"after\"\n[[engine]]\nkind = \"external\"\nurl = \"{url}\"\n[load]\nconcurrency = [1]\nrequests = 2\noutput_tokens = 4\n"
    );
    let id = c.submit(ctx(), submit_req(&spec)).await.unwrap().unwrap();
    let j = wait_job(c, id, LIMIT, is_final).await;
    assert_eq!(j.state, JobState::Done, "{j:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_crashes_mid_point_fails_its_points_with_the_reason() {
    let other = Engine::start(fixed(1.0, 1.0));
    let dir = temp_dir("crash");
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    // The preflight is request 1; the point's 4th request kills the engine.
    let spec = reference_job(
        "crashy",
        &["--ttft-ms", "5", "--itl-ms", "5", "--exit-after", "5"],
        "",
    );
    let id = c.submit(ctx(), submit_req(&spec)).await.unwrap().unwrap();
    let j = wait_job(&c, id, LIMIT, is_final).await;
    assert_eq!(
        (j.state, j.points_failed),
        (JobState::Failed, 2),
        "{j:?}\n{}",
        d.log()
    );
    let rows = c.results(ctx(), id, false).await.unwrap().unwrap();
    let why = rows[0].error.as_deref().unwrap();
    assert!(
        why.contains("exited during the point") && why.contains("status 3"),
        "{why}"
    );
    assert!(
        why.contains("last log lines"),
        "the engine's log comes with the reason: {why}"
    );
    assert!(
        rows[1].error.is_some(),
        "the dead engine's next point fails too"
    );
    let e = &engines_of(&c, id).await[0];
    assert!(matches!(e.state, EngineState::Failed(_)), "{e:?}");
    assert!(group_members(e.pid.unwrap()).is_empty());
    let log = c
        .engine_log(ctx(), e.id.to_string(), 50)
        .await
        .unwrap()
        .unwrap();
    assert!(!log.is_empty());
    queue_goes_on(&c, &other.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_never_gets_healthy_times_out() {
    let other = Engine::start(fixed(1.0, 1.0));
    let dir = temp_dir("stuck");
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let spec = reference_job("stuck", &["--never-ready"], "ready_timeout_s = 2");
    let id = c.submit(ctx(), submit_req(&spec)).await.unwrap().unwrap();
    let j = wait_job(&c, id, LIMIT, is_final).await;
    assert_eq!((j.state, j.points_failed), (JobState::Failed, 2), "{j:?}");
    let rows = c.results(ctx(), id, false).await.unwrap().unwrap();
    let why = rows[0].error.as_deref().unwrap();
    assert!(why.contains("did not start"), "{why}");
    let e = &engines_of(&c, id).await[0];
    assert!(
        group_members(e.pid.unwrap()).is_empty(),
        "nothing left running"
    );
    queue_goes_on(&c, &other.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_ignores_sigterm_is_killed_with_its_group() {
    let dir = temp_dir("deaf");
    let d = Daemon::start(&dir, "engine_grace_s = 1\n", &[]);
    let c = d.client().await;
    let spec = reference_job(
        "deaf",
        &["--ignore-sigterm", "--ttft-ms", "1", "--itl-ms", "1"],
        "",
    );
    let id = c.submit(ctx(), submit_req(&spec)).await.unwrap().unwrap();
    let j = wait_job(&c, id, LIMIT, is_final).await;
    assert_eq!(j.state, JobState::Done, "{j:?}\n{}", d.log());
    let e = &engines_of(&c, id).await[0];
    assert_eq!(e.state, EngineState::Stopped);
    let members = group_members(e.pid.unwrap());
    assert!(members.is_empty(), "left over: {members:?}");
    // The points themselves were measured normally.
    let rows = c.results(ctx(), id, false).await.unwrap().unwrap();
    // ... with the version the engine reports.
    let version = concat!("llmsd ", env!("CARGO_PKG_VERSION"));
    assert!(
        rows.iter()
            .all(|r| r.engine_version.as_deref() == Some(version)),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .all(|r| r.point.as_ref().is_some_and(|p| p.completed == 8))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_llamacpp_job_runs_end_to_end() {
    let a = common::llama_artifacts();
    let dir = temp_dir("llama");
    let config = format!(
        "[engines.llamacpp]\ncommand = [\"{}\"]\n",
        a["LLMS_LLAMA_SERVER"]
    );
    let d = Daemon::start(&dir, &config, &["--gpu", "none"]);
    let c = d.client().await;
    let spec = format!(
        "name = \"llama\"\n[[engine]]\nkind = \"llamacpp\"\nmodel = \"{}\"\nargs = [\"-np\", \"2\", \"--threads\", \"1\", \"--ctx-size\", \"4096\"]\n[load]\nconcurrency = [1, 2]\nrequests = 4\noutput_tokens = 8\n",
        a["LLMS_TINY_GGUF"]
    );
    let id = c.submit(ctx(), submit_req(&spec)).await.unwrap().unwrap();
    let j = wait_job(&c, id, Duration::from_secs(300), is_final).await;
    assert_eq!(j.state, JobState::Done, "{j:?}\n{}", d.log());
    let rows = c.results(ctx(), id, false).await.unwrap().unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        let p = r.point.as_ref().unwrap();
        assert_eq!((p.completed, p.output_tokens), (4, 32), "{r:?}");
        assert_eq!(r.kind, "llamacpp");
        // llama.cpp reports its build on /props.
        assert!(r.engine_version.is_some(), "{r:?}");
        assert!(r.gpu.is_none(), "no GPUs here");
        // llama.cpp's own counter agrees with the client.
        let s = p.server.as_ref().expect("llama.cpp /metrics read");
        assert_eq!(s.agrees, Some(true), "{s:?}");
    }
    let e = &engines_of(&c, id).await[0];
    assert_eq!(e.state, EngineState::Stopped);
    assert!(e.argv.iter().any(|a| a == "--metrics"));
    assert!(group_members(e.pid.unwrap()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engines_left_by_a_killed_daemon_are_stopped_on_restart() {
    let dir = temp_dir("orphan");
    let mut d = Daemon::start(&dir, "engine_grace_s = 2\n", &[]);
    let c = d.client().await;
    // Slow enough that the kill lands mid-point: 64 requests of 16 tokens at 20 ms, one at a
    // time.
    let spec = reference_job("orphan", &["--ttft-ms", "20", "--itl-ms", "20"], "");
    let id = c.submit(ctx(), submit_req(&spec)).await.unwrap().unwrap();
    wait_job(&c, id, LIMIT, |j| j.state == JobState::Running).await;
    let mut e = engines_of(&c, id).await.remove(0);
    let old = e.pid.unwrap();
    assert!(!group_members(old).is_empty());
    // The group's members are read by a task of their own (every 2 s) once the engine runs:
    // the first reading may come just after the job shows as running.
    let t0 = std::time::Instant::now();
    while !e.pids.contains(&old) && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        e = engines_of(&c, id).await.remove(0);
    }
    assert!(e.pids.contains(&old), "the group's pids are listed: {e:?}");
    d.kill9_and_restart();
    let c = d.client().await;
    // The restarted daemon stopped the orphan before resuming the job with a new engine.
    assert!(group_members(old).is_empty(), "{}", d.log());
    assert!(
        d.log().contains("left running by an earlier llmsd"),
        "{}",
        d.log()
    );
    let j = wait_job(&c, id, LIMIT, is_final).await;
    assert_eq!(j.state, JobState::Done, "{j:?}");
}

/// An engine runs in its own scratch directory: a file-writing flag with a relative path
/// lands there, never in the state directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_writes_only_in_its_scratch_directory() {
    let dir = temp_dir("scratch");
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let spec = reference_job("scratch", &["--ground-truth", "truth.json"], "");
    let id = c.submit(ctx(), submit_req(&spec)).await.unwrap().unwrap();
    let j = wait_job(&c, id, LIMIT, is_final).await;
    assert_eq!(j.state, JobState::Done, "{j:?}");
    let engine = engines_of(&c, id).await.remove(0);
    let scratch = dir.join(format!("state/scratch/engine-{}", engine.id));
    assert!(
        scratch.join("truth.json").is_file(),
        "{}",
        scratch.display()
    );
    assert!(!dir.join("state/truth.json").exists());
}

/// Engine ids go on across a restart: the second run's engine is not a new "engine 1"
/// appending to the first one's log, and the first engine's log stays readable by id and by
/// name once it is gone from memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_ids_and_logs_survive_a_restart() {
    let dir = temp_dir("engine-ids");
    let mut d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let spec = reference_job(
        "first",
        &["--ttft-ms", "1", "--itl-ms", "1"],
        "name = \"ref-a\"",
    );
    let id = c.submit(ctx(), submit_req(&spec)).await.unwrap().unwrap();
    assert_eq!(
        wait_job(&c, id, LIMIT, is_final).await.state,
        JobState::Done
    );
    let first = engines_of(&c, id).await.pop().unwrap();
    d.sigterm();
    d.restart();
    let c = d.client().await;
    let spec = reference_job(
        "second",
        &["--ttft-ms", "1", "--itl-ms", "1"],
        "name = \"ref-b\"",
    );
    let id2 = c.submit(ctx(), submit_req(&spec)).await.unwrap().unwrap();
    assert_eq!(
        wait_job(&c, id2, LIMIT, is_final).await.state,
        JobState::Done
    );
    let second = engines_of(&c, id2).await.pop().unwrap();
    assert!(second.id > first.id, "{} after {}", second.id, first.id);
    assert_ne!(second.log_path, first.log_path);
    // The first engine is not in this run's memory; its log is on disk.
    for key in [first.id.to_string(), "ref-a".to_owned()] {
        let lines = c.engine_log(ctx(), key.clone(), 50).await.unwrap().unwrap();
        assert!(
            lines.iter().any(|l| l.contains("starting:")),
            "{key}: {lines:?}"
        );
    }
    let log = std::fs::read_to_string(first.log_path.unwrap()).unwrap();
    assert_eq!(
        log.matches("starting:").count(),
        1,
        "one engine per log file"
    );
}
