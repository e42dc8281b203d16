//! Properties of the placements: balance, preference lists, minimal movement
//! on membership changes, weights, and the figures the ring was built to
//! meet (1M keys over 10 nodes).
//!
//! The statistical bounds are in standard deviations of a node's share
//! under random tokens: with `t` tokens in all, a node holding `p` of them
//! owns a Beta-distributed share whose relative spread is
//! `sqrt((1 - p) / (p * t))` (see [`relative_sigma`]). The proptests draw
//! fresh node sets on every run, about a thousand shares per run, so the
//! bound is six of those: a check of 259,125 shares from 20,000 random rings
//! (2..=24 nodes, 128..=1024 vnodes) found 31 beyond four (a normal law
//! predicts 16: the Beta's right tail is heavier) and one beyond five. So a
//! bound of five fails a correct ring roughly once in a few hundred runs; it
//! did once in CI, at 5.2 (that case is kept in
//! `ring_props.proptest-regressions` and replayed first on every run).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use proptest::prelude::*;
use ringlab_core::ring::{
    DEFAULT_VNODES, ModN, MovedRange, Movement, NodeId, Placement, Ring, key_hash, moved_fraction,
    moved_keys_fraction,
};

/// Hashes each `key:<i>` for `i < count` once.
fn key_hashes(count: u32) -> Vec<u64> {
    let mut key = String::with_capacity(16);
    (0..count)
        .map(|i| {
            key.clear();
            write!(key, "key:{i}").expect("writing to a String");
            key_hash(key.as_bytes())
        })
        .collect()
}

#[test]
fn ten_nodes_million_keys_balance_and_an_eleventh_joins() {
    let ids: Vec<(NodeId, u32)> = (0..10).map(|id| (id, DEFAULT_VNODES)).collect();
    let ring = Ring::with_nodes(&ids);
    let hashes = key_hashes(1_000_000);
    let mut out = Vec::with_capacity(1);
    let mut per_node = [0u64; 11];
    let before: Vec<NodeId> = hashes
        .iter()
        .map(|&h| {
            ring.preference_list_for_hash_into(h, 1, &mut out);
            per_node[out[0] as usize] += 1;
            out[0]
        })
        .collect();
    let mean = hashes.len() as f64 / 10.0;
    let max = *per_node.iter().max().expect("11 counters") as f64;
    assert!(
        max / mean <= 1.10,
        "max/mean {} (counts {per_node:?})",
        max / mean
    );

    let mut grown = ring.clone();
    grown.add_node(10, DEFAULT_VNODES);
    let mut moved = 0u64;
    for (&h, &old) in hashes.iter().zip(&before) {
        grown.preference_list_for_hash_into(h, 1, &mut out);
        if out[0] != old {
            assert_eq!(out[0], 10, "hash {h:#x} moved from {old} to {}", out[0]);
            moved += 1;
        }
    }
    let taken = moved as f64 / hashes.len() as f64;
    assert!(
        (0.8 / 11.0..=1.2 / 11.0).contains(&taken),
        "the 11th node took {taken} of the keys"
    );
    // The exact figure agrees with the count to within sampling noise.
    let exact = moved_fraction(&ring, &grown);
    assert!(
        (exact - taken).abs() < 0.005,
        "exact {exact}, counted {taken}"
    );
}

#[test]
fn mod_n_moves_most_keys_where_the_ring_moves_an_eleventh() {
    let keys: Vec<String> = (0..20_000).map(|i| format!("key:{i}")).collect();
    let ten: Vec<NodeId> = (0..10).collect();
    let modn_before = ModN::with_nodes(&ten);
    let mut modn_after = modn_before.clone();
    modn_after.add_node(10, 0);
    let ring_before = Ring::with_nodes(&ten.iter().map(|&id| (id, 256)).collect::<Vec<_>>());
    let mut ring_after = ring_before.clone();
    ring_after.add_node(10, 256);
    let modn_moved = moved_keys_fraction(&modn_before, &modn_after, &keys);
    let ring_moved = moved_keys_fraction(&ring_before, &ring_after, &keys);
    assert!(modn_moved > 0.85, "mod N moved {modn_moved}");
    assert!(ring_moved < 0.15, "ring moved {ring_moved}");
    let exact = moved_fraction(&modn_before, &modn_after);
    assert!(
        (exact - modn_moved).abs() < 0.02,
        "exact {exact} vs sampled {modn_moved}"
    );
}

