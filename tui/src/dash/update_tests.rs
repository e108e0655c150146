#![allow(clippy::unwrap_used)]
use super::*;
use crate::dash::command::Reply;
use crate::dash::keymap;
use crate::dash::model::ConnState;
use crate::dash::testdata::{self, NOW};
use crate::fixtures;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn key(m: &mut Model, code: KeyCode) -> Vec<Command> {
    let mods = match code {
        KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
        KeyCode::BackTab => KeyModifiers::SHIFT,
        _ => KeyModifiers::NONE,
    };
    match keymap::action(&m.ui, KeyEvent::new(code, mods)) {
        Some(a) => update(m, Msg::Action(a)),
        None => Vec::new(),
    }
}

fn ch(m: &mut Model, c: char) -> Vec<Command> {
    key(m, KeyCode::Char(c))
}

#[test]
fn tab_cycles_screens_and_back_tab_returns() {
    let mut m = testdata::model();
    let mut seen = vec![m.ui.screen];
    for _ in 0..5 {
        key(&mut m, KeyCode::Tab);
        seen.push(m.ui.screen);
    }
    use Screen::*;
    assert_eq!(seen, [Live, Queue, Engines, Results, Help, Live]);
    key(&mut m, KeyCode::BackTab);
    assert_eq!(m.ui.screen, Help);
    ch(&mut m, '3');
    assert_eq!(m.ui.screen, Engines);
}

#[test]
fn entering_screens_fetches_their_data() {
    let mut m = testdata::model();
    assert_eq!(ch(&mut m, '3'), vec![Command::FetchLog(7)]);
    let cmds = ch(&mut m, '4');
    assert_eq!(cmds, vec![Command::FetchJobs]); // job 3's points are cached
}

#[test]
fn question_mark_opens_help_and_goes_back() {
    let mut m = testdata::model();
    ch(&mut m, '2');
    ch(&mut m, '?');
    assert_eq!(m.ui.screen, Screen::Help);
    ch(&mut m, '?');
    assert_eq!(m.ui.screen, Screen::Queue);
}

#[test]
fn q_quits_everywhere_but_types_in_the_picker() {
    for s in Screen::ALL {
        let mut m = testdata::model();
        m.ui.screen = s;
        ch(&mut m, 'q');
        assert!(m.quit, "{s:?}");
    }
    let mut m = testdata::model();
    ch(&mut m, '2');
    assert_eq!(ch(&mut m, 's'), vec![Command::ListSweeps]);
    ch(&mut m, 'q');
    assert!(!m.quit);
    assert_eq!(m.ui.picker.as_ref().unwrap().input, "q");
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    let a = keymap::action(&m.ui, ctrl_c).unwrap();
    update(&mut m, Msg::Action(a));
    assert!(m.quit);
}

#[test]
fn selection_follows_the_id_when_an_update_reorders_jobs() {
    let mut m = testdata::model();
    ch(&mut m, '2');
    // Queue order: 4 (running), 5, 6 (queued), 1, 3 (final).
    ch(&mut m, 'j');
    ch(&mut m, 'j');
    assert_eq!(m.queue_job(), Some(6));
    let mut u = testdata::update(2);
    u.jobs.reverse();
    u.jobs.retain(|j| j.id != 5);
    update(&mut m, Msg::Daemon(DaemonEvent::Update(Box::new(u))));
    assert_eq!(m.queue_job(), Some(6));
    assert_eq!(m.ui.screen, Screen::Queue);
    ch(&mut m, 'k');
    assert_eq!(m.queue_job(), Some(4));
}

#[test]
fn engine_selection_survives_updates_and_fetches_the_new_log() {
    let mut m = testdata::model();
    ch(&mut m, '3');
    let mut u = testdata::update(2);
    u.engines.reverse();
    update(&mut m, Msg::Daemon(DaemonEvent::Update(Box::new(u))));
    assert_eq!(m.engine().unwrap().id, 7);
    // Reversed: 7, 6, 5; down selects 6.
    assert_eq!(ch(&mut m, 'j'), vec![Command::FetchLog(6)]);
    assert_eq!(m.ui.log_scroll, 0);
}

