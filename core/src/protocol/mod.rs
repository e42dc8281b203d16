//! The wire: RESP2 between clients and nodes, and the peer messages between
//! nodes (carried as RESP frames too).
//!
//! - [`resp`]: incremental parser and encoder, with limits.
//! - [`peer`]: the node-to-node messages of replication.

pub mod peer;
pub mod resp;
