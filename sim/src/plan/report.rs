//! A plan as text: the answer with its margin, the bottleneck, every point
//! tried, and what the search could not vouch for (`plan.md`, printed).

use std::fmt::Write as _;

use ringlab_loadgen::report::format;
use ringlab_loadgen::report::summary::Stats;

use ringlab_loadgen::scenario::CostDist;

use super::point::{Find, Point, Setup, Variant};
use super::{Plan, slo::Slo};
use crate::theory::{Queue, Service, Usl, fit_usl};

/// One line per point as it finishes.
pub fn progress_line(setup: &Setup, p: &Point) -> String {
    let mut s = format!(
        "{}={}: {} ({:.1} s)",
        setup.find.as_str(),
        p.x,
        if p.pass { "meets the SLOs" } else { "FAILS" },
        p.wall.as_secs_f64()
    );
    for v in &p.variants {
        let figs: Vec<String> = setup
            .slos
            .iter()
            .enumerate()
            .map(|(i, slo)| format!("{} {}", slo_name(slo), worst_text(slo, v, i)))
            .collect();
        let _ = write!(s, "; {}: {}", v.label, figs.join(", "));
    }
    s
}

/// The SLO's key: "p99", "phase.peak.availability".
fn slo_name(slo: &Slo) -> &str {
    slo.text.split(['<', '>']).next().unwrap_or("").trim()
}

/// Each seed's figure of SLO `i`, sorted, with failed runs as `None`.
fn values(v: &Variant, i: usize) -> Vec<Option<f64>> {
    v.runs.iter().map(|r| r.figures[i]).collect()
}

/// The worst seed's figure of SLO `i` (None: a seed measured nothing).
fn worst(slo: &Slo, v: &Variant, i: usize) -> Option<f64> {
    let vals = values(v, i);
    if vals.iter().any(Option::is_none) {
        return None;
    }
    let it = vals.into_iter().flatten();
    if slo.higher_is_better() {
        it.reduce(f64::min)
    } else {
        it.reduce(f64::max)
    }
}

fn worst_text(slo: &Slo, v: &Variant, i: usize) -> String {
    match worst(slo, v, i) {
        Some(w) => format!("{} worst", slo.show(w)),
        None => "not measured in a seed".into(),
    }
}

/// "4.1ms (3.9–4.3)": the median over seeds and the spread.
pub fn spread(slo: &Slo, v: &Variant, i: usize) -> String {
    let mut vals: Vec<f64> = values(v, i).into_iter().flatten().collect();
    if vals.is_empty() {
        return "–".into();
    }
    vals.sort_by(f64::total_cmp);
    let med = vals[vals.len() / 2];
    let missing = v.runs.len() - vals.len();
    let mut s = format!(
        "{} ({}–{})",
        slo.show(med),
        slo.show(vals[0]),
        slo.show(vals[vals.len() - 1])
    );
    if missing > 0 {
        let _ = write!(s, ", {missing} seed(s) unmeasured");
    }
    s
}

/// The variant's overall stats, per seed.
fn overall(v: &Variant) -> impl Iterator<Item = &Stats> {
    v.runs
        .iter()
        .filter_map(|r| r.summary.as_ref().map(|s| &s.overall.all))
}

/// Median ok requests per second over seeds.
fn throughput(v: &Variant) -> f64 {
    let mut t: Vec<f64> = overall(v).map(|s| s.throughput_per_s).collect();
    t.sort_by(f64::total_cmp);
    t.get(t.len() / 2).copied().unwrap_or(0.0)
}

/// Shares of the requests, summed over seeds: (refused as overload, timed
/// out, held back by the clients' in-flight cap).
fn shares(v: &Variant) -> (f64, f64, f64) {
    let (mut req, mut over, mut to, mut held) = (0u64, 0u64, 0u64, 0u64);
    for s in overall(v) {
        req += s.requests;
        over += s.errors_by_kind.get("OVERLOADED").copied().unwrap_or(0);
        to += s.timeouts;
        held += s.held_back;
    }
    let f = |n: u64| n as f64 / req.max(1) as f64;
    (f(over), f(to), f(held))
}

