//! An outage is not a saturated generator: a target that accepts TCP connections and
//! never answers, under a 50/s open model, fails the run (exit 1) with its timeouts
//! counted and the target named as not answering, never `generator saturated` (exit 3).
//!
//! Oracle: the listener below, which accepts and never writes a byte, so every request
//! must end in a timeout, and none may be answered.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::run_scenario;
use crate::common::heavy;

/// A loopback listener that accepts connections and never answers them. Bounded: it
/// holds at most `MAX_HELD` connections, accepts for at most `LIFETIME`, and closes them
/// all when dropped.
struct Blackhole {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<usize>>,
}

const MAX_HELD: usize = 4_000;
const LIFETIME: Duration = Duration::from_secs(60);

impl Blackhole {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            let mut accepted = 0;
            let end = Instant::now() + LIFETIME;
            while !flag.load(Ordering::SeqCst) && Instant::now() < end {
                match listener.accept() {
                    Ok((conn, _)) if held.len() < MAX_HELD => {
                        accepted += 1;
                        held.push(conn);
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            accepted
        });
        Self { port, stop, thread: Some(thread) }
    }

    /// Stops accepting, closes every connection, and says how many it accepted.
    fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().map_or(0, |t| t.join().unwrap())
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_blackholed_target_under_an_open_model_fails_with_timeouts_not_a_saturated_generator() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let hole = Blackhole::start();
    let scenario = r#"
name = "outage"
seed = 17
time_scale = 1.0

[load]
rate = "50/s"
duration = "10s"
request_timeout = "2s"

[[load.request]]
name = "health"
target = "midnight"
method = "GET"
path = "/health"

[[slo]]
name = "health latency"
request = "health"
objective = "p95 < 500ms"

[[slo]]
name = "health errors"
request = "health"
objective = "error_ratio < 1%"
"#;
    let target = format!("midnight=http://127.0.0.1:{}", hole.port);
    let started = Instant::now();
    let (code, out, r) = run_scenario(dir.path(), "outage", scenario, &["--target", target.as_str()]);
    let took = started.elapsed();
    let accepted = hole.finish();
    assert_eq!(code, Some(1), "{out}");
    assert!(took < Duration::from_secs(30), "the run took {took:?}");
    assert!(accepted > 0, "the blackhole accepted no connection: {out}");
    assert!(!out.contains("generator saturated"), "{out}");
    assert!(out.contains("target stopped answering") && out.contains("midnight timed out"), "{out}");
    assert_eq!(r["verdict"], "fail", "{r}");
    // Every request of the schedule (about 500 at 50/s over 10 s) timed out: none was
    // answered, and each counts in the errors.
    let req = &r["requests"][0];
    let timeouts = req["errors"]["timeout"].as_u64().unwrap_or(0);
    assert!((400..=600).contains(&timeouts), "{timeouts} timeouts: {req}");
    let reasons = r["reasons"].to_string();
    assert!(reasons.contains("target stopped answering"), "{reasons}");
    assert!(!reasons.contains("generator saturated"), "{reasons}");
    // The generator kept to its schedule: every user it needed was free.
    let g = &r["generator"];
    assert_eq!(g["saturated"], false, "{g}");
    assert_eq!(g["users"], 140, "{g}");
    let late_ratio = g["late_ratio"].as_f64().unwrap();
    assert!(late_ratio <= 0.01, "late ratio {late_ratio}: {g}");
    // The SLOs fail on the timeouts themselves.
    let slos = r["slos"].to_string();
    assert!(slos.contains("health latency") && slos.contains("health errors"), "{slos}");
}
