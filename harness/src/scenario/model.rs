//! The scenario file model: what a TOML scenario may contain, with serde defaults.
//!
//! Validation that fits in a type happens while parsing (a zero duration, an unknown
//! service, distribution or field, a malformed objective), so the error carries the
//! line of the offending value; cross-references (an SLO naming a request that does not
//! exist) are checked afterwards in [`super::validate`] with the same file:line form.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use gameday_mocks::kit::{HumanDuration, PositiveDuration, TimeScale};
use gameday_mocks::services::{grahmos, midnight, morphsave, pxl, scribe};
use gameday_mocks::{ServiceId, ServiceProfile};
use serde::{Deserialize, Serialize};
use toml::Spanned;

pub use gameday_rules::spec::{AlertRule, Expect, Slo};

pub use crate::spec::units::{Method, Ratio};
use gameday_core::arrival::{Process, RateCurve};

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in reports.
    pub name: String,
    /// What the scenario checks and why.
    #[serde(default)]
    pub description: String,
    /// Seed for every random draw (arrivals, mix, service times); printed and stored.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Simulated seconds per real second (see "One clock").
    #[serde(default)]
    pub time_scale: TimeScale,
    /// Where each service is: an embedded mock (default, optionally with a profile) or a URL.
    #[serde(default)]
    pub targets: Targets,
    /// The load to run.
    pub load: Load,
    /// Service level objectives checked over the run.
    #[serde(default, rename = "slo")]
    pub slos: Vec<Slo>,
    /// How often rules are evaluated (simulated time); default the recording interval.
    #[serde(default)]
    pub evaluation_interval: Option<PositiveDuration>,
    /// How far back an instant lookup finds a scraped sample (simulated time), as
    /// Prometheus's `--query.lookback-delta`; default 5m. Never past a staleness marker.
    #[serde(default)]
    pub lookback_delta: Option<PositiveDuration>,
    /// Alerts: reported, and failing the run only when they carry an expectation.
    #[serde(default, rename = "alert")]
    pub alerts: Vec<AlertRule>,
    /// Scaling triggers: rules whose verdict is when they fired.
    #[serde(default, rename = "trigger")]
    pub triggers: Vec<AlertRule>,
    /// Active checks recorded as `probe_success` series (see [`super::probe`]).
    #[serde(default, rename = "probe")]
    pub probes: Vec<super::probe::ProbeDecl>,
    /// A growth curve for `gameday plan` (see `capacity::growth`).
    #[serde(default)]
    pub growth: Option<crate::spec::growth::GrowthSpec>,
    /// How `gameday plan` sizes the service.
    #[serde(default)]
    pub plan: crate::spec::plan::PlanSpec,
    /// How `gameday gate` compares this scenario's runs with a baseline.
    #[serde(default)]
    pub gate: Option<crate::spec::gate::GateSpec>,
    /// Chaos drills run under the load (`gameday drill`; see [`crate::chaos::drill`]).
    #[serde(default, rename = "drill")]
    pub drills: Vec<crate::spec::drill::Drill>,
    /// Where the scenario was read from, for errors found after parsing.
    #[serde(skip)]
    pub origin: Origin,
}

/// The file a scenario came from and its text, so checks that run after parsing (such as
/// [`crate::resolve::check_metrics`]) can still name a line.
#[derive(Clone, Default)]
pub struct Origin {
    /// The scenario file.
    pub file: std::path::PathBuf,
    /// Its text.
    pub text: std::sync::Arc<str>,
}

impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Origin({})", self.file.display())
    }
}

fn default_seed() -> u64 {
    42
}

/// Per-service target settings. A service a request names but that has no entry here
/// runs as an embedded mock with its default profile.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Midnight proof server.
    pub midnight: Option<Target<midnight::Profile>>,
    /// Scribe ledger cluster.
    pub scribe: Option<Target<scribe::Profile>>,
    /// Grahmos edge node.
    pub grahmos: Option<Target<grahmos::Profile>>,
    /// PXL Core.
    pub pxl: Option<Target<pxl::Profile>>,
    /// MorphSave app.
    pub morphsave: Option<Target<morphsave::Profile>>,
}

impl Targets {
    /// A service's URL, when the scenario gives one, and its embedded mock's profile
    /// (the defaults with the scenario's overrides).
    pub fn get(&self, id: ServiceId) -> (Option<String>, ServiceProfile) {
        match id {
            ServiceId::Midnight => split(&self.midnight, ServiceProfile::Midnight),
            ServiceId::Scribe => split(&self.scribe, ServiceProfile::Scribe),
            ServiceId::Grahmos => split(&self.grahmos, ServiceProfile::Grahmos),
            ServiceId::Pxl => split(&self.pxl, ServiceProfile::Pxl),
            ServiceId::Morphsave => split(&self.morphsave, ServiceProfile::Morphsave),
        }
    }
}

