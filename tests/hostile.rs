//! Hostile targets (issue 23): the real `gameday` binary against small loopback servers
//! of this module that misbehave on purpose.
//!
//! - A redirect to `http://10.0.0.1:18080/...` is never followed, by the load, the
//!   metric scrapes or the probes; a 3xx is counted as the outcome `redirect`, and
//!   `load.follow_redirects` follows a loopback redirect but not a remote one. This test
//!   runs inside its own network namespace with only `lo` (the test binary re-executes
//!   itself under `unshare -n`), where 10.0.0.1 is an address on `lo` with a listener
//!   that counts the connections that reach it: the oracle is zero. Without `unshare` (or
//!   the rights it needs) or `ip`, it skips with a notice, and fails under `CI=true`.
//! - A never-ending chunked body ends each request at `load.max_response_bytes` as the
//!   outcome `body_too_large`; the run ends on time and gameday's peak RSS (`VmHWM` of
//!   the child process) stays bounded.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{gameday, write};

/// Where the redirects point: off loopback, an address only the test's namespace has.
const REMOTE: &str = "10.0.0.1:18080";
/// Set in the re-executed test binary, inside the namespace.
const IN_NETNS: &str = "GAMEDAY_TEST_IN_NETNS";

/// What a hostile server saw: connections accepted and requests per path.
#[derive(Default)]
struct Seen {
    connections: AtomicU64,
    paths: Mutex<BTreeMap<String, u64>>,
}

impl Seen {
    fn hits(&self, path: &str) -> u64 {
        self.paths.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// A server on `addr` that answers every request with `answer(path, own_port)`,
/// keeping connections open; runs until the runtime ends.
async fn serve(addr: &str, answer: fn(&str, u16) -> Answer) -> (u16, Arc<Seen>) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let s = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            s.connections.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(connection(stream, Arc::clone(&s), answer, port));
        }
    });
    (port, seen)
}

enum Answer {
    Redirect(String),
    Ok,
    Endless,
}

async fn connection(mut stream: TcpStream, seen: Arc<Seen>, answer: fn(&str, u16) -> Answer, port: u16) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end + 4);
        let path = head.split_whitespace().nth(1).unwrap_or("/").split('?').next().unwrap_or("/").to_owned();
        *seen.paths.lock().unwrap().entry(path.clone()).or_default() += 1;
        let written = match answer(&path, port) {
            Answer::Redirect(to) => {
                let r = format!("HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\n\r\n");
                stream.write_all(r.as_bytes()).await
            }
            Answer::Ok => stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await,
            Answer::Endless => return endless(stream).await,
        };
        if written.is_err() {
            return;
        }
    }
}

/// A 200 with a chunked body that never ends, until the client hangs up.
async fn endless(mut stream: TcpStream) {
    let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
    if stream.write_all(head).await.is_err() {
        return;
    }
    let mut chunk = format!("{:x}\r\n", 64 * 1024).into_bytes();
    chunk.extend(std::iter::repeat_n(b'x', 64 * 1024));
    chunk.extend_from_slice(b"\r\n");
    while stream.write_all(&chunk).await.is_ok() {}
}

/// The redirecting target: `/to-loopback` goes to its own `/landed` (200), `/landed`
/// answers, everything else (load, `/metrics`, probes) is sent to [`REMOTE`].
fn redirecting(path: &str, port: u16) -> Answer {
    match path {
        "/to-loopback" => Answer::Redirect(format!("http://127.0.0.1:{port}/landed")),
        "/landed" => Answer::Ok,
        _ => Answer::Redirect(format!("http://{REMOTE}/stolen{path}")),
    }
}

fn results(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap()
}

fn request<'a>(results: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    results["requests"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap()
}

