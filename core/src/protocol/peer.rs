//! The node-to-node messages of replication, carried as RESP2 frames.
//!
//! A node opens a peer connection to another node's ordinary client port and
//! sends `RL.HELLO <from-id> [<password>]` as a RESP command; the server
//! answers `+OK` and switches that connection to peer mode. From then on
//! both directions carry arrays whose first element names the message and
//! whose second is a request id, so that replies can come back in any order
//! and one slow request never blocks the others on the connection:
//!
//! ```text
//! request   [RL.GET   <id> <key>]
//!           [RL.PUT   <id> <key> <entry>]
//!           [RL.FLUSH <id> <ts> <node>]
//! response  [RL.REP   <id> <body>]
//! entry     [<value bulk | null> <ts> <node> <expires-at | -1> [<kind>]]
//! body      <entry> | null (no such key) | +OK (write applied) | -ERR... (failure)
//! ```
//!
//! An entry's `kind` (see [`Kind::code`]) is sent only for a collection
//! (hash, list, set, sorted set): a string's entry stays four elements, so
//! the common case costs no byte more than before collections existed.
//!
//! Encoding and decoding are pure; the node owns the sockets.

use bytes::{Bytes, BytesMut};

use crate::clock::Micros;
use crate::protocol::resp::{self, Frame};
use crate::replication::ReplicaFailure;
use crate::ring::NodeId;
use crate::store::{Entry, Kind, Version};

/// Identifies a request on one peer connection; replies carry it back.
pub type RequestId = u64;

/// The command that turns a client connection into a peer connection.
pub const HELLO: &str = "RL.HELLO";

/// What a coordinator asks a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerRequest {
    /// Read the key's entry, tombstones included.
    Get {
        /// The key.
        key: Bytes,
    },
    /// Apply this entry if it is newer than the replica's (last writer wins).
    Put {
        /// The key.
        key: Bytes,
        /// The versioned value or tombstone.
        entry: Entry,
    },
    /// Drop every key (FLUSHALL on the coordinator), and refuse writes
    /// not newer than `version` from now on.
    Flush {
        /// The flush's version.
        version: Version,
    },
}

/// What a replica answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerResponse {
    /// The answer to a Get: the entry, or none.
    Entry(Option<Entry>),
    /// A Put or Flush was applied (or was stale: last writer wins either way).
    Ack,
    /// The replica could not do it.
    Failed(ReplicaFailure),
}

/// One message on a peer connection after the hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerMessage {
    /// Coordinator to replica.
    Request {
        /// Echoed in the response.
        id: RequestId,
        /// What to do.
        req: PeerRequest,
    },
    /// Replica to coordinator.
    Response {
        /// The request's id.
        id: RequestId,
        /// The outcome.
        resp: PeerResponse,
    },
}

/// A peer message that does not decode. Bad input from a peer closes that
/// peer connection; it never panics the node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// The frame is not an array.
    #[error("peer message: expected an array, got {0}")]
    NotArray(&'static str),
    /// The first element is not a known message name.
    #[error("peer message: unknown message {0:?}, expected RL.GET, RL.PUT, RL.FLUSH or RL.REP")]
    UnknownMessage(String),
    /// Wrong number of elements.
    #[error("peer message {msg}: expected {expected} elements, got {got}")]
    Arity {
        /// The message name.
        msg: &'static str,
        /// Expected count.
        expected: usize,
        /// Actual count.
        got: usize,
    },
    /// An element had the wrong type or value.
    #[error("peer message {msg}: field {field}: expected {expected}")]
    Field {
        /// The message name.
        msg: &'static str,
        /// Which field.
        field: &'static str,
        /// What it should have been.
        expected: &'static str,
    },
}

const GET: &[u8] = b"RL.GET";
const PUT: &[u8] = b"RL.PUT";
const FLUSH: &[u8] = b"RL.FLUSH";
const REP: &[u8] = b"RL.REP";

/// Writes the hello that opens a peer connection.
pub fn encode_hello(from: NodeId, password: Option<&[u8]>, out: &mut BytesMut) {
    let id = from.to_string();
    match password {
        Some(p) => resp::write_command(out, &[HELLO.as_bytes(), id.as_bytes(), p]),
        None => resp::write_command(out, &[HELLO.as_bytes(), id.as_bytes()]),
    }
}

