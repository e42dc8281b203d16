//! Issue 12: who may become a peer, what a client may send before AUTH,
//! and a shutdown that a client not reading its replies cannot hold up.
#![cfg(not(madsim))]

mod node_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use node_support::{TestCluster, to_resp};
use ringlab_core::protocol::peer::{self, PeerMessage, PeerRequest};
use ringlab_core::store::{Entry, Kind, Version};
use ringlab_node::client::Client;
use ringlab_node::state::Node;
use ringlab_node::{NodeConfig, NodeEnv, serve_with};

/// Long enough for any expected reply on a loaded machine; a reply that
/// does not come in this time is a failure, not a wait.
const PATIENCE: Duration = Duration::from_secs(10);

/// Sends raw bytes and reads one reply; None if the connection closed.
fn send_then_read(c: &TestCluster, client: &mut Client, bytes: &[u8]) -> Option<String> {
    c.rt.block_on(async {
        client.send_raw(bytes).await.ok()?;
        let f = tokio::time::timeout(PATIENCE, client.read_frame())
            .await
            .expect("a reply (or a close) within the patience");
        f.ok().map(|f| to_resp(&f))
    })
}

/// One command as RESP.
fn command(words: &[&[u8]]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    ringlab_core::protocol::resp::write_command(&mut out, words);
    out.to_vec()
}

/// An RL.PUT as a peer would send it after its hello.
fn forged_put(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    let entry = Entry {
        value: Some(bytes::Bytes::copy_from_slice(value)),
        version: Version {
            ts: 1 << 60,
            node: 2,
        },
        expires_at: None,
        kind: Kind::String,
    };
    let req = PeerRequest::Put {
        key: bytes::Bytes::copy_from_slice(key),
        entry,
    };
    peer::encode(&PeerMessage::Request { id: 1, req }, &mut out);
    out.to_vec()
}

fn connect(c: &TestCluster, i: usize) -> Client {
    c.rt.block_on(Client::connect(c.addr(i))).expect("connect")
}

#[test]
fn a_client_cannot_become_a_peer_with_any_id() {
    let c = TestCluster::start(1, |_| {});
    let mut client = connect(&c, 0);
    assert_eq!(
        send_then_read(&c, &mut client, &command(&[b"SET", b"k", b"kept"])).as_deref(),
        Some("+OK\r\n")
    );
    assert_eq!(
        send_then_read(&c, &mut client, &command(&[b"RL.HELLO", b"999"])).as_deref(),
        Some("-ERR RL.HELLO refused: node 999 is not a member of this cluster\r\n")
    );
    // Still a client connection: peer messages as commands are refused...
    let put = command(&[b"RL.PUT", b"1", b"k", b"forged"]);
    let put = send_then_read(&c, &mut client, &put).unwrap();
    assert!(
        put.starts_with("-ERR RL.PUT is a peer message: it is only accepted on a connection opened with RL.HELLO"),
        "{put}"
    );
    let flush = send_then_read(&c, &mut client, &command(&[b"RL.FLUSH", b"2"])).unwrap();
    assert!(
        flush.starts_with("-ERR RL.FLUSH is a peer message"),
        "{flush}"
    );
    // ...and a real peer frame is no client request: the connection closes.
    let frame = send_then_read(&c, &mut client, &forged_put(b"k", b"forged")).unwrap();
    assert_eq!(frame, "-ERR Protocol error: expected '$', got ':'\r\n");
    let mut other = connect(&c, 0);
    assert_eq!(
        send_then_read(&c, &mut other, &command(&[b"GET", b"k"])).as_deref(),
        Some("$4\r\nkept\r\n")
    );
}

#[test]
fn peers_present_the_cluster_secret_not_the_client_password() {
    let c = TestCluster::start(2, |cfg| {
        cfg.requirepass = Some("client-pw".into());
        cfg.cluster_secret = Some("cluster-s3cret".into());
    });
    // Replication works: the nodes admit each other with the secret.
    let mut a = c.client(0);
    assert_eq!(a.raw(&["AUTH", "client-pw"]), "+OK\r\n");
    assert_eq!(a.raw(&["SET", "k", "v"]), "+OK\r\n");
    let mut b = c.client(1);
    assert_eq!(b.raw(&["AUTH", "client-pw"]), "+OK\r\n");
    assert_eq!(b.raw(&["GET", "k"]), "$1\r\nv\r\n");
    // A client who knows the password is no peer.
    let mut client = connect(&c, 0);
    let hello = command(&[b"RL.HELLO", b"2", b"client-pw"]);
    assert_eq!(
        send_then_read(&c, &mut client, &hello).as_deref(),
        Some("-WRONGPASS RL.HELLO refused: wrong or missing cluster secret\r\n")
    );
    let hello = command(&[b"RL.HELLO", b"2"]);
    assert_eq!(
        send_then_read(&c, &mut client, &hello).as_deref(),
        Some("-WRONGPASS RL.HELLO refused: wrong or missing cluster secret\r\n")
    );
}

