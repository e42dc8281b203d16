//! `summary.json` and `summary.md`: the run's figures overall, per phase and
//! per op kind.
//!
//! [`Summary`] is also what `compare` and the simulator's expectation checks
//! read back ([`Summary::load`]); its field names are a stable format,
//! versioned by [`FORMAT`] and documented in `docs/REPORTS.md`. Every float is
//! rounded to a fixed number of decimals before it is written, and every map
//! is a `BTreeMap`, so the JSON is byte-deterministic.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ReportError;
use super::aggregate::{RunTotals, SpanTotals, Totals, run_end};
use super::format::{
    grouped, latency_opt, md_cell, percent_opt, rate, ratio_opt, round_to, seconds,
};
use crate::counters::LostUpdates;
use crate::durability::Durability;
use crate::recorder::{Event, RunRecord};
use crate::workload::OpKind;

/// The `format` field this build writes and reads. Bumped when a field
/// changes meaning or disappears; adding a field keeps it.
pub const FORMAT: &str = "ringlab-summary/1";
/// File name of the JSON summary in a report directory.
pub const JSON_FILE: &str = "summary.json";
/// File name of the Markdown summary in a report directory.
pub const MARKDOWN_FILE: &str = "summary.md";
/// The name under which the whole run appears next to the phases.
pub const OVERALL: &str = "overall";
/// The op name of the row that holds every op kind together.
pub const ALL_OPS: &str = "all";

/// Decimals kept for rates (requests per second).
const RATE_DECIMALS: i32 = 3;
/// Decimals kept for availability and hit ratio (fractions in 0..=1).
const RATIO_DECIMALS: i32 = 6;
/// Decimals kept for the mean latency in microseconds.
const MEAN_DECIMALS: i32 = 3;

/// The figures of one run: what `summary.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Always [`FORMAT`]; readers refuse other versions.
    pub format: String,
    /// Scenario name ("adhoc" for a flags-only `ringlab-load` run).
    pub scenario: String,
    /// The scenario's description (the lesson text).
    pub description: String,
    /// The seed of a simulated run; `null` for real runs.
    pub seed: Option<u64>,
    /// "sim" or "real".
    pub source: String,
    /// Window length, microseconds.
    pub window_us: u64,
    /// Length of the run, microseconds: the end of its last phase or window.
    pub duration_us: u64,
    /// The whole run; its `name` is [`OVERALL`].
    pub overall: PhaseSummary,
    /// Each phase, in run order.
    pub phases: Vec<PhaseSummary>,
    /// Faults and other events, in record order.
    pub events: Vec<EventSummary>,
    /// Lost acknowledged writes, judged at the end of the run (see
    /// `crate::durability`); absent when the driver could not look at the
    /// cluster's stores (real nodes, the madsim engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durability: Option<Durability>,
}

/// The figures of one span of the run: a phase, or the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseSummary {
    /// Phase name, or [`OVERALL`].
    pub name: String,
    /// Start, microseconds from the run's start.
    pub start_us: u64,
    /// End, microseconds from the run's start.
    pub end_us: u64,
    /// Every op kind together.
    pub all: Stats,
    /// Per op kind ("get", "set", "delete"); kinds never issued are absent.
    pub ops: BTreeMap<String, Stats>,
}

/// Outcome counts, rates and latency of a set of requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests scheduled (came due), whatever their outcome.
    pub requests: u64,
    /// Answered successfully within the timeout (misses included).
    pub ok: u64,
    /// GETs answered ok that found no value.
    pub misses: u64,
    /// GETs answered ok with a value older than a write acknowledged before
    /// they were sent (see `crate::stale`). Absent from summaries written
    /// before it existed, which read as 0.
    #[serde(default)]
    pub stale_reads: u64,
    /// Error replies and connection failures, all kinds.
    pub errors: u64,
    /// Errors by kind ("OVERLOADED", "connection", ...).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Requests without an answer within their timeout.
    pub timeouts: u64,
    /// Requests never sent because the in-flight cap was reached.
    pub held_back: u64,
    /// `requests` per second of the span.
    pub scheduled_per_s: f64,
    /// `ok` per second of the span: the achieved throughput.
    pub throughput_per_s: f64,
    /// ok / requests, in 0..=1; `null` when nothing was scheduled.
    pub availability: Option<f64>,
    /// (ok GETs - misses) / ok GETs, in 0..=1; `null` without ok GETs.
    pub hit_ratio: Option<f64>,
    /// Latency of the ok requests.
    pub latency_us: Latency,
}

