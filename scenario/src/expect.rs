//! Expectations: what a run must show for the scenario to pass
//! (`availability = ">= 99.9%"`, `p99 = "<= 5ms"`,
//! `phase.steady.get.p99 = "< 2ms"`).
//!
//! A key names the scope (overall, or `phase.<name>.`), optionally an
//! operation kind (`get.`, `set.`, `delete.`), and a metric; the value is a
//! comparison and a number in the metric's unit. Values are normalised:
//! shares are fractions (`"99.9%"` is 0.999), latencies are microseconds.

use std::fmt;

use super::units::{parse_duration, parse_share};
use crate::workload::OpKind;

/// One checkable claim about a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// The whole run or one phase.
    pub scope: Scope,
    /// Only requests of this kind, or all requests.
    pub op: Option<OpKind>,
    /// What is measured.
    pub metric: Metric,
    /// How the measurement compares with `value`.
    pub cmp: Cmp,
    /// The bound: a fraction for shares, microseconds for latencies, a count
    /// for counts.
    pub value: f64,
    /// The bound as written in the file (`">= 99.9%"`).
    pub text: String,
}

impl Expectation {
    /// Whether a measurement (in the metric's unit) satisfies this. A NaN
    /// measurement (nothing was measured) never does.
    pub fn holds(&self, measured: f64) -> bool {
        match self.cmp {
            Cmp::Ge => measured >= self.value,
            Cmp::Le => measured <= self.value,
            Cmp::Gt => measured > self.value,
            Cmp::Lt => measured < self.value,
        }
    }

    /// The key as it would be written in `[expect]`
    /// (`phase.steady.get.p99`).
    pub fn key(&self) -> String {
        let mut key = String::new();
        if let Scope::Phase(name) = &self.scope {
            key.push_str("phase.");
            key.push_str(name);
            key.push('.');
        }
        if let Some(op) = self.op {
            key.push_str(op.as_str());
            key.push('.');
        }
        key.push_str(&self.metric.key());
        key
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.key(), self.text)
    }
}

/// Which requests an expectation is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// The whole run.
    Overall,
    /// The phase with this name.
    Phase(String),
}

/// What an expectation measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// Requests answered successfully within the client timeout / requests
    /// issued (a miss is a success). A fraction.
    Availability,
    /// A latency percentile in 0..100 (`p999` is 99.9), in microseconds.
    Percentile(f64),
    /// The largest latency, in microseconds.
    Max,
    /// Hits / reads answered. A fraction.
    HitRatio,
    /// Requests rejected as overload / requests issued. A fraction.
    OverloadShare,
    /// Requests rejected as overload. A count.
    OverloadCount,
    /// Stale reads / reads answered (ok GETs). A fraction.
    StaleShare,
    /// Stale reads: ok GETs that returned a value older than a write
    /// acknowledged before they were sent (see `ringlab_loadgen::stale`). A count.
    StaleCount,
    /// Acknowledged writes the cluster no longer held at the end of the run
    /// (see `ringlab_loadgen::durability`). A count, of the whole run.
    LostWrites,
    /// Updates of concurrent INCRs lost by the end of the run, at least
    /// (see `ringlab_loadgen::counters`). A count, of the whole run.
    LostUpdates,
    /// A figure of the app's database or near-cache, from the record's
    /// per-window series: a total count, the peak or the mean per second.
    App(AppSeries, SeriesStat),
}

/// A per-window series the app's database keeps (see `ringlab_loadgen::database`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppSeries {
    /// Database reads.
    DbReads,
    /// Database writes.
    DbWrites,
    /// Queries the database refused (queue full).
    DbRefused,
    /// Queries the app gave up waiting for.
    DbTimeouts,
    /// Misses that waited for another request's read (singleflight).
    DbCoalesced,
    /// Reads answered by a near-cache.
    NearHits,
    /// The most queries waiting at once (only `db_queue_max`).
    DbQueue,
}

impl AppSeries {
    /// Every series with a count (all but the queue depth).
    pub const COUNTED: [AppSeries; 6] = [
        AppSeries::DbReads,
        AppSeries::DbWrites,
        AppSeries::DbRefused,
        AppSeries::DbTimeouts,
        AppSeries::DbCoalesced,
        AppSeries::NearHits,
    ];

