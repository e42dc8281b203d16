//! The one drive loop of every replicated operation.
//!
//! A command's [`Plan`] asks for reads and writes one at a time
//! ([`Step`]); this module carries each out against the key's replicas with
//! the sans-IO [`ReadOp`] / [`WriteOp`] of [`replication`](crate::replication),
//! parks the command while answers are due, and resumes the plan with the
//! result. The decisions that are the node's, not the quorum's, live here
//! too: a key on this node alone needs no quorum; with R=1 a coordinator
//! that is a replica answers from its own store (every
//! `read_repair_every`-th such read still asks the others, to repair them);
//! after a read, replicas that answered with something older get the newest
//! entry, except that a replica holding nothing needs no tombstone.
//!
//! A replica the failure detector suspects ([`super::liveness`]) is not
//! sent to: it counts as failed at once, so an operation that cannot reach
//! its quorum among the live replicas fails without waiting for the replica
//! timeout. With hinted handoff on, a write stays behind its command until
//! every replica answered or the timeout passed, leaving hints for those
//! that missed it ([`super::handoff`]); with sloppy quorum on, a replica
//! that fails at once gets a stand-in whose ack counts ([`super::sloppy`]).

use std::collections::BTreeSet;

use bytes::{Bytes, BytesMut};

use super::gather::{Gathering, gathered};
use super::handoff::{Hint, Watch};
use super::{Machine, Op, OpId};
use crate::clock::Micros;
use crate::cmd::plan::{Cx, Input, Plan, Step};
use crate::cmd::{COMMANDS, reply};
use crate::protocol::peer::{PeerRequest, PeerResponse};
use crate::protocol::resp::{Proto, write_bulk, write_error, write_nil};
use crate::replication::{
    QuorumFailure, ReadDecision, ReadOp, ReplicaFailure, Targets, Versioned, WriteDecision, WriteOp,
};
use crate::ring::{NodeId, Placement};
use crate::store::{Entry, Kind, Version};

use super::conns::ConnId;

impl Versioned for Entry {
    type Version = Version;
    fn version(&self) -> Version {
        self.version
    }
}

/// Why a replicated operation failed; the command answers with its error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpError {
    /// The quorum was not met.
    Unavailable {
        /// Replicas that answered.
        got: usize,
        /// Replicas needed.
        needed: usize,
    },
    /// The write could not be stored for lack of memory.
    OutOfMemory,
    /// The capacity model refused the operation.
    Overloaded,
}

fn quorum_error(f: &QuorumFailure) -> OpError {
    if f.out_of_memory() {
        OpError::OutOfMemory
    } else {
        OpError::Unavailable {
            got: f.got,
            needed: f.needed,
        }
    }
}

/// The client command an op answers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CmdRef {
    /// Its connection.
    pub(crate) conn: ConnId,
    /// Its slot in the connection's pipeline.
    pub(crate) slot: u64,
    /// Its index in the command table (metrics, error text).
    pub(crate) idx: usize,
    /// When it started.
    pub(crate) started: Micros,
    /// When it gives up (TIMEOUT).
    pub(crate) deadline: Micros,
    /// The protocol of its connection when it started (its reply's).
    pub(crate) proto: Proto,
}

/// What a parked op waits for.
#[derive(Debug)]
pub(crate) enum Waiting {
    /// Answers to a quorum read of `key`.
    Read { key: Bytes, op: ReadOp<Entry> },
    /// Acks of a quorum write; with hinted handoff, the watch that hints
    /// the replicas that miss it.
    Write {
        op: WriteOp,
        watch: Option<Box<Watch>>,
    },
    /// Acks of FLUSHALL (at `version`) from every peer, until `deadline`.
    Flush {
        peers: BTreeSet<NodeId>,
        deadline: Micros,
        version: Version,
    },
    /// Pages of keys from every peer (KEYS, SCAN), until `deadline`.
    Gather(Gathering),
}

