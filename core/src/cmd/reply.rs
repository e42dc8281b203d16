//! Reply encoding shared by the command families: Redis's error strings and
//! the replies of failed replicated operations.

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::machine::quorum::OpError;
use crate::protocol::resp::{Proto, write_bulk, write_error, write_integer, write_nil};

/// `+OK`.
pub const OK: &[u8] = b"OK";
/// Redis's error for a bad integer argument or value.
pub const E_INT: &[u8] = b"ERR value is not an integer or out of range";
/// Redis's generic syntax error.
pub const E_SYNTAX: &[u8] = b"ERR syntax error";
/// Redis's error for a command on a key of another type.
pub const E_WRONGTYPE: &[u8] = b"WRONGTYPE Operation against a key holding the wrong kind of value";
/// Redis's error when a write would exceed maxmemory under noeviction.
pub const E_OOM: &[u8] = b"OOM command not allowed when used memory > 'maxmemory'.";

/// Redis replaces CR and LF in error messages so they stay one line.
pub fn clean(s: &[u8]) -> String {
    String::from_utf8_lossy(s).replace(['\r', '\n'], " ")
}

/// Runs `f` on a fresh buffer and returns what it wrote.
pub fn with(f: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut out = BytesMut::new();
    f(&mut out);
    out.freeze()
}

/// An error reply.
pub fn error(msg: &str) -> Bytes {
    with(|o| write_error(o, msg.as_bytes()))
}

/// An error reply from static bytes.
pub fn error_bytes(msg: &[u8]) -> Bytes {
    with(|o| write_error(o, msg))
}

/// `+OK` (static: the most common reply costs no allocation).
pub fn ok() -> Bytes {
    Bytes::from_static(b"+OK\r\n")
}

/// The WRONGTYPE error (static).
pub fn wrongtype() -> Bytes {
    Bytes::from_static(b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
}

/// An integer reply.
pub fn integer(v: i64) -> Bytes {
    with(|o| write_integer(o, v))
}

/// A bulk string, or the null bulk (`_` in RESP3).
pub fn bulk_or_null(proto: Proto, v: Option<&[u8]>) -> Bytes {
    with(|o| match v {
        Some(v) => write_bulk(o, v),
        None => write_nil(o, proto),
    })
}

/// Redis's arity error.
pub fn wrong_args(name: &str) -> Bytes {
    error(&format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// The reply to a failed replicated operation of command `op`.
pub fn op_error(e: &OpError, op: &str) -> Bytes {
    match e {
        OpError::Unavailable { got, needed } => error(&format!(
            "UNAVAILABLE quorum not met: {got}/{needed} replicas answered for {op}"
        )),
        OpError::OutOfMemory => error_bytes(E_OOM),
        OpError::Overloaded => error("OVERLOADED node overloaded: request queue full"),
    }
}

/// The reply of a command that ran past the command timeout.
pub fn timeout(name: &str, limit: Duration) -> Bytes {
    error(&format!(
        "TIMEOUT {name} did not finish within {} ms",
        limit.as_millis()
    ))
}

/// Redis's reply to an unknown command.
pub fn unknown(args: &[Bytes]) -> Bytes {
    let mut msg = format!(
        "ERR unknown command '{}', with args beginning with: ",
        clean(&args[0][..args[0].len().min(128)])
    );
    for a in &args[1..] {
        msg.push('\'');
        msg.push_str(&clean(&a[..a.len().min(128)]));
        msg.push_str("' ");
    }
    error(&msg)
}

/// Parses a Redis integer argument: optional '-', digits, fits i64.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    // Redis refuses "+1", " 1" and "01"-style padding is fine only as "0".
    if s.starts_with('+') || (s.len() > 1 && s.starts_with('0')) || s.starts_with("-0") {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_like_redis() {
        assert_eq!(parse_i64(b"12"), Some(12));
        assert_eq!(parse_i64(b"-3"), Some(-3));
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b""[..], b"+1", b" 1", b"01", b"1.5", b"abc", b"-0"] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }
}
