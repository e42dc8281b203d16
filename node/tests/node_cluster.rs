//! Three in-process nodes with N=3: every key is readable through every
//! node, quorums survive one stopped node, fail cleanly without enough
//! replicas, and reads repair stale replicas.
#![cfg(not(madsim))]

mod node_support;

use std::time::{Duration, Instant};

use node_support::TestCluster;

fn quorum(n: usize, r: usize, w: usize) -> impl Fn(&mut ringlab_node::NodeConfig) {
    move |c| {
        c.n = n;
        c.r = r;
        c.w = w;
        c.peer_backoff_max = Duration::from_millis(100);
    }
}

#[test]
fn each_key_is_readable_through_every_node() {
    let c = TestCluster::start(3, quorum(3, 2, 2));
    let mut conns: Vec<_> = (0..3).map(|i| c.client(i)).collect();
    for k in 0..60 {
        let key = format!("key:{k}");
        let val = format!("value-{k}");
        assert_eq!(conns[k % 3].raw(&["SET", &key, &val]), "+OK\r\n");
        for (i, conn) in conns.iter_mut().enumerate() {
            assert_eq!(
                conn.raw(&["GET", &key]),
                format!("${}\r\n{val}\r\n", val.len()),
                "{key} through node {}",
                i + 1
            );
        }
    }
    // Read-modify-writes and deletes coordinate through any node too.
    assert_eq!(conns[0].raw(&["INCR", "ctr"]), ":1\r\n");
    assert_eq!(conns[1].raw(&["INCR", "ctr"]), ":2\r\n");
    assert_eq!(conns[2].raw(&["INCRBY", "ctr", "5"]), ":7\r\n");
    assert_eq!(conns[0].raw(&["EXPIRE", "ctr", "100"]), ":1\r\n");
    assert_eq!(conns[1].raw(&["TTL", "ctr"]), ":100\r\n");
    assert_eq!(conns[2].raw(&["DEL", "ctr", "key:0"]), ":2\r\n");
    assert_eq!(conns[0].raw(&["GET", "key:0"]), "$-1\r\n");
    assert_eq!(conns[1].raw(&["EXISTS", "ctr"]), ":0\r\n");
    assert_eq!(
        conns[0].raw(&["MGET", "key:1", "key:2", "nope"]),
        "*3\r\n$7\r\nvalue-1\r\n$7\r\nvalue-2\r\n$-1\r\n"
    );
    let info = conns[0].raw(&["INFO", "cluster"]);
    assert!(info.contains("replication_n:3\r\n"), "{info}");
    assert!(info.contains("peer_2:addr="), "{info}");
    assert!(info.contains("peer_3:addr="), "{info}");
}

#[test]
fn one_stopped_node_keeps_every_read_and_write_working() {
    let mut c = TestCluster::start(3, quorum(3, 2, 2));
    {
        let mut a = c.client(0);
        for k in 0..50 {
            assert_eq!(a.raw(&["SET", &format!("before:{k}"), "acked"]), "+OK\r\n");
        }
    }
    c.stop(2);
    for i in 0..2 {
        let mut conn = c.client(i);
        for k in 0..50 {
            assert_eq!(
                conn.raw(&["GET", &format!("before:{k}")]),
                "$5\r\nacked\r\n",
                "acked write read back through node {}",
                i + 1
            );
            let key = format!("after:{i}:{k}");
            assert_eq!(conn.raw(&["SET", &key, "x"]), "+OK\r\n");
            assert_eq!(conn.raw(&["GET", &key]), "$1\r\nx\r\n");
        }
    }
}

#[test]
fn without_a_quorum_the_error_is_unavailable_not_a_hang() {
    let mut c = TestCluster::start(3, quorum(3, 2, 2));
    c.stop(1);
    c.stop(2);
    let mut conn = c.client(0);
    let started = Instant::now();
    assert_eq!(
        conn.raw(&["SET", "k", "v"]),
        "-UNAVAILABLE quorum not met: 1/2 replicas answered for set\r\n"
    );
    assert_eq!(
        conn.raw(&["GET", "k"]),
        "-UNAVAILABLE quorum not met: 1/2 replicas answered for get\r\n"
    );
    // Bounded by the replica timeout (500 ms here), with a wide margin:
    // this checks "no hang", not speed.
    assert!(started.elapsed() < Duration::from_secs(5));
    let info = conn.raw(&["INFO", "cluster"]);
    assert!(info.contains("quorum_failures:2\r\n"), "{info}");
    assert!(
        info.contains("peer_2:addr=") && info.contains("state=down"),
        "{info}"
    );
}

