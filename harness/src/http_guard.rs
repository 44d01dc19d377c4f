//! What every HTTP client of gameday does with a hostile target: redirects and body size.
//!
//! The loopback guard ([`crate::targets::check_loopback`]) checks the URLs a run is
//! configured with; a target may still answer `302 Location: http://10.0.0.1/` or a body
//! that never ends. So:
//! - no client follows a redirect unless told to: [`no_redirects`] for scrapes, probes and
//!   drill clients (a 3xx is their answer), [`guarded_redirects`] for the load's
//!   `follow_redirects = N`, which follows at most N hops and only to a host that passes
//!   the same loopback guard (any host with `--allow-remote`); a redirect it does not
//!   follow is returned as the 3xx answer, never sent;
//! - bodies are read as a stream up to a cap ([`read_capped`]); past it the read stops
//!   and the response (with its connection) is dropped, so memory stays bounded whatever
//!   the target sends.

use reqwest::redirect::Policy;

/// The default cap on a response body the load reads (`load.max_response_bytes`).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 10 * 1024 * 1024;

/// The cap on a body a drill probe parses (JSON answers of a few KiB).
pub const PROBE_MAX_BODY_BYTES: u64 = 1024 * 1024;

/// Most redirect hops `load.follow_redirects` may allow.
pub const MAX_FOLLOW_REDIRECTS: u8 = 10;

/// Whether `url` is http(s) on a loopback host (127.0.0.0/8, ::1 or `localhost`).
pub fn is_loopback(url: &url::Url) -> bool {
    matches!(url.scheme(), "http" | "https")
        && match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        }
}

/// Never follow a redirect: the 3xx is the answer.
pub fn no_redirects() -> Policy {
    Policy::none()
}

/// A probe's HTTP client: no proxy, no redirect followed (a 3xx is the answer), every
/// request bounded by `timeout`.
pub fn probe_client(timeout: std::time::Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder().no_proxy().redirect(no_redirects()).timeout(timeout).build()
}

/// Follows at most `max_hops` redirects, each only to a loopback http(s) URL unless
/// `allow_remote` (then any http(s) URL); any other redirect is not followed and the 3xx
/// is the answer. `max_hops = 0` is [`no_redirects`].
pub fn guarded_redirects(max_hops: u8, allow_remote: bool) -> Policy {
    if max_hops == 0 {
        return Policy::none();
    }
    Policy::custom(move |attempt| {
        let next = attempt.url();
        let allowed = if allow_remote { matches!(next.scheme(), "http" | "https") } else { is_loopback(next) };
        if attempt.previous().len() > usize::from(max_hops) || !allowed {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// Why a capped body read did not return the body.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body was longer than the cap; reading stopped there.
    #[error("the response body is larger than {max_bytes} bytes (the cap); reading stopped there")]
    TooLarge {
        /// The cap.
        max_bytes: u64,
    },
    /// Reading the body failed (timeout, reset, protocol).
    #[error(transparent)]
    Read(#[from] reqwest::Error),
}

/// Reads `resp`'s body as a stream, at most `max_bytes`; a longer body is
/// [`BodyError::TooLarge`] and the response is dropped (its connection closed) at once.
pub async fn read_capped(mut resp: reqwest::Response, max_bytes: u64) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > max_bytes) {
        return Err(BodyError::TooLarge { max_bytes });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() as u64 + chunk.len() as u64 > max_bytes {
            return Err(BodyError::TooLarge { max_bytes });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads at most `max_bytes` of `resp`'s body and drops the rest (with the connection):
/// for callers that look only at the start of a body (a probe's expected text).
pub async fn read_prefix(mut resp: reqwest::Response, max_bytes: usize) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = max_bytes.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_only() {
        let ok = |u: &str| is_loopback(&url::Url::parse(u).unwrap());
        assert!(
            ok("http://127.0.0.1:1/x") && ok("https://[::1]/") && ok("http://LOCALHOST/") && ok("http://127.8.0.1")
        );
        assert!(!ok("http://10.0.0.1/") && !ok("http://example.com/") && !ok("ftp://127.0.0.1/"));
        assert!(!ok("http://localhost.example.com/"));
    }
}
