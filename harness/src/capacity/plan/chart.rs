//! The plan's SVG chart (`plan.svg`): per week, peak load and CPU with the scaling
//! triggers' thresholds (top panel), and p95 latency, simulated and live, against the
//! SLO line (bottom panel); the recommended size's CPU and p95 when the plan has one.
//!
//! Drawn with `plotters`' SVG backend into a string (text stays `<text>`, so labels are
//! searchable and scale with the page), written with [`crate::report::write_atomic`].

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::chart_kit::{draw_err, draw_threshold, legend_line, ChartError, THRESHOLD};

/// One week of the chart.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartWeek {
    /// Week number.
    pub week: u32,
    /// Peak request rate, per second.
    pub peak_rate_per_s: f64,
    /// CPU at the peak (fraction) at the current size.
    pub cpu: f64,
    /// Simulated p95 latency, seconds, at the current size.
    pub p95_s_sim: f64,
    /// Live p95 latency, seconds, when the week was measured live.
    pub p95_s_live: Option<f64>,
    /// CPU (fraction) at the recommended size, when the plan recommends one.
    pub recommended_cpu: Option<f64>,
    /// p95 latency (seconds) at the recommended size, when the plan recommends one.
    pub recommended_p95_s: Option<f64>,
}

/// Everything the chart shows.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanChart {
    /// Title (e.g. the scenario's name).
    pub title: String,
    /// The weeks, in order.
    pub weeks: Vec<ChartWeek>,
    /// Scaling triggers on CPU: label and threshold (fraction), drawn as labelled lines.
    pub cpu_thresholds: Vec<(String, f64)>,
    /// The p95 SLO, seconds, drawn as a labelled line.
    pub slo_p95_s: Option<f64>,
}

/// Why the plan's chart could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum PlanChartError {
    /// No weeks to draw.
    #[error("plan chart: no weeks to draw")]
    Empty,
    /// A value is not a finite number.
    #[error("plan chart: week {week}: {what} is {value}")]
    NotFinite {
        /// The week.
        week: u32,
        /// Which value.
        what: &'static str,
        /// The value.
        value: f64,
    },
    /// Drawing or writing failed.
    #[error(transparent)]
    Chart(#[from] ChartError),
}

const WIDTH: u32 = 960;
const HEIGHT: u32 = 760;
const LOAD: RGBColor = RGBColor(31, 119, 180);
const CPU: RGBColor = RGBColor(255, 127, 14);
const SIM: RGBColor = RGBColor(44, 160, 44);
const LIVE: RGBColor = RGBColor(148, 103, 189);
const RECOMMENDED: RGBColor = RGBColor(23, 190, 207);
/// Top of the CPU (right) axis, percent: headroom above 100%.
const CPU_AXIS_MAX: f64 = 105.0;

/// Axis and legend texts (also what tests look for).
pub mod labels {
    /// Shared x axis.
    pub const WEEK: &str = "week";
    /// Top panel, left axis.
    pub const LOAD: &str = "peak load (req/s)";
    /// Top panel, right axis.
    pub const CPU: &str = "CPU (%)";
    /// Bottom panel, left axis.
    pub const P95: &str = "p95 latency (s)";
}

/// Draws the chart as an SVG document.
pub fn render_svg(chart: &PlanChart) -> Result<String, PlanChartError> {
    check(chart)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let root = root.titled(&chart.title, ("sans-serif", 24)).map_err(draw_err)?;
        let (top, bottom) = root.split_vertically(HEIGHT / 2 - 20);
        draw_load_panel(&top, chart)?;
        draw_latency_panel(&bottom, chart)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// Draws the chart and writes it to `path` atomically.
pub fn write_svg(path: &Path, chart: &PlanChart) -> Result<(), PlanChartError> {
    let svg = render_svg(chart)?;
    crate::report::write_atomic(path, svg.as_bytes()).map_err(ChartError::from)?;
    Ok(())
}

fn check(chart: &PlanChart) -> Result<(), PlanChartError> {
    if chart.weeks.is_empty() {
        return Err(PlanChartError::Empty);
    }
    for w in &chart.weeks {
        let values = [
            ("peak_rate_per_s", Some(w.peak_rate_per_s)),
            ("cpu", Some(w.cpu)),
            ("p95_s_sim", Some(w.p95_s_sim)),
            ("p95_s_live", w.p95_s_live),
            ("recommended_cpu", w.recommended_cpu),
            ("recommended_p95_s", w.recommended_p95_s),
        ];
        if let Some((what, Some(value))) = values.into_iter().find(|(_, v)| v.is_some_and(|v| !v.is_finite())) {
            return Err(PlanChartError::NotFinite { week: w.week, what, value });
        }
    }
    Ok(())
}

fn week_range(chart: &PlanChart) -> std::ops::Range<f64> {
    let first = chart.weeks.iter().map(|w| w.week).min().unwrap_or(1);
    let last = chart.weeks.iter().map(|w| w.week).max().unwrap_or(1);
    f64::from(first) - 0.5..f64::from(last) + 0.5
}

fn week_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("W{}", x.round())
    } else {
        String::new()
    }
}

