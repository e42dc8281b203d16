//! Client sessions and the in-order reply queue of each connection.
//!
//! A pipeline's commands are slots in arrival order. On a replicated node
//! each data command waits for replicas, so running a pipeline one command
//! at a time would cost one quorum round trip per command: a single-key
//! command therefore starts at once when every earlier unfinished command of
//! the connection is also a single-key command on another key. Anything else
//! (the same key, a multi-key or a server command) waits until every earlier
//! command finished, so a pipeline observes its own writes as with Redis.
//! Replies leave strictly in slot order, whatever order they finish in.
//!
//! Each connection owns one output buffer. A reply whose slot is first in
//! line is written straight into it (see `Conns::finish_with`); a reply
//! that finishes early waits in its slot and is copied in when its turn
//! comes. The driver takes the buffer whole: one effect carries every reply
//! a connection got since the driver last looked, in order.

use std::collections::VecDeque;
use std::net::IpAddr;

use bytes::{Bytes, BytesMut};

use super::{Effect, IdMap};
use crate::protocol::resp::{Proto, write_array_header};
use crate::ring::NodeId;
use crate::store::Version;

/// Identifies a client connection (also its CLIENT ID).
pub type ConnId = u64;

/// The output buffer a connection keeps between turns; a larger one (after
/// a large reply or a long pipeline) goes with the replies taken.
const OUT_KEEP: usize = 64 * 1024;

/// At most this many commands of one connection run at once.
const MAX_RUNNING: usize = 256;

/// Per-connection state the commands read and change.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// CLIENT ID.
    pub id: u64,
    /// CLIENT SETNAME.
    pub name: Option<Bytes>,
    /// AUTH succeeded (or no password is set).
    pub authed: bool,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Option<Bytes>,
    /// The IP the connection comes from, when the driver knows it (a peer
    /// hello must come from the member's address).
    pub remote: Option<IpAddr>,
    /// The port it comes from, when the driver knows it (CLIENT LIST's
    /// `addr=ip:port`, CLIENT KILL ADDR).
    pub port: Option<u16>,
    /// The protocol its replies are written in (HELLO 2|3).
    pub proto: Proto,
    /// Inside MULTI: the commands queued for EXEC.
    pub multi: Option<Multi>,
    /// WATCHed keys with the version each had here when watched (None:
    /// absent), in WATCH order.
    pub watched: Vec<(Bytes, Option<Version>)>,
}

/// A transaction being queued (MULTI ... EXEC).
#[derive(Debug, Clone, Default)]
pub struct Multi {
    /// The commands, in order.
    pub queued: Vec<Vec<Bytes>>,
    /// A command was refused while queuing: EXEC discards them all.
    pub failed: bool,
}

/// Where one command of a pipeline is.
#[derive(Debug)]
enum SlotState {
    /// Waiting for earlier commands before it may start.
    Blocked(Vec<Bytes>),
    /// Started; `key` is set when it may overlap commands on other keys.
    Running { key: Option<Bytes> },
    /// Finished: its reply, waiting for earlier replies to leave first.
    Done(Bytes),
    /// Finished first in line: its reply is already in the output buffer.
    Written,
    /// An EXEC running its queued commands one at a time.
    Exec(Box<Exec>),
}

/// An EXEC's progress: its reply is an array of its commands' replies, so
/// they are collected here and leave as one reply when the last is done.
#[derive(Debug)]
struct Exec {
    /// Commands not started yet.
    queued: VecDeque<Vec<Bytes>>,
    /// The replies of the finished ones, in order.
    replies: BytesMut,
    /// How many commands the EXEC holds.
    total: usize,
    /// One of them is running.
    running: bool,
}

/// A command inside an EXEC runs under its EXEC's slot number with its
/// index (plus one) in the bits above this shift: a connection's slots stay
/// below 2^40, and the machine passes slot numbers through untouched.
const PART_SHIFT: u32 = 40;
const SEQ_MASK: u64 = (1 << PART_SHIFT) - 1;

