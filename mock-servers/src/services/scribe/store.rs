//! The replicated key/value store: one committed copy plus what differs per node.
//!
//! Raft keeps every node's state machine equal to the committed log, so the mock keeps
//! one committed map and models only what can make a node's copy differ:
//! - corruption: a node's values bit-rotted on disk ([`Store::corrupt`]). Reads on that
//!   node return the rotten bytes and its Merkle proofs stop matching the committed root;
//!   [`Store::repair`] re-syncs it from the cluster (what the runbook's "clear the data
//!   and let it sync" achieves);
//! - tombstones: deleted bytes a node still holds until `POST /admin/compact` on it.
//!
//! A stopped node catches up at once when it restarts: the mock does not model log replay.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::Serialize;

use super::merkle::{self, Hash, Side};
use super::raft::NodeId;

/// An inclusion proof as `/verify/{key}` serves it (hex strings).
#[derive(Clone, Debug, Serialize)]
pub struct Proof {
    /// Always `sha256`.
    pub algorithm: &'static str,
    /// Leaf hash of the pair this node holds.
    pub leaf_hash: String,
    /// Position of the key among the sorted keys.
    pub leaf_index: usize,
    /// Number of keys (the RFC 9162 `tree_size`).
    pub tree_size: usize,
    /// Sibling hashes from the leaf up (RFC 9162 `inclusion_path`).
    pub siblings: Vec<String>,
    /// The same siblings with the side each goes on.
    pub path: Vec<PathStep>,
    /// The committed root the proof must fold to.
    pub root_hash: String,
    /// What this node's own copy folds to (differs from `root_hash` when corrupted).
    pub computed_root: String,
}

/// One sibling with its side.
#[derive(Clone, Debug, Serialize)]
pub struct PathStep {
    /// Hex sibling hash.
    pub hash: String,
    /// `left` or `right` of the running hash.
    pub side: Side,
}

/// The store.
#[derive(Debug, Default)]
pub struct Store {
    data: BTreeMap<String, Entry>,
    bytes: u64,
    version: u64,
    rotten: BTreeMap<NodeId, BTreeMap<String, Entry>>,
    tombstone_bytes: BTreeMap<NodeId, u64>,
}

/// A stored value with its leaf hash, computed once per write so a proof only has to
/// copy hashes while it holds the store's lock.
#[derive(Clone, Debug)]
struct Entry {
    value: Vec<u8>,
    leaf: Hash,
}

impl Entry {
    fn new(key: &str, value: Vec<u8>) -> Self {
        Self { leaf: merkle::leaf_hash(key.as_bytes(), &value), value }
    }
}

/// What a proof needs, copied out of the store so the hashing runs without its lock.
#[derive(Debug)]
pub struct ProofInput {
    index: usize,
    leaves: Vec<Hash>,
    /// The committed leaves, when the node's own differ (it is corrupted).
    committed: Option<Vec<Hash>>,
}

fn pair_bytes(key: &str, value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64
}

impl Store {
    /// Number of committed keys.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Whether `key` is committed.
    pub fn contains(&self, key: &str) -> bool {
        self.data.contains_key(key)
    }

    /// Bytes a node holds on disk: live keys and values plus its tombstones.
    pub fn bytes_on(&self, node: NodeId) -> u64 {
        self.bytes + self.tombstone_bytes.get(&node).copied().unwrap_or(0)
    }

    /// The value `node` returns for `key` (its rotten copy if it is corrupted).
    pub fn get(&self, node: NodeId, key: &str) -> Option<&[u8]> {
        let rotten = self.rotten.get(&node).and_then(|m| m.get(key));
        rotten.or_else(|| self.data.get(key)).map(|e| e.value.as_slice())
    }

    /// Commits `key = value` on every node; true if the key is new.
    pub fn put(&mut self, key: &str, value: Vec<u8>) -> bool {
        for m in self.rotten.values_mut() {
            m.remove(key);
        }
        self.bytes += pair_bytes(key, &value);
        self.version += 1;
        match self.data.insert(key.to_owned(), Entry::new(key, value)) {
            Some(old) => {
                self.bytes -= pair_bytes(key, &old.value);
                false
            }
            None => true,
        }
    }

    /// Deletes `key` on every node, leaving a tombstone on each; true if it existed.
    pub fn delete(&mut self, key: &str, nodes: &[NodeId]) -> bool {
        let Some(old) = self.data.remove(key) else {
            return false;
        };
        let freed = pair_bytes(key, &old.value);
        self.bytes -= freed;
        self.version += 1;
        for m in self.rotten.values_mut() {
            m.remove(key);
        }
        for node in nodes {
            *self.tombstone_bytes.entry(*node).or_default() += freed;
        }
        true
    }

    /// Compacts `node`'s copy; returns the tombstone bytes reclaimed.
    pub fn compact(&mut self, node: NodeId) -> u64 {
        self.tombstone_bytes.remove(&node).unwrap_or(0)
    }

