//! The wire form of anti-entropy's messages (see the parent module's
//! grammar): `RL.AESUM`, `RL.AEKEYS` and the `+AELEAVES` / `+AEDELTA`
//! answers. Kept apart from the replication messages they share the
//! connection with; decoding bad input is an error, never a panic.

use bytes::{Bytes, BytesMut};

use super::{
    PeerError, PeerMessage, PeerRequest, PeerResponse, arity, bulk, decode_entry, encode_entry,
    int, node_id, write_u64,
};
use crate::protocol::resp::{self, Frame};
use crate::store::{Entry, Version};

/// The name of [`PeerRequest::AeSummary`].
pub const SUMMARY: &[u8] = b"RL.AESUM";
/// The name of [`PeerRequest::AeKeys`].
pub const KEYS: &[u8] = b"RL.AEKEYS";
const LEAVES: &[u8] = b"AELEAVES";
const DELTA: &[u8] = b"AEDELTA";

/// 64-bit hashes as one bulk string, 8 little-endian bytes each.
fn write_hashes(out: &mut BytesMut, hashes: impl Iterator<Item = u64>) {
    let bytes: Vec<u8> = hashes.flat_map(u64::to_le_bytes).collect();
    resp::write_bulk(out, &bytes);
}

fn read_hashes(f: &Frame, msg: &'static str, field: &'static str) -> Result<Vec<u64>, PeerError> {
    let b = bulk(f, msg, field)?;
    if !b.len().is_multiple_of(8) {
        return Err(PeerError::Field {
            msg,
            field,
            expected: "a bulk string of 8 bytes per hash",
        });
    }
    Ok(b.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8")))
        .collect())
}

fn array<'a>(
    f: &'a Frame,
    msg: &'static str,
    field: &'static str,
) -> Result<&'a [Frame], PeerError> {
    match f {
        Frame::Array(a) => Ok(a),
        _ => Err(PeerError::Field {
            msg,
            field,
            expected: "an array",
        }),
    }
}

fn leaf(f: &Frame, msg: &'static str) -> Result<u32, PeerError> {
    u32::try_from(int(f, msg, "leaf")?).map_err(|_| PeerError::Field {
        msg,
        field: "leaf",
        expected: "a leaf number (u32)",
    })
}

/// Writes an anti-entropy request (`req` is `AeSummary` or `AeKeys`).
pub(super) fn encode_request(id: u64, req: &PeerRequest, out: &mut BytesMut) {
    match req {
        PeerRequest::AeSummary { from, buckets } => {
            resp::write_array_header(out, 4);
            resp::write_bulk(out, SUMMARY);
            write_u64(out, id);
            write_u64(out, u64::from(*from));
            write_hashes(out, buckets.iter().copied());
        }
        PeerRequest::AeKeys {
            from,
            budget,
            leaves,
            keys,
        } => {
            resp::write_array_header(out, 6);
            resp::write_bulk(out, KEYS);
            write_u64(out, id);
            write_u64(out, u64::from(*from));
            write_u64(out, *budget);
            resp::write_array_header(out, leaves.len());
            for &l in leaves {
                write_u64(out, u64::from(l));
            }
            resp::write_array_header(out, keys.len() * 3);
            for (k, v) in keys {
                resp::write_bulk(out, k);
                write_u64(out, v.ts);
                write_u64(out, u64::from(v.node));
            }
        }
        _ => unreachable!("only anti-entropy requests are encoded here"),
    }
}

/// Decodes `RL.AESUM` or `RL.AEKEYS` (the name is `items[0]`).
pub(super) fn decode_request(items: &[Frame]) -> Result<PeerMessage, PeerError> {
    let summary = matches!(items.first(), Some(Frame::Bulk(b)) if &b[..] == SUMMARY);
    let msg = if summary { "RL.AESUM" } else { "RL.AEKEYS" };
    arity(items, msg, if summary { 4 } else { 6 })?;
    let id = int(&items[1], msg, "id")?;
    let from = node_id(&items[2], msg, "from")?;
    let req = if summary {
        PeerRequest::AeSummary {
            from,
            buckets: read_hashes(&items[3], msg, "buckets")?,
        }
    } else {
        let budget = int(&items[3], msg, "budget")?;
        let leaves = array(&items[4], msg, "leaves")?
            .iter()
            .map(|f| leaf(f, msg))
            .collect::<Result<_, _>>()?;
        PeerRequest::AeKeys {
            from,
            budget,
            leaves,
            keys: decode_keys(array(&items[5], msg, "keys")?, msg)?,
        }
    };
    Ok(PeerMessage::Request { id, req })
}

