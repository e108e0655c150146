//! Does load on the API move the measurements? The daemon holds 20 cancelled jobs of 20,000
//! planned points (a queue with history: each `jobs` answer covers them). One point (8
//! streams, 400 requests of 32 tokens against the reference engine, its ground truth fetched
//! after) is run by a release `llmsd`, quiet and while 100 clients call `jobs` once a second,
//! 50 watchers long-poll and one client calls `jobs` as fast as it is answered, twice each. Printed per run: the
//! TTFT error of each request (client TTFT minus the engine's own, first write minus request
//! read: the client's send and receive overhead together), p50 and p99, and the API calls
//! answered meanwhile.
//!
//! Run: `cargo bench -p llmsd --bench api_load` (builds llmsd in release first;
//! `LLMSD_BIN=/path/to/llmsd` measures another build, e.g. an older one, the same way).

mod common;

use common::{ctx, wait_client};
use llms_shared::{JobState, LlmsdClient, SubmitRequest};
use llmsd::refengine::truth::GroundTruth;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The reference engine in its own process; returns it and its URL.
fn engine(bin: &Path) -> (Kill, String) {
    let mut child = Command::new(bin)
        .args(["reference-engine", "--port", "0", "--threads", "1"])
        .args(["--ttft-ms", "20", "--itl-ms", "5"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the reference engine");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("its address");
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    (Kill(child), url)
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// 20 jobs of 20,000 planned points each, cancelled at once.
async fn backlog(c: &LlmsdClient, url: &str) {
    let loads: Vec<String> = (1..=20_000).map(|n| n.to_string()).collect();
    for i in 0..20 {
        let spec = format!(
            "name = \"history {i}\"\n[[engine]]\nkind = \"external\"\nurl = \"{url}\"\n[load]\nconcurrency = [{}]\n",
            loads.join(", ")
        );
        let id = c
            .submit(ctx(), SubmitRequest::new(spec))
            .await
            .expect("rpc")
            .expect("submit");
        let _ = c.cancel(ctx(), id).await;
    }
}

/// Submit the point, wait for it, and return each request's TTFT error (ms).
async fn point(c: &LlmsdClient, url: &str, tag: &str) -> Vec<f64> {
    let spec = format!(
        "name = \"{tag}\"\n[[engine]]\nkind = \"external\"\nurl = \"{url}\"\nmodel = \"truth\"\n[load]\nconcurrency = [8]\nrequests = 400\noutput_tokens = 32\n"
    );
    let id = c
        .submit(ctx(), SubmitRequest::new(spec))
        .await
        .expect("rpc")
        .expect("submit");
    loop {
        let jobs = c.jobs(ctx()).await.expect("rpc").expect("jobs");
        let j = jobs.iter().find(|j| j.id == id).expect("the job");
        if j.state.is_final() {
            assert_eq!(j.state, JobState::Done, "{j:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rows = c
        .results(ctx(), id, true)
        .await
        .expect("rpc")
        .expect("results");
    let truth = GroundTruth::fetch(url).await.expect("ground truth").by_id();
    let mut errors = Vec::new();
    for r in rows.iter().filter_map(|r| r.point.as_ref()) {
        for rec in &r.requests {
            let (Some(t), Some(client)) = (truth.get(&rec.id), rec.ttft_ns()) else {
                continue;
            };
            let Some(&(first, _)) = t.events.first() else {
                continue;
            };
            let engine_ttft = first.saturating_sub(t.received_ns);
            errors.push((client as f64 - engine_ttft as f64) / 1e6);
        }
    }
    errors
}

/// 100 clients calling `jobs` once a second, 50 watchers, one caller as fast as answered.
fn api_load(socket: PathBuf, stop: Arc<AtomicBool>, calls: Arc<AtomicU64>) {
    for i in 0..151 {
        let (socket, stop, calls) = (socket.clone(), stop.clone(), calls.clone());
        tokio::spawn(async move {
            let c = wait_client(&socket).await;
            let mut seq = 0;
            while !stop.load(Ordering::Relaxed) {
                match i {
                    0..100 => {
                        let _ = c.jobs(ctx()).await;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    100..150 => {
                        if let Ok(Ok(u)) = c.watch(ctx(), seq, 1000).await {
                            seq = u.seq;
                        }
                    }
                    _ => {
                        let _ = c.jobs(ctx()).await;
                    }
                }
                calls.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}

fn main() {
    let bin = std::env::var_os("LLMSD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(common::release_llmsd);
    let dir = std::env::temp_dir().join(format!("llmsd-api-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (_engine, url) = engine(&bin);
    let _daemon = Kill(common::start_llmsd(&bin, &dir));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("llmsd: {}", bin.display());
    println!(
        "{:<8} {:>9} {:>9} {:>9} {:>12}",
        "run", "requests", "p50 ms", "p99 ms", "API calls/s"
    );
    rt.block_on(async {
        let socket = dir.join("s.sock");
        let c = wait_client(&socket).await;
        backlog(&c, &url).await;
        let _ = point(&c, &url, "warm-up").await;
        let mut p50 = Vec::new();
        for loaded in [false, true, false, true] {
            let stop = Arc::new(AtomicBool::new(false));
            let calls = Arc::new(AtomicU64::new(0));
            if loaded {
                api_load(socket.clone(), stop.clone(), calls.clone());
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            let t0 = Instant::now();
            let n0 = calls.load(Ordering::Relaxed);
            let mut e = point(&c, &url, if loaded { "loaded" } else { "quiet" }).await;
            let rate = (calls.load(Ordering::Relaxed) - n0) as f64 / t0.elapsed().as_secs_f64();
            stop.store(true, Ordering::Relaxed);
            let (a, b) = (pct(&mut e, 0.5), pct(&mut e, 0.99));
            p50.push((loaded, a));
            println!(
                "{:<8} {:>9} {a:>9.3} {b:>9.3} {rate:>12.0}",
                if loaded { "loaded" } else { "quiet" },
                e.len()
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let avg = |l: bool| {
            let v: Vec<f64> = p50.iter().filter(|p| p.0 == l).map(|p| p.1).collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        println!(
            "TTFT error p50, loaded minus quiet: {:+.3} ms (client TTFT minus the engine's own)",
            avg(true) - avg(false)
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}
