//! Drawing intended send times from arrival schedules: the generator takes the next one
//! under a mutex for every request, at up to ~50k/s, so one draw must cost well under
//! 20 us (in practice tens of nanoseconds).

#![allow(missing_docs)] // the group macros generate undocumented public functions

use std::hint::black_box;
use std::sync::Mutex;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gameday::load::arrival::{Process, RateCurve, Schedule};

/// Long enough that no bench exhausts a schedule.
const HORIZON: Duration = Duration::from_secs(1 << 40);

fn curve(toml_value: &str) -> RateCurve {
    #[derive(serde::Deserialize)]
    struct Wrap {
        rate: RateCurve,
    }
    match toml::from_str::<Wrap>(&format!("rate = {toml_value}")) {
        Ok(w) => w.rate,
        Err(e) => panic!("bench curve {toml_value}: {e}"),
    }
}

fn draws(c: &mut Criterion) {
    let cases = [
        ("poisson_constant_50k", r#""50000/s""#, Process::Poisson),
        ("even_constant_50k", r#""50000/s""#, Process::Constant),
        ("poisson_steps", r#"{ steps = [["0s", "1000/s"], ["1h", "5000/s"], ["2h", "20000/s"]] }"#, Process::Poisson),
        ("poisson_ramp", r#"{ ramp = { from = "1000/s", to = "50000/s", over = "1000d" } }"#, Process::Poisson),
        (
            "poisson_diurnal_p1.8",
            r#"{ diurnal = { mean = "20000/s", peak_to_average = 1.8, peak_at = "14h" } }"#,
            Process::Poisson,
        ),
        (
            "poisson_diurnal_p5",
            r#"{ diurnal = { mean = "10000/s", peak_to_average = 5, peak_at = "14h" } }"#,
            Process::Poisson,
        ),
        (
            "even_diurnal_p1.8",
            r#"{ diurnal = { mean = "20000/s", peak_to_average = 1.8, peak_at = "14h" } }"#,
            Process::Constant,
        ),
    ];
    let mut g = c.benchmark_group("arrival");
    g.throughput(Throughput::Elements(1));
    for (name, toml_value, process) in cases {
        let mut s = Schedule::new(curve(toml_value), process, 42, HORIZON);
        g.bench_function(name, |b| b.iter(|| black_box(s.next())));
    }
    // As the generator uses it: one shared schedule behind a mutex (uncontended here).
    let shared = Mutex::new(Schedule::new(curve(r#""50000/s""#), Process::Poisson, 42, HORIZON));
    g.bench_function("poisson_constant_50k_under_mutex", |b| {
        b.iter(|| black_box(shared.lock().map(|mut s| s.next()).ok().flatten()))
    });
    g.finish();
}

criterion_group!(benches, draws);
criterion_main!(benches);
