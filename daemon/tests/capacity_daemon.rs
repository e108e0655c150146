//! A capacity search through the daemon: two engines in one job, each searched, each probe a
//! stored point; killed with SIGKILL mid-search, the daemon resumes the search from its stored
//! probes and runs none twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Engine;
use common::daemon::{Daemon, ctx, is_final, submit_req, temp_dir, wait_job};
use llms_shared::{JobState, ResultRow, SearchRole};
use llmsd::refengine::RefArgs;
use std::time::Duration;

const MIN: Duration = Duration::from_secs(60);

/// At most `max_running` requests decode together, 16 tokens at 5 ms a step (80 ms); the
/// extra ones wait a whole request for their first token, so under TTFT p99 <= 40 ms the
/// capacity is `max_running`.
fn engine(max_running: usize) -> Engine {
    Engine::start(RefArgs {
        prefill_ms_per_token: Some(0.0),
        decode_ms: Some(5.0),
        decode_ms_per_seq: Some(0.0),
        max_running: Some(max_running),
        ..RefArgs::default()
    })
}

fn spec(a: &str, b: &str) -> String {
    format!(
        "name = \"capacity\"\n\
         [[engine]]\nkind = \"external\"\nname = \"four\"\nurl = \"{a}\"\nmodel = \"truth\"\n\
         ready_timeout_s = 2\n\
         [[engine]]\nkind = \"external\"\nname = \"eight\"\nurl = \"{b}\"\nmodel = \"truth\"\n\
         ready_timeout_s = 2\n\
         [load]\nrequests = 24\noutput_tokens = 16\n\
         [load.search]\nover = \"concurrency\"\nmin = 1\nmax = 32\nslo = {{ ttft_p99 = 40 }}\n"
    )
}

fn search_of<'a>(rows: &'a [ResultRow], engine: &str) -> &'a llms_shared::SearchReport {
    let ends: Vec<_> = rows
        .iter()
        .filter(|r| r.engine == engine && r.search.is_some())
        .collect();
    assert_eq!(ends.len(), 1, "one row ends {engine}'s search");
    ends[0].search.as_ref().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_survives_kill_9_and_finds_each_engines_capacity() {
    let (four, eight) = (engine(4), engine(8));
    let dir = temp_dir("capacity");
    let mut d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let id = c
        .submit(ctx(), submit_req(&spec(&four.url, &eight.url)))
        .await
        .unwrap()
        .unwrap();
    wait_job(&c, id, MIN, |j| j.points_done >= 3).await;
    let before = c.results(ctx(), id, false).await.unwrap().unwrap();
    d.kill9_and_restart();
    let c = d.client().await;
    let j = wait_job(&c, id, 3 * MIN, is_final).await;
    assert_eq!(j.state, JobState::Done, "{j:?}\n{}", d.log());
    let rows = c.results(ctx(), id, false).await.unwrap().unwrap();
    // Every planned point ran exactly once, in the plan's order.
    let detail = c.job(ctx(), id).await.unwrap().unwrap();
    let indices: Vec<u32> = rows.iter().map(|r| r.index).collect();
    assert_eq!(indices, (0..detail.plan.len() as u32).collect::<Vec<_>>());
    for b in &before {
        let a = rows.iter().find(|a| a.index == b.index);
        assert_eq!(a, Some(b), "a finished probe was run again or changed");
    }
    // The kill came mid-job: the restarted daemon ran points too.
    assert!(
        before.len() < rows.len(),
        "{} of {}",
        before.len(),
        rows.len()
    );
    for (name, want) in [("four", 4.0), ("eight", 8.0)] {
        let s = search_of(&rows, name);
        let cap = s.capacity.unwrap();
        // Never one above: there a request waits a whole request, over the bound at p99.
        assert!((want - 1.0..=want).contains(&cap), "{name}: {}", s.verdict);
        assert!(s.confirmed, "{name}: {}", s.verdict);
        assert_eq!(s.limited_by.as_deref(), Some("ttft_p99"));
        // The report lists exactly the engine's stored probes, in order.
        let stored: Vec<_> = rows
            .iter()
            .filter(|r| r.engine == name)
            .map(|r| (r.load.clone().unwrap(), r.role.unwrap()))
            .collect();
        let reported: Vec<_> = s.probes.iter().map(|p| (p.load.clone(), p.role)).collect();
        assert_eq!(stored, reported, "{name}");
        assert_eq!(stored.last().unwrap().1, SearchRole::Confirm);
    }
    // The first engine's search ended before the second's began.
    let last_four = rows.iter().rposition(|r| r.engine == "four").unwrap();
    let first_eight = rows.iter().position(|r| r.engine == "eight").unwrap();
    assert!(last_four < first_eight);
}

/// A search whose engine cannot be measured ends with one probe that says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_on_an_unreachable_engine_ends_with_the_reason() {
    let dir = temp_dir("capacity-dead");
    let d = Daemon::start(&dir, "", &[]);
    let c = d.client().await;
    let dead = "http://127.0.0.1:9";
    let id = c
        .submit(ctx(), submit_req(&spec(dead, dead)))
        .await
        .unwrap()
        .unwrap();
    let j = wait_job(&c, id, MIN, is_final).await;
    assert_eq!(j.state, JobState::Failed, "{j:?}");
    let rows = c.results(ctx(), id, false).await.unwrap().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for name in ["four", "eight"] {
        let s = search_of(&rows, name);
        assert_eq!(s.capacity, None);
        assert!(s.verdict.contains("no figures"), "{}", s.verdict);
    }
}
