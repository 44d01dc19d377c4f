//! The Merkle tree behind `GET /verify/{key}`: SHA-256 over the key-sorted store.
//!
//! The tree is the one of RFC 6962 / RFC 9162 (Certificate Transparency), so any client
//! can check a proof with the standard inclusion-proof algorithm and nothing from this
//! crate:
//! - leaf data for a pair is `u32_be(len(key)) || key || value`;
//! - `leaf_hash = SHA-256(0x00 || leaf data)`, `node_hash = SHA-256(0x01 || left || right)`;
//! - leaves are ordered by key (byte order); the root of `n` leaves splits at the largest
//!   power of two below `n`. Built bottom-up, that is "pair neighbours, carry a lone last
//!   node up unchanged", which is what [`root`] and [`inclusion_path`] do;
//! - the empty tree's root is `SHA-256("")`.
//!
//! The audit path lists sibling hashes from the leaf up, skipping levels where the node
//! was carried up without a sibling (exactly RFC 9162's `PATH`).

use serde::Serialize;
use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// Hash of one key/value pair as a leaf.
pub fn leaf_hash(key: &[u8], value: &[u8]) -> Hash {
    let len = u32::try_from(key.len()).unwrap_or(u32::MAX);
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(len.to_be_bytes());
    h.update(key);
    h.update(value);
    h.finalize().into()
}

/// Hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root over `leaves` (in key order); `SHA-256("")` for no leaves.
pub fn root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return Sha256::digest([]).into();
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = next_level(&level);
    }
    level.first().copied().unwrap_or_default()
}

/// One level up: neighbours paired, a lone last node carried up unchanged.
fn next_level(level: &[Hash]) -> Vec<Hash> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [l, r] => node_hash(l, r),
            lone => lone.first().copied().unwrap_or_default(),
        })
        .collect()
}

/// Which side of the running hash a sibling sits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The sibling is the left input: `node_hash(sibling, running)`.
    Left,
    /// The sibling is the right input: `node_hash(running, sibling)`.
    Right,
}

/// One step of an audit path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The sibling hash.
    pub hash: Hash,
    /// Where it goes.
    pub side: Side,
}

/// The audit path of leaf `index` among `leaves`, from the leaf up; `None` if out of range.
pub fn inclusion_path(leaves: &[Hash], index: usize) -> Option<Vec<Step>> {
    if index >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    let mut level = leaves.to_vec();
    let mut i = index;
    while level.len() > 1 {
        let sibling = i ^ 1;
        if let Some(hash) = level.get(sibling) {
            let side = if i.is_multiple_of(2) { Side::Right } else { Side::Left };
            path.push(Step { hash: *hash, side });
        }
        level = next_level(&level);
        i /= 2;
    }
    Some(path)
}

/// Folds a leaf hash up an audit path to the root it implies.
pub fn fold(leaf: Hash, path: &[Step]) -> Hash {
    path.iter().fold(leaf, |acc, step| match step.side {
        Side::Left => node_hash(&step.hash, &acc),
        Side::Right => node_hash(&acc, &step.hash),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962 section 2.1, written recursively as the RFC states it (the oracle).
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Sha256::digest([]).into(),
            1 => leaves[0],
            n => {
                let k = n.next_power_of_two() / 2;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("k{i:03}").as_bytes(), b"v")).collect()
    }

    #[test]
    fn root_matches_the_rfc_6962_recursive_definition() {
        for n in 0..40 {
            let l = leaves(n);
            assert_eq!(root(&l), mth(&l), "n = {n}");
        }
    }

    #[test]
    fn every_path_folds_to_the_root() {
        for n in 1..20 {
            let l = leaves(n);
            for i in 0..n {
                let path = inclusion_path(&l, i).unwrap_or_default();
                assert_eq!(fold(l[i], &path), mth(&l), "n = {n}, i = {i}");
            }
        }
        assert!(inclusion_path(&leaves(3), 3).is_none());
    }

    #[test]
    fn leaf_hash_is_sha256_of_the_documented_encoding() {
        // Hand-built input: 0x00, u32 BE length 1, "a", "b".
        let expected: Hash = Sha256::digest([0x00, 0, 0, 0, 1, b'a', b'b']).into();
        assert_eq!(leaf_hash(b"a", b"b"), expected);
        // The length prefix keeps ("ab", "") and ("a", "b") apart.
        assert_ne!(leaf_hash(b"ab", b""), leaf_hash(b"a", b"b"));
    }

    #[test]
    fn a_changed_leaf_no_longer_folds_to_the_old_root() {
        let mut l = leaves(5);
        let old = root(&l);
        let path = inclusion_path(&l, 1).unwrap_or_default();
        l[3] = leaf_hash(b"k003", b"garbled");
        let tampered_path = inclusion_path(&l, 1).unwrap_or_default();
        assert_eq!(fold(l[1], &path), old);
        assert_ne!(fold(l[1], &tampered_path), old);
    }
}
