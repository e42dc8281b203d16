//! Cluster commands: `CLUSTER ADDNODE` (a node joins this node's view of
//! the cluster), `CLUSTER LEAVE` (this node hands its keys off and leaves),
//! `CLUSTER FORGET` (a member is removed for good, on every member) and
//! `RL.HELLO`, which turns a client connection into a peer's.
//!
//! A peer connection's messages write and delete keys and flush the store
//! without AUTH, so `RL.HELLO` admits only a real member: the cluster
//! secret (compared in constant time), an id that is a member other than
//! this node, and a connection from that member's IP (its port differs:
//! outgoing connections use ephemeral ports). With no secret configured the
//! last two checks still hold.

use std::net::IpAddr;

use bytes::{Bytes, BytesMut};

use super::reply::{self, OK, clean};
use super::{Cmd, CommandSpec};
use crate::clock::Micros;
use crate::config::Member;
use crate::machine::conns::{After, Output};
use crate::machine::{ConnId, Effect, Machine};
use crate::protocol::peer::PeerRequest;
use crate::protocol::peer::parse_hello;
use crate::protocol::resp::{write_bulk, write_simple};
use crate::ring::{DEFAULT_VNODES, NodeId};
use crate::secret::ct_eq;

/// Runs CLUSTER or RL.HELLO and returns the reply.
pub fn execute(
    m: &mut Machine,
    now: Micros,
    conn: ConnId,
    slot: u64,
    spec: &CommandSpec,
    args: &[Bytes],
) -> Bytes {
    match spec.cmd {
        Cmd::Cluster if args[1].eq_ignore_ascii_case(b"ADDNODE") => addnode(m, args),
        Cmd::Cluster if args[1].eq_ignore_ascii_case(b"LEAVE") => leave(m, now, args),
        Cmd::Cluster if args[1].eq_ignore_ascii_case(b"FORGET") => forget(m, now, args),
        // Redis's own words, which cluster-aware clients recognise.
        Cmd::Cluster => reply::error("ERR This instance has cluster support disabled"),
        Cmd::PeerHello => peer_hello(m, conn, slot, args),
        other => unreachable!("{other:?} is not a cluster command"),
    }
}

/// Why a peer hello was refused. Each reason is its own error reply, so
/// the operator of a misconfigured node reads in its log what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerRefusal {
    /// The secret is missing or wrong.
    Secret,
    /// The id is this node's own.
    Myself(NodeId),
    /// The id is not a member of the cluster as this node sees it.
    NotAMember(NodeId),
    /// The connection does not come from the member's address.
    WrongAddress {
        /// The claimed id.
        id: NodeId,
        /// The member's IP.
        member: IpAddr,
        /// The connection's IP.
        remote: IpAddr,
    },
}

impl PeerRefusal {
    /// The error reply's text.
    pub fn message(&self) -> String {
        match self {
            PeerRefusal::Secret => {
                "WRONGPASS RL.HELLO refused: wrong or missing cluster secret".into()
            }
            PeerRefusal::Myself(id) => format!("ERR RL.HELLO refused: node {id} is this node"),
            PeerRefusal::NotAMember(id) => {
                format!("ERR RL.HELLO refused: node {id} is not a member of this cluster")
            }
            PeerRefusal::WrongAddress { id, member, remote } => format!(
                "ERR RL.HELLO refused: member {id} is at {member}, this connection comes from {remote}"
            ),
        }
    }
}

/// What a peer hello is judged against: this node's view of the cluster.
#[derive(Debug, Clone, Copy)]
pub struct PeerPolicy<'a> {
    /// This node's id.
    pub me: NodeId,
    /// The members now.
    pub members: &'a [Member],
    /// The secret peers must present (None: none is asked for).
    pub secret: Option<&'a [u8]>,
}

/// Decides a peer hello claiming to be `from`, presenting `offered`, on a
/// connection from `remote` (None: the driver does not know the address,
/// and the address check is skipped). The secret is checked first, so
/// that without it nothing is learnt about the membership.
pub fn admit_peer(
    policy: &PeerPolicy<'_>,
    from: NodeId,
    offered: Option<&[u8]>,
    remote: Option<IpAddr>,
) -> Result<(), PeerRefusal> {
    if let Some(want) = policy.secret
        && !offered.is_some_and(|got| ct_eq(got, want))
    {
        return Err(PeerRefusal::Secret);
    }
    if from == policy.me {
        return Err(PeerRefusal::Myself(from));
    }
    let member = policy
        .members
        .iter()
        .find(|mb| mb.id == from)
        .ok_or(PeerRefusal::NotAMember(from))?;
    let want = member.addr.ip().to_canonical();
    // An unspecified member address (0.0.0.0) says nothing about where the
    // member connects from: only a concrete one is checked.
    if let Some(remote) = remote.map(|ip| ip.to_canonical())
        && !want.is_unspecified()
        && remote != want
    {
        return Err(PeerRefusal::WrongAddress {
            id: from,
            member: want,
            remote,
        });
    }
    Ok(())
}

