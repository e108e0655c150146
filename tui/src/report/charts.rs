//! Charts drawn with plotters: a line chart per metric against the load value, a bar chart
//! of throughput per series, and the frontier scatter (drawn in `frontier.rs`), each as SVG
//! (a string) and PNG (a file). Text is set in DejaVu Sans embedded in the binary (the
//! `dejavu` crate); no system font is read.

use crate::compare::{CmpRow, Metric, fmt, fmt_x};
use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};
use std::path::Path;
use std::sync::OnceLock;

/// Width and height of every chart, pixels.
pub const SIZE: (u32, u32) = (1000, 600);

/// The font family every text element uses (registered as DejaVu Sans).
pub(super) const FAMILY: &str = "sans-serif";

/// Series colors (Tableau 10), picked by the series' position among all series so that an
/// engine keeps its color from chart to chart.
pub(super) const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Register the embedded font once. Both backends need it: plotters measures text with it
/// (SVG) and draws glyphs with it (PNG).
fn font() -> Result<(), String> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        register_font(FAMILY, FontStyle::Normal, dejavu::sans::regular())
            .map_err(|_| "the embedded DejaVu Sans font could not be read".to_owned())
    })
    .clone()
}

/// A line of small print in the chart's bottom right corner.
pub(super) fn footnote<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
) -> Result<(), String> {
    let (w, h) = root.dim_in_pixel();
    let style = (FAMILY, 14)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Right, VPos::Bottom));
    root.draw(&Text::new(text, (w as i32 - 10, h as i32 - 6), style))
        .map_err(err)
}

/// An axis label: at most two decimals, trailing zeros dropped (`0`, `2.5`, `2500`).
pub(super) fn axis_num(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

pub(super) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// One line of a line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Series name, for the legend.
    pub name: String,
    /// Index into the color palette.
    pub color: usize,
    /// (load value, figure, flagged) per point with a figure, in load order.
    pub points: Vec<(f64, f64, bool)>,
}

/// One bar of a bar chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Series name, under the bar.
    pub name: String,
    /// Index into the color palette.
    pub color: usize,
    /// Height.
    pub value: f64,
    /// The point is flagged.
    pub flagged: bool,
}

/// What a chart shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Lines against the load values `xs` (placed at evenly spaced positions, in order).
    Lines {
        /// Every load value on the x axis, ascending.
        xs: Vec<f64>,
        /// One line per series with figures.
        lines: Vec<Line>,
    },
    /// One bar per series.
    Bars(Vec<Bar>),
    /// Per series its points as markers and its Pareto frontier as a line, on two value axes.
    Frontier(Vec<super::frontier::Scatter>),
}

/// A chart ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Caption.
    pub title: String,
    /// X axis description.
    pub x_desc: String,
    /// Y axis description.
    pub y_desc: String,
    /// Lines or bars.
    pub body: Body,
}

/// Every series name in the rows, sorted: a series' color is its position here.
pub fn series_names(rows: &[CmpRow]) -> Vec<String> {
    let mut names: Vec<String> = rows.iter().map(|r| r.series.clone()).collect();
    names.sort();
    names.dedup();
    names
}

/// The line chart of `metric` against the load value, one line per series; `None` when no
/// point has the metric. Failed points are absent; flagged points are marked.
pub fn line_chart(rows: &[CmpRow], metric: Metric, jobs_title: &str) -> Option<Chart> {
    let names = series_names(rows);
    let lines: Vec<Line> = names
        .iter()
        .enumerate()
        .filter_map(|(color, name)| {
            let points: Vec<(f64, f64, bool)> = rows
                .iter()
                .filter(|r| &r.series == name && r.x.is_finite())
                .filter_map(|r| {
                    let y = metric.of(r).filter(|y| y.is_finite())?;
                    Some((r.x, y, r.marked()))
                })
                .collect();
            (!points.is_empty()).then(|| Line {
                name: name.clone(),
                color,
                points,
            })
        })
        .collect();
    if lines.is_empty() {
        return None;
    }
    let mut xs: Vec<f64> = rows.iter().map(|r| r.x).filter(|x| x.is_finite()).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    Some(Chart {
        title: format!("{jobs_title}: {}", metric.title()),
        x_desc: super::table::modes(rows).join("/"),
        y_desc: metric.title().to_owned(),
        body: Body::Lines { xs, lines },
    })
}

