//! The Pareto frontier in `llms compare` and `llms report`: per series the points no other
//! of its points beats on both output tokens/s per user and per GPU, as a table and as a
//! chart (every point a marker, the frontier a line).

use super::charts::{Body, COLORS, Chart, FAMILY, axis_num, err, series_names};
use super::table::{aligned, load, md_table};
use crate::compare::{CmpRow, fmt};
use crate::frontier::{of_rows, per_gpu_label};
use plotters::coord::Shift;
use plotters::prelude::*;

/// The x axis: output tokens/s per user.
pub const PER_USER: &str = "output tokens/s per user (1000 / TPOT mean)";

/// One series of the frontier chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Scatter {
    /// Series name, for the legend.
    pub name: String,
    /// Index into the color palette (the series' position among all series).
    pub color: usize,
    /// (per user, per GPU, on the frontier) of every point with both figures.
    pub points: Vec<(f64, f64, bool)>,
    /// The frontier's points, by per-user speed.
    pub frontier: Vec<(f64, f64)>,
}

/// The frontier points as (series, load, per user, per GPU) cells, series by series.
fn cells(rows: &[CmpRow]) -> Vec<Vec<String>> {
    of_rows(rows)
        .into_iter()
        .flat_map(|(name, idx)| idx.into_iter().map(move |i| (name.clone(), i)))
        .map(|(name, i)| {
            let r = &rows[i];
            vec![name, load(r), fmt(r.per_user), fmt(r.per_gpu)]
        })
        .collect()
}

/// The section's lead: what the axes are, and when the GPU count was assumed.
fn lead(rows: &[CmpRow]) -> String {
    format!(
        "Per series, the points no other point of the series beats on both {PER_USER} and \
         {}, by speed per user.",
        per_gpu_label(rows)
    )
}

/// For `llms compare`: the frontier points of each series; empty when no point has a TPOT.
pub fn section_text(rows: &[CmpRow]) -> String {
    let body = cells(rows);
    if body.is_empty() {
        return String::new();
    }
    let headers = ["series", "load", "tok/s per user", "tok/s per GPU"].map(String::from);
    let gpus = if rows.iter().any(|r| r.per_gpu.is_some() && r.gpus == 0) {
        format!(" ({})", crate::frontier::NO_GPU_NOTE)
    } else {
        String::new()
    };
    format!(
        "\nPareto frontier: points no other point of their series beats on both\n\
         (per user: 1000 / TPOT mean; per GPU: output tok/s over its GPUs{gpus})\n{}",
        aligned(&headers, &body, &[false, false, true, true])
    )
}

/// The frontier as Markdown under a heading of `level`; says so when there is none.
pub fn section_md(rows: &[CmpRow], level: usize) -> String {
    let h = "#".repeat(level);
    let body = cells(rows);
    if body.is_empty() {
        return format!("\n{h} Pareto frontier\n\nNo point has a TPOT: no frontier.\n");
    }
    let headers = [
        "series".to_owned(),
        "load".into(),
        "output tok/s per user".into(),
        per_gpu_label(rows),
    ];
    format!(
        "\n{h} Pareto frontier\n\n{}\n\n{}",
        lead(rows),
        md_table(&headers, &body)
    )
}

/// The frontier chart; `None` when no point has both figures.
pub fn chart(rows: &[CmpRow], jobs_title: &str) -> Option<Chart> {
    let fronts = of_rows(rows);
    let series: Vec<Scatter> = series_names(rows)
        .into_iter()
        .enumerate()
        .filter_map(|(color, name)| {
            let on = fronts.get(&name)?;
            let points = rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r.series == name)
                .filter_map(|(i, r)| Some((r.per_user?, r.per_gpu?, on.contains(&i))))
                .collect();
            let frontier = on
                .iter()
                .filter_map(|&i| Some((rows[i].per_user?, rows[i].per_gpu?)))
                .collect();
            Some(Scatter {
                name,
                color,
                points,
                frontier,
            })
        })
        .collect();
    if series.is_empty() {
        return None;
    }
    Some(Chart {
        title: format!("{jobs_title}: Pareto frontier"),
        x_desc: PER_USER.into(),
        y_desc: per_gpu_label(rows),
        body: Body::Frontier(series),
    })
}

/// Draw the frontier chart: value axes from 0, each series' points as circles (filled on
/// the frontier, hollow off it) and its frontier as a line.
pub(super) fn draw<DB: DrawingBackend>(
    c: &Chart,
    series: &[Scatter],
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let pts = || series.iter().flat_map(|s| s.points.iter());
    let top = |v: f64| if v > 0.0 { v * 1.15 } else { 1.0 };
    let x_max = top(pts().map(|p| p.0).fold(0.0, f64::max));
    let y_max = top(pts().map(|p| p.1).fold(0.0, f64::max));
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, (FAMILY, 24))
        .margin(20)
        .x_label_area_size(55)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(err)?;
    let label = |v: &f64| axis_num(*v);
    chart
        .configure_mesh()
        .x_desc(&c.x_desc)
        .y_desc(&c.y_desc)
        .x_label_formatter(&label)
        .y_label_formatter(&label)
        .label_style((FAMILY, 16))
        .axis_desc_style((FAMILY, 18))
        .draw()
        .map_err(err)?;
    for s in series {
        let color = COLORS[s.color % COLORS.len()];
        chart
            .draw_series(LineSeries::new(s.frontier.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(s.name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
        chart
            .draw_series(s.points.iter().map(|p| {
                let style = if p.2 {
                    color.filled()
                } else {
                    color.stroke_width(2)
                };
                Circle::new((p.0, p.1), 5, style)
            }))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, 16))
        .draw()
        .map_err(err)?;
    super::charts::footnote(
        root,
        "filled: on the frontier; hollow: beaten on both axes by a point of its series",
    )
}
