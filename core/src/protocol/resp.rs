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

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

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

// ---------------------------------------------------------------------------
// Lines and numbers

/// Finds the line starting at `start`: the position of its CR, or `None` if
/// the CRLF is not buffered yet. A line longer than `max` is `too_long`.
#[inline]
fn line_end(
    buf: &[u8],
    start: usize,
    max: usize,
    too_long: ProtocolError,
) -> Result<Option<usize>, ProtocolError> {
    let rest = buf.get(start..).unwrap_or_default();
    let window = &rest[..rest.len().min(max.saturating_add(1))];
    match memchr::memchr(b'\r', window) {
        Some(i) => match rest.get(i + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some(start + i)),
            Some(&got) => Err(ProtocolError::ExpectedLf { got }),
        },
        None if window.len() > max => Err(too_long),
        None => Ok(None),
    }
}

/// Parses a decimal i64 the way Redis's `string2ll` does: an optional `-`,
/// digits, no `+`, no leading zeros, no spaces, no overflow.
fn parse_i64(digits: &[u8]) -> Option<i64> {
    let (negative, body) = match digits {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, digits),
    };
    match body {
        [] => return None,
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    let mut value: u64 = 0;
    for &d in body {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(value)
    } else {
        i64::try_from(value).ok()
    }
}

/// Reads the number on the header line that starts after the type byte at
/// `start`: the value (or `None` if not a number) and where the next item
/// begins; `Ok(None)` if the line is incomplete.
#[inline]
fn header(
    buf: &[u8],
    start: usize,
    max_line: usize,
    too_long: ProtocolError,
) -> Result<Option<(Option<i64>, usize)>, ProtocolError> {
    // Fast path for the usual header, a few digits then CRLF: one pass
    // that finds the CR and the value together. Anything else (a sign, a
    // leading zero, a long or incomplete line) takes the general path.
    let digits = buf.get(start + 1..).unwrap_or_default();
    let mut value = 0u64;
    for (i, &b) in digits.iter().take(MAX_FAST_DIGITS + 1).enumerate() {
        match b {
            // At most 18 digits: below 10^18, no overflow in u64 or i64.
            b'0'..=b'9' => value = value * 10 + u64::from(b - b'0'),
            b'\r'
                if i > 0
                    && i <= max_line
                    && (digits[0] != b'0' || i == 1)
                    && digits.get(i + 1) == Some(&b'\n') =>
            {
                return Ok(Some((Some(value as i64), start + 1 + i + 2)));
            }
            _ => break,
        }
    }
    let Some(cr) = line_end(buf, start + 1, max_line, too_long)? else {
        return Ok(None);
    };
    Ok(Some((parse_i64(&buf[start + 1..cr]), cr + 2)))
}

/// Longest header number the fast path of [`header`] reads.
const MAX_FAST_DIGITS: usize = 18;

/// A bulk length as an in-range `usize`, else `InvalidBulkLength`.
#[inline]
fn bulk_len(value: Option<i64>, limits: &Limits) -> Result<usize, ProtocolError> {
    let len = value
        .and_then(|v| usize::try_from(v).ok())
        .ok_or(ProtocolError::InvalidBulkLength)?;
    if len > limits.max_bulk {
        return Err(limits.too_long());
    }
    Ok(len)
}

/// The body of a bulk of `len` bytes starting at `start`: its end, or
/// `None` if it (with its CRLF) is not all buffered.
#[inline]
fn bulk_body(buf: &[u8], start: usize, len: usize) -> Result<Option<usize>, ProtocolError> {
    // Only a `max_bulk` near usize::MAX lets these overflow; no buffer
    // could ever hold such a bulk.
    let end = start
        .checked_add(len)
        .filter(|end| *end <= usize::MAX - 2)
        .ok_or(ProtocolError::InvalidBulkLength)?;
    match buf.get(end..end + 2) {
        None => Ok(None),
        Some(b"\r\n") => Ok(Some(end)),
        Some(_) => Err(ProtocolError::ExpectedCrlfAfterBulk),
    }
}

// ---------------------------------------------------------------------------
// Requests

/// Where a multibulk request in progress has got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Progress {
    /// Arguments the request declared.
    argc: usize,
    /// Arguments not yet scanned.
    left: usize,
    /// Offset of the next unscanned argument's `$` header.
    pos: usize,
}

