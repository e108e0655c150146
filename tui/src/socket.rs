//! Where the daemon's Unix socket is, when `--socket` is not given. The daemon binds the same
//! path by the same rule, so both sides agree without configuration.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The socket under systemd (`RuntimeDirectory=llmsd`).
pub const SYSTEM_SOCKET: &str = "/run/llmsd/llmsd.sock";
/// Environment variable that names the socket.
pub const SOCKET_ENV: &str = "LLMS_SOCKET";

/// The socket path from the process's environment: [`resolve_socket`] with `$LLMS_SOCKET`,
/// whether [`SYSTEM_SOCKET`] exists, `$XDG_RUNTIME_DIR` and the real user id.
pub fn default_socket() -> PathBuf {
    resolve_socket(
        std::env::var_os(SOCKET_ENV),
        Path::new(SYSTEM_SOCKET).exists(),
        std::env::var_os("XDG_RUNTIME_DIR"),
        nix::unistd::getuid().as_raw(),
    )
}

/// The rule, without side effects (empty variables count as unset):
/// 1. `$LLMS_SOCKET` if set;
/// 2. else [`SYSTEM_SOCKET`] if it exists;
/// 3. else `$XDG_RUNTIME_DIR/llmsd.sock` if that variable is an absolute path;
/// 4. else `/tmp/llmsd-$UID/llmsd.sock`, in a directory that must be the user's own and
///    private (see [`check_fallback`]).
pub fn resolve_socket(
    env_socket: Option<OsString>,
    system_exists: bool,
    xdg_runtime_dir: Option<OsString>,
    uid: u32,
) -> PathBuf {
    if let Some(p) = env_socket.filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if system_exists {
        return PathBuf::from(SYSTEM_SOCKET);
    }
    match xdg_runtime_dir.map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir.join("llmsd.sock"),
        _ => llms_shared::socket::fallback_socket(uid),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    #[test]
    fn rule_order() {
        let r = |e, s, x| resolve_socket(e, s, x, 1000);
        assert_eq!(r(os("/a.sock"), true, os("/x")), PathBuf::from("/a.sock"));
        assert_eq!(r(os(""), true, os("/x")), PathBuf::from(SYSTEM_SOCKET));
        assert_eq!(r(None, false, os("/x")), PathBuf::from("/x/llmsd.sock"));
        assert_eq!(
            r(None, false, os("rel")),
            PathBuf::from("/tmp/llmsd-1000/llmsd.sock")
        );
        assert_eq!(
            r(None, false, os("")),
            PathBuf::from("/tmp/llmsd-1000/llmsd.sock")
        );
        assert_eq!(
            r(None, false, None),
            PathBuf::from("/tmp/llmsd-1000/llmsd.sock")
        );
    }
}
