//! The node as a pure state machine, the way quinn-proto is to quinn.
//!
//! A [`Machine`] is one cluster node's logic: its store, its membership, the
//! client sessions and their pipelines, the replicated operations it
//! coordinates, read repair and the replica side of the peer protocol. It
//! does no I/O, reads no clock and spawns nothing: events go in with `now`,
//! effects come out as data. The tokio server (`node::server`), the madsim
//! build of that server and the fast simulation engine only drive it.
//!
//! # Call order
//!
//! 1. Feed events as they happen, each with the model time `now`:
//!    - [`Machine::open_client_at`] (or [`Machine::open_client_from`] with
//!      only an IP, [`Machine::open_client`] when there is no socket address) / [`Machine::close_client`] for client
//!      connections;
//!    - [`Machine::handle_command`] for each parsed client command, in the
//!      connection's order (charge its capacity first, see below);
//!    - [`Machine::handle_peer_request`] for a replica request a peer sent
//!      (it answers at once: send the returned response back on the
//!      connection the request came on);
//!    - [`Machine::handle_peer_response`] for an answer to a request this
//!      node sent, or `Err(Unreachable)` when the link carrying it broke;
//!    - [`Machine::handle_timeout`] once `now` reaches
//!      [`Machine::poll_timeout`];
//!    - [`Machine::expire_step`] on the active-expiry period;
//!    - [`Machine::add_member`] when a node joins,
//!      [`Machine::remove_member`] when one is removed, [`Machine::leave`]
//!      to leave (`CLUSTER LEAVE` does it too).
//! 2. After each event, drain [`Machine::poll_effect`] until `None` and carry
//!    the effects out: [`Effect::Reply`] bytes to the client connection
//!    (whole replies, in the connection's command order; one effect carries
//!    all a connection got since the last poll), [`Effect::Send`] requests to
//!    the peer, [`Effect::Close`] and [`Effect::BecomePeer`] on connections.
//! 3. Re-read [`Machine::poll_timeout`]: it may have moved earlier.
//!
//! Capacity is the driver's: before it feeds a client command it may charge
//! [`Machine::command_cost`] (and [`replica_cost`] before a peer request) on
//! its model of the node's cores; a refused command is fed as
//! [`Machine::handle_refused`], which answers `-OVERLOADED` in order.
//!
//! # Layout
//! - [`conns`]: client sessions and the in-order reply queue of a pipeline.
//! - [`slowlog`]: the slow log (SLOWLOG).
//! - `gather`: the wait of KEYS and SCAN for every node's page of keys.
//! - `antientropy`: background Merkle-tree repair of diverged replicas.
//! - [`quorum`]: the one drive loop of every replicated read and write: the
//!   local-read shortcut, fan-out, answers, timeouts, read repair.
//! - [`liveness`]: heartbeats and the phi-accrual failure detector; the
//!   quorum loop neither sends to nor waits for a suspected replica.
//! - [`handoff`]: hinted handoff: writes a replica missed, kept and
//!   delivered when it is back.
//! - `sloppy`: sloppy quorum: a stand-in holds a write for a replica that
//!   is down, and its ack counts towards W.
//! - [`stream`]: pulling the keys a node replicates from their previous
//!   owners at start and after a removal, forwarding reads meanwhile.
//! - [`leave`]: a leaving node's hand-off of its keys.
//! - [`crate::cmd`]: the command table and the commands by family.

mod antientropy;
pub mod conns;
mod gather;
pub mod handoff;
pub mod info;
pub mod leave;
pub mod liveness;
pub mod metrics;
pub mod quorum;
mod sloppy;
pub mod slowlog;
pub mod stream;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::clock::Micros;
use crate::cmd::{self, plan::Plan};
use crate::config::{ConfigError, Member, NodeConfig};
use crate::keyspace;
use crate::membership::{Joined, Membership, MembershipError, Removed};
use crate::protocol::peer::{PeerRequest, PeerResponse, RequestId};
use crate::replication::{Quorum, ReplicaFailure};
use crate::ring::NodeId;
use crate::store::{Entry, Policy, Store, StoreConfig};

pub use conns::{ConnId, Session};
pub use metrics::Metrics;
use quorum::Waiting;

