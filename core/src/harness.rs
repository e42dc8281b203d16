//! An in-memory cluster of node machines, for tests (as raft-rs tests its
//! nodes): no sockets, no async runtime, no clock. Messages between nodes
//! travel on a deterministic network that delays them (seeded), drops them,
//! cuts links one way, partitions and heals; nodes can be killed.
//!
//! Time only moves when [`Cluster::run`] delivers the next message or fires
//! the next timer, so a test is a pure function of its seed and its calls.
//! Nodes with a periodic timer (anti-entropy, heartbeats, hinted handoff)
//! always have one pending, so [`Cluster::run`] would never end for them:
//! drive them with [`Cluster::run_until`].
//!
//! A killed node can come back with [`Cluster::restart`]: a fresh machine
//! with the same configuration and an empty store, as a process restart.
//!
//! Failure semantics, as the tokio driver shows them: a request to a dead
//! node fails as `Unreachable` after one network delay (its connection was
//! refused); a dropped message or a cut link makes no answer at all, so the
//! coordinator's replica timeout decides.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::clock::Micros;
use crate::config::{Member, NodeConfig};
use crate::machine::{ConnId, Effect, Machine};
use crate::protocol::peer::{PeerRequest, PeerResponse, RequestId};
use crate::protocol::resp::{self, Frame, Limits};
use crate::replication::ReplicaFailure;
use crate::ring::NodeId;

/// A message in flight.
#[derive(Debug, Clone)]
enum Msg {
    /// A replica request from `from` to `to`.
    Request {
        from: NodeId,
        to: NodeId,
        id: RequestId,
        req: PeerRequest,
    },
    /// Its answer, from `from` back to `to`.
    Response {
        from: NodeId,
        to: NodeId,
        id: RequestId,
        resp: Result<PeerResponse, ReplicaFailure>,
    },
}

/// Settings of the in-memory network.
#[derive(Debug, Clone, Copy)]
pub struct NetConfig {
    /// One-way delay, drawn uniformly from this range (microseconds).
    pub delay: (Micros, Micros),
    /// Probability that a message is lost.
    pub loss: f64,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            delay: (50, 150),
            loss: 0.0,
        }
    }
}

/// Several node machines on an in-memory network.
pub struct Cluster {
    /// The nodes, alive or not.
    nodes: BTreeMap<NodeId, Machine>,
    /// Nodes that are dead: they neither receive nor send.
    dead: BTreeSet<NodeId>,
    /// Links that drop everything, one way: (from, to).
    cut: BTreeSet<(NodeId, NodeId)>,
    /// Messages in flight by (arrival, sequence): the event queue.
    queue: BTreeMap<(Micros, u64), Msg>,
    /// The next sequence number (ties in time keep send order).
    seq: u64,
    /// Model time now.
    now: Micros,
    /// Draws delays and losses.
    rng: ChaCha8Rng,
    /// The network's settings.
    net: NetConfig,
    /// Replies received per (node, connection), parsed.
    replies: BTreeMap<(NodeId, ConnId), Vec<Frame>>,
    /// Extra one-way delay of every message to a node (a slow node).
    slow: BTreeMap<NodeId, Micros>,
    /// Messages delivered so far.
    pub delivered: u64,
}

/// The member list of an `n`-node cluster (addresses are never dialled).
pub fn members(n: u32) -> Vec<Member> {
    (1..=n)
        .map(|id| Member {
            id,
            addr: SocketAddr::from(([10, 0, 0, id as u8], 6379)),
            vnodes: 64,
        })
        .collect()
}

impl Cluster {
    /// `size` nodes configured by `cfg` (its `id` and `members` are set per
    /// node), on a network `net`, seeded by `seed`.
    pub fn new(size: u32, cfg: &NodeConfig, net: NetConfig, seed: u64) -> Self {
        let members = members(size);
        let now = 1_000_000;
        let nodes = members
            .iter()
            .map(|m| {
                let cfg = NodeConfig {
                    id: m.id,
                    members: members.clone(),
                    seed: seed ^ u64::from(m.id),
                    ..cfg.clone()
                };
                let machine = Machine::new(cfg, 6379, now).expect("a valid test configuration");
                (m.id, machine)
            })
            .collect();
        Self {
            nodes,
            dead: BTreeSet::new(),
            cut: BTreeSet::new(),
            queue: BTreeMap::new(),
            seq: 0,
            now,
            rng: ChaCha8Rng::seed_from_u64(seed),
            net,
            replies: BTreeMap::new(),
            slow: BTreeMap::new(),
            delivered: 0,
        }
    }

    /// Model time now.
    pub fn now(&self) -> Micros {
        self.now
    }

    /// Moves time forward by `us` (firing nothing: call [`Cluster::run`]).
    pub fn advance(&mut self, us: Micros) {
        self.now += us;
    }

    /// A node's machine.
    pub fn node(&self, id: NodeId) -> &Machine {
        &self.nodes[&id]
    }

    /// Opens a client connection to `node`.
    pub fn connect(&mut self, node: NodeId) -> ConnId {
        self.nodes.get_mut(&node).expect("a member").open_client()
    }

