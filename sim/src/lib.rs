//! ringlab-sim: the deterministic cluster simulator.
//!
//! The real node code (`ringlab_node`, driving `ringlab_core::machine`) and the real load generator
//! (`ringlab_loadgen::driver`) run inside a madsim runtime, on simulated
//! machines and a simulated network, on a clock scaled by the scenario's
//! `time_scale`. A scenario file scripts the cluster, its capacity, the
//! network, the load and the faults; the same scenario, seed and binary give
//! byte-identical reports.
//!
//! # Layout
//! - [`fast`]: the fast engine, a discrete-event loop over the pure node
//!   machines (no async runtime); `--engine fast`.
//! - [`durability`]: the end-of-run look at every live node's store that
//!   judges lost acknowledged writes (both engines).
//! - [`events`]: the fault timeline as report events (both engines).
//! - [`capacity`]: the capacity model that makes a simulated node finite
//!   (cores, per-op cost, bounded queue, slow-downs): the simulator's
//!   implementation of the node's `Hooks`.
//! - `harness` (only with `--cfg madsim`): one runtime per seed; nodes,
//!   clients, the fault timeline.
//! - [`node_series`]: the busiest node against the others, per window (a
//!   scenario's `node_series`).
//! - [`expect`]: a scenario's expectations measured against a run's summary;
//!   the tables `run`, `sweep` and `check` print.
//! - [`nemesis`]: the random fault schedule per seed of `run --nemesis` and
//!   `sweep --nemesis`, judged by lost acknowledged writes.
//! - [`runner`]: the `run` and `check` commands, and the child processes
//!   every multi-run command uses.
//! - [`sweep`]: `sweep` (optionally one shard of the seeds) and `merge`, and
//!   the aggregate across seeds (merged histograms, intervals, the
//!   expectations' failures with what they measured).
//! - [`plan`]: `plan`, the search for the smallest cluster (or the largest
//!   load) that meets SLOs over seeds, healthy and under a kill: the search
//!   (`plan::search`, pure), the SLOs, one point's runs, the busiest node's
//!   estimated load, the text, plots, page and answer file.
//! - [`estimate`]: `estimate`, the back-of-the-envelope table of an
//!   interview (QPS, storage, bandwidth, memory, each with its calculation)
//!   and the scenario that `plan` answers: the file (`estimate::input`),
//!   the arithmetic (`estimate::calc`), the scenario (`estimate::scenario`).
//! - [`calibrate`]: `calibrate`, the capacity model fitted to a real
//!   `ringlab-node` on this machine (CPU time per operation by kind and per
//!   KiB, the loopback round trip) and simulated against real over a ladder
//!   of rates.
//! - [`theory`]: M/M/c and M/G/c (Allen–Cunneen) predictions of a node's
//!   wait and time in system, and the Universal Scalability Law fit, pure;
//!   `plan` shows them beside its simulated figures.

pub mod calibrate;
pub mod capacity;
pub mod durability;
pub mod estimate;
pub mod events;
pub mod expect;
pub mod fast;
#[cfg(madsim)]
pub mod harness;
pub mod nemesis;
pub mod node_series;
pub mod plan;
pub mod runner;
pub mod sweep;
pub mod theory;
