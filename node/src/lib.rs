//! ringlab-node: the node server. A TCP server speaking RESP2
//! to clients and the peer protocol to other nodes, which only drives the
//! node's [`Machine`](ringlab_core::machine::Machine): it reads frames, feeds them
//! to the machine, and carries out its effects (replies, peer messages,
//! timers), charging each operation's cost through the capacity hook.
//!
//! All time goes through [`NodeEnv::clock`]; every RNG is seeded from
//! [`NodeConfig::seed`]; every `select!` is `biased;`; every write is
//! flushed (the simulated TcpStream sends only on flush). The same code runs
//! on real tokio and inside madsim.
//!
//! # Layout
//! - [`clock`]: the one seam for time: every sleep, timeout and timestamp in
//!   the node and the load generator goes through a [`clock::Clock`], which
//!   knows the simulation's time scale (1 in a real node).
//! - [`config`], [`membership`]: re-exported from `ringlab_core`.
//! - [`hooks`]: [`Hooks`], [`OpCost`], [`Overloaded`], [`NoHooks`].
//! - [`server`]: [`serve`]: accept loop, active expiry, metrics listener,
//!   graceful shutdown.
//! - [`framed`]: one socket with its read and write buffers (clients and
//!   peers alike).
//! - [`connection`]: one connection: pipelined client commands, or peer mode.
//! - [`lossy`]: every connection's stream; in the simulator build, packet
//!   loss as TCP shows it (a retransmission timeout, head-of-line).
//! - [`peers`]: outgoing peer connections (pool, multiplexing, backoff).
//! - [`client`]: a tiny RESP client for tests and tools.
//! - [`state`]: the shared [`state::Node`]: the machine behind one lock.

pub mod client;
pub mod clock;
pub mod connection;
pub mod framed;
pub mod hooks;
pub mod lossy;
pub mod peers;
pub mod server;
pub mod state;

use std::sync::Arc;

use clock::Clock;

pub use hooks::{ChargeFuture, Hooks, NoHooks, OpCost, Overloaded};
/// The node's configuration is pure and lives in the core; re-exported
/// here, where embedders look for it.
pub use ringlab_core::config::{self, ConfigError, Member, NodeConfig};
pub use ringlab_core::membership::{self, Joined, Membership, MembershipError};
pub use server::{serve, serve_with};

/// What the environment provides: the clock and the hooks.
#[derive(Clone)]
pub struct NodeEnv {
    /// Model time (scale 1 in a real node).
    pub clock: Clock,
    /// The capacity hook ([`NoHooks`] in a real node).
    pub hooks: Arc<dyn Hooks>,
}

impl NodeEnv {
    /// A real node's environment: the system clock, no costs.
    pub fn real() -> Self {
        Self {
            clock: Clock::real(),
            hooks: Arc::new(NoHooks),
        }
    }
}
