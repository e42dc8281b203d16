//! Membership changes that move data, on the in-memory cluster
//! (`ringlab_core::harness`): a join that streams its keys (and forwards
//! reads meanwhile), a graceful leave that hands its keys off, and a dead
//! node removed for good. No sockets, no clock, seeded.
//!
//! Streaming and leaving run on timers, so these tests move time with
//! `run_until`.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use ringlab_core::clock::Micros;
use ringlab_core::config::NodeConfig;
use ringlab_core::harness::{Cluster, NetConfig};
use ringlab_core::protocol::resp::Frame;
use ringlab_core::ring::NodeId;

const MS: Micros = 1_000;

fn config(n: usize, r: usize, w: usize, stream: bool) -> NodeConfig {
    NodeConfig {
        n,
        r,
        w,
        replica_timeout: Duration::from_millis(50),
        join_stream: stream,
        join_stream_keys: 50,
        join_stream_interval: Duration::from_millis(5),
        ..NodeConfig::default()
    }
}

fn key(i: usize) -> String {
    format!("key:{i}")
}

fn bulk(reply: Option<Frame>) -> Option<Bytes> {
    match reply {
        Some(Frame::Bulk(b)) => Some(b),
        Some(Frame::Null) => None,
        other => panic!("expected a value or nil, got {other:?}"),
    }
}

/// Writes `count` keys through node 1 (value `v<round>-<i>`).
fn load(c: &mut Cluster, count: usize, round: u32) {
    let conn = c.connect(1);
    for i in 0..count {
        let v = format!("v{round}-{i}");
        let reply = c.call(1, conn, &[b"SET", key(i).as_bytes(), v.as_bytes()]);
        assert_eq!(reply, Some(Frame::Simple(Bytes::from_static(b"OK"))));
    }
}

/// Reads every key through `node`; returns how many came back with the
/// value of `round`.
fn hits(c: &mut Cluster, node: NodeId, count: usize, round: u32) -> usize {
    let conn = c.connect(node);
    (0..count)
        .filter(|&i| {
            let got = bulk(c.call(node, conn, &[b"GET", key(i).as_bytes()]));
            got.as_deref() == Some(format!("v{round}-{i}").as_bytes())
        })
        .count()
}

/// Keys node `id` holds (live values) among the first `count`.
fn held(c: &Cluster, id: NodeId, count: usize) -> usize {
    let now = c.now();
    (0..count)
        .filter(|&i| {
            c.node(id)
                .store()
                .peek_versioned(key(i).as_bytes(), now)
                .is_some_and(|e| e.value.is_some())
        })
        .count()
}

/// N=1, R=W=1: node 4 joins three loaded nodes. Without streaming the keys
/// it took miss; with it every key is read back, through an old node and
/// through the newcomer, both while it streams (forwarded) and after.
#[test]
fn a_streaming_join_loses_no_key_and_a_plain_one_misses_the_moved_ones() {
    const KEYS: usize = 600;
    for stream in [false, true] {
        let cfg = config(1, 1, 1, stream);
        let mut c = Cluster::new(3, &cfg, NetConfig::default(), 5);
        c.run_until(c.now() + 50 * MS);
        load(&mut c, KEYS, 0);
        c.join(4, &cfg);
        // At once, before a single batch arrived.
        let early = hits(&mut c, 1, KEYS, 0);
        c.run_until(c.now() + 2_000 * MS);
        let moved = held(&c, 4, KEYS);
        let late_old = hits(&mut c, 2, KEYS, 0);
        let late_new = hits(&mut c, 4, KEYS, 0);
        if stream {
            assert!(!c.node(4).streaming(), "the pull finished");
            assert!(moved > KEYS / 10, "node 4 received its share: {moved}");
            assert_eq!((early, late_old, late_new), (KEYS, KEYS, KEYS));
            let m = c.node(4).metrics().stream;
            assert_eq!(m.keys_received as usize, moved, "each key came once");
        } else {
            assert_eq!(moved, 0, "nothing moves without streaming");
            assert!(late_old < KEYS, "the moved keys miss: {late_old}");
            assert_eq!(early, late_old);
        }
    }
}

