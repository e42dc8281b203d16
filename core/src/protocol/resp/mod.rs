//! RESP2: an incremental parser for requests and frames, an encoder, and
//! fast writers for the server's replies; the RESP3 reply types a
//! connection gets after `HELLO 3` ([`Proto`]: null, map, set, verbatim
//! string) are written by the `write_*` functions that take a [`Proto`].
//!
//! Parsing follows one contract everywhere: `Ok(Some(..))` consumes exactly
//! the bytes of one request or frame from the front of the buffer,
//! `Ok(None)` means more bytes are needed and leaves the buffer untouched,
//! `Err` is a protocol error after which the connection cannot be trusted
//! (the server replies `-ERR Protocol error: <error>` and closes).
//!
//! Parsing is zero-copy: a complete request or frame is split off the buffer
//! and frozen once, and every argument or bulk is a [`Bytes`] slice of it
//! (inline arguments with quoting escapes are the exception: they are
//! rebuilt). Lines are found with `memchr`. Every length is checked against
//! [`Limits`] from its header alone, before any body is buffered or
//! allocated for, and nothing is preallocated beyond the bytes present.
//!
//! Error texts are Redis's where Redis has one, so clients see the same
//! messages they would from a Redis server.
//!
//! # Layout
//! - `lines`: CRLF lines, integers and lengths (the headers of every item);
//! - `request`: client requests, multibulk ([`RequestDecoder`]) and inline;
//! - `frame`: any frame ([`parse_frame`]), as replies and peer messages;
//! - `encode`: the writers, RESP2 and RESP3 ([`Proto`]).

use std::fmt;

mod encode;
mod frame;
mod lines;
mod request;

pub use encode::*;
pub use frame::parse_frame;
pub use request::{RequestDecoder, parse_request};

use bytes::Bytes;

/// A RESP2 value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `+OK\r\n`: a status line (no CR or LF inside).
    Simple(Bytes),
    /// `-ERR ...\r\n`: an error line (no CR or LF inside).
    Error(Bytes),
    /// `:42\r\n`.
    Integer(i64),
    /// `$3\r\nfoo\r\n`: binary-safe bytes.
    Bulk(Bytes),
    /// `$-1\r\n`: the null bulk string (a missing key).
    Null,
    /// `*2\r\n...`: a sequence of frames.
    Array(Vec<Frame>),
    /// `*-1\r\n`: the null array.
    NullArray,
}

/// What the parser accepts before it gives up on a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk string, in bytes (Redis's `proto-max-bulk-len`).
    pub max_bulk: usize,
    /// Most elements in one array or request.
    pub max_array: usize,
    /// Longest line: an inline request, a simple string, an error or a
    /// length header, in bytes without the CRLF.
    pub max_inline: usize,
    /// Deepest nesting of arrays in a frame (a flat array is depth 1).
    pub max_depth: usize,
    /// The client has not authenticated yet: a count or length over the
    /// limits is reported with Redis's "unauthenticated" errors (see
    /// [`Limits::before_auth`]).
    pub unauthenticated: bool,
}

/// Most arguments of a request before AUTH (Redis's own cap).
pub const PRE_AUTH_MAX_ARRAY: usize = 10;
/// Longest argument of a request before AUTH (Redis's own cap).
pub const PRE_AUTH_MAX_BULK: usize = 16 * 1024;

impl Limits {
    /// These limits for a client that has not authenticated on a
    /// password-protected node, as redis-server caps it: at most
    /// [`PRE_AUTH_MAX_ARRAY`] arguments of at most [`PRE_AUTH_MAX_BULK`]
    /// bytes. Without it, anyone who can connect makes the node buffer a
    /// whole 512 MiB argument per connection before AUTH is even read.
    pub fn before_auth(self) -> Self {
        Self {
            max_array: self.max_array.min(PRE_AUTH_MAX_ARRAY),
            max_bulk: self.max_bulk.min(PRE_AUTH_MAX_BULK),
            unauthenticated: true,
            ..self
        }
    }

    /// The error for an array or request count over `max_array`.
    fn too_many(&self) -> ProtocolError {
        if self.unauthenticated {
            ProtocolError::UnauthenticatedMultibulkLength
        } else {
            ProtocolError::InvalidMultibulkLength
        }
    }

    /// The error for a bulk length over `max_bulk`.
    fn too_long(&self) -> ProtocolError {
        if self.unauthenticated {
            ProtocolError::UnauthenticatedBulkLength
        } else {
            ProtocolError::InvalidBulkLength
        }
    }
}

