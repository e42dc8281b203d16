//! What counting stale reads costs the driver per request: the shared
//! oracle's `sent` (a lock, a map look-up or a push, a 16-byte stamp) and
//! `replied` (a lock, a stamp check or an acknowledgement), for a
//! 90% get / 10% set mix over 5,000 keys of 100-byte values.
//!
//! `cargo bench -p ringlab-loadgen --bench stale -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringlab_core::protocol::resp::Frame;
use ringlab_loadgen::stale::WriteOracle;
use ringlab_loadgen::workload::OpKind;

/// Requests per iteration.
const BATCH: u64 = 10_000;
/// Keys the requests spread over.
const KEYS: u64 = 5_000;

fn bench(c: &mut Criterion) {
    let oracle = WriteOracle::new(1);
    let ok = Frame::Simple(Bytes::from_static(b"OK"));
    let mut value = vec![b'a'; 100];
    // Warm the oracle: every key written and acknowledged once; what a GET
    // of each key returns is that write's stamped value.
    let stored: Vec<Frame> = (0..KEYS)
        .map(|key| {
            let t = oracle.sent(OpKind::Set, key, Some(&mut value));
            oracle.replied(&t, &ok);
            Frame::Bulk(Bytes::from(value.clone()))
        })
        .collect();
    let mut group = c.benchmark_group("stale_oracle");
    group.throughput(Throughput::Elements(BATCH));
    let mut i = 0u64;
    group.bench_function("sent+replied/90get-10set", |b| {
        b.iter(|| {
            let mut stale = 0u32;
            for _ in 0..BATCH {
                i = i.wrapping_add(1);
                // A cheap spread of keys; every tenth request a set.
                let key = i.wrapping_mul(2_654_435_761) % KEYS;
                if i.is_multiple_of(10) {
                    let t = oracle.sent(OpKind::Set, key, Some(&mut value));
                    oracle.replied(&t, &ok);
                } else {
                    let t = oracle.sent(OpKind::Get, key, None);
                    stale += u32::from(oracle.replied(&t, &stored[key as usize]));
                }
            }
            black_box(stale)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