/// Latency of ok requests in microseconds, from the exact sum of the span's
/// histograms. Every value but `count` is `null` when `count` is zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Requests in the histogram (equals `ok`).
    pub count: u64,
    /// Smallest latency.
    pub min: Option<u64>,
    /// Mean latency (3 decimals).
    pub mean: Option<f64>,
    /// Median.
    pub p50: Option<u64>,
    /// 95th percentile.
    pub p95: Option<u64>,
    /// 99th percentile.
    pub p99: Option<u64>,
    /// 99.9th percentile.
    pub p999: Option<u64>,
    /// Largest latency.
    pub max: Option<u64>,
}

/// An event of the run, as in the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSummary {
    /// When it happened, microseconds from the run's start.
    pub at_us: u64,
    /// When it ended, for interval events (a partition, a slow period).
    pub end_us: Option<u64>,
    /// Machine-friendly kind: "kill", "partition", ...
    pub kind: String,
    /// Human label: "kill node-3".
    pub label: String,
}

/// A figure of [`Stats`] that expectations and `compare` refer to by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    P50,
    P95,
    P99,
    P999,
    Max,
    Mean,
    Availability,
    HitRatio,
    Throughput,
}

impl Metric {
    /// Every metric, in report order.
    pub const ALL: [Metric; 9] = [
        Metric::P50,
        Metric::P95,
        Metric::P99,
        Metric::P999,
        Metric::Max,
        Metric::Mean,
        Metric::Availability,
        Metric::HitRatio,
        Metric::Throughput,
    ];

    /// The latency percentiles, in order.
    pub const PERCENTILES: [Metric; 5] = [
        Metric::P50,
        Metric::P95,
        Metric::P99,
        Metric::P999,
        Metric::Max,
    ];

    /// The name used in files and flags: "p99", "p999", "hit_ratio", ...
    pub fn name(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::P999 => "p999",
            Metric::Max => "max",
            Metric::Mean => "mean",
            Metric::Availability => "availability",
            Metric::HitRatio => "hit_ratio",
            Metric::Throughput => "throughput",
        }
    }

    /// The name for people: "p99.9", "hit ratio".
    pub fn label(self) -> &'static str {
        match self {
            Metric::P999 => "p99.9",
            Metric::HitRatio => "hit ratio",
            other => other.name(),
        }
    }

    /// The metric called `name` ("p99", "p99.9" or "p999", "hit_ratio", ...).
    pub fn parse(name: &str) -> Option<Metric> {
        let name = name.trim().to_ascii_lowercase();
        let alias = match name.as_str() {
            "p99.9" => "p999",
            "hit-ratio" | "hit ratio" => "hit_ratio",
            other => other,
        };
        Metric::ALL.into_iter().find(|m| m.name() == alias)
    }

    /// Latencies in microseconds; the rest are not.
    pub fn is_latency(self) -> bool {
        matches!(
            self,
            Metric::P50 | Metric::P95 | Metric::P99 | Metric::P999 | Metric::Max | Metric::Mean
        )
    }

    /// Its value in `stats`; `None` when undefined (no ok request, no GET).
    /// Latencies are microseconds, availability and hit ratio fractions,
    /// throughput ok requests per second.
    pub fn value(self, stats: &Stats) -> Option<f64> {
        let l = &stats.latency_us;
        let us = |v: Option<u64>| v.map(|v| v as f64);
        match self {
            Metric::P50 => us(l.p50),
            Metric::P95 => us(l.p95),
            Metric::P99 => us(l.p99),
            Metric::P999 => us(l.p999),
            Metric::Max => us(l.max),
            Metric::Mean => l.mean,
            Metric::Availability => stats.availability,
            Metric::HitRatio => stats.hit_ratio,
            Metric::Throughput => Some(stats.throughput_per_s),
        }
    }
}

impl Summary {
    /// Computes the summary of `record` by adding its windows' histograms
    /// and counts per phase and op kind.
    pub fn from_record(record: &RunRecord) -> Result<Summary, ReportError> {
        Summary::from_totals(record, &RunTotals::of(record))
    }

