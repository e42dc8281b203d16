//! A seeded synthetic [`RunRecord`] with the features a real run has: three
//! phases (a warm-up, a steady load, a 4x ramp into overload), a node death
//! and restart, a partition, errors of two kinds, timeouts, held-back
//! requests, misses, stale reads during the faults, and an extra series.
//! Tests (the golden reports), docs and demos use it; the same seed always
//! gives the same record.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

use crate::recorder::{Event, OpWindow, PhaseSpan, RunMeta, RunRecord, Window};
use crate::workload::{OpKind, Rate};

/// Length of the sample's windows.
pub const WINDOW: Duration = Duration::from_secs(1);

/// The synthetic record of `seed`: 40 one-second windows.
pub fn record(seed: u64) -> RunRecord {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let phases = vec![
        span("warmup", 0, 10),
        span("steady", 10, 30),
        span("spike", 30, 40),
    ];
    let rates = [
        Rate::Constant(400.0),
        Rate::Constant(800.0),
        Rate::Ramp {
            from: 800.0,
            to: 3_200.0,
        },
    ];
    let events = vec![
        Event {
            at: Duration::from_secs(15),
            end: Some(Duration::from_secs(22)),
            kind: "kill".to_string(),
            label: "kill node-3".to_string(),
        },
        Event {
            at: Duration::from_secs(33),
            end: Some(Duration::from_millis(35_500)),
            kind: "partition".to_string(),
            label: "partition node-1 | rest".to_string(),
        },
    ];
    let mut windows = Vec::new();
    let mut db_load = Vec::new();
    for (phase, rate) in phases.iter().zip(rates) {
        let len = phase.end - phase.start;
        let mut t = phase.start;
        while t < phase.end {
            let into = t - phase.start;
            let mid = into + WINDOW / 2;
            let scheduled = rate.at(mid, len).round() as u64;
            let faulty = events
                .iter()
                .any(|e| e.at <= t && t < e.end.unwrap_or(e.at + WINDOW));
            let w = window(&mut rng, t, &phase.name, scheduled, faulty);
            let misses: u64 = w.ops.values().map(|o| o.counts.misses).sum();
            db_load.push(misses as f64 * (0.9 + 0.2 * rng.random::<f64>()));
            windows.push(w);
            t += WINDOW;
        }
    }
    let mut series = BTreeMap::new();
    series.insert("db.queries_per_s".to_string(), db_load);
    RunRecord {
        meta: RunMeta {
            scenario: "sample".to_string(),
            description: "A synthetic run: a warm-up with a cold cache, a steady load that \
                          loses node-3 for 7 s, then a 4x ramp into overload with a short \
                          partition."
                .to_string(),
            seed: Some(seed),
            source: "sim".to_string(),
            window: WINDOW,
        },
        phases,
        windows,
        events,
        series,
        durability: None,
    }
}

fn span(name: &str, from_s: u64, to_s: u64) -> PhaseSpan {
    PhaseSpan {
        name: name.to_string(),
        start: Duration::from_secs(from_s),
        end: Duration::from_secs(to_s),
    }
}

/// One window of `scheduled` requests; `faulty` windows have a slower tail,
/// more errors and some timeouts.
fn window(
    rng: &mut ChaCha8Rng,
    start: Duration,
    phase: &str,
    scheduled: u64,
    faulty: bool,
) -> Window {
    // Offered load beyond about 2000 req/s overloads the sample cluster.
    let overload = (scheduled as f64 / 2_000.0 - 1.0).max(0.0);
    let median_us: f64 = 180.0 * (1.0 + 3.0 * overload) * if faulty { 1.6 } else { 1.0 };
    let sigma = if faulty { 0.9 } else { 0.45 };
    let latency = LogNormal::new(median_us.ln(), sigma).expect("sigma is positive and finite");
    let miss_rate = if phase == "warmup" {
        0.6 - 0.05 * start.as_secs_f64()
    } else {
        0.08
    };
    let error_rate = 0.002 + if faulty { 0.02 } else { 0.0 } + 0.05 * overload;
    let timeout_rate = if faulty { 0.004 } else { 0.0 } + 0.02 * overload;
    let held_back_rate = 0.03 * overload;

    let mut ops: BTreeMap<OpKind, OpWindow> = BTreeMap::new();
    for _ in 0..scheduled {
        let kind = match rng.random::<f64>() {
            x if x < 0.8 => OpKind::Get,
            x if x < 0.95 => OpKind::Set,
            _ => OpKind::Delete,
        };
        let op = ops.entry(kind).or_default();
        let outcome: f64 = rng.random();
        if outcome < held_back_rate {
            op.counts.held_back += 1;
        } else if outcome < held_back_rate + timeout_rate {
            op.counts.timeouts += 1;
        } else if outcome < held_back_rate + timeout_rate + error_rate {
            let kind = if faulty && rng.random::<f64>() < 0.7 {
                "UNAVAILABLE"
            } else {
                "OVERLOADED"
            };
            *op.counts.errors.entry(kind.to_string()).or_default() += 1;
        } else {
            op.counts.ok += 1;
            if kind == OpKind::Get && rng.random::<f64>() < miss_rate {
                op.counts.misses += 1;
            } else if kind == OpKind::Get && faulty && op.counts.ok.is_multiple_of(40) {
                // Stale reads during the fault, without a random draw: the
                // record's other figures stay what they were before stale
                // reads were counted.
                op.counts.stale += 1;
            }
            let us = latency.sample(rng).clamp(1.0, 50_000_000.0) as u64;
            op.hist
                .record(us)
                .expect("latencies are clamped into the histogram's range");
        }
    }
    Window { start, ops }
}
