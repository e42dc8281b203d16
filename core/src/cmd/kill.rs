//! `CLIENT KILL`, in both of Redis's forms:
//! - `CLIENT KILL ip:port`: that connection, `+OK`, or `-ERR No such client`
//!   (this form may name the caller itself);
//! - `CLIENT KILL <filter> <value> ...` with `ID`, `ADDR`, `LADDR`, `TYPE`,
//!   `USER`, `SKIPME yes|no`: every client matching all the filters (not the
//!   caller, unless `SKIPME no`), answered with how many.
//!
//! A killed connection is forgotten at once (its commands still in flight
//! finish unanswered) and its driver is told to close it after the replies
//! it already has; the caller, when it kills itself, is closed after this
//! reply, as QUIT is. Every client of the node is a normal one for `TYPE`
//! (peers are not clients), and the only user is `default`.

use bytes::{Bytes, BytesMut};

use super::reply::{E_SYNTAX, clean, parse_i64};
use crate::machine::conns::{After, Output, Session};
use crate::machine::{ConnId, Effect, Machine};
use crate::protocol::resp::{write_error, write_integer, write_simple};

/// Which clients to kill; None matches any.
#[derive(Debug, Default)]
struct Filter {
    id: Option<u64>,
    addr: Option<Bytes>,
    laddr: Option<Bytes>,
    /// TYPE: whether the type named is the one every client has (normal).
    normal: Option<bool>,
    skipme: bool,
}

/// Runs CLIENT KILL for `conn` (its command in `slot`); `args` starts with
/// CLIENT.
pub fn kill(m: &mut Machine, conn: ConnId, slot: u64, args: &[Bytes], out: &mut BytesMut) {
    let legacy = args.len() == 3;
    let filter = if legacy {
        Filter {
            addr: Some(args[2].clone()),
            ..Filter::default()
        }
    } else {
        match parse(&args[2..]) {
            Ok(f) => f,
            Err(e) => return write_error(out, e.as_bytes()),
        }
    };
    let laddr = format!("{}:{}", m.cfg.listen.ip(), m.port);
    let victims: Vec<ConnId> = m
        .conns
        .sessions()
        .filter(|s| matches(&filter, s, &laddr) && !(filter.skipme && s.id == conn))
        .map(|s| s.id)
        .collect();
    for &v in &victims {
        if v == conn {
            m.conns.set_after(conn, slot, After::Close);
        } else {
            m.conns.close(v);
            m.effects
                .push_back(Output::Effect(Effect::Close { conn: v }));
        }
    }
    match (legacy, victims.len()) {
        (true, 0) => write_error(out, b"ERR No such client"),
        (true, _) => write_simple(out, b"OK"),
        (false, n) => write_integer(out, n as i64),
    }
}

/// The filters of the new form, with Redis's errors.
fn parse(mut opts: &[Bytes]) -> Result<Filter, String> {
    let mut f = Filter {
        skipme: true,
        ..Filter::default()
    };
    while let [opt, value, rest @ ..] = opts {
        match &opt.to_ascii_lowercase()[..] {
            b"id" => match parse_i64(value) {
                Some(id) if id > 0 => f.id = Some(id as u64),
                _ => return Err("ERR client-id should be greater than 0".into()),
            },
            b"type" => match &value.to_ascii_lowercase()[..] {
                b"normal" => f.normal = Some(true),
                b"master" | b"slave" | b"replica" | b"pubsub" => f.normal = Some(false),
                _ => return Err(format!("ERR Unknown client type '{}'", clean(value))),
            },
            b"addr" => f.addr = Some(value.clone()),
            b"laddr" => f.laddr = Some(value.clone()),
            b"user" if &value[..] == b"default" => {}
            b"user" => return Err(format!("ERR No such user '{}'", clean(value))),
            b"skipme" => match &value.to_ascii_lowercase()[..] {
                b"yes" => f.skipme = true,
                b"no" => f.skipme = false,
                _ => return Err(String::from_utf8_lossy(E_SYNTAX).into_owned()),
            },
            _ => return Err(String::from_utf8_lossy(E_SYNTAX).into_owned()),
        }
        opts = rest;
    }
    if opts.is_empty() {
        Ok(f)
    } else {
        Err(String::from_utf8_lossy(E_SYNTAX).into_owned())
    }
}

/// Whether session `s` passes every filter; `laddr` is this node's
/// `ip:port`.
fn matches(f: &Filter, s: &Session, laddr: &str) -> bool {
    let peer = match (s.remote, s.port) {
        (Some(ip), Some(port)) => Some(std::net::SocketAddr::new(ip, port).to_string()),
        _ => None,
    };
    let same = |want: &Option<Bytes>, have: Option<&str>| {
        want.as_ref()
            .is_none_or(|w| have.is_some_and(|h| h.as_bytes() == &w[..]))
    };
    f.id.is_none_or(|id| id == s.id)
        && f.normal != Some(false)
        && same(&f.addr, peer.as_deref())
        && same(&f.laddr, Some(laddr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(words: &[&str]) -> Result<Filter, String> {
        let args: Vec<Bytes> = words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        parse(&args)
    }

    #[test]
    fn filters_are_checked_as_redis_checks_them() {
        let err = |w: &[&str]| parsed(w).err().unwrap_or_default();
        assert_eq!(err(&["ID", "0"]), "ERR client-id should be greater than 0");
        assert_eq!(err(&["ID", "x"]), "ERR client-id should be greater than 0");
        assert_eq!(err(&["TYPE", "bogus"]), "ERR Unknown client type 'bogus'");
        assert_eq!(err(&["USER", "nobody"]), "ERR No such user 'nobody'");
        assert_eq!(err(&["SKIPME", "maybe"]), "ERR syntax error");
        assert_eq!(err(&["ID", "1", "BOGUS"]), "ERR syntax error");
        assert_eq!(err(&["BOGUS", "1"]), "ERR syntax error");
        let f = parsed(&["id", "7", "skipme", "NO", "type", "normal"]).unwrap();
        assert_eq!((f.id, f.skipme, f.normal), (Some(7), false, Some(true)));
    }
}