/// The whole `plan.md`.
pub fn markdown(plan: &Plan) -> String {
    let mut t = String::new();
    let s = &plan.setup;
    let slos: Vec<&str> = s.slos.iter().map(|x| x.text.as_str()).collect();
    let _ = writeln!(
        t,
        "# plan {}: --find {} with {}\n",
        plan.scenario.name,
        s.find.as_str(),
        slos.join(" and ")
    );
    answer(&mut t, plan);
    bottleneck(&mut t, plan);
    table(&mut t, plan);
    theory(&mut t, plan);
    notes(&mut t, plan);
    t
}

fn answer(t: &mut String, plan: &Plan) {
    let s = &plan.setup;
    let variants: Vec<String> = std::iter::once("healthy".to_string())
        .chain(plan.point(plan.found.tried[0].0).into_iter().flat_map(|p| {
            p.variants
                .iter()
                .skip(1)
                .map(|v| format!("under `{}`", v.label))
        }))
        .collect();
    let Some(x) = plan.found.answer else {
        let _ = writeln!(
            t,
            "**No answer**: no {} tried meets every SLO in every seed ({}).\n",
            s.find.as_str(),
            variants.join(", ")
        );
        return;
    };
    let _ = writeln!(
        t,
        "**Answer: {}** meet{} every SLO in all {} seeds, {} ({} points, {:.0} s of wall time).\n",
        s.find.show(x),
        if s.find != Find::Rate && x != 1 {
            ""
        } else {
            "s"
        },
        s.seeds.len(),
        variants.join(" and "),
        plan.points.len(),
        plan.wall.as_secs_f64()
    );
    if let Some(e) = plan.found.edge {
        let _ = writeln!(t, "One step beyond, {} failed.\n", s.find.show(e));
    } else if plan.found.gave_up {
        let _ = writeln!(
            t,
            "The search ran out of points (`--max-points`) before it found a failing one.\n"
        );
    } else {
        let _ = writeln!(
            t,
            "Nothing beyond it was found to fail: it is at the search's bound.\n"
        );
    }
    let p = plan.point(x).expect("the answer was run");
    t.push_str("Margin at the answer (the worst seed of any variant against each SLO):\n\n");
    for (i, slo) in s.slos.iter().enumerate() {
        let w = p
            .variants
            .iter()
            .filter_map(|v| worst(slo, v, i))
            .reduce(|a, b| {
                if slo.higher_is_better() {
                    a.min(b)
                } else {
                    a.max(b)
                }
            });
        let Some(w) = w else { continue };
        let headroom = if slo.higher_is_better() {
            format!(
                "{:.0}% of the allowed shortfall used",
                100.0 * (1.0 - w) / (1.0 - slo.bound).max(1e-12)
            )
        } else {
            format!("{:.0}% below the bound", 100.0 * (1.0 - w / slo.bound))
        };
        let _ = writeln!(t, "- `{}`: worst {} ({headroom})", slo.text, slo.show(w));
    }
    t.push('\n');
}

