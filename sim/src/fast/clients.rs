//! The client machines: the load generator's open-loop driver, as events.
//!
//! Each client walks its phases' arrival schedules with the same generators
//! and seeds as `ringlab_loadgen::driver` (so both engines offer the same
//! requests), queues due requests, holds back those beyond `max_in_flight`,
//! and hands them to its connections, which carry one request at a time.
//! Latency is measured from the intended start. A request past its deadline
//! is a timeout, but a sent one keeps its connection busy until the late
//! reply. A connection whose node died fails what it had outstanding,
//! reconnects on its next request, and after a failed connect pauses 100 ms,
//! doubling to 1 s (the driver's backoff), its request going back to the
//! queue while another connection of the client is up.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ringlab_core::clock::Micros;
use ringlab_core::machine::ConnId;
use ringlab_core::protocol::resp::{Frame, Limits, parse_frame};
use ringlab_loadgen::driver::{Pending, Step};
use ringlab_loadgen::stale::Ticket;
use ringlab_loadgen::workload::{ArrivalGen, OpKind, RequestGen, Shape, command_words, write_key};

use super::app::ClientApp;
use super::net::Channel;
use super::replies::{error_kind, simple_reply};
use super::run::{Chan, Ev, Msg, World};
use super::{FastError, Outcome};

/// First pause after a failed connect (the driver's `FIRST_BACKOFF`).
const FIRST_BACKOFF: Micros = 100_000;
/// Longest pause (the driver's `MAX_BACKOFF`).
const MAX_BACKOFF: Micros = 1_000_000;
/// Bytes of each buffer request keys are cut from.
const KEY_ARENA: usize = 16 * 1024;
/// Error kind of a failed connect, a reset or an EOF.
const CONNECTION: &str = "connection";

/// A request written to a connection and not yet answered.
#[derive(Debug)]
struct Sent {
    p: Pending,
    /// False once recorded as a timeout.
    live: bool,
    ticket: Ticket,
}

/// A connection's link to its node's incarnation.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    pub node: usize,
    pub inc: u64,
    pub node_conn: ConnId,
    pub epoch: u64,
}

/// One client connection.
pub struct ClientConn {
    /// Index of its node.
    target: usize,
    pub session: Option<Session>,
    /// Bumped on every connect.
    epoch: u64,
    paused_until: Option<Micros>,
    backoff: Micros,
    sent: VecDeque<Sent>,
    /// In the client's idle list.
    idle: bool,
}

/// One client machine.
pub struct Client {
    index: u32,
    arrival_rng: ChaCha8Rng,
    request_rng: ChaCha8Rng,
    /// The phase playing now.
    phase: usize,
    phase_start: Micros,
    arrivals: Option<ArrivalGen>,
    requests: Vec<RequestGen>,
    pub(super) queue: VecDeque<Pending>,
    pub(super) in_flight: u64,
    /// Connections with a session.
    connected: usize,
    pub conns: Vec<ClientConn>,
    /// Connections waiting for work, longest-waiting first.
    idle: VecDeque<u32>,
    /// Connections `0..active` take work.
    active: usize,
    /// Sent requests' deadlines, in send order: (deadline, conn).
    deadlines: VecDeque<(Micros, u32)>,
    /// The client timer armed now.
    timer: Option<Micros>,
    /// All phases played.
    done_scheduling: bool,
    /// The `[app]` pattern's state, in a run with a database.
    pub app: Option<ClientApp>,
    /// Reusable key buffer.
    key: Vec<u8>,
    /// Where the keys of requests are cut from (see `World::encode`).
    keys: BytesMut,
}

/// How many client machines the run has: the most any phase asks for.
fn client_count(sc: &ringlab_loadgen::scenario::Scenario) -> u32 {
    sc.phases
        .iter()
        .map(|p| p.clients)
        .max()
        .unwrap_or(1)
        .max(1)
}