/// A request parser that remembers how far it scanned a multibulk request
/// that is not complete yet, so a large request arriving over many reads is
/// scanned once rather than from its start on every read.
///
/// Feed it the same buffer each time, with bytes only appended between
/// calls (the usual read loop); any other change to the buffer's front
/// before the request completes gives wrong arguments or an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestDecoder {
    /// The multibulk request being scanned, if one is in progress.
    progress: Option<Progress>,
    /// Buffer length needed before scanning can go on, when known (the end
    /// of a bulk body being waited for).
    wanted: Option<usize>,
}

impl RequestDecoder {
    /// A decoder between requests.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many bytes the buffer must hold before the request in progress
    /// can advance, when a bulk's header has announced it (the caller can
    /// reserve that much at once for a large value).
    pub fn wanted_len(&self) -> Option<usize> {
        self.wanted
    }

    /// Parses one request from the front of `buf`: see [`parse_request`].
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let result = self.decode_inner(buf, limits);
        if !matches!(result, Ok(None)) {
            self.progress = None;
            self.wanted = None;
        }
        result
    }

    fn decode_inner(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        self.wanted = None;
        let mut progress = match self.progress.take() {
            Some(p) if p.pos <= buf.len() => p,
            _ => loop {
                // Between requests: skip empty ones the way Redis does.
                let Some(&first) = buf.first() else {
                    return Ok(None);
                };
                if first != b'*' {
                    match parse_inline(buf, limits)? {
                        Inline::Incomplete => return Ok(None),
                        Inline::Empty => continue,
                        Inline::Args(args) => return Ok(Some(args)),
                    }
                }
                let Some((count, next)) = header(
                    buf,
                    0,
                    limits.max_inline,
                    ProtocolError::TooBigMultibulkCount,
                )?
                else {
                    return Ok(None);
                };
                match count {
                    None => return Err(ProtocolError::InvalidMultibulkLength),
                    Some(c) if c <= 0 => {
                        let _ = buf.split_to(next);
                    }
                    Some(c) => match usize::try_from(c) {
                        Ok(argc) if argc <= limits.max_array => {
                            break Progress {
                                argc,
                                left: argc,
                                pos: next,
                            };
                        }
                        Ok(_) => return Err(limits.too_many()),
                        Err(_) => return Err(ProtocolError::InvalidMultibulkLength),
                    },
                }
            },
        };
        // Most requests arrive whole and are short: remember where their
        // arguments are while scanning, so building them needs no second
        // walk over the headers.
        let mut spans = [(0usize, 0usize); SPANS];
        let whole = progress.left == progress.argc && progress.argc <= SPANS;
        while progress.left > 0 {
            match scan_argument(buf, progress.pos, limits)? {
                Scan::Done { data, end } => {
                    if whole {
                        spans[progress.argc - progress.left] = (data, end);
                    }
                    progress.pos = end + 2;
                    progress.left -= 1;
                }
                Scan::Need(wanted) => {
                    self.wanted = wanted;
                    self.progress = Some(progress);
                    return Ok(None);
                }
            }
        }
        let frozen = buf.split_to(progress.pos).freeze();
        if whole {
            let spans = &spans[..progress.argc];
            return Ok(Some(
                spans.iter().map(|&(s, e)| frozen.slice(s..e)).collect(),
            ));
        }
        build_arguments(&frozen, progress.argc, limits).map(Some)
    }
}

/// Requests of up to this many arguments are built from the spans found
/// while scanning them (when they arrive whole).
const SPANS: usize = 16;

/// What scanning one argument found.
enum Scan {
    /// The argument is complete: its data is `data..end`, and the next
    /// argument starts at `end + 2`.
    Done { data: usize, end: usize },
    /// More bytes are needed (the buffer length that would do, if known).
    Need(Option<usize>),
}

/// Scans the `$len\r\n<data>\r\n` argument at `pos`.
#[inline]
fn scan_argument(buf: &[u8], pos: usize, limits: &Limits) -> Result<Scan, ProtocolError> {
    let Some(&first) = buf.get(pos) else {
        return Ok(Scan::Need(None));
    };
    if first != b'$' {
        return Err(ProtocolError::ExpectedDollar { got: first });
    }
    let Some((value, data)) = header(buf, pos, limits.max_inline, ProtocolError::TooBigBulkCount)?
    else {
        return Ok(Scan::Need(None));
    };
    let len = bulk_len(value, limits)?;
    Ok(match bulk_body(buf, data, len)? {
        Some(end) => Scan::Done { data, end },
        None => Scan::Need(Some(data + len + 2)), // no overflow: checked by bulk_body
    })
}

