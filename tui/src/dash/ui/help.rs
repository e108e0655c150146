//! The Help screen, generated from the key map ([`BINDINGS`]), so it lists exactly the keys
//! that work.

use super::theme::Theme;
use crate::dash::keymap::{BINDINGS, Ctx, keys_label};
use crate::dash::model::{Model, Screen};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

/// Help's sections, in order.
const SECTIONS: [Ctx; 9] = [
    Ctx::Global,
    Ctx::Screen(Screen::Live),
    Ctx::Screen(Screen::Queue),
    Ctx::Screen(Screen::Engines),
    Ctx::Screen(Screen::Results),
    Ctx::Points,
    Ctx::Point,
    Ctx::Picker,
    Ctx::Filter,
];

/// Help's lines: a heading per context, then `keys  description` per binding.
pub fn lines(t: Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for ctx in SECTIONS {
        out.push(Line::styled(ctx.title().to_string(), t.title()));
        for b in BINDINGS.iter().filter(|b| b.ctx == ctx) {
            out.push(Line::from(vec![
                Span::styled(format!("  {:<14}", keys_label(b)), t.key()),
                Span::raw(b.desc),
            ]));
        }
        out.push(Line::raw(""));
    }
    out
}

/// How many lines help has (the scroll limit).
pub fn line_count() -> usize {
    lines(Theme::new(true)).len()
}

/// Lines help shows in a terminal of `size` (columns, rows), with a status line or not.
fn visible(size: (u16, u16), status: bool) -> usize {
    // Header, footer, the status line, the block's borders.
    usize::from(size.1).saturating_sub(4 + usize::from(status))
}

/// How far help scrolls in a terminal of `size`: until its last line shows.
pub fn max_scroll(size: (u16, u16), status: bool) -> usize {
    line_count().saturating_sub(visible(size, status))
}

/// Draw the Help screen.
pub fn render(m: &Model, t: Theme, f: &mut Frame<'_>, area: Rect) {
    let block = Block::bordered().title(Span::styled(
        " Help: keys (↑↓ scroll, ? goes back) ",
        t.title(),
    ));
    let all = lines(t);
    let visible = area.height.saturating_sub(2) as usize;
    let scroll = m.ui.help_scroll.min(all.len().saturating_sub(visible));
    let shown: Vec<Line<'static>> = all.into_iter().skip(scroll).collect();
    f.render_widget(Paragraph::new(shown).block(block), area);
}
