//! The node: the only async code in the crate. A TCP server speaking RESP2
//! to clients and the peer protocol to other nodes, which only drives the
//! node's [`Machine`](crate::machine::Machine): it reads frames, feeds them
//! to the machine, and carries out its effects (replies, peer messages,
//! timers), charging each operation's cost through the capacity hook.
//!
//! All time goes through [`NodeEnv::clock`]; every RNG is seeded from
//! [`NodeConfig::seed`]; every `select!` is `biased;`; every write is
//! flushed (the simulated TcpStream sends only on flush). The same code runs
//! on real tokio and inside madsim.
//!
//! # Layout
//! - [`config`]: [`NodeConfig`], [`Member`], the cluster file, size and
//!   duration syntax.
//! - [`hooks`]: [`Hooks`], [`OpCost`], [`Overloaded`], [`NoHooks`].
//! - [`server`]: [`serve`]: accept loop, active expiry, metrics listener,
//!   graceful shutdown.
//! - [`connection`]: one connection: pipelined client commands, or peer mode.
//! - [`peers`]: outgoing peer connections (pool, multiplexing, backoff).
//! - [`membership`]: the member list and placement, changeable at run time
//!   (a node joining).
//! - [`client`]: a tiny RESP client for tests and tools.
//! - [`state`]: the shared [`state::Node`]: the machine behind one lock.

pub mod client;
pub mod config;
pub mod connection;
pub mod hooks;
pub mod membership;
pub mod peers;
pub mod server;
pub mod state;

use std::sync::Arc;

use crate::clock::Clock;

pub use config::{ConfigError, Member, NodeConfig};
pub use hooks::{ChargeFuture, Hooks, NoHooks, OpCost, Overloaded};
pub use membership::{Joined, Membership, MembershipError};
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