/// Slices the arguments out of a complete, already scanned request.
fn build_arguments(
    frozen: &Bytes,
    argc: usize,
    limits: &Limits,
) -> Result<Vec<Bytes>, ProtocolError> {
    // A scanned argument takes at least six bytes (`$0\r\n\r\n`); capping
    // by the bytes present keeps a caller who broke the decoder's contract
    // from making it reserve for a declared count that is not there.
    let mut args = Vec::with_capacity(argc.min(frozen.len() / 6));
    let mut pos = match line_end(frozen, 0, limits.max_inline, ProtocolError::TooBigLine)? {
        Some(cr) => cr + 2,
        None => return Err(ProtocolError::InvalidMultibulkLength),
    };
    for _ in 0..argc {
        let Some((value, data)) = header(
            frozen,
            pos,
            limits.max_inline,
            ProtocolError::TooBigBulkCount,
        )?
        else {
            return Err(ProtocolError::InvalidBulkLength);
        };
        let len = bulk_len(value, limits)?;
        // Checked again rather than trusted: a caller that changed the
        // buffer between `decode` calls must get an error, not a panic.
        let Some(end) = bulk_body(frozen, data, len)? else {
            return Err(ProtocolError::InvalidBulkLength);
        };
        args.push(frozen.slice(data..end));
        pos = end + 2;
    }
    Ok(args)
}

/// Client->server requests: an array of bulk strings, or an inline command
/// ("PING\r\n", "SET a b\r\n", with Redis's quoting rules for "..." and '...').
/// Ok(Some(args)) consumes the request's bytes from buf; Ok(None) = need more
/// bytes (buf untouched); Err = protocol error (caller closes the connection).
/// Empty inline lines are skipped like Redis does. Zero-copy: args are slices
/// of the frozen buffer.
///
/// Empty requests (`*0`, `*-1`, blank lines) are consumed even when the call
/// then returns `Ok(None)`. A request split over many reads is scanned from
/// its start on each call; [`RequestDecoder`] resumes instead.
pub fn parse_request(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    RequestDecoder::new().decode(buf, limits)
}

// ---------------------------------------------------------------------------
// Inline requests

/// What an inline line held.
enum Inline {
    /// No newline buffered yet.
    Incomplete,
    /// A blank line, consumed.
    Empty,
    /// The arguments of the line, consumed.
    Args(Vec<Bytes>),
}

/// An inline argument: a span of the line, or rebuilt bytes when quoting
/// escapes changed it.
enum Arg {
    Span(usize, usize),
    Owned(Vec<u8>),
}

/// Parses the inline request at the front of `buf` (which does not start
/// with `*`).
fn parse_inline(buf: &mut BytesMut, limits: &Limits) -> Result<Inline, ProtocolError> {
    let window = &buf[..buf.len().min(limits.max_inline.saturating_add(1))];
    let Some(newline) = memchr::memchr(b'\n', window) else {
        return if window.len() > limits.max_inline {
            Err(ProtocolError::TooBigInlineRequest)
        } else {
            Ok(Inline::Incomplete)
        };
    };
    let line_len = if newline > 0 && buf[newline - 1] == b'\r' {
        newline - 1
    } else {
        newline
    };
    let spans = split_inline(&buf[..line_len])?;
    let frozen = buf.split_to(newline + 1).freeze();
    if spans.is_empty() {
        return Ok(Inline::Empty);
    }
    Ok(Inline::Args(
        spans
            .into_iter()
            .map(|arg| match arg {
                Arg::Span(start, end) => frozen.slice(start..end),
                Arg::Owned(bytes) => Bytes::from(bytes),
            })
            .collect(),
    ))
}

