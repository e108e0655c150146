//! Measurement truth against the reference engine: no hidden prefix-cache hits, every engine
//! step counted (empty chunks included), and points that end.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Engine, fixed, words};
use llms_shared::RequestRecord;
use llmsd::refengine::RefArgs;
use llmsd::refengine::dialect::Imitate;

/// Two points of 8 warm-up and 64 measured requests each: 144 requests over the default set
/// of 72 prompts, so the second point's prompts are the first's again.
const TWO_POINTS: &str = "--concurrency 1,4 --requests 64 --warmup 8 --output-tokens 3";

/// Before the fix, every request of the second point hit the engine's prefix cache for all
/// but its last block (the reference engine models vLLM's block cache): their TTFTs were
/// cached-prefix TTFTs. Now each request starts with its own preamble, so nothing is reused
/// (the tiny template's head is shorter than a block), the engine agrees, and the point
/// reports the hits it measured: zero, from every request's usage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_of_a_run_is_served_from_another_ones_prompt() {
    let eng = Engine::start(fixed(0.5, 0.2));
    let points = common::run_points(&eng.url, &words(TWO_POINTS)).await;
    let truth = eng.truth().await;
    // Warm-ups and points, and the two preflights (they share one id).
    assert_eq!(truth.len(), 144 + 1);
    let cached: u64 = truth.values().map(|r| r.cached_tokens).sum();
    let prompt: u64 = truth.values().map(|r| r.prompt_tokens).sum();
    assert_eq!(
        cached, 0,
        "{cached} of {prompt} prompt tokens came from the cache"
    );
    for (p, records) in &points {
        let c = p.prefix_cache.as_ref().unwrap();
        assert_eq!(c.source, "usage");
        assert_eq!(c.cached_tokens, 0);
        assert!(c.unique_prompts);
        assert_eq!(
            c.prompt_tokens,
            records
                .iter()
                .map(|r| r.usage.prompt_tokens.unwrap())
                .sum::<u64>()
        );
        assert!(!p.flagged("prefix_cache_hits"), "{:?}", p.flags);
        // The engine's counter over the point says the same.
        assert_eq!(p.server.as_ref().unwrap().cached_tokens, Some(0.0));
    }
}

/// With `--verbatim-prompts` the old behaviour comes back: the second point replays the
/// first's prompts, the engine serves them from its cache, and the point says so: its hits
/// equal the engine's ground truth exactly, and it is flagged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_prompts_are_measured_and_flagged() {
    let eng = Engine::start(fixed(0.5, 0.2));
    let mut args = words(TWO_POINTS);
    args.push("--verbatim-prompts");
    let points = common::run_points(&eng.url, &args).await;
    let truth = eng.truth().await;
    let (first, second) = (&points[0], &points[1]);
    let truth_cached =
        |rs: &[RequestRecord]| -> u64 { rs.iter().map(|r| truth[&r.id].cached_tokens).sum() };
    let c = second.0.prefix_cache.as_ref().unwrap();
    assert!(!c.unique_prompts);
    assert_eq!(c.cached_tokens, truth_cached(&second.1));
    assert!(c.hit_rate > 0.5, "{c:?}");
    assert!(second.0.flagged("prefix_cache_hits"));
    // The first point's prompts were new to the engine, but for the warm-up's repeats.
    let c1 = first.0.prefix_cache.as_ref().unwrap();
    assert_eq!(c1.cached_tokens, truth_cached(&first.1));
    // Per request, as the engine counted it.
    for r in &second.1 {
        assert_eq!(r.usage.cached_tokens, Some(truth[&r.id].cached_tokens));
    }
}

/// vLLM sends a chunk with empty text while its detokenizer holds back part of a UTF-8
/// character; each is one engine step. Counting them, llmsd sees one event per generated
/// token, the same number of inter-token gaps as the engine's own histogram, and none of the
/// doubled gaps that skipping them made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_back_chunks_are_steps_and_match_the_engines_itl_histogram() {
    for imitate in [None, Some(Imitate::Vllm)] {
        let eng = Engine::start(RefArgs {
            imitate,
            held_back_every: Some(4),
            ..fixed(0.5, 2.5)
        });
        let args = words("--concurrency 2 --requests 8 --output-tokens 16");
        let points = common::run_points(&eng.url, &args).await;
        let (p, records) = &points[0];
        for r in records {
            assert_eq!(r.chunks.len(), 16, "{imitate:?}: one event per token");
        }
        assert_eq!(p.itl_ms.count, 8 * 15);
        let itl = p.server.as_ref().unwrap().itl.as_ref().unwrap();
        assert_eq!((itl.engine_gaps, itl.client_gaps), (120, 120), "{itl:?}");
        if imitate.is_none() {
            // Fine buckets (2 to 3 ms holds the 2.5 ms gaps): the two distributions agree
            // (merged gaps of 5 ms would be a quarter of llmsd's).
            assert!(itl.max_cdf_diff < 0.2, "{itl:?}");
        }
    }
}

/// A point ends at most its timeout after its last request was sent, whatever the server does,
/// and says why when it had to end requests: here the last request's stream stops halfway and
/// the server holds the connection open. The cut request keeps what it received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_that_would_not_end_is_cut_and_says_why() {
    // Generation requests 1 and 2 are the preflight and the template probe; 3 to 8 measured.
    let eng = Engine::start(RefArgs {
        fault_stall_every: Some(8),
        ..fixed(0.5, 0.2)
    });
    let args = words("--concurrency 2 --requests 6 --timeout 1");
    let points = common::run_points(&eng.url, &args).await;
    let (p, records) = &points[0];
    assert_eq!((p.completed, p.failed), (5, 1), "{:?}", p.errors);
    let why = p.cut.as_deref().expect("the point says it was cut");
    assert!(
        why.starts_with("1 request(s)") && why.contains("1.0 s"),
        "{why}"
    );
    assert!(p.flagged("point_cut"), "{:?}", p.flags);
    let cut = records.iter().find(|r| r.error.is_some()).unwrap();
    assert_eq!(cut.error.as_ref().unwrap().kind, "timeout");
    // 128 tokens by default: it stalled after half of them, which it keeps.
    assert_eq!(cut.chunks.len(), 64, "the half it streamed is kept");
}