    /// The summary of `record` from its already computed `totals`.
    pub fn from_totals(record: &RunRecord, totals: &RunTotals) -> Result<Summary, ReportError> {
        if record.meta.window.is_zero() {
            return Err(ReportError::ZeroWindow);
        }
        let end = run_end(record);
        let phases = record
            .phases
            .iter()
            .zip(&totals.phases)
            .map(|(p, t)| PhaseSummary::from_totals(&p.name, p.start, p.end, t))
            .collect();
        Ok(Summary {
            format: FORMAT.to_string(),
            scenario: record.meta.scenario.clone(),
            description: record.meta.description.clone(),
            seed: record.meta.seed,
            source: record.meta.source.clone(),
            window_us: micros(record.meta.window),
            duration_us: micros(end),
            overall: PhaseSummary::from_totals(OVERALL, Duration::ZERO, end, &totals.overall),
            phases,
            events: record.events.iter().map(EventSummary::from_event).collect(),
            durability: record.durability.clone(),
        })
    }

    /// Reads a summary from `path`: a `summary.json` file or a report
    /// directory holding one.
    pub fn load(path: &Path) -> Result<Summary, ReportError> {
        let file: PathBuf = if path.is_dir() {
            path.join(JSON_FILE)
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).map_err(|source| ReportError::Io {
            path: file.clone(),
            source,
        })?;
        Summary::from_json(&text, &file)
    }

    /// Parses summary JSON; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &Path) -> Result<Summary, ReportError> {
        // Check the version first: a summary of another format may not parse
        // as this one, and "wrong version" is the more useful message.
        #[derive(Deserialize)]
        struct Version {
            format: String,
        }
        let version: Version =
            serde_json::from_str(text).map_err(|source| ReportError::SummaryJson {
                path: origin.to_path_buf(),
                source,
            })?;
        if version.format != FORMAT {
            return Err(ReportError::SummaryFormat {
                path: origin.to_path_buf(),
                found: version.format,
                expected: FORMAT,
            });
        }
        serde_json::from_str(text).map_err(|source| ReportError::SummaryJson {
            path: origin.to_path_buf(),
            source,
        })
    }

    /// The JSON text of `summary.json`: pretty, newline-terminated.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self)
            .expect("a Summary holds only strings, numbers, maps and options");
        s.push('\n');
        s
    }

    /// The first phase called `name`.
    pub fn phase(&self, name: &str) -> Option<&PhaseSummary> {
        self.phases.iter().find(|p| p.name == name)
    }

    /// The overall span followed by every phase.
    pub fn spans(&self) -> impl Iterator<Item = &PhaseSummary> {
        std::iter::once(&self.overall).chain(&self.phases)
    }

    /// The Markdown text of `summary.md`.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# {}\n", md_cell(&self.scenario));
        let description = self.description.trim();
        if !description.is_empty() {
            let _ = writeln!(md, "{description}\n");
        }
        md.push_str("| run | |\n| --- | --- |\n");
        let _ = writeln!(md, "| source | {} |", md_cell(&self.source));
        let seed = self.seed.map_or_else(|| "–".to_string(), |s| s.to_string());
        let _ = writeln!(md, "| seed | {seed} |");
        let _ = writeln!(md, "| window | {} |", seconds(self.window_us as f64 / 1e6));
        let _ = writeln!(
            md,
            "| duration | {} |",
            seconds(self.duration_us as f64 / 1e6)
        );
        md.push('\n');
        if !self.events.is_empty() {
            md.push_str("## Events\n\n| at | until | kind | what |\n| ---: | ---: | --- | --- |\n");
            for e in &self.events {
                let until = e
                    .end_us
                    .map_or_else(|| "–".to_string(), |u| seconds(u as f64 / 1e6));
                let _ = writeln!(
                    md,
                    "| {} | {until} | {} | {} |",
                    seconds(e.at_us as f64 / 1e6),
                    md_cell(&e.kind),
                    md_cell(&e.label)
                );
            }
            md.push('\n');
        }
        if let Some(d) = &self.durability {
            durability_markdown(d, &mut md);
            if let Some(u) = &d.updates {
                updates_markdown(u, &mut md);
            }
        }
        for span in self.spans() {
            let title = if span.name == OVERALL {
                "Overall".to_string()
            } else {
                format!("Phase `{}`", md_cell(&span.name))
            };
            let _ = writeln!(
                md,
                "## {title} ({} – {})\n",
                seconds(span.start_us as f64 / 1e6),
                seconds(span.end_us as f64 / 1e6)
            );
            md.push_str(
                "| op | requests | throughput | availability | hit ratio | stale reads | mean | p50 | p95 | p99 | p99.9 | max | errors | timeouts | held back |\n\
                 | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            );
            for (op, stats) in span.rows() {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    md_cell(op),
                    grouped(stats.requests),
                    rate(stats.throughput_per_s),
                    percent_opt(stats.availability),
                    ratio_opt(stats.hit_ratio),
                    grouped(stats.stale_reads),
                    stats
                        .latency_us
                        .mean
                        .map_or_else(|| "–".to_string(), super::format::latency_us),
                    latency_opt(stats.latency_us.p50),
                    latency_opt(stats.latency_us.p95),
                    latency_opt(stats.latency_us.p99),
                    latency_opt(stats.latency_us.p999),
                    latency_opt(stats.latency_us.max),
                    md_cell(&stats.errors_text()),
                    grouped(stats.timeouts),
                    grouped(stats.held_back),
                );
            }
            md.push('\n');
        }
        md.push_str(
            "Availability = ok / requests (misses are ok). Hit ratio = (ok GETs - misses) / ok GETs. \
             Stale reads are ok GETs that returned a value older than a write acknowledged \
             before they were sent. \
             Latency is of ok requests, measured from each request's intended start. \
             Throughput counts ok requests. Figures over several windows come from added \
             histograms, not averaged percentiles.\n",
        );
        md
    }
}

