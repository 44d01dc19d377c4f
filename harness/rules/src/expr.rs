//! The rule expression language: text -> a typed [`Rule`] (`<expr> <op> <threshold>`).
//!
//! ```text
//! rule      = expr op threshold                      op: <  <=  >  >=
//! expr      = func "(" expr ")" [range]              p95(latency{request="prove"})[5m]
//!           | metric [selector] [range]              error_ratio[1h], queue_depth
//! selector  = "{" label ("=" | "!=") string ("," ...)* "}"
//! range     = "[" duration "]" | "[..]"              [..] = from the start of the run
//! threshold = number | duration | percentage | quantity "/" unit
//!                                                    1.5, 500ms, 70%, 10ms/h, 2/s
//! ```
//!
//! Client-side metrics come from the run's HDR recording: `latency` (seconds, inside
//! `pNN`/`mean`/`avg`/`max`/`min`), `requests` and `errors` (inside `rate`/`increase`),
//! `error_ratio` and `availability` (bare, with a range). Labels: `request` (a request
//! name of the mix) and, for `requests`, `errors` and `error_ratio`, `kind` (an outcome:
//! `ok`, `redirect`, `http_429`, `http_4xx`, `http_5xx`, `timeout`, `connect`, `body_too_large`, `other`).
//!
//! Any other name is a scraped metric (aliases: `cpu`, `queue_depth`, `in_flight`,
//! `workers`). Bare, it is the latest sample; inside `avg`/`max`/`min`/`sum`/`rate`/
//! `increase`/`deriv` with a range, a function of its samples in the window.
//! A function with a range around another ranged expression (`deriv(p95(latency)[5m])[30m]`)
//! applies to that expression's values at each evaluation step (a subquery).
//! The range may also be written inside the call (`avg(cpu[15m])`), as in PromQL.
//!
//! Without a window, `sum`, `count`, `avg`, `min` and `max` aggregate across series at
//! each evaluation, as in PromQL: `sum(up{service="scribe"}) < 2` (nodes answering).
//!
//! Missing data, as in PromQL: `absent(<expr>)` is 1 at each evaluation where the
//! expression has no value at all (no series, every series stale or older than the
//! lookback), and no value otherwise; `absent_over_time(<metric>[w])` is 1 where no
//! matching series has a sample in the window. Both carry the selector's `=` labels. A
//! rule on them reads `absent(up{service="midnight"}) > 0`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use gameday_mocks::kit::HumanDuration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::syntax::{is_metric_name, parse_op, Node, Parser};

use crate::objective::Op;

/// Scraped-metric aliases: short name -> the mocks' metric name.
pub const ALIASES: &[(&str, &str)] = &[
    ("cpu", "gameday_cpu_utilisation_ratio"),
    ("queue_depth", "gameday_queue_depth"),
    ("in_flight", "gameday_jobs_in_flight"),
    ("workers", "gameday_workers"),
];

/// A parsed rule: an expression, a comparison and a threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// What is measured.
    pub expr: Expr,
    /// How it is compared.
    pub op: Op,
    /// The threshold.
    pub threshold: Threshold,
    text: String,
}

impl Rule {
    /// The rule as written.
    pub fn as_written(&self) -> &str {
        &self.text
    }

    /// Whether a value breaches (makes the rule true).
    pub fn holds(&self, value: f64) -> bool {
        self.op.holds(value, self.threshold.value)
    }
}

/// A threshold with the unit it was written in.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// Seconds, a ratio, a plain number or a per-second rate.
    pub value: f64,
    /// How it was written.
    pub unit: Unit,
    /// As written.
    pub text: String,
}

/// The unit of a value or threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Seconds (a duration such as `500ms`).
    Seconds,
    /// A ratio in [0, 1] (a percentage such as `70%`).
    Ratio,
    /// A plain number.
    Number,
    /// Per second (`10ms/h`, `2/s`).
    PerSecond,
}

/// A window: a duration back from the evaluation time, or the whole run so far.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Window {
    /// The last `n` simulated seconds.
    Last(f64),
    /// Since the start of the run (`[..]`).
    All,
}

