//! Workloads against the reference engine, whose ground truth records what its prefix cache
//! served each request: a shared-prefix run reports exactly those cached tokens, request by
//! request; each point starts with its groups' prefixes uncached; the input lengths are exact;
//! and the hits the workload intends are not flagged as a bias.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Engine, bench_args, fixed, words};
use llms_shared::{PointResult, RequestRecord};
use llmsd::bench::{self, Session};

async fn run(url: &str, extra: &[&str]) -> Vec<(PointResult, Vec<RequestRecord>)> {
    let mut s = Session::open(bench_args(url, extra).config().unwrap())
        .await
        .unwrap();
    let mut out = Vec::new();
    for i in 0..s.loads().len() {
        out.push(s.point(i, None).await.unwrap());
    }
    out
}

/// Three groups with 96-token prefixes; each request's own part is 24 tokens. The reference
/// engine counts a byte as a token and caches 16-token blocks: a request whose group's prefix
/// is cached reuses every whole block of "<|system|>\n" + tag + prefix + "\n<|user|>\n" (116
/// bytes: 112 cached); the first of its group reuses nothing.
const SHARED: &str = "--workload shared-prefix --groups 3 --prefix-tokens 96 --input-tokens 24 \
                      --concurrency 1,1 --requests 24 --output-tokens 2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_prefix_hits_are_what_the_engine_served_request_by_request() {
    let eng = Engine::start(fixed(0.5, 0.2));
    let points = run(&eng.url, &words(SHARED)).await;
    let truth = eng.truth().await;
    for (p, records) in &points {
        assert_eq!(p.completed, 24);
        // Exactly what the engine says it served, request by request.
        for r in records {
            let t = &truth[&r.id];
            assert_eq!(r.usage.cached_tokens, Some(t.cached_tokens), "{}", r.id);
            assert_eq!(r.usage.prompt_tokens, Some(t.prompt_tokens), "{}", r.id);
        }
        // The first request of each group computes its prefix (each point's prefixes are its
        // own); every later one reuses it.
        let mut seen = Vec::new();
        for r in records {
            let g = r.group.unwrap();
            let want = if seen.contains(&g) { 112 } else { 0 };
            assert_eq!(r.usage.cached_tokens, Some(want), "{} group {g}", r.id);
            seen.push(g);
        }
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, [0, 1, 2]);
        let c = p.prefix_cache.as_ref().unwrap();
        assert_eq!((c.source.as_str(), c.cached_tokens), ("usage", 21 * 112));
        assert_eq!(c.shared_tokens, Some(96));
        assert!(
            !p.flags.iter().any(|f| f == "prefix_cache_hits"),
            "{:?}",
            p.flags
        );
        // Exact lengths: the template's share, the prefix and the request's own part.
        assert_eq!(p.input_token_mismatches, 0);
        let template = c.template_tokens.unwrap();
        assert_eq!(p.input_tokens, 24 * (template + 96 + 24));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_says_what_was_sent_and_repeats_with_the_seed() {
    let eng = Engine::start(fixed(0.2, 0.1));
    let args = "--workload shared-prefix --groups 2 --prefix-tokens 40 --zipf 1.2 \
                --concurrency 2 --requests 8 --output-tokens 2 --seed 5";
    let a = bench::run(bench_args(&eng.url, &words(args)))
        .await
        .unwrap();
    let b = bench::run(bench_args(&eng.url, &words(args)))
        .await
        .unwrap();
    let w = a.workload.clone().unwrap();
    assert_eq!(w.kind, "shared_prefix");
    assert_eq!(
        (w.groups, w.prefix_tokens, w.zipf),
        (Some(2), Some(40), Some(1.2))
    );
    assert_eq!((w.seed, w.output_tokens, w.input_tokens), (5, 2, None));
    assert!(w.unique_prompts);
    // The same prompts, in the same order, for the same seed.
    assert_eq!(b.workload.unwrap().prompts_sha256, w.prompts_sha256);
    let v = serde_json::to_value(&a).unwrap();
    assert_eq!(v["workload"]["kind"], "shared_prefix");
    assert_eq!(v["workload"]["prompts_sha256"].as_str().unwrap().len(), 64);
    // The single workload says so too.
    let s = bench::run(bench_args(&eng.url, &words("--concurrency 1 --requests 2")))
        .await
        .unwrap();
    let w = s.workload.unwrap();
    assert_eq!((w.kind.as_str(), w.groups), ("single", None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_flags_are_checked_by_name() {
    let url = "http://127.0.0.1:9";
    for (args, want) in [
        (
            "--concurrency 1 --groups 2",
            "--groups: only for the shared_prefix workload",
        ),
        (
            "--concurrency 1 --workload shared-prefix --prefix-tokens 8",
            "--groups: required",
        ),
        (
            "--concurrency 1 --workload shared-prefix --groups 2",
            "--prefix-tokens: required",
        ),
    ] {
        let e = bench::run(bench_args(url, &words(args))).await.unwrap_err();
        assert!(e.to_string().starts_with(want), "{args}: {e}");
    }
}

/// The same workload from a sweep's `[workload]`, through the daemon: every point's row says
/// what was sent, and the raw records' hits are the engine's. A bad `[workload]` is refused
/// with its field named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_with_a_shared_prefix_runs_through_the_daemon() {
    use common::daemon::{Daemon, ctx, is_final, submit_req, temp_dir, wait_job};
    let eng = Engine::start(fixed(0.5, 0.2));
    let dir = temp_dir("workload");
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let sweep = |workload: &str| {
        format!(
            "name = \"shared\"\n[[engine]]\nkind = \"external\"\nurl = \"{}\"\nmodel = \"truth\"\n\
             [load]\nconcurrency = [1, 2]\nrequests = 12\noutput_tokens = 2\ninput_tokens = 24\n\
             [workload]\n{workload}\n",
            eng.url
        )
    };
    let bad = sweep("kind = \"shared_prefix\"\nprefix_tokens = 64");
    match c.submit(ctx(), submit_req(&bad)).await.unwrap() {
        Err(llms_shared::ApiError::Invalid(m)) => {
            assert!(m.contains("workload.groups: required"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    let good = sweep("kind = \"shared_prefix\"\ngroups = 2\nprefix_tokens = 64");
    let id = c.submit(ctx(), submit_req(&good)).await.unwrap().unwrap();
    let job = wait_job(&c, id, std::time::Duration::from_secs(60), is_final).await;
    assert_eq!(
        job.state,
        llms_shared::JobState::Done,
        "{job:?}\n{}",
        d.log()
    );
    let rows = c.results(ctx(), id, true).await.unwrap().unwrap();
    let truth = eng.truth().await;
    assert_eq!(rows.len(), 2);
    for r in &rows {
        let w = r.workload.as_ref().unwrap();
        assert_eq!(
            (w.kind.as_str(), w.groups, w.prefix_tokens),
            ("shared_prefix", Some(2), Some(64))
        );
        assert_eq!(w.input_tokens, Some(24));
        let p = r.point.as_ref().unwrap();
        assert_eq!(p.requests.len(), 12);
        for q in &p.requests {
            assert_eq!(
                q.usage.cached_tokens,
                Some(truth[&q.id].cached_tokens),
                "{}",
                q.id
            );
        }
        assert!(p.prefix_cache.as_ref().unwrap().cached_tokens > 0);
        assert!(
            !p.flags.iter().any(|f| f == "prefix_cache_hits"),
            "{:?}",
            p.flags
        );
        assert_eq!(p.input_token_mismatches, 0);
    }
}
