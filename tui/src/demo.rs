//! `llms demo`: a private `llmsd` on a temporary socket and state directory, llama.cpp and
//! its small model (built by `scripts/llamacpp.sh` on first use, with its progress shown),
//! `sweeps/demo.toml`, `sweeps/demo-conversation.toml` and `sweeps/demo-capacity.toml`
//! submitted (only the sweep given, with `--sweep`), and the dashboard. Quitting stops
//! everything it started: the daemon stops its engines on SIGTERM, and the temporary
//! directory is removed.

use crate::cli::DemoArgs;
use crate::conn::{Target, connect, ctx};
use crate::failure::Failure;
use llms_shared::{JobState, SubmitRequest};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Run the demo; with `--no-dashboard`, wait for the sweep and return the comparison.
pub async fn run(args: DemoArgs) -> Result<String, Failure> {
    let root = repo_root()?;
    let sweep_path = args
        .sweep
        .clone()
        .unwrap_or_else(|| root.join("sweeps/demo.toml"));
    let llmsd = llmsd_binary()?;
    step(
        "llama.cpp and its model (built on first use, about 5 minutes; cached under ~/.cache/llms)",
    );
    let artifacts = llamacpp(&root)?;
    let server = artifacts("LLMS_LLAMA_SERVER")?;
    let model = artifacts("LLMS_TINY_GGUF")?;
    let mut sweeps = vec![(sweep_path.clone(), fill_model(&sweep_path, &model)?)];
    if args.sweep.is_none() {
        for extra in ["sweeps/demo-conversation.toml", "sweeps/demo-capacity.toml"] {
            let path = root.join(extra);
            sweeps.push((path.clone(), fill_model(&path, &model)?));
        }
    }
    let dir = TempDir::new()?;
    let socket = dir.path.join("llmsd.sock");
    std::fs::write(
        dir.path.join("llmsd.toml"),
        format!("[engines.llamacpp]\ncommand = [{}]\n", toml_str(&server)),
    )
    .map_err(|e| Failure::error(format!("cannot write the demo's config: {e}")))?;
    step(&format!(
        "starting a private llmsd ({})",
        dir.path.display()
    ));
    let mut daemon = Daemon::start(&llmsd, &dir.path, &socket)?;
    let target = Target::Unix(socket.clone());
    // Ctrl-C, SIGTERM or SIGHUP (the SSH session went away) while the demo runs: stop what it
    // started on the way out (the dashboard handles them itself and returns).
    let out = tokio::select! {
        r = drive(&mut daemon, &target, sweeps, &args) => r,
        () = stop_signal() => Err(Failure::error("interrupted")),
    };
    step("stopping the private llmsd and its engines");
    daemon.stop();
    drop(dir);
    out
}

/// Connect, submit each sweep (path, text), then the dashboard (or wait and compare).
async fn drive(
    daemon: &mut Daemon,
    target: &Target,
    sweeps: Vec<(PathBuf, String)>,
    args: &DemoArgs,
) -> Result<String, Failure> {
    let s = daemon.connect(target).await?;
    let mut ids = Vec::new();
    for (sweep_path, spec) in sweeps {
        let base = sweep_path.parent().unwrap_or(Path::new("/"));
        let req = SubmitRequest {
            files: crate::attach::files(&spec, base).map_err(Failure::usage)?,
            spec,
            base_dir: Some(base.display().to_string()),
            file: Some(sweep_path.display().to_string()),
            key: None,
        };
        let id = s.check(s.client.submit(ctx(), req).await, "the demo sweep")?;
        step(&format!(
            "job {id} submitted: {} (llms --socket {} jobs)",
            sweep_path.display(),
            target.label()
        ));
        ids.push(id);
    }
    if args.no_dashboard {
        for id in &ids {
            wait_done(&s, *id).await?;
        }
        let mut out = String::new();
        for id in &ids {
            let data = crate::commands::fetch_jobs(&s, &[*id]).await?;
            out.push_str(&crate::report::compare(&data, false, false)?);
            let turns = crate::report::measured::turns_md(&data);
            if !turns.starts_with("No conversation") {
                out.push_str("\nTTFT by turn, p50 / p99 ms:\n");
                out.push_str(&turns);
                out.push_str("\nPrefix cache (the history each turn resends):\n");
                out.push_str(&crate::report::measured::cache_md(&data));
            }
        }
        Ok(out)
    } else {
        crate::dash::run(target.clone()).await?;
        // The daemon and its store go when the demo ends: what it measured stays here.
        keep_results(&s, &ids).await
    }
}

