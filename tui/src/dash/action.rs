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
    /// Picker: submit the selected file, else the typed path; filter: keep it.
    Confirm,
    /// Picker: close without submitting; filter: clear it.
    Close,
    /// Picker or filter: delete the last typed character.
    Backspace,
    /// Picker or filter: a typed character.
    Input(char),
    /// Drill down: a job's points, a point's figures.
    Open,
    /// Back out of a drill-down, or clear the filter.
    Back,
    /// The Engines screen on the engine of the selected job or point.
    JumpLog,
    /// Type a filter for the list shown.
    StartFilter,
    /// Engines: hide or show stopped engines.
    ToggleStopped,
}
