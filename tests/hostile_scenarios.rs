//! Hostile scenario files and flags through the real binary (issue 23): a refusal is
//! exit 2 naming file:line and the field, the same from `validate` and `run`, with
//! nothing written; a scenario's name never chooses where files go; credentials in a
//! target URL never reach an output; `report.md` shows scenario text as text; a gate that
//! compared nothing is not a pass.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use gameday_mocks::ServiceProfile;

use crate::common::{gameday, text, write, Mock};

/// A short open-model run of Midnight's `/health`; `top` goes before `[load]`, `request`
/// into the request table. These tests are not about the generator's pace: on a busy
/// machine one late send in 40 would make a run invalid, so `max_late` is generous.
fn scenario(name: &str, top: &str, request: &str) -> String {
    format!(
        "name = \"{name}\"\n{top}\n[load]\nrate = \"20/s\"\nduration = \"2s\"\nmax_late = \"50%\"\n[[load.request]]\nname = \"health\"\ntarget = \"midnight\"\npath = \"/health\"\n{request}\n"
    )
}

fn cmd(args: &[&str], cwd: &Path) -> Output {
    gameday().args(args).current_dir(cwd).stdin(Stdio::null()).output().unwrap()
}

/// `(what, scenario text, field, line)`: each refused by `validate` and by `run`.
fn refused_cases() -> Vec<(&'static str, String, &'static str, usize)> {
    let targets = |body: &str| scenario("t", body, "");
    vec![
        ("CR/LF in a header value", scenario("t", "", "headers = { \"X-Trace\" = \"a\\r\\nInjected: 1\" }"), "load.request[0].headers", 11),
        ("a space in a header name", scenario("t", "", "headers = { \"Bad Name\" = \"1\" }"), "load.request[0].headers", 11),
        ("a colon in a header name", scenario("t", "", "headers = { \"X:Y\" = \"1\" }"), "load.request[0].headers", 11),
        ("an ftp:// target", targets("[targets.midnight]\nurl = \"ftp://127.0.0.1:21/\""), "targets.midnight.url", 3),
        ("a remote target", targets("[targets.midnight]\nurl = \"http://10.0.0.1:6300\""), "targets.midnight.url", 3),
        ("workers = 0", targets("[targets.midnight.profile]\nworkers = 0"), "targets.midnight.profile", 2),
        (
            "lognormal p99 below its median",
            targets("[targets.midnight.profile.service_time.check]\ndist = \"lognormal\"\nmedian = \"100ms\"\np99 = \"50ms\""),
            "targets.midnight.profile",
            2,
        ),
        ("a NUL in the name", scenario("a\\u0000b", "", ""), "name", 1),
        ("time_scale = 1e300", scenario("t", "time_scale = 1e300", ""), "time_scale", 2),
        ("time_scale = 1e-300", scenario("t", "time_scale = 1e-300", ""), "time_scale", 2),
        ("rate and users", scenario("t", "", "").replace("rate = \"20/s\"", "rate = \"20/s\"\nusers = 3"), "load.rate", 4),
        ("neither rate nor users", scenario("t", "", "").replace("rate = \"20/s\"\n", ""), "load", 3),
        ("no requests", "name = \"t\"\n[load]\nrate = \"1/s\"\nduration = \"1s\"\n".to_owned(), "load.request", 2),
        ("a load of a million years", scenario("t", "", "").replace("\"2s\"", "\"365000000d\""), "load.duration", 5),
        (
            "weights past u32",
            scenario("t", "", "weight = 4294967295\n[[load.request]]\nname = \"b\"\ntarget = \"midnight\"\npath = \"/health\"\nweight = 4294967295"),
            "load.request[0].weight",
            11,
        ),
        (
            "a bad alert expression",
            scenario("t", "", "\n[[alert]]\nname = \"x\"\nexpr = \"rate(\""),
            "alert[0].expr",
            14,
        ),
    ]
}

