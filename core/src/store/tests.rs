//! Unit tests of the store: semantics of each call, and the eviction
//! policies' quality under a pinned seed.

use super::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const T0: Micros = 1_700_000_000_000_000;
const SEC: Micros = 1_000_000;

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(7)
}

fn val(ts: Micros, v: &[u8], expires_at: Option<Micros>) -> Entry {
    Entry {
        value: Some(Bytes::copy_from_slice(v)),
        version: Version { ts, node: 1 },
        expires_at,
        kind: Kind::String,
    }
}

fn tomb(ts: Micros, expires_at: Option<Micros>) -> Entry {
    Entry {
        value: None,
        version: Version { ts, node: 1 },
        expires_at,
        kind: Kind::String,
    }
}

fn key(i: usize) -> Bytes {
    Bytes::from(format!("key:{i:012}"))
}

fn store(maxmemory: u64, policy: Policy) -> Store {
    Store::new(StoreConfig {
        maxmemory,
        policy,
        samples: 5,
    })
}

/// Recomputes the charge from scratch.
fn recount(s: &Store) -> u64 {
    s.iter()
        .map(|(k, e)| entry_cost(k.len(), e.value.as_ref().map_or(0, Bytes::len)))
        .sum()
}

/// The volatile list and the slots' positions agree, it lists exactly the
/// entries with an expiry, and `Stats::expires` counts those with a value.
fn check_volatile_index(s: &Store) {
    let with_expiry = s
        .map
        .values()
        .filter(|x| x.entry.expires_at.is_some())
        .count();
    assert_eq!(s.volatile.len(), with_expiry);
    let values_with_expiry = s
        .map
        .values()
        .filter(|x| x.entry.value.is_some() && x.entry.expires_at.is_some())
        .count();
    assert_eq!(s.stats().expires, values_with_expiry as u64);
    for (pos, &i) in s.volatile.iter().enumerate() {
        assert_eq!(s.map[i as usize].vpos as usize, pos);
    }
    for slot in s.map.values() {
        assert_eq!(slot.vpos == NOT_VOLATILE, slot.entry.expires_at.is_none());
    }
    let vol: u64 = s
        .map
        .iter()
        .filter(|(_, x)| x.entry.expires_at.is_some())
        .map(|(k, x)| cost_of(k, &x.entry))
        .sum();
    assert_eq!(s.volatile_used, vol);
}

#[test]
fn policy_names_round_trip_and_errors_list_the_valid_ones() {
    for (p, name) in Policy::ALL.into_iter().zip(Policy::NAMES) {
        assert_eq!(p.as_str(), name);
        assert_eq!(name.parse::<Policy>(), Ok(p));
        assert_eq!(name.to_uppercase().parse::<Policy>(), Ok(p));
    }
    let err = "allkeys-lru2".parse::<Policy>().unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("\"allkeys-lru2\""), "{msg}");
    for name in Policy::NAMES {
        assert!(msg.contains(name), "{msg} lacks {name}");
    }
}

#[test]
fn versions_order_by_time_then_node() {
    let a = Version { ts: 5, node: 9 };
    let b = Version { ts: 6, node: 1 };
    let c = Version { ts: 6, node: 2 };
    assert!(a < b && b < c);
}

#[test]
fn get_set_and_last_writer_wins() {
    let mut s = store(0, Policy::NoEviction);
    let mut r = rng();
    assert_eq!(
        s.put(key(1), val(10, b"a", None), T0, &mut r),
        Ok(PutOutcome::Applied)
    );
    assert_eq!(
        s.get(&key(1), T0).unwrap().value.as_deref(),
        Some(&b"a"[..])
    );
    // Older and equal versions lose.
    for ts in [9, 10] {
        assert_eq!(
            s.put(key(1), val(ts, b"b", None), T0, &mut r),
            Ok(PutOutcome::Stale {
                current: Version { ts: 10, node: 1 }
            })
        );
    }
    // Same time, higher node wins.
    let mut e = val(10, b"c", None);
    e.version.node = 2;
    assert_eq!(
        s.put(key(1), e.clone(), T0, &mut r),
        Ok(PutOutcome::Applied)
    );
    assert_eq!(s.get(&key(1), T0), Some(&e));
    assert_eq!(s.get(&key(2), T0), None);
    let st = s.stats();
    assert_eq!((st.hits, st.misses, st.keys), (2, 1, 1));
    assert_eq!(st.used_bytes, recount(&s));
}

