//! The capacity hook: the one interface through which a node pays for work.
//!
//! A real node has real CPUs, so its hooks cost nothing ([`NoHooks`]). In the
//! simulator computation takes no simulated time, so the harness implements
//! [`Hooks`] to make each operation wait for one of the node's modelled cores
//! (and to refuse work when the node's queue is full), and to add per-link
//! network delay.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use ringlab_core::ring::NodeId;

pub use ringlab_core::machine::OpCost;

/// The node is out of capacity: the operation was refused, not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("node overloaded: request queue full")]
pub struct Overloaded;

/// The future [`Hooks::charge`] returns.
pub type ChargeFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Overloaded>> + Send + 'a>>;

/// What the environment charges the node for its work.
pub trait Hooks: Send + Sync + 'static {
    /// Charge one operation's service time before executing it (client
    /// command applied locally, or a replica request from a peer). A real
    /// node returns at once; the simulator waits for one of the node's cores
    /// and holds it for the op's cost, or fails with Overloaded when its queue
    /// is full. The node answers Overloaded with `-OVERLOADED <msg>`.
    fn charge(&self, cost: OpCost) -> ChargeFuture<'_>;

    /// Extra one-way delay before sending a message to `peer` (per-link
    /// latency in the simulator). Default: zero.
    fn peer_delay(&self, _peer: NodeId) -> Duration {
        Duration::ZERO
    }

    /// Extra one-way delay of every message between this node and a
    /// client: a request waits it before it is charged and run, a reply
    /// before it is written (the node's extra latency in the simulator).
    /// Default: zero.
    fn client_delay(&self) -> Duration {
        Duration::ZERO
    }

    /// Whether `charge` always succeeds at once, so the node may skip
    /// calling it on its fast path. Default: false.
    fn is_free(&self) -> bool {
        false
    }
}

/// The real node's hooks: every operation is free.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {
    fn charge(&self, _cost: OpCost) -> ChargeFuture<'_> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn is_free(&self) -> bool {
        true
    }
}
