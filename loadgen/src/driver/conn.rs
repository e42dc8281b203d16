//! One connection of the driver: takes due requests from the shared queue
//! while it has room, sends them, matches replies to them in order, and
//! records each outcome with its latency from the intended start.
//!
//! A request that times out is recorded at its deadline, but its slot stays
//! taken until the late reply arrives (RESP replies come in order, so the
//! connection cannot be reused before): a stalled server therefore keeps
//! its connections busy, and new arrivals wait or are held back, exactly as
//! they would for a real client.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use bytes::BytesMut;
use ringlab_core::protocol::resp::{
    Frame, Limits, parse_frame, write_array_header, write_bulk, write_command,
};
use ringlab_node::clock::{Clock, Micros, Sleep};
use ringlab_node::lossy::{self, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Barrier, Notify, watch};

use super::{Control, Pending, Shared, lock};
use crate::recorder::Outcome;
use crate::stale::{Ticket, WriteOracle};
use crate::workload::{OpKind, command_words, write_key};

/// First pause after a failed connect; it doubles up to [`MAX_BACKOFF`] and
/// resets on success. While paused the connection takes no work, so a dead
/// target costs one failed request per pause, not every request.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between connect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Error kind of a failed connect, a reset, an EOF or an unreadable reply.
const CONNECTION: &str = "connection";

/// Opens a connection within `timeout` of model time, and authenticates
/// it with `password` when one is given.
pub(super) async fn connect(
    target: SocketAddr,
    clock: &Clock,
    timeout: Duration,
    password: Option<&[u8]>,
) -> std::io::Result<Stream> {
    let open = async {
        let s = TcpStream::connect(target).await?;
        s.set_nodelay(true)?;
        let mut s = lossy::wrap(s);
        if let Some(pw) = password {
            auth(&mut s, pw).await?;
        }
        Ok(s)
    };
    match clock.timeout(timeout, open).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connect timed out",
        )),
    }
}

/// Sends `AUTH password` on a fresh connection and reads its one-line
/// answer: anything but `+OK` is an error that quotes the server.
pub(super) async fn auth(s: &mut Stream, password: &[u8]) -> std::io::Result<()> {
    let mut req = BytesMut::new();
    write_command(&mut req, &[b"AUTH", password]);
    s.write_all(&req).await?;
    s.flush().await?;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    // Byte by byte: nothing else is in flight, and not one byte of the
    // requests that follow may be read here.
    while !line.ends_with(b"\r\n") {
        if s.read(&mut byte).await? == 0 || line.len() > 1024 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "the server closed the connection during AUTH",
            ));
        }
        line.push(byte[0]);
    }
    if line == b"+OK\r\n" {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&line[..line.len() - 2]).into_owned();
    Err(std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!("AUTH refused: {said}"),
    ))
}

/// A request written to the connection and not yet answered.
#[derive(Debug, Clone, Copy)]
struct Sent {
    /// The request as it came off the queue (kept whole so that a request
    /// whose connection could not be opened can go back to the queue).
    p: Pending,
    /// Still to be recorded; false once recorded as a timeout (its late reply
    /// is then discarded).
    live: bool,
    /// Settles the reply with the write oracle (stale reads).
    ticket: Option<Ticket>,
}

/// A connection task's state.
pub(super) struct Conn {
    /// Position among the client's connections (`0..connections`).
    pub index: usize,
    /// The server this connection talks to.
    pub target: SocketAddr,
    /// The socket, when connected (the task connects first thing).
    pub stream: Option<Stream>,
    pub clock: Clock,
    /// Requests this connection may have outstanding.
    pub pipeline: usize,
    /// Queue, recorder and counters shared with the scheduler.
    pub shared: Arc<Mutex<Shared>>,
    /// Signalled when a request is queued.
    pub work: Arc<Notify>,
    /// Signalled when nothing is in flight any more.
    pub drained: Arc<Notify>,
    /// The current phase's connection count and the end of the run.
    pub control: watch::Receiver<Control>,
    /// Key name prefix.
    pub prefix: Arc<[u8]>,
    /// Bytes that SET values are cut from.
    pub value: Arc<[u8]>,
    /// Numbers the writes and checks the reads (see [`crate::stale`]).
    pub oracle: WriteOracle,
    /// The app's pattern, when the clients use a database.
    pub app: Option<Arc<super::app::AppCtx>>,
    /// Sent with AUTH on each (re)connect.
    pub password: Option<Arc<[u8]>>,
}

