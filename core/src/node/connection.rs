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

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use crate::protocol::peer::{self, PeerMessage, PeerRequest, PeerResponse, RequestId};
use crate::protocol::resp;
use crate::replication::ReplicaFailure;
use crate::ring::NodeId;

use super::commands::{self, Flow, Session};
use super::hooks::OpCost;
use super::state::Node;
use super::table::{self, Cmd};

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
    let mut batch: Vec<Vec<Bytes>> = Vec::new();
    loop {
        // Parse everything buffered first, so that independent commands of
        // a pipeline can run concurrently (see `run_batch`).
        let mut parse_error = None;
        let mut full = false;
        loop {
            match resp::parse_request(&mut rbuf, &node.cfg.limits) {
                Ok(Some(args)) => {
                    if args.is_empty() {
                        continue;
                    }
                    // After RL.HELLO the bytes are peer frames, not requests.
                    let hello = args[0].eq_ignore_ascii_case(peer::HELLO.as_bytes());
                    batch.push(args);
                    if hello {
                        break;
                    }
                    if batch.len() >= MAX_BATCH {
                        full = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    parse_error = Some(e);
                    break;
                }
            }
        }
        let flow = run_batch(&node, &mut sess, &mut batch, &mut out, &mut stream).await;
        match flow {
            Ok(Flow::Continue) => {}
            Ok(Flow::Close) | Err(_) => {
                let _ = write_flush(&mut stream, &mut out).await;
                return;
            }
            Ok(Flow::Peer(from)) => {
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
        if let Some(e) = parse_error {
            node.metrics.protocol_errors.fetch_add(1, Relaxed);
            tracing::debug!(client = sess.id, error = %e, "protocol error, closing");
            resp::write_error(&mut out, format!("ERR Protocol error: {e}").as_bytes());
            let _ = write_flush(&mut stream, &mut out).await;
            return;
        }
        if full {
            // More complete requests may be buffered: parse before reading.
            continue;
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

/// Requests parsed per round before they are executed.
const MAX_BATCH: usize = 1024;

/// The key of a single-key data command that may run concurrently with
/// other such commands of the same pipeline on different keys.
fn concurrent_key(args: &[Bytes]) -> Option<&Bytes> {
    let (_, spec) = table::lookup(&args[0])?;
    let single = matches!(
        spec.cmd,
        Cmd::Get
            | Cmd::Set
            | Cmd::GetDel
            | Cmd::Incr
            | Cmd::Decr
            | Cmd::IncrBy
            | Cmd::DecrBy
            | Cmd::Expire
            | Cmd::PExpire
            | Cmd::Ttl
            | Cmd::PTtl
            | Cmd::Persist
    );
    (single && table::arity_ok(spec.arity, args.len())).then(|| &args[1])
}

/// Executes a batch of parsed requests, appending replies in order.
///
/// On a replicated node (N > 1) each command waits for replicas, so running
/// a pipeline one command at a time would cost one quorum round trip per
/// command. Runs of consecutive single-key commands on distinct keys are
/// therefore executed concurrently, and their replies still written in
/// request order; commands on the same key, multi-key and connection
/// commands run one at a time, in order, so a pipeline observes its own
/// writes as with Redis.
async fn run_batch<S>(
    node: &Arc<Node>,
    sess: &mut Session,
    batch: &mut Vec<Vec<Bytes>>,
    out: &mut BytesMut,
    stream: &mut S,
) -> std::io::Result<Flow>
where
    S: AsyncWrite + Unpin,
{
    let mut items = std::mem::take(batch).into_iter().peekable();
    let concurrent = node.quorum.n > 1 && sess.authed;
    while let Some(args) = items.next() {
        let group_key = if concurrent {
            concurrent_key(&args).cloned()
        } else {
            None
        };
        let Some(first_key) = group_key else {
            let flow = commands::execute(node, sess, &args, out).await;
            if flow != Flow::Continue {
                // QUIT or a peer hello: nothing after it runs as a command.
                return Ok(flow);
            }
            if out.len() >= FLUSH_AT {
                write_flush(stream, out).await?;
            }
            continue;
        };
        let mut group = vec![args];
        let mut keys = std::collections::BTreeSet::from([first_key]);
        while let Some(next) = items.peek() {
            match concurrent_key(next) {
                Some(k) if group.len() < MAX_GROUP && !keys.contains(k) => {
                    keys.insert(k.clone());
                    group.push(items.next().expect("peeked"));
                }
                _ => break,
            }
        }
        if group.len() == 1 {
            commands::execute(node, sess, &group[0], out).await;
        } else {
            let handles: Vec<_> = group
                .into_iter()
                .map(|args| {
                    let node = node.clone();
                    let mut s = sess.clone();
                    tokio::spawn(async move {
                        let mut o = BytesMut::new();
                        commands::execute(&node, &mut s, &args, &mut o).await;
                        o
                    })
                })
                .collect();
            for h in handles {
                match h.await {
                    Ok(o) => out.extend_from_slice(&o),
                    // A command task panicked: a bug, but answer in order.
                    Err(_) => resp::write_error(out, b"ERR internal error"),
                }
            }
        }
        if out.len() >= FLUSH_AT {
            write_flush(stream, out).await?;
        }
    }
    Ok(Flow::Continue)
}

/// Commands of one pipeline run concurrently at most this many at a time.
const MAX_GROUP: usize = 256;

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