    /// Sends a command on a connection (it runs at once; replies may need
    /// [`Cluster::run`]).
    pub fn send(&mut self, node: NodeId, conn: ConnId, args: &[&[u8]]) {
        if self.dead.contains(&node) {
            return;
        }
        let args = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        let now = self.now;
        self.nodes
            .get_mut(&node)
            .expect("a member")
            .handle_command(now, conn, args);
        self.drain(node);
    }

    /// Sends a command and runs the cluster until it is answered (or
    /// nothing is left to happen); returns the reply.
    pub fn call(&mut self, node: NodeId, conn: ConnId, args: &[&[u8]]) -> Option<Frame> {
        let before = self.replies.get(&(node, conn)).map_or(0, Vec::len);
        self.send(node, conn, args);
        while self.replies.get(&(node, conn)).map_or(0, Vec::len) == before {
            if !self.step() {
                return None;
            }
        }
        self.replies.get_mut(&(node, conn)).and_then(|r| r.pop())
    }

    /// The replies received on a connection so far, taken.
    pub fn take_replies(&mut self, node: NodeId, conn: ConnId) -> Vec<Frame> {
        self.replies.remove(&(node, conn)).unwrap_or_default()
    }

    /// Kills a node: it stops receiving and sending (its state is kept but
    /// never used again; [`Cluster::restart`] replaces it).
    pub fn kill(&mut self, node: NodeId) {
        self.dead.insert(node);
    }

    /// Cuts the link from `from` to `to` (one way).
    pub fn cut(&mut self, from: NodeId, to: NodeId) {
        self.cut.insert((from, to));
    }