    /// The stem of its metric keys (`db_reads`).
    pub fn key(&self) -> &'static str {
        match self {
            AppSeries::DbReads => "db_reads",
            AppSeries::DbWrites => "db_writes",
            AppSeries::DbRefused => "db_refused",
            AppSeries::DbTimeouts => "db_timeouts",
            AppSeries::DbCoalesced => "db_coalesced",
            AppSeries::NearHits => "near_hits",
            AppSeries::DbQueue => "db_queue",
        }
    }

    /// The name of its series in the record (`db.reads_per_s`).
    pub fn series_name(&self) -> &'static str {
        match self {
            AppSeries::DbReads => "db.reads_per_s",
            AppSeries::DbWrites => "db.writes_per_s",
            AppSeries::DbRefused => "db.refused_per_s",
            AppSeries::DbTimeouts => "db.timeouts_per_s",
            AppSeries::DbCoalesced => "db.coalesced_per_s",
            AppSeries::NearHits => "near.hits_per_s",
            AppSeries::DbQueue => "db.queue_max",
        }
    }
}

/// What of a series an expectation bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesStat {
    /// Events in the scope (`db_reads`).
    Total,
    /// The highest per-second rate of a window (`db_reads_peak`); for the
    /// queue, the deepest it got (`db_queue_max`).
    Peak,
    /// Events per second over the scope (`db_reads_mean`).
    Mean,
}

impl Metric {
    /// The metric names accepted in a key, for messages.
    pub const NAMES: &'static str = "availability, p50, p90, p95, p99, p999, p9999 (any pNN..), \
         max, hit_ratio, overload, stale_reads, lost_writes, lost_updates, db_reads, db_writes, db_refused, db_timeouts, \
         db_coalesced, near_hits (each also _peak and _mean, per second), db_queue_max";

    /// The key naming this metric.
    pub fn key(&self) -> String {
        match self {
            Metric::Availability => "availability".into(),
            Metric::Percentile(p) => {
                // 99.9 -> "p999", 50 -> "p50", 5 -> "p5".
                let digits = format!("{p}").replace('.', "");
                if *p < 10.0 && p.fract() == 0.0 {
                    format!("p{p}")
                } else if *p < 10.0 {
                    // The first two digits are the whole part: 5.5 is "p055".
                    format!("p0{digits}")
                } else {
                    format!("p{digits}")
                }
            }
            Metric::Max => "max".into(),
            Metric::HitRatio => "hit_ratio".into(),
            Metric::OverloadShare | Metric::OverloadCount => "overload".into(),
            Metric::StaleShare | Metric::StaleCount => "stale_reads".into(),
            Metric::LostWrites => "lost_writes".into(),
            Metric::LostUpdates => "lost_updates".into(),
            Metric::App(AppSeries::DbQueue, _) => "db_queue_max".into(),
            Metric::App(series, stat) => match stat {
                SeriesStat::Total => series.key().into(),
                SeriesStat::Peak => format!("{}_peak", series.key()),
                SeriesStat::Mean => format!("{}_mean", series.key()),
            },
        }
    }

    /// The metric a key names; `overload` and `stale_reads` are resolved
    /// later, by their value (a percent is a share, a whole number a count).
    /// `pNN..` reads its first two digits as the whole part and the rest as
    /// decimals: `p50` is 50, `p999` is 99.9, `p9999` is 99.99, `p5` is 5.
    pub fn from_key(key: &str) -> Option<Metric> {
        match key {
            "availability" => return Some(Metric::Availability),
            "max" => return Some(Metric::Max),
            "hit_ratio" => return Some(Metric::HitRatio),
            "overload" => return Some(Metric::OverloadShare),
            "stale_reads" => return Some(Metric::StaleShare),
            "lost_writes" => return Some(Metric::LostWrites),
            "lost_updates" => return Some(Metric::LostUpdates),
            "db_queue_max" => return Some(Metric::App(AppSeries::DbQueue, SeriesStat::Peak)),
            _ => {}
        }
        for series in AppSeries::COUNTED {
            let Some(rest) = key.strip_prefix(series.key()) else {
                continue;
            };
            let stat = match rest {
                "" => SeriesStat::Total,
                "_peak" => SeriesStat::Peak,
                "_mean" => SeriesStat::Mean,
                _ => continue,
            };
            return Some(Metric::App(series, stat));
        }
        let digits = key.strip_prefix('p')?;
        if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // A trailing zero after the whole part is never needed, and reading
        // "p100" as the 10th percentile would be a trap (the largest is `max`).
        if digits.len() > 2 && digits.ends_with('0') {
            return None;
        }
        let (int, frac) = digits.split_at(digits.len().min(2));
        let p: f64 = format!("{int}.{frac}0").parse().ok()?;
        (p > 0.0 && p < 100.0).then_some(Metric::Percentile(p))
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Ge,
    Le,
    Gt,
    Lt,
}

impl Cmp {
    pub fn as_str(&self) -> &'static str {
        match self {
            Cmp::Ge => ">=",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Lt => "<",
        }
    }
}

