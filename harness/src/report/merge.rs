//! `gameday merge`: the results of several shards of one run (the same scenario, driven
//! from several machines or processes) as one results file.
//!
//! Exact where the data allows it: request kinds are matched by name, counts summed,
//! the whole-run and per-interval HDR histograms added (`Histogram::add` is lossless;
//! intervals matched by `start_s`) and every percentile recomputed from the sums. What a
//! results file does not hold enough data to recompute is kept from an input and said
//! so in `observation_problems`:
//! - `latency_by_outcome_ms`: per-outcome histograms are not in results files. An
//!   outcome's percentiles are kept when one input alone had that outcome for the kind,
//!   or recomputed from the merged histogram when every request of the kind had that
//!   outcome; otherwise dropped.
//! - SLOs: the whole-run objective of every SLO whose indicator is a percentile,
//!   `mean`, `max`, `error_ratio` or `availability` over one request kind or `*` is
//!   re-judged on the merged data with the verdict's `op` and `threshold`. Rolling
//!   windows, budgets and burn-rate alerts are kept from the first input that has the
//!   SLO, not re-judged; a window passes only if every input's window passed (the
//!   merged value of a window lies between the shards' values, so that is sound).
//! - alerts and triggers: every input's own verdicts, tagged `[#N]`, not re-judged.
//!
//! The verdict is the worst of the inputs' (invalid > fail > pass), their reasons
//! prefixed by the input's label, and at least `fail` when a re-judged SLO fails.

use std::collections::BTreeMap;
use std::fmt;

use hdrhistogram::Histogram;

use super::results::{
    decode_hdr, encode_hdr, percentiles_ms, IntervalSummary, ReportKind, RequestSummary, Results, RunVerdict,
};
use crate::load::record::new_histogram;
use crate::rules::{RuleVerdict, Verdict};
use crate::scenario::objective::format_seconds;
use crate::scenario::{Indicator, Op};

/// Why results cannot be merged.
#[derive(Debug, Clone, PartialEq)]
pub enum MergeError {
    /// Fewer than two inputs.
    TooFew(usize),
    /// An input is not a shard of the same run as the first one.
    Mismatch {
        /// The input (its label: a file name, or `input N`).
        input: String,
        /// The field that differs.
        field: String,
        /// The first input's value.
        expected: String,
        /// This input's value.
        found: String,
    },
    /// An input's data cannot be used (a histogram that does not decode, ...).
    Invalid {
        /// The input (its label).
        input: String,
        /// What is wrong, naming the field.
        what: String,
    },
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooFew(n) => write!(f, "merge needs at least 2 results files, got {n}"),
            Self::Mismatch { input, field, expected, found } => write!(
                f,
                "{input}: {field} is {found} but the first input's is {expected}: only shards of one run can be merged"
            ),
            Self::Invalid { input, what } => write!(f, "{input}: {what}"),
        }
    }
}

impl std::error::Error for MergeError {}

/// Merges shards labelled `input 1`, `input 2`, ... (see [`merge_labelled`]).
pub fn merge(inputs: &[Results]) -> Result<Results, MergeError> {
    merge_labelled(inputs, &[])
}