/// Save every job's results (as `llms results JOB --json` writes them) into a new
/// `./llms-demo-results-UNIXSECONDS/`, and say where and how to use them.
async fn keep_results(s: &crate::conn::Session, ids: &[u64]) -> Result<String, Failure> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dir = PathBuf::from(format!("llms-demo-results-{secs}"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::error(format!("cannot create {}: {e}", dir.display())))?;
    let mut files = Vec::new();
    for id in ids {
        let text = crate::commands::results(s, *id, crate::cli::Format::Json, false).await?;
        let path = dir.join(format!("results-{id}.json"));
        std::fs::write(&path, text + "\n")
            .map_err(|e| Failure::error(format!("cannot write {}: {e}", path.display())))?;
        files.push(format!("--from {}", path.display()));
    }
    Ok(format!(
        "The demo's results are kept in {}/ (its daemon and store are gone):\n  llms compare {}\n  llms report {} --out llms-report-demo\n",
        dir.display(),
        files.join(" "),
        files.join(" ")
    ))
}

/// SIGINT, SIGTERM or SIGHUP.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
}

fn step(msg: &str) {
    eprintln!("demo: {msg}");
}

/// The repository (for `scripts/llamacpp.sh` and `sweeps/`): `$LLMS_REPO`, else the first
/// directory upwards from here or from the executable that has both.
fn repo_root() -> Result<PathBuf, Failure> {
    let is_root = |d: &Path| d.join("scripts/llamacpp.sh").is_file() && d.join("sweeps").is_dir();
    if let Some(d) = std::env::var_os("LLMS_REPO").map(PathBuf::from) {
        return if is_root(&d) {
            Ok(d)
        } else {
            Err(Failure::usage(format!(
                "LLMS_REPO={} has no scripts/llamacpp.sh and sweeps/",
                d.display()
            )))
        };
    }
    let starts = [std::env::current_dir().ok(), std::env::current_exe().ok()];
    for start in starts.into_iter().flatten() {
        if let Some(d) = start.ancestors().find(|d| is_root(d)) {
            return Ok(d.to_owned());
        }
    }
    Err(Failure::usage(
        "run the demo from the llms repository (it needs scripts/llamacpp.sh and sweeps/), or set LLMS_REPO",
    ))
}

/// `llmsd` next to this executable, else on PATH.
fn llmsd_binary() -> Result<PathBuf, Failure> {
    if let Some(p) = std::env::current_exe()
        .ok()
        .map(|e| e.with_file_name("llmsd"))
        .filter(|p| p.is_file())
    {
        return Ok(p);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("llmsd"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Failure::usage(
                "llmsd not found next to llms or on PATH; build it: cargo build --release",
            )
        })
}

type Artifacts = Box<dyn Fn(&str) -> Result<String, Failure>>;

/// Run scripts/llamacpp.sh (its progress goes to the terminal) and read its KEY=VALUE lines.
fn llamacpp(root: &Path) -> Result<Artifacts, Failure> {
    let out = Command::new("bash")
        .arg(root.join("scripts/llamacpp.sh"))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Failure::error(format!("cannot run scripts/llamacpp.sh: {e}")))?;
    if !out.status.success() {
        return Err(Failure::error(format!(
            "scripts/llamacpp.sh failed ({}); its log is under ~/.cache/llms/logs",
            out.status
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let pairs: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Box::new(move |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| Failure::error(format!("scripts/llamacpp.sh printed no {key}")))
    }))
}