/// Reads the value of an expectation (`">= 99.9%"`) for `metric`, giving
/// the comparison, the normalised bound, and the metric (an `overload` or
/// `stale_reads` bound written as a percent is a share, a whole number a
/// count). The error says what was expected.
pub fn parse_bound(metric: Metric, text: &str) -> Result<(Cmp, f64, Metric), String> {
    let t = text.trim();
    let (cmp, rest) = if let Some(r) = t.strip_prefix(">=") {
        (Cmp::Ge, r)
    } else if let Some(r) = t.strip_prefix("<=") {
        (Cmp::Le, r)
    } else if let Some(r) = t.strip_prefix('>') {
        (Cmp::Gt, r)
    } else if let Some(r) = t.strip_prefix('<') {
        (Cmp::Lt, r)
    } else {
        return Err(format!(
            "expected a comparison (>=, <=, > or <) then a bound, like \"{}\"",
            example(metric)
        ));
    };
    let rest = rest.trim();
    match metric {
        Metric::Availability | Metric::HitRatio => {
            let share = parse_share(rest).map_err(|e| e.to_string())?;
            if !(0.0..=1.0).contains(&share) {
                return Err(format!(
                    "{rest} is not a share: expected 0..=1 or 0%..=100%, like \"{}\"",
                    example(metric)
                ));
            }
            Ok((cmp, share, metric))
        }
        Metric::Percentile(_) | Metric::Max => {
            let d = parse_duration(rest).map_err(|e| e.to_string())?;
            Ok((cmp, d.as_nanos() as f64 / 1000.0, metric))
        }
        Metric::LostWrites | Metric::LostUpdates => match rest.replace('_', "").parse::<u64>() {
            Ok(n) => Ok((cmp, n as f64, metric)),
            Err(_) => Err(format!("expected a count, like \"<= 0\", found {rest:?}")),
        },
        Metric::App(..) => {
            let digits = rest.trim_end_matches("/s").trim().replace('_', "");
            match digits.parse::<f64>() {
                Ok(n) if n.is_finite() && n >= 0.0 => Ok((cmp, n, metric)),
                _ => Err(format!(
                    "expected a number (a count, or per second for _peak and _mean), \
                     like \"{}\", found {rest:?}",
                    example(metric)
                )),
            }
        }
        Metric::OverloadShare | Metric::OverloadCount | Metric::StaleShare | Metric::StaleCount => {
            let stale = matches!(metric, Metric::StaleShare | Metric::StaleCount);
            if rest.ends_with('%') {
                let share = parse_share(rest).map_err(|e| e.to_string())?;
                if share > 1.0 {
                    return Err(format!("{rest} is above 100%"));
                }
                let m = if stale {
                    Metric::StaleShare
                } else {
                    Metric::OverloadShare
                };
                Ok((cmp, share, m))
            } else {
                let digits = rest.replace('_', "");
                let m = if stale {
                    Metric::StaleCount
                } else {
                    Metric::OverloadCount
                };
                match digits.parse::<u64>() {
                    Ok(n) => Ok((cmp, n as f64, m)),
                    Err(_) => Err(format!(
                        "expected a share as a percent (\"<= 1%\") or a count as a whole \
                         number (\"<= 100\"), found {rest:?}"
                    )),
                }
            }
        }
    }
}

