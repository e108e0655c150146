//! Engines of earlier daemon runs, known from their log files (`engine-{id}-{name}.log`):
//! where ids go on after a restart (never reused, so no log file holds two engines), and the
//! logs `llms logs` can still read once the engine is gone.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Most bytes read from the end of a past engine's log.
const TAIL_BYTES: u64 = 4 << 20;

/// One past engine's log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastLog {
    /// Its engine id.
    pub id: u64,
    /// Its name as written in the file name (unsafe characters as `_`).
    pub name: String,
    /// The file.
    pub path: PathBuf,
}

/// `engine-12-vllm.log` is (12, `vllm`); anything else (rotated `.1` files, configs) is not
/// a log of its own.
fn parse(file: &str) -> Option<(u64, String)> {
    let rest = file.strip_prefix("engine-")?.strip_suffix(".log")?;
    let (id, name) = rest.split_once('-')?;
    Some((id.parse().ok()?, name.to_owned()))
}

/// Every engine log in `dir`, oldest id first.
pub fn logs(dir: &Path) -> Vec<PastLog> {
    let mut out: Vec<PastLog> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().into_string().ok()?;
            let (id, name) = parse(&file)?;
            Some(PastLog {
                id,
                name,
                path: e.path(),
            })
        })
        .collect();
    out.sort_by_key(|l| l.id);
    out
}

/// The first id after every engine whose log is in `dir` (1 when none is).
pub fn next_id(dir: &Path) -> u64 {
    logs(dir).last().map_or(1, |l| l.id + 1)
}

/// The past log `key` names: an id, or the newest engine of that name.
pub fn find(dir: &Path, key: &str) -> Option<PastLog> {
    let all = logs(dir);
    if let Ok(id) = key.parse::<u64>()
        && let Some(l) = all.iter().find(|l| l.id == id)
    {
        return Some(l.clone());
    }
    all.into_iter().rev().find(|l| l.name == key)
}

/// The last `lines` lines of `path` (from at most its last 4 MiB).
pub fn tail(path: &Path, lines: usize) -> std::io::Result<Vec<String>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let from = len.saturating_sub(TAIL_BYTES);
    f.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::new();
    f.take(TAIL_BYTES).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let mut all: Vec<&str> = text.lines().collect();
    // A cut first line is a partial one.
    if from > 0 && !all.is_empty() {
        all.remove(0);
    }
    let start = all.len().saturating_sub(lines);
    Ok(all[start..].iter().map(|s| (*s).to_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_go_on_after_the_newest_log_and_names_find_the_newest() {
        let dir = std::env::temp_dir().join(format!("llms-past-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(next_id(&dir), 1);
        for (f, body) in [
            ("engine-3-reference.log", "a\nb\n"),
            ("engine-12-reference.log", "one\ntwo\nthree\n"),
            ("engine-12-reference.log.1", "old"),
            ("engine-7-vllm.yaml", ""),
            ("engine-9-vllm.log", "v\n"),
        ] {
            std::fs::write(dir.join(f), body).unwrap();
        }
        assert_eq!(next_id(&dir), 13);
        let ids: Vec<u64> = logs(&dir).iter().map(|l| l.id).collect();
        assert_eq!(ids, [3, 9, 12]);
        assert_eq!(find(&dir, "reference").unwrap().id, 12);
        assert_eq!(find(&dir, "3").unwrap().name, "reference");
        assert_eq!(find(&dir, "tgi"), None);
        let l = find(&dir, "reference").unwrap();
        assert_eq!(tail(&l.path, 2).unwrap(), ["two", "three"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
