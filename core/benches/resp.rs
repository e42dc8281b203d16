//! RESP parse throughput (MB/s of input) for pipelines of SET requests with
//! 100-byte values and of GET requests, the shapes `redis-benchmark -P 16`
//! sends; the same through a `RequestDecoder`; GET replies parsed as frames;
//! and reply encoding.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ringlab_core::protocol::resp::{
    Limits, RequestDecoder, parse_frame, parse_request, write_bulk, write_command,
};

/// Requests per pipeline: a few redis-benchmark `-P 16` reads' worth.
const PIPELINE: usize = 64;

fn key(i: usize) -> Vec<u8> {
    format!("key:{i:012}").into_bytes()
}

fn set_pipeline() -> BytesMut {
    let value = [b'x'; 100];
    let mut out = BytesMut::new();
    for i in 0..PIPELINE {
        write_command(&mut out, &[b"SET", &key(i), &value]);
    }
    out
}

fn get_pipeline() -> BytesMut {
    let mut out = BytesMut::new();
    for i in 0..PIPELINE {
        write_command(&mut out, &[b"GET", &key(i)]);
    }
    out
}

fn parse_all(mut buf: BytesMut, limits: &Limits) -> usize {
    let mut n = 0;
    while let Ok(Some(args)) = parse_request(&mut buf, limits) {
        n += args.len();
    }
    n
}

fn requests(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("parse_request");
    for (name, input) in [("set_100B", set_pipeline()), ("get", get_pipeline())] {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(name, |b| {
            b.iter_batched(
                || input.clone(),
                |buf| black_box(parse_all(buf, &limits)),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("{name}_decoder"), |b| {
            let mut decoder = RequestDecoder::new();
            b.iter_batched(
                || input.clone(),
                |mut buf| {
                    let mut n = 0;
                    while let Ok(Some(args)) = decoder.decode(&mut buf, &limits) {
                        n += args.len();
                    }
                    black_box(n)
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn replies(c: &mut Criterion) {
    let limits = Limits::default();
    let value = [b'x'; 100];
    let mut input = BytesMut::new();
    for _ in 0..PIPELINE {
        write_bulk(&mut input, &value);
    }
    let mut group = c.benchmark_group("replies");
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.bench_function("parse_frame_bulk_100B", |b| {
        b.iter_batched(
            || input.clone(),
            |mut buf| {
                let mut n = 0;
                while let Ok(Some(_)) = parse_frame(&mut buf, &limits) {
                    n += 1;
                }
                black_box(n)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("write_bulk_100B", |b| {
        let mut out = BytesMut::with_capacity(input.len());
        b.iter(|| {
            out.clear();
            for _ in 0..PIPELINE {
                write_bulk(&mut out, black_box(&value));
            }
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, requests, replies);
criterion_main!(benches);