#[derive(Debug)]
struct Slot {
    seq: u64,
    state: SlotState,
}

/// What happens to the connection after a given slot's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// Close it (QUIT).
    Close,
    /// It is a peer's (RL.HELLO).
    Peer(NodeId),
}

#[derive(Debug)]
struct Conn {
    session: Session,
    slots: VecDeque<Slot>,
    next_seq: u64,
    /// Set by QUIT or RL.HELLO: later commands are ignored, and the effect
    /// follows that slot's reply.
    after: Option<(u64, After)>,
    /// Replies in order, not yet taken by the driver.
    out: BytesMut,
    /// How many replies `out` holds.
    out_replies: usize,
    /// An output effect for this connection is queued and not yet polled.
    announced: bool,
    /// An EXEC of this connection is running its commands (the common
    /// case, none, skips looking for one).
    in_exec: bool,
}

/// Every open client connection.
#[derive(Debug, Default)]
pub(crate) struct Conns {
    /// By id; a hash map because every command looks its connection up
    /// several times (a B-tree walk each was a tenth of a pipelined GET).
    map: IdMap<Conn>,
    next_id: ConnId,
}

impl Conns {
    pub(crate) fn open(
        &mut self,
        authed: bool,
        remote: Option<IpAddr>,
        port: Option<u16>,
    ) -> ConnId {
        self.next_id += 1;
        let id = self.next_id;
        self.map.insert(
            id,
            Conn {
                session: Session {
                    id,
                    authed,
                    remote,
                    port,
                    ..Session::default()
                },
                slots: VecDeque::new(),
                next_seq: 0,
                after: None,
                out: BytesMut::new(),
                out_replies: 0,
                announced: false,
                in_exec: false,
            },
        );
        id
    }

