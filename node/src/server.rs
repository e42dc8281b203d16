//! [`serve`]: the accept loop, the background tasks (active expiry, the
//! metrics listener) and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use anyhow::Context as _;
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use std::sync::Weak;

use ringlab_core::clock::Micros;
use ringlab_core::cmd::names;
use ringlab_core::machine::Machine;
use ringlab_core::machine::metrics::{self, Snapshot};
use ringlab_core::protocol::peer::{PeerResponse, RequestId};
use ringlab_core::replication::ReplicaFailure;
use ringlab_core::ring::NodeId;

use super::peers::{PeerEvents, PeerSettings, Peers};
use super::state::Node;
use super::{NodeEnv, connection};
use ringlab_core::config::NodeConfig;

/// Where a shutdown is, as every task of the node sees it through one watch
/// channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Serving.
    Running,
    /// No new requests: connections answer what they already read.
    Draining,
    /// The shutdown timeout passed: connections drop the replies they could
    /// not write and end at once.
    Abort,
}

/// Runs a node on an already-bound listener until `shutdown` resolves, then
/// stops accepting, finishes in-flight requests (for at most
/// `shutdown_timeout`: a client that does not read its replies must not
/// keep the node up) and returns.
pub async fn serve(
    cfg: NodeConfig,
    listener: TcpListener,
    env: NodeEnv,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    serve_with(cfg, listener, env, shutdown, |_| {}).await
}

/// [`serve`], handing the running node to `started` once it exists (before
/// the first connection is accepted): the embedder's way to change the
/// node while it runs, e.g. [`Node::add_member`] when a node joins.
pub async fn serve_with(
    cfg: NodeConfig,
    listener: TcpListener,
    env: NodeEnv,
    shutdown: impl Future<Output = ()> + Send,
    started: impl FnOnce(Arc<Node>),
) -> anyhow::Result<()> {
    let port = listener.local_addr().context("listener address")?.port();
    let node = start(cfg, port, env)?;
    started(node.clone());
    let (stop_tx, stop_rx) = watch::channel(Stop::Running);
    let mut background = vec![
        tokio::spawn(active_expiry(node.clone(), stop_rx.clone())),
        tokio::spawn(timers(node.clone(), stop_rx.clone())),
    ];
    if let Some(addr) = node.cfg.metrics_addr {
        let l = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the metrics listener on {addr}"))?;
        tracing::info!(%addr, "metrics listener up");
        let stop = stop_rx.clone();
        background.push(tokio::spawn(serve_metrics(node.clone(), l, stop)));
    }
    // Every connection task holds a clone of `done_tx`; when all are dropped
    // every in-flight connection has finished.
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    accept_until(&node, &listener, shutdown, &done_tx, &stop_rx).await;
    tracing::info!(
        id = node.id,
        "shutting down: no longer accepting, finishing in-flight requests"
    );
    drop(listener);
    let _ = stop_tx.send(Stop::Draining);
    drop(done_tx);
    drain(&node, &stop_tx, &mut done_rx).await;
    for task in background {
        let _ = task.await;
    }
    tracing::info!(id = node.id, "stopped");
    Ok(())
}

/// Waits for every connection to finish, for at most the shutdown timeout;
/// then tells the others to drop what they have not written, and waits for
/// them to end (at once: nothing they wait for is left).
async fn drain(node: &Node, stop: &watch::Sender<Stop>, done: &mut mpsc::Receiver<()>) {
    let timeout = node.cfg.shutdown_timeout;
    if node.clock.timeout(timeout, done.recv()).await.is_ok() {
        return;
    }
    let _ = stop.send(Stop::Abort);
    let _ = done.recv().await;
    let d = node.dropped();
    tracing::warn!(
        id = node.id,
        ?timeout,
        connections = d.connections,
        bytes = d.bytes,
        "shutdown timeout passed: dropped replies clients had not read"
    );
}

/// Builds the node: its machine, its peer links, the shared state.
fn start(cfg: NodeConfig, port: u16, env: NodeEnv) -> anyhow::Result<Arc<Node>> {
    let quorum = cfg.validate().context("invalid node configuration")?;
    let members = cfg.effective_members();
    let others: Vec<(NodeId, SocketAddr)> = members
        .iter()
        .filter(|m| m.id != cfg.id)
        .map(|m| (m.id, m.addr))
        .collect();
    let machine =
        Machine::new(cfg.clone(), port, env.clock.now()).context("invalid node configuration")?;
    let settings = PeerSettings {
        me: cfg.id,
        conns: cfg.peer_connections,
        password: cfg.peer_secret().map(Into::into),
        connect_timeout: cfg.replica_timeout,
        backoff: (cfg.peer_backoff_min, cfg.peer_backoff_max),
        limits: cfg.limits,
    };
    tracing::info!(
        id = cfg.id,
        port,
        members = members.len(),
        n = quorum.n,
        r = quorum.r,
        w = quorum.w,
        seed = cfg.seed,
        placement = %cfg.placement,
        "ringlab node starting"
    );
    if members.len() > 1 && cfg.cluster_secret.is_none() {
        tracing::warn!(
            id = cfg.id,
            fallback = if cfg.requirepass.is_some() {
                "requirepass"
            } else {
                "none"
            },
            "no cluster secret set: peers are admitted on their member id and address{}; set --cluster-secret",
            if cfg.requirepass.is_some() {
                " and the client password"
            } else {
                " alone"
            }
        );
    }
    Ok(Arc::new_cyclic(|me: &Weak<Node>| {
        let events = Arc::new(Events(me.clone()));
        let peers = Peers::start(&others, settings, env.clock, env.hooks.clone(), events);
        Node::new(machine, env.clock, env.hooks.clone(), peers)
    }))
}

