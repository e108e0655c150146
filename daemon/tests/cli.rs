//! `llmsd bench` as a user runs it: exit codes and one-line errors that name the thing at fault.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Engine, fixed};
use llmsd::refengine::RefArgs;
use std::io::{Read, Write};
use std::process::{Command, Output};

fn llmsd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llmsd"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 2 and a single-line message containing every `needle`.
fn refused(o: &Output, needles: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {e}");
    for n in needles {
        assert!(e.contains(n), "{n:?} not in: {e}");
    }
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "not one line: {e}");
}

fn tmp(name: &str, body: &str) -> String {
    let dir = std::env::temp_dir().join(format!("llms-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_owned()
}

/// `llmsd bench --url URL --concurrency C --requests 3 --output-tokens T --json FILE`: how it
/// ended, and the JSON it wrote (`null` if none).
fn bench_json(
    url: &str,
    concurrency: &str,
    tokens: &str,
    file: &str,
) -> (Output, serde_json::Value) {
    let json = tmp(file, "");
    let o = llmsd(&[
        "bench",
        "--url",
        url,
        "--concurrency",
        concurrency,
        "--requests",
        "3",
        "--output-tokens",
        tokens,
        "--json",
        &json,
    ]);
    let v = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    (o, v)
}

#[test]
fn a_good_run_exits_0_with_a_table_and_json() {
    let eng = Engine::start(fixed(1.0, 1.0));
    let (o, v) = bench_json(&eng.url, "1,2", "3", "ok.json");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("concurrency 1") && out.contains("concurrency 2") && out.contains("TTFT"),
        "{out}"
    );
    assert_eq!(v["points"][1]["completed"], 3);
}

#[test]
fn unreachable_server() {
    refused(
        &llmsd(&["bench", "--url", "http://127.0.0.1:9", "--concurrency", "1"]),
        &["cannot reach", "127.0.0.1:9"],
    );
}

#[test]
fn wrong_endpoint_is_a_404_named() {
    let eng = Engine::start(fixed(1.0, 1.0));
    let o = llmsd(&[
        "bench",
        "--url",
        &format!("{}/nothing", eng.url),
        "--concurrency",
        "1",
    ]);
    refused(&o, &["404", "/nothing/v1/chat/completions", "--endpoint"]);
}

#[test]
fn a_server_that_cuts_streams() {
    let eng = Engine::start(RefArgs {
        fault_cut_every: Some(1),
        ..fixed(1.0, 1.0)
    });
    refused(
        &llmsd(&["bench", "--url", &eng.url, "--concurrency", "1"]),
        &["stream_cut", "[DONE]"],
    );
}

#[test]
fn a_server_that_does_not_answer_sse() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let page = "<html>hello</html>";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    refused(
        &llmsd(&["bench", "--url", &url, "--concurrency", "1"]),
        &["text/html", "not an SSE stream"],
    );
}

#[test]
fn bad_prompt_files_are_named_with_the_line() {
    let missing = "/nonexistent/llms-prompts.jsonl";
    refused(
        &llmsd(&[
            "bench",
            "--url",
            "http://127.0.0.1:9",
            "--concurrency",
            "1",
            "--prompts",
            missing,
        ]),
        &[missing],
    );
    let eng = Engine::start(fixed(1.0, 1.0));
    let bad = tmp(
        "bad.jsonl",
        "{\"prompt\": \"fine\"}\n{\"prompt\": \"fine too\"}\n{\"prompt\": oops}\n",
    );
    refused(
        &llmsd(&[
            "bench",
            "--url",
            &eng.url,
            "--concurrency",
            "1",
            "--prompts",
            &bad,
        ]),
        &[&bad, "line 3"],
    );
}

#[test]
fn bad_numbers_name_the_option() {
    refused(
        &llmsd(&["bench", "--url", "http://h", "--concurrency", "0"]),
        &["--concurrency", "at least 1"],
    );
    refused(
        &llmsd(&[
            "bench",
            "--url",
            "http://h",
            "--rate",
            "2",
            "--arrival",
            "poisson",
            "--burstiness",
            "3",
        ]),
        &["--burstiness"],
    );
    refused(&llmsd(&["bench", "--url", "http://h"]), &["--concurrency"]);
    refused(
        &llmsd(&["reference-engine", "--ttft-ms", "3", "--decode-ms", "2"]),
        &["--ttft-ms"],
    );
}

#[test]
fn an_unwritable_json_path_is_refused_before_measuring() {
    let eng = Engine::start(fixed(1.0, 1.0));
    let o = llmsd(&[
        "bench",
        "--url",
        &eng.url,
        "--concurrency",
        "1",
        "--json",
        "/nonexistent/dir/out.json",
    ]);
    refused(&o, &["--json", "/nonexistent/dir/out.json"]);
    assert!(o.stdout.is_empty(), "nothing measured");
}

#[test]
fn out_of_range_numbers_are_refused_not_panicked_on() {
    refused(
        &llmsd(&[
            "bench",
            "--url",
            "http://h",
            "--concurrency",
            "1",
            "--timeout",
            "1e20",
        ]),
        &["--timeout"],
    );
    refused(
        &llmsd(&["bench", "--url", "http://h", "--rate", "1e-20"]),
        &["--rate"],
    );
    refused(
        &llmsd(&[
            "bench",
            "--url",
            "http://h",
            "--concurrency",
            "1",
            "--duration",
            "1e20",
        ]),
        &["--duration"],
    );
    refused(
        &llmsd(&["reference-engine", "--ttft-ms", "1e300"]),
        &["--ttft-ms"],
    );
    // Once a panic (100000 runtime threads) or taken silently (0; an arrival with no rate).
    for t in ["100000", "0"] {
        let args = format!("bench --url http://h --concurrency 1 --threads {t}");
        refused(&llmsd(&common::words(&args)), &["--threads"]);
        let args = format!("reference-engine --threads {t}");
        refused(&llmsd(&common::words(&args)), &["--threads"]);
    }
    let args = "bench --url http://h --concurrency 1 --arrival gamma";
    refused(&llmsd(&common::words(args)), &["--arrival", "--rate"]);
}

