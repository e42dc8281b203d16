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
//!           [RL.SCAN  <id> <cursor> <count> <pattern | null>]
//!           [RL.PING  <id>]
//!           [RL.HINT  <id> <owner> <key> <entry>]
//!           [RL.AESUM <id> <from> <bucket hashes>]
//!           [RL.AEKEYS <id> <from> <budget> [<leaf> ...] [<key> <ts> <node> ...]]
//!           [RL.STREAM <id> <from> <after> <count>]
//!           [RL.FORGET <id> <node> <handed-off 0 | 1>]
//! response  [RL.REP   <id> <body>]
//! entry     [<value bulk | null> <ts> <node> <expires-at | -1> [<kind>]]
//! page      [+PAGE <bound | -1> <floor-ts | -1> <floor-node | -1>
//!            [<key> <ts> <node> <kind | -1> ...]]
//! leaves    [+AELEAVES [<leaf> ...] <leaf hashes>]
//! delta     [+AEDELTA [<key> <entry> ...] [<key> ...]]
//! streamed  [+STREAMED <next> [<key> <entry> ...]]
//! body      <entry> | <page> | <leaves> | <delta> | <streamed> | null (no such key)
//!           | +OK (write applied) | -ERR... (failure)
//! ```
//!
//! `RL.HINT` asks a stand-in to keep a write for `owner`, a replica that
//! is down (sloppy quorum, see `machine::sloppy`); its `+OK` counts
//! towards the write's quorum.
//!
//! `RL.PING` is the failure detector's heartbeat: the answer is `+OK`, and
//! any answer from a peer counts as a heartbeat (see
//! [`crate::machine::liveness`]).
//!
//! The `RL.AE*` messages are anti-entropy's (see `machine::antientropy` and
//! the [`ae`] module): hashes are 64-bit, sent as one bulk string of 8
//! little-endian bytes each.
//!
//! `RL.SCAN` asks for one node's page of keys (see [`crate::keyspace`]);
//! a page's keys are flat, four elements each, kind -1 for a dead key.
//!
//! An entry's `kind` (see [`Kind::code`]) is sent only for a collection
//! (hash, list, set, sorted set): a string's entry stays four elements, so
//! the common case costs no byte more than before collections existed.
//!
//! `RL.STREAM` and `RL.FORGET` are membership changes' (see the [`stream`]
//! module): a node pulling the keys it now replicates, and a member
//! removed.
//!
//! Encoding and decoding are pure; the node owns the sockets.

use bytes::{Bytes, BytesMut};

