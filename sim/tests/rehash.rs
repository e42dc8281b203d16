//! A node joining a running cluster (the `rehash` lesson's mechanism), with
//! the real node code in madsim: four nodes hold a key set, a fifth joins
//! through `CLUSTER ADDNODE`, and reading every key back misses exactly the
//! keys whose primary changed, a share that agrees with the exact moved
//! fraction of the hash space within sampling error.
//!
//! Only with `--cfg madsim` (`cargo msim-test -p ringlab-sim`).
#![cfg(madsim)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use madsim::runtime::{Handle, Runtime};
use ringlab_core::protocol::resp::Frame;
use ringlab_core::ring::{NodeId, Placement, PlacementKind, key_hash};
use ringlab_loadgen::scenario;
use ringlab_node::client::Client;
use ringlab_node::clock::Clock;
use ringlab_node::{Member, NoHooks, NodeConfig, NodeEnv, serve};
use ringlab_sim::harness::{self, NODE_PORT, ORIGIN_US, client_ip, node_ip};

/// Keys written before the join.
const KEYS: usize = 4000;
/// Virtual nodes per node on the ring.
const VNODES: u32 = 128;

fn member(id: NodeId) -> Member {
    Member {
        id,
        addr: SocketAddr::new(node_ip(id), NODE_PORT),
        vnodes: VNODES,
    }
}

fn key(i: usize) -> String {
    format!("key:{i}")
}

/// What one run of the join showed.
struct Outcome {
    /// GETs after the join that found nothing.
    misses: usize,
    /// Each old member's `moved_fraction` reply to `CLUSTER ADDNODE`.
    replies: Vec<String>,
    /// The reply to adding the same node twice.
    again: Frame,
    /// INFO cluster of node-1 after the join.
    info: String,
}

fn text(f: &Frame) -> String {
    match f {
        Frame::Simple(b) | Frame::Error(b) | Frame::Bulk(b) => String::from_utf8_lossy(b).into(),
        other => format!("{other:?}"),
    }
}

fn start(handle: &Handle, clock: Clock, kind: PlacementKind, id: NodeId, members: Vec<Member>) {
    let cfg = NodeConfig {
        id,
        listen: member(id).addr,
        members,
        placement: kind,
        n: 1,
        r: 1,
        w: 1,
        ..NodeConfig::default()
    };
    handle
        .create_node()
        .name(format!("node-{id}"))
        .ip(node_ip(id))
        .init(move || {
            let cfg = cfg.clone();
            async move {
                let listener = tokio::net::TcpListener::bind(cfg.listen)
                    .await
                    .expect("a simulated node's address is free");
                let env = NodeEnv {
                    clock,
                    hooks: Arc::new(NoHooks),
                };
                serve(cfg, listener, env, std::future::pending())
                    .await
                    .expect("the node runs");
            }
        })
        .build();
}

fn run_join(kind: PlacementKind, seed: u64) -> Outcome {
    let rt = Runtime::with_seed_and_config(seed, madsim::Config::default());
    rt.block_on(async move {
        let handle = Handle::current();
        let clock = Clock::scaled(1, ORIGIN_US);
        let four: Vec<Member> = (1..=4).map(member).collect();
        let five: Vec<Member> = (1..=5).map(member).collect();
        for id in 1..=4 {
            start(&handle, clock, kind, id, four.clone());
        }
        clock.sleep(Duration::from_millis(1)).await;
        let client = handle.create_node().name("client").ip(client_ip(1)).build();

        // Write every key through node-1 (it forwards to each key's owner).
        client
            .spawn(async move {
                let mut c = Client::connect(member(1).addr).await.expect("connect");
                for chunk in (0..KEYS).collect::<Vec<_>>().chunks(200) {
                    let keys: Vec<String> = chunk.iter().map(|&i| key(i)).collect();
                    let cmds: Vec<[&[u8]; 3]> = keys
                        .iter()
                        .map(|k| [&b"SET"[..], k.as_bytes(), b"v"])
                        .collect();
                    let cmds: Vec<&[&[u8]]> = cmds.iter().map(|c| &c[..]).collect();
                    for r in c.pipeline(&cmds).await.expect("pipeline") {
                        assert_eq!(r, Frame::Simple("OK".into()), "a SET failed");
                    }
                }
            })
            .await
            .expect("the writer ran");

        // node-5 starts knowing all five; the old four learn of it by
        // CLUSTER ADDNODE, one after the other.
        start(&handle, clock, kind, 5, five);
        clock.sleep(Duration::from_millis(1)).await;
        client
            .spawn(async move {
                let addr = member(5).addr.to_string();
                let vnodes = VNODES.to_string();
                let mut replies = Vec::new();
                for id in 1..=4 {
                    let mut c = Client::connect(member(id).addr).await.expect("connect");
                    let r = c
                        .cmd(&[
                            b"CLUSTER",
                            b"ADDNODE",
                            b"5",
                            addr.as_bytes(),
                            vnodes.as_bytes(),
                        ])
                        .await
                        .expect("addnode");
                    replies.push(text(&r));
                }
                let mut c = Client::connect(member(1).addr).await.expect("connect");
                let again = c
                    .cmd(&[b"CLUSTER", b"ADDNODE", b"5", addr.as_bytes()])
                    .await
                    .expect("addnode again");
                let info = text(&c.cmd(&[b"INFO", b"cluster"]).await.expect("info"));
                // Read every key back through node-2.
                let mut c = Client::connect(member(2).addr).await.expect("connect");
                let mut misses = 0;
                for chunk in (0..KEYS).collect::<Vec<_>>().chunks(200) {
                    let keys: Vec<String> = chunk.iter().map(|&i| key(i)).collect();
                    let cmds: Vec<[&[u8]; 2]> =
                        keys.iter().map(|k| [&b"GET"[..], k.as_bytes()]).collect();
                    let cmds: Vec<&[&[u8]]> = cmds.iter().map(|c| &c[..]).collect();
                    for r in c.pipeline(&cmds).await.expect("pipeline") {
                        match r {
                            Frame::Null => misses += 1,
                            Frame::Bulk(v) => assert_eq!(&v[..], b"v"),
                            other => panic!("GET answered {other:?}"),
                        }
                    }
                }
                Outcome {
                    misses,
                    replies,
                    again,
                    info,
                }
            })
            .await
            .expect("the reader ran")
    })
}

