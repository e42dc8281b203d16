//! `compare BASE NEW`: the regression gate between runs' reports.
//!
//! Two modes, chosen by what BASE and NEW hold:
//!
//! - **several seeds per side** (each a directory of report directories,
//!   as `sweep` writes them): [`seeds`] judges each figure's shift against
//!   the seed-to-seed spread with a stated test;
//! - **one run per side** (the CI gate: same scenario, same seed, new code):
//!   the fixed tolerances below.
//!
//! The outputs of both ([`output`]): a table on stdout, and on request
//! JSON, JUnit XML and Markdown files. The CLIs exit 0 when nothing
//! regressed, 1 on a regression, 2 when the comparison could not be judged
//! (too few seeds, one seed on one side and several on the other, an
//! unreadable report).
//!
//! In the single-run mode, [`compare`] reads both `summary.json` files and compares them span by span (the whole
//! run and each phase, matched by name) and op kind by op kind (`all`, `get`,
//! `set`, `delete`): the latency percentiles p50, p95, p99, p99.9 and max,
//! availability and hit ratio. A figure regresses when it moves the wrong way
//! by more than its tolerance:
//!
//! - a percentile regresses when `new > base * (1 + growth%) + slack_us`.
//!   By default p99 and p99.9 are gated at 5% with 20 µs of slack (so a
//!   12 µs -> 14 µs change does not flap); p50, p95 and max are shown but not
//!   gated unless a tolerance is given;
//! - availability regresses when it drops by more than 0.01 percentage
//!   points (`new < base - 0.0001`);
//! - hit ratio regresses when it drops by more than 0.01 (one percentage
//!   point);
//! - a phase or op kind present on one side only is a regression;
//! - a percentile that the base has and the new run lacks (no ok request) is
//!   a regression.
//!
//! Tolerances (module `tolerances`) come from the defaults, then a TOML file (`--tolerances`), then
//! flags, each overriding the previous. [`run`] prints the table and returns
//! whether the new run passed; the CLIs exit non-zero when it did not.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::report::format::{latency_us, trim_float};
use crate::report::summary::{ALL_OPS, OVERALL};
use crate::report::{Metric, PhaseSummary, Summary};

pub mod output;
pub mod seeds;
mod tolerances;

pub use tolerances::Tolerances;
use tolerances::non_negative;

use output::{Case, CaseStatus, Table};
use seeds::{SeedComparison, SeedSettings, SeedVerdict};

/// Default allowed growth of p99 and p99.9, percent.
pub const DEFAULT_TAIL_GROWTH_PCT: f64 = 5.0;
/// Default absolute slack added to every latency limit, microseconds.
pub const DEFAULT_SLACK_US: f64 = 20.0;
/// Default allowed availability drop, percentage points.
pub const DEFAULT_AVAILABILITY_DROP_PTS: f64 = 0.01;
/// Default allowed hit-ratio drop (ratio in 0..=1).
pub const DEFAULT_HIT_RATIO_DROP: f64 = 0.01;

/// Arguments of `compare`, usable as a clap subcommand by both CLIs.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// The baseline: a report directory or its summary.json, or a directory
    /// of report directories (one per seed, as `sweep` writes them).
    pub base: PathBuf,
    /// The runs to check, in the same form as BASE.
    pub new: PathBuf,
    /// TOML file of tolerances (see docs/REPORTS.md); flags override it.
    #[arg(long, value_name = "FILE")]
    pub tolerances: Option<PathBuf>,
    /// Allowed growth of a latency percentile, in percent, as METRIC=PCT
    /// (p50, p95, p99, p99.9, max), or METRIC=off to not gate it. Repeatable.
    /// Defaults: p99=5 and p99.9=5.
    #[arg(long = "growth", value_name = "METRIC=PCT")]
    pub growth: Vec<String>,
    /// Absolute slack added to every latency limit, in microseconds
    /// [default: 20].
    #[arg(long, value_name = "US")]
    pub slack_us: Option<f64>,
    /// Allowed availability drop in percentage points [default: 0.01].
    #[arg(long, value_name = "POINTS")]
    pub availability_drop: Option<f64>,
    /// Allowed hit-ratio drop, as a ratio in 0..1 [default: 0.01].
    #[arg(long, value_name = "RATIO")]
    pub hit_ratio_drop: Option<f64>,
    /// Across seeds: the chance of flagging an unchanged scenario (Holm's
    /// family-wise rate over every figure judged) [default: 0.05].
    #[arg(long, value_name = "P")]
    pub alpha: Option<f64>,
    /// Across seeds: the smallest latency, throughput or database-load shift
    /// flagged, in percent of the base median [default: 0, any significant
    /// shift].
    #[arg(long, value_name = "PCT")]
    pub min_shift: Option<f64>,
    /// Also write the comparison as JSON into FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write it as JUnit XML (a failure per regression, a skip per
    /// figure not judged) into FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write it as a Markdown table into FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Print only the regressions and the verdict.
    #[arg(long)]
    pub quiet: bool,
}

