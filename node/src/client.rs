//! A minimal async RESP client: tests, the simulator's checks and tools use
//! it to talk to a node without a Redis library.

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use ringlab_core::protocol::resp::{self, Frame, Limits, ProtocolError};

/// A client failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection failed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The server's reply did not parse.
    #[error("reply: {0}")]
    Protocol(#[from] ProtocolError),
    /// The server closed the connection before replying.
    #[error("the server closed the connection")]
    Closed,
}

/// One connection to a node.
pub struct Client {
    /// The socket.
    stream: TcpStream,
    /// Bytes read but not parsed yet.
    rbuf: BytesMut,
    /// Parser limits for replies.
    limits: Limits,
}

impl Client {
    /// Connects to `addr`.
    pub async fn connect(addr: std::net::SocketAddr) -> Result<Self, ClientError> {
        let stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        Ok(Self {
            stream,
            rbuf: BytesMut::with_capacity(4096),
            limits: Limits::default(),
        })
    }

    /// Wraps a connected socket (a test that chose the local address).
    pub fn from_stream(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        Self {
            stream,
            rbuf: BytesMut::with_capacity(4096),
            limits: Limits::default(),
        }
    }

    /// Sends one command and waits for its reply.
    pub async fn cmd(&mut self, args: &[&[u8]]) -> Result<Frame, ClientError> {
        Ok(self.pipeline(&[args]).await?.remove(0))
    }

    /// Sends several commands in one write and reads their replies in order.
    pub async fn pipeline(&mut self, cmds: &[&[&[u8]]]) -> Result<Vec<Frame>, ClientError> {
        let mut out = BytesMut::new();
        for c in cmds {
            resp::write_command(&mut out, c);
        }
        self.send_raw(&out).await?;
        let mut replies = Vec::with_capacity(cmds.len());
        while replies.len() < cmds.len() {
            replies.push(self.read_frame().await?);
        }
        Ok(replies)
    }

    /// Writes raw bytes and flushes.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Reads the next reply.
    pub async fn read_frame(&mut self) -> Result<Frame, ClientError> {
        loop {
            if let Some(f) = resp::parse_frame(&mut self.rbuf, &self.limits)? {
                return Ok(f);
            }
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(ClientError::Closed);
            }
        }
    }
}
