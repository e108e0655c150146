//! `llmsd`: command-line entry. Parses arguments, builds the runtime, and maps outcomes to exit
//! codes (0 done, 1 internal error, 2 bad arguments or unusable server).

use clap::{Parser, Subcommand};
use llmsd::bench::{self, BenchArgs};
use llmsd::config::{Config, DaemonArgs, Places};
use llmsd::loadgen::stream::snippet;
use llmsd::refengine::{self, RefArgs};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "llmsd",
    version,
    about = "llms daemon: runs queued benchmark sweeps; with a subcommand, a one-shot tool",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(flatten)]
    daemon: DaemonArgs,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Measure an OpenAI-compatible server (no daemon needed).
    Bench {
        #[command(flatten)]
        args: Box<BenchArgs>,
        /// Worker threads of the client, 1 to 256 [default: a thread of its own, its
        /// cheapest; more only where points are flagged client_bound].
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
        threads: Option<u16>,
    },
    /// Rebuild a damaged store from its journal: the store is moved aside
    /// (`db.damaged-UNIXMS`), every journaled job and finished point is written to a new one
    /// (raw records and samples taken from the damaged store where they still read). Stop
    /// the daemon first.
    Repair {
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Serve the reference engine (known timing, ground truth, fault injection).
    ReferenceEngine(Box<RefArgs>),
    /// What this machine can run: engines (configured, found, version), GPUs and driver,
    /// ports, the state directory, the socket.
    Doctor {
        // Where it looks: the places, without the flags only a serving daemon uses.
        #[command(flatten)]
        daemon: Places,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn runtime(threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(t) = threads {
        b.worker_threads(t.max(1));
    }
    b.enable_all().build()
}

fn main() -> ExitCode {
    // A panic is a bug of ours: one line and exit code 1, never a backtrace dump and 101.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "llmsd: internal error: {}",
            snippet(&info.to_string(), 2000)
        );
        std::process::exit(1);
    }));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        // Bad arguments: clap's first paragraph names the option; one line, exit 2.
        Err(e) => {
            let text = e.to_string();
            let para: Vec<&str> = text.lines().take_while(|l| !l.trim().is_empty()).collect();
            return fail(2, para.join(" ").trim_start_matches("error: "));
        }
    };
    let Some(cmd) = cli.cmd else {
        return daemon(&cli.daemon);
    };
    match cmd {
        Cmd::Bench { args, threads } => {
            if let Some(n) = threads {
                llmsd::loadgen::rt::set_threads(usize::from(n));
            }
            let rt = match runtime(None) {
                Ok(rt) => rt,
                Err(e) => return fail(1, &format!("cannot start the runtime: {e}")),
            };
            match rt.block_on(bench::run(*args)) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => fail(e.exit_code(), &e.to_string()),
            }
        }
        Cmd::Doctor { daemon, json } => {
            let cfg = match Config::load(&daemon.into()) {
                Ok(c) => c,
                Err(e) => return fail(2, &e),
            };
            let report = llmsd::doctor::check(&cfg);
            let out = if json {
                serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
            } else {
                llmsd::doctor::text(&report)
            };
            print!("{out}");
            ExitCode::SUCCESS
        }
        Cmd::Repair { daemon } => repair(&daemon),
        Cmd::ReferenceEngine(args) => {
            let rt = match runtime(Some(usize::from(args.threads))) {
                Ok(rt) => rt,
                Err(e) => return fail(1, &format!("cannot start the runtime: {e}")),
            };
            match rt.block_on(refengine::run(*args, shutdown_signal())) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(2, &e),
            }
        }
    }
}

