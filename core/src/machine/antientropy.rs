//! Anti-entropy: background repair of replicas that diverged, so that a node
//! that restarted empty, or missed writes during a partition, gets every key
//! it replicates back without waiting for a new write or a read repair.
//!
//! # What is compared
//! For every peer, the node keeps a [`Tree`] (see [`crate::merkle`]) over
//! the keys it holds that both it and that peer replicate under the current
//! placement, tombstones included. The trees follow the store through its
//! change log (`store::changes`): every write, delete, overwrite, eviction
//! and expiry is one XOR into a leaf, drained after each local write and
//! before each use. When the placement changes (a join) or the log
//! overflowed, the trees are rebuilt from the store in one pass.
//!
//! # A round
//! Every `anti_entropy_interval` the node (A) picks the next peer (B) in id
//! order, round robin, and:
//! 1. sends `AeSummary`: A's [`BUCKETS`] bucket hashes; B answers with its
//!    leaf hashes under every bucket that differs (`AeLeaves`);
//! 2. if any leaf differs, sends `AeKeys`: A's (key, version) list for the
//!    differing leaves (as many leaves as fit in `anti_entropy_keys` keys,
//!    starting after the last leaf it sent, so a leaf that keeps differing
//!    cannot starve the others); B answers `AeDelta`: the entries it holds
//!    newer than A's or that A lacks, and the keys A holds newer;
//! 3. A applies B's entries and pushes the wanted keys with `Put`. Last
//!    writer wins decides both ways, and tombstones travel like values, so
//!    a delete is not undone by a stale copy.
//!
//! At most `anti_entropy_keys` keys move per round (entries and pushes
//! together, each side bounding its share). A failed or late answer just
//! ends the round; the next interval starts another with the next peer.
//! Finding a leaf's keys is one pass over the store, paid only in a round
//! that found differing leaves; keeping per-leaf key lists instead would
//! double the memory every key costs.
//!
//! Trust: `from` in the requests names the sender's tree; peers are
//! authenticated members (RL.HELLO), so it is taken as given.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::{Effect, Machine, conns};
use crate::clock::Micros;
use crate::config::NodeConfig;
use crate::merkle::{self, BUCKETS, LEAVES, Tree, entry_digest};
use crate::protocol::peer::{PeerRequest, PeerResponse, RequestId};
use crate::replication::ReplicaFailure;
use crate::ring::{AnyPlacement, NodeId, Placement, key_hash};
use crate::store::{Entry, Store, Version};

/// A node's anti-entropy state (absent when it is off).
#[derive(Debug)]
pub(crate) struct AntiEntropy {
    /// Period of rounds, microseconds.
    interval: Micros,
    /// Keys one round may move.
    budget: usize,
    /// Per peer, the tree of the keys both replicate.
    trees: BTreeMap<NodeId, Tree>,
    /// The trees must be rebuilt from the store before use.
    stale: bool,
    /// When the next round starts.
    next_round: Micros,
    /// The peer of the last round (round robin).
    last_peer: Option<NodeId>,
    /// The leaf after the last one sent in `AeKeys` (rotation).
    leaf_cursor: u32,
    /// The round waiting for an answer.
    round: Option<Round>,
    /// Scratch preference list.
    buf: Vec<NodeId>,
}

/// The round in flight.
#[derive(Debug, Clone, Copy)]
struct Round {
    /// The peer compared with.
    peer: NodeId,
    /// The request whose answer is awaited.
    req: RequestId,
    /// When the round gives up on it.
    deadline: Micros,
    /// Which answer: `AeLeaves` (false) or `AeDelta` (true).
    keys: bool,
}

fn micros(d: std::time::Duration) -> Micros {
    Micros::try_from(d.as_micros()).unwrap_or(Micros::MAX)
}

/// Where the node's keys are and who shares them.
struct View<'a> {
    placement: &'a AnyPlacement,
    n: usize,
    me: NodeId,
}

impl AntiEntropy {
    /// The state for `cfg`, or None when anti-entropy is off. Turns on the
    /// store's change log.
    pub(crate) fn start(cfg: &NodeConfig, store: &mut Store, now: Micros) -> Option<Self> {
        let interval = micros(cfg.anti_entropy_interval?).max(1);
        store.track_changes();
        Some(Self {
            interval,
            budget: cfg.anti_entropy_keys.max(1),
            trees: BTreeMap::new(),
            stale: true,
            next_round: now.saturating_add(interval),
            last_peer: None,
            leaf_cursor: 0,
            round: None,
            buf: Vec::new(),
        })
    }

