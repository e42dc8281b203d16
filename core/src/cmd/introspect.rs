//! What a key costs and how it is held: `MEMORY USAGE` and `OBJECT
//! ENCODING|FREQ|IDLETIME|REFCOUNT` (and their HELP).
//!
//! The key is one quorum read, so a missing key answers null as in Redis
//! whichever node is asked. The answers are ringlab's own where Redis's
//! are its allocator's or its object system's:
//! - MEMORY USAGE is the bytes the key is charged against `maxmemory`
//!   ([`Store::entry_cost`]), the same figure eviction works with; SAMPLES
//!   is checked and has nothing to sample (values are sized exactly).
//! - OBJECT ENCODING names what Redis 7.0 would use for the value as it is
//!   now (`int`, `embstr`, `raw`; `listpack` or `hashtable` for hashes;
//!   `quicklist` for lists; `intset` or `hashtable` for sets; `listpack` or
//!   `skiplist` for sorted sets, at Redis's default thresholds). Redis's
//!   encodings also depend on history (APPEND makes `raw`, a set once grown
//!   stays `hashtable`); these are computed from the contents.
//! - OBJECT REFCOUNT is Redis's: 2147483647 for the small integers Redis
//!   shares (0..9999, unless an LRU/LFU policy with a memory limit forbids
//!   sharing), else 1.
//! - OBJECT FREQ is the LFU counter of this node's copy (0 when this node
//!   holds none), only under `allkeys-lfu`, with Redis's error otherwise.
//! - OBJECT IDLETIME is the seconds since the key was last written: the
//!   store keeps recency as an order of accesses, not as a time. Refused
//!   under an LFU policy, as Redis refuses it.

use bytes::Bytes;

use super::Cmd;
use super::coll;
use super::plan::{Cx, Input, Plan, Step, read_live};
use super::reply::{self, E_SYNTAX, clean, parse_i64};
use crate::protocol::resp::{write_array_header, write_nil, write_simple};
use crate::store::{Entry, Kind, Policy, Store};

/// What is asked of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    Usage,
    Encoding,
    RefCount,
    Freq,
    IdleTime,
}

/// MEMORY USAGE or an OBJECT subcommand on a key.
#[derive(Debug, Clone)]
pub struct Introspect {
    key: Bytes,
    ask: Ask,
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// Redis's MEMORY HELP, less the allocator subcommands the node has not.
const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

/// Builds the plan of MEMORY or OBJECT; `Err` is the reply when no key is
/// read (HELP, errors).
pub fn build(cmd: Cmd, args: &[Bytes]) -> Result<Plan, Bytes> {
    let (family, help) = match cmd {
        Cmd::Object => ("object", OBJECT_HELP),
        Cmd::Memory => ("memory", MEMORY_HELP),
        other => unreachable!("{other:?} is not MEMORY or OBJECT"),
    };
    let sub = args[1].to_ascii_lowercase();
    let (ask, arity_ok) = match (cmd, &sub[..]) {
        (_, b"help") => (None, args.len() == 2),
        (Cmd::Memory, b"usage") => (Some(Ask::Usage), args.len() >= 3),
        (Cmd::Object, b"encoding") => (Some(Ask::Encoding), args.len() == 3),
        (Cmd::Object, b"refcount") => (Some(Ask::RefCount), args.len() == 3),
        (Cmd::Object, b"freq") => (Some(Ask::Freq), args.len() == 3),
        (Cmd::Object, b"idletime") => (Some(Ask::IdleTime), args.len() == 3),
        _ => {
            return Err(reply::error(&format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                clean(&args[1][..args[1].len().min(128)]),
                family.to_ascii_uppercase()
            )));
        }
    };
    if !arity_ok {
        let name = format!("{family}|{}", String::from_utf8_lossy(&sub));
        return Err(reply::wrong_args(&name));
    }
    let Some(ask) = ask else {
        return Err(help_reply(help));
    };
    if ask == Ask::Usage {
        usage_options(&args[3..])?;
    }
    Ok(Plan::Introspect(Introspect {
        key: args[2].clone(),
        ask,
    }))
}

/// HELP: one status line per line, as Redis's `addReplyHelp`.
fn help_reply(lines: &[&str]) -> Bytes {
    reply::with(|o| {
        write_array_header(o, lines.len());
        for l in lines {
            write_simple(o, l.as_bytes());
        }
    })
}

/// MEMORY USAGE's `[SAMPLES count]`, checked as Redis checks it.
fn usage_options(mut opts: &[Bytes]) -> Result<(), Bytes> {
    while let [opt, tail @ ..] = opts {
        match tail {
            [n, tail @ ..] if opt.eq_ignore_ascii_case(b"SAMPLES") => {
                match parse_i64(n) {
                    None => return Err(reply::error_bytes(reply::E_INT)),
                    Some(n) if n < 0 => return Err(reply::error_bytes(E_SYNTAX)),
                    Some(_) => {}
                }
                opts = tail;
            }
            _ => return Err(reply::error_bytes(E_SYNTAX)),
        }
    }
    Ok(())
}

