//! Generic key commands: DEL, EXISTS, EXPIRE/PEXPIRE, TTL/PTTL, PERSIST.

use bytes::Bytes;

use super::Cmd;
use super::plan::{Cx, Input, Plan, Step, read_live};
use super::reply::{self, E_INT, clean, parse_i64};
use crate::clock::Micros;
use crate::store::Entry;

/// Builds the plan of a key command, or its immediate reply.
pub fn build(cmd: Cmd, args: &[Bytes], now: Micros) -> Result<Plan, Bytes> {
    Ok(match cmd {
        Cmd::Del | Cmd::Exists => Plan::Count(Count {
            keys: args[1..].to_vec(),
            delete: cmd == Cmd::Del,
            next: 0,
            count: 0,
        }),
        Cmd::Expire | Cmd::PExpire => Plan::Expire(Expire::parse(cmd, args, now)?),
        Cmd::Ttl | Cmd::PTtl => Plan::Ttl(Ttl {
            key: args[1].clone(),
            millis: cmd == Cmd::PTtl,
        }),
        Cmd::Persist => Plan::Persist(Persist {
            key: args[1].clone(),
        }),
        other => unreachable!("{other:?} is not a key command"),
    })
}

/// DEL and EXISTS: a read per key; DEL writes a tombstone where a value was.
#[derive(Debug, Clone)]
pub struct Count {
    keys: Vec<Bytes>,
    delete: bool,
    /// The key the last read was of.
    next: usize,
    count: i64,
}

impl Count {
    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        match input {
            Input::Start => {}
            Input::Wrote => {
                self.count += 1;
                self.next += 1;
            }
            input => {
                let live = read_live(input, cx.now).is_some();
                if live && self.delete {
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
        let name = if cmd == Cmd::Expire {
            "expire"
        } else {
            "pexpire"
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
        let unit: i64 = if cmd == Cmd::Expire { 1_000_000 } else { 1_000 };
        let Some(at) = n.checked_mul(unit).and_then(|d| d.checked_add(now as i64)) else {
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

/// TTL and PTTL: one read.
#[derive(Debug, Clone)]
pub struct Ttl {
    key: Bytes,
    millis: bool,
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
                let ms = (t.saturating_sub(cx.now) + 500) / 1000;
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
