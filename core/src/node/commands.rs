//! Executing client commands: argument parsing, Redis's reply shapes and
//! error strings, and the read-modify-write recipes on top of the quorum
//! operations of [`cluster`](super::cluster).
//!
//! Read-modify-write commands (SET with NX/XX/GET/KEEPTTL, GETDEL, DEL,
//! EXPIRE, PERSIST, INCR...) are a quorum read, a computation and a quorum
//! write with a new version. Two of them racing on one key through different
//! coordinators are last-writer-wins, not atomic: one increment can be lost.

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use crate::clock::Micros;
use crate::protocol::peer::PeerRequest;
use crate::protocol::resp::{
    write_array_header, write_bulk, write_error, write_integer, write_null, write_simple,
};
use crate::store::{Entry, Policy};

use super::cluster::{OpError, live};
use super::config::parse_memory;
use super::info;
use super::state::Node;
use super::table::{self, COMMANDS, Cmd, CommandSpec};

/// Per-connection state the commands read and change.
#[derive(Debug, Clone)]
pub struct Session {
    /// CLIENT ID.
    pub id: u64,
    /// CLIENT SETNAME.
    pub name: Option<Bytes>,
    /// AUTH succeeded (or no password is set).
    pub authed: bool,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Option<Bytes>,
}

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on reading commands.
    Continue,
    /// Flush the replies and close (QUIT).
    Close,
    /// The client is a peer node: switch the connection to peer mode.
    Peer(crate::ring::NodeId),
}

const OK: &[u8] = b"OK";
const E_INT: &[u8] = b"ERR value is not an integer or out of range";
const E_SYNTAX: &[u8] = b"ERR syntax error";
const E_OOM: &[u8] = b"OOM command not allowed when used memory > 'maxmemory'.";

/// Redis replaces CR and LF in error messages so they stay one line.
fn clean(s: &[u8]) -> String {
    String::from_utf8_lossy(s).replace(['\r', '\n'], " ")
}

fn err(out: &mut BytesMut, msg: &str) {
    write_error(out, msg.as_bytes());
}

fn op_err(out: &mut BytesMut, e: OpError, op: &str) {
    match e {
        OpError::Unavailable { got, needed } => err(
            out,
            &format!("UNAVAILABLE quorum not met: {got}/{needed} replicas answered for {op}"),
        ),
        OpError::OutOfMemory => write_error(out, E_OOM),
        OpError::Overloaded => err(out, &format!("OVERLOADED {}", super::hooks::Overloaded)),
    }
}

fn wrong_args(out: &mut BytesMut, name: &str) {
    err(
        out,
        &format!("ERR wrong number of arguments for '{name}' command"),
    );
}

/// Parses a Redis integer argument: optional '-', digits, fits i64.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    // Redis refuses "+1", " 1" and "01"-style padding is fine only as "0".
    if s.starts_with('+') || (s.len() > 1 && s.starts_with('0')) || s.starts_with("-0") {
        return None;
    }
    s.parse().ok()
}

fn unknown(out: &mut BytesMut, args: &[Bytes]) {
    let mut msg = format!(
        "ERR unknown command '{}', with args beginning with: ",
        clean(&args[0][..args[0].len().min(128)])
    );
    for a in &args[1..] {
        msg.push('\'');
        msg.push_str(&clean(&a[..a.len().min(128)]));
        msg.push_str("' ");
    }
    err(out, &msg);
}

