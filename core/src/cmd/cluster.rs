//! Cluster commands: `CLUSTER ADDNODE` (a node joins this node's view of
//! the cluster) and `RL.HELLO`, which turns a client connection into a
//! peer's.

use bytes::{Bytes, BytesMut};

use super::reply::{self, OK, clean};
use super::{Cmd, CommandSpec};
use crate::config::Member;
use crate::machine::conns::After;
use crate::machine::{ConnId, Effect, Machine};
use crate::protocol::peer::parse_hello;
use crate::protocol::resp::{write_bulk, write_error, write_simple};
use crate::ring::{DEFAULT_VNODES, NodeId};

/// Runs CLUSTER or RL.HELLO and returns the reply.
pub fn execute(
    m: &mut Machine,
    conn: ConnId,
    slot: u64,
    spec: &CommandSpec,
    args: &[Bytes],
) -> Bytes {
    match spec.cmd {
        Cmd::Cluster if args[1].eq_ignore_ascii_case(b"ADDNODE") => addnode(m, args),
        // Redis's own words, which cluster-aware clients recognise.
        Cmd::Cluster => reply::error("ERR This instance has cluster support disabled"),
        Cmd::PeerHello => peer_hello(m, conn, slot, args),
        other => unreachable!("{other:?} is not a cluster command"),
    }
}

fn peer_hello(m: &mut Machine, conn: ConnId, slot: u64, args: &[Bytes]) -> Bytes {
    let Ok((from, pass)) = parse_hello(&args[1..]) else {
        return reply::error("ERR bad RL.HELLO: expected RL.HELLO <node-id> [password]");
    };
    if let Some(want) = &m.cfg.requirepass
        && pass.as_deref() != Some(want.as_bytes())
    {
        return reply::with(|o| {
            write_error(
                o,
                b"WRONGPASS invalid username-password pair or user is disabled.",
            )
        });
    }
    m.conns.set_after(conn, slot, After::Peer(from));
    reply::with(|o| write_simple(o, OK))
}

/// `CLUSTER ADDNODE <id> <ip:port> [vnodes]`: send it to every member, and
/// start the new node with the full member list. Nothing migrates.
fn addnode(m: &mut Machine, args: &[Bytes]) -> Bytes {
    let usage = "expected CLUSTER ADDNODE <id> <ip:port> [vnodes]";
    if !(4..=5).contains(&args.len()) {
        return reply::error(&format!("ERR wrong number of arguments: {usage}"));
    }
    let text = |a: &Bytes| String::from_utf8_lossy(a).to_string();
    let Ok(id) = text(&args[2]).parse::<NodeId>() else {
        return reply::error(&format!("ERR bad node id '{}': {usage}", clean(&args[2])));
    };
    let Ok(addr) = text(&args[3]).parse::<std::net::SocketAddr>() else {
        return reply::error(&format!("ERR bad address '{}': {usage}", clean(&args[3])));
    };
    let vnodes = match args.get(4) {
        None => DEFAULT_VNODES,
        Some(v) => match text(v).parse::<u32>() {
            Ok(v) => v,
            Err(_) => return reply::error(&format!("ERR bad vnodes '{}': {usage}", clean(v))),
        },
    };
    let member = Member { id, addr, vnodes };
    match m.add_member(member.clone()) {
        Ok(j) => {
            if id != m.id {
                m.effects.push_back(Effect::AddPeer { member });
            }
            let mut out = BytesMut::new();
            let text = format!(
                "members={} moved_fraction={:.6}",
                j.members, j.moved_fraction
            );
            write_bulk(&mut out, text.as_bytes());
            out.freeze()
        }
        Err(e) => reply::error(&format!("ERR {e}")),
    }
}