/// What the driver must do, produced by the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Write these RESP bytes to the client connection: one or more whole
    /// replies, every reply the connection got since its last `Reply`, in
    /// its command order.
    Reply {
        conn: ConnId,
        bytes: Bytes,
        /// How many replies `bytes` holds.
        replies: usize,
    },
    /// Send this request to the peer; its answer comes back through
    /// [`Machine::handle_peer_response`] with the same id.
    Send {
        to: NodeId,
        id: RequestId,
        req: PeerRequest,
    },
    /// Close the client connection once its replies are written (QUIT).
    Close { conn: ConnId },
    /// The client connection is a peer node (`RL.HELLO` accepted): write its
    /// replies, then serve it as a peer connection from `from`.
    BecomePeer { conn: ConnId, from: NodeId },
    /// A member joined through `CLUSTER ADDNODE`: open links to it.
    AddPeer { member: Member },
}

/// The settings `CONFIG SET` can change at run time.
#[derive(Debug, Clone)]
pub struct Tunables {
    /// Memory limit, bytes (0: none).
    pub maxmemory: u64,
    /// Eviction policy.
    pub policy: Policy,
    /// Accepted and reported for clients that ask (there is no persistence).
    pub save: String,
    /// Accepted and reported for clients that ask; only "no" is valid.
    pub appendonly: String,
    /// Commands taking at least this many microseconds are logged
    /// (`slowlog-log-slower-than`; negative: none).
    pub slowlog_slower_than: i64,
    /// Entries the slow log keeps (`slowlog-max-len`).
    pub slowlog_max_len: u64,
}

/// What a driver knows of one peer link, for INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeerView {
    /// Connections up now.
    pub up: usize,
    /// Connections in the pool.
    pub conns: usize,
    /// Failures so far.
    pub errors: u64,
}

/// The cost of one operation, for the driver's capacity model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpCost {
    /// Bytes of the request: a client command's arguments, or a replica
    /// request's key and value (the value a read returns is not counted).
    pub bytes: usize,
    /// A replica request from a peer (true) or a client command (false).
    pub replica: bool,
}

/// The cost of serving a peer's replica request.
pub fn replica_cost(req: &PeerRequest) -> OpCost {
    let bytes = match req {
        PeerRequest::Get { key } => key.len(),
        PeerRequest::Put { key, entry } | PeerRequest::Hint { key, entry, .. } => {
            key.len() + entry.value.as_ref().map_or(0, |v| v.len())
        }
        PeerRequest::Flush { .. } => 0,
        PeerRequest::Scan(r) => r.pattern.as_ref().map_or(0, |p| p.len()),
        PeerRequest::Ping => 0,
        PeerRequest::AeSummary { buckets, .. } => buckets.len() * 8,
        PeerRequest::AeKeys { leaves, keys, .. } => {
            leaves.len() * 4 + keys.iter().map(|(k, _)| k.len() + 12).sum::<usize>()
        }
        PeerRequest::Stream { .. } => 16,
        PeerRequest::Forget { .. } => 0,
    };
    OpCost {
        bytes,
        replica: true,
    }
}

/// Identifies a replicated operation inside the machine.
pub type OpId = u64;

/// Hashes the machine's own sequential ids (op and request ids): they never
/// come from a client, so they need no DoS-resistant hash, and one multiply
/// spreads consecutive ids over a table. Maps keyed by them are looked up
/// and changed several times per request; as B-trees they were a tenth of
/// the fast simulation engine's work.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map keyed by the machine's ids; never iterated where order matters.
pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// The requests an op sent, in the order sent. An op sends a few (a read
/// or write to the N - 1 other replicas, a stand-in, a redirect), so they
/// sit inline and only an op with more spills into a vector: a `Vec` here
/// was an allocation and a free per replicated operation.
#[derive(Debug, Default)]
pub(crate) struct ReqIds {
    inline: [RequestId; Self::INLINE],
    len: usize,
    more: Vec<RequestId>,
}

impl ReqIds {
    const INLINE: usize = 4;

    pub(crate) fn push(&mut self, id: RequestId) {
        if self.len < Self::INLINE {
            self.inline[self.len] = id;
            self.len += 1;
        } else {
            self.more.push(id);
        }
    }

    /// Every id, in the order pushed.
    pub(crate) fn iter(&self) -> impl Iterator<Item = RequestId> + '_ {
        self.inline[..self.len].iter().chain(&self.more).copied()
    }
}

