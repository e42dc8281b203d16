//! Hinted handoff: a coordinator keeps the writes (and FLUSHALLs) a
//! replica missed and delivers them when the replica is back, so it catches
//! up without waiting for a read to repair it.
//!
//! With `hinted_handoff` on, each quorum write carries a [`Watch`]: the key,
//! the entry and the replicas that have not acknowledged it. A replica that
//! fails (unreachable, overloaded, suspected by the failure detector) or
//! has not answered by the replica timeout leaves a hint (target, key,
//! entry) in a bounded store; the write's command does not wait for this,
//! the op lingers without it, as a read does for repairs. A replica that
//! answers out of memory leaves none: it would refuse the replay too.
//!
//! A FLUSHALL that a peer did not acknowledge by the replica timeout leaves
//! a hint of its own ([`Missed::Flush`]): without it, reads that peer
//! coordinates would still see the values the flush removed. A replayed
//! flush removes only what is not newer than it (see `Store::flush`).
//!
//! Hints go out as ordinary [`PeerRequest::Put`]s (or `Flush`es), at most
//! [`BATCH`] in flight per target, oldest first: when the target is heard
//! from (any answer, a heartbeat among them, see [`super::liveness`]), and
//! on a retry timer that backs off from `replica_timeout` to
//! [`BACKOFF_MAX`] times it while deliveries fail. An acked hint is
//! removed; a failed or unanswered one stays for the next try. Last writer
//! wins makes replays safe: a hint older than what the replica has is acked
//! and changes nothing.
//!
//! The store holds `handoff_max_hints` hints; one more drops the oldest
//! (counted in `hints_dropped`): a bounded store trades completeness for
//! memory, and read repair is still there for what is dropped. Without
//! sloppy quorum hints only make replicas converge, never meet a quorum;
//! with it ([`super::sloppy`]) a stand-in's hint counts towards W.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::Machine;
use crate::clock::Micros;
use crate::config::NodeConfig;
use crate::protocol::peer::{PeerRequest, PeerResponse, RequestId};
use crate::replication::ReplicaFailure;
use crate::ring::NodeId;
use crate::store::{Entry, Version};

/// Hint deliveries in flight to one target at most: a recovering replica
/// gets a steady stream, not the whole backlog at once.
pub const BATCH: usize = 16;

/// The retry delay grows up to this many replica timeouts.
pub const BACKOFF_MAX: u64 = 32;

/// What a replica missed, kept for it.
#[derive(Debug, Clone)]
pub(crate) struct Hint {
    /// The replica that missed it.
    pub(crate) target: NodeId,
    /// What it missed.
    pub(crate) missed: Missed,
}

/// A write or a flush.
#[derive(Debug, Clone)]
pub(crate) enum Missed {
    /// The entry the coordinator wrote under `key`.
    Put { key: Bytes, entry: Entry },
    /// A FLUSHALL at its version.
    Flush(Version),
}

impl Hint {
    /// A hint of a write.
    pub(crate) fn put(target: NodeId, key: Bytes, entry: Entry) -> Self {
        let missed = Missed::Put { key, entry };
        Hint { target, missed }
    }

    /// A hint of a FLUSHALL at `version`.
    pub(crate) fn flush(target: NodeId, version: Version) -> Self {
        let missed = Missed::Flush(version);
        Hint { target, missed }
    }

    /// The request that delivers it.
    fn request(&self) -> PeerRequest {
        match &self.missed {
            Missed::Put { key, entry } => PeerRequest::Put {
                key: key.clone(),
                entry: entry.clone(),
            },
            &Missed::Flush(version) => PeerRequest::Flush { version },
        }
    }
}

/// A hint in the store.
struct Stored {
    /// The hint.
    hint: Hint,
    /// A delivery of it is in flight.
    sending: bool,
}

/// A hint delivery in flight.
struct Delivery {
    /// To whom.
    target: NodeId,
    /// Which hint.
    seq: u64,
    /// When it counts as failed if unanswered.
    deadline: Micros,
}

/// The hint store and its deliveries.
pub(crate) struct Handoff {
    /// Hinted handoff is on.
    on: bool,
    /// Hints kept at most.
    max: usize,
    /// How long a delivery waits for its ack; the first retry delay.
    timeout: Micros,
    /// Hints by sequence number: oldest first, the order they drop in.
    hints: BTreeMap<u64, Stored>,
    /// Each target's hints.
    by_target: BTreeMap<NodeId, BTreeSet<u64>>,
    /// The next sequence number.
    next_seq: u64,
    /// Deliveries in flight by request id.
    inflight: BTreeMap<RequestId, Delivery>,
    /// Deliveries in flight per target.
    busy: BTreeMap<NodeId, usize>,
    /// When to try every target again (None: no retry pending).
    retry_at: Option<Micros>,
    /// The next retry delay.
    backoff: Micros,
}

