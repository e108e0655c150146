//! PNG text with every glyph where it belongs. plotters 0.3.7 rasterizes bitmap text with
//! each glyph's pixels placed at the pen position, not offset by the glyph's own bounds,
//! so letters drift by their side bearing (`TTFT` reads `TTF T`). [`Glyphs`] is the bitmap
//! backend with its text drawn here, the same way but with that offset; everything else
//! goes to the bitmap backend as it is. SVGs are not affected (their text is the viewer's).

use ab_glyph::{Font, FontRef, ScaleFont};
use plotters::prelude::BitMapBackend;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

/// The bitmap backend, with its own text drawing.
pub struct Glyphs<'a>(pub BitMapBackend<'a>);

type Result<'a, T> =
    std::result::Result<T, DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>>;

/// Each covered pixel of `text` in `size`-pixel DejaVu Sans, as plotters lays text out
/// (pen from 0, the glyph box's top `size / 2` below its origin's line), with its coverage.
pub fn pixels(text: &str, size: f64, mut pixel: impl FnMut(i32, i32, f32)) -> bool {
    let Ok(font) = FontRef::try_from_slice(dejavu::sans::regular()) else {
        return false;
    };
    let scaled = font.as_scaled(size as f32);
    let mut pen = 0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            pen += scaled.kern(p, id);
        }
        prev = Some(id);
        if let Some(q) = scaled.outline_glyph(scaled.scaled_glyph(c)) {
            let b = q.px_bounds();
            let (dx, dy) = (
                (pen + b.min.x) as i32,
                ((size as f32) / 2.0 + b.min.y) as i32,
            );
            q.draw(|x, y, cover| pixel(x as i32 + dx, y as i32 + dy, cover));
        }
        pen += scaled.h_advance(id);
    }
    true
}

impl<'a> DrawingBackend for Glyphs<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<'a, ()> {
        self.0.ensure_prepared()
    }

    fn present(&mut self) -> Result<'a, ()> {
        self.0.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<'a, ()> {
        self.0.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<'a, ()> {
        self.0.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<'a, ()> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<'a, ()> {
        self.0.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<'a, ()> {
        self.0.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<'a, ()> {
        self.0.fill_polygon(vert, style)
    }

    fn blit_bitmap(&mut self, pos: BackendCoord, size: (u32, u32), src: &[u8]) -> Result<'a, ()> {
        self.0.blit_bitmap(pos, size, src)
    }

    /// As plotters' own text drawing (anchor, rotation, clipping), with the glyphs from
    /// [`pixels`].
    fn draw_text<T: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> Result<'a, ()> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        let mut out: Result<'a, ()> = Ok(());
        pixels(text, style.size(), |x, y, cover| {
            let (x, y) = trans.transform(x + dx - min_x, y + dy - min_y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if out.is_ok() && x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                let c = BackendColor {
                    alpha: color.alpha * f64::from(cover),
                    rgb: color.rgb,
                };
                out = self.0.draw_pixel((x, y), c);
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leftmost inked column of each letter of `TTFT`, drawn here: the gap before the
    /// last T is the same as between the first two (plotters' own drawing put it a few
    /// pixels further).
    #[test]
    fn letters_keep_their_spacing() {
        let starts = |text: &str| {
            let mut cols = std::collections::BTreeSet::new();
            assert!(pixels(text, 24.0, |x, _, c| {
                if c > 0.5 {
                    cols.insert(x);
                }
            }));
            cols
        };
        // Each prefix's width: how far the ink of the text reaches.
        let right = |t: &str| *starts(t).iter().next_back().unwrap();
        let (t, tt, ttf, ttft) = (right("T"), right("TT"), right("TTF"), right("TTFT"));
        let t_width = tt - t;
        // The last T adds what the second did, give or take the F-T kerning pixel.
        assert!(((ttft - ttf) - t_width).abs() <= 3, "{t} {tt} {ttf} {ttft}");
    }
}
