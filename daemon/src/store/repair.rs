//! Checking the store at start, and rebuilding it from the journal (`llmsd repair`).

use super::codec::{self, key_job};
use super::journal::{Journal, Replay};
use super::{Result, Store, StoreError};
use std::path::{Path, PathBuf};

/// The trees whose values [`Store::verify`] reads (`keys` holds raw ids, not values).
const TREES: [&str; 7] = [
    "meta", "jobs", "points", "requests", "samples", "engines", "files",
];

/// Most problems listed in one message.
const LISTED: usize = 5;

impl Store {
    /// Read every value (checksums), then check the store against the journal: every job,
    /// finished point and final state the journal holds must be in the store. Jobs stored
    /// before the journal existed get one. `Err(Damaged)` lists what is wrong.
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut problems = Vec::new();
        let mut values = 0u64;
        for name in TREES {
            let tree = self.db.open_tree(name)?;
            for kv in tree.iter() {
                let (k, v) = kv?;
                values += 1;
                if name != "meta"
                    && let Err(e) = codec::json(name, &v)
                {
                    problems.push(format!("{name}, key {}: {e}", hex(&k)));
                }
            }
        }
        let journaled = self.journal.jobs()?;
        for &id in &journaled {
            let (r, _) = self.journal.replay(id)?;
            check_job(self, id, &r, &mut problems);
        }
        if !problems.is_empty() {
            let n = problems.len();
            problems.truncate(LISTED);
            let more = match n > LISTED {
                true => format!(" (and {} more)", n - LISTED),
                false => String::new(),
            };
            return Err(StoreError::Damaged(format!(
                "{}{more}",
                problems.join("; ")
            )));
        }
        let mut backfilled = 0;
        for job in self.jobs()? {
            if !journaled.contains(&job.id) {
                self.journal_job(&job, &self.files(job.id)?, &self.points(job.id)?)?;
                backfilled += 1;
            }
        }
        Ok(VerifyReport {
            values,
            jobs: journaled.len() + backfilled,
            backfilled,
        })
    }
}

/// What [`Store::verify`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyReport {
    /// Values read.
    pub values: u64,
    /// Jobs checked against their journal.
    pub jobs: usize,
    /// Jobs that had no journal and got one.
    pub backfilled: usize,
}

fn hex(k: &[u8]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}

/// Is what the journal says of job `id` in the store?
fn check_job(s: &Store, id: u64, r: &Replay, problems: &mut Vec<String>) {
    if r.job.is_none() {
        return;
    }
    let stored = match s.job(id) {
        Ok(Some(j)) => j,
        Ok(None) => {
            problems.push(format!("job {id} is in the journal but not in the store"));
            return;
        }
        Err(e) => {
            problems.push(format!("job {id}: {e}"));
            return;
        }
    };
    let have = s.finished(id).unwrap_or_default();
    let missing: Vec<u32> = r
        .points
        .keys()
        .copied()
        .filter(|i| !have.contains(i))
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "job {id} lost {} finished point(s) the journal holds (first: {})",
            missing.len(),
            missing[0]
        ));
    }
    if let Some(end) = &r.end
        && stored.state != end.state
    {
        problems.push(format!(
            "job {id} ended {} (journal) but the store says {}",
            end.state.as_str(),
            stored.state.as_str()
        ));
    }
}

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// Jobs written to the new store.
    pub jobs: usize,
    /// Finished points written.
    pub points: usize,
    /// Of those, points whose raw records and samples came from the damaged store.
    pub with_records: usize,
    /// Jobs of the damaged store that had no journal and could not be read (ids).
    pub lost_jobs: Vec<u64>,
    /// Where the damaged store was moved.
    pub damaged: PathBuf,
}

