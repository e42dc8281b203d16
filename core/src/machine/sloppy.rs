//! Sloppy quorum: a write whose replica is down is held by a stand-in,
//! and the stand-in's ack counts towards W (Dynamo's rule).
//!
//! With `sloppy_quorum` on (it needs `hinted_handoff`), when a replica of
//! a write is suspected by the failure detector, or its request fails at
//! once because its link is down, the coordinator asks the first node
//! after the key's N replicas on the ring that is neither a target of the
//! write already nor suspected: a [`PeerRequest::Hint`]. The stand-in
//! keeps the write in its hint store for that replica and acknowledges;
//! its hinted handoff ([`super::handoff`]) delivers it when the replica is
//! heard from again. A stand-in that is this node keeps the hint itself.
//!
//! What it buys and costs: writes stay available while fewer than W
//! replicas are reachable, but a quorum read no longer overlaps every
//! acknowledged write (the stand-ins are not read), so R + W > N stops
//! promising fresh reads until the hints are delivered, and a write held
//! only by a stand-in is lost if the stand-in dies before delivering it.
//! One stand-in is asked per failed replica; a replica that answers too
//! late (the replica timeout) gets none: by then the write has failed.

use bytes::Bytes;

use super::handoff::Hint;
use super::quorum::{Waiting, write_result};
use super::{Machine, OpId};
use crate::clock::Micros;
use crate::protocol::peer::{PeerRequest, PeerResponse};
use crate::replication::{ReplicaFailure, WriteOp};
use crate::ring::{NodeId, Placement};
use crate::store::Entry;

impl Machine {
    /// The node that may stand in for a failed replica of a write of
    /// `key`: the first after the key's N replicas on the ring that is not
    /// a target of `op` and not suspected. None when sloppy quorum is off.
    fn stand_in_for(&self, now: Micros, key: &[u8], op: &WriteOp) -> Option<NodeId> {
        if !self.cfg.sloppy_quorum {
            return None;
        }
        let mut list = Vec::new();
        let all = self.membership.members.len();
        self.membership
            .placement
            .preference_list_into(key, all, &mut list);
        list.into_iter()
            .skip(self.quorum.n)
            .find(|&c| !op.is_target(c) && (c == self.id || !self.liveness.suspects(c, now)))
    }

    /// `owner`, a replica of op `id`'s write, failed: with sloppy quorum
    /// on, adds a stand-in to `op` and sends it the write (a stand-in that
    /// is this node keeps the hint and acks at once). Call before telling
    /// `op` of the owner's failure.
    pub(crate) fn stand_in(
        &mut self,
        now: Micros,
        id: OpId,
        op: &mut WriteOp,
        owner: NodeId,
        (key, entry): (&Bytes, &Entry),
    ) {
        let Some(c) = self.stand_in_for(now, key, op) else {
            return;
        };
        op.add_stand_in(c);
        self.metrics.stand_ins += 1;
        if c == self.id {
            let ack = self.hold_for(now, owner, key.clone(), entry.clone());
            op.handle_ack(c, write_result(Ok(ack)));
        } else {
            let req = PeerRequest::Hint {
                owner,
                key: key.clone(),
                entry: entry.clone(),
            };
            self.send(id, c, req);
        }
    }

    /// A replica of op `id`'s write answered `res`, a failure: asks a
    /// stand-in first (when `from` is one of the key's replicas, not a
    /// stand-in itself), then counts the failure.
    pub(crate) fn write_failed(
        &mut self,
        now: Micros,
        id: OpId,
        from: NodeId,
        res: Result<(), ReplicaFailure>,
    ) {
        // Out of the map while the stand-in is asked: asking borrows the
        // machine.
        let Some(mut op) = self.ops.remove(&id) else {
            return;
        };
        if let Waiting::Write { op: w, watch } = &mut op.wait {
            if let Some(watch) = watch.as_ref() {
                let (key, entry) = watch.write();
                let (key, entry) = (key.clone(), entry.clone());
                if self.replicas(&key).contains(&from) && w.is_target(from) {
                    self.stand_in(now, id, w, from, (&key, &entry));
                }
            }
            w.handle_ack(from, res);
        }
        // The stand-in's request is this op's: the op parked long ago, so
        // nothing else would claim it (the next op to park would, and forget
        // it when that op ended, dropping the stand-in's ack).
        op.reqs.extend(self.staged.drain(..));
        self.ops.insert(id, op);
    }

    /// Serves a stand-in request: keeps the write as a hint for `owner`.
    /// Refused when this node keeps no hints; applied at once when it is
    /// the owner itself (a peer's view of the ring may differ).
    pub(crate) fn hold_for(
        &mut self,
        now: Micros,
        owner: NodeId,
        key: Bytes,
        entry: Entry,
    ) -> PeerResponse {
        if owner == self.id {
            return match self.apply_local(key, entry, now) {
                Ok(()) => PeerResponse::Ack,
                Err(f) => PeerResponse::Failed(f),
            };
        }
        if !self.handoff.is_on() {
            return PeerResponse::Failed(ReplicaFailure::Other(
                "this node keeps no hints (hinted_handoff is off)".into(),
            ));
        }
        self.keep_hints(now, Some(Hint::put(owner, key, entry)));
        PeerResponse::Ack
    }
}
