//! Streaming: a node that starts (a join, or a restart with an empty
//! store), or whose cluster lost a member, pulls the keys it replicates
//! from their previous owners instead of waiting for writes, read repair or
//! anti-entropy to bring them. On only with `join_stream`.
//!
//! # Who sends what
//! The pulling node J asks every peer for the entries it holds (tombstones
//! included) of the keys J replicates under the current placement. Each
//! holder sends its copy, so a key comes as many times as it has holders
//! (N on a ring join, where the old replicas keep their copies): that costs
//! transfer, but needs no agreement on who held what before, so joins in a
//! row, or a join while another node still pulls, lose nothing as long as
//! some node still holds the key. A member added while J pulls is asked
//! too, from the start.
//!
//! # Batches
//! One request in flight per source (`RL.STREAM`), at most
//! `join_stream_keys` keys each, in key-hash order from a cursor (the hash
//! of the last key received; a batch never splits keys of one hash, so the
//! cursor is exact), the next one `join_stream_interval` after the answer.
//! Entries apply by last writer wins, so a write that reached J after the
//! join is never overwritten by an older streamed copy. A source that
//! fails [`GIVE_UP`] times in a row is given up on (counted): what only it
//! held is left to writes, read repair and anti-entropy.
//!
//! # Forwarding while streaming
//! A key J replicates that some source has not streamed yet (its cursor
//! is before the key's hash) and that J does not hold is *moving*. J does
//! not answer it from its store: as a replica it answers `-MOVING`, and
//! the coordinator adds the next node of the key's preference list, one
//! longer than N (on a ring join, the replica J displaced: its previous
//! owner), to the read, again at each `-MOVING`; as a coordinator J reads
//! from the other replicas and that next node instead of itself. A key J
//! holds is answered: whatever J holds arrived after it started, from a
//! write or the stream.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::Machine;
use crate::clock::Micros;
use crate::protocol::peer::{PeerRequest, PeerResponse, RequestId};
use crate::replication::ReplicaFailure;
use crate::ring::{AnyPlacement, NodeId, Placement, key_hash};
use crate::store::Entry;

/// Failures in a row after which a source is skipped.
pub const GIVE_UP: u32 = 8;

/// What a node pulling its keys knows of the pull.
#[derive(Debug)]
pub(crate) struct Stream {
    /// Keys per batch.
    batch: usize,
    /// Pause between a source's batches, and the first retry's backoff.
    pause: Micros,
    /// How long an answer may take.
    timeout: Micros,
    /// Per source, by id.
    sources: BTreeMap<NodeId, Source>,
}

/// One source's progress.
#[derive(Debug, Clone, Copy, Default)]
struct Source {
    /// The hash of the last key received (None: nothing yet).
    after: Option<u64>,
    /// It has sent everything.
    done: bool,
    /// The request in flight and when it is given up on.
    inflight: Option<(RequestId, Micros)>,
    /// When the next request may go.
    next_at: Micros,
    /// Failures in a row.
    failures: u32,
}

fn micros(d: std::time::Duration) -> Micros {
    Micros::try_from(d.as_micros()).unwrap_or(Micros::MAX)
}

/// Whether `node` is among the `n` replicas of the key hashed `h`.
fn replicates(
    placement: &AnyPlacement,
    n: usize,
    h: u64,
    node: NodeId,
    buf: &mut Vec<NodeId>,
) -> bool {
    placement.preference_list_for_hash_into(h, n, buf);
    buf.contains(&node)
}

impl Machine {
    /// Replicas per key as the placement sees them now.
    fn stream_n(&self) -> usize {
        if self.solo() { 1 } else { self.quorum.n }
    }

    /// Starts (or starts over) pulling from every peer, when `join_stream`
    /// is on and there are peers.
    pub(crate) fn stream_start(&mut self, now: Micros) {
        let peers = self.peers();
        if !self.cfg.join_stream || peers.is_empty() {
            self.stream = None;
            return;
        }
        let source = Source {
            next_at: now,
            ..Source::default()
        };
        self.stream = Some(Stream {
            batch: self.cfg.join_stream_keys.max(1),
            pause: micros(self.cfg.join_stream_interval),
            timeout: micros(self.cfg.replica_timeout),
            sources: peers.into_iter().map(|p| (p, source)).collect(),
        });
        self.metrics.stream.pulls += 1;
    }

