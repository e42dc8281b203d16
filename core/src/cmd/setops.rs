//! Set algebra over several keys: SINTER, SUNION, SDIFF, SINTERCARD and
//! the STORE forms (SINTERSTORE, SUNIONSTORE, SDIFFSTORE).
//!
//! Each source key is one quorum read through its own replicas, one after
//! another (as MGET reads); the result is computed on the coordinator, and
//! a STORE form then writes the destination as one whole value under a new
//! version (no expiry, whatever type it held; an empty result deletes it
//! with a tombstone, as Redis deletes the key). Not atomic across
//! coordinators: a source changed between two reads, or the destination
//! written elsewhere meanwhile, is last-writer-wins like any other write.
//!
//! Replies follow Redis 7.0: a set (`~` in RESP3) in member order (Redis's
//! order is unspecified), WRONGTYPE if any source holds another type (even
//! after a missing one), a missing key as an empty set.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::Cmd;
use super::coll;
use super::plan::{Cx, Input, Plan, Step, read_live};
use super::reply::{self, E_SYNTAX, parse_i64};
use crate::protocol::resp::{write_bulk, write_set_header};
use crate::store::Kind;

/// Which operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algebra {
    Inter,
    Union,
    Diff,
}

/// What the result becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Output {
    /// The members (SINTER, SUNION, SDIFF).
    Members,
    /// Stored under this key; the reply is its size.
    Store(Bytes),
    /// Only the size, counting stops at the limit (0: none) (SINTERCARD).
    Card(usize),
}

/// A set-algebra command in progress.
#[derive(Debug, Clone)]
pub struct SetOps {
    op: Algebra,
    out: Output,
    /// The source keys, in order.
    keys: Vec<Bytes>,
    /// The sources read so far (a missing key is an empty set).
    sets: Vec<BTreeSet<Bytes>>,
    /// The STORE forms' reply, kept while the write is on its way.
    stored: usize,
}

