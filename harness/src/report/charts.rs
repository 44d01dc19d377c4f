//! Run-report SVG charts: latency percentiles over time, the HDR percentile distribution
//! (the "nines" plot) and throughput and errors over time, with SLO thresholds and drill
//! markers ("inject", "detected", "verified").
//!
//! Inputs are plain data ([`Series`], [`Threshold`], [`Marker`], histograms) so callers
//! build them from a run's results. Drawn with [`super::chart_kit`]: `plotters`' SVG
//! backend into a string (text stays `<text>`, searchable and scalable), a titled root,
//! axes described with their units and a legend. The legend sits in the upper left, below
//! the markers' labels, and the y range leaves room above the data for both, so neither
//! hides a line; threshold labels sit at the lines' right ends. The same input always
//! gives the same SVG.

use std::ops::Range;

use hdrhistogram::Histogram;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub use super::chart_kit::ChartError;
use super::chart_kit::{draw_err, draw_threshold, legend_line, THRESHOLD};

/// One labelled line: points are (x, y).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text, e.g. `prove p95`.
    pub label: String,
    /// The points, (x, y) in the chart's units, in x order.
    pub points: Vec<(f64, f64)>,
}

/// A vertical marker at a time (simulated seconds), e.g. a drill's "inject", "detected", "verified".
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// Simulated seconds since the start.
    pub at_s: f64,
    /// Text drawn at the top of the line.
    pub label: String,
}

/// A horizontal labelled line, e.g. an SLO "p95 < 250 ms", value in the chart's y unit.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// Text drawn above the line's right end and in the legend.
    pub label: String,
    /// Where the line is, in the chart's y unit.
    pub value: f64,
}

/// Axis descriptions (also what tests look for).
pub mod labels {
    /// x axis of the charts over time.
    pub const TIME: &str = "time since start (s, simulated)";
    /// y axis of the latency charts.
    pub const LATENCY: &str = "latency (ms)";
    /// y axis of the throughput panel.
    pub const THROUGHPUT: &str = "requests/s";
    /// y axis of the errors panel.
    pub const ERRORS: &str = "errors/s";
    /// x axis of the percentile distribution.
    pub const PERCENTILE: &str = "percentile";
}

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 600;
const TWO_PANEL_HEIGHT: u32 = 860;
/// Series colours in order (matplotlib's tab10 without its red, which marks thresholds).
const PALETTE: [RGBColor; 9] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
const MARKER: RGBColor = RGBColor(90, 90, 90);
const MARKER_TEXT: RGBColor = RGBColor(40, 40, 40);
const NOTE: RGBColor = RGBColor(120, 120, 120);
/// Font sizes in plotters' units (the SVG's `font-size` is these divided by 1.24).
const TITLE_FONT: u32 = 24;
const CAPTION_FONT: u32 = 19;
const TICK_FONT: u32 = 15;
const DESC_FONT: u32 = 17;
const LEGEND_FONT: u32 = 15;
const MARKER_FONT: u32 = 15;
/// Layout, pixels.
const MARGIN: u32 = 14;
const MARGIN_RIGHT: u32 = 30;
const X_LABEL_AREA: u32 = 52;
const Y_LABEL_AREA: u32 = 80;
/// Height of one row of marker labels at the top of a panel.
const MARKER_ROW: u32 = 18;
/// plotters' legend margin (its default) around the legend's text.
const LEGEND_MARGIN: u32 = 10;
/// Samples per nine (decade of `1/(1-q)`) of the percentile distribution; a power of two,
/// so the sample positions and their number are exact.
const NINES_STEP: f64 = 1.0 / 64.0;
/// The percentile axis always reaches 99.999%.
const MIN_NINES: f64 = 5.0;

type Chart<'a, 'b, X> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, RangedCoordf64>>;
type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;

/// Latency percentiles over time: x = simulated seconds since start, y = milliseconds.
/// `series` e.g. "prove p50", "prove p95", "prove p99"; SLO lines dashed/red with labels;
/// markers as vertical lines with their label at the top. Linear axes.
pub fn latency_over_time(
    title: &str,
    series: &[Series],
    slos: &[Threshold],
    markers: &[Marker],
) -> Result<String, ChartError> {
    const CHART: &str = "latency over time";
    check_series(CHART, series, false)?;
    check_thresholds(CHART, slos)?;
    check_markers(CHART, markers)?;
    let xs = time_range(series.iter(), markers);
    render((WIDTH, HEIGHT), title, |area| {
        let panel = TimePanel {
            caption: None,
            y_desc: labels::LATENCY,
            series,
            thresholds: slos,
            markers,
            label_markers: true,
            all_zero_note: None,
            xs,
        };
        draw_time_panel(area, &panel)
    })
}

/// HDR percentile distribution ("nines" plot, like HdrHistogram's plotter): x axis is
/// log10(1/(1-q)) labelled "50%", "90%", "99%", "99.9%", "99.99%", "99.999%" (and further
/// nines when a histogram holds enough values); y = latency ms.
///
/// One line per request kind from its histogram of MICROSECONDS, sampled 64 times a nine
/// from q = 0 up to the resolution of its `n` values, 1 - 1/n (x = log10 n), where the line
/// ends at the maximum recorded value. SLO thresholds (ms) drawn as horizontal lines.
pub fn percentile_distribution(
    title: &str,
    kinds: &[(String, &Histogram<u64>)],
    slos: &[Threshold],
) -> Result<String, ChartError> {
    const CHART: &str = "percentile distribution";
    if kinds.is_empty() {
        return Err(ChartError::NothingToDraw { chart: CHART, what: "no request kinds".into() });
    }
    if let Some((kind, _)) = kinds.iter().find(|(_, h)| h.is_empty()) {
        return Err(ChartError::NothingToDraw { chart: CHART, what: format!("the histogram of {kind:?} is empty") });
    }
    check_thresholds(CHART, slos)?;
    let series: Vec<Series> =
        kinds.iter().map(|(kind, h)| Series { label: kind.clone(), points: nines_points(h) }).collect();
    let last = series.iter().flat_map(|s| s.points.last()).map(|p| p.0).fold(0.0, f64::max);
    let x_max = MIN_NINES.max(last.ceil());
    render((WIDTH, HEIGHT), title, |area| {
        let (_, plot_h) = plot_size(area);
        let entries = series.iter().map(|s| s.label.as_str()).chain(slos.iter().map(|t| t.label.as_str()));
        let reserved = 4 + legend_height(entries);
        let ys = y_range(&series, slos, plot_h, reserved);
        let mut c = builder(area).build_cartesian_2d(NinesAxis((0.0..x_max).into()), ys).map_err(draw_err)?;
        draw_mesh(&mut c, labels::PERCENTILE, labels::LATENCY, &nines_label)?;
        draw_lines(&mut c, &series)?;
        // A dot where each line ends: its maximum.
        for (s, color) in series.iter().zip(PALETTE.iter().cycle()) {
            if let Some(&end) = s.points.last() {
                c.draw_series(std::iter::once(Circle::new(end, 4, color.filled()))).map_err(draw_err)?;
            }
        }
        for t in slos {
            draw_threshold(&mut c, t.value, &t.label, THRESHOLD)?;
        }
        draw_legend(&mut c, 4, true)
    })
}

