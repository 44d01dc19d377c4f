//! Edge authentication: DPoP nonces and proofs, signed access tokens, the JWKS.
//!
//! The token scheme (what search callers send as `Authorization: Bearer <token>` or
//! `Authorization: DPoP <token>`): a compact JWS, `alg` `EdDSA` (Ed25519), header `kid`
//! naming a key published at `/.well-known/jwks.json`, payload
//! `{"iss":"grahmos-edge","sub":..,"tenant_ids":[..],"tier":"public|restricted|secret",
//! "iat":..,"exp":..,"cnf":{"jkt":..}|{"x5t#S256":..}}`. `tenant_ids` and `tier` are the
//! claims the access rule reads (see `corpus`). `iat`/`exp` are wall-clock Unix seconds;
//! the lifetime is the profile's `token_ttl` (simulated) divided by the time scale.
//!
//! DPoP (RFC 9449, the parts the runbook asks for): a client fetches a nonce from
//! `GET /auth/dpop/nonce` (`{"nonce":..,"expires":120}`; valid for `nonce_ttl`, at most
//! 120 s simulated, and usable once) and sends a proof in the `DPoP` header: a JWS with
//! header `{"typ":"dpop+jwt","alg":"EdDSA","jwk":{"kty":"OKP","crv":"Ed25519","x":..}}`
//! and payload `{"jti","htm","htu","iat","nonce"}`, signed by the client's key. The
//! signature, method, path and `iat` (within 5 minutes) are checked before the nonce is
//! spent; a missing nonce is 401 `nonce_required`, an unknown, reused or expired one
//! 401 `nonce_expired`. Keys sign tokens with the newest key; [`TokenKeys::rotate`]
//! adds a key and keeps the previous one valid (the runbook's dual-sign period).

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::corpus::{Label, Viewer};
use crate::kit::errors::ApiError;

/// The issuer written into tokens.
pub const ISSUER: &str = "grahmos-edge";
/// Longest accepted token or proof, in bytes.
const MAX_JWS_BYTES: usize = 8 * 1024;
/// Accepted clock skew of a proof's `iat`, in seconds.
const IAT_SKEW_S: i64 = 300;
/// Nonces kept before expired ones are swept.
const NONCE_SWEEP_AT: usize = 10_000;
/// Unexpired nonces kept at most; past it the oldest are dropped.
const NONCE_CAP: usize = 200_000;

/// An authentication failure: always 401 with a machine-readable code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AuthError {
    /// `missing_token`, `invalid_token`, `token_expired`, `invalid_dpop_proof`,
    /// `nonce_required`, `nonce_expired`, `dpop_key_mismatch`, `client_certificate_required`.
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
}

impl AuthError {
    /// An error with `code`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, e.code, e.message)
    }
}

/// Base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(part: &str, what: &str, code: &'static str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD.decode(part).map_err(|e| AuthError::new(code, format!("{what} is not base64url: {e}")))
}

fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // SystemRandom only fails when the OS has no randomness; fall back to the clock.
    if SystemRandom::new().fill(&mut buf).is_err() {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        buf = Sha256::digest(t.to_le_bytes()).to_vec();
        buf.truncate(bytes);
    }
    hex::encode(buf)
}

/// A compact JWS split into its decoded header, payload and signature.
struct Jws {
    header: Value,
    payload: Value,
    signing_input: String,
    signature: Vec<u8>,
}

fn split_jws(raw: &str, code: &'static str) -> Result<Jws, AuthError> {
    if raw.len() > MAX_JWS_BYTES {
        return Err(AuthError::new(code, "longer than 8 KiB"));
    }
    let parts: Vec<&str> = raw.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err(AuthError::new(code, "not a compact JWS (three base64url parts joined by `.`)"));
    };
    let json = |part: &str, what: &str| -> Result<Value, AuthError> {
        serde_json::from_slice(&unb64(part, what, code)?)
            .map_err(|e| AuthError::new(code, format!("{what} is not JSON: {e}")))
    };
    Ok(Jws {
        header: json(h, "header")?,
        payload: json(p, "payload")?,
        signing_input: format!("{h}.{p}"),
        signature: unb64(s, "signature", code)?,
    })
}