#[test]
fn validate_and_run_refuse_the_same_inputs_with_file_line_and_field_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (what, text_, field, line) in refused_cases() {
        let file = write(dir.path(), "s.toml", &text_);
        let out = dir.path().join("out");
        let v = cmd(&["validate", file.to_str().unwrap()], dir.path());
        let r = cmd(&["run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"], dir.path());
        for (verb, o) in [("validate", &v), ("run", &r)] {
            let msg = text(o);
            assert_eq!(o.status.code(), Some(2), "{what}: {verb} must refuse with exit 2: {msg}");
            assert!(msg.contains(&format!("s.toml:{line}:")), "{what}: {verb} must name line {line}: {msg}");
            assert!(msg.contains(&format!("field `{field}`")), "{what}: {verb} must name `{field}`: {msg}");
            assert!(!msg.contains("$__") && !msg.contains("panicked"), "{what}: {verb}: {msg}");
        }
        assert!(!out.exists(), "{what}: an exit-2 run wrote {}", out.display());
    }
}

#[test]
fn a_remote_target_is_valid_with_allow_remote_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.toml", &scenario("t", "[targets.midnight]\nurl = \"http://10.0.0.1:6300\"", ""));
    assert_eq!(cmd(&["validate", file.to_str().unwrap()], dir.path()).status.code(), Some(2));
    let o = cmd(&["validate", file.to_str().unwrap(), "--allow-remote"], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn invalid_utf8_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"name = \"t\"\n# caf".to_vec();
    bytes.extend([0xff, 0xfe, b'\n']);
    let file = dir.path().join("s.toml");
    std::fs::write(&file, bytes).unwrap();
    let o = cmd(&["validate", file.to_str().unwrap()], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("s.toml:2:6") && text(&o).contains("UTF-8"), "{}", text(&o));
}

#[test]
fn an_endless_or_huge_scenario_file_is_refused_at_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.toml");
    std::fs::write(&big, "# padding\n".repeat(1_100_000)).unwrap();
    for file in [Path::new("/dev/zero"), big.as_path()] {
        let started = Instant::now();
        let o = cmd(&["validate", file.to_str().unwrap()], dir.path());
        assert_eq!(o.status.code(), Some(2), "{}: {}", file.display(), text(&o));
        assert!(text(&o).contains("10 MiB"), "{}", text(&o));
        assert!(started.elapsed() < Duration::from_secs(20), "reading {} took {:?}", file.display(), started.elapsed());
    }
}

#[test]
fn a_time_scale_flag_out_of_range_is_a_usage_error_naming_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.toml", &scenario("t", "", ""));
    for v in ["-1", "1e300", "1e-300", "0", "nan"] {
        for args in [vec!["run", file.to_str().unwrap(), "--time-scale", v], vec!["mocks", "--time-scale", v]] {
            let o = cmd(&args, dir.path());
            let msg = text(&o);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {msg}");
            assert!(msg.contains("between 0.001 and 10000") || msg.contains("not a number"), "{args:?}: {msg}");
            assert!(!msg.contains("unexpected argument"), "{args:?}: {msg}");
        }
    }
}

#[test]
fn a_bad_mock_profile_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "p.toml", "workers = 0\n");
    let missing = dir.path().join("missing.toml");
    for p in [bad.as_path(), missing.as_path()] {
        let o = cmd(&["mocks", "--only", "midnight", "--profile", p.to_str().unwrap()], dir.path());
        assert_eq!(o.status.code(), Some(2), "{}: {}", p.display(), text(&o));
        assert!(text(&o).contains(p.to_str().unwrap()), "{}", text(&o));
    }
}

