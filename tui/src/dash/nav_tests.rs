#![allow(clippy::unwrap_used)]
use super::*;
use crate::dash::command::Reply;
use crate::dash::event::Msg;
use crate::dash::keymap;
use crate::dash::model::ListId;
use crate::dash::testdata;
use crate::dash::update::update;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn key(m: &mut Model, code: KeyCode) -> Vec<Command> {
    match keymap::action(&m.ui, KeyEvent::new(code, KeyModifiers::NONE)) {
        Some(a) => update(m, Msg::Action(a)),
        None => Vec::new(),
    }
}

fn ch(m: &mut Model, c: char) -> Vec<Command> {
    key(m, KeyCode::Char(c))
}

/// Results with job 3 selected: Enter lists its points (fetching its plan and points),
/// Enter again opens the failed one (fetching its engine's log), Esc goes back each time.
#[test]
fn enter_drills_down_and_esc_comes_back() {
    let mut m = testdata::model();
    ch(&mut m, '4');
    let cmds = key(&mut m, KeyCode::Enter);
    assert_eq!(cmds, [Command::FetchJob(3), Command::FetchResults(3)]);
    assert_eq!(m.ui.drill, [Drill::Points { job: 3 }]);
    update(
        &mut m,
        Msg::Reply(Reply::Results(3, Ok(crate::fixtures::sweep().1))),
    );
    // The failed point is selected first.
    assert_eq!(m.point_selected(3), Some(9));
    let cmds = key(&mut m, KeyCode::Enter);
    assert_eq!(m.ui.drill.last(), Some(&Drill::Point { job: 3, index: 9 }));
    assert_eq!(
        cmds,
        [Command::FetchLog(6)],
        "llamacpp of job 3 is engine 6"
    );
    key(&mut m, KeyCode::Esc);
    assert_eq!(m.ui.drill, [Drill::Points { job: 3 }]);
    key(&mut m, KeyCode::Up);
    assert_eq!(m.point_selected(3), Some(8));
    key(&mut m, KeyCode::Esc);
    assert!(m.ui.drill.is_empty());
    assert_eq!(m.ui.screen, Screen::Results);
    // Another screen closes the drill-down.
    key(&mut m, KeyCode::Enter);
    ch(&mut m, '2');
    assert!(m.ui.drill.is_empty());
}

/// `l` on a point opens its engine's log on the Engines screen; on Queue, the job's.
#[test]
fn l_jumps_to_the_engines_log() {
    let mut m = testdata::model();
    m.ui.drill = vec![Drill::Points { job: 3 }, Drill::Point { job: 3, index: 9 }];
    m.ui.hide_stopped = true;
    let cmds = ch(&mut m, 'l');
    assert_eq!(m.ui.screen, Screen::Engines);
    assert!(m.ui.drill.is_empty());
    assert_eq!(m.engine().map(|e| e.id), Some(6));
    assert!(!m.ui.hide_stopped, "the engine it jumps to is listed");
    assert_eq!(cmds, [Command::FetchLog(6)]);
    ch(&mut m, '2');
    m.ui.queue_sel = Some(4);
    ch(&mut m, 'l');
    assert_eq!(m.engine().map(|e| e.id), Some(7));
    // A job with no engine known says so and stays.
    ch(&mut m, '2');
    m.ui.queue_sel = Some(5);
    assert!(ch(&mut m, 'l').is_empty());
    assert_eq!(m.ui.screen, Screen::Queue);
    assert!(m.ui.status.as_ref().unwrap().error);
}

/// `/` types a filter into the list shown: Enter keeps it, Esc clears it; keys type
/// rather than act while it is typed.
#[test]
fn slash_filters_the_list_shown() {
    let mut m = testdata::model();
    ch(&mut m, '2');
    ch(&mut m, '/');
    for c in "LLAMA".chars() {
        ch(&mut m, c);
    }
    assert!(!m.quit);
    let ids: Vec<u64> = m.queue_jobs().iter().map(|j| j.id).collect();
    assert_eq!(ids, [5]);
    key(&mut m, KeyCode::Enter);
    assert!(!m.ui.filter.as_ref().unwrap().editing);
    assert_eq!(m.queue_job(), Some(5));
    // The filter is Queue's: Results lists every job.
    ch(&mut m, '4');
    assert_eq!(m.history().count(), 5);
    ch(&mut m, '2');
    key(&mut m, KeyCode::Esc);
    assert_eq!(m.queue_jobs().len(), 5);
    // Backspace, and Esc while typing clears.
    ch(&mut m, '/');
    ch(&mut m, 'x');
    key(&mut m, KeyCode::Backspace);
    assert_eq!(m.ui.filter_on(ListId::Queue), None);
    ch(&mut m, 'q');
    assert_eq!(m.ui.filter_on(ListId::Queue), Some("q"));
    key(&mut m, KeyCode::Esc);
    assert_eq!(m.ui.filter, None);
}

