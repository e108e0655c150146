//! The API stays available and bounded under hostile clients: idle Unix connections cannot
//! lock a new client out, strangers on TCP cannot make the daemon hold large frames or keep a
//! real client out, and one connection cannot pipeline without bound.
#![allow(clippy::unwrap_used)]

mod common;

use common::daemon::{Daemon, connect, ctx, temp_dir, transport_client};
use llms_shared::ApiError;
use std::io::Write;
use std::time::Duration;

/// The daemon's resident memory, kB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_unix_connections_never_lock_a_new_client_out() {
    let dir = temp_dir("idle-unix");
    let d = Daemon::start(&dir, "", &[]);
    // More idle connections than the listener holds (256), opened and left silent.
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(std::os::unix::net::UnixStream::connect(&d.socket).unwrap());
    }
    // A real client still gets in and is answered.
    let c = connect(&d.socket).await;
    let jobs = tokio::time::timeout(Duration::from_secs(30), c.jobs(ctx()))
        .await
        .expect("a new client is answered")
        .unwrap()
        .unwrap();
    assert!(jobs.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_strangers_hold_no_memory_and_keep_no_client_out() {
    let dir = temp_dir("tcp-strangers");
    let (d, addr, token) = Daemon::start_tcp(&dir);
    let _ = d.client().await;
    let before = rss_kb(d.child.id());
    // 40 strangers, each announcing a 60 MB frame and sending 2 MB of it.
    let chunk = vec![b'x'; 256 * 1024];
    let mut strangers = Vec::new();
    for _ in 0..40 {
        let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
            continue;
        };
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = s.write_all(&(60u32 * 1024 * 1024).to_be_bytes());
        for _ in 0..8 {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
        strangers.push(s);
    }
    let after = rss_kb(d.child.id());
    eprintln!(
        "RSS with {} strangers announcing 60 MB frames: {before} kB before, {after} kB after",
        strangers.len()
    );
    assert!(
        after < before + 100 * 1024,
        "RSS went from {before} kB to {after} kB"
    );
    // With every stranger still connected, a real client is let in and answered.
    let s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let c = transport_client(s);
    c.hello(ctx(), Some(token)).await.unwrap().unwrap();
    assert!(c.jobs(ctx()).await.unwrap().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_cannot_pipeline_without_bound() {
    let dir = temp_dir("pipeline");
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let seq = c.watch(ctx(), 0, 0).await.unwrap().unwrap().seq;
    // 100 long polls at once on one connection: those over the in-flight limit are answered
    // at once with an error, the rest wait.
    let calls = (0..100).map(|_| {
        let c = c.clone();
        async move { c.watch(ctx(), seq, 3_000).await }
    });
    let outcomes = futures::future::join_all(calls).await;
    let refused = outcomes.iter().filter(|o| o.is_err()).count();
    let served = outcomes.iter().filter(|o| matches!(o, Ok(Ok(_)))).count();
    assert!(
        refused >= 50 && served >= 1,
        "refused {refused}, served {served}"
    );
    assert!(
        !outcomes
            .iter()
            .any(|o| matches!(o, Ok(Err(ApiError::Internal(_)))))
    );
    // The connection is still good.
    assert!(c.jobs(ctx()).await.unwrap().unwrap().is_empty());
}