impl Waiting {
    /// When this wait must be woken by a timer.
    fn deadline(&self) -> Option<Micros> {
        match self {
            Waiting::Read { op, .. } => op.poll_timeout(),
            Waiting::Write { op, watch } => op
                .poll_timeout()
                .or_else(|| watch.as_ref().and_then(|w| w.due())),
            Waiting::Flush {
                peers, deadline, ..
            } => (!peers.is_empty()).then_some(*deadline),
            Waiting::Gather(g) => (!g.peers.is_empty()).then_some(g.deadline),
        }
    }
}

impl Waiting {
    /// Whether the op stays after its command has its answer: a read for
    /// its repairs, a watched write for its hints.
    fn lingers(&self) -> bool {
        match self {
            Waiting::Read { .. } => true,
            Waiting::Write { watch, .. } => watch.as_ref().is_some_and(|w| w.due().is_some()),
            _ => false,
        }
    }
}

/// How a read or write started: decided at once, or waiting for peers.
// A return value moved once into its op: boxing the wait would only add an
// allocation per replicated operation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Begun<T> {
    /// Decided locally.
    Done(T),
    /// Sent to replicas: park the command on this.
    Wait(Waiting),
}

/// The result of a wait, for the plan.
pub(crate) type Outcome = Result<Input, OpError>;

impl Machine {
    /// The key's preference list.
    pub(crate) fn replicas(&mut self, key: &[u8]) -> Targets {
        if self.solo() {
            return Targets::from_elem(self.id, 1);
        }
        // The placement writes into a vector: the machine's, reused.
        let mut out = std::mem::take(&mut self.scratch);
        self.membership
            .placement
            .preference_list_into(key, self.quorum.n, &mut out);
        let targets = Targets::from_slice(&out);
        self.scratch = out;
        targets
    }

    /// Runs `plan` from `input` until it replies or must wait for peers.
    pub(crate) fn run_plan(&mut self, now: Micros, cmd: CmdRef, mut plan: Plan, input: Input) {
        let mut next = Ok(input);
        loop {
            let step = match next {
                Ok(input) => {
                    let mut cx = Cx {
                        now,
                        node: self.id,
                        last_version: &mut self.last_version,
                        tombstone_grace: self.cfg.tombstone_grace.as_micros() as Micros,
                        proto: cmd.proto,
                        rng: &mut self.rng,
                        store: &self.store,
                    };
                    plan.step(input, &mut cx)
                }
                Err(e) => Step::Reply(reply::op_error(&e, COMMANDS[cmd.idx].name)),
            };
            let id = self.next_op;
            let wait = match step {
                Step::Reply(bytes) => return self.finish_command(now, cmd, bytes),
                Step::Value(v) => {
                    let proto = cmd.proto;
                    return self.finish_command_with(now, cmd, |out| match v {
                        Some(v) => write_bulk(out, &v),
                        None => write_nil(out, proto),
                    });
                }
                Step::Read(key) => match self.begin_read(now, id, key) {
                    Begun::Done(v) => {
                        next = Ok(Input::Read(v));
                        continue;
                    }
                    Begun::Wait(w) => w,
                },
                Step::ReadValue(key) => match self.read_path(now, &key) {
                    None => return self.reply_value(now, cmd, &key),
                    Some(targets) => self.quorum_read(now, id, key, targets),
                },
                Step::Write(key, entry) => match self.begin_write(now, id, key, entry) {
                    Begun::Done(r) => {
                        next = r.map(|()| Input::Wrote);
                        continue;
                    }
                    Begun::Wait(w) => w,
                },
                Step::FlushAll(version) => match self.begin_flush(now, id, version) {
                    Some(w) => w,
                    None => {
                        next = Ok(Input::Flushed);
                        continue;
                    }
                },
                Step::Gather(req) => match self.begin_gather(now, id, req) {
                    Begun::Done(pages) => {
                        next = Ok(Input::Pages(pages));
                        continue;
                    }
                    Begun::Wait(w) => w,
                },
            };
            self.next_op += 1;
            // The requests just sent for this wait are the op's.
            let mut reqs = super::ReqIds::default();
            reqs.extend(self.staged.drain(..));
            self.ops.insert(
                id,
                Op {
                    cmd: Some(cmd),
                    plan,
                    wait,
                    reqs,
                    timer: None,
                },
            );
            // The local answer may already have decided it.
            return self.progress(now, id);
        }
    }

