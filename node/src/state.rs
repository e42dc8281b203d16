//! [`Node`]: the running node's shared state: the [`Machine`] behind one
//! lock, the routes of its effects, the clock, the hooks and the peers.
//!
//! Every task of the node (a client connection, a peer link, the timer)
//! feeds the machine the same way: lock, feed the event with the model time
//! now, carry out every effect it produced, unlock ([`Node::with_machine`]).
//! Effects are carried out under the lock, so the replies of one connection
//! reach its channel in the order the machine produced them, whichever task
//! produced them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::clock::{Clock, Micros};
use ringlab_core::machine::{ConnId, Effect, Machine, PeerView};
use ringlab_core::ring::NodeId;

use super::hooks::Hooks;
use super::peers::Peers;
use ringlab_core::config::{Member, NodeConfig};
use ringlab_core::membership::{Joined, MembershipError};

/// What a client connection's task receives from the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnEvent {
    /// The replies of `count` commands, in order, in one buffer.
    Replies { bytes: Bytes, count: usize },
    /// Close after the replies (QUIT).
    Close,
    /// The client is a peer node: serve it as one.
    Peer(NodeId),
}

/// What a shutdown that ran out of time dropped: connections still holding
/// replies their clients had not read, and those replies' bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Connections that ended with replies unwritten.
    pub connections: usize,
    /// Reply bytes never written.
    pub bytes: u64,
}

/// The machine and where its replies go.
pub struct Core {
    /// The node's logic.
    pub machine: Machine,
    /// Each open client connection's channel.
    conns: BTreeMap<ConnId, mpsc::UnboundedSender<ConnEvent>>,
}

/// One running node.
pub struct Node {
    /// This node's id.
    pub id: NodeId,
    /// The configuration it started with.
    pub cfg: NodeConfig,
    /// The machine and the routes of its replies.
    core: Mutex<Core>,
    /// Model time.
    pub clock: Clock,
    /// The capacity hook.
    pub hooks: Arc<dyn Hooks>,
    /// Outgoing peer connections.
    pub peers: Peers,
    /// Client connections open now (checked against max_clients at accept).
    pub clients: AtomicUsize,
    /// What the shutdown dropped (see [`Node::note_dropped`]).
    dropped: Mutex<Dropped>,
}

impl Node {
    /// A node around `machine`; `peers` carries its requests.
    pub fn new(machine: Machine, clock: Clock, hooks: Arc<dyn Hooks>, peers: Peers) -> Self {
        Self {
            id: machine.id(),
            cfg: machine.config().clone(),
            core: Mutex::new(Core {
                machine,
                conns: BTreeMap::new(),
            }),
            clock,
            hooks,
            peers,
            clients: AtomicUsize::new(0),
            dropped: Mutex::new(Dropped::default()),
        }
    }

    /// A connection ended at the shutdown timeout with `bytes` of replies
    /// unwritten.
    pub fn note_dropped(&self, bytes: u64) {
        let mut d = self.dropped.lock().unwrap_or_else(|e| e.into_inner());
        d.connections += 1;
        d.bytes += bytes;
    }

    /// What the shutdown dropped so far.
    pub fn dropped(&self) -> Dropped {
        *self.dropped.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        // A panic while the lock was held is a bug, but it must not take
        // the whole node down with a poisoned lock: keep serving.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Feeds the machine through `f` at the model time now, then carries
    /// out every effect, all under the lock.
    pub fn with_machine<R>(&self, f: impl FnOnce(&mut Machine, Micros) -> R) -> R {
        let mut core = self.lock();
        let r = f(&mut core.machine, self.clock.now());
        self.dispatch(&mut core);
        r
    }

    /// Reads the machine without feeding it.
    pub fn inspect<R>(&self, f: impl FnOnce(&Machine) -> R) -> R {
        f(&self.lock().machine)
    }

    fn dispatch(&self, core: &mut Core) {
        while let Some(e) = core.machine.poll_effect() {
            let (conn, ev) = match e {
                // Every reply the connection got this turn, in one buffer:
                // one channel message, no copy.
                Effect::Reply {
                    conn,
                    bytes,
                    replies,
                } => (
                    conn,
                    ConnEvent::Replies {
                        bytes,
                        count: replies,
                    },
                ),
                Effect::Close { conn } => (conn, ConnEvent::Close),
                Effect::BecomePeer { conn, from } => (conn, ConnEvent::Peer(from)),
                Effect::Send { to, id, req } => {
                    self.peers.send(to, id, req);
                    continue;
                }
                Effect::AddPeer { member } => {
                    self.peers.add(member.id, member.addr);
                    continue;
                }
            };
            if let Some(tx) = core.conns.get(&conn) {
                let _ = tx.send(ev);
            }
        }
    }

    /// Opens a client connection from `remote` (the socket's peer address, if
    /// known): its id and the channel of its replies.
    pub fn open_client(
        &self,
        remote: Option<SocketAddr>,
    ) -> (ConnId, mpsc::UnboundedReceiver<ConnEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut core = self.lock();
        let id = core.machine.open_client_at(remote);
        core.conns.insert(id, tx);
        (id, rx)
    }

    /// Closes a client connection (or hands it over to peer mode).
    pub fn close_client(&self, conn: ConnId) {
        let mut core = self.lock();
        core.conns.remove(&conn);
        core.machine.close_client(conn);
    }

    /// Whether `id` is a member as this node sees the cluster.
    pub fn is_member(&self, id: NodeId) -> bool {
        self.inspect(|m| m.members().iter().any(|mb| mb.id == id))
    }

    /// Adds `member` to the running cluster as this node sees it: the
    /// placement changes at once and peer connections to the newcomer start
    /// (they are tasks of the caller's runtime node, so call this from the
    /// node itself). Keys are not moved.
    pub fn add_member(&self, member: Member) -> Result<Joined, MembershipError> {
        let joined = self.with_machine(|m, _| m.add_member(member.clone()))?;
        if member.id != self.id {
            self.peers.add(member.id, member.addr);
        }
        tracing::info!(
            id = self.id,
            joined = member.id,
            addr = %member.addr,
            members = joined.members,
            moved_fraction = joined.moved_fraction,
            "member joined"
        );
        Ok(joined)
    }

    /// Tells the machine what the peer links look like now (INFO).
    pub fn refresh_peer_views(&self) {
        let states = self.peers.states();
        let mut core = self.lock();
        for p in states {
            let view = PeerView {
                up: p.up,
                conns: p.conns,
                errors: p.errors,
            };
            core.machine.set_peer_view(p.id, view);
        }
    }
}
