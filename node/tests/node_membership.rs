//! Membership changes on real `ringlab-node` processes on 127.0.0.1: a
//! fourth node joins three loaded ones with `--join-stream` and every key
//! reads back through it (forwarded while it pulls, from its own store
//! after); then a node leaves with `CLUSTER LEAVE` and no key is lost.
//!
//! Synchronisation is by polling with a deadline (INFO's `membership_*`
//! lines, member lists), never by sleeping a fixed time. Every process is
//! killed when the test ends, passed or failed.
#![cfg(not(madsim))]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ringlab_core::protocol::resp::{self, Frame, Limits};

const KEYS: usize = 2_000;

/// The node processes; killed on drop.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A blocking RESP client.
struct Conn {
    s: TcpStream,
    buf: BytesMut,
}

impl Conn {
    fn open(port: u16) -> Self {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                return Self {
                    s,
                    buf: BytesMut::new(),
                };
            }
            assert!(Instant::now() < deadline, "port {port} never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends every command in one write; returns their replies.
    fn pipeline(&mut self, cmds: &[Vec<String>]) -> Vec<Frame> {
        let mut out = BytesMut::new();
        for c in cmds {
            let words: Vec<&[u8]> = c.iter().map(|w| w.as_bytes()).collect();
            resp::write_command(&mut out, &words);
        }
        self.s.write_all(&out).expect("write");
        let mut replies = Vec::with_capacity(cmds.len());
        let mut chunk = [0u8; 65536];
        while replies.len() < cmds.len() {
            match resp::parse_frame(&mut self.buf, &Limits::default()) {
                Ok(Some(f)) => replies.push(f),
                Ok(None) => {
                    let n = self.s.read(&mut chunk).expect("read");
                    assert!(n > 0, "the node closed the connection");
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                Err(e) => panic!("bad reply: {e:?}"),
            }
        }
        replies
    }

    fn cmd(&mut self, words: &[&str]) -> Frame {
        let c: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        self.pipeline(&[c]).remove(0)
    }

    fn info(&mut self) -> String {
        match self.cmd(&["INFO", "cluster"]) {
            Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("INFO answered {other:?}"),
        }
    }

    /// How many of the keys read back with their value.
    fn found(&mut self) -> usize {
        let cmds: Vec<Vec<String>> = (0..KEYS)
            .map(|i| vec!["GET".into(), format!("mk:{i}")])
            .collect();
        self.pipeline(&cmds)
            .iter()
            .enumerate()
            .filter(|(i, f)| matches!(f, Frame::Bulk(b) if b[..] == *format!("v{i}").as_bytes()))
            .count()
    }
}

/// Whether INFO cluster's line for `peer` says its links are up.
fn peer_up(info: &str, peer: usize) -> bool {
    let prefix = format!("peer_{peer}:");
    info.lines()
        .any(|l| l.starts_with(&prefix) && l.contains(",state=up,"))
}

/// Polls `cond` until it holds, failing after 30 s.
fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start(id: usize, ports: &[u16], members: &[usize]) -> Child {
    let mut args: Vec<String> = vec![
        "--id".into(),
        id.to_string(),
        "--listen".into(),
        format!("127.0.0.1:{}", ports[id - 1]),
        "--n".into(),
        "1".into(),
        "--r".into(),
        "1".into(),
        "--w".into(),
        "1".into(),
        "--join-stream".into(),
        "true".into(),
        "--join-stream-keys".into(),
        "100".into(),
        "--join-stream-interval".into(),
        "5ms".into(),
    ];
    for &m in members {
        args.push("--member".into());
        args.push(format!("{m}=127.0.0.1:{}@64", ports[m - 1]));
    }
    Command::new(env!("CARGO_BIN_EXE_ringlab-node"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ringlab-node")
}

#[test]
fn a_streaming_join_and_a_leave_on_real_nodes_lose_no_key() {
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let mut procs = Procs(Vec::new());
    for id in 1..=3 {
        procs.0.push(start(id, &ports, &[1, 2, 3]));
    }
    let mut c1 = Conn::open(ports[0]);
    for id in 2..=3 {
        Conn::open(ports[id - 1]);
    }
    // N=1: every key has one copy, so a key not moved to its new owner
    // would miss.
    let sets: Vec<Vec<String>> = (0..KEYS)
        .map(|i| vec!["SET".into(), format!("mk:{i}"), format!("v{i}")])
        .collect();
    until("every node answers a write", || {
        c1.pipeline(&sets)
            .iter()
            .all(|f| *f == Frame::Simple("OK".into()))
    });
    // The members learn of node 4 first, then it starts and pulls.
    let addr4 = format!("127.0.0.1:{}", ports[3]);
    for p in &ports[..3] {
        let r = Conn::open(*p).cmd(&["CLUSTER", "ADDNODE", "4", &addr4, "64"]);
        assert!(
            matches!(r, Frame::Bulk(ref b) if b.starts_with(b"members=4")),
            "{r:?}"
        );
    }
    procs.0.push(start(4, &ports, &[1, 2, 3, 4]));
    let mut c4 = Conn::open(ports[3]);
    // Forwarded or pulled, every key reads back through the newcomer at
    // any moment; the pull ends, and then it answers from its own store.
    assert_eq!(c4.found(), KEYS, "through node 4 while it pulls");
    until("node 4 finishes its pull", || {
        c4.info().contains("membership_streaming:0")
    });
    let info = c4.info();
    let received: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("membership_keys_received:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a membership_keys_received line");
    assert!(received > KEYS / 10, "node 4 pulled its share: {info}");
    assert_eq!(c4.found(), KEYS, "through node 4 after its pull");
    // Node 1 dialled node 4 before it listened and backs off (up to 1 s)
    // between attempts: its reads of node 4's keys fail until it is through.
    until("node 1 reaches node 4", || peer_up(&c1.info(), 4));
    assert_eq!(c1.found(), KEYS, "through node 1");

    // Node 2 leaves: it hands its keys off, then every member drops it.
    let mut c2 = Conn::open(ports[1]);
    let r = c2.cmd(&["CLUSTER", "LEAVE"]);
    assert!(
        matches!(r, Frame::Bulk(ref b) if b.starts_with(b"leaving")),
        "{r:?}"
    );
    until("node 2 finishes its hand-off", || {
        c2.info().contains("membership_leaving:0")
    });
    for (i, p) in [(1, ports[0]), (3, ports[2]), (4, ports[3])] {
        let mut c = Conn::open(p);
        until("node 2 leaves every member list", || {
            !c.info().contains("ring_member_2:")
        });
        until("every remaining peer is reachable", || {
            let info = c.info();
            [1, 3, 4].iter().all(|&q| q == i || peer_up(&info, q))
        });
        assert_eq!(c.found(), KEYS, "through node {i} after the leave");
    }
}
