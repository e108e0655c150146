//! Workloads against the reference engine, whose ground truth records what its prefix cache
//! served each request: a shared-prefix run reports exactly those cached tokens, request by
//! request; each point starts with its groups' prefixes uncached; the input lengths are exact;
//! and the hits the workload intends are not flagged as a bias.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Engine, bench_args, fixed, words};
use llmsd::bench::{self, Session};

/// Three groups with 96-token prefixes; each request's own part is 24 tokens. The reference
/// engine counts a byte as a token and caches 16-token blocks: a request whose group's prefix
/// is cached reuses every whole block of "<|system|>\n" + tag + prefix + "\n<|user|>\n" (116
/// bytes: 112 cached); the first of its group reuses nothing.
const SHARED: &str = "--workload shared-prefix --groups 3 --prefix-tokens 96 --input-tokens 24 \
                      --concurrency 1,1 --requests 24 --output-tokens 2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_prefix_hits_are_what_the_engine_served_request_by_request() {
    let eng = Engine::start(fixed(0.5, 0.2));
    let points = common::run_points(&eng.url, &words(SHARED)).await;
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
        // The contract's point-level total, and in the JSON.
        assert_eq!(p.cached_tokens, Some(21 * 112));
        assert_eq!(serde_json::to_value(p).unwrap()["cached_tokens"], 21 * 112);
        assert_eq!(c.shared_tokens, Some(96));
        assert!(!p.flagged("prefix_cache_hits"), "{:?}", p.flags);
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
    // Another seed draws other groups: other prompts, another digest.
    let other = args.replace("--seed 5", "--seed 6");
    let c = bench::run(bench_args(&eng.url, &words(&other)))
        .await
        .unwrap();
    assert_ne!(c.workload.unwrap().prompts_sha256, w.prompts_sha256);
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

/// Wait for job `id` to end, and expect it done.
async fn done(c: &llms_shared::LlmsdClient, id: u64, d: &common::daemon::Daemon) {
    let job = common::daemon::wait_job(
        c,
        id,
        std::time::Duration::from_secs(60),
        common::daemon::is_final,
    )
    .await;
    assert_eq!(
        job.state,
        llms_shared::JobState::Done,
        "{job:?}\n{}",
        d.log()
    );
}

