//! `llmsd doctor`: what this machine can run, said honestly. Each engine kind: configured or
//! not, its program found or not, its version (asked of the program, with a time limit); the
//! GPUs and driver NVML sees (or why it sees none); whether ports can be had; the state
//! directory and store; whether a daemon answers on the socket.

use crate::config::Config;
use crate::engine::{EngineConfig, EngineKind};
use crate::kinds::{self, Probe};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a `--version` probe may take (vLLM imports torch first).
const VERSION_TIMEOUT: Duration = Duration::from_secs(60);

/// The whole report (`--json` prints it as is).
#[derive(Debug, Serialize)]
pub struct Report {
    /// One entry per engine kind.
    pub engines: Vec<EngineCheck>,
    /// NVML's view.
    pub gpus: GpuCheck,
    /// Whether a free local port could be had.
    pub free_port: bool,
    /// The state directory and store.
    pub state: StateCheck,
    /// The API socket.
    pub socket: SocketCheck,
}

/// One engine kind.
#[derive(Debug, Serialize)]
pub struct EngineCheck {
    /// Kind name.
    pub kind: String,
    /// The configured argv prefix, if any.
    pub command: Option<Vec<String>>,
    /// The program, resolved on PATH.
    pub program: Option<String>,
    /// What its version probe printed (first line).
    pub version: Option<String>,
    /// Ready to run: configured and the program found.
    pub runnable: bool,
    /// Why not, or what is odd.
    pub note: Option<String>,
}

/// NVML.
#[derive(Debug, Serialize)]
pub struct GpuCheck {
    /// Driver version.
    pub driver: Option<String>,
    /// GPU names, by index.
    pub names: Vec<String>,
    /// Why there are none.
    pub note: Option<String>,
}

/// State directory.
#[derive(Debug, Serialize)]
pub struct StateCheck {
    /// The directory.
    pub dir: String,
    /// Writable by this user.
    pub writable: bool,
    /// Jobs in the store, when it could be opened.
    pub jobs: Option<usize>,
    /// Why the store could not be read.
    pub note: Option<String>,
}

/// API socket.
#[derive(Debug, Serialize)]
pub struct SocketCheck {
    /// The path.
    pub path: String,
    /// A daemon answers there.
    pub daemon_running: bool,
}

/// Check everything; blocking (run it off a runtime).
pub fn check(cfg: &Config) -> Report {
    let ecfg = EngineConfig {
        commands: cfg.engines.clone(),
        trtllm: cfg.trtllm.clone(),
        external_hosts: cfg.external_hosts.clone(),
        ..EngineConfig::new(cfg.state_dir.join("logs"))
    };
    let daemon_running = std::os::unix::net::UnixStream::connect(&cfg.socket).is_ok();
    Report {
        engines: EngineKind::ALL.iter().map(|k| engine(&ecfg, *k)).collect(),
        gpus: gpus(),
        free_port: std::net::TcpListener::bind("127.0.0.1:0").is_ok(),
        state: state(&cfg.state_dir, daemon_running),
        socket: SocketCheck {
            path: cfg.socket.display().to_string(),
            daemon_running,
        },
    }
}

fn engine(cfg: &EngineConfig, kind: EngineKind) -> EngineCheck {
    let row = kinds::of(kind);
    let mut c = EngineCheck {
        kind: kind.name().into(),
        command: None,
        program: None,
        version: None,
        runnable: false,
        note: None,
    };
    if !row.process {
        c.runnable = true;
        c.note = Some("no process: any running OpenAI-compatible server".into());
        return c;
    }
    let Some(cmd) = crate::engine::command_for(cfg, kind) else {
        c.note = Some(match row.on_path {
            Some(words) => format!(
                "not configured ([engines.{kind}] command) and '{}' is not on PATH",
                words[0]
            ),
            None => format!("not configured ([engines.{kind}] command)"),
        });
        return c;
    };
    let from_path = !cfg.commands.contains_key(kind.name()) && row.on_path.is_some();
    c.command = Some(cmd.clone());
    // `env VAR=value ... PROGRAM ...` (a private PYTHONPATH, say): the program is PROGRAM.
    let (env, cmd) = unwrap_env(&cmd);
    let Some(first) = cmd.first() else {
        c.note = Some("the command names no program after env".into());
        return c;
    };
    let Some(program) = resolve(first) else {
        c.note = Some(format!("'{first}' not found"));
        return c;
    };
    c.program = Some(program.display().to_string());
    c.runnable = true;
    let probe = version_probe(row.probe, cfg, cmd, &program);
    match run_first_line(&probe, &env) {
        Ok(v) => c.version = Some(v),
        Err(e) => c.note = Some(format!("version unknown: {e}")),
    }
    if from_path {
        let found = format!("found on PATH; [engines.{kind}] command overrides it");
        c.note = Some(match c.note.take() {
            Some(n) => format!("{n}; {found}"),
            None => found,
        });
    }
    if kind == EngineKind::Trtllm {
        let mode = match &cfg.trtllm.convert {
            None => "engine mode off ([engines.trtllm] convert not set)".to_owned(),
            Some(conv) => match (resolve(&conv[0]), resolve(&cfg.trtllm.build[0])) {
                (Some(_), Some(_)) => format!(
                    "engine mode: {} then {}",
                    conv.join(" "),
                    cfg.trtllm.build.join(" ")
                ),
                (None, _) => format!("engine mode: '{}' not found", conv[0]),
                (_, None) => format!("engine mode: '{}' not found", cfg.trtllm.build[0]),
            },
        };
        c.note = Some(match c.note.take() {
            Some(n) => format!("{n}; {mode}"),
            None => mode,
        });
    }
    c
}