use crate::clock::Micros;
use crate::keyspace::{KeyState, Page, PageRequest};
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
    /// Answer with this node's page of keys (KEYS, SCAN).
    Scan(PageRequest),
    /// A heartbeat: answered with an ack, to show the node is alive.
    Ping,
    /// Sloppy quorum: keep this write as a hint for `owner` (a replica
    /// that is down) and deliver it when `owner` is back.
    Hint {
        /// The replica the write is for.
        owner: NodeId,
        /// The key.
        key: Bytes,
        /// The versioned value or tombstone.
        entry: Entry,
    },
    /// Anti-entropy, first step: `from`'s bucket hashes of its tree for
    /// this node; answered with [`PeerResponse::AeLeaves`].
    AeSummary {
        /// The sender (the tree is the keys both nodes replicate).
        from: NodeId,
        /// Its [`crate::merkle::BUCKETS`] bucket hashes, in order.
        buckets: Vec<u64>,
    },
    /// Anti-entropy, second step: `from`'s keys (with versions, tombstones
    /// included) in `leaves`; answered with [`PeerResponse::AeDelta`].
    AeKeys {
        /// The sender.
        from: NodeId,
        /// The most keys the answer may move (entries plus wanted keys).
        budget: u64,
        /// The leaves compared, ascending.
        leaves: Vec<u32>,
        /// The sender's keys in those leaves that both nodes replicate.
        keys: Vec<(Bytes, Version)>,
    },
    /// Streaming: this node's entries (tombstones included) of keys that
    /// `from` replicates (see `machine::stream`), in key-hash order after
    /// `after`, `count` at most; answered with [`PeerResponse::Streamed`].
    Stream {
        /// The node pulling its keys.
        from: NodeId,
        /// The hash of the last key already received (None: from the start).
        after: Option<u64>,
        /// Keys per batch at most.
        count: u64,
    },
    /// Remove `node` from the members (it left, or it is dead for good).
    Forget {
        /// The member removed.
        node: NodeId,
        /// It handed its keys off before leaving: the receiver need not
        /// pull the keys it gains.
        handed_off: bool,
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
    /// The answer to a Scan (boxed: the other answers are small).
    Page(Box<Page>),
    /// The answer to an AeSummary: the replier's leaf hashes under every
    /// bucket whose hash differed.
    AeLeaves(Vec<(u32, u64)>),
    /// The answer to an AeKeys: the replier's entries newer than the
    /// sender's (or missing there), and the keys it wants pushed.
    AeDelta {
        /// Entries the sender lacks, tombstones included.
        entries: Vec<(Bytes, Entry)>,
        /// Keys the sender holds newer; it pushes them with `Put`.
        want: Vec<Bytes>,
    },
    /// The answer to a Stream: one batch, in key-hash order.
    Streamed {
        /// The cursor to ask from next; None: this source has no more.
        next: Option<u64>,
        /// The entries.
        entries: Vec<(Bytes, Entry)>,
    },
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
    #[error(
        "peer message: unknown message {0:?}, expected RL.GET, RL.PUT, RL.FLUSH, RL.SCAN, \
         RL.PING, RL.HINT, RL.AESUM, RL.AEKEYS, RL.STREAM, RL.FORGET or RL.REP"
    )]
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
const SCAN: &[u8] = b"RL.SCAN";
const PING: &[u8] = b"RL.PING";
const HINT: &[u8] = b"RL.HINT";
const PAGE: &[u8] = b"PAGE";

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
            PeerRequest::Scan(r) => {
                resp::write_array_header(out, 5);
                resp::write_bulk(out, SCAN);
                write_u64(out, *id);
                write_u64(out, r.cursor);
                write_u64(out, r.count as u64);
                match &r.pattern {
                    Some(p) => resp::write_bulk(out, p),
                    None => resp::write_null(out),
                }
            }
            PeerRequest::Ping => {
                resp::write_array_header(out, 2);
                resp::write_bulk(out, PING);
                write_u64(out, *id);
            }
            PeerRequest::Hint { owner, key, entry } => {
                resp::write_array_header(out, 5);
                resp::write_bulk(out, HINT);
                write_u64(out, *id);
                write_u64(out, u64::from(*owner));
                resp::write_bulk(out, key);
                encode_entry(entry, out);
            }
            PeerRequest::AeSummary { .. } | PeerRequest::AeKeys { .. } => {
                ae::encode_request(*id, req, out)
            }
            PeerRequest::Stream { .. } | PeerRequest::Forget { .. } => {
                stream::encode_request(*id, req, out)
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
                PeerResponse::Page(p) => encode_page(p, out),
                PeerResponse::AeLeaves(_) | PeerResponse::AeDelta { .. } => {
                    ae::encode_response(body, out)
                }
                PeerResponse::Streamed { .. } => stream::encode_response(body, out),
                PeerResponse::Failed(f) => {
                    let text = match f {
                        ReplicaFailure::OutOfMemory => "OOM out of memory".to_string(),
                        ReplicaFailure::Overloaded => "OVERLOADED replica queue full".to_string(),
                        ReplicaFailure::Unreachable => "UNREACHABLE".to_string(),
                        ReplicaFailure::Moving => "MOVING key not streamed here yet".to_string(),
                        ReplicaFailure::Other(s) => format!("ERR {s}"),
                    };
                    resp::write_error(out, text.as_bytes());
                }
            }
        }
    }
}

fn write_opt(out: &mut BytesMut, v: Option<u64>) {
    match v {
        Some(v) => write_u64(out, v),
        None => resp::write_integer(out, -1),
    }
}

