//! The coordinator's I/O: drives the [`replication`](crate::replication)
//! state machines for one client operation, applying locally when this node
//! is a replica, forwarding to peers otherwise, and repairing stale replicas
//! after reads in the background.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::clock::Micros;
use crate::protocol::peer::{PeerRequest, PeerResponse};
use crate::replication::{
    QuorumFailure, ReadDecision, ReadOp, ReplicaFailure, WriteDecision, WriteOp,
};
use crate::ring::{NodeId, Placement};
use crate::store::{Entry, Version};

use super::hooks::{OpCost, Overloaded};
use super::state::Node;

/// Why a replicated operation failed; the command layer turns it into the
/// client's error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpError {
    /// The quorum was not met.
    Unavailable {
        /// Replicas that answered.
        got: usize,
        /// Replicas needed.
        needed: usize,
    },
    /// The write could not be stored for lack of memory.
    OutOfMemory,
    /// The capacity hook refused the operation.
    Overloaded,
}

impl From<Overloaded> for OpError {
    fn from(_: Overloaded) -> Self {
        OpError::Overloaded
    }
}

fn quorum_error(f: &QuorumFailure) -> OpError {
    if f.out_of_memory() {
        OpError::OutOfMemory
    } else {
        OpError::Unavailable {
            got: f.got,
            needed: f.needed,
        }
    }
}

/// An entry that is live at `now`: a value, not a tombstone, not expired.
pub fn live(e: Option<Entry>, now: Micros) -> Option<Entry> {
    e.filter(|e| e.value.is_some() && e.expires_at.is_none_or(|t| t > now))
}

impl Node {
    /// The key's preference list, into a fresh vector.
    pub fn replicas(&self, key: &[u8]) -> Vec<NodeId> {
        let m = self.membership();
        if m.members.len() == 1 {
            return vec![self.id];
        }
        let mut out = Vec::with_capacity(self.quorum.n);
        m.placement
            .preference_list_into(key, self.quorum.n, &mut out);
        out
    }

    /// Whether the key lives on this node alone (N = 1 and this node is its
    /// replica): then no quorum machinery is needed.
    pub fn local_only(&self, targets: &[NodeId]) -> bool {
        targets.len() == 1 && targets[0] == self.id
    }

    /// Applies a write to the local store, as a replica.
    pub fn apply_local(&self, key: Bytes, entry: Entry) -> Result<(), ReplicaFailure> {
        self.shards
            .put(key, entry, self.clock.now())
            .map(|_| ())
            .map_err(|_| ReplicaFailure::OutOfMemory)
    }

    /// A quorum read: the newest entry among R replicas (tombstones
    /// included; see [`live`]).
    pub async fn read(&self, key: &Bytes) -> Result<Option<Entry>, OpError> {
        let targets = self.replicas(key);
        if self.local_only(&targets) {
            return Ok(self.shards.get_versioned(key, self.clock.now()));
        }
        if self.quorum.r == 1
            && targets.contains(&self.id)
            && !self
                .local_reads
                .fetch_add(1, Relaxed)
                .is_multiple_of(u64::from(self.cfg.read_repair_every))
        {
            // This replica alone is the quorum; asking the others would only
            // serve read repair, which every `read_repair_every`-th read does.
            return Ok(self.shards.get_versioned(key, self.clock.now()));
        }
        let now = self.clock.now();
        let mut op: ReadOp<Entry> =
            ReadOp::new(targets, self.quorum.r, now, self.cfg.replica_timeout);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut local = None;
        while let Some(t) = op.poll_transmit() {
            if t == self.id {
                local = Some(self.shards.get_versioned(key, now));
            } else {
                self.peers
                    .send(t, PeerRequest::Get { key: key.clone() }, tx.clone());
            }
        }
        drop(tx);
        if let Some(v) = local {
            op.handle_reply(self.id, Ok(v));
        }
        let deadline = op.poll_timeout().unwrap_or(now);
        let sleep = self.clock.sleep_until(deadline);
        tokio::pin!(sleep);
        while op.decision().is_none() {
            tokio::select! {
                biased;
                m = rx.recv() => match m {
                    Some((from, res)) => op.handle_reply(from, read_result(res)),
                    None => op.handle_timeout(Micros::MAX),
                },
                _ = &mut sleep => op.handle_timeout(self.clock.now()),
            }
        }
        let decision = op.decision().cloned();
        self.finish_read(key.clone(), op, rx);
        match decision {
            Some(ReadDecision::Value(v)) => Ok(v),
            Some(ReadDecision::Failed(f)) => {
                self.metrics.quorum_failures.fetch_add(1, Relaxed);
                Err(quorum_error(&f))
            }
            None => unreachable!("the loop above only ends with a decision"),
        }
    }

