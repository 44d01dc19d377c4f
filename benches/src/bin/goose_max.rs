//! Plain goose, closed loop, as fast as it goes: the baseline `ci/bench-compare.sh`
//! compares gameday's open-model generator with. `USERS` goose users each send `GET URL`,
//! wait for the answer and repeat (no think time), for `SECONDS`.
//!
//! Usage: `goose_max URL USERS SECONDS`. Prints one line,
//! `requests=N seconds=S rate=R errors=E`, counting only the answered requests between
//! the end of the first second (users launched) and the end of the run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goose::config::GooseConfiguration;
use goose::prelude::*;

static OK: AtomicU64 = AtomicU64::new(0);
static ERRORS: AtomicU64 = AtomicU64::new(0);

fn usage() -> String {
    "usage: goose_max URL USERS SECONDS".to_owned()
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, users, seconds] = args.as_slice() else { return Err(usage()) };
    let users: usize = users.parse().map_err(|_| usage())?;
    let seconds: u64 = seconds.parse().map_err(|_| usage())?;
    let parsed = url::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
    let path = parsed.path().to_owned();
    let host = format!("{}://{}", parsed.scheme(), parsed.host_str().unwrap_or("127.0.0.1"));
    let host = parsed.port().map_or(host.clone(), |p| format!("{host}:{p}"));

    let mut c = GooseConfiguration::default();
    c.host = Some(host);
    c.users = Some(users);
    c.increase_rate = Some("1000000".into());
    c.run_time = Some((seconds + 1).to_string());
    c.no_metrics = true;
    c.no_print_metrics = true;
    c.no_error_summary = true;
    c.no_telnet = true;
    c.no_websocket = true;
    c.quiet = 1;
    let send = Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let path = path.clone();
        Box::pin(async move {
            let ok = user.get(&path).await.ok().and_then(|g| g.response.ok()).is_some_and(|r| r.status().is_success());
            let counter = if ok { &OK } else { &ERRORS };
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
    }));
    let attack = GooseAttack::initialize_with_config(c).map_err(|e| e.to_string())?;
    let attack = attack.register_scenario(scenario!("max").register_transaction(send));

    let window = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (t0, n0, e0) = (Instant::now(), OK.load(Ordering::Relaxed), ERRORS.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_secs(seconds.saturating_sub(1).max(1))).await;
        let (n1, e1) = (OK.load(Ordering::Relaxed), ERRORS.load(Ordering::Relaxed));
        (n1 - n0, e1 - e0, t0.elapsed().as_secs_f64())
    });
    tokio::time::timeout(Duration::from_secs(seconds + 30), attack.execute())
        .await
        .map_err(|_| "goose did not stop".to_owned())?
        .map_err(|e| e.to_string())?;
    let (n, e, s) = window.await.map_err(|e| e.to_string())?;
    println!("requests={n} seconds={s:.3} rate={:.0} errors={e}", n as f64 / s);
    Ok(())
}
