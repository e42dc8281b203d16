//! Generic key commands: DEL/UNLINK, EXISTS/TOUCH, EXPIRE/PEXPIRE,
//! EXPIREAT/PEXPIREAT, TTL/PTTL, EXPIRETIME/PEXPIRETIME, PERSIST, TYPE,
//! RENAME/RENAMENX and COPY.
//!
//! RENAME, RENAMENX and COPY touch two keys, usually on different replicas:
//! they are quorum reads and then quorum writes (the destination first,
//! then, for a rename, a tombstone for the source), not one atomic step.
//! Racing with a write of either key through another coordinator, the
//! last writer wins key by key; a failure between the two writes of a
//! rename leaves the value under both names (retry it).

use bytes::Bytes;

use super::Cmd;
use super::plan::{Cx, Input, Plan, Step, read_live};
use super::reply::{self, E_INT, E_SYNTAX, clean, parse_i64};
use crate::clock::Micros;
use crate::protocol::resp::write_simple;
use crate::store::Entry;

/// Builds the plan of a key command, or its immediate reply.
pub fn build(cmd: Cmd, args: &[Bytes], now: Micros) -> Result<Plan, Bytes> {
    Ok(match cmd {
        Cmd::Del | Cmd::Unlink | Cmd::Exists | Cmd::Touch => Plan::Count(Count {
            keys: args[1..].to_vec(),
            delete: matches!(cmd, Cmd::Del | Cmd::Unlink),
            next: 0,
            count: 0,
            live: false,
        }),
        Cmd::Expire | Cmd::PExpire | Cmd::ExpireAt | Cmd::PExpireAt => {
            Plan::Expire(Expire::parse(cmd, args, now)?)
        }
        Cmd::Ttl | Cmd::PTtl | Cmd::ExpireTime | Cmd::PExpireTime => Plan::Ttl(Ttl {
            key: args[1].clone(),
            millis: matches!(cmd, Cmd::PTtl | Cmd::PExpireTime),
            absolute: matches!(cmd, Cmd::ExpireTime | Cmd::PExpireTime),
        }),
        Cmd::Type => Plan::Type(Type {
            key: args[1].clone(),
        }),
        Cmd::Rename | Cmd::RenameNx => Plan::Move(Move {
            from: args[1].clone(),
            to: args[2].clone(),
            kind: if cmd == Cmd::Rename {
                MoveKind::Rename
            } else {
                MoveKind::RenameNx
            },
            state: MoveState::Start,
        }),
        Cmd::Copy => Plan::Move(Move::copy(args)?),
        Cmd::Persist => Plan::Persist(Persist {
            key: args[1].clone(),
        }),
        other => unreachable!("{other:?} is not a key command"),
    })
}

/// DEL/UNLINK and EXISTS/TOUCH: a read per key; DEL and UNLINK then write
/// a tombstone whatever the read found, and count the keys that were live.
/// The tombstone is written even where the read found nothing: the read
/// asked only R replicas, and a replica it did not ask (or one that came
/// back empty after a restart and was not repaired yet) may still hold an
/// acknowledged value, which would otherwise come back through read repair
/// or anti-entropy after the delete was acknowledged (the nemesis found
/// it). As in Redis, EXISTS and TOUCH count a key given twice twice; DEL
/// counts it once (the second read finds the tombstone).
#[derive(Debug, Clone)]
pub struct Count {
    keys: Vec<Bytes>,
    delete: bool,
    /// The key the last read was of.
    next: usize,
    count: i64,
    /// Whether the key of the tombstone being written was live.
    live: bool,
}

impl Count {
    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        match input {
            Input::Start => {}
            Input::Wrote => {
                self.count += i64::from(self.live);
                self.next += 1;
            }
            input => {
                let live = read_live(input, cx.now).is_some();
                if self.delete {
                    self.live = live;
                    return Step::Write(self.keys[self.next].clone(), cx.tombstone());
                }
                self.count += i64::from(live);
                self.next += 1;
            }
        }
        match self.keys.get(self.next) {
            Some(k) => Step::Read(k.clone()),
            None => Step::Reply(reply::integer(self.count)),
        }
    }
}

