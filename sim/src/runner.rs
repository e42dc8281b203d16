//! The runner: `run` (one simulation, its report), `sweep` (many seeds, one
//! process each) and `check` (scenarios against their expectations).
//!
//! Sweeps and checks run every simulation in its own child process (this
//! same binary's `run --quiet`): madsim seeds per process state (`select!`'s
//! branch counter, std's hash keys per thread), so one seed per process is
//! what makes every run byte-identical to a replay with `run --seed`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use ringlab_loadgen::report::Summary;
use ringlab_loadgen::scenario::{self, Scenario};

use ringlab_loadgen::scenario::check::{self, Verdict};

use crate::expect;

/// Which engine runs a simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// The discrete-event loop over the pure node machines (`fast`).
    Fast,
    /// The real async node and driver in a madsim runtime (`cargo sim`).
    Madsim,
}

impl Engine {
    /// The default: madsim in the madsim build (until the switch), fast in
    /// the plain build, which has no madsim.
    pub const DEFAULT: Engine = if cfg!(madsim) {
        Engine::Madsim
    } else {
        Engine::Fast
    };

    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Fast => "fast",
            Engine::Madsim => "madsim",
        }
    }
}

/// `ringlab-sim run`.
pub fn run_cmd(
    path: &Path,
    seed: Option<u64>,
    out: Option<PathBuf>,
    quiet: bool,
    engine: Option<Engine>,
) -> Result<()> {
    let sc = scenario::load(path)?;
    let seed = seed.unwrap_or(sc.seed);
    let out = out.unwrap_or_else(|| PathBuf::from("out").join(&sc.name));
    let named = match sc.engine.as_deref() {
        Some("fast") => Engine::Fast,
        Some("madsim") => Engine::Madsim,
        _ => Engine::DEFAULT,
    };
    let engine = engine.unwrap_or(named);
    simulate_and_report(&sc, seed, &out, quiet, engine)
}

/// A finished simulation: the record and the requests it scheduled.
struct Simulated {
    record: ringlab_loadgen::recorder::RunRecord,
    requests: u64,
}

/// Progress lines on stderr when it is not a terminal: one every few wall
/// seconds with model time, requests so far, rate and time left.
struct Lines {
    name: String,
    wall: std::time::Instant,
    last: std::time::Instant,
}

impl crate::fast::Progress for Lines {
    fn at(&mut self, elapsed_us: u64, total_us: u64, requests: u64) {
        if self.last.elapsed() < std::time::Duration::from_secs(3) {
            return;
        }
        self.last = std::time::Instant::now();
        let wall = self.wall.elapsed().as_secs_f64().max(1e-9);
        let done = elapsed_us as f64 / total_us.max(1) as f64;
        let left = if done > 0.0 { wall / done - wall } else { 0.0 };
        eprintln!(
            "{}: model {:.1}/{:.1} s, {} requests, {:.0} requests per wall second, about {:.0} s left",
            self.name,
            elapsed_us as f64 / 1e6,
            total_us as f64 / 1e6,
            requests,
            requests as f64 / wall,
            left.max(0.0),
        );
    }
}

/// A progress bar on a terminal.
struct Bar(indicatif::ProgressBar);

impl crate::fast::Progress for Bar {
    fn at(&mut self, elapsed_us: u64, _total_us: u64, _requests: u64) {
        self.0.set_position(elapsed_us / 1_000_000);
    }
}

fn new_bar(sc: &Scenario, seed: u64) -> indicatif::ProgressBar {
    let total: std::time::Duration = sc.phases.iter().map(|p| p.duration).sum();
    let bar = indicatif::ProgressBar::new(total.as_secs().max(1));
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:40}] {pos}/{len} model s  {elapsed} wall",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(format!("{} seed {seed}", sc.name));
    bar
}

/// Runs the fast engine, with progress unless `quiet`.
fn simulate_fast(sc: &Scenario, seed: u64, quiet: bool) -> Result<Simulated> {
    use std::io::IsTerminal;
    let now = std::time::Instant::now();
    let mut bar = None;
    let mut lines = None;
    let progress: Option<&mut dyn crate::fast::Progress> = if quiet {
        None
    } else if std::io::stderr().is_terminal() {
        Some(bar.insert(Bar(new_bar(sc, seed))))
    } else {
        Some(lines.insert(Lines {
            name: format!("{} seed {seed}", sc.name),
            wall: now,
            last: now,
        }))
    };
    let outcome = crate::fast::simulate(sc, seed, progress)?;
    if let Some(Bar(b)) = bar {
        b.finish_and_clear();
    }
    Ok(Simulated {
        record: outcome.record,
        requests: outcome.requests,
    })
}

