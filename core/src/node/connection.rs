//! One accepted connection: a client speaking RESP, or (after `RL.HELLO`) a
//! peer node sending replica requests.
//!
//! Client mode answers pipelines: it parses every complete request already
//! buffered, answers them in order into one output buffer and flushes once.
//! A protocol error gets `-ERR Protocol error: ...` and closes that
//! connection only. Peer mode answers out of order: requests whose cost must
//! be charged (the simulator's capacity model) run as their own tasks, so a
//! slow one never holds back the others.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use crate::protocol::peer::{self, PeerMessage, PeerRequest, PeerResponse, RequestId};
use crate::protocol::resp;
use crate::replication::ReplicaFailure;
use crate::ring::NodeId;

use super::commands::{self, Flow, Session};
use super::hooks::OpCost;
use super::state::Node;

/// Replies are flushed early when the output grows past this, so a huge
/// pipeline does not buffer all its answers.
const FLUSH_AT: usize = 64 * 1024;

/// Serves one connection until the client leaves, errs, idles out, or the
/// node shuts down (after answering what was already read).
pub async fn handle<S>(node: Arc<Node>, mut stream: S, mut shutdown: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut sess = Session {
        id: node.next_client_id.fetch_add(1, Relaxed),
        name: None,
        authed: node.cfg.requirepass.is_none(),
        lib_name: None,
    };
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    let mut out = BytesMut::with_capacity(16 * 1024);
    loop {
        loop {
            match resp::parse_request(&mut rbuf, &node.cfg.limits) {
                Ok(Some(args)) => {
                    if args.is_empty() {
                        continue;
                    }
                    match commands::execute(&node, &mut sess, &args, &mut out).await {
                        Flow::Continue => {}
                        Flow::Close => {
                            let _ = write_flush(&mut stream, &mut out).await;
                            return;
                        }
                        Flow::Peer(from) => {
                            if write_flush(&mut stream, &mut out).await.is_err() {
                                return;
                            }
                            tracing::debug!(peer = from, "peer connection accepted");
                            // The peer is not a client: do not count it as one.
                            node.clients.fetch_sub(1, Relaxed);
                            peer_mode(&node, stream, rbuf, from, shutdown).await;
                            node.clients.fetch_add(1, Relaxed);
                            return;
                        }
                    }
                    if out.len() >= FLUSH_AT && write_flush(&mut stream, &mut out).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    node.metrics.protocol_errors.fetch_add(1, Relaxed);
                    tracing::debug!(client = sess.id, error = %e, "protocol error, closing");
                    resp::write_error(&mut out, format!("ERR Protocol error: {e}").as_bytes());
                    let _ = write_flush(&mut stream, &mut out).await;
                    return;
                }
            }
        }
        if write_flush(&mut stream, &mut out).await.is_err() || *shutdown.borrow() {
            return;
        }
        let read = async {
            match node.cfg.idle_timeout {
                Some(idle) => node
                    .clock
                    .timeout(idle, stream.read_buf(&mut rbuf))
                    .await
                    .unwrap_or(Ok(0)),
                None => stream.read_buf(&mut rbuf).await,
            }
        };
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            n = read => match n {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
        }
    }
}

async fn write_flush<S: AsyncWrite + Unpin>(s: &mut S, out: &mut BytesMut) -> std::io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let r = s.write_all(out).await;
    out.clear();
    r?;
    // The simulated TcpStream sends only on flush.
    s.flush().await
}

/// Answers one replica request against the local store.
fn serve_replica(node: &Node, req: PeerRequest) -> PeerResponse {
    node.metrics.replica_requests.fetch_add(1, Relaxed);
    match req {
        PeerRequest::Get { key } => {
            PeerResponse::Entry(node.shards.get_versioned(&key, node.clock.now()))
        }
        PeerRequest::Put { key, entry } => match node.apply_local(key, entry) {
            Ok(()) => PeerResponse::Ack,
            Err(f) => PeerResponse::Failed(f),
        },
        PeerRequest::Flush => {
            node.shards.flush();
            PeerResponse::Ack
        }
    }
}

fn request_bytes(req: &PeerRequest) -> usize {
    match req {
        PeerRequest::Get { key } => key.len(),
        PeerRequest::Put { key, entry } => key.len() + entry.value.as_ref().map_or(0, |v| v.len()),
        PeerRequest::Flush => 0,
    }
}

/// Serves a peer's replica requests until it disconnects or the node stops.
async fn peer_mode<S>(
    node: &Arc<Node>,
    stream: S,
    mut rbuf: BytesMut,
    from: NodeId,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::unbounded_channel::<(RequestId, PeerResponse)>();
    let inline = node.hooks.is_free() && node.hooks.peer_delay(from).is_zero();
    let mut out = BytesMut::with_capacity(16 * 1024);
    loop {
        loop {
            match resp::parse_frame(&mut rbuf, &node.cfg.limits) {
                Ok(Some(frame)) => match peer::decode(frame) {
                    Ok(PeerMessage::Request { id, req }) => {
                        if inline {
                            let resp = serve_replica(node, req);
                            peer::encode(&PeerMessage::Response { id, resp }, &mut out);
                        } else {
                            let node = node.clone();
                            let tx = tx.clone();
                            tokio::spawn(async move {
                                let cost = OpCost {
                                    bytes: request_bytes(&req),
                                    replica: true,
                                };
                                let resp = match node.hooks.charge(cost).await {
                                    Ok(()) => serve_replica(&node, req),
                                    Err(_) => {
                                        node.metrics.overloaded.fetch_add(1, Relaxed);
                                        PeerResponse::Failed(ReplicaFailure::Overloaded)
                                    }
                                };
                                let delay = node.hooks.peer_delay(from);
                                if !delay.is_zero() {
                                    node.clock.sleep(delay).await;
                                }
                                let _ = tx.send((id, resp));
                            });
                        }
                    }
                    Ok(PeerMessage::Response { .. }) => {
                        tracing::warn!(
                            peer = from,
                            "peer sent a response on an incoming connection; closing"
                        );
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(peer = from, error = %e, "bad peer message; closing");
                        return;
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(peer = from, error = %e, "peer protocol error; closing");
                    return;
                }
            }
        }
        while let Ok((id, resp)) = rx.try_recv() {
            peer::encode(&PeerMessage::Response { id, resp }, &mut out);
        }
        if write_flush(&mut writer, &mut out).await.is_err() {
            return;
        }
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            m = rx.recv() => {
                if let Some((id, resp)) = m {
                    peer::encode(&PeerMessage::Response { id, resp }, &mut out);
                }
            }
            n = reader.read_buf(&mut rbuf) => match n {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
        }
    }
}