/// Parses a hello's arguments (after the command name): the sender's id and
/// the optional password.
pub fn parse_hello(args: &[Bytes]) -> Result<(NodeId, Option<Bytes>), PeerError> {
    let bad = |field, expected| PeerError::Field {
        msg: "RL.HELLO",
        field,
        expected,
    };
    if args.is_empty() || args.len() > 2 {
        return Err(PeerError::Arity {
            msg: "RL.HELLO",
            expected: 2,
            got: args.len() + 1,
        });
    }
    let id = std::str::from_utf8(&args[0])
        .ok()
        .and_then(|s| s.parse::<NodeId>().ok())
        .ok_or(bad("from", "a node id (u32)"))?;
    Ok((id, args.get(1).cloned()))
}

fn write_u64(out: &mut BytesMut, v: u64) {
    resp::write_integer(out, i64::try_from(v).unwrap_or(i64::MAX));
}

fn encode_entry(e: &Entry, out: &mut BytesMut) {
    let tagged = e.kind != Kind::String;
    resp::write_array_header(out, if tagged { 5 } else { 4 });
    match &e.value {
        Some(v) => resp::write_bulk(out, v),
        None => resp::write_null(out),
    }
    write_u64(out, e.version.ts);
    resp::write_integer(out, i64::from(e.version.node));
    match e.expires_at {
        Some(t) => write_u64(out, t),
        None => resp::write_integer(out, -1),
    }
    if tagged {
        resp::write_integer(out, i64::from(e.kind.code()));
    }
}

/// Appends one message's frame to `out`.
pub fn encode(msg: &PeerMessage, out: &mut BytesMut) {
    match msg {
        PeerMessage::Request { id, req } => match req {
            PeerRequest::Get { key } => {
                resp::write_array_header(out, 3);
                resp::write_bulk(out, GET);
                write_u64(out, *id);
                resp::write_bulk(out, key);
            }
            PeerRequest::Put { key, entry } => {
                resp::write_array_header(out, 4);
                resp::write_bulk(out, PUT);
                write_u64(out, *id);
                resp::write_bulk(out, key);
                encode_entry(entry, out);
            }
            PeerRequest::Flush { version } => {
                resp::write_array_header(out, 4);
                resp::write_bulk(out, FLUSH);
                write_u64(out, *id);
                let Version { ts, node } = *version;
                write_u64(out, ts);
                write_u64(out, u64::from(node));
            }
        },
        PeerMessage::Response { id, resp: body } => {
            resp::write_array_header(out, 3);
            resp::write_bulk(out, REP);
            write_u64(out, *id);
            match body {
                PeerResponse::Entry(Some(e)) => encode_entry(e, out),
                PeerResponse::Entry(None) => resp::write_null(out),
                PeerResponse::Ack => resp::write_simple(out, b"OK"),
                PeerResponse::Failed(f) => {
                    let text = match f {
                        ReplicaFailure::OutOfMemory => "OOM out of memory".to_string(),
                        ReplicaFailure::Overloaded => "OVERLOADED replica queue full".to_string(),
                        ReplicaFailure::Unreachable => "UNREACHABLE".to_string(),
                        ReplicaFailure::Other(s) => format!("ERR {s}"),
                    };
                    resp::write_error(out, text.as_bytes());
                }
            }
        }
    }
}

fn kind(f: &Frame) -> &'static str {
    match f {
        Frame::Simple(_) => "a simple string",
        Frame::Error(_) => "an error",
        Frame::Integer(_) => "an integer",
        Frame::Bulk(_) => "a bulk string",
        Frame::Null => "a null",
        Frame::Array(_) => "an array",
        Frame::NullArray => "a null array",
    }
}

fn int(f: &Frame, msg: &'static str, field: &'static str) -> Result<u64, PeerError> {
    match f {
        Frame::Integer(i) if *i >= 0 => Ok(*i as u64),
        _ => Err(PeerError::Field {
            msg,
            field,
            expected: "a non-negative integer",
        }),
    }
}

fn bulk(f: &Frame, msg: &'static str, field: &'static str) -> Result<Bytes, PeerError> {
    match f {
        Frame::Bulk(b) => Ok(b.clone()),
        _ => Err(PeerError::Field {
            msg,
            field,
            expected: "a bulk string",
        }),
    }
}

