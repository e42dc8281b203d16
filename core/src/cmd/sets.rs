//! Set commands: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP,
//! SRANDMEMBER.
//!
//! A set is decoded into a `BTreeSet`, so SMEMBERS answers in member order
//! (Redis's order is unspecified). SPOP and SRANDMEMBER draw from the
//! machine's seeded RNG ([`Cx::rng`]), so a run is the same on every
//! engine. How sets replicate, and what is not atomic, is in
//! [`super::coll`].

use std::collections::BTreeSet;

use bytes::Bytes;
use rand::Rng;

use super::Cmd;
use super::coll::{self, Coll, Outcome, int_arg, positive_count};
use super::plan::{Cx, Plan};
use super::reply;
use crate::protocol::resp::{
    Proto, write_array_header, write_bulk, write_integer, write_set_header,
};

/// A set command, parsed.
#[derive(Debug, Clone)]
pub enum Op {
    /// SADD.
    Add(Vec<Bytes>),
    /// SREM.
    Rem(Vec<Bytes>),
    /// SMEMBERS.
    Members,
    /// SISMEMBER (one member) and SMISMEMBER (an array answer).
    IsMember { members: Vec<Bytes>, many: bool },
    /// SCARD.
    Card,
    /// SPOP, with the count if one was given.
    Pop(Option<u64>),
    /// SRANDMEMBER, with the count if one was given (negative: repeats
    /// allowed).
    RandMember(Option<i64>),
}

/// The most members SRANDMEMBER with a negative count answers (a limit of
/// ringlab's; Redis has none).
const MAX_REPEATS: i64 = 1 << 24;

/// Builds the plan of a set command, or its immediate reply.
pub fn build(cmd: Cmd, args: &[Bytes]) -> Result<Plan, Bytes> {
    let op = match cmd {
        Cmd::SAdd => Op::Add(args[2..].to_vec()),
        Cmd::SRem => Op::Rem(args[2..].to_vec()),
        Cmd::SMembers => Op::Members,
        Cmd::SIsMember | Cmd::SMIsMember => Op::IsMember {
            members: args[2..].to_vec(),
            many: cmd == Cmd::SMIsMember,
        },
        Cmd::SCard => Op::Card,
        Cmd::SPop | Cmd::SRandMember => {
            if args.len() > 3 {
                return Err(reply::error_bytes(reply::E_SYNTAX));
            }
            match (cmd, args.get(2)) {
                (Cmd::SPop, c) => Op::Pop(c.map(|c| positive_count(c)).transpose()?),
                (_, c) => {
                    let count = c.map(|c| int_arg(c)).transpose()?;
                    // Repeats are made one by one: a count this large
                    // would only exhaust the node's memory.
                    if count.is_some_and(|n| n < -MAX_REPEATS) {
                        return Err(reply::error("ERR value is out of range"));
                    }
                    Op::RandMember(count)
                }
            }
        }
        other => unreachable!("{other:?} is not a set command"),
    };
    Ok(Plan::Coll(Coll::new(args[1].clone(), coll::Op::Set(op))))
}

/// An array (or, with `set`, a set in that protocol) reply of `members`.
fn members<'a>(items: impl ExactSizeIterator<Item = &'a Bytes>, set: Option<Proto>) -> Bytes {
    reply::with(|o| {
        match set {
            Some(proto) => write_set_header(o, proto, items.len()),
            None => write_array_header(o, items.len()),
        }
        for m in items {
            write_bulk(o, m);
        }
    })
}

/// Runs `op` on the set `cur`.
pub fn apply(op: &Op, cur: Option<&Bytes>, cx: &mut Cx<'_>) -> Outcome {
    let Some(items) = coll::items(cur) else {
        return Outcome::corrupt();
    };
    let mut set: BTreeSet<Bytes> = items.into_iter().collect();
    let changed = |reply, set: &BTreeSet<Bytes>| Outcome {
        reply,
        write: coll::put(set.iter().map(|b| &b[..])),
    };
    match op {
        Op::Add(new) => {
            let added = new.iter().filter(|m| set.insert((*m).clone())).count();
            if added == 0 {
                return Outcome::read(reply::integer(0));
            }
            changed(reply::integer(added as i64), &set)
        }
        Op::Rem(gone) => {
            let removed = gone.iter().filter(|m| set.remove(*m)).count();
            if removed == 0 {
                return Outcome::read(reply::integer(0));
            }
            changed(reply::integer(removed as i64), &set)
        }
        Op::Members => Outcome::read(members(set.iter(), Some(cx.proto))),
        Op::IsMember {
            members: ms,
            many: false,
        } => Outcome::read(reply::integer(i64::from(set.contains(&ms[0])))),
        Op::IsMember { members: ms, .. } => Outcome::read(reply::with(|o| {
            write_array_header(o, ms.len());
            for m in ms {
                write_integer(o, i64::from(set.contains(m)));
            }
        })),
        Op::Card => Outcome::read(reply::integer(set.len() as i64)),
        Op::Pop(count) => {
            let n = count.unwrap_or(1).min(set.len() as u64) as usize;
            let all: Vec<Bytes> = set.iter().cloned().collect();
            let picked: Vec<Bytes> = rand::seq::index::sample(cx.rng, all.len(), n)
                .into_iter()
                .map(|i| all[i].clone())
                .collect();
            for m in &picked {
                set.remove(m);
            }
            let r = match count {
                Some(_) => members(picked.iter(), Some(cx.proto)),
                None => reply::bulk_or_null(cx.proto, picked.first().map(|b| &b[..])),
            };
            if n == 0 {
                return Outcome::read(r);
            }
            changed(r, &set)
        }
        Op::RandMember(None) => {
            let pick = (!set.is_empty())
                .then(|| set.iter().nth(cx.rng.random_range(0..set.len())))
                .flatten();
            Outcome::read(reply::bulk_or_null(cx.proto, pick.map(|b| &b[..])))
        }
        Op::RandMember(Some(count)) => {
            let all: Vec<&Bytes> = set.iter().collect();
            let picked: Vec<&Bytes> = if all.is_empty() {
                Vec::new()
            } else if *count >= 0 {
                let n = (*count as u64).min(all.len() as u64) as usize;
                rand::seq::index::sample(cx.rng, all.len(), n)
                    .into_iter()
                    .map(|i| all[i])
                    .collect()
            } else {
                (0..count.unsigned_abs())
                    .map(|_| all[cx.rng.random_range(0..all.len())])
                    .collect()
            };
            Outcome::read(members(picked.into_iter(), None))
        }
    }
}
