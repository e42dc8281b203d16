//! FLUSHALL on a replicated cluster against writes still in flight: a
//! write acknowledged by W replicas may still be on its way to the others
//! when the flush is sent, and messages are not ordered between them. The
//! flush is a delete of every key at its own version, so that late write
//! (and any read repair carrying it) must not bring the key back.

use std::time::Duration;

use bytes::Bytes;
use ringlab_core::config::NodeConfig;
use ringlab_core::harness::{Cluster, NetConfig};
use ringlab_core::protocol::resp::Frame;

#[test]
fn no_key_written_before_flushall_survives_it() {
    let cfg = NodeConfig {
        n: 3,
        r: 2,
        w: 2,
        ..NodeConfig::default()
    };
    // Delays that vary fiftyfold: the third replica's write may arrive
    // after a flush sent once one other replica acknowledged it.
    let net = NetConfig {
        delay: (20, 1000),
        ..NetConfig::default()
    };
    let mut survivors = Vec::new();
    for seed in 0..100 {
        let mut c = Cluster::new(3, &cfg, net, seed);
        let conn = c.connect(1);
        c.send(1, conn, &[b"SET", b"k", b"v"]);
        c.send(1, conn, &[b"FLUSHALL"]);
        c.run();
        let replies = c.take_replies(1, conn);
        assert_eq!(replies.len(), 2, "seed {seed}: {replies:?}");
        for node in 1..=3 {
            let probe = c.connect(node);
            if c.call(node, probe, &[b"DBSIZE"]) != Some(Frame::Integer(0)) {
                survivors.push((seed, node));
            }
        }
        // Nor does a read through another coordinator (R=2, with repair).
        let reader = c.connect(2);
        assert_eq!(
            c.call(2, reader, &[b"GET", b"k"]),
            Some(Frame::Null),
            "seed {seed}"
        );
    }
    assert!(
        survivors.is_empty(),
        "(seed, node) keeping the key: {survivors:?}"
    );
}

/// A replica that missed a flush (cut off while it ran) cannot bring a
/// value back through a read the flushing node coordinates: the flush's
/// version is that node's floor, and a replica's answer from below it is
/// as good as no answer (nor is it repaired back anywhere).
#[test]
fn a_replica_that_missed_a_flush_cannot_bring_a_value_back() {
    let mut c = flushed_without_node_3(false);
    // Now node 2 is cut off: a read through node 1 hears node 1 (flushed)
    // and node 3 (which still holds "v").
    c.partition(&[2]);
    let conn = c.connect(1);
    assert_eq!(
        c.call(1, conn, &[b"GET", b"k"]),
        Some(Frame::Null),
        "node 3's value is older than node 1's flush"
    );
    c.heal();
    c.run();
    // Nor did the read repair it back anywhere.
    for node in [1, 2] {
        let conn = c.connect(node);
        assert_eq!(
            c.call(node, conn, &[b"GET", b"k"]),
            Some(Frame::Null),
            "through node {node}"
        );
    }
}

/// With hinted handoff on, a peer that missed a flush (cut off while it
/// ran) gets it as a hint once it is back, so the reads it coordinates no
/// longer see the values the flush removed; and a write made after the
/// flush, which reached that peer before the hint did, survives the
/// replay.
#[test]
fn a_peer_that_missed_a_flush_gets_it_when_it_is_back() {
    let mut c = flushed_without_node_3(true);
    let ok = Some(Frame::Simple(Bytes::from_static(b"OK")));
    // Before the hint can go out, node 3 is back and takes a new write.
    let conn3 = c.connect(3);
    assert_eq!(c.call(3, conn3, &[b"SET", b"after", b"x"]), ok);
    c.run();
    let conn1 = c.connect(1);
    let info = c.call(1, conn1, &[b"INFO", b"cluster"]);
    let Some(Frame::Bulk(info)) = info else {
        panic!("INFO: {info:?}");
    };
    let info = String::from_utf8_lossy(&info);
    assert!(info.contains("hints_delivered:1\r\n"), "{info}");
    // Node 3 keeps the write made after the flush, and only that.
    assert_eq!(c.call(3, conn3, &[b"DBSIZE"]), Some(Frame::Integer(1)));
    // Node 3 coordinates: it flushed, so no replica has "v" now.
    assert_eq!(c.call(3, conn3, &[b"GET", b"k"]), Some(Frame::Null));
    let x = Some(Frame::Bulk(Bytes::from_static(b"x")));
    for node in 1..=3 {
        let conn = c.connect(node);
        assert_eq!(c.call(node, conn, &[b"GET", b"after"]), x, "through {node}");
    }
}

/// A 3-node cluster (N=3, R=W=2) where `k` was set, then flushed through
/// node 1 while node 3 was cut off; healed since.
fn flushed_without_node_3(hinted_handoff: bool) -> Cluster {
    let cfg = NodeConfig {
        n: 3,
        r: 2,
        w: 2,
        replica_timeout: Duration::from_millis(20),
        hinted_handoff,
        ..NodeConfig::default()
    };
    let mut c = Cluster::new(3, &cfg, NetConfig::default(), 5);
    let conn = c.connect(1);
    let ok = Some(Frame::Simple(Bytes::from_static(b"OK")));
    assert_eq!(c.call(1, conn, &[b"SET", b"k", b"v"]), ok);
    c.run();
    // Node 3 is cut off while node 1 flushes: only nodes 1 and 2 flush.
    c.partition(&[3]);
    let flushed = c.call(1, conn, &[b"FLUSHALL"]);
    assert!(flushed.is_some(), "FLUSHALL answered");
    c.heal();
    c
}
