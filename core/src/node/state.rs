//! [`Node`]: the state every task of a running node shares.

use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, RwLock, Weak};

use crate::clock::{Clock, Micros};
use crate::replication::Quorum;
use crate::ring::NodeId;
use crate::store::Policy;

use super::config::NodeConfig;
use super::hooks::Hooks;
use super::membership::Membership;
use super::metrics::Metrics;
use super::peers::Peers;
use super::shards::Shards;

/// The settings `CONFIG SET` can change at run time.
#[derive(Debug, Clone)]
pub struct Tunables {
    /// Memory limit, bytes (0: none).
    pub maxmemory: u64,
    /// Eviction policy.
    pub policy: Policy,
    /// Accepted and reported for clients that ask (there is no persistence).
    pub save: String,
    /// Accepted and reported for clients that ask; only "no" is valid.
    pub appendonly: String,
}

/// One running node.
pub struct Node {
    /// This node's id.
    pub id: NodeId,
    /// The configuration it started with.
    pub cfg: NodeConfig,
    /// N, R, W clamped to the cluster.
    pub quorum: Quorum,
    /// The members and the placement of keys on them; changes when a node
    /// joins (see [`Node::add_member`]). Requests take the read lock only
    /// for the placement lookup.
    pub membership: RwLock<Membership>,
    /// The local keyspace.
    pub shards: Shards,
    /// Outgoing peer connections.
    pub peers: Peers,
    /// Model time.
    pub clock: Clock,
    /// The capacity hook.
    pub hooks: Arc<dyn Hooks>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The last version's timestamp handed out (strictly increasing).
    pub last_version: AtomicU64,
    /// Local-only R=1 reads so far (see `NodeConfig::read_repair_every`).
    pub local_reads: AtomicU64,
    /// The next client id (CLIENT ID, HELLO).
    pub next_client_id: AtomicU64,
    /// Client connections open now.
    pub clients: AtomicUsize,
    /// What CONFIG SET may change.
    pub tunables: Mutex<Tunables>,
    /// Model time at start (INFO uptime).
    pub started_at: Micros,
    /// The port clients connect to (INFO).
    pub port: u16,
    /// A handle on itself, for background tasks that outlive a request.
    pub me: Weak<Node>,
}

impl Node {
    /// The tunables, tolerating a poisoned lock (they are plain values).
    pub fn tunables(&self) -> std::sync::MutexGuard<'_, Tunables> {
        self.tunables.lock().unwrap_or_else(|e| e.into_inner())
    }
}
