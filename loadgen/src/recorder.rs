//! What a run records: per-window latency histograms and outcome counts per
//! op kind, the phases, and the events (faults) with their times.
//!
//! A [`RunRecord`] is the one thing the simulator and `ringlab-load` hand to
//! the report code, so reports look the same whichever produced them. All
//! times are *model* time, as offsets from the start of the run.
//!
//! Counting rules (documented in the reports too):
//! - a request is *scheduled* when its intended start time comes; it then
//!   ends as exactly one of: ok, an error (by kind), a timeout, or held back
//!   (never sent because the in-flight cap was reached);
//! - a GET that finds nothing is ok *and* a miss: misses count in the hit
//!   ratio, not against availability;
//! - a GET whose value predates a write acknowledged before it was sent is
//!   ok, a hit, *and* stale (see [`crate::stale`] for the exact rule);
//! - availability = ok / scheduled; hit ratio = (ok gets - misses) / ok gets;
//! - histograms hold the latency of ok requests only, measured from the
//!   intended start (so queueing in the client shows, as in wrk2).
//!
//! Requests are assigned to the window of their intended start.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::workload::OpKind;

/// Lowest latency a histogram tracks, in microseconds.
pub const HIST_LOW_US: u64 = 1;
/// Highest latency a histogram tracks, in microseconds (60 s).
pub const HIST_HIGH_US: u64 = 60_000_000;
/// Significant decimal digits kept by every histogram.
pub const HIST_SIGFIG: u8 = 3;

/// A latency histogram in microseconds with the project's bounds.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(HIST_LOW_US, HIST_HIGH_US, HIST_SIGFIG)
        .expect("histogram bounds are valid constants")
}

/// Outcome counts of one op kind in one window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Answered successfully within the timeout (includes misses).
    pub ok: u64,
    /// GETs that were ok but found no value.
    pub misses: u64,
    /// GETs that were ok and hits, but returned a value older than a write
    /// acknowledged before they were sent (see [`crate::stale`]).
    pub stale: u64,
    /// Error replies and connection failures, by kind ("OVERLOADED",
    /// "UNAVAILABLE", "connection", ...). BTreeMap: the order reaches files.
    pub errors: BTreeMap<String, u64>,
    /// No answer within the request's timeout.
    pub timeouts: u64,
    /// Scheduled but never sent: the in-flight cap held them back.
    pub held_back: u64,
}

impl Counts {
    /// Requests that came due in this window, whatever their outcome.
    pub fn scheduled(&self) -> u64 {
        self.ok + self.error_total() + self.timeouts + self.held_back
    }

    pub fn error_total(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn add(&mut self, other: &Counts) {
        self.ok += other.ok;
        self.misses += other.misses;
        self.stale += other.stale;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.timeouts += other.timeouts;
        self.held_back += other.held_back;
    }
}

/// One op kind's figures in one window.
#[derive(Debug, Clone)]
pub struct OpWindow {
    /// Latencies of ok requests, microseconds.
    pub hist: Histogram<u64>,
    pub counts: Counts,
}

impl Default for OpWindow {
    fn default() -> Self {
        Self {
            hist: new_histogram(),
            counts: Counts::default(),
        }
    }
}

/// One time window of the run.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Offset of the window's start from the run's start.
    pub start: Duration,
    /// Figures per op kind; kinds with no request are absent.
    pub ops: BTreeMap<OpKind, OpWindow>,
}

/// A phase's place on the run's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpan {
    pub name: String,
    pub start: Duration,
    pub end: Duration,
}

/// Something that happened during the run (a fault, a heal), for shading and
/// labelling plots. `end` is set for interval events (a partition healed, a
/// node restarted).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: Duration,
    pub end: Option<Duration>,
    /// Short machine-friendly kind: "kill", "restart", "partition", "slow", ...
    pub kind: String,
    /// Human label: "kill node-3".
    pub label: String,
}

/// Where the run came from.
#[derive(Debug, Clone, PartialEq)]
pub struct RunMeta {
    /// Scenario name (or "adhoc" for a flags-only ringlab-load run).
    pub scenario: String,
    /// The scenario's description: the lesson text.
    pub description: String,
    /// The seed, for simulated runs.
    pub seed: Option<u64>,
    /// "sim" or "real".
    pub source: String,
    /// Window length.
    pub window: Duration,
}

/// Everything a run recorded; the input of every report.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub meta: RunMeta,
    pub phases: Vec<PhaseSpan>,
    /// Consecutive windows from the start of the run, `meta.window` apart.
    pub windows: Vec<Window>,
    pub events: Vec<Event>,
    /// Extra time series, by name (e.g. "db.queries_per_s"): per-window
    /// values aligned with `windows`.
    pub series: BTreeMap<String, Vec<f64>>,
    /// The end-of-run verdict on lost acknowledged writes, when the driver
    /// could look at the cluster's stores (the fast simulation engine).
    pub durability: Option<crate::durability::Durability>,
}

// ---------------------------------------------------------------------------
// Derived figures and exact aggregation.
// ---------------------------------------------------------------------------

