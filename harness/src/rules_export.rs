//! `gameday rules export`: a scenario's SLOs, alerts and triggers as a Prometheus rule file.
//!
//! Client-side metrics become the mocks' server-side ones (`mock-servers/src/kit/metrics.rs`):
//! latency statistics -> `histogram_quantile` / `_sum` / `_count` of
//! `gameday_http_request_duration_seconds`, counts and ratios -> `gameday_http_requests_total`
//! by `status`, a request -> its `route` label (the request's `route`, default its path
//! without the query). Scraped metrics keep their names; window functions become
//! `*_over_time`, `rate`, `increase`, `deriv`; a function over an expression becomes a
//! subquery. What a server cannot see (timeouts, refused connections, `[..]` windows since
//! the run's start) is left out with a comment in the file and a warning.
//!
//! SLOs get recording rules for their bad-request ratio over 5m, 30m, 1h and 6h, the two
//! burn-rate alerts of the SRE workbook (unscaled: production runs the real SLO period),
//! and an alert when the objective is broken over its `window` (default 1h). The YAML is
//! written by hand: every string is double-quoted and escaped.

use std::collections::BTreeSet;
use std::fmt::Write;

use gameday_mocks::kit::metrics::LATENCY_BUCKETS_S;

use crate::load::Outcome;
use crate::rules::burn::{allowed_ratio, PAIRS};
use crate::rules::eval::pick_outcomes;
use crate::rules::expr::{Expr, LatencyStat, Matcher, RangeFn, RatioMetric, Selector, Window};
use crate::rules::format_window;
use crate::rules::slo::{indicator_expr, request_matchers};
use crate::scenario::{AlertRule, Indicator, Op, Scenario, Slo};

const REQUESTS: &str = "gameday_http_requests_total";
const DURATION: &str = "gameday_http_request_duration_seconds";
const SLO_WINDOWS: [(&str, f64); 4] = [("5m", 300.0), ("30m", 1800.0), ("1h", 3600.0), ("6h", 21_600.0)];

/// A rule file and what could not go into it.
#[derive(Clone, Debug, Default)]
pub struct Export {
    /// The YAML rule file.
    pub yaml: String,
    /// Rules or parts left out, one line each.
    pub warnings: Vec<String>,
}

/// One rule of a group.
struct Item {
    /// `record` or `alert`.
    key: &'static str,
    name: String,
    expr: String,
    for_s: f64,
    keep_s: f64,
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
}

/// Why a rule has no PromQL equivalent (it is skipped, with this as the reason).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ExportError {
    /// A latency SLO's threshold is above every bucket bound.
    #[error("threshold {0}s is above the largest latency bucket")]
    AboveBuckets(f64),
    /// The `request` matchers select nothing.
    #[error("its `request` matchers select no request")]
    NoRequest,
    /// Only client-side failures are counted.
    #[error(
        "it counts only client-side failures (timeout, connect, body_too_large, other), which server metrics do not see"
    )]
    ClientSideOnly,
    /// A whole-run window.
    #[error("`[..]` (since the start of the run) has no PromQL equivalent")]
    WholeRun,
}

struct Ctx<'a> {
    s: &'a Scenario,
    /// The rule being translated, for warnings.
    current: String,
    warnings: Vec<String>,
}

/// `gameday rules export SCENARIO [--out FILE]`: the scenario's rules as a Prometheus
/// rule file, written atomically to `out` when given (the caller prints it otherwise).
pub fn command(scenario: &std::path::Path, out: Option<&std::path::Path>) -> Result<Export, crate::Error> {
    let s = crate::resolve::load(scenario)?;
    let export = export(&s);
    if let Some(file) = out {
        crate::report::write_atomic(file, export.yaml.as_bytes())?;
    }
    Ok(export)
}

