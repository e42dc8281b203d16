//! A Merkle tree over the key-hash space, for anti-entropy between two
//! replicas (see `machine::antientropy`).
//!
//! The space of [`key_hash`](crate::ring::key_hash) is cut into [`LEAVES`]
//! equal ranges. A leaf's hash is the XOR of [`entry_digest`] over the keys
//! in its range: XOR is order-independent, so the tree is the same however
//! the keys arrived, and it is its own inverse, so a store change is one
//! XOR of the old entry's digest and one of the new entry's, in O(1), with
//! no rebuild. The [`FANOUT`] leaves under one bucket are hashed together
//! into the bucket's hash on demand (two levels are enough: one round trip
//! compares [`BUCKETS`] hashes, the next only the leaves under the buckets
//! that differ).
//!
//! Everything here is pure and deterministic across processes and builds
//! (xxh3, like placement), as two nodes must agree on every hash.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::store::{Entry, Version};

/// Leaves per tree: ranges of the key-hash space.
pub const LEAVES: usize = 1024;
/// Leaves under one bucket.
pub const FANOUT: usize = 32;
/// Buckets per tree: the level compared first.
pub const BUCKETS: usize = LEAVES / FANOUT;

/// The leaf of a key whose [`key_hash`](crate::ring::key_hash) is `hash`:
/// its top bits, so a leaf is one contiguous range of the ring.
pub fn leaf_of(hash: u64) -> usize {
    (hash >> (64 - LEAVES.trailing_zeros())) as usize
}

/// The digest of one stored key: xxh3 of the key, seeded by its version and
/// whether it is a tombstone, so a newer write or a delete changes it.
pub fn digest(key: &[u8], version: Version, tombstone: bool) -> u64 {
    let Version { ts, node } = version;
    let seed = ts.rotate_left(17) ^ (u64::from(node) << 1 | u64::from(tombstone));
    // A zero digest would leave a leaf unchanged; xxh3 makes that 2^-64.
    xxh3_64_with_seed(key, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// [`digest`] of a stored entry.
pub fn entry_digest(key: &[u8], entry: &Entry) -> u64 {
    digest(key, entry.version, entry.is_tombstone())
}

/// One tree's leaves; inner hashes are computed when asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// XOR of the digests of the keys in each leaf's range.
    leaves: Vec<u64>,
}

impl Default for Tree {
    fn default() -> Self {
        Self {
            leaves: vec![0; LEAVES],
        }
    }
}

impl Tree {
    /// Adds a digest to leaf `leaf`, or removes it if it was there (XOR).
    pub fn toggle(&mut self, leaf: usize, digest: u64) {
        self.leaves[leaf] ^= digest;
    }

    /// Every leaf's hash, in order.
    pub fn leaves(&self) -> &[u64] {
        &self.leaves
    }

    /// Leaf `leaf`'s hash.
    pub fn leaf(&self, leaf: usize) -> u64 {
        self.leaves[leaf]
    }

    /// Bucket `b`'s hash: xxh3 of its leaves' hashes (0 when all are 0, so
    /// an empty range reads as empty).
    pub fn bucket(&self, b: usize) -> u64 {
        let leaves = &self.leaves[b * FANOUT..(b + 1) * FANOUT];
        if leaves.iter().all(|&h| h == 0) {
            return 0;
        }
        let mut bytes = [0u8; FANOUT * 8];
        for (chunk, h) in bytes.chunks_exact_mut(8).zip(leaves) {
            chunk.copy_from_slice(&h.to_le_bytes());
        }
        xxh3_64(&bytes)
    }

    /// Every bucket's hash, in order.
    pub fn buckets(&self) -> Vec<u64> {
        (0..BUCKETS).map(|b| self.bucket(b)).collect()
    }

    /// The leaves, with their hashes, under every bucket whose hash is not
    /// `theirs`' (a bucket missing from `theirs` differs).
    pub fn leaves_under_differing(&self, theirs: &[u64]) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        for b in 0..BUCKETS {
            if theirs.get(b) != Some(&self.bucket(b)) {
                for l in b * FANOUT..(b + 1) * FANOUT {
                    out.push((l as u32, self.leaves[l]));
                }
            }
        }
        out
    }

    /// The leaves of `theirs` whose hash differs from this tree's, in order
    /// (out-of-range leaf numbers are ignored).
    pub fn differing_leaves(&self, theirs: &[(u32, u64)]) -> Vec<u32> {
        let mut out: Vec<u32> = theirs
            .iter()
            .filter(|&&(l, h)| self.leaves.get(l as usize).is_some_and(|&mine| mine != h))
            .map(|&(l, _)| l)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Empties the tree.
    pub fn clear(&mut self) {
        self.leaves.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::key_hash;

    fn v(ts: u64) -> Version {
        Version { ts, node: 1 }
    }

    fn add(t: &mut Tree, key: &[u8], ver: Version, tomb: bool) {
        t.toggle(leaf_of(key_hash(key)), digest(key, ver, tomb));
    }

    #[test]
    fn order_does_not_matter_and_removal_undoes() {
        let (mut a, mut b) = (Tree::default(), Tree::default());
        for i in 0..100u64 {
            add(&mut a, format!("k{i}").as_bytes(), v(i), false);
        }
        for i in (0..100u64).rev() {
            add(&mut b, format!("k{i}").as_bytes(), v(i), false);
        }
        assert_eq!(a, b);
        for i in 0..100u64 {
            add(&mut a, format!("k{i}").as_bytes(), v(i), false);
        }
        assert_eq!(a, Tree::default());
    }

    #[test]
    fn version_and_tombstone_change_the_digest() {
        assert_ne!(digest(b"k", v(1), false), digest(b"k", v(2), false));
        assert_ne!(digest(b"k", v(1), false), digest(b"k", v(1), true));
        let other = Version { ts: 1, node: 2 };
        assert_ne!(digest(b"k", v(1), false), digest(b"k", other, false));
    }

    #[test]
    fn only_the_changed_bucket_and_leaf_differ() {
        let mut a = Tree::default();
        for i in 0..500u64 {
            add(&mut a, format!("k{i}").as_bytes(), v(i), false);
        }
        let mut b = a.clone();
        add(&mut b, b"extra", v(9), false);
        let leaves = b.leaves_under_differing(&a.buckets());
        assert_eq!(leaves.len(), FANOUT);
        let diff = a.differing_leaves(&leaves);
        assert_eq!(diff, vec![leaf_of(key_hash(b"extra")) as u32]);
        assert!(a.leaves_under_differing(&a.buckets()).is_empty());
    }

    #[test]
    fn leaves_cover_the_space_in_order() {
        assert_eq!(leaf_of(0), 0);
        assert_eq!(leaf_of(u64::MAX), LEAVES - 1);
        assert_eq!(leaf_of(1 << 63), LEAVES / 2);
    }
}
