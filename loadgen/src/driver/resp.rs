//! The driver's view of RESP2: encode a command, and classify one reply
//! without allocating (the driver only needs ok / nil / error-kind, never the
//! reply's contents).

/// Why the bytes from a server are not a RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("reply starts with byte {0:#04x}; expected one of + - : $ *")]
    BadType(u8),
    #[error("reply has a malformed length line; expected an integer >= -1")]
    BadLength,
    #[error("bulk reply is not followed by CRLF")]
    MissingCrlf,
    #[error("reply nests arrays deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// Deepest array nesting accepted in a reply.
pub const MAX_DEPTH: usize = 32;

/// What one reply means to the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Any non-error, non-nil reply.
    Value,
    /// A nil bulk or nil array: a GET that found nothing.
    Nil,
    /// An error reply; the range of its first word in the scanned buffer.
    Error { start: usize, end: usize },
}

/// Appends a command as an array of bulk strings.
pub fn write_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    write_decimal(out, args.len() as u64);
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        write_decimal(out, a.len() as u64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `n` in decimal without going through `fmt` (this is per request).
pub fn write_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Classifies the reply at the start of `buf`: `Ok(Some((reply, len)))` when
/// a whole reply of `len` bytes is buffered, `Ok(None)` when more bytes are
/// needed.
pub fn scan_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
    scan_at(buf, 0, 0)
}

/// The reply starting at `pos`; lengths returned are end offsets minus `pos`.
fn scan_at(buf: &[u8], pos: usize, depth: usize) -> Result<Option<(Reply, usize)>, ReplyError> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some(eol) = find_crlf(buf, pos + 1) else {
        return Ok(None);
    };
    let line = &buf[pos + 1..eol];
    let after = eol + 2;
    match kind {
        b'+' | b':' => Ok(Some((Reply::Value, after - pos))),
        b'-' => {
            let start = pos + 1;
            let end = start + line.iter().position(|&b| b == b' ').unwrap_or(line.len());
            Ok(Some((Reply::Error { start, end }, after - pos)))
        }
        b'$' => {
            let len = parse_len(line)?;
            if len < 0 {
                return Ok(Some((Reply::Nil, after - pos)));
            }
            let end = after + len as usize;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(ReplyError::MissingCrlf);
            }
            Ok(Some((Reply::Value, end + 2 - pos)))
        }
        b'*' => {
            let n = parse_len(line)?;
            if n < 0 {
                return Ok(Some((Reply::Nil, after - pos)));
            }
            if depth >= MAX_DEPTH {
                return Err(ReplyError::TooDeep);
            }
            let mut at = after;
            for _ in 0..n {
                match scan_at(buf, at, depth + 1)? {
                    Some((_, len)) => at += len,
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Value, at - pos)))
        }
        other => Err(ReplyError::BadType(other)),
    }
}

/// Index of the next `\r\n` at or after `from`.
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < buf.len() {
        match buf[i..buf.len() - 1].iter().position(|&b| b == b'\r') {
            Some(off) => {
                let at = i + off;
                if buf[at + 1] == b'\n' {
                    return Some(at);
                }
                i = at + 1;
            }
            None => return None,
        }
    }
    None
}

/// A RESP length: -1 or a non-negative decimal below 2^32.
fn parse_len(line: &[u8]) -> Result<i64, ReplyError> {
    if line == b"-1" {
        return Ok(-1);
    }
    if line.is_empty() || line.len() > 10 || !line.iter().all(u8::is_ascii_digit) {
        return Err(ReplyError::BadLength);
    }
    let n = line
        .iter()
        .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
    if n > i64::from(u32::MAX) {
        return Err(ReplyError::BadLength);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_encode_as_bulk_arrays() {
        let mut out = Vec::new();
        write_command(&mut out, &[b"SET", b"key:000000000001", b"xyz"]);
        assert_eq!(
            out,
            b"*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000001\r\n$3\r\nxyz\r\n"
        );
    }

    #[test]
    fn replies_classify_and_report_their_length() {
        let cases: &[(&[u8], Reply)] = &[
            (b"+OK\r\n", Reply::Value),
            (b":1\r\n", Reply::Value),
            (b"$-1\r\n", Reply::Nil),
            (b"*-1\r\n", Reply::Nil),
            (b"$3\r\nabc\r\n", Reply::Value),
            (b"$0\r\n\r\n", Reply::Value),
            (b"*2\r\n$1\r\na\r\n:5\r\n", Reply::Value),
            (
                b"-OVERLOADED queue full\r\n",
                Reply::Error { start: 1, end: 11 },
            ),
            (b"-ERR\r\n", Reply::Error { start: 1, end: 4 }),
        ];
        for (bytes, want) in cases {
            let mut buf = bytes.to_vec();
            buf.extend_from_slice(b"+NEXT\r\n");
            assert_eq!(
                scan_reply(&buf),
                Ok(Some((*want, bytes.len()))),
                "{bytes:?}"
            );
            // Every strict prefix needs more bytes.
            for cut in 0..bytes.len() {
                assert_eq!(
                    scan_reply(&bytes[..cut]),
                    Ok(None),
                    "{bytes:?} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(scan_reply(b"hello\r\n"), Err(ReplyError::BadType(b'h')));
        assert_eq!(scan_reply(b"$-5\r\n"), Err(ReplyError::BadLength));
        assert_eq!(scan_reply(b"$x\r\n"), Err(ReplyError::BadLength));
        assert_eq!(scan_reply(b"$1\r\nab\r\n"), Err(ReplyError::MissingCrlf));
        let deep = "*1\r\n".repeat(MAX_DEPTH + 1);
        assert_eq!(scan_reply(deep.as_bytes()), Err(ReplyError::TooDeep));
    }
}
