//! [`Action`]: every state transition a key can ask for. Keys map to actions in
//! [`keymap`](super::keymap); [`update`](super::update) applies them.

use super::model::ui_state::Screen;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave the dashboard (exit code 0).
    Quit,
    /// Open the help screen, or go back from it.
    ToggleHelp,
    /// The next screen.
    NextScreen,
    /// The previous screen.
    PrevScreen,
    /// A screen by number.
    Goto(Screen),
    /// Selection up one row.
    Up,
    /// Selection down one row.
    Down,
    /// Selection to the first row.
    Top,
    /// Selection to the last row.
    Bottom,
    /// Scroll the screen's second pane (log, comparison) up a page.
    PageUp,
    /// Scroll the screen's second pane down a page.
    PageDown,
    /// Open the sweep-file picker.
    OpenSubmit,
    /// Cancel the selected job.
    Cancel,
    /// Move the selected queued job one place earlier.
    MoveUp,
    /// Move the selected queued job one place later.
    MoveDown,
    /// Follow the end of the engine log again.
    FollowLog,
    /// Fetch the screen's data again.
    Refresh,
    /// Pick or unpick the selected job for comparison.
    TogglePick,
    /// Unpick every job.
    ClearPicks,
    /// Chart the next metric.
    NextMetric,
    /// Table or bar chart, where only one fits.
    ToggleView,
    /// Write the report (charts + Markdown) of the compared jobs.
    WriteReport,
    /// Picker: submit the typed path, else the selected file.
    Confirm,
    /// Picker: close without submitting.
    Close,
    /// Picker: delete the last typed character.
    Backspace,
    /// Picker: a typed character.
    Input(char),
}