impl Conn {
    /// Connects (within `connect_timeout`), waits at `connected` until every
    /// connection has tried, then serves requests until the run closes.
    pub(super) async fn run(mut self, connected: Arc<Barrier>, connect_timeout: Duration) {
        let stream = connect(
            self.target,
            &self.clock,
            connect_timeout,
            self.password.as_deref(),
        )
        .await
        .ok();
        self.set_stream(stream);
        connected.wait().await;
        let mut sent: VecDeque<Sent> = VecDeque::with_capacity(self.pipeline);
        let mut wbuf = BytesMut::with_capacity(4096);
        let mut rbuf = BytesMut::with_capacity(16 * 1024);
        let mut key: Vec<u8> = Vec::with_capacity(self.prefix.len() + 32);
        let mut backoff = FIRST_BACKOFF;
        let mut paused_until: Option<Micros> = None;
        // One timer for all of this connection's deadlines, re-armed only
        // when it fires or a deadline earlier than it appears. Deadlines come
        // in order, so this builds about one timer per timeout period rather
        // than one per request (a timer dropped unfired still costs the
        // simulator a heap entry and a spurious wake-up later).
        let mut timer: Option<(Micros, Sleep)> = None;
        loop {
            let control = *self.control.borrow_and_update();
            if control.closing {
                return;
            }
            let now = self.clock.now();
            if paused_until.is_some_and(|t| t <= now) {
                paused_until = None;
            }
            let may_take = self.index < control.active && paused_until.is_none();

            // Take due requests while there is room; encode them in one buffer
            // so a pipeline goes out in one write and one flush.
            if may_take && sent.len() < self.pipeline {
                let mut sh = lock(&self.shared);
                while sent.len() < self.pipeline {
                    let Some(p) = sh.queue.pop_front() else { break };
                    if p.deadline <= now {
                        sh.end(&p, Outcome::Timeout, now, &self.drained);
                        continue;
                    }
                    let ticket = self.encode(&p, &mut key, &mut wbuf);
                    sent.push_back(Sent {
                        p,
                        live: true,
                        ticket,
                    });
                }
                if !sh.queue.is_empty() {
                    // Pass the wake-up on: other idle connections may take the rest.
                    self.work.notify_one();
                }
            }

            if !wbuf.is_empty() {
                if self.stream.is_none() {
                    let first = sent.iter().map(|s| s.p.deadline).min().unwrap_or(now);
                    let budget = Duration::from_micros(first.saturating_sub(now).max(1));
                    match connect(self.target, &self.clock, budget, self.password.as_deref()).await
                    {
                        Ok(s) => {
                            self.set_stream(Some(s));
                            backoff = FIRST_BACKOFF;
                        }
                        Err(_) => {
                            self.connect_failed(&mut sent, &mut wbuf);
                            paused_until = Some(self.clock.now() + backoff.as_micros() as Micros);
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                            continue;
                        }
                    }
                }
                let stream = self.stream.as_mut().expect("connected just above");
                let first = sent.iter().filter(|s| s.live).map(|s| s.p.deadline).min();
                let budget = Duration::from_micros(first.unwrap_or(now).saturating_sub(now).max(1));
                let mut write = std::pin::pin!(async {
                    stream.write_all(&wbuf).await?;
                    // The simulated TcpStream sends only on flush.
                    stream.flush().await
                });
                // Nearly every write completes at once: only one that has to
                // wait (a full socket buffer) gets a timer.
                let done = match std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx)))
                    .await
                {
                    Poll::Ready(r) => r.is_ok(),
                    Poll::Pending => matches!(self.clock.timeout(budget, write).await, Ok(Ok(()))),
                };
                if done {
                    wbuf.clear();
                } else {
                    self.fail_all(&mut sent, &mut wbuf, &mut rbuf);
                    continue;
                }
            }

            let next_deadline = sent.iter().filter(|s| s.live).map(|s| s.p.deadline).min();
            let wake = match (next_deadline, paused_until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let Some(at) = wake
                && timer.as_ref().is_none_or(|(armed, _)| *armed > at)
            {
                timer = Some((at, self.clock.sleep_until(at)));
            }
            let reading = self.stream.is_some() && !sent.is_empty();
            let wants_work = may_take && sent.len() < self.pipeline;
            tokio::select! {
                biased;
                changed = self.control.changed() => {
                    if changed.is_err() {
                        // The scheduler is gone: nothing more will come.
                        return;
                    }
                }
                read = read_some(self.stream.as_mut(), &mut rbuf), if reading => {
                    match read {
                        Ok(n) if n > 0 => {
                            if self.take_replies(&mut sent, &mut rbuf).is_err() {
                                self.fail_all(&mut sent, &mut wbuf, &mut rbuf);
                            }
                        }
                        _ => self.fail_all(&mut sent, &mut wbuf, &mut rbuf),
                    }
                }
                () = armed(&mut timer), if timer.is_some() => {
                    timer = None;
                    self.expire(&mut sent);
                }
                () = self.work.notified(), if wants_work => {}
            }
        }
    }

    /// Appends the command of `p` to `wbuf`, a SET value stamped with its
    /// write's id; the ticket settles the reply with the oracle. A cache
    /// fill gets none: it copies the database's value, which the oracle
    /// cannot date, so its value carries no stamp and reads of it are not
    /// judged. Neither do INCR, MGET and EXPIRE: a counter holds no stamp,
    /// and an expiry only ever turns a read into a miss, which is never
    /// stale.
    fn encode(&self, p: &Pending, key: &mut Vec<u8>, wbuf: &mut BytesMut) -> Option<Ticket> {
        key.clear();
        write_key(key, &self.prefix, p.key);
        let command = p.step.command(p.op);
        match command {
            OpKind::Get => write_command(wbuf, &[b"GET", key]),
            OpKind::Set => {
                let len = (p.value_len as usize).min(self.value.len());
                let px = p.step.px_ms().or(p.shape.ttl_ms).map(|ms| ms.to_string());
                write_array_header(wbuf, if px.is_some() { 5 } else { 3 });
                write_bulk(wbuf, b"SET");
                write_bulk(wbuf, key);
                write_bulk(wbuf, &self.value[..len]);
                // The value's bytes end just before its closing CRLF.
                let end = wbuf.len() - 2;
                if let Some(ms) = &px {
                    write_bulk(wbuf, b"PX");
                    write_bulk(wbuf, ms.as_bytes());
                }
                if p.step.is_fill() {
                    return None;
                }
                return Some(
                    self.oracle
                        .sent(command, p.key, Some(&mut wbuf[end - len..end])),
                );
            }
            OpKind::Delete => write_command(wbuf, &[b"DEL", key]),
            OpKind::Incr | OpKind::Mget | OpKind::Expire => {
                let words = command_words(command, p.key, &self.prefix, &p.shape, &[]);
                let words: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
                write_command(wbuf, &words);
                // An INCR's reply goes into its counter's history.
                if command != OpKind::Incr {
                    return None;
                }
            }
        }
        Some(self.oracle.sent(command, p.key, None))
    }

    /// Matches every whole reply in `rbuf` to the oldest outstanding request.
    /// Errs when the server's bytes are not RESP or answer more than was sent.
    fn take_replies(&self, sent: &mut VecDeque<Sent>, rbuf: &mut BytesMut) -> Result<(), ()> {
        let now = self.clock.now();
        let limits = Limits::default();
        while let Some(frame) = parse_frame(rbuf, &limits).map_err(|_| ())? {
            let s = sent.pop_front().ok_or(())?;
            // A late reply still acknowledges its write.
            let stale = s.ticket.is_some_and(|t| self.oracle.replied(&t, &frame));
            if !s.live {
                continue;
            }
            let outcome = match &frame {
                Frame::Error(text) => Outcome::Error(error_kind(text)),
                Frame::Null | Frame::NullArray if s.p.op == OpKind::Get => Outcome::Miss,
                _ if stale => Outcome::Stale,
                _ => Outcome::Ok,
            };
            self.settle(s.p, outcome, now);
        }
        Ok(())
    }

    /// Replaces the socket, keeping the count of connected connections.
    fn set_stream(&mut self, stream: Option<Stream>) {
        let delta = i64::from(stream.is_some()) - i64::from(self.stream.is_some());
        self.stream = stream;
        if delta != 0 {
            let mut sh = lock(&self.shared);
            sh.connected = sh.connected.saturating_add_signed(delta as isize);
        }
    }

    /// Connecting failed for the requests just taken, which were never sent.
    /// While another connection is up they go back to the front of the queue
    /// for it (a pooled client routes around a dead server); with none up
    /// they are `connection` errors.
    fn connect_failed(&self, sent: &mut VecDeque<Sent>, wbuf: &mut BytesMut) {
        wbuf.clear();
        let now = self.clock.now();
        let mut sh = lock(&self.shared);
        if sh.connected > 0 {
            for s in sent.drain(..).rev() {
                sh.queue.push_front(s.p);
            }
            drop(sh);
            self.work.notify_one();
        } else {
            drop(sh);
            self.connection_lost(sent.drain(..).map(|s| s.p), now);
        }
    }

    /// Requests whose cache connection failed: each ends as a `connection`
    /// error, except that an app's cache-aside lookup goes on to the
    /// database, as it does after an error reply.
    fn connection_lost(&self, requests: impl Iterator<Item = Pending>, now: Micros) {
        for p in requests {
            self.settle(p, Outcome::Error(CONNECTION), now);
        }
    }

    /// The cache step of `p` ended at `now` with `outcome`: the request ends,
    /// or (with an app) goes on to its next step (see `app::after_cache`).
    fn settle(&self, p: Pending, outcome: Outcome<'_>, now: Micros) {
        match &self.app {
            None => lock(&self.shared).end(&p, outcome, now, &self.drained),
            Some(app) => super::app::after_cache(app, p, outcome, now),
        }
    }

    /// Records outstanding requests past their deadline as timeouts.
    fn expire(&self, sent: &mut VecDeque<Sent>) {
        let now = self.clock.now();
        let mut sh = None;
        for s in sent.iter_mut().filter(|s| s.live && s.p.deadline <= now) {
            s.live = false;
            sh.get_or_insert_with(|| lock(&self.shared)).end(
                &s.p,
                Outcome::Timeout,
                now,
                &self.drained,
            );
        }
    }

    /// The connection failed: every outstanding request is a connection
    /// error (or, for an app's lookup, a database read), and the next
    /// request reconnects.
    fn fail_all(&mut self, sent: &mut VecDeque<Sent>, wbuf: &mut BytesMut, rbuf: &mut BytesMut) {
        self.set_stream(None);
        wbuf.clear();
        rbuf.clear();
        let now = self.clock.now();
        self.connection_lost(sent.drain(..).filter(|s| s.live).map(|s| s.p), now);
    }
}