/// Submit `req` and expect it refused with a message containing `want`.
async fn refused(c: &llms_shared::LlmsdClient, req: llms_shared::SubmitRequest, want: &str) {
    match c.submit(common::daemon::ctx(), req).await.unwrap() {
        Err(llms_shared::ApiError::Invalid(m)) => assert!(m.contains(want), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// The same workload from a sweep's `[workload]`, through the daemon: every point's row says
/// what was sent, and the raw records' hits are the engine's. A bad `[workload]` is refused
/// with its field named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_with_a_shared_prefix_runs_through_the_daemon() {
    use common::daemon::{Daemon, ctx, submit_req, temp_dir};
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
    refused(&c, submit_req(&bad), "workload.groups: required").await;
    let good = sweep("kind = \"shared_prefix\"\ngroups = 2\nprefix_tokens = 64");
    let id = c.submit(ctx(), submit_req(&good)).await.unwrap().unwrap();
    done(&c, id, &d).await;
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
        assert!(!p.flagged("prefix_cache_hits"), "{:?}", p.flags);
        assert_eq!(p.input_token_mismatches, 0);
    }
    // A conversation from the same kind of sweep: turns, their TTFT, and batch refused.
    let bad =
        sweep("kind = \"conversation\"\nturns = 2").replace("concurrency = [1, 2]", "batch = [2]");
    refused(
        &c,
        submit_req(&bad),
        "load.batch: a conversation does not run in batches",
    )
    .await;
    // Its first turn is the whole prompt of --input-tokens.
    let talk = sweep("kind = \"conversation\"\nturns = 3\nthink_ms = 1")
        .replace("input_tokens = 24", "input_tokens = 40");
    let id = c.submit(ctx(), submit_req(&talk)).await.unwrap().unwrap();
    done(&c, id, &d).await;
    let rows = c.results(ctx(), id, true).await.unwrap().unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        let w = r.workload.as_ref().unwrap();
        assert_eq!(
            (w.kind.as_str(), w.turns, w.think_ms),
            ("conversation", Some(3), Some(1.0))
        );
        let p = r.point.as_ref().unwrap();
        // 12 turns: 4 sessions of 3.
        assert_eq!((p.completed, p.ttft_by_turn_ms.len()), (12, 3));
        assert!(p.requests.iter().all(|q| q.turn.is_some()));
    }
    // A trace from a sweep: its file comes with the sweep (llms submit reads it), and the
    // load is its speed.
    let trace = format!(
        "name = \"trace\"\n[[engine]]\nkind = \"external\"\nurl = \"{}\"\nmodel = \"truth\"\n\
         [load]\nspeed = [4.0]\n[workload]\nkind = \"trace\"\ntrace = \"/t/trace.jsonl\"\nblock_tokens = 32\n",
        eng.url
    );
    let mut req = submit_req(&trace);
    refused(
        &c,
        req.clone(),
        "workload.trace: the contents of '/t/trace.jsonl' did not come",
    )
    .await;
    req.files = vec![llms_shared::AttachedFile {
        field: llms_shared::TRACE_FIELD.into(),
        path: "/t/trace.jsonl".into(),
        text: TRACE.into(),
    }];
    let id = c.submit(ctx(), req).await.unwrap().unwrap();
    done(&c, id, &d).await;
    let rows = c.results(ctx(), id, false).await.unwrap().unwrap();
    let r = &rows[0];
    assert_eq!(r.point.as_ref().unwrap().completed, 5);
    assert_eq!(
        r.workload.as_ref().unwrap().trace.as_ref().unwrap().blocks,
        5
    );
}

/// Conversations against the reference engine: 4 sessions of 3 turns, 2 in flight. Each turn
/// resends the whole history, the assistant's turns exactly as the engine answered (its
/// answers are known text, `answer_text`): turn t+1's prompt is turn t's plus the answer, the
/// template's markers and one new 6-token user message. The engine serves the history from its
/// cache, and the report has each turn's TTFT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_resend_the_history_the_engine_answered() {
    let eng = Engine::start(fixed(0.5, 0.2));
    let args = "--workload conversation --turns 3 --concurrency 2 --requests 11 \
                --output-tokens 5 --input-tokens 40";
    let points = common::run_points(&eng.url, &words(args)).await;
    let truth = eng.truth().await;
    let (p, records) = &points[0];
    // 11 turns round up to 4 whole sessions.
    assert_eq!((p.completed, p.failed), (12, 0));
    let answer = llmsd::refengine::answer_text(5).len() as u64;
    // "\n" after the answer, "<|user|>\n", a 6-byte message, "\n<|assistant|>\n".
    let step = answer + 1 + 9 + 6 + 15;
    for s in records.chunks(3) {
        let turns: Vec<u32> = s.iter().map(|r| r.turn.unwrap()).collect();
        assert_eq!(turns, [1, 2, 3]);
        let prompt: Vec<u64> = s.iter().map(|r| truth[&r.id].prompt_tokens).collect();
        assert_eq!(prompt, [40, 40 + step, 40 + 2 * step], "{}", s[0].id);
        // The first turn's blocks are cached for the second, the second's for the third.
        for (r, before) in s[1..].iter().zip(&prompt) {
            let cached = r.usage.cached_tokens.unwrap();
            assert_eq!(cached, truth[&r.id].cached_tokens);
            assert_eq!(cached, before / 16 * 16, "{}", r.id);
        }
        assert_eq!(s[0].usage.cached_tokens, Some(0));
    }
    let by_turn: Vec<(&str, u64)> = p
        .ttft_by_turn_ms
        .iter()
        .map(|(t, l)| (t.as_str(), l.count))
        .collect();
    assert_eq!(by_turn, [("1", 4), ("2", 4), ("3", 4)]);
    assert!(!p.flagged("prefix_cache_hits"), "{:?}", p.flags);
    assert_eq!(p.prefix_cache.as_ref().unwrap().excess_hit_rate, 0.0);
    let v = serde_json::to_value(p).unwrap();
    assert_eq!(v["ttft_by_turn_ms"]["2"]["count"], 4);
}

