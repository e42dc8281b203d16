//! Reading a node's replies on a client connection: the common single
//! replies (a bulk string, a null, a status or an error line) in place, the
//! rest through the RESP parser, and an error reply's kind.

use bytes::Bytes;
use ringlab_core::protocol::resp::Frame;

/// `bytes` as exactly one bulk string, null bulk, status or error line,
/// as [`parse_frame`] would read it; None for anything else.
pub fn simple_reply(bytes: &Bytes) -> Option<Frame> {
    let b = &bytes[..];
    let n = b.len();
    if n < 3 || &b[n - 2..] != b"\r\n" {
        return None;
    }
    match b[0] {
        b'+' | b'-' => {
            // One line: its only CR or LF are the final CRLF.
            if b[1..n - 2].iter().any(|&c| c == b'\r' || c == b'\n') {
                return None;
            }
            let text = bytes.slice(1..n - 2);
            Some(if b[0] == b'+' {
                Frame::Simple(text)
            } else {
                Frame::Error(text)
            })
        }
        b'$' => {
            if b == b"$-1\r\n" {
                return Some(Frame::Null);
            }
            let cr = b.iter().position(|&c| c == b'\r')?;
            let digits = &b[1..cr];
            if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let len = digits
                .iter()
                .fold(0usize, |a, &d| a * 10 + usize::from(d - b'0'));
            let start = cr + 2;
            (b.get(cr + 1) == Some(&b'\n') && start + len + 2 == n)
                .then(|| Frame::Bulk(bytes.slice(start..start + len)))
        }
        _ => None,
    }
}

/// An error reply's kind: its first word ("OVERLOADED", "ERR", ...).
pub fn error_kind(text: &[u8]) -> &str {
    let word = text.split(|&b| b == b' ').next().unwrap_or_default();
    match std::str::from_utf8(word) {
        Ok("") | Err(_) => "ERR",
        Ok(w) => w,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use ringlab_core::protocol::resp::{encode, write_bulk};

    use bytes::BytesMut;
    use ringlab_core::protocol::resp::{Limits, parse_frame};

    use super::*;

    /// What the parser reads from `bytes` when they hold exactly one frame.
    fn parsed_alone(bytes: &Bytes) -> Option<Frame> {
        let mut buf = BytesMut::from(&bytes[..]);
        match parse_frame(&mut buf, &Limits::default()) {
            Ok(Some(f)) if buf.is_empty() => Some(f),
            _ => None,
        }
    }

    /// Replies as the node writes them, and a few that break the rules.
    fn reply() -> impl Strategy<Value = Bytes> {
        let bulk = proptest::collection::vec(any::<u8>(), 0..40).prop_map(|v| {
            let mut out = BytesMut::new();
            write_bulk(&mut out, &v);
            out.freeze()
        });
        let line = "[ -~]{0,20}".prop_map(|s| Bytes::from(format!("+{s}\r\n")));
        let error = "[ -~]{0,20}".prop_map(|s| Bytes::from(format!("-ERR {s}\r\n")));
        let int = any::<i64>().prop_map(|i| {
            let mut out = BytesMut::new();
            encode(&Frame::Integer(i), &mut out);
            out.freeze()
        });
        let raw = proptest::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from);
        let one = prop_oneof![
            bulk,
            line,
            error,
            int,
            Just(Bytes::from_static(b"$-1\r\n")),
            raw
        ];
        // Sometimes two replies in one message, as a node's turn sends them.
        (one.clone(), proptest::option::of(one)).prop_map(|(a, b)| match b {
            Some(b) => Bytes::from([&a[..], &b[..]].concat()),
            None => a,
        })
    }

    proptest! {
        /// The in-place reader is a shortcut of the parser: whatever it
        /// reads, the parser reads the same from those bytes alone.
        #[test]
        fn simple_replies_read_as_the_parser_reads_them(bytes in reply()) {
            if let Some(f) = simple_reply(&bytes) {
                prop_assert_eq!(Some(f), parsed_alone(&bytes));
            }
        }
    }

    #[test]
    fn the_common_replies_take_the_shortcut() {
        for wire in [
            &b"$3\r\nabc\r\n"[..],
            b"$-1\r\n",
            b"+OK\r\n",
            b"-ERR no\r\n",
            b"$0\r\n\r\n",
        ] {
            let bytes = Bytes::copy_from_slice(wire);
            assert_eq!(simple_reply(&bytes), parsed_alone(&bytes), "{wire:?}");
            assert!(simple_reply(&bytes).is_some(), "{wire:?}");
        }
        // Two replies in one message go to the parser.
        assert_eq!(simple_reply(&Bytes::from_static(b"+OK\r\n+OK\r\n")), None);
    }
}