/// An example bound for messages.
fn example(metric: Metric) -> &'static str {
    match metric {
        Metric::Availability => ">= 99.9%",
        Metric::HitRatio => ">= 0.8",
        Metric::Percentile(_) | Metric::Max => "<= 5ms",
        Metric::OverloadShare | Metric::OverloadCount => "<= 1%",
        Metric::StaleShare | Metric::StaleCount | Metric::LostWrites | Metric::LostUpdates => {
            "<= 0"
        }
        Metric::App(..) => "<= 500",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_keys() {
        assert_eq!(Metric::from_key("p50"), Some(Metric::Percentile(50.0)));
        assert_eq!(Metric::from_key("p999"), Some(Metric::Percentile(99.9)));
        assert_eq!(Metric::from_key("p9999"), Some(Metric::Percentile(99.99)));
        assert_eq!(Metric::from_key("p5"), Some(Metric::Percentile(5.0)));
        assert_eq!(Metric::from_key("p"), None);
        assert_eq!(Metric::from_key("p100"), None);
        assert_eq!(Metric::from_key("p990"), None);
        assert_eq!(Metric::from_key("p975"), Some(Metric::Percentile(97.5)));
        assert_eq!(Metric::from_key("p00"), None);
        assert_eq!(Metric::from_key("pxx"), None);
        for p in ["p50", "p95", "p99", "p999", "p9999", "p5", "p055"] {
            assert_eq!(Metric::from_key(p).unwrap().key(), p);
        }
    }

    #[test]
    fn bounds_are_normalised() {
        let (c, v, _) = parse_bound(Metric::Availability, ">= 99.9%").unwrap();
        assert_eq!((c, v), (Cmp::Ge, 0.999));
        let (c, v, _) = parse_bound(Metric::Percentile(99.0), "<= 5ms").unwrap();
        assert_eq!((c, v), (Cmp::Le, 5000.0));
        let (c, v, _) = parse_bound(Metric::Max, "< 1.5us").unwrap();
        assert_eq!((c, v), (Cmp::Lt, 1.5));
        let (_, v, m) = parse_bound(Metric::OverloadShare, "<= 1%").unwrap();
        assert_eq!((v, m), (0.01, Metric::OverloadShare));
        let (_, v, m) = parse_bound(Metric::OverloadShare, "<= 1_000").unwrap();
        assert_eq!((v, m), (1000.0, Metric::OverloadCount));
        let (c, v, m) = parse_bound(Metric::StaleShare, "> 0").unwrap();
        assert_eq!((c, v, m), (Cmp::Gt, 0.0, Metric::StaleCount));
        let (_, v, m) = parse_bound(Metric::StaleShare, "<= 0.5%").unwrap();
        assert_eq!((v, m), (0.005, Metric::StaleShare));
        assert!(parse_bound(Metric::StaleShare, "<= many").is_err());
        assert_eq!(Metric::from_key("stale_reads"), Some(Metric::StaleShare));
        assert_eq!(Metric::StaleCount.key(), "stale_reads");
        assert!(parse_bound(Metric::OverloadShare, "<= 0.01").is_err());
        assert!(parse_bound(Metric::Availability, "99.9%").is_err());
        assert!(parse_bound(Metric::Availability, ">= 120%").is_err());
        assert!(parse_bound(Metric::Percentile(99.0), "<= 5").is_err());
    }

    #[test]
    fn app_metric_keys_round_trip() {
        let m = Metric::from_key("db_reads_peak").unwrap();
        assert_eq!(m, Metric::App(AppSeries::DbReads, SeriesStat::Peak));
        for k in [
            "db_reads",
            "db_reads_peak",
            "db_writes_mean",
            "db_refused",
            "db_queue_max",
            "near_hits_mean",
            "db_coalesced",
        ] {
            assert_eq!(Metric::from_key(k).unwrap().key(), k);
        }
        assert_eq!(Metric::from_key("db_reads_max"), None);
        assert_eq!(Metric::from_key("db_queue"), None);
        let (c, v, _) = parse_bound(m, "<= 1_500").unwrap();
        assert_eq!((c, v), (Cmp::Le, 1500.0));
        let (_, v, _) = parse_bound(m, "> 12.5/s").unwrap();
        assert_eq!(v, 12.5);
        assert!(parse_bound(m, "<= 5ms").is_err());
        assert!(parse_bound(m, "<= -1").is_err());
    }

    #[test]
    fn holds_compares_and_rejects_nan() {
        let e = Expectation {
            scope: Scope::Phase("steady".into()),
            op: Some(OpKind::Get),
            metric: Metric::Percentile(99.0),
            cmp: Cmp::Le,
            value: 5000.0,
            text: "<= 5ms".into(),
        };
        assert!(e.holds(5000.0));
        assert!(!e.holds(5000.1));
        assert!(!e.holds(f64::NAN));
        assert_eq!(e.to_string(), "phase.steady.get.p99 <= 5ms");
        let gt = Expectation {
            cmp: Cmp::Gt,
            ..e.clone()
        };
        assert!(!gt.holds(5000.0));
        assert!(gt.holds(5001.0));
        let lt = Expectation { cmp: Cmp::Lt, ..e };
        assert!(lt.holds(4999.0));
        assert!(!lt.holds(f64::NAN));
    }
}