fn draw_load_panel(area: &DrawingArea<SVGBackend<'_>, Shift>, chart: &PlanChart) -> Result<(), PlanChartError> {
    let xs = week_range(chart);
    let max_rate = chart.weeks.iter().map(|w| w.peak_rate_per_s).fold(0.0, f64::max).max(1e-9) * 1.2;
    let mut c = ChartBuilder::on(area)
        .caption("Peak load and CPU per week", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .right_y_label_area_size(64)
        .build_cartesian_2d(xs.clone(), 0.0..max_rate)
        .map_err(draw_err)?
        .set_secondary_coord(xs.clone(), 0.0..CPU_AXIS_MAX);
    c.configure_mesh()
        .x_desc(labels::WEEK)
        .y_desc(labels::LOAD)
        .x_labels(chart.weeks.len() * 2 + 1)
        .x_label_formatter(&week_label)
        .draw()
        .map_err(draw_err)?;
    c.configure_secondary_axes().y_desc(labels::CPU).draw().map_err(draw_err)?;
    let load: Vec<(f64, f64)> = chart.weeks.iter().map(|w| (f64::from(w.week), w.peak_rate_per_s)).collect();
    c.draw_series(LineSeries::new(load.clone(), LOAD.stroke_width(2)))
        .map_err(draw_err)?
        .label(labels::LOAD)
        .legend(legend_line(LOAD));
    c.draw_series(load.iter().map(|&p| Circle::new(p, 4, LOAD.filled()))).map_err(draw_err)?;
    let cpu: Vec<(f64, f64)> = chart.weeks.iter().map(|w| (f64::from(w.week), 100.0 * w.cpu)).collect();
    c.draw_secondary_series(LineSeries::new(cpu.clone(), CPU.stroke_width(2)))
        .map_err(draw_err)?
        .label("CPU (%), current size")
        .legend(legend_line(CPU));
    c.draw_secondary_series(cpu.iter().map(|&p| Circle::new(p, 4, CPU.filled()))).map_err(draw_err)?;
    let rec: Vec<(f64, f64)> =
        chart.weeks.iter().filter_map(|w| w.recommended_cpu.map(|v| (f64::from(w.week), 100.0 * v))).collect();
    if !rec.is_empty() {
        c.draw_secondary_series(LineSeries::new(rec.clone(), RECOMMENDED.stroke_width(2)))
            .map_err(draw_err)?
            .label("CPU (%), recommended size")
            .legend(legend_line(RECOMMENDED));
        c.draw_secondary_series(rec.iter().map(|&p| TriangleMarker::new(p, 5, RECOMMENDED.filled())))
            .map_err(draw_err)?;
    }
    for (label, threshold) in &chart.cpu_thresholds {
        let pct = 100.0 * threshold;
        // Both y axes span the same pixels: the CPU percentage as a primary (load) coordinate.
        draw_threshold(&mut c, pct / CPU_AXIS_MAX * max_rate, &format!("{label} ({pct:.0}%)"), THRESHOLD)?;
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| draw_err(e).into())
}

fn draw_latency_panel(area: &DrawingArea<SVGBackend<'_>, Shift>, chart: &PlanChart) -> Result<(), PlanChartError> {
    let xs = week_range(chart);
    let all = chart.weeks.iter().flat_map(|w| [Some(w.p95_s_sim), w.p95_s_live, w.recommended_p95_s]).flatten();
    let max_s = all.chain(chart.slo_p95_s).fold(0.0, f64::max).max(1e-9) * 1.2;
    let mut c = ChartBuilder::on(area)
        .caption("p95 latency per week against the SLO", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .right_y_label_area_size(64)
        .build_cartesian_2d(xs.clone(), 0.0..max_s)
        .map_err(draw_err)?;
    c.configure_mesh()
        .x_desc(labels::WEEK)
        .y_desc(labels::P95)
        .x_labels(chart.weeks.len() * 2 + 1)
        .x_label_formatter(&week_label)
        .draw()
        .map_err(draw_err)?;
    let sim: Vec<(f64, f64)> = chart.weeks.iter().map(|w| (f64::from(w.week), w.p95_s_sim)).collect();
    c.draw_series(LineSeries::new(sim.clone(), SIM.stroke_width(2)))
        .map_err(draw_err)?
        .label("p95 simulated, current size")
        .legend(legend_line(SIM));
    c.draw_series(sim.iter().map(|&p| Circle::new(p, 4, SIM.filled()))).map_err(draw_err)?;
    let live: Vec<(f64, f64)> =
        chart.weeks.iter().filter_map(|w| w.p95_s_live.map(|v| (f64::from(w.week), v))).collect();
    if !live.is_empty() {
        c.draw_series(live.iter().map(|&p| Cross::new(p, 6, LIVE.stroke_width(3))))
            .map_err(draw_err)?
            .label("p95 live")
            .legend(|(x, y)| Cross::new((x + 10, y), 5, LIVE.stroke_width(3)));
    }
    let rec: Vec<(f64, f64)> =
        chart.weeks.iter().filter_map(|w| w.recommended_p95_s.map(|v| (f64::from(w.week), v))).collect();
    if !rec.is_empty() {
        c.draw_series(LineSeries::new(rec.clone(), RECOMMENDED.stroke_width(2)))
            .map_err(draw_err)?
            .label("p95 simulated, recommended size")
            .legend(legend_line(RECOMMENDED));
        c.draw_series(rec.iter().map(|&p| TriangleMarker::new(p, 5, RECOMMENDED.filled()))).map_err(draw_err)?;
    }
    if let Some(slo) = chart.slo_p95_s {
        draw_threshold(&mut c, slo, &slo_label(slo), THRESHOLD)?;
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| draw_err(e).into())
}

/// The SLO line's label, e.g. `SLO: p95 < 45 s`.
pub fn slo_label(slo_p95_s: f64) -> String {
    format!("SLO: p95 < {slo_p95_s} s")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> PlanChart {
        let week = |week: u32, rate: f64, cpu: f64, p95: f64, live: Option<f64>| ChartWeek {
            week,
            peak_rate_per_s: rate,
            cpu,
            p95_s_sim: p95,
            p95_s_live: live,
            recommended_cpu: Some(cpu * 0.6),
            recommended_p95_s: Some(p95.min(30.0)),
        };
        PlanChart {
            title: "Midnight growth <+50%/week> & \"four\" weeks".into(),
            weeks: vec![
                week(1, 2.0, 0.45, 25.0, Some(26.0)),
                week(2, 3.0, 0.65, 31.0, None),
                week(3, 4.5, 0.82, 40.0, Some(41.5)),
                week(4, 6.8, 0.98, 95.0, None),
            ],
            cpu_thresholds: vec![("CPU > 70% sustained".into(), 0.7)],
            slo_p95_s: Some(45.0),
        }
    }

    fn texts(svg: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed XML: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(|t| t.trim().to_owned()))
            .collect()
    }

    #[test]
    fn svg_is_well_formed_and_carries_axis_threshold_and_slo_labels() {
        let svg = render_svg(&chart()).unwrap_or_else(|e| panic!("{e}"));
        let t = texts(&svg);
        for want in
            [labels::WEEK, labels::LOAD, labels::CPU, labels::P95, "SLO: p95 < 45 s", "CPU > 70% sustained (70%)"]
        {
            assert!(t.iter().any(|s| s == want), "no text {want:?} in {t:?}");
        }
        assert!(t.iter().any(|s| s == "W1") && t.iter().any(|s| s == "W4"), "week ticks: {t:?}");
        assert!(t.iter().any(|s| s == "p95 live") && t.iter().any(|s| s == "CPU (%), recommended size"));
        assert!(t.iter().any(|s| s.contains("<+50%/week> & \"four\"")), "title escaped and kept: {t:?}");
    }

    #[test]
    fn optional_series_may_be_absent_and_bad_values_are_refused() {
        let mut c = chart();
        for w in &mut c.weeks {
            (w.p95_s_live, w.recommended_cpu, w.recommended_p95_s) = (None, None, None);
        }
        c.slo_p95_s = None;
        c.cpu_thresholds.clear();
        let t = texts(&render_svg(&c).unwrap_or_else(|e| panic!("{e}")));
        assert!(!t.iter().any(|s| s.starts_with("SLO")) && !t.iter().any(|s| s == "p95 live"));
        c.weeks[1].cpu = f64::NAN;
        assert!(matches!(render_svg(&c), Err(PlanChartError::NotFinite { week: 2, what: "cpu", .. })));
        c.weeks.clear();
        assert!(matches!(render_svg(&c), Err(PlanChartError::Empty)));
    }

    #[test]
    fn write_svg_writes_the_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("plan.svg");
        write_svg(&path, &chart()).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(texts(&text).iter().any(|s| s == labels::P95));
    }
}