/// Runs one command and appends its reply to `out`.
pub async fn execute(node: &Node, sess: &mut Session, args: &[Bytes], out: &mut BytesMut) -> Flow {
    let started = node.clock.now();
    let Some((idx, spec)) = table::lookup(&args[0]) else {
        node.metrics.record(COMMANDS.len(), 0);
        unknown(out, args);
        return Flow::Continue;
    };
    if !table::arity_ok(spec.arity, args.len()) {
        wrong_args(out, spec.name);
        node.metrics.record(idx, 0);
        return Flow::Continue;
    }
    if !sess.authed
        && !matches!(
            spec.cmd,
            Cmd::Auth | Cmd::Hello | Cmd::Quit | Cmd::PeerHello
        )
    {
        write_error(out, b"NOAUTH Authentication required.");
        node.metrics.record(idx, 0);
        return Flow::Continue;
    }
    let flow = if is_data(spec.cmd) {
        let bytes = args.iter().map(|a| a.len()).sum();
        if let Err(e) = node.charge_client(bytes).await {
            op_err(out, e, spec.name);
            Flow::Continue
        } else if node.quorum.n > 1 {
            // Quorum waits are bounded by the replica timeout; this bounds a
            // multi-key command's sum of them.
            let mark = out.len();
            let limit = node.cfg.command_timeout;
            match node.clock.timeout(limit, data(node, spec, args, out)).await {
                Ok(()) => Flow::Continue,
                Err(_) => {
                    out.truncate(mark);
                    err(
                        out,
                        &format!(
                            "TIMEOUT {} did not finish within {} ms",
                            spec.name,
                            limit.as_millis()
                        ),
                    );
                    Flow::Continue
                }
            }
        } else {
            data(node, spec, args, out).await;
            Flow::Continue
        }
    } else {
        admin(node, sess, spec, args, out).await
    };
    node.metrics
        .record(idx, node.clock.now().saturating_sub(started));
    flow
}

fn is_data(c: Cmd) -> bool {
    !matches!(
        c,
        Cmd::Info
            | Cmd::Config
            | Cmd::Client
            | Cmd::Hello
            | Cmd::Command
            | Cmd::Auth
            | Cmd::Quit
            | Cmd::Select
            | Cmd::Cluster
            | Cmd::PeerHello
            | Cmd::FlushAll
            | Cmd::DbSize
    )
}

