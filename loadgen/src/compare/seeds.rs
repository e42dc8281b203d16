//! `compare` across seeds: each side is several runs of one scenario (one
//! report per seed, as `sweep` writes them), and a figure regresses when
//! its shift between the sides exceeds the seed-to-seed spread.
//!
//! For each span (the whole run and each phase) and each figure (p50, p95,
//! p99, p99.9, throughput, availability, hit ratio, stale-read share,
//! database reads per second), every seed gives one value per side. The
//! one-sided Mann-Whitney U test ([`crate::stats`]) asks whether the new
//! side's values tend to be worse; Holm's correction over every figure
//! judged keeps the chance of flagging an unchanged scenario at `alpha`
//! (5% by default: at least 19 comparisons in 20 of two sets of seeds of
//! one scenario pass). With `min_shift_pct` set, a significant latency,
//! throughput or database-load shift smaller than that share of the base
//! median is reported but not flagged.
//!
//! Some figures cannot be judged, and say why instead of passing silently:
//! a percentile from too few requests (p99.9 needs 10 requests above it per
//! seed, so 10,000 ok requests), or sides with so few seeds that even a
//! complete separation would not be significant.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::report::summary::{JSON_FILE, Stats};
use crate::report::{PhaseSummary, Summary};
use crate::stats;

/// Requests a percentile needs above it in every seed to be judged.
pub const MIN_TAIL_REQUESTS: f64 = 10.0;
/// Default family-wise false-alarm rate.
pub const DEFAULT_ALPHA: f64 = 0.05;
/// Default smallest latency, throughput or database-load shift flagged,
/// percent of the base median: 0, every significant shift (a 10% dearer
/// operation moves quickstart's p99 by 1%, and that is worth knowing).
pub const DEFAULT_MIN_SHIFT_PCT: f64 = 0.0;

/// The timeline column holding the database's reads per second.
const DB_READS: &str = "db.reads_per_s";

/// One seed's report.
#[derive(Debug, Clone)]
pub struct SeedRun {
    /// Its report directory.
    pub dir: PathBuf,
    /// Its summary.
    pub summary: Summary,
    /// Mean database reads per second per span key, when the run had a
    /// database (from `timeline.csv`).
    pub db_reads: BTreeMap<String, f64>,
}

/// The report directories of one side: `path` itself when it holds a
/// `summary.json` (or is one), else every directory under it that does
/// (a sweep's `seed-N/`), in name order.
pub fn load_side(path: &Path) -> Result<Vec<SeedRun>> {
    if path.is_file() || path.join(JSON_FILE).is_file() {
        let dir = if path.is_file() {
            path.parent().unwrap_or(Path::new(".")).to_path_buf()
        } else {
            path.to_path_buf()
        };
        return Ok(vec![load_run(&dir)?]);
    }
    let entries = std::fs::read_dir(path)
        .with_context(|| format!("{}: not a report directory or a sweep", path.display()))?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for e in entries {
        let p = e
            .with_context(|| format!("listing {}", path.display()))?
            .path();
        if p.join(JSON_FILE).is_file() {
            dirs.push(p);
        }
    }
    // Natural order, so seed-10 follows seed-9.
    dirs.sort_by_key(|d| natural_key(&d.file_name().unwrap_or_default().to_string_lossy()));
    if dirs.is_empty() {
        bail!(
            "{}: no {JSON_FILE} in it or in any directory directly under it",
            path.display()
        );
    }
    dirs.iter().map(|d| load_run(d)).collect()
}

fn natural_key(name: &str) -> (String, u64, String) {
    let digits: String = name.chars().filter(char::is_ascii_digit).collect();
    let prefix: String = name.chars().take_while(|c| !c.is_ascii_digit()).collect();
    (prefix, digits.parse().unwrap_or(u64::MAX), name.to_string())
}

fn load_run(dir: &Path) -> Result<SeedRun> {
    let summary = Summary::load(dir)?;
    let timeline = dir.join(crate::report::timeline::FILE);
    let db_reads = if timeline.is_file() {
        let text = std::fs::read_to_string(&timeline)
            .with_context(|| format!("reading {}", timeline.display()))?;
        db_reads_per_span(&text)
            .with_context(|| format!("{}: reading {DB_READS}", timeline.display()))?
    } else {
        BTreeMap::new()
    };
    Ok(SeedRun {
        dir: dir.to_path_buf(),
        summary,
        db_reads,
    })
}

