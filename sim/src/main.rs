//! `ringlab-sim`: run scenario files in the deterministic simulator.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ringlab_loadgen::scenario::Override;
use ringlab_sim::runner::Engine;

// A simulated request allocates a few small buffers (arguments, replies,
// replica answers) and frees them microseconds later; mimalloc serves that
// pattern with fewer instructions than glibc's malloc (1.3% of the fast
// engine's total on a 2-second cut of benches/sim-5node.toml, non-LTO
// build; docs/PERFORMANCE.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ringlab-sim",
    version,
    about = "Run ringlab scenario files in the deterministic cluster simulator",
    long_about = "Run ringlab scenario files in the deterministic cluster simulator.\n\n\
        The same scenario, seed and binary give byte-identical report files.\n\
        Build and run it with the simulator flags through the cargo alias:\n  \
        cargo sim run scenarios/quickstart.toml\n\n\
        Exit status: 0 when everything held; 1 when an expectation failed (run,\n\
        check, sweep), a scenario file is invalid (check --dry-run) or compare\n\
        found a regression; 2 when nothing could be decided (bad arguments, an\n\
        unreadable file, a simulation that broke, compare unable to judge).",
    after_help = "Examples:\n  \
        ringlab-sim run scenarios/quickstart.toml\n  \
        ringlab-sim run scenarios/node-death.toml --seed 42 --out out/nd-42\n  \
        ringlab-sim run scenarios/capacity-knee.toml --set cluster.nodes=5 --set phase.load-10-50.rate=2000\n  \
        ringlab-sim sweep scenarios/partition.toml --seeds 1..=20 --jobs 2\n  \
        ringlab-sim check scenarios/*.toml\n  \
        ringlab-sim check --dry-run scenarios/*.toml\n  \
        ringlab-sim estimate scenarios/estimates/photo-feed.toml\n  \
        ringlab-sim compare reports/quickstart out/quickstart"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario once and write its report; exits 1 if an
    /// expectation fails.
    #[command(
        after_help = "Example:\n  ringlab-sim run scenarios/quickstart.toml --seed 7 --out out/qs"
    )]
    Run {
        /// The scenario file.
        scenario: PathBuf,
        /// Seed (default: the scenario's own `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Report directory (default: out/<scenario name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
        /// Replace the scenario's faults by a random schedule drawn from
        /// the seed (kills and restarts, partitions, cuts, slow nodes,
        /// latency, loss; at most N-W replicas down at once) and expect no
        /// lost acknowledged write. The schedule goes to nemesis.txt.
        #[arg(long)]
        nemesis: bool,
        /// The nemesis with clock-skew episodes too (implies --nemesis).
        /// Last writer wins trusts clocks: expect lost writes.
        #[arg(long)]
        nemesis_skew: bool,
        #[command(flatten)]
        sim: SimArgs,
    },
    /// Run one scenario over a range of seeds, one process per seed, and
    /// aggregate the results across seeds.
    #[command(
        after_help = "Example:\n  ringlab-sim sweep scenarios/partition.toml --seeds 1..=20 --jobs 2"
    )]
    Sweep {
        scenario: PathBuf,
        /// Seeds, both ends included: 1..=20 or 1-20 (20 seeds), a single
        /// seed, or a comma list (1-4,9). A..B is refused as ambiguous.
        #[arg(long)]
        seeds: String,
        /// Run only shard K of N of the seeds (every N-th from the K-th), for
        /// job arrays; `merge` then joins the shards' directories.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// Processes at a time (default: the number of cores).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Directory for the per-seed reports and the aggregate.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Each seed under its own random fault schedule (see `run
        /// --nemesis`); a seed that loses an acknowledged write fails and
        /// prints its schedule.
        #[arg(long)]
        nemesis: bool,
        /// Each seed's schedule with clock-skew episodes too (implies
        /// --nemesis). Last writer wins trusts clocks: expect lost writes.
        #[arg(long)]
        nemesis_skew: bool,
        #[command(flatten)]
        sim: SimArgs,
    },
    /// Join the directories of a sweep's shards (`sweep --shard K/N`) into
    /// one sweep: the same files, byte for byte, as the sweep run whole.
    #[command(after_help = "Example (a job array of 4):\n  \
        ringlab-sim sweep s.toml --seeds 1-100 --shard $TASK/4 --out shards/$TASK\n  \
        ringlab-sim merge --out sweep shards/1 shards/2 shards/3 shards/4")]
    Merge {
        /// The shards' directories.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Where the merged sweep goes (may be one of the shards' directories).
        #[arg(long)]
        out: PathBuf,
    },
    /// Run each scenario with its own seed and check its [expect] lines;
    /// exits 1 if any expectation fails.
    #[command(
        after_help = "Examples:\n  ringlab-sim check scenarios/*.toml --out reports\n  \
        ringlab-sim check --dry-run scenarios/*.toml"
    )]
    Check {
        scenarios: Vec<PathBuf>,
        /// Only validate the files (every problem, with file, line and
        /// key); simulate nothing. Exits 1 if a file is invalid.
        #[arg(long)]
        dry_run: bool,
        /// Processes at a time (default: the number of cores).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Where the reports go: <out>/<scenario name>/ (default: out).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        sim: SimArgs,
    },
    /// Search for the smallest cluster (or the largest load) that meets
    /// SLOs in every seed, healthy and under a fault; exits 1 when no
    /// point tried meets them.
    #[command(after_help = "Examples:\n  \
        ringlab-sim plan scenarios/capacity-plan.toml --find nodes --slo 'p99<=5ms' \\\n      \
        --slo 'availability>=99.99%' --survive 'kill busiest'\n  \
        ringlab-sim plan scenarios/quickstart.toml --find rate --slo 'p99<=2ms' --seeds 3\n\n\
        See docs/PLAN.md for what it prints and how to read the bottleneck.")]
    Plan {
        #[command(flatten)]
        args: ringlab_sim::plan::PlanArgs,
        #[command(flatten)]
        sim: SimArgs,
    },
    /// Print an interview's back-of-the-envelope estimate (QPS, storage,
    /// bandwidth, memory), each figure with its calculation, and write the
    /// scenario that `plan` answers, with the plan command to run next.
    #[command(after_help = "Example:\n  \
        ringlab-sim estimate scenarios/estimates/photo-feed.toml\n\n\
        See docs/PLAN.md, `estimate`, for the file's keys.")]
    Estimate(ringlab_sim::estimate::EstimateArgs),
    /// Fit the capacity model to a real ringlab-node on this machine and
    /// print the simulated figures against the real ones
    #[command(after_help = "Example (release binaries side by side):\n  \
        cargo build --release --workspace && target/release/ringlab-sim calibrate\n\n\
        See docs/PLAN.md, `calibrate`, for the steps and how to read the table.")]
    Calibrate(ringlab_sim::calibrate::CalibrateArgs),
    /// Compare two report directories (the CI gate on latency histograms).
    Compare(ringlab_loadgen::compare::CompareArgs),
}

