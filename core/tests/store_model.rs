//! Model-based property test of `ringlab_core::store`: random sequences of
//! operations run against the `Store` and against a `BTreeMap` reference
//! model, and their results are compared after every operation.
//!
//! Eviction samples at random, so the model cannot predict which key goes.
//! It predicts everything else exactly (values, versions, outcomes, OOM,
//! hits, misses, bytes) and makes eviction observable instead: after each
//! operation every entry the store holds must be in the model, equal; an
//! entry the model holds and the store lacks was either expired (an
//! expiration) or evicted, and an eviction must have been allowed: a write
//! or a config change under a policy that evicts, of a key with an expiry
//! under `volatile-*`, and no more than needed. The counts must match the
//! store's stats.

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ringlab_core::clock::Micros;
use ringlab_core::store::{
    Entry, Kind, Policy, PutOutcome, Stats, Store, StoreConfig, StoreError, Version, entry_cost,
};

const T0: Micros = 1_700_000_000_000_000;
const KEYS: u8 = 12;

/// One step of a test run.
#[derive(Clone, Debug)]
enum Op {
    /// A client SET: a fresh, newest version; optional TTL in microseconds.
    Set {
        key: u8,
        len: usize,
        ttl: Option<Micros>,
    },
    /// A replicated write with an arbitrary version, possibly stale; a
    /// `len` of None is a tombstone.
    Replicate {
        key: u8,
        len: Option<usize>,
        back: u64,
        node: u32,
        ttl: Option<Micros>,
    },
    /// A client DEL: a tombstone with the newest version and an expiry.
    Delete {
        key: u8,
        ttl: Micros,
    },
    /// A hard remove.
    Remove {
        key: u8,
    },
    Get {
        key: u8,
    },
    GetVersioned {
        key: u8,
    },
    Advance {
        micros: Micros,
    },
    ExpireStep {
        work: usize,
    },
    /// CONFIG SET: maxmemory as a percentage of the bytes in use (0 lifts the
    /// limit) and maybe another policy.
    SetConfig {
        percent: u64,
        policy: Option<Policy>,
    },
    Flush,
}

fn key_bytes(k: u8) -> Bytes {
    // Every fourth key is longer than the store keeps inline.
    if k % 4 == 3 {
        Bytes::from(format!("long-key-{k:02}-{}", "x".repeat(20)))
    } else {
        Bytes::from(format!("k{k:02}"))
    }
}

fn ttl() -> impl Strategy<Value = Option<Micros>> {
    prop_oneof![Just(None), (1..5_000_000u64).prop_map(Some)]
}

fn policy() -> impl Strategy<Value = Policy> {
    proptest::sample::select(Policy::ALL.to_vec())
}

/// Operations; `switch` lets SetConfig change the policy.
fn op(switch: bool) -> impl Strategy<Value = Op> {
    let key = 0..KEYS;
    let new_policy = if switch {
        proptest::option::of(policy()).boxed()
    } else {
        Just(None).boxed()
    };
    prop_oneof![
        6 => (key.clone(), 0..300usize, ttl()).prop_map(|(key, len, ttl)| Op::Set { key, len, ttl }),
        3 => (key.clone(), proptest::option::weighted(0.8, 0..300usize), 0..6u64, 0..3u32, ttl())
            .prop_map(|(key, len, back, node, ttl)| Op::Replicate { key, len, back, node, ttl }),
        2 => (key.clone(), 1..5_000_000u64).prop_map(|(key, ttl)| Op::Delete { key, ttl }),
        1 => key.clone().prop_map(|key| Op::Remove { key }),
        5 => key.clone().prop_map(|key| Op::Get { key }),
        2 => key.prop_map(|key| Op::GetVersioned { key }),
        3 => (0..2_000_000u64).prop_map(|micros| Op::Advance { micros }),
        2 => (0..20usize).prop_map(|work| Op::ExpireStep { work }),
        1 => (0..120u64, new_policy)
            .prop_map(|(percent, policy)| Op::SetConfig { percent, policy }),
        1 => Just(Op::Flush),
    ]
}