/// Splits one CSV line written by `report::timeline` (fields quoted when
/// they hold a comma or a quote).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().expect("one field").push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(String::new()),
            (c, _) => out.last_mut().expect("one field").push(c),
        }
    }
    out
}

/// Mean of the `db.reads_per_s` column over each span's windows (`all`
/// rows); empty when the timeline has no such column.
fn db_reads_per_span(text: &str) -> Result<BTreeMap<String, f64>> {
    let mut lines = text.lines();
    let header = csv_fields(lines.next().unwrap_or_default());
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(db), Some(phase), Some(op)) = (col(DB_READS), col("phase"), col("op")) else {
        return Ok(BTreeMap::new());
    };
    let mut sums: BTreeMap<String, (f64, u64)> = BTreeMap::new();
    for (i, line) in lines.enumerate() {
        let f = csv_fields(line);
        if f.get(op).map(String::as_str) != Some("all") {
            continue;
        }
        let Some(cell) = f.get(db).filter(|c| !c.is_empty()) else {
            continue;
        };
        let v: f64 = cell
            .parse()
            .with_context(|| format!("line {}: {cell:?} is not a number", i + 2))?;
        for key in [super::OVERALL.to_string(), f[phase].clone()] {
            let e = sums.entry(key).or_default();
            e.0 += v;
            e.1 += 1;
        }
    }
    // Repeated phase names share one figure here; `compare` keys them
    // name#2..., which then have none.
    Ok(sums
        .into_iter()
        .map(|(k, (s, n))| (k, s / n as f64))
        .collect())
}

/// A figure judged across seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    P50,
    P95,
    P99,
    P999,
    Throughput,
    Availability,
    HitRatio,
    StaleShare,
    DbReads,
}

impl Figure {
    /// Every figure, in table order.
    pub const ALL: [Figure; 9] = [
        Figure::P50,
        Figure::P95,
        Figure::P99,
        Figure::P999,
        Figure::Throughput,
        Figure::Availability,
        Figure::HitRatio,
        Figure::StaleShare,
        Figure::DbReads,
    ];

    /// Its name in tables.
    pub fn label(self) -> &'static str {
        match self {
            Figure::P50 => "p50",
            Figure::P95 => "p95",
            Figure::P99 => "p99",
            Figure::P999 => "p99.9",
            Figure::Throughput => "throughput",
            Figure::Availability => "availability",
            Figure::HitRatio => "hit ratio",
            Figure::StaleShare => "stale reads",
            Figure::DbReads => "db reads/s",
        }
    }

    /// The percentile's quantile, for latency figures.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Figure::P50 => Some(0.5),
            Figure::P95 => Some(0.95),
            Figure::P99 => Some(0.99),
            Figure::P999 => Some(0.999),
            _ => None,
        }
    }

    /// Whether a larger value is the worse one.
    fn larger_is_worse(self) -> bool {
        !matches!(
            self,
            Figure::Throughput | Figure::Availability | Figure::HitRatio
        )
    }

    /// Whether a significant shift must also exceed `min_shift_pct` of the
    /// base median to be flagged (ratios are judged on the test alone).
    fn needs_min_shift(self) -> bool {
        self.quantile().is_some() || matches!(self, Figure::Throughput | Figure::DbReads)
    }

    /// Its value in one seed's span.
    fn value(self, run: &SeedRun, key: &str, span: &PhaseSummary) -> Option<f64> {
        let st: &Stats = &span.all;
        let l = &st.latency_us;
        match self {
            Figure::P50 => l.p50.map(|v| v as f64),
            Figure::P95 => l.p95.map(|v| v as f64),
            Figure::P99 => l.p99.map(|v| v as f64),
            Figure::P999 => l.p999.map(|v| v as f64),
            Figure::Throughput => Some(st.throughput_per_s),
            Figure::Availability => st.availability,
            Figure::HitRatio => st.hit_ratio,
            Figure::StaleShare => {
                let gets = span.op("get").map_or(0, |g| g.ok);
                (gets > 0).then(|| st.stale_reads as f64 / gets as f64)
            }
            Figure::DbReads => run.db_reads.get(key).copied(),
        }
    }

    /// Formats a value of this figure.
    pub fn show(self, v: f64) -> String {
        use crate::report::format;
        match self {
            _ if self.quantile().is_some() => format::latency_us(v),
            Figure::Availability | Figure::HitRatio => format!("{:.4}%", v * 100.0),
            Figure::StaleShare => format!("{:.4}%", v * 100.0),
            _ => format!("{v:.1}/s"),
        }
    }
}

