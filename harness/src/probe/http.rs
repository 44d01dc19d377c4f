//! Probe `http`: an HTTP request to a target's base URL plus `path` (or to an absolute
//! `url`) gets the expected status, and optionally a body containing a substring and a
//! JSON field with a given value. Without `expect_status`, any 2xx passes; a refused
//! connection or a timeout is a failed check, not an error (the probe ran and saw the
//! service down). Only an unknown target is an error (the probe could not run).

use gameday_mocks::kit::HumanDuration;

use super::{Endpoints, ProbeError, ProbeOutcome};
pub use crate::spec::probes::http::{JsonMatch, Spec};

impl JsonMatch {
    /// `None` when the body matches, else what was seen.
    fn mismatch(&self, body: &str) -> Option<String> {
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(body) else {
            return Some("the body is not JSON".into());
        };
        let found = self.field.split('.').try_fold(&doc, |v, key| v.get(key));
        match found {
            None => Some(format!("the JSON body has no field `{}`", self.field)),
            Some(v) if same(v, &self.equals) => None,
            Some(v) => Some(format!("JSON field `{}` is {v}, expected {}", self.field, self.equals)),
        }
    }
}

fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

impl Spec {
    /// Checks the fields against each other: `(field, message)` of the first problem.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match (&self.url, self.path.is_empty()) {
            (Some(_), false) => return Err(("path", "give `url` or `path`, not both".into())),
            (Some(u), true) if !u.starts_with("http://") && !u.starts_with("https://") => {
                return Err(("url", format!("`{u}` must be an http:// or https:// URL")));
            }
            (Some(u), true) if url::Url::parse(u).is_err() => {
                return Err(("url", format!("`{u}` is not a URL")));
            }
            (None, true) => return Err(("path", "needs `path` (such as \"/health\") or `url`".into())),
            (None, false) if !self.path.starts_with('/') => {
                return Err(("path", format!("`{}` must start with `/`", self.path)));
            }
            _ => {}
        }
        if let Some(s) = self.expect_status.filter(|s| !(100..=599).contains(s)) {
            return Err(("expect_status", format!("{s} is not an HTTP status (100..=599)")));
        }
        if self.expect_json.as_ref().is_some_and(|j| j.field.split('.').any(str::is_empty)) {
            return Err(("expect_json", "`field` must be a dot-separated path of non-empty names".into()));
        }
        Ok(())
    }

    /// The timeout (default 5s).
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout.map_or(std::time::Duration::from_secs(5), HumanDuration::get)
    }
}

/// The most bytes of a response body read.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Runs the probe once against `target` (ignored when the probe gives a `url`).
pub async fn check(spec: &Spec, target: &str, env: &Endpoints) -> Result<ProbeOutcome, ProbeError> {
    let url = match &spec.url {
        Some(u) => u.clone(),
        None => {
            let base = env.base_url(target).ok_or_else(|| ProbeError::NoTarget {
                target: target.to_owned(),
                what: "no such target in this run".into(),
            })?;
            format!("{base}{}", spec.path)
        }
    };
    let timeout = spec.timeout();
    // A 3xx is the probe's answer: a redirect is never followed (it could lead off loopback).
    let builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(crate::http_guard::no_redirects())
        .timeout(timeout)
        .connect_timeout(timeout);
    let client = crate::targets::client(builder, env.ca_pems()).map_err(ProbeError::Client)?;
    let mut req = client.request(spec.method.as_http(), &url);
    if let Some(body) = &spec.body {
        req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
    }
    let what = format!("{} {url}", spec.method.as_http());
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            let why = if e.is_timeout() { "no answer in time".to_owned() } else { format!("request failed: {e}") };
            return Ok(ProbeOutcome { ok: false, detail: format!("{what}: {why}"), definitive: false });
        }
    };
    let status = resp.status().as_u16();
    let body = read_body(resp).await;
    Ok(judge(spec, &what, status, body.as_deref()))
}

/// A body that could not be read to the end of its prefix.
#[derive(Debug, thiserror::Error)]
#[error("reading the body failed: {0}")]
struct BodyUnread(reqwest::Error);

