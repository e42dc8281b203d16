//! Outgoing peer connections: a small pool per peer, multiplexed by request
//! id, with reconnect and backoff through the clock.
//!
//! Each connection is one task that owns its socket and the ids of its
//! pending requests. Answers go to [`PeerEvents::response`] (the node feeds
//! them to its machine) in whatever order they arrive, so one slow request
//! never blocks the others; when a connection breaks, each of its pending
//! requests is answered `Unreachable`.
//! While a connection is down (backing off after a failure), requests for it
//! fail at once as `Unreachable` instead of waiting: a dead peer costs the
//! requests that need it nothing but a quorum counted without it, and costs
//! the requests that do not need it nothing at all.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::framed::Framed;
use crate::lossy::{self, Stream};
use ringlab_core::protocol::peer::{self, PeerMessage, PeerRequest, PeerResponse, RequestId};
use ringlab_core::protocol::resp::{Frame, Limits};
use ringlab_core::replication::ReplicaFailure;
use ringlab_core::ring::NodeId;

use super::hooks::Hooks;

/// Where the links report: answers to requests, and changes of state.
pub trait PeerEvents: Send + Sync + 'static {
    /// The answer to request `id` sent to `from`, or why none will come.
    fn response(&self, from: NodeId, id: RequestId, resp: Result<PeerResponse, ReplicaFailure>);
    /// A connection to `peer` came up or went down.
    fn link_changed(&self, peer: NodeId);
}

/// A request on its way to a connection task.
struct Outgoing {
    /// The machine's id for it; the answer carries it back.
    id: RequestId,
    /// What to ask.
    req: PeerRequest,
}

/// What each connection task needs to know.
#[derive(Clone)]
struct LinkCtx {
    /// This node's id (sent in the hello).
    me: NodeId,
    /// The peer's id.
    peer: NodeId,
    /// The peer's address.
    addr: SocketAddr,
    /// The secret this node presents in its hello
    /// ([`NodeConfig::peer_secret`](ringlab_core::config::NodeConfig::peer_secret)).
    password: Option<Arc<[u8]>>,
    /// Model time.
    clock: Clock,
    /// Where answers and state changes go.
    events: Arc<dyn PeerEvents>,
    /// Connect and hello timeout.
    connect_timeout: Duration,
    /// First and longest backoff after a failure.
    backoff: (Duration, Duration),
    /// Parser limits for the peer's frames.
    limits: Limits,
    /// Whether this connection is up now (for INFO).
    up: Arc<AtomicBool>,
}

/// One peer: its connections and how requests are spread over them.
struct PeerPool {
    /// Senders into the connection tasks.
    links: Vec<mpsc::UnboundedSender<Outgoing>>,
    /// Round-robin cursor over `links`.
    next: AtomicUsize,
    /// Up-state of each connection.
    up: Vec<Arc<AtomicBool>>,
    /// The peer's address (for INFO).
    addr: SocketAddr,
    /// Failures seen on this peer's connections.
    errors: Arc<AtomicU64>,
}

/// All outgoing peer connections of a node.
pub struct Peers {
    /// One pool per other member, by id; grows when a member joins.
    pools: RwLock<BTreeMap<NodeId, Arc<PeerPool>>>,
    /// How new pools are set up (a member joining).
    settings: PeerSettings,
    /// Per-link delay and charging.
    hooks: Arc<dyn Hooks>,
    /// Model time (delays).
    clock: Clock,
    /// Where answers and state changes go.
    events: Arc<dyn PeerEvents>,
}

/// The state of one peer, for INFO.
#[derive(Debug, Clone)]
pub struct PeerState {
    /// The peer's id.
    pub id: NodeId,
    /// Its address.
    pub addr: SocketAddr,
    /// Connections up now.
    pub up: usize,
    /// Connections in the pool.
    pub conns: usize,
    /// Failures so far.
    pub errors: u64,
}

/// Settings for [`Peers::start`].
#[derive(Clone)]
pub struct PeerSettings {
    /// This node's id.
    pub me: NodeId,
    /// Connections per peer.
    pub conns: usize,
    /// The secret to present in the hello (the cluster secret, else the
    /// client password), if any.
    pub password: Option<String>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// First and longest reconnect backoff.
    pub backoff: (Duration, Duration),
    /// Parser limits.
    pub limits: Limits,
}

