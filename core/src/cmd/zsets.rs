//! Sorted set commands: ZADD (NX/XX/GT/LT/CH/INCR), ZINCRBY, ZSCORE,
//! ZMSCORE, ZREM, ZCARD, ZRANGE (index, BYSCORE, BYLEX; REV, LIMIT,
//! WITHSCORES), ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZREVRANGE, ZRANK,
//! ZREVRANK, ZCOUNT, ZPOPMIN, ZPOPMAX.
//!
//! A sorted set is decoded into a `BTreeMap` of member to score; ranges
//! sort it by (score, member), Redis's order. Scores print as Redis 7.0
//! prints them (`%.17g`), as RESP3 doubles where Redis sends doubles. How
//! sorted sets replicate, and what is not atomic, is in [`super::coll`].

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::{Bytes, BytesMut};

use super::Cmd;
use super::coll::{
    self, Coll, Outcome, int_arg, parse_double, positive_count, write_double, write_double_or_nil,
};
use super::plan::Plan;
use super::reply::{self, E_SYNTAX};
use crate::protocol::resp::{Proto, write_array_header, write_bulk};

/// ZADD's options.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What a range selects.
#[derive(Debug, Clone)]
pub enum Range {
    /// Ranks, inclusive, negative from the end.
    Index(i64, i64),
    /// Scores between the bounds.
    Score(Bound<f64>, Bound<f64>),
    /// Members between the bounds (all scores equal, as BYLEX assumes).
    Lex(Bound<Bytes>, Bound<Bytes>),
}

/// A range query.
#[derive(Debug, Clone)]
pub struct Query {
    range: Range,
    rev: bool,
    /// LIMIT offset count (count < 0: all).
    limit: Option<(i64, i64)>,
    scores: bool,
}

/// A sorted set command, parsed.
#[derive(Debug, Clone)]
pub enum Op {
    /// ZADD, and ZINCRBY (`incr` set).
    Add {
        flags: AddFlags,
        pairs: Vec<(f64, Bytes)>,
    },
    /// ZSCORE (one member) and ZMSCORE (an array answer).
    Score { members: Vec<Bytes>, many: bool },
    /// ZREM.
    Rem(Vec<Bytes>),
    /// ZCARD.
    Card,
    /// ZRANGE and its older forms.
    Range(Query),
    /// ZRANK, ZREVRANK.
    Rank { member: Bytes, rev: bool },
    /// ZCOUNT.
    Count(Bound<f64>, Bound<f64>),
    /// ZPOPMIN, ZPOPMAX, with the count if one was given.
    Pop { max: bool, count: Option<u64> },
}

/// Builds the plan of a sorted set command, or its immediate reply.
pub fn build(cmd: Cmd, args: &[Bytes]) -> Result<Plan, Bytes> {
    let op = match cmd {
        Cmd::ZAdd => parse_zadd(args)?,
        Cmd::ZIncrBy => Op::Add {
            flags: AddFlags {
                incr: true,
                ..AddFlags::default()
            },
            pairs: vec![(float(&args[2])?, args[3].clone())],
        },
        Cmd::ZScore | Cmd::ZMScore => Op::Score {
            members: args[2..].to_vec(),
            many: cmd == Cmd::ZMScore,
        },
        Cmd::ZRem => Op::Rem(args[2..].to_vec()),
        Cmd::ZCard => Op::Card,
        Cmd::ZRange | Cmd::ZRangeByScore | Cmd::ZRevRangeByScore | Cmd::ZRevRange => {
            Op::Range(parse_range(cmd, args)?)
        }
        Cmd::ZRank | Cmd::ZRevRank => Op::Rank {
            member: args[2].clone(),
            rev: cmd == Cmd::ZRevRank,
        },
        Cmd::ZCount => {
            let (min, max) = score_bounds(&args[2], &args[3])?;
            Op::Count(min, max)
        }
        Cmd::ZPopMin | Cmd::ZPopMax => {
            if args.len() > 3 {
                return Err(reply::error_bytes(E_SYNTAX));
            }
            Op::Pop {
                max: cmd == Cmd::ZPopMax,
                count: args.get(2).map(|c| positive_count(c)).transpose()?,
            }
        }
        other => unreachable!("{other:?} is not a sorted set command"),
    };
    Ok(Plan::Coll(Coll::new(args[1].clone(), coll::Op::ZSet(op))))
}