fn encode_page(p: &Page, out: &mut BytesMut) {
    resp::write_array_header(out, 5);
    resp::write_simple(out, PAGE);
    write_opt(out, p.bound);
    write_opt(out, p.floor.map(|f| f.ts));
    write_opt(out, p.floor.map(|f| u64::from(f.node)));
    resp::write_array_header(out, p.keys.len() * 4);
    for k in &p.keys {
        resp::write_bulk(out, &k.key);
        write_u64(out, k.version.ts);
        resp::write_integer(out, i64::from(k.version.node));
        write_opt(out, k.kind.map(|k| u64::from(k.code())));
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

/// An integer that may be -1 (none).
fn opt_int(f: &Frame, msg: &'static str, field: &'static str) -> Result<Option<u64>, PeerError> {
    match f {
        Frame::Integer(-1) => Ok(None),
        other => int(other, msg, field).map(Some),
    }
}

fn node_id(f: &Frame, msg: &'static str, field: &'static str) -> Result<NodeId, PeerError> {
    NodeId::try_from(int(f, msg, field)?).map_err(|_| PeerError::Field {
        msg,
        field,
        expected: "a node id (u32)",
    })
}

fn decode_page(items: &[Frame]) -> Result<Page, PeerError> {
    const MSG: &str = "RL.REP page";
    let bad = |field, expected| PeerError::Field {
        msg: MSG,
        field,
        expected,
    };
    let [_, bound, ts, node, Frame::Array(keys)] = items else {
        return Err(bad("page", "+PAGE, bound, floor ts, floor node, keys"));
    };
    let floor = match (opt_int(ts, MSG, "floor.ts")?, node) {
        (None, _) => None,
        (Some(ts), node) => Some(Version {
            ts,
            node: node_id(node, MSG, "floor.node")?,
        }),
    };
    if keys.len() % 4 != 0 {
        return Err(bad("keys", "four elements per key"));
    }
    let keys = keys
        .chunks_exact(4)
        .map(|k| {
            let kind = match opt_int(&k[3], MSG, "key.kind")? {
                None => None,
                Some(c) => Some(Kind::from_code(c).ok_or(bad("key.kind", "a kind code 0..=4"))?),
            };
            Ok(KeyState {
                key: bulk(&k[0], MSG, "key")?,
                version: Version {
                    ts: int(&k[1], MSG, "key.ts")?,
                    node: node_id(&k[2], MSG, "key.node")?,
                },
                kind,
            })
        })
        .collect::<Result<_, PeerError>>()?;
    Ok(Page {
        keys,
        bound: opt_int(bound, MSG, "bound")?,
        floor,
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
        SCAN => {
            arity(&items, "RL.SCAN", 5)?;
            let count = int(&items[3], "RL.SCAN", "count")?;
            let pattern = match &items[4] {
                Frame::Null => None,
                other => Some(bulk(other, "RL.SCAN", "pattern")?),
            };
            Ok(PeerMessage::Request {
                id: int(&items[1], "RL.SCAN", "id")?,
                req: PeerRequest::Scan(PageRequest {
                    cursor: int(&items[2], "RL.SCAN", "cursor")?,
                    count: usize::try_from(count).unwrap_or(usize::MAX),
                    pattern,
                }),
            })
        }
        HINT => {
            arity(&items, "RL.HINT", 5)?;
            let owner = NodeId::try_from(int(&items[2], "RL.HINT", "owner")?).map_err(|_| {
                PeerError::Field {
                    msg: "RL.HINT",
                    field: "owner",
                    expected: "a node id (u32)",
                }
            })?;
            Ok(PeerMessage::Request {
                id: int(&items[1], "RL.HINT", "id")?,
                req: PeerRequest::Hint {
                    owner,
                    key: bulk(&items[3], "RL.HINT", "key")?,
                    entry: decode_entry(&items[4], "RL.HINT")?,
                },
            })
        }
        PING => {
            arity(&items, "RL.PING", 2)?;
            Ok(PeerMessage::Request {
                id: int(&items[1], "RL.PING", "id")?,
                req: PeerRequest::Ping,
            })
        }
        REP => {
            arity(&items, "RL.REP", 3)?;
            let id = int(&items[1], "RL.REP", "id")?;
            let resp = match &items[2] {
                Frame::Null => PeerResponse::Entry(None),
                Frame::Simple(_) => PeerResponse::Ack,
                Frame::Error(e) => PeerResponse::Failed(failure_from(e)),
                Frame::Array(a) if matches!(a.first(), Some(Frame::Simple(s)) if &s[..] == PAGE) => {
                    PeerResponse::Page(Box::new(decode_page(a)?))
                }
                Frame::Array(a) if ae::is_response(a) => ae::decode_response(a)?,
                Frame::Array(a) if stream::is_response(a) => stream::decode_response(a)?,
                other => PeerResponse::Entry(Some(decode_entry(other, "RL.REP")?)),
            };
            Ok(PeerMessage::Response { id, resp })
        }
        ae::SUMMARY | ae::KEYS => ae::decode_request(&items),
        stream::STREAM | stream::FORGET => stream::decode_request(&items),
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
    } else if e.starts_with(b"MOVING") {
        ReplicaFailure::Moving
    } else {
        let s = String::from_utf8_lossy(e);
        ReplicaFailure::Other(s.strip_prefix("ERR ").unwrap_or(&s).to_string())
    }
}

pub mod ae;
pub mod stream;
#[cfg(test)]
mod tests;
