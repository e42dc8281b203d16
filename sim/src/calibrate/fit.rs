//! The arithmetic of a calibration, pure: per-operation costs from CPU
//! time, the network latency from an idle round trip, the rate ladder, and
//! the verdict on simulated against real figures.

use std::fmt::Write as _;

use ringlab_loadgen::report::format::{grouped, latency_opt};
use ringlab_loadgen::workload::OpKind;

/// One cost run: a node served `ops` operations of one kind, all with
/// values of `value_bytes`, and spent `cpu_s` of CPU time doing so.
#[derive(Debug, Clone, PartialEq)]
pub struct CostSample {
    pub kind: OpKind,
    pub value_bytes: u64,
    pub ops: u64,
    pub cpu_s: f64,
}

impl CostSample {
    /// CPU time per operation, microseconds (the utilization law: busy
    /// time over completions).
    pub fn per_op_us(&self) -> f64 {
        self.cpu_s * 1e6 / self.ops.max(1) as f64
    }
}

/// A kind's cost as a line: `base_us + per_kb_us * KiB of value`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub base_us: f64,
    pub per_kb_us: f64,
}

impl Line {
    pub fn at(&self, value_bytes: u64) -> f64 {
        self.base_us + self.per_kb_us * value_bytes as f64 / 1024.0
    }
}

/// The fitted costs of GET and SET.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Costs {
    pub get: Line,
    pub set: Line,
}

/// Fits each kind's line through its samples by least squares. Each kind
/// needs samples at two value sizes or more.
pub fn fit_costs(samples: &[CostSample]) -> Result<Costs, String> {
    let line = |kind: OpKind| -> Result<Line, String> {
        let pts: Vec<(f64, f64)> = samples
            .iter()
            .filter(|s| s.kind == kind && s.ops > 0)
            .map(|s| (s.value_bytes as f64 / 1024.0, s.per_op_us()))
            .collect();
        least_squares(&pts).ok_or_else(|| {
            format!(
                "{}: cost runs at two value sizes or more are needed to fit a cost per KiB",
                kind.as_str()
            )
        })
    };
    Ok(Costs {
        get: line(OpKind::Get)?,
        set: line(OpKind::Set)?,
    })
}

/// The least-squares line through `pts` (x, y); None without two distinct
/// x values.
fn least_squares(pts: &[(f64, f64)]) -> Option<Line> {
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if pts.len() < 2 || sxx <= f64::EPSILON {
        return None;
    }
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    Some(Line {
        base_us: my - slope * mx,
        per_kb_us: slope,
    })
}

/// What the simulator's `[capacity]` takes from the fitted costs for a
/// workload of `get_share` GETs (the rest SETs) with values of
/// `value_bytes`.
///
/// The simulator charges `op_cost` per operation plus `per_kb_cost` per KiB
/// of the request. A SET's request holds its value, so SET's per-KiB cost
/// becomes `per_kb_cost` and SET's base cost its share of `op_cost`. A
/// GET's reply holds the value and the simulator does not charge replies,
/// so GET's whole cost at this value size goes into `op_cost`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    pub op_cost_us: f64,
    pub per_kb_cost_us: f64,
}

impl Capacity {
    pub fn of(costs: &Costs, get_share: f64, value_bytes: u64) -> Self {
        let per_kb = costs.set.per_kb_us.max(0.0);
        let op_cost =
            get_share * costs.get.at(value_bytes) + (1.0 - get_share) * costs.set.base_us.max(0.0);
        Capacity {
            op_cost_us: op_cost.max(0.1),
            per_kb_cost_us: per_kb,
        }
    }

    /// Mean service time of one operation of the workload, microseconds.
    pub fn mean_service_us(&self, get_share: f64, value_bytes: u64, key_bytes: u64) -> f64 {
        let kb = |b: u64| b as f64 / 1024.0;
        let request = get_share * kb(key_bytes) + (1.0 - get_share) * kb(key_bytes + value_bytes);
        self.op_cost_us + self.per_kb_cost_us * request
    }
}

/// The simulator's one-way network latency that makes a request's round
/// trip what the real one measured: half of what the median latency leaves
/// after the service time (at least 1 us).
pub fn one_way_latency_us(p50_us: u64, service_us: f64) -> f64 {
    ((p50_us as f64 - service_us) / 2.0).max(1.0)
}