/// What can go wrong reading tolerances.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The tolerance file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The tolerance file is not valid TOML of the expected shape.
    #[error("{path}: {source}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        source: Box<toml::de::Error>,
    },
    /// A latency growth names a metric that is not a percentile.
    #[error(
        "{origin}: unknown latency percentile {name:?}; expected one of p50, p95, p99, p99.9 (or p999), max"
    )]
    UnknownPercentile {
        /// The file or flag it came from.
        origin: String,
        /// The name given.
        name: String,
    },
    /// A tolerance value is out of range or not a number.
    #[error("{origin}: {what} = {value:?}; expected {expected}")]
    BadValue {
        /// The file or flag it came from.
        origin: String,
        /// The setting.
        what: String,
        /// The value given.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
}

/// The verdict on one figure.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Within its tolerance.
    Ok,
    /// Shown, but no tolerance applies to it.
    NotGated,
    /// Moved the wrong way by more than its tolerance, or is missing.
    Regression(String),
}

/// One compared figure (or one missing span or op kind).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Phase name, or "overall".
    pub span: String,
    /// "all" or an op kind.
    pub op: String,
    /// The figure; `None` for a row about a missing span or op kind.
    pub metric: Option<Metric>,
    /// Its base value (latency µs, availability and hit ratio as fractions).
    pub base: Option<f64>,
    /// Its new value.
    pub new: Option<f64>,
    /// The worst new value allowed, when gated.
    pub limit: Option<f64>,
    /// Whether it passed.
    pub verdict: Verdict,
}

/// The result of comparing two summaries.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Every compared figure, in span, op, metric order.
    pub rows: Vec<Row>,
    /// The tolerances applied, described for people.
    pub tolerances: String,
}

impl Comparison {
    /// The rows that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &Row> {
        self.rows
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Regression(_)))
    }

    /// Whether nothing regressed.
    pub fn passed(&self) -> bool {
        self.regressions().next().is_none()
    }

    /// The table for people; with `only_regressions`, just the rows that
    /// regressed. Ends with the verdict line.
    pub fn render(&self, only_regressions: bool) -> String {
        let mut out = format!("tolerances: {}\n\n", self.tolerances);
        let header = [
            "phase", "op", "metric", "base", "new", "change", "limit", "verdict",
        ];
        let rows: Vec<[String; 8]> = self
            .rows
            .iter()
            .filter(|r| !only_regressions || matches!(r.verdict, Verdict::Regression(_)))
            .map(row_cells)
            .collect();
        if !rows.is_empty() {
            let mut widths = header.map(|h| h.chars().count());
            for r in &rows {
                for (w, c) in widths.iter_mut().zip(r) {
                    *w = (*w).max(c.chars().count());
                }
            }
            let line = |cells: &[String]| -> String {
                let mut s = String::new();
                for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
                    let pad = w - c.chars().count();
                    // Text columns left-aligned, numbers right-aligned.
                    if (3..=6).contains(&i) {
                        s.push_str(&" ".repeat(pad));
                        s.push_str(c);
                    } else {
                        s.push_str(c);
                        if i + 1 < cells.len() {
                            s.push_str(&" ".repeat(pad));
                        }
                    }
                    if i + 1 < cells.len() {
                        s.push_str("  ");
                    }
                }
                s.trim_end().to_string()
            };
            out.push_str(&line(&header.map(String::from)));
            out.push('\n');
            for r in &rows {
                out.push_str(&line(r));
                out.push('\n');
            }
            out.push('\n');
        }
        let n = self.regressions().count();
        if n == 0 {
            out.push_str("PASS: no regression\n");
        } else {
            let _ = writeln!(out, "FAIL: {n} regression{}", if n == 1 { "" } else { "s" });
        }
        out
    }
}