fn decode_entry(f: &Frame, msg: &'static str) -> Result<Entry, PeerError> {
    let bad = |field, expected| PeerError::Field {
        msg,
        field,
        expected,
    };
    let Frame::Array(items) = f else {
        return Err(bad("entry", "an array of 4 or 5 elements"));
    };
    let (value, ts, node, exp, kind) = match items.as_slice() {
        [value, ts, node, exp] => (value, ts, node, exp, Kind::String),
        [value, ts, node, exp, kind] => {
            let code = int(kind, msg, "entry.kind")?;
            let kind = Kind::from_code(code).ok_or(bad("entry.kind", "a kind code 0..=4"))?;
            (value, ts, node, exp, kind)
        }
        _ => return Err(bad("entry", "an array of 4 or 5 elements")),
    };
    let value = match value {
        Frame::Bulk(b) => Some(b.clone()),
        Frame::Null => None,
        _ => return Err(bad("entry.value", "a bulk string or null")),
    };
    let ts: Micros = int(ts, msg, "entry.ts")?;
    let node = NodeId::try_from(int(node, msg, "entry.node")?)
        .map_err(|_| bad("entry.node", "a node id (u32)"))?;
    let expires_at = match exp {
        Frame::Integer(-1) => None,
        other => Some(int(other, msg, "entry.expires_at")?),
    };
    Ok(Entry {
        value,
        version: Version { ts, node },
        expires_at,
        kind,
    })
}

fn arity(items: &[Frame], msg: &'static str, expected: usize) -> Result<(), PeerError> {
    if items.len() == expected {
        Ok(())
    } else {
        Err(PeerError::Arity {
            msg,
            expected,
            got: items.len(),
        })
    }
}

/// Decodes one frame read from a peer connection.
pub fn decode(frame: Frame) -> Result<PeerMessage, PeerError> {
    let Frame::Array(items) = frame else {
        return Err(PeerError::NotArray(kind(&frame)));
    };
    let name = match items.first() {
        Some(Frame::Bulk(b)) => b.clone(),
        Some(other) => return Err(PeerError::NotArray(kind(other))),
        None => {
            return Err(PeerError::Arity {
                msg: "peer message",
                expected: 2,
                got: 0,
            });
        }
    };
    match &name[..] {
        GET => {
            arity(&items, "RL.GET", 3)?;
            Ok(PeerMessage::Request {
                id: int(&items[1], "RL.GET", "id")?,
                req: PeerRequest::Get {
                    key: bulk(&items[2], "RL.GET", "key")?,
                },
            })
        }
        PUT => {
            arity(&items, "RL.PUT", 4)?;
            Ok(PeerMessage::Request {
                id: int(&items[1], "RL.PUT", "id")?,
                req: PeerRequest::Put {
                    key: bulk(&items[2], "RL.PUT", "key")?,
                    entry: decode_entry(&items[3], "RL.PUT")?,
                },
            })
        }
        FLUSH => {
            arity(&items, "RL.FLUSH", 4)?;
            let ts = int(&items[2], "RL.FLUSH", "ts")?;
            let node = NodeId::try_from(int(&items[3], "RL.FLUSH", "node")?).map_err(|_| {
                PeerError::Field {
                    msg: "RL.FLUSH",
                    field: "node",
                    expected: "a node id (u32)",
                }
            })?;
            Ok(PeerMessage::Request {
                id: int(&items[1], "RL.FLUSH", "id")?,
                req: PeerRequest::Flush {
                    version: Version { ts, node },
                },
            })
        }
        REP => {
            arity(&items, "RL.REP", 3)?;
            let id = int(&items[1], "RL.REP", "id")?;
            let resp = match &items[2] {
                Frame::Null => PeerResponse::Entry(None),
                Frame::Simple(_) => PeerResponse::Ack,
                Frame::Error(e) => PeerResponse::Failed(failure_from(e)),
                other => PeerResponse::Entry(Some(decode_entry(other, "RL.REP")?)),
            };
            Ok(PeerMessage::Response { id, resp })
        }
        other => Err(PeerError::UnknownMessage(
            String::from_utf8_lossy(other).into_owned(),
        )),
    }
}

