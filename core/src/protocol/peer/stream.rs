//! The wire form of membership changes' messages: `RL.STREAM` (a node
//! pulls the keys it replicates from their previous owners, one batch at a
//! time, see `machine::stream`), its `+STREAMED` answer, and `RL.FORGET`
//! (remove a member). Decoding bad input is an error, never a panic.
//!
//! ```text
//! request   [RL.STREAM <id> <from> <after> <count>]
//!           [RL.FORGET <id> <node> <handed-off 0 | 1>]
//! streamed  [+STREAMED <next> [<key> <entry> ...]]
//! ```
//!
//! `after` and `next` are key-hash cursors: 8 little-endian bytes in a bulk
//! string (hashes use all 64 bits, beyond RESP integers), or an empty bulk
//! string for "from the start" and "no more".

use bytes::{Bytes, BytesMut};

use super::{
    PeerError, PeerMessage, PeerRequest, PeerResponse, arity, bulk, decode_entry, encode_entry,
    int, node_id, write_u64,
};
use crate::protocol::resp::{self, Frame};
use crate::store::Entry;

/// The name of [`PeerRequest::Stream`].
pub const STREAM: &[u8] = b"RL.STREAM";
/// The name of [`PeerRequest::Forget`].
pub const FORGET: &[u8] = b"RL.FORGET";
const STREAMED: &[u8] = b"STREAMED";

fn write_cursor(out: &mut BytesMut, c: Option<u64>) {
    match c {
        Some(h) => resp::write_bulk(out, &h.to_le_bytes()),
        None => resp::write_bulk(out, b""),
    }
}

fn read_cursor(
    f: &Frame,
    msg: &'static str,
    field: &'static str,
) -> Result<Option<u64>, PeerError> {
    let b = bulk(f, msg, field)?;
    match b.len() {
        0 => Ok(None),
        8 => Ok(Some(u64::from_le_bytes(
            b[..].try_into().expect("checked: 8 bytes"),
        ))),
        _ => Err(PeerError::Field {
            msg,
            field,
            expected: "8 bytes (a key hash) or an empty bulk string",
        }),
    }
}

/// Writes `RL.STREAM` or `RL.FORGET`.
pub(super) fn encode_request(id: u64, req: &PeerRequest, out: &mut BytesMut) {
    match req {
        PeerRequest::Stream { from, after, count } => {
            resp::write_array_header(out, 5);
            resp::write_bulk(out, STREAM);
            write_u64(out, id);
            write_u64(out, u64::from(*from));
            write_cursor(out, *after);
            write_u64(out, *count);
        }
        PeerRequest::Forget { node, handed_off } => {
            resp::write_array_header(out, 4);
            resp::write_bulk(out, FORGET);
            write_u64(out, id);
            write_u64(out, u64::from(*node));
            write_u64(out, u64::from(*handed_off));
        }
        _ => unreachable!("only membership requests are encoded here"),
    }
}

/// Decodes `RL.STREAM` or `RL.FORGET` (the name is `items[0]`).
pub(super) fn decode_request(items: &[Frame]) -> Result<PeerMessage, PeerError> {
    let forget = matches!(items.first(), Some(Frame::Bulk(b)) if &b[..] == FORGET);
    if forget {
        const MSG: &str = "RL.FORGET";
        arity(items, MSG, 4)?;
        let handed_off = match int(&items[3], MSG, "handed_off")? {
            0 => false,
            1 => true,
            _ => {
                return Err(PeerError::Field {
                    msg: MSG,
                    field: "handed_off",
                    expected: "0 or 1",
                });
            }
        };
        let req = PeerRequest::Forget {
            node: node_id(&items[2], MSG, "node")?,
            handed_off,
        };
        return Ok(PeerMessage::Request {
            id: int(&items[1], MSG, "id")?,
            req,
        });
    }
    const MSG: &str = "RL.STREAM";
    arity(items, MSG, 5)?;
    let req = PeerRequest::Stream {
        from: node_id(&items[2], MSG, "from")?,
        after: read_cursor(&items[3], MSG, "after")?,
        count: int(&items[4], MSG, "count")?,
    };
    Ok(PeerMessage::Request {
        id: int(&items[1], MSG, "id")?,
        req,
    })
}

/// Writes a `+STREAMED` answer's body.
pub(super) fn encode_response(body: &PeerResponse, out: &mut BytesMut) {
    let PeerResponse::Streamed { next, entries } = body else {
        unreachable!("only a streamed batch is encoded here")
    };
    resp::write_array_header(out, 3);
    resp::write_simple(out, STREAMED);
    write_cursor(out, *next);
    resp::write_array_header(out, entries.len() * 2);
    for (k, e) in entries {
        resp::write_bulk(out, k);
        encode_entry(e, out);
    }
}

/// Whether an answer's body array is a streamed batch.
pub(super) fn is_response(a: &[Frame]) -> bool {
    matches!(a.first(), Some(Frame::Simple(s)) if &s[..] == STREAMED)
}

/// Decodes a `+STREAMED` body.
pub(super) fn decode_response(a: &[Frame]) -> Result<PeerResponse, PeerError> {
    const MSG: &str = "RL.REP streamed";
    arity(a, MSG, 3)?;
    let next = read_cursor(&a[1], MSG, "next")?;
    let Frame::Array(flat) = &a[2] else {
        return Err(PeerError::Field {
            msg: MSG,
            field: "entries",
            expected: "an array",
        });
    };
    if !flat.len().is_multiple_of(2) {
        return Err(PeerError::Field {
            msg: MSG,
            field: "entries",
            expected: "a key and an entry per item",
        });
    }
    let entries: Vec<(Bytes, Entry)> = flat
        .chunks_exact(2)
        .map(|p| Ok((bulk(&p[0], MSG, "key")?, decode_entry(&p[1], MSG)?)))
        .collect::<Result<_, PeerError>>()?;
    Ok(PeerResponse::Streamed { next, entries })
}

#[cfg(test)]
mod tests;