#[test]
fn tombstones_hide_from_get_but_not_from_get_versioned() {
    let mut s = store(0, Policy::NoEviction);
    let mut r = rng();
    s.put(key(1), val(10, b"a", None), T0, &mut r).unwrap();
    s.put(key(1), tomb(11, Some(T0 + SEC)), T0, &mut r).unwrap();
    assert_eq!(s.get(&key(1), T0), None);
    assert_eq!(s.peek(&key(1), T0), None);
    assert_eq!(
        s.get_versioned(&key(1), T0),
        Some(&tomb(11, Some(T0 + SEC)))
    );
    assert_eq!(
        s.peek_versioned(&key(1), T0),
        Some(&tomb(11, Some(T0 + SEC)))
    );
    // The older value cannot resurrect through the tombstone.
    assert!(matches!(
        s.put(key(1), val(10, b"a", None), T0, &mut r),
        Ok(PutOutcome::Stale { .. })
    ));
    let st = s.stats();
    assert_eq!((st.keys, st.tombstones, st.hits, st.misses), (0, 1, 0, 2));
    assert_eq!(s.len(), 0);
    // After the tombstone's expiry an old value may land again.
    assert_eq!(
        s.put(key(1), val(10, b"a", None), T0 + SEC, &mut r),
        Ok(PutOutcome::Applied)
    );
    assert_eq!(s.stats().expirations, 1);
    check_volatile_index(&s);
}

#[test]
fn lazy_expiry_on_read_counts_a_miss_and_an_expiration() {
    let mut s = store(0, Policy::NoEviction);
    let mut r = rng();
    s.put(key(1), val(1, b"a", Some(T0 + SEC)), T0, &mut r)
        .unwrap();
    assert!(s.get(&key(1), T0 + SEC - 1).is_some());
    assert!(s.peek(&key(1), T0 + SEC).is_none());
    assert_eq!(s.len(), 1, "peek does not drop");
    assert!(s.get(&key(1), T0 + SEC).is_none());
    let st = s.stats();
    assert_eq!(
        (st.keys, st.hits, st.misses, st.expirations, st.used_bytes),
        (0, 1, 1, 1, 0)
    );
}

#[test]
fn an_already_expired_write_deletes_the_key() {
    let mut s = store(0, Policy::NoEviction);
    let mut r = rng();
    s.put(key(1), val(1, b"a", None), T0, &mut r).unwrap();
    assert_eq!(
        s.put(key(1), val(2, b"b", Some(T0)), T0, &mut r),
        Ok(PutOutcome::Applied)
    );
    assert_eq!(s.peek_versioned(&key(1), T0), None);
    assert_eq!(s.used_bytes(), 0);
    assert_eq!(
        s.put(key(2), val(2, b"b", Some(T0 - 1)), T0, &mut r),
        Ok(PutOutcome::Applied)
    );
    assert_eq!(s.stats().keys, 0);
}

#[test]
fn expire_and_persist_through_put_keep_the_volatile_list_right() {
    let mut s = store(0, Policy::NoEviction);
    let mut r = rng();
    for i in 0..50 {
        s.put(key(i), val(1, b"v", None), T0, &mut r).unwrap();
    }
    for i in (0..50).step_by(3) {
        s.put(key(i), val(2, b"v", Some(T0 + SEC)), T0, &mut r)
            .unwrap();
    }
    check_volatile_index(&s);
    for i in (0..50).step_by(6) {
        s.put(key(i), val(3, b"v", None), T0, &mut r).unwrap();
    }
    check_volatile_index(&s);
    for i in (0..50).step_by(5) {
        s.remove(&key(i));
        check_volatile_index(&s);
    }
    assert_eq!(s.used_bytes(), recount(&s));
}

