//! `gameday gate SCENARIO --baseline FILE`: the CI regression gate.
//!
//! Runs the scenario, then compares each tracked percentile of each request kind with a
//! committed baseline (a `results.json` of an earlier run, `--update-baseline` writes one).
//! The comparison is over per-interval percentiles, one value per recording interval, with
//! a one-sided rank test whose null hypothesis includes the tolerance ([`stats`]): a run
//! fails for a regression only when the slowdown beyond the tolerance is unlikely to be
//! noise at the scenario's false-alarm rate. An SLO that fails fails the gate too.
//!
//! Everything that can be refused is refused before the load starts: a missing baseline,
//! one from another scenario or schema version (exit 2), an unwritable `--out` (exit 3).

pub mod stats;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::report::doc::{verdict_word, Check, Doc, Status, Table};
use crate::report::results::{ReportKind, Results, RunVerdict, SCHEMA_VERSION};
use crate::report::section::{Extended, Section};
pub use crate::resolve::gate::validate;
use crate::run::{self, RunOptions, Settings};
pub use crate::spec::gate::{GateSpec, TRACKABLE};
use crate::{Error, Exit};

/// One tracked percentile of one request kind, compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Request kind.
    pub request: String,
    /// Percentile (`p95`).
    pub percentile: String,
    /// Intervals compared from the baseline.
    pub baseline_intervals: usize,
    /// Intervals compared from this run.
    pub current_intervals: usize,
    /// Median of the baseline's per-interval values, ms.
    pub baseline_median_ms: Option<f64>,
    /// Median of this run's per-interval values, ms.
    pub current_median_ms: Option<f64>,
    /// Estimated change (Hodges-Lehmann), `0.10` = 10% slower.
    pub change: Option<f64>,
    /// Confidence interval of the change at `1 - false_alarm_rate`.
    pub change_interval: Option<(f64, f64)>,
    /// p-value of "no slowdown beyond the tolerance".
    pub p_value: Option<f64>,
    /// Whether this percentile regressed beyond the tolerance.
    pub regressed: bool,
    /// Why it could not be compared, when it could not.
    pub not_compared: Option<String>,
}

impl Comparison {
    /// One line for a person: what changed, by how much, with what confidence.
    pub fn describe(&self, tolerance: f64, alpha: f64) -> String {
        let what = format!("{} {}", self.request, self.percentile);
        if let Some(why) = &self.not_compared {
            return format!("{what}: not compared: {why}");
        }
        let (Some(change), Some((lo, hi)), Some(p)) = (self.change, self.change_interval, self.p_value) else {
            return format!("{what}: not compared");
        };
        let (b, c) = (self.baseline_median_ms.unwrap_or(f64::NAN), self.current_median_ms.unwrap_or(f64::NAN));
        let verdict = if self.regressed { "REGRESSED" } else { "ok" };
        format!(
            "{what}: {verdict}: {:+.1}% ({:.0}% CI {:+.1}%..{:+.1}%; median {b:.2} -> {c:.2} ms) against a {:.0}% tolerance; p = {p:.2e} {} {alpha} over {} vs {} intervals",
            change * 100.0,
            (1.0 - alpha) * 100.0,
            lo * 100.0,
            hi * 100.0,
            tolerance * 100.0,
            if self.regressed { "<" } else { ">=" },
            self.baseline_intervals,
            self.current_intervals,
        )
    }
}

/// The gate's section of `results.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateJudgement {
    /// The baseline file.
    pub baseline: String,
    /// When the baseline ran.
    pub baseline_started_at: String,
    /// The tolerance, as a ratio.
    pub tolerance: f64,
    /// The false-alarm rate.
    pub false_alarm_rate: f64,
    /// One per tracked percentile per request kind.
    pub comparisons: Vec<Comparison>,
    /// Whether at least one tracked percentile was compared and none regressed.
    pub pass: bool,
}

impl GateJudgement {
    /// One line per regression.
    pub fn failures(&self) -> Vec<String> {
        let (t, a) = (self.tolerance, self.false_alarm_rate);
        self.comparisons.iter().filter(|c| c.regressed).map(|c| c.describe(t, a)).collect()
    }
}

/// Why a baseline cannot be used (bad usage: exit 2), or not written (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The baseline file cannot be read; the message says how to create it.
    #[error("baseline {}: {source}; create it from a good run with `gameday gate {} --baseline {} --update-baseline` and commit it", path.display(), scenario_file.display(), path.display())]
    Unreadable {
        /// The baseline file.
        path: PathBuf,
        /// The scenario file the hint names.
        scenario_file: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not JSON, or not a results.json of this schema.
    #[error("baseline {}: not a results.json: {source}", path.display())]
    NotResults {
        /// The baseline file.
        path: PathBuf,
        /// What serde refused.
        source: serde_json::Error,
    },
    /// Written by another schema version (`found` is `None` when the field is missing).
    #[error("baseline {}: field `schema_version` is {}, this gameday reads {SCHEMA_VERSION}; re-create the baseline with --update-baseline", path.display(), found.map_or("none".to_owned(), |v| v.to_string()))]
    Schema {
        /// The baseline file.
        path: PathBuf,
        /// Its `schema_version`.
        found: Option<u64>,
    },
    /// The baseline is another scenario's.
    #[error("baseline {}: field `scenario` is `{found}`, but this scenario is `{scenario}`: the baseline belongs to another scenario", path.display())]
    OtherScenario {
        /// The baseline file.
        path: PathBuf,
        /// The baseline's scenario.
        found: String,
        /// This run's scenario.
        scenario: String,
    },
    /// The new baseline could not be serialised.
    #[error("cannot serialise the baseline: {0}")]
    Serialise(serde_json::Error),
}

