//! Anti-entropy on the in-memory cluster (`ringlab_core::harness`): a node
//! restarted empty gets its keys back, replicas that diverged during a
//! partition converge after it heals, deletes stay deleted, and a property
//! test over random writes, deletes, kills, restarts and partitions checks
//! that every key's replicas agree once the cluster has healed.
//!
//! Anti-entropy's timer is periodic, so these tests drive the cluster with
//! `run_until`, never `run`.

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use ringlab_core::clock::Micros;
use ringlab_core::config::NodeConfig;
use ringlab_core::harness::{Cluster, NetConfig};
use ringlab_core::membership::Membership;
use ringlab_core::protocol::resp::Frame;
use ringlab_core::ring::{NodeId, Placement, PlacementKind};
use ringlab_core::store::Version;

const NODES: u32 = 3;
const SECOND: Micros = 1_000_000;

fn config(r: usize, w: usize) -> NodeConfig {
    NodeConfig {
        n: 3,
        r,
        w,
        replica_timeout: Duration::from_millis(50),
        anti_entropy_interval: Some(Duration::from_millis(100)),
        anti_entropy_keys: 1000,
        ..NodeConfig::default()
    }
}

/// The replicas of `key` in the test cluster.
fn replicas(c: &Cluster, key: &[u8]) -> Vec<NodeId> {
    let m = Membership::new(PlacementKind::Ring, c.node(1).members());
    m.placement.preference_list(key, NODES as usize)
}

/// What `node` holds for `key`: version and value (None: a tombstone).
fn held(c: &Cluster, node: NodeId, key: &[u8]) -> Option<(Version, Option<Bytes>)> {
    let e = c.node(node).store().peek_versioned(key, c.now())?;
    Some((e.version, e.value.clone()))
}

/// The newest of what the nodes hold for `key`.
fn newest(c: &Cluster, nodes: &[NodeId], key: &[u8]) -> Option<(Version, Option<Bytes>)> {
    nodes
        .iter()
        .filter_map(|&n| held(c, n, key))
        .max_by_key(|(v, _)| *v)
}

/// Whether every replica of `key` holds the same version.
fn agree(c: &Cluster, key: &[u8]) -> Result<(), String> {
    let reps = replicas(c, key);
    let first = held(c, reps[0], key);
    for &n in &reps[1..] {
        let h = held(c, n, key);
        if h != first {
            let k = String::from_utf8_lossy(key);
            return Err(format!(
                "{k}: node {} has {first:?}, node {n} {h:?}",
                reps[0]
            ));
        }
    }
    Ok(())
}

fn set(c: &mut Cluster, at: NodeId, key: &str, value: &str) -> bool {
    let conn = c.connect(at);
    c.advance(10);
    let reply = c.call(at, conn, &[b"SET", key.as_bytes(), value.as_bytes()]);
    matches!(reply, Some(Frame::Simple(_)))
}

fn del(c: &mut Cluster, at: NodeId, key: &str) -> bool {
    let conn = c.connect(at);
    c.advance(10);
    matches!(
        c.call(at, conn, &[b"DEL", key.as_bytes()]),
        Some(Frame::Integer(_))
    )
}

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("key:{i}")).collect()
}