/// A statistic of client-side latency.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LatencyStat {
    /// A percentile, 0 < p < 100.
    Percentile(f64),
    /// The mean.
    Mean,
    /// The maximum.
    Max,
    /// The minimum.
    Min,
}

/// A client-side ratio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RatioMetric {
    /// Failed (or `kind`-selected failed) requests / all requests.
    ErrorRatio,
    /// Successful requests / all requests.
    Availability,
}

/// A function over samples in a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeFn {
    /// Mean of the samples.
    Avg,
    /// Largest sample.
    Max,
    /// Smallest sample.
    Min,
    /// Sum of the samples.
    Sum,
    /// Per-second increase of a counter (resets handled, not extrapolated).
    Rate,
    /// Increase of a counter (resets handled, not extrapolated).
    Increase,
    /// Least-squares slope, per second.
    Deriv,
}

impl RangeFn {
    /// The function's name in rules.
    pub fn name(self) -> &'static str {
        match self {
            Self::Avg => "avg",
            Self::Max => "max",
            Self::Min => "min",
            Self::Sum => "sum",
            Self::Rate => "rate",
            Self::Increase => "increase",
            Self::Deriv => "deriv",
        }
    }
}

/// An aggregation across series at each evaluation (PromQL `sum(x)`, `count(x)`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregation {
    /// Sum of the series' values.
    Sum,
    /// How many series have a value.
    Count,
    /// Mean of the series' values.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
}

impl Aggregation {
    /// The function's name in rules and PromQL.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sum => "sum",
            Self::Count => "count",
            Self::Avg => "avg",
            Self::Min => "min",
            Self::Max => "max",
        }
    }
}

/// A label matcher (`label="value"` or `label!="value"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matcher {
    /// Label name.
    pub label: String,
    /// `!=` rather than `=`.
    pub negate: bool,
    /// Label value.
    pub value: String,
}

impl Matcher {
    /// Whether a label value (absent = empty) matches.
    pub fn matches(&self, value: Option<&str>) -> bool {
        (value.unwrap_or("") == self.value) != self.negate
    }
}

/// A scraped metric and its label matchers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// The metric name (aliases resolved).
    pub name: String,
    /// The name as written (an alias or the name).
    pub written: String,
    /// Label matchers.
    pub matchers: Vec<Matcher>,
}

/// A typed expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A client-side latency statistic over a window (seconds).
    Latency {
        /// Which statistic.
        stat: LatencyStat,
        /// `request` matchers.
        matchers: Vec<Matcher>,
        /// The window.
        window: Window,
    },
    /// A client-side ratio over a window.
    Ratio {
        /// Which ratio.
        metric: RatioMetric,
        /// `request` / `kind` matchers.
        matchers: Vec<Matcher>,
        /// The window.
        window: Window,
    },
    /// A client-side request count (`increase`) or rate (`rate`, per second).
    Count {
        /// `Rate` or `Increase`.
        func: RangeFn,
        /// `errors` rather than `requests`.
        errors_only: bool,
        /// `request` / `kind` matchers.
        matchers: Vec<Matcher>,
        /// The window.
        window: Window,
    },
    /// The latest sample of each matching scraped series.
    Instant(Selector),
    /// A function of each matching scraped series' samples in a window.
    Range {
        /// The function.
        func: RangeFn,
        /// The series.
        sel: Selector,
        /// The window.
        window: Window,
    },
    /// An aggregation of the inner expression's series at each evaluation; no series
    /// with a value gives no value (PromQL `sum(x)` of an empty vector is empty).
    Aggregate {
        /// The aggregation.
        func: Aggregation,
        /// The expression whose series are aggregated.
        inner: Box<Expr>,
    },
    /// 1 where the inner expression has no value at all, else no value (PromQL `absent`).
    Absent {
        /// The expression whose absence is tested.
        inner: Box<Expr>,
        /// The labels of the result: the inner selector's `=` matchers.
        labels: BTreeMap<String, String>,
    },
    /// 1 where no matching series has a sample in the window (PromQL `absent_over_time`).
    AbsentOverTime {
        /// The series.
        sel: Selector,
        /// The window.
        window: Window,
    },
    /// A function of another expression's values at each evaluation step.
    Over {
        /// The function (not `rate`/`increase`).
        func: RangeFn,
        /// The inner expression.
        inner: Box<Expr>,
        /// The window.
        window: Window,
    },
}