/// Redis's inline whitespace (C `isspace`).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits an inline line into arguments with Redis's `sdssplitargs` rules:
/// whitespace separates; `"..."` understands `\n \r \t \b \a \\ \" \xHH`;
/// `'...'` understands only `\'`; quotes may start mid-argument; a closing
/// quote must be followed by whitespace or the end of the line.
fn split_inline(line: &[u8]) -> Result<Vec<Arg>, ProtocolError> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i == line.len() {
            return Ok(args);
        }
        let start = i;
        // Bytes of the argument, once quoting made it differ from the line.
        let mut owned: Option<Vec<u8>> = None;
        while i < line.len() && !is_space(line[i]) {
            let quote = line[i];
            if quote != b'"' && quote != b'\'' {
                if let Some(o) = owned.as_mut() {
                    o.push(quote);
                }
                i += 1;
                continue;
            }
            let out = owned.get_or_insert_with(|| line[start..i].to_vec());
            i += 1;
            loop {
                let Some(&c) = line.get(i) else {
                    return Err(ProtocolError::UnbalancedQuotes);
                };
                if c == quote {
                    i += 1;
                    if line.get(i).is_some_and(|&next| !is_space(next)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    break;
                }
                if c == b'\\' && quote == b'"' {
                    let hex = line
                        .get(i + 2..i + 4)
                        .filter(|_| line.get(i + 1) == Some(&b'x'))
                        .and_then(|h| Some(hex_value(h[0])? << 4 | hex_value(h[1])?));
                    if let Some(byte) = hex {
                        out.push(byte);
                        i += 4;
                        continue;
                    }
                    if let Some(&e) = line.get(i + 1) {
                        out.push(match e {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                        i += 2;
                        continue;
                    }
                } else if c == b'\\' && quote == b'\'' && line.get(i + 1) == Some(&b'\'') {
                    out.push(b'\'');
                    i += 2;
                    continue;
                }
                out.push(c);
                i += 1;
            }
        }
        args.push(match owned {
            Some(bytes) => Arg::Owned(bytes),
            None => Arg::Span(start, i),
        });
    }
}

// ---------------------------------------------------------------------------
// Frames

/// One frame header, read at a position.
enum Item {
    /// A complete scalar frame.
    Scalar(Frame),
    /// An array header announcing this many elements.
    Array(usize),
}

/// Reads the frame or array header at `pos`. With `source`, scalars are
/// built as slices of it; without, they are only checked (and returned as
/// `Frame::Null` placeholders).
#[inline]
fn item(
    buf: &[u8],
    pos: usize,
    limits: &Limits,
    source: Option<&Bytes>,
) -> Result<Option<(Item, usize)>, ProtocolError> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let slice = |start: usize, end: usize| source.map(|s| s.slice(start..end));
    Ok(Some(match kind {
        b'+' | b'-' => {
            let Some(cr) = line_end(buf, pos + 1, limits.max_inline, ProtocolError::TooBigLine)?
            else {
                return Ok(None);
            };
            let frame = match slice(pos + 1, cr) {
                Some(b) if kind == b'+' => Frame::Simple(b),
                Some(b) => Frame::Error(b),
                None => Frame::Null,
            };
            (Item::Scalar(frame), cr + 2)
        }
        b':' => {
            let Some((value, next)) =
                header(buf, pos, limits.max_inline, ProtocolError::TooBigLine)?
            else {
                return Ok(None);
            };
            let value = value.ok_or(ProtocolError::InvalidInteger)?;
            (Item::Scalar(Frame::Integer(value)), next)
        }
        b'$' => {
            let Some((value, data)) =
                header(buf, pos, limits.max_inline, ProtocolError::TooBigBulkCount)?
            else {
                return Ok(None);
            };
            if value == Some(-1) {
                return Ok(Some((Item::Scalar(Frame::Null), data)));
            }
            let len = bulk_len(value, limits)?;
            let Some(end) = bulk_body(buf, data, len)? else {
                return Ok(None);
            };
            let frame = slice(data, end).map_or(Frame::Null, Frame::Bulk);
            (Item::Scalar(frame), end + 2)
        }
        b'*' => {
            let Some((value, next)) = header(
                buf,
                pos,
                limits.max_inline,
                ProtocolError::TooBigMultibulkCount,
            )?
            else {
                return Ok(None);
            };
            let item = match value {
                Some(-1) => Item::Scalar(Frame::NullArray),
                Some(n) => match usize::try_from(n) {
                    Ok(count) if count <= limits.max_array => Item::Array(count),
                    Ok(_) => return Err(limits.too_many()),
                    Err(_) => return Err(ProtocolError::InvalidMultibulkLength),
                },
                None => return Err(ProtocolError::InvalidMultibulkLength),
            };
            (item, next)
        }
        got => return Err(ProtocolError::UnknownType { got }),
    }))
}