impl Counts {
    /// ok / scheduled; `None` when nothing was scheduled (no data is not
    /// 100% and not 0%).
    pub fn availability(&self) -> Option<f64> {
        let scheduled = self.scheduled();
        (scheduled > 0).then(|| self.ok as f64 / scheduled as f64)
    }

    /// Hits / ok GETs; only meaningful for GET counts. `None` without ok
    /// requests.
    pub fn hit_ratio(&self) -> Option<f64> {
        (self.ok > 0).then(|| self.ok.saturating_sub(self.misses) as f64 / self.ok as f64)
    }

    /// Stale reads / ok GETs; only meaningful for GET counts. `None` without
    /// ok requests.
    pub fn stale_share(&self) -> Option<f64> {
        (self.ok > 0).then(|| self.stale as f64 / self.ok as f64)
    }
}

impl OpWindow {
    /// Adds `other` into `self`: histogram addition and count sums, exact.
    pub fn merge(&mut self, other: &OpWindow) {
        self.hist
            .add(&other.hist)
            .expect("every histogram has the project's bounds (new_histogram)");
        self.counts.add(&other.counts);
    }

    /// Ok requests per second over a span of `len`.
    pub fn throughput(&self, len: Duration) -> f64 {
        if len.is_zero() {
            0.0
        } else {
            self.counts.ok as f64 / len.as_secs_f64()
        }
    }

    /// Scheduled requests per second over a span of `len`.
    pub fn offered(&self, len: Duration) -> f64 {
        if len.is_zero() {
            0.0
        } else {
            self.counts.scheduled() as f64 / len.as_secs_f64()
        }
    }
}

impl Window {
    /// This window's figures of one op kind (`Some`) or of all kinds added
    /// together (`None`).
    pub fn aggregate(&self, op: Option<OpKind>) -> OpWindow {
        let mut out = OpWindow::default();
        for (kind, w) in &self.ops {
            if op.is_none_or(|o| o == *kind) {
                out.merge(w);
            }
        }
        out
    }
}

/// Why two records cannot be merged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    #[error(
        "cannot merge run records with different windows: {ours:?} here, {theirs:?} in the other record; expected equal window lengths"
    )]
    WindowMismatch { ours: Duration, theirs: Duration },
    #[error(
        "cannot merge run records with different phases: {ours:?} here, {theirs:?} in the other record; expected the same phase names and spans"
    )]
    PhaseMismatch {
        ours: Vec<String>,
        theirs: Vec<String>,
    },
}

impl RunRecord {
    /// Adds another client machine's record of the same run into this one,
    /// window by window: histograms are added and counts summed, so the
    /// result is exactly what one client making all the requests would have
    /// recorded. Events are united (deduplicated, sorted by time); series
    /// absent here are taken from `other` (series come from the harness, not
    /// from clients, so a name present in both keeps this record's values).
    pub fn merge(&mut self, other: &RunRecord) -> Result<(), MergeError> {
        if self.meta.window != other.meta.window {
            return Err(MergeError::WindowMismatch {
                ours: self.meta.window,
                theirs: other.meta.window,
            });
        }
        if self.phases != other.phases {
            let names = |p: &[PhaseSpan]| p.iter().map(|s| s.name.clone()).collect();
            return Err(MergeError::PhaseMismatch {
                ours: names(&self.phases),
                theirs: names(&other.phases),
            });
        }
        for (i, theirs) in other.windows.iter().enumerate() {
            if i == self.windows.len() {
                self.windows.push(Window {
                    start: theirs.start,
                    ops: BTreeMap::new(),
                });
            }
            let ours = &mut self.windows[i];
            for (kind, w) in &theirs.ops {
                ours.ops.entry(*kind).or_default().merge(w);
            }
        }
        for e in &other.events {
            if !self.events.contains(e) {
                self.events.push(e.clone());
            }
        }
        self.events
            .sort_by(|a, b| (a.at, &a.kind, &a.label).cmp(&(b.at, &b.kind, &b.label)));
        for (name, values) in &other.series {
            self.series
                .entry(name.clone())
                .or_insert_with(|| values.clone());
        }
        Ok(())
    }

    /// The windows whose start lies in `range`, added into one: one op kind
    /// (`Some`) or all (`None`). Exact: histogram addition, never averaged
    /// percentiles. A request belongs to the window of its intended start, so
    /// a span aligned to windows (phases of whole seconds with 1 s windows)
    /// holds exactly the requests that came due in it.
    pub fn aggregate(&self, range: std::ops::Range<Duration>, op: Option<OpKind>) -> OpWindow {
        let mut out = OpWindow::default();
        for w in self.windows.iter().filter(|w| range.contains(&w.start)) {
            for (kind, ow) in &w.ops {
                if op.is_none_or(|o| o == *kind) {
                    out.merge(ow);
                }
            }
        }
        out
    }

    /// The whole run in one: every window, one op kind or all.
    pub fn aggregate_all(&self, op: Option<OpKind>) -> OpWindow {
        self.aggregate(Duration::ZERO..Duration::MAX, op)
    }