/// N=3, R=W=2: after the join and the pull, node 4 holds every key it
/// replicates, and writes made while it streamed are not overwritten by
/// older streamed copies.
#[test]
fn a_streaming_join_fills_every_replica_and_keeps_newer_writes() {
    const KEYS: usize = 400;
    let cfg = config(3, 2, 2, true);
    let mut c = Cluster::new(3, &cfg, NetConfig::default(), 7);
    c.run_until(c.now() + 50 * MS);
    load(&mut c, KEYS, 0);
    c.join(4, &cfg);
    // Overwrite every key while the pull is under way.
    c.run_until(c.now() + 3 * MS);
    assert!(c.node(4).streaming(), "still pulling");
    load(&mut c, KEYS, 1);
    c.run_until(c.now() + 2_000 * MS);
    assert!(!c.node(4).streaming());
    let now = c.now();
    let mut replicated = 0;
    for i in 0..KEYS {
        let k = key(i);
        let want = (1..=4)
            .filter_map(|id| {
                c.node(id)
                    .store()
                    .peek_versioned(k.as_bytes(), now)
                    .cloned()
            })
            .max_by_key(|e| e.version);
        let on4 = c.node(4).store().peek_versioned(k.as_bytes(), now).cloned();
        if let Some(e) = on4 {
            replicated += 1;
            assert_eq!(Some(e), want, "node 4's copy of {k} is the newest");
        }
    }
    // Three of four nodes replicate each key: node 4 about three quarters.
    assert!(replicated > KEYS / 2, "node 4 holds {replicated} keys");
    assert_eq!(hits(&mut c, 4, KEYS, 1), KEYS);
}

/// A graceful leave: node 2 hands its keys off (N=1: it held the only
/// copies), is removed everywhere, and every key is still read, including
/// those written while it handed off.
#[test]
fn a_leave_hands_every_key_off_including_writes_during_it() {
    const KEYS: usize = 500;
    let cfg = config(1, 1, 1, false);
    let mut c = Cluster::new(4, &cfg, NetConfig::default(), 9);
    c.run_until(c.now() + 50 * MS);
    load(&mut c, KEYS, 0);
    let before = held(&c, 2, KEYS);
    assert!(before > 0);
    let conn = c.connect(2);
    let reply = c.call(2, conn, &[b"CLUSTER", b"LEAVE"]);
    assert!(matches!(reply, Some(Frame::Bulk(ref b)) if b.starts_with(b"leaving")));
    assert!(c.node(2).leaving());
    load(&mut c, KEYS, 1);
    c.run_until(c.now() + 2_000 * MS);
    assert!(!c.node(2).leaving());
    for id in [1, 3, 4] {
        let ids: Vec<NodeId> = c.node(id).members().iter().map(|m| m.id).collect();
        assert_eq!(ids, [1, 3, 4], "node {id}'s members");
    }
    assert_eq!(hits(&mut c, 1, KEYS, 1), KEYS, "read through a survivor");
    assert_eq!(
        hits(&mut c, 2, KEYS, 1),
        KEYS,
        "read through the node that left"
    );
    let m = c.node(2).metrics().stream;
    assert!(m.handoff_keys as usize >= before, "{m:?}");
    assert_eq!(m.left, 1);
}

/// A dead node removed for good: with streaming, the survivors pull the
/// replicas they gained, so every key has N copies again.
#[test]
fn removing_a_dead_node_restores_every_replica() {
    const KEYS: usize = 300;
    let cfg = config(2, 1, 2, true);
    let mut c = Cluster::new(4, &cfg, NetConfig::default(), 13);
    c.run_until(c.now() + 50 * MS);
    load(&mut c, KEYS, 0);
    c.kill(3);
    let conn = c.connect(1);
    let reply = c.call(1, conn, &[b"CLUSTER", b"FORGET", b"3"]);
    assert!(matches!(reply, Some(Frame::Bulk(ref b)) if b.starts_with(b"members=3")));
    c.run_until(c.now() + 2_000 * MS);
    for id in [1, 2, 4] {
        let ids: Vec<NodeId> = c.node(id).members().iter().map(|m| m.id).collect();
        assert_eq!(ids, [1, 2, 4], "node {id}'s members");
        assert!(!c.node(id).streaming());
    }
    let copies: usize = [1, 2, 4].iter().map(|&id| held(&c, id, KEYS)).sum();
    assert_eq!(copies, 2 * KEYS, "two copies of every key again");
}