    /// Bit-rots every value `node` holds (flips the low bit of each value's last byte, so
    /// ASCII stays ASCII); returns how many keys were garbled.
    pub fn corrupt(&mut self, node: NodeId) -> usize {
        let rotten: BTreeMap<String, Entry> = self
            .data
            .iter()
            .map(|(k, e)| {
                let mut bad = e.value.clone();
                match bad.last_mut() {
                    Some(b) => *b ^= 0x01,
                    None => bad.push(0x00),
                }
                (k.clone(), Entry::new(k, bad))
            })
            .collect();
        let n = rotten.len();
        self.rotten.insert(node, rotten);
        n
    }

    /// Re-syncs `node` from the committed copy; returns how many keys were repaired.
    pub fn repair(&mut self, node: NodeId) -> usize {
        self.rotten.remove(&node).map_or(0, |m| m.len())
    }

    /// Whether `node` holds any rotten value.
    pub fn is_corrupted(&self, node: NodeId) -> bool {
        self.rotten.get(&node).is_some_and(|m| !m.is_empty())
    }

    /// Copies what `node`'s proof for `key` needs; `None` if no such key. Linear in the
    /// number of keys, but only copying hashes.
    pub fn proof_input(&self, node: NodeId, key: &str) -> Option<ProofInput> {
        let before = (Bound::Unbounded, Bound::Excluded(key));
        let index = self.data.range::<str, _>(before).count();
        self.data.get(key)?;
        let committed = || self.data.values().map(|e| e.leaf).collect::<Vec<_>>();
        match self.rotten.get(&node).filter(|m| !m.is_empty()) {
            None => Some(ProofInput { index, leaves: committed(), committed: None }),
            Some(rotten) => {
                let own = self.data.iter().map(|(k, e)| rotten.get(k).unwrap_or(e).leaf).collect();
                Some(ProofInput { index, leaves: own, committed: Some(committed()) })
            }
        }
    }

    /// The proof `node` gives for `key`, built under the lock (for tests).
    #[cfg(test)]
    pub fn proof(&self, node: NodeId, key: &str) -> Option<Proof> {
        self.proof_input(node, key)?.prove()
    }
}

impl ProofInput {
    /// Builds the proof: the node's path and root, and the committed root.
    pub fn prove(self) -> Option<Proof> {
        let leaf = *self.leaves.get(self.index)?;
        let steps = merkle::inclusion_path(&self.leaves, self.index)?;
        let computed = merkle::fold(leaf, &steps);
        let committed = self.committed.as_deref().map_or(computed, merkle::root);
        Some(Proof {
            algorithm: "sha256",
            leaf_hash: hex::encode(leaf),
            leaf_index: self.index,
            tree_size: self.leaves.len(),
            siblings: steps.iter().map(|s| hex::encode(s.hash)).collect(),
            path: steps.iter().map(|s| PathStep { hash: hex::encode(s.hash), side: s.side }).collect(),
            root_hash: hex::encode(committed),
            computed_root: hex::encode(computed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        let mut s = Store::default();
        for (k, v) in [("a", "1"), ("b", "22"), ("c", "333")] {
            s.put(k, v.as_bytes().to_vec());
        }
        s
    }

    #[test]
    fn bytes_count_keys_and_values_and_tombstones_until_compaction() {
        let mut s = store();
        // Hand count: (1+1) + (1+2) + (1+3) = 9.
        assert_eq!(s.bytes_on(1), 9);
        assert!(!s.put("b", b"2".to_vec()));
        assert_eq!(s.bytes_on(1), 8);
        assert!(s.delete("c", &[1, 2]));
        assert_eq!(s.bytes_on(1), 8);
        assert_eq!(s.compact(1), 4);
        assert_eq!((s.bytes_on(1), s.bytes_on(2)), (4, 8));
    }

    #[test]
    fn corruption_changes_reads_and_proofs_on_that_node_only() {
        let mut s = store();
        assert_eq!(s.corrupt(2), 3);
        assert_eq!(s.get(2, "a"), Some(&b"0"[..]));
        assert_eq!(s.get(1, "a"), Some(&b"1"[..]));
        let good = s.proof(1, "b").map(|p| (p.root_hash, p.computed_root));
        let bad = s.proof(2, "b").map(|p| (p.root_hash, p.computed_root));
        assert!(matches!(&good, Some((r, c)) if r == c));
        assert!(matches!(&bad, Some((r, c)) if r != c));
        assert_eq!(s.repair(2), 3);
        assert!(!s.is_corrupted(2));
    }

    #[test]
    fn a_fresh_write_replaces_a_rotten_value() {
        let mut s = store();
        s.corrupt(3);
        s.put("a", b"9".to_vec());
        assert_eq!(s.get(3, "a"), Some(&b"9"[..]));
        assert_eq!(s.get(3, "b"), Some(&b"23"[..]));
    }
}