    /// After a read's decision: waits (in the background) for the other
    /// replicas' answers, then sends the newest entry to the stale ones.
    fn finish_read(
        &self,
        key: Bytes,
        mut op: ReadOp<Entry>,
        mut rx: mpsc::UnboundedReceiver<(NodeId, Result<PeerResponse, ReplicaFailure>)>,
    ) {
        if op.is_finished() {
            repair(self, &key, &op);
            return;
        }
        let Some(node) = self.me.upgrade() else {
            return;
        };
        tokio::spawn(async move {
            let deadline = op.poll_timeout().unwrap_or(0);
            let sleep = node.clock.sleep_until(deadline);
            tokio::pin!(sleep);
            while !op.is_finished() {
                tokio::select! {
                    biased;
                    m = rx.recv() => match m {
                        Some((from, res)) => op.handle_reply(from, read_result(res)),
                        None => op.handle_timeout(Micros::MAX),
                    },
                    _ = &mut sleep => op.handle_timeout(node.clock.now()),
                }
            }
            repair(&node, &key, &op);
        });
    }

    /// A quorum write of `entry` (a value or a tombstone) under a version
    /// the caller took from [`Node::next_version`].
    pub async fn write(&self, key: Bytes, entry: Entry) -> Result<(), OpError> {
        let targets = self.replicas(&key);
        if self.local_only(&targets) {
            return self
                .apply_local(key, entry)
                .map_err(|_| OpError::OutOfMemory);
        }
        let now = self.clock.now();
        let mut op = WriteOp::new(targets, self.quorum.w, now, self.cfg.replica_timeout);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut local = None;
        while let Some(t) = op.poll_transmit() {
            if t == self.id {
                local = Some(self.apply_local(key.clone(), entry.clone()));
            } else {
                self.peers.send(
                    t,
                    PeerRequest::Put {
                        key: key.clone(),
                        entry: entry.clone(),
                    },
                    tx.clone(),
                );
            }
        }
        drop(tx);
        if let Some(res) = local {
            op.handle_ack(self.id, res);
        }
        let deadline = op.poll_timeout().unwrap_or(now);
        let sleep = self.clock.sleep_until(deadline);
        tokio::pin!(sleep);
        while op.decision().is_none() {
            tokio::select! {
                biased;
                m = rx.recv() => match m {
                    Some((from, res)) => op.handle_ack(from, write_result(res)),
                    None => op.handle_timeout(Micros::MAX),
                },
                _ = &mut sleep => op.handle_timeout(self.clock.now()),
            }
        }
        match op.decision() {
            Some(WriteDecision::Committed) => Ok(()),
            Some(WriteDecision::Failed(f)) => {
                self.metrics.quorum_failures.fetch_add(1, Relaxed);
                Err(quorum_error(f))
            }
            None => unreachable!("the loop above only ends with a decision"),
        }
    }

    /// A version newer than any this node handed out before: the model time
    /// now, or one more than the last one (strictly increasing per node).
    pub fn next_version(&self) -> Version {
        let now = self.clock.now();
        let prev = self
            .last_version
            .fetch_update(Relaxed, Relaxed, |last| Some(now.max(last + 1)))
            .unwrap_or_else(|v| v);
        Version {
            ts: now.max(prev + 1),
            node: self.id,
        }
    }

    /// Charges a client command's cost through the hooks.
    pub async fn charge_client(&self, bytes: usize) -> Result<(), OpError> {
        if self.hooks.is_free() {
            return Ok(());
        }
        self.hooks
            .charge(OpCost {
                bytes,
                replica: false,
            })
            .await
            .map_err(|e| {
                self.metrics.overloaded.fetch_add(1, Relaxed);
                OpError::from(e)
            })
    }
}

/// Sends the newest entry a read saw to the replicas that answered with an
/// older one.
fn repair(node: &Node, key: &Bytes, op: &ReadOp<Entry>) {
    let Some(newest) = op.newest().cloned() else {
        return;
    };
    for t in op.repairs() {
        // A replica that has nothing needs no tombstone.
        let had = op
            .replies()
            .iter()
            .find(|(n, _)| *n == t)
            .and_then(|(_, v)| v.as_ref());
        if newest.value.is_none() && had.is_none() {
            continue;
        }
        node.metrics.read_repairs.fetch_add(1, Relaxed);
        if t == node.id {
            let _ = node.apply_local(key.clone(), newest.clone());
        } else {
            // Nobody waits for a repair's ack.
            let (tx, _) = mpsc::unbounded_channel();
            node.peers.send(
                t,
                PeerRequest::Put {
                    key: key.clone(),
                    entry: newest.clone(),
                },
                tx,
            );
        }
    }
}

fn read_result(r: Result<PeerResponse, ReplicaFailure>) -> Result<Option<Entry>, ReplicaFailure> {
    match r? {
        PeerResponse::Entry(e) => Ok(e),
        PeerResponse::Ack => Err(ReplicaFailure::Other(
            "expected an entry, got an ack".into(),
        )),
        PeerResponse::Failed(f) => Err(f),
    }
}

fn write_result(r: Result<PeerResponse, ReplicaFailure>) -> Result<(), ReplicaFailure> {
    match r? {
        PeerResponse::Ack => Ok(()),
        PeerResponse::Entry(_) => Err(ReplicaFailure::Other(
            "expected an ack, got an entry".into(),
        )),
        PeerResponse::Failed(f) => Err(f),
    }
}
