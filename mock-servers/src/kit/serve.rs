//! `serve(listener, router, limits, shutdown)`: run a mock on an already bound listener.
//!
//! Taking a bound listener (not an address) lets tests bind port 0 and learn the port
//! before serving, and lets `gameday mocks` report a clear error naming a busy port
//! before anything starts. Shutdown is graceful: in-flight requests finish.
//! Accepted TCP connections get `TCP_NODELAY`, as a production server's would: a small
//! answer goes out at once instead of waiting on Nagle's algorithm for the client's
//! delayed ACK.
//!
//! Connection timeouts ([`ConnLimits`], real time, not scaled): a connection is closed
//! - when a request head is not complete `header_read_timeout` after its first byte
//!   arrived (slowloris: a head sent a byte at a time), and
//! - when it has no request in flight and no byte went either way for `idle_timeout`
//!   (a connection opened and never used, or a kept-alive one left idle).
//!
//! A watchdog per connection applies both, whatever the protocol (HTTP/1.1, HTTP/2, or
//! still undecided). hyper's own `header_read_timeout` is not used: its timer also runs
//! while a kept-alive HTTP/1.1 connection waits for the next request (so `idle_timeout`
//! would mean nothing), and it does not cover the bytes hyper-util reads to tell HTTP/1.1
//! from HTTP/2.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::DefaultBodyLimit;
use axum::serve::Listener;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::errors;
use super::units::{HumanDuration, PositiveDuration};

/// How long a mock's connections may stall (real time: a transport bound, not a
/// modelled service time, so the time scale does not change it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnLimits {
    /// From the first byte of a request head to the complete head (default 10 s).
    pub header_read_timeout: PositiveDuration,
    /// No request in flight and no byte either way for this long closes the connection
    /// (default 60 s).
    pub idle_timeout: PositiveDuration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        let secs = |s| PositiveDuration(HumanDuration(Duration::from_secs(s)));
        Self { header_read_timeout: secs(10), idle_timeout: secs(60) }
    }
}

/// Serves `router` on a TCP `listener` until `shutdown` resolves, then drains in-flight
/// requests. Handlers can extract `ConnectInfo<SocketAddr>`.
pub async fn serve<F>(listener: TcpListener, router: Router, limits: ConnLimits, shutdown: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let on_accept = |tcp: &TcpStream, addr: &SocketAddr| {
        // Best effort: a socket that refuses the option still serves, only slower.
        let _ = tcp.set_nodelay(true);
        *addr
    };
    serve_listener(listener, router, limits, on_accept, shutdown).await
}

/// Serves `router` on any axum [`Listener`] (TLS, killable streams) until `shutdown`.
/// `on_accept` runs once per connection and returns what handlers extract as
/// `ConnectInfo<C>`.
pub async fn serve_listener<L, C, A, F>(
    mut listener: L,
    router: Router,
    limits: ConnLimits,
    on_accept: A,
    shutdown: F,
) -> io::Result<()>
where
    L: Listener,
    A: Fn(&L::Io, &L::Addr) -> C,
    C: Clone + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let (alive_tx, alive_rx) = watch::channel(());
    let drain = CancellationToken::new();
    tokio::pin!(shutdown);
    loop {
        let (io, addr) = tokio::select! {
            conn = listener.accept() => conn,
            () = &mut shutdown => break,
        };
        let info = on_accept(&io, &addr);
        let conn = Conn { router: router.clone(), limits, drain: drain.clone(), _alive: alive_rx.clone() };
        tokio::spawn(conn.run(io, info));
    }
    drop(listener);
    drain.cancel();
    drop(alive_rx);
    alive_tx.closed().await;
    Ok(())
}

/// What a connection's watchdog reads: traffic and requests, in ms since it opened.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    last_io_ms: AtomicU64,
    /// When the first byte of the pending request head arrived ([`NO_HEAD`]: none pending).
    head_started_ms: AtomicU64,
    in_flight: AtomicUsize,
}

const NO_HEAD: u64 = u64::MAX;

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            last_io_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(NO_HEAD),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn read(&self) {
        let now = self.now_ms();
        self.last_io_ms.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Acquire) == 0 {
            let _ = self.head_started_ms.compare_exchange(NO_HEAD, now, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    fn wrote(&self) {
        self.last_io_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started_ms.store(NO_HEAD, Ordering::Release);
    }

    fn request_done(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.wrote();
    }

    /// `None` when the connection must close now, else how long to sleep before asking again.
    fn check(&self, limits: ConnLimits) -> Option<Duration> {
        let idle = limits.idle_timeout.get();
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Some(idle.min(limits.header_read_timeout.get()));
        }
        let now = self.now_ms();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 2);
        let idle_due = self.last_io_ms.load(Ordering::Relaxed).saturating_add(ms(idle));
        let head = self.head_started_ms.load(Ordering::Acquire);
        let head_due =
            if head == NO_HEAD { u64::MAX } else { head.saturating_add(ms(limits.header_read_timeout.get())) };
        let due = idle_due.min(head_due);
        (now < due).then(|| Duration::from_millis(due - now))
    }
}

/// Counts a request in flight until dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn enter(a: &Arc<Activity>) -> Self {
        a.request_started();
        Self(Arc::clone(a))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_done();
    }
}

/// A connection's stream that reports its traffic to the watchdog.
struct Watched<IO> {
    io: IO,
    activity: Arc<Activity>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.read();
        }
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// One accepted connection: served until it ends, times out, or the server drains.
struct Conn {
    router: Router,
    limits: ConnLimits,
    drain: CancellationToken,
    /// Dropped when the connection ends; the server waits for every one on shutdown.
    _alive: watch::Receiver<()>,
}

impl Conn {
    async fn run<IO, C>(self, io: IO, info: C)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        C: Clone + Send + Sync + 'static,
    {
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched { io, activity: Arc::clone(&activity) });
        let router = self.router.clone();
        let requests = Arc::clone(&activity);
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(info.clone()));
            let in_flight = InFlight::enter(&requests);
            let router = router.clone();
            async move {
                let resp = router.oneshot(req).await;
                drop(in_flight);
                Ok::<_, Infallible>(resp.unwrap_or_else(|never| match never {}))
            }
        });
        let builder = auto::Builder::new(TokioExecutor::new());
        let conn = builder.serve_connection_with_upgrades(io, service);
        tokio::pin!(conn);
        let mut draining = false;
        let mut wait = self.limits.header_read_timeout.get().min(self.limits.idle_timeout.get());
        loop {
            tokio::select! {
                _ = conn.as_mut() => return,
                () = self.drain.cancelled(), if !draining => {
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = tokio::time::sleep(wait) => match activity.check(self.limits) {
                    Some(next) => wait = next,
                    // Timed out: dropping the connection closes the socket.
                    None => return,
                },
            }
        }
    }
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