/// The commands on keys (and PING/ECHO): charged through the hooks.
async fn data(node: &Node, spec: &CommandSpec, args: &[Bytes], out: &mut BytesMut) {
    let name = spec.name;
    match spec.cmd {
        Cmd::Ping => match args.len() {
            1 => write_simple(out, b"PONG"),
            2 => write_bulk(out, &args[1]),
            _ => wrong_args(out, name),
        },
        Cmd::Echo => write_bulk(out, &args[1]),
        Cmd::Get => {
            if node.local_only(&node.replicas(&args[1])) {
                match node.shards.get(&args[1], node.clock.now()) {
                    Some(v) => write_bulk(out, &v),
                    None => write_null(out),
                }
                return;
            }
            match node.read(&args[1]).await {
                Ok(e) => match live(e, node.clock.now()).and_then(|e| e.value) {
                    Some(v) => write_bulk(out, &v),
                    None => write_null(out),
                },
                Err(e) => op_err(out, e, name),
            }
        }
        Cmd::Set => set(node, args, out).await,
        Cmd::GetDel => match read_live(node, &args[1], name, out).await {
            Some(Some(e)) => match delete(node, &args[1]).await {
                Ok(()) => write_bulk(out, e.value.as_deref().unwrap_or_default()),
                Err(x) => op_err(out, x, name),
            },
            Some(None) => write_null(out),
            None => {}
        },
        Cmd::Del | Cmd::Exists => {
            let mut count = 0;
            for key in &args[1..] {
                match node.read(key).await {
                    Ok(e) => {
                        if live(e, node.clock.now()).is_none() {
                            continue;
                        }
                        if spec.cmd == Cmd::Del
                            && let Err(x) = delete(node, key).await
                        {
                            return op_err(out, x, name);
                        }
                        count += 1;
                    }
                    Err(x) => return op_err(out, x, name),
                }
            }
            write_integer(out, count);
        }
        Cmd::Expire | Cmd::PExpire => expire(node, spec, args, out).await,
        Cmd::Ttl | Cmd::PTtl => {
            let Some(cur) = read_live(node, &args[1], name, out).await else {
                return;
            };
            let now = node.clock.now();
            let v = match cur {
                None => -2,
                Some(Entry {
                    expires_at: None, ..
                }) => -1,
                Some(Entry {
                    expires_at: Some(t),
                    ..
                }) => {
                    let ms = (t.saturating_sub(now) + 500) / 1000;
                    if spec.cmd == Cmd::Ttl {
                        (ms + 500) / 1000
                    } else {
                        ms
                    }
                    .min(i64::MAX as u64) as i64
                }
            };
            write_integer(out, v);
        }
        Cmd::Persist => {
            let Some(cur) = read_live(node, &args[1], name, out).await else {
                return;
            };
            match cur {
                Some(mut e) if e.expires_at.is_some() => {
                    e.expires_at = None;
                    e.version = node.next_version();
                    match node.write(args[1].clone(), e).await {
                        Ok(()) => write_integer(out, 1),
                        Err(x) => op_err(out, x, name),
                    }
                }
                _ => write_integer(out, 0),
            }
        }
        Cmd::Incr | Cmd::Decr | Cmd::IncrBy | Cmd::DecrBy => {
            let by = match spec.cmd {
                Cmd::Incr => 1,
                Cmd::Decr => -1,
                _ => {
                    let Some(n) = parse_i64(&args[2]) else {
                        return write_error(out, E_INT);
                    };
                    if spec.cmd == Cmd::DecrBy {
                        let Some(n) = n.checked_neg() else {
                            return err(out, "ERR decrement would overflow");
                        };
                        n
                    } else {
                        n
                    }
                }
            };
            let Some(cur) = read_live(node, &args[1], name, out).await else {
                return;
            };
            let (old, expires_at) = match &cur {
                None => (0, None),
                Some(e) => match parse_i64(e.value.as_deref().unwrap_or_default()) {
                    Some(v) => (v, e.expires_at),
                    None => return write_error(out, E_INT),
                },
            };
            let Some(new) = old.checked_add(by) else {
                return err(out, "ERR increment or decrement would overflow");
            };
            let entry = Entry {
                value: Some(Bytes::from(new.to_string())),
                version: node.next_version(),
                expires_at,
            };
            match node.write(args[1].clone(), entry).await {
                Ok(()) => write_integer(out, new),
                Err(x) => op_err(out, x, name),
            }
        }
        Cmd::MGet => {
            let mut vals = Vec::with_capacity(args.len() - 1);
            for key in &args[1..] {
                match node.read(key).await {
                    Ok(e) => vals.push(live(e, node.clock.now()).and_then(|e| e.value)),
                    Err(x) => return op_err(out, x, name),
                }
            }
            write_array_header(out, vals.len());
            for v in vals {
                match v {
                    Some(v) => write_bulk(out, &v),
                    None => write_null(out),
                }
            }
        }
        Cmd::MSet => {
            if args.len() % 2 != 1 {
                return wrong_args(out, name);
            }
            for kv in args[1..].chunks(2) {
                let entry = Entry {
                    value: Some(kv[1].clone()),
                    version: node.next_version(),
                    expires_at: None,
                };
                if let Err(x) = node.write(kv[0].clone(), entry).await {
                    return op_err(out, x, name);
                }
            }
            write_simple(out, OK);
        }
        _ => unreachable!("is_data covers exactly the commands above"),
    }
}

/// A quorum read of the live entry. `None` when an error was already
/// written to `out`.
async fn read_live(
    node: &Node,
    key: &Bytes,
    op: &str,
    out: &mut BytesMut,
) -> Option<Option<Entry>> {
    match node.read(key).await {
        Ok(e) => Some(live(e, node.clock.now())),
        Err(x) => {
            op_err(out, x, op);
            None
        }
    }
}

/// Writes a tombstone that outlives the delete by the grace period.
async fn delete(node: &Node, key: &Bytes) -> Result<(), OpError> {
    let now = node.clock.now();
    let entry = Entry {
        value: None,
        version: node.next_version(),
        expires_at: Some(now + node.cfg.tombstone_grace.as_micros() as Micros),
    };
    node.write(key.clone(), entry).await
}

/// Options of SET.
#[derive(Default)]
struct SetOpts {
    /// Only if absent.
    nx: bool,
    /// Only if present.
    xx: bool,
    /// Reply the old value.
    get: bool,
    /// Keep the old expiry.
    keepttl: bool,
    /// Absolute expiry, model microseconds.
    expires_at: Option<Micros>,
}

