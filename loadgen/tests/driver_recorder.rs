//! The recorder: per-window histograms added together equal one histogram of
//! every sample (exact merging, never averaged percentiles); client records
//! merge window by window into exactly what one client would have recorded.

use std::time::Duration;

use proptest::prelude::*;
use ringlab_loadgen::recorder::{
    Counts, Event, MergeError, Outcome, Recorder, RunMeta, new_histogram,
};
use ringlab_loadgen::workload::{Arrival, KeyDist, KeySpace, Mix, OpKind, Phase, Rate, ValueSize};

fn meta(window: Duration) -> RunMeta {
    RunMeta {
        scenario: "t".into(),
        description: String::new(),
        seed: None,
        source: "real".into(),
        window,
    }
}

fn phase(name: &str, duration: Duration) -> Phase {
    Phase {
        name: name.into(),
        duration,
        rate: Rate::Constant(1.0),
        arrival: Arrival::Uniform,
        keys: KeySpace {
            count: 1,
            distribution: KeyDist::Uniform,
        },
        mix: Mix {
            get: 1.0,
            set: 0.0,
            ..Mix::default()
        },
        value_size: ValueSize::Fixed(1),
        timeout: Duration::from_secs(1),
        clients: 1,
        connections: 1,
        max_in_flight: 1,
        ttl: None,
        mget_keys: 10,
    }
}

/// One recorded request: intended start (ms), op, outcome code, latency (us).
type Sample = (u64, OpKind, u8, u64);

fn outcome(code: u8) -> Outcome<'static> {
    match code {
        0..=2 => Outcome::Ok,
        3 => Outcome::Miss,
        4 => Outcome::Error("OVERLOADED"),
        5 => Outcome::Error("connection"),
        6 => Outcome::Timeout,
        7 => Outcome::Stale,
        _ => Outcome::HeldBack,
    }
}

fn record_all(rec: &mut Recorder, samples: &[Sample]) {
    for &(at_ms, op, code, lat) in samples {
        rec.record(
            Duration::from_millis(at_ms),
            op,
            outcome(code),
            Duration::from_micros(lat),
        );
    }
}

fn samples() -> impl Strategy<Value = Vec<Sample>> {
    prop::collection::vec(
        (
            0u64..10_000,
            prop::sample::select(OpKind::ALL.to_vec()),
            0u8..9,
            // Latencies from 1 us to beyond the histogram's 60 s top.
            prop_oneof![1u64..1000, 1u64..100_000_000],
        ),
        0..400,
    )
}

proptest! {
    // Each case allocates up to a few hundred 140 KB histograms: 64 cases
    // keep the debug build's run short.
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the window length, per-window histograms added equal one
    /// histogram of every ok sample, and the counts add up.
    #[test]
    fn window_histograms_add_up_to_the_whole(
        samples in samples(),
        window_ms in 1u64..3000,
        op in prop::option::of(prop::sample::select(OpKind::ALL.to_vec())),
    ) {
        let window = Duration::from_millis(window_ms);
        let mut rec = Recorder::new(meta(window), &[phase("p", Duration::from_secs(10))]);
        record_all(&mut rec, &samples);
        let record = rec.finish();

        let mut whole = new_histogram();
        let mut counts = Counts::default();
        for &(_, _, code, lat) in samples.iter().filter(|s| op.is_none_or(|o| o == s.1)) {
            match outcome(code) {
                Outcome::Ok => { counts.ok += 1; whole.saturating_record(lat); }
                Outcome::Miss => { counts.ok += 1; counts.misses += 1; whole.saturating_record(lat); }
                Outcome::Stale => { counts.ok += 1; counts.stale += 1; whole.saturating_record(lat); }
                Outcome::Error(k) => *counts.errors.entry(k.to_string()).or_default() += 1,
                Outcome::Timeout => counts.timeouts += 1,
                Outcome::HeldBack => counts.held_back += 1,
            }
        }
        let agg = record.aggregate_all(op);
        prop_assert_eq!(&agg.hist, &whole);
        prop_assert_eq!(agg.hist.len(), whole.len());
        prop_assert_eq!(&agg.counts, &counts);
        // Windows are consecutive from 0 and cover the phase.
        for (i, w) in record.windows.iter().enumerate() {
            prop_assert_eq!(w.start, window * i as u32);
        }
        prop_assert!(record.windows.len() as u64 * window_ms >= 10_000);
        // Every sample landed in the window of its intended start.
        for &(at, o, _, _) in &samples {
            let w = &record.windows[(at / window_ms) as usize];
            prop_assert!(w.ops.contains_key(&o));
        }
    }

    /// Two clients' records merged equal the record of one client that made
    /// every request, window by window.
    #[test]
    fn merged_client_records_equal_one_client(
        samples in samples(),
        split in prop::collection::vec(any::<bool>(), 400),
    ) {
        let phases = [phase("a", Duration::from_secs(4)), phase("b", Duration::from_secs(6))];
        let window = Duration::from_millis(500);
        let mut one = Recorder::new(meta(window), &phases);
        let mut a = Recorder::new(meta(window), &phases);
        let mut b = Recorder::new(meta(window), &phases);
        record_all(&mut one, &samples);
        for (s, to_a) in samples.iter().zip(&split) {
            record_all(if *to_a { &mut a } else { &mut b }, std::slice::from_ref(s));
        }
        let one = one.finish();
        let mut merged = a.finish();
        merged.merge(&b.finish()).unwrap();
        prop_assert_eq!(merged.windows.len(), one.windows.len());
        for (m, o) in merged.windows.iter().zip(&one.windows) {
            prop_assert_eq!(m.start, o.start);
            prop_assert_eq!(m.ops.keys().collect::<Vec<_>>(), o.ops.keys().collect::<Vec<_>>());
            for (k, mw) in &m.ops {
                prop_assert_eq!(&mw.hist, &o.ops[k].hist);
                prop_assert_eq!(&mw.counts, &o.ops[k].counts);
            }
        }
        // Phase aggregates: exactly the samples due within each phase.
        for (i, (lo, hi)) in [(0u64, 4000u64), (4000, 10_000)].into_iter().enumerate() {
            let agg = merged.aggregate_phase(i, None).unwrap();
            let n = samples.iter().filter(|s| (lo..hi).contains(&s.0)).count() as u64;
            prop_assert_eq!(agg.counts.scheduled(), n);
        }
    }
}