    /// Fills `buf` with the replicas of the key hashed `h`; true when this
    /// node is one of them (only such keys are in the trees).
    fn replicas(&mut self, v: &View<'_>, h: u64) -> bool {
        v.placement
            .preference_list_for_hash_into(h, v.n, &mut self.buf);
        self.buf.contains(&v.me)
    }

    /// XORs `digest` into the trees of every peer that shares `key`.
    fn toggle(&mut self, v: &View<'_>, key: &[u8], digest: u64) {
        let h = key_hash(key);
        if !self.replicas(v, h) {
            return;
        }
        let leaf = merkle::leaf_of(h);
        for &p in self.buf.iter().filter(|&&p| p != v.me) {
            self.trees.entry(p).or_default().toggle(leaf, digest);
        }
    }
}

impl Machine {
    fn view(&self) -> View<'_> {
        View {
            placement: &self.membership.placement,
            n: if self.solo() { 1 } else { self.quorum.n },
            me: self.id,
        }
    }

    /// When anti-entropy needs [`Machine::handle_timeout`] next.
    pub(crate) fn ae_deadline(&self) -> Option<Micros> {
        let ae = self.ae.as_ref()?;
        Some(
            ae.round
                .map_or(ae.next_round, |r| r.deadline.min(ae.next_round)),
        )
    }

    /// The placement changed: the trees are rebuilt before their next use.
    pub(crate) fn ae_placement_changed(&mut self) {
        if let Some(ae) = &mut self.ae {
            ae.stale = true;
        }
    }

    /// Brings the trees up to date with the store's changes.
    pub(crate) fn ae_absorb(&mut self) {
        let Some(mut ae) = self.ae.take() else {
            return;
        };
        let changes = self.store.take_changes();
        let view = self.view();
        if ae.stale || changes.overflow {
            ae.trees.clear();
            for (k, e) in self.store.iter() {
                ae.toggle(&view, k, entry_digest(k, e));
            }
            ae.stale = false;
        } else {
            if changes.reset {
                ae.trees.values_mut().for_each(Tree::clear);
            }
            for (k, d) in &changes.deltas {
                ae.toggle(&view, k, *d);
            }
        }
        self.ae = Some(ae);
    }

    /// The next peer in id order after the last round's.
    fn ae_next_peer(&self, last: Option<NodeId>) -> Option<NodeId> {
        let peers = self.peers();
        let after = last.and_then(|l| peers.range(l + 1..).next().copied());
        after.or_else(|| peers.first().copied())
    }

    /// Sends an anti-entropy request; its answer is the round's.
    fn ae_send(&mut self, now: Micros, to: NodeId, req: PeerRequest, keys: bool) {
        let id = self.next_req;
        self.next_req += 1;
        self.effects
            .push_back(conns::Output::Effect(Effect::Send { to, id, req }));
        let deadline = now.saturating_add(micros(self.cfg.replica_timeout));
        if let Some(ae) = &mut self.ae {
            ae.round = Some(Round {
                peer: to,
                req: id,
                deadline,
                keys,
            });
        }
    }

    /// Timers: gives up on a late answer, and starts a round when due.
    pub(crate) fn ae_timeout(&mut self, now: Micros) {
        let Some(ae) = &mut self.ae else {
            return;
        };
        if ae.round.is_some_and(|r| now >= r.deadline) {
            ae.round = None;
            self.metrics.ae.rounds_failed += 1;
        }
        if now < ae.next_round {
            return;
        }
        ae.next_round = now.saturating_add(ae.interval);
        if ae.round.is_some() {
            return;
        }
        let last = ae.last_peer;
        let Some(peer) = self.ae_next_peer(last) else {
            return;
        };
        self.ae_absorb();
        let ae = self.ae.as_mut().expect("checked above");
        ae.last_peer = Some(peer);
        let buckets = ae.trees.get(&peer).cloned().unwrap_or_default().buckets();
        self.metrics.ae.rounds += 1;
        let req = PeerRequest::AeSummary {
            from: self.id,
            buckets,
        };
        self.ae_send(now, peer, req, false);
    }

    /// Whether `id` is the request of the round in flight.
    pub(crate) fn ae_owns(&self, id: RequestId) -> bool {
        self.ae
            .as_ref()
            .and_then(|a| a.round)
            .is_some_and(|r| r.req == id)
    }

    /// The answer to the round's request (or why none came).
    pub(crate) fn ae_answer(
        &mut self,
        now: Micros,
        from: NodeId,
        resp: Result<PeerResponse, ReplicaFailure>,
    ) {
        let Some(round) = self.ae.as_mut().and_then(|a| a.round.take()) else {
            return;
        };
        if round.peer != from {
            return;
        }
        match (round.keys, resp) {
            (false, Ok(PeerResponse::AeLeaves(leaves))) => self.ae_compare(now, from, &leaves),
            (true, Ok(PeerResponse::AeDelta { entries, want })) => {
                self.ae_apply(now, from, entries, want)
            }
            _ => self.metrics.ae.rounds_failed += 1,
        }
    }

    /// Step 2: the peer's leaves under differing buckets are in; asks for
    /// the difference of the leaves that differ.
    fn ae_compare(&mut self, now: Micros, peer: NodeId, theirs: &[(u32, u64)]) {
        self.ae_absorb();
        let Some(ae) = &self.ae else {
            return;
        };
        let differing = ae
            .trees
            .get(&peer)
            .cloned()
            .unwrap_or_default()
            .differing_leaves(theirs);
        self.metrics.ae.leaves_compared += theirs.len() as u64;
        self.metrics.ae.leaves_differing += differing.len() as u64;
        if differing.is_empty() {
            return;
        }
        let (leaves, keys) = self.ae_pick_leaves(now, peer, &differing);
        let req = PeerRequest::AeKeys {
            from: self.id,
            budget: self.ae.as_ref().map_or(0, |a| a.budget) as u64,
            leaves,
            keys,
        };
        self.ae_send(now, peer, req, true);
    }

    /// This node's live keys (tombstones included) in `leaves` that `peer`
    /// replicates too, with their entries.
    fn ae_keys_in(
        &mut self,
        now: Micros,
        peer: NodeId,
        leaves: &[u32],
    ) -> Vec<(u32, &[u8], &Entry)> {
        let mut wanted = vec![false; LEAVES];
        for &l in leaves.iter().filter(|&&l| (l as usize) < LEAVES) {
            wanted[l as usize] = true;
        }
        let mut ae = self.ae.take().expect("anti-entropy is on");
        let view = self.view();
        let mut out = Vec::new();
        for (k, e) in self.store.iter().filter(|(_, e)| !e.is_expired(now)) {
            let h = key_hash(k);
            let leaf = merkle::leaf_of(h);
            if wanted[leaf] && ae.replicas(&view, h) && ae.buf.contains(&peer) {
                out.push((leaf as u32, k, e));
            }
        }
        self.ae = Some(ae);
        out
    }

    /// Chooses differing leaves, from the rotating cursor on, whose keys
    /// here fit the budget (at least one leaf), and lists their keys.
    fn ae_pick_leaves(
        &mut self,
        now: Micros,
        peer: NodeId,
        differing: &[u32],
    ) -> (Vec<u32>, Vec<(Bytes, Version)>) {
        let (budget, cursor) = self
            .ae
            .as_ref()
            .map_or((0, 0), |a| (a.budget, a.leaf_cursor));
        let mut by_leaf: BTreeMap<u32, Vec<(Bytes, Version)>> = BTreeMap::new();
        for (l, k, e) in self.ae_keys_in(now, peer, differing) {
            by_leaf
                .entry(l)
                .or_default()
                .push((Bytes::copy_from_slice(k), e.version));
        }
        let start = differing.partition_point(|&l| l < cursor);
        let order = differing[start..].iter().chain(&differing[..start]);
        let (mut leaves, mut keys) = (BTreeSet::new(), Vec::new());
        let mut last = cursor;
        for &l in order {
            let mine = by_leaf.remove(&l).unwrap_or_default();
            if !leaves.is_empty() && keys.len() + mine.len() > budget {
                continue;
            }
            keys.extend(mine);
            leaves.insert(l);
            last = l;
        }
        if let Some(ae) = &mut self.ae {
            ae.leaf_cursor = (last + 1) % LEAVES as u32;
        }
        (leaves.into_iter().collect(), keys)
    }

    /// Step 3: applies the peer's newer entries and pushes what it wants.
    fn ae_apply(
        &mut self,
        now: Micros,
        peer: NodeId,
        entries: Vec<(Bytes, Entry)>,
        want: Vec<Bytes>,
    ) {
        let budget = self.ae.as_ref().map_or(0, |a| a.budget);
        let received = entries.len().min(budget);
        for (k, e) in entries.into_iter().take(budget) {
            let bytes = k.len() + e.value.as_ref().map_or(0, Bytes::len);
            self.metrics.ae.keys_received += 1;
            self.metrics.ae.bytes_received += bytes as u64;
            // Out of memory here only leaves the key to a later round.
            let _ = self.apply_local(k, e, now);
        }
        for k in want.into_iter().take(budget - received) {
            let Some(entry) = self.store.peek_versioned(&k, now).cloned() else {
                continue;
            };
            self.metrics.ae.keys_sent += 1;
            self.metrics.ae.bytes_sent +=
                (k.len() + entry.value.as_ref().map_or(0, Bytes::len)) as u64;
            self.send_detached(peer, PeerRequest::Put { key: k, entry });
        }
    }

    /// Serves a peer's anti-entropy request.
    pub(crate) fn ae_serve(&mut self, now: Micros, req: PeerRequest) -> PeerResponse {
        let refuse = |why: &str| PeerResponse::Failed(ReplicaFailure::Other(why.into()));
        if self.ae.is_none() {
            return refuse("anti-entropy is off here");
        }
        match req {
            PeerRequest::AeSummary { from, buckets } if self.is_peer(from) => {
                self.ae_absorb();
                let ae = self.ae.as_ref().expect("checked above");
                let tree = ae.trees.get(&from).cloned().unwrap_or_default();
                let buckets = if buckets.len() == BUCKETS {
                    buckets
                } else {
                    Vec::new()
                };
                PeerResponse::AeLeaves(tree.leaves_under_differing(&buckets))
            }
            PeerRequest::AeKeys {
                from,
                budget,
                leaves,
                keys,
            } if self.is_peer(from) => self.ae_delta(now, from, budget, &leaves, keys),
            _ => refuse("anti-entropy from a node that is not a peer"),
        }
    }

    fn is_peer(&self, id: NodeId) -> bool {
        id != self.id && self.membership.contains(id)
    }

    /// The answer to `AeKeys`: entries here newer than `from`'s (or that it
    /// lacks), then the keys `from` holds newer, `budget` keys at most.
    fn ae_delta(
        &mut self,
        now: Micros,
        from: NodeId,
        budget: u64,
        leaves: &[u32],
        keys: Vec<(Bytes, Version)>,
    ) -> PeerResponse {
        let own = self.ae.as_ref().map_or(0, |a| a.budget);
        let budget = usize::try_from(budget).unwrap_or(usize::MAX).min(own);
        // Per key of theirs: its version, and whether this node's is as new.
        let mut theirs: BTreeMap<Bytes, (Version, bool)> =
            keys.into_iter().map(|(k, v)| (k, (v, false))).collect();
        let mut entries = Vec::new();
        for (_, k, e) in self.ae_keys_in(now, from, leaves) {
            let newer = match theirs.get_mut(k) {
                Some((v, covered)) => {
                    *covered = e.version >= *v;
                    e.version > *v
                }
                None => true,
            };
            if newer && entries.len() < budget {
                entries.push((Bytes::copy_from_slice(k), e.clone()));
            }
        }
        // Below the flush floor a key is gone here for good: do not ask.
        let room = budget - entries.len();
        let want: Vec<Bytes> = theirs
            .into_iter()
            .filter(|(_, (v, covered))| !covered && !self.store.flushed(*v))
            .map(|(k, _)| k)
            .take(room)
            .collect();
        for (k, e) in &entries {
            self.metrics.ae.keys_sent += 1;
            self.metrics.ae.bytes_sent += (k.len() + e.value.as_ref().map_or(0, Bytes::len)) as u64;
        }
        PeerResponse::AeDelta { entries, want }
    }
}