impl Expr {
    /// The unit of the expression's values, when known.
    pub fn unit(&self) -> Option<Unit> {
        match self {
            Self::Latency { .. } => Some(Unit::Seconds),
            Self::Ratio { .. } => Some(Unit::Ratio),
            Self::Count { func: RangeFn::Rate, .. } => Some(Unit::PerSecond),
            Self::Count { .. } => Some(Unit::Number),
            Self::Over { func: RangeFn::Deriv, .. } | Self::Range { func: RangeFn::Deriv, .. } => Some(Unit::PerSecond),
            Self::Absent { .. } | Self::AbsentOverTime { .. } => Some(Unit::Number),
            Self::Aggregate { func: Aggregation::Count, .. } => Some(Unit::Number),
            Self::Aggregate { inner, .. } => inner.unit(),
            Self::Over { inner, .. } => inner.unit(),
            Self::Instant(s) | Self::Range { sel: s, .. } => scraped_unit(&s.name),
        }
    }

    /// Calls `f` on every sub-expression, outermost first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        if let Self::Over { inner, .. } | Self::Absent { inner, .. } | Self::Aggregate { inner, .. } = self {
            inner.walk(f);
        }
    }
}

fn scraped_unit(name: &str) -> Option<Unit> {
    if name.ends_with("_ratio") {
        Some(Unit::Ratio)
    } else if name.ends_with("_seconds") {
        Some(Unit::Seconds)
    } else {
        None
    }
}

/// An error in a rule's text, with the byte offset it was found at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the rule text.
    pub at: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.at + 1)
    }
}

impl FromStr for Rule {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        let mut p = Parser { text, pos: 0 };
        let node = p.node()?;
        p.skip_ws();
        let Some((op, len)) = parse_op(p.rest()) else {
            let found = p.peek().map_or("the end".to_owned(), |f| format!("`{f}`"));
            return p.err(
                p.pos,
                format!("expected a comparison (<, <=, >, >=) and a threshold, found {found}: a rule is `<expr> <op> <threshold>`"),
            );
        };
        p.pos += len;
        p.skip_ws();
        let at = p.pos;
        let threshold = parse_threshold(p.rest()).map_err(|e| ParseError { at, message: e.to_string() })?;
        let expr = lower(&node)?;
        Ok(Rule { expr, op, threshold, text: text.trim().to_owned() })
    }
}

/// Why a rule's threshold is unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// Nothing after the comparison.
    #[error("missing threshold after the comparison")]
    Missing,
    /// Not a number, duration or percentage.
    #[error("`{0}` is not a threshold (write a number `1.5`, a duration `500ms`, a percentage `70%`)")]
    Quantity(String),
    /// `/unit` is not a time unit.
    #[error("`/{0}` is not a time unit (write e.g. `10ms/h`, `2/s`)")]
    PerUnit(String),
    /// `/unit` is zero long.
    #[error("`/{0}` is a zero time unit")]
    ZeroUnit(String),
}

/// Parses a threshold: `1.5`, `500ms`, `70%`, `10ms/h`, `2/s`.
pub fn parse_threshold(s: &str) -> Result<Threshold, ThresholdError> {
    let text = s.trim();
    if text.is_empty() {
        return Err(ThresholdError::Missing);
    }
    let (value, unit) = match text.rsplit_once('/') {
        Some((q, per)) => {
            let (v, _) = quantity(q.trim())?;
            let per = per.trim();
            let per_text =
                if per.starts_with(|c: char| c.is_ascii_digit()) { per.to_owned() } else { format!("1{per}") };
            let secs = per_text
                .parse::<HumanDuration>()
                .map_err(|_| ThresholdError::PerUnit(per.to_owned()))?
                .get()
                .as_secs_f64();
            if secs <= 0.0 {
                return Err(ThresholdError::ZeroUnit(per.to_owned()));
            }
            (v / secs, Unit::PerSecond)
        }
        None => quantity(text)?,
    };
    Ok(Threshold { value, unit, text: text.to_owned() })
}

