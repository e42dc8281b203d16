//! The world of one run and its event loop: the nodes, the clients, the
//! channels and links between them, the fault timeline, and the queue of
//! what happens next. [`run`] builds it from a scenario and a seed, pops
//! events until every client has finished, and returns the record.

use std::time::Duration;

use bytes::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ringlab_core::clock::Micros;
use ringlab_core::machine::ConnId;
use ringlab_core::protocol::peer::{PeerRequest, PeerResponse, RequestId};
use ringlab_core::ring::NodeId;
use ringlab_loadgen::recorder::{Recorder, RunMeta, RunRecord};
use ringlab_loadgen::scenario::{Fault, Scenario};
use ringlab_loadgen::stale::WriteOracle;

use super::app::AppWorld;
use super::clients::Client;
use super::net::{Channel, Link, Step};
use super::nodes::{Job, NodeSlot, PeerLink};
use super::queue::Queue;
use super::{FastError, Outcome, Progress};

/// Model time at the start of every simulation (as the madsim engine's).
pub const ORIGIN_US: Micros = 1_767_225_600_000_000;
/// Model time the cluster gets before clients start (as the madsim engine's).
pub const SETTLE_US: Micros = 1_000;

/// A message on a channel.
#[derive(Debug)]
pub enum Msg {
    /// A client command to the conn's node.
    Cmd {
        client: u32,
        conn: u32,
        epoch: u64,
        args: Vec<Bytes>,
    },
    /// A reply to a client connection.
    Reply {
        client: u32,
        conn: u32,
        epoch: u64,
        bytes: Bytes,
    },
    /// The node of a client connection died: end of stream.
    ClientEof { client: u32, conn: u32, epoch: u64 },
    /// A replica request on peer link `(from, to, idx)`.
    PeerReq {
        link: LinkRef,
        id: RequestId,
        req: Box<PeerRequest>,
    },
    /// Its answer, back on the same link.
    PeerResp {
        link: LinkRef,
        id: RequestId,
        resp: Box<PeerResponse>,
    },
    /// The far end of a peer link died: end of stream.
    LinkEof { link: LinkRef },
}

/// One connection of a peer pool, at one of its incarnations (small: it
/// travels in every replica message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkRef {
    /// Index of the coordinating node (the one that opened the link).
    pub from: u16,
    /// Index of the replica node.
    pub to: u16,
    /// Which connection of the pool.
    pub idx: u16,
    /// The connection's incarnation.
    pub epoch: u64,
}

impl LinkRef {
    /// (from, to, idx) as indexes.
    pub fn ends(&self) -> (usize, usize, usize) {
        (
            usize::from(self.from),
            usize::from(self.to),
            usize::from(self.idx),
        )
    }
}

/// Which channel: each connection has one per direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chan {
    /// Client connection, client to node.
    Up(u32, u32),
    /// Client connection, node to client.
    Down(u32, u32),
    /// Peer link, coordinator to replica.
    Req(usize, usize, usize),
    /// Peer link, replica to coordinator.
    Resp(usize, usize, usize),
}

/// Everything that can happen.
#[derive(Debug)]
pub enum Ev {
    /// A client's next request comes due.
    Arrival(u32),
    /// A client's next phase starts.
    PhaseStart(u32),
    /// A client's earliest deadline (queued or sent) may have passed.
    ClientTimer(u32),
    /// A client connection's reconnect pause ended.
    ConnWake(u32, u32),
    /// A message arrives.
    Deliver(Msg),
    /// A channel's first held message is tried again.
    Retry(Chan, u64),
    /// A core of a node finished an operation.
    CoreDone { node: usize, inc: u64, job: Job },
    /// A node's machine timer.
    NodeTimer { node: usize, inc: u64 },
    /// A node's active expiry period.
    Expire { node: usize, inc: u64 },
    /// A peer request failed at once (its link was down).
    PeerFail {
        node: usize,
        inc: u64,
        peer: NodeId,
        id: RequestId,
    },
    /// A peer link tries to reconnect.
    LinkRetry {
        from: usize,
        to: usize,
        idx: usize,
        epoch: u64,
    },
    /// The fault at this index of the timeline happens.
    Fault(usize),
    /// A database query answers (or is given up on), by id.
    DbDone(u64),
}