/// How the seed comparison is judged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SeedSettings {
    /// Family-wise false-alarm rate (Holm).
    pub alpha: f64,
    /// Smallest flagged shift of latency, throughput and database load,
    /// percent of the base median.
    pub min_shift_pct: f64,
}

impl Default for SeedSettings {
    fn default() -> Self {
        SeedSettings {
            alpha: DEFAULT_ALPHA,
            min_shift_pct: DEFAULT_MIN_SHIFT_PCT,
        }
    }
}

/// The verdict on one figure across seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", content = "why", rename_all = "snake_case")]
pub enum SeedVerdict {
    /// No shift beyond the seed-to-seed spread.
    Pass,
    /// Worse beyond the spread (significant after Holm, and large enough).
    Regression(String),
    /// Not judged, and why.
    NotJudged(String),
}

/// One figure of one span across seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedRow {
    /// Phase name (`name#2` for a repeated one), or "overall".
    pub span: String,
    pub figure: Figure,
    /// One value per base seed, in seed order.
    pub base: Vec<f64>,
    /// One value per new seed.
    pub new: Vec<f64>,
    /// Change of the median, percent of the base median.
    pub shift_pct: Option<f64>,
    /// One-sided Mann-Whitney p-value that new is worse.
    pub p: Option<f64>,
    /// The p-value Holm's step held it to (`None` if never reached).
    pub threshold: Option<f64>,
    #[serde(flatten)]
    pub verdict: SeedVerdict,
}

/// The whole comparison across seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedComparison {
    pub settings: SeedSettings,
    /// The report directories of each side.
    pub base_runs: Vec<String>,
    pub new_runs: Vec<String>,
    pub rows: Vec<SeedRow>,
    /// Set when the comparison as a whole could not be judged.
    pub could_not_judge: Option<String>,
}

impl SeedComparison {
    /// The rows that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &SeedRow> {
        self.rows
            .iter()
            .filter(|r| matches!(r.verdict, SeedVerdict::Regression(_)))
    }
}

/// Each side's values of `figure` in span `key`; `Err` names a seed
/// lacking the span.
fn values(runs: &[SeedRun], key: &str, figure: Figure) -> Result<Vec<Option<f64>>, String> {
    runs.iter()
        .map(|r| {
            let spans = super::keyed_spans(&r.summary);
            let span = super::find_span(&spans, key)
                .ok_or_else(|| format!("phase missing in {}", r.dir.display()))?;
            Ok(figure.value(r, key, span))
        })
        .collect()
}

/// Why a percentile cannot be judged from these seeds, if it cannot.
fn too_few_requests(runs: &[SeedRun], key: &str, q: f64) -> Option<String> {
    let need = (MIN_TAIL_REQUESTS / (1.0 - q)).round() as u64;
    for r in runs {
        let spans = super::keyed_spans(&r.summary);
        let n = super::find_span(&spans, key).map_or(0, |s| s.all.latency_us.count);
        if n < need {
            return Some(format!(
                "too few requests: needs {need} ok requests per seed, {} has {n}",
                r.dir.display()
            ));
        }
    }
    None
}

