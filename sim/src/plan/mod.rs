//! `ringlab-sim plan`: the smallest cluster (or the largest load) that
//! meets a set of SLOs, found by searching over simulated runs, several
//! seeds per point, healthy and under faults, with the bottleneck named.
//!
//! # Map
//! - [`search`]: the search itself, pure (gallop, bisect, check
//!   monotonicity on the points tried).
//! - [`slo`]: `--slo` and the figures it reads off a run's summary.
//! - [`point`]: one point: every seed of every variant in child
//!   processes, judged.
//! - [`load`]: the busiest node's estimated utilization at a point.
//! - [`report`]: the answer, its margin, the table and the bottleneck, as
//!   text; the theory beside it (the busiest node as an M/M/c or M/G/c
//!   queue, the USL fit; the formulas are in [`crate::theory`]).
//! - [`page`]: the plots, the HTML page and the answer's scenario file.

pub mod load;
pub mod page;
pub mod point;
pub mod report;
pub mod search;
pub mod slo;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ringlab_loadgen::scenario::units::parse_duration;
use ringlab_loadgen::scenario::workload::Rate;
use ringlab_loadgen::scenario::{self, Override, Scenario};

use crate::runner::{Engine, default_jobs};
use point::Setup;
pub use point::{Find, Point, Survive};
use search::{Found, Goal, Search, Steps};
use slo::Slo;

/// `plan`'s own arguments (`--set` and `--engine` come with the others').
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// What to search for: the smallest `nodes` or `cores` per node, or the
    /// largest `rate` (of `--phase`), that meets every SLO.
    #[arg(long, value_enum)]
    pub find: Find,
    /// An SLO every seed of a point must meet (repeatable): a figure
    /// (availability, p50, p95, p99, p999, max, hit_ratio), a comparison
    /// and a bound: 'p99<=5ms', 'availability>=99.99%'. It covers the
    /// whole run unless it names a phase: 'phase.peak.p99<=5ms'.
    #[arg(long, required = true, value_name = "SLO")]
    pub slo: Vec<String>,
    /// Check every point again under a fault (repeatable): 'kill N',
    /// 'kill node-N' or 'kill busiest' (the node with the most keys).
    #[arg(long, value_name = "FAULT")]
    pub survive: Vec<String>,
    /// When the --survive fault happens, since the run started.
    #[arg(long, default_value = "1s")]
    pub fault_at: String,
    /// Seeds per point (seeds 1..=N); a point passes only if every seed does.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// The first value tried (default: the scenario's own).
    #[arg(long)]
    pub start: Option<u64>,
    /// The smallest value the search may try.
    #[arg(long)]
    pub min: Option<u64>,
    /// The largest value the search may try.
    #[arg(long)]
    pub max: Option<u64>,
    /// With --find rate: stop when the passing and the failing rate are
    /// this close (default: 1% of the rate).
    #[arg(long)]
    pub resolution: Option<u64>,
    /// With --find rate: the phase whose rate is searched (default: the
    /// first); later phases' relative rates ("x10") follow it.
    #[arg(long)]
    pub phase: Option<String>,
    /// The most points to run before giving up.
    #[arg(long, default_value_t = 16)]
    pub max_points: usize,
    /// Processes at a time (default: the number of cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Where the plan and every point's runs go (default: out/plan-<name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// A finished plan: what [`report`] and [`page`] render.
pub struct Plan {
    pub setup: Setup,
    pub scenario: Scenario,
    pub found: Found,
    /// Every point run, in the order run.
    pub points: Vec<Point>,
    pub wall: Duration,
}

impl Plan {
    /// The point of value `x`.
    pub fn point(&self, x: u64) -> Option<&Point> {
        self.points.iter().find(|p| p.x == x)
    }

    /// The points by value.
    pub fn sorted(&self) -> Vec<&Point> {
        let mut v: Vec<&Point> = self.points.iter().collect();
        v.sort_by_key(|p| p.x);
        v
    }
}

/// `ringlab-sim plan`: returns whether an answer was found.
pub fn plan_cmd(args: &PlanArgs, sets: &[Override], engine: Option<Engine>) -> Result<bool> {
    let (setup, sc, search) = prepare(args, sets, engine)?;
    eprintln!(
        "plan {}: --find {} from {}, {} seed(s) per point, {} variant(s), {} engine",
        sc.name,
        setup.find.as_str(),
        search.start,
        setup.seeds.len(),
        1 + setup.survive.len(),
        setup.engine.as_str()
    );
    let wall = Instant::now();
    let mut points: Vec<Point> = Vec::new();
    let found = search.run(|x| {
        let p = setup.evaluate(x)?;
        eprintln!("{}", report::progress_line(&setup, &p));
        let pass = p.pass;
        points.push(p);
        Ok(pass)
    })?;
    let plan = Plan {
        setup,
        scenario: sc,
        found,
        points,
        wall: wall.elapsed(),
    };
    let text = report::markdown(&plan);
    let out = &plan.setup.out;
    std::fs::write(out.join("plan.md"), &text)
        .with_context(|| format!("writing {}", out.join("plan.md").display()))?;
    page::write(&plan, &text)?;
    print!("{text}");
    eprintln!("plan: {}", out.join("plan.html").display());
    Ok(plan.found.answer.is_some())
}

