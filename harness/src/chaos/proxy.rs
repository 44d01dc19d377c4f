//! An in-process, Toxiproxy-like TCP fault proxy.
//!
//! A [`FaultProxy`] listens on a loopback port and forwards every connection to one
//! upstream address. Toxics (toxiproxy's model: a small data struct, [`Toxic`], plus one
//! behaviour, with a `toxicity`: the probability that it applies to a given connection)
//! are added and removed while traffic flows:
//! - [`ToxicKind::Blackhole`]: bytes are accepted and read but never forwarded or
//!   answered, on new and existing connections (what an iptables `DROP` looks like to
//!   the application: connections hang until the caller's timeout). Data held while
//!   blackholed is delivered once the toxic is removed, as TCP retransmission would;
//! - [`ToxicKind::Reset`]: new connections and every existing one are closed with a RST
//!   (`SO_LINGER` 0);
//! - [`ToxicKind::Latency`]: each chunk (or only the first chunk of a connection) is
//!   delayed by `latency` ± a uniform `jitter`;
//! - [`ToxicKind::Bandwidth`]: bytes are paced to at most `rate_bytes_per_s`;
//! - [`ToxicKind::Drop`]: a new connection is reset at once (its `toxicity` is the
//!   fraction of connections refused).
//!
//! Each connection rolls the dice once per toxic (seeded RNG), so a toxic at toxicity
//! 0.3 affects about 30% of connections, each of them wholly. Removing the toxics
//! restores clean forwarding for new connections and held ones alike. The proxy stops,
//! closing every connection, when its [`CancellationToken`] is cancelled or the
//! [`FaultProxy`] is dropped. Counters: [`ProxyStats`].

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Which direction of a connection a toxic acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Client to upstream (requests).
    Upstream,
    /// Upstream to client (answers).
    Downstream,
    /// Both directions.
    Both,
}

impl Stream {
    fn covers(self, dir: Stream) -> bool {
        self == Stream::Both || self == dir
    }
}

/// Whether latency applies to every chunk or once per connection (its first chunk).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Per {
    /// Every chunk read is delayed.
    #[default]
    Chunk,
    /// Only the first chunk in each direction is delayed.
    Connection,
}

/// What a toxic does.
#[derive(Clone, Debug, PartialEq)]
pub enum ToxicKind {
    /// Accept and read, never forward or answer (connections hang).
    Blackhole,
    /// Close new and existing connections with a RST.
    Reset,
    /// Delay data by `latency` ± `jitter` (uniform).
    Latency {
        /// The added delay.
        latency: Duration,
        /// The spread around it (the delay never goes below zero).
        jitter: Duration,
        /// Per chunk or per connection.
        per: Per,
    },
    /// Cap the throughput at `rate_bytes_per_s`.
    Bandwidth {
        /// Bytes per second (at least 1).
        rate_bytes_per_s: u64,
    },
    /// Reset new connections (the toxicity is the fraction refused).
    Drop,
}

/// One toxic: a name (unique per proxy), a behaviour, a direction and a probability.
#[derive(Clone, Debug, PartialEq)]
pub struct Toxic {
    /// Unique name on its proxy (used to remove it).
    pub name: String,
    /// The behaviour.
    pub kind: ToxicKind,
    /// The direction(s) it acts on.
    pub stream: Stream,
    /// Probability in [0, 1] that it applies to a given connection.
    pub toxicity: f64,
}

impl Toxic {
    /// A toxic applying to every connection: latency and bandwidth on answers
    /// (downstream, toxiproxy's default), the others on both directions.
    pub fn new(name: impl Into<String>, kind: ToxicKind) -> Self {
        let stream = match kind {
            ToxicKind::Latency { .. } | ToxicKind::Bandwidth { .. } => Stream::Downstream,
            _ => Stream::Both,
        };
        Self { name: name.into(), kind, stream, toxicity: 1.0 }
    }

    /// The same toxic applying to a fraction `p` of connections.
    pub fn with_toxicity(mut self, p: f64) -> Self {
        self.toxicity = p;
        self
    }

    /// The same toxic on `stream`.
    pub fn on(mut self, stream: Stream) -> Self {
        self.stream = stream;
        self
    }