/// Throughput and errors over time: top panel requests/s per kind (series), bottom panel
/// errors/s per kind (series; an all-zero or empty panel still draws, with a 0..1 y range
/// and a "no errors" note), markers as vertical lines on both, labelled on the top one.
pub fn throughput_and_errors(
    title: &str,
    throughput: &[Series],
    errors: &[Series],
    markers: &[Marker],
) -> Result<String, ChartError> {
    const CHART: &str = "throughput and errors";
    check_series(CHART, throughput, false)?;
    check_series(CHART, errors, true)?;
    check_markers(CHART, markers)?;
    let xs = time_range(throughput.iter().chain(errors), markers);
    render((WIDTH, TWO_PANEL_HEIGHT), title, |area| {
        let (_, h) = area.dim_in_pixel();
        let (top, bottom) = area.split_vertically(h / 2);
        let panel = TimePanel {
            caption: Some("Requests per second per kind"),
            y_desc: labels::THROUGHPUT,
            series: throughput,
            thresholds: &[],
            markers,
            label_markers: true,
            all_zero_note: None,
            xs,
        };
        draw_time_panel(&top, &panel)?;
        // The same markers' lines below, unlabelled: the top panel names them.
        let panel = TimePanel {
            caption: Some("Errors per second per kind"),
            y_desc: labels::ERRORS,
            series: errors,
            label_markers: false,
            all_zero_note: Some("no errors"),
            ..panel
        };
        draw_time_panel(&bottom, &panel)
    })
}

/// One panel over time.
struct TimePanel<'a> {
    caption: Option<&'static str>,
    y_desc: &'static str,
    series: &'a [Series],
    thresholds: &'a [Threshold],
    markers: &'a [Marker],
    /// Whether the markers' labels are drawn (else only their lines).
    label_markers: bool,
    /// A note drawn in the middle when every value is zero (or there is no series).
    all_zero_note: Option<&'static str>,
    xs: Range<f64>,
}

fn render(
    size: (u32, u32),
    title: &str,
    draw: impl FnOnce(&Area<'_>) -> Result<(), ChartError>,
) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let body = root.titled(title, ("sans-serif", TITLE_FONT)).map_err(draw_err)?;
        draw(&body)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

fn check_series(chart: &'static str, series: &[Series], may_be_empty: bool) -> Result<(), ChartError> {
    if series.is_empty() && !may_be_empty {
        return Err(ChartError::NothingToDraw { chart, what: "no series".into() });
    }
    for s in series {
        if s.points.is_empty() {
            return Err(ChartError::NothingToDraw { chart, what: format!("series {:?} has no points", s.label) });
        }
        for &(x, y) in &s.points {
            for (what, value) in [("x", x), ("y", y)] {
                if !value.is_finite() {
                    return Err(ChartError::NotFiniteIn { chart, name: s.label.clone(), what, value });
                }
            }
        }
    }
    Ok(())
}

fn check_thresholds(chart: &'static str, thresholds: &[Threshold]) -> Result<(), ChartError> {
    match thresholds.iter().find(|t| !t.value.is_finite()) {
        Some(t) => Err(ChartError::NotFiniteIn { chart, name: t.label.clone(), what: "threshold", value: t.value }),
        None => Ok(()),
    }
}

fn check_markers(chart: &'static str, markers: &[Marker]) -> Result<(), ChartError> {
    match markers.iter().find(|m| !m.at_s.is_finite()) {
        Some(m) => Err(ChartError::NotFiniteIn { chart, name: m.label.clone(), what: "marker time", value: m.at_s }),
        None => Ok(()),
    }
}

/// The x range covering every point and marker; a single instant widens to one second.
fn time_range<'s>(series: impl Iterator<Item = &'s Series>, markers: &[Marker]) -> Range<f64> {
    let xs = series.flat_map(|s| s.points.iter().map(|p| p.0)).chain(markers.iter().map(|m| m.at_s));
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x), hi.max(x)));
    if !(lo.is_finite() && hi.is_finite()) {
        return 0.0..1.0;
    }
    if hi - lo <= 1e-9 * lo.abs().max(1.0) {
        return lo - 0.5..hi + 0.5;
    }
    lo..hi
}

/// The y range from 0 (or the lowest value, when negative) to a top that leaves `reserved`
/// pixels above every point, and room for a label above every threshold. All zeros (or all
/// values equal at the bottom) give a range one unit high.
fn y_range(series: &[Series], thresholds: &[Threshold], plot_h: u32, reserved: u32) -> Range<f64> {
    let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let lo = values.clone().chain(thresholds.iter().map(|t| t.value)).fold(0.0, f64::min);
    let plot_h = f64::from(plot_h.max(1));
    // A value v that must sit `gap` pixels below the top: (top - v) / (top - lo) >= gap / plot_h.
    let top_for = |v: f64, gap: u32| {
        let a = (f64::from(gap) / plot_h).min(0.6);
        (v - a * lo) / (1.0 - a)
    };
    let data_top = values.map(|v| top_for(v, reserved + 6));
    let threshold_top = thresholds.iter().map(|t| top_for(t.value, reserved + 24));
    let top = data_top.chain(threshold_top).fold(lo, f64::max);
    if top - lo <= 1e-12 * lo.abs().max(1.0) {
        return lo..lo + 1.0;
    }
    lo..top
}

/// The plotting area's size (pixels) inside `area` with [`builder`]'s margins and label areas.
fn plot_size(area: &Area<'_>) -> (u32, u32) {
    let (w, h) = area.dim_in_pixel();
    (w.saturating_sub(MARGIN + MARGIN_RIGHT + Y_LABEL_AREA), h.saturating_sub(2 * MARGIN + X_LABEL_AREA))
}

fn builder<'a, 'b>(area: &'a Area<'b>) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(area);
    b.margin(MARGIN).margin_right(MARGIN_RIGHT).x_label_area_size(X_LABEL_AREA).y_label_area_size(Y_LABEL_AREA);
    b
}

/// Height (pixels) of plotters' legend box for these entries.
fn legend_height<'t>(entries: impl Iterator<Item = &'t str>) -> u32 {
    let font = TextStyle::from(("sans-serif", LEGEND_FONT).into_font());
    let mut text = MultiLineText::<(i32, i32), &str>::new((0, 0), font);
    let mut n = 0;
    for e in entries {
        text.push_line(e);
        n += 1;
    }
    if n == 0 {
        return 0;
    }
    let h = text.estimate_dimension().map_or(n * (LEGEND_FONT + 4), |(_, h)| h.unsigned_abs());
    h + 2 * LEGEND_MARGIN
}

