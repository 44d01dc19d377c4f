//! Process and in-process faults, each injected directly on real resources: a real
//! `gameday mocks` child process SIGKILLed, frozen and restarted on the same port; real
//! Scribe nodes, PXL overlays and MorphSave listeners and DB connections. Each test
//! observes the effect, recovers, rolls back (twice: idempotent) and checks nothing is
//! left behind. Only PIDs these tests started are signalled.

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use gameday::chaos::env::{DrillEnv, Target};
use gameday::chaos::fault::{FaultSpec, RecoveryAction};
use gameday::chaos::faults::enclave_crash;
use gameday::chaos::probe::{ProbeOutcome, ProbeSpec};
use gameday::chaos::supervisor::{proc_state, Supervisor, SupervisorConfig};
use gameday_mocks::kit::{HumanDuration, MockContext, PositiveDuration};
use gameday_mocks::services::{midnight, morphsave, pxl, scribe};
use gameday_mocks::{ServiceProfile, TimeScale};
use serde_json::Value;
use tokio::time::{timeout, Instant};

/// Every test is bounded: a hung fault fails the test rather than the suite.
const BOUND: Duration = Duration::from_secs(120);

async fn midnight_process() -> Arc<Supervisor> {
    let config = SupervisorConfig {
        bin: env!("CARGO_BIN_EXE_gameday").into(),
        profile: ServiceProfile::Midnight(midnight::Profile::default()),
        seed: 7,
        time_scale: TimeScale::REAL_TIME,
        ready_timeout: Duration::from_secs(30),
    };
    Arc::new(Supervisor::start(config).await.expect("midnight process starts"))
}

fn env_with(name: &str, target: Target) -> DrillEnv {
    let mut env = DrillEnv::default();
    env.targets.insert(name.to_owned(), target);
    env
}

fn fault(toml_text: &str) -> FaultSpec {
    toml::from_str(toml_text).expect("fault spec parses")
}

async fn probe(spec: &str, target: &str, env: &DrillEnv) -> ProbeOutcome {
    let spec: ProbeSpec = toml::from_str(spec).expect("probe spec parses");
    spec.check(target, env).await.expect("probe runs")
}

/// Polls `probe` until it passes, up to `within`; returns the last outcome.
async fn until_pass(spec: &str, target: &str, env: &DrillEnv, within: Duration) -> ProbeOutcome {
    let deadline = Instant::now() + within;
    loop {
        let out = probe(spec, target, env).await;
        if out.ok || Instant::now() >= deadline {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().and_then(|p| p.trim_end_matches('/').parse().ok()).expect("url has a port")
}

fn refuses(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1))
        .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
}

