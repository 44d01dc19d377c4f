//! Probe `acl`: a tenant's query never returns another tenant's documents.
//!
//! For every tenant of the edge's corpus, at clearances `public` and `secret`, a few
//! queries that match documents of every tenant are sent to the edge API; every hit must
//! be shared with that tenant (its `tenants` hold it or `*`) and be labelled at most the
//! caller's clearance (the runbook's doc-level ACLs). The probe fails when any hit leaks,
//! and also when a query is not answered with 200 (an ACL check that could not run is
//! not a pass); the detail tells leaks and errors apart.

use gameday_mocks::kit::HumanDuration;
use gameday_mocks::services::grahmos::corpus::Label;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::chaos::env::DrillEnv;
use crate::chaos::fault::FaultError;
use crate::chaos::probe::ProbeOutcome;
use crate::chaos::targets_grahmos::{find, GrahmosTarget};

/// Queries that match documents of every tenant in the generated corpus.
pub const DEFAULT_QUERIES: &[&str] = &["canary", "report", "maintenance guide", "archive"];

/// The probe's parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The target to probe (default: the drill's target).
    #[serde(default)]
    pub target: Option<String>,
    /// Give up (and count a failure) after this long (default 5s).
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    /// The queries (default [`DEFAULT_QUERIES`]).
    #[serde(default)]
    pub queries: Option<Vec<String>>,
}

/// What one ACL scan saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AclScan {
    /// Queries answered 200.
    pub answered: usize,
    /// Queries not answered 200 (status or transport error), one line each.
    pub errors: Vec<String>,
    /// Hits another tenant (or a higher clearance) should not have seen, one line each.
    pub leaks: Vec<String>,
    /// Hits checked.
    pub hits: usize,
}

impl AclScan {
    /// No leak, no error, and at least one answer checked.
    pub fn ok(&self) -> bool {
        self.leaks.is_empty() && self.errors.is_empty() && self.answered > 0
    }
}

fn leak(hit: &Value, tenant: &str, tier: Label) -> Option<String> {
    let tenants: Vec<&str> =
        hit["tenants"].as_array().map_or(Vec::new(), |a| a.iter().filter_map(Value::as_str).collect());
    let labels: Vec<Label> = serde_json::from_value(hit["labels"].clone()).unwrap_or_default();
    let level = labels.iter().copied().max().unwrap_or(Label::Secret);
    let shared = tenants.iter().any(|t| *t == tenant || *t == "*");
    (!shared || level > tier).then(|| {
        format!("{} (tenants {tenants:?}, level {}) returned to {tenant}/{}", hit["id"], level.as_str(), tier.as_str())
    })
}

/// Runs every query for every tenant at clearances public and secret.
pub async fn scan(g: &GrahmosTarget, queries: &[String], timeout: std::time::Duration) -> Result<AclScan, FaultError> {
    let client = g.client(timeout)?;
    let mut out = AclScan::default();
    for tenant in g.tenants() {
        for tier in [Label::Public, Label::Secret] {
            let token = g.token(&[tenant.as_str()], tier)?;
            for q in queries {
                match g.search(&client, &token, q).await {
                    Ok(a) if a.status == 200 => {
                        out.answered += 1;
                        out.hits += a.hits().len();
                        out.leaks.extend(a.hits().iter().filter_map(|h| leak(h, tenant, tier)));
                    }
                    Ok(a) => out.errors.push(format!("{tenant} `{q}`: HTTP {} {}", a.status, a.body["error"])),
                    Err(e) => out.errors.push(format!("{tenant} `{q}`: {e}")),
                }
            }
        }
    }
    Ok(out)
}

/// Runs the probe once.
pub async fn check(spec: &Spec, target: &str, env: &DrillEnv) -> Result<ProbeOutcome, FaultError> {
    let g = find(env, Some(target), "acl")?;
    let timeout = spec.timeout.map_or(std::time::Duration::from_secs(5), HumanDuration::get);
    let queries: Vec<String> =
        spec.queries.clone().unwrap_or_else(|| DEFAULT_QUERIES.iter().map(|q| (*q).to_owned()).collect());
    let s = scan(g, &queries, timeout).await?;
    let mut detail = format!(
        "{} queries answered, {} hits checked, {} leaks, {} errors",
        s.answered,
        s.hits,
        s.leaks.len(),
        s.errors.len()
    );
    if let Some(first) = s.leaks.first().or(s.errors.first()) {
        detail.push_str(&format!("; first: {first}"));
    }
    Ok(ProbeOutcome { ok: s.ok(), detail, definitive: false })
}
