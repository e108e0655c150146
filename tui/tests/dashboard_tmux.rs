//! The dashboard as a person sees it: the real `llms` in tmux (80x24) against a real `llmsd`
//! running a reference-engine job. Keys go in with `send-keys`, the screen comes back with
//! `capture-pane`. Needs tmux (CI installs it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bin, start_daemon, temp_dir};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A private tmux server, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed (CI installs it)")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "dash"]).stdout)
            .into_owned()
    }

    fn keys(&self, keys: &str) {
        assert!(
            self.run(&["send-keys", "-t", "dash", keys])
                .status
                .success()
        );
    }

    /// Wait until the screen shows what `pred` wants (a failure guard, not a timing claim).
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let t0 = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(90),
                "the screen never showed {what}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn a_person_watches_a_sweep_compares_and_quits() {
    let dir = temp_dir("tmux");
    let mut daemon = start_daemon(&dir, "fake:1");
    let sock = dir.join("s.sock");
    // Two points of a few seconds each: slow enough to be seen running.
    let spec = dir.join("sweep.toml");
    std::fs::write(
        &spec,
        "name = \"tmux sweep\"\n[[engine]]\nkind = \"reference\"\nargs = [\"--ttft-ms\", \"20\", \"--itl-ms\", \"8\"]\n[load]\nconcurrency = [1, 2]\nrequests = 12\noutput_tokens = 32\n",
    )
    .unwrap();
    let out = Command::new(bin("llms"))
        .arg("--socket")
        .arg(&sock)
        .arg("submit")
        .arg(&spec)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let tmux = Tmux {
        socket: format!("llms-test-{}", std::process::id()),
    };
    let exit_file = dir.join("exit");
    let cmd = format!(
        "{} --socket {}; echo EXIT=$? > {}; sleep 60",
        bin("llms").display(),
        sock.display(),
        exit_file.display()
    );
    let cwd = dir.to_str().unwrap();
    let st = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "dash",
        "-x",
        "80",
        "-y",
        "24",
        "-c",
        cwd,
        &cmd,
    ]);
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );

    // Live: the running point, its progress, the GPU line.
    let s = tmux.wait_for("the running point", |s| {
        s.contains("job 1 tmux sweep") && s.contains("req")
    });
    assert!(s.contains("1 Live") && s.contains("● llmsd"), "{s}");
    assert!(s.contains("GiB"), "the fake GPU's gauges: {s}");
    assert!(s.lines().count() <= 24 && s.lines().all(|l| l.chars().count() <= 80));
    // The job progresses: its second point (index 1, as `llms show` numbers it) starts.
    tmux.wait_for("point 1", |s| s.contains("point 1  "));

    // Results: once done, the comparison has both points.
    tmux.keys("4");
    let s = tmux.wait_for("the finished comparison", |s| {
        s.contains("done") && s.contains("c=1") && s.contains("c=2")
    });
    assert!(s.contains("reference") && s.contains("tok/s"), "{s}");
    // w writes the report of what is compared, into the working directory.
    tmux.keys("w");
    tmux.wait_for("the report written", |s| {
        s.contains("report written: llms-report-1/")
    });
    for f in ["report.md", "throughput.png", "ttft_p50.svg"] {
        assert!(dir.join("llms-report-1").join(f).is_file(), "{f}");
    }

    // The daemon goes away: reconnecting; it comes back: the dashboard resumes.
    drop(daemon);
    tmux.wait_for("reconnecting", |s| s.contains("reconnecting"));
    daemon = start_daemon(&dir, "fake:1");
    tmux.wait_for("the daemon again", |s| s.contains("● llmsd"));

    // Help comes from the key map.
    tmux.keys("?");
    let s = tmux.wait_for("help", |s| s.contains("Help: keys"));
    assert!(s.contains("quit") && s.contains("next screen"), "{s}");

    // q quits with exit code 0 and gives the terminal back.
    tmux.keys("q");
    let t0 = Instant::now();
    while !exit_file.exists() {
        assert!(t0.elapsed() < Duration::from_secs(20), "llms did not quit");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        std::fs::read_to_string(&exit_file).unwrap().trim(),
        "EXIT=0"
    );
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
}