/// Regression (found by `removing_moves_only_the_removed_nodes_keys`, a
/// test bug): removing the only node hands the whole space to nobody, one
/// range with `to: None`, rather than to some survivor.
#[test]
fn removing_the_only_node_hands_everything_to_nobody() {
    let before = Ring::with_nodes(&[(0, 1)]);
    let mut after = before.clone();
    after.remove_node(0);
    let shares = before.moved_shares(&after);
    assert_eq!(shares.len(), 1);
    assert_eq!(shares.get(&(Some(0), None)), Some(&1.0));
    assert_eq!(after.preference_list(b"k", 3), Vec::<NodeId>::new());
}

/// A reference ring: the first token at or after the hash by linear scan,
/// then distinct owners clockwise.
fn model_preference_list(ring: &Ring, hash: u64, n: usize) -> Vec<NodeId> {
    let tokens: Vec<(u64, NodeId)> = ring.tokens().collect();
    let want = n.min(ring.node_count());
    let start = tokens.iter().position(|&(t, _)| t >= hash).unwrap_or(0);
    let mut list = Vec::new();
    for i in 0..tokens.len() {
        let owner = tokens[(start + i) % tokens.len()].1;
        if list.len() < want && !list.contains(&owner) {
            list.push(owner);
        }
    }
    list
}

fn node_set(max_nodes: usize) -> impl Strategy<Value = BTreeSet<NodeId>> {
    prop::collection::btree_set(any::<NodeId>(), 1..=max_nodes)
}

fn ring_of(nodes: &BTreeSet<NodeId>, vnodes: u32) -> Ring {
    Ring::with_nodes(&nodes.iter().map(|&id| (id, vnodes)).collect::<Vec<_>>())
}

/// The range holding `hash`, if any (ranges ascending and disjoint).
fn in_ranges(ranges: &[MovedRange], hash: u64) -> Option<&MovedRange> {
    let i = ranges.partition_point(|r| r.end < hash);
    ranges.get(i).filter(|r| r.contains(hash))
}

/// The moved ranges, checked to be ascending, disjoint and real moves.
fn checked_moved_ranges(before: &Ring, after: &Ring) -> Vec<MovedRange> {
    let ranges = before.moved_ranges(after);
    for pair in ranges.windows(2) {
        assert!(pair[0].end < pair[1].start, "overlap: {pair:?}");
    }
    for r in &ranges {
        assert!(r.start <= r.end && r.from != r.to, "bad range {r:?}");
    }
    ranges
}

#[derive(Debug, Clone)]
enum Op {
    Add(NodeId, u32),
    Remove(NodeId),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..12u32, 0..64u32).prop_map(|(id, v)| Op::Add(id, v)),
        (0..12u32).prop_map(Op::Remove),
    ]
}

/// How many standard deviations a share may stray before a test calls the
/// ring unbalanced (see the crate doc for why six).
const SIGMAS: f64 = 6.0;

/// The standard deviation of `share / expected` for a node holding the
/// fraction `p` of `tokens` tokens placed at random: the share is
/// Beta(p t, (1 - p) t), whose variance over its squared mean is
/// `(1 - p) / (p (t + 1))`.
fn relative_sigma(p: f64, tokens: f64) -> f64 {
    ((1.0 - p) / (p * (tokens + 1.0))).sqrt()
}