fn show(m: Metric, v: Option<f64>) -> String {
    match v {
        None => "–".to_string(),
        Some(v) if m.is_latency() => latency_us(v),
        Some(v) if m == Metric::Availability => format!("{}%", trim_float(v * 100.0, 4)),
        Some(v) => format!("{v:.4}"),
    }
}

fn show_limit(m: Option<Metric>, limit: f64) -> String {
    match m {
        Some(m) if m.is_latency() => format!("<= {}", latency_us(limit)),
        Some(m) => format!(">= {}", show(m, Some(limit))),
        None => "–".to_string(),
    }
}

fn change(m: Metric, base: Option<f64>, new: Option<f64>) -> String {
    match (base, new) {
        (Some(b), Some(n)) if m.is_latency() => {
            if b > 0.0 {
                format!("{:+.1}%", (n - b) / b * 100.0)
            } else {
                format!("{:+.0} µs", n - b)
            }
        }
        (Some(b), Some(n)) if m == Metric::Availability => {
            format!("{:+.4} pts", (n - b) * 100.0)
        }
        (Some(b), Some(n)) => format!("{:+.4}", n - b),
        _ => "–".to_string(),
    }
}

/// The figures compared for every span and op kind, in table order.
const COMPARED: [Metric; 7] = [
    Metric::P50,
    Metric::P95,
    Metric::P99,
    Metric::P999,
    Metric::Max,
    Metric::Availability,
    Metric::HitRatio,
];

/// Compares `new` against `base` under `tol`.
pub fn compare(base: &Summary, new: &Summary, tol: &Tolerances) -> Comparison {
    let mut rows = Vec::new();
    let base_spans = keyed_spans(base);
    let new_spans = keyed_spans(new);
    // Base order first, then spans only the new run has.
    let mut keys: Vec<&String> = base_spans.iter().map(|(k, _)| k).collect();
    for (k, _) in &new_spans {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    for key in keys {
        let (b, n) = (find_span(&base_spans, key), find_span(&new_spans, key));
        let (b, n) = match (b, n) {
            (Some(b), Some(n)) => (b, n),
            (b, _) => {
                let side = if b.is_some() { "new" } else { "base" };
                rows.push(missing_row(
                    key,
                    ALL_OPS,
                    &format!("phase missing in {side}"),
                ));
                continue;
            }
        };
        // Op kinds in the reports' order (get, set, delete, then others).
        let mut ops: Vec<&str> = b.rows().chain(n.rows()).map(|(op, _)| op).collect();
        let mut seen = BTreeSet::new();
        ops.retain(|op| seen.insert(*op));
        for op in ops {
            let (bs, ns) = match (b.op(op), n.op(op)) {
                (Some(bs), Some(ns)) => (bs, ns),
                (bs, _) => {
                    let side = if bs.is_some() { "new" } else { "base" };
                    rows.push(missing_row(key, op, &format!("op kind missing in {side}")));
                    continue;
                }
            };
            for m in COMPARED {
                let (bv, nv) = (m.value(bs), m.value(ns));
                if bv.is_none() && nv.is_none() {
                    // Undefined on both sides (the hit ratio of sets).
                    continue;
                }
                let (limit, verdict) = judge(m, bv, nv, tol);
                rows.push(Row {
                    span: key.clone(),
                    op: op.to_string(),
                    metric: Some(m),
                    base: bv,
                    new: nv,
                    limit,
                    verdict,
                });
            }
        }
    }
    Comparison {
        rows,
        tolerances: tol.describe(),
    }
}

/// Spans by key: "overall", then each phase's name ("name#2" for a repeated
/// name, so each is compared with its counterpart).
pub(crate) fn keyed_spans(s: &Summary) -> Vec<(String, &PhaseSummary)> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = vec![(OVERALL.to_string(), &s.overall)];
    for p in &s.phases {
        let n = seen.entry(p.name.as_str()).or_default();
        *n += 1;
        let key = if *n == 1 {
            p.name.clone()
        } else {
            format!("{}#{n}", p.name)
        };
        out.push((key, p));
    }
    out
}

