//! Lines and numbers: the CRLF-terminated headers every RESP item starts with.

use super::{Limits, ProtocolError};

/// Finds the line starting at `start`: the position of its CR, or `None` if
/// the CRLF is not buffered yet. A line longer than `max` is `too_long`.
#[inline]
pub(super) fn line_end(
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
pub(super) fn parse_i64(digits: &[u8]) -> Option<i64> {
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
pub(super) fn header(
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
pub(super) const MAX_FAST_DIGITS: usize = 18;

/// A bulk length as an in-range `usize`, else `InvalidBulkLength`.
#[inline]
pub(super) fn bulk_len(value: Option<i64>, limits: &Limits) -> Result<usize, ProtocolError> {
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
pub(super) fn bulk_body(
    buf: &[u8],
    start: usize,
    len: usize,
) -> Result<Option<usize>, ProtocolError> {
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