impl Default for Limits {
    /// Redis's defaults: 512 MiB bulks, 1Mi elements, 64 KiB inline lines;
    /// and 32 levels of nesting, far beyond what any command reply uses.
    fn default() -> Self {
        Self {
            max_bulk: 512 * 1024 * 1024,
            max_array: 1024 * 1024,
            max_inline: 64 * 1024,
            max_depth: 32,
            unauthenticated: false,
        }
    }
}

/// Why a byte stream is not valid RESP2 (or breaks a [`Limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// An array or request count that is not a number, is below -1 (or
    /// -1 in a request) or exceeds `max_array`.
    #[error("invalid multibulk length")]
    InvalidMultibulkLength,
    /// A request count over the pre-AUTH cap ([`Limits::before_auth`]).
    #[error("unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// A bulk length over the pre-AUTH cap ([`Limits::before_auth`]).
    #[error("unauthenticated bulk length")]
    UnauthenticatedBulkLength,
    /// A bulk length that is not a number, is negative (other than a
    /// frame's `$-1`) or exceeds `max_bulk`.
    #[error("invalid bulk length")]
    InvalidBulkLength,
    /// An inline request longer than `max_inline` without its newline.
    #[error("too big inline request")]
    TooBigInlineRequest,
    /// A `*` header longer than `max_inline` without its CRLF.
    #[error("too big mbulk count string")]
    TooBigMultibulkCount,
    /// A `$` header longer than `max_inline` without its CRLF.
    #[error("too big bulk count string")]
    TooBigBulkCount,
    /// A simple string or error line longer than `max_inline`.
    #[error("too big line: expected CRLF within the line limit")]
    TooBigLine,
    /// A request's argument does not start with `$`.
    #[error("expected '$', got '{}'", Escaped(*got))]
    ExpectedDollar {
        /// The byte found instead.
        got: u8,
    },
    /// An inline request with an unterminated quote, or a closing quote
    /// followed by something other than a space.
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
    /// A line's CR not followed by LF.
    #[error("expected '\\n' after '\\r', got '{}'", Escaped(*got))]
    ExpectedLf {
        /// The byte found after the CR.
        got: u8,
    },
    /// Bulk data not followed by CRLF where its length says it ends.
    #[error("expected CRLF after bulk data")]
    ExpectedCrlfAfterBulk,
    /// An integer frame (`:`) whose line is not a decimal i64.
    #[error("invalid integer")]
    InvalidInteger,
    /// A frame starting with a byte that is no RESP2 type.
    #[error("unknown frame type '{}': expected one of + - : $ *", Escaped(*got))]
    UnknownType {
        /// The first byte of the frame.
        got: u8,
    },
    /// Arrays nested deeper than `max_depth`.
    #[error("arrays nested deeper than {max} levels")]
    TooDeep {
        /// The limit that was exceeded.
        max: usize,
    },
}

/// A byte shown the way a protocol error line can carry it: printable ASCII
/// as itself, anything else (notably CR and LF) escaped.
struct Escaped(u8);

