//! Where the daemon's Unix socket is, when `--socket` is not given: the rule both sides share,
//! read from this process's environment.

use std::path::{Path, PathBuf};

use llms_shared::socket::SocketEnv;
pub use llms_shared::socket::{SOCKET_ENV, SYSTEM_SOCKET};

/// The socket path from the process's environment, by the rule both sides share
/// ([`llms_shared::socket::default_socket`], the client's side).
pub fn default_socket() -> PathBuf {
    let env = SocketEnv {
        llms_socket: std::env::var_os(SOCKET_ENV),
        runtime_directory: None,
        system_exists: Path::new(SYSTEM_SOCKET).exists(),
        xdg_runtime_dir: std::env::var_os("XDG_RUNTIME_DIR"),
        uid: nix::unistd::getuid().as_raw(),
    };
    llms_shared::socket::default_socket(false, &env)
}

/// Before talking to `socket`: when it is the per-user fallback in /tmp, its directory must
/// be the user's own and private, or another user could be answering.
pub fn check_fallback(socket: &Path) -> Result<(), String> {
    let uid = nix::unistd::getuid().as_raw();
    if socket != llms_shared::socket::fallback_socket(uid) {
        return Ok(());
    }
    match socket.parent() {
        Some(dir) if dir.exists() => llms_shared::socket::check_private_dir(dir, uid),
        _ => Ok(()),
    }
}