pub(crate) fn find_span<'a>(
    spans: &[(String, &'a PhaseSummary)],
    key: &str,
) -> Option<&'a PhaseSummary> {
    spans.iter().find(|(k, _)| k == key).map(|(_, s)| *s)
}

fn missing_row(span: &str, op: &str, why: &str) -> Row {
    Row {
        span: span.to_string(),
        op: op.to_string(),
        metric: None,
        base: None,
        new: None,
        limit: None,
        verdict: Verdict::Regression(why.to_string()),
    }
}

/// Float noise allowance for comparing rounded fractions.
const EPS: f64 = 1e-9;

fn judge(
    m: Metric,
    base: Option<f64>,
    new: Option<f64>,
    tol: &Tolerances,
) -> (Option<f64>, Verdict) {
    let limit = match (m, base) {
        (_, None) => None,
        (Metric::Availability, Some(b)) => Some(b - tol.availability_drop_pts / 100.0),
        (Metric::HitRatio, Some(b)) => Some(b - tol.hit_ratio_drop),
        (m, Some(b)) => tol
            .growth_pct
            .get(&m)
            .map(|pct| b * (1.0 + pct / 100.0) + tol.slack_us),
    };
    let gated = !m.is_latency() || tol.growth_pct.contains_key(&m);
    let verdict = match (base, new, limit) {
        // No baseline: nothing to hold the new run to.
        (None, _, _) if gated => Verdict::Ok,
        (None, _, _) => Verdict::NotGated,
        (Some(_), None, _) if gated => Verdict::Regression(
            match m {
                _ if m.is_latency() => "no ok request in new",
                Metric::HitRatio => "no ok GET in new",
                _ => "no request in new",
            }
            .to_string(),
        ),
        (Some(_), _, None) | (Some(_), None, _) => Verdict::NotGated,
        (Some(_), Some(n), Some(l)) => {
            let worse = if m.is_latency() {
                n > l + EPS
            } else {
                n < l - EPS
            };
            if !worse {
                Verdict::Ok
            } else if m.is_latency() {
                Verdict::Regression("above limit".to_string())
            } else {
                Verdict::Regression("below limit".to_string())
            }
        }
    };
    (limit, verdict)
}

/// Compares the reports `args.base` and `args.new`, prints the table to
/// stdout, writes the files asked for, and returns whether the new run
/// passed (no regression). A comparison that could not be judged is an
/// error, which both CLIs turn into exit status 2.
pub fn run(args: CompareArgs) -> anyhow::Result<bool> {
    let base = seeds::load_side(&args.base)?;
    let new = seeds::load_side(&args.new)?;
    match (base.len(), new.len()) {
        (1, 1) => run_single(&args, &base[0].summary, &new[0].summary),
        (1, n) | (n, 1) => anyhow::bail!(
            "could not judge: one run on one side and {n} on the other; compare one run with \
             one run (the same seed: the CI gate), or several seeds with several seeds"
        ),
        _ => run_seeds(&args, &base, &new),
    }
}