/// The daemon: configuration errors exit 2, start-up failures 1, a clean stop 0.
fn daemon(args: &DaemonArgs) -> ExitCode {
    let cfg = match Config::load(args) {
        Ok(c) => c,
        Err(e) => return fail(2, &e),
    };
    init_tracing();
    // State, logs and results are for llmsd's user and group only (files 0640, dirs 0750);
    // engines inherit it.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o027));
    // In the daemon a panic is contained by its task (a worker's job is marked failed); log
    // it in one line rather than end the process with engines running and data unflushed.
    std::panic::set_hook(Box::new(|info| {
        tracing::error!("internal error: {}", snippet(&info.to_string(), 2000));
    }));
    let rt = match runtime(None) {
        Ok(rt) => rt,
        Err(e) => return fail(1, &format!("cannot start the runtime: {e}")),
    };
    // A file over RLIMIT_FSIZE is a failed write, not the end of the daemon.
    let xfsz = rt.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(
            nix::sys::signal::Signal::SIGXFSZ as i32,
        ))
    });
    let exit = rt.block_on(llmsd::daemon::run(cfg, shutdown_signal(), |_| {}));
    drop(xfsz);
    match exit {
        Ok(llmsd::daemon::Exit::Stopped) => ExitCode::SUCCESS,
        Ok(llmsd::daemon::Exit::Restart) => {
            rt.shutdown_timeout(std::time::Duration::from_secs(10));
            restart()
        }
        Err(e) => fail(1, &e),
    }
}

/// Replace this process with a fresh start of the same command line (same pid, so systemd
/// keeps following it): the store is opened anew and the paused job resumes.
fn restart() -> ExitCode {
    use std::os::unix::process::CommandExt;
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let Some(exe) = std::env::current_exe()
        .ok()
        .or_else(|| args.first().map(Into::into))
    else {
        return fail(1, "cannot restart: no program path");
    };
    let restarts: u32 = std::env::var(llmsd::daemon::RESTARTS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let err = std::process::Command::new(exe)
        .args(args.iter().skip(1))
        .env(llmsd::daemon::RESTARTS_ENV, (restarts + 1).to_string())
        .exec();
    fail(1, &format!("cannot restart: {err}"))
}

/// `llmsd repair`: rebuild the store of the configured state directory; prints what came back.
fn repair(args: &DaemonArgs) -> ExitCode {
    let cfg = match Config::load(args) {
        Ok(c) => c,
        Err(e) => return fail(2, &e),
    };
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o027));
    // sled can panic on a damaged store; the rebuild catches that, so the hook must not end
    // the process first.
    std::panic::set_hook(Box::new(|_| {}));
    let rt = match runtime(Some(1)) {
        Ok(rt) => rt,
        Err(e) => return fail(1, &format!("cannot start the runtime: {e}")),
    };
    let db = cfg.state_dir.join("db");
    if std::os::unix::net::UnixStream::connect(&cfg.socket).is_ok() {
        return fail(
            2,
            &format!(
                "llmsd is running on {}; stop it first",
                cfg.socket.display()
            ),
        );
    }
    match rt.block_on(llmsd::store::repair::rebuild(&db)) {
        Ok(r) => {
            println!(
                "rebuilt {}: {} job(s), {} finished point(s) ({} with their raw records and samples)",
                db.display(),
                r.jobs,
                r.points,
                r.with_records
            );
            if !r.lost_jobs.is_empty() {
                println!(
                    "not recovered (no journal, unreadable in the damaged store): job(s) {:?}",
                    r.lost_jobs
                );
            }
            println!("the damaged store is kept at {}", r.damaged.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, &e),
    }
}

/// Logs to stderr. Under systemd (`JOURNAL_STREAM` set) journald adds the time and the unit,
/// so lines carry only level, target and message, without colour. `LLMSD_LOG` filters
/// (default `info`).
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("LLMSD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| QuietStderr)
        .with_ansi(false);
    let _ = if std::env::var_os("JOURNAL_STREAM").is_some() {
        b.without_time().try_init()
    } else {
        b.try_init()
    };
}

/// stderr for the log, where a failed write (a full disk under `llmsd 2> FILE`) loses the
/// line instead of panicking the daemon (tracing reports a failed write with `eprint!`).
struct QuietStderr;

impl std::io::Write for QuietStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("llmsd: {}", snippet(msg, 2000));
    ExitCode::from(code)
}

/// SIGINT, SIGTERM, or SIGHUP (the terminal of a foreground daemon went away; systemd
/// sends none): each stops the daemon cleanly.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(mut term), Ok(mut hup)) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
