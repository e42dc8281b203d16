//! A client machine's near-cache: which keys it may answer without asking
//! the cluster. LRU over a fixed number of keys; an entry is served for at
//! most `ttl` after it was filled. Values are not kept: the driver only
//! needs to know whether a read would have been answered locally.

use std::collections::BTreeMap;

use ringlab_core::clock::Micros;

/// The near-cache of one client machine.
#[derive(Debug, Clone)]
pub struct NearCache {
    /// Entries kept at most.
    capacity: usize,
    /// How long an entry may be served after its fill, microseconds.
    ttl: Micros,
    /// Key -> (fill time, recency stamp).
    entries: BTreeMap<u64, (Micros, u64)>,
    /// Recency stamp -> key; the smallest stamp is the least recently used.
    order: BTreeMap<u64, u64>,
    /// The next recency stamp.
    next: u64,
}

impl NearCache {
    pub fn new(capacity: u64, ttl: Micros) -> Self {
        Self {
            capacity: capacity.max(1) as usize,
            ttl,
            entries: BTreeMap::new(),
            order: BTreeMap::new(),
            next: 0,
        }
    }

    /// Whether `key` can be served at `now`; a hit makes it the most
    /// recently used, an expired entry is dropped.
    pub fn get(&mut self, key: u64, now: Micros) -> bool {
        let Some(&(filled, stamp)) = self.entries.get(&key) else {
            return false;
        };
        self.order.remove(&stamp);
        if now >= filled.saturating_add(self.ttl) {
            self.entries.remove(&key);
            return false;
        }
        let stamp = self.stamp();
        self.entries.insert(key, (filled, stamp));
        self.order.insert(stamp, key);
        true
    }

    /// `key`'s value was just read (from the cluster or the database) at
    /// `now`: keep it, evicting the least recently used entry if full.
    pub fn fill(&mut self, key: u64, now: Micros) {
        if let Some((_, stamp)) = self.entries.remove(&key) {
            self.order.remove(&stamp);
        }
        while self.entries.len() >= self.capacity {
            let Some((_, lru)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&lru);
        }
        let stamp = self.stamp();
        self.entries.insert(key, (now, stamp));
        self.order.insert(stamp, key);
    }

    /// This machine wrote `key`: its copy is stale.
    pub fn invalidate(&mut self, key: u64) {
        if let Some((_, stamp)) = self.entries.remove(&key) {
            self.order.remove(&stamp);
        }
    }

    fn stamp(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference: a list in recency order (most recent last), scanned.
    #[derive(Default)]
    struct Model {
        cap: usize,
        ttl: Micros,
        list: Vec<(u64, Micros)>,
    }

    impl Model {
        fn get(&mut self, key: u64, now: Micros) -> bool {
            let Some(i) = self.list.iter().position(|e| e.0 == key) else {
                return false;
            };
            let e = self.list.remove(i);
            if now >= e.1 + self.ttl {
                return false;
            }
            self.list.push(e);
            true
        }
        fn fill(&mut self, key: u64, now: Micros) {
            self.list.retain(|e| e.0 != key);
            if self.list.len() >= self.cap {
                self.list.remove(0);
            }
            self.list.push((key, now));
        }
        fn invalidate(&mut self, key: u64) {
            self.list.retain(|e| e.0 != key);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Get(u64),
        Fill(u64),
        Invalidate(u64),
        Wait(Micros),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..12u64).prop_map(Op::Get),
            3 => (0..12u64).prop_map(Op::Fill),
            1 => (0..12u64).prop_map(Op::Invalidate),
            2 => (0..400u64).prop_map(Op::Wait),
        ]
    }

    proptest! {
        #[test]
        fn near_cache_matches_an_lru_list_with_ttl(
            cap in 1..6u64,
            ttl in 1..1000u64,
            ops in proptest::collection::vec(op(), 1..200),
        ) {
            let mut real = NearCache::new(cap, ttl);
            let mut model = Model { cap: cap as usize, ttl, list: Vec::new() };
            let mut now = 0;
            for op in ops {
                match op {
                    Op::Get(k) => prop_assert_eq!(real.get(k, now), model.get(k, now), "get {} at {}", k, now),
                    Op::Fill(k) => { real.fill(k, now); model.fill(k, now); }
                    Op::Invalidate(k) => { real.invalidate(k); model.invalidate(k); }
                    Op::Wait(d) => now += d,
                }
                prop_assert!(real.entries.len() <= cap as usize);
                prop_assert_eq!(real.entries.len(), real.order.len());
            }
        }
    }

    #[test]
    fn an_entry_expires_ttl_after_its_fill_not_its_last_hit() {
        let mut n = NearCache::new(4, 100);
        n.fill(1, 0);
        assert!(n.get(1, 50));
        assert!(n.get(1, 99));
        assert!(!n.get(1, 100));
        assert!(!n.get(1, 101), "an expired entry is gone");
    }

    #[test]
    fn the_least_recently_used_goes_first() {
        let mut n = NearCache::new(2, 1000);
        n.fill(1, 0);
        n.fill(2, 0);
        assert!(n.get(1, 1));
        n.fill(3, 2);
        assert!(n.get(1, 3));
        assert!(!n.get(2, 3));
        assert!(n.get(3, 3));
    }
}
