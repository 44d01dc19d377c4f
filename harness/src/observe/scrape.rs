//! The scraper: GETs each target's `/metrics` at an interval while a run goes, and keeps
//! what rules need as [`Series`] on the run's simulated clock.
//!
//! Each target is scraped by its own loop, so a slow or dead target never delays the
//! others. A sample's time is the simulated time the scrape was sent (as Prometheus
//! stamps a scrape with its start); timestamps in the exposition are ignored. Kept:
//! - with no [`Want`], every gauge, counter and untyped sample (histograms and summaries
//!   are left out: buckets multiply series and rules read latency client-side);
//! - with a [`Want`], only the wanted names: a sample is kept when its own name or its
//!   family's name is wanted (so wanting a histogram's base name keeps its buckets).
//!
//! Every kept sample gets the labels `service` and `instance` (an exposed label of the
//! same name becomes `exported_service` / `exported_instance`, as in Prometheus).
//! Counters are kept as exposed (cumulative); rate functions handle resets.
//!
//! Missing data, as Prometheus's scrape loop records it (`scrape/scrape.go`):
//! - every scrape, answered or not, adds `up{service,instance}` (1 answered with
//!   Prometheus text, 0 otherwise) and `scrape_duration_seconds` (simulated seconds the
//!   scrape took, up to its timeout);
//! - a series this target had, which a scrape did not return (the scrape failed, or the
//!   target stopped exposing it), gets a staleness marker ([`super::STALE_NAN`]) at that
//!   scrape's time, once; it starts again at the next scrape that returns it.
//!
//! What could not be observed is a problem line naming the target's URL: a target that
//! never answered with Prometheus text (refused, timed out, non-200, HTML, JSON), scrapes
//! that failed part of the time (those points are missing, not zero), and every wanted
//! metric a target never exposed. Memory is bounded: at most [`MAX_SCRAPES`] scrapes per
//! target and [`MAX_SERIES_PER_TARGET`] series per target, each sample 16 bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use gameday_mocks::ServiceId;
use reqwest::{header, Client, StatusCode};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::text::{self, Family, MetricType};
use super::{is_stale, Series, STALE_NAN};
use crate::clock::Clock;

/// Most scrapes of one target in one run (a day at one scrape per second real).
pub const MAX_SCRAPES: u64 = 86_400;
/// Most series kept from one target; more are dropped with a problem line.
pub const MAX_SERIES_PER_TARGET: usize = 10_000;
/// Largest `/metrics` body read, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The `Accept` header: the classic text format (Scribe answers JSON to `application/json`).
const ACCEPT: &str = "text/plain;version=0.0.4;q=1.0,*/*;q=0.1";

/// One `/metrics` endpoint to scrape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeTarget {
    /// The service it belongs to (the `service` label).
    pub service: ServiceId,
    /// Which listener or instance (the `instance` label): the endpoint name for an
    /// embedded mock (`scribe-2`), `host:port` for an external target.
    pub instance: String,
    /// The full metrics URL (`http://127.0.0.1:6300/metrics`).
    pub url: String,
    /// A CA certificate (PEM) to trust for it besides the system roots (an embedded mock
    /// serving TLS with its own CA).
    pub ca_pem: Option<String>,
}

/// Which metrics to keep, and from which services each is expected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Want {
    /// Metric name -> services expected to expose it (empty: any one target will do).
    names: BTreeMap<String, BTreeSet<ServiceId>>,
}

impl Want {
    /// Nothing wanted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wants `name` (a sample or family name); with `from`, every target of that
    /// service is expected to expose it, otherwise at least one target.
    pub fn add(&mut self, name: &str, from: Option<ServiceId>) {
        let services = self.names.entry(name.to_owned()).or_default();
        services.extend(from);
    }

    /// Whether a sample named `sample` of family `family` is kept.
    fn keeps(&self, family: &str, sample: &str) -> bool {
        self.names.contains_key(sample) || self.names.contains_key(family)
    }
}

impl<S: AsRef<str>> FromIterator<S> for Want {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut w = Want::new();
        iter.into_iter().for_each(|n| w.add(n.as_ref(), None));
        w
    }
}

