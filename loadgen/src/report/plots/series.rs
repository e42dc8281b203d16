//! `series-<name>.svg`: the record's extra series, titled for people and
//! drawn in their units. The per-node series `node.<who>.<metric>` (the
//! busiest node and the other nodes) share one plot per metric, on one
//! scale, so the hot node stands out against the rest.

use std::collections::BTreeMap;

use super::axis::{Axis, plain_tick};
use super::time::time_plot;
use super::{BLUE, Line, PALETTE, PURPLE, Plot, RED, series_file, value_bounds};
use crate::recorder::RunRecord;
use crate::report::ReportError;
use crate::report::format::{latency_tick, trim_float};

/// How a series' values read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    /// Microseconds (names ending in `_us`).
    Micros,
    /// A fraction shown as percent (`utilization`).
    Fraction,
    /// Per second (`_per_s`).
    PerSecond,
    /// A plain count or number.
    Plain,
}

impl Unit {
    fn of(metric: &str) -> Unit {
        if metric.ends_with("_us") {
            Unit::Micros
        } else if metric.ends_with("utilization") {
            Unit::Fraction
        } else if metric.ends_with("_per_s") {
            Unit::PerSecond
        } else {
            Unit::Plain
        }
    }

    fn axis_desc(self) -> &'static str {
        match self {
            Unit::Micros => "time",
            Unit::Fraction => "% of the node's cores busy",
            Unit::PerSecond => "per second",
            Unit::Plain => "value",
        }
    }
}

fn percent_tick(v: f64) -> String {
    format!("{}%", trim_float(v, 1))
}

/// One plot of extra series.
pub(super) struct Group {
    /// The key the file name is made from: the series name, or
    /// `node.<metric>` for the per-node series of one metric.
    pub(super) key: String,
    /// (legend label, values), in drawing order.
    members: Vec<(String, Vec<f64>)>,
    unit: Unit,
    title: String,
}

/// The record's series, grouped into plots, in name order.
pub(super) fn groups(series: &BTreeMap<String, Vec<f64>>) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    let mut nodes: BTreeMap<&str, Vec<(&str, &Vec<f64>)>> = BTreeMap::new();
    for (name, values) in series {
        match name.strip_prefix("node.").and_then(|r| r.rsplit_once('.')) {
            Some((who, metric)) if !who.is_empty() => {
                nodes.entry(metric).or_default().push((who, values));
            }
            _ => out.push(Group {
                key: name.clone(),
                members: vec![(name.clone(), values.clone())],
                unit: Unit::of(name),
                title: title_of(name),
            }),
        }
    }
    for (metric, mut whos) in nodes {
        // The named node (the busiest) first, "others" last.
        whos.sort_by_key(|(who, _)| (*who == "others", *who));
        let members = whos
            .into_iter()
            .map(|(who, v)| {
                let label = if who == "others" {
                    "other nodes".to_string()
                } else {
                    format!("{who} (busiest)")
                };
                (label, v.clone())
            })
            .collect();
        out.push(Group {
            key: format!("node.{metric}"),
            members,
            unit: Unit::of(metric),
            title: node_title(metric),
        });
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

fn node_title(metric: &str) -> String {
    let what = match metric {
        "op_p99_us" => "Node operation p99 (queue + service)".to_string(),
        "utilization" => "Node utilization".to_string(),
        other => format!("Node {}", other.replace('_', " ")),
    };
    format!("{what}: busiest node vs the others")
}

fn title_of(name: &str) -> String {
    let known = [
        ("db.reads_per_s", "Database reads per second"),
        ("db.writes_per_s", "Database writes per second"),
        ("db.refused_per_s", "Database queries refused per second"),
        ("db.timeouts_per_s", "Database queries timed out per second"),
        (
            "db.coalesced_per_s",
            "Database reads saved by coalescing per second",
        ),
        ("db.queue_max", "Database queue (largest per window)"),
        ("near.hits_per_s", "Near-cache hits per second"),
    ];
    known
        .iter()
        .find(|(n, _)| *n == name)
        .map_or_else(|| name.to_string(), |(_, t)| format!("{t} ({name})"))
}

/// The plot of one group, into `file`.
pub(super) fn group_plot(record: &RunRecord, file: &str, g: &Group) -> Result<Plot, ReportError> {
    let scale = if g.unit == Unit::Fraction { 100.0 } else { 1.0 };
    let colors = if g.members.len() == 2 {
        vec![RED, BLUE]
    } else if g.members.len() == 1 {
        vec![PURPLE]
    } else {
        PALETTE.to_vec()
    };
    let lines: Vec<Line> = g
        .members
        .iter()
        .enumerate()
        .map(|(i, (label, values))| Line {
            label: label.clone(),
            color: colors[i % colors.len()],
            dashed: false,
            values: (0..record.windows.len())
                .map(|w| {
                    values
                        .get(w)
                        .copied()
                        .filter(|v| v.is_finite())
                        .map(|v| v * scale)
                })
                .collect(),
        })
        .collect();
    let (lo, hi) = value_bounds(&lines).unwrap_or((0.0, 1.0));
    let lo = lo.min(0.0);
    let hi = if hi > lo { hi * 1.1 } else { lo + 1.0 };
    let hi = if g.unit == Unit::Fraction {
        hi.max(100.0)
    } else {
        hi
    };
    let label: fn(f64) -> String = match g.unit {
        Unit::Micros => latency_tick,
        Unit::Fraction => percent_tick,
        _ => plain_tick,
    };
    let names: Vec<&str> = g.members.iter().map(|(l, _)| l.as_str()).collect();
    let caption = if g.key.starts_with("node.") {
        format!(
            "One value per window for the busiest node (most core time over the run) and for \
             the other nodes together, on one scale (series {}).",
            g.key
        )
    } else {
        format!("One value per window ({}).", names.join(", "))
    };
    time_plot(
        record,
        file,
        &g.title,
        &caption,
        Axis::linear(lo, hi, label, g.unit.axis_desc()),
        lines,
    )
}

/// A unique file name per group: clashing slugs get `-2`, `-3`, ...
pub(super) fn unique_file(key: &str, taken: &[String]) -> String {
    let mut file = series_file(key);
    let mut n = 1;
    while taken.contains(&file) {
        n += 1;
        file = format!("{}-{n}.svg", series_file(key).trim_end_matches(".svg"));
    }
    file
}