/// The sweep's text with the generated model given to every llamacpp engine that has none.
fn fill_model(path: &Path, model: &str) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
    let mut doc: toml::Table = toml::from_str(&text)
        .map_err(|e| Failure::usage(format!("{}: {}", path.display(), e.message())))?;
    if let Some(toml::Value::Array(engines)) = doc.get_mut("engine") {
        for e in engines.iter_mut().filter_map(toml::Value::as_table_mut) {
            let llama = e.get("kind").and_then(toml::Value::as_str)
                == Some(llms_shared::EngineKind::Llamacpp.name());
            if llama && !e.contains_key("model") {
                e.insert("model".into(), toml::Value::String(model.to_owned()));
            }
        }
    }
    toml::to_string(&doc).map_err(|e| Failure::error(format!("cannot write the sweep: {e}")))
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// Poll until the job is final; prints progress when it changes.
async fn wait_done(s: &crate::conn::Session, id: u64) -> Result<(), Failure> {
    let mut last = (u32::MAX, JobState::Queued);
    loop {
        let jobs = s.check(s.client.jobs(ctx()).await, "jobs")?;
        let Some(j) = jobs.into_iter().find(|j| j.id == id) else {
            return Err(Failure::error(format!("job {id} vanished")));
        };
        if (j.points_done, j.state) != last {
            step(&format!(
                "job {id}: {} {}/{} points",
                j.state.as_str(),
                j.points_done,
                j.points_total
            ));
            last = (j.points_done, j.state);
        }
        if j.state.is_final() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The private daemon; stopped (SIGTERM, which stops its engines) when dropped.
struct Daemon {
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    fn start(llmsd: &Path, dir: &Path, socket: &Path) -> Result<Daemon, Failure> {
        let log = dir.join("llmsd.log");
        let file = std::fs::File::create(&log)
            .map_err(|e| Failure::error(format!("cannot create {}: {e}", log.display())))?;
        let child = Command::new(llmsd)
            .arg("--config")
            .arg(dir.join("llmsd.toml"))
            .arg("--socket")
            .arg(socket)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .map_err(|e| Failure::error(format!("cannot start {}: {e}", llmsd.display())))?;
        Ok(Daemon {
            child: Some(child),
            log,
        })
    }

    /// Connect once the socket answers (the daemon binds it within a second).
    async fn connect(&mut self, target: &Target) -> Result<crate::conn::Session, Failure> {
        let t0 = Instant::now();
        loop {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(st) = exited {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                return Err(Failure::error(format!(
                    "the private llmsd exited at start ({st}): {}",
                    log.lines().last().unwrap_or("(no log)")
                )));
            }
            match connect(target).await {
                Ok(s) => return Ok(s),
                Err(e) if t0.elapsed() > Duration::from_secs(30) => {
                    let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                    return Err(Failure::error(format!(
                        "the private llmsd did not start: {}; its log: {}",
                        e.message,
                        log.lines().last().unwrap_or("(empty)")
                    )));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        // The daemon stops its engines (grace, then SIGKILL) before it exits.
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A private directory, removed when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A new directory with a random name, mode 0700 (mkdtemp): nobody else can have made
    /// it first or write into it.
    fn new() -> Result<TempDir, Failure> {
        let template = std::env::temp_dir().join("llms-demo-XXXXXX");
        let path = nix::unistd::mkdtemp(&template).map_err(|e| {
            Failure::error(format!(
                "cannot create a directory in {}: {e}",
                template.display()
            ))
        })?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_demo_sweep_gets_the_model_for_llamacpp_only() {
        let dir = std::env::temp_dir().join(format!("llms-demo-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.toml");
        std::fs::write(
            &p,
            "name = \"d\"\n[[engine]]\nkind = \"llamacpp\"\n[[engine]]\nkind = \"reference\"\n[[engine]]\nkind = \"llamacpp\"\nmodel = \"/mine.gguf\"\n[load]\nconcurrency = [1]\n",
        )
        .unwrap();
        let text = fill_model(&p, "/cache/tiny.gguf").unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let engines = doc["engine"].as_array().unwrap();
        assert_eq!(engines[0]["model"].as_str(), Some("/cache/tiny.gguf"));
        assert!(engines[1].get("model").is_none());
        assert_eq!(engines[2]["model"].as_str(), Some("/mine.gguf"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_shipped_demo_sweep_parses() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sweeps/demo.toml");
        let text = fill_model(&p, "/x.gguf").unwrap();
        assert!(text.contains("/x.gguf"));
    }
}
