//! What writing the reports costs: the 40-window sample, and an hour of
//! one-second windows (the sample's windows repeated), end to end and for the
//! summary alone.
//!
//! `cargo bench -p ringlab-loadgen --bench report -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ringlab_loadgen::recorder::{PhaseSpan, RunRecord};
use ringlab_loadgen::report::{self, Summary, sample};

/// An hour of one-second windows with the sample's traffic (about 1000
/// requests per window over three op kinds).
fn hour() -> RunRecord {
    let base = sample::record(7);
    let mut r = base.clone();
    r.windows = (0..3_600u64)
        .map(|i| {
            let mut w = base.windows[(i % 40) as usize].clone();
            w.start = Duration::from_secs(i);
            w
        })
        .collect();
    r.series.clear();
    r.phases = vec![PhaseSpan {
        name: "hour".into(),
        start: Duration::ZERO,
        end: Duration::from_secs(3_600),
    }];
    r
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let small = sample::record(7);
    c.bench_function("write_all/sample-40-windows", |b| {
        b.iter(|| report::write_all(black_box(&small), dir.path()).expect("reports"))
    });
    let hour = hour();
    let mut g = c.benchmark_group("hour");
    g.sample_size(10);
    g.bench_function("summary/3600-windows", |b| {
        b.iter(|| Summary::from_record(black_box(&hour)).expect("summary"))
    });
    g.bench_function("write_all/3600-windows", |b| {
        b.iter(|| report::write_all(black_box(&hour), dir.path()).expect("reports"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
