//! The journal: one append-only JSON-lines file per job (`db.journal/job-ID.jsonl`), written
//! and fsynced before the store, so a damaged store can be checked against it and rebuilt
//! from it. Lines: `{"job": ...}` (at submit), `{"files": [...]}`, `{"point": ...}` (each
//! finished point's row, without its raw records), `{"end": ...}` (a final state). A line
//! torn by a crash is the last one and is ignored.

use super::types::JobRecord;
use llms_shared::{AttachedFile, JobState, ResultRow};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// One line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Line {
    /// The job as submitted.
    Job(Box<JobRecord>),
    /// The files its sweep named.
    Files(Vec<AttachedFile>),
    /// A finished point.
    Point(Box<ResultRow>),
    /// A final state.
    End(End),
}

/// A job's final state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct End {
    /// Done, failed or cancelled.
    pub state: JobState,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// When.
    pub finished_ms: Option<u64>,
}

/// What a job's journal says.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// The job as submitted.
    pub job: Option<JobRecord>,
    /// Its files.
    pub files: Vec<AttachedFile>,
    /// Finished points by index (a re-run point's last row).
    pub points: BTreeMap<u32, ResultRow>,
    /// The last final state.
    pub end: Option<End>,
}

/// The journal directory.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    /// The journal beside the store directory `db` (`db.journal`).
    pub fn beside(db: &Path) -> Self {
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push(".journal");
        Self {
            dir: db.with_file_name(name),
        }
    }

    /// Where it is.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes of its files (one per job; a directory that cannot be read counts 0).
    pub fn size_on_disk(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    fn path(&self, job: u64) -> PathBuf {
        self.dir.join(format!("job-{job}.jsonl"))
    }

    /// Whether job `id` has a journal.
    pub fn has(&self, job: u64) -> bool {
        self.path(job).is_file()
    }

    /// Append `line` to job `job`'s file and make it durable.
    pub fn append(&self, job: u64, line: &Line) -> std::io::Result<()> {
        self.append_all(job, std::slice::from_ref(line))
    }

    /// Append `lines` to job `job`'s journal and make them durable together (one sync).
    pub fn append_all(&self, job: u64, lines: &[Line]) -> std::io::Result<()> {
        let mut text = Vec::new();
        for line in lines {
            serde_json::to_writer(&mut text, line).map_err(std::io::Error::other)?;
            text.push(b'\n');
        }
        std::fs::create_dir_all(&self.dir)?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(self.path(job))?;
        // A line torn by a failed write (a full disk) is ended first, so it costs only itself.
        let len = f.metadata()?.len();
        let mut last = [b'\n'];
        if len > 0 {
            std::os::unix::fs::FileExt::read_exact_at(&f, &mut last, len - 1)?;
        }
        if last[0] != b'\n' {
            text.insert(0, b'\n');
        }
        f.write_all(&text)?;
        f.sync_data()
    }

    /// The ids of every job with a journal, in order.
    pub fn jobs(&self) -> std::io::Result<Vec<u64>> {
        let mut ids = Vec::new();
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
            Err(e) => return Err(e),
        };
        for e in rd {
            let name = e?.file_name();
            if let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_prefix("job-")?.strip_suffix(".jsonl"))
                .and_then(|n| n.parse().ok())
            {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// Read job `job`'s journal. A line that does not parse (torn by a crash or a full disk)
    /// is skipped; the count of such lines is returned too.
    pub fn replay(&self, job: u64) -> std::io::Result<(Replay, usize)> {
        let f = std::fs::File::open(self.path(job))?;
        let mut r = Replay::default();
        let mut torn = 0;
        for line in std::io::BufReader::new(f).lines() {
            let line = line?;
            match serde_json::from_str::<Line>(&line) {
                Ok(Line::Job(j)) => r.job = Some(*j),
                Ok(Line::Files(f)) => r.files = f,
                Ok(Line::Point(p)) => {
                    r.points.insert(p.index, *p);
                }
                Ok(Line::End(e)) => r.end = Some(e),
                Err(_) => torn += 1,
            }
        }
        Ok((r, torn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_line_costs_only_itself() {
        let dir = std::env::temp_dir().join(format!("llmsd-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let j = Journal::beside(&dir.join("db"));
        let end = |state| {
            Line::End(End {
                state,
                error: None,
                finished_ms: Some(1),
            })
        };
        j.append(7, &end(JobState::Failed)).unwrap();
        // A write cut short by a full disk.
        let path = j.path(7);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"point\": {\"ind").unwrap();
        j.append(7, &end(JobState::Done)).unwrap();
        let (r, torn) = j.replay(7).unwrap();
        assert_eq!(torn, 1);
        assert_eq!(r.end.unwrap().state, JobState::Done);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
