//! Client requests: multibulk (incrementally, in a [`RequestDecoder`]) and
//! inline.

use bytes::{Bytes, BytesMut};

use super::lines::*;
use super::{Limits, ProtocolError};

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
