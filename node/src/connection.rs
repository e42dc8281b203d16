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
//! Peer mode answers out of order: requests whose cost must be charged (the
//! simulator's capacity model) run as their own tasks, so a slow one never
//! holds back the others.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};

use ringlab_core::machine::{ConnId, Machine, replica_cost};
use ringlab_core::protocol::peer::{self, PeerMessage, PeerResponse, RequestId};
use ringlab_core::protocol::resp;
use ringlab_core::ring::NodeId;

use super::framed::Framed;
use super::state::{ConnEvent, Node};

/// Commands a client may have unanswered before the node stops reading
/// from it (a pipeline deeper than this waits for replies).
pub const MAX_PENDING: usize = 1024;

/// Replies are written early when the output grows past this, so a huge
/// pipeline does not buffer all its answers.
const FLUSH_AT: usize = 64 * 1024;

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
    /// An `RL.HELLO` was fed: parse nothing more until it is answered.
    hello: bool,
    /// How the connection ends, once known.
    end: Option<End>,
}

/// Serves one connection until the client leaves, errs, idles out, or the
/// node shuts down (after answering what was already read).
pub async fn handle<S>(node: Arc<Node>, stream: S, mut shutdown: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (conn, rx) = node.open_client();
    let mut io = Framed::new(stream, Default::default(), node.cfg.limits);
    let mut c = Client {
        conn,
        rx,
        pending: 0,
        hello: false,
        end: None,
    };
    let mut stopping = *shutdown.borrow();
    loop {
        let parse_error = feed_buffered(&node, &mut c, &mut io).await;
        while let Ok(ev) = c.rx.try_recv() {
            c.on_event(ev, &mut io);
        }
        if let Some(e) = parse_error {
            node.with_machine(|m, _| m.note_protocol_error());
            tracing::debug!(client = conn, error = %e, "protocol error, closing");
            resp::write_error(&mut io.wbuf, format!("ERR Protocol error: {e}").as_bytes());
            c.end = Some(End::Closed);
        }
        if io.flush().await.is_err() {
            c.end = Some(End::Closed);
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
        let reading = !stopping && !c.hello && c.pending < MAX_PENDING;
        tokio::select! {
            biased;
            _ = shutdown.changed(), if !stopping => stopping = true,
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
            ConnEvent::Reply(bytes) => {
                io.wbuf.extend_from_slice(&bytes);
                self.pending = self.pending.saturating_sub(1);
                if self.pending == 0 {
                    self.hello = false;
                }
            }
            ConnEvent::Close => self.end = Some(End::Closed),
            ConnEvent::Peer(from) => self.end = Some(End::Peer(from)),
        }
    }
}

/// Feeds every complete request buffered (up to [`MAX_PENDING`] in flight);
/// returns a protocol error, if the buffer holds one.
async fn feed_buffered<S: AsyncRead + AsyncWrite + Unpin>(
    node: &Node,
    c: &mut Client,
    io: &mut Framed<S>,
) -> Option<resp::ProtocolError> {
    while !c.hello && c.end.is_none() && c.pending < MAX_PENDING {
        match io.next_request() {
            Ok(Some(args)) if args.is_empty() => continue,
            Ok(Some(args)) => {
                // After RL.HELLO the bytes are peer frames, not requests.
                c.hello = args[0].eq_ignore_ascii_case(peer::HELLO.as_bytes());
                feed(node, c.conn, args).await;
                c.pending += 1;
                if io.wbuf.len() >= FLUSH_AT {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return Some(e),
        }
    }
    None
}

/// Charges one command's cost, then hands it to the machine (or tells the
/// machine the capacity model refused it).
async fn feed(node: &Node, conn: ConnId, args: Vec<Bytes>) {
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
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<(RequestId, PeerResponse)>();
    let inline = node.hooks.is_free() && node.hooks.peer_delay(from).is_zero();
    loop {
        if let Err(why) = serve_requests(node, &mut io, from, inline, &tx) {
            tracing::warn!(peer = from, error = %why, "bad peer traffic; closing");
            return;
        }
        while let Ok((id, resp)) = rx.try_recv() {
            peer::encode(&PeerMessage::Response { id, resp }, &mut io.wbuf);
        }
        if io.flush().await.is_err() {
            return;
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
