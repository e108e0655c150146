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
