//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! After MULTI a connection's commands are checked (name, arity, AUTH) and
//! queued, each answered `+QUEUED`; a refused one makes EXEC answer
//! `-EXECABORT`. EXEC runs the queued commands one after another, each
//! through the quorum as if sent alone, and answers the array of their
//! replies ([`crate::machine::conns`] collects them). On a one-node cluster
//! with nothing charged (a real node) every command completes inside the
//! EXEC's own turn, so no other client's command runs in between: atomic,
//! as in Redis. On a replicated cluster, or in the simulator where every
//! command waits for a core, other clients' commands may interleave: the
//! queued commands keep their order, not their isolation.
//!
//! WATCH notes the version each key has in this node's store; EXEC answers
//! null (and runs nothing) when any of them changed, expired or appeared.
//! A node sees only the writes that reach its own store: every write on a
//! one-node cluster, on a larger one only the keys it holds a replica of.

use bytes::Bytes;

use super::{Cmd, CommandSpec, reply};
use crate::clock::Micros;
use crate::machine::conns::Multi;
use crate::machine::{ConnId, Machine};
use crate::protocol::resp::Proto;

/// What the command's start does after [`intercept`].
pub(crate) enum Flow {
    /// Not a transaction matter: run the command.
    Run,
    /// Answered now.
    Reply(Bytes),
    /// An EXEC whose commands run next; its reply comes when they are done.
    Later,
}

/// The commands that act at once inside MULTI instead of being queued.
fn acts_at_once(cmd: Cmd) -> bool {
    matches!(
        cmd,
        Cmd::Multi | Cmd::Exec | Cmd::Discard | Cmd::Watch | Cmd::Quit | Cmd::PeerHello
    )
}

/// Handles a command that passed the name, arity and AUTH checks, on a
/// connection inside MULTI or for one of the transaction commands.
pub(crate) fn intercept(
    m: &mut Machine,
    now: Micros,
    conn: ConnId,
    slot: u64,
    spec: &CommandSpec,
    args: &[Bytes],
) -> Flow {
    let Some(s) = m.conns.session_mut(conn) else {
        return Flow::Run;
    };
    if let Some(multi) = &mut s.multi
        && !acts_at_once(spec.cmd)
    {
        multi.queued.push(args.to_vec());
        return Flow::Reply(Bytes::from_static(b"+QUEUED\r\n"));
    }
    match spec.cmd {
        Cmd::Multi if s.multi.is_some() => {
            Flow::Reply(reply::error("ERR MULTI calls can not be nested"))
        }
        Cmd::Multi => {
            s.multi = Some(Multi::default());
            Flow::Reply(reply::ok())
        }
        Cmd::Discard => match s.multi.take() {
            None => Flow::Reply(reply::error("ERR DISCARD without MULTI")),
            Some(_) => {
                s.watched.clear();
                Flow::Reply(reply::ok())
            }
        },
        Cmd::Watch if s.multi.is_some() => {
            Flow::Reply(reply::error("ERR WATCH inside MULTI is not allowed"))
        }
        Cmd::Watch => {
            for key in &args[1..] {
                let version = m.store.peek(key, now).map(|e| e.version);
                let s = m.conns.session_mut(conn).expect("looked up above");
                s.watched.push((key.clone(), version));
            }
            Flow::Reply(reply::ok())
        }
        Cmd::Unwatch => {
            s.watched.clear();
            Flow::Reply(reply::ok())
        }
        Cmd::Exec => exec(m, now, conn, slot),
        _ => Flow::Run,
    }
}

/// EXEC: the queued commands start (one at a time, by the connection's
/// queue), unless queuing failed or a watched key changed.
fn exec(m: &mut Machine, now: Micros, conn: ConnId, slot: u64) -> Flow {
    let Some(s) = m.conns.session_mut(conn) else {
        return Flow::Run;
    };
    let Some(multi) = s.multi.take() else {
        return Flow::Reply(reply::error("ERR EXEC without MULTI"));
    };
    let watched = std::mem::take(&mut s.watched);
    let proto = s.proto;
    if multi.failed {
        return Flow::Reply(reply::error(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    let changed = watched
        .iter()
        .any(|(key, seen)| m.store.peek(key, now).map(|e| e.version) != *seen);
    if changed {
        return Flow::Reply(Bytes::from_static(match proto {
            Proto::Resp2 => b"*-1\r\n",
            Proto::Resp3 => b"_\r\n",
        }));
    }
    if multi.queued.is_empty() {
        return Flow::Reply(Bytes::from_static(b"*0\r\n"));
    }
    m.conns.begin_exec(conn, slot, multi.queued);
    Flow::Later
}

/// A command refused before it could be queued (unknown, wrong arity, not
/// authenticated) makes the open transaction fail at EXEC, as in Redis.
pub(crate) fn refused(m: &mut Machine, conn: ConnId) {
    if let Some(multi) = m.conns.session_mut(conn).and_then(|s| s.multi.as_mut()) {
        multi.failed = true;
    }
}
