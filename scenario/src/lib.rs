//! ringlab-scenario: the scenario file, one TOML file that scripts a whole
//! experiment (the cluster, each node's capacity, the network, the load phase
//! by phase, the faults, and what the run must show), and its validation.
//!
//! [`load`] and [`parse`] turn a file into a [`Scenario`] of plain, checked
//! types, or into a [`ScenarioError`] that lists every problem found as
//! `file:line:column: what was found and what was expected`, like a
//! compiler. `scenarios/README.md` is the reference for authors.
//!
//! It is its own crate, apart from the load generator and the simulator,
//! because both read it: `ringlab-load` takes its phases, the simulator takes
//! all of it. `ringlab_loadgen::scenario` re-exports it, with the checking of
//! a run against the expectations (`ringlab_loadgen::scenario::check`, which
//! needs the recorder).
//!
//! # Layout
//! - [`units`]: durations, sizes and shares as people write them
//!   (`ringlab_core::units` re-exported: the node reads the same syntax).
//! - [`workload`]: the load of one phase: rate shape, arrivals, keys, op
//!   mix, value sizes (the generators are in `ringlab_loadgen::workload`).
//! - [`model`]: the validated cluster, capacity, network, app and fault types.
//! - [`expect`]: expectations and their grammar.
//! - `reader`: a spanned TOML document read with typed getters that
//!   report unknown keys with the closest known one.
//! - `cluster`, `phases`, `faults`, `app`: one reader per section.
//! - `overrides`: `--set KEY=VALUE`, applied to the document before it is
//!   read ([`load_with`], [`parse_with`]).
//! - [`error`]: problems, line and column numbers, the error type.

mod app;
mod cluster;
pub mod error;
pub mod expect;
mod faults;
pub mod model;
mod overrides;
mod phases;
mod reader;
pub mod workload;

/// Durations, sizes and shares: `ringlab_core::units`, the one syntax the
/// node and the load generator read too.
pub use ringlab_core::units;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::DeTable;

pub use error::{Problem, ScenarioError};
pub use expect::{AppSeries, Cmp, Expectation, Metric, Scope, SeriesStat};
pub use model::{
    App, Capacity, Cluster, CostDist, DatabaseSpec, Eviction, Fault, FaultAction, LatencyDist,
    NearCacheSpec, Network, OnWrite, Pattern, PlacementKind, RTO_MAX, Replication, node_name,
};
pub use overrides::{Override, OverrideSyntax};

use reader::{Ctx, Field, Table, boolean, positive_duration, string, uint, uint32};
use workload::Phase;

/// Everything a scenario file says, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Short name, for reports (defaults to the file's stem).
    pub name: String,
    /// The lesson: what to watch for and why.
    pub description: String,
    /// Seed of every random choice in the run.
    pub seed: u64,
    /// Width of the recorder's time windows.
    pub window: Duration,
    /// Simulation clock scale D: runtime time per model time (see
    /// `ringlab_node::clock`).
    pub time_scale: u32,
    /// The simulator adds per-node series to the report: the busiest
    /// node's utilization and operation p99 against the other nodes'.
    pub node_series: bool,
    /// The simulation engine the file asks for (`"fast"` or `"madsim"`);
    /// the command line's `--engine` overrides it. None: the simulator's
    /// default.
    pub engine: Option<String>,
    /// Nodes, ring and replication, cache settings.
    pub cluster: Cluster,
    /// Each simulated node's capacity, unless overridden per node.
    pub capacity: Capacity,
    /// Nodes whose capacity differs from `capacity`, by name.
    pub node_capacity: BTreeMap<String, Capacity>,
    /// Latency and loss between machines.
    pub network: Network,
    /// The load, in order; at least one phase.
    pub phases: Vec<Phase>,
    /// The fault timeline, sorted by time.
    pub faults: Vec<Fault>,
    /// How the clients use the cache (and the database).
    pub app: App,
    /// The simulated database; present exactly when `app.pattern` is not
    /// direct.
    pub database: Option<DatabaseSpec>,
    /// What the run must show, in file order.
    pub expect: Vec<Expectation>,
    /// The file this came from (as given to [`load`] or [`parse`]).
    pub source: PathBuf,
}