impl From<BTreeSet<String>> for Want {
    fn from(names: BTreeSet<String>) -> Self {
        names.into_iter().collect()
    }
}

/// How scraping one target went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScrapeHealth {
    /// The target's URL.
    pub url: String,
    /// Its `instance` label.
    pub instance: String,
    /// Scrapes sent.
    pub attempts: u64,
    /// Scrapes answered with Prometheus text.
    pub answered: u64,
}

/// What a scrape of a whole run produced.
#[derive(Clone, Debug, Default)]
pub struct Scraped {
    /// Every kept series, in time order within each.
    pub series: Vec<Series>,
    /// What could not be observed, one line each, naming the target URL and metric.
    pub problems: Vec<String>,
    /// Per target, how many scrapes were sent and answered.
    pub targets: Vec<ScrapeHealth>,
}

/// Starts scraping `targets` every `interval` (real time) until `stop` is cancelled;
/// the handle yields everything kept. `want = None` keeps every gauge and counter.
///
/// The HTTP client is built before this returns (tens of milliseconds: it loads the
/// system's root certificates), so the first scrape goes out as soon as the task runs.
pub fn spawn(
    targets: Vec<ScrapeTarget>,
    want: Option<Want>,
    interval: Duration,
    clock: Clock,
    stop: CancellationToken,
) -> JoinHandle<Scraped> {
    spawn_tapped(targets, want, interval, clock, stop, None)
}

/// [`spawn`], also putting every kept sample into `tap` as it arrives (drills read it).
pub fn spawn_tapped(
    targets: Vec<ScrapeTarget>,
    want: Option<Want>,
    interval: Duration,
    clock: Clock,
    stop: CancellationToken,
    tap: Option<super::Tap>,
) -> JoinHandle<Scraped> {
    let interval = interval.max(Duration::from_millis(1));
    let roots = targets.iter().filter_map(|t| t.ca_pem.as_deref());
    let client = crate::targets::client(builder(request_timeout(interval)), roots);
    tokio::spawn(async move {
        let client = match client {
            Ok(c) => c,
            Err(e) => {
                let problems = vec![format!("metrics were not scraped: cannot build an HTTP client: {e}")];
                return Scraped { problems, ..Scraped::default() };
            }
        };
        let loops: Vec<_> = targets
            .iter()
            .map(|t| {
                let (client, target, want, stop) = (client.clone(), t.clone(), want.clone(), stop.clone());
                let acc = Accumulator::new(target, want).with_tap(tap.clone());
                tokio::spawn(scrape_loop(client, acc, interval, clock, stop))
            })
            .collect();
        let mut done = Vec::with_capacity(loops.len());
        for (t, handle) in targets.iter().zip(loops) {
            match handle.await {
                Ok(acc) => done.push(acc),
                Err(e) => done.push(Accumulator::failed(t.clone(), format!("the scrape task ended abnormally: {e}"))),
            }
        }
        merge(done, want.as_ref())
    })
}

/// A scrape's own timeout: the interval, kept between 250 ms and 5 s.
fn request_timeout(interval: Duration) -> Duration {
    interval.clamp(Duration::from_millis(250), Duration::from_secs(5))
}

/// A loopback-friendly client: no proxy, short timeouts, no redirect followed (a 3xx is
/// a failed scrape, never a request to wherever it points).
pub(crate) fn client(timeout: Duration) -> Result<Client, reqwest::Error> {
    builder(timeout).build()
}

fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    Client::builder()
        .no_proxy()
        .redirect(crate::http_guard::no_redirects())
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_max_idle_per_host(1)
}

