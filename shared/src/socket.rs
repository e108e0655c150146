//! Where the daemon's Unix socket lives when nobody names one, and the check that keeps the
//! per-user fallback private (a directory in /tmp that another user made first could hold a
//! socket of theirs that a client would talk to).

use std::path::{Path, PathBuf};

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
