//! The metric and label names a service exposes, for validating rules before a run.
//!
//! [`discover`] starts a service's embedded mock in-process on ephemeral loopback ports,
//! scrapes each endpoint the run would scrape once, and stops the mock. For an external
//! target, [`Catalog::from_scrape`] reads a `/metrics` text fetched by the caller.
//!
//! Names: every family name (a family declared by `# HELP` / `# TYPE` without samples
//! still counts) and every sample name, so a histogram is listed under its base name and
//! as `_bucket`, `_sum` and `_count`. Labels: those seen on samples, plus `service` and
//! `instance`, which the scraper adds to every series (an exposed label of that name is
//! listed as `exported_service` / `exported_instance`, as the scraper renames it).
//! Every catalog also lists `up` and `scrape_duration_seconds`, which every scrape adds.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use gameday_mocks::services::Endpoint;
use gameday_mocks::{MockContext, ServiceId, ServiceProfile, TimeScale};

use super::scrape::{self, scrape_labels};
use super::text::{self, Family, ParseError};
use crate::scenario::{RequestSpec, Targets};
use crate::Error;

/// Metric names a target exposes, with the label names seen on each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Metric name -> label names.
    pub metrics: BTreeMap<String, BTreeSet<String>>,
}

/// How long one discovery scrape may take (real time).
const DISCOVER_TIMEOUT: Duration = Duration::from_secs(5);

impl Catalog {
    /// The catalog of one `/metrics` text, as a scrape of `service` would label it.
    pub fn from_scrape(text: &str, service: ServiceId) -> Result<Self, ParseError> {
        let mut c = Self::default();
        c.add_families(&text::parse(text)?, service);
        Ok(c)
    }

    /// Adds every name and label of `families`, and the series every scrape adds
    /// (`up`, `scrape_duration_seconds`).
    fn add_families(&mut self, families: &[Family], service: ServiceId) {
        let no_labels = scrape_labels(&BTreeMap::new(), service, "");
        for name in super::SCRAPE_SERIES {
            self.metrics.entry(name.to_owned()).or_default().extend(no_labels.keys().cloned());
        }
        for f in families {
            let entry = self.metrics.entry(f.name.clone()).or_default();
            entry.extend(no_labels.keys().cloned());
            for s in &f.samples {
                let names: Vec<String> = scrape_labels(&s.labels, service, "").into_keys().collect();
                if s.name != f.name {
                    self.metrics.entry(f.name.clone()).or_default().extend(names.iter().cloned());
                }
                self.metrics.entry(s.name.clone()).or_default().extend(names);
            }
        }
    }

    /// Adds everything in `other`.
    pub fn merge(&mut self, other: Catalog) {
        for (name, labels) in other.metrics {
            self.metrics.entry(name).or_default().extend(labels);
        }
    }

    /// Whether `name` is a known metric.
    pub fn has_metric(&self, name: &str) -> bool {
        self.metrics.contains_key(name)
    }

    /// The label names seen on `name`, if it is known.
    pub fn labels(&self, name: &str) -> Option<&BTreeSet<String>> {
        self.metrics.get(name)
    }
}

/// Starts `profile`'s embedded mock on ephemeral loopback ports, scrapes every endpoint
/// a run would scrape, stops the mock, and returns what they expose. An endpoint that
/// does not answer with Prometheus text is an error naming its URL.
///
/// A fresh mock exposes only families that already have a series: a labelled family
/// (`midnight_proofs_total{proof_type,result}`) appears once a request created one.
/// Each endpoint is scraped twice, so the kit's per-request families (created by the
/// first scrape) are seen; for the rest, use [`discover_with`] and send some traffic.
pub async fn discover(profile: ServiceProfile) -> Result<Catalog, Error> {
    discover_with(profile, TimeScale::REAL_TIME, |_| async {}).await
}

/// [`discover`], with the mock at `scale` and `warmup` run against its endpoints before
/// the scrapes (for example one request of each kind a scenario sends, at a large scale
/// so service times pass quickly), so the families that traffic creates are listed too.
pub async fn discover_with<F, Fut>(profile: ServiceProfile, scale: TimeScale, warmup: F) -> Result<Catalog, Error>
where
    F: FnOnce(Vec<Endpoint>) -> Fut,
    Fut: Future<Output = ()>,
{
    let id = profile.id();
    let ctx = MockContext { scale, ..MockContext::default() };
    let svc = gameday_mocks::start(profile, &ctx).await?;
    warmup(svc.endpoints.clone()).await;
    let result = scrape_all(id, &super::endpoints::embedded(&svc)).await;
    ctx.shutdown.cancel();
    svc.join().await;
    result
}

/// Why a service's metrics could not be discovered (the run failed: exit 3).
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// No HTTP client.
    #[error("discovering {service}'s metrics: cannot build an HTTP client: {reason}")]
    Client {
        /// The service.
        service: ServiceId,
        /// reqwest's refusal.
        reason: reqwest::Error,
    },
    /// A metrics URL gave no series.
    #[error("discovering {service}'s metrics: {url}: {reason}")]
    Fetch {
        /// The service.
        service: ServiceId,
        /// The metrics URL.
        url: String,
        /// What was wrong.
        reason: scrape::FetchError,
    },
}

impl DiscoverError {
    /// The exit code: the run failed.
    pub fn exit(&self) -> crate::Exit {
        crate::Exit::RunFailed
    }
}