/// The real rungs whose p50 the network is fitted to and checked at: those
/// that served at most [`P50_MAX_LOAD`] of the real saturation (the best
/// throughput of any rung).
pub fn moderate(real: &[Figures]) -> Vec<usize> {
    let saturation = real.iter().map(|f| f.throughput).fold(0.0, f64::max);
    (0..real.len())
        .filter(|&i| real[i].throughput <= P50_MAX_LOAD * saturation && real[i].p50_us.is_some())
        .collect()
}

/// The p50 the network is fitted to: the geometric middle of those rungs'
/// smallest and largest real p50, which keeps the largest relative error
/// of a flat fit smallest. A real node's median latency is not the model's
/// constant round trip plus a queue: it moves with load (it falls as a busy
/// node and client skip the wake-ups an idle pair pays), so one rung would
/// fit the round trip at that load only. Every rung is then within 25% of
/// the fit when the real p50s span less than 1.25^2 = 1.56x.
pub fn middle_p50(real: &[Figures], rungs: &[usize]) -> Option<u64> {
    let p50s = rungs.iter().filter_map(|&i| real[i].p50_us);
    let (lo, hi) = p50s.fold(None, |acc: Option<(u64, u64)>, p| {
        Some(acc.map_or((p, p), |(lo, hi)| (lo.min(p), hi.max(p))))
    })?;
    Some(((lo as f64 * hi as f64).sqrt()).round() as u64)
}

/// Rates at `fractions` of `capacity_per_s`, rounded to hundreds, at least
/// 100, ascending and distinct.
pub fn ladder(capacity_per_s: f64, fractions: &[f64]) -> Vec<u64> {
    let mut rates: Vec<u64> = fractions
        .iter()
        .map(|f| (((capacity_per_s * f) / 100.0).round() as u64 * 100).max(100))
        .collect();
    rates.sort_unstable();
    rates.dedup();
    rates
}

/// A run's figures, real or simulated.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// Successful requests per second.
    pub throughput: f64,
    pub availability: Option<f64>,
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    /// The node's busy share of the run (CPU time over the run's length):
    /// measured for real runs, offered load times service time simulated.
    pub busy: f64,
}

/// One rung of the ladder, run both ways.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub rate: u64,
    pub real: Figures,
    pub sim: Figures,
}

/// The calibration's targets.
pub const SATURATION_TOLERANCE: f64 = 0.15;
pub const P50_TOLERANCE: f64 = 0.25;
/// p50 is compared at or below this share of the real saturation.
pub const P50_MAX_LOAD: f64 = 0.6;

/// The comparison of one p50.
#[derive(Debug, Clone, PartialEq)]
pub struct P50Check {
    pub rate: u64,
    pub real_us: u64,
    pub sim_us: u64,
    /// sim / real.
    pub ratio: f64,
}

impl P50Check {
    pub fn ok(&self) -> bool {
        (self.ratio - 1.0).abs() <= P50_TOLERANCE
    }
}

/// Simulated against real, over the ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub real_saturation: f64,
    pub sim_saturation: f64,
    /// The node's busy share at the real saturation point.
    pub real_busy_at_saturation: f64,
    pub p50: Vec<P50Check>,
}

impl Verdict {
    /// sim / real saturation throughput.
    pub fn saturation_ratio(&self) -> f64 {
        self.sim_saturation / self.real_saturation.max(1e-9)
    }

    pub fn saturation_ok(&self) -> bool {
        (self.saturation_ratio() - 1.0).abs() <= SATURATION_TOLERANCE
    }

    pub fn p50_ok(&self) -> bool {
        !self.p50.is_empty() && self.p50.iter().all(P50Check::ok)
    }
}

/// Judges the ladder. Saturation is the largest throughput a side reached;
/// p50 is compared at every rung at or below [`P50_MAX_LOAD`] of the real
/// saturation (the rungs whose median the network was fitted to: the check
/// is how far each is from one round trip plus the model's queue).
pub fn judge(points: &[Point]) -> Verdict {
    let best = |f: fn(&Point) -> &Figures| {
        points
            .iter()
            .max_by(|a, b| f(a).throughput.total_cmp(&f(b).throughput))
    };
    let real_best = best(|p| &p.real);
    let real_saturation = real_best.map_or(0.0, |p| p.real.throughput);
    let p50 = points
        .iter()
        .filter(|p| p.real.throughput <= P50_MAX_LOAD * real_saturation)
        .filter_map(|p| {
            let (real_us, sim_us) = (p.real.p50_us?, p.sim.p50_us?);
            Some(P50Check {
                rate: p.rate,
                real_us,
                sim_us,
                ratio: sim_us as f64 / real_us.max(1) as f64,
            })
        })
        .collect();
    Verdict {
        real_saturation,
        sim_saturation: best(|p| &p.sim).map_or(0.0, |p| p.sim.throughput),
        real_busy_at_saturation: real_best.map_or(0.0, |p| p.real.busy),
        p50,
    }
}

