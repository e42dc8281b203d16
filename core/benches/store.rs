//! Store throughput and memory with 1M keys (16-byte keys, 100-byte values).
//!
//! Run short on the shared machine:
//! `cargo bench -p ringlab-core --bench store -- --warm-up-time 1 --measurement-time 3`
//!
//! Before the timed groups it prints the memory per key: the bytes charged
//! (`used_bytes / len`), what the tables really hold (`table_bytes / len`)
//! and the process's resident-set growth while loading, then after every
//! value was cloned once as a reader does (Linux only).
//!
//! Groups:
//! - `store/get_hit`: reads of random stored keys.
//! - `store/set_overwrite`: newer versions of random stored keys, no eviction.
//! - `store/set_evicting`: new keys into a full store under allkeys-lru, so
//!   every write evicts one entry.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ringlab_core::clock::Micros;
use ringlab_core::store::{Entry, Kind, Policy, Store, StoreConfig, Version, entry_cost};

const KEYS: u64 = 1_000_000;
const VALUE_LEN: usize = 100;
const T0: Micros = 1_700_000_000_000_000;

/// The 16-byte key number `n`.
fn key(n: u64) -> Bytes {
    let mut k = [0u8; 16];
    k[..4].copy_from_slice(b"key:");
    k[4..12].copy_from_slice(&n.to_be_bytes());
    Bytes::copy_from_slice(&k)
}

fn entry(ts: Micros, value: &Bytes) -> Entry {
    Entry {
        value: Some(value.clone()),
        version: Version { ts, node: 1 },
        expires_at: None,
        kind: Kind::String,
    }
}

fn loaded(maxmemory: u64, rng: &mut ChaCha8Rng) -> Store {
    let mut s = Store::new(StoreConfig {
        maxmemory,
        policy: Policy::AllKeysLru,
        samples: 5,
    });
    let value = Bytes::from(vec![b'v'; VALUE_LEN]);
    for n in 0..KEYS {
        s.put(key(n), entry(1, &value), T0, rng)
            .expect("fits under maxmemory");
    }
    s
}

/// The resident set size of this process in bytes, from /proc (Linux).
fn rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn report_memory() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let before = rss();
    let mut s = loaded(0, &mut rng);
    let after = rss();
    // A reader that sends a value clones its `Bytes`, which allocates the
    // crate's shared header once per value; entry_cost charges it.
    for n in 0..KEYS {
        let v = s.get(&key(n), T0).and_then(|e| e.value.clone());
        black_box(v);
    }
    let after_clone = rss();
    let n = s.len() as f64;
    println!(
        "memory: {} keys, 16 B keys, {VALUE_LEN} B values; entry_cost = {} B",
        s.len(),
        entry_cost(16, VALUE_LEN)
    );
    println!(
        "memory: used_bytes/len = {:.1} B, table_bytes/len = {:.1} B",
        s.used_bytes() as f64 / n,
        s.table_bytes() as f64 / n
    );
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "memory: RSS growth/len = {:.1} B",
            a.saturating_sub(b) as f64 / n
        );
    }
    if let (Some(b), Some(a)) = (before, after_clone) {
        println!(
            "memory: RSS growth/len after one clone of each value = {:.1} B",
            a.saturating_sub(b) as f64 / n
        );
    }
    black_box(&s);
}

fn bench_store(c: &mut Criterion) {
    report_memory();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let value = Bytes::from(vec![b'w'; VALUE_LEN]);

    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(1));

    let mut s = loaded(0, &mut rng);
    g.bench_function("get_hit", |b| {
        b.iter(|| {
            let k = key(rng.random_range(0..KEYS));
            black_box(s.get(&k, T0).is_some())
        })
    });

    let mut ts = 1;
    g.bench_function("set_overwrite", |b| {
        b.iter(|| {
            ts += 1;
            let k = key(rng.random_range(0..KEYS));
            black_box(s.put(k, entry(ts, &value), T0, &mut rng).is_ok())
        })
    });
    drop(s);

    // Room for half the keys: the first half loads, then every write evicts.
    let mut s = Store::new(StoreConfig {
        maxmemory: KEYS / 2 * entry_cost(16, VALUE_LEN),
        policy: Policy::AllKeysLru,
        samples: 5,
    });
    let mut next = 0;
    while s.stats().evictions == 0 {
        s.put(key(next), entry(1, &value), T0, &mut rng)
            .expect("allkeys-lru makes room");
        next += 1;
    }
    g.bench_function("set_evicting", |b| {
        b.iter(|| {
            next += 1;
            black_box(s.put(key(next), entry(1, &value), T0, &mut rng).is_ok())
        })
    });
    g.finish();
    assert!(s.used_bytes() <= s.config().maxmemory);
}

criterion_group!(benches, bench_store);
criterion_main!(benches);
