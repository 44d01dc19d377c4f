//! The Grahmos edge as a drill target: the upstream (cloud) mock, a [`FaultProxy`] on
//! the backhaul between them, and the edge itself with `upstream_url` pointing at the
//! proxy, so the backhaul-loss fault can cut the real link the edge uses.
//!
//! ```text
//! load / probes --> edge API (grahmos) --> FaultProxy --> upstream mock (grahmos-upstream)
//!                   search engine (grahmos-search: /_healthz, /admin/* hooks)
//! ```
//!
//! The drill runner starts it with [`start_grahmos_target`] and stores it as
//! `Target::Grahmos` in the drill's environment; the Grahmos faults and probes find it
//! with `super::lookup::grahmos`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use gameday_mocks::kit::MockContext;
use gameday_mocks::services::grahmos::auth::{DpopKey, IssuerClient};
use gameday_mocks::services::grahmos::corpus::Label;
use gameday_mocks::services::grahmos::tls::TlsMode;
use gameday_mocks::services::grahmos::upstream::UpstreamServer;
use gameday_mocks::services::grahmos::{self, Handle, Profile};
use gameday_mocks::RunningService;

use super::fault_error::{FaultError, GrahmosSetupError};
use super::proxy::FaultProxy;

/// A running Grahmos edge with the fault proxy on its backhaul (see the module docs).
pub struct GrahmosTarget {
    handle: Handle,
    running: RunningService,
    upstream: Option<Arc<UpstreamServer>>,
    backhaul: Arc<FaultProxy>,
    tls: TlsMode,
    tenants: Vec<String>,
    /// The edge's index and certificate folders when the profile names none
    /// (`grahmos-edge-<pid>-*`, removed at exit, see [`super::cleanup`]).
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for GrahmosTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrahmosTarget")
            .field("api", &self.api_addr())
            .field("backhaul", &self.backhaul)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

fn failed<E: Into<GrahmosSetupError>>(what: &'static str) -> impl FnOnce(E) -> FaultError {
    move |e| FaultError::Grahmos { what, source: e.into() }
}

/// Starts the upstream mock (unless the profile names an `upstream_url`), a fault proxy
/// in front of the upstream, and the edge with `upstream_url` = the proxy.
pub async fn start_grahmos_target(mut profile: Profile, ctx: &MockContext) -> Result<GrahmosTarget, FaultError> {
    let (upstream, upstream_addr) = match &profile.upstream_url {
        Some(url) => (None, resolve_url(url)?),
        None => {
            let server = grahmos::start_upstream_server(&profile, ctx).await.map_err(failed("upstream"))?;
            let addr = server.addr();
            (Some(server), addr)
        }
    };
    let proxy = FaultProxy::start_seeded(upstream_addr, ctx.shutdown.child_token(), ctx.seed)
        .await
        .map_err(failed("fault proxy"))?;
    profile.upstream_url = Some(proxy.url());
    let dir = edge_dirs(&mut profile)?;
    let tls = profile.tls;
    let tenants = profile.tenants.clone();
    let (running, handle) = grahmos::start_with_handle(profile, ctx).await.map_err(failed("starting the edge"))?;
    Ok(GrahmosTarget { handle, running, upstream, backhaul: Arc::new(proxy), tls, tenants, _dir: dir })
}

/// The start of the name of the edge's temporary folder.
pub const EDGE_DIR_PREFIX: &str = "grahmos-edge-";

/// Gives the edge an index and certificate folder of ours when the profile names none:
/// the mock's own would outlive a run whose runtime ends without dropping its state.
fn edge_dirs(profile: &mut Profile) -> Result<Option<tempfile::TempDir>, FaultError> {
    if profile.index_dir.is_some() && profile.cert_dir.is_some() {
        return Ok(None);
    }
    let dir = super::cleanup::temp_dir(EDGE_DIR_PREFIX)
        .map_err(|source| FaultError::Io { path: std::env::temp_dir(), source })?;
    profile.index_dir.get_or_insert_with(|| dir.path().join("indexes"));
    profile.cert_dir.get_or_insert_with(|| dir.path().join("certs"));
    Ok(Some(dir))
}

fn resolve_url(url: &str) -> Result<SocketAddr, FaultError> {
    let parsed = url::Url::parse(url)
        .map_err(|source| failed("upstream_url")(GrahmosSetupError::Url { url: url.to_owned(), source }))?;
    let host = parsed.host_str().unwrap_or_default().trim_matches(['[', ']']).to_owned();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|source| failed("upstream_url")(GrahmosSetupError::Resolve { url: url.to_owned(), source }))?
        .find(|a| a.ip().is_loopback())
        .ok_or_else(|| failed("upstream_url")(GrahmosSetupError::NotLoopback(url.to_owned())))?;
    Ok(addr)
}