    pub(crate) fn close(&mut self, conn: ConnId) {
        self.map.remove(&conn);
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn session(&self, conn: ConnId) -> Option<&Session> {
        self.map.get(&conn).map(|c| &c.session)
    }

    /// Every open connection's session, in id order.
    pub(crate) fn sessions(&self) -> impl Iterator<Item = &Session> {
        let mut all: Vec<&Session> = self.map.values().map(|c| &c.session).collect();
        all.sort_unstable_by_key(|s| s.id);
        all.into_iter()
    }

    pub(crate) fn session_mut(&mut self, conn: ConnId) -> Option<&mut Session> {
        self.map.get_mut(&conn).map(|c| &mut c.session)
    }

    /// Whether the connection takes commands (open, no QUIT seen).
    pub(crate) fn accepts(&self, conn: ConnId) -> bool {
        self.map.get(&conn).is_some_and(|c| c.after.is_none())
    }

    /// Appends a slot for a command that starts now; returns its sequence.
    pub(crate) fn push(&mut self, conn: ConnId) -> u64 {
        self.push_state(conn, SlotState::Running { key: None })
    }

    fn push_state(&mut self, conn: ConnId, state: SlotState) -> u64 {
        let Some(c) = self.map.get_mut(&conn) else {
            return u64::MAX;
        };
        let seq = c.next_seq;
        c.next_seq += 1;
        c.slots.push_back(Slot { seq, state });
        seq
    }

    /// A new command: `Some((seq, args))` when it may start now (its slot
    /// is then running), `None` when it was queued behind earlier ones (or
    /// the connection is gone). `key` is the key of a command that may
    /// overlap others on other keys.
    pub(crate) fn admit(
        &mut self,
        conn: ConnId,
        key: Option<&Bytes>,
        args: Vec<Bytes>,
    ) -> Option<(u64, Vec<Bytes>)> {
        let c = self.map.get(&conn)?;
        if may_start(c.slots.iter(), key) {
            let key = key.cloned();
            Some((self.push_state(conn, SlotState::Running { key }), args))
        } else {
            self.push_state(conn, SlotState::Blocked(args));
            None
        }
    }

    /// Turns slot `seq` (an EXEC, started) into a transaction of `queued`
    /// (not empty): [`Conns::next_startable`] hands its commands out one at
    /// a time, and their replies leave as one array.
    pub(crate) fn begin_exec(&mut self, conn: ConnId, seq: u64, queued: Vec<Vec<Bytes>>) {
        let Some(c) = self.map.get_mut(&conn) else {
            return;
        };
        let Some(slot) = c.slots.iter_mut().find(|s| s.seq == seq) else {
            return;
        };
        c.in_exec = true;
        slot.state = SlotState::Exec(Box::new(Exec {
            total: queued.len(),
            queued: queued.into(),
            replies: BytesMut::new(),
            running: false,
        }));
    }

    /// The first queued command that may start now, marked running: the
    /// next command of an EXEC first in line, else the first blocked one.
    pub(crate) fn next_startable(
        &mut self,
        conn: ConnId,
        key_of: impl Fn(&[Bytes]) -> Option<Bytes>,
    ) -> Option<(u64, Vec<Bytes>)> {
        let c = self.map.get_mut(&conn)?;
        if c.in_exec
            && let Some(part) = next_exec_part(c)
        {
            return Some(part);
        }
        let i = c
            .slots
            .iter()
            .position(|s| matches!(s.state, SlotState::Blocked(_)))?;
        let SlotState::Blocked(args) = &c.slots[i].state else {
            unreachable!("found above")
        };
        let key = key_of(args);
        if !may_start(c.slots.iter().take(i), key.as_ref()) {
            return None;
        }
        let slot = &mut c.slots[i];
        let SlotState::Blocked(args) =
            std::mem::replace(&mut slot.state, SlotState::Running { key })
        else {
            unreachable!("found above")
        };
        Some((slot.seq, args))
    }

    /// Records slot `seq`'s reply. A closed connection's replies are dropped.
    pub(crate) fn finish(&mut self, conn: ConnId, seq: u64, reply: Bytes) {
        self.finish_with(conn, seq, |out| out.extend_from_slice(&reply));
    }

    /// Records slot `seq`'s reply, written by `write`: straight into the
    /// output buffer when the slot is first in line (no reply of its own to
    /// allocate and copy), else into a buffer kept in the slot.
    pub(crate) fn finish_with(
        &mut self,
        conn: ConnId,
        seq: u64,
        write: impl FnOnce(&mut BytesMut),
    ) {
        let Some(c) = self.map.get_mut(&conn) else {
            return;
        };
        let Some(front) = c.slots.front() else {
            return;
        };
        let Some(i) = (seq & SEQ_MASK).checked_sub(front.seq) else {
            return;
        };
        let Some(slot) = c.slots.get_mut(i as usize) else {
            return;
        };
        if seq > SEQ_MASK {
            // One command of an EXEC: its reply joins the others'.
            let SlotState::Exec(exec) = &mut slot.state else {
                return;
            };
            write(&mut exec.replies);
            exec.running = false;
            if !exec.queued.is_empty() {
                return;
            }
            let mut array = BytesMut::with_capacity(exec.replies.len() + 16);
            write_array_header(&mut array, exec.total);
            array.extend_from_slice(&exec.replies);
            c.in_exec = false;
            return self.finish(conn, seq & SEQ_MASK, array.freeze());
        }
        if i == 0 {
            write(&mut c.out);
            c.out_replies += 1;
            slot.state = SlotState::Written;
        } else {
            let mut own = BytesMut::new();
            write(&mut own);
            slot.state = SlotState::Done(own.freeze());
        }
    }

    /// Marks what follows slot `seq`'s reply; later commands are ignored.
    pub(crate) fn set_after(&mut self, conn: ConnId, seq: u64, after: After) {
        if let Some(c) = self.map.get_mut(&conn) {
            c.after = Some((seq, after));
        }
    }

    /// Moves every finished reply that is next in order into the output
    /// buffer. `out` gets [`Output::Replies`] when the buffer turns
    /// non-empty with no output effect queued, then the effect that follows
    /// the last slot, if it is due.
    pub(crate) fn drain_ready(&mut self, conn: ConnId, mut out: impl FnMut(Output)) {
        let Some(c) = self.map.get_mut(&conn) else {
            return;
        };
        while let Some(slot) = c.slots.front_mut() {
            match std::mem::replace(&mut slot.state, SlotState::Written) {
                SlotState::Done(bytes) => {
                    c.out.extend_from_slice(&bytes);
                    c.out_replies += 1;
                }
                SlotState::Written => {}
                other => {
                    slot.state = other;
                    break;
                }
            }
            let seq = slot.seq;
            c.slots.pop_front();
            if !c.out.is_empty() && !c.announced {
                c.announced = true;
                out(Output::Replies(conn));
            }
            match c.after {
                Some((s, After::Close)) if s == seq => out(Output::Effect(Effect::Close { conn })),
                Some((s, After::Peer(from))) if s == seq => {
                    out(Output::Effect(Effect::BecomePeer { conn, from }))
                }
                _ => {}
            }
        }
    }

    /// The replies waiting in the connection's output buffer, taken whole,
    /// and how many they are (None when the connection is gone or has none).
    pub(crate) fn take_output(&mut self, conn: ConnId) -> Option<(Bytes, usize)> {
        let c = self.map.get_mut(&conn)?;
        c.announced = false;
        let n = std::mem::take(&mut c.out_replies);
        if n == 0 {
            return None;
        }
        let taken = c.out.split().freeze();
        // What is left shares the allocation of what was taken, and would
        // keep it for the connection's life: after a large turn let it go
        // with the taken bytes.
        if taken.len() + c.out.capacity() > OUT_KEEP {
            c.out = BytesMut::new();
        }
        Some((taken, n))
    }
}

/// What [`Conns::drain_ready`] hands on, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Output {
    /// The connection's output buffer has replies: take them when this is
    /// polled (later replies that arrive before then travel with them).
    Replies(ConnId),
    /// An effect as it is.
    Effect(Effect),
}