/// Conversations with a shared system prompt (`--prefix-tokens`): every session opens with the
/// same 64-token system message, then its own first user message (made unique), so an engine
/// serves the system prompt of every session after the first from its cache, and nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_share_their_system_prompt_and_nothing_else() {
    let eng = Engine::start(fixed(0.5, 0.2));
    let args = "--workload conversation --turns 2 --concurrency 1 --requests 6 \
                --output-tokens 5 --input-tokens 40 --prefix-tokens 64";
    let points = common::run_points(&eng.url, &words(args)).await;
    let truth = eng.truth().await;
    let (p, records) = &points[0];
    assert_eq!((p.completed, p.failed), (6, 0));
    let firsts: Vec<&llms_shared::RequestRecord> =
        records.iter().filter(|r| r.turn == Some(1)).collect();
    assert_eq!(firsts.len(), 3);
    let prompt: Vec<u64> = firsts.iter().map(|r| truth[&r.id].prompt_tokens).collect();
    // The same shape each time: the 40-token message, the 64-token system prompt and the
    // system message's own markers.
    assert!(prompt.iter().all(|n| *n == prompt[0]), "{prompt:?}");
    assert!((40 + 64..40 + 64 + 32).contains(&prompt[0]), "{prompt:?}");
    // The first session finds nothing cached; the later ones find the system prompt (in the
    // engine's 16-token blocks) and not their own message.
    assert_eq!(firsts[0].usage.cached_tokens, Some(0));
    for r in &firsts[1..] {
        let cached = r.usage.cached_tokens.unwrap();
        assert_eq!(cached, truth[&r.id].cached_tokens);
        assert!(
            cached >= 64 && cached <= prompt[0] - 40 + 16,
            "{}: {cached}",
            r.id
        );
    }
    // Hits are by design in a conversation: no flag.
    assert!(!p.flagged("prefix_cache_hits"), "{:?}", p.flags);
}

/// At a rate, sessions start at the arrivals; the next point's sessions start afresh (their
/// first turns are new prompts, not cached), and a batch is refused for conversations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_sessions_arrive_at_a_rate_and_points_do_not_share_them() {
    let eng = Engine::start(fixed(0.5, 0.2));
    let args = "--workload conversation --turns 2 --think-ms 5 --rate 200,200 --requests 6 \
                --output-tokens 3 --input-tokens 40";
    let points = common::run_points(&eng.url, &words(args)).await;
    for (p, records) in &points {
        assert_eq!((p.completed, p.failed), (6, 0));
        let turn = |t: u32| records.iter().filter(move |r| r.turn == Some(t));
        // Three sessions of two turns: three of each.
        assert_eq!((turn(1).count(), turn(2).count()), (3, 3));
        for r in turn(1) {
            assert_eq!(r.usage.cached_tokens, Some(0), "{}", r.id);
        }
        for r in turn(2) {
            assert!(r.usage.cached_tokens.unwrap() > 0, "{}", r.id);
        }
    }
    let e = bench::run(bench_args(
        "http://127.0.0.1:9",
        &words("--workload conversation --turns 2 --batch 4"),
    ))
    .await
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("--batch does not run conversations"),
        "{e}"
    );
}

