//! `serve(listener, router, shutdown)`: run a mock on an already bound listener.
//!
//! Taking a bound listener (not an address) lets tests bind port 0 and learn the port
//! before serving, and lets `gameday mocks` report a clear error naming a busy port
//! before anything starts. Shutdown is graceful: in-flight requests finish.
//! Accepted connections get `TCP_NODELAY`, as a production server's would (axum 0.8
//! leaves it to the caller): a small answer goes out at once instead of waiting on
//! Nagle's algorithm for the client's delayed ACK.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use axum::extract::DefaultBodyLimit;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;

use super::errors;

/// Serves `router` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve<F>(listener: TcpListener, router: Router, shutdown: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let listener = listener.tap_io(|tcp| {
        // Best effort: a socket that refuses the option still serves, only slower.
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Adds the behaviour every mock shares: JSON 404/405 fallbacks and a body limit.
pub fn finish_router(router: Router, max_body_bytes: usize) -> Router {
    router
        .fallback(errors::not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
}

/// Binds a loopback listener on `port` (0 = ephemeral) with an error naming the port.
pub async fn bind_loopback(host: std::net::IpAddr, port: u16) -> Result<TcpListener, BindError> {
    let addr = SocketAddr::new(host, port);
    TcpListener::bind(addr).await.map_err(|source| BindError { addr, source })
}

/// A listener could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}{hint}", hint = hint(source))]
pub struct BindError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// The OS error.
    #[source]
    pub source: io::Error,
}

fn hint(e: &io::Error) -> &'static str {
    if e.kind() == io::ErrorKind::AddrInUse {
        " (the port is already in use; stop what holds it, or drop `--ports runbook` to use ephemeral ports)"
    } else {
        ""
    }
}