#[test]
fn the_scenario_name_never_chooses_a_path_outside_out() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("work");
    std::fs::create_dir(&cwd).unwrap();
    for (name, dir_name) in [("../../escape", "escape"), ("/etc", "etc"), ("..", "scenario")] {
        let file = write(dir.path(), "s.toml", &scenario(name, "", ""));
        let o = cmd(&["run", file.to_str().unwrap(), "-q"], &cwd);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o));
        let results = cwd.join("out").join(dir_name).join("results.json");
        assert!(results.is_file(), "{name}: no {}: {}", results.display(), text(&o));
    }
    assert!(!dir.path().join("escape").exists() && !cwd.join("etc").exists(), "a report escaped out/");
    assert!(!Path::new("/etc/results.json").exists());
}

/// Every file under `dir` (recursively) as text.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.push_str(&all_text(&p));
        } else {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_a_target_url_reach_no_output() {
    let mock = Mock::start(ServiceProfile::default_for(gameday_mocks::ServiceId::Midnight), 1.0).await;
    let url = mock.url().replace("http://", "http://alice:s3cret@");
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.toml", &scenario("creds", "", ""));
    let out = dir.path().join("out");
    let args = ["run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--target", &format!("midnight={url}")];
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let cwd = dir.path().to_owned();
    let o =
        tokio::task::spawn_blocking(move || gameday().args(&args).current_dir(cwd).output().unwrap()).await.unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let written = all_text(&out);
    assert!(written.contains("http://xxxxx:xxxxx@127.0.0.1"), "results name the target, masked");
    for secret in ["s3cret", "alice"] {
        assert!(!written.contains(secret), "`{secret}` in a file under {}", out.display());
        assert!(!text(&o).contains(secret), "`{secret}` printed: {}", text(&o));
    }
}

#[test]
fn report_md_shows_scenario_html_and_markdown_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = "<svg onload=alert(1)> ![pixel](http://evil.example/p.png) [click](http://evil.example)";
    let slo = format!("\n[[slo]]\nname = \"{hostile}\"\nobjective = \"error_ratio < 50%\"\n");
    let file = write(dir.path(), "s.toml", &format!("{}{slo}", scenario(hostile, "", "")));
    let out = dir.path().join("out");
    let o = cmd(&["run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("&lt;svg onload=alert"), "the name is shown, escaped: {md}");
    for raw in ["<svg", "![pixel]", "](http://evil", "[click]"] {
        assert!(!md.contains(raw), "report.md passes `{raw}` through:\n{md}");
    }
}

#[test]
fn a_gate_that_compared_nothing_is_invalid_and_writes_no_baseline() {
    let dir = tempfile::tempdir().unwrap();
    // Intervals of 20 requests, but the gate wants 1000 per interval: nothing qualifies.
    let text_ = format!("{}\n[gate]\nmin_samples_per_interval = 1000\n", scenario("nothing-compared", "", ""));
    let file = write(dir.path(), "s.toml", &text_);
    let run_out = dir.path().join("run");
    let o = cmd(&["run", file.to_str().unwrap(), "--out", run_out.to_str().unwrap(), "-q"], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let baseline = run_out.join("results.json");
    let gate_out = dir.path().join("gate");
    let args = [
        "gate",
        file.to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
        "--out",
        gate_out.to_str().unwrap(),
        "-q",
    ];
    let o = cmd(&args, dir.path());
    assert_eq!(o.status.code(), Some(3), "nothing compared cannot pass: {}", text(&o));
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(gate_out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["verdict"], "invalid");
    assert!(results["reasons"].to_string().contains("nothing was compared"), "{}", results["reasons"]);
    assert_eq!(results["gate"]["pass"], false);
    let new_baseline = dir.path().join("new-baseline.json");
    let args =
        ["gate", file.to_str().unwrap(), "--baseline", new_baseline.to_str().unwrap(), "--update-baseline", "-q"];
    let o = cmd(&args, dir.path());
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(!new_baseline.exists(), "a baseline that cannot gate was written");
    assert!(text(&o).contains("not written"), "{}", text(&o));
}