impl Extend<RequestId> for ReqIds {
    fn extend<I: IntoIterator<Item = RequestId>>(&mut self, ids: I) {
        for id in ids {
            self.push(id);
        }
    }
}

/// One command in progress, or a read finishing its repair.
#[derive(Debug)]
pub(crate) struct Op {
    /// The command it answers; None for a detached read that only waits
    /// for late answers to repair replicas.
    pub(crate) cmd: Option<quorum::CmdRef>,
    /// What the command does next when the wait ends.
    pub(crate) plan: Plan,
    /// The quorum wait in progress.
    pub(crate) wait: Waiting,
    /// Its requests not answered yet (forgotten when it ends).
    pub(crate) reqs: ReqIds,
    /// The timer entry of this op in [`Machine::timers`].
    pub(crate) timer: Option<Micros>,
}

/// One node's state and logic. See the module doc for the call order.
pub struct Machine {
    /// This node's id.
    pub(crate) id: NodeId,
    /// The configuration it started with.
    pub(crate) cfg: NodeConfig,
    /// N, R, W clamped to the cluster.
    pub(crate) quorum: Quorum,
    /// The members and the placement of keys on them.
    pub(crate) membership: Membership,
    /// The local keyspace (one store: `maxmemory` holds node-wide).
    pub(crate) store: Store,
    /// The store's eviction and expiry sampling.
    pub(crate) rng: ChaCha8Rng,
    /// What CONFIG SET may change.
    pub(crate) tunables: Tunables,
    /// Counters.
    pub(crate) metrics: Metrics,
    /// The last version timestamp handed out (strictly increasing).
    pub(crate) last_version: Micros,
    /// Local-only R=1 reads so far (see `NodeConfig::read_repair_every`).
    pub(crate) local_reads: u64,
    /// Client connections and their pipelines.
    pub(crate) conns: conns::Conns,
    /// Replicated operations in progress. Never iterated, so its order
    /// reaches no decision; a hash map because ops are large (hundreds of
    /// bytes) and a B-tree moves its neighbours on every removal.
    pub(crate) ops: IdMap<Op>,
    /// The next op id.
    pub(crate) next_op: OpId,
    /// The next peer request id.
    pub(crate) next_req: RequestId,
    /// Requests sent to peers and not answered: which op waits, from whom
    /// (only looked up by id; nothing iterates it but the invariant check).
    pub(crate) outstanding: IdMap<(OpId, NodeId)>,
    /// Deadlines of ops, earliest first.
    pub(crate) timers: BTreeSet<(Micros, OpId)>,
    /// Requests sent for a wait about to be parked as an op.
    pub(crate) staged: Vec<RequestId>,
    /// The placement's output while [`Machine::replicas`] copies it inline.
    pub(crate) scratch: Vec<NodeId>,
    /// Connections with replies or queued commands to look at (see
    /// [`Machine::settle`]).
    pub(crate) touched: Vec<ConnId>,
    /// Effects not yet polled (a connection's replies are taken from its
    /// output buffer when their turn comes).
    pub(crate) effects: VecDeque<conns::Output>,
    /// Peer links as the driver last reported them (INFO).
    pub(crate) peer_views: BTreeMap<NodeId, PeerView>,
    /// Model time at start (INFO uptime).
    pub(crate) started_at: Micros,
    /// The port clients connect to (INFO, CONFIG GET port).
    pub(crate) port: u16,
    /// SLOWLOG's entries and the commands that may join them.
    pub(crate) slowlog: slowlog::SlowLog,
    /// Heartbeats and the failure detector.
    pub(crate) liveness: liveness::Liveness,
    /// Hinted handoff's store and deliveries.
    pub(crate) handoff: handoff::Handoff,
    /// Anti-entropy's trees and round (None: off).
    pub(crate) ae: Option<antientropy::AntiEntropy>,
    /// The pull of this node's keys in progress (None: none).
    pub(crate) stream: Option<stream::Stream>,
    /// This node's hand-off while it leaves (None: not leaving).
    pub(crate) leave: Option<leave::Leave>,
}