#[test]
fn a_member_id_from_another_address_is_refused() {
    let c = TestCluster::start(2, |_| {});
    // All of 127.0.0.0/8 is loopback on Linux: a second local address.
    let stream = c.rt.block_on(async {
        let s = tokio::net::TcpSocket::new_v4().expect("socket");
        s.bind("127.0.0.2:0".parse().unwrap())
            .expect("bind 127.0.0.2");
        s.connect(c.addr(0)).await.expect("connect from 127.0.0.2")
    });
    let mut client = {
        let _guard = c.rt.enter();
        Client::from_stream(stream)
    };
    let reply = send_then_read(&c, &mut client, &command(&[b"RL.HELLO", b"2"])).unwrap();
    assert_eq!(
        reply,
        "-ERR RL.HELLO refused: member 2 is at 127.0.0.1, this connection comes from 127.0.0.2\r\n"
    );
    // From the member's own address the same hello is a peer's.
    let mut local = connect(&c, 0);
    assert_eq!(
        send_then_read(&c, &mut local, &command(&[b"RL.HELLO", b"2"])).as_deref(),
        Some("+OK\r\n")
    );
}

#[test]
fn before_auth_a_huge_bulk_header_closes_the_connection() {
    let c = TestCluster::start(1, |cfg| cfg.requirepass = Some("sesame".into()));
    let mut client = connect(&c, 0);
    // A 500 MiB SET header: the node used to wait for (and buffer) the body.
    let header = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$524288000\r\n";
    assert_eq!(
        send_then_read(&c, &mut client, header).as_deref(),
        Some("-ERR Protocol error: unauthenticated bulk length\r\n")
    );
    assert_eq!(send_then_read(&c, &mut client, b"PING\r\n"), None, "closed");
}

#[test]
fn before_auth_a_long_request_closes_the_connection() {
    let c = TestCluster::start(1, |cfg| cfg.requirepass = Some("sesame".into()));
    let mut client = connect(&c, 0);
    let words: Vec<&[u8]> = std::iter::repeat_n(&b"x"[..], 11).collect();
    assert_eq!(
        send_then_read(&c, &mut client, &command(&words)).as_deref(),
        Some("-ERR Protocol error: unauthenticated multibulk length\r\n")
    );
    assert_eq!(send_then_read(&c, &mut client, b"PING\r\n"), None, "closed");
}

#[test]
fn after_auth_in_the_same_write_large_values_are_accepted() {
    let c = TestCluster::start(1, |cfg| cfg.requirepass = Some("sesame".into()));
    let mut client = connect(&c, 0);
    let big = vec![b'v'; 100_000];
    let mut wire = command(&[b"AUTH", b"sesame"]);
    wire.extend(command(&[b"SET", b"k", &big]));
    wire.extend(command(&[
        b"MSET", b"a", b"1", b"b", b"2", b"c", b"3", b"d", b"4", b"e", b"5",
    ]));
    wire.extend(command(&[b"GET", b"k"]));
    assert_eq!(
        send_then_read(&c, &mut client, &wire).as_deref(),
        Some("+OK\r\n")
    );
    let rest: Vec<String> = (0..3)
        .map(|_| {
            let f =
                c.rt.block_on(async { tokio::time::timeout(PATIENCE, client.read_frame()).await })
                    .expect("a reply within the patience")
                    .expect("a reply");
            to_resp(&f)
        })
        .collect();
    assert_eq!(rest[0], "+OK\r\n", "the 100 kB SET after AUTH");
    assert_eq!(rest[1], "+OK\r\n", "an 11-argument MSET after AUTH");
    assert!(rest[2].starts_with("$100000\r\nvvv"), "GET k");
}

/// What the shutdown test watches: the node once it runs.
type Slot = Arc<Mutex<Option<Arc<Node>>>>;

#[test]
fn shutdown_drops_replies_a_client_never_reads_after_the_timeout() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let cfg = NodeConfig {
        listen: addr,
        shutdown_timeout: Duration::from_millis(200),
        ..NodeConfig::default()
    };
    let slot: Slot = Arc::default();
    let seen = slot.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = rt.spawn(serve_with(
        cfg,
        listener,
        NodeEnv::real(),
        async move {
            let _ = stopped.await;
        },
        move |node| *seen.lock().unwrap() = Some(node),
    ));
    let gets = 200;
    rt.block_on(async {
        // A small fixed receive buffer (no autotuning): the node's first
        // 1 MiB reply cannot all fit into the socket, so it stays queued.
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let mut client = Client::from_stream(socket.connect(addr).await.expect("connect"));
        let value = vec![b'x'; 1 << 20];
        let set = client.cmd(&[b"SET", b"big", &value]).await.expect("SET");
        assert_eq!(to_resp(&set), "+OK\r\n");
        let mut wire = Vec::new();
        for _ in 0..gets {
            wire.extend(command(&[b"GET", b"big"]));
        }
        // 200 MiB of replies that this client will never read.
        client.send_raw(&wire).await.expect("send");
        let node = slot.lock().unwrap().clone().expect("the node started");
        let get = ringlab_core::cmd::lookup(b"get").expect("get").0;
        // Once one GET ran, its reply is stuck in the node's write.
        let one_ran = async {
            while node.inspect(|m| m.metrics().commands[get]) == 0 {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(PATIENCE, one_ran)
            .await
            .expect("the node executes a GET");
        let _ = stop.send(());
        let served = tokio::time::timeout(PATIENCE, task)
            .await
            .expect("serve returns soon after the shutdown timeout");
        served.expect("no panic").expect("serve returned Ok");
        let dropped = node.dropped();
        assert_eq!(dropped.connections, 1, "{dropped:?}");
        assert!(dropped.bytes > 0, "{dropped:?}");
        drop(client);
    });
}
