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
}