#[test]
fn redirects_never_leave_loopback_from_the_load_the_scrapes_or_the_probes() {
    let _heavy = crate::common::heavy();
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let flags: &[&str] = if root { &["-n"] } else { &["-r", "-n"] };
    let works = Command::new("unshare").args(flags).args(["ip", "link", "set", "lo", "up"]).output();
    if !works.is_ok_and(|o| o.status.success()) {
        crate::common::skip("`unshare -n` with `ip` cannot make a network namespace here (needs util-linux, iproute2 and root or user namespaces)");
        return;
    }
    let me = std::env::current_exe().unwrap();
    let o = Command::new("unshare")
        .args(flags)
        .arg(me)
        .args(["--exact", "hostile::in_netns_redirects", "--ignored", "--nocapture", "--test-threads=1"])
        .env(IN_NETNS, "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = crate::common::text(&o);
    assert!(o.status.success(), "the test inside the namespace failed:\n{out}");
    assert!(out.contains("1 passed"), "the inner test did not run:\n{out}");
}

/// The body of [`redirects_never_leave_loopback_from_the_load_the_scrapes_or_the_probes`],
/// run only inside its namespace.
#[test]
#[ignore = "runs inside a network namespace, started by the test above"]
fn in_netns_redirects() {
    if std::env::var(IN_NETNS).is_err() {
        return;
    }
    for args in [["link", "set", "lo", "up"].as_slice(), &["addr", "add", "10.0.0.1/32", "dev", "lo"]] {
        let st = Command::new("ip").args(args).status().unwrap();
        assert!(st.success(), "ip {args:?}");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (_, remote) = serve(REMOTE, |_, _| Answer::Ok).await;
        let (port, target) = serve("127.0.0.1:0", redirecting).await;
        let dir = tempfile::tempdir().unwrap();
        // No redirect followed (the default): every 3xx is the outcome `redirect`.
        let r = run_redirects(dir.path(), port, "", "none").await;
        assert_eq!(target.hits("/landed"), 0, "followed a redirect with follow_redirects = 0");
        for name in ["to_remote", "to_loopback"] {
            let req = request(&r, name);
            assert!(req["count"].as_u64().unwrap() > 0, "{req}");
            assert_eq!(req["errors"]["redirect"], req["count"], "{req}");
            assert_eq!(req["ok"], 0, "{req}");
        }
        assert!(target.hits("/metrics") > 0, "the scrapes asked for /metrics");
        assert!(target.hits("/probed") > 0, "the probe ran");
        // follow_redirects = 2: the loopback redirect is followed, the remote one is not.
        let r = run_redirects(dir.path(), port, "follow_redirects = 2", "two").await;
        let (home, away) = (request(&r, "to_loopback"), request(&r, "to_remote"));
        assert_eq!(home["ok"], home["count"], "{home}");
        assert!(target.hits("/landed") > 0);
        assert_eq!(away["errors"]["redirect"], away["count"], "{away}");
        assert_eq!(remote.connections.load(Ordering::Relaxed), 0, "connections reached {REMOTE}");
    });
}

/// One 3 s run against the redirecting target with `extra` in `[load]`.
async fn run_redirects(dir: &Path, port: u16, extra: &str, tag: &str) -> serde_json::Value {
    let scenario = format!(
        r#"name = "redirects"
[load]
rate = "40/s"
duration = "3s"
request_timeout = "2s"
{extra}
[[load.request]]
name = "to_remote"
target = "midnight"
path = "/to-remote"
[[load.request]]
name = "to_loopback"
target = "midnight"
path = "/to-loopback"

[[probe]]
name = "probed"
target = "midnight"
path = "/probed"
interval = "500ms"
"#
    );
    let file = write(dir, &format!("{tag}.toml"), &scenario);
    let out = dir.join(tag);
    let target = format!("midnight=http://127.0.0.1:{port}");
    let o = tokio::process::Command::new(env!("CARGO_BIN_EXE_gameday"))
        .args(["run", file.to_str().unwrap(), "--target", &target, "--out", out.to_str().unwrap(), "--quiet"])
        .stdin(Stdio::null())
        .output();
    let o = tokio::time::timeout(Duration::from_secs(60), o).await.unwrap().unwrap();
    let log = crate::common::text(&o);
    // Exit 3 when no request succeeded (every one a redirect): the run is invalid, and
    // its results are written.
    assert!(matches!(o.status.code(), Some(0 | 1 | 3)), "{tag}: {log}");
    results(&out)
}

