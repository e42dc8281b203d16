//! The in-memory store: versioned values, absolute expiry, byte-accounted
//! `maxmemory` and Redis's eviction policies.
//!
//! A [`Store`] is single-threaded and pure: it never reads a clock or spawns
//! anything. Time comes in as `now` ([`Micros`], model time) and randomness
//! as an `Rng`, so a store behaves the same in a real node and in the
//! simulator. Each node's machine owns one store, so `maxmemory` and
//! `noeviction` hold node-wide.
//!
//! # Layout
//! - `key`: the stored form of a key (short keys inline).
//! - [`cost`]: what an entry is charged against `maxmemory`, from `size_of`.
//! - `access`: the LRU stamp and the LFU counter, in one `u32`.
//! - `pool`: Redis's eviction pool of the best candidates sampled lately.
//! - [`changes`]: the log of changed entries anti-entropy's trees follow.
//!
//! # How it works
//! Entries live in an `IndexMap`, so a uniformly random entry is one random
//! index away and removal is a `swap_remove`. Eviction works like Redis's
//! approximated LRU/LFU: sample `samples` entries, offer them to a pool of
//! the best candidates seen lately, and evict the pool's best. The indices
//! of the entries that have an expiry are kept in a second list (each entry
//! knows its position in it), which `volatile-*` eviction and active expiry
//! sample from.
//!
//! Memory: every entry is charged [`entry_cost`], measured from the real
//! sizes of these structures (see [`cost`]); `used_bytes` is the sum of the
//! charges and a write that stores an entry leaves it at most `maxmemory`.
//!
//! An entry is live while `now < expires_at`. Expired entries are dropped
//! lazily when a read or write finds them, by [`Store::expire_step`], or when
//! eviction samples them; all three count as expirations, not evictions.

mod access;
pub mod changes;
pub mod cost;
mod key;
mod pool;

use std::hash::RandomState;
use std::str::FromStr;

use bytes::Bytes;
use indexmap::IndexMap;

use crate::clock::Micros;
use access::Coin;
use changes::Changes;
use key::Key;
use pool::Pool;

pub use cost::entry_cost;

/// A node's identity in versions: the ring's.
pub use crate::ring::NodeId;

/// The version of a value, for last-writer-wins: ordered by time, then by
/// the node that wrote it, so two writes never tie.
///
/// Packed to 4-byte alignment (12 bytes, not 16) so that [`Entry`] keeps
/// its 64 bytes with the [`Kind`] tag in the room the padding took: every
/// entry's memory charge is what it was before collections existed. The
/// fields are read by value (the type is `Copy`); a reference to `ts`
/// does not compile, which is all the packing costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(C, packed(4))]
pub struct Version {
    /// When the coordinator accepted the write (model time).
    pub ts: Micros,
    /// The coordinator that accepted it.
    pub node: NodeId,
}

/// What a value is: Redis's types. A collection is held in the value's
/// bytes in a compact encoding (see `cmd::coll`), so the store, eviction,
/// memory accounting and replication see bytes whatever the type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Kind {
    /// A string: the bytes are the value itself.
    #[default]
    String,
    /// A hash: field-value pairs, sorted by field.
    Hash,
    /// A list, in order.
    List,
    /// A set: members, sorted.
    Set,
    /// A sorted set: members with scores, sorted by member.
    ZSet,
}

impl Kind {
    /// Every kind, by [`Kind::code`].
    pub const ALL: [Kind; 5] = [Kind::String, Kind::Hash, Kind::List, Kind::Set, Kind::ZSet];

    /// The name TYPE answers.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::ZSet => "zset",
        }
    }

    /// The kind's number on the wire between peers.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The kind numbered `code`, if any.
    pub fn from_code(code: u64) -> Option<Kind> {
        Kind::ALL.get(usize::try_from(code).ok()?).copied()
    }
}

/// A stored value with its version and expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// None is a tombstone: a replicated delete, kept (with an expiry set by
    /// the coordinator) so a stale replica's older value cannot resurrect.
    pub value: Option<Bytes>,
    /// The write's version; a put applies only over an older one.
    pub version: Version,
    /// When the entry stops existing (model time); None never expires.
    pub expires_at: Option<Micros>,
    /// What the value's bytes hold (a tombstone's is `String`).
    pub kind: Kind,
}

impl Entry {
    /// Whether the entry has expired at `now`.
    pub fn is_expired(&self, now: Micros) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Whether the entry is a tombstone.
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }
}

