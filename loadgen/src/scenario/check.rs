//! A scenario's `[expect]` lines measured against a run: the verdicts both
//! CLIs write into the report directory as `expect.json`.
//!
//! Expectations are measured on the [`RunRecord`] itself, by exact histogram
//! addition over the windows in scope, so any percentile can be asked for
//! (the summary file only carries the usual ones).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use std::time::Duration;

use super::{AppSeries, Expectation, Metric, Scope, SeriesStat};
use crate::recorder::{OpWindow, RunRecord};
use crate::report::format;
use crate::workload::OpKind;

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
    if let Metric::App(series, stat) = exp.metric {
        return measure_series(&exp.scope, series, stat, record);
    }
    if exp.metric == Metric::LostWrites {
        return record.durability.as_ref().map(|d| d.lost as f64);
    }
    if exp.metric == Metric::LostUpdates {
        // Nothing measured (no INCR acknowledged) fails the expectation,
        // as a hit ratio without GETs does.
        let updates = record.durability.as_ref()?.updates.as_ref()?;
        return (updates.counters > 0).then_some(updates.lost as f64);
    }
    let op = match exp.metric {
        // A hit ratio and stale reads are about reads whatever the key says.
        Metric::HitRatio | Metric::StaleShare | Metric::StaleCount => {
            Some(exp.op.unwrap_or(OpKind::Get))
        }
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
        Metric::StaleCount => Some(c.stale as f64),
        Metric::StaleShare => c.stale_share(),
        Metric::App(..) | Metric::LostWrites | Metric::LostUpdates => {
            unreachable!("measured above")
        }
    }
}

/// An app figure over the windows in `scope`; `None` when the run has no
/// such series (no database, or no coalescing / near-cache) or no window in
/// scope.
fn measure_series(
    scope: &Scope,
    series: AppSeries,
    stat: SeriesStat,
    record: &RunRecord,
) -> Option<f64> {
    let values = record.series.get(series.series_name())?;
    let range = match scope {
        Scope::Overall => Duration::ZERO..Duration::MAX,
        Scope::Phase(name) => {
            let p = record.phases.iter().find(|p| &p.name == name)?;
            p.start..p.end
        }
    };
    let in_scope: Vec<f64> = record
        .windows
        .iter()
        .zip(values)
        .filter(|(w, _)| range.contains(&w.start))
        .map(|(_, v)| *v)
        .collect();
    if in_scope.is_empty() {
        return None;
    }
    let secs = record.meta.window.as_secs_f64();
    Some(match stat {
        SeriesStat::Peak => in_scope.iter().copied().fold(f64::MIN, f64::max),
        SeriesStat::Mean => in_scope.iter().sum::<f64>() / in_scope.len() as f64,
        SeriesStat::Total => (in_scope.iter().sum::<f64>() * secs).round(),
    })
}

/// Formats a measurement in its metric's unit.
fn format_measured(metric: Metric, v: Option<f64>) -> String {
    let Some(v) = v else {
        return "nothing measured".into();
    };
    match metric {
        Metric::Availability | Metric::HitRatio | Metric::OverloadShare => format::percent_floor(v),
        // A share of stale reads is small: rounding it down to 0 would hide it.
        Metric::StaleShare => format!("{:.4}%", v * 100.0),
        Metric::Percentile(_) | Metric::Max => format::latency_us(v),
        Metric::OverloadCount | Metric::StaleCount | Metric::LostWrites | Metric::LostUpdates => {
            format!("{v:.0}")
        }
        Metric::App(AppSeries::DbQueue, _) | Metric::App(_, SeriesStat::Total) => {
            format!("{v:.0}")
        }
        Metric::App(..) => format!("{v:.1}/s"),
    }
}

