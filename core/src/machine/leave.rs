//! Leaving: `CLUSTER LEAVE` on a node hands its keys to the nodes that own
//! them once it is gone, then tells every peer to remove it (`RL.FORGET`),
//! and stops being a replica. It keeps coordinating its clients' commands
//! (as a proxy: it is in no preference list any more) over the peer links
//! it has open.
//!
//! # Hand-off
//! The node walks its store in key-hash order, `join_stream_keys` keys a
//! batch, `join_stream_interval` between batches, and sends each key with
//! `RL.PUT` to every node of the key's preference list without it that is
//! not in the list with it (the nodes that gain the key). A batch whose
//! puts did not all succeed within the replica timeout goes again, up to
//! [`GIVE_UP`] times; then the hand-off moves on and counts the batch as
//! failed. Last writer wins makes a repeated put harmless.
//!
//! While it hands off, the node is still in everyone's placement and takes
//! writes; a write it applies after its key's batch went would be lost
//! with it, so every write it applies while leaving is also sent to the
//! key's gaining nodes at once.
//!
//! Once every batch went, it sends `RL.FORGET` (marked as a hand-off, so
//! survivors do not start pulling what they were just given) and applies
//! the membership without itself. A peer down at that moment keeps the
//! node as a member: `CLUSTER FORGET <id>` on it fixes that.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::Machine;
use super::stream::GIVE_UP;
use crate::clock::Micros;
use crate::membership::{Membership, MembershipError};
use crate::protocol::peer::{PeerRequest, PeerResponse, RequestId};
use crate::replication::ReplicaFailure;
use crate::ring::{NodeId, Placement, key_hash};

/// A hand-off in progress.
#[derive(Debug)]
pub(crate) struct Leave {
    /// The cluster once this node is gone.
    next: Membership,
    /// The hash of the last key of the last batch that went (None: none).
    after: Option<u64>,
    /// The cursor the batch in flight started from (to send it again).
    batch_from: Option<u64>,
    /// The batch's last hash.
    batch_to: Option<u64>,
    /// Puts of the batch not answered yet.
    inflight: BTreeSet<RequestId>,
    /// A put of the batch failed.
    failed: bool,
    /// Sends of the batch so far.
    attempts: u32,
    /// When the batch is given up on, or the next one may go.
    due: Micros,
}

fn micros(d: std::time::Duration) -> Micros {
    Micros::try_from(d.as_micros()).unwrap_or(Micros::MAX)
}

impl Machine {
    /// Starts leaving the cluster (`CLUSTER LEAVE`): returns the keys to
    /// hand off.
    pub fn leave(&mut self, now: Micros) -> Result<usize, MembershipError> {
        if self.leave.is_some() {
            return Err(MembershipError::Leaving(self.id));
        }
        let next = self.membership.without(self.id)?;
        self.leave = Some(Leave {
            next,
            after: None,
            batch_from: None,
            batch_to: None,
            inflight: BTreeSet::new(),
            failed: false,
            attempts: 0,
            due: now,
        });
        Ok(self.store.len())
    }

    /// Whether a hand-off is in progress.
    pub fn leaving(&self) -> bool {
        self.leave.is_some()
    }

    /// When leaving needs [`Machine::handle_timeout`] next.
    pub(crate) fn leave_deadline(&self) -> Option<Micros> {
        self.leave.as_ref().map(|l| l.due)
    }

    /// Whether `id` is a hand-off put in flight.
    pub(crate) fn leave_owns(&self, id: RequestId) -> bool {
        self.leave
            .as_ref()
            .is_some_and(|l| l.inflight.contains(&id))
    }

    /// An answer to a hand-off put.
    pub(crate) fn leave_answer(
        &mut self,
        now: Micros,
        id: RequestId,
        resp: &Result<PeerResponse, ReplicaFailure>,
    ) {
        let pause = micros(self.cfg.join_stream_interval);
        let Some(l) = &mut self.leave else {
            return;
        };
        l.inflight.remove(&id);
        if !matches!(resp, Ok(PeerResponse::Ack)) {
            l.failed = true;
        }
        if l.inflight.is_empty() {
            l.due = now.saturating_add(pause);
        }
    }