fn draw_mesh<X>(
    c: &mut Chart<'_, '_, X>,
    x_desc: &str,
    y_desc: &str,
    x_label: &dyn Fn(&f64) -> String,
) -> Result<(), ChartError>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    c.configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(x_label)
        .y_label_formatter(&tick_label)
        .label_style(("sans-serif", TICK_FONT))
        .axis_desc_style(("sans-serif", DESC_FONT))
        .light_line_style(BLACK.mix(0.04))
        .draw()
        .map_err(draw_err)
}

/// One line per series, in palette order, each with its legend entry; a lone point is a dot.
fn draw_lines<X: Ranged<ValueType = f64>>(c: &mut Chart<'_, '_, X>, series: &[Series]) -> Result<(), ChartError> {
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        c.draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
            .map_err(draw_err)?
            .label(s.label.as_str())
            .legend(legend_line(color));
        if let [p] = s.points[..] {
            c.draw_series(std::iter::once(Circle::new(p, 4, color.filled()))).map_err(draw_err)?;
        }
    }
    Ok(())
}

/// The legend in the upper left, `top` pixels below the plotting area's top; nothing when
/// there are no `entries` (no series or threshold drawn).
fn draw_legend<'a, 'b: 'a, X: Ranged<ValueType = f64>>(
    c: &mut Chart<'a, 'b, X>,
    top: u32,
    entries: bool,
) -> Result<(), ChartError> {
    if !entries {
        return Ok(());
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::Coordinate(6, i32::try_from(top).unwrap_or(0)))
        .label_font(("sans-serif", LEGEND_FONT))
        .margin(LEGEND_MARGIN)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(draw_err)
}

/// Where a marker's label goes: its row at the top of the panel (0 is the top row), which
/// side of its line, and its estimated width (pixels, with padding).
#[derive(Clone, Copy, Debug, PartialEq)]
struct LabelSlot {
    row: u32,
    left: bool,
    width: u32,
}

/// Estimated width (pixels) of a marker label with its padding: about 0.6 em a character.
fn marker_label_width(label: &str) -> f64 {
    f64::from(MARKER_FONT) / 1.24 * 0.6 * label.chars().count() as f64 + 8.0
}

/// Lays the markers' labels out at the top of the panel. In time order, each label goes on
/// the side of its line where it crosses no other marker's line (right when both or neither
/// do, left when there is no room on the right), in the first row where it overlaps no other
/// label.
fn layout_marker_labels(markers: &[Marker], xs: &Range<f64>, plot_w: u32) -> Vec<LabelSlot> {
    let plot_w = f64::from(plot_w);
    let px: Vec<f64> = markers.iter().map(|m| (m.at_s - xs.start) / (xs.end - xs.start) * plot_w).collect();
    let mut order: Vec<usize> = (0..markers.len()).collect();
    order.sort_by(|&a, &b| markers[a].at_s.total_cmp(&markers[b].at_s).then(a.cmp(&b)));
    let mut rows: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut slots = vec![LabelSlot { row: 0, left: false, width: 0 }; markers.len()];
    for i in order {
        let (x, w) = (px[i], marker_label_width(&markers[i].label));
        let crossings = |(a, b): (f64, f64)| px.iter().filter(|&&p| a - 2.0 < p && p < b + 2.0 && p != x).count();
        let (right, left) = ((x, x + w), (x - w, x));
        let fits_right = right.1 <= plot_w;
        let go_left = !fits_right || (crossings(right) > 0 && crossings(left) == 0 && left.0 >= 0.0);
        let span = if go_left { left } else { right };
        let free = |row: &Vec<(f64, f64)>| row.iter().all(|&(a, b)| span.1 + 4.0 <= a || b + 4.0 <= span.0);
        let row = match rows.iter().position(free) {
            Some(r) => r,
            None => {
                rows.push(Vec::new());
                rows.len() - 1
            }
        };
        if let Some(r) = rows.get_mut(row) {
            r.push(span);
        }
        let row = u32::try_from(row).unwrap_or(u32::MAX);
        slots[i] = LabelSlot { row, left: go_left, width: w.ceil() as u32 };
    }
    slots
}

fn marker_rows(slots: &[LabelSlot]) -> u32 {
    slots.iter().map(|s| s.row + 1).max().unwrap_or(0)
}

/// Vertical marker lines across the chart's y range, and the labels `slots` places (none
/// when it is empty), each on a light box that keeps a crossing line from striking it through.
fn draw_markers<X: Ranged<ValueType = f64>>(
    c: &mut Chart<'_, '_, X>,
    markers: &[Marker],
    slots: &[LabelSlot],
) -> Result<(), ChartError> {
    let ys = c.y_range();
    for m in markers {
        c.draw_series(LineSeries::new(vec![(m.at_s, ys.start), (m.at_s, ys.end)], MARKER.stroke_width(2)))
            .map_err(draw_err)?;
    }
    for (m, slot) in markers.iter().zip(slots) {
        let top = i32::try_from(2 + slot.row * MARKER_ROW).unwrap_or(0);
        let w = i32::try_from(slot.width).unwrap_or(0);
        let (x0, text_x, h) = if slot.left { (-w - 2, -6, HPos::Right) } else { (2, 6, HPos::Left) };
        let bottom = top + i32::try_from(MARKER_ROW).unwrap_or(0) - 2;
        let back = Rectangle::new([(x0, top), (x0 + w, bottom)], WHITE.mix(0.85).filled());
        let style = ("sans-serif", MARKER_FONT).into_font().color(&MARKER_TEXT).pos(Pos::new(h, VPos::Top));
        let label = EmptyElement::at((m.at_s, ys.end)) + back + Text::new(m.label.clone(), (text_x, top + 2), style);
        c.draw_series(std::iter::once(label)).map_err(draw_err)?;
    }
    Ok(())
}

fn draw_time_panel(area: &Area<'_>, p: &TimePanel<'_>) -> Result<(), ChartError> {
    let area = match p.caption {
        Some(caption) => area.titled(caption, ("sans-serif", CAPTION_FONT)).map_err(draw_err)?,
        None => area.clone(),
    };
    let (plot_w, plot_h) = plot_size(&area);
    let slots = if p.label_markers { layout_marker_labels(p.markers, &p.xs, plot_w) } else { Vec::new() };
    let band = marker_rows(&slots) * MARKER_ROW + 4;
    let entries = p.series.iter().map(|s| s.label.as_str()).chain(p.thresholds.iter().map(|t| t.label.as_str()));
    let ys = y_range(p.series, p.thresholds, plot_h, band + legend_height(entries));
    let mut c = builder(&area).build_cartesian_2d(p.xs.clone(), ys).map_err(draw_err)?;
    draw_mesh(&mut c, labels::TIME, p.y_desc, &tick_label)?;
    draw_markers(&mut c, p.markers, &slots)?;
    draw_lines(&mut c, p.series)?;
    for t in p.thresholds {
        draw_threshold(&mut c, t.value, &t.label, THRESHOLD)?;
    }
    let all_zero = p.series.iter().all(|s| s.points.iter().all(|pt| pt.1 == 0.0));
    if let (true, Some(note)) = (all_zero, p.all_zero_note) {
        let (xs, ys) = (c.x_range(), c.y_range());
        let at = ((xs.start + xs.end) / 2.0, (ys.start + ys.end) / 2.0);
        // On a light box: a marker line may pass behind it.
        let half_w = i32::try_from(note.chars().count()).unwrap_or(0) * 6 + 8;
        let back = Rectangle::new([(-half_w, -12), (half_w, 12)], WHITE.mix(0.9).filled());
        let style = ("sans-serif", CAPTION_FONT).into_font().color(&NOTE).pos(Pos::new(HPos::Center, VPos::Center));
        c.draw_series(std::iter::once(EmptyElement::at(at) + back + Text::new(note, (0, 0), style)))
            .map_err(draw_err)?;
    }
    draw_legend(&mut c, band, !(p.series.is_empty() && p.thresholds.is_empty()))
}

