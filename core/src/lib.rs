//! ringlab-core: the cache itself.
//!
//! # Layout
//! The module list below is a map of the code. Everything but `node` is pure
//! logic: it takes time (`now`, microseconds of model time) and randomness
//! (an `Rng`) as arguments, never reads a clock, spawns a thread or touches
//! the network, so it behaves identically in a real node and in the simulator.
//!
//! - [`clock`]: the one seam for time. Every sleep, timeout and timestamp in
//!   the node and the load generator goes through a [`clock::Clock`], which
//!   knows the simulation's time scale (1 in a real node).
//! - [`units`]: durations and sizes as people write them (`"250us"`,
//!   `"64mb"`), one syntax for node flags, cluster files, scenario files and
//!   `ringlab-load` flags.
//! - [`ring`]: consistent hashing with virtual nodes, preference lists, and
//!   what moves on a membership change; `hash mod N` behind the same trait.
//! - [`store`]: the in-memory store: versions, absolute expiry, byte-accounted
//!   `maxmemory`, eviction policies, stats.
//! - [`protocol`]: the RESP2 codec (incremental parser, encoder, limits).
//! - [`replication`]: the coordinator as a sans-IO state machine.
//! - [`node`]: the async server (the only I/O): client connections, peers,
//!   timers, the capacity hook. Binary `ringlab-node`.

pub mod clock;
pub mod node;
pub mod protocol;
pub mod replication;
pub mod ring;
pub mod store;
pub mod units;
