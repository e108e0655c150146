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
    /// A job's points (drill-down).
    Points,
    /// One point's figures and log (drill-down).
    Point,
    /// Typing a `/` filter (other printable keys type into it).
    Filter,
}

impl Ctx {
    /// Heading on the help screen.
    pub fn title(self) -> &'static str {
        match self {
            Ctx::Global => "Everywhere",
            Ctx::Screen(s) => s.title(),
            Ctx::Picker => "Submit picker (other keys filter the files, or type a path)",
            Ctx::Points => "A job's points (Enter on a job)",
            Ctx::Point => "A point (Enter on a point)",
            Ctx::Filter => "Typing a / filter (other keys type)",
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

mod bindings;
pub use bindings::BINDINGS;

/// The contexts active in `ui`, most specific first.
pub fn contexts(ui: &UiState) -> Vec<Ctx> {
    use super::model::Drill;
    if ui.picker.is_some() {
        vec![Ctx::Picker]
    } else if ui.filter.as_ref().is_some_and(|f| f.editing) {
        vec![Ctx::Filter]
    } else {
        match ui.drill.last() {
            Some(Drill::Points { .. }) => vec![Ctx::Points, Ctx::Global],
            Some(Drill::Point { .. }) => vec![Ctx::Point, Ctx::Global],
            None => vec![Ctx::Screen(ui.screen), Ctx::Global],
        }
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
    let typing = ui.picker.is_some() || ui.filter.as_ref().is_some_and(|f| f.editing);
    match key.code {
        KeyCode::Char(c) if typing && !key.ctrl => Some(Action::Input(c)),
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