fn parse_set(args: &[Bytes], now: Micros) -> Result<SetOpts, &'static [u8]> {
    let mut o = SetOpts::default();
    let mut expiry_given = false;
    let mut i = 3;
    while i < args.len() {
        let a = args[i].to_ascii_uppercase();
        match &a[..] {
            b"NX" if !o.xx => o.nx = true,
            b"XX" if !o.nx => o.xx = true,
            b"GET" => o.get = true,
            b"KEEPTTL" if !expiry_given => {
                o.keepttl = true;
                expiry_given = true;
            }
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if !expiry_given && i + 1 < args.len() => {
                expiry_given = true;
                i += 1;
                let n = parse_i64(&args[i]).ok_or(E_INT)?;
                if n <= 0 {
                    return Err(b"ERR invalid expire time in 'set' command");
                }
                let n = n as u64;
                let at = match &a[..] {
                    b"EX" => n.checked_mul(1_000_000).and_then(|d| d.checked_add(now)),
                    b"PX" => n.checked_mul(1_000).and_then(|d| d.checked_add(now)),
                    b"EXAT" => n.checked_mul(1_000_000),
                    _ => n.checked_mul(1_000),
                };
                o.expires_at = Some(at.ok_or(&b"ERR invalid expire time in 'set' command"[..])?);
            }
            _ => return Err(E_SYNTAX),
        }
        i += 1;
    }
    Ok(o)
}

async fn set(node: &Node, args: &[Bytes], out: &mut BytesMut) {
    let now = node.clock.now();
    let o = match parse_set(args, now) {
        Ok(o) => o,
        Err(e) => return write_error(out, e),
    };
    let key = &args[1];
    let needs_read = o.nx || o.xx || o.get || o.keepttl;
    let cur = if needs_read {
        match read_live(node, key, "set", out).await {
            Some(c) => c,
            None => return,
        }
    } else {
        None
    };
    let reply_old =
        |out: &mut BytesMut, cur: &Option<Entry>| match cur.as_ref().and_then(|e| e.value.as_ref())
        {
            Some(v) => write_bulk(out, v),
            None => write_null(out),
        };
    if (o.nx && cur.is_some()) || (o.xx && cur.is_none()) {
        if o.get {
            reply_old(out, &cur);
        } else {
            write_null(out);
        }
        return;
    }
    let expires_at = if o.keepttl {
        cur.as_ref().and_then(|e| e.expires_at)
    } else {
        o.expires_at
    };
    let res = if expires_at.is_some_and(|t| t <= now) {
        // EXAT/PXAT in the past: the key is set and expires at once.
        delete(node, key).await
    } else {
        let entry = Entry {
            value: Some(args[2].clone()),
            version: node.next_version(),
            expires_at,
        };
        node.write(key.clone(), entry).await
    };
    match res {
        Ok(()) if o.get => reply_old(out, &cur),
        Ok(()) => write_simple(out, OK),
        Err(x) => op_err(out, x, "set"),
    }
}

async fn expire(node: &Node, spec: &CommandSpec, args: &[Bytes], out: &mut BytesMut) {
    let name = spec.name;
    let Some(n) = parse_i64(&args[2]) else {
        return write_error(out, E_INT);
    };
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &args[3..] {
        match &a.to_ascii_uppercase()[..] {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            other => {
                return err(out, &format!("ERR Unsupported option {}", clean(other)));
            }
        }
    }
    if nx && (xx || gt || lt) {
        return err(
            out,
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        );
    }
    if gt && lt {
        return err(
            out,
            "ERR GT and LT options at the same time are not compatible",
        );
    }
    let now = node.clock.now();
    let unit: i64 = if spec.cmd == Cmd::Expire {
        1_000_000
    } else {
        1_000
    };
    let Some(at) = n.checked_mul(unit).and_then(|d| d.checked_add(now as i64)) else {
        return err(out, &format!("ERR invalid expire time in '{name}' command"));
    };
    let Some(cur) = read_live(node, &args[1], name, out).await else {
        return;
    };
    let Some(mut e) = cur else {
        return write_integer(out, 0);
    };
    let cur_at = e.expires_at.map(|t| t as i64);
    let allowed = match (nx, xx, gt, lt) {
        (true, ..) => cur_at.is_none(),
        (_, true, _, _) if cur_at.is_none() => false,
        (_, _, true, _) => cur_at.is_some_and(|c| at > c),
        (_, _, _, true) => cur_at.is_none_or(|c| at < c),
        _ => true,
    };
    if !allowed {
        return write_integer(out, 0);
    }
    let res = if at <= now as i64 {
        delete(node, &args[1]).await
    } else {
        e.expires_at = Some(at as Micros);
        e.version = node.next_version();
        node.write(args[1].clone(), e).await
    };
    match res {
        Ok(()) => write_integer(out, 1),
        Err(x) => op_err(out, x, name),
    }
}