/// An array being filled while walking a frame.
struct Open {
    /// Elements still to read.
    left: usize,
    /// Elements read so far (empty when only checking).
    items: Vec<Frame>,
}

/// Walks the frame at the front of `buf` without recursion (so
/// `max_depth` bounds memory, not the call stack): its end, and the frame
/// when `source` is given, or `Ok(None)` if it is not all buffered.
fn walk(
    buf: &[u8],
    limits: &Limits,
    source: Option<&Bytes>,
) -> Result<Option<(usize, Frame)>, ProtocolError> {
    let mut open: Vec<Open> = Vec::new();
    let mut pos = 0;
    loop {
        let Some((item, next)) = item(buf, pos, limits, source)? else {
            return Ok(None);
        };
        pos = next;
        let mut done = match item {
            Item::Scalar(frame) => frame,
            Item::Array(count) => {
                if open.len() >= limits.max_depth {
                    return Err(ProtocolError::TooDeep {
                        max: limits.max_depth,
                    });
                }
                if count == 0 {
                    Frame::Array(Vec::new())
                } else {
                    // The whole frame is buffered when building, so `count`
                    // elements of at least 3 bytes each are really there.
                    let items = if source.is_some() {
                        Vec::with_capacity(count)
                    } else {
                        Vec::new()
                    };
                    open.push(Open { left: count, items });
                    continue;
                }
            }
        };
        // A complete element fills its array; a filled array is itself a
        // complete element of the one around it.
        loop {
            let Some(top) = open.last_mut() else {
                return Ok(Some((pos, done)));
            };
            if source.is_some() {
                top.items.push(done);
            }
            top.left -= 1;
            if top.left > 0 {
                break;
            }
            let filled = open.pop().map(|o| o.items).unwrap_or_default();
            done = Frame::Array(filled);
        }
    }
}