/// A small Mooncake-style trace: requests 0, 1 and 4 share blocks 1 and 2; request 2 has a
/// block of its own; request 3 none.
const TRACE: &str = "\
{\"timestamp\": 1000, \"input_length\": 64, \"output_length\": 3, \"hash_ids\": [1, 2]}
{\"timestamp\": 1040, \"input_length\": 80, \"output_length\": 4, \"hash_ids\": [1, 2, 3]}
{\"timestamp\": 1040, \"input_length\": 50, \"output_length\": 2, \"hash_ids\": [9]}
{\"timestamp\": 1100, \"input_length\": 20, \"output_length\": 2}
{\"timestamp\": 1150, \"input_length\": 96, \"output_length\": 5, \"hash_ids\": [1, 2, 4]}
";

/// Replayed at 1x and 2x against the reference engine (a byte a token, 16-token cache blocks,
/// blocks of 32 here): each request is due at its trace time over the speed; asks its own
/// output length; reuses the blocks it shares with earlier ones (the point's 10-token tag and
/// the chat template's "<|user|>\n" are shared by every request: one 16-byte block); and the
/// second point starts uncached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_replays_its_times_lengths_and_shared_blocks() {
    let dir = common::daemon::temp_dir("trace");
    let path = dir.join("trace.jsonl");
    std::fs::write(&path, TRACE).unwrap();
    let eng = Engine::start(fixed(0.5, 0.2));
    let args = format!(
        "--workload trace --trace {} --block-tokens 32 --speed 1,2",
        path.display()
    );
    let mut s = Session::open(bench_args(&eng.url, &words(&args)).config().unwrap())
        .await
        .unwrap();
    let w = s.workload().unwrap();
    let t = w.trace.unwrap();
    assert_eq!(
        (t.requests, t.replayed, t.blocks, t.block_tokens),
        (5, 5, 5, 32)
    );
    let truth_before = eng.truth().await.len();
    for (i, speed) in [(0, 1.0), (1, 2.0)] {
        let (p, records) = s.point(i, None).await.unwrap();
        assert_eq!((p.completed, p.failed), (5, 0), "{:?}", p.errors);
        assert_eq!(p.load, llms_shared::Load::Trace { speed });
        let due: Vec<u64> = records.iter().map(|r| r.due_ns / 1_000_000).collect();
        let want: Vec<u64> = [0.0, 40.0, 40.0, 100.0, 150.0]
            .iter()
            .map(|ms: &f64| (ms / speed) as u64)
            .collect();
        assert_eq!(due, want, "due times at {speed}x");
        let outputs: Vec<Option<u64>> = records.iter().map(|r| r.usage.completion_tokens).collect();
        assert_eq!(outputs, [Some(3), Some(4), Some(2), Some(2), Some(5)]);
        let truth = eng.truth().await;
        let cached: Vec<u64> = records.iter().map(|r| truth[&r.id].cached_tokens).collect();
        for (r, c) in records.iter().zip(&cached) {
            assert_eq!(r.usage.cached_tokens, Some(*c), "{}", r.id);
        }
        // Request 0 is the point's first: nothing cached, whatever ran before.
        assert_eq!(cached[0], 0, "{cached:?}");
        // Requests 1 and 4 reuse blocks 1 and 2 (64 bytes after a 19-byte head: 80 cached).
        assert_eq!((cached[1], cached[4]), (80, 80), "{cached:?}");
        // Requests 2 and 3 share only the head with the others: one 16-byte block.
        assert_eq!((cached[2], cached[3]), (16, 16), "{cached:?}");
        // Sent when due, not merely planned so.
        for r in &records {
            assert!(
                r.start_ns >= r.due_ns && r.start_ns - r.due_ns < 20_000_000,
                "{}",
                r.id
            );
        }
        assert!(!p.flagged("prefix_cache_hits"), "{:?}", p.flags);
    }
    assert_eq!(eng.truth().await.len(), truth_before + 10);
    // Asking for more requests than the trace has says how many it has.
    let more = format!("{args} --requests 6");
    let e = Session::open(bench_args(&eng.url, &words(&more)).config().unwrap())
        .await
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("trace.jsonl has only 5 requests"),
        "{e}"
    );
    // Bad traces are refused with the file and line.
    std::fs::write(&path, "{\"timestamp\": 5, \"input_length\": 4}\n").unwrap();
    let e = Session::open(bench_args(&eng.url, &words(&args)).config().unwrap())
        .await
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .contains("trace.jsonl line 1: output_length: missing"),
        "{e}"
    );
}

/// vLLM (with --enable-prompt-tokens-details, which its adapter now passes) and SGLang (with
/// --enable-cache-report) report a request's cached tokens only when there are some: the
/// first request of each group says nothing. The point still reads its hits from usage,
/// counting those as 0, and they sum to the engine's truth. The shared prefix is built through
/// each engine's own `/detokenize`, which names its text differently (vLLM `prompt`, SGLang
/// `text`: the GPU run of 2026-12-06 found SGLang's refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engines_that_leave_out_a_zero_are_read_from_usage_all_the_same() {
    use llmsd::refengine::dialect::Imitate;
    for imitate in [Imitate::Vllm, Imitate::Sglang] {
        let eng = Engine::start(llmsd::refengine::RefArgs {
            imitate: Some(imitate),
            cache_report: true,
            ..fixed(0.5, 0.2)
        });
        let args = "--workload shared-prefix --groups 2 --prefix-tokens 64 --input-tokens 24 \
                    --concurrency 1 --requests 8 --output-tokens 2";
        let points = common::run_points(&eng.url, &words(args)).await;
        let (p, records) = &points[0];
        let truth = eng.truth().await;
        let silent = records
            .iter()
            .filter(|r| r.usage.cached_tokens.is_none())
            .count();
        assert_eq!(
            silent, 2,
            "{imitate:?}: the first of each group reports nothing"
        );
        let c = p.prefix_cache.as_ref().unwrap();
        assert_eq!(c.source, "usage", "{imitate:?}");
        let want: u64 = records.iter().map(|r| truth[&r.id].cached_tokens).sum();
        assert_eq!(c.cached_tokens, want, "{imitate:?}");
        assert!(want > 0);
    }
}