impl fmt::Display for Escaped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::lines::{header, line_end, parse_i64};
    use super::*;
    use bytes::BytesMut;

    #[test]
    fn before_auth_caps_requests_like_redis() {
        let pre = Limits::default().before_auth();
        let parse = |wire: &[u8]| parse_request(&mut BytesMut::from(wire), &pre);
        // The header alone is enough: the 500 MiB body is never waited for.
        assert_eq!(
            parse(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$524288000\r\n"),
            Err(ProtocolError::UnauthenticatedBulkLength)
        );
        assert_eq!(
            parse(b"*11\r\n"),
            Err(ProtocolError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(
            ProtocolError::UnauthenticatedBulkLength.to_string(),
            "unauthenticated bulk length"
        );
        assert_eq!(
            ProtocolError::UnauthenticatedMultibulkLength.to_string(),
            "unauthenticated multibulk length"
        );
        // At the caps, requests still parse (AUTH with a long password).
        let mut wire = BytesMut::from(&b"*10\r\n"[..]);
        for _ in 0..9 {
            write_bulk(&mut wire, b"a");
        }
        write_bulk(&mut wire, &[b'p'; PRE_AUTH_MAX_BULK]);
        let args = parse_request(&mut wire, &pre).unwrap().unwrap();
        assert_eq!(args.len(), PRE_AUTH_MAX_ARRAY);
        // Malformed lengths keep their usual error.
        assert_eq!(
            parse(b"*1\r\n$x\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        // Authenticated, the same header is within the usual limits.
        let mut big = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(parse_request(&mut big, &Limits::default()), Ok(None));
    }

    #[test]
    fn before_auth_never_raises_a_smaller_limit() {
        let small = Limits {
            max_bulk: 100,
            max_array: 4,
            ..Limits::default()
        }
        .before_auth();
        assert_eq!((small.max_bulk, small.max_array), (100, 4));
        assert!(small.unauthenticated);
    }

    #[test]
    fn numbers_parse_like_string2ll() {
        for (text, value) in [
            (&b"0"[..], Some(0)),
            (b"12", Some(12)),
            (b"-1", Some(-1)),
            (b"9223372036854775807", Some(i64::MAX)),
            (b"-9223372036854775808", Some(i64::MIN)),
            (b"9223372036854775808", None),
            (b"-0", None),
            (b"+1", None),
            (b"01", None),
            (b"", None),
            (b"-", None),
            (b" 1", None),
            (b"1x", None),
        ] {
            assert_eq!(parse_i64(text), value, "{}", text.escape_ascii());
        }
    }

    #[test]
    fn header_fast_path_agrees_with_the_general_one() {
        let lines: [&[u8]; 14] = [
            b"$0\r\n",
            b"$7\r\n",
            b"$16\r\n",
            b"$01\r\n",
            b"$-1\r\n",
            b"$\r\n",
            b"$12\r",
            b"$12\rx",
            b"$999999999999999999\r\n",
            b"$9999999999999999999\r\n",
            b"$99999999999999999999\r\n",
            b"$1 \r\n",
            b"$123456\r\n",
            b"$1234567\r\n",
        ];
        for line in lines {
            for max_line in [0, 1, 2, 6, 64] {
                let general = line_end(line, 1, max_line, ProtocolError::TooBigBulkCount)
                    .map(|cr| cr.map(|cr| (parse_i64(&line[1..cr]), cr + 2)));
                assert_eq!(
                    header(line, 0, max_line, ProtocolError::TooBigBulkCount),
                    general,
                    "{} with lines up to {max_line}",
                    line.escape_ascii()
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn header_fast_path_agrees_on_any_line(
            body in proptest::collection::vec(
                proptest::sample::select(&b"0123456789-+\r\n x"[..]), 0..24),
            max_line in 0..24usize,
        ) {
            let line = [&b"$"[..], &body].concat();
            let general = line_end(&line, 1, max_line, ProtocolError::TooBigBulkCount)
                .map(|cr| cr.map(|cr| (parse_i64(&line[1..cr]), cr + 2)));
            proptest::prop_assert_eq!(
                header(&line, 0, max_line, ProtocolError::TooBigBulkCount),
                general
            );
        }
    }

    #[test]
    fn decimals_are_written_exactly() {
        for v in [0, 7, -7, 10, 1234567890, i64::MAX, i64::MIN] {
            let mut out = BytesMut::new();
            write_integer(&mut out, v);
            assert_eq!(&out[..], format!(":{v}\r\n").as_bytes());
        }
    }

    #[test]
    fn a_decoder_whose_buffer_was_swapped_errs_instead_of_panicking() {
        let limits = Limits::default();
        let mut decoder = RequestDecoder::new();
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n"[..]);
        assert_eq!(decoder.decode(&mut buf, &limits), Ok(None));
        // The caller breaks the contract: the scan resumes at byte 13 and
        // finds a valid argument there, but the first argument now claims
        // 30 bytes that the request does not hold.
        let mut swapped = BytesMut::from(&b"*2\r\n$30\r\nGE\r\n$1\r\nx\r\n"[..]);
        assert_eq!(
            decoder.decode(&mut swapped, &limits),
            Err(ProtocolError::InvalidBulkLength)
        );
    }

    #[test]
    fn error_texts_match_redis() {
        assert_eq!(
            ProtocolError::ExpectedDollar { got: b'x' }.to_string(),
            "expected '$', got 'x'"
        );
        assert_eq!(
            ProtocolError::ExpectedDollar { got: b'\r' }.to_string(),
            "expected '$', got '\\r'"
        );
        assert_eq!(
            ProtocolError::InvalidBulkLength.to_string(),
            "invalid bulk length"
        );
    }
}