/// One row before Holm's correction.
fn judge_row(base: &[SeedRun], new: &[SeedRun], key: &str, figure: Figure) -> Option<SeedRow> {
    let row = |b: Vec<f64>, n: Vec<f64>, verdict| SeedRow {
        span: key.to_string(),
        figure,
        shift_pct: shift_pct(&b, &n),
        base: b,
        new: n,
        p: None,
        threshold: None,
        verdict,
    };
    let (bv, nv) = match (values(base, key, figure), values(new, key, figure)) {
        (Ok(b), Ok(n)) => (b, n),
        (Err(why), _) | (_, Err(why)) => {
            return Some(row(vec![], vec![], SeedVerdict::Regression(why)));
        }
    };
    if bv.iter().all(Option::is_none) && nv.iter().all(Option::is_none) {
        return None; // undefined on both sides (no database, no GET)
    }
    let defined = |v: &[Option<f64>]| v.iter().flatten().copied().collect::<Vec<f64>>();
    let (b, n) = (defined(&bv), defined(&nv));
    if n.len() < nv.len() && b.len() == bv.len() {
        let why = "undefined in some new seed (no ok request)".to_string();
        return Some(row(b, n, SeedVerdict::Regression(why)));
    }
    if b.len() < bv.len() {
        let why = "undefined in some base seed".to_string();
        return Some(row(b, n, SeedVerdict::NotJudged(why)));
    }
    if let Some(q) = figure.quantile()
        && let Some(why) = too_few_requests(base, key, q).or_else(|| too_few_requests(new, key, q))
    {
        return Some(row(b, n, SeedVerdict::NotJudged(why)));
    }
    // Oriented so that larger is worse.
    let orient = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .map(|x| if figure.larger_is_worse() { *x } else { -x })
            .collect()
    };
    let p = stats::mann_whitney_greater(&orient(&b), &orient(&n));
    let mut r = row(b, n, SeedVerdict::Pass);
    r.p = p;
    Some(r)
}

fn shift_pct(b: &[f64], n: &[f64]) -> Option<f64> {
    let (mb, mn) = (stats::median(b)?, stats::median(n)?);
    (mb != 0.0).then(|| (mn - mb) / mb.abs() * 100.0)
}

/// Compares the seeds of `new` with those of `base`.
pub fn compare_seeds(base: &[SeedRun], new: &[SeedRun], settings: SeedSettings) -> SeedComparison {
    let mut rows = Vec::new();
    let keys: Vec<String> = base
        .first()
        .map(|r| {
            super::keyed_spans(&r.summary)
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        })
        .unwrap_or_default();
    for key in &keys {
        for figure in Figure::ALL {
            rows.extend(judge_row(base, new, key, figure));
        }
    }
    let mut could_not_judge = None;
    let (nb, nn) = (base.len(), new.len());
    let judged: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].p.is_some()).collect();
    if nb < stats::MIN_SAMPLES || nn < stats::MIN_SAMPLES {
        could_not_judge = Some(format!(
            "{nb} base and {nn} new seeds: each side needs at least {} to show a spread",
            stats::MIN_SAMPLES
        ));
    } else if !judged.is_empty() {
        let floor = stats::smallest_p(nb, nn);
        let needed = settings.alpha / judged.len() as f64;
        if floor > needed {
            let mut k = nb.max(nn);
            while stats::smallest_p(k, k) > needed {
                k += 1;
            }
            could_not_judge = Some(format!(
                "{nb} base and {nn} new seeds: even if every new seed were worse than every base \
                 seed, p would be {floor:.4}, above the {needed:.5} needed to flag one of {} \
                 figures at alpha {}; run at least {k} seeds per side",
                judged.len(),
                settings.alpha
            ));
        }
    }
    if could_not_judge.is_none() {
        let ps: Vec<f64> = judged.iter().map(|&i| rows[i].p.unwrap_or(1.0)).collect();
        for (&i, (threshold, rejected)) in judged.iter().zip(stats::holm(&ps, settings.alpha)) {
            let r = &mut rows[i];
            r.threshold = threshold;
            if !rejected {
                continue;
            }
            let big_enough = !r.figure.needs_min_shift()
                || r.shift_pct
                    .is_none_or(|s| s.abs() >= settings.min_shift_pct);
            r.verdict = if big_enough {
                SeedVerdict::Regression("worse beyond the seed-to-seed spread".into())
            } else {
                SeedVerdict::Pass
            };
        }
    }
    let names = |runs: &[SeedRun]| runs.iter().map(|r| r.dir.display().to_string()).collect();
    SeedComparison {
        settings,
        base_runs: names(base),
        new_runs: names(new),
        rows,
        could_not_judge,
    }
}
