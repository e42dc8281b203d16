//! Hash commands: HSET, HMSET, HSETNX, HGET, HMGET, HGETALL, HDEL, HEXISTS,
//! HLEN, HKEYS, HVALS, HSTRLEN, HINCRBY, HINCRBYFLOAT.
//!
//! A hash is decoded into a `BTreeMap` of field to value, so HGETALL,
//! HKEYS and HVALS answer in field order (Redis's order is unspecified).
//! How hashes replicate, and what is not atomic, is in [`super::coll`].

use std::collections::BTreeMap;

use bytes::Bytes;

use super::Cmd;
use super::coll::{self, Coll, Outcome, Write, int_arg};
use super::plan::Plan;
use super::reply::{self, parse_i64};
use super::strings::{format_float, parse_float};
use crate::protocol::resp::{Proto, write_array_header, write_bulk, write_map_header, write_nil};

/// A hash command, parsed.
#[derive(Debug, Clone)]
pub enum Op {
    /// HSET/HMSET: the pairs; `ok` answers +OK (HMSET), else the count of
    /// new fields.
    Set { pairs: Vec<Bytes>, ok: bool },
    /// HSETNX.
    SetNx { field: Bytes, value: Bytes },
    /// HGET.
    Get(Bytes),
    /// HMGET.
    MGet(Vec<Bytes>),
    /// HGETALL, HKEYS, HVALS: which halves of the pairs to answer.
    All { fields: bool, values: bool },
    /// HDEL.
    Del(Vec<Bytes>),
    /// HEXISTS.
    Exists(Bytes),
    /// HLEN.
    Len,
    /// HSTRLEN.
    StrLen(Bytes),
    /// HINCRBY.
    IncrBy { field: Bytes, by: i64 },
    /// HINCRBYFLOAT.
    IncrByFloat { field: Bytes, by: f64 },
}

/// Builds the plan of a hash command, or its immediate reply.
pub fn build(cmd: Cmd, args: &[Bytes]) -> Result<Plan, Bytes> {
    let field = || args[2].clone();
    let op = match cmd {
        Cmd::HSet | Cmd::HMSet => {
            if !args.len().is_multiple_of(2) {
                return Err(reply::wrong_args(if cmd == Cmd::HSet {
                    "hset"
                } else {
                    "hmset"
                }));
            }
            Op::Set {
                pairs: args[2..].to_vec(),
                ok: cmd == Cmd::HMSet,
            }
        }
        Cmd::HSetNx => Op::SetNx {
            field: field(),
            value: args[3].clone(),
        },
        Cmd::HGet => Op::Get(field()),
        Cmd::HMGet => Op::MGet(args[2..].to_vec()),
        Cmd::HGetAll => Op::All {
            fields: true,
            values: true,
        },
        Cmd::HKeys => Op::All {
            fields: true,
            values: false,
        },
        Cmd::HVals => Op::All {
            fields: false,
            values: true,
        },
        Cmd::HDel => Op::Del(args[2..].to_vec()),
        Cmd::HExists => Op::Exists(field()),
        Cmd::HLen => Op::Len,
        Cmd::HStrLen => Op::StrLen(field()),
        Cmd::HIncrBy => Op::IncrBy {
            field: field(),
            by: int_arg(&args[3])?,
        },
        Cmd::HIncrByFloat => Op::IncrByFloat {
            field: field(),
            by: parse_float(&args[3])
                .ok_or_else(|| reply::error("ERR value is not a valid float"))?,
        },
        other => unreachable!("{other:?} is not a hash command"),
    };
    Ok(Plan::Coll(Coll::new(args[1].clone(), coll::Op::Hash(op))))
}

/// Decodes a hash: field, value, field, value...
fn decode(cur: Option<&Bytes>) -> Option<BTreeMap<Bytes, Bytes>> {
    let items = coll::items(cur)?;
    if items.len() % 2 != 0 {
        return None;
    }
    let mut it = items.into_iter();
    let mut map = BTreeMap::new();
    while let (Some(f), Some(v)) = (it.next(), it.next()) {
        map.insert(f, v);
    }
    Some(map)
}

/// What to store for `map`.
fn store(map: &BTreeMap<Bytes, Bytes>) -> Write {
    let items: Vec<&[u8]> = map.iter().flat_map(|(f, v)| [&f[..], &v[..]]).collect();
    coll::put(items.into_iter())
}

/// Runs `op` on the hash `cur`.
pub fn apply(op: &Op, cur: Option<&Bytes>, proto: Proto) -> Outcome {
    let Some(mut map) = decode(cur) else {
        return Outcome::corrupt();
    };
    let changed = |reply, map: &BTreeMap<Bytes, Bytes>| Outcome {
        reply,
        write: store(map),
    };
    match op {
        Op::Set { pairs, ok } => {
            let mut added = 0;
            for p in pairs.chunks_exact(2) {
                added += i64::from(map.insert(p[0].clone(), p[1].clone()).is_none());
            }
            let r = if *ok {
                reply::ok()
            } else {
                reply::integer(added)
            };
            changed(r, &map)
        }
        Op::SetNx { field, value } => {
            if map.contains_key(field) {
                return Outcome::read(reply::integer(0));
            }
            map.insert(field.clone(), value.clone());
            changed(reply::integer(1), &map)
        }
        Op::Get(f) => Outcome::read(reply::bulk_or_null(proto, map.get(f).map(|v| &v[..]))),
        Op::MGet(fields) => Outcome::read(reply::with(|o| {
            write_array_header(o, fields.len());
            for f in fields {
                match map.get(f) {
                    Some(v) => write_bulk(o, v),
                    None => write_nil(o, proto),
                }
            }
        })),
        Op::All { fields, values } => Outcome::read(reply::with(|o| {
            if *fields && *values {
                write_map_header(o, proto, map.len());
            } else {
                write_array_header(o, map.len());
            }
            for (f, v) in &map {
                if *fields {
                    write_bulk(o, f);
                }
                if *values {
                    write_bulk(o, v);
                }
            }
        })),
        Op::Del(fields) => {
            let removed = fields.iter().filter(|f| map.remove(*f).is_some()).count();
            if removed == 0 {
                return Outcome::read(reply::integer(0));
            }
            changed(reply::integer(removed as i64), &map)
        }
        Op::Exists(f) => Outcome::read(reply::integer(i64::from(map.contains_key(f)))),
        Op::Len => Outcome::read(reply::integer(map.len() as i64)),
        Op::StrLen(f) => Outcome::read(reply::integer(map.get(f).map_or(0, |v| v.len() as i64))),
        Op::IncrBy { field, by } => {
            let old = match map.get(field) {
                None => 0,
                Some(v) => match parse_i64(v) {
                    Some(n) => n,
                    None => return Outcome::read(reply::error("ERR hash value is not an integer")),
                },
            };
            let Some(new) = old.checked_add(*by) else {
                return Outcome::read(reply::error("ERR increment or decrement would overflow"));
            };
            map.insert(field.clone(), Bytes::from(new.to_string()));
            changed(reply::integer(new), &map)
        }
        Op::IncrByFloat { field, by } => {
            let old = match map.get(field) {
                None => 0.0,
                Some(v) => match parse_float(v) {
                    Some(n) => n,
                    None => return Outcome::read(reply::error("ERR hash value is not a float")),
                },
            };
            let new = old + by;
            if !new.is_finite() {
                return Outcome::read(reply::error("ERR increment would produce NaN or Infinity"));
            }
            let text = Bytes::from(format_float(new));
            let r = reply::with(|o| write_bulk(o, &text));
            map.insert(field.clone(), text);
            changed(r, &map)
        }
    }
}