/// Reading `[expect]`: the keys form a small grammar,
/// `[phase.<name>.][<op>.]<metric> = "<cmp> <bound>"`.
pub(super) mod read {
    use super::super::reader::{Ctx, Span, Table, Value, closest};
    use super::{Expectation, Metric, Scope, parse_bound};
    use crate::workload::OpKind;

    /// Reads `[expect]`; `phases` are the phase names in order.
    pub(in super::super) fn read_expect(
        ctx: &mut Ctx<'_>,
        v: Option<&Value<'_>>,
        phases: &[String],
    ) -> Vec<Expectation> {
        let Some(v) = v else {
            return Vec::new();
        };
        let Some(t) = Table::open_any(ctx, "expect", v, "a table [expect]") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let at = Place {
            scope: Scope::Overall,
            op: None,
            phases,
        };
        walk(ctx, &t, &at, &mut out);
        out.sort_by_key(|(start, _)| *start);
        out.into_iter().map(|(_, e)| e).collect()
    }

    fn op_of(key: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|op| op.as_str() == key)
    }

    /// Where a walk is in the grammar: the scope so far, the operation (if
    /// under one), and the phase names in order.
    struct Place<'p> {
        scope: Scope,
        op: Option<OpKind>,
        phases: &'p [String],
    }

    /// One `key = value` of a table being walked.
    struct Entry<'a, 'i> {
        key: &'a str,
        key_span: Span,
        /// The key's full dotted path, for messages.
        path: String,
        value: &'a Value<'i>,
    }

    /// Reads every key of `t` at `at`: `phase` and operation keys open a
    /// nested table, anything else must be a metric with its bound.
    fn walk(
        ctx: &mut Ctx<'_>,
        t: &Table<'_, '_>,
        at: &Place<'_>,
        out: &mut Vec<(usize, Expectation)>,
    ) {
        for (key, key_span, value) in t.entries() {
            let e = Entry {
                key,
                key_span,
                path: t.path_of(key),
                value,
            };
            if key == "phase" && at.scope == Scope::Overall && at.op.is_none() {
                walk_phases(ctx, &e, at.phases, out);
            } else if let (Some(kind), None) = (op_of(key), at.op) {
                let Some(inner) = Table::open_any(
                    ctx,
                    &e.path,
                    value,
                    "a table of metrics, like get.p99 = \"<= 2ms\"",
                ) else {
                    continue;
                };
                let under = Place {
                    scope: at.scope.clone(),
                    op: Some(kind),
                    phases: at.phases,
                };
                walk(ctx, &inner, &under, out);
            } else if let Some(metric) = Metric::from_key(key) {
                if let Some(exp) = expectation(ctx, &e, at, metric) {
                    out.push(exp);
                }
            } else {
                unknown_key(ctx, &e, at);
            }
        }
    }

    /// `phase.<name>.…`: each name must be a phase; its table is walked in
    /// that phase's scope.
    fn walk_phases(
        ctx: &mut Ctx<'_>,
        e: &Entry<'_, '_>,
        phases: &[String],
        out: &mut Vec<(usize, Expectation)>,
    ) {
        let Some(pt) = Table::open_any(
            ctx,
            &e.path,
            e.value,
            "a table of phases, like phase.steady.p99 = \"<= 5ms\"",
        ) else {
            return;
        };
        for (name, name_span, pv) in pt.entries() {
            if !phases.iter().any(|p| p == name) {
                let hint = closest(name, phases.iter().map(String::as_str))
                    .map(|b| format!("did you mean \"{b}\"? "))
                    .unwrap_or_default();
                ctx.error(
                    &name_span,
                    format!(
                        "{}: there is no phase named {name:?}: {hint}the phases are {}",
                        pt.path_of(name),
                        phases.join(", ")
                    ),
                );
                continue;
            }
            let Some(inner) = Table::open_any(
                ctx,
                &pt.path_of(name),
                pv,
                "a table of metrics, like phase.steady.p99 = \"<= 5ms\"",
            ) else {
                continue;
            };
            let at = Place {
                scope: Scope::Phase(name.to_string()),
                op: None,
                phases,
            };
            walk(ctx, &inner, &at, out);
        }
    }

    /// A key that is neither a metric, an operation nor `phase`: the error
    /// names the closest key allowed here.
    fn unknown_key(ctx: &mut Ctx<'_>, e: &Entry<'_, '_>, at: &Place<'_>) {
        let mut candidates = vec![
            "availability",
            "p50",
            "p95",
            "p99",
            "p999",
            "max",
            "hit_ratio",
            "overload",
            "stale_reads",
            "db_reads",
            "db_reads_peak",
            "db_reads_mean",
            "db_writes",
            "db_refused",
            "db_queue_max",
            "db_coalesced",
            "near_hits",
        ];
        if at.op.is_none() {
            candidates.extend(OpKind::ALL.map(|k| k.as_str()));
            if at.scope == Scope::Overall {
                candidates.push("phase");
            }
        }
        let hundredth = e
            .key
            .strip_prefix("p100")
            .is_some_and(|zeros| zeros.bytes().all(|b| b == b'0'));
        let hint = if hundredth {
            Some("max")
        } else {
            closest(e.key, candidates.iter().copied())
        }
        .map(|b| format!("did you mean `{b}`? "))
        .unwrap_or_default();
        ctx.error(
            &e.key_span,
            format!(
                "unknown key `{}`: {hint}expected a metric ({}), an operation (get, set, delete) or phase.<name>",
                e.path,
                Metric::NAMES
            ),
        );
    }

    /// A metric's line: checked against where it stands, then its bound
    /// parsed. `None` once a problem is reported. Keyed by the value's
    /// offset, to keep file order.
    fn expectation(
        ctx: &mut Ctx<'_>,
        e: &Entry<'_, '_>,
        at: &Place<'_>,
        metric: Metric,
    ) -> Option<(usize, Expectation)> {
        let (path, key, value, op) = (&e.path, e.key, e.value, at.op);
        if let (Metric::App(..), Some(op)) = (metric, op) {
            ctx.error(
                &e.key_span,
                format!(
                    "{path}: database and near-cache figures are about the whole app, \
                     not one operation: use {} overall or per phase, not under {}",
                    metric.key(),
                    op.as_str()
                ),
            );
            return None;
        }
        if matches!(metric, Metric::LostWrites | Metric::LostUpdates)
            && (op.is_some() || at.scope != Scope::Overall)
        {
            ctx.error(
                &e.key_span,
                format!(
                    "{path}: {} is judged once, at the end of the run: \
                     write it at the top of [expect], not under a phase or an operation",
                    metric.key()
                ),
            );
            return None;
        }
        if matches!(metric, Metric::HitRatio | Metric::StaleShare)
            && matches!(op, Some(OpKind::Set | OpKind::Delete))
        {
            ctx.error(
                &e.key_span,
                format!("{path}: {key} is about reads: use it overall, per phase or under get"),
            );
            return None;
        }
        let Some(text) = value.get_ref().as_str() else {
            ctx.wrong_type(
                path,
                value,
                "a comparison as a string, like \">= 99.9%\" or \"<= 5ms\"",
            );
            return None;
        };
        match parse_bound(metric, text) {
            Ok((cmp, bound, metric)) => Some((
                value.span().start,
                Expectation {
                    scope: at.scope.clone(),
                    op,
                    metric,
                    cmp,
                    value: bound,
                    text: text.trim().to_string(),
                },
            )),
            Err(why) => {
                ctx.invalid(path, value, format!("is not a valid bound: {why}"));
                None
            }
        }
    }
}