fn cost(key: &[u8], e: &Entry) -> u64 {
    entry_cost(key.len(), e.value.as_ref().map_or(0, Bytes::len))
}

/// The reference: the entries the store holds, and the counters it keeps.
struct Model {
    /// Exactly the entries the store holds, expired ones included.
    entries: BTreeMap<Vec<u8>, Entry>,
    cfg: StoreConfig,
    now: Micros,
    /// The newest version's time handed out so far.
    clock: Micros,
    /// The last flush's version: no put at or below it applies.
    flushed_at: Option<Version>,
    stats: Stats,
}

/// What the model says a put must return.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Outcome(PutOutcome),
    Oom,
}

impl Model {
    fn used(&self) -> u64 {
        self.entries.iter().map(|(k, e)| cost(k, e)).sum()
    }

    /// Drops the key's entry if it has expired, as the store does on access.
    fn lazily_expire(&mut self, key: &[u8]) {
        if self
            .entries
            .get(key)
            .is_some_and(|e| e.is_expired(self.now))
        {
            self.entries.remove(key);
            self.stats.expirations += 1;
        }
    }

    fn put(&mut self, key: &[u8], entry: Entry) -> Expect {
        self.lazily_expire(key);
        if let Some(old) = self.entries.get(key)
            && entry.version <= old.version
        {
            return Expect::Outcome(PutOutcome::Stale {
                current: old.version,
            });
        }
        if let Some(current) = self.flushed_at
            && entry.version <= current
        {
            return Expect::Outcome(PutOutcome::Stale { current });
        }
        if entry.is_expired(self.now) {
            self.entries.remove(key);
            return Expect::Outcome(PutOutcome::Applied);
        }
        let old_cost = self.entries.get(key).map_or(0, |e| cost(key, e));
        let need = self.used() - old_cost + cost(key, &entry);
        let max = self.cfg.maxmemory;
        if max > 0 && need > max {
            let others = self.entries.iter().filter(|(k, _)| k.as_slice() != key);
            let freeable: u64 = match self.cfg.policy {
                Policy::NoEviction => 0,
                p if p.volatile_only() => others
                    .filter(|(_, e)| e.expires_at.is_some())
                    .map(|(k, e)| cost(k, e))
                    .sum(),
                _ => others.map(|(k, e)| cost(k, e)).sum(),
            };
            if need - freeable > max {
                return Expect::Oom;
            }
        }
        self.entries.insert(key.to_vec(), entry);
        Expect::Outcome(PutOutcome::Applied)
    }

    /// A read: counts like the store and returns what it must return.
    fn read(&mut self, key: &[u8], versioned: bool) -> Option<Entry> {
        self.lazily_expire(key);
        let e = self.entries.get(key).cloned();
        match &e {
            Some(e) if e.value.is_some() => self.stats.hits += 1,
            _ => self.stats.misses += 1,
        }
        e.filter(|e| versioned || e.value.is_some())
    }
}

/// What an operation may do to entries the model did not remove itself.
#[derive(Clone, Copy, PartialEq, Eq)]
enum May {
    /// Nothing but expired entries may go (reads, expiry steps, removes).
    OnlyExpire,
    /// Eviction may happen (a write that needed room, a config change).
    Evict,
}