impl Targets {
    /// How a service's metrics are scraped (default: scraped, at `/metrics`).
    pub fn scrape(&self, id: ServiceId) -> ScrapeSetting {
        let setting = match id {
            ServiceId::Midnight => self.midnight.as_ref().map(Target::scrape_setting),
            ServiceId::Scribe => self.scribe.as_ref().map(Target::scrape_setting),
            ServiceId::Grahmos => self.grahmos.as_ref().map(Target::scrape_setting),
            ServiceId::Pxl => self.pxl.as_ref().map(Target::scrape_setting),
            ServiceId::Morphsave => self.morphsave.as_ref().map(Target::scrape_setting),
        };
        setting.unwrap_or(ScrapeSetting { enabled: true, metrics: None })
    }
}

fn split<P: Clone + Default>(t: &Option<Target<P>>, wrap: fn(P) -> ServiceProfile) -> (Option<String>, ServiceProfile) {
    match t {
        Some(t) => (t.url.clone().map(Spanned::into_inner), wrap(t.profile.clone())),
        None => (None, wrap(P::default())),
    }
}

/// One service's target: a URL of a running instance, or the embedded mock's profile.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target<P> {
    /// Base URL of a running instance; absent = start the embedded mock.
    pub url: Option<Spanned<String>>,
    /// Where an external instance serves Prometheus metrics: a full URL, or a path on
    /// `url`; absent = `<url>/metrics`. Ignored for the embedded mock.
    #[serde(default)]
    pub metrics: Option<Spanned<String>>,
    /// Whether the run scrapes this service's metrics at all (default `true`). A target
    /// without metrics is only reported, never a failed run; `false` silences that.
    #[serde(default = "yes")]
    pub scrape: bool,
    /// Overrides of the embedded mock's profile (ignored when `url` is set).
    #[serde(default)]
    pub profile: P,
}

impl<P: Default> Default for Target<P> {
    fn default() -> Self {
        Self { url: None, metrics: None, scrape: true, profile: P::default() }
    }
}

fn yes() -> bool {
    true
}

/// How one service's metrics are scraped (from its `[targets.<service>]` entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeSetting {
    /// `scrape`: whether to scrape at all.
    pub enabled: bool,
    /// `metrics`: a full URL or a path on the target's URL; `None` = `/metrics`.
    pub metrics: Option<Spanned<String>>,
}

impl<P> Target<P> {
    fn scrape_setting(&self) -> ScrapeSetting {
        ScrapeSetting { enabled: self.scrape, metrics: self.metrics.clone() }
    }
}

/// The load: an open model (an arrival `rate`) or a closed one (`users`), sending a
/// weighted mix of requests.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Open model: the arrival rate (`"2/s"`, `"1000/day"`) or a rate curve.
    #[serde(default)]
    pub rate: Option<RateCurve>,
    /// Open model: how arrivals are spaced around the rate (default Poisson).
    #[serde(default)]
    pub arrivals: Process,
    /// Open model: most users (concurrent requests) the generator may start.
    #[serde(default = "default_max_users")]
    pub max_users: NonZeroU32,
    /// Open model: a send later than this behind its intended time counts as late
    /// (simulated; default 10 ms of real time at the run's scale).
    #[serde(default)]
    pub late_after: Option<PositiveDuration>,
    /// Open model: the share of late sends past which the generator is saturated and the
    /// run is invalid (a ratio `0.01` or a percentage `"1%"`).
    #[serde(default = "default_max_late")]
    pub max_late: Ratio,
    /// Closed model: concurrent users (each sends, waits for the answer, thinks, repeats).
    #[serde(default)]
    pub users: Option<NonZeroU32>,
    /// How long the load runs (simulated time).
    pub duration: PositiveDuration,
    /// Closed model: time over which users are started (simulated); 0 starts them all at once.
    #[serde(default)]
    pub ramp: HumanDuration,
    /// Closed model: pause between a user's requests (simulated).
    #[serde(default)]
    pub think_time: HumanDuration,
    /// A request not answered within this is a timeout error, counted at this latency.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: PositiveDuration,
    /// Whether a user keeps its connection open between requests (HTTP keep-alive, one
    /// HTTP/2 connection); `false` opens a new connection, with a full TLS handshake, for
    /// every request (k6's `noConnectionReuse`).
    #[serde(default = "default_keep_alive")]
    pub keep_alive: bool,
    /// Redirect hops a request follows (0..=10, default 0): a 3xx not followed is the
    /// outcome `redirect`; a hop goes only to a loopback host (any with `--allow-remote`).
    #[serde(default)]
    pub follow_redirects: FollowRedirects,
    /// Largest response body read (bytes, or `"10 MiB"`; default 10 MiB, at most 1 GiB);
    /// a longer one is the outcome `body_too_large` and its connection is dropped.
    #[serde(default)]
    pub max_response_bytes: ByteSize,
    /// The request mix.
    #[serde(rename = "request")]
    pub requests: Vec<RequestSpec>,
}

