//! Model-based tests of the cluster: node machines on the in-memory network
//! (`ringlab_core::harness`), no sockets, no async runtime, against a simple
//! reference of what each key may hold.
//!
//! The reference keeps, per key, every write in the order it was issued
//! (operations run one after another, time moving forward between them, so
//! last-writer-wins orders versions as the test issued them) and whether the
//! cluster acknowledged it. A successful read must return the value of the
//! last acknowledged write or of a write issued after it (acknowledged or
//! not: a failed write may still have reached some replicas). With R+W>N
//! that holds whatever nodes die, links are cut or messages are lost: a
//! read's R replicas overlap every acknowledged write's W.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use ringlab_core::config::NodeConfig;
use ringlab_core::harness::{Cluster, NetConfig};
use ringlab_core::protocol::resp::Frame;
use ringlab_core::ring::NodeId;

const NODES: u32 = 3;
const KEYS: u8 = 4;

#[derive(Debug, Clone)]
enum Op {
    Set { at: NodeId, key: u8 },
    Del { at: NodeId, key: u8 },
    Get { at: NodeId, key: u8 },
    Kill(NodeId),
    Partition(NodeId),
    Cut(NodeId, NodeId),
    Heal,
    Wait(u64),
}

fn node() -> impl Strategy<Value = NodeId> {
    1..=NODES
}

fn op(faults: bool) -> impl Strategy<Value = Op> {
    let data = prop_oneof![
        4 => (node(), 0..KEYS).prop_map(|(at, key)| Op::Set { at, key }),
        2 => (node(), 0..KEYS).prop_map(|(at, key)| Op::Del { at, key }),
        5 => (node(), 0..KEYS).prop_map(|(at, key)| Op::Get { at, key }),
        1 => (1u64..300_000).prop_map(Op::Wait),
    ];
    if !faults {
        return data.boxed();
    }
    prop_oneof![
        10 => data,
        1 => node().prop_map(Op::Kill),
        1 => node().prop_map(Op::Partition),
        1 => (node(), node()).prop_map(|(a, b)| Op::Cut(a, b)),
        1 => Just(Op::Heal),
    ]
    .boxed()
}

/// Every write issued to one key: its value (None: a delete) and whether it
/// was acknowledged.
#[derive(Debug, Default)]
struct History(Vec<(Option<Bytes>, bool)>);

impl History {
    /// The values a successful read may return now.
    fn allowed(&self) -> Vec<Option<Bytes>> {
        match self.0.iter().rposition(|(_, acked)| *acked) {
            Some(k) => self.0[k..].iter().map(|(v, _)| v.clone()).collect(),
            // Nothing acknowledged: nothing, or any write that got anywhere.
            None => std::iter::once(None)
                .chain(self.0.iter().map(|(v, _)| v.clone()))
                .collect(),
        }
    }
}

fn config(r: usize, w: usize) -> NodeConfig {
    NodeConfig {
        n: 3,
        r,
        w,
        replica_timeout: Duration::from_millis(50),
        // Every read asks every replica, so repairs happen on every read.
        read_repair_every: 1,
        ..NodeConfig::default()
    }
}

/// `config` with heartbeats every 5 ms and hinted handoff on.
fn config_with_liveness(r: usize, w: usize) -> NodeConfig {
    NodeConfig {
        heartbeat_interval: Some(Duration::from_millis(5)),
        hinted_handoff: true,
        ..config(r, w)
    }
}

/// Runs `ops` on a fresh cluster and checks every reply against the
/// reference; with `live` (no faults), also that every operation succeeds.
fn check(ops: &[Op], r: usize, w: usize, loss: f64, seed: u64) -> Result<(), TestCaseError> {
    check_with(ops, config(r, w), loss, seed)
}

