//! The consistent-hash ring: vnode tokens on the 64-bit circle, the search
//! for a key's token, and the clockwise walk that yields preference lists.

use std::collections::BTreeMap;
use std::fmt;

use super::{NodeId, Placement, SPACE};

/// The most virtual nodes one physical node may have: beyond this a ring of
/// a few hundred nodes would take gigabytes for no gain in balance.
pub const MAX_VNODES: u32 = 1 << 16;

/// A vnode count outside `1..=MAX_VNODES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("vnodes = {got} is out of range: expected 1..={max}", max = MAX_VNODES)]
pub struct VnodesError {
    /// The count that was asked for.
    pub got: u64,
}

/// Checks a configured vnode count (from a scenario file or a command line)
/// before it reaches [`Placement::add_node`], which clamps silently.
pub fn validate_vnodes(vnodes: u64) -> Result<u32, VnodesError> {
    match u32::try_from(vnodes) {
        Ok(v) if (1..=MAX_VNODES).contains(&v) => Ok(v),
        _ => Err(VnodesError { got: vnodes }),
    }
}

/// The token of a node's `index`-th vnode: the stable hash of the pair, so
/// every process builds the same ring. Indices count up from 0, so growing a
/// node's vnode count keeps its existing tokens and moves only what the new
/// ones take.
fn vnode_token(id: NodeId, index: u32) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&id.to_le_bytes());
    bytes[4..].copy_from_slice(&index.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

/// A vnode on the ring. Ordered by token, then owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Point {
    /// Where on the 64-bit circle the vnode sits.
    token: u64,
    /// The physical node it belongs to.
    owner: NodeId,
}

impl Point {
    fn new(token: u64, owner: NodeId) -> Self {
        Self { token, owner }
    }
}

/// A consistent-hash ring with virtual nodes.
///
/// Token `t` owns the arc `(previous token, t]`; the arc below the first
/// token and above the last wrap around to the first token. Equal tokens
/// (a 64-bit collision) are ordered by node id, so the result is still the
/// same everywhere.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Ring {
    /// Member nodes and their vnode counts, by id.
    members: BTreeMap<NodeId, u32>,
    /// Every vnode token with its owner, ascending by (token, owner). One
    /// array rather than two so a lookup's token and owners share a cache
    /// line.
    points: Vec<Point>,
    /// Prefix index into `points`: `index[p]` is the position of the first
    /// token whose top `bits` bits are `>= p`, with `index[2^bits] = len`. It
    /// narrows the search for a hash to the few tokens sharing its prefix.
    index: Vec<u32>,
    /// How many top bits of a hash select the `index` slot (1..=24, 0 when
    /// the ring is empty).
    bits: u32,
}

impl fmt::Debug for Ring {
    // The token arrays run to hundreds of thousands of entries; the members
    // say everything needed to rebuild them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("members", &self.members)
            .field("tokens", &self.points.len())
            .finish()
    }
}

impl Ring {
    /// An empty ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// A ring of the given `(node, vnodes)` pairs (vnodes clamped into
    /// `1..=MAX_VNODES`; a repeated node keeps its last count).
    pub fn with_nodes(nodes: &[(NodeId, u32)]) -> Self {
        let mut ring = Self::new();
        for &(id, vnodes) in nodes {
            ring.members.insert(id, vnodes.clamp(1, MAX_VNODES));
        }
        ring.points = ring
            .members
            .iter()
            .flat_map(|(&id, &v)| (0..v).map(move |i| Point::new(vnode_token(id, i), id)))
            .collect();
        ring.points.sort_unstable();
        ring.rebuild_index();
        ring
    }

    /// The vnode count of a member, `None` for a non-member.
    pub fn vnodes(&self, id: NodeId) -> Option<u32> {
        self.members.get(&id).copied()
    }

    /// All tokens on the ring, ascending, with their owners.
    pub fn tokens(&self) -> impl ExactSizeIterator<Item = (u64, NodeId)> + '_ {
        self.points.iter().map(|p| (p.token, p.owner))
    }

    /// The position in `points` of the first token at or after `hash`,
    /// wrapping to 0. The ring must not be empty.
    #[inline]
    fn successor(&self, hash: u64) -> usize {
        let slot = (hash >> (64 - self.bits)) as usize;
        let lo = self.index[slot] as usize;
        let hi = self.index[slot + 1] as usize;
        let pos = lo + self.points[lo..hi].partition_point(|p| p.token < hash);
        if pos == self.points.len() { 0 } else { pos }
    }

    /// Rebuilds `index` after `points` changed. One to two slots per token, so
    /// a search usually looks at zero to two tokens.
    fn rebuild_index(&mut self) {
        let len = self.points.len();
        assert!(
            u32::try_from(len).is_ok(),
            "ring of {len} tokens exceeds the u32 positions of its index"
        );
        self.index.clear();
        if len == 0 {
            self.bits = 0;
            return;
        }
        self.bits = (usize::BITS - len.leading_zeros()).clamp(1, 24);
        let slots = 1usize << self.bits;
        self.index.reserve(slots + 1);
        let shift = 64 - self.bits;
        let mut pos = 0usize;
        for slot in 0..slots {
            while pos < len && ((self.points[pos].token >> shift) as usize) < slot {
                pos += 1;
            }
            self.index.push(pos as u32);
        }
        self.index.push(len as u32);
    }

    /// Removes a member's tokens (not its `members` entry).
    fn drop_tokens(&mut self, id: NodeId) {
        self.points.retain(|p| p.owner != id);
    }

    /// Merges a node's freshly computed tokens into the sorted arrays.
    fn merge_tokens(&mut self, id: NodeId, vnodes: u32) {
        let mut fresh: Vec<Point> = (0..vnodes)
            .map(|i| Point::new(vnode_token(id, i), id))
            .collect();
        fresh.sort_unstable();
        let old = std::mem::take(&mut self.points);
        self.points.reserve(old.len() + fresh.len());
        let (mut i, mut j) = (0, 0);
        while i < old.len() || j < fresh.len() {
            if j == fresh.len() || (i < old.len() && old[i] < fresh[j]) {
                self.points.push(old[i]);
                i += 1;
            } else {
                self.points.push(fresh[j]);
                j += 1;
            }
        }
    }
}