#[test]
fn a_tokenizer_that_does_not_load_is_named() {
    let eng = Engine::start(fixed(1.0, 1.0));
    let t = tmp("tokenizer.json", "{\"not\": \"a tokenizer\"}");
    refused(
        &llmsd(&[
            "bench",
            "--url",
            &eng.url,
            "--concurrency",
            "1",
            "--input-tokens",
            "64",
            "--tokenizer",
            &t,
        ]),
        &["cannot load tokenizer", &t],
    );
}

#[test]
fn the_reference_engine_writes_its_ground_truth_on_sigterm() {
    use std::io::BufRead;
    let truth = tmp("truth.json", "");
    let mut child = Command::new(env!("CARGO_BIN_EXE_llmsd"))
        .args([
            "reference-engine",
            "--port",
            "0",
            "--ttft-ms",
            "1",
            "--itl-ms",
            "1",
            "--ground-truth",
            &truth,
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    let o = llmsd(&[
        "bench",
        "--url",
        &url,
        "--concurrency",
        "2",
        "--requests",
        "4",
        "--output-tokens",
        "5",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&truth).unwrap()).unwrap();
    let reqs = v["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 6); // preflight, the template-size probe, 4 measured
    assert!(
        reqs.iter()
            .filter(|r| r["id"].as_str().unwrap().starts_with("llms-p0-"))
            .all(|r| r["events"].as_array().unwrap().len() == 5)
    );
}

/// A preflight whose two tokens render as no text (a detokenizer holding back part of a UTF-8
/// sequence) still shows the endpoint streams and finishes: usage counts the tokens, so the
/// run goes on; the measured requests that stream no text at all are failed as `no_tokens`,
/// not counted as answers. (Usage on every chunk would count them token by token; this engine
/// gives usage only at the end, as llama.cpp does.)
#[test]
fn a_preflight_of_blank_tokens_counted_by_usage_passes_and_blank_answers_fail() {
    let eng = Engine::start(RefArgs {
        fault_blank_every: Some(1),
        ..fixed(1.0, 1.0)
    });
    let (o, v) = bench_json(&eng.url, "1", "4", "blank.json");
    assert!(!stderr(&o).contains("preflight"), "{}", stderr(&o));
    let p = &v["points"][0];
    assert_eq!(p["completed"], 0, "{p}");
    assert_eq!(p["failed"], 3, "{p}");
    assert_eq!(p["errors"]["no_tokens"], 3, "{}", p["errors"]);
    // The engine generated them all, and the check compares with what usage said of the
    // failed requests too, so it agrees, and says which count it compared.
    assert_eq!(p["server"]["output_tokens"], 12.0, "{}", p["server"]);
    assert_eq!(p["server"]["client_output_tokens"], 12, "{}", p["server"]);
    assert_eq!(p["server"]["agrees"], true, "{}", p["server"]);
}

/// Not on a terminal: the preamble (what is measured) and the table, no progress line;
/// `--quiet`: the table alone.
#[test]
fn off_a_terminal_there_is_no_progress_line_and_quiet_leaves_the_table() {
    let eng = Engine::start(fixed(1.0, 1.0));
    let args = [
        "bench",
        "--url",
        &eng.url,
        "--concurrency",
        "2",
        "--requests",
        "4",
        "--output-tokens",
        "3",
        "--slo",
        "ttft=1000",
    ];
    let o = llmsd(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (out, err) = (String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(
        err.starts_with("server    llms-reference (says /v1/models) at http://"),
        "{err}"
    );
    assert!(
        err.contains("\nloads     concurrency 2; 4 requests per point\n"),
        "{err}"
    );
    assert!(!err.contains("in flight") && !err.contains("ETA"), "{err}");
    let header = out.lines().next().unwrap();
    for col in [
        "TTFT p50/p99 ms",
        "TPOT p50",
        "E2E p50",
        "steady",
        "goodput",
        "SLO %",
    ] {
        assert!(header.contains(col), "{col} not in {header}");
    }
    let mut quiet = args.to_vec();
    quiet.push("--quiet");
    let o = llmsd(&quiet);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
}

/// Ctrl-C mid-run: exit 130 and one line saying what was kept in --json (the finished
/// point, not the one running).
#[test]
fn ctrl_c_says_what_was_kept() {
    let eng = Engine::start(fixed(1.0, 20.0));
    let json = tmp("interrupted.json", "");
    let child = Command::new(env!("CARGO_BIN_EXE_llmsd"))
        .args([
            "bench",
            "--url",
            &eng.url,
            "--concurrency",
            "1,1",
            "--requests",
            "2",
            "--output-tokens",
            "50",
            "--json",
            &json,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The first point (two requests of about 1 s) finishes; the second is running.
    let t0 = std::time::Instant::now();
    loop {
        let kept = std::fs::read_to_string(&json).unwrap_or_default();
        if kept.contains("\"completed\"") {
            break;
        }
        assert!(
            t0.elapsed().as_secs() < 60,
            "the first point never finished"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let o = child.wait_with_output().unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{e}");
    assert!(
        e.contains("interrupted: the running point was dropped; the finished point is in"),
        "{e}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["points"].as_array().unwrap().len(), 1);
}