    /// One line for reports.
    pub fn describe(&self) -> String {
        let what = match &self.kind {
            ToxicKind::Blackhole => "blackhole".to_owned(),
            ToxicKind::Reset => "reset".to_owned(),
            ToxicKind::Latency { latency, jitter, per } => format!("latency {latency:?} ± {jitter:?} per {per:?}"),
            ToxicKind::Bandwidth { rate_bytes_per_s } => format!("bandwidth {rate_bytes_per_s} B/s"),
            ToxicKind::Drop => "drop new connections".to_owned(),
        };
        format!("{} ({what}, {:?}, toxicity {})", self.name, self.stream, self.toxicity)
    }
}

/// Why a toxic could not be added.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyError {
    /// A toxic of that name is already installed.
    #[error("toxic `{0}` already exists")]
    Duplicate(String),
    /// A parameter is out of range.
    #[error("toxic `{name}`: {why}")]
    Invalid {
        /// The toxic.
        name: String,
        /// What is wrong.
        why: String,
    },
}

#[derive(Clone, Debug)]
struct Active {
    id: u64,
    toxic: Toxic,
}

type Toxics = Arc<Vec<Active>>;

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    active: AtomicU64,
    bytes_upstream: AtomicU64,
    bytes_downstream: AtomicU64,
    dropped: AtomicU64,
    reset: AtomicU64,
}

/// A snapshot of a proxy's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections open now.
    pub active: u64,
    /// Bytes forwarded client -> upstream.
    pub bytes_upstream: u64,
    /// Bytes forwarded upstream -> client.
    pub bytes_downstream: u64,
    /// New connections refused (reset at once) by `drop` or `reset` toxics.
    pub dropped: u64,
    /// Established connections reset by a `reset` toxic.
    pub reset: u64,
}

struct Inner {
    upstream: SocketAddr,
    toxics: watch::Sender<Toxics>,
    next_id: AtomicU64,
    rng: Mutex<StdRng>,
    stats: Counters,
}

impl Inner {
    fn roll(&self, p: f64) -> bool {
        if p >= 1.0 {
            return true;
        }
        if p <= 0.0 {
            return false;
        }
        self.rng_lock().random::<f64>() < p
    }

    fn rng_lock(&self) -> std::sync::MutexGuard<'_, StdRng> {
        self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fault proxy (see the module docs). Stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    inner: Arc<Inner>,
    cancel: CancellationToken,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy").field("addr", &self.addr).field("upstream", &self.inner.upstream).finish()
    }
}

impl FaultProxy {
    /// Listens on `127.0.0.1:0` and forwards to `upstream` until `cancel` (or drop).
    pub async fn start(upstream: SocketAddr, cancel: CancellationToken) -> io::Result<Self> {
        Self::start_seeded(upstream, cancel, rand::random()).await
    }