fn quantity(s: &str) -> Result<(f64, Unit), ThresholdError> {
    let bad = || ThresholdError::Quantity(s.to_owned());
    if let Some(pct) = s.strip_suffix('%') {
        let v: f64 = pct.trim().parse().map_err(|_| bad())?;
        return if v.is_finite() { Ok((v / 100.0, Unit::Ratio)) } else { Err(bad()) };
    }
    if let Ok(v) = s.parse::<f64>() {
        return if v.is_finite() { Ok((v, Unit::Number)) } else { Err(bad()) };
    }
    s.parse::<HumanDuration>().map(|d| (d.get().as_secs_f64(), Unit::Seconds)).map_err(|_| bad())
}

const CLIENT: &[&str] = &["latency", "requests", "errors", "error_ratio", "availability"];

/// Typing: turns the syntax tree into an [`Expr`] or says why it means nothing.
fn lower(node: &Node) -> Result<Expr, ParseError> {
    match node {
        Node::Metric { name, matchers, range, at } => lower_metric(name, matchers, *range, *at),
        Node::Call { func, arg, range, at } if func == "absent" => lower_absent(arg, range.is_some(), *at),
        Node::Call { func, arg, range, at } => {
            let (arg, window) = match (range, arg.as_ref()) {
                (Some(w), _) => (arg.as_ref().clone(), *w),
                (None, Node::Metric { name, matchers, range: Some(w), at }) => {
                    (Node::Metric { name: name.clone(), matchers: matchers.clone(), range: None, at: *at }, *w)
                }
                (None, inner) if aggregation(func).is_some() && !is_client(inner) => {
                    let func = aggregation(func).unwrap_or(Aggregation::Sum);
                    return Ok(Expr::Aggregate { func, inner: Box::new(lower(inner)?) });
                }
                _ if !is_known_function(func) => {
                    return Err(ParseError { at: *at, message: unknown_function(func) });
                }
                _ => {
                    let message = format!(
                        "`{func}(...)` needs a window: write `{func}(...)[5m]` (or `[..]` for the whole run); \
                         without one, sum, count, avg, min and max aggregate scraped series"
                    );
                    return Err(ParseError { at: *at, message });
                }
            };
            match &arg {
                Node::Metric { name, matchers, range: None, at: m_at } => {
                    lower_direct(func, *at, name, matchers, *m_at, window)
                }
                inner => {
                    let func_ = over_fn(func).ok_or_else(|| ParseError {
                        at: *at,
                        message: format!(
                            "`{func}` cannot apply to an expression's values; use avg, max, min, sum or deriv"
                        ),
                    })?;
                    Ok(Expr::Over { func: func_, inner: Box::new(lower(inner)?), window })
                }
            }
        }
    }
}

fn unknown_function(func: &str) -> String {
    format!(
        "unknown function `{func}` (known: pNN, mean, avg, max, min, sum, count, rate, increase, deriv, absent, \
         absent_over_time)"
    )
}

fn is_known_function(func: &str) -> bool {
    range_fn(func).is_some()
        || aggregation(func).is_some()
        || matches!(latency_stat(func), Ok(Some(_)) | Err(_))
        || matches!(func, "absent" | "absent_over_time")
}

/// The aggregation a function name means without a window, if any.
fn aggregation(func: &str) -> Option<Aggregation> {
    match func {
        "sum" => Some(Aggregation::Sum),
        "count" => Some(Aggregation::Count),
        "avg" => Some(Aggregation::Avg),
        "min" => Some(Aggregation::Min),
        "max" => Some(Aggregation::Max),
        _ => None,
    }
}

/// Whether a node is a bare client metric (those need a statistic and a window).
fn is_client(node: &Node) -> bool {
    matches!(node, Node::Metric { name, .. } if CLIENT.contains(&name.as_str()))
}