/// Connection, server and introspection commands.
async fn admin(
    node: &Node,
    sess: &mut Session,
    spec: &CommandSpec,
    args: &[Bytes],
    out: &mut BytesMut,
) -> Flow {
    let sub = || {
        args.get(1)
            .map(|a| a.to_ascii_uppercase())
            .unwrap_or_default()
    };
    match spec.cmd {
        Cmd::Quit => {
            write_simple(out, OK);
            return Flow::Close;
        }
        Cmd::Select => match parse_i64(&args[1]) {
            Some(0) => write_simple(out, OK),
            Some(_) => err(out, "ERR DB index is out of range"),
            None => write_error(out, E_INT),
        },
        Cmd::Cluster if sub() == b"ADDNODE" => cluster_addnode(node, args, out),
        // Redis's own words, which cluster-aware clients recognise.
        Cmd::Cluster => err(out, "ERR This instance has cluster support disabled"),
        Cmd::DbSize => write_integer(out, node.shards.len() as i64),
        Cmd::FlushAll => {
            if args.len() > 2 || (args.len() == 2 && !matches!(&sub()[..], b"ASYNC" | b"SYNC")) {
                write_error(out, E_SYNTAX);
            } else {
                flush_all(node).await;
                write_simple(out, OK);
            }
        }
        Cmd::Info => {
            let sections: Vec<String> = args[1..]
                .iter()
                .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
                .collect();
            write_bulk(out, info::render(node, &sections).as_bytes());
        }
        Cmd::Auth => {
            let (user, pass) = if args.len() == 2 {
                (&b"default"[..], &args[1])
            } else if args.len() == 3 {
                (&args[1][..], &args[2])
            } else {
                write_error(out, E_SYNTAX);
                return Flow::Continue;
            };
            auth(node, sess, user, pass, out);
        }
        Cmd::Hello => return hello(node, sess, args, out),
        Cmd::Client => client(node, sess, args, out),
        Cmd::Config => config(node, args, out),
        Cmd::Command => command(args, out),
        Cmd::PeerHello => {
            let Ok((from, pass)) = crate::protocol::peer::parse_hello(&args[1..]) else {
                err(
                    out,
                    "ERR bad RL.HELLO: expected RL.HELLO <node-id> [password]",
                );
                return Flow::Continue;
            };
            if let Some(want) = &node.cfg.requirepass
                && pass.as_deref() != Some(want.as_bytes())
            {
                write_error(
                    out,
                    b"WRONGPASS invalid username-password pair or user is disabled.",
                );
                return Flow::Continue;
            }
            write_simple(out, OK);
            return Flow::Peer(from);
        }
        _ => unreachable!("admin gets the commands is_data refuses"),
    }
    Flow::Continue
}

