//! Model time as pure code sees it: a number, passed in.
//!
//! Pure code never reads a clock: it takes `now` ([`Micros`]) as an
//! argument. The clock that produces `now` (the real one, or the
//! simulation's scaled one) lives with the async code, in
//! `ringlab_node::clock`.
//!
//! Model time is microseconds since the Unix epoch so that absolute expiry
//! times and last-writer-wins versions mean the same on every node.

/// A point in model time: microseconds since the Unix epoch.
pub type Micros = u64;
