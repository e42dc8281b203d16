//! Iterating the cluster's keys: what KEYS and SCAN read.
//!
//! Every key has a fixed **position** (a hash of its bytes, see
//! [`position`]), the same on every node, and iteration goes through the
//! keyspace in position order. A SCAN cursor is a position: "every key at
//! or past it". So a cursor is a plain redis cursor (a decimal `u64`, `0`
//! to start and `0` when done) and needs no state on any node, and a key
//! that exists from the first call to the last is returned exactly once,
//! whichever coordinator each call goes to.
//!
//! A page is built in two halves:
//! - every node (the coordinator included) answers with its own [`Page`]:
//!   the first `count` positions at or past the cursor among its keys that
//!   match the pattern, each key with the version and state of its newest
//!   local entry. Tombstones and expired entries are in it as dead keys, so
//!   that a replica that missed a delete cannot bring the key back.
//! - the coordinator [`merge`]s the pages: it stops at the lowest position
//!   any truncated page stopped at (beyond it, some node's keys are not
//!   known yet), takes each key's newest version across the nodes, and
//!   keeps the live ones. A FLUSHALL's version (`floor`) hides every older
//!   entry of a node that missed the flush. Keys held by several replicas
//!   appear once, since each appears once in the merge.
//!
//! Keys sharing a position are never split between pages: a page that
//! stops takes all of its last position, and the next starts past it.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::clock::Micros;
use crate::glob;
use crate::store::{Entry, Kind, Store, Version};

/// The largest position; cursors past it have nothing left.
pub const MAX_POSITION: u64 = 1 << 62;

/// The most keys one node puts in one page: bounds a peer message and the
/// node's work per call whatever COUNT a client asks for (COUNT is a hint).
pub const MAX_PAGE: usize = 16 * 1024;

/// A key's place in iteration order, in `1..=MAX_POSITION`: never 0, which
/// is the cursor that starts (and ends) an iteration, and small enough that
/// the position after the last one is still a cursor.
pub fn position(key: &[u8]) -> u64 {
    // Seeded apart from the ring's hash so the order says nothing of
    // placement (and placement nothing of the order).
    (xxhash_rust::xxh3::xxh3_64_with_seed(key, 0x5CA7) >> 2) + 1
}

/// What one page asks of every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// The first position wanted.
    pub cursor: u64,
    /// How many positions at most (at least 1).
    pub count: usize,
    /// Only keys matching this glob (None: all).
    pub pattern: Option<Bytes>,
}

/// One key as a node holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    /// The key.
    pub key: Bytes,
    /// Its newest entry's version on this node.
    pub version: Version,
    /// Its type when that entry is live; None for a tombstone or an
    /// expired entry.
    pub kind: Option<Kind>,
}

/// One node's answer to a [`PageRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The keys, in no particular order.
    pub keys: Vec<KeyState>,
    /// Some(p): more keys follow; this page holds every key of the node's
    /// up to position `p` and none past it. None: it holds all the rest.
    pub bound: Option<u64>,
    /// The node's newest FLUSHALL: an entry not newer is gone.
    pub floor: Option<Version>,
}

/// This node's page for `req`, from its store at `now`.
pub fn page(store: &Store, req: &PageRequest, now: Micros) -> Page {
    let wanted = |k: &[u8]| {
        req.pattern
            .as_ref()
            .is_none_or(|p| glob::matches(p, k, false))
    };
    let mut found: Vec<(u64, &[u8], &Entry)> = store
        .iter()
        .filter_map(|(k, e)| {
            let p = position(k);
            (p >= req.cursor && wanted(k)).then_some((p, k, e))
        })
        .collect();
    let count = req.count.max(1);
    let mut bound = None;
    if found.len() > count {
        // The count-th position, found without sorting the whole keyspace;
        // every key at it stays, so a position is never split.
        found.select_nth_unstable_by_key(count - 1, |f| f.0);
        let last = found[count - 1].0;
        found.retain(|f| f.0 <= last);
        bound = Some(last);
    }
    let keys = found
        .into_iter()
        .map(|(_, k, e)| KeyState {
            key: Bytes::copy_from_slice(k),
            version: e.version,
            kind: (e.value.is_some() && !e.is_expired(now)).then_some(e.kind),
        })
        .collect();
    Page {
        keys,
        bound,
        floor: store.flush_floor(),
    }
}

