//! `ringlab-sim calibrate`: fit the simulator's capacity model to a real
//! `ringlab-node` on this machine, then check the fit.
//!
//! 1. **Costs.** A node on loopback serves GET-only and SET-only runs of
//!    `ringlab-load` at two value sizes, offered more than it serves; its
//!    CPU time per operation (utilization law: busy time over completions)
//!    gives each kind's cost as a line in the value's size.
//! 2. **The ladder, real.** The workload (one one-phase scenario per
//!    rate, from a tenth of the fitted capacity to past it) runs against
//!    the node.
//! 3. **Network.** The round trip the simulated network gets is fitted to
//!    the real p50s at or below 60% load (see [`fit::middle_p50`]).
//! 4. **Agreement.** The same scenarios run in the fast engine; the table
//!    puts throughput, p50, p99 and the node's busy share side by side, and
//!    the verdict compares saturation throughput (within 15%) and p50 at or
//!    below 60% load (within 25%).
//!
//! # Map
//! - [`fit`]: the arithmetic and the tables (pure).
//! - [`real`]: the node process, the load runs and CPU time.

pub mod fit;
pub mod real;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ringlab_core::units::format_duration;
use ringlab_loadgen::report::Summary;

use fit::{Capacity, CostSample, Figures, Point};
use ringlab_loadgen::workload::OpKind;

/// `calibrate`'s arguments.
#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// `ringlab-node` to run (default: beside this executable).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
    /// `ringlab-load` to drive it with (default: beside this executable).
    #[arg(long)]
    pub load_bin: Option<PathBuf>,
    /// Loopback port of the node.
    #[arg(long, default_value_t = 17_600)]
    pub port: u16,
    /// Length of each run (each cost run and each rung, real and simulated).
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Share of GETs in the agreement workload (the rest are SETs).
    #[arg(long, default_value_t = 0.9)]
    pub get_share: f64,
    /// Value size of the agreement workload, bytes.
    #[arg(long, default_value_t = 100)]
    pub value_bytes: u64,
    /// The larger value size of the cost runs, bytes (the smaller one is
    /// `--value-bytes`).
    #[arg(long, default_value_t = 4096)]
    pub large_value_bytes: u64,
    /// Rate of the cost runs, requests per second. CPU time per operation
    /// falls as load rises (a wake-up serves more requests), and a plan
    /// needs it where the node is busy, so by default the cost runs offer
    /// more than one core of a node serves: the cost is then the busy time
    /// over the operations served at saturation (the utilization law).
    #[arg(long, default_value_t = 150_000)]
    pub cost_rate: u64,
    /// Distinct keys.
    #[arg(long, default_value_t = 10_000)]
    pub keys: u64,
    /// The rungs, as fractions of the fitted capacity.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.1,0.2,0.4,0.6,0.8,1.0,1.2,1.5"
    )]
    pub loads: Vec<f64>,
    /// Let the scheduler place the node and the load generator (by default
    /// they are kept on different CPUs).
    #[arg(long)]
    pub no_pin: bool,
    /// Where the scenarios, reports and `calibration.md` go.
    #[arg(long, default_value = "out/calibrate")]
    pub out: PathBuf,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    ringlab_core::units::parse_duration(s).map_err(|e| e.to_string())
}

/// The workload of one run, written as a scenario both sides read.
#[derive(Debug, Clone, Copy)]
struct Workload {
    rate: u64,
    get_share: f64,
    value_bytes: u64,
}