    /// A read: `Ok` when it is answered locally, or the wait to park.
    fn begin_read(&mut self, now: Micros, id: OpId, key: Bytes) -> Begun<Option<Entry>> {
        match self.read_path(now, &key) {
            None => Begun::Done(self.store.get_versioned(&key, now).cloned()),
            Some(targets) => Begun::Wait(self.quorum_read(now, id, key, targets)),
        }
    }

    /// Who answers a read of `key`: None when this node's store alone does,
    /// else the replicas to ask.
    fn read_path(&mut self, now: Micros, key: &[u8]) -> Option<Targets> {
        if self.solo() {
            // A node alone holds every key (the common single-node case,
            // kept free of the preference list's allocation).
            return None;
        }
        let targets = self.replicas(key);
        let mine = targets.contains(&self.id);
        if mine && self.stream_pending(key, now) {
            // Not here yet: its previous owner answers (see `stream`).
            self.metrics.stream.forwarded += 1;
            return Some(self.stream_forward_targets(key).into());
        }
        let local_only = targets.len() == 1 && mine;
        let shortcut = !local_only && self.quorum.r == 1 && mine && {
            let n = self.local_reads;
            self.local_reads += 1;
            // This replica alone is the quorum; asking the others would only
            // serve read repair, which every `read_repair_every`-th read does.
            !n.is_multiple_of(u64::from(self.cfg.read_repair_every))
        };
        (!(local_only || shortcut)).then_some(targets)
    }

    /// Sends a read of `key` to `targets` (this node's own answer is taken
    /// at once): the wait to park.
    fn quorum_read(&mut self, now: Micros, id: OpId, key: Bytes, targets: Targets) -> Waiting {
        let mut op = ReadOp::new(targets, self.quorum.r, now, self.cfg.replica_timeout);
        let mut local = None;
        while let Some(t) = op.poll_transmit() {
            if t == self.id {
                local = Some(self.store.get_versioned(&key, now).cloned());
            } else if self.liveness.suspects(t, now) {
                op.handle_reply(t, Err(ReplicaFailure::Unreachable));
            } else {
                self.send(id, t, PeerRequest::Get { key: key.clone() });
            }
        }
        if let Some(v) = local {
            op.handle_reply(self.id, Ok(v));
        }
        Waiting::Read { key, op }
    }

    /// Answers a [`Step::ReadValue`] from this node's store: the value (or
    /// null) is written straight into the connection's replies.
    fn reply_value(&mut self, now: Micros, cmd: CmdRef, key: &[u8]) {
        self.metrics
            .record(cmd.idx, now.saturating_sub(cmd.started));
        self.slowlog_finish(cmd.conn, cmd.slot, now);
        // The store drops an expired entry when it is read, and a tombstone
        // has no value: what is left is live.
        let entry = self.store.get_versioned(key, now);
        let value = entry.and_then(|e| e.value.as_deref());
        // A collection under the key: GET answers WRONGTYPE, as Redis does.
        let wrong = entry.is_some_and(|e| e.kind != Kind::String && e.value.is_some());
        self.conns
            .finish_with(cmd.conn, cmd.slot, |out| match value {
                _ if wrong => write_error(out, reply::E_WRONGTYPE),
                Some(v) => write_bulk(out, v),
                None => write_nil(out, cmd.proto),
            });
        self.touch(cmd.conn);
    }