#[test]
fn cancel_key_cancels_the_selected_job() {
    let mut m = testdata::model();
    ch(&mut m, '2');
    ch(&mut m, 'j');
    // The first c asks; the second (within 3 s) cancels.
    assert_eq!(ch(&mut m, 'c'), vec![]);
    assert!(m.ui.status.as_ref().unwrap().text.contains("press c again"));
    assert_eq!(ch(&mut m, 'c'), vec![Command::Cancel(5)]);
    let r = Reply::Cancelled(5, Ok(JobState::Cancelled));
    update(&mut m, Msg::Reply(r));
    assert_eq!(m.ui.status.as_ref().unwrap().text, "job 5 is cancelled");
    // Not on other screens.
    ch(&mut m, '1');
    assert_eq!(ch(&mut m, 'c'), vec![]);
}

#[test]
fn move_keys_reorder_queued_jobs_only() {
    let mut m = testdata::model();
    ch(&mut m, '2');
    ch(&mut m, 'G');
    ch(&mut m, 'k');
    ch(&mut m, 'k');
    assert_eq!(m.queue_job(), Some(6));
    assert_eq!(
        ch(&mut m, 'K'),
        vec![Command::Reorder { id: 6, position: 0 }]
    );
    assert_eq!(ch(&mut m, 'J'), vec![]); // already last of the queued
    update(&mut m, Msg::Reply(Reply::Reordered(6, Ok(vec![6, 5]))));
    assert_eq!(m.queue_order, vec![6, 5]);
    assert_eq!(m.queue_job(), Some(6));
    assert_eq!(
        m.queue_jobs().iter().map(|j| j.id).collect::<Vec<_>>(),
        [4, 6, 5, 1, 3]
    );
    assert_eq!(
        ch(&mut m, 'J'),
        vec![Command::Reorder { id: 6, position: 1 }]
    );
    ch(&mut m, 'g');
    assert_eq!(ch(&mut m, 'K'), vec![]);
    assert!(m.ui.status.as_ref().unwrap().error);
}

#[test]
fn picking_two_jobs_fetches_both_and_compares_them() {
    let mut m = testdata::model();
    m.results.clear();
    m.refresh_comparison();
    m.ui.screen = Screen::Results;
    m.ui.results_sel = Some(4);
    assert_eq!(ch(&mut m, ' '), vec![Command::FetchResults(4)]);
    assert_eq!(ch(&mut m, 'j'), vec![]); // picks are compared, not the selection
    assert_eq!(m.results_job(), Some(3));
    assert_eq!(ch(&mut m, ' '), vec![Command::FetchResults(3)]);
    assert_eq!(ch(&mut m, ' '), vec![]); // unpicked
    assert_eq!(ch(&mut m, ' '), vec![]); // picked again, already on its way
    assert_eq!(m.ui.picks, vec![4, 3]);
    assert_eq!(m.comparison.jobs, vec![4, 3]);
    assert_eq!(m.comparison.loading, vec![4, 3]);
    let (_, rows) = fixtures::sweep();
    update(&mut m, Msg::Reply(Reply::Results(3, Ok(rows.clone()))));
    let mut two = rows[..2].to_vec();
    two[0].engine = "sglang".into();
    update(&mut m, Msg::Reply(Reply::Results(4, Ok(two))));
    assert_eq!(m.comparison.loading, Vec::<u64>::new());
    assert_eq!(m.comparison.rows.len(), 12);
    assert!(m.comparison.rows.iter().any(|r| r.series == "4/sglang"));
    // Unpicking both goes back to the selected job alone.
    ch(&mut m, 'x');
    assert_eq!(m.comparison.jobs, vec![3]);
    assert_eq!(m.comparison.rows.len(), 10);
}