impl Scenario {
    /// The run's length: all phases together.
    pub fn duration(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }

    /// When the phase named `name` starts, since the run started.
    pub fn phase_start(&self, name: &str) -> Option<Duration> {
        let mut start = Duration::ZERO;
        for p in &self.phases {
            if p.name == name {
                return Some(start);
            }
            start += p.duration;
        }
        None
    }

    /// The nodes that join the running cluster (a `join` fault), in order of
    /// joining; every other node is a member from the start.
    pub fn joining_nodes(&self) -> Vec<String> {
        self.faults
            .iter()
            .filter_map(|f| match &f.action {
                FaultAction::Join(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }

    /// The capacity of `node` (its override, else the shared one).
    pub fn capacity_of(&self, node: &str) -> &Capacity {
        self.node_capacity.get(node).unwrap_or(&self.capacity)
    }
}

/// Default recorder window.
const DEFAULT_WINDOW: Duration = Duration::from_secs(1);
/// Default simulation clock scale.
pub const DEFAULT_TIME_SCALE: u32 = 1000;
/// Default seed.
pub const DEFAULT_SEED: u64 = 1;
/// The simulation engines a scenario may name.
pub const ENGINES: [&str; 2] = ["fast", "madsim"];

const TOP_KEYS: [&str; 15] = [
    "name",
    "description",
    "seed",
    "window",
    "time_scale",
    "node_series",
    "engine",
    "cluster",
    "capacity",
    "network",
    "phase",
    "fault",
    "app",
    "database",
    "expect",
];

/// Reads and validates the scenario file at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    load_with(path, &[])
}

/// Reads the scenario file at `path`, applies `sets` (in order) and
/// validates the result; see [`parse_with`].
pub fn load_with(path: &Path, sets: &[Override]) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_with(&text, &path.display().to_string(), sets)
}

/// Validates scenario `text`; `file_name` names it in messages and becomes
/// [`Scenario::source`].
///
/// ```
/// use ringlab_scenario as scenario;
/// use ringlab_scenario::workload::Rate;
///
/// let text = r#"
/// [[phase]]
/// name = "steady"
/// duration = "30s"
/// rate = 1000
///
/// [[phase]]
/// name = "spike"
/// duration = "10s"
/// rate = "x10"
/// "#;
/// let s = scenario::parse(text, "spike.toml").unwrap();
/// assert_eq!(s.phases[1].rate, Rate::Constant(10_000.0));
///
/// let err = scenario::parse("[cluster]\nnodes = 0\n", "bad.toml").unwrap_err();
/// // Every problem is listed, in file order.
/// let text = err.to_string();
/// assert!(text.contains("bad.toml:1:1: the scenario has no [[phase]]"));
/// assert!(text.contains("bad.toml:2:9: cluster.nodes = 0 is impossible"));
/// ```
pub fn parse(text: &str, file_name: &str) -> Result<Scenario, ScenarioError> {
    parse_with(text, file_name, &[])
}

/// Validates scenario `text` with `sets` applied to it, in order (a later
/// one wins), as if the file said so: a bad or unknown key gets the same
/// message, naming the `--set` it came from (`file: --set KEY=VALUE: ...`).
///
/// ```
/// use ringlab_scenario::{self as scenario, Override};
///
/// let text = "[cluster]\nnodes = 3\n\n[[phase]]\nname = \"steady\"\nduration = \"1s\"\nrate = 100\n";
/// let sets: Vec<Override> = ["cluster.nodes=8", "phase.steady.rate=200"]
///     .iter()
///     .map(|s| s.parse().unwrap())
///     .collect();
/// let s = scenario::parse_with(text, "x.toml", &sets).unwrap();
/// assert_eq!(s.cluster.nodes, 8);
///
/// let bad: Override = "cluster.nodez=8".parse().unwrap();
/// let err = scenario::parse_with(text, "x.toml", &[bad]).unwrap_err();
/// assert!(err
///     .to_string()
///     .starts_with("x.toml: --set cluster.nodez=8: unknown key `cluster.nodez`"));
/// ```
pub fn parse_with(
    text: &str,
    file_name: &str,
    sets: &[Override],
) -> Result<Scenario, ScenarioError> {
    let layout = overrides::Layout::new(text, sets);
    let invalid = |problems: Vec<(usize, String)>| {
        let mut problems: Vec<Problem> = problems
            .into_iter()
            .map(|(offset, message)| layout.problem(offset, message))
            .collect();
        // File order, then the overrides' (line 0) in command-line order; the
        // sort is stable, so one place keeps reading order.
        problems.sort_by_key(|p| (p.line == 0, p.line, p.column));
        ScenarioError::Invalid {
            file: file_name.to_string(),
            problems,
        }
    };
    let (mut doc, syntax) = DeTable::parse_recoverable(layout.file());
    if !syntax.is_empty() {
        let problems = syntax
            .iter()
            .map(|e| {
                let at = e.span().map_or(0, |s| s.start);
                (at, format!("invalid TOML: {}", e.message().trim_end()))
            })
            .collect();
        return Err(invalid(problems));
    }
    let mut ctx = Ctx::new(&layout.full);
    ctx.problems = layout.apply(doc.get_mut());
    let root = Table::root(&mut ctx, doc.get_ref(), &TOP_KEYS);
    let stem = Path::new(file_name).file_stem().map_or_else(
        || "scenario".to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let name = root
        .field(&mut ctx, "name", |c, p, v| {
            let s = string(c, p, v)?;
            if s.trim().is_empty() {
                c.invalid(
                    p,
                    v,
                    "is empty: give the scenario a short name, like \"node-death\"",
                );
                return None;
            }
            Some(s.to_string())
        })
        .or(stem);
    let description = root
        .field(&mut ctx, "description", |c, p, v| {
            string(c, p, v).map(str::to_string)
        })
        .or_default();
    let seed = root
        .field(&mut ctx, "seed", |c, p, v| uint(c, p, v, 0, u64::MAX))
        .or(DEFAULT_SEED);
    let window = root.field(&mut ctx, "window", positive_duration);
    let window_given = matches!(window, Field::Valid(_));
    let window = window.or(DEFAULT_WINDOW);
    let time_scale = root
        .field(&mut ctx, "time_scale", |c, p, v| {
            uint32(c, p, v, 1, 1_000_000)
        })
        .or(DEFAULT_TIME_SCALE);
    let node_series = root.field(&mut ctx, "node_series", boolean).or(false);
    let engine = root
        .field(&mut ctx, "engine", |c, p, v| {
            let s = string(c, p, v)?;
            if ENGINES.contains(&s) {
                Some(Some(s.to_string()))
            } else {
                c.invalid(p, v, "is not an engine: expected \"fast\" or \"madsim\"");
                None
            }
        })
        .or(None);

    let (cluster, nodes) = cluster::read_cluster(&mut ctx, root.get("cluster"));
    let (capacity, node_capacity) = cluster::read_capacity(&mut ctx, root.get("capacity"), nodes);
    let network = cluster::read_network(&mut ctx, root.get("network"), nodes);
    // A fault's time is checked against the run's length only when every
    // phase's duration could be read.
    let (phases, phases_ok) = phases::read_phases(&mut ctx, root.get("phase"));
    let run: Duration = phases.iter().map(|p| p.duration).sum();
    let faults = faults::read_faults(
        &mut ctx,
        root.get("fault"),
        nodes,
        cluster.replication.n,
        phases_ok.then_some(run),
    );
    let (app, database) = app::read_app(&mut ctx, root.get("app"), root.get("database"));
    let names: Vec<String> = phases.iter().map(|p| p.name.clone()).collect();
    let expect = expect::read::read_expect(&mut ctx, root.get("expect"), &names);
    if let (true, true, Some(v)) = (window_given && phases_ok, window > run, root.get("window")) {
        ctx.invalid(
            "window",
            v,
            format!(
                "is longer than the whole run ({}): reports would have no complete window",
                units::format_duration(run)
            ),
        );
    }

    if !ctx.problems.is_empty() {
        return Err(invalid(ctx.problems));
    }
    Ok(Scenario {
        name,
        description,
        seed,
        window,
        time_scale,
        node_series,
        engine,
        cluster,
        capacity,
        node_capacity,
        network,
        phases,
        faults,
        app,
        database,
        expect,
        source: PathBuf::from(file_name),
    })
}