    /// A write: `Ok` when it is decided locally, or the wait to park.
    fn begin_write(
        &mut self,
        now: Micros,
        id: OpId,
        key: Bytes,
        entry: Entry,
    ) -> Begun<Result<(), OpError>> {
        let solo = self.solo();
        let targets = if solo {
            Targets::new()
        } else {
            self.replicas(&key)
        };
        if solo || (targets.len() == 1 && targets[0] == self.id) {
            return Begun::Done(
                self.apply_local(key, entry, now)
                    .map_err(|_| OpError::OutOfMemory),
            );
        }
        let mut watch = self.watch_write(now, &key, &entry, &targets);
        let mut op = WriteOp::new(targets, self.quorum.w, now, self.cfg.replica_timeout);
        let mut local = None;
        let mut suspected = Vec::new();
        while let Some(t) = op.poll_transmit() {
            if t == self.id {
                local = Some(self.apply_local(key.clone(), entry.clone(), now));
            } else if self.liveness.suspects(t, now) {
                suspected.push(t);
            } else {
                let req = PeerRequest::Put {
                    key: key.clone(),
                    entry: entry.clone(),
                };
                self.send(id, t, req);
            }
        }
        // Suspected replicas fail at once, each after its stand-in (if
        // sloppy quorum is on) joined the op: stand-ins come after every
        // replica was sent to.
        for t in suspected {
            let failed = Err(ReplicaFailure::Unreachable);
            let hint = watch.as_mut().and_then(|w| w.answer(t, &failed));
            self.keep_hints(now, hint);
            self.stand_in(now, id, &mut op, t, (&key, &entry));
            op.handle_ack(t, failed);
        }
        if let Some(res) = local {
            op.handle_ack(self.id, res);
        }
        Begun::Wait(Waiting::Write { op, watch })
    }

    /// FLUSHALL: this node's keys now, and every peer's (waiting up to the
    /// replica timeout for their acks; a peer that does not ack keeps its
    /// keys, and gets a hint when handoff is on). None when there are no
    /// peers.
    fn begin_flush(&mut self, now: Micros, id: OpId, version: Version) -> Option<Waiting> {
        self.store.flush(version);
        let peers = self.peers();
        if peers.is_empty() {
            return None;
        }
        for &p in &peers {
            self.send(id, p, PeerRequest::Flush { version });
        }
        let deadline = now.saturating_add(self.cfg.replica_timeout.as_micros() as Micros);
        Some(Waiting::Flush {
            peers,
            deadline,
            version,
        })
    }

    /// A peer's answer (or failure) for op `id`.
    pub(crate) fn answer(
        &mut self,
        now: Micros,
        id: OpId,
        from: NodeId,
        resp: Result<PeerResponse, ReplicaFailure>,
    ) {
        if matches!(resp, Ok(PeerResponse::Failed(ReplicaFailure::Moving)))
            && let Some(Waiting::Read { key, .. }) = self.ops.get(&id).map(|o| &o.wait)
        {
            let key = key.clone();
            self.stream_redirect(now, id, &key);
        }
        let Some(op) = self.ops.get_mut(&id) else {
            return;
        };
        let mut hint = None;
        let mut failed = None;
        match &mut op.wait {
            Waiting::Read { op, .. } => {
                // An entry the last flush here removed is no entry: the
                // replica missed the flush.
                let got = read_result(resp).map(|e| e.filter(|e| !self.store.flushed(e.version)));
                op.handle_reply(from, got)
            }
            Waiting::Write { op, watch } => {
                let res = write_result(resp);
                hint = watch.as_mut().and_then(|w| w.answer(from, &res));
                if res.is_err() && self.cfg.sloppy_quorum {
                    // Counted by `write_failed`, after a stand-in joined.
                    failed = Some(res);
                } else {
                    op.handle_ack(from, res);
                }
            }
            Waiting::Flush { peers, version, .. } => {
                let acked = matches!(resp, Ok(PeerResponse::Ack));
                if peers.remove(&from) && !acked && self.handoff.is_on() {
                    hint = Some(Hint::flush(from, *version));
                }
            }
            Waiting::Gather(g) => {
                // A failed or unexpected answer only counts as silence.
                if g.peers.remove(&from)
                    && let Ok(PeerResponse::Page(p)) = resp
                {
                    g.pages.push(*p);
                }
            }
        }
        if let Some(res) = failed {
            self.write_failed(now, id, from, res);
        }
        self.keep_hints(now, hint);
        self.progress(now, id);
    }

