//! Issue 23 item 7: the mocks closed no connection, so 200 slowloris connections (a
//! request head sent a byte at a time) and 2000 idle ones stayed open for as long as they
//! were tried. Every mock's listeners now close a connection whose request head is not
//! complete `header_read_timeout` after its first byte, and one with nothing in flight
//! and no traffic for `idle_timeout` (profile `connection`, real time).
//!
//! Each test starts the five mocks on port 0 with short timeouts, speaks raw HTTP/1.1
//! over TCP, and measures when the mock closes the socket. Every loop is bounded.

use std::net::SocketAddr;
use std::time::Duration;

use gameday_mocks::kit::{ConnLimits, HumanDuration, PositiveDuration};
use gameday_mocks::services::{grahmos, midnight, morphsave, pxl, scribe};
use gameday_mocks::ServiceProfile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::common::Mock;

fn limits(header_read_ms: u64, idle_ms: u64) -> ConnLimits {
    let d = |ms| PositiveDuration(HumanDuration(Duration::from_millis(ms)));
    ConnLimits { header_read_timeout: d(header_read_ms), idle_timeout: d(idle_ms) }
}

/// Every service's profile with `conn`, and the path of a cheap GET on its main endpoint.
fn profiles(conn: ConnLimits) -> Vec<(ServiceProfile, &'static str)> {
    vec![
        (ServiceProfile::Midnight(midnight::Profile { connection: conn, ..Default::default() }), "/health"),
        (ServiceProfile::Scribe(scribe::Profile { connection: conn, ..Default::default() }), "/health"),
        (
            ServiceProfile::Grahmos(grahmos::Profile { connection: conn, upstream: false, ..Default::default() }),
            "/api/health",
        ),
        (ServiceProfile::Pxl(pxl::Profile { connection: conn, ..Default::default() }), "/v1/health"),
        (ServiceProfile::Morphsave(morphsave::Profile { connection: conn, ..Default::default() }), "/api/health"),
    ]
}

fn addr(m: &Mock) -> SocketAddr {
    m.service.endpoints[0].addr
}

/// Reads until the peer closes (EOF or reset); the time it took, or `None` past `bound`.
async fn closed_after(s: &mut TcpStream, bound: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(started + bound, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// Sends a request head one byte every 100 ms, never finishing it; the time until the mock
/// closes the connection (`None` if it did not within `bound`).
async fn slowloris(addr: SocketAddr, bound: Duration) -> Option<Duration> {
    let s = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        let head = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".iter().copied().chain(std::iter::repeat(b'a'));
        for byte in head.take(200) {
            if wr.write_all(&[byte]).await.is_err() {
                return;
            }
            // Deliberate: the slow pace is the attack under test.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut buf = [0u8; 1024];
    let closed = loop {
        match tokio::time::timeout_at(started + bound, rd.read(&mut buf)).await {
            Err(_) => break None,
            Ok(Ok(0) | Err(_)) => break Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    };
    writer.abort();
    closed
}

#[tokio::test]
async fn every_mock_closes_a_slowloris_connection_after_the_header_read_timeout() {
    for (profile, _) in profiles(limits(1000, 30_000)) {
        let id = profile.id();
        let m = Mock::start(profile, 1.0).await;
        // Never idle (a byte every 100 ms), so only the header timer can close it.
        let closed = slowloris(addr(&m), Duration::from_secs(6)).await;
        let t = closed.unwrap_or_else(|| panic!("{id}: a slowloris head was still open after 6 s"));
        assert!(t >= Duration::from_millis(900) && t < Duration::from_secs(4), "{id}: closed after {t:?}");
    }
}

#[tokio::test]
async fn every_mock_closes_idle_connections_after_the_idle_timeout_and_keeps_busy_ones() {
    for (profile, path) in profiles(limits(30_000, 1000)) {
        let id = profile.id();
        let m = Mock::start(profile, 1.0).await;
        // Opened and never used.
        let mut never_used = TcpStream::connect(addr(&m)).await.unwrap();
        // Used once, then left idle on keep-alive.
        let mut kept_alive = TcpStream::connect(addr(&m)).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        kept_alive.write_all(request.as_bytes()).await.unwrap();
        let mut buf = [0u8; 512];
        assert!(kept_alive.read(&mut buf).await.unwrap() > 0, "{id}: no answer");
        // Busy: a request every 300 ms for 2 s outlives the 1 s idle timeout.
        let mut busy = TcpStream::connect(addr(&m)).await.unwrap();
        for _ in 0..7 {
            busy.write_all(request.as_bytes()).await.unwrap();
            assert!(busy.read(&mut buf).await.unwrap() > 0, "{id}: the busy connection was closed");
            // Deliberate: a pause shorter than the idle timeout is what keeps it busy.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let bound = Duration::from_secs(6);
        for (name, s) in [("never used", &mut never_used), ("kept alive", &mut kept_alive), ("busy", &mut busy)] {
            let t = closed_after(s, bound).await.unwrap_or_else(|| panic!("{id}: {name} connection open after 6 s"));
            assert!(t < Duration::from_secs(3), "{id}: {name} closed {t:?} after the check began");
        }
    }
}