/// A float argument, or Redis's error.
fn float(b: &[u8]) -> Result<f64, Bytes> {
    parse_double(b).ok_or_else(|| reply::error("ERR value is not a valid float"))
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member..., with Redis's
/// checks in Redis's order.
fn parse_zadd(args: &[Bytes]) -> Result<Op, Bytes> {
    let mut f = AddFlags::default();
    let mut i = 2;
    while let Some(a) = args.get(i) {
        match &a.to_ascii_uppercase()[..] {
            b"NX" => f.nx = true,
            b"XX" => f.xx = true,
            b"GT" => f.gt = true,
            b"LT" => f.lt = true,
            b"CH" => f.ch = true,
            b"INCR" => f.incr = true,
            _ => break,
        }
        i += 1;
    }
    let rest = &args[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(reply::error_bytes(E_SYNTAX));
    }
    if f.nx && f.xx {
        return Err(reply::error(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(reply::error(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && rest.len() > 2 {
        return Err(reply::error(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let pairs = rest
        .chunks_exact(2)
        .map(|p| Ok((float(&p[0])?, p[1].clone())))
        .collect::<Result<_, Bytes>>()?;
    Ok(Op::Add { flags: f, pairs })
}

/// A score bound: `(x` exclusive, `x` inclusive, `-inf`/`+inf`.
fn score_bound(b: &[u8]) -> Option<Bound<f64>> {
    match b.strip_prefix(b"(") {
        Some(rest) => parse_double(rest).map(Bound::Excluded),
        None => parse_double(b).map(Bound::Included),
    }
}

fn score_bounds(min: &[u8], max: &[u8]) -> Result<(Bound<f64>, Bound<f64>), Bytes> {
    match (score_bound(min), score_bound(max)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(reply::error("ERR min or max is not a float")),
    }
}

/// A lex bound: `[x` inclusive, `(x` exclusive, `-` and `+` unbounded.
fn lex_bound(b: &Bytes) -> Option<Bound<Bytes>> {
    match b.first() {
        Some(b'[') => Some(Bound::Included(b.slice(1..))),
        Some(b'(') => Some(Bound::Excluded(b.slice(1..))),
        Some(b'-' | b'+') if b.len() == 1 => Some(Bound::Unbounded),
        _ => None,
    }
}

/// ZRANGE and its older forms, parsed as Redis 7.0's `zrangeGenericCommand`.
fn parse_range(cmd: Cmd, args: &[Bytes]) -> Result<Query, Bytes> {
    let (mut by_score, mut by_lex, mut rev) = (false, false, false);
    let mut limit = None;
    let mut scores = false;
    match cmd {
        Cmd::ZRangeByScore => by_score = true,
        Cmd::ZRevRangeByScore => (by_score, rev) = (true, true),
        Cmd::ZRevRange => rev = true,
        _ => {}
    }
    let mut i = 4;
    while let Some(a) = args.get(i) {
        let has_limit_args = i + 2 < args.len();
        match &a.to_ascii_uppercase()[..] {
            b"WITHSCORES" => scores = true,
            b"LIMIT" if has_limit_args => {
                limit = Some((int_arg(&args[i + 1])?, int_arg(&args[i + 2])?));
                i += 2;
            }
            b"BYSCORE" if cmd == Cmd::ZRange => by_score = true,
            b"BYLEX" if cmd == Cmd::ZRange => by_lex = true,
            b"REV" if cmd == Cmd::ZRange => rev = true,
            _ => return Err(reply::error_bytes(E_SYNTAX)),
        }
        i += 1;
    }
    if limit.is_some() && !by_score && !by_lex {
        return Err(reply::error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if scores && by_lex {
        return Err(reply::error(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // Reversed score and lex ranges name the high end first.
    let (lo, hi) = if rev && (by_score || by_lex) {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let range = if by_score {
        let (a, b) = score_bounds(lo, hi)?;
        Range::Score(a, b)
    } else if by_lex {
        match (lex_bound(lo), lex_bound(hi)) {
            (Some(a), Some(b)) => Range::Lex(a, b),
            _ => return Err(reply::error("ERR min or max not valid string range item")),
        }
    } else {
        Range::Index(int_arg(lo)?, int_arg(hi)?)
    };
    Ok(Query {
        range,
        rev,
        limit,
        scores,
    })
}

/// Decodes a sorted set: member, score (8 bytes), member, score...
fn decode(cur: Option<&Bytes>) -> Option<BTreeMap<Bytes, f64>> {
    let items = coll::items(cur)?;
    if items.len() % 2 != 0 {
        return None;
    }
    let mut map = BTreeMap::new();
    for p in items.chunks_exact(2) {
        let score = f64::from_le_bytes(p[1][..].try_into().ok()?);
        if score.is_nan() {
            return None;
        }
        map.insert(p[0].clone(), score);
    }
    Some(map)
}

/// What to store for `map`.
fn store(map: &BTreeMap<Bytes, f64>) -> coll::Write {
    let scores: Vec<[u8; 8]> = map.values().map(|s| s.to_le_bytes()).collect();
    let items: Vec<&[u8]> = map
        .keys()
        .zip(&scores)
        .flat_map(|(m, s)| [&m[..], &s[..]])
        .collect();
    coll::put(items.into_iter())
}

/// The members in Redis's order: by score, then by member.
fn ordered(map: &BTreeMap<Bytes, f64>) -> Vec<(&Bytes, f64)> {
    let mut v: Vec<(&Bytes, f64)> = map.iter().map(|(m, s)| (m, *s)).collect();
    // Scores are never NaN (refused on input and on decode).
    v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
    v
}

fn in_bounds<T: PartialOrd>(v: &T, lo: &Bound<T>, hi: &Bound<T>) -> bool {
    let above = match lo {
        Bound::Included(l) => v >= l,
        Bound::Excluded(l) => v > l,
        Bound::Unbounded => true,
    };
    let below = match hi {
        Bound::Included(h) => v <= h,
        Bound::Excluded(h) => v < h,
        Bound::Unbounded => true,
    };
    above && below
}

/// Members with scores as Redis answers them: a flat array in RESP2 (and
/// for a pop of one without a count in RESP3), pairs in RESP3.
fn write_pairs(
    out: &mut BytesMut,
    proto: Proto,
    items: &[(&Bytes, f64)],
    scores: bool,
    flat: bool,
) {
    let nested = scores && proto == Proto::Resp3 && !flat;
    let per = if scores && !nested { 2 } else { 1 };
    write_array_header(out, items.len() * per);
    for (m, s) in items {
        if nested {
            write_array_header(out, 2);
        }
        write_bulk(out, m);
        if scores {
            write_double(out, proto, *s);
        }
    }
}

/// Runs `op` on the sorted set `cur`.
pub fn apply(op: &Op, cur: Option<&Bytes>, proto: Proto) -> Outcome {
    let Some(mut map) = decode(cur) else {
        return Outcome::corrupt();
    };
    match op {
        Op::Add { flags, pairs } => add(&mut map, *flags, pairs, proto),
        Op::Score { members, many } => Outcome::read(reply::with(|o| {
            if *many {
                write_array_header(o, members.len());
            }
            for m in members {
                write_double_or_nil(o, proto, map.get(m).copied());
            }
        })),
        Op::Rem(gone) => {
            let removed = gone.iter().filter(|m| map.remove(*m).is_some()).count();
            if removed == 0 {
                return Outcome::read(reply::integer(0));
            }
            Outcome {
                reply: reply::integer(removed as i64),
                write: store(&map),
            }
        }
        Op::Card => Outcome::read(reply::integer(map.len() as i64)),
        Op::Range(q) => Outcome::read(reply::with(|o| {
            let sel = select(&map, q);
            write_pairs(o, proto, &sel, q.scores, false);
        })),
        Op::Rank { member, rev } => {
            let all = ordered(&map);
            let rank = all.iter().position(|(m, _)| *m == member).map(|r| {
                let r = if *rev { all.len() - 1 - r } else { r };
                r as i64
            });
            Outcome::read(match rank {
                Some(r) => reply::integer(r),
                None => reply::bulk_or_null(proto, None),
            })
        }
        Op::Count(lo, hi) => {
            let n = map.values().filter(|s| in_bounds(*s, lo, hi)).count();
            Outcome::read(reply::integer(n as i64))
        }
        Op::Pop { max, count } => {
            let mut all = ordered(&map);
            if *max {
                all.reverse();
            }
            let n = count.unwrap_or(1).min(all.len() as u64) as usize;
            let popped: Vec<(Bytes, f64)> =
                all[..n].iter().map(|(m, s)| ((*m).clone(), *s)).collect();
            let view: Vec<(&Bytes, f64)> = popped.iter().map(|(m, s)| (m, *s)).collect();
            let r = reply::with(|o| write_pairs(o, proto, &view, true, count.is_none()));
            if n == 0 {
                return Outcome::read(r);
            }
            for (m, _) in &popped {
                map.remove(m);
            }
            Outcome {
                reply: r,
                write: store(&map),
            }
        }
    }
}

/// ZADD and ZINCRBY, as Redis's `zsetAdd` decides each pair.
fn add(
    map: &mut BTreeMap<Bytes, f64>,
    f: AddFlags,
    pairs: &[(f64, Bytes)],
    proto: Proto,
) -> Outcome {
    let (mut added, mut updated) = (0, 0);
    let mut last = None;
    for (score, member) in pairs {
        let new = match map.get(member) {
            Some(_) if f.nx => continue,
            None if f.xx => continue,
            Some(&cur) => {
                let new = if f.incr { cur + score } else { *score };
                if new.is_nan() {
                    return Outcome::read(reply::error(
                        "ERR resulting score is not a number (NaN)",
                    ));
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    continue;
                }
                if new != cur {
                    updated += 1;
                }
                new
            }
            None => {
                added += 1;
                *score
            }
        };
        map.insert(member.clone(), new);
        last = Some(new);
    }
    let r = if f.incr {
        reply::with(|o| write_double_or_nil(o, proto, last))
    } else {
        reply::integer(if f.ch { added + updated } else { added })
    };
    if added + updated == 0 {
        return Outcome::read(r);
    }
    Outcome {
        reply: r,
        write: store(map),
    }
}

/// The members a range query selects, in its order.
fn select<'a>(map: &'a BTreeMap<Bytes, f64>, q: &Query) -> Vec<(&'a Bytes, f64)> {
    let mut all = ordered(map);
    let mut sel = match &q.range {
        Range::Index(start, stop) => {
            if q.rev {
                all.reverse();
            }
            return match coll::index_range(*start, *stop, all.len()) {
                Some((a, b)) => all[a..=b].to_vec(),
                None => Vec::new(),
            };
        }
        Range::Score(lo, hi) => {
            all.retain(|(_, s)| in_bounds(s, lo, hi));
            all
        }
        Range::Lex(lo, hi) => {
            all.retain(|(m, _)| in_bounds(*m, lo, hi));
            all
        }
    };
    if q.rev {
        sel.reverse();
    }
    match q.limit {
        Some((offset, _)) if offset < 0 => Vec::new(),
        Some((offset, count)) => {
            let it = sel.into_iter().skip(offset as usize);
            if count < 0 {
                it.collect()
            } else {
                it.take(count as usize).collect()
            }
        }
        None => sel,
    }
}
