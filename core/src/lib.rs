//! ringlab-core: the cache itself.
//!
//! # Layout
//! The module list below is a map of the code. All of it is pure logic: it
//! takes time (`now`, microseconds of model time) and randomness (an `Rng`)
//! as arguments, never reads a clock, spawns a thread or touches the
//! network, so it behaves identically in a real node and in every simulator.
//! Cargo keeps tokio out of this crate; the async server that drives the
//! machine is the `ringlab-node` crate.
//!
//! - [`clock`]: model time as a number ([`clock::Micros`]).
//! - [`config`]: a node's configuration ([`config::NodeConfig`]), the
//!   cluster file, and the node's size and duration syntax.
//! - [`membership`]: the member list and the placement of keys on it.
//! - [`secret`]: comparing passwords and the cluster secret in constant
//!   time.
//! - [`units`]: durations and sizes as people write them (`"250us"`,
//!   `"64mb"`), one syntax for node flags, cluster files, scenario files and
//!   `ringlab-load` flags.
//! - [`ring`]: consistent hashing with virtual nodes, preference lists, and
//!   what moves on a membership change; `hash mod N` behind the same trait.
//! - [`store`]: the in-memory store: versions, absolute expiry, byte-accounted
//!   `maxmemory`, eviction policies, stats.
//! - [`protocol`]: the RESP codec (incremental parser, encoder, limits),
//!   with RESP3 reply writers chosen per connection by
//!   [`protocol::resp::Proto`].
//! - [`replication`]: one quorum read or write as a sans-IO state machine.
//! - [`detector`]: the phi-accrual failure detector (suspicion as a number
//!   grown from heartbeat arrival times).
//! - [`machine`]: the node as a pure state machine: client commands, peer
//!   messages and timers in, replies, peer messages and timers out. Every
//!   engine (the real server, madsim, the fast simulator) drives this.
//! - [`cmd`]: the command table and the commands by family; commands on
//!   keys are pure plans of quorum reads and writes.
//! - [`merkle`]: the Merkle tree over the key-hash space that anti-entropy
//!   compares between replicas.
//! - [`glob`]: Redis's glob patterns (KEYS, SCAN MATCH, CONFIG GET).
//! - [`keyspace`]: iterating the cluster's keys (KEYS, SCAN): positions,
//!   one node's page of keys, and merging the pages of several replicas.
//! - [`harness`]: node machines on an in-memory network that delays, drops,
//!   cuts and partitions, for model-based tests of the cluster.

pub mod clock;
pub mod cmd;
pub mod config;
pub mod detector;
pub mod glob;
pub mod harness;
pub mod keyspace;
pub mod machine;
pub mod membership;
pub mod merkle;
pub mod protocol;
pub mod replication;
pub mod ring;
pub mod secret;
pub mod store;
pub mod units;