fn peer_hello(m: &mut Machine, conn: ConnId, slot: u64, args: &[Bytes]) -> Bytes {
    let Ok((from, offered)) = parse_hello(&args[1..]) else {
        return reply::error("ERR bad RL.HELLO: expected RL.HELLO <node-id> [cluster-secret]");
    };
    let remote = m.conns.session(conn).and_then(|s| s.remote);
    let policy = PeerPolicy {
        me: m.id,
        members: &m.membership.members,
        secret: m.cfg.peer_secret().map(str::as_bytes),
    };
    if let Err(why) = admit_peer(&policy, from, offered.as_deref(), remote) {
        return reply::error(&why.message());
    }
    m.conns.set_after(conn, slot, After::Peer(from));
    reply::with(|o| write_simple(o, OK))
}

/// The reply to a peer message (`RL.GET`, `RL.PUT`...) sent as a client
/// command, on a connection that is no peer's: refused, never run, with
/// words that say why (rather than "unknown command", which reads like a
/// version mismatch). None for any other name.
pub fn peer_only(name: &[u8]) -> Option<Bytes> {
    let prefix = b"RL.";
    let is_peer = name.len() > prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix);
    is_peer.then(|| {
        reply::error(&format!(
            "ERR {} is a peer message: it is only accepted on a connection opened with RL.HELLO <node-id> <cluster-secret>",
            clean(&name[..name.len().min(64)]).to_ascii_uppercase()
        ))
    })
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
                m.effects
                    .push_back(Output::Effect(Effect::AddPeer { member }));
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

fn bulk_text(text: &str) -> Bytes {
    let mut out = BytesMut::new();
    write_bulk(&mut out, text.as_bytes());
    out.freeze()
}

/// `CLUSTER LEAVE`: this node hands its keys to their owners without it,
/// then tells the peers to remove it (see `machine::leave`). Answers at
/// once; INFO's `membership_leaving` turns 0 when it is done.
fn leave(m: &mut Machine, now: Micros, args: &[Bytes]) -> Bytes {
    if args.len() != 2 {
        return reply::error("ERR wrong number of arguments: expected CLUSTER LEAVE");
    }
    match m.leave(now) {
        Ok(keys) => bulk_text(&format!("leaving keys={keys}")),
        Err(e) => reply::error(&format!("ERR {e}")),
    }
}