/// Accepts connections until `shutdown` resolves, each served by a task
/// that holds a clone of `done`.
async fn accept_until(
    node: &Arc<Node>,
    listener: &TcpListener,
    shutdown: impl Future<Output = ()> + Send,
    done: &mpsc::Sender<()>,
    stop: &watch::Receiver<Stop>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let n = node.clients.fetch_add(1, Relaxed);
                    let (node, done, stop) = (node.clone(), done.clone(), stop.clone());
                    tokio::spawn(async move {
                        let _done = done;
                        if n >= node.cfg.max_clients {
                            node.with_machine(|m, _| m.note_rejected_connection());
                            tracing::debug!(%addr, "max clients reached, refusing");
                            let mut s = stream;
                            let _ = s.write_all(b"-ERR max number of clients reached\r\n").await;
                            let _ = s.flush().await;
                        } else {
                            let stream = crate::lossy::wrap(stream);
                            connection::handle(node.clone(), stream, Some(addr), stop).await;
                        }
                        node.clients.fetch_sub(1, Relaxed);
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    node.clock.sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
}

/// Samples keys with an expiry every `expire_interval` and drops the
/// expired ones (lazy expiry on access handles the rest).
async fn active_expiry(node: Arc<Node>, mut stop: watch::Receiver<Stop>) {
    let mut tick = node.clock.interval(node.cfg.expire_interval);
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => return,
            _ = tick.tick() => {
                node.with_machine(|m, now| m.expire_step(now));
            }
        }
    }
}

/// Wakes the machine at its timers' deadlines.
///
/// No event needs to wake this task early: every deadline the machine sets
/// is at least the shortest of `replica_timeout`, `command_timeout` and the
/// periods of heartbeats and anti-entropy after the event that set it, so
/// sleeping at most that long past each wake-up never oversleeps.
async fn timers(node: Arc<Node>, mut stop: watch::Receiver<Stop>) {
    let cfg = &node.cfg;
    let horizon = [cfg.heartbeat_interval, cfg.anti_entropy_interval]
        .into_iter()
        .flatten()
        .fold(cfg.replica_timeout.min(cfg.command_timeout), Duration::min);
    loop {
        let now = node.clock.now();
        // Streaming and a hand-off pace their batches by the machine's
        // deadlines, set by answers: wake at their pause at the latest
        // while they run (only then, so other runs wake as before).
        let (due, moving) = node.inspect(|m| (m.poll_timeout(), m.streaming() || m.leaving()));
        let horizon = if moving {
            horizon.min(cfg.join_stream_interval.max(Duration::from_micros(100)))
        } else {
            horizon
        };
        let limit = now.saturating_add(horizon.as_micros() as Micros);
        let at = due.map_or(limit, |t| t.min(limit));
        tokio::select! {
            biased;
            _ = stop.changed() => return,
            _ = node.clock.sleep_until(at) => {
                node.with_machine(|m, now| m.handle_timeout(now));
            }
        }
    }
}

/// Where the peer links report: into the machine.
struct Events(Weak<Node>);

impl PeerEvents for Events {
    fn response(&self, from: NodeId, id: RequestId, resp: Result<PeerResponse, ReplicaFailure>) {
        if let Some(node) = self.0.upgrade() {
            node.with_machine(|m, now| m.handle_peer_response(now, from, id, resp));
        }
    }

    fn link_changed(&self, _peer: NodeId) {
        if let Some(node) = self.0.upgrade() {
            node.refresh_peer_views();
        }
    }
}

/// The Prometheus text for this node now.
pub fn metrics_text(node: &Node) -> String {
    let names = names();
    let clients = node.clients.load(Relaxed) as u64;
    node.inspect(|m| {
        metrics::render(
            m.metrics(),
            &Snapshot {
                names: &names,
                stats: m.store().stats(),
                connected_clients: clients,
            },
        )
    })
}

/// A minimal HTTP/1.0 responder: whatever the request, the metrics.
async fn serve_metrics(node: Arc<Node>, listener: TcpListener, mut stop: watch::Receiver<Stop>) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.changed() => return,
            a = listener.accept() => a,
        };
        let Ok((mut s, _)) = accepted else { continue };
        let node = node.clone();
        tokio::spawn(async move {
            // Read the request head (bounded), then answer and close.
            let mut buf = BytesMut::with_capacity(1024);
            let head = async {
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
                    if s.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                        break;
                    }
                }
            };
            if node
                .clock
                .timeout(Duration::from_secs(5), head)
                .await
                .is_err()
            {
                return;
            }
            let body = metrics_text(&node);
            let reply = format!(
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(reply.as_bytes()).await;
            let _ = s.flush().await;
        });
    }
}