async fn scrape_all(id: ServiceId, targets: &[super::ScrapeTarget]) -> Result<Catalog, Error> {
    let client = scrape::client(DISCOVER_TIMEOUT).map_err(|reason| DiscoverError::Client { service: id, reason })?;
    let mut catalog = Catalog::default();
    for t in targets.iter().chain(targets) {
        let families = scrape::fetch(&client, &t.url).await.map_err(|reason| DiscoverError::Fetch {
            service: id,
            url: t.url.clone(),
            reason,
        })?;
        catalog.add_families(&families, id);
    }
    Ok(catalog)
}

/// The catalogs a scenario's rules are checked against: each embedded service in `urls`
/// (`None`), discovered with its `[targets]` profile at a large time scale after one of
/// each of the `requests` sent to it (templates drawn from `seed`), so the families that
/// traffic creates are listed too. External targets are scraped once; one that cannot
/// be scraped is left out and named in the second value, and its metrics cannot be
/// checked.
pub async fn for_scenario(
    targets: &Targets,
    requests: &[RequestSpec],
    seed: u64,
    urls: &BTreeMap<ServiceId, Option<String>>,
) -> Result<(BTreeMap<ServiceId, Catalog>, Vec<String>), Error> {
    let mut catalogs = BTreeMap::new();
    let mut unchecked = Vec::new();
    for (&id, url) in urls {
        match url {
            None => {
                let warm = warm_requests(requests, seed, id);
                let mut profile = targets.get(id).1;
                // The metrics are the same over HTTP; discovery needs no certificates.
                if let gameday_mocks::ServiceProfile::Grahmos(p) = &mut profile {
                    p.tls = gameday_mocks::services::grahmos::tls::TlsMode::Off;
                }
                let c = discover_with(profile, warmup_scale(), |eps| warmup(eps, warm)).await?;
                catalogs.insert(id, c);
            }
            Some(url) => match scrape_external(id, url).await {
                Some(c) => {
                    catalogs.insert(id, c);
                }
                None => unchecked.push(format!("{id} ({url}/metrics did not answer with Prometheus text)")),
            },
        }
    }
    Ok((catalogs, unchecked))
}

/// Simulated seconds per real second while discovering (a 12 s proof takes 12 ms).
fn warmup_scale() -> TimeScale {
    TimeScale::new(1000.0).unwrap_or(TimeScale::REAL_TIME)
}

/// A request to send while warming up: method, path, body, headers.
type WarmRequest = (reqwest::Method, String, Option<String>, Vec<(String, String)>);

/// One request per kind of `requests` sent to `id`: (method, path, body, headers).
fn warm_requests(requests: &[RequestSpec], seed: u64, id: ServiceId) -> Vec<WarmRequest> {
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    requests
        .iter()
        .filter(|r| r.target == id)
        .map(|r| {
            let method = r.method.as_http();
            let path = crate::load::mix::expand(&r.path, &mut rng, 0, 1);
            let body = r.body.as_ref().map(|b| crate::load::mix::expand(b, &mut rng, 0, 1));
            let headers =
                r.headers.iter().map(|(k, v)| (k.clone(), crate::load::mix::expand(v, &mut rng, 0, 1))).collect();
            (method, path, body, headers)
        })
        .collect()
}

async fn warmup(endpoints: Vec<Endpoint>, requests: Vec<WarmRequest>) {
    let (Some(main), Ok(client)) = (endpoints.first(), scrape::client(DISCOVER_TIMEOUT)) else { return };
    let base = format!("http://{}", main.addr);
    for (method, path, body, headers) in requests {
        let mut rb = client.request(method, format!("{base}{path}"));
        if let Some(b) = body {
            rb = rb.body(b);
        }
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        // Bounded by the client's timeout; an error answer still creates its families.
        let _ = rb.send().await;
    }
}

async fn scrape_external(id: ServiceId, url: &str) -> Option<Catalog> {
    let client = scrape::client(DISCOVER_TIMEOUT).ok()?;
    let families = scrape::fetch(&client, &format!("{url}/metrics")).await.ok()?;
    let mut c = Catalog::default();
    c.add_families(&families, id);
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_of_a_text() {
        let text = "# HELP d_seconds Latency.\n# TYPE d_seconds histogram\n\
                    d_seconds_bucket{route=\"/a\",le=\"+Inf\"} 1\nd_seconds_sum{route=\"/a\"} 1\n\
                    d_seconds_count{route=\"/a\"} 1\n# HELP idle_total Never seen.\n# TYPE idle_total counter\n\
                    up{instance=\"x\"} 1\n";
        let c = Catalog::from_scrape(text, ServiceId::Pxl).unwrap();
        let names: Vec<&str> = c.metrics.keys().map(String::as_str).collect();
        let expected = ["d_seconds", "d_seconds_bucket", "d_seconds_count", "d_seconds_sum", "idle_total"];
        assert_eq!(names, [&expected[..], &["scrape_duration_seconds", "up"]].concat(), "plus every scrape's own");
        let labels = |n: &str| c.labels(n).unwrap().iter().map(String::as_str).collect::<Vec<_>>();
        assert_eq!(labels("d_seconds"), ["instance", "le", "route", "service"]);
        assert_eq!(labels("d_seconds_sum"), ["instance", "route", "service"]);
        assert_eq!(labels("idle_total"), ["instance", "service"]);
        assert_eq!(labels("up"), ["exported_instance", "instance", "service"]);
        assert!(Catalog::from_scrape("<html>", ServiceId::Pxl).is_err());
    }
}