/// The cost table: each run and each kind's fitted line.
pub fn costs_table(samples: &[CostSample], costs: &Costs) -> String {
    let mut s = String::from("| kind | value | ops | CPU | CPU per op |\n|---|---|---|---|---|\n");
    for x in samples {
        let _ = writeln!(
            s,
            "| {} | {} B | {} | {:.2} s | {:.2} us |",
            x.kind.as_str(),
            grouped(x.value_bytes),
            grouped(x.ops),
            x.cpu_s,
            x.per_op_us()
        );
    }
    for (k, l) in [(OpKind::Get, costs.get), (OpKind::Set, costs.set)] {
        let _ = writeln!(
            s,
            "\n{}: {:.2} us + {:.3} us per KiB of value",
            k.as_str(),
            l.base_us,
            l.per_kb_us
        );
    }
    s
}

/// The agreement table: each rung, real and simulated side by side.
pub fn ladder_table(points: &[Point]) -> String {
    let mut s = String::from(
        "| rate | ok/s real | ok/s sim | p50 real | p50 sim | p99 real | p99 sim | busy real | busy sim |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for p in points {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {:.0}% | {:.0}% |",
            grouped(p.rate),
            grouped(p.real.throughput.round() as u64),
            grouped(p.sim.throughput.round() as u64),
            latency_opt(p.real.p50_us),
            latency_opt(p.sim.p50_us),
            latency_opt(p.real.p99_us),
            latency_opt(p.sim.p99_us),
            p.real.busy * 100.0,
            p.sim.busy * 100.0,
        );
    }
    s
}

