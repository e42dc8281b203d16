//! Packet loss as TCP shows it, for the simulator build.
//!
//! madsim loses a packet like it stops one on a clogged link, and retries
//! it after 1 ms of its time, doubling: at the simulator's time scale of
//! 1000 that is 1 µs of model time, so loss never reached a percentile. A
//! real TCP sender retransmits a lost segment after its retransmission
//! timeout (RTO), doubling on each further loss, and the segments behind it
//! wait (head-of-line blocking). The simulator therefore sets madsim's own
//! loss to zero (its clogged links keep madsim's retry, which partition
//! lessons are measured with) and models loss here, in every stream the
//! node and the load generator use ([`Stream`]).
//!
//! In a real build [`Stream`] is tokio's `TcpStream` and [`wrap`] does
//! nothing. Under `cfg(madsim)` it is [`Lossy`]: each flush is one message
//! (madsim's TcpStream sends one packet per flush); a lost message is held
//! for the RTO, drawn again, held twice as long, and so on up to the cap,
//! and the messages flushed behind it wait in order. The writer never
//! waits (the kernel's send buffer took the bytes), and reading goes on.
//! The loss model is the simulation thread's ([`install`]; madsim runs a
//! simulation on one thread), with its own seeded RNG: no loss draws at all
//! while the loss probability is zero, so a lossless run is the run it was.

#[cfg(not(madsim))]
mod imp {
    /// A connection's stream: tokio's, untouched, in a real node.
    pub type Stream = tokio::net::TcpStream;

    /// A real stream needs no wrapper.
    pub fn wrap(stream: tokio::net::TcpStream) -> Stream {
        stream
    }
}

#[cfg(madsim)]
mod imp;

pub use imp::*;
