//! `timeline.csv`: one row per window and op kind, for spreadsheets and
//! scripts.
//!
//! Each window has an `all` row (every op kind together, present even when the
//! window saw no request, so the timeline has no holes) followed by one row per
//! op kind that occurred in it. Extra series of the record (`record.series`)
//! follow as one column each, repeated on every row of their window. Columns
//! are documented in `docs/REPORTS.md`.

use std::fmt::Write as _;

use super::ReportError;
use hdrhistogram::Histogram;

use super::aggregate::{RunTotals, phase_index};
use super::format::csv_field;
use super::summary::ALL_OPS;
use crate::recorder::{Counts, RunRecord};
use crate::workload::OpKind;

/// File name of the timeline in a report directory.
pub const FILE: &str = "timeline.csv";

/// The fixed columns, in order; series columns follow.
pub const COLUMNS: [&str; 22] = [
    "start_s",
    "end_s",
    "phase",
    "op",
    "scheduled",
    "ok",
    "misses",
    "stale_reads",
    "errors",
    "timeouts",
    "held_back",
    "scheduled_per_s",
    "throughput_per_s",
    "availability",
    "hit_ratio",
    "mean_us",
    "p50_us",
    "p95_us",
    "p99_us",
    "p999_us",
    "max_us",
    "error_kinds",
];

/// The CSV text of `record`'s timeline.
pub fn to_csv(record: &RunRecord) -> Result<String, ReportError> {
    to_csv_with(record, &RunTotals::of(record))
}

/// The CSV text of `record`'s timeline, from its already computed `totals`.
pub fn to_csv_with(record: &RunRecord, totals: &RunTotals) -> Result<String, ReportError> {
    let window = record.meta.window;
    if window.is_zero() {
        return Err(ReportError::ZeroWindow);
    }
    let secs = window.as_secs_f64();
    let mut out = String::new();
    let mut header: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    header.extend(record.series.keys().map(|k| csv_field(k)));
    out.push_str(&header.join(","));
    out.push('\n');

    for (i, w) in record.windows.iter().enumerate() {
        let phase = phase_index(record, w.start)
            .map(|p| record.phases[p].name.as_str())
            .unwrap_or("");
        let series: String = record
            .series
            .values()
            .map(|values| match values.get(i).filter(|v| v.is_finite()) {
                Some(v) => format!(",{v}"),
                None => ",".to_string(),
            })
            .collect();
        let start = w.start.as_secs_f64();
        // The window's histograms are used as they are; only the `all` row
        // needs a sum.
        let mut row = |op: &str, hist: &Histogram<u64>, c: &Counts, gets: Option<&Counts>| {
            let scheduled = c.scheduled();
            let lat = |q: f64| {
                if hist.is_empty() {
                    String::new()
                } else {
                    hist.value_at_quantile(q).to_string()
                }
            };
            let availability = if scheduled > 0 {
                format!("{:.6}", c.ok as f64 / scheduled as f64)
            } else {
                String::new()
            };
            let hit_ratio = gets.filter(|g| g.ok > 0).map_or_else(String::new, |g| {
                format!("{:.6}", g.ok.saturating_sub(g.misses) as f64 / g.ok as f64)
            });
            let kinds: Vec<String> = c.errors.iter().map(|(k, n)| format!("{k}={n}")).collect();
            let _ = writeln!(
                out,
                "{:.3},{:.3},{},{},{},{},{},{},{},{},{},{:.1},{:.1},{},{},{},{},{},{},{},{},{}{}",
                start,
                start + secs,
                csv_field(phase),
                op,
                scheduled,
                c.ok,
                c.misses,
                c.stale,
                c.error_total(),
                c.timeouts,
                c.held_back,
                scheduled as f64 / secs,
                c.ok as f64 / secs,
                availability,
                hit_ratio,
                if hist.is_empty() {
                    String::new()
                } else {
                    format!("{:.1}", hist.mean())
                },
                lat(0.5),
                lat(0.95),
                lat(0.99),
                lat(0.999),
                if hist.is_empty() {
                    String::new()
                } else {
                    hist.max().to_string()
                },
                csv_field(&kinds.join(";")),
                series,
            );
        };
        let all = &totals.windows[i];
        let gets = w.ops.get(&OpKind::Get).map(|g| &g.counts);
        row(ALL_OPS, &all.hist, &all.counts, gets);
        for (kind, op) in &w.ops {
            let gets = (*kind == OpKind::Get).then_some(&op.counts);
            row(kind.as_str(), &op.hist, &op.counts, gets);
        }
    }
    Ok(out)
}
