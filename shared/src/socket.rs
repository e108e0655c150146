//! Where the daemon's Unix socket lives when nobody names one, and the check that keeps the
//! per-user fallback private (a directory in /tmp that another user made first could hold a
//! socket of theirs that a client would talk to).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The socket under systemd (`RuntimeDirectory=llmsd`).
pub const SYSTEM_SOCKET: &str = "/run/llmsd/llmsd.sock";
/// Environment variable that names the socket to clients.
pub const SOCKET_ENV: &str = "LLMS_SOCKET";

/// What the socket's place depends on, read from a process's environment by its caller
/// (empty variables count as unset).
#[derive(Debug, Clone, Default)]
pub struct SocketEnv {
    /// `$LLMS_SOCKET` (clients only).
    pub llms_socket: Option<OsString>,
    /// `$RUNTIME_DIRECTORY`: systemd's `RuntimeDirectory=`, colon-separated (the daemon).
    pub runtime_directory: Option<OsString>,
    /// Whether [`SYSTEM_SOCKET`] exists (clients only).
    pub system_exists: bool,
    /// `$XDG_RUNTIME_DIR`.
    pub xdg_runtime_dir: Option<OsString>,
    /// The real user id.
    pub uid: u32,
}

/// The one rule, from each side. Both end in the user's own place: `$XDG_RUNTIME_DIR/llmsd.sock`
/// when that variable is an absolute path, else [`fallback_socket`].
/// - The daemon binds in systemd's runtime directory when it has one (the first of the
///   list), else in the user's place.
/// - A client uses `$LLMS_SOCKET` if set, else [`SYSTEM_SOCKET`] if it exists (a service
///   runs), else the user's place, where a daemon the user started listens.
pub fn default_socket(daemon: bool, e: &SocketEnv) -> PathBuf {
    let set = |v: &Option<OsString>| v.clone().filter(|v| !v.is_empty());
    if daemon {
        if let Some(d) = set(&e.runtime_directory) {
            let first = d
                .to_str()
                .and_then(|s| s.split(':').next())
                .map(PathBuf::from);
            return first.unwrap_or_else(|| PathBuf::from(d)).join("llmsd.sock");
        }
    } else {
        if let Some(p) = set(&e.llms_socket) {
            return PathBuf::from(p);
        }
        if e.system_exists {
            return PathBuf::from(SYSTEM_SOCKET);
        }
    }
    match set(&e.xdg_runtime_dir).map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir.join("llmsd.sock"),
        _ => fallback_socket(e.uid),
    }
}

/// The fallback directory of user `uid` when neither systemd nor `$XDG_RUNTIME_DIR` gives one:
/// private (0700), the socket inside it.
pub fn fallback_dir(uid: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/llmsd-{uid}"))
}

/// The fallback socket of user `uid`.
pub fn fallback_socket(uid: u32) -> PathBuf {
    fallback_dir(uid).join("llmsd.sock")
}

/// `Ok` when `dir` is a real directory owned by `uid` that nobody else may enter; else why
/// not, naming the directory and the fix.
pub fn check_private_dir(dir: &Path, uid: u32) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let m = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let why = if !m.file_type().is_dir() {
        Some("is not a directory".to_owned())
    } else if m.uid() != uid {
        Some(format!(
            "belongs to uid {}, not to you (uid {uid})",
            m.uid()
        ))
    } else if m.permissions().mode() & 0o077 != 0 {
        Some(format!(
            "is open to other users (mode {:o})",
            m.permissions().mode() & 0o777
        ))
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(w) => Err(format!(
            "the socket directory {} {w}: another user may have made it; remove it, or name a socket with --socket",
            dir.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    #[test]
    fn one_rule_from_each_side() {
        let env = |llms: Option<OsString>, rt: Option<OsString>, sys, xdg| SocketEnv {
            llms_socket: llms,
            runtime_directory: rt,
            system_exists: sys,
            xdg_runtime_dir: xdg,
            uid: 1000,
        };
        let client = |e: SocketEnv| default_socket(false, &e);
        let daemon = |e: SocketEnv| default_socket(true, &e);
        let p = PathBuf::from;
        assert_eq!(
            client(env(os("/a.sock"), None, true, os("/x"))),
            p("/a.sock")
        );
        assert_eq!(client(env(os(""), None, true, os("/x"))), p(SYSTEM_SOCKET));
        assert_eq!(client(env(None, None, false, os("/x"))), p("/x/llmsd.sock"));
        for xdg in [os("rel"), os(""), None] {
            assert_eq!(
                client(env(None, None, false, xdg.clone())),
                p("/tmp/llmsd-1000/llmsd.sock")
            );
            assert_eq!(
                daemon(env(None, None, false, xdg)),
                p("/tmp/llmsd-1000/llmsd.sock")
            );
        }
        let rt = os("/run/llmsd:/run/other");
        assert_eq!(
            daemon(env(os("/a.sock"), rt, true, os("/x"))),
            p(SYSTEM_SOCKET)
        );
        assert_eq!(
            daemon(env(None, None, true, os("/run/user/1"))),
            p("/run/user/1/llmsd.sock")
        );
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn only_a_private_directory_of_ours_passes() {
        let d = std::env::temp_dir().join(format!("llms-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir(&d).unwrap();
        let uid = std::fs::metadata(&d).unwrap().uid();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(check_private_dir(&d, uid), Ok(()));
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_private_dir(&d, uid).unwrap_err();
        assert!(e.contains("open to other users (mode 777)"), "{e}");
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        let e = check_private_dir(&d, uid + 1).unwrap_err();
        assert!(
            e.contains("belongs to uid") && e.contains("--socket"),
            "{e}"
        );
        let f = d.join("file");
        std::fs::write(&f, "").unwrap();
        assert!(
            check_private_dir(&f, uid)
                .unwrap_err()
                .contains("not a directory")
        );
        let _ = std::fs::remove_dir_all(&d);
        assert_eq!(fallback_socket(7), PathBuf::from("/tmp/llmsd-7/llmsd.sock"));
    }
}
