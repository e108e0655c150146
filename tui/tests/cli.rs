//! The built `llms` binary without a daemon: exit codes and one-line messages.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

fn llms(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llms"))
        .args(args)
        .env_remove("LLMS_SOCKET")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn no_daemon_is_exit_2_with_a_hint() {
    let o = llms(&["--socket", "/nonexistent/x.sock", "jobs"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.starts_with("llms: cannot reach llmsd at /nonexistent/x.sock: "),
        "{e}"
    );
    assert!(e.contains("is llmsd running?"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(o.stdout.is_empty());
}

#[test]
fn missing_submit_file_names_the_path() {
    // The file is read before connecting, so this fails the same with or without a daemon.
    let o = llms(&[
        "--socket",
        "/nonexistent/x.sock",
        "submit",
        "/nonexistent/sweep.toml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.starts_with("llms: cannot read /nonexistent/sweep.toml: "),
        "{e}"
    );
}

#[test]
fn bad_arguments_are_one_line_exit_2() {
    for args in [
        &["results", "seven"][..],
        &["results", "7", "--json", "--csv"],
        &["--connect", "localhost:1", "jobs"],
        &["frobnicate"],
    ] {
        let o = llms(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = stderr(&o);
        assert!(
            e.starts_with("llms: ") && e.lines().count() == 1,
            "{args:?}: {e}"
        );
    }
}

#[test]
fn no_subcommand_without_a_terminal_says_the_dashboard_needs_one() {
    // `output()` pipes stdin/stdout: the dashboard refuses before connecting or touching
    // the terminal.
    let o = llms(&[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("the dashboard needs a terminal"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    let v = llms(&["--version"]);
    assert_eq!(v.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("llms "));
}

/// `compare --from` / `report --from` read saved `llms results --json` files: the published
/// GPU sweep compares and reports with no daemon at all; a bad file is named.
#[test]
fn saved_results_compare_and_report_without_a_daemon() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/results/h200-2026-11-28"
    );
    let r1 = format!("{dir}/results-1.json");
    let r2 = format!("{dir}/results-2.json");
    let o = llms(&[
        "--socket",
        "/nonexistent/x.sock",
        "compare",
        "--from",
        &r1,
        "--from",
        &r2,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("1/vllm") && out.contains("2/llamacpp"),
        "{out}"
    );
    let tmp = std::env::temp_dir().join(format!("llms-report-from-{}", std::process::id()));
    let out_dir = tmp.to_str().unwrap();
    let o = llms(&[
        "report", "--from", &r1, "--out", out_dir, "--size", "800x500",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // --size holds for saved results too.
    let png = std::fs::read(tmp.join("throughput.png")).unwrap();
    let wh = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((wh(16), wh(20)), (800, 500));
    let md = std::fs::read_to_string(tmp.join("report.md")).unwrap();
    assert!(
        md.contains("| 1 | vllm | vllm | 0.20.1 | NVIDIA H200 | 580.159.04 |"),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
    let o = llms(&["compare", "--from", "/nonexistent/r.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("llms: cannot read /nonexistent/r.json: "),
        "{}",
        stderr(&o)
    );
}

#[test]
fn saved_results_with_the_same_job_id_are_refused() {
    let r1 = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/results/h200-2026-11-28/results-1.json"
    );
    let o = llms(&["compare", "--from", r1, "--from", r1]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("both hold job 1"), "{}", stderr(&o));
}