/// A never-ending body: every request ends at the cap as `body_too_large`, the run ends
/// on time and gameday's memory stays bounded (it grew to 690 MB in 15 s before).
#[test]
fn a_never_ending_body_stops_at_the_cap_and_memory_stays_bounded() {
    let _heavy = crate::common::heavy();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (port, seen) = rt.block_on(serve("127.0.0.1:0", |_, _| Answer::Endless));
    let dir = tempfile::tempdir().unwrap();
    let scenario = r#"name = "endless"
[load]
rate = "20/s"
duration = "5s"
request_timeout = "10s"
max_response_bytes = "1 MiB"
[[load.request]]
name = "endless"
target = "midnight"
path = "/endless"
[targets.midnight]
scrape = false
"#;
    let file = write(dir.path(), "endless.toml", scenario);
    let out = dir.path().join("out");
    let started = Instant::now();
    let mut child = gameday()
        .args(["run", file.to_str().unwrap(), "--target", &format!("midnight=http://127.0.0.1:{port}")])
        .args(["--out", out.to_str().unwrap(), "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the run did not end");
        if let Some(kb) = std::fs::read_to_string(&status_file).ok().as_deref().and_then(vm_hwm_kb) {
            peak_kb = peak_kb.max(kb);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let took = started.elapsed();
    drop(rt);
    // Exit 3: no request succeeded, so the run is invalid; its results are written.
    assert_eq!(status.code(), Some(3), "{status:?}");
    let r = results(&out);
    let req = request(&r, "endless");
    let count = req["count"].as_u64().unwrap();
    assert!(count >= 50, "{req}");
    assert_eq!(req["errors"]["body_too_large"], count, "{req}");
    assert!(seen.hits("/endless") >= count);
    // 5 s of load plus start-up and reports; before, a request read until its timeout.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    eprintln!("never-ending body: {count} requests, run took {took:?}, gameday peak RSS {} MB", peak_kb / 1024);
    assert!(peak_kb > 0, "no VmHWM read from {status_file}");
    assert!(peak_kb < 200 * 1024, "peak RSS {} MB", peak_kb / 1024);
}

/// `VmHWM` (peak resident set) from a `/proc/<pid>/status` text, in kB.
fn vm_hwm_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn follow_redirects_and_max_response_bytes_out_of_range_exit_2_with_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let base = "name = \"v\"\n[load]\nrate = \"1/s\"\nduration = \"1s\"\n";
    let tail = "[[load.request]]\nname = \"h\"\ntarget = \"midnight\"\npath = \"/health\"\n";
    let cases = [
        ("follow_redirects = 11", "load.follow_redirects", "0..=10"),
        ("follow_redirects = -1", "load.follow_redirects", "0..=10"),
        ("max_response_bytes = 0", "load.max_response_bytes", "outside"),
        ("max_response_bytes = \"2 GiB\"", "load.max_response_bytes", "outside"),
        ("max_response_bytes = \"ten megs\"", "load.max_response_bytes", "not a size"),
    ];
    for (line, field, says) in cases {
        let file = write(dir.path(), "v.toml", &format!("{base}{line}\n{tail}"));
        let o = crate::common::run(&["validate", file.to_str().unwrap()]);
        let msg = crate::common::text(&o);
        assert_eq!(o.status.code(), Some(2), "{line}: {msg}");
        assert!(msg.contains("v.toml:5:") && msg.contains(field) && msg.contains(says), "{line}: {msg}");
    }
    let ok =
        write(dir.path(), "ok.toml", &format!("{base}follow_redirects = 10\nmax_response_bytes = \"512 KiB\"\n{tail}"));
    let o = crate::common::run(&["validate", ok.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", crate::common::text(&o));
}
