//! Against a real llama.cpp `llama-server` built by `scripts/llamacpp.sh` (cached under
//! ~/.cache/llms; the first build takes minutes) serving a generated qwen2 model with the real
//! Qwen2 tokenizer. Counts are checked exactly, and against llama.cpp's own
//! `llamacpp:tokens_predicted_total`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::bench_args;
use llmsd::bench;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct LlamaServer {
    child: Child,
    url: String,
}

impl LlamaServer {
    async fn start() -> LlamaServer {
        let a = common::llama_artifacts();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&a["LLMS_LLAMA_SERVER"])
            .args([
                "-m",
                &a["LLMS_TINY_GGUF"],
                "--alias",
                "qwen2-tiny",
                "--host",
                "127.0.0.1",
            ])
            .args([
                "--port",
                &port.to_string(),
                "--parallel",
                "8",
                "--ctx-size",
                "32768",
            ])
            .args(["--threads", "1", "--metrics", "--no-webui"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let http = llmsd::loadgen::client::http_builder().build().unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let ok = http
                .get(format!("{url}/health"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "llama-server not healthy in 120 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        LlamaServer { child, url }
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_endpoints_give_exact_counts_that_match_llamacpp_metrics() {
    let srv = LlamaServer::start().await;
    for endpoint in ["chat", "completions"] {
        let a = bench_args(
            &srv.url,
            &[
                "--endpoint",
                endpoint,
                "--concurrency",
                "1,4",
                "--requests",
                "16",
                "--output-tokens",
                "16",
                "--warmup",
                "2",
            ],
        );
        let r = bench::run(a).await.unwrap();
        assert_eq!(r.server.as_deref(), Some("llamacpp"));
        for p in &r.points {
            // llama.cpp closes kept-alive connections: retries must make that cost nothing.
            assert_eq!(
                (p.completed, p.failed),
                (16, 0),
                "{endpoint} {}: {:?}",
                p.load,
                p.errors
            );
            assert_eq!(p.output_tokens, 16 * 16, "{endpoint}");
            assert_eq!(p.output_token_mismatches, 0);
            // Only client_bound may be raised (a busy test machine); every count is exact.
            assert!(
                p.flags.iter().all(|f| f == "client_bound"),
                "{endpoint} {}: {:?}",
                p.load,
                p.flags
            );
            let s = p.server.as_ref().expect("llama.cpp /metrics read");
            assert_eq!(s.metric, "llamacpp:tokens_predicted_total");
            assert_eq!(
                s.output_tokens, 256.0,
                "{endpoint} {}: engine counter delta",
                p.load
            );
            assert_eq!(s.agrees, Some(true));
            assert!(p.itl_ms.count > 0 && p.ttft_ms.count == 16);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthetic_prompts_are_exact_with_the_tokenizer_file_and_with_server_tokenize() {
    let srv = LlamaServer::start().await;
    let tok = common::llama_artifacts()["LLMS_QWEN2_TOKENIZER"].clone();
    for endpoint in ["completions", "chat"] {
        for with_file in [true, false] {
            let mut extra = vec![
                "--endpoint",
                endpoint,
                "--concurrency",
                "4",
                "--requests",
                "8",
                "--output-tokens",
                "4",
                "--input-tokens",
                "96",
            ];
            if with_file {
                extra.extend(["--tokenizer", tok.as_str()]);
            }
            let p = bench::run(bench_args(&srv.url, &extra))
                .await
                .unwrap()
                .points
                .remove(0);
            assert_eq!(
                p.completed, 8,
                "{endpoint} file={with_file}: {:?}",
                p.errors
            );
            assert_eq!(p.input_token_mismatches, 0, "{endpoint} file={with_file}");
            assert_eq!(p.input_tokens, 8 * 96, "{endpoint} file={with_file}");
        }
    }
}

/// 144 requests over the default set of 72 prompts, in two points: before every request was
/// made unique, llama.cpp served the second point's prompts from its caches (96 % of their
/// prompt tokens, measured here). Now only the chat template's head is shared, llama.cpp's
/// own count of cached tokens per request (`usage.prompt_tokens_details.cached_tokens`)
/// stays within it, its `/metrics` counter agrees with the sum, and no point is flagged.
/// The same run with `--verbatim-prompts` is flagged, with llama.cpp's count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llamacpp_reports_no_prefix_cache_hits_beyond_the_template() {
    let srv = LlamaServer::start().await;
    let run = |verbatim: bool| {
        // Enough tokens that no answer is all held-back UTF-8 (no token event at all).
        let mut extra =
            common::words("--concurrency 1,4 --requests 64 --warmup 8 --output-tokens 8");
        if verbatim {
            extra.push("--verbatim-prompts");
        }
        bench::run(bench_args(&srv.url, &extra))
    };
    let r = run(false).await.unwrap();
    for p in &r.points {
        let c = p
            .prefix_cache
            .as_ref()
            .expect("llama.cpp reports cached tokens");
        assert_eq!(c.source, "usage", "{}", p.load);
        let t = c
            .template_tokens
            .expect("template measured through /tokenize");
        assert!(
            t > 0 && c.cached_tokens <= t * (p.completed + p.failed),
            "{}: {c:?}",
            p.load
        );
        assert_eq!(c.excess_hit_rate, 0.0, "{}: {c:?}", p.load);
        assert!(!p.flagged("prefix_cache_hits"));
        // llama.cpp's counter of cached prompt tokens says the same over the point.
        let s = p.server.as_ref().unwrap();
        assert_eq!(s.cached_tokens, Some(c.cached_tokens as f64), "{}", p.load);
    }
    let r = run(true).await.unwrap();
    let c = r.points[1].prefix_cache.as_ref().unwrap();
    assert!(c.hit_rate > 0.5, "{c:?}");
    assert!(r.points[1].flagged("prefix_cache_hits"));
}

/// A shared-prefix run against llama.cpp's prompt cache: at one request at a time, each
/// request goes to the slot that last held its group (llama.cpp picks slots by prompt
/// similarity), so every request after the first of its group reuses at least the whole
/// 64-token prefix, and the first of a group (its prefix new in this point: each point tags
/// its prefixes afresh) no more than the template's head. llama.cpp's own counter of cached
/// tokens agrees with the sum of what each request reported, and the hits the workload intends
/// are not flagged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llamacpp_reuses_the_shared_prefix_of_each_group() {
    let srv = LlamaServer::start().await;
    let extra = common::words(
        "--workload shared-prefix --groups 3 --prefix-tokens 64 --input-tokens 24 \
         --concurrency 1,1 --requests 24 --output-tokens 8",
    );
    let a = bench_args(&srv.url, &extra);
    let mut s = bench::Session::open(a.config().unwrap()).await.unwrap();
    for i in 0..2 {
        let (p, records) = s.point(i, None).await.unwrap();
        let c = p
            .prefix_cache
            .as_ref()
            .expect("llama.cpp reports cached tokens");
        assert_eq!(c.source, "usage");
        let t = c
            .template_tokens
            .expect("template measured through /tokenize");
        let mut seen = Vec::new();
        for r in &records {
            let (g, cached) = (r.group.unwrap(), r.usage.cached_tokens.unwrap());
            if seen.contains(&g) {
                assert!(
                    cached >= 64,
                    "point {i} {}: group {g} reused {cached}",
                    r.id
                );
            } else {
                assert!(
                    cached <= t,
                    "point {i} {}: first of group {g} reused {cached}",
                    r.id
                );
                seen.push(g);
            }
        }
        assert_eq!(seen.len(), 3, "point {i}");
        assert_eq!(
            p.server.as_ref().unwrap().cached_tokens,
            Some(c.cached_tokens as f64)
        );
        assert!(!p.flagged("prefix_cache_hits"), "{:?}", p.flags);
        assert_eq!(p.input_token_mismatches, 0, "point {i}");
    }
}

/// A conversation against llama.cpp: at one session at a time, each turn after the first is
/// served from the slot holding its history, so llama.cpp reports the whole previous prompt
/// as cached (but for a token at the seam where the answer follows it), and its counter
/// agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llamacpp_serves_a_conversations_history_from_its_cache() {
    let srv = LlamaServer::start().await;
    let extra = common::words(
        "--workload conversation --turns 3 --concurrency 1 --requests 9 --output-tokens 8 \
         --input-tokens 48",
    );
    let a = bench_args(&srv.url, &extra);
    let mut s = bench::Session::open(a.config().unwrap()).await.unwrap();
    let (p, records) = s.point(0, None).await.unwrap();
    assert_eq!((p.completed, p.failed), (9, 0));
    for session in records.chunks(3) {
        for pair in session.windows(2) {
            let before = pair[0].usage.prompt_tokens.unwrap();
            let (now, cached) = (
                pair[1].usage.prompt_tokens.unwrap(),
                pair[1].usage.cached_tokens.unwrap(),
            );
            assert!(now > before, "{}: {now} after {before}", pair[1].id);
            // All of it but, at most, the seam: the previous prompt's last token
            // ("assistant\n") may tokenize into one with the answer's first character when the
            // history is resent (seen: 85 of 86).
            assert!(
                cached + 1 >= before,
                "{}: {cached} cached of {before}",
                pair[1].id
            );
        }
    }
    let c = p.prefix_cache.as_ref().unwrap();
    assert_eq!(
        p.server.as_ref().unwrap().cached_tokens,
        Some(c.cached_tokens as f64)
    );
    assert_eq!(p.ttft_by_turn_ms.len(), 3);
}

/// A trace replayed against llama.cpp: the request that shares its first two 32-token blocks
/// with an earlier one is served them from llama.cpp's prompt cache (at least most of them:
/// block texts are re-tokenized where they meet), the one with a block of its own shares
/// only the chat template's head and the point's tag, and each asks its own output length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llamacpp_reuses_the_blocks_a_trace_shares() {
    let srv = LlamaServer::start().await;
    let dir = std::env::temp_dir().join(format!("llms-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trace.jsonl");
    std::fs::write(
        &path,
        "{\"timestamp\": 0, \"input_length\": 64, \"output_length\": 4, \"hash_ids\": [1, 2]}\n\
         {\"timestamp\": 300, \"input_length\": 96, \"output_length\": 6, \"hash_ids\": [1, 2, 3]}\n\
         {\"timestamp\": 600, \"input_length\": 64, \"output_length\": 5, \"hash_ids\": [7, 8]}\n",
    )
    .unwrap();
    let args = format!(
        "--workload trace --trace {} --block-tokens 32 --speed 1",
        path.display()
    );
    let extra = common::words(&args);
    let a = bench_args(&srv.url, &extra);
    let mut s = bench::Session::open(a.config().unwrap()).await.unwrap();
    let (p, records) = s.point(0, None).await.unwrap();
    assert_eq!(
        (p.completed, p.output_token_mismatches),
        (3, 0),
        "{:?}",
        p.errors
    );
    let cached: Vec<u64> = records
        .iter()
        .map(|r| r.usage.cached_tokens.unwrap())
        .collect();
    assert!(cached[1] >= 48, "{cached:?}");
    assert!(cached[2] < 32, "{cached:?}");
    let outputs: Vec<u64> = records
        .iter()
        .map(|r| r.usage.completion_tokens.unwrap())
        .collect();
    assert_eq!(outputs, [4, 6, 5]);
    let c = p.prefix_cache.as_ref().unwrap();
    assert_eq!(
        p.server.as_ref().unwrap().cached_tokens,
        Some(c.cached_tokens as f64)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