#[test]
fn restarted_node_gets_its_keys_back() {
    let mut c = Cluster::new(NODES, &config(2, 2), NetConfig::default(), 1);
    for k in keys(300) {
        assert!(set(&mut c, 1, &k, "v1"));
    }
    c.kill(3);
    // Node 3 misses these overwrites and new keys.
    for k in keys(400).iter().step_by(2) {
        assert!(set(&mut c, 2, k, "v2"));
    }
    c.restart(3);
    assert!(c.node(3).store().is_empty());
    let until = c.now() + 2 * SECOND;
    c.run_until(until);
    let mut theirs = 0;
    for (i, k) in keys(400).iter().enumerate() {
        // Keys 301, 303... were never written.
        if (i >= 300 && i % 2 == 1) || !replicas(&c, k.as_bytes()).contains(&3) {
            continue;
        }
        theirs += 1;
        let want = newest(&c, &[1, 2], k.as_bytes());
        assert!(want.is_some(), "{k} is on nodes 1 and 2");
        assert_eq!(held(&c, 3, k.as_bytes()), want, "{k} on node 3");
    }
    assert!(theirs > 200, "{theirs} keys replicated on node 3");
    let m = |n: NodeId| c.node(n).metrics().ae;
    assert!(m(3).keys_received + m(1).keys_sent.min(m(2).keys_sent) >= theirs);
    assert!(m(3).keys_received > 0 && m(3).bytes_received > 0);
    assert!(m(1).rounds > 0 && m(3).leaves_differing > 0);
}

/// A node that never starts a round itself (its first is an hour away)
/// still gets its keys: its peers' rounds push them.
#[test]
fn peers_push_to_a_node_that_only_answers() {
    let mut c = Cluster::new(NODES, &config(2, 2), NetConfig::default(), 4);
    for k in keys(200) {
        assert!(set(&mut c, 1, &k, "v"));
    }
    let mut lazy = c.node(3).config().clone();
    lazy.anti_entropy_interval = Some(Duration::from_secs(3600));
    c.restart_with(3, lazy);
    let until = c.now() + SECOND;
    c.run_until(until);
    for k in keys(200) {
        if replicas(&c, k.as_bytes()).contains(&3) {
            assert_eq!(
                held(&c, 3, k.as_bytes()),
                newest(&c, &[1, 2], k.as_bytes()),
                "{k}"
            );
        }
    }
    assert_eq!(c.node(3).metrics().ae.rounds, 0);
    assert!(c.node(1).metrics().ae.keys_sent > 0);
}

/// Each round moves at most `anti_entropy_keys` keys (answers' entries
/// and pushes together), and enough rounds still move them all.
#[test]
fn rounds_move_at_most_the_budget() {
    let mut cfg = config(2, 2);
    cfg.anti_entropy_keys = 10;
    let mut c = Cluster::new(NODES, &cfg, NetConfig::default(), 5);
    for k in keys(200) {
        assert!(set(&mut c, 1, &k, "v"));
    }
    c.restart(3);
    let sent = |c: &Cluster| {
        (1..=NODES)
            .map(|n| c.node(n).metrics().ae.keys_sent)
            .sum::<u64>()
    };
    let rounds = |c: &Cluster| {
        (1..=NODES)
            .map(|n| c.node(n).metrics().ae.rounds)
            .sum::<u64>()
    };
    let until = c.now() + 250_000;
    c.run_until(until);
    assert!(
        sent(&c) > 0 && sent(&c) <= 10 * rounds(&c),
        "{} in {}",
        sent(&c),
        rounds(&c)
    );
    let missing = |c: &Cluster| {
        keys(200)
            .iter()
            .filter(|k| {
                replicas(c, k.as_bytes()).contains(&3) && held(c, 3, k.as_bytes()).is_none()
            })
            .count()
    };
    assert!(missing(&c) > 0, "not all in 250 ms at 10 keys a round");
    let until = c.now() + 5 * SECOND;
    c.run_until(until);
    assert_eq!(missing(&c), 0);
}

