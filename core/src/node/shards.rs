//! The node's keyspace: several [`Store`]s, each behind its own mutex.
//!
//! Why shard: connections run on every worker thread of the runtime, and a
//! single store behind one mutex would make them queue for it on every
//! command. Splitting the keyspace by key hash over a few stores lets them
//! proceed in parallel, and keeps each eviction sample and expiry step small.
//! `maxmemory` is split evenly between the shards: keys are spread by a good
//! hash, so each shard holds about the same share, and every shard enforcing
//! its share keeps the node under the whole limit without a global lock.
//!
//! These are `std::sync::Mutex`es, not tokio's: nothing is awaited while one
//! is held, and each critical section is one store call.

use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::clock::Micros;
use crate::ring::key_hash;
use crate::store::{Entry, Policy, PutOutcome, Stats, Store, StoreConfig, StoreError};

/// One store and the RNG its eviction and expiry sampling draws from.
struct Shard {
    /// The keys of this shard.
    store: Store,
    /// Seeded from the node's seed and the shard's index.
    rng: ChaCha8Rng,
}

/// The sharded keyspace.
pub struct Shards {
    /// The shards; a key lives in `shards[index(key)]`.
    shards: Box<[Mutex<Shard>]>,
}

/// The store configuration of one shard when the node has `maxmemory`.
fn shard_config(maxmemory: u64, policy: Policy, shards: usize) -> StoreConfig {
    StoreConfig {
        // Rounded up so that a small limit still lets every shard hold a key.
        maxmemory: maxmemory.div_ceil(shards as u64),
        policy,
        ..StoreConfig::default()
    }
}

impl Shards {
    /// `count` empty shards sharing `maxmemory` (0: no limit).
    pub fn new(count: usize, maxmemory: u64, policy: Policy, seed: u64) -> Self {
        let count = count.max(1);
        let shards = (0..count)
            .map(|i| {
                Mutex::new(Shard {
                    store: Store::new(shard_config(maxmemory, policy, count)),
                    rng: ChaCha8Rng::seed_from_u64(
                        seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    ),
                })
            })
            .collect();
        Self { shards }
    }

    fn lock(&self, i: usize) -> MutexGuard<'_, Shard> {
        // A panic inside a store call is a bug, but it must not take the
        // whole node down with poisoned locks: keep serving.
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn index(&self, key: &[u8]) -> usize {
        // The ring places keys by the same hash's position on the circle;
        // the low bits pick the shard, so a node's keys still spread evenly.
        (key_hash(key) % self.shards.len() as u64) as usize
    }

    /// A client read: the live value, if any (counts a hit or a miss).
    pub fn get(&self, key: &[u8], now: Micros) -> Option<Bytes> {
        let mut s = self.lock(self.index(key));
        s.store.get(key, now).and_then(|e| e.value.clone())
    }

    /// A replica read: the entry, tombstones included.
    pub fn get_versioned(&self, key: &[u8], now: Micros) -> Option<Entry> {
        let mut s = self.lock(self.index(key));
        s.store.get_versioned(key, now).cloned()
    }

    /// The entry without touching stats or recency.
    pub fn peek(&self, key: &[u8], now: Micros) -> Option<Entry> {
        let s = self.lock(self.index(key));
        s.store.peek(key, now).cloned()
    }

    /// A last-writer-wins write.
    pub fn put(&self, key: Bytes, entry: Entry, now: Micros) -> Result<PutOutcome, StoreError> {
        let mut guard = self.lock(self.index(&key));
        let s = &mut *guard;
        s.store.put(key, entry, now, &mut s.rng)
    }

    /// Drops every key.
    pub fn flush(&self) {
        for i in 0..self.shards.len() {
            self.lock(i).store.flush();
        }
    }

    /// Live keys over all shards.
    pub fn len(&self) -> usize {
        (0..self.shards.len())
            .map(|i| self.lock(i).store.len())
            .sum()
    }

    /// Whether no shard holds a live key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Statistics summed over the shards.
    pub fn stats(&self) -> Stats {
        let mut t = Stats::default();
        for i in 0..self.shards.len() {
            let s = self.lock(i).store.stats();
            t.keys += s.keys;
            t.tombstones += s.tombstones;
            t.used_bytes += s.used_bytes;
            t.hits += s.hits;
            t.misses += s.misses;
            t.evictions += s.evictions;
            t.expirations += s.expirations;
        }
        t
    }

    /// Changes the limit and policy of every shard (evicting at once).
    pub fn set_config(&self, maxmemory: u64, policy: Policy, now: Micros) {
        let n = self.shards.len();
        for i in 0..n {
            let mut guard = self.lock(i);
            let s = &mut *guard;
            s.store
                .set_config(shard_config(maxmemory, policy, n), now, &mut s.rng);
        }
    }

    /// One active expiry step on every shard; returns how many expired.
    pub fn expire_step(&self, now: Micros, work: usize) -> usize {
        let mut total = 0;
        for i in 0..self.shards.len() {
            let mut guard = self.lock(i);
            let s = &mut *guard;
            total += s.store.expire_step(now, &mut s.rng, work);
        }
        total
    }
}