/// The durability section of `summary.md`: the counts, then each lost
/// write listed as evidence.
fn durability_markdown(d: &Durability, md: &mut String) {
    md.push_str("## Durability\n\n");
    if d.keys == 0 && d.updates.is_some() {
        // A run of INCRs only: the counters' paragraph says it all.
        return;
    }
    let _ = writeln!(
        md,
        "{} keys had an acknowledged write; at the end the cluster had lost \
         the newest acknowledged write of **{}** ({} held unstamped values, {} were gone where \
         eviction or expiry may explain it).\n",
        grouped(d.keys),
        grouped(d.lost),
        grouped(d.unjudged),
        grouped(d.evictable)
    );
    if d.examples.is_empty() {
        return;
    }
    md.push_str("| key | newest acknowledged write | the cluster holds |\n| ---: | --- | --- |\n");
    for w in &d.examples {
        // A known cause follows what is held (none: as before causes).
        let held = match &w.cause {
            Some(c) => format!("{} (cause: {c})", w.held),
            None => w.held.clone(),
        };
        let _ = writeln!(
            md,
            "| {} | {} {} | {} |",
            w.key,
            w.op,
            w.write,
            md_cell(&held)
        );
    }
    md.push('\n');
}

/// The counters' part of the durability section, in runs that sent INCRs:
/// the counts, then each counter that lost updates with its evidence.
fn updates_markdown(u: &LostUpdates, md: &mut String) {
    let _ = writeln!(
        md,
        "{} counters had an acknowledged INCR ({} INCRs acknowledged); at least **{}** \
         updates were lost ({} counters not judged where eviction or expiry may have \
         reset them).\n",
        grouped(u.counters),
        grouped(u.acked),
        grouped(u.lost),
        grouped(u.evictable)
    );
    if u.examples.is_empty() {
        return;
    }
    md.push_str(
        "| counter | INCRs acknowledged | the cluster holds | lost | two INCRs that answered alike |\n\
         | ---: | ---: | ---: | ---: | --- |\n",
    );
    for e in &u.examples {
        let holds = e.holds.map_or("nothing".to_string(), |v| v.to_string());
        let repeat = e.repeat.map_or("-".to_string(), |r| {
            format!(
                "INCR {} and INCR {} both answered {}",
                r.first, r.second, r.value
            )
        });
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            e.counter, e.acked, holds, e.lost, repeat
        );
    }
    md.push('\n');
}

impl PhaseSummary {
    fn from_totals(name: &str, start: Duration, end: Duration, t: &SpanTotals) -> PhaseSummary {
        let span = end.saturating_sub(start);
        let gets = t.ops.get(&OpKind::Get);
        PhaseSummary {
            name: name.to_string(),
            start_us: micros(start),
            end_us: micros(end),
            all: Stats::from_totals(&t.all, gets, span),
            ops: t
                .ops
                .iter()
                .map(|(kind, ot)| {
                    let gets = (*kind == OpKind::Get).then_some(ot);
                    (
                        kind.as_str().to_string(),
                        Stats::from_totals(ot, gets, span),
                    )
                })
                .collect(),
        }
    }

