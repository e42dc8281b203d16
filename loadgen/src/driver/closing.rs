//! The table `ringlab-load` prints when a run ends, as text, CSV or JSON,
//! and the latency percentile spectrum (`--spectrum`, as wrk2 prints it).

use std::fmt::Write as _;

use serde::Serialize;

use crate::recorder::RunRecord;
use crate::workload::OpKind;

/// One row of the closing table: one operation kind, or `all`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// `get`, `set`, ... or `all`.
    pub op: String,
    /// Requests the schedule asked for.
    pub scheduled: u64,
    /// Successful requests per second over the run.
    pub ok_per_s: f64,
    /// Requests answered with an error.
    pub errors: u64,
    /// Requests unanswered within the timeout.
    pub timeouts: u64,
    /// Requests never sent: the in-flight cap held them back.
    pub held: u64,
    /// Successful share of the scheduled requests, 0 to 1 (None when none ended).
    pub availability: Option<f64>,
    /// Latency percentiles of the successful requests, microseconds (None
    /// when there were none).
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub p999_us: Option<u64>,
    pub max_us: Option<u64>,
    /// GET hits over GETs answered (GET only).
    pub hit_ratio: Option<f64>,
    /// Reads that returned a value older than an acknowledged write.
    pub stale: u64,
}

/// The rows: each operation kind the run scheduled, then `all`.
pub fn rows(record: &RunRecord) -> Vec<Row> {
    let len = record.duration();
    let kinds = OpKind::ALL.iter().map(|k| Some(*k)).chain([None]);
    kinds
        .filter_map(|op| {
            let w = record.aggregate_all(op);
            if w.counts.scheduled() == 0 {
                return None;
            }
            let q = |q: f64| (!w.hist.is_empty()).then(|| w.hist.value_at_quantile(q));
            Some(Row {
                op: op.map_or("all", |k| k.as_str()).to_string(),
                scheduled: w.counts.scheduled(),
                ok_per_s: w.throughput(len),
                errors: w.counts.error_total(),
                timeouts: w.counts.timeouts,
                held: w.counts.held_back,
                availability: w.counts.availability(),
                p50_us: q(0.5),
                p99_us: q(0.99),
                p999_us: q(0.999),
                max_us: (!w.hist.is_empty()).then(|| w.hist.max()),
                hit_ratio: if op == Some(OpKind::Get) {
                    w.counts.hit_ratio()
                } else {
                    None
                },
                stale: w.counts.stale,
            })
        })
        .collect()
}

/// The rows as the terminal table, then one line per error kind.
pub fn text(record: &RunRecord) -> String {
    let mut out = format!(
        "{:<7} {:>10} {:>10} {:>8} {:>8} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "op",
        "scheduled",
        "ok/s",
        "errors",
        "timeouts",
        "held",
        "avail",
        "p50",
        "p99",
        "p99.9",
        "max",
        "hit",
        "stale"
    );
    let us = |v: Option<u64>| v.map_or("-".to_string(), format_us);
    for r in rows(record) {
        let _ = writeln!(
            out,
            "{:<7} {:>10} {:>10.0} {:>8} {:>8} {:>9} {:>9.3}% {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            r.op,
            r.scheduled,
            r.ok_per_s,
            r.errors,
            r.timeouts,
            r.held,
            r.availability.unwrap_or(0.0) * 100.0,
            us(r.p50_us),
            us(r.p99_us),
            us(r.p999_us),
            us(r.max_us),
            r.hit_ratio.map_or("-".into(), |h| format!("{h:.3}")),
            r.stale
        );
    }
    for (kind, n) in &record.aggregate_all(None).counts.errors {
        let _ = writeln!(out, "errors {kind}: {n}");
    }
    out
}

/// The rows as CSV with a header line; absent figures are empty fields.
pub fn csv(record: &RunRecord) -> String {
    let mut out = String::from(
        "op,scheduled,ok_per_s,errors,timeouts,held,availability,p50_us,p99_us,p999_us,max_us,hit_ratio,stale\n",
    );
    let opt = |v: Option<String>| v.unwrap_or_default();
    for r in rows(record) {
        let _ = writeln!(
            out,
            "{},{},{:.3},{},{},{},{},{},{},{},{},{},{}",
            r.op,
            r.scheduled,
            r.ok_per_s,
            r.errors,
            r.timeouts,
            r.held,
            opt(r.availability.map(|a| format!("{a:.6}"))),
            opt(r.p50_us.map(|v| v.to_string())),
            opt(r.p99_us.map(|v| v.to_string())),
            opt(r.p999_us.map(|v| v.to_string())),
            opt(r.max_us.map(|v| v.to_string())),
            opt(r.hit_ratio.map(|h| format!("{h:.6}"))),
            r.stale
        );
    }
    out
}

/// The rows as a JSON array (absent figures are null).
pub fn json(record: &RunRecord) -> String {
    serde_json::to_string_pretty(&rows(record)).expect("rows serialize") + "\n"
}

