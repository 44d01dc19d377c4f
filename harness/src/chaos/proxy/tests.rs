//! The proxy against real loopback sockets: an echo upstream and a bulk sender.
//! Oracles: the bytes sent (echoed back unchanged), the clock (added delay, transfer
//! time >= N / rate), the OS's own error kinds (timeout, ECONNRESET) and a binomial
//! bound on the drop count.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use super::*;

async fn echo_server(cancel: CancellationToken) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = (tokio::select! { () = cancel.cancelled() => return, a = l.accept() => a }) else {
                continue;
            };
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

async fn bulk_server(n: usize, cancel: CancellationToken) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = (tokio::select! { () = cancel.cancelled() => return, a = l.accept() => a }) else {
                continue;
            };
            tokio::spawn(async move {
                let _ = s.write_all(&vec![7u8; n]).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

async fn round_trip(s: &mut TcpStream, msg: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
    s.write_all(msg).await?;
    let mut got = vec![0u8; msg.len()];
    tokio::time::timeout(timeout, s.read_exact(&mut got))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "timed out"))??;
    Ok(got)
}

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn passes_blackholes_resets_and_passes_again() {
    let cancel = CancellationToken::new();
    let up = echo_server(cancel.clone()).await;
    let proxy = FaultProxy::start_seeded(up, cancel.child_token(), 1).await.unwrap();
    let payload: Vec<u8> = (0..65_536u32).map(|i| (i % 251) as u8).collect();
    let mut held = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut held, &payload, T).await.unwrap(), payload, "clean forwarding");
    let s = proxy.stats();
    assert_eq!((s.bytes_upstream, s.bytes_downstream), (65_536, 65_536));

    // Blackhole: a new connection and the held one both hang past a bounded timeout.
    proxy.add(Toxic::new("bh", ToxicKind::Blackhole)).unwrap();
    let mut fresh = TcpStream::connect(proxy.addr()).await.unwrap();
    let short = Duration::from_millis(300);
    assert_eq!(round_trip(&mut fresh, b"ping", short).await.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert_eq!(round_trip(&mut held, b"held", short).await.unwrap_err().kind(), io::ErrorKind::TimedOut);
    // Removing it delivers what was held, on both connections.
    assert!(proxy.remove("bh"));
    let mut got = [0u8; 4];
    tokio::time::timeout(T, fresh.read_exact(&mut got)).await.unwrap().unwrap();
    assert_eq!(&got, b"ping");
    tokio::time::timeout(T, held.read_exact(&mut got)).await.unwrap().unwrap();
    assert_eq!(&got, b"held");

    // Reset: the held connection and new ones get ECONNRESET.
    proxy.add(Toxic::new("rst", ToxicKind::Reset)).unwrap();
    let mut buf = [0u8; 8];
    let e = tokio::time::timeout(T, held.read(&mut buf)).await.unwrap().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    let mut new = TcpStream::connect(proxy.addr()).await.unwrap();
    let e = tokio::time::timeout(T, new.read(&mut buf)).await.unwrap().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    assert!(proxy.stats().reset >= 1 && proxy.stats().dropped >= 1);

    proxy.clear();
    assert!(proxy.toxics().is_empty());
    let mut again = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut again, &payload, T).await.unwrap(), payload, "clean again after removal");
    cancel.cancel();
}