/// The first [`MAX_BODY_BYTES`] of the body (the rest is dropped with the connection).
async fn read_body(resp: reqwest::Response) -> Result<String, BodyUnread> {
    let bytes = crate::http_guard::read_prefix(resp, MAX_BODY_BYTES).await.map_err(BodyUnread)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn judge(spec: &Spec, what: &str, status: u16, body: Result<&str, &BodyUnread>) -> ProbeOutcome {
    let fail =
        |why: String| ProbeOutcome { ok: false, detail: format!("{what}: HTTP {status}, {why}"), definitive: false };
    let status_ok = spec.expect_status.map_or((200..300).contains(&status), |s| s == status);
    if !status_ok {
        let want = spec.expect_status.map_or("2xx".to_owned(), |s| s.to_string());
        return fail(format!("expected {want}"));
    }
    let wants_body = spec.expect_body.is_some() || spec.expect_json.is_some();
    let body = match body {
        Err(e) if wants_body => return fail(e.to_string()),
        Err(_) => "",
        Ok(b) => b,
    };
    if let Some(needle) = spec.expect_body.as_ref().filter(|n| !body.contains(n.as_str())) {
        return fail(format!("body lacks `{needle}`"));
    }
    if let Some(why) = spec.expect_json.as_ref().and_then(|j| j.mismatch(body)) {
        return fail(why);
    }
    ProbeOutcome { ok: true, detail: format!("{what}: HTTP {status}"), definitive: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve(response: String) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(response.as_bytes()).await;
            }
        });
        format!("http://{addr}")
    }

    fn env_with(url: &str) -> Endpoints {
        let mut env = Endpoints::default();
        env.insert("pxl", url, None);
        env
    }

    fn spec(path: &str) -> Spec {
        Spec { path: path.into(), ..Spec::default() }
    }

    #[tokio::test]
    async fn status_and_body_are_checked_against_a_real_server() {
        let url =
            serve("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 8\r\nconnection: close\r\n\r\ndegraded".into())
                .await;
        let env = env_with(&url);
        let o = check(&spec("/health"), "pxl", &env).await.unwrap();
        assert!(!o.ok && o.detail.contains("HTTP 503"), "{}", o.detail);
        let mut s = Spec { expect_status: Some(503), expect_body: Some("degraded".into()), ..spec("/health") };
        assert!(check(&s, "pxl", &env).await.unwrap().ok);
        s.expect_body = Some("ok".into());
        assert!(!check(&s, "pxl", &env).await.unwrap().ok);
        let by_url = Spec { url: Some(format!("{url}/x")), expect_status: Some(503), ..Spec::default() };
        assert!(check(&by_url, "nowhere", &Endpoints::default()).await.unwrap().ok);
    }

    #[tokio::test]
    async fn a_json_field_is_matched_by_path_and_value() {
        let body = r#"{"status":"ok","checks":{"db":1}}"#;
        let resp = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        let env = env_with(&serve(resp).await);
        let want = |field: &str, equals: serde_json::Value| Spec {
            expect_json: Some(JsonMatch { field: field.into(), equals }),
            ..spec("/")
        };
        assert!(check(&want("status", "ok".into()), "pxl", &env).await.unwrap().ok);
        assert!(check(&want("checks.db", 1.0.into()), "pxl", &env).await.unwrap().ok);
        let o = check(&want("status", "down".into()), "pxl", &env).await.unwrap();
        assert!(!o.ok && o.detail.contains("expected \"down\""), "{}", o.detail);
        let o = check(&want("checks.cache", true.into()), "pxl", &env).await.unwrap();
        assert!(!o.ok && o.detail.contains("no field `checks.cache`"), "{}", o.detail);
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_failed_check_and_an_unknown_target_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let env = env_with(&url);
        let o = check(&spec("/"), "pxl", &env).await.unwrap();
        assert!(!o.ok, "{}", o.detail);
        assert!(matches!(check(&spec("/"), "grahmos", &env).await, Err(ProbeError::NoTarget { .. })));
    }

    #[test]
    fn validation_names_the_field() {
        let bad = |s: Spec| s.validate().unwrap_err().0;
        assert_eq!(bad(Spec::default()), "path");
        assert_eq!(bad(spec("health")), "path");
        assert_eq!(bad(Spec { url: Some("ftp://x/".into()), ..Spec::default() }), "url");
        assert_eq!(bad(Spec { url: Some("http://127.0.0.1/".into()), ..spec("/h") }), "path");
        assert_eq!(bad(Spec { expect_status: Some(42), ..spec("/h") }), "expect_status");
        let json = JsonMatch { field: "a..b".into(), equals: 1.into() };
        assert_eq!(bad(Spec { expect_json: Some(json), ..spec("/h") }), "expect_json");
        assert!(Spec { url: Some("http://127.0.0.1:9/health".into()), ..Spec::default() }.validate().is_ok());
    }
}
