//! One point of a plan: the scenario with the searched parameter set to a
//! value, run with every seed, healthy and under each `--survive` fault,
//! each run in its own child process (as `sweep` runs them), and judged
//! against the SLOs: a point passes only when every seed of every variant
//! meets every SLO.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ringlab_loadgen::report::Summary;
use ringlab_loadgen::scenario::{self, Override, Scenario};

use super::load::{NodeLoad, busiest_node, estimate};
use super::slo::Slo;
use crate::runner::{ChildRun, Engine, run_children_each};

/// The parameter a plan searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Find {
    /// The smallest `cluster.nodes` that meets the SLOs.
    Nodes,
    /// The largest request rate of one phase that the cluster serves
    /// within the SLOs.
    Rate,
    /// The smallest `capacity.cores` per node that meets the SLOs.
    Cores,
}

impl Find {
    pub fn as_str(self) -> &'static str {
        match self {
            Find::Nodes => "nodes",
            Find::Rate => "rate",
            Find::Cores => "cores",
        }
    }

    /// The value with its unit: "7 nodes", "7,700 requests/s", "4 cores".
    pub fn show(self, x: u64) -> String {
        use ringlab_loadgen::report::format::grouped;
        match self {
            Find::Nodes => format!("{x} node{}", if x == 1 { "" } else { "s" }),
            Find::Rate => format!("{} requests/s", grouped(x)),
            Find::Cores => format!("{x} core{} per node", if x == 1 { "" } else { "s" }),
        }
    }
}

/// A fault each point is checked under again (`--survive`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Survive {
    /// `kill N` / `kill node-N`.
    Kill(u32),
    /// `kill busiest`: the node with the largest share of the keys.
    KillBusiest,
}

impl Survive {
    /// Reads `--survive TEXT`.
    pub fn parse(text: &str) -> Result<Survive> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let node = |w: &str| {
            w.strip_prefix("node-")
                .unwrap_or(w)
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
        };
        match words.as_slice() {
            ["kill", "busiest"] => Ok(Survive::KillBusiest),
            ["kill", w] if node(w).is_some() => Ok(Survive::Kill(node(w).expect("checked"))),
            _ => bail!(
                "--survive {text:?}: expected 'kill N' (node-N dies), 'kill node-N' or \
                 'kill busiest' (the node with the most keys)"
            ),
        }
    }
}

/// What every point shares.
pub struct Setup {
    /// The scenario file and its text.
    pub path: PathBuf,
    pub text: String,
    /// The file with the survive fault appended (a `[[fault]]` whose node
    /// each point sets), and its position among the file's faults.
    pub survive_file: Option<(PathBuf, usize)>,
    pub survive: Vec<Survive>,
    /// When the survive fault happens, since the run started.
    pub fault_at: Duration,
    /// The user's `--set`s.
    pub sets: Vec<Override>,
    pub engine: Engine,
    pub seeds: Vec<u64>,
    pub slos: Vec<Slo>,
    pub find: Find,
    /// The phase whose rate `--find rate` sets.
    pub rate_phase: String,
    pub jobs: usize,
    /// Where the points' runs go.
    pub out: PathBuf,
}

/// One seed's run of one variant.
#[derive(Debug, Clone)]
pub struct SeedRun {
    pub seed: u64,
    /// `None`: the simulation failed.
    pub summary: Option<Summary>,
    /// Each SLO's figure, in `Setup::slos` order.
    pub figures: Vec<Option<f64>>,
}

/// One variant (healthy, or under a fault) at one point.
#[derive(Debug, Clone)]
pub struct Variant {
    /// "healthy" or "kill node-3".
    pub label: String,
    pub runs: Vec<SeedRun>,
    /// Every seed met every SLO.
    pub pass: bool,
    /// The estimated load on the busiest node at the mean offered rate.
    pub load: NodeLoad,
}

/// A point: a value of the parameter and its variants.
#[derive(Debug, Clone)]
pub struct Point {
    pub x: u64,
    pub variants: Vec<Variant>,
    pub pass: bool,
    pub wall: Duration,
}

impl Setup {
    /// The `--set` that puts the parameter at `x`.
    pub fn param_set(&self, x: u64) -> Override {
        let s = match self.find {
            Find::Nodes => format!("cluster.nodes={x}"),
            Find::Cores => format!("capacity.cores={x}"),
            Find::Rate => format!("phase.{}.rate={x}", self.rate_phase),
        };
        s.parse().expect("a well-formed --set")
    }

    /// Every `--set` of the healthy runs at `x`.
    pub fn sets_at(&self, x: u64) -> Vec<Override> {
        let mut sets = self.sets.clone();
        sets.push(self.param_set(x));
        sets
    }