async fn get_json(url: &str, within: Duration) -> Result<(u16, Value), String> {
    let client = reqwest::Client::builder().no_proxy().timeout(within).build().map_err(|e| e.to_string())?;
    let r =
        client
            .get(url)
            .send()
            .await
            .map_err(|e| if e.is_timeout() { format!("timed out: {e}") } else { e.to_string() })?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enclave_crash_kills_the_process_and_restart_comes_back_on_the_same_port_attested() {
    timeout(BOUND, async {
        let sup = midnight_process().await;
        let env = env_with("midnight", Target::Process(Arc::clone(&sup)));
        let url = sup.url();
        let pid = sup.pid().unwrap();
        assert_eq!(gameday::chaos::supervisor::proc_state(pid).map(|s| s != 'Z'), Some(true));
        let before = probe(r#"kind = "attestation""#, "midnight", &env).await;
        assert!(before.ok, "{}", before.detail);
        // The mock's default chain lives 90 days (midnight::Profile::default().cert_lifetime).
        assert!(before.detail.contains("expires in 89.9 days") || before.detail.contains("expires in 90.0 days"));

        let spec = fault(r#"kind = "enclave-crash""#);
        assert!(spec.needs_process());
        spec.preflight(&env).await.unwrap();
        let injected = spec.inject(&env).await.unwrap();
        // Reaped: no /proc entry, not even a zombie; and nothing listens on the port.
        assert_eq!(proc_state(pid), None, "pid {pid} still exists");
        assert!(!sup.is_running());
        assert!(refuses(port_of(&url)), "port {} still accepts", port_of(&url));
        let down = probe(r#"kind = "attestation""#, "midnight", &env).await;
        assert!(!down.ok);
        assert!(spec.preflight(&env).await.is_err(), "a dead process must fail preflight");

        let said = spec.recover(&RecoveryAction::Restart, &env).await.unwrap();
        assert!(said.contains(&url), "{said}");
        assert_eq!(sup.url(), url, "same URL after restart");
        let new_pid = sup.pid().unwrap();
        assert_ne!(new_pid, pid);
        let after = probe(r#"kind = "attestation""#, "midnight", &env).await;
        assert!(after.ok, "{}", after.detail);
        let health = get_json(&format!("{url}/health"), Duration::from_secs(2)).await.unwrap();
        assert_eq!(health.0, 200);

        // The undo finds a healthy original process: it changes nothing, twice.
        injected.undo.rollback().await.unwrap();
        injected.undo.rollback().await.unwrap();
        injected.undo.rollback_blocking().unwrap();
        assert_eq!(sup.pid(), Some(new_pid));
        assert!(sup.is_running() && !sup.is_stopped());
        assert!(spec.recover(&RecoveryAction::IndexRebuild, &env).await.is_err());
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_the_wrong_enclave_fails_attestation_and_rollback_restores_the_original() {
    timeout(BOUND, async {
        let sup = midnight_process().await;
        let env = env_with("midnight", Target::Process(Arc::clone(&sup)));
        let spec = fault("kind = \"enclave-crash\"\nrestart_profile = { enclave_image = \"evil/proof-server:6.2.0\" }");
        spec.preflight(&env).await.unwrap();
        let injected = spec.inject(&env).await.unwrap();
        spec.recover(&RecoveryAction::Restart, &env).await.unwrap();
        let bad = probe(r#"kind = "attestation""#, "midnight", &env).await;
        assert!(!bad.ok);
        // The oracle: the mock publishes PCRs of its published image, the restart runs another.
        let want = midnight::pcrs_for_image("midnight/proof-server:6.2.0");
        let got = midnight::pcrs_for_image("evil/proof-server:6.2.0");
        assert!(want.keys().all(|k| want[k] != got[k]));
        for pcr in ["PCR0 MISMATCH", "PCR1 MISMATCH", "PCR2 MISMATCH"] {
            assert!(bad.detail.contains(pcr), "{pcr} not in {}", bad.detail);
        }
        assert!(!bad.detail.contains("debug"), "{}", bad.detail);

        let bad_pid = sup.pid();
        injected.undo.rollback().await.unwrap();
        assert_ne!(sup.pid(), bad_pid, "the rollback replaced the bad process");
        assert_eq!(&sup.profile(), sup.original_profile());
        let good = probe(r#"kind = "attestation""#, "midnight", &env).await;
        assert!(good.ok, "{}", good.detail);
        let pid = sup.pid();
        injected.undo.rollback().await.unwrap();
        assert_eq!(sup.pid(), pid, "a second rollback changes nothing");

        // The debug-mode variant, caught by name.
        let debug = fault("kind = \"enclave-crash\"\nrestart_profile = { debug_mode = true }");
        let injected = debug.inject(&env).await.unwrap();
        debug.recover(&RecoveryAction::Restart, &env).await.unwrap();
        let bad = probe(r#"kind = "attestation""#, "midnight", &env).await;
        assert!(!bad.ok && bad.detail.contains("debug mode ON"), "{}", bad.detail);
        injected.undo.rollback_blocking().unwrap();
        assert!(probe(r#"kind = "attestation""#, "midnight", &env).await.ok);

        let unknown = fault("kind = \"enclave-crash\"\nrestart_profile = { no_such_knob = 1 }");
        assert!(unknown.preflight(&env).await.is_err(), "a bad restart_profile is refused before injecting");
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeze_stops_the_process_so_requests_hang_and_sigcont_thaws_it() {
    timeout(BOUND, async {
        let sup = midnight_process().await;
        let env = env_with("midnight", Target::Process(Arc::clone(&sup)));
        let health = format!("{}/health", sup.url());
        let pid = sup.pid().unwrap();
        let spec = fault(r#"kind = "freeze""#);
        spec.preflight(&env).await.unwrap();
        let injected = spec.inject(&env).await.unwrap();
        assert_eq!(proc_state(pid), Some('T'));
        assert!(sup.is_stopped());
        let hung = get_json(&health, Duration::from_millis(500)).await;
        assert!(hung.as_ref().is_err_and(|e| e.starts_with("timed out")), "{hung:?}");

        spec.recover(&RecoveryAction::Rollback, &env).await.unwrap();
        assert!(!sup.is_stopped());
        assert_eq!(get_json(&health, Duration::from_secs(2)).await.unwrap().0, 200);
        injected.undo.rollback().await.unwrap();
        injected.undo.rollback_blocking().unwrap();
        assert_eq!(sup.pid(), Some(pid), "thawing never restarts");
        assert!(proc_state(pid).is_some_and(|s| s != 'T' && s != 'Z'));

        // Frozen and then left to the crash's undo: it comes back running and unfrozen.
        let again = spec.inject(&env).await.unwrap();
        let ensure = enclave_crash::EnsureOriginal(Arc::clone(&sup));
        gameday::chaos::fault::Rollback::rollback(&ensure).await.unwrap();
        assert!(sup.is_running() && !sup.is_stopped());
        again.undo.rollback().await.unwrap();
        assert_eq!(get_json(&health, Duration::from_secs(2)).await.unwrap().0, 200);
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_supervisor_kills_and_reaps_its_child() {
    timeout(BOUND, async {
        let sup = midnight_process().await;
        let pid = sup.pid().unwrap();
        let port = port_of(&sup.url());
        sup.signal(nix::sys::signal::Signal::SIGSTOP).unwrap();
        drop(sup);
        assert_eq!(proc_state(pid), None, "pid {pid} outlived its supervisor");
        assert!(refuses(port));
    })
    .await
    .expect("bounded");
}

async fn scribe_cluster() -> (scribe::ScribeCluster, MockContext) {
    let ctx = MockContext::default();
    let profile = scribe::Profile {
        election_timeout: PositiveDuration(HumanDuration(Duration::from_millis(300))),
        ..scribe::Profile::default()
    };
    let (_service, cluster) = scribe::start_cluster(profile, &ctx).await.expect("scribe starts");
    (cluster, ctx)
}

async fn leader_within(cluster: &scribe::ScribeCluster, within: Duration) -> Option<u64> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(l) = cluster.leader() {
            return Some(l);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scribe_leader_stopped_a_new_leader_takes_writes_and_restart_node_brings_it_back() {
    timeout(BOUND, async {
        let (cluster, ctx) = scribe_cluster().await;
        let env = env_with("scribe", Target::Scribe { endpoints: Vec::new(), cluster: cluster.clone() });
        let old = leader_within(&cluster, Duration::from_secs(10)).await.expect("a first leader");
        let write = r#"kind = "scribe-write""#;
        assert!(until_pass(write, "scribe", &env, Duration::from_secs(5)).await.ok);
        let old_term = cluster.term();

        let spec = fault(r#"kind = "node-failure""#);
        spec.preflight(&env).await.unwrap();
        let injected = spec.inject(&env).await.unwrap();
        assert!(cluster.faults(old).unwrap().stopped);
        let old_port = cluster.addr(old).unwrap().port();
        assert!(refuses(old_port));
        let out = until_pass(write, "scribe", &env, Duration::from_secs(10)).await;
        assert!(out.ok, "{}", out.detail);
        let new = cluster.leader().unwrap();
        assert_ne!(new, old);
        assert!(cluster.term() > old_term);

        let said = spec.recover(&RecoveryAction::RestartNode, &env).await.unwrap();
        assert!(said.contains(&scribe::endpoint_name(old)), "{said}");
        assert!(cluster.node_ids().iter().all(|&id| cluster.faults(id).unwrap().is_clear()));
        assert!(!refuses(old_port));
        injected.undo.rollback().await.unwrap();
        injected.undo.rollback_blocking().unwrap();
        assert!(cluster.node_ids().iter().all(|&id| cluster.faults(id).unwrap().is_clear()));

        // A named follower, rolled back without a recovery.
        let named = fault("kind = \"node-failure\"\nnode = \"scribe-2\"");
        let injected = named.inject(&env).await.unwrap();
        assert!(cluster.faults(2).unwrap().stopped);
        injected.undo.rollback().await.unwrap();
        assert!(cluster.faults(2).unwrap().is_clear());
        assert!(fault("kind = \"node-failure\"\nnode = \"scribe-9\"").preflight(&env).await.is_err());
        ctx.shutdown.cancel();
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scribe_quorum_loss_refuses_writes_until_the_nodes_restart() {
    timeout(BOUND, async {
        let (cluster, ctx) = scribe_cluster().await;
        let env = env_with("scribe", Target::Scribe { endpoints: Vec::new(), cluster: cluster.clone() });
        leader_within(&cluster, Duration::from_secs(10)).await.expect("a first leader");
        let write = r#"kind = "scribe-write""#;
        assert!(until_pass(write, "scribe", &env, Duration::from_secs(5)).await.ok);

        let spec = fault(r#"kind = "quorum-loss""#);
        spec.preflight(&env).await.unwrap();
        let injected = spec.inject(&env).await.unwrap();
        let stopped = cluster.node_ids().into_iter().filter(|&id| cluster.faults(id).unwrap().stopped).count();
        assert_eq!(stopped, 2, "2 of 3 down");
        // The one node left answers the write itself (no leader to send it to).
        let survivor = cluster.node_ids().into_iter().find(|&id| !cluster.faults(id).unwrap().stopped).unwrap();
        let url = format!("http://{}/gameday-drill-probe", cluster.addr(survivor).unwrap());
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();
        let r = client
            .put(&url)
            .header("X-API-Key", "write-key")
            .json(&serde_json::json!({"value": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 503);
        let body: Value = r.json().await.unwrap();
        assert!(matches!(body["error"].as_str(), Some("no_quorum" | "no_leader")), "{body}");
        assert!(!probe(write, "scribe", &env).await.ok);

        spec.recover(&RecoveryAction::RestartNode, &env).await.unwrap();
        let out = until_pass(write, "scribe", &env, Duration::from_secs(10)).await;
        assert!(out.ok, "{}", out.detail);
        injected.undo.rollback().await.unwrap();
        injected.undo.rollback().await.unwrap();
        assert!(cluster.node_ids().iter().all(|&id| cluster.faults(id).unwrap().is_clear()));
        let not_enough = fault("kind = \"quorum-loss\"\nnodes = [\"scribe-2\"]");
        assert!(not_enough.preflight(&env).await.is_err(), "1 of 3 is not quorum loss");
        ctx.shutdown.cancel();
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pxl_overlay_down_degrades_the_gateway_until_restored() {
    timeout(BOUND, async {
        let ctx = MockContext::default();
        let launched = pxl::launch(pxl::Profile::default(), &ctx).await.expect("pxl starts");
        let control = launched.control.clone();
        let env =
            env_with("pxl", Target::Pxl { endpoints: launched.service.endpoints.clone(), control: control.clone() });
        let health = format!("http://{}/v1/health", control.addr(pxl::Component::Gateway));
        let (code, body) = get_json(&health, Duration::from_secs(5)).await.unwrap();
        assert_eq!((code, body["status"].as_str()), (200, Some("ok")), "{body}");

        let spec = fault("kind = \"overlay-down\"\noverlay = \"v4\"");
        spec.preflight(&env).await.unwrap();
        let injected = spec.inject(&env).await.unwrap();
        assert!(refuses(control.addr(pxl::Component::V4).port()));
        let (code, body) = get_json(&health, Duration::from_secs(5)).await.unwrap();
        assert_eq!((code, body["status"].as_str()), (200, Some("degraded")), "{body}");
        assert_eq!(body["degraded"], serde_json::json!(["overlay-v4"]));

        spec.recover(&RecoveryAction::RestoreOverlay, &env).await.unwrap();
        let (_, body) = get_json(&health, Duration::from_secs(5)).await.unwrap();
        assert_eq!(body["status"].as_str(), Some("ok"), "{body}");
        injected.undo.rollback().await.unwrap();
        injected.undo.rollback_blocking().unwrap();
        assert!(control.is_up(pxl::Component::V4) && control.is_up(pxl::Component::Chrono));
        assert!(fault("kind = \"overlay-down\"\noverlay = \"v5\"").preflight(&env).await.is_err());
        ctx.shutdown.cancel();
    })
    .await
    .expect("bounded");
}

/// MorphSave with a short pool timeout; `cache_hit_ratio` 0 sends every read to the pool.
async fn morphsave_env(cache_hit_ratio: f64) -> (morphsave::Control, DrillEnv, MockContext) {
    let ctx = MockContext::default();
    let profile = morphsave::Profile {
        cache_hit_ratio,
        db_pool_timeout: PositiveDuration(HumanDuration(Duration::from_millis(300))),
        ..morphsave::Profile::default()
    };
    let launched = morphsave::launch(profile, &ctx).await.expect("morphsave starts");
    let control = launched.control.clone();
    let env = env_with(
        "morphsave",
        Target::Morphsave { endpoints: launched.service.endpoints.clone(), control: control.clone() },
    );
    (control, env, ctx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn morphsave_pool_exhaustion_times_requests_out_until_the_pool_is_released() {
    timeout(BOUND, async {
        let (control, env, ctx) = morphsave_env(0.0).await;
        let savings = format!("http://{}/api/savings/acct-0042", control.addr(morphsave::Listener::App));
        let (code, _) = get_json(&savings, Duration::from_secs(5)).await.unwrap();
        assert_eq!(code, 200);

        let spec = fault(r#"kind = "db-pool-exhaustion""#);
        spec.preflight(&env).await.unwrap();
        let injected = spec.inject(&env).await.unwrap();
        let pool = control.db_pool();
        assert_eq!(pool.in_use, pool.size, "every connection held");
        let (code, body) = get_json(&savings, Duration::from_secs(5)).await.unwrap();
        assert_eq!((code, body["error"].as_str()), (503, Some("db_pool_timeout")), "{body}");
        assert!(control.db_pool().timeouts >= 1);

        let said = spec.recover(&RecoveryAction::ReleasePool, &env).await.unwrap();
        assert!(said.contains(&pool.size.to_string()), "{said}");
        assert_eq!(get_json(&savings, Duration::from_secs(5)).await.unwrap().0, 200);
        injected.undo.rollback().await.unwrap();
        injected.undo.rollback_blocking().unwrap();
        assert_eq!(control.db_pool().in_use, 0);
        let too_many = fault(&format!("kind = \"db-pool-exhaustion\"\nconnections = {}", pool.size + 1));
        assert!(too_many.preflight(&env).await.is_err());
        ctx.shutdown.cancel();
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn morphsave_primary_rpc_failure_fails_over_to_the_backup_and_rolls_back() {
    timeout(BOUND, async {
        let (control, env, ctx) = morphsave_env(morphsave::Profile::default().cache_hit_ratio).await;
        let app = format!("http://{}", control.addr(morphsave::Listener::App));
        let (_, body) = get_json(&format!("{app}/api/health"), Duration::from_secs(5)).await.unwrap();
        assert_eq!(body["status"].as_str(), Some("healthy"), "{body}");

        let spec = fault(r#"kind = "rpc-failure""#);
        spec.preflight(&env).await.unwrap();
        let injected = spec.inject(&env).await.unwrap();
        assert!(refuses(control.addr(morphsave::Listener::RpcPrimary).port()));
        let (code, body) = get_json(&format!("{app}/api/health"), Duration::from_secs(5)).await.unwrap();
        assert_eq!((code, body["status"].as_str()), (200, Some("degraded")), "{body}");

        let said = spec.recover(&RecoveryAction::RpcFailover, &env).await.unwrap();
        assert!(said.contains("`backup`"), "{said}");
        let (code, body) = get_json(&format!("{app}/api/blockchain/status"), Duration::from_secs(5)).await.unwrap();
        assert_eq!((code, body["rpc"].as_str()), (200, Some("backup")), "{body}");

        injected.undo.rollback().await.unwrap();
        injected.undo.rollback_blocking().unwrap();
        assert!(control.is_up(morphsave::Listener::RpcPrimary));
        let (_, body) = get_json(&format!("{app}/api/health"), Duration::from_secs(5)).await.unwrap();
        assert_eq!(body["status"].as_str(), Some("healthy"), "{body}");
        ctx.shutdown.cancel();
    })
    .await
    .expect("bounded");
}

#[test]
fn every_fault_of_this_module_has_a_dry_run_plan_and_parses_from_toml() {
    let specs = [
        "kind = \"enclave-crash\"\nrestart_profile = { debug_mode = true }",
        "kind = \"freeze\"",
        "kind = \"node-failure\"\nnode = \"scribe-2\"",
        "kind = \"quorum-loss\"",
        "kind = \"overlay-down\"",
        "kind = \"db-pool-exhaustion\"\nconnections = 5",
        "kind = \"rpc-failure\"",
    ];
    for s in specs {
        let f = fault(s);
        assert!(!f.dry_run_steps().is_empty(), "{s}");
        assert!(f.dry_run_steps().iter().any(|l| l.contains("rollback")), "{s}: {:?}", f.dry_run_steps());
    }
    assert!(toml::from_str::<FaultSpec>("kind = \"freeze\"\nsignal = 9").is_err(), "unknown fields refused");
}

#[test]
fn the_drill_scenarios_name_faults_and_probes_these_modules_accept() {
    let files = [
        "midnight-enclave-crash",
        "midnight-enclave-bad-pcr",
        "process-freeze",
        "scribe-node-failure",
        "scribe-quorum-loss",
        "pxl-overlay-down",
        "morphsave-db-pool-exhaustion",
        "morphsave-rpc-failure",
    ];
    for name in files {
        let path = crate::common::repo_file(&format!("scenarios/drills/{name}.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc["name"].as_str(), Some(name));
        let drills = doc["drill"].as_array().unwrap();
        for d in drills {
            let fault: FaultSpec = d["fault"].clone().try_into().unwrap_or_else(|e| panic!("{name} fault: {e}"));
            assert!(!fault.dry_run_steps().is_empty());
            let mut probes: Vec<toml::Value> = d["verify"].as_array().cloned().unwrap_or_default();
            probes.extend(d["detect"].get("probe").cloned());
            // `http` probes belong to the drill runner's branch; this module's are checked here.
            for p in probes.into_iter().filter(|p| p["kind"].as_str() != Some("http")) {
                let _: ProbeSpec = p.try_into().unwrap_or_else(|e| panic!("{name} probe: {e}"));
            }
            let action: RecoveryAction =
                d["recover"]["action"].clone().try_into().unwrap_or_else(|e| panic!("{name} action: {e}"));
            assert_ne!(action, RecoveryAction::Command, "{name}: built-in recoveries only");
        }
    }
}

#[test]
fn gameday_mocks_refuses_a_port_for_an_endpoint_it_does_not_start_and_a_profile_without_one_service() {
    let out = crate::common::run(&["mocks", "--only", "midnight", "--port", "scribe-2=41000"]);
    assert_eq!(out.status.code(), Some(2), "{}", crate::common::text(&out));
    assert!(crate::common::text(&out).contains("scribe-2"));
    let dir = tempfile::tempdir().unwrap();
    let profile = crate::common::write(dir.path(), "p.toml", "debug_mode = true\n");
    let out = crate::common::run(&["mocks", "--profile", profile.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", crate::common::text(&out));
    let bad = crate::common::write(dir.path(), "bad.toml", "no_such_knob = 1\n");
    let out = crate::common::run(&["mocks", "--only", "midnight", "--profile", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", crate::common::text(&out));
    assert!(crate::common::text(&out).contains("no_such_knob"), "{}", crate::common::text(&out));
}
