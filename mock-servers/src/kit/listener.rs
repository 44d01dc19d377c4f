//! A listener that drills can really stop and restart on the same port.
//!
//! Some faults are "this process stopped answering": a PXL overlay or core going down, a
//! MorphSave RPC node failing. Flipping a flag that makes a handler answer 500 is not that
//! fault: clients of a stopped process get `connection refused`, their pooled keep-alive
//! connections are closed, and health probes time out or fail to connect. So a
//! switchable listener ([`spawn`]) runs under a small supervisor task that, on [`Switch::stop`],
//! shuts the server down gracefully (in-flight requests finish, the socket is closed) and,
//! on [`Switch::start`], binds the same address again and serves the same router.
//!
//! The supervisor task is what goes into a service's `RunningService::tasks`: it lives
//! until the mock's shutdown token is cancelled, across any number of stop/start cycles.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::serve::{serve, BindError, ConnLimits};

/// What the supervisor last reported.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Reported {
    /// Whether the listener is bound and serving.
    up: bool,
    /// Bind attempts made after the first one (each restart is one).
    attempt: u64,
    /// Why the last restart failed, if it did.
    error: Option<String>,
}

/// Why a stop or start did not happen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SwitchError {
    /// The same address could not be bound again.
    #[error("cannot listen on {addr} again: {message}")]
    Rebind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        message: String,
    },
    /// The mock is shutting down; its listeners no longer change state.
    #[error("the listener on {addr} has shut down with its mock")]
    ShutDown {
        /// The address.
        addr: SocketAddr,
    },
}

/// The control side of a switchable listener: stop it, start it again, ask if it is up.
#[derive(Clone, Debug)]
pub struct Switch {
    addr: SocketAddr,
    want_up: Arc<watch::Sender<bool>>,
    reported: watch::Receiver<Reported>,
    op: Arc<Mutex<()>>,
}

/// Serves `router` on `listener` until `shutdown`; the returned [`Switch`] stops and
/// restarts it, and the task (the supervisor) ends after `shutdown` is cancelled.
pub fn spawn(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: CancellationToken,
) -> io::Result<(Switch, JoinHandle<io::Result<()>>)> {
    let addr = listener.local_addr()?;
    let (want_tx, want_rx) = watch::channel(true);
    let first = Reported { up: true, attempt: 0, error: None };
    let (report_tx, report_rx) = watch::channel(first);
    let supervisor = Supervisor { addr, router, limits, shutdown, want: want_rx, report: report_tx };
    let task = tokio::spawn(supervisor.run(listener));
    let switch = Switch { addr, want_up: Arc::new(want_tx), reported: report_rx, op: Arc::new(Mutex::new(())) };
    Ok((switch, task))
}

/// The serving tasks of [`spawn_all`], one per listener.
pub type Tasks = Vec<JoinHandle<io::Result<()>>>;

/// [`spawn`] for several listeners, each with its router, in order; a failure names the
/// listener's address.
pub fn spawn_all(
    pairs: Vec<(TcpListener, Router)>,
    limits: ConnLimits,
    shutdown: &CancellationToken,
) -> Result<(Vec<Switch>, Tasks), BindError> {
    let mut switches = Vec::with_capacity(pairs.len());
    let mut tasks = Vec::with_capacity(pairs.len());
    for (listener, router) in pairs {
        let addr = listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let (switch, task) =
            spawn(listener, router, limits, shutdown.clone()).map_err(|source| BindError { addr, source })?;
        switches.push(switch);
        tasks.push(task);
    }
    Ok((switches, tasks))
}

impl Switch {
    /// The address the listener serves on (the same after every restart).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the listener is bound and serving right now.
    pub fn is_up(&self) -> bool {
        self.reported.borrow().up
    }

    /// Stops serving: no new connections, in-flight requests finish, the socket closes.
    /// Returns once the port is closed; stopping a stopped listener does nothing.
    pub async fn stop(&self) -> Result<(), SwitchError> {
        let _one_at_a_time = self.op.lock().await;
        if !self.is_up() {
            return Ok(());
        }
        self.want_up.send_replace(false);
        let mut reported = self.reported.clone();
        let stopped = reported.wait_for(|r| !r.up).await.is_ok();
        if stopped {
            Ok(())
        } else {
            Err(SwitchError::ShutDown { addr: self.addr })
        }
    }

