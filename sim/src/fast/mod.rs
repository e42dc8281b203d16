//! The fast engine: a discrete-event simulation of a scenario over the pure
//! node machines ([`ringlab_core::machine::Machine`]), with no async runtime
//! and no task per message. One queue of events ordered by (model time,
//! sequence number) drives everything; a run is a pure function of the
//! scenario and the seed.
//!
//! # Map
//! - [`queue`]: the event queue.
//! - [`net`]: ordered channels with latency, loss and cut links (madsim's
//!   TCP model).
//! - [`capacity`]: a node's cores as a FIFO with a bounded queue.
//! - [`nodes`]: the machines, their cores and their peer links.
//! - [`clients`]: the load generator's open-loop clients as events, and
//!   [`replies`], how they read a node's replies.
//! - [`app`]: `[app]`'s patterns (cache-aside, write-through, fills,
//!   singleflight, near-caches) and the database behind them.
//! - [`faults`]: the fault timeline.
//! - [`run`]: the world, the event loop and the record it returns.
//!
//! Time is model microseconds from the start (the scenario's `time_scale`
//! is a madsim device and does not apply here).

pub mod app;
pub mod capacity;
pub mod clients;
pub mod faults;
pub mod net;
pub mod nodes;
pub mod queue;
pub mod replies;
pub mod run;

use ringlab_loadgen::recorder::RunRecord;
use ringlab_loadgen::scenario::Scenario;
use ringlab_loadgen::workload::WorkloadError;

pub use ringlab_loadgen::recorder::Outcome;

/// Why the fast engine cannot run a scenario.
#[derive(Debug, thiserror::Error)]
pub enum FastError {
    #[error("the fast engine cannot run this scenario: {0}")]
    Unsupported(String),
    #[error(transparent)]
    Workload(#[from] WorkloadError),
}

/// Told about the run's progress now and then.
pub trait Progress {
    /// Model µs since the start, of `total`, and requests scheduled so far.
    fn at(&mut self, elapsed_us: u64, total_us: u64, requests: u64);
}

/// What a run gives: the record and the requests it scheduled.
pub struct FastOutcome {
    pub record: RunRecord,
    pub requests: u64,
}

/// Runs `sc` with `seed`.
pub fn simulate(
    sc: &Scenario,
    seed: u64,
    progress: Option<&mut dyn Progress>,
) -> Result<FastOutcome, FastError> {
    let (record, requests) = run::run(sc, seed, progress)?;
    Ok(FastOutcome { record, requests })
}