/// The largest load value at which every series with a throughput has one.
pub fn common_x(rows: &[CmpRow]) -> Option<f64> {
    let names: Vec<String> = series_names(rows)
        .into_iter()
        .filter(|n| {
            rows.iter()
                .any(|r| &r.series == n && r.throughput.is_some())
        })
        .collect();
    let has = |n: &String, x: f64| {
        rows.iter()
            .any(|r| &r.series == n && r.x == x && r.throughput.is_some_and(f64::is_finite))
    };
    rows.iter()
        .map(|r| r.x)
        .filter(|x| x.is_finite() && !names.is_empty() && names.iter().all(|n| has(n, *x)))
        .max_by(f64::total_cmp)
}

/// Throughput per series at the largest load value common to all series with figures, as
/// bars; `None` when the series share no load value.
pub fn throughput_bars(rows: &[CmpRow], jobs_title: &str) -> Option<Chart> {
    let x = common_x(rows)?;
    let names = series_names(rows);
    let bars: Vec<Bar> = names
        .iter()
        .enumerate()
        .filter_map(|(color, name)| {
            let r = rows.iter().find(|r| &r.series == name && r.x == x)?;
            Some(Bar {
                name: name.clone(),
                color,
                value: r.throughput.filter(|v| v.is_finite())?,
                flagged: r.marked(),
            })
        })
        .collect();
    let mode = rows.iter().find(|r| r.x == x).map_or("load", |r| r.mode);
    let at = crate::compare::load_text(mode, x);
    Some(Chart {
        title: format!("{jobs_title}: {} at {at}", Metric::Throughput.title()),
        x_desc: "series".into(),
        y_desc: Metric::Throughput.title().to_owned(),
        body: Body::Bars(bars),
    })
}

impl Chart {
    /// The chart as an SVG document.
    pub fn svg(&self) -> Result<String, String> {
        self.svg_at(SIZE)
    }

    /// The chart as an SVG document `size` pixels wide and high.
    pub fn svg_at(&self, size: (u32, u32)) -> Result<String, String> {
        font()?;
        let mut s = String::new();
        {
            let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(err)?;
        }
        Ok(s)
    }

    /// Draw the chart into a PNG file at `path` (whose name must end in `.png`).
    pub fn png(&self, path: &Path) -> Result<(), String> {
        self.png_at(path, SIZE)
    }

    /// Draw the chart into a PNG file `size` pixels wide and high.
    pub fn png_at(&self, path: &Path, size: (u32, u32)) -> Result<(), String> {
        font()?;
        let root = super::glyphs::Glyphs(BitMapBackend::new(path, size)).into_drawing_area();
        self.draw(&root)?;
        root.present().map_err(err)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let (keys, top, labels): (usize, f64, Vec<String>) = match &self.body {
            Body::Frontier(series) => return super::frontier::draw(self, series, root),
            Body::Lines { xs, lines } => (
                xs.len(),
                lines
                    .iter()
                    .flat_map(|l| l.points.iter().map(|p| p.1))
                    .fold(0.0, f64::max),
                xs.iter().map(|x| fmt_x(*x)).collect(),
            ),
            Body::Bars(bars) => (
                bars.len(),
                bars.iter().map(|b| b.value).fold(0.0, f64::max),
                bars.iter().map(|b| b.name.clone()).collect(),
            ),
        };
        let top = if top > 0.0 { top * 1.15 } else { 1.0 };
        // Categorical x: the i-th load value (or bar) sits at i. Asking for as many labels
        // as positions over a range `keys` wide makes plotters put them at 0, 1, 2, ...
        let x_range = -0.5..keys as f64 - 0.5;
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(&self.title, (FAMILY, 24))
            .margin(20)
            .x_label_area_size(55)
            .y_label_area_size(80);
        let flagged_note = match self.log_range() {
            Some((lo, hi)) => {
                let mut chart = builder
                    .build_cartesian_2d(x_range, (lo..hi).log_scale())
                    .map_err(err)?;
                let desc = format!("{} (log scale)", self.y_desc);
                self.series(&mut chart, &labels, keys, &desc)?
            }
            None => {
                let mut chart = builder.build_cartesian_2d(x_range, 0.0..top).map_err(err)?;
                self.series(&mut chart, &labels, keys, &self.y_desc)?
            }
        };
        if flagged_note {
            footnote(root, "* flagged point (see the report)")?;
        }
        Ok(())
    }