#[test]
fn expire_step_drops_only_expired_keys_and_is_bounded() {
    let mut s = store(0, Policy::NoEviction);
    let mut r = rng();
    for i in 0..1000 {
        let exp = if i % 2 == 0 {
            Some(T0 + SEC)
        } else {
            Some(T0 + 100 * SEC)
        };
        s.put(key(i), val(1, b"v", exp), T0, &mut r).unwrap();
    }
    for i in 1000..1100 {
        s.put(key(i), val(1, b"v", None), T0, &mut r).unwrap();
    }
    assert_eq!(s.expire_step(T0, &mut r, 1000), 0);
    let now = T0 + SEC;
    let n = s.expire_step(now, &mut r, 20);
    assert!(n <= 20);
    assert!(n > 0, "half the sampled keys are expired");
    let mut total = n;
    while total < 500 {
        let step = s.expire_step(now, &mut r, 200);
        total += step;
    }
    assert_eq!(total, 500);
    assert_eq!(s.len(), 600);
    assert_eq!(s.stats().expirations, 500);
    assert!(s.iter().all(|(_, e)| !e.is_expired(now)));
    check_volatile_index(&s);
}

#[test]
fn noeviction_refuses_writes_that_need_room_and_keeps_reads() {
    let cost = entry_cost(16, 100);
    let mut s = store(3 * cost, Policy::NoEviction);
    let mut r = rng();
    for i in 0..3 {
        s.put(key(i), val(1, &[1; 100], None), T0, &mut r).unwrap();
    }
    assert_eq!(
        s.put(key(3), val(1, &[1; 100], None), T0, &mut r),
        Err(StoreError::OutOfMemory)
    );
    assert_eq!(
        StoreError::OutOfMemory.to_string(),
        "OOM command not allowed when used memory > 'maxmemory'."
    );
    // An overwrite of the same size fits; a bigger one does not.
    assert!(s.put(key(0), val(2, &[2; 100], None), T0, &mut r).is_ok());
    assert_eq!(
        s.put(key(0), val(3, &[2; 200], None), T0, &mut r),
        Err(StoreError::OutOfMemory)
    );
    assert!(s.get(&key(1), T0).is_some());
    assert_eq!(s.len(), 3);
    assert_eq!(s.stats().evictions, 0);
}

#[test]
fn allkeys_policies_keep_used_bytes_under_maxmemory() {
    for policy in [
        Policy::AllKeysLru,
        Policy::AllKeysLfu,
        Policy::AllKeysRandom,
    ] {
        let cost = entry_cost(16, 100);
        let mut s = store(100 * cost, policy);
        let mut r = rng();
        for i in 0..1000 {
            s.put(key(i), val(1, &[1; 100], None), T0, &mut r).unwrap();
            assert!(s.used_bytes() <= 100 * cost);
        }
        assert_eq!(s.len(), 100);
        assert_eq!(s.stats().evictions, 900, "{policy}");
        assert_eq!(s.used_bytes(), recount(&s));
        // A single entry bigger than maxmemory can never fit.
        assert_eq!(
            s.put(
                key(5000),
                val(1, &vec![0; 100 * cost as usize], None),
                T0,
                &mut r
            ),
            Err(StoreError::OutOfMemory)
        );
        assert_eq!(s.len(), 100, "a refused write evicts nothing");
    }
}