fn bottleneck(t: &mut String, plan: &Plan) {
    let s = &plan.setup;
    let Some(p) = plan
        .found
        .answer
        .and_then(|x| plan.point(x))
        .or(plan.points.last())
    else {
        return;
    };
    // The variant under most load.
    let v = p
        .variants
        .iter()
        .max_by(|a, b| a.load.utilization.total_cmp(&b.load.utilization))
        .expect("a point has a variant");
    let (over, to, held) = shares(v);
    let u = v.load.utilization;
    let at = format!(
        "at {}{}",
        s.find.show(p.x),
        if v.label == "healthy" {
            String::new()
        } else {
            format!(" under `{}`", v.label)
        }
    );
    t.push_str("## Bottleneck\n\n");
    let head = if u >= 0.6 {
        format!(
            "**Limited by node CPU**: the busiest node ({}) is about {:.0}% busy {at} (estimated; the mean node {:.0}%)",
            v.load.busiest,
            100.0 * u,
            100.0 * v.load.mean
        )
    } else {
        format!(
            "**Not node CPU**: the busiest node ({}) is only about {:.0}% busy {at} (estimated); \
             latency is set by the network, the replica round trips and the queueing of bursts",
            v.load.busiest,
            100.0 * u
        )
    };
    let _ = writeln!(
        t,
        "{head}; refused as overload {}, timed out {}, held back by the clients' in-flight cap {}.\n",
        format::percent_floor(over),
        format::percent_floor(to),
        format::percent_floor(held)
    );
    if let Some(e) = plan.found.edge.and_then(|x| plan.point(x)) {
        let ev = e
            .variants
            .iter()
            .max_by(|a, b| a.load.utilization.total_cmp(&b.load.utilization))
            .expect("a point has a variant");
        let _ = writeln!(
            t,
            "At {} (fails) the busiest node would be about {:.0}% busy{}.\n",
            s.find.show(e.x),
            100.0 * ev.load.utilization,
            if ev.label == "healthy" {
                String::new()
            } else {
                format!(" under `{}`", ev.label)
            }
        );
    }
    t.push_str(
        "Utilization is estimated from the offered rate, the operations a request costs on \
         each node and the nodes' key shares on the ring (the fast engine does not report \
         core time per node); see docs/PLAN.md.\n\n",
    );
}

fn table(t: &mut String, plan: &Plan) {
    let s = &plan.setup;
    t.push_str("## Every point tried\n\nEach SLO figure: median over seeds (min–max).\n\n");
    let mut head = format!("| {} | variant | meets | ", s.find.as_str());
    for slo in &s.slos {
        let _ = write!(head, "{} | ", slo_name(slo));
    }
    head.push_str("ok/s | busiest node busy (est.) | overload | wall |\n|---:|---|---|");
    for _ in &s.slos {
        head.push_str("---:|");
    }
    head.push_str("---:|---:|---:|---:|\n");
    t.push_str(&head);
    for p in plan.sorted() {
        for v in &p.variants {
            let mut row = format!(
                "| {} | {} | {} | ",
                p.x,
                v.label,
                if v.pass { "yes" } else { "**no**" }
            );
            for (i, slo) in s.slos.iter().enumerate() {
                let _ = write!(row, "{} | ", spread(slo, v, i));
            }
            let _ = writeln!(
                row,
                "{} | {:.0}% ({}) | {} | {:.1} s |",
                format::rate(throughput(v)),
                100.0 * v.load.utilization,
                v.load.busiest,
                format::percent_floor(shares(v).0),
                p.wall.as_secs_f64()
            );
            t.push_str(&row);
        }
    }
    t.push('\n');
}

/// The busiest node's queue at variant `v`, as theory sees it.
pub fn node_queue(v: &Variant) -> Queue {
    Queue {
        lambda: v.load.ops_per_s,
        cores: v.load.cores,
        service: service_of(&v.load.op_cost),
    }
}

/// A scenario's service distribution in seconds.
pub fn service_of(d: &CostDist) -> Service {
    match *d {
        CostDist::Constant(s) => Service::Constant(s.as_secs_f64()),
        CostDist::Exponential { mean } => Service::Exponential {
            mean: mean.as_secs_f64(),
        },
        CostDist::LogNormal { median, sigma } => Service::LogNormal {
            median: median.as_secs_f64(),
            sigma,
        },
    }
}

/// Median over seeds of the whole run's p99 and mean latency, µs.
fn measured(v: &Variant) -> (Option<f64>, Option<f64>) {
    let med = |mut x: Vec<f64>| {
        x.sort_by(f64::total_cmp);
        x.get(x.len() / 2).copied()
    };
    let p99 = med(overall(v)
        .filter_map(|s| s.latency_us.p99.map(|p| p as f64))
        .collect());
    let mean = med(overall(v).filter_map(|s| s.latency_us.mean).collect());
    (p99, mean)
}