    /// A timer of op `id` fired at `now`.
    pub(crate) fn expire_op(&mut self, now: Micros, id: OpId) {
        let Some(op) = self.ops.get_mut(&id) else {
            return;
        };
        if let Some(cmd) = op.cmd
            && now >= cmd.deadline
        {
            // The command as a whole ran out of time (multi-key commands
            // sum several quorum waits); the op's requests are forgotten.
            let spec = &COMMANDS[cmd.idx];
            let bytes = reply::timeout(spec.name, self.cfg.command_timeout);
            self.end_op(id);
            return self.finish_command(now, cmd, bytes);
        }
        let mut hints = Vec::new();
        match &mut op.wait {
            Waiting::Read { op, .. } => op.handle_timeout(now),
            Waiting::Write { op, watch } => {
                op.handle_timeout(now);
                hints = watch.as_mut().map_or(Vec::new(), |w| w.expire(now));
            }
            Waiting::Flush {
                peers,
                deadline,
                version,
            } => {
                if now >= *deadline {
                    let silent = std::mem::take(peers);
                    if self.handoff.is_on() {
                        hints = silent
                            .into_iter()
                            .map(|p| Hint::flush(p, *version))
                            .collect();
                    }
                }
            }
            Waiting::Gather(g) => {
                if now >= g.deadline {
                    g.peers.clear();
                }
            }
        }
        self.keep_hints(now, hints);
        self.progress(now, id);
    }

    /// After an answer or a timeout: resumes the plan if the wait is over,
    /// repairs replicas once a read heard from everyone, and keeps the
    /// op's timer at its current deadline.
    fn progress(&mut self, now: Micros, id: OpId) {
        let Some(op) = self.ops.get_mut(&id) else {
            return;
        };
        let result: Option<Outcome> = match &mut op.wait {
            Waiting::Read { op: r, .. } => match (op.cmd.is_some(), r.decision()) {
                (true, Some(ReadDecision::Value(v))) => Some(Ok(Input::Read(v.clone()))),
                (true, Some(ReadDecision::Failed(f))) => Some(Err(quorum_error(f))),
                _ => None,
            },
            Waiting::Write { op: w, .. } if op.cmd.is_some() => match w.decision() {
                Some(WriteDecision::Committed) => Some(Ok(Input::Wrote)),
                Some(WriteDecision::Failed(f)) => Some(Err(quorum_error(f))),
                None => None,
            },
            // A write that answered its command, waiting for hints.
            Waiting::Write { .. } => None,
            Waiting::Flush { peers, .. } => peers.is_empty().then_some(Ok(Input::Flushed)),
            Waiting::Gather(g) => g.peers.is_empty().then(|| gathered(g)),
        };
        if let Some(result) = result {
            if result.is_err() {
                self.metrics.quorum_failures += 1;
            }
            let op = self.ops.get_mut(&id).expect("looked up above");
            let cmd = op.cmd.take().expect("only commands decide");
            let plan = std::mem::take(&mut op.plan);
            if !op.wait.lingers() {
                self.end_op(id);
            }
            // A read stays behind without its command, for the repairs; a
            // watched write, for its hints.
            self.settle_read(now, id);
            self.settle_write(id);
            self.rearm(id);
            return self.resume(now, cmd, plan, result);
        }
        self.settle_read(now, id);
        self.settle_write(id);
        self.rearm(id);
    }