/// The scenario's SLOs, alerts and triggers as Prometheus recording and alerting rules.
pub fn export(s: &Scenario) -> Export {
    let mut ctx = Ctx { s, current: String::new(), warnings: Vec::new() };
    let mut yaml = format!(
        "# Prometheus rules for gameday scenario \"{}\", written by `gameday rules export`.\n\
         # Thresholds are the scenario's; windows are real time in production.\n",
        s.name
    );
    let mut groups: Vec<(String, Vec<Item>, Vec<String>)> = Vec::new();
    let mut slo_items = Vec::new();
    let mut slo_skipped = Vec::new();
    for slo in &s.slos {
        ctx.current = format!("slo `{}`", slo.name);
        match slo_rules(&mut ctx, slo) {
            Ok(items) => slo_items.extend(items),
            Err(e) => slo_skipped.push(ctx.skip("slo", &slo.name, &e.to_string())),
        }
    }
    groups.push((format!("gameday-{}-slo", s.name), slo_items, slo_skipped));
    for (table, list) in [("alert", &s.alerts), ("trigger", &s.triggers)] {
        let (mut items, mut skipped) = (Vec::new(), Vec::new());
        for a in list.iter() {
            ctx.current = format!("{table} `{}`", a.name);
            match alert_rule(&mut ctx, a, table) {
                Ok(item) => items.push(item),
                Err(e) => skipped.push(ctx.skip(table, &a.name, &e.to_string())),
            }
        }
        groups.push((format!("gameday-{}-{table}s", s.name), items, skipped));
    }
    let groups: Vec<_> = groups.into_iter().filter(|g| !g.1.is_empty() || !g.2.is_empty()).collect();
    if groups.iter().all(|g| g.1.is_empty()) {
        yaml.push_str("groups: []\n");
        for (_, _, skipped) in &groups {
            skipped.iter().for_each(|c| yaml.push_str(&format!("# {c}\n")));
        }
    } else {
        yaml.push_str("groups:\n");
        for (name, items, skipped) in groups.iter().filter(|g| !g.1.is_empty()) {
            write_group(&mut yaml, name, items, skipped);
        }
    }
    Export { yaml, warnings: ctx.warnings }
}

impl Ctx<'_> {
    fn warn(&mut self, what: &str) {
        let line = format!("{}: {what}", self.current);
        if !self.warnings.contains(&line) {
            self.warnings.push(line);
        }
    }

    fn skip(&mut self, table: &str, name: &str, why: &str) -> String {
        let line = format!("{table} `{name}` not exported: {why}");
        self.warnings.push(line.clone());
        line
    }
}

fn write_group(out: &mut String, name: &str, items: &[Item], skipped: &[String]) {
    let _ = writeln!(out, "  - name: {}", quote(name));
    let _ = writeln!(out, "    rules:");
    for c in skipped {
        let _ = writeln!(out, "      # {}", c.replace('\n', " "));
    }
    for it in items {
        let _ = writeln!(out, "      - {}: {}", it.key, quote(&it.name));
        let _ = writeln!(out, "        expr: {}", quote(&it.expr));
        if it.for_s > 0.0 {
            let _ = writeln!(out, "        for: {}", format_window(it.for_s));
        }
        if it.keep_s > 0.0 {
            let _ = writeln!(out, "        keep_firing_for: {}", format_window(it.keep_s));
        }
        for (key, map) in [("labels", &it.labels), ("annotations", &it.annotations)] {
            if !map.is_empty() {
                let _ = writeln!(out, "        {key}:");
                for (k, v) in map {
                    let _ = writeln!(out, "          {k}: {}", quote(v));
                }
            }
        }
    }
}

/// A YAML double-quoted scalar.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A PromQL string literal.
fn pq_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

/// A CamelCase alert name made of the name's letters and digits (`proof p95` -> `ProofP95`).
pub fn alert_name(name: &str) -> String {
    let mut out: String = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            cs.next().map(|c| c.to_ascii_uppercase().to_string() + cs.as_str()).unwrap_or_default()
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert_str(0, "Gameday");
    }
    out
}

