//! Exact totals over windows: histograms are added and counts summed, so a
//! phase's p99 is the p99 of all its requests, never an average of the
//! windows' p99s.
//!
//! This lives in `report` rather than `recorder` because only the reports
//! need it; the recorder hands over per-window figures and stops there.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::recorder::{Counts, OpWindow, RunRecord, Window, new_histogram};
use crate::workload::OpKind;

/// The sum of some op windows: one histogram and one set of counts.
#[derive(Debug, Clone)]
pub struct Totals {
    /// Latencies of all ok requests added, microseconds. Auto-resizing, so a
    /// window histogram with a wider range than the project's bounds still adds.
    pub hist: Histogram<u64>,
    /// Outcome counts added.
    pub counts: Counts,
}

impl Default for Totals {
    fn default() -> Self {
        let mut hist = new_histogram();
        hist.auto(true);
        Self {
            hist,
            counts: Counts::default(),
        }
    }
}

impl Totals {
    /// Adds one op kind's figures of one window.
    pub fn add_op(&mut self, op: &OpWindow) {
        self.add_parts(&op.hist, &op.counts);
    }

    /// Adds another total.
    pub fn add(&mut self, other: &Totals) {
        self.add_parts(&other.hist, &other.counts);
    }

    fn add_parts(&mut self, hist: &Histogram<u64>, counts: &Counts) {
        // With auto-resize on, addition can only fail if the resized counts
        // array would not fit in memory addressing, which u64 values on a
        // 64-bit target cannot reach.
        self.hist
            .add(hist)
            .expect("an auto-resizing histogram accepts any addend");
        self.counts.add(counts);
    }
}

/// Totals of a span of windows, over all op kinds and per op kind.
#[derive(Debug, Clone, Default)]
pub struct SpanTotals {
    /// Every op kind together.
    pub all: Totals,
    /// Per op kind; kinds that never occurred are absent.
    pub ops: BTreeMap<OpKind, Totals>,
}

/// One window's op kinds merged into one total.
pub fn window_all(window: &Window) -> Totals {
    let mut t = Totals::default();
    for op in window.ops.values() {
        t.add_op(op);
    }
    t
}

/// The index of the phase a window starting at `start` belongs to: the phase
/// whose `[start, end)` holds it. Requests belong to the window of their
/// intended start, so a window belongs to the phase of its start.
pub fn phase_index(record: &RunRecord, start: Duration) -> Option<usize> {
    record
        .phases
        .iter()
        .position(|p| p.start <= start && start < p.end)
}

/// Where the run ends: the end of its last phase or of its last window,
/// whichever is later.
pub fn run_end(record: &RunRecord) -> Duration {
    let phases_end = record
        .phases
        .iter()
        .map(|p| p.end)
        .max()
        .unwrap_or_default();
    let windows_end = record
        .windows
        .last()
        .map(|w| w.start + record.meta.window)
        .unwrap_or_default();
    phases_end.max(windows_end)
}

/// Everything the reports add up, computed once per record: each window's
/// op kinds together, each phase, and the whole run.
///
/// Each op window is added twice (into its window's total and into its
/// phase's op total); phase and run totals are then sums of those. Addition
/// is exact, so the order does not change any figure. Adding histograms is
/// the reports' main cost, so this keeps it to the minimum.
#[derive(Debug, Clone)]
pub struct RunTotals {
    /// Each window's op kinds together, in window order.
    pub windows: Vec<Totals>,
    /// Each phase, in the record's phase order.
    pub phases: Vec<SpanTotals>,
    /// The whole run, windows outside every phase included.
    pub overall: SpanTotals,
}

impl RunTotals {
    /// The totals of `record`.
    pub fn of(record: &RunRecord) -> RunTotals {
        let mut windows = Vec::with_capacity(record.windows.len());
        let mut phases = vec![SpanTotals::default(); record.phases.len()];
        let mut outside = SpanTotals::default();
        for w in &record.windows {
            windows.push(window_all(w));
            let span = match phase_index(record, w.start) {
                Some(i) => &mut phases[i],
                None => &mut outside,
            };
            for (kind, op) in &w.ops {
                span.ops.entry(*kind).or_default().add_op(op);
            }
        }
        let mut overall = SpanTotals::default();
        for span in phases.iter().chain(std::iter::once(&outside)) {
            for (kind, t) in &span.ops {
                overall.ops.entry(*kind).or_default().add(t);
            }
        }
        for span in phases.iter_mut().chain(std::iter::once(&mut overall)) {
            let SpanTotals { all, ops } = span;
            for t in ops.values() {
                all.add(t);
            }
        }
        RunTotals {
            windows,
            phases,
            overall,
        }
    }
}
