//! Shared by the node_* integration tests: in-process clusters on
//! 127.0.0.1:0, a blocking RESP client over the library's async one, and a
//! real `redis-server` to compare with.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::BytesMut;
use ringlab_core::protocol::resp::{self, Frame};
use ringlab_node::client::Client;
use ringlab_node::{Member, NodeConfig, NodeEnv, serve};
use tokio::sync::oneshot;

/// A running node of a test cluster.
struct Running {
    /// Where it listens.
    addr: SocketAddr,
    /// Resolves `serve`'s shutdown future.
    stop: Option<oneshot::Sender<()>>,
    /// `serve`'s task.
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// The configuration it runs with (for restarts).
    cfg: NodeConfig,
}

/// Nodes served by `serve` on a runtime of their own.
pub struct TestCluster {
    /// The runtime the nodes (and the test's async clients) run on.
    pub rt: tokio::runtime::Runtime,
    /// The nodes, index i has id i+1.
    nodes: Vec<Running>,
}

impl TestCluster {
    /// Starts `count` nodes with ids 1..=count; `tweak` adjusts each config.
    pub fn start(count: usize, tweak: impl Fn(&mut NodeConfig)) -> Self {
        Self::start_with(count, tweak, |_| NodeEnv::real())
    }

    /// Like `start`, with each node's environment (clock, hooks) from `env`.
    pub fn start_with(
        count: usize,
        tweak: impl Fn(&mut NodeConfig),
        env: impl Fn(usize) -> NodeEnv,
    ) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listeners: Vec<tokio::net::TcpListener> = (0..count)
            .map(|_| {
                rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                    .expect("bind")
            })
            .collect();
        let members: Vec<Member> = listeners
            .iter()
            .enumerate()
            .map(|(i, l)| Member {
                id: i as u32 + 1,
                addr: l.local_addr().expect("addr"),
                vnodes: 64,
            })
            .collect();
        let mut nodes = Vec::new();
        for (i, l) in listeners.into_iter().enumerate() {
            let mut cfg = NodeConfig {
                id: i as u32 + 1,
                listen: members[i].addr,
                members: if count > 1 {
                    members.clone()
                } else {
                    Vec::new()
                },
                replica_timeout: Duration::from_millis(500),
                seed: 7 + i as u64,
                ..NodeConfig::default()
            };
            tweak(&mut cfg);
            let (tx, rx) = oneshot::channel();
            let _guard = rt.enter();
            let task = tokio::spawn(serve(cfg.clone(), l, env(i), async move {
                let _ = rx.await;
            }));
            nodes.push(Running {
                addr: members[i].addr,
                stop: Some(tx),
                task: Some(task),
                cfg,
            });
        }
        Self { rt, nodes }
    }

    /// Starts stopped node `i` again on its address (empty: its data was
    /// lost), with `tweak` applied to its configuration.
    pub fn restart(&mut self, i: usize, tweak: impl Fn(&mut NodeConfig)) {
        assert!(self.nodes[i].task.is_none(), "node {i} is running");
        let addr = self.nodes[i].addr;
        let l = self
            .rt
            .block_on(tokio::net::TcpListener::bind(addr))
            .expect("rebind the stopped node's address");
        let mut cfg = self.nodes[i].cfg.clone();
        tweak(&mut cfg);
        let (tx, rx) = oneshot::channel();
        let _guard = self.rt.enter();
        let task = tokio::spawn(serve(cfg.clone(), l, NodeEnv::real(), async move {
            let _ = rx.await;
        }));
        self.nodes[i] = Running {
            addr,
            stop: Some(tx),
            task: Some(task),
            cfg,
        };
    }

    /// Node `i`'s address (index from 0).
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.nodes[i].addr
    }

    /// Stops node `i` gracefully and waits until `serve` returned.
    pub fn stop(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        if let Some(tx) = n.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = n.task.take() {
            let res = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(10), t).await })
                .expect("serve returns within 10 s of shutdown")
                .expect("serve task did not panic");
            res.expect("serve returned Ok");
        }
    }

    /// A blocking client connected to node `i`.
    pub fn client(&self, i: usize) -> Conn<'_> {
        let c = self
            .rt
            .block_on(Client::connect(self.addr(i)))
            .expect("connect");
        Conn { rt: &self.rt, c }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].task.is_some() {
                self.stop(i);
            }
        }
    }
}

/// A blocking client.
pub struct Conn<'a> {
    /// Runs the async client.
    rt: &'a tokio::runtime::Runtime,
    /// The async client.
    pub c: Client,
}

impl Conn<'_> {
    /// Sends a command given as words and returns the reply as raw RESP text.
    pub fn raw(&mut self, words: &[&str]) -> String {
        let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        let f = self.rt.block_on(self.c.cmd(&args)).expect("reply");
        to_resp(&f)
    }

    /// Sends a command and returns the reply frame.
    pub fn frame(&mut self, words: &[&str]) -> Frame {
        let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        self.rt.block_on(self.c.cmd(&args)).expect("reply")
    }

    /// Sends raw bytes, then reads one reply (None if the server closed).
    pub fn send_raw_then_read(&mut self, bytes: &[u8]) -> Option<Frame> {
        self.rt.block_on(async {
            self.c.send_raw(bytes).await.ok()?;
            self.c.read_frame().await.ok()
        })
    }

    /// Reads one more reply as raw RESP.
    pub fn read(&mut self) -> String {
        to_resp(&self.rt.block_on(self.c.read_frame()).expect("reply"))
    }

    /// Sends commands in one write; returns each reply as raw RESP.
    pub fn pipeline(&mut self, cmds: &[&[&str]]) -> Vec<String> {
        let owned: Vec<Vec<&[u8]>> = cmds
            .iter()
            .map(|c| c.iter().map(|w| w.as_bytes()).collect())
            .collect();
        let refs: Vec<&[&[u8]]> = owned.iter().map(|v| v.as_slice()).collect();
        self.rt
            .block_on(self.c.pipeline(&refs))
            .expect("replies")
            .iter()
            .map(to_resp)
            .collect()
    }
}

/// A frame as the RESP text a server would send.
pub fn to_resp(f: &Frame) -> String {
    let mut out = BytesMut::new();
    resp::encode(f, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A `redis-server` on a free port, killed on drop: the reference the
/// compatibility tests compare ringlab with.
pub struct RedisServer {
    /// The redis-server process.
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl RedisServer {
    /// Starts one, with one database (as ringlab has), no persistence,
    /// and waits until it accepts connections.
    pub fn start() -> Self {
        // Pick a free port; the small window until redis binds it is
        // acceptable for a test.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--databases", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => panic!(
                "cannot run `redis-server` ({e}): this test compares ringlab with a real \
                 Redis; install it (Debian/Ubuntu: `apt-get install redis-server`, which \
                 scripts/setup does)"
            ),
        };
        // Wait for Redis's own "ready" log line rather than for a time.
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut log = String::new();
        loop {
            let mut line = String::new();
            match lines.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    let _ = child.kill();
                    panic!("redis-server exited before it was ready:\n{log}");
                }
                Ok(_) if line.contains("Ready to accept connections") => break,
                Ok(_) => log.push_str(&line),
            }
        }
        // Keep draining its log so that it never blocks on a full pipe.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut lines, &mut std::io::sink());
        });
        Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