/// An error reply's kind: its first word ("OVERLOADED", "ERR", ...).
fn error_kind(text: &[u8]) -> &str {
    let word = text.split(|&b| b == b' ').next().unwrap_or_default();
    match std::str::from_utf8(word) {
        Ok("") | Err(_) => "ERR",
        Ok(w) => w,
    }
}

/// Waits for the armed timer (the caller enables this only when one is).
async fn armed(timer: &mut Option<(Micros, Sleep)>) {
    match timer {
        Some((_, sleep)) => sleep.await,
        None => std::future::pending().await,
    }
}

/// Reads more bytes into `buf`; `Ok(0)` is end of stream.
async fn read_some(stream: Option<&mut Stream>, buf: &mut BytesMut) -> std::io::Result<usize> {
    match stream {
        Some(s) => {
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(16 * 1024);
            }
            s.read_buf(buf).await
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::error_kind;

    #[test]
    fn error_kinds_are_first_words() {
        assert_eq!(error_kind(b"OVERLOADED queue full"), "OVERLOADED");
        assert_eq!(error_kind(b"UNAVAILABLE"), "UNAVAILABLE");
        assert_eq!(error_kind(b""), "ERR");
        assert_eq!(error_kind(b"\xff\xfe bad"), "ERR");
    }
}
