//! `Summary` against a reference model: figures over a phase or the whole
//! run equal those of one histogram holding every raw latency of that span
//! (exact addition, no averaging of percentiles), counts are sums, and the
//! JSON round-trips.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;
use proptest::prelude::*;
use ringlab_loadgen::recorder::{
    Event, OpWindow, PhaseSpan, RunMeta, RunRecord, Window, new_histogram,
};
use ringlab_loadgen::report::{Metric, ReportError, Stats, Summary, sample};
use ringlab_loadgen::workload::OpKind;

/// One request: op kind index, outcome (0 ok, 1 ok+miss, 2 error, 3 timeout,
/// 4 held back) and latency in microseconds (used when ok).
type Req = (usize, u8, u64);

fn build(windows: &[Vec<Req>], cuts: &[usize]) -> RunRecord {
    let w = Duration::from_millis(500);
    let mut bounds = vec![0];
    bounds.extend(
        cuts.iter()
            .copied()
            .filter(|c| *c > 0 && *c < windows.len()),
    );
    bounds.push(windows.len());
    bounds.sort_unstable();
    bounds.dedup();
    let phases = bounds
        .windows(2)
        .enumerate()
        .map(|(i, b)| PhaseSpan {
            name: format!("p{i}"),
            start: w * b[0] as u32,
            end: w * b[1] as u32,
        })
        .collect();
    let windows = windows
        .iter()
        .enumerate()
        .map(|(i, reqs)| {
            let mut ops: BTreeMap<OpKind, OpWindow> = BTreeMap::new();
            for &(k, outcome, us) in reqs {
                let kind = OpKind::ALL[k];
                let op = ops.entry(kind).or_default();
                match outcome {
                    0 | 1 => {
                        op.counts.ok += 1;
                        if outcome == 1 && kind == OpKind::Get {
                            op.counts.misses += 1;
                        }
                        op.hist.record(us).unwrap();
                    }
                    2 => *op.counts.errors.entry("OVERLOADED".into()).or_default() += 1,
                    3 => op.counts.timeouts += 1,
                    _ => op.counts.held_back += 1,
                }
            }
            Window {
                start: w * i as u32,
                ops,
            }
        })
        .collect();
    RunRecord {
        meta: RunMeta {
            scenario: "prop".into(),
            description: String::new(),
            seed: None,
            source: "real".into(),
            window: w,
        },
        phases,
        windows,
        events: vec![Event {
            at: Duration::ZERO,
            end: None,
            kind: "mark".into(),
            label: "start".into(),
        }],
        series: BTreeMap::new(),
        durability: None,
    }
}

/// The reference: what a span's stats must be, from the raw requests.
fn model(reqs: &[&Req], kind: Option<usize>) -> (u64, u64, u64, u64, Histogram<u64>) {
    let mut h = new_histogram();
    let (mut requests, mut ok, mut misses, mut errors) = (0, 0, 0, 0);
    for &&(k, outcome, us) in reqs {
        if kind.is_some_and(|kind| kind != k) {
            continue;
        }
        requests += 1;
        match outcome {
            0 | 1 => {
                ok += 1;
                if outcome == 1 && k == 0 {
                    misses += 1;
                }
                h.record(us).unwrap();
            }
            2 => errors += 1,
            _ => {}
        }
    }
    (requests, ok, misses, errors, h)
}

fn check_stats(stats: &Stats, reqs: &[&Req], kind: Option<usize>, span_s: f64) {
    let (requests, ok, misses, errors, h) = model(reqs, kind);
    assert_eq!(stats.requests, requests);
    assert_eq!(stats.ok, ok);
    assert_eq!(stats.misses, misses);
    assert_eq!(stats.errors, errors);
    assert_eq!(
        stats.requests,
        stats.ok + stats.errors + stats.timeouts + stats.held_back
    );
    assert_eq!(stats.latency_us.count, h.len());
    if h.is_empty() {
        assert_eq!(stats.latency_us.p99, None);
    } else {
        assert_eq!(stats.latency_us.p50, Some(h.value_at_quantile(0.5)));
        assert_eq!(stats.latency_us.p95, Some(h.value_at_quantile(0.95)));
        assert_eq!(stats.latency_us.p99, Some(h.value_at_quantile(0.99)));
        assert_eq!(stats.latency_us.p999, Some(h.value_at_quantile(0.999)));
        assert_eq!(stats.latency_us.max, Some(h.max()));
        assert_eq!(stats.latency_us.min, Some(h.min()));
    }
    match stats.availability {
        None => assert_eq!(requests, 0),
        Some(a) => {
            assert!((a - ok as f64 / requests as f64).abs() < 1e-6);
        }
    }
    let expected_tp = ok as f64 / span_s;
    assert!((stats.throughput_per_s - expected_tp).abs() < 1e-3);
}