/// The next command of the EXEC first in line, if it has one and none of
/// its commands is running, marked running, with its part's slot number.
fn next_exec_part(c: &mut Conn) -> Option<(u64, Vec<Bytes>)> {
    let slot = c
        .slots
        .iter_mut()
        .find(|s| !matches!(s.state, SlotState::Done(_) | SlotState::Written))?;
    let SlotState::Exec(exec) = &mut slot.state else {
        return None;
    };
    if exec.running {
        return None;
    }
    let args = exec.queued.pop_front()?;
    exec.running = true;
    let part = (exec.total - exec.queued.len()) as u64;
    Some((slot.seq | part << PART_SHIFT, args))
}

/// Whether a command may start after `earlier` (the connection's slots
/// before it): only a keyed command, behind nothing but running keyed
/// commands on other keys, and not too many of them.
fn may_start<'a>(earlier: impl Iterator<Item = &'a Slot>, key: Option<&Bytes>) -> bool {
    let mut running = 0;
    for s in earlier {
        match &s.state {
            SlotState::Done(_) | SlotState::Written => {}
            SlotState::Blocked(_) | SlotState::Exec(_) => return false,
            SlotState::Running { key: other } => match (key, other) {
                (Some(k), Some(o)) if k != o => running += 1,
                _ => return false,
            },
        }
    }
    running < MAX_RUNNING
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    /// The replies drained now, concatenated ("" when none).
    fn replies(c: &mut Conns, conn: ConnId) -> Bytes {
        let mut announced = false;
        c.drain_ready(conn, |o| announced |= o == Output::Replies(conn));
        let (taken, n) = c.take_output(conn).unwrap_or_default();
        assert_eq!(announced, n > 0, "output announced iff there is some");
        assert_eq!(n, taken.iter().filter(|&&b| b.is_ascii_uppercase()).count());
        taken
    }

    #[test]
    fn replies_leave_in_order_whatever_order_they_finish_in() {
        let mut c = Conns::default();
        let id = c.open(true, None, None);
        let a = c.admit(id, Some(&b("a")), vec![]).unwrap().0;
        let bb = c.admit(id, Some(&b("b")), vec![]).unwrap().0;
        c.finish(id, bb, b("B"));
        assert!(replies(&mut c, id).is_empty());
        c.finish(id, a, b("A"));
        assert_eq!(replies(&mut c, id), b("AB"));
    }

    /// Every output of one drain, in order.
    fn drained(c: &mut Conns, conn: ConnId) -> Vec<Output> {
        let mut out = Vec::new();
        c.drain_ready(conn, |o| out.push(o));
        out
    }

    #[test]
    fn quit_closes_after_its_reply_and_every_reply_before_it() {
        let mut c = Conns::default();
        let id = c.open(true, None, None);
        let get = c.admit(id, Some(&b("a")), vec![]).unwrap().0;
        let quit = c.push(id);
        c.set_after(id, quit, After::Close);
        // The GET is first in line: written straight into the buffer.
        c.finish(id, get, b("A"));
        assert_eq!(drained(&mut c, id), vec![Output::Replies(id)]);
        // The QUIT's reply joins the announced buffer; the close follows it.
        c.finish(id, quit, b("Q"));
        let close = Output::Effect(Effect::Close { conn: id });
        assert_eq!(drained(&mut c, id), vec![close.clone()]);
        assert_eq!(c.take_output(id), Some((b("AQ"), 2)));
        // Finished out of order, nothing announced yet: replies, then close.
        let id = c.open(true, None, None);
        let get = c.admit(id, Some(&b("a")), vec![]).unwrap().0;
        let quit = c.push(id);
        c.set_after(id, quit, After::Close);
        c.finish(id, quit, b("Q"));
        assert!(drained(&mut c, id).is_empty(), "the GET is not done");
        c.finish(id, get, b("A"));
        let close = Output::Effect(Effect::Close { conn: id });
        assert_eq!(drained(&mut c, id), vec![Output::Replies(id), close]);
        assert_eq!(c.take_output(id), Some((b("AQ"), 2)));
    }

    #[test]
    fn a_large_output_buffer_is_let_go_once_taken() {
        let mut c = Conns::default();
        let id = c.open(true, None, None);
        let big = Bytes::from(vec![b'x'; 4 * OUT_KEEP]);
        let s = c.push(id);
        c.finish(id, s, big.clone());
        drained(&mut c, id);
        let (taken, n) = c.take_output(id).unwrap();
        assert_eq!((&taken, n), (&big, 1));
        assert!(
            taken.is_unique(),
            "the connection still holds the allocation"
        );
    }

    #[test]
    fn the_same_key_and_unkeyed_commands_wait_for_earlier_ones() {
        let mut c = Conns::default();
        let id = c.open(true, None, None);
        let a = c
            .admit(id, Some(&b("a")), vec![b("get"), b("a")])
            .unwrap()
            .0;
        assert_eq!(c.admit(id, Some(&b("a")), vec![b("set"), b("a")]), None);
        assert_eq!(c.admit(id, Some(&b("c")), vec![b("get"), b("c")]), None);
        let key_of = |args: &[Bytes]| args.get(1).cloned();
        assert_eq!(c.next_startable(id, key_of), None);
        c.finish(id, a, b("A"));
        let (s, args) = c.next_startable(id, key_of).unwrap();
        assert_eq!(args[0], b("set"));
        // The get of c now overlaps the set of a.
        let (s2, args2) = c.next_startable(id, key_of).unwrap();
        assert_eq!((s + 1, &args2[1]), (s2, &b("c")));
        let d = c.admit(id, None, vec![]);
        assert_eq!(d, None, "an unkeyed command waits for running ones");
    }
}
