//! The runner: `run` (one simulation, its report) and `check` (scenarios
//! against their expectations); `sweep` and `merge` are in [`crate::sweep`].
//!
//! Sweeps and checks run every simulation in its own child process (this
//! same binary's `run --quiet`): madsim seeds per process state (`select!`'s
//! branch counter, std's hash keys per thread), so one seed per process is
//! what makes every run byte-identical to a replay with `run --seed`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use ringlab_loadgen::scenario::{self, Override, Scenario};

use ringlab_loadgen::scenario::check::{self, Verdict};

/// Which engine runs a simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// The discrete-event loop over the pure node machines (`fast`).
    Fast,
    /// The real async node and driver in a madsim runtime (`cargo sim`).
    Madsim,
}

impl Engine {
    /// The default, in both builds: the fast engine runs every lesson and
    /// agrees with madsim (docs/CROSS-CHECK.md) at a hundred times the
    /// speed; `--engine madsim` (in the madsim build) is the full-stack
    /// check of the real async node over simulated TCP.
    pub const DEFAULT: Engine = Engine::Fast;

    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Fast => "fast",
            Engine::Madsim => "madsim",
        }
    }
}

/// `ringlab-sim run`: simulates, writes the report, and returns whether
/// every expectation held (the CLI exits 1 when one did not).
pub fn run_cmd(
    path: &Path,
    seed: Option<u64>,
    out: Option<PathBuf>,
    quiet: bool,
    sets: &[Override],
    engine: Option<Engine>,
    nemesis: crate::nemesis::Mode,
) -> Result<bool> {
    let mut sc = scenario::load_with(path, sets)?;
    let seed = seed.unwrap_or(sc.seed);
    let out = out.unwrap_or_else(|| PathBuf::from("out").join(&sc.name));
    if nemesis != crate::nemesis::Mode::Off {
        crate::nemesis::apply(&mut sc, seed, nemesis);
        let text = crate::nemesis::describe(&sc.faults);
        std::fs::create_dir_all(&out)?;
        std::fs::write(out.join(crate::nemesis::FILE), &text)
            .with_context(|| format!("writing the schedule into {}", out.display()))?;
        if !quiet {
            eprint!("nemesis schedule for seed {seed}:\n{text}");
        }
    }
    let named = match sc.engine.as_deref() {
        Some("fast") => Engine::Fast,
        Some("madsim") => Engine::Madsim,
        _ => Engine::DEFAULT,
    };
    simulate_and_report(&sc, seed, &out, quiet, engine.unwrap_or(named))
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

    let total: std::time::Duration = sc.phases.iter().map(|p| p.duration).sum();
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| new_bar(sc, seed));
    // The simulation runs on its own thread; progress comes back over a
    // channel so the terminal is drawn outside the simulated world.
    let (tx, rx) = std::sync::mpsc::channel();
    let sim = {
        let sc = sc.clone();
        std::thread::spawn(move || crate::harness::run(&sc, seed, Some(tx)))
    };
    // Piped (no terminal for the bar): a line per tenth of the run, so a
    // log shows progress before the end.
    let piped = !quiet && bar.is_none();
    let total_s = total.as_secs_f64().max(1e-9);
    let mut next_tenth = 1;
    for secs in rx {
        if let Some(bar) = &bar {
            bar.set_position(secs as u64);
        }
        while piped && next_tenth <= 10 && secs >= total_s * f64::from(next_tenth) / 10.0 {
            eprintln!(
                "{} seed {seed}: {:.0} of {:.0} model s",
                sc.name,
                total_s * f64::from(next_tenth) / 10.0,
                total_s
            );
            next_tenth += 1;
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
) -> Result<bool> {
    let total: std::time::Duration = sc.phases.iter().map(|p| p.duration).sum();
    let wall = std::time::Instant::now();
    let sim = match engine {
        Engine::Fast => simulate_fast(sc, seed, quiet)?,
        Engine::Madsim => simulate_madsim(sc, seed, quiet)?,
    };
    let wall = wall.elapsed();
    let verdicts = check::evaluate(&sc.name, &sc.expect, &sim.record);
    let lines: Vec<ringlab_loadgen::report::ExpectLine> = verdicts
        .iter()
        .map(|v| ringlab_loadgen::report::ExpectLine {
            expectation: v.expectation.clone(),
            measured: v.measured.clone(),
            pass: v.pass,
        })
        .collect();
    ringlab_loadgen::report::write_all_with(&sim.record, out, &lines)
        .with_context(|| format!("writing the report into {}", out.display()))?;
    check::write_verdicts(out, &verdicts)?;
    for w in ringlab_loadgen::report::window_warnings(&sim.record) {
        eprintln!("{}: warning: {w}", sc.name);
    }
    if !quiet {
        let summary = ringlab_loadgen::report::Summary::load(&out.join("summary.json"))?;
        print!("{}", crate::expect::short_table(&summary));
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
    Ok(verdicts.iter().all(|v| v.pass))
}

/// Parses a seed list: `A..=B` or `A-B` (both ends included: `1..=5` and
/// `1-5` are the five seeds 1, 2, 3, 4, 5), a single seed `N`, or a comma
/// list of those (`1-3,7`). Seeds come back sorted, without repeats.
///
/// `A..B` is refused: Rust reads it as B excluded, a reader as B included,
/// and a sweep that silently runs one seed fewer than meant misleads.
pub fn parse_seeds(s: &str) -> Result<Vec<u64>> {
    let mut seeds = std::collections::BTreeSet::new();
    for part in s.split(',') {
        let (a, b) = seed_range(s, part.trim())?;
        seeds.extend(a..=b);
    }
    Ok(seeds.into_iter().collect())
}

/// One element of a seed list: its first and last seed.
fn seed_range(all: &str, part: &str) -> Result<(u64, u64)> {
    let parse = |x: &str| -> Result<u64> {
        x.trim().parse().with_context(|| {
            format!("--seeds {all:?}: {x:?} is not a seed (expected a whole number)")
        })
    };
    let (a, b) = if let Some((a, b)) = part.split_once("..=") {
        (parse(a)?, parse(b)?)
    } else if let Some((a, b)) = part.split_once("..") {
        let (a, b) = (parse(a)?, parse(b)?);
        bail!(
            "--seeds {all:?}: {part:?} is ambiguous (Rust reads it as {b} excluded); \
             write {a}..={b} or {a}-{b} for seeds {a} to {b} inclusive ({} seeds)",
            b.saturating_sub(a) + 1
        );
    } else if let Some((a, b)) = part.split_once('-') {
        (parse(a)?, parse(b)?)
    } else {
        let n = parse(part)?;
        (n, n)
    };
    if b < a {
        bail!("--seeds {all:?}: {part:?} is an empty range (its end is below its start)");
    }
    Ok((a, b))
}

pub(crate) fn default_jobs(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
    .max(1)
}

/// Exit status of a command whose verdict is "no": `run` or `check` with a
/// failed expectation (or `check --dry-run` with an invalid file),
/// `compare` with a regression.
pub const EXIT_FAILED: u8 = 1;
/// Exit status when nothing could be decided: bad input, a simulation that
/// broke, or `compare` unable to judge.
pub const EXIT_ERROR: u8 = 2;

/// Runs `this-binary run ...` for each job, at most `jobs` at a time, and
/// returns, in order, whether each one wrote its report (it exited 0, or
/// [`EXIT_FAILED`] because an expectation failed: its verdicts are in the
/// report directory).
pub(crate) fn run_children(
    jobs: usize,
    runs: &[(PathBuf, u64, PathBuf)],
    sets: &[Override],
    engine: Option<Engine>,
    nemesis: crate::nemesis::Mode,
) -> Result<Vec<bool>> {
    let runs: Vec<ChildRun> = runs
        .iter()
        .map(|(scenario, seed, out)| ChildRun {
            scenario: scenario.clone(),
            seed: *seed,
            out: out.clone(),
            sets: sets.to_vec(),
            nemesis,
        })
        .collect();
    run_children_each(jobs, &runs, engine)
}

/// One child simulation: `run SCENARIO --seed SEED --out OUT --set ...`.
pub(crate) struct ChildRun {
    pub scenario: PathBuf,
    pub seed: u64,
    pub out: PathBuf,
    /// This run's own `--set`s.
    pub sets: Vec<Override>,
    /// Under a random fault schedule (`run --nemesis`), or not.
    pub nemesis: crate::nemesis::Mode,
}

/// [`run_children`] with each run's own `--set`s (`plan` runs several
/// variants of a scenario in one batch).
pub(crate) fn run_children_each(
    jobs: usize,
    runs: &[ChildRun],
    engine: Option<Engine>,
) -> Result<Vec<bool>> {
    let exe = std::env::current_exe().context("finding this program's path")?;
    let mut results = vec![false; runs.len()];
    let mut running: Vec<(usize, Child)> = Vec::new();
    let mut next = 0;
    while next < runs.len() || !running.is_empty() {
        while next < runs.len() && running.len() < jobs {
            let ChildRun {
                scenario,
                seed,
                out,
                sets,
                nemesis,
            } = &runs[next];
            let mut cmd = Command::new(&exe);
            cmd.arg("run");
            if let Some(e) = engine {
                cmd.arg("--engine").arg(e.as_str());
            }
            cmd.args(nemesis.flags());
            let child = cmd
                .arg(scenario)
                .arg("--seed")
                .arg(seed.to_string())
                .arg("--out")
                .arg(out)
                .arg("--quiet")
                .args(
                    sets.iter()
                        .flat_map(|s| ["--set".to_string(), s.to_string()]),
                )
                .stdin(Stdio::null())
                .spawn()
                .with_context(|| format!("starting a simulation of {}", scenario.display()))?;
            running.push((next, child));
            next += 1;
        }
        // Wait for the oldest; good enough when runs take similar times.
        let (i, mut child) = running.remove(0);
        let code = child.wait()?.code();
        results[i] = code == Some(0) || code == Some(i32::from(EXIT_FAILED));
    }
    Ok(results)
}

/// Loads every scenario file: each one's scenario (`None` when invalid),
/// and every problem found, naming the file: invalid files, and scenario
/// names used twice (their reports would overwrite each other in
/// `<out>/<name>/`).
fn load_each(paths: &[PathBuf], sets: &[Override]) -> (Vec<Option<Scenario>>, Vec<String>) {
    let mut scenarios = Vec::new();
    let mut problems = Vec::new();
    let mut names: std::collections::BTreeMap<String, &Path> = Default::default();
    for p in paths {
        match scenario::load_with(p, sets) {
            Ok(sc) => {
                if let Some(first) = names.insert(sc.name.clone(), p) {
                    problems.push(format!(
                        "{}: name = {:?} is already the name of {}; each scenario needs its own name",
                        p.display(),
                        sc.name,
                        first.display()
                    ));
                }
                scenarios.push(Some(sc));
            }
            Err(e) => {
                problems.push(e.to_string());
                scenarios.push(None);
            }
        }
    }
    (scenarios, problems)
}

/// `ringlab-sim check --dry-run`: validates every file without simulating;
/// prints one line per valid file, then every problem found.
pub fn check_dry_run(paths: &[PathBuf], sets: &[Override]) -> Result<bool> {
    if paths.is_empty() {
        bail!("check needs at least one scenario file");
    }
    let (scenarios, problems) = load_each(paths, sets);
    for (p, sc) in paths.iter().zip(&scenarios) {
        if let Some(sc) = sc {
            println!(
                "ok {}: {} ({} phases, {} faults, {} expectations, {:.0} model s)",
                p.display(),
                sc.name,
                sc.phases.len(),
                sc.faults.len(),
                sc.expect.len(),
                sc.duration().as_secs_f64()
            );
        }
    }
    for problem in &problems {
        println!("{problem}");
    }
    if problems.is_empty() {
        println!("{} scenario files valid", scenarios.len());
    } else {
        println!("check --dry-run: {} problem(s) found", problems.len());
    }
    Ok(problems.is_empty())
}

/// `ringlab-sim check`.
pub fn check_cmd(
    paths: &[PathBuf],
    jobs: Option<usize>,
    out: Option<PathBuf>,
    sets: &[Override],
    engine: Option<Engine>,
) -> Result<bool> {
    if paths.is_empty() {
        bail!("check needs at least one scenario file");
    }
    let out = out.unwrap_or_else(|| PathBuf::from("out"));
    let (scenarios, problems) = load_each(paths, sets);
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    let scenarios: Vec<Scenario> = scenarios.into_iter().flatten().collect();
    let runs: Vec<(PathBuf, u64, PathBuf)> = paths
        .iter()
        .zip(&scenarios)
        .map(|(p, sc)| (p.clone(), sc.seed, out.join(&sc.name)))
        .collect();
    let ran = run_children(
        default_jobs(jobs),
        &runs,
        sets,
        engine,
        crate::nemesis::Mode::Off,
    )?;
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
    fn seed_ranges_include_both_ends() {
        assert_eq!(parse_seeds("1..=5").unwrap(), vec![1, 2, 3, 4, 5]);
        assert_eq!(parse_seeds("1-5").unwrap(), vec![1, 2, 3, 4, 5]);
        assert_eq!(parse_seeds("3..=3").unwrap(), vec![3]);
        assert_eq!(parse_seeds("7").unwrap(), vec![7]);
        assert_eq!(parse_seeds("5-6, 1-2,6").unwrap(), vec![1, 2, 5, 6]);
    }

    #[test]
    fn an_exclusive_range_is_refused_with_both_readings() {
        let e = format!("{:#}", parse_seeds("1..5").unwrap_err());
        assert!(e.contains("ambiguous"), "{e}");
        assert!(e.contains("1..=5 or 1-5"), "{e}");
        assert!(e.contains("(5 seeds)"), "{e}");
    }

    #[test]
    fn bad_seed_lists_name_the_bad_part() {
        let e = format!("{:#}", parse_seeds("a..=3").unwrap_err());
        assert!(e.contains("\"a\" is not a seed"), "{e}");
        let e = format!("{:#}", parse_seeds("5-3").unwrap_err());
        assert!(e.contains("\"5-3\" is an empty range"), "{e}");
        assert!(parse_seeds("").is_err());
        assert!(parse_seeds("1,,2").is_err());
    }
}
