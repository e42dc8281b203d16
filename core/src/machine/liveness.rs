//! Heartbeats and the failure detector: which peers this node suspects.
//!
//! With `heartbeat_interval` set, every period the machine sends each peer
//! a [`PeerRequest::Ping`] (answered with an ack) and judges each peer with
//! a [`PhiDetector`]. Any answer from a peer, to a ping or to any other
//! request, is a heartbeat arrival; a failure the driver reports
//! (`Err(Unreachable)`) is not, since it did not come from the peer.
//!
//! What suspicion changes: a coordinator neither sends to a suspected
//! replica nor waits for it (it counts as failed at once, see
//! [`super::quorum`]; requests already waiting on it fail at the tick that
//! finds it suspected, so a stopped peer holds no operation past that
//! tick), and hinted handoff ([`super::handoff`]) starts
//! delivering to a peer as soon as it is heard from again. With the
//! detector off (the default) nobody is ever suspected and nothing is sent.
//!
//! Suspicion is computed from `now` where it is needed; the `suspected` flag
//! kept per peer only notices the moments it turns on, at heartbeat ticks,
//! for the `suspicions` counter.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Machine;
use crate::clock::Micros;
use crate::config::NodeConfig;
use crate::detector::{PhiConfig, PhiDetector};
use crate::protocol::peer::{PeerRequest, PeerResponse, RequestId};
use crate::replication::ReplicaFailure;
use crate::ring::NodeId;

/// The heartbeat timer and every peer's detector.
pub(crate) struct Liveness {
    /// The heartbeat period (None: the detector is off).
    interval: Option<Micros>,
    /// How the detectors judge silences.
    phi: PhiConfig,
    /// When the next heartbeats go out.
    next_beat: Option<Micros>,
    /// Each peer's detector (created at start, or at the first tick after
    /// the peer joined).
    peers: BTreeMap<NodeId, Peer>,
}

/// One peer as the detector sees it.
struct Peer {
    /// Its arrival history.
    detector: PhiDetector,
    /// Whether it was suspected at the last tick (for the counter).
    suspected: bool,
}

/// What INFO shows of one peer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerLiveness {
    /// The suspicion level now.
    pub phi: f64,
    /// Whether phi is above the threshold.
    pub suspected: bool,
}

impl Liveness {
    /// The detector of a node configured by `cfg`, started at `now`.
    pub(crate) fn new(cfg: &NodeConfig, now: Micros) -> Self {
        let interval = cfg.heartbeat_interval.map(|d| d.as_micros() as Micros);
        let phi = PhiConfig::for_interval(interval.unwrap_or(1), cfg.phi_threshold);
        let peers = match interval {
            None => BTreeMap::new(),
            Some(_) => cfg
                .members
                .iter()
                .filter(|m| m.id != cfg.id)
                .map(|m| (m.id, Peer::new(phi, now)))
                .collect(),
        };
        Self {
            interval,
            phi,
            next_beat: interval.map(|i| now.saturating_add(i)),
            peers,
        }
    }

    /// When the heartbeat timer must fire.
    pub(crate) fn deadline(&self) -> Option<Micros> {
        self.next_beat
    }

    /// Whether heartbeats are on.
    pub(crate) fn is_on(&self) -> bool {
        self.interval.is_some()
    }

    /// Whether `peer` is suspected at `now` (never with the detector off).
    pub(crate) fn suspects(&self, peer: NodeId, now: Micros) -> bool {
        self.interval.is_some()
            && self
                .peers
                .get(&peer)
                .is_some_and(|p| p.detector.is_suspected(now))
    }
}

impl Peer {
    fn new(phi: PhiConfig, now: Micros) -> Self {
        Self {
            detector: PhiDetector::new(phi, now),
            suspected: false,
        }
    }
}

impl Machine {
    /// Whether the failure detector suspects `peer` at `now` (false when it
    /// is off or the peer is unknown).
    pub fn suspects(&self, peer: NodeId, now: Micros) -> bool {
        self.liveness.suspects(peer, now)
    }

    /// The detector's view of `peer` at `now`; None when it is off.
    pub fn peer_liveness(&self, peer: NodeId, now: Micros) -> Option<PeerLiveness> {
        let p = self.liveness.peers.get(&peer)?;
        let phi = p.detector.phi(now);
        Some(PeerLiveness {
            phi,
            suspected: p.detector.is_suspected(now),
        })
    }

    /// The heartbeat timer: once due, notes which peers turned suspected
    /// (failing what waits on them) and pings every peer.
    pub(crate) fn liveness_tick(&mut self, now: Micros) {
        let (Some(interval), Some(due)) = (self.liveness.interval, self.liveness.next_beat) else {
            return;
        };
        if now < due {
            return;
        }
        self.liveness.next_beat = Some(now.saturating_add(interval));
        let phi = self.liveness.phi;
        for p in self.peers() {
            let peer = self
                .liveness
                .peers
                .entry(p)
                .or_insert_with(|| Peer::new(phi, now));
            let suspected = peer.detector.is_suspected(now);
            let turned = suspected && !peer.suspected;
            peer.suspected = suspected;
            if turned {
                self.metrics.suspicions += 1;
                self.give_up_on(now, p);
            }
            self.send_detached(p, PeerRequest::Ping);
        }
    }

    /// Fails every operation's request waiting on `peer`, as if it had
    /// answered that it is unreachable (in request order).
    fn give_up_on(&mut self, now: Micros, peer: NodeId) {
        let mut ids: Vec<RequestId> = self
            .outstanding
            .iter()
            .filter(|(_, (_, to))| *to == peer)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        for id in ids {
            if let Some((op, to)) = self.outstanding.remove(&id) {
                self.answer(now, op, to, Err(ReplicaFailure::Unreachable));
            }
        }
    }

    /// An answer (or a failure) from `from` for request `id`, before it is
    /// matched to an operation: an answer is a heartbeat and may wake
    /// hinted handoff. True when it was a hint delivery's (consumed).
    pub(crate) fn note_answer(
        &mut self,
        now: Micros,
        from: NodeId,
        id: RequestId,
        resp: &Result<PeerResponse, ReplicaFailure>,
    ) -> bool {
        if !self.liveness.is_on() && !self.handoff.is_on() {
            return false;
        }
        if resp.is_ok() {
            if let Some(p) = self.liveness.peers.get_mut(&from) {
                p.detector.heartbeat(now);
                p.suspected = false;
            }
            self.handoff_wake(now, from);
        }
        self.hint_answered(now, id, resp)
    }

    /// INFO's lines on liveness and handoff (in the cluster section).
    pub(crate) fn liveness_info(&self, now: Micros, out: &mut String) {
        for (id, p) in &self.liveness.peers {
            let _ = write!(
                out,
                "peer_{id}_liveness:phi={:.2},suspected={}\r\n",
                p.detector.phi(now),
                u8::from(p.detector.is_suspected(now))
            );
        }
        let m = &self.metrics;
        let rows = [
            ("suspicions", m.suspicions),
            ("hints_stored", m.hints_stored),
            ("hints_delivered", m.hints_delivered),
            ("hints_dropped", m.hints_dropped),
            ("hints_pending", m.hints_pending),
            ("stand_ins", m.stand_ins),
        ];
        for (k, v) in rows {
            let _ = write!(out, "{k}:{v}\r\n");
        }
    }
}