/// EXPIRE and PEXPIRE with NX/XX/GT/LT.
#[derive(Debug, Clone)]
pub struct Expire {
    key: Bytes,
    /// The new expiry, model microseconds (may be in the past).
    at: i64,
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Expire {
    fn parse(cmd: Cmd, args: &[Bytes], now: Micros) -> Result<Self, Bytes> {
        let (name, unit, relative): (_, i64, _) = match cmd {
            Cmd::Expire => ("expire", 1_000_000, true),
            Cmd::PExpire => ("pexpire", 1_000, true),
            Cmd::ExpireAt => ("expireat", 1_000_000, false),
            _ => ("pexpireat", 1_000, false),
        };
        let n = parse_i64(&args[2]).ok_or_else(|| reply::error_bytes(E_INT))?;
        let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
        for a in &args[3..] {
            match &a.to_ascii_uppercase()[..] {
                b"NX" => nx = true,
                b"XX" => xx = true,
                b"GT" => gt = true,
                b"LT" => lt = true,
                other => {
                    return Err(reply::error(&format!(
                        "ERR Unsupported option {}",
                        clean(other)
                    )));
                }
            }
        }
        if nx && (xx || gt || lt) {
            return Err(reply::error(
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if gt && lt {
            return Err(reply::error(
                "ERR GT and LT options at the same time are not compatible",
            ));
        }
        let base = if relative { now as i64 } else { 0 };
        let Some(at) = n.checked_mul(unit).and_then(|d| d.checked_add(base)) else {
            return Err(reply::error(&format!(
                "ERR invalid expire time in '{name}' command"
            )));
        };
        Ok(Self {
            key: args[1].clone(),
            at,
            nx,
            xx,
            gt,
            lt,
        })
    }

    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        match input {
            Input::Start => return Step::Read(self.key.clone()),
            Input::Wrote => return Step::Reply(reply::integer(1)),
            _ => {}
        }
        let Some(mut e) = read_live(input, cx.now) else {
            return Step::Reply(reply::integer(0));
        };
        let cur = e.expires_at.map(|t| t as i64);
        let at = self.at;
        let allowed = match (self.nx, self.xx, self.gt, self.lt) {
            (true, ..) => cur.is_none(),
            (_, true, _, _) if cur.is_none() => false,
            (_, _, true, _) => cur.is_some_and(|c| at > c),
            (_, _, _, true) => cur.is_none_or(|c| at < c),
            _ => true,
        };
        if !allowed {
            return Step::Reply(reply::integer(0));
        }
        if at <= cx.now as i64 {
            return Step::Write(self.key.clone(), cx.tombstone());
        }
        e.expires_at = Some(at as Micros);
        e.version = cx.next_version();
        Step::Write(self.key.clone(), e)
    }
}

/// TTL, PTTL, EXPIRETIME and PEXPIRETIME: one read.
#[derive(Debug, Clone)]
pub struct Ttl {
    key: Bytes,
    millis: bool,
    /// The expiry as a Unix time (EXPIRETIME), not the time left.
    absolute: bool,
}

impl Ttl {
    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        if input == Input::Start {
            return Step::Read(self.key.clone());
        }
        let v = match read_live(input, cx.now) {
            None => -2,
            Some(Entry {
                expires_at: None, ..
            }) => -1,
            Some(Entry {
                expires_at: Some(t),
                ..
            }) => {
                let left = if self.absolute {
                    t
                } else {
                    t.saturating_sub(cx.now)
                };
                let ms = (left + 500) / 1000;
                let v = if self.millis { ms } else { (ms + 500) / 1000 };
                v.min(i64::MAX as u64) as i64
            }
        };
        Step::Reply(reply::integer(v))
    }
}

/// PERSIST: a read, then a write without the expiry if there was one.
#[derive(Debug, Clone)]
pub struct Persist {
    key: Bytes,
}

impl Persist {
    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        match input {
            Input::Start => Step::Read(self.key.clone()),
            Input::Wrote => Step::Reply(reply::integer(1)),
            input => match read_live(input, cx.now) {
                Some(mut e) if e.expires_at.is_some() => {
                    e.expires_at = None;
                    e.version = cx.next_version();
                    Step::Write(self.key.clone(), e)
                }
                _ => Step::Reply(reply::integer(0)),
            },
        }
    }
}

/// TYPE: one read; the entry's kind names the type.
#[derive(Debug, Clone)]
pub struct Type {
    key: Bytes,
}

impl Type {
    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        if input == Input::Start {
            return Step::Read(self.key.clone());
        }
        let t = read_live(input, cx.now).map_or("none", |e| e.kind.name());
        Step::Reply(reply::with(|o| write_simple(o, t.as_bytes())))
    }
}

