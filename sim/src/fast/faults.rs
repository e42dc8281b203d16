//! The fault timeline: each fault of the scenario at its model time, with
//! the madsim engine's meaning. A partition or a cut stops messages between
//! nodes (clients, standing for the application servers, reach every node);
//! held messages go once the link carries packets again. A kill ends the
//! node's process: its connections break once what is in flight arrives. A
//! restart brings it back empty, with the members of that moment. A join
//! starts a node and every running node adds it at the same instant. A
//! leave runs `CLUSTER LEAVE` on the node (its hand-off and its
//! `RL.FORGET`s then travel the links); a removal makes every running node
//! forget the dead node at the same instant. A pause stops a node's
//! process: what would run on it waits (messages to it, its cores'
//! completions, its timers) and runs when it resumes, in order, as madsim
//! runs a paused node's woken tasks.

use ringlab_core::clock::Micros;
use ringlab_loadgen::scenario::FaultAction;

use super::run::{Ev, Msg, World};

impl World<'_> {
    /// Schedules every fault at its time after `start`.
    pub fn schedule_faults(&mut self, start: Micros) {
        let mut faults = self.sc.faults.clone();
        faults.sort_by_key(|f| f.at); // stable: same-time faults keep file order
        for (i, f) in faults.iter().enumerate() {
            self.q
                .push(start + f.at.as_micros() as Micros, Ev::Fault(i));
        }
        self.faults = faults;
    }

    /// Node index by name (names are validated by the scenario reader).
    fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|s| s.name == name)
    }

    /// Fault `i` happens now.
    pub fn fault(&mut self, i: usize) {
        let action = self.faults[i].action.clone();
        let seed = self.seed;
        match action {
            FaultAction::Kill(n) => {
                if let Some(i) = self.index_of(&n) {
                    self.kill_node(i);
                }
            }
            FaultAction::Restart(n) => {
                if let Some(i) = self.index_of(&n) {
                    self.kill_node(i);
                    if self.start_node(i, seed).is_ok() {
                        self.open_pools_of(i);
                        self.arm_streaming(i);
                    }
                }
            }
            FaultAction::Partition(groups) => {
                let idx: Vec<Vec<usize>> = groups
                    .iter()
                    .map(|g| g.iter().filter_map(|n| self.index_of(n)).collect())
                    .collect();
                for (gi, a) in idx.iter().enumerate() {
                    for (gj, b) in idx.iter().enumerate() {
                        if gi != gj {
                            for &x in a {
                                for &y in b {
                                    self.set_cut(x, y, true);
                                }
                            }
                        }
                    }
                }
            }
            FaultAction::Heal => {
                for c in &mut self.cut {
                    *c = false;
                }
            }
            FaultAction::CutLink { from, to } => {
                if let (Some(a), Some(b)) = (self.index_of(&from), self.index_of(&to)) {
                    self.set_cut(a, b, true);
                }
            }
            FaultAction::RestoreLink { from, to } => {
                if let (Some(a), Some(b)) = (self.index_of(&from), self.index_of(&to)) {
                    self.set_cut(a, b, false);
                }
            }
            FaultAction::Slow { node, factor } => {
                if let Some(i) = self.index_of(&node) {
                    self.nodes[i].cores.slow = factor;
                }
            }
            FaultAction::Skew {
                node,
                offset_us,
                drift_ppm,
            } => {
                if let Some(i) = self.index_of(&node) {
                    self.nodes[i].clock = ringlab_core::clock::Skew {
                        offset_us,
                        drift_ppm,
                        since: self.now,
                    };
                }
            }
            FaultAction::SetLatency(lat) => self.link.latency = lat,
            FaultAction::SetLoss(p) => self.link.loss = p,
            FaultAction::Join(n) => {
                if let Some(i) = self.index_of(&n) {
                    self.nodes[i].is_member = true;
                    if self.start_node(i, seed).is_ok() {
                        self.open_pools_of(i);
                        // Validation keeps joins possible; a failure here
                        // would be a broken invariant of the reader.
                        if let Err(e) = self.announce(i) {
                            panic!("the scenario reader let through an impossible join: {e}");
                        }
                        self.arm_streaming(i);
                    }
                }
            }
            FaultAction::Leave(n) => {
                if let Some(i) = self.index_of(&n) {
                    self.leave(i);
                }
            }
            FaultAction::Remove(n) => {
                if let Some(i) = self.index_of(&n) {
                    self.remove(i);
                }
            }
            FaultAction::Pause(n) => {
                if let Some(i) = self.index_of(&n) {
                    self.nodes[i].paused = Some(Vec::new());
                    self.paused += 1;
                }
            }
            FaultAction::Resume(n) => {
                if let Some(i) = self.index_of(&n) {
                    self.resume(i);
                }
            }
        }
    }

    /// The node an event runs on, if any: a paused node's events wait.
    pub fn node_of(&self, ev: &Ev) -> Option<usize> {
        match ev {
            Ev::Deliver(Msg::Cmd { client, conn, .. }) => self.clients[*client as usize].conns
                [*conn as usize]
                .session
                .map(|s| s.node),
            Ev::Deliver(Msg::PeerReq { link, .. }) => Some(link.ends().1),
            Ev::Deliver(Msg::PeerResp { link, .. } | Msg::LinkEof { link }) => Some(link.ends().0),
            Ev::CoreDone { node, .. }
            | Ev::NodeTimer { node, .. }
            | Ev::Expire { node, .. }
            | Ev::PeerFail { node, .. } => Some(*node),
            Ev::LinkRetry { from, .. } => Some(*from),
            _ => None,
        }
    }

    /// Node `i` runs again: everything that waited happens now, in the
    /// order it came. Its machine timer, if it fell due in the pause, fires
    /// now (`node_timer` checks the armed time).
    fn resume(&mut self, i: usize) {
        let Some(waited) = self.nodes[i].paused.take() else {
            return;
        };
        self.paused -= 1;
        let now = self.now;
        for (t, ev) in waited {
            if let Ev::NodeTimer { .. } = ev {
                if self.nodes[i].timer != Some(t) {
                    continue;
                }
                self.nodes[i].timer = Some(now);
            }
            self.q.push(now, ev);
        }
    }

    /// Cuts or restores the link `from -> to` (only between started nodes,
    /// as the madsim engine clogs only machines that exist).
    fn set_cut(&mut self, from: usize, to: usize, cut: bool) {
        if self.nodes[from].starts == 0 || self.nodes[to].starts == 0 {
            return;
        }
        let n = self.nodes.len();
        self.cut[from * n + to] = cut;
    }
}
