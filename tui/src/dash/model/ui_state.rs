//! UI-only state: the screen, selections (by id, so a new snapshot never moves them), the
//! picker, scroll positions and the status line. Nothing here comes from the daemon.

use crate::compare::Metric;

/// The screens, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Screen {
    /// GPUs and the running point.
    Live,
    /// Jobs: submit, cancel, reorder.
    Queue,
    /// Engines and their logs.
    Engines,
    /// History and comparison.
    Results,
    /// The key map.
    Help,
}

impl Screen {
    /// Every screen, in Tab order.
    pub const ALL: [Screen; 5] = [
        Screen::Live,
        Screen::Queue,
        Screen::Engines,
        Screen::Results,
        Screen::Help,
    ];

    /// Title in the tab bar.
    pub fn title(self) -> &'static str {
        match self {
            Screen::Live => "Live",
            Screen::Queue => "Queue",
            Screen::Engines => "Engines",
            Screen::Results => "Results",
            Screen::Help => "Help",
        }
    }

    fn pos(self) -> usize {
        Screen::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// The next screen, wrapping.
    pub fn next(self) -> Screen {
        Screen::ALL[(self.pos() + 1) % Screen::ALL.len()]
    }

    /// The previous screen, wrapping.
    pub fn prev(self) -> Screen {
        Screen::ALL[(self.pos() + Screen::ALL.len() - 1) % Screen::ALL.len()]
    }
}

/// The sweep-file picker of the Queue screen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Picker {
    /// `*.toml` files found in `./sweeps/`.
    pub files: Vec<String>,
    /// Selected file (index into `files`).
    pub selected: usize,
    /// A path being typed; when not empty, it is what Enter submits.
    pub input: String,
}

impl Picker {
    /// The path Enter would submit.
    pub fn choice(&self) -> Option<String> {
        if !self.input.trim().is_empty() {
            return Some(self.input.trim().to_owned());
        }
        self.files.get(self.selected).cloned()
    }
}

/// Results: both panes, or only one where the terminal is narrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultsView {
    /// The comparison table.
    Table,
    /// The bar chart of one metric.
    Bars,
}

/// A message for the status line.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// One line.
    pub text: String,
    /// Shown as an error.
    pub error: bool,
    /// When it was set (the model's clock), unix ms.
    pub at_ms: u64,
}

/// Everything the user controls.
#[derive(Debug, Clone, PartialEq)]
pub struct UiState {
    /// The screen shown.
    pub screen: Screen,
    /// Where `?` returns to.
    pub before_help: Screen,
    /// Selected job on the Queue screen.
    pub queue_sel: Option<u64>,
    /// A cancel asked for once (job, when, ms): a second `c` within 3 s confirms it.
    pub cancel_armed: Option<(u64, u64)>,
    /// Selected engine.
    pub engine_sel: Option<u64>,
    /// Selected job on the Results screen.
    pub results_sel: Option<u64>,
    /// Jobs picked for comparison, in picking order.
    pub picks: Vec<u64>,
    /// Lines scrolled back from the end of the engine log (0 follows the tail).
    pub log_scroll: usize,
    /// First comparison row shown.
    pub cmp_scroll: usize,
    /// Lines scrolled down the help screen.
    pub help_scroll: usize,
    /// The charted metric.
    pub metric: Metric,
    /// Results pane shown on narrow terminals.
    pub results_view: ResultsView,
    /// The submit picker, when open.
    pub picker: Option<Picker>,
    /// The status line.
    pub status: Option<Status>,
    /// `NO_COLOR` was set.
    pub no_color: bool,
    /// When the engine log was last asked for (model clock), unix ms.
    pub log_asked_ms: u64,
}

impl UiState {
    /// The state a session starts in.
    pub fn new(no_color: bool) -> Self {
        UiState {
            screen: Screen::Live,
            before_help: Screen::Live,
            queue_sel: None,
            cancel_armed: None,
            engine_sel: None,
            results_sel: None,
            picks: Vec::new(),
            log_scroll: 0,
            cmp_scroll: 0,
            help_scroll: 0,
            metric: Metric::Throughput,
            results_view: ResultsView::Table,
            picker: None,
            status: None,
            no_color,
            log_asked_ms: 0,
        }
    }
}
