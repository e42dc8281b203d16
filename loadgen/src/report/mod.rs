//! Reports of one run, identical in shape whether the simulator or real
//! nodes produced the [`RunRecord`].
//!
//! [`write_all`] writes one directory per run:
//!
//! | file | module | what |
//! | --- | --- | --- |
//! | `summary.json` | [`summary`] | machine-readable figures per phase and op kind |
//! | `summary.md` | [`summary`] | the same as Markdown tables |
//! | `timeline.csv` | [`timeline`] | one row per window and op kind |
//! | `latency.hlog` | [`hlog`] | HdrHistogram interval log, one interval per window and op kind |
//! | `latency.svg`, `throughput.svg`, `availability.svg`, `distribution.svg`, `series-*.svg` | [`plots`] | plots |
//! | `report.html` | [`html`] | one self-contained page with all of the above |
//! | `report.md` | [`markdown`] | the page for code hosts: verdicts, tables, the plots as images |
//!
//! Every file is byte-deterministic: the same record gives the same bytes
//! (no wall-clock time, sorted maps, fixed float formatting). `docs/REPORTS.md`
//! documents each file and every field of `summary.json`.
//!
//! Figures over several windows (a phase, the whole run) come from adding the
//! windows' histograms and counts ([`aggregate`]), never from averaging
//! per-window percentiles. [`sample`] builds a seeded synthetic record for
//! tests and examples.

pub mod aggregate;
pub mod format;
pub mod hlog;
pub mod html;
pub mod markdown;
pub mod plots;
pub mod sample;
pub mod summary;
pub mod timeline;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::recorder::RunRecord;

pub use summary::{Latency, Metric, PhaseSummary, Stats, Summary};

/// One expectation's verdict as the report pages show it (the simulator's
/// and `ringlab-load`'s `[expect]` checks fill these in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectLine {
    /// The expectation as written: `phase.steady.p99 <= 5ms`.
    pub expectation: String,
    /// What the run measured, in the expectation's unit.
    pub measured: String,
    /// Whether it held.
    pub pass: bool,
}

/// Warnings about how the record's phases meet its windows: a window
/// belongs to the phase holding its start, so a phase shorter than a
/// window, or one whose start or end falls inside a window, has its
/// figures mixed with its neighbours'. Empty when every phase edge is a
/// window edge.
pub fn window_warnings(record: &RunRecord) -> Vec<String> {
    let w = record.meta.window;
    if w.is_zero() {
        return Vec::new();
    }
    let off = |d: std::time::Duration| !d.as_nanos().is_multiple_of(w.as_nanos());
    let secs = |d: std::time::Duration| format::seconds(d.as_secs_f64());
    let mut out = Vec::new();
    for p in &record.phases {
        let len = p.end.saturating_sub(p.start);
        if len < w {
            out.push(format!(
                "phase {} ({} long) is shorter than the {} report window: its figures \
                 come from the windows starting inside it, which also hold its neighbours' \
                 requests (or it has none)",
                p.name,
                secs(len),
                secs(w)
            ));
        } else if off(p.start) || off(p.end) {
            out.push(format!(
                "phase {} ({} – {}) does not start and end on the {} report windows' edges: \
                 the window holding an edge counts wholly for the phase it starts in",
                p.name,
                secs(p.start),
                secs(p.end),
                secs(w)
            ));
        }
    }
    out
}

/// What can go wrong while building or reading reports.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The record's window length is zero, so no rate can be computed.
    #[error("run record has a zero window length; expected a positive window (meta.window)")]
    ZeroWindow,
    /// A report file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// `summary.json` is not valid JSON of the expected shape.
    #[error("{path}: not a valid ringlab summary.json: {source}")]
    SummaryJson {
        /// The file.
        path: PathBuf,
        /// serde_json's message, with line and column.
        source: serde_json::Error,
    },
    /// `summary.json` has another format version than this build reads.
    #[error("{path}: summary format is {found:?}, expected {expected:?}")]
    SummaryFormat {
        /// The file.
        path: PathBuf,
        /// The `format` field found.
        found: String,
        /// The `format` this build writes and reads.
        expected: &'static str,
    },
    /// plotters failed to draw a plot.
    #[error("plot {file}: {message}")]
    Plot {
        /// The plot's file name.
        file: String,
        /// plotters' message.
        message: String,
    },
    /// An interval log could not be read back.
    #[error("{path}: interval {interval}: {message}")]
    HlogRead {
        /// The file.
        path: PathBuf,
        /// 1-based count of the log entry that failed.
        interval: usize,
        /// What was wrong.
        message: String,
    },
    /// A histogram could not be serialized into the interval log.
    #[error("latency.hlog: window starting at {start_s:.3} s, op {op}: {message}")]
    Hlog {
        /// Start of the window whose histogram failed.
        start_s: f64,
        /// Its op kind.
        op: String,
        /// The serializer's message.
        message: String,
    },
}

/// Writes every report file of `record` into `dir` (created if missing) and
/// returns their paths, in the order of the table in this module's doc.
///
/// ```
/// use ringlab_loadgen::report::{self, Summary, sample};
///
/// let dir = tempfile::tempdir()?;
/// let files = report::write_all(&sample::record(7), dir.path())?;
/// assert!(files.iter().any(|f| f.ends_with("report.html")));
///
/// // What compare and the expectation checks read back:
/// let summary = Summary::load(dir.path())?;
/// let steady = summary.phase("steady").expect("the sample has a steady phase");
/// assert!(steady.all.availability.unwrap() > 0.9);
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn write_all(record: &RunRecord, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    write_all_with(record, dir, &[])
}

/// [`write_all`], with the run's expectation verdicts shown at the top of
/// `report.html` and `report.md`.
pub fn write_all_with(
    record: &RunRecord,
    dir: &Path,
    verdicts: &[ExpectLine],
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating report directory {}", dir.display()))?;
    // Histogram addition is the main cost: add once, share the totals.
    let totals = aggregate::RunTotals::of(record);
    let summary = Summary::from_totals(record, &totals)?;
    let mut written = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|source| ReportError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
        Ok(())
    };
    put(summary::JSON_FILE, summary.to_json().as_bytes())?;
    put(summary::MARKDOWN_FILE, summary.to_markdown().as_bytes())?;
    put(
        timeline::FILE,
        timeline::to_csv_with(record, &totals)?.as_bytes(),
    )?;
    put(hlog::FILE, &hlog::to_bytes_with(record, &totals)?)?;
    let plots = plots::render_all_with(record, &summary, &totals)?;
    for plot in &plots {
        put(&plot.file, plot.svg.as_bytes())?;
    }
    let warnings = window_warnings(record);
    let page = html::Page {
        record,
        summary: &summary,
        plots: &plots,
        verdicts,
        warnings: &warnings,
    };
    put(html::FILE, html::render(&page).as_bytes())?;
    put(markdown::FILE, markdown::render(&page).as_bytes())?;
    Ok(written)
}