impl BaselineError {
    /// The exit code: a baseline that cannot be used is bad usage; one that cannot be
    /// written is a failed run.
    pub fn exit(&self) -> crate::Exit {
        match self {
            Self::Serialise(_) => crate::Exit::RunFailed,
            _ => crate::Exit::Usage,
        }
    }
}

/// Reads a baseline and checks it belongs to `scenario` and this schema (exit 2 otherwise).
pub fn load_baseline(path: &Path, scenario: &str, scenario_file: &Path) -> Result<Results, BaselineError> {
    let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Unreadable {
        path: path.to_path_buf(),
        scenario_file: scenario_file.to_path_buf(),
        source,
    })?;
    let not_results = |source| BaselineError::NotResults { path: path.to_path_buf(), source };
    let head: serde_json::Value = serde_json::from_str(&text).map_err(not_results)?;
    let version = head.get("schema_version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(SCHEMA_VERSION)) {
        return Err(BaselineError::Schema { path: path.to_path_buf(), found: version });
    }
    let baseline: Results = serde_json::from_value(head).map_err(not_results)?;
    if baseline.scenario != scenario {
        let (found, scenario) = (baseline.scenario, scenario.to_owned());
        return Err(BaselineError::OtherScenario { path: path.to_path_buf(), found, scenario });
    }
    Ok(baseline)
}

/// Compares `current` with `baseline` for every tracked percentile of every tracked kind.
pub fn compare(spec: &GateSpec, baseline: &Results, current: &Results, baseline_file: &Path) -> GateJudgement {
    let kinds: Vec<&str> = if spec.requests.is_empty() {
        current.requests.iter().map(|r| r.name.as_str()).collect()
    } else {
        spec.requests.iter().map(String::as_str).collect()
    };
    let mut comparisons = Vec::new();
    for kind in kinds {
        for q in &spec.track {
            comparisons.push(compare_one(spec, kind, q, baseline, current));
        }
    }
    GateJudgement {
        baseline: baseline_file.display().to_string(),
        baseline_started_at: baseline.started_at.clone(),
        tolerance: spec.tolerance.0,
        false_alarm_rate: spec.false_alarm_rate,
        pass: comparisons.iter().all(|c| !c.regressed) && comparisons.iter().any(|c| c.not_compared.is_none()),
        comparisons,
    }
}

fn compare_one(spec: &GateSpec, kind: &str, q: &str, baseline: &Results, current: &Results) -> Comparison {
    let b = per_interval(baseline, kind, q, spec.min_samples_per_interval);
    let c = per_interval(current, kind, q, spec.min_samples_per_interval);
    let mut out = Comparison {
        request: kind.to_owned(),
        percentile: q.to_owned(),
        baseline_intervals: b.len(),
        current_intervals: c.len(),
        baseline_median_ms: median(&b),
        current_median_ms: median(&c),
        change: None,
        change_interval: None,
        p_value: None,
        regressed: false,
        not_compared: None,
    };
    match stats::compare(&b, &c, spec.tolerance.0, spec.false_alarm_rate) {
        Ok(s) => {
            out.change = Some(s.change);
            out.change_interval = Some((s.change_low, s.change_high));
            out.p_value = Some(s.p_value);
            out.regressed = s.regressed;
        }
        Err(e) => {
            out.not_compared =
                Some(format!("{e} (intervals with at least {} `{kind}` requests)", spec.min_samples_per_interval))
        }
    }
    out
}

/// Kind `kind`'s percentile `q` (ms) in every interval with at least `min` requests.
fn per_interval(r: &Results, kind: &str, q: &str, min: u64) -> Vec<f64> {
    r.requests
        .iter()
        .filter(|k| k.name == kind)
        .flat_map(|k| &k.intervals)
        .filter(|i| i.count >= min)
        .filter_map(|i| i.latency_ms.get(q).copied())
        .collect()
}

fn median(xs: &[f64]) -> Option<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    (n > 0).then(|| if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// What `gameday gate` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct GateOptions {
    /// The run (scenario, `--out`, targets, overrides).
    pub run: RunOptions,
    /// The baseline file.
    pub baseline: PathBuf,
    /// Write the baseline from this run instead of comparing.
    pub update_baseline: bool,
}

/// What a gate run hands back.
#[derive(Debug)]
pub struct GateOutcome {
    /// The run's results, with the gate's section (`None` when updating the baseline).
    pub results: GateResults,
    /// The output directory.
    pub out: PathBuf,
    /// The exit code.
    pub exit: Exit,
    /// Whether the baseline was written.
    pub baseline_written: bool,
}