/// The eviction policy: what goes when a write needs room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Policy {
    /// Nothing is evicted: writes that need room fail, reads work.
    #[default]
    NoEviction,
    /// The least recently used entry (approximated by sampling).
    AllKeysLru,
    /// The least frequently used entry (Redis's decaying log counter).
    AllKeysLfu,
    /// Among entries with an expiry, the one that expires soonest.
    VolatileTtl,
    /// Any entry, at random.
    AllKeysRandom,
    /// Among entries with an expiry, the least recently used.
    VolatileLru,
}

impl Policy {
    /// Every policy, in the order of [`Policy::NAMES`].
    pub const ALL: [Policy; 6] = [
        Policy::NoEviction,
        Policy::AllKeysLru,
        Policy::AllKeysLfu,
        Policy::VolatileTtl,
        Policy::AllKeysRandom,
        Policy::VolatileLru,
    ];

    /// Redis's names of the policies, in the order of [`Policy::ALL`].
    pub const NAMES: [&'static str; 6] = [
        "noeviction",
        "allkeys-lru",
        "allkeys-lfu",
        "volatile-ttl",
        "allkeys-random",
        "volatile-lru",
    ];

    /// Redis's name of the policy.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::VolatileTtl => "volatile-ttl",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::VolatileLru => "volatile-lru",
        }
    }

    /// Whether the policy evicts only entries with an expiry.
    pub fn volatile_only(self) -> bool {
        matches!(self, Policy::VolatileTtl | Policy::VolatileLru)
    }

    /// Whether the policy evicts at all.
    pub fn evicts(self) -> bool {
        self != Policy::NoEviction
    }

    /// Whether the per-entry access field holds an LFU record (otherwise an
    /// LRU stamp).
    pub fn uses_lfu(self) -> bool {
        self == Policy::AllKeysLfu
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy name that is not one of Redis's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown eviction policy {got:?}: expected one of noeviction, allkeys-lru, allkeys-lfu, \
     volatile-ttl, allkeys-random, volatile-lru"
)]
pub struct ParsePolicyError {
    /// The name that was given.
    pub got: String,
}

impl FromStr for Policy {
    type Err = ParsePolicyError;

    /// Parses Redis's names, ignoring ASCII case as Redis's CONFIG SET does.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Policy::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParsePolicyError { got: s.to_owned() })
    }
}

/// A store's limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// The most bytes the entries may be charged ([`entry_cost`]); 0 means
    /// no limit.
    pub maxmemory: u64,
    /// What to evict when a write needs room.
    pub policy: Policy,
    /// Entries sampled per eviction (Redis's `maxmemory-samples`); 0 acts as 1.
    pub samples: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            maxmemory: 0,
            policy: Policy::NoEviction,
            samples: 5,
        }
    }
}

/// Why a write was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The write needs room that the policy cannot make: `noeviction`, or a
    /// `volatile-*` policy without enough entries that have an expiry.
    #[error("OOM command not allowed when used memory > 'maxmemory'.")]
    OutOfMemory,
}

/// Counters for INFO. Counts are since the store was made (a flush keeps them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Stats {
    /// Stored entries with a value. Like Redis's DBSIZE it includes entries
    /// that have expired but were not dropped yet.
    pub keys: u64,
    /// Stored entries with a value and an expiry (Redis's `expires`, which
    /// also counts expired entries not dropped yet).
    pub expires: u64,
    /// Stored tombstones.
    pub tombstones: u64,
    /// Bytes charged, the sum of [`entry_cost`] over stored entries.
    pub used_bytes: u64,
    /// Reads that found a live value.
    pub hits: u64,
    /// Reads that found nothing, a tombstone or an expired entry.
    pub misses: u64,
    /// Entries dropped to make room.
    pub evictions: u64,
    /// Entries dropped because they had expired.
    pub expirations: u64,
}

/// What a put did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// The write won: it is stored (or, if it had already expired, the key
    /// is gone).
    Applied,
    /// A newer or equal version is stored; nothing changed.
    Stale {
        /// The stored version that won.
        current: Version,
    },
}

/// How many samples are drawn before their entries are read (see
/// `Store::pick_victim`).
const SAMPLE_BATCH: usize = 16;

/// Marks an entry that is not in the volatile list.
const NOT_VOLATILE: u32 = u32::MAX;