/// An access token's claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer ([`ISSUER`]).
    pub iss: String,
    /// Subject (user or client).
    pub sub: String,
    /// Tenants the subject belongs to.
    pub tenant_ids: Vec<String>,
    /// Clearance.
    pub tier: Label,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Key binding: `{"jkt": DPoP key thumbprint}` or `{"x5t#S256": cert thumbprint}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Value>,
}

impl Claims {
    /// The viewer these claims describe.
    pub fn viewer(&self) -> Viewer {
        Viewer { tenant_ids: self.tenant_ids.clone(), tier: self.tier }
    }
}

/// Why an Ed25519 key could not be made; the message is ring's.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The generator failed.
    #[error("{0}")]
    Generate(ring::error::Unspecified),
    /// The generated key was refused.
    #[error("{0}")]
    Rejected(ring::error::KeyRejected),
}

/// Why [`TokenKeys::sign`] could not sign.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// Every key was dropped.
    #[error("no signing key")]
    NoKey,
    /// The claims did not serialise.
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
}

struct SigningKey {
    kid: String,
    pair: Ed25519KeyPair,
}

impl SigningKey {
    fn generate() -> Result<Self, KeyError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(KeyError::Generate)?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(KeyError::Rejected)?;
        let kid = format!("grahmos-{}", &hex::encode(Sha256::digest(pair.public_key().as_ref()))[..16]);
        Ok(Self { kid, pair })
    }
}

/// The edge's token-signing keys: the newest signs, every kept key verifies.
pub struct TokenKeys {
    keys: RwLock<Vec<SigningKey>>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").field("kids", &self.kids()).finish()
    }
}

impl TokenKeys {
    /// One fresh key.
    pub fn generate() -> Result<Self, KeyError> {
        Ok(Self { keys: RwLock::new(vec![SigningKey::generate()?]) })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<SigningKey>> {
        self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Key ids, newest first.
    pub fn kids(&self) -> Vec<String> {
        self.read().iter().rev().map(|k| k.kid.clone()).collect()
    }

    /// Adds a new signing key; the previous one stays valid, older ones are dropped.
    pub fn rotate(&self) -> Result<String, KeyError> {
        let key = SigningKey::generate()?;
        let kid = key.kid.clone();
        let mut keys = self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.push(key);
        let excess = keys.len().saturating_sub(2);
        keys.drain(..excess);
        Ok(kid)
    }

    /// The JWKS document (`/.well-known/jwks.json`), newest key first.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .read()
            .iter()
            .rev()
            .map(|k| json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": k.kid, "x": b64(k.pair.public_key().as_ref())}))
            .collect();
        json!({ "keys": keys })
    }

    /// Signs `claims` with the newest key.
    pub fn sign(&self, claims: &Claims) -> Result<String, SignError> {
        let keys = self.read();
        let key = keys.last().ok_or(SignError::NoKey)?;
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": key.kid});
        let payload = serde_json::to_vec(claims)?;
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(&payload));
        let sig = key.pair.sign(input.as_bytes());
        Ok(format!("{input}.{}", b64(sig.as_ref())))
    }

    /// Checks a token's signature (by its `kid`), issuer and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let jws = split_jws(token, "invalid_token")?;
        if jws.header["alg"] != "EdDSA" {
            return Err(AuthError::new("invalid_token", "alg must be EdDSA"));
        }
        let kid = jws.header["kid"].as_str().unwrap_or_default();
        let ok = self.read().iter().any(|k| {
            k.kid == kid
                && UnparsedPublicKey::new(&ED25519, k.pair.public_key().as_ref())
                    .verify(jws.signing_input.as_bytes(), &jws.signature)
                    .is_ok()
        });
        if !ok {
            return Err(AuthError::new(
                "invalid_token",
                format!("signature does not verify with an active key (kid `{kid}`)"),
            ));
        }
        let claims: Claims =
            serde_json::from_value(jws.payload).map_err(|e| AuthError::new("invalid_token", format!("claims: {e}")))?;
        if claims.iss != ISSUER {
            return Err(AuthError::new("invalid_token", format!("issuer `{}` is not {ISSUER}", claims.iss)));
        }
        if claims.exp <= now_s() {
            return Err(AuthError::new("token_expired", format!("token expired at {}", claims.exp)));
        }
        Ok(claims)
    }
}

/// Single-use nonces with a lifetime (real time, after scaling).
#[derive(Debug)]
pub struct NonceStore {
    ttl: Duration,
    live: Mutex<HashMap<String, Instant>>,
}

impl NonceStore {
    /// Nonces valid for `ttl` real time.
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, live: Mutex::new(HashMap::new()) }
    }

    /// Issues a fresh nonce.
    pub fn issue(&self) -> String {
        let nonce = random_hex(16);
        let now = Instant::now();
        let mut live = self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if live.len() >= NONCE_SWEEP_AT {
            live.retain(|_, expires| *expires > now);
        }
        if live.len() >= NONCE_CAP {
            let oldest = live.iter().min_by_key(|(_, e)| **e).map(|(n, _)| n.clone());
            if let Some(n) = oldest {
                live.remove(&n);
            }
        }
        live.insert(nonce.clone(), now + self.ttl);
        nonce
    }

    /// Spends `nonce`: `nonce_expired` when unknown, already used, or past its lifetime.
    pub fn consume(&self, nonce: &str) -> Result<(), AuthError> {
        let mut live = self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match live.remove(nonce) {
            Some(expires) if Instant::now() < expires => Ok(()),
            Some(_) => Err(AuthError::new("nonce_expired", "the nonce expired; fetch a new one from /auth/dpop/nonce")),
            None => Err(AuthError::new(
                "nonce_expired",
                "unknown or already used nonce; fetch a new one from /auth/dpop/nonce",
            )),
        }
    }
}

/// RFC 7638 thumbprint of an Ed25519 public key (`x` in base64url).
pub fn jwk_thumbprint(x: &str) -> String {
    b64(&Sha256::digest(format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#).as_bytes()))
}

/// What a verified DPoP proof says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// Thumbprint of the proof's key.
    pub jkt: String,
    /// The nonce it carries, if any.
    pub nonce: Option<String>,
}

/// Checks a DPoP proof's form, signature, `htm`, `htu` path and `iat` (not the nonce).
pub fn verify_proof(raw: &str, method: &str, path: &str) -> Result<Proof, AuthError> {
    let bad = |m: String| AuthError::new("invalid_dpop_proof", m);
    let jws = split_jws(raw, "invalid_dpop_proof")?;
    let (h, p) = (&jws.header, &jws.payload);
    if h["typ"] != "dpop+jwt" || h["alg"] != "EdDSA" {
        return Err(bad("header must have typ dpop+jwt and alg EdDSA".into()));
    }
    let jwk = &h["jwk"];
    let x = jwk["x"].as_str().unwrap_or_default();
    if jwk["kty"] != "OKP" || jwk["crv"] != "Ed25519" || x.is_empty() {
        return Err(bad("header jwk must be an OKP Ed25519 public key".into()));
    }
    let public = unb64(x, "jwk.x", "invalid_dpop_proof")?;
    UnparsedPublicKey::new(&ED25519, &public)
        .verify(jws.signing_input.as_bytes(), &jws.signature)
        .map_err(|_| bad("signature does not verify with the header's jwk".into()))?;
    if !p["htm"].as_str().is_some_and(|m| m.eq_ignore_ascii_case(method)) {
        return Err(bad(format!("htm must be {method}")));
    }
    if htu_path(p["htu"].as_str().unwrap_or_default()) != path {
        return Err(bad(format!("htu must be this endpoint's URL (path {path})")));
    }
    let iat = p["iat"].as_i64().ok_or_else(|| bad("iat (Unix seconds) is required".into()))?;
    if (iat - now_s()).abs() > IAT_SKEW_S {
        return Err(bad("iat is more than 5 minutes from now".into()));
    }
    if p["jti"].as_str().is_none_or(str::is_empty) {
        return Err(bad("jti is required".into()));
    }
    Ok(Proof { jkt: jwk_thumbprint(x), nonce: p["nonce"].as_str().map(str::to_owned) })
}

fn htu_path(htu: &str) -> &str {
    let rest = htu.split_once("://").map_or(htu, |(_, r)| r.find('/').map_or("/", |i| &r[i..]));
    rest.split(['?', '#']).next().unwrap_or(rest)
}

/// Verifies a proof and spends its nonce (`nonce_required` when it has none).
pub fn verify_proof_and_nonce(raw: &str, method: &str, path: &str, nonces: &NonceStore) -> Result<Proof, AuthError> {
    let proof = verify_proof(raw, method, path)?;
    let nonce = proof.nonce.as_deref().ok_or_else(|| {
        AuthError::new("nonce_required", "the proof has no nonce claim; fetch one from /auth/dpop/nonce")
    })?;
    nonces.consume(nonce)?;
    Ok(proof)
}

/// A client's DPoP key: makes proofs (for load scripts, probes and tests).
pub struct DpopKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey").field("jkt", &self.thumbprint()).finish()
    }
}

impl DpopKey {
    /// A fresh Ed25519 key.
    pub fn generate() -> Result<Self, KeyError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(KeyError::Generate)?;
        Ok(Self { pair: Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(KeyError::Rejected)? })
    }

    /// The key's RFC 7638 thumbprint (what a token's `cnf.jkt` holds).
    pub fn thumbprint(&self) -> String {
        jwk_thumbprint(&b64(self.pair.public_key().as_ref()))
    }

    /// A proof for `method` on `url`, carrying `nonce` if given.
    pub fn proof(&self, method: &str, url: &str, nonce: Option<&str>) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "EdDSA",
            "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(self.pair.public_key().as_ref())}});
        let mut payload = json!({"jti": random_hex(12), "htm": method, "htu": url, "iat": now_s()});
        if let Some(n) = nonce {
            payload["nonce"] = json!(n);
        }
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload.to_string().as_bytes()));
        format!("{input}.{}", b64(self.pair.sign(input.as_bytes()).as_ref()))
    }
}

/// The token in an `Authorization: Bearer|DPoP <token>` header.
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    authorization(header).map(|(_, token)| token)
}

/// How a token was presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer <token>`: whoever holds the token.
    Bearer,
    /// `Authorization: DPoP <token>` with a `DPoP` proof of the bound key.
    Dpop,
}