#[test]
fn cached_points_are_refetched_when_the_job_moves_on_at_most_every_2s() {
    let mut m = testdata::model();
    m.ui.screen = Screen::Results;
    m.ui.results_sel = Some(4);
    m.results.insert(4, fixtures::sweep().1[..2].to_vec());
    m.refresh_comparison();
    assert_eq!(m.comparison.rows.len(), 2);
    let mut u = testdata::update(2);
    u.jobs[2].points_done = 3;
    let cmds = update(
        &mut m,
        Msg::Daemon(DaemonEvent::Update(Box::new(u.clone()))),
    );
    assert_eq!(cmds, vec![Command::FetchResults(4)]);
    // The old rows stay on screen until the new ones come.
    assert_eq!(m.comparison.rows.len(), 2);
    // The answer is already behind (a point finished meanwhile): no refetch until 2 s.
    update(
        &mut m,
        Msg::Reply(Reply::Results(4, Ok(fixtures::sweep().1[..3].to_vec()))),
    );
    assert_eq!(m.comparison.rows.len(), 3);
    u.jobs[2].points_done = 4;
    let cmds = update(&mut m, Msg::Daemon(DaemonEvent::Update(Box::new(u))));
    assert_eq!(cmds, vec![]);
    assert_eq!(
        update(&mut m, Msg::Tick(NOW + 2500)),
        vec![Command::FetchResults(4)]
    );
    // Job 3 is final and its count did not move: kept, never refetched.
    assert!(m.results.contains_key(&3));
}

#[test]
fn points_are_fetched_only_on_the_results_screen_and_the_cache_is_bounded() {
    let mut m = testdata::model();
    m.ui.screen = Screen::Live;
    m.ui.results_sel = Some(3);
    let mut u = testdata::update(2);
    u.jobs[2].points_done = 3;
    // Live fetches the running job's points (job 4, for its sweep), not the compared one's.
    assert_eq!(
        update(&mut m, Msg::Daemon(DaemonEvent::Update(Box::new(u)))),
        vec![Command::FetchResults(4)]
    );
    m.ui.screen = Screen::Queue;
    m.pending.clear();
    m.fetched_ms.clear();
    assert_eq!(update(&mut m, Msg::Tick(NOW + 60_000)), vec![]);
    for id in 100..140 {
        m.results.insert(id, Vec::new());
    }
    m.results.insert(3, Vec::new());
    update(&mut m, Msg::Reply(Reply::Results(4, Ok(Vec::new()))));
    assert!(m.results.len() <= crate::dash::model::RESULTS_CACHED);
    assert!(m.results.contains_key(&3), "the compared job stays");
    assert!(m.results.contains_key(&4), "the running job stays");
}

#[test]
fn disconnect_shows_reconnecting_and_a_reconnect_resumes() {
    let mut m = testdata::model();
    update(&mut m, Msg::Tick(NOW + 1000));
    let lost = DaemonEvent::Disconnected("connection reset".into());
    assert_eq!(update(&mut m, Msg::Daemon(lost)), vec![]);
    let since = NOW + 1000;
    assert_eq!(
        m.conn,
        ConnState::Reconnecting {
            since_ms: since,
            reason: "connection reset".into()
        }
    );
    update(&mut m, Msg::Tick(NOW + 5000));
    let again = DaemonEvent::Disconnected("no such file".into());
    update(&mut m, Msg::Daemon(again));
    assert!(matches!(m.conn, ConnState::Reconnecting { since_ms, .. } if since_ms == since));
    // The old figures stay while reconnecting.
    assert_eq!(m.latest.jobs.len(), 5);
    let cmds = update(
        &mut m,
        Msg::Daemon(DaemonEvent::Connected(testdata::hello())),
    );
    assert_eq!(m.conn, ConnState::Connected);
    // The jobs, and (on Live) the running job's points.
    assert_eq!(cmds, vec![Command::FetchJobs, Command::FetchResults(4)]);
    assert!(
        m.ui.status
            .as_ref()
            .unwrap()
            .text
            .starts_with("reconnected")
    );
    update(
        &mut m,
        Msg::Daemon(DaemonEvent::Update(Box::new(testdata::update(1)))),
    );
    assert_eq!(m.latest.seq, 1);
}