/// Scrapes one target until `stop`, at most [`MAX_SCRAPES`] times.
async fn scrape_loop(
    client: Client,
    mut acc: Accumulator,
    interval: Duration,
    clock: Clock,
    stop: CancellationToken,
) -> Accumulator {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    while acc.report.attempts < MAX_SCRAPES {
        tokio::select! {
            biased;
            () = stop.cancelled() => return acc,
            _ = ticker.tick() => {}
        }
        let t = sim_now(&clock);
        let sent = Instant::now();
        let fetched = tokio::select! {
            biased;
            () = stop.cancelled() => return acc,
            r = fetch(&client, &acc.target.url) => r,
        };
        let took_s = clock.to_sim(sent.elapsed()).as_secs_f64();
        match fetched {
            Ok(families) => acc.record(t, &families),
            Err(e) => acc.fail(t, e.to_string()),
        }
        acc.end_scrape(t, took_s);
    }
    acc.notes.push(format!("stopped after {MAX_SCRAPES} scrapes (the most kept per target); later points are missing"));
    acc
}

/// Simulated seconds since the clock started.
fn sim_now(clock: &Clock) -> f64 {
    clock.to_sim(Instant::now().saturating_duration_since(clock.started())).as_secs_f64()
}

/// Why a metrics URL gave no series: each message says what was wrong with the answer.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer (refused, timed out, ...).
    #[error("{}", describe(.0))]
    Request(reqwest::Error),
    /// An answer other than 200.
    #[error("answered HTTP {0}, not 200 with Prometheus text")]
    Status(StatusCode),
    /// A content type that is surely not Prometheus text.
    #[error("answered `{0}`, not Prometheus text")]
    ContentType(String),
    /// A body over [`MAX_BODY_BYTES`].
    #[error("answered more than {MAX_BODY_BYTES} bytes")]
    TooLong,
    /// A body that is not UTF-8.
    #[error("answered a body that is not UTF-8 text: {0}")]
    NotUtf8(std::str::Utf8Error),
    /// Text that does not parse.
    #[error("answered text that is not Prometheus exposition format: {0}")]
    NotExposition(text::ParseError),
}

/// GETs one metrics URL and parses it; the error says what was wrong with the answer.
pub(crate) async fn fetch(client: &Client, url: &str) -> Result<Vec<Family>, FetchError> {
    let mut resp = client.get(url).header(header::ACCEPT, ACCEPT).send().await.map_err(FetchError::Request)?;
    let status = resp.status();
    if status != StatusCode::OK {
        return Err(FetchError::Status(status));
    }
    let ctype = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let essence = ctype.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if matches!(essence.as_str(), "application/json" | "text/html" | "application/xml" | "text/xml") {
        return Err(FetchError::ContentType(ctype));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(FetchError::Request)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(FetchError::TooLong);
        }
        body.extend_from_slice(&chunk);
    }
    let text = std::str::from_utf8(&body).map_err(FetchError::NotUtf8)?;
    text::parse(text).map_err(FetchError::NotExposition)
}

/// A short reason for a failed request: refused, timed out, or the error chain.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "did not answer in time (timeout)".into();
    }
    let mut msg = if e.is_connect() { "cannot connect".to_owned() } else { "request failed".to_owned() };
    let mut source = std::error::Error::source(e);
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    if let Some(cause) = last {
        msg.push_str(": ");
        msg.push_str(&cause);
    }
    msg
}

/// The scraper's labels on top of a sample's own (see the module docs).
pub(crate) fn scrape_labels(
    own: &BTreeMap<String, String>,
    service: ServiceId,
    instance: &str,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    for (k, v) in own {
        let key = if k == "service" || k == "instance" { format!("exported_{k}") } else { k.clone() };
        labels.insert(key, v.clone());
    }
    labels.insert("service".into(), service.as_str().into());
    labels.insert("instance".into(), instance.into());
    labels
}

/// Series key: name and labels.
type Key = (String, BTreeMap<String, String>);

/// What one target's loop has seen.
#[derive(Debug)]
struct Accumulator {
    target: ScrapeTarget,
    want: Option<Want>,
    report: ScrapeHealth,
    series: BTreeMap<Key, Vec<(f64, f64)>>,
    /// Family and sample names seen with at least one sample.
    sampled: BTreeSet<String>,
    /// Family names seen declared (HELP/TYPE) without samples.
    declared: BTreeSet<String>,
    /// Failed scrapes: count, and the first one's time and reason.
    failures: u64,
    first_failure: Option<(f64, String)>,
    dropped_series: u64,
    duplicates: u64,
    notes: Vec<String>,
    tap: Option<super::Tap>,
    /// When the latest answered scrape was sent.
    last_answered_at: Option<f64>,
}

