//! Self-reported index health against `/_healthz`, and the staleness fixture: while the
//! index is broken, `grahmos_index_healthy` reads 0 exactly as `/_healthz` answers 503,
//! and `grahmos_index_release_info` disappears from an otherwise successful scrape; it
//! comes back, with the serving release as its label, after recovery.

use super::*;

/// One scrape: (`grahmos_index_healthy`, the `release` labels of
/// `grahmos_index_release_info` present).
async fn index_series(c: &Client, api: &str) -> (f64, Vec<String>) {
    let m = metrics(c, api).await;
    let releases = m
        .keys()
        .filter_map(|k| k.strip_prefix("grahmos_index_release_info{release=\""))
        .map(|r| r.trim_end_matches("\"}").to_owned())
        .collect();
    (m["grahmos_index_healthy"], releases)
}

/// `/_healthz` as 1 (200) or 0 (503).
async fn healthz(c: &Client, engine: &str) -> f64 {
    let (status, _) = get_json(c, &format!("{engine}/_healthz")).await;
    assert!(status == 200 || status == 503, "/_healthz answered {status}");
    f64::from(u8::from(status == 200))
}

#[tokio::test]
async fn release_info_disappears_while_the_deleted_index_is_down_and_healthy_agrees_with_healthz() {
    let edge = Edge::start(json!({"upstream": false}), 1.0).await;
    let (c, api, engine, dir) = (client(), edge.api(), edge.engine(), edge.handle.index_dir().to_owned());
    assert_eq!(index_series(&c, &api).await, (1.0, vec!["v2".to_owned()]));
    assert_eq!(healthz(&c, &engine).await, 1.0);

    // The fault, as the runbook's `rm -rf /data/indexes/current/*` (drill `index-corruption`).
    for e in fs::read_dir(dir.join("current")).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            fs::remove_dir_all(p).unwrap()
        } else {
            fs::remove_file(p).unwrap()
        }
    }
    // The scrape itself succeeds (200, parsed); the series is gone from it.
    assert_eq!(index_series(&c, &api).await, (0.0, vec![]), "no serving release: no release_info series");
    assert_eq!(healthz(&c, &engine).await, 0.0);

    let r = c.post(format!("{engine}/admin/index/rollback")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(index_series(&c, &api).await, (1.0, vec!["v1".to_owned()]), "back, labelled with the serving release");
    assert_eq!(healthz(&c, &engine).await, 1.0);
}

#[tokio::test]
async fn a_garbled_document_reads_unhealthy_at_the_first_scrape_as_healthz_says() {
    let edge = Edge::start(json!({"upstream": false}), 1.0).await;
    let (c, api, engine, dir) = (client(), edge.api(), edge.engine(), edge.handle.index_dir().to_owned());
    assert_eq!(index_series(&c, &api).await.0, 1.0);
    // One document garbled, its manifest untouched: nothing has queried it yet, so only a
    // full check (the one `/_healthz` runs) can see it. The scrape comes first.
    fs::write(dir.join("releases/v2/docs/canary.json"), b"\x00garbled{{").unwrap();
    assert_eq!(index_series(&c, &api).await, (0.0, vec![]), "the scrape runs /_healthz's check");
    assert_eq!(healthz(&c, &engine).await, 0.0);
    let (status, _) = get_json(&c, &format!("{api}/api/health")).await;
    assert_eq!(status, 503, "the edge's /api/health sees the failed check too");

    let r = c.post(format!("{engine}/admin/index/rebuild")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(index_series(&c, &api).await, (1.0, vec!["v3".to_owned()]));
    assert_eq!(healthz(&c, &engine).await, 1.0);
}