/// Which of the two-key commands a [`Move`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveKind {
    /// RENAME: +OK, overwrites the destination.
    Rename,
    /// RENAMENX: :1, or :0 when the destination exists.
    RenameNx,
    /// COPY: :1, or :0 when the destination exists (unless REPLACE).
    Copy { replace: bool },
}

/// Where a [`Move`] is.
#[derive(Debug, Clone)]
pub enum MoveState {
    /// Nothing asked yet.
    Start,
    /// The source is being read.
    ReadFrom,
    /// The source was read; the destination is being read.
    ReadTo(Entry),
    /// The destination was written; for a rename the source's tombstone
    /// follows.
    WroteTo,
    /// Everything written.
    Done,
}

/// RENAME, RENAMENX, COPY: read the source (and, when it matters, the
/// destination), write the destination with the source's value and
/// expiry under a new version, then delete the source if renaming.
#[derive(Debug, Clone)]
pub struct Move {
    from: Bytes,
    to: Bytes,
    kind: MoveKind,
    state: MoveState,
}

impl Move {
    /// COPY source destination [DB 0] [REPLACE].
    fn copy(args: &[Bytes]) -> Result<Self, Bytes> {
        let mut replace = false;
        let mut i = 3;
        while i < args.len() {
            match &args[i].to_ascii_uppercase()[..] {
                b"REPLACE" => replace = true,
                b"DB" if i + 1 < args.len() => {
                    i += 1;
                    match parse_i64(&args[i]) {
                        Some(0) => {}
                        Some(_) => return Err(reply::error("ERR DB index is out of range")),
                        None => return Err(reply::error_bytes(E_INT)),
                    }
                }
                _ => return Err(reply::error_bytes(E_SYNTAX)),
            }
            i += 1;
        }
        if args[1] == args[2] {
            return Err(reply::error(
                "ERR source and destination objects are the same",
            ));
        }
        Ok(Self {
            from: args[1].clone(),
            to: args[2].clone(),
            kind: MoveKind::Copy { replace },
            state: MoveState::Start,
        })
    }

    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        let state = std::mem::replace(&mut self.state, MoveState::Done);
        match (state, input) {
            (MoveState::Start, _) => {
                self.state = MoveState::ReadFrom;
                Step::Read(self.from.clone())
            }
            (MoveState::ReadFrom, input) => match read_live(input, cx.now) {
                None if matches!(self.kind, MoveKind::Copy { .. }) => {
                    Step::Reply(reply::integer(0))
                }
                None => Step::Reply(reply::error("ERR no such key")),
                Some(_) if self.from == self.to => Step::Reply(self.success(false)),
                Some(src) if self.kind == MoveKind::Rename => self.write_to(src, cx),
                Some(src) => {
                    self.state = MoveState::ReadTo(src);
                    Step::Read(self.to.clone())
                }
            },
            (MoveState::ReadTo(src), input) => {
                let exists = read_live(input, cx.now).is_some();
                if exists && self.kind != (MoveKind::Copy { replace: true }) {
                    return Step::Reply(reply::integer(0));
                }
                self.write_to(src, cx)
            }
            (MoveState::WroteTo, _) if !matches!(self.kind, MoveKind::Copy { .. }) => {
                self.state = MoveState::Done;
                Step::Write(self.from.clone(), cx.tombstone())
            }
            (MoveState::WroteTo | MoveState::Done, _) => Step::Reply(self.success(true)),
        }
    }

    /// Writes the source's value and expiry under the destination.
    fn write_to(&mut self, src: Entry, cx: &mut Cx<'_>) -> Step {
        self.state = MoveState::WroteTo;
        let mut entry = cx.value(src.value.unwrap_or_default(), src.expires_at);
        entry.kind = src.kind;
        Step::Write(self.to.clone(), entry)
    }

    /// The reply when the command did its work (`moved`), or found the
    /// source and destination the same (RENAME: +OK, RENAMENX: :0).
    fn success(&self, moved: bool) -> Bytes {
        match self.kind {
            MoveKind::Rename => reply::ok(),
            _ => reply::integer(i64::from(moved)),
        }
    }
}