#[test]
fn reads_repair_a_replica_that_missed_a_write() {
    let mut c = TestCluster::start(3, quorum(3, 2, 2));
    c.stop(2);
    assert_eq!(c.client(0).raw(&["SET", "k", "fresh"]), "+OK\r\n");
    // Node 3 comes back empty and answers reads from itself alone (R=1).
    c.restart(2, |cfg| cfg.r = 1);
    assert_eq!(c.client(2).raw(&["GET", "k"]), "$-1\r\n");
    // Reads through node 1 see node 3 stale and repair it, once node 1's
    // peer connection to node 3 is back up.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut a = c.client(0);
    let mut z = c.client(2);
    loop {
        assert_eq!(a.raw(&["GET", "k"]), "$5\r\nfresh\r\n");
        if z.raw(&["GET", "k"]) == "$5\r\nfresh\r\n" {
            break;
        }
        assert!(Instant::now() < deadline, "node 3 was never repaired");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Whoever coordinated the read that saw node 3 stale counted a repair.
    let repairs: u64 = [0, 2]
        .iter()
        .map(|&i| {
            let info = c.client(i).raw(&["INFO", "cluster"]);
            let line = info
                .lines()
                .find(|l| l.starts_with("read_repairs:"))
                .expect("read_repairs line");
            line["read_repairs:".len()..]
                .trim()
                .parse::<u64>()
                .expect("a count")
        })
        .sum();
    assert!(repairs >= 1, "no read repair was counted");
}

#[test]
fn a_delete_is_a_tombstone_write_that_needs_its_quorum() {
    let mut c = TestCluster::start(3, quorum(3, 2, 2));
    assert_eq!(c.client(0).raw(&["SET", "k", "old"]), "+OK\r\n");
    // Node 3 misses the delete: nodes 1 and 2 hold the tombstone.
    c.stop(2);
    assert_eq!(c.client(1).raw(&["DEL", "k"]), ":1\r\n");
    c.restart(2, |_| {});
    // With node 2 gone, a read needs node 1 (tombstone) and node 3 (empty):
    // the key stays deleted, never resurrected.
    c.stop(1);
    let mut a = c.client(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = a.raw(&["GET", "k"]);
        if r == "$-1\r\n" {
            break;
        }
        // Until node 1's connection to the restarted node 3 is back.
        assert!(
            r.starts_with("-UNAVAILABLE"),
            "a deleted key came back: {r}"
        );
        assert!(Instant::now() < deadline, "no quorum after the restart");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(a.raw(&["EXISTS", "k"]), ":0\r\n");
    assert_eq!(a.raw(&["SET", "k", "new"]), "+OK\r\n");
    assert_eq!(a.raw(&["GET", "k"]), "$3\r\nnew\r\n");
}

#[test]
fn a_pipeline_through_a_cluster_observes_its_own_writes_in_order() {
    // Independent keys run concurrently on a replicated node; commands on
    // one key keep their order.
    let c = TestCluster::start(3, quorum(3, 2, 2));
    let mut conn = c.client(1);
    let mut cmds: Vec<Vec<String>> = Vec::new();
    for i in 0..100 {
        cmds.push(vec!["SET".into(), format!("k{i}"), format!("v{i}")]);
        cmds.push(vec!["GET".into(), format!("k{i}")]);
        cmds.push(vec!["INCR".into(), "ctr".into()]);
        cmds.push(vec!["GET".into(), format!("k{}", i / 2)]);
    }
    let refs: Vec<Vec<&str>> = cmds
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let slices: Vec<&[&str]> = refs.iter().map(|v| v.as_slice()).collect();
    let replies = conn.pipeline(&slices);
    for i in 0..100 {
        assert_eq!(replies[4 * i], "+OK\r\n");
        let v = format!("v{i}");
        assert_eq!(replies[4 * i + 1], format!("${}\r\n{v}\r\n", v.len()));
        assert_eq!(replies[4 * i + 2], format!(":{}\r\n", i + 1));
        let w = format!("v{}", i / 2);
        assert_eq!(replies[4 * i + 3], format!("${}\r\n{w}\r\n", w.len()));
    }
}

fn info_count(conn: &mut node_support::Conn<'_>, field: &str) -> u64 {
    let info = conn.raw(&["INFO", "cluster"]);
    let line = info
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in {info}"));
    line[field.len() + 1..].trim().parse().expect("a count")
}

#[test]
fn r1_reads_on_a_replica_ask_the_others_only_for_periodic_repair() {
    let c = TestCluster::start(3, quorum(3, 1, 2));
    let mut a = c.client(0);
    let (mut b, mut z) = (c.client(1), c.client(2));
    let mut asked = |at_least: u64| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let t = info_count(&mut b, "replica_requests") + info_count(&mut z, "replica_requests");
            if t >= at_least || Instant::now() > deadline {
                break t;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    assert_eq!(a.raw(&["SET", "k", "v"]), "+OK\r\n");
    // W=2 acknowledged once one replica had it: wait for the other too, or
    // the first read's repair query could reach it first, find nothing and
    // repair it (one request more).
    assert_eq!(asked(2), 2, "the SET went to nodes 2 and 3");
    for _ in 0..20 {
        assert_eq!(a.raw(&["GET", "k"]), "$1\r\nv\r\n");
    }
    // Of the 20 local reads, the 1st and the 11th also asked both.
    assert_eq!(asked(6), 6);
    assert_eq!(info_count(&mut a, "read_repairs"), 0);
}

/// A third node joins a running two-node cluster through `CLUSTER ADDNODE`
/// (both placements): the old members answer with the exact moved share, the
/// ring and member list in INFO grow, and with N=1 and no migration exactly
/// the keys whose primary changed miss afterwards.
#[test]
fn a_node_joins_at_run_time_and_only_moved_keys_miss() {
    use ringlab_core::ring::{Placement, PlacementKind, key_hash};
    for kind in PlacementKind::ALL {
        let c = TestCluster::start(3, |cfg| {
            cfg.placement = kind;
            (cfg.n, cfg.r, cfg.w) = (1, 1, 1);
            if cfg.id != 3 {
                // Nodes 1 and 2 start without node 3; node 3 knows all.
                cfg.members.retain(|m| m.id != 3);
            }
        });
        let keys: Vec<String> = (0..300).map(|i| format!("k{i}")).collect();
        let mut one = c.client(0);
        for k in &keys {
            assert_eq!(one.raw(&["SET", k, "v"]), "+OK\r\n");
        }
        let (before, after) = (
            kind.build(&[(1, 64), (2, 64)]),
            kind.build(&[(1, 64), (2, 64), (3, 64)]),
        );
        let exact = before.moved_fraction(&after).unwrap();
        let addr = c.addr(2).to_string();
        for i in 0..2 {
            let reply = c.client(i).raw(&["CLUSTER", "ADDNODE", "3", &addr, "64"]);
            assert!(
                reply.contains(&format!("members=3 moved_fraction={exact:.6}")),
                "{kind}: {reply}"
            );
        }
        let again = one.raw(&["CLUSTER", "ADDNODE", "3", &addr]);
        assert!(
            again.starts_with("-ERR node 3 is already a member"),
            "{again}"
        );
        let bad = one.raw(&["CLUSTER", "ADDNODE", "x", &addr]);
        assert!(bad.starts_with("-ERR bad node id 'x'"), "{bad}");
        let info = one.raw(&["INFO", "cluster"]);
        assert!(info.contains("cluster_members:3\r\n"), "{info}");
        assert!(
            info.contains(&format!("cluster_placement:{kind}\r\n")),
            "{info}"
        );
        assert!(info.contains("peer_3:addr="), "{info}");
        let moved = keys
            .iter()
            .filter(|k| {
                let h = key_hash(k.as_bytes());
                before.primary_for_hash(h) != after.primary_for_hash(h)
            })
            .count();
        assert!(moved > 0, "{kind}: the join moved nothing");
        let mut two = c.client(1);
        let misses = keys
            .iter()
            .filter(|k| two.raw(&["GET", k]) == "$-1\r\n")
            .count();
        assert_eq!(misses, moved, "{kind}");
    }
}
