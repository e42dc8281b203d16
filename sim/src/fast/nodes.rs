//! The cluster nodes: each a pure [`Machine`] behind its [`Cores`], with its
//! pools of peer links. Client commands and replica requests are charged on
//! the cores first and run when their service ends; every effect the
//! machine produces is carried out at once (replies onto the client's
//! channel, replica requests onto a peer link, or an immediate
//! `Unreachable` when the link is down, as the async node fails requests
//! fast while it backs off).

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::Bytes;
use ringlab_core::clock::{Micros, Skew};
use ringlab_core::config::{Member, NodeConfig};
use ringlab_core::machine::{ConnId, Effect, Machine, replica_cost};
use ringlab_core::protocol::peer::{PeerRequest, PeerResponse, RequestId};
use ringlab_core::replication::ReplicaFailure;
use ringlab_core::ring::NodeId;
use ringlab_core::store::Policy;
use ringlab_loadgen::scenario::node_name;

use super::FastError;
use super::capacity::{Admit, Cores};
use super::net::Channel;
use super::run::{Chan, ConnMap, Ev, LinkRef, Msg, World};
use crate::capacity::CapacitySpec;

/// The port every simulated node listens on.
const NODE_PORT: u16 = 6379;

/// An operation waiting for or holding a core.
#[derive(Debug)]
pub enum Job {
    /// A client command on the node's connection `conn`.
    Cmd { conn: ConnId, args: Vec<Bytes> },
    /// A replica request that came on `link`.
    Peer {
        link: LinkRef,
        id: RequestId,
        req: Box<PeerRequest>,
    },
}

/// One connection of a node's pool to a peer.
#[derive(Default)]
pub struct PeerLink {
    /// Connected (else backing off).
    pub up: bool,
    /// The connection's incarnation (bumped on every connect).
    pub epoch: u64,
    /// The next reconnect pause.
    pub backoff: Micros,
    /// Requests sent on it and not answered, in id order (a machine's
    /// ids only grow, and the link is reset with the machine).
    pub pending: VecDeque<RequestId>,
    /// Coordinator to replica.
    pub req: Channel<Msg>,
    /// Replica to coordinator.
    pub resp: Channel<Msg>,
}

/// One cluster node and what it has been through.
pub struct NodeSlot {
    pub id: NodeId,
    pub name: String,
    pub member: Member,
    /// The running machine; None while dead or not yet joined.
    pub machine: Option<Machine>,
    /// A member now (from the start, or since its join; a dead member stays
    /// one).
    pub is_member: bool,
    /// Incarnation: events of an earlier one are ignored.
    pub inc: u64,
    /// Starts so far (seeds each incarnation).
    pub starts: u64,
    pub cores: Cores<Job>,
    /// Client connections of this incarnation.
    pub conns: ConnMap,
    /// The machine timer armed now, in model time (the machine sets it on
    /// its own clock; see `clock`).
    pub timer: Option<Micros>,
    /// The node's clock against model time (a `skew` fault). The machine
    /// sees only its own clock, as a real node does: versions, TTLs and
    /// timers are in it; the cores and the network stay in model time.
    pub clock: Skew,
    /// Extra one-way latency to each peer (µs), by index.
    pub extra: Vec<Micros>,
    /// Extra one-way latency between this node and any client.
    pub client_extra: Micros,
    /// Round robin over the peer pools, by peer index.
    pub next_link: Vec<usize>,
    /// While the node is paused (a `pause` fault): every event it would
    /// have run, with its time, in order.
    pub paused: Option<Vec<(Micros, Ev)>>,
}

impl NodeSlot {
    pub fn alive(&self) -> bool {
        self.machine.is_some()
    }
}

/// Node `id`'s address, as the madsim engine gives it.
pub fn node_addr(id: NodeId) -> SocketAddr {
    let ip = IpAddr::V4(Ipv4Addr::new(10, 0, (id >> 8) as u8, id as u8));
    SocketAddr::new(ip, NODE_PORT)
}