/// Drawn lengths: each prompt is exactly its drawn length as the engine counts it, each
/// answer its drawn output length, both recorded per request and checked; the same seed
/// draws the same; bad distributions are refused by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drawn_input_and_output_lengths_are_exact_per_request() {
    let eng = Engine::start(fixed(0.2, 0.1));
    let args = "--input-dist uniform:40,120 --output-dist uniform:2,9 --concurrency 2 \
                --requests 24 --seed 3";
    let points = common::run_points(&eng.url, &words(args)).await;
    let (p, records) = &points[0];
    assert_eq!(
        (
            p.completed,
            p.input_token_mismatches,
            p.output_token_mismatches
        ),
        (24, 0, 0)
    );
    let inputs: Vec<u64> = records
        .iter()
        .map(|r| r.usage.prompt_tokens.unwrap())
        .collect();
    for (r, n) in records.iter().zip(&inputs) {
        assert_eq!(r.client_input_tokens, Some(*n), "{}", r.id);
        assert!((40..=120).contains(n), "{n}");
        let out = r.usage.completion_tokens.unwrap();
        assert_eq!(Some(out as u32), r.max_tokens, "{}", r.id);
        assert!((2..=9).contains(&out), "{out}");
    }
    assert!(
        inputs.iter().any(|n| *n != inputs[0]),
        "lengths vary: {inputs:?}"
    );
    let a = bench::run(bench_args(&eng.url, &words(args)))
        .await
        .unwrap();
    let b = bench::run(bench_args(&eng.url, &words(args)))
        .await
        .unwrap();
    let (wa, wb) = (a.workload.unwrap(), b.workload.unwrap());
    assert_eq!(wa.prompts_sha256, wb.prompts_sha256);
    assert_eq!(
        (wa.input_dist.as_deref(), wa.output_dist.as_deref()),
        (Some("uniform:40,120"), Some("uniform:2,9"))
    );
    for (bad, want) in [
        ("--concurrency 1 --input-dist uniform:9,3", "--input-dist"),
        (
            "--concurrency 1 --input-dist fixed:50 --workload conversation --turns 2",
            "--input-dist: only for the single workload",
        ),
        ("--concurrency 1 --output-dist normal:5", "--output-dist"),
    ] {
        let e = match bench_args_result(&eng.url, bad) {
            Err(e) => e,
            Ok(a) => bench::run(a).await.unwrap_err().to_string(),
        };
        assert!(e.contains(want), "{bad}: {e}");
    }
}