/// The scheme and token of an `Authorization: Bearer|DPoP <token>` header.
pub fn authorization(header: Option<&str>) -> Result<(Scheme, &str), AuthError> {
    let h = header.ok_or_else(|| {
        AuthError::new("missing_token", "send Authorization: Bearer <token> (get one from POST /auth/dpop)")
    })?;
    let (scheme, token) = h.trim().split_once(' ').unwrap_or((h, ""));
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err(AuthError::new("missing_token", "Authorization must be `Bearer <token>` or `DPoP <token>`"));
    };
    if token.trim().is_empty() {
        return Err(AuthError::new("missing_token", "Authorization must be `Bearer <token>` or `DPoP <token>`"));
    }
    Ok((scheme, token.trim()))
}

/// What a token is bound to (its `cnf` claim).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// No `cnf`: a plain bearer token (the drills' in-process tokens).
    None,
    /// `cnf.jkt`: usable only with a DPoP proof signed by that key (RFC 9449).
    Dpop(String),
    /// `cnf["x5t#S256"]`: usable only on a connection presenting that client certificate
    /// (RFC 8705).
    Certificate(String),
}

impl Claims {
    /// The key or certificate the token is bound to.
    pub fn binding(&self) -> Binding {
        let cnf = self.cnf.as_ref();
        if let Some(jkt) = cnf.and_then(|c| c["jkt"].as_str()) {
            return Binding::Dpop(jkt.to_owned());
        }
        match cnf.and_then(|c| c["x5t#S256"].as_str()) {
            Some(x5t) => Binding::Certificate(x5t.to_owned()),
            None => Binding::None,
        }
    }
}

