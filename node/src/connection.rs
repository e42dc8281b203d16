//! One accepted connection: a client speaking RESP, or (after `RL.HELLO`) a
//! peer node sending replica requests. The connection only moves bytes: it
//! parses requests, feeds them to the node's machine and writes what the
//! machine answers.
//!
//! Client mode feeds every complete request already buffered (charging each
//! one's cost through the hooks first), then writes the replies that are
//! ready in one flush, and goes on reading while replies are due, up to
//! [`MAX_PENDING`] unanswered commands. The machine runs a pipeline's
//! independent commands concurrently and answers in order. A protocol error
//! gets `-ERR Protocol error: ...` and closes that connection only.
//!
//! On a password-protected node, a client that has not authenticated is
//! parsed under Redis's pre-auth caps (10 arguments, 16 KiB each) and fed one
//! command at a time, so that the caps lift for the command right after a
//! successful AUTH, even in the same write.
//!
//! Peer mode answers out of order: requests whose cost must be charged (the
//! simulator's capacity model) run as their own tasks, so a slow one never
//! holds back the others.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};

use ringlab_core::machine::{ConnId, Machine, replica_cost};
use ringlab_core::protocol::peer::{self, PeerMessage, PeerResponse, RequestId};
use ringlab_core::protocol::resp;
use ringlab_core::ring::NodeId;

use super::framed::Framed;
use super::server::Stop;
use super::state::{ConnEvent, Node};

/// Commands a client may have unanswered before the node stops reading
/// from it (a pipeline deeper than this waits for replies).
pub const MAX_PENDING: usize = 1024;

/// How a client connection ended.
enum End {
    /// Closed (QUIT, EOF, error, shutdown).
    Closed,
    /// It is a peer's: serve it in peer mode from `from`.
    Peer(NodeId),
}

/// A client connection's state besides the socket.
struct Client {
    /// The machine's id for it.
    conn: ConnId,
    /// Replies and events from the machine.
    rx: mpsc::UnboundedReceiver<ConnEvent>,
    /// Commands fed whose replies have not come back.
    pending: usize,
    /// The requests parsed for one feed (kept between feeds: growing a new
    /// one every read was an allocation per few commands).
    batch: Vec<Vec<Bytes>>,
    /// Parse nothing more until every reply came back: an `RL.HELLO` was
    /// fed (after it the bytes may be peer frames), or a command before
    /// AUTH (the next one is parsed under the limits its outcome decides).
    wait: bool,
    /// AUTH succeeded or no password is set: the full parser limits apply.
    /// Before, Redis's pre-auth caps do (see [`resp::Limits::before_auth`]).
    authed: bool,
    /// How the connection ends, once known.
    end: Option<End>,
}

