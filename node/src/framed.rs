//! [`Framed`]: one connection's socket with its read and write buffers, for
//! clients and peers alike. Parsing is the protocol module's (pure, on the
//! buffer); this type only moves bytes: it fills the read buffer, hands out
//! what parses, and writes and flushes what was queued.

use bytes::{Buf, Bytes, BytesMut};
use ringlab_core::protocol::resp::{self, Frame, Limits, ProtocolError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How reading a frame failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The socket failed.
    #[error("read: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not RESP.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The other side closed the connection.
    #[error("the connection closed")]
    Closed,
}

/// How much the read buffer takes from the socket at once, at least. An
/// empty `BytesMut` grows by as little as 64 bytes per read, so a pipeline
/// of 16 commands took a read, a wake-up and a parse attempt per 64 bytes
/// (measured at pipeline 16: 4.8x redis-server's CPU per operation without
/// this, 1.7x with it; docs/PERFORMANCE.md).
const READ_CHUNK: usize = 16 * 1024;

/// A socket with its buffers.
pub struct Framed<S> {
    /// The socket.
    stream: S,
    /// Bytes read, not parsed yet.
    rbuf: BytesMut,
    /// Bytes queued, not written yet.
    pub wbuf: BytesMut,
    /// What the parser accepts.
    limits: Limits,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Framed<S> {
    /// Wraps `stream`; `rbuf` holds bytes already read from it.
    pub fn new(stream: S, mut rbuf: BytesMut, limits: Limits) -> Self {
        rbuf.reserve(READ_CHUNK);
        Self {
            stream,
            rbuf,
            wbuf: BytesMut::with_capacity(16 * 1024),
            limits,
        }
    }

    /// Changes what the parser accepts from now on (a client that
    /// authenticated, a connection that became a peer's).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The next complete client request in the buffer (no I/O).
    pub fn next_request(&mut self) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        resp::parse_request(&mut self.rbuf, &self.limits)
    }

    /// The next complete frame in the buffer (no I/O).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ProtocolError> {
        resp::parse_frame(&mut self.rbuf, &self.limits)
    }

    /// Reads more bytes into the buffer; 0 at the end of the stream.
    /// Cancel-safe: dropping it loses nothing.
    pub async fn fill(&mut self) -> std::io::Result<usize> {
        if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 4 {
            self.rbuf.reserve(READ_CHUNK);
        }
        self.stream.read_buf(&mut self.rbuf).await
    }

    /// The next frame, reading as much as it takes.
    pub async fn read_frame(&mut self) -> Result<Frame, ReadError> {
        loop {
            if let Some(f) = self.next_frame()? {
                return Ok(f);
            }
            if self.fill().await? == 0 {
                return Err(ReadError::Closed);
            }
        }
    }

    /// Writes and flushes what was queued in `wbuf` (the simulated
    /// TcpStream sends only on flush). On an error the buffer is emptied.
    ///
    /// Cancel-safe: dropped part-way (a shutdown that gives up on a client
    /// that does not read), `wbuf` holds exactly the bytes not written yet.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        while !self.wbuf.is_empty() {
            let written = match self.stream.write(&self.wbuf).await {
                Ok(0) => Err(std::io::ErrorKind::WriteZero.into()),
                other => other,
            };
            match written {
                Ok(n) => self.wbuf.advance(n),
                Err(e) => {
                    self.wbuf.clear();
                    return Err(e);
                }
            }
        }
        self.stream.flush().await
    }
}