/// Compares the store with the model after an operation, moves the store's
/// evictions and expirations into the model, and checks they were allowed.
fn sync(store: &Store, model: &mut Model, may: May, op: &Op) {
    let held: BTreeMap<Vec<u8>, Entry> =
        store.iter().map(|(k, e)| (k.to_vec(), e.clone())).collect();
    for (k, e) in &held {
        assert_eq!(
            model.entries.get(k),
            Some(e),
            "after {op:?}: the store holds {:?} = {e:?}",
            String::from_utf8_lossy(k)
        );
    }
    let gone: Vec<Vec<u8>> = model
        .entries
        .keys()
        .filter(|k| !held.contains_key(*k))
        .cloned()
        .collect();
    let mut biggest_gone = 0;
    let mut evicted_now = 0;
    for k in gone {
        let e = model.entries.remove(&k).expect("listed above");
        biggest_gone = biggest_gone.max(cost(&k, &e));
        if e.is_expired(model.now) {
            model.stats.expirations += 1;
            continue;
        }
        evicted_now += 1;
        model.stats.evictions += 1;
        let key = String::from_utf8_lossy(&k);
        assert!(may == May::Evict, "after {op:?}: {key:?} vanished");
        assert!(
            model.cfg.policy.evicts(),
            "after {op:?}: noeviction lost {key:?}"
        );
        assert!(
            !model.cfg.policy.volatile_only() || e.expires_at.is_some(),
            "after {op:?}: {} evicted {key:?} without an expiry",
            model.cfg.policy
        );
    }
    let used = model.used();
    if evicted_now > 0 {
        // Eviction stops as soon as the write fits: before the last removal
        // the store was still over the limit.
        assert!(
            used + biggest_gone > model.cfg.maxmemory,
            "after {op:?}: evicted more than needed ({used} + {biggest_gone} fit in {})",
            model.cfg.maxmemory
        );
    }
    model.stats.keys = model.entries.values().filter(|e| e.value.is_some()).count() as u64;
    model.stats.tombstones = model.entries.len() as u64 - model.stats.keys;
    model.stats.expires = model
        .entries
        .values()
        .filter(|e| e.value.is_some() && e.expires_at.is_some())
        .count() as u64;
    model.stats.used_bytes = used;
    assert_eq!(store.stats(), model.stats, "after {op:?}");
    assert_eq!(store.used_bytes(), used);
    assert_eq!(store.len() as u64, model.stats.keys);
    assert_eq!(store.config(), &model.cfg);
}

/// How often a run saw the events worth testing, so a generator that never
/// reaches them is caught.
#[derive(Debug, Default, Clone, Copy)]
struct Coverage {
    ooms: u64,
    stale: u64,
    applied: u64,
}

