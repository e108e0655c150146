//! The header: the tabs and the connection (daemon version and host, or reconnecting).

use super::theme::Theme;
use crate::dash::model::{ConnState, Model, Screen};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draw the header line.
pub fn render(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let mut tabs = vec![Span::styled(" llms ", t.title())];
    for (i, s) in Screen::ALL.iter().enumerate() {
        let style = if *s == m.ui.screen {
            t.selected()
        } else {
            t.text()
        };
        tabs.push(Span::raw(" "));
        tabs.push(Span::styled(format!("{} {}", i + 1, s.title()), style));
    }
    let conn = match (&m.conn, &m.hello) {
        (ConnState::Reconnecting { .. }, _) => Span::styled("◌ reconnecting ", t.error()),
        (ConnState::Connected, Some(h)) => {
            Span::styled(format!("● llmsd {} on {} ", h.version, h.host), t.ok())
        }
        (ConnState::Connected, None) => Span::styled("● connected ", t.ok()),
    };
    let w = conn.width() as u16;
    let [left, right] = Layout::horizontal([Constraint::Min(0), Constraint::Length(w)]).areas(area);
    f.render_widget(Paragraph::new(Line::from(tabs)), left);
    f.render_widget(Paragraph::new(Line::from(conn)), right);
}
