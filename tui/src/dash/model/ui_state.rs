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

/// The sweep-file picker of the Queue screen: what is typed filters the files found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Picker {
    /// `*.toml` files found in `./sweeps/`.
    pub files: Vec<String>,
    /// Selected file (index into [`Picker::shown`]).
    pub selected: usize,
    /// What is typed: it filters the files (any case); a path that matches none is what
    /// Enter submits.
    pub input: String,
}

impl Picker {
    /// The files that hold what is typed.
    pub fn shown(&self) -> Vec<&String> {
        let want = self.input.trim().to_lowercase();
        self.files
            .iter()
            .filter(|f| f.to_lowercase().contains(&want))
            .collect()
    }

    /// The path Enter would submit: the selected file that matches, else the typed path.
    pub fn choice(&self) -> Option<String> {
        if let Some(f) = self.shown().get(self.selected) {
            return Some((*f).clone());
        }
        let typed = self.input.trim();
        (!typed.is_empty()).then(|| typed.to_owned())
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

/// A drill-down view drawn over the screen, k9s style: Enter opens one, Esc goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drill {
    /// A job's points: planned, running, done and failed.
    Points {
        /// Job id.
        job: u64,
    },
    /// One point: its figures, flags, failure and engine log lines.
    Point {
        /// Job id.
        job: u64,
        /// Point index within the job.
        index: u32,
    },
}

/// The lists `/` filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListId {
    /// Queue's jobs.
    Queue,
    /// Engines' engines.
    Engines,
    /// Results' job history.
    Results,
    /// A job's points (drill-down).
    Points,
}

/// A filter on one list: rows that hold `text` (any case) stay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The list it filters.
    pub list: ListId,
    /// What rows must hold.
    pub text: String,
    /// Still being typed (keys type into it).
    pub editing: bool,
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
    /// How long it stays, ms.
    pub ttl_ms: u64,
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
    /// Drill-down views open over the screen, innermost last.
    pub drill: Vec<Drill>,
    /// Selected point in a job's points (drill-down).
    pub point_sel: Option<u32>,
    /// Lines scrolled down a point's view.
    pub point_scroll: usize,
    /// The `/` filter, on the list it was typed for.
    pub filter: Option<Filter>,
    /// Engines hides stopped engines.
    pub hide_stopped: bool,
    /// The terminal's size (columns, rows), as last drawn or resized.
    pub size: (u16, u16),
}

impl UiState {
    /// The list shown now, the one `/` filters (none on a point's view, Live and Help).
    pub fn list(&self) -> Option<ListId> {
        match self.drill.last() {
            Some(Drill::Points { .. }) => Some(ListId::Points),
            Some(Drill::Point { .. }) => None,
            None => match self.screen {
                Screen::Queue => Some(ListId::Queue),
                Screen::Engines => Some(ListId::Engines),
                Screen::Results => Some(ListId::Results),
                Screen::Live | Screen::Help => None,
            },
        }
    }

    /// The filter text on `list`, when one is set there.
    pub fn filter_on(&self, list: ListId) -> Option<&str> {
        self.filter
            .as_ref()
            .filter(|f| f.list == list && !f.text.is_empty())
            .map(|f| f.text.as_str())
    }

    /// Whether `fields` pass the filter on `list` (any field holds its text, any case).
    pub fn passes(&self, list: ListId, fields: &[&str]) -> bool {
        match self.filter_on(list) {
            None => true,
            Some(text) => {
                let want = text.to_lowercase();
                fields.iter().any(|f| f.to_lowercase().contains(&want))
            }
        }
    }

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
            drill: Vec::new(),
            point_sel: None,
            point_scroll: 0,
            filter: None,
            hide_stopped: false,
            size: (80, 24),
        }
    }
}