/// Any RESP2 frame (what servers reply, what peers exchange): same contract
/// as [`parse_request`]. A frame split over many reads is checked from its
/// start on each call.
pub fn parse_frame(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Frame>, ProtocolError> {
    let Some((end, _)) = walk(buf, limits, None)? else {
        return Ok(None);
    };
    let frozen = buf.split_to(end).freeze();
    match walk(&frozen, limits, Some(&frozen))? {
        Some((_, frame)) => Ok(Some(frame)),
        None => panic!("a frame checked complete was incomplete when built"),
    }
}

// ---------------------------------------------------------------------------
// Encoding

/// Appends `value` in decimal.
#[inline]
fn put_decimal(out: &mut BytesMut, value: i64) {
    if value < 0 {
        out.put_u8(b'-');
    }
    put_unsigned(out, value.unsigned_abs());
}

#[inline]
fn put_unsigned(out: &mut BytesMut, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}

/// Appends a line's text with CR and LF replaced by spaces: either would end
/// the line early and desynchronise the peer (Redis does the same for
/// error replies).
#[inline]
fn put_line_text(out: &mut BytesMut, text: &[u8]) {
    if memchr::memchr2(b'\r', b'\n', text).is_none() {
        out.put_slice(text);
    } else {
        out.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    }
}

/// `+text\r\n` (CR and LF in `s` become spaces).
pub fn write_simple(out: &mut BytesMut, s: &[u8]) {
    out.reserve(s.len() + 3);
    out.put_u8(b'+');
    put_line_text(out, s);
    out.put_slice(b"\r\n");
}

/// `-text\r\n` (CR and LF in `s` become spaces).
pub fn write_error(out: &mut BytesMut, s: &[u8]) {
    out.reserve(s.len() + 3);
    out.put_u8(b'-');
    put_line_text(out, s);
    out.put_slice(b"\r\n");
}

/// `:value\r\n`.
pub fn write_integer(out: &mut BytesMut, value: i64) {
    out.reserve(23);
    out.put_u8(b':');
    put_decimal(out, value);
    out.put_slice(b"\r\n");
}

/// `$len\r\nbytes\r\n`.
pub fn write_bulk(out: &mut BytesMut, b: &[u8]) {
    out.reserve(b.len() + 25);
    out.put_u8(b'$');
    put_unsigned(out, b.len() as u64);
    out.put_slice(b"\r\n");
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

/// `$-1\r\n`: the null bulk string.
pub fn write_null(out: &mut BytesMut) {
    out.put_slice(b"$-1\r\n");
}

/// `*-1\r\n`: the null array.
pub fn write_null_array(out: &mut BytesMut) {
    out.put_slice(b"*-1\r\n");
}

/// `*len\r\n`: the header of an array whose `len` elements follow.
pub fn write_array_header(out: &mut BytesMut, len: usize) {
    out.reserve(23);
    out.put_u8(b'*');
    put_unsigned(out, len as u64);
    out.put_slice(b"\r\n");
}

/// The protocol a client connection speaks, chosen with `HELLO 2|3`.
///
/// Replies are written for one connection at a time, so the version travels
/// with the command (the session, then the plan's context) rather than
/// living in a global: two connections of one node may speak different
/// versions. Requests are RESP2 arrays (or inline) in both: RESP3 only
/// changes what the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Proto {
    /// RESP2, what every connection starts with.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

impl Proto {
    /// The number HELLO shows as `proto`.
    pub fn version(self) -> i64 {
        match self {
            Proto::Resp2 => 2,
            Proto::Resp3 => 3,
        }
    }
}

/// A missing value: `$-1` in RESP2, `_` in RESP3.
pub fn write_nil(out: &mut BytesMut, proto: Proto) {
    match proto {
        Proto::Resp2 => write_null(out),
        Proto::Resp3 => out.put_slice(b"_\r\n"),
    }
}

/// A missing array: `*-1` in RESP2, `_` in RESP3.
pub fn write_nil_array(out: &mut BytesMut, proto: Proto) {
    match proto {
        Proto::Resp2 => write_null_array(out),
        Proto::Resp3 => out.put_slice(b"_\r\n"),
    }
}

/// The header of a map of `pairs` key-value pairs: `%pairs` in RESP3, a
/// flat array of twice as many elements in RESP2 (as Redis flattens maps).
pub fn write_map_header(out: &mut BytesMut, proto: Proto, pairs: usize) {
    match proto {
        Proto::Resp2 => write_array_header(out, pairs * 2),
        Proto::Resp3 => write_aggregate_header(out, b'%', pairs),
    }
}

/// The header of a set of `len` elements: `~len` in RESP3, an array in
/// RESP2.
pub fn write_set_header(out: &mut BytesMut, proto: Proto, len: usize) {
    match proto {
        Proto::Resp2 => write_array_header(out, len),
        Proto::Resp3 => write_aggregate_header(out, b'~', len),
    }
}

/// Text for people (INFO): a verbatim string `=len\r\ntxt:...` in RESP3,
/// a bulk string in RESP2. `format` is three bytes (`txt`, `mkd`).
pub fn write_verbatim(out: &mut BytesMut, proto: Proto, format: &[u8; 3], text: &[u8]) {
    match proto {
        Proto::Resp2 => write_bulk(out, text),
        Proto::Resp3 => {
            out.reserve(text.len() + 29);
            out.put_u8(b'=');
            put_unsigned(out, text.len() as u64 + 4);
            out.put_slice(b"\r\n");
            out.put_slice(format);
            out.put_u8(b':');
            out.put_slice(text);
            out.put_slice(b"\r\n");
        }
    }
}

fn write_aggregate_header(out: &mut BytesMut, kind: u8, len: usize) {
    out.reserve(23);
    out.put_u8(kind);
    put_unsigned(out, len as u64);
    out.put_slice(b"\r\n");
}

/// A request as an array of bulks (what clients send).
pub fn write_command(out: &mut BytesMut, args: &[&[u8]]) {
    out.reserve(args.iter().map(|a| a.len() + 25).sum::<usize>() + 23);
    write_array_header(out, args.len());
    for arg in args {
        write_bulk(out, arg);
    }
}

/// Appends `frame`'s encoding. Simple strings and errors containing CR or
/// LF have them replaced by spaces (see [`write_simple`]).
pub fn encode(frame: &Frame, out: &mut BytesMut) {
    match frame {
        Frame::Simple(s) => write_simple(out, s),
        Frame::Error(s) => write_error(out, s),
        Frame::Integer(i) => write_integer(out, *i),
        Frame::Bulk(b) => write_bulk(out, b),
        Frame::Null => write_null(out),
        Frame::NullArray => write_null_array(out),
        Frame::Array(items) => {
            write_array_header(out, items.len());
            for item in items {
                encode(item, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