/// `absent(<expr>)`: the inner expression as written, its `=` labels for the result.
fn lower_absent(arg: &Node, ranged: bool, at: usize) -> Result<Expr, ParseError> {
    if ranged {
        let message = "`absent(...)` takes no range; for a window write `absent_over_time(metric[5m])`".into();
        return Err(ParseError { at, message });
    }
    let inner = lower(arg)?;
    let labels = match &inner {
        Expr::Instant(sel) | Expr::Range { sel, .. } => {
            sel.matchers.iter().filter(|m| !m.negate).map(|m| (m.label.clone(), m.value.clone())).collect()
        }
        _ => BTreeMap::new(),
    };
    Ok(Expr::Absent { inner: Box::new(inner), labels })
}

fn lower_metric(name: &str, matchers: &[Matcher], range: Option<Window>, at: usize) -> Result<Expr, ParseError> {
    let err = |message: String| Err(ParseError { at, message });
    match (name, range) {
        ("latency", _) => err("`latency` needs a statistic: p95(latency)[5m], mean(...), max(...) or min(...)".into()),
        ("requests" | "errors", _) => err(format!("`{name}` needs rate({name})[1m] or increase({name})[1m]")),
        ("error_ratio" | "availability", None) => {
            err(format!("`{name}` needs a window: `{name}[5m]` (or `{name}[..]` for the whole run)"))
        }
        ("error_ratio" | "availability", Some(window)) => {
            let metric = if name == "error_ratio" { RatioMetric::ErrorRatio } else { RatioMetric::Availability };
            Ok(Expr::Ratio { metric, matchers: matchers.to_vec(), window })
        }
        (_, Some(_)) => err(format!(
            "a range over `{name}` needs a function: avg({name})[5m], max, min, sum, rate, increase or deriv \
             (client metrics: {})",
            CLIENT.join(", ")
        )),
        (_, None) => Ok(Expr::Instant(selector(name, matchers, at)?)),
    }
}

fn selector(name: &str, matchers: &[Matcher], at: usize) -> Result<Selector, ParseError> {
    if !is_metric_name(name) {
        return Err(ParseError { at, message: format!("`{name}` is not a metric name") });
    }
    let resolved = ALIASES.iter().find(|(a, _)| *a == name).map_or(name, |(_, full)| *full);
    Ok(Selector { name: resolved.to_owned(), written: name.to_owned(), matchers: matchers.to_vec() })
}

fn over_fn(func: &str) -> Option<RangeFn> {
    match func {
        "avg" => Some(RangeFn::Avg),
        "max" => Some(RangeFn::Max),
        "min" => Some(RangeFn::Min),
        "sum" => Some(RangeFn::Sum),
        "deriv" => Some(RangeFn::Deriv),
        _ => None,
    }
}

fn range_fn(func: &str) -> Option<RangeFn> {
    match func {
        "rate" => Some(RangeFn::Rate),
        "increase" => Some(RangeFn::Increase),
        other => over_fn(other),
    }
}

/// A `pNN` latency function outside (0, 100).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a percentile between p0 and p100 (e.g. p95, p99.9)")]
pub struct PercentileError(pub String);

fn latency_stat(func: &str) -> Result<Option<LatencyStat>, PercentileError> {
    Ok(Some(match func {
        "mean" | "avg" => LatencyStat::Mean,
        "max" => LatencyStat::Max,
        "min" => LatencyStat::Min,
        p if p.starts_with('p') && p[1..].starts_with(|c: char| c.is_ascii_digit()) => match p[1..].parse::<f64>() {
            Ok(q) if q > 0.0 && q < 100.0 => LatencyStat::Percentile(q),
            _ => return Err(PercentileError(p.to_owned())),
        },
        _ => return Ok(None),
    }))
}