/// The verdict in words.
pub fn verdict_text(v: &Verdict) -> String {
    let mark = |ok: bool| if ok { "within" } else { "OUTSIDE" };
    let mut s = format!(
        "saturation throughput: real {}/s (node {:.0}% busy), simulated {}/s: {:.2}x, {} {:.0}%\n",
        grouped(v.real_saturation.round() as u64),
        v.real_busy_at_saturation * 100.0,
        grouped(v.sim_saturation.round() as u64),
        v.saturation_ratio(),
        mark(v.saturation_ok()),
        SATURATION_TOLERANCE * 100.0
    );
    if v.real_busy_at_saturation < 0.9 {
        s.push_str(
            "  the real node was not CPU-bound at its best throughput: something else (the load \
             generator sharing this machine, the network) limited the real run\n",
        );
    }
    if v.p50.is_empty() {
        s.push_str("p50: no rung at or below 60% of the real saturation\n");
    }
    for c in &v.p50 {
        let _ = writeln!(
            s,
            "p50 at {}/s: real {}, simulated {}: {:.2}x, {} {:.0}%",
            grouped(c.rate),
            latency_opt(Some(c.real_us)),
            latency_opt(Some(c.sim_us)),
            c.ratio,
            mark(c.ok()),
            P50_TOLERANCE * 100.0
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(kind: OpKind, value_bytes: u64, per_op_us: f64) -> CostSample {
        CostSample {
            kind,
            value_bytes,
            ops: 100_000,
            cpu_s: per_op_us * 0.1,
        }
    }

    #[test]
    fn a_line_through_two_sizes_is_recovered() {
        let s = [
            sample(OpKind::Set, 100, 10.0 + 0.5 * 100.0 / 1024.0),
            sample(OpKind::Set, 8192, 10.0 + 0.5 * 8.0),
            sample(OpKind::Get, 100, 8.0),
            sample(OpKind::Get, 8192, 8.0 + 3.0 * 8.0 - 3.0 * 100.0 / 1024.0),
        ];
        let c = fit_costs(&s).unwrap();
        assert!((c.set.base_us - 10.0).abs() < 1e-9, "{c:?}");
        assert!((c.set.per_kb_us - 0.5).abs() < 1e-9, "{c:?}");
        assert!((c.get.per_kb_us - 3.0).abs() < 1e-9, "{c:?}");
        assert!((c.get.at(100) - 8.0).abs() < 1e-9, "{c:?}");
    }

    #[test]
    fn one_size_is_not_enough_to_fit() {
        let s = [
            sample(OpKind::Set, 100, 10.0),
            sample(OpKind::Get, 100, 8.0),
        ];
        let e = fit_costs(&s).unwrap_err();
        assert!(e.contains("two value sizes"), "{e}");
    }

    #[test]
    fn capacity_charges_set_values_per_kib_and_folds_get_values_into_op_cost() {
        let costs = Costs {
            get: Line {
                base_us: 8.0,
                per_kb_us: 2.0,
            },
            set: Line {
                base_us: 10.0,
                per_kb_us: 0.5,
            },
        };
        let cap = Capacity::of(&costs, 0.9, 1024);
        assert!((cap.op_cost_us - (0.9 * 10.0 + 0.1 * 10.0)).abs() < 1e-9);
        assert_eq!(cap.per_kb_cost_us, 0.5);
        // The mean service time of the mix: GETs 10 us, SETs 10 + 0.5 us.
        let mean = cap.mean_service_us(0.9, 1024, 0);
        assert!((mean - (10.0 + 0.1 * 0.5)).abs() < 1e-9, "{mean}");
    }

    #[test]
    fn the_network_is_fitted_to_the_middle_p50_of_the_moderate_rungs() {
        let f = |throughput: f64, p50| Figures {
            throughput,
            availability: Some(1.0),
            p50_us: Some(p50),
            p99_us: None,
            busy: 0.0,
        };
        let real = [
            f(10_000.0, 65),
            f(20_000.0, 50),
            f(40_000.0, 58),
            f(60_000.0, 90),
            f(100_000.0, 5000),
        ];
        // 60% of the best throughput (100k) is 60k: four rungs.
        let rungs = moderate(&real);
        assert_eq!(rungs, vec![0, 1, 2, 3]);
        // sqrt(50 * 90) = 67: 50 and 90 are both 1.34x from it.
        assert_eq!(middle_p50(&real, &rungs), Some(67));
        assert_eq!(middle_p50(&real, &[]), None);
    }

    #[test]
    fn the_network_takes_what_the_service_leaves_of_the_round_trip() {
        assert_eq!(one_way_latency_us(60, 10.0), 25.0);
        assert_eq!(one_way_latency_us(5, 10.0), 1.0);
    }

    #[test]
    fn ladder_rounds_sorts_and_dedups() {
        assert_eq!(
            ladder(100_000.0, &[0.6, 0.1, 0.1, 1.2]),
            vec![10_000, 60_000, 120_000]
        );
        assert_eq!(ladder(10.0, &[0.1]), vec![100]);
    }

    fn fig(throughput: f64, p50: u64, busy: f64) -> Figures {
        Figures {
            throughput,
            availability: Some(1.0),
            p50_us: Some(p50),
            p99_us: Some(p50 * 3),
            busy,
        }
    }

    #[test]
    fn judge_compares_saturation_and_p50_below_60_percent_except_the_fit_point() {
        let pts = vec![
            Point {
                rate: 10_000,
                real: fig(10_000.0, 50, 0.1),
                sim: fig(10_000.0, 50, 0.1),
            },
            Point {
                rate: 50_000,
                real: fig(50_000.0, 60, 0.5),
                sim: fig(50_000.0, 70, 0.5),
            },
            Point {
                rate: 70_000,
                real: fig(70_000.0, 90, 0.7),
                sim: fig(70_000.0, 200, 0.7),
            },
            Point {
                rate: 120_000,
                real: fig(95_000.0, 5000, 0.98),
                sim: fig(100_000.0, 9000, 1.0),
            },
        ];
        let v = judge(&pts);
        assert_eq!(v.real_saturation, 95_000.0);
        assert_eq!(v.sim_saturation, 100_000.0);
        assert!(v.saturation_ok());
        // 10k and 50k are at most 60% of 95k; 70k is not.
        assert_eq!(v.p50.len(), 2);
        assert_eq!((v.p50[0].rate, v.p50[1].rate), (10_000, 50_000));
        assert!(v.p50_ok(), "{v:?}");
        assert!(verdict_text(&v).contains("within 15%"));

        // A simulation 20% slower at saturation, or 30% off at p50, fails.
        let mut off = pts.clone();
        off[3].sim.throughput = 76_000.0;
        off[1].sim.p50_us = Some(78);
        let v = judge(&off);
        assert!(!v.saturation_ok());
        assert!(!v.p50_ok());
        assert!(verdict_text(&v).contains("OUTSIDE"));
    }
}
