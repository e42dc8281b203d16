//! A scenario's `[expect]` lines measured against a run, and the tables the
//! commands print.
//!
//! Expectations are measured on the [`RunRecord`] itself, by exact histogram
//! addition over the windows in scope, so any percentile can be asked for
//! (the summary file only carries the usual ones). `run` writes the verdicts
//! into the report directory as `expect.json`; `check` and `sweep`, which
//! run each simulation in a child process, read them back from there.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use ringlab_loadgen::recorder::{OpWindow, RunRecord};
use ringlab_loadgen::report::summary::Stats;
use ringlab_loadgen::report::{Summary, format};
use ringlab_loadgen::scenario::{Expectation, Metric, Scenario, Scope};
use ringlab_loadgen::workload::OpKind;
use serde::{Deserialize, Serialize};

/// The error kind the node answers an overloaded request with.
const OVERLOAD_KIND: &str = "OVERLOADED";

/// One expectation's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub scenario: String,
    /// The expectation as written: `phase.steady.p99 <= 5ms`.
    pub expectation: String,
    /// What the run measured, formatted in the expectation's unit.
    pub measured: String,
    pub pass: bool,
}

/// Measures one expectation on `record`; `None` when nothing in scope was
/// measured (no request, no GET for a hit ratio), which fails it.
pub fn measure(exp: &Expectation, record: &RunRecord) -> Option<f64> {
    let op = match exp.metric {
        // A hit ratio is about reads whatever the key says.
        Metric::HitRatio => Some(exp.op.unwrap_or(OpKind::Get)),
        _ => exp.op,
    };
    let agg: OpWindow = match &exp.scope {
        Scope::Overall => record.aggregate_all(op),
        Scope::Phase(name) => {
            let i = record.phases.iter().position(|p| &p.name == name)?;
            record.aggregate_phase(i, op)?
        }
    };
    let c = &agg.counts;
    match exp.metric {
        Metric::Availability => c.availability(),
        Metric::HitRatio => c.hit_ratio(),
        Metric::Percentile(p) => {
            (!agg.hist.is_empty()).then(|| agg.hist.value_at_quantile(p / 100.0) as f64)
        }
        Metric::Max => (!agg.hist.is_empty()).then(|| agg.hist.max() as f64),
        Metric::OverloadCount => Some(c.errors.get(OVERLOAD_KIND).copied().unwrap_or(0) as f64),
        Metric::OverloadShare => {
            let scheduled = c.scheduled();
            (scheduled > 0).then(|| {
                c.errors.get(OVERLOAD_KIND).copied().unwrap_or(0) as f64 / scheduled as f64
            })
        }
    }
}

/// Formats a measurement in its metric's unit.
fn format_measured(metric: Metric, v: Option<f64>) -> String {
    let Some(v) = v else {
        return "nothing measured".into();
    };
    match metric {
        Metric::Availability | Metric::HitRatio | Metric::OverloadShare => format::percent_floor(v),
        Metric::Percentile(_) | Metric::Max => format::latency_us(v),
        Metric::OverloadCount => format!("{v:.0}"),
    }
}

/// Every expectation of `sc` measured on `record`.
pub fn evaluate(sc: &Scenario, record: &RunRecord) -> Vec<Verdict> {
    sc.expect
        .iter()
        .map(|exp| {
            let v = measure(exp, record);
            Verdict {
                scenario: sc.name.clone(),
                expectation: exp.to_string(),
                measured: format_measured(exp.metric, v),
                pass: v.is_some_and(|v| exp.holds(v)),
            }
        })
        .collect()
}

/// The name of the verdicts file in a report directory.
pub const VERDICTS_FILE: &str = "expect.json";

pub fn write_verdicts(dir: &Path, verdicts: &[Verdict]) -> Result<()> {
    let text = serde_json::to_string_pretty(verdicts)? + "\n";
    std::fs::write(dir.join(VERDICTS_FILE), text)
        .with_context(|| format!("writing {}", dir.join(VERDICTS_FILE).display()))
}

pub fn read_verdicts(dir: &Path) -> Result<Vec<Verdict>> {
    let path = dir.join(VERDICTS_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The table `check` prints: expectation / measured / pass.
pub fn verdict_table(verdicts: &[Verdict]) -> String {
    let mut t = String::from("| scenario | expectation | measured | pass |\n|---|---|---|---|\n");
    for v in verdicts {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} |",
            v.scenario,
            v.expectation,
            v.measured,
            if v.pass { "pass" } else { "FAIL" }
        );
    }
    t
}

/// The short table `run` prints: one line per phase and the whole run.
pub fn short_table(s: &Summary) -> String {
    let mut t = String::from(
        "| phase | requests | ok/s | availability | hit ratio | p50 | p99 | p99.9 | max | errors |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for p in s.phases.iter().chain(std::iter::once(&s.overall)) {
        let st = &p.all;
        let l = &st.latency_us;
        let _ = writeln!(
            t,
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
            p.name,
            st.requests,
            st.throughput_per_s,
            format::percent_opt(st.availability),
            format::percent_opt(st.hit_ratio),
            format::latency_opt(l.p50),
            format::latency_opt(l.p99),
            format::latency_opt(l.p999),
            format::latency_opt(l.max),
            if st.errors + st.timeouts + st.held_back == 0 {
                "-".to_string()
            } else {
                st.errors_text()
            },
        );
    }
    t
}

/// Reads one figure out of a summary's stats.
type StatFn = fn(&Stats) -> Option<f64>;

/// The table `sweep` prints: per phase, the median and the spread (min to
/// max) across seeds of each percentile and of availability.
pub fn sweep_table(per_seed: &[(u64, Summary)]) -> String {
    let mut t = String::new();
    let Some((_, first)) = per_seed.first() else {
        return "no seed produced a summary\n".into();
    };
    let _ = writeln!(t, "# {}: {} seeds\n", first.scenario, per_seed.len());
    t.push_str("| phase | metric | median | min | max |\n|---|---|---:|---:|---:|\n");
    let names: Vec<String> = first
        .phases
        .iter()
        .map(|p| p.name.clone())
        .chain(std::iter::once(first.overall.name.clone()))
        .collect();
    for name in &names {
        let stats_of = |s: &Summary| {
            if *name == s.overall.name {
                Some(s.overall.all.clone())
            } else {
                s.phase(name).map(|p| p.all.clone())
            }
        };
        let rows: [(&str, StatFn, bool); 5] = [
            ("availability", |s| s.availability, false),
            ("p50", |s| s.latency_us.p50.map(|v| v as f64), true),
            ("p99", |s| s.latency_us.p99.map(|v| v as f64), true),
            ("p99.9", |s| s.latency_us.p999.map(|v| v as f64), true),
            ("max", |s| s.latency_us.max.map(|v| v as f64), true),
        ];
        for (label, get, latency) in rows {
            let mut vals: Vec<f64> = per_seed
                .iter()
                .filter_map(|(_, s)| stats_of(s).and_then(|st| get(&st)))
                .collect();
            if vals.is_empty() {
                continue;
            }
            vals.sort_by(f64::total_cmp);
            let median = if vals.len() % 2 == 1 {
                vals[vals.len() / 2]
            } else {
                (vals[vals.len() / 2 - 1] + vals[vals.len() / 2]) / 2.0
            };
            let f = |v: f64| {
                if latency {
                    format::latency_us(v)
                } else {
                    format::percent_floor(v)
                }
            };
            let _ = writeln!(
                t,
                "| {name} | {label} | {} | {} | {} |",
                f(median),
                f(vals[0]),
                f(vals[vals.len() - 1])
            );
        }
    }
    t
}
