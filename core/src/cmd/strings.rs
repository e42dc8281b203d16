//! String commands: GET, SET (NX/XX/GET/KEEPTTL/EX/PX/EXAT/PXAT), GETDEL,
//! INCR/DECR/INCRBY/DECRBY, MGET, MSET; and PING/ECHO, which need no key.

use bytes::{Bytes, BytesMut};

use super::Cmd;
use super::plan::{Cx, Input, Plan, Step, read_live};
use super::reply::{self, E_INT, E_SYNTAX, parse_i64};
use crate::clock::Micros;
use crate::protocol::resp::{Proto, write_array_header, write_bulk, write_nil, write_simple};
use crate::store::Entry;

/// Builds the plan of a string command, or its immediate reply.
pub fn build(cmd: Cmd, args: &[Bytes], now: Micros) -> Result<Plan, Bytes> {
    let key = || args[1].clone();
    Ok(match cmd {
        Cmd::Ping => {
            return Err(match args.len() {
                1 => reply::with(|o| write_simple(o, b"PONG")),
                2 => reply::with(|o| write_bulk(o, &args[1])),
                _ => reply::wrong_args("ping"),
            });
        }
        Cmd::Echo => return Err(reply::with(|o| write_bulk(o, &args[1]))),
        Cmd::Get => Plan::Get(Get { key: key() }),
        Cmd::Set => Plan::Set(Set {
            key: key(),
            value: args[2].clone(),
            opts: parse_set(args, now).map_err(reply::error_bytes)?,
            old: None,
        }),
        Cmd::GetDel => Plan::GetDel(GetDel {
            key: key(),
            old: None,
        }),
        Cmd::Incr | Cmd::Decr | Cmd::IncrBy | Cmd::DecrBy => Plan::Incr(Incr {
            key: key(),
            by: increment(cmd, args)?,
            new: 0,
        }),
        Cmd::MGet => Plan::MGet(MGet {
            keys: args[1..].to_vec(),
            values: Vec::with_capacity(args.len() - 1),
        }),
        Cmd::MSet => {
            if args.len() % 2 != 1 {
                return Err(reply::wrong_args("mset"));
            }
            Plan::MSet(MSet {
                pairs: args[1..].to_vec(),
                next: 0,
            })
        }
        other => unreachable!("{other:?} is not a string command"),
    })
}

/// The step of INCR and its kin.
fn increment(cmd: Cmd, args: &[Bytes]) -> Result<i64, Bytes> {
    Ok(match cmd {
        Cmd::Incr => 1,
        Cmd::Decr => -1,
        _ => {
            let n = parse_i64(&args[2]).ok_or_else(|| reply::error_bytes(E_INT))?;
            if cmd == Cmd::DecrBy {
                n.checked_neg()
                    .ok_or_else(|| reply::error("ERR decrement would overflow"))?
            } else {
                n
            }
        }
    })
}

/// GET: one read.
#[derive(Debug, Clone)]
pub struct Get {
    key: Bytes,
}

impl Get {
    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        match input {
            Input::Start => Step::Read(self.key.clone()),
            input => {
                let e = read_live(input, cx.now);
                Step::Reply(reply::bulk_or_null(
                    cx.proto,
                    e.and_then(|e| e.value).as_deref(),
                ))
            }
        }
    }
}

/// Options of SET.
#[derive(Debug, Clone, Default)]
pub struct SetOpts {
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

/// SET: a write, after a read when an option needs the current value.
#[derive(Debug, Clone)]
pub struct Set {
    key: Bytes,
    value: Bytes,
    opts: SetOpts,
    /// The value before the write (SET ... GET).
    old: Option<Entry>,
}

impl Set {
    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        let o = &self.opts;
        match input {
            Input::Start if o.nx || o.xx || o.get || o.keepttl => Step::Read(self.key.clone()),
            Input::Start => self.write(None, cx),
            Input::Wrote if o.get => Step::Reply(self.old_value(cx.proto)),
            Input::Wrote => Step::Reply(reply::ok()),
            input => {
                let cur = read_live(input, cx.now);
                if (o.nx && cur.is_some()) || (o.xx && cur.is_none()) {
                    self.old = cur;
                    return Step::Reply(if o.get {
                        self.old_value(cx.proto)
                    } else {
                        reply::bulk_or_null(cx.proto, None)
                    });
                }
                self.write(cur, cx)
            }
        }
    }