/// The USL fitted to the healthy variant's goodput against the parameter
/// (nodes or cores), with the points it used.
pub fn usl_fit(plan: &Plan) -> Option<(Usl, Vec<(f64, f64)>)> {
    if plan.setup.find == Find::Rate {
        return None;
    }
    let pts: Vec<(f64, f64)> = plan
        .sorted()
        .iter()
        .filter_map(|p| p.variants.first().map(|v| (p.x as f64, throughput(v))))
        .collect();
    fit_usl(&pts).map(|f| (f, pts))
}

/// Theory beside the experiment: per point, the busiest node as an M/M/c
/// (or M/G/c) queue at its estimated load, against the measured latency;
/// then the USL fit.
fn theory(t: &mut String, plan: &Plan) {
    let kind = match service_of(&plan.scenario.capacity.op_cost) {
        Service::Exponential { .. } => "an M/M/c queue (exact: the service time is exponential)",
        _ => "an M/G/c queue (Allen–Cunneen's approximation: the service time is not exponential)",
    };
    let _ = writeln!(
        t,
        "## Theory beside the experiment\n\n\
         The busiest node as {kind}, with Poisson arrivals at its estimated \
         operations per second: the predicted wait for a core and time at the node (mean \
         and p99), against the simulated latency of whole requests (median over seeds). A \
         request's latency adds the network and, with replication, the slowest of the \
         replicas it waits for, so the ratio is above 1 even where the queue model is \
         right; where it jumps (near or past 100% busy, under a death) the model and the \
         simulation part. `–`: no steady state (utilization at or above 100%).\n"
    );
    let _ = writeln!(
        t,
        "| {} | variant | busy (est.) | ops/s on it | P(wait) | wait (mean) | at node (mean) | at node (p99) | simulated mean | simulated p99 | p99 ratio |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        plan.setup.find.as_str()
    );
    let us = |s: f64| format::latency_us(s * 1e6);
    let opt = |v: Option<f64>| v.map_or_else(|| "–".to_string(), format::latency_us);
    for p in plan.sorted() {
        for v in &p.variants {
            let pred = node_queue(v).predict();
            let (p99, mean) = measured(v);
            let (pw, w, m, q) = match pred {
                Some(pr) => (
                    format!("{:.3}", pr.wait_chance),
                    us(pr.mean_wait),
                    us(pr.mean_sojourn),
                    us(pr.p99_sojourn),
                ),
                None => ("–".into(), "–".into(), "–".into(), "–".into()),
            };
            let ratio = match (pred, p99) {
                (Some(pr), Some(sim)) if pr.p99_sojourn > 0.0 => {
                    format!("{:.2}", sim / (pr.p99_sojourn * 1e6))
                }
                _ => "–".into(),
            };
            let _ = writeln!(
                t,
                "| {} | {} | {:.0}% | {} | {pw} | {w} | {m} | {q} | {} | {} | {ratio} |",
                p.x,
                v.label,
                100.0 * v.load.utilization,
                format::rate(v.load.ops_per_s),
                opt(mean),
                opt(p99),
            );
        }
    }
    t.push('\n');
    match usl_fit(plan) {
        Some((f, pts)) => {
            let worst = pts
                .iter()
                .map(|(n, x)| (f.throughput(*n) / x - 1.0).abs())
                .fold(0.0, f64::max);
            let verdict = if worst > 0.2 {
                format!(
                    "The law does not describe these points (the fit is {:.0}% off at worst). ",
                    100.0 * worst
                )
            } else {
                format!("The fit is within {:.1}% at every point. ", 100.0 * worst)
            };
            let peak = f.peak().map_or_else(
                || "none (kappa <= 0: throughput does not fall)".to_string(),
                |n| format!("N = {n:.1}"),
            );
            let _ = writeln!(
                t,
                "Universal Scalability Law over the {} healthy points (goodput against {}): \
                 lambda {}, sigma {:.4}, kappa {:.6}; peak {peak}. Fitted: {}. {verdict}Goodput only \
                 measures capacity where the point was saturated; at points that kept up, it \
                 is the offered rate and the fit says nothing about scaling.\n",
                pts.len(),
                plan.setup.find.as_str(),
                format::rate(f.lambda),
                f.sigma,
                f.kappa,
                pts.iter()
                    .map(|(n, x)| format!(
                        "{n:.0}: {} (fit {})",
                        format::rate(*x),
                        format::rate(f.throughput(*n))
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        None if plan.setup.find == Find::Rate => t.push_str(
            "No Universal Scalability Law fit: it needs the cluster's size (or cores) varied, \
             and `--find rate` varies the load.\n\n",
        ),
        None => {
            let _ = writeln!(
                t,
                "No Universal Scalability Law fit: it needs three or more distinct {} values \
                 (this plan ran {}).\n",
                plan.setup.find.as_str(),
                plan.points.len()
            );
        }
    }
}

fn notes(t: &mut String, plan: &Plan) {
    let s = &plan.setup;
    t.push_str("## How far to trust it\n\n");
    let n = plan.found.tried.len();
    if plan.found.violations.is_empty() {
        let _ = writeln!(
            t,
            "- Passing is monotone in {} on the {n} points tried, as bisection assumes \
             (the last, a step past the answer, is there to check it).",
            s.find.as_str()
        );
    } else {
        let pairs: Vec<String> = plan
            .found
            .violations
            .iter()
            .map(|(a, b)| format!("{} fails where {} passes", s.find.show(*a), s.find.show(*b)))
            .collect();
        let _ = writeln!(
            t,
            "- **Not monotone** on the points tried: {}. The answer is the conservative one: \
             every point tried beyond it passes.",
            pairs.join("; ")
        );
    }
    for line in figure_monotonicity(plan) {
        let _ = writeln!(t, "- {line}");
    }
    if plan.found.gave_up {
        let _ = writeln!(
            t,
            "- The search stopped at its budget of points (--max-points) before closing the bracket."
        );
    }
    let _ = writeln!(
        t,
        "- SLOs cover the whole run unless they name a phase; under `--survive` the fault \
         comes at {} and the SLO still covers the whole span, the death's moment included.",
        ringlab_loadgen::scenario::units::format_duration(s.fault_at)
    );
    let _ = writeln!(
        t,
        "- Seeds 1..={} per point, {} engine.\n",
        s.seeds.len(),
        s.engine.as_str()
    );
}

/// Each SLO figure's medians should only improve toward the passing side;
/// where they do not, say where and whether the seed spreads overlap.
fn figure_monotonicity(plan: &Plan) -> Vec<String> {
    let s = &plan.setup;
    let mut out = Vec::new();
    let pts = plan.sorted();
    let better_up = s.find != Find::Rate;
    for (i, slo) in s.slos.iter().enumerate() {
        for vi in 0..pts.first().map_or(0, |p| p.variants.len()) {
            let series: Vec<(u64, f64, f64, f64)> = pts
                .iter()
                .filter_map(|p| {
                    let v = p.variants.get(vi)?;
                    let mut vals: Vec<f64> = values(v, i).into_iter().flatten().collect();
                    vals.sort_by(f64::total_cmp);
                    Some((
                        p.x,
                        *vals.get(vals.len() / 2)?,
                        *vals.first()?,
                        *vals.last()?,
                    ))
                })
                .collect();
            for w in series.windows(2) {
                let (a, b) = (w[0], w[1]);
                // b is further toward the passing side when better_up.
                let b_better = if slo.higher_is_better() {
                    b.1 >= a.1
                } else {
                    b.1 <= a.1
                };
                if b_better == better_up || a.1 == b.1 {
                    continue;
                }
                let overlap = a.2 <= b.3 && b.2 <= a.3;
                out.push(format!(
                    "`{}` ({}) is not monotone between {} ({}) and {} ({}){}.",
                    slo.text,
                    pts[0].variants[vi].label,
                    s.find.show(a.0),
                    slo.show(a.1),
                    s.find.show(b.0),
                    slo.show(b.1),
                    if overlap {
                        ", within the seeds' spread"
                    } else {
                        ", beyond the seeds' spread"
                    }
                ));
            }
        }
    }
    out
}
