//! Every style in one place. With `NO_COLOR` set, styles keep their emphasis (bold,
//! reversed, dim) and drop their colours.

use ratatui::style::{Color, Modifier, Style};

/// Whether `NO_COLOR` asks for no colour (set and not empty, per no-color.org).
pub fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// The dashboard's styles.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    no_color: bool,
}

impl Theme {
    /// Colours unless `no_color`.
    pub fn new(no_color: bool) -> Self {
        Theme { no_color }
    }

    fn fg(self, c: Color) -> Style {
        if self.no_color {
            Style::default()
        } else {
            Style::default().fg(c)
        }
    }

    /// Plain text.
    pub fn text(self) -> Style {
        Style::default()
    }

    /// Titles and headings.
    pub fn title(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    /// Table headers.
    pub fn header(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// The selected row or tab.
    pub fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    /// Good news: connected, done, ready.
    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }

    /// Attention: flagged points, queued, starting.
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }

    /// Failures and lost connections.
    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// Secondary text.
    pub fn dim(self) -> Style {
        if self.no_color {
            Style::default().add_modifier(Modifier::DIM)
        } else {
            Style::default().fg(Color::DarkGray)
        }
    }

    /// Bars and chart lines.
    pub fn bar(self) -> Style {
        self.fg(Color::Cyan)
    }

    /// Keys in hints.
    pub fn key(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
}
