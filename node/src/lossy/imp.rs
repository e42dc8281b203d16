//! The simulator's lossy stream (what and why: the parent module).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// The loss model of the simulation running on this thread.
struct Model {
    /// Probability that one send attempt is lost.
    loss: f64,
    /// First retransmission timeout, in the runtime's time.
    rto: Duration,
    /// Longest wait between retransmissions, in the runtime's time.
    rto_max: Duration,
    /// Draws the losses; seeded, so a run replays.
    rng: ChaCha8Rng,
}

thread_local! {
    /// One per thread because madsim runs a simulation on one thread, and
    /// parallel tests run theirs on others.
    static MODEL: RefCell<Option<Model>> = const { RefCell::new(None) };
}

/// Installs the loss model of the simulation about to run on this thread:
/// the loss probability, the first RTO and its cap in the runtime's time
/// (model time times the time scale), and the seed of its RNG.
pub fn install(loss: f64, rto: Duration, rto_max: Duration, seed: u64) {
    let rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4C4F_5353_5254_4F00);
    MODEL.with(|m| {
        *m.borrow_mut() = Some(Model {
            loss,
            rto,
            rto_max,
            rng,
        })
    });
}

/// Changes the loss probability from now on (a `loss` fault).
pub fn set_loss(loss: f64) {
    MODEL.with(|m| {
        if let Some(m) = m.borrow_mut().as_mut() {
            m.loss = loss;
        }
    });
}

/// Removes this thread's loss model (its simulation is over).
pub fn uninstall() {
    MODEL.with(|m| *m.borrow_mut() = None);
}

/// Whether one send attempt is lost now. No draw while there is no loss,
/// so that a lossless run draws nothing.
fn lost() -> bool {
    MODEL.with(|m| {
        m.borrow_mut()
            .as_mut()
            .is_some_and(|m| m.loss > 0.0 && m.rng.random_bool(m.loss.min(1.0)))
    })
}

/// The first RTO and its cap (zero without a model, which never loses).
fn rto() -> (Duration, Duration) {
    MODEL.with(|m| {
        m.borrow()
            .as_ref()
            .map_or((Duration::ZERO, Duration::ZERO), |m| (m.rto, m.rto_max))
    })
}

/// A connection's stream in the simulator: madsim's, with TCP's loss.
pub type Stream = Lossy<TcpStream>;

/// Wraps a connection's stream in the loss model.
pub fn wrap(stream: TcpStream) -> Stream {
    Lossy::new(stream)
}

/// A stream whose flushed messages may be lost and retransmitted.
///
/// Held messages go out when the stream is next polled after their
/// retransmission time: every connection here has a task reading it
/// whenever a reply is due, so that is at the time, or, while a node's
/// connection waits for a core, as soon as it reads again.
pub struct Lossy<S> {
    inner: S,
    /// Bytes written since the last flush: the next message.
    wbuf: BytesMut,
    /// Messages not sent yet, in order: the first waits for its
    /// retransmission, the others wait behind it.
    held: VecDeque<Bytes>,
    /// When the first held message is sent again, and the wait that ends
    /// then (the next loss doubles it).
    timer: Option<(Pin<Box<Sleep>>, Duration)>,
    /// Sending a released message failed: the connection is gone.
    broken: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Lossy<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            wbuf: BytesMut::new(),
            held: VecDeque::new(),
            timer: None,
            broken: false,
        }
    }

    /// Holds `msg` first in line for its retransmission, one RTO after
    /// `from` (when it was sent, or when the message before it went).
    fn hold(&mut self, msg: Bytes, from: Instant) {
        let (first, _) = rto();
        self.held.push_front(msg);
        self.timer = Some((Box::pin(tokio::time::sleep_until(from + first)), first));
    }

    /// Sends one message now: madsim's stream makes one packet per flush.
    fn put(&mut self, cx: &mut Context<'_>, mut msg: &[u8]) -> io::Result<()> {
        while !msg.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, msg) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => msg = &msg[n..],
                Poll::Ready(Err(e)) => return Err(e),
                // madsim's stream takes every write at once.
                Poll::Pending => return Err(io::ErrorKind::WouldBlock.into()),
            }
        }
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// Sends what is due: the first held message once its timer fires and
    /// it is not lost again, then those behind it until one is lost.
    fn pump(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        while let Some((sleep, wait)) = self.timer.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Ok(());
            }
            let due = sleep.deadline();
            if lost() {
                let next = (*wait * 2).min(rto().1);
                self.timer = Some((Box::pin(tokio::time::sleep_until(due + next)), next));
                continue;
            }
            self.timer = None;
            let Some(first) = self.held.pop_front() else {
                return Ok(());
            };
            self.put(cx, &first)?;
            // Those behind go now, for the first time, until one is lost
            // (whose timer starts now: the loop polls it).
            while let Some(next) = self.held.pop_front() {
                if lost() {
                    self.hold(next, due);
                    break;
                }
                self.put(cx, &next)?;
            }
        }
        Ok(())
    }

    /// Flushes the message written since the last flush.
    fn flush_message(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.broken {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        if self.timer.is_some() {
            // Behind a held message (an empty flush carries nothing).
            if !self.wbuf.is_empty() {
                self.held.push_back(self.wbuf.split().freeze());
            }
        } else if !self.wbuf.is_empty() && lost() {
            let msg = self.wbuf.split().freeze();
            self.hold(msg, Instant::now());
        } else {
            // Exactly the flush the bare stream would have made.
            let msg = self.wbuf.split().freeze();
            self.put(cx, &msg)?;
        }
        self.pump(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Lossy<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pump(cx).is_err() {
            self.broken = true;
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lossy<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.broken {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        self.wbuf.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = self.flush_message(cx);
        if r.is_err() {
            self.broken = true;
        }
        Poll::Ready(r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