    /// Splits the cluster: every link between `side` and the rest is cut,
    /// both ways.
    pub fn partition(&mut self, side: &[NodeId]) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for &a in side {
            for &b in &ids {
                if !side.contains(&b) {
                    self.cut(a, b);
                    self.cut(b, a);
                }
            }
        }
    }

    /// Restores every cut link.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// Kills `node` (if it was not dead) and starts it again as a fresh
    /// machine with the same configuration: an empty store, no sessions,
    /// no requests. Messages in flight to or from it are lost, as its
    /// connections were.
    pub fn restart(&mut self, node: NodeId) {
        let cfg = self.nodes[&node].config().clone();
        self.restart_with(node, cfg);
    }

    /// As [`Cluster::restart`], with the configuration `cfg` (its id and
    /// members should stay the node's).
    pub fn restart_with(&mut self, node: NodeId, cfg: NodeConfig) {
        let fresh = Machine::new(cfg, 6379, self.now).expect("it was valid before");
        self.nodes.insert(node, fresh);
        self.dead.remove(&node);
        self.queue.retain(|_, m| {
            let (from, to) = match m {
                Msg::Request { from, to, .. } | Msg::Response { from, to, .. } => (*from, *to),
            };
            from != node && to != node
        });
        self.replies.retain(|&(n, _), _| n != node);
    }

    /// Starts node `id` (not a member yet) configured by `cfg` (its id and
    /// members are set here) with every member and itself as members;
    /// every live node adds it at this same instant, as `CLUSTER ADDNODE`
    /// sent everywhere would.
    pub fn join(&mut self, id: NodeId, cfg: &NodeConfig) {
        let member = Member {
            id,
            addr: SocketAddr::from(([10, 0, 0, id as u8], 6379)),
            vnodes: 64,
        };
        // The members as a live member sees them (a node that left keeps
        // running, with the list it had as it went).
        let mut all: Vec<Member> = self
            .nodes
            .iter()
            .find(|(n, m)| !self.dead.contains(n) && m.members().iter().any(|x| x.id == **n))
            .map(|(_, m)| m.members().to_vec())
            .unwrap_or_default();
        all.push(member.clone());
        let cfg = NodeConfig {
            id,
            members: all,
            seed: cfg.seed ^ u64::from(id),
            ..cfg.clone()
        };
        let fresh = Machine::new(cfg, 6379, self.now).expect("a valid joining configuration");
        let live: Vec<NodeId> = self
            .nodes
            .keys()
            .copied()
            .filter(|n| !self.dead.contains(n))
            .collect();
        for n in live {
            let m = self.nodes.get_mut(&n).expect("a node");
            m.add_member(member.clone()).expect("a new id");
        }
        self.nodes.insert(id, fresh);
        self.drain(id);
    }

    /// Every live node but `id` removes member `id` (`CLUSTER FORGET` on
    /// each of them).
    pub fn remove(&mut self, id: NodeId) {
        let live: Vec<NodeId> = self
            .nodes
            .keys()
            .copied()
            .filter(|n| *n != id && !self.dead.contains(n))
            .collect();
        let now = self.now;
        for n in live {
            let m = self.nodes.get_mut(&n).expect("a node");
            // Already removed (a leave's RL.FORGET got there first): fine.
            let _ = m.remove_member(now, id);
            self.drain(n);
        }
    }

    /// Delays every message to `node` by `extra` more (0: back to normal).
    pub fn slow(&mut self, node: NodeId, extra: Micros) {
        self.slow.insert(node, extra);
    }

    /// Runs until no message is in flight and no timer is pending (never,
    /// with a periodic timer: see [`Cluster::run_until`]).
    pub fn run(&mut self) {
        while self.step() {}
    }

    /// Runs every event due at or before model time `t`, then sets the
    /// clock to `t` (if it was earlier).
    pub fn run_until(&mut self, t: Micros) {
        while self.next_event().is_some_and(|(at, _)| at <= t) {
            self.step();
        }
        self.now = self.now.max(t);
    }

    /// When the next event is due, and the node whose timer it is (None:
    /// a message).
    fn next_event(&self) -> Option<(Micros, Option<NodeId>)> {
        let next_msg = self.queue.first_key_value().map(|(&(t, _), _)| t);
        let next_timer = self
            .nodes
            .iter()
            .filter(|(id, _)| !self.dead.contains(id))
            .filter_map(|(id, m)| m.poll_timeout().map(|t| (t, *id)))
            .min();
        match (next_msg, next_timer) {
            (Some(t), timer) if timer.is_none_or(|(tt, _)| t <= tt) => Some((t, None)),
            (_, Some((t, id))) => Some((t, Some(id))),
            (Some(_), None) => unreachable!("handled by the first arm"),
            (None, None) => None,
        }
    }

    /// Delivers the next message or fires the next timer; false when
    /// nothing is left.
    pub fn step(&mut self) -> bool {
        match self.next_event() {
            None => false,
            Some((t, None)) => {
                let (_, msg) = self.queue.pop_first().expect("peeked");
                self.now = self.now.max(t);
                self.deliver(msg);
                true
            }
            Some((t, Some(id))) => {
                self.now = self.now.max(t);
                let now = self.now;
                self.nodes
                    .get_mut(&id)
                    .expect("a member")
                    .handle_timeout(now);
                self.drain(id);
                true
            }
        }
    }

    fn deliver(&mut self, msg: Msg) {
        self.delivered += 1;
        let now = self.now;
        match msg {
            Msg::Request { from, to, id, req } => {
                // A dead node refused the connection: the sender learns
                // that at once, whatever the links.
                let refused = self.dead.contains(&to);
                let resp = if refused {
                    Err(ReplicaFailure::Unreachable)
                } else {
                    let m = self.nodes.get_mut(&to).expect("a member");
                    Ok(m.handle_peer_request(now, req))
                };
                let answer = Msg::Response {
                    from: to,
                    to: from,
                    id,
                    resp,
                };
                self.post(to, from, answer, refused);
            }
            Msg::Response { from, to, id, resp } => {
                if self.dead.contains(&to) {
                    return;
                }
                let m = self.nodes.get_mut(&to).expect("a member");
                m.handle_peer_response(now, from, id, resp);
                self.drain(to);
            }
        }
    }

    /// Puts a message on the wire from `from` to `to`, unless the link is
    /// cut or the message is lost. `forced` messages (a refused connection
    /// seen by the sender's own stack) always arrive.
    fn post(&mut self, from: NodeId, to: NodeId, msg: Msg, forced: bool) {
        if !forced {
            if self.dead.contains(&from) || self.cut.contains(&(from, to)) {
                return;
            }
            if self.net.loss > 0.0 && self.rng.random_bool(self.net.loss) {
                return;
            }
        }
        let (lo, hi) = self.net.delay;
        let delay = if hi > lo {
            self.rng.random_range(lo..=hi)
        } else {
            lo
        } + self.slow.get(&to).copied().unwrap_or(0);
        self.seq += 1;
        self.queue.insert((self.now + delay, self.seq), msg);
    }

    /// Carries out a node's effects.
    fn drain(&mut self, node: NodeId) {
        while let Some(e) = self.nodes.get_mut(&node).expect("a member").poll_effect() {
            match e {
                Effect::Reply {
                    conn,
                    bytes,
                    replies,
                } => self.receive(node, conn, &bytes, replies),
                Effect::Send { to, id, req } => {
                    let msg = Msg::Request {
                        from: node,
                        to,
                        id,
                        req,
                    };
                    self.post(node, to, msg, false);
                }
                Effect::Close { conn } | Effect::BecomePeer { conn, .. } => {
                    self.nodes
                        .get_mut(&node)
                        .expect("a member")
                        .close_client(conn);
                }
                Effect::AddPeer { .. } => {}
            }
        }
        // Every test on this harness checks the machine's bookkeeping after
        // each event it handles.
        self.nodes[&node].check_invariants();
    }

    /// A reply effect: `count` whole replies, as the machine promises.
    fn receive(&mut self, node: NodeId, conn: ConnId, bytes: &[u8], count: usize) {
        let mut buf = BytesMut::from(bytes);
        let mut parsed = 0;
        while let Ok(Some(frame)) = resp::parse_frame(&mut buf, &Limits::default()) {
            self.replies.entry((node, conn)).or_default().push(frame);
            parsed += 1;
        }
        assert!(buf.is_empty(), "a reply effect ends with a whole reply");
        assert_eq!(parsed, count, "a reply effect holds the replies it counts");
    }
}
