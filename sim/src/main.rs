//! `ringlab-sim`: run scenario files in the deterministic simulator.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ringlab_sim::runner::Engine;

#[derive(Parser)]
#[command(
    name = "ringlab-sim",
    version,
    about = "Run ringlab scenario files in the deterministic cluster simulator",
    long_about = "Run ringlab scenario files in the deterministic cluster simulator.\n\n\
        The same scenario, seed and binary give byte-identical report files.\n\
        Build and run it with the simulator flags through the cargo alias:\n  \
        cargo sim run scenarios/quickstart.toml",
    after_help = "Examples:\n  \
        ringlab-sim run scenarios/quickstart.toml\n  \
        ringlab-sim run scenarios/node-death.toml --seed 42 --out out/nd-42\n  \
        ringlab-sim sweep scenarios/partition.toml --seeds 1..20 --jobs 2\n  \
        ringlab-sim check scenarios/*.toml\n  \
        ringlab-sim compare reports/quickstart out/quickstart"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario once and write its report.
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
        /// The simulation engine (default: madsim under `cargo sim`, fast in
        /// the plain build).
        #[arg(long, value_enum)]
        engine: Option<Engine>,
    },
    /// Run one scenario over a range of seeds, one process per seed, and
    /// aggregate the results across seeds.
    #[command(
        after_help = "Example:\n  ringlab-sim sweep scenarios/partition.toml --seeds 1..20 --jobs 2"
    )]
    Sweep {
        scenario: PathBuf,
        /// Seeds as A..B (B excluded) or A..=B.
        #[arg(long)]
        seeds: String,
        /// Processes at a time (default: the number of cores).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Directory for the per-seed reports and the aggregate.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The simulation engine for every seed.
        #[arg(long, value_enum)]
        engine: Option<Engine>,
    },
    /// Run each scenario with its own seed and check its [expect] lines;
    /// exits non-zero if any expectation fails.
    #[command(after_help = "Example:\n  ringlab-sim check scenarios/*.toml --out reports")]
    Check {
        scenarios: Vec<PathBuf>,
        /// Processes at a time (default: the number of cores).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Where the reports go: <out>/<scenario name>/ (default: out).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The simulation engine for every scenario.
        #[arg(long, value_enum)]
        engine: Option<Engine>,
    },
    /// Compare two report directories (the CI gate on latency histograms).
    Compare(ringlab_loadgen::compare::CompareArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            scenario,
            seed,
            out,
            quiet,
            engine,
        } => ringlab_sim::runner::run_cmd(&scenario, seed, out, quiet, engine).map(|()| true),
        Command::Sweep {
            scenario,
            seeds,
            jobs,
            out,
            engine,
        } => ringlab_sim::runner::sweep_cmd(&scenario, &seeds, jobs, out, engine),
        Command::Check {
            scenarios,
            jobs,
            out,
            engine,
        } => ringlab_sim::runner::check_cmd(&scenarios, jobs, out, engine),
        Command::Compare(args) => ringlab_loadgen::compare::run(args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ringlab-sim: {e:#}");
            ExitCode::from(2)
        }
    }
}