    /// One phase (by its index in `phases`) in one: the windows starting
    /// within the phase's span.
    pub fn aggregate_phase(&self, phase: usize, op: Option<OpKind>) -> Option<OpWindow> {
        let span = self.phases.get(phase)?;
        Some(self.aggregate(span.start..span.end, op))
    }

    /// The run's length: the end of the last phase, or of the last window if
    /// requests came due after it.
    pub fn duration(&self) -> Duration {
        let phases_end = self.phases.last().map_or(Duration::ZERO, |p| p.end);
        let windows_end = self
            .windows
            .last()
            .map_or(Duration::ZERO, |w| w.start + self.meta.window);
        phases_end.max(windows_end)
    }
}

// ---------------------------------------------------------------------------
// The Recorder: what the driver feeds while a run goes on.
// ---------------------------------------------------------------------------

/// How one scheduled request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// Answered successfully (for a GET: a value was found).
    Ok,
    /// A GET answered successfully with no value: ok *and* a miss.
    Miss,
    /// A GET answered successfully with a value older than a write
    /// acknowledged before it was sent: ok, a hit, *and* stale.
    Stale,
    /// An error reply or a connection failure, by kind: the reply's first
    /// word ("OVERLOADED", "ERR", ...) or "connection".
    Error(&'a str),
    /// No answer within the timeout.
    Timeout,
    /// Never sent: the in-flight cap held it back.
    HeldBack,
}

/// Collects per-window, per-op histograms and counts while a run goes on,
/// then becomes a [`RunRecord`].
#[derive(Debug, Clone)]
pub struct Recorder {
    /// The record under construction; windows grow as requests come due.
    record: RunRecord,
}

impl Recorder {
    /// A recorder for a run of `phases` played back to back from offset 0,
    /// with windows of `meta.window` (a zero window is treated as 1 s).
    pub fn new(mut meta: RunMeta, phases: &[crate::workload::Phase]) -> Self {
        if meta.window.is_zero() {
            meta.window = Duration::from_secs(1);
        }
        let mut spans = Vec::with_capacity(phases.len());
        let mut at = Duration::ZERO;
        for p in phases {
            spans.push(PhaseSpan {
                name: p.name.clone(),
                start: at,
                end: at + p.duration,
            });
            at += p.duration;
        }
        Self {
            record: RunRecord {
                meta,
                phases: spans,
                windows: Vec::new(),
                events: Vec::new(),
                series: BTreeMap::new(),
                durability: None,
            },
        }
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        self.record.meta.window
    }

    /// Records one request that came due `intended_start` into the run.
    /// `latency` (from the intended start) goes into the histogram for ok
    /// requests and misses only; values beyond the histogram's 60 s range
    /// are clamped to it rather than lost.
    pub fn record(
        &mut self,
        intended_start: Duration,
        op: OpKind,
        outcome: Outcome<'_>,
        latency: Duration,
    ) {
        let w = self.window_mut(intended_start).ops.entry(op).or_default();
        match outcome {
            Outcome::Ok | Outcome::Miss | Outcome::Stale => {
                w.counts.ok += 1;
                match outcome {
                    Outcome::Miss => w.counts.misses += 1,
                    Outcome::Stale => w.counts.stale += 1,
                    _ => {}
                }
                let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                w.hist.saturating_record(us.max(HIST_LOW_US));
            }
            Outcome::Error(kind) => match w.counts.errors.get_mut(kind) {
                Some(n) => *n += 1,
                None => {
                    w.counts.errors.insert(kind.to_string(), 1);
                }
            },
            Outcome::Timeout => w.counts.timeouts += 1,
            Outcome::HeldBack => w.counts.held_back += 1,
        }
    }

    /// Adds an event (a fault) to the record.
    pub fn event(&mut self, event: Event) {
        self.record.events.push(event);
    }

    /// Read access to what has been recorded so far.
    pub fn record_so_far(&self) -> &RunRecord {
        &self.record
    }

    /// The finished record: windows cover every phase (empty windows
    /// included) and every request recorded; events sorted by time.
    pub fn finish(mut self) -> RunRecord {
        let end = self.record.phases.last().map_or(Duration::ZERO, |p| p.end);
        if !end.is_zero() {
            self.window_mut(end - Duration::from_nanos(1));
        }
        self.record
            .events
            .sort_by(|a, b| (a.at, &a.kind, &a.label).cmp(&(b.at, &b.kind, &b.label)));
        self.record
    }

    /// The window holding `at`, creating it and any before it.
    fn window_mut(&mut self, at: Duration) -> &mut Window {
        let len = self.record.meta.window;
        let idx = usize::try_from(at.as_nanos() / len.as_nanos()).unwrap_or(usize::MAX);
        let windows = &mut self.record.windows;
        while windows.len() <= idx {
            let start = len * u32::try_from(windows.len()).unwrap_or(u32::MAX);
            windows.push(Window {
                start,
                ops: BTreeMap::new(),
            });
        }
        &mut windows[idx]
    }
}