impl Handoff {
    /// The store of a node configured by `cfg`.
    pub(crate) fn new(cfg: &NodeConfig) -> Self {
        let timeout = (cfg.replica_timeout.as_micros() as Micros).max(1);
        Self {
            on: cfg.hinted_handoff,
            max: cfg.handoff_max_hints.max(1),
            timeout,
            hints: BTreeMap::new(),
            by_target: BTreeMap::new(),
            next_seq: 0,
            inflight: BTreeMap::new(),
            busy: BTreeMap::new(),
            retry_at: None,
            backoff: timeout,
        }
    }

    /// Whether hinted handoff is on.
    pub(crate) fn is_on(&self) -> bool {
        self.on
    }

    /// Hints waiting now.
    pub(crate) fn pending(&self) -> usize {
        self.hints.len()
    }

    /// When the handoff timer must fire: a retry, or a delivery's deadline.
    pub(crate) fn deadline(&self) -> Option<Micros> {
        let first = self.inflight.values().map(|d| d.deadline).min();
        match (self.retry_at, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Keeps `hint`; returns how many hints were dropped to make room.
    fn push(&mut self, hint: Hint) -> u64 {
        let mut dropped = 0;
        while self.hints.len() >= self.max {
            let Some((seq, old)) = self.hints.pop_first() else {
                break;
            };
            self.unindex(old.hint.target, seq);
            dropped += 1;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_target.entry(hint.target).or_default().insert(seq);
        let stored = Stored {
            hint,
            sending: false,
        };
        self.hints.insert(seq, stored);
        dropped
    }

    fn unindex(&mut self, target: NodeId, seq: u64) {
        if let Some(set) = self.by_target.get_mut(&target) {
            set.remove(&seq);
            if set.is_empty() {
                self.by_target.remove(&target);
            }
        }
    }

    /// Up to the target's free delivery slots of its oldest hints not in
    /// flight, marked in flight.
    fn take_batch(&mut self, target: NodeId) -> Vec<(u64, PeerRequest)> {
        let room = BATCH.saturating_sub(self.busy.get(&target).copied().unwrap_or(0));
        let Some(seqs) = self.by_target.get(&target) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for &seq in seqs {
            if out.len() >= room {
                break;
            }
            let s = self.hints.get_mut(&seq).expect("indexed hints exist");
            if !s.sending {
                s.sending = true;
                out.push((seq, s.hint.request()));
            }
        }
        out
    }

    /// Delivery `id` ended; returns it (None: not a hint delivery).
    fn settle(&mut self, id: RequestId) -> Option<Delivery> {
        let d = self.inflight.remove(&id)?;
        if let Some(n) = self.busy.get_mut(&d.target) {
            *n -= 1;
            if *n == 0 {
                self.busy.remove(&d.target);
            }
        }
        Some(d)
    }

    /// A delivery failed: its hint waits for the next try, which is
    /// scheduled (backing off) unless one already is.
    fn failed(&mut self, seq: u64, now: Micros) {
        if let Some(s) = self.hints.get_mut(&seq) {
            s.sending = false;
        }
        if self.retry_at.is_none() {
            self.arm_retry(now);
            self.backoff = (self.backoff * 2).min(self.timeout * BACKOFF_MAX);
        }
    }

    /// Schedules a retry after the current delay, unless one is scheduled.
    fn arm_retry(&mut self, now: Micros) {
        if self.retry_at.is_none() {
            self.retry_at = Some(now.saturating_add(self.backoff));
        }
    }
}

/// What a quorum write keeps to hint the replicas that miss it.
#[derive(Debug)]
pub(crate) struct Watch {
    /// The key written.
    key: Bytes,
    /// The entry written.
    entry: Entry,
    /// Remote replicas that have not answered yet.
    pending: Vec<NodeId>,
    /// When those still pending get hints (the replica timeout).
    deadline: Micros,
}

impl Watch {
    /// A watch over `targets` (this node, `me`, is not watched).
    pub(crate) fn new(
        key: &Bytes,
        entry: &Entry,
        targets: &[NodeId],
        me: NodeId,
        deadline: Micros,
    ) -> Self {
        Self {
            key: key.clone(),
            entry: entry.clone(),
            pending: targets.iter().copied().filter(|&t| t != me).collect(),
            deadline,
        }
    }

    /// Replica `from` answered: the hint it needs, if it failed.
    pub(crate) fn answer(
        &mut self,
        from: NodeId,
        res: &Result<(), ReplicaFailure>,
    ) -> Option<Hint> {
        let i = self.pending.iter().position(|&t| t == from)?;
        self.pending.swap_remove(i);
        match res {
            Ok(()) | Err(ReplicaFailure::OutOfMemory) => None,
            Err(_) => Some(self.hint(from)),
        }
    }

    /// The key and entry written.
    pub(crate) fn write(&self) -> (&Bytes, &Entry) {
        (&self.key, &self.entry)
    }

    /// The deadline passed: a hint for every replica still silent.
    pub(crate) fn expire(&mut self, now: Micros) -> Vec<Hint> {
        if now < self.deadline {
            return Vec::new();
        }
        let silent = std::mem::take(&mut self.pending);
        silent.into_iter().map(|t| self.hint(t)).collect()
    }

    /// When the watch must be woken (None: every replica answered).
    pub(crate) fn due(&self) -> Option<Micros> {
        (!self.pending.is_empty()).then_some(self.deadline)
    }

    fn hint(&self, target: NodeId) -> Hint {
        Hint::put(target, self.key.clone(), self.entry.clone())
    }
}

impl Machine {
    /// A watch for a write of `key` to `targets`, when handoff is on.
    pub(crate) fn watch_write(
        &self,
        now: Micros,
        key: &Bytes,
        entry: &Entry,
        targets: &[NodeId],
    ) -> Option<Box<Watch>> {
        let deadline = now.saturating_add(self.cfg.replica_timeout.as_micros() as Micros);
        self.handoff
            .is_on()
            .then(|| Box::new(Watch::new(key, entry, targets, self.id, deadline)))
    }

    /// Keeps hints for replicas that missed a write.
    pub(crate) fn keep_hints(&mut self, now: Micros, hints: impl IntoIterator<Item = Hint>) {
        for h in hints {
            self.metrics.hints_stored += 1;
            self.metrics.hints_dropped += self.handoff.push(h);
            self.handoff.arm_retry(now);
        }
        self.metrics.hints_pending = self.handoff.pending() as u64;
    }

    /// `target` was heard from: deliver its hints unless a retry is
    /// already scheduled (a failing target is not hammered per answer).
    pub(crate) fn handoff_wake(&mut self, now: Micros, target: NodeId) {
        if !self.handoff.by_target.contains_key(&target) {
            return;
        }
        if self.handoff.retry_at.is_none_or(|t| t <= now) {
            self.deliver_hints(now, target);
        }
    }

    /// Sends `target` its oldest hints not in flight, as many as fit.
    fn deliver_hints(&mut self, now: Micros, target: NodeId) {
        let deadline = now.saturating_add(self.handoff.timeout);
        for (seq, req) in self.handoff.take_batch(target) {
            let id = self.send_detached(target, req);
            let d = Delivery {
                target,
                seq,
                deadline,
            };
            self.handoff.inflight.insert(id, d);
            *self.handoff.busy.entry(target).or_default() += 1;
        }
    }

    /// The answer to request `id` if it was a hint delivery (true), else
    /// nothing is done (false).
    pub(crate) fn hint_answered(
        &mut self,
        now: Micros,
        id: RequestId,
        resp: &Result<PeerResponse, ReplicaFailure>,
    ) -> bool {
        let Some(d) = self.handoff.settle(id) else {
            return false;
        };
        if !matches!(resp, Ok(PeerResponse::Ack)) {
            self.handoff.failed(d.seq, now);
            return true;
        }
        if self.handoff.hints.remove(&d.seq).is_some() {
            self.handoff.unindex(d.target, d.seq);
            self.metrics.hints_delivered += 1;
            self.metrics.hints_pending = self.handoff.pending() as u64;
        }
        self.handoff.backoff = self.handoff.timeout;
        self.deliver_hints(now, d.target);
        true
    }

    /// The handoff timer: unanswered deliveries fail; a due retry tries
    /// every target the detector does not suspect.
    pub(crate) fn handoff_tick(&mut self, now: Micros) {
        if !self.handoff.is_on() {
            return;
        }
        let late: Vec<RequestId> = (self.handoff.inflight.iter())
            .filter(|(_, d)| d.deadline <= now)
            .map(|(&id, _)| id)
            .collect();
        for id in late {
            if let Some(d) = self.handoff.settle(id) {
                self.handoff.failed(d.seq, now);
            }
        }
        if self.handoff.retry_at.is_none_or(|t| t > now) {
            return;
        }
        self.handoff.retry_at = None;
        let targets: Vec<NodeId> = self.handoff.by_target.keys().copied().collect();
        for t in targets {
            if !self.liveness.suspects(t, now) {
                self.deliver_hints(now, t);
            }
        }
    }
}