    /// Binds the same address again and serves; starting a running listener does nothing.
    pub async fn start(&self) -> Result<(), SwitchError> {
        let _one_at_a_time = self.op.lock().await;
        if self.is_up() {
            return Ok(());
        }
        let before = self.reported.borrow().attempt;
        self.want_up.send_replace(true);
        let mut reported = self.reported.clone();
        let done = reported.wait_for(|r| r.attempt > before && (r.up || r.error.is_some())).await.map(|r| r.clone());
        match done {
            Ok(r) if r.up => Ok(()),
            Ok(r) => Err(SwitchError::Rebind { addr: self.addr, message: r.error.unwrap_or_default() }),
            Err(_) => Err(SwitchError::ShutDown { addr: self.addr }),
        }
    }
}

struct Supervisor {
    addr: SocketAddr,
    router: Router,
    limits: ConnLimits,
    shutdown: CancellationToken,
    want: watch::Receiver<bool>,
    report: watch::Sender<Reported>,
}

impl Supervisor {
    async fn run(mut self, first: TcpListener) -> io::Result<()> {
        let mut listener = Some(first);
        loop {
            if let Some(l) = listener.take() {
                self.serve_until_stopped(l).await?;
                self.report.send_modify(|r| r.up = false);
            }
            if self.shutdown.is_cancelled() || !self.wait_until_wanted().await {
                return Ok(());
            }
            let attempt = self.report.borrow().attempt + 1;
            match TcpListener::bind(self.addr).await {
                Ok(l) => {
                    self.report.send_replace(Reported { up: true, attempt, error: None });
                    listener = Some(l);
                }
                Err(e) => {
                    self.report.send_replace(Reported { up: false, attempt, error: Some(e.to_string()) });
                    // Wait for the next start request before trying again.
                    self.want.mark_unchanged();
                    if !self.wait_for_change().await {
                        return Ok(());
                    }
                }
            }
        }
    }

    async fn serve_until_stopped(&self, listener: TcpListener) -> io::Result<()> {
        let mut want = self.want.clone();
        let shutdown = self.shutdown.clone();
        let stop = async move {
            let stop_requested = async {
                // With every `Switch` dropped nobody can ask for a stop: serve on.
                if want.wait_for(|up| !*up).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = stop_requested => {}
            }
        };
        serve(listener, self.router.clone(), self.limits, stop).await
    }

    /// Waits until the listener is wanted up; false if the mock shuts down first (or
    /// every `Switch` is gone, so nobody can ask: then it waits for shutdown).
    async fn wait_until_wanted(&mut self) -> bool {
        let wanted = tokio::select! {
            () = self.shutdown.cancelled() => return false,
            r = self.want.wait_for(|up| *up) => r.is_ok(),
        };
        if !wanted {
            self.shutdown.cancelled().await;
        }
        wanted
    }