impl Accumulator {
    fn new(target: ScrapeTarget, want: Option<Want>) -> Self {
        let report = ScrapeHealth { url: target.url.clone(), instance: target.instance.clone(), ..Default::default() };
        Self {
            target,
            want,
            report,
            series: BTreeMap::new(),
            sampled: BTreeSet::new(),
            declared: BTreeSet::new(),
            failures: 0,
            first_failure: None,
            dropped_series: 0,
            duplicates: 0,
            notes: Vec::new(),
            tap: None,
            last_answered_at: None,
        }
    }

    fn with_tap(mut self, tap: Option<super::Tap>) -> Self {
        self.tap = tap;
        self
    }

    fn failed(target: ScrapeTarget, why: String) -> Self {
        let mut acc = Self::new(target, None);
        acc.notes.push(why);
        acc
    }

    fn keeps(&self, f: &Family, sample: &str) -> bool {
        match &self.want {
            Some(w) => w.keeps(&f.name, sample),
            None => matches!(f.kind, MetricType::Counter | MetricType::Gauge | MetricType::Untyped),
        }
    }

    fn record(&mut self, t: f64, families: &[Family]) {
        self.report.attempts += 1;
        self.report.answered += 1;
        self.last_answered_at = Some(t);
        for f in families {
            if f.samples.is_empty() {
                self.declared.insert(f.name.clone());
                continue;
            }
            self.sampled.insert(f.name.clone());
            for s in &f.samples {
                self.sampled.insert(s.name.clone());
                if self.keeps(f, &s.name) {
                    let labels = scrape_labels(&s.labels, self.target.service, &self.target.instance);
                    self.push((s.name.clone(), labels), t, s.value);
                }
            }
        }
    }

    fn push(&mut self, key: Key, t: f64, value: f64) {
        let at_cap = self.series.len() >= MAX_SERIES_PER_TARGET;
        match self.series.get_mut(&key) {
            Some(points) if points.last().is_some_and(|&(last, _)| last >= t) => self.duplicates += 1,
            Some(points) => {
                points.push((t, value));
                if let Some(tap) = &self.tap {
                    tap.push_sample(&key.0, &key.1, t, value);
                }
            }
            None if at_cap => self.dropped_series += 1,
            None => {
                if let Some(tap) = &self.tap {
                    tap.push_sample(&key.0, &key.1, t, value);
                }
                self.series.insert(key, vec![(t, value)]);
            }
        }
    }

    fn fail(&mut self, t: f64, why: String) {
        self.report.attempts += 1;
        self.failures += 1;
        if self.first_failure.is_none() {
            self.first_failure = Some((t, why));
        }
    }

    /// Closes the scrape sent at `t`: `up` (1 if it was answered) and
    /// `scrape_duration_seconds`, then a staleness marker on every series it did not
    /// return. Call once per scrape, after [`Self::record`] or [`Self::fail`].
    fn end_scrape(&mut self, t: f64, took_s: f64) {
        let answered = self.last_answered_at == Some(t);
        self.sampled.extend(super::SCRAPE_SERIES.iter().map(|n| (*n).to_owned()));
        let labels = scrape_labels(&BTreeMap::new(), self.target.service, &self.target.instance);
        self.push(("up".into(), labels.clone()), t, if answered { 1.0 } else { 0.0 });
        self.push(("scrape_duration_seconds".into(), labels), t, took_s);
        for ((name, labels), points) in &mut self.series {
            if points.last().is_some_and(|&(last, v)| last < t && !is_stale(v)) {
                points.push((t, STALE_NAN));
                if let Some(tap) = &self.tap {
                    tap.push_sample(name, labels, t, STALE_NAN);
                }
            }
        }
    }