/// Every expectation of scenario `name` measured on `record`.
pub fn evaluate(name: &str, expect: &[Expectation], record: &RunRecord) -> Vec<Verdict> {
    expect
        .iter()
        .map(|exp| {
            let v = measure(exp, record);
            Verdict {
                scenario: name.to_string(),
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::recorder::{Counts, Outcome, PhaseSpan, Recorder, RunMeta, Window};
    use crate::scenario::Cmp;

    /// One phase `split` of one window: 200 gets answered, 30 of them stale
    /// and 20 misses, and 50 sets.
    fn stale_record() -> RunRecord {
        let mut ops = BTreeMap::new();
        let get = OpWindow {
            counts: Counts {
                ok: 200,
                misses: 20,
                stale: 30,
                ..Counts::default()
            },
            ..OpWindow::default()
        };
        let set = OpWindow {
            counts: Counts {
                ok: 50,
                ..Counts::default()
            },
            ..OpWindow::default()
        };
        ops.insert(OpKind::Get, get);
        ops.insert(OpKind::Set, set);
        RunRecord {
            meta: RunMeta {
                scenario: "t".into(),
                description: String::new(),
                seed: None,
                source: "sim".into(),
                window: Duration::from_secs(1),
            },
            phases: vec![PhaseSpan {
                name: "split".into(),
                start: Duration::ZERO,
                end: Duration::from_secs(1),
            }],
            windows: vec![Window {
                start: Duration::ZERO,
                ops,
            }],
            events: Vec::new(),
            series: BTreeMap::new(),
            durability: None,
        }
    }

    fn expectation(scope: Scope, metric: Metric, cmp: Cmp, value: f64) -> Expectation {
        Expectation {
            scope,
            op: None,
            metric,
            cmp,
            value,
            text: String::new(),
        }
    }

    #[test]
    fn stale_reads_are_counted_and_shared_over_gets_answered() {
        let rec = stale_record();
        let phase = Scope::Phase("split".into());
        let count = expectation(phase.clone(), Metric::StaleCount, Cmp::Ge, 30.0);
        assert_eq!(measure(&count, &rec), Some(30.0));
        // The share is of gets answered, not of every request.
        let share = expectation(Scope::Overall, Metric::StaleShare, Cmp::Le, 0.15);
        assert_eq!(measure(&share, &rec), Some(0.15));
        let verdicts = evaluate("t", &[count, share], &rec);
        assert!(verdicts.iter().all(|v| v.pass), "{verdicts:?}");
        assert_eq!(verdicts[0].measured, "30");
        assert_eq!(verdicts[1].measured, "15.0000%");
        let none = expectation(phase, Metric::StaleCount, Cmp::Le, 0.0);
        assert!(!evaluate("t", &[none], &rec)[0].pass);
    }

    /// A 4 s run of two 2 s phases with one GET per second and a database
    /// read series of 10, 30, 20, 0 per second.
    fn db_record() -> RunRecord {
        let text = r#"
[app]
pattern = "cache-aside"
[database]
latency = "1ms"
concurrency = 1
queue_limit = 1
[[phase]]
name = "a"
duration = "2s"
rate = 1
[[phase]]
name = "b"
duration = "2s"
"#;
        let sc = crate::scenario::parse(text, "t.toml").unwrap();
        let mut rec = Recorder::new(
            RunMeta {
                scenario: "t".into(),
                description: String::new(),
                seed: None,
                source: "sim".into(),
                window: Duration::from_secs(1),
            },
            &sc.phases,
        );
        for s in 0..4 {
            rec.record(
                Duration::from_secs(s),
                OpKind::Get,
                Outcome::Miss,
                Duration::from_millis(1),
            );
        }
        let mut r = rec.finish();
        r.series
            .insert("db.reads_per_s".into(), vec![10.0, 30.0, 20.0, 0.0]);
        r
    }

    fn bound(key: &str, scope: Scope) -> Expectation {
        let metric = Metric::from_key(key).unwrap();
        Expectation {
            scope,
            op: None,
            metric,
            cmp: super::super::Cmp::Le,
            value: 0.0,
            text: "<= 0".into(),
        }
    }

    #[test]
    fn series_are_measured_over_the_windows_in_scope() {
        let r = db_record();
        let a = || Scope::Phase("a".into());
        let b = || Scope::Phase("b".into());
        assert_eq!(measure(&bound("db_reads", Scope::Overall), &r), Some(60.0));
        assert_eq!(measure(&bound("db_reads_peak", a()), &r), Some(30.0));
        assert_eq!(measure(&bound("db_reads_mean", a()), &r), Some(20.0));
        assert_eq!(measure(&bound("db_reads_mean", b()), &r), Some(10.0));
        assert_eq!(measure(&bound("db_reads", b()), &r), Some(20.0));
        // A series the run did not keep measures nothing, which fails.
        assert_eq!(measure(&bound("near_hits", Scope::Overall), &r), None);
        let v = evaluate("t", &[bound("db_reads_peak", Scope::Overall)], &r);
        assert_eq!(v[0].measured, "30.0/s");
        assert!(!v[0].pass);
    }
}