impl Introspect {
    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        if input == Input::Start {
            return Step::Read(self.key.clone());
        }
        let Some(e) = read_live(input, cx.now) else {
            return Step::Reply(reply::with(|o| write_nil(o, cx.proto)));
        };
        let policy = cx.store.config().policy;
        Step::Reply(match self.ask {
            Ask::Usage => {
                let len = e.value.as_ref().map_or(0, |v| v.len());
                reply::integer(Store::entry_cost(self.key.len(), len) as i64)
            }
            Ask::Encoding => reply::with(|o| write_bulk_str(o, encoding(&e))),
            Ask::RefCount => reply::integer(refcount(&e, cx.store)),
            Ask::Freq if !policy.uses_lfu() => reply::error(
                "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
            ),
            Ask::Freq => reply::integer(i64::from(
                cx.store.frequency(&self.key, cx.now).unwrap_or(0),
            )),
            Ask::IdleTime if policy.uses_lfu() => reply::error(
                "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
            ),
            Ask::IdleTime => {
                let idle = cx.now.saturating_sub(e.version.ts) / 1_000_000;
                reply::integer(i64::try_from(idle).unwrap_or(i64::MAX))
            }
        })
    }
}

fn write_bulk_str(o: &mut bytes::BytesMut, s: &str) {
    crate::protocol::resp::write_bulk(o, s.as_bytes());
}

/// Redis 7.0's defaults: hash-max-listpack-entries/value,
/// zset-max-listpack-entries/value, set-max-intset-entries.
const LISTPACK_ENTRIES: usize = 128;
const LISTPACK_VALUE: usize = 64;
const INTSET_ENTRIES: usize = 512;

/// The encoding Redis 7.0 would give this value (see the module doc).
pub fn encoding(e: &Entry) -> &'static str {
    let Some(v) = &e.value else {
        return "raw";
    };
    let items = || coll::decode(v).unwrap_or_default();
    let small = |items: &[Bytes], per: usize, sized: &dyn Fn(usize) -> bool| {
        items.len() / per <= LISTPACK_ENTRIES
            && items
                .iter()
                .enumerate()
                .all(|(i, x)| !sized(i) || x.len() <= LISTPACK_VALUE)
    };
    match e.kind {
        Kind::String if v.len() <= 20 && parse_i64(v).is_some() => "int",
        Kind::String if v.len() <= 44 => "embstr",
        Kind::String => "raw",
        Kind::List => "quicklist",
        Kind::Hash if small(&items(), 2, &|_| true) => "listpack",
        Kind::Hash => "hashtable",
        Kind::Set => {
            let items = items();
            let ints = items.iter().all(|m| parse_i64(m).is_some());
            if ints && items.len() <= INTSET_ENTRIES {
                "intset"
            } else {
                "hashtable"
            }
        }
        // Member, score, member, score...: only members count for size.
        Kind::ZSet if small(&items(), 2, &|i| i % 2 == 0) => "listpack",
        Kind::ZSet => "skiplist",
    }
}

/// OBJECT REFCOUNT as Redis answers it: shared small integers are
/// "immortal" (INT_MAX), everything else has one reference.
fn refcount(e: &Entry, store: &Store) -> i64 {
    let cfg = store.config();
    // Redis stops sharing integers when a memory limit and an LRU/LFU
    // policy need each value's own access record.
    let no_sharing = cfg.maxmemory != 0
        && matches!(
            cfg.policy,
            Policy::AllKeysLru | Policy::AllKeysLfu | Policy::VolatileLru
        );
    let shared = e.kind == Kind::String
        && e.value
            .as_ref()
            .and_then(|v| parse_i64(v))
            .is_some_and(|n| (0..10_000).contains(&n));
    if shared && !no_sharing {
        i64::from(i32::MAX)
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Version;

    fn entry(kind: Kind, items: &[&str]) -> Entry {
        let value = match kind {
            Kind::String => Bytes::copy_from_slice(items[0].as_bytes()),
            _ => coll::encode(items.iter().map(|s| s.as_bytes())),
        };
        Entry {
            value: Some(value),
            version: Version::default(),
            expires_at: None,
            kind,
        }
    }

    #[test]
    fn encodings_follow_redis_7_0_thresholds() {
        assert_eq!(encoding(&entry(Kind::String, &["12345"])), "int");
        assert_eq!(encoding(&entry(Kind::String, &["012"])), "embstr");
        assert_eq!(encoding(&entry(Kind::String, &[&"x".repeat(44)])), "embstr");
        assert_eq!(encoding(&entry(Kind::String, &[&"x".repeat(45)])), "raw");
        assert_eq!(encoding(&entry(Kind::List, &["a"])), "quicklist");
        assert_eq!(encoding(&entry(Kind::Set, &["1", "2"])), "intset");
        assert_eq!(encoding(&entry(Kind::Set, &["1", "a"])), "hashtable");
        let long = "v".repeat(65);
        assert_eq!(encoding(&entry(Kind::Hash, &["f", "v"])), "listpack");
        assert_eq!(encoding(&entry(Kind::Hash, &["f", &long])), "hashtable");
        // A sorted set's scores are 8 bytes each: only members are sized.
        assert_eq!(encoding(&entry(Kind::ZSet, &["m", "12345678"])), "listpack");
        assert_eq!(
            encoding(&entry(Kind::ZSet, &[&long, "12345678"])),
            "skiplist"
        );
    }
}
