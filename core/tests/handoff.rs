//! Failure detection and hinted handoff on the in-memory cluster
//! (`ringlab_core::harness`): no sockets, no clock, seeded.
//!
//! Heartbeats and hint retries are periodic timers, so these tests move
//! time with `run_until` rather than `run` (which would never end).

use std::time::Duration;

use bytes::Bytes;
use ringlab_core::clock::Micros;
use ringlab_core::config::NodeConfig;
use ringlab_core::harness::{Cluster, NetConfig};
use ringlab_core::protocol::resp::Frame;

const MS: Micros = 1_000;

fn config(heartbeat: Option<u64>, handoff: bool) -> NodeConfig {
    NodeConfig {
        n: 3,
        r: 2,
        w: 2,
        replica_timeout: Duration::from_millis(50),
        heartbeat_interval: heartbeat.map(Duration::from_millis),
        hinted_handoff: handoff,
        ..NodeConfig::default()
    }
}

fn ok(reply: Option<Frame>) {
    assert_eq!(reply, Some(Frame::Simple(Bytes::from_static(b"OK"))));
}

fn unavailable(reply: &Option<Frame>) -> bool {
    matches!(reply, Some(Frame::Error(e)) if e.starts_with(b"UNAVAILABLE"))
}

/// Node 3 is down while node 1 coordinates writes acked by nodes 1 and 2;
/// once node 3 restarts (empty) it must get every write from node 1's
/// hints, newest versions included, without a single read.
fn restarted_replica_catches_up(heartbeat: Option<u64>) {
    let mut c = Cluster::new(3, &config(heartbeat, true), NetConfig::default(), 11);
    let conn = c.connect(1);
    c.run_until(c.now() + 30 * MS);
    c.kill(3);
    let keys: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    for round in 0..2 {
        for k in &keys {
            c.advance(100);
            let v = format!("{k}-v{round}");
            ok(c.call(1, conn, &[b"SET", k.as_bytes(), v.as_bytes()]));
        }
        c.run_until(c.now() + 100 * MS);
    }
    let stored = c.node(1).metrics().hints_stored;
    assert_eq!(stored, 80, "one hint per write node 3 missed");
    assert_eq!(c.node(1).hints_pending(), 80);
    c.restart(3);
    c.run_until(c.now() + 3_000 * MS);
    assert_eq!(c.node(1).hints_pending(), 0);
    assert_eq!(c.node(1).metrics().hints_delivered, 80);
    assert_eq!(c.node(1).metrics().hints_pending, 0);
    let now = c.now();
    for k in &keys {
        let want = c.node(1).store().peek_versioned(k.as_bytes(), now).cloned();
        let got = c.node(3).store().peek_versioned(k.as_bytes(), now).cloned();
        assert!(want.is_some());
        assert_eq!(got, want, "node 3's {k}");
        let v = got.and_then(|e| e.value).expect("a value");
        assert!(v.ends_with(b"-v1"), "the newest write of {k}");
    }
    assert_eq!(c.node(3).metrics().total_commands(), 0, "no client read");
    assert_eq!(c.node(1).ops_in_flight(), 0, "watched writes ended");
}

#[test]
fn a_restarted_replica_gets_its_missed_writes_when_the_detector_sees_it() {
    restarted_replica_catches_up(Some(10));
}

#[test]
fn a_restarted_replica_gets_its_missed_writes_on_the_retry_timer() {
    restarted_replica_catches_up(None);
}

/// With W=3 and node 3 cut off (no answers, not even refusals), a write
/// cannot succeed. With the detector off the coordinator waits the whole
/// replica timeout; once the detector suspects node 3 it fails at once.
#[test]
fn a_suspected_replica_is_not_waited_for() {
    for heartbeat in [None, Some(10)] {
        let cfg = NodeConfig {
            w: 3,
            replica_timeout: Duration::from_secs(1),
            ..config(heartbeat, false)
        };
        let mut c = Cluster::new(3, &cfg, NetConfig::default(), 5);
        let conn = c.connect(1);
        c.partition(&[3]);
        c.run_until(c.now() + 500 * MS);
        assert_eq!(c.node(1).suspects(3, c.now()), heartbeat.is_some());
        let start = c.now();
        let reply = c.call(1, conn, &[b"SET", b"k", b"v"]);
        assert!(unavailable(&reply), "{reply:?}");
        let took = c.now() - start;
        match heartbeat {
            None => assert_eq!(took, 1_000 * MS, "waited for the replica timeout"),
            Some(_) => assert!(took < MS, "failed fast, took {took} us"),
        }
        // Reads skip it too: R=2 is met by nodes 1 and 2 at once.
        let start = c.now();
        let reply = c.call(1, conn, &[b"GET", b"k"]);
        assert!(!unavailable(&reply), "{reply:?}");
        assert!(c.now() - start < MS);
    }
}

