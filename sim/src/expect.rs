//! The tables the commands print. The verdicts themselves are
//! `ringlab_loadgen::scenario::check`'s: `run` writes them into the report
//! directory as `expect.json`; `check` and `sweep`, which run each
//! simulation in a child process, read them back from there.

use std::fmt::Write as _;

use ringlab_loadgen::report::summary::Stats;
use ringlab_loadgen::report::{Summary, format};

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
