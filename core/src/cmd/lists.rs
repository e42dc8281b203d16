//! List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP (with a count),
//! LLEN, LRANGE, LINDEX, LSET, LREM, LTRIM.
//!
//! A list is decoded into a `VecDeque`. Every change rewrites the whole
//! encoded list (O(length) per push), which suits lists of the sizes a
//! cache holds; how lists replicate, and what is not atomic, is in
//! [`super::coll`].

use std::collections::VecDeque;

use bytes::Bytes;

use super::Cmd;
use super::coll::{self, Coll, Outcome, index_range, int_arg, positive_count};
use super::plan::Plan;
use super::reply;
use crate::protocol::resp::{Proto, write_array_header, write_bulk, write_nil_array};

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

/// A list command, parsed.
#[derive(Debug, Clone)]
pub enum Op {
    /// LPUSH, RPUSH; LPUSHX, RPUSHX when `only_existing`.
    Push {
        end: End,
        items: Vec<Bytes>,
        only_existing: bool,
    },
    /// LPOP, RPOP, with the count if one was given.
    Pop { end: End, count: Option<u64> },
    /// LLEN.
    Len,
    /// LRANGE.
    Range(i64, i64),
    /// LINDEX.
    Index(i64),
    /// LSET.
    Set(i64, Bytes),
    /// LREM.
    Rem(i64, Bytes),
    /// LTRIM.
    Trim(i64, i64),
}

/// Builds the plan of a list command, or its immediate reply.
pub fn build(cmd: Cmd, args: &[Bytes]) -> Result<Plan, Bytes> {
    let end = if matches!(cmd, Cmd::LPush | Cmd::LPushX | Cmd::LPop) {
        End::Left
    } else {
        End::Right
    };
    let op = match cmd {
        Cmd::LPush | Cmd::RPush | Cmd::LPushX | Cmd::RPushX => Op::Push {
            end,
            items: args[2..].to_vec(),
            only_existing: matches!(cmd, Cmd::LPushX | Cmd::RPushX),
        },
        Cmd::LPop | Cmd::RPop => {
            if args.len() > 3 {
                return Err(reply::wrong_args(if end == End::Left {
                    "lpop"
                } else {
                    "rpop"
                }));
            }
            Op::Pop {
                end,
                count: args.get(2).map(|c| positive_count(c)).transpose()?,
            }
        }
        Cmd::LLen => Op::Len,
        Cmd::LRange => Op::Range(int_arg(&args[2])?, int_arg(&args[3])?),
        Cmd::LIndex => Op::Index(int_arg(&args[2])?),
        Cmd::LSet => Op::Set(int_arg(&args[2])?, args[3].clone()),
        Cmd::LRem => Op::Rem(int_arg(&args[2])?, args[3].clone()),
        Cmd::LTrim => Op::Trim(int_arg(&args[2])?, int_arg(&args[3])?),
        other => unreachable!("{other:?} is not a list command"),
    };
    Ok(Plan::Coll(Coll::new(args[1].clone(), coll::Op::List(op))))
}

/// What to store for `list`.
fn store(list: &VecDeque<Bytes>) -> coll::Write {
    coll::put(list.iter().map(|b| &b[..]))
}

/// An array reply of `items`.
fn array<'a>(items: impl ExactSizeIterator<Item = &'a Bytes>) -> Bytes {
    reply::with(|o| {
        write_array_header(o, items.len());
        for i in items {
            write_bulk(o, i);
        }
    })
}

/// The position of index `i` (negative from the end) in a list of `len`.
fn position(i: i64, len: usize) -> Option<usize> {
    let p = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&p).then_some(p as usize)
}

/// Runs `op` on the list `cur`.
pub fn apply(op: &Op, cur: Option<&Bytes>, proto: Proto) -> Outcome {
    let Some(items) = coll::items(cur) else {
        return Outcome::corrupt();
    };
    let mut list = VecDeque::from(items);
    let changed = |reply, list: &VecDeque<Bytes>| Outcome {
        reply,
        write: store(list),
    };
    match op {
        Op::Push {
            end,
            items,
            only_existing,
        } => {
            if *only_existing && cur.is_none() {
                return Outcome::read(reply::integer(0));
            }
            for i in items {
                match end {
                    End::Left => list.push_front(i.clone()),
                    End::Right => list.push_back(i.clone()),
                }
            }
            changed(reply::integer(list.len() as i64), &list)
        }
        Op::Pop { end, count } => {
            if cur.is_none() {
                return Outcome::read(match count {
                    Some(_) => reply::with(|o| write_nil_array(o, proto)),
                    None => reply::bulk_or_null(proto, None),
                });
            }
            let n = count.unwrap_or(1).min(list.len() as u64) as usize;
            let popped: Vec<Bytes> = match end {
                End::Left => list.drain(..n).collect(),
                End::Right => list.drain(list.len() - n..).rev().collect(),
            };
            let r = match count {
                Some(_) => array(popped.iter()),
                None => reply::bulk_or_null(proto, popped.first().map(|b| &b[..])),
            };
            if n == 0 {
                return Outcome::read(r);
            }
            changed(r, &list)
        }
        Op::Len => Outcome::read(reply::integer(list.len() as i64)),
        Op::Range(start, stop) => Outcome::read(match index_range(*start, *stop, list.len()) {
            Some((a, b)) => array(list.range(a..=b)),
            None => array([].iter()),
        }),
        Op::Index(i) => {
            let v = position(*i, list.len()).map(|p| &list[p][..]);
            Outcome::read(reply::bulk_or_null(proto, v))
        }
        Op::Set(i, v) => {
            if cur.is_none() {
                return Outcome::read(reply::error("ERR no such key"));
            }
            let Some(p) = position(*i, list.len()) else {
                return Outcome::read(reply::error("ERR index out of range"));
            };
            list[p] = v.clone();
            changed(reply::ok(), &list)
        }
        Op::Rem(count, v) => {
            let limit = if *count == 0 {
                usize::MAX
            } else {
                count.unsigned_abs() as usize
            };
            let mut removed = 0;
            let mut kept: VecDeque<Bytes> = VecDeque::with_capacity(list.len());
            if *count < 0 {
                for item in list.into_iter().rev() {
                    if removed < limit && item == *v {
                        removed += 1;
                    } else {
                        kept.push_front(item);
                    }
                }
            } else {
                for item in list {
                    if removed < limit && item == *v {
                        removed += 1;
                    } else {
                        kept.push_back(item);
                    }
                }
            }
            if removed == 0 {
                return Outcome::read(reply::integer(0));
            }
            changed(reply::integer(removed as i64), &kept)
        }
        Op::Trim(start, stop) => {
            let len = list.len();
            let kept: VecDeque<Bytes> = match index_range(*start, *stop, len) {
                Some((a, b)) => list.range(a..=b).cloned().collect(),
                None => VecDeque::new(),
            };
            if kept.len() == len {
                return Outcome::read(reply::ok());
            }
            changed(reply::ok(), &kept)
        }
    }
}
