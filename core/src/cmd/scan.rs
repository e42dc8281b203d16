//! KEYS and SCAN, across the cluster.
//!
//! Both read pages of keys from every node and merge them (see
//! [`crate::keyspace`]): a key held by several replicas appears once, and
//! deleted (tombstoned) or expired keys not at all, even on a replica that
//! missed the delete. A SCAN cursor is a position in the keyspace, so any
//! node continues any cursor and a scan that runs to cursor 0 sees every
//! key that lived throughout exactly once. KEYS is a SCAN run to its end
//! inside the node, page by page, so no peer message grows with the
//! keyspace; its reply is sorted by key (Redis's order is unspecified).
//!
//! With peers down, a page needs the answers of all but N-1 nodes (so
//! every key still has a replica among them), else the command fails with
//! UNAVAILABLE; a key whose delete only the silent nodes saw may then show.

use bytes::Bytes;

use super::Cmd;
use super::plan::{Cx, Input, Plan, Step};
use super::reply::{self, E_INT, E_SYNTAX, parse_i64};
use crate::keyspace::{self, MAX_PAGE, MAX_POSITION, PageRequest};
use crate::protocol::resp::{write_array_header, write_bulk};
use crate::store::Kind;

/// Keys per page when KEYS walks the keyspace.
const KEYS_PAGE: usize = MAX_PAGE;

/// KEYS or SCAN in progress.
#[derive(Debug, Clone)]
pub struct Scan {
    /// The page asked of every node next.
    req: PageRequest,
    /// KEYS: every key so far. SCAN: None.
    all: Option<Vec<Bytes>>,
    /// SCAN's TYPE: only keys of this type name (any case).
    type_name: Option<Bytes>,
}

/// Builds the plan of KEYS or SCAN, or the error reply.
pub fn build(cmd: Cmd, args: &[Bytes]) -> Result<Plan, Bytes> {
    let scan = match cmd {
        Cmd::Keys => Scan {
            req: PageRequest {
                cursor: 0,
                count: KEYS_PAGE,
                pattern: pattern(&args[1]),
            },
            all: Some(Vec::new()),
            type_name: None,
        },
        Cmd::Scan => parse_scan(args)?,
        other => unreachable!("{other:?} is not KEYS or SCAN"),
    };
    Ok(Plan::Scan(scan))
}

/// `*` matches every key: no pattern to test (as Redis skips it).
fn pattern(p: &Bytes) -> Option<Bytes> {
    (&p[..] != b"*").then(|| p.clone())
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`, checked in
/// Redis's order: the cursor, then each option as it comes.
fn parse_scan(args: &[Bytes]) -> Result<Scan, Bytes> {
    let cursor = parse_cursor(&args[1]).ok_or_else(|| reply::error("ERR invalid cursor"))?;
    let mut scan = Scan {
        req: PageRequest {
            cursor,
            count: 10,
            pattern: None,
        },
        all: None,
        type_name: None,
    };
    let mut rest = &args[2..];
    while let [opt, value, tail @ ..] = rest {
        match &opt.to_ascii_uppercase()[..] {
            b"COUNT" => match parse_i64(value) {
                None => return Err(reply::error_bytes(E_INT)),
                Some(n) if n < 1 => return Err(reply::error_bytes(E_SYNTAX)),
                // COUNT is a hint: a page stays within MAX_PAGE per node.
                Some(n) => {
                    scan.req.count = usize::try_from(n).map_or(MAX_PAGE, |n| n.min(MAX_PAGE))
                }
            },
            b"MATCH" => scan.req.pattern = pattern(value),
            b"TYPE" => scan.type_name = Some(value.clone()),
            _ => return Err(reply::error_bytes(E_SYNTAX)),
        }
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(reply::error_bytes(E_SYNTAX));
    }
    Ok(scan)
}

/// A cursor as Redis reads it (`strtoul`, base 10): an optional sign and
/// digits, nothing else, no leading space; `-n` wraps around as in C, and
/// the empty string is 0. None where Redis answers "invalid cursor".
pub fn parse_cursor(b: &[u8]) -> Option<u64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        // strtoul reads nothing: only a string that is empty is all read.
        return b.is_empty().then_some(0);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(if neg { n.wrapping_neg() } else { n })
}

impl Scan {
    pub fn step(&mut self, input: Input, _cx: &mut Cx<'_>) -> Step {
        match input {
            Input::Start if self.req.cursor > MAX_POSITION => self.reply(Vec::new(), 0),
            Input::Start => Step::Gather(self.req.clone()),
            Input::Pages(pages) => {
                let (keys, next) = keyspace::merge(&pages);
                match &mut self.all {
                    Some(all) => {
                        all.extend(keys.into_iter().map(|(k, _)| k));
                        if next != 0 {
                            self.req.cursor = next;
                            return Step::Gather(self.req.clone());
                        }
                        let mut all = std::mem::take(all);
                        all.sort_unstable();
                        Step::Reply(keys_reply(&all))
                    }
                    None => {
                        let keys = keys
                            .into_iter()
                            .filter(|(_, kind)| self.type_ok(*kind))
                            .map(|(k, _)| k)
                            .collect();
                        self.reply(keys, next)
                    }
                }
            }
            other => unreachable!("KEYS/SCAN got {other:?}"),
        }
    }

    fn type_ok(&self, kind: Kind) -> bool {
        self.type_name
            .as_ref()
            .is_none_or(|t| t.eq_ignore_ascii_case(kind.name().as_bytes()))
    }

    /// SCAN's reply: the next cursor (a bulk string) and the keys.
    fn reply(&self, keys: Vec<Bytes>, next: u64) -> Step {
        Step::Reply(reply::with(|o| {
            write_array_header(o, 2);
            write_bulk(o, next.to_string().as_bytes());
            write_keys(o, &keys);
        }))
    }
}

fn write_keys(o: &mut bytes::BytesMut, keys: &[Bytes]) {
    write_array_header(o, keys.len());
    for k in keys {
        write_bulk(o, k);
    }
}

fn keys_reply(keys: &[Bytes]) -> Bytes {
    reply::with(|o| write_keys(o, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_as_strtoul_does() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"123"), Some(123));
        assert_eq!(parse_cursor(b"+7"), Some(7));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b"18446744073709551616"[..],
            b"x",
            b"1x",
            b" 1",
            b"-",
            b"+",
            b"1 ",
        ] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
    }

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn err(words: &[&str]) -> String {
        match build(Cmd::Scan, &args(words)) {
            Err(e) => String::from_utf8_lossy(&e).into_owned(),
            Ok(_) => "ok".into(),
        }
    }

    #[test]
    fn bad_scan_arguments_get_redis_errors() {
        assert_eq!(err(&["SCAN", "x"]), "-ERR invalid cursor\r\n");
        assert_eq!(err(&["SCAN", "0", "COUNT", "0"]), "-ERR syntax error\r\n");
        assert_eq!(
            err(&["SCAN", "0", "COUNT", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(err(&["SCAN", "0", "MATCH"]), "-ERR syntax error\r\n");
        assert_eq!(err(&["SCAN", "0", "BOGUS", "1"]), "-ERR syntax error\r\n");
        assert_eq!(
            err(&["SCAN", "0", "match", "a*", "count", "5", "type", "set"]),
            "ok"
        );
    }
}