#[cfg(not(madsim))]
fn simulate_madsim(_sc: &Scenario, _seed: u64, _quiet: bool) -> Result<Simulated> {
    bail!(
        "this ringlab-sim was built without `--cfg madsim`, so it has no madsim engine; \
         use `--engine fast`, or build and run it with the simulator flags: \
         `cargo sim run <scenario> --engine madsim`"
    )
}

#[cfg(madsim)]
fn simulate_madsim(sc: &Scenario, seed: u64, quiet: bool) -> Result<Simulated> {
    use std::io::IsTerminal;

    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| new_bar(sc, seed));
    // The simulation runs on its own thread; progress comes back over a
    // channel so the terminal is drawn outside the simulated world.
    let (tx, rx) = std::sync::mpsc::channel();
    let sim = {
        let sc = sc.clone();
        std::thread::spawn(move || crate::harness::run(&sc, seed, Some(tx)))
    };
    for secs in rx {
        if let Some(bar) = &bar {
            bar.set_position(secs as u64);
        }
    }
    let outcome = sim
        .join()
        .map_err(|_| anyhow::anyhow!("the simulation thread panicked"))??;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(Simulated {
        record: outcome.record,
        requests: outcome.requests,
    })
}

fn simulate_and_report(
    sc: &Scenario,
    seed: u64,
    out: &Path,
    quiet: bool,
    engine: Engine,
) -> Result<()> {
    let total: std::time::Duration = sc.phases.iter().map(|p| p.duration).sum();
    let wall = std::time::Instant::now();
    let sim = match engine {
        Engine::Fast => simulate_fast(sc, seed, quiet)?,
        Engine::Madsim => simulate_madsim(sc, seed, quiet)?,
    };
    let wall = wall.elapsed();
    ringlab_loadgen::report::write_all(&sim.record, out)
        .with_context(|| format!("writing the report into {}", out.display()))?;
    let verdicts = check::evaluate(&sc.name, &sc.expect, &sim.record);
    check::write_verdicts(out, &verdicts)?;
    if !quiet {
        let summary = Summary::load(&out.join("summary.json"))?;
        print!("{}", expect::short_table(&summary));
        if !verdicts.is_empty() {
            print!("{}", check::verdict_table(&verdicts));
        }
        eprintln!(
            "simulated {} requests ({:.0} model s) in {:.2} s of wall time: {:.0} requests per wall second ({} engine)",
            sim.requests,
            total.as_secs_f64(),
            wall.as_secs_f64(),
            sim.requests as f64 / wall.as_secs_f64().max(1e-9),
            engine.as_str(),
        );
        eprintln!("report: {}", out.join("report.html").display());
    }
    Ok(())
}

/// Parses `A..B` (B excluded) or `A..=B`.
pub fn parse_seeds(s: &str) -> Result<Vec<u64>> {
    let parse = |x: &str| -> Result<u64> {
        x.trim().parse().with_context(|| {
            format!("--seeds {s:?}: {x:?} is not a seed (expected a whole number)")
        })
    };
    let (a, b, inclusive) = if let Some((a, b)) = s.split_once("..=") {
        (parse(a)?, parse(b)?, true)
    } else if let Some((a, b)) = s.split_once("..") {
        (parse(a)?, parse(b)?, false)
    } else {
        bail!("--seeds {s:?}: expected a range like 1..20 or 1..=20");
    };
    let seeds: Vec<u64> = if inclusive {
        (a..=b).collect()
    } else {
        (a..b).collect()
    };
    if seeds.is_empty() {
        bail!("--seeds {s:?} is an empty range");
    }
    Ok(seeds)
}

fn default_jobs(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
    .max(1)
}