/// FLUSHALL: this node's keys, and every peer's (waiting up to the replica
/// timeout for their acks; a peer that does not answer keeps its keys).
async fn flush_all(node: &Node) {
    node.shards.flush();
    let states = node.peers.states();
    if states.is_empty() {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    for p in &states {
        node.peers.send(p.id, PeerRequest::Flush, tx.clone());
    }
    drop(tx);
    let _ = node
        .clock
        .timeout(node.cfg.replica_timeout, async {
            while rx.recv().await.is_some() {}
        })
        .await;
}

fn auth(node: &Node, sess: &mut Session, user: &[u8], pass: &[u8], out: &mut BytesMut) -> bool {
    match &node.cfg.requirepass {
        None => {
            err(
                out,
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            );
            false
        }
        Some(want) if user == b"default" && pass == want.as_bytes() => {
            sess.authed = true;
            write_simple(out, OK);
            true
        }
        Some(_) => {
            write_error(
                out,
                b"WRONGPASS invalid username-password pair or user is disabled.",
            );
            false
        }
    }
}

/// `CLUSTER ADDNODE <id> <ip:port> [vnodes]`: a node joins this node's view
/// of the cluster (send it to every member, and start the new node with the
/// full member list). Nothing migrates; see `Node::add_member`.
fn cluster_addnode(node: &Node, args: &[Bytes], out: &mut BytesMut) {
    let usage = "expected CLUSTER ADDNODE <id> <ip:port> [vnodes]";
    if !(4..=5).contains(&args.len()) {
        return err(out, &format!("ERR wrong number of arguments: {usage}"));
    }
    let text = |a: &Bytes| String::from_utf8_lossy(a).to_string();
    let Ok(id) = text(&args[2]).parse::<crate::ring::NodeId>() else {
        return err(
            out,
            &format!("ERR bad node id '{}': {usage}", clean(&args[2])),
        );
    };
    let Ok(addr) = text(&args[3]).parse::<std::net::SocketAddr>() else {
        return err(
            out,
            &format!("ERR bad address '{}': {usage}", clean(&args[3])),
        );
    };
    let vnodes = match args.get(4) {
        None => crate::ring::DEFAULT_VNODES,
        Some(v) => match text(v).parse::<u32>() {
            Ok(v) => v,
            Err(_) => {
                return err(out, &format!("ERR bad vnodes '{}': {usage}", clean(v)));
            }
        },
    };
    match node.add_member(super::config::Member { id, addr, vnodes }) {
        Ok(j) => write_bulk(
            out,
            format!(
                "members={} moved_fraction={:.6}",
                j.members, j.moved_fraction
            )
            .as_bytes(),
        ),
        Err(e) => err(out, &format!("ERR {e}")),
    }
}

fn hello(node: &Node, sess: &mut Session, args: &[Bytes], out: &mut BytesMut) -> Flow {
    if args.len() >= 2 {
        match parse_i64(&args[1]) {
            Some(2) => {}
            Some(_) => {
                err(out, "NOPROTO unsupported protocol version");
                return Flow::Continue;
            }
            None => {
                err(
                    out,
                    "ERR Protocol version is not an integer or out of range",
                );
                return Flow::Continue;
            }
        }
    }
    let mut i = 2;
    let mut name = None;
    while i < args.len() {
        let opt = args[i].to_ascii_uppercase();
        if &opt[..] == b"AUTH" && i + 2 < args.len() {
            let mut scratch = BytesMut::new();
            if !auth(node, sess, &args[i + 1], &args[i + 2], &mut scratch) {
                out.extend_from_slice(&scratch);
                return Flow::Continue;
            }
            i += 3;
        } else if &opt[..] == b"SETNAME" && i + 1 < args.len() {
            name = Some(args[i + 1].clone());
            i += 2;
        } else {
            err(
                out,
                &format!("ERR Syntax error in HELLO option '{}'", clean(&args[i])),
            );
            return Flow::Continue;
        }
    }
    if !sess.authed {
        write_error(out, b"NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return Flow::Continue;
    }
    if name.is_some() {
        sess.name = name;
    }
    write_array_header(out, 14);
    write_bulk(out, b"server");
    write_bulk(out, b"redis");
    write_bulk(out, b"version");
    write_bulk(out, info::REDIS_VERSION.as_bytes());
    write_bulk(out, b"proto");
    write_integer(out, 2);
    write_bulk(out, b"id");
    write_integer(out, sess.id as i64);
    write_bulk(out, b"mode");
    write_bulk(out, b"standalone");
    write_bulk(out, b"role");
    write_bulk(out, b"master");
    write_bulk(out, b"modules");
    write_array_header(out, 0);
    Flow::Continue
}

fn client(_node: &Node, sess: &mut Session, args: &[Bytes], out: &mut BytesMut) {
    let sub = args[1].to_ascii_uppercase();
    match (&sub[..], args.len()) {
        (b"ID", 2) => write_integer(out, sess.id as i64),
        (b"GETNAME", 2) => match &sess.name {
            Some(n) => write_bulk(out, n),
            None => write_null(out),
        },
        (b"SETNAME", 3) => {
            if args[2].iter().any(|&c| c <= b' ' || c > b'~') {
                err(
                    out,
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            } else {
                sess.name = (!args[2].is_empty()).then(|| args[2].clone());
                write_simple(out, OK);
            }
        }
        (b"SETINFO", 4) => match &args[2].to_ascii_uppercase()[..] {
            b"LIB-NAME" => {
                sess.lib_name = Some(args[3].clone());
                write_simple(out, OK);
            }
            b"LIB-VER" => write_simple(out, OK),
            _ => err(
                out,
                &format!("ERR Unrecognized option '{}'", clean(&args[2])),
            ),
        },
        (b"ID" | b"GETNAME" | b"SETNAME" | b"SETINFO", _) => wrong_args(
            out,
            &format!(
                "client|{}",
                String::from_utf8_lossy(&sub).to_ascii_lowercase()
            ),
        ),
        _ => err(
            out,
            &format!(
                "ERR unknown subcommand '{}'. Try CLIENT HELP.",
                clean(&args[1])
            ),
        ),
    }
}

/// The parameters CONFIG GET knows, sorted by name.
const CONFIG_PARAMS: &[&str] = &[
    "appendonly",
    "bind",
    "databases",
    "maxclients",
    "maxmemory",
    "maxmemory-policy",
    "port",
    "requirepass",
    "save",
    "timeout",
];

fn config_value(node: &Node, name: &str) -> String {
    let t = node.tunables();
    match name {
        "appendonly" => t.appendonly.clone(),
        "bind" => node.cfg.listen.ip().to_string(),
        "databases" => "1".into(),
        "maxclients" => node.cfg.max_clients.to_string(),
        "maxmemory" => t.maxmemory.to_string(),
        "maxmemory-policy" => t.policy.as_str().to_string(),
        "port" => node.port.to_string(),
        "requirepass" => node.cfg.requirepass.clone().unwrap_or_default(),
        "save" => t.save.clone(),
        "timeout" => node.cfg.idle_timeout.map_or(0, |d| d.as_secs()).to_string(),
        _ => unreachable!("only CONFIG_PARAMS are asked for"),
    }
}

/// Redis's glob: `*`, `?`, `[...]` are enough for CONFIG GET; any case.
pub fn glob(pat: &[u8], s: &[u8]) -> bool {
    match (pat.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&pat[1..], s) || (!s.is_empty() && glob(pat, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&pat[1..], &s[1..]),
        (Some(b'['), Some(c)) => match pat.iter().position(|&x| x == b']') {
            Some(end) if end > 1 => {
                pat[1..end].contains(&c.to_ascii_lowercase()) && glob(&pat[end + 1..], &s[1..])
            }
            _ => false,
        },
        (Some(p), Some(c)) => p.eq_ignore_ascii_case(c) && glob(&pat[1..], &s[1..]),
        _ => false,
    }
}

fn config(node: &Node, args: &[Bytes], out: &mut BytesMut) {
    let sub = args[1].to_ascii_uppercase();
    match &sub[..] {
        b"GET" if args.len() >= 3 => {
            let mut hits: Vec<&str> = CONFIG_PARAMS
                .iter()
                .copied()
                .filter(|p| args[2..].iter().any(|pat| glob(pat, p.as_bytes())))
                .collect();
            hits.sort_unstable();
            write_array_header(out, hits.len() * 2);
            for p in hits {
                write_bulk(out, p.as_bytes());
                write_bulk(out, config_value(node, p).as_bytes());
            }
        }
        b"SET" if args.len() >= 4 && args.len().is_multiple_of(2) => {
            // Validate every pair first: CONFIG SET applies all or nothing.
            let mut t = node.tunables().clone();
            for kv in args[2..].chunks(2) {
                let name = String::from_utf8_lossy(&kv[0]).to_ascii_lowercase();
                let val = String::from_utf8_lossy(&kv[1]).to_string();
                let bad = |why: &str| {
                    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
                };
                match name.as_str() {
                    "maxmemory" => match parse_memory(&val) {
                        Ok(v) => t.maxmemory = v,
                        Err(e) => return err(out, &bad(&e)),
                    },
                    "maxmemory-policy" => match val.parse::<Policy>() {
                        Ok(p) => t.policy = p,
                        Err(e) => return err(out, &bad(&e.to_string())),
                    },
                    "save" => t.save = val,
                    "appendonly" => match val.as_str() {
                        "no" => t.appendonly = val,
                        "yes" => {
                            return err(
                                out,
                                &bad("ringlab keeps no data on disk; only 'no' is accepted"),
                            );
                        }
                        _ => return err(out, &bad("argument must be 'yes' or 'no'")),
                    },
                    _ => {
                        return err(
                            out,
                            &format!(
                                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                                clean(&kv[0])
                            ),
                        );
                    }
                }
            }
            let (mm, pol) = (t.maxmemory, t.policy);
            *node.tunables() = t;
            node.shards.set_config(mm, pol, node.clock.now());
            write_simple(out, OK);
        }
        b"RESETSTAT" if args.len() == 2 => write_simple(out, OK),
        b"GET" | b"SET" | b"RESETSTAT" => wrong_args(
            out,
            &format!(
                "config|{}",
                String::from_utf8_lossy(&sub).to_ascii_lowercase()
            ),
        ),
        _ => err(
            out,
            &format!(
                "ERR unknown subcommand '{}'. Try CONFIG HELP.",
                clean(&args[1])
            ),
        ),
    }
}

fn command_info(c: &CommandSpec, out: &mut BytesMut) {
    write_array_header(out, 10);
    write_bulk(out, c.name.as_bytes());
    write_integer(out, c.arity.into());
    write_array_header(out, c.flags.len());
    for f in c.flags {
        write_simple(out, f.as_bytes());
    }
    write_integer(out, c.first_key.into());
    write_integer(out, c.last_key.into());
    write_integer(out, c.step.into());
    for _ in 0..4 {
        // ACL categories, tips, key specs, subcommands: none described.
        write_array_header(out, 0);
    }
}

fn public() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS.iter().filter(|c| c.cmd != Cmd::PeerHello)
}

fn command(args: &[Bytes], out: &mut BytesMut) {
    let sub = args
        .get(1)
        .map(|a| a.to_ascii_uppercase())
        .unwrap_or_default();
    match &sub[..] {
        b"" => {
            let mut all: Vec<&CommandSpec> = public().collect();
            all.sort_by_key(|c| c.name);
            write_array_header(out, all.len());
            for c in all {
                command_info(c, out);
            }
        }
        b"COUNT" => write_integer(out, public().count() as i64),
        // redis-cli asks for docs to show hints; an empty map is a valid
        // answer ("no docs") and it falls back to its built-in help.
        b"DOCS" => write_array_header(out, 0),
        b"LIST" => {
            let mut names: Vec<&str> = public().map(|c| c.name).collect();
            names.sort_unstable();
            write_array_header(out, names.len());
            for n in names {
                write_bulk(out, n.as_bytes());
            }
        }
        b"INFO" => {
            write_array_header(out, args.len() - 2);
            for name in &args[2..] {
                match table::lookup(name).filter(|(_, c)| c.cmd != Cmd::PeerHello) {
                    Some((_, c)) => command_info(c, out),
                    None => write_null(out),
                }
            }
        }
        _ => err(
            out,
            &format!(
                "ERR unknown subcommand '{}'. Try COMMAND HELP.",
                clean(&args[1])
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_like_redis() {
        assert_eq!(parse_i64(b"12"), Some(12));
        assert_eq!(parse_i64(b"-3"), Some(-3));
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b""[..], b"+1", b" 1", b"01", b"1.5", b"abc", b"-0"] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn glob_matches_config_patterns() {
        assert!(glob(b"*", b"maxmemory"));
        assert!(glob(b"maxmemory*", b"maxmemory-policy"));
        assert!(glob(b"MAXMEMORY", b"maxmemory"));
        assert!(glob(b"s?ve", b"save"));
        assert!(!glob(b"max", b"maxmemory"));
        assert!(glob(b"[sa]ave", b"save"));
    }
}
