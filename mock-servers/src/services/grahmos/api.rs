//! The edge API's routes: health and status, search, auth, JWKS, metrics.
//!
//! Search answers (`GET /search?q=&limit=`, `POST /api/search {"q","limit","filter"}`):
//! `{"query","release","hits":[{id,title,snippet,labels,tenants,score,source}],
//! "total","hidden_by_acl","upstream":"fresh|cached|stale|unavailable|disabled",
//! "upstream_age_s","stale","partial"}` with headers `X-Grahmos-Stale`, `X-Cache`
//! (`MISS` fetched, `HIT` cached, `STALE`, `NONE`) and `X-Index-Release`. The access
//! rule is always applied (the runbook's `"filter": "user_can_access"` is accepted and
//! changes nothing). A broken index answers 503 `index_unavailable` or 500
//! `index_corrupt`, never a partial or unfiltered list.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{MatchedPath, Query, Request, State as AxumState};
use axum::http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::auth::{self, AuthError};
use super::corpus::{valid_id, Label, Viewer};
use super::index::{unix_ms, Hit, IndexError};
use super::tls::{client_identity, PeerInfo, TlsMode};
use super::upstream::{self, Freshness, UpstreamAnswer};
use super::State;
use crate::kit::errors::{parse_json, ApiError};
use crate::kit::metrics;
use crate::kit::serve::finish_router;

/// Longest accepted query, in characters.
const MAX_QUERY_CHARS: usize = 512;

/// The edge API's routes on `state`, with the kit's metrics and fallbacks.
pub fn router(state: Arc<State>) -> Router {
    let max_body = state.profile.max_body_bytes;
    let kit = Arc::clone(&state.kit);
    let routes = Router::new()
        .route("/api/health", get(health))
        .route("/api/v1/status", get(status_v1))
        .route("/api/v2/status", get(status_v2))
        .route("/search", get(search_get))
        .route("/api/search", post(search_post))
        .route("/auth/dpop/nonce", get(nonce))
        .route("/auth/dpop", post(dpop_issue).get(dpop_check))
        .route("/auth/mtls", get(mtls).post(mtls))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/metrics", get(metrics_text))
        .with_state(Arc::clone(&state));
    finish_router(routes, max_body)
        .layer(middleware::from_fn_with_state(state, record_request))
        .layer(middleware::from_fn_with_state(kit, metrics::track))
}

/// Middleware: `grahmos_requests_total` and `http_request_duration_seconds` per route.
async fn record_request(AxumState(s): AxumState<Arc<State>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status();
    s.own.requests.with_label_values(&[&route, &method, status.as_str()]).inc();
    let sim_s = s.scale.to_sim(started.elapsed()).as_secs_f64();
    s.own.http_duration.with_label_values(&[&route, status.as_str()]).observe(sim_s);
    resp
}

/// What a search request presents: its headers, route and connection.
struct Caller<'a> {
    headers: &'a HeaderMap,
    method: &'static str,
    path: &'static str,
    peer: Option<&'a PeerInfo>,
}