    /// Whether this node is still pulling.
    pub fn streaming(&self) -> bool {
        self.stream.is_some()
    }

    /// When streaming needs [`Machine::handle_timeout`] next.
    pub(crate) fn stream_deadline(&self) -> Option<Micros> {
        let s = self.stream.as_ref()?;
        s.sources
            .values()
            .filter(|src| !src.done)
            .map(|src| src.inflight.map_or(src.next_at, |(_, d)| d))
            .min()
    }

    /// Whether `id` is a streaming request in flight.
    pub(crate) fn stream_owns(&self, id: RequestId) -> bool {
        self.stream.as_ref().is_some_and(|s| {
            s.sources
                .values()
                .any(|src| src.inflight.is_some_and(|(r, _)| r == id))
        })
    }

    /// Timers: gives up on late answers, and sends the batches that are due.
    pub(crate) fn stream_tick(&mut self, now: Micros) {
        let Some(s) = &self.stream else {
            return;
        };
        let late: Vec<NodeId> = s
            .sources
            .iter()
            .filter(|(_, src)| src.inflight.is_some_and(|(_, d)| now >= d))
            .map(|(&p, _)| p)
            .collect();
        for p in late {
            self.stream_failed(now, p);
        }
        let Some(s) = &self.stream else {
            return;
        };
        let due: Vec<(NodeId, Option<u64>)> = s
            .sources
            .iter()
            .filter(|(_, src)| !src.done && src.inflight.is_none() && now >= src.next_at)
            .map(|(&p, src)| (p, src.after))
            .collect();
        for (p, after) in due {
            self.stream_send(now, p, after);
        }
    }

    fn stream_send(&mut self, now: Micros, to: NodeId, after: Option<u64>) {
        let Some(s) = &self.stream else {
            return;
        };
        let req = PeerRequest::Stream {
            from: self.id,
            after,
            count: s.batch as u64,
        };
        let deadline = now.saturating_add(s.timeout);
        let id = self.send_detached(to, req);
        if let Some(src) = self.stream.as_mut().and_then(|s| s.sources.get_mut(&to)) {
            src.inflight = Some((id, deadline));
        }
    }

    /// Source `p` failed (no answer, or a refusal): retry later, with a
    /// doubling backoff, or give it up after [`GIVE_UP`] failures in a row.
    fn stream_failed(&mut self, now: Micros, p: NodeId) {
        let Some(s) = &mut self.stream else {
            return;
        };
        let pause = s.pause.max(1);
        let Some(src) = s.sources.get_mut(&p) else {
            return;
        };
        src.inflight = None;
        src.failures += 1;
        self.metrics.stream.batches_failed += 1;
        if src.failures < GIVE_UP {
            src.next_at = now.saturating_add(pause << src.failures.min(16));
            return;
        }
        self.metrics.stream.sources_skipped += 1;
        src.done = true;
        self.stream_finish_if_done();
    }

    /// A member joined while this node pulls: it is asked too.
    pub(crate) fn stream_add_source(&mut self, id: NodeId) {
        if let Some(s) = &mut self.stream
            && id != self.id
        {
            s.sources.insert(id, Source::default());
        }
    }

    /// The answer to a streaming request sent to `from`.
    pub(crate) fn stream_answer(
        &mut self,
        now: Micros,
        from: NodeId,
        resp: Result<PeerResponse, ReplicaFailure>,
    ) {
        let Ok(PeerResponse::Streamed { next, entries }) = resp else {
            return self.stream_failed(now, from);
        };
        self.metrics.stream.batches += 1;
        for (k, e) in entries {
            self.metrics.stream.keys_received += 1;
            // Out of memory leaves the key to a write or a repair.
            let _ = self.apply_local(k, e, now);
        }
        let Some(s) = &mut self.stream else {
            return;
        };
        let pause = s.pause;
        if let Some(src) = s.sources.get_mut(&from) {
            src.inflight = None;
            src.failures = 0;
            src.after = next.or(src.after);
            src.done = next.is_none();
            src.next_at = now.saturating_add(pause);
        }
        self.stream_finish_if_done();
    }

    fn stream_finish_if_done(&mut self) {
        if self
            .stream
            .as_ref()
            .is_some_and(|s| s.sources.values().all(|src| src.done))
        {
            self.stream = None;
            self.metrics.stream.pulls_done += 1;
        }
    }