/// A client of the token issuer (`POST /auth/dpop`): its credential and what it may ask for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerClient {
    /// `client_id` in the request.
    pub id: String,
    /// `client_secret` in the request.
    pub secret: String,
    /// The tenants its tokens may name (a token for any other tenant is refused).
    pub tenant_ids: Vec<String>,
    /// The highest clearance its tokens may carry.
    pub max_tier: Label,
}

impl IssuerClient {
    /// The default client of `tenant`: id = the tenant, secret `<tenant>-secret`, every tier.
    pub fn default_for(tenant: &str) -> Self {
        Self {
            id: tenant.to_owned(),
            secret: format!("{tenant}-secret"),
            tenant_ids: vec![tenant.to_owned()],
            max_tier: Label::Secret,
        }
    }

    /// Whether `secret` is this client's (compared by digest, in constant time per byte).
    pub fn secret_matches(&self, secret: &str) -> bool {
        let (a, b) = (Sha256::digest(self.secret.as_bytes()), Sha256::digest(secret.as_bytes()));
        a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// Checks a DPoP-bound token's proof on a resource request: the proof is for `method` and
/// `path`, carries a fresh nonce, and is signed by the key the token is bound to.
pub fn verify_bound_proof(
    jkt: &str,
    proof: Option<&str>,
    method: &str,
    path: &str,
    nonces: &NonceStore,
) -> Result<(), AuthError> {
    let raw = proof.ok_or_else(|| {
        AuthError::new("invalid_dpop_proof", "this token is DPoP-bound: send a DPoP proof in the `DPoP` header")
    })?;
    let proof = verify_proof_and_nonce(raw, method, path, nonces)?;
    if proof.jkt != jkt {
        return Err(AuthError::new("dpop_key_mismatch", "the proof's key is not the key the token is bound to"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp_in: i64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            sub: "alice".into(),
            tenant_ids: vec!["tenant-a".into()],
            tier: Label::Restricted,
            iat: now_s(),
            exp: now_s() + exp_in,
            cnf: None,
        }
    }

    #[test]
    fn thumbprint_matches_rfc_8037_example() {
        // RFC 8037, appendix A.3: the thumbprint of the example Ed25519 key.
        assert_eq!(
            jwk_thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn tokens_verify_until_expiry_and_across_one_rotation() {
        let keys = TokenKeys::generate().unwrap();
        let t = keys.sign(&claims(60)).unwrap();
        assert_eq!(keys.verify(&t).unwrap().sub, "alice");
        assert_eq!(keys.verify(&keys.sign(&claims(-1)).unwrap()).unwrap_err().code, "token_expired");
        let mut tampered = t.clone();
        tampered.pop();
        tampered.push(if t.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(keys.verify(&tampered).unwrap_err().code, "invalid_token");
        keys.rotate().unwrap();
        assert!(keys.verify(&t).is_ok(), "previous key still verifies");
        keys.rotate().unwrap();
        assert!(keys.verify(&t).is_err(), "two rotations later it is gone");
    }

    #[tokio::test(start_paused = true)]
    async fn nonces_are_single_use_and_expire() {
        let store = NonceStore::new(Duration::from_secs(120));
        let n = store.issue();
        assert!(store.consume(&n).is_ok());
        assert_eq!(store.consume(&n).unwrap_err().code, "nonce_expired");
        let n = store.issue();
        tokio::time::advance(Duration::from_secs(121)).await;
        assert_eq!(store.consume(&n).unwrap_err().code, "nonce_expired");
        let n = store.issue();
        tokio::time::advance(Duration::from_secs(119)).await;
        assert!(store.consume(&n).is_ok());
    }

    #[test]
    fn proofs_check_signature_method_and_path() {
        let key = DpopKey::generate().unwrap();
        let p = key.proof("POST", "https://edge.example:8443/auth/dpop?x=1", Some("n1"));
        let ok = verify_proof(&p, "POST", "/auth/dpop").unwrap();
        assert_eq!(ok.jkt, key.thumbprint());
        assert_eq!(ok.nonce.as_deref(), Some("n1"));
        assert_eq!(verify_proof(&p, "GET", "/auth/dpop").unwrap_err().code, "invalid_dpop_proof");
        assert_eq!(verify_proof(&p, "POST", "/search").unwrap_err().code, "invalid_dpop_proof");
        let other = DpopKey::generate().unwrap().proof("POST", "/auth/dpop", None);
        let (head, _) = p.rsplit_once('.').unwrap();
        let (_, sig) = other.rsplit_once('.').unwrap();
        assert!(verify_proof(&format!("{head}.{sig}"), "POST", "/auth/dpop").is_err());
    }
}
