//! What a membership change moves: the parts of the hash space whose primary
//! differs between a placement before and after the change.
//!
//! Both placements answer exactly, over all 2^64 hashes: a [`Ring`] by
//! comparing owners arc by arc between the union of both rings' tokens, a
//! [`ModN`] by counting residues with the Chinese remainder theorem. For any
//! two placements behind `dyn Placement` (a ring against a `ModN`, say),
//! [`moved_keys_fraction`] gives the fraction over a sample of keys.

use std::collections::BTreeMap;

use super::{ModN, NodeId, Placement, Ring, SPACE, modn::residue_count};

/// A contiguous range of hashes, `start..=end`, whose primary changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MovedRange {
    /// First hash of the range.
    pub start: u64,
    /// Last hash of the range (inclusive; `start <= end`).
    pub end: u64,
    /// Primary before the change (`None`: the ring was empty).
    pub from: Option<NodeId>,
    /// Primary after the change (`None`: the ring is now empty).
    pub to: Option<NodeId>,
}

impl MovedRange {
    /// How many hashes the range holds (up to 2^64).
    pub fn len(&self) -> u128 {
        u128::from(self.end - self.start) + 1
    }

    /// Never true: a range holds at least its `start`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The range's share of the 2^64 hash space.
    pub fn fraction(&self) -> f64 {
        self.len() as f64 / SPACE
    }

    /// Whether `hash` lies in the range.
    pub fn contains(&self, hash: u64) -> bool {
        (self.start..=self.end).contains(&hash)
    }
}

/// Placements that can say exactly how much of the hash space changes primary.
pub trait Movement: Placement {
    /// The fraction of the 2^64 hash space whose primary differs between
    /// `self` (before) and `after`, in `[0, 1]`.
    fn moved_fraction(&self, after: &Self) -> f64;
}

/// The fraction of the 2^64 hash space whose primary differs between
/// `before` and `after` (exact).
pub fn moved_fraction<P: Movement>(before: &P, after: &P) -> f64 {
    before.moved_fraction(after)
}

/// The fraction of `keys` whose primary differs between two placements of
/// any kind: an estimate of the moved hash space from a sample (0 for no
/// keys). With keys drawn from the workload it is also the share of cached
/// entries a change would strand.
pub fn moved_keys_fraction<K: AsRef<[u8]>>(
    before: &dyn Placement,
    after: &dyn Placement,
    keys: impl IntoIterator<Item = K>,
) -> f64 {
    let (mut moved, mut total) = (0u64, 0u64);
    for key in keys {
        let hash = super::key_hash(key.as_ref());
        total += 1;
        if before.primary_for_hash(hash) != after.primary_for_hash(hash) {
            moved += 1;
        }
    }
    if total == 0 {
        0.0
    } else {
        moved as f64 / total as f64
    }
}

impl Ring {
    /// The hash ranges whose primary differs between `self` (before) and
    /// `other` (after), ascending, adjacent ranges with the same move merged.
    ///
    /// Between two consecutive tokens of either ring both owners are
    /// constant, so comparing owners at each token of the union is exact.
    pub fn moved_ranges(&self, other: &Ring) -> Vec<MovedRange> {
        let mut bounds: Vec<u64> = self.tokens().chain(other.tokens()).map(|t| t.0).collect();
        bounds.sort_unstable();
        bounds.dedup();
        if bounds.last() != Some(&u64::MAX) {
            // The arc above the last token wraps to the first one; closing
            // the space at u64::MAX gives it a range of its own.
            bounds.push(u64::MAX);
        }
        let mut moved: Vec<MovedRange> = Vec::new();
        let mut start = 0u64;
        for &end in &bounds {
            let from = self.primary_for_hash(end);
            let to = other.primary_for_hash(end);
            if from != to {
                match moved.last_mut() {
                    Some(last)
                        if last.end.wrapping_add(1) == start
                            && last.from == from
                            && last.to == to =>
                    {
                        last.end = end;
                    }
                    _ => moved.push(MovedRange {
                        start,
                        end,
                        from,
                        to,
                    }),
                }
            }
            start = end.wrapping_add(1);
        }
        moved
    }
}

impl Ring {
    /// How much of the hash space each `(from, to)` pair of primaries hands
    /// over between `self` (before) and `other` (after): the moved ranges
    /// summed per pair, as fractions of 2^64.
    pub fn moved_shares(&self, other: &Ring) -> BTreeMap<(Option<NodeId>, Option<NodeId>), f64> {
        let mut shares: BTreeMap<_, u128> = BTreeMap::new();
        for r in self.moved_ranges(other) {
            *shares.entry((r.from, r.to)).or_default() += r.len();
        }
        shares
            .into_iter()
            .map(|(pair, len)| (pair, len as f64 / SPACE))
            .collect()
    }
}

