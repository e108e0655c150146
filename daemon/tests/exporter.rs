//! `--metrics-listen` (`[metrics] listen`): llmsd's Prometheus endpoint, scraped while a sweep
//! runs and checked against the API's own answers taken just before and just after the
//! scrape; then the endpoint under hostile connections.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::daemon::{Daemon, ctx, is_final, submit_req, temp_dir, wait_job};
use common::{Engine, fixed};
use llms_shared::{JobState, Update};
use llmsd::loadgen::metrics::samples;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const MIN: Duration = Duration::from_secs(60);

fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// One HTTP exchange: (status, body).
fn http(addr: &str, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

async fn scrape(addr: &str) -> String {
    let addr = addr.to_owned();
    let (status, body) = tokio::task::spawn_blocking(move || {
        http(&addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    })
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// Values of `name` whose labels include `want`.
fn values(text: &str, name: &str, want: &[(&str, &str)]) -> Vec<f64> {
    samples(text)
        .filter(|s| s.name == name && want.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .map(|s| s.value)
        .collect()
}

fn one(text: &str, name: &str, want: &[(&str, &str)]) -> f64 {
    let v = values(text, name, want);
    assert_eq!(v.len(), 1, "{name} {want:?}:\n{text}");
    v[0]
}

fn between(what: &str, v: f64, lo: f64, hi: f64) {
    assert!(lo <= v && v <= hi, "{what}: {v} not within [{lo}, {hi}]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_during_a_sweep_agrees_with_the_api() {
    // 32 tokens at 10 ms: about a third of a second a request, so the point runs for seconds.
    let engine = Engine::start(fixed(5.0, 10.0));
    let dir = temp_dir("exporter");
    let addr = free_port();
    let d = Daemon::start(&dir, "", &["--metrics-listen", &addr]);
    let c = d.client().await;
    let spec = format!(
        "name = \"scraped\"\n[[engine]]\nkind = \"external\"\nname = \"ref\"\nurl = \"{}\"\n\
         model = \"truth\"\n[load]\nconcurrency = [2]\nrequests = 40\noutput_tokens = 32\n",
        engine.url
    );
    let id = c.submit(ctx(), submit_req(&spec)).await.unwrap().unwrap();
    let job = id.to_string();
    // Wait until the point has finished a few requests.
    let t0 = Instant::now();
    let live = |u: &Update| u.live.iter().find(|p| p.job == id).cloned();
    loop {
        let u = c.watch(ctx(), 0, 0).await.unwrap().unwrap();
        if live(&u).is_some_and(|p| p.requests_done >= 4) {
            break;
        }
        assert!(t0.elapsed() < MIN, "no progress: {u:?}\n{}", d.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let a = c.watch(ctx(), 0, 0).await.unwrap().unwrap();
    let text = scrape(&addr).await;
    let b = c.watch(ctx(), 0, 0).await.unwrap().unwrap();
    let (pa, pb) = (live(&a).expect("running"), live(&b));
    // The point's counters lie between the API's readings before and after.
    let p = [("job_id", job.as_str()), ("engine", "ref")];
    let upper = |f: fn(&llms_shared::LivePoint) -> u64, end: u64| pb.as_ref().map_or(end, f);
    between(
        "requests completed",
        one(&text, "llmsd_point_requests_completed_total", &p),
        pa.requests_done as f64,
        upper(|p| p.requests_done, 40) as f64,
    );
    between(
        "output tokens",
        one(&text, "llmsd_point_output_tokens_total", &p),
        pa.output_tokens as f64,
        upper(|p| p.output_tokens, 40 * 32) as f64,
    );
    assert_eq!(one(&text, "llmsd_point_requests_planned", &p), 40.0);
    assert_eq!(one(&text, "llmsd_point_requests_failed_total", &p), 0.0);
    let ttft_p99 = one(&text, "llmsd_point_ttft_seconds", &[("quantile", "0.99")]);
    let api = [pa.ttft_ms, pb.as_ref().and_then(|p| p.ttft_ms)];
    let ms: Vec<f64> = api.iter().flatten().map(|t| t.1).collect();
    between(
        "TTFT p99 (ms)",
        ttft_p99 * 1000.0,
        ms.iter().copied().fold(f64::MAX, f64::min) - 1e-9,
        ms.iter().copied().fold(0.0, f64::max) + 1e-9,
    );
    // The queue.
    let ja = a.jobs.iter().find(|j| j.id == id).unwrap();
    let jb = b.jobs.iter().find(|j| j.id == id).unwrap();
    let jl = [("job_id", job.as_str()), ("name", "scraped")];
    between(
        "points done",
        one(&text, "llmsd_job_points_done", &jl),
        f64::from(ja.points_done),
        f64::from(jb.points_done),
    );
    assert_eq!(one(&text, "llmsd_job_points_planned", &jl), 1.0);
    if ja.state == jb.state {
        let running = a
            .jobs
            .iter()
            .filter(|j| j.state == JobState::Running)
            .count();
        assert_eq!(
            one(&text, "llmsd_jobs", &[("state", "running")]),
            running as f64
        );
    }
    // The engine.
    let ea = a.engines.iter().find(|e| e.job == Some(id)).unwrap();
    let eid = ea.id.to_string();
    let state = one(&text, "llmsd_engine_state", &[("engine_id", &eid)]);
    assert_eq!(state, 1.0);
    assert_eq!(
        values(
            &text,
            "llmsd_engine_state",
            &[("engine_id", &eid), ("state", "ready")]
        )
        .len(),
        1,
        "the engine serving the point is ready"
    );
    // The GPU (the fake one): the figures of one of the rounds the API saw around the scrape.
    let (ga, gb) = (&a.gpu_samples[0], &b.gpu_samples[0]);
    let g = [("gpu", "0")];
    assert_eq!(
        one(&text, "llmsd_gpu_memory_total_bytes", &g),
        ga.mem_total.unwrap() as f64
    );
    between(
        "energy (J)",
        one(&text, "llmsd_gpu_energy_joules_total", &g),
        ga.energy_mj.unwrap() as f64 / 1000.0,
        gb.energy_mj.unwrap() as f64 / 1000.0,
    );
    // llmsd itself.
    assert!(one(&text, "llmsd_api_calls_total", &[("method", "watch")]) >= 2.0);
    assert!(one(&text, "llmsd_process_resident_memory_bytes", &[]) > 1e6);
    assert!(one(&text, "llmsd_store_size_bytes", &[]) > 0.0);

    // Once the job is done the point's series are gone and the queue says so.
    let j = wait_job(&c, id, MIN, is_final).await;
    assert_eq!(j.state, JobState::Done, "{j:?}\n{}", d.log());
    let text = scrape(&addr).await;
    assert_eq!(one(&text, "llmsd_jobs", &[("state", "done")]), 1.0);
    assert!(values(&text, "llmsd_point_requests_completed_total", &[]).is_empty());
    assert!(values(&text, "llmsd_job_points_done", &[]).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_hostile_connections_do_not_stop_a_scrape() {
    let dir = temp_dir("exporter-hostile");
    let addr = free_port();
    let d = Daemon::start(&dir, "", &["--metrics-listen", &addr]);
    // Connections that never send a byte.
    let idle: Vec<TcpStream> = (0..24)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    // A head that never ends: refused once past the cap.
    let (status, _) = http(&addr, &format!("GET /{} HTTP/1.1\r\n", "a".repeat(20_000)));
    assert!(status == 431 || status == 0, "{status}");
    assert_eq!(http(&addr, "POST /metrics HTTP/1.1\r\n\r\n").0, 405);
    assert_eq!(http(&addr, "GET /nope HTTP/1.1\r\n\r\n").0, 404);
    assert_eq!(http(&addr, "\x00\x01garbage\r\n\r\n").0, 400);
    let text = scrape(&addr).await;
    assert_eq!(one(&text, "llmsd_jobs", &[("state", "queued")]), 0.0);
    drop(idle);
    // The API is unaffected throughout.
    let c = d.client().await;
    assert!(c.jobs(ctx()).await.unwrap().unwrap().is_empty());
}

#[test]
fn an_address_in_use_is_a_start_error_naming_the_setting() {
    let dir = temp_dir("exporter-busy");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    std::fs::write(
        dir.join("c.toml"),
        format!("[metrics]\nlisten = \"{addr}\"\n"),
    )
    .unwrap();
    let out = std::process::Command::new(common::daemon::LLMSD)
        .args(["--config", dir.join("c.toml").to_str().unwrap()])
        .args(["--socket", dir.join("s.sock").to_str().unwrap()])
        .args(["--state-dir", dir.join("state").to_str().unwrap()])
        .args(["--gpu", "none"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[metrics] listen") && err.contains(&addr),
        "{err}"
    );
}
