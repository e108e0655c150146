//! The helper processes an imitated engine starts, each behaving like the real one's towards
//! signals and its process group (see [`ChildKind`]).

use super::dialect::ChildKind;
use std::process::{Child, Command, Stdio};

/// The helpers of a running imitation; they are ended (SIGTERM, then reaped) when this is
/// dropped, on a clean exit and on every error path alike.
#[derive(Default)]
pub struct Helpers(Vec<Child>);

/// Start `n` helpers of `kind`: `<this exe> reference-engine --imitation-child KIND`.
pub fn spawn(kind: ChildKind, n: usize) -> Result<Helpers, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let name = match kind {
        ChildKind::Orphaning => "orphaning",
        ChildKind::ParentBound => "parent-bound",
        ChildKind::Escaping => "escaping",
    };
    let mut helpers = Helpers::default();
    for _ in 0..n {
        let c = Command::new(&exe)
            .args(["reference-engine", "--imitation-child", name])
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start a helper process: {e}"))?;
        helpers.0.push(c);
    }
    Ok(helpers)
}

impl Drop for Helpers {
    fn drop(&mut self) {
        for c in &self.0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        // They die on SIGTERM at once: the wait is short.
        for mut c in self.0.drain(..) {
            let _ = c.wait();
        }
    }
}

/// Be a helper of `kind` until a signal ends it (the default action of SIGTERM).
pub async fn run(kind: ChildKind) -> Result<(), String> {
    let me = std::process::id();
    match kind {
        ChildKind::Orphaning => {
            eprintln!(
                "(EngineCore pid={me}) INFO [core.py] engine core started; it does not watch its parent"
            );
        }
        ChildKind::ParentBound => {
            let parent = nix::unistd::getppid();
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(|e| format!("prctl(PR_SET_PDEATHSIG): {e}"))?;
            // The parent may have died before the line above (we were reparented).
            if nix::unistd::getppid() != parent {
                return Ok(());
            }
            eprintln!("[scheduler pid={me}] dies with its parent (PR_SET_PDEATHSIG)");
        }
        ChildKind::Escaping => {
            nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
            eprintln!("[TensorRT-LLM][INFO] MPI worker pid={me} runs in a session of its own");
        }
    }
    std::future::pending::<()>().await;
    Ok(())
}