/// Parse bench options, the error as text.
fn bench_args_result(url: &str, extra: &str) -> Result<llmsd::bench::BenchArgs, String> {
    let mut v = vec!["--url", url];
    v.extend(words(extra));
    llmsd::bench::args::parse(&v).map_err(|e| e.to_string())
}

/// A ShareGPT file replayed turn by turn: each session is one of its conversations, with every
/// human turn (up to --turns) after its system message, and the engine's answers between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharegpt_dataset_is_replayed_with_all_its_turns() {
    let dir = common::daemon::temp_dir("sharegpt");
    let path = dir.join("chats.json");
    let data = r#"[
      {"id": "a", "conversations": [{"from": "system", "value": "You are terse."},
        {"from": "human", "value": "First question?"}, {"from": "gpt", "value": "A dataset answer."},
        {"from": "human", "value": "Second, longer question?"}, {"from": "gpt", "value": "x"},
        {"from": "human", "value": "Third?"}]},
      {"id": "b", "conversations": [{"from": "human", "value": "Only two turns here."},
        {"from": "gpt", "value": "y"}, {"from": "human", "value": "Bye."}]}
    ]"#;
    std::fs::write(&path, data).unwrap();
    let eng = Engine::start(fixed(0.3, 0.1));
    let args = format!(
        "--workload conversation --turns 8 --prompts {} --concurrency 1 --requests 16 \
         --output-tokens 4",
        path.display()
    );
    let points = common::run_points(&eng.url, &words(&args)).await;
    let (p, records) = &points[0];
    let truth = eng.truth().await;
    let turns: Vec<u32> = records.iter().map(|r| r.turn.unwrap()).collect();
    assert_eq!(
        turns,
        [1, 2, 3, 1, 2],
        "every turn of each conversation, no more"
    );
    assert_eq!(p.completed, 5);
    let prompt = |i: usize| truth[&records[i].id].prompt_tokens;
    let answer = llmsd::refengine::answer_text(4).len() as u64;
    // Turn t+1 adds the engine's answer, "\n", "<|user|>\n", the dataset's next human turn,
    // "\n" and "<|assistant|>\n".
    let step = |next: &str| answer + 1 + 9 + next.len() as u64 + 1 + 14;
    assert_eq!(prompt(1), prompt(0) + step("Second, longer question?"));
    assert_eq!(prompt(2), prompt(1) + step("Third?"));
    assert_eq!(prompt(4), prompt(3) + step("Bye."));
    // The system message opens the first session's first turn (with its preamble), not the
    // second's: "<|system|>\n" + 10 + "You are terse." + "\n" + "<|user|>\n" + "First
    // question?" + "\n" + "<|assistant|>\n".
    assert_eq!(prompt(0), 11 + 10 + 14 + 1 + 9 + 15 + 1 + 14);
    assert_eq!(prompt(3), 9 + 10 + 20 + 1 + 14);
    // The dataset brings its own system messages: a shared one as well is refused.
    let both = format!("{args} --prefix-tokens 64");
    // Refused with the options, before the server is asked.
    let e = bench_args(&eng.url, &words(&both)).config().unwrap_err();
    assert!(e.contains("--prefix-tokens"), "{e}");
    // More sessions than conversations: replayed again, and said.
    let more = args.replace("--requests 16", "--requests 32");
    let mut s = Session::open(bench_args(&eng.url, &words(&more)).config().unwrap())
        .await
        .unwrap();
    let w = s.take_warnings();
    assert!(
        w.iter()
            .any(|w| w.contains("has 2 conversations and the run starts 4 sessions")),
        "{w:?}"
    );
}

