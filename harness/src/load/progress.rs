//! The progress line while a run goes: simulated time, rate achieved vs scheduled,
//! errors, the latest interval's p95 and an ETA.
//!
//! Drawn with `indicatif` on stderr, refreshed a few times a second from the
//! collector's [`Live`] snapshot; hidden when stderr is not a terminal (CI logs stay
//! clean) and with `--quiet` (the run does not create it at all).

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::pacing::Pacer;
use super::record::Live;
use crate::clock::Clock;

/// A running progress line.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    task: JoinHandle<()>,
}

impl Progress {
    /// Starts drawing (to stderr, only when it is a terminal) a load that runs `run_time`
    /// (real).
    pub fn start(run_time: Duration, clock: Clock, pacer: Option<Arc<Pacer>>, live: watch::Receiver<Live>) -> Self {
        let total_ms = clock.to_sim(run_time).as_millis() as u64;
        let bar = ProgressBar::with_draw_target(Some(total_ms.max(1)), ProgressDrawTarget::stderr_with_hz(4));
        let style = ProgressStyle::with_template("{bar:24} {msg} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        let task = tokio::spawn(draw(bar.clone(), clock, total_ms, pacer, live));
        Self { bar, task }
    }

    /// Stops drawing and clears the line.
    pub fn finish(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}

async fn draw(bar: ProgressBar, clock: Clock, total_ms: u64, pacer: Option<Arc<Pacer>>, live: watch::Receiver<Live>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let now = Instant::now();
        let sim = clock.to_sim(now.saturating_duration_since(clock.started()));
        bar.set_position((sim.as_millis() as u64).min(total_ms));
        bar.set_message(line(sim, pacer.as_deref(), &live.borrow()));
    }
}

/// The text after the bar.
fn line(sim: Duration, pacer: Option<&Pacer>, live: &Live) -> String {
    let secs = sim.as_secs_f64().max(1e-9);
    let achieved = live.completed as f64 / secs;
    let rate = match pacer {
        Some(p) => format!("{achieved:.1}/{:.1} req/s", p.issued() as f64 / secs),
        None => format!("{achieved:.1} req/s"),
    };
    let p95 = live.recent_p95_s.map_or_else(|| "-".to_owned(), |s| format!("{:.0} ms", s * 1e3));
    format!(
        "t={} {rate} errors {} p95 {p95}",
        humantime::format_duration(Duration::from_secs(sim.as_secs())),
        live.errors
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_reports_rate_errors_and_p95() {
        let live = Live { completed: 200, errors: 3, recent_p95_s: Some(0.123) };
        let l = line(Duration::from_secs(100), None, &live);
        assert_eq!(l, "t=1m 40s 2.0 req/s errors 3 p95 123 ms");
    }
}