fn negate(op: Op) -> &'static str {
    match op {
        Op::Lt => ">=",
        Op::Le => ">",
        Op::Gt => "<=",
        Op::Ge => "<",
    }
}

fn op_str(op: Op) -> &'static str {
    match op {
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
    }
}

fn alert_rule(ctx: &mut Ctx<'_>, a: &AlertRule, table: &str) -> Result<Item, ExportError> {
    let rule = a.expr.get_ref();
    let q = promql(ctx, &rule.expr)?;
    let mut labels = Vec::new();
    if let Some(sev) = &a.severity {
        labels.push(("severity".to_owned(), sev.clone()));
    }
    if table == "trigger" {
        labels.push(("gameday_rule".to_owned(), "scaling_trigger".to_owned()));
    }
    let mut annotations = vec![("summary".to_owned(), format!("{}: {}", a.name, rule.as_written()))];
    if !a.description.is_empty() {
        annotations.push(("description".to_owned(), a.description.clone()));
    }
    Ok(Item {
        key: "alert",
        name: alert_name(&a.name),
        expr: format!("{q} {} {}", op_str(rule.op), number(rule.threshold.value)),
        for_s: a.r#for.get().as_secs_f64(),
        keep_s: a.keep_firing_for.get().as_secs_f64(),
        labels,
        annotations,
    })
}

/// A number for PromQL, rounded to 12 significant digits (`14.4 * 0.05` -> `0.72`).
fn number(v: f64) -> String {
    let rounded: f64 = format!("{v:.11e}").parse().unwrap_or(v);
    format!("{rounded}")
}

fn slo_rules(ctx: &mut Ctx<'_>, slo: &Slo) -> Result<Vec<Item>, ExportError> {
    let obj = &slo.objective;
    let window_s = slo.window.as_ref().map_or(3600.0, |w| w.get_ref().get().as_secs_f64());
    let q = promql(ctx, &indicator_expr(slo, Window::Last(window_s)))?;
    let slo_label = ("slo".to_owned(), slo.name.clone());
    let summary = |what: &str| ("summary".to_owned(), format!("SLO {}: {what}", slo.name));
    let mut items = vec![Item {
        key: "alert",
        name: format!("{}SLOBreach", alert_name(&slo.name)),
        expr: format!("{q} {} {}", negate(obj.op), number(obj.threshold)),
        for_s: 0.0,
        keep_s: 0.0,
        labels: vec![("severity".into(), "ticket".into()), slo_label.clone()],
        annotations: vec![summary(&format!("{} broken over {}", obj.as_written(), format_window(window_s)))],
    }];
    let Some(allowed) = allowed_ratio(obj) else { return Ok(items) };
    let record = |w: &str| format!("gameday:slo_bad_requests:ratio_rate{w}");
    for (w, secs) in SLO_WINDOWS {
        items.push(Item {
            key: "record",
            name: record(w),
            expr: bad_ratio(ctx, slo, secs)?,
            for_s: 0.0,
            keep_s: 0.0,
            labels: vec![slo_label.clone()],
            annotations: Vec::new(),
        });
    }
    for pair in PAIRS {
        let (long, short) = (format_window(pair.long_s), format_window(pair.short_s));
        let limit = number(pair.factor * allowed);
        let sel = format!("{{slo={}}}", pq_str(&slo.name));
        items.push(Item {
            key: "alert",
            name: format!("{}BurnRate{}", alert_name(&slo.name), if pair.severity == "page" { "Fast" } else { "Slow" }),
            expr: format!("{}{sel} > {limit} and {}{sel} > {limit}", record(&long), record(&short)),
            for_s: 0.0,
            keep_s: 0.0,
            labels: vec![("severity".into(), pair.severity.into()), slo_label.clone()],
            annotations: vec![summary(&format!(
                "error budget burning at over {}x over {long} and {short} ({})",
                pair.factor,
                obj.as_written()
            ))],
        });
    }
    Ok(items)
}