    /// The "all" row followed by each op kind's (get, set, delete, then any
    /// other name in alphabetical order), as the tables show them.
    pub fn rows(&self) -> impl Iterator<Item = (&str, &Stats)> {
        let known = OpKind::ALL
            .iter()
            .filter_map(|k| self.ops.get_key_value(k.as_str()));
        let others = self
            .ops
            .iter()
            .filter(|(k, _)| !OpKind::ALL.iter().any(|kind| kind.as_str() == k.as_str()));
        std::iter::once((ALL_OPS, &self.all))
            .chain(known.chain(others).map(|(k, s)| (k.as_str(), s)))
    }

    /// The stats of op `op`, or of all ops together for [`ALL_OPS`].
    pub fn op(&self, op: &str) -> Option<&Stats> {
        if op == ALL_OPS {
            Some(&self.all)
        } else {
            self.ops.get(op)
        }
    }
}

impl Stats {
    /// Stats of `t` over a span of length `span`; `gets` are the GET totals
    /// of the same requests, for the hit ratio.
    pub fn from_totals(t: &Totals, gets: Option<&Totals>, span: Duration) -> Stats {
        let c = &t.counts;
        let requests = c.scheduled();
        let per_s = |n: u64| {
            if span.is_zero() {
                0.0
            } else {
                round_to(n as f64 / span.as_secs_f64(), RATE_DECIMALS)
            }
        };
        let hit_ratio = gets.and_then(|g| {
            let ok = g.counts.ok;
            (ok > 0).then(|| {
                round_to(
                    ok.saturating_sub(g.counts.misses) as f64 / ok as f64,
                    RATIO_DECIMALS,
                )
            })
        });
        Stats {
            requests,
            ok: c.ok,
            misses: c.misses,
            stale_reads: c.stale,
            errors: c.error_total(),
            errors_by_kind: c.errors.clone(),
            timeouts: c.timeouts,
            held_back: c.held_back,
            scheduled_per_s: per_s(requests),
            throughput_per_s: per_s(c.ok),
            availability: (requests > 0)
                .then(|| round_to(c.ok as f64 / requests as f64, RATIO_DECIMALS)),
            hit_ratio,
            latency_us: Latency::of(&t.hist),
        }
    }

    /// "0", or the total with its kinds: "12 (OVERLOADED 10, connection 2)".
    pub fn errors_text(&self) -> String {
        if self.errors_by_kind.is_empty() {
            return grouped(self.errors);
        }
        let kinds: Vec<String> = self
            .errors_by_kind
            .iter()
            .map(|(k, n)| format!("{k} {}", grouped(*n)))
            .collect();
        format!("{} ({})", grouped(self.errors), kinds.join(", "))
    }
}

impl Latency {
    /// Percentiles of a histogram of microseconds.
    pub fn of(h: &hdrhistogram::Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency {
                count: 0,
                min: None,
                mean: None,
                p50: None,
                p95: None,
                p99: None,
                p999: None,
                max: None,
            };
        }
        Latency {
            count: h.len(),
            min: Some(h.min()),
            mean: Some(round_to(h.mean(), MEAN_DECIMALS)),
            p50: Some(h.value_at_quantile(0.50)),
            p95: Some(h.value_at_quantile(0.95)),
            p99: Some(h.value_at_quantile(0.99)),
            p999: Some(h.value_at_quantile(0.999)),
            max: Some(h.max()),
        }
    }
}

impl EventSummary {
    fn from_event(e: &Event) -> EventSummary {
        EventSummary {
            at_us: micros(e.at),
            end_us: e.end.map(micros),
            kind: e.kind.clone(),
            label: e.label.clone(),
        }
    }
}

/// A duration in whole microseconds, saturating (584,000 years fit).
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_round_trip() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.name()), Some(m));
            assert_eq!(Metric::parse(m.label()), Some(m));
        }
        assert_eq!(Metric::parse("P99.9"), Some(Metric::P999));
        assert_eq!(Metric::parse("p98"), None);
    }

    #[test]
    fn summaries_written_before_stale_reads_existed_still_load() {
        let summary = Summary::from_record(&crate::report::sample::record(7)).unwrap();
        assert!(
            summary.overall.all.stale_reads > 0,
            "the sample has stale reads"
        );
        let old: String = summary
            .to_json()
            .lines()
            .filter(|l| !l.contains("\"stale_reads\""))
            .map(|l| format!("{l}\n"))
            .collect();
        let loaded = Summary::from_json(&old, Path::new("old.json")).unwrap();
        assert_eq!(loaded.overall.all.stale_reads, 0);
        assert_eq!(loaded.overall.all.requests, summary.overall.all.requests);
        assert_eq!(loaded.phases.len(), summary.phases.len());
    }
}