    /// Waits for any new request; false if the mock shuts down first.
    async fn wait_for_change(&mut self) -> bool {
        let changed = tokio::select! {
            () = self.shutdown.cancelled() => return false,
            r = self.want.changed() => r.is_ok(),
        };
        if !changed {
            self.shutdown.cancelled().await;
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn get_root(addr: SocketAddr) -> io::Result<String> {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok(out)
    }

    async fn spawned() -> io::Result<(Switch, JoinHandle<io::Result<()>>, CancellationToken)> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let token = CancellationToken::new();
        let router = Router::new().route("/", get(|| async { "pong" }));
        let (switch, task) = spawn(listener, router, ConnLimits::default(), token.clone())?;
        Ok((switch, task, token))
    }

    #[tokio::test]
    async fn stop_refuses_connections_and_start_serves_on_the_same_port() -> io::Result<()> {
        let (switch, task, token) = spawned().await?;
        let addr = switch.addr();
        assert!(get_root(addr).await?.ends_with("pong"));
        assert_eq!(switch.stop().await, Ok(()));
        assert!(!switch.is_up());
        let refused = TcpStream::connect(addr).await.map(|_| ()).map_err(|e| e.kind());
        assert_eq!(refused, Err(io::ErrorKind::ConnectionRefused));
        assert_eq!(switch.stop().await, Ok(()), "stopping twice is harmless");
        assert_eq!(switch.start().await, Ok(()));
        assert!(switch.is_up());
        assert_eq!(switch.start().await, Ok(()), "starting twice is harmless");
        assert!(get_root(addr).await?.ends_with("pong"));
        token.cancel();
        assert!(task.await.is_ok_and(|r| r.is_ok()));
        Ok(())
    }

    #[tokio::test]
    async fn start_reports_a_port_taken_meanwhile_and_can_retry() -> io::Result<()> {
        let (switch, task, token) = spawned().await?;
        switch.stop().await.ok();
        let squatter = TcpListener::bind(switch.addr()).await?;
        assert!(matches!(switch.start().await, Err(SwitchError::Rebind { .. })));
        drop(squatter);
        assert_eq!(switch.start().await, Ok(()));
        assert!(get_root(switch.addr()).await?.ends_with("pong"));
        token.cancel();
        assert!(task.await.is_ok_and(|r| r.is_ok()));
        Ok(())
    }

    #[tokio::test]
    async fn dropping_every_switch_leaves_the_listener_serving_until_shutdown() -> io::Result<()> {
        // Regression: a dropped `Switch` closed the channel the stop signal waits on,
        // which read as "stop" and shut the listener down.
        let (switch, task, token) = spawned().await?;
        let addr = switch.addr();
        drop(switch);
        tokio::task::yield_now().await;
        assert!(get_root(addr).await?.ends_with("pong"));
        assert!(!task.is_finished());
        token.cancel();
        assert!(task.await.is_ok_and(|r| r.is_ok()));
        Ok(())
    }

    #[tokio::test]
    async fn shutdown_while_stopped_ends_the_task() -> io::Result<()> {
        let (switch, task, token) = spawned().await?;
        switch.stop().await.ok();
        token.cancel();
        assert!(task.await.is_ok_and(|r| r.is_ok()));
        assert_eq!(switch.start().await, Err(SwitchError::ShutDown { addr: switch.addr() }));
        Ok(())
    }
}

/// Names one listener of a service that has several (PXL's components, MorphSave's app
/// and RPC nodes), so fault hooks address listeners by name rather than by number.
pub trait ListenerKey: Copy {
    /// The listener's position in the service's switchboard.
    fn index(self) -> usize;
}

/// A service's listeners, stopped and restarted by key: the fault hooks drills use.
#[derive(Debug)]
pub struct Switchboard<K> {
    switches: Arc<[Switch]>,
    key: std::marker::PhantomData<fn(K)>,
}

impl<K> Clone for Switchboard<K> {
    fn clone(&self) -> Self {
        Self { switches: Arc::clone(&self.switches), key: std::marker::PhantomData }
    }
}

impl<K: ListenerKey> Switchboard<K> {
    /// A switchboard over `switches`, which must hold exactly `count` listeners in key order.
    pub fn new(switches: Vec<Switch>, count: usize) -> Option<Self> {
        (switches.len() == count).then(|| Self { switches: switches.into(), key: std::marker::PhantomData })
    }

    /// Stops a listener; returns once its port refuses connections.
    pub async fn take_down(&self, k: K) -> Result<(), SwitchError> {
        self.switches[k.index()].stop().await
    }

    /// Restarts a listener on the same port; returns once it accepts connections.
    pub async fn bring_up(&self, k: K) -> Result<(), SwitchError> {
        self.switches[k.index()].start().await
    }

    /// Whether a listener is serving.
    pub fn is_up(&self, k: K) -> bool {
        self.switches[k.index()].is_up()
    }

    /// Where a listener listens.
    pub fn addr(&self, k: K) -> SocketAddr {
        self.switches[k.index()].addr()
    }
}
