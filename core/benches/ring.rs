//! Ring lookups (`preference_list_into`, n = 3) at 10 and 100 nodes, against
//! `hash mod N`; and, computed once and printed, the ring's balance over 1M
//! keys at 10 nodes and the share an 11th node takes.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ringlab_core::ring::{DEFAULT_VNODES, ModN, NodeId, Placement, Ring, key_hash, moved_fraction};

/// `key:<i>` for `i < count`, the keys redis-benchmark-like loads use.
fn keys(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| format!("key:{i}").into_bytes())
        .collect()
}

fn ring_of(nodes: u32) -> Ring {
    let pairs: Vec<(NodeId, u32)> = (0..nodes).map(|id| (id, DEFAULT_VNODES)).collect();
    Ring::with_nodes(&pairs)
}

/// Balance and movement figures: computed, not timed.
fn report_balance() {
    let ring = ring_of(10);
    let mut grown = ring.clone();
    grown.add_node(10, DEFAULT_VNODES);
    let mut per_node = [0u64; 11];
    let mut moved = 0u64;
    let mut key = String::new();
    let total = 1_000_000u32;
    for i in 0..total {
        key.clear();
        write!(key, "key:{i}").expect("writing to a String");
        let h = key_hash(key.as_bytes());
        let before = ring.primary_for_hash(h).expect("10 nodes");
        per_node[before as usize] += 1;
        if grown.primary_for_hash(h) != Some(before) {
            moved += 1;
        }
    }
    let mean = f64::from(total) / 10.0;
    let max = per_node.iter().copied().max().unwrap_or(0) as f64;
    let min = per_node[..10].iter().copied().min().unwrap_or(0) as f64;
    eprintln!(
        "ring balance, 10 nodes x {DEFAULT_VNODES} vnodes, 1M keys key:<i>: \
         max/mean {:.4}, min/mean {:.4}",
        max / mean,
        min / mean
    );
    eprintln!(
        "11th node joins: takes {:.4} of the keys (ideal 1/11 = {:.4}); \
         exact moved fraction of the hash space {:.4}",
        moved as f64 / f64::from(total),
        1.0 / 11.0,
        moved_fraction(&ring, &grown)
    );
    let modn = ModN::with_nodes(&(0..10).collect::<Vec<_>>());
    let modn_grown = ModN::with_nodes(&(0..11).collect::<Vec<_>>());
    eprintln!(
        "hash mod N, 10 -> 11 nodes: moved fraction {:.4}",
        moved_fraction(&modn, &modn_grown)
    );
}

fn lookups(c: &mut Criterion) {
    report_balance();
    let keys = keys(1 << 14);
    let mut group = c.benchmark_group("preference_list_into_n3");
    for nodes in [10u32, 100] {
        let ring = ring_of(nodes);
        let modn = ModN::with_nodes(&(0..nodes).collect::<Vec<_>>());
        let mut out = Vec::with_capacity(3);
        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::new("ring", nodes), &ring, |b, ring| {
            b.iter(|| {
                i = (i + 1) & (keys.len() - 1);
                ring.preference_list_into(black_box(&keys[i]), 3, &mut out);
                black_box(out.first().copied())
            })
        });
        group.bench_with_input(BenchmarkId::new("mod_n", nodes), &modn, |b, modn| {
            b.iter(|| {
                i = (i + 1) & (keys.len() - 1);
                modn.preference_list_into(black_box(&keys[i]), 3, &mut out);
                black_box(out.first().copied())
            })
        });
    }
    group.finish();
    let mut i = 0usize;
    c.bench_function("key_hash", |b| {
        b.iter(|| {
            i = (i + 1) & (keys.len() - 1);
            key_hash(black_box(&keys[i]))
        })
    });
}

criterion_group!(benches, lookups);
criterion_main!(benches);
