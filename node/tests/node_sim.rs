//! The node inside the madsim simulator: three simulated nodes on a scaled
//! clock, a client writing through one and reading through the others, then
//! one node killed while quorum reads and writes go on.
#![cfg(madsim)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ringlab_core::protocol::resp::Frame;
use ringlab_node::client::Client;
use ringlab_node::clock::Clock;
use ringlab_node::{Member, NoHooks, NodeConfig, NodeEnv, serve};

/// 2023-11-14T22:13:20Z: a fixed model-time origin, so nothing depends on
/// madsim's seed-dependent start date.
const ORIGIN_US: u64 = 1_700_000_000_000_000;

fn addr(i: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)), 6379)
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

#[madsim::test]
async fn three_simulated_nodes_keep_quorum_after_a_kill() {
    let handle = madsim::runtime::Handle::current();
    let clock = Clock::scaled(1000, ORIGIN_US);
    let members: Vec<Member> = (1..=3)
        .map(|i| Member {
            id: i,
            addr: addr(i as u8),
            vnodes: 64,
        })
        .collect();
    let mut ids = Vec::new();
    for i in 1..=3u32 {
        let members = members.clone();
        let node = handle
            .create_node()
            .name(format!("node-{i}"))
            .ip(addr(i as u8).ip())
            .init(move || {
                let members = members.clone();
                async move {
                    let cfg = NodeConfig {
                        id: i,
                        listen: addr(i as u8),
                        members,
                        n: 3,
                        r: 2,
                        w: 2,
                        replica_timeout: Duration::from_millis(50),
                        seed: u64::from(i),
                        ..NodeConfig::default()
                    };
                    let listener = tokio::net::TcpListener::bind(cfg.listen)
                        .await
                        .expect("bind");
                    let env = NodeEnv {
                        clock,
                        hooks: Arc::new(NoHooks),
                    };
                    serve(cfg, listener, env, std::future::pending())
                        .await
                        .expect("serve");
                }
            })
            .build();
        ids.push(node.id());
    }
    let client = handle
        .create_node()
        .name("client")
        .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100)))
        .build();

    // Phase 1: write through node 1, read through nodes 2 and 3.
    client
        .spawn(async move {
            clock.sleep(Duration::from_millis(1)).await;
            let mut c1 = Client::connect(addr(1)).await.expect("connect node 1");
            for k in 0..20 {
                let key = format!("key:{k}");
                let reply = c1
                    .cmd(&[b"SET", key.as_bytes(), b"v"])
                    .await
                    .expect("reply");
                assert_eq!(reply, Frame::Simple(Bytes::from_static(b"OK")), "{key}");
            }
            for n in [2, 3] {
                let mut c = Client::connect(addr(n)).await.expect("connect");
                for k in 0..20 {
                    let key = format!("key:{k}");
                    let reply = c.cmd(&[b"GET", key.as_bytes()]).await.expect("reply");
                    assert_eq!(reply, bulk("v"), "{key} through node {n}");
                }
            }
        })
        .await
        .expect("phase 1");

    // Phase 2: node 3 dies; nodes 1 and 2 still make every quorum.
    handle.kill(ids[2]);
    client
        .spawn(async move {
            for n in [1, 2] {
                let mut c = Client::connect(addr(n)).await.expect("connect");
                for k in 0..20 {
                    let key = format!("key:{k}");
                    let reply = c.cmd(&[b"GET", key.as_bytes()]).await.expect("reply");
                    assert_eq!(
                        reply,
                        bulk("v"),
                        "acked {key} through node {n} after the kill"
                    );
                    let new = format!("after:{n}:{k}");
                    let reply = c.cmd(&[b"SET", new.as_bytes(), b"w"]).await.expect("reply");
                    assert_eq!(reply, Frame::Simple(Bytes::from_static(b"OK")), "{new}");
                    let reply = c.cmd(&[b"GET", new.as_bytes()]).await.expect("reply");
                    assert_eq!(reply, bulk("w"), "{new}");
                }
            }
            let info = {
                let mut c = Client::connect(addr(1)).await.expect("connect");
                c.cmd(&[b"INFO", b"cluster"]).await.expect("reply")
            };
            let Frame::Bulk(text) = info else {
                panic!("INFO is a bulk string")
            };
            let text = String::from_utf8_lossy(&text);
            assert!(text.contains("quorum_failures:0\r\n"), "{text}");
            // Node 1 noticed node 3's death.
            assert!(!text.contains("peer_errors:0\r\n"), "{text}");
            assert!(
                text.contains("peer_3:addr=10.0.0.3:6379,state=down"),
                "{text}"
            );
        })
        .await
        .expect("phase 2");
}