#[test]
fn submit_picker_submits_the_typed_path_or_the_selected_file() {
    let mut m = testdata::model();
    ch(&mut m, '2');
    ch(&mut m, 's');
    let files = vec!["sweeps/a.toml".to_string(), "sweeps/b.toml".to_string()];
    update(&mut m, Msg::Reply(Reply::Sweeps(files)));
    key(&mut m, KeyCode::Down);
    assert_eq!(
        key(&mut m, KeyCode::Enter),
        vec![Command::Submit("sweeps/b.toml".into())]
    );
    assert!(m.ui.picker.is_none());
    let err = "sweeps/b.toml: engine[0].kind: unknown kind `foo`".to_string();
    update(
        &mut m,
        Msg::Reply(Reply::Submitted("sweeps/b.toml".into(), Err(err.clone()))),
    );
    let st = m.ui.status.clone().unwrap();
    assert!(st.error && st.text == err);

    ch(&mut m, 's');
    for c in "/tmp/x.tomll".chars() {
        ch(&mut m, c);
    }
    key(&mut m, KeyCode::Backspace);
    assert_eq!(
        key(&mut m, KeyCode::Enter),
        vec![Command::Submit("/tmp/x.toml".into())]
    );
    update(
        &mut m,
        Msg::Reply(Reply::Submitted("/tmp/x.toml".into(), Ok(9))),
    );
    assert_eq!(m.ui.queue_sel, Some(9));
    ch(&mut m, 's');
    key(&mut m, KeyCode::Esc);
    assert!(m.ui.picker.is_none());
}

#[test]
fn the_log_is_fetched_every_two_seconds_on_the_engines_screen_only() {
    let mut m = testdata::model();
    // Live: the running job's points, no log.
    assert_eq!(
        update(&mut m, Msg::Tick(NOW + 5000)),
        vec![Command::FetchResults(4)]
    );
    ch(&mut m, '3');
    assert_eq!(update(&mut m, Msg::Tick(NOW + 6000)), vec![]);
    assert_eq!(
        update(&mut m, Msg::Tick(NOW + 7000)),
        vec![Command::FetchLog(7)]
    );
    key(&mut m, KeyCode::PageUp);
    assert_eq!(m.ui.log_scroll, 10);
    ch(&mut m, 'f');
    assert_eq!(m.ui.log_scroll, 0);
}

#[test]
fn the_status_message_carries_the_tick_time() {
    let mut m = testdata::model();
    update(&mut m, Msg::Tick(NOW + 1234));
    update(&mut m, Msg::Reply(Reply::Jobs(Err("jobs: boom".into()))));
    assert_eq!(m.ui.status.as_ref().unwrap().at_ms, NOW + 1234);
}

#[test]
fn sweep_files_are_listed_sorted() {
    let dir = std::env::temp_dir().join(format!("llms-sweeps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["b.toml", "a.toml", "notes.md"] {
        std::fs::write(dir.join(f), "").unwrap();
    }
    let got = crate::dash::command::list_sweeps(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let names: Vec<String> = got
        .iter()
        .map(|p| p.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(names, ["a.toml", "b.toml"]);
}

#[test]
fn the_queue_follows_the_daemons_order() {
    let mut m = testdata::model();
    // Another client moved job 6 ahead of 5: the next update carries the daemon's order.
    let mut u = testdata::update(2);
    for j in &mut u.jobs {
        j.order = match j.id {
            5 => 20,
            6 => 10,
            _ => j.order,
        };
    }
    update(&mut m, Msg::Daemon(DaemonEvent::Update(Box::new(u))));
    let ids: Vec<u64> = m.queue_jobs().iter().map(|j| j.id).collect();
    let (p5, p6) = (
        ids.iter().position(|&i| i == 5).unwrap(),
        ids.iter().position(|&i| i == 6).unwrap(),
    );
    assert!(p6 < p5, "{ids:?}");
}

#[test]
fn w_writes_the_report_of_the_compared_jobs() {
    let mut m = testdata::model();
    ch(&mut m, '4');
    let compared = m.compared();
    assert!(!compared.is_empty());
    assert_eq!(ch(&mut m, 'w'), vec![Command::WriteReport(compared)]);
    let r = Reply::Report(Ok(("llms-report-3".into(), 17)));
    update(&mut m, Msg::Reply(r));
    assert_eq!(
        m.ui.status.as_ref().unwrap().text,
        "report written: llms-report-3/ (17 files)"
    );
    // Not a key elsewhere.
    ch(&mut m, '1');
    assert_eq!(ch(&mut m, 'w'), vec![]);
}