/// A node whose messages are delayed half a second is alive but silent
/// to the detector: it is suspected (a false suspicion), and cleared as
/// soon as its answers flow again. INFO shows both.
#[test]
fn a_slow_node_is_suspected_then_cleared() {
    let mut c = Cluster::new(3, &config(Some(10), false), NetConfig::default(), 3);
    let conn = c.connect(1);
    c.run_until(c.now() + 100 * MS);
    assert!(!c.node(1).suspects(3, c.now()));
    c.slow(3, 500 * MS);
    c.run_until(c.now() + 400 * MS);
    assert!(c.node(1).suspects(3, c.now()), "silent for 400 ms");
    assert!(!c.node(1).suspects(2, c.now()));
    assert_eq!(c.node(1).metrics().suspicions, 1);
    let text = info(&mut c, conn);
    assert!(text.contains("peer_3_liveness:phi="), "{text}");
    assert!(text.contains(",suspected=1\r\n"), "{text}");
    assert!(text.contains("suspicions:1\r\n"), "{text}");
    c.slow(3, 0);
    c.run_until(c.now() + 30 * MS);
    assert!(!c.node(1).suspects(3, c.now()), "heard from again");
    let phi = c
        .node(1)
        .peer_liveness(3, c.now())
        .expect("detector on")
        .phi;
    assert!(phi < 1.0, "phi {phi}");
    let text = info(&mut c, conn);
    assert!(!text.contains("suspected=1"), "{text}");
}

/// A write already waiting on a replica that goes silent (alive, its
/// answers half a second late: a GC pause) fails once the detector
/// suspects the replica, at the heartbeat tick that finds it (about 184 ms
/// of silence at phi 8 and 10 ms heartbeats), neither when the late ack
/// arrives nor at the 1 s replica timeout.
#[test]
fn a_write_waiting_on_a_replica_fails_when_it_turns_suspected() {
    let cfg = NodeConfig {
        w: 3,
        replica_timeout: Duration::from_secs(1),
        ..config(Some(10), false)
    };
    let mut c = Cluster::new(3, &cfg, NetConfig::default(), 9);
    let conn = c.connect(1);
    c.run_until(c.now() + 100 * MS);
    c.slow(3, 500 * MS);
    let start = c.now();
    let reply = c.call(1, conn, &[b"SET", b"k", b"v"]);
    let took = c.now() - start;
    assert!(unavailable(&reply), "{reply:?} after {took} us");
    assert!(
        (170 * MS..=200 * MS).contains(&took),
        "failed after {took} us, not at the suspicion"
    );
    assert!(c.node(1).suspects(3, c.now()));
}

/// Sloppy quorum when the dead replicas are not suspected yet: each write
/// learns of their failures after it was sent (the connection refused),
/// and asks its stand-ins then. Every write still succeeds, and the
/// harness's invariant check after each event holds: the stand-in's
/// request belongs to its own write, not to whichever op parks next (which
/// would forget it when it ended, dropping the stand-in's ack).
#[test]
fn stand_ins_asked_after_a_refusal_belong_to_their_write() {
    let cfg = NodeConfig {
        sloppy_quorum: true,
        ..config(Some(1_000), true)
    };
    let mut c = Cluster::new(4, &cfg, NetConfig::default(), 7);
    let conn = c.connect(1);
    c.run_until(c.now() + 30 * MS);
    c.kill(2);
    c.kill(3);
    assert!(!c.node(1).suspects(2, c.now()));
    for i in 0..60 {
        c.advance(100);
        let key = format!("k{i}");
        ok(c.call(1, conn, &[b"SET", key.as_bytes(), b"v"]));
    }
    assert!(c.node(1).metrics().stand_ins > 0);
}

fn info(c: &mut Cluster, conn: ringlab_core::machine::ConnId) -> String {
    match c.call(1, conn, &[b"INFO", b"cluster"]) {
        Some(Frame::Bulk(b)) => String::from_utf8(b.to_vec()).expect("text"),
        other => panic!("INFO answered {other:?}"),
    }
}