fn lower_direct(
    func: &str,
    at: usize,
    name: &str,
    matchers: &[Matcher],
    m_at: usize,
    window: Window,
) -> Result<Expr, ParseError> {
    let err = |message: String| Err(ParseError { at, message });
    let stat = latency_stat(func).map_err(|e| ParseError { at, message: e.to_string() })?;
    match name {
        "latency" | "requests" | "errors" if func == "absent_over_time" => err(format!(
            "`absent_over_time` applies to scraped metrics; test client `{name}` with absent(...) instead"
        )),
        "latency" => match stat {
            Some(stat) => Ok(Expr::Latency { stat, matchers: matchers.to_vec(), window }),
            None => err(format!("`{func}(latency)` is not defined; use pNN, mean, max or min")),
        },
        "requests" | "errors" => match func {
            "rate" | "increase" => Ok(Expr::Count {
                func: if func == "rate" { RangeFn::Rate } else { RangeFn::Increase },
                errors_only: name == "errors",
                matchers: matchers.to_vec(),
                window,
            }),
            _ => err(format!("`{func}({name})` is not defined; use rate({name}) or increase({name})")),
        },
        "error_ratio" | "availability" => {
            err(format!("`{name}` takes no function: write `{name}[5m]`, or `max({name}[1m])[10m]` for a subquery"))
        }
        _ if func == "absent_over_time" => {
            Ok(Expr::AbsentOverTime { sel: selector(name, matchers, m_at)?, window })
        }
        _ => match range_fn(func) {
            Some(f) => Ok(Expr::Range { func: f, sel: selector(name, matchers, m_at)?, window }),
            None if stat.is_some() => err(format!(
                "`{func}` applies to client `latency` only; `{name}` is a scraped metric (use avg, max, min, sum, rate, increase or deriv)"
            )),
            None => err(unknown_function(func)),
        },
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<Rule>().map_err(|e| serde::de::Error::custom(format!("rule `{text}`: {e}")))
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> Rule {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn error(s: &str) -> ParseError {
        s.parse::<Rule>().unwrap_err()
    }

    #[test]
    fn parses_every_documented_form() {
        let r = rule(r#"p95(latency{request="prove"})[5m] > 45s"#);
        assert_eq!(r.op, Op::Gt);
        assert_eq!(r.threshold.value, 45.0);
        let Expr::Latency { stat, matchers, window } = &r.expr else { panic!("{r:?}") };
        assert_eq!(*stat, LatencyStat::Percentile(95.0));
        assert_eq!(matchers[0].value, "prove");
        assert_eq!(*window, Window::Last(300.0));
        assert!(matches!(rule("mean(latency)[1m] > 500ms").expr, Expr::Latency { stat: LatencyStat::Mean, .. }));
        assert!(matches!(rule("max(latency)[..] < 2s").expr, Expr::Latency { window: Window::All, .. }));
        assert!(
            matches!(rule("p99.9(latency[1m]) < 2s").expr, Expr::Latency { stat: LatencyStat::Percentile(q), .. } if q == 99.9)
        );
        let r = rule("error_ratio[1h] > 0.1%");
        assert!((r.threshold.value - 0.001).abs() < 1e-15);
        assert_eq!(r.threshold.unit, Unit::Ratio);
        assert!(matches!(rule("availability[..] < 99.9%").expr, Expr::Ratio { metric: RatioMetric::Availability, .. }));
        assert!(matches!(
            rule("rate(requests)[1m] < 2").expr,
            Expr::Count { func: RangeFn::Rate, errors_only: false, .. }
        ));
        assert!(matches!(rule("increase(errors{kind='timeout'})[5m] > 0").expr, Expr::Count { errors_only: true, .. }));
        let Expr::Range { func, sel, window } = rule("avg(cpu)[15m] > 70%").expr else { panic!() };
        assert_eq!(
            (func, sel.name.as_str(), window),
            (RangeFn::Avg, "gameday_cpu_utilisation_ratio", Window::Last(900.0))
        );
        assert!(matches!(rule("max(queue_depth[2m]) > 50").expr, Expr::Range { func: RangeFn::Max, .. }));
        let Expr::Instant(sel) = rule(r#"queue_depth{pool="prove", service!="x"} >= 10"#).expr else { panic!() };
        assert_eq!(sel.matchers.len(), 2);
        assert!(sel.matchers[1].negate);
        let Expr::Over { func, inner, window } = rule(r#"deriv(p95(latency{request="prove"})[5m])[30m] > 10ms/h"#).expr
        else {
            panic!()
        };
        assert_eq!((func, window), (RangeFn::Deriv, Window::Last(1800.0)));
        assert!(matches!(*inner, Expr::Latency { .. }));
        let Expr::Absent { inner, labels } = rule(r#"absent(up{service="midnight",instance!="x"}) > 0"#).expr else {
            panic!()
        };
        assert!(matches!(*inner, Expr::Instant(_)));
        assert_eq!(labels.into_iter().collect::<Vec<_>>(), [("service".to_owned(), "midnight".to_owned())]);
        assert!(matches!(rule("absent(error_ratio[1m]) > 0").expr, Expr::Absent { .. }));
        let Expr::AbsentOverTime { sel, window } = rule("absent_over_time(up[2m]) > 0").expr else { panic!() };
        assert_eq!((sel.name.as_str(), window), ("up", Window::Last(120.0)));
        assert!(matches!(rule("absent_over_time(cpu)[1m] > 0").expr, Expr::AbsentOverTime { .. }));
        let Expr::Aggregate { func, inner } = rule(r#"sum(up{service="scribe"}) < 2"#).expr else { panic!() };
        assert_eq!(func, Aggregation::Sum);
        assert!(matches!(*inner, Expr::Instant(_)));
        assert!(matches!(rule("count(max(cpu)[1m]) < 3").expr, Expr::Aggregate { func: Aggregation::Count, .. }));
    }

    #[test]
    fn thresholds_carry_their_units() {
        let t = |s: &str| parse_threshold(s).unwrap();
        assert_eq!((t("30s").value, t("30s").unit), (30.0, Unit::Seconds));
        assert_eq!(t("500ms").value, 0.5);
        assert!((t("70%").value - 0.7).abs() < 1e-12);
        assert_eq!((t("1.5").value, t("1.5").unit), (1.5, Unit::Number));
        assert_eq!(t("-2").value, -2.0);
        // 10 ms per hour = 0.01 s / 3600 s.
        assert!((t("10ms/h").value - 0.01 / 3600.0).abs() < 1e-15);
        assert_eq!((t("120/m").value, t("2/s").unit), (2.0, Unit::PerSecond));
        for bad in ["", "fast", "inf", "NaN%", "5/parsec"] {
            assert!(parse_threshold(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_say_what_and_where() {
        for (text, at, needle) in [
            ("p95(latency{request=\"x\"})[5m]", 29, "comparison"),
            ("p95(latency{request=\"x\"}[5m] > 1s", 29, "expected `)`"),
            ("p95(latency) > 1s", 0, "needs a window"),
            ("latency[5m] > 1s", 0, "needs a statistic"),
            ("error_ratio > 1%", 0, "needs a window"),
            ("cpu[5m] > 1", 0, "needs a function"),
            ("p95(cpu)[5m] > 1", 0, "client `latency` only"),
            ("median(latency)[5m] > 1s", 0, "not defined"),
            ("p100(latency)[5m] > 1s", 0, "percentile"),
            ("error_ratio[0s] > 1%", 12, "longer than zero"),
            ("error_ratio[5 parsecs] > 1%", 12, "bad range"),
            ("error_ratio{request=prove}[5m] > 1%", 20, "quoted"),
            ("error_ratio{request=\"prove}[5m] > 1%", 20, "unterminated"),
            ("rate(error_ratio[1m])[5m] > 1", 0, "cannot apply"),
            ("error_ratio[5m] > lots", 18, "not a threshold"),
            ("error_ratio[5m] ~ 1%", 16, "comparison"),
            ("absnet(up) > 0", 0, "unknown function `absnet`"),
            ("absent(up)[5m] > 0", 0, "takes no range"),
            ("absent_over_time(latency[5m]) > 0", 0, "scraped metrics"),
        ] {
            let e = error(text);
            assert!(e.message.contains(needle), "{text}: {e}");
            assert_eq!(e.at, at, "{text}: {e}");
        }
    }
}