/// Builds the plan of a set-algebra command, or its error reply.
pub fn build(cmd: Cmd, args: &[Bytes]) -> Result<Plan, Bytes> {
    let (op, out, keys) = match cmd {
        Cmd::SInter => (Algebra::Inter, Output::Members, &args[1..]),
        Cmd::SUnion => (Algebra::Union, Output::Members, &args[1..]),
        Cmd::SDiff => (Algebra::Diff, Output::Members, &args[1..]),
        Cmd::SInterStore => (Algebra::Inter, Output::Store(args[1].clone()), &args[2..]),
        Cmd::SUnionStore => (Algebra::Union, Output::Store(args[1].clone()), &args[2..]),
        Cmd::SDiffStore => (Algebra::Diff, Output::Store(args[1].clone()), &args[2..]),
        Cmd::SInterCard => {
            let (keys, limit) = intercard_args(args)?;
            (Algebra::Inter, Output::Card(limit), keys)
        }
        other => unreachable!("{other:?} is not set algebra"),
    };
    Ok(Plan::SetOps(SetOps {
        op,
        out,
        keys: keys.to_vec(),
        sets: Vec::new(),
        stored: 0,
    }))
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`, with Redis's errors:
/// the keys and the limit.
fn intercard_args(args: &[Bytes]) -> Result<(&[Bytes], usize), Bytes> {
    let numkeys = parse_i64(&args[1])
        .filter(|&n| n > 0)
        .ok_or_else(|| reply::error("ERR numkeys should be greater than 0"))?;
    let rest = args.len() - 2;
    if numkeys as u64 > rest as u64 {
        return Err(reply::error(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let (keys, mut opts) = args[2..].split_at(numkeys as usize);
    let mut limit = 0;
    while let [opt, tail @ ..] = opts {
        match tail {
            [n, tail @ ..] if opt.eq_ignore_ascii_case(b"LIMIT") => {
                limit = parse_i64(n)
                    .filter(|&n| n >= 0)
                    .ok_or_else(|| reply::error("ERR LIMIT can't be negative"))?;
                opts = tail;
            }
            _ => return Err(reply::error_bytes(E_SYNTAX)),
        }
    }
    Ok((keys, usize::try_from(limit).unwrap_or(usize::MAX)))
}

impl SetOps {
    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        match input {
            Input::Start => {}
            Input::Wrote => return Step::Reply(reply::integer(self.stored as i64)),
            input => match read_live(input, cx.now) {
                None => self.sets.push(BTreeSet::new()),
                Some(e) if e.kind != Kind::Set => return Step::Reply(reply::wrongtype()),
                Some(e) => match e.value.as_ref().and_then(coll::decode) {
                    Some(items) => self.sets.push(items.into_iter().collect()),
                    None => return Step::Reply(reply::error("ERR corrupt collection value")),
                },
            },
        }
        if let Some(k) = self.keys.get(self.sets.len()) {
            return Step::Read(k.clone());
        }
        let result = self.compute();
        match &self.out {
            Output::Members => Step::Reply(reply::with(|o| {
                write_set_header(o, cx.proto, result.len());
                for m in &result {
                    write_bulk(o, m);
                }
            })),
            Output::Card(_) => Step::Reply(reply::integer(result.len() as i64)),
            Output::Store(dest) => {
                self.stored = result.len();
                let entry = if result.is_empty() {
                    cx.tombstone()
                } else {
                    let mut e = cx.value(coll::encode(result.iter().map(|m| &m[..])), None);
                    e.kind = Kind::Set;
                    e
                };
                Step::Write(dest.clone(), entry)
            }
        }
    }

    /// The result of the operation over the sets read.
    fn compute(&mut self) -> BTreeSet<Bytes> {
        let mut sets = std::mem::take(&mut self.sets).into_iter();
        let first = sets.next().unwrap_or_default();
        match self.op {
            Algebra::Union => sets.fold(first, |mut acc, s| {
                acc.extend(s);
                acc
            }),
            Algebra::Diff => sets.fold(first, |mut acc, s| {
                acc.retain(|m| !s.contains(m));
                acc
            }),
            Algebra::Inter => {
                let rest: Vec<BTreeSet<Bytes>> = sets.collect();
                let limit = match self.out {
                    Output::Card(n) if n > 0 => n,
                    _ => usize::MAX,
                };
                // SINTERCARD's LIMIT stops counting early, as Redis does.
                first
                    .into_iter()
                    .filter(|m| rest.iter().all(|s| s.contains(m)))
                    .take(limit)
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn err(words: &[&str]) -> String {
        match intercard_args(&args(words)) {
            Err(e) => String::from_utf8_lossy(&e).into_owned(),
            Ok((keys, limit)) => format!("{} keys, limit {limit}", keys.len()),
        }
    }

    #[test]
    fn sintercard_arguments_as_redis_checks_them() {
        let numkeys = "-ERR numkeys should be greater than 0\r\n";
        assert_eq!(err(&["SINTERCARD", "0", "a"]), numkeys);
        assert_eq!(err(&["SINTERCARD", "x", "a"]), numkeys);
        assert_eq!(
            err(&["SINTERCARD", "3", "a", "b"]),
            "-ERR Number of keys can't be greater than number of args\r\n"
        );
        assert_eq!(
            err(&["SINTERCARD", "1", "a", "LIMIT"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            err(&["SINTERCARD", "1", "a", "BOGUS", "1"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            err(&["SINTERCARD", "1", "a", "LIMIT", "-1"]),
            "-ERR LIMIT can't be negative\r\n"
        );
        assert_eq!(
            err(&["SINTERCARD", "2", "a", "b", "limit", "5"]),
            "2 keys, limit 5"
        );
        assert_eq!(
            err(&["SINTERCARD", "1", "a", "LIMIT", "1", "LIMIT", "2"]),
            "1 keys, limit 2"
        );
    }
}