fn run_single(args: &CompareArgs, base: &Summary, new: &Summary) -> anyhow::Result<bool> {
    let tol = Tolerances::from_args(args)?;
    let result = compare(base, new, &tol);
    println!(
        "compare: base {} ({}), new {} ({})",
        args.base.display(),
        base.scenario,
        args.new.display(),
        new.scenario
    );
    print!("{}", result.render(args.quiet));
    let json = serde_json::json!({
        "mode": "single",
        "tolerances": result.tolerances,
        "passed": result.passed(),
        "rows": result.rows.iter().map(Row::to_json).collect::<Vec<_>>(),
    });
    let verdict = if result.passed() { "PASS" } else { "FAIL" };
    write_outputs(args, &json, &result.table(), &result.cases(), None, verdict)?;
    Ok(result.passed())
}

fn run_seeds(
    args: &CompareArgs,
    base: &[seeds::SeedRun],
    new: &[seeds::SeedRun],
) -> anyhow::Result<bool> {
    let mut settings = SeedSettings::default();
    if let Some(a) = args.alpha {
        if !(a > 0.0 && a < 1.0) {
            anyhow::bail!("--alpha {a}: expected a probability between 0 and 1, e.g. 0.05");
        }
        settings.alpha = a;
    }
    if let Some(m) = args.min_shift {
        settings.min_shift_pct = non_negative("--min-shift", "value", m)?;
    }
    let result = seeds::compare_seeds(base, new, settings);
    println!(
        "compare across seeds: base {} ({} seeds), new {} ({} seeds)",
        args.base.display(),
        base.len(),
        args.new.display(),
        new.len()
    );
    print!("{}", result.render(args.quiet));
    let json = serde_json::to_value(&result)?;
    let passed = result.regressions().next().is_none();
    let verdict = result.verdict_line();
    write_outputs(
        args,
        &json,
        &result.table(args.quiet),
        &result.cases(),
        result.could_not_judge.as_deref(),
        &verdict,
    )?;
    match (&result.could_not_judge, passed) {
        (_, false) => Ok(false),
        (Some(why), true) => anyhow::bail!("could not judge: {why}"),
        (None, true) => Ok(true),
    }
}

fn write_outputs(
    args: &CompareArgs,
    json: &serde_json::Value,
    table: &Table,
    cases: &[Case],
    error: Option<&str>,
    verdict: &str,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    };
    if let Some(p) = &args.json {
        write(p, serde_json::to_string_pretty(json)? + "\n")?;
    }
    if let Some(p) = &args.junit {
        write(p, output::junit("ringlab compare", cases, error))?;
    }
    if let Some(p) = &args.markdown {
        let md = format!(
            "# compare\n\nbase `{}`, new `{}`\n\n{}\n**{verdict}**\n",
            args.base.display(),
            args.new.display(),
            table.to_markdown()
        );
        write(p, md)?;
    }
    Ok(())
}

impl Row {
    fn to_json(&self) -> serde_json::Value {
        let (verdict, why) = match &self.verdict {
            Verdict::Ok => ("ok", None),
            Verdict::NotGated => ("not_gated", None),
            Verdict::Regression(w) => ("regression", Some(w.clone())),
        };
        serde_json::json!({
            "span": self.span, "op": self.op,
            "metric": self.metric.map(|m| m.label()),
            "base": self.base, "new": self.new, "limit": self.limit,
            "verdict": verdict, "why": why,
        })
    }
}

impl Comparison {
    /// The rows as a [`Table`] (for Markdown).
    pub fn table(&self) -> Table {
        let header = [
            "phase", "op", "metric", "base", "new", "change", "limit", "verdict",
        ];
        Table {
            header: header.map(String::from).to_vec(),
            numeric: vec![false, false, false, true, true, true, true, false],
            rows: self.rows.iter().map(row_cells).map(Vec::from).collect(),
        }
    }

    /// One JUnit case per gated figure.
    pub fn cases(&self) -> Vec<Case> {
        self.rows
            .iter()
            .filter(|r| r.verdict != Verdict::NotGated)
            .map(|r| Case {
                class: format!("compare.{}.{}", r.span, r.op),
                name: r.metric.map_or("present", |m| m.label()).to_string(),
                status: match &r.verdict {
                    Verdict::Regression(why) => CaseStatus::Failure(why.clone()),
                    _ => CaseStatus::Pass,
                },
            })
            .collect()
    }
}