    /// The nodes that gain `key` when this node is gone.
    fn gaining(&self, next: &Membership, key: &[u8]) -> Vec<NodeId> {
        let n = self.quorum.n;
        let (mut now_list, mut next_list) = (Vec::new(), Vec::new());
        self.membership
            .placement
            .preference_list_into(key, n, &mut now_list);
        next.placement.preference_list_into(key, n, &mut next_list);
        next_list.retain(|t| !now_list.contains(t));
        next_list
    }

    /// Timers: gives up on a late batch, sends the next (or the same
    /// again), and finishes once every batch went.
    pub(crate) fn leave_tick(&mut self, now: Micros) {
        let timeout = micros(self.cfg.replica_timeout);
        let Some(l) = &mut self.leave else {
            return;
        };
        if now < l.due {
            return;
        }
        if !l.inflight.is_empty() {
            // Late answers count as failures; the ids are forgotten.
            l.inflight.clear();
            l.failed = true;
        }
        let from = if l.failed && l.attempts < GIVE_UP {
            l.batch_from
        } else {
            if l.failed {
                self.metrics.stream.handoff_batches_failed += 1;
            }
            l.attempts = 0;
            l.batch_to.or(l.after)
        };
        l.after = from;
        l.failed = false;
        l.attempts += 1;
        l.due = now.saturating_add(timeout);
        let batch = self.leave_batch(now, from);
        let Some(l) = &mut self.leave else {
            return;
        };
        l.batch_from = from;
        l.batch_to = batch.last().map(|(h, _)| *h);
        if batch.is_empty() {
            return self.leave_finish();
        }
        for (_, key) in batch {
            self.leave_send(now, key);
        }
        if self.leave.as_ref().is_some_and(|l| l.inflight.is_empty()) {
            // Nothing to send in this batch (every key stays put).
            if let Some(l) = &mut self.leave {
                l.due = now;
            }
        }
    }

    /// The next batch after `from`: (hash, key), ascending, whole hashes.
    fn leave_batch(&self, now: Micros, from: Option<u64>) -> Vec<(u64, Bytes)> {
        let count = self.cfg.join_stream_keys.max(1);
        let mut keys: Vec<(u64, &[u8])> = self
            .store
            .iter()
            .filter(|(_, e)| !e.is_expired(now))
            .map(|(k, _)| (key_hash(k), k))
            .filter(|(h, _)| from.is_none_or(|f| *h > f))
            .collect();
        keys.sort_unstable();
        let mut out: Vec<(u64, Bytes)> = Vec::new();
        for (h, k) in keys {
            if out.len() >= count && out.last().is_some_and(|(l, _)| *l != h) {
                break;
            }
            out.push((h, Bytes::copy_from_slice(k)));
        }
        out
    }

    /// Sends `key`'s entry to the nodes that gain it, as part of the batch.
    fn leave_send(&mut self, now: Micros, key: Bytes) {
        let Some(entry) = self.store.peek_versioned(&key, now).cloned() else {
            return;
        };
        let Some(next) = self.leave.as_ref().map(|l| l.next.clone()) else {
            return;
        };
        for t in self.gaining(&next, &key) {
            self.metrics.stream.handoff_keys += 1;
            let req = PeerRequest::Put {
                key: key.clone(),
                entry: entry.clone(),
            };
            let id = self.send_detached(t, req);
            if let Some(l) = &mut self.leave {
                l.inflight.insert(id);
            }
        }
    }

    /// A write applied while leaving goes to the key's gaining nodes too.
    pub(crate) fn leave_forward(&mut self, key: &Bytes, now: Micros) {
        let Some(l) = &self.leave else {
            return;
        };
        let Some(entry) = self.store.peek_versioned(key, now).cloned() else {
            return;
        };
        for t in self.gaining(&l.next.clone(), key) {
            self.metrics.stream.handoff_forwarded += 1;
            let req = PeerRequest::Put {
                key: key.clone(),
                entry: entry.clone(),
            };
            self.send_detached(t, req);
        }
    }

    /// Every batch went: tells the peers, and leaves.
    fn leave_finish(&mut self) {
        let Some(l) = self.leave.take() else {
            return;
        };
        for p in self.peers() {
            let req = PeerRequest::Forget {
                node: self.id,
                handed_off: true,
            };
            self.send_detached(p, req);
        }
        self.membership = l.next;
        self.ae_placement_changed();
        self.metrics.stream.left = 1;
    }
}