/// An entry with the store's bookkeeping.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    /// The entry as handed out.
    entry: Entry,
    /// The LRU stamp or the LFU record (see [`access`]).
    access: u32,
    /// The entry's position in `Store::volatile`, or [`NOT_VOLATILE`].
    vpos: u32,
}

/// What eviction sampling chose.
enum Victim {
    /// An entry that had expired: dropped as an expiration.
    Expired(usize),
    /// The policy's best candidate among the sample.
    Evict(usize),
}

/// The store. See the module doc.
///
/// ```
/// use bytes::Bytes;
/// use rand::SeedableRng;
/// use ringlab_core::store::{Entry, Kind, Policy, PutOutcome, Store, StoreConfig, Version};
///
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let mut store = Store::new(StoreConfig {
///     maxmemory: 64 << 20,
///     policy: "allkeys-lru".parse()?,
///     samples: 5,
/// });
/// let now = 1_700_000_000_000_000; // model time, microseconds
/// let entry = Entry {
///     value: Some(Bytes::from_static(b"v1")),
///     version: Version { ts: now, node: 3 },
///     expires_at: Some(now + 10_000_000), // EX 10
///     kind: Kind::String,
/// };
/// assert_eq!(store.put(Bytes::from_static(b"k"), entry, now, &mut rng)?, PutOutcome::Applied);
/// assert_eq!(store.get(b"k", now).and_then(|e| e.value.as_deref()), Some(&b"v1"[..]));
/// assert!(store.get(b"k", now + 10_000_000).is_none()); // expired: a miss
/// assert_eq!(store.stats().expirations, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Store {
    /// The entries; the map's index order is arbitrary but deterministic.
    map: IndexMap<Key, Slot, RandomState>,
    /// Map indices of the entries that have an expiry, in no order.
    volatile: Vec<u32>,
    /// Limits and policy.
    cfg: StoreConfig,
    /// Sum of the costs of all stored entries.
    used: u64,
    /// Sum of the costs of the stored entries that have an expiry: what a
    /// `volatile-*` policy can free.
    volatile_used: u64,
    /// Stored entries with a value.
    values: u64,
    /// Stored entries with a value and an expiry (tombstones all have one).
    volatile_values: u64,
    /// Stored tombstones.
    tombstones: u64,
    /// The newest FLUSHALL's version: a put not newer than it is stale, as
    /// if every key held a tombstone of that version.
    flushed_at: Option<Version>,
    /// Reads that found a live value.
    hits: u64,
    /// Reads that did not.
    misses: u64,
    /// Entries evicted.
    evictions: u64,
    /// Entries dropped as expired.
    expirations: u64,
    /// The LRU counter: bumped on every access; never wraps (see
    /// [`Store::next_tick`]).
    tick: u32,
    /// The coin for LFU counter increments.
    coin: Coin,
    /// The best eviction candidates sampled lately.
    pool: Pool,
    /// Changed entries, noted for anti-entropy when it is on (see
    /// [`changes`]).
    changes: Option<Changes>,
}

// The kind tag fits in the entry's 64 bytes (see `Version`), so adding it
// changed no entry's memory charge.
const _: () = assert!(std::mem::size_of::<Entry>() == 64 || std::mem::size_of::<usize>() != 8);

// The node keeps stores behind mutexes shared across tasks.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Store>();
};

impl Store {
    /// An empty store.
    pub fn new(cfg: StoreConfig) -> Self {
        Self {
            map: IndexMap::with_hasher(RandomState::new()),
            volatile: Vec::new(),
            cfg,
            used: 0,
            volatile_used: 0,
            values: 0,
            volatile_values: 0,
            tombstones: 0,
            flushed_at: None,
            hits: 0,
            misses: 0,
            evictions: 0,
            expirations: 0,
            tick: 0,
            coin: Coin::new(),
            pool: Pool::default(),
            changes: None,
        }
    }

    /// Starts noting every change of an entry, for [`Store::take_changes`].
    pub fn track_changes(&mut self) {
        self.changes.get_or_insert_with(Changes::default);
    }

    /// The changes noted since the last call (none unless tracking).
    pub fn take_changes(&mut self) -> Changes {
        match &mut self.changes {
            Some(c) => std::mem::take(c),
            None => Changes::default(),
        }
    }

    /// Bytes one entry is charged: key + value + fixed overhead. The formula
    /// and where each byte goes are in the [`cost`] module's doc.
    pub fn entry_cost(key_len: usize, value_len: usize) -> u64 {
        entry_cost(key_len, value_len)
    }