fn check_join(kind: PlacementKind) {
    let pairs = |n: NodeId| -> Vec<(NodeId, u32)> { (1..=n).map(|i| (i, VNODES)).collect() };
    let (before, after) = (kind.build(&pairs(4)), kind.build(&pairs(5)));
    let exact = before.moved_fraction(&after).expect("same kind");
    let moved_keys = (0..KEYS)
        .filter(|&i| {
            let h = key_hash(key(i).as_bytes());
            before.primary_for_hash(h) != after.primary_for_hash(h)
        })
        .count();

    let out = run_join(kind, 7);

    // No migration, N=1: exactly the keys whose primary changed miss.
    assert_eq!(out.misses, moved_keys, "{kind}");
    // The keys' hashes are a sample of the hash space, so the missed share
    // is a binomial proportion around the exact moved fraction: within 5
    // standard deviations (a false alarm about once in 1.7 million).
    let share = out.misses as f64 / KEYS as f64;
    let sd = (exact * (1.0 - exact) / KEYS as f64).sqrt();
    assert!(
        (share - exact).abs() <= 5.0 * sd,
        "{kind}: {share} of keys missed, exact moved fraction {exact} (sd {sd})"
    );
    // Every old member reports the same exact fraction.
    let want = format!("members=5 moved_fraction={exact:.6}");
    assert_eq!(out.replies, vec![want; 4], "{kind}");
    assert!(
        text(&out.again).contains("node 5 is already a member"),
        "{kind}: {:?}",
        out.again
    );
    assert!(out.info.contains("cluster_members:5\r\n"), "{}", out.info);
    assert!(
        out.info.contains(&format!("cluster_placement:{kind}\r\n")),
        "{}",
        out.info
    );
    assert!(
        out.info.contains("ring_member_5:addr=10.0.0.5:6379"),
        "{}",
        out.info
    );
}

#[test]
fn a_ring_join_misses_only_the_newcomers_share() {
    check_join(PlacementKind::Ring);
}

#[test]
fn a_modn_join_misses_four_fifths() {
    check_join(PlacementKind::ModN);
}

/// The scenario path: a join fault's event names the exact moved share,
/// and once the cache is warm and writes stop, the share of GETs that miss
/// after the join is the share of keys that moved.
#[test]
fn the_harness_joins_a_node_and_misses_what_moved() {
    let toml = |placement: &str| {
        format!(
            r#"
name = "join"
seed = 2
[cluster]
nodes = 5
vnodes = 128
placement = "{placement}"
replication = {{ n = 1, r = 1, w = 1 }}
[network]
latency = "50us"
[[phase]]
name = "fill"
duration = "6s"
rate = 4000
keys = {{ count = {HARNESS_KEYS}, distribution = "uniform" }}
mix = {{ get = 0.5, set = 0.5 }}
value_size = "16B"
clients = 2
connections = 16
[[phase]]
name = "after"
duration = "2s"
mix = {{ get = 1.0 }}
[[fault]]
at = "6s"
join = "node-5"
"#
        )
    };
    for kind in PlacementKind::ALL {
        let sc = scenario::parse(&toml(kind.as_str()), "join.toml").expect("valid");
        let rec = harness::run(&sc, sc.seed, None).expect("runs").record;
        let pairs = |n: NodeId| -> Vec<(NodeId, u32)> { (1..=n).map(|i| (i, 128)).collect() };
        let exact = kind
            .build(&pairs(4))
            .moved_fraction(&kind.build(&pairs(5)))
            .expect("same kind");
        assert_eq!(rec.events.len(), 1);
        assert_eq!(rec.events[0].kind, "join");
        assert_eq!(
            rec.events[0].label,
            format!("join node-5 (moves {:.1}% of keys)", exact * 100.0)
        );
        let i = rec.phases.iter().position(|p| p.name == "after").unwrap();
        let after = rec.aggregate_phase(i, None).unwrap();
        assert!(
            after.counts.errors.is_empty(),
            "{kind}: {:?}",
            after.counts.errors
        );
        // 2000 SETs a second for 6 s over the keys: a key is left unwritten
        // with probability e^(-24); after the join nothing is written, so
        // a GET misses exactly when its key moved. Which keys moved is a
        // sample of the hash space (variance f(1-f)/keys); the GETs sample
        // the keys (variance f(1-f)/gets). Within 5 standard deviations.
        let gets = after.counts.ok as f64;
        let share = after.counts.misses as f64 / gets;
        let var = exact * (1.0 - exact) * (1.0 / HARNESS_KEYS as f64 + 1.0 / gets);
        assert!(
            (share - exact).abs() <= 5.0 * var.sqrt(),
            "{kind}: {share} of GETs missed after the join, exact moved fraction {exact}"
        );
    }
}

/// Distinct keys of the scenario in the harness test.
const HARNESS_KEYS: usize = 1000;
