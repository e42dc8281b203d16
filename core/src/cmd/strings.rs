//! String commands: GET, SET (NX/XX/GET/KEEPTTL/EX/PX/EXAT/PXAT) and its
//! shorthands SETEX, PSETEX, SETNX, GETSET; GETDEL, GETEX,
//! INCR/DECR/INCRBY/DECRBY, INCRBYFLOAT, MGET, MSET, MSETNX, APPEND,
//! STRLEN, GETRANGE, SETRANGE; and PING/ECHO, which need no key.

use bytes::{Bytes, BytesMut};

use super::Cmd;
use super::plan::{Cx, Input, Plan, Step, read_live, read_string};
use super::reply::{self, E_INT, E_SYNTAX, parse_i64};

/// Redis's error for a value or argument that is not a float.
const E_FLOAT: &[u8] = b"ERR value is not a valid float";
/// Redis's limit on a string's length (proto-max-bulk-len).
const MAX_STRING: u64 = 512 * 1024 * 1024;
use crate::clock::Micros;
use crate::protocol::resp::{Proto, write_array_header, write_bulk, write_nil, write_simple};
use crate::store::{Entry, Kind};

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
        Cmd::SetEx | Cmd::PSetEx => Plan::Set(setex(cmd, args, now)?),
        Cmd::SetNx => Plan::Set(Set::new(
            args,
            SetOpts {
                nx: true,
                flag: true,
                ..SetOpts::default()
            },
        )),
        Cmd::GetSet => Plan::Set(Set::new(
            args,
            SetOpts {
                get: true,
                ..SetOpts::default()
            },
        )),
        Cmd::GetEx => Plan::GetEx(GetEx::parse(args, now)?),
        Cmd::MSetNx => {
            if args.len() % 2 != 1 {
                return Err(reply::wrong_args("msetnx"));
            }
            Plan::MSetNx(MSetNx {
                pairs: args[1..].to_vec(),
                read: 0,
                written: 0,
            })
        }
        Cmd::Append | Cmd::SetRange => Plan::Edit(Edit::parse(cmd, args)?),
        Cmd::StrLen | Cmd::GetRange => Plan::Measure(Measure::parse(cmd, args)?),
        Cmd::IncrByFloat => Plan::IncrFloat(IncrFloat {
            key: key(),
            by: parse_float(&args[2]).ok_or_else(|| reply::error_bytes(E_FLOAT))?,
            new: Bytes::new(),
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
            // The key moves to the read: a plan only reads it once, and a
            // clone is an atomic increment and decrement per GET.
            Input::Start => Step::ReadValue(std::mem::take(&mut self.key)),
            input => {
                // The read went through the quorum (see Step::ReadValue).
                let e = match read_string(input, cx.now) {
                    Ok(e) => e,
                    Err(wrong) => return wrong,
                };
                Step::Value(e.and_then(|e| e.value))
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
    /// Reply :1 when written and :0 when not (SETNX), not +OK / nil.
    flag: bool,
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
    /// SET-like commands with the key at 1 and the value at 2.
    fn new(args: &[Bytes], opts: SetOpts) -> Self {
        Set {
            key: args[1].clone(),
            value: args[2].clone(),
            opts,
            old: None,
        }
    }

    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        let o = &self.opts;
        match input {
            Input::Start if o.nx || o.xx || o.get || o.keepttl => Step::Read(self.key.clone()),
            Input::Start => self.write(None, cx),
            Input::Wrote if o.get => Step::Reply(self.old_value(cx.proto)),
            Input::Wrote if o.flag => Step::Reply(reply::integer(1)),
            Input::Wrote => Step::Reply(reply::ok()),
            input => {
                let cur = read_live(input, cx.now);
                // SET ... GET reads the old value, which must be a string.
                if o.get && cur.as_ref().is_some_and(|e| e.kind != Kind::String) {
                    return Step::Reply(reply::wrongtype());
                }
                if (o.nx && cur.is_some()) || (o.xx && cur.is_none()) {
                    self.old = cur;
                    return Step::Reply(if o.get {
                        self.old_value(cx.proto)
                    } else if o.flag {
                        reply::integer(0)
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
            input => match read_string(input, cx.now) {
                Err(wrong) => wrong,
                Ok(Some(e)) => {
                    self.old = Some(e.value.unwrap_or_default());
                    Step::Write(self.key.clone(), cx.tombstone())
                }
                Ok(None) => Step::Reply(reply::bulk_or_null(cx.proto, None)),
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
                let cur = match read_string(input, cx.now) {
                    Ok(e) => e,
                    Err(wrong) => return wrong,
                };
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
            // MGET answers nil for a key of another type, as Redis does.
            let e = read_live(input, cx.now).filter(|e| e.kind == Kind::String);
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

/// SETEX key seconds value, PSETEX key milliseconds value: SET with EX/PX,
/// the expiry checked as Redis does (an integer, then positive).
fn setex(cmd: Cmd, args: &[Bytes], now: Micros) -> Result<Set, Bytes> {
    let (name, unit) = if cmd == Cmd::SetEx {
        ("setex", 1_000_000)
    } else {
        ("psetex", 1_000)
    };
    let n = parse_i64(&args[2]).ok_or_else(|| reply::error_bytes(E_INT))?;
    let invalid = || reply::error(&format!("ERR invalid expire time in '{name}' command"));
    if n <= 0 {
        return Err(invalid());
    }
    let at = (n as u64)
        .checked_mul(unit)
        .and_then(|d| d.checked_add(now))
        .ok_or_else(invalid)?;
    Ok(Set {
        key: args[1].clone(),
        value: args[3].clone(),
        opts: SetOpts {
            expires_at: Some(at),
            ..SetOpts::default()
        },
        old: None,
    })
}

/// What GETEX does to the expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NewExpiry {
    /// Nothing: GETEX is a GET.
    Keep,
    /// PERSIST.
    Remove,
    /// EX/PX/EXAT/PXAT, absolute model microseconds (may be past).
    At(Micros),
}

/// GETEX key [EX s | PX ms | EXAT ts | PXAT ts | PERSIST]: a read, then a
/// write of the same value when the expiry changes (a tombstone when the
/// new expiry is already past, as Redis deletes the key).
#[derive(Debug, Clone)]
pub struct GetEx {
    key: Bytes,
    expiry: NewExpiry,
    old: Option<Bytes>,
}

impl GetEx {
    fn parse(args: &[Bytes], now: Micros) -> Result<Self, Bytes> {
        let mut expiry = NewExpiry::Keep;
        let mut i = 2;
        while i < args.len() {
            let opt = args[i].to_ascii_uppercase();
            let has_value = i + 1 < args.len();
            match &opt[..] {
                b"PERSIST" if expiry == NewExpiry::Keep => expiry = NewExpiry::Remove,
                b"EX" | b"PX" | b"EXAT" | b"PXAT" if expiry == NewExpiry::Keep && has_value => {
                    i += 1;
                    expiry = NewExpiry::At(getex_time(&opt, &args[i], now)?);
                }
                _ => return Err(reply::error_bytes(E_SYNTAX)),
            }
            i += 1;
        }
        Ok(Self {
            key: args[1].clone(),
            expiry,
            old: None,
        })
    }

    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        match input {
            Input::Start => return Step::Read(self.key.clone()),
            Input::Wrote => return Step::Reply(reply::bulk_or_null(cx.proto, self.old.as_deref())),
            _ => {}
        }
        let Some(mut e) = (match read_string(input, cx.now) {
            Ok(e) => e,
            Err(wrong) => return wrong,
        }) else {
            return Step::Reply(reply::bulk_or_null(cx.proto, None));
        };
        self.old = e.value.clone();
        let at = match self.expiry {
            NewExpiry::Keep => {
                return Step::Reply(reply::bulk_or_null(cx.proto, self.old.as_deref()));
            }
            NewExpiry::Remove if e.expires_at.is_none() => {
                return Step::Reply(reply::bulk_or_null(cx.proto, self.old.as_deref()));
            }
            NewExpiry::Remove => None,
            NewExpiry::At(t) if t <= cx.now => {
                return Step::Write(self.key.clone(), cx.tombstone());
            }
            NewExpiry::At(t) => Some(t),
        };
        e.expires_at = at;
        e.version = cx.next_version();
        Step::Write(self.key.clone(), e)
    }
}

/// GETEX's expiry argument as an absolute time, or Redis's error.
fn getex_time(opt: &[u8], arg: &[u8], now: Micros) -> Result<Micros, Bytes> {
    let n = parse_i64(arg).ok_or_else(|| reply::error_bytes(E_INT))?;
    let invalid = || reply::error("ERR invalid expire time in 'getex' command");
    if n <= 0 {
        return Err(invalid());
    }
    let n = n as u64;
    match opt {
        b"EX" => n.checked_mul(1_000_000).and_then(|d| d.checked_add(now)),
        b"PX" => n.checked_mul(1_000).and_then(|d| d.checked_add(now)),
        b"EXAT" => n.checked_mul(1_000_000),
        _ => n.checked_mul(1_000),
    }
    .ok_or_else(invalid)
}

/// MSETNX: a read of every key, then, only if none is live, a write of
/// every pair. Like MSET it is not atomic across coordinators: a key
/// written elsewhere between the reads and the writes is overwritten.
#[derive(Debug, Clone)]
pub struct MSetNx {
    pairs: Vec<Bytes>,
    /// Keys read so far (all absent).
    read: usize,
    /// Pairs written so far.
    written: usize,
}

impl MSetNx {
    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        let keys = self.pairs.len() / 2;
        match input {
            Input::Start => {}
            Input::Wrote => self.written += 1,
            input => {
                if read_live(input, cx.now).is_some() {
                    return Step::Reply(reply::integer(0));
                }
                self.read += 1;
            }
        }
        if self.read < keys {
            return Step::Read(self.pairs[self.read * 2].clone());
        }
        if self.written < keys {
            let i = self.written * 2;
            let entry = cx.value(self.pairs[i + 1].clone(), None);
            return Step::Write(self.pairs[i].clone(), entry);
        }
        Step::Reply(reply::integer(1))
    }
}

/// APPEND key value and SETRANGE key offset value: a read, then a write of
/// the changed string keeping its expiry; the reply is the new length.
#[derive(Debug, Clone)]
pub struct Edit {
    key: Bytes,
    /// SETRANGE's offset; None for APPEND (at the end).
    offset: Option<u64>,
    value: Bytes,
    len: i64,
}

impl Edit {
    fn parse(cmd: Cmd, args: &[Bytes]) -> Result<Self, Bytes> {
        let (offset, value) = if cmd == Cmd::Append {
            (None, args[2].clone())
        } else {
            let n = parse_i64(&args[2]).ok_or_else(|| reply::error_bytes(E_INT))?;
            if n < 0 {
                return Err(reply::error("ERR offset is out of range"));
            }
            (Some(n as u64), args[3].clone())
        };
        // An empty value writes nothing, so no offset is too large for it.
        if !value.is_empty() && offset.unwrap_or(0) + value.len() as u64 > MAX_STRING {
            return Err(reply::error(
                "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
            ));
        }
        Ok(Self {
            key: args[1].clone(),
            offset,
            value,
            len: 0,
        })
    }

    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        match input {
            Input::Start => return Step::Read(self.key.clone()),
            Input::Wrote => return Step::Reply(reply::integer(self.len)),
            _ => {}
        }
        let cur = match read_string(input, cx.now) {
            Ok(e) => e,
            Err(wrong) => return wrong,
        };
        let (old, expires_at) = match &cur {
            Some(e) => (e.value.clone().unwrap_or_default(), e.expires_at),
            None => (Bytes::new(), None),
        };
        // Redis writes nothing for an empty SETRANGE value (nor creates the
        // key); it only answers the current length.
        if self.offset.is_some() && self.value.is_empty() {
            return Step::Reply(reply::integer(old.len() as i64));
        }
        let at = self.offset.map_or(old.len(), |o| o as usize);
        let mut new = old.to_vec();
        if new.len() < at + self.value.len() {
            new.resize(at + self.value.len(), 0);
        }
        new[at..at + self.value.len()].copy_from_slice(&self.value);
        if self.offset.is_none() && new.len() as u64 > MAX_STRING {
            return Step::Reply(reply::error(
                "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
            ));
        }
        self.len = new.len() as i64;
        let entry = cx.value(Bytes::from(new), expires_at);
        Step::Write(self.key.clone(), entry)
    }
}

/// STRLEN key and GETRANGE key start end: one read.
#[derive(Debug, Clone)]
pub struct Measure {
    key: Bytes,
    /// GETRANGE's start and end; None for STRLEN.
    range: Option<(i64, i64)>,
}

impl Measure {
    fn parse(cmd: Cmd, args: &[Bytes]) -> Result<Self, Bytes> {
        let range = if cmd == Cmd::GetRange {
            let int = |b: &Bytes| parse_i64(b).ok_or_else(|| reply::error_bytes(E_INT));
            Some((int(&args[2])?, int(&args[3])?))
        } else {
            None
        };
        Ok(Self {
            key: args[1].clone(),
            range,
        })
    }

    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        if input == Input::Start {
            return Step::Read(self.key.clone());
        }
        let value = match read_string(input, cx.now) {
            Ok(e) => e.and_then(|e| e.value).unwrap_or_default(),
            Err(wrong) => return wrong,
        };
        Step::Reply(match self.range {
            None => reply::integer(value.len() as i64),
            Some((start, end)) => reply::with(|o| write_bulk(o, substr(&value, start, end))),
        })
    }
}

/// GETRANGE's slice, with Redis's rules for negative and outlying indexes.
fn substr(s: &[u8], start: i64, end: i64) -> &[u8] {
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return &[];
    }
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end }.max(0).min(len - 1);
    if start > end || len == 0 {
        return &[];
    }
    &s[start as usize..=end as usize]
}

/// A float as Redis reads one for INCRBYFLOAT: no spaces, finite.
pub(crate) fn parse_float(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    // Rust reads "inf" and "nan" as numbers; Redis refuses them.
    if lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    s.parse().ok()
}

/// INCRBYFLOAT: read, add, write (keeping the expiry). Redis computes in
/// long double; this is f64, printed in the shortest form that reads back
/// (so 0.1 + 0.2 gives "0.30000000000000004" where Redis gives "0.3").
#[derive(Debug, Clone)]
pub struct IncrFloat {
    key: Bytes,
    by: f64,
    new: Bytes,
}

impl IncrFloat {
    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        match input {
            Input::Start => return Step::Read(self.key.clone()),
            // A bulk string in RESP3 too: Redis 7 does not send a double.
            Input::Wrote => return Step::Reply(reply::with(|o| write_bulk(o, &self.new))),
            _ => {}
        }
        let cur = match read_string(input, cx.now) {
            Ok(e) => e,
            Err(wrong) => return wrong,
        };
        let (old, expires_at) = match &cur {
            None => (0.0, None),
            Some(e) => match parse_float(e.value.as_deref().unwrap_or_default()) {
                Some(v) => (v, e.expires_at),
                None => return Step::Reply(reply::error_bytes(E_FLOAT)),
            },
        };
        let new = old + self.by;
        if !new.is_finite() {
            return Step::Reply(reply::error("ERR increment would produce NaN or Infinity"));
        }
        self.new = Bytes::from(format_float(new));
        let entry = cx.value(self.new.clone(), expires_at);
        Step::Write(self.key.clone(), entry)
    }
}

/// A float as Redis prints INCRBYFLOAT's result: no exponent, no trailing
/// zeros, integers without a point.
pub(crate) fn format_float(v: f64) -> String {
    let s = format!("{v}");
    if s == "-0" { "0".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrange_follows_redis_index_rules() {
        let s = b"Hello World";
        assert_eq!(substr(s, 0, 4), b"Hello");
        assert_eq!(substr(s, -3, -1), b"rld");
        assert_eq!(substr(s, 0, -1), s);
        assert_eq!(substr(s, 10, 100), b"d");
        assert_eq!(substr(s, 5, 3), b"");
        assert_eq!(substr(s, -1, -5), b"");
        assert_eq!(substr(s, -100, 2), b"Hel");
        assert_eq!(substr(b"", 0, -1), b"");
    }

    #[test]
    fn floats_read_and_print_like_redis() {
        assert_eq!(parse_float(b"1.5"), Some(1.5));
        assert_eq!(parse_float(b"5.0e3"), Some(5000.0));
        for bad in [&b""[..], b" 1", b"1 ", b"abc", b"inf", b"nan", b"-Infinity"] {
            assert_eq!(parse_float(bad), None, "{bad:?}");
        }
        assert_eq!(format_float(10.5), "10.5");
        assert_eq!(format_float(5000.0), "5000");
        assert_eq!(format_float(-0.0), "0");
        assert_eq!(format_float(1e20), "100000000000000000000");
    }
}
