//! `[[probe]]` end to end: the real `gameday` binary runs a scenario against the real
//! embedded Midnight mock, probes it over real HTTP on the run's clock, and judges alerts
//! on `probe_success`; firing times are checked against a hand computation.

use std::net::TcpListener;

use crate::common::{run, text, write};

/// Time scale 10: the recording interval (and so the evaluation step) is 1 s simulated
/// (100 ms real), a 60 s run takes 6 s.
fn scenario(refused_port: u16) -> String {
    format!(
        r#"name = "probes"
time_scale = 10
[load]
users = 1
duration = "60s"
think_time = "1s"
[[load.request]]
name = "health"
target = "midnight"
path = "/health"

[[probe]]
name = "health"
target = "midnight"
path = "/health"
interval = "5s"

[[probe]]
name = "missing"
target = "midnight"
path = "/no-such-path"
expect_status = 200
interval = "10s"

[[probe]]
name = "refused"
url = "http://127.0.0.1:{refused_port}/health"
interval = "10s"
timeout = "1s"

[[alert]]
name = "HealthDown"
expr = 'probe_success{{probe="health"}} < 1'
for = "10s"
expect = "never"

[[alert]]
name = "MissingDown"
expr = 'probe_success{{probe="missing"}} < 1'
for = "20s"
expect = "fires"

[[alert]]
name = "RefusedDown"
expr = 'probe_success{{probe="refused"}} < 1'
for = "20s"
expect = "fires"
"#
    )
}

fn alert<'a>(results: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    results["alerts"].as_array().unwrap().iter().find(|a| a["name"] == name).unwrap()
}

#[test]
fn probes_are_series_that_alerts_judge_at_the_predicted_times() {
    let _heavy = crate::common::heavy();
    let dir = tempfile::tempdir().unwrap();
    // A port that refuses: bound, then released.
    let refused_port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let file = write(dir.path(), "probes.toml", &scenario(refused_port));
    let out_dir = dir.path().join("out");
    let o = run(&["run", file.to_str().unwrap(), "--out", out_dir.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("results.json")).unwrap()).unwrap();

    // The healthy probe: every check passed (the lowest value seen is 1), about one per
    // 5 s over the 60 s run, and the alert never fired.
    let health = alert(&results, "HealthDown");
    assert_eq!(health["observed"], 1.0, "{health}");
    assert!(health["first_firing_s"].is_null(), "{health}");
    assert!(health["samples"].as_u64().unwrap() >= 50, "{health}");

    // The failing probes (404 where 200 is expected; a refused connection): value 0 from
    // the first check at t ~ 0+. Hand computation: rules are evaluated at t = 0, 1, 2, ...
    // s; the first check's sample (stamped a few ms after 0) is first seen at the
    // evaluation at t = 1 s (or 0 s if stamped exactly at 0), which makes the alert
    // pending; `for = 20s` (= (3 - 1) x 10 s: three consecutive failed checks) fires it
    // at the first evaluation 20 s later, t = 21 s, once the third failed check (t ~ 20 s)
    // is recorded.
    for name in ["MissingDown", "RefusedDown"] {
        let a = alert(&results, name);
        assert_eq!(a["observed"], 0.0, "{a}");
        let pending_from = a["pending"][0]["start_s"].as_f64().unwrap();
        assert!(pending_from == 0.0 || pending_from == 1.0, "{a}");
        assert_eq!(a["first_firing_s"].as_f64(), Some(pending_from + 20.0), "{a}");
        assert_eq!(a["first_firing_s"].as_f64(), Some(21.0), "the first check lands after t = 0: {a}");
    }
    // A probe that ran and saw a failure is not an observation problem.
    let problems = results["observation_problems"].to_string();
    assert!(!problems.contains("probe `"), "{problems}");
}

#[test]
fn a_probe_without_a_target_or_url_exits_2_with_its_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let text_in = "name = \"p\"\n[load]\nusers = 1\nduration = \"10s\"\n[[load.request]]\nname = \"h\"\ntarget = \"midnight\"\npath = \"/health\"\n[[probe]]\nname = \"health\"\npath = \"/health\"\n";
    let file = write(dir.path(), "p.toml", text_in);
    let o = run(&["run", file.to_str().unwrap(), "--out", dir.path().join("out").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let msg = text(&o);
    assert!(msg.contains("p.toml:10:") && msg.contains("probe[0].target"), "{msg}");
    assert!(!dir.path().join("out").exists(), "nothing written for a bad scenario");
    // A kind that needs a drill's hooks is refused by `gameday run`, before any load.
    let tls = text_in.replace(
        "[[probe]]\nname = \"health\"\npath = \"/health\"\n",
        "[[probe]]\nname = \"cert\"\nkind = \"tls\"\ntarget = \"midnight\"\n",
    );
    let file = write(dir.path(), "tls.toml", &tls);
    let o = run(&["run", file.to_str().unwrap(), "--out", dir.path().join("out2").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}\n{tls}", text(&o));
    assert!(text(&o).contains("runs under `gameday drill` only"), "{}", text(&o));
}