/// The whole simulated world.
pub struct World<'a> {
    pub sc: &'a Scenario,
    pub now: Micros,
    pub q: Queue<Ev>,
    /// Draws latencies and losses.
    pub net_rng: ChaCha8Rng,
    /// Latency and loss of every message now.
    pub link: Link,
    /// Cluster nodes by index (`node-(i+1)`).
    pub nodes: Vec<NodeSlot>,
    /// Peer pools by `from * nodes + to`.
    pub links: Vec<Vec<PeerLink>>,
    /// Links cut one way, by `from * nodes + to`.
    pub cut: Vec<bool>,
    pub clients: Vec<Client>,
    /// Client channels, by `2 * (client * conns + conn) + direction`.
    pub client_chans: Vec<Channel<Msg>>,
    /// Connections per client (the most any phase uses).
    pub conns_per_client: usize,
    /// Where every client's requests are recorded.
    pub recorder: Recorder,
    pub oracle: WriteOracle,
    /// Model time of the schedule's start.
    pub t0: Micros,
    /// Clients still running.
    pub running: usize,
    /// Client requests scheduled so far.
    pub scheduled: u64,
    /// The fault timeline, in time order.
    pub faults: Vec<Fault>,
    /// Nodes paused now (so the event loop asks only while one is).
    pub paused: usize,
    /// Scratch for channel steps.
    pub steps: Vec<Step<Msg>>,
    /// The run's seed (restarts and joins seed their machines from it).
    pub seed: u64,
    /// Boxes of replica messages, reused.
    pub boxes: Boxes,
    /// The database and its queries out, with an `[app]` pattern.
    pub app: Option<AppWorld>,
}

/// Spare boxes for replica requests and answers: the payload moves out when
/// a message is consumed and the box waits for the next one, so a replica
/// round trip allocates nothing once the run is warm.
#[derive(Default)]
pub struct Boxes {
    reqs: BoxPool<PeerRequest>,
    resps: BoxPool<PeerResponse>,
}

impl Boxes {
    pub fn req(&mut self, req: PeerRequest) -> Box<PeerRequest> {
        self.reqs.boxed(req)
    }

    pub fn take_req(&mut self, b: Box<PeerRequest>) -> PeerRequest {
        self.reqs.unbox(b, PeerRequest::Get { key: Bytes::new() })
    }

    pub fn resp(&mut self, resp: PeerResponse) -> Box<PeerResponse> {
        self.resps.boxed(resp)
    }

    pub fn take_resp(&mut self, b: Box<PeerResponse>) -> PeerResponse {
        self.resps.unbox(b, PeerResponse::Ack)
    }
}

/// Boxes of one type kept for reuse.
// The boxes themselves are what is pooled: a message carries one.
#[allow(clippy::vec_box)]
struct BoxPool<T>(Vec<Box<T>>);

impl<T> Default for BoxPool<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> BoxPool<T> {
    /// `value` in a spare box, or a new one.
    fn boxed(&mut self, value: T) -> Box<T> {
        match self.0.pop() {
            Some(mut b) => {
                *b = value;
                b
            }
            None => Box::new(value),
        }
    }

    /// The value out of `b` (a cheap `empty` left in its place), keeping
    /// the box.
    fn unbox(&mut self, mut b: Box<T>, empty: T) -> T {
        let value = std::mem::replace(&mut *b, empty);
        self.0.push(b);
        value
    }
}