#[test]
fn relative_sigma_is_the_beta_spread() {
    // One node of ten with 100 vnodes each: sqrt(0.9 / (0.1 * 1001)).
    assert!((relative_sigma(0.1, 1000.0) - (0.9f64 / 100.1).sqrt()).abs() < 1e-15);
    // A lone node owns everything, always.
    assert_eq!(relative_sigma(1.0, 128.0), 0.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn shares_stay_within_six_sigma(nodes in node_set(24), vnodes in 128..=1024u32) {
        let ring = ring_of(&nodes, vnodes);
        let shares = ring.ownership();
        prop_assert_eq!(shares.keys().copied().collect::<BTreeSet<_>>(), nodes.clone());
        let total: f64 = shares.values().sum();
        prop_assert!((total - 1.0).abs() < 1e-9, "shares sum to {}", total);
        let mean = 1.0 / nodes.len() as f64;
        let tokens = nodes.len() as f64 * f64::from(vnodes);
        let bound = SIGMAS * relative_sigma(mean, tokens) + 1e-9;
        for (id, share) in shares {
            prop_assert!((share / mean - 1.0).abs() <= bound,
                "node {} holds {} of the space, mean {}, vnodes {}", id, share, mean, vnodes);
        }
    }

    #[test]
    fn preference_lists_match_the_model(
        nodes in node_set(8),
        vnodes in 1..16u32,
        hashes in prop::collection::vec(any::<u64>(), 1..32),
        n in 0..10usize,
    ) {
        let ring = ring_of(&nodes, vnodes);
        let sorted: Vec<NodeId> = nodes.iter().copied().collect();
        let modn = ModN::with_nodes(&sorted);
        let mut out = vec![99];
        for h in hashes {
            let expected = model_preference_list(&ring, h, n);
            ring.preference_list_for_hash_into(h, n, &mut out);
            prop_assert_eq!(&out, &expected);
            prop_assert_eq!(out.len(), n.min(nodes.len()));
            if n > 0 {
                prop_assert_eq!(Some(out[0]), ring.primary_for_hash(h));
            }

            modn.preference_list_for_hash_into(h, n, &mut out);
            prop_assert_eq!(out.len(), n.min(nodes.len()));
            prop_assert_eq!(out.iter().collect::<BTreeSet<_>>().len(), out.len());
            if n > 0 {
                prop_assert_eq!(out[0], sorted[(h % sorted.len() as u64) as usize]);
                prop_assert_eq!(Some(out[0]), modn.primary_for_hash(h));
            }
        }
    }

    #[test]
    fn preference_list_by_key_is_deterministic_and_distinct(
        nodes in node_set(12),
        key in prop::collection::vec(any::<u8>(), 0..40),
        n in 0..16usize,
    ) {
        let ring = ring_of(&nodes, 32);
        let list = ring.preference_list(&key, n);
        prop_assert_eq!(&list, &ring_of(&nodes, 32).preference_list(&key, n));
        let mut into = vec![7, 7];
        ring.preference_list_into(&key, n, &mut into);
        prop_assert_eq!(&list, &into);
        prop_assert_eq!(list.len(), n.min(nodes.len()));
        prop_assert_eq!(list.iter().collect::<BTreeSet<_>>().len(), list.len());
        prop_assert!(list.iter().all(|id| nodes.contains(id)));
    }

    #[test]
    fn adding_moves_keys_only_to_the_new_node(
        nodes in node_set(10),
        newcomer in any::<NodeId>(),
        vnodes in 1..200u32,
        hashes in prop::collection::vec(any::<u64>(), 64),
    ) {
        prop_assume!(!nodes.contains(&newcomer));
        let before = ring_of(&nodes, vnodes);
        let mut after = before.clone();
        after.add_node(newcomer, vnodes);
        let ranges = checked_moved_ranges(&before, &after);
        prop_assert!(!ranges.is_empty());
        for r in &ranges {
            prop_assert_eq!(r.to, Some(newcomer), "range {:?}", r);
        }
        let share = after.ownership()[&newcomer];
        prop_assert!((moved_fraction(&before, &after) - share).abs() < 1e-12);
        let (mut old, mut new) = (Vec::new(), Vec::new());
        for h in hashes {
            prop_assert_eq!(in_ranges(&ranges, h).is_some(),
                before.primary_for_hash(h) != after.primary_for_hash(h));
            // Replicas too: the new list is the old one with the newcomer
            // inserted somewhere, cut to length.
            before.preference_list_for_hash_into(h, 3, &mut old);
            after.preference_list_for_hash_into(h, 3, &mut new);
            let without: Vec<NodeId> = new.iter().copied().filter(|&id| id != newcomer).collect();
            prop_assert_eq!(&without[..], &old[..without.len()]);
        }
    }

    #[test]
    fn removing_moves_only_the_removed_nodes_keys(
        nodes in node_set(10),
        pick in any::<prop::sample::Index>(),
        vnodes in 1..200u32,
        hashes in prop::collection::vec(any::<u64>(), 64),
    ) {
        let gone = **pick.get(&nodes.iter().collect::<Vec<_>>());
        let before = ring_of(&nodes, vnodes);
        let mut after = before.clone();
        after.remove_node(gone);
        let ranges = checked_moved_ranges(&before, &after);
        for r in &ranges {
            prop_assert_eq!(r.from, Some(gone), "range {:?}", r);
        }
        let share = before.ownership()[&gone];
        prop_assert!((moved_fraction(&before, &after) - share).abs() < 1e-12);
        // What the removed node held is dealt out to the survivors, each
        // part going to the next node clockwise; their handovers sum to it.
        // (The last node's share goes to nobody.)
        let shares = before.moved_shares(&after);
        let survivors = nodes.len() > 1;
        prop_assert!(shares.keys().all(|&(from, to)| from == Some(gone) && to.is_some() == survivors));
        prop_assert!((shares.values().sum::<f64>() - share).abs() < 1e-12);
        for (&(_, to), &part) in &shares {
            if let Some(to) = to {
                let gained = after.ownership()[&to] - before.ownership()[&to];
                prop_assert!((gained - part).abs() < 1e-12);
            }
        }
        for h in hashes {
            let (was, is) = (before.primary_for_hash(h), after.primary_for_hash(h));
            prop_assert_eq!(in_ranges(&ranges, h).is_some(), was != is);
            if was != Some(gone) {
                prop_assert_eq!(was, is);
            }
        }
    }

    #[test]
    fn a_node_with_twice_the_vnodes_gets_twice_the_share(
        nodes in node_set(12),
        heavy in any::<prop::sample::Index>(),
        vnodes in 256..=1024u32,
    ) {
        let heavy = **heavy.get(&nodes.iter().collect::<Vec<_>>());
        let pairs: Vec<(NodeId, u32)> = nodes
            .iter()
            .map(|&id| (id, if id == heavy { 2 * vnodes } else { vnodes }))
            .collect();
        let ring = Ring::with_nodes(&pairs);
        let expected = 2.0 / (nodes.len() as f64 + 1.0);
        let share = ring.ownership()[&heavy];
        let tokens = (nodes.len() as f64 + 1.0) * f64::from(vnodes);
        let bound = SIGMAS * relative_sigma(expected, tokens) + 1e-9;
        prop_assert!((share / expected - 1.0).abs() <= bound,
            "heavy node holds {} of the space, expected {}", share, expected);
    }

    #[test]
    fn incremental_membership_equals_a_fresh_build(ops in prop::collection::vec(op(), 0..24)) {
        let mut ring = Ring::new();
        let mut modn = ModN::new();
        let mut model = std::collections::BTreeMap::new();
        for op in ops {
            match op {
                Op::Add(id, v) => {
                    ring.add_node(id, v);
                    modn.add_node(id, v);
                    model.insert(id, v.max(1));
                }
                Op::Remove(id) => {
                    ring.remove_node(id);
                    modn.remove_node(id);
                    model.remove(&id);
                }
            }
        }
        let pairs: Vec<(NodeId, u32)> = model.iter().map(|(&id, &v)| (id, v)).collect();
        prop_assert_eq!(&ring, &Ring::with_nodes(&pairs));
        let ids: Vec<NodeId> = model.keys().copied().collect();
        prop_assert_eq!(ring.nodes(), ids.clone());
        prop_assert_eq!(modn.nodes(), ids);
    }

    #[test]
    fn mod_n_movement_is_zero_for_no_change_and_a_fraction_otherwise(
        nodes in node_set(40),
        extra in any::<NodeId>(),
    ) {
        let before = ModN::with_nodes(&nodes.iter().copied().collect::<Vec<_>>());
        let mut after = before.clone();
        after.add_node(extra, 1);
        let moved = before.moved_fraction(&after);
        prop_assert!((0.0..=1.0).contains(&moved));
        if nodes.contains(&extra) {
            prop_assert_eq!(moved, 0.0);
        } else {
            // At least the newcomer's own share moves to it.
            prop_assert!(moved >= after.ownership()[&extra] - 1e-12);
        }
        let total: f64 = after.ownership().values().sum();
        prop_assert!((total - 1.0).abs() < 1e-9);
    }
}
