//! Drawing pieces shared by the report's SVG charts ([`super::plan_chart`], [`super::charts`]):
//! the plotters error mapping, legend samples and the labelled horizontal threshold line
//! (a scaling trigger, an SLO).

use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::plan_chart::ChartError;

/// Threshold lines (SLOs, scaling triggers) and their labels.
pub(super) const THRESHOLD: RGBColor = RGBColor(214, 39, 40);

/// Dash and gap lengths (pixels) of a threshold line.
const DASH: (u32, u32) = (8, 5);

/// A plotters error as a [`ChartError`].
pub(super) fn draw_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> ChartError {
    ChartError::Draw(Box::new(e))
}

/// A legend sample: a short solid line in `color`.
pub(super) fn legend_line(color: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
}

/// A legend sample: a short dashed line in `color`, for threshold lines.
pub(super) fn legend_dashed(
    color: RGBColor,
) -> impl Fn((i32, i32)) -> DashedPathElement<std::vec::IntoIter<(i32, i32)>, u32> {
    move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 22, y)], 6, 4, color.stroke_width(2))
}

/// Draws a horizontal threshold at `y` across the chart's whole x range: a dashed line in
/// `color`, `text` just above its right end (clear of a legend in the upper left) and a
/// legend entry with the same text.
pub(super) fn draw_threshold<X>(
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
