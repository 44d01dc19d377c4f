//! Drawing pieces shared by the SVG charts (the report's [`super::charts`] and commands' own, such as the plan's):
//! the plotters error mapping, legend samples and the labelled horizontal threshold line
//! (a scaling trigger, an SLO).

use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Why a chart (one of [`super::charts`], or a command's own, such as the plan's) could
/// not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// A run chart has nothing to draw: no series, a series without points, an empty histogram.
    #[error("{chart} chart: nothing to draw: {what}")]
    NothingToDraw {
        /// The chart (e.g. `latency over time`).
        chart: &'static str,
        /// What is missing, naming the series when there is one.
        what: String,
    },
    /// A run chart's value is not a finite number.
    #[error("{chart} chart: {name:?}: {what} is {value}")]
    NotFiniteIn {
        /// The chart (e.g. `latency over time`).
        chart: &'static str,
        /// The series, threshold or marker, by its label.
        name: String,
        /// Which value (e.g. `x`, `y`, `threshold`, `marker time`).
        what: &'static str,
        /// The value.
        value: f64,
    },
    /// plotters failed.
    #[error("chart: drawing failed: {0}")]
    Draw(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The file could not be written.
    #[error("{0}")]
    Write(#[from] crate::Error),
}

/// Threshold lines (SLOs, scaling triggers) and their labels.
pub const THRESHOLD: RGBColor = RGBColor(214, 39, 40);

/// Dash and gap lengths (pixels) of a threshold line.
const DASH: (u32, u32) = (8, 5);

/// A plotters error as a [`ChartError`].
pub fn draw_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> ChartError {
    ChartError::Draw(Box::new(e))
}

/// A legend sample: a short solid line in `color`.
pub fn legend_line(color: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
}

/// A legend sample: a short dashed line in `color`, for threshold lines.
pub fn legend_dashed(color: RGBColor) -> impl Fn((i32, i32)) -> DashedPathElement<std::vec::IntoIter<(i32, i32)>, u32> {
    move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 22, y)], 6, 4, color.stroke_width(2))
}

/// Draws a horizontal threshold at `y` across the chart's whole x range: a dashed line in
/// `color`, `text` just above its right end (clear of a legend in the upper left) and a
/// legend entry with the same text.
pub fn draw_threshold<X>(
    c: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, RangedCoordf64>>,
    y: f64,
    text: &str,
    color: RGBColor,
) -> Result<(), ChartError>
where
    X: Ranged<ValueType = f64>,
{
    let xs = c.x_range();
    c.draw_series(DashedLineSeries::new(vec![(xs.start, y), (xs.end, y)], DASH.0, DASH.1, color.stroke_width(2)))
        .map_err(draw_err)?
        .label(text)
        .legend(legend_dashed(color));
    let style = ("sans-serif", 15).into_font().color(&color).pos(Pos::new(HPos::Right, VPos::Bottom));
    let label = EmptyElement::at((xs.end, y)) + Text::new(text.to_owned(), (-6, -4), style);
    c.draw_series(std::iter::once(label)).map_err(draw_err)?;
    Ok(())
}