/// Merges the results of shards of one run; `labels[i]` names input `i` in errors,
/// reasons and notes (missing labels: `input N`).
pub fn merge_labelled(inputs: &[Results], labels: &[String]) -> Result<Results, MergeError> {
    let label = |i: usize| labels.get(i).cloned().unwrap_or_else(|| format!("input {}", i + 1));
    let [first, ..] = inputs else { return Err(MergeError::TooFew(0)) };
    if inputs.len() < 2 {
        return Err(MergeError::TooFew(inputs.len()));
    }
    for (i, r) in inputs.iter().enumerate().skip(1) {
        let mismatch = |field: &str, expected: String, found: String| MergeError::Mismatch {
            input: label(i),
            field: field.into(),
            expected,
            found,
        };
        if r.scenario != first.scenario {
            return Err(mismatch("scenario", format!("`{}`", first.scenario), format!("`{}`", r.scenario)));
        }
        if r.schema_version != first.schema_version {
            return Err(mismatch("schema_version", first.schema_version.to_string(), r.schema_version.to_string()));
        }
        if r.interval_s != first.interval_s {
            return Err(mismatch("interval_s", first.interval_s.to_string(), r.interval_s.to_string()));
        }
    }
    let mut notes = Vec::new();
    let kinds = merge_requests(inputs, &label, &mut notes)?;
    let requests: Vec<RequestSummary> = kinds.iter().map(|k| k.summary.clone()).collect();

    let (slos, slo_failures) = merge_slos(inputs, &kinds, &label, &mut notes);
    let tag_rules = |pick: fn(&Results) -> &Vec<RuleVerdict>| -> Vec<RuleVerdict> {
        inputs
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                pick(r).iter().map(move |v| RuleVerdict { name: format!("{} [#{}]", v.name, i + 1), ..v.clone() })
            })
            .collect()
    };
    let alerts = tag_rules(|r| &r.alerts);
    let triggers = tag_rules(|r| &r.triggers);
    if !alerts.is_empty() || !triggers.is_empty() {
        let names: Vec<String> = (0..inputs.len()).map(|i| format!("#{} = {}", i + 1, label(i))).collect();
        notes.push(format!(
            "alerts and triggers are each input's own verdicts ({}), not re-judged on the merged data",
            names.join(", ")
        ));
    }

    let mut verdict = RunVerdict::Pass;
    let mut reasons = Vec::new();
    for (i, r) in inputs.iter().enumerate() {
        verdict = worst(verdict, r.verdict);
        reasons.extend(r.reasons.iter().map(|reason| format!("{}: {reason}", label(i))));
    }
    if !slo_failures.is_empty() {
        verdict = worst(verdict, RunVerdict::Fail);
        reasons.extend(slo_failures);
    }

    let mut differs = |what: &str, values: Vec<String>| {
        let mut distinct = values.clone();
        distinct.dedup();
        if distinct.len() > 1 {
            notes.push(format!(
                "{what} differ between inputs ({}): the merged file keeps the first's",
                values.join(", ")
            ));
        }
    };
    differs("seeds", inputs.iter().map(|r| r.seed.to_string()).collect());
    differs("time scales", inputs.iter().map(|r| r.time_scale.to_string()).collect());
    differs("scenario files", inputs.iter().map(|r| r.scenario_file.clone()).collect());
    // The same machine (its load average aside, which moves between runs).
    let host =
        |m: &super::results::Machine| (m.hostname.clone(), m.os.clone(), m.arch.clone(), m.kernel.clone(), m.cpus);
    if inputs.iter().any(|r| host(&r.machine) != host(&first.machine)) {
        notes.push("the inputs ran on different machines: `machine` is the first input's".into());
    }
    let generator = inputs.iter().find_map(|r| r.generator.clone());
    if inputs.iter().filter(|r| r.generator.is_some()).count() > 1 {
        notes.push("`generator` is the first input's; each input's was judged in its own verdict".into());
    }

    let mut targets = BTreeMap::new();
    for r in inputs {
        for (k, v) in &r.targets {
            targets.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let mut observation_problems: Vec<String> = inputs
        .iter()
        .enumerate()
        .flat_map(|(i, r)| r.observation_problems.iter().map(move |p| (i, p)))
        .map(|(i, p)| format!("{}: {p}", label(i)))
        .collect();
    observation_problems.extend(notes);

    Ok(Results {
        schema_version: first.schema_version,
        kind: ReportKind::Merge,
        gameday_version: env!("CARGO_PKG_VERSION").to_owned(),
        scenario: first.scenario.clone(),
        scenario_file: first.scenario_file.clone(),
        seed: first.seed,
        time_scale: first.time_scale,
        started_at: earliest(inputs),
        machine: first.machine.clone(),
        interval_s: first.interval_s,
        wall_s: inputs.iter().map(|r| r.wall_s).fold(0.0, f64::max),
        simulated_s: inputs.iter().map(|r| r.simulated_s).fold(0.0, f64::max),
        targets,
        requests,
        slos,
        alerts,
        triggers,
        rule_step_s: first.rule_step_s,
        verdict,
        reasons,
        partial: inputs.iter().any(|r| r.partial),
        generator,
        observation_problems,
    })
}

fn worst(a: RunVerdict, b: RunVerdict) -> RunVerdict {
    let rank = |v| match v {
        RunVerdict::Pass => 0,
        RunVerdict::Fail => 1,
        RunVerdict::Invalid => 2,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// The earliest `started_at` that parses as RFC 3339 (else the first input's).
fn earliest(inputs: &[Results]) -> String {
    inputs
        .iter()
        .filter_map(|r| humantime::parse_rfc3339(&r.started_at).ok().map(|t| (t, &r.started_at)))
        .min_by_key(|(t, _)| *t)
        .map_or_else(|| inputs.first().map(|r| r.started_at.clone()).unwrap_or_default(), |(_, s)| s.clone())
}

/// One merged request kind: its summary and its merged whole-run histogram.
struct Kind {
    summary: RequestSummary,
    hist: Histogram<u64>,
}

fn add(into: &mut Histogram<u64>, text: &str, input: String, field: &str) -> Result<(), MergeError> {
    let h =
        decode_hdr(text).map_err(|e| MergeError::Invalid { input: input.clone(), what: format!("{field}: {e}") })?;
    into.add(&h).map_err(|e| MergeError::Invalid { input, what: format!("{field}: cannot add: {e:?}") })
}

/// A key for matching intervals by start (to the microsecond).
fn start_key(s: f64) -> i64 {
    (s * 1e6).round() as i64
}

fn merge_requests(
    inputs: &[Results],
    label: &dyn Fn(usize) -> String,
    notes: &mut Vec<String>,
) -> Result<Vec<Kind>, MergeError> {
    let mut names: Vec<&str> = Vec::new();
    for r in inputs {
        for q in &r.requests {
            if !names.contains(&q.name.as_str()) {
                names.push(&q.name);
            }
        }
    }
    let mut kinds = Vec::with_capacity(names.len());
    for name in names {
        let parts: Vec<(usize, &RequestSummary)> = inputs
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.requests.iter().find(|q| q.name == name).map(|q| (i, q)))
            .collect();
        let mut hist = new_histogram();
        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        let (mut count, mut ok) = (0, 0);
        let mut intervals: BTreeMap<i64, (IntervalSummary, Histogram<u64>)> = BTreeMap::new();
        for &(i, q) in &parts {
            count += q.count;
            ok += q.ok;
            for (e, n) in &q.errors {
                *errors.entry(e.clone()).or_default() += n;
            }
            add(&mut hist, &q.hdr, label(i), &format!("requests[`{name}`].hdr"))?;
            for iv in &q.intervals {
                let field = format!("requests[`{name}`].intervals[start_s {}]", iv.start_s);
                let (acc, h) = intervals.entry(start_key(iv.start_s)).or_insert_with(|| {
                    let empty = IntervalSummary { count: 0, ok: 0, errors: BTreeMap::new(), ..iv.clone() };
                    (empty, new_histogram())
                });
                if acc.length_s != iv.length_s {
                    return Err(MergeError::Mismatch {
                        input: label(i),
                        field: format!("{field}.length_s"),
                        expected: acc.length_s.to_string(),
                        found: iv.length_s.to_string(),
                    });
                }
                acc.count += iv.count;
                acc.ok += iv.ok;
                for (e, n) in &iv.errors {
                    *acc.errors.entry(e.clone()).or_default() += n;
                }
                add(h, &iv.hdr, label(i), &format!("{field}.hdr"))?;
            }
        }
        let intervals = intervals
            .into_values()
            .map(|(acc, h)| IntervalSummary {
                latency_ms: if h.is_empty() { BTreeMap::new() } else { percentiles_ms(&h) },
                hdr: encode_hdr(&h),
                ..acc
            })
            .collect();
        let by_outcome = by_outcome(name, &parts, &hist, count, ok, &errors, notes);
        let summary = RequestSummary {
            name: name.to_owned(),
            count,
            ok,
            errors,
            first_error: parts.iter().find_map(|(_, q)| q.first_error.clone()),
            latency_ms: if hist.is_empty() { BTreeMap::new() } else { percentiles_ms(&hist) },
            latency_by_outcome_ms: by_outcome,
            hdr: encode_hdr(&hist),
            intervals,
        };
        kinds.push(Kind { summary, hist });
    }
    Ok(kinds)
}

/// The per-outcome percentiles that can be had exactly (see the module doc).
fn by_outcome(
    name: &str,
    parts: &[(usize, &RequestSummary)],
    merged: &Histogram<u64>,
    count: u64,
    ok: u64,
    errors: &BTreeMap<String, u64>,
    notes: &mut Vec<String>,
) -> BTreeMap<String, BTreeMap<String, f64>> {
    let count_of = |q: &RequestSummary, o: &str| if o == "ok" { q.ok } else { q.errors.get(o).copied().unwrap_or(0) };
    let mut outcomes: Vec<(&str, u64)> = vec![("ok", ok)];
    outcomes.extend(errors.iter().map(|(e, n)| (e.as_str(), *n)));
    let mut out = BTreeMap::new();
    let mut dropped = Vec::new();
    for (o, n) in outcomes.into_iter().filter(|(_, n)| *n > 0) {
        let having: Vec<&RequestSummary> = parts.iter().map(|(_, q)| *q).filter(|q| count_of(q, o) > 0).collect();
        let alone = match having.as_slice() {
            [q] => q.latency_by_outcome_ms.get(o),
            _ => None,
        };
        if let Some(p) = alone {
            out.insert(o.to_owned(), p.clone());
        } else if n == count && !merged.is_empty() {
            out.insert(o.to_owned(), percentiles_ms(merged));
        } else {
            dropped.push(o);
        }
    }
    if !dropped.is_empty() {
        notes.push(format!(
            "requests `{name}`: latency_by_outcome_ms of {} dropped: results files hold no per-outcome histograms to merge",
            dropped.join(", ")
        ));
    }
    out
}

fn parse_indicator(s: &str) -> Option<Indicator> {
    match s {
        "mean" => Some(Indicator::Mean),
        "max" => Some(Indicator::Max),
        "error_ratio" | "error_rate" => Some(Indicator::ErrorRatio),
        "availability" => Some(Indicator::Availability),
        p => p.strip_prefix('p')?.parse::<f64>().ok().filter(|q| *q > 0.0 && *q < 100.0).map(Indicator::Percentile),
    }
}

fn parse_op(s: &str) -> Option<Op> {
    match s {
        "<" => Some(Op::Lt),
        "<=" => Some(Op::Le),
        ">" => Some(Op::Gt),
        ">=" => Some(Op::Ge),
        _ => None,
    }
}

/// The value of `indicator` over the merged kinds `request` names (`*` = all), and the
/// requests it is over; `None` without data.
fn observe(indicator: Indicator, request: &str, kinds: &[Kind]) -> (Option<f64>, u64) {
    let picked: Vec<&Kind> = kinds.iter().filter(|k| request == "*" || k.summary.name == request).collect();
    let mut hist = new_histogram();
    let (mut count, mut ok) = (0u64, 0u64);
    for k in &picked {
        let _ = hist.add(&k.hist);
        count += k.summary.count;
        ok += k.summary.ok;
    }
    let us = |v: u64| v as f64 / 1e6;
    let value = match indicator {
        _ if count == 0 => None,
        Indicator::Percentile(p) => (!hist.is_empty()).then(|| us(hist.value_at_quantile(p / 100.0))),
        Indicator::Mean => (!hist.is_empty()).then(|| hist.mean() / 1e6),
        Indicator::Max => (!hist.is_empty()).then(|| us(hist.max())),
        Indicator::ErrorRatio => Some((count - ok) as f64 / count as f64),
        Indicator::Availability => Some(ok as f64 / count as f64),
    };
    (value, count)
}

/// The SLO verdicts on the merged data and the reasons of those that fail.
fn merge_slos(
    inputs: &[Results],
    kinds: &[Kind],
    label: &dyn Fn(usize) -> String,
    notes: &mut Vec<String>,
) -> (Vec<Verdict>, Vec<String>) {
    let mut names: Vec<&str> = Vec::new();
    for r in inputs {
        for v in &r.slos {
            if !names.contains(&v.name.as_str()) {
                names.push(&v.name);
            }
        }
    }
    let mut out = Vec::with_capacity(names.len());
    let mut failures = Vec::new();
    for name in names {
        let all: Vec<(usize, &Verdict)> = inputs
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.slos.iter().find(|v| v.name == name).map(|v| (i, v)))
            .collect();
        let Some(&(from, base)) = all.first() else { continue };
        let mut v = base.clone();
        let every_input_passed = |pick: fn(&Verdict) -> bool| all.iter().all(|(_, v)| pick(v));
        match (parse_indicator(&v.indicator), parse_op(&v.op)) {
            (Some(indicator), Some(op)) => {
                let (observed, samples) = observe(indicator, &v.request, kinds);
                let text =
                    |x: f64| if indicator.is_latency() { format_seconds(x) } else { format!("{:.3}%", x * 100.0) };
                v.observed = observed;
                v.observed_text = observed.map_or_else(|| "no data".into(), text);
                v.samples = samples;
                v.whole_run_pass = observed.is_some_and(|x| op.holds(x, v.threshold));
                if let Some(w) = v.window.as_mut() {
                    w.pass = every_input_passed(|v| v.window.as_ref().is_none_or(|w| w.pass));
                }
                v.pass = v.whole_run_pass && v.window.as_ref().is_none_or(|w| w.pass);
                let mut kept = Vec::new();
                if v.window.is_some() {
                    kept.push("its rolling window (passes only if every input's passed)");
                }
                if v.budget.is_some() {
                    kept.push("its error budget");
                }
                if !v.burn_alerts.is_empty() {
                    kept.push("its burn-rate alerts");
                }
                if !kept.is_empty() {
                    notes.push(format!(
                        "slo `{name}`: whole run re-judged on the merged data; {} kept from {}, not re-judged",
                        kept.join(", "),
                        label(from)
                    ));
                }
                if !v.pass {
                    let why = if v.whole_run_pass {
                        "a rolling window failed in an input".to_owned()
                    } else {
                        format!("observed {}", v.observed_text)
                    };
                    failures.push(format!("merged: slo `{name}` ({}, {}): {why}", v.request, v.objective));
                }
            }
            _ => {
                v.pass = every_input_passed(|v| v.pass);
                v.whole_run_pass = every_input_passed(|v| v.whole_run_pass);
                notes.push(format!(
                    "slo `{name}`: indicator `{}` / op `{}` not understood: verdict kept from {}, not re-judged",
                    v.indicator,
                    v.op,
                    label(from)
                ));
            }
        }
        out.push(v);
    }
    (out, failures)
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::report::testing::{results_of, same_counts, Sample};

    /// 3 kinds over 30 one-second intervals from a seeded RNG: `a` never fails, `b`
    /// fails only in shard 0, `c` fails in both; each sample goes to a random shard.
    fn samples() -> (Vec<Sample<'static>>, Vec<usize>) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(20240611);
        let mut samples = Vec::new();
        let mut shard = Vec::new();
        for i in 0..30u64 {
            for (kind, n) in [("a", 60), ("b", 25), ("c", 40)] {
                if kind == "b" && i % 7 == 3 {
                    continue; // intervals without a kind happen
                }
                for _ in 0..rng.random_range(n / 2..n) {
                    let us = rng.random_range(200..20_000u64) * rng.random_range(1..=3)
                        + if rng.random_bool(0.01) { 900_000 } else { 0 };
                    let s = rng.random_range(0..2usize);
                    let failed = match kind {
                        "a" => false,
                        "b" => s == 0 && rng.random_bool(0.1),
                        _ => rng.random_bool(0.05),
                    };
                    samples.push((kind, i, us, failed));
                    shard.push(s);
                }
            }
        }
        (samples, shard)
    }

    fn slo(name: &str, request: &str, indicator: &str, op: &str, threshold: f64, pass: bool) -> Verdict {
        Verdict {
            name: name.into(),
            request: request.into(),
            objective: format!("{indicator} {op} {threshold}"),
            indicator: indicator.into(),
            op: op.into(),
            threshold,
            observed: None,
            observed_text: "from a shard".into(),
            samples: 0,
            pass,
            whole_run_pass: pass,
            window: None,
            budget: None,
            burn_alerts: Vec::new(),
        }
    }

    fn shards() -> (Results, Results, Results) {
        let (all, shard) = samples();
        let part = |n: usize| -> Vec<Sample<'static>> {
            all.iter().zip(&shard).filter(|(_, s)| **s == n).map(|(x, _)| *x).collect()
        };
        (
            results_of("shard-test", 1.0, &all),
            results_of("shard-test", 1.0, &part(0)),
            results_of("shard-test", 1.0, &part(1)),
        )
    }

    #[test]
    fn merging_two_halves_equals_the_whole() {
        let (whole, s0, s1) = shards();
        let merged = merge(&[s0, s1]).unwrap();
        assert_eq!(merged.kind, ReportKind::Merge);
        assert_eq!(merged.requests.len(), whole.requests.len());
        for (m, w) in merged.requests.iter().zip(&whole.requests) {
            assert_eq!((&m.name, m.count, m.ok, &m.errors), (&w.name, w.count, w.ok, &w.errors));
            assert_eq!(m.latency_ms, w.latency_ms, "{}", m.name);
            assert!(same_counts(&decode_hdr(&m.hdr).unwrap(), &decode_hdr(&w.hdr).unwrap()), "{}", m.name);
            assert_eq!(m.intervals.len(), w.intervals.len(), "{}", m.name);
            for (mi, wi) in m.intervals.iter().zip(&w.intervals) {
                assert_eq!((mi.start_s, mi.length_s, mi.count, mi.ok), (wi.start_s, wi.length_s, wi.count, wi.ok));
                assert_eq!(mi.errors, wi.errors);
                assert_eq!(mi.latency_ms, wi.latency_ms, "{} at {}", m.name, mi.start_s);
                assert!(same_counts(&decode_hdr(&mi.hdr).unwrap(), &decode_hdr(&wi.hdr).unwrap()));
            }
        }
        let (a, b, c) = (&merged.requests[0], &merged.requests[1], &merged.requests[2]);
        // `a` never failed: its `ok` percentiles are its whole histogram's.
        assert_eq!(a.latency_by_outcome_ms, whole.requests[0].latency_by_outcome_ms);
        // `b` failed in shard 0 only: its 5xx percentiles are shard 0's, exact; `ok` dropped.
        assert_eq!(b.latency_by_outcome_ms.get("http_5xx"), whole.requests[1].latency_by_outcome_ms.get("http_5xx"));
        assert!(!b.latency_by_outcome_ms.contains_key("ok"));
        assert!(c.latency_by_outcome_ms.is_empty());
        assert!(merged.observation_problems.iter().any(|p| p.contains("`c`") && p.contains("ok, http_5xx dropped")));
        assert_eq!(merged.verdict, RunVerdict::Pass);
    }

    #[test]
    fn whole_run_slos_are_re_judged_on_the_merged_data() {
        let (whole, mut s0, mut s1) = shards();
        let w = |i: usize| decode_hdr(&whole.requests[i].hdr).unwrap();
        let p99_b = w(1).value_at_quantile(0.99) as f64 / 1e6;
        let mut all = w(0);
        all.add(w(1)).unwrap();
        all.add(w(2)).unwrap();
        let count: u64 = whole.requests.iter().map(|q| q.count).sum();
        let errors: u64 = whole.requests.iter().map(|q| q.count - q.ok).sum();
        let slos = |pass: bool| {
            vec![
                slo("b p99", "b", "p99", "<", p99_b, pass), // fails: p99 == threshold
                slo("b p99 le", "b", "p99", "<=", p99_b, !pass),
                slo("all mean", "*", "mean", "<", 1.0, pass),
                slo("all max", "*", "max", "<", 0.5, pass),
                slo("errors", "*", "error_ratio", "<", 0.5, pass),
                slo("avail", "c", "availability", ">=", 0.9, pass),
                slo("missing", "nope", "p50", "<", 1.0, pass),
                slo("odd", "b", "p50 over 5m", "<", 1.0, pass),
            ]
        };
        s0.slos = slos(true);
        s1.slos = slos(false);
        s1.verdict = RunVerdict::Fail;
        s1.reasons = vec!["slo `b p99 le` failed in shard 1".into()];
        let merged = merge_labelled(&[s0, s1], &["one.json".into(), "two.json".into()]).unwrap();
        let got = |n: &str| merged.slos.iter().find(|v| v.name == n).unwrap();
        assert_eq!((got("b p99").observed, got("b p99").pass), (Some(p99_b), false));
        assert_eq!((got("b p99 le").observed, got("b p99 le").pass), (Some(p99_b), true));
        assert_eq!(got("b p99").samples, whole.requests[1].count);
        assert_eq!(got("all mean").observed, Some(all.mean() / 1e6));
        assert_eq!(got("all max").observed, Some(all.max() as f64 / 1e6));
        assert!(!got("all max").pass, "a 0.9 s outlier is in the data");
        assert_eq!(got("errors").observed, Some(errors as f64 / count as f64));
        assert_eq!(got("errors").samples, count);
        let c = &whole.requests[2];
        assert_eq!(got("avail").observed, Some(c.ok as f64 / c.count as f64));
        assert_eq!(
            (got("missing").observed, got("missing").pass, got("missing").observed_text.as_str()),
            (None, false, "no data")
        );
        // Not understood: kept, passing only if every input's passed.
        assert!(!got("odd").pass);
        assert!(merged.observation_problems.iter().any(|p| p.contains("slo `odd`") && p.contains("one.json")));
        // Worst of the inputs, their reasons labelled, plus the merged SLO failures.
        assert_eq!(merged.verdict, RunVerdict::Fail);
        assert_eq!(merged.reasons[0], "two.json: slo `b p99 le` failed in shard 1");
        assert!(merged.reasons.iter().any(|r| r.starts_with("merged: slo `b p99` (b, p99 < ")), "{:?}", merged.reasons);
        assert!(merged.reasons.iter().any(|r| r.starts_with("merged: slo `missing`")), "{:?}", merged.reasons);
    }

    #[test]
    fn other_fields_take_the_worst_or_the_widest() {
        let (_, mut s0, mut s1) = shards();
        s0.started_at = "2024-01-01T00:00:05Z".into();
        s1.started_at = "2024-01-01T00:00:01.5Z".into();
        s0.wall_s = 3.0;
        s1.partial = true;
        s1.verdict = RunVerdict::Invalid;
        s1.reasons = vec!["run interrupted".into()];
        s0.verdict = RunVerdict::Fail;
        s1.seed = 99;
        s1.machine.load_avg_1m = Some(3.5); // the same machine, busier
        s0.observation_problems = vec!["no /metrics".into()];
        let m = merge(&[s0, s1]).unwrap();
        assert_eq!(m.started_at, "2024-01-01T00:00:01.5Z");
        assert_eq!(m.wall_s, 10.0);
        assert!(m.partial);
        assert_eq!(m.verdict, RunVerdict::Invalid);
        assert_eq!(m.reasons, vec!["input 2: run interrupted".to_owned()]);
        assert!(m.observation_problems.contains(&"input 1: no /metrics".to_owned()));
        assert!(m.observation_problems.iter().any(|p| p.contains("seeds differ")));
        assert!(
            !m.observation_problems.iter().any(|p| p.contains("different machines")),
            "{:?}",
            m.observation_problems
        );
    }

    #[test]
    fn shards_of_other_runs_are_refused_naming_the_input_and_field() {
        let (_, s0, s1) = shards();
        assert_eq!(merge(std::slice::from_ref(&s0)).unwrap_err(), MergeError::TooFew(1));
        let mut other = s1.clone();
        other.scenario = "another".into();
        let err = merge_labelled(&[s0.clone(), other], &["a.json".into(), "b.json".into()]).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("b.json: scenario is `another`"), "{text}");
        let mut old = s1.clone();
        old.schema_version = 1;
        assert!(merge(&[s0.clone(), old]).unwrap_err().to_string().contains("input 2: schema_version is 1"));
        let mut broken = s1;
        broken.requests[0].intervals[0].hdr = "!!".into();
        let err = merge(&[s0, broken]).unwrap_err().to_string();
        assert!(err.starts_with("input 2: requests[`a`].intervals[start_s 0].hdr: "), "{err}");
    }
}