impl World<'_> {
    /// The channel `c`.
    pub fn chan(&mut self, c: Chan) -> &mut Channel<Msg> {
        let n = self.nodes.len();
        match c {
            Chan::Up(k, i) => {
                &mut self.client_chans[2 * (k as usize * self.conns_per_client + i as usize)]
            }
            Chan::Down(k, i) => {
                &mut self.client_chans[2 * (k as usize * self.conns_per_client + i as usize) + 1]
            }
            Chan::Req(f, t, i) => &mut self.links[f * n + t][i].req,
            Chan::Resp(f, t, i) => &mut self.links[f * n + t][i].resp,
        }
    }

    /// Whether channel `c` is cut now (only links between nodes can be).
    fn clogged(&self, c: Chan) -> bool {
        let n = self.nodes.len();
        match c {
            Chan::Up(..) | Chan::Down(..) => false,
            Chan::Req(f, t, _) => self.cut[f * n + t],
            Chan::Resp(f, t, _) => self.cut[t * n + f],
        }
    }

    /// Sends `msg` on channel `c`, leaving at `at` (now, or later by a
    /// link's extra latency).
    pub fn send(&mut self, c: Chan, at: Micros, msg: Msg) {
        let clogged = self.clogged(c);
        let attempt = self.link.attempt(at, clogged, &mut self.net_rng);
        let rto = self.link.rto;
        let step = self.chan(c).send(at, attempt, rto, msg);
        match step {
            Some(Step::Deliver(t, m)) => self.q.push(t, Ev::Deliver(m)),
            Some(Step::Retry(t)) => {
                let g = self.chan(c).generation;
                self.q.push(t, Ev::Retry(c, g));
            }
            None => {}
        }
    }

    /// Retries the first held message of `c`.
    fn retry(&mut self, c: Chan, generation: u64) {
        if self.chan(c).generation != generation || !self.chan(c).is_held() {
            return;
        }
        let clogged = self.clogged(c);
        let now = self.now;
        let attempt = if self.chan(c).head_lost() {
            self.link.attempt(now, clogged, &mut self.net_rng)
        } else {
            self.link.resend(now, clogged, &mut self.net_rng)
        };
        let rto = self.link.rto;
        let mut steps = std::mem::take(&mut self.steps);
        self.chan(c).retry(now, attempt, rto, &mut steps);
        for s in steps.drain(..) {
            match s {
                Step::Deliver(t, m) => self.q.push(t, Ev::Deliver(m)),
                Step::Retry(t) => self.q.push(t, Ev::Retry(c, generation)),
            }
        }
        self.steps = steps;
    }

    /// Records how a request that came due at `due` ended, now.
    pub fn record(&mut self, due: Micros, op: ringlab_loadgen::workload::OpKind, o: Outcome<'_>) {
        let offset = Duration::from_micros(due.saturating_sub(self.t0));
        let latency = Duration::from_micros(self.now.saturating_sub(due));
        self.recorder.record(offset, op, o, latency);
    }

    /// Handles one event.
    fn handle(&mut self, ev: Ev) {
        // A paused node's events wait for its resume.
        if self.paused > 0
            && let Some(stash) = self
                .node_of(&ev)
                .and_then(|i| self.nodes[i].paused.as_mut())
        {
            stash.push((self.now, ev));
            return;
        }
        match ev {
            Ev::Arrival(k) => self.arrival(k),
            Ev::PhaseStart(k) => self.phase_start(k),
            Ev::ClientTimer(k) => self.client_timer(k),
            Ev::ConnWake(k, c) => self.conn_wake(k, c),
            Ev::Deliver(m) => self.deliver(m),
            Ev::Retry(c, g) => self.retry(c, g),
            Ev::CoreDone { node, inc, job } => self.core_done(node, inc, job),
            Ev::NodeTimer { node, inc } => self.node_timer(node, inc),
            Ev::Expire { node, inc } => self.expire(node, inc),
            Ev::PeerFail {
                node,
                inc,
                peer,
                id,
            } => self.peer_fail(node, inc, peer, id),
            Ev::LinkRetry {
                from,
                to,
                idx,
                epoch,
            } => self.link_retry(from, to, idx, epoch),
            Ev::Fault(i) => self.fault(i),
            Ev::DbDone(id) => self.db_done(id),
        }
    }

    /// Delivers a message to its end.
    fn deliver(&mut self, m: Msg) {
        match m {
            Msg::Cmd {
                client,
                conn,
                epoch,
                args,
            } => self.node_command(client, conn, epoch, args),
            Msg::Reply {
                client,
                conn,
                epoch,
                bytes,
            } => self.client_reply(client, conn, epoch, bytes),
            Msg::ClientEof {
                client,
                conn,
                epoch,
            } => self.client_eof(client, conn, epoch),
            Msg::PeerReq { link, id, req } => self.peer_request(link, id, req),
            Msg::PeerResp { link, id, resp } => {
                let resp = self.boxes.take_resp(resp);
                self.peer_response(link, id, resp)
            }
            Msg::LinkEof { link } => self.link_eof(link),
        }
    }
}

