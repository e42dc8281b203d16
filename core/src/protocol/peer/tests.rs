//! Round trips and bad input of the peer messages.

use super::*;
use crate::protocol::resp::{Limits, parse_frame, parse_request};
use proptest::prelude::*;

/// `msg` encoded, parsed as one frame and decoded again (anti-entropy's
/// tests use it too).
pub(in crate::protocol::peer) fn round_trip(msg: &PeerMessage) -> PeerMessage {
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

fn page() -> impl Strategy<Value = Page> {
    let key = proptest::collection::vec(any::<u8>(), 0..20).prop_map(Bytes::from);
    let state = (
        key,
        0u64..i64::MAX as u64,
        any::<u32>(),
        proptest::option::of(proptest::sample::select(Kind::ALL.to_vec())),
    )
        .prop_map(|(key, ts, node, kind)| KeyState {
            key,
            version: Version { ts, node },
            kind,
        });
    (
        proptest::collection::vec(state, 0..6),
        proptest::option::of(0u64..i64::MAX as u64),
        proptest::option::of((0u64..i64::MAX as u64, any::<u32>())),
    )
        .prop_map(|(keys, bound, floor)| Page {
            keys,
            bound,
            floor: floor.map(|(ts, node)| Version { ts, node }),
        })
}

fn scan() -> impl Strategy<Value = PeerMessage> {
    let pattern =
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8).prop_map(Bytes::from));
    let id = 0u64..i64::MAX as u64;
    prop_oneof![
        (id.clone(), 0u64..i64::MAX as u64, 1usize..100_000, pattern).prop_map(
            |(id, cursor, count, pattern)| PeerMessage::Request {
                id,
                req: PeerRequest::Scan(PageRequest {
                    cursor,
                    count,
                    pattern,
                }),
            }
        ),
        (id, page()).prop_map(|(id, p)| PeerMessage::Response {
            id,
            resp: PeerResponse::Page(Box::new(p)),
        }),
    ]
}

fn message() -> impl Strategy<Value = PeerMessage> {
    let key = proptest::collection::vec(any::<u8>(), 0..20).prop_map(Bytes::from);
    let id = 0u64..i64::MAX as u64;
    prop_oneof![
        scan(),
        id.clone().prop_map(|id| PeerMessage::Request {
            id,
            req: PeerRequest::Ping
        }),
        (id.clone(), key.clone()).prop_map(|(id, key)| PeerMessage::Request {
            id,
            req: PeerRequest::Get { key }
        }),
        (id.clone(), key.clone(), entry()).prop_map(|(id, key, entry)| PeerMessage::Request {
            id,
            req: PeerRequest::Put { key, entry }
        }),
        (id.clone(), any::<u32>(), key, entry()).prop_map(|(id, owner, key, entry)| {
            PeerMessage::Request {
                id,
                req: PeerRequest::Hint { owner, key, entry },
            }
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

#[test]
fn ping_is_two_elements_and_malformed_pings_are_errors() {
    let mut out = BytesMut::new();
    let ping = PeerMessage::Request {
        id: 42,
        req: PeerRequest::Ping,
    };
    encode(&ping, &mut out);
    assert_eq!(&out[..], b"*2\r\n$7\r\nRL.PING\r\n:42\r\n");
    assert_eq!(round_trip(&ping), ping);
    let name = || Frame::Bulk(Bytes::from_static(b"RL.PING"));
    let e = decode(Frame::Array(vec![name()])).unwrap_err();
    assert_eq!(
        e,
        PeerError::Arity {
            msg: "RL.PING",
            expected: 2,
            got: 1
        }
    );
    let e = decode(Frame::Array(vec![name(), Frame::Integer(1), Frame::Null])).unwrap_err();
    assert!(matches!(e, PeerError::Arity { got: 3, .. }), "{e}");
    let e = decode(Frame::Array(vec![name(), Frame::Integer(-1)])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "peer message RL.PING: field id: expected a non-negative integer"
    );
    let e = decode(Frame::Array(vec![
        name(),
        Frame::Bulk(Bytes::from_static(b"7")),
    ]))
    .unwrap_err();
    assert!(matches!(e, PeerError::Field { field: "id", .. }), "{e}");
}