/// Serves one connection until the client leaves, errs, idles out, or the
/// node shuts down (after answering what was already read, unless the
/// shutdown gives up on it first: [`Stop::Abort`]).
///
/// `remote` is the address the connection comes from (None when the transport has
/// none): a peer hello must come from the member's address.
pub async fn handle<S>(
    node: Arc<Node>,
    stream: S,
    remote: Option<SocketAddr>,
    mut shutdown: watch::Receiver<Stop>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (conn, rx) = node.open_client(remote);
    let authed = node.cfg.requirepass.is_none();
    let limits = if authed {
        node.cfg.limits
    } else {
        node.cfg.limits.before_auth()
    };
    let mut io = Framed::new(stream, Default::default(), limits);
    let mut c = Client {
        conn,
        rx,
        pending: 0,
        batch: Vec::new(),
        wait: false,
        authed,
        end: None,
    };
    let mut stopping = *shutdown.borrow() != Stop::Running;
    let mut abort = shutdown.clone();
    loop {
        let (gated, parse_error) = feed_buffered(&node, &mut c, &mut io).await;
        while let Ok(ev) = c.rx.try_recv() {
            c.on_event(ev, &mut io);
        }
        if let Some(e) = parse_error {
            node.with_machine(|m, _| m.note_protocol_error());
            tracing::debug!(client = conn, error = %e, "protocol error, closing");
            resp::write_error(&mut io.wbuf, format!("ERR Protocol error: {e}").as_bytes());
            c.end = Some(End::Closed);
        }
        // A reply's leg of the client link (zero, so no wait, on a real
        // node).
        let delay = node.hooks.client_delay();
        if !delay.is_zero() && !io.wbuf.is_empty() {
            node.clock.sleep(delay).await;
        }
        match write_out(&mut io, &mut abort).await {
            Ok(()) => {}
            Err(Unwritten::Failed) => c.end = Some(End::Closed),
            Err(Unwritten::Aborted) => break c.abandon(&node, &mut io),
        }
        match c.end {
            Some(End::Closed) => break,
            Some(End::Peer(from)) => {
                node.close_client(conn);
                tracing::debug!(peer = from, "peer connection accepted");
                return peer_mode(&node, io, from, shutdown).await;
            }
            None if stopping && c.pending == 0 => break,
            None => {}
        }
        if gated && !c.wait && c.pending < MAX_PENDING {
            // The replies that held parsing back came already: parse what
            // is buffered rather than wait for bytes the client may never
            // send (it waits for those replies).
            continue;
        }
        let reading = !stopping && !c.wait && c.pending < MAX_PENDING;
        tokio::select! {
            biased;
            changed = shutdown.changed() => {
                stopping = true;
                // A server gone (Err) has given up on its connections too.
                if changed.is_err() || *shutdown.borrow() == Stop::Abort {
                    break c.abandon(&node, &mut io);
                }
            }
            ev = c.rx.recv(), if c.pending > 0 => match ev {
                Some(ev) => c.on_event(ev, &mut io),
                None => break,
            },
            n = read(&node, &mut io), if reading => match n {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
        }
    }
    node.close_client(conn);
}

impl Client {
    fn on_event<S>(&mut self, ev: ConnEvent, io: &mut Framed<S>) {
        match ev {
            ConnEvent::Replies { bytes, count } => {
                io.wbuf.extend_from_slice(&bytes);
                self.pending = self.pending.saturating_sub(count);
                if self.pending == 0 {
                    self.wait = false;
                }
            }
            ConnEvent::Close => self.end = Some(End::Closed),
            ConnEvent::Peer(from) => self.end = Some(End::Peer(from)),
        }
    }
}

impl Client {
    /// The shutdown gave up on this connection: counts the replies it
    /// drops, written or not yet come from the machine.
    fn abandon<S>(&mut self, node: &Node, io: &mut Framed<S>) {
        let mut bytes = io.wbuf.len() as u64;
        while let Ok(ev) = self.rx.try_recv() {
            if let ConnEvent::Replies { bytes: b, .. } = ev {
                bytes += b.len() as u64;
            }
        }
        io.wbuf.clear();
        if bytes > 0 || self.pending > 0 {
            node.note_dropped(bytes);
        }
    }

    /// Lifts the pre-auth caps once AUTH succeeded. Asks the machine only
    /// while unauthenticated and with nothing in flight (the reply to AUTH
    /// came back), so an authenticated connection never pays for it.
    fn refresh_auth<S: AsyncRead + AsyncWrite + Unpin>(&mut self, node: &Node, io: &mut Framed<S>) {
        if self.authed || self.pending > 0 {
            return;
        }
        if node.inspect(|m| m.is_authed(self.conn)) {
            self.authed = true;
            io.set_limits(node.cfg.limits);
        }
    }
}

/// Feeds every complete request buffered (up to [`MAX_PENDING`] in flight);
/// returns whether it stopped with requests possibly left in the buffer
/// (waiting for replies, see `Client::wait`) and a protocol error, if the
/// buffer holds one.
async fn feed_buffered<S: AsyncRead + AsyncWrite + Unpin>(
    node: &Node,
    c: &mut Client,
    io: &mut Framed<S>,
) -> (bool, Option<resp::ProtocolError>) {
    // Without costs to charge, a pipeline is fed under one lock.
    let free = node.hooks.is_free();
    let mut batch = std::mem::take(&mut c.batch);
    let mut error = None;
    let gated = loop {
        if c.wait || c.end.is_some() || c.pending >= MAX_PENDING {
            break true;
        }
        c.refresh_auth(node, io);
        match io.next_request() {
            Ok(Some(args)) if args.is_empty() => continue,
            Ok(Some(args)) => {
                // After RL.HELLO the bytes are peer frames, not requests.
                c.wait = !c.authed || args[0].eq_ignore_ascii_case(peer::HELLO.as_bytes());
                c.pending += 1;
                if free {
                    batch.push(args);
                } else {
                    feed(node, c.conn, args).await;
                }
            }
            Ok(None) => break false,
            Err(e) => {
                error = Some(e);
                break false;
            }
        }
    };
    if !batch.is_empty() {
        node.with_machine(|m, now| {
            for args in batch.drain(..) {
                m.handle_command(now, c.conn, args);
            }
        });
    }
    // A burst's batch (up to MAX_PENDING requests) is not kept for the
    // connection's life.
    batch.shrink_to(64);
    c.batch = batch;
    (gated, error)
}

/// Why queued bytes were not all written.
enum Unwritten {
    /// The socket failed (the buffer is emptied).
    Failed,
    /// The shutdown gave up first (the buffer holds what was not written).
    Aborted,
}

/// Writes what is queued, unless the shutdown gives up on the connection
/// first: a client that never reads would otherwise hold the write, and
/// with it the node's shutdown, forever.
/// `abort` is the connection's own receiver of the shutdown channel (what
/// it marks seen leaves the receiver the connection loop selects on
/// unchanged), made once per connection rather than per write.
async fn write_out<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut Framed<S>,
    abort: &mut watch::Receiver<Stop>,
) -> Result<(), Unwritten> {
    if io.wbuf.is_empty() {
        return Ok(());
    }
    tokio::select! {
        biased;
        r = io.flush() => r.map_err(|_| Unwritten::Failed),
        _ = aborted(abort) => Err(Unwritten::Aborted),
    }
}

