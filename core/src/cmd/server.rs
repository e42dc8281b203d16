//! Connection and server commands: QUIT, SELECT, AUTH, HELLO, CLIENT,
//! CONFIG, COMMAND, INFO, DBSIZE, FLUSHALL/FLUSHDB, TIME, WAIT. They run at
//! once on the coordinator, are not charged to its capacity, and touch no
//! replica (FLUSHALL excepted: it is a plan that reaches every peer). Their
//! replies follow the connection's protocol (HELLO 2|3, see
//! [`crate::protocol::resp::Proto`]).

use bytes::{Bytes, BytesMut};

use super::plan::Plan;
use super::reply::{self, E_INT, E_SYNTAX, OK, clean, parse_i64};
use super::{COMMANDS, Cmd, CommandSpec, lookup};
use crate::clock::Micros;
use crate::config::parse_memory;
use crate::glob;
use crate::machine::conns::After;
use crate::machine::{ConnId, Machine, info};
use crate::protocol::resp::{
    Proto, write_array_header, write_bulk, write_error, write_integer, write_map_header, write_nil,
    write_set_header, write_simple, write_verbatim,
};
use crate::secret::ct_eq;
use crate::store::Policy;

/// FLUSHALL and FLUSHDB [ASYNC|SYNC] (one database: the same thing):
/// checks the arguments and returns the plan.
pub fn flushall(args: &[Bytes]) -> Result<Plan, Bytes> {
    let ok = match args.len() {
        1 => true,
        2 => matches!(&args[1].to_ascii_uppercase()[..], b"ASYNC" | b"SYNC"),
        _ => false,
    };
    if ok {
        Ok(Plan::FlushAll)
    } else {
        Err(reply::error_bytes(E_SYNTAX))
    }
}

/// Runs a server command and returns its reply.
pub fn execute(
    m: &mut Machine,
    now: Micros,
    conn: ConnId,
    slot: u64,
    spec: &CommandSpec,
    args: &[Bytes],
) -> Bytes {
    let mut out = BytesMut::new();
    let proto = m.conns.session(conn).map_or(Proto::Resp2, |s| s.proto);
    match spec.cmd {
        Cmd::Quit => {
            m.conns.set_after(conn, slot, After::Close);
            write_simple(&mut out, OK);
        }
        Cmd::Select => match parse_i64(&args[1]) {
            Some(0) => write_simple(&mut out, OK),
            Some(_) => write_error(&mut out, b"ERR DB index is out of range"),
            None => write_error(&mut out, E_INT),
        },
        Cmd::DbSize => write_integer(&mut out, m.store.len() as i64),
        Cmd::Time => time(now, &mut out),
        Cmd::Wait => wait(m, args, &mut out),
        Cmd::Info => {
            let sections: Vec<String> = args[1..]
                .iter()
                .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
                .collect();
            // Text for people: RESP3 marks it verbatim, as Redis 7 does.
            write_verbatim(
                &mut out,
                proto,
                b"txt",
                info::render(m, now, &sections).as_bytes(),
            );
        }
        Cmd::Auth => {
            let (user, pass) = match args.len() {
                2 => (&b"default"[..], &args[1]),
                3 => (&args[1][..], &args[2]),
                _ => return reply::error_bytes(E_SYNTAX),
            };
            auth(m, conn, user, pass, &mut out);
        }
        Cmd::Hello => hello(m, conn, args, &mut out),
        Cmd::Client => client(m, conn, slot, args, &mut out),
        Cmd::Config => config(m, now, proto, args, &mut out),
        Cmd::Command => command(proto, args, &mut out),
        other => unreachable!("{other:?} is not a server command"),
    }
    out.freeze()
}

/// TIME: the model time as Unix seconds and microseconds (the real node's
/// model time is Unix time; a simulation's is its own).
fn time(now: Micros, out: &mut BytesMut) {
    write_array_header(out, 2);
    write_bulk(out, (now / 1_000_000).to_string().as_bytes());
    write_bulk(out, (now % 1_000_000).to_string().as_bytes());
}