/// Reads and checks every argument, writes the survive scenario, and
/// gives the setup, the scenario as given and the search.
fn prepare(
    args: &PlanArgs,
    sets: &[Override],
    engine: Option<Engine>,
) -> Result<(Setup, Scenario, Search)> {
    let slos: Vec<Slo> = args
        .slo
        .iter()
        .map(|s| Slo::parse(s))
        .collect::<Result<_>>()?;
    let survive: Vec<Survive> = args
        .survive
        .iter()
        .map(|s| Survive::parse(s))
        .collect::<Result<_>>()?;
    if args.seeds == 0 {
        bail!("--seeds 0: a point needs at least one seed");
    }
    let text = std::fs::read_to_string(&args.scenario)
        .with_context(|| format!("reading {}", args.scenario.display()))?;
    let sc = scenario::parse_with(&text, &args.scenario.display().to_string(), sets)?;
    for s in &slos {
        s.check(&sc)?;
    }
    let rate_phase = match &args.phase {
        Some(p) if !sc.phases.iter().any(|ph| &ph.name == p) => bail!(
            "--phase {p:?}: the scenario has no such phase (its phases: {})",
            sc.phases
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(p) => p.clone(),
        None => sc.phases[0].name.clone(),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(format!("plan-{}", sc.name)));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let fault_at = parse_duration(&args.fault_at)
        .map_err(|e| anyhow::anyhow!("--fault-at {:?}: {e}", args.fault_at))?;
    let survive_file = if survive.is_empty() {
        None
    } else {
        Some(write_survive(&out, &text, &sc, fault_at)?)
    };
    let setup = Setup {
        path: args.scenario.clone(),
        text,
        survive_file,
        survive,
        fault_at,
        sets: sets.to_vec(),
        engine: engine.unwrap_or(Engine::Fast),
        seeds: (1..=args.seeds).collect(),
        slos,
        find: args.find,
        rate_phase,
        jobs: default_jobs(args.jobs),
        out,
    };
    let search = search_of(args, &sc, &setup)?;
    Ok((setup, sc, search))
}

/// The scenario with the survive fault appended, and the fault's position
/// for `--set fault.K.kill=...`.
fn write_survive(
    out: &std::path::Path,
    text: &str,
    sc: &Scenario,
    at: Duration,
) -> Result<(PathBuf, usize)> {
    if at >= sc.duration() {
        bail!(
            "--fault-at {}: the run lasts {}; the fault must come before it ends",
            scenario::units::format_duration(at),
            scenario::units::format_duration(sc.duration())
        );
    }
    let path = out.join("survive.toml");
    let block = format!(
        "\n\n# Appended by `ringlab-sim plan --survive`: each point sets the node.\n\
         [[fault]]\nat = \"{}\"\nkill = \"node-1\"\n",
        scenario::units::format_duration(at)
    );
    std::fs::write(&path, format!("{text}{block}"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok((path, sc.faults.len() + 1))
}

/// The search's settings for `--find`, from the arguments and the
/// scenario.
fn search_of(args: &PlanArgs, sc: &Scenario, setup: &Setup) -> Result<Search> {
    let kills = setup.survive.iter().filter_map(|s| match s {
        Survive::Kill(n) => Some(*n),
        Survive::KillBusiest => None,
    });
    let (goal, steps, own, lo, hi) = match args.find {
        Find::Nodes => {
            let lo = kills.max().unwrap_or(1).max(sc.cluster.replication.n);
            (
                Goal::Smallest,
                Steps::Additive,
                u64::from(sc.cluster.nodes),
                lo,
                1024,
            )
        }
        Find::Cores => (
            Goal::Smallest,
            Steps::Additive,
            u64::from(sc.capacity.cores),
            1,
            1024,
        ),
        Find::Rate => {
            let phase = sc.phases.iter().find(|p| p.name == setup.rate_phase);
            let r = match phase.map(|p| p.rate) {
                Some(Rate::Constant(r)) => r,
                Some(Rate::Ramp { to, .. }) => to,
                None => 1000.0,
            };
            (
                Goal::Largest,
                Steps::Multiplicative,
                r.round().max(1.0) as u64,
                1,
                1_000_000_000,
            )
        }
    };
    let lo = args.min.map_or(u64::from(lo), |m| m.max(u64::from(lo)));
    let hi = args.max.unwrap_or(hi);
    if lo > hi {
        bail!("--min {lo} is above --max {hi}");
    }
    let start = args.start.unwrap_or(own).clamp(lo, hi);
    let resolution = match (&args.find, args.resolution) {
        (_, Some(0)) => bail!("--resolution 0: expected a step of at least 1"),
        (Find::Rate, r) => r.unwrap_or((start / 100).max(1)),
        (_, Some(_)) => bail!("--resolution applies to --find rate (nodes and cores step by one)"),
        (_, None) => 1,
    };
    Ok(Search {
        goal,
        steps,
        start,
        lo,
        hi,
        resolution,
        max_points: args.max_points.max(1),
    })
}
