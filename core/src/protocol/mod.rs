//! The wire: RESP2 between clients and nodes (RESP3 replies after
//! `HELLO 3`), and the peer messages between nodes (carried as RESP2
//! frames too).
//!
//! - [`resp`]: incremental parser and encoder, with limits.
//! - [`peer`]: the node-to-node messages of replication.

pub mod peer;
pub mod resp;