/// Build a new store from the journal beside the one at `db`, then move that aside
/// (`db.damaged-UNIXMS`) and the new one in,
/// taking raw records and samples from the damaged store where they still read, and jobs
/// that have no journal from it where they still read.
pub async fn rebuild(db: &Path) -> std::result::Result<Rebuilt, String> {
    let journal = Journal::beside(db);
    let ms = std::time::UNIX_EPOCH
        .elapsed()
        .unwrap_or_default()
        .as_millis();
    let aside = |tag: &str| {
        let mut p = db.as_os_str().to_os_string();
        p.push(format!(".{tag}-{ms}"));
        PathBuf::from(p)
    };
    let (damaged, building) = (aside("damaged"), aside("rebuild"));
    // The damaged store is opened first: a daemon still using it holds its lock, and is
    // refused. It may not open at all (sled can panic on some damage).
    let old = match std::panic::catch_unwind(|| Store::open(db)) {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) if e.is_locked() => {
            return Err(format!(
                "the store {} is in use by an llmsd; stop it first",
                db.display()
            ));
        }
        _ => None,
    };
    // Built beside it and swapped in only when complete: a repair cut short changes nothing.
    let new =
        Store::open(&building).map_err(|e| format!("cannot create {}: {e}", building.display()))?;
    let mut out = Rebuilt {
        damaged,
        ..Rebuilt::default()
    };
    let ids = journal
        .jobs()
        .map_err(|e| format!("journal {}: {e}", journal.dir().display()))?;
    let mut top = 0;
    for &id in &ids {
        let (r, _) = journal
            .replay(id)
            .map_err(|e| format!("journal of job {id}: {e}"))?;
        let Some(mut job) = r.job.clone() else {
            // A journal without its job line (torn): the damaged store may still hold it.
            top = top.max(id);
            salvage(old.as_ref(), &new, id, &mut out);
            continue;
        };
        top = top.max(id);
        job.points_done = r.points.len() as u32;
        job.points_failed = r.points.values().filter(|p| p.error.is_some()).count() as u32;
        if let Some(end) = &r.end {
            job.state = end.state;
            job.error = end.error.clone();
            job.finished_ms = end.finished_ms;
        }
        new.put_files(id, &r.files).map_err(|e| e.to_string())?;
        for row in r.points.values() {
            let recs = old
                .as_ref()
                .and_then(|o| quiet(|| o.requests(id, row.index)));
            let samples = old
                .as_ref()
                .and_then(|o| quiet(|| o.samples(id, row.index)));
            if recs.as_ref().is_some_and(|r| !r.is_empty()) {
                out.with_records += 1;
            }
            new.put_point(
                id,
                row,
                &recs.unwrap_or_default(),
                &samples.unwrap_or_default(),
            )
            .map_err(|e| e.to_string())?;
            out.points += 1;
        }
        // Not journaled again: the journal already holds it.
        new.jobs
            .insert(
                key_job(id),
                codec::encode("jobs", &job).map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?;
        out.jobs += 1;
    }
    // Jobs of the damaged store with no journal (an older llmsd's), as far as they read.
    if let Some(o) = &old {
        let keys = quiet(|| {
            Ok(o.jobs
                .iter()
                .keys()
                .filter_map(|k| k.ok()?.as_ref().try_into().ok().map(u64::from_be_bytes))
                .collect::<Vec<u64>>())
        });
        for id in keys.unwrap_or_default() {
            if ids.contains(&id) {
                continue;
            }
            top = top.max(id);
            salvage(Some(o), &new, id, &mut out);
        }
    }
    new.meta
        .insert("next_job_id", &top.to_be_bytes())
        .map_err(|e| e.to_string())?;
    new.flush().await.map_err(|e| e.to_string())?;
    drop((new, old));
    if db.exists() {
        std::fs::rename(db, &out.damaged).map_err(|e| {
            format!(
                "cannot move {} to {}: {e}",
                db.display(),
                out.damaged.display()
            )
        })?;
    }
    std::fs::rename(&building, db).map_err(|e| {
        format!(
            "cannot move {} to {}: {e}",
            building.display(),
            db.display()
        )
    })?;
    Ok(out)
}

/// `f`'s value, or `None` when it fails or sled panics on the damage.
fn quiet<T>(f: impl FnOnce() -> Result<T>) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .ok()
        .and_then(|r| r.ok())
}

/// Copy job `id` whole from the damaged store, as far as it reads, and count it; else list
/// it as lost.
fn salvage(old: Option<&Store>, new: &Store, id: u64, out: &mut Rebuilt) {
    match old.and_then(|o| quiet(|| copy_job(o, new, id))) {
        Some(points) => {
            out.jobs += 1;
            out.points += points;
            out.with_records += points;
        }
        None => out.lost_jobs.push(id),
    }
}

/// Copy one job, its files and points with their records from `from` to `to`.
fn copy_job(from: &Store, to: &Store, id: u64) -> Result<usize> {
    let job = from
        .job(id)?
        .ok_or_else(|| StoreError::Damaged("no record".into()))?;
    to.put_files(id, &from.files(id)?)?;
    let rows = from.points(id)?;
    for row in &rows {
        to.put_point(
            id,
            row,
            &from.requests(id, row.index)?,
            &from.samples(id, row.index)?,
        )?;
    }
    to.jobs.insert(key_job(id), codec::encode("jobs", &job)?)?;
    Ok(rows.len())
}
