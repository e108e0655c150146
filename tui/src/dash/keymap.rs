//! The key map: one table of (context, keys) -> [`Action`] with a description. Key handling,
//! the help screen and the footer hints all read [`BINDINGS`], so help cannot disagree with
//! the keys.

use super::action::Action;
use super::model::ui_state::{Screen, UiState};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    /// Every screen (unless the picker is open).
    Global,
    /// One screen.
    Screen(Screen),
    /// The submit picker (other printable keys type into its path).
    Picker,
}

impl Ctx {
    /// Heading on the help screen.
    pub fn title(self) -> &'static str {
        match self {
            Ctx::Global => "Everywhere",
            Ctx::Screen(s) => s.title(),
            Ctx::Picker => "Submit picker (other keys type a path)",
        }
    }
}

/// A key: its code and whether Ctrl is held (Shift is part of the character).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Ctrl held.
    pub ctrl: bool,
}

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

impl Key {
    /// From a terminal key event.
    pub fn from_event(e: KeyEvent) -> Key {
        let code = match e.code {
            KeyCode::Char(c) if e.modifiers.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            c => c,
        };
        Key {
            code,
            ctrl: e.modifiers.contains(KeyModifiers::CONTROL),
        }
    }

    /// As the help screen writes it.
    pub fn label(self) -> String {
        let name = match self.code {
            KeyCode::Char(' ') => "Space".into(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Backspace => "Backspace".into(),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{name}")
        } else {
            name
        }
    }
}

/// One row of the key map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// Where it applies.
    pub ctx: Ctx,
    /// The keys (any of them).
    pub keys: &'static [Key],
    /// What they do.
    pub action: Action,
    /// For help and hints.
    pub desc: &'static str,
    /// Shown in the footer hints.
    pub hint: bool,
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

use Ctx::{Global, Picker};
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
    h(QUEUE, &[k('s')], Action::OpenSubmit, "submit a sweep file"),
    h(
        QUEUE,
        &[k('c')],
        Action::Cancel,
        "cancel the job (press twice)",
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
    b(ENGINES, &[k('r')], Action::Refresh, "fetch the log now"),
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
        "submit the typed path, else the selected file",
    ),
    h(Picker, &[code(KeyCode::Esc)], Action::Close, "close"),
    h(Picker, &[code(KeyCode::Up)], Action::Up, "previous file"),
    h(Picker, &[code(KeyCode::Down)], Action::Down, "next file"),
    b(
        Picker,
        &[code(KeyCode::Backspace)],
        Action::Backspace,
        "delete a character",
    ),
    b(Picker, &[ctrl('c')], Action::Quit, "quit"),
];

/// The contexts active in `ui`, most specific first.
pub fn contexts(ui: &UiState) -> Vec<Ctx> {
    if ui.picker.is_some() {
        vec![Ctx::Picker]
    } else {
        vec![Ctx::Screen(ui.screen), Ctx::Global]
    }
}

/// The bindings active in `ui`, most specific first.
pub fn active(ui: &UiState) -> impl Iterator<Item = &'static Binding> {
    let ctxs = contexts(ui);
    ctxs.into_iter()
        .flat_map(|c| BINDINGS.iter().filter(move |b| b.ctx == c))
}

/// The action of a key in `ui`'s context, if any. In the picker, printable keys without a
/// binding type into the path.
pub fn action(ui: &UiState, e: KeyEvent) -> Option<Action> {
    let key = Key::from_event(e);
    if let Some(b) = active(ui).find(|b| b.keys.contains(&key)) {
        return Some(b.action);
    }
    match key.code {
        KeyCode::Char(c) if ui.picker.is_some() && !key.ctrl => Some(Action::Input(c)),
        _ => None,
    }
}

/// `key: description` hints for the footer.
pub fn hints(ui: &UiState) -> Vec<(String, &'static str)> {
    active(ui)
        .filter(|b| b.hint)
        .map(|b| (b.keys[0].label(), b.desc))
        .collect()
}

/// The keys of a binding as help writes them (`↑ k`).
pub fn keys_label(b: &Binding) -> String {
    b.keys
        .iter()
        .map(|k| k.label())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
#[path = "keymap_tests.rs"]
mod tests;
