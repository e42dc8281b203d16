//! `latency.hlog` parses back, with the HdrHistogram crate's own reader,
//! into exactly the record's histograms: one untagged interval per window
//! (every op kind together) and one tagged interval per op kind.

use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use ringlab_loadgen::recorder::RunRecord;
use ringlab_loadgen::report::{hlog, sample};

/// (start, tag, histogram) of every interval in `bytes`, plus the StartTime
/// and BaseTime headers.
type Parsed = (
    Vec<(Duration, Option<String>, Histogram<u64>)>,
    Vec<Duration>,
);

fn parse(bytes: &[u8]) -> Parsed {
    let mut intervals = Vec::new();
    let mut times = Vec::new();
    let mut de = Deserializer::new();
    for entry in IntervalLogIterator::new(bytes) {
        match entry.expect("every line of the log parses") {
            LogEntry::Interval(h) => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(h.encoded_histogram())
                    .expect("histogram is valid base64");
                let hist: Histogram<u64> = de
                    .deserialize(&mut raw.as_slice())
                    .expect("histogram deserializes");
                assert_eq!(h.duration(), Duration::from_secs(1));
                assert!(
                    (h.max() - hist.max() as f64 / 1000.0).abs() < 0.001,
                    "the max column is the max in ms"
                );
                intervals.push((
                    h.start_timestamp(),
                    h.tag().map(|t| t.as_str().to_string()),
                    hist,
                ));
            }
            LogEntry::StartTime(t) | LogEntry::BaseTime(t) => times.push(t),
        }
    }
    (intervals, times)
}

fn assert_same(a: &Histogram<u64>, b: &Histogram<u64>, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: count");
    let va: Vec<(u64, u64)> = a
        .iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect();
    let vb: Vec<(u64, u64)> = b
        .iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect();
    assert_eq!(va, vb, "{what}: recorded values");
}

fn check_round_trip(record: &RunRecord) {
    let bytes = hlog::to_bytes(record).unwrap();
    let (intervals, times) = parse(&bytes);
    assert_eq!(times, vec![Duration::ZERO, Duration::ZERO]);
    let expected: usize = record.windows.iter().map(|w| 1 + w.ops.len()).sum();
    assert_eq!(intervals.len(), expected);
    let mut it = intervals.iter();
    for w in &record.windows {
        let (start, tag, all) = it.next().unwrap();
        assert_eq!(*start, w.start);
        assert_eq!(*tag, None, "the window's first interval is untagged");
        let mut merged = ringlab_loadgen::recorder::new_histogram();
        for op in w.ops.values() {
            merged.add(&op.hist).unwrap();
        }
        assert_same(all, &merged, &format!("window {:?} all", w.start));
        for (kind, op) in &w.ops {
            let (start, tag, hist) = it.next().unwrap();
            assert_eq!(*start, w.start);
            assert_eq!(tag.as_deref(), Some(kind.as_str()));
            assert_same(
                hist,
                &op.hist,
                &format!("window {:?} {}", w.start, kind.as_str()),
            );
        }
    }
}

#[test]
fn interval_log_parses_back_into_the_same_histograms() {
    check_round_trip(&sample::record(7));
}

#[test]
fn interval_log_of_another_seed_round_trips_too() {
    check_round_trip(&sample::record(12_345));
}

#[test]
fn interval_log_is_deterministic() {
    let a = hlog::to_bytes(&sample::record(3)).unwrap();
    let b = hlog::to_bytes(&sample::record(3)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn empty_windows_round_trip_as_empty_intervals() {
    let mut record = sample::record(7);
    record.windows[5].ops.clear();
    record.windows[6]
        .ops
        .retain(|k, _| *k == ringlab_loadgen::workload::OpKind::Set);
    check_round_trip(&record);
}