#[tokio::test]
async fn latency_adds_at_least_the_toxic_delay() {
    let cancel = CancellationToken::new();
    let up = echo_server(cancel.clone()).await;
    let proxy = FaultProxy::start_seeded(up, cancel.child_token(), 2).await.unwrap();
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    let t0 = Instant::now();
    round_trip(&mut s, b"x", T).await.unwrap();
    let base = t0.elapsed();
    let latency = Duration::from_millis(150);
    proxy.add(Toxic::new("lat", ToxicKind::Latency { latency, jitter: Duration::ZERO, per: Per::Chunk })).unwrap();
    for _ in 0..3 {
        let t0 = Instant::now();
        round_trip(&mut s, b"y", T).await.unwrap();
        let took = t0.elapsed();
        assert!(took >= latency, "{took:?} < {latency:?}");
        assert!(took < latency + base + Duration::from_secs(2), "{took:?} unbounded");
    }
    // Per connection: only the first answer of a new connection is delayed.
    proxy.clear();
    proxy.add(Toxic::new("lat", ToxicKind::Latency { latency, jitter: Duration::ZERO, per: Per::Connection })).unwrap();
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    let t0 = Instant::now();
    round_trip(&mut c, b"a", T).await.unwrap();
    assert!(t0.elapsed() >= latency);
    proxy.clear();
    let t0 = Instant::now();
    round_trip(&mut s, b"z", T).await.unwrap();
    assert!(t0.elapsed() < latency, "clean after removal");
    cancel.cancel();
}

#[tokio::test]
async fn bandwidth_caps_the_transfer_rate() {
    let cancel = CancellationToken::new();
    let n = 60_000usize;
    let up = bulk_server(n, cancel.clone()).await;
    let proxy = FaultProxy::start_seeded(up, cancel.child_token(), 3).await.unwrap();
    let rate = 100_000u64;
    proxy.add(Toxic::new("bw", ToxicKind::Bandwidth { rate_bytes_per_s: rate })).unwrap();
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    let t0 = Instant::now();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await.unwrap().unwrap();
    let took = t0.elapsed();
    assert_eq!(got.len(), n);
    let floor = Duration::from_secs_f64(n as f64 / rate as f64);
    assert!(took >= floor, "{took:?} < N/rate = {floor:?}");
    assert!(took < floor + Duration::from_secs(3), "{took:?}");
    cancel.cancel();
}

#[tokio::test]
async fn drop_refuses_a_binomial_fraction_of_new_connections() {
    let cancel = CancellationToken::new();
    let up = echo_server(cancel.clone()).await;
    let proxy = FaultProxy::start_seeded(up, cancel.child_token(), 4).await.unwrap();
    let p = 0.3;
    proxy.add(Toxic::new("drop", ToxicKind::Drop).with_toxicity(p)).unwrap();
    let n = 200u32;
    let mut refused = 0u32;
    for _ in 0..n {
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        if round_trip(&mut s, b"hello", T).await.is_err() {
            refused += 1;
        }
    }
    // Binomial(200, 0.3): mean 60, sd 6.5; 4 sd either side.
    let (mean, sd) = (f64::from(n) * p, (f64::from(n) * p * (1.0 - p)).sqrt());
    assert!((f64::from(refused) - mean).abs() <= 4.0 * sd, "{refused} refused of {n}");
    assert_eq!(proxy.stats().dropped, u64::from(refused), "the proxy counted what the clients saw");
    proxy.clear();
    for _ in 0..20 {
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        round_trip(&mut s, b"hello", T).await.unwrap();
    }
    cancel.cancel();
}

#[tokio::test]
async fn stops_with_its_token_and_rejects_bad_toxics() {
    let cancel = CancellationToken::new();
    let up = echo_server(cancel.clone()).await;
    let proxy = FaultProxy::start_seeded(up, cancel.child_token(), 5).await.unwrap();
    assert!(proxy.add(Toxic::new("x", ToxicKind::Drop).with_toxicity(1.5)).is_err());
    assert!(proxy.add(Toxic::new("x", ToxicKind::Bandwidth { rate_bytes_per_s: 0 })).is_err());
    proxy.add(Toxic::new("x", ToxicKind::Blackhole)).unwrap();
    assert_eq!(proxy.add(Toxic::new("x", ToxicKind::Reset)), Err(ProxyError::Duplicate("x".into())));
    let mut held = TcpStream::connect(proxy.addr()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    proxy.stop();
    let mut buf = [0u8; 1];
    // The held connection is closed and the port stops accepting.
    let r = tokio::time::timeout(T, held.read(&mut buf)).await.unwrap();
    assert!(matches!(r, Ok(0) | Err(_)));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(TcpStream::connect(proxy.addr()).await.is_err());
    cancel.cancel();
}
