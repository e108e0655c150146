//! `llmsd doctor` on this machine: honest about what is configured, found and running.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::daemon::{Daemon, LLMSD, temp_dir};
use std::process::Command;

fn doctor(dir: &std::path::Path) -> serde_json::Value {
    doctor_env(dir, &[])
}

fn doctor_env(dir: &std::path::Path, env: &[(String, String)]) -> serde_json::Value {
    let out = Command::new(LLMSD)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["doctor", "--json", "--config"])
        .arg(dir.join("llmsd.toml"))
        .arg("--socket")
        .arg(dir.join("s.sock"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn engine<'a>(r: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    r["engines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == kind)
        .unwrap()
}

#[test]
fn doctor_reports_what_is_there_and_what_is_not() {
    let dir = temp_dir("doctor");
    std::fs::write(
        dir.join("llmsd.toml"),
        "[engines.vllm]\ncommand = [\"/nonexistent/bin/vllm\", \"serve\"]\n",
    )
    .unwrap();
    let r = doctor(&dir);
    let reference = engine(&r, "reference");
    assert_eq!(reference["runnable"], true);
    assert!(reference["version"].as_str().unwrap().contains("llmsd"));
    let vllm = engine(&r, "vllm");
    assert_eq!(vllm["runnable"], false);
    assert!(
        vllm["note"].as_str().unwrap().contains("not found"),
        "{vllm}"
    );
    let sglang = engine(&r, "sglang");
    assert!(sglang["note"].as_str().unwrap().contains("not configured"));
    // GPUs: either names, or a reason there are none; never both, never neither.
    let gpus = &r["gpus"];
    assert_ne!(
        gpus["names"].as_array().unwrap().is_empty(),
        gpus["note"].is_null(),
        "{gpus}"
    );
    assert_eq!(r["free_port"], true);
    assert_eq!(r["state"]["writable"], true);
    assert_eq!(r["socket"]["daemon_running"], false);

    // With the daemon up: it says so, and leaves the store to it.
    let d = Daemon::start(&dir, "", &[]);
    let r = doctor(&dir);
    assert_eq!(r["socket"]["daemon_running"], true);
    assert!(
        r["state"]["note"]
            .as_str()
            .unwrap()
            .contains("running daemon")
    );
    drop(d);
    // Stopped: the store is read (empty).
    let r = doctor(&dir);
    assert_eq!(r["state"]["jobs"], 0, "{}", r["state"]);
}

/// With the imitation engines first on PATH (tests/imitations), each GPU engine is found and
/// tells its version the way the real one does: `vllm --version`, the sglang package through
/// the configured interpreter, the tensorrt_llm package for trtllm-serve (which has no
/// --version); TensorRT-LLM's engine mode shows its two build programs.
#[test]
fn doctor_finds_the_engines_on_path_and_their_versions() {
    let dir = temp_dir("doctor-imitations");
    std::fs::write(dir.join("llmsd.toml"), common::imitation::daemon_config()).unwrap();
    let env = common::imitation::env(&dir.join("calls.jsonl"), "");
    let r = doctor_env(&dir, &env);
    for (kind, version) in [
        // `env PYTHONPATH=... python3 -m vllm...`: the program is python3, asked for vllm.
        ("vllm", "vllm 0.20.1"),
        ("sglang", "sglang 0.5.15"),
        ("trtllm", "[TensorRT-LLM] TensorRT-LLM version: 1.2.1"),
    ] {
        let e = engine(&r, kind);
        assert_eq!(e["runnable"], true, "{e}");
        assert_eq!(e["version"], version, "{e}");
    }
    let trt = engine(&r, "trtllm")["note"].as_str().unwrap().to_owned();
    assert!(
        trt.contains("engine mode: python3")
            && trt.contains("convert_checkpoint.py then trtllm-build"),
        "{trt}"
    );
}

/// With no command configured, an engine program on the daemon's PATH is used, and doctor
/// says where it came from; one that is not there says both ways to fix it.
#[test]
fn engines_on_path_need_no_config() {
    let dir = temp_dir("doctor-path");
    std::fs::write(dir.join("llmsd.toml"), "").unwrap();
    let env = common::imitation::env(&dir.join("calls.jsonl"), "");
    let r = doctor_env(&dir, &env);
    let vllm = engine(&r, "vllm");
    assert_eq!(vllm["runnable"], true, "{vllm}");
    let cmd: Vec<String> = serde_json::from_value(vllm["command"].clone()).unwrap();
    assert!(
        cmd[0].ends_with("/imitations/bin/vllm") && cmd[1] == "serve",
        "{cmd:?}"
    );
    assert!(
        vllm["note"]
            .as_str()
            .unwrap()
            .contains("found on PATH; [engines.vllm] command overrides it"),
        "{vllm}"
    );
    // Without the imitations on PATH.
    let r = doctor_env(&dir, &[("PATH".into(), "/usr/bin:/bin".into())]);
    let vllm = engine(&r, "vllm");
    assert_eq!(vllm["runnable"], false, "{vllm}");
    assert!(
        vllm["note"]
            .as_str()
            .unwrap()
            .contains("'vllm' is not on PATH"),
        "{vllm}"
    );
}

/// `llmsd doctor --help` offers what doctor uses, not the serving daemon's flags; its text
/// lines up: every engine's note starts in the same column.
#[test]
fn doctor_help_and_text_are_its_own() {
    let help = Command::new(LLMSD)
        .args(["doctor", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    for flag in ["--config", "--socket", "--state-dir", "--json"] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
    for flag in ["--listen", "--token-file"] {
        assert!(!help.contains(flag), "{flag}: {help}");
    }
    let dir = temp_dir("doctor-text");
    std::fs::write(dir.join("llmsd.toml"), "").unwrap();
    let out = Command::new(LLMSD)
        .args(["doctor", "--config"])
        .arg(dir.join("llmsd.toml"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--socket")
        .arg(dir.join("s.sock"))
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let notes: Vec<usize> = text
        .lines()
        .filter(|l| l.starts_with("  -- ") || l.starts_with("  ok external"))
        .map(|l| {
            l.find("no process")
                .or_else(|| l.find("not configured"))
                .unwrap()
        })
        .collect();
    assert!(notes.len() >= 4, "{text}");
    assert!(notes.windows(2).all(|w| w[0] == w[1]), "{text}");
}
