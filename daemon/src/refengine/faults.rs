//! Process-level faults of the reference engine, for the engine supervisor's tests: ignoring
//! SIGTERM (with a child in the same process group that ignores it too) and exiting abruptly.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGTERM and SIGINT caught and ignored; with a child process that does the same.
pub struct Deaf {
    term: Signal,
    int: Signal,
    child: Option<std::process::Child>,
}

impl Deaf {
    /// Catch SIGTERM and SIGINT from now on; with `child`, also start
    /// `<this exe> reference-engine --port 0 --ignore-sigterm-child` in this process group.
    pub fn install(child: bool) -> Result<Self, String> {
        let term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
        let int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
        let child = match child {
            true => {
                let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
                let c = std::process::Command::new(exe)
                    .args(["reference-engine", "--port", "0", "--ignore-sigterm-child"])
                    .stdin(std::process::Stdio::null())
                    .spawn()
                    .map_err(|e| format!("cannot start the --ignore-sigterm child: {e}"))?;
                eprintln!("reference engine: child {} ignores SIGTERM too", c.id());
                Some(c)
            }
            false => None,
        };
        Ok(Self { term, int, child })
    }

    /// Ignore the signals until killed.
    pub async fn forever(mut self) {
        loop {
            let name = tokio::select! {
                Some(()) = self.term.recv() => "SIGTERM",
                Some(()) = self.int.recv() => "SIGINT",
                // Both streams ended: never happens in practice.
                else => break,
            };
            eprintln!("reference engine: ignoring {name}");
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `--exit-after N`: end the process now, with status 3, if this is request `n`.
pub fn exit_if(after: Option<u64>, n: u64) {
    if after == Some(n) {
        eprintln!("reference engine: --exit-after {n}: exiting with status 3 mid-request");
        std::process::exit(3);
    }
}