impl Placement for Ring {
    fn preference_list_for_hash_into(&self, hash: u64, n: usize, out: &mut Vec<NodeId>) {
        out.clear();
        let want = n.min(self.members.len());
        if want == 0 {
            return;
        }
        let len = self.points.len();
        let mut pos = self.successor(hash);
        // Every member holds at least one token, so one lap finds `want`
        // distinct nodes; `out` is tiny, so a linear scan beats a set.
        for _ in 0..len {
            let owner = self.points[pos].owner;
            if !out.contains(&owner) {
                out.push(owner);
                if out.len() == want {
                    return;
                }
            }
            pos += 1;
            if pos == len {
                pos = 0;
            }
        }
        panic!(
            "ring walk found {} of {want} members: members without tokens",
            out.len()
        );
    }

    fn primary_for_hash(&self, hash: u64) -> Option<NodeId> {
        if self.points.is_empty() {
            None
        } else {
            Some(self.points[self.successor(hash)].owner)
        }
    }

    /// `vnodes` is clamped into `1..=MAX_VNODES` (check it first with
    /// [`validate_vnodes`] where it comes from outside).
    fn add_node(&mut self, id: NodeId, vnodes: u32) {
        let vnodes = vnodes.clamp(1, MAX_VNODES);
        match self.members.insert(id, vnodes) {
            Some(old) if old == vnodes => return,
            Some(_) => self.drop_tokens(id),
            None => {}
        }
        self.merge_tokens(id, vnodes);
        self.rebuild_index();
    }

    fn remove_node(&mut self, id: NodeId) {
        if self.members.remove(&id).is_some() {
            self.drop_tokens(id);
            self.rebuild_index();
        }
    }

    fn nodes(&self) -> Vec<NodeId> {
        self.members.keys().copied().collect()
    }

    fn node_count(&self) -> usize {
        self.members.len()
    }

    fn ownership(&self) -> BTreeMap<NodeId, f64> {
        let mut owned: BTreeMap<NodeId, u128> = self.members.keys().map(|&id| (id, 0)).collect();
        let points = &self.points;
        for (i, point) in points.iter().enumerate() {
            let arc = match i.checked_sub(1) {
                Some(prev) => u128::from(point.token - points[prev].token),
                // From the last token round through 2^64 to the first.
                None => {
                    let last = points[points.len() - 1].token;
                    u128::from(point.token) + (1u128 << 64) - u128::from(last)
                }
            };
            *owned.entry(point.owner).or_default() += arc;
        }
        owned
            .into_iter()
            .map(|(id, arc)| (id, arc as f64 / SPACE))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_ring_places_nothing() {
        let ring = Ring::new();
        assert_eq!(ring.preference_list(b"a", 3), Vec::<NodeId>::new());
        assert_eq!(ring.primary_for_hash(7), None);
        assert!(ring.ownership().is_empty());
    }

    #[test]
    fn tokens_are_fixed_across_builds() {
        // Pinned values: if these change, every deployed ring changes.
        assert_eq!(vnode_token(0, 0), 0xc77b_3abb_6f87_acd9);
        assert_eq!(vnode_token(1, 2), 0x0389_e2c8_892d_5450);
        assert_eq!(crate::ring::key_hash(b""), 0x2d06_8005_38d3_94c2);
        assert_eq!(crate::ring::key_hash(b"key:0"), 0xb464_ee7b_6334_4e80);
    }

    #[test]
    fn successor_matches_plain_binary_search() {
        let ring = Ring::with_nodes(&[(1, 3), (2, 5), (9, 40)]);
        let probes = ring
            .points
            .iter()
            .flat_map(|p| [p.token.wrapping_sub(1), p.token, p.token.wrapping_add(1)])
            .chain([0, 1, u64::MAX, u64::MAX / 2]);
        for h in probes {
            let plain = ring.points.partition_point(|p| p.token < h) % ring.points.len();
            assert_eq!(ring.successor(h), plain, "hash {h:#x}");
        }
    }

    #[test]
    fn incremental_changes_equal_a_fresh_build() {
        let mut ring = Ring::new();
        ring.add_node(3, 10);
        ring.add_node(1, 20);
        ring.add_node(2, 5);
        ring.add_node(3, 30);
        ring.remove_node(1);
        ring.remove_node(42);
        assert_eq!(ring, Ring::with_nodes(&[(2, 5), (3, 30)]));
    }

    #[test]
    fn vnodes_are_validated_and_clamped() {
        assert_eq!(validate_vnodes(0), Err(VnodesError { got: 0 }));
        assert_eq!(validate_vnodes(1), Ok(1));
        assert_eq!(validate_vnodes(u64::from(MAX_VNODES)), Ok(MAX_VNODES));
        let err = validate_vnodes(u64::from(MAX_VNODES) + 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vnodes = 65537 is out of range: expected 1..=65536"
        );
        let mut ring = Ring::new();
        ring.add_node(5, 0);
        assert_eq!(ring.vnodes(5), Some(1));
        assert_eq!(ring.preference_list(b"k", 2), vec![5]);
    }
}
