//! [`BINDINGS`]: every key of the dashboard, by context, with what it does.

use super::{Binding, Ctx, Key};
use crate::dash::action::Action;
use crate::dash::model::ui_state::Screen;
use crossterm::event::KeyCode;

const fn k(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}

const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

const fn b(ctx: Ctx, keys: &'static [Key], action: Action, desc: &'static str) -> Binding {
    Binding {
        ctx,
        keys,
        action,
        desc,
        hint: false,
    }
}

const fn h(ctx: Ctx, keys: &'static [Key], action: Action, desc: &'static str) -> Binding {
    Binding {
        ctx,
        keys,
        action,
        desc,
        hint: true,
    }
}

use Ctx::{Filter, Global, Picker, Point, Points};
const LIVE: Ctx = Ctx::Screen(Screen::Live);
const QUEUE: Ctx = Ctx::Screen(Screen::Queue);
const ENGINES: Ctx = Ctx::Screen(Screen::Engines);
const RESULTS: Ctx = Ctx::Screen(Screen::Results);

/// Every binding.
pub const BINDINGS: &[Binding] = &[
    h(Global, &[k('q'), ctrl('c')], Action::Quit, "quit"),
    h(Global, &[k('?')], Action::ToggleHelp, "help / back"),
    h(
        Global,
        &[code(KeyCode::Tab)],
        Action::NextScreen,
        "next screen",
    ),
    b(
        Global,
        &[code(KeyCode::BackTab)],
        Action::PrevScreen,
        "previous screen",
    ),
    b(Global, &[k('1')], Action::Goto(Screen::Live), "Live screen"),
    b(
        Global,
        &[k('2')],
        Action::Goto(Screen::Queue),
        "Queue screen",
    ),
    b(
        Global,
        &[k('3')],
        Action::Goto(Screen::Engines),
        "Engines screen",
    ),
    b(
        Global,
        &[k('4')],
        Action::Goto(Screen::Results),
        "Results screen",
    ),
    b(Global, &[k('5')], Action::Goto(Screen::Help), "Help screen"),
    b(
        Global,
        &[code(KeyCode::Up), k('k')],
        Action::Up,
        "select up / scroll up",
    ),
    b(
        Global,
        &[code(KeyCode::Down), k('j')],
        Action::Down,
        "select down / scroll down",
    ),
    b(
        Global,
        &[code(KeyCode::Home), k('g')],
        Action::Top,
        "select the first",
    ),
    b(
        Global,
        &[code(KeyCode::End), k('G')],
        Action::Bottom,
        "select the last",
    ),
    h(
        LIVE,
        &[code(KeyCode::Enter)],
        Action::Open,
        "the running job's points",
    ),
    h(LIVE, &[k('l')], Action::JumpLog, "the engine's log"),
    h(QUEUE, &[k('s')], Action::OpenSubmit, "submit a sweep file"),
    h(
        QUEUE,
        &[k('c')],
        Action::Cancel,
        "cancel the job (press twice)",
    ),
    h(
        QUEUE,
        &[code(KeyCode::Enter)],
        Action::Open,
        "the job's points",
    ),
    h(QUEUE, &[k('l')], Action::JumpLog, "the job's engine log"),
    h(QUEUE, &[k('/')], Action::StartFilter, "filter"),
    b(
        QUEUE,
        &[code(KeyCode::Esc)],
        Action::Back,
        "clear the filter",
    ),
    h(QUEUE, &[k('K')], Action::MoveUp, "move queued job up"),
    h(QUEUE, &[k('J')], Action::MoveDown, "move queued job down"),
    h(
        ENGINES,
        &[code(KeyCode::PageUp)],
        Action::PageUp,
        "log back",
    ),
    h(
        ENGINES,
        &[code(KeyCode::PageDown)],
        Action::PageDown,
        "log forward",
    ),
    h(ENGINES, &[k('f')], Action::FollowLog, "follow the log"),
    h(ENGINES, &[k('/')], Action::StartFilter, "filter"),
    h(
        ENGINES,
        &[k('a')],
        Action::ToggleStopped,
        "hide / show stopped engines",
    ),
    b(
        ENGINES,
        &[code(KeyCode::Esc)],
        Action::Back,
        "clear the filter",
    ),
    b(ENGINES, &[k('r')], Action::Refresh, "fetch the log now"),
    h(
        RESULTS,
        &[code(KeyCode::Enter)],
        Action::Open,
        "the job's points",
    ),
    h(RESULTS, &[k('l')], Action::JumpLog, "the job's engine log"),
    h(RESULTS, &[k('/')], Action::StartFilter, "filter"),
    b(
        RESULTS,
        &[code(KeyCode::Esc)],
        Action::Back,
        "clear the filter",
    ),
    h(RESULTS, &[k(' ')], Action::TogglePick, "pick to compare"),
    h(RESULTS, &[k('x')], Action::ClearPicks, "clear picks"),
    h(
        RESULTS,
        &[k('w')],
        Action::WriteReport,
        "write the report (./llms-report-JOBS/)",
    ),
    h(RESULTS, &[k('m')], Action::NextMetric, "next metric"),
    h(RESULTS, &[k('v')], Action::ToggleView, "table / bars"),
    b(
        RESULTS,
        &[code(KeyCode::PageUp)],
        Action::PageUp,
        "scroll the comparison up",
    ),
    b(
        RESULTS,
        &[code(KeyCode::PageDown)],
        Action::PageDown,
        "scroll the comparison down",
    ),
    b(
        RESULTS,
        &[k('r')],
        Action::Refresh,
        "fetch the job list and points again",
    ),
    h(
        Picker,
        &[code(KeyCode::Enter)],
        Action::Confirm,
        "submit the selected file, else the typed path",
    ),
    h(Picker, &[code(KeyCode::Esc)], Action::Close, "close"),
    h(Picker, &[code(KeyCode::Up)], Action::Up, "previous match"),
    h(Picker, &[code(KeyCode::Down)], Action::Down, "next match"),
    b(
        Picker,
        &[code(KeyCode::Backspace)],
        Action::Backspace,
        "delete a character",
    ),
    b(Picker, &[ctrl('c')], Action::Quit, "quit"),
    h(
        Points,
        &[code(KeyCode::Enter)],
        Action::Open,
        "the point: figures, flags, failure, log",
    ),
    h(Points, &[code(KeyCode::Esc)], Action::Back, "back"),
    h(Points, &[k('l')], Action::JumpLog, "its engine's log"),
    h(Points, &[k('/')], Action::StartFilter, "filter"),
    h(Point, &[code(KeyCode::Esc)], Action::Back, "back"),
    h(Point, &[k('l')], Action::JumpLog, "its engine's log"),
    h(Point, &[code(KeyCode::PageUp)], Action::PageUp, "page up"),
    h(
        Point,
        &[code(KeyCode::PageDown)],
        Action::PageDown,
        "page down",
    ),
    h(
        Filter,
        &[code(KeyCode::Enter)],
        Action::Confirm,
        "keep the filter",
    ),
    h(
        Filter,
        &[code(KeyCode::Esc)],
        Action::Close,
        "clear the filter",
    ),
    b(
        Filter,
        &[code(KeyCode::Backspace)],
        Action::Backspace,
        "delete a character",
    ),
    b(Filter, &[ctrl('c')], Action::Quit, "quit"),
];