/// The share of bad requests over a window, in PromQL.
fn bad_ratio(ctx: &mut Ctx<'_>, slo: &Slo, secs: f64) -> Result<String, ExportError> {
    let routes = routes(ctx, &request_matchers(slo))?;
    let w = format_window(secs);
    match slo.objective.indicator {
        Indicator::Percentile(_) => {
            let t = slo.objective.threshold;
            let Some(le) = LATENCY_BUCKETS_S.iter().find(|b| **b >= t - 1e-12) else {
                return Err(ExportError::AboveBuckets(t));
            };
            if (le - t).abs() > 1e-12 {
                ctx.warn(&format!("{t}s is not a latency bucket bound; the burn-rate rules count requests over {le}s"));
            }
            let bucket = selector(
                &format!("{DURATION}_bucket"),
                &[routes.clone(), Some(format!("le={}", pq_str(&number(*le))))],
            );
            let count = selector(&format!("{DURATION}_count"), &[routes]);
            Ok(format!("1 - (sum(rate({bucket}[{w}])) / sum(rate({count}[{w}])))"))
        }
        _ => {
            let bad = selector(REQUESTS, &[routes.clone(), Some("status!~\"2..\"".into())]);
            let all = selector(REQUESTS, &[routes]);
            Ok(format!("sum(rate({bad}[{w}])) / sum(rate({all}[{w}]))"))
        }
    }
}

fn selector(name: &str, parts: &[Option<String>]) -> String {
    let inner: Vec<&str> = parts.iter().flatten().map(String::as_str).collect();
    if inner.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", inner.join(","))
    }
}

/// The `route` matcher of the requests `request` matchers select.
fn routes(ctx: &Ctx<'_>, matchers: &[Matcher]) -> Result<Option<String>, ExportError> {
    let mut set = BTreeSet::new();
    for r in &ctx.s.load.requests {
        if matchers.iter().filter(|m| m.label == "request").all(|m| m.matches(Some(r.name.get_ref()))) {
            let path = r.path.split('?').next().unwrap_or("");
            set.insert(r.route.clone().unwrap_or_else(|| path.to_owned()));
        }
    }
    match set.len() {
        0 => Err(ExportError::NoRequest),
        1 => Ok(set.first().map(|r| format!("route={}", pq_str(r)))),
        _ => {
            let alts: Vec<String> = set.iter().map(|r| regex_escape(r)).collect();
            Ok(Some(format!("route=~{}", pq_str(&alts.join("|")))))
        }
    }
}