#[test]
fn volatile_policies_evict_only_keys_with_an_expiry() {
    for policy in [Policy::VolatileLru, Policy::VolatileTtl] {
        let cost = entry_cost(16, 100);
        let mut s = store(10 * cost, policy);
        let mut r = rng();
        for i in 0..5 {
            s.put(key(i), val(1, &[1; 100], None), T0, &mut r).unwrap();
        }
        for i in 5..10 {
            s.put(key(i), val(1, &[1; 100], Some(T0 + 100 * SEC)), T0, &mut r)
                .unwrap();
        }
        for i in 10..15 {
            s.put(key(i), val(1, &[1; 100], None), T0, &mut r).unwrap();
            check_volatile_index(&s);
        }
        assert!((0..5).chain(10..15).all(|i| s.peek(&key(i), T0).is_some()));
        assert_eq!(s.stats().evictions, 5);
        assert_eq!(
            s.put(key(15), val(1, &[1; 100], None), T0, &mut r),
            Err(StoreError::OutOfMemory),
            "{policy}: nothing volatile is left"
        );
    }
}

#[test]
fn set_config_evicts_down_at_once() {
    let cost = entry_cost(16, 100);
    let mut s = store(0, Policy::AllKeysLru);
    let mut r = rng();
    for i in 0..100 {
        s.put(
            key(i),
            val(
                1,
                &[1; 100],
                if i < 10 { Some(T0 + SEC * 50) } else { None },
            ),
            T0,
            &mut r,
        )
        .unwrap();
    }
    s.set_config(
        StoreConfig {
            maxmemory: 50 * cost,
            policy: Policy::VolatileLru,
            samples: 5,
        },
        T0,
        &mut r,
    );
    // Only the 10 volatile keys could go.
    assert_eq!(s.len(), 90);
    assert_eq!(s.stats().evictions, 10);
    s.set_config(
        StoreConfig {
            maxmemory: 50 * cost,
            policy: Policy::AllKeysLfu,
            samples: 5,
        },
        T0,
        &mut r,
    );
    assert_eq!(s.len(), 50);
    assert_eq!(s.used_bytes(), 50 * cost);
    check_volatile_index(&s);
}

/// Fills a store of `cap` entries, makes half of them "hot" by `heat`, then
/// writes `cap / 5` new keys and returns how many hot keys survived.
fn hot_survivors(policy: Policy, heat: impl Fn(&mut Store, &Bytes, Micros)) -> usize {
    let cap = 1000;
    let mut s = store(cap as u64 * entry_cost(16, 100), policy);
    let mut r = rng();
    for i in 0..cap {
        s.put(key(i), val(1, &[1; 100], None), T0, &mut r).unwrap();
    }
    for i in (0..cap).filter(|i| i % 2 == 0) {
        heat(&mut s, &key(i), T0);
    }
    for i in cap..cap + cap / 5 {
        s.put(key(i), val(1, &[1; 100], None), T0, &mut r).unwrap();
    }
    assert_eq!(s.stats().evictions as usize, cap / 5);
    (0..cap)
        .filter(|i| i % 2 == 0 && s.peek(&key(*i), T0).is_some())
        .count()
}

#[test]
fn lru_evicts_mostly_the_cold_half() {
    let hot = hot_survivors(Policy::AllKeysLru, |s, k, now| {
        s.get(k, now);
    });
    // 200 evictions from 500 hot + 500 cold. Best-of-5 sampling alone evicts
    // a hot key whenever none of the 5 samples is cold: a Monte Carlo of it
    // (300 runs) gives a mean of 484 survivors, 1st percentile 476. The pool
    // remembers cold candidates across evictions; seeds 1-4 and 7 all keep
    // 500.
    assert!(hot >= 495, "{hot} of 500 hot keys survived");
    let random = hot_survivors(Policy::AllKeysRandom, |s, k, now| {
        s.get(k, now);
    });
    // Random eviction ignores heat: about 200 * 500/1000 hot keys go.
    assert!(random < 440, "random eviction ignores heat: {random}");
}

#[test]
fn lfu_evicts_mostly_the_rarely_read() {
    let hot = hot_survivors(Policy::AllKeysLfu, |s, k, now| {
        for _ in 0..20 {
            s.get(k, now);
        }
    });
    // As for LRU: the pool keeps 500 under seeds 1-4 and 7.
    assert!(hot >= 495, "{hot} of 500 hot keys survived");
}