/// `--output-dist dataset`: each request asks for a length the prompts file's own answers
/// have (counted by the server's tokenizer: a byte a token here), drawn with replacement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_lengths_follow_a_datasets_answers() {
    let dir = common::daemon::temp_dir("answers");
    let path = dir.join("chats.jsonl");
    std::fs::write(
        &path,
        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"12345\"}]}\n\
         {\"conversations\": [{\"from\": \"human\", \"value\": \"yo\"}, {\"from\": \"gpt\", \"value\": \"123456789\"}]}\n\
         {\"prompt\": \"no answer here\"}\n",
    )
    .unwrap();
    let eng = Engine::start(fixed(0.2, 0.1));
    let args = format!(
        "--prompts {} --output-dist dataset --concurrency 2 --requests 20",
        path.display()
    );
    let points = common::run_points(&eng.url, &words(&args)).await;
    let (p, records) = &points[0];
    assert_eq!((p.completed, p.output_token_mismatches), (20, 0));
    let asked: Vec<u32> = records.iter().map(|r| r.max_tokens.unwrap()).collect();
    assert!(asked.iter().all(|n| *n == 5 || *n == 9), "{asked:?}");
    assert!(asked.contains(&5) && asked.contains(&9), "{asked:?}");
    // A file without answers, or no file, is refused by name.
    std::fs::write(&path, "{\"prompt\": \"x\"}\n").unwrap();
    let e = Session::open(bench_args(&eng.url, &words(&args)).config().unwrap())
        .await
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .contains("--output-dist dataset: the prompts file has no answers"),
        "{e}"
    );
    let e = Session::open(
        bench_args(&eng.url, &words("--output-dist dataset --concurrency 1"))
            .config()
            .unwrap(),
    )
    .await
    .err()
    .unwrap();
    assert!(
        e.to_string().contains("give the dataset with --prompts"),
        "{e}"
    );
}

/// Sessions of drawn length and exponential think times: each session has its own number of
/// turns (at most --turns, the same for the same seed), and the pauses between a turn's
/// answer and the next turn vary around their mean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_turns_and_think_times_are_drawn() {
    let eng = Engine::start(fixed(0.2, 0.1));
    let args = "--workload conversation --turns 6 --turns-dist uniform:1,6 --think-ms 10 \
                --think-exponential --concurrency 2 --requests 60 --output-tokens 2 --seed 9";
    let session_turns = |records: &[llms_shared::RequestRecord]| {
        let mut by: std::collections::BTreeMap<u64, u32> = Default::default();
        for r in records {
            let i: u64 = r.id.rsplit('-').next().unwrap().parse().unwrap();
            *by.entry(i / 6).or_default() += 1;
        }
        by.into_values().collect::<Vec<u32>>()
    };
    let points = common::run_points(&eng.url, &words(args)).await;
    let (p, records) = &points[0];
    assert_eq!(p.failed, 0);
    let turns = session_turns(records);
    assert_eq!(turns.len(), 10, "60 turns reserve 10 sessions of 6");
    assert!(turns.iter().all(|t| (1..=6).contains(t)), "{turns:?}");
    assert!(turns.iter().any(|t| *t != turns[0]), "{turns:?}");
    let again = common::run_points(&eng.url, &words(args)).await;
    assert_eq!(
        session_turns(&again[0].1),
        turns,
        "the same seed, the same sessions"
    );
    // Think times: from one turn's end to the next one's due time, within a session.
    let mut gaps = Vec::new();
    for w in records.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if b.turn == Some(a.turn.unwrap() + 1) {
            gaps.push(b.due_ns.saturating_sub(a.start_ns + a.end_ns));
        }
    }
    assert!(gaps.len() >= 5, "{gaps:?}");
    let (lo, hi) = (gaps.iter().min().unwrap(), gaps.iter().max().unwrap());
    assert!(hi > lo && hi - lo > 5_000_000, "think times vary: {gaps:?}");
}