/// More hints than `handoff_max_hints`: the oldest go, counted; the
/// replica gets only the newest ones.
#[test]
fn hints_beyond_the_limit_drop_the_oldest() {
    let cfg = NodeConfig {
        handoff_max_hints: 3,
        ..config(None, true)
    };
    let mut c = Cluster::new(3, &cfg, NetConfig::default(), 9);
    let conn = c.connect(1);
    c.kill(3);
    for i in 0..5 {
        c.advance(100);
        ok(c.call(1, conn, &[b"SET", format!("k{i}").as_bytes(), b"v"]));
    }
    c.run_until(c.now() + 60 * MS);
    let m = c.node(1).metrics();
    assert_eq!((m.hints_stored, m.hints_dropped), (5, 2));
    assert_eq!(c.node(1).hints_pending(), 3);
    c.restart(3);
    c.run_until(c.now() + 3_000 * MS);
    assert_eq!(c.node(1).hints_pending(), 0);
    assert_eq!(c.node(1).metrics().hints_delivered, 3);
    let now = c.now();
    let held: Vec<bool> = (0..5)
        .map(|i| {
            c.node(3)
                .store()
                .peek(format!("k{i}").as_bytes(), now)
                .is_some()
        })
        .collect();
    assert_eq!(held, [false, false, true, true, true]);
}

/// Everything off (the defaults): no pings, no timers beyond the ops',
/// so `run` still ends, and a dead replica leaves no hint.
#[test]
fn with_everything_off_nothing_is_sent_or_kept() {
    let mut c = Cluster::new(3, &config(None, false), NetConfig::default(), 1);
    let conn = c.connect(1);
    c.kill(3);
    ok(c.call(1, conn, &[b"SET", b"k", b"v"]));
    c.run();
    assert_eq!(c.node(1).poll_timeout(), None);
    assert_eq!(c.node(1).hints_pending(), 0);
    assert!(!c.node(1).suspects(3, c.now() + 10_000 * MS));
    assert_eq!(c.node(1).peer_liveness(3, c.now()), None);
}

/// Sloppy quorum: nodes 2 and 3 of four are down and suspected, and node 1
/// coordinates writes with N=3, W=2. Without sloppy quorum every key with
/// both dead nodes among its replicas fails; with it, a stand-in holds the
/// write for each dead replica and every write succeeds. Once nodes 2 and
/// 3 are back, the stand-ins' hints put every key on all three of its
/// replicas.
#[test]
fn sloppy_quorum_keeps_writes_available_and_brings_them_home() {
    let keys: Vec<String> = (0..60).map(|i| format!("k{i}")).collect();
    for sloppy in [false, true] {
        let cfg = NodeConfig {
            sloppy_quorum: sloppy,
            ..config(Some(10), true)
        };
        let mut c = Cluster::new(4, &cfg, NetConfig::default(), 7);
        let conn = c.connect(1);
        c.run_until(c.now() + 30 * MS);
        c.kill(2);
        c.kill(3);
        c.run_until(c.now() + 500 * MS);
        assert!(c.node(1).suspects(2, c.now()) && c.node(1).suspects(3, c.now()));
        let mut failed = 0;
        for k in &keys {
            c.advance(100);
            let reply = c.call(1, conn, &[b"SET", k.as_bytes(), b"v"]);
            if unavailable(&reply) {
                failed += 1;
            } else {
                ok(reply);
            }
        }
        if !sloppy {
            assert!(failed > 0, "keys on both dead nodes cannot meet W=2");
            assert_eq!(c.node(1).metrics().stand_ins, 0);
            continue;
        }
        assert_eq!(failed, 0, "a stand-in counts towards W");
        // Four nodes leave one candidate beyond a key's three replicas:
        // node 4 stands in for keys on 1, 2, 3, and node 1 itself for
        // keys on 2, 3, 4.
        assert!(c.node(1).metrics().stand_ins > 0);
        assert!(c.node(4).metrics().hints_stored > 0, "node 4 stood in");
        c.restart(2);
        c.restart(3);
        c.run_until(c.now() + 3_000 * MS);
        assert_eq!(c.node(1).hints_pending() + c.node(4).hints_pending(), 0);
        let now = c.now();
        for k in &keys {
            let holders = (1..=4)
                .filter(|&n| {
                    c.node(n)
                        .store()
                        .peek_versioned(k.as_bytes(), now)
                        .is_some()
                })
                .count();
            assert!(
                holders >= 3,
                "{k} is on {holders} nodes, not its 3 replicas"
            );
        }
    }
}