    fn write(&mut self, cur: Option<Entry>, cx: &mut Cx<'_>) -> Step {
        let expires_at = if self.opts.keepttl {
            cur.as_ref().and_then(|e| e.expires_at)
        } else {
            self.opts.expires_at
        };
        self.old = cur;
        let entry = if expires_at.is_some_and(|t| t <= cx.now) {
            // EXAT/PXAT in the past: the key is set and expires at once.
            cx.tombstone()
        } else {
            cx.value(self.value.clone(), expires_at)
        };
        Step::Write(self.key.clone(), entry)
    }

    fn old_value(&self, proto: Proto) -> Bytes {
        reply::bulk_or_null(proto, self.old.as_ref().and_then(|e| e.value.as_deref()))
    }
}

/// GETDEL: a read, then a tombstone if there was a value.
#[derive(Debug, Clone)]
pub struct GetDel {
    key: Bytes,
    old: Option<Bytes>,
}

impl GetDel {
    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        match input {
            Input::Start => Step::Read(self.key.clone()),
            Input::Wrote => Step::Reply(reply::bulk_or_null(cx.proto, self.old.as_deref())),
            input => match read_live(input, cx.now) {
                Some(e) => {
                    self.old = Some(e.value.unwrap_or_default());
                    Step::Write(self.key.clone(), cx.tombstone())
                }
                None => Step::Reply(reply::bulk_or_null(cx.proto, None)),
            },
        }
    }
}

/// INCR, DECR, INCRBY, DECRBY: read, add, write (keeping the expiry).
#[derive(Debug, Clone)]
pub struct Incr {
    key: Bytes,
    by: i64,
    new: i64,
}

impl Incr {
    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        match input {
            Input::Start => Step::Read(self.key.clone()),
            Input::Wrote => Step::Reply(reply::integer(self.new)),
            input => {
                let cur = read_live(input, cx.now);
                let (old, expires_at) = match &cur {
                    None => (0, None),
                    Some(e) => match parse_i64(e.value.as_deref().unwrap_or_default()) {
                        Some(v) => (v, e.expires_at),
                        None => return Step::Reply(reply::error_bytes(E_INT)),
                    },
                };
                let Some(new) = old.checked_add(self.by) else {
                    return Step::Reply(reply::error("ERR increment or decrement would overflow"));
                };
                self.new = new;
                let entry = cx.value(Bytes::from(new.to_string()), expires_at);
                Step::Write(self.key.clone(), entry)
            }
        }
    }
}

/// MGET: one read per key, in order.
#[derive(Debug, Clone)]
pub struct MGet {
    keys: Vec<Bytes>,
    values: Vec<Option<Bytes>>,
}

impl MGet {
    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        if input != Input::Start {
            let e = read_live(input, cx.now);
            self.values.push(e.and_then(|e| e.value));
        }
        if let Some(k) = self.keys.get(self.values.len()) {
            return Step::Read(k.clone());
        }
        let mut out = BytesMut::new();
        write_array_header(&mut out, self.values.len());
        for v in &self.values {
            match v {
                Some(v) => write_bulk(&mut out, v),
                None => write_nil(&mut out, cx.proto),
            }
        }
        Step::Reply(out.freeze())
    }
}

/// MSET: one write per pair, in order.
#[derive(Debug, Clone)]
pub struct MSet {
    pairs: Vec<Bytes>,
    next: usize,
}

impl MSet {
    pub fn step(&mut self, _input: Input, cx: &mut Cx<'_>) -> Step {
        let i = self.next;
        if i + 1 >= self.pairs.len() {
            return Step::Reply(reply::ok());
        }
        self.next += 2;
        let entry = cx.value(self.pairs[i + 1].clone(), None);
        Step::Write(self.pairs[i].clone(), entry)
    }
}