#[test]
fn derived_figures() {
    let mut c = Counts::default();
    assert_eq!(c.availability(), None);
    assert_eq!(c.hit_ratio(), None);
    c.ok = 8;
    c.misses = 2;
    c.timeouts = 1;
    c.held_back = 1;
    assert_eq!(c.availability(), Some(0.8));
    assert_eq!(c.hit_ratio(), Some(0.75));
}

#[test]
fn records_of_different_windows_or_phases_do_not_merge() {
    let p = [phase("a", Duration::from_secs(1))];
    let mut a = Recorder::new(meta(Duration::from_secs(1)), &p).finish();
    let b = Recorder::new(meta(Duration::from_millis(500)), &p).finish();
    assert!(matches!(
        a.merge(&b),
        Err(MergeError::WindowMismatch { .. })
    ));
    let c = Recorder::new(
        meta(Duration::from_secs(1)),
        &[phase("b", Duration::from_secs(1))],
    )
    .finish();
    let e = a.merge(&c).unwrap_err();
    assert!(e.to_string().contains("different phases"), "{e}");
}

#[test]
fn events_merge_once_and_in_time_order() {
    let p = [phase("a", Duration::from_secs(10))];
    let kill = Event {
        at: Duration::from_secs(5),
        end: None,
        kind: "kill".into(),
        label: "kill node-3".into(),
    };
    let slow = Event {
        at: Duration::from_secs(2),
        end: Some(Duration::from_secs(3)),
        kind: "slow".into(),
        label: "slow node-1".into(),
    };
    let mut a = Recorder::new(meta(Duration::from_secs(1)), &p);
    a.event(kill.clone());
    let mut b = Recorder::new(meta(Duration::from_secs(1)), &p);
    b.event(kill.clone());
    b.event(slow.clone());
    let mut a = a.finish();
    a.merge(&b.finish()).unwrap();
    assert_eq!(a.events, vec![slow, kill]);
}

#[test]
fn phase_spans_follow_each_other_and_windows_cover_them() {
    let rec = Recorder::new(
        meta(Duration::from_secs(1)),
        &[
            phase("a", Duration::from_millis(2500)),
            phase("b", Duration::from_secs(2)),
        ],
    )
    .finish();
    assert_eq!(rec.phases[0].start, Duration::ZERO);
    assert_eq!(rec.phases[0].end, Duration::from_millis(2500));
    assert_eq!(rec.phases[1].start, Duration::from_millis(2500));
    assert_eq!(rec.phases[1].end, Duration::from_millis(4500));
    assert_eq!(rec.windows.len(), 5);
    assert_eq!(rec.duration(), Duration::from_secs(5));
}