/// The command that prints a kind's version.
fn version_probe(probe: Probe, cfg: &EngineConfig, cmd: &[String], program: &Path) -> Vec<String> {
    let p = program.display().to_string();
    match probe {
        // trtllm-serve has no --version: the configured version command (by default the
        // tensorrt_llm package's, which prints its version on import).
        Probe::Configured => cfg.trtllm.version.clone(),
        // `python3 -m sglang.launch_server` / `python3 -m vllm.entrypoints.cli.main serve`:
        // ask the same interpreter for the package.
        Probe::Package(pkg) if cmd.get(1).is_some_and(|a| a == "-m") => vec![
            p,
            "-c".into(),
            format!("import {pkg}; print('{pkg}', {pkg}.__version__)"),
        ],
        Probe::Package(_) | Probe::Flag => vec![p, "--version".into()],
    }
}

/// The first non-empty line a command prints (stdout, else stderr), within the time limit.
fn run_first_line(argv: &[String], env: &[(String, String)]) -> Result<String, String> {
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if t0.elapsed() < VERSION_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer in {VERSION_TIMEOUT:?}"));
            }
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .map(str::trim)
        .find(|l| l.to_ascii_lowercase().contains("version"))
        .or_else(|| text.lines().map(str::trim).find(|l| !l.is_empty()))
        .map(|l| crate::loadgen::stream::snippet(l, 200))
        .ok_or_else(|| "it printed nothing".into())
}

/// `env A=1 B=2 prog args` as (`[(A, 1), (B, 2)]`, `prog args`); other commands unchanged.
fn unwrap_env(cmd: &[String]) -> (Vec<(String, String)>, &[String]) {
    if cmd
        .first()
        .is_none_or(|c| Path::new(c).file_name() != Some("env".as_ref()))
    {
        return (Vec::new(), cmd);
    }
    let mut vars = Vec::new();
    let mut rest = &cmd[1..];
    while let Some((a, tail)) = rest.split_first() {
        match a.split_once('=') {
            Some((k, v)) if !a.starts_with('-') => vars.push((k.to_owned(), v.to_owned())),
            _ => break,
        }
        rest = tail;
    }
    (vars, rest)
}

/// A program name as `Command` would find it: a path, or the first match on PATH.
fn resolve(program: &str) -> Option<PathBuf> {
    let p = Path::new(program);
    if program.contains('/') {
        return p.is_file().then(|| p.to_owned());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|f| f.is_file())
}

fn gpus() -> GpuCheck {
    match crate::gpu::nvml_probe() {
        Ok((driver, names)) => GpuCheck {
            note: names.is_empty().then(|| "NVML sees no GPU".into()),
            driver: Some(driver),
            names,
        },
        Err(e) => GpuCheck {
            driver: None,
            names: Vec::new(),
            note: Some(format!("{e}; the daemon runs without GPUs")),
        },
    }
}

fn state(dir: &Path, daemon_running: bool) -> StateCheck {
    let writable = std::fs::create_dir_all(dir).is_ok() && {
        let probe = dir.join(format!(".llmsd-doctor-{}", std::process::id()));
        let ok = std::fs::write(&probe, b"").is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    };
    let mut s = StateCheck {
        dir: dir.display().to_string(),
        writable,
        jobs: None,
        note: None,
    };
    let db = dir.join("db");
    if daemon_running {
        s.note = Some("the store is open in the running daemon (ask it: llms jobs)".into());
    } else if !db.exists() {
        s.note = Some("no store yet (created at the daemon's first start)".into());
    } else {
        match crate::store::Store::open(&db).and_then(|st| st.jobs()) {
            Ok(jobs) => s.jobs = Some(jobs.len()),
            Err(e) => s.note = Some(e.to_string()),
        }
    }
    s
}

/// The report as text, a line per fact.
pub fn text(r: &Report) -> String {
    let mut out = String::from("engines:\n");
    let what = |e: &EngineCheck| match (&e.version, &e.program) {
        (Some(v), _) => v.clone(),
        (None, Some(p)) => p.clone(),
        (None, None) => "-".into(),
    };
    // Columns: state, kind, version (or program), note; each as wide as its widest.
    let width = r
        .engines
        .iter()
        .map(|e| what(e).chars().count())
        .max()
        .unwrap_or(1);
    for e in &r.engines {
        let state = if e.runnable { "ok " } else { "-- " };
        let note = e.note.as_deref().unwrap_or_default();
        let line = format!("  {state}{:<10} {:<width$}  {note}", e.kind, what(e));
        out += line.trim_end();
        out.push('\n');
    }
    out += "gpus:\n";
    match (&r.gpus.driver, &r.gpus.note) {
        (_, Some(n)) => out += &format!("  none: {n}\n"),
        (Some(d), None) => {
            out += &format!("  driver {d}\n");
            for (i, n) in r.gpus.names.iter().enumerate() {
                out += &format!("  {i}: {n}\n");
            }
        }
        (None, None) => out += "  none\n",
    }
    out += &format!(
        "ports: {}\n",
        if r.free_port {
            "free ones available"
        } else {
            "cannot bind 127.0.0.1:0"
        }
    );
    let jobs = r
        .state
        .jobs
        .map(|n| format!(", {n} jobs"))
        .unwrap_or_default();
    let note = r
        .state
        .note
        .as_deref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    out += &format!(
        "state: {} {}{jobs}{note}\n",
        r.state.dir,
        if r.state.writable {
            "writable"
        } else {
            "NOT writable"
        }
    );
    out += &format!(
        "socket: {} ({})\n",
        r.socket.path,
        if r.socket.daemon_running {
            "llmsd is running"
        } else {
            "no daemon answering"
        }
    );
    out
}
