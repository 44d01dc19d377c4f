//! Calibration against a synthetic table made by the simulator from known parameters
//! (with other seeds than the fit's, so the fit sees sampling noise as it would see a
//! real table's), the table reader, and the residual printout.

use std::time::Duration;

use gameday_mocks::services::midnight;

use super::*;
use crate::capacity::sim::{simulate, SimOptions};
use crate::capacity::stream::of_kind;
use crate::capacity::tally::Window;
use crate::load::arrival::{Process, RateCurve, Schedule};

const DAYS: u64 = 4;

/// Each week as Poisson `prove` arrivals at `volume_per_day / 86400` for `DAYS` days;
/// CPU and p95 over those days.
fn predict_with(
    volumes: &[f64],
    seed: u64,
) -> impl FnMut(&SimModel) -> Result<Vec<PredictedWeek>, CalibrateError> + '_ {
    move |model: &SimModel| {
        let prove = model.kind_index("prove").unwrap_or(1);
        let horizon = Duration::from_secs(DAYS * 86_400);
        let options = SimOptions {
            seed: seed + 1,
            interval: Duration::from_secs(3600),
            windows: vec![Window { start: Duration::ZERO, end: horizon }],
        };
        let mut out = Vec::new();
        for (i, v) in volumes.iter().enumerate() {
            let rate: crate::load::arrival::Rate = format!("{}/s", v / 86_400.0)
                .parse()
                .map_err(|e: crate::load::arrival::RateError| CalibrateError::Predict(Box::new(e)))?;
            let times = Schedule::new(RateCurve::Constant(rate), Process::Poisson, seed + i as u64 * 7, horizon);
            let r = simulate(model, of_kind(times, prove), &options)?;
            let p95_s = r.windows[0].tally.kinds[prove].quantile(0.95).as_secs_f64();
            out.push(PredictedWeek { cpu: r.window_cpu(0), p95_s });
        }
        Ok(out)
    }
}

/// Volumes that load Midnight's 8 workers from about a quarter to three quarters.
const VOLUMES: [f64; 4] = [10_000.0, 15_000.0, 21_000.0, 28_000.0];
const TRUE_BASE: f64 = 0.2;
const TRUE_SCALE: f64 = 1.3;

fn synthetic_table(with_p95: bool) -> Vec<ObservedWeek> {
    let truth = SimModel::midnight(&midnight::Profile::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .with_base_cpu(TRUE_BASE)
        .with_cost_scale(TRUE_SCALE);
    let observed = predict_with(&VOLUMES, 1_000)(&truth).unwrap_or_else(|e| panic!("{e}"));
    VOLUMES
        .iter()
        .zip(observed)
        .enumerate()
        .map(|(i, (&v, p))| ObservedWeek {
            week: i as u32 + 1,
            volume_per_day: v,
            peak_rate_per_s: None,
            cpu: p.cpu,
            p95_s: with_p95.then_some(p.p95_s),
        })
        .collect()
}

fn check_recovery(with_p95: bool) {
    let table = synthetic_table(with_p95);
    let base = midnight::Profile::default();
    let c = calibrate_midnight(&base, &table, predict_with(&VOLUMES, 5)).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{}", render_residuals(&c));
    let (b, s) = (c.params[0].value, c.params[1].value);
    assert!((b - TRUE_BASE).abs() < 0.01, "base_cpu {b} vs {TRUE_BASE}");
    assert!((s / TRUE_SCALE - 1.0).abs() < 0.03, "cost_scale {s} vs {TRUE_SCALE}");
    assert!(c.max_abs_cpu_points < 1.5, "max residual {}", c.max_abs_cpu_points);
    // The calibrated profile carries the fit: its base CPU, and service times scaled.
    assert_eq!(c.profile.base_cpu, b);
    let want = base.service_time.prove.mean_secs() * s;
    assert!((c.profile.service_time.prove.mean_secs() / want - 1.0).abs() < 1e-6);
    // And it reproduces the table when simulated as a profile (not as model knobs).
    let again = predict_with(&VOLUMES, 5)(&SimModel::midnight(&c.profile).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    for (w, p) in c.weeks.iter().zip(&again) {
        assert!((p.cpu - w.predicted_cpu).abs() < 0.005, "week {}: {} vs {}", w.week, p.cpu, w.predicted_cpu);
    }
}

#[test]
fn cpu_only_table_recovers_base_cpu_and_cost_scale() {
    check_recovery(false);
}

#[test]
fn cpu_and_p95_table_recovers_base_cpu_and_cost_scale() {
    check_recovery(true);
}

#[test]
fn too_few_weeks_is_an_error_naming_the_table_and_parameters() {
    let table = synthetic_week_table();
    let one = &table[..1];
    let e = calibrate_midnight(&midnight::Profile::default(), one, predict_with(&VOLUMES, 5)).err();
    let msg = e.map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("calibration table") && msg.contains("base_cpu, cost_scale"), "{msg}");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("weeks.csv");
    std::fs::write(&path, "week,volume_per_day,cpu_percent\n1,1000,45\n").unwrap_or_else(|e| panic!("{e}"));
    let msg = load_table(&path).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("weeks.csv") && msg.contains("1 observed week"), "{msg}");
}