/// Runs `ops` against a store and the model; panics on any disagreement.
fn run(cfg: StoreConfig, seed: u64, ops: &[Op]) -> (Stats, Coverage) {
    let mut cov = Coverage::default();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut store = Store::new(cfg.clone());
    let mut model = Model {
        entries: BTreeMap::new(),
        cfg,
        now: T0,
        clock: 0,
        flushed_at: None,
        stats: Stats::default(),
    };
    for (n, op) in ops.iter().enumerate() {
        let fill = (n % 251) as u8;
        let mut may = May::OnlyExpire;
        match op {
            Op::Set { key, len, ttl } => {
                model.clock += 1;
                let e = Entry {
                    value: Some(Bytes::from(vec![fill; *len])),
                    version: Version {
                        ts: model.clock,
                        node: 0,
                    },
                    expires_at: ttl.map(|t| model.now + t),
                    kind: Kind::String,
                };
                may = write(&mut store, &mut model, *key, e, &mut rng, op, &mut cov);
            }
            Op::Replicate {
                key,
                len,
                back,
                node,
                ttl,
            } => {
                let e = Entry {
                    value: len.map(|len| Bytes::from(vec![fill; len])),
                    version: Version {
                        ts: model.clock.saturating_sub(*back),
                        node: *node,
                    },
                    expires_at: ttl.map(|t| model.now + t),
                    kind: Kind::String,
                };
                may = write(&mut store, &mut model, *key, e, &mut rng, op, &mut cov);
            }
            Op::Delete { key, ttl } => {
                model.clock += 1;
                let e = Entry {
                    value: None,
                    version: Version {
                        ts: model.clock,
                        node: 0,
                    },
                    expires_at: Some(model.now + ttl),
                    kind: Kind::String,
                };
                may = write(&mut store, &mut model, *key, e, &mut rng, op, &mut cov);
            }
            Op::Remove { key } => {
                let k = key_bytes(*key);
                assert_eq!(store.remove(&k), model.entries.remove(&k[..]), "{op:?}");
            }
            Op::Get { key } => {
                let k = key_bytes(*key);
                let want = model.read(&k, false);
                assert_eq!(store.get(&k, model.now).cloned(), want, "{op:?}");
            }
            Op::GetVersioned { key } => {
                let k = key_bytes(*key);
                let want = model.read(&k, true);
                assert_eq!(store.get_versioned(&k, model.now).cloned(), want, "{op:?}");
            }
            Op::Advance { micros } => model.now += micros,
            Op::ExpireStep { work } => {
                let before = model.stats.expirations;
                let n = store.expire_step(model.now, &mut rng, *work);
                assert!(n <= *work);
                sync(&store, &mut model, May::OnlyExpire, op);
                assert_eq!(model.stats.expirations - before, n as u64, "{op:?}");
            }
            Op::SetConfig { percent, policy } => {
                let cfg = StoreConfig {
                    maxmemory: store.used_bytes() * percent / 100,
                    policy: policy.unwrap_or(model.cfg.policy),
                    samples: model.cfg.samples,
                };
                store.set_config(cfg.clone(), model.now, &mut rng);
                model.cfg = cfg;
                sync(&store, &mut model, May::Evict, op);
                let max = model.cfg.maxmemory;
                let used = store.used_bytes();
                let stuck = match model.cfg.policy {
                    Policy::NoEviction => true,
                    p if p.volatile_only() => {
                        model.entries.values().all(|e| e.expires_at.is_none())
                    }
                    _ => false,
                };
                assert!(
                    max == 0 || used <= max || stuck,
                    "{op:?}: {used} bytes over {max} with evictable entries left"
                );
            }
            Op::Flush => {
                model.clock += 1;
                let version = Version {
                    ts: model.clock,
                    node: 0,
                };
                store.flush(version);
                model.flushed_at = Some(version);
                model.entries.clear();
            }
        }
        sync(&store, &mut model, may, op);
        for (k, e) in &model.entries {
            // peek agrees with the model and never counts.
            let live = (!e.is_expired(model.now)).then_some(e);
            assert_eq!(store.peek_versioned(k, model.now), live);
            assert_eq!(store.peek(k, model.now), live.filter(|e| e.value.is_some()));
        }
    }
    (store.stats(), cov)
}

/// A put on both sides; returns whether eviction was allowed.
fn write(
    store: &mut Store,
    model: &mut Model,
    key: u8,
    e: Entry,
    rng: &mut ChaCha8Rng,
    op: &Op,
    cov: &mut Coverage,
) -> May {
    let k = key_bytes(key);
    let want = model.put(&k, e.clone());
    let got = store.put(k.clone(), e.clone(), model.now, rng);
    match (&want, &got) {
        (Expect::Outcome(w), Ok(g)) => assert_eq!(w, g, "{op:?}"),
        (Expect::Oom, Err(StoreError::OutOfMemory)) => {}
        _ => panic!("{op:?}: model says {want:?}, store said {got:?}"),
    }
    match got {
        Ok(PutOutcome::Applied) => cov.applied += 1,
        Ok(PutOutcome::Stale { .. }) => cov.stale += 1,
        Err(StoreError::OutOfMemory) => cov.ooms += 1,
    }
    // A write that stored something fits under the limit. (A stale or
    // deleting write stores nothing; usage may already be over a limit that
    // CONFIG SET lowered under noeviction.)
    if got == Ok(PutOutcome::Applied) && !e.is_expired(model.now) {
        let max = model.cfg.maxmemory;
        assert!(
            max == 0 || store.used_bytes() <= max,
            "{op:?}: {} bytes over {max} after a write",
            store.used_bytes()
        );
    }
    if want == Expect::Outcome(PutOutcome::Applied) && !e.is_expired(model.now) {
        assert_eq!(store.peek_versioned(&k, model.now), Some(&e), "{op:?}");
    }
    May::Evict
}

