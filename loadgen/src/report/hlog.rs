//! `latency.hlog`: the run's latency histograms as an HdrHistogram interval
//! log, the format HdrHistogram's own tools read (HistogramLogProcessor,
//! HdrHistogramVisualizer, HistogramLogAnalyzer, the Rust crate's
//! `IntervalLogIterator`).
//!
//! Per window: one untagged interval with every op kind together (what the
//! tools process by default), then one interval per op kind that occurred,
//! tagged with its name (`Tag=get`). Values are microseconds; interval
//! timestamps are seconds of model time from the run's start (StartTime and
//! BaseTime are written as 0 so every reader takes them as offsets). The
//! interval max column is in milliseconds (MaxValueDivisor 1000), as the
//! Java tools print it.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

use super::ReportError;
use super::aggregate::RunTotals;
use crate::recorder::RunRecord;

/// File name of the interval log in a report directory.
pub const FILE: &str = "latency.hlog";

/// The bytes of `record`'s interval log.
pub fn to_bytes(record: &RunRecord) -> Result<Vec<u8>, ReportError> {
    to_bytes_with(record, &RunTotals::of(record))
}

/// The bytes of `record`'s interval log, from its already computed `totals`.
pub fn to_bytes_with(record: &RunRecord, totals: &RunTotals) -> Result<Vec<u8>, ReportError> {
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let seed = record
        .meta
        .seed
        .map_or_else(|| "none".to_string(), |s| s.to_string());
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment(&format!(
            "[ringlab latency log: scenario {}, source {}, seed {}]",
            one_line(&record.meta.scenario),
            one_line(&record.meta.source),
            seed
        ))
        .add_comment(
            "[Values are microseconds; timestamps are seconds of model time from the run's start]",
        )
        .add_comment(
            "[Untagged intervals hold every op kind; Tag=get/set/delete hold one kind each]",
        )
        .add_comment("[Histogram log format version 1.3]")
        .with_start_time(UNIX_EPOCH)
        .with_base_time(UNIX_EPOCH)
        .with_max_value_divisor(1_000.0);
    let mut writer = builder
        .begin_log_with(&mut out, &mut serializer)
        .map_err(|e| hlog_error(Duration::ZERO, "header", e))?;
    let window = record.meta.window;
    for (w, all) in record.windows.iter().zip(&totals.windows) {
        write(&mut writer, &all.hist, w.start, window, None)?;
        for (kind, op) in &w.ops {
            write(&mut writer, &op.hist, w.start, window, Some(kind.as_str()))?;
        }
    }
    drop(writer);
    Ok(out)
}

fn write<W: std::io::Write>(
    writer: &mut hdrhistogram::serialization::interval_log::IntervalLogWriter<
        '_,
        '_,
        W,
        V2DeflateSerializer,
    >,
    hist: &Histogram<u64>,
    start: Duration,
    length: Duration,
    tag: Option<&str>,
) -> Result<(), ReportError> {
    // Op names are fixed identifiers without commas or spaces.
    let tag = tag.map(|t| Tag::new(t).expect("op kind names are valid tags"));
    writer
        .write_histogram(hist, start, length, tag)
        .map_err(|e| hlog_error(start, tag.map_or("all", |t| t.as_str()), e))
}

fn hlog_error(start: Duration, op: &str, e: impl std::fmt::Display) -> ReportError {
    ReportError::Hlog {
        start_s: start.as_secs_f64(),
        op: op.to_string(),
        message: e.to_string(),
    }
}

/// Comments are line-based: a scenario name with a line break stays on one.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// One interval of a log read back.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Its start, from the run's start.
    pub start: Duration,
    /// `None` for the untagged interval holding every op kind.
    pub tag: Option<String>,
    pub hist: Histogram<u64>,
}

/// Reads the interval log at `path` (ours, or any HdrHistogram V2 log).
pub fn read(path: &Path) -> Result<Vec<Interval>, ReportError> {
    let bytes = std::fs::read(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |i: usize, message: String| ReportError::HlogRead {
        path: path.to_path_buf(),
        interval: i + 1,
        message,
    };
    let mut out = Vec::new();
    let mut de = Deserializer::new();
    for (i, entry) in IntervalLogIterator::new(&bytes).enumerate() {
        let h = match entry.map_err(|e| bad(i, format!("{e:?}")))? {
            LogEntry::Interval(h) => h,
            LogEntry::StartTime(_) | LogEntry::BaseTime(_) => continue,
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(h.encoded_histogram())
            .map_err(|e| bad(i, format!("histogram is not base64: {e}")))?;
        let hist: Histogram<u64> = de
            .deserialize(&mut raw.as_slice())
            .map_err(|e| bad(i, format!("histogram does not decode: {e:?}")))?;
        out.push(Interval {
            start: h.start_timestamp(),
            tag: h.tag().map(|t| t.as_str().to_string()),
            hist,
        });
    }
    Ok(out)
}