#[test]
fn membership_commands_refuse_bad_input_with_words() {
    let cfg = config(1, 1, 1, false);
    let mut c = Cluster::new(2, &cfg, NetConfig::default(), 1);
    let conn = c.connect(1);
    let err = |r: Option<Frame>| match r {
        Some(Frame::Error(e)) => String::from_utf8_lossy(&e).into_owned(),
        other => panic!("expected an error, got {other:?}"),
    };
    let e = err(c.call(1, conn, &[b"CLUSTER", b"FORGET", b"x"]));
    assert!(e.contains("bad node id"), "{e}");
    let e = err(c.call(1, conn, &[b"CLUSTER", b"FORGET", b"9"]));
    assert!(e.contains("not a member"), "{e}");
    let e = err(c.call(1, conn, &[b"CLUSTER", b"FORGET", b"1"]));
    assert!(e.contains("CLUSTER LEAVE"), "{e}");
    let e = err(c.call(1, conn, &[b"CLUSTER", b"LEAVE", b"now"]));
    assert!(e.contains("wrong number"), "{e}");
}

#[derive(Debug, Clone)]
enum Step {
    Set(usize),
    Join,
    Leave(NodeId),
    Wait(Micros),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0usize..40).prop_map(Step::Set),
        1 => Just(Step::Join),
        1 => (1u32..=6).prop_map(Step::Leave),
        2 => (1u64..50).prop_map(|ms| Step::Wait(ms * MS)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Joins (streaming) and leaves (handing off) in any order between
    /// writes: at the end every key reads back its last acknowledged value
    /// through every member. N=2, R=1, W=2, so a read needs one replica.
    #[test]
    fn joins_and_leaves_lose_no_acknowledged_write(steps in prop::collection::vec(step(), 1..30), seed in 0u64..1000) {
        let cfg = config(2, 1, 2, true);
        let mut c = Cluster::new(3, &cfg, NetConfig::default(), seed);
        c.run_until(c.now() + 20 * MS);
        let mut members: Vec<NodeId> = vec![1, 2, 3];
        let mut next_id = 4;
        let mut acked: BTreeMap<usize, String> = BTreeMap::new();
        let mut version = 0;
        for s in steps {
            match s {
                Step::Set(k) => {
                    version += 1;
                    let at = members[version % members.len()];
                    let conn = c.connect(at);
                    let v = format!("v{version}");
                    let r = c.call(at, conn, &[b"SET", key(k).as_bytes(), v.as_bytes()]);
                    if r == Some(Frame::Simple(Bytes::from_static(b"OK"))) {
                        acked.insert(k, v);
                    }
                }
                Step::Join if next_id <= 6 => {
                    c.join(next_id, &cfg);
                    members.push(next_id);
                    next_id += 1;
                }
                Step::Leave(id) if members.len() > 2 && members.contains(&id) => {
                    let conn = c.connect(id);
                    c.call(id, conn, &[b"CLUSTER", b"LEAVE"]);
                    // One change at a time: the leave finishes first.
                    c.run_until(c.now() + 1_000 * MS);
                    members.retain(|&m| m != id);
                }
                Step::Wait(us) => c.run_until(c.now() + us),
                _ => {}
            }
        }
        c.run_until(c.now() + 2_000 * MS);
        for &at in &members {
            let conn = c.connect(at);
            for (k, v) in &acked {
                let got = bulk(c.call(at, conn, &[b"GET", key(*k).as_bytes()]));
                prop_assert_eq!(got.as_deref(), Some(v.as_bytes()), "key {} through node {}", k, at);
            }
        }
    }
}