fn synthetic_week_table() -> Vec<ObservedWeek> {
    vec![ObservedWeek { week: 1, volume_per_day: 1000.0, peak_rate_per_s: None, cpu: 0.45, p95_s: None }]
}

#[test]
fn table_reads_percent_signs_optional_columns_and_blank_cells() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("midnight.csv");
    let text = "# the runbook's table\nweek, volume_per_day, peak_rps, cpu_percent, p95_s\n\
                1,1000,2,45%,\n2,1500,3,65,30.5\n\n3,2200,,82 %,41\n";
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    let weeks = load_table(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        weeks,
        vec![
            ObservedWeek { week: 1, volume_per_day: 1000.0, peak_rate_per_s: Some(2.0), cpu: 0.45, p95_s: None },
            ObservedWeek { week: 2, volume_per_day: 1500.0, peak_rate_per_s: Some(3.0), cpu: 0.65, p95_s: Some(30.5) },
            ObservedWeek { week: 3, volume_per_day: 2200.0, peak_rate_per_s: None, cpu: 0.82, p95_s: Some(41.0) },
        ]
    );
    // Columns in another order, no optional ones.
    let weeks =
        parse_table(&path, "cpu_percent,week,volume_per_day\n50,1,10\n60,2,20\n").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((weeks[1].week, weeks[1].cpu, weeks[1].p95_s), (2, 0.6, None));
}

#[test]
fn table_errors_name_file_line_and_column() {
    let p = Path::new("obs.csv");
    let cases = [
        ("week,volume_per_day,cpu_percent\n1,1000,45\n2,abc,50\n", "obs.csv:3: column volume_per_day", "not a number"),
        ("week,volume_per_day,cpu_percent\n1,1000,145%\n", "obs.csv:2: column cpu_percent", "more than 100%"),
        ("week,volume_per_day,cpu_percent\n1,-5,45\n", "obs.csv:2: column volume_per_day", "greater than zero"),
        ("week,volume_per_day,cpu_percent\n1,1000\n", "obs.csv:2: column 3", "2 cells"),
        ("week,volume,cpu_percent\n", "obs.csv:1: column volume", "unknown column"),
        ("week,volume_per_day\n", "obs.csv:1: column cpu_percent", "missing column"),
        ("week,volume_per_day,cpu_percent,p95_s\n1,1000,45,soon\n", "obs.csv:2: column p95_s", "not a number"),
        ("\n# nothing\n", "obs.csv:1: column (header)", "empty table"),
    ];
    for (text, at, what) in cases {
        let msg = parse_table(p, text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.starts_with(at) && msg.contains(what), "{text:?}: {msg}");
    }
    let msg = load_table(Path::new("/nonexistent/obs.csv")).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.starts_with("/nonexistent/obs.csv"), "{msg}");
}

#[test]
fn residual_printout_shows_each_week_and_the_worst_residual() {
    let week = |week, obs: f64, pred: f64, p95: Option<f64>| WeekResidual {
        week,
        volume_per_day: 1000.0 * f64::from(week),
        observed_cpu: obs,
        predicted_cpu: pred,
        cpu_points: 100.0 * (pred - obs),
        observed_p95_s: p95,
        predicted_p95_s: 40.0,
    };
    let c = Calibration {
        profile: midnight::Profile::default(),
        params: vec![
            FittedParam { name: "base_cpu".into(), value: 0.25 },
            FittedParam { name: "cost_scale".into(), value: 1.1 },
        ],
        weeks: vec![week(1, 0.45, 0.475, Some(32.0)), week(2, 0.98, 0.93, None)],
        max_abs_cpu_points: 5.0,
        rmse: 3.9,
        iterations: 7,
    };
    let text = render_residuals(&c);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "calibrated: base_cpu = 0.2500, cost_scale = 1.1000 (7 iterations, rmse 3.90)");
    // By hand: 47.5 - 45 = +2.5 points; p95 40 vs 32 is +25%; week 2: 93 - 98 = -5 points.
    assert_eq!(lines[2], "   1          1000     45.0%     47.5%    +2.5 pt     32.00s     40.00s    +25.0%");
    assert_eq!(lines[3], "   2          2000     98.0%     93.0%    -5.0 pt          -     40.00s         -");
    assert_eq!(lines[4], "max |cpu residual| 5.0 points");
    assert!(lines[1].contains("cpu obs") && lines[1].contains("p95 err"));
}