/// `a` hides stopped engines and shows them again; the selection follows what is listed.
#[test]
fn a_hides_stopped_engines() {
    let mut m = testdata::model();
    ch(&mut m, '3');
    let ids = |m: &Model| m.engines_shown().iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(&m), [5, 6, 7]);
    ch(&mut m, 'a');
    assert_eq!(ids(&m), [6, 7]);
    ch(&mut m, 'a');
    assert_eq!(ids(&m), [5, 6, 7]);
}

/// While no point runs and job 4's engine starts, Live fetches that engine's log as time
/// passes, and Engines selects it until the user picks another.
#[test]
fn live_and_engines_follow_an_engine_start() {
    let mut m = testdata::model_engine_starting();
    let t0 = testdata::NOW;
    assert_eq!(
        update(&mut m, Msg::Tick(t0 + 5_000)),
        [Command::FetchLog(8)]
    );
    assert!(
        update(&mut m, Msg::Tick(t0 + 5_100)).is_empty(),
        "throttled"
    );
    assert_eq!(m.engine().map(|e| e.id), Some(8));
    ch(&mut m, '3');
    key(&mut m, KeyCode::Up);
    assert_eq!(m.engine().map(|e| e.id), Some(7));
    // Once a point runs, Live asks for no log (only the running job's points).
    let mut m = testdata::model();
    assert_eq!(
        update(&mut m, Msg::Tick(t0 + 5_000)),
        [Command::FetchResults(4)]
    );
}

/// Help scrolls until its last line shows, and no further: one Up after many Downs moves
/// the text at once.
#[test]
fn help_scrolling_stops_at_the_end() {
    let mut m = testdata::model();
    update(&mut m, Msg::Resize(80, 24));
    ch(&mut m, '5');
    for _ in 0..200 {
        key(&mut m, KeyCode::Down);
    }
    let max = crate::dash::ui::help::max_scroll((80, 24), false);
    assert!(max > 0);
    assert_eq!(m.ui.help_scroll, max);
    key(&mut m, KeyCode::Up);
    assert_eq!(m.ui.help_scroll, max - 1);
    // A taller terminal shows more, so scrolls less.
    update(&mut m, Msg::Resize(80, 60));
    key(&mut m, KeyCode::End);
    assert_eq!(
        m.ui.help_scroll,
        crate::dash::ui::help::max_scroll((80, 60), false)
    );
}

/// Typing in the picker filters its files; Enter submits the selected match, else what
/// was typed.
#[test]
fn the_picker_filters_as_you_type() {
    let mut m = testdata::model();
    ch(&mut m, '2');
    ch(&mut m, 's');
    let files = [
        "sweeps/demo.toml",
        "sweeps/engines.toml",
        "sweeps/capacity.toml",
    ];
    update(
        &mut m,
        Msg::Reply(Reply::Sweeps(files.map(String::from).into())),
    );
    for c in "ENG".chars() {
        ch(&mut m, c);
    }
    let p = m.ui.picker.as_ref().unwrap();
    assert_eq!(p.shown(), ["sweeps/engines.toml"]);
    assert_eq!(p.choice().as_deref(), Some("sweeps/engines.toml"));
    key(&mut m, KeyCode::Backspace);
    key(&mut m, KeyCode::Backspace);
    key(&mut m, KeyCode::Backspace);
    // Nothing typed: every file, and the selection moves among them.
    key(&mut m, KeyCode::Down);
    let p = m.ui.picker.as_ref().unwrap();
    assert_eq!(p.shown().len(), 3);
    assert_eq!(p.choice().as_deref(), Some("sweeps/engines.toml"));
    for c in "/tmp/my.toml".chars() {
        ch(&mut m, c);
    }
    assert!(m.ui.picker.as_ref().unwrap().shown().is_empty());
    assert_eq!(
        key(&mut m, KeyCode::Enter),
        [Command::Submit("/tmp/my.toml".into())]
    );
}

/// A status message goes when its time is up (the cancel question after 3 s, when a second
/// c no longer cancels), not at the next message.
#[test]
fn a_stale_status_message_expires() {
    let mut m = testdata::model();
    ch(&mut m, '2');
    ch(&mut m, 'c');
    assert!(m.ui.status.is_some());
    update(&mut m, Msg::Tick(testdata::NOW + 2_000));
    assert!(m.ui.status.is_some());
    update(&mut m, Msg::Tick(testdata::NOW + 3_100));
    assert_eq!(m.ui.status, None);
    crate::dash::update::status(&mut m, "report written", false);
    update(
        &mut m,
        Msg::Tick(testdata::NOW + 3_100 + crate::dash::ui::STATUS_MS + 1),
    );
    assert_eq!(m.ui.status, None);
}