    /// The healthy scenario at `x`, validated.
    pub fn scenario_at(&self, x: u64) -> Result<Scenario> {
        let sets = self.sets_at(x);
        scenario::parse_with(&self.text, &self.path.display().to_string(), &sets)
            .map_err(|e| anyhow::anyhow!("{}={x}: {e}", self.find.as_str()))
    }

    /// The variants at `x`: (label, scenario file, sets, dead nodes).
    fn variants_at(&self, x: u64, healthy: &Scenario) -> Result<Vec<Plan1>> {
        let mut out = vec![Plan1 {
            label: "healthy".into(),
            file: self.path.clone(),
            sets: self.sets_at(x),
            dead: Vec::new(),
        }];
        for s in &self.survive {
            let (file, k) = self.survive_file.as_ref().expect("written with --survive");
            let node = match s {
                Survive::Kill(n) => *n,
                Survive::KillBusiest => busiest_node(healthy),
            };
            let mut sets = self.sets_at(x);
            sets.push(format!("fault.{k}.kill=node-{node}").parse()?);
            let text = std::fs::read_to_string(file)?;
            scenario::parse_with(&text, &file.display().to_string(), &sets).map_err(|e| {
                anyhow::anyhow!("{}={x} under kill node-{node}: {e}", self.find.as_str())
            })?;
            out.push(Plan1 {
                label: format!("kill node-{node}"),
                file: file.clone(),
                sets,
                dead: vec![node],
            });
        }
        Ok(out)
    }

    /// Runs point `x`: every variant with every seed.
    pub fn evaluate(&self, x: u64) -> Result<Point> {
        let wall = Instant::now();
        let healthy = self.scenario_at(x)?;
        let variants = self.variants_at(x, &healthy)?;
        let dir = self.out.join(format!("{}-{x}", self.find.as_str()));
        let mut runs = Vec::new();
        for (v, plan) in variants.iter().enumerate() {
            for &seed in &self.seeds {
                runs.push(ChildRun {
                    nemesis: crate::nemesis::Mode::Off,
                    scenario: plan.file.clone(),
                    seed,
                    out: run_dir(&dir, v, seed),
                    sets: plan.sets.clone(),
                });
            }
        }
        run_children_each(self.jobs, &runs, Some(self.engine))?;
        let mut out = Vec::new();
        for (v, plan) in variants.into_iter().enumerate() {
            out.push(self.judge(&healthy, &dir, v, plan)?);
        }
        Ok(Point {
            x,
            pass: out.iter().all(|v| v.pass),
            variants: out,
            wall: wall.elapsed(),
        })
    }

    /// Reads one variant's runs and judges them.
    fn judge(&self, sc: &Scenario, dir: &Path, v: usize, plan: Plan1) -> Result<Variant> {
        let mut runs = Vec::new();
        for &seed in &self.seeds {
            let d = run_dir(dir, v, seed);
            let summary = if d.join("summary.json").is_file() {
                Some(Summary::load(&d).with_context(|| format!("reading {}", d.display()))?)
            } else {
                None
            };
            let figures = self
                .slos
                .iter()
                .map(|s| summary.as_ref().and_then(|sum| s.measure(sum)))
                .collect();
            runs.push(SeedRun {
                seed,
                summary,
                figures,
            });
        }
        let pass = runs.iter().all(|r| {
            r.summary.is_some() && self.slos.iter().zip(&r.figures).all(|(s, f)| s.holds(*f))
        });
        let offered = mean(
            runs.iter()
                .filter_map(|r| r.summary.as_ref().map(|s| s.overall.all.scheduled_per_s)),
        );
        Ok(Variant {
            label: plan.label,
            runs,
            pass,
            load: estimate(sc, offered, &plan.dead),
        })
    }
}

/// One variant's run settings.
struct Plan1 {
    label: String,
    file: PathBuf,
    sets: Vec<Override>,
    dead: Vec<u32>,
}

fn run_dir(dir: &Path, variant: usize, seed: u64) -> PathBuf {
    let v = if variant == 0 {
        "healthy".to_string()
    } else {
        format!("survive-{variant}")
    };
    dir.join(v).join(format!("seed-{seed}"))
}

pub(crate) fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for x in xs {
        sum += x;
        n += 1;
    }
    if n == 0 { 0.0 } else { sum / n as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survive_reads_kills() {
        assert_eq!(Survive::parse("kill 1").unwrap(), Survive::Kill(1));
        assert_eq!(Survive::parse("kill node-3").unwrap(), Survive::Kill(3));
        assert_eq!(
            Survive::parse(" kill  busiest ").unwrap(),
            Survive::KillBusiest
        );
        for bad in ["kill", "kill 0", "kill node-x", "partition 1", "kill 1 2"] {
            let e = format!("{:#}", Survive::parse(bad).unwrap_err());
            assert!(e.contains("expected 'kill N'"), "{bad}: {e}");
        }
    }
}
