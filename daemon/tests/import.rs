//! `import` through the API: what it refuses (every field named, nothing stored) and what it
//! stores (a final job that never runs, its rows renumbered, raw records dropped).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::daemon::{Daemon, ctx, temp_dir};
use llms_shared::{ApiError, ImportRequest, JobState, Load, PointResult, RequestRecord, ResultRow};

fn row(index: u32, engine: &str) -> ResultRow {
    let mut p = PointResult::empty(Load::Concurrency { concurrency: 4 });
    p.completed = 10;
    p.requests = vec![RequestRecord::default()];
    ResultRow {
        index,
        engine: engine.into(),
        kind: "vllm".into(),
        load: None,
        error: None,
        point: Some(p),
        gpu: None,
        engine_version: None,
        workload: None,
        finished_ms: 0,
        role: None,
        search: None,
    }
}

fn req(rows: Vec<ResultRow>) -> ImportRequest {
    ImportRequest {
        name: "elsewhere".into(),
        origin: "/tmp/run.json (vllm bench serve)".into(),
        rows,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_bad_rows_and_stores_good_ones_as_final() {
    let dir = temp_dir("import");
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let refused = |r: Result<u64, ApiError>| match r {
        Err(ApiError::Invalid(m)) => m,
        other => panic!("not refused: {other:?}"),
    };
    let m = refused(c.import(ctx(), req(vec![])).await.unwrap());
    assert!(m.starts_with("rows:"), "{m}");
    let m = refused(
        c.import(ctx(), req(vec![row(0, "a"), row(1, "bad\nname")]))
            .await
            .unwrap(),
    );
    assert!(m.starts_with("rows[1].engine:"), "{m}");
    let mut none = row(0, "a");
    none.point = None;
    let m = refused(c.import(ctx(), req(vec![none])).await.unwrap());
    assert!(m.contains("rows[0]") && m.contains("neither"), "{m}");
    let m = refused(
        c.import(
            ctx(),
            ImportRequest {
                name: " ".into(),
                ..req(vec![row(0, "a")])
            },
        )
        .await
        .unwrap(),
    );
    assert!(m.starts_with("name:"), "{m}");
    assert!(
        c.jobs(ctx()).await.unwrap().unwrap().is_empty(),
        "nothing stored"
    );

    let id = c
        .import(ctx(), req(vec![row(5, "a"), row(9, "b")]))
        .await
        .unwrap()
        .unwrap();
    let j = c.job(ctx(), id).await.unwrap().unwrap();
    assert_eq!(j.summary.state, JobState::Done);
    assert_eq!(
        j.summary.imported.as_deref(),
        Some("/tmp/run.json (vllm bench serve)")
    );
    assert_eq!((j.summary.points_done, j.summary.points_total), (2, 2));
    let rows = c.results(ctx(), id, true).await.unwrap().unwrap();
    assert_eq!(rows.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 1]);
    assert!(rows.iter().all(|r| r.finished_ms > 0 && r.load.is_some()));
    assert!(rows[0].point.as_ref().unwrap().requests.is_empty());
    // Final from the start: cancel is refused and leaves it as it is.
    let e = c.cancel(ctx(), id).await.unwrap().unwrap_err();
    assert!(matches!(e, ApiError::Conflict(_)), "{e:?}");
    assert_eq!(
        c.job(ctx(), id).await.unwrap().unwrap().summary.state,
        JobState::Done
    );
}
