//! `gameday merge` and the interval logs (`hlog/<kind>.hlog`): the real binary merging two
//! real runs, and HdrHistogram's official Python port reading the logs gameday writes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use gameday::load::{KindStats, Outcome};
use gameday::report::results::{
    decode_hdr, IntervalSummary, Machine, ReportKind, RequestSummary, Results, RunVerdict, SCHEMA_VERSION,
};
use serde_json::Value;

use crate::common::{run, skip, text, write};

/// Whether the `hdrh` Python module is importable; without it, a skip with a notice, or a
/// failure under CI (`ci/test.sh` installs it).
fn hdrh_available() -> bool {
    let ok = Command::new("python3").args(["-c", "import hdrh"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        skip("python3 cannot import hdrh (pip install hdrhistogram): the Python oracle is not run");
    }
    ok
}

/// What `hdrh.log.HistogramLogReader` reads from an interval log: the intervals summed
/// (count, p50, p99, max, as the Python port computes them) and each interval's offset
/// from StartTime, length, count and tag.
fn python_reads(path: &Path) -> Value {
    let script = r#"
import json, sys
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader
reader = HistogramLogReader(sys.argv[1], HdrHistogram(1, 2**40, 3))
total = HdrHistogram(1, 2**40, 3)
intervals = []
while True:
    h = reader.get_next_interval_histogram()
    if h is None:
        break
    start = reader.get_start_time_sec()
    intervals.append([h.get_start_time_stamp() / 1000.0 - start, (h.get_end_time_stamp() - h.get_start_time_stamp()) / 1000.0,
                      h.get_total_count(), h.get_tag()])
    total.add(h)
print(json.dumps({"count": total.get_total_count(), "p50": total.get_value_at_percentile(50),
                  "p99": total.get_value_at_percentile(99), "max": total.get_max_value(),
                  "start_time": reader.get_start_time_sec(), "intervals": intervals}))
"#;
    let o = Command::new("python3").args(["-c", script, path.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "python: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Ten one-second intervals of a kind `get /x`: per interval 98 requests at known
/// latencies (1.0 to 50 ms) and 2 timeouts at 2 s: p99 falls among the 2 s ones.
fn known_results() -> Results {
    let mut whole = KindStats::default();
    let mut intervals = Vec::new();
    for i in 0..10u64 {
        let mut s = KindStats::default();
        for k in 0..98u64 {
            let us = 1_000 + k * 500 + i * 7;
            s.record(us, Outcome::Ok, None);
            whole.record(us, Outcome::Ok, None);
        }
        for _ in 0..2 {
            s.record(2_000_000, Outcome::Timeout, Some(&"timed out"));
            whole.record(2_000_000, Outcome::Timeout, Some(&"timed out"));
        }
        intervals.push(IntervalSummary::new(i as f64, 1.0, &s));
    }
    Results {
        schema_version: SCHEMA_VERSION,
        kind: ReportKind::Run,
        gameday_version: "test".into(),
        scenario: "hlog-oracle".into(),
        scenario_file: "hlog-oracle.toml".into(),
        seed: 1,
        time_scale: 1.0,
        started_at: "2024-03-01T12:00:00.5Z".into(),
        machine: Machine::default(),
        interval_s: 1.0,
        wall_s: 10.0,
        simulated_s: 10.0,
        targets: BTreeMap::new(),
        requests: vec![RequestSummary::new("get /x", &whole, intervals)],
        slos: Vec::new(),
        alerts: Vec::new(),
        triggers: Vec::new(),
        rule_step_s: 1.0,
        verdict: RunVerdict::Pass,
        reasons: Vec::new(),
        partial: false,
        generator: None,
        observation_problems: Vec::new(),
    }
}

#[test]
fn hlog_read_by_the_python_port_has_the_same_counts_and_percentiles() {
    let results = known_results();
    let dir = tempfile::tempdir().unwrap();
    let paths = gameday::report::write_hlogs(dir.path(), &results).unwrap();
    assert_eq!(paths, vec![dir.path().join("hlog/get__x.hlog")]);
    // Our own reader first: every interval as recorded.
    let back = gameday::report::read_hlog(&paths[0]).unwrap();
    assert_eq!(back.len(), 10);
    for ((start, len, h), iv) in back.iter().zip(&results.requests[0].intervals) {
        assert_eq!((*start, *len, h.len()), (iv.start_s, iv.length_s, iv.count));
    }
    if !hdrh_available() {
        return;
    }
    let py = python_reads(&paths[0]);
    let whole = decode_hdr(&results.requests[0].hdr).unwrap();
    assert_eq!(py["count"].as_u64(), Some(1000), "{py}");
    assert_eq!(py["p99"].as_u64(), Some(whole.value_at_quantile(0.99)), "{py}");
    assert_eq!(py["p50"].as_u64(), Some(whole.value_at_quantile(0.5)), "{py}");
    assert_eq!(py["max"].as_u64(), Some(whole.max()), "{py}");
    assert!((1_998_000..=2_002_000).contains(&py["p99"].as_u64().unwrap()), "{py}");
    assert_eq!(py["start_time"].as_f64(), Some(1_709_294_400.5), "{py}");
    let intervals = py["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 10);
    for (i, iv) in intervals.iter().enumerate() {
        assert!((iv[0].as_f64().unwrap() - i as f64).abs() < 1e-6, "{iv}");
        assert!((iv[1].as_f64().unwrap() - 1.0).abs() < 1e-6, "{iv}");
        assert_eq!(iv[2].as_u64(), Some(100), "{iv}");
        assert_eq!(iv[3].as_str(), Some("get__x"), "{iv}"); // a space is no tag character
    }
}

/// A tiny scenario: 2 users on the embedded Midnight mock's /health for 2 real seconds.
fn tiny(name: &str, seed: u64) -> String {
    format!(
        r#"
name = "{name}"
seed = {seed}
time_scale = 10.0

[load]
users = 2
duration = "20s"
think_time = "50ms"
request_timeout = "5s"

[[load.request]]
name = "health"
target = "midnight"
method = "GET"
path = "/health"

[[slo]]
name = "health p99"
request = "health"
objective = "p99 < 2s"
"#
    )
}

fn results_at(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap()
}

#[test]
fn merge_of_two_real_runs_sums_them_and_refuses_other_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut outs = Vec::new();
    for seed in [1, 2] {
        let file = write(dir.path(), &format!("tiny-{seed}.toml"), &tiny("merge-tiny", seed));
        let out = dir.path().join(format!("run-{seed}"));
        let o = run(&["run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        outs.push(out);
    }
    let (a, b) = (outs[0].join("results.json"), outs[1].join("results.json"));
    let merged_dir = dir.path().join("merged");
    let o = run(&["merge", a.to_str().unwrap(), b.to_str().unwrap(), "--out", merged_dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("verdict: PASS"), "{}", text(&o));
    let (ra, rb, m) = (results_at(&outs[0]), results_at(&outs[1]), results_at(&merged_dir));
    let count = |r: &Value| r["requests"][0]["count"].as_u64().unwrap();
    assert!(count(&ra) > 20 && count(&rb) > 20, "{ra}");
    assert_eq!(count(&m), count(&ra) + count(&rb));
    assert_eq!(m["kind"], "merge");
    assert_eq!(m["verdict"], "pass");
    assert_eq!(m["slos"][0]["samples"].as_u64(), Some(count(&m)));
    // The interval log holds every merged request, interval by interval.
    let logged = gameday::report::read_hlog(&merged_dir.join("hlog/health.hlog")).unwrap();
    let intervals = m["requests"][0]["intervals"].as_array().unwrap();
    assert_eq!(logged.len(), intervals.len());
    assert_eq!(logged.iter().map(|(_, _, h)| h.len()).sum::<u64>(), count(&m));
    if hdrh_available() {
        assert_eq!(python_reads(&merged_dir.join("hlog/health.hlog"))["count"].as_u64(), Some(count(&m)));
    }

    // Another scenario's results: refused, exit 2, naming the file.
    let mut other = rb.clone();
    other["scenario"] = "another".into();
    let other_file = write(dir.path(), "other.json", &other.to_string());
    let o = run(&["merge", a.to_str().unwrap(), other_file.to_str().unwrap(), "--out", merged_dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("other.json: scenario is `another`"), "{}", text(&o));
    // One file, a file that is not JSON, a missing file: usage errors naming the file.
    let o = run(&["merge", a.to_str().unwrap(), "--out", merged_dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let junk = write(dir.path(), "junk.json", "{ not json");
    let missing = dir.path().join("missing.json");
    for bad in [&junk, &missing] {
        let o = run(&["merge", a.to_str().unwrap(), bad.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains(bad.to_str().unwrap()), "{}", text(&o));
    }
}