fn reqs_strategy() -> impl Strategy<Value = Vec<Vec<Req>>> {
    prop::collection::vec(
        prop::collection::vec((0usize..3, 0u8..5, 1u64..200_000), 0..40),
        1..10,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn summary_matches_the_raw_requests(
        windows in reqs_strategy(),
        cuts in prop::collection::vec(0usize..10, 0..3),
    ) {
        let record = build(&windows, &cuts);
        let summary = Summary::from_record(&record).unwrap();
        prop_assert_eq!(summary.phases.len(), record.phases.len());

        let all: Vec<&Req> = windows.iter().flatten().collect();
        let run_s = windows.len() as f64 * 0.5;
        check_stats(&summary.overall.all, &all, None, run_s);
        for k in 0..3 {
            let name = OpKind::ALL[k].as_str();
            let present = all.iter().any(|r| r.0 == k);
            prop_assert_eq!(summary.overall.ops.contains_key(name), present);
            if let Some(stats) = summary.overall.ops.get(name) {
                check_stats(stats, &all, Some(k), run_s);
            }
        }
        for (phase, span) in summary.phases.iter().zip(&record.phases) {
            let first = (span.start.as_millis() / 500) as usize;
            let last = (span.end.as_millis() / 500) as usize;
            let reqs: Vec<&Req> = windows[first..last].iter().flatten().collect();
            let span_s = (last - first) as f64 * 0.5;
            check_stats(&phase.all, &reqs, None, span_s);
            for (name, stats) in &phase.ops {
                let k = OpKind::ALL.iter().position(|o| o.as_str() == name).unwrap();
                check_stats(stats, &reqs, Some(k), span_s);
            }
        }

        // The JSON reads back into the same summary.
        let back = Summary::from_json(&summary.to_json(), Path::new("mem")).unwrap();
        prop_assert_eq!(&back, &summary);
    }
}

#[test]
fn hit_ratio_counts_gets_only() {
    // 4 ok GETs, 1 a miss; sets do not enter the hit ratio.
    let windows = vec![vec![
        (0, 0, 10),
        (0, 0, 10),
        (0, 0, 10),
        (0, 1, 10),
        (1, 0, 10),
        (1, 0, 10),
    ]];
    let s = Summary::from_record(&build(&windows, &[])).unwrap();
    assert_eq!(s.overall.all.hit_ratio, Some(0.75));
    assert_eq!(s.overall.ops["get"].hit_ratio, Some(0.75));
    assert_eq!(s.overall.ops["set"].hit_ratio, None);
    assert_eq!(Metric::HitRatio.value(&s.overall.all), Some(0.75));
}

#[test]
fn summary_json_is_byte_deterministic() {
    let a = Summary::from_record(&sample::record(9)).unwrap().to_json();
    let b = Summary::from_record(&sample::record(9)).unwrap().to_json();
    assert_eq!(a, b);
}

#[test]
fn load_reads_a_directory_or_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let summary = Summary::from_record(&sample::record(1)).unwrap();
    std::fs::write(dir.path().join("summary.json"), summary.to_json()).unwrap();
    assert_eq!(Summary::load(dir.path()).unwrap(), summary);
    assert_eq!(
        Summary::load(&dir.path().join("summary.json")).unwrap(),
        summary
    );
    assert_eq!(summary.phase("steady").unwrap().name, "steady");
    assert!(summary.phase("nope").is_none());
}