    /// This target's own problem lines (wanted metrics are checked across targets).
    fn problems(&self) -> Vec<String> {
        let who = format!("{} {} ({})", self.target.service, self.target.instance, self.target.url);
        let mut out: Vec<String> = self.notes.iter().map(|n| format!("{who}: {n}")).collect();
        let first = self.first_failure.as_ref();
        let reason = first.map_or_else(String::new, |(t, why)| format!(" (first at {t:.1}s simulated: {why})"));
        if self.report.answered == 0 && self.report.attempts > 0 {
            out.push(format!(
                "{who} never answered with Prometheus metrics in {} scrapes{reason}; nothing was kept from it",
                self.report.attempts
            ));
        } else if self.report.attempts == 0 && self.notes.is_empty() {
            out.push(format!("{who} was never scraped (the run ended first)"));
        } else if self.failures > 0 {
            out.push(format!(
                "{who}: {} of {} scrapes failed{reason}; those points are missing, not zero",
                self.failures, self.report.attempts
            ));
        }
        if self.dropped_series > 0 {
            out.push(format!(
                "{who}: exposed more than {MAX_SERIES_PER_TARGET} series; {} series were not kept",
                self.dropped_series
            ));
        }
        if self.duplicates > 0 {
            out.push(format!("{who}: {} duplicate samples (same series twice in one scrape) ignored", self.duplicates));
        }
        out
    }
}

/// Joins the targets' series and problems; checks every wanted metric was exposed.
fn merge(done: Vec<Accumulator>, want: Option<&Want>) -> Scraped {
    let mut out = Scraped::default();
    for acc in &done {
        out.problems.extend(acc.problems());
    }
    if let Some(want) = want {
        out.problems.extend(missing_wanted(&done, want));
    }
    for acc in done {
        out.targets.push(acc.report);
        out.series.extend(acc.series.into_iter().map(|((name, labels), samples)| Series { name, labels, samples }));
    }
    out.series.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
    out
}