impl GrahmosTarget {
    /// The mock's drill handle (index, TLS, keys).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The running service (its endpoints: `grahmos`, `grahmos-search`).
    pub fn running(&self) -> &RunningService {
        &self.running
    }

    fn endpoint(&self, name: &str) -> SocketAddr {
        let found = self.running.endpoints.iter().find(|e| e.name == name);
        found.or(self.running.endpoints.first()).map_or(SocketAddr::from(([127, 0, 0, 1], 0)), |e| e.addr)
    }

    /// The edge API's address.
    pub fn api_addr(&self) -> SocketAddr {
        self.endpoint("grahmos")
    }

    /// The edge's CA certificate (PEM) when it serves TLS: what the load, the scraper and
    /// the probes trust for it.
    pub fn ca_pem(&self) -> Option<String> {
        (self.tls != TlsMode::Off).then(|| self.handle.tls().pki().ca_pem())
    }

    /// The edge API's base URL (`https://localhost:PORT` with TLS: the name its
    /// certificate carries).
    pub fn api_url(&self) -> String {
        match self.tls {
            TlsMode::Off => format!("http://{}", self.api_addr()),
            _ => format!("https://localhost:{}", self.api_addr().port()),
        }
    }

    /// The search engine's base URL (`/_healthz`, `/admin/*` hooks).
    pub fn engine_url(&self) -> String {
        format!("http://{}", self.endpoint("grahmos-search"))
    }

    /// Whether and how the edge listener speaks TLS.
    pub fn tls_mode(&self) -> TlsMode {
        self.tls
    }

    /// The upstream mock, when this target started one.
    pub fn upstream(&self) -> Option<&Arc<UpstreamServer>> {
        self.upstream.as_ref()
    }

    /// The fault proxy between the edge and its upstream.
    pub fn backhaul(&self) -> &Arc<FaultProxy> {
        &self.backhaul
    }

    /// The tenants of the edge's corpus.
    pub fn tenants(&self) -> &[String] {
        &self.tenants
    }

    /// A bearer token for `tenants` with clearance `tier`.
    pub fn token(&self, tenants: &[&str], tier: Label) -> Result<String, FaultError> {
        self.handle.issue_token("gameday-probe", tenants, tier).map_err(failed("token"))
    }

    /// An HTTP client for the edge API (trusting the edge's CA with TLS), bounded by `timeout`.
    pub fn client(&self, timeout: Duration) -> Result<reqwest::Client, FaultError> {
        let mut b = reqwest::Client::builder()
            .no_proxy()
            .redirect(crate::http_guard::no_redirects())
            .timeout(timeout)
            .pool_max_idle_per_host(0);
        if self.tls != TlsMode::Off {
            let ca = reqwest::Certificate::from_pem(self.handle.tls().pki().ca_pem().as_bytes())
                .map_err(failed("CA certificate"))?;
            b = b.tls_certs_only([ca]).resolve("localhost", self.api_addr());
        }
        b.build().map_err(failed("HTTP client"))
    }
}

/// One search answer of the edge API.
#[derive(Clone, Debug)]
pub struct SearchAnswer {
    /// HTTP status.
    pub status: u16,
    /// The JSON body (`Null` when it was not JSON).
    pub body: serde_json::Value,
}

impl SearchAnswer {
    /// The ids of the hits.
    pub fn hit_ids(&self) -> Vec<String> {
        self.hits().iter().filter_map(|h| h["id"].as_str().map(str::to_owned)).collect()
    }

    /// The hits.
    pub fn hits(&self) -> &[serde_json::Value] {
        self.body["hits"].as_array().map_or(&[], Vec::as_slice)
    }

    /// Whether the edge marked the answer stale (upstream part served from an expired cache entry).
    pub fn stale(&self) -> bool {
        self.body["stale"].as_bool().unwrap_or(false)
    }

    /// How the upstream part was obtained (`fresh`, `cached`, `stale`, `unavailable`).
    pub fn upstream(&self) -> &str {
        self.body["upstream"].as_str().unwrap_or("")
    }
}