    /// A read whose command has its answer: once every replica answered (or
    /// the deadline passed), repairs the stale ones and ends.
    fn settle_read(&mut self, now: Micros, id: OpId) {
        let Some(op) = self.ops.get(&id) else {
            return;
        };
        let Waiting::Read { op: r, .. } = &op.wait else {
            return;
        };
        if op.cmd.is_some() || !r.is_finished() {
            return;
        }
        let Some(newest) = r.newest().cloned() else {
            return self.end_op(id);
        };
        let mut repairs = Vec::new();
        for t in r.repairs() {
            // A replica that has nothing needs no tombstone.
            let had = r
                .replies()
                .iter()
                .find(|(n, _)| *n == t)
                .and_then(|(_, v)| v.as_ref());
            if newest.value.is_none() && had.is_none() {
                continue;
            }
            repairs.push(t);
        }
        // The key moves out of the ending op (a read, as seen above) rather
        // than being cloned.
        let key = match self.ops.get_mut(&id).map(|o| &mut o.wait) {
            Some(Waiting::Read { key, .. }) => std::mem::take(key),
            _ => Bytes::new(),
        };
        self.end_op(id);
        for t in repairs {
            self.metrics.read_repairs += 1;
            if t == self.id {
                let _ = self.apply_local(key.clone(), newest.clone(), now);
            } else {
                let req = PeerRequest::Put {
                    key: key.clone(),
                    entry: newest.clone(),
                };
                self.send_detached(t, req);
            }
        }
    }

    /// A write whose command has its answer ends once its watch has
    /// nothing left to hint.
    fn settle_write(&mut self, id: OpId) {
        let Some(op) = self.ops.get(&id) else {
            return;
        };
        if op.cmd.is_none() && matches!(op.wait, Waiting::Write { .. }) && !op.wait.lingers() {
            self.end_op(id);
        }
    }

    /// Continues a command's plan after a wait.
    fn resume(&mut self, now: Micros, cmd: CmdRef, plan: Plan, result: Outcome) {
        match result {
            Ok(input) => self.run_plan(now, cmd, plan, input),
            Err(e) => {
                let bytes = reply::op_error(&e, COMMANDS[cmd.idx].name);
                self.finish_command(now, cmd, bytes)
            }
        }
    }

    /// Puts op `id`'s timer at its current deadline.
    fn rearm(&mut self, id: OpId) {
        let Some(op) = self.ops.get_mut(&id) else {
            return;
        };
        let mut due = op.wait.deadline();
        if let Some(cmd) = op.cmd {
            due = Some(due.map_or(cmd.deadline, |d| d.min(cmd.deadline)));
        }
        if op.timer == due {
            return;
        }
        if let Some(t) = op.timer.take() {
            self.timers.remove(&(t, id));
        }
        if let Some(t) = due {
            self.timers.insert((t, id));
            op.timer = Some(t);
        }
    }

    /// Forgets op `id`: its timer and its unanswered requests.
    pub(crate) fn end_op(&mut self, id: OpId) {
        let Some(op) = self.ops.remove(&id) else {
            return;
        };
        if let Some(t) = op.timer {
            self.timers.remove(&(t, id));
        }
        for r in op.reqs.iter() {
            self.outstanding.remove(&r);
        }
    }

    /// A command's reply is ready: count it and queue it in order.
    pub(crate) fn finish_command(&mut self, now: Micros, cmd: CmdRef, bytes: Bytes) {
        self.finish_command_with(now, cmd, |out| out.extend_from_slice(&bytes));
    }

    /// [`Machine::finish_command`] with the reply written by `write`
    /// (straight into the connection's output when it is next in line).
    fn finish_command_with(&mut self, now: Micros, cmd: CmdRef, write: impl FnOnce(&mut BytesMut)) {
        self.metrics
            .record(cmd.idx, now.saturating_sub(cmd.started));
        self.slowlog_finish(cmd.conn, cmd.slot, now);
        self.conns.finish_with(cmd.conn, cmd.slot, write);
        self.touch(cmd.conn);
    }
}

fn read_result(r: Result<PeerResponse, ReplicaFailure>) -> Result<Option<Entry>, ReplicaFailure> {
    match r? {
        PeerResponse::Entry(e) => Ok(e),
        PeerResponse::Failed(f) => Err(f),
        _ => Err(ReplicaFailure::Other(
            "expected an entry, got another answer".into(),
        )),
    }
}

pub(crate) fn write_result(r: Result<PeerResponse, ReplicaFailure>) -> Result<(), ReplicaFailure> {
    match r? {
        PeerResponse::Ack => Ok(()),
        PeerResponse::Failed(f) => Err(f),
        _ => Err(ReplicaFailure::Other(
            "expected an ack, got another answer".into(),
        )),
    }
}