/// A problem for every wanted metric not exposed where it was expected.
fn missing_wanted(done: &[Accumulator], want: &Want) -> Vec<String> {
    let mut out = Vec::new();
    let describe = |acc: &Accumulator, name: &str| {
        let who = format!("{} {} ({})", acc.target.service, acc.target.instance, acc.target.url);
        if acc.declared.contains(name) {
            format!("metric `{name}`: {who} declared it but never exposed a sample; it has no data, not zeros")
        } else {
            format!("metric `{name}`: {who} never exposed it; it has no data, not zeros")
        }
    };
    for (name, services) in &want.names {
        let answered = |a: &&Accumulator| a.report.answered > 0;
        if services.is_empty() {
            if !done.iter().any(|a| a.sampled.contains(name)) {
                out.extend(done.iter().filter(answered).map(|a| describe(a, name)));
            }
            continue;
        }
        let expected = done.iter().filter(|a| services.contains(&a.target.service)).filter(answered);
        out.extend(expected.filter(|a| !a.sampled.contains(name)).map(|a| describe(a, name)));
        for svc in services {
            if !done.iter().any(|a| a.target.service == *svc) {
                out.push(format!("metric `{name}`: {svc} is not scraped (no metrics target); it has no data"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> ScrapeTarget {
        ScrapeTarget {
            service: ServiceId::Midnight,
            instance: "midnight".into(),
            url: "http://127.0.0.1:1/metrics".into(),
            ca_pem: None,
        }
    }

    const TEXT: &str = "# TYPE q gauge\nq{pool=\"a\",instance=\"x\"} 3\n# TYPE r_total counter\nr_total 1\n\
                        # TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 2\nh_count 1\n# TYPE e_total counter\n";

    #[test]
    fn keeps_gauges_and_counters_by_default_and_renames_clashing_labels() {
        let mut acc = Accumulator::new(target(), None);
        acc.record(0.0, &text::parse(TEXT).unwrap());
        acc.record(1.0, &text::parse(&TEXT.replace("} 3", "} 4")).unwrap());
        let out = merge(vec![acc], None);
        let names: Vec<&str> = out.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["q", "r_total"]);
        assert_eq!(out.series[0].samples, [(0.0, 3.0), (1.0, 4.0)]);
        let labels: Vec<(&str, &str)> = out.series[0].labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            labels,
            [("exported_instance", "x"), ("instance", "midnight"), ("pool", "a"), ("service", "midnight")]
        );
        assert!(out.problems.is_empty(), "{:?}", out.problems);
    }

    #[test]
    fn wanted_names_keep_histograms_and_report_what_is_missing() {
        let want: Want = ["h", "q", "nope", "e_total"].into_iter().collect();
        let mut acc = Accumulator::new(target(), Some(want.clone()));
        acc.record(0.0, &text::parse(TEXT).unwrap());
        let out = merge(vec![acc], Some(&want));
        let names: Vec<&str> = out.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["h_bucket", "h_count", "h_sum", "q"]);
        assert_eq!(out.problems.len(), 2, "{:?}", out.problems);
        assert!(out.problems[0].contains("`e_total`") && out.problems[0].contains("declared"), "{:?}", out.problems);
        assert!(out.problems[1].contains("`nope`") && out.problems[1].contains("http://127.0.0.1:1/metrics"));
    }

    #[test]
    fn a_metric_wanted_from_one_service_is_not_missing_from_another() {
        let mut want = Want::new();
        want.add("q", Some(ServiceId::Midnight));
        want.add("only_scribe", Some(ServiceId::Scribe));
        let mut acc = Accumulator::new(target(), Some(want.clone()));
        acc.record(0.0, &text::parse(TEXT).unwrap());
        let out = merge(vec![acc], Some(&want));
        assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
        assert!(out.problems[0].contains("scribe is not scraped"), "{:?}", out.problems);
    }

    #[test]
    fn every_scrape_adds_up_and_a_failed_or_partial_scrape_marks_series_stale() {
        let mut acc = Accumulator::new(target(), None);
        acc.record(0.0, &text::parse(TEXT).unwrap());
        acc.end_scrape(0.0, 0.002);
        acc.fail(1.0, "cannot connect".into());
        acc.end_scrape(1.0, 0.25);
        acc.fail(2.0, "cannot connect".into());
        acc.end_scrape(2.0, 0.25);
        // Back, but without `r_total`: it goes stale again at 4 (it was stale since 1).
        acc.record(3.0, &text::parse(TEXT).unwrap());
        acc.end_scrape(3.0, 0.001);
        acc.record(4.0, &text::parse("# TYPE q gauge\nq{pool=\"a\",instance=\"x\"} 7\n").unwrap());
        acc.end_scrape(4.0, 0.001);
        let out = merge(vec![acc], None);
        let get = |name: &str| out.series.iter().find(|s| s.name == name).unwrap();
        assert_eq!(get("up").samples, [(0.0, 1.0), (1.0, 0.0), (2.0, 0.0), (3.0, 1.0), (4.0, 1.0)]);
        assert_eq!(get("up").labels["instance"], "midnight");
        assert_eq!(get("scrape_duration_seconds").samples[1], (1.0, 0.25));
        let shape = |name: &str| -> Vec<(f64, Option<f64>)> {
            get(name).samples.iter().map(|&(t, v)| (t, (!is_stale(v)).then_some(v))).collect()
        };
        // One marker per gap, at the first scrape that did not return the series.
        assert_eq!(shape("q"), [(0.0, Some(3.0)), (1.0, None), (3.0, Some(3.0)), (4.0, Some(7.0))]);
        assert_eq!(shape("r_total"), [(0.0, Some(1.0)), (1.0, None), (3.0, Some(1.0)), (4.0, None)]);
    }

    #[test]
    fn failures_are_gaps_with_a_problem_not_zeros() {
        let mut acc = Accumulator::new(target(), None);
        acc.record(0.0, &text::parse(TEXT).unwrap());
        acc.fail(1.0, "cannot connect".into());
        acc.record(2.0, &text::parse(TEXT).unwrap());
        let out = merge(vec![acc], None);
        assert_eq!(out.series[0].samples, [(0.0, 3.0), (2.0, 3.0)]);
        assert_eq!(out.problems.len(), 1);
        assert!(out.problems[0].contains("1 of 3 scrapes failed (first at 1.0s simulated: cannot connect)"));
    }
}
