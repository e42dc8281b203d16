//! Round trips and bad input of membership changes' messages.

use bytes::Bytes;
use proptest::prelude::*;

use crate::protocol::peer::tests::round_trip;
use crate::protocol::peer::{PeerError, PeerMessage, PeerRequest, PeerResponse, decode};
use crate::protocol::resp::Frame;
use crate::store::{Entry, Kind, Version};

fn key() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..12).prop_map(Bytes::from)
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        proptest::option::of(key()),
        0u64..i64::MAX as u64,
        any::<u32>(),
    )
        .prop_map(|(value, ts, node)| Entry {
            value,
            version: Version { ts, node },
            expires_at: None,
            kind: Kind::String,
        })
}

fn message() -> impl Strategy<Value = PeerMessage> {
    let id = 0u64..i64::MAX as u64;
    let cursor = proptest::option::of(any::<u64>());
    prop_oneof![
        (
            id.clone(),
            any::<u32>(),
            cursor.clone(),
            0u64..i64::MAX as u64
        )
            .prop_map(|(id, from, after, count)| PeerMessage::Request {
                id,
                req: PeerRequest::Stream { from, after, count },
            }),
        (id.clone(), any::<u32>(), any::<bool>()).prop_map(|(id, node, handed_off)| {
            PeerMessage::Request {
                id,
                req: PeerRequest::Forget { node, handed_off },
            }
        }),
        (
            id,
            cursor,
            proptest::collection::vec((key(), entry()), 0..6)
        )
            .prop_map(|(id, next, entries)| PeerMessage::Response {
                id,
                resp: PeerResponse::Streamed { next, entries },
            }),
    ]
}

proptest! {
    #[test]
    fn membership_messages_round_trip(msg in message()) {
        prop_assert_eq!(round_trip(&msg), msg);
    }
}

#[test]
fn bad_cursors_and_flags_are_errors_that_name_the_field() {
    let bulk = |b: &[u8]| Frame::Bulk(Bytes::copy_from_slice(b));
    let stream = Frame::Array(vec![
        bulk(b"RL.STREAM"),
        Frame::Integer(1),
        Frame::Integer(2),
        bulk(b"abc"),
        Frame::Integer(10),
    ]);
    assert!(matches!(
        decode(stream),
        Err(PeerError::Field { field: "after", .. })
    ));
    let forget = Frame::Array(vec![
        bulk(b"RL.FORGET"),
        Frame::Integer(1),
        Frame::Integer(2),
        Frame::Integer(7),
    ]);
    assert!(matches!(
        decode(forget),
        Err(PeerError::Field {
            field: "handed_off",
            ..
        })
    ));
    let short = Frame::Array(vec![bulk(b"RL.STREAM"), Frame::Integer(1)]);
    assert!(matches!(decode(short), Err(PeerError::Arity { .. })));
}
