//! Bad input: random bytes never crash the node and never affect other
//! clients; malformed frames get `-ERR Protocol error: ...` and close only
//! their own connection; oversized requests are refused from their headers.
#![cfg(not(madsim))]

mod node_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use node_support::TestCluster;
use proptest::prelude::*;

/// Sends `bytes` on a fresh connection and returns whatever the node sent
/// back before closing or going quiet.
fn poke(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        Just(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".to_vec()),
        Just(b"*-5\r\n".to_vec()),
        Just(b"$99999999999\r\n".to_vec()),
        Just(b"*3\r\n$3\r\nSET\r\n".to_vec()),
        Just(b"PING \"unbalanced\r\n".to_vec()),
        Just(b"\r\n\r\n".to_vec()),
        Just(b"*1\r\n:5\r\n".to_vec()),
    ]
}

#[test]
fn random_bytes_never_break_the_node() {
    // One node for every case, stopped when the test ends.
    let c = TestCluster::start(1, |_| {});
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    });
    let strategy = proptest::collection::vec(fragment(), 1..6);
    runner
        .run(&strategy, |parts| {
            let bytes: Vec<u8> = parts.concat();
            let reply = poke(c.addr(0), &bytes);
            // Whatever came back is RESP: every reply ends in CRLF.
            prop_assert!(
                reply.is_empty() || reply.ends_with(b"\r\n"),
                "{:?}",
                String::from_utf8_lossy(&reply)
            );
            // A fresh client is served.
            let mut conn = c.client(0);
            prop_assert_eq!(conn.raw(&["PING"]), "+PONG\r\n");
            Ok(())
        })
        .unwrap();
}

#[test]
fn protocol_errors_close_only_that_connection() {
    let c = TestCluster::start(1, |_| {});
    let mut bystander = c.client(0);
    assert_eq!(bystander.raw(&["SET", "k", "v"]), "+OK\r\n");
    let cases: &[(&[u8], &str)] = &[
        (
            b"*1\r\n$-7\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$999999999999\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*99999999999\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n:12\r\n",
            "-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"SET \"a b\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (bytes, want) in cases {
        let got = poke(c.addr(0), bytes);
        assert_eq!(
            String::from_utf8_lossy(&got),
            *want,
            "input {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    // An inline line longer than the limit is refused, not buffered.
    let long = vec![b'a'; 70 * 1024];
    let got = poke(c.addr(0), &long);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR Protocol error: too big inline request\r\n"
    );
    // The other client never noticed.
    assert_eq!(bystander.raw(&["GET", "k"]), "$1\r\nv\r\n");
    let info = bystander.raw(&["INFO", "stats"]);
    assert!(info.contains("protocol_errors:6\r\n"), "{info}");
}
