//! A delete must hold even when the replicas its read asked were empty:
//! two replicas restarted (empty, not yet repaired) while the third, cut
//! off, still holds the value. DEL's read finds nothing there; if it wrote
//! nothing, the value would come back once the third replica is heard
//! again, after the delete was acknowledged. The nemesis found this
//! (`sim/src/nemesis.rs`).

use std::time::Duration;

use bytes::Bytes;
use ringlab_core::config::NodeConfig;
use ringlab_core::harness::{Cluster, NetConfig};
use ringlab_core::protocol::resp::Frame;

#[test]
fn a_delete_that_found_nothing_still_wins_over_an_unasked_replica() {
    let cfg = NodeConfig {
        n: 3,
        r: 2,
        w: 2,
        replica_timeout: Duration::from_millis(20),
        ..NodeConfig::default()
    };
    let mut c = Cluster::new(3, &cfg, NetConfig::default(), 5);
    let conn = c.connect(1);
    let ok = Some(Frame::Simple(Bytes::from_static(b"OK")));
    assert_eq!(c.call(1, conn, &[b"SET", b"k", b"v"]), ok);
    c.run();
    // Nodes 1 and 2 restart empty one after the other; node 3 keeps "v"
    // but is cut off while the delete runs.
    for node in [1, 2] {
        c.kill(node);
        c.restart(node);
    }
    c.partition(&[3]);
    let conn = c.connect(1);
    assert_eq!(
        c.call(1, conn, &[b"DEL", b"k"]),
        Some(Frame::Integer(0)),
        "the replicas asked hold nothing"
    );
    c.heal();
    // Every read from now on must miss: any two answers include a
    // tombstone newer than node 3's value.
    for (i, node) in [1, 2, 3].into_iter().cycle().take(30).enumerate() {
        let conn = c.connect(node);
        let got = c.call(node, conn, &[b"GET", b"k"]);
        assert_eq!(got, Some(Frame::Null), "read {i} through node {node}");
        c.run();
    }
}