impl World<'_> {
    /// Creates the clients, connects them and schedules their first arrivals.
    pub fn build_clients(&mut self, seed: u64, start: Micros) -> Result<(), FastError> {
        let sc = self.sc;
        let count = client_count(sc);
        let conns = sc
            .phases
            .iter()
            .map(|p| p.connections)
            .max()
            .unwrap_or(1)
            .max(1) as usize;
        self.conns_per_client = conns;
        self.client_chans = (0..2 * count as usize * conns)
            .map(|_| Channel::default())
            .collect();
        let targets: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_member)
            .collect();
        if targets.is_empty() {
            return Err(FastError::Unsupported("no node to connect to".into()));
        }
        self.now = start;
        for k in 0..count {
            let cseed = seed.wrapping_mul(31).wrapping_add(u64::from(k) + 1);
            let mut arrival_rng = ChaCha8Rng::seed_from_u64(cseed);
            arrival_rng.set_stream(2 * u64::from(k));
            let mut request_rng = ChaCha8Rng::seed_from_u64(cseed);
            request_rng.set_stream(2 * u64::from(k) + 1);
            let mut requests = Vec::new();
            for p in &sc.phases {
                requests.push(RequestGen::new(p)?);
            }
            self.clients.push(Client {
                index: k,
                arrival_rng,
                request_rng,
                phase: 0,
                phase_start: start,
                arrivals: None,
                requests,
                queue: VecDeque::new(),
                in_flight: 0,
                connected: 0,
                conns: (0..conns)
                    .map(|i| ClientConn {
                        target: targets[(i + k as usize) % targets.len()],
                        session: None,
                        epoch: 0,
                        paused_until: None,
                        backoff: FIRST_BACKOFF,
                        sent: VecDeque::new(),
                        idle: false,
                    })
                    .collect(),
                idle: VecDeque::new(),
                active: 0,
                deadlines: VecDeque::new(),
                timer: None,
                done_scheduling: false,
                app: sc.database.is_some().then(|| ClientApp::new(sc)),
                key: Vec::with_capacity(32),
                keys: BytesMut::new(),
            });
            for c in 0..conns as u32 {
                // Connect before the schedule starts, as the driver does.
                if !self.connect(k, c) {
                    let conn = &mut self.clients[k as usize].conns[c as usize];
                    conn.paused_until = None;
                    conn.backoff = FIRST_BACKOFF;
                }
            }
            self.running += 1;
            self.phase_start(k);
        }
        Ok(())
    }

    /// Client `k`'s phase `phase` starts now (or the run's schedule ends).
    pub fn phase_start(&mut self, k: u32) {
        let sc = self.sc;
        let cl = &mut self.clients[k as usize];
        let Some(phase) = sc.phases.get(cl.phase) else {
            cl.done_scheduling = true;
            cl.arrivals = None;
            self.maybe_done(k);
            return;
        };
        let count = client_count(sc);
        cl.active = (phase.connections as usize).min(cl.conns.len());
        let arrivals = ArrivalGen::new(phase, cl.index, count, &mut cl.arrival_rng)
            .expect("the scenario's phases were validated");
        cl.arrivals = Some(arrivals);
        if let Some(app) = &mut cl.app {
            app.fill_len = cl.requests[cl.phase].max_value_len();
        }
        // Connections this phase activates wait for work.
        for c in 0..cl.active as u32 {
            self.make_idle(k, c);
        }
        self.next_arrival(k);
        self.dispatch(k);
    }

    /// Schedules client `k`'s next arrival, or its next phase's start.
    fn next_arrival(&mut self, k: u32) {
        let sc = self.sc;
        let cl = &mut self.clients[k as usize];
        let arrivals = cl.arrivals.as_mut().expect("a phase is playing");
        match arrivals.next(&mut cl.arrival_rng) {
            Some(offset) => {
                let due = cl.phase_start + offset.as_micros() as Micros;
                self.q.push(due, Ev::Arrival(k));
            }
            None => {
                cl.phase_start += sc.phases[cl.phase].duration.as_micros() as Micros;
                cl.phase += 1;
                cl.arrivals = None;
                let at = cl.phase_start.max(self.now);
                self.q.push(at, Ev::PhaseStart(k));
            }
        }
    }

    /// A request of client `k` comes due now.
    pub fn arrival(&mut self, k: u32) {
        let sc = self.sc;
        let now = self.now;
        self.expire_queue(k);
        let cl = &mut self.clients[k as usize];
        let phase = &sc.phases[cl.phase];
        let req = cl.requests[cl.phase].next(&mut cl.request_rng);
        self.scheduled += 1;
        if cl.in_flight >= u64::from(phase.max_in_flight) {
            self.record(now, req.op, Outcome::HeldBack);
        } else {
            let p = Pending {
                due: now,
                deadline: now + phase.timeout.as_micros() as Micros,
                op: req.op,
                key: req.key,
                value_len: req.value_len,
                shape: Shape::of(phase),
                step: Step::Direct,
            };
            if cl.app.is_some() {
                self.app_start(k, p);
            } else {
                cl.in_flight += 1;
                cl.queue.push_back(p);
                self.dispatch(k);
            }
            self.arm(k);
        }
        self.next_arrival(k);
    }

    /// Records queued requests past their deadline as timeouts.
    fn expire_queue(&mut self, k: u32) {
        let now = self.now;
        while let Some(p) = self.clients[k as usize].queue.front().copied() {
            if p.deadline > now {
                break;
            }
            self.clients[k as usize].queue.pop_front();
            self.end(k, &p, Outcome::Timeout);
        }
    }

    /// Request `p` of client `k` ended its current step with `o`: a fill
    /// is not recorded, a write-through half waits for its other half.
    pub(super) fn end(&mut self, k: u32, p: &Pending, o: Outcome<'_>) {
        match p.step {
            Step::Fill(_) => {}
            Step::Joined(id) => self.join_half(k, id, o),
            _ => self.finish(k, p, o),
        }
    }

    /// A request of client `k` that was in flight ended with `o`.
    pub(super) fn finish(&mut self, k: u32, p: &Pending, o: Outcome<'_>) {
        self.record(p.due, p.op, o);
        let cl = &mut self.clients[k as usize];
        cl.in_flight -= 1;
        self.maybe_done(k);
    }

    /// Client `k` is finished once its schedule ended and nothing is in flight.
    fn maybe_done(&mut self, k: u32) {
        let cl = &mut self.clients[k as usize];
        if cl.done_scheduling && cl.in_flight == 0 {
            cl.done_scheduling = false;
            cl.phase = usize::MAX;
            self.running -= 1;
        }
    }

    /// Arms client `k`'s timer at its earliest deadline.
    pub(super) fn arm(&mut self, k: u32) {
        let cl = &mut self.clients[k as usize];
        while let Some(&(d, c)) = cl.deadlines.front() {
            let live = cl.conns[c as usize]
                .sent
                .iter()
                .any(|s| s.live && s.p.deadline == d);
            if live {
                break;
            }
            cl.deadlines.pop_front();
        }
        let q = cl.queue.front().map(|p| p.deadline);
        let s = cl.deadlines.front().map(|&(d, _)| d);
        let Some(at) = q.into_iter().chain(s).min() else {
            return;
        };
        if cl.timer.is_none_or(|t| at < t) {
            cl.timer = Some(at);
            self.q.push(at, Ev::ClientTimer(k));
        }
    }

    /// Client `k`'s timer: deadlines at or before now pass.
    pub fn client_timer(&mut self, k: u32) {
        let now = self.now;
        if self.clients[k as usize].timer != Some(now) {
            return;
        }
        self.clients[k as usize].timer = None;
        self.expire_queue(k);
        while let Some(&(d, c)) = self.clients[k as usize].deadlines.front() {
            if d > now {
                break;
            }
            self.clients[k as usize].deadlines.pop_front();
            let conn = &mut self.clients[k as usize].conns[c as usize];
            let mut ended = Vec::new();
            for s in conn
                .sent
                .iter_mut()
                .filter(|s| s.live && s.p.deadline <= now)
            {
                s.live = false;
                ended.push(s.p);
            }
            for p in ended {
                self.end(k, &p, Outcome::Timeout);
            }
        }
        self.arm(k);
    }

    /// Connection `c` of client `k` may take work.
    fn make_idle(&mut self, k: u32, c: u32) {
        let cl = &mut self.clients[k as usize];
        let conn = &mut cl.conns[c as usize];
        if conn.idle || !conn.sent.is_empty() || conn.paused_until.is_some() {
            return;
        }
        if (c as usize) < cl.active {
            conn.idle = true;
            cl.idle.push_back(c);
        }
    }

    /// Hands queued requests of client `k` to its idle connections.
    pub(super) fn dispatch(&mut self, k: u32) {
        loop {
            let cl = &mut self.clients[k as usize];
            if cl.queue.is_empty() {
                return;
            }
            let Some(c) = cl.idle.pop_front() else { return };
            cl.conns[c as usize].idle = false;
            if (c as usize) >= cl.active {
                continue;
            }
            self.take(k, c);
        }
    }

    /// Connection `c` takes the next live request from the queue.
    fn take(&mut self, k: u32, c: u32) {
        let now = self.now;
        while let Some(p) = self.clients[k as usize].queue.pop_front() {
            if p.deadline <= now {
                self.end(k, &p, Outcome::Timeout);
                continue;
            }
            self.start_send(k, c, p);
            return;
        }
        self.make_idle(k, c);
    }

    /// Connection `c` of client `k` sends `p`, connecting first if needed.
    fn start_send(&mut self, k: u32, c: u32, p: Pending) {
        let session = self.clients[k as usize].conns[c as usize].session;
        let session = match session {
            Some(s) if self.nodes[s.node].inc == s.inc && self.nodes[s.node].alive() => s,
            Some(_) => {
                // The write to a dead node's socket fails: this request is
                // a connection error and the connection is closed.
                self.close_conn(k, c);
                self.settle(k, p, Outcome::Error(CONNECTION));
                return self.take(k, c);
            }
            None => {
                if !self.connect(k, c) {
                    return self.connect_failed(k, c, p);
                }
                self.clients[k as usize].conns[c as usize]
                    .session
                    .expect("connected")
            }
        };
        let (args, ticket) = self.encode(k, &p);
        let cl = &mut self.clients[k as usize];
        cl.conns[c as usize].sent.push_back(Sent {
            p,
            live: true,
            ticket,
        });
        cl.deadlines.push_back((p.deadline, c));
        let at = self.now + self.nodes[session.node].client_extra;
        let msg = Msg::Cmd {
            client: k,
            conn: c,
            epoch: session.epoch,
            args,
        };
        self.send(Chan::Up(k, c), at, msg);
        self.arm(k);
    }

    /// The command of `p` and its oracle ticket.
    fn encode(&mut self, k: u32, p: &Pending) -> (Vec<Bytes>, Ticket) {
        let cl = &mut self.clients[k as usize];
        cl.key.clear();
        write_key(&mut cl.key, b"", p.key);
        // Keys are cut from a shared buffer: no allocation per key, and the
        // machine's clones of it (one per replica request) only count
        // references.
        if cl.keys.capacity() - cl.keys.len() < cl.key.len() {
            cl.keys = BytesMut::with_capacity(KEY_ARENA.max(cl.key.len()));
        }
        cl.keys.extend_from_slice(&cl.key);
        let key = cl.keys.split().freeze();
        let op = p.step.command(p.op);
        let ttl_ms = p.step.px_ms().or(p.shape.ttl_ms);
        match op {
            OpKind::Get => {
                let t = self.oracle.sent(OpKind::Get, p.key, None);
                (vec![Bytes::from_static(b"GET"), key], t)
            }
            OpKind::Delete => {
                let t = self.oracle.sent(OpKind::Delete, p.key, None);
                (vec![Bytes::from_static(b"DEL"), key], t)
            }
            OpKind::Set if ttl_ms.is_none() && !p.step.is_fill() => {
                let mut v = value_of(p.value_len);
                let t = self.oracle.sent(OpKind::Set, p.key, Some(&mut v));
                (vec![Bytes::from_static(b"SET"), key, Bytes::from(v)], t)
            }
            // The rarer shapes take the load generator's own words. A
            // cache fill copies the database's value, which the oracle
            // cannot date: it carries no stamp and is not judged.
            op => {
                let mut v = value_of(if op == OpKind::Set { p.value_len } else { 0 });
                let value = (op == OpKind::Set).then_some(&mut v[..]);
                let t = if p.step.is_fill() {
                    Ticket::Unjudged
                } else {
                    self.oracle.sent(op, p.key, value)
                };
                let shape = Shape { ttl_ms, ..p.shape };
                let words = command_words(op, p.key, b"", &shape, &v);
                (words.into_iter().map(Bytes::from).collect(), t)
            }
        }
    }

    /// Connection `c` of client `k` connects to its node; false if refused.
    fn connect(&mut self, k: u32, c: u32) -> bool {
        let target = self.clients[k as usize].conns[c as usize].target;
        let ok =
            self.nodes[target].alive() && self.link.connects(self.now, false, &mut self.net_rng);
        if !ok {
            return false;
        }
        let slot = &mut self.nodes[target];
        let node_conn = slot.machine.as_mut().expect("alive").open_client();
        let inc = slot.inc;
        let cl = &mut self.clients[k as usize];
        let conn = &mut cl.conns[c as usize];
        conn.epoch += 1;
        conn.session = Some(super::clients::Session {
            node: target,
            inc,
            node_conn,
            epoch: conn.epoch,
        });
        conn.backoff = FIRST_BACKOFF;
        cl.connected += 1;
        slot.conns.insert(node_conn, (k, c, conn.epoch));
        self.chan(Chan::Up(k, c)).reset();
        self.chan(Chan::Down(k, c)).reset();
        true
    }

    /// A connect for `p` failed: the request goes back to the queue while
    /// another connection is up, else it is a connection error; the
    /// connection pauses.
    fn connect_failed(&mut self, k: u32, c: u32, p: Pending) {
        let now = self.now;
        let cl = &mut self.clients[k as usize];
        let conn = &mut cl.conns[c as usize];
        let until = now + conn.backoff;
        conn.paused_until = Some(until);
        conn.backoff = (conn.backoff * 2).min(MAX_BACKOFF);
        self.q.push(until, Ev::ConnWake(k, c));
        if cl.connected > 0 {
            cl.queue.push_front(p);
            self.dispatch(k);
        } else {
            self.settle(k, p, Outcome::Error(CONNECTION));
        }
    }

    /// Connection `c`'s pause ended.
    pub fn conn_wake(&mut self, k: u32, c: u32) {
        let conn = &mut self.clients[k as usize].conns[c as usize];
        if conn.paused_until != Some(self.now) {
            return;
        }
        conn.paused_until = None;
        self.make_idle(k, c);
        self.dispatch(k);
    }

    /// Closes connection `c`'s session (its node is gone).
    fn close_conn(&mut self, k: u32, c: u32) {
        let cl = &mut self.clients[k as usize];
        if cl.conns[c as usize].session.take().is_some() {
            cl.connected -= 1;
        }
    }

    /// A reply arrives on connection `c` of client `k`.
    pub fn client_reply(&mut self, k: u32, c: u32, epoch: u64, bytes: Bytes) {
        let conn = &self.clients[k as usize].conns[c as usize];
        if conn.session.is_none_or(|s| s.epoch != epoch) {
            return;
        }
        // One message holds every reply the node wrote in one turn: mostly
        // one, read in place.
        if let Some(frame) = simple_reply(&bytes) {
            self.one_reply(k, c, &frame);
        } else {
            let mut buf = BytesMut::from(&bytes[..]);
            loop {
                let frame = match parse_frame(&mut buf, &Limits::default()) {
                    Ok(Some(f)) => f,
                    Ok(None) if buf.is_empty() => break,
                    _ => {
                        buf.clear();
                        Frame::Error(Bytes::from_static(b"ERR unreadable reply"))
                    }
                };
                self.one_reply(k, c, &frame);
            }
        }
        self.after_free(k, c);
    }

    /// One reply on connection `c`: it answers the oldest request sent.
    fn one_reply(&mut self, k: u32, c: u32, frame: &Frame) {
        let conn = &mut self.clients[k as usize].conns[c as usize];
        let Some(s) = conn.sent.pop_front() else {
            return;
        };
        let stale = self.oracle.replied(&s.ticket, frame);
        if s.live {
            let o = match frame {
                Frame::Error(text) => Outcome::Error(error_kind(text)),
                Frame::Null | Frame::NullArray if s.p.op == OpKind::Get => Outcome::Miss,
                _ if stale => Outcome::Stale,
                _ => Outcome::Ok,
            };
            self.settle(k, s.p, o);
        }
    }

    /// Connection `c` has room again: it takes queued work or waits.
    fn after_free(&mut self, k: u32, c: u32) {
        let cl = &self.clients[k as usize];
        let conn = &cl.conns[c as usize];
        if !conn.sent.is_empty() || conn.paused_until.is_some() || c as usize >= cl.active {
            return;
        }
        if cl.queue.is_empty() {
            self.make_idle(k, c);
        } else {
            self.take(k, c);
        }
    }

    /// Connection `c`'s node died: what it had outstanding fails.
    pub fn client_eof(&mut self, k: u32, c: u32, epoch: u64) {
        let conn = &mut self.clients[k as usize].conns[c as usize];
        if conn.session.is_none_or(|s| s.epoch != epoch) {
            return;
        }
        if conn.sent.is_empty() {
            // Not reading: the connection finds out at its next write.
            return;
        }
        let failed: Vec<Pending> = conn
            .sent
            .drain(..)
            .filter(|s| s.live)
            .map(|s| s.p)
            .collect();
        self.close_conn(k, c);
        for p in failed {
            self.settle(k, p, Outcome::Error(CONNECTION));
        }
        self.after_free(k, c);
    }
}

/// A SET's value of `len` bytes (the oracle stamps its start).
fn value_of(len: u64) -> Vec<u8> {
    (0..len as usize).map(|i| b'a' + (i % 26) as u8).collect()
}