#[test]
fn volatile_ttl_evicts_the_soonest_expiring() {
    let cap = 1000u64;
    let mut s = store(cap * entry_cost(16, 100), Policy::VolatileTtl);
    let mut r = rng();
    for i in 0..cap as usize {
        s.put(
            key(i),
            val(1, &[1; 100], Some(T0 + (i as u64 + 1) * SEC)),
            T0,
            &mut r,
        )
        .unwrap();
    }
    for i in 0..200 {
        s.put(key(10_000 + i), val(1, &[1; 100], None), T0, &mut r)
            .unwrap();
    }
    let evicted: Vec<usize> = (0..cap as usize)
        .filter(|&i| s.peek(&key(i), T0).is_none())
        .collect();
    assert_eq!(evicted.len(), 200);
    let mean = evicted.iter().sum::<usize>() as f64 / evicted.len() as f64;
    // Evicting exactly the 200 soonest would give 99.5, random choice 500;
    // seeds 1-4 and 7 give 144-155.
    assert!(mean < 200.0, "mean ttl rank of the evicted: {mean}");
}

#[test]
fn switching_to_and_from_lfu_restarts_access_records() {
    let mut s = store(0, Policy::AllKeysLru);
    let mut r = rng();
    for i in 0..10 {
        s.put(key(i), val(1, b"v", None), T0, &mut r).unwrap();
    }
    let cfg = |policy| StoreConfig {
        maxmemory: 0,
        policy,
        samples: 5,
    };
    s.set_config(cfg(Policy::AllKeysLfu), T0, &mut r);
    assert!(
        s.map
            .values()
            .all(|x| access::lfu_decayed(x.access, T0) == access::LFU_INIT)
    );
    s.set_config(cfg(Policy::VolatileLru), T0, &mut r);
    let stamps: Vec<u32> = s.map.values().map(|x| x.access).collect();
    assert!(stamps.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn long_keys_and_empty_values_are_charged_and_stored() {
    let mut s = store(0, Policy::NoEviction);
    let mut r = rng();
    let long = Bytes::from(vec![b'x'; 300]);
    s.put(long.clone(), val(1, b"", None), T0, &mut r).unwrap();
    s.put(Bytes::new(), val(1, b"v", None), T0, &mut r).unwrap();
    assert_eq!(s.get(&long, T0).unwrap().value.as_deref(), Some(&b""[..]));
    assert_eq!(s.get(b"", T0).unwrap().value.as_deref(), Some(&b"v"[..]));
    assert_eq!(s.used_bytes(), entry_cost(300, 0) + entry_cost(0, 1));
    assert_eq!(s.used_bytes(), recount(&s));
}

#[test]
fn stored_values_do_not_pin_the_callers_buffer() {
    let mut s = store(0, Policy::NoEviction);
    let mut r = rng();
    let buffer = Bytes::from(vec![7u8; 64 * 1024]);
    s.put(key(1), val(1, b"", None), T0, &mut r).unwrap();
    let e = Entry {
        value: Some(buffer.slice(10..110)),
        version: Version { ts: 2, node: 1 },
        expires_at: None,
        kind: Kind::String,
    };
    s.put(key(1), e, T0, &mut r).unwrap();
    let stored = s.peek(&key(1), T0).unwrap().value.as_ref().unwrap();
    assert_eq!(stored.len(), 100);
    let range = buffer.as_ptr() as usize..buffer.as_ptr() as usize + buffer.len();
    assert!(!range.contains(&(stored.as_ptr() as usize)));
}

#[test]
fn flush_empties_but_keeps_event_counters() {
    let mut s = store(0, Policy::NoEviction);
    let mut r = rng();
    s.put(key(1), val(1, b"v", Some(T0 + SEC)), T0, &mut r)
        .unwrap();
    s.get(&key(1), T0);
    s.flush(Version {
        ts: T0 + 5,
        node: 2,
    });
    let st = s.stats();
    assert_eq!((st.keys, st.used_bytes, st.hits), (0, 0, 1));
    assert!(s.is_empty());
    assert_eq!(s.expire_step(T0 + SEC, &mut r, 10), 0);
    check_volatile_index(&s);
    // A write older than the flush (in flight when it happened, or a read
    // repair) stays out; a newer one goes in.
    let late = s
        .put(key(2), val(T0 + 4, b"old", None), T0, &mut r)
        .unwrap();
    assert!(matches!(late, PutOutcome::Stale { .. }), "{late:?}");
    assert!(s.is_empty());
    s.put(key(2), val(T0 + 6, b"new", None), T0, &mut r)
        .unwrap();
    assert_eq!(s.len(), 1);
    // An older flush does not lower the floor.
    s.flush(Version { ts: T0, node: 1 });
    let late = s.put(key(3), val(T0 + 5, b"x", None), T0, &mut r).unwrap();
    assert!(matches!(late, PutOutcome::Stale { .. }), "{late:?}");
}

/// A flush that arrives late (a replayed hint) drops what is not newer
/// than it and keeps what was written after it, with the store's charges,
/// counts and volatile index as if those entries had been written alone.
#[test]
fn a_late_flush_keeps_what_was_written_after_it() {
    let mut s = store(0, Policy::NoEviction);
    let mut r = rng();
    for i in 0..40 {
        let ttl = (i % 3 == 0).then_some(T0 + SEC);
        s.put(key(i), val(i as u64 + 1, b"v", ttl), T0, &mut r)
            .unwrap();
    }
    s.flush(Version { ts: 20, node: 1 });
    let left: Vec<usize> = (0..40).filter(|&i| s.peek(&key(i), T0).is_some()).collect();
    assert_eq!(left, (20..40).collect::<Vec<_>>());
    check_volatile_index(&s);
    let mut alone = store(0, Policy::NoEviction);
    for i in 20..40 {
        let ttl = (i % 3 == 0).then_some(T0 + SEC);
        alone
            .put(key(i), val(i as u64 + 1, b"v", ttl), T0, &mut r)
            .unwrap();
    }
    let (a, b) = (s.stats(), alone.stats());
    assert_eq!(
        (a.keys, a.used_bytes, a.expires),
        (b.keys, b.used_bytes, b.expires)
    );
    // The floor is the flush's all the same.
    let late = s.put(key(5), val(19, b"x", None), T0, &mut r).unwrap();
    assert!(matches!(late, PutOutcome::Stale { .. }), "{late:?}");
}

#[test]
fn table_bytes_covers_what_is_charged() {
    let mut s = store(0, Policy::NoEviction);
    let mut r = rng();
    for i in 0..1000 {
        s.put(key(i), val(1, &[1; 100], None), T0, &mut r).unwrap();
    }
    assert!(s.table_bytes() >= s.used_bytes() - 1000 * cost::VOLATILE);
}

#[test]
fn lru_stamps_are_rescaled_not_wrapped() {
    let cap = 100;
    let mut s = store(cap * entry_cost(16, 1), Policy::AllKeysLru);
    let mut r = rng();
    // Start just below the counter's end so the rescale happens mid-test.
    s.tick = u32::MAX - 120;
    for i in 0..cap as usize {
        s.put(key(i), val(1, b"v", None), T0, &mut r).unwrap();
    }
    for i in 0..cap as usize {
        if i % 2 == 0 {
            s.get(&key(i), T0);
        }
    }
    assert!(s.tick < u32::MAX / 2 + 200, "rescaled: {}", s.tick);
    assert!(s.map.values().all(|x| x.access <= s.tick));
    // Recency order survived the rescale: the evictions take the cold keys.
    for i in 1000..1020 {
        s.put(key(i), val(1, b"v", None), T0, &mut r).unwrap();
    }
    let hot = (0..cap as usize)
        .filter(|i| i % 2 == 0 && s.peek(&key(*i), T0).is_some())
        .count();
    assert!(hot >= 48, "{hot} of 50 hot keys survived");
}

#[test]
fn pool_skips_candidates_read_since_they_were_pooled() {
    let cap = 100;
    let mut s = store(cap as u64 * entry_cost(16, 1), Policy::AllKeysLru);
    let mut r = rng();
    for i in 0..cap + 10 {
        s.put(key(i), val(1, b"v", None), T0, &mut r).unwrap();
    }
    assert!(s.pool.len() > 0, "ten evictions filled the pool");
    // Read every key, oldest last: the pooled (oldest) candidates become the
    // most recently used.
    let mut present: Vec<usize> = (0..cap + 10)
        .filter(|&i| s.peek(&key(i), T0).is_some())
        .collect();
    present.reverse();
    for &i in &present {
        s.get(&key(i), T0);
    }
    let recent: Vec<usize> = present[present.len() - 16..].to_vec();
    s.put(key(1000), val(1, b"v", None), T0, &mut r).unwrap();
    let evicted: Vec<usize> = present
        .iter()
        .copied()
        .filter(|&i| s.peek(&key(i), T0).is_none())
        .collect();
    assert_eq!(evicted.len(), 1);
    assert!(
        !recent.contains(&evicted[0]),
        "evicted {} of the 16 most recently read {recent:?}",
        evicted[0]
    );
}

/// The simulator needs byte-identical runs: two stores fed the same
/// operations and the same seed end with the same entries in the same order
/// and the same counters, although each has its own hash keys.
#[test]
fn same_ops_and_seed_give_the_same_store() {
    let run = || {
        let cost = entry_cost(16, 100);
        let mut s = store(300 * cost, Policy::AllKeysLru);
        let mut r = rng();
        for i in 0..2000usize {
            let exp = (i % 3 == 0).then_some(T0 + (i as u64 % 7) * SEC);
            let now = T0 + (i as u64 / 500) * SEC;
            s.put(
                key(i % 700),
                val(i as u64, &[i as u8; 100], exp),
                now,
                &mut r,
            )
            .unwrap();
            s.get(&key((i * 7) % 700), now);
            if i % 100 == 0 {
                s.expire_step(now, &mut r, 10);
            }
        }
        let order: Vec<(Vec<u8>, Entry)> = s.iter().map(|(k, e)| (k.to_vec(), e.clone())).collect();
        (order, s.stats())
    };
    let (a, sa) = run();
    let (b, sb) = run();
    assert_eq!(sa, sb);
    assert_eq!(a, b);
    assert!(sa.evictions > 0 && sa.expirations > 0);
}

/// The change log's deltas, folded into a tree, give the tree of what the
/// store holds, whatever mix of writes, overwrites, deletes, expiries and
/// evictions happened.
#[test]
fn change_log_folds_to_the_stores_tree() {
    use crate::merkle::{Tree, entry_digest, leaf_of};
    use crate::ring::key_hash;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut s = Store::new(StoreConfig {
        maxmemory: 4_000,
        policy: Policy::AllKeysLru,
        samples: 5,
    });
    s.track_changes();
    let mut tree = Tree::default();
    for i in 0..300u64 {
        let key = Bytes::from(format!("k{}", i % 40));
        let e = Entry {
            value: (i % 7 != 0).then(|| Bytes::from(vec![b'x'; (i % 50) as usize])),
            version: Version { ts: i + 1, node: 1 },
            expires_at: (i % 3 == 0).then_some(i + 20),
            kind: Kind::String,
        };
        let _ = s.put(key, e, i, &mut rng);
        s.expire_step(i, &mut rng, 3);
        if i == 150 {
            s.flush(Version { ts: 150, node: 1 });
        }
        // A late flush: what was written after it stays.
        if i == 220 {
            s.flush(Version { ts: 200, node: 1 });
        }
        let c = s.take_changes();
        if c.reset {
            tree.clear();
        }
        for (k, d) in c.deltas {
            tree.toggle(leaf_of(key_hash(&k)), d);
        }
    }
    let mut want = Tree::default();
    for (k, e) in s.iter() {
        want.toggle(leaf_of(key_hash(k)), entry_digest(k, e));
    }
    assert_eq!(tree, want);
    assert!(s.stats().evictions > 0 && s.stats().expirations > 0);
}