/// [`check`] on nodes configured by `cfg`. With heartbeats on, time moves
/// only through `run_until` (timers never run out, and jumping time
/// without firing them would make every peer look silent).
fn check_with(ops: &[Op], cfg: NodeConfig, loss: f64, seed: u64) -> Result<(), TestCaseError> {
    let w = cfg.w;
    let periodic = cfg.heartbeat_interval.is_some() || cfg.hinted_handoff;
    let net = NetConfig {
        loss,
        ..NetConfig::default()
    };
    let live = loss == 0.0
        && !ops
            .iter()
            .any(|o| matches!(o, Op::Kill(_) | Op::Partition(_) | Op::Cut(..)));
    let mut c = Cluster::new(NODES, &cfg, net, seed);
    let conns: BTreeMap<NodeId, _> = (1..=NODES).map(|n| (n, c.connect(n))).collect();
    let mut dead = Vec::new();
    let mut model: BTreeMap<u8, History> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        // Time moves between operations: last writer wins needs it.
        c.advance(10);
        match *op {
            Op::Set { at, key } | Op::Del { at, key } if !dead.contains(&at) => {
                let k = format!("k{key}");
                let (args, value): (Vec<&[u8]>, Option<Bytes>) = match op {
                    Op::Set { .. } => {
                        let v = format!("v{i}");
                        let args: Vec<&[u8]> = vec![b"SET", k.as_bytes(), v.as_bytes()];
                        let reply = c.call(at, conns[&at], &args);
                        record(&mut model, key, Some(Bytes::from(v)), &reply, live, op)?;
                        continue;
                    }
                    _ => (vec![b"DEL", k.as_bytes()], None),
                };
                let reply = c.call(at, conns[&at], &args);
                record(&mut model, key, value, &reply, live, op)?;
            }
            Op::Get { at, key } if !dead.contains(&at) => {
                let k = format!("k{key}");
                let got = match c.call(at, conns[&at], &[b"GET", k.as_bytes()]) {
                    Some(Frame::Bulk(b)) => Some(b),
                    Some(Frame::Null) => None,
                    Some(Frame::Error(e)) if !live && e.starts_with(b"UNAVAILABLE") => continue,
                    other => return Err(TestCaseError::fail(format!("{op:?}: got {other:?}"))),
                };
                let allowed = model.entry(key).or_default().allowed();
                prop_assert!(
                    allowed.contains(&got),
                    "op {i} {op:?} read {got:?}, allowed {allowed:?}"
                );
            }
            Op::Kill(n) if dead.len() < 3 - w && !dead.contains(&n) => {
                dead.push(n);
                c.kill(n);
            }
            Op::Partition(n) => c.partition(&[n]),
            Op::Cut(a, b) => c.cut(a, b),
            Op::Heal => c.heal(),
            Op::Wait(us) if periodic => c.run_until(c.now() + us),
            Op::Wait(us) => {
                c.advance(us);
                c.run();
            }
            _ => {}
        }
    }
    if periodic {
        c.run_until(c.now() + 1_000_000);
    } else {
        c.run();
    }
    for n in 1..=NODES {
        if !dead.contains(&n) {
            c.node(n).check_invariants();
            prop_assert_eq!(c.node(n).ops_in_flight(), 0, "node {} kept ops", n);
        }
    }
    Ok(())
}