/// The live keys of several nodes' pages for one request, once each, in
/// position order (ties by key), and the cursor that continues after them
/// (0: the iteration is done).
pub fn merge(pages: &[Page]) -> (Vec<(Bytes, Kind)>, u64) {
    let bound = pages.iter().filter_map(|p| p.bound).min();
    let floor = pages.iter().filter_map(|p| p.floor).max();
    let mut newest: BTreeMap<(u64, &Bytes), (Version, Option<Kind>)> = BTreeMap::new();
    for k in pages.iter().flat_map(|p| &p.keys) {
        let pos = position(&k.key);
        if bound.is_some_and(|b| pos > b) {
            continue;
        }
        let slot = newest.entry((pos, &k.key)).or_insert((k.version, k.kind));
        if k.version > slot.0 {
            *slot = (k.version, k.kind);
        }
    }
    let live = newest
        .into_iter()
        .filter(|(_, (v, _))| floor.is_none_or(|f| *v > f))
        .filter_map(|((_, key), (_, kind))| Some((key.clone(), kind?)))
        .collect();
    // A bound is at most MAX_POSITION, so the next cursor is never 0.
    (live, bound.map_or(0, |b| b + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn entry(ts: Micros, value: Option<&str>, expires_at: Option<Micros>) -> Entry {
        Entry {
            value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            version: Version { ts, node: 1 },
            expires_at,
            kind: Kind::String,
        }
    }

    fn store_with(keys: &[(&str, Entry)]) -> Store {
        let mut s = Store::new(StoreConfig::default());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for (k, e) in keys {
            s.put(Bytes::copy_from_slice(k.as_bytes()), e.clone(), 0, &mut rng)
                .unwrap();
        }
        s
    }

    fn req(cursor: u64, count: usize) -> PageRequest {
        PageRequest {
            cursor,
            count,
            pattern: None,
        }
    }

    /// Scans `stores` as one cluster with pages of `count`.
    fn scan_all(stores: &[&Store], count: usize, now: Micros) -> Vec<Bytes> {
        let (mut out, mut cursor) = (Vec::new(), 0);
        loop {
            let pages: Vec<Page> = stores
                .iter()
                .map(|s| page(s, &req(cursor, count), now))
                .collect();
            let (keys, next) = merge(&pages);
            out.extend(keys.into_iter().map(|(k, _)| k));
            if next == 0 {
                return out;
            }
            assert!(next > cursor, "the cursor moves forward");
            cursor = next;
        }
    }

    #[test]
    fn positions_are_never_the_start_cursor_and_leave_room_for_one_more() {
        for k in ["", "a", "key:1", "\u{0}"] {
            let p = position(k.as_bytes());
            assert!((1..=MAX_POSITION).contains(&p), "{k:?}: {p}");
        }
    }

    #[test]
    fn replicas_keys_appear_once_and_dead_ones_not_at_all() {
        let live = entry(10, Some("v"), None);
        let a = store_with(&[
            ("k1", live.clone()),
            ("k2", live.clone()),
            ("gone", live.clone()),
        ]);
        // b missed nothing; it deleted "gone" (newer tombstone) and has an
        // expired "old".
        let b = store_with(&[
            ("k1", live.clone()),
            ("gone", entry(20, None, Some(1_000))),
            ("old", entry(5, Some("x"), Some(50))),
            ("k3", live.clone()),
        ]);
        for count in [1, 2, 100] {
            let mut got = scan_all(&[&a, &b], count, 100);
            got.sort();
            assert_eq!(got, ["k1", "k2", "k3"], "count {count}");
        }
    }

    #[test]
    fn a_flush_hides_what_a_node_that_missed_it_still_holds() {
        let a = store_with(&[("k", entry(10, Some("v"), None))]);
        let mut b = Store::new(StoreConfig::default());
        b.flush(Version { ts: 20, node: 2 });
        assert!(scan_all(&[&a, &b], 10, 0).is_empty());
        let c = store_with(&[("k", entry(30, Some("v"), None))]);
        assert_eq!(scan_all(&[&a, &b, &c], 10, 0), ["k"]);
    }

    #[test]
    fn pages_of_any_size_cover_every_key_exactly_once() {
        let keys: Vec<String> = (0..300).map(|i| format!("key:{i}")).collect();
        let all: Vec<(&str, Entry)> = keys
            .iter()
            .map(|k| (k.as_str(), entry(1, Some("v"), None)))
            .collect();
        // Three nodes holding overlapping thirds, as replicas do.
        let part = |i: usize| -> Vec<(&str, Entry)> {
            all.iter()
                .enumerate()
                .filter(|(j, _)| j % 3 != i)
                .map(|(_, e)| e.clone())
                .collect()
        };
        let stores: Vec<Store> = (0..3).map(|i| store_with(&part(i))).collect();
        let refs: Vec<&Store> = stores.iter().collect();
        for count in [1, 7, 10, 299, 300, 1000] {
            let mut got = scan_all(&refs, count, 0);
            let n = got.len();
            got.sort();
            got.dedup();
            assert_eq!(got.len(), n, "a key twice with count {count}");
            assert_eq!(got.len(), 300, "count {count}");
        }
    }

    #[test]
    fn a_pattern_is_applied_before_counting() {
        let s = store_with(&[
            ("user:1", entry(1, Some("v"), None)),
            ("user:2", entry(1, Some("v"), None)),
            ("item:1", entry(1, Some("v"), None)),
        ]);
        let r = PageRequest {
            cursor: 0,
            count: 2,
            pattern: Some(Bytes::from_static(b"user:*")),
        };
        let p = page(&s, &r, 0);
        assert_eq!(p.bound, None);
        assert_eq!(p.keys.len(), 2);
    }
}