/// Resolves once the shutdown gives up on connections (or the server that
/// would tell is gone).
async fn aborted(stop: &mut watch::Receiver<Stop>) {
    while *stop.borrow_and_update() != Stop::Abort {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Charges one command's cost, then hands it to the machine (or tells the
/// machine the capacity model refused it).
async fn feed(node: &Node, conn: ConnId, args: Vec<Bytes>) {
    // The request's leg of the client link.
    let delay = node.hooks.client_delay();
    if !delay.is_zero() {
        node.clock.sleep(delay).await;
    }
    if !node.hooks.is_free()
        && let Some(cost) = Machine::command_cost(&args)
        && node.hooks.charge(cost).await.is_err()
    {
        return node.with_machine(|m, _| m.handle_refused(conn, &args));
    }
    node.with_machine(|m, now| m.handle_command(now, conn, args));
}

/// Reads more bytes, closing an idle connection after the idle timeout.
async fn read<S: AsyncRead + AsyncWrite + Unpin>(
    node: &Node,
    io: &mut Framed<S>,
) -> std::io::Result<usize> {
    match node.cfg.idle_timeout {
        Some(idle) => node.clock.timeout(idle, io.fill()).await.unwrap_or(Ok(0)),
        None => io.fill().await,
    }
}

/// Serves a peer's replica requests until it disconnects or the node stops.
async fn peer_mode<S>(
    node: &Arc<Node>,
    mut io: Framed<S>,
    from: NodeId,
    mut shutdown: watch::Receiver<Stop>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // A peer's values are as large as any client's: the pre-auth caps
    // (if the hello came before AUTH) no longer apply.
    io.set_limits(node.cfg.limits);
    let (tx, mut rx) = mpsc::unbounded_channel::<(RequestId, PeerResponse)>();
    let inline = node.hooks.is_free() && node.hooks.peer_delay(from).is_zero();
    let mut abort = shutdown.clone();
    loop {
        if let Err(why) = serve_requests(node, &mut io, from, inline, &tx) {
            tracing::warn!(peer = from, error = %why, "bad peer traffic; closing");
            return;
        }
        while let Ok((id, resp)) = rx.try_recv() {
            peer::encode(&PeerMessage::Response { id, resp }, &mut io.wbuf);
        }
        match write_out(&mut io, &mut abort).await {
            Ok(()) => {}
            Err(Unwritten::Failed) => return,
            Err(Unwritten::Aborted) => return node.note_dropped(io.wbuf.len() as u64),
        }
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            m = rx.recv() => {
                if let Some((id, resp)) = m {
                    peer::encode(&PeerMessage::Response { id, resp }, &mut io.wbuf);
                }
            }
            n = io.fill() => match n {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
        }
    }
}

/// Serves every complete request buffered: at once when nothing is
/// charged, else each in a task that charges its cost first (the answer
/// then comes through `tx`).
fn serve_requests<S: AsyncRead + AsyncWrite + Unpin>(
    node: &Arc<Node>,
    io: &mut Framed<S>,
    from: NodeId,
    inline: bool,
    tx: &mpsc::UnboundedSender<(RequestId, PeerResponse)>,
) -> Result<(), String> {
    while let Some(frame) = io.next_frame().map_err(|e| e.to_string())? {
        let (id, req) = match peer::decode(frame).map_err(|e| e.to_string())? {
            PeerMessage::Request { id, req } => (id, req),
            PeerMessage::Response { .. } => {
                return Err("a response on an incoming connection".into());
            }
        };
        if inline {
            let resp = node.with_machine(|m, now| m.handle_peer_request(now, req));
            peer::encode(&PeerMessage::Response { id, resp }, &mut io.wbuf);
            continue;
        }
        let (node, tx) = (node.clone(), tx.clone());
        tokio::spawn(async move {
            let resp = match node.hooks.charge(replica_cost(&req)).await {
                Ok(()) => node.with_machine(|m, now| m.handle_peer_request(now, req)),
                Err(_) => node.with_machine(|m, _| m.refuse_peer_request()),
            };
            let delay = node.hooks.peer_delay(from);
            if !delay.is_zero() {
                node.clock.sleep(delay).await;
            }
            let _ = tx.send((id, resp));
        });
    }
    Ok(())
}