fn row_cells(r: &Row) -> [String; 8] {
    let fmt = |v: Option<f64>| r.metric.map_or_else(|| "–".to_string(), |m| show(m, v));
    [
        r.span.clone(),
        r.op.clone(),
        r.metric.map_or("–", |m| m.label()).to_string(),
        fmt(r.base),
        fmt(r.new),
        r.metric
            .map_or_else(|| "–".to_string(), |m| change(m, r.base, r.new)),
        r.limit
            .map_or_else(|| "–".to_string(), |l| show_limit(r.metric, l)),
        match &r.verdict {
            Verdict::Ok => "ok".to_string(),
            Verdict::NotGated => "(not gated)".to_string(),
            Verdict::Regression(why) => format!("REGRESSION: {why}"),
        },
    ]
}

impl SeedComparison {
    /// The rows as a table; with `only_bad`, the regressions and the
    /// figures not judged.
    pub fn table(&self, only_bad: bool) -> Table {
        let header = [
            "phase",
            "figure",
            "base median",
            "base range",
            "new median",
            "new range",
            "change",
            "p",
            "verdict",
        ];
        let spread = |f: seeds::Figure, v: &[f64]| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if v.is_empty() {
                "–".to_string()
            } else {
                format!("{}–{}", f.show(lo), f.show(hi))
            }
        };
        let rows = self
            .rows
            .iter()
            .filter(|r| !only_bad || r.verdict != SeedVerdict::Pass)
            .map(|r| {
                let med = |v: &[f64]| {
                    crate::stats::median(v).map_or_else(|| "–".to_string(), |m| r.figure.show(m))
                };
                vec![
                    r.span.clone(),
                    r.figure.label().to_string(),
                    med(&r.base),
                    spread(r.figure, &r.base),
                    med(&r.new),
                    spread(r.figure, &r.new),
                    r.shift_pct
                        .map_or_else(|| "–".to_string(), |s| format!("{s:+.1}%")),
                    r.p.map_or_else(|| "–".to_string(), |p| format!("{p:.4}")),
                    match &r.verdict {
                        SeedVerdict::Pass => "ok".to_string(),
                        SeedVerdict::Regression(why) => format!("REGRESSION: {why}"),
                        SeedVerdict::NotJudged(why) => format!("not judged: {why}"),
                    },
                ]
            })
            .collect();
        Table {
            header: header.map(String::from).to_vec(),
            numeric: vec![false, false, true, true, true, true, true, true, false],
            rows,
        }
    }

    /// One JUnit case per figure.
    pub fn cases(&self) -> Vec<Case> {
        self.rows
            .iter()
            .map(|r| Case {
                class: format!("compare.{}", r.span),
                name: r.figure.label().to_string(),
                status: match &r.verdict {
                    SeedVerdict::Pass => CaseStatus::Pass,
                    SeedVerdict::Regression(w) => CaseStatus::Failure(w.clone()),
                    SeedVerdict::NotJudged(w) => CaseStatus::Skipped(w.clone()),
                },
            })
            .collect()
    }

    /// The last line: PASS, FAIL with the count, or COULD NOT JUDGE.
    pub fn verdict_line(&self) -> String {
        let n = self.regressions().count();
        match (&self.could_not_judge, n) {
            (_, n) if n > 0 => format!("FAIL: {n} regression{}", if n == 1 { "" } else { "s" }),
            (Some(why), _) => format!("COULD NOT JUDGE: {why}"),
            (None, _) => "PASS: no shift beyond the seed-to-seed spread".to_string(),
        }
    }

    /// The table for people and the verdict.
    pub fn render(&self, only_bad: bool) -> String {
        let s = &self.settings;
        format!(
            "test: one-sided Mann-Whitney U per figure on per-seed values, Holm-corrected at \
             alpha {} over the figures judged; smallest shift flagged {}%\n\n{}\n{}\n",
            s.alpha,
            trim_float(s.min_shift_pct, 3),
            self.table(only_bad).to_text(),
            self.verdict_line()
        )
    }
}