fn regex_escape(s: &str) -> String {
    s.chars().fold(String::new(), |mut out, c| {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

fn status_regex(o: Outcome) -> Option<&'static str> {
    match o {
        Outcome::Ok => Some("2.."),
        Outcome::Redirect => Some("3.."),
        Outcome::Status429 => Some("429"),
        Outcome::Status4xx => Some("4(?:[013-9].|2[0-8])"),
        Outcome::Status5xx => Some("5.."),
        Outcome::Timeout | Outcome::Connect | Outcome::BodyTooLarge | Outcome::Other => None,
    }
}

/// The `status` matcher of the outcomes `kind` matchers select.
fn statuses(ctx: &mut Ctx<'_>, matchers: &[Matcher], errors_only: bool) -> Result<Option<String>, ExportError> {
    let pick = pick_outcomes(matchers, errors_only);
    let chosen: Vec<Outcome> = Outcome::ALL.iter().zip(pick).filter(|(_, p)| *p).map(|(o, _)| *o).collect();
    let visible: Vec<&str> = chosen.iter().filter_map(|o| status_regex(*o)).collect();
    if visible.is_empty() {
        return Err(ExportError::ClientSideOnly);
    }
    let explicit = errors_only || matchers.iter().any(|m| m.label == "kind");
    if explicit && visible.len() < chosen.len() {
        ctx.warn(
            "client-side failures (timeout, connect, body_too_large, other) have no server metric; the exported rule counts HTTP statuses only",
        );
    }
    Ok(match visible.len() {
        5 => None,
        4 if !chosen.contains(&Outcome::Ok) => Some("status!~\"2..\"".into()),
        _ => Some(format!("status=~{}", pq_str(&visible.join("|")))),
    })
}

fn range(window: Window) -> Result<String, ExportError> {
    match window {
        Window::Last(s) => Ok(format_window(s)),
        Window::All => Err(ExportError::WholeRun),
    }
}

/// An expression in PromQL.
pub fn promql_of(s: &Scenario, e: &Expr) -> Result<String, ExportError> {
    promql(&mut Ctx { s, current: String::new(), warnings: Vec::new() }, e)
}

fn promql(ctx: &mut Ctx<'_>, e: &Expr) -> Result<String, ExportError> {
    Ok(match e {
        Expr::Latency { stat, matchers, window } => {
            let (r, w) = (routes(ctx, matchers)?, range(*window)?);
            let buckets = format!(
                "sum by (le) (rate({}[{w}]))",
                selector(&format!("{DURATION}_bucket"), std::slice::from_ref(&r))
            );
            match stat {
                LatencyStat::Percentile(p) => format!("histogram_quantile({}, {buckets})", number(p / 100.0)),
                LatencyStat::Max => format!("histogram_quantile(1, {buckets})"),
                LatencyStat::Min => format!("histogram_quantile(0, {buckets})"),
                LatencyStat::Mean => format!(
                    "(sum(rate({}[{w}])) / sum(rate({}[{w}])))",
                    selector(&format!("{DURATION}_sum"), std::slice::from_ref(&r)),
                    selector(&format!("{DURATION}_count"), &[r])
                ),
            }
        }
        Expr::Ratio { metric, matchers, window } => {
            let (r, w) = (routes(ctx, matchers)?, range(*window)?);
            let part = match metric {
                RatioMetric::ErrorRatio => statuses(ctx, matchers, true)?,
                RatioMetric::Availability => Some("status=~\"2..\"".to_owned()),
            };
            format!(
                "(sum(rate({}[{w}])) / sum(rate({}[{w}])))",
                selector(REQUESTS, &[r.clone(), part]),
                selector(REQUESTS, &[r])
            )
        }
        Expr::Count { func, errors_only, matchers, window } => {
            let (r, w) = (routes(ctx, matchers)?, range(*window)?);
            let st = statuses(ctx, matchers, *errors_only)?;
            format!("sum({}({}[{w}]))", func.name(), selector(REQUESTS, &[r, st]))
        }
        Expr::Instant(sel) => scraped(sel),
        Expr::Range { func, sel, window } => format!("{}({}[{}])", over_time(*func), scraped(sel), range(*window)?),
        Expr::Over { func, inner, window } => {
            format!("{}(({})[{}:])", over_time(*func), promql(ctx, inner)?, range(*window)?)
        }
        Expr::Absent { inner, .. } => format!("absent({})", promql(ctx, inner)?),
        Expr::Aggregate { func, inner } => format!("{}({})", func.name(), promql(ctx, inner)?),
        Expr::AbsentOverTime { sel, window } => format!("absent_over_time({}[{}])", scraped(sel), range(*window)?),
    })
}

fn over_time(f: RangeFn) -> &'static str {
    match f {
        RangeFn::Avg => "avg_over_time",
        RangeFn::Max => "max_over_time",
        RangeFn::Min => "min_over_time",
        RangeFn::Sum => "sum_over_time",
        RangeFn::Rate => "rate",
        RangeFn::Increase => "increase",
        RangeFn::Deriv => "deriv",
    }
}

fn scraped(sel: &Selector) -> String {
    let parts: Vec<Option<String>> = sel
        .matchers
        .iter()
        .map(|m| Some(format!("{}{}{}", m.label, if m.negate { "!=" } else { "=" }, pq_str(&m.value))))
        .collect();
    selector(&sel.name, &parts)
}