fn config(policy: Policy) -> impl Strategy<Value = StoreConfig> {
    (prop_oneof![1 => Just(0u64), 4 => 400..3_000u64], 1..8usize).prop_map(
        move |(maxmemory, samples)| StoreConfig {
            maxmemory,
            policy,
            samples,
        },
    )
}

macro_rules! model_test {
    ($name:ident, $policy:expr, $switch:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn $name(
                cfg in config($policy),
                seed in any::<u64>(),
                ops in proptest::collection::vec(op($switch), 1..200),
            ) {
                run(cfg, seed, &ops);
            }
        }
    };
}

model_test!(store_matches_model_noeviction, Policy::NoEviction, false);
model_test!(store_matches_model_allkeys_lru, Policy::AllKeysLru, false);
model_test!(store_matches_model_allkeys_lfu, Policy::AllKeysLfu, false);
model_test!(store_matches_model_volatile_ttl, Policy::VolatileTtl, false);
model_test!(
    store_matches_model_allkeys_random,
    Policy::AllKeysRandom,
    false
);
model_test!(store_matches_model_volatile_lru, Policy::VolatileLru, false);
// Starts under allkeys-lfu and switches policies through CONFIG SET.
model_test!(store_matches_model_any_policy, Policy::AllKeysLfu, true);

/// The generators reach what the model test is for: under every policy some
/// runs evict (or refuse, under noeviction), expire, read stale versions and
/// hit; the totals over 64 pinned cases per policy are all non-zero.
#[test]
fn generated_runs_reach_eviction_expiry_oom_and_stale_writes() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    for policy in Policy::ALL {
        let mut runner = TestRunner::new_with_rng(
            Config::default(),
            TestRng::deterministic_rng(Config::default().rng_algorithm),
        );
        let strategy = (
            config(policy),
            any::<u64>(),
            proptest::collection::vec(op(false), 1..200),
        );
        let mut stats = Stats::default();
        let mut cov = Coverage::default();
        for _ in 0..64 {
            let (cfg, seed, ops) = strategy.new_tree(&mut runner).expect("generates").current();
            let (s, c) = run(cfg, seed, &ops);
            stats.evictions += s.evictions;
            stats.expirations += s.expirations;
            stats.hits += s.hits;
            cov.ooms += c.ooms;
            cov.stale += c.stale;
            cov.applied += c.applied;
        }
        assert!(
            stats.expirations > 0 && stats.hits > 0,
            "{policy}: {stats:?}"
        );
        assert!(cov.stale > 0 && cov.applied > 0, "{policy}: {cov:?}");
        match policy {
            Policy::NoEviction => assert!(cov.ooms > 0 && stats.evictions == 0, "{cov:?}"),
            p if p.volatile_only() => assert!(
                stats.evictions > 0 && cov.ooms > 0,
                "{p}: {stats:?} {cov:?}"
            ),
            p => assert!(stats.evictions > 0, "{p}: {stats:?}"),
        }
    }
}

/// Regression (first shrunk failure, a bug in the test's invariant): under
/// noeviction, CONFIG SET lowered maxmemory below the bytes in use, then a
/// stale replicated write returned `Stale` with usage still over the limit.
/// Nothing was stored, so nothing could be evicted or refused; the invariant
/// "used <= maxmemory after a write" holds for writes that store.
#[test]
fn stale_write_while_over_a_lowered_limit() {
    let cfg = StoreConfig {
        maxmemory: 0,
        policy: Policy::NoEviction,
        samples: 5,
    };
    let ops = [
        Op::Set {
            key: 8,
            len: 66,
            ttl: None,
        },
        Op::SetConfig {
            percent: 50,
            policy: None,
        },
        Op::Replicate {
            key: 8,
            len: Some(66),
            back: 5,
            node: 0,
            ttl: Some(266_041),
        },
        Op::Set {
            key: 1,
            len: 0,
            ttl: None,
        },
    ];
    let (stats, cov) = run(cfg, 0, &ops);
    assert_eq!((cov.applied, cov.stale, cov.ooms), (1, 1, 1));
    assert_eq!(stats.keys, 1);
}