/// Why a request to the edge API got no answer.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// The URL cannot be built.
    #[error("{url}: {source}")]
    Url {
        /// The base URL.
        url: String,
        /// What the parser refused.
        #[source]
        source: url::ParseError,
    },
    /// The request or its answer failed.
    #[error("{url}: {source}")]
    Http {
        /// The URL.
        url: String,
        /// What the client said.
        #[source]
        source: reqwest::Error,
    },
    /// The nonce endpoint answered without a nonce.
    #[error("{0}: no nonce in the answer")]
    NoNonce(String),
    /// A DPoP key could not be generated.
    #[error("DPoP key: {0}")]
    Key(#[source] gameday_mocks::services::grahmos::auth::KeyError),
}

fn http(url: &str) -> impl FnOnce(reqwest::Error) -> EdgeError + '_ {
    move |source| EdgeError::Http { url: url.to_owned(), source }
}

fn parse_url(base: &str) -> Result<url::Url, EdgeError> {
    url::Url::parse(base).map_err(|source| EdgeError::Url { url: base.to_owned(), source })
}

impl GrahmosTarget {
    /// `GET /search?q=` on the edge API with `token`; `Err` when no answer came at all.
    pub async fn search(&self, client: &reqwest::Client, token: &str, q: &str) -> Result<SearchAnswer, EdgeError> {
        let base = format!("{}/search", self.api_url());
        let mut url = parse_url(&base)?;
        url.query_pairs_mut().append_pair("q", q);
        let resp = client.get(url).bearer_auth(token).send().await.map_err(http(&base))?;
        let status = resp.status().as_u16();
        let body = crate::http_guard::read_capped(resp, crate::http_guard::PROBE_MAX_BODY_BYTES)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(serde_json::Value::Null);
        Ok(SearchAnswer { status, body })
    }

    /// The issuer client holding `tenant`'s credential (the profile's `clients`).
    pub fn issuer_client(&self, tenant: &str) -> Option<IssuerClient> {
        self.handle.issuer_clients().into_iter().find(|c| c.tenant_ids.iter().any(|t| t == tenant))
    }

    async fn nonce(&self, client: &reqwest::Client) -> Result<String, EdgeError> {
        let url = format!("{}/auth/dpop/nonce", self.api_url());
        let resp = client.get(&url).send().await.map_err(http(&url))?;
        let body: serde_json::Value = resp.json().await.map_err(http(&url))?;
        body["nonce"].as_str().map(str::to_owned).ok_or(EdgeError::NoNonce(url))
    }

    /// Asks `POST /auth/dpop` for a DPoP-bound token for `tenants` at `tier`, presenting
    /// `cred`, the way a client does (nonce, proof). The status, and the token when 200.
    pub async fn mint(
        &self,
        client: &reqwest::Client,
        cred: &IssuerClient,
        tenants: &[&str],
        tier: Label,
    ) -> Result<(u16, Option<DpopToken>), EdgeError> {
        let key = DpopKey::generate().map_err(EdgeError::Key)?;
        let url = format!("{}/auth/dpop", self.api_url());
        let proof = key.proof("POST", &url, Some(&self.nonce(client).await?));
        let body = serde_json::json!({"client_id": cred.id, "client_secret": cred.secret, "sub": "gameday-probe",
            "tenant_ids": tenants, "tier": tier});
        let resp = client.post(&url).header("DPoP", proof).json(&body).send().await.map_err(http(&url))?;
        let status = resp.status().as_u16();
        let answer: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
        let token = answer["access_token"].as_str().filter(|_| status == 200);
        Ok((status, token.map(|t| DpopToken { token: t.to_owned(), key })))
    }

    /// `GET /search?q=` presenting a DPoP-bound token: `Authorization: DPoP` and a proof with
    /// a fresh nonce (`dpop = false` sends it as plain Bearer, which the edge must refuse).
    pub async fn search_dpop(
        &self,
        client: &reqwest::Client,
        t: &DpopToken,
        q: &str,
        dpop: bool,
    ) -> Result<SearchAnswer, EdgeError> {
        let base = format!("{}/search", self.api_url());
        let mut url = parse_url(&base)?;
        url.query_pairs_mut().append_pair("q", q);
        let mut req = client.get(url);
        if dpop {
            let proof = t.key.proof("GET", &base, Some(&self.nonce(client).await?));
            req = req.header("Authorization", format!("DPoP {}", t.token)).header("DPoP", proof);
        } else {
            req = req.bearer_auth(&t.token);
        }
        let resp = req.send().await.map_err(http(&base))?;
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(serde_json::Value::Null);
        Ok(SearchAnswer { status, body })
    }
}

/// A DPoP-bound access token and the key it is bound to.
#[derive(Debug)]
pub struct DpopToken {
    /// The access token.
    pub token: String,
    /// The client's DPoP key (`cnf.jkt` of the token).
    pub key: DpopKey,
}
