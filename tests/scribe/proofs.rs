//! Merkle proofs checked by an independent verifier written from RFC 6962 / RFC 9162.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{assert_json_error, Cluster, WRITE};

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The documented leaf: SHA-256(0x00 || u32_be(len key) || key || value).
fn leaf(key: &str, value: &[u8]) -> [u8; 32] {
    sha(&[&[0], &(key.len() as u32).to_be_bytes(), key.as_bytes(), value])
}

/// RFC 6962 2.1 Merkle Tree Hash over leaf hashes.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => sha(&[]),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            sha(&[&[1], &mth(&leaves[..k]), &mth(&leaves[k..])])
        }
    }
}

/// RFC 9162 2.1.3.2: verifying an inclusion proof.
fn verify_inclusion(index: u64, size: u64, leaf: [u8; 32], path: &[[u8; 32]], root: [u8; 32]) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s, mut r) = (index, size - 1, leaf);
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = sha(&[&[1], p, &r]);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = sha(&[&[1], &r, p]);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == root
}

fn hex32(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap()).unwrap().try_into().unwrap()
}

/// Checks `/verify` output the way a client would: is the served leaf the pair it
/// expects, and does the path fold it to the committed root?
fn client_check(body: &Value, key: &str, value: &str) -> (bool, bool) {
    let p = &body["proof"];
    let served_leaf = hex32(&p["leaf_hash"]);
    let path: Vec<[u8; 32]> = p["siblings"].as_array().unwrap().iter().map(hex32).collect();
    let root = hex32(&p["root_hash"]);
    let folds =
        verify_inclusion(p["leaf_index"].as_u64().unwrap(), p["tree_size"].as_u64().unwrap(), served_leaf, &path, root);
    (served_leaf == leaf(key, value.as_bytes()), folds)
}

#[tokio::test]
async fn merkle_proofs_verify_independently_and_fail_on_a_corrupted_node() {
    let c = Cluster::default().await;
    let data: BTreeMap<&str, &str> =
        [("user:alice", "Alice"), ("user:bob", "Bob"), ("a", "1"), ("zeta", "last"), ("m", "")].into();
    for (k, v) in &data {
        assert_eq!(c.put(1, k, v, Some(WRITE)).await.status, StatusCode::OK);
    }
    let expected_root = hex::encode(mth(&data.iter().map(|(k, v)| leaf(k, v.as_bytes())).collect::<Vec<_>>()));
    for node in c.handle.node_ids() {
        for (k, v) in &data {
            let r = c.get(node, &format!("/verify/{k}")).await;
            assert_eq!((r.status, r.body["verified"].as_bool()), (StatusCode::OK, Some(true)), "{}", r.body);
            assert_eq!(r.body["proof"]["root_hash"], expected_root.as_str(), "root over the test's own data");
            assert_eq!(client_check(&r.body, k, v), (true, true), "node {node} key {k}");
        }
    }
    assert_json_error(&c.get(1, "/verify/missing").await, StatusCode::NOT_FOUND, "key_not_found");

    assert_eq!(c.handle.corrupt_node(2).unwrap(), data.len());
    let bad = c.get(2, "/verify/user:bob").await;
    assert_json_error(&bad, StatusCode::INTERNAL_SERVER_ERROR, "merkle_mismatch");
    assert_eq!(bad.body["verified"], false);
    assert_eq!(client_check(&bad.body, "user:bob", "Bob"), (false, false), "the client's own check fails too");
    let good = c.get(1, "/verify/user:bob").await;
    assert_eq!(client_check(&good.body, "user:bob", "Bob"), (true, true));

    c.handle.restore_node(2).await.unwrap();
    let repaired = c.get(2, "/verify/user:bob").await;
    assert_eq!(repaired.status, StatusCode::OK);
    assert_eq!(client_check(&repaired.body, "user:bob", "Bob"), (true, true));
}
