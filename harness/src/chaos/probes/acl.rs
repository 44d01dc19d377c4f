//! Probe `acl`: a tenant's query never returns another tenant's documents.
//!
//! For every tenant of the edge's corpus, at clearances `public` and `secret`, a few
//! queries that match documents of every tenant are sent to the edge API; every hit must
//! be shared with that tenant (its `tenants` hold it or `*`) and be labelled at most the
//! caller's clearance (the runbook's doc-level ACLs). The probe fails when any hit leaks,
//! and also when a query is not answered with 200 (an ACL check that could not run is
//! not a pass); the detail tells leaks and errors apart.
//!
//! The probe is a client, not the edge's owner: each tenant's token is minted over HTTP
//! at `POST /auth/dpop` with that tenant's issuer credential (the profile's `clients`),
//! and every search presents it with a DPoP proof and a fresh nonce. It also plays the
//! dishonest client, and counts as leaks: a token minted for another tenant with this
//! tenant's credential, and a DPoP-bound token accepted as plain Bearer (runbook 002: 401).

use gameday_mocks::kit::HumanDuration;
use gameday_mocks::services::grahmos::corpus::Label;
use serde_json::Value;

use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::chaos::grahmos_edge::{DpopToken, GrahmosTarget};
use crate::chaos::lookup;
use crate::probe::ProbeOutcome;
use gameday_mocks::services::grahmos::auth::IssuerClient;

pub use crate::spec::probes::acl::Spec;

/// Queries that match documents of every tenant in the generated corpus.
pub const DEFAULT_QUERIES: &[&str] = &["canary", "report", "maintenance guide", "archive"];

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

/// Runs every query for every tenant at clearances public and secret (capped at what the
/// tenant's issuer client may mint), then the dishonest-client checks.
pub async fn scan(g: &GrahmosTarget, queries: &[String], timeout: std::time::Duration) -> Result<AclScan, FaultError> {
    let client = g.client(timeout)?;
    let mut out = AclScan::default();
    for tenant in g.tenants() {
        let Some(cred) = g.issuer_client(tenant) else {
            out.errors.push(format!("{tenant}: no issuer client holds this tenant's credential"));
            continue;
        };
        for tier in [Label::Public, Label::Secret.min(cred.max_tier)] {
            match g.mint(&client, &cred, &[tenant.as_str()], tier).await {
                Ok((200, Some(t))) => run_queries(g, &client, &t, (tenant, tier), queries, &mut out).await,
                Ok((status, _)) => {
                    out.errors.push(format!("{tenant}: POST /auth/dpop with its own credential: HTTP {status}"))
                }
                Err(e) => out.errors.push(format!("{tenant}: POST /auth/dpop: {e}")),
            }
        }
        dishonest(g, &client, &cred, tenant, queries, &mut out).await;
    }
    Ok(out)
}

async fn run_queries(
    g: &GrahmosTarget,
    client: &reqwest::Client,
    t: &DpopToken,
    (tenant, tier): (&str, Label),
    queries: &[String],
    out: &mut AclScan,
) {
    for q in queries {
        match g.search_dpop(client, t, q, true).await {
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

/// With `tenant`'s credential: ask for a token of another tenant (must be refused), and
/// present an own DPoP-bound token as plain Bearer (must be 401).
async fn dishonest(
    g: &GrahmosTarget,
    client: &reqwest::Client,
    cred: &IssuerClient,
    tenant: &str,
    queries: &[String],
    out: &mut AclScan,
) {
    if let Some(other) = g.tenants().iter().find(|o| !cred.tenant_ids.contains(o)) {
        match g.mint(client, cred, &[other.as_str()], Label::Public).await {
            Ok((200, _)) => out.leaks.push(format!("client `{}` of {tenant} got a token for {other}", cred.id)),
            Ok(_) => {}
            Err(e) => out.errors.push(format!("{tenant}: POST /auth/dpop for {other}: {e}")),
        }
    }
    let (Some(q), Ok((200, Some(t)))) = (queries.first(), g.mint(client, cred, &[tenant], Label::Public).await) else {
        return;
    };
    match g.search_dpop(client, &t, q, false).await {
        Ok(a) if a.status == 401 => {}
        Ok(a) => out.leaks.push(format!("{tenant}: a DPoP-bound token as plain Bearer got HTTP {}", a.status)),
        Err(e) => out.errors.push(format!("{tenant}: plain Bearer check: {e}")),
    }
}

/// Runs the probe once.
pub async fn check(spec: &Spec, target: &str, env: &DrillEnv) -> Result<ProbeOutcome, FaultError> {
    let g = lookup::grahmos(env, Some(target), "acl")?;
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
