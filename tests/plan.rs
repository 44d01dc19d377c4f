//! `gameday plan`: the Midnight runbook's growth table replayed through the simulator
//! (and live), checked against the runbook's own conclusions and against hand-computed
//! growth figures; bad growth input exits 2 naming the field.

use serde_json::Value;

use crate::common::{repo_file, run, text, write};

fn plan_json(dir: &std::path::Path) -> Value {
    let bytes = std::fs::read(dir.join("plan.json")).unwrap_or_else(|e| panic!("plan.json: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("plan.json: {e}"))
}

fn midnight_plan(extra: &[&str]) -> (std::process::Output, Value, tempfile::TempDir) {
    plan_of("midnight", extra)
}

/// `gameday plan scenarios/plan/<service>-growth.toml --out TMP --quiet EXTRA...`, one
/// at a time with the other CPU-heavy tests (a plan keeps a core busy for seconds, which
/// would starve the timing-sensitive load tests running beside it).
fn plan_of(service: &str, extra: &[&str]) -> (std::process::Output, Value, tempfile::TempDir) {
    let _heavy = crate::common::heavy();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let scenario = repo_file(&format!("scenarios/plan/{service}-growth.toml"));
    let out = dir.path().to_str().unwrap_or_default().to_owned();
    let mut args = vec!["plan", scenario.to_str().unwrap_or_default(), "--out", &out, "--quiet"];
    args.extend_from_slice(extra);
    let o = run(&args);
    let v = plan_json(dir.path());
    (o, v, dir)
}

fn trigger_week(v: &Value, name: &str) -> Option<u64> {
    v["triggers"].as_array()?.iter().find(|t| t["name"] == name)?["week"].as_u64()
}

#[test]
fn midnight_plan_reproduces_the_runbook_conclusions() {
    let (o, v, _dir) = midnight_plan(&["--no-live"]);
    let weeks = v["weeks"].as_array().cloned().unwrap_or_default();
    assert_eq!(weeks.len(), 4, "{}", text(&o));
    // The table's volumes by hand: 1000 x 1.5^k (the runbook rounds 2250 -> 2200, 3375 -> 3300).
    let volumes: Vec<f64> = weeks.iter().map(|w| w["sim"]["volume_per_day"].as_f64().unwrap_or(0.0)).collect();
    assert_eq!(volumes, vec![1000.0, 1500.0, 2250.0, 3375.0]);
    // "Peak RPS" 2 / 3 / 4.5 / 6.8 follows from volume x 120 requests per proof x 1.44 / 86400.
    for (w, table) in weeks.iter().zip([2.0, 3.0, 4.5, 6.8]) {
        let peak = w["sim"]["peak_rate_per_s"].as_f64().unwrap_or(0.0);
        assert!((peak - table).abs() / table < 0.01, "peak {peak} vs runbook {table}");
    }
    // The runbook's triggers: growth > 30%/week from week 2, CPU > 70% sustained in week 3.
    assert_eq!(trigger_week(&v, "growth over 30%/week"), Some(2), "{}", text(&o));
    assert_eq!(trigger_week(&v, "CPU over 70% sustained for a week"), Some(3), "{}", text(&o));
    // Week 4 is at capacity: the SLOs break at the scenario's size ...
    let w4 = &weeks[3];
    assert!(w4["sim"]["slos"].as_array().is_some_and(|s| s.iter().any(|x| x["pass"] == false)), "{}", text(&o));
    // ... and the recommended size holds it (exit 0: every week fixable).
    let rec = w4["recommended"]["size"].as_u64().unwrap_or(0);
    assert!(rec > v["size"].as_u64().unwrap_or(0), "recommended {rec}: {}", text(&o));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("first fires in week 3"), "{}", text(&o));
}

/// The M/M/c extrapolation against a hand computation: utilisation is λS/c, so each
/// fitted week alone says one worker saturates at its peak rate over its measured busy
/// fraction; a least-squares S is a weighted mean of those, so the fitted saturation rate
/// lies between the smallest and largest of them. The CPU target (70%) is crossed
/// between week 2 and week 3 (where the runbook's trigger fires).
#[test]
fn the_extrapolation_agrees_with_the_simulated_utilisation() {
    let (o, v, _dir) = midnight_plan(&["--no-live"]);
    let x = &v["extrapolation"];
    assert!(x.is_object(), "no extrapolation: {}", text(&o));
    // Week 4 saturates one worker: not a steady-state point.
    let fitted_weeks: Vec<u64> = x["fitted_weeks"].as_array().unwrap().iter().filter_map(Value::as_u64).collect();
    assert!(!fitted_weeks.contains(&4) && fitted_weeks.len() >= 2, "{fitted_weeks:?}");
    let by_hand: Vec<f64> = fitted_weeks
        .iter()
        .map(|&w| {
            let sim = &v["weeks"][w as usize - 1]["sim"];
            sim["peak_rate_per_s"].as_f64().unwrap() / sim["peak"]["utilisation"].as_f64().unwrap()
        })
        .collect();
    let (lo, hi) = by_hand.iter().fold((f64::MAX, 0.0_f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    let fitted = x["at_saturation"]["peak_rate_per_s"].as_f64().unwrap();
    assert!((lo * 0.999..=hi * 1.001).contains(&fitted), "saturation {fitted} req/s outside {by_hand:?} by hand");
    let week = x["at_target_cpu"]["week"].as_f64().unwrap();
    assert!((2.0..3.5).contains(&week), "CPU target reached in week {week}");
    assert!(x["max_relative_error"].as_f64().unwrap() < 0.1, "{x:#}");
    assert!(text(&o).contains("extrapolation (M/M/1 fit"), "{}", text(&o));
}

/// `plan.svg` is a well-formed SVG document with both panels' axes, the CPU trigger's
/// threshold and the p95 SLO line labelled, one point per week.
#[test]
fn the_plan_chart_is_written_with_labelled_axes_triggers_and_the_slo() {
    let (o, v, dir) = midnight_plan(&["--no-live"]);
    let svg =
        std::fs::read_to_string(dir.path().join("plan.svg")).unwrap_or_else(|e| panic!("plan.svg: {e}: {}", text(&o)));
    let doc = roxmltree::Document::parse(&svg).expect("plan.svg is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).map(str::trim).collect();
    let has = |t: &str| texts.iter().any(|x| x.contains(t));
    for label in ["week", "peak load (req/s)", "CPU (%)", "p95 latency (s)"] {
        assert!(has(label), "no `{label}` in the chart's texts: {texts:?}");
    }
    // The scenario's CPU trigger and its headline p95 SLO (the proof's 45 s) are drawn.
    assert!(has("CPU over 70% sustained for a week"), "{texts:?}");
    assert!(has("45"), "no SLO label: {texts:?}");
    // One tick per week on the shared axis: W1..W4.
    let weeks = v["weeks"].as_array().map_or(0, Vec::len);
    assert!((1..=weeks).all(|w| texts.contains(&format!("W{w}").as_str())), "week ticks: {texts:?}");
    assert!(text(&o).contains("plan.svg"), "{}", text(&o));
    // The plan's report set: results.json (kind plan, the plan embedded), report.md, the
    // HTML with the chart inline, and one JUnit case per SLO and trigger expectation.
    let r = crate::reports::check_outputs(dir.path(), "plan");
    assert_eq!(r.results["plan"]["weeks"].as_array().map_or(0, Vec::len), weeks);
    let slos = v["weeks"][0]["sim"]["slos"].as_array().map_or(0, Vec::len);
    let plan_cases = r.cases.iter().filter(|c| c.0 == "plan").count();
    assert_eq!(plan_cases, slos, "{:?}", r.cases);
    let expectations = r.cases.iter().filter(|c| c.0 == "triggers").count();
    assert_eq!(expectations, 2, "the two runbook triggers with expectations: {:?}", r.cases);
}

#[test]
fn same_seed_same_plan() {
    let (_, a, _d1) = midnight_plan(&["--no-live"]);
    let (_, b, _d2) = midnight_plan(&["--no-live"]);
    assert_eq!(a["weeks"], b["weeks"]);
    assert_eq!(a["triggers"], b["triggers"]);
}

#[test]
fn bad_growth_is_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = std::fs::read_to_string(repo_file("scenarios/plan/midnight-growth.toml")).unwrap_or_default();
    for (from, to, field) in [
        ("weeks = 4", "weeks = 0", "growth.weeks"),
        ("rate = \"+50%/week\"", "rate = \"-120%/week\"", "growth.rate"),
        ("rate = \"+50%/week\"", "rate = \"+90000%/week\"", "growth"),
        ("\nunit = [\"prove\"]", "\nunit = [\"mint\"]", "growth.unit"),
        ("headroom = 1.0", "headroom = 0.5", "plan.headroom"),
    ] {
        let p = write(dir.path(), "bad.toml", &base.replacen(from, to, 1));
        let o = run(&[
            "plan",
            p.to_str().unwrap_or_default(),
            "--no-live",
            "--out",
            dir.path().to_str().unwrap_or_default(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{to}: {}", text(&o));
        assert!(text(&o).contains(field), "{to}: expected `{field}` in {}", text(&o));
    }
}

/// Mean of a log-normal given by its median and p99 (the profiles' form), by hand:
/// sigma = ln(p99 / median) / z(0.99), mean = median x exp(sigma^2 / 2).
fn lognormal_mean(median_s: f64, p99_s: f64) -> f64 {
    let sigma = (p99_s / median_s).ln() / 2.326_347_874;
    median_s * (sigma * sigma / 2.0).exp()
}

fn weeks_of(v: &Value) -> Vec<Value> {
    v["weeks"].as_array().cloned().unwrap_or_default()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// The runbook's growth by hand: week k's volume/day is start x growth^(k-1), its peak
/// rate volume / 86400 x (mix weight / unit weight) x peak_to_average.
fn assert_peak_rates(weeks: &[Value], start_per_day: f64, growth: f64, mix_per_unit: f64, peak_to_average: f64) {
    assert_eq!(weeks.len(), 4, "one row per week");
    for (k, w) in weeks.iter().enumerate() {
        let volume = start_per_day * growth.powi(k as i32);
        let peak = volume / 86_400.0 * mix_per_unit * peak_to_average;
        assert!((num(&w["sim"]["volume_per_day"]) - volume).abs() < 1e-6 * volume, "week {}: {w}", k + 1);
        let got = num(&w["sim"]["peak_rate_per_s"]);
        assert!((got - peak).abs() < 1e-6 * peak, "week {}: peak {got} vs {peak} by hand", k + 1);
    }
}

#[test]
fn pxl_plan_follows_the_runbook_limits_and_triggers() {
    let (o, v, _dir) = plan_of("pxl", &["--no-live"]);
    let weeks = weeks_of(&v);
    // 40,000 proofs/day, +50%/week; 17 requests per 16 proofs; peak 3x the mean.
    assert_peak_rates(&weeks, 40_000.0, 1.5, 17.0 / 16.0, 3.0);
    assert_eq!(v["size_unit"], "core workers", "{}", text(&o));
    // The 1000 requests/minute limit is never reached; CPU > 70% for 15m fires in week 4.
    assert_eq!(trigger_week(&v, "request rate over 1000/min"), None, "{}", text(&o));
    assert_eq!(trigger_week(&v, "CPU over 70% for 15m"), Some(4), "{}", text(&o));
    // Little's law: busy workers = proof rate x mean proof time; at the 70% target the
    // pool needs ceil(busy / 0.7) workers (the search may add one for the p95 SLO).
    let proofs = 40_000.0 * 1.5f64.powi(3) / 86_400.0 * 3.0;
    let busy = proofs * lognormal_mean(0.150, 0.280);
    let little = (busy / 0.7).ceil();
    let rec = num(&weeks[3]["recommended"]["size"]);
    assert!(rec >= little && rec <= little + 1.0, "week 4: recommended {rec}, Little's law {little}: {}", text(&o));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn scribe_plan_sizes_the_leader_at_twice_the_peak() {
    let (o, v, _dir) = plan_of("scribe", &["--no-live"]);
    let weeks = weeks_of(&v);
    // 12,000 writes/day, +50%/week; per write 1 read and 1 health check; peak 2x the mean.
    assert_peak_rates(&weeks, 12_000.0, 1.5, 3.0, 2.0);
    assert_eq!(v["size_unit"], "workers per node", "{}", text(&o));
    // The node rule (2 x peak over 3 nodes x 100k ops/s) never asks for a 4th node.
    assert_eq!(trigger_week(&v, "node rule: 2x peak over 3 nodes x 100k ops/s"), None, "{}", text(&o));
    // Little's law on the leader at the scenario's 1 worker: its busy share over the
    // peak hours is the read + write rate x their mean service times (the mock's
    // defaults: read 2 ms / 20 ms, write 8 ms / 80 ms), within 10% (the peak hour
    // averages a little under the peak of the wave).
    for (k, w) in weeks.iter().enumerate().take(3) {
        // Writes (and as many reads) per second at the peak of the wave (2x the mean).
        let peak = num(&w["sim"]["volume_per_day"]) / 86_400.0 * 2.0;
        let busy = peak * (lognormal_mean(0.002, 0.020) + lognormal_mean(0.008, 0.080));
        let cpu = num(&w["sim"]["peak"]["utilisation"]);
        assert!((cpu - busy).abs() / busy < 0.1, "week {}: utilisation {cpu} vs {busy} by hand", k + 1);
    }
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn morphsave_plan_sizes_the_db_pool_to_its_80_percent_target() {
    let (o, v, _dir) = plan_of("morphsave", &["--no-live"]);
    let weeks = weeks_of(&v);
    // 25,000 deposits/day doubling weekly; 12 requests per deposit; peak 3x the mean.
    assert_peak_rates(&weeks, 25_000.0, 2.0, 12.0, 3.0);
    assert_eq!(v["size_unit"], "DB connections", "{}", text(&o));
    // Little's law: connections in use = (deposits x write time + misses x read time);
    // at most 80% of the pool, so the pool is at least ceil(in use / 0.8) (one more
    // when the response-time SLO asks for it).
    for (k, w) in weeks.iter().enumerate() {
        let per_s = num(&w["sim"]["volume_per_day"]) / 86_400.0 * 3.0;
        let in_use = per_s * (lognormal_mean(0.060, 0.240) + lognormal_mean(0.032, 0.160));
        let little = (in_use / 0.8).ceil();
        let rec = num(&w["recommended"]["size"]);
        assert!(rec >= little && rec <= little + 1.0, "week {}: pool {rec} vs {little}: {}", k + 1, text(&o));
    }
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// Issue 6's agreement check, on the live mock: weeks 1 and 2's peak hours replayed live
/// (at 200x, so the two windows and the confirmation run take about a minute) against
/// their twins, the simulator run on the same sample (schedule, request kinds and the
/// mock's service-time streams; `capacity::plan::live`). The oracle is the simulator's
/// own queueing of those requests; what may differ is what it leaves out (HTTP,
/// scheduling, the live CPU meter): p95 and CPU within 10%, and the same requests
/// (count within 1%: the live generator sends the schedule the twin replays).
#[test]
fn live_peak_hours_agree_with_the_simulator_within_10_percent() {
    let _heavy = crate::common::heavy();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text_ = std::fs::read_to_string(repo_file("scenarios/plan/midnight-growth.toml")).unwrap_or_default();
    assert!(text_.contains("\n[plan]\n"), "midnight-growth.toml has no [plan] table");
    let variant = text_.replace("\n[plan]\n", "\n[plan]\nlive_weeks = [1, 2]\nlive_time_scale = 200.0\n");
    let file = write(dir.path(), "midnight-live.toml", &variant);
    let out = dir.path().join("out");
    let o = run(&["plan", file.to_str().unwrap_or_default(), "--out", out.to_str().unwrap_or_default(), "--quiet"]);
    let v = plan_json(&out);
    let weeks = weeks_of(&v);
    assert!(weeks.len() >= 2, "{}", text(&o));
    for (i, w) in weeks.iter().take(2).enumerate() {
        let week = i + 1;
        let (live, twin) = (&w["live"]["figures"], &w["live"]["twin"]);
        assert!(live.is_object() && twin.is_object(), "week {week}: not measured: {}\n{}", w["live"], text(&o));
        let (n_live, n_twin) = (num(&live["requests"]), num(&twin["requests"]));
        assert!((n_live - n_twin).abs() <= 0.01 * n_twin, "week {week}: live sent {n_live}, the twin {n_twin}");
        for figure in ["p95_s", "cpu"] {
            let (l, t) = (num(&live[figure]), num(&twin[figure]));
            assert!((l - t).abs() <= 0.10 * t, "week {week}: {figure} live {l} vs twin {t}\n{}", text(&o));
        }
        assert_eq!(w["difference"]["agrees"], true, "{}", w["difference"]);
    }
}
