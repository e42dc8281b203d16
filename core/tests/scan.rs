//! KEYS and SCAN on replicated clusters of node machines, against a model
//! of which keys are live: every live key exactly once whatever the
//! coordinator and COUNT, deleted and expired keys never, even on a replica
//! that missed the delete; with too many nodes silent, UNAVAILABLE.

use std::collections::BTreeSet;

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ringlab_core::config::NodeConfig;
use ringlab_core::harness::{Cluster, NetConfig};
use ringlab_core::protocol::resp::Frame;

fn cfg(n: usize) -> NodeConfig {
    NodeConfig {
        n,
        r: 2.min(n),
        w: 2.min(n),
        ..NodeConfig::default()
    }
}

fn bulk(f: &Frame) -> Bytes {
    match f {
        Frame::Bulk(b) => b.clone(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

/// SCAN through `via` (a coordinator per call, in turn) until cursor 0.
fn scan_all(c: &mut Cluster, via: &[u32], count: usize, extra: &[&[u8]]) -> Vec<Bytes> {
    let (mut cursor, mut keys, mut turn) = (b"0".to_vec(), Vec::new(), 0);
    loop {
        let node = via[turn % via.len()];
        turn += 1;
        let conn = c.connect(node);
        let count = count.to_string();
        let mut args: Vec<&[u8]> = vec![b"SCAN", &cursor, b"COUNT", count.as_bytes()];
        args.extend_from_slice(extra);
        let reply = c.call(node, conn, &args).expect("an answer");
        let Frame::Array(parts) = reply else {
            panic!("SCAN answered {reply:?}");
        };
        let Frame::Array(page) = &parts[1] else {
            panic!("SCAN's keys: {parts:?}");
        };
        keys.extend(page.iter().map(bulk));
        cursor = bulk(&parts[0]).to_vec();
        if cursor == b"0" {
            return keys;
        }
        assert!(turn < 10_000, "SCAN never ended");
    }
}

fn sorted(keys: &[Bytes]) -> Vec<Bytes> {
    let mut v = keys.to_vec();
    v.sort();
    v
}

#[test]
fn scan_and_keys_list_every_live_key_once_across_coordinators() {
    for seed in 0..8 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut c = Cluster::new(5, &cfg(3), NetConfig::default(), seed);
        let mut live = BTreeSet::new();
        for i in 0..150 {
            let key = format!("k{}", rng.random_range(0..120)).into_bytes();
            let node = rng.random_range(1..=5);
            let conn = c.connect(node);
            match i % 5 {
                0..=2 => {
                    c.call(node, conn, &[b"SET", &key, b"v"]);
                    live.insert(Bytes::from(key));
                }
                3 => {
                    c.call(node, conn, &[b"DEL", &key]);
                    live.remove(&key[..]);
                }
                _ => {
                    c.call(node, conn, &[b"SET", &key, b"v", b"PX", b"5"]);
                    live.remove(&key[..]);
                }
            }
        }
        c.advance(10_000);
        let want: Vec<Bytes> = live.into_iter().collect();
        for count in [1, 3, 10, 1000] {
            let got = scan_all(&mut c, &[1, 2, 3, 4, 5], count, &[]);
            assert_eq!(
                got.len(),
                want.len(),
                "seed {seed} count {count}: a key twice or missing"
            );
            assert_eq!(sorted(&got), want, "seed {seed} count {count}");
        }
        let conn = c.connect(3);
        let Some(Frame::Array(all)) = c.call(3, conn, &[b"KEYS", b"*"]) else {
            panic!("KEYS failed");
        };
        // KEYS answers sorted.
        assert_eq!(
            all.iter().map(bulk).collect::<Vec<_>>(),
            want,
            "seed {seed}"
        );
    }
}

#[test]
fn a_key_deleted_while_a_replica_was_cut_off_stays_hidden() {
    // Three nodes, N=3, W=2: the delete reaches two replicas.
    let mut c = Cluster::new(3, &cfg(3), NetConfig::default(), 1);
    let conn = c.connect(1);
    c.call(1, conn, &[b"SET", b"gone", b"v"]);
    c.call(1, conn, &[b"SET", b"kept", b"v"]);
    c.run();
    c.cut(1, 3);
    assert_eq!(c.call(1, conn, &[b"DEL", b"gone"]), Some(Frame::Integer(1)));
    c.run();
    c.heal();
    // Node 3 still holds the old value; the others' tombstone is newer.
    for via in [1, 2, 3] {
        assert_eq!(scan_all(&mut c, &[via], 10, &[]), [Bytes::from("kept")]);
        let conn = c.connect(via);
        let reply = c.call(via, conn, &[b"KEYS", b"*"]);
        assert_eq!(reply, Some(Frame::Array(vec![Frame::Bulk("kept".into())])));
    }
}

#[test]
fn match_and_type_filter_and_silent_nodes_are_handled() {
    let mut c = Cluster::new(5, &cfg(3), NetConfig::default(), 2);
    let conn = c.connect(1);
    for i in 0..20 {
        c.call(1, conn, &[b"SET", format!("user:{i}").as_bytes(), b"v"]);
        c.call(1, conn, &[b"SADD", format!("set:{i}").as_bytes(), b"m"]);
    }
    let users = scan_all(&mut c, &[2], 4, &[b"MATCH", b"user:1*"]);
    assert_eq!(users.len(), 11, "user:1 and user:10..19");
    let sets = scan_all(&mut c, &[3], 4, &[b"TYPE", b"SET"]);
    assert_eq!(sets.len(), 20);
    assert!(sets.iter().all(|k| k.starts_with(b"set:")));
    // Two of five silent, N=3: every key still has a replica answering.
    c.kill(4);
    c.kill(5);
    assert_eq!(scan_all(&mut c, &[1], 7, &[]).len(), 40);
    // A third: some keys may have no replica left.
    c.kill(3);
    let conn = c.connect(1);
    let reply = c.call(1, conn, &[b"SCAN", b"0"]);
    assert_eq!(
        reply,
        Some(Frame::Error(
            "UNAVAILABLE quorum not met: 2/3 replicas answered for scan".into()
        ))
    );
}