/// What `run`, `sweep`, `check` and `plan` share: scenario changes and the engine.
#[derive(clap::Args)]
struct SimArgs {
    /// Change a scenario key (in every scenario given) as if the file said
    /// so (repeatable): seed=3, cluster.nodes=8, phase.steady.rate=2000 (a
    /// phase by name), capacity.op_cost=25us.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<Override>,
    /// The simulation engine (default: fast; madsim only in the build
    /// with `--cfg madsim`, `cargo sim`; a scenario's `engine` key also
    /// chooses).
    #[arg(long, value_enum)]
    engine: Option<Engine>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            scenario,
            seed,
            out,
            quiet,
            nemesis,
            nemesis_skew,
            sim,
        } => {
            let nemesis = ringlab_sim::nemesis::Mode::from_flags(nemesis, nemesis_skew);
            ringlab_sim::runner::run_cmd(&scenario, seed, out, quiet, &sim.set, sim.engine, nemesis)
        }
        Command::Sweep {
            scenario,
            seeds,
            shard,
            jobs,
            out,
            nemesis,
            nemesis_skew,
            sim,
        } => {
            let shard = shard.as_deref();
            let each = ringlab_sim::sweep::Each {
                sets: &sim.set,
                engine: sim.engine,
                nemesis: ringlab_sim::nemesis::Mode::from_flags(nemesis, nemesis_skew),
            };
            ringlab_sim::sweep::sweep_cmd(&scenario, &seeds, shard, jobs, out, each)
        }
        Command::Merge { shards, out } => ringlab_sim::sweep::merge_cmd(&shards, &out),
        Command::Check {
            scenarios,
            dry_run: true,
            sim,
            ..
        } => ringlab_sim::runner::check_dry_run(&scenarios, &sim.set),
        Command::Check {
            scenarios,
            jobs,
            out,
            dry_run: false,
            sim,
        } => ringlab_sim::runner::check_cmd(&scenarios, jobs, out, &sim.set, sim.engine),
        Command::Plan { args, sim } => ringlab_sim::plan::plan_cmd(&args, &sim.set, sim.engine),
        Command::Estimate(args) => ringlab_sim::estimate::estimate_cmd(&args),
        Command::Calibrate(args) => ringlab_sim::calibrate::calibrate_cmd(&args),
        Command::Compare(args) => ringlab_loadgen::compare::run(args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(ringlab_sim::runner::EXIT_FAILED),
        Err(e) => {
            eprintln!("ringlab-sim: {e:#}");
            ExitCode::from(ringlab_sim::runner::EXIT_ERROR)
        }
    }
}