impl Movement for Ring {
    fn moved_fraction(&self, after: &Self) -> f64 {
        let moved: u128 = self.moved_ranges(after).iter().map(MovedRange::len).sum();
        moved as f64 / SPACE
    }
}

impl Movement for ModN {
    fn moved_fraction(&self, after: &Self) -> f64 {
        let (before, after) = (self.members(), after.members());
        if before.is_empty() && after.is_empty() {
            return 0.0;
        }
        let space = 1u128 << 64;
        let kept = unchanged_count(before, after, space);
        (space - kept) as f64 / SPACE
    }
}

/// How many hashes `h` in `[0, space)` have `before[h % N] == after[h % M]`.
///
/// A node at position `a` before and `b` after keeps exactly the hashes with
/// `h ≡ a (mod N)` and `h ≡ b (mod M)`: by the Chinese remainder theorem one
/// residue `r` modulo `lcm(N, M)` when `a ≡ b (mod gcd(N, M))`, none
/// otherwise. Summing the residues' counts is exact and costs O(N log M).
fn unchanged_count(before: &[NodeId], after: &[NodeId], space: u128) -> u128 {
    if before.is_empty() || after.is_empty() {
        return 0;
    }
    let (n, m) = (before.len() as i128, after.len() as i128);
    let g = gcd(n, m);
    let (n_g, m_g) = (n / g, m / g);
    let lcm = n_g * m;
    // n/g and m/g are coprime, so n/g has an inverse modulo m/g.
    let inverse = mod_inverse(n_g % m_g, m_g);
    let mut kept = 0u128;
    for (a, id) in before.iter().enumerate() {
        let Ok(b) = after.binary_search(id) else {
            continue;
        };
        let (a, b) = (a as i128, b as i128);
        if (b - a) % g != 0 {
            continue;
        }
        let k = ((b - a) / g).rem_euclid(m_g) * inverse % m_g;
        let residue = a + n * k;
        kept += residue_count(residue as u128, lcm as u128, space);
    }
    kept
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The inverse of `a` modulo `m` (`gcd(a, m) = 1`); 0 when `m = 1`.
fn mod_inverse(a: i128, m: i128) -> i128 {
    let (mut old_r, mut r) = (a, m);
    let (mut old_s, mut s) = (1i128, 0i128);
    while r != 0 {
        let q = old_r / r;
        (old_r, r) = (r, old_r - q * r);
        (old_s, s) = (s, old_s - q * s);
    }
    old_s.rem_euclid(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_force(before: &[NodeId], after: &[NodeId], space: u128) -> u128 {
        (0..space)
            .filter(|&h| {
                before[(h % before.len() as u128) as usize]
                    == after[(h % after.len() as u128) as usize]
            })
            .count() as u128
    }

    #[test]
    fn crt_count_matches_brute_force() {
        let lists: [&[NodeId]; 6] = [
            &[1],
            &[1, 2],
            &[1, 2, 3],
            &[2, 3, 4, 5],
            &[1, 2, 3, 4, 5, 6],
            &[0, 2, 3, 4, 5, 6, 7, 9, 11],
        ];
        for before in lists {
            for after in lists {
                for space in [1u128, 7, 36, 100, 1001] {
                    assert_eq!(
                        unchanged_count(before, after, space),
                        brute_force(before, after, space),
                        "{before:?} -> {after:?} over {space}"
                    );
                }
            }
        }
    }

    #[test]
    fn mod_n_growing_from_10_to_11_moves_most_keys() {
        let ten: Vec<NodeId> = (0..10).collect();
        let eleven: Vec<NodeId> = (0..11).collect();
        let moved = moved_fraction(&ModN::with_nodes(&ten), &ModN::with_nodes(&eleven));
        // Node i keeps h ≡ i (mod 10) and (mod 11): one residue in 110.
        let expected = 1.0 - 10.0 / 110.0;
        assert!((moved - expected).abs() < 1e-12, "moved {moved}");
    }

    #[test]
    fn ring_moved_ranges_cover_the_wrap_and_empty_rings() {
        let empty = Ring::new();
        let one = Ring::with_nodes(&[(4, 8)]);
        let all = one.moved_ranges(&empty);
        assert_eq!(
            all,
            vec![MovedRange {
                start: 0,
                end: u64::MAX,
                from: Some(4),
                to: None
            }]
        );
        assert_eq!(all[0].len(), 1 << 64);
        assert_eq!(moved_fraction(&empty, &one), 1.0);
        assert_eq!(moved_fraction(&one, &one), 0.0);
        assert!(empty.moved_ranges(&empty).is_empty());
    }
}