/// Runs `gameday gate`.
pub async fn gate(opts: &GateOptions) -> Result<GateOutcome, Error> {
    let settings = Settings::resolve(&opts.run)?;
    let s = &settings.scenario;
    let spec = s.gate.clone().unwrap_or_default();
    let baseline = match opts.update_baseline {
        true => {
            crate::report::prepare_out_dir(parent_dir(&opts.baseline))?;
            None
        }
        false => Some(load_baseline(&opts.baseline, &s.name, &opts.run.scenario)?),
    };
    let (mut results, _) = run::execute(&settings, &opts.run).await?;
    results.kind = ReportKind::Gate;
    let mut baseline_written = false;
    let mut section = GateSection::default();
    if let Some(b) = &baseline {
        let g = compare(&spec, b, &results, &opts.baseline);
        section = apply(&mut results, g);
    } else if results.verdict != RunVerdict::Invalid {
        // A baseline gates only if a run like this one could be compared with it: the
        // run against itself shows whether any tracked percentile has enough intervals.
        match nothing_compared(&compare(&spec, &results, &results, &opts.baseline)) {
            Some(why) => {
                results.verdict = RunVerdict::Invalid;
                results.reasons.push(format!("the baseline was not written: it could not gate any run: {why}"));
            }
            None => {
                let json = serde_json::to_vec_pretty(&results).map_err(BaselineError::Serialise)?;
                let dir = parent_dir(&opts.baseline);
                std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
                crate::report::write_atomic(&opts.baseline, &json)?;
                baseline_written = true;
            }
        }
    }
    let results = Extended { run: results, ext: section };
    crate::report::write_run_outputs(&settings.out, &results)?;
    let exit = run::exit_of(results.run.verdict);
    Ok(GateOutcome { results, out: settings.out.clone(), exit, baseline_written })
}

/// Why nothing in `g` was compared, when no tracked percentile could be (too few
/// qualifying intervals on either side): such a gate has checked nothing.
pub fn nothing_compared(g: &GateJudgement) -> Option<String> {
    if g.comparisons.iter().any(|c| c.not_compared.is_none()) {
        return None;
    }
    let first = g.comparisons.first().and_then(|c| c.not_compared.clone());
    Some(
        first.map_or_else(
            || "no percentile is tracked".to_owned(),
            |why| format!("every tracked percentile, e.g.: {why}"),
        ),
    )
}

/// `gameday gate`'s section of `results.json`: the comparison with the baseline (absent
/// when the run wrote the baseline instead).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GateSection {
    /// The comparison with the baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateJudgement>,
}

/// The results file of a gate run.
pub type GateResults = Extended<GateSection>;

impl Section for GateSection {
    fn add_to(&self, doc: &mut Doc) {
        let Some(g) = &self.gate else { return };
        let mut t = Table::new(
            &format!(
                "Gate against {} ({:.0}% tolerance, false-alarm rate {})",
                g.baseline,
                g.tolerance * 100.0,
                g.false_alarm_rate
            ),
            &["request", "percentile", "baseline", "current", "change", "interval", "p-value", "verdict"],
        );
        for c in &g.comparisons {
            let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2} ms"));
            let pct = |v: f64| format!("{:+.1}%", v * 100.0);
            t.push(vec![
                c.request.clone(),
                c.percentile.clone(),
                ms(c.baseline_median_ms),
                ms(c.current_median_ms),
                c.change.map_or("-".into(), pct),
                c.change_interval.map_or("-".into(), |(lo, hi)| format!("{} .. {}", pct(lo), pct(hi))),
                c.p_value.map_or("-".into(), |p| format!("{p:.2e}")),
                verdict_word(c.not_compared.is_none().then_some(!c.regressed)).into(),
            ]);
            doc.checks.push(Check {
                suite: "gate".into(),
                name: format!("{} {} within {:.0}% of the baseline", c.request, c.percentile, g.tolerance * 100.0),
                status: match (&c.not_compared, c.regressed) {
                    (Some(_), _) => Status::Skipped,
                    (None, true) => Status::Fail,
                    (None, false) => Status::Pass,
                },
                message: c.describe(g.tolerance, g.false_alarm_rate),
            });
        }
        doc.tables.push(t);
    }
}

/// Folds the gate's verdict into the run's: a regression fails a run that was passing,
/// and a gate that compared nothing makes the run invalid (it cannot be trusted to pass).
fn apply(results: &mut Results, g: GateJudgement) -> GateSection {
    let failures = g.failures();
    if let Some(why) = nothing_compared(&g) {
        if results.verdict != RunVerdict::Invalid {
            results.verdict = RunVerdict::Invalid;
            results.reasons.push(format!("gate: nothing was compared with the baseline: {why}"));
        }
    }
    if results.verdict == RunVerdict::Pass && !failures.is_empty() {
        results.verdict = RunVerdict::Fail;
    }
    if results.verdict != RunVerdict::Invalid {
        results.reasons.extend(failures.into_iter().map(|f| format!("gate: {f}")));
    }
    GateSection { gate: Some(g) }
}

fn parent_dir(p: &Path) -> &Path {
    p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}