#[test]
fn partitioned_sides_converge_after_heal() {
    let mut c = Cluster::new(NODES, &config(1, 1), NetConfig::default(), 2);
    for k in keys(100) {
        assert!(set(&mut c, 1, &k, "before"));
    }
    c.partition(&[3]);
    // Both sides write the same keys: versions, not presence, differ.
    for k in keys(100).iter().step_by(2) {
        assert!(set(&mut c, 1, k, "left"));
    }
    for k in keys(150).iter().skip(1).step_by(2) {
        assert!(set(&mut c, 3, k, "right"));
    }
    let until = c.now() + SECOND;
    c.run_until(until);
    assert!(keys(150).iter().any(|k| agree(&c, k.as_bytes()).is_err()));
    c.heal();
    let until = c.now() + 2 * SECOND;
    c.run_until(until);
    for k in keys(150) {
        agree(&c, k.as_bytes()).unwrap();
    }
    for k in keys(100).iter().step_by(2) {
        let (_, v) = held(&c, 3, k.as_bytes()).expect("everywhere");
        assert_eq!(v.as_deref(), Some(&b"left"[..]), "{k}");
    }
}

#[test]
fn deletes_during_divergence_stay_deleted() {
    let mut c = Cluster::new(NODES, &config(1, 1), NetConfig::default(), 3);
    for k in keys(100) {
        assert!(set(&mut c, 1, &k, "v"));
    }
    c.partition(&[3]);
    for k in keys(100).iter().step_by(3) {
        assert!(del(&mut c, 1, k));
    }
    c.heal();
    let until = c.now() + 2 * SECOND;
    c.run_until(until);
    for (i, k) in keys(100).iter().enumerate() {
        agree(&c, k.as_bytes()).unwrap();
        let reps = replicas(&c, k.as_bytes());
        let (_, v) = held(&c, reps[0], k.as_bytes()).expect("a value or a tombstone");
        assert_eq!(v.is_none(), i % 3 == 0, "{k}");
    }
    let conn = c.connect(3);
    let got = c.call(3, conn, &[b"GET", b"key:0"]);
    assert!(matches!(got, Some(Frame::Null)), "{got:?}");
}

#[derive(Debug, Clone)]
enum Op {
    Set { at: NodeId, key: u8 },
    Del { at: NodeId, key: u8 },
    Kill(NodeId),
    Restart(NodeId),
    Partition(NodeId),
    Heal,
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let node = 1..=NODES;
    prop_oneof![
        6 => (node.clone(), 0u8..12).prop_map(|(at, key)| Op::Set { at, key }),
        3 => (node.clone(), 0u8..12).prop_map(|(at, key)| Op::Del { at, key }),
        1 => node.clone().prop_map(Op::Kill),
        1 => node.clone().prop_map(Op::Restart),
        1 => node.prop_map(Op::Partition),
        1 => Just(Op::Heal),
        1 => (1u64..400_000).prop_map(Op::Wait),
    ]
}

/// Runs `ops`, heals everything, restarts the dead, lets anti-entropy run
/// and checks that every key's replicas agree.
fn converges(ops: &[Op], seed: u64) -> Result<(), TestCaseError> {
    let mut c = Cluster::new(NODES, &config(1, 1), NetConfig::default(), seed);
    let mut dead = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match *op {
            Op::Set { at, key } if !dead.contains(&at) => {
                set(&mut c, at, &format!("k{key}"), &format!("v{i}"));
            }
            Op::Del { at, key } if !dead.contains(&at) => {
                del(&mut c, at, &format!("k{key}"));
            }
            Op::Kill(n) => {
                c.kill(n);
                dead.push(n);
            }
            Op::Restart(n) => {
                c.restart(n);
                dead.retain(|&d| d != n);
            }
            Op::Partition(n) => c.partition(&[n]),
            Op::Heal => c.heal(),
            Op::Wait(us) => {
                let until = c.now() + us;
                c.run_until(until);
            }
            _ => {}
        }
    }
    c.heal();
    for n in dead {
        c.restart(n);
    }
    let until = c.now() + 2 * SECOND;
    c.run_until(until);
    for key in 0..12u8 {
        let k = format!("k{key}");
        agree(&c, k.as_bytes()).map_err(TestCaseError::fail)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn replicas_agree_after_heal(ops in proptest::collection::vec(op(), 1..40), seed in any::<u64>()) {
        converges(&ops, seed)?;
    }
}