/// `ringlab-sim calibrate`. Returns whether both targets held.
pub fn calibrate_cmd(args: &CalibrateArgs) -> Result<bool> {
    if !(0.0..=1.0).contains(&args.get_share) {
        bail!("--get-share must be in 0..=1, got {}", args.get_share);
    }
    if args.large_value_bytes <= args.value_bytes {
        bail!("--large-value-bytes must be larger than --value-bytes");
    }
    let mut bins = real::Binaries::find(args.node_bin.clone(), args.load_bin.clone())?;
    let placement = match (args.no_pin, bins.pin_apart()) {
        (true, _) => "left to the scheduler (--no-pin)".to_string(),
        (false, Ok(())) => {
            let (node, load) = bins.pin.clone().unwrap_or_default();
            format!("node on CPU {node}, load generator on CPU {load} (taskset)")
        }
        (false, Err(why)) => why,
    };
    if args.no_pin {
        bins.pin = None;
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let node = real::Node::start(&bins, addr, &args.out.join("node.log"))?;

    eprintln!("calibrate: cost runs at {}/s", args.cost_rate);
    let samples = cost_runs(args, &bins, &node)?;
    let costs = fit::fit_costs(&samples).map_err(anyhow::Error::msg)?;
    let cap = Capacity::of(&costs, args.get_share, args.value_bytes);
    let service = cap.mean_service_us(args.get_share, args.value_bytes, KEY_BYTES);
    let rates = fit::ladder(1e6 / service, &args.loads);

    eprintln!("calibrate: real rungs at {rates:?} requests/s");
    let mut real = Vec::new();
    for &rate in &rates {
        let w = workload(args, rate);
        real.push(run_real(args, &bins, &node, w)?);
    }
    drop(node);
    let rungs = fit::moderate(&real);
    let p50 = fit::middle_p50(&real, &rungs)
        .context("no rung at or below 60% of the real saturation had a successful request")?;
    let one_way = fit::one_way_latency_us(p50, service);

    eprintln!("calibrate: simulated rungs");
    let mut points = Vec::new();
    for (&rate, real) in rates.iter().zip(real) {
        let w = workload(args, rate);
        let sim = run_sim(args, &cap, one_way, w, service)?;
        points.push(Point { rate, real, sim });
    }
    let verdict = fit::judge(&points);
    let text = report(
        args,
        &Outcome {
            placement,
            samples,
            costs,
            cap,
            one_way_us: one_way,
            points,
            verdict: verdict.clone(),
        },
    );
    print!("{text}");
    let md = args.out.join("calibration.md");
    std::fs::write(&md, &text).with_context(|| format!("writing {}", md.display()))?;
    let fitted = args.out.join("calibrated.toml");
    let at_60 = ((1e6 / service) * 0.6 / 100.0).round() as u64 * 100;
    std::fs::write(
        &fitted,
        scenario_text(&cap, one_way, workload(args, at_60), args),
    )
    .with_context(|| format!("writing {}", fitted.display()))?;
    println!(
        "\n{} and {} (the fitted scenario at 60% load) written",
        md.display(),
        fitted.display()
    );
    Ok(verdict.saturation_ok() && verdict.p50_ok())
}

/// ringlab-load's key names: `key:` and 12 digits.
const KEY_BYTES: u64 = 16;

fn workload(args: &CalibrateArgs, rate: u64) -> Workload {
    Workload {
        rate,
        get_share: args.get_share,
        value_bytes: args.value_bytes,
    }
}

/// SET then GET at each value size (the SETs fill the keys the GETs read).
fn cost_runs(
    args: &CalibrateArgs,
    bins: &real::Binaries,
    node: &real::Node,
) -> Result<Vec<CostSample>> {
    let mut samples = Vec::new();
    for value_bytes in [args.value_bytes, args.large_value_bytes] {
        for kind in [OpKind::Set, OpKind::Get] {
            let w = Workload {
                rate: args.cost_rate,
                get_share: if kind == OpKind::Get { 1.0 } else { 0.0 },
                value_bytes,
            };
            let name = format!("cost-{}-{value_bytes}", kind.as_str());
            let (summary, cpu_s) = drive_scenario(args, bins, node, &name, w)?;
            samples.push(CostSample {
                kind,
                value_bytes,
                ops: summary.overall.all.ok,
                cpu_s,
            });
        }
    }
    Ok(samples)
}

fn drive_scenario(
    args: &CalibrateArgs,
    bins: &real::Binaries,
    node: &real::Node,
    name: &str,
    w: Workload,
) -> Result<(Summary, f64)> {
    let dir = args.out.join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("scenario.toml");
    // The network and capacity keys do not matter to the real run.
    let cap = Capacity {
        op_cost_us: 1.0,
        per_kb_cost_us: 0.0,
    };
    std::fs::write(&path, scenario_text(&cap, 1.0, w, args))
        .with_context(|| format!("writing {}", path.display()))?;
    real::drive(bins, node, &path, &dir.join("real"))
}

fn run_real(
    args: &CalibrateArgs,
    bins: &real::Binaries,
    node: &real::Node,
    w: Workload,
) -> Result<Figures> {
    let (s, cpu_s) = drive_scenario(args, bins, node, &format!("rate-{}", w.rate), w)?;
    let secs = args.duration.as_secs_f64();
    Ok(figures(&s, cpu_s / secs))
}

fn run_sim(
    args: &CalibrateArgs,
    cap: &Capacity,
    one_way_us: f64,
    w: Workload,
    service_us: f64,
) -> Result<Figures> {
    let dir = args.out.join(format!("rate-{}", w.rate));
    let path = dir.join("simulated.toml");
    std::fs::write(&path, scenario_text(cap, one_way_us, w, args))
        .with_context(|| format!("writing {}", path.display()))?;
    let out = dir.join("sim");
    crate::runner::run_cmd(
        &path,
        None,
        Some(out.clone()),
        true,
        &[],
        Some(crate::runner::Engine::Fast),
        crate::nemesis::Mode::Off,
    )?;
    let file = out.join("summary.json");
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let s: Summary =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
    // The simulated node is busy for each operation it served.
    let busy = (s.overall.all.throughput_per_s * service_us / 1e6).min(1.0);
    Ok(figures(&s, busy))
}

fn figures(s: &Summary, busy: f64) -> Figures {
    let all = &s.overall.all;
    Figures {
        throughput: all.throughput_per_s,
        availability: all.availability,
        p50_us: all.latency_us.p50,
        p99_us: all.latency_us.p99,
        busy,
    }
}

/// A one-node, one-phase scenario of `w` with the fitted capacity and
/// network. The phase has one client machine with 50 connections, a 1 s
/// timeout and 10,000 requests in flight at most: `ringlab-load`'s
/// defaults, so both sides offer the same load the same way.
fn scenario_text(cap: &Capacity, one_way_us: f64, w: Workload, args: &CalibrateArgs) -> String {
    let us = |x: f64| format_duration(Duration::from_nanos((x * 1000.0).round() as u64));
    format!(
        r#"# Written by `ringlab-sim calibrate`: the capacity and network fitted
# to a real ringlab-node on this machine.
name = "calibrated"
description = "One node as measured on this machine by ringlab-sim calibrate."
seed = 1
engine = "fast"

[cluster]
nodes = 1
replication = {{ n = 1, r = 1, w = 1 }}
maxmemory = "1GB"

[capacity]
cores = 1
op_cost = "{op_cost}"
per_kb_cost = "{per_kb}"
queue_limit = 100000

[network]
latency = "{latency}"

[[phase]]
name = "load"
duration = "{duration}"
rate = {rate}
keys = {{ count = {keys}, distribution = "uniform" }}
mix = {{ get = {get}, set = {set} }}
value_size = "{value}B"
timeout = "1s"
clients = 1
connections = 50
max_in_flight = 10000
"#,
        op_cost = us(cap.op_cost_us),
        per_kb = us(cap.per_kb_cost_us),
        latency = us(one_way_us),
        duration = format_duration(args.duration),
        rate = w.rate,
        keys = args.keys,
        get = w.get_share,
        set = 1.0 - w.get_share,
        value = w.value_bytes,
    )
}

/// What a calibration found, for its report.
struct Outcome {
    placement: String,
    samples: Vec<CostSample>,
    costs: fit::Costs,
    cap: Capacity,
    one_way_us: f64,
    points: Vec<Point>,
    verdict: fit::Verdict,
}

fn report(args: &CalibrateArgs, o: &Outcome) -> String {
    format!(
        "# Calibration: ringlab-node on this machine against the simulator\n\n\
         Placement: {placement}.\n\n\
         ## CPU time per operation ({cost_rate}/s, {secs} s runs)\n\n{costs}\n\
         ## Fitted model\n\n\
         `[capacity]` cores = 1, op_cost = {op:.2} us, per_kb_cost = {kb:.3} us \
         (for {get:.0}% GETs of {value} B values); `[network]` latency = {lat:.1} us one way \
         (fitted to the geometric middle of the real p50s at or below 60% load).\n\n\
         ## Simulated against real\n\n{table}\n{verdict}",
        cost_rate = args.cost_rate,
        secs = args.duration.as_secs_f64(),
        placement = o.placement,
        costs = fit::costs_table(&o.samples, &o.costs),
        op = o.cap.op_cost_us,
        kb = o.cap.per_kb_cost_us,
        get = args.get_share * 100.0,
        value = args.value_bytes,
        lat = o.one_way_us,
        table = fit::ladder_table(&o.points),
        verdict = fit::verdict_text(&o.verdict),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_scenario_is_valid_and_carries_the_fit() {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            a: CalibrateArgs,
        }
        let args = Wrap::parse_from(["x"]).a;
        let cap = Capacity {
            op_cost_us: 9.25,
            per_kb_cost_us: 0.5,
        };
        let text = scenario_text(&cap, 21.5, workload(&args, 42_000), &args);
        let sc = ringlab_loadgen::scenario::parse(&text, "calibrated.toml")
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(sc.capacity.cores, 1);
        assert_eq!(sc.capacity.per_kb_cost, Duration::from_nanos(500));
        assert_eq!(sc.phases[0].connections, 50);
        assert!(text.contains("op_cost = \"9.25us\""), "{text}");
        assert!(text.contains("latency = \"21.5us\""), "{text}");
    }
}