fn failure_from(e: &[u8]) -> ReplicaFailure {
    if e.starts_with(b"OOM") {
        ReplicaFailure::OutOfMemory
    } else if e.starts_with(b"OVERLOADED") {
        ReplicaFailure::Overloaded
    } else if e == b"UNREACHABLE" {
        ReplicaFailure::Unreachable
    } else {
        let s = String::from_utf8_lossy(e);
        ReplicaFailure::Other(s.strip_prefix("ERR ").unwrap_or(&s).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::resp::{Limits, parse_frame, parse_request};
    use proptest::prelude::*;

    fn round_trip(msg: &PeerMessage) -> PeerMessage {
        let mut out = BytesMut::new();
        encode(msg, &mut out);
        let frame = parse_frame(&mut out, &Limits::default())
            .expect("valid frame")
            .expect("complete frame");
        assert!(out.is_empty(), "one message, one frame");
        decode(frame).expect("decodes")
    }

    fn entry() -> impl Strategy<Value = Entry> {
        (
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
            0u64..i64::MAX as u64,
            any::<u32>(),
            proptest::option::of(0u64..i64::MAX as u64),
            proptest::sample::select(Kind::ALL.to_vec()),
        )
            .prop_map(|(v, ts, node, exp, kind)| Entry {
                value: v.map(Bytes::from),
                version: Version { ts, node },
                expires_at: exp,
                kind,
            })
    }

    fn message() -> impl Strategy<Value = PeerMessage> {
        let key = proptest::collection::vec(any::<u8>(), 0..20).prop_map(Bytes::from);
        let id = 0u64..i64::MAX as u64;
        prop_oneof![
            (id.clone(), key.clone()).prop_map(|(id, key)| PeerMessage::Request {
                id,
                req: PeerRequest::Get { key }
            }),
            (id.clone(), key, entry()).prop_map(|(id, key, entry)| PeerMessage::Request {
                id,
                req: PeerRequest::Put { key, entry }
            }),
            // Times are RESP integers: below i64::MAX, as entries' are.
            (id.clone(), 0u64..i64::MAX as u64, any::<u32>()).prop_map(|(id, ts, node)| {
                PeerMessage::Request {
                    id,
                    req: PeerRequest::Flush {
                        version: Version { ts, node },
                    },
                }
            }),
            (id.clone(), proptest::option::of(entry())).prop_map(|(id, e)| {
                PeerMessage::Response {
                    id,
                    resp: PeerResponse::Entry(e),
                }
            }),
            id.clone().prop_map(|id| PeerMessage::Response {
                id,
                resp: PeerResponse::Ack
            }),
            (
                id,
                prop_oneof![
                    Just(ReplicaFailure::OutOfMemory),
                    Just(ReplicaFailure::Overloaded),
                    Just(ReplicaFailure::Unreachable),
                    "[a-z ]{0,12}".prop_map(ReplicaFailure::Other),
                ]
            )
                .prop_map(|(id, f)| PeerMessage::Response {
                    id,
                    resp: PeerResponse::Failed(f)
                }),
        ]
    }

    proptest! {
        #[test]
        fn messages_round_trip(msg in message()) {
            prop_assert_eq!(round_trip(&msg), msg);
        }

        /// Arbitrary frames never panic the decoder.
        #[test]
        fn garbage_frames_are_errors_not_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut buf = BytesMut::from(&bytes[..]);
            if let Ok(Some(frame)) = parse_frame(&mut buf, &Limits::default()) {
                let _ = decode(frame);
            }
        }
    }

    #[test]
    fn hello_round_trips_through_the_request_parser() {
        let mut out = BytesMut::new();
        encode_hello(7, Some(b"secret"), &mut out);
        let args = parse_request(&mut out, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(&args[0][..], HELLO.as_bytes());
        assert_eq!(
            parse_hello(&args[1..]),
            Ok((7, Some(Bytes::from_static(b"secret"))))
        );
        assert!(parse_hello(&[Bytes::from_static(b"x")]).is_err());
        assert!(parse_hello(&[]).is_err());
    }

    #[test]
    fn bad_messages_name_what_is_wrong() {
        let e = decode(Frame::Integer(3)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "peer message: expected an array, got an integer"
        );
        let e = decode(Frame::Array(vec![
            Frame::Bulk(Bytes::from_static(b"RL.GET")),
            Frame::Integer(-4),
            Frame::Bulk(Bytes::from_static(b"k")),
        ]))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "peer message RL.GET: field id: expected a non-negative integer"
        );
        let e = decode(Frame::Array(vec![Frame::Bulk(Bytes::from_static(b"NOPE"))])).unwrap_err();
        assert!(matches!(e, PeerError::UnknownMessage(ref m) if m == "NOPE"));
    }
}