/// Which load model a [`Load`] asks for.
#[derive(Clone, Debug)]
pub enum Model<'a> {
    /// Arrivals at a rate, latency measured from the intended send time.
    Open(&'a RateCurve),
    /// A fixed number of users in a send-wait-think loop.
    Closed(NonZeroU32),
}

/// Why `[load]` names no single load model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// Both `rate` and `users`.
    #[error("give either `rate` (open model) or `users` (closed model), not both")]
    Both,
    /// Neither.
    #[error("give `rate` (open model, e.g. \"2/s\") or `users` (closed model)")]
    Neither,
}

impl Load {
    /// The model, or why the table is ambiguous (both or neither of `rate` and `users`).
    pub fn model(&self) -> Result<Model<'_>, ModelError> {
        match (&self.rate, self.users) {
            (Some(r), None) => Ok(Model::Open(r)),
            (None, Some(u)) => Ok(Model::Closed(u)),
            (Some(_), Some(_)) => Err(ModelError::Both),
            (None, None) => Err(ModelError::Neither),
        }
    }
}

fn default_max_users() -> NonZeroU32 {
    NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN)
}

fn default_max_late() -> Ratio {
    Ratio(0.01)
}

/// `load.follow_redirects`: redirect hops a request may follow, 0..=10.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FollowRedirects(pub u8);

impl<'de> Deserialize<'de> for FollowRedirects {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let max = crate::http_guard::MAX_FOLLOW_REDIRECTS;
        let v = i64::deserialize(d)?;
        u8::try_from(v)
            .ok()
            .filter(|n| *n <= max)
            .map(Self)
            .ok_or_else(|| serde::de::Error::custom(format!("{v} is outside 0..={max} (redirect hops to follow)")))
    }
}

/// A size in bytes: a whole number (`1048576`) or a string with a unit (`"10 MiB"`,
/// `"512 KiB"`, `"1 MB"`), more than 0 and at most [`ByteSize::MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// The largest size accepted (1 GiB).
    pub const MAX: u64 = 1024 * 1024 * 1024;

    fn parse(text: &str) -> Option<u64> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let n: u64 = digits.parse().ok()?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" | "kB" => 1000,
            "KiB" => 1024,
            "MB" => 1000 * 1000,
            "MiB" => 1024 * 1024,
            "GB" => 1000 * 1000 * 1000,
            "GiB" => 1024 * 1024 * 1024,
            _ => return None,
        };
        n.checked_mul(mult)
    }
}

impl Default for ByteSize {
    fn default() -> Self {
        Self(crate::http_guard::DEFAULT_MAX_RESPONSE_BYTES)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        let (shown, v) = match Raw::deserialize(d)? {
            Raw::Number(n) => (n.to_string(), u64::try_from(n).ok()),
            Raw::Text(t) => {
                let v = Self::parse(&t);
                if v.is_none() {
                    let msg =
                        format!("`{t}` is not a size like 1048576 or \"10 MiB\" (units B, KB, KiB, MB, MiB, GB, GiB)");
                    return Err(serde::de::Error::custom(msg));
                }
                (format!("`{t}`"), v)
            }
        };
        match v.filter(|b| (1..=Self::MAX).contains(b)) {
            Some(b) => Ok(Self(b)),
            None => Err(serde::de::Error::custom(format!("{shown} is outside 1 byte..=1 GiB"))),
        }
    }
}

fn default_keep_alive() -> bool {
    true
}

fn default_request_timeout() -> PositiveDuration {
    PositiveDuration(HumanDuration(std::time::Duration::from_secs(60)))
}

/// One kind of request in the mix.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// Name used by SLOs and reports (unique in the mix).
    pub name: Spanned<String>,
    /// The service it goes to.
    pub target: ServiceId,
    /// HTTP method.
    #[serde(default)]
    pub method: Method,
    /// Path (and query) on the target, starting with `/`.
    pub path: String,
    /// Body template; `{{nonce}}` becomes 32 random bytes in hex, `{{seq}}` a sequence number.
    #[serde(default)]
    pub body: Option<String>,
    /// Extra headers (values are templates too).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Relative frequency in the mix.
    #[serde(default = "one")]
    pub weight: NonZeroU32,
    /// The server's `route` label for this request in exported rules (`gameday rules
    /// export`); default the path without its query. Set it when the server labels a
    /// route pattern (`/v1/overlays/{name}`) rather than the path.
    #[serde(default)]
    pub route: Option<String>,
}

fn one() -> NonZeroU32 {
    NonZeroU32::MIN
}
