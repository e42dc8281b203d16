//! `ringlab-sim estimate`: the back-of-the-envelope estimate an interview
//! starts from, with every calculation shown, turned into a scenario that
//! `plan` answers by experiment.
//!
//! # Map
//! - [`input`]: the estimate file (`name`, `description`, `[estimate]`),
//!   read and checked, each problem naming its key.
//! - [`calc`]: the arithmetic (pure) and the table's rows with their
//!   calculations.
//! - [`scenario`]: the generated scenario (average, peak, spike) and the
//!   assumptions it takes from `scenarios/capacity-plan.toml`.

pub mod calc;
pub mod input;
pub mod scenario;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ringlab_loadgen::scenario as schema;

pub use calc::Figures;
pub use input::{Estimate, EstimateError};

/// `estimate`'s arguments.
#[derive(Debug, clap::Args)]
pub struct EstimateArgs {
    /// The estimate file (a `[estimate]` table; see docs/PLAN.md).
    pub file: PathBuf,
    /// Where the generated scenario goes (default:
    /// out/estimate-<name>/scenario.toml, beside estimate.md; a directory:
    /// scenario.toml in it).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Everything `estimate` produces from one file.
pub struct Output {
    pub estimate: Estimate,
    pub figures: Figures,
    /// The table as aligned text.
    pub table: String,
    /// The generated scenario's text (valid: checked by the schema).
    pub scenario: String,
    /// The plan command that answers it, for the scenario at `path`.
    pub plan_command: String,
}

/// Reads, computes and generates, with no file written: what the command
/// prints and writes, and what the tests check.
pub fn build(text: &str, file: &str, scenario_path: &Path) -> Result<Output> {
    let estimate = input::parse(text, file)?;
    let figures = Figures::of(&estimate);
    let rows = calc::rows(&estimate, &figures);
    let scenario = scenario::text(&estimate, &figures, file);
    // The generated file must be one the simulator accepts: figures
    // beyond what a scenario allows (a rate, a key count) are refused
    // here, with the scenario's own message, before anything is written.
    schema::parse(&scenario, &scenario_path.display().to_string())
        .with_context(|| format!("{file}: the scenario this estimate makes would be invalid"))?;
    let plan_command = format!(
        "ringlab-sim plan {} {}",
        scenario_path.display(),
        scenario::plan_args(&estimate, &figures)
    );
    Ok(Output {
        table: calc::text(&rows),
        estimate,
        figures,
        scenario,
        plan_command,
    })
}

/// `ringlab-sim estimate FILE [--out SCENARIO]`.
pub fn estimate_cmd(args: &EstimateArgs) -> Result<bool> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let file = args.file.display().to_string();
    // The name decides the default path; read it first.
    let name = input::parse(&text, &file)?.name;
    let path = match args.out.clone() {
        // A directory given as --out holds the scenario, like the default.
        Some(dir) if dir.is_dir() => dir.join("scenario.toml"),
        Some(file) => file,
        None => PathBuf::from("out")
            .join(format!("estimate-{name}"))
            .join("scenario.toml"),
    };
    let out = build(&text, &file, &path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, &out.scenario).with_context(|| format!("writing {}", path.display()))?;
    let rows = calc::rows(&out.estimate, &out.figures);
    let md = format!(
        "# Estimate: {}\n\nFrom `{file}`.\n\n{}\nScenario: `{}`. Next:\n\n```sh\n{}\n```\n",
        out.estimate.name,
        calc::table(&rows),
        path.display(),
        out.plan_command
    );
    let md_path = path.with_file_name("estimate.md");
    std::fs::write(&md_path, md).with_context(|| format!("writing {}", md_path.display()))?;
    println!("estimate {}:\n", out.estimate.name);
    print!("{}", out.table);
    println!("\nscenario: {} (and {})", path.display(), md_path.display());
    println!(
        "next, the plan that answers it by experiment:\n  {}",
        out.plan_command
    );
    Ok(true)
}
