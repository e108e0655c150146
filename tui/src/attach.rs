//! The files a sweep names (`prompts`, `[load] tokenizer`), read here with the user's own
//! permissions and sent with the sweep: the daemon never opens a path a client names.
//! Regular files only (a device, FIFO or socket is refused before it is opened), UTF-8, and
//! at most [`MAX_ATTACHED_BYTES`] together, refused with the size named.

use llms_shared::{AttachedFile, MAX_ATTACHED_BYTES, Sweep};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Read every file `spec` names ([`Sweep::named_files`]), relative paths against `base`. A
/// spec that is not a sweep attaches nothing: the daemon's parse reports it with the field at
/// fault.
pub fn files(spec: &str, base: &Path) -> Result<Vec<AttachedFile>, String> {
    let Ok(sweep) = toml::from_str::<Sweep>(spec) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut budget = MAX_ATTACHED_BYTES;
    for (field, name) in sweep.named_files() {
        let path = base.join(name);
        let text = read(&path, budget).map_err(|m| format!("{field}: {m}"))?;
        budget -= text.len() as u64;
        out.push(AttachedFile {
            field: field.to_owned(),
            path: path.display().to_string(),
            text,
        });
    }
    Ok(out)
}

/// One file: a regular file of at most `budget` bytes, UTF-8.
pub fn read(path: &Path, budget: u64) -> Result<String, String> {
    let name = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "{name} is not a regular file (a device, FIFO, socket or directory cannot be sent)"
        ));
    }
    let too_big = |size: u64| {
        format!(
            "{name} is {}; a sweep may send at most {} of files in all (trim it, or split the sweep)",
            mib(size),
            mib(MAX_ATTACHED_BYTES)
        )
    };
    if meta.len() > budget {
        return Err(too_big(meta.len()));
    }
    // O_NONBLOCK: should the path be swapped for a FIFO after the check, open does not hang.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(|e| format!("cannot read {name}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(budget + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {name}: {e}"))?;
    if bytes.len() as u64 > budget {
        return Err(too_big(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{name} is not UTF-8 text (byte {}); prompt files and tokenizer.json are",
            e.utf8_error().valid_up_to()
        )
    })
}

fn mib(bytes: u64) -> String {
    match bytes {
        0..1_048_576 => format!("{bytes} bytes"),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("llms-attach-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn named_files_are_read_relative_to_the_spec() {
        let d = dir("rel");
        std::fs::write(d.join("p.jsonl"), "{\"prompt\": \"hi\"}\n").unwrap();
        std::fs::write(d.join("tok.json"), "{}").unwrap();
        let spec = "name = \"x\"\nprompts = \"p.jsonl\"\n[load]\ntokenizer = \"tok.json\"\n";
        let got = files(spec, &d).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].field, "prompts");
        assert_eq!(got[0].text, "{\"prompt\": \"hi\"}\n");
        assert_eq!(got[1].field, "load.tokenizer");
        assert_eq!(got[1].path, d.join("tok.json").display().to_string());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn devices_and_fifos_are_refused_without_blocking() {
        let e = files(
            "name = \"x\"\nprompts = \"/dev/zero\"\n[load]\n",
            Path::new("/"),
        )
        .unwrap_err();
        assert!(
            e.starts_with("prompts: /dev/zero is not a regular file"),
            "{e}"
        );
        let d = dir("fifo");
        let fifo = d.join("f");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let e = files("name = \"x\"\n[load]\ntokenizer = \"f\"\n", &d).unwrap_err();
        assert!(
            e.contains("load.tokenizer:") && e.contains("not a regular file"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn oversized_and_binary_files_are_refused_with_the_size_named() {
        let d = dir("big");
        let f = d.join("big.jsonl");
        std::fs::write(&f, vec![b'a'; 2048]).unwrap();
        let e = read(&f, 1024).unwrap_err();
        assert!(e.contains("is 2048 bytes") && e.contains("48.0 MiB"), "{e}");
        std::fs::write(&f, [0x66, 0xff, 0x00]).unwrap();
        let e = read(&f, 1024).unwrap_err();
        assert!(e.contains("not UTF-8 text (byte 1)"), "{e}");
        let e = files("name = \"x\"\nprompts = \"missing\"\n[load]\n", &d).unwrap_err();
        assert!(e.starts_with("prompts: cannot read"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
