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
use std::time::Duration;

use bytes::{Buf, BytesMut};
use ringlab_core::clock::{Clock, Micros};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

use super::resp::{Reply, scan_reply, write_command};
use super::{Control, Pending, Shared, lock};
use crate::recorder::Outcome;
use crate::workload::{OpKind, write_key};

/// First pause after a failed connect; it doubles up to [`MAX_BACKOFF`] and
/// resets on success. While paused the connection takes no work, so a dead
/// target costs one failed request per pause, not every request.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between connect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Error kind of a failed connect, a reset, an EOF or an unreadable reply.
const CONNECTION: &str = "connection";

/// Opens a connection within `timeout` of model time.
pub(super) async fn connect(
    target: SocketAddr,
    clock: &Clock,
    timeout: Duration,
) -> std::io::Result<TcpStream> {
    match clock.timeout(timeout, TcpStream::connect(target)).await {
        Ok(Ok(s)) => {
            s.set_nodelay(true)?;
            Ok(s)
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connect timed out",
        )),
    }
}

/// A request written to the connection and not yet answered.
#[derive(Debug, Clone, Copy)]
struct Sent {
    /// Intended start, model time.
    due: Micros,
    /// When it times out.
    deadline: Micros,
    op: OpKind,
    /// Still to be recorded; false once recorded as a timeout (its late reply
    /// is then discarded).
    live: bool,
}

/// A connection task's state.
pub(super) struct Conn {
    /// Position among the client's connections (`0..connections`).
    pub index: usize,
    /// The server this connection talks to.
    pub target: SocketAddr,
    /// The socket, when connected.
    pub stream: Option<TcpStream>,
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
}

impl Conn {
    pub(super) async fn run(mut self) {
        let mut sent: VecDeque<Sent> = VecDeque::with_capacity(self.pipeline);
        let mut wbuf: Vec<u8> = Vec::with_capacity(4096);
        let mut rbuf = BytesMut::with_capacity(16 * 1024);
        let mut key: Vec<u8> = Vec::with_capacity(self.prefix.len() + 32);
        let mut backoff = FIRST_BACKOFF;
        let mut paused_until: Option<Micros> = None;
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
                        sh.finish(p.due, p.op, Outcome::Timeout, now, &self.drained);
                        continue;
                    }
                    self.encode(&p, &mut key, &mut wbuf);
                    sent.push_back(Sent {
                        due: p.due,
                        deadline: p.deadline,
                        op: p.op,
                        live: true,
                    });
                }
                if !sh.queue.is_empty() {
                    // Pass the wake-up on: other idle connections may take the rest.
                    self.work.notify_one();
                }
            }

            if !wbuf.is_empty() {
                if self.stream.is_none() {
                    let first = sent.iter().map(|s| s.deadline).min().unwrap_or(now);
                    let budget = Duration::from_micros(first.saturating_sub(now).max(1));
                    match connect(self.target, &self.clock, budget).await {
                        Ok(s) => {
                            self.stream = Some(s);
                            backoff = FIRST_BACKOFF;
                        }
                        Err(_) => {
                            self.fail_all(&mut sent, &mut wbuf, &mut rbuf);
                            paused_until = Some(self.clock.now() + backoff.as_micros() as Micros);
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                            continue;
                        }
                    }
                }
                let stream = self.stream.as_mut().expect("connected just above");
                let first = sent.iter().filter(|s| s.live).map(|s| s.deadline).min();
                let budget = Duration::from_micros(first.unwrap_or(now).saturating_sub(now).max(1));
                let write = async {
                    stream.write_all(&wbuf).await?;
                    // The simulated TcpStream sends only on flush.
                    stream.flush().await
                };
                match self.clock.timeout(budget, write).await {
                    Ok(Ok(())) => wbuf.clear(),
                    Ok(Err(_)) | Err(_) => {
                        self.fail_all(&mut sent, &mut wbuf, &mut rbuf);
                        continue;
                    }
                }
            }

            let next_deadline = sent.iter().filter(|s| s.live).map(|s| s.deadline).min();
            let wake = match (next_deadline, paused_until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let reading = self.stream.is_some() && !sent.is_empty();
            let wants_work = may_take && sent.len() < self.pipeline;
            let clock = self.clock;
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
                () = clock.sleep_until(wake.unwrap_or(0)), if wake.is_some() => {
                    self.expire(&mut sent);
                }
                () = self.work.notified(), if wants_work => {}
            }
        }
    }

    /// Appends the command of `p` to `wbuf`.
    fn encode(&self, p: &Pending, key: &mut Vec<u8>, wbuf: &mut Vec<u8>) {
        key.clear();
        write_key(key, &self.prefix, p.key);
        match p.op {
            OpKind::Get => write_command(wbuf, &[b"GET", key]),
            OpKind::Set => {
                let len = (p.value_len as usize).min(self.value.len());
                write_command(wbuf, &[b"SET", key, &self.value[..len]]);
            }
            OpKind::Delete => write_command(wbuf, &[b"DEL", key]),
        }
    }

    /// Matches every whole reply in `rbuf` to the oldest outstanding request.
    /// Errs when the server's bytes are not RESP or answer more than was sent.
    fn take_replies(&self, sent: &mut VecDeque<Sent>, rbuf: &mut BytesMut) -> Result<(), ()> {
        let now = self.clock.now();
        while let Some((reply, len)) = scan_reply(rbuf).map_err(|_| ())? {
            let s = sent.pop_front().ok_or(())?;
            if s.live {
                let outcome = match reply {
                    Reply::Value => Outcome::Ok,
                    Reply::Nil if s.op == OpKind::Get => Outcome::Miss,
                    Reply::Nil => Outcome::Ok,
                    Reply::Error { start, end } => {
                        Outcome::Error(std::str::from_utf8(&rbuf[start..end]).unwrap_or("ERR"))
                    }
                };
                lock(&self.shared).finish(s.due, s.op, outcome, now, &self.drained);
            }
            rbuf.advance(len);
        }
        Ok(())
    }

    /// Records outstanding requests past their deadline as timeouts.
    fn expire(&self, sent: &mut VecDeque<Sent>) {
        let now = self.clock.now();
        let mut sh = None;
        for s in sent.iter_mut().filter(|s| s.live && s.deadline <= now) {
            s.live = false;
            sh.get_or_insert_with(|| lock(&self.shared)).finish(
                s.due,
                s.op,
                Outcome::Timeout,
                now,
                &self.drained,
            );
        }
    }

    /// The connection failed: every outstanding request is a connection
    /// error, and the next request reconnects.
    fn fail_all(&mut self, sent: &mut VecDeque<Sent>, wbuf: &mut Vec<u8>, rbuf: &mut BytesMut) {
        self.stream = None;
        wbuf.clear();
        rbuf.clear();
        let now = self.clock.now();
        let mut sh = lock(&self.shared);
        for s in sent.drain(..).filter(|s| s.live) {
            sh.finish(s.due, s.op, Outcome::Error(CONNECTION), now, &self.drained);
        }
    }
}

/// Reads more bytes into `buf`; `Ok(0)` is end of stream.
async fn read_some(stream: Option<&mut TcpStream>, buf: &mut BytesMut) -> std::io::Result<usize> {
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
