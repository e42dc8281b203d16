//! ringlab-loadgen: one workload description, driven open-loop against real
//! nodes (`ringlab-load`) or simulated ones (`ringlab-sim`), recorded in
//! HdrHistograms and written as reports.
//!
//! # Layout
//! - [`scenario`]: the scenario file; the crate `ringlab_scenario`
//!   re-exported, plus [`scenario::check`], which measures a run against the
//!   file's expectations.
//! - [`workload`]: the seeded generators of arrivals and requests; the phase
//!   types they read (rate shapes, key distributions, op mix, value sizes)
//!   are `ringlab_scenario::workload`'s, re-exported.
//! - [`driver`]: the open-loop scheduler and its connections; `driver::cli`
//!   is `ringlab-load`'s command line.
//! - [`recorder`]: per-window histograms and counts; the `RunRecord`.
//! - [`report`]: summary, timeline, interval log, plots, HTML.
//! - [`stale`]: the write oracle that counts stale reads.
//! - [`durability`]: the end-of-run verdict on lost acknowledged writes.
//! - [`counters`]: the INCR history and its verdict on lost updates.
//! - [`compare`]: the regression gate between two runs, or two sets of
//!   seeds.
//! - [`stats`]: the rank test, multiple-testing correction and quantile
//!   intervals `compare` and the sweep use.
//! - [`database`]: the simulated database behind the cache (cache-aside,
//!   write-through), shared by every client machine of a run.

pub mod compare;
pub mod counters;
pub mod database;
pub mod driver;
pub mod durability;
pub mod recorder;
pub mod report;
pub mod scenario {
    //! The scenario file: `ringlab_scenario` re-exported (so
    //! `ringlab_loadgen::scenario::X` names the schema's `X`), plus
    //! [`check`], which needs the recorder and so lives in the load
    //! generator.
    pub use ringlab_scenario::*;

    pub mod check;
}
pub mod stale;
pub mod stats;
pub mod workload;
