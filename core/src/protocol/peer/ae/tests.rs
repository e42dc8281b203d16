//! Round trips and bad input of anti-entropy's messages.

use bytes::Bytes;
use proptest::prelude::*;

use crate::protocol::peer::{PeerError, PeerMessage, PeerRequest, PeerResponse, decode};
use crate::protocol::resp::Frame;
use crate::store::{Entry, Kind, Version};

use crate::protocol::peer::tests::round_trip;

fn key() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..12).prop_map(Bytes::from)
}

fn version() -> impl Strategy<Value = Version> {
    (0u64..i64::MAX as u64, any::<u32>()).prop_map(|(ts, node)| Version { ts, node })
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        proptest::option::of(key()),
        version(),
        proptest::option::of(0u64..i64::MAX as u64),
    )
        .prop_map(|(value, version, expires_at)| Entry {
            value,
            version,
            expires_at,
            kind: Kind::String,
        })
}

fn message() -> impl Strategy<Value = PeerMessage> {
    let id = 0u64..i64::MAX as u64;
    let hashes = proptest::collection::vec(any::<u64>(), 0..40);
    prop_oneof![
        (id.clone(), any::<u32>(), hashes).prop_map(|(id, from, buckets)| PeerMessage::Request {
            id,
            req: PeerRequest::AeSummary { from, buckets },
        }),
        (
            id.clone(),
            any::<u32>(),
            0u64..i64::MAX as u64,
            proptest::collection::vec(any::<u32>(), 0..10),
            proptest::collection::vec((key(), version()), 0..10),
        )
            .prop_map(|(id, from, budget, leaves, keys)| PeerMessage::Request {
                id,
                req: PeerRequest::AeKeys {
                    from,
                    budget,
                    leaves,
                    keys,
                },
            }),
        (
            id.clone(),
            proptest::collection::vec((any::<u32>(), any::<u64>()), 0..40)
        )
            .prop_map(|(id, l)| PeerMessage::Response {
                id,
                resp: PeerResponse::AeLeaves(l),
            }),
        (
            id,
            proptest::collection::vec((key(), entry()), 0..8),
            proptest::collection::vec(key(), 0..8),
        )
            .prop_map(|(id, entries, want)| PeerMessage::Response {
                id,
                resp: PeerResponse::AeDelta { entries, want },
            }),
    ]
}

proptest! {
    #[test]
    fn ae_messages_round_trip(msg in message()) {
        prop_assert_eq!(round_trip(&msg), msg);
    }

    /// Any array under an anti-entropy name, with arbitrary elements,
    /// decodes or errs; it never panics.
    #[test]
    fn ae_garbage_is_an_error_not_a_panic(
        name in prop_oneof![Just("RL.AESUM"), Just("RL.AEKEYS")],
        ints in proptest::collection::vec(-3i64..3, 0..6),
        blob in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut items = vec![Frame::Bulk(Bytes::from(name))];
        items.extend(ints.iter().map(|&i| Frame::Integer(i)));
        items.push(Frame::Bulk(Bytes::from(blob.clone())));
        items.push(Frame::Array(ints.iter().map(|&i| Frame::Integer(i)).collect()));
        let _ = decode(Frame::Array(items));
        let body = Frame::Array(vec![
            Frame::Simple(Bytes::from_static(b"AEDELTA")),
            Frame::Array(vec![Frame::Bulk(Bytes::from(blob.clone())); ints.len()]),
            Frame::Bulk(Bytes::from(blob)),
        ]);
        let _ = decode(rep(body));
    }
}

fn rep(body: Frame) -> Frame {
    Frame::Array(vec![
        Frame::Bulk(Bytes::from_static(b"RL.REP")),
        Frame::Integer(1),
        body,
    ])
}

fn bulk(b: &'static [u8]) -> Frame {
    Frame::Bulk(Bytes::from_static(b))
}

#[test]
fn malformed_ae_messages_name_what_is_wrong() {
    // Hashes not a multiple of 8 bytes.
    let e = decode(Frame::Array(vec![
        bulk(b"RL.AESUM"),
        Frame::Integer(1),
        Frame::Integer(2),
        bulk(b"12345"),
    ]))
    .unwrap_err();
    assert!(e.to_string().contains("8 bytes per hash"), "{e}");
    // Wrong arity.
    let e = decode(Frame::Array(vec![bulk(b"RL.AEKEYS"), Frame::Integer(1)])).unwrap_err();
    assert!(matches!(e, PeerError::Arity { expected: 6, .. }), "{e}");
    // A key list not in threes.
    let e = decode(Frame::Array(vec![
        bulk(b"RL.AEKEYS"),
        Frame::Integer(1),
        Frame::Integer(2),
        Frame::Integer(10),
        Frame::Array(vec![Frame::Integer(3)]),
        Frame::Array(vec![bulk(b"k"), Frame::Integer(1)]),
    ]))
    .unwrap_err();
    assert!(e.to_string().contains("three elements per key"), "{e}");
    // A leaf beyond u32, a negative budget.
    let e = decode(Frame::Array(vec![
        bulk(b"RL.AEKEYS"),
        Frame::Integer(1),
        Frame::Integer(2),
        Frame::Integer(-1),
        Frame::Array(vec![]),
        Frame::Array(vec![]),
    ]))
    .unwrap_err();
    assert!(e.to_string().contains("budget"), "{e}");
    // Leaves and hashes of different counts.
    let e = decode(rep(Frame::Array(vec![
        Frame::Simple(Bytes::from_static(b"AELEAVES")),
        Frame::Array(vec![Frame::Integer(1), Frame::Integer(2)]),
        Frame::Bulk(Bytes::from(vec![0u8; 8])),
    ])))
    .unwrap_err();
    assert!(e.to_string().contains("one hash per leaf"), "{e}");
    // A delta whose entry is not an entry.
    let e = decode(rep(Frame::Array(vec![
        Frame::Simple(Bytes::from_static(b"AEDELTA")),
        Frame::Array(vec![bulk(b"k"), Frame::Integer(3)]),
        Frame::Array(vec![]),
    ])))
    .unwrap_err();
    assert!(e.to_string().contains("entry"), "{e}");
}
