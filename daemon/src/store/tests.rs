#![allow(clippy::unwrap_used)]

use super::*;
use llms_shared::{JobState, LoadDef, PointPlan, Sweep};

fn dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("llmsd-store-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Opens the store at `d` that this process just closed. sled lets go of its file lock only
/// when its flusher thread notices the drop (a fraction of a second later), so an open that
/// finds the lock still held is tried again, for up to 10 s.
fn reopen(d: &std::path::Path) -> Result<Store> {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Store::open(d) {
            Err(e) if e.is_locked() && std::time::Instant::now() < end => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => return r,
        }
    }
}

fn job(id: u64) -> JobRecord {
    let sweep = Sweep {
        name: "x".into(),
        model: None,
        prompts: None,
        endpoint: None,
        gpus: None,
        engines: vec![],
        load: LoadDef::default(),
        workload: None,
    };
    let plan = vec![PointPlan {
        index: 0,
        engine: "e".into(),
        load: llms_shared::Load::Concurrency { concurrency: 1 },
        role: None,
    }];
    JobRecord {
        spec_text: "name = \"x\"".into(),
        ..JobRecord::queued(id, id, sweep, plan, 1)
    }
}

fn row(index: u32) -> ResultRow {
    ResultRow {
        index,
        engine: "e".into(),
        kind: "external".into(),
        load: None,
        error: Some("x".into()),
        point: None,
        gpu: None,
        engine_version: None,
        workload: None,
        finished_ms: 5,
        role: None,
        search: None,
    }
}

