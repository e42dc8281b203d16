//! The wait of KEYS and SCAN: every node's page of keys (see
//! [`crate::keyspace`]), this node's at once and each peer's when it
//! answers, until all have or the replica timeout passes.

use std::collections::BTreeSet;

use super::quorum::{Begun, OpError, Outcome, Waiting};
use super::{Machine, OpId};
use crate::clock::Micros;
use crate::cmd::plan::Input;
use crate::keyspace::{self, Page, PageRequest};
use crate::protocol::peer::PeerRequest;
use crate::ring::NodeId;

/// A [`Waiting::Gather`] in progress.
#[derive(Debug)]
pub(crate) struct Gathering {
    /// Peers not answered yet.
    pub(crate) peers: BTreeSet<NodeId>,
    /// The pages so far, this node's first.
    pub(crate) pages: Vec<Page>,
    /// Pages needed: a key is on N nodes, so with every node but N-1
    /// answering each key still has a replica among them.
    pub(crate) needed: usize,
    /// When the peers still silent are given up on.
    pub(crate) deadline: Micros,
}

impl Machine {
    /// KEYS and SCAN: this node's page now, and every peer's (waiting up
    /// to the replica timeout for them).
    pub(crate) fn begin_gather(
        &mut self,
        now: Micros,
        id: OpId,
        req: PageRequest,
    ) -> Begun<Vec<Page>> {
        let mine = keyspace::page(&self.store, &req, now);
        let peers = self.peers();
        if peers.is_empty() {
            return Begun::Done(vec![mine]);
        }
        for &p in &peers {
            self.send(id, p, PeerRequest::Scan(req.clone()));
        }
        let members = peers.len() + 1;
        Begun::Wait(Waiting::Gather(Gathering {
            peers,
            pages: vec![mine],
            needed: members
                .saturating_sub(self.quorum.n.saturating_sub(1))
                .max(1),
            deadline: now.saturating_add(self.cfg.replica_timeout.as_micros() as Micros),
        }))
    }
}

/// A finished gather: its pages (moved out) if enough nodes answered.
pub(crate) fn gathered(g: &mut Gathering) -> Outcome {
    if g.pages.len() >= g.needed {
        Ok(Input::Pages(std::mem::take(&mut g.pages)))
    } else {
        Err(OpError::Unavailable {
            got: g.pages.len(),
            needed: g.needed,
        })
    }
}