    /// Whether a read of `key` must not be answered from this node's store
    /// (see the module doc): the key is moving here.
    pub(crate) fn stream_pending(&self, key: &[u8], now: Micros) -> bool {
        let Some(s) = &self.stream else {
            return false;
        };
        let h = key_hash(key);
        let mut buf = Vec::new();
        // Keys this node does not replicate are never pulled here: a read
        // of one (this node as a previous owner) is answered as usual.
        if !replicates(
            &self.membership.placement,
            self.stream_n(),
            h,
            self.id,
            &mut buf,
        ) {
            return false;
        }
        let arrived = s
            .sources
            .values()
            .all(|p| p.done || p.after.is_some_and(|a| a >= h));
        !arrived && self.store.peek_versioned(key, now).is_none()
    }

    /// Who to read a moving key from instead of this node: the other
    /// replicas, and the next node of the key's list.
    pub(crate) fn stream_forward_targets(&self, key: &[u8]) -> Vec<NodeId> {
        let mut list = Vec::new();
        self.membership
            .placement
            .preference_list_into(key, self.stream_n() + 1, &mut list);
        list.retain(|&t| t != self.id);
        list
    }

    /// Serves a peer's `RL.STREAM`: this node's entries of keys `from`
    /// replicates, after `after` in hash order, `count` at most (more only
    /// to keep one hash's keys together).
    pub(crate) fn stream_serve(
        &mut self,
        now: Micros,
        from: NodeId,
        after: Option<u64>,
        count: u64,
    ) -> PeerResponse {
        if from == self.id || !self.membership.contains(from) {
            return PeerResponse::Failed(ReplicaFailure::Other(
                "RL.STREAM from a node that is not a peer".into(),
            ));
        }
        let count = usize::try_from(count)
            .unwrap_or(usize::MAX)
            .clamp(1, 100_000);
        let n = self.stream_n();
        let mut buf = Vec::new();
        let mut picked: Vec<(u64, &[u8], &Entry)> = Vec::new();
        for (k, e) in self.store.iter().filter(|(_, e)| !e.is_expired(now)) {
            let h = key_hash(k);
            if after.is_none_or(|a| h > a)
                && replicates(&self.membership.placement, n, h, from, &mut buf)
            {
                picked.push((h, k, e));
            }
        }
        // Ordered by (hash, key): the order is the stream's, whatever the
        // store's iteration order.
        picked.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let mut entries = Vec::with_capacity(count.min(picked.len()));
        let mut next = None;
        let mut last_hash = None;
        for (h, k, e) in picked {
            if entries.len() >= count && last_hash != Some(h) {
                next = last_hash;
                break;
            }
            last_hash = Some(h);
            entries.push((Bytes::copy_from_slice(k), e.clone()));
        }
        self.metrics.stream.keys_sent += entries.len() as u64;
        PeerResponse::Streamed { next, entries }
    }

    /// A replica answered `-MOVING` to read op `id` of `key`: adds the next
    /// node of the key's list (its previous owner) to the read.
    pub(crate) fn stream_redirect(&mut self, now: Micros, id: super::OpId, key: &Bytes) {
        let mut list = Vec::new();
        self.membership
            .placement
            .preference_list_into(key, self.stream_n() + 1, &mut list);
        let Some(op) = self.ops.get_mut(&id) else {
            return;
        };
        let super::quorum::Waiting::Read { op: r, .. } = &mut op.wait else {
            return;
        };
        if !list.into_iter().any(|t| r.add_target(t)) {
            return;
        }
        let Some(t) = r.poll_transmit() else {
            return;
        };
        self.metrics.stream.redirects += 1;
        if t == self.id {
            let local = self.store.get_versioned(key, now).cloned();
            if let Some(super::quorum::Waiting::Read { op: r, .. }) =
                self.ops.get_mut(&id).map(|o| &mut o.wait)
            {
                r.handle_reply(t, Ok(local));
            }
            return;
        }
        self.send(id, t, PeerRequest::Get { key: key.clone() });
        // The staged request is this op's (dropped if the op is gone).
        match self.ops.get_mut(&id) {
            Some(op) => op.reqs.extend(self.staged.drain(..)),
            None => self.staged.clear(),
        }
    }
}