/// Axis tick text: the value rounded to a millionth, without trailing zeros.
fn tick_label(v: &f64) -> String {
    let r = (v * 1e6).round() / 1e6;
    if r == 0.0 {
        "0".into()
    } else {
        format!("{r}")
    }
}

/// The percentile axis, x = log10(1/(1-q)) from 0: ticks at 50% and at every whole nine,
/// labelled as percentiles ([`nines_label`]).
struct NinesAxis(RangedCoordf64);

impl Ranged for NinesAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.0.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            return Vec::new();
        }
        let end = self.0.range().end;
        std::iter::once(2f64.log10()).chain((1..).map(f64::from).take_while(|&k| k <= end)).collect()
    }

    fn range(&self) -> Range<f64> {
        self.0.range()
    }
}

impl ValueFormatter<f64> for NinesAxis {
    fn format(value: &f64) -> String {
        nines_label(value)
    }
}

/// The percentile at x = log10(1/(1-q)): "50%" at log10 2, "90%", "99%", "99.9%", ... at whole
/// nines; other positions get no text.
fn nines_label(x: &f64) -> String {
    if (x - 2f64.log10()).abs() < 1e-9 {
        return "50%".into();
    }
    let k = x.round();
    if (x - k).abs() > 1e-9 || !(1.0..=15.0).contains(&k) {
        return String::new();
    }
    // k nines: 100 (1 - 10^-k) % with k - 2 decimals.
    let decimals = (k as usize).saturating_sub(2);
    format!("{:.*}%", decimals, 100.0 - 100.0 * 10f64.powf(-k))
}