    /// A client read: lazily expires, counts hit or miss, touches LRU/LFU.
    /// Tombstones read as None (a miss).
    pub fn get(&mut self, key: &[u8], now: Micros) -> Option<&Entry> {
        let i = self.read(key, now)?;
        let entry = &self.map[i].entry;
        entry.value.as_ref().map(|_| entry)
    }

    /// A replica read for a coordinator: like get (expires lazily, counts,
    /// touches) but returns tombstones too, so the newest version wins.
    pub fn get_versioned(&mut self, key: &[u8], now: Micros) -> Option<&Entry> {
        let i = self.read(key, now)?;
        Some(&self.map[i].entry)
    }

    /// Read without touching stats or recency (INFO, TTL, tests). Like
    /// [`Store::get`], tombstones and expired entries read as None.
    pub fn peek(&self, key: &[u8], now: Micros) -> Option<&Entry> {
        self.peek_versioned(key, now).filter(|e| e.value.is_some())
    }

    /// Like [`Store::peek`] but returns tombstones too.
    pub fn peek_versioned(&self, key: &[u8], now: Micros) -> Option<&Entry> {
        self.map
            .get(key)
            .map(|s| &s.entry)
            .filter(|e| !e.is_expired(now))
    }

    /// Every stored entry, tombstones and not-yet-dropped expired entries
    /// included, in the store's arbitrary but deterministic order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.map.iter().map(|(k, s)| (k.as_bytes(), &s.entry))
    }

    /// Last-writer-wins write: applies if entry.version > the stored one's
    /// (or none stored / stored one expired). Evicts first, per policy, so
    /// used_bytes <= maxmemory after it returns; OutOfMemory if it cannot
    /// (noeviction, or volatile-* with no volatile keys). An entry already
    /// expired at `now` is not stored.
    ///
    /// Details: a winning write whose entry has already expired removes the
    /// stored entry (as Redis's SET with a past expiry deletes the key); it
    /// counts as neither eviction nor expiration. The bound on used_bytes
    /// holds after every write that stores an entry; a stale or deleting
    /// write stores nothing and leaves usage as it was, which may be over a
    /// limit lowered by [`Store::set_config`] under noeviction. A write that
    /// needs room while usage is over the limit needs eviction like any
    /// other, so under noeviction it fails until deletes make room (as in
    /// Redis). OutOfMemory is decided before anything is evicted, so a
    /// refused write changes nothing (an expired entry of the same key may
    /// have been dropped, as any access would). The
    /// value is copied into an allocation of its own length, so a value
    /// sliced out of a large read buffer does not pin that buffer.
    pub fn put(
        &mut self,
        key: Bytes,
        entry: Entry,
        now: Micros,
        rng: &mut impl rand::Rng,
    ) -> Result<PutOutcome, StoreError> {
        let mut existing = self.map.get_index_of(&key[..]);
        if let Some(i) = existing
            && self.map[i].entry.is_expired(now)
        {
            self.remove_at(i);
            self.expirations += 1;
            existing = None;
        }
        if let Some(i) = existing {
            let current = self.map[i].entry.version;
            if entry.version <= current {
                return Ok(PutOutcome::Stale { current });
            }
        }
        if let Some(current) = self.flushed_at
            && entry.version <= current
        {
            return Ok(PutOutcome::Stale { current });
        }
        if entry.is_expired(now) {
            if let Some(i) = existing {
                self.remove_at(i);
            }
            return Ok(PutOutcome::Applied);
        }

        let new_cost = entry_cost(key.len(), entry.value.as_ref().map_or(0, Bytes::len));
        let old_cost = existing.map_or(0, |i| self.cost_at(i));
        let old_volatile = match existing {
            Some(i) if self.map[i].entry.expires_at.is_some() => old_cost,
            _ => 0,
        };
        let need = self.used - old_cost + new_cost;
        let max = self.cfg.maxmemory;
        let must_evict = max > 0 && need > max;
        if must_evict {
            let freeable = match self.cfg.policy {
                Policy::NoEviction => 0,
                p if p.volatile_only() => self.volatile_used - old_volatile,
                _ => self.used - old_cost,
            };
            if need - freeable > max {
                return Err(StoreError::OutOfMemory);
            }
        }

        let entry = Entry {
            value: entry.value.map(|v| Bytes::from(v.to_vec())),
            ..entry
        };
        match existing {
            Some(i) if !must_evict => {
                self.replace_at(i, entry, now);
            }
            Some(i) => {
                // Take the old entry out so eviction cannot pick it, and keep
                // its access record: an overwrite is an access, not a new key.
                let (k, old) = self.remove_at(i);
                self.evict_until(max - new_cost, now, rng);
                let access = self.touched(old.access, now);
                self.insert(k, entry, access);
            }
            None => {
                if must_evict {
                    self.evict_until(max - new_cost, now, rng);
                }
                let access = self.fresh_access(now);
                self.insert(Key::new(&key), entry, access);
            }
        }
        Ok(PutOutcome::Applied)
    }

    /// Hard remove (no tombstone): local cleanup, FLUSHALL-like ops. Returns
    /// the entry as stored, even if it had expired.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let i = self.map.get_index_of(key)?;
        Some(self.remove_at(i).1.entry)
    }

    /// Active expiry: sample keys with an expiry, drop the expired ones, at
    /// most `max_work` samples per call; returns how many expired.
    pub fn expire_step(&mut self, now: Micros, rng: &mut impl rand::Rng, max_work: usize) -> usize {
        let mut expired = 0;
        for _ in 0..max_work {
            if self.volatile.is_empty() {
                break;
            }
            let i = self.volatile[rng.random_range(0..self.volatile.len())] as usize;
            if self.map[i].entry.is_expired(now) {
                self.remove_at(i);
                self.expirations += 1;
                expired += 1;
            }
        }
        expired
    }

    /// Drops every entry, as a delete of each at `version`: a later put of
    /// an older (or equal) version is stale, so a write that was in flight
    /// (or a read repair carrying one) cannot bring a key back. Counters of
    /// past events (hits, evictions...) stay.
    ///
    /// An entry newer than `version` stays, as it would against a delete:
    /// a flush can arrive late (a hint replayed when this node is back, or
    /// from a coordinator whose clock is behind), after writes made after
    /// it, and must not drop them.
    pub fn flush(&mut self, version: Version) {
        self.flushed_at = Some(self.flushed_at.map_or(version, |v| v.max(version)));
        if self.map.values().any(|s| s.entry.version > version) {
            // Backwards, so the entry `swap_remove` moves in was checked.
            for i in (0..self.map.len()).rev() {
                if self.map[i].entry.version <= version {
                    self.remove_at(i);
                }
            }
            return;
        }
        self.map = IndexMap::with_hasher(RandomState::new());
        self.volatile = Vec::new();
        self.pool.clear();
        self.used = 0;
        self.volatile_used = 0;
        self.values = 0;
        self.volatile_values = 0;
        self.tombstones = 0;
        if let Some(c) = &mut self.changes {
            c.flushed();
        }
    }

    /// The LFU counter of the key's entry here (OBJECT FREQ), decayed to
    /// `now`, without touching it; None when the key is not here or the
    /// policy is not LFU (the record is then an LRU stamp).
    pub fn frequency(&self, key: &[u8], now: Micros) -> Option<u8> {
        let slot = self.map.get(key)?;
        self.cfg
            .policy
            .uses_lfu()
            .then(|| access::lfu_decayed(slot.access, now))
    }

    /// The newest flush's version: every entry not newer is gone here,
    /// even where another node still holds it (KEYS and SCAN hide it).
    pub fn flush_floor(&self) -> Option<Version> {
        self.flushed_at
    }

    /// Whether an entry of `version` is one the last flush removed here.
    pub fn flushed(&self, version: Version) -> bool {
        self.flushed_at.is_some_and(|f| version <= f)
    }

    /// Live values (not tombstones); like [`Stats::keys`] it includes
    /// expired entries not dropped yet.
    pub fn len(&self) -> usize {
        self.values as usize
    }

    /// Whether the store holds no value (tombstones aside).
    pub fn is_empty(&self) -> bool {
        self.values == 0
    }

    /// Bytes charged: the sum of [`entry_cost`] over stored entries.
    pub fn used_bytes(&self) -> u64 {
        self.used
    }

    /// Bytes the map's tables really hold now (capacity, not length), plus
    /// the entries' heap allocations as charged. Above [`Store::used_bytes`]
    /// by the slack of the tables' doubling, which is not charged (see
    /// [`cost`]).
    pub fn table_bytes(&self) -> u64 {
        let n = self.map.len() as u64;
        let heap = self.used - n * (cost::BUCKET + cost::INDEX + cost::VOLATILE);
        // hashbrown's buckets are a power of two at most 7/8 full.
        let cap = self.map.capacity() as u64;
        let buckets = if cap == 0 {
            0
        } else {
            (cap * 8).div_ceil(7).next_power_of_two()
        };
        heap + cap * cost::BUCKET
            + buckets * (std::mem::size_of::<usize>() as u64 + 1)
            + self.volatile.capacity() as u64 * cost::VOLATILE
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        Stats {
            keys: self.values,
            expires: self.volatile_values,
            tombstones: self.tombstones,
            used_bytes: self.used,
            hits: self.hits,
            misses: self.misses,
            evictions: self.evictions,
            expirations: self.expirations,
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// CONFIG SET maxmemory/policy: evicts down to the new limit at once.
    /// Under `noeviction`, or a `volatile-*` policy that runs out of entries
    /// with an expiry, usage may stay above the limit; writes that need room
    /// then fail until deletes make it. Switching between LFU and the other
    /// policies restarts every entry's access record (O(n), as the record's
    /// meaning changes).
    pub fn set_config(&mut self, cfg: StoreConfig, now: Micros, rng: &mut impl rand::Rng) {
        let was_lfu = self.cfg.policy.uses_lfu();
        self.cfg = cfg;
        self.pool.clear();
        if was_lfu != self.cfg.policy.uses_lfu() {
            let fresh = self.fresh_access(now);
            for slot in self.map.values_mut() {
                slot.access = fresh;
            }
        }
        if self.cfg.maxmemory > 0 && self.used > self.cfg.maxmemory && self.cfg.policy.evicts() {
            let target = self.cfg.maxmemory;
            let floor = if self.cfg.policy.volatile_only() {
                self.used - self.volatile_used
            } else {
                0
            };
            self.evict_until(target.max(floor), now, rng);
        }
    }

    /// Finds a live entry for a client or replica read, dropping it if it
    /// has expired, and counts and touches.
    fn read(&mut self, key: &[u8], now: Micros) -> Option<usize> {
        let Some(i) = self.map.get_index_of(key) else {
            self.misses += 1;
            return None;
        };
        if self.map[i].entry.is_expired(now) {
            self.remove_at(i);
            self.expirations += 1;
            self.misses += 1;
            return None;
        }
        if self.map[i].entry.value.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        let access = self.touched(self.map[i].access, now);
        self.map[i].access = access;
        Some(i)
    }

    /// The access record of a new entry.
    fn fresh_access(&mut self, now: Micros) -> u32 {
        if self.cfg.policy.uses_lfu() {
            access::lfu_pack(now, access::LFU_INIT)
        } else {
            self.next_tick()
        }
    }

    /// The next LRU stamp. A wrapping counter would make an entry untouched
    /// for 2^32 accesses (about an hour at a million per second) look fresh;
    /// instead, when the counter is full every stamp is halved, which keeps
    /// their order. That O(n) pass comes once per 2^31 accesses.
    fn next_tick(&mut self) -> u32 {
        if self.tick == u32::MAX {
            self.tick >>= 1;
            if !self.cfg.policy.uses_lfu() {
                for slot in self.map.values_mut() {
                    slot.access >>= 1;
                }
            }
        }
        self.tick += 1;
        self.tick
    }

    /// An access record after one more access.
    fn touched(&mut self, record: u32, now: Micros) -> u32 {
        if self.cfg.policy.uses_lfu() {
            access::lfu_touch(record, now, self.coin.flip())
        } else {
            self.next_tick()
        }
    }

    /// The charge of the entry at map index `i`.
    fn cost_at(&self, i: usize) -> u64 {
        let (k, s) = self.map.get_index(i).expect("index in bounds");
        cost_of(k, &s.entry)
    }

    /// Adds (or with `add == false` removes) an entry's charge and counts.
    fn account(&mut self, cost: u64, entry: &Entry, add: bool) {
        let volatile_cost = if entry.expires_at.is_some() { cost } else { 0 };
        let (values, tombstones) = if entry.value.is_some() {
            (1, 0)
        } else {
            (0, 1)
        };
        let volatile_values = u64::from(entry.value.is_some() && entry.expires_at.is_some());
        if add {
            self.used += cost;
            self.volatile_used += volatile_cost;
            self.values += values;
            self.volatile_values += volatile_values;
            self.tombstones += tombstones;
        } else {
            self.used -= cost;
            self.volatile_used -= volatile_cost;
            self.values -= values;
            self.volatile_values -= volatile_values;
            self.tombstones -= tombstones;
        }
    }

    /// Appends a new entry (the key must be absent).
    fn insert(&mut self, key: Key, entry: Entry, access: u32) {
        self.account(cost_of(&key, &entry), &entry, true);
        if let Some(c) = &mut self.changes {
            c.note(key.as_bytes(), &entry);
        }
        let i = self.map.len();
        let vpos = if entry.expires_at.is_some() {
            self.volatile.push(to_u32(i));
            to_u32(self.volatile.len() - 1)
        } else {
            NOT_VOLATILE
        };
        let (_, old) = self.map.insert_full(
            key,
            Slot {
                entry,
                access,
                vpos,
            },
        );
        debug_assert!(old.is_none(), "insert of a key already stored");
    }

    /// Overwrites the entry at map index `i` in place and touches it.
    fn replace_at(&mut self, i: usize, entry: Entry, now: Micros) {
        let (key, slot) = self.map.get_index(i).expect("index in bounds");
        let old_cost = cost_of(key, &slot.entry);
        let new_cost = cost_of(key, &entry);
        let was_volatile = slot.vpos != NOT_VOLATILE;
        let is_volatile = entry.expires_at.is_some();
        self.account(new_cost, &entry, true);
        let old = std::mem::replace(&mut self.map[i].entry, entry);
        self.account(old_cost, &old, false);
        if let Some(c) = &mut self.changes {
            let (key, slot) = self.map.get_index(i).expect("index in bounds");
            c.note(key.as_bytes(), &old);
            c.note(key.as_bytes(), &slot.entry);
        }
        match (was_volatile, is_volatile) {
            (false, true) => {
                self.volatile.push(to_u32(i));
                self.map[i].vpos = to_u32(self.volatile.len() - 1);
            }
            (true, false) => self.unlist_volatile(i),
            _ => {}
        }
        let access = self.touched(self.map[i].access, now);
        self.map[i].access = access;
    }

    /// Takes the entry at map index `i` out of the volatile list.
    fn unlist_volatile(&mut self, i: usize) {
        let pos = self.map[i].vpos as usize;
        self.map[i].vpos = NOT_VOLATILE;
        self.volatile.swap_remove(pos);
        if let Some(&moved) = self.volatile.get(pos) {
            self.map[moved as usize].vpos = to_u32(pos);
        }
    }

    /// Removes the entry at map index `i`, keeping the volatile list's
    /// indices right, and returns it. Counts no event.
    fn remove_at(&mut self, i: usize) -> (Key, Slot) {
        let cost = self.cost_at(i);
        if self.map[i].vpos != NOT_VOLATILE {
            self.unlist_volatile(i);
        }
        let (key, slot) = self.map.swap_remove_index(i).expect("index in bounds");
        // The last entry moved into `i`: its volatile list item must follow.
        if let Some(moved) = self.map.get_index_mut(i)
            && moved.1.vpos != NOT_VOLATILE
        {
            self.volatile[moved.1.vpos as usize] = to_u32(i);
        }
        self.account(cost, &slot.entry, false);
        if let Some(c) = &mut self.changes {
            c.note(key.as_bytes(), &slot.entry);
        }
        (key, slot)
    }

    /// Evicts (or drops expired entries found while sampling) until at most
    /// `target` bytes are charged. The caller has checked that the policy
    /// can free enough.
    fn evict_until(&mut self, target: u64, now: Micros, rng: &mut impl rand::Rng) {
        while self.used > target {
            match self.pick_victim(now, rng) {
                Some(Victim::Expired(i)) => {
                    self.remove_at(i);
                    self.expirations += 1;
                }
                Some(Victim::Evict(i)) => {
                    self.remove_at(i);
                    self.evictions += 1;
                }
                None => panic!(
                    "eviction ran out of candidates at {} bytes for a target of {target} \
                     under {}: the feasibility check is wrong",
                    self.used, self.cfg.policy
                ),
            }
        }
    }

    /// A uniformly random eviction candidate's map index: from the volatile
    /// list under `volatile-*`, else from the whole map (`population` long).
    fn draw(&self, population: usize, rng: &mut impl rand::Rng) -> usize {
        let pos = rng.random_range(0..population);
        if self.cfg.policy.volatile_only() {
            self.volatile[pos] as usize
        } else {
            pos
        }
    }

    /// Samples `samples` candidates under the policy, offers them to the
    /// pool and picks the pool's best that is still what it was when
    /// pooled; an expired entry met on the way is dropped first. None if
    /// nothing can be evicted.
    fn pick_victim(&mut self, now: Micros, rng: &mut impl rand::Rng) -> Option<Victim> {
        let policy = self.cfg.policy;
        let volatile_only = policy.volatile_only();
        let population = if volatile_only {
            self.volatile.len()
        } else {
            self.map.len()
        };
        if population == 0 || !policy.evicts() {
            return None;
        }
        if policy == Policy::AllKeysRandom {
            let i = self.draw(population, rng);
            return Some(if self.map[i].entry.is_expired(now) {
                Victim::Expired(i)
            } else {
                Victim::Evict(i)
            });
        }
        let tick = self.tick;
        let score = move |snapshot: u64| rank(policy, snapshot, tick, now);
        let mut best_sampled: Option<(u64, usize)> = None;
        let mut remaining = self.cfg.samples.max(1);
        while remaining > 0 {
            let n = remaining.min(SAMPLE_BATCH);
            remaining -= n;
            let mut picks = [0usize; SAMPLE_BATCH];
            for p in &mut picks[..n] {
                *p = self.draw(population, rng);
            }
            // A sampled entry is a cache miss. Reading the batch in a tight
            // loop of independent loads lets the CPU overlap the misses;
            // interleaved with the pool's work they would come one by one.
            let mut seen = [(false, 0u64); SAMPLE_BATCH];
            for (seen, &i) in seen[..n].iter_mut().zip(&picks[..n]) {
                let slot = &self.map[i];
                *seen = (slot.entry.is_expired(now), snapshot(policy, slot));
            }
            for (&i, &(expired, snap)) in picks[..n].iter().zip(&seen[..n]) {
                if expired {
                    return Some(Victim::Expired(i));
                }
                let s = score(snap);
                if best_sampled.is_none_or(|(b, _)| s > b) {
                    best_sampled = Some((s, i));
                }
                let (key, _) = self.map.get_index(i).expect("sampled in bounds");
                self.pool.offer(key, to_u32(i), snap, score);
            }
        }
        while let Some(c) = self.pool.take_best(score) {
            // The index is a hint: swap_remove may have moved the entry.
            let hinted = c.index as usize;
            let i = match self.map.get_index(hinted) {
                Some((k, _)) if *k == c.key => hinted,
                _ => match self.map.get_index_of(c.key.as_bytes()) {
                    Some(i) => i,
                    None => continue,
                },
            };
            let slot = &self.map[i];
            let eligible = !volatile_only || slot.vpos != NOT_VOLATILE;
            if !eligible || snapshot(policy, slot) != c.snapshot {
                continue;
            }
            if slot.entry.is_expired(now) {
                return Some(Victim::Expired(i));
            }
            return Some(Victim::Evict(i));
        }
        // Every pooled candidate went stale, this sample's ones included.
        best_sampled.map(|(_, i)| Victim::Evict(i))
    }
}

/// What ranks an entry for eviction under `policy`: its LRU stamp or LFU
/// record, or its expiry.
fn snapshot(policy: Policy, slot: &Slot) -> u64 {
    match policy {
        Policy::VolatileTtl => slot.entry.expires_at.unwrap_or(u64::MAX),
        _ => u64::from(slot.access),
    }
}

/// A snapshot's eviction rank: higher goes first.
fn rank(policy: Policy, snapshot: u64, tick: u32, now: Micros) -> u64 {
    match policy {
        // Idle accesses; a stamp from before a rescale is stale anyway.
        Policy::AllKeysLru | Policy::VolatileLru => u64::from(tick).saturating_sub(snapshot),
        Policy::AllKeysLfu => u64::from(u8::MAX - access::lfu_decayed(snapshot as u32, now)),
        Policy::VolatileTtl => u64::MAX - snapshot,
        Policy::AllKeysRandom | Policy::NoEviction => 0,
    }
}

/// The charge of `entry` stored under `key`.
fn cost_of(key: &Key, entry: &Entry) -> u64 {
    entry_cost(
        key.as_bytes().len(),
        entry.value.as_ref().map_or(0, Bytes::len),
    )
}

/// A map index or list position as stored in a `u32`.
fn to_u32(i: usize) -> u32 {
    // 2^32 entries would take over a terabyte at the smallest entry cost.
    u32::try_from(i).expect("a store holds fewer than 2^32 entries")
}

#[cfg(test)]
mod tests;