#[tokio::test]
async fn jobs_points_and_records_survive_reopen_in_order() {
    let d = dir("reopen");
    {
        let s = Store::open(&d).unwrap();
        assert_eq!(s.next_job_id().unwrap(), 1);
        assert_eq!(s.next_job_id().unwrap(), 2);
        s.put_job(&job(2)).unwrap();
        s.put_job(&job(1)).unwrap();
        let recs: Vec<RequestRecord> = (0..3)
            .map(|i| RequestRecord {
                id: format!("r{i}"),
                ..Default::default()
            })
            .collect();
        // Index 10 sorts after 2 only with big-endian keys.
        s.put_point(1, &row(10), &recs, &[]).unwrap();
        s.put_point(1, &row(2), &recs[..1], &[]).unwrap();
        s.put_point(2, &row(0), &[], &[]).unwrap();
        s.flush().await.unwrap();
    }
    let s = reopen(&d).unwrap();
    assert_eq!(s.next_job_id().unwrap(), 3, "ids are never reused");
    let ids: Vec<u64> = s.jobs().unwrap().iter().map(|j| j.id).collect();
    assert_eq!(ids, vec![1, 2]);
    assert_eq!(s.finished(1).unwrap(), vec![2, 10]);
    assert_eq!(s.finished(2).unwrap(), vec![0]);
    let r: Vec<String> = s
        .requests(1, 10)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(r, vec!["r0", "r1", "r2"]);
    assert_eq!(s.job(1).unwrap().unwrap(), job(1));
    assert!(s.job(9).unwrap().is_none());
    drop(s);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_rerun_point_replaces_its_stray_records() {
    let d = dir("rerun");
    let s = Store::open(&d).unwrap();
    let many: Vec<RequestRecord> = (0..5).map(|_| RequestRecord::default()).collect();
    s.put_point(1, &row(0), &many, &[]).unwrap();
    s.put_point(1, &row(0), &many[..2], &[]).unwrap();
    assert_eq!(s.requests(1, 0).unwrap().len(), 2);
    drop(s);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_newer_schema_is_refused() {
    let d = dir("schema");
    {
        let db = sled::open(&d).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("schema", &(SCHEMA_VERSION + 1).to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let e = reopen(&d).err().unwrap().to_string();
    assert!(
        e.contains("schema version 2") && e.contains("newer llmsd"),
        "{e}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn values_carry_a_version_and_a_checksum() {
    let v = codec::encode("jobs", &job(1)).unwrap();
    assert_eq!(v[0], 2);
    let mut flipped = v.clone();
    let at = v.len() * 3 / 4;
    flipped[at] ^= 0x04;
    let e = codec::decode::<JobRecord>("jobs", &flipped).unwrap_err();
    assert!(matches!(e, StoreError::Damaged(_)), "{e}");
    // Values written before checksums still read.
    let mut old = vec![1u8];
    old.extend_from_slice(&v[5..]);
    assert_eq!(codec::decode::<JobRecord>("jobs", &old).unwrap(), job(1));
    let mut bad = v.clone();
    bad[0] = 9;
    let e = codec::decode::<JobRecord>("jobs", &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("version 9"), "{e}");
}

fn journaled(tag: &str) -> (std::path::PathBuf, Store) {
    let base = dir(tag);
    let d = base.join("db");
    let s = Store::open(&d).unwrap();
    (base, s)
}

async fn add(s: &Store, id: u64) {
    let mut j = job(id);
    j.plan = (0..3)
        .map(|index| PointPlan {
            index,
            engine: "e".into(),
            load: llms_shared::Load::Concurrency { concurrency: 1 },
            role: None,
        })
        .collect();
    s.put_job(&j).unwrap();
    s.flush().await.unwrap();
    s.journal_job(&j, &[], &[]).unwrap();
}

#[tokio::test]
async fn a_store_that_lost_a_point_or_rolled_back_a_job_is_found_and_rebuilt() {
    let (base, s) = journaled("verify");
    add(&s, 1).await;
    let recs = [RequestRecord {
        id: "r0".into(),
        ..Default::default()
    }];
    s.finish_point(1, &row(0), &recs, &[]).await.unwrap();
    s.finish_point(1, &row(1), &[], &[]).await.unwrap();
    let mut done = s.job(1).unwrap().unwrap();
    done.state = JobState::Done;
    done.finished_ms = Some(9);
    s.put_job(&done).unwrap();
    s.flush().await.unwrap();
    assert_eq!(s.verify().unwrap().jobs, 1);
    // The store loses a finished point and rolls the job back to running, as sled's
    // recovery does past a damaged log entry.
    s.points.remove(codec::key_point(1, 1)).unwrap();
    let mut back = done.clone();
    back.state = JobState::Running;
    s.jobs
        .insert(codec::key_job(1), codec::encode("jobs", &back).unwrap())
        .unwrap();
    let e = s.verify().unwrap_err().to_string();
    assert!(
        e.contains("job 1 lost 1 finished point(s) the journal holds (first: 1)")
            && e.contains("job 1 ended done (journal) but the store says running"),
        "{e}"
    );
    s.flush().await.unwrap();
    drop(s);
    // Rebuilt from the journal: both points, the final state, the raw records that read.
    let d = base.join("db");
    let wait = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let r = loop {
        match repair::rebuild(&d).await {
            Err(e) if e.contains("in use") && std::time::Instant::now() < wait => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            r => break r.unwrap(),
        }
    };
    assert_eq!((r.jobs, r.points, r.with_records), (1, 2, 1), "{r:?}");
    assert!(r.damaged.exists());
    let s = reopen(&d).unwrap();
    let j = s.job(1).unwrap().unwrap();
    assert_eq!(
        (j.state, j.points_done, j.finished_ms),
        (JobState::Done, 2, Some(9))
    );
    assert_eq!(s.finished(1).unwrap(), vec![0, 1]);
    assert_eq!(s.requests(1, 0).unwrap().len(), 1);
    assert_eq!(s.next_job_id().unwrap(), 2, "ids are never reused");
    assert!(s.verify().is_ok());
    drop(s);
    let _ = std::fs::remove_dir_all(&base);
}

#[tokio::test]
async fn a_store_replaced_or_emptied_is_found_by_its_journal() {
    let (base, s) = journaled("emptied");
    add(&s, 1).await;
    drop(s);
    let d = base.join("db");
    std::fs::remove_dir_all(&d).unwrap();
    let s = reopen(&d).unwrap();
    let e = s.verify().unwrap_err().to_string();
    assert!(
        e.contains("job 1 is in the journal but not in the store"),
        "{e}"
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&base);
}

#[tokio::test]
async fn jobs_from_before_the_journal_get_one() {
    let (base, s) = journaled("backfill");
    s.put_job(&job(4)).unwrap();
    s.put_point(4, &row(0), &[], &[]).unwrap();
    let r = s.verify().unwrap();
    assert_eq!((r.jobs, r.backfilled), (1, 1));
    assert_eq!(s.journal.replay(4).unwrap().0.points.len(), 1);
    assert_eq!(s.verify().unwrap().backfilled, 0);
    drop(s);
    let _ = std::fs::remove_dir_all(&base);
}