    /// [`FaultProxy::start`] with the toxicity dice seeded.
    pub async fn start_seeded(upstream: SocketAddr, cancel: CancellationToken, seed: u64) -> io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        Ok(Self::serve(listener, upstream, cancel, seed))
    }

    /// Forwards connections accepted on `listener` (already bound) to `upstream`.
    pub fn serve(listener: TcpListener, upstream: SocketAddr, cancel: CancellationToken, seed: u64) -> Self {
        let addr = listener.local_addr().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
        let (tx, _) = watch::channel(Arc::new(Vec::new()));
        let inner = Arc::new(Inner {
            upstream,
            toxics: tx,
            next_id: AtomicU64::new(1),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            stats: Counters::default(),
        });
        tokio::spawn(accept_loop(listener, Arc::clone(&inner), cancel.clone()));
        Self { addr, inner, cancel }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`: the URL to give a client instead of the upstream's.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where it forwards to.
    pub fn upstream(&self) -> SocketAddr {
        self.inner.upstream
    }

    /// Installs `toxic`; it acts on new and existing connections at once.
    pub fn add(&self, toxic: Toxic) -> Result<(), ProxyError> {
        validate(&toxic)?;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut result = Ok(());
        self.inner.toxics.send_if_modified(|list| {
            if list.iter().any(|a| a.toxic.name == toxic.name) {
                result = Err(ProxyError::Duplicate(toxic.name.clone()));
                return false;
            }
            let mut next = list.as_ref().clone();
            next.push(Active { id, toxic: toxic.clone() });
            *list = Arc::new(next);
            true
        });
        result
    }

    /// Removes the toxic called `name`; whether there was one.
    pub fn remove(&self, name: &str) -> bool {
        self.inner.toxics.send_if_modified(|list| {
            if !list.iter().any(|a| a.toxic.name == name) {
                return false;
            }
            *list = Arc::new(list.iter().filter(|a| a.toxic.name != name).cloned().collect());
            true
        })
    }

    /// Removes every toxic: clean forwarding for new and held connections.
    pub fn clear(&self) {
        self.inner.toxics.send_if_modified(|list| {
            let had = !list.is_empty();
            *list = Arc::new(Vec::new());
            had
        });
    }

    /// The installed toxics.
    pub fn toxics(&self) -> Vec<Toxic> {
        self.inner.toxics.borrow().iter().map(|a| a.toxic.clone()).collect()
    }

    /// The counters now.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.inner.stats;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ProxyStats {
            connections: get(&c.connections),
            active: get(&c.active),
            bytes_upstream: get(&c.bytes_upstream),
            bytes_downstream: get(&c.bytes_downstream),
            dropped: get(&c.dropped),
            reset: get(&c.reset),
        }
    }

    /// Stops listening and closes every connection.
    pub fn stop(&self) {
        self.cancel.cancel();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn validate(t: &Toxic) -> Result<(), ProxyError> {
    let bad = |why: &str| Err(ProxyError::Invalid { name: t.name.clone(), why: why.to_owned() });
    if t.name.is_empty() {
        return bad("a toxic needs a name");
    }
    if !(0.0..=1.0).contains(&t.toxicity) {
        return bad("toxicity must be within 0..=1");
    }
    if let ToxicKind::Bandwidth { rate_bytes_per_s: 0 } = t.kind {
        return bad("rate_bytes_per_s must be at least 1");
    }
    Ok(())
}

async fn accept_loop(listener: TcpListener, inner: Arc<Inner>, cancel: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, _)) => {
                inner.stats.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection(Arc::clone(&inner), stream, cancel.clone()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Per-connection dice: each toxic is rolled once, the first time this connection sees it.
struct Dice {
    inner: Arc<Inner>,
    rolled: Mutex<HashMap<u64, bool>>,
}

impl Dice {
    fn applies(&self, a: &Active) -> bool {
        let mut rolled = self.rolled.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *rolled.entry(a.id).or_insert_with(|| self.inner.roll(a.toxic.toxicity))
    }

    fn any(&self, toxics: &[Active], pred: impl Fn(&Toxic) -> bool) -> bool {
        toxics.iter().any(|a| pred(&a.toxic) && self.applies(a))
    }
}

struct ActiveGuard<'a>(&'a AtomicU64);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn rst(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

enum End {
    Closed,
    Reset,
}

async fn connection(inner: Arc<Inner>, client: TcpStream, cancel: CancellationToken) {
    inner.stats.active.fetch_add(1, Ordering::Relaxed);
    let _active = ActiveGuard(&inner.stats.active);
    let dice = Dice { inner: Arc::clone(&inner), rolled: Mutex::new(HashMap::new()) };
    let now = inner.toxics.borrow().clone();
    if dice.any(&now, |t| matches!(t.kind, ToxicKind::Drop | ToxicKind::Reset)) {
        inner.stats.dropped.fetch_add(1, Ordering::Relaxed);
        rst(client);
        return;
    }
    let mut client = client;
    let mut upstream = None;
    let end = tokio::select! {
        () = cancel.cancelled() => End::Closed,
        e = forward(&inner, &dice, &mut client, &mut upstream) => e,
    };
    if let End::Reset = end {
        inner.stats.reset.fetch_add(1, Ordering::Relaxed);
        rst(client);
        if let Some(up) = upstream {
            rst(up);
        }
    }
}

async fn forward(inner: &Inner, dice: &Dice, client: &mut TcpStream, upstream: &mut Option<TcpStream>) -> End {
    let reset = reset_watch(inner.toxics.subscribe(), dice);
    tokio::pin!(reset);
    // A blackholed connection is never even connected upstream (the SYN "vanishes").
    tokio::select! {
        () = &mut reset => return End::Reset,
        () = gate(inner.toxics.subscribe(), dice, Stream::Upstream) => {}
    }
    let connected = tokio::select! {
        () = &mut reset => return End::Reset,
        c = TcpStream::connect(inner.upstream) => c,
    };
    let Ok(up) = connected else {
        return End::Reset;
    };
    let up = upstream.insert(up);
    let _ = up.set_nodelay(true);
    let _ = client.set_nodelay(true);
    let (mut cr, mut cw) = client.split();
    let (mut ur, mut uw) = up.split();
    let both = async {
        tokio::try_join!(
            pump(&mut cr, &mut uw, Stream::Upstream, inner, dice),
            pump(&mut ur, &mut cw, Stream::Downstream, inner, dice),
        )
    };
    tokio::select! {
        () = &mut reset => End::Reset,
        r = both => if r.is_ok() { End::Closed } else { End::Reset },
    }
}

/// Returns once a `reset` toxic applies to this connection.
async fn reset_watch(mut rx: watch::Receiver<Toxics>, dice: &Dice) {
    loop {
        let toxics = rx.borrow_and_update().clone();
        if dice.any(&toxics, |t| t.kind == ToxicKind::Reset) {
            return;
        }
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// Returns once no blackhole holds direction `dir` of this connection.
async fn gate(mut rx: watch::Receiver<Toxics>, dice: &Dice, dir: Stream) {
    loop {
        let toxics = rx.borrow_and_update().clone();
        if !dice.any(&toxics, |t| t.kind == ToxicKind::Blackhole && t.stream.covers(dir)) {
            return;
        }
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// The delay before forwarding a chunk of `n` bytes.
fn delay_for(toxics: &[Active], dice: &Dice, dir: Stream, first: bool, n: usize) -> Duration {
    let mut delay = Duration::ZERO;
    for a in toxics.iter().filter(|a| a.toxic.stream.covers(dir)) {
        match &a.toxic.kind {
            ToxicKind::Latency { latency, jitter, per } if (first || *per == Per::Chunk) && dice.applies(a) => {
                let j = jitter.as_secs_f64();
                let spread = if j > 0.0 { dice.inner.rng_lock().random_range(-j..=j) } else { 0.0 };
                delay += Duration::from_secs_f64((latency.as_secs_f64() + spread).max(0.0));
            }
            ToxicKind::Bandwidth { rate_bytes_per_s } if dice.applies(a) => {
                delay += Duration::from_secs_f64(n as f64 / *rate_bytes_per_s as f64);
            }
            _ => {}
        }
    }
    delay
}

/// The largest chunk to read next (bandwidth paces in twentieths of a second).
fn chunk_cap(toxics: &[Active], dice: &Dice, dir: Stream, buf_len: usize) -> usize {
    toxics
        .iter()
        .filter(|a| a.toxic.stream.covers(dir))
        .filter_map(|a| match a.toxic.kind {
            ToxicKind::Bandwidth { rate_bytes_per_s } if dice.applies(a) => {
                Some(usize::try_from(rate_bytes_per_s / 20).unwrap_or(usize::MAX).clamp(1, buf_len))
            }
            _ => None,
        })
        .min()
        .unwrap_or(buf_len)
}

/// Copies one direction, applying the toxics to every chunk.
async fn pump<R, W>(r: &mut R, w: &mut W, dir: Stream, inner: &Inner, dice: &Dice) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    let mut first = true;
    let counter = match dir {
        Stream::Upstream => &inner.stats.bytes_upstream,
        _ => &inner.stats.bytes_downstream,
    };
    loop {
        let cap = chunk_cap(&inner.toxics.borrow().clone(), dice, dir, buf.len());
        let n = r.read(&mut buf[..cap]).await?;
        if n == 0 {
            let _ = w.shutdown().await;
            return Ok(());
        }
        let toxics = inner.toxics.borrow().clone();
        let delay = delay_for(&toxics, dice, dir, first, n);
        first = false;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        gate(inner.toxics.subscribe(), dice, dir).await;
        w.write_all(&buf[..n]).await?;
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