/// Runs `this-binary run ...` for each job, at most `jobs` at a time, and
/// returns each job's success in order.
fn run_children(
    jobs: usize,
    runs: &[(PathBuf, u64, PathBuf)],
    engine: Option<Engine>,
) -> Result<Vec<bool>> {
    let exe = std::env::current_exe().context("finding this program's path")?;
    let mut results = vec![false; runs.len()];
    let mut running: Vec<(usize, Child)> = Vec::new();
    let mut next = 0;
    while next < runs.len() || !running.is_empty() {
        while next < runs.len() && running.len() < jobs {
            let (scenario, seed, out) = &runs[next];
            let mut cmd = Command::new(&exe);
            cmd.arg("run");
            if let Some(e) = engine {
                cmd.arg("--engine").arg(e.as_str());
            }
            let child = cmd
                .arg(scenario)
                .arg("--seed")
                .arg(seed.to_string())
                .arg("--out")
                .arg(out)
                .arg("--quiet")
                .stdin(Stdio::null())
                .spawn()
                .with_context(|| format!("starting a simulation of {}", scenario.display()))?;
            running.push((next, child));
            next += 1;
        }
        // Wait for the oldest; good enough when runs take similar times.
        let (i, mut child) = running.remove(0);
        results[i] = child.wait()?.success();
    }
    Ok(results)
}

/// `ringlab-sim sweep`.
pub fn sweep_cmd(
    path: &Path,
    seeds: &str,
    jobs: Option<usize>,
    out: Option<PathBuf>,
    engine: Option<Engine>,
) -> Result<bool> {
    let sc = scenario::load(path)?;
    let seeds = parse_seeds(seeds)?;
    let out = out.unwrap_or_else(|| PathBuf::from("out").join(format!("sweep-{}", sc.name)));
    let runs: Vec<(PathBuf, u64, PathBuf)> = seeds
        .iter()
        .map(|&s| (path.to_path_buf(), s, out.join(format!("seed-{s}"))))
        .collect();
    let wall = std::time::Instant::now();
    let ok = run_children(default_jobs(jobs), &runs, engine)?;
    let wall = wall.elapsed();
    let mut per_seed = Vec::new();
    let mut broken = Vec::new();
    for ((_, seed, dir), ran) in runs.iter().zip(ok) {
        if !ran {
            broken.push((*seed, "the simulation failed".to_string()));
            continue;
        }
        let summary = Summary::load(&dir.join("summary.json"))?;
        let failed: Vec<String> = check::read_verdicts(dir)?
            .into_iter()
            .filter(|v| !v.pass)
            .map(|v| v.expectation)
            .collect();
        if !failed.is_empty() {
            broken.push((*seed, failed.join("; ")));
        }
        per_seed.push((*seed, summary));
    }
    let aggregate = expect::sweep_table(&per_seed);
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("sweep.md"), &aggregate)?;
    print!("{aggregate}");
    println!(
        "{} seeds in {:.1} s wall ({:.2} seeds/s)",
        seeds.len(),
        wall.as_secs_f64(),
        seeds.len() as f64 / wall.as_secs_f64().max(1e-9)
    );
    for (seed, why) in &broken {
        println!(
            "seed {seed} broke an expectation: {why}\n  replay: ringlab-sim run {} --seed {seed}",
            path.display()
        );
    }
    Ok(broken.is_empty())
}

/// `ringlab-sim check`.
pub fn check_cmd(
    paths: &[PathBuf],
    jobs: Option<usize>,
    out: Option<PathBuf>,
    engine: Option<Engine>,
) -> Result<bool> {
    if paths.is_empty() {
        bail!("check needs at least one scenario file");
    }
    let out = out.unwrap_or_else(|| PathBuf::from("out"));
    let mut scenarios = Vec::new();
    for p in paths {
        scenarios.push(scenario::load(p)?);
    }
    let runs: Vec<(PathBuf, u64, PathBuf)> = paths
        .iter()
        .zip(&scenarios)
        .map(|(p, sc)| (p.clone(), sc.seed, out.join(&sc.name)))
        .collect();
    let ran = run_children(default_jobs(jobs), &runs, engine)?;
    let mut all: Vec<Verdict> = Vec::new();
    for ((sc, (_, _, dir)), ran) in scenarios.iter().zip(&runs).zip(ran) {
        if !ran {
            all.push(Verdict {
                scenario: sc.name.clone(),
                expectation: "the simulation runs".into(),
                measured: "failed".into(),
                pass: false,
            });
            continue;
        }
        all.extend(check::read_verdicts(dir)?);
    }
    print!("{}", check::verdict_table(&all));
    let failed = all.iter().filter(|v| !v.pass).count();
    println!("{} passed, {} failed", all.len() - failed, failed);
    Ok(failed == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges() {
        assert_eq!(parse_seeds("1..4").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_seeds("1..=3").unwrap(), vec![1, 2, 3]);
        assert!(parse_seeds("3..3").is_err());
        let e = parse_seeds("a..3").unwrap_err().to_string();
        assert!(e.contains("\"a\" is not a seed"), "{e}");
        assert!(parse_seeds("7").is_err());
    }
}
