//! The on-disk index: release switch and rollback while serving, corruption and recovery.

use super::*;

fn write_release(index_dir: &Path, name: &str, docs: &[Value]) {
    let dir = index_dir.join("releases").join(name);
    fs::create_dir_all(dir.join("docs")).unwrap();
    let mut entries = Vec::new();
    for d in docs {
        let id = d["id"].as_str().unwrap();
        let bytes = serde_json::to_vec(d).unwrap();
        fs::write(dir.join(format!("docs/{id}.json")), &bytes).unwrap();
        entries
            .push(json!({"id": id, "path": format!("docs/{id}.json"), "sha256": hex::encode(Sha256::digest(&bytes))}));
    }
    let manifest = json!({"format": 1, "release": name, "created_unix_ms": 0, "documents": entries});
    fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
}

/// `ln -sfn releases/NAME current`, atomically (symlink then rename).
fn ln_sfn(index_dir: &Path, name: &str) {
    let tmp = index_dir.join("current.test-tmp");
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(index_dir.join("releases").join(name), &tmp).unwrap();
    fs::rename(&tmp, index_dir.join("current")).unwrap();
}

/// Canary queries in a loop until `stop`: (answered, failed).
fn canary_load(c: Client, api: String, token: Tok, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(u64, u64)> {
    tokio::spawn(async move {
        let (ok, failed) = (AtomicU64::new(0), AtomicU64::new(0));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        for _ in 0..5000 {
            if stop.load(Ordering::Relaxed) || tokio::time::Instant::now() > deadline {
                break;
            }
            let (status, _, body) = search(&c, &api, &token, "canary").await;
            let counter = if status == 200 && body["hits"][0]["id"] == "canary" { &ok } else { &failed };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        (ok.into_inner(), failed.into_inner())
    })
}

#[tokio::test]
async fn release_switch_and_rollback_while_serving() {
    let edge = Edge::start(json!({"upstream": false}), 1.0).await;
    let (c, api, dir) = (client(), edge.api(), edge.handle.index_dir().to_owned());
    let t = token(&c, &api, &["tenant-a"], "public").await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = canary_load(c.clone(), api.clone(), t.clone(), Arc::clone(&stop));

    // Stage v3 = v2 + one document, by hand, then swap the symlink (the runbook's steps).
    let mut docs = docs_on_disk(&dir);
    docs.push(json!({"id": "zebra-0001", "title": "Zebra crossing", "content": "zebracrossing only in v3", "labels": ["public"], "tenants": ["*"]}));
    write_release(&dir, "v3", &docs);
    let (status, _, body) = search(&c, &api, &t, "zebracrossing").await;
    assert_eq!((status, body["total"].as_u64()), (StatusCode::OK, Some(0)), "not served before the swap");
    ln_sfn(&dir, "v3");
    let (_, h, body) = search(&c, &api, &t, "zebracrossing").await;
    assert_eq!((h["x-index-release"].as_str(), hit_ids(&body)), ("v3", BTreeSet::from(["zebra-0001".to_owned()])));

    // Roll back by hand, then forward again and back through the engine's hook.
    ln_sfn(&dir, "v2");
    let (_, h, body) = search(&c, &api, &t, "zebracrossing").await;
    assert_eq!((h["x-index-release"].as_str(), body["total"].as_u64()), ("v2", Some(0)));
    ln_sfn(&dir, "v3");
    let r = c.post(format!("{}/admin/index/rollback", edge.engine())).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(fs::read_link(dir.join("current")).unwrap(), Path::new("releases/v2"));
    let (_, h, _) = search(&c, &api, &t, "canary").await;
    assert_eq!(h["x-index-release"], "v2");

    stop.store(true, Ordering::Relaxed);
    let (ok, failed) = load.await.unwrap();
    assert!(ok > 0);
    assert_eq!(failed, 0, "no query failed during the swaps");
}

#[tokio::test]
async fn deleted_index_fails_closed_then_recovers_by_rollback() {
    let edge = Edge::start(json!({"upstream": false}), 1.0).await;
    let (c, api, engine, dir) = (client(), edge.api(), edge.engine(), edge.handle.index_dir().to_owned());
    let t = token(&c, &api, &["tenant-a"], "secret").await;

    // rm -rf /data/indexes/current/*
    for e in fs::read_dir(dir.join("current")).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            fs::remove_dir_all(p).unwrap()
        } else {
            fs::remove_file(p).unwrap()
        }
    }
    for q in ["canary", "report", "tenant-b"] {
        let (status, _, body) = search(&c, &api, &t, q).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("index_unavailable")));
        assert!(body.get("hits").is_none());
    }
    let (status, hz) = get_json(&c, &format!("{engine}/_healthz")).await;
    assert_eq!((status, hz["status"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("unhealthy")));
    let (status, _) = get_json(&c, &format!("{api}/api/health")).await;
    assert_eq!(status, 503);

    // Recovery 1: roll back to v1.
    assert_eq!(edge.handle.index().rollback().unwrap().release(), "v1");
    let (status, _) = get_json(&c, &format!("{engine}/_healthz")).await;
    assert_eq!(status, 200);
    let (status, _, body) = search(&c, &api, &t, "canary").await;
    assert_eq!((status, body["hits"][0]["id"].as_str()), (StatusCode::OK, Some("canary")));
}

#[tokio::test]
async fn garbled_index_fails_closed_then_recovers_by_rebuild() {
    let edge = Edge::start(json!({"upstream": false}), 1.0).await;
    let (c, api, engine, dir) = (client(), edge.api(), edge.engine(), edge.handle.index_dir().to_owned());
    let t = token(&c, &api, &["tenant-a"], "secret").await;
    // Garble a file of the serving release: the query hitting it fails with 500, health says so.
    fs::write(dir.join("releases/v2/docs/canary.json"), b"\x00garbled{{").unwrap();
    let (status, _, body) = search(&c, &api, &t, "canary").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("index_corrupt")));
    let (status, _) = get_json(&c, &format!("{engine}/_healthz")).await;
    assert_eq!(status, 503);

    // Recovery 2: rebuild from the source documents into a new release.
    let r = c.post(format!("{engine}/admin/index/rebuild")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["release"], "v3", "a new release after v1 and v2");
    let (status, _) = get_json(&c, &format!("{engine}/_healthz")).await;
    assert_eq!(status, 200);
    let (status, _, body) = search(&c, &api, &t, "tenant-b").await;
    assert_eq!(status, 200);
    assert!(body["hits"].as_array().unwrap().iter().all(|h| h["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x == "tenant-a" || x == "*")));
}