impl Peers {
    /// Starts the connection tasks for every peer in `others` (id, address).
    /// The tasks end when the `Peers` is dropped.
    pub fn start(
        others: &[(NodeId, SocketAddr)],
        settings: PeerSettings,
        clock: Clock,
        hooks: Arc<dyn Hooks>,
        events: Arc<dyn PeerEvents>,
    ) -> Self {
        let peers = Self {
            pools: RwLock::new(BTreeMap::new()),
            settings,
            hooks,
            clock,
            events,
        };
        for &(peer, addr) in others {
            peers.add(peer, addr);
        }
        peers
    }

    /// Starts connections to a new peer (a member that joined). Adding a
    /// peer that already has a pool does nothing. The connection tasks run
    /// on the caller's runtime node.
    pub fn add(&self, peer: NodeId, addr: SocketAddr) {
        let mut pools = self.pools.write().unwrap_or_else(|e| e.into_inner());
        if pools.contains_key(&peer) {
            return;
        }
        let s = &self.settings;
        let password: Option<Arc<[u8]>> = s.password.as_ref().map(|p| Arc::from(p.as_bytes()));
        let errors = Arc::new(AtomicU64::new(0));
        let mut links = Vec::new();
        let mut ups = Vec::new();
        for _ in 0..s.conns.max(1) {
            let (tx, rx) = mpsc::unbounded_channel();
            let up = Arc::new(AtomicBool::new(false));
            let ctx = LinkCtx {
                me: s.me,
                peer,
                addr,
                password: password.clone(),
                clock: self.clock,
                events: self.events.clone(),
                connect_timeout: s.connect_timeout,
                backoff: s.backoff,
                limits: s.limits,
                up: up.clone(),
            };
            tokio::spawn(link_task(ctx, rx, errors.clone()));
            links.push(tx);
            ups.push(up);
        }
        pools.insert(
            peer,
            Arc::new(PeerPool {
                links,
                next: AtomicUsize::new(0),
                up: ups,
                addr,
                errors,
            }),
        );
    }

    /// The link to use for `peer` next (round robin), if it is a peer.
    fn link(&self, peer: NodeId) -> Option<mpsc::UnboundedSender<Outgoing>> {
        let pools = self.pools.read().unwrap_or_else(|e| e.into_inner());
        let pool = pools.get(&peer)?;
        let i = pool.next.fetch_add(1, Relaxed) % pool.links.len();
        Some(pool.links[i].clone())
    }

    /// Sends request `id` to `peer`; the answer (or the failure) arrives
    /// at [`PeerEvents::response`]. Never waits. A failure is reported from
    /// a task of its own, never from inside this call: the caller holds the
    /// node's lock.
    pub fn send(&self, peer: NodeId, id: RequestId, req: PeerRequest) {
        let link = self.link(peer);
        let delay = self.hooks.peer_delay(peer);
        let msg = Outgoing { id, req };
        let msg = match &link {
            Some(link) if delay.is_zero() => match link.send(msg) {
                Ok(()) => return,
                Err(mpsc::error::SendError(msg)) => msg,
            },
            _ => msg,
        };
        let (clock, events) = (self.clock, self.events.clone());
        tokio::spawn(async move {
            let sent = match link {
                Some(link) if !delay.is_zero() => {
                    clock.sleep(delay).await;
                    link.send(msg).is_ok()
                }
                _ => false,
            };
            if !sent {
                events.response(peer, id, Err(ReplicaFailure::Unreachable));
            }
        });
    }

    /// Every peer's state, by id.
    pub fn states(&self) -> Vec<PeerState> {
        self.pools
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(&id, p)| PeerState {
                id,
                addr: p.addr,
                up: p.up.iter().filter(|u| u.load(Relaxed)).count(),
                conns: p.up.len(),
                errors: p.errors.load(Relaxed),
            })
            .collect()
    }
}

/// Why a connection ended.
enum LinkEnd {
    /// The node is shutting down (the `Peers` was dropped).
    Shutdown,
    /// The connection failed; reconnect after a backoff.
    Failed(String),
}