#[test]
fn load_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let missing = Summary::load(&dir.path().join("nothing")).unwrap_err();
    assert!(matches!(missing, ReportError::Io { .. }), "{missing}");

    let path = dir.path().join("summary.json");
    std::fs::write(&path, "{\"format\": \"ringlab-summary/99\"}").unwrap();
    let err = Summary::load(&path).unwrap_err();
    assert!(
        matches!(err, ReportError::SummaryFormat { ref found, .. } if found == "ringlab-summary/99"),
        "{err}"
    );
    assert!(err.to_string().contains("ringlab-summary/1"), "{err}");

    std::fs::write(
        &path,
        "{\"format\": \"ringlab-summary/1\", \"scenario\": 3}",
    )
    .unwrap();
    let err = Summary::load(&path).unwrap_err();
    assert!(matches!(err, ReportError::SummaryJson { .. }), "{err}");
    assert!(err.to_string().contains("summary.json"), "{err}");

    std::fs::write(&path, "not json").unwrap();
    assert!(matches!(
        Summary::load(&path).unwrap_err(),
        ReportError::SummaryJson { .. }
    ));
}

#[test]
fn zero_window_is_an_error_not_a_panic() {
    let mut record = sample::record(1);
    record.meta.window = Duration::ZERO;
    assert!(matches!(
        Summary::from_record(&record),
        Err(ReportError::ZeroWindow)
    ));
    let dir = tempfile::tempdir().unwrap();
    let err = ringlab_loadgen::report::write_all(&record, dir.path()).unwrap_err();
    assert!(err.to_string().contains("zero window"), "{err}");
}

#[test]
fn empty_record_still_summarises() {
    let record = build(&[vec![]], &[]);
    let s = Summary::from_record(&record).unwrap();
    assert_eq!(s.overall.all.requests, 0);
    assert_eq!(s.overall.all.availability, None);
    assert_eq!(s.overall.all.latency_us.p50, None);
    assert!(s.to_markdown().contains("| all | 0 |"));
    let dir = tempfile::tempdir().unwrap();
    let files = ringlab_loadgen::report::write_all(&record, dir.path()).unwrap();
    assert!(files.len() >= 9);
}

#[test]
fn a_record_without_windows_or_phases_still_writes_every_file() {
    let mut record = build(&[], &[]);
    record.phases.clear();
    record.events.clear();
    let s = Summary::from_record(&record).unwrap();
    assert_eq!(s.duration_us, 0);
    assert_eq!(s.overall.all.throughput_per_s, 0.0);
    assert!(s.phases.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let files = ringlab_loadgen::report::write_all(&record, dir.path()).unwrap();
    assert_eq!(
        files.len(),
        10,
        "no series, so no series plot (report.md included)"
    );
}

/// The recorder's own aggregation (`RunRecord::aggregate_*`) and the
/// summary's are written apart; they must agree exactly.
#[test]
fn summary_agrees_with_the_recorders_aggregation() {
    let record = sample::record(21);
    let s = Summary::from_record(&record).unwrap();
    let check = |stats: &Stats, agg: &ringlab_loadgen::recorder::OpWindow| {
        assert_eq!(stats.requests, agg.counts.scheduled());
        assert_eq!(stats.ok, agg.counts.ok);
        assert_eq!(stats.errors_by_kind, agg.counts.errors);
        assert_eq!(stats.latency_us.p99, Some(agg.hist.value_at_quantile(0.99)));
        assert_eq!(
            stats.latency_us.p999,
            Some(agg.hist.value_at_quantile(0.999))
        );
        assert_eq!(stats.latency_us.max, Some(agg.hist.max()));
    };
    check(&s.overall.all, &record.aggregate_all(None));
    assert_eq!(s.duration_us, record.duration().as_micros() as u64);
    for (i, phase) in s.phases.iter().enumerate() {
        check(&phase.all, &record.aggregate_phase(i, None).unwrap());
        for kind in OpKind::ALL {
            let agg = record.aggregate_phase(i, Some(kind)).unwrap();
            match phase.ops.get(kind.as_str()) {
                Some(stats) => check(stats, &agg),
                // Kinds the phase never issued are left out.
                None => assert_eq!(agg.counts.scheduled(), 0, "{}", kind.as_str()),
            }
        }
    }
}