fn decode_keys(flat: &[Frame], msg: &'static str) -> Result<Vec<(Bytes, Version)>, PeerError> {
    if !flat.len().is_multiple_of(3) {
        return Err(PeerError::Field {
            msg,
            field: "keys",
            expected: "three elements per key",
        });
    }
    flat.chunks_exact(3)
        .map(|k| {
            let version = Version {
                ts: int(&k[1], msg, "key.ts")?,
                node: node_id(&k[2], msg, "key.node")?,
            };
            Ok((bulk(&k[0], msg, "key")?, version))
        })
        .collect()
}

/// Writes an anti-entropy answer's body (`AeLeaves` or `AeDelta`).
pub(super) fn encode_response(body: &PeerResponse, out: &mut BytesMut) {
    match body {
        PeerResponse::AeLeaves(leaves) => {
            resp::write_array_header(out, 3);
            resp::write_simple(out, LEAVES);
            resp::write_array_header(out, leaves.len());
            for &(l, _) in leaves {
                write_u64(out, u64::from(l));
            }
            write_hashes(out, leaves.iter().map(|&(_, h)| h));
        }
        PeerResponse::AeDelta { entries, want } => {
            resp::write_array_header(out, 3);
            resp::write_simple(out, DELTA);
            resp::write_array_header(out, entries.len() * 2);
            for (k, e) in entries {
                resp::write_bulk(out, k);
                encode_entry(e, out);
            }
            resp::write_array_header(out, want.len());
            for k in want {
                resp::write_bulk(out, k);
            }
        }
        _ => unreachable!("only anti-entropy answers are encoded here"),
    }
}

/// Whether an answer's body array is an anti-entropy answer.
pub(super) fn is_response(a: &[Frame]) -> bool {
    matches!(a.first(), Some(Frame::Simple(s)) if &s[..] == LEAVES || &s[..] == DELTA)
}

/// Decodes a `+AELEAVES` or `+AEDELTA` body.
pub(super) fn decode_response(a: &[Frame]) -> Result<PeerResponse, PeerError> {
    let leaves = matches!(a.first(), Some(Frame::Simple(s)) if &s[..] == LEAVES);
    let msg = if leaves {
        "RL.REP aeleaves"
    } else {
        "RL.REP aedelta"
    };
    arity(a, msg, 3)?;
    if leaves {
        let nums = array(&a[1], msg, "leaves")?;
        let hashes = read_hashes(&a[2], msg, "hashes")?;
        if nums.len() != hashes.len() {
            return Err(PeerError::Field {
                msg,
                field: "hashes",
                expected: "one hash per leaf",
            });
        }
        let nums = nums.iter().map(|f| leaf(f, msg));
        let pairs = nums.zip(hashes).map(|(l, h)| l.map(|l| (l, h)));
        return Ok(PeerResponse::AeLeaves(pairs.collect::<Result<_, _>>()?));
    }
    let flat = array(&a[1], msg, "entries")?;
    if !flat.len().is_multiple_of(2) {
        return Err(PeerError::Field {
            msg,
            field: "entries",
            expected: "a key and an entry per item",
        });
    }
    let entries: Vec<(Bytes, Entry)> = flat
        .chunks_exact(2)
        .map(|p| Ok((bulk(&p[0], msg, "key")?, decode_entry(&p[1], msg)?)))
        .collect::<Result<_, PeerError>>()?;
    let want = array(&a[2], msg, "want")?
        .iter()
        .map(|f| bulk(f, msg, "want"))
        .collect::<Result<_, _>>()?;
    Ok(PeerResponse::AeDelta { entries, want })
}

#[cfg(test)]
mod tests;