impl State {
    /// The viewer a search request authenticates as. A bound token proves possession:
    /// a DPoP-bound one only as `Authorization: DPoP` with a proof of its key and a fresh
    /// nonce (as plain Bearer it is 401, runbook 002), a certificate-bound one only on a
    /// connection presenting its client certificate.
    fn viewer(&self, c: &Caller<'_>) -> Result<Viewer, AuthError> {
        let header = c.headers.get(axum::http::header::AUTHORIZATION);
        if header.is_none() && self.profile.anonymous_search {
            return Ok(Viewer::anonymous());
        }
        let (scheme, token) = auth::authorization(header.map(|h| h.to_str().unwrap_or_default()))?;
        let claims = self.keys.verify(token)?;
        match (claims.binding(), scheme) {
            (auth::Binding::Dpop(jkt), auth::Scheme::Dpop) => {
                let proof = c.headers.get("dpop").and_then(|v| v.to_str().ok());
                auth::verify_bound_proof(&jkt, proof, c.method, c.path, &self.nonces)?;
            }
            (auth::Binding::Dpop(_), auth::Scheme::Bearer) => {
                return Err(AuthError::new(
                    "invalid_token",
                    "this token is DPoP-bound: send `Authorization: DPoP <token>` with a `DPoP` proof carrying a nonce from /auth/dpop/nonce",
                ));
            }
            (_, auth::Scheme::Dpop) => {
                return Err(AuthError::new("invalid_token", "this token is not DPoP-bound: send it as `Bearer`"));
            }
            (auth::Binding::Certificate(x5t), auth::Scheme::Bearer) => {
                let presented = c.peer.and_then(|p| p.client_cert.as_ref()).and_then(|d| client_identity(d).ok());
                if presented.is_none_or(|id| id.thumbprint != x5t) {
                    return Err(AuthError::new(
                        "invalid_token",
                        "this token is bound to a client certificate: present it on the connection (mTLS)",
                    ));
                }
            }
            (auth::Binding::None, auth::Scheme::Bearer) => {}
        }
        Ok(claims.viewer())
    }

    fn uptime_s(&self) -> f64 {
        self.scale.to_sim(self.started.elapsed()).as_secs_f64()
    }

    fn upstream_json(&self) -> Value {
        self.backhaul.as_ref().map_or_else(|| json!({"state": "disabled"}), |b| json!(b.status()))
    }

    fn tls_json(&self) -> Value {
        let not_after = self.tls.not_after().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        json!({
            "mode": self.profile.tls,
            "cert_dir": self.tls.cert_dir(),
            "not_after_unix_s": not_after,
            "days_to_expiry": self.tls.days_to_expiry(),
            "reloads": self.tls.reloads(),
        })
    }
}

fn count(s: &State, result: &str) {
    s.own.searches.with_label_values(&[result]).inc();
}