/// A histogram of microseconds as (log10(1/(1-q)), milliseconds): every [`NINES_STEP`] from
/// q = 0 below x = log10 n (n values recorded), then the maximum at x = log10 n.
fn nines_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let ms = |us: u64| us as f64 / 1000.0;
    let x_end = (h.len() as f64).log10();
    let mut points: Vec<(f64, f64)> = (0..)
        .map(|k| f64::from(k) * NINES_STEP)
        .take_while(|&x| x < x_end)
        .map(|x| (x, ms(h.value_at_quantile(1.0 - 10f64.powf(-x)))))
        .collect();
    points.push((x_end, ms(h.max())));
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use roxmltree::{Document, Node};

    // ---- reading the SVG back -------------------------------------------------------------

    fn parse(svg: &str) -> Document<'_> {
        let doc = Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed XML: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        doc
    }

    fn num(n: Node<'_, '_>, attr: &str) -> f64 {
        let v = n.attribute(attr).unwrap_or_else(|| panic!("no {attr} on {n:?}"));
        v.parse().unwrap_or_else(|e| panic!("{attr}={v:?}: {e}"))
    }

    fn text_nodes<'a, 'i>(doc: &'a Document<'i>) -> impl Iterator<Item = (Node<'a, 'i>, &'a str)> {
        doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text().map(|t| (n, t.trim())))
    }

    fn texts(doc: &Document<'_>) -> Vec<String> {
        text_nodes(doc).map(|(_, t)| t.to_owned()).collect()
    }

    fn count_text(doc: &Document<'_>, want: &str) -> usize {
        text_nodes(doc).filter(|(_, t)| *t == want).count()
    }

    /// (x, y) of the one `<text>` reading `want`.
    fn text_at(doc: &Document<'_>, want: &str) -> (f64, f64) {
        let found: Vec<_> = text_nodes(doc).filter(|(_, t)| *t == want).collect();
        assert_eq!(found.len(), 1, "{want:?} once among {:?}", texts(doc));
        (num(found[0].0, "x"), num(found[0].0, "y"))
    }

    fn hex(c: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
    }

    /// Every polyline stroked in `color`, as its pixel points.
    fn polylines(doc: &Document<'_>, color: RGBColor) -> Vec<Vec<(f64, f64)>> {
        let stroke = hex(color);
        doc.descendants()
            .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(stroke.as_str()))
            .map(|n| {
                let pts = n.attribute("points").unwrap_or_default();
                pts.split_whitespace()
                    .map(|p| {
                        let (x, y) = p.split_once(',').unwrap_or_else(|| panic!("point {p:?}"));
                        (x.parse().unwrap_or(f64::NAN), y.parse().unwrap_or(f64::NAN))
                    })
                    .collect()
            })
            .collect()
    }

    /// The one polyline in `color` with `n` points (legend samples have 2).
    fn line_with(doc: &Document<'_>, color: RGBColor, n: usize) -> Vec<(f64, f64)> {
        let lines = polylines(doc, color);
        let found: Vec<_> = lines.iter().filter(|l| l.len() == n).collect();
        let lens: Vec<_> = lines.iter().map(Vec::len).collect();
        assert_eq!(found.len(), 1, "one {} polyline of {n} points; lengths {lens:?}", hex(color));
        found[0].clone()
    }

    /// Numeric tick labels of the left y axis (right-aligned, left of the plot) whose pixel
    /// row is in `rows`, as (value, y pixel).
    fn y_ticks(doc: &Document<'_>, rows: Range<f64>) -> Vec<(f64, f64)> {
        let ticks: Vec<_> = text_nodes(doc)
            .filter(|(n, _)| n.attribute("text-anchor") == Some("end") && num(*n, "x") < 100.0)
            .filter(|(n, _)| rows.contains(&num(*n, "y")))
            .filter_map(|(n, t)| t.parse::<f64>().ok().map(|v| (v, num(n, "y"))))
            .collect();
        assert!(ticks.len() >= 3, "y ticks: {ticks:?}");
        ticks
    }

    /// Numeric tick labels of the x axis in pixel rows `rows`, as (value, x pixel).
    fn x_ticks(doc: &Document<'_>, rows: Range<f64>) -> Vec<(f64, f64)> {
        let ticks: Vec<_> = text_nodes(doc)
            .filter(|(n, _)| n.attribute("text-anchor") == Some("middle") && rows.contains(&num(*n, "y")))
            .filter_map(|(n, t)| t.parse::<f64>().ok().map(|v| (v, num(n, "x"))))
            .collect();
        assert!(ticks.len() >= 3, "x ticks: {ticks:?}");
        ticks
    }

    /// The value at pixel `px` read off an axis by interpolating between its first and last
    /// tick labels, and the value of one pixel there.
    fn read_axis(ticks: &[(f64, f64)], px: f64) -> (f64, f64) {
        let (first, last) = (ticks[0], ticks[ticks.len() - 1]);
        let per_px = (last.0 - first.0) / (last.1 - first.1);
        (first.0 + (px - first.1) * per_px, per_px.abs())
    }

    /// The ticks are evenly spaced: a linear axis.
    fn assert_linear(ticks: &[(f64, f64)]) {
        for &(v, px) in ticks {
            let (read, per_px) = read_axis(ticks, px);
            assert!((read - v).abs() <= 1.01 * per_px, "tick {v} at {px} reads {read}: {ticks:?}");
        }
    }

    fn assert_reads(ticks: &[(f64, f64)], px: f64, want: f64, what: &str) {
        let (read, per_px) = read_axis(ticks, px);
        assert!((read - want).abs() <= 1.5 * per_px, "{what}: pixel {px} reads {read}, want {want} (±{per_px}/px)");
    }

    /// The legend's box: the black-bordered, unfilled rectangle, as (left, top, right, bottom).
    fn legend_boxes(doc: &Document<'_>) -> Vec<(f64, f64, f64, f64)> {
        doc.descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("stroke") == Some("#000000"))
            .filter(|n| n.attribute("fill") == Some("none"))
            .map(|n| {
                let (x, y) = (num(n, "x"), num(n, "y"));
                (x, y, x + num(n, "width"), y + num(n, "height"))
            })
            .collect()
    }

    /// Horizontal threshold dashes in `color` grouped by pixel row: (y, leftmost x, rightmost x).
    fn dashed_rows(doc: &Document<'_>, color: RGBColor) -> Vec<(f64, f64, f64)> {
        let mut rows: Vec<(f64, f64, f64)> = Vec::new();
        for line in polylines(doc, color) {
            let y = line[0].1;
            assert!(line.iter().all(|p| p.1 == y), "threshold dash not horizontal: {line:?}");
            let (lo, hi) = line.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
            match rows.iter_mut().find(|r| r.0 == y) {
                Some(r) => (r.1, r.2) = (r.1.min(lo), r.2.max(hi)),
                None => rows.push((y, lo, hi)),
            }
        }
        rows
    }

    fn ok<T>(r: Result<T, ChartError>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    // ---- examples ---------------------------------------------------------------------------

    fn named(label: &str, points: impl IntoIterator<Item = (f64, f64)>) -> Series {
        Series { label: label.into(), points: points.into_iter().collect() }
    }

    fn marker(at_s: f64, label: &str) -> Marker {
        Marker { at_s, label: label.into() }
    }

    fn slo(label: &str, value: f64) -> Threshold {
        Threshold { label: label.into(), value }
    }

    /// 121 points, every 5 s over 600 s; latency rises while the drill's fault is in.
    fn latency_example() -> (Vec<Series>, Vec<Threshold>, Vec<Marker>) {
        let curve = |base: f64, spike: f64| {
            (0..=120).map(move |i| {
                let t = f64::from(i) * 5.0;
                let fault = if (200.0..320.0).contains(&t) { spike } else { 0.0 };
                (t, base + 0.1 * base * (t / 40.0).sin() + fault)
            })
        };
        let series = vec![
            named("prove p50", curve(60.0, 40.0)),
            named("prove p95", curve(150.0, 140.0)),
            named("prove p99", curve(210.0, 260.0)),
        ];
        let slos = vec![slo("p95 < 250 ms", 250.0), slo("p99 < 400 ms", 400.0)];
        let markers = vec![marker(200.0, "inject"), marker(212.0, "detected"), marker(320.0, "verified")];
        (series, slos, markers)
    }

    /// `n` latencies (µs): 5 ms plus an exponential of mean `mean_ms`, by exact quantiles.
    fn histogram(n: u32, mean_ms: f64) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|e| panic!("{e}"));
        for i in 0..n {
            let q = (f64::from(i) + 0.5) / f64::from(n);
            let us = 5_000.0 + 1000.0 * mean_ms * -(1.0 - q).ln();
            h.record(us as u64).unwrap_or_else(|e| panic!("{e}"));
        }
        h
    }

    fn throughput_example(errors_all_zero: bool) -> (Vec<Series>, Vec<Series>, Vec<Marker>) {
        let t = |i: i32| f64::from(i) * 10.0;
        let dip = |x: f64| if (200.0..320.0).contains(&x) { 0.4 } else { 1.0 };
        let throughput = vec![
            named("prove", (0..=60).map(|i| (t(i), 120.0 * dip(t(i))))),
            named("verify", (0..=60).map(|i| (t(i), 45.0 + (t(i) / 50.0).sin() * 5.0))),
        ];
        let errors = if errors_all_zero {
            vec![named("prove", (0..=60).map(|i| (t(i), 0.0)))]
        } else {
            vec![
                named("prove", (0..=60).map(|i| (t(i), if (200.0..240.0).contains(&t(i)) { 12.0 } else { 0.0 }))),
                named("verify", (0..=60).map(|i| (t(i), 0.0))),
            ]
        };
        let markers = vec![marker(200.0, "inject"), marker(230.0, "detected"), marker(320.0, "verified")];
        (throughput, errors, markers)
    }

    // ---- latency over time ------------------------------------------------------------------

    #[test]
    fn latency_chart_has_its_labels_lines_slos_and_markers_where_the_axes_say() {
        let (series, slos, markers) = latency_example();
        let svg = ok(latency_over_time("Drill <kill prover> & \"recover\"", &series, &slos, &markers));
        let doc = parse(&svg);
        for want in [labels::TIME, labels::LATENCY, "prove p50", "prove p95", "prove p99", "inject", "detected"] {
            assert!(count_text(&doc, want) >= 1, "no text {want:?} in {:?}", texts(&doc));
        }
        // SLO labels: once above the line, once in the legend.
        assert_eq!(count_text(&doc, "p95 < 250 ms"), 2, "{:?}", texts(&doc));
        assert_eq!(count_text(&doc, "p99 < 400 ms"), 2);
        assert_eq!(count_text(&doc, "Drill <kill prover> & \"recover\""), 1, "title escaped and kept");

        let ys = y_ticks(&doc, 0.0..f64::from(HEIGHT));
        let xs = x_ticks(&doc, 0.0..f64::from(HEIGHT));
        assert_linear(&ys);
        assert_linear(&xs);
        // Each series is one polyline with one point per input point, which the axes read back.
        for (i, s) in series.iter().enumerate() {
            let line = line_with(&doc, PALETTE[i], s.points.len());
            assert!(line.windows(2).all(|w| w[0].0 < w[1].0), "x pixels increase");
            for k in [0, 40, 50, 120] {
                assert_reads(&xs, line[k].0, s.points[k].0, "x");
                assert_reads(&ys, line[k].1, s.points[k].1, &s.label);
            }
        }
        // Each SLO is a dashed line across the plot at its value between the y ticks around it.
        let rows = dashed_rows(&doc, THRESHOLD);
        for t in &slos {
            let (y, lo, hi) = rows
                .iter()
                .copied()
                .find(|r| r.2 - r.1 > 600.0 && (read_axis(&ys, r.0).0 - t.value).abs() < 10.0)
                .unwrap_or_else(|| panic!("no line for {t:?} in {rows:?}"));
            let below = ys.iter().filter(|tk| tk.0 <= t.value).map(|tk| tk.1).fold(f64::MIN, f64::max);
            let above = ys.iter().filter(|tk| tk.0 >= t.value).map(|tk| tk.1).fold(f64::MAX, f64::min);
            assert!(above <= y && y <= below, "{t:?} at y {y} between ticks at {above} and {below}");
            assert_reads(&ys, y, t.value, &t.label);
            assert!(lo <= xs[0].1 + 1.0 && hi >= xs[xs.len() - 1].1 - 1.0, "spans the plot: {lo}..{hi}, {xs:?}");
            // Its label sits just above the line's right end.
            let (lx, ly) = texts_at(&doc, &t.label).into_iter().find(|p| p.0 > 500.0).unwrap_or_default();
            assert!(
                (hi - lx).abs() < 10.0 && y - 12.0 < ly && ly <= y,
                "label of {t:?} at ({lx}, {ly}), line ends ({hi}, {y})"
            );
        }
        // Markers: vertical lines at their times, labelled at the top beside the line.
        let vertical: Vec<_> =
            polylines(&doc, MARKER).into_iter().filter(|l| l.len() == 2 && l[0].0 == l[1].0).collect();
        assert_eq!(vertical.len(), markers.len());
        for (m, line) in markers.iter().zip(&vertical) {
            assert_reads(&xs, line[0].0, m.at_s, &m.label);
            let (lx, ly) = text_at(&doc, &m.label);
            let top = line[0].1.min(line[1].1);
            assert!((lx - line[0].0).abs() <= 6.0 && ly >= top && ly < top + 40.0, "{m:?} label at ({lx}, {ly})");
        }
        // "inject" and "detected" are 12 s (about 17 px) apart: "inject" goes left of its line,
        // so no label is struck through by another marker's line, and none overlap.
        let boxes = marker_label_boxes(&doc, &markers);
        assert!(boxes[0].1 < vertical[0][0].0, "inject left of its line: {boxes:?}");
        for (m, b) in markers.iter().zip(&boxes) {
            for line in &vertical {
                assert!(!(b.0 < line[0].0 && line[0].0 < b.1), "{m:?}'s label {b:?} crosses the line at {}", line[0].0);
            }
        }
        assert_labels_apart(&boxes);

        // The legend hides no data and no marker label.
        let boxes = legend_boxes(&doc);
        assert_eq!(boxes.len(), 1, "{boxes:?}");
        let (_, top, _, bottom) = boxes[0];
        for (i, s) in series.iter().enumerate() {
            let line = line_with(&doc, PALETTE[i], s.points.len());
            assert!(line.iter().all(|p| p.1 > bottom), "{} passes under the legend", s.label);
        }
        for m in &markers {
            assert!(text_at(&doc, &m.label).1 < top, "{m:?} label above the legend");
        }
        for (y, _, _) in rows.iter().filter(|r| r.2 - r.1 > 600.0) {
            assert!(*y > bottom + 14.0, "threshold at {y} and its label below the legend ({bottom})");
        }
    }

    /// Each marker's label as (left, right, baseline y), its width estimated generously from
    /// the SVG's font size (0.55 em a character) and text anchor.
    fn marker_label_boxes(doc: &Document<'_>, markers: &[Marker]) -> Vec<(f64, f64, f64)> {
        markers
            .iter()
            .map(|m| {
                let (n, _) = text_nodes(doc).find(|(_, t)| *t == m.label).unwrap_or_else(|| panic!("{m:?}"));
                let w = num(n, "font-size") * 0.55 * m.label.chars().count() as f64;
                let (x, y) = (num(n, "x"), num(n, "y"));
                match n.attribute("text-anchor") {
                    Some("end") => (x - w, x, y),
                    _ => (x, x + w, y),
                }
            })
            .collect()
    }

    /// Labels in the same row do not overlap.
    fn assert_labels_apart(boxes: &[(f64, f64, f64)]) {
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                assert!(a.2 != b.2 || a.1 <= b.0 || b.1 <= a.0, "labels overlap: {a:?} {b:?}");
            }
        }
    }

    #[test]
    fn crowded_markers_stack_their_labels_above_the_legend() {
        let (series, slos, _) = latency_example();
        let labels = ["inject", "detected", "mitigated", "verified", "all clear"];
        let markers: Vec<Marker> = labels.iter().zip(0..).map(|(l, i)| marker(200.0 + 3.0 * f64::from(i), l)).collect();
        let svg = ok(latency_over_time("crowded", &series, &slos, &markers));
        let doc = parse(&svg);
        let boxes = marker_label_boxes(&doc, &markers);
        assert_labels_apart(&boxes);
        let rows: std::collections::BTreeSet<i64> = boxes.iter().map(|b| b.2 as i64).collect();
        assert!(rows.len() >= 3, "stacked in rows: {boxes:?}");
        let (_, legend_top, _, legend_bottom) = legend_boxes(&doc)[0];
        assert!(boxes.iter().all(|b| b.2 < legend_top), "{boxes:?} above the legend at {legend_top}");
        let ys = y_ticks(&doc, 0.0..f64::from(HEIGHT));
        let top = (0..3).flat_map(|i| polylines(&doc, PALETTE[i])).filter(|l| l.len() > 2).flatten();
        assert!(top.map(|p| p.1).all(|y| y > legend_bottom), "data below the legend");
        assert_linear(&ys);
    }

    /// (x, y) of every `<text>` reading `want`.
    fn texts_at(doc: &Document<'_>, want: &str) -> Vec<(f64, f64)> {
        text_nodes(doc).filter(|(_, t)| *t == want).map(|(n, _)| (num(n, "x"), num(n, "y"))).collect()
    }

    #[test]
    fn latency_chart_is_deterministic() {
        let (series, slos, markers) = latency_example();
        let a = ok(latency_over_time("t", &series, &slos, &markers));
        let b = ok(latency_over_time("t", &series, &slos, &markers));
        assert_eq!(a, b);
    }

    #[test]
    fn degenerate_ranges_still_draw_readable_axes() {
        // One point; all values equal; everything at one instant; all zeros.
        let cases = [
            vec![named("one", [(3.0, 42.0)])],
            vec![named("flat", (0..10).map(|i| (f64::from(i), 7.5)))],
            vec![named("a", [(5.0, 1.0)]), named("b", [(5.0, 2.0)])],
            vec![named("zero", (0..10).map(|i| (f64::from(i), 0.0)))],
        ];
        for case in &cases {
            let svg = ok(latency_over_time("edge", case, &[], &[marker(5.0, "m")]));
            let doc = parse(&svg);
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{case:?}");
            let ys = y_ticks(&doc, 0.0..f64::from(HEIGHT));
            let xs = x_ticks(&doc, 0.0..f64::from(HEIGHT));
            assert_linear(&ys);
            assert_linear(&xs);
            let max = case.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0, f64::max);
            let top = ys.iter().map(|t| t.0).fold(f64::MIN, f64::max);
            assert!(top >= max && ys.iter().any(|t| t.0 == 0.0), "{case:?}: y ticks {ys:?}");
        }
        // The lone point is drawn as a dot, where the axes put 42 at 3 s.
        let doc_svg = ok(latency_over_time("edge", &cases[0], &[], &[]));
        let doc = parse(&doc_svg);
        let dots: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle") && n.attribute("fill") == Some(hex(PALETTE[0]).as_str()))
            .collect();
        assert_eq!(dots.len(), 1);
        assert_reads(&y_ticks(&doc, 0.0..f64::from(HEIGHT)), num(dots[0], "cy"), 42.0, "dot y");
        assert_reads(&x_ticks(&doc, 0.0..f64::from(HEIGHT)), num(dots[0], "cx"), 3.0, "dot x");
    }

    #[test]
    fn empty_and_non_finite_inputs_are_errors_naming_the_series() {
        let (series, slos, markers) = latency_example();
        let err = |r: Result<String, ChartError>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(matches!(latency_over_time("t", &[], &slos, &markers), Err(ChartError::NothingToDraw { .. })));
        let mut s = series.clone();
        s[1].points.clear();
        let r = latency_over_time("t", &s, &slos, &markers);
        assert!(matches!(r, Err(ChartError::NothingToDraw { .. })));
        assert!(err(r).contains("\"prove p95\""));
        let mut s = series.clone();
        s[2].points[7].1 = f64::NAN;
        let r = latency_over_time("t", &s, &slos, &markers);
        assert!(matches!(&r, Err(ChartError::NotFiniteIn { name, what: "y", .. }) if name == "prove p99"), "{r:?}");
        let mut s = series.clone();
        s[0].points[0].0 = f64::INFINITY;
        assert!(err(latency_over_time("t", &s, &slos, &markers)).contains("\"prove p50\": x is inf"));
        let r = latency_over_time("t", &series, &[slo("bad", f64::NAN)], &markers);
        assert!(matches!(&r, Err(ChartError::NotFiniteIn { name, what: "threshold", .. }) if name == "bad"));
        let r = latency_over_time("t", &series, &slos, &[marker(f64::NEG_INFINITY, "when")]);
        assert!(matches!(&r, Err(ChartError::NotFiniteIn { name, what: "marker time", .. }) if name == "when"));
        // The same rules hold for the other charts.
        assert!(matches!(throughput_and_errors("t", &[], &[], &[]), Err(ChartError::NothingToDraw { .. })));
        let r = throughput_and_errors("t", &series, &[named("oops", [(1.0, f64::NAN)])], &[]);
        assert!(matches!(&r, Err(ChartError::NotFiniteIn { name, .. }) if name == "oops"));
        let r = throughput_and_errors("t", &series, &[named("none", [])], &[]);
        assert!(err(r).contains("\"none\" has no points"));
    }

    // ---- percentile distribution ------------------------------------------------------------

    #[test]
    fn nines_plot_has_percentile_labels_on_a_log_axis_and_lines_ending_at_the_max() {
        let (prove, verify) = (histogram(10_000, 20.0), histogram(1_000, 8.0));
        let kinds = [("prove".to_owned(), &prove), ("verify".to_owned(), &verify)];
        let slos = [slo("p99 < 150 ms", 150.0)];
        let svg = ok(percentile_distribution("Latency by percentile", &kinds, &slos));
        let doc = parse(&svg);
        let nines = ["50%", "90%", "99%", "99.9%", "99.99%", "99.999%"];
        for want in nines.iter().copied().chain([labels::PERCENTILE, labels::LATENCY, "prove", "verify"]) {
            assert_eq!(count_text(&doc, want), 1, "{want:?} in {:?}", texts(&doc));
        }
        assert_eq!(count_text(&doc, "p99 < 150 ms"), 2);
        // Whole nines are evenly spaced; 50% sits log10(2) of a nine right of 0% (x = 0).
        let x: Vec<f64> = nines.iter().map(|n| text_at(&doc, n).0).collect();
        let nine = x[2] - x[1];
        assert!(x[2..].windows(2).all(|w| (w[1] - w[0] - nine).abs() <= 1.0), "{x:?}");
        assert!((x[1] - x[0] - nine * (1.0 - 2f64.log10())).abs() <= 1.0, "{x:?}");
        let x_of = |nines: f64| x[1] + (nines - 1.0) * nine;

        let ys = y_ticks(&doc, 0.0..f64::from(HEIGHT));
        assert_linear(&ys);
        // 64 samples a nine up to log10 n nines, then the maximum: 10^4 values reach 99.99%.
        for (i, (h, n_nines)) in [(&prove, 4.0), (&verify, 3.0)].into_iter().enumerate() {
            let line = line_with(&doc, PALETTE[i], 64 * n_nines as usize + 1);
            let end = line[line.len() - 1];
            assert!((end.0 - x_of(n_nines)).abs() <= 1.0, "ends at {n_nines} nines: {end:?}");
            assert_reads(&ys, end.1, h.max() as f64 / 1000.0, "maximum");
            assert!(line.iter().all(|p| p.1 >= end.1), "the maximum is the highest point");
            for (q, at) in [(0.5, 2f64.log10()), (0.9, 1.0), (0.99, 2.0)] {
                let p = line.iter().min_by(|a, b| (a.0 - x_of(at)).abs().total_cmp(&(b.0 - x_of(at)).abs()));
                let p = p.copied().unwrap_or_default();
                assert_reads(&ys, p.1, h.value_at_quantile(q) as f64 / 1000.0, &format!("q {q}"));
            }
        }
        let rows = dashed_rows(&doc, THRESHOLD);
        assert!(rows
            .iter()
            .any(|r| r.2 - r.1 > 600.0 && (read_axis(&ys, r.0).0 - 150.0).abs() <= read_axis(&ys, r.0).1 * 1.5));
        let (_, _, _, legend_bottom) = legend_boxes(&doc)[0];
        let lines = (0..2).flat_map(|i| polylines(&doc, PALETTE[i])).filter(|l| l.len() > 2);
        let top = lines.flatten().map(|p| p.1).fold(f64::MAX, f64::min);
        assert!(top > legend_bottom, "the legend hides no line");
    }

    #[test]
    fn nines_plot_refuses_empty_histograms_and_handles_one_value() {
        let empty = histogram(0, 1.0);
        let one = histogram(1, 1.0);
        let r = percentile_distribution("t", &[("prove".into(), &one), ("idle".into(), &empty)], &[]);
        assert!(matches!(&r, Err(ChartError::NothingToDraw { what, .. }) if what.contains("\"idle\"")), "{r:?}");
        assert!(matches!(percentile_distribution("t", &[], &[]), Err(ChartError::NothingToDraw { .. })));
        let r = percentile_distribution("t", &[("prove".into(), &one)], &[slo("x", f64::NAN)]);
        assert!(matches!(r, Err(ChartError::NotFiniteIn { what: "threshold", .. })));
        // One value: a line of one point at q = 0, its dot, readable axes.
        let svg = ok(percentile_distribution("t", &[("prove".into(), &one)], &[]));
        let doc = parse(&svg);
        assert_eq!(line_with(&doc, PALETTE[0], 1).len(), 1);
        assert_linear(&y_ticks(&doc, 0.0..f64::from(HEIGHT)));
        assert_eq!(count_text(&doc, "99.999%"), 1);
        let a = ok(percentile_distribution("t", &[("prove".into(), &one)], &[]));
        assert_eq!(a, svg, "deterministic");
    }

    #[test]
    fn nines_labels() {
        let got: Vec<String> = [2f64.log10(), 0.5, 1.0, 2.0, 3.0, 5.0, 6.0].iter().map(nines_label).collect();
        assert_eq!(got, ["50%", "", "90%", "99%", "99.9%", "99.999%", "99.9999%"]);
    }

    // ---- throughput and errors --------------------------------------------------------------

    #[test]
    fn throughput_and_errors_share_the_time_axis_and_markers() {
        let (throughput, errors, markers) = throughput_example(false);
        let svg = ok(throughput_and_errors("Prover drill", &throughput, &errors, &markers));
        assert_eq!(svg, ok(throughput_and_errors("Prover drill", &throughput, &errors, &markers)));
        let doc = parse(&svg);
        assert_eq!(count_text(&doc, labels::TIME), 2, "{:?}", texts(&doc));
        assert_eq!(count_text(&doc, labels::THROUGHPUT), 1);
        assert_eq!(count_text(&doc, labels::ERRORS), 1);
        assert_eq!(count_text(&doc, "prove"), 2, "a legend entry in each panel");
        assert_eq!(count_text(&doc, "no errors"), 0);
        for m in &markers {
            assert_eq!(count_text(&doc, &m.label), 1, "{m:?} labelled once, in the top panel");
        }
        let mid = f64::from(TWO_PANEL_HEIGHT) / 2.0;
        let (top_ticks, bottom_ticks) = (y_ticks(&doc, 0.0..mid), y_ticks(&doc, mid..f64::from(TWO_PANEL_HEIGHT)));
        assert_linear(&top_ticks);
        assert_linear(&bottom_ticks);
        let (top_x, bottom_x) = (x_ticks(&doc, 0.0..mid), x_ticks(&doc, mid..f64::from(TWO_PANEL_HEIGHT)));
        assert_eq!(top_x, bottom_x, "same x axis");
        // Lines: 61 points each, top panel in the top half, read back through that panel's axes.
        let (top_line, bottom_line): (Vec<_>, Vec<_>) =
            polylines(&doc, PALETTE[0]).into_iter().filter(|l| l.len() == 61).partition(|l| l[0].1 < mid);
        assert_eq!((top_line.len(), bottom_line.len()), (1, 1));
        assert_reads(&top_ticks, top_line[0][25].1, throughput[0].points[25].1, "prove req/s at 250 s");
        assert_reads(&bottom_ticks, bottom_line[0][21].1, 12.0, "prove errors/s at 210 s");
        assert_reads(&top_x, top_line[0][25].0, 250.0, "x");
        // Every marker is a vertical line in both panels at the same x.
        let vertical: Vec<_> =
            polylines(&doc, MARKER).into_iter().filter(|l| l.len() == 2 && l[0].0 == l[1].0).collect();
        assert_eq!(vertical.len(), 2 * markers.len());
        for m in &markers {
            let at: Vec<_> = vertical.iter().filter(|l| (read_axis(&top_x, l[0].0).0 - m.at_s).abs() < 1.0).collect();
            assert_eq!(at.len(), 2, "{m:?}");
            assert!(at.iter().any(|l| l[0].1 < mid) && at.iter().any(|l| l[0].1 > mid), "{m:?} in both panels");
        }
    }

    #[test]
    fn an_error_free_panel_draws_zero_to_one_with_a_note() {
        let (throughput, errors, markers) = throughput_example(true);
        for errors in [errors, Vec::new()] {
            let svg = ok(throughput_and_errors("t", &throughput, &errors, &markers));
            let doc = parse(&svg);
            let mid = f64::from(TWO_PANEL_HEIGHT) / 2.0;
            let ticks = y_ticks(&doc, mid..f64::from(TWO_PANEL_HEIGHT));
            assert_linear(&ticks);
            let values: Vec<f64> = ticks.iter().map(|t| t.0).collect();
            assert!(values.contains(&0.0) && values.contains(&1.0) && values.iter().all(|v| (0.0..=1.0).contains(v)));
            assert_eq!(count_text(&doc, "no errors"), 1);
            assert_eq!(count_text(&doc, labels::ERRORS), 1);
        }
    }

    // ---- demo ---------------------------------------------------------------------------------

    /// Writes one of each chart to /tmp/charts-demo/ to look at:
    /// `cargo test -p gameday --lib report::charts -- --ignored`.
    #[test]
    #[ignore = "writes /tmp/charts-demo/*.svg for a person to look at"]
    fn write_demo_charts() {
        let dir = std::path::Path::new("/tmp/charts-demo");
        ok(std::fs::create_dir_all(dir).map_err(|e| ChartError::Draw(Box::new(e))));
        let write = |name: &str, svg: String| {
            ok(std::fs::write(dir.join(name), svg).map_err(|e| ChartError::Draw(Box::new(e))))
        };
        let (series, slos, markers) = latency_example();
        write("latency.svg", ok(latency_over_time("Prover drill: prove latency", &series, &slos, &markers)));
        let (prove, verify) = (histogram(10_000, 20.0), histogram(1_000, 8.0));
        let kinds = [("prove".to_owned(), &prove), ("verify".to_owned(), &verify)];
        write("nines.svg", ok(percentile_distribution("Latency by percentile", &kinds, &[slo("p99 < 150 ms", 150.0)])));
        let (throughput, errors, markers) = throughput_example(false);
        write(
            "throughput.svg",
            ok(throughput_and_errors("Prover drill: throughput and errors", &throughput, &errors, &markers)),
        );
        let (throughput, errors, markers) = throughput_example(true);
        write("throughput-no-errors.svg", ok(throughput_and_errors("No errors", &throughput, &errors, &markers)));
        let (series, slos, _) = latency_example();
        let crowded: Vec<Marker> = ["inject", "detected", "mitigated", "verified", "all clear"]
            .iter()
            .zip(0..)
            .map(|(l, i)| marker(200.0 + 3.0 * f64::from(i), l))
            .chain([marker(598.0, "end of drill")])
            .collect();
        write("crowded.svg", ok(latency_over_time("Crowded markers", &series, &slos, &crowded)));
        write(
            "single-point.svg",
            ok(latency_over_time("One point", &[named("one", [(3.0, 42.0)])], &[], &[marker(3.0, "m")])),
        );
    }
}
