//! The daemon as a user meets it: a real `llmsd` process on a temporary socket and state
//! directory, driven over its tarpc API. Engines are the reference engine, either in this test
//! process (kind `external`) or launched by the daemon (kind `reference`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::daemon::{Daemon, connect, ctx, is_final, submit_req, temp_dir, wait_job};
use common::{Engine, fixed};
use llms_shared::{ApiError, JobState, ResultRow};
use std::collections::BTreeSet;
use std::time::Duration;

const MIN: Duration = Duration::from_secs(60);

fn smoke(url: &str, concurrency: &str, requests: u32) -> String {
    format!(
        "name = \"smoke\"\n[[engine]]\nkind = \"external\"\nurl = \"{url}\"\nmodel = \"truth\"\n[load]\nconcurrency = [{concurrency}]\nrequests = {requests}\noutput_tokens = 16\n"
    )
}

fn indices(rows: &[ResultRow]) -> Vec<u32> {
    rows.iter().map(|r| r.index).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_watch_results() {
    let engine = Engine::start(fixed(20.0, 10.0));
    let dir = temp_dir("smoke");
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let id = c
        .submit(ctx(), submit_req(&smoke(&engine.url, "1, 2, 4", 8)))
        .await
        .unwrap()
        .unwrap();
    // Follow it through watch: the live point shows requests and tokens as they happen.
    let (mut seq, mut saw_live, mut saw_gpu) = (0, false, false);
    let t0 = std::time::Instant::now();
    loop {
        let u = c.watch(ctx(), seq, 2000).await.unwrap().unwrap();
        assert!(u.seq >= seq);
        seq = u.seq;
        saw_gpu |= !u.gpu_samples.is_empty();
        if let Some(p) = u.live.iter().find(|p| p.job == id)
            && p.output_tokens > 0
        {
            assert_eq!(p.engine, "external");
            assert!(p.requests_total == Some(8));
            saw_live = true;
        }
        let j = u.jobs.iter().find(|j| j.id == id).unwrap();
        if is_final(j) {
            assert_eq!(j.state, JobState::Done, "{j:?}\n{}", d.log());
            assert_eq!((j.points_done, j.points_total), (3, 3));
            break;
        }
        assert!(t0.elapsed() < MIN, "{}", d.log());
    }
    assert!(saw_live, "watch never showed the running point");
    assert!(saw_gpu, "watch never carried GPU samples");
    let rows = c.results(ctx(), id, false).await.unwrap().unwrap();
    assert_eq!(indices(&rows), vec![0, 1, 2]);
    for r in &rows {
        let p = r.point.as_ref().expect("figures");
        assert_eq!(
            (p.completed, p.failed, p.output_tokens),
            (8, 0, 128),
            "{r:?}"
        );
        assert_eq!(r.engine, "external");
        assert!(
            r.point.as_ref().unwrap().requests.is_empty(),
            "raw only on demand"
        );
        let g = r.gpu.as_ref().expect("fake GPU figures");
        assert!(g.samples >= 2 && g.tokens_per_joule.is_some(), "{g:?}");
        // The GPU and driver as the source names them travel with every point.
        assert_eq!(g.driver.as_deref(), Some("fake"));
        assert_eq!(g.gpus[0].name.as_deref(), Some("llms fake GPU"));
    }
    // Raw records come from the store, one per request, matching the engine's own truth.
    let raw = c.results(ctx(), id, true).await.unwrap().unwrap();
    let truth = engine.truth().await;
    for r in &raw {
        let reqs = &r.point.as_ref().unwrap().requests;
        assert_eq!(reqs.len(), 8);
        for q in reqs {
            assert_eq!(truth[&q.id].events.len(), q.chunks.len(), "{}", q.id);
        }
    }
    let detail = c.job(ctx(), id).await.unwrap().unwrap();
    assert_eq!(detail.finished, vec![0, 1, 2]);
    assert_eq!(detail.plan.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_sweep_loses_no_point_and_runs_none_twice() {
    // About 1.7 s per point: 8 requests of 16 tokens at 10 ms, one at a time.
    let engine = Engine::start(fixed(10.0, 10.0));
    let dir = temp_dir("kill9");
    let mut d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let spec = smoke(&engine.url, "1, 1, 1, 1, 1, 1", 8);
    let id = c.submit(ctx(), submit_req(&spec)).await.unwrap().unwrap();
    wait_job(&c, id, MIN, |j| j.points_done >= 2).await;
    let before = c.results(ctx(), id, false).await.unwrap().unwrap();
    d.kill9_and_restart();
    let c = d.client().await;
    let j = wait_job(&c, id, MIN, is_final).await;
    assert_eq!(j.state, JobState::Done, "{j:?}\n{}", d.log());
    let after = c.results(ctx(), id, false).await.unwrap().unwrap();
    assert_eq!(
        indices(&after),
        vec![0, 1, 2, 3, 4, 5],
        "each point exactly once"
    );
    for b in &before {
        assert_eq!(
            after.iter().find(|a| a.index == b.index),
            Some(b),
            "a finished point was run again or changed"
        );
    }
    assert!(d.log().contains("queued again"), "{}", d.log());
    // Every measured request id is unique across the whole job: nothing was stored twice.
    let raw = c.results(ctx(), id, true).await.unwrap().unwrap();
    let mut ids = BTreeSet::new();
    for r in &raw {
        for q in &r.point.as_ref().unwrap().requests {
            assert!(ids.insert(format!("{}:{}", r.index, q.id)));
        }
    }
    assert_eq!(ids.len(), 48);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_interrupts_the_point_and_the_job_resumes() {
    let engine = Engine::start(fixed(10.0, 10.0));
    let dir = temp_dir("sigterm");
    let mut d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let id = c
        .submit(ctx(), submit_req(&smoke(&engine.url, "1, 1, 1", 8)))
        .await
        .unwrap()
        .unwrap();
    wait_job(&c, id, MIN, |j| j.points_done >= 1).await;
    let st = d.sigterm();
    assert!(st.success(), "{st}\n{}", d.log());
    assert!(!d.socket.exists(), "the socket file is removed");
    d.restart();
    let c = d.client().await;
    let j = wait_job(&c, id, MIN, is_final).await;
    assert_eq!(j.state, JobState::Done, "{}", d.log());
    let rows = c.results(ctx(), id, false).await.unwrap().unwrap();
    assert_eq!(indices(&rows), vec![0, 1, 2]);
}

/// A second llmsd on the same state directory (another socket) is refused with words that
/// say why, and the first one goes on serving its store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_state_is_refused() {
    let dir = temp_dir("second");
    let d = Daemon::start(&dir, "", &[]);
    let out = std::process::Command::new(common::daemon::LLMSD)
        .args(["--socket"])
        .arg(dir.join("other.sock"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(["--gpu", "fake:1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("is in use by another llmsd") && err.contains("state/db"),
        "{err}"
    );
    let c = d.client().await;
    assert!(c.jobs(ctx()).await.unwrap().unwrap().is_empty());
}

/// What the daemon writes is its user's and group's only (they were 0644 and 0755), and the
/// per-user fallback socket directory in /tmp must be private: one another user could have
/// made first is refused, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_is_private_and_a_squatted_socket_directory_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("private");
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    assert!(c.jobs(ctx()).await.unwrap().unwrap().is_empty());
    let mut seen = 0;
    let mut walk = vec![dir.join("state")];
    while let Some(p) = walk.pop() {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o027, 0, "{} is {mode:o}", p.display());
        seen += 1;
        if p.is_dir() {
            walk.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    assert!(seen > 3, "{seen}");
    drop(d);
    // The fallback: no XDG_RUNTIME_DIR, no --socket. A directory open to all is refused.
    let uid = nix::unistd::getuid().as_raw();
    let fallback = llms_shared::socket::fallback_dir(uid);
    if !fallback.exists() {
        std::fs::create_dir(&fallback).unwrap();
        std::fs::set_permissions(&fallback, std::fs::Permissions::from_mode(0o777)).unwrap();
        let out = std::process::Command::new(common::daemon::LLMSD)
            .arg("--state-dir")
            .arg(dir.join("state2"))
            .args(["--gpu", "fake:1"])
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("RUNTIME_DIRECTORY")
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&fallback);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(
            err.contains(&fallback.display().to_string()) && err.contains("open to other users"),
            "{err}"
        );
    } else {
        eprintln!(
            "squatting check skipped: {} exists (a daemon of yours?)",
            fallback.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_specs_are_refused_and_the_queue_is_untouched() {
    let dir = temp_dir("badspec");
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let cases = [
        ("name = \"x\"\n[[engine]\nkind=1", "line"),
        ("name = \"x\"\n[load]\nconcurrency = [1]\n", "engine"),
        (
            "name = \"x\"\n[[engine]]\nkind = \"nope\"\n[load]\nconcurrency = [1]\n",
            "engine[0].kind",
        ),
        (
            "name = \"x\"\n[[engine]]\nkind = \"external\"\n[load]\nconcurrency = [1]\n",
            "engine[0].url",
        ),
        (
            "name = \"x\"\n[[engine]]\nkind = \"llamacpp\"\nmodel = \"/nonexistent.gguf\"\n[load]\nconcurrency = [1]\n",
            "engine[0]",
        ),
        (
            "name = \"x\"\n[[engine]]\nkind = \"external\"\nurl = \"http://127.0.0.1:1\"\n[load]\nconcurrency = [4, 0]\n",
            "load.concurrency[1]",
        ),
        (
            "name = \"x\"\n[[engine]]\nkind = \"reference\"\nenv = { LD_PRELOAD = \"/tmp/x.so\" }\n[load]\nconcurrency = [1]\n",
            "engine[0].env",
        ),
        (
            "name = \"x\"\ngpus = [3]\n[[engine]]\nkind = \"external\"\nurl = \"http://127.0.0.1:1\"\n[load]\nconcurrency = [1]\n",
            "gpus[0]",
        ),
        // A job cannot make an engine write the store, nor aim at a host or path the admin
        // did not allow.
        (
            "name = \"x\"\n[[engine]]\nkind = \"reference\"\nargs = [\"--ground-truth\", \"/state/db/db\"]\n[load]\nconcurrency = [1]\n",
            "engine[0].args: '--ground-truth /state/db/db'",
        ),
        (
            "name = \"x\"\n[[engine]]\nkind = \"external\"\nurl = \"http://127.0.0.1:18501/admin/secret?x=\"\n[load]\nconcurrency = [1]\n",
            "engine[0].url",
        ),
        (
            "name = \"x\"\n[[engine]]\nkind = \"external\"\nurl = \"http://192.0.2.7:8000\"\n[load]\nconcurrency = [1]\n",
            "engine[0].url: host '192.0.2.7'",
        ),
    ];
    for (spec, field) in cases {
        match c.submit(ctx(), submit_req(spec)).await.unwrap() {
            Err(ApiError::Invalid(m)) => {
                assert!(
                    m.contains(field) && m.starts_with("test.toml: "),
                    "{field}: {m}"
                )
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(c.jobs(ctx()).await.unwrap().unwrap().is_empty());
    // Unknown ids are named.
    match c.cancel(ctx(), 42).await.unwrap() {
        Err(ApiError::NotFound(m)) => assert!(m.contains("42")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_reorder() {
    let engine = Engine::start(fixed(10.0, 10.0));
    let dir = temp_dir("cancel");
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let long = smoke(&engine.url, "1, 1, 1, 1, 1, 1, 1, 1", 8);
    let a = c.submit(ctx(), submit_req(&long)).await.unwrap().unwrap();
    let b = c.submit(ctx(), submit_req(&long)).await.unwrap().unwrap();
    let e = c
        .submit(ctx(), submit_req(&smoke(&engine.url, "1", 2)))
        .await
        .unwrap()
        .unwrap();
    wait_job(&c, a, MIN, |j| j.state == JobState::Running).await;
    // The small job jumps ahead of b.
    assert_eq!(c.reorder(ctx(), e, 0).await.unwrap().unwrap(), vec![e, b]);
    assert!(matches!(
        c.reorder(ctx(), a, 0).await.unwrap(),
        Err(ApiError::Conflict(_))
    ));
    // Cancel the queued one, then the running one.
    assert_eq!(
        c.cancel(ctx(), b).await.unwrap().unwrap(),
        JobState::Cancelled
    );
    assert_eq!(
        c.cancel(ctx(), a).await.unwrap().unwrap(),
        JobState::Cancelled
    );
    let je = wait_job(&c, e, MIN, is_final).await;
    assert_eq!(je.state, JobState::Done);
    let ja = wait_job(&c, a, MIN, is_final).await;
    assert_eq!(ja.state, JobState::Cancelled);
    assert!(ja.points_done < 8);
    assert!(matches!(
        c.cancel(ctx(), a).await.unwrap(),
        Err(ApiError::Conflict(_))
    ));
    let jb = wait_job(&c, b, MIN, is_final).await;
    assert_eq!((jb.state, jb.points_done), (JobState::Cancelled, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_watchers_and_a_vanishing_client() {
    let engine = Engine::start(fixed(10.0, 5.0));
    let dir = temp_dir("watchers");
    let d = Daemon::start(&dir, "", &[]);
    let (c1, c2) = (d.client().await, d.client().await);
    // A client that disconnects in the middle of a long-poll changes nothing.
    {
        let c3 = d.client().await;
        let _ = tokio::time::timeout(
            Duration::from_millis(100),
            c3.watch(ctx(), u64::MAX - 1, 5000),
        )
        .await;
    }
    let id = c1
        .submit(ctx(), submit_req(&smoke(&engine.url, "1, 2", 4)))
        .await
        .unwrap()
        .unwrap();
    let follow = |c: llms_shared::LlmsdClient| async move {
        let (mut seq, mut updates) = (0, 0);
        loop {
            let u = c.watch(ctx(), seq, 2000).await.unwrap().unwrap();
            assert!(u.seq >= seq);
            updates += u64::from(u.changed);
            seq = u.seq;
            if u.jobs.iter().any(|j| j.id == id && is_final(j)) {
                return (updates, u.jobs.into_iter().find(|j| j.id == id).unwrap());
            }
        }
    };
    let (r1, r2) = tokio::join!(
        tokio::time::timeout(MIN, follow(c1.clone())),
        tokio::time::timeout(MIN, follow(c2.clone()))
    );
    let ((u1, j1), (u2, j2)) = (r1.unwrap(), r2.unwrap());
    assert!(u1 > 1 && u2 > 1);
    assert_eq!(j1, j2);
    assert_eq!(j1.state, JobState::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_needs_the_token() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("tcp");
    let (d, addr, token) = Daemon::start_tcp(&dir);
    let tcp = |addr: String| async move {
        common::daemon::transport_client(tokio::net::TcpStream::connect(addr).await.unwrap())
    };
    // No hello, or a wrong token: refused, and refused again after.
    let c = tcp(addr.clone()).await;
    assert!(matches!(
        c.jobs(ctx()).await.unwrap(),
        Err(ApiError::Unauthorized(_))
    ));
    assert!(matches!(
        c.hello(ctx(), Some("wrong".into())).await.unwrap(),
        Err(ApiError::Unauthorized(_))
    ));
    assert!(matches!(
        c.jobs(ctx()).await.unwrap(),
        Err(ApiError::Unauthorized(_))
    ));
    // The right token opens that connection only.
    let ok = tcp(addr.clone()).await;
    ok.hello(ctx(), Some(token)).await.unwrap().unwrap();
    assert!(ok.jobs(ctx()).await.unwrap().unwrap().is_empty());
    assert!(matches!(
        c.jobs(ctx()).await.unwrap(),
        Err(ApiError::Unauthorized(_))
    ));
    // The Unix socket is 0660 and needs no token.
    let mode = std::fs::metadata(&d.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let u = connect(&d.socket).await;
    assert!(u.jobs(ctx()).await.unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_right_after_submit_always_wins() {
    let engine = Engine::start(fixed(1.0, 1.0));
    let dir = temp_dir("race");
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let spec = smoke(&engine.url, "1", 2);
    let mut ids = Vec::new();
    for _ in 0..60 {
        let id = c.submit(ctx(), submit_req(&spec)).await.unwrap().unwrap();
        assert_eq!(
            c.cancel(ctx(), id).await.unwrap().unwrap(),
            JobState::Cancelled
        );
        ids.push(id);
    }
    for id in ids {
        let j = wait_job(&c, id, MIN, is_final).await;
        assert_eq!(j.state, JobState::Cancelled, "{j:?}");
    }
    // And nothing is left starting or running.
    let busy: Vec<_> = c
        .jobs(ctx())
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .filter(|j| !is_final(j))
        .collect();
    assert!(busy.is_empty(), "{busy:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_engine_in_a_sweep_with_gpus_runs() {
    // The sweep's GPUs are for engines the daemon starts; an external server gets none, and
    // what passes at submit runs.
    let engine = Engine::start(fixed(1.0, 1.0));
    let dir = temp_dir("extgpu");
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let spec = format!("gpus = [0]\n{}", smoke(&engine.url, "1", 2));
    let id = c.submit(ctx(), submit_req(&spec)).await.unwrap().unwrap();
    let j = wait_job(&c, id, MIN, is_final).await;
    assert_eq!(j.state, JobState::Done, "{j:?}\n{}", d.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gpu_engines_template_is_accepted_where_they_are_configured() {
    let dir = temp_dir("template");
    let template = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sweeps/qwen2.5-3b-engines.toml"
    );
    let spec = std::fs::read_to_string(template).unwrap();
    let req = |spec: &str| llms_shared::SubmitRequest {
        spec: spec.into(),
        base_dir: None,
        file: Some("qwen2.5-3b-engines.toml".into()),
        files: Vec::new(),
        key: None,
    };
    // Not configured: refused, naming the first engine.
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    match c.submit(ctx(), req(&spec)).await.unwrap() {
        Err(ApiError::Invalid(m)) => assert!(
            m.contains("engine[0].kind: 'vllm' is not configured"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    drop(c);
    drop(d);
    // Configured (programs that exit at once: the job is cancelled before it matters).
    let config = "[engines.vllm]\ncommand = [\"false\"]\n[engines.sglang]\ncommand = [\"false\"]\n[engines.trtllm]\ncommand = [\"false\"]\n";
    let d = Daemon::start(&dir, config, &[]);
    let c = d.client().await;
    let id = c.submit(ctx(), req(&spec)).await.unwrap().unwrap();
    let job = c.job(ctx(), id).await.unwrap().unwrap();
    assert_eq!(job.plan.len(), 15, "3 engines x 5 batch sizes");
    let _ = c.cancel(ctx(), id).await.unwrap();
}

/// Every sweep file shipped in sweeps/ is one the daemon takes, with the model it names made
/// here (the GPU sweeps name files made on the GPU machine; the demo's is filled in by
/// `llms demo`): each is submitted with every `model =` line dropped and a top-level one
/// pointing at a file of this test (no shipped sweep sets a model per engine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_sweep_is_accepted() {
    let dir = temp_dir("shipped");
    let config = ["vllm", "sglang", "trtllm", "llamacpp"]
        .map(|k| format!("[engines.{k}]\ncommand = [\"false\"]\n"))
        .concat();
    let model = dir.join("model.gguf");
    std::fs::write(&model, b"GGUF").unwrap();
    let d = Daemon::start(&dir, &config, &[]);
    let c = d.client().await;
    let sweeps = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sweeps");
    let mut seen = 0;
    for f in std::fs::read_dir(&sweeps).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        seen += 1;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let body: Vec<&str> = text.lines().filter(|l| !l.starts_with("model =")).collect();
        let spec = format!(
            "model = {:?}\n{}",
            model.display().to_string(),
            body.join("\n")
        );
        // The files it names come with it, as `llms submit` sends them.
        let sweep: llms_shared::Sweep = toml::from_str(&spec).unwrap();
        let files = sweep
            .named_files()
            .into_iter()
            .map(|(field, p)| llms_shared::AttachedFile {
                field: field.into(),
                path: sweeps.join(p).display().to_string(),
                text: std::fs::read_to_string(sweeps.join(p)).unwrap(),
            })
            .collect();
        let req = llms_shared::SubmitRequest {
            spec,
            base_dir: Some(sweeps.display().to_string()),
            file: Some(name.clone()),
            files,
            key: None,
        };
        let id = c.submit(ctx(), req).await.unwrap();
        let id = id.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let _ = c.cancel(ctx(), id).await.unwrap();
    }
    assert!(seen >= 5, "{seen} sweep files");
}

/// The files a sweep names come with it (the daemon never opens them: a path it cannot
/// read, or /dev/zero, is no obstacle and no hang), and a submit retried with its key queues
/// the job once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_prompts_run_and_a_retried_submit_queues_once() {
    let engine = Engine::start(fixed(20.0, 10.0));
    let dir = temp_dir("attached");
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let spec = format!("prompts = \"/dev/zero\"\n{}", smoke(&engine.url, "1", 4));
    match c.submit(ctx(), submit_req(&spec)).await.unwrap() {
        Err(ApiError::Invalid(m)) => {
            assert!(
                m.contains("prompts: the contents of '/dev/zero' did not come"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    let mut req = submit_req(&spec);
    req.files = vec![llms_shared::AttachedFile {
        field: "prompts".into(),
        path: "/dev/zero".into(),
        text: "[\"one prompt\", \"another prompt\"]".into(),
    }];
    req.key = Some("nightly-1".into());
    let id = c.submit(ctx(), req.clone()).await.unwrap().unwrap();
    let again = c.submit(ctx(), req).await.unwrap().unwrap();
    assert_eq!(id, again, "the same key answers the same job");
    assert_eq!(c.jobs(ctx()).await.unwrap().unwrap().len(), 1);
    let job = wait_job(&c, id, MIN, is_final).await;
    assert_eq!(
        (job.state, job.points_failed),
        (JobState::Done, 0),
        "{job:?}"
    );
    let rows = c.results(ctx(), id, true).await.unwrap().unwrap();
    let point = rows[0].point.as_ref().unwrap();
    assert_eq!(point.completed, 4, "{point:?}");
}
