#![allow(clippy::unwrap_used)]
use super::*;
use crate::dash::model::Picker;
use crate::dash::ui::{help, theme::Theme};

fn ui_on(s: Screen) -> UiState {
    let mut ui = UiState::new(true);
    ui.screen = s;
    ui
}

#[test]
fn no_key_is_bound_twice_in_any_context() {
    let mut uis: Vec<UiState> = Screen::ALL.iter().map(|s| ui_on(*s)).collect();
    let mut picker = ui_on(Screen::Queue);
    picker.picker = Some(Picker::default());
    uis.push(picker);
    for ui in uis {
        let keys: Vec<Key> = active(&ui).flat_map(|b| b.keys.iter().copied()).collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(
                !keys[i + 1..].contains(k),
                "{} bound twice on {:?} (picker {})",
                k.label(),
                ui.screen,
                ui.picker.is_some()
            );
        }
    }
}

#[test]
fn help_lists_every_binding() {
    let text: Vec<String> = help::lines(Theme::new(true))
        .iter()
        .map(|l| l.to_string())
        .collect();
    for b in BINDINGS {
        let want = format!("{:<14}{}", keys_label(b), b.desc);
        assert!(
            text.iter().any(|l| l.trim() == want.trim()),
            "help lacks {want:?}"
        );
    }
    assert_eq!(help::line_count(), text.len());
}

#[test]
fn keys_map_by_context() {
    let ev = |c: char| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    let shift = |c: char| KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT);
    let q = ui_on(Screen::Queue);
    assert_eq!(action(&q, ev('q')), Some(Action::Quit));
    assert_eq!(action(&q, ev('c')), Some(Action::Cancel));
    assert_eq!(action(&q, shift('K')), Some(Action::MoveUp));
    assert_eq!(action(&q, ev(' ')), None);
    let live = ui_on(Screen::Live);
    assert_eq!(action(&live, ev('c')), None);
    assert_eq!(action(&live, ev('?')), Some(Action::ToggleHelp));
    let tab = KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(action(&live, tab), Some(Action::NextScreen));
    let back = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(action(&live, back), Some(Action::PrevScreen));
    let r = ui_on(Screen::Results);
    assert_eq!(action(&r, ev(' ')), Some(Action::TogglePick));
    let mut p = ui_on(Screen::Queue);
    p.picker = Some(Picker::default());
    assert_eq!(action(&p, ev('q')), Some(Action::Input('q')));
    assert_eq!(action(&p, shift('K')), Some(Action::Input('K')));
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(action(&p, ctrl_c), Some(Action::Quit));
    assert_eq!(action(&live, ctrl_c), Some(Action::Quit));
}

#[test]
fn hints_come_from_the_table() {
    let h = hints(&ui_on(Screen::Queue));
    assert!(h.contains(&("s".to_string(), "submit a sweep file")));
    assert!(h.contains(&("q".to_string(), "quit")));
}