impl World<'_> {
    /// Creates every node's slot and starts those that are members at the
    /// start (joining nodes start at their fault).
    pub fn build_nodes(&mut self, seed: u64) -> Result<(), FastError> {
        let sc = self.sc;
        let n = sc.cluster.nodes as usize;
        let joining = sc.joining_nodes();
        let stats = sc
            .node_series
            .then(|| crate::capacity::NodeStats::new(self.t0, sc.window));
        for i in 0..n {
            let id = (i + 1) as NodeId;
            let name = node_name(id);
            let cap = sc.capacity_of(&name);
            let spec = CapacitySpec {
                cores: cap.cores.max(1) as usize,
                op_cost: cap.op_cost,
                per_kb_cost: cap.per_kb_cost,
                queue_limit: cap.queue_limit as usize,
            };
            let mut cores = Cores::new(
                spec,
                seed ^ u64::from(id).wrapping_mul(0xA24B_AED4_963E_E407),
            );
            cores.stats = stats.clone();
            let extra = (1..=n as NodeId)
                .map(|p| sc.network.extra(&name, &node_name(p)).as_micros() as Micros)
                .collect();
            self.nodes.push(NodeSlot {
                id,
                member: Member {
                    id,
                    addr: node_addr(id),
                    vnodes: sc.cluster.vnodes_of(&name),
                },
                name: name.clone(),
                machine: None,
                is_member: !joining.contains(&name),
                inc: 0,
                starts: 0,
                cores,
                conns: ConnMap::new(),
                timer: None,
                clock: Skew::default(),
                extra,
                client_extra: sc.network.client_extra(&name).as_micros() as Micros,
                next_link: vec![0; n],
                paused: None,
            });
        }
        if n >= usize::from(u16::MAX) {
            return Err(FastError::Unsupported(format!("{n} nodes (at most 65534)")));
        }
        let pool = NodeConfig::default().peer_connections.max(1);
        self.links = (0..n * n)
            .map(|_| (0..pool).map(|_| PeerLink::default()).collect())
            .collect();
        self.cut = vec![false; n * n];
        for i in 0..n {
            if self.nodes[i].is_member {
                self.start_node(i, seed)?;
            }
        }
        for i in 0..n {
            for j in 0..n {
                if i != j && self.nodes[i].alive() && self.nodes[j].alive() {
                    self.open_pool(i, j);
                }
            }
        }
        for i in 0..n {
            if self.nodes[i].alive() {
                self.arm_streaming(i);
            }
        }
        Ok(())
    }

    /// The members now: every live node's, plus `also`.
    fn members_now(&self, also: usize) -> Vec<Member> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(j, s)| s.is_member || *j == also)
            .map(|(_, s)| s.member.clone())
            .collect()
    }

    /// Starts (or restarts) node `i` with an empty store; the caller opens
    /// its links.
    pub fn start_node(&mut self, i: usize, seed: u64) -> Result<(), FastError> {
        let sc = self.sc;
        let members = self.members_now(i);
        let slot = &self.nodes[i];
        let policy: Policy = sc
            .cluster
            .eviction
            .as_str()
            .parse()
            .map_err(|_| FastError::Unsupported("an eviction policy the store lacks".into()))?;
        let cfg = NodeConfig {
            id: slot.id,
            listen: slot.member.addr,
            members,
            placement: sc.cluster.placement,
            n: sc.cluster.replication.n as usize,
            r: sc.cluster.replication.r as usize,
            w: sc.cluster.replication.w as usize,
            replica_timeout: sc.cluster.replica_timeout,
            anti_entropy_interval: sc.cluster.anti_entropy_interval,
            anti_entropy_keys: sc.cluster.anti_entropy_keys,
            maxmemory: sc.cluster.maxmemory,
            policy,
            heartbeat_interval: sc.cluster.heartbeat_interval,
            phi_threshold: sc.cluster.phi_threshold,
            hinted_handoff: sc.cluster.hinted_handoff,
            sloppy_quorum: sc.cluster.sloppy_quorum,
            handoff_max_hints: sc.cluster.handoff_max_hints,
            join_stream: sc.cluster.join_stream,
            join_stream_keys: sc.cluster.join_stream_keys,
            join_stream_interval: sc.cluster.join_stream_interval,
            seed: (seed ^ u64::from(slot.id).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .wrapping_add(slot.starts),
            ..NodeConfig::default()
        };
        let expire = cfg.expire_interval.as_micros().max(1) as Micros;
        let machine = Machine::new(cfg, NODE_PORT, slot.clock.local(self.now))
            .map_err(|e| FastError::Unsupported(format!("node {}: {e}", slot.name)))?;
        let slot = &mut self.nodes[i];
        slot.machine = Some(machine);
        slot.inc += 1;
        slot.starts += 1;
        slot.conns.clear();
        slot.timer = None;
        let inc = slot.inc;
        self.q.push(self.now + expire, Ev::Expire { node: i, inc });
        Ok(())
    }

    /// Opens node `i`'s links to every live peer (after a restart or join).
    pub fn open_pools_of(&mut self, i: usize) {
        for j in 0..self.nodes.len() {
            if j != i && self.nodes[j].alive() {
                self.open_pool(i, j);
            }
        }
    }

    /// Connects every link of the pool `from -> to` (now, or at a retry).
    pub fn open_pool(&mut self, from: usize, to: usize) {
        let n = self.nodes.len();
        for idx in 0..self.links[from * n + to].len() {
            let l = &mut self.links[from * n + to][idx];
            l.up = false;
            l.backoff = 0;
            self.connect_link(from, to, idx);
        }
    }

    /// One connect attempt of link `(from, to, idx)`: up at once when the
    /// peer runs and the link carries packets, else a retry after the
    /// backoff (doubling from the node's minimum to its maximum).
    pub fn connect_link(&mut self, from: usize, to: usize, idx: usize) {
        let n = self.nodes.len();
        let cfg = NodeConfig::default();
        let (min, max) = (
            cfg.peer_backoff_min.as_micros() as Micros,
            cfg.peer_backoff_max.as_micros() as Micros,
        );
        let reachable = self.nodes[to].alive()
            && self
                .link
                .connects(self.now, self.cut[from * n + to], &mut self.net_rng);
        let l = &mut self.links[from * n + to][idx];
        l.epoch += 1;
        l.req.reset();
        l.resp.reset();
        l.pending.clear();
        if reachable {
            l.up = true;
            l.backoff = 0;
            return;
        }
        l.up = false;
        l.backoff = if l.backoff == 0 {
            min
        } else {
            (l.backoff * 2).min(max)
        };
        let epoch = l.epoch;
        let at = self.now + l.backoff;
        self.q.push(
            at,
            Ev::LinkRetry {
                from,
                to,
                idx,
                epoch,
            },
        );
    }

    pub fn link_retry(&mut self, from: usize, to: usize, idx: usize, epoch: u64) {
        let n = self.nodes.len();
        let l = &self.links[from * n + to][idx];
        if l.epoch != epoch || l.up || !self.nodes[from].alive() {
            return;
        }
        self.connect_link(from, to, idx);
    }

    /// A link failed (its far end died): requests on it fail as
    /// `Unreachable`, in id order, and it reconnects after the backoff.
    pub fn link_eof(&mut self, link: LinkRef) {
        let n = self.nodes.len();
        let (from, to, idx) = link.ends();
        let l = &mut self.links[from * n + to][idx];
        if l.epoch != link.epoch || !l.up {
            return;
        }
        let failed: Vec<RequestId> = l.pending.drain(..).collect();
        l.up = false;
        l.backoff = 0;
        let peer = self.nodes[to].id;
        for id in failed {
            self.feed_response(from, peer, id, Err(ReplicaFailure::Unreachable));
        }
        // The link task backs off before its first reconnect.
        let cfg = NodeConfig::default();
        let l = &mut self.links[from * n + to][idx];
        l.epoch += 1;
        l.backoff = cfg.peer_backoff_min.as_micros() as Micros;
        let (epoch, at) = (l.epoch, self.now + l.backoff);
        self.q.push(
            at,
            Ev::LinkRetry {
                from,
                to,
                idx,
                epoch,
            },
        );
    }

    /// A client command arrives at its connection's node.
    pub fn node_command(&mut self, client: u32, conn: u32, epoch: u64, args: Vec<Bytes>) {
        let Some(s) = self.clients[client as usize].conns[conn as usize].session else {
            return;
        };
        if s.epoch != epoch || self.nodes[s.node].inc != s.inc || !self.nodes[s.node].alive() {
            return;
        }
        let job = Job::Cmd {
            conn: s.node_conn,
            args,
        };
        self.charge(s.node, job);
    }

    /// A replica request arrives at its link's replica.
    pub fn peer_request(&mut self, link: LinkRef, id: RequestId, req: Box<PeerRequest>) {
        let n = self.nodes.len();
        let (from, to, idx) = link.ends();
        let l = &self.links[from * n + to][idx];
        if l.epoch != link.epoch || !l.up || !self.nodes[to].alive() {
            return;
        }
        self.charge(to, Job::Peer { link, id, req });
    }

    /// Offers `job` to node `i`'s cores.
    fn charge(&mut self, i: usize, job: Job) {
        let bytes = match &job {
            Job::Cmd { args, .. } => match Machine::command_cost(args) {
                Some(c) => c.bytes,
                None => return self.run_job(i, job),
            },
            Job::Peer { req, .. } => replica_cost(req).bytes,
        };
        let now = self.now;
        let inc = self.nodes[i].inc;
        match self.nodes[i].cores.admit(now, bytes, job) {
            (Admit::Started(end), Some(job)) => {
                self.q.push(end, Ev::CoreDone { node: i, inc, job })
            }
            (Admit::Refused(job), _) => self.refuse(i, job),
            _ => {}
        }
    }

    /// A core of node `i` finished `job`: it runs, and the next waiting job
    /// takes the core.
    pub fn core_done(&mut self, i: usize, inc: u64, job: Job) {
        if self.nodes[i].inc != inc || !self.nodes[i].alive() {
            return;
        }
        if let Some((end, next)) = self.nodes[i].cores.done(self.now) {
            self.q.push(
                end,
                Ev::CoreDone {
                    node: i,
                    inc,
                    job: next,
                },
            );
        }
        self.run_job(i, job);
    }

    /// Runs `job` on node `i`'s machine and carries out the effects.
    fn run_job(&mut self, i: usize, job: Job) {
        let now = self.nodes[i].clock.local(self.now);
        let Some(m) = self.nodes[i].machine.as_mut() else {
            return;
        };
        match job {
            Job::Cmd { conn, args } => m.handle_command(now, conn, args),
            Job::Peer { link, id, req } => {
                let resp = m.handle_peer_request(now, self.boxes.take_req(req));
                self.respond(link, id, resp);
            }
        }
        self.after(i);
    }

    /// The cores refused `job`.
    fn refuse(&mut self, i: usize, job: Job) {
        let Some(m) = self.nodes[i].machine.as_mut() else {
            return;
        };
        match job {
            Job::Cmd { conn, args } => m.handle_refused(conn, &args),
            Job::Peer { link, id, .. } => {
                let resp = m.refuse_peer_request();
                self.respond(link, id, resp);
            }
        }
        self.after(i);
    }

    /// Sends a replica's answer back on its link, after the link's extra
    /// latency (the replica's side of it).
    fn respond(&mut self, link: LinkRef, id: RequestId, resp: PeerResponse) {
        let n = self.nodes.len();
        let (from, to, idx) = link.ends();
        if self.links[from * n + to][idx].epoch != link.epoch {
            return;
        }
        let at = self.now + self.nodes[to].extra[from];
        let resp = self.boxes.resp(resp);
        self.send(
            Chan::Resp(from, to, idx),
            at,
            Msg::PeerResp { link, id, resp },
        );
    }

    /// An answer arrives at the coordinator.
    pub fn peer_response(&mut self, link: LinkRef, id: RequestId, resp: PeerResponse) {
        let n = self.nodes.len();
        let (from, to, idx) = link.ends();
        let l = &mut self.links[from * n + to][idx];
        if l.epoch != link.epoch {
            return;
        }
        match l.pending.binary_search(&id) {
            Ok(at) => {
                l.pending.remove(at);
            }
            Err(_) => return,
        }
        let peer = self.nodes[to].id;
        self.feed_response(from, peer, id, Ok(resp));
    }

    /// Feeds an answer (or a failure) to node `i`'s machine.
    fn feed_response(
        &mut self,
        i: usize,
        peer: NodeId,
        id: RequestId,
        resp: Result<PeerResponse, ReplicaFailure>,
    ) {
        let now = self.nodes[i].clock.local(self.now);
        let Some(m) = self.nodes[i].machine.as_mut() else {
            return;
        };
        m.handle_peer_response(now, peer, id, resp);
        self.after(i);
    }

    pub fn peer_fail(&mut self, i: usize, inc: u64, peer: NodeId, id: RequestId) {
        if self.nodes[i].inc == inc {
            self.feed_response(i, peer, id, Err(ReplicaFailure::Unreachable));
        }
    }

    pub fn node_timer(&mut self, i: usize, inc: u64) {
        let slot = &mut self.nodes[i];
        if slot.inc != inc || slot.timer != Some(self.now) {
            return;
        }
        slot.timer = None;
        if let Some(m) = slot.machine.as_mut() {
            m.handle_timeout(slot.clock.local(self.now));
        }
        self.after(i);
    }

    pub fn expire(&mut self, i: usize, inc: u64) {
        let now = self.now;
        let slot = &mut self.nodes[i];
        let Some(m) = slot.machine.as_mut() else {
            return;
        };
        if slot.inc != inc {
            return;
        }
        // TTLs are judged on the node's clock, as a real node judges them.
        m.expire_step(slot.clock.local(now));
        let period = m.config().expire_interval.as_micros().max(1) as Micros;
        self.q.push(now + period, Ev::Expire { node: i, inc });
    }

    /// Carries out node `i`'s effects and re-arms its timer.
    fn after(&mut self, i: usize) {
        while let Some(e) = self.nodes[i]
            .machine
            .as_mut()
            .and_then(Machine::poll_effect)
        {
            self.effect(i, e);
        }
        let slot = &mut self.nodes[i];
        let Some(t) = slot.machine.as_ref().and_then(Machine::poll_timeout) else {
            return;
        };
        // The machine's deadline is on its clock; the queue runs on model
        // time. A timer armed before a skew fires at the model time it was
        // armed for, then the machine re-arms: the madsim node's sleep does
        // the same. A deadline already passed fires now; the slot must
        // record the time the event carries, or `node_timer` would ignore
        // it.
        let t = slot.clock.global(t).max(self.now);
        if slot.timer.is_none_or(|armed| t < armed) {
            slot.timer = Some(t);
            let inc = slot.inc;
            self.q.push(t, Ev::NodeTimer { node: i, inc });
        }
    }

    /// Carries out one effect of node `i`.
    fn effect(&mut self, i: usize, e: Effect) {
        match e {
            Effect::Reply { conn, bytes, .. } => {
                let Some(&(client, c, epoch)) = self.nodes[i].conns.get(&conn) else {
                    return;
                };
                let at = self.now + self.nodes[i].client_extra;
                let msg = Msg::Reply {
                    client,
                    conn: c,
                    epoch,
                    bytes,
                };
                self.send(Chan::Down(client, c), at, msg);
            }
            Effect::Send { to, id, req } => self.send_peer(i, to, id, req),
            Effect::Close { .. } | Effect::BecomePeer { .. } | Effect::AddPeer { .. } => {}
        }
    }

    /// Sends a replica request from node `i` to node id `to` on the next
    /// link of the pool; a link that is down fails it at once.
    fn send_peer(&mut self, i: usize, to: NodeId, id: RequestId, req: PeerRequest) {
        let n = self.nodes.len();
        let j = to as usize - 1;
        let pool = self.links[i * n + j].len();
        let idx = self.nodes[i].next_link[j] % pool;
        self.nodes[i].next_link[j] += 1;
        let l = &mut self.links[i * n + j][idx];
        if !l.up {
            let inc = self.nodes[i].inc;
            let now = self.now;
            self.q.push(
                now,
                Ev::PeerFail {
                    node: i,
                    inc,
                    peer: to,
                    id,
                },
            );
            return;
        }
        debug_assert!(l.pending.back().is_none_or(|&last| last < id));
        l.pending.push_back(id);
        let link = link_ref(i, j, idx, l.epoch);
        let at = self.now + self.nodes[i].extra[j];
        let req = self.boxes.req(req);
        self.send(Chan::Req(i, j, idx), at, Msg::PeerReq { link, id, req });
    }

    /// Kills node `i`: its machine, queue and connections are gone; every
    /// stream to it ends once what is in flight has arrived.
    pub fn kill_node(&mut self, i: usize) {
        let n = self.nodes.len();
        if self.nodes[i].machine.take().is_none() {
            return;
        }
        let slot = &mut self.nodes[i];
        slot.inc += 1;
        slot.cores.reset();
        slot.timer = None;
        let conns: Vec<(u32, u32, u64)> = {
            let mut v: Vec<_> = slot.conns.drain().collect();
            v.sort_unstable();
            v
        };
        for (client, conn, epoch) in conns {
            let now = self.now;
            let at = self.chan(Chan::Down(client, conn)).drained_at(now);
            self.q.push(
                at,
                Ev::Deliver(Msg::ClientEof {
                    client,
                    conn,
                    epoch,
                }),
            );
        }
        for j in 0..n {
            for idx in 0..self.links[j * n + i].len() {
                let l = &self.links[j * n + i][idx];
                if j == i || !l.up {
                    continue;
                }
                let link = link_ref(j, i, idx, l.epoch);
                let at = l.resp.drained_at(self.now);
                self.q.push(at, Ev::Deliver(Msg::LinkEof { link }));
            }
            // Links of the dead node are gone with it.
            for l in &mut self.links[i * n + j] {
                l.up = false;
                l.epoch += 1;
                l.req.reset();
                l.resp.reset();
                l.pending.clear();
            }
        }
    }

    /// A node that just started pulls its keys at once (with `join_stream`
    /// only: without it nothing is due, and arming here would reorder the
    /// events of runs that predate streaming).
    pub fn arm_streaming(&mut self, i: usize) {
        if self.sc.cluster.join_stream {
            self.after(i);
        }
    }

    /// Node `i` leaves (`CLUSTER LEAVE`): its hand-off starts now.
    pub fn leave(&mut self, i: usize) {
        let now = self.now;
        if let Some(m) = self.nodes[i].machine.as_mut() {
            // Refused only when it already leaves or is alone: nothing to do.
            let _ = m.leave(now);
            self.after(i);
        }
    }

    /// Every live node other than `i` forgets member `i` (dead for good).
    pub fn remove(&mut self, i: usize) {
        let id = self.nodes[i].id;
        self.nodes[i].is_member = false;
        let now = self.now;
        for j in 0..self.nodes.len() {
            if j == i {
                continue;
            }
            if let Some(m) = self.nodes[j].machine.as_mut() {
                // Not a member there any more (it left): nothing to do.
                let _ = m.remove_member(now, id);
                self.after(j);
            }
        }
    }

    /// Every live node other than `i` adds member `i` and opens links to it.
    pub fn announce(&mut self, i: usize) -> Result<(), FastError> {
        let member = self.nodes[i].member.clone();
        for j in 0..self.nodes.len() {
            if j == i {
                continue;
            }
            if let Some(m) = self.nodes[j].machine.as_mut()
                && !m.members().iter().any(|x| x.id == member.id)
            {
                m.add_member(member.clone())
                    .map_err(|e| FastError::Unsupported(format!("join: {e}")))?;
                self.open_pool(j, i);
            }
        }
        Ok(())
    }
}

/// The reference of link `(from, to, idx)` at `epoch` (cluster sizes are
/// far below `u16::MAX`, checked when the world is built).
fn link_ref(from: usize, to: usize, idx: usize, epoch: u64) -> LinkRef {
    let small = |x: usize| u16::try_from(x).expect("node and link indexes fit in u16");
    LinkRef {
        from: small(from),
        to: small(to),
        idx: small(idx),
        epoch,
    }
}