impl Machine {
    /// A node with an empty store, started at `now`, reachable on `port`.
    pub fn new(cfg: NodeConfig, port: u16, now: Micros) -> Result<Self, ConfigError> {
        let quorum = cfg.validate()?;
        let members = cfg.effective_members();
        let mut store = Store::new(StoreConfig {
            maxmemory: cfg.maxmemory,
            policy: cfg.policy,
            ..StoreConfig::default()
        });
        let ae = antientropy::AntiEntropy::start(&cfg, &mut store, now);
        let mut m = Self {
            id: cfg.id,
            quorum,
            membership: Membership::new(cfg.placement, &members),
            store,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            tunables: Tunables {
                maxmemory: cfg.maxmemory,
                policy: cfg.policy,
                save: String::new(),
                appendonly: "no".into(),
                slowlog_slower_than: 10_000,
                slowlog_max_len: 128,
            },
            slowlog: slowlog::SlowLog::default(),
            metrics: Metrics::new(cmd::COMMANDS.len()),
            last_version: 0,
            local_reads: 0,
            conns: conns::Conns::default(),
            ops: IdMap::default(),
            next_op: 0,
            next_req: 0,
            outstanding: IdMap::default(),
            timers: BTreeSet::new(),
            staged: Vec::new(),
            scratch: Vec::new(),
            touched: Vec::new(),
            effects: VecDeque::new(),
            peer_views: BTreeMap::new(),
            started_at: now,
            port,
            liveness: liveness::Liveness::new(&cfg, now),
            handoff: handoff::Handoff::new(&cfg),
            ae,
            stream: None,
            leave: None,
            cfg,
        };
        // A node that starts (a join, a restart) holds nothing yet.
        m.stream_start(now);
        Ok(m)
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The configuration it started with.
    pub fn config(&self) -> &NodeConfig {
        &self.cfg
    }

    /// N, R and W in effect.
    pub fn quorum(&self) -> Quorum {
        self.quorum
    }

    /// The members now.
    pub fn members(&self) -> &[Member] {
        &self.membership.members
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The local store (read-only: tests, INFO, metrics).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Client connections open now.
    pub fn clients(&self) -> usize {
        self.conns.len()
    }

    /// The next effect to carry out, oldest first.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        loop {
            match self.effects.pop_front()? {
                conns::Output::Effect(e) => return Some(e),
                conns::Output::Replies(conn) => {
                    // None: the connection closed since, its replies dropped.
                    if let Some((bytes, replies)) = self.conns.take_output(conn) {
                        return Some(Effect::Reply {
                            conn,
                            bytes,
                            replies,
                        });
                    }
                }
            }
        }
    }