    /// A line chart whose figures span more than 10x gets a log y axis (one slow series
    /// would flatten the rest): its range, a little beyond the figures.
    pub(crate) fn log_range(&self) -> Option<(f64, f64)> {
        let Body::Lines { lines, .. } = &self.body else {
            return None;
        };
        let ys = || lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
        let lo = ys().filter(|y| *y > 0.0).fold(f64::INFINITY, f64::min);
        let hi = ys().fold(0.0, f64::max);
        let all_positive = ys().all(|y| y > 0.0);
        // From the decade below the lowest figure: plotters labels a log axis from its first
        // power of ten up.
        (all_positive && lo.is_finite() && hi / lo > 10.0)
            .then(|| (10f64.powf(lo.log10().floor()), hi * 1.5))
    }

    /// The mesh, the lines or bars, and the legend, on either y axis; whether a point is
    /// flagged (the note under the chart says what the mark means).
    fn series<'a, DB: DrawingBackend + 'a, Y>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
        labels: &[String],
        keys: usize,
        y_desc: &str,
    ) -> Result<bool, String>
    where
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let label = |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 1e-9 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let y_label = |v: &f64| axis_num(*v);
        chart
            .configure_mesh()
            .disable_x_mesh()
            // One light line between labelled ones: a grid to read by, not a texture.
            .max_light_lines(1)
            .x_labels(keys)
            // A log axis labels 1-9 x 10^k only when asked for enough labels to reach every
            // decade in range.
            .y_labels(24)
            .x_desc(&self.x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&label)
            .y_label_formatter(&y_label)
            .label_style((FAMILY, 16))
            .axis_desc_style((FAMILY, 18))
            .draw()
            .map_err(err)?;
        let flagged = match &self.body {
            Body::Lines { xs, lines } => {
                let pos = |x: f64| xs.iter().position(|v| *v == x).unwrap_or(0) as f64;
                for l in lines {
                    let color = COLORS[l.color % COLORS.len()];
                    let path: Vec<(f64, f64)> = l.points.iter().map(|p| (pos(p.0), p.1)).collect();
                    chart
                        .draw_series(LineSeries::new(path, color.stroke_width(2)))
                        .map_err(err)?
                        .label(l.name.as_str())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
                        });
                    let plain = l.points.iter().filter(|p| !p.2);
                    chart
                        .draw_series(plain.map(|p| Circle::new((pos(p.0), p.1), 4, color.filled())))
                        .map_err(err)?;
                    let marked = l.points.iter().filter(|p| p.2);
                    chart
                        .draw_series(marked.map(|p| {
                            EmptyElement::at((pos(p.0), p.1))
                                + Circle::new((0, 0), 7, color.stroke_width(2))
                                + Text::new("*", (7, -24), (FAMILY, 22).into_font().color(&color))
                        }))
                        .map_err(err)?;
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .label_font((FAMILY, 16))
                    .draw()
                    .map_err(err)?;
                lines.iter().any(|l| l.points.iter().any(|p| p.2))
            }
            Body::Frontier(_) => false,
            Body::Bars(bars) => {
                for (i, b) in bars.iter().enumerate() {
                    let color = COLORS[b.color % COLORS.len()];
                    let x = i as f64;
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x - 0.3, 0.0), (x + 0.3, b.value)],
                            color.filled(),
                        )))
                        .map_err(err)?;
                    let text =
                        format!("{}{}", fmt(Some(b.value)), if b.flagged { "*" } else { "" });
                    let style = (FAMILY, 18)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Center, VPos::Bottom));
                    chart
                        .draw_series(std::iter::once(Text::new(text, (x, b.value), style)))
                        .map_err(err)?;
                }
                bars.iter().any(|b| b.flagged)
            }
        };
        Ok(flagged)
    }
}