/// WAIT numreplicas timeout: answers at once. Every write this node
/// acknowledged had already reached W of its key's N replicas, so the
/// answer is W - 1: the copies besides the one Redis would call the
/// master (0 on a single node, as a Redis without replicas says). It does
/// not count acknowledgements per connection, and never waits.
fn wait(m: &Machine, args: &[Bytes], out: &mut BytesMut) {
    let (Some(_), Some(timeout)) = (parse_i64(&args[1]), parse_i64(&args[2])) else {
        return write_error(out, E_INT);
    };
    if timeout < 0 {
        return err(out, "ERR timeout is negative");
    }
    write_integer(out, m.quorum.w.saturating_sub(1) as i64);
}

fn err(out: &mut BytesMut, msg: &str) {
    write_error(out, msg.as_bytes());
}

fn wrong_args(out: &mut BytesMut, name: &str) {
    out.extend_from_slice(&reply::wrong_args(name));
}

/// AUTH: true when the password matched (the session is then authed).
pub(crate) fn auth(
    m: &mut Machine,
    conn: ConnId,
    user: &[u8],
    pass: &[u8],
    out: &mut BytesMut,
) -> bool {
    match &m.cfg.requirepass {
        None => {
            err(
                out,
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            );
            false
        }
        // Constant time: the password is the secret, the user name is not.
        Some(want) if user == b"default" && ct_eq(pass, want.as_bytes()) => {
            if let Some(s) = m.conns.session_mut(conn) {
                s.authed = true;
            }
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

/// HELLO [protover [AUTH user pass] [SETNAME name]]: switches the
/// connection's protocol and describes the server, in Redis's order of
/// checks (version, options, AUTH, authenticated, then the switch).
fn hello(m: &mut Machine, conn: ConnId, args: &[Bytes], out: &mut BytesMut) {
    let mut proto = None;
    if args.len() >= 2 {
        match parse_i64(&args[1]) {
            Some(2) => proto = Some(Proto::Resp2),
            Some(3) => proto = Some(Proto::Resp3),
            Some(_) => return err(out, "NOPROTO unsupported protocol version"),
            None => {
                return err(
                    out,
                    "ERR Protocol version is not an integer or out of range",
                );
            }
        }
    }
    let mut i = 2;
    let mut name = None;
    let mut creds = None;
    while i < args.len() {
        let opt = args[i].to_ascii_uppercase();
        if &opt[..] == b"AUTH" && i + 2 < args.len() {
            creds = Some((&args[i + 1], &args[i + 2]));
            i += 3;
        } else if &opt[..] == b"SETNAME" && i + 1 < args.len() {
            name = Some(args[i + 1].clone());
            i += 2;
        } else {
            return err(
                out,
                &format!("ERR Syntax error in HELLO option '{}'", clean(&args[i])),
            );
        }
    }
    if let Some((user, pass)) = creds
        && !hello_auth(m, conn, user, pass, out)
    {
        return;
    }
    let Some(sess) = m.conns.session_mut(conn) else {
        return;
    };
    if !sess.authed {
        write_error(out, b"NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    if name.is_some() {
        sess.name = name;
    }
    if let Some(p) = proto {
        sess.proto = p;
    }
    let (id, proto) = (sess.id, sess.proto);
    write_map_header(out, proto, 7);
    for (k, v) in [("server", "redis"), ("version", info::REDIS_VERSION)] {
        write_bulk(out, k.as_bytes());
        write_bulk(out, v.as_bytes());
    }
    write_bulk(out, b"proto");
    write_integer(out, proto.version());
    write_bulk(out, b"id");
    write_integer(out, id as i64);
    for (k, v) in [("mode", "standalone"), ("role", "master")] {
        write_bulk(out, k.as_bytes());
        write_bulk(out, v.as_bytes());
    }
    write_bulk(out, b"modules");
    write_array_header(out, 0);
}

/// HELLO's AUTH: like AUTH, except that with no password set the default
/// user takes any password (Redis's `nopass` default user), where plain
/// `AUTH <password>` is refused. Writes the error and returns false on
/// failure.
fn hello_auth(m: &mut Machine, conn: ConnId, user: &[u8], pass: &[u8], out: &mut BytesMut) -> bool {
    if m.cfg.requirepass.is_none() {
        if user == b"default" {
            return true;
        }
        write_error(
            out,
            b"WRONGPASS invalid username-password pair or user is disabled.",
        );
        return false;
    }
    let mut scratch = BytesMut::new();
    let ok = auth(m, conn, user, pass, &mut scratch);
    if !ok {
        out.extend_from_slice(&scratch);
    }
    ok
}

/// CLIENT HELP's lines, as redis-server words them for what the node has.
const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "LIST",
    "    Return information about client connections.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "HELP",
    "    Print this help.",
];

/// A name-like field as CLIENT LIST shows it (empty when unset).
fn lossy(b: &Option<Bytes>) -> std::borrow::Cow<'_, str> {
    b.as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default()
}

/// One connection's CLIENT LIST line: the fields the node knows (it has no
/// file descriptors, buffers or per-connection clocks to show).
fn client_line(s: &crate::machine::conns::Session, text: &mut String) {
    use std::fmt::Write;
    let _ = write!(text, "id={}", s.id);
    match (s.remote, s.port) {
        (Some(ip), Some(port)) => {
            let _ = write!(text, " addr={}", std::net::SocketAddr::new(ip, port));
        }
        (Some(ip), None) => {
            let _ = write!(text, " addr={ip}");
        }
        _ => {}
    }
    let _ = writeln!(
        text,
        " name={} db=0 resp={} lib-name={}",
        lossy(&s.name),
        s.proto.version(),
        lossy(&s.lib_name)
    );
}

fn client(m: &mut Machine, conn: ConnId, slot: u64, args: &[Bytes], out: &mut BytesMut) {
    let sub = args[1].to_ascii_uppercase();
    let proto = m.conns.session(conn).map(|s| s.proto).unwrap_or_default();
    match (&sub[..], args.len()) {
        (b"LIST", 2) | (b"INFO", 2) => {
            let mut text = String::new();
            for s in m.conns.sessions() {
                if &sub[..] == b"LIST" || s.id == conn {
                    client_line(s, &mut text);
                }
            }
            return write_verbatim(out, proto, b"txt", text.as_bytes());
        }
        (b"KILL", n) if n >= 3 => return super::kill::kill(m, conn, slot, args, out),
        (b"HELP", 2) => {
            write_array_header(out, CLIENT_HELP.len());
            for l in CLIENT_HELP {
                write_simple(out, l.as_bytes());
            }
            return;
        }
        _ => {}
    }
    let Some(sess) = m.conns.session_mut(conn) else {
        return;
    };
    match (&sub[..], args.len()) {
        (b"ID", 2) => write_integer(out, sess.id as i64),
        (b"GETNAME", 2) => match &sess.name {
            Some(n) => write_bulk(out, n),
            None => write_nil(out, sess.proto),
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
        (
            b"ID" | b"GETNAME" | b"SETNAME" | b"SETINFO" | b"LIST" | b"INFO" | b"HELP" | b"KILL",
            _,
        ) => wrong_args(
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
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "timeout",
];

fn config_value(m: &Machine, name: &str) -> String {
    let t = &m.tunables;
    match name {
        "appendonly" => t.appendonly.clone(),
        "bind" => m.cfg.listen.ip().to_string(),
        "databases" => "1".into(),
        "maxclients" => m.cfg.max_clients.to_string(),
        "maxmemory" => t.maxmemory.to_string(),
        "maxmemory-policy" => t.policy.as_str().to_string(),
        "port" => m.port.to_string(),
        "requirepass" => m.cfg.requirepass.clone().unwrap_or_default(),
        "save" => t.save.clone(),
        "slowlog-log-slower-than" => t.slowlog_slower_than.to_string(),
        "slowlog-max-len" => t.slowlog_max_len.to_string(),
        "timeout" => m.cfg.idle_timeout.map_or(0, |d| d.as_secs()).to_string(),
        _ => unreachable!("only CONFIG_PARAMS are asked for"),
    }
}

fn config(m: &mut Machine, now: Micros, proto: Proto, args: &[Bytes], out: &mut BytesMut) {
    let sub = args[1].to_ascii_uppercase();
    match &sub[..] {
        b"GET" if args.len() >= 3 => {
            let mut hits: Vec<&str> = CONFIG_PARAMS
                .iter()
                .copied()
                .filter(|p| {
                    args[2..]
                        .iter()
                        .any(|pat| glob::matches(pat, p.as_bytes(), true))
                })
                .collect();
            hits.sort_unstable();
            write_map_header(out, proto, hits.len());
            for p in hits {
                write_bulk(out, p.as_bytes());
                write_bulk(out, config_value(m, p).as_bytes());
            }
        }
        b"SET" if args.len() >= 4 && args.len().is_multiple_of(2) => config_set(m, now, args, out),
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

/// An integer setting of at least `min`, with Redis's words for what is
/// wrong.
fn int_in(v: &[u8], min: i64) -> Result<i64, String> {
    match parse_i64(v) {
        None => Err("argument couldn't be parsed into an integer".into()),
        Some(n) if n < min => Err(format!(
            "argument must be between {min} and {} inclusive",
            i64::MAX
        )),
        Some(n) => Ok(n),
    }
}

/// CONFIG SET: validates every pair first, then applies all or nothing.
fn config_set(m: &mut Machine, now: Micros, args: &[Bytes], out: &mut BytesMut) {
    let mut t = m.tunables.clone();
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
            "slowlog-log-slower-than" => match int_in(&kv[1], -1) {
                Ok(v) => t.slowlog_slower_than = v,
                Err(why) => return err(out, &bad(&why)),
            },
            "slowlog-max-len" => match int_in(&kv[1], 0) {
                Ok(v) => t.slowlog_max_len = v as u64,
                Err(why) => return err(out, &bad(&why)),
            },
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
    m.tunables = t;
    m.set_memory(mm, pol, now);
    write_simple(out, OK);
}

/// One command's COMMAND INFO entry. Its flags and the four lists after the
/// key positions are sets in RESP3, as Redis 7.0 sends them.
fn command_info(c: &CommandSpec, proto: Proto, out: &mut BytesMut) {
    write_array_header(out, 10);
    write_bulk(out, c.name.as_bytes());
    write_integer(out, c.arity.into());
    write_set_header(out, proto, c.flags.len());
    for f in c.flags {
        write_simple(out, f.as_bytes());
    }
    write_integer(out, c.first_key.into());
    write_integer(out, c.last_key.into());
    write_integer(out, c.step.into());
    for _ in 0..4 {
        // ACL categories, tips, key specs, subcommands: none described.
        write_set_header(out, proto, 0);
    }
}

fn public() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS.iter().filter(|c| c.cmd != Cmd::PeerHello)
}

fn command(proto: Proto, args: &[Bytes], out: &mut BytesMut) {
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
                command_info(c, proto, out);
            }
        }
        b"COUNT" => write_integer(out, public().count() as i64),
        // redis-cli asks for docs to show hints; an empty map is a valid
        // answer ("no docs") and it falls back to its built-in help.
        b"DOCS" => write_map_header(out, proto, 0),
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
                match lookup(name).filter(|(_, c)| c.cmd != Cmd::PeerHello) {
                    Some((_, c)) => command_info(c, proto, out),
                    None => write_nil(out, proto),
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