/// `CLUSTER FORGET <id>`: removes a member for good (a dead node), here
/// and, through `RL.FORGET`, on every other member. Its keys are not
/// handed off: with `join_stream` the survivors pull the keys they gain
/// from the remaining replicas.
fn forget(m: &mut Machine, now: Micros, args: &[Bytes]) -> Bytes {
    let usage = "expected CLUSTER FORGET <id>";
    if args.len() != 3 {
        return reply::error(&format!("ERR wrong number of arguments: {usage}"));
    }
    let Ok(id) = String::from_utf8_lossy(&args[2]).parse::<NodeId>() else {
        return reply::error(&format!("ERR bad node id '{}': {usage}", clean(&args[2])));
    };
    let peers = m.peers();
    match m.remove_member(now, id) {
        Ok(r) => {
            for p in peers.into_iter().filter(|&p| p != id) {
                let req = PeerRequest::Forget {
                    node: id,
                    handed_off: false,
                };
                m.send_detached(p, req);
            }
            bulk_text(&format!(
                "members={} moved_fraction={:.6}",
                r.members, r.moved_fraction
            ))
        }
        Err(e) => reply::error(&format!("ERR {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NodeConfig;
    use crate::machine::Effect;
    use crate::protocol::peer::encode_hello;
    use crate::protocol::resp::{Limits, parse_request};

    fn member(id: NodeId, addr: &str) -> Member {
        Member {
            id,
            addr: addr.parse().unwrap(),
            vnodes: DEFAULT_VNODES,
        }
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn three() -> Vec<Member> {
        vec![
            member(1, "10.0.0.1:7001"),
            member(2, "10.0.0.2:7002"),
            member(3, "0.0.0.0:7003"),
        ]
    }

    #[test]
    fn a_member_with_the_secret_from_its_address_is_admitted() {
        let members = three();
        let policy = PeerPolicy {
            me: 1,
            members: &members,
            secret: Some(b"s3cret"),
        };
        assert_eq!(
            admit_peer(&policy, 2, Some(b"s3cret"), ip("10.0.0.2")),
            Ok(())
        );
        // An IPv4 peer seen through an IPv6 socket is the same address.
        let mapped = ip("::ffff:10.0.0.2");
        assert_eq!(admit_peer(&policy, 2, Some(b"s3cret"), mapped), Ok(()));
        // A driver without addresses skips only the address check.
        assert_eq!(admit_peer(&policy, 2, Some(b"s3cret"), None), Ok(()));
        // An unspecified member address says nothing: not checked.
        assert_eq!(
            admit_peer(&policy, 3, Some(b"s3cret"), ip("10.9.9.9")),
            Ok(())
        );
    }

    #[test]
    fn a_wrong_or_missing_secret_is_refused_before_anything_else() {
        let members = three();
        let policy = PeerPolicy {
            me: 1,
            members: &members,
            secret: Some(b"s3cret"),
        };
        let remote = ip("10.0.0.2");
        assert_eq!(
            admit_peer(&policy, 2, None, remote),
            Err(PeerRefusal::Secret)
        );
        assert_eq!(
            admit_peer(&policy, 2, Some(b"s3cre"), remote),
            Err(PeerRefusal::Secret)
        );
        // Not a member either, but the secret is what it is told.
        assert_eq!(
            admit_peer(&policy, 999, Some(b"nope"), remote),
            Err(PeerRefusal::Secret)
        );
    }

    #[test]
    fn only_other_members_from_their_own_address_are_admitted() {
        let members = three();
        let policy = PeerPolicy {
            me: 1,
            members: &members,
            secret: None,
        };
        assert_eq!(admit_peer(&policy, 2, None, ip("10.0.0.2")), Ok(()));
        assert_eq!(
            admit_peer(&policy, 999, None, ip("10.0.0.2")),
            Err(PeerRefusal::NotAMember(999))
        );
        assert_eq!(
            admit_peer(&policy, 1, None, ip("10.0.0.1")),
            Err(PeerRefusal::Myself(1))
        );
        assert_eq!(
            admit_peer(&policy, 2, None, ip("10.0.0.1")),
            Err(PeerRefusal::WrongAddress {
                id: 2,
                member: "10.0.0.2".parse().unwrap(),
                remote: "10.0.0.1".parse().unwrap(),
            })
        );
    }

    /// Feeds one RESP command to a fresh connection from `remote`; returns
    /// the reply and whether the connection became a peer's.
    fn hello_on(m: &mut Machine, remote: Option<IpAddr>, wire: &[u8]) -> (String, bool) {
        let conn = m.open_client_from(remote);
        let mut buf = BytesMut::from(wire);
        let args = parse_request(&mut buf, &Limits::default())
            .unwrap()
            .unwrap();
        m.handle_command(0, conn, args);
        let (mut reply, mut peer) = (String::new(), false);
        while let Some(e) = m.poll_effect() {
            match e {
                Effect::Reply { bytes, .. } => reply += &String::from_utf8_lossy(&bytes),
                Effect::BecomePeer { .. } => peer = true,
                _ => {}
            }
        }
        (reply, peer)
    }

    fn hello(from: NodeId, secret: Option<&[u8]>) -> BytesMut {
        let mut out = BytesMut::new();
        encode_hello(from, secret, &mut out);
        out
    }

    fn cluster_machine(cluster_secret: Option<&str>, requirepass: Option<&str>) -> Machine {
        let cfg = NodeConfig {
            members: three(),
            cluster_secret: cluster_secret.map(Into::into),
            requirepass: requirepass.map(Into::into),
            ..NodeConfig::default()
        };
        Machine::new(cfg, 7001, 0).unwrap()
    }

    #[test]
    fn the_machine_refuses_a_hello_from_a_non_member() {
        // Issue 12: any id, even a non-member, used to become a peer.
        let mut m = cluster_machine(None, None);
        let (reply, peer) = hello_on(&mut m, ip("10.0.0.2"), &hello(999, None));
        assert_eq!(
            reply,
            "-ERR RL.HELLO refused: node 999 is not a member of this cluster\r\n"
        );
        assert!(!peer);
        let (reply, peer) = hello_on(&mut m, ip("10.0.0.2"), &hello(2, None));
        assert_eq!((reply.as_str(), peer), ("+OK\r\n", true));
    }

    #[test]
    fn the_machine_asks_peers_for_the_cluster_secret_not_the_password() {
        let mut m = cluster_machine(Some("c1uster"), Some("client"));
        let from = ip("10.0.0.2");
        let (reply, peer) = hello_on(&mut m, from, &hello(2, Some(b"client")));
        assert!(reply.starts_with("-WRONGPASS RL.HELLO refused"), "{reply}");
        assert!(!peer);
        let (reply, peer) = hello_on(&mut m, from, &hello(2, Some(b"c1uster")));
        assert_eq!((reply.as_str(), peer), ("+OK\r\n", true));
        let (reply, peer) = hello_on(&mut m, ip("10.0.0.9"), &hello(2, Some(b"c1uster")));
        assert!(
            reply.contains("this connection comes from 10.0.0.9"),
            "{reply}"
        );
        assert!(!peer);
    }

    #[test]
    fn peer_messages_on_a_client_connection_are_refused() {
        let mut m = cluster_machine(None, None);
        let wire = b"*4\r\n$6\r\nRL.PUT\r\n$1\r\n1\r\n$1\r\nk\r\n$1\r\nv\r\n";
        let (reply, peer) = hello_on(&mut m, ip("10.0.0.2"), wire);
        assert!(
            reply.starts_with("-ERR RL.PUT is a peer message: it is only accepted"),
            "{reply}"
        );
        assert!(!peer);
        assert_eq!(m.store().len(), 0);
        assert_eq!(peer_only(b"GET"), None);
        assert_eq!(peer_only(b"RL."), None);
    }
}