/// Records a write's outcome in the reference.
fn record(
    model: &mut BTreeMap<u8, History>,
    key: u8,
    value: Option<Bytes>,
    reply: &Option<Frame>,
    live: bool,
    op: &Op,
) -> Result<(), TestCaseError> {
    let acked = match reply {
        Some(Frame::Simple(s)) if &s[..] == b"OK" => true,
        Some(Frame::Integer(_)) => true,
        Some(Frame::Error(e)) if e.starts_with(b"UNAVAILABLE") && !live => false,
        other => return Err(TestCaseError::fail(format!("{op:?}: got {other:?}"))),
    };
    // DEL of a missing key writes nothing and changes nothing.
    let wrote = !matches!(reply, Some(Frame::Integer(0)));
    if wrote {
        model.entry(key).or_default().0.push((value, acked));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Without faults every operation succeeds, and reads see the last write.
    #[test]
    fn healthy_clusters_answer_everything_consistently(
        ops in prop::collection::vec(op(false), 1..60),
        seed in any::<u64>(),
    ) {
        check(&ops, 2, 2, 0.0, seed)?;
    }

    /// With R+W>N, deaths, partitions, one-way cuts and lost messages never
    /// make a read return something older than an acknowledged write.
    #[test]
    fn acknowledged_writes_are_read_back_or_superseded(
        ops in prop::collection::vec(op(true), 1..80),
        quorum in prop_oneof![Just((2, 2)), Just((1, 3)), Just((3, 1))],
        loss in prop_oneof![Just(0.0), Just(0.1)],
        seed in any::<u64>(),
    ) {
        check(&ops, quorum.0, quorum.1, loss, seed)?;
    }

    /// The same with the failure detector and hinted handoff on: skipping
    /// suspected replicas and replaying hints never lose an acknowledged
    /// write, and a healthy cluster still answers everything.
    #[test]
    fn failure_detection_and_handoff_keep_acknowledged_writes(
        ops in prop::collection::vec(op(true), 1..80),
        quorum in prop_oneof![Just((2, 2)), Just((1, 3)), Just((3, 1))],
        loss in prop_oneof![Just(0.0), Just(0.1)],
        seed in any::<u64>(),
    ) {
        check_with(&ops, config_with_liveness(quorum.0, quorum.1), loss, seed)?;
    }
}

fn bulk(f: Option<Frame>) -> Option<Bytes> {
    match f {
        Some(Frame::Bulk(b)) => Some(b),
        Some(Frame::Null) => None,
        other => panic!("expected a bulk or null, got {other:?}"),
    }
}

/// The key's entry on each node's own store (None: nothing, or a tombstone).
fn stored(c: &Cluster, key: &[u8]) -> Vec<Option<Bytes>> {
    (1..=NODES)
        .map(|n| {
            c.node(n)
                .store()
                .peek(key, c.now())
                .and_then(|e| e.value.clone())
        })
        .collect()
}

#[test]
fn a_pipeline_sees_its_own_writes() {
    let mut c = Cluster::new(NODES, &config(2, 2), NetConfig::default(), 7);
    let conn = c.connect(1);
    c.send(1, conn, &[b"SET", b"a", b"1"]);
    c.send(1, conn, &[b"GET", b"a"]);
    c.send(1, conn, &[b"INCR", b"a"]);
    c.send(1, conn, &[b"GET", b"b"]);
    c.send(1, conn, &[b"GET", b"a"]);
    c.send(1, conn, &[b"DEL", b"a"]);
    c.send(1, conn, &[b"GET", b"a"]);
    c.run();
    let got = c.take_replies(1, conn);
    let want = vec![
        Frame::Simple(Bytes::from_static(b"OK")),
        Frame::Bulk(Bytes::from_static(b"1")),
        Frame::Integer(2),
        Frame::Null,
        Frame::Bulk(Bytes::from_static(b"2")),
        Frame::Integer(1),
        Frame::Null,
    ];
    assert_eq!(got, want);
}

#[test]
fn read_repair_brings_a_replica_that_missed_a_write_up_to_date() {
    let mut c = Cluster::new(NODES, &config(2, 2), NetConfig::default(), 3);
    let conn = c.connect(1);
    c.partition(&[3]);
    assert_eq!(
        c.call(1, conn, &[b"SET", b"k", b"new"]),
        Some(Frame::Simple(Bytes::from_static(b"OK")))
    );
    c.run();
    assert_eq!(stored(&c, b"k")[2], None, "node 3 was cut off");
    c.heal();
    assert_eq!(
        bulk(c.call(1, conn, &[b"GET", b"k"])),
        Some(Bytes::from_static(b"new"))
    );
    c.run();
    assert_eq!(stored(&c, b"k"), vec![Some(Bytes::from_static(b"new")); 3]);
    assert!(c.node(1).metrics().read_repairs >= 1);
}

#[test]
fn a_tombstone_keeps_a_deleted_value_from_coming_back() {
    let mut c = Cluster::new(NODES, &config(2, 2), NetConfig::default(), 5);
    let c1 = c.connect(1);
    let c3 = c.connect(3);
    c.call(1, c1, &[b"SET", b"k", b"old"]);
    c.run();
    assert_eq!(stored(&c, b"k"), vec![Some(Bytes::from_static(b"old")); 3]);
    // Node 3 misses the delete.
    c.partition(&[3]);
    c.advance(10);
    assert_eq!(c.call(1, c1, &[b"DEL", b"k"]), Some(Frame::Integer(1)));
    c.run();
    c.heal();
    // Through node 3, which still holds the value: the quorum's newest is
    // the tombstone, and the read repairs node 3 with it.
    c.advance(10);
    assert_eq!(bulk(c.call(3, c3, &[b"GET", b"k"])), None);
    c.run();
    assert_eq!(stored(&c, b"k"), vec![None; 3]);
    assert!(
        c.node(3).store().peek_versioned(b"k", c.now()).is_some(),
        "the tombstone is kept"
    );
}

#[test]
fn a_quorum_that_cannot_be_met_fails_after_the_replica_timeout() {
    let mut c = Cluster::new(NODES, &config(2, 2), NetConfig::default(), 9);
    let conn = c.connect(1);
    c.partition(&[1]);
    let start = c.now();
    let reply = c.call(1, conn, &[b"SET", b"k", b"v"]);
    assert!(
        matches!(&reply, Some(Frame::Error(e)) if e.starts_with(b"UNAVAILABLE quorum not met: 1/2")),
        "{reply:?}"
    );
    assert_eq!(
        c.now() - start,
        50_000,
        "decided at the 50 ms replica timeout"
    );
}
