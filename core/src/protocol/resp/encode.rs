//! Encoding: the writers of replies and frames, RESP2 and RESP3.

use bytes::{BufMut, BytesMut};

use super::Frame;

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
