//! The gateway's admission limits: requests per client per window, and concurrent sessions.
//!
//! The rate limit is a fixed window per client, as nginx-style "N requests per minute"
//! limits are usually described: a client's window opens with its first request and lasts
//! `rate_limit_window` (simulated time); within it the first `rate_limit_requests` pass and
//! the rest get 429 with `Retry-After` = the time left in the window (real seconds, at
//! least 1). Refused requests do not count.
//!
//! Who the client is must not be the caller's choice, or a fresh key per request buys a
//! fresh window: a client is a *registered* API key (`Profile::api_keys`) in the
//! `client_key_header`, else its source address (runbook 003's audit log names the user
//! if authenticated, else the client IP). An unregistered key is 401 `invalid_api_key`
//! and counts against its source address, so inventing keys neither passes nor escapes
//! the limit, and nobody spends a registered client's window without its key.
//!
//! A session is a request in flight through the gateway's API: past `max_sessions` at
//! once, 503 `session_limit` with `Retry-After: 1`.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::gateway::GatewayState;
use crate::kit::ApiError;

/// Client windows kept before expired ones are pruned.
const PRUNE_AT: usize = 10_000;

/// What the limiter decided for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Let it through; `remaining` more fit in the current window.
    Allowed {
        /// Requests left in the window after this one.
        remaining: u32,
    },
    /// Refuse it; the window reopens after `retry_after` (real time).
    Limited {
        /// Real time until the client's window ends.
        retry_after: Duration,
    },
}

#[derive(Clone, Copy, Debug)]
struct Window {
    opened: Instant,
    count: u32,
}

/// Fixed-window request counter per client.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    window_real: Duration,
    clients: Mutex<Clients>,
}

/// The windows by client, and when expired ones were last pruned.
#[derive(Debug)]
struct Clients {
    windows: HashMap<String, Window>,
    pruned: Instant,
}

impl RateLimiter {
    /// `limit` requests per `window_real` (already converted from simulated time).
    pub fn new(limit: u32, window_real: Duration) -> Self {
        let clients = Clients { windows: HashMap::new(), pruned: Instant::now() };
        Self { limit, window_real, clients: Mutex::new(clients) }
    }

    /// The configured requests per window.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Counts one request from `client` at `now`.
    pub fn check(&self, client: &str, now: Instant) -> Decision {
        let mut clients = match self.clients.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Prune at most once per window, so many live clients do not make every check O(n).
        let window = self.window_real;
        if clients.windows.len() >= PRUNE_AT && now.duration_since(clients.pruned) >= window {
            clients.windows.retain(|_, w| now.duration_since(w.opened) < window);
            clients.pruned = now;
        }
        let w = clients.windows.entry(client.to_owned()).or_insert(Window { opened: now, count: 0 });
        if now.duration_since(w.opened) >= self.window_real {
            *w = Window { opened: now, count: 0 };
        }
        if w.count < self.limit {
            w.count += 1;
            Decision::Allowed { remaining: self.limit - w.count }
        } else {
            Decision::Limited { retry_after: (w.opened + self.window_real).saturating_duration_since(now) }
        }
    }
}

/// Who a request counts as: a registered key, or (no key, or an unregistered one) the
/// source address.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Client {
    /// A registered API key.
    Key(String),
    /// The source address; `bad_key` when the request sent an unregistered key.
    Peer { ip: String, bad_key: bool },
}

impl Client {
    fn window(&self) -> String {
        match self {
            Client::Key(k) => format!("key:{k}"),
            Client::Peer { ip, .. } => format!("ip:{ip}"),
        }
    }
}

/// The client of a request (see [`Client`]).
fn client_of(req: &Request, header: &str, registered: &HashSet<String>) -> Client {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ConnectInfo(addr)| addr.ip().to_string());
    match req.headers().get(header) {
        None => Client::Peer { ip, bad_key: false },
        Some(v) => match v.to_str().ok().filter(|k| registered.contains(*k)) {
            Some(k) => Client::Key(k.to_owned()),
            None => Client::Peer { ip, bad_key: true },
        },
    }
}

/// Middleware on the gateway's API routes: rate limit first, then the key check, then a
/// session slot held for the whole request.
pub(super) async fn admit(State(g): State<Arc<GatewayState>>, req: Request, next: Next) -> Response {
    let shared = &g.shared;
    let client = client_of(&req, &shared.profile.client_key_header, &g.api_keys);
    if let Decision::Limited { retry_after } = g.limiter.check(&client.window(), Instant::now()) {
        shared.metrics.rejected.with_label_values(&["rate_limited"]).inc();
        let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
        return ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "more than {} requests in {} from this client",
                g.limiter.limit(),
                shared.profile.rate_limit_window.0
            ),
        )
        .with("limit", g.limiter.limit())
        .retry_after(secs)
        .into_response();
    }
    if matches!(client, Client::Peer { bad_key: true, .. }) {
        shared.metrics.rejected.with_label_values(&["invalid_api_key"]).inc();
        let header = &shared.profile.client_key_header;
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            format!("the {header} is not a registered API key"),
        )
        .into_response();
    }
    let Ok(_session) = Arc::clone(&shared.sessions).try_acquire_owned() else {
        shared.metrics.rejected.with_label_values(&["session_limit"]).inc();
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "session_limit",
            format!("{} sessions are already active", shared.profile.max_sessions),
        )
        .with("max_sessions", shared.profile.max_sessions)
        .retry_after(1)
        .into_response();
    };
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_limit_plus_first_request_in_a_minute_waits_for_the_window_to_end() {
        let limiter = RateLimiter::new(1000, Duration::from_secs(60));
        let opened = Instant::now();
        for i in 0..1000u32 {
            assert_eq!(limiter.check("a", opened), Decision::Allowed { remaining: 999 - i });
        }
        tokio::time::advance(Duration::from_secs(15)).await;
        // Hand computation: the window opened 15 s ago and lasts 60 s, so 45 s remain.
        assert_eq!(limiter.check("a", Instant::now()), Decision::Limited { retry_after: Duration::from_secs(45) });
        assert_eq!(
            limiter.check("b", Instant::now()),
            Decision::Allowed { remaining: 999 },
            "other clients unaffected"
        );
        tokio::time::advance(Duration::from_secs(45)).await;
        assert_eq!(limiter.check("a", Instant::now()), Decision::Allowed { remaining: 999 });
    }

    #[tokio::test(start_paused = true)]
    async fn expired_windows_are_pruned_when_many_clients_pass() {
        let limiter = RateLimiter::new(1, Duration::from_secs(1));
        for i in 0..PRUNE_AT {
            limiter.check(&format!("c{i}"), Instant::now());
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        limiter.check("late", Instant::now());
        let kept = limiter.clients.lock().map(|c| c.windows.len()).unwrap_or(0);
        assert_eq!(kept, 1);
    }
}
