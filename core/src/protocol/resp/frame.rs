//! Any RESP2 frame, as servers reply and peers exchange.

use bytes::{Bytes, BytesMut};

use super::lines::*;
use super::{Frame, Limits, ProtocolError};

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
/// as [`parse_request`](super::parse_request). A frame split over many reads is checked from its
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