/// The latency distribution of every successful request, as wrk2's
/// "Detailed Percentile spectrum": value, percentile, count at or below,
/// and 1/(1-percentile); five steps per halving of the distance to 100%.
pub fn spectrum(record: &RunRecord) -> String {
    let hist = record.aggregate_all(None).hist;
    let mut out = format!(
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value(ms)", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if hist.is_empty() {
        out.push_str("(no successful request)\n");
        return out;
    }
    for v in hist.iter_quantiles(5) {
        let p = v.quantile_iterated_to();
        let inverse = if p < 1.0 {
            format!("{:.2}", 1.0 / (1.0 - p))
        } else {
            "inf".to_string()
        };
        let _ = writeln!(
            out,
            "{:>12.3} {:>14.12} {:>10} {:>14}",
            v.value_iterated_to() as f64 / 1e3,
            p,
            hist.count_between(0, v.value_iterated_to()),
            inverse
        );
    }
    out
}

/// Microseconds in the unit that reads best: 412us, 3.25ms, 1.50s.
pub fn format_us(us: u64) -> String {
    if us < 1000 {
        format!("{us}us")
    } else if us < 1_000_000 {
        format!("{:.2}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::recorder::{Outcome, Recorder, RunMeta};

    /// 100 GETs (90 hits at 1..=90 ms, 10 misses at 5 ms), 20 SETs (19 ok at
    /// 2 ms, one error), over a 10 s phase.
    fn record() -> RunRecord {
        let text = "name = \"t\"\n[[phase]]\nname = \"p\"\nduration = \"10s\"\nrate = 12\n";
        let sc = crate::scenario::parse(text, "t.toml").expect("a valid scenario");
        let meta = RunMeta {
            scenario: "t".into(),
            description: String::new(),
            seed: None,
            source: "sim".into(),
            window: Duration::from_secs(1),
        };
        let mut rec = Recorder::new(meta, &sc.phases);
        let at = Duration::from_millis(100);
        for ms in 1..=90 {
            rec.record(at, OpKind::Get, Outcome::Ok, Duration::from_millis(ms));
        }
        for _ in 0..10 {
            rec.record(at, OpKind::Get, Outcome::Miss, Duration::from_millis(5));
        }
        for _ in 0..19 {
            rec.record(at, OpKind::Set, Outcome::Ok, Duration::from_millis(2));
        }
        rec.record(at, OpKind::Set, Outcome::Error("OOM"), Duration::ZERO);
        rec.finish()
    }

    #[test]
    fn rows_count_each_kind_then_all() {
        let rows = rows(&record());
        let names: Vec<&str> = rows.iter().map(|r| r.op.as_str()).collect();
        assert_eq!(names, ["get", "set", "all"]);
        let (get, set, all) = (&rows[0], &rows[1], &rows[2]);
        assert_eq!(
            (get.scheduled, set.scheduled, all.scheduled),
            (100, 20, 120)
        );
        assert_eq!((set.errors, all.errors), (1, 1));
        assert_eq!(get.hit_ratio, Some(0.9));
        assert_eq!(set.hit_ratio, None, "hit ratio is a GET figure");
        assert_eq!(set.availability, Some(0.95));
        // 119 ok requests over the 10 s run.
        assert!((all.ok_per_s - 11.9).abs() < 1e-9, "{}", all.ok_per_s);
        // Sorted, the 50th GET is 40 ms: 1-4 ms, eleven at 5 ms, then 6 ms on.
        let p50 = get.p50_us.expect("gets succeeded");
        assert!((39_900..=40_100).contains(&p50), "p50 of the gets: {p50}");
        assert!(get.max_us.expect("max") >= 90_000);
    }

    #[test]
    fn csv_and_json_carry_the_same_rows() {
        let r = record();
        let csv = csv(&r);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4, "a header and three rows: {csv}");
        let header: Vec<&str> = lines[0].split(',').collect();
        let set: Vec<&str> = lines[2].split(',').collect();
        assert_eq!(header.len(), set.len());
        let field = |name: &str| set[header.iter().position(|h| *h == name).unwrap()];
        assert_eq!(
            (field("op"), field("errors"), field("hit_ratio")),
            ("set", "1", "")
        );
        let json: serde_json::Value = serde_json::from_str(&json(&r)).expect("valid JSON");
        let rows = json.as_array().expect("an array");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1]["op"], "set");
        assert_eq!(rows[1]["availability"], 0.95);
        assert!(rows[1]["hit_ratio"].is_null());
        assert_eq!(rows[2]["scheduled"], 120);
    }

    #[test]
    fn the_spectrum_climbs_to_every_request_at_the_maximum() {
        let r = record();
        let text = spectrum(&r);
        let rows: Vec<(f64, f64, u64)> = text
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                )
            })
            .collect();
        assert!(rows.len() > 10, "{text}");
        for w in rows.windows(2) {
            assert!(
                w[0].0 <= w[1].0 && w[0].1 <= w[1].1 && w[0].2 <= w[1].2,
                "{text}"
            );
        }
        let last = rows.last().unwrap();
        assert_eq!((last.1, last.2), (1.0, 119), "{text}");
        let max_ms = r.aggregate_all(None).hist.max() as f64 / 1e3;
        assert!((last.0 - max_ms).abs() < 1e-3, "{text}");
    }

    #[test]
    fn units_read_best() {
        assert_eq!(format_us(412), "412us");
        assert_eq!(format_us(3250), "3.25ms");
        assert_eq!(format_us(1_500_000), "1.50s");
    }
}
