//! A bare axum hello-world server on loopback: the second baseline of
//! `ci/bench-compare.sh` (a). It serves the way the mocks' kit does (`axum::serve`,
//! hyper-util's HTTP/1 + HTTP/2 connection builder, `TCP_NODELAY` on every connection)
//! with one route and nothing else, so the table can split the mock's gap to bare hyper
//! into what axum itself costs and what the mock adds (routing table, metrics middleware,
//! JSON body).
//!
//! Usage: `axum_hello [PORT]` (default 0, an ephemeral port). Prints
//! `http://127.0.0.1:PORT` on its first line once listening, answers `GET /health` with
//! `200 ok`, and serves until killed.

use std::net::{Ipv4Addr, SocketAddr};

use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::args().nth(1).and_then(|p| p.parse::<u16>().ok()).unwrap_or(0);
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("http://{}", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, Router::new().route("/health", get(|| async { "ok" }))).await
}
