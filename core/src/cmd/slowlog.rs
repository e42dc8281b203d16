//! SLOWLOG GET [count], LEN, RESET and HELP, with Redis 7.0's replies and
//! errors. What is logged, and when, is [`crate::machine::slowlog`]'s.

use bytes::Bytes;

use super::reply::{self, clean, parse_i64};
use crate::machine::Machine;
use crate::protocol::resp::{Proto, write_array_header, write_bulk, write_integer, write_simple};

const HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

/// Runs SLOWLOG and returns its reply (the same in RESP2 and RESP3).
pub fn execute(m: &mut Machine, _proto: Proto, args: &[Bytes]) -> Bytes {
    let sub = args[1].to_ascii_lowercase();
    match (&sub[..], args.len()) {
        (b"get", 2 | 3) => get(m, args.get(2)),
        // Redis's table takes GET with more arguments, its handler not.
        (b"get", _) => reply::error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
            clean(&args[1])
        )),
        (b"len", 2) => reply::integer(m.slowlog.len() as i64),
        (b"reset", 2) => {
            m.slowlog.reset();
            reply::ok()
        }
        (b"help", 2) => reply::with(|o| {
            write_array_header(o, HELP.len());
            for l in HELP {
                write_simple(o, l.as_bytes());
            }
        }),
        (b"len" | b"reset" | b"help", _) => {
            reply::wrong_args(&format!("slowlog|{}", String::from_utf8_lossy(&sub)))
        }
        _ => reply::error(&format!(
            "ERR unknown subcommand '{}'. Try SLOWLOG HELP.",
            clean(&args[1][..args[1].len().min(128)])
        )),
    }
}

/// SLOWLOG GET: the newest `count` entries (10; -1: all), newest first.
fn get(m: &Machine, count: Option<&Bytes>) -> Bytes {
    let count = match count.map(|c| parse_i64(c)) {
        None => 10,
        Some(Some(-1)) => usize::MAX,
        Some(Some(n)) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
        Some(_) => return reply::error("ERR count should be greater than or equal to -1"),
    };
    let entries: Vec<_> = m.slowlog.newest(count).collect();
    reply::with(|o| {
        write_array_header(o, entries.len());
        for e in entries {
            write_array_header(o, 6);
            write_integer(o, e.id as i64);
            write_integer(o, e.at);
            write_integer(o, i64::try_from(e.micros).unwrap_or(i64::MAX));
            write_array_header(o, e.args.len());
            for a in &e.args {
                write_bulk(o, a);
            }
            write_bulk(o, e.addr.as_bytes());
            write_bulk(o, &e.name);
        }
    })
}