async fn health(AxumState(s): AxumState<Arc<State>>) -> Response {
    let ix = s.index.health();
    let up = s.backhaul.as_ref().map(upstream::Backhaul::status);
    let status = match (&ix, &up) {
        (ix, _) if !ix.healthy => "unhealthy",
        (_, Some(u)) if u.state != "up" => "degraded",
        _ => "healthy",
    };
    let mut body = json!({
        "status": status,
        "version": s.profile.version,
        "timestamp": unix_ms(),
        "checks": {"index": ix, "upstream": s.upstream_json(), "tls": s.tls_json()},
    });
    if ix.healthy {
        (StatusCode::OK, Json(body)).into_response()
    } else {
        body["error"] = json!(ix.error_code.unwrap_or("index_unavailable"));
        body["message"] = json!(ix.error.unwrap_or_default());
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

async fn status_v1(AxumState(s): AxumState<Arc<State>>) -> Json<Value> {
    let ix = s.index.health();
    Json(json!({
        "api_version": "v1",
        "service": "edge-api",
        "status": if ix.healthy { "ok" } else { "degraded" },
        "version": s.profile.version,
        "uptime_s": s.uptime_s(),
        "search": {"release": ix.release, "documents": ix.documents, "healthy": ix.healthy},
    }))
}

async fn status_v2(AxumState(s): AxumState<Arc<State>>) -> Json<Value> {
    let ix = s.index.health();
    let (ok, failed) = s.index.reloads();
    let pool = s.pool.stats();
    let up_state = s.backhaul.as_ref().map(|b| b.status().state);
    Json(json!({
        "api_version": "v2",
        "service": "edge-api",
        "status": if !ix.healthy { "unhealthy" } else if up_state.is_some_and(|u| u != "up") { "degraded" } else { "healthy" },
        "version": s.profile.version,
        "uptime_s": s.uptime_s(),
        "index": {"dir": s.index.root(), "releases": s.index.releases().unwrap_or_default(), "reloads_ok": ok, "reloads_failed": failed, "health": ix},
        "upstream": s.upstream_json(),
        "stale_responses": s.own.stale.get(),
        "tls": s.tls_json(),
        "auth": {
            "kids": s.keys.kids(),
            "nonce_ttl_s": s.profile.nonce_ttl.get().as_secs_f64(),
            "token_ttl_s": s.profile.token_ttl.get().as_secs_f64(),
            "anonymous_search": s.profile.anonymous_search,
            "issuer_clients": s.clients.iter().map(|c| json!({"id": c.id, "tenant_ids": c.tenant_ids, "max_tier": c.max_tier})).collect::<Vec<_>>(),
        },
        "search_pool": {"workers": pool.workers, "pending": pool.pending, "processing": pool.processing, "cpu_utilisation": pool.cpu_utilisation},
    }))
}

#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
struct SearchBody {
    q: Option<String>,
    query: Option<String>,
    limit: Option<usize>,
    #[serde(rename = "filter")]
    _filter: Option<Value>,
}

type Peer = Option<Extension<ConnectInfo<PeerInfo>>>;

async fn search_get(
    AxumState(s): AxumState<Arc<State>>,
    peer: Peer,
    headers: HeaderMap,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(|e| {
        count(&s, "bad_request");
        ApiError::bad_request("invalid_query", e.body_text())
    })?;
    let peer = peer.map(|Extension(ConnectInfo(p))| p);
    let caller = Caller { headers: &headers, method: "GET", path: "/search", peer: peer.as_ref() };
    run_search(&s, &caller, p.q, p.limit).await
}

async fn search_post(
    AxumState(s): AxumState<Arc<State>>,
    peer: Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let parsed = body.map_err(ApiError::from).and_then(|b| parse_json::<SearchBody>(&b));
    let b = parsed.inspect_err(|_| count(&s, "bad_request"))?;
    let peer = peer.map(|Extension(ConnectInfo(p))| p);
    let caller = Caller { headers: &headers, method: "POST", path: "/api/search", peer: peer.as_ref() };
    run_search(&s, &caller, b.q.or(b.query), b.limit).await
}

fn validate_query(q: Option<String>, limit: Option<usize>, default_limit: usize) -> Result<(String, usize), ApiError> {
    let q = q.map(|q| q.trim().to_owned()).unwrap_or_default();
    if q.is_empty() {
        return Err(ApiError::bad_request("missing_query", "give the query as ?q=... or {\"q\": \"...\"}"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::bad_request(
            "query_too_long",
            format!("queries are at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let limit = limit.unwrap_or(default_limit);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request("invalid_limit", "limit must be 1..=100"));
    }
    Ok((q, limit))
}

fn index_error(e: &IndexError) -> ApiError {
    let status = match e {
        IndexError::Corrupt { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    ApiError::new(status, e.code(), e.to_string())
}

async fn run_search(
    s: &State,
    caller: &Caller<'_>,
    q: Option<String>,
    limit: Option<usize>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let viewer = match s.viewer(caller) {
        Ok(v) => v,
        Err(e) => {
            count(s, "unauthorized");
            return Ok(auth_failure(s, "search", e));
        }
    };
    let (q, limit) = validate_query(q, limit, s.profile.default_limit).inspect_err(|_| count(s, "bad_request"))?;
    let service = s.search_time.sample(&mut *upstream::lock(&s.rng));
    if let Err(e) = s.pool.run(service).await {
        count(s, if matches!(e, crate::kit::JobError::QueueFull { .. }) { "queue_full" } else { "job_timeout" });
        return Err(e.into());
    }
    let local = s.index.search(&q, &viewer, limit).map_err(|e| {
        count(s, e.code());
        index_error(&e)
    })?;
    let remote = match &s.backhaul {
        Some(b) => Some(b.fetch(&q, &viewer, limit).await),
        None => None,
    };
    let mut hits = local.hits;
    let mut total = local.total;
    let (freshness, cache_label, age_s) = merge_upstream(&mut hits, &mut total, remote.as_ref(), limit);
    let stale = freshness == "stale";
    record_search(s, freshness, stale, local.hidden_by_acl, started);
    let body = json!({
        "query": q, "release": local.release, "hits": hits, "total": total,
        "hidden_by_acl": local.hidden_by_acl, "upstream": freshness, "upstream_age_s": age_s,
        "stale": stale, "partial": freshness == "unavailable",
    });
    let mut resp = Json(body).into_response();
    let h = resp.headers_mut();
    h.insert("x-grahmos-stale", HeaderValue::from_static(if stale { "true" } else { "false" }));
    h.insert("x-cache", HeaderValue::from_static(cache_label));
    if let Ok(v) = HeaderValue::from_str(&local.release) {
        h.insert("x-index-release", v);
    }
    Ok(resp)
}

/// Adds the upstream's hits after the local ones (up to `limit`, no duplicates) and
/// names how they were obtained: (response field, `X-Cache` value, age in seconds).
fn merge_upstream(
    hits: &mut Vec<Hit>,
    total: &mut usize,
    remote: Option<&UpstreamAnswer>,
    limit: usize,
) -> (&'static str, &'static str, f64) {
    let Some(r) = remote else {
        return ("disabled", "NONE", 0.0);
    };
    *total += r.hits.len();
    for h in &r.hits {
        if hits.len() < limit && !hits.iter().any(|mine| mine.id == h.id) {
            hits.push(h.clone());
        }
    }
    let (name, label) = match r.freshness {
        Freshness::Fresh => ("fresh", "MISS"),
        Freshness::Cached => ("cached", "HIT"),
        Freshness::Stale => ("stale", "STALE"),
        Freshness::Unavailable => ("unavailable", "NONE"),
    };
    (name, label, r.age_s)
}

fn record_search(s: &State, freshness: &str, stale: bool, hidden: usize, started: Instant) {
    count(s, "ok");
    s.own.hidden_by_acl.inc_by(hidden as u64);
    let label = match freshness {
        "fresh" => Some("miss"),
        "cached" => Some("hit"),
        "stale" => Some("stale"),
        "unavailable" => Some("unavailable"),
        _ => None,
    };
    if let Some(l) = label {
        s.own.cache.with_label_values(&[l]).inc();
    }
    if stale {
        s.own.stale.inc();
    }
    s.own.search_duration.observe(s.scale.to_sim(started.elapsed()).as_secs_f64());
}

fn auth_failure(s: &State, endpoint: &str, e: AuthError) -> Response {
    s.own.auth.with_label_values(&[endpoint, e.code]).inc();
    let nonce_problem = matches!(e.code, "nonce_expired" | "nonce_required");
    let code = e.code;
    let mut resp = ApiError::from(e).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("DPoP error=\"{code}\", Bearer")) {
        h.insert(WWW_AUTHENTICATE, v);
    }
    if nonce_problem {
        if let Ok(v) = HeaderValue::from_str(&s.nonces.issue()) {
            s.own.nonces.inc();
            h.insert("dpop-nonce", v);
        }
    }
    resp
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn nonce(AxumState(s): AxumState<Arc<State>>) -> Response {
    let n = s.nonces.issue();
    s.own.nonces.inc();
    let expires = s.profile.nonce_ttl.get().as_secs();
    let mut resp = Json(json!({"nonce": n, "expires": expires})).into_response();
    if let Ok(v) = HeaderValue::from_str(&n) {
        resp.headers_mut().insert("dpop-nonce", v);
    }
    no_store(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueRequest {
    /// The issuer client's credential (see the profile's `clients`).
    client_id: Option<String>,
    client_secret: Option<String>,
    /// Default: the client id.
    sub: Option<String>,
    /// Default: the client's tenants.
    tenant_ids: Option<Vec<String>>,
    /// Default: the client's highest tier.
    tier: Option<Label>,
}

/// The claims a request may have, once its credential checks out.
struct Grant {
    sub: String,
    tenant_ids: Vec<String>,
    tier: Label,
}

/// Why `POST /auth/dpop` refused to mint.
enum Refusal {
    /// 401: no credential, or a wrong one (`invalid_client`).
    Unauthenticated(AuthError),
    /// 403: claims beyond the client's (`tenant_not_allowed`, `tier_not_allowed`).
    Forbidden(&'static str, String),
}

impl Refusal {
    fn into_response(self, s: &State) -> Response {
        match self {
            Refusal::Unauthenticated(e) => auth_failure(s, "dpop", e),
            Refusal::Forbidden(code, message) => {
                s.own.auth.with_label_values(&["dpop", code]).inc();
                ApiError::new(StatusCode::FORBIDDEN, code, message).into_response()
            }
        }
    }
}

/// Checks the client credential and that the requested tenants and tier are the client's.
fn authorize_issue(s: &State, r: IssueRequest) -> Result<Grant, Refusal> {
    let (Some(id), Some(secret)) = (r.client_id.as_deref(), r.client_secret.as_deref()) else {
        let m = "send client_id and client_secret (an issuer client of your tenant)";
        return Err(Refusal::Unauthenticated(AuthError::new("invalid_client", m)));
    };
    let Some(client) = s.clients.iter().find(|c| c.id == id && c.secret_matches(secret)) else {
        let m = "unknown client_id or wrong client_secret";
        return Err(Refusal::Unauthenticated(AuthError::new("invalid_client", m)));
    };
    let tenant_ids = r.tenant_ids.unwrap_or_else(|| client.tenant_ids.clone());
    if let Some(t) = tenant_ids.iter().find(|t| !client.tenant_ids.contains(t)) {
        let m = format!("client `{id}` may not mint tokens for tenant `{t}`");
        return Err(Refusal::Forbidden("tenant_not_allowed", m));
    }
    let tier = r.tier.unwrap_or(client.max_tier);
    if tier > client.max_tier {
        let m = format!("client `{id}` may mint tokens up to tier {}", client.max_tier.as_str());
        return Err(Refusal::Forbidden("tier_not_allowed", m));
    }
    Ok(Grant { sub: r.sub.unwrap_or_else(|| id.to_owned()), tenant_ids, tier })
}

fn validate_issue(r: &Grant) -> Result<(), ApiError> {
    let bad = |m: &str| ApiError::bad_request("invalid_claims", m.to_owned());
    if r.sub.is_empty() || r.sub.len() > 128 {
        return Err(bad("sub must be 1..=128 characters"));
    }
    if r.tenant_ids.is_empty() || r.tenant_ids.len() > 16 {
        return Err(bad("tenant_ids must list 1..=16 tenants"));
    }
    if r.tenant_ids.iter().any(|t| !valid_id(t)) {
        return Err(bad("tenant ids are letters, digits, `-`, `_` or `.` (`*` is not a tenant)"));
    }
    Ok(())
}

fn proof_header(headers: &HeaderMap) -> Result<&str, AuthError> {
    headers
        .get("dpop")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AuthError::new("invalid_dpop_proof", "send a DPoP proof in the `DPoP` header"))
}

async fn dpop_issue(
    AxumState(s): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let req = match body.map_err(ApiError::from).and_then(|b| parse_json::<IssueRequest>(&b)) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let req = match authorize_issue(&s, req) {
        Ok(g) => g,
        Err(refusal) => return refusal.into_response(&s),
    };
    if let Err(e) = validate_issue(&req) {
        return e.into_response();
    }
    let proof =
        match proof_header(&headers).and_then(|p| auth::verify_proof_and_nonce(p, "POST", "/auth/dpop", &s.nonces)) {
            Ok(p) => p,
            Err(e) => return auth_failure(&s, "dpop", e),
        };
    let cnf = json!({ "jkt": proof.jkt });
    match s.issue_token(&req.sub, req.tenant_ids.clone(), req.tier, Some(cnf)) {
        Ok((token, ttl_s)) => {
            s.own.auth.with_label_values(&["dpop", "issued"]).inc();
            no_store(
                Json(json!({
                    "access_token": token, "token_type": "DPoP", "expires_in": ttl_s,
                    "kid": s.keys.kids().first(), "sub": req.sub, "tenant_ids": req.tenant_ids, "tier": req.tier,
                }))
                .into_response(),
            )
        }
        Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "signing_failed", e.to_string()).into_response(),
    }
}

async fn dpop_check(AxumState(s): AxumState<Arc<State>>, headers: HeaderMap) -> Response {
    let checked = (|| {
        let raw = headers.get(axum::http::header::AUTHORIZATION).map(|h| h.to_str().unwrap_or_default());
        let claims = s.keys.verify(auth::bearer(raw)?)?;
        let proof = auth::verify_proof_and_nonce(proof_header(&headers)?, "GET", "/auth/dpop", &s.nonces)?;
        let bound = claims.cnf.as_ref().and_then(|c| c["jkt"].as_str()).unwrap_or_default();
        if bound != proof.jkt {
            return Err(AuthError::new("dpop_key_mismatch", "the proof's key is not the key the token is bound to"));
        }
        Ok(claims)
    })();
    match checked {
        Ok(c) => {
            s.own.auth.with_label_values(&["dpop", "ok"]).inc();
            Json(json!({"active": true, "sub": c.sub, "tenant_ids": c.tenant_ids, "tier": c.tier, "exp": c.exp, "binding": "dpop"})).into_response()
        }
        Err(e) => auth_failure(&s, "dpop", e),
    }
}

async fn mtls(AxumState(s): AxumState<Arc<State>>, peer: Option<Extension<ConnectInfo<PeerInfo>>>) -> Response {
    let Some(der) = peer.and_then(|Extension(ConnectInfo(p))| p.client_cert) else {
        let why = match s.profile.tls {
            TlsMode::Off => {
                "this listener is plain HTTP (profile tls = \"off\"); no client certificate can be presented"
            }
            TlsMode::On => "this listener does not ask for client certificates (profile tls = \"on\")",
            TlsMode::Mtls => "present a client certificate signed by the edge CA (certs/client.crt, certs/client.key)",
        };
        return auth_failure(&s, "mtls", AuthError::new("client_certificate_required", why));
    };
    let id = match client_identity(&der) {
        Ok(id) => id,
        Err(e) => return auth_failure(&s, "mtls", AuthError::new("invalid_client_certificate", e.to_string())),
    };
    let forbidden = |m: &str| ApiError::new(StatusCode::FORBIDDEN, "certificate_claims", m.to_owned()).into_response();
    let Some(tenant) = id.tenant.clone().filter(|t| valid_id(t)) else {
        return forbidden("the client certificate's O (tenant) is missing or not a tenant id");
    };
    let tier: Label = match serde_json::from_value(json!(id.tier.clone().unwrap_or_else(|| "public".into()))) {
        Ok(t) => t,
        Err(_) => return forbidden("the client certificate's OU (tier) must be public, restricted or secret"),
    };
    let cnf = json!({ "x5t#S256": id.thumbprint });
    match s.issue_token(&id.subject, vec![tenant.clone()], tier, Some(cnf)) {
        Ok((token, ttl_s)) => {
            s.own.auth.with_label_values(&["mtls", "ok"]).inc();
            no_store(
                Json(json!({
                    "authenticated": true, "subject": id.subject, "tenant_ids": [tenant], "tier": tier,
                    "certificate": {"sha256": id.thumbprint, "not_after_unix_s": id.not_after_unix_s},
                    "access_token": token, "token_type": "Bearer", "expires_in": ttl_s,
                }))
                .into_response(),
            )
        }
        Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "signing_failed", e.to_string()).into_response(),
    }
}

async fn jwks(AxumState(s): AxumState<Arc<State>>) -> Json<Value> {
    Json(s.keys.jwks())
}

async fn metrics_text(AxumState(s): AxumState<Arc<State>>) -> Response {
    let ix = s.index.checked_health();
    s.own.observe_index(&ix, s.index.reloads());
    if let Some(b) = &s.backhaul {
        s.own.observe_backhaul(b);
    }
    s.own.observe_tls(&s.tls, &s.handshakes);
    s.kit.observe_pool("search", &s.pool.stats());
    metrics::text_response(s.kit.render())
}