/// A node-side client connection: which client connection it is.
pub type ClientOf = (u32, u32, u64);

/// The client connection behind each node connection id of one node
/// incarnation. A machine numbers its connections 1, 2, 3, ..., so this is
/// a vector by id (looked up for every reply).
#[derive(Default)]
pub struct ConnMap {
    by_id: Vec<Option<ClientOf>>,
}

impl ConnMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, id: ConnId, of: ClientOf) {
        let i = usize::try_from(id).expect("connection ids are small");
        if self.by_id.len() <= i {
            self.by_id.resize(i + 1, None);
        }
        self.by_id[i] = Some(of);
    }

    pub fn get(&self, id: &ConnId) -> Option<&ClientOf> {
        self.by_id.get(usize::try_from(*id).ok()?)?.as_ref()
    }

    pub fn clear(&mut self) {
        self.by_id.clear();
    }

    /// Every entry, in id order; the map is left empty.
    pub fn drain(&mut self) -> impl Iterator<Item = ClientOf> + '_ {
        self.by_id.drain(..).flatten()
    }
}

impl World<'_> {
    /// The end-of-run verdict on lost acknowledged writes, from the live
    /// machines' stores.
    fn durability(&self) -> ringlab_loadgen::durability::Durability {
        let live = || self.nodes.iter().filter_map(|n| n.machine.as_ref());
        let evicted = live().any(|m| m.store().stats().evictions > 0);
        crate::durability::verdict(self.sc, &self.oracle, evicted, |key| {
            live()
                .filter_map(|m| m.store().peek_versioned(key, self.now).cloned())
                .collect()
        })
    }
}

/// Runs `sc` with `seed`; `progress` is told about model time now and then.
pub fn run(
    sc: &Scenario,
    seed: u64,
    mut progress: Option<&mut dyn Progress>,
) -> Result<(RunRecord, u64), FastError> {
    let start = ORIGIN_US + SETTLE_US;
    let meta = RunMeta {
        scenario: sc.name.clone(),
        description: sc.description.clone(),
        seed: Some(seed),
        source: "sim".into(),
        window: sc.window,
    };
    let mut w = World {
        sc,
        now: ORIGIN_US,
        q: Queue::new(),
        net_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x4E45_5457_4F52_4B00),
        link: Link {
            latency: sc.network.latency,
            loss: sc.network.loss,
            rto: sc.network.rto.as_micros() as Micros,
        },
        nodes: Vec::new(),
        links: Vec::new(),
        cut: Vec::new(),
        clients: Vec::new(),
        client_chans: Vec::new(),
        conns_per_client: 0,
        recorder: Recorder::new(meta, &sc.phases),
        oracle: WriteOracle::new(seed),
        t0: start,
        running: 0,
        scheduled: 0,
        faults: Vec::new(),
        paused: 0,
        steps: Vec::new(),
        seed,
        boxes: Boxes::default(),
        app: AppWorld::new(sc, seed, start),
    };
    w.build_nodes(seed)?;
    w.build_clients(seed, start)?;
    w.schedule_faults(start);
    let end = start + sc.duration().as_micros() as Micros;
    let mut next_report = ORIGIN_US;
    while w.running > 0 {
        let Some((t, ev)) = w.q.pop() else { break };
        w.now = t;
        if let Some(p) = progress.as_deref_mut()
            && t >= next_report
        {
            p.at(t.saturating_sub(start), end - start, w.scheduled);
            next_report = t + 100_000;
        }
        w.handle(ev);
    }
    let durability = w.durability();
    let mut record = w.recorder.finish();
    record.durability = Some(durability);
    record.events = crate::events::events_of(&w.faults, &crate::events::join_labels(sc, &w.faults));
    if sc.node_series {
        let ran = w
            .nodes
            .iter()
            .filter(|n| n.starts > 0)
            .filter_map(|n| Some((n.name.clone(), n.cores.stats.as_ref()?.windows().to_vec())))
            .collect();
        let series = crate::node_series::node_series(sc, ran, record.windows.len());
        record.series.extend(series);
    }
    if let Some(app) = &w.app {
        record.series.extend(app.series(sc, record.windows.len()));
    }
    Ok((record, w.scheduled))
}