/// One connection's life: connect, serve, and on failure back off
/// (failing requests fast meanwhile) and reconnect.
async fn link_task(
    ctx: LinkCtx,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    errors: Arc<AtomicU64>,
) {
    let mut backoff = ctx.backoff.0;
    loop {
        let connected = ctx
            .clock
            .timeout(ctx.connect_timeout, connect(&ctx))
            .await
            .unwrap_or_else(|_| Err("connect timed out".to_string()));
        let end = match connected {
            Ok(io) => {
                backoff = ctx.backoff.0;
                ctx.up.store(true, Relaxed);
                ctx.events.link_changed(ctx.peer);
                tracing::debug!(peer = ctx.peer, addr = %ctx.addr, "peer connection up");
                let end = run_link(&ctx, io, &mut rx).await;
                ctx.up.store(false, Relaxed);
                end
            }
            Err(e) => LinkEnd::Failed(e),
        };
        match end {
            LinkEnd::Shutdown => return,
            LinkEnd::Failed(why) => {
                errors.fetch_add(1, Relaxed);
                ctx.events.link_changed(ctx.peer);
                tracing::debug!(peer = ctx.peer, addr = %ctx.addr, %why, ?backoff, "peer connection failed");
            }
        }
        // Back off, failing whatever arrives meanwhile at once.
        let wake = ctx.clock.sleep(backoff);
        tokio::pin!(wake);
        loop {
            tokio::select! {
                biased;
                _ = &mut wake => break,
                msg = rx.recv() => match msg {
                    Some(o) => ctx.events.response(ctx.peer, o.id, Err(ReplicaFailure::Unreachable)),
                    None => return,
                },
            }
        }
        backoff = (backoff * 2).min(ctx.backoff.1);
    }
}

/// Connects and exchanges the hello.
async fn connect(ctx: &LinkCtx) -> Result<Framed<Stream>, String> {
    let stream = TcpStream::connect(ctx.addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut io = Framed::new(lossy::wrap(stream), BytesMut::new(), ctx.limits);
    peer::encode_hello(ctx.me, ctx.password.as_deref(), &mut io.wbuf);
    io.flush().await.map_err(|e| format!("hello: {e}"))?;
    match io.read_frame().await {
        Ok(Frame::Simple(_)) => Ok(io),
        Ok(other) => {
            // A wrong secret or member list never heals by retrying: say so
            // where the operator looks (retries back off, so this is rare).
            tracing::warn!(peer = ctx.peer, addr = %ctx.addr, reply = ?other,
                "peer refused this node's hello: check the cluster secret and the member lists");
            Err(format!("hello refused: {other:?}"))
        }
        Err(e) => Err(format!("hello reply: {e}")),
    }
}

/// Serves one established connection until it fails or the node stops.
async fn run_link(
    ctx: &LinkCtx,
    mut io: Framed<Stream>,
    rx: &mut mpsc::UnboundedReceiver<Outgoing>,
) -> LinkEnd {
    // Ordered, so the failures reported when the link breaks come in id
    // order (the machine's decisions follow from them).
    let mut pending: BTreeSet<RequestId> = BTreeSet::new();
    let end = loop {
        tokio::select! {
            biased;
            n = io.fill() => {
                match n {
                    Ok(0) => break LinkEnd::Failed("peer closed the connection".into()),
                    Ok(_) => {}
                    Err(e) => break LinkEnd::Failed(format!("read: {e}")),
                }
                if let Err(why) = read_responses(ctx, &mut io, &mut pending) {
                    break LinkEnd::Failed(why);
                }
            }
            msg = rx.recv() => {
                let Some(first) = msg else { break LinkEnd::Shutdown };
                let mut next = Some(first);
                // Coalesce whatever else is queued into one write and flush.
                while let Some(o) = next {
                    peer::encode(&PeerMessage::Request { id: o.id, req: o.req }, &mut io.wbuf);
                    pending.insert(o.id);
                    next = if io.wbuf.len() < 64 * 1024 { rx.try_recv().ok() } else { None };
                }
                if let Err(e) = io.flush().await {
                    break LinkEnd::Failed(format!("write: {e}"));
                }
            }
        }
    };
    for id in pending {
        ctx.events
            .response(ctx.peer, id, Err(ReplicaFailure::Unreachable));
    }
    end
}

/// Hands every complete response buffered to the node.
fn read_responses(
    ctx: &LinkCtx,
    io: &mut Framed<Stream>,
    pending: &mut BTreeSet<RequestId>,
) -> Result<(), String> {
    while let Some(frame) = io
        .next_frame()
        .map_err(|e| format!("protocol error: {e}"))?
    {
        match peer::decode(frame).map_err(|e| e.to_string())? {
            PeerMessage::Response { id, resp } => {
                if pending.remove(&id) {
                    ctx.events.response(ctx.peer, id, Ok(resp));
                }
            }
            PeerMessage::Request { .. } => {
                return Err("a request on an outgoing connection".to_string());
            }
        }
    }
    Ok(())
}
