//! The daemon's own cost and responsiveness (figures, not assertions):
//!
//! - idle RSS and CPU: `llmsd` with one fake GPU sampled at 1 Hz, nothing queued, over 20 s;
//! - watch latency: a watcher long-polls while another client submits a one-request job; the
//!   time from `submit` being sent to the watcher holding an update that lists the job, and
//!   from the GPU sample's own timestamp to the watcher receiving it.
//!
//! Run: `cargo bench -p llmsd --bench daemon` (builds llmsd in release first).

mod common;

use common::ctx;
use llms_shared::SubmitRequest;
use std::time::{Duration, Instant};

fn proc_stat(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    (rss_kb, ticks as f64 / hz)
}

use llms_shared::clock::now_ms as unix_ms;

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * q).round() as usize]
}

#[allow(clippy::unwrap_used, clippy::expect_used)]
fn main() {
    let bin = common::release_llmsd();
    let dir = std::env::temp_dir().join(format!("llmsd-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = common::start_llmsd(&bin, &dir);
    let socket = dir.join("s.sock");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let t0 = Instant::now();
        let c = common::wait_client(&socket).await;
        println!("llmsd ready {:.0} ms after exec", t0.elapsed().as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (_, cpu0) = proc_stat(child.id());
        let idle = Duration::from_secs(20);
        tokio::time::sleep(idle).await;
        let (rss, cpu1) = proc_stat(child.id());
        println!(
            "idle: RSS {:.1} MiB, CPU {:.3}% of one core over {} s (1 fake GPU at 1 Hz)",
            rss as f64 / 1024.0,
            (cpu1 - cpu0) / idle.as_secs_f64() * 100.0,
            idle.as_secs()
        );

        // GPU sample -> watcher.
        let mut seq = c.watch(ctx(), 0, 0).await.unwrap().unwrap().seq;
        let mut lat = Vec::new();
        while lat.len() < 20 {
            let u = c.watch(ctx(), seq, 5000).await.unwrap().unwrap();
            let now = unix_ms();
            seq = u.seq;
            for s in &u.gpu_samples {
                lat.push(now.saturating_sub(s.unix_ms) as f64);
            }
        }
        println!(
            "watch, GPU sample to watcher: p50 {:.0} ms, max {:.0} ms ({} samples, ms resolution)",
            pct(&mut lat, 0.5),
            pct(&mut lat, 1.0),
            lat.len()
        );

        // submit -> watcher sees the job.
        let submitter = common::client(&socket).await.unwrap();
        let mut lat = Vec::new();
        for i in 0..30 {
            let seq0 = c.watch(ctx(), 0, 0).await.unwrap().unwrap().seq;
            let name = format!("w{i}");
            let spec = format!("name = \"{name}\"\n[[engine]]\nkind = \"external\"\nurl = \"http://127.0.0.1:9\"\n[load]\nconcurrency = [1]\nrequests = 1\n");
            let watcher = c.clone();
            let sent = Instant::now();
            let poll = tokio::spawn(async move {
                let mut seq = seq0;
                loop {
                    let u = watcher.watch(ctx(), seq, 5000).await.unwrap().unwrap();
                    seq = u.seq;
                    if u.jobs.iter().any(|j| j.name == name) {
                        return Instant::now();
                    }
                }
            });
            let id = submitter
                .submit(ctx(), SubmitRequest::new(spec))
                .await
                .unwrap()
                .unwrap();
            let seen = poll.await.unwrap();
            lat.push(seen.duration_since(sent).as_secs_f64() * 1e3);
            let _ = submitter.cancel(ctx(), id).await;
        }
        println!(
            "watch, submit to watcher: p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms (30 submits)",
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.9),
            pct(&mut lat, 1.0)
        );
    });
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