    /// When [`Machine::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Micros> {
        // Drivers ask after every event: a plain chain of minimums (an
        // iterator over an array of options cost the fast engine 2% of its
        // instructions).
        fn earlier(a: Option<Micros>, b: Option<Micros>) -> Option<Micros> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        let mut t = self.timers.first().map(|&(t, _)| t);
        t = earlier(t, self.liveness.deadline());
        t = earlier(t, self.handoff.deadline());
        t = earlier(t, self.ae_deadline());
        t = earlier(t, self.stream_deadline());
        earlier(t, self.leave_deadline())
    }

    /// Hints waiting for their replica (hinted handoff).
    pub fn hints_pending(&self) -> usize {
        self.handoff.pending()
    }

    /// Replicated operations in progress (commands and read repairs).
    pub fn ops_in_flight(&self) -> usize {
        self.ops.len()
    }

    /// A client connection opened; its replies will name the returned id.
    /// Its address is unknown, so a peer hello on it is judged without the
    /// address check: drivers with sockets use [`Machine::open_client_from`].
    pub fn open_client(&mut self) -> ConnId {
        self.open_client_from(None)
    }

    /// A client connection opened from `remote` (the socket's peer IP), which
    /// a peer hello on it must match (see [`crate::cmd::cluster`]).
    pub fn open_client_from(&mut self, remote: Option<IpAddr>) -> ConnId {
        self.metrics.connections_received += 1;
        self.conns
            .open(self.cfg.requirepass.is_none(), remote, None)
    }

    /// A client connection opened from `remote` (the socket's peer
    /// address): as [`Machine::open_client_from`], and with the port known,
    /// CLIENT LIST shows `ip:port` and CLIENT KILL can name it.
    pub fn open_client_at(&mut self, remote: Option<SocketAddr>) -> ConnId {
        self.metrics.connections_received += 1;
        let (ip, port) = (remote.map(|a| a.ip()), remote.map(|a| a.port()));
        self.conns.open(self.cfg.requirepass.is_none(), ip, port)
    }

    /// Whether the connection may run commands without AUTH (it
    /// authenticated, or no password is set). It never goes back to false,
    /// so a driver that saw true need not ask again.
    pub fn is_authed(&self, conn: ConnId) -> bool {
        self.conns.session(conn).is_some_and(|s| s.authed)
    }

    /// A client connection closed (or turned into a peer connection). Its
    /// commands still in flight finish, but their replies are dropped.
    pub fn close_client(&mut self, conn: ConnId) {
        self.conns.close(conn);
    }

    /// The driver refused a connection (max clients).
    pub fn note_rejected_connection(&mut self) {
        self.metrics.rejected_connections += 1;
    }

    /// The driver closed a connection for a protocol error.
    pub fn note_protocol_error(&mut self) {
        self.metrics.protocol_errors += 1;
    }

    /// The driver's view of a peer link changed (INFO shows it).
    pub fn set_peer_view(&mut self, peer: NodeId, view: PeerView) {
        self.peer_views.insert(peer, view);
    }

    /// What running `args` costs the node, or None when the command is not
    /// charged (connection and server commands).
    pub fn command_cost(args: &[Bytes]) -> Option<OpCost> {
        let (_, spec) = cmd::lookup(args.first()?)?;
        spec.kind.is_data().then(|| OpCost {
            bytes: args.iter().map(|a| a.len()).sum(),
            replica: false,
        })
    }

    /// A client command on `conn`. Its reply comes out as an
    /// [`Effect::Reply`] after every earlier command's of the connection.
    pub fn handle_command(&mut self, now: Micros, conn: ConnId, args: Vec<Bytes>) {
        cmd::dispatch(self, now, conn, args);
        self.settle(now);
    }

    /// A client command the driver's capacity model refused: answered
    /// `-OVERLOADED` in the connection's order.
    pub fn handle_refused(&mut self, conn: ConnId, args: &[Bytes]) {
        self.metrics.overloaded += 1;
        let idx = cmd::lookup(args.first().map_or(&[][..], |a| &a[..])).map(|(i, _)| i);
        self.metrics.record(idx.unwrap_or(cmd::COMMANDS.len()), 0);
        let name = idx.map_or("?", |i| cmd::COMMANDS[i].name);
        if !self.conns.accepts(conn) {
            return;
        }
        let slot = self.conns.push(conn);
        let reply = cmd::reply::op_error(&quorum::OpError::Overloaded, name);
        self.finish_slot(conn, slot, reply);
        self.flush_replies(conn);
    }

    /// A replica request from peer `from`, after the driver charged
    /// [`replica_cost`]. The answer goes back on the request's connection.
    pub fn handle_peer_request(&mut self, now: Micros, req: PeerRequest) -> PeerResponse {
        self.metrics.replica_requests += 1;
        match req {
            PeerRequest::Get { key } => {
                if self.stream_pending(&key, now) {
                    self.metrics.stream.moving += 1;
                    return PeerResponse::Failed(ReplicaFailure::Moving);
                }
                PeerResponse::Entry(self.store.get_versioned(&key, now).cloned())
            }
            PeerRequest::Put { key, entry } => match self.apply_local(key, entry, now) {
                Ok(()) => PeerResponse::Ack,
                Err(f) => PeerResponse::Failed(f),
            },
            PeerRequest::Flush { version } => {
                self.store.flush(version);
                PeerResponse::Ack
            }
            PeerRequest::Scan(r) => {
                PeerResponse::Page(Box::new(keyspace::page(&self.store, &r, now)))
            }
            PeerRequest::Ping => PeerResponse::Ack,
            PeerRequest::Hint { owner, key, entry } => self.hold_for(now, owner, key, entry),
            req @ (PeerRequest::AeSummary { .. } | PeerRequest::AeKeys { .. }) => {
                self.ae_serve(now, req)
            }
            PeerRequest::Stream { from, after, count } => {
                self.stream_serve(now, from, after, count)
            }
            PeerRequest::Forget { node, handed_off } => match self.forget(now, node, handed_off) {
                Ok(_) | Err(MembershipError::NotAMember(_)) => PeerResponse::Ack,
                Err(e) => PeerResponse::Failed(ReplicaFailure::Other(e.to_string())),
            },
        }
    }

    /// The driver's capacity model refused a peer's replica request.
    pub fn refuse_peer_request(&mut self) -> PeerResponse {
        self.metrics.overloaded += 1;
        PeerResponse::Failed(ReplicaFailure::Overloaded)
    }

    /// The answer to request `id` sent to `from`, or why none will come.
    /// Unknown ids (a request whose operation ended) are ignored.
    pub fn handle_peer_response(
        &mut self,
        now: Micros,
        from: NodeId,
        id: RequestId,
        resp: Result<PeerResponse, ReplicaFailure>,
    ) {
        if resp.is_err() {
            self.metrics.peer_errors += 1;
        }
        if self.note_answer(now, from, id, &resp) {
            return self.settle(now);
        }
        if self.ae_owns(id) {
            return self.ae_answer(now, from, resp);
        }
        if self.stream_owns(id) {
            self.stream_answer(now, from, resp);
            return self.settle(now);
        }
        if self.leave_owns(id) {
            self.leave_answer(now, id, &resp);
            return self.settle(now);
        }
        let Some((op, to)) = self.outstanding.remove(&id) else {
            return;
        };
        if to != from {
            return;
        }
        self.answer(now, op, from, resp);
        self.settle(now);
    }

    /// Time passed: ends every wait whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Micros) {
        while let Some(&(t, op)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            if let Some(o) = self.ops.get_mut(&op) {
                o.timer = None;
            }
            self.expire_op(now, op);
        }
        self.liveness_tick(now);
        self.handoff_tick(now);
        self.ae_timeout(now);
        self.stream_tick(now);
        self.leave_tick(now);
        self.settle(now);
    }

    /// One active expiry step; returns how many keys expired.
    pub fn expire_step(&mut self, now: Micros) -> usize {
        let n = self
            .store
            .expire_step(now, &mut self.rng, self.cfg.expire_work);
        self.ae_absorb();
        n
    }

    /// Adds `member` to the cluster as this node sees it: the placement
    /// changes at once. Keys are not moved. The driver starts the links.
    pub fn add_member(&mut self, member: Member) -> Result<Joined, MembershipError> {
        let id = member.id;
        let next = self.membership.with_member(member)?;
        let moved_fraction = self
            .membership
            .placement
            .moved_fraction(&next.placement)
            .expect("a membership keeps its placement's kind");
        self.membership = next;
        self.ae_placement_changed();
        self.stream_add_source(id);
        Ok(Joined {
            members: self.membership.members.len(),
            moved_fraction,
        })
    }

    /// Removes member `id` (another node) from the cluster as this node
    /// sees it: the placement changes at once. With `join_stream` on, this
    /// node then pulls the keys it gained (see [`stream`]).
    pub fn remove_member(&mut self, now: Micros, id: NodeId) -> Result<Removed, MembershipError> {
        self.forget(now, id, false)
    }

    /// [`Machine::remove_member`]; `handed_off`: the node handed its keys
    /// over as it left, so there is nothing to pull.
    fn forget(
        &mut self,
        now: Micros,
        id: NodeId,
        handed_off: bool,
    ) -> Result<Removed, MembershipError> {
        if id == self.id {
            return Err(MembershipError::Myself(id));
        }
        let next = self.membership.without(id)?;
        let moved_fraction = self
            .membership
            .placement
            .moved_fraction(&next.placement)
            .expect("a membership keeps its placement's kind");
        self.membership = next;
        self.peer_views.remove(&id);
        self.ae_placement_changed();
        if !handed_off {
            self.stream_start(now);
        }
        Ok(Removed {
            members: self.membership.members.len(),
            moved_fraction,
        })
    }

    /// Whether this node is the only member (it holds every key).
    pub(crate) fn solo(&self) -> bool {
        self.membership.members.len() == 1 && self.membership.members[0].id == self.id
    }

    /// Applies a write to the local store, as a replica.
    pub(crate) fn apply_local(
        &mut self,
        key: Bytes,
        entry: Entry,
        now: Micros,
    ) -> Result<(), ReplicaFailure> {
        // A leaving node passes on every write it takes (see [`leave`]).
        let forward = self.leave.is_some().then(|| key.clone());
        let put = self.store.put(key, entry, now, &mut self.rng);
        self.ae_absorb();
        if let Some(key) = forward {
            self.leave_forward(&key, now);
        }
        put.map(|_| ()).map_err(|_| ReplicaFailure::OutOfMemory)
    }

    /// Changes the memory limit and policy (CONFIG SET), evicting at once.
    pub(crate) fn set_memory(&mut self, maxmemory: u64, policy: Policy, now: Micros) {
        let cfg = StoreConfig {
            maxmemory,
            policy,
            ..self.store.config().clone()
        };
        self.store.set_config(cfg, now, &mut self.rng);
    }

    /// For every connection whose commands finished: starts the queued
    /// commands that may now run, and moves ready replies out as effects.
    fn settle(&mut self, now: Micros) {
        while let Some(conn) = self.touched.pop() {
            while let Some((slot, args)) = self.conns.next_startable(conn, cmd::concurrent_key) {
                cmd::start(self, now, conn, slot, args);
            }
            self.flush_replies(conn);
        }
    }

    /// Marks `conn` for [`Machine::settle`] (once, if it was just marked).
    pub(crate) fn touch(&mut self, conn: ConnId) {
        if self.touched.last() != Some(&conn) {
            self.touched.push(conn);
        }
    }

    /// Every other member, by id: whom KEYS, SCAN and FLUSHALL ask.
    pub(crate) fn peers(&self) -> BTreeSet<NodeId> {
        self.membership
            .members
            .iter()
            .map(|m| m.id)
            .filter(|&p| p != self.id)
            .collect()
    }

    /// Whether a command starting now may be slow-logged (see [`slowlog`]).
    pub(crate) fn slowlog_watches(&self) -> bool {
        let peers = self.membership.members.len() > 1;
        slowlog::SlowLog::watches(self.tunables.slowlog_slower_than, peers)
    }

    /// The command in `slot` of `conn` answered at `now`: into the slow
    /// log if it was watched and slow enough.
    pub(crate) fn slowlog_finish(&mut self, conn: ConnId, slot: u64, now: Micros) {
        // The common case, on every command's reply: nothing is watched.
        if !self.slowlog.watching() {
            return;
        }
        let limits = (
            self.tunables.slowlog_slower_than,
            self.tunables.slowlog_max_len,
        );
        let client = self.conns.session(conn);
        self.slowlog.finish(conn, slot, now, limits, client);
    }

    /// Records a command's reply in its slot.
    pub(crate) fn finish_slot(&mut self, conn: ConnId, slot: u64, reply: Bytes) {
        self.conns.finish(conn, slot, reply);
    }

    /// Moves the replies that are next in order out as effects.
    pub(crate) fn flush_replies(&mut self, conn: ConnId) {
        let effects = &mut self.effects;
        self.conns.drain_ready(conn, |e| effects.push_back(e));
    }

    /// Sends `req` to `to` on behalf of `op`.
    pub(crate) fn send(&mut self, op: OpId, to: NodeId, req: PeerRequest) {
        let id = self.next_req;
        self.next_req += 1;
        self.outstanding.insert(id, (op, to));
        self.staged.push(id);
        self.effects
            .push_back(conns::Output::Effect(Effect::Send { to, id, req }));
    }

    /// Sends `req` to `to`, expecting no op to wait for the answer.
    pub(crate) fn send_detached(&mut self, to: NodeId, req: PeerRequest) -> RequestId {
        let id = self.next_req;
        self.next_req += 1;
        self.effects
            .push_back(conns::Output::Effect(Effect::Send { to, id, req }));
        id
    }

    /// The machine's invariants, for tests: every outstanding request and
    /// timer belongs to a live op, which knows the request as its own (so
    /// that its end forgets it), and no request is left staged between
    /// events (it would be handed to the next op that parks).
    #[doc(hidden)]
    pub fn check_invariants(&self) {
        for (id, (op, _)) in &self.outstanding {
            let o = self.ops.get(op);
            assert!(o.is_some(), "request {id} of a dead op {op}");
            assert!(
                o.is_some_and(|o| o.reqs.iter().any(|r| r == *id)),
                "request {id} is not among op {op}'s requests"
            );
        }
        assert!(
            self.staged.is_empty(),
            "requests staged outside an op: {:?}",
            self.staged
        );
        for (_, op) in &self.timers {
            assert!(self.ops.contains_key(op), "timer of a dead op {op}");
        }
    }
}
