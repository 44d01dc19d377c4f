//! Probe `http`: an HTTP request to the target's base URL gets the expected status (and
//! body). Without `expect_status`, any 2xx passes; a refused connection or a timeout is
//! a failed check, not an error (the probe ran and saw the service down).

use gameday_mocks::kit::HumanDuration;
use serde::{Deserialize, Serialize};

use crate::chaos::env::DrillEnv;
use crate::chaos::fault::FaultError;
use crate::chaos::probe::ProbeOutcome;
use crate::scenario::Method;

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
    /// Path (and query) on the target's base URL, starting with `/`.
    pub path: String,
    /// HTTP method (default GET).
    #[serde(default)]
    pub method: Method,
    /// Request body, sent as JSON.
    #[serde(default)]
    pub body: Option<String>,
    /// The status that passes (default: any 2xx).
    #[serde(default)]
    pub expect_status: Option<u16>,
    /// A substring the body must contain.
    #[serde(default)]
    pub expect_body: Option<String>,
}

/// The most bytes of a response body read.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Runs the probe once.
pub async fn check(spec: &Spec, target: &str, env: &DrillEnv) -> Result<ProbeOutcome, FaultError> {
    let base = env
        .base_url(target)
        .ok_or_else(|| FaultError::NoTarget { target: target.to_owned(), what: "no such target in this run".into() })?;
    let url = format!("{base}{}", spec.path);
    let timeout = spec.timeout.map_or(std::time::Duration::from_secs(5), |d| d.get());
    let client = crate::chaos::probe::http_client(timeout)?;
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

async fn read_body(mut resp: reqwest::Response) -> Result<String, String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("reading the body failed: {e}"))? {
        let room = MAX_BODY_BYTES.saturating_sub(bytes.len());
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn judge(spec: &Spec, what: &str, status: u16, body: Result<&str, &String>) -> ProbeOutcome {
    let status_ok = spec.expect_status.map_or((200..300).contains(&status), |s| s == status);
    if !status_ok {
        let want = spec.expect_status.map_or("2xx".to_owned(), |s| s.to_string());
        return ProbeOutcome {
            ok: false,
            detail: format!("{what}: HTTP {status}, expected {want}"),
            definitive: false,
        };
    }
    match (&spec.expect_body, body) {
        (Some(_), Err(e)) => {
            ProbeOutcome { ok: false, detail: format!("{what}: HTTP {status}, {e}"), definitive: false }
        }
        (Some(needle), Ok(b)) if !b.contains(needle.as_str()) => ProbeOutcome {
            ok: false,
            detail: format!("{what}: HTTP {status}, body lacks `{needle}`"),
            definitive: false,
        },
        _ => ProbeOutcome { ok: true, detail: format!("{what}: HTTP {status}"), definitive: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::env::Target;

    async fn serve_once(response: &'static str) -> String {
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

    fn env_with(url: String) -> DrillEnv {
        let mut env = DrillEnv::default();
        env.targets.insert("pxl".into(), Target::Remote { url });
        env
    }

    #[tokio::test]
    async fn status_and_body_are_checked_against_a_real_server() {
        let url =
            serve_once("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 8\r\nconnection: close\r\n\r\ndegraded")
                .await;
        let env = env_with(url);
        let spec = Spec { path: "/health".into(), ..Spec::default() };
        let o = check(&spec, "pxl", &env).await.unwrap();
        assert!(!o.ok && o.detail.contains("HTTP 503"), "{}", o.detail);
        let spec = Spec {
            path: "/health".into(),
            expect_status: Some(503),
            expect_body: Some("degraded".into()),
            ..Spec::default()
        };
        assert!(check(&spec, "pxl", &env).await.unwrap().ok);
        let spec = Spec {
            path: "/health".into(),
            expect_status: Some(503),
            expect_body: Some("ok".into()),
            ..Spec::default()
        };
        assert!(!check(&spec, "pxl", &env).await.unwrap().ok);
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_failed_check_and_an_unknown_target_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let env = env_with(url);
        let spec = Spec { path: "/".into(), ..Spec::default() };
        let o = check(&spec, "pxl", &env).await.unwrap();
        assert!(!o.ok, "{}", o.detail);
        assert!(check(&spec, "grahmos", &env).await.is_err());
    }
}
