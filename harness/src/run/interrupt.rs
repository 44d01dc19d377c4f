//! Ctrl-C and SIGTERM, in one place for every command: the first one interrupts the run
//! (the load stops, drills roll back at once, partial results are written, exit 3).
//!
//! CI runners, `timeout` and Kubernetes send SIGTERM, people press Ctrl-C: both mean the
//! same. [`install`] starts one listener per process (the CLI calls it); library code asks
//! [`is_interrupted`] or awaits [`interrupted`]. Without [`install`] (in-process tests,
//! embedding) nothing is ever interrupted.
//!
//! goose takes SIGINT over when an attack starts (its `ctrlc` handler replaces the signal
//! disposition), so a Ctrl-C during the load reaches goose only: its killswitch is how it
//! is seen here, polled every [`KILLSWITCH_POLL`]. SIGTERM stays ours. goose clears its
//! killswitch when an attack starts, so [`until_done_or_interrupted`] pulls it again
//! until the load has stopped. A second Ctrl-C during the load makes goose exit the
//! process at once (its own behaviour); supervised children die with it (see
//! [`crate::chaos::supervisor`]).

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// How often the listener looks at goose's killswitch (Ctrl-C during the load).
pub const KILLSWITCH_POLL: Duration = Duration::from_millis(20);

struct State {
    token: CancellationToken,
    why: OnceLock<&'static str>,
}

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| State { token: CancellationToken::new(), why: OnceLock::new() })
}

/// Starts listening for SIGINT and SIGTERM (once; later calls do nothing). Must be called
/// inside a tokio runtime. From then on neither signal ends the process by itself.
pub fn install() -> std::io::Result<()> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let _ = INSTALLED.set(());
    tokio::spawn(async move {
        let mut poll = tokio::time::interval(KILLSWITCH_POLL);
        let why = loop {
            tokio::select! {
                _ = term.recv() => break "SIGTERM",
                _ = int.recv() => break "SIGINT",
                _ = poll.tick() => if goose::is_killswitch_triggered() { break "SIGINT" },
            }
        };
        interrupt(why);
        // Later signals are received and ignored: the run is already stopping.
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
    });
    Ok(())
}

/// Interrupts the run as a signal `why` would (`SIGTERM`, `SIGINT`).
pub fn interrupt(why: &'static str) {
    let s = state();
    let _ = s.why.set(why);
    s.token.cancel();
    goose::trigger_killswitch(&format!("{why} received"));
}

/// Whether the run has been interrupted.
pub fn is_interrupted() -> bool {
    state().token.is_cancelled()
}

/// Which signal interrupted the run, if one did.
pub fn reason() -> Option<&'static str> {
    state().why.get().copied()
}

/// Resolves once the run is interrupted.
pub async fn interrupted() {
    state().token.cancelled().await;
}

/// Awaits `load`; once interrupted, keeps goose's killswitch pulled until it returns.
pub async fn until_done_or_interrupted<F: Future>(load: F) -> F::Output {
    tokio::pin!(load);
    tokio::select! {
        out = &mut load => return out,
        () = interrupted() => {}
    }
    loop {
        goose::trigger_killswitch(&format!("{} received", reason().unwrap_or("signal")));
        tokio::select! {
            out = &mut load => return out,
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

/// The reason a results file gives for an interrupted run.
pub fn partial_reason() -> String {
    format!("run interrupted ({}); results are partial", reason().unwrap_or("signal"))
}
